// Package reports defines what leaders and analysts see: the pages (server-rendered, with a
// JSON twin each) and the Excel workbooks, all built from the named queries over the models.
package reports

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io"
	"io/fs"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"tisheng/internal/apperr"

	"tisheng/internal/auth"
	"tisheng/internal/xlsxw"
	"tisheng/models"
	"tisheng/queries"
)

//go:embed web/templates/*.html
var templateFS embed.FS

//go:embed web/static
var staticFS embed.FS

// Static is the embedded assets (ECharts, CSS, JS) for /static/.
func Static() fs.FS {
	sub, _ := fs.Sub(staticFS, "web/static")
	return sub
}

// ErrNotFound matches every error of a school, batch or page that does not exist (each
// carries its own message: apperr).
var ErrNotFound = apperr.Sentinel(apperr.NotFound)

// ErrBadParam matches every error of a malformed URL parameter.
var ErrBadParam = apperr.Sentinel(apperr.Invalid)

// Reports builds pages and workbooks.
type Reports struct {
	r   *queries.Runner
	tpl *template.Template

	mu    sync.Mutex
	cache map[string]*queries.Result // months, districts and profile: they change only on refresh
	pages map[string]*Page           // pages as built: their figures too change only on refresh
}

// maxCachedPages bounds the page cache (a city's schools × a few months); past it the cache
// starts over.
const maxCachedPages = 4096

// Invalidate forgets what changes only on refresh; the server calls it after each one.
func (rp *Reports) Invalidate() {
	rp.mu.Lock()
	rp.cache = nil
	rp.pages = nil
	rp.mu.Unlock()
}

// cached runs a named query whose answer only a refresh changes.
func (rp *Reports) cached(ctx context.Context, name string, p queries.Params) (*queries.Result, error) {
	key := name + "\x00" + p.Month
	rp.mu.Lock()
	res, ok := rp.cache[key]
	rp.mu.Unlock()
	if ok {
		return res, nil
	}
	res, err := rp.r.Named(ctx, name, p, 0)
	if err != nil {
		return nil, err
	}
	rp.mu.Lock()
	if rp.cache == nil {
		rp.cache = map[string]*queries.Result{}
	}
	rp.cache[key] = res
	rp.mu.Unlock()
	return res, nil
}

// New parses the templates.
func New(r *queries.Runner) (*Reports, error) {
	tpl, err := template.New("").Funcs(template.FuncMap{
		"json": func(v any) (template.JS, error) { b, err := json.Marshal(v); return template.JS(b), err },
		// a URL query already encoded by url.Values: typed so that the template does not
		// encode it a second time (which turned month=… into month%3d…)
		"query": func(p queries.Params) template.URL { return template.URL(p.Query()) },
		"nav":   Nav,
		"actions": func() []struct{ Key, Label string } {
			var out []struct{ Key, Label string }
			for _, a := range []string{"login", "login_failed", "logout", "download", "sql", "upload", "user", "token", "refresh", "batch_rm", "denied", "subscription", "delivery", "link", "backup"} {
				out = append(out, struct{ Key, Label string }{a, auth.ActionLabel(a)})
			}
			return out
		},
		"eq":   func(a, b any) bool { return a == b },
		"inc":  func(i int) int { return i + 1 },
		"pct":  func(v any) string { return formatCell(queries.Column{Name: "x_rate", Type: "DOUBLE"}, v) },
		"pair": func(t *Table, p *Page) map[string]any { return map[string]any{"T": t, "P": p} },
		"csv":  func(dl string) string { return strings.Replace(dl, ".xlsx?", ".csv?", 1) },
	}).ParseFS(templateFS, "web/templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	return &Reports{r: r, tpl: tpl}, nil
}

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

// Chart is an ECharts option.
type Chart struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Option any    `json:"option"`
}

