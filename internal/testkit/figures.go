package testkit

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// Figures reads what a warehouse holds, for comparing two of them (a backup, a restore, a
// migrated file against a fresh build): each table's rows and a digest of their content
// (of every table of the main schema when tables is empty), and the figures a leader signs:
// each school at the gate, each district's completion, the batches loaded.
func Figures(t testing.TB, db *sql.DB, tables ...string) map[string]string {
	t.Helper()
	ctx := context.Background()
	if len(tables) == 0 {
		rows, err := db.QueryContext(ctx, `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			tables = append(tables, s)
		}
		rows.Close()
	}
	out := map[string]string{}
	for _, tb := range tables {
		var n int64
		var d string
		if err := db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(hash(r)), 0)::VARCHAR FROM "`+tb+`" r`).Scan(&n, &d); err != nil {
			t.Fatalf("%s: %v", tb, err)
		}
		out[tb] = fmt.Sprint(n, " rows, digest ", d)
	}
	for name, q := range map[string]string{
		"teachers":  `SELECT count(*)::VARCHAR FROM teacher_progress`,
		"gate":      `SELECT string_agg(school_code || ':' || gate_met::VARCHAR || ':' || shortfall::VARCHAR, ',' ORDER BY school_code) FROM school_gate`,
		"districts": `SELECT string_agg(district || ':' || teachers::VARCHAR || ':' || complete::VARCHAR, ',' ORDER BY district) FROM district_summary`,
		"batches":   `SELECT string_agg(batch_id::VARCHAR || ':' || sha256, ',' ORDER BY batch_id) FROM batches`,
	} {
		var s sql.NullString
		if err := db.QueryRowContext(ctx, q).Scan(&s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out["figure "+name] = s.String
	}
	return out
}

// SameFigures fails the test for every table or figure got and want disagree on.
func SameFigures(t testing.TB, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d tables and figures, want %d", what, len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s = %q, want %q", what, k, got[k], w)
		}
	}
}
