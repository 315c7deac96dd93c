package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"tisheng/internal/apperr"

	"github.com/go-chi/chi/v5"

	"tisheng/internal/auth"
	"tisheng/queries"
	"tisheng/reports"
)

// unlockAPI clears a name's login throttling: POST /api/admin/users/{name}/unlock. It
// names the addresses whose buckets it cleared (those the name failed from or was refused
// at), so that the admin sees what was opened.
func (s *Server) unlockAPI(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "name")
	addrs, err := s.accounts.Unlock(r.Context(), name)
	e := auth.Entry{Action: auth.ActUser, Object: name, Detail: fmt.Sprintf("unlock %d %s", len(addrs), strings.Join(addrs, " ")), OK: err == nil}
	if err != nil {
		e.Detail = "unlock：" + err.Error()
	}
	s.audit(r, e)
	if errors.Is(err, auth.ErrNoUser) {
		return apperr.Errorf(apperr.NotFound, "%s", err.Error())
	}
	if err != nil {
		return err
	}
	if addrs == nil {
		addrs = []string{}
	}
	return writeJSON(w, map[string]any{"user": name, "addresses_cleared": len(addrs), "addresses": addrs})
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// auditFilter reads ?user=&action=&from=YYYY-MM-DD&to=YYYY-MM-DD (to inclusive).
func auditFilter(v url.Values) (auth.Filter, error) {
	f := auth.Filter{User: v.Get("user"), Action: v.Get("action"), Limit: 500}
	if s := v.Get("from"); s != "" {
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return f, apperr.Errorf(apperr.Invalid, "起始日期应为 YYYY-MM-DD")
		}
		f.From = t
	}
	if s := v.Get("to"); s != "" {
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return f, apperr.Errorf(apperr.Invalid, "截止日期应为 YYYY-MM-DD")
		}
		f.To = t.AddDate(0, 0, 1)
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return f, apperr.Errorf(apperr.Invalid, "limit")
		}
		f.Limit = min(n, 100000)
	}
	return f, nil
}

func (s *Server) adminPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderAdmin(w, r, http.StatusOK, "", "")
}

func (s *Server) renderAdmin(w http.ResponseWriter, r *http.Request, code int, msg, secret string) error {
	us, err := s.accounts.Users(r.Context())
	if err != nil {
		return err
	}
	ts, err := s.accounts.Tokens(r.Context())
	if err != nil {
		return err
	}
	f, err := auditFilter(r.URL.Query())
	if err != nil {
		return err
	}
	f.Limit = 200
	es, err := s.accounts.Audit(r.Context(), f)
	if err != nil {
		return err
	}
	pg := &reports.Page{Name: "admin", Title: "管理", Viewer: viewer(scopeOf(r.Context())),
		Extra: map[string]string{"message": msg, "secret": secret,
			"user": f.User, "action": f.Action, "from": r.URL.Query().Get("from"), "to": r.URL.Query().Get("to"),
			"audit_query": r.URL.Query().Encode()}}
	data := adminData(us, ts, es, s.accounts.Throttled)
	if data.Subs, err = s.subscriptionsData(r.Context(), scopeOf(r.Context()), false); err != nil {
		return err
	}
	data.Backups = s.backupsData()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	return s.reports.RenderAdmin(w, pg, data)
}

// adminData is what the 管理 page lists; throttled counts the addresses from which a name
// cannot log in now.
func adminData(us []auth.User, ts []auth.Token, es []auth.Entry, throttled func(string) int) reports.AdminData {
	var d reports.AdminData
	for _, u := range us {
		scope := "全部"
		if u.School != "" {
			scope = "学校 " + u.School
		} else if u.District != "" {
			scope = "区县 " + u.District
		}
		state := "正常"
		n := throttled(u.Name)
		if u.Disabled {
			state = "已停用"
		} else if n > 0 {
			state = fmt.Sprintf("登录受限（%d 个来源地址多次失败）", n)
		}
		d.Users = append(d.Users, reports.AdminUser{Name: u.Name, Role: u.Role.Label(), Scope: scope, State: state, Disabled: u.Disabled, Throttled: n > 0,
			Created: u.CreatedAt.Local().Format("2006-01-02 15:04")})
	}
	for _, t := range ts {
		d.Tokens = append(d.Tokens, reports.AdminToken{ID: t.ID, User: t.User, Created: t.CreatedAt.Local().Format("2006-01-02 15:04"), Revoked: t.Revoked})
	}
	for _, e := range es {
		d.Audit = append(d.Audit, reports.AdminAudit{At: e.At.Local().Format("2006-01-02 15:04:05"), User: e.User, Scope: e.Scope,
			Action: auth.ActionLabel(e.Action), Object: e.Object, Rows: e.Rows, MS: e.DurationMS, OK: e.OK, Detail: e.Detail, Remote: e.Remote})
	}
	return d
}