// Page is what a page shows; it is also its JSON twin.
type Page struct {
	Name      string            `json:"page"`
	Title     string            `json:"title"`
	Params    queries.Params    `json:"params"`
	Months    []string          `json:"months"`
	Districts []string          `json:"districts"`
	Profile   map[string]any    `json:"profile"`
	Summary   map[string]any    `json:"summary,omitempty"`
	Tables    []*Table          `json:"tables"`
	Charts    []Chart           `json:"charts"`
	Extra     map[string]string `json:"extra,omitempty"`
	Empty     bool              `json:"empty"`
	Viewer    *Viewer           `json:"viewer,omitempty"`
	Gate      *GateView         `json:"gate,omitempty"`
	// ChartsAfter places the charts after that many tables (0: before them all).
	ChartsAfter int `json:"-"`
	// Notice warns above the figures: some come from an earlier month's file (stale).
	Notice string `json:"notice,omitempty"`
	// Schema is the analyst tables, for the SQL page's browser.
	Schema []models.TableDoc `json:"-"`
}

// GateView is a school's standing at the 95% gate, as 学校详情 opens with it.
type GateView struct {
	Met       bool   `json:"met"`
	Status    string `json:"status"` // 达标 / 未达标 / 无专任教师
	Passed    int64  `json:"passed_full_time"`
	FullTime  int64  `json:"full_time_teachers"`
	Rate      string `json:"pass_rate"`
	Percent   int64  `json:"gate_percent"`
	Shortfall int64  `json:"shortfall"`
	Behind    int    `json:"teachers_behind"` // teachers not yet complete
}

// Viewer is who is looking, for the header and for which links a page offers; the server
// fills it from the caller's scope. What a user may reach is enforced by the server, not
// by which links are shown.
type Viewer struct {
	Name      string `json:"name"`
	Role      string `json:"role"`
	Scope     string `json:"scope"`
	School    string `json:"school,omitempty"`
	CanSQL    bool   `json:"-"`
	CanUpload bool   `json:"-"`
	IsAdmin   bool   `json:"-"`
}

var (
	reMonth  = regexp.MustCompile(`^\d{4}-\d{2}$`)
	reSchool = regexp.MustCompile(`^[0-9A-Za-z_-]{1,32}$`)
)

// ParseParams reads ?month=&district=&school=&batch= and checks their shape.
func ParseParams(v url.Values) (queries.Params, error) {
	p := queries.Params{Month: v.Get("month"), District: v.Get("district"), School: v.Get("school"), Batch: v.Get("batch"), Year: v.Get("year")}
	if _, err := ParseYear(p.Year); err != nil {
		return p, err
	}
	if p.Month != "" && !reMonth.MatchString(p.Month) {
		return p, apperr.Errorf(apperr.Invalid, "参数错误：month 应为 YYYY-MM")
	}
	if p.School != "" && !reSchool.MatchString(p.School) {
		return p, apperr.Errorf(apperr.Invalid, "参数错误：school")
	}
	if p.Batch != "" {
		if _, err := strconv.ParseInt(p.Batch, 10, 64); err != nil {
			return p, apperr.Errorf(apperr.Invalid, "参数错误：batch")
		}
	}
	if len(p.District) > 64 {
		return p, apperr.Errorf(apperr.Invalid, "参数错误：district")
	}
	return p, nil
}

// base fills the parts every page has: months (defaulting to the latest), districts, profile.
func (rp *Reports) base(ctx context.Context, name, title string, p queries.Params) (*Page, error) {
	pg := &Page{Name: name, Title: title, Params: p}
	res, err := rp.cached(ctx, "months", queries.Params{})
	if err != nil {
		return nil, err
	}
	for _, row := range res.Rows {
		pg.Months = append(pg.Months, row[0].(string))
	}
	if len(pg.Months) == 0 {
		pg.Empty = true
		return pg, nil
	}
	if pg.Params.Month == "" {
		pg.Params.Month = pg.Months[0]
	} else if !contains(pg.Months, pg.Params.Month) {
		return nil, apperr.Errorf(apperr.NotFound, "%s 没有数据", pg.Params.Month)
	}
	res, err = rp.cached(ctx, "districts", queries.Params{Month: pg.Params.Month})
	if err != nil {
		return nil, err
	}
	for _, row := range res.Rows {
		pg.Districts = append(pg.Districts, row[0].(string))
	}
	if pg.Params.District != "" && !contains(pg.Districts, pg.Params.District) {
		return nil, apperr.Errorf(apperr.NotFound, "区县 %s", pg.Params.District)
	}
	prof, err := rp.cached(ctx, "profile", queries.Params{})
	if err != nil {
		return nil, err
	}
	if len(prof.Rows) == 1 {
		pg.Profile = map[string]any{}
		for i, c := range prof.Columns {
			v := prof.Rows[0][i]
			if d, ok := v.(queries.Dec); ok {
				v = trimDec(d.Text) // 50.00 -> 50, as people write rules
			}
			pg.Profile[c.Name] = v
		}
	}
	return pg, nil
}

