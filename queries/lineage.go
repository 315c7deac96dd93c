package queries

import (
	"fmt"
	"strings"
)

// Column lineage for the size rule (builders.go). A builder's or a string/list aggregate's
// result can reach another builder through a column of a CTE or of a derived table
// (SELECT regexp_replace(s, …) FROM (SELECT repeat(…) AS s)), through a recursive CTE that
// feeds a builder its own result each round, or through the list of a higher-order
// function; looking only at a call's own arguments let all of them pass. So
// before the guard checks any call, one pass over the whole statement works out which
// columns of its CTEs, derived tables, VALUES lists and table functions carry such a
// value, repeating until nothing more is found (a column built from a built column is
// built; a recursive CTE's columns settle after a few rounds).
//
// The pass is conservative rather than exact. A column counts as built by its name,
// wherever that name appears in the statement (a base table's column that shares a built
// column's name is taken as built too); a value computed from a built one (length(s)) is
// built; a built value with no name of its own (an unaliased expression, a PIVOT, an
// unnest of a built list) makes every reference that could name it (a generated name, a
// positional #n) count as built. It errs towards refusing.
//
// The same pass tells a bare keyword that names a column from the keyword itself:
// SELECT localtimestamp FROM (SELECT 1 AS localtimestamp) reads a column, and DuckDB binds
// it so; SELECT localtimestamp alone calls a function (checkNode refuses that one).

// source says where a built value comes from: the builder or aggregate (fn) and, when it
// reaches the call through a column, that column's name (via).
type source struct{ fn, via string }

func (s source) ok() bool { return s.fn != "" }

// String names the source for a refusal, in Chinese.
func (s source) String() string {
	if s.via == "" {
		return fmt.Sprintf("「%s」的结果", s.fn)
	}
	return fmt.Sprintf("列「%s」（其值来自「%s」）", s.via, s.fn)
}

// col is one output column of a relation: its name ("" when the query gives it none we
// can know) and the builder or aggregate whose result it carries ("" for none).
type col struct{ name, built string }

// rel is a relation's output as far as the parse tree tells it.
type rel struct {
	alias string
	cols  []col
	open  bool // it has columns not listed here (a base table, a star over one)
}

// columnMark marks, in the parse tree, a bare keyword that names a column of a relation in
// scope (checkNode lets it through).
const columnMark = "\x00column"

type lineage struct {
	ctes    map[string]rel
	built   map[string]string // column name (lower case) -> the builder or aggregate behind it
	unnamed string            // a built value without a name of its own, or ""
	anyRef  string            // a built value under names nobody can know (PIVOT): every column reference is built
}

// maxLineageRounds bounds the passes: each pass can only add built names, and a
// statement's chain of CTEs feeding each other is never this long in practice; past it
// every column counts as built (refusing is the safe side).
const maxLineageRounds = 16

// newLineage works out the built columns of one statement (a parse tree's statement).
func newLineage(stmt map[string]any) *lineage {
	// ctes is kept from one pass to the next: a recursive CTE's body then sees the
	// columns its previous round gave it
	l := &lineage{built: map[string]string{}, ctes: map[string]rel{}}
	node, _ := stmt["node"].(map[string]any)
	for round := 0; ; round++ {
		before, unnamed, anyRef := len(l.built), l.unnamed, l.anyRef
		l.query(node, nil)
		if len(l.built) == before && l.unnamed == unnamed && l.anyRef == anyRef && round > 0 {
			return l
		}
		if round == maxLineageRounds {
			for name, fn := range l.built {
				l.anyRef = fn + "（" + name + "）"
				break
			}
			if l.anyRef == "" {
				l.anyRef = l.unnamed
			}
			return l
		}
	}
}

func (l *lineage) addBuilt(c col) {
	switch {
	case c.built == "":
	case c.name == "":
		if l.unnamed == "" {
			l.unnamed = c.built
		}
	default:
		if _, ok := l.built[strings.ToLower(c.name)]; !ok {
			l.built[strings.ToLower(c.name)] = c.built
		}
	}
}

// anyBuilt is some built value of the statement, for a reference that could reach any
// column (#1), or "".
func (l *lineage) anyBuilt() string {
	if l.anyRef != "" {
		return l.anyRef
	}
	if l.unnamed != "" {
		return l.unnamed
	}
	for _, fn := range l.built {
		return fn
	}
	return ""
}

