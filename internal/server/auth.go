package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"tisheng/internal/apperr"

	"github.com/go-chi/chi/v5/middleware"

	"tisheng/ingest"
	"tisheng/internal/auth"
	"tisheng/reports"
)

// The caller's scope travels in the request context from authenticate to the handlers.
type ctxKey int

const scopeKey ctxKey = 0

func withScope(ctx context.Context, sc auth.Scope) context.Context {
	return context.WithValue(ctx, scopeKey, sc)
}

// scopeOf is the caller's scope; without one it is the zero Scope, which sees nothing.
func scopeOf(ctx context.Context) auth.Scope {
	sc, _ := ctx.Value(scopeKey).(auth.Scope)
	return sc
}

// ErrForbidden matches every refusal of a request beyond the caller's scope or role.
var ErrForbidden = apperr.Sentinel(apperr.Forbidden)

// forbidden says in Chinese what the caller asked for and what its scope is.
func forbidden(sc auth.Scope, what string) error {
	return apperr.Errorf(apperr.Forbidden, "无权访问%s（您的范围：%s，角色：%s）", what, sc.String(), sc.Role.Label())
}

const sessionCookie = "tisheng_session"

// identify finds the caller: an API token in Authorization, else the session cookie.
func (s *Server) identify(r *http.Request) (auth.User, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return auth.User{}, auth.ErrNoSession
		}
		return s.accounts.TokenUser(r.Context(), strings.TrimSpace(tok))
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return auth.User{}, auth.ErrNoSession
	}
	return s.accounts.Session(r.Context(), c.Value)
}

// scopeFor turns a user into the scope the handlers see; a school user's district comes
// from the school list.
func (s *Server) scopeFor(ctx context.Context, u auth.User) auth.Scope {
	sc := u.Scope()
	if sc.School != "" {
		sc.District = s.schoolDistrict(ctx, sc.School)
	}
	return sc
}

// schoolDistrict is the district of a school in the newest school list, "" when unknown.
func (s *Server) schoolDistrict(ctx context.Context, code string) string {
	s.districtMu.Lock()
	d, ok := s.districtOf[code]
	s.districtMu.Unlock()
	if ok {
		return d
	}
	var v *string
	err := s.wh.DB.QueryRowContext(ctx, `SELECT arg_max(district, month) FROM school_info WHERE school_code = ?`, code).Scan(&v)
	if err != nil || v == nil {
		return ""
	}
	s.districtMu.Lock()
	s.districtOf[code] = *v
	s.districtMu.Unlock()
	return *v
}

// authenticate decides who the caller is, once, and puts the scope in the context. Pages
// send the anonymous to /login; the API and downloads answer 401.
func (s *Server) authenticate(page bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, err := s.identify(r)
			if err != nil {
				if page && r.Method == http.MethodGet {
					http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				s.auditSampled(r, "401", auth.Entry{Scope: "无", Action: auth.ActUnauthorized, Object: r.Method + " " + r.URL.Path, Detail: credentialKind(r)})
				w.Header().Set("WWW-Authenticate", `Bearer realm="tisheng"`)
				writeError(w, http.StatusUnauthorized, "请先登录（网页登录，或在请求头 Authorization: Bearer 中提供 API 令牌）")
				return
			}
			sc := s.scopeFor(r.Context(), u)
			if !sc.Valid() {
				s.audit(r, auth.Entry{User: u.Name, Role: string(u.Role), Scope: "无", Action: auth.ActDenied, Object: r.Method + " " + r.URL.Path, Detail: "账号的范围不完整"})
				writeError(w, http.StatusForbidden, "账号的范围不完整，请联系管理员")
				return
			}
			next.ServeHTTP(w, r.WithContext(withScope(r.Context(), sc)))
		})
	}
}

