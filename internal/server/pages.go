package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
	"tisheng/internal/apperr"
	"tisheng/internal/auth"
	"tisheng/queries"
	"tisheng/reports"

	"github.com/go-chi/chi/v5"
)

// params reads the page parameters; a school in the path (/schools/{code}) wins over ?school=.
func params(r *http.Request) (queries.Params, error) {
	v := r.URL.Query()
	if code := chi.URLParam(r, "code"); code != "" {
		v.Set("school", code)
	}
	return reports.ParseParams(v)
}

// emptyPage is what every page shows before the first refresh: what to load, in order, or,
// while the figures are being computed (serve catching up at start on files loaded before
// a restart, an upload's refresh), since when, and to reload shortly.
func (s *Server) emptyPage(name string, sc auth.Scope) *reports.Page {
	pg := &reports.Page{Name: name, Title: reports.PageTitle(name), Empty: true, Viewer: viewer(sc)}
	if msg := s.computingNote(); msg != "" {
		pg.Extra = map[string]string{"computing": msg}
	}
	return pg
}

// computingNote says, while a refresh is under way, since when the figures are computed.
func (s *Server) computingNote() string {
	t := s.computing.Load()
	if t == nil {
		return ""
	}
	return fmt.Sprintf("统计正在计算（自 %s 起，已 %d 秒），请稍后刷新本页", t.Format("15:04:05"), int(time.Since(*t).Seconds()))
}

// noData is the answer to a download or query on a warehouse whose models are not built:
// they are being computed, or nothing is loaded yet.
func (s *Server) noData() error {
	if msg := s.computingNote(); msg != "" {
		return apperr.New(apperr.Unavailable, msg)
	}
	return errNoData
}

// ready reports whether the models have been built; a fresh warehouse has only its raw
// tables, and every page then guides instead of failing.
func (s *Server) ready(ctx context.Context) bool {
	if s.modelsBuilt.Load() {
		return true
	}
	var n int
	if err := s.wh.DB.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = 'months'`).Scan(&n); err != nil || n == 0 {
		return false
	}
	s.modelsBuilt.Store(true)
	return true
}

// errNoData is a download or query on a warehouse whose models were never built.
var errNoData = apperr.Errorf(apperr.NotFound, "仓库里还没有可统计的数据：请先导入学校信息、教师名单和学时等文件")

func (s *Server) page(name string) http.HandlerFunc {
	return s.html(s.withPageView(func(w http.ResponseWriter, r *http.Request, v *view, p queries.Params) error {
		sc := scopeOf(r.Context())
		if v == nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			return s.reports.Render(w, "page", s.emptyPage(name, sc))
		}
		if name == "overview" && sc.Role == auth.RoleSchool && r.URL.RawQuery == "" {
			// a school's overview is its own page
			http.Redirect(w, r, "/schools/"+url.PathEscape(sc.School), http.StatusSeeOther)
			return nil
		}
		pg, err := v.rp.Build(r.Context(), name, p)
		if err != nil {
			return err
		}
		pg.Viewer = viewer(sc)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		return v.rp.Render(w, "page", pg)
	}))
}

func (s *Server) pageJSON(name string) scopedHandler {
	return func(w http.ResponseWriter, r *http.Request, v *view, p queries.Params) error {
		if v == nil {
			return writeJSON(w, s.emptyPage(name, scopeOf(r.Context())))
		}
		pg, err := v.rp.Build(r.Context(), name, p)
		if err != nil {
			return err
		}
		pg.Viewer = viewer(scopeOf(r.Context()))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return enc.Encode(pg)
	}
}

func (s *Server) profile(ctx context.Context) map[string]any {
	res, err := s.runner.Named(ctx, "profile", queries.Params{}, 0)
	if err != nil || len(res.Rows) == 0 {
		return nil
	}
	m := map[string]any{}
	for i, c := range res.Columns {
		v := res.Rows[0][i]
		if d, ok := v.(queries.Dec); ok {
			v = d.Text
		}
		m[c.Name] = v
	}
	return m
}
