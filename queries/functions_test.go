package queries

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/duckdb/duckdb-go/v2"
)

// refusedFunctions reads functions_refused.txt: name -> reason category.
func refusedFunctions(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("functions_refused.txt")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for n, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, cat, ok := strings.Cut(line, "\t")
		if !ok || name == "" || cat == "" {
			t.Fatalf("functions_refused.txt:%d: want NAME<tab>CATEGORY, got %q", n+1, line)
		}
		if _, dup := out[name]; dup {
			t.Errorf("functions_refused.txt:%d: %s listed twice", n+1, name)
		}
		out[name] = cat
	}
	return out
}

// TestFunctionsClassified compares the guard's lists with the engine's own
// duckdb_functions(): every function of every kind (scalar, aggregate, macro, window, table,
// table macro, pragma) is either allowed (functions.txt, or one of the three table
// functions) or refused with a reason (functions_refused.txt), never both; nothing listed
// is missing from the engine; nothing allowed has side effects but the random ones; and the
// guard refuses every refused function when a query calls it.
func TestFunctionsClassified(t *testing.T) {
	c, err := duckdb.NewConnector("", nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	type fn struct {
		kinds map[string]bool
		side  bool
	}
	engine := map[string]*fn{}
	rows, err := db.Query(`SELECT lower(function_name), function_type, coalesce(has_side_effects, false) FROM duckdb_functions()`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, kind string
		var side bool
		if err := rows.Scan(&name, &kind, &side); err != nil {
			t.Fatal(err)
		}
		f := engine[name]
		if f == nil {
			f = &fn{kinds: map[string]bool{}}
			engine[name] = f
		}
		f.kinds[kind] = true
		f.side = f.side || side
	}
	rows.Close()
	if len(engine) < 800 {
		t.Fatalf("duckdb_functions() lists %d names; the query did not read them", len(engine))
	}
	allowed := allowedFunctions()
	refused := refusedFunctions(t)
	categories := map[string]bool{"settings": true, "catalog": true, "files": true, "sequence": true, "session": true,
		"sql": true, "byname": true, "unbounded": true, "internal": true, "log": true, "resource": true,
		"writes": true, "error": true, "delay": true, "compat": true, "types": true, "collation": true, "table": true, "pragma": true}
	// volatile, which DuckDB counts as a side effect, but they read and write nothing
	volatile := map[string]bool{"random": true, "uuid": true, "gen_random_uuid": true, "uuidv4": true, "uuidv7": true}
	for name, f := range engine {
		_, no := refused[name]
		yes := allowed[name] || allowedTableFunctions[name]
		switch {
		case yes && no:
			t.Errorf("%s is both allowed (functions.txt) and refused (functions_refused.txt)", name)
		case !yes && !no:
			t.Errorf("%s (%s) is a function of this engine in neither functions.txt nor functions_refused.txt: classify it", name, kindList(f.kinds))
		case allowed[name] && f.side && !volatile[name]:
			t.Errorf("functions.txt allows %s, which has side effects", name)
		case allowed[name] && !allowedTableFunctions[name] && (f.kinds["table"] || f.kinds["table_macro"] || f.kinds["pragma"]) && !f.kinds["scalar"] && !f.kinds["aggregate"] && !f.kinds["macro"] && !f.kinds["window"]:
			t.Errorf("functions.txt allows %s, a %s: table functions are allowed only in guard.go", name, kindList(f.kinds))
		}
	}
	// GROUPING() is syntax that parses as a function call; duckdb_functions() does not list it
	syntax := map[string]bool{"grouping": true, "grouping_id": true}
	for name := range allowed {
		if engine[name] == nil && !syntax[name] {
			t.Errorf("functions.txt: %q is not a function of this engine", name)
		}
	}
	for name, cat := range refused {
		if engine[name] == nil {
			t.Errorf("functions_refused.txt: %q is not a function of this engine", name)
		}
		if !categories[cat] {
			t.Errorf("functions_refused.txt: %s has the unknown category %q", name, cat)
		}
	}
	for _, f := range []string{"nextval", "currval", "setval", "current_setting", "current_database", "current_schema",
		"current_query", "getvariable", "version", "json_serialize_plan", "list_aggregate", "setseed", "current_user",
		"sleep_ms", "write_log", "make_type", "to_aggregate_state", "current_connection_id", "repeat_row"} {
		if allowed[f] {
			t.Errorf("functions.txt allows %s", f)
		}
	}

	// The guard refuses each refused function when a query calls it, by name, as the
	// function or table function it is.
	r, err := NewRunner(db)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAdHoc(r, analystTables(t))
	plain := regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	ctx := context.Background()
	for name := range refused {
		f := engine[name]
		if f == nil || !plain.MatchString(name) || (len(f.kinds) == 1 && f.kinds["pragma"]) {
			continue
		}
		q := "SELECT " + name + "()"
		if !f.kinds["scalar"] && !f.kinds["aggregate"] && !f.kinds["macro"] && !f.kinds["window"] {
			q = "SELECT * FROM " + name + "()"
		}
		err := a.Check(ctx, q)
		var ge *GuardError
		if !errors.As(err, &ge) || !strings.Contains(ge.Msg, "「"+name+"」") {
			t.Errorf("%s: err = %v, want the guard to refuse %s", q, err, name)
		}
	}
}

func kindList(m map[string]bool) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return strings.Join(ks, ",")
}