// query works out a query node's output columns; outer holds the FROM relations of the
// queries it is nested in (a correlated subquery sees them).
func (l *lineage) query(node map[string]any, outer [][]rel) rel {
	if node == nil {
		return rel{open: true}
	}
	l.registerCTEs(node["cte_map"], outer)
	switch node["type"] {
	case "SELECT_NODE":
		from := l.from(node["from_table"], outer)
		scopes := append(append([][]rel(nil), outer...), from)
		var out rel
		items, _ := node["select_list"].([]any)
		for _, it := range items {
			x, _ := it.(map[string]any)
			if x == nil {
				continue
			}
			l.expr(x, scopes)
			if x["class"] == "STAR" {
				out = l.star(out, x, from)
				continue
			}
			c := col{name: itemName(x), built: l.find(x, nil).fn}
			out.cols = append(out.cols, c)
		}
		for k, v := range node {
			switch k {
			case "cte_map", "from_table", "select_list":
			default:
				l.expr(v, scopes)
			}
		}
		for _, c := range out.cols {
			l.addBuilt(c)
		}
		return out
	case "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE":
		left, _ := node["left"].(map[string]any)
		right, _ := node["right"].(map[string]any)
		out := merge(l.query(left, outer), l.query(right, outer))
		for k, v := range node {
			if k != "left" && k != "right" && k != "cte_map" {
				l.expr(v, outer)
			}
		}
		for _, c := range out.cols {
			l.addBuilt(c)
		}
		return out
	case "CTE_NODE":
		name, _ := node["cte_name"].(string)
		q, _ := node["query"].(map[string]any)
		l.ctes[strings.ToLower(name)] = l.query(q, outer)
		child, _ := node["child"].(map[string]any)
		return l.query(child, outer)
	}
	return rel{open: true}
}

// registerCTEs works out each CTE of a cte_map, in order (a CTE sees those before it; a
// recursive one sees itself as the previous round left it).
func (l *lineage) registerCTEs(m any, outer [][]rel) {
	cm, _ := m.(map[string]any)
	entries, _ := cm["map"].([]any)
	for _, e := range entries {
		em, _ := e.(map[string]any)
		name, _ := em["key"].(string)
		body, _ := em["value"].(map[string]any)
		q, _ := body["query"].(map[string]any)
		node, _ := q["node"].(map[string]any)
		r := l.query(node, outer)
		r = renamed(r, body["aliases"])
		if node != nil {
			r = renamed(r, node["aliases"])
		}
		name = strings.ToLower(name)
		if prev, ok := l.ctes[name]; ok {
			r = merge(r, prev) // the same name in two scopes: keep what either builds
		}
		l.ctes[name] = r
		for _, c := range r.cols {
			l.addBuilt(c)
		}
	}
}

// from works out the relations of a FROM clause.
func (l *lineage) from(t any, outer [][]rel) []rel {
	x, _ := t.(map[string]any)
	if x == nil {
		return nil
	}
	alias, _ := x["alias"].(string)
	switch x["type"] {
	case "BASE_TABLE":
		name := strings.ToLower(fmt.Sprint(x["table_name"]))
		if alias == "" {
			alias = name
		}
		schema, _ := x["schema_name"].(string)
		if r, ok := l.ctes[name]; ok && schema == "" {
			r.alias = alias
			r.cols = append([]col(nil), r.cols...)
			return []rel{l.named(renamed(r, x["column_name_alias"]))}
		}
		return []rel{{alias: alias, open: true}}
	case "SUBQUERY":
		sq, _ := x["subquery"].(map[string]any)
		node, _ := sq["node"].(map[string]any)
		r := l.query(node, outer)
		r.alias = alias
		return []rel{l.named(renamed(r, x["column_name_alias"]))}
	case "JOIN":
		rels := append(l.from(x["left"], outer), l.from(x["right"], outer)...)
		l.expr(x["condition"], append(append([][]rel(nil), outer...), rels))
		return rels
	case "TABLE_FUNCTION":
		fn, _ := x["function"].(map[string]any)
		l.expr(fn, outer)
		b := l.find(fn["children"], nil).fn
		r := rel{alias: alias, open: true}
		names := aliasList(x["column_name_alias"])
		if len(names) == 0 {
			names = []string{strings.ToLower(fmt.Sprint(fn["function_name"]))}
		}
		for _, n := range names {
			r.cols = append(r.cols, col{name: n, built: b})
		}
		if b != "" {
			// unnest of a list of structs makes columns named after the fields
			l.addBuilt(col{built: b})
		}
		return []rel{l.named(r)}
	case "EXPRESSION_LIST":
		rows, _ := x["values"].([]any)
		r := rel{alias: alias}
		for _, row := range rows {
			items, _ := row.([]any)
			for i, it := range items {
				l.expr(it, outer)
				if i == len(r.cols) {
					r.cols = append(r.cols, col{name: fmt.Sprintf("col%d", i)})
				}
				if r.cols[i].built == "" {
					r.cols[i].built = l.find(it, nil).fn
				}
			}
		}
		return []rel{l.named(r)}
	case "PIVOT":
		// PIVOT names its columns after the values it finds: a built value in it could be
		// under any name
		l.expr(x, outer)
		if s := l.find(x, nil); s.ok() && l.anyRef == "" {
			l.anyRef = s.fn
		}
		return []rel{{alias: alias, open: true}}
	}
	l.expr(x, outer)
	return []rel{{alias: alias, open: true}}
}

