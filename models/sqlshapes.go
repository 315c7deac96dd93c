package models

import (
	"fmt"
	"sort"
	"strings"
)

// The shapes of SQL the incremental refresh relies on, read on the parse tree (sqltree.go):
// raw rows joined to their effective files on batch id, a text-keyed model read by its key,
// the export kinds a model reads, the school references' raw reads.

// colRef reads a column reference alias.column (two names), lower-case.
func colRef(v any) (alias, col string, ok bool) {
	x, _ := v.(node)
	if str(x["class"]) != "COLUMN_REF" {
		return "", "", false
	}
	names, _ := x["column_names"].([]any)
	switch len(names) {
	case 1:
		return "", strings.ToLower(str(names[0])), true
	case 2:
		return strings.ToLower(str(names[0])), strings.ToLower(str(names[1])), true
	}
	return "", "", false
}

// constString reads a string constant.
func constString(v any) (string, bool) {
	x, _ := v.(node)
	if str(x["class"]) != "CONSTANT" {
		return "", false
	}
	val, _ := x["value"].(node)
	if t, _ := val["type"].(node); str(t["id"]) != "VARCHAR" {
		return "", false
	}
	if b, _ := val["is_null"].(bool); b {
		return "", false
	}
	v2, ok := val["value"].(string)
	return v2, ok
}

// conjuncts splits a condition joined by AND at its top level; an OR or NOT at the top
// leaves the whole condition as one conjunct, which no equality test matches.
func conjuncts(v any) []node {
	x, _ := v.(node)
	if x == nil {
		return nil
	}
	if str(x["class"]) == "CONJUNCTION" && str(x["type"]) == "CONJUNCTION_AND" {
		var out []node
		for _, c := range x["children"].([]any) {
			out = append(out, conjuncts(c)...)
		}
		return out
	}
	return []node{x}
}

// eqCols reads a conjunct a.x = b.y between two column references.
func eqCols(c node) (a1, c1, a2, c2 string, ok bool) {
	if str(c["class"]) != "COMPARISON" || str(c["type"]) != "COMPARE_EQUAL" {
		return
	}
	a1, c1, ok1 := colRef(c["left"])
	a2, c2, ok2 := colRef(c["right"])
	return a1, c1, a2, c2, ok1 && ok2
}

// join is one JOIN of a FROM clause, with the aliases on either side.
type join struct {
	n           node
	typ         string // INNER, LEFT, SEMI, …
	left, right map[string]bool
	rightTable  node // the right side when it is one table
}

// joinsOf lists the joins of a FROM clause, outermost first.
func joinsOf(from node) []join {
	var out []join
	var visit func(n node)
	visit = func(n node) {
		if n == nil || str(n["type"]) != "JOIN" {
			return
		}
		l, _ := n["left"].(node)
		r, _ := n["right"].(node)
		j := join{n: n, typ: str(n["join_type"]), left: aliases(l), right: aliases(r)}
		if str(r["type"]) == "BASE_TABLE" {
			j.rightTable = r
		}
		if str(n["ref_type"]) != "REGULAR" && str(n["ref_type"]) != "" {
			j.typ = str(n["ref_type"]) + " " + j.typ // NATURAL, CROSS, POSITIONAL, ASOF: not a plain join
		}
		out = append(out, j)
		visit(l)
		visit(r)
	}
	visit(from)
	return out
}

// aliases lists the aliases of a FROM subtree's tables and subqueries.
func aliases(n node) map[string]bool {
	out := map[string]bool{}
	var visit func(n node)
	visit = func(n node) {
		if n == nil {
			return
		}
		switch str(n["type"]) {
		case "JOIN":
			l, _ := n["left"].(node)
			r, _ := n["right"].(node)
			visit(l)
			visit(r)
		case "BASE_TABLE":
			a := strings.ToLower(str(n["alias"]))
			if a == "" {
				a = strings.ToLower(str(n["table_name"]))
			}
			out[a] = true
		default:
			if a := strings.ToLower(str(n["alias"])); a != "" {
				out[a] = true
			}
		}
	}
	visit(n)
	return out
}

