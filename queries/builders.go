package queries

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// One function call cannot be interrupted: DuckDB checks for an interrupt between chunks,
// so SELECT length(lpad('x', 2000000000, 'y')) ran 70 s past a 30 s limit and took the
// process to 4.1 GB, and regexp_replace over repeat('a', 500000000) 120-154 s (DuckDB
// 1.1.2). The guard therefore bounds, before a query runs, what each call can be asked to
// build. The rule:
//
//  1. A size argument (a count, a width, a length, a list's bounds) is an integer literal,
//     written in the query (a cast of one is accepted), of at most MaxBuild; what the
//     call builds from it (a repeated literal times its count, a list's elements) is at
//     most MaxBuild characters or elements. A size from a column, an expression or a
//     subquery is refused: nothing bounds it before the query runs.
//  2. A printf/format pattern is a literal, its widths and precisions at most MaxBuild
//     and never taken from an argument (*, {}).
//  3. A replacement (regexp_replace, replace) is a literal of at most maxReplacement
//     characters.
//  4. No builder takes another's result, or a string or list aggregate's, anywhere in its
//     arguments (subqueries included), and no builder runs inside a lambda (which runs it
//     once per element): nesting multiplies what rule 1 bounds.
//
// Calls whose output is at most a small multiple of their input (concatenation, split,
// regexp_extract_all) are not builders: their input is data already built, which the
// memory ceiling and the process's hard limit bound.
const (
	MaxBuild       = 100_000
	maxReplacement = 100
)

// buildCheck checks one builder call's arguments.
type buildCheck func(name string, args []any) error

// builders are the functions (of functions.txt) that build a value whose size an argument
// sets, or that multiply their input's size by a factor an argument sets.
var builders = map[string]buildCheck{
	"repeat":          checkRepeat,
	"lpad":            sizeArg(1, "长度"),
	"rpad":            sizeArg(1, "长度"),
	"list_resize":     checkResize,
	"array_resize":    checkResize,
	"range":           checkRange(false),
	"generate_series": checkRange(true),
	"bar":             optionalSizeArg(3, "宽度"),
	"to_base":         optionalSizeArg(2, "最小长度"),
	"bitstring":       sizeArg(1, "位数"),
	"equi_width_bins": sizeArg(2, "分段数"),
	"printf":          checkPattern(printfWidths),
	"format":          checkPattern(fmtWidths),
	"regexp_replace":  checkReplacement,
	"replace":         checkReplacement,
}

// aggregateBuilders build one value from any number of rows; they may not feed a builder.
var aggregateBuilders = map[string]bool{"string_agg": true, "group_concat": true, "listagg": true, "array_agg": true, "list": true,
	"histogram": true, "histogram_exact": true, "json_group_array": true, "json_group_object": true, "json_group_structure": true,
	"bitstring_agg": true}

// lambdaFunctions run their lambda once per element of a list.
var lambdaFunctions = map[string]bool{"list_transform": true, "array_transform": true, "apply": true, "list_apply": true, "array_apply": true,
	"list_filter": true, "array_filter": true, "filter": true, "list_reduce": true, "array_reduce": true, "reduce": true}

func buildRefusal(format string, a ...any) error {
	return &GuardError{Msg: fmt.Sprintf(format, a...) + fmt.Sprintf("（单次函数调用最多构造 %d 个字符或元素，规则见 queries/functions.txt）", MaxBuild)}
}

// tableFunctionMark marks, in the parse tree, the call of a table function (checkNode).
const tableFunctionMark = "\x00table function"

// checkBuild applies the rule to one FUNCTION or WINDOW node.
func checkBuild(x map[string]any) error {
	if x[tableFunctionMark] == true {
		return nil
	}
	name := strings.ToLower(fmt.Sprint(x["function_name"]))
	args, _ := x["children"].([]any)
	check, isBuilder := builders[name]
	if isBuilder {
		if err := check(name, args); err != nil {
			return err
		}
	}
	if isBuilder || aggregateBuilders[name] {
		for _, a := range args {
			if inner := findBuilder(a, false); inner != "" {
				return buildRefusal("不能把「%s」的结果交给「%s」：嵌套的构造会成倍放大", inner, name)
			}
		}
	}
	if lambdaFunctions[name] {
		for _, a := range args {
			if m, ok := a.(map[string]any); ok && m["class"] == "LAMBDA" {
				if inner := findBuilder(m["expr"], true); inner != "" {
					return buildRefusal("「%s」不能在 lambda 中调用：它对列表的每个元素各执行一次", inner)
				}
			}
		}
	}
	return nil
}

