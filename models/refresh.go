package models

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"tisheng/internal/warehouse"
)

// stagePrefix names the tables a refresh builds before it swaps them in.
const stagePrefix = "__next_"

// run is one refresh's state: the catalog, its connection and what it decided for each
// model so far.
type run struct {
	c     *Catalog
	conn  *sql.Conn
	steps map[string]*step
}

// refresh builds what must be rebuilt and runs the data tests; only if all pass does one
// transaction swap the new tables in for the old. Each model is built under a staging name
// in its own commit (measured at province scale on DuckDB 1.1.2: 10.9 s for
// teacher_progress_monthly alone against 21 s inside one long transaction, whose
// uncommitted state DuckDB must hold to the end), so readers never see a half-built state
// and a failing test changes nothing. A per-month model rebuilt from a month on is staged
// as those months only, and the swap replaces them in the old table: the rows stay stored
// by month.
func (c *Catalog) refresh(ctx context.Context, wh *warehouse.Warehouse, p Profile, full bool) (Report, error) {
	start := time.Now()
	rep := Report{Profile: p}
	var n int
	if err := wh.DB.QueryRowContext(ctx, `SELECT count(*) FROM abilities WHERE catalogue = ?`, p.Catalogue).Scan(&n); err != nil {
		return rep, fmt.Errorf("refresh: %w", err)
	}
	if n == 0 {
		return rep, fmt.Errorf("refresh: profile %s uses the catalogue %q, which is not loaded (tisheng ingest --kind catalogue --catalogue %s FILE)", p.Name, p.Catalogue, p.Catalogue)
	}
	conn, err := wh.DB.Conn(ctx)
	if err != nil {
		return rep, err
	}
	defer conn.Close()
	if err := dropStaged(ctx, conn); err != nil {
		return rep, fmt.Errorf("refresh: %w", err)
	}
	params, err := json.Marshal(p)
	if err != nil {
		return rep, fmt.Errorf("refresh: %w", err)
	}
	now, err := c.currentInputs(ctx, conn, string(params))
	if err != nil {
		return rep, fmt.Errorf("refresh: %w", err)
	}
	was, recorded, err := recordedInputs(ctx, conn)
	if err != nil {
		return rep, fmt.Errorf("refresh: %w", err)
	}
	missing, err := c.missingModels(ctx, conn)
	if err != nil {
		return rep, fmt.Errorf("refresh: %w", err)
	}
	switch {
	case full:
		rep.Reason = "指定全量刷新"
	case !recorded:
		rep.Reason = "尚无上次刷新的记录"
	case len(missing) > 0:
		rep.Reason = "缺少模型表 " + strings.Join(missing, ", ")
	default:
		rep.Reason = fullReason(was, now)
	}
	rep.Mode = "full"
	if rep.Reason == "" {
		rep.Mode = "incremental"
		if sameBatches(was, now) {
			rep.Mode = "unchanged"
			rep.Millis = time.Since(start).Milliseconds()
			return rep, nil
		}
	}
	incremental := rep.Mode == "incremental"

	r := &run{c: c, conn: conn, steps: map[string]*step{}}
	steps := r.steps
	var order []*step
	ok := false
	defer func() {
		_ = closeWindows(context.Background(), conn)
		if !ok {
			_ = dropStaged(context.Background(), conn)
		}
	}()
	stored, err := listParts(ctx, conn, c.partitionedModels())
	if err != nil {
		return rep, fmt.Errorf("refresh: %w", err)
	}
	if err := writeProfile(ctx, conn, p, stagePrefix); err != nil {
		return rep, fmt.Errorf("refresh: profile: %w", err)
	}
	for _, t := range c.profileTables() {
		if !contains(profileWritten(), t) {
			return rep, fmt.Errorf("refresh: %s is declared written by the refresh, which does not write it", t)
		}
		// the same parameters as recorded: the profile tables change nothing downstream
		s := &step{name: t, how: whole, out: since{changed: !incremental}}
		steps[t] = s
		order = append(order, s)
	}
	for i := range c.Models {
		m := &c.Models[i]
		t0 := time.Now()
		refs := r.windowed(m.Deps)
		s := &step{name: m.Name, decl: m.Decl, how: whole, out: since{changed: true}, old: stored[m.Name]}
		steps[m.Name] = s
		order = append(order, s)
		key, local := m.Months == MonthsKey, m.Months == MonthsLocal
		if incremental {
			var in since
			for _, ref := range refs {
				if d, _ := c.Table(ref); local && d.Months == MonthsText {
					// a text-keyed model read by key (checked when the catalog loads): its
					// rows for month m's texts change only with month m's effective files
					continue
				}
				in = earlier(in, changeIn(steps[ref], m.stmt.kindsRead(c.effective)))
			}
			if m.RecomputeFrom != "" {
				in = earlier(in, batchesFrom(was, now))
			}
			switch {
			case key && m.RecomputeFrom == "first-month" && in.changed && in.month != "":
				old, err := firstMonth(ctx, conn, s)
				if err != nil {
					return rep, fmt.Errorf("refresh: model %s: %w", m.Name, err)
				}
				if old != "" && in.month > old {
					same, err := r.probe(ctx, m, refs, old)
					if err != nil {
						return rep, fmt.Errorf("refresh: model %s: %w", m.Name, err)
					}
					if same {
						s.how, s.from = delta, in.month
					}
				}
			case key && m.RecomputeFrom == "as-of" && in.changed && in.month != "":
				old, err := firstMonth(ctx, conn, s)
				if err != nil {
					return rep, fmt.Errorf("refresh: model %s: %w", m.Name, err)
				}
				if old != "" && in.month > old {
					s.how, s.from = delta, in.month
				}
			case key:
				// rebuilt whole, then compared below
			case local && !in.changed:
				s.how, s.out = keep, since{}
			case local && in.month != "":
				s.out = in
				old, err := firstMonth(ctx, conn, s)
				if err != nil {
					return rep, fmt.Errorf("refresh: model %s: %w", m.Name, err)
				}
				if old != "" && in.month > old {
					s.how, s.from = delta, in.month
				}
			case !local && !in.changed && !c.readsLoaded(m):
				s.how, s.out = keep, since{}
			}
		}
		if s.how == keep {
			continue
		}
		if m.Partitioned {
			rows, err := r.buildParts(ctx, m, refs, s)
			if err != nil {
				return rep, fmt.Errorf("refresh: model %s: %w", m.Name, err)
			}
			rep.Built = append(rep.Built, builtParts(m, s, rows, t0))
			continue
		}
		sp := span{from: s.from}
		if incremental && m.Months == MonthsLatest && steps["months"] != nil {
			if err := conn.QueryRowContext(ctx, "SELECT coalesce(max(month), '') FROM "+stagePrefix+"months").Scan(&sp.only); err != nil {
				return rep, fmt.Errorf("refresh: model %s: %w", m.Name, err)
			}
		}
		if err := r.openWindows(ctx, refs, sp); err != nil {
			return rep, fmt.Errorf("refresh: model %s: %w", m.Name, err)
		}
		win := set(refs)
		if s.how == delta || sp.only != "" {
			raw, err := r.rawWindows(ctx, m, sp)
			if err != nil {
				return rep, fmt.Errorf("refresh: model %s: %w", m.Name, err)
			}
			add(win, raw)
		}
		if incremental && m.Months == MonthsText {
			texts, err := textWindows(ctx, conn, m, p.Catalogue, was, now)
			if err != nil {
				return rep, fmt.Errorf("refresh: model %s: %w", m.Name, err)
			}
			add(win, texts)
		}
		if sources := m.stmt.refSources(); incremental && m.Provides == "school-refs" && sources != nil {
			tables, err := refsWindows(ctx, conn, m.Name, sources, was, now)
			if err != nil {
				return rep, fmt.Errorf("refresh: model %s: %w", m.Name, err)
			}
			add(win, tables)
		}
		q := m.stmt.rewrite(through(win))
		// Staging names are always new: dropStaged cleared them above.
		staged := stagePrefix + m.Name
		create := "CREATE TABLE "
		if s.how == delta {
			// A delta reads its inputs from its first month on, so it holds only those
			// months. It is staged as a temporary table: the swap copies it into the model's
			// table, so it is written to the file once, not twice.
			create = "CREATE TEMP TABLE "
		}
		if _, err := conn.ExecContext(ctx, create+staged+" AS\n"+q); err != nil {
			return rep, fmt.Errorf("refresh: model %s: %w", m.Name, err)
		}
		if incremental && (key || m.Compared) {
			if err := firstDiff(ctx, conn, s, m.Provides == "effective-files"); err != nil {
				return rep, fmt.Errorf("refresh: model %s: %w", m.Name, err)
			}
		}
		var rows int64
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+staged).Scan(&rows); err != nil {
			return rep, fmt.Errorf("refresh: model %s: %w", m.Name, err)
		}
		b := Built{Table: m.Name, Rows: rows, Millis: time.Since(t0).Milliseconds()}
		if s.how == delta {
			b.From = s.from
		}
		rep.Built = append(rep.Built, b)
	}
	// the first month any per-month table changed: month-local tests check from there on
	testFrom := ""
	if incremental {
		var ch since
		for _, s := range order {
			if c.perMonth(s.name) {
				ch = earlier(ch, s.out)
			}
		}
		switch {
		case !ch.changed:
			testFrom = "9999-12" // no month changed: nothing per month to check
		case ch.month == "":
			if err := conn.QueryRowContext(ctx, "SELECT coalesce(min(month), '') FROM "+stagePrefix+"months").Scan(&rep.From); err != nil {
				return rep, fmt.Errorf("refresh: %w", err)
			}
		default:
			testFrom, rep.From = ch.month, ch.month
		}
	}
	var te TestError
	for _, t := range c.Tests {
		t0 := time.Now()
		refs := r.windowed(t.stmt.tables())
		tf := testFrom
		if !t.PerMonth {
			tf = ""
		}
		if err := r.openWindows(ctx, refs, span{from: tf}); err != nil {
			return rep, fmt.Errorf("refresh: data test %s: %w", t.Name, err)
		}
		f, err := runTest(ctx, conn, t.Name, t.stmt.rewrite(through(set(refs))))
		if err != nil {
			return rep, fmt.Errorf("refresh: data test %s: %w", t.Name, err)
		}
		run := Built{Table: t.Name, Millis: time.Since(t0).Milliseconds()}
		if f != nil {
			te.Failures = append(te.Failures, *f)
			run.Rows = int64(f.Count)
		}
		rep.Checked = append(rep.Checked, run)
	}
	rep.Tests = len(c.Tests)
	if len(te.Failures) > 0 {
		return rep, &te
	}
	if err := closeWindows(ctx, conn); err != nil {
		return rep, fmt.Errorf("refresh: %w", err)
	}
	t0 := time.Now()
	if err := swap(ctx, conn, order, func() error {
		return writeState(ctx, conn, now, rep.Mode, rep.From, rep.Reason)
	}); err != nil {
		return rep, fmt.Errorf("refresh: swap: %w", err)
	}
	ok = true
	rep.Built = append(rep.Built, Built{Table: "(swap in)", Millis: time.Since(t0).Milliseconds()})
	rep.Millis = time.Since(start).Milliseconds()
	return rep, nil
}

