package queries

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Functions of functions.txt whose time grows faster than their arguments' size. One call
// cannot be interrupted (builders.go), so levenshtein(repeat('a', 100000), repeat('b',
// 100000)) ran 36 s against a 30 s limit, and a 200,000-character pair 94 s (DuckDB 1.1.2).
// Each function of the list was timed on DuckDB 1.1.2 at doubling sizes (one thread):
//
//	levenshtein, editdist3         n×m: 30,000 × 30,000 characters in 1.4 s, 70,000 in 8 s
//	damerau_levenshtein            n×m, slower: 10,000 in 1.2 s, 20,000 in 5.7 s, 40,000 in 47 s
//	jaro_similarity,               n×m, light: 80,000 in 0.05 s (a million would be 8 s)
//	jaro_winkler_similarity
//	list_intersect,                n×m: 80,000 elements each in 15 s
//	array_intersect
//	map_concat                     n×m: 8,000 entries each in 2.8 s, 20,000 in 18 s
//	LIKE with _ or ESCAPE, ILIKE,  backtracking, n^k for k wildcards % (*) before the end:
//	GLOB, like_escape…             ILIKE '%a%a%a%b' over 800 characters 71 s; LIKE '%a%a%_b'
//	                               over 1,600 characters 9 s; one % ('%_b', '%ab%') is linear
//	replace                        n×m in what it searches for (builders.go bounds it)
//
// and these were found linear (no bound needed): jaccard, hamming, mismatches, contains,
// strpos/instr/position, starts_with, ends_with, string_split, split_part, LIKE without _
// and ESCAPE whatever its % (DuckDB matches it segment by segment), SIMILAR TO, ~ and the
// regexp functions (RE2 never backtracks), list_has_any, list_has_all, list_distinct,
// list_sort, map, map_from_entries, translate, bit_position. A list_reduce whose lambda
// concatenates is quadratic in its list; builders.go keeps built lists out of lambdas.
//
// The bounds keep one call to about a millisecond whatever its input, so that the 2048
// rows of a chunk (between two interrupt checks) take seconds at most: a string argument of
// an edit distance is a literal of at most maxCompare characters or is cut to that length
// by left/right/substr in the call itself (an analyst comparing names writes
// levenshtein(left(a.name, 64), left(b.name, 64))); a list intersection's lists are list
// literals of at most maxIntersect elements or slices of at most that many; a pattern that
// backtracks is a literal with at most one % (*) before its end and at most
// maxPattern characters; map_concat, which analysts have no use for here, is refused.
const (
	maxCompare   = 64
	maxIntersect = 256
	maxPattern   = 100
)

// costly maps each such function to the check of its arguments.
var costly = map[string]func(name string, args []any) error{
	"levenshtein":             boundedStrings,
	"editdist3":               boundedStrings,
	"damerau_levenshtein":     boundedStrings,
	"jaro_similarity":         boundedStrings,
	"jaro_winkler_similarity": boundedStrings,
	"list_intersect":          boundedLists,
	"array_intersect":         boundedLists,
	"map_concat":              refuseMapConcat,
	"~~":                      likePattern(likePlain),
	"!~~":                     likePattern(likePlain),
	"~~*":                     likePattern(likeBacktracks),
	"!~~*":                    likePattern(likeBacktracks),
	"like_escape":             likePattern(likeBacktracks),
	"not_like_escape":         likePattern(likeBacktracks),
	"ilike_escape":            likePattern(likeBacktracks),
	"not_ilike_escape":        likePattern(likeBacktracks),
	"~~~":                     likePattern(globBacktracks),
}

// inLambdaRefused are the costly functions a lambda may not call at all: it would run
// them once per element of its list.
var inLambdaRefused = map[string]bool{"levenshtein": true, "editdist3": true, "damerau_levenshtein": true,
	"jaro_similarity": true, "jaro_winkler_similarity": true, "list_intersect": true, "array_intersect": true}

// findCostly names a function of inLambdaRefused anywhere under n, or "".
func findCostly(n any) string {
	switch x := n.(type) {
	case []any:
		for _, c := range x {
			if s := findCostly(c); s != "" {
				return s
			}
		}
	case map[string]any:
		if c, _ := x["class"].(string); c == "FUNCTION" {
			if name := strings.ToLower(fmt.Sprint(x["function_name"])); inLambdaRefused[name] {
				return name
			}
		}
		for _, c := range x {
			if s := findCostly(c); s != "" {
				return s
			}
		}
	}
	return ""
}

func boundedStrings(name string, args []any) error {
	for _, a := range args {
		if n, ok := boundedText(a); !ok || n > maxCompare {
			return &GuardError{Msg: fmt.Sprintf("「%s」的耗时随两个参数长度之积增长：每个参数须是不超过 %d 个字符的字面量，或在调用中截短，如 %s(left(a.name, %d), left(b.name, %d))（规则见 queries/functions.txt）",
				name, maxCompare, name, maxCompare, maxCompare)}
		}
	}
	return nil
}