func trimDec(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func (rp *Reports) table(ctx context.Context, pg *Page, id, title string) (*Table, error) {
	res, err := rp.r.Named(ctx, id, pg.Params, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	return rp.tableOf(pg, id, title, res), nil
}

// The columns of the named queries school_teachers and school_todo, which the school page
// cuts from school_page_teachers (TestSchoolPageTeachersMatchTheirQueries keeps them equal).
var (
	schoolTeachersCols = []string{"name", "id_masked", "research_group", "subject", "is_full_time", "hours_progress",
		"hours_total", "hours_online", "hours_practice", "hours_met", "abilities_passed", "abilities_passed_codes",
		"dimensions_passed", "assessment_passed", "plan_uploaded", "summaries", "complete"}
	schoolTodoCols = []string{"name", "id_masked", "research_group", "subject", "is_full_time", "todo",
		"hours_short", "practice_short", "abilities_short", "dimensions_short", "plan_missing", "hours_total", "abilities_passed_codes"}
)

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

// Build makes the named page.
// Build returns a page. Its figures change only when the models do, so a page once built is
// kept until the next refresh (Invalidate); each caller gets its own copy to fill in (the
// viewer) and render, sharing the read-only results.
func (rp *Reports) Build(ctx context.Context, name string, p queries.Params) (*Page, error) {
	key := strings.Join([]string{name, p.Month, p.District, p.School, p.Batch}, "\x00")
	rp.mu.Lock()
	pg, ok := rp.pages[key]
	rp.mu.Unlock()
	if ok {
		return pg.clone(), nil
	}
	pg, err := rp.build(ctx, name, p)
	if err != nil {
		return nil, err
	}
	rp.mu.Lock()
	if rp.pages == nil || len(rp.pages) >= maxCachedPages {
		rp.pages = map[string]*Page{}
	}
	rp.pages[key] = pg
	rp.mu.Unlock()
	return pg.clone(), nil
}

// clone copies a page and its tables' headers, so that rendering (which fills a table's Head
// and Body) and the viewer never touch the shared copy; results and charts are read-only.
func (pg *Page) clone() *Page {
	c := *pg
	c.Tables = make([]*Table, len(pg.Tables))
	for i, t := range pg.Tables {
		tc := *t
		tc.Head, tc.Body = nil, ""
		c.Tables[i] = &tc
	}
	return &c
}

// Render writes the page as HTML.
func (rp *Reports) Render(w io.Writer, tmpl string, pg *Page) error {
	for _, t := range pg.Tables {
		t.prepare(pg)
	}
	return rp.tpl.ExecuteTemplate(w, tmpl, pg)
}

func (rp *Reports) overview(ctx context.Context, p queries.Params) (*Page, error) {
	pg, err := rp.base(ctx, "overview", "总览", p)
	if err != nil || pg.Empty {
		return pg, err
	}
	t, err := rp.table(ctx, pg, "overview_districts", "各区县进度")
	if err != nil {
		return nil, err
	}
	res := t.Result
	src, err := rp.sources(ctx, pg.Params)
	if err != nil {
		return nil, err
	}
	dist := colIndex(res, "district")
	addColumn(res, "stale_schools", "数据滞后学校数", func(row []any) any { return int64(src.district[fmt.Sprint(row[dist])]) })
	res.Columns[len(res.Columns)-1].Type = "BIGINT"
	pg.Notice = src.note(pg.Params.Month)
	t.Cell = notLoaded(res)
	teachers := colIndex(res, "teachers")
	t.RowClasses = rowClasses(res, func(row []any) bool { return row[teachers] == nil }, "notloaded", "")
	var names []string
	series := map[string][]any{"hours_completion": nil, "assessment_pass_rate": nil, "completion_rate": nil}
	var gate, schools []any
	sum := map[string]int64{}
	for _, row := range res.Rows {
		names = append(names, fmt.Sprint(row[colIndex(res, "district")]))
		for k := range series {
			series[k] = append(series[k], pctValue(row[colIndex(res, k)]))
		}
		gate = append(gate, row[colIndex(res, "schools_gate_met")])
		schools = append(schools, row[colIndex(res, "schools")])
		for _, k := range []string{"schools", "schools_gate_met", "teachers", "hours_met", "assessment_passed", "complete", "shortfall"} {
			if v, ok := row[colIndex(res, k)].(int64); ok {
				sum[k] += v
			}
		}
	}
	pg.Summary = map[string]any{}
	for k, v := range sum {
		pg.Summary[k] = v
	}
	if sum["teachers"] > 0 {
		pg.Summary["hours_completion"] = float64(sum["hours_met"]) / float64(sum["teachers"])
		pg.Summary["assessment_pass_rate"] = float64(sum["assessment_passed"]) / float64(sum["teachers"])
		pg.Summary["completion_rate"] = float64(sum["complete"]) / float64(sum["teachers"])
	}
	pg.Charts = append(pg.Charts,
		Chart{ID: "rates", Title: "各区县学时达标率、测评合格率与完成率", Option: barOption(names, []seriesSpec{
			{"学时达标率", series["hours_completion"]}, {"测评合格率", series["assessment_pass_rate"]}, {"完成率", series["completion_rate"]}}, true)},
		Chart{ID: "gate", Title: "各区县达到95%门槛的学校", Option: barOption(names, []seriesSpec{
			{"学校数", schools}, {"达到门槛", gate}}, false)})
	return pg, nil
}

func (rp *Reports) schools(ctx context.Context, p queries.Params) (*Page, error) {
	pg, err := rp.base(ctx, "schools", "学校进度", p)
	if err != nil || pg.Empty {
		return pg, err
	}
	t, err := rp.table(ctx, pg, "schools", "各校95%门槛与学时完成情况（未达门槛的学校在前）")
	if err != nil {
		return nil, err
	}
	src, err := rp.sources(ctx, pg.Params)
	if err != nil {
		return nil, err
	}
	code := colIndex(t.Result, "school_code")
	addColumn(t.Result, "stale_sources", "数据滞后（来自更早月份的文件）", func(row []any) any {
		if s := src.school[fmt.Sprint(row[code])]; len(s) > 0 {
			return strings.Join(s, "；")
		}
		return nil
	})
	pg.Notice = src.note(pg.Params.Month)
	gate := colIndex(t.Result, "gate_met")
	t.Cell = notLoaded(t.Result)
	for _, row := range t.Result.Rows {
		if row[colIndex(t.Result, "teachers")] == nil {
			t.RowClasses = append(t.RowClasses, "notloaded")
			continue
		}
		switch row[gate] {
		case false:
			t.RowClasses = append(t.RowClasses, "behind")
		case nil:
			t.RowClasses = append(t.RowClasses, "nogate")
		default:
			t.RowClasses = append(t.RowClasses, "met")
		}
	}
	t.LinkCol = colIndex(t.Result, "school_name")
	t.List = true
	return pg, nil
}

func (rp *Reports) school(ctx context.Context, p queries.Params) (*Page, error) {
	if p.School == "" {
		return nil, apperr.Errorf(apperr.Invalid, "参数错误：缺少学校代码")
	}
	pg, err := rp.base(ctx, "school", "学校详情", p)
	if err != nil || pg.Empty {
		return pg, err
	}
	t, err := rp.table(ctx, pg, "school", "本校概况")
	if err != nil {
		return nil, err
	}
	t.List = true
	if len(t.Result.Rows) == 0 {
		return nil, apperr.Errorf(apperr.NotFound, "学校 %s 在 %s 没有数据", p.School, pg.Params.Month)
	}
	row := t.Result.Rows[0]
	pg.Title = fmt.Sprint(row[colIndex(t.Result, "school_name")]) + " · 学校详情"
	pg.Gate = gateView(t.Result, row)
	if src, err := rp.sources(ctx, pg.Params); err != nil {
		return nil, err
	} else if line, stale := sourceLine(src, p.School); stale {
		pg.Notice = "注意：本校本月部分数据来自更早月份的导出文件（" + line + "），数字可能偏低。"
	}

	// Both teacher tables come from one scan of the school's teachers (school_page_teachers):
	// each is the named query of its download (school_todo, school_teachers) in content.
	all, err := rp.r.Named(ctx, "school_page_teachers", pg.Params, 0)
	if err != nil {
		return nil, fmt.Errorf("school_page_teachers: %w", err)
	}
	teachers := project(all, schoolTeachersCols, func([]any) bool { return true })
	done := colIndex(all, "complete")
	todoRes := project(all, schoolTodoCols, func(row []any) bool { return row[done] != true })
	sortTodo(todoRes)

	// Who to chase first, each with what is missing.
	todo := rp.tableOf(pg, "school_todo", "需要跟进的教师（专任教师在前，差得多的在前）", todoRes)
	pg.Gate.Behind = len(todo.Result.Rows)
	todo.Hidden = map[int]bool{}
	for _, c := range []string{"hours_short", "practice_short", "abilities_short", "dimensions_short", "plan_missing"} {
		todo.Hidden[colIndex(todo.Result, c)] = true
	}
	if full := colIndex(todo.Result, "is_full_time"); full >= 0 {
		todo.RowClasses = rowClasses(todo.Result, func(row []any) bool { return row[full] == true }, "behind", "")
	}
	todo.Empty = "全部教师已完成培训，没有需要跟进的教师。"

	tt := rp.tableOf(pg, "school_teachers", "全部教师（研修考核视图）", teachers)
	tdone := colIndex(tt.Result, "complete")
	tt.RowClasses = rowClasses(tt.Result, func(row []any) bool { return row[tdone] == true }, "met", "behind")
	tt.Empty = "本月花名册上没有本校教师。"

	cov, err := rp.r.Named(ctx, "coverage_matrix", pg.Params, 0)
	if err != nil {
		return nil, err
	}
	if len(cov.Rows) > 0 {
		pg.Charts = append(pg.Charts, Chart{ID: "coverage", Title: coverageTitle("本校维度 × 环境覆盖（通过至少一个能力点的教师占比）"+latestOnly(pg), cov), Option: heatmapOption(cov)})
	}

	sw, err := rp.table(ctx, pg, "school_swot", "SWOT 诊断数据（与区县平均对比）"+latestOnly(pg))
	if err != nil {
		return nil, err
	}
	sw.Hidden = map[int]bool{colIndex(sw.Result, "unit"): true, colIndex(sw.Result, "higher_is_better"): true}
	sw.Cell = swotCell(sw.Result)
	sw.Empty = "没有本校的 SWOT 数据（学校信息或花名册尚未导入）。"
	gaps, err := rp.table(ctx, pg, "school_gaps", "无人覆盖的维度与环境"+latestOnly(pg))
	if err != nil {
		return nil, err
	}
	gaps.Empty = "每个维度和环境都至少有一位教师通过了能力点。"
	pg.Extra = map[string]string{"roster": "/download/roster.xlsx?" + pg.Params.Query()}
	// the gate's follow-up first, the school's facts after the heatmap
	pg.Tables = append([]*Table{todo}, append([]*Table{t}, pg.Tables[2:]...)...)
	pg.ChartsAfter = 1
	return pg, nil
}

// rowValuesCell shows a rejected row's values (stored as a JSON object of mapped columns) as
// 学校代码：3601000001；姓名：张三, with the columns' Chinese labels, in the file's order.
func (rp *Reports) rowValuesCell(res *queries.Result) func(row []any, col int) (string, bool) {
	rv := colIndex(res, "row_values")
	return func(row []any, col int) (string, bool) {
		if col != rv {
			return "", false
		}
		text, ok := row[col].(string)
		if !ok {
			return "", false
		}
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return "", false
		}
		var parts []string
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return "", false
			}
			var v any
			if err := dec.Decode(&v); err != nil {
				return "", false
			}
			if v == nil || v == "" {
				continue
			}
			parts = append(parts, rp.r.Label(fmt.Sprint(k))+"："+fmt.Sprint(v))
		}
		return strings.Join(parts, "；"), true
	}
}