// readOf finds the read of a FROM clause under an alias.
func (s *stmt) readOf(from node, alias string) *read {
	for _, r := range s.reads {
		if r.from != nil && sameNode(r.from, from) && r.alias == alias {
			return r
		}
	}
	return nil
}

func sameNode(a, b node) bool {
	if a == nil || b == nil {
		return false
	}
	return fmt.Sprintf("%p", a) == fmt.Sprintf("%p", b)
}

// joinedOnBatch says whether read r is inner- (or semi-, r kept) joined, by a condition of
// conjuncts one of which is t.batch_id = r.batch_id, to a read t for which target says yes:
// every row r gives then has a batch the target holds.
func (s *stmt) joinedOnBatch(r *read, target func(*read) string) string {
	for _, j := range joinsOf(r.from) {
		inLeft, inRight := j.left[r.alias], j.right[r.alias]
		switch {
		case j.typ == "INNER" && (inLeft || inRight):
		case j.typ == "SEMI" && inLeft:
		default:
			continue
		}
		for _, c := range conjuncts(j.n["condition"]) {
			a1, c1, a2, c2, ok := eqCols(c)
			if !ok || c1 != "batch_id" || c2 != "batch_id" {
				continue
			}
			other := ""
			switch {
			case a1 == r.alias && a2 != r.alias:
				other = a2
			case a2 == r.alias && a1 != r.alias:
				other = a1
			default:
				continue
			}
			// the other side is across the join from r
			if (inLeft && !j.right[other]) || (inRight && !j.left[other]) {
				continue
			}
			if t := s.readOf(r.from, other); t != nil {
				if via := target(t); via != "" {
					return via
				}
			}
		}
	}
	return ""
}

// selectsOnly reports whether a query node is one plain SELECT: no set operation, no
// grouping.
func plainSelect(n node) bool {
	if str(n["type"]) != "SELECT_NODE" {
		return false
	}
	if g, _ := n["group_expressions"].([]any); len(g) > 0 {
		return false
	}
	return n["having"] == nil
}

// effectiveSubset: a CTE whose body keeps rows of the effective-files model alone (SELECT *
// FROM it, at most filtered).
func effectiveSubset(c *cte, effective string) bool {
	b := c.body
	if !plainSelect(b) || b["qualify"] != nil {
		return false
	}
	from, _ := b["from_table"].(node)
	if str(from["type"]) != "BASE_TABLE" || strings.ToLower(str(from["table_name"])) != effective || str(from["schema_name"]) != "" {
		return false
	}
	list, _ := b["select_list"].([]any)
	if len(list) != 1 {
		return false
	}
	star, _ := list[0].(node)
	if str(star["class"]) != "STAR" || str(star["relation_name"]) != "" {
		return false
	}
	ex, _ := star["exclude_list"].([]any)
	rep, _ := star["replace_list"].([]any)
	return len(ex) == 0 && len(rep) == 0 && star["expr"] == nil
}

