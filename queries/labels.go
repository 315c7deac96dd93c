package queries

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// kindLabels are the export kinds as users name them (the platforms' own sheet titles).
var kindLabels = map[string]string{
	"schools":     "学校信息",
	"teachers":    "教师名单",
	"hours":       "学时",
	"progress":    "研修考核",
	"assessments": "能力点测评结果",
	"catalogue":   "能力点目录",
}

// shapeLabels name the two shapes of an hours export.
var shapeLabels = map[string]string{"detail": "学时明细", "summary": "学时汇总"}

// KindLabel is the Chinese name of an export kind (`hours` -> 学时); an hours file's shape
// (detail/summary), when known, names it more exactly (学时明细). Unknown codes come back as
// they are, so nothing is hidden.
func KindLabel(kind string, shape ...string) string {
	if kind == "hours" && len(shape) > 0 {
		if l, ok := shapeLabels[shape[0]]; ok {
			return l
		}
	}
	if l, ok := kindLabels[kind]; ok {
		return l
	}
	return kind
}

// KindOrder lists the export kinds in the order reports show them.
func KindOrder() []string {
	return []string{"schools", "teachers", "hours", "progress", "assessments", "catalogue"}
}

// QueryTitle is a named query's Chinese title, as its file declares it (-- @title:), its
// name if it has none.
func QueryTitle(name string) string {
	c, err := embedded()
	if err != nil {
		return name
	}
	if q, ok := c[name]; ok && q.Label != "" {
		return q.Label
	}
	return name
}

// The one rounding rule for rates (shares, completion, pass rates): a rate is a fraction
// rounded half away from zero to RateDecimals places, which is exactly the 0.1% every view
// prints. It is rounded once, when a query's result is read, so the chart, the web table,
// the workbook (0.0%) and the CSV (87.7%) all show the same digits.
const RateDecimals = 3

// RoundRate rounds a rate to the shown precision. Rounding a second time is a no-op.
func RoundRate(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return f
	}
	// Scale through the shortest decimal form first so that 0.0425 (stored as
	// 0.042499999…) rounds up as a person reading 4.25% expects.
	s := strconv.FormatFloat(f*1000, 'g', 12, 64)
	v, _ := strconv.ParseFloat(s, 64)
	return math.Round(v) / 1000
}

// RatePercent is a rate in percent with one decimal (0.877 -> 87.7), for charts.
func RatePercent(f float64) float64 {
	return math.Round(RoundRate(f)*1000) / 10
}

// FormatRate writes a rate as the pages and CSV files show it: 87.7%.
func FormatRate(f float64) string {
	return strconv.FormatFloat(RatePercent(f), 'f', 1, 64) + "%"
}

// IsRate reports whether a result column holds a rate (a fraction shown as a percentage).
func IsRate(c Column) bool {
	return (c.Type == "DOUBLE" || c.Type == "FLOAT") && isRate(c.Name)
}

// codeLabels are the Chinese words for the codes some columns hold, by column name.
var codeLabels = map[string]map[string]string{
	"kind": {
		"schools": "学校信息", "teachers": "教师名单", "hours": "学时", "progress": "研修考核",
		"assessments": "能力点测评结果", "catalogue": "能力点目录",
		"dimension": "维度", "environment": "环境", // swot_gaps
	},
	"shape":        shapeLabels,
	"by":           {"code": "能力点", "dimension": "维度", "environment": "环境"},
	"group_by":     {"district": "区县", "school": "学校", "stage": "学段", "subject": "学科", "age_band": "年龄段"},
	"as_of_source": {"flag": "命令行指定", "title": "标题行", "file_name": "文件名", "none": "无"},
}

// ValueLabel is the Chinese word for a code held in column col (kind `hours` -> 学时), or
// the value itself.
func ValueLabel(col, v string) string {
	if m, ok := codeLabels[col]; ok {
		if l, ok := m[v]; ok {
			return l
		}
	}
	return v
}

// LabelCodes rewrites, in place, the code columns of a result (kind, shape, by, …) into
// the words users read; an hours kind next to its shape becomes 学时明细 or 学时汇总.
func LabelCodes(res *Result) *Result {
	shape := -1
	for i, c := range res.Columns {
		if c.Name == "shape" {
			shape = i
		}
	}
	// kind first: it reads the shape's code before the shape is labelled.
	var order []int
	for i, c := range res.Columns {
		if c.Name == "kind" {
			order = append([]int{i}, order...)
		} else if _, ok := codeLabels[c.Name]; ok {
			order = append(order, i)
		}
	}
	for _, i := range order {
		c := res.Columns[i]
		for _, row := range res.Rows {
			s, ok := row[i].(string)
			if !ok {
				continue
			}
			if c.Name == "kind" && s == "hours" && shape >= 0 {
				if sh, ok := row[shape].(string); ok {
					row[i] = KindLabel(s, sh)
					continue
				}
			}
			row[i] = ValueLabel(c.Name, s)
		}
	}
	return res
}

// NaturalLess orders text with embedded numbers by their value: A2 before A11.
func NaturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		ra, sa := utf8.DecodeRuneInString(a)
		rb, sb := utf8.DecodeRuneInString(b)
		if ra != rb {
			return ra < rb
		}
		a, b = a[sa:], b[sb:]
	}
	return len(a) < len(b)
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// SortNatural orders a result's rows by the given columns, each compared naturally (a
// stable sort: rows equal on them keep the query's order).
func SortNatural(res *Result, cols ...int) {
	sort.SliceStable(res.Rows, func(i, j int) bool {
		for _, c := range cols {
			a, b := fmt.Sprint(res.Rows[i][c]), fmt.Sprint(res.Rows[j][c])
			if a != b {
				return NaturalLess(a, b)
			}
		}
		return false
	})
}

// SortCodeLists rewrites, in place, every comma-separated code list of a result (columns
// named …_codes, like abilities_passed_codes) in natural order: "A11,A2,A5" -> "A2,A5,A11".
func SortCodeLists(res *Result) *Result {
	for i, c := range res.Columns {
		if !strings.HasSuffix(c.Name, "_codes") {
			continue
		}
		for _, row := range res.Rows {
			s, ok := row[i].(string)
			if !ok || !strings.Contains(s, ",") {
				continue
			}
			parts := strings.Split(s, ",")
			sort.SliceStable(parts, func(a, b int) bool { return NaturalLess(strings.TrimSpace(parts[a]), strings.TrimSpace(parts[b])) })
			row[i] = strings.Join(parts, ",")
		}
	}
	return res
}
