package queries

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/xuri/excelize/v2"

	"tisheng/internal/testkit"
	"tisheng/internal/warehouse"
	"tisheng/models"
)

// demo builds the demo warehouse and reopens it the way the server's query side does:
// read-only, external access off, configuration locked.
func demo(t *testing.T) *warehouse.Warehouse {
	t.Helper()
	db := filepath.Join(t.TempDir(), "w.duckdb")
	wh, _ := testkit.Demo(t, "../testdata", db, warehouse.Options{})
	wh.Close()
	ro, err := warehouse.OpenReadOnly(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	return ro
}

func TestGuard(t *testing.T) {
	wh := demo(t)
	r, err := NewRunner(wh.DB)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAdHoc(r, analystTables(t))
	ctx := context.Background()
	refused := map[string]string{
		"SELECT * FROM meta":                        "不能读取「meta」",
		"SELECT * FROM schema_migrations":           "不能读取",
		"SELECT * FROM main.meta":                   "不能读取",
		"SELECT * FROM read_csv('/etc/passwd')":     "read_csv",
		"SELECT * FROM '/etc/passwd'":               "不能读取",
		"SELECT * FROM read_text('/etc/passwd')":    "read_text",
		"SELECT * FROM duckdb_settings()":           "duckdb_settings",
		"SELECT * FROM query('SELECT * FROM meta')": "query",
		"COPY raw_hours TO '/tmp/out.csv'":          "只允许只读查询",
		"ATTACH '/tmp/other.duckdb' AS o":           "只允许只读查询",
		"INSTALL httpfs":                            "只允许只读查询",
		"LOAD httpfs":                               "只允许只读查询",
		"SET threads = 1":                           "只允许只读查询",
		"PRAGMA database_list":                      "只允许只读查询",
		"DELETE FROM batches":                       "只允许只读查询",
		"CREATE TABLE x AS SELECT 1":                "只允许只读查询",
		"SELECT 1; DROP TABLE batches":              "只允许只读查询",
		"SELECT 1; SELECT 2":                        "2 条",
		"":                                          "查询为空",
		"SELECT * FROM teacher_progress, (WITH meta AS (SELECT 1) SELECT * FROM meta) x, meta": "不能读取「meta」",
	}
	for q, want := range refused {
		t.Run(q, func(t *testing.T) {
			_, err := a.Run(ctx, q)
			var ge *GuardError
			if !errors.As(err, &ge) || !strings.Contains(ge.Msg, want) {
				t.Fatalf("err = %v; want a refusal with %q", err, want)
			}
		})
	}
	for _, q := range []string{
		"SELECT count(*) FROM teacher_progress",
		"WITH x AS (SELECT * FROM school_gate) SELECT district, sum(shortfall) FROM x GROUP BY 1",
		"SELECT * FROM range(3)",
		"select name from TEACHER_PROGRESS limit 1",
	} {
		if _, err := a.Run(ctx, q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	// Even past the guard the database itself refuses file access.
	if _, err := wh.DB.ExecContext(ctx, "COPY (SELECT 1) TO '/tmp/tisheng-should-not-exist.csv'"); err == nil {
		t.Error("the locked database wrote a file")
	}
}

func TestRunawayQueryInterrupted(t *testing.T) {
	wh := demo(t)
	r, _ := NewRunner(wh.DB)
	a := NewAdHoc(r, analystTables(t))
	a.Timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := a.Run(context.Background(), "SELECT count(*) FROM range(100000000000) a, range(10) b")
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	// The database is usable right after.
	if _, err := a.Run(context.Background(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	t.Logf("interrupted after %v", time.Since(start))
}

func TestRowLimitAndWriters(t *testing.T) {
	wh := demo(t)
	r, _ := NewRunner(wh.DB)
	a := NewAdHoc(r, analystTables(t))
	a.RowLimit = 5
	ctx := context.Background()
	res, err := a.Run(ctx, "SELECT '=1+1' AS formula, 0.25::DOUBLE AS pass_rate, 12.5::DECIMAL(9,2) AS hours_total, DATE '2025-06-30' AS as_of, true AS gate_met FROM range(10)")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 5 || !res.Truncated {
		t.Fatalf("rows %d truncated %v", len(res.Rows), res.Truncated)
	}
	var csvBuf bytes.Buffer
	if err := WriteCSV(&csvBuf, res); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(csvBuf.String(), "\n")
	if !strings.HasPrefix(lines[0], "\ufeffformula,合格率,总学时,数据截止日期,达到95%门槛") || lines[1] != "'=1+1,25.0%,12.50,2025-06-30,是" {
		t.Fatalf("csv: %q / %q", lines[0], lines[1])
	}
	if !strings.Contains(csvBuf.String(), "已截断") {
		t.Fatal("csv does not say it was cut")
	}

	var xb bytes.Buffer
	if err := WriteXLSX(&xb, "查询结果", "", res); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&xb)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.GetCellValue("查询结果", "A2"); v != "=1+1" {
		t.Fatalf("A2 = %q", v)
	}
	if fm, _ := f.GetCellFormula("查询结果", "A2"); fm != "" {
		t.Fatalf("A2 became a formula %q", fm)
	}
	if ct, _ := f.GetCellType("查询结果", "C2"); ct == excelize.CellTypeSharedString || ct == excelize.CellTypeInlineString {
		t.Fatal("hours written as text")
	}
	if v, _ := f.GetCellValue("查询结果", "B2"); v != "25.0%" {
		t.Fatalf("pass_rate shows %q, want 25.0%%", v)
	}
	if v, _ := f.GetCellValue("查询结果", "D2"); v != "2025-06-30" {
		t.Fatalf("date shows %q", v)
	}
	if v, _ := f.GetCellValue("查询结果", "A1"); v != "formula" {
		t.Fatalf("header %q", v)
	}
	if p, _ := f.GetPanes("查询结果"); !p.Freeze || p.YSplit != 1 {
		t.Fatalf("panes %+v", p)
	}

	var ab bytes.Buffer
	cut, err := a.WriteArrow(ctx, &ab, "SELECT i, i * 2 AS j FROM range(20) t(i)")
	if err != nil || !cut {
		t.Fatalf("arrow: %v cut=%v", err, cut)
	}
	rd, err := ipc.NewReader(&ab)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(0)
	for rd.Next() {
		n += rd.Record().NumRows()
	}
	if n != 5 || rd.Schema().Field(1).Name != "j" {
		t.Fatalf("arrow rows %d schema %v", n, rd.Schema())
	}
}

func TestNamedQueriesBindParameters(t *testing.T) {
	wh := demo(t)
	r, _ := NewRunner(wh.DB)
	ctx := context.Background()
	p := Params{Month: "2025-06", District: "东湖区", School: "3601000001"}
	for _, name := range r.Catalog().Names() {
		if _, err := r.Named(ctx, name, p, 0); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	res, _ := r.Named(ctx, "schools", Params{Month: "2025-06"}, 0)
	all := len(res.Rows)
	res, _ = r.Named(ctx, "schools", p, 0)
	if len(res.Rows) == 0 || len(res.Rows) >= all {
		t.Fatalf("district filter: %d of %d", len(res.Rows), all)
	}
	res, _ = r.Named(ctx, "schools", Params{Month: "2025-06", District: "东湖区' OR '1'='1"}, 0)
	if len(res.Rows) != 0 {
		t.Fatal("a quote in a parameter changed the query")
	}
	if _, err := r.Named(ctx, "nope", p, 0); !errors.Is(err, ErrUnknownQuery) {
		t.Fatalf("err = %v", err)
	}
}

// analystTables are the built-in catalog's analyst tables.
func analystTables(t testing.TB) []string {
	t.Helper()
	c, err := models.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return c.AnalystTables()
}