// notLoaded shows the figures of a district or school that is on the school list but has
// no roster for the month as 未导入, not as zeros or dashes.
func notLoaded(res *queries.Result) func(row []any, col int) (string, bool) {
	teachers := colIndex(res, "teachers")
	return func(row []any, col int) (string, bool) {
		if teachers >= 0 && row[teachers] == nil && row[col] == nil {
			return "未导入", true
		}
		return "", false
	}
}

// gateView reads the school row: 达标 when the gate is met, else how many more must pass.
func gateView(res *queries.Result, row []any) *GateView {
	i64 := func(k string) int64 { v, _ := row[colIndex(res, k)].(int64); return v }
	g := &GateView{Passed: i64("passed_full_time"), FullTime: i64("full_time_teachers"), Percent: i64("gate_percent"), Shortfall: i64("shortfall")}
	if i := colIndex(res, "pass_rate"); i >= 0 {
		g.Rate = formatCell(res.Columns[i], row[i])
	}
	switch row[colIndex(res, "gate_met")] {
	case true:
		g.Met, g.Status = true, "达标"
	case false:
		g.Status = "未达标"
	default:
		g.Status = "无专任教师"
	}
	return g
}

// swotCell formats the SWOT figures by what they are: counts as integers, shares as
// percentages (differences in percentage points), averages with two decimals; differences
// signed, and never "-0.0".
func swotCell(res *queries.Result) func(row []any, col int) (string, bool) {
	unit := colIndex(res, "unit")
	value, avg, diff := colIndex(res, "value"), colIndex(res, "district_avg"), colIndex(res, "diff_from_district")
	return func(row []any, col int) (string, bool) {
		if col != value && col != avg && col != diff {
			return "", false
		}
		f, ok := row[col].(float64)
		if !ok {
			return "—", true
		}
		u := fmt.Sprint(row[unit])
		switch {
		case u == "比例" && col == diff:
			return signed(f*100, 1) + " 个百分点", true
		case col == diff:
			return signed(f, 2), true
		}
		// as the 诊断报告 shows them (swotText): shares by the one rounding rule
		return swotText(u, f, col == value), true
	}
}

