package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"
)

// How a backup is taken, while the server serves (measured on DuckDB 1.5.6, 2 cores; the
// README has the figures):
//
// DuckDB attaches a new file in the backup directory's staging folder (the serving
// database has external access off; allowed_directories lets it write there and nowhere
// else), copies the schema into it (COPY FROM DATABASE … (SCHEMA)), and then, in one
// transaction, copies every table (INSERT INTO copy.t SELECT * FROM t). The transaction's
// snapshot is taken while the server's write lock is held, so the copy holds every upload
// and refresh whole or not at all; then the lock is let go, and uploads and refreshes go
// on while the rows are copied: DuckDB's MVCC keeps the snapshot for the copy.
//
// Not COPY FROM DATABASE … TO in one statement: it is a multi-statement macro that wraps
// itself in its own transaction (so its snapshot cannot be taken under the write lock and
// the lock would be held for the whole copy), and inside an explicit transaction it sets
// current_transaction_invalidation_policy, which a locked configuration refuses. Not a
// CHECKPOINT and a copy of the file: the audit trail, sessions and deliveries write
// without the write lock, and a checkpoint or a large commit during the copy would tear it.
// Not EXPORT DATABASE: it writes CSV or Parquet, not a warehouse a later tisheng opens.

// BackupOptions say where a backup goes and what it carries.
type BackupOptions struct {
	// Dir is the backup directory: the backup is a new folder inside.
	Dir string
	// Key is the warehouse's key, written beside the copy (nil only for the backup taken
	// before an upgrade of a warehouse whose key is not found).
	Key []byte
	// Reason says why (ReasonManual, …); it ends the folder's name.
	Reason string
	// Pause, when set, stops the warehouse's writers until resume is called: the server's
	// write lock. The copy's snapshot is taken in between, so that it holds every upload
	// and refresh whole or not at all.
	Pause func(ctx context.Context) (resume func(), err error)
	// Now is the clock (tests).
	Now func() time.Time
}

// Backup is a backup written and verified.
type Backup struct {
	Path     string
	Manifest Manifest
}

// backupHook, when set (tests), is called at each step of a backup: a test stops or kills
// the process there.
var backupHook atomic.Pointer[func(step string)]

func hook(step string) {
	if f := backupHook.Load(); f != nil {
		(*f)(step)
	}
}

// attachSeq numbers the copies attached by this process.
var attachSeq atomic.Int64

