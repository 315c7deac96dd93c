// Package reports defines what leaders and analysts see: the pages (server-rendered, with a
// JSON twin each) and the Excel workbooks, all built from the named queries over the models.
package reports

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"io/fs"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"tisheng/internal/xlsxw"
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

// ErrNotFound is a school, batch or page that does not exist.
var ErrNotFound = errors.New("not found")

// ErrBadParam is a malformed URL parameter.
var ErrBadParam = errors.New("bad parameter")

// Reports builds pages and workbooks.
type Reports struct {
	r   *queries.Runner
	tpl *template.Template

	mu    sync.Mutex
	cache map[string]*queries.Result // months, districts and profile: they change only on refresh
}

// Invalidate forgets what changes only on refresh; the server calls it after each one.
func (rp *Reports) Invalidate() {
	rp.mu.Lock()
	rp.cache = nil
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
		"json":  func(v any) (template.JS, error) { b, err := json.Marshal(v); return template.JS(b), err },
		"query": func(p queries.Params) string { return p.Query() },
		"eq":    func(a, b string) bool { return a == b },
		"pct":   func(v any) string { return formatCell(queries.Column{Name: "x_rate", Type: "DOUBLE"}, v) },
		"pair":  func(t *Table, p *Page) map[string]any { return map[string]any{"T": t, "P": p} },
		"csv":   func(dl string) string { return strings.Replace(dl, ".xlsx?", ".csv?", 1) },
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
	Head       []HeadView      `json:"-"` // filled by prepare, for the template
	Body       template.HTML   `json:"-"` // the rows, escaped in Go (see prepare)
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
		t.Head = append(t.Head, HeadView{Label: c.Label, Name: c.Name, Num: num[i]})
	}
	code := colIndex(t.Result, "school_code")
	month := queries.Params{Month: p.Params.Month}.Query()
	var b strings.Builder
	for i, row := range t.Result.Rows {
		b.WriteString(`<tr class="`)
		if i < len(t.RowClasses) {
			b.WriteString(html.EscapeString(t.RowClasses[i]))
		}
		b.WriteString(`">`)
		for j, v := range row {
			if num[j] {
				b.WriteString(`<td class="n" data-v="`)
			} else {
				b.WriteString(`<td data-v="`)
			}
			b.WriteString(html.EscapeString(sortKey(v)))
			b.WriteString(`">`)
			text := html.EscapeString(formatCell(cols[j], v))
			if j == t.LinkCol && code >= 0 {
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
}

var (
	reMonth  = regexp.MustCompile(`^\d{4}-\d{2}$`)
	reSchool = regexp.MustCompile(`^[0-9A-Za-z_-]{1,32}$`)
)

// ParseParams reads ?month=&district=&school=&batch= and checks their shape.
func ParseParams(v url.Values) (queries.Params, error) {
	p := queries.Params{Month: v.Get("month"), District: v.Get("district"), School: v.Get("school"), Batch: v.Get("batch")}
	if p.Month != "" && !reMonth.MatchString(p.Month) {
		return p, fmt.Errorf("%w: month 应为 YYYY-MM", ErrBadParam)
	}
	if p.School != "" && !reSchool.MatchString(p.School) {
		return p, fmt.Errorf("%w: school", ErrBadParam)
	}
	if p.Batch != "" {
		if _, err := strconv.ParseInt(p.Batch, 10, 64); err != nil {
			return p, fmt.Errorf("%w: batch", ErrBadParam)
		}
	}
	if len(p.District) > 64 {
		return p, fmt.Errorf("%w: district", ErrBadParam)
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
		return nil, fmt.Errorf("%w: %s 没有数据", ErrNotFound, pg.Params.Month)
	}
	res, err = rp.cached(ctx, "districts", queries.Params{Month: pg.Params.Month})
	if err != nil {
		return nil, err
	}
	for _, row := range res.Rows {
		pg.Districts = append(pg.Districts, row[0].(string))
	}
	if pg.Params.District != "" && !contains(pg.Districts, pg.Params.District) {
		return nil, fmt.Errorf("%w: 区县 %s", ErrNotFound, pg.Params.District)
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
	t := &Table{ID: id, Title: title, Result: res, Download: "/download/" + id + ".xlsx?" + pg.Params.Query(), LinkCol: -1}
	pg.Tables = append(pg.Tables, t)
	return t, nil
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
func (rp *Reports) Build(ctx context.Context, name string, p queries.Params) (*Page, error) {
	switch name {
	case "overview":
		return rp.overview(ctx, p)
	case "schools":
		return rp.schools(ctx, p)
	case "school":
		return rp.school(ctx, p)
	case "abilities":
		return rp.abilities(ctx, p)
	case "trend":
		return rp.trend(ctx, p)
	case "quality":
		return rp.quality(ctx, p)
	}
	return nil, fmt.Errorf("%w: page %s", ErrNotFound, name)
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
	gate := colIndex(t.Result, "gate_met")
	for _, row := range t.Result.Rows {
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
	return pg, nil
}

func (rp *Reports) school(ctx context.Context, p queries.Params) (*Page, error) {
	if p.School == "" {
		return nil, fmt.Errorf("%w: 缺少学校代码", ErrBadParam)
	}
	pg, err := rp.base(ctx, "school", "学校详情", p)
	if err != nil || pg.Empty {
		return pg, err
	}
	t, err := rp.table(ctx, pg, "school", "本校概况")
	if err != nil {
		return nil, err
	}
	if len(t.Result.Rows) == 0 {
		return nil, fmt.Errorf("%w: 学校 %s 在 %s 没有数据", ErrNotFound, p.School, pg.Params.Month)
	}
	pg.Title = fmt.Sprint(t.Result.Rows[0][colIndex(t.Result, "school_name")]) + " · 学校详情"
	tt, err := rp.table(ctx, pg, "school_teachers", "教师名单（研修考核视图）")
	if err != nil {
		return nil, err
	}
	done := colIndex(tt.Result, "complete")
	for _, row := range tt.Result.Rows {
		if row[done] == true {
			tt.RowClasses = append(tt.RowClasses, "met")
		} else {
			tt.RowClasses = append(tt.RowClasses, "behind")
		}
	}
	if _, err := rp.table(ctx, pg, "school_swot", "SWOT 诊断数据（与区县平均对比）"); err != nil {
		return nil, err
	}
	if _, err := rp.table(ctx, pg, "school_gaps", "无人覆盖的维度与环境"); err != nil {
		return nil, err
	}
	pg.Extra = map[string]string{"roster": "/download/roster.xlsx?" + pg.Params.Query()}
	return pg, nil
}

func (rp *Reports) abilities(ctx context.Context, p queries.Params) (*Page, error) {
	pg, err := rp.base(ctx, "abilities", "能力点", p)
	if err != nil || pg.Empty {
		return pg, err
	}
	t, err := rp.table(ctx, pg, "ability_points", "各能力点的选择与通过")
	if err != nil {
		return nil, err
	}
	var codes []string
	var chose, passed []any
	for _, row := range t.Result.Rows {
		codes = append(codes, fmt.Sprint(row[0]))
		chose = append(chose, row[colIndex(t.Result, "teachers_chose")])
		passed = append(passed, row[colIndex(t.Result, "teachers_passed")])
	}
	pg.Charts = append(pg.Charts, Chart{ID: "points", Title: "能力点选择与通过人数", Option: barOption(codes, []seriesSpec{{"选择人数", chose}, {"通过人数", passed}}, false)})
	c, err := rp.table(ctx, pg, "coverage_matrix", "维度 × 环境覆盖")
	if err != nil {
		return nil, err
	}
	pg.Charts = append(pg.Charts, Chart{ID: "coverage", Title: "维度 × 环境覆盖（通过至少一个能力点的教师占比）", Option: heatmapOption(c.Result)})
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
	if _, err := rp.table(ctx, pg, "rejects", title); err != nil {
		return nil, err
	}
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

func pctValue(v any) any {
	if f, ok := v.(float64); ok {
		return float64(int(f*1000+0.5)) / 10 // percent, one decimal
	}
	return nil
}

func barOption(cats []string, ss []seriesSpec, percent bool) map[string]any {
	var series []any
	var legend []string
	for _, s := range ss {
		legend = append(legend, s.name)
		series = append(series, map[string]any{"name": s.name, "type": "bar", "data": s.data, "label": map[string]any{"show": len(cats) <= 12, "position": "top"}})
	}
	y := map[string]any{"type": "value"}
	if percent {
		y["max"] = 100
		y["axisLabel"] = map[string]any{"formatter": "{value}%"}
	}
	return map[string]any{
		"tooltip": map[string]any{"trigger": "axis"},
		"legend":  map[string]any{"data": legend},
		"grid":    map[string]any{"left": 40, "right": 20, "bottom": 40, "containLabel": true},
		"xAxis":   map[string]any{"type": "category", "data": cats, "axisLabel": map[string]any{"interval": 0, "rotate": rotate(len(cats))}},
		"yAxis":   y,
		"series":  series,
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
		s.(map[string]any)["type"] = "line"
	}
	return o
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
		"tooltip":   map[string]any{"position": "top"},
		"grid":      map[string]any{"left": 90, "right": 20, "bottom": 60, "top": 10},
		"xAxis":     map[string]any{"type": "category", "data": envs, "splitArea": map[string]any{"show": true}},
		"yAxis":     map[string]any{"type": "category", "data": dims, "splitArea": map[string]any{"show": true}},
		"visualMap": map[string]any{"min": 0, "max": 100, "calculable": true, "orient": "horizontal", "left": "center", "bottom": 0, "inRange": map[string]any{"color": []string{"#f8696b", "#ffeb84", "#63be7b"}}},
		"series":    []any{map[string]any{"name": "覆盖率（%）", "type": "heatmap", "data": data, "label": map[string]any{"show": true}}},
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
		return x
	default:
		return strings.TrimSpace(fmt.Sprint(x))
	}
}
