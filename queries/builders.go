package queries

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// One function call cannot be interrupted: DuckDB checks for an interrupt between chunks
// of (up to 2048) rows, so SELECT length(lpad('x', 2000000000, 'y')) ran 70 s past a 30 s
// limit and took the process to 4.1 GB, and regexp_replace over repeat('a', 500000000)
// 120-154 s (DuckDB 1.1.2). The guard therefore bounds, before a query runs, what each call
// can be asked to build, and what a query's calls build together. The rule:
//
//  1. A size argument (a count, a width, a length, a list's bounds) is an integer literal,
//     written in the query (a cast of one is accepted), of at most MaxBuild; what the
//     call builds from it (a repeated literal times its count, a list's elements) is at
//     most MaxBuild characters or elements. A size from a column, an expression or a
//     subquery is refused: nothing bounds it before the query runs.
//  2. A printf/format pattern is a literal; its widths and precisions, all of them added
//     up (2,000 conversions of %1$99999s built 200 million characters in one call), are at
//     most MaxBuild and never taken from an argument (*, {}).
//  3. A replacement (regexp_replace, replace), the text replace searches for, and an
//     array_to_string separator are literals of at most maxReplacement characters (replace
//     may also search for left(x, n) with n ≤ maxReplacement): the output is then at most
//     about maxReplacement times the input, and replace's search (which compares the
//     searched text at every position) at most maxReplacement times as slow.
//  4. All the builders of one statement together build at most MaxBuild characters or
//     elements (5,000 calls of 100,000 each, joined with ||, are 500 MB in one row).
//  5. No builder takes another's result, or a string or list aggregate's, anywhere in its
//     arguments (subqueries included), nor through a column of a CTE, a derived table, a
//     VALUES list or a table function that carries one (lineage.go): nesting multiplies
//     what rules 1-4 bound.
//  6. No builder, string/list aggregate or built column is used inside a lambda, and no
//     higher-order list function (list_transform, list_filter, list_reduce…) takes a list
//     that a builder or an aggregate built: a lambda runs once per element, so
//     array_to_string(list_transform(range(10000), x -> s), sep) built 10,000 copies of s.
//  7. The query text is at most MaxQueryChars characters, which bounds what literals (a
//     list literal, a long string) can bring.
//
// Functions whose cost grows faster than their arguments' size (edit distances, LIKE
// patterns that backtrack, list intersection) have their own bounds: costly.go.
//
// What the rule cannot see, and what bounds it then. Calls whose output is at most a fixed
// multiple of their input (concatenation, split, hex, regexp_extract_all, a lambda over a
// list that no builder made) are not builders: their input is data, literals or another
// such call. Chained through CTEs or a recursive CTE (s || s, round after round) they can
// still grow a value to the memory ceiling, one chunk at a time, and within one chunk 2048
// rows each build their own copy. What bounds those is memory, not this rule: the query's
// memory watcher (memguard.go) interrupts it between chunks once the process has grown by
// its ceiling, and serve's hard memory limit (--max-memory) makes an allocation inside a
// chunk fail the query rather than the server. The time such a value takes is linear in
// its size, so the memory bound bounds the time too; the calls whose time is not linear
// are the ones costly.go bounds whatever their input.
const (
	MaxBuild       = 100_000
	maxReplacement = 100
	// MaxQueryChars bounds an ad-hoc query's text (the longest SQL of the models and
	// reports is under 7,000 characters; an IN list of 5,000 school codes is 65,000).
	MaxQueryChars = 100_000
)

// buildCheck checks one builder call's arguments and says how many characters or elements
// it builds at most, or 0 when that follows from its input rather than from its arguments
// (regexp_replace, replace, array_to_string).
type buildCheck func(name string, args []any) (int64, error)

// builders are the functions (of functions.txt) that build a value whose size an argument
// sets, or that multiply their input's size by a factor an argument sets.
var builders = map[string]buildCheck{
	"repeat":                        checkRepeat,
	"lpad":                          sizeArg(1, "长度"),
	"rpad":                          sizeArg(1, "长度"),
	"list_resize":                   checkResize,
	"array_resize":                  checkResize,
	"range":                         checkRange(false),
	"generate_series":               checkRange(true),
	"bar":                           sizeArg(3, "宽度"),
	"to_base":                       sizeArg(2, "最小长度"),
	"bitstring":                     sizeArg(1, "位数"),
	"equi_width_bins":               sizeArg(2, "分段数"),
	"printf":                        checkPattern(printfWidths),
	"format":                        checkPattern(fmtWidths),
	"regexp_replace":                checkReplacement,
	"replace":                       checkReplace,
	"array_to_string":               checkSeparator,
	"array_to_string_comma_default": checkSeparator,
}