// unresolvedSubset: a CTE whose body keeps rows of the school-refs model whose school is
// unresolved (a conjunct r.school_code IS NULL of its WHERE), selecting r.batch_id as the
// one batch_id, from it alone or inner-joined to batches on batch id.
func unresolvedSubset(c *cte, refs string) bool {
	b := c.body
	if !plainSelect(b) {
		return false
	}
	from, _ := b["from_table"].(node)
	var r node
	switch str(from["type"]) {
	case "BASE_TABLE":
		r = from
	case "JOIN":
		l, _ := from["left"].(node)
		rt, _ := from["right"].(node)
		if str(from["join_type"]) != "INNER" || str(from["ref_type"]) != "REGULAR" || str(l["type"]) != "BASE_TABLE" || str(rt["type"]) != "BASE_TABLE" ||
			strings.ToLower(str(rt["table_name"])) != "batches" {
			return false
		}
		r = l
		ra, ba := alias(l), alias(rt)
		cs := conjuncts(from["condition"])
		if len(cs) != 1 {
			return false
		}
		a1, c1, a2, c2, ok := eqCols(cs[0])
		if !ok || c1 != "batch_id" || c2 != "batch_id" || !((a1 == ra && a2 == ba) || (a1 == ba && a2 == ra)) {
			return false
		}
	default:
		return false
	}
	if strings.ToLower(str(r["table_name"])) != refs || str(r["schema_name"]) != "" {
		return false
	}
	ra := alias(r)
	// the select list gives batch_id once: r.batch_id
	ids := 0
	for _, it := range b["select_list"].([]any) {
		x, _ := it.(node)
		a, col, isCol := colRef(x)
		name := strings.ToLower(str(x["alias"]))
		switch {
		case isCol && col == "batch_id" && (name == "" || name == "batch_id"):
			if a != ra {
				return false
			}
			ids++
		case name == "batch_id":
			return false
		case str(x["class"]) == "STAR":
			return false
		}
	}
	if ids != 1 {
		return false
	}
	for _, c := range conjuncts(b["where_clause"]) {
		if str(c["type"]) == "OPERATOR_IS_NULL" {
			ch, _ := c["children"].([]any)
			if len(ch) == 1 {
				if a, col, ok := colRef(ch[0]); ok && a == ra && col == "school_code" {
					return true
				}
			}
		}
	}
	return false
}

func alias(t node) string {
	if a := strings.ToLower(str(t["alias"])); a != "" {
		return a
	}
	return strings.ToLower(str(t["table_name"]))
}

// rawUnion: a CTE whose body is raw tables' rows, each arm one raw table alone (at most
// filtered), united, every arm giving batch_id, unrenamed, at the same place; its
// constant kind column, if every arm gives one, names the kinds of its arms. Such a CTE is
// read like a raw table: each read of it must be joined to the effective files.
type rawUnion struct {
	tables []string
	kinds  []string // the arms' kind constants, in order; nil if not every arm has one
}

func (s *stmt) rawUnionOf(c *cte) *rawUnion {
	var arms []node
	var collect func(n node) bool
	collect = func(n node) bool {
		switch str(n["type"]) {
		case "SET_OPERATION_NODE":
			if str(n["setop_type"]) != "UNION" {
				return false // not EXCEPT, INTERSECT or UNION BY NAME
			}
			// DuckDB 1.1 gives a set operation's two sides as left and right, later
			// versions its n sides as children
			kids, _ := n["children"].([]any)
			if l, ok := n["left"].(node); ok {
				kids = append(kids, l)
			}
			if r, ok := n["right"].(node); ok {
				kids = append(kids, r)
			}
			if len(kids) < 2 {
				return false
			}
			for _, k := range kids {
				kn, _ := k.(node)
				if kn == nil || !collect(kn) {
					return false
				}
			}
			return true
		case "SELECT_NODE":
			arms = append(arms, n)
			return true
		}
		return false
	}
	if c.body == nil || !collect(c.body) {
		return nil
	}
	u := &rawUnion{}
	pos, kindPos := -1, -1
	for i, a := range arms {
		if !plainSelect(a) || a["qualify"] != nil {
			return nil
		}
		from, _ := a["from_table"].(node)
		name := strings.ToLower(str(from["table_name"]))
		if str(from["type"]) != "BASE_TABLE" || !strings.HasPrefix(name, "raw_") || str(from["schema_name"]) != "" {
			return nil
		}
		list, _ := a["select_list"].([]any)
		p, kp := -1, -1
		kind := ""
		for j, it := range list {
			x, _ := it.(node)
			if str(x["class"]) == "STAR" {
				return nil
			}
			out := strings.ToLower(str(x["alias"]))
			_, col, isCol := colRef(x)
			if out == "" && isCol {
				out = col
			}
			if isCol && col == "batch_id" && (out == "batch_id" || (i > 0 && j == pos)) {
				if p >= 0 {
					return nil
				}
				p = j
			} else if out == "batch_id" {
				return nil
			}
			if k, ok := constString(x); ok && (out == "kind" || (i > 0 && j == kindPos)) {
				kp, kind = j, k
			}
		}
		if p < 0 || (i > 0 && p != pos) {
			return nil
		}
		pos = p
		if i == 0 {
			kindPos = kp
		}
		if kindPos >= 0 && kp == kindPos {
			u.kinds = append(u.kinds, kind)
		} else {
			kindPos = -2 // not every arm names its kind
		}
		u.tables = append(u.tables, name)
	}
	if kindPos < 0 {
		u.kinds = nil
	}
	return u
}

