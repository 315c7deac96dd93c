package queries

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// GuardError is an ad-hoc query refused before it ran; its message is for the analyst.
type GuardError struct{ Msg string }

func (e *GuardError) Error() string { return e.Msg }

// ErrTimeout is a query interrupted at its time limit.
var ErrTimeout = errors.New("query timed out")

// allowedTableFunctions generate rows without reading anything; what they can cost is
// bounded by the time limit, the memory ceiling and the result caps.
var allowedTableFunctions = map[string]bool{"range": true, "generate_series": true, "unnest": true}

// functionList is the allow-list of functions ad-hoc SQL may call (see the file's header).
//
//go:embed functions.txt
var functionList string

// allowedFunctions parses functionList.
func allowedFunctions() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(functionList, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			m[line] = true
		}
	}
	return m
}

// sessionKeywords are the bare words DuckDB binds as calls of catalog or session
// functions (current_date and current_timestamp, which read nothing, are not among them).
var sessionKeywords = map[string]bool{"current_catalog": true, "current_schema": true, "current_user": true,
	"current_role": true, "session_user": true, "user": true}

// extensionKeywords are the bare words DuckDB binds as calls of functions that an
// extension it does not have provides: it would try to install it (a folder under the home
// directory, a download) before failing.
var extensionKeywords = map[string]string{"localtime": "icu", "localtimestamp": "icu"}

// builtinUserTypes are the type names that serialise as user types but are built in.
var builtinUserTypes = map[string]bool{"json": true}

func extensionRefusal(name, ext string) error {
	return &GuardError{Msg: fmt.Sprintf("不支持「%s」：它需要扩展 %s，服务器未提供（当前时间请用 current_timestamp 或 now()）", name, ext)}
}

// Query nodes and table references a query may contain; anything else (SUMMARIZE,
// DESCRIBE and SHOW parse as SHOW_REF) is refused.
var (
	allowedQueryNodes = map[string]bool{"SELECT_NODE": true, "SET_OPERATION_NODE": true, "RECURSIVE_CTE_NODE": true, "CTE_NODE": true}
	allowedTableRefs  = map[string]bool{"BASE_TABLE": true, "JOIN": true, "SUBQUERY": true, "TABLE_FUNCTION": true,
		"EXPRESSION_LIST": true, "EMPTY": true, "PIVOT": true}
)

// AdHoc runs analysts' SQL: one read-only statement over the analyst schema calling only
// allow-listed functions, within a time limit that interrupts it, a memory ceiling, and row
// and byte caps on the result that say when they cut it. The check walks DuckDB's own parse
// tree (json_serialize_sql), which serialises SELECT statements only, so COPY, ATTACH,
// INSTALL, LOAD, SET, PRAGMA and every write are refused by construction; every table,
// table function, function and query construct is then checked against an allow-list. The
// serving database also runs with external access off and its configuration locked.
type AdHoc struct {
	r        *Runner
	tables   map[string]bool
	funcs    map[string]bool
	Timeout  time.Duration
	RowLimit int
	// ByteLimit caps the result's size (the sum of its values' sizes as text).
	ByteLimit int64
	// Memory interrupts a query while the process has grown by more than this many bytes
	// since the query began (0: no ceiling); see memguard.go.
	Memory int64
	mem    *memGuard

	typesOnce sync.Once
	types     map[string]bool
}

// Default limits of ad-hoc queries.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultRowLimit  = 10000
	DefaultByteLimit = 32 << 20
	DefaultMemory    = 1 << 30
)

// NewAdHoc returns the ad-hoc runner with the default limits, reading only the analyst
// tables (models.Catalog.AnalystTables).
func NewAdHoc(r *Runner, tables []string) *AdHoc {
	a := &AdHoc{r: r, tables: map[string]bool{}, funcs: allowedFunctions(), Timeout: DefaultTimeout,
		RowLimit: DefaultRowLimit, ByteLimit: DefaultByteLimit, Memory: DefaultMemory, mem: newMemGuard()}
	for _, t := range tables {
		a.tables[t] = true
	}
	return a
}