// aggregateBuilders build one value from any number of rows; they may not feed a builder.
var aggregateBuilders = map[string]bool{"string_agg": true, "group_concat": true, "listagg": true, "array_agg": true, "list": true,
	"histogram": true, "histogram_exact": true, "json_group_array": true, "json_group_object": true, "json_group_structure": true,
	"bitstring_agg": true}

// lambdaFunctions run their lambda once per element of a list.
var lambdaFunctions = map[string]bool{"list_transform": true, "array_transform": true, "apply": true, "list_apply": true, "array_apply": true,
	"list_filter": true, "array_filter": true, "filter": true, "list_reduce": true, "array_reduce": true, "reduce": true}

func buildRefusal(format string, a ...any) error {
	return &GuardError{Msg: fmt.Sprintf(format, a...) + fmt.Sprintf("（单次函数调用、以及一条查询中所有构造函数合计，最多构造 %d 个字符或元素，规则见 queries/functions.txt）", MaxBuild)}
}

// tableFunctionMark marks, in the parse tree, the call of a table function (checkNode).
const tableFunctionMark = "\x00table function"

// buildState is what the size rule keeps over one statement: its lineage and what its
// builders build together.
type buildState struct {
	lin   *lineage
	total int64
}

// checkBuild applies the rule (and costly.go's bounds) to one FUNCTION or WINDOW node.
func checkBuild(x map[string]any, st *buildState) error {
	if x[tableFunctionMark] == true {
		return nil
	}
	name := strings.ToLower(fmt.Sprint(x["function_name"]))
	args, _ := x["children"].([]any)
	if c, ok := costly[name]; ok {
		if err := c(name, args); err != nil {
			return err
		}
	}
	check, isBuilder := builders[name]
	if isBuilder {
		n, err := check(name, args)
		if err != nil {
			return err
		}
		if st.total += n; st.total > MaxBuild {
			return buildRefusal("这条查询中的构造函数合计要构造 %d 个字符或元素，过大", st.total)
		}
	}
	if isBuilder || aggregateBuilders[name] {
		for _, a := range args {
			if src := st.lin.find(a, nil); src.ok() {
				return buildRefusal("不能把%s交给「%s」：嵌套的构造会成倍放大", src, name)
			}
		}
	}
	if lambdaFunctions[name] {
		for _, a := range args {
			m, _ := a.(map[string]any)
			if m != nil && m["class"] == "LAMBDA" {
				shadow := map[string]bool{}
				for _, p := range lambdaParams(m) {
					shadow[p] = true
				}
				if src := st.lin.find(m["expr"], shadow); src.ok() {
					return buildRefusal("%s不能在 lambda 中使用：lambda 对列表的每个元素各执行一次，会成倍放大", src)
				}
				if c := findCostly(m["expr"]); c != "" {
					return &GuardError{Msg: fmt.Sprintf("「%s」不能在 lambda 中调用：lambda 对列表的每个元素各执行一次，而它的耗时随参数长度成倍增长（规则见 queries/functions.txt）", c)}
				}
				continue
			}
			if src := st.lin.find(a, nil); src.ok() {
				return buildRefusal("「%s」不能作用于%s：它对列表的每个元素各执行一次 lambda，会成倍放大（请直接写出列表，如 [1, 2, 3]）", name, src)
			}
		}
	}
	return nil
}

var integerTypes = map[string]bool{"TINYINT": true, "SMALLINT": true, "INTEGER": true, "BIGINT": true, "HUGEINT": true,
	"UTINYINT": true, "USMALLINT": true, "UINTEGER": true, "UBIGINT": true, "UHUGEINT": true}

// intLiteral reads an integer written in the query: a constant, or a cast of one to an
// integer type.
func intLiteral(n any) (int64, bool) {
	m, ok := n.(map[string]any)
	if !ok {
		return 0, false
	}
	switch m["class"] {
	case "CONSTANT":
		v, _ := m["value"].(map[string]any)
		if isNull, _ := v["is_null"].(bool); isNull {
			return 0, false
		}
		t, _ := v["type"].(map[string]any)
		if !integerTypes[fmt.Sprint(t["id"])] {
			return 0, false
		}
		f, ok := v["value"].(float64) // a HUGEINT past 2^63 serialises as an object
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return 0, false
		}
		return int64(f), true
	case "CAST":
		t, _ := m["cast_type"].(map[string]any)
		if !integerTypes[fmt.Sprint(t["id"])] {
			return 0, false
		}
		return intLiteral(m["child"])
	}
	return 0, false
}

