// Package scoped builds, for a district or a school, a database of its own that holds only
// that scope's rows of the analyst tables: a separate in-memory DuckDB, locked like the
// serving one, that the scope's pages, workbooks and ad-hoc SQL run against. Whatever SQL
// reaches it, a district user's query cannot return another district's row, because no
// such row is in the database it runs on: the scope is enforced by what is copied, not by
// rewriting anyone's SQL.
//
// Every analyst table has a rule (tableRules). A table without one is an error, so a new
// model cannot slip into a scope unfiltered: the build fails closed.
package scoped

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/duckdb/duckdb-go/v2"

	"tisheng/internal/auth"
	"tisheng/models"
)

// rule says how a table's rows are cut to a scope.
type rule int

const (
	byDistrict  rule = iota + 1 // a district column (school scope: its school_code)
	bySchool                    // a school_code column: the scope's schools
	byTeacher                   // teacher_key of the scope's roster (tables without school)
	byScopeCode                 // scope/scope_code rows (coverage, choices, monthly)
	recompute                   // aggregates: the model's own SQL, rerun over the scope's rows
	global                      // reference data with no one's rows: months, profile, catalogues
	byBatch                     // batches holding rows of the scope's schools
	byReject                    // rejected rows naming one of the scope's schools
	byGroup                     // annual_by_group (school scope): the school's own row
	byRawSchool                 // raw rows: their school code, or the name they give for it
)

// tableRules covers every analyst table (models.AnalystTables); the test checks that.
var tableRules = map[string]rule{
	"teacher_progress": byDistrict, "school_gate": byDistrict, "teacher_progress_monthly": byDistrict,
	"school_gate_monthly": byDistrict, "roster": byDistrict, "school_info": byDistrict,
	"swot_inputs": byDistrict, "swot_gaps": byDistrict, "raw_schools": byDistrict,

	"unmatched_rows": bySchool, "teacher_points": bySchool, "teacher_plan": bySchool,
	"effective_batches": bySchool, "school_refs": bySchool, "masked_ids": bySchool,
	"raw_teachers": byRawSchool, "raw_hours": byRawSchool, "raw_progress": byRawSchool, "raw_assessments": byRawSchool,

	"teacher_category_hours": byTeacher,

	"district_summary": recompute, "coverage": recompute, "ability_choices": recompute,
	"monthly_progress": recompute, "annual_summary": recompute, "annual_by_group": recompute,
	"data_quality": recompute,

	"months": global, "profile": global, "profile_category_min": global, "profile_activity_cap": global,
	"profile_catalogue": global, "abilities": global,
	// the ability point texts files give and the catalogue point each names: no one's rows
	"ability_refs": global,

	"batches": byBatch,
	"rejects": byReject,
}

// schoolScopeRules: a school sees no district-wide aggregate computed from other schools
// (the district average in swot_inputs is the one comparison it is shown, on its own rows).
var schoolScopeRules = map[string]rule{
	"district_summary": byDistrict, // empty: a district's figures are other schools' too
	"coverage":         byScopeCode,
	"ability_choices":  byScopeCode,
	"monthly_progress": byScopeCode,
	"annual_summary":   byDistrict, // empty, as district_summary
	"annual_by_group":  byGroup,
}

// Key identifies a scope's database: a district, or a school.
type Key struct {
	District string
	School   string
}

// KeyOf is the database a scope reads; the zero Key (everything) has none.
func KeyOf(s auth.Scope) Key {
	if s.School != "" {
		return Key{School: s.School}
	}
	return Key{District: s.District}
}

func (k Key) String() string {
	if k.School != "" {
		return "学校 " + k.School
	}
	return "区县 " + k.District
}

// DB is one scope's database.
type DB struct {
	Key     Key
	DB      *sql.DB
	Schools []string // the scope's school codes
	Value   any      // what the caller built on it (its reports), once

	conn *duckdb.Connector
	refs int
	dead bool
}

// Close closes a database made by Build (a Set closes its own).
func (d *DB) Close() { d.close() }

func (d *DB) close() {
	d.DB.Close()
	d.conn.Close()
}

// Options bound the databases.
type Options struct {
	Max         int    // databases kept at once (least recently used goes first)
	MemoryLimit string // per database, e.g. "1GB"
}