// signed writes a difference with its sign; one that rounds to zero is "0".
func signed(f float64, prec int) string {
	s := strconv.FormatFloat(f, 'f', prec, 64)
	if strings.Trim(s, "-0.") == "" {
		return "0"
	}
	if f > 0 {
		return "+" + s
	}
	return s
}

func (rp *Reports) abilities(ctx context.Context, p queries.Params) (*Page, error) {
	pg, err := rp.base(ctx, "abilities", "能力点", p)
	if err != nil || pg.Empty {
		return pg, err
	}
	// Final results alone say little (a failure later retaken and passed vanishes): first
	// attempts beside final results show where teachers struggle.
	at, err := rp.table(ctx, pg, "ability_attempts", "各能力点的选择与通过：首次测评与最终结果（两者之差是重测后才通过的人数）")
	if err != nil {
		return nil, err
	}
	var codes []string
	var first, final []any
	for _, row := range at.Result.Rows {
		codes = append(codes, fmt.Sprint(row[0]))
		first = append(first, pctValue(row[colIndex(at.Result, "first_pass_rate")]))
		final = append(final, pctValue(row[colIndex(at.Result, "pass_rate")]))
	}
	at.Empty = "本月还没有能力点测评结果。"
	pg.Charts = append(pg.Charts, Chart{ID: "points", Title: "各能力点首次通过率与最终通过率", Option: barOption(codes, []seriesSpec{{"首次通过率", first}, {"最终通过率", final}}, true)})
	c, err := rp.table(ctx, pg, "coverage_matrix", "维度 × 环境覆盖"+latestOnly(pg))
	if err != nil {
		return nil, err
	}
	pg.Charts = append(pg.Charts, Chart{ID: "coverage", Title: coverageTitle("维度 × 环境覆盖（通过至少一个能力点的教师占比）"+latestOnly(pg), c.Result), Option: heatmapOption(c.Result)})
	return pg, nil
}