// named records a FROM relation's built columns under their names.
func (l *lineage) named(r rel) rel {
	for _, c := range r.cols {
		l.addBuilt(c)
	}
	return r
}

// star adds what a * (or COLUMNS(…), * REPLACE) in a select list brings.
func (l *lineage) star(out rel, x map[string]any, from []rel) rel {
	relName := strings.ToLower(fmt.Sprint(x["relation_name"]))
	excluded := map[string]bool{}
	for _, e := range aliasList(x["exclude_list"]) {
		excluded[strings.ToLower(e)] = true
	}
	for _, r := range from {
		if relName != "" && relName != "<nil>" && strings.ToLower(r.alias) != relName {
			continue
		}
		for _, c := range r.cols {
			// an excluded column is not there to name (a keyword then calls its function)
			if !excluded[strings.ToLower(c.name)] {
				out.cols = append(out.cols, c)
			}
		}
		out.open = out.open || r.open
	}
	// COLUMNS(lambda or regex) and * REPLACE (expr AS name) compute new values
	if e := l.find(x["expr"], nil); e.ok() {
		for i := range out.cols {
			if out.cols[i].built == "" {
				out.cols[i].built = e.fn
			}
		}
		l.addBuilt(col{built: e.fn})
	}
	repl, _ := x["replace_list"].([]any)
	for _, it := range repl {
		m, _ := it.(map[string]any)
		name, _ := m["key"].(string)
		b := l.find(m["value"], nil).fn
		found := false
		for i := range out.cols {
			if strings.EqualFold(out.cols[i].name, name) {
				found = true
				if b != "" {
					out.cols[i].built = b
				}
			}
		}
		if !found {
			out.cols = append(out.cols, col{name: name, built: b})
		}
	}
	return out
}

// expr walks an expression (or any part of a query node) for the queries nested in it and
// for bare keywords that name a column in scope.
func (l *lineage) expr(n any, scopes [][]rel) {
	switch x := n.(type) {
	case []any:
		for _, c := range x {
			l.expr(c, scopes)
		}
	case map[string]any:
		if t, _ := x["type"].(string); strings.HasSuffix(t, "_NODE") {
			l.query(x, scopes)
			return
		}
		if x["class"] == "COLUMN_REF" {
			names, _ := x["column_names"].([]any)
			if len(names) == 1 {
				if n, _ := names[0].(string); inScope(strings.ToLower(n), scopes) {
					x[columnMark] = true
				}
			}
			return
		}
		for _, c := range x {
			l.expr(c, scopes)
		}
	}
}

// inScope reports whether a relation of the innermost scope lists a column of that name.
// Only the innermost: DuckDB 1.1.2 binds SELECT (SELECT localtimestamp) FROM (SELECT 1 AS
// localtimestamp) as the function, not as the outer query's column.
func inScope(name string, scopes [][]rel) bool {
	if len(scopes) == 0 {
		return false
	}
	for _, r := range scopes[len(scopes)-1] {
		for _, c := range r.cols {
			if strings.EqualFold(c.name, name) {
				return true
			}
		}
	}
	return false
}