// Backup writes a consistent copy of the warehouse and its key into a new folder of
// o.Dir, with its manifest, verifies it (opened read-only with its key, every count and
// digest compared with the manifest) and only then gives the folder its final name. A
// copy that fails its verification is kept, marked failed, under NAME.failed, and the
// error says why.
func (w *Warehouse) Backup(ctx context.Context, o BackupOptions) (*Backup, error) {
	if o.Dir == "" {
		return nil, errors.New("backup: no backup directory given")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Reason == "" {
		o.Reason = ReasonManual
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := os.MkdirAll(StagingDir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if uid, gid, ok := ownerOf(dir, dir); ok {
		if err := giveTo(uid, gid, StagingDir(dir)); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
	}
	if err := SweepBackups(dir); err != nil {
		return nil, err
	}
	started := o.Now()
	name, partial, unlock, err := startBackup(dir, started, o.Reason)
	if err != nil {
		return nil, err
	}
	defer unlock()
	staged := filepath.Join(StagingDir(dir), name+".duckdb")
	done := false
	defer func() {
		if !done { // nothing of a backup that did not end stays behind
			os.RemoveAll(partial)
			os.Remove(staged)
			os.Remove(staged + ".wal")
		}
	}()
	src, err := filepath.Abs(w.Path)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	m := Manifest{Format: ManifestFormat, Reason: o.Reason, Source: src, Database: filepath.Base(src),
		StorageVersion: StorageVersion, Program: program()}
	if err := w.copyTo(ctx, staged, &m, o); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	m.CopyMS = time.Since(started).Milliseconds()
	hook("copied")
	if _, err := os.Stat(staged + ".wal"); err == nil {
		return nil, errors.New("backup: the copy kept a write-ahead log after it was detached")
	}
	if err := os.Rename(staged, filepath.Join(partial, m.Database)); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := os.Chmod(filepath.Join(partial, m.Database), 0o600); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if o.Key != nil {
		m.Key = filepath.Base(KeyFile(m.Database))
		m.KeyFingerprint = KeyFingerprint(o.Key)
		if err := writeSynced(filepath.Join(partial, m.Key), KeyText(o.Key), 0o600); err != nil {
			return nil, err
		}
	}
	for _, f := range []string{m.Database, m.Key} {
		if f == "" {
			continue
		}
		fs, err := sumFile(partial, f)
		if err != nil {
			return nil, err
		}
		m.Files = append(m.Files, fs)
	}
	hook("written")
	vstart := time.Now()
	verr := verifyDatabase(ctx, filepath.Join(partial, m.Database), o.Key, &m)
	m.VerifyMS = time.Since(vstart).Milliseconds()
	m.FinishedAt = o.Now()
	final := filepath.Join(dir, name)
	m.Status = StatusVerified
	if verr != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("backup: %w", ctx.Err())
		}
		m.Status, m.Error = StatusFailed, verr.Error()
		final += failedSuffix
	}
	if err := writeManifest(partial, &m); err != nil {
		return nil, err
	}
	if err := syncDir(partial); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	hook("manifest")
	if err := os.Rename(partial, final); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	done = true
	os.Remove(filepath.Join(final, lockName))
	// taken by root (tisheng backup without runuser) into the service's backup folder: the
	// backup belongs to the folder's owner, or the service could neither list nor prune it
	if uid, gid, ok := ownerOf(dir, dir); ok {
		files := []string{final}
		if es, err := os.ReadDir(final); err == nil {
			for _, e := range es {
				files = append(files, filepath.Join(final, e.Name()))
			}
		}
		if err := giveTo(uid, gid, files...); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if verr != nil {
		return &Backup{Path: final, Manifest: m}, &BackupError{Dir: final, Msg: "未通过校验，已标记为失败（" + failedSuffix + "）：" + verr.Error(), Err: verr}
	}
	return &Backup{Path: final, Manifest: m}, nil
}

// startBackup makes the backup's .partial- folder and locks it, under the directory's lock
// (a sweep takes it too, and never sees a folder made but not yet locked).
func startBackup(dir string, now time.Time, reason string) (name, partial string, unlock func(), err error) {
	unlockDir, err := lockDir(dir)
	if err != nil {
		return "", "", nil, fmt.Errorf("backup: lock %s: %w", dir, err)
	}
	defer unlockDir()
	name = newBackupName(dir, now, reason)
	partial = filepath.Join(dir, partialPrefix+name)
	if err := os.Mkdir(partial, 0o700); err != nil {
		return "", "", nil, fmt.Errorf("backup: %w", err)
	}
	unlock, err = tryLockDir(partial)
	if err != nil {
		os.RemoveAll(partial)
		return "", "", nil, fmt.Errorf("backup: lock %s: %w", partial, err)
	}
	return name, partial, unlock, nil
}

// copyTo writes the warehouse into a new DuckDB file at path (see the top of this file)
// and fills the manifest from the same snapshot.
func (w *Warehouse) copyTo(ctx context.Context, path string, m *Manifest, o BackupOptions) (err error) {
	conn, err := w.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var cur string
	if err := conn.QueryRowContext(ctx, `SELECT current_database()`).Scan(&cur); err != nil {
		return err
	}
	alias := fmt.Sprintf("tisheng_backup_%d", attachSeq.Add(1))
	if alias == cur {
		alias += "_copy"
	}
	// An explicit READ_WRITE: a read-only warehouse (tisheng backup) attaches its copy so.
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`ATTACH %s AS %s (READ_WRITE, STORAGE_VERSION '%s')`,
		sqlString(path), ident(alias), StorageVersion)); err != nil {
		return fmt.Errorf("attach the copy: %w", err)
	}
	attached := true
	defer func() {
		if attached {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "DETACH "+ident(alias))
		}
	}()
	hook("attached")
	resume := func() {}
	if o.Pause != nil {
		if resume, err = o.Pause(ctx); err != nil {
			return err
		}
	}
	tables, err := snapshot(ctx, conn, cur, alias, m, o.Now)
	resume()
	if err != nil {
		return err
	}
	hook("snapshot")
	if err := fillManifest(ctx, conn, m); err != nil {
		return err
	}
	for i, t := range tables {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s.main.%s BY NAME SELECT * FROM %s.main.%s`,
			ident(alias), ident(t), ident(cur), ident(t))); err != nil {
			return fmt.Errorf("copy %s: %w", t, err)
		}
		if i == 0 {
			hook("copying")
		}
	}
	if err := fixSequences(ctx, conn, alias, m); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit the copy: %w", err)
	}
	attached = false
	// The copy is checkpointed into its file before it is detached: DETACH checkpoints
	// only when no other connection holds the database, and readers listing the catalog
	// (information_schema, duckdb_tables()) touch every attached one (DuckDB 1.5.6).
	if _, err := conn.ExecContext(ctx, "CHECKPOINT "+ident(alias)); err != nil {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "DETACH "+ident(alias))
		return fmt.Errorf("checkpoint the copy: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "DETACH "+ident(alias)); err != nil {
		return fmt.Errorf("detach the copy: %w", err)
	}
	return nil
}

// snapshot copies the schema into the attached copy, then begins the copy's transaction
// and reads in it what the manifest says of every table: from here on the transaction
// sees the warehouse as it is now, whatever is written after. It returns the tables.
func snapshot(ctx context.Context, conn *sql.Conn, cur, alias string, m *Manifest, now func() time.Time) ([]string, error) {
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`COPY FROM DATABASE %s TO %s (SCHEMA)`, ident(cur), ident(alias))); err != nil {
		return nil, fmt.Errorf("copy the schema: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return nil, err
	}
	m.CreatedAt = now()
	objs, err := objects(ctx, conn)
	if err != nil {
		return nil, err
	}
	var tables []string
	for _, o := range objs {
		var n int64
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM `+ident(o.name)).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", o.name, err)
		}
		m.Tables = append(m.Tables, TableCount{Name: o.name, View: o.view, Rows: n})
		if !o.view {
			tables = append(tables, o.name)
		}
	}
	return tables, nil
}