func (rp *Reports) trend(ctx context.Context, p queries.Params) (*Page, error) {
	pg, err := rp.base(ctx, "trend", "月度趋势", p)
	if err != nil || pg.Empty {
		return pg, err
	}
	t, err := rp.table(ctx, pg, "trend", "逐月进度")
	if err != nil {
		return nil, err
	}
	var months []string
	s := map[string][]any{}
	for _, row := range t.Result.Rows {
		months = append(months, fmt.Sprint(row[0]))
		for _, k := range []string{"hours_completion", "assessment_pass_rate", "completion_rate"} {
			s[k] = append(s[k], pctValue(row[colIndex(t.Result, k)]))
		}
		s["gate"] = append(s["gate"], row[colIndex(t.Result, "schools_gate_met")])
	}
	pg.Charts = append(pg.Charts,
		Chart{ID: "trend", Title: "逐月完成情况", Option: lineOption(months, []seriesSpec{
			{"学时达标率", s["hours_completion"]}, {"测评合格率", s["assessment_pass_rate"]}, {"完成率", s["completion_rate"]}})},
		Chart{ID: "gate", Title: "逐月达到95%门槛的学校", Option: barOption(months, []seriesSpec{{"达到门槛", s["gate"]}}, false)})
	return pg, nil
}

