package server

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"tisheng/internal/auth"
	"tisheng/internal/scoped"
	"tisheng/queries"
	"tisheng/reports"
)

// view is what one request may read: the whole warehouse for a scope that reaches
// everything, else the scope's own database (internal/scoped), with the reports, named
// queries and ad-hoc runner built over it.
type view struct {
	rp      *reports.Reports
	runner  *queries.Runner
	adhoc   *queries.AdHoc
	schools map[string]bool // the scope's schools; nil: every school
	release func()
	// ready waits for the raw tables of a scope's database, which are copied in after the
	// rest (ad-hoc SQL may read them; pages and downloads do not)
	ready func(context.Context) error
}

// scopeView is what the server builds once on each scope database.
type scopeView struct {
	rp     *reports.Reports
	runner *queries.Runner
	adhoc  *queries.AdHoc
}

func (s *Server) newScopeView(db *sql.DB) (any, error) {
	r, err := queries.NewRunner(db)
	if err != nil {
		return nil, err
	}
	rp, err := reports.New(r)
	if err != nil {
		return nil, err
	}
	return &scopeView{rp: rp, runner: r, adhoc: s.newAdHoc(r)}, nil
}

func (s *Server) newAdHoc(r *queries.Runner) *queries.AdHoc {
	ah := queries.NewAdHoc(r, s.cfg.Models.AnalystTables())
	if s.cfg.SQLTimeout > 0 {
		ah.Timeout = s.cfg.SQLTimeout
	}
	if s.cfg.SQLRowLimit > 0 {
		ah.RowLimit = s.cfg.SQLRowLimit
	}
	s.cfg.Limits.caps(ah)
	return ah
}

// viewFor opens the data a scope may read. Fails closed: no valid scope, no view.
func (s *Server) viewFor(ctx context.Context, sc auth.Scope) (*view, error) {
	if !sc.Valid() {
		return nil, forbidden(sc, "数据")
	}
	if sc.Everything() {
		return &view{rp: s.reports, runner: s.runner, adhoc: s.adhoc, release: func() {}, ready: func(context.Context) error { return nil }}, nil
	}
	return s.scopeView(ctx, scoped.KeyOf(sc))
}

func (s *Server) scopeView(ctx context.Context, k scoped.Key) (*view, error) {
	d, release, err := s.scopes.Get(ctx, k)
	if err != nil {
		return nil, fmt.Errorf("scope %s: %w", k, err)
	}
	sv := d.Value.(*scopeView)
	v := &view{rp: sv.rp, runner: sv.runner, adhoc: sv.adhoc, schools: map[string]bool{}, release: release, ready: d.Ready}
	for _, c := range d.Schools {
		v.schools[c] = true
	}
	return v, nil
}

// narrow fits the request's parameters to the scope: a parameter may narrow the view,
// never widen it. Asking for another district or school is 403, not an empty page. A school
// user's district is its school's in the month asked for (a school that changed district
// has its earlier months under the district it was in then); district is that lookup.
func narrow(sc auth.Scope, v *view, p queries.Params, district func(month string) string) (queries.Params, error) {
	if sc.District != "" {
		own := sc.District
		if sc.School != "" {
			if d := district(p.Month); d != "" {
				own = d
			}
		}
		if p.District != "" && p.District != own {
			return p, forbidden(sc, "区县「"+p.District+"」")
		}
		p.District = own
	}
	if p.School != "" {
		if sc.School != "" && p.School != sc.School {
			return p, forbidden(sc, "学校 "+p.School)
		}
		if v.schools != nil && !v.schools[p.School] {
			return p, forbidden(sc, "学校 "+p.School)
		}
	}
	return p, nil
}

// scopedHandler is a handler that reads data: it gets the caller's view and parameters,
// already fitted to the scope. Page handlers get a nil view before the first refresh (see
// withPageView); the others never do.
type scopedHandler func(w http.ResponseWriter, r *http.Request, v *view, p queries.Params) error

// withView resolves the caller's view and parameters once, then runs h.
func (s *Server) withView(h scopedHandler) handler { return s.resolve(h, false) }

// withPageView is withView for pages and their JSON twins, which guide on a fresh warehouse.
func (s *Server) withPageView(h scopedHandler) handler { return s.resolve(h, true) }

func (s *Server) resolve(h scopedHandler, pages bool) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		sc := scopeOf(r.Context())
		p, err := params(r)
		if err != nil {
			return err
		}
		if code := chi.URLParam(r, "code"); code != "" {
			p.School = code
		}
		if !s.ready(r.Context()) {
			if pages {
				return h(w, r, nil, p)
			}
			return s.noData()
		}
		v, err := s.viewFor(r.Context(), sc)
		if err != nil {
			return err
		}
		defer v.release()
		if p, err = v.fit(r.Context(), sc, p); err != nil {
			return err
		}
		return h(w, r, v, p)
	}
}

// fit fits a request's parameters to the scope (narrow); a school user's district in the
// month asked for is read from its school's own database.
func (v *view) fit(ctx context.Context, sc auth.Scope, p queries.Params) (queries.Params, error) {
	return narrow(sc, v, p, func(month string) string {
		var d sql.NullString
		_ = v.runner.DB().QueryRowContext(ctx, `SELECT any_value(district) FROM school_info
			WHERE school_code = ? AND month = coalesce(nullif(?, ''), (SELECT max(month) FROM months))`, sc.School, month).Scan(&d)
		return d.String
	})
}