// stringLiteral reads a string constant written in the query (a cast of one to VARCHAR too).
func stringLiteral(n any) (string, bool) {
	m, ok := n.(map[string]any)
	if !ok {
		return "", false
	}
	switch m["class"] {
	case "CONSTANT":
		v, _ := m["value"].(map[string]any)
		t, _ := v["type"].(map[string]any)
		s, ok := v["value"].(string)
		return s, ok && t["id"] == "VARCHAR"
	case "CAST":
		t, _ := m["cast_type"].(map[string]any)
		if t["id"] != "VARCHAR" {
			return "", false
		}
		return stringLiteral(m["child"])
	}
	return "", false
}

// literalSize is the characters of a string literal, the elements of a list of literals,
// or 1 for another literal; ok is false for anything that is not written in the query.
func literalSize(n any) (int64, bool) {
	if s, ok := stringLiteral(n); ok {
		return int64(utf8.RuneCountInString(s)), true
	}
	m, ok := n.(map[string]any)
	if !ok {
		return 0, false
	}
	switch m["class"] {
	case "CONSTANT":
		return 1, true
	case "CAST":
		return literalSize(m["child"])
	case "FUNCTION":
		if name := strings.ToLower(fmt.Sprint(m["function_name"])); name == "list_value" || name == "array_value" {
			var total int64
			for _, c := range asList(m["children"]) {
				n, ok := literalSize(c)
				if !ok {
					return 0, false
				}
				total += max(n, 1)
			}
			return total, true
		}
	}
	return 0, false
}

func asList(v any) []any { l, _ := v.([]any); return l }

// size reads argument i as a size: an integer literal from 0 to MaxBuild.
func size(name string, args []any, i int, what string) (int64, error) {
	if i >= len(args) {
		return 0, nil
	}
	n, ok := intLiteral(args[i])
	if !ok {
		return 0, buildRefusal("「%s」的%s必须直接写成整数（不能来自列、表达式或子查询）", name, what)
	}
	if n > MaxBuild {
		return 0, buildRefusal("「%s」的%s %d 过大", name, what, n)
	}
	return n, nil
}

func sizeArg(i int, what string) buildCheck {
	return func(name string, args []any) (int64, error) {
		if i >= len(args) {
			return 0, nil // an optional size left out, or a call DuckDB refuses itself
		}
		return size(name, args, i, what)
	}
}

func checkRepeat(name string, args []any) (int64, error) {
	if len(args) != 2 {
		return 0, nil
	}
	n, err := size(name, args, 1, "次数")
	if err != nil {
		return 0, err
	}
	each, ok := literalSize(args[0])
	if !ok {
		return 0, buildRefusal("「repeat」只能重复直接写出的字符串或列表（不能重复列、表达式或子查询的值）")
	}
	if each*n > MaxBuild {
		return 0, buildRefusal("「repeat」要构造 %d × %d 个字符或元素，过大", each, n)
	}
	return each * n, nil
}

func checkResize(name string, args []any) (int64, error) {
	n, err := size(name, args, 1, "长度")
	if err != nil || len(args) < 3 {
		return n, err
	}
	each, ok := literalSize(args[2])
	if !ok {
		return 0, buildRefusal("「%s」的填充值必须直接写出（不能来自列、表达式或子查询）", name)
	}
	if each*n > MaxBuild {
		return 0, buildRefusal("「%s」要构造 %d × %d 个字符或元素，过大", name, each, n)
	}
	return max(each, 1) * n, nil
}

// checkRange bounds the scalar range/generate_series, which build a list (the table
// functions of the same names stream rows and are bounded by the time limit).
func checkRange(inclusive bool) buildCheck {
	return func(name string, args []any) (int64, error) {
		vals := make([]int64, len(args))
		for i, a := range args {
			v, ok := intLiteral(a)
			if !ok {
				return 0, buildRefusal("作为函数调用时，「%s」的参数必须直接写成整数（日期序列请用表函数：SELECT * FROM %s(DATE '2025-01-01', DATE '2025-12-01', INTERVAL 1 MONTH)）", name, name)
			}
			vals[i] = v
		}
		var start, stop, step int64 = 0, 0, 1
		switch len(vals) {
		case 1:
			stop = vals[0]
		case 2:
			start, stop = vals[0], vals[1]
		case 3:
			start, stop, step = vals[0], vals[1], vals[2]
		default:
			return 0, nil
		}
		if step == 0 {
			return 0, nil // DuckDB refuses it
		}
		count := math.Ceil((float64(stop) - float64(start)) / float64(step))
		if inclusive {
			count++
		}
		if count > MaxBuild {
			return 0, buildRefusal("「%s」要构造 %.0f 个元素，过大", name, count)
		}
		return int64(max(count, 0)), nil
	}
}