// Set keeps the scopes' databases built since the last refresh.
type Set struct {
	src   *sql.DB
	opts  Options
	log   *slog.Logger
	setup func(*sql.DB) (any, error)

	mu       sync.Mutex
	gen      int
	dbs      map[Key]*DB
	used     map[Key]time.Time
	building map[Key]*call
}

type call struct {
	done chan struct{}
	db   *DB
	err  error
}

// NewSet builds scope databases from src on demand; setup runs once on each new one (the
// server builds that scope's reports there).
func NewSet(src *sql.DB, o Options, log *slog.Logger, setup func(*sql.DB) (any, error)) *Set {
	if o.Max <= 0 {
		o.Max = 8
	}
	if o.MemoryLimit == "" {
		o.MemoryLimit = "1GB"
	}
	return &Set{src: src, opts: o, log: log, setup: setup, dbs: map[Key]*DB{}, used: map[Key]time.Time{}, building: map[Key]*call{}}
}

// ErrNoScope is a request without a scope to cut to: it gets nothing.
var ErrNoScope = errors.New("scoped: no scope")

// Get returns the scope's database, building it if needed; release it when done.
func (s *Set) Get(ctx context.Context, k Key) (*DB, func(), error) {
	if k.District == "" && k.School == "" {
		return nil, nil, ErrNoScope
	}
	for {
		s.mu.Lock()
		if d, ok := s.dbs[k]; ok {
			d.refs++
			s.used[k] = time.Now()
			s.mu.Unlock()
			return d, s.releaser(d), nil
		}
		c, ok := s.building[k]
		if !ok {
			c = &call{done: make(chan struct{})}
			s.building[k] = c
			go s.build(k, s.gen, c)
		}
		s.mu.Unlock()
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		if c.err != nil {
			return nil, nil, c.err
		}
		s.mu.Lock()
		d := c.db
		if !d.dead {
			d.refs++
			s.used[k] = time.Now()
			s.mu.Unlock()
			return d, s.releaser(d), nil
		}
		s.mu.Unlock() // invalidated while it was built: build afresh
	}
}

func (s *Set) releaser(d *DB) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			d.refs--
			if d.dead && d.refs == 0 {
				d.close()
			}
		})
	}
}

// build runs detached from any one request, so that a client going away does not waste
// the work for the next.
func (s *Set) build(k Key, gen int, c *call) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	d, err := Build(ctx, s.src, k, s.opts.MemoryLimit)
	if err == nil && s.setup != nil {
		d.Value, err = s.setup(d.DB)
		if err != nil {
			d.close()
			d = nil
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.building, k)
	c.db, c.err = d, err
	if err == nil {
		if gen != s.gen {
			d.dead = true // a refresh happened meanwhile: the waiters build afresh
			d.close()
		} else {
			s.dbs[k] = d
			s.used[k] = time.Now()
			s.evict()
		}
		s.log.Info("scope database built", "scope", k.String(), "ms", time.Since(start).Milliseconds())
	} else {
		s.log.Error("scope database failed", "scope", k.String(), "err", err)
	}
	close(c.done)
}

// evict drops the least recently used databases beyond the maximum.
func (s *Set) evict() {
	for len(s.dbs) > s.opts.Max {
		var oldest Key
		var t time.Time
		first := true
		for k := range s.dbs {
			if first || s.used[k].Before(t) {
				oldest, t, first = k, s.used[k], false
			}
		}
		s.drop(oldest)
	}
}

func (s *Set) drop(k Key) {
	d := s.dbs[k]
	delete(s.dbs, k)
	delete(s.used, k)
	d.dead = true
	if d.refs == 0 {
		d.close()
	}
}

// Invalidate drops every scope database: the models changed. The scopes that were in use
// are rebuilt at once in the background, so that their users do not wait on their next
// page (a district's database takes seconds to build at city scale).
func (s *Set) Invalidate() { s.invalidate(true) }

// Close closes every database.
func (s *Set) Close() { s.invalidate(false) }

func (s *Set) invalidate(rebuild bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	var warm []Key
	for k := range s.dbs {
		warm = append(warm, k)
	}
	// most recently used first: their users are the likeliest to come back soon
	sort.Slice(warm, func(i, j int) bool { return s.used[warm[i]].After(s.used[warm[j]]) })
	for _, k := range warm {
		s.drop(k)
	}
	if rebuild && len(warm) > 0 {
		go s.warm(s.gen, warm)
	}
}

