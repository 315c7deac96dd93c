package models

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// A model declared @partitioned is stored as one table per month
// (__m_<model>_<yyyy>_<mm>) behind a view of the model's name that unions them, so that a
// refresh writes a month it recomputes as a table of its own. Appending a month to a table
// that holds the programme's history costs DuckDB 1.1.2 two to three times as much as
// writing it fresh: an append of fewer than two row groups (245,760 rows) goes row by row
// into the table's last row group, and the checkpoint then compresses that row group and
// the new ones again on one thread, where a new table is compressed as it is written, on
// every core (measured on DuckDB 1.1.2 at 36 months: teacher_points' month, 142,496 rows,
// 1.22 s appended against 0.42 s as a table). On DuckDB 1.5.6 it still pays: 36 months of
// teacher_points' shape appended month by month (5.1M rows), one more month took 3.0-3.3 s
// appended, with its checkpoint, against 0.39-1.0 s as a table of its own (2.0.0 rewrote
// such a table at the checkpoint: 10 s). Readers pay for the view in planning (1.5.6:
// 13-40 ms for a view of 38 partitions against 0.3-4 ms for one table, on a busy machine;
// 1.1.2: 4-9 ms), so only models that pages do not read on every view are partitioned; the
// others are appended to.

// partTemplate is the month of each partitioned model's empty partition: it gives the view
// its columns when no month has rows.
const partTemplate = "0000-00"

var rePartMonth = regexp.MustCompile(`^\d{4}_\d{2}$`)

// partName is the table holding model's rows for month (YYYY-MM).
func partName(model, month string) string {
	return "__m_" + model + "_" + strings.Replace(month, "-", "_", 1)
}

// listParts reads the months whose partitions of each partitioned model exist, template
// excluded, in order.
func listParts(ctx context.Context, q querier, partitioned []string) (map[string][]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary AND starts_with(table_name, '__m_')`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		for _, m := range partitioned {
			rest, ok := strings.CutPrefix(n, "__m_"+m+"_")
			if !ok || !rePartMonth.MatchString(rest) {
				continue
			}
			if month := strings.Replace(rest, "_", "-", 1); month != partTemplate {
				out[m] = append(out[m], month)
			}
		}
	}
	for _, ms := range out {
		sort.Strings(ms)
	}
	return out, rows.Err()
}

// partWindow is window for a partitioned model: the union of the partitions a build reading
// span sp sees (the old ones where kept, the staged ones where rebuilt), with the template
// first for the columns.
func partWindow(s step, sp span) string {
	in := func(m string) bool {
		switch {
		case sp.only != "":
			return m == sp.only
		case sp.from != "":
			return m >= sp.from
		}
		return true
	}
	tmpl := partName(s.name, partTemplate)
	if s.how == whole {
		tmpl = stagePrefix + tmpl
	}
	parts := []string{"SELECT * FROM " + tmpl}
	if s.how != whole {
		for _, m := range s.old {
			if in(m) && (s.how == keep || m < s.from) {
				parts = append(parts, "SELECT * FROM "+partName(s.name, m))
			}
		}
	}
	if s.how != keep {
		for _, m := range s.parts {
			if in(m) {
				parts = append(parts, "SELECT * FROM "+stagePrefix+partName(s.name, m))
			}
		}
	}
	return strings.Join(parts, "\nUNION ALL ")
}

// buildParts builds a partitioned model month by month into staged partitions: every month
// of the staged months table from s.from on (every month when whole), each read through the
// windows of that month alone, as an incremental refresh builds a month (monthLocal models
// only: their month m reads month m of what they read). It returns the rows built.
func (r *run) buildParts(ctx context.Context, m *Model, refs []string, s *step) (int64, error) {
	conn := r.conn
	months := []string{partTemplate}
	rows, err := conn.QueryContext(ctx, "SELECT month FROM "+stagePrefix+"months WHERE month >= ? ORDER BY month", s.from)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var mo string
		if err := rows.Scan(&mo); err != nil {
			rows.Close()
			return 0, err
		}
		months = append(months, mo)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if s.how == delta {
		// the template is kept: the old one gives the columns
		months = months[1:]
	}
	var total int64
	for _, mo := range months {
		sp := span{only: mo}
		if err := r.openWindows(ctx, refs, sp); err != nil {
			return 0, err
		}
		win := set(refs)
		raw, err := r.rawWindows(ctx, m, sp)
		if err != nil {
			return 0, err
		}
		add(win, raw)
		q := m.stmt.rewrite(through(win))
		name := stagePrefix + partName(m.Name, mo)
		if _, err := conn.ExecContext(ctx, "CREATE TABLE "+name+" AS\n"+q); err != nil {
			return 0, fmt.Errorf("month %s: %w", mo, err)
		}
		var n, strays int64
		if err := conn.QueryRowContext(ctx, "SELECT count(*), count(*) FILTER (WHERE month IS DISTINCT FROM ?) FROM "+name, mo).Scan(&n, &strays); err != nil {
			return 0, err
		}
		if strays > 0 {
			// a month's build keeps that month's rows alone; a rule giving rows another
			// month would lose them, so it fails the refresh instead
			return 0, fmt.Errorf("month %s: %d rows of another month", mo, strays)
		}
		if mo == partTemplate {
			if n != 0 {
				return 0, fmt.Errorf("template partition holds %d rows", n)
			}
			continue
		}
		s.parts = append(s.parts, mo)
		total += n
	}
	return total, nil
}

// swapParts lists the statements that put a partitioned model's staged partitions in place
// (the view or table of its name already dropped when rebuilt whole): the old partitions
// it replaces dropped (every one when rebuilt whole, else from its first month on), the
// staged ones renamed, and the view recreated over the partitions kept and new.
func swapParts(s *step) []string {
	var stmts, keep []string
	switch s.how {
	case whole:
		for _, m := range append([]string{partTemplate}, s.old...) {
			stmts = append(stmts, "DROP TABLE IF EXISTS "+partName(s.name, m))
		}
		stmts = append(stmts, "ALTER TABLE "+stagePrefix+partName(s.name, partTemplate)+" RENAME TO "+partName(s.name, partTemplate))
	case delta:
		for _, m := range s.old {
			if m >= s.from {
				stmts = append(stmts, "DROP TABLE IF EXISTS "+partName(s.name, m))
			} else {
				keep = append(keep, m)
			}
		}
	}
	for _, m := range s.parts {
		stmts = append(stmts, "ALTER TABLE "+stagePrefix+partName(s.name, m)+" RENAME TO "+partName(s.name, m))
	}
	all := append(keep, s.parts...)
	sort.Strings(all)
	view := []string{"SELECT * FROM " + partName(s.name, partTemplate)}
	for _, m := range all {
		view = append(view, "SELECT * FROM "+partName(s.name, m))
	}
	return append(stmts, "CREATE OR REPLACE VIEW "+s.name+" AS\n"+strings.Join(view, "\nUNION ALL "))
}

// builtParts records a partitioned model's build.
func builtParts(m *Model, s *step, rows int64, t0 time.Time) Built {
	b := Built{Table: m.Name, Rows: rows, Millis: time.Since(t0).Milliseconds()}
	if s.how == delta {
		b.From = s.from
	}
	return b
}