type object struct {
	name string
	view bool
}

// objects are the tables and views of the main schema, tables first, by name.
func objects(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) ([]object, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT table_name, false FROM duckdb_tables()
		WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary
		UNION ALL
		SELECT view_name, true FROM duckdb_views()
		WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary AND NOT internal
		ORDER BY 2, 1`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var out []object
	for rows.Next() {
		var o object
		if err := rows.Scan(&o.name, &o.view); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// fillManifest adds, in the copy's transaction, the engine, the schema version, the
// batches and each table's digest.
func fillManifest(ctx context.Context, conn *sql.Conn, m *Manifest) error {
	if err := conn.QueryRowContext(ctx, `SELECT version()`).Scan(&m.Engine); err != nil {
		return err
	}
	v, err := SchemaVersion(ctx, conn)
	if err != nil {
		return err
	}
	m.SchemaVersion = v
	if m.Rows("batches") >= 0 {
		var last sql.NullInt64
		var loaded sql.NullTime
		var asOf sql.NullString
		if err := conn.QueryRowContext(ctx, `SELECT count(*), max(batch_id), max(loaded_at), max(as_of)::VARCHAR FROM batches`).
			Scan(&m.Batches.Count, &last, &loaded, &asOf); err != nil {
			return fmt.Errorf("batches: %w", err)
		}
		m.Batches.LastID, m.Batches.LatestAsOf = last.Int64, asOf.String
		if loaded.Valid {
			m.Batches.LastLoadedAt = &loaded.Time
		}
	}
	for i, t := range m.Tables {
		if t.View {
			continue
		}
		d, err := digest(ctx, conn, t.Name)
		if err != nil {
			return err
		}
		m.Tables[i].Digest = d
	}
	return nil
}

// digest sums DuckDB's hash of every row of a table: equal digests mean the same rows,
// in any order (under one engine version: the hash is DuckDB's own). Reading every value
// also checks every block's checksum.
func digest(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, table string) (string, error) {
	var d string
	if err := q.QueryRowContext(ctx, `SELECT coalesce(sum(hash(r)), 0)::VARCHAR FROM `+ident(table)+` AS r`).Scan(&d); err != nil {
		return "", fmt.Errorf("digest %s: %w", table, err)
	}
	return d, nil
}

// sequenceOwners are the columns each sequence numbers: a warehouse's next value must be
// above every value they hold, or a restored warehouse would hand out a batch id (an audit
// line's number, …) twice.
var sequenceOwners = map[string][][2]string{
	"batch_seq":        {{"batches", "batch_id"}, {"batch_removals", "batch_id"}},
	"audit_seq":        {{"audit", "seq"}},
	"subscription_seq": {{"subscriptions", "id"}},
	"delivery_seq":     {{"deliveries", "id"}},
}

// fixSequences moves each sequence of the copy past the values its columns hold. A
// sequence is not transactional: the schema copy took the warehouse's sequences as they
// were a moment before the snapshot, and an audit line written in between has a number
// the copied sequence would hand out again.
func fixSequences(ctx context.Context, conn *sql.Conn, alias string, m *Manifest) error {
	for seq, owners := range sequenceOwners {
		var next sql.NullInt64
		if err := conn.QueryRowContext(ctx, `SELECT start_value FROM duckdb_sequences() WHERE database_name = ? AND schema_name = 'main' AND sequence_name = ?`,
			alias, seq).Scan(&next); errors.Is(err, sql.ErrNoRows) {
			continue
		} else if err != nil {
			return fmt.Errorf("sequence %s: %w", seq, err)
		}
		high, err := ownersMax(ctx, conn, ident(alias)+".main.", owners, m)
		if err != nil {
			return err
		}
		if next.Int64 > high {
			continue
		}
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`CREATE OR REPLACE SEQUENCE %s.main.%s START %d`, ident(alias), ident(seq), high+1)); err != nil {
			return fmt.Errorf("sequence %s: %w", seq, err)
		}
	}
	return nil
}

// ownersMax is the highest value the owner columns hold (0 for none), of the tables the
// manifest lists (an old warehouse lacks some).
func ownersMax(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, prefix string, owners [][2]string, m *Manifest) (int64, error) {
	var high int64
	for _, o := range owners {
		if m.Rows(o[0]) < 0 {
			continue
		}
		var v sql.NullInt64
		if err := q.QueryRowContext(ctx, fmt.Sprintf(`SELECT max(%s) FROM %s%s`, ident(o[1]), prefix, ident(o[0]))).Scan(&v); err != nil {
			return 0, fmt.Errorf("max %s.%s: %w", o[0], o[1], err)
		}
		high = max(high, v.Int64)
	}
	return high, nil
}

// program names this build of tisheng: its module version and commit, as Go records them.
func program() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	p := "tisheng " + bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			p += " " + s.Value
		case "vcs.modified":
			if s.Value == "true" {
				p += " (modified)"
			}
		}
	}
	return p
}

func ident(s string) string     { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