// windowed keeps, of the tables a query reads, those the refresh has a step for (the
// models and the profile tables): it reads them through window views.
func (r *run) windowed(tables []string) []string {
	var out []string
	for _, t := range tables {
		if r.steps[t] != nil {
			out = append(out, t)
		}
	}
	return out
}

// readsLoaded says whether a model reads a table that loading or removing a file writes.
func (c *Catalog) readsLoaded(m *Model) bool {
	for _, d := range m.Deps {
		if t, _ := c.Table(d); t.Months == MonthsLoad {
			return true
		}
	}
	return false
}

func set(xs []string) map[string]bool {
	m := map[string]bool{}
	add(m, xs)
	return m
}

func add(m map[string]bool, xs []string) {
	for _, x := range xs {
		m[x] = true
	}
}

// through points the reads of the tables in win at their window views.
func through(win map[string]bool) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if win[name] {
			return windowPrefix + name, true
		}
		return "", false
	}
}

// dropStaged removes staging objects, such as those a killed refresh left behind.
func dropStaged(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, `SELECT table_name, table_type FROM information_schema.tables
		WHERE table_catalog = current_database() AND table_schema = 'main' AND starts_with(table_name, ?)`, stagePrefix)
	if err != nil {
		return err
	}
	type obj struct{ name, typ string }
	var objs []obj
	for rows.Next() {
		var o obj
		if err := rows.Scan(&o.name, &o.typ); err != nil {
			rows.Close()
			return err
		}
		objs = append(objs, o)
	}
	rows.Close()
	// views first: they read the tables
	sort.Slice(objs, func(i, j int) bool { return objs[i].typ == "VIEW" && objs[j].typ != "VIEW" })
	for _, o := range objs {
		kind := "TABLE"
		if o.typ == "VIEW" {
			kind = "VIEW"
		}
		if _, err := conn.ExecContext(ctx, "DROP "+kind+" IF EXISTS "+o.name); err != nil {
			return err
		}
	}
	return nil
}