// warm rebuilds the databases a refresh dropped, one at a time: a build takes every core,
// so building them all at once only makes each user wait for all of them (at 36 months,
// eight districts at once kept each waiting for about the sum). A request for one not
// started yet builds it at once; a newer refresh ends the warming.
func (s *Set) warm(gen int, keys []Key) {
	for _, k := range keys {
		s.mu.Lock()
		if s.gen != gen {
			s.mu.Unlock()
			return
		}
		if _, ok := s.dbs[k]; ok {
			s.mu.Unlock()
			continue
		}
		c, ok := s.building[k]
		if !ok {
			c = &call{done: make(chan struct{})}
			s.building[k] = c
			go s.build(k, gen, c)
		}
		s.mu.Unlock()
		<-c.done
	}
}

// Build makes the scope's database from src.
func Build(ctx context.Context, src *sql.DB, k Key, memoryLimit string) (*DB, error) {
	schools, err := scopeSchools(ctx, src, k)
	if err != nil {
		return nil, err
	}
	dsn := "?threads=1&enable_external_access=false&lock_configuration=true"
	if memoryLimit != "" && memoryLimit != "none" {
		dsn += "&memory_limit=" + memoryLimit
	}
	conn, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return nil, fmt.Errorf("scoped: %w", err)
	}
	d := &DB{Key: k, DB: sql.OpenDB(conn), conn: conn, Schools: schools}
	d.DB.SetMaxIdleConns(8)
	if err := fill(ctx, src, d); err != nil {
		d.close()
		return nil, fmt.Errorf("scoped: %s: %w", k, err)
	}
	return d, nil
}

