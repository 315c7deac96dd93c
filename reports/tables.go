package reports

import (
	"context"
	"fmt"
	"html"
	"html/template"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"tisheng/internal/xlsxw"
	"tisheng/queries"
)

// Table is one table of a page: a named query's rows, downloadable.
type Table struct {
	ID         string          `json:"id"`
	Title      string          `json:"title"`
	Result     *queries.Result `json:"result"`
	Download   string          `json:"download"` // /download/ID.xlsx?… (and .csv)
	RowClasses []string        `json:"-"`
	LinkCol    int             `json:"-"` // the column linking to its row's school, or -1
	Empty      string          `json:"-"` // what an empty table means, in words
	Hidden     map[int]bool    `json:"-"` // columns kept for the JSON twin and downloads, not shown
	// Cell, when set, formats a cell for the page (the JSON twin keeps the raw value).
	Cell func(row []any, col int) (string, bool) `json:"-"`
	Head []HeadView                              `json:"-"` // filled by prepare, for the template
	Body template.HTML                           `json:"-"` // the rows, escaped in Go (see prepare)

	// List: on a phone the rows become cards, each value under its column's label
	// (app.css); other tables scroll sideways in their own box.
	List bool `json:"-"`
}

// HeadView is a column header as the template prints it.
type HeadView struct {
	Label, Name string
	Num         bool
}

// prepare formats the table for the template. The body rows are written here, each value
// escaped with html.EscapeString (text and attribute values alike): html/template would
// call its escapers through reflection for every cell, which cost as much as the queries
// behind a page.
func (t *Table) prepare(p *Page) {
	if t.Result == nil || t.Head != nil {
		return
	}
	cols := t.Result.Columns
	num := make([]bool, len(cols))
	for i, c := range cols {
		num[i] = isNumeric(c)
		if t.Hidden[i] {
			continue
		}
		t.Head = append(t.Head, HeadView{Label: c.Label, Name: c.Name, Num: num[i]})
	}
	code := colIndex(t.Result, "school_code")
	month := queries.Params{Month: p.Params.Month, District: p.Params.District}.Query()
	var b strings.Builder
	for i, row := range t.Result.Rows {
		b.WriteString(`<tr class="`)
		if i < len(t.RowClasses) {
			b.WriteString(html.EscapeString(t.RowClasses[i]))
		}
		b.WriteString(`">`)
		for j, v := range row {
			if t.Hidden[j] {
				continue
			}
			if num[j] {
				b.WriteString(`<td class="n" data-v="`)
			} else {
				b.WriteString(`<td data-v="`)
			}
			if t.List {
				b.WriteString(html.EscapeString(sortKey(v)) + `" data-label="` + html.EscapeString(cols[j].Label))
			} else {
				b.WriteString(html.EscapeString(sortKey(v)))
			}
			b.WriteString(`">`)
			shown := formatCell(cols[j], v)
			if t.Cell != nil {
				if s, ok := t.Cell(row, j); ok {
					shown = s
				}
			}
			text := html.EscapeString(shown)
			if j == t.LinkCol && code >= 0 && (i >= len(t.RowClasses) || t.RowClasses[i] != "notloaded") {
				link := "/schools/" + url.PathEscape(fmt.Sprint(row[code])) + "?" + month
				b.WriteString(`<a href="` + html.EscapeString(link) + `">` + text + `</a>`)
			} else {
				b.WriteString(text)
			}
			b.WriteString("</td>")
		}
		b.WriteString("</tr>\n")
	}
	t.Body = template.HTML(b.String())
}