// swap puts every staged table in place in one transaction: a whole table replaces the
// old one; a per-month one replaces the old table's rows from its first month on. record
// runs inside the same transaction.
func swap(ctx context.Context, conn *sql.Conn, steps []*step, record func() error) error {
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	fail := func(err error) error {
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		return err
	}
	for _, s := range steps {
		if s.how == whole {
			if err := dropObject(ctx, conn, s.name); err != nil {
				return fail(err)
			}
		}
	}
	for _, s := range steps {
		var stmts []string
		switch {
		case s.how == keep:
		case s.decl.Partitioned:
			stmts = swapParts(s)
		case s.how == whole:
			stmts = []string{"ALTER TABLE " + stagePrefix + s.name + " RENAME TO " + s.name}
		case s.how == delta:
			stmts = []string{
				"DELETE FROM " + s.name + " WHERE month >= '" + s.from + "'",
				"INSERT INTO " + s.name + " SELECT * FROM " + stagePrefix + s.name,
				"DROP TABLE " + stagePrefix + s.name,
			}
		}
		for _, q := range stmts {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fail(err)
			}
		}
	}
	if err := record(); err != nil {
		return fail(err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fail(err)
	}
	return nil
}

// dropObject drops a table or view by name, whichever it is (a user may have made a view
// of that name in a copy of the warehouse).
func dropObject(ctx context.Context, conn *sql.Conn, name string) error {
	var typ string
	err := conn.QueryRowContext(ctx, `SELECT table_type FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = ?`, name).Scan(&typ)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	kind := "TABLE"
	if typ == "VIEW" {
		kind = "VIEW"
	}
	_, err = conn.ExecContext(ctx, "DROP "+kind+" "+name)
	return err
}

