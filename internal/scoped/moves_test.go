package scoped

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"tisheng/internal/testkit"
	"tisheng/internal/warehouse"
)

// A teacher and a school change district in July (testkit.Moves). Every analyst table of
// every district's database holds the rows of the months the district held them, and
// nothing of the others: her May and June rows stay with 东湖区, her July rows (her standing,
// hours earned anywhere included) go to 西山区; the school's rows until June stay with
// 南城区 and from July are 西山区's. Raw rows go by the school they name in their file's
// month. Counts are compared with the warehouse's own rows, month by month.
func TestMovesFollowTheMonth(t *testing.T) {
	wh, _, m := testkit.DemoMoved(t, "../../testdata", filepath.Join(t.TempDir(), "w.duckdb"), warehouse.Options{Locked: true})
	ctx := context.Background()
	const july = "2025-07"
	key := one(t, wh.DB, `SELECT any_value(teacher_key) FROM roster WHERE month = '2025-06' AND name = ?`, m.Teacher)
	// the fixture did move them
	if d := one(t, wh.DB, `SELECT district FROM roster WHERE month = ? AND teacher_key = ?`, july, key); d != m.TeacherTo {
		t.Fatalf("%s is in %q in July, want %s", m.Teacher, d, m.TeacherTo)
	}
	if d := one(t, wh.DB, `SELECT district FROM school_info WHERE month = ? AND school_code = ?`, july, m.School); d != m.SchoolTo {
		t.Fatalf("%s is in %q in July, want %s", m.School, d, m.SchoolTo)
	}
	if n := one(t, wh.DB, `SELECT count(*) FROM teacher_category_hours WHERE month = ? AND teacher_key = ?`, july, key); n == "0" {
		t.Fatal("she has no July hours: the fixture tests nothing")
	}
	districts := []string{"东湖区", "南城区", "西山区"}
	dbs := map[string]*sql.DB{}
	for _, d := range districts {
		s, err := Build(ctx, wh.DB, cat(t), Key{District: d}, "512MB")
		if err != nil {
			t.Fatal(err)
		}
		defer s.close()
		dbs[d] = s.DB
	}
	before := func(from, to string) func(month string) string {
		return func(month string) string {
			if month < july {
				return from
			}
			return to
		}
	}
	teacherOwner := before(m.TeacherFrom, m.TeacherTo)
	schoolOwner := before(m.SchoolFrom, m.SchoolTo)
	// Her raw rows go by the school each names: 东湖区's files name her old school, 西山区's
	// her new one (东湖区's July assessments still list her: they are 东湖区's rows).
	rawSchoolOf := map[string]string{"3601000001": "东湖区", "东湖区第1中学": "东湖区", "3602000003": "西山区", "西山区第2高级中学": "西山区"}

	// Tables that hold rows of neither, each checked on its own below.
	noRows := map[string]bool{"months": true, "profile": true, "profile_category_min": true, "profile_activity_cap": true,
		"profile_catalogue": true, "abilities": true, "ability_refs": true, "batches": true, "rejects": true,
		"data_quality": true, "district_summary": true, "monthly_progress": true, "annual_summary": true, "ability_choices": true,
		// the moved school covers every dimension and runs no 研修考核
		"swot_gaps": true, "raw_progress": true}

	for _, tb := range cat(t).AnalystTables() {
		t.Run(tb, func(t *testing.T) {
			cols := map[string]bool{}
			for _, c := range strings.Split(one(t, wh.DB, `SELECT string_agg(column_name, ',') FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ?`, tb), ",") {
				cols[c] = true
			}
			raw := strings.HasPrefix(tb, "raw_")
			month := "'" + july + "'" // tables of the latest month
			switch {
			case cols["month"]:
				month = "x.month"
			case cols["batch_id"] && tb != "batches":
				// raw rows, and the raw rows unmatched_rows lists: their file's month
				month = "(SELECT strftime(b.as_of, '%Y-%m') FROM batches b WHERE b.batch_id = x.batch_id)"
			}
			var schoolPred []string
			if cols["school_code"] {
				schoolPred = append(schoolPred, "x.school_code = "+quote(m.School))
			}
			if cols["school_name"] {
				schoolPred = append(schoolPred, "x.school_name = "+quote(m.SchoolName))
			}
			if cols["scope_code"] {
				schoolPred = append(schoolPred, "(x.scope = 'school' AND x.scope_code = "+quote(m.School)+")")
			}
			if cols["group_value"] {
				schoolPred = append(schoolPred, "(x.group_by = 'school' AND x.group_value = "+quote(m.SchoolName)+")")
			}
			found := 0
			check := func(what, pred, by string, owner func(group string) string) {
				q := "SELECT " + by + " AS g, count(*) FROM " + tb + " x WHERE " + pred + " GROUP BY g"
				want := counts(t, wh.DB, q)
				for g, n := range want {
					found += n
					for _, d := range districts {
						exp := 0
						if owner(g) == d {
							exp = n
						}
						got := counts(t, dbs[d], q)[g]
						if got != exp {
							t.Errorf("%s, %s: %s holds %d rows, want %d (of %d)", what, g, d, got, exp, n)
						}
					}
				}
				// and nothing the warehouse does not hold
				for _, d := range districts {
					for g := range counts(t, dbs[d], q) {
						if _, ok := want[g]; !ok {
							t.Errorf("%s, %s: %s holds rows the warehouse has not", what, g, d)
						}
					}
				}
			}
			if cols["teacher_key"] {
				if raw {
					check(m.Teacher+" by school named", "x.teacher_key = "+quote(key), "coalesce(x.school_code, x.school_name)",
						func(ref string) string { return rawSchoolOf[ref] })
				} else {
					check(m.Teacher+" by month", "x.teacher_key = "+quote(key), month, teacherOwner)
				}
			}
			if len(schoolPred) > 0 {
				check(m.School+" by month", "("+strings.Join(schoolPred, " OR ")+")", month, schoolOwner)
			}
			if found == 0 && !noRows[tb] {
				t.Fatalf("%s holds no row of %s or %s: say how it is checked", tb, m.Teacher, m.School)
			}
		})
	}

	// Aggregates rerun on a district's rows equal the warehouse's rows for the district, month
	// by month: the school counts where it was.
	for _, d := range districts {
		for _, q := range []string{
			`SELECT string_agg(month || ':' || schools || '/' || teachers || '/' || complete, ' ' ORDER BY month) FROM monthly_progress WHERE scope = 'district' AND scope_code = ?`,
			`SELECT schools || '/' || teachers || '/' || complete || '/' || shortfall FROM district_summary WHERE district = ?`,
		} {
			if a, b := one(t, wh.DB, q, d), one(t, dbs[d], q, d); a != b || a == "" {
				t.Errorf("%s: %s\nwarehouse %s\nscoped    %s", d, q, a, b)
			}
		}
	}

	// 东湖区's free text is 东湖区's alone; every database holds the texts of its own rows only.
	for _, d := range districts {
		// ingest folds the full-width colon: compare the text before it
		want := map[bool]string{true: "1", false: "0"}[d == m.FreeTextDistrict]
		for _, tb := range []string{"ability_refs", "raw_assessments", "unmatched_rows"} {
			col := map[string]string{"ability_refs": "ability_given", "raw_assessments": "ability_given", "unmatched_rows": "unmatched_reason"}[tb]
			n := one(t, dbs[d], `SELECT count(*) FROM `+tb+` WHERE contains(`+col+`, ?)`, strings.SplitN(m.FreeText, "：", 2)[0])
			if n != want {
				t.Errorf("%s: %s holds %s rows of %s's free text, want %s", tb, d, n, m.FreeTextDistrict, want)
			}
		}
		if n := one(t, dbs[d], `SELECT count(*) FROM ability_refs WHERE ability_given NOT IN (SELECT ability_given FROM raw_assessments)`); n != "0" {
			t.Errorf("%s holds %s texts none of its rows use", d, n)
		}
	}

	// Files: the city's July school list is in every database, each July file of one district
	// only in that district's, and the moved school's old files stay where they were loaded.
	files := func(d string) map[string]bool {
		out := map[string]bool{}
		for _, f := range strings.Split(one(t, dbs[d], `SELECT string_agg(file_name, '|') FROM batches`), "|") {
			out[f] = true
		}
		return out
	}
	for d, want := range map[string][]string{
		"东湖区": {"学校信息_2025-07.csv", "东湖区_教师名单_2025-07-31.csv", "东湖区_能力点测评_20250731.csv"},
		"西山区": {"学校信息_2025-07.csv", "西山区_教师名单_2025-07-31.csv", "西山区_学时汇总_2025-07-31.csv"},
		"南城区": {"学校信息_2025-07.csv", "南城区_教师名单_2025-06-30.csv"},
	} {
		have := files(d)
		for _, f := range want {
			if !have[f] {
				t.Errorf("%s does not hold %s", d, f)
			}
		}
		var foreign []string
		for f := range have {
			if !strings.HasPrefix(f, d) && !strings.HasPrefix(f, "学校信息") && !strings.HasPrefix(f, "研修考核") && !strings.HasPrefix(f, "national") &&
				!(d == "西山区" && f == "南城区_教师名单_2025-06-30.csv") {
				foreign = append(foreign, f)
			}
		}
		sort.Strings(foreign)
		if len(foreign) > 0 {
			t.Errorf("%s holds other districts' files: %v", d, foreign)
		}
	}
	// data quality lists the database's own files
	for _, d := range districts {
		if a, b := one(t, dbs[d], `SELECT string_agg(file_name, '|' ORDER BY batch_id) FROM batches`), one(t, dbs[d], `SELECT string_agg(file_name, '|' ORDER BY batch_id) FROM data_quality`); a != b {
			t.Errorf("%s: data_quality lists %s, batches %s", d, b, a)
		}
	}
}

