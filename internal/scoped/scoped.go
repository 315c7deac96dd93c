// Package scoped builds, for a district or a school, a database of its own that holds only
// that scope's rows of the analyst tables: a separate in-memory DuckDB, locked like the
// serving one, that the scope's pages, workbooks and ad-hoc SQL run against. Whatever SQL
// reaches it, a district user's query cannot return another district's row, because no
// such row is in the database it runs on: the scope is enforced by what is copied, not by
// rewriting anyone's SQL.
//
// Every analyst table declares its rule in its own file (@scope, and @school-scope where a
// school's database differs; models/README.md). A rule this package does not know is an
// error, so a new table cannot slip into a scope unfiltered: the build fails closed.
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
	"tisheng/internal/warehouse"
	"tisheng/models"
)

// rule says how a table's rows are cut to a scope. A scope holds a school in some months
// (school_info says, month by month, which district each school is in), so every rule that
// follows a school or a teacher is per month: a row of month M belongs to the scope that
// holds its school in M (for a teacher's rows, the school of the roster that lists her in
// M), and a raw row to the scope that holds its school in its batch's month. A teacher or a
// school that moves district takes its rows from the move on, and leaves its history behind.
type rule = string

// The rules, as the tables declare them (models.ScopeRules lists them; a test checks this
// package knows each).
const (
	byDistrict     rule = "district"      // the row's own district column (set per month); school scope: its school_code
	bySchoolMonth  rule = "school_month"  // (month, school_code) one of the scope's school-months
	byBatchSchool  rule = "batch_school"  // (the month of the row's batch, school_code) one of the scope's school-months
	byTeacherMonth rule = "teacher_month" // (month, teacher_key) a teacher on one of the scope's rosters that month
	byPersonMonth  rule = "person_month"  // as teacher_month; a teacher on no roster that month goes by the row's school-month
	byRawRef       rule = "raw_ref"       // raw rows whose school reference resolves, in their batch's month, to one of the scope's schools
	byText         rule = "text"          // text-keyed rows: only the texts the scope's own raw rows use
	byScopeCode    rule = "scope_code"    // scope/scope_code rows (coverage, choices, monthly)
	recompute      rule = "recompute"     // aggregates: the model's own SQL, rerun over the scope's rows
	global         rule = "global"        // reference data with no one's rows: months, profile, catalogues
	byBatch        rule = "batch"         // batches the scope uploaded, or holding its rows or rejects
	byReject       rule = "reject"        // rejected rows of the scope's uploads, or naming one of its schools in the file's month
	byGroup        rule = "group"         // annual_by_group (school scope): the school's own row
	noRows         rule = "none"          // nothing (a school sees no district-wide figure)
)

// known are the rules source knows.
var known = map[rule]bool{byDistrict: true, bySchoolMonth: true, byBatchSchool: true, byTeacherMonth: true, byPersonMonth: true,
	byRawRef: true, byText: true, byScopeCode: true, recompute: true, global: true, byBatch: true, byReject: true, byGroup: true, noRows: true}

// ruleOf is the rule that cuts table t for key k: its @school-scope for a school's
// database where it declares one, else its @scope.
func ruleOf(cat *models.Catalog, t string, k Key) (rule, error) {
	d, ok := cat.Table(t)
	if !ok {
		return "", fmt.Errorf("table %s is not declared", t)
	}
	r := d.Scope
	if k.School != "" && d.SchoolScope != "" {
		r = d.SchoolScope
	}
	if !known[r] {
		return "", fmt.Errorf("%s: scope rule %q is unknown to the scope databases", d.File, r)
	}
	return r, nil
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

	// The raw tables (rule raw_ref: the loaded files' rows, most of a district's data) are
	// copied after the rest, while the pages already read the database; ad-hoc SQL waits
	// for them (Ready). raw is closed when they are in, rawErr set if they failed.
	raw    chan struct{}
	rawErr error
	stop   context.CancelFunc
}