// Check refuses anything but one SELECT over the analyst tables with allowed functions.
func (a *AdHoc) Check(ctx context.Context, q string) error {
	if strings.TrimSpace(q) == "" {
		return &GuardError{Msg: "查询为空"}
	}
	if n := utf8.RuneCountInString(q); n > MaxQueryChars {
		return &GuardError{Msg: fmt.Sprintf("查询过长：%d 个字符，最多 %d 个（builders.go：字面量也在限制之内）", n, MaxQueryChars)}
	}
	var js string
	if err := a.r.db.QueryRowContext(ctx, `SELECT json_serialize_sql(?::VARCHAR)::VARCHAR`, q).Scan(&js); err != nil {
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
	st := &buildState{lin: newLineage(tree.Statements[0])}
	return a.walk(tree.Statements[0], map[string]bool{}, st)
}

// walk checks every node of the tree. CTE names are in scope only where DuckDB binds them:
// a CTE's body sees the CTEs before it (a recursive CTE's recursive side also sees itself),
// and the query sees them all; a name out of scope is checked as a table, so a CTE named
// like an internal table cannot smuggle that table in.
func (a *AdHoc) walk(n any, ctes map[string]bool, st *buildState) error {
	switch x := n.(type) {
	case []any:
		for _, c := range x {
			if err := a.walk(c, ctes, st); err != nil {
				return err
			}
		}
	case map[string]any:
		if err := a.checkNode(x, ctes, st); err != nil {
			return err
		}
		if cm, ok := x["cte_map"].(map[string]any); ok {
			entries, _ := cm["map"].([]any)
			scope := copyScope(ctes)
			for _, e := range entries {
				em, _ := e.(map[string]any)
				name, _ := em["key"].(string)
				if err := a.walkCTE(strings.ToLower(name), em["value"], scope, st); err != nil {
					return err
				}
				scope[strings.ToLower(name)] = true
			}
			ctes = scope
		}
		for k, v := range x {
			if k == "cte_map" {
				continue
			}
			if err := a.walk(v, ctes, st); err != nil {
				return err
			}
		}
	}
	return nil
}

// walkCTE checks one CTE's body with the CTEs before it in scope; the recursive side of a
// recursive CTE also sees the CTE itself.
func (a *AdHoc) walkCTE(name string, v any, scope map[string]bool, st *buildState) error {
	body, _ := v.(map[string]any)
	query, _ := body["query"].(map[string]any)
	node, _ := query["node"].(map[string]any)
	if node == nil {
		node, _ = body["query_node"].(map[string]any) // the tree of DuckDB 2.0.0 on
	}
	if node != nil && node["type"] == "RECURSIVE_CTE_NODE" {
		self := copyScope(scope)
		self[name] = true
		for k, c := range node {
			s := scope
			if k == "right" {
				s = self
			}
			if k == "left" || k == "right" {
				if err := a.walk(c, s, st); err != nil {
					return err
				}
			}
		}
		rest := map[string]any{}
		for k, c := range node {
			if k != "left" && k != "right" {
				rest[k] = c
			}
		}
		// and what the CTE carries beside its query (USING KEY targets, payloads)
		for k, c := range body {
			if k != "query" && k != "query_node" {
				rest["cte."+k] = c
			}
		}
		return a.walk(rest, scope, st)
	}
	return a.walk(v, scope, st)
}

func copyScope(m map[string]bool) map[string]bool {
	c := make(map[string]bool, len(m))
	for k := range m {
		c[k] = true
	}
	return c
}

// checkNode checks one node: an expression (class set), a query node (type …_NODE) or a
// table reference (the rest that carry an alias and a sample).
func (a *AdHoc) checkNode(x map[string]any, ctes map[string]bool, st *buildState) error {
	typ, _ := x["type"].(string)
	if typ == "USER_TYPE_INFO" || typ == "UNBOUND_TYPE_INFO" {
		// a type not built into the engine: DuckDB would try to install and load the
		// extension that has it (INET, GEOMETRY…). DuckDB 1.1.2 gives such a name as a
		// user type; 1.5.6 gives every type named in a cast unbound, built in or not.
		name := strings.ToLower(fmt.Sprint(x["user_type_name"]))
		if typ == "UNBOUND_TYPE_INFO" {
			name = strings.ToLower(fmt.Sprint(x["name"]))
		}
		if !builtinUserTypes[name] && !a.engineType(name) {
			return &GuardError{Msg: fmt.Sprintf("不支持类型「%s」：服务器只提供内置类型（它需要的扩展未安装，也不会自动安装）", name)}
		}
		return nil
	}
	if class, ok := x["class"].(string); ok {
		switch class {
		case "FUNCTION", "WINDOW":
			if err := a.checkFunction(x); err != nil {
				return err
			}
			return checkBuild(x, st) // builders.go
		case "COLUMN_REF":
			// DuckDB binds these bare keywords, when no column has the name, as calls of
			// functions that reveal the database (current_catalog is the file's name). A
			// keyword that names a column of a relation in scope (FROM (SELECT 1 AS
			// localtimestamp)) is that column: the lineage pass marked it.
			names, _ := x["column_names"].([]any)
			if len(names) == 1 && x[columnMark] != true {
				if n, _ := names[0].(string); sessionKeywords[strings.ToLower(n)] {
					return &GuardError{Msg: fmt.Sprintf("不能调用函数「%s」：只允许不读取设置、序列或数据库信息的函数（清单见 queries/functions.txt）", strings.ToLower(n))}
				} else if ext := extensionKeywords[strings.ToLower(n)]; ext != "" {
					return extensionRefusal(strings.ToLower(n), ext)
				}
			}
		}
		return nil
	}
	if strings.HasSuffix(typ, "_NODE") {
		if !allowedQueryNodes[typ] {
			return &GuardError{Msg: fmt.Sprintf("不支持的查询结构「%s」", typ)}
		}
		return nil
	}
	_, hasAlias := x["alias"]
	_, hasSample := x["sample"]
	if !hasAlias || !hasSample || typ == "" {
		return nil
	}
	switch typ {
	case "SHOW_REF":
		return &GuardError{Msg: "不能使用 SUMMARIZE、DESCRIBE 或 SHOW：请直接查询分析表（表和列见 docs/schema.md）"}
	case "BASE_TABLE":
		name := strings.ToLower(fmt.Sprint(x["table_name"]))
		schema := strings.ToLower(fmt.Sprint(x["schema_name"]))
		catalog := strings.ToLower(fmt.Sprint(x["catalog_name"]))
		if (schema == "" || schema == "main") && catalog == "" && (a.tables[name] || ctes[name]) {
			return nil
		}
		return &GuardError{Msg: fmt.Sprintf("不能读取「%s」：只能查询分析表（见 docs/schema.md）", qualified(catalog, schema, name))}
	case "TABLE_FUNCTION":
		fn, _ := x["function"].(map[string]any)
		name := strings.ToLower(fmt.Sprint(fn["function_name"]))
		if !allowedTableFunctions[name] {
			return &GuardError{Msg: fmt.Sprintf("不能使用表函数「%s」：只允许 range、generate_series 和 unnest", name)}
		}
		// range and generate_series as table functions stream rows (the time limit bounds
		// them); the size rule is for the scalar calls that build one list
		if fn != nil {
			fn[tableFunctionMark] = true
		}
		return nil
	}
	if !allowedTableRefs[typ] {
		return &GuardError{Msg: fmt.Sprintf("不支持的查询结构「%s」", typ)}
	}
	return nil
}

// checkFunction refuses a function that is not on the allow-list, or one named with a
// schema or catalog other than DuckDB's own main schema.
func (a *AdHoc) checkFunction(x map[string]any) error {
	name := strings.ToLower(fmt.Sprint(x["function_name"]))
	schema, _ := x["schema"].(string)
	catalog, _ := x["catalog"].(string)
	schema, catalog = strings.ToLower(schema), strings.ToLower(catalog)
	if a.funcs[name] && (schema == "" || schema == "main") && catalog == "" {
		return nil
	}
	return &GuardError{Msg: fmt.Sprintf("不能调用函数「%s」：只允许不读取设置、序列或数据库信息的函数（清单见 queries/functions.txt）", qualified(catalog, schema, name))}
}

// qualified writes a name as the query gave it: catalog.schema.name, without empty parts.
func qualified(catalog, schema, name string) string {
	var parts []string
	for _, p := range []string{catalog, schema, name} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ".")
}

