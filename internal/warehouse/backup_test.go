package warehouse_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tisheng/internal/testkit"
	"tisheng/internal/warehouse"
)

// demoKey is the key testkit.Demo loads with.
var demoKey = bytes.Repeat([]byte{5}, 32)

// demo builds the committed demo warehouse at dir/name and returns it open.
func demo(t *testing.T, dir, name string) *warehouse.Warehouse {
	t.Helper()
	wh, _ := testkit.Demo(t, filepath.Join("..", "..", "testdata"), filepath.Join(dir, name), warehouse.Options{})
	return wh
}

// demoBackup builds the demo warehouse at dir/w.duckdb, backs it up with its key into
// dir/backups and closes it; it returns the backup and the warehouse's figures.
func demoBackup(t *testing.T, dir string) (*warehouse.Backup, map[string]string) {
	t.Helper()
	wh := demo(t, dir, "w.duckdb")
	want := testkit.Figures(t, wh.DB)
	b := mustBackup(t, wh, filepath.Join(dir, "backups"), demoKey)
	wh.Close()
	return b, want
}

// mustBackup backs wh up into out, with key (nil: none), as tisheng backup does.
func mustBackup(t *testing.T, wh *warehouse.Warehouse, out string, key []byte) *warehouse.Backup {
	t.Helper()
	b, err := wh.Backup(context.Background(), warehouse.BackupOptions{Dir: out, Key: key, Reason: warehouse.ReasonCommand})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openRO(t *testing.T, file string) *warehouse.Warehouse {
	t.Helper()
	wh, err := warehouse.OpenReadOnly(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	return wh
}

// TestBackupRestoreSameFigures: a backup of the demo warehouse restored to a new file
// holds the same rows in every table, the same figures, the same key, and hands out the
// next batch id after the last one, as the original would.
func TestBackupRestoreSameFigures(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	wh := demo(t, dir, "w.duckdb")
	want := testkit.Figures(t, wh.DB)
	if !strings.Contains(want["figure gate"], ":true:0") || want["figure teachers"] == "0" {
		t.Fatalf("the demo's figures are not what this test needs: %v", want)
	}
	b, err := wh.Backup(ctx, warehouse.BackupOptions{Dir: filepath.Join(dir, "backups"), Key: demoKey, Reason: warehouse.ReasonCommand})
	if err != nil {
		t.Fatal(err)
	}
	if b.Manifest.Status != warehouse.StatusVerified || !strings.HasSuffix(b.Path, "-command") {
		t.Fatalf("backup %s: %+v", b.Path, b.Manifest)
	}
	m := b.Manifest
	var batches int
	wh.DB.QueryRow(`SELECT count(*) FROM batches`).Scan(&batches)
	if m.Batches.Count != batches || m.SchemaVersion != warehouse.KnownSchemaVersion() || m.Engine == "" ||
		m.StorageVersion != warehouse.StorageVersion || m.Rows("raw_hours") <= 0 || m.Rows("teacher_points") <= 0 || len(m.Files) != 2 {
		t.Fatalf("manifest: %+v", m)
	}
	for _, f := range []string{"w.duckdb", "w.duckdb.key", warehouse.ManifestName, warehouse.ChecksumsName} {
		st, err := os.Stat(filepath.Join(b.Path, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v (want it there, 0600)", f, err, st)
		}
	}
	wh.Close()

	// into a new place
	target := filepath.Join(dir, "restored", "w.duckdb")
	res, err := warehouse.Restore(ctx, b.Path, target, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Kept) != 0 {
		t.Fatalf("kept %v of a file that was not there", res.Kept)
	}
	r := openRO(t, target)
	testkit.SameFigures(t, "restored", testkit.Figures(t, r.DB), want)
	r.Close()
	key, _, err := warehouse.FindKey(target)
	if err != nil || !bytes.Equal(key, demoKey) {
		t.Fatalf("restored key: %x %v", key, err)
	}
	rw, err := warehouse.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if err := warehouse.CheckKey(ctx, rw.DB, key); err != nil {
		t.Fatal(err)
	}
	var next, last int64
	rw.DB.QueryRow(`SELECT nextval('batch_seq')`).Scan(&next)
	rw.DB.QueryRow(`SELECT max(batch_id) FROM batches`).Scan(&last)
	if next != last+1 {
		t.Errorf("the restored warehouse's next batch id is %d, the last loaded %d", next, last)
	}
	rw.Close()

	// over a file: it is kept beside, with its key
	if err := os.WriteFile(target+".wal", []byte("a log"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err = warehouse.Restore(ctx, b.Path, target, time.Date(2025, 7, 1, 2, 30, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	keep := target + ".before-restore-20250701-103000"
	if strings.Join(res.Kept, " ") != keep+" "+keep+".wal "+keep+".key" {
		t.Fatalf("kept %v", res.Kept)
	}
	for _, f := range res.Kept {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	r = openRO(t, target)
	testkit.SameFigures(t, "restored over a file", testkit.Figures(t, r.DB), want)
	r.Close()
}

// TestRestoreRefusesACorruptedBackup flips one byte of each file of a backup in turn:
// every one is refused, the message names the file, and the warehouse in place is
// untouched.
func TestRestoreRefusesACorruptedBackup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	wh := demo(t, dir, "w.duckdb")
	b, err := wh.Backup(ctx, warehouse.BackupOptions{Dir: filepath.Join(dir, "backups"), Key: demoKey})
	if err != nil {
		t.Fatal(err)
	}
	wh.Close()
	target := filepath.Join(dir, "in-place.duckdb")
	if err := os.WriteFile(target, []byte("the warehouse in place"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file string
		at   float64 // where in the file, as a fraction of its size
		want string
	}{
		{"w.duckdb", 0, "w.duckdb 已损坏"},
		{"w.duckdb", 0.5, "w.duckdb 已损坏"},
		{"w.duckdb", 0.999, "w.duckdb 已损坏"},
		{"w.duckdb.key", 0.3, "w.duckdb.key 已损坏"},
		{warehouse.ManifestName, 0.5, "manifest.json 与校验文件 SHA256SUMS 不符"},
		{warehouse.ChecksumsName, 0.1, "manifest.json 与校验文件 SHA256SUMS 不符"}, // the manifest's line
		{warehouse.ChecksumsName, 0.5, "校验文件 SHA256SUMS 已损坏（w.duckdb 与清单记载的一致）"},
		{warehouse.ChecksumsName, 0.99, "SHA256SUMS"},
	} {
		t.Run(fmt.Sprintf("%s@%.3f", c.file, c.at), func(t *testing.T) {
			p := filepath.Join(b.Path, c.file)
			orig, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(p, orig, 0o600)
			bad := bytes.Clone(orig)
			i := int(c.at * float64(len(bad)-1))
			bad[i] ^= 0x01
			if err := os.WriteFile(p, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = warehouse.Restore(ctx, b.Path, target, time.Now())
			var be *warehouse.BackupError
			if !errors.As(err, &be) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("a flipped byte at %d of %s: %v (want a refusal naming %q)", i, c.file, err, c.want)
			}
			if got, _ := os.ReadFile(target); string(got) != "the warehouse in place" {
				t.Fatal("the refused restore changed the file in place")
			}
			if _, err := warehouse.VerifyBackup(ctx, b.Path); err == nil {
				t.Fatal("VerifyBackup passed a corrupted backup")
			}
		})
	}
	if _, err := warehouse.VerifyBackup(ctx, b.Path); err != nil {
		t.Fatalf("the backup, mended: %v", err)
	}
}

// TestBackupTakesItsSnapshotUnderThePause: rows committed once the backup's snapshot is
// taken (an upload after the write lock is let go) are not in it, and the writer did not
// wait for the copy; rows committed before the pause ended are.
func TestBackupTakesItsSnapshotUnderThePause(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	wh := demo(t, dir, "w.duckdb")
	before := testkit.Figures(t, wh.DB)
	var wrote time.Duration
	reset := warehouse.SetBackupHook(func(step string) {
		if step != "snapshot" {
			return
		}
		// a writer while the rows are being copied: it must not wait for the copy
		start := time.Now()
		if _, err := wh.DB.Exec(`INSERT INTO meta VALUES ('written after the snapshot', 'x')`); err != nil {
			t.Error(err)
		}
		if _, err := wh.DB.Exec(`CREATE TABLE after_snapshot AS SELECT 1 AS a`); err != nil {
			t.Error(err)
		}
		if _, err := wh.DB.Exec(`DROP TABLE district_summary`); err != nil {
			t.Error(err)
		}
		wrote = time.Since(start)
	})
	defer reset()
	paused := false
	b, err := wh.Backup(ctx, warehouse.BackupOptions{Dir: filepath.Join(dir, "backups"), Key: demoKey,
		Pause: func(context.Context) (func(), error) {
			paused = true
			return func() {}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !paused {
		t.Fatal("the backup did not pause the writers for its snapshot")
	}
	t.Logf("writes during the copy took %v", wrote)
	r := openRO(t, filepath.Join(b.Path, "w.duckdb"))
	defer r.Close()
	testkit.SameFigures(t, "the backup", testkit.Figures(t, r.DB), before)
}

// TestOpenRefusesANewerWarehouse: a warehouse with a migration this program does not
// carry is refused, read-write and read-only, and the message names both versions.
func TestOpenRefusesANewerWarehouse(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "w.duckdb")
	wh, err := warehouse.Open(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	known := warehouse.KnownSchemaVersion()
	if _, err := wh.DB.Exec(`INSERT INTO schema_migrations VALUES (?, '999_from_the_future.sql', current_timestamp::TIMESTAMP)`, known+990); err != nil {
		t.Fatal(err)
	}
	wh.Close()
	for _, ro := range []bool{false, true} {
		_, err := warehouse.OpenWith(ctx, file, warehouse.Options{ReadOnly: ro})
		var ne *warehouse.NewerSchemaError
		if !errors.As(err, &ne) || !strings.Contains(err.Error(), fmt.Sprint(known+990)) || !strings.Contains(err.Error(), fmt.Sprint(known)) {
			t.Fatalf("read-only %v: %v", ro, err)
		}
	}
	// one of another release, by its name
	file2 := filepath.Join(t.TempDir(), "w.duckdb")
	wh, err = warehouse.Open(ctx, file2)
	if err != nil {
		t.Fatal(err)
	}
	wh.DB.Exec(`UPDATE schema_migrations SET name = 'other_release.sql' WHERE version = 1`)
	wh.Close()
	if _, err := warehouse.Open(ctx, file2); err == nil || !strings.Contains(err.Error(), "other_release.sql") {
		t.Fatalf("a migration of another release: %v", err)
	}
}

// TestUpgradeBacksUpFirst opens the warehouse of the release on DuckDB 1.1.2, whose schema
// is older than this program's: before migrating it, a verified backup of it as it was
// (its schema version, its key) is written beside it, and restoring that backup gives the
// old warehouse back. A second open has nothing to migrate and backs nothing up.
func TestUpgradeBacksUpFirst(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fixture := filepath.Join("..", "..", "testdata", "warehouse-1.1.2")
	old := filepath.Join(dir, "old.duckdb")
	gunzip(t, filepath.Join(fixture, "w.duckdb.gz"), old)
	copyKey(t, filepath.Join(fixture, "w.duckdb.key"), old+".key")
	t.Setenv(warehouse.KeyEnv, "")
	t.Setenv(warehouse.KeyFileEnv, "")
	ro := openRO(t, old)
	was, err := warehouse.SchemaVersion(ctx, ro.DB)
	if err != nil {
		t.Fatal(err)
	}
	before := testkit.Figures(t, ro.DB)
	ro.Close()
	if was == 0 || was >= warehouse.KnownSchemaVersion() {
		t.Fatalf("the old warehouse is at schema version %d, this program at %d: nothing to upgrade", was, warehouse.KnownSchemaVersion())
	}
	wh, err := warehouse.Open(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	now, _ := warehouse.SchemaVersion(ctx, wh.DB)
	wh.Close()
	if now != warehouse.KnownSchemaVersion() {
		t.Fatalf("migrated to %d", now)
	}
	bs, err := warehouse.ListBackups(warehouse.DefaultBackupDir(old))
	if err != nil || len(bs) != 1 {
		t.Fatalf("backups beside the old warehouse: %+v %v", bs, err)
	}
	b := bs[0]
	if b.Status != warehouse.StatusVerified || b.Reason != warehouse.ReasonUpgrade || b.Schema != was || b.Manifest.Key == "" {
		t.Fatalf("the upgrade's backup: %+v", b)
	}
	if _, err := warehouse.VerifyBackup(ctx, b.Path); err != nil {
		t.Fatal(err)
	}
	// a second open migrates nothing and backs nothing up
	wh, err = warehouse.Open(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	wh.Close()
	if bs, _ := warehouse.ListBackups(warehouse.DefaultBackupDir(old)); len(bs) != 1 {
		t.Fatalf("%d backups after a second open", len(bs))
	}
	// the way back: the old warehouse as it was
	back := filepath.Join(dir, "back.duckdb")
	if _, err := warehouse.Restore(ctx, b.Path, back, time.Now()); err != nil {
		t.Fatal(err)
	}
	r := openRO(t, back)
	defer r.Close()
	if v, _ := warehouse.SchemaVersion(ctx, r.DB); v != was {
		t.Fatalf("restored at schema version %d, want %d", v, was)
	}
	testkit.SameFigures(t, "the warehouse before the upgrade", testkit.Figures(t, r.DB), before)
}

// TestUpgradeStopsWhenItsBackupFails: a backup directory that cannot be written stops the
// upgrade, and the warehouse keeps its old schema.
func TestUpgradeStopsWhenItsBackupFails(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := filepath.Join(dir, "old.duckdb")
	gunzip(t, filepath.Join("..", "..", "testdata", "warehouse-1.1.2", "w.duckdb.gz"), old)
	copyKey(t, filepath.Join("..", "..", "testdata", "warehouse-1.1.2", "w.duckdb.key"), old+".key")
	t.Setenv(warehouse.KeyEnv, "")
	t.Setenv(warehouse.KeyFileEnv, "")
	blocked := filepath.Join(dir, "not-a-dir")
	os.WriteFile(blocked, []byte("x"), 0o600)
	_, err := warehouse.OpenWith(ctx, old, warehouse.Options{BackupDir: blocked})
	if err == nil || !strings.Contains(err.Error(), "之前的备份失败，没有升级") {
		t.Fatalf("open with an unwritable backup directory: %v", err)
	}
	ro := openRO(t, old)
	defer ro.Close()
	if v, _ := warehouse.SchemaVersion(ctx, ro.DB); v >= warehouse.KnownSchemaVersion() {
		t.Fatalf("migrated to %d although its backup failed", v)
	}
}

// TestLockedWarehouseBacksUpThroughStagingOnly: the serving database (external access off,
// configuration locked) writes its backups' copies in the staging folder and can reach
// nothing else: not the backups themselves (their key files), not the directory, not the
// rest of the machine.
func TestLockedWarehouseBacksUpThroughStagingOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	wh := demo(t, dir, "w.duckdb")
	wh.Close()
	backups := filepath.Join(dir, "backups")
	wh, err := warehouse.OpenWith(ctx, filepath.Join(dir, "w.duckdb"), warehouse.Options{Locked: true, BackupDir: backups})
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	b, err := wh.Backup(ctx, warehouse.BackupOptions{Dir: backups, Key: demoKey})
	if err != nil {
		t.Fatal(err)
	}
	staging, _ := filepath.Abs(warehouse.StagingDir(backups))
	for _, q := range []string{
		`SELECT * FROM read_text('` + filepath.Join(b.Path, "w.duckdb.key") + `')`,
		`SELECT * FROM read_text('` + staging + `/../` + filepath.Base(b.Path) + `/w.duckdb.key')`,
		`COPY (SELECT 1) TO '` + filepath.Join(backups, "x.csv") + `'`,
		`ATTACH '` + filepath.Join(b.Path, "w.duckdb") + `' AS b (READ_ONLY)`,
		`ATTACH '` + filepath.Join(dir, "other.duckdb") + `' AS o`,
		`SELECT * FROM read_text('/etc/passwd')`,
		`SET GLOBAL allowed_directories = ['/']`,
		`SET GLOBAL enable_external_access = true`,
	} {
		if _, err := wh.DB.ExecContext(ctx, q); err == nil {
			t.Errorf("the locked warehouse ran %s", q)
		}
	}
}

// TestPruneKeepsTheNewest: --backup-keep 2 keeps the two newest verified backups, every
// backup taken before an upgrade, and the failed ones newer than the oldest kept.
func TestPruneKeepsTheNewest(t *testing.T) {
	dir := t.TempDir()
	mk := func(name, status, reason string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(p, 0o700)
		os.WriteFile(filepath.Join(p, warehouse.ManifestName), []byte(fmt.Sprintf(`{"format":1,"status":%q,"reason":%q}`, status, reason)), 0o600)
	}
	mk("20250101-020000-scheduled", "verified", "scheduled")
	mk("20250102-020000-upgrade", "verified", "upgrade")
	mk("20250102-030000-scheduled.failed", "failed", "scheduled")
	mk("20250103-020000-scheduled", "verified", "scheduled")
	mk("20250103-030000-manual.failed", "failed", "manual")
	mk("20250104-020000-scheduled", "verified", "scheduled")
	mk("20250105-020000-manual", "verified", "manual")
	os.MkdirAll(filepath.Join(dir, ".partial-20250106-020000-scheduled"), 0o700)
	// what is not tisheng's, or cannot be read now, is never removed: an office's own
	// folders beside the backups, and a backup whose manifest is unreadable for a moment
	foreign := []string{"2024-old-server", "00-notes", "1999-important-scans", "20240101-020000-scheduled-copy"}
	for _, f := range foreign {
		os.MkdirAll(filepath.Join(dir, f, "data"), 0o700)
		os.WriteFile(filepath.Join(dir, f, "data", "teachers.csv"), []byte("precious"), 0o600)
	}
	os.MkdirAll(filepath.Join(dir, "20240101-020000-manual"), 0o700) // no manifest (yet)
	removed, err := warehouse.PruneBackups(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(removed, " "); got != "20250103-020000-scheduled 20250101-020000-scheduled 20250103-030000-manual.failed 20250102-030000-scheduled.failed" {
		t.Fatalf("removed %s", got)
	}
	bs, _ := warehouse.ListBackups(dir)
	var left []string
	for _, b := range bs {
		left = append(left, b.Name)
	}
	if got := strings.Join(left, " "); got != "20250105-020000-manual 20250104-020000-scheduled 20250102-020000-upgrade 20240101-020000-manual" {
		t.Fatalf("left %s", got)
	}
	for _, f := range foreign {
		if _, err := os.Stat(filepath.Join(dir, f, "data", "teachers.csv")); err != nil {
			t.Errorf("prune removed %s, which is not a backup", f)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".partial-20250106-020000-scheduled")); err != nil {
		t.Fatal("prune removed a backup being written")
	}
}

// TestRestoreAsRootKeepsTheOwner: an office restores as root for a service that runs as its
// own user; the restored warehouse and key belong to the owner of the file they replace
// (or of its folder), or the service could not open them at its next start.
func TestRestoreAsRootKeepsTheOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files away")
	}
	ctx := context.Background()
	dir := t.TempDir()
	b, _ := demoBackup(t, dir)
	const uid, gid = 4242, 4343
	for _, c := range []struct{ name, existing string }{{"over a file", "old"}, {"into a folder", ""}} {
		t.Run(c.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			os.Mkdir(data, 0o700)
			os.Chown(data, uid, gid)
			target := filepath.Join(data, "w.duckdb")
			if c.existing != "" {
				os.WriteFile(target, []byte(c.existing), 0o600)
				os.Chown(target, uid, gid)
			}
			if _, err := warehouse.Restore(ctx, b.Path, target, time.Now()); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{target, warehouse.KeyFile(target)} {
				st, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				s := st.Sys().(*syscall.Stat_t)
				if s.Uid != uid || s.Gid != gid || st.Mode().Perm() != 0o600 {
					t.Errorf("%s: owner %d:%d mode %v", f, s.Uid, s.Gid, st.Mode().Perm())
				}
			}
		})
	}
}

// TestInterruptedRestoreIsNotHidden: a restore killed between moving the old warehouse
// aside and putting the restored one in place leaves no warehouse file; opening it must not
// make a new empty one (every user would see an empty system), and running the restore
// again finishes it.
func TestInterruptedRestoreIsNotHidden(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, want := demoBackup(t, dir)
	target := filepath.Join(dir, "w.duckdb")
	for _, c := range []struct{ name, restoring string }{{"old moved aside", "x"}, {"old moved aside, copy gone", ""}} {
		t.Run(c.name, func(t *testing.T) {
			// the state a kill between the renames leaves
			if err := os.Rename(target, target+".before-restore-20250701-103000"); err != nil {
				t.Fatal(err)
			}
			os.Rename(target+".key", target+".before-restore-20250701-103000.key")
			if c.restoring != "" {
				os.WriteFile(target+".restoring", []byte(c.restoring), 0o600)
			}
			for _, opts := range []warehouse.Options{{}, {Locked: true}} {
				if w, err := warehouse.OpenWith(ctx, target, opts); err == nil || !strings.Contains(err.Error(), "没有完成的恢复") {
					if w != nil {
						w.Close()
					}
					t.Fatalf("opened where a restore stopped: %v", err)
				}
			}
			if _, err := os.Stat(target); !os.IsNotExist(err) {
				t.Fatal("a warehouse file was made")
			}
			if _, err := warehouse.Restore(ctx, b.Path, target, time.Now()); err != nil {
				t.Fatal(err)
			}
			r := openRO(t, target)
			testkit.SameFigures(t, "restored again", testkit.Figures(t, r.DB), want)
			r.Close()
			os.Remove(target + ".restoring")
			for _, f := range []string{target + ".before-restore-20250701-103000", target + ".before-restore-20250701-103000.key"} {
				os.Remove(f)
			}
		})
	}
}

// TestBackupAsRootBelongsToTheFolder: root running tisheng backup into the service's
// backup folder makes a backup the service can list, verify and prune.
func TestBackupAsRootBelongsToTheFolder(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files away")
	}
	ctx := context.Background()
	dir := t.TempDir()
	wh := demo(t, dir, "w.duckdb")
	backups := filepath.Join(dir, "backups")
	os.Mkdir(backups, 0o700)
	os.Chown(backups, 4242, 4343)
	if _, err := wh.Backup(ctx, warehouse.BackupOptions{Dir: backups, Key: demoKey, Reason: warehouse.ReasonCommand}); err != nil {
		t.Fatal(err)
	}
	filepath.Walk(backups, func(p string, st os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if s := st.Sys().(*syscall.Stat_t); s.Uid != 4242 || s.Gid != 4343 {
			t.Errorf("%s: owner %d:%d", p, s.Uid, s.Gid)
		}
		return nil
	})
}

// TestCheckRefusesWhatRestoreWould: a sums file with a line past the reader's buffer (which
// once ended the reading silently, hiding the lines after it) and a backup without its key
// are refused by the check, as restore refuses them.
func TestCheckRefusesWhatRestoreWould(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, _ := demoBackup(t, dir)
	long := filepath.Join(dir, "long")
	os.CopyFS(long, os.DirFS(b.Path))
	f, _ := os.OpenFile(filepath.Join(long, warehouse.ChecksumsName), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(strings.Repeat("a", 100000) + "\n" + strings.Repeat("0", 64) + "  evil\n")
	f.Close()
	if _, err := warehouse.VerifyBackup(ctx, long); err == nil || !strings.Contains(err.Error(), "过长的行") {
		t.Errorf("a sums file with a long line: %v", err)
	}
	if _, err := warehouse.Restore(ctx, long, filepath.Join(dir, "r1", "w.duckdb"), time.Now()); err == nil {
		t.Error("restored from a sums file with a long line")
	}
	r, err := warehouse.Open(ctx, filepath.Join(dir, "w.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	nokey := mustBackup(t, r, filepath.Join(dir, "nokey"), nil).Path // as one whose key was never found
	r.Close()
	if _, err := warehouse.VerifyBackup(ctx, nokey); err == nil || !strings.Contains(err.Error(), "没有密钥文件") {
		t.Errorf("a backup without its key: %v", err)
	}
}
