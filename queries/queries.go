// Package queries holds the named, parameterised queries behind the pages (one .sql file
// each, parameters bound as $month, $district, $school, $batch, never spliced into the
// text), the guard for analysts' ad-hoc SQL, and the writers of results as JSON, CSV, XLSX
// and Arrow.
package queries

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"math/big"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"tisheng/internal/apperr"

	"github.com/duckdb/duckdb-go/v2"

	"tisheng/models"
)

//go:embed sql/*.sql
var sqlFS embed.FS

// Params are the parameters every page answers; empty means "all".
type Params struct {
	Month    string
	District string
	School   string
	Batch    string
	Year     string // a yearly document's year (YYYY); empty: the latest month's
}

// Query encodes the parameters for a URL, leaving out the empty ones.
func (p Params) Query() string {
	v := url.Values{}
	for k, x := range map[string]string{"month": p.Month, "district": p.District, "school": p.School, "batch": p.Batch, "year": p.Year} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v.Encode()
}

// Query is one named query.
type Query struct {
	Name   string
	Title  string // its leading comment: what it is, for developers
	Label  string // -- @title: its Chinese title as a user sees it (a table download's sheet and file)
	SQL    string
	Params []string // the $names it uses
}

var reParam = regexp.MustCompile(`\$([a-z_]+)`)

// Catalog is the set of named queries.
type Catalog map[string]Query

var loaded struct {
	once sync.Once
	c    Catalog
	err  error
}

// embedded is the catalog of the embedded queries, read once.
func embedded() (Catalog, error) {
	loaded.once.Do(func() { loaded.c, loaded.err = Load() })
	return loaded.c, loaded.err
}

// Load reads the embedded queries.
func Load() (Catalog, error) {
	entries, err := fs.ReadDir(sqlFS, "sql")
	if err != nil {
		return nil, err
	}
	c := Catalog{}
	for _, e := range entries {
		b, err := sqlFS.ReadFile(path.Join("sql", e.Name()))
		if err != nil {
			return nil, err
		}
		q := Query{Name: strings.TrimSuffix(e.Name(), ".sql"), SQL: string(b)}
		seen := map[string]bool{}
		for _, m := range reParam.FindAllStringSubmatch(q.SQL, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				q.Params = append(q.Params, m[1])
			}
		}
		for _, p := range q.Params {
			switch p {
			case "month", "district", "school", "batch":
			default:
				return nil, fmt.Errorf("query %s: unknown parameter $%s", q.Name, p)
			}
		}
		if line, _, _ := strings.Cut(q.SQL, "\n"); strings.HasPrefix(line, "--") {
			q.Title = strings.TrimSpace(strings.TrimPrefix(line, "--"))
		}
		for i, line := range strings.Split(q.SQL, "\n") {
			if !strings.HasPrefix(line, "--") {
				break
			}
			if v, ok := strings.CutPrefix(strings.TrimSpace(strings.TrimPrefix(line, "--")), "@title:"); ok {
				if q.Label != "" {
					return nil, fmt.Errorf("queries/sql/%s:%d: @title declared twice", e.Name(), i+1)
				}
				q.Label = strings.TrimSpace(v)
			}
		}
		if q.Label == "" {
			return nil, fmt.Errorf("queries/sql/%s: no -- @title: its Chinese title, for downloads", e.Name())
		}
		c[q.Name] = q
	}
	return c, nil
}

// Names lists the queries.
func (c Catalog) Names() []string {
	var ns []string
	for n := range c {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

func (q Query) args(p Params) []any {
	var args []any
	for _, name := range q.Params {
		v := map[string]string{"month": p.Month, "district": p.District, "school": p.School, "batch": p.Batch}[name]
		args = append(args, sql.Named(name, v))
	}
	return args
}

// Column is a result column: its name, DuckDB type and Chinese label.
type Column struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Label string `json:"label"`
}

// Result is a query's rows, cut at a limit.
type Result struct {
	Columns   []Column `json:"columns"`
	Rows      [][]any  `json:"rows"`
	Truncated bool     `json:"truncated"`
	Limit     int      `json:"limit,omitempty"`
	// Note says, for the reader, where and why the result was cut.
	Note string `json:"note,omitempty"`
}

// Dec is an exact decimal (DuckDB DECIMAL): written as a JSON number, a typed Excel number.
type Dec struct {
	Text  string
	Float float64
}

// MarshalJSON writes the decimal exactly.
func (d Dec) MarshalJSON() ([]byte, error) { return []byte(d.Text), nil }

// Runner runs named queries over the warehouse.
type Runner struct {
	db      *sql.DB
	catalog Catalog
	dict    map[string]models.Column

	mu    sync.Mutex
	stmts map[string]*sql.Stmt // prepared once: planning costs as much as running them
}

// NewRunner returns a runner over db.
func NewRunner(db *sql.DB) (*Runner, error) {
	c, err := Load()
	if err != nil {
		return nil, err
	}
	d, err := models.Dictionary()
	if err != nil {
		return nil, err
	}
	return &Runner{db: db, catalog: c, dict: d}, nil
}

// DB is the database the runner reads: the warehouse, or one scope's own.
func (r *Runner) DB() *sql.DB { return r.db }

// Catalog returns the named queries.
func (r *Runner) Catalog() Catalog { return r.catalog }

// ErrUnknownQuery matches a request for a query that does not exist.
var ErrUnknownQuery = apperr.Sentinel(apperr.NotFound)

// Named runs a named query with the page parameters, up to limit rows (0: no limit).
func (r *Runner) Named(ctx context.Context, name string, p Params, limit int) (*Result, error) {
	q, ok := r.catalog[name]
	if !ok {
		return nil, apperr.Errorf(apperr.NotFound, "没有名为「%s」的查询", name)
	}
	st, err := r.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	res, err := r.run(ctx, stmtQueryer{st}, "", q.args(p), limit, 0)
	if err != nil {
		return nil, err
	}
	return roundRates(res), nil
}

func (r *Runner) stmt(ctx context.Context, q Query) (*sql.Stmt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st, ok := r.stmts[q.Name]; ok {
		return st, nil
	}
	st, err := r.db.PrepareContext(ctx, q.SQL)
	if err != nil {
		return nil, err
	}
	if r.stmts == nil {
		r.stmts = map[string]*sql.Stmt{}
	}
	r.stmts[q.Name] = st
	return st, nil
}

// stmtQueryer runs a prepared statement where run expects a query.
type stmtQueryer struct{ st *sql.Stmt }

func (s stmtQueryer) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return s.st.QueryContext(ctx, args...)
}

