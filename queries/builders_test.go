package queries

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestBuildBounds: every function that can build a large value in one call is refused,
// before it runs, when it is asked for more than MaxBuild or for a size nothing bounds
// (calls that ran far past their time limit, casts, subqueries, nested builders, lambdas); the same
// functions within the bounds run.
func TestBuildBounds(t *testing.T) {
	wh := demo(t)
	r, err := NewRunner(wh.DB)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAdHoc(r, analystTables(t))
	a.Timeout = 20 * time.Second
	ctx := context.Background()
	const (
		big     = "过大"
		literal = "必须直接写成整数"
		nested  = "嵌套的构造会成倍放大"
	)
	for _, c := range []struct{ name, q, want string }{
		// calls an attack ran for minutes
		{"regexp_replace over repeat", "SELECT length(regexp_replace(repeat('a',500000000),'a','bbbb','g'))", "最多构造 100000"},
		{"lpad 2e9", "SELECT length(lpad('x',2000000000,'y'))", big},
		// one per builder
		{"repeat", "SELECT repeat('a', 100001)", big},
		{"repeat long literal", "SELECT repeat('ab', 60000)", big},
		{"repeat list", "SELECT repeat([1, 2, 3], 50000)", big},
		{"repeat a column", "SELECT repeat(name, 2) FROM teacher_progress", "只能重复直接写出"},
		{"rpad", "SELECT rpad('x', 1000000, 'y')", big},
		{"lpad width from a column", "SELECT lpad('x', teachers, 'y') FROM school_gate", literal},
		{"list_resize", "SELECT list_resize([1], 1000000000)", big},
		{"array_resize", "SELECT array_resize([1], 1000000)", big},
		{"list_resize fill from a builder", "SELECT list_resize([1], 10, lpad('x', 10, 'y'))", "填充值必须直接写出"},
		{"list_resize big fill", "SELECT list_resize(['a'], 50000, 'bbb')", big},
		{"range", "SELECT len(range(2000000000))", big},
		{"range start stop", "SELECT len(range(-1000000000, 1000000000))", big},
		{"generate_series step", "SELECT generate_series(0, 10000000, 2)", big},
		{"range from a column", "SELECT range(teachers) FROM school_gate", literal},
		{"scalar date series", "SELECT generate_series(DATE '2000-01-01', DATE '2100-01-01', INTERVAL 1 DAY)", "表函数"},
		{"bar", "SELECT bar(1, 0, 10, 1000000000)", big},
		{"to_base", "SELECT to_base(1, 2, 1000000000)", big},
		{"bitstring", "SELECT bitstring('1', 2000000000)", big},
		{"equi_width_bins", "SELECT equi_width_bins(0, 10, 1000000000, false)", big},
		{"printf width", "SELECT printf('%2000000000d', 1)", big},
		{"printf precision", "SELECT printf('%.999999999f', 1.5)", big},
		{"printf star", "SELECT printf('%*d', 2000000000, 1)", "不能用 *"},
		{"printf pattern from a column", "SELECT printf(name, 1) FROM teacher_progress", "格式串必须直接写出"},
		{"format width", "SELECT format('{:>2000000000}', 'x')", big},
		{"format nested width", "SELECT format('{:>{}}', 'x', 2000000000)", "不能用 *"},
		{"regexp_replace long replacement", "SELECT regexp_replace(name, '', '" + strings.Repeat("x", 101) + "', 'g') FROM teacher_progress", "最多 100 个"},
		{"regexp_replace replacement from a column", "SELECT regexp_replace(name, '', name, 'g') FROM teacher_progress", "替换文本必须直接写出"},
		{"replace replacement from a column", "SELECT replace(name, '', name) FROM teacher_progress", "替换文本必须直接写出"},
		// casts
		{"cast of a string", "SELECT repeat('a', '2000000000'::INTEGER)", literal},
		{"cast of a decimal", "SELECT repeat('a', 1e9::BIGINT)", literal},
		{"huge integer", "SELECT repeat('a', 99999999999999999999999999)", literal},
		{"cast of a big integer", "SELECT lpad('x', 2000000000::BIGINT, 'y')", big},
		{"arithmetic", "SELECT lpad('x', 1000 * 1000000, 'y')", literal},
		// subqueries supplying the size or the input
		{"size from a subquery", "SELECT repeat('a', (SELECT count(*) FROM teacher_progress))", literal},
		{"size from a cte", "WITH n AS (SELECT 2000000000 AS n) SELECT lpad('x', (SELECT n FROM n), 'y')", literal},
		{"input from an aggregate subquery", "SELECT regexp_replace((SELECT string_agg(name, '') FROM teacher_progress), 'a', 'bb', 'g')", nested},
		// nesting
		{"lpad of repeat", "SELECT lpad(repeat('a', 10), 100, 'x')", nested},
		{"regexp_replace of regexp_replace", "SELECT regexp_replace(regexp_replace(name, '', 'xx', 'g'), '', 'yy', 'g') FROM teacher_progress", nested},
		{"replace of an aggregate", "SELECT replace(string_agg(name, ''), 'a', 'bbbb') FROM teacher_progress", nested},
		{"aggregate of builders", "SELECT string_agg(lpad(name, 100000, 'x'), '') FROM teacher_progress", nested},
		{"window aggregate of builders", "SELECT string_agg(repeat('a', 1000), '') OVER () FROM teacher_progress", nested},
		{"builder in a lambda", "SELECT list_transform(range(100), x -> repeat('a', 1000))", "lambda"},
		{"builder in a filter lambda", "SELECT list_filter([1, 2], x -> length(lpad('a', 1000, 'b')) > x)", "lambda"},
		// extensions DuckDB would try to install
		{"localtimestamp", "SELECT localtimestamp", "需要扩展 icu"},
		{"localtime", "SELECT localtime", "需要扩展 icu"},
		{"inet", "SELECT '1.2.3.4'::INET", "不支持类型「inet」"},
		{"inet list", "SELECT CAST(NULL AS INET[])", "不支持类型「inet」"},
		// GEOMETRY is built into DuckDB 1.5.6; BOX_2D still comes with the spatial extension
		{"extension type", "SELECT TRY_CAST(name AS BOX_2D) FROM teacher_progress", "不支持类型「box_2d」"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			err := a.Check(ctx, c.q)
			var ge *GuardError
			if !errors.As(err, &ge) || !strings.Contains(ge.Msg, c.want) {
				t.Fatalf("%s\nerr = %v; want a refusal with %q", c.q, err, c.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("refused after %s: it ran", d)
			}
		})
	}
	for _, q := range []string{
		"SELECT repeat('ab', 10)",
		"SELECT repeat('a', 100000)",
		"SELECT repeat([1, 2], 3)",
		"SELECT lpad(school_code, 12, '0') FROM school_gate",
		"SELECT lpad('x', 5::INTEGER, 'y')",
		"SELECT bar(teachers, 0, 100, 20) FROM school_gate",
		"SELECT bar(teachers, 0, 100) FROM school_gate",
		"SELECT unnest(range(1, 13))",
		"SELECT generate_series(1, 100000)",
		"SELECT * FROM range(10)",
		"SELECT * FROM generate_series(DATE '2025-01-01', DATE '2025-12-01', INTERVAL 1 MONTH)",
		"SELECT printf('%05.1f|%-8s|%%', 3.14159, 'x')",
		"SELECT format('{:>8}|{}|{{}}', 'x', 2)",
		"SELECT regexp_replace(name, '[0-9]', '*', 'g') FROM teacher_progress",
		"SELECT replace(name, '老师', '') FROM teacher_progress",
		"SELECT string_agg(name, ',') FROM teacher_progress",
		"SELECT string_agg(lpad(school_code, 12, '0'), ',') FROM school_gate", // no: nested, see below
		"SELECT list_transform([1, 2], x -> x * 2)",
		"SELECT list_resize([1, 2], 5, 0)",
		"SELECT to_base(255, 16, 8)",
		"SELECT '{}'::JSON",
		"SELECT lpad((SELECT count(*)::VARCHAR FROM range(10)), 5, '0')",
		"SELECT current_timestamp, now(), current_date",
	} {
		if strings.HasPrefix(q, "SELECT string_agg(lpad") {
			continue // an aggregate of builders is refused (above); listed to say so
		}
		if _, err := a.Run(ctx, q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

// The format pattern scanners, on their own.
func TestPatternWidths(t *testing.T) {
	for _, c := range []struct {
		p    string
		want int64
		ok   bool
	}{
		// every width and precision adds to the output: the sum, not the largest
		{"%d", 0, true}, {"%%%5d", 5, true}, {"%-12.3f", 15, true}, {"%2$s %1$s", 3, true}, {"%*d", 0, false}, {"%.*f", 0, false},
		{"%99999999999999999999d", 2147483647, true}, {"100%", 0, true}, {"%1$99999s%1$99999s", 199_998 + 2, true},
		{strings.Repeat("%1$99999s", 30000), 2147483647, true},
	} {
		if got, ok := printfWidths(c.p); got != c.want || ok != c.ok {
			t.Errorf("printf %q: %d %v", c.p, got, ok)
		}
	}
	for _, c := range []struct {
		p    string
		want int64
		ok   bool
	}{
		{"{}", 0, true}, {"{{}}", 0, true}, {"{:>10}", 10, true}, {"{0:.3f}", 3, true}, {"{:{}}", 0, false}, {"{:>{0}}", 0, false},
		{"{:>60000}{:>60000}", 120000, true},
	} {
		if got, ok := fmtWidths(c.p); got != c.want || ok != c.ok {
			t.Errorf("fmt %q: %d %v", c.p, got, ok)
		}
	}
}

// The bypasses of the size rule found after it was first built, by an attack: printf's widths
// added up, higher-order functions over a builder's list, builders and aggregates that
// reach a builder through the columns of CTEs, derived tables, VALUES, table functions and
// recursive CTEs, and many builders joined in one query. Each runs within seconds without
// the rule (or builds hundreds of MB); each is refused before it runs.
func TestBuildBypasses(t *testing.T) {
	a := adhoc(t)
	ctx := context.Background()
	const (
		nested = "嵌套的构造会成倍放大"
		lambda = "lambda"
		total  = "合计要构造"
	)
	for _, c := range []struct{ name, q, want string }{
		// printf and format: the widths add up
		{"printf 2,000 widths", "SELECT length(printf('" + strings.Repeat("%1$99999s", 2000) + "', 'x'))", "宽度和精度合计"},
		{"printf two widths", "SELECT printf('%60000s%60000s', 'a', 'b')", "宽度和精度合计"},
		{"format two widths", "SELECT format('{:>60000}{:>60000}', 'a', 'b')", "宽度和精度合计"},
		// many builders in one query
		{"builders joined", "SELECT length(repeat('a', 60000) || repeat('b', 60000))", total},
		{"printf calls joined", "SELECT length(" + strings.Repeat("printf('%99999s', '') || ", 5) + "'')", total},
		// higher-order functions over a builder's or an aggregate's list
		{"list_transform over range", "SELECT length(array_to_string(list_transform(range(10000), x -> 'abcdefghij'), ''))", nested},
		{"list_transform over range, column", "SELECT len(list_transform(range(10000), x -> name)) FROM teacher_progress", "不能作用于"},
		{"apply over list_resize", "SELECT apply(list_resize([1], 10000, 0), x -> x + 1)", "不能作用于"},
		{"list_filter over an aggregate", "SELECT list_filter(list(name), x -> x LIKE '张%') FROM teacher_progress", "不能作用于"},
		{"list_reduce over string_split of repeat", "SELECT list_reduce(string_split(repeat('a,', 10000), ','), (a, b) -> a || b)", "不能作用于"},
		{"lambda over a built column", "WITH c AS (SELECT string_agg(name, '') AS s FROM teacher_progress) SELECT list_transform([1, 2], x -> s) FROM c", lambda},
		{"lambda over an aggregate subquery", "SELECT list_transform(string_split(name, ''), x -> (SELECT string_agg(name, '') FROM teacher_progress)) FROM teacher_progress", lambda},
		// through a derived table or a CTE
		{"regexp_replace over a derived table", "SELECT length(regexp_replace(s, 'a', 'bbbb', 'g')) FROM (SELECT repeat('a', 100000) AS s)", nested},
		{"lpad over a derived aggregate", "SELECT lpad(s, 100000, 'x') FROM (SELECT string_agg(name, '') AS s FROM teacher_progress)", nested},
		{"list_resize over a cte", "WITH c AS (SELECT range(1000) AS l) SELECT len(list_resize(l, 1000)) FROM c", nested},
		{"replace over a string_agg cte", "WITH c AS (SELECT string_agg(name, '') AS s FROM teacher_progress) SELECT length(replace(s, '张', 'bbbb')) FROM c", nested},
		{"two ctes", "WITH a AS (SELECT repeat('a', 1000) AS s), b AS (SELECT s AS u FROM a) SELECT lpad(u, 10, 'x') FROM b", nested},
		{"cte column aliases", "WITH c(t) AS (SELECT repeat('a', 1000)) SELECT lpad(t, 10, 'x') FROM c", nested},
		{"derived column aliases", "SELECT lpad(t, 10, 'x') FROM (SELECT repeat('a', 1000)) AS x(t)", nested},
		{"star", "WITH a AS (SELECT repeat('a', 1000) AS s) SELECT lpad(s, 10, 'x') FROM (SELECT * FROM a)", nested},
		{"star replace", "SELECT lpad(s, 10, 'x') FROM (SELECT * REPLACE (repeat('a', 1000) AS s) FROM (SELECT 'a' AS s))", nested},
		{"union", "SELECT lpad(s, 10, 'x') FROM (SELECT 'a' AS s UNION ALL SELECT repeat('b', 1000))", nested},
		{"values", "SELECT lpad(col0, 10, 'x') FROM (VALUES (repeat('a', 1000)))", nested},
		{"generated name", `SELECT lpad("repeat('a', 1000)", 10, 'x') FROM (SELECT repeat('a', 1000))`, nested},
		{"unnest of a built list", "SELECT lpad(u, 10, 'x') FROM unnest(list_resize(['a'], 1000, 'b')) t(u)", nested},
		{"correlated subquery", "SELECT (SELECT lpad(s, 10, 'x')) FROM (SELECT repeat('a', 1000) AS s)", nested},
		{"recursive cte", "WITH RECURSIVE r(s, n) AS (SELECT 'a', 0 UNION ALL SELECT regexp_replace(s, 'a', 'aa', 'g'), n + 1 FROM r WHERE n < 40) SELECT max(length(s)) FROM r", nested},
		{"recursive cte, built later", "WITH RECURSIVE r(s, n) AS (SELECT 'a', 0 UNION ALL SELECT s || lpad('', 10, 'x'), n + 1 FROM r WHERE n < 40) SELECT lpad(s, 10, 'y') FROM r", nested},
		// separators, searches, the text itself
		{"array_to_string long separator", "SELECT array_to_string([1, 2], '" + strings.Repeat("x", 101) + "')", "最多 100 个"},
		{"array_to_string separator from a column", "SELECT array_to_string([1, 2], name) FROM teacher_progress", "分隔符必须直接写出"},
		{"replace long search", "SELECT replace(name, '" + strings.Repeat("张", 101) + "', '') FROM teacher_progress", "要查找的文本"},
		{"replace search from a column", "SELECT replace(name, name, '') FROM teacher_progress", "要查找的文本"},
		{"query too long", "SELECT '" + strings.Repeat("长", MaxQueryChars) + "'", "查询过长"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := a.Check(ctx, c.q)
			var ge *GuardError
			if !errors.As(err, &ge) || !strings.Contains(ge.Msg, c.want) {
				t.Fatalf("%.300s\nerr = %v; want a refusal with %q", c.q, err, c.want)
			}
		})
	}
	// what analysts write keeps running
	for _, q := range []string{
		"SELECT printf('%5s|%5s|%-8.2f', 'a', 'b', 3.14159)",
		"SELECT format('{:>8}|{:<8}', 'a', 'b')",
		"SELECT repeat('-', 40) || repeat('=', 40)",
		"WITH c AS (SELECT name AS s FROM teacher_progress) SELECT lpad(s, 20, ' ') FROM c",
		"WITH c AS (SELECT string_agg(name, ',') AS s FROM teacher_progress) SELECT length(s) FROM c",
		"SELECT district, string_agg(school_code, '、') FROM school_gate GROUP BY district",
		"SELECT list_transform([1, 2, 3], m -> m * 2)",
		"SELECT list_filter(string_split(name, ''), c -> c <> '张') FROM teacher_progress",
		"SELECT array_to_string(['a', 'b'], '、')",
		"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 12) SELECT lpad(n::VARCHAR, 2, '0') FROM r",
		"SELECT replace(name, '老师', '') FROM teacher_progress",
		"SELECT replace(name, left(school_code, 3), '') FROM teacher_progress",
	} {
		if _, err := a.Run(ctx, q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

// Functions whose time grows faster than their arguments (costly.go): refused unless the
// call itself bounds its arguments; the bounded forms run.
func TestCostlyFunctions(t *testing.T) {
	a := adhoc(t)
	ctx := context.Background()
	const (
		product = "长度之积增长"
		pattern = "成倍增长"
	)
	for _, c := range []struct{ name, q, want string }{
		// ran 36 s, and 94 s for 200,000 characters built in a CTE
		{"levenshtein 100k", "SELECT levenshtein(repeat('a',100000), repeat('b',100000))", product},
		{"levenshtein 200k cte", "WITH s AS (SELECT repeat('a', 50000) AS a, repeat('b', 50000) AS b) SELECT levenshtein(a || a, b || b) FROM s", product},
		{"levenshtein columns", "SELECT levenshtein(a.name, b.name) FROM teacher_progress a, teacher_progress b", product},
		{"levenshtein long literal", "SELECT levenshtein('" + strings.Repeat("a", 65) + "', 'b')", product},
		{"levenshtein left too long", "SELECT levenshtein(left(name, 65), 'b') FROM teacher_progress", product},
		{"levenshtein left of a column length", "SELECT levenshtein(left(name, teachers), 'b') FROM teacher_progress, school_gate", product},
		{"editdist3", "SELECT editdist3(name, name) FROM teacher_progress", product},
		{"damerau_levenshtein", "SELECT damerau_levenshtein(name, 'x') FROM teacher_progress", product},
		{"jaro_similarity", "SELECT jaro_similarity(name, 'x') FROM teacher_progress", product},
		{"jaro_winkler_similarity", "SELECT jaro_winkler_similarity('x', name) FROM teacher_progress", product},
		{"list_intersect ranges", "SELECT len(list_intersect(range(80000), range(80000, 160000)))", product},
		{"array_intersect columns", "SELECT array_intersect(string_split(name, ''), string_split(name, '')) FROM teacher_progress", product},
		{"list_intersect open slice", "SELECT list_intersect(string_split(name, '')[1:-1], [1]) FROM teacher_progress", product},
		{"list_intersect big slice", "SELECT list_intersect(string_split(name, '')[1:257], [1]) FROM teacher_progress", product},
		{"map_concat", "SELECT map_concat(map([1], [1]), map([2], [2]))", "map_concat"},
		{"ilike three %", "SELECT repeat('a', 800) ILIKE '%a%a%a%b'", pattern},
		{"not ilike two %", "SELECT name NOT ILIKE '%a%b' FROM teacher_progress", pattern},
		{"like with _ and two %", "SELECT repeat('a', 1600) LIKE '%a%a%_b'", pattern},
		{"glob", "SELECT repeat('a', 400) GLOB '*a*a*a*b'", pattern},
		{"like escape", "SELECT like_escape(repeat('a', 800), '%a%a%a%b', '!')", pattern},
		{"like escape keyword", "SELECT repeat('a', 800) LIKE '%a%a%a%b' ESCAPE '!'", pattern},
		{"long ilike pattern", "SELECT name ILIKE '%" + strings.Repeat("a", 100) + "' FROM teacher_progress", pattern},
		{"like pattern from a column", "SELECT count(*) FROM teacher_progress a, teacher_progress b WHERE a.name LIKE b.name", "必须直接写出"},
		{"like pattern concatenated", "SELECT count(*) FROM teacher_progress WHERE name LIKE '%' || school_code || '%'", "必须直接写出"},
		{"distance in a lambda", "SELECT list_transform(['a', 'b'], x -> levenshtein(left(x, 10), 'b'))", "lambda"},
		{"intersect in a lambda", "SELECT list_transform([[1], [2]], x -> list_intersect(x[1:2], [1]))", "lambda"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			err := a.Check(ctx, c.q)
			var ge *GuardError
			if !errors.As(err, &ge) || !strings.Contains(ge.Msg, c.want) {
				t.Fatalf("%.300s\nerr = %v; want a refusal with %q", c.q, err, c.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("refused after %s: it ran", d)
			}
		})
	}
	for _, q := range []string{
		"SELECT levenshtein(left(a.name, 64), left(b.name, 64)) FROM teacher_progress a, teacher_progress b LIMIT 100",
		"SELECT levenshtein('张三', '张四'), editdist3('ab', 'ba'), damerau_levenshtein('ab', 'ba')",
		"SELECT jaro_winkler_similarity(substr(name, 1, 20), '张三'), jaro_similarity(right(name, 2), '张三') FROM teacher_progress",
		"SELECT jaccard(name, name), hamming(name, name), mismatches(name, name) FROM teacher_progress",
		"SELECT list_intersect([1, 2, 3], [2, 3, 4]), array_intersect(string_split(name, '')[1:10], ['张']) FROM teacher_progress",
		"SELECT count(*) FROM teacher_progress WHERE name LIKE '%张%' OR name ILIKE '%李%' OR name LIKE '张_' OR name LIKE '%a%b%c%d%'",
		"SELECT count(*) FROM teacher_progress WHERE name GLOB '张*' OR name NOT LIKE '_李%' OR name LIKE '%张' ESCAPE '!'",
		"SELECT count(*) FROM teacher_progress WHERE lower(name) LIKE '%a%b%c%'",
		"SELECT contains(name, school_code), starts_with(name, '张') FROM teacher_progress",
	} {
		if _, err := a.Run(ctx, q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

// A bare keyword is a column when a relation in scope has one of that name, else the call
// DuckDB would make of it (which the guard refuses).
func TestKeywordColumns(t *testing.T) {
	a := adhoc(t)
	ctx := context.Background()
	for _, q := range []string{
		"SELECT localtimestamp FROM (SELECT 1 AS localtimestamp)",
		"WITH c AS (SELECT 2 AS localtime) SELECT localtime + 1 FROM c",
		"SELECT t.x FROM (SELECT 1 AS x, 3 AS user) t WHERE user = 3",
	} {
		res, err := a.Run(ctx, q)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		if len(res.Rows) != 1 {
			t.Errorf("%s: %v", q, res.Rows)
		}
	}
	for _, q := range []string{
		"SELECT localtimestamp",
		"WITH c AS (SELECT 1 AS localtimestamp) SELECT localtimestamp",
		"SELECT localtimestamp FROM (SELECT * EXCLUDE (localtimestamp) FROM (SELECT 1 AS localtimestamp, 2 AS b))",
		"SELECT current_catalog FROM teacher_progress",
		"SELECT localtimestamp FROM (SELECT 1 AS x) WHERE x IN (SELECT 1 AS localtimestamp)",
		// DuckDB binds a keyword in a subquery as the function even when the outer query
		// has such a column
		"SELECT (SELECT localtimestamp) FROM (SELECT 1 AS localtimestamp)",
	} {
		var ge *GuardError
		if err := a.Check(ctx, q); !errors.As(err, &ge) {
			t.Errorf("%s: %v; want a refusal", q, err)
		}
	}
}

func adhoc(t *testing.T) *AdHoc {
	t.Helper()
	r, err := NewRunner(demo(t).DB)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAdHoc(r, analystTables(t))
	a.Timeout = 20 * time.Second
	return a
}
