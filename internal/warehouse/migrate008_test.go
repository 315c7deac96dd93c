package warehouse

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duckdb/duckdb-go/v2"
)

// TestMigration008NamesEarlierUploaders upgrades a warehouse made before 008: the batches
// uploaded through the server get their uploader's scope from the audit trail, the rest
// (the command line, the project office, failed or repeated uploads) none.
func TestMigration008NamesEarlierUploaders(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "old.duckdb")
	c, err := duckdb.NewConnector(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)`)
	for _, m := range ms {
		if m.version >= 8 {
			break
		}
		exec(m.sql)
		exec(`INSERT INTO schema_migrations VALUES (` + strings.TrimLeft(m.name[:3], "0") + `, '` + m.name + `', current_timestamp::TIMESTAMP)`)
	}
	for _, id := range []string{"1", "2", "3", "4", "5"} {
		exec(`INSERT INTO batches VALUES (` + id + `, 'f` + id + `.csv', 'h` + id + `', 'teachers', NULL, 'csv', 'utf-8', NULL, DATE '2025-06-30', 'file_name', NULL, NULL, 4, 4, 0, TIMESTAMP '2025-07-01 00:00:00', 'loaded')`)
	}
	audit := func(seq int, scope, detail string, ok bool) {
		exec(`INSERT INTO audit VALUES (` + string(rune('0'+seq)) + `, TIMESTAMP '2025-07-01 00:00:00', 'u', 'district', '` + scope + `', 'upload', 'f.csv', 4, 10, ` +
			map[bool]string{true: "true", false: "false"}[ok] + `, '` + detail + `', '127.0.0.1')`)
	}
	audit(1, "区县:东湖区", "loaded teachers 接收 4 拒收 0 批次 2 ", true)
	audit(2, "学校:3601000001", "loaded teachers 接收 4 拒收 0 批次 3 ", true)
	// a repeat of batch 4's bytes by another district is not its upload
	audit(3, "区县:西山区", "already_loaded teachers 接收 4 拒收 0 批次 4 ", true)
	audit(4, "区县:西山区", "failed  接收 0 拒收 0 批次 0 文件无法读取", false)
	db.Close()
	c.Close()

	w, err := Open(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var got string
	if err := w.DB.QueryRowContext(ctx, `SELECT string_agg(batch_id || ':' || coalesce(loaded_district, '-') || '/' || coalesce(loaded_school, '-'), ' ' ORDER BY batch_id) FROM batches`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := "1:-/- 2:东湖区/- 3:-/3601000001 4:-/- 5:-/-"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