// Which files a raw read keeps, for rawWindows.
const (
	viaEffective  = 1 << iota // joined to the effective files (or a CTE of their rows) on batch id
	viaUnresolved             // joined to a CTE of the school references whose school is unresolved
)

// rawReads says which raw tables s reads and whether each read keeps only the rows of the
// effective files (viaEffective) or of the unresolved references (viaUnresolved): a read of
// a raw table, or of a rawUnion CTE, inner-joined on batch id to the effective-files model,
// a CTE of its rows (effectiveSubset) or of the unresolved references (unresolvedSubset).
// ok is false if some read is joined neither way.
func (s *stmt) rawReads(effective, refs string) (tables []string, via int, ok bool) {
	unions := map[*cte]*rawUnion{}
	for _, c := range s.ctes {
		if u := s.rawUnionOf(c); u != nil {
			unions[c] = u
		}
	}
	target := func(t *read) string {
		switch {
		case t.cte == nil && t.name == effective:
			return "effective"
		case t.cte != nil && effectiveSubset(t.cte, effective):
			return "effective"
		case t.cte != nil && unresolvedSubset(t.cte, refs):
			return "unresolved"
		}
		return ""
	}
	seen := map[string]bool{}
	ok = true
	check := func(r *read) {
		switch s.joinedOnBatch(r, target) {
		case "effective":
			via |= viaEffective
		case "unresolved":
			via |= viaUnresolved
		default:
			ok = false
		}
	}
	for _, r := range s.reads {
		switch {
		case r.cte != nil && unions[r.cte] != nil:
			check(r)
		case r.cte == nil && strings.HasPrefix(r.name, "raw_"):
			if !seen[r.name] {
				seen[r.name] = true
				tables = append(tables, r.name)
			}
			if r.in != nil && unions[r.in] != nil && sameNode(r.from, r.table) {
				continue // an arm of a rawUnion: its reads are checked
			}
			check(r)
		}
	}
	sort.Strings(tables)
	if !ok {
		return nil, 0, false
	}
	return tables, via, true
}

// kindsRead lists the export kinds s reads of the effective-files model, when every read of
// it is joined by a condition keeping one kind (e.kind = 'hours', or e.kind = x.kind of a
// rawUnion whose arms name their kinds); nil when some read can see every kind.
func (s *stmt) kindsRead(effective string) []string {
	var kinds []string
	n := 0
	for _, r := range s.reads {
		if r.cte != nil || r.name != effective {
			continue
		}
		n++
		found := false
		for _, j := range joinsOf(r.from) {
			if j.rightTable == nil || !sameNode(j.rightTable, r.table) {
				continue
			}
			for _, c := range conjuncts(j.n["condition"]) {
				if str(c["class"]) != "COMPARISON" || str(c["type"]) != "COMPARE_EQUAL" {
					continue
				}
				for _, sides := range [][2]any{{c["left"], c["right"]}, {c["right"], c["left"]}} {
					a, col, ok := colRef(sides[0])
					if !ok || a != r.alias || col != "kind" {
						continue
					}
					if k, ok := constString(sides[1]); ok {
						kinds, found = append(kinds, k), true
						continue
					}
					if xa, xc, ok := colRef(sides[1]); ok && xc == "kind" {
						if x := s.readOf(r.from, xa); x != nil && x.cte != nil {
							if u := s.rawUnionOf(x.cte); u != nil && u.kinds != nil {
								kinds, found = append(kinds, u.kinds...), true
							}
						}
					}
				}
			}
		}
		if !found {
			return nil
		}
	}
	if n == 0 {
		return nil
	}
	sort.Strings(kinds)
	out := kinds[:0]
	for i, k := range kinds {
		if i == 0 || k != kinds[i-1] {
			out = append(out, k)
		}
	}
	return out
}