// counts runs a two-column query (group, count) into a map.
func counts(t *testing.T, db *sql.DB, q string) map[string]int {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var g sql.NullString
		var n int
		if err := rows.Scan(&g, &n); err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprint(g.String)] = n
	}
	return out
}

// A school's database holds her rows of the months its roster lists her.
func TestMovesSchoolScope(t *testing.T) {
	wh, _, m := testkit.DemoMoved(t, "../../testdata", filepath.Join(t.TempDir(), "w.duckdb"), warehouse.Options{Locked: true})
	ctx := context.Background()
	key := one(t, wh.DB, `SELECT any_value(teacher_key) FROM roster WHERE month = '2025-06' AND name = ?`, m.Teacher)
	for school, want := range map[string]string{"3601000001": "2025-05,2025-06", "3602000003": "2025-07"} {
		s, err := Build(ctx, wh.DB, cat(t), Key{School: school}, "512MB")
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range []string{"roster", "teacher_progress_monthly", "teacher_category_hours", "teacher_points"} {
			got := one(t, s.DB, `SELECT string_agg(DISTINCT month, ',' ORDER BY month) FROM `+tb+` WHERE teacher_key = ?`, key)
			if got != want {
				t.Errorf("school %s, %s: her months %q, want %q", school, tb, got, want)
			}
		}
		s.close()
	}
	// the moved school's own database keeps all its months
	s, err := Build(ctx, wh.DB, cat(t), Key{School: m.School}, "512MB")
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if got := one(t, s.DB, `SELECT string_agg(DISTINCT month || district, ',' ORDER BY month || district) FROM school_info`); got != "2025-05南城区,2025-06南城区,2025-07西山区" {
		t.Errorf("school %s: %s", m.School, got)
	}
}