// require lets through only callers whose scope passes ok; the rest get 403 (recorded, as
// every 403, by api and html).
func (s *Server) require(ok func(auth.Scope) bool, what string, page bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sc := scopeOf(r.Context())
			if !ok(sc) {
				err := forbidden(sc, what)
				if page {
					s.html(func(http.ResponseWriter, *http.Request) error { return err })(w, r)
				} else {
					s.api(func(http.ResponseWriter, *http.Request) error { return err })(w, r)
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// audit records one line for the caller of r; a failure to write it is logged, not fatal.
func (s *Server) audit(r *http.Request, e auth.Entry) {
	sc := scopeOf(r.Context())
	if e.User == "" {
		e.User = sc.User
	}
	if e.Role == "" {
		e.Role = string(sc.Role)
	}
	if e.Scope == "" {
		e.Scope = sc.String()
	}
	e.Remote = clientIP(r)
	// a query text or a file name can hold an ID number or a phone number typed by hand
	e.Detail, e.Object = ingest.MaskSensitive(e.Detail), ingest.MaskSensitive(e.Object)
	if err := s.accounts.Record(r.Context(), e); err != nil {
		s.log.Error("audit", "id", middleware.GetReqID(r.Context()), "err", err)
	}
}

// credentialKind says what a refused request presented, for the audit trail (never the
// credential itself).
func credentialKind(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if strings.HasPrefix(h, "Bearer ") {
			return "API 令牌无效、已吊销或账号已停用"
		}
		return "Authorization 请求头不是 Bearer 令牌"
	}
	if _, err := r.Cookie(sessionCookie); err == nil {
		return "会话无效或已过期"
	}
	return "未提供登录凭据"
}

func clientIP(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// safeNext keeps a post-login redirect on this site: a path, never //host or a scheme.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if u, err := s.identify(r); err == nil && u.Name != "" {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.renderLogin(w, http.StatusOK, "", "", r.URL.Query().Get("next"))
}

func (s *Server) renderLogin(w http.ResponseWriter, code int, msg, user, next string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	s.reports.Render(w, "login", &reports.Page{Name: "login", Title: "登录",
		Extra: map[string]string{"message": msg, "username": user, "next": safeNext(next)}})
}

func (s *Server) loginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.renderLogin(w, http.StatusBadRequest, "请求无效", "", "")
		return
	}
	name, pw, next := strings.TrimSpace(r.PostForm.Get("username")), r.PostForm.Get("password"), r.PostForm.Get("next")
	start := time.Now()
	// A browser that logged in as this name before carries a device cookie for it: the
	// login then has a hash slot kept for it and skips the address bucket (auth/device.go).
	var device string
	if c, err := r.Cookie(auth.DeviceCookie); err == nil {
		device = c.Value
	}
	trusted := ""
	if s.accounts.DeviceTrusted(device, name) {
		trusted = "（受信任设备）"
	}
	tok, u, err := s.accounts.LoginDevice(r.Context(), clientIP(r), name, pw, device)
	if err != nil {
		// Every failure answers alike: the reason goes to the audit trail only.
		reason := "服务器错误"
		var le *auth.LoginError
		if errors.As(err, &le) {
			reason = le.Reason
		} else {
			s.log.Error("login", "err", err)
		}
		e := auth.Entry{User: auditName(name), Role: string(u.Role), Scope: "无", Action: auth.ActLoginFailed, Object: auditName(name),
			Detail: reason + trusted, DurationMS: time.Since(start).Milliseconds()}
		if le != nil && le.Throttled {
			s.auditSampled(r, "login", e)
		} else {
			s.audit(r, e)
		}
		s.renderLogin(w, http.StatusUnauthorized, auth.ErrBadCredentials.Error(), name, next)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil, MaxAge: int(s.accounts.Policy().SessionTTL.Seconds()),
	})
	// Long-lived, sent to /login only, unreadable by scripts: it vouches for the name at
	// the next login from this browser, and grants nothing else.
	http.SetCookie(w, &http.Cookie{
		Name: auth.DeviceCookie, Value: s.accounts.NewDeviceCookie(device, name), Path: "/login", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(s.accounts.Policy().DeviceTTL.Seconds()),
	})
	sc := s.scopeFor(r.Context(), u)
	s.audit(r.WithContext(withScope(r.Context(), sc)), auth.Entry{Action: auth.ActLogin, Object: name, OK: true, Detail: strings.Trim(trusted, "（）")})
	dest := safeNext(next)
	if dest == "/" && sc.Role == auth.RoleSchool {
		dest = "/schools/" + url.PathEscape(sc.School)
	}
	http.Redirect(w, r, dest, http.StatusSeeOther)
}

// auditName is a name typed at the login form as the audit trail keeps it: cut to what an
// account name can be, personal numbers masked (someone may type an ID number there).
func auditName(name string) string {
	if r := []rune(name); len(r) > 64 {
		name = string(r[:64]) + "…"
	}
	return ingest.MaskSensitive(name)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if u, err := s.accounts.Session(r.Context(), c.Value); err == nil {
			s.audit(r.WithContext(withScope(r.Context(), s.scopeFor(r.Context(), u))), auth.Entry{Action: auth.ActLogout, Object: u.Name, OK: true})
		}
		_ = s.accounts.Logout(r.Context(), c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1, Secure: r.TLS != nil})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// viewer is the caller as the page header shows it.
func viewer(sc auth.Scope) *reports.Viewer {
	if !sc.Valid() {
		return nil
	}
	return &reports.Viewer{Name: sc.User, Role: sc.Role.Label(), Scope: sc.String(), School: sc.School,
		CanSQL: sc.CanSQL(), CanUpload: sc.CanUpload(), IsAdmin: sc.IsAdmin()}
}