// scopeSchools: a district's schools are those any school list puts in it; a school is itself.
func scopeSchools(ctx context.Context, src *sql.DB, k Key) ([]string, error) {
	if k.School != "" {
		return []string{k.School}, nil
	}
	rows, err := src.QueryContext(ctx, `SELECT DISTINCT school_code FROM school_info WHERE district = ? ORDER BY 1`, k.District)
	if err != nil {
		return nil, fmt.Errorf("scoped: schools: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Rules returns each analyst table's rule name, for tests and docs.
func Rules() map[string]string {
	names := map[rule]string{byDistrict: "district", bySchool: "school", byRawSchool: "raw_school", byTeacher: "teacher", byScopeCode: "scope_code",
		recompute: "recompute", global: "global", byBatch: "batch", byReject: "reject", byGroup: "group"}
	out := map[string]string{}
	for t, r := range tableRules {
		out[t] = names[r]
	}
	return out
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func inList(xs []string) string {
	if len(xs) == 0 {
		return "(NULL)"
	}
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = quote(x)
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// rejectIn keeps the rejected rows naming one of the schools, by code or by name.
func rejectIn(in string) string {
	return "(school_code IN " + in + " OR (school_code IS NULL AND school_name IN (SELECT school_name FROM school_info WHERE school_code IN " + in + ")))"
}

// filter is the WHERE clause that cuts table t to the scope, read on the source.
func filter(t string, r rule, k Key, schools []string) (string, error) {
	in := inList(schools)
	switch r {
	case byDistrict:
		if k.School != "" {
			if t == "district_summary" || t == "annual_summary" {
				return "false", nil
			}
			return "school_code = " + quote(k.School), nil
		}
		return "district = " + quote(k.District), nil
	case bySchool:
		return "school_code IN " + in, nil
	case byRawSchool:
		// a row that names its school only by name (resolved at refresh) is the scope's when
		// a school list gives one of the scope's schools that name
		return "school_code IN " + in + " OR (school_code IS NULL AND school_name IN (SELECT school_name FROM school_info WHERE school_code IN " + in + "))", nil
	case byTeacher:
		return "teacher_key IN (SELECT teacher_key FROM roster WHERE school_code IN " + in + ")", nil
	case byScopeCode:
		if k.School != "" {
			return "scope = 'school' AND scope_code = " + quote(k.School), nil
		}
		return "(scope = 'district' AND scope_code = " + quote(k.District) + ") OR (scope = 'school' AND scope_code IN " + in + ")", nil
	case byGroup:
		return "group_by = 'school' AND group_value = " + quote(k.School), nil
	case global:
		return "true", nil
	case byBatch:
		var parts []string
		for _, rt := range []string{"raw_schools", "raw_teachers", "raw_hours", "raw_progress", "raw_assessments"} {
			parts = append(parts, "SELECT batch_id FROM "+rt+" WHERE school_code IN "+in)
		}
		parts = append(parts, "SELECT batch_id FROM school_refs WHERE school_code IN "+in)
		parts = append(parts, "SELECT batch_id FROM rejects WHERE "+rejectIn(in))
		return "kind = 'catalogue' OR batch_id IN (" + strings.Join(parts, " UNION ") + ")", nil
	case byReject:
		return rejectIn(in), nil
	}
	return "", fmt.Errorf("table %s: no scope rule", t)
}

// fill copies every analyst table into d, cut to its scope, then reruns the aggregate
// models over the scope's own rows.
func fill(ctx context.Context, src *sql.DB, d *DB) error {
	ms, err := models.Models()
	if err != nil {
		return err
	}
	modelSQL := map[string]string{}
	order := map[string]int{}
	for i, m := range ms {
		modelSQL[m.Name] = m.SQL
		order[m.Name] = i
	}
	var copies, reruns []string
	for _, t := range models.AnalystTables() {
		r, ok := tableRules[t]
		if !ok {
			return fmt.Errorf("table %s has no scope rule", t)
		}
		if d.Key.School != "" {
			if sr, ok := schoolScopeRules[t]; ok {
				r = sr
			}
		}
		if r == recompute {
			if _, ok := modelSQL[t]; !ok {
				return fmt.Errorf("table %s: recompute rule but no model", t)
			}
			reruns = append(reruns, t)
			continue
		}
		copies = append(copies, t)
	}
	srcConn, err := src.Conn(ctx)
	if err != nil {
		return err
	}
	defer srcConn.Close()
	dstConn, err := d.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer dstConn.Close()
	srcAr, err := arrowOf(srcConn)
	if err != nil {
		return err
	}
	dstAr, err := arrowOf(dstConn)
	if err != nil {
		return err
	}
	for _, t := range copies {
		r := tableRules[t]
		if d.Key.School != "" {
			if sr, ok := schoolScopeRules[t]; ok {
				r = sr
			}
		}
		where, err := filter(t, r, d.Key, d.Schools)
		if err != nil {
			return err
		}
		if err := copyTable(ctx, srcConn, dstConn, srcAr, dstAr, t, where, chunkRows); err != nil {
			return fmt.Errorf("copy %s: %w", t, err)
		}
	}
	// A file can hold several districts' rows (a city's school list, a shared export): its
	// counts are cut to the scope too, or they would tell a district another's headcount.
	if _, err := dstConn.ExecContext(ctx, `WITH mine AS (
			SELECT batch_id FROM raw_schools UNION ALL SELECT batch_id FROM raw_teachers
			UNION ALL SELECT batch_id FROM raw_hours UNION ALL SELECT batch_id FROM raw_progress
			UNION ALL SELECT batch_id FROM raw_assessments),
		acc AS (SELECT batch_id, count(*) AS n FROM mine GROUP BY batch_id),
		rej AS (SELECT batch_id, count(*) AS n FROM rejects GROUP BY batch_id)
		UPDATE batches SET accepted = coalesce((SELECT n FROM acc WHERE acc.batch_id = batches.batch_id), 0),
			rejected = coalesce((SELECT n FROM rej WHERE rej.batch_id = batches.batch_id), 0),
			rows_total = coalesce((SELECT n FROM acc WHERE acc.batch_id = batches.batch_id), 0)
			           + coalesce((SELECT n FROM rej WHERE rej.batch_id = batches.batch_id), 0)
		WHERE kind <> 'catalogue'`); err != nil {
		return fmt.Errorf("scope counts: %w", err)
	}
	sort.Slice(reruns, func(i, j int) bool { return order[reruns[i]] < order[reruns[j]] })
	for _, t := range reruns {
		if _, err := dstConn.ExecContext(ctx, "CREATE TABLE "+t+" AS "+modelSQL[t]); err != nil {
			return fmt.Errorf("rerun %s: %w", t, err)
		}
	}
	return nil
}

func arrowOf(conn *sql.Conn) (*duckdb.Arrow, error) {
	var ar *duckdb.Arrow
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return errors.New("unexpected driver connection")
		}
		var err error
		ar, err = duckdb.NewArrowFromConn(c)
		return err
	})
	return ar, err
}

type column struct{ name, typ string }

func columnsOf(ctx context.Context, conn *sql.Conn, t string) ([]column, error) {
	rows, err := conn.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position`, t)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cs []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	if len(cs) == 0 && rows.Err() == nil {
		return nil, fmt.Errorf("table %s not found", t)
	}
	return cs, rows.Err()
}

func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// copyTable creates t in the destination with the source's exact column types, then moves
// the scope's rows through Arrow in chunks (per batch for raw tables, per month for monthly
// ones) so that no chunk holds a whole large table.
func copyTable(ctx context.Context, srcConn, dstConn *sql.Conn, srcAr, dstAr *duckdb.Arrow, t, where string, chunkRows int64) error {
	cols, err := columnsOf(ctx, srcConn, t)
	if err != nil {
		return err
	}
	defs := make([]string, len(cols))
	has := map[string]bool{}
	for i, c := range cols {
		defs[i] = ident(c.name) + " " + c.typ
		has[c.name] = true
	}
	if _, err := dstConn.ExecContext(ctx, "CREATE TABLE "+ident(t)+" ("+strings.Join(defs, ", ")+")"); err != nil {
		return err
	}
	base := "SELECT * FROM " + ident(t) + " WHERE (" + where + ")"
	var chunks []string
	for _, key := range []string{"batch_id", "month"} {
		if !has[key] || t == "batches" {
			continue
		}
		// the scope's rows per key, in the key's own order, gathered into runs of about
		// chunkRows rows: one query per run, not per batch or month (at 36 months, 1,442
		// batches made 1,442 queries, 18 s for a district on DuckDB 1.1.2)
		rows, err := srcConn.QueryContext(ctx, "SELECT "+key+"::VARCHAR, count(*) FROM "+ident(t)+" WHERE ("+where+") GROUP BY "+key+" ORDER BY "+key+" NULLS LAST")
		if err != nil {
			return err
		}
		type run struct {
			lo, hi string
			n      int64
		}
		var runs []run
		nulls := false
		for rows.Next() {
			var v sql.NullString
			var n int64
			if err := rows.Scan(&v, &n); err != nil {
				rows.Close()
				return err
			}
			if !v.Valid {
				nulls = true
				continue
			}
			if key == "batch_id" {
				if _, err := strconv.ParseInt(v.String, 10, 64); err != nil {
					rows.Close()
					return fmt.Errorf("batch id %q", v.String)
				}
			}
			if k := len(runs); k > 0 && runs[k-1].n+n <= chunkRows {
				runs[k-1].hi, runs[k-1].n = v.String, runs[k-1].n+n
				continue
			}
			runs = append(runs, run{v.String, v.String, n})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(runs) > 1 || (len(runs) == 1 && nulls) {
			for _, r := range runs {
				// compared in the column's own type, so that DuckDB skips the row groups of
				// other batches and months (a cast would read the whole table per chunk)
				lo, hi := quote(r.lo), quote(r.hi)
				if key == "batch_id" {
					lo, hi = r.lo, r.hi
				}
				chunks = append(chunks, base+" AND "+key+" BETWEEN "+lo+" AND "+hi)
			}
			if nulls {
				chunks = append(chunks, base+" AND "+key+" IS NULL")
			}
		}
		break
	}
	if chunks == nil {
		chunks = []string{base}
	}
	for _, q := range chunks {
		rdr, err := srcAr.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		err = load(ctx, dstConn, dstAr, t, rdr)
		rdr.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// chunkRows is about how many rows one copy moves through Arrow at a time (a key with more
// rows moves alone).
const chunkRows = 250_000

// load inserts one Arrow result into the destination table through a one-off view. The
// view's release hands the reader back (duckdb-go v2 calls the stream's release, which
// go-duckdb never did); DuckDB releases each record once it has moved past it.
func load(ctx context.Context, conn *sql.Conn, ar *duckdb.Arrow, t string, rdr array.RecordReader) error {
	view := "scoped_copy_" + t
	release, err := ar.RegisterView(rdr, view)
	if err != nil {
		return err
	}
	defer release()
	if _, err := conn.ExecContext(ctx, "INSERT INTO "+ident(t)+" SELECT * FROM "+view); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, "DROP VIEW IF EXISTS "+view)
	return err
}
