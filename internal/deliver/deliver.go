// Package deliver sends reports to the people who subscribed to them: by email (SMTP) and
// to 企业微信 and 钉钉 group robots, on a schedule or after the refresh that brings a new
// month. Every delivery is built exactly as if its recipient had downloaded it, under the
// recipient's own scope as it is at that moment (the server resolves it: Builder), never
// under the scope of whoever made the subscription.
//
// Each delivery is recorded before anything is sent, with one key per subscription and
// period, and moves pending → sending → sent. The row says sending only while a message's
// last byte is on its way: a process that stops before that resumes the delivery when it
// starts again, and one that stops during it leaves the delivery marked uncertain (it may
// have arrived) for an admin to decide, rather than sending it twice. Failures are tried
// again with growing pauses and shown on the 管理 page.
package deliver

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"tisheng/internal/auth"
	"tisheng/internal/metrics"
	"tisheng/internal/reportkind"
	"tisheng/queries"
)

// Builder builds reports under a scope: the server, whose downloads build the same way.
type Builder interface {
	// Recipient is a user's scope as it is now; an unknown or disabled user is an error.
	Recipient(ctx context.Context, user string) (auth.Scope, error)
	// Report builds a report kind for sc exactly as its download does, with the headline
	// figures a message carries when asked.
	Report(ctx context.Context, sc auth.Scope, kind string, p queries.Params, headline bool) (*reportkind.Result, error)
	// Check says whether sc may receive the kind with p (its school in the scope), without
	// building it.
	Check(ctx context.Context, sc auth.Scope, kind string, p queries.Params) error
	// Permanent says whether a build error will stay (refused, not found) rather than pass.
	Permanent(err error) bool
}

// Config is how deliveries go out.
type Config struct {
	SMTP SMTP
	// PublicURL is the server's address as recipients reach it (https://tisheng.example.cn):
	// messages link to its pages and signed downloads. 钉钉 needs it (no file messages).
	PublicURL string
	// LinkTTL is how long a signed download link works (default 7 days).
	LinkTTL time.Duration
	// RobotHosts are robot hosts allowed besides the official ones (a private relay; tests).
	RobotHosts []string
	// Key is the warehouse key (ingest.LoadKey): links are signed, and destinations sealed,
	// with keys derived from it.
	Key []byte
	// Workers bounds the deliveries built and sent at once (default 2): a build takes
	// cores the pages need too.
	Workers int
	// AttemptTimeout bounds one attempt, building and sending (default 5 minutes).
	AttemptTimeout time.Duration
	// Poll is how often the scheduler looks for due deliveries (default 30 s).
	Poll time.Duration
	// MaxAttachment: a larger file goes by signed link instead (default 10 MB; office mail
	// servers often refuse 10–20 MB).
	MaxAttachment int64
	// Backoff are the pauses after each failed attempt; after the last, the delivery fails.
	Backoff []time.Duration
	// HTTP is the client robots are called with (default: 30 s timeout).
	HTTP *http.Client
	// Now is the clock (tests).
	Now func() time.Time
	// Metrics counts the attempts by channel and how they ended (nil: none).
	Metrics *metrics.Metrics
}

// DefaultBackoff: five tries over about eight hours.
var DefaultBackoff = []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour}

// MaxPerUser bounds one recipient's subscriptions.
const MaxPerUser = 20

// DefaultLinkTTL is a week.
const DefaultLinkTTL = 7 * 24 * time.Hour