// readsByKey says whether every read of table name in s is joined by the one condition
// a.key = x.key, where x is a raw table or a CTE of the statement: the one read a
// month-local model may make of a text-keyed one.
func (s *stmt) readsByKey(name, key string) bool {
	n := 0
	for _, r := range s.reads {
		if r.cte != nil || r.name != name {
			continue
		}
		n++
		ok := false
		for _, j := range joinsOf(r.from) {
			if j.rightTable == nil || !sameNode(j.rightTable, r.table) || strings.Contains(j.typ, " ") {
				continue
			}
			cs := conjuncts(j.n["condition"])
			if len(cs) != 1 {
				continue
			}
			a1, c1, a2, c2, isEq := eqCols(cs[0])
			if !isEq || c1 != key || c2 != key {
				continue
			}
			other := a2
			if a2 == r.alias {
				other = a1
			} else if a1 != r.alias {
				continue
			}
			x := s.readOf(r.from, other)
			if x != nil && (x.cte != nil || strings.HasPrefix(x.name, "raw_")) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return n > 0
}

// refSources lists, for the school-refs model, the raw tables it reads and the kind each
// gives, if it reads each (but the school lists) only as SELECT DISTINCT 'kind' [AS kind],
// batch_id, school_code [AS given_code], school_name [AS given_name] FROM raw_x; nil
// otherwise.
func (s *stmt) refSources() []refSource {
	var out []refSource
	for _, r := range s.reads {
		if r.cte != nil || !strings.HasPrefix(r.name, "raw_") || r.name == "raw_schools" {
			continue
		}
		sel := r.sel
		if sel == nil || !sameNode(r.from, r.table) || !plainSelect(sel) || sel["where_clause"] != nil || sel["qualify"] != nil || !distinct(sel) {
			return nil
		}
		list, _ := sel["select_list"].([]any)
		if len(list) != 4 {
			return nil
		}
		kind, ok := constString(list[0])
		if !ok || !oneOf(strings.ToLower(str(list[0].(node)["alias"])), "", "kind") {
			return nil
		}
		for i, want := range [][2]string{{"batch_id", ""}, {"school_code", "given_code"}, {"school_name", "given_name"}} {
			x, _ := list[i+1].(node)
			_, col, isCol := colRef(x)
			if !isCol || col != want[0] || !oneOf(strings.ToLower(str(x["alias"])), "", want[0], want[1]) {
				return nil
			}
		}
		out = append(out, refSource{kind: kind, table: r.name})
	}
	return out
}

// distinct reports whether a SELECT node is SELECT DISTINCT (no ON).
func distinct(sel node) bool {
	mods, _ := sel["modifiers"].([]any)
	for _, m := range mods {
		x, _ := m.(node)
		if str(x["type"]) == "DISTINCT_MODIFIER" {
			on, _ := x["distinct_on_targets"].([]any)
			return len(on) == 0
		}
	}
	return false
}

// textReads says whether s reads raw rows only as SELECT DISTINCT key FROM raw_x (at most
// filtered): what a text-keyed model may read of them.
func (s *stmt) textReads(key string) bool {
	n := 0
	for _, r := range s.reads {
		if r.cte != nil || !strings.HasPrefix(r.name, "raw_") {
			continue
		}
		n++
		sel := r.sel
		if sel == nil || !sameNode(r.from, r.table) || !plainSelect(sel) || !distinct(sel) {
			return false
		}
		list, _ := sel["select_list"].([]any)
		if len(list) != 1 {
			return false
		}
		if _, col, ok := colRef(list[0]); !ok || col != key || str(list[0].(node)["alias"]) != "" {
			return false
		}
	}
	return n > 0
}

// rawTables lists the raw tables s reads.
func (s *stmt) rawTables() []string {
	var out []string
	for _, t := range s.tables() {
		if strings.HasPrefix(t, "raw_") {
			out = append(out, t)
		}
	}
	return out
}