// runTest runs a data test's query (its reads pointed at the windows).
func runTest(ctx context.Context, conn *sql.Conn, name, q string) (*TestFailure, error) {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var f *TestFailure
	for rows.Next() {
		if f == nil {
			f = &TestFailure{Test: name}
		}
		f.Count++
		if len(f.Rows) >= 5 {
			continue
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		parts := make([]string, len(cols))
		for i, c := range cols {
			parts[i] = fmt.Sprintf("%s=%v", c, vals[i])
		}
		f.Rows = append(f.Rows, strings.Join(parts, " "))
	}
	return f, rows.Err()
}

// profileWritten are the tables writeProfile writes; sources/ declares each @written-by:
// refresh, which a refresh checks.
func profileWritten() []string {
	return []string{"profile", "profile_category_min", "profile_activity_cap"}
}

// writeProfile records the profile as three small tables the models read.
func writeProfile(ctx context.Context, conn *sql.Conn, p Profile, prefix string) error {
	params, err := json.Marshal(p)
	if err != nil {
		return err
	}
	var cap any
	if p.PracticeHoursCap != nil {
		cap = p.PracticeHoursCap.SQL()
	}
	stmts := []struct {
		q    string
		args []any
	}{
		{`CREATE OR REPLACE TABLE ` + prefix + `profile (
			name VARCHAR, label VARCHAR, catalogue VARCHAR,
			total_hours_min DECIMAL(9,2), online_hours_min DECIMAL(9,2), practice_hours_min DECIMAL(9,2),
			practice_hours_cap DECIMAL(9,2), abilities_min INTEGER, dimensions_min INTEGER,
			require_plan_and_summaries BOOLEAN, gate_percent INTEGER, gate_counts VARCHAR,
			params VARCHAR, refreshed_at TIMESTAMP)`, nil},
		{`INSERT INTO ` + prefix + `profile VALUES (?, ?, ?, ?::DECIMAL(9,2), ?::DECIMAL(9,2), ?::DECIMAL(9,2), ?::DECIMAL(9,2), ?, ?, ?, ?, ?, ?, current_timestamp::TIMESTAMP)`,
			[]any{p.Name, p.Label, p.Catalogue, p.TotalHoursMin.SQL(), p.OnlineHoursMin.SQL(), p.PracticeHoursMin.SQL(), cap,
				p.AbilitiesMin, p.DimensionsMin, p.RequirePlan, p.GatePercent, p.GateCounts, string(params)}},
		{`CREATE OR REPLACE TABLE ` + prefix + `profile_category_min (category VARCHAR, min_hours DECIMAL(9,2))`, nil},
		{`CREATE OR REPLACE TABLE ` + prefix + `profile_activity_cap (category VARCHAR, cap DECIMAL(9,2))`, nil},
	}
	for c, h := range p.CategoryHoursMin {
		stmts = append(stmts, struct {
			q    string
			args []any
		}{`INSERT INTO ` + prefix + `profile_category_min VALUES (?, ?::DECIMAL(9,2))`, []any{c, h.SQL()}})
	}
	for c, h := range p.ActivityHoursCap {
		stmts = append(stmts, struct {
			q    string
			args []any
		}{`INSERT INTO ` + prefix + `profile_activity_cap VALUES (?, ?::DECIMAL(9,2))`, []any{c, h.SQL()}})
	}
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s.q, s.args...); err != nil {
			return err
		}
	}
	return nil
}
