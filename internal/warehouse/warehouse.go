// Package warehouse owns the DuckDB file: one connector per process (two connectors on one
// file silently diverge, measured with go-duckdb 1.8.2 on DuckDB 1.1.2), the numbered migrations, and transactions on a
// dedicated connection.
package warehouse

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Warehouse is an open DuckDB warehouse file.
type Warehouse struct {
	DB   *sql.DB
	Path string
	conn *duckdb.Connector
	// staging is the one folder a locked warehouse may write to (a backup's copy); ""
	// when the warehouse is not locked or was opened without a backup directory.
	staging string
	locked  bool
}

// CanBackupTo says whether a backup into dir can be written: a locked warehouse writes
// only into the staging folder of the backup directory it was opened with.
func (w *Warehouse) CanBackupTo(dir string) bool {
	if !w.locked {
		return true
	}
	st, err := filepath.Abs(StagingDir(dir))
	return err == nil && st == w.staging
}

// Open opens (creating if needed) the warehouse file and applies pending migrations.
func Open(ctx context.Context, file string) (*Warehouse, error) {
	return OpenWith(ctx, file, Options{})
}

// Options for opening a warehouse.
type Options struct {
	// ReadOnly opens the file read-only (other processes may read it too).
	ReadOnly bool
	// MemoryLimit caps DuckDB's memory ("3GB"); past it, large refreshes spill to a
	// temporary file beside the database. "none" leaves DuckDB's default (80% of RAM).
	MemoryLimit string
	// Locked turns external access off and locks the configuration: no read_csv of server
	// files, COPY, ATTACH, INSTALL, LOAD or SET, whatever SQL reaches the database, but for
	// the staging folder of BackupDir, where a backup's copy is written.
	Locked bool
	// BackupDir is where backups go (serve --backup-dir): the backup taken before
	// migrating a warehouse of an older release goes there too (else DefaultBackupDir).
	BackupDir string
	// Log says where an upgrade's backup went (nil: slog's default logger).
	Log *slog.Logger
}

// MemoryLimitEnv overrides DefaultMemoryLimit.
const MemoryLimitEnv = "TISHENG_MEMORY_LIMIT"

// DefaultMemoryLimit keeps a province-scale refresh within a 4 GB budget on 2-core
// machines; DuckDB spills what does not fit.
const DefaultMemoryLimit = "3GB"

// StorageVersion is the storage format of a warehouse file this program creates (a file
// keeps the format it was created in: DuckDB upgrades none in place). It is pinned to v1.0.0,
// the format the releases on DuckDB 1.1.2 wrote, so that a district can go back to one with
// its file: DuckDB 1.5.6 writes a format that old by default, but 2.0.0 writes its own,
// which no earlier release reads, and a newer engine should not change the file format on
// its own. The cost is size (DuckDB 1.5.6, 5.1M rows of teacher_points' shape: 86.5 MB in
// v1.0.0, 64.2 MB in v1.5.0, which 1.1.2 cannot open), not speed.
const StorageVersion = "v1.0.0"

// OpenReadOnly opens an existing warehouse read-only and locked, for queries.
func OpenReadOnly(ctx context.Context, file string) (*Warehouse, error) {
	return OpenWith(ctx, file, Options{ReadOnly: true, Locked: true})
}

