// Package server puts the reports, ad-hoc SQL and uploads behind HTTP. One process holds the
// warehouse file; readers keep answering from the last committed state while an upload
// loads and refreshes (DuckDB's MVCC), and uploads run one at a time.
package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"tisheng/internal/apperr"

	"github.com/go-chi/chi/v5"
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
	// backupMu: one backup at a time (backup.go)
	backupMu sync.Mutex

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
		sampler: newAuditSampler()}
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
		ms := &http.Server{Addr: s.cfg.MetricsAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
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
	// what was cancelled ends: an upload rolls back, then lets go of the write lock
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	for _, hs := range servers {
		_ = hs.Shutdown(wctx)
	}
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

func (s *Server) sqlPage(w http.ResponseWriter, r *http.Request) error {
	// every scope's database has the same tables and columns: the warehouse's say them
	schema, err := s.cfg.Models.Browse(r.Context(), s.wh.DB)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return s.reports.Render(w, "sql", &reports.Page{Name: "sql", Title: "SQL 查询", Profile: s.profile(r.Context()), Viewer: viewer(scopeOf(r.Context())), Schema: schema,
		Extra: map[string]string{"timeout": s.adhoc.Timeout.String(), "limit": fmt.Sprint(s.adhoc.RowLimit)}})
}

func (s *Server) uploadPage(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return s.reports.Render(w, "upload", &reports.Page{Name: "upload", Title: "上传", Profile: s.profile(r.Context()), Viewer: viewer(scopeOf(r.Context())),
		Extra: map[string]string{"limit": humanBytes(s.cfg.MaxUpload)}})
}

// sqlAPI runs one ad-hoc query: JSON body {"sql": …} or a form field sql. It runs on the
// caller's view: a district user's query reaches only its district's database.
func (s *Server) sqlAPI(w http.ResponseWriter, r *http.Request, v *view, _ queries.Params) (err error) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	var q string
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var body struct {
			SQL string `json:"sql"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return apperr.Errorf(apperr.Invalid, "请求体应为 JSON：{\"sql\": \"…\"}")
		}
		q = body.SQL
	} else {
		if err := r.ParseForm(); err != nil {
			return apperr.Errorf(apperr.Invalid, "%v", err)
		}
		q = r.PostForm.Get("sql")
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	start := time.Now()
	var rows int64
	defer func() {
		s.cfg.Metrics.SQL(sqlOutcome(err))
		e := auth.Entry{Action: auth.ActSQL, Object: format, Detail: q, Rows: rows, DurationMS: time.Since(start).Milliseconds(), OK: err == nil}
		if err != nil {
			_, msg := s.errorStatus(r, err)
			e.Detail = q + "\n-- " + msg
		}
		s.audit(r, e)
	}()
	switch format {
	case "arrow", "json", "csv", "xlsx":
	default:
		return apperr.Errorf(apperr.Invalid, "format 应为 json、csv、xlsx 或 arrow")
	}
	// Checked before a slot is taken (a refused query holds none, however often it is
	// sent) and before any byte is written (a refusal is still a clean 4xx).
	if err := v.adhoc.Check(r.Context(), q); err != nil {
		return err
	}
	// a scope's raw tables, copied in after its pages' tables, before a slot is taken
	if err := v.ready(r.Context()); err != nil {
		return err
	}
	leave, why := s.gate.enter(scopeOf(r.Context()))
	if leave == nil {
		return apperr.New(apperr.Busy, why)
	}
	defer leave()
	switch format {
	case "arrow":
		w.Header().Set("Content-Type", "application/vnd.apache.arrow.stream")
		w.Header().Set("Content-Disposition", disposition("查询结果.arrow"))
		_, err := v.adhoc.WriteArrow(r.Context(), w, q)
		return err
	}
	res, err := v.adhoc.Run(r.Context(), q)
	if err != nil {
		return err
	}
	rows = int64(len(res.Rows))
	switch format {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", disposition("查询结果.csv"))
		return queries.WriteCSV(w, res)
	case "xlsx":
		w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		w.Header().Set("Content-Disposition", disposition("查询结果.xlsx"))
		return queries.WriteXLSX(w, "查询结果", "", res)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	return queries.WriteJSON(w, res)
}

func (s *Server) tableDownload(csv bool) scopedHandler {
	return func(w http.ResponseWriter, r *http.Request, v *view, p queries.Params) error {
		wb, err := v.rp.TableDownload(r.Context(), chi.URLParam(r, "query"), p, csv)
		if err != nil {
			return err
		}
		return s.send(w, r, chi.URLParam(r, "query"), p, wb)
	}
}

// send writes a workbook with its file name and records the download. It is built into
// memory first so that a failure is still a clean error response rather than half a file.
func (s *Server) send(w http.ResponseWriter, r *http.Request, what string, p queries.Params, wb *reports.Workbook) error {
	var buf strings.Builder
	if err := wb.Write(&buf); err != nil {
		return err
	}
	s.audit(r, auth.Entry{Action: auth.ActDownload, Object: wb.FileName, Rows: int64(wb.Rows), OK: true,
		Detail: what + " " + p.Query()})
	w.Header().Set("Content-Type", deliver.ContentType(wb.FileName))
	w.Header().Set("Content-Disposition", disposition(wb.FileName))
	w.Header().Set("Content-Length", fmt.Sprint(buf.Len()))
	_, err := io.WriteString(w, buf.String())
	return err
}

// disposition is an RFC 6266 attachment header with an RFC 5987 UTF-8 file name and an
// ASCII fallback for old clients.
func disposition(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' {
			return '_'
		}
		return r
	}, name)
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii, url.PathEscape(name))
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.0f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KB", n/1024)
}

// upload is one uploaded file: where it was saved, the name the user gave it, and its
// kind as its header says (detected once, on arrival).
type upload struct {
	path, name string
	kind       ingest.Kind
}

// ingestAPI takes several files (multipart, streamed to temporary files), loads them as
// `tisheng ingest` would, then refreshes the models with the recorded profile. The whole
// body is received before an upload slot is asked for.
func (s *Server) ingestAPI(w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if err != nil {
			// one line for a refused upload, whatever it held: no file of it was loaded
			_, msg := s.errorStatus(r, err)
			s.audit(r, auth.Entry{Action: auth.ActUpload, Detail: "未导入：" + msg})
		}
	}()
	leave, why := s.receiving.enter(scopeOf(r.Context()))
	if leave == nil {
		busy(w, why)
		return nil
	}
	dir, files, opts, err := s.receiveUpload(w, r)
	leave()
	if dir != "" {
		defer os.RemoveAll(dir)
	}
	if err != nil {
		return err
	}
	if !s.uploadSlots.tryAcquire() {
		busy(w, fmt.Sprintf("服务器正忙：同时导入的上传已达上限 %d 个，请 %d 秒后再试", cap(s.uploadSlots), retryAfter))
		return nil
	}
	defer s.uploadSlots.release()
	sc := scopeOf(r.Context())
	if sc.Role == auth.RoleSchool {
		// a school's 研修考核 files are its own
		if opts.School != "" && opts.School != sc.School {
			return forbidden(sc, "学校 "+opts.School)
		}
		opts.School = sc.School
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var results []ingest.Result
	loaded := false
	// Uploaded files keep their own names (they carry as-of dates): load one by one in
	// dependency order, each named as the user named it.
	for _, f := range orderUploads(files) {
		o := opts
		o.Name = f.name
		// The page's 学校代码 belongs to 研修考核 files, which name no school; other files
		// name their schools row by row.
		if f.kind != ingest.KindProgress {
			o.School = ""
		}
		// worked out per file: a school list earlier in the upload may add the district's schools
		lim, err := s.uploadLimit(r.Context(), sc)
		if err != nil {
			return err
		}
		if lim != nil && o.School != "" && !lim.HeldEver(o.School) {
			return forbidden(sc, "学校 "+o.School)
		}
		o.Limit = lim
		start := time.Now()
		res := s.loader.LoadFile(r.Context(), f.path, o)
		if res.Status == ingest.StatusLoaded {
			s.cfg.Metrics.Ingest(res.Kind, res.Status, res.Accepted, res.Rejected)
		} else { // the rows of a file not loaded are no one's
			s.cfg.Metrics.Ingest(res.Kind, res.Status, 0, 0)
		}
		s.audit(r, auth.Entry{Action: auth.ActUpload, Object: f.name, Rows: int64(res.Accepted), DurationMS: time.Since(start).Milliseconds(),
			OK: res.Status != ingest.StatusFailed, Detail: fmt.Sprintf("%s %s 接收 %d 拒收 %d 批次 %d %s", res.Status, res.Kind, res.Accepted, res.Rejected, res.Batch, res.Error)})
		if res.Status == ingest.StatusLoaded {
			loaded = true
		}
		if res.Status == ingest.StatusAlreadyLoaded {
			// recorded in full above; the uploader is told what its scope may know
			if res, err = s.repeatAnswer(r.Context(), sc, res); err != nil {
				return err
			}
		}
		results = append(results, res)
	}
	out := map[string]any{"files": results, "refreshed": false}
	// Models older than the batches (a server killed between a load and its refresh) are
	// refreshed even when every file was already loaded.
	if loaded || s.outdated(r.Context()) {
		if err := s.refresh(r.Context()); err != nil {
			out["refresh_error"] = err.Error()
		} else {
			out["refreshed"] = true
		}
	}
	s.extendWrite(w)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// receiveUpload reads an upload's whole body: its files into a new directory (returned
// even on an error, for the caller to remove), and its fields. It refuses, before anything
// is loaded, a request with more files than MaxUploadFiles or more other parts than
// maxOtherParts.
func (s *Server) receiveUpload(w http.ResponseWriter, r *http.Request) (string, []upload, ingest.Options, error) {
	var opts ingest.Options
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		return "", nil, opts, apperr.Errorf(apperr.Invalid, "请用 multipart/form-data 上传文件")
	}
	dir, err := os.MkdirTemp(s.uploadDir(), "upload-")
	if err != nil {
		return "", nil, opts, err
	}
	var files []upload
	others := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return dir, nil, opts, err
		}
		name := part.FormName()
		if (name == "files" || name == "file") && part.FileName() != "" {
			if len(files) == s.cfg.MaxUploadFiles {
				return dir, nil, opts, apperr.Errorf(apperr.TooLarge, "一次最多上传 %d 个文件，这次多于 %d 个：请分批上传，没有导入任何文件", s.cfg.MaxUploadFiles, s.cfg.MaxUploadFiles)
			}
			u, err := saveUpload(dir, len(files), part)
			if err != nil {
				return dir, nil, opts, err
			}
			files = append(files, u)
			continue
		}
		if others++; others > maxOtherParts {
			return dir, nil, opts, apperr.Errorf(apperr.Invalid, "上传请求中文件以外的字段过多（最多 %d 个）：只需 files、as_of 和 school，没有导入任何文件", maxOtherParts)
		}
		switch name {
		case "as_of":
			v, _ := io.ReadAll(io.LimitReader(part, 64))
			if s := strings.TrimSpace(string(v)); s != "" {
				t, err := time.Parse("2006-01-02", s)
				if err != nil {
					return dir, nil, opts, apperr.Errorf(apperr.Invalid, "数据截止日期应为 YYYY-MM-DD")
				}
				opts.AsOf = t
			}
		case "school":
			v, _ := io.ReadAll(io.LimitReader(part, 64))
			opts.School = strings.TrimSpace(string(v))
		}
	}
	if len(files) == 0 {
		return dir, nil, opts, apperr.Errorf(apperr.Invalid, "没有选择文件")
	}
	return dir, files, opts, nil
}

// orderUploads sorts uploads the way `tisheng ingest` orders its files, schools and
// rosters first, keeping the user's order otherwise.
func orderUploads(files []upload) []upload {
	out := append([]upload(nil), files...)
	sort.SliceStable(out, func(i, j int) bool { return ingest.LoadRank(out[i].kind) < ingest.LoadRank(out[j].kind) })
	return out
}

func saveUpload(dir string, i int, part *multipart.Part) (upload, error) {
	name := filepath.Base(part.FileName())
	p := filepath.Join(dir, fmt.Sprintf("%03d%s", i, filepath.Ext(name)))
	// private whatever the umask: an upload holds teachers' names and ID numbers
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return upload{}, err
	}
	if _, err := io.Copy(f, part); err != nil {
		f.Close()
		return upload{}, err
	}
	if err := f.Close(); err != nil {
		return upload{}, err
	}
	k, _ := ingest.PeekKind(p) // an unreadable file fails, with its reason, when it is loaded
	return upload{path: p, name: name, kind: k}, nil
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
	rep, err := models.Refresh(ctx, s.wh, p)
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

// uploadLimit is what an uploader may write: nothing limits the project office; a district
// user writes its district's schools (by the newest school list naming each), a school
// user its own school.
func (s *Server) uploadLimit(ctx context.Context, sc auth.Scope) (*ingest.Limit, error) {
	switch {
	case sc.IsAdmin():
		return nil, nil
	case sc.Role == auth.RoleSchool, sc.Role == auth.RoleDistrict:
		// every entry of every school list: which district holds a school is decided for
		// each file's month (ingest.Limit)
		rows, err := s.wh.DB.QueryContext(ctx, `SELECT r.school_code, r.school_name, r.district, b.as_of, r.batch_id
			FROM raw_schools r JOIN batches b ON b.batch_id = r.batch_id WHERE b.as_of IS NOT NULL`)
		if err != nil {
			return nil, fmt.Errorf("upload scope: %w", err)
		}
		defer rows.Close()
		var lists []ingest.Listing
		for rows.Next() {
			var e ingest.Listing
			if err := rows.Scan(&e.Code, &e.Name, &e.District, &e.AsOf, &e.Batch); err != nil {
				return nil, err
			}
			lists = append(lists, e)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if sc.Role == auth.RoleDistrict {
			return ingest.NewLimit(sc.District, "", sc.String(), lists), nil
		}
		// a school user writes its own school (its 研修考核 names no school: the code is enough)
		return ingest.NewLimit("", sc.School, sc.String(), lists), nil
	}
	return nil, forbidden(sc, "上传")
}

// repeatAnswer is what an uploader is told of bytes already loaded: the earlier batch's id,
// date and counts only when that batch is in the uploader's scope (its own upload, or one
// its database holds). Of another scope's file it learns no more than that the same bytes
// are loaded: they cannot be loaded twice.
func (s *Server) repeatAnswer(ctx context.Context, sc auth.Scope, res ingest.Result) (ingest.Result, error) {
	if sc.Everything() {
		return res, nil
	}
	var byDistrict, bySchool sql.NullString
	if err := s.wh.DB.QueryRowContext(ctx, `SELECT loaded_district, loaded_school FROM batches WHERE batch_id = ?`, res.Batch).
		Scan(&byDistrict, &bySchool); err != nil {
		return res, fmt.Errorf("repeat answer: %w", err)
	}
	if (sc.School != "" && bySchool.String == sc.School) || (sc.School == "" && byDistrict.String == sc.District && byDistrict.Valid) {
		return res, nil
	}
	if s.ready(ctx) {
		v, err := s.viewFor(ctx, sc)
		if err != nil {
			return res, err
		}
		defer v.release()
		var n int
		if err := v.runner.DB().QueryRowContext(ctx, `SELECT count(*) FROM batches WHERE batch_id = ?`, res.Batch).Scan(&n); err != nil {
			return res, fmt.Errorf("repeat answer: %w", err)
		}
		if n > 0 {
			return res, nil
		}
	}
	return ingest.Result{File: res.File, Status: ingest.StatusAlreadyLoaded,
		Error: "内容完全相同的文件已导入过（不在您的范围内，不显示其批次与行数），无需重复导入"}, nil
}