func (c *Config) defaults() {
	if c.LinkTTL <= 0 {
		c.LinkTTL = DefaultLinkTTL
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = 5 * time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = 30 * time.Second
	}
	if c.MaxAttachment <= 0 {
		c.MaxAttachment = 10 << 20
	}
	if len(c.Backoff) == 0 {
		c.Backoff = DefaultBackoff
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
}

// Service keeps the subscriptions of one warehouse and delivers them.
type Service struct {
	cfg      Config
	db       *sql.DB
	st       *store
	accounts *auth.Store
	b        Builder
	log      *slog.Logger
	seal     *sealer
	links    *linkSigner
	limit    *limiter

	mu       sync.Mutex
	inflight map[int64]bool
	slots    chan struct{}
	wg       sync.WaitGroup
	kick     chan struct{}

	hooks hooks
}

// hooks stop a delivery at a point, as a crash would (tests of exactly-once).
type hooks struct {
	afterRecord func() bool                     // after the due deliveries are recorded, before any is tried
	atCommit    func(d Delivery, step int) bool // after "sending" is recorded, before the message's last byte
	afterAck    func(d Delivery, step int) bool // after the remote acknowledged, before that is recorded
}

// errCrashed is a hook's stop: nothing more is written, as after a kill.
var errCrashed = errors.New("deliver: stopped by a test hook")

// New makes the service over a migrated warehouse.
func New(cfg Config, db *sql.DB, accounts *auth.Store, b Builder, log *slog.Logger) (*Service, error) {
	cfg.defaults()
	if err := cfg.SMTP.Check(); err != nil {
		return nil, err
	}
	sl, err := newSealer(cfg.Key)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, db: db, accounts: accounts, b: b, log: log, seal: sl,
		links:    &linkSigner{key: derive(cfg.Key, "deliver links v1"), now: cfg.Now},
		limit:    newLimiter(time.Now), // the robots count real minutes, whatever --at says
		inflight: map[int64]bool{}, slots: make(chan struct{}, cfg.Workers), kick: make(chan struct{}, 1)}
	s.st = newStore(db, func() time.Time { return cfg.Now().UTC() })
	return s, nil
}

// --- subscriptions ---------------------------------------------------------------------

// NewSubscription is what a form or the command line asks for.
type NewSubscription struct {
	User     string // the recipient
	Report   string // a kind
	School   string
	Schedule string // cron, new-month, or "" for DefaultSchedule
	To       string // email:…, wecom:…, dingtalk:…
	Secret   string // a 钉钉 robot's signing secret (SEC…)
}

// Actor is who makes a change, for the audit trail.
type Actor struct {
	Name, Role, Scope string
}

// Add checks and stores a subscription. Whether the actor may subscribe that user is the
// caller's decision (the admin anyone, a user themselves); whether the user may receive the
// report is decided here, under the user's scope.
func (s *Service) Add(ctx context.Context, n NewSubscription, by Actor) (sub Subscription, err error) {
	defer func() {
		d := fmt.Sprintf("新增订阅：%s %s → %s %s", n.User, n.Report, strings.SplitN(n.To, ":", 2)[0], sub.Target)
		if err != nil {
			d += "：" + err.Error()
		}
		s.audit(ctx, auth.Entry{User: by.Name, Role: by.Role, Scope: by.Scope, Action: auth.ActSubscription, Object: fmt.Sprintf("#%d", sub.ID), Detail: d, OK: err == nil})
	}()
	n.User = strings.TrimSpace(n.User)
	k, ok := reportkind.Get(n.Report)
	if !ok {
		return sub, fmt.Errorf("没有报表「%s」（可选 %s）", n.Report, reportkind.Describe())
	}
	u, err := s.accounts.User(ctx, n.User)
	if err != nil {
		return sub, err
	}
	if u.Disabled {
		return sub, fmt.Errorf("用户 %s 已停用", n.User)
	}
	sc, err := s.b.Recipient(ctx, n.User)
	if err != nil {
		return sub, err
	}
	if !k.May(sc) {
		return sub, fmt.Errorf("%s（%s）不能接收%s", n.User, sc.String(), k.Label)
	}
	n.School = strings.TrimSpace(n.School)
	switch {
	case k.School && n.School == "" && sc.School != "":
		n.School = sc.School
	case k.School && n.School == "":
		return sub, fmt.Errorf("%s需要学校代码", k.Label)
	case !k.School && n.School != "":
		return sub, fmt.Errorf("%s不按学校订阅，请不要填学校代码", k.Label)
	}
	if n.Schedule == "" {
		n.Schedule = DefaultSchedule
	}
	sched, err := parseSchedule(n.Schedule)
	if err != nil {
		return sub, err
	}
	dest, err := ParseDest(n.To, s.cfg.RobotHosts)
	if err != nil {
		return sub, err
	}
	n.Secret = strings.TrimSpace(n.Secret)
	if n.Secret != "" && dest.Channel != ChanDingTalk {
		return sub, errors.New("加签密钥只用于钉钉群机器人")
	}
	if len(n.Secret) > 256 || strings.ContainsAny(n.Secret, " \t\r\n") {
		return sub, errors.New("加签密钥无效")
	}
	if err := s.b.Check(ctx, sc, k.Name, queries.Params{School: n.School}); err != nil {
		return sub, err
	}
	// each subscription builds a report under its recipient's scope: a bound per user
	if have, err := s.st.subscriptions(ctx, n.User); err != nil {
		return sub, err
	} else if len(have) >= MaxPerUser {
		return sub, fmt.Errorf("%s 已有 %d 个订阅，已达上限", n.User, len(have))
	}
	now := s.cfg.Now().UTC()
	sub = Subscription{User: n.User, Report: k.Name, School: n.School, Schedule: sched.spec, Channel: dest.Channel, Target: dest.Masked(),
		HasSecret: n.Secret != "", CreatedBy: by.Name, CreatedAt: now,
		sealedTarget: s.seal.seal(dest.Address, "target"), sealedSecret: s.seal.seal(n.Secret, "secret")}
	if sched.newMonth {
		sub.SinceMonth, err = s.latestMonth(ctx, now)
		if err != nil {
			return sub, err
		}
	}
	sub.ID, err = s.st.insertSub(ctx, sub)
	return sub, err
}

