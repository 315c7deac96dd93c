package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"tisheng/internal/warehouse"
	"tisheng/models"
)

// benchMonths measures the refresh over a long programme at city scale: a full rebuild of a
// warehouse holding months monthly snapshots, the incremental refresh after the next month's
// files, and a full rebuild of a one-month warehouse, each in its own process for its peak
// RSS; then the pages at 2 and at months months.
//
// The long warehouse is the generated city (May and June 2025, loaded by tisheng ingest)
// with June's files copied forward month by month inside DuckDB (new batch ids, as-of dates
// moved to each month's end): loading 36 generated months through ingest would take most of
// an hour here, and the refresh sees the same rows either way.
func benchMonths(ctx context.Context, dir string, sc monthsScale, months int, pages bool, stdout, stderr io.Writer) error {
	if months < 4 {
		return fmt.Errorf("bench: at least 4 months (the 3-month warehouse is measured besides)")
	}
	base, err := benchWarehouse(ctx, dir, sc.name, sc.teachers, sc.districts, stdout)
	if err != nil {
		return err
	}
	long := filepath.Join(dir, fmt.Sprintf("%s-%dm.duckdb", sc.name, months))
	short := filepath.Join(dir, sc.name+"-1m.duckdb")
	three := filepath.Join(dir, sc.name+"-3m.duckdb")
	// the long warehouse is built once and copied for each run: the run adds a month to it
	pristine := filepath.Join(dir, fmt.Sprintf("%s-%dm-base.duckdb", sc.name, months))
	if _, err := os.Stat(pristine + ".ready"); err != nil {
		fmt.Fprintf(stdout, "\nbuilding the %d-month warehouse from the %s's (once, kept in %s) …\n", months, sc.name, dir)
		if err := copyWarehouse(base, pristine); err != nil {
			return err
		}
		wh, err := warehouse.Open(ctx, pristine)
		if err != nil {
			return err
		}
		err = cloneMonths(ctx, wh, 1, months-2)
		if err == nil {
			_, err = wh.DB.ExecContext(ctx, "CHECKPOINT")
		}
		wh.Close()
		if err == nil {
			err = os.WriteFile(pristine+".ready", nil, 0o644)
		}
		if err != nil {
			return err
		}
	}
	for _, w := range []struct {
		db, src string
		edit    func(*warehouse.Warehouse) error
	}{
		{long, pristine, func(wh *warehouse.Warehouse) error { return nil }},
		{three, base, func(wh *warehouse.Warehouse) error { return nil }},
		{short, base, func(wh *warehouse.Warehouse) error { return dropMonth(ctx, wh, "2025-05") }},
	} {
		if err := copyWarehouse(w.src, w.db); err != nil {
			return err
		}
		wh, err := warehouse.Open(ctx, w.db)
		if err != nil {
			return err
		}
		err = w.edit(wh)
		if err == nil {
			_, err = wh.DB.ExecContext(ctx, "CHECKPOINT")
		}
		wh.Close()
		if err != nil {
			return err
		}
	}
	run := func(name, step, db string) (result, error) {
		el, rss, out, err := benchChild(ctx, stderr, step, dir, db)
		if err != nil {
			return result{}, fmt.Errorf("%s: %w", name, err)
		}
		r := result{name: name, secs: el, rss: rss, hoursRows: countRows(ctx, db, "raw_hours"), monthCount: int(countRows(ctx, db, "months"))}
		if err := json.Unmarshal(out, &r.rep); err != nil {
			return r, fmt.Errorf("%s: %w", name, err)
		}
		return r, nil
	}
	var rs []result
	full, err := run(fmt.Sprintf("full rebuild, %d months", months), "refresh-full", long)
	if err != nil {
		return err
	}
	rs = append(rs, full)
	// pages at the long warehouse, before the next month arrives
	if pages {
		fmt.Fprintf(stdout, "\npages at %d months:\n", months)
		if err := benchServe(ctx, dir, long, stdout, stderr); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\npages at 2 months:\n")
		if _, _, _, err := benchChild(ctx, stderr, "refresh", dir, base); err != nil {
			return err
		}
		if err := benchServe(ctx, dir, base, stdout, stderr); err != nil {
			return err
		}
	}
	// Each measured refresh starts from a copy of its warehouse as it stood before the
	// refresh, and runs benchRepeats times, the incremental and the one-month rebuild in
	// turn, so that what else the machine does falls on both: the medians are compared.
	type pendingRun struct {
		db, pending, name, step string
	}
	var todo []pendingRun
	for _, w := range []struct {
		db   string
		k    int
		name string
	}{{three, 1, "incremental, 3rd month's files"}, {long, months - 1, fmt.Sprintf("incremental, month %d's files", months+1)}} {
		// the models as they stood before the month came
		if _, _, _, err := benchChild(ctx, stderr, "refresh", dir, w.db); err != nil {
			return err
		}
		wh, err := warehouse.Open(ctx, w.db)
		if err != nil {
			return err
		}
		err = cloneMonths(ctx, wh, w.k, w.k)
		if err == nil {
			_, err = wh.DB.ExecContext(ctx, "CHECKPOINT")
		}
		wh.Close()
		if err != nil {
			return err
		}
		todo = append(todo, pendingRun{w.db, w.db + ".pending", w.name, "refresh"})
	}
	todo = append(todo, pendingRun{short, short + ".pending", "full rebuild, 1 month", "refresh-full"})
	for _, t := range todo {
		if err := copyWarehouse(t.db, t.pending); err != nil {
			return err
		}
		defer os.Remove(t.pending)
	}
	runs := make([][]result, len(todo))
	for i := 0; i < sc.repeats; i++ {
		for j, t := range todo {
			if err := copyWarehouse(t.pending, t.db); err != nil {
				return err
			}
			r, err := run(t.name, t.step, t.db)
			if err != nil {
				return err
			}
			if t.step == "refresh" && r.rep.Mode != "incremental" {
				return fmt.Errorf("%s: the refresh was %s (%s), not incremental", t.name, r.rep.Mode, r.rep.Reason)
			}
			runs[j] = append(runs[j], r)
		}
	}
	for _, r := range runs[:2] {
		rs = append(rs, median(r))
	}
	// the rows the incremental refresh appended keep the month and school order
	if pages {
		fmt.Fprintf(stdout, "\npages at %d months, after the incremental refresh:\n", months+1)
		if err := benchServe(ctx, dir, long, stdout, stderr); err != nil {
			return err
		}
	}
	one := median(runs[2])
	rs = append(rs, one)
	fmt.Fprintf(stdout, "\nrefresh over many months at %s scale (%d teachers), each step its own process:\n", sc.name, sc.teachers)
	fmt.Fprintf(stdout, "(the three last: median of %d runs each, taken in turn; every run listed)\n", sc.repeats)
	fmt.Fprintf(stdout, "%-34s %7s %12s %9s %10s  %-16s %s\n", "refresh", "months", "hours rows", "seconds", "peak RSS", "recomputed", "runs")
	for _, r := range rs {
		what := "every month"
		if r.rep.Mode == "incremental" {
			what = "from " + r.rep.From
		}
		var runs []string
		for _, x := range r.runs {
			runs = append(runs, fmt.Sprintf("%.2f", x))
		}
		fmt.Fprintf(stdout, "%-34s %7d %12d %9.2f %8.0fMB  %-16s %s\n", r.name, r.monthCount, r.hoursRows, r.secs, r.rss, what, strings.Join(runs, " "))
	}
	inc := rs[2]
	fmt.Fprintf(stdout, "ratios:\n")
	fmt.Fprintf(stdout, "  incremental (%d months) / full rebuild of one month:  %.2fx time (target ≤ 1.5x), %.2fx peak RSS\n",
		inc.monthCount, inc.secs/one.secs, inc.rss/one.rss)
	fmt.Fprintf(stdout, "  incremental (%d months) / incremental (3 months):     %.2fx time, %.2fx peak RSS\n",
		inc.monthCount, inc.secs/rs[1].secs, inc.rss/rs[1].rss)
	fmt.Fprintf(stdout, "  full rebuild (%d months) / incremental (%d months):   %.1fx time\n", full.monthCount, inc.monthCount, full.secs/inc.secs)
	for _, r := range []result{inc, one} {
		var tests int64
		for _, c := range r.rep.Checked {
			tests += c.Millis
		}
		built := append([]models.Built(nil), r.rep.Built...)
		sort.Slice(built, func(i, j int) bool { return built[i].Millis > built[j].Millis })
		fmt.Fprintf(stdout, "  %s, slowest steps:", r.name)
		for _, b := range built[:min(6, len(built))] {
			fmt.Fprintf(stdout, " %s %d ms;", b.Table, b.Millis)
		}
		fmt.Fprintf(stdout, " data tests %d ms; %d models rebuilt of %d\n", tests, len(r.rep.Built)-1, len(one.rep.Built)-1)
	}
	if sc.name == "city" {
		fmt.Fprintf(stdout, "  (province scale: bench --scales province-months --province-months N; 36 months of a province, ~860M hours rows, do not fit this machine)\n")
	}
	return nil
}