func checkPattern(widths func(string) (int64, bool)) buildCheck {
	return func(name string, args []any) (int64, error) {
		if len(args) == 0 {
			return 0, nil
		}
		p, ok := stringLiteral(args[0])
		if !ok {
			return 0, buildRefusal("「%s」的格式串必须直接写出（不能来自列、表达式或子查询）", name)
		}
		w, ok := widths(p)
		if !ok {
			return 0, buildRefusal("「%s」的宽度和精度必须直接写在格式串里（不能用 * 或 {} 从参数取）", name)
		}
		if w > MaxBuild {
			return 0, buildRefusal("「%s」的格式串中的宽度和精度合计 %d，过大", name, w)
		}
		return w, nil
	}
}

// printfWidths adds up the numbers in a printf pattern's conversions (argument positions,
// widths, precisions): every conversion pads to its own width, so the output grows with
// their sum, not with the largest (an argument position adds a little to the sum, which
// only errs towards refusing); ok is false when a width or precision is taken from an
// argument (*).
func printfWidths(p string) (int64, bool) {
	var most int64
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			continue
		}
		i++
		if i < len(p) && p[i] == '%' {
			continue
		}
		for ; i < len(p); i++ {
			c := p[i]
			switch {
			case c == '*':
				return 0, false
			case c >= '0' && c <= '9':
				j := i
				for j < len(p) && p[j] >= '0' && p[j] <= '9' {
					j++
				}
				most = saturated(most + number(p[i:j]))
				i = j - 1
			case strings.IndexByte("-+ #.$'lhLqjzt", c) >= 0:
			default:
				goto next // the conversion character
			}
		}
	next:
	}
	return most, true
}

// fmtWidths is the same for a {fmt} pattern ({:>10}, {:.2f}); a nested {} takes a width
// from an argument.
func fmtWidths(p string) (int64, bool) {
	var most int64
	for i := 0; i < len(p); i++ {
		if p[i] != '{' {
			continue
		}
		if i+1 < len(p) && p[i+1] == '{' {
			i++
			continue
		}
		j := i + 1
		for ; j < len(p) && p[j] != '}'; j++ {
			c := p[j]
			if c == '{' {
				return 0, false
			}
			if c >= '0' && c <= '9' {
				k := j
				for k < len(p) && p[k] >= '0' && p[k] <= '9' {
					k++
				}
				most = saturated(most + number(p[j:k]))
				j = k - 1
			}
		}
		i = j
	}
	return most, true
}

// saturated caps a sum of widths where number caps one.
func saturated(n int64) int64 { return min(n, math.MaxInt32) }

// number reads a run of digits, saturating (a width of 40 digits is as refused as one of 10).
func number(s string) int64 {
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
		if n > math.MaxInt32 {
			return math.MaxInt32
		}
	}
	return n
}

func checkReplacement(name string, args []any) (int64, error) {
	if len(args) < 3 {
		return 0, nil
	}
	return 0, shortLiteral(name, args[2], "替换文本")
}

// checkReplace bounds replace(s, search, replacement): its replacement as regexp_replace's,
// and what it searches for, which it compares at every position of s (DuckDB 1.1.2: 160,000
// characters searched for 40,000 took 0.2 s, four times the time of half of each).
func checkReplace(name string, args []any) (int64, error) {
	if len(args) < 3 {
		return 0, nil
	}
	if n, ok := boundedText(args[1]); !ok || n > maxReplacement {
		return 0, buildRefusal("「replace」要查找的文本必须直接写出且最多 %d 个字符（或写成 left(列, %d)）", maxReplacement, maxReplacement)
	}
	return checkReplacement(name, args)
}

// checkSeparator bounds array_to_string's separator, which it writes between every two
// elements: a long one multiplies the list's length.
func checkSeparator(name string, args []any) (int64, error) {
	if len(args) < 2 {
		return 0, nil
	}
	return 0, shortLiteral(name, args[1], "分隔符")
}

// shortLiteral requires a string literal (or NULL) of at most maxReplacement characters.
func shortLiteral(name string, arg any, what string) error {
	if isNullLiteral(arg) {
		return nil
	}
	r, ok := stringLiteral(arg)
	if !ok {
		return buildRefusal("「%s」的%s必须直接写出（不能来自列、表达式或子查询）", name, what)
	}
	if n := utf8.RuneCountInString(r); n > maxReplacement {
		return buildRefusal("「%s」的%s有 %d 个字符，最多 %d 个", name, what, n, maxReplacement)
	}
	return nil
}

// isNullLiteral reports whether n is a NULL written in the query.
func isNullLiteral(n any) bool {
	m, _ := n.(map[string]any)
	if m == nil {
		return false
	}
	if m["class"] == "CAST" {
		return isNullLiteral(m["child"])
	}
	v, _ := m["value"].(map[string]any)
	isNull, _ := v["is_null"].(bool)
	return m["class"] == "CONSTANT" && isNull
}