func (rp *Reports) quality(ctx context.Context, p queries.Params) (*Page, error) {
	pg, err := rp.base(ctx, "quality", "数据质量", p)
	if err != nil {
		return nil, err
	}
	if pg.Empty && pg.Params.Month == "" {
		pg.Empty = false // the files loaded are worth showing even before any month has data
	}
	if _, err := rp.table(ctx, pg, "batches", "已导入的文件"); err != nil {
		return nil, err
	}
	title := "拒收的行"
	if p.Batch != "" {
		title = "拒收的行（批次 " + p.Batch + "）"
	}
	rj, err := rp.table(ctx, pg, "rejects", title)
	if err != nil {
		return nil, err
	}
	rj.Cell = rp.rowValuesCell(rj.Result)
	if _, err := rp.table(ctx, pg, "unmatched", "未匹配的记录（已保存，未计入）"); err != nil {
		return nil, err
	}
	return pg, nil
}

// --- charts --------------------------------------------------------------------------------

type seriesSpec struct {
	name string
	data []any
}

// pctValue is a rate as the charts carry it: the percentage with one decimal, as text, so
// that a label reads 3.0% exactly as the table's cell does (ECharts takes numeric strings).
func pctValue(v any) any {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(queries.RatePercent(f), 'f', 1, 64)
	}
	return nil
}

func barOption(cats []string, ss []seriesSpec, percent bool) map[string]any {
	var series []any
	var legend []string
	for _, s := range ss {
		legend = append(legend, s.name)
		// value labels only where they cannot collide: few categories and few series
		label := map[string]any{"show": len(cats)*len(ss) <= 16, "position": "top", "fontSize": 11}
		if percent {
			label["formatter"] = "{c}%"
		}
		series = append(series, map[string]any{"name": s.name, "type": "bar", "data": s.data,
			"label": label, "labelLayout": map[string]any{"hideOverlap": true}})
	}
	y := map[string]any{"type": "value", "axisLabel": map[string]any{"color": "#333"}}
	if percent {
		y["max"] = 100
		y["axisLabel"] = map[string]any{"formatter": "{value}%", "color": "#333"}
	} else {
		y["minInterval"] = 1 // counts of schools and teachers: no 0.5 of a school
	}
	return map[string]any{
		"animation": false, // the figures at once, also when printed
		"tooltip":   map[string]any{"trigger": "axis"},
		"legend":    map[string]any{"data": legend},
		"grid":      map[string]any{"left": 40, "right": 20, "bottom": 40, "containLabel": true},
		"xAxis":     map[string]any{"type": "category", "data": cats, "axisLabel": map[string]any{"interval": 0, "rotate": rotate(len(cats))}},
		"yAxis":     y,
		"series":    series,
	}
}

