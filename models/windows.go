package models

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
)

// span is which months of the per-month tables a build reads: all of them, from a month
// on, or only one (the latest).
type span struct{ from, only string }

// window is the SQL for table s as a build reading span sp sees it: the old rows where the
// table is kept, the staged rows where it was rebuilt whole, and for a per-month rebuild the
// old rows before its first rebuilt month and the staged rows after.
func window(s step, sp span) string {
	if s.decl.Months != MonthsKey && s.decl.Months != MonthsLocal {
		sp = span{}
	}
	if s.decl.Partitioned {
		return partWindow(s, sp)
	}
	where := func(conds ...string) string {
		var cs []string
		for _, c := range conds {
			if c != "" {
				cs = append(cs, c)
			}
		}
		if len(cs) == 0 {
			return ""
		}
		return " WHERE " + strings.Join(cs, " AND ")
	}
	month := ""
	switch {
	case sp.only != "":
		month = "month = '" + sp.only + "'"
	case sp.from != "":
		month = "month >= '" + sp.from + "'"
	}
	switch s.how {
	case keep:
		return "SELECT * FROM " + s.name + where(month)
	case whole:
		return "SELECT * FROM " + stagePrefix + s.name + where(month)
	}
	staged := "SELECT * FROM " + stagePrefix + s.name + where(month)
	old := "SELECT * FROM " + s.name + where(month, "month < '"+s.from+"'")
	switch {
	case sp.only != "" && sp.only >= s.from, sp.only == "" && sp.from != "" && sp.from >= s.from:
		return staged
	case sp.only != "":
		return old
	}
	return old + "\nUNION ALL " + staged
}

// windowPrefix names the temporary views a model's references are pointed at while it builds.
const windowPrefix = "__win_"

// openWindows points the window views of refs at the tables as a build reading span sp sees them.
func (r *run) openWindows(ctx context.Context, refs []string, sp span) error {
	for _, ref := range refs {
		if _, err := r.conn.ExecContext(ctx, "CREATE OR REPLACE TEMP VIEW "+windowPrefix+ref+" AS "+window(*r.steps[ref], sp)); err != nil {
			return err
		}
	}
	return nil
}

// closeWindows drops every window view of the connection.
func closeWindows(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, `SELECT view_name FROM duckdb_views() WHERE temporary AND starts_with(view_name, ?)`, windowPrefix)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		if _, err := conn.ExecContext(ctx, "DROP VIEW IF EXISTS temp."+n); err != nil {
			return err
		}
	}
	return nil
}

// firstDiff sets what changed in the staged table of a per-month model: from the first
// month in which it differs from the old one (from its first rebuilt month, for a per-month
// rebuild), row for row (NULL equal to NULL, duplicates counted); for the effective files
// (byKind) also for each export kind.
func firstDiff(ctx context.Context, conn *sql.Conn, s *step, byKind bool) error {
	group, kind := "", "''"
	if byKind {
		group, kind = " GROUP BY kind", "kind"
	}
	old := "SELECT * FROM " + s.name
	if s.how == delta {
		old += " WHERE month >= '" + s.from + "'"
	}
	q := fmt.Sprintf(`SELECT %[3]s, min(month) FROM (
		(%[5]s EXCEPT ALL SELECT * FROM %[2]s%[1]s)
		UNION ALL
		(SELECT * FROM %[2]s%[1]s EXCEPT ALL %[5]s))%[4]s`, s.name, stagePrefix, kind, group, old)
	if s.how == delta {
		// months the old table does not hold yet (the usual case: the next month's files)
		// differ wherever the staged table has rows; the comparison would say the same
		var n int
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM ("+old+")").Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			q = fmt.Sprintf(`SELECT %[3]s, min(month) FROM %[2]s%[1]s%[4]s`, s.name, stagePrefix, kind, group)
		}
	}
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	s.out = since{}
	if group != "" {
		s.byKind = map[string]since{}
	}
	for rows.Next() {
		var k, m sql.NullString
		if err := rows.Scan(&k, &m); err != nil {
			return err
		}
		if !m.Valid {
			continue
		}
		s.out = earlier(s.out, from(m.String))
		if s.byKind != nil {
			s.byKind[k.String] = from(m.String)
		}
	}
	return rows.Err()
}

