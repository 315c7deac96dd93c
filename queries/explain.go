package queries

import (
	"regexp"
	"strings"
)

// DuckDB's error messages are English; the SQL page says in Chinese what is wrong and keeps
// DuckDB's detail (the names it suggests, the position) after it.
var (
	reColumn   = regexp.MustCompile(`Referenced column "([^"]+)" not found in FROM clause!(?:\s*Candidate bindings: ([^\n]+))?`)
	reTable    = regexp.MustCompile(`Table with name ([^ ]+) does not exist!(?:\s*Did you mean "([^"]+)"\?)?`)
	reFunction = regexp.MustCompile(`(?:Scalar|Aggregate|Table) Function with name ([^ ]+) does not exist!(?:\s*Did you mean "([^"]+)"\?)?`)
	reLine     = regexp.MustCompile(`\n\s*LINE \d+:.*`)
)

// Explain turns a DuckDB error into a Chinese sentence for the analyst, with the original
// detail kept.
func Explain(err error) string {
	msg := err.Error()
	detail := strings.TrimSpace(reLine.ReplaceAllString(msg, ""))
	switch {
	case reColumn.MatchString(msg):
		m := reColumn.FindStringSubmatch(msg)
		s := "未知的列「" + m[1] + "」"
		if m[2] != "" {
			s += "，相近的列：" + strings.ReplaceAll(strings.TrimSpace(m[2]), `"`, "")
		}
		return s + "（" + detail + "）"
	case reTable.MatchString(msg):
		m := reTable.FindStringSubmatch(msg)
		s := "未知的表「" + m[1] + "」"
		if m[2] != "" {
			s += "，是否要查「" + m[2] + "」"
		}
		return s + "（分析表见本页的表结构；" + detail + "）"
	case reFunction.MatchString(msg):
		m := reFunction.FindStringSubmatch(msg)
		s := "未知的函数「" + m[1] + "」"
		if m[2] != "" {
			s += "，是否要用「" + m[2] + "」"
		}
		return s + "（" + detail + "）"
	case strings.Contains(msg, "Parser Error"):
		return "查询有语法错误（" + detail + "）"
	case strings.Contains(msg, "Conversion Error"), strings.Contains(msg, "Could not convert"):
		return "类型转换失败：某个值不能转成所需的类型（" + detail + "）"
	case strings.Contains(msg, "No function matches"):
		return "函数的参数类型不对（" + detail + "）"
	case strings.Contains(msg, "Division by zero"), strings.Contains(msg, "division by zero"):
		return "除数为零（" + detail + "）"
	case strings.Contains(msg, "must appear in the GROUP BY clause"):
		return "该列须出现在 GROUP BY 中或放进聚合函数（" + detail + "）"
	case strings.Contains(msg, "Out of Memory"), strings.Contains(msg, "out of memory"):
		return "查询所需内存超出上限，请缩小范围（" + detail + "）"
	case strings.Contains(msg, "Binder Error"):
		return "查询引用有误（" + detail + "）"
	}
	return "查询出错（" + detail + "）"
}