// adminUserForm handles the page's forms: add, disable, enable, reset password, make and
// revoke tokens. A new password or token is shown once, on the answer page.
func (s *Server) adminUserForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		return apperr.Errorf(apperr.Invalid, "%v", err)
	}
	f := r.PostForm
	op, name := f.Get("op"), strings.TrimSpace(f.Get("name"))
	ctx := r.Context()
	var msg, secret string
	var err error
	switch op {
	case "add":
		role, perr := auth.ParseRole(f.Get("role"))
		if perr != nil {
			err = perr
			break
		}
		u := auth.User{Name: name, Role: role, District: strings.TrimSpace(f.Get("district")), School: strings.TrimSpace(f.Get("school"))}
		pw := auth.GeneratePassword()
		var warn string
		if warn, err = s.checkKnownScope(ctx, u); err != nil {
			break
		}
		if err = s.accounts.AddUser(ctx, u, pw); err == nil {
			msg, secret = warn+"已创建用户 "+name+"，初始密码（只显示这一次）：", pw
		}
	case "disable", "enable":
		if err = s.accounts.SetDisabled(ctx, name, op == "disable"); err == nil {
			msg = map[string]string{"disable": "已停用 ", "enable": "已启用 "}[op] + name
		}
	case "unlock":
		var addrs []string
		if addrs, err = s.accounts.Unlock(ctx, name); err == nil {
			msg = fmt.Sprintf("已解除 %s 的登录限制（%d 个来源地址）", name, len(addrs))
			if len(addrs) > 0 {
				msg += "：" + strings.Join(addrs, "、")
			}
		}
	case "passwd":
		pw := auth.GeneratePassword()
		if err = s.accounts.SetPassword(ctx, name, pw); err == nil {
			msg, secret = "已重置 "+name+" 的密码（只显示这一次）：", pw
		}
	case "token":
		var tok string
		if _, tok, err = s.accounts.AddToken(ctx, name); err == nil {
			msg, secret = "已为 "+name+" 创建 API 令牌（只显示这一次）：", tok
		}
	case "revoke":
		if err = s.accounts.RevokeToken(ctx, f.Get("token")); err == nil {
			msg = "已吊销令牌 " + f.Get("token")
		}
	default:
		return apperr.Errorf(apperr.Invalid, "未知操作")
	}
	action := auth.ActUser
	if op == "token" || op == "revoke" {
		action = auth.ActToken
	}
	e := auth.Entry{Action: action, Object: name + f.Get("token"), Detail: op, OK: err == nil}
	if err != nil {
		e.Detail = op + "：" + err.Error()
	}
	s.audit(r, e)
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, auth.ErrNoUser) {
			code = http.StatusNotFound
		}
		return s.renderAdmin(w, r, code, "操作失败："+err.Error(), "")
	}
	return s.renderAdmin(w, r, http.StatusOK, msg, secret)
}

// checkKnownScope refuses a district or school the loaded school lists do not name; before
// any school list is loaded it returns a warning for the answer instead.
func (s *Server) checkKnownScope(ctx context.Context, u auth.User) (string, error) {
	l, err := s.wh.SchoolLists(ctx)
	if err != nil {
		return "", err
	}
	err = auth.CheckKnownScope(u, l.Districts, l.Schools)
	if errors.Is(err, auth.ErrNoSchoolList) {
		return "注意：" + err.Error() + "；导入学校信息后请核对这个账号的范围。", nil
	}
	return "", err
}

// auditDownload is the filtered audit trail as a workbook.
func (s *Server) auditDownload(w http.ResponseWriter, r *http.Request) error {
	f, err := auditFilter(r.URL.Query())
	if err != nil {
		return err
	}
	if r.URL.Query().Get("limit") == "" {
		f.Limit = 100000
	}
	es, err := s.accounts.Audit(r.Context(), f)
	if err != nil {
		return err
	}
	res := &queries.Result{Columns: []queries.Column{
		{Name: "seq", Type: "BIGINT", Label: "序号"}, {Name: "at", Type: "VARCHAR", Label: "时间"},
		{Name: "user", Type: "VARCHAR", Label: "用户"}, {Name: "role", Type: "VARCHAR", Label: "角色"},
		{Name: "scope", Type: "VARCHAR", Label: "范围"}, {Name: "action", Type: "VARCHAR", Label: "操作"},
		{Name: "object", Type: "VARCHAR", Label: "对象"}, {Name: "rows", Type: "BIGINT", Label: "行数"},
		{Name: "ms", Type: "BIGINT", Label: "耗时（毫秒）"}, {Name: "ok", Type: "VARCHAR", Label: "结果"},
		{Name: "detail", Type: "VARCHAR", Label: "详情"}, {Name: "remote", Type: "VARCHAR", Label: "来源地址"},
	}}
	for _, e := range es {
		ok := "成功"
		if !e.OK {
			ok = "失败"
		}
		role := e.Role
		if role != "" {
			role = auth.Role(role).Label()
		}
		res.Rows = append(res.Rows, []any{e.Seq, e.At.Local().Format("2006-01-02 15:04:05"), e.User, role, e.Scope,
			auth.ActionLabel(e.Action), e.Object, e.Rows, e.DurationMS, ok, e.Detail, e.Remote})
	}
	name := "审计日志_" + time.Now().Format("20060102") + ".xlsx"
	wb := reports.NewWorkbook(name, len(res.Rows), func(w2 interface{ Write([]byte) (int, error) }) error {
		return queries.WriteXLSX(w2, "审计日志", "审计日志", res)
	})
	return s.send(w, r, "审计日志", queries.Params{}, wb)
}

// statusTitle is an error page's Chinese title.
func statusTitle(code int) string {
	switch code {
	case http.StatusNotFound:
		return "页面不存在"
	case http.StatusForbidden:
		return "无权访问"
	case http.StatusBadRequest:
		return "请求有误"
	case http.StatusUnauthorized:
		return "请先登录"
	case http.StatusRequestEntityTooLarge:
		return "上传内容过大"
	case http.StatusServiceUnavailable, http.StatusRequestTimeout:
		return "请稍后再试"
	}
	return "出错了"
}