// firstMonth is the earliest month the table of step s holds ("" if empty); a partitioned
// model's partitions say, without reading the view.
func firstMonth(ctx context.Context, conn *sql.Conn, s *step) (string, error) {
	if s.decl.Partitioned {
		if len(s.old) == 0 {
			return "", nil
		}
		return s.old[0], nil
	}
	var m sql.NullString
	err := conn.QueryRowContext(ctx, "SELECT min(month) FROM "+s.name).Scan(&m)
	return m.String, err
}

// refSource is one raw table the refs model reads, and the kind it gives its rows.
type refSource struct{ kind, table string }

// refsWindows points the school-refs model's raw tables at the references of the batches
// kept (its old rows for the latest month, of batches still loaded) and at the raw rows of
// the batches loaded since, read by batch id ranges (raw rows are stored in load order, so
// DuckDB skips the older row groups). It returns the tables it pointed at windows.
func refsWindows(ctx context.Context, conn *sql.Conn, refsModel string, sources []refSource, was, now inputs) ([]string, error) {
	added := addedBatches(was, now)
	var tables []string
	for _, src := range sources {
		view := `SELECT batch_id, given_code AS school_code, given_name AS school_name FROM ` + refsModel +
			` WHERE month = (SELECT max(month) FROM ` + refsModel + `) AND kind = '` + src.kind + `'` +
			` AND batch_id IN (SELECT batch_id FROM batches)`
		if len(added) > 0 {
			view += "\nUNION ALL " + batchScan(src.table, "batch_id, school_code, school_name", added, true)
		}
		if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP VIEW "+windowPrefix+src.table+" AS "+view); err != nil {
			return nil, err
		}
		tables = append(tables, src.table)
	}
	return tables, nil
}

// addedBatches lists, in order, the batches loaded since the last refresh.
func addedBatches(was, now inputs) []int64 {
	var added []int64
	for id := range now.batches {
		if _, ok := was.batches[id]; !ok {
			added = append(added, id)
		}
	}
	sort.Slice(added, func(i, j int) bool { return added[i] < added[j] })
	return added
}

// batchScan is a scan of table's cols keeping the rows of the sorted batch ids: one scan per
// id range, which DuckDB checks against each row group's bounds (raw rows are stored in load
// order, so the other files' row groups are skipped), with exact also the ids themselves (a
// range may take in ids not asked for). An OR of the ranges in one scan reads every row
// group (25M rows in load order, 8 ranges of 1,470 batches, DuckDB 1.5.6: 3-8 ms for the
// union against 360-854 ms for the OR and 14-48 ms for batch_id IN (…); 1.1.2: 3-4, 140-185
// and 49-51 ms; 2.0.0 prunes the OR too, 10-12 ms, and the union still halves that).
func batchScan(table, cols string, ids []int64, exact bool) string {
	in := ""
	if exact {
		list := make([]string, len(ids))
		for i, id := range ids {
			list[i] = fmt.Sprint(id)
		}
		in = " AND batch_id IN (" + strings.Join(list, ",") + ")"
	}
	var parts []string
	for _, r := range idRanges(ids, 16) {
		parts = append(parts, fmt.Sprintf("SELECT %s FROM %s WHERE batch_id BETWEEN %d AND %d%s", cols, table, r[0], r[1], in))
	}
	if len(parts) == 0 {
		return "SELECT " + cols + " FROM " + table + " WHERE false"
	}
	return strings.Join(parts, "\nUNION ALL ")
}

