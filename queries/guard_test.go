package queries

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestGuardAttacks tries every way around the guard that the issue reports, and more: each
// must be refused before it runs, with a Chinese message naming what was refused.
func TestGuardAttacks(t *testing.T) {
	wh := demo(t)
	r, err := NewRunner(wh.DB)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAdHoc(r, analystTables(t))
	ctx := context.Background()
	const (
		show    = "不能使用 SUMMARIZE、DESCRIBE 或 SHOW"
		nextv   = "不能调用函数「nextval」"
		setting = "不能调用函数「current_setting」"
		meta    = "不能读取「meta」"
	)
	for _, c := range []struct{ name, q, want string }{
		// reported in the issue
		{"summarize", "SUMMARIZE meta", show},
		{"summarize analyst table", "SUMMARIZE teacher_progress", show},
		{"describe", "DESCRIBE meta", show},
		{"describe query", "DESCRIBE SELECT * FROM teacher_progress", show},
		{"show all tables", "SHOW ALL TABLES", show},
		{"show tables", "SHOW TABLES", show},
		{"summarize subquery", "SELECT * FROM (SUMMARIZE meta)", show},
		{"describe in exists", "SELECT count(*) FROM teacher_progress WHERE EXISTS (FROM (DESCRIBE meta))", show},
		{"summarize in cte", "WITH x AS (SUMMARIZE meta) SELECT * FROM x", "查询有语法错误"},
		{"nextval", "SELECT max(nextval('batch_seq')) FROM range(1000000)", nextv},
		{"currval", "SELECT currval('batch_seq')", "不能调用函数「currval」"},
		{"setval", "SELECT setval('batch_seq', 1)", "不能调用函数「setval」"},
		{"current_setting", "SELECT current_setting('temp_directory')", setting},
		// casing, quoting, qualification
		{"upper-case function", "SELECT CURRENT_SETTING('memory_limit')", setting},
		{"quoted function", `SELECT "current_setting"('memory_limit')`, setting},
		{"qualified function", "SELECT main.current_setting('memory_limit')", "不能调用函数「main.current_setting」"},
		{"pg_catalog function", "SELECT pg_catalog.current_setting('memory_limit')", "pg_catalog.current_setting"},
		{"quoted upper-case table", `SELECT * FROM "META"`, meta},
		{"qualified table", "SELECT * FROM Main.Meta", "不能读取「main.meta」"},
		{"catalog-qualified table", "SELECT * FROM memory.main.meta", "不能读取"},
		{"from-first", "FROM meta", meta},
		{"star exclude", "SELECT * EXCLUDE (key) FROM meta", meta},
		// a partitioned model's month tables are read through its view only
		{"month partition", "SELECT * FROM __m_teacher_points_2025_06", "不能读取「__m_teacher_points_2025_06」"},
		{"month partition template", `SELECT * FROM "__m_teacher_category_hours_0000_00"`, "不能读取"},
		// nesting
		{"scalar subquery", "SELECT * FROM teacher_progress WHERE name = (SELECT value FROM meta)", meta},
		{"deep subquery", "SELECT (SELECT (SELECT (SELECT value FROM meta)))", meta},
		{"join", "SELECT * FROM teacher_progress JOIN meta ON true", meta},
		{"union", "SELECT name FROM teacher_progress UNION ALL SELECT value FROM meta", meta},
		{"set operation function", "SELECT 1 UNION ALL SELECT nextval('batch_seq')", nextv},
		{"lambda", "SELECT list_transform([1], x -> nextval('batch_seq'))", nextv},
		{"lambda, keyword syntax", "SELECT list_transform([1], lambda x: nextval('batch_seq'))", nextv},
		{"recursive cte reads meta", "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT 1 FROM t, meta WHERE false) SELECT * FROM t", meta},
		{"recursive cte using key", "WITH RECURSIVE t(n) USING KEY (n) AS (SELECT 1 UNION SELECT n + 1 FROM t WHERE n < current_setting('threads')::INT) SELECT * FROM t", setting},
		{"filter clause", "SELECT count(*) FILTER (WHERE current_setting('threads') = '1') FROM teacher_progress", setting},
		{"order by", "SELECT 1 ORDER BY nextval('batch_seq')", nextv},
		{"values", "VALUES (nextval('batch_seq'))", nextv},
		{"window argument", "SELECT lag(current_setting('threads')) OVER () FROM range(2)", setting},
		{"limit expression", "SELECT 1 LIMIT (SELECT count(*) FROM meta)", meta},
		// CTE shadowing and scope
		{"cte shadows meta", "WITH meta AS (SELECT * FROM meta) SELECT * FROM meta", meta},
		{"recursive cte shadows meta", "WITH RECURSIVE meta AS (SELECT * FROM meta UNION ALL SELECT * FROM meta WHERE false) SELECT * FROM meta", meta},
		{"cte out of scope", "SELECT * FROM (WITH meta AS (SELECT 1) SELECT * FROM meta) x, meta", meta},
		{"later cte", "WITH a AS (SELECT * FROM meta), meta AS (SELECT 1) SELECT * FROM a", meta},
		// comments and several statements
		{"comment hides nothing", "SELECT /* teacher_progress */ * FROM meta -- teacher_progress", meta},
		{"second statement after comment", "SELECT 1 /* ; */; -- x\nSUMMARIZE meta", "2 条"},
		{"pragma", "PRAGMA database_list", "只允许只读查询"},
		{"pragma show", "PRAGMA show_tables", "只允许只读查询"},
		{"call", "CALL pragma_version()", "只允许只读查询"},
		{"explain", "EXPLAIN SELECT * FROM meta", "只允许只读查询"},
		{"set variable", "SET VARIABLE x = 1", "只允许只读查询"},
		// catalog views and table functions
		{"settings function", "SELECT * FROM duckdb_settings()", "不能使用表函数「duckdb_settings」"},
		{"tables view", "SELECT * FROM duckdb_tables", "不能读取「duckdb_tables」"},
		{"information_schema", "SELECT * FROM information_schema.tables", "不能读取「information_schema.tables」"},
		{"pragma view", "SELECT * FROM pragma_database_list", "不能读取「pragma_database_list」"},
		{"sqlite_master", "SELECT * FROM sqlite_master", "不能读取「sqlite_master」"},
		{"migrations", "SELECT * FROM schema_migrations", "不能读取「schema_migrations」"},
		{"staging table", "SELECT * FROM __next_teacher_progress", "不能读取「__next_teacher_progress」"},
		{"glob", "SELECT * FROM glob('*')", "不能使用表函数「glob」"},
		{"parquet", "SELECT * FROM read_parquet('x.parquet')", "不能使用表函数「read_parquet」"},
		{"query_table", "SELECT * FROM query_table('meta')", "不能使用表函数「query_table」"},
		{"execute serialized", "SELECT * FROM json_execute_serialized_sql('{}')", "不能使用表函数「json_execute_serialized_sql」"},
		{"table function in subquery", "SELECT * FROM teacher_progress WHERE name IN (SELECT name FROM duckdb_functions())", "duckdb_functions"},
		{"checkpoint", "SELECT * FROM checkpoint()", "不能使用表函数「checkpoint」"},
		// functions that reveal the catalog, settings or session, or bind SQL
		{"current_database", "SELECT current_database()", "不能调用函数「current_database」"},
		{"current_schemas", "SELECT current_schemas(true)", "不能调用函数「current_schemas」"},
		{"version", "SELECT version()", "不能调用函数「version」"},
		{"getvariable", "SELECT getvariable('x')", "不能调用函数「getvariable」"},
		{"serialize plan", "SELECT json_serialize_plan('SELECT * FROM meta')", "不能调用函数「json_serialize_plan」"},
		{"aggregate by name", "SELECT list_aggregate([1], 'max')", "不能调用函数「list_aggregate」"},
		{"setseed", "SELECT setseed(0.5)", "不能调用函数「setseed」"},
		// macros
		{"current_user keyword", "SELECT current_user", "不能调用函数「current_user」"},
		{"current_catalog keyword names the file", "SELECT current_catalog", "不能调用函数「current_catalog」"},
		{"current_schema keyword", "SELECT upper(CURRENT_SCHEMA)", "不能调用函数「current_schema」"},
		{"pg macro", "SELECT pg_get_viewdef(1)", "不能调用函数「pg_get_viewdef」"},
		{"block size macro", "SELECT get_block_size('memory')", "不能调用函数「get_block_size」"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.Run(ctx, c.q)
			var ge *GuardError
			if !errors.As(err, &ge) || !strings.Contains(ge.Msg, c.want) {
				t.Fatalf("%s\nerr = %v; want a refusal with %q", c.q, err, c.want)
			}
		})
	}
	for _, c := range []struct{ name, q, want string }{
		{"count", "SELECT count(*) > 0 FROM teacher_progress", "true"},
		{"cte over analyst table", "WITH x AS (SELECT * FROM school_gate) SELECT count(*) > 0 FROM x", "true"},
		{"recursive cte", "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT sum(n) FROM t", "15"},
		{"cte named like an analyst table", "WITH roster AS (SELECT 2 AS n) SELECT n FROM roster", "2"},
		{"window", "SELECT max(rn) FROM (SELECT row_number() OVER (ORDER BY i) AS rn FROM range(4) r(i))", "4"},
		{"lambda and list", "SELECT list_transform([1, 2], lambda x: x * 2)[2]", "4"},
		{"operators", "SELECT ('a' || 'b') LIKE 'a%'", "true"},
		{"struct", "SELECT {'a': 7}.a", "7"},
		{"date", "SELECT strftime(DATE '2025-06-30', '%Y-%m')", "2025-06"},
		{"unnest", "SELECT sum(x) FROM unnest([1, 2, 3]) t(x)", "6"},
		{"values", "SELECT a FROM (VALUES (9)) v(a)", "9"},
		{"case coalesce nullif cast", "SELECT coalesce(nullif(1, 1), CASE WHEN true THEN CAST('3' AS INTEGER) END)", "3"},
		{"macro", "SELECT count_if(x > 1) FROM range(4) r(x)", "2"},
		{"in subquery", "SELECT count(*) = (SELECT count(*) FROM teacher_progress) FROM teacher_progress WHERE name IN (SELECT name FROM teacher_progress)", "true"},
		{"upper-case table", "SELECT count(*) > 0 FROM TEACHER_PROGRESS", "true"},
		{"quoted table", `SELECT count(*) > 0 FROM "teacher_progress"`, "true"},
		{"main schema", "SELECT count(*) > 0 FROM main.teacher_progress", "true"},
		{"partitioned model, every month", "SELECT count(DISTINCT month) = (SELECT count(*) FROM months) FROM teacher_points", "true"},
		{"partitioned model, one month", "SELECT count(*) > 0 FROM teacher_category_hours WHERE month = (SELECT max(month) FROM months)", "true"},
	} {
		t.Run("allowed/"+c.name, func(t *testing.T) {
			res, err := a.Run(ctx, c.q)
			if err != nil {
				t.Fatalf("%s: %v", c.q, err)
			}
			if got := plainText(res.Rows[0][0]); got != c.want {
				t.Fatalf("%s = %s, want %s", c.q, got, c.want)
			}
		})
	}
}

