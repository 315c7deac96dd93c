package models

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// The models' SQL is read on DuckDB's own parse tree (json_serialize_sql), never with
// regular expressions: which tables a query reads and where (the tree gives each name's
// byte offset, so a refresh points a read at a window by rewriting exactly that name), and
// the few shapes the incremental refresh relies on (raw rows joined to their effective
// files on batch id, a text-keyed model read by its key, the export kinds a model reads).

type node = map[string]any

// stmt is one SELECT statement as DuckDB parses it.
type stmt struct {
	file  string
	text  string
	reads []*read
	ctes  []*cte
	seen  map[int]bool // the offsets of the reads recorded
	named map[string]bool
}

// read is one table name in a FROM clause: a table, or a CTE in scope.
type read struct {
	name  string // lower-case
	alias string // lower-case; the name when the query gives none
	loc   int    // byte offset of the name in the text
	cte   *cte   // the CTE it names; nil for a table
	table node   // its BASE_TABLE node
	from  node   // the root of the FROM clause it is in
	sel   node   // the SELECT node of that FROM clause
	in    *cte   // the CTE whose body it is in, if any
}

// cte is one WITH entry.
type cte struct {
	name string
	body node // its query node
}

// parseSQL parses text (one SELECT, as every model, data test and named query is) with
// the parser of db.
func parseSQL(ctx context.Context, db querier, file, text string) (*stmt, error) {
	var js string
	if err := db.QueryRowContext(ctx, `SELECT json_serialize_sql(?::VARCHAR)::VARCHAR`, text).Scan(&js); err != nil {
		return nil, fmt.Errorf("%s: parse: %w", file, err)
	}
	var tree struct {
		Error      bool   `json:"error"`
		Message    string `json:"error_message"`
		Statements []struct {
			Node node `json:"node"`
		} `json:"statements"`
	}
	if err := json.Unmarshal([]byte(js), &tree); err != nil {
		return nil, fmt.Errorf("%s: parse: %w", file, err)
	}
	if tree.Error {
		return nil, &DeclError{File: file, Msg: "SQL: " + tree.Message}
	}
	if len(tree.Statements) != 1 {
		return nil, &DeclError{File: file, Msg: fmt.Sprintf("one SELECT statement per file, not %d", len(tree.Statements))}
	}
	s := &stmt{file: file, text: text, seen: map[int]bool{}, named: map[string]bool{}}
	s.query(tree.Statements[0].Node, map[string]*cte{}, nil)
	// in the order they are written
	sort.SliceStable(s.reads, func(i, j int) bool { return s.reads[i].loc < s.reads[j].loc })
	for _, r := range s.reads {
		// a name the text spells otherwise (quoted, qualified) cannot be pointed at a window
		qualified := str(r.table["schema_name"]) != "" || str(r.table["catalog_name"]) != ""
		if r.cte == nil && (qualified || !strings.EqualFold(s.at(r.loc, len(r.name)), r.name)) {
			return nil, &DeclError{File: file, Line: s.line(r.loc), Msg: fmt.Sprintf("write table %s unquoted and unqualified: models read the warehouse's own tables", r.name)}
		}
	}
	return s, nil
}

func (s *stmt) at(loc, n int) string {
	if loc < 0 || loc+n > len(s.text) {
		return ""
	}
	return s.text[loc : loc+n]
}

// line is the line number of byte offset loc.
func (s *stmt) line(loc int) int {
	if loc > len(s.text) {
		loc = len(s.text)
	}
	return strings.Count(s.text[:max(loc, 0)], "\n") + 1
}

func str(v any) string { x, _ := v.(string); return x }

func isQueryNode(n node) bool {
	switch str(n["type"]) {
	case "SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE":
		_, ok := n["modifiers"]
		return ok
	}
	return false
}