// textWindows points the raw tables a text-keyed model reads (as SELECT DISTINCT key, see
// incremental.go) at its old keys and at the raw rows of the batches loaded since, when none was
// removed: each row is worked from its key alone, so the keys kept keep their rows and only
// the texts the new files bring are worked out; the raw rows of the files kept are not read.
// The old keys come with the profile's catalogue in column catalogue, the one column besides
// the key a text-keyed model may filter raw rows on (the profile is unchanged, or the refresh
// would be full). It returns the tables it pointed at windows: none when a batch was
// removed, since its texts may have gone, which only reading every raw row shows.
func textWindows(ctx context.Context, conn *sql.Conn, m *Model, catalogue string, was, now inputs) ([]string, error) {
	key := m.TextKey
	for id := range was.batches {
		if _, ok := now.batches[id]; !ok {
			return nil, nil
		}
	}
	added := addedBatches(was, now)
	var names []string
	for _, t := range m.stmt.rawTables() {
		view := "SELECT " + key + ", '" + strings.ReplaceAll(catalogue, "'", "''") + "' AS catalogue FROM " + m.Name
		if len(added) > 0 {
			view += "\nUNION ALL " + batchScan(t, key+", catalogue", added, true)
		}
		if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP VIEW "+windowPrefix+t+" AS "+view); err != nil {
			return nil, err
		}
		names = append(names, t)
	}
	return names, nil
}

// rawWindows points the raw tables of a per-month rebuild from sp at the rows of the files
// effective in those months alone (and of the files whose school references are unresolved
// in them, for a model reading those), read by batch id ranges: raw rows are stored in load
// order, so DuckDB skips the row groups of every other file (a join alone would read every
// raw row of the programme). It returns the tables it pointed at windows: none if the
// model's raw reads do not all go through the effective files or unresolved references.
func (r *run) rawWindows(ctx context.Context, m *Model, sp span) ([]string, error) {
	c, conn, steps := r.c, r.conn, r.steps
	tables, via, ok := m.stmt.rawReads(c.effective, c.refs)
	if !ok || len(tables) == 0 || steps[c.effective] == nil {
		return nil, nil
	}
	var parts []string
	if via&viaEffective != 0 {
		parts = append(parts, "SELECT batch_id FROM ("+window(*steps[c.effective], sp)+")")
	}
	if via&viaUnresolved != 0 {
		if c.refs == "" || steps[c.refs] == nil {
			return nil, nil
		}
		parts = append(parts, "SELECT batch_id FROM ("+window(*steps[c.refs], sp)+") WHERE school_code IS NULL")
	}
	rows, err := conn.QueryContext(ctx, "SELECT DISTINCT batch_id FROM ("+strings.Join(parts, " UNION ALL ")+") ORDER BY 1")
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, t := range tables {
		// the join to the effective files drops the rows of ids a range takes in
		if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP VIEW "+windowPrefix+t+" AS "+batchScan(t, "*", ids, false)); err != nil {
			return nil, err
		}
	}
	return tables, nil
}

// idRanges covers sorted ids with at most max ranges, closing the smallest gaps first (a
// range may take in ids not asked for: the join to effective_batches drops their rows).
func idRanges(ids []int64, max int) [][2]int64 {
	var rs [][2]int64
	for _, id := range ids {
		if n := len(rs); n > 0 && id <= rs[n-1][1]+1 {
			rs[n-1][1] = id
			continue
		}
		rs = append(rs, [2]int64{id, id})
	}
	for len(rs) > max {
		best := 1
		for i := 2; i < len(rs); i++ {
			if rs[i][0]-rs[i-1][1] < rs[best][0]-rs[best-1][1] {
				best = i
			}
		}
		rs[best-1][1] = rs[best][1]
		rs = append(rs[:best], rs[best+1:]...)
	}
	return rs
}

// probe recomputes model m for month alone and says whether it came out as the old rows of
// that month.
func (r *run) probe(ctx context.Context, m *Model, refs []string, month string) (bool, error) {
	if err := r.openWindows(ctx, refs, span{only: month}); err != nil {
		return false, err
	}
	var n int
	q := m.stmt.rewrite(through(set(refs)))
	q = "SELECT count(*) FROM ((SELECT * FROM (" + q + "\n) EXCEPT ALL SELECT * FROM " + m.Name + " WHERE month = '" + month + "')" +
		" UNION ALL (SELECT * FROM " + m.Name + " WHERE month = '" + month + "' EXCEPT ALL SELECT * FROM (" + q + "\n)))"
	if err := r.conn.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return false, err
	}
	return n == 0, nil
}
