package queries

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// FuzzGuard: whatever the text, the guard does not panic, and a query it accepts reads
// nothing of meta (whose value is a marker) and moves no sequence.
func FuzzGuard(f *testing.F) {
	for _, s := range []string{
		"SELECT 1", "SUMMARIZE meta", "SELECT * FROM (DESCRIBE meta)", "SHOW ALL TABLES",
		"SELECT max(nextval('batch_seq')) FROM range(10)", "SELECT current_setting('threads')",
		"WITH meta AS (SELECT * FROM meta) SELECT * FROM meta", "SELECT current_catalog",
		"WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT * FROM t",
		"SELECT list_transform([1], x -> x + 1)", `SELECT * FROM "META"`, "SELECT 1; SELECT 2",
		"FROM meta", "SELECT (SELECT value FROM meta)", "SELECT * FROM duckdb_settings()",
	} {
		f.Add(s)
	}
	c, err := duckdb.NewConnector("?enable_external_access=false", nil)
	if err != nil {
		f.Fatal(err)
	}
	db := sql.OpenDB(c)
	f.Cleanup(func() { db.Close() })
	for _, q := range []string{
		`CREATE TABLE meta (key VARCHAR, value VARCHAR)`,
		`INSERT INTO meta VALUES ('key_fingerprint', 'SECRET-MARKER-7f3a')`,
		`CREATE SEQUENCE batch_seq START 1`,
		`CREATE TABLE teacher_progress (name VARCHAR, n INTEGER)`,
		`INSERT INTO teacher_progress VALUES ('甲', 1), ('乙', 2)`,
	} {
		if _, err := db.Exec(q); err != nil {
			f.Fatal(err)
		}
	}
	r, err := NewRunner(db)
	if err != nil {
		f.Fatal(err)
	}
	a := NewAdHoc(r, analystTables(f))
	a.Timeout, a.RowLimit, a.ByteLimit, a.Memory = time.Second, 100, 1<<20, 256<<20
	f.Fuzz(func(t *testing.T, q string) {
		res, err := a.Run(context.Background(), q)
		if err == nil {
			for _, row := range res.Rows {
				for _, v := range row {
					if s, ok := v.(string); ok && strings.Contains(s, "SECRET-MARKER") {
						t.Fatalf("%q read meta", q)
					}
				}
			}
		}
		// A sequence never advanced: the next value is still the first.
		var next int64
		if err := db.QueryRow(`SELECT nextval('batch_seq')`).Scan(&next); err != nil {
			t.Fatal(err)
		}
		db.Exec(`DROP SEQUENCE batch_seq; CREATE SEQUENCE batch_seq START 1`)
		if next != 1 {
			t.Fatalf("%q moved the sequence (next value %d)", q, next)
		}
	})
}
