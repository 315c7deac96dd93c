package scoped

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"tisheng/models"
)

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

// The scope's months, worked out once per build on the source connection (temporary
// tables, private to it, dropped after): the school-months it holds, the roster
// teacher-months of those schools, and the school references of raw rows that resolve, in
// their batch's month, to one of them.
const (
	tmpSchoolMonths  = "__scope_school_months"
	tmpTeacherMonths = "__scope_teacher_months"
	tmpRefs          = "__scope_refs"
)

// The scope's rows are selected with explicit semi and anti joins on the temporary tables:
// DuckDB 1.1 plans a correlated EXISTS with IS NOT DISTINCT FROM as a nested loop (raw_hours
// of a district at city scale: 720 ms against 13 ms for the semi join, measured on 1.1.2).

// rule says how a table's rows are cut to a scope. A scope holds a school in some months
// (school_info says, month by month, which district each school is in), so every rule that
// follows a school or a teacher is per month: a row of month M belongs to the scope that
// holds its school in M (for a teacher's rows, the school of the roster that lists her in
// M), and a raw row to the scope that holds its school in its batch's month. A teacher or a
// school that moves district takes its rows from the move on, and leaves its history behind.
type rule = string

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

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

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
