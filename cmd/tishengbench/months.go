package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"tisheng/internal/warehouse"
)

// benchMonths measures a long programme: a warehouse of c.months monthly snapshots (the
// city's May and June, June's files copied forward month by month), its models built by
// the binary itself; then, in turn, the incremental refresh after the next month's files
// against a full rebuild of a one-month warehouse, and the district database a district
// user's first request builds at c.months months.
//
// The copied months are written by this program (with its own engine, in the warehouse's
// storage format, which both binaries read) straight into the raw tables, as new batches:
// loading so many generated months through ingest would take most of an hour here, and the
// refresh reads the same rows either way.
func (c *config) benchMonths(ctx context.Context, city *cityFiles) ([]row, error) {
	long, pending, one := map[bool]string{}, map[bool]string{}, map[bool]string{}
	var setup []string
	for _, old := range []bool{true, false} {
		bin := c.newBin
		if old {
			bin = c.oldBin
		}
		l := c.label(old)
		long[old] = filepath.Join(c.dir, fmt.Sprintf("months%d-%s.duckdb", c.months, l))
		pending[old] = filepath.Join(c.dir, fmt.Sprintf("months%d-%s-next.duckdb", c.months, l))
		one[old] = filepath.Join(c.dir, "months1-"+l+".duckdb")
		if _, err := os.Stat(long[old] + ".ready"); err != nil {
			fmt.Fprintf(c.stdout, "building the %d-month warehouse of the %s binary …\n", c.months, l)
			if err := copyDB(city.base[old], long[old]); err != nil {
				return nil, err
			}
			if err := edit(ctx, long[old], func(wh *warehouse.Warehouse) error { return cloneMonths(ctx, wh, 1, c.months-2) }); err != nil {
				return nil, err
			}
			el, _, err := c.tisheng(ctx, bin, "refresh", "--db", long[old], "--full")
			if err != nil {
				return nil, err
			}
			setup = append(setup, fmt.Sprintf("full refresh at %d months, %s binary: %.1f s (one run)", c.months, l, el.Seconds()))
			if err := copyDB(long[old], pending[old]); err != nil {
				return nil, err
			}
			if err := edit(ctx, pending[old], func(wh *warehouse.Warehouse) error { return cloneMonths(ctx, wh, c.months-1, c.months-1) }); err != nil {
				return nil, err
			}
			if err := copyDB(city.base[old], one[old]); err != nil {
				return nil, err
			}
			if err := edit(ctx, one[old], func(wh *warehouse.Warehouse) error { return dropMonth(ctx, wh, "2025-05") }); err != nil {
				return nil, err
			}
			if err := os.WriteFile(long[old]+".ready", nil, 0o644); err != nil {
				return nil, err
			}
		}
	}
	for _, s := range setup {
		fmt.Fprintln(c.stdout, "  "+s)
	}
	fmt.Fprintf(c.stdout, "incremental refresh after month %d, and a one-month rebuild …\n", c.months+1)
	incOld, incNew, err := c.inTurn(c.runs, func(bin string, old bool) (float64, error) {
		db := filepath.Join(c.dir, "run-"+c.label(old)+".duckdb")
		if err := copyDB(pending[old], db); err != nil {
			return 0, err
		}
		el, out, err := c.tisheng(ctx, bin, "refresh", "--db", db)
		if err == nil && !strings.Contains(string(out), "增量刷新") {
			err = fmt.Errorf("the refresh was not incremental: %s", tail(string(out), 500))
		}
		return seconds(el), err
	})
	rows := []row{{name: fmt.Sprintf("incremental refresh, month %d's files (city)", c.months+1), unit: "s", target: "≤ 1.3x one month", old: incOld, new: incNew}}
	if err != nil {
		return rows, err
	}
	oneOld, oneNew, err := c.inTurn(c.runs, func(bin string, old bool) (float64, error) {
		db := filepath.Join(c.dir, "run-"+c.label(old)+".duckdb")
		if err := copyDB(one[old], db); err != nil {
			return 0, err
		}
		el, _, err := c.tisheng(ctx, bin, "refresh", "--db", db, "--full")
		return seconds(el), err
	})
	rows = append(rows, row{name: "full rebuild of a one-month warehouse (city)", unit: "s", old: oneOld, new: oneNew,
		note: fmt.Sprintf("incremental / one-month rebuild: old %.2fx, new %.2fx (target ≤ 1.3x)",
			median(incOld)/median(oneOld), median(incNew)/median(oneNew))})
	if err != nil {
		return rows, err
	}
	fmt.Fprintf(c.stdout, "district database at %d months (a district user's first request) …\n", c.months)
	client := &http.Client{}
	dbOld, dbNew, err := c.inTurn(c.runs, func(bin string, old bool) (float64, error) {
		db := filepath.Join(c.dir, "serve-"+c.label(old)+".duckdb")
		if err := copyDB(long[old], db); err != nil {
			return 0, err
		}
		s, err := c.serve(ctx, bin, db)
		if err != nil {
			return 0, err
		}
		defer s.stop()
		el, err := get(client, s.url+"/schools", city.distTok[old])
		return seconds(el), err
	})
	rows = append(rows, row{name: fmt.Sprintf("district database build at %d months (first /schools)", c.months), unit: "s", target: "≤ 5 s", old: dbOld, new: dbNew})
	return rows, err
}

// edit changes a closed warehouse with this program's engine and checkpoints it.
func edit(ctx context.Context, db string, f func(*warehouse.Warehouse) error) error {
	os.Setenv("TISHENG_ID_KEY", benchKey)
	wh, err := warehouse.Open(ctx, db)
	if err != nil {
		return err
	}
	err = f(wh)
	if err == nil {
		_, err = wh.DB.ExecContext(ctx, "CHECKPOINT")
	}
	if cerr := wh.Close(); err == nil {
		err = cerr
	}
	return err
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