// findBuilder names a builder or a string/list aggregate anywhere under n (subqueries and
// lambdas included), or "". In a lambda (inLambda) only builders count.
func findBuilder(n any, inLambda bool) string {
	switch x := n.(type) {
	case []any:
		for _, c := range x {
			if s := findBuilder(c, inLambda); s != "" {
				return s
			}
		}
	case map[string]any:
		if x["type"] == "TABLE_FUNCTION" {
			// a table function's call streams rows: only its arguments can build
			fn, _ := x["function"].(map[string]any)
			return findBuilder(fn["children"], inLambda)
		}
		if c, _ := x["class"].(string); c == "FUNCTION" || c == "WINDOW" {
			name := strings.ToLower(fmt.Sprint(x["function_name"]))
			if _, ok := builders[name]; ok {
				return name
			}
			if !inLambda && aggregateBuilders[name] {
				return name
			}
		}
		for _, c := range x {
			if s := findBuilder(c, inLambda); s != "" {
				return s
			}
		}
	}
	return ""
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
	return func(name string, args []any) error {
		if i >= len(args) {
			return nil // DuckDB refuses the call itself
		}
		_, err := size(name, args, i, what)
		return err
	}
}

func optionalSizeArg(i int, what string) buildCheck { return sizeArg(i, what) }

func checkRepeat(name string, args []any) error {
	if len(args) != 2 {
		return nil
	}
	n, err := size(name, args, 1, "次数")
	if err != nil {
		return err
	}
	each, ok := literalSize(args[0])
	if !ok {
		return buildRefusal("「repeat」只能重复直接写出的字符串或列表（不能重复列、表达式或子查询的值）")
	}
	if each*n > MaxBuild {
		return buildRefusal("「repeat」要构造 %d × %d 个字符或元素，过大", each, n)
	}
	return nil
}

func checkResize(name string, args []any) error {
	n, err := size(name, args, 1, "长度")
	if err != nil || len(args) < 3 {
		return err
	}
	each, ok := literalSize(args[2])
	if !ok {
		return buildRefusal("「%s」的填充值必须直接写出（不能来自列、表达式或子查询）", name)
	}
	if each*n > MaxBuild {
		return buildRefusal("「%s」要构造 %d × %d 个字符或元素，过大", name, each, n)
	}
	return nil
}

// checkRange bounds the scalar range/generate_series, which build a list (the table
// functions of the same names stream rows and are bounded by the time limit).
func checkRange(inclusive bool) buildCheck {
	return func(name string, args []any) error {
		vals := make([]int64, len(args))
		for i, a := range args {
			v, ok := intLiteral(a)
			if !ok {
				return buildRefusal("作为函数调用时，「%s」的参数必须直接写成整数（日期序列请用表函数：SELECT * FROM %s(DATE '2025-01-01', DATE '2025-12-01', INTERVAL 1 MONTH)）", name, name)
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
			return nil
		}
		if step == 0 {
			return nil // DuckDB refuses it
		}
		count := (float64(stop) - float64(start)) / float64(step)
		if inclusive {
			count++
		}
		if count > MaxBuild {
			return buildRefusal("「%s」要构造 %.0f 个元素，过大", name, math.Ceil(count))
		}
		return nil
	}
}

func checkPattern(widths func(string) (int64, bool)) buildCheck {
	return func(name string, args []any) error {
		if len(args) == 0 {
			return nil
		}
		p, ok := stringLiteral(args[0])
		if !ok {
			return buildRefusal("「%s」的格式串必须直接写出（不能来自列、表达式或子查询）", name)
		}
		w, ok := widths(p)
		if !ok {
			return buildRefusal("「%s」的宽度和精度必须直接写在格式串里（不能用 * 或 {} 从参数取）", name)
		}
		if w > MaxBuild {
			return buildRefusal("「%s」的格式串要求宽度或精度 %d，过大", name, w)
		}
		return nil
	}
}

// printfWidths is the largest number in a printf pattern's conversions (flags, argument
// positions, widths, precisions); ok is false when a width or precision is taken from an
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
				most = max(most, number(p[i:j]))
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
				most = max(most, number(p[j:k]))
				j = k - 1
			}
		}
		i = j
	}
	return most, true
}

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

func checkReplacement(name string, args []any) error {
	if len(args) < 3 {
		return nil
	}
	r, ok := stringLiteral(args[2])
	if !ok {
		return buildRefusal("「%s」的替换文本必须直接写出（不能来自列、表达式或子查询）", name)
	}
	if n := utf8.RuneCountInString(r); n > maxReplacement {
		return buildRefusal("「%s」的替换文本有 %d 个字符，最多 %d 个", name, n, maxReplacement)
	}
	return nil
}
