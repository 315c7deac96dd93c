package server

import (
	"io"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"tisheng/internal/auth"
	"tisheng/internal/reportkind"
	"tisheng/reports"
)

// Handler is the whole HTTP interface: every route, one a line, top to bottom. Who may call
// a route is said where it stands: its group decides how a caller is identified (pages send
// the anonymous to /login, the API and downloads answer 401), and require names a role's
// right. The caller's scope is decided once, by authenticate, and handed down.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID, s.logRequests, s.measure, middleware.Recoverer, s.hostCheck, securityHeaders, s.crossOrigin, s.deadlines)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "不支持该请求方法")
	})
	var (
		sql    = s.require(auth.Scope.CanSQL, "SQL 查询", true)
		upload = s.require(auth.Scope.CanUpload, "上传", true)
		admin  = s.require(auth.Scope.IsAdmin, "管理页面", true)
	)

	// Open to anyone.
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	r.Handle("/static/*", http.StripPrefix("/static/", staticFiles(reports.Static())))
	r.Get("/login", s.loginPage)
	r.Post("/login", s.loginPost)
	r.Post("/logout", s.logout)
	// a delivered message's signed link: the signature is the credential (deliver.go)
	r.With(middleware.Timeout(120*time.Second)).Get("/link", s.linkDownload)

	// Prometheus metrics, for an admin's token (or on --metrics-addr, without login: Run).
	r.With(s.authenticate(false), s.require(auth.Scope.IsAdmin, "监控指标", false)).Get("/metrics", s.metricsPage)

	// Pages.
	r.Group(func(r chi.Router) {
		r.Use(s.authenticate(true), middleware.Timeout(60*time.Second))
		for _, p := range reports.ReportPages() { // 总览, 学校进度, 学校详情, 能力点, 月度趋势, 数据质量
			r.Get(p.Path, s.page(p.Name))
		}
		r.With(sql).Get("/sql", s.html(s.sqlPage))
		r.With(upload).Get("/upload", s.html(s.uploadPage))
		r.Get("/me", s.html(s.mePage))                            // one's own subscriptions
		r.Post("/me/subscriptions", s.html(s.meSubscriptionForm)) // deliver.go
		r.With(admin).Get("/admin", s.html(s.adminPage))
		r.With(admin).Post("/admin/users", s.html(s.adminUserForm))
		r.With(admin).Post("/admin/subscriptions", s.html(s.adminSubscriptionForm))
		r.With(admin).Post("/admin/backup", s.html(s.adminBackupForm)) // backup.go
	})

	// The JSON API.
	r.Route("/api", func(r chi.Router) {
		r.Use(s.authenticate(false))
		for _, p := range reports.ReportPages() { // each page's JSON twin
			r.Get(p.API, s.api(s.withPageView(s.pageJSON(p.Name))))
		}
		// A body is read whole before any slot is taken: a client that trickles it holds
		// its own connection only, until the rate reader cuts it (limits.go).
		r.With(s.require(auth.Scope.CanSQL, "SQL 查询", false)).Post("/sql", s.bodyFirst(maxSQLBody,
			onePer(&s.userSQL, "您已有一条查询在运行：请等它结束（或超时中断）后再查询", s.api(s.withView(s.sqlAPI)))))
		r.With(s.require(auth.Scope.CanUpload, "上传", false)).Post("/ingest",
			onePer(&s.userUpload, "您已有一个上传在进行：请等它结束后再上传", s.api(s.longBody(s.ingestAPI))))
		r.Route("/admin", func(r chi.Router) {
			r.Use(s.require(auth.Scope.IsAdmin, "管理接口", false))
			r.Get("/users", s.api(s.usersAPI))
			r.Post("/users/{name}/unlock", s.api(s.unlockAPI))
			r.Get("/batches", s.api(s.batchesAPI))
			r.Post("/batches/{id}/delete", s.api(s.deleteBatchAPI))
			r.Post("/refresh", s.api(s.refreshAPI))
			r.Get("/subscriptions", s.api(s.subscriptionsAPI))
			r.Get("/deliveries", s.api(s.deliveriesAPI))
			r.Get("/audit", s.api(s.auditAPI))
			r.Post("/backup", s.api(s.backupAPI)) // backup.go
		})
	})

	// Downloads, built on the caller's view as the pages are.
	r.Route("/download", func(r chi.Router) {
		r.Use(s.authenticate(false), middleware.Timeout(120*time.Second))
		for _, k := range reportkind.All() { // 月报, 年报, 学校名单, the Word documents: as deliveries build them
			r.Get("/"+k.File, s.kindDownload(k))
		}
		r.Get("/swot.zip", s.api(s.withView(s.swotZipDownload)))
		r.With(s.require(auth.Scope.IsAdmin, "审计日志", false)).Get("/audit.xlsx", s.api(s.auditDownload))
		r.Get("/{query}.xlsx", s.api(s.withView(s.tableDownload(false))))
		r.Get("/{query}.csv", s.api(s.withView(s.tableDownload(true))))
	})
	return r
}

// usersAPI lists the accounts.
func (s *Server) usersAPI(w http.ResponseWriter, r *http.Request) error {
	us, err := s.accounts.Users(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, us)
}

// auditAPI lists the audit trail, filtered as the 管理 page filters it.
func (s *Server) auditAPI(w http.ResponseWriter, r *http.Request) error {
	f, err := auditFilter(r.URL.Query())
	if err != nil {
		return err
	}
	es, err := s.accounts.Audit(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, es)
}