// Ready waits until the raw tables are copied in (at once for a database built whole).
func (d *DB) Ready(ctx context.Context) error {
	if d.raw == nil {
		return nil
	}
	select {
	case <-d.raw:
		if d.rawErr != nil {
			return fmt.Errorf("scoped: %s: raw rows: %w", d.Key, d.rawErr)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close closes a database made by Build (a Set closes its own).
func (d *DB) Close() { d.close() }

func (d *DB) close() {
	if d.stop != nil {
		d.stop()
		<-d.raw
	}
	d.DB.Close()
	d.conn.Close()
}

// Options bound the databases.
type Options struct {
	Max         int    // databases kept at once (least recently used goes first)
	MemoryLimit string // per database, e.g. "1GB"
	// OnBuild, when set, is told of every build: the scope, how long its pages' tables
	// took, and whether it failed (the server's metrics).
	OnBuild func(k Key, d time.Duration, err error)
}

// Set keeps the scopes' databases built since the last refresh.
type Set struct {
	src   *sql.DB
	cat   *models.Catalog
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
func NewSet(src *sql.DB, cat *models.Catalog, o Options, log *slog.Logger, setup func(*sql.DB) (any, error)) *Set {
	if o.Max <= 0 {
		o.Max = 8
	}
	if o.MemoryLimit == "" {
		o.MemoryLimit = "1GB"
	}
	return &Set{src: src, cat: cat, opts: o, log: log, setup: setup, dbs: map[Key]*DB{}, used: map[Key]time.Time{}, building: map[Key]*call{}}
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
	d, err := build(ctx, s.src, s.cat, k, s.opts.MemoryLimit, true)
	if err == nil && s.setup != nil {
		d.Value, err = s.setup(d.DB)
		if err != nil {
			d.close()
			d = nil
		}
	}
	if s.opts.OnBuild != nil {
		s.opts.OnBuild(k, time.Since(start), err)
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
		go func() { // its raw tables follow
			if d.Ready(context.Background()) == nil {
				s.log.Info("scope database raw rows in", "scope", k.String(), "ms", time.Since(start).Milliseconds())
			} else if !errors.Is(d.rawErr, context.Canceled) {
				s.log.Error("scope database raw rows failed", "scope", k.String(), "err", d.rawErr)
			}
		}()
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
func Build(ctx context.Context, src *sql.DB, cat *models.Catalog, k Key, memoryLimit string) (*DB, error) {
	d, err := build(ctx, src, cat, k, memoryLimit, false)
	if err != nil {
		return nil, err
	}
	if err := d.Ready(ctx); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// build makes the scope's database; lazy returns it as soon as everything but the raw
// tables is in, and copies those in the background (Ready says when).
func build(ctx context.Context, src *sql.DB, cat *models.Catalog, k Key, memoryLimit string, lazy bool) (*DB, error) {
	schools, err := scopeSchools(ctx, src, k)
	if err != nil {
		return nil, err
	}
	dsn := "?threads=1" + extraDSN(ctx, src)
	if memoryLimit != "" && memoryLimit != "none" {
		dsn += "&memory_limit=" + memoryLimit
	}
	conn, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return nil, fmt.Errorf("scoped: %w", err)
	}
	d := &DB{Key: k, DB: sql.OpenDB(conn), conn: conn, Schools: schools}
	d.DB.SetMaxIdleConns(8)
	if err := warehouse.Lock(ctx, d.DB); err != nil {
		d.close()
		return nil, fmt.Errorf("scoped: %w", err)
	}
	if err := fill(ctx, src, cat, d, lazy); err != nil {
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

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// The scope's months, worked out once per build on the source connection (temporary
// tables, private to it, dropped after): the school-months it holds, the roster
// teacher-months of those schools, and the school references of raw rows that resolve, in
// their batch's month, to one of them.
const (
	tmpSchoolMonths  = "__scope_school_months"
	tmpTeacherMonths = "__scope_teacher_months"
	tmpRefs          = "__scope_refs"
)

// scopeTables creates the scope's temporary tables on conn; drop removes them.
func scopeTables(ctx context.Context, conn *sql.Conn, k Key) (drop func(), err error) {
	own := "district = " + quote(k.District)
	if k.School != "" {
		own = "school_code = " + quote(k.School)
	}
	stmts := []string{
		"CREATE OR REPLACE TEMP TABLE " + tmpSchoolMonths + " AS SELECT DISTINCT month, school_code FROM school_info WHERE " + own,
		"CREATE OR REPLACE TEMP TABLE " + tmpTeacherMonths + ` AS SELECT DISTINCT r.month, r.teacher_key FROM roster r
			JOIN ` + tmpSchoolMonths + ` s ON s.month = r.month AND s.school_code = r.school_code`,
		"CREATE OR REPLACE TEMP TABLE " + tmpRefs + ` AS SELECT DISTINCT r.kind, r.batch_id, r.given_code, r.given_name
			FROM school_refs r
			JOIN batches b ON b.batch_id = r.batch_id AND r.month = strftime(b.as_of, '%Y-%m')
			JOIN ` + tmpSchoolMonths + ` s ON s.month = r.month AND s.school_code = r.school_code`,
	}
	drop = func() {
		// on a fresh context: a build cut short still leaves the connection clean for the pool
		for _, t := range []string{tmpRefs, tmpTeacherMonths, tmpSchoolMonths} {
			_, _ = conn.ExecContext(context.Background(), "DROP TABLE IF EXISTS temp."+t)
		}
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			drop()
			return nil, fmt.Errorf("scope months: %w", err)
		}
	}
	return drop, nil
}

// The scope's rows are selected with explicit semi and anti joins on the temporary tables:
// DuckDB 1.1 plans a correlated EXISTS with IS NOT DISTINCT FROM as a nested loop (raw_hours
// of a district at city scale: 720 ms against 13 ms for the semi join, measured on 1.1.2).

// inSchoolMonth keeps the rows of alias a whose school-month (month, school) the scope holds.
func inSchoolMonth(month, school string) string {
	return " SEMI JOIN " + tmpSchoolMonths + " sm ON sm.month = " + month + " AND sm.school_code = " + school
}

// inTeacherMonth keeps the rows whose teacher is on one of the scope's rosters that month.
func inTeacherMonth(a string) string {
	return " SEMI JOIN " + tmpTeacherMonths + " tm ON tm.month = " + a + ".month AND tm.teacher_key = " + a + ".teacher_key"
}

// inRawRefs keeps the raw rows (alias a of a raw table of kind) that name one of the
// scope's schools in their batch's month.
func inRawRefs(a, kind string) string {
	return " SEMI JOIN (SELECT * FROM " + tmpRefs + " WHERE kind = " + quote(kind) + ") rf ON rf.batch_id = " + a + ".batch_id" +
		" AND rf.given_code IS NOT DISTINCT FROM " + a + ".school_code AND rf.given_name IS NOT DISTINCT FROM " + a + ".school_name"
}

// schoolMonth: the school-month (month, school) is one the scope holds (for the small
// tables, as a condition).
func schoolMonth(month, school string) string {
	return "EXISTS (SELECT 1 FROM " + tmpSchoolMonths + " sm WHERE sm.month = " + month + " AND sm.school_code = " + school + ")"
}

// batchMonth is the report month of a batch's as-of date.
func batchMonth(b string) string { return "strftime(" + b + ".as_of, '%Y-%m')" }

// uploadedBy: the batch (alias b) was uploaded by the scope, or, for a district, by one of
// the schools it held in the batch's month.
func uploadedBy(b string, k Key) string {
	if k.School != "" {
		return b + ".loaded_school = " + quote(k.School)
	}
	return "(" + b + ".loaded_district = " + quote(k.District) + " OR (" + b + ".loaded_school IS NOT NULL AND " +
		schoolMonth(batchMonth(b), b+".loaded_school") + "))"
}

// rejectOf: the rejected row (alias j) is the scope's. An upload's rejects are its
// uploader's (a district that uploads another's roster sees its own refusals, the other
// district nothing); those of the project office's loads go to the scope holding the school
// they name (by code, else by name) in the file's month.
func rejectOf(j string, k Key) string {
	b := "rb"
	names := "EXISTS (SELECT 1 FROM school_info si WHERE si.month = " + batchMonth(b) + " AND si.school_name = " + j + ".school_name AND " +
		schoolMonth("si.month", "si.school_code") + ")"
	named := "((" + j + ".school_code IS NOT NULL AND " + schoolMonth(batchMonth(b), j+".school_code") + ") OR (" +
		j + ".school_code IS NULL AND " + names + "))"
	return "EXISTS (SELECT 1 FROM batches " + b + " WHERE " + b + ".batch_id = " + j + ".batch_id AND (" + uploadedBy(b, k) +
		" OR (" + b + ".loaded_district IS NULL AND " + b + ".loaded_school IS NULL AND " + named + ")))"
}

// source is the SELECT of table t's rows that are the scope's (the table's own columns),
// read on the source connection after scopeTables.
func source(cat *models.Catalog, t string, r rule, k Key) (string, error) {
	const a = "__t"
	from := "SELECT " + a + ".* FROM " + ident(t) + " AS " + a
	where := func(cond string) (string, error) { return from + " WHERE " + cond, nil }
	switch r {
	case byDistrict:
		if k.School != "" {
			return where(a + ".school_code = " + quote(k.School))
		}
		return where(a + ".district = " + quote(k.District))
	case bySchoolMonth:
		return from + inSchoolMonth(a+".month", a+".school_code"), nil
	case byBatchSchool:
		// a school that moved district keeps, with its old district, the rows of the files
		// dated before the move, even while such a file still counts after it
		return from + " SEMI JOIN (SELECT b.batch_id, sm.school_code FROM batches b JOIN " + tmpSchoolMonths +
			" sm ON sm.month = strftime(b.as_of, '%Y-%m')) bs ON bs.batch_id = " + a + ".batch_id AND bs.school_code = " + a + ".school_code", nil
	case byTeacherMonth:
		return from + inTeacherMonth(a), nil
	case byPersonMonth:
		// the teacher's rows of the months the scope's rosters list her, and the rows of a
		// teacher on no roster that month at the scope's schools (the two are disjoint)
		return from + inTeacherMonth(a) + " UNION ALL " + from +
			" ANTI JOIN roster ro ON ro.month = " + a + ".month AND ro.teacher_key = " + a + ".teacher_key" +
			inSchoolMonth(a+".month", a+".school_code"), nil
	case byRawRef:
		d, _ := cat.Table(t)
		if d.ExportKind == "" {
			return "", fmt.Errorf("%s: a raw_ref table declares its @export-kind", d.File)
		}
		return from + inRawRefs(a, d.ExportKind), nil
	case byText:
		key, raws, ok := cat.TextSource(t)
		if !ok || len(raws) == 0 {
			return "", fmt.Errorf("table %s: the text rule cuts a text-keyed model that reads raw rows", t)
		}
		var texts []string
		for _, rt := range raws {
			d, _ := cat.Table(rt)
			if d.ExportKind == "" {
				return "", fmt.Errorf("table %s: its texts come from %s, which declares no @export-kind", t, rt)
			}
			texts = append(texts, "SELECT x."+ident(key)+" AS k FROM "+ident(rt)+" x"+inRawRefs("x", d.ExportKind))
		}
		return from + " SEMI JOIN (" + strings.Join(texts, " UNION ") + ") g ON g.k = " + a + "." + ident(key), nil
	case byScopeCode:
		if k.School != "" {
			return where(a + ".scope = 'school' AND " + a + ".scope_code = " + quote(k.School))
		}
		return where("(" + a + ".scope = 'district' AND " + a + ".scope_code = " + quote(k.District) + ") OR (" + a + ".scope = 'school' AND " +
			schoolMonth("(SELECT max(month) FROM months)", a+".scope_code") + ")")
	case byGroup:
		return where(a + ".group_by = 'school' AND " + a + ".group_value = " + quote(k.School))
	case global:
		return from, nil
	case byBatch:
		own := "rs.district = " + quote(k.District)
		if k.School != "" {
			own = "rs.school_code = " + quote(k.School)
		}
		return where(a + ".kind = 'catalogue' OR " + uploadedBy(a, k) +
			" OR " + a + ".batch_id IN (SELECT batch_id FROM " + tmpRefs + ")" +
			" OR " + a + ".batch_id IN (SELECT rs.batch_id FROM raw_schools rs WHERE " + own + ")" +
			" OR " + a + ".batch_id IN (SELECT rj.batch_id FROM rejects rj WHERE " + rejectOf("rj", k) + ")")
	case byReject:
		return where(rejectOf(a, k))
	case noRows:
		return where("false")
	}
	return "", fmt.Errorf("table %s: no scope rule", t)
}

// fill copies every analyst table into d, cut to its scope, then reruns the aggregate
// models over the scope's own rows. The raw tables come last: lazily, fill returns once the
// rest is in and copies them in the background (d.Ready), since the pages and downloads
// read none of them and they are most of the rows (a district's raw_hours alone was half a
// 36-month build, DuckDB 1.1.2).
func fill(ctx context.Context, src *sql.DB, cat *models.Catalog, d *DB, lazy bool) error {
	var copies, raws []string
	rules := map[string]rule{}
	for _, t := range cat.AnalystTables() {
		r, err := ruleOf(cat, t, d.Key)
		if err != nil {
			return err
		}
		rules[t] = r
		switch r {
		case recompute:
			if _, ok := cat.Model(t); !ok {
				return fmt.Errorf("table %s: recompute rule but no model", t)
			}
		case byRawRef:
			raws = append(raws, t)
		default:
			copies = append(copies, t)
		}
	}
	srcConn, err := src.Conn(ctx)
	if err != nil {
		return err
	}
	drop, err := scopeTables(ctx, srcConn, d.Key)
	if err != nil {
		srcConn.Close()
		return err
	}
	dstConn, err := d.DB.Conn(ctx)
	if err != nil {
		drop()
		srcConn.Close()
		return err
	}
	done := func() {
		drop()
		dstConn.Close()
		srcConn.Close()
	}
	handed := false // to the background copy of the raw tables, which then closes all
	defer func() {
		if !handed {
			done()
		}
	}()
	srcAr, err := arrowOf(srcConn)
	if err != nil {
		return err
	}
	dstAr, err := arrowOf(dstConn)
	if err != nil {
		return err
	}
	for _, t := range copies {
		src, err := source(cat, t, rules[t], d.Key)
		if err != nil {
			return err
		}
		if err := copyTable(ctx, srcConn, dstConn, srcAr, dstAr, t, src, chunkRows); err != nil {
			return fmt.Errorf("copy %s: %w", t, err)
		}
	}
	// The raw tables, empty for now, and the scope's rows of each file counted on the
	// source: a file can hold several districts' rows (a city's school list, a shared
	// export), and its counts are cut to the scope too, or they would tell a district
	// another's headcount.
	rawSQL := map[string]string{}
	if _, err := dstConn.ExecContext(ctx, `CREATE TEMP TABLE __scope_accepted (batch_id BIGINT, n BIGINT)`); err != nil {
		return err
	}
	for _, t := range raws {
		if rawSQL[t], err = source(cat, t, rules[t], d.Key); err != nil {
			return err
		}
		if err := createLike(ctx, srcConn, dstConn, t); err != nil {
			return fmt.Errorf("copy %s: %w", t, err)
		}
		rows, err := srcConn.QueryContext(ctx, "SELECT batch_id, count(*) FROM ("+rawSQL[t]+") GROUP BY batch_id")
		if err != nil {
			return fmt.Errorf("count %s: %w", t, err)
		}
		var vals []string
		for rows.Next() {
			var id, n int64
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return err
			}
			vals = append(vals, fmt.Sprintf("(%d, %d)", id, n))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for len(vals) > 0 {
			n := min(len(vals), 1000)
			if _, err := dstConn.ExecContext(ctx, "INSERT INTO __scope_accepted VALUES "+strings.Join(vals[:n], ", ")); err != nil {
				return err
			}
			vals = vals[n:]
		}
	}
	if _, err := dstConn.ExecContext(ctx, `WITH acc AS (
			SELECT batch_id, sum(n) AS n FROM (SELECT batch_id, n FROM __scope_accepted
				UNION ALL SELECT batch_id, count(*) FROM raw_schools GROUP BY batch_id) GROUP BY batch_id),
		rej AS (SELECT batch_id, count(*) AS n FROM rejects GROUP BY batch_id)
		UPDATE batches SET accepted = coalesce((SELECT n FROM acc WHERE acc.batch_id = batches.batch_id), 0),
			rejected = coalesce((SELECT n FROM rej WHERE rej.batch_id = batches.batch_id), 0),
			rows_total = coalesce((SELECT n FROM acc WHERE acc.batch_id = batches.batch_id), 0)
			           + coalesce((SELECT n FROM rej WHERE rej.batch_id = batches.batch_id), 0)
		WHERE kind <> 'catalogue'`); err != nil {
		return fmt.Errorf("scope counts: %w", err)
	}
	if _, err := dstConn.ExecContext(ctx, `DROP TABLE __scope_accepted`); err != nil {
		return err
	}
	// in the models' order: a rerun may read another's rerun
	for _, m := range cat.Models {
		if rules[m.Name] != recompute {
			continue
		}
		if _, err := dstConn.ExecContext(ctx, "CREATE TABLE "+ident(m.Name)+" AS "+m.SQL); err != nil {
			return fmt.Errorf("rerun %s: %w", m.Name, err)
		}
	}
	copyRaw := func(ctx context.Context) error {
		for _, t := range raws {
			if err := copyRows(ctx, srcConn, dstConn, srcAr, dstAr, t, rawSQL[t], chunkRows); err != nil {
				return fmt.Errorf("copy %s: %w", t, err)
			}
		}
		return nil
	}
	if !lazy {
		return copyRaw(ctx)
	}
	bg, stop := context.WithCancel(context.Background())
	d.raw, d.stop, handed = make(chan struct{}), stop, true
	go func() {
		defer close(d.raw)
		defer done()
		d.rawErr = copyRaw(bg)
	}()
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
		WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = ? ORDER BY ordinal_position`, t)
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
func copyTable(ctx context.Context, srcConn, dstConn *sql.Conn, srcAr, dstAr *duckdb.Arrow, t, src string, chunkRows int64) error {
	if err := createLike(ctx, srcConn, dstConn, t); err != nil {
		return err
	}
	return copyRows(ctx, srcConn, dstConn, srcAr, dstAr, t, src, chunkRows)
}

// createLike creates t in the destination, empty, with the source's exact column types.
func createLike(ctx context.Context, srcConn, dstConn *sql.Conn, t string) error {
	cols, err := columnsOf(ctx, srcConn, t)
	if err != nil {
		return err
	}
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = ident(c.name) + " " + c.typ
	}
	_, err = dstConn.ExecContext(ctx, "CREATE TABLE "+ident(t)+" ("+strings.Join(defs, ", ")+")")
	return err
}

// copyRows moves the scope's rows of t (the SELECT src) into its table in the destination.
func copyRows(ctx context.Context, srcConn, dstConn *sql.Conn, srcAr, dstAr *duckdb.Arrow, t, src string, chunkRows int64) error {
	cols, err := columnsOf(ctx, srcConn, t)
	if err != nil {
		return err
	}
	has := map[string]bool{}
	for _, c := range cols {
		has[c.name] = true
	}
	// the scope's rows, narrowed by key below: DuckDB pushes the key's range down into the
	// table's scan through the joins, so each chunk reads only its row groups
	base := "SELECT * FROM (" + src + ") AS __s WHERE true"
	var chunks []string
	for _, key := range []string{"batch_id", "month"} {
		if !has[key] || t == "batches" {
			continue
		}
		// the scope's rows per key, in the key's own order, gathered into runs of about
		// chunkRows rows: one query per run, not per batch or month (at 36 months, 1,442
		// batches made 1,442 queries, 18 s for a district on DuckDB 1.1.2)
		rows, err := srcConn.QueryContext(ctx, "SELECT "+key+"::VARCHAR, count(*) FROM ("+src+") AS __s GROUP BY "+key+" ORDER BY "+key+" NULLS LAST")
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