// monthsScale is what bench --scales months (city) or province-months measures: the
// generated warehouse and how many times each compared refresh runs.
type monthsScale struct {
	name                string
	teachers, districts int
	repeats             int
}

// result is one measured refresh of bench --scales months.
type result struct {
	name       string
	secs, rss  float64
	rep        models.Report
	hoursRows  int64
	monthCount int
	runs       []float64 // seconds of each run, for a median
}

// median is the run with the median time, with the median peak RSS of the runs.
func median(rs []result) result {
	by := append([]result(nil), rs...)
	sort.Slice(by, func(i, j int) bool { return by[i].secs < by[j].secs })
	m := by[len(by)/2]
	rss := make([]float64, len(rs))
	m.runs = nil
	for i, r := range by {
		rss[i] = r.rss
		m.runs = append(m.runs, r.secs)
	}
	sort.Float64s(rss)
	m.rss = rss[len(rss)/2]
	return m
}

// copyWarehouse copies a closed warehouse file (and its key file) to dst.
func copyWarehouse(src, dst string) error {
	os.Remove(dst)
	os.Remove(dst + ".wal")
	if err := copyFile(src, dst); err != nil {
		return err
	}
	if _, err := os.Stat(src + ".key"); err == nil {
		return copyFile(src+".key", dst+".key")
	}
	return nil
}

