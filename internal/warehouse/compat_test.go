package warehouse_test

import (
	"compress/gzip"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"tisheng/ingest"
	"tisheng/internal/warehouse"
	"tisheng/models"
)

// TestWarehouseOfDuckDB112 opens a warehouse written by the release on DuckDB 1.1.2
// (testdata/warehouse-1.1.2, made by its make.sh from testdata/demo), migrates it if it must
// be, refreshes it, and compares every analyst table with a fresh build of the same exports:
// the same rows, but for the times things were loaded and refreshed. The file keeps the
// storage format it was written in (DuckDB 2.0.0 does not upgrade a file in place), so the
// previous release can still open it.
func TestWarehouseOfDuckDB112(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fixture := filepath.Join("..", "..", "testdata", "warehouse-1.1.2")
	old := filepath.Join(dir, "old.duckdb")
	gunzip(t, filepath.Join(fixture, "w.duckdb.gz"), old)
	for _, db := range []string{old, filepath.Join(dir, "fresh.duckdb")} {
		copyKey(t, filepath.Join(fixture, "w.duckdb.key"), db+".key")
	}
	t.Setenv(ingest.KeyEnv, "")
	t.Setenv(ingest.KeyFileEnv, "")

	// the old file: its loads, in their order, then a refresh on this engine
	wh, err := warehouse.Open(ctx, old)
	if err != nil {
		t.Fatalf("open the DuckDB 1.1.2 warehouse: %v", err)
	}
	var files []string
	rows, err := wh.DB.QueryContext(ctx, `SELECT file_name FROM batches WHERE kind <> 'catalogue' ORDER BY batch_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	rows.Close()
	if len(files) != 25 { // testdata/demo's files
		t.Fatalf("the old warehouse holds %d files, want 25", len(files))
	}
	var storage string
	if err := wh.DB.QueryRowContext(ctx, `SELECT coalesce(tags['storage_version'], '') FROM duckdb_databases() WHERE database_name = 'old'`).Scan(&storage); err != nil {
		t.Fatal(err)
	}
	if storage != "v1.0.0+" {
		t.Errorf("the old warehouse's storage is %q, want it left at v1.0.0+ (readable by DuckDB 1.1.2)", storage)
	}
	// as DuckDB 1.1.2 computed them, but for the mean hours of the annual tables, which it
	// rounded half to even (a DOUBLE cast to DECIMAL); they are now worked in integers and
	// rounded half away from zero, as every other figure is
	means := map[string]bool{"avg_hours_online": true, "avg_hours_practice": true}
	built112 := analystTables(ctx, t, wh.DB, means)
	var physics112 string
	if err := wh.DB.QueryRowContext(ctx, `SELECT avg_hours_online::VARCHAR FROM annual_by_group WHERE group_by = 'subject' AND group_value = '物理'`).Scan(&physics112); err != nil {
		t.Fatal(err)
	}
	p, err := models.CurrentProfile(ctx, wh.DB)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := models.Refresh(ctx, wh, p)
	if err != nil {
		t.Fatalf("refresh of the DuckDB 1.1.2 warehouse: %v", err)
	}
	// the model SQL changed with the engine (by and at are reserved words in 2.0.0)
	if rep.Mode != "full" {
		t.Errorf("refresh was %s (%s), want a full rebuild after the engine change", rep.Mode, rep.Reason)
	}
	before := analystTables(ctx, t, wh.DB, nil)
	// 16 物理 teachers with 394.00 online hours: 24.625, 24.63 rounded half away from zero
	var physics string
	if err := wh.DB.QueryRowContext(ctx, `SELECT avg_hours_online::VARCHAR FROM annual_by_group WHERE group_by = 'subject' AND group_value = '物理'`).Scan(&physics); err != nil {
		t.Fatal(err)
	}
	if physics112 != "24.62" || physics != "24.63" {
		t.Errorf("物理's mean online hours: %s as DuckDB 1.1.2 rounded it, %s now; want 24.62 and 24.63", physics112, physics)
	}
	wh.Close()
	for _, table := range []string{"teacher_progress", "teacher_points", "teacher_category_hours", "school_gate_monthly", "raw_hours", "unmatched_rows"} {
		if len(before[table]) == 0 {
			t.Fatalf("%s: no rows in the old warehouse after the refresh", table)
		}
	}

	// a fresh build of the same exports, loaded in the same order
	fresh := filepath.Join(dir, "fresh.duckdb")
	wh, err = warehouse.Open(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ingest.LoadKey(context.Background(), nil, fresh)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ingest.NewLoader(ctx, wh, key, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile(`^研修考核_(\d+)_`)
	for _, f := range files {
		var o ingest.Options
		if m := code.FindStringSubmatch(f); m != nil {
			o.School = m[1]
		}
		if r := l.LoadFile(ctx, filepath.Join("..", "..", "testdata", "demo", f), o); r.Status != ingest.StatusLoaded {
			t.Fatalf("%s: %s %s", f, r.Status, r.Error)
		}
	}
	if _, err := models.Refresh(ctx, wh, p); err != nil {
		t.Fatal(err)
	}
	after := analystTables(ctx, t, wh.DB, nil)
	after112 := analystTables(ctx, t, wh.DB, means)
	wh.Close()

	cat, err := models.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range builtinTables(t) {
		cases := []struct {
			what string
			rows []string
			want []string
		}{{"refreshed on this engine", before[table], after[table]}}
		if _, model := cat.Model(table); !model {
			// the loaded rows read as 1.1.2 wrote them; a model's table as 1.1.2 built it
			// equals a fresh build only until a model is changed (swot_inputs was since)
			cases = append(cases, struct {
				what string
				rows []string
				want []string
			}{"as DuckDB 1.1.2 wrote it", built112[table], after112[table]})
		}
		for _, c := range cases {
			if a := c.want; strings.Join(c.rows, "\n") != strings.Join(a, "\n") {
				t.Errorf("%s %s: %d rows, a fresh build %d; first difference: %s", table, c.what, len(c.rows), len(a), firstDiff(c.rows, a))
			}
		}
	}
}

// analystTables reads every analyst table as sorted lines of text, without its TIMESTAMP
// columns (when a file was loaded, when the models were refreshed) and those in skip.
func analystTables(ctx context.Context, t *testing.T, db *sql.DB, skip map[string]bool) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range builtinTables(t) {
		rows, err := db.QueryContext(ctx, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = 'main' AND table_name = ? AND data_type NOT LIKE 'TIMESTAMP%' ORDER BY ordinal_position`, table)
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			if skip[c] {
				continue
			}
			cols = append(cols, `coalesce("`+c+`"::VARCHAR, '∅')`)
		}
		rows.Close()
		if len(cols) == 0 {
			t.Fatalf("%s: no columns", table)
		}
		q := `SELECT concat_ws('|', ` + strings.Join(cols, ", ") + `) FROM "` + table + `"`
		rows, err = db.QueryContext(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		var lines []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, s)
		}
		rows.Close()
		sort.Strings(lines)
		out[table] = lines
	}
	return out
}

func firstDiff(a, b []string) string {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("%q against %q", x, y)
		}
	}
	return ""
}

func gunzip(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// copyKey puts the test key beside a database, readable by its owner alone (git keeps no
// permissions, and a key file others may read is refused).
func copyKey(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// builtinTables are the built-in catalog's analyst tables.
func builtinTables(t testing.TB) []string {
	t.Helper()
	c, err := models.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return c.AnalystTables()
}
