package ingest

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

var reProgressFile = regexp.MustCompile(`研修考核_(\d+)_`)

// TestGoldenDemo loads the committed generated set (testdata/demo: every export shape and
// quirk) and compares what landed with testdata/golden/demo_ingest.txt.
func TestGoldenDemo(t *testing.T) {
	f := newFixture(t)
	files, err := filepath.Glob("../testdata/demo/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no demo files: %v", err)
	}
	sort.Strings(files)
	var plain, progress []string
	for _, p := range files {
		if reProgressFile.MatchString(filepath.Base(p)) {
			progress = append(progress, p)
		} else {
			plain = append(plain, p)
		}
	}
	var out strings.Builder
	results := f.l.LoadFiles(f.ctx, plain, Options{}, nil)
	for _, p := range progress {
		school := reProgressFile.FindStringSubmatch(filepath.Base(p))[1]
		results = append(results, f.l.LoadFile(f.ctx, p, Options{School: school}))
	}
	rejected := 0
	for _, r := range results {
		if r.Status != StatusLoaded {
			t.Errorf("%s: %s %s", r.File, r.Status, r.Error)
		}
		rejected += r.Rejected
		fmt.Fprintf(&out, "%s\t%s\t%s\t%s/%s\t%s\taccepted=%d\trejected=%d\n", r.File, r.Kind, r.Shape, r.Format, r.Encoding, r.AsOf, r.Accepted, r.Rejected)
	}
	// Planted by the generator, counted by hand: a mistyped check digit in one June roster,
	// an unknown label and a negative hour in one June hours file, and a 总学时 off by one in
	// the June summary: 4 rows, each wrong in itself. The generator also plants rows whose
	// fault shows only against other files, so they load and refresh lists them in
	// unmatched_rows (checked in models' TestLoadOrderDoesNotMatter/demo/unmatched):
	// - one masked ID in each June 研修考核 file that fits no one on the roster (查无此人):
	//   those files accept 67, 59 and 56 rows rather than 66, 58 and 55;
	// - A99, in no catalogue, in each district's June assessments: those files accept one row
	//   more (212, 202, 209).
	if rejected != 1+2+1 {
		t.Errorf("rejected %d rows; the generator plants 4 rows wrong in themselves", rejected)
	}
	for _, table := range []string{"batches", "rejects", "abilities", "raw_schools", "raw_teachers", "raw_hours", "raw_progress", "raw_assessments"} {
		fmt.Fprintf(&out, "%s\t%s rows\n", table, f.one("SELECT count(*) FROM "+table))
	}
	for _, r := range f.rows(`SELECT b.file_name, r.row_no, r.column_name, r.reason, r.row_values FROM rejects r JOIN batches b USING (batch_id) ORDER BY b.file_name, r.row_no`) {
		fmt.Fprintln(&out, r)
	}
	fmt.Fprintf(&out, "hours by category\n")
	for _, r := range f.rows(`SELECT category, count(*), sum(hours)::VARCHAR FROM raw_hours GROUP BY ALL ORDER BY ALL`) {
		fmt.Fprintln(&out, r)
	}
	// The teacher who moved schools appears on two schools' rosters under one key (rosters
	// name schools by name or code: the name is resolved at refresh).
	if n := f.one(`SELECT count(*) FROM (SELECT teacher_key FROM raw_teachers GROUP BY 1 HAVING count(DISTINCT coalesce(school_code, school_name)) > 1)`); n != "1" {
		t.Errorf("teachers on two schools' rosters: %s, want 1", n)
	}
	golden(t, "demo_ingest.txt", out.String())
	noPersonalData(t, f)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("..", "testdata", "golden", name)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -tags duckdb_arrow ./ingest -run Golden -update)", err)
	}
	if string(want) != got {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s", name, i+1, g, w)
			}
		}
	}
}

// noPersonalData looks through every text column of every table for a whole ID number or a
// mobile number: neither may be stored anywhere.
func noPersonalData(t *testing.T, f *fixture) {
	t.Helper()
	cols := f.rows(`SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = 'main' AND data_type = 'VARCHAR' AND column_name NOT IN ('teacher_key', 'sha256')`)
	if len(cols) < 20 {
		t.Fatalf("only %d text columns found", len(cols))
	}
	for _, tc := range cols {
		table, col, _ := strings.Cut(tc, "|")
		q := fmt.Sprintf(`SELECT count(*) FROM %s WHERE regexp_matches(%s, '\d{17}[\dXx]|(^|\D)1[3-9]\d{9}(\D|$)')`, table, col)
		if n := f.one(q); n != "0" {
			t.Errorf("%s.%s holds %s values that look like an ID or phone number", table, col, n)
		}
	}
}