// SQL runs a fixed query of the program's own (reports), with its arguments bound.
func (r *Runner) SQL(ctx context.Context, q string, args ...any) (*Result, error) {
	res, err := r.run(ctx, r.db, q, args, 0, 0)
	if err != nil {
		return nil, err
	}
	return roundRates(res), nil
}

// roundRates applies the one rounding rule (RoundRate) to every rate column of a report's
// result. Analysts' ad-hoc results keep full precision; their writers round what they show.
func roundRates(res *Result) *Result {
	for i, c := range res.Columns {
		if !IsRate(c) {
			continue
		}
		for _, row := range res.Rows {
			if f, ok := row[i].(float64); ok {
				row[i] = RoundRate(f)
			}
		}
	}
	return res
}

// Label is a column's Chinese label, or its name.
func (r *Runner) Label(col string) string {
	if c, ok := r.dict[col]; ok {
		return c.Label
	}
	return col
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// run reads the result up to limit rows and maxBytes bytes (0: no limit), saying in the
// result where it stopped.
func (r *Runner) run(ctx context.Context, db queryer, q string, args []any, limit int, maxBytes int64) (*Result, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	res := &Result{Limit: limit}
	for _, ct := range cts {
		res.Columns = append(res.Columns, Column{Name: ct.Name(), Type: ct.DatabaseTypeName(), Label: r.Label(ct.Name())})
	}
	vals := make([]any, len(cts))
	ptrs := make([]any, len(cts))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var size int64
	for rows.Next() {
		if limit > 0 && len(res.Rows) == limit {
			res.Truncated = true
			res.Note = fmt.Sprintf("结果已截断：只显示前 %d 行（行数上限 %d）", len(res.Rows), limit)
			break
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]any, len(vals))
		var rowSize int64
		for i, v := range vals {
			row[i] = normalize(v, res.Columns[i].Type)
			rowSize += valueSize(row[i])
		}
		if maxBytes > 0 && size+rowSize > maxBytes {
			res.Truncated = true
			res.Note = fmt.Sprintf("结果已截断：超过 %s 的大小上限，只显示前 %d 行", humanSize(maxBytes), len(res.Rows))
			break
		}
		size += rowSize
		res.Rows = append(res.Rows, row)
	}
	return res, rows.Err()
}

// valueSize is a value's size as text, about what it costs in memory and in any writer.
func valueSize(v any) int64 {
	switch x := v.(type) {
	case string:
		return int64(len(x)) + 2
	case Dec:
		return int64(len(x.Text))
	}
	return 8
}

// normalize turns driver values into plain ones the writers know.
func normalize(v any, typ string) any {
	switch x := v.(type) {
	case nil, string, bool, int64, float64:
		return x
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return int64(x)
	case float32:
		return float64(x)
	case *big.Int:
		return Dec{Text: x.String(), Float: mustFloat(x.String())}
	case duckdb.Decimal:
		return decimal(x)
	case time.Time:
		switch typ {
		case "DATE":
			return x.Format("2006-01-02")
		case "TIME":
			return x.Format("15:04:05")
		}
		return x.Format("2006-01-02 15:04:05")
	case []byte:
		return string(x)
	case duckdb.UUID:
		return fmt.Sprintf("%x", x[:])
	default:
		return fmt.Sprint(x)
	}
}

func decimal(d duckdb.Decimal) Dec {
	s := d.Value.String()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if sc := int(d.Scale); sc > 0 {
		for len(s) <= sc {
			s = "0" + s
		}
		s = s[:len(s)-sc] + "." + s[len(s)-sc:]
	}
	if neg {
		s = "-" + s
	}
	return Dec{Text: s, Float: d.Float64()}
}

func mustFloat(s string) float64 {
	f, _ := new(big.Float).SetString(s)
	if f == nil {
		return 0
	}
	v, _ := f.Float64()
	return v
}
