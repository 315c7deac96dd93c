package reports

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"tisheng/internal/testkit"
	"tisheng/internal/warehouse"
	"tisheng/queries"
)

// The school page cuts its two teacher tables from one scan; each must equal the named
// query its download runs, row for row and column for column, for every school and month.
func TestSchoolPageTeachersMatchTheirQueries(t *testing.T) {
	wh, _ := testkit.Demo(t, "../testdata", filepath.Join(t.TempDir(), "w.duckdb"), warehouse.Options{Locked: true})
	r, err := queries.NewRunner(wh.DB)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := New(r)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rows, err := wh.DB.Query(`SELECT month, school_code FROM school_gate_monthly ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	var ps []queries.Params
	for rows.Next() {
		var p queries.Params
		rows.Scan(&p.Month, &p.School)
		ps = append(ps, p)
	}
	rows.Close()
	if len(ps) < 4 {
		t.Fatal("too few schools")
	}
	for _, p := range ps {
		pg, err := rp.Build(ctx, "school", p)
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range pg.Tables {
			if tb.ID != "school_todo" && tb.ID != "school_teachers" {
				continue
			}
			want, err := r.Named(ctx, tb.ID, p, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tb.Result.Columns, want.Columns) || fmt.Sprint(tb.Result.Rows) != fmt.Sprint(want.Rows) {
				t.Errorf("%s %s %s: the page's table differs from the query\npage  %v\nquery %v", p.Month, p.School, tb.ID, tb.Result.Rows, want.Rows)
			}
		}
	}
}