func plainText(v any) string {
	if d, ok := v.(Dec); ok {
		return d.Text
	}
	return strings.TrimSpace(strings.ReplaceAll(fmt.Sprint(v), "\n", " "))
}

// TestResultByteCap: a result of many big values stops at the byte cap and says so.
func TestResultByteCap(t *testing.T) {
	wh := demo(t)
	r, _ := NewRunner(wh.DB)
	a := NewAdHoc(r, analystTables(t))
	a.ByteLimit = 1 << 20
	res, err := a.Run(context.Background(), "SELECT repeat('x', 1000) AS v FROM range(5000)")
	if err != nil {
		t.Fatal(err)
	}
	// Each row costs 1,000 bytes of text and 2 of quoting: 1,048,576 / 1,002 = 1,046 rows fit.
	if !res.Truncated || len(res.Rows) != 1046 {
		t.Fatalf("truncated %v with %d rows, want a cut at 1046", res.Truncated, len(res.Rows))
	}
	if !strings.Contains(res.Note, "超过 1 MB 的大小上限") {
		t.Fatalf("note %q does not say the size cap cut the result", res.Note)
	}
	var csv strings.Builder
	if err := WriteCSV(&csv, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), "超过 1 MB 的大小上限") {
		t.Fatal("the CSV does not say it was cut")
	}
}