func sortKey(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case queries.Dec:
		return x.Text
	case bool:
		if x {
			return "1"
		}
		return "0"
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

func (rp *Reports) table(ctx context.Context, pg *Page, id, title string) (*Table, error) {
	res, err := rp.r.Named(ctx, id, pg.Params, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	return rp.tableOf(pg, id, title, res), nil
}

// tableOf adds a table of rows already read; id names the query its download runs.
func (rp *Reports) tableOf(pg *Page, id, title string, res *queries.Result) *Table {
	t := &Table{ID: id, Title: title, Result: res, Download: "/download/" + id + ".xlsx?" + pg.Params.Query(), LinkCol: -1}
	pg.Tables = append(pg.Tables, t)
	return t
}

// project keeps the named columns (in that order) of the rows that pass keep.
func project(res *queries.Result, cols []string, keep func([]any) bool) *queries.Result {
	idx := make([]int, len(cols))
	out := &queries.Result{}
	for i, c := range cols {
		idx[i] = colIndex(res, c)
		out.Columns = append(out.Columns, res.Columns[idx[i]])
	}
	for _, row := range res.Rows {
		if !keep(row) {
			continue
		}
		r := make([]any, len(idx))
		for i, j := range idx {
			r[i] = row[j]
		}
		out.Rows = append(out.Rows, r)
	}
	return out
}

// sortTodo orders who to chase as school_todo.sql does: full-time teachers first, then the
// most hours missing, then the most points and dimensions missing, then by name.
func sortTodo(res *queries.Result) {
	num := func(v any) float64 {
		switch x := v.(type) {
		case queries.Dec:
			return x.Float
		case int64:
			return float64(x)
		case float64:
			return x
		}
		return 0
	}
	full, hs, ps, as, ds, name := colIndex(res, "is_full_time"), colIndex(res, "hours_short"), colIndex(res, "practice_short"),
		colIndex(res, "abilities_short"), colIndex(res, "dimensions_short"), colIndex(res, "name")
	sort.SliceStable(res.Rows, func(i, j int) bool {
		a, b := res.Rows[i], res.Rows[j]
		if fa, fb := a[full] == true, b[full] == true; fa != fb {
			return fa
		}
		if ha, hb := num(a[hs])+num(a[ps]), num(b[hs])+num(b[ps]); ha != hb {
			return ha > hb
		}
		if pa, pb := num(a[as])+num(a[ds]), num(b[as])+num(b[ds]); pa != pb {
			return pa > pb
		}
		return fmt.Sprint(a[name]) < fmt.Sprint(b[name])
	})
}

func colIndex(res *queries.Result, name string) int {
	for i, c := range res.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

func isNumeric(c queries.Column) bool {
	switch queries.ColumnKind(c) {
	case xlsxw.Int, xlsxw.Number, xlsxw.Percent:
		return true
	}
	return false
}

// formatCell shows a value as the page shows it: rates as 95.0%, flags as 是/否.
func formatCell(c queries.Column, v any) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case bool:
		if x {
			return "是"
		}
		return "否"
	case float64:
		if queries.ColumnKind(c) == xlsxw.Percent {
			return strconv.FormatFloat(x*100, 'f', 1, 64) + "%"
		}
		return strconv.FormatFloat(x, 'f', 2, 64)
	case queries.Dec:
		return x.Text
	case int64:
		return strconv.FormatInt(x, 10)
	case string:
		if strings.HasSuffix(c.Name, "_codes") {
			return naturalList(x)
		}
		return queries.ValueLabel(c.Name, x) // kind codes (hours, progress, …) in Chinese
	default:
		return strings.TrimSpace(fmt.Sprint(x))
	}
}

// naturalList orders a comma-separated list of ability codes as people count them:
// A2,A5,A11, not A11,A2,A5.
func naturalList(s string) string {
	parts := strings.Split(s, ",")
	if len(parts) < 2 {
		return s
	}
	sort.SliceStable(parts, func(i, j int) bool {
		return queries.NaturalLess(strings.TrimSpace(parts[i]), strings.TrimSpace(parts[j]))
	})
	return strings.Join(parts, ",")
}

// rowClasses gives each row of res the CSS class yes where is holds, else no.
func rowClasses(res *queries.Result, is func([]any) bool, yes, no string) []string {
	out := make([]string, len(res.Rows))
	for i, row := range res.Rows {
		out[i] = no
		if is(row) {
			out[i] = yes
		}
	}
	return out
}
