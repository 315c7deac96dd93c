package queries

import (
	"errors"
	"regexp"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
)

// DuckDB's error messages are English; the SQL page says in Chinese what is wrong and keeps
// DuckDB's detail (the names it suggests, the position) after it. The kind of error is the
// driver's error type (duckdb.Error.Type); within a kind, the names DuckDB found and
// suggests are read from its message where it gives them, and the kind's sentence stands
// when it does not.
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
	var de *duckdb.Error
	if !errors.As(err, &de) {
		return "查询出错（" + detail + "）"
	}
	switch de.Type {
	case duckdb.ErrorTypeParser, duckdb.ErrorTypeSyntax:
		return "查询有语法错误（" + detail + "）"
	case duckdb.ErrorTypeCatalog:
		if m := reTable.FindStringSubmatch(msg); m != nil {
			s := "未知的表「" + m[1] + "」"
			if m[2] != "" {
				s += "，是否要查「" + m[2] + "」"
			}
			return s + "（分析表见本页的表结构；" + detail + "）"
		}
		if m := reFunction.FindStringSubmatch(msg); m != nil {
			s := "未知的函数「" + m[1] + "」"
			if m[2] != "" {
				s += "，是否要用「" + m[2] + "」"
			}
			return s + "（" + detail + "）"
		}
		return "查询用到了不存在的表或函数（分析表见本页的表结构；" + detail + "）"
	case duckdb.ErrorTypeBinder:
		if m := reColumn.FindStringSubmatch(msg); m != nil {
			s := "未知的列「" + m[1] + "」"
			if m[2] != "" {
				s += "，相近的列：" + strings.ReplaceAll(strings.TrimSpace(m[2]), `"`, "")
			}
			return s + "（" + detail + "）"
		}
		return "查询引用有误：列名、函数的参数类型，或未放进 GROUP BY 也未聚合的列（" + detail + "）"
	case duckdb.ErrorTypeConversion, duckdb.ErrorTypeInvalidType, duckdb.ErrorTypeMismatchType:
		return "类型转换失败：某个值不能转成所需的类型（" + detail + "）"
	case duckdb.ErrorTypeDivideByZero:
		return "除数为零（" + detail + "）"
	case duckdb.ErrorTypeOutOfRange:
		return "数值超出所需类型的范围（" + detail + "）"
	case duckdb.ErrorTypeInvalidInput:
		return "某个值不适用于该运算（" + detail + "）"
	case duckdb.ErrorTypeOutOfMemory:
		return "查询所需内存超出上限，请缩小范围（" + detail + "）"
	case duckdb.ErrorTypeInterrupt:
		return "查询被中断（" + detail + "）"
	}
	return "查询出错（" + detail + "）"
}

// IsOutOfMemory says whether err is DuckDB running out of memory (its memory_limit, or an
// allocation refused under serve's --max-memory).
func IsOutOfMemory(err error) bool {
	var de *duckdb.Error
	return errors.As(err, &de) && de.Type == duckdb.ErrorTypeOutOfMemory
}
