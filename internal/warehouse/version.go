package warehouse

import (
	"context"
	"database/sql"
	"fmt"
)

// KnownSchemaVersion is the highest migration this program carries: the schema version of
// every warehouse it has opened to write.
func KnownSchemaVersion() int {
	ms, err := loadMigrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// NewerSchemaError is a warehouse written by a newer release than this program: its
// schema_migrations name versions this program does not know. Opening it could write it
// in a shape that release does not expect, so it is refused.
type NewerSchemaError struct {
	Path  string
	Have  int // the warehouse's schema version
	Known int // this program's
	// Unknown is the first migration this program does not carry.
	Unknown string
}

func (e *NewerSchemaError) Error() string {
	return fmt.Sprintf("仓库文件 %s 的数据结构版本为 %d（含本程序没有的变更 %s），由较新版本的 tisheng 写入；本程序的数据结构版本为 %d，已拒绝打开（以免写坏它）："+
		"请使用写入它的（或更新的）版本，或从本版本做的备份恢复（tisheng restore）", e.Path, e.Have, e.Unknown, e.Known)
}

// SchemaVersion is the highest migration applied to the database behind db (0: none, or
// no schema_migrations table: a new or foreign file).
func SchemaVersion(ctx context.Context, db interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_tables()
		WHERE database_name = current_database() AND schema_name = 'main' AND table_name = 'schema_migrations'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return int(v.Int64), nil
}

// checkNotNewer refuses a warehouse of a newer (or another) release: one with a migration
// this program does not carry, by its number or by its name.
func (w *Warehouse) checkNotNewer(ctx context.Context) error {
	have, err := SchemaVersion(ctx, w.DB)
	if err != nil || have == 0 {
		return err
	}
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	known := map[int]string{}
	for _, m := range ms {
		known[m.version] = m.name
	}
	rows, err := w.DB.QueryContext(ctx, `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			return fmt.Errorf("schema version: %w", err)
		}
		if known[v] != name {
			return &NewerSchemaError{Path: w.Path, Have: have, Known: KnownSchemaVersion(), Unknown: name}
		}
	}
	return rows.Err()
}
