package auth

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Entry is one line of the audit trail.
type Entry struct {
	Seq        int64     `json:"seq"`
	At         time.Time `json:"at"`
	User       string    `json:"user"`
	Role       string    `json:"role"`
	Scope      string    `json:"scope"`
	Action     string    `json:"action"`
	Object     string    `json:"object"`
	Rows       int64     `json:"rows"`
	DurationMS int64     `json:"duration_ms"`
	OK         bool      `json:"ok"`
	Detail     string    `json:"detail"`
	Remote     string    `json:"remote"`
}

// Audit actions.
const (
	ActLogin       = "login"
	ActLoginFailed = "login_failed"
	ActLogout      = "logout"
	ActDownload    = "download"
	ActSQL         = "sql"
	ActUpload      = "upload"
	ActUser        = "user"
	ActToken       = "token"
	ActRefresh     = "refresh"
	ActBatchRemove = "batch_rm"
	ActDenied      = "denied"
	// ActUnauthorized is a request without a valid login (401); ActCrossOrigin a
	// state-changing request another site's page sent.
	ActUnauthorized = "unauthorized"
	ActCrossOrigin  = "cross_origin"
	// reports delivered by subscription (internal/deliver)
	ActSubscription = "subscription"
	ActDelivery     = "delivery"
	ActLink         = "link"
	// a backup of the warehouse, taken by an admin or on the schedule (serve --backup-at)
	ActBackup = "backup"
)

// ActionLabel is an action's Chinese name.
func ActionLabel(a string) string {
	switch a {
	case ActLogin:
		return "登录"
	case ActLoginFailed:
		return "登录失败"
	case ActLogout:
		return "退出"
	case ActDownload:
		return "下载"
	case ActSQL:
		return "SQL 查询"
	case ActUpload:
		return "上传"
	case ActUser:
		return "用户变更"
	case ActToken:
		return "令牌变更"
	case ActRefresh:
		return "重新计算"
	case ActBatchRemove:
		return "撤回批次"
	case ActDenied:
		return "拒绝访问"
	case ActUnauthorized:
		return "未登录访问"
	case ActCrossOrigin:
		return "拒绝跨站请求"
	case ActSubscription:
		return "订阅变更"
	case ActDelivery:
		return "报表投递"
	case ActLink:
		return "链接下载"
	case ActBackup:
		return "备份"
	}
	return a
}

// maxDetail bounds what one audit line keeps of a query text or a message.
const maxDetail = 8000

// Record appends one line to the audit trail. The trail is append-only: nothing in the
// program updates or deletes it.
func (s *Store) Record(ctx context.Context, e Entry) error {
	if e.At.IsZero() {
		e.At = s.now()
	}
	if len(e.Detail) > maxDetail {
		e.Detail = strings.ToValidUTF8(e.Detail[:maxDetail], "") + "…"
	}
	if len(e.Object) > 1000 {
		e.Object = strings.ToValidUTF8(e.Object[:1000], "") + "…"
	}
	// A request's context may already be ending (a client gone mid-download); the line is
	// still worth writing.
	ctx = context.WithoutCancel(ctx)
	_, err := s.db.ExecContext(ctx, `INSERT INTO audit VALUES (nextval('audit_seq'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.At, nullable(e.User), nullable(e.Role), nullable(e.Scope), e.Action, nullable(e.Object),
		e.Rows, e.DurationMS, e.OK, nullable(e.Detail), nullable(e.Remote))
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Filter selects audit lines; empty fields match everything.
type Filter struct {
	User   string
	Action string
	From   time.Time // inclusive
	To     time.Time // exclusive
	Limit  int
}

// Audit lists audit lines, newest first.
func (s *Store) Audit(ctx context.Context, f Filter) ([]Entry, error) {
	q := `SELECT seq, "at", coalesce(user_name, ''), coalesce(role, ''), coalesce(scope, ''), action, coalesce(object, ''),
		coalesce(rows, 0), coalesce(duration_ms, 0), ok, coalesce(detail, ''), coalesce(remote, '') FROM audit WHERE true`
	var args []any
	if f.User != "" {
		q += ` AND user_name = ?`
		args = append(args, f.User)
	}
	if f.Action != "" {
		q += ` AND action = ?`
		args = append(args, f.Action)
	}
	if !f.From.IsZero() {
		q += ` AND "at" >= ?`
		args = append(args, f.From)
	}
	if !f.To.IsZero() {
		q += ` AND "at" < ?`
		args = append(args, f.To)
	}
	q += ` ORDER BY seq DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer rows.Close()
	var es []Entry
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.Seq, &e.At, &e.User, &e.Role, &e.Scope, &e.Action, &e.Object, &e.Rows, &e.DurationMS, &e.OK, &e.Detail, &e.Remote); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		es = append(es, e)
	}
	return es, rows.Err()
}