// Run checks and runs q within the time, memory, row and byte limits.
func (a *AdHoc) Run(ctx context.Context, q string) (*Result, error) {
	if err := a.Check(ctx, q); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.Timeout)
	defer cancel()
	mctx, stop := a.mem.watch(ctx, a.Memory)
	res, err := a.r.run(mctx, a.r.db, q, nil, a.RowLimit, a.ByteLimit)
	stop()
	if err != nil {
		return nil, a.failure(ctx, mctx, err)
	}
	return res, nil
}

// failure says why a query that passed the guard failed: its time limit, its memory
// ceiling, the caller going away, or DuckDB's own error.
func (a *AdHoc) failure(ctx, mctx context.Context, err error) error {
	switch {
	case errors.Is(context.Cause(mctx), ErrMemory):
		return fmt.Errorf("%w (%s)", ErrMemory, humanSize(a.Memory))
	case ctx.Err() == context.DeadlineExceeded:
		return fmt.Errorf("%w after %s", ErrTimeout, a.Timeout)
	case ctx.Err() != nil:
		return ctx.Err()
	case IsOutOfMemory(err):
		// DuckDB's memory_limit, or an allocation refused under serve's --max-memory.
		return fmt.Errorf("%w: %v", ErrMemory, err)
	}
	return &GuardError{Msg: Explain(err)}
}

// humanSize writes a byte count the way the messages do (32 MB, 1 GB).
func humanSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d KB", n>>10)
}

// engineType says whether the engine has a type of this name (its own types, of the
// extensions built into it): read once from duckdb_types().
func (a *AdHoc) engineType(name string) bool {
	a.typesOnce.Do(func() {
		a.types = map[string]bool{}
		rows, err := a.r.db.Query(`SELECT DISTINCT lower(type_name) FROM duckdb_types() UNION SELECT DISTINCT lower(logical_type) FROM duckdb_types()`)
		if err != nil {
			return // no types known: every named type is refused
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if rows.Scan(&n) == nil {
				a.types[n] = true
			}
		}
	})
	return a.types[name]
}