func rotate(n int) int {
	if n > 8 {
		return 40
	}
	return 0
}

func lineOption(cats []string, ss []seriesSpec) map[string]any {
	o := barOption(cats, ss, true)
	for _, s := range o["series"].([]any) {
		m := s.(map[string]any)
		m["type"] = "line"
		m["showSymbol"], m["symbolSize"] = true, 8 // a single month is a point, not an empty chart
		if data, ok := m["data"].([]any); ok {
			for i, v := range data {
				if t, ok := v.(string); ok {
					data[i], _ = strconv.ParseFloat(t, 64)
				}
			}
		}
		// one label per point would stack where the lines meet; the tooltip gives values
		m["label"] = map[string]any{"show": false}
		m["emphasis"] = map[string]any{"label": map[string]any{"show": true}}
	}
	o["legend"] = map[string]any{"data": o["legend"].(map[string]any)["data"], "top": 0}
	o["grid"] = map[string]any{"left": 40, "right": 30, "top": 40, "bottom": 30, "containLabel": true}
	return o
}

// latestOnly marks a figure the models keep for the latest month only (coverage, SWOT)
// when the page shows an earlier month, so that nobody reads it as that month's.
func latestOnly(pg *Page) string {
	if len(pg.Months) > 0 && pg.Params.Month != pg.Months[0] {
		return "（仅有最新月份 " + pg.Months[0] + " 的数据）"
	}
	return ""
}

// blankCellNote explains the empty cells of a coverage heatmap: the catalogue has no point
// for that dimension in that environment, so there is nothing to cover.
const blankCellNote = "（空白格：能力点目录中没有该维度与环境组合的能力点）"

// coverageTitle adds blankCellNote when the grid has holes.
func coverageTitle(title string, res *queries.Result) string {
	dims, envs := map[string]bool{}, map[string]bool{}
	for _, row := range res.Rows {
		dims[fmt.Sprint(row[colIndex(res, "dimension")])] = true
		envs[fmt.Sprint(row[colIndex(res, "environment")])] = true
	}
	if len(res.Rows) < len(dims)*len(envs) {
		return title + blankCellNote
	}
	return title
}

func heatmapOption(res *queries.Result) map[string]any {
	dimI, envI, shareI := colIndex(res, "dimension"), colIndex(res, "environment"), colIndex(res, "teacher_share")
	var dims, envs []string
	for _, row := range res.Rows {
		if d := fmt.Sprint(row[dimI]); !contains(dims, d) {
			dims = append(dims, d)
		}
		if e := fmt.Sprint(row[envI]); !contains(envs, e) {
			envs = append(envs, e)
		}
	}
	var data []any
	for _, row := range res.Rows {
		x := indexOf(envs, fmt.Sprint(row[envI]))
		y := indexOf(dims, fmt.Sprint(row[dimI]))
		data = append(data, []any{x, y, pctValue(row[shareI])})
	}
	return map[string]any{
		"tooltip": map[string]any{"position": "top"},
		"grid":    map[string]any{"left": 90, "right": 20, "bottom": 90, "top": 10},
		"xAxis":   map[string]any{"type": "category", "data": envs, "splitArea": map[string]any{"show": true}},
		"yAxis":   map[string]any{"type": "category", "data": dims, "splitArea": map[string]any{"show": true}},
		"visualMap": map[string]any{"min": 0, "max": 100, "calculable": false, "orient": "horizontal", "left": "center", "bottom": 0,
			"itemHeight": 160, "text": []string{"100%", "0%"}, "inRange": map[string]any{"color": []string{"#f8696b", "#ffeb84", "#63be7b"}}},
		"series": []any{map[string]any{"name": "覆盖率（%）", "type": "heatmap", "data": data, "label": map[string]any{"show": true, "formatter": "{@[2]}%"}}},
	}
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

// --- cells ---------------------------------------------------------------------------------

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