// cloneMonths copies the files of the warehouse's latest month (June 2025) forward as the
// files of the months first..last after it: new batch ids and digests, as-of dates moved to
// each month's end, the same rows.
func cloneMonths(ctx context.Context, wh *warehouse.Warehouse, first, last int) error {
	for k := first; k <= last; k++ {
		stmts := []string{
			`CREATE OR REPLACE TEMP TABLE clone_map AS
			 SELECT batch_id AS old_id, nextval('batch_seq') AS new_id FROM batches
			 WHERE kind <> 'catalogue' AND as_of BETWEEN DATE '2025-06-01' AND DATE '2025-06-30' ORDER BY batch_id`,
			fmt.Sprintf(`INSERT INTO batches SELECT b.* REPLACE (m.new_id AS batch_id, b.sha256 || '+%[1]d' AS sha256,
			 b.file_name || ' +%[1]d' AS file_name, last_day(b.as_of + INTERVAL %[1]d MONTH) AS as_of)
			 FROM batches b JOIN clone_map m ON m.old_id = b.batch_id ORDER BY m.new_id`, k),
		}
		for _, t := range []string{"raw_schools", "raw_teachers", "raw_hours", "raw_progress", "raw_assessments"} {
			stmts = append(stmts, `INSERT INTO `+t+` SELECT r.* REPLACE (m.new_id AS batch_id)
			 FROM `+t+` r JOIN clone_map m ON m.old_id = r.batch_id ORDER BY m.new_id, r.row_no`)
		}
		for _, q := range stmts {
			if _, err := wh.DB.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("clone month %d: %w", k, err)
			}
		}
	}
	return nil
}

// dropMonth removes the files of month m, as `tisheng batch rm` would.
func dropMonth(ctx context.Context, wh *warehouse.Warehouse, m string) error {
	ids := `(SELECT batch_id FROM batches WHERE strftime(as_of, '%Y-%m') = '` + m + `')`
	for _, t := range []string{"raw_schools", "raw_teachers", "raw_hours", "raw_progress", "raw_assessments", "rejects", "batches"} {
		if _, err := wh.DB.ExecContext(ctx, "DELETE FROM "+t+" WHERE batch_id IN "+ids); err != nil {
			return fmt.Errorf("drop month %s: %w", m, err)
		}
	}
	return nil
}