// Subscriptions lists the live subscriptions (of one user when user is set).
func (s *Service) Subscriptions(ctx context.Context, user string) ([]Subscription, error) {
	return s.st.subscriptions(ctx, user)
}

// Remove ends a subscription; owner, when set, must be its recipient (a user's own page).
// Its deliveries not yet sent stop.
func (s *Service) Remove(ctx context.Context, id int64, owner string, by Actor) error {
	err := s.st.removeSub(ctx, id, owner, by.Name)
	d := "删除订阅"
	if err != nil {
		d += "：" + err.Error()
	}
	s.audit(ctx, auth.Entry{User: by.Name, Role: by.Role, Scope: by.Scope, Action: auth.ActSubscription, Object: fmt.Sprintf("#%d", id), Detail: d, OK: err == nil})
	return err
}

// Deliveries lists recorded deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error) {
	return s.st.deliveries(ctx, f)
}

// Resend puts a failed, uncertain or stopped delivery back in the queue (an admin's
// decision: an uncertain one may already have arrived).
func (s *Service) Resend(ctx context.Context, id int64, by Actor) error {
	d, err := s.st.delivery(ctx, id)
	if err == nil {
		switch d.Status {
		case StatusFailed, StatusUncertain, StatusStopped:
			// due at once, whatever clock the next pass runs by
			err = s.st.update(ctx, id, map[string]any{"status": StatusPending, "attempts": 0, "next_at": time.Time{}, "error": nil})
		default:
			err = fmt.Errorf("投递 #%d 的状态是「%s」，不需要重新发送", id, StatusLabel(d.Status))
		}
	}
	detail := "重新发送"
	if err != nil {
		detail += "：" + err.Error()
	}
	s.audit(ctx, auth.Entry{User: by.Name, Role: by.Role, Scope: by.Scope, Action: auth.ActDelivery, Object: fmt.Sprintf("投递 #%d", id), Detail: detail, OK: err == nil})
	if err == nil {
		s.Kick()
	}
	return err
}

// --- the scheduler -----------------------------------------------------------------------

