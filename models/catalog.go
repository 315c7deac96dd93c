package models

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/duckdb/duckdb-go/v2"
)

// The built-in models (sql/), the tables they are built from (sources/) and the data tests
// (tests/). Each file declares what it is in its header (decl.go, models/README.md); every
// consumer (the refresh, the incremental refresh, the schema document, the SQL page's
// browser, the scope databases) reads those declarations.
//
//go:embed sql/*.sql tests/*.sql sources/*.sql
var builtinFS embed.FS

// Files is the built-in models, sources and tests, for Load with files of one's own.
func Files() fs.FS { return builtinFS }

// Catalog is one set of models, sources and data tests, read and checked.
type Catalog struct {
	Models  []Model // in dependency order: every model after those it reads
	Sources []Source
	Tests   []DataTest

	decls     map[string]Decl // every analyst table's declaration
	models    map[string]*Model
	effective string // the model of the files effective each month (@provides: effective-files)
	refs      string // the model of the rows' school references (@provides: school-refs)
	hash      string
}

// Model is one table built from one SQL file.
type Model struct {
	Name string
	SQL  string
	Deps []string // the models and sources it reads
	Decl
	stmt *stmt
}

// Source is a table the models are built from: loaded files' rows, or the rule profile a
// refresh writes.
type Source struct {
	Name string
	Decl
}

// DataTest is a query that returns the rows breaking a rule; none means it passes.
type DataTest struct {
	Name string
	SQL  string
	Decl
	stmt *stmt
}

var embedded struct {
	once sync.Once
	cat  *Catalog
	err  error
}

// Builtin is the catalog of the embedded files, read once.
func Builtin() (*Catalog, error) {
	embedded.once.Do(func() { embedded.cat, embedded.err = Load(builtinFS) })
	return embedded.cat, embedded.err
}

// Load reads the models, sources and tests of the file systems (each holding sql/,
// sources/ and tests/ directories, any of them absent); a later one adds files, never
// replaces one. It fails on any header that is missing or contradicts itself, and on SQL
// that reads a table neither a model nor a source, or reads in a way its declaration does
// not allow, naming the file and the line.
func Load(fsyss ...fs.FS) (*Catalog, error) {
	c := &Catalog{decls: map[string]Decl{}, models: map[string]*Model{}}
	type file struct{ dir, name, path, text string }
	var files []file
	seen := map[string]string{}
	h := sha256.New()
	for i, fsys := range fsyss {
		for _, dir := range []string{"sql", "sources", "tests"} {
			entries, err := fs.ReadDir(fsys, dir)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("models: %w", err)
			}
			for _, e := range entries {
				if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
					continue
				}
				b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
				if err != nil {
					return nil, fmt.Errorf("models: %w", err)
				}
				name := strings.TrimSuffix(e.Name(), ".sql")
				shown := "models/" + dir + "/" + e.Name()
				if i > 0 {
					shown = dir + "/" + e.Name()
				}
				key := dir + "/" + name
				if dir != "tests" {
					key = name
				}
				if prev, dup := seen[key]; dup {
					return nil, &DeclError{File: shown, Msg: "a table of this name is already declared in " + prev}
				}
				seen[key] = shown
				files = append(files, file{dir, name, shown, string(b)})
				if dir != "sources" {
					// what the models are built by: another definition rebuilds everything once
					fmt.Fprintf(h, "%s/%s %d\n", dir, e.Name(), len(b))
					h.Write(b)
				}
			}
		}
	}
	c.hash = hex.EncodeToString(h.Sum(nil))

	parser, closeParser, err := openParser()
	if err != nil {
		return nil, err
	}
	defer closeParser()
	ctx := context.Background()
	var loaded []*Model // in the order of the files: a later one repeating a role is the one at fault
	for _, f := range files {
		kind := map[string]string{"sql": declModel, "sources": declSource, "tests": declTest}[f.dir]
		d, err := parseDecl(f.path, f.text, kind)
		if err != nil {
			return nil, err
		}
		switch f.dir {
		case "sources":
			c.Sources = append(c.Sources, Source{Name: f.name, Decl: d})
			c.decls[f.name] = d
		case "sql":
			st, err := parseSQL(ctx, parser, f.path, f.text)
			if err != nil {
				return nil, err
			}
			m := &Model{Name: f.name, SQL: f.text, Decl: d, stmt: st}
			c.models[f.name] = m
			c.decls[f.name] = d
			loaded = append(loaded, m)
		case "tests":
			st, err := parseSQL(ctx, parser, f.path, f.text)
			if err != nil {
				return nil, err
			}
			c.Tests = append(c.Tests, DataTest{Name: f.name, SQL: f.text, Decl: d, stmt: st})
		}
	}
	sort.Slice(c.Sources, func(i, j int) bool { return c.Sources[i].Name < c.Sources[j].Name })
	sort.Slice(c.Tests, func(i, j int) bool { return c.Tests[i].Name < c.Tests[j].Name })
	for _, m := range loaded {
		switch m.Provides {
		case "effective-files":
			if c.effective != "" {
				return nil, &DeclError{File: m.File, Line: m.lines["provides"], Msg: "the effective files are already provided by " + c.effective}
			}
			c.effective = m.Name
		case "school-refs":
			if c.refs != "" {
				return nil, &DeclError{File: m.File, Line: m.lines["provides"], Msg: "the school references are already provided by " + c.refs}
			}
			c.refs = m.Name
		}
	}
	if err := c.order(); err != nil {
		return nil, err
	}
	for i := range c.Models {
		if err := c.check(&c.Models[i]); err != nil {
			return nil, err
		}
	}
	for _, t := range c.Tests {
		for _, r := range t.stmt.reads {
			if r.cte == nil && c.decls[r.name].File == "" {
				return nil, &DeclError{File: t.File, Line: t.stmt.line(r.loc), Msg: "reads " + r.name + ", neither a model nor a source"}
			}
		}
	}
	return c, nil
}

