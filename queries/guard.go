package queries

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"tisheng/models"
)

// GuardError is an ad-hoc query refused before it ran; its message is for the analyst.
type GuardError struct{ Msg string }

func (e *GuardError) Error() string { return e.Msg }

// ErrTimeout is a query interrupted at its time limit.
var ErrTimeout = errors.New("query timed out")

// allowedTableFunctions generate rows without reading anything.
var allowedTableFunctions = map[string]bool{"range": true, "generate_series": true, "unnest": true}

// AdHoc runs analysts' SQL: one read-only statement over the analyst schema, with a time
// limit that interrupts it and a row limit that says when it cut the result. The check uses
// DuckDB's own parser (json_serialize_sql), which serialises SELECT statements only, so
// COPY, ATTACH, INSTALL, LOAD, SET, PRAGMA and every write are refused by construction;
// the serving database also runs with external access off and its configuration locked.
type AdHoc struct {
	r        *Runner
	allowed  map[string]bool
	Timeout  time.Duration
	RowLimit int
}

// NewAdHoc returns the ad-hoc runner with the default limits (30 s, 10,000 rows).
func NewAdHoc(r *Runner) *AdHoc {
	a := &AdHoc{r: r, allowed: map[string]bool{}, Timeout: 30 * time.Second, RowLimit: 10000}
	for _, t := range models.AnalystTables() {
		a.allowed[t] = true
	}
	return a
}

// Check refuses anything but one SELECT over the analyst tables.
func (a *AdHoc) Check(ctx context.Context, q string) error {
	if strings.TrimSpace(q) == "" {
		return &GuardError{Msg: "查询为空"}
	}
	var js string
	if err := a.r.db.QueryRowContext(ctx, `SELECT json_serialize_sql(?::VARCHAR)`, q).Scan(&js); err != nil {
		return &GuardError{Msg: "无法解析查询：" + err.Error()}
	}
	var tree struct {
		Error      bool             `json:"error"`
		ErrorType  string           `json:"error_type"`
		Message    string           `json:"error_message"`
		Statements []map[string]any `json:"statements"`
	}
	if err := json.Unmarshal([]byte(js), &tree); err != nil {
		return fmt.Errorf("guard: %w", err)
	}
	if tree.Error {
		if strings.Contains(tree.Message, "Only SELECT") {
			return &GuardError{Msg: "只允许只读查询（SELECT / WITH … SELECT）"}
		}
		return &GuardError{Msg: "查询有语法错误：" + tree.Message}
	}
	if len(tree.Statements) != 1 {
		return &GuardError{Msg: fmt.Sprintf("每次只能执行一条查询，这里有 %d 条", len(tree.Statements))}
	}
	return a.walk(tree.Statements[0], map[string]bool{})
}

// walk checks every table and table function the statement reads, with CTE names in scope
// only where they are visible.
func (a *AdHoc) walk(n any, ctes map[string]bool) error {
	switch x := n.(type) {
	case []any:
		for _, c := range x {
			if err := a.walk(c, ctes); err != nil {
				return err
			}
		}
	case map[string]any:
		if cm, ok := x["cte_map"].(map[string]any); ok {
			if entries, ok := cm["map"].([]any); ok && len(entries) > 0 {
				scope := map[string]bool{}
				for k := range ctes {
					scope[k] = true
				}
				for _, e := range entries {
					if em, ok := e.(map[string]any); ok {
						if k, ok := em["key"].(string); ok {
							scope[strings.ToLower(k)] = true
						}
					}
				}
				ctes = scope
			}
		}
		switch x["type"] {
		case "BASE_TABLE":
			name := strings.ToLower(fmt.Sprint(x["table_name"]))
			schema := strings.ToLower(fmt.Sprint(x["schema_name"]))
			catalog := strings.ToLower(fmt.Sprint(x["catalog_name"]))
			if (schema == "" || schema == "main") && catalog == "" && (a.allowed[name] || ctes[name]) {
				break
			}
			full := name
			if schema != "" {
				full = schema + "." + name
			}
			return &GuardError{Msg: fmt.Sprintf("不能读取「%s」：只能查询分析表（见 docs/schema.md）", full)}
		case "TABLE_FUNCTION":
			fn, _ := x["function"].(map[string]any)
			name := strings.ToLower(fmt.Sprint(fn["function_name"]))
			if !allowedTableFunctions[name] {
				return &GuardError{Msg: fmt.Sprintf("不能使用表函数「%s」", name)}
			}
		}
		for k, v := range x {
			if k == "cte_map" || k == "type" {
				if k == "cte_map" {
					if err := a.walk(v, ctes); err != nil {
						return err
					}
				}
				continue
			}
			if err := a.walk(v, ctes); err != nil {
				return err
			}
		}
	}
	return nil
}

// Run checks and runs q within the time and row limits.
func (a *AdHoc) Run(ctx context.Context, q string) (*Result, error) {
	if err := a.Check(ctx, q); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.Timeout)
	defer cancel()
	res, err := a.r.run(ctx, a.r.db, q, nil, a.RowLimit)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("%w after %s", ErrTimeout, a.Timeout)
		}
		return nil, &GuardError{Msg: Explain(err)}
	}
	return res, nil
}
