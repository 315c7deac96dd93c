// Package server puts the reports, ad-hoc SQL and uploads behind HTTP. One process holds the
// warehouse file; readers keep answering from the last committed state while an upload
// loads and refreshes (DuckDB's MVCC), and uploads run one at a time.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"tisheng/ingest"
	"tisheng/internal/auth"
	"tisheng/internal/deliver"
	"tisheng/internal/metrics"
	"tisheng/internal/scoped"
	"tisheng/internal/warehouse"
	"tisheng/models"
	"tisheng/queries"
	"tisheng/reports"
)

// Config holds the server's settings.
type Config struct {
	Addr        string
	MaxUpload   int64         // bytes per upload request
	SQLTimeout  time.Duration // ad-hoc query time limit
	SQLRowLimit int
	// AllowedHosts are the host names the server answers to besides IP literals and
	// localhost (DNS rebinding).
	AllowedHosts []string
	TLSCert      string // with TLSKey: serve HTTPS
	TLSKey       string
	// Scopes bounds the district and school databases kept at once.
	Scopes scoped.Options
	// Models is the catalog of models and analyst tables (nil: the built-in one).
	Models *models.Catalog
	Limits // limits.go
	// Backup says where backups go (backup.go).
	Backup BackupConfig
	// Metrics records requests, refreshes, loads, queries, scope builds and backups (nil:
	// none); MetricsAddr serves them, without login, on a listener of their own.
	Metrics     *metrics.Metrics
	MetricsAddr string
	// ShutdownGrace is how long a stopping server lets the requests under way finish (an
	// upload's load and refresh) before it cancels them (default 60 s; the unit's
	// TimeoutStopSec leaves room for it).
	ShutdownGrace time.Duration
}

// DefaultShutdownGrace is Config.ShutdownGrace's default.
const DefaultShutdownGrace = 60 * time.Second

// Server serves one warehouse.
type Server struct {
	cfg     Config
	wh      *warehouse.Warehouse
	loader  *ingest.Loader
	runner  *queries.Runner
	adhoc   *queries.AdHoc
	reports *reports.Reports
	log     *slog.Logger
	writeMu sync.Mutex // one upload (ingest + refresh) at a time
	// backupSlot holds the one backup under way (backup.go)
	backupSlot chan struct{}

	accounts *auth.Store
	scopes   *scoped.Set
	delivery *deliver.Service // subscriptions (deliver.go); nil: none

	districtMu sync.Mutex
	districtOf map[string]string // school code -> district, until the next refresh

	modelsBuilt         atomic.Bool               // the models exist (a refresh has run): until then pages guide
	computing           atomic.Pointer[time.Time] // when the refresh under way began; nil: none
	userSQL, userUpload sync.Map                  // user name -> slots of 1: one ad-hoc query, one upload per user at a time
	gate                *sqlGate                  // ad-hoc query slots (limits.go)
	uploadSlots         slots                     // uploads loading
	receiving           *sqlGate                  // upload bodies being received (limits.go)
	sampler             *auditSampler             // auditlimit.go
}

// New wires a server over an open warehouse, its loader and its accounts.
func New(cfg Config, wh *warehouse.Warehouse, loader *ingest.Loader, accounts *auth.Store, log *slog.Logger) (*Server, error) {
	r, err := queries.NewRunner(wh.DB)
	if err != nil {
		return nil, err
	}
	rp, err := reports.New(r)
	if err != nil {
		return nil, err
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 1 << 30
	}
	cfg.Limits.defaults()
	if cfg.Models == nil {
		if cfg.Models, err = models.Builtin(); err != nil {
			return nil, err
		}
	}
	s := &Server{cfg: cfg, wh: wh, loader: loader, runner: r, reports: rp, log: log, accounts: accounts, districtOf: map[string]string{},
		gate: newSQLGate(cfg.MaxSQL, cfg.SQLPerScope), uploadSlots: make(slots, cfg.MaxUploads), receiving: newReceivingGate(cfg.MaxReceiving, cfg.ReceivingPerScope),
		sampler: newAuditSampler(), backupSlot: make(chan struct{}, 1)}
	s.adhoc = s.newAdHoc(r)
	if cfg.Backup.Dir != "" && !wh.CanBackupTo(cfg.Backup.Dir) {
		return nil, fmt.Errorf("server: the warehouse was not opened for backups into %s (warehouse.Options.BackupDir)", cfg.Backup.Dir)
	}
	if cfg.Metrics != nil && cfg.Scopes.OnBuild == nil {
		cfg.Scopes.OnBuild = func(k scoped.Key, d time.Duration, err error) {
			kind := "district"
			if k.School != "" {
				kind = "school"
			}
			cfg.Metrics.ScopeBuild(kind, err == nil, d)
		}
	}
	cfg.Metrics.Watch(s.state)
	s.scopes = scoped.NewSet(wh.DB, cfg.Models, cfg.Scopes, log, s.newScopeView)
	if err := s.sweepUploads(); err != nil {
		return nil, err
	}
	return s, nil
}