// openParser opens an in-memory DuckDB whose parser reads the SQL (json_serialize_sql reads
// nothing but its argument).
func openParser() (*sql.DB, func(), error) {
	conn, err := duckdb.NewConnector("?threads=1&enable_external_access=false&autoinstall_known_extensions=false&autoload_known_extensions=false", nil)
	if err != nil {
		return nil, nil, fmt.Errorf("models: parser: %w", err)
	}
	db := sql.OpenDB(conn)
	return db, func() { db.Close(); conn.Close() }, nil
}

// order sorts the models so that each comes after the models it reads, and fills Deps.
func (c *Catalog) order() error {
	var names []string
	for n := range c.models {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m := c.models[n]
		m.Deps = nil
		for _, r := range m.stmt.reads {
			if r.cte != nil {
				continue
			}
			if c.decls[r.name].File == "" {
				return &DeclError{File: m.File, Line: m.stmt.line(r.loc), Msg: "reads " + r.name + ", neither a model nor a source (sources/ declares the loaded tables)"}
			}
			if r.name != n && !contains(m.Deps, r.name) {
				m.Deps = append(m.Deps, r.name)
			}
		}
		sort.Strings(m.Deps)
	}
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(n string, trail []string) error
	visit = func(n string, trail []string) error {
		m, ok := c.models[n]
		if !ok {
			return nil // a source
		}
		switch state[n] {
		case 1:
			return &DeclError{File: m.File, Msg: "dependency cycle " + strings.Join(append(trail, n), " -> ")}
		case 2:
			return nil
		}
		state[n] = 1
		for _, d := range m.Deps {
			if err := visit(d, append(trail, n)); err != nil {
				return err
			}
		}
		state[n] = 2
		c.Models = append(c.Models, *m)
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return err
		}
	}
	for i := range c.Models {
		c.models[c.Models[i].Name] = &c.Models[i]
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// check refuses SQL that reads what its declaration does not allow: the promises the
// incremental refresh builds on (incremental.go) are checked here, read by read.
func (c *Catalog) check(m *Model) error {
	fail := func(loc int, format string, a ...any) error {
		line := 0
		if loc >= 0 {
			line = m.stmt.line(loc)
		}
		return &DeclError{File: m.File, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	switch m.Months {
	case MonthsLocal:
		if c.effective == "" && len(m.stmt.rawTables()) > 0 {
			return fail(-1, "a @months: local model reads raw rows through the effective files, and no model @provides: effective-files")
		}
		for _, r := range m.stmt.reads {
			if r.cte != nil || strings.HasPrefix(r.name, "raw_") {
				continue
			}
			d := c.decls[r.name]
			switch {
			case d.Months == MonthsKey || d.Months == MonthsLocal || d.Months == MonthsFixed:
			case d.Months == MonthsText && m.stmt.readsByKey(r.name, d.TextKey):
			case d.Months == MonthsText:
				return fail(r.loc, "reads %s other than by a join on its key %s alone (x.%[2]s = %[1]s.%[2]s, x raw rows or a CTE)", r.name, d.TextKey)
			default:
				return fail(r.loc, "a @months: local model reads %s, which is @months: %s: only per-month, fixed and text-keyed tables", r.name, d.Months)
			}
		}
		if len(m.stmt.rawTables()) > 0 {
			if _, _, ok := m.stmt.rawReads(c.effective, c.refs); !ok {
				return fail(-1, "a @months: local model reads raw rows only joined, on batch_id, to %s (or a CTE of its rows)", c.effective)
			}
		}
	case MonthsText:
		if !m.stmt.textReads(m.TextKey) {
			return fail(-1, "a @months: text model reads raw rows only as SELECT DISTINCT %s FROM raw_x", m.TextKey)
		}
		for _, r := range m.stmt.reads {
			if r.cte == nil && !strings.HasPrefix(r.name, "raw_") && c.decls[r.name].Months != MonthsFixed {
				return fail(r.loc, "a @months: text model reads no table with months or batches, only fixed ones: %s is @months: %s", r.name, c.decls[r.name].Months)
			}
		}
	case MonthsFixed:
		for _, r := range m.stmt.reads {
			if r.cte == nil && c.decls[r.name].Months != MonthsFixed {
				return fail(r.loc, "a @months: fixed model reads only fixed tables: %s is @months: %s", r.name, c.decls[r.name].Months)
			}
		}
	}
	return nil
}

// Model returns a model by name.
func (c *Catalog) Model(name string) (*Model, bool) {
	m, ok := c.models[name]
	return m, ok
}

// Table returns the declaration of an analyst table (a model or a source).
func (c *Catalog) Table(name string) (Decl, bool) {
	d, ok := c.decls[name]
	return d, ok
}

// AnalystTables are the tables analysts may read with ad-hoc SQL: every model and source,
// in the schema document's order (@doc-order, then name). meta (which holds the ID key's
// fingerprint), the accounts and schema_migrations are not among them.
func (c *Catalog) AnalystTables() []string {
	var out []string
	for n := range c.decls {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := c.decls[out[i]], c.decls[out[j]]
		if a.DocOrder != b.DocOrder {
			return a.DocOrder < b.DocOrder
		}
		return out[i] < out[j]
	})
	return out
}

// profileTables are the sources a refresh writes from its rule profile.
func (c *Catalog) profileTables() []string {
	var out []string
	for _, s := range c.Sources {
		if s.Writer == "refresh" {
			out = append(out, s.Name)
		}
	}
	return out
}

// perMonth says whether a table holds a month per row and is recomputed by month.
func (c *Catalog) perMonth(name string) bool {
	d := c.decls[name]
	return d.Months == MonthsKey || d.Months == MonthsLocal
}

// partitionedModels lists the partitioned models.
func (c *Catalog) partitionedModels() []string {
	var out []string
	for _, m := range c.Models {
		if m.Partitioned {
			out = append(out, m.Name)
		}
	}
	return out
}

// TextSource says, for a text-keyed model, its key column and the raw tables its texts come
// from (a scope's database keeps the texts of its own rows of those tables).
func (c *Catalog) TextSource(name string) (key string, raw []string, ok bool) {
	m, found := c.models[name]
	if !found || m.Months != MonthsText {
		return "", nil, false
	}
	return m.TextKey, m.stmt.rawTables(), true
}