// OpenWith opens the warehouse with options; a read-only open applies no migrations.
func OpenWith(ctx context.Context, file string, o Options) (*Warehouse, error) {
	if file == "" {
		return nil, errors.New("warehouse: no database file given")
	}
	if o.ReadOnly {
		if err := mustExist(file); err != nil {
			return nil, err
		}
	}
	if err := interruptedRestore(file); err != nil {
		return nil, err
	}
	var opts []string
	if o.MemoryLimit == "" {
		o.MemoryLimit = os.Getenv(MemoryLimitEnv)
	}
	if o.MemoryLimit == "" {
		o.MemoryLimit = DefaultMemoryLimit
	}
	if o.MemoryLimit != "none" {
		opts = append(opts, "memory_limit="+o.MemoryLimit)
	}
	if o.ReadOnly {
		opts = append(opts, "access_mode=READ_ONLY")
	} else {
		opts = append(opts, "storage_compatibility_version="+StorageVersion)
	}
	// No extension is ever installed or loaded: there is no network here, and an attempt
	// (SELECT localtimestamp, '1.2.3.4'::INET) made a folder under the home directory.
	opts = append(opts, "autoinstall_known_extensions=false", "autoload_known_extensions=false")
	// What DuckDB spills goes beside the warehouse, in a directory only the server's user
	// can enter (the scoped databases make theirs inside it).
	tmp, err := TempDir(file)
	if err != nil {
		return nil, err
	}
	opts = append(opts, "temp_directory="+url.QueryEscape(tmp))
	dsn := file
	if len(opts) > 0 {
		dsn += "?" + strings.Join(opts, "&")
	}
	c, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		var le *LockedError
		if err := lockError(file, err); errors.As(err, &le) {
			return nil, le
		}
		return nil, fmt.Errorf("warehouse: open %s: %w", file, err)
	}
	if !o.ReadOnly {
		if err := Private(file); err != nil {
			c.Close()
			return nil, err
		}
	}
	w := &Warehouse{DB: sql.OpenDB(c), Path: file, conn: c}
	// database/sql keeps 2 idle connections by default; a server answering many readers
	// would open and close DuckDB connections on every burst.
	w.DB.SetMaxIdleConns(32)
	if err := w.checkNotNewer(ctx); err != nil {
		w.Close()
		return nil, err
	}
	// Migrations (and the backup before them) run before the lock: they are this
	// program's own SQL, and the backup attaches its copy wherever the directory is.
	if !o.ReadOnly {
		if err := w.migrate(ctx, o); err != nil {
			w.Close()
			return nil, err
		}
	}
	if o.Locked {
		var allow []string
		if o.BackupDir != "" {
			st, err := filepath.Abs(StagingDir(o.BackupDir))
			if err == nil {
				err = os.MkdirAll(st, 0o700)
			}
			if err != nil {
				w.Close()
				return nil, fmt.Errorf("warehouse: backup directory: %w", err)
			}
			allow = append(allow, st)
			w.staging = st
		}
		w.locked = true
		if err := Lock(ctx, w.DB, allow...); err != nil {
			w.Close()
			return nil, fmt.Errorf("warehouse: open %s: %w", file, err)
		}
	}
	return w, nil
}

// TempDir makes (or makes private again) the directory beside the warehouse file where
// DuckDB spills: <file>.tmp, mode 0700, by its absolute path.
func TempDir(file string) (string, error) {
	abs, err := filepath.Abs(file + ".tmp")
	if err != nil {
		return "", fmt.Errorf("warehouse: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", fmt.Errorf("warehouse: temporary directory: %w", err)
	}
	if err := os.Chmod(abs, 0o700); err != nil {
		return "", fmt.Errorf("warehouse: temporary directory: %w", err)
	}
	return abs, nil
}

// Close closes the database and its connector.
func (w *Warehouse) Close() error {
	err := w.DB.Close()
	if cerr := w.conn.Close(); err == nil {
		err = cerr
	}
	return err
}

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", e.Name())
		}
		b, err := migrationFS.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate applies each pending migration in its own transaction, recording it in
// schema_migrations in the same transaction. A warehouse that has migrations already (one
// of an older release) is backed up first, into o.BackupDir or DefaultBackupDir: a
// migration that goes wrong, or a release that must be gone back on, has that copy.
func (w *Warehouse) migrate(ctx context.Context, o Options) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := w.DB.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied := map[int]bool{}
	rows, err := w.DB.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("migrate: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	var pending []migration
	for _, m := range ms {
		if !applied[m.version] {
			pending = append(pending, m)
		}
	}
	if len(applied) > 0 && len(pending) > 0 {
		if err := w.backupBeforeUpgrade(ctx, o, pending); err != nil {
			return err
		}
	}
	for _, m := range pending {
		err := w.Tx(ctx, func(conn *sql.Conn) error {
			if _, err := conn.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := conn.ExecContext(ctx,
				`INSERT INTO schema_migrations VALUES (?, ?, current_timestamp::TIMESTAMP)`, m.version, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", m.name, err)
		}
	}
	return nil
}

// Tx runs fn inside one transaction on a dedicated connection: everything fn writes lands
// together or not at all. The connection is handed to fn so that Arrow and other raw
// driver calls share the transaction.
func (w *Warehouse) Tx(ctx context.Context, fn func(conn *sql.Conn) error) (err error) {
	conn, err := w.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
			panic(p)
		}
		if err != nil {
			// The transaction may already be aborted by DuckDB; a failed rollback adds nothing.
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	if err = fn(conn); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}

// Raw hands fn the driver connection behind conn, for the Arrow API.
func Raw(conn *sql.Conn, fn func(driver.Conn) error) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return errors.New("warehouse: unexpected driver connection")
		}
		return fn(c)
	})
}