// boundedText is the most characters a text argument can have, when the call itself says:
// a string literal (or NULL), or left/right/substr/substring with a literal length.
func boundedText(n any) (int64, bool) {
	if isNullLiteral(n) {
		return 0, true
	}
	if s, ok := stringLiteral(n); ok {
		return int64(utf8.RuneCountInString(s)), true
	}
	m, _ := n.(map[string]any)
	if m == nil {
		return 0, false
	}
	if m["class"] == "CAST" {
		t, _ := m["cast_type"].(map[string]any)
		if t["id"] == "VARCHAR" {
			return boundedText(m["child"])
		}
		return 0, false
	}
	if m["class"] != "FUNCTION" {
		return 0, false
	}
	args := asList(m["children"])
	var length any
	switch strings.ToLower(fmt.Sprint(m["function_name"])) {
	case "left", "right":
		if len(args) == 2 {
			length = args[1]
		}
	case "substr", "substring":
		if len(args) == 3 {
			length = args[2]
		}
	}
	if v, ok := intLiteral(length); ok && v >= 0 {
		return v, true
	}
	return 0, false
}

func boundedLists(name string, args []any) error {
	for _, a := range args {
		if n, ok := boundedList(a); !ok || n > maxIntersect {
			return &GuardError{Msg: fmt.Sprintf("「%s」的耗时随两个列表长度之积增长：每个列表须是不超过 %d 个元素的列表字面量，或在调用中截取，如 %s(list_slice(a, 1, %d), list_slice(b, 1, %d))（规则见 queries/functions.txt）",
				name, maxIntersect, name, maxIntersect, maxIntersect)}
		}
	}
	return nil
}

// boundedList is the most elements a list argument can have, when the call itself says: a
// list literal, or a slice with literal bounds of the same sign (l[1:10], list_slice(l, -5,
// -1)).
func boundedList(n any) (int64, bool) {
	if isNullLiteral(n) {
		return 0, true
	}
	m, _ := n.(map[string]any)
	if m == nil {
		return 0, false
	}
	var args []any
	switch {
	case m["class"] == "OPERATOR" && m["type"] == "ARRAY_SLICE":
		args = asList(m["children"])
	case m["class"] == "FUNCTION":
		switch strings.ToLower(fmt.Sprint(m["function_name"])) {
		case "list_value", "array_value":
			return int64(len(asList(m["children"]))), true
		case "list_slice", "array_slice":
			args = asList(m["children"])
		default:
			return 0, false
		}
	default:
		return 0, false
	}
	if len(args) < 3 {
		return 0, false
	}
	begin, ok1 := intLiteral(args[1])
	end, ok2 := intLiteral(args[2])
	if !ok1 || !ok2 || (begin < 0) != (end < 0) {
		return 0, false
	}
	return max(end-begin+1, 0), true
}

func refuseMapConcat(name string, _ []any) error {
	return &GuardError{Msg: "不支持「map_concat」：它的耗时随两个 map 大小之积增长（DuckDB 1.1.2 实测两个 20,000 项的 map 用时 18 秒），分析表中也没有 map 类型的列"}
}

// LIKE-family matchers: what makes a pattern backtrack.
type likeKind int

const (
	likePlain      likeKind = iota // LIKE, NOT LIKE: only a pattern with _ backtracks
	likeBacktracks                 // ILIKE, and every form with ESCAPE
	globBacktracks                 // GLOB: * is its %
)

// likePattern checks the pattern of a LIKE-family call (its second argument).
func likePattern(kind likeKind) func(string, []any) error {
	return func(name string, args []any) error {
		if len(args) < 2 || isNullLiteral(args[1]) {
			return nil
		}
		p, ok := stringLiteral(args[1])
		if !ok {
			return &GuardError{Msg: "LIKE、ILIKE 和 GLOB 的模式必须直接写出（不能来自列、表达式或子查询）：由数据决定的模式可能使匹配耗时随文本长度成倍增长；判断是否包含另一列的值请用 contains(a, b)、starts_with(a, b) 或 ends_with(a, b)"}
		}
		wild := byte('%')
		if kind == globBacktracks {
			wild = '*'
		}
		if kind == likePlain && !strings.ContainsRune(p, '_') {
			return nil // matched segment by segment, in linear time
		}
		inner := innerWildcards(p, wild)
		if inner <= 1 && utf8.RuneCountInString(p) <= maxPattern {
			return nil
		}
		return &GuardError{Msg: fmt.Sprintf("模式「%s」会使匹配耗时随文本长度成倍增长：ILIKE、GLOB、带 ESCAPE 或含 _ 的 LIKE，模式中除末尾外最多一个 %c，且最多 %d 个字符（DuckDB 1.1.2 实测：800 个字符的文本 ILIKE '%%a%%a%%a%%b' 用时 71 秒）。不区分大小写请写 lower(列) LIKE '…'；不含 _ 的 LIKE 不受此限",
			shorten(p, 40), wild, maxPattern)}
	}
}

// innerWildcards counts the runs of wild in p that are not at its very end (a trailing
// run matches at once; each other one multiplies the work by the text's length).
func innerWildcards(p string, wild byte) int {
	p = strings.TrimRight(p, string(wild))
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] == wild && (i == 0 || p[i-1] != wild) {
			n++
		}
	}
	return n
}

// shorten cuts a pattern for a message.
func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