// find names a builder, a string/list aggregate, or a built column anywhere under n
// (subqueries and lambdas included); shadow holds the parameters of the lambdas around n,
// which are not columns.
func (l *lineage) find(n any, shadow map[string]bool) source {
	switch x := n.(type) {
	case []any:
		for _, c := range x {
			if s := l.find(c, shadow); s.ok() {
				return s
			}
		}
	case map[string]any:
		if x["type"] == "TABLE_FUNCTION" {
			// a table function's call streams rows: only its arguments can build
			fn, _ := x["function"].(map[string]any)
			return l.find(fn["children"], shadow)
		}
		switch x["class"] {
		case "FUNCTION", "WINDOW":
			name := strings.ToLower(fmt.Sprint(x["function_name"]))
			if _, ok := builders[name]; ok || aggregateBuilders[name] {
				return source{fn: name}
			}
		case "COLUMN_REF":
			names, _ := x["column_names"].([]any)
			for _, p := range names {
				part := strings.ToLower(fmt.Sprint(p))
				if shadow[part] {
					continue
				}
				if fn := l.built[part]; fn != "" {
					return source{fn: fn, via: part}
				}
				// a generated name ("repeat('a', 10)") can reach an unnamed built value
				if l.unnamed != "" && strings.ContainsAny(part, "( ") {
					return source{fn: l.unnamed, via: part}
				}
				if l.anyRef != "" {
					return source{fn: l.anyRef, via: part}
				}
			}
			return source{}
		case "POSITIONAL_REFERENCE":
			if fn := l.anyBuilt(); fn != "" {
				return source{fn: fn, via: fmt.Sprintf("#%v", x["index"])}
			}
			return source{}
		case "LAMBDA":
			inner := map[string]bool{}
			for k := range shadow {
				inner[k] = true
			}
			for _, p := range lambdaParams(x) {
				inner[p] = true
			}
			return l.find(x["expr"], inner)
		}
		for k, c := range x {
			if k == columnMark || k == tableFunctionMark {
				continue
			}
			if s := l.find(c, shadow); s.ok() {
				return s
			}
		}
	}
	return source{}
}

// lambdaParams are the names a lambda binds (x -> …, (a, b) -> …), lower case.
func lambdaParams(x map[string]any) []string {
	var out []string
	var walk func(any)
	walk = func(n any) {
		switch v := n.(type) {
		case []any:
			for _, c := range v {
				walk(c)
			}
		case map[string]any:
			if v["class"] == "COLUMN_REF" {
				for _, p := range asList(v["column_names"]) {
					out = append(out, strings.ToLower(fmt.Sprint(p)))
				}
				return
			}
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(x["lhs"])
	return out
}

// itemName is the name a select-list item gives its column: its alias, or a column
// reference's own name; "" for a generated name.
func itemName(x map[string]any) string {
	if a, _ := x["alias"].(string); a != "" {
		return a
	}
	if x["class"] == "COLUMN_REF" {
		names := asList(x["column_names"])
		if len(names) > 0 {
			return fmt.Sprint(names[len(names)-1])
		}
	}
	return ""
}

func aliasList(v any) []string {
	var out []string
	for _, a := range asList(v) {
		if s, ok := a.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// renamed applies a column alias list (WITH c(a, b), FROM (…) t(a, b)): positions when the
// relation's columns are all known, else every alias is as built as the relation's most
// built column.
func renamed(r rel, aliases any) rel {
	names := aliasList(aliases)
	if len(names) == 0 {
		return r
	}
	if !r.open {
		for i, n := range names {
			if i < len(r.cols) {
				r.cols[i].name = n
			}
		}
		return r
	}
	b := ""
	for _, c := range r.cols {
		if c.built != "" {
			b = c.built
			break
		}
	}
	for _, n := range names {
		r.cols = append(r.cols, col{name: n, built: b})
	}
	return r
}

// merge is a set operation's output (and a recursive CTE's): the left side's names, built
// where either side's column at that position is built; when positions cannot be known,
// every column is as built as the most built one.
func merge(left, right rel) rel {
	out := rel{alias: left.alias, cols: append([]col(nil), left.cols...), open: left.open || right.open}
	if !out.open && len(left.cols) == len(right.cols) {
		for i, c := range right.cols {
			if out.cols[i].built == "" {
				out.cols[i].built = c.built
			}
		}
		return out
	}
	b := ""
	for _, c := range append(append([]col(nil), left.cols...), right.cols...) {
		if c.built != "" {
			b = c.built
			break
		}
	}
	if b != "" {
		for i := range out.cols {
			if out.cols[i].built == "" {
				out.cols[i].built = b
			}
		}
		for _, c := range right.cols {
			out.cols = append(out.cols, col{name: c.name, built: b})
		}
	}
	return out
}
