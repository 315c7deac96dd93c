package scoped

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tisheng/internal/testkit"
	"tisheng/internal/warehouse"
	"tisheng/models"
)

func demo(t *testing.T) *warehouse.Warehouse {
	wh, _ := testkit.Demo(t, "../../testdata", filepath.Join(t.TempDir(), "w.duckdb"), warehouse.Options{Locked: true})
	return wh
}

func one(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	var v sql.NullString
	if err := db.QueryRow(q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v.String
}

// Every analyst table declares a rule these databases know: a table declaring another is
// refused, by the build, with its file named (fail closed).
func TestEveryTableHasARule(t *testing.T) {
	for _, tb := range cat(t).AnalystTables() {
		for _, k := range []Key{{District: "x"}, {School: "y"}} {
			if _, err := ruleOf(cat(t), tb, k); err != nil {
				t.Error(err)
			}
		}
	}
	for _, r := range models.ScopeRules() {
		if !known[r] {
			t.Errorf("models declares rule %s, which the scope databases do not know", r)
		}
	}
}

// cat is the built-in catalog.
func cat(t testing.TB) *models.Catalog {
	t.Helper()
	c, err := models.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDistrictDatabaseHoldsOnlyItsDistrict(t *testing.T) {
	wh := demo(t)
	ctx := context.Background()
	districts := strings.Split(one(t, wh.DB, `SELECT string_agg(DISTINCT district, ',' ORDER BY district) FROM school_info`), ",")
	if len(districts) < 2 {
		t.Fatalf("demo needs two districts, has %v", districts)
	}
	d := districts[0]
	s, err := Build(ctx, wh.DB, cat(t), Key{District: d}, "512MB")
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	mine := one(t, wh.DB, `SELECT string_agg(DISTINCT school_code, ',' ORDER BY school_code) FROM school_info WHERE district = ?`, d)

	for _, tb := range cat(t).AnalystTables() {
		t.Run(tb, func(t *testing.T) {
			// same columns, same types
			q := `SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ?`
			if a, b := one(t, wh.DB, q, tb), one(t, s.DB, q, tb); a != b {
				t.Fatalf("columns differ:\nsource %s\nscoped %s", a, b)
			}
			cols := one(t, s.DB, `SELECT string_agg(column_name, ',') FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ?`, tb)
			has := func(c string) bool { return strings.Contains(","+cols+",", ","+c+",") }
			if has("district") {
				if n := one(t, s.DB, fmt.Sprintf(`SELECT count(*) FROM %s WHERE district IS DISTINCT FROM ?`, tb), d); n != "0" {
					t.Errorf("%s rows of another district", n)
				}
			}
			if has("school_code") {
				if n := one(t, s.DB, fmt.Sprintf(`SELECT count(*) FROM %s WHERE school_code NOT IN (SELECT unnest(string_split(?, ',')))`, tb), mine); n != "0" {
					t.Errorf("%s rows of schools outside %s", n, d)
				}
			}
			if has("school_name") {
				// raw rows that name their school by name only
				others := one(t, wh.DB, `SELECT string_agg(DISTINCT school_name, ',') FROM school_info WHERE district <> ?`, d)
				if n := one(t, s.DB, fmt.Sprintf(`SELECT count(*) FROM %s WHERE school_name IN (SELECT unnest(string_split(?, ',')))`, tb), others); n != "0" {
					t.Errorf("%s rows naming schools of other districts", n)
				}
			}
			if has("scope_code") {
				if n := one(t, s.DB, fmt.Sprintf(`SELECT count(*) FROM %s WHERE scope = 'district' AND scope_code <> ?`, tb), d); n != "0" {
					t.Errorf("%s rows for another district", n)
				}
			}
		})
	}
	// Row-level tables keep exactly the district's rows.
	names := one(t, wh.DB, `SELECT string_agg(DISTINCT school_name, ',') FROM school_info WHERE district = ?`, d)
	for _, tb := range []string{"teacher_progress", "school_gate", "teacher_progress_monthly", "raw_hours", "raw_teachers"} {
		cond := `school_code IN (SELECT unnest(string_split(?, ',')))`
		args := []any{mine}
		if strings.HasPrefix(tb, "raw_") {
			cond += ` OR (school_code IS NULL AND school_name IN (SELECT unnest(string_split(?, ','))))`
			args = append(args, names)
		}
		want := one(t, wh.DB, `SELECT count(*) FROM `+tb+` WHERE `+cond, args...)
		if got := one(t, s.DB, `SELECT count(*) FROM `+tb); got != want || want == "0" {
			t.Errorf("%s: %s rows, want %s", tb, got, want)
		}
	}
	// Aggregates recomputed from the district's own rows agree with the city-wide model's
	// row for the district.
	q := `SELECT schools || '|' || schools_gate_met || '|' || teachers || '|' || complete || '|' || shortfall FROM district_summary WHERE district = ?`
	if a, b := one(t, wh.DB, q, d), one(t, s.DB, q, d); a != b {
		t.Errorf("district_summary: source %s, scoped %s", a, b)
	}
	if n := one(t, s.DB, `SELECT count(*) FROM district_summary`); n != "1" {
		t.Errorf("district_summary has %s rows, want 1", n)
	}
	q = `SELECT teachers || '|' || complete || '|' || participated FROM annual_by_group WHERE group_by = 'district' AND group_value = ?`
	if a, b := one(t, wh.DB, q, d), one(t, s.DB, q, d); a != b {
		t.Errorf("annual_by_group: source %s, scoped %s", a, b)
	}
	if a, b := one(t, wh.DB, `SELECT teachers FROM annual_by_group WHERE group_by = 'district' AND group_value = ?`, d), one(t, s.DB, `SELECT teachers FROM annual_summary`); a != b {
		t.Errorf("annual_summary of the district: %s teachers, want %s", b, a)
	}
	// The district's rejected rows are there (by the school they name), and only those.
	wantRej := one(t, wh.DB, `SELECT count(*) FROM rejects WHERE school_code IN (SELECT unnest(string_split(?, ',')))
		OR (school_code IS NULL AND school_name IN (SELECT unnest(string_split(?, ','))))`, mine, names)
	if got := one(t, s.DB, `SELECT count(*) FROM rejects`); got != wantRej || got == "0" {
		t.Errorf("rejects: %s in the district's database, want %s (and some)", got, wantRej)
	}
	// A shared file's counts are the district's own: accepted rows are the district's rows.
	q2 := `SELECT sum(accepted)::BIGINT FROM batches WHERE kind = 'teachers'`
	if a, b := one(t, s.DB, q2), one(t, s.DB, `SELECT count(*) FROM raw_teachers`); a != b {
		t.Errorf("batches say %s roster rows accepted, the district has %s", a, b)
	}
	if a, b := one(t, s.DB, `SELECT sum(accepted)::BIGINT FROM batches WHERE kind = 'schools'`), one(t, s.DB, `SELECT count(*) FROM raw_schools`); a != b || a == one(t, wh.DB, `SELECT sum(accepted)::BIGINT FROM batches WHERE kind = 'schools'`) {
		t.Errorf("school lists: %s accepted in the district's view, %s rows of its own", a, b)
	}
	// The scoped database is locked like the serving one.
	if _, err := s.DB.Exec(`SET memory_limit = '10GB'`); err == nil {
		t.Error("configuration of a scoped database can be changed")
	}
}

func TestSchoolDatabase(t *testing.T) {
	wh := demo(t)
	ctx := context.Background()
	school := one(t, wh.DB, `SELECT min(school_code) FROM school_gate`)
	s, err := Build(ctx, wh.DB, cat(t), Key{School: school}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	for _, tb := range []string{"teacher_progress", "school_gate", "raw_hours", "swot_inputs", "unmatched_rows"} {
		if n := one(t, s.DB, `SELECT count(*) FROM `+tb+` WHERE school_code <> ?`, school); n != "0" {
			t.Errorf("%s: %s rows of other schools", tb, n)
		}
	}
	for _, tb := range []string{"district_summary", "annual_summary"} {
		if n := one(t, s.DB, `SELECT count(*) FROM `+tb); n != "0" {
			t.Errorf("%s: %s rows in a school's database", tb, n)
		}
	}
	if n := one(t, s.DB, `SELECT count(*) FROM coverage WHERE scope <> 'school' OR scope_code <> ?`, school); n != "0" {
		t.Errorf("coverage: %s rows beyond the school", n)
	}
}

func TestSetSharesAndInvalidates(t *testing.T) {
	wh := demo(t)
	ctx := context.Background()
	d := one(t, wh.DB, `SELECT min(district) FROM school_info`)
	builds := 0
	set := NewSet(wh.DB, cat(t), Options{Max: 1}, slog.New(slog.NewTextHandler(io.Discard, nil)), func(*sql.DB) (any, error) { builds++; return builds, nil })
	a, ra, err := set.Get(ctx, Key{District: d})
	if err != nil {
		t.Fatal(err)
	}
	b, rb, _ := set.Get(ctx, Key{District: d})
	if a != b || builds != 1 {
		t.Fatalf("second Get built again (%d builds)", builds)
	}
	set.Invalidate()
	// still usable by those holding it
	if one(t, a.DB, `SELECT count(*) > 0 FROM school_gate`) != "true" {
		t.Fatal("database closed under a holder")
	}
	ra()
	rb()
	c, rc, _ := set.Get(ctx, Key{District: d})
	defer rc()
	if c == a || builds != 2 {
		t.Fatalf("after a refresh the old database was reused (%d builds)", builds)
	}
	if _, _, err := set.Get(ctx, Key{}); err == nil {
		t.Fatal("an empty scope got a database")
	}
}

// TestCopyInRuns: a copy cut into runs of keys moves every row of the scope once, whatever
// the run size: keys compared in their own order (batch 10 after 9), NULL keys, a key with
// more rows than a run, and rows outside the scope left behind.
func TestCopyInRuns(t *testing.T) {
	ctx := context.Background()
	open := func() (*sql.DB, *sql.Conn) {
		db, err := sql.Open("duckdb", "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return db, conn
	}
	_, src := open()
	dstDB, dst := open()
	for _, q := range []string{
		`CREATE TABLE raw_x (batch_id BIGINT, school_code VARCHAR, v INTEGER)`,
		// batches 1..12, rows i = 0, 1 (batch 10: 0..4), v = batch*100 + i; every row with
		// i divisible by 3 is school B's, outside the scope. So the scope keeps batch*100+1 for each
		// batch but 10, and 1001, 1002, 1004; and of the NULL batches -1 and -2.
		`INSERT INTO raw_x SELECT b, CASE WHEN i % 3 = 0 THEN 'B' ELSE 'A' END, b * 100 + i
		 FROM range(1, 13) r(b), range(0, CASE WHEN b = 10 THEN 5 ELSE 2 END) s(i)`,
		`INSERT INTO raw_x VALUES (NULL, 'A', -1), (NULL, 'A', -2), (NULL, 'B', -3)`,
		`CREATE TABLE per_month (month VARCHAR, school_code VARCHAR, v INTEGER)`,
		`INSERT INTO per_month VALUES ('2025-05', 'A', 1), ('2025-06', 'A', 2), ('2025-06', 'A', 3), ('2025-10', 'A', 4), ('2025-07', 'B', 5), ('2026-01', 'A', 6)`,
	} {
		if _, err := src.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	srcAr, err := arrowOf(src)
	if err != nil {
		t.Fatal(err)
	}
	dstAr, err := arrowOf(dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range []int64{1, 2, 3, 1000} {
		for _, tc := range []struct{ table, want string }{
			{"raw_x", "-2,-1,101,201,301,401,501,601,701,801,901,1001,1002,1004,1101,1201"},
			{"per_month", "1,2,3,4,6"},
		} {
			t.Run(fmt.Sprint(tc.table, " run ", run), func(t *testing.T) {
				if _, err := dst.ExecContext(ctx, "DROP TABLE IF EXISTS "+tc.table); err != nil {
					t.Fatal(err)
				}
				if err := copyTable(ctx, src, dst, srcAr, dstAr, tc.table, "SELECT * FROM "+tc.table+" WHERE school_code = 'A'", run); err != nil {
					t.Fatal(err)
				}
				if got := one(t, dstDB, "SELECT string_agg(v::VARCHAR, ',' ORDER BY v) FROM "+tc.table); got != tc.want {
					t.Errorf("copied %s, want %s", got, tc.want)
				}
			})
		}
	}
}

// TestRefreshRewarmsOneAtATime: after a refresh the databases in use are built again in the
// background, every one of them, but one at a time, most recently used first.
func TestRefreshRewarmsOneAtATime(t *testing.T) {
	wh := demo(t)
	ctx := context.Background()
	rows, err := wh.DB.Query(`SELECT DISTINCT district FROM school_info ORDER BY 1 LIMIT 3`)
	if err != nil {
		t.Fatal(err)
	}
	var districts []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			t.Fatal(err)
		}
		districts = append(districts, d)
	}
	rows.Close()
	if len(districts) < 3 {
		t.Fatalf("the demo has %d districts", len(districts))
	}
	var mu sync.Mutex
	active, most := 0, 0
	var order []string
	set := NewSet(wh.DB, cat(t), Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)), func(db *sql.DB) (any, error) {
		var d string
		if err := db.QueryRow(`SELECT min(district) FROM school_info`).Scan(&d); err != nil {
			return nil, err
		}
		mu.Lock()
		active++
		most = max(most, active)
		order = append(order, d)
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		active--
		mu.Unlock()
		return nil, nil
	})
	defer set.Close()
	for _, d := range districts {
		_, release, err := set.Get(ctx, Key{District: d})
		if err != nil {
			t.Fatal(err)
		}
		release()
		time.Sleep(5 * time.Millisecond) // distinct last-use times
	}
	mu.Lock()
	order, most = nil, 0
	mu.Unlock()
	set.Invalidate()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(order)
		mu.Unlock()
		if n == len(districts) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the refresh %d of %d databases were rebuilt", n, len(districts))
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if most != 1 {
		t.Errorf("%d databases were built at once", most)
	}
	want := []string{districts[2], districts[1], districts[0]}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("rebuilt in the order %v, want the most recently used first %v", order, want)
	}
}

// A database the Set builds answers before its raw tables are in: they are copied in the
// background, Ready waits for them, and then they and every file's counts equal a
// database built whole.
func TestRawTablesFollowLazily(t *testing.T) {
	wh := demo(t)
	ctx := context.Background()
	d := one(t, wh.DB, `SELECT min(district) FROM school_info`)
	whole, err := Build(ctx, wh.DB, cat(t), Key{District: d}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer whole.close()
	set := NewSet(wh.DB, cat(t), Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	defer set.Close()
	lazy, release, err := set.Get(ctx, Key{District: d})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	// the files' counts are the scope's before a raw row is in
	const counts = `SELECT string_agg(batch_id || ':' || accepted || '/' || rejected, ' ' ORDER BY batch_id) FROM batches`
	if a, b := one(t, whole.DB, counts), one(t, lazy.DB, counts); a != b || a == "" {
		t.Errorf("file counts: whole %s, lazy %s", a, b)
	}
	if err := lazy.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tb := range []string{"raw_teachers", "raw_hours", "raw_progress", "raw_assessments"} {
		q := `SELECT count(*) || ':' || coalesce(sum(hash(row_no, batch_id)), 0) FROM ` + tb
		if a, b := one(t, whole.DB, q), one(t, lazy.DB, q); a != b {
			t.Errorf("%s: whole %s, lazy %s", tb, a, b)
		}
	}
	if one(t, lazy.DB, `SELECT count(*) FROM raw_hours`) == "0" {
		t.Error("no raw rows: the test shows nothing")
	}
}