// TestMemoryCeiling: queries whose memory DuckDB's memory_limit does not count (a
// materialised result of big strings, a string_agg state) fail at the ceiling, and the
// database answers right after.
func TestMemoryCeiling(t *testing.T) {
	wh := demo(t)
	r, _ := NewRunner(wh.DB)
	a := NewAdHoc(r, analystTables(t))
	a.Memory = 256 << 20
	for _, q := range []string{
		"SELECT repeat('x', 100000) FROM range(10000)",
		// a string_agg state (of a literal: repeat inside an aggregate is refused by the guard)
		"SELECT length(string_agg('" + strings.Repeat("x", 1000) + "' || i, ',')) FROM range(3000000) t(i)",
	} {
		t0 := time.Now()
		_, err := a.Run(context.Background(), q)
		t.Logf("%s: %v after %v", q, err, time.Since(t0))
		t0 = time.Now()
		if !errors.Is(err, ErrMemory) {
			t.Fatalf("%s: err = %v, want the memory ceiling", q, err)
		}
		var buf strings.Builder
		if _, err := a.WriteArrow(context.Background(), &buf, q); !errors.Is(err, ErrMemory) {
			t.Fatalf("arrow %s: err = %v, want the memory ceiling", q, err)
		}
		t.Logf("arrow after %v", time.Since(t0))
		if _, err := a.Run(context.Background(), "SELECT count(*) FROM teacher_progress"); err != nil {
			t.Fatal(err)
		}
	}
}