// Kick asks the scheduler to look now (a refresh may have brought a new month).
func (s *Service) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run delivers in the background until ctx ends: every Poll, and at once after a Kick.
// Nothing here holds a page: a mail server that does not answer keeps one worker waiting
// for its timeout, and the deliveries wait their turn.
func (s *Service) Run(ctx context.Context) {
	if n, err := s.st.orphans(ctx); err != nil {
		s.log.Error("deliver: startup", "err", err)
	} else if n > 0 {
		s.log.Warn("deliver: deliveries left on their way by a stopped process are marked uncertain", "n", n)
	}
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		now := s.cfg.Now()
		if _, err := s.recordDue(ctx, now, false); err != nil && ctx.Err() == nil {
			s.log.Error("deliver: scheduling", "err", err)
		}
		s.dispatch(ctx, now, false)
		select {
		case <-ctx.Done():
			// a message on its way is finished and recorded, not cut off: the attempts
			// run detached from ctx, bounded by AttemptTimeout
			s.wg.Wait()
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}

// Summary is what one pass did.
type Summary struct {
	Recorded  int
	Sent      int
	Retry     int
	Failed    int
	Uncertain int
	Stopped   int
}

// RunOnce is `tisheng deliver`: one pass at the time at, as the scheduler makes it, waiting
// for every attempt. explicit: at was given, and a scheduled time exactly at it is due
// even for a subscription made later (a script or a test names the time it means).
func (s *Service) RunOnce(ctx context.Context, at time.Time, explicit bool) (Summary, error) {
	var sum Summary
	if _, err := s.st.orphans(ctx); err != nil {
		return sum, err
	}
	n, err := s.recordDue(ctx, at, explicit)
	sum.Recorded = n
	if err != nil {
		return sum, err
	}
	if s.hooks.afterRecord != nil && s.hooks.afterRecord() {
		return sum, errCrashed
	}
	res := s.dispatch(ctx, at, true)
	for _, st := range res {
		switch st {
		case StatusSent:
			sum.Sent++
		case StatusRetry:
			sum.Retry++
		case StatusFailed:
			sum.Failed++
		case StatusUncertain:
			sum.Uncertain++
		case StatusStopped:
			sum.Stopped++
		}
	}
	return sum, nil
}

// latestMonth is the latest month with figures at now (none before the first refresh).
func (s *Service) latestMonth(ctx context.Context, now time.Time) (string, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = 'months'`).Scan(&n); err != nil || n == 0 {
		return "", err
	}
	var m sql.NullString
	if err := s.db.QueryRowContext(ctx, `SELECT max(month) FROM months WHERE month <= ?`, now.In(zone).Format("2006-01")).Scan(&m); err != nil {
		return "", fmt.Errorf("deliver: months: %w", err)
	}
	return m.String, nil
}

// recordDue records the deliveries due at now: for a schedule, its latest time since the
// subscription began (or since its last recorded one) up to now; for new-month, the latest
// month with figures when later than the one it last had. A disabled recipient's
// subscriptions record nothing.
func (s *Service) recordDue(ctx context.Context, now time.Time, explicit bool) (int, error) {
	subs, err := s.st.subscriptions(ctx, "")
	if err != nil || len(subs) == 0 {
		return 0, err
	}
	month, err := s.latestMonth(ctx, now)
	if err != nil || month == "" {
		return 0, err // nothing to report yet
	}
	last, err := s.st.lastPeriods(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, sub := range subs {
		u, err := s.accounts.User(ctx, sub.User)
		if err != nil || u.Disabled {
			continue
		}
		sched, err := parseSchedule(sub.Schedule)
		if err != nil {
			s.log.Error("deliver: a stored schedule does not parse", "subscription", sub.ID, "err", err)
			continue
		}
		var period string
		if sched.newMonth {
			if month <= sub.SinceMonth {
				continue
			}
			period = month
		} else {
			after := sub.CreatedAt
			if p, ok := parsePeriod(last[sub.ID]); ok && p.After(after) {
				after = p
			}
			t := sched.lastTick(after, now)
			if t.IsZero() && explicit && sched.at(now) {
				t = now.In(zone).Truncate(time.Minute)
			}
			if t.IsZero() {
				continue
			}
			period = periodOf(t)
		}
		scope := "—"
		if sc, err := s.b.Recipient(ctx, sub.User); err == nil {
			scope = sc.String()
		}
		wrote, err := s.st.record(ctx, Delivery{Subscription: sub.ID, Period: period, User: sub.User, Report: sub.Report, Month: month,
			Scope: scope, Channel: sub.Channel, Target: sub.Target, NextAt: now.UTC()})
		if err != nil {
			return n, err
		}
		if wrote {
			n++
		}
	}
	return n, nil
}

// dispatch starts the due deliveries not already on their way, as workers allow; with wait
// it waits for a worker for each and for all of them to finish, and returns their ends.
func (s *Service) dispatch(ctx context.Context, now time.Time, wait bool) map[int64]string {
	ds, err := s.st.due(ctx, now.UTC(), 200)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("deliver: due", "err", err)
		}
		return nil
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ends := map[int64]string{}
	for _, d := range ds {
		s.mu.Lock()
		busy := s.inflight[d.ID]
		s.mu.Unlock()
		if busy {
			continue
		}
		if wait {
			select {
			case s.slots <- struct{}{}:
			case <-ctx.Done():
				wg.Wait()
				return ends
			}
		} else {
			select {
			case s.slots <- struct{}{}:
			default:
				return ends // every worker busy: the next pass goes on
			}
		}
		s.mu.Lock()
		s.inflight[d.ID] = true
		s.mu.Unlock()
		wg.Add(1)
		s.wg.Add(1)
		go func(d Delivery) {
			defer func() {
				s.mu.Lock()
				delete(s.inflight, d.ID)
				s.mu.Unlock()
				<-s.slots
				wg.Done()
				s.wg.Done()
			}()
			// detached from ctx: a shutdown lets a message on its way finish and be recorded
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.AttemptTimeout)
			defer cancel()
			end := s.attempt(actx, d, now)
			mu.Lock()
			ends[d.ID] = end
			mu.Unlock()
		}(d)
	}
	if wait {
		wg.Wait()
	}
	return ends
}

// attempt builds and sends one delivery and records how it ended; it returns the status.
func (s *Service) attempt(ctx context.Context, d Delivery, now time.Time) (end string) {
	end, err := s.try(ctx, &d, now)
	switch {
	case errors.Is(err, errCrashed):
		return "crashed"
	case err == nil:
		s.cfg.Metrics.Delivery(d.Channel, StatusSent)
		return StatusSent
	}
	defer func() { s.cfg.Metrics.Delivery(d.Channel, end) }()
	msg := strings.TrimSpace(err.Error())
	var se *sendErr
	isSend := errors.As(err, &se)
	set := map[string]any{"error": msg}
	switch {
	case end == StatusStopped:
		set["status"] = StatusStopped
	case isSend && !se.refused:
		end = StatusUncertain
		set["status"] = end
		set["error"] = "发送后没有收到对方的答复，可能已送达，未自动重发：" + msg
	case (isSend && se.permanent) || end == StatusFailed || d.Attempts >= len(s.cfg.Backoff)+1:
		end = StatusFailed
		set["status"] = end
	default:
		end = StatusRetry
		set["status"] = end
		pause := s.cfg.Backoff[max(0, min(d.Attempts-1, len(s.cfg.Backoff)-1))]
		set["next_at"] = now.UTC().Add(pause)
	}
	if uerr := s.st.update(ctx, d.ID, set); uerr != nil {
		s.log.Error("deliver: recording a failure", "delivery", d.ID, "err", uerr)
	}
	s.log.Warn("deliver: attempt failed", "delivery", d.ID, "status", end, "attempt", d.Attempts, "err", msg)
	s.audit(ctx, auth.Entry{User: d.User, Scope: d.Scope, Action: auth.ActDelivery, Object: fmt.Sprintf("投递 #%d", d.ID),
		Detail: fmt.Sprintf("%s %s → %s %s（第 %d 次，%s）：%s", d.Report, d.Month, ChannelLabel(d.Channel), d.Target, d.Attempts, StatusLabel(end), msg)})
	return end
}

// try is one attempt; its first result says a status the error decides (stopped, failed)
// when the error alone does not.
func (s *Service) try(ctx context.Context, d *Delivery, now time.Time) (string, error) {
	sub, removed, err := s.st.subscription(ctx, d.Subscription)
	if err != nil {
		return StatusStopped, err
	}
	if removed {
		return StatusStopped, errors.New("订阅已删除")
	}
	u, err := s.accounts.User(ctx, sub.User)
	if err != nil {
		return StatusStopped, err
	}
	if u.Disabled {
		return StatusStopped, fmt.Errorf("收件人 %s 已停用", sub.User)
	}
	// the recipient's scope now: a changed scope applies from this delivery on
	sc, err := s.b.Recipient(ctx, sub.User)
	if err != nil {
		return StatusFailed, err
	}
	d.Attempts++
	d.Scope = sc.String()
	if err := s.st.update(ctx, d.ID, map[string]any{"attempts": d.Attempts, "scope": d.Scope}); err != nil {
		return "", err
	}
	res, err := s.b.Report(ctx, sc, sub.Report, queries.Params{Month: d.Month, School: sub.School}, true)
	if err != nil {
		if s.b.Permanent(err) {
			return StatusFailed, err
		}
		return "", err
	}
	var buf bytes.Buffer
	if err := res.File.Write(&buf); err != nil {
		return "", fmt.Errorf("writing %s: %w", res.File.FileName, err)
	}
	target, err := s.seal.open(sub.sealedTarget, "target")
	if err != nil {
		return StatusFailed, err
	}
	secret, err := s.seal.open(sub.sealedSecret, "secret")
	if err != nil {
		return StatusFailed, err
	}
	c := &content{Subject: subjectOf(res.Kind, res.Headline), Headline: res.Headline, Kind: res.Kind, FileName: res.File.FileName,
		LinkTTL: ttlLabel(s.cfg.LinkTTL), User: sub.User, Scope: sc.String()}
	if s.cfg.PublicURL != "" {
		c.PageURL = s.cfg.PublicURL + res.Headline.Page
	}
	link := func() (string, error) {
		if s.cfg.PublicURL == "" {
			return "", &sendErr{err: errors.New("需要下载链接，但服务器没有设置 --public-url"), refused: true, permanent: true}
		}
		l := Link{Report: sub.Report, User: sub.User, Scope: sc.String(), Month: res.Params.Month, School: sub.School, Delivery: d.ID,
			Expires: s.cfg.Now().Add(s.cfg.LinkTTL).Truncate(time.Second)}
		return s.cfg.PublicURL + "/link?" + s.links.query(l), nil
	}
	if err := s.st.update(ctx, d.ID, map[string]any{"file_name": res.File.FileName, "bytes": int64(buf.Len())}); err != nil {
		return "", err
	}
	switch sub.Channel {
	case ChanEmail:
		err = s.sendEmail(ctx, d, target, c, buf.Bytes(), link)
	case ChanWeCom:
		err = s.sendWeCom(ctx, d, target, c, buf.Bytes())
	case ChanDingTalk:
		err = s.sendDingTalk(ctx, d, target, secret, c, link)
	default:
		return StatusFailed, fmt.Errorf("unknown channel %q", sub.Channel)
	}
	if err != nil {
		return "", err
	}
	s.audit(ctx, auth.Entry{User: sub.User, Role: string(sc.Role), Scope: sc.String(), Action: auth.ActDelivery, Object: res.File.FileName,
		Rows: int64(res.File.Rows), OK: true,
		Detail: fmt.Sprintf("%s %s → %s %s（投递 #%d，订阅 #%d，%s）", res.Kind.Label, res.Params.Month, ChannelLabel(sub.Channel), sub.Target, d.ID, sub.ID, d.Period)})
	return StatusSent, nil
}

func ttlLabel(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d天", d/(24*time.Hour))
	}
	return fmt.Sprintf("%.0f小时", d.Hours())
}

// step runs one message of a delivery: record it on its way, send, record it acknowledged.
// last marks the delivery sent; otherwise it goes back to pending with the step done, so a
// stop between two messages resumes at the next one.
func (s *Service) step(ctx context.Context, d *Delivery, n int, last bool, send func(commit func() error, crashed func() bool) error) error {
	if d.StepsDone >= n {
		return nil // acknowledged on an earlier attempt
	}
	commit := func() error {
		return s.st.update(ctx, d.ID, map[string]any{"status": StatusSending})
	}
	crashed := func() bool { return s.hooks.atCommit != nil && s.hooks.atCommit(*d, n) }
	if err := send(commit, crashed); err != nil {
		if !errors.Is(err, errCrashed) {
			// a definite refusal leaves nothing on its way
			var se *sendErr
			if errors.As(err, &se) && se.refused {
				_ = s.st.update(ctx, d.ID, map[string]any{"status": StatusPending})
			}
		}
		return err
	}
	if s.hooks.afterAck != nil && s.hooks.afterAck(*d, n) {
		return errCrashed
	}
	d.StepsDone = n
	set := map[string]any{"steps_done": n, "status": StatusPending}
	if last {
		set["status"], set["sent_at"], set["error"] = StatusSent, s.cfg.Now().UTC(), nil
	}
	return s.st.update(ctx, d.ID, set)
}

// sendEmail sends the report as an attachment (or, when too large, as a signed link).
func (s *Service) sendEmail(ctx context.Context, d *Delivery, to string, c *content, file []byte, link func() (string, error)) error {
	if s.cfg.SMTP.Addr == "" {
		return &sendErr{err: errors.New("没有配置邮件服务器（--smtp）"), refused: true, permanent: true}
	}
	m := mailMsg{to: to, fileName: c.FileName, file: file, contentType: contentType(c.FileName),
		messageID: fmt.Sprintf("tisheng-delivery-%d.%s@%s", d.ID, strings.ReplaceAll(d.Period, " ", "T"), mailDomain(s.cfg.SMTP.From))}
	if int64(len(file)) > s.cfg.MaxAttachment {
		l, err := link()
		if err != nil {
			return err
		}
		c.LinkURL, m.file = l, nil
	}
	m.subject, m.text = c.Subject, c.text()
	var err error
	if m.html, err = c.html(); err != nil {
		return err
	}
	msg, err := s.cfg.SMTP.build(m)
	if err != nil {
		return &sendErr{err: err, refused: true, permanent: true}
	}
	return s.step(ctx, d, 1, true, func(commit func() error, crashed func() bool) error {
		return s.cfg.SMTP.send(ctx, msg, commit, crashed)
	})
}

// sendWeCom posts the figures as markdown, then the file itself (upload_media, then a file
// message): two messages, each recorded.
func (s *Service) sendWeCom(ctx context.Context, d *Delivery, webhook string, c *content, file []byte) error {
	if err := checkWebhook(ChanWeCom, webhook, s.cfg.RobotHosts); err != nil {
		return &sendErr{err: err, refused: true, permanent: true}
	}
	robot := ChanWeCom + ":" + webhookKey(ChanWeCom, webhook)
	md := c.markdown(wecomMarkdownMax, false)
	if err := s.step(ctx, d, 1, false, func(commit func() error, crashed func() bool) error {
		return s.robotPost(ctx, robot, webhook, wecomMarkdownBody(md), commit, crashed)
	}); err != nil {
		return err
	}
	if d.StepsDone >= 2 {
		return nil
	}
	media, err := wecomUpload(ctx, s.cfg.HTTP, webhook, c.FileName, file)
	if err != nil {
		return err
	}
	return s.step(ctx, d, 2, true, func(commit func() error, crashed func() bool) error {
		return s.robotPost(ctx, robot, webhook, wecomFileBody(media), commit, crashed)
	})
}

// sendDingTalk posts a signed markdown message with the figures and a download link (钉钉
// robots take no files).
func (s *Service) sendDingTalk(ctx context.Context, d *Delivery, webhook, secret string, c *content, link func() (string, error)) error {
	if err := checkWebhook(ChanDingTalk, webhook, s.cfg.RobotHosts); err != nil {
		return &sendErr{err: err, refused: true, permanent: true}
	}
	l, err := link()
	if err != nil {
		return err
	}
	c.LinkURL = l
	robot := ChanDingTalk + ":" + webhookKey(ChanDingTalk, webhook)
	body := dingtalkMarkdownBody(c.Subject, c.markdown(dingtalkMarkdownMax, true))
	return s.step(ctx, d, 1, true, func(commit func() error, crashed func() bool) error {
		if err := s.limit.wait(ctx, robot); err != nil {
			return &sendErr{err: err, refused: true}
		}
		// signed at the moment of sending, by the real clock: 钉钉 takes a timestamp within the hour
		u, err := dingtalkSigned(webhook, secret, time.Now())
		if err != nil {
			return &sendErr{err: err, refused: true, permanent: true}
		}
		if err := commit(); err != nil {
			return &sendErr{err: err, refused: true}
		}
		if crashed() {
			return errCrashed
		}
		_, err = post(ctx, s.cfg.HTTP, u, "application/json", body)
		return err
	})
}

// robotPost sends one robot message within the robot's rate.
func (s *Service) robotPost(ctx context.Context, robot, u string, body []byte, commit func() error, crashed func() bool) error {
	if err := s.limit.wait(ctx, robot); err != nil {
		return &sendErr{err: err, refused: true}
	}
	if err := commit(); err != nil {
		return &sendErr{err: err, refused: true}
	}
	if crashed() {
		return errCrashed
	}
	_, err := post(ctx, s.cfg.HTTP, u, "application/json", body)
	return err
}

func mailDomain(from string) string {
	if _, d, ok := strings.Cut(from, "@"); ok && d != "" {
		return d
	}
	return "tisheng.invalid"
}

// contentType is a report file's MIME type by its extension.
func contentType(name string) string {
	switch {
	case strings.HasSuffix(name, ".xlsx"):
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case strings.HasSuffix(name, ".docx"):
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case strings.HasSuffix(name, ".zip"):
		return "application/zip"
	case strings.HasSuffix(name, ".csv"):
		return "text/csv; charset=utf-8"
	}
	return "application/octet-stream"
}

// ContentType is a report file's MIME type, for the server's downloads too.
func ContentType(name string) string { return contentType(name) }

// --- links -----------------------------------------------------------------------------

// ErrLinkScope is a link whose recipient's scope is no longer the one it was made for.
var ErrLinkScope = errors.New("收件人的数据范围已变更，这个下载链接已失效")

// OpenLink checks a signed link and its recipient as they are now: the user enabled, the
// scope the one the link was made for, the delivery it came with on record. It returns what
// to build and for whom; the caller builds it as a download and records the use.
func (s *Service) OpenLink(ctx context.Context, rawQuery string) (Link, auth.Scope, error) {
	l, err := s.links.verify(rawQuery)
	if err != nil {
		return l, auth.Scope{}, err
	}
	d, err := s.st.delivery(ctx, l.Delivery)
	if err != nil || d.User != l.User || d.Report != l.Report {
		return l, auth.Scope{}, ErrLinkInvalid
	}
	sc, err := s.b.Recipient(ctx, l.User)
	if err != nil {
		return l, auth.Scope{}, fmt.Errorf("%w：%v", ErrLinkInvalid, err)
	}
	if sc.String() != l.Scope {
		return l, auth.Scope{}, ErrLinkScope
	}
	return l, sc, nil
}

// EmailConfigured says whether a mail server is set.
func (s *Service) EmailConfigured() bool { return s.cfg.SMTP.Addr != "" }

// LinkTTL is how long links last.
func (s *Service) LinkTTL() time.Duration { return s.cfg.LinkTTL }

// audit records a line; a failure to write it is logged.
func (s *Service) audit(ctx context.Context, e auth.Entry) {
	if e.Scope == "" {
		e.Scope = "—"
	}
	if err := s.accounts.Record(ctx, e); err != nil {
		s.log.Error("deliver: audit", "err", err)
	}
}

// ReportLabel is a kind's label for lists.
func ReportLabel(name string) string {
	if k, ok := reportkind.Get(name); ok {
		return k.Label
	}
	return name
}

// ScheduleLabel says a schedule in words.
func ScheduleLabel(spec string) string { return describe(spec) }