// Lock switches a database's external access off (no read_csv of the server's files, COPY,
// ATTACH, INSTALL) and locks its configuration, once it is open. Not as options of the
// connection string: duckdb-go applies those in no fixed order, and DuckDB 1.5.6 refuses to
// set temp_directory once external access is off, so the open failed at random. The
// directories of allow (absolute) stay reachable (allowed_directories, set first: DuckDB
// 1.5.6 takes it only while external access is on): the serving database writes its
// backups' copies there. Paths are normalised (a/../b does not pass).
func Lock(ctx context.Context, db *sql.DB, allow ...string) error {
	qs := []string{"SET GLOBAL enable_external_access = false", "SET GLOBAL lock_configuration = true"}
	if len(allow) > 0 {
		var dirs []string
		for _, d := range allow {
			dirs = append(dirs, sqlString(strings.TrimSuffix(d, "/")+"/"))
		}
		qs = append([]string{"SET GLOBAL allowed_directories = [" + strings.Join(dirs, ", ") + "]"}, qs...)
	}
	for _, q := range qs {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
	}
	return nil
}

// backupBeforeUpgrade backs the warehouse up before its pending migrations, with its key
// when it is found; a backup that fails stops the upgrade.
func (w *Warehouse) backupBeforeUpgrade(ctx context.Context, o Options, pending []migration) error {
	dir := o.BackupDir
	if dir == "" {
		dir = DefaultBackupDir(w.Path)
	}
	key, _, err := FindKey(w.Path)
	if err != nil && !errors.Is(err, ErrNoKey) {
		return fmt.Errorf("warehouse: before upgrading %s: %w", w.Path, err)
	}
	have, err := SchemaVersion(ctx, w.DB)
	if err != nil {
		return err
	}
	b, err := w.Backup(ctx, BackupOptions{Dir: dir, Key: key, Reason: ReasonUpgrade})
	if err != nil {
		return fmt.Errorf("升级仓库 %s 的数据结构（版本 %d → %d）之前的备份失败，没有升级：%w",
			w.Path, have, pending[len(pending)-1].version, err)
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	log.Warn("仓库的数据结构将升级；升级前已备份", "db", w.Path, "from", have, "to", pending[len(pending)-1].version, "backup", b.Path)
	if key == nil {
		log.Warn("没有找到仓库的密钥，升级前的备份中没有密钥文件：请另行保管密钥", "key", KeyFile(w.Path))
	}
	return nil
}

// interruptedRestore refuses to create a warehouse where a restore stopped half way (killed
// between moving the old file aside and putting the restored one in place): a new empty
// warehouse there would hide both, and every user would see an empty system.
func interruptedRestore(file string) error {
	if _, err := os.Stat(file); err == nil || !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	left, _ := filepath.Glob(file + ".before-restore-*")
	if _, err := os.Stat(file + ".restoring"); err == nil {
		left = append(left, file+".restoring")
	}
	if len(left) == 0 {
		return nil
	}
	return fmt.Errorf("仓库文件 %s 不存在，但旁边有一次没有完成的恢复留下的文件（%s），所以没有新建空仓库："+
		"请重新执行 tisheng restore --from 备份目录 --db %s；或把 %s.before-restore-时间（连同同名的 .wal 和 .key）改名回 %s 以回到恢复之前",
		file, strings.Join(left, "、"), file, file, file)
}
