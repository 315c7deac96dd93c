package server

import (
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"

	"tisheng/internal/auth"
)

// hostAllowed guards against DNS rebinding: a hostile page whose name resolves to this
// server sends its own name as Host. IP literals and localhost cannot be rebound; other
// names must be listed (--allowed-hosts).
func hostAllowed(host string, allowed map[string]bool) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
	if h == "" {
		return false
	}
	if net.ParseIP(h) != nil || h == "localhost" {
		return true
	}
	return allowed[h]
}

func (s *Server) hostCheck(next http.Handler) http.Handler {
	allowed := map[string]bool{}
	for _, h := range s.cfg.AllowedHosts {
		allowed[strings.ToLower(strings.TrimSpace(h))] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r.Host, allowed) {
			s.log.Warn("foreign host refused", "host", r.Host, "remote", clientIP(r))
			writeError(w, http.StatusMisdirectedRequest, "主机名不在允许列表中（tisheng serve --allowed-hosts）")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy allows scripts and styles from this server only: no inline script,
// no framing. Inline style attributes stay allowed (the charts size themselves with them).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			// pages and files carry personal data: no shared or disk caches
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// crossOrigin refuses state-changing requests that a browser marks as coming from another
// site (Sec-Fetch-Site, else Origin against Host): a hostile page cannot upload, query or
// log a user in or out. Scripts with tokens send neither header and pass.
func (s *Server) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.Warn("cross-origin request refused", "path", r.URL.Path, "origin", r.Header.Get("Origin"), "remote", clientIP(r))
		origin := r.Header.Get("Origin")
		if len(origin) > 200 {
			origin = origin[:200]
		}
		e := auth.Entry{Scope: "无", Action: auth.ActCrossOrigin, Object: r.Method + " " + r.URL.Path,
			Detail: fmt.Sprintf("Sec-Fetch-Site=%q Origin=%q", r.Header.Get("Sec-Fetch-Site"), strings.ToValidUTF8(origin, ""))}
		// Whose browser or script it was, for the audit line only: the request itself is
		// refused whoever sent it (a hostile page rides on its victim's cookie).
		if u, err := s.identify(r); err == nil {
			e.User, e.Role, e.Scope = u.Name, string(u.Role), s.scopeFor(r.Context(), u).String()
		}
		s.auditSampled(r, "cross-origin", e)
		writeError(w, http.StatusForbidden, "拒绝跨站请求")
	}))
	return cop.Handler(next)
}

// staticFiles serves the embedded assets without directory listings.
func staticFiles(fsys fs.FS) http.Handler {
	files := http.FileServer(http.FS(fsys))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" || strings.HasSuffix(name, "/") {
			http.NotFound(w, r)
			return
		}
		if st, err := fs.Stat(fsys, name); err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}
