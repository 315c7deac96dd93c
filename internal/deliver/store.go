package deliver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Subscription is one subscription as listed (never its destination's secrets).
type Subscription struct {
	ID         int64     `json:"id"`
	User       string    `json:"user"`
	Report     string    `json:"report"`
	School     string    `json:"school,omitempty"`
	Schedule   string    `json:"schedule"`
	SinceMonth string    `json:"since_month,omitempty"`
	Channel    string    `json:"channel"`
	Target     string    `json:"target"` // masked
	HasSecret  bool      `json:"has_secret"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`

	sealedTarget, sealedSecret string
}

// Delivery statuses.
const (
	StatusPending   = "pending"   // recorded, not yet tried
	StatusSending   = "sending"   // a message is on its way (the remote has not answered yet)
	StatusRetry     = "retry"     // an attempt failed; tried again at next_at
	StatusSent      = "sent"      // every message acknowledged
	StatusFailed    = "failed"    // given up: a permanent refusal or too many attempts
	StatusUncertain = "uncertain" // the process stopped while a message was on its way: it may have arrived
	StatusStopped   = "stopped"   // the recipient was disabled or the subscription removed before it went out
)

var statusLabels = map[string]string{StatusPending: "待发送", StatusSending: "发送中", StatusRetry: "等待重试", StatusSent: "已发送",
	StatusFailed: "失败", StatusUncertain: "状态不明（发送时服务中断，可能已送达）", StatusStopped: "已停止"}

// StatusLabel is a status in Chinese.
func StatusLabel(s string) string {
	if l, ok := statusLabels[s]; ok {
		return l
	}
	return s
}

// Delivery is one recorded delivery.
type Delivery struct {
	ID           int64     `json:"id"`
	Subscription int64     `json:"subscription_id"`
	Period       string    `json:"period"`
	User         string    `json:"user"`
	Report       string    `json:"report"`
	Month        string    `json:"month"`
	Scope        string    `json:"scope"`
	Channel      string    `json:"channel"`
	Target       string    `json:"target"`
	Status       string    `json:"status"`
	StepsDone    int       `json:"steps_done"`
	Attempts     int       `json:"attempts"`
	NextAt       time.Time `json:"next_at"`
	Error        string    `json:"error,omitempty"`
	FileName     string    `json:"file_name,omitempty"`
	Bytes        int64     `json:"bytes,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	SentAt       time.Time `json:"sent_at,omitzero"`
}

// store is the two tables. Writes go through one mutex: the scheduler's workers and the
// pages' forms update the same rows, and DuckDB refuses concurrent updates of one row.
type store struct {
	db   *sql.DB
	now  func() time.Time
	lock chan struct{}
}

func newStore(db *sql.DB, now func() time.Time) *store {
	return &store{db: db, now: now, lock: make(chan struct{}, 1)}
}

func (s *store) write(ctx context.Context, fn func() error) error {
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.lock }()
	return fn()
}

const subCols = `id, user_name, report, coalesce(school, ''), schedule, coalesce(since_month, ''), channel, target_masked,
	target_sealed, coalesce(secret_sealed, ''), created_by, created_at`

func scanSub(r interface{ Scan(...any) error }) (Subscription, error) {
	var s Subscription
	err := r.Scan(&s.ID, &s.User, &s.Report, &s.School, &s.Schedule, &s.SinceMonth, &s.Channel, &s.Target,
		&s.sealedTarget, &s.sealedSecret, &s.CreatedBy, &s.CreatedAt)
	s.HasSecret = s.sealedSecret != ""
	return s, err
}

func (s *store) insertSub(ctx context.Context, sub Subscription) (int64, error) {
	var id int64
	err := s.write(ctx, func() error {
		if err := s.db.QueryRowContext(ctx, `SELECT nextval('subscription_seq')`).Scan(&id); err != nil {
			return err
		}
		_, err := s.db.ExecContext(ctx, `INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)`,
			id, sub.User, sub.Report, nullable(sub.School), sub.Schedule, nullable(sub.SinceMonth), sub.Channel, sub.Target,
			sub.sealedTarget, nullable(sub.sealedSecret), sub.CreatedBy, sub.CreatedAt)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("deliver: add subscription: %w", err)
	}
	return id, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// subscriptions lists the live subscriptions, of one user when user is set.
func (s *store) subscriptions(ctx context.Context, user string) ([]Subscription, error) {
	q := `SELECT ` + subCols + ` FROM subscriptions WHERE removed_at IS NULL`
	var args []any
	if user != "" {
		q += ` AND user_name = ?`
		args = append(args, user)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("deliver: subscriptions: %w", err)
	}
	defer rows.Close()
	var out []Subscription
	for rows.Next() {
		sub, err := scanSub(rows)
		if err != nil {
			return nil, fmt.Errorf("deliver: subscriptions: %w", err)
		}
		out = append(out, sub)
	}
	return out, rows.Err()
}

// ErrNoSubscription is an id that names no live subscription (of that user).
var ErrNoSubscription = errors.New("没有这个订阅")

// subscription reads one subscription, removed or not (a delivery outlives its removal).
func (s *store) subscription(ctx context.Context, id int64) (Subscription, bool, error) {
	var removed sql.NullTime
	row := s.db.QueryRowContext(ctx, `SELECT `+subCols+`, removed_at FROM subscriptions WHERE id = ?`, id)
	sub, err := scanSub(&scanPlus{row, &removed})
	if errors.Is(err, sql.ErrNoRows) {
		return sub, false, fmt.Errorf("%w：#%d", ErrNoSubscription, id)
	}
	if err != nil {
		return sub, false, fmt.Errorf("deliver: %w", err)
	}
	return sub, removed.Valid, nil
}

type scanPlus struct {
	row   *sql.Row
	extra any
}

func (p *scanPlus) Scan(dest ...any) error { return p.row.Scan(append(dest, p.extra)...) }

// removeSub marks a subscription removed; owner, when set, must be its recipient.
func (s *store) removeSub(ctx context.Context, id int64, owner, by string) error {
	return s.write(ctx, func() error {
		q := `UPDATE subscriptions SET removed_at = ?, removed_by = ? WHERE id = ? AND removed_at IS NULL`
		args := []any{s.now(), by, id}
		if owner != "" {
			q += ` AND user_name = ?`
			args = append(args, owner)
		}
		res, err := s.db.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("deliver: remove subscription: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w：#%d", ErrNoSubscription, id)
		}
		return nil
	})
}

const delCols = `id, subscription_id, period, user_name, report, month, scope, channel, target_masked, status, steps_done,
	attempts, next_at, coalesce(error, ''), coalesce(file_name, ''), coalesce(bytes, 0), created_at, updated_at, sent_at`

func scanDelivery(r interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	var sent sql.NullTime
	err := r.Scan(&d.ID, &d.Subscription, &d.Period, &d.User, &d.Report, &d.Month, &d.Scope, &d.Channel, &d.Target, &d.Status,
		&d.StepsDone, &d.Attempts, &d.NextAt, &d.Error, &d.FileName, &d.Bytes, &d.CreatedAt, &d.UpdatedAt, &sent)
	if sent.Valid {
		d.SentAt = sent.Time
	}
	return d, err
}

// record writes a delivery for (subscription, period) unless one is there: the key that
// makes every period go out once. It reports whether it wrote one.
func (s *store) record(ctx context.Context, d Delivery) (bool, error) {
	wrote := false
	err := s.write(ctx, func() error {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM deliveries WHERE subscription_id = ? AND period = ?`, d.Subscription, d.Period).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		now := s.now()
		// due at the time of the pass that recorded it (a pass may run at another time: --at)
		_, err := s.db.ExecContext(ctx, `INSERT INTO deliveries VALUES (nextval('delivery_seq'), ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, NULL, NULL, NULL, ?, ?, NULL)`,
			d.Subscription, d.Period, d.User, d.Report, d.Month, d.Scope, d.Channel, d.Target, StatusPending, d.NextAt, now, now)
		wrote = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("deliver: record: %w", err)
	}
	return wrote, nil
}