// Close drops the scope databases.
func (s *Server) Close() { s.scopes.Close() }

// handler is an HTTP handler that returns its error for errorStatus to answer.
type handler func(w http.ResponseWriter, r *http.Request) error

// notFound answers an unknown path in the caller's language: a page for browsers, JSON for
// the API and downloads.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/download/") {
		writeError(w, http.StatusNotFound, "没有这个地址")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	s.reports.Render(w, "error", &reports.Page{Name: "error", Title: statusTitle(http.StatusNotFound),
		Extra: map[string]string{"message": "没有这个页面：" + r.URL.Path}})
}

// Run serves until ctx ends, then shuts down gracefully: it stops listening, lets the
// requests under way finish for ShutdownGrace (an upload's load and refresh), then cancels
// those still running (an upload's transaction rolls back: its file is not loaded, and
// can be uploaded again) and waits for them to end, so that the warehouse is closed with
// nothing half written.
func (s *Server) Run(ctx context.Context) error {
	base, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	srv := &http.Server{
		Addr:              s.cfg.Addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	servers := []*http.Server{srv}
	errc := make(chan error, 2)
	go func() {
		if s.cfg.TLSCert != "" {
			errc <- srv.ListenAndServeTLS(s.cfg.TLSCert, s.cfg.TLSKey)
			return
		}
		errc <- srv.ListenAndServe()
	}()
	if s.cfg.MetricsAddr != "" && s.cfg.Metrics != nil {
		// for the office's monitoring, on loopback or its own network: the metrics alone,
		// no login (they name no one: route classes, counts, durations)
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.cfg.Metrics.Handler())
		// the main listener's Host check: a page of another site reached by DNS
		// rebinding cannot read the metrics through a browser on the office's network
		ms := &http.Server{Addr: s.cfg.MetricsAddr, Handler: s.hostCheck(mux), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
		servers = append(servers, ms)
		go func() { errc <- ms.ListenAndServe() }()
	}
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	grace := s.cfg.ShutdownGrace
	if grace <= 0 {
		grace = DefaultShutdownGrace
	}
	s.log.Info("shutting down", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	for _, hs := range servers {
		if serr := hs.Shutdown(sctx); serr != nil && !errors.Is(serr, context.DeadlineExceeded) && err == nil {
			err = serr
		}
	}
	cancelRequests()
	// Close the connections still open: a body still arriving (a slow client's upload) is
	// not ended by its context, and would hold the stop for as long as the client likes.
	for _, hs := range servers {
		_ = hs.Close()
	}
	// what was cancelled ends: an upload rolls back, then lets go of the write lock
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if unlock, werr := s.pauseWriters(wctx); werr == nil {
		unlock()
	} else {
		s.log.Error("an upload or refresh did not end after it was cancelled", "err", werr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		start := time.Now()
		next.ServeHTTP(ww, r)
		s.log.Info("request", "id", middleware.GetReqID(r.Context()), "method", r.Method, "path", r.URL.Path,
			"status", ww.Status(), "bytes", ww.BytesWritten(), "ms", time.Since(start).Milliseconds())
	})
}

// auditForbidden records a 403: another district's school, roster or page, a role's
// missing right. The path and the refusal are kept, never a body.
func (s *Server) auditForbidden(r *http.Request, code int, msg string) {
	if code != http.StatusForbidden {
		return
	}
	obj := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		obj += "?" + r.URL.RawQuery
	}
	s.audit(r, auth.Entry{Action: auth.ActDenied, Object: obj, Detail: msg})
}

func (s *Server) api(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			code, msg := s.errorStatus(r, err)
			s.auditForbidden(r, code, msg)
			writeError(w, code, msg)
		}
	}
}

func (s *Server) html(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			code, msg := s.errorStatus(r, err)
			s.auditForbidden(r, code, msg)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(code)
			s.reports.Render(w, "error", &reports.Page{Name: "error", Title: statusTitle(code), Viewer: viewer(scopeOf(r.Context())), Extra: map[string]string{"message": msg}})
		}
	}
}

// refresh rebuilds the models with the recorded profile (national when none is).
func (s *Server) refresh(ctx context.Context) error {
	p, err := models.CurrentProfile(ctx, s.wh.DB)
	if errors.Is(err, models.ErrNoProfile) {
		p, err = models.LoadProfile("national")
	}
	if err != nil {
		return err
	}
	began := time.Now()
	s.computing.Store(&began)
	defer s.computing.Store(nil)
	rep, err := s.cfg.Models.Refresh(ctx, s.wh, p)
	s.cfg.Metrics.Refresh(rep.Mode, err == nil, time.Since(began))
	s.reports.Invalidate()
	s.scopes.Invalidate()
	s.modelsBuilt.Store(false)
	s.districtMu.Lock()
	s.districtOf = map[string]string{}
	s.districtMu.Unlock()
	if err == nil {
		s.kickDelivery() // a new month may be due
	}
	return err
}
