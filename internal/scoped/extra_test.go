package scoped

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tisheng/ingest"
	"tisheng/internal/testkit"
	"tisheng/internal/warehouse"
	"tisheng/models"
	"tisheng/queries"
)

// Adding a model is one SQL file and nothing in Go: a model from test data
// (testdata/extra_model) is refreshed (fully, then incrementally from the month that
// changed), cut to a district's database by its declared rule, documented in the schema
// and the SQL page's browser, and readable by ad-hoc SQL.
func TestAModelAddedIsRefreshedScopedAndDocumented(t *testing.T) {
	ctx := context.Background()
	cat, err := models.Load(models.Files(), os.DirFS(filepath.Join("..", "..", "testdata", "extra_model")))
	if err != nil {
		t.Fatal(err)
	}
	wh, l := testkit.Demo(t, "../../testdata", filepath.Join(t.TempDir(), "w.duckdb"), warehouse.Options{Locked: true})
	p, err := models.LoadProfile("national")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := cat.Refresh(ctx, wh, p)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mode != "full" || rep.Reason == "" {
		t.Errorf("a new model rebuilds everything once: %s %s", rep.Mode, rep.Reason)
	}
	// by hand: the demo's June rosters list 65, 58, 8, 55 and 13 teachers at its five schools
	const june = `SELECT string_agg(school_code || ':' || teachers, ' ' ORDER BY school_code) FROM school_headcount WHERE month = '2025-06'`
	if got := one(t, wh.DB, june); got != "3601000001:65 3602000002:58 3602000003:8 3603000004:55 3603000005:13" {
		t.Fatalf("June: %s", got)
	}

	// July's files: a refresh recomputes the new model from July only
	m := testkit.WriteMoves(t, "../../testdata", t.TempDir(), wh.DB)
	for _, r := range l.LoadFiles(ctx, m.Files, ingest.Options{}, nil) {
		if r.Status != ingest.StatusLoaded {
			t.Fatalf("%s: %s %s", r.File, r.Status, r.Error)
		}
	}
	if rep, err = cat.Refresh(ctx, wh, p); err != nil {
		t.Fatal(err)
	}
	from := ""
	for _, b := range rep.Built {
		if b.Table == "school_headcount" {
			from = b.From
		}
	}
	if rep.Mode != "incremental" || from != "2025-07" {
		t.Errorf("July's files: %s refresh, school_headcount rebuilt from %q", rep.Mode, from)
	}
	if got := one(t, wh.DB, `SELECT district FROM school_headcount WHERE month = '2025-07' AND school_code = ?`, m.School); got != m.SchoolTo {
		t.Errorf("the moved school in July: %s", got)
	}

	// scoped by its declared rule: 南城区's database holds its schools' months only
	d, err := Build(ctx, wh.DB, cat, Key{District: m.SchoolFrom}, "512MB")
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	if got := one(t, d.DB, `SELECT string_agg(DISTINCT district, ',') || '/' || count(*) FILTER (WHERE school_code = ?) FROM school_headcount`, m.School); got != m.SchoolFrom+"/2" {
		t.Errorf("%s's database: %s", m.SchoolFrom, got)
	}
	r, err := queries.NewRunner(d.DB)
	if err != nil {
		t.Fatal(err)
	}
	res, err := queries.NewAdHoc(r, cat.AnalystTables()).Run(ctx, `SELECT sum(teachers) FROM school_headcount WHERE month = '2025-06'`)
	if err != nil || len(res.Rows) != 1 {
		t.Fatalf("ad-hoc SQL on the new model: %v", err)
	}
	if _, err := queries.NewAdHoc(r, builtinTables(t)).Run(ctx, `SELECT * FROM school_headcount`); err == nil {
		t.Error("the built-in catalog's guard reads a table it does not declare")
	}

	// documented from its file: its note and label in the schema, its label in the browser
	doc, missing, err := cat.SchemaDoc(ctx, wh.DB)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("undocumented columns: %v", missing)
	}
	if !strings.Contains(doc, "## school_headcount\n\nEach school's roster teachers, month by month") || !strings.Contains(doc, "学校在册教师数（逐月）") {
		t.Error("the schema document lacks the new model")
	}
	tables, err := cat.Browse(ctx, wh.DB)
	if err != nil {
		t.Fatal(err)
	}
	if last := tables[len(tables)-1]; last.Name != "school_headcount" || last.Label != "学校在册教师数（逐月）" {
		t.Errorf("the browser's last table: %s %s", last.Name, last.Label)
	}
}

// builtinTables are the built-in catalog's analyst tables.
func builtinTables(t testing.TB) []string { return cat(t).AnalystTables() }
