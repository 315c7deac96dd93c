// Package reports defines what leaders and analysts see: the pages (server-rendered, with a
// JSON twin each) and the Excel workbooks, all built from the named queries over the models.
package reports

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"tisheng/internal/apperr"

	"tisheng/internal/auth"
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

// The columns of the named queries school_teachers and school_todo, which the school page
// cuts from school_page_teachers (TestSchoolPageTeachersMatchTheirQueries keeps them equal).
var (
	schoolTeachersCols = []string{"name", "id_masked", "research_group", "subject", "is_full_time", "hours_progress",
		"hours_total", "hours_online", "hours_practice", "hours_met", "abilities_passed", "abilities_passed_codes",
		"dimensions_passed", "assessment_passed", "plan_uploaded", "summaries", "complete"}
	schoolTodoCols = []string{"name", "id_masked", "research_group", "subject", "is_full_time", "todo",
		"hours_short", "practice_short", "abilities_short", "dimensions_short", "plan_missing", "hours_total", "abilities_passed_codes"}
)

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

// --- charts --------------------------------------------------------------------------------

// --- cells ---------------------------------------------------------------------------------