// lastPeriods gives each subscription's latest scheduled period recorded.
func (s *store) lastPeriods(ctx context.Context) (map[int64]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT subscription_id, max(period) FROM deliveries WHERE period LIKE '____-__-__ __:__' GROUP BY 1`)
	if err != nil {
		return nil, fmt.Errorf("deliver: %w", err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var p string
		if err := rows.Scan(&id, &p); err != nil {
			return nil, err
		}
		out[id] = p
	}
	return out, rows.Err()
}

// hasPeriod reports whether (subscription, period) is recorded.
func (s *store) hasPeriod(ctx context.Context, sub int64, period string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM deliveries WHERE subscription_id = ? AND period = ?`, sub, period).Scan(&n)
	return n > 0, err
}

// due lists the deliveries to try at now, oldest first.
func (s *store) due(ctx context.Context, now time.Time, limit int) ([]Delivery, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+delCols+` FROM deliveries WHERE status IN (?, ?) AND next_at <= ? ORDER BY next_at, id LIMIT ?`,
		StatusPending, StatusRetry, now, limit)
	if err != nil {
		return nil, fmt.Errorf("deliver: due: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeliveryFilter selects deliveries to list.
type DeliveryFilter struct {
	User   string
	Status []string
	Limit  int
}

func (s *store) deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error) {
	q := `SELECT ` + delCols + ` FROM deliveries WHERE true`
	var args []any
	if f.User != "" {
		q += ` AND user_name = ?`
		args = append(args, f.User)
	}
	if len(f.Status) > 0 {
		q += ` AND status IN (?` + strings.Repeat(", ?", len(f.Status)-1) + `)`
		for _, st := range f.Status {
			args = append(args, st)
		}
	}
	if f.Limit <= 0 || f.Limit > 10000 {
		f.Limit = 200
	}
	q += fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("deliver: deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (s *store) delivery(ctx context.Context, id int64) (Delivery, error) {
	d, err := scanDelivery(s.db.QueryRowContext(ctx, `SELECT `+delCols+` FROM deliveries WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("没有投递 #%d", id)
	}
	return d, err
}

// update sets columns of one delivery (and updated_at).
func (s *store) update(ctx context.Context, id int64, set map[string]any) error {
	// a crash mid-delivery must not lose the write: it is not tied to the request or the
	// scheduler's context
	ctx = context.WithoutCancel(ctx)
	return s.write(ctx, func() error {
		cols := []string{"updated_at = ?"}
		args := []any{s.now()}
		for _, c := range []string{"status", "steps_done", "attempts", "next_at", "error", "file_name", "bytes", "scope", "sent_at"} {
			if v, ok := set[c]; ok {
				cols = append(cols, c+" = ?")
				args = append(args, v)
			}
		}
		args = append(args, id)
		_, err := s.db.ExecContext(ctx, `UPDATE deliveries SET `+strings.Join(cols, ", ")+` WHERE id = ?`, args...)
		if err != nil {
			return fmt.Errorf("deliver: update #%d: %w", id, err)
		}
		return nil
	})
}

// orphans marks the deliveries a stopped process left on their way: whether their message
// arrived is unknown, so they are not sent again by themselves (an admin can resend).
func (s *store) orphans(ctx context.Context) (int64, error) {
	var n int64
	err := s.write(ctx, func() error {
		res, err := s.db.ExecContext(ctx, `UPDATE deliveries SET status = ?, updated_at = ?,
			error = '服务在发送途中停止：对方可能已收到，未自动重发（确认未收到后可在管理页面重新发送）' WHERE status = ?`,
			StatusUncertain, s.now(), StatusSending)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}
