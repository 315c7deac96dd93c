package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"tisheng/internal/apperr"
	"tisheng/internal/deliver"
	"tisheng/internal/metrics"
	"tisheng/models"
	"tisheng/queries"
)

// measure records every request's route class, status and time (metrics.Request). The
// class comes from the route that answered, never from the path a client sent: a scan of
// made-up paths adds to "other", not to new series.
func (s *Server) measure(next http.Handler) http.Handler {
	if s.cfg.Metrics == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		start := time.Now()
		next.ServeHTTP(ww, r)
		pattern := ""
		if rc := chi.RouteContext(r.Context()); rc != nil {
			pattern = rc.RoutePattern()
		}
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		s.cfg.Metrics.Request(routeClass(pattern), status, time.Since(start))
	})
}

// routeClass groups the routes for the metrics.
func routeClass(pattern string) string {
	switch {
	case pattern == "":
		return "other" // no route: 404 or 405
	case pattern == "/healthz":
		return "health"
	case pattern == "/metrics":
		return "metrics"
	case strings.HasPrefix(pattern, "/static/"):
		return "static"
	case pattern == "/login" || pattern == "/logout":
		return "login"
	case pattern == "/link":
		return "link"
	case pattern == "/api/sql":
		return "sql"
	case pattern == "/api/ingest":
		return "upload"
	case strings.HasPrefix(pattern, "/api/admin/") || strings.HasPrefix(pattern, "/admin"):
		return "admin"
	case strings.HasPrefix(pattern, "/api/"):
		return "api"
	case strings.HasPrefix(pattern, "/download/"):
		return "download"
	}
	return "page"
}

// metricsPage answers a scrape on the main listener: an admin's token or session only
// (the group it stands in says so); without metrics, 404.
func (s *Server) metricsPage(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Metrics == nil {
		writeError(w, http.StatusNotFound, "服务器没有启用监控指标")
		return
	}
	s.cfg.Metrics.Handler().ServeHTTP(w, r)
}

// state is what the metrics read of the warehouse at a scrape.
func (s *Server) state(ctx context.Context) (metrics.State, error) {
	st := metrics.State{Deliveries: map[string]int{}, Statuses: []string{deliver.StatusPending, deliver.StatusSending,
		deliver.StatusRetry, deliver.StatusSent, deliver.StatusFailed, deliver.StatusUncertain, deliver.StatusStopped}}
	rows, err := s.wh.DB.QueryContext(ctx, `SELECT status, count(*) FROM deliveries GROUP BY status`)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return st, err
		}
		st.Deliveries[status] = n
	}
	if err := rows.Err(); err != nil {
		return st, err
	}
	if err := s.wh.DB.QueryRowContext(ctx, `SELECT count(*) FROM batches`).Scan(&st.Batches); err != nil {
		return st, err
	}
	st.ModelsOutdated, err = models.Outdated(ctx, s.wh.DB)
	return st, err
}

// sqlOutcome names how an ad-hoc query ended, for the metrics.
func sqlOutcome(err error) string {
	var ge *queries.GuardError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ge):
		return "refused"
	case errors.Is(err, queries.ErrTimeout):
		return "timeout"
	case errors.Is(err, queries.ErrMemory):
		return "memory"
	case apperr.CodeOf(err) == apperr.Busy:
		return "busy"
	}
	return "failed"
}