// query walks a query node: its CTEs in order (each body sees the ones before it, a
// recursive one itself too), then its body with all of them in scope.
func (s *stmt) query(n node, scope map[string]*cte, in *cte) {
	inner := scope
	if cm, ok := n["cte_map"].(node); ok {
		entries, _ := cm["map"].([]any)
		if len(entries) > 0 {
			inner = map[string]*cte{}
			for k, v := range scope {
				inner[k] = v
			}
		}
		for _, e := range entries {
			em, _ := e.(node)
			name := strings.ToLower(str(em["key"]))
			val, _ := em["value"].(node)
			q, _ := val["query"].(node)
			body, _ := q["node"].(node)
			if body == nil {
				body, _ = val["query_node"].(node) // the tree of DuckDB 2.0.0 on
			}
			c := &cte{name: name, body: body}
			if b, _ := json.Marshal(body); !s.named[name+"\x00"+string(b)] {
				s.named[name+"\x00"+string(b)] = true
				s.ctes = append(s.ctes, c)
			}
			bodyScope := map[string]*cte{}
			for k, v := range inner {
				bodyScope[k] = v
			}
			if str(body["type"]) == "RECURSIVE_CTE_NODE" {
				bodyScope[name] = c
			}
			if body != nil {
				s.query(body, bodyScope, c)
			}
			inner[name] = c
		}
	}
	// in a fixed order: the reads are listed as the tree is walked
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := n[k]
		switch {
		case k == "cte_map":
		case k == "query" && str(n["type"]) == "CTE_NODE":
			// a materialised CTE: DuckDB gives its body here and in the CTE map, read there
		case k == "from_table" && str(n["type"]) == "SELECT_NODE":
			from, _ := v.(node)
			s.walk(v, inner, in, from, n)
		default:
			s.walk(v, inner, in, nil, nil)
		}
	}
}

// walk descends into any part of a tree, recording the table names of FROM clauses.
func (s *stmt) walk(v any, scope map[string]*cte, in *cte, from, sel node) {
	switch x := v.(type) {
	case []any:
		for _, c := range x {
			s.walk(c, scope, in, from, sel)
		}
	case node:
		if isQueryNode(x) {
			s.query(x, scope, in)
			return
		}
		if str(x["type"]) == "BASE_TABLE" {
			if _, ok := x["table_name"]; ok {
				name := strings.ToLower(str(x["table_name"]))
				alias := strings.ToLower(str(x["alias"]))
				if alias == "" {
					alias = name
				}
				loc := -1
				if f, ok := x["query_location"].(float64); ok {
					loc = int(f)
				}
				if loc >= 0 && s.seen[loc] {
					return // the same text read again through a repeated part of the tree
				}
				s.seen[loc] = true
				r := &read{name: name, alias: alias, loc: loc, table: x, from: from, sel: sel, in: in}
				if str(x["schema_name"]) == "" && str(x["catalog_name"]) == "" {
					r.cte = scope[name]
				}
				s.reads = append(s.reads, r)
				return
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s.walk(x[k], scope, in, from, sel)
		}
	}
}

// tables lists the tables (not CTEs) the statement reads, sorted, once each.
func (s *stmt) tables() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range s.reads {
		if r.cte == nil && !seen[r.name] {
			seen[r.name] = true
			out = append(out, r.name)
		}
	}
	sort.Strings(out)
	return out
}

// rewrite returns the text with every read of a table that to renames pointed at the new
// name: exactly those names, at the offsets the parser gave.
func (s *stmt) rewrite(to func(name string) (string, bool)) string {
	type edit struct {
		loc, n int
		with   string
	}
	var edits []edit
	for _, r := range s.reads {
		if r.cte != nil || r.loc < 0 {
			continue
		}
		if w, ok := to(r.name); ok {
			edits = append(edits, edit{r.loc, len(r.name), w})
		}
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].loc > edits[j].loc })
	out := s.text
	for _, e := range edits {
		out = out[:e.loc] + e.with + out[e.loc+e.n:]
	}
	return out
}
