package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"tisheng/internal/apperr"

	"tisheng/internal/auth"
	"tisheng/internal/deliver"
	"tisheng/internal/reportkind"
	"tisheng/internal/scoped"
	"tisheng/queries"
	"tisheng/reports"
)

// Reports by kind (internal/reportkind) are built here for downloads and for deliveries
// alike: Report is the one function both call, so a delivery is exactly the download its
// recipient would make.

// SetDelivery attaches the subscriptions and their scheduler: the pages list and edit
// them, signed links open, and a refresh wakes the scheduler.
func (s *Server) SetDelivery(d *deliver.Service) { s.delivery = d }

// viewSource is a view as a report kind reads it.
type viewSource struct {
	s *Server
	v *view
}

func (vs viewSource) Reports() *reports.Reports { return vs.v.rp }
func (vs viewSource) Everything() bool          { return vs.v.schools == nil }
func (vs viewSource) District(ctx context.Context, d string) (*reports.Reports, func(), error) {
	dv, err := vs.s.scopeView(ctx, scoped.Key{District: d})
	if err != nil {
		return nil, nil, err
	}
	return dv.rp, dv.release, nil
}

// Report builds a report kind for a scope: the scope's own data (viewFor), the parameters
// fitted to it (narrow), the kind's builder. headline adds the figures a message carries,
// read from the same view.
func (s *Server) Report(ctx context.Context, sc auth.Scope, name string, p queries.Params, headline bool) (*reportkind.Result, error) {
	k, ok := reportkind.Get(name)
	if !ok {
		return nil, apperr.Errorf(apperr.NotFound, "报表 %s", name)
	}
	if !k.May(sc) {
		return nil, forbidden(sc, k.Label)
	}
	if !s.ready(ctx) {
		return nil, s.noData()
	}
	v, err := s.viewFor(ctx, sc)
	if err != nil {
		return nil, err
	}
	defer v.release()
	if p, err = v.fit(ctx, sc, p); err != nil {
		return nil, err
	}
	if k.School && p.School == "" && sc.School != "" {
		p.School = sc.School // a school user's own school, unasked
	}
	if k.School && p.School == "" {
		return nil, apperr.Errorf(apperr.Invalid, "参数错误：请指定学校：/download/%s?school=学校代码", k.File)
	}
	wb, err := k.Build(ctx, viewSource{s, v}, p)
	if err != nil {
		return nil, err
	}
	res := &reportkind.Result{Kind: k, File: wb, Params: p}
	if headline {
		hp := p
		if hp.School == "" && sc.School != "" {
			hp.School = sc.School // a school's recipient reads its own school's standing
		}
		if res.Headline, err = v.rp.Headline(ctx, hp); err != nil {
			return nil, err
		}
		if res.Params.Month == "" {
			res.Params.Month = res.Headline.Month
		}
	}
	return res, nil
}

// Recipient is a user's scope as it is now, decided as a login decides it.
func (s *Server) Recipient(ctx context.Context, user string) (auth.Scope, error) {
	u, err := s.accounts.User(ctx, user)
	if err != nil {
		return auth.Scope{}, err
	}
	if u.Disabled {
		return auth.Scope{}, fmt.Errorf("%w：%s", auth.ErrDisabled, user)
	}
	sc := s.scopeFor(ctx, u)
	if !sc.Valid() {
		return auth.Scope{}, fmt.Errorf("用户 %s 的范围不完整", user)
	}
	return sc, nil
}

// Check says whether sc may receive a kind for p.School, without building anything: the
// school must be the scope's (by the newest school list).
func (s *Server) Check(ctx context.Context, sc auth.Scope, name string, p queries.Params) error {
	k, ok := reportkind.Get(name)
	if !ok {
		return apperr.Errorf(apperr.NotFound, "报表 %s", name)
	}
	if !k.May(sc) {
		return forbidden(sc, k.Label)
	}
	if p.School == "" {
		return nil
	}
	if _, err := reports.ParseParams(map[string][]string{"school": {p.School}}); err != nil {
		return err
	}
	d := s.schoolDistrict(ctx, p.School)
	switch {
	case d == "":
		return apperr.Errorf(apperr.NotFound, "学校 %s 不在学校信息中", p.School)
	case sc.School != "" && sc.School != p.School, sc.District != "" && sc.District != d:
		return forbidden(sc, "学校 "+p.School)
	}
	return nil
}

// Permanent: a refusal or a missing school or month stays until someone changes something.
func (s *Server) Permanent(err error) bool {
	return errors.Is(err, ErrForbidden) || errors.Is(err, reports.ErrNotFound) || errors.Is(err, reports.ErrBadParam) ||
		errors.Is(err, auth.ErrNoUser) || errors.Is(err, auth.ErrDisabled)
}

// kindDownload is a kind's /download/ route.
func (s *Server) kindDownload(k reportkind.Kind) http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		sc := scopeOf(r.Context())
		if !k.May(sc) {
			s.audit(r, auth.Entry{Action: auth.ActDenied, Object: r.Method + " " + r.URL.Path, Detail: k.Label})
			return forbidden(sc, k.Label)
		}
		p, err := params(r)
		if err != nil {
			return err
		}
		res, err := s.Report(r.Context(), sc, k.Name, p, false)
		if err != nil {
			return err
		}
		return s.send(w, r, k.Label, res.Params, res.File)
	})
}

// linkDownload serves a signed link from a message: no login (a leader opens it on a
// phone), the file built under the recipient's scope as it is now, every use and every
// refusal in the audit trail.
func (s *Server) linkDownload(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string, e auth.Entry) {
		e.Action, e.OK, e.Detail = auth.ActLink, false, msg+"；"+e.Detail
		if e.Object == "" {
			e.Object = "签名链接"
		}
		s.audit(r, e)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(code)
		s.reports.Render(w, "error", &reports.Page{Name: "error", Title: statusTitle(code), Extra: map[string]string{"message": msg}})
	}
	if s.delivery == nil {
		fail(http.StatusNotFound, "这个服务器没有启用报表投递", auth.Entry{})
		return
	}
	l, sc, err := s.delivery.OpenLink(r.Context(), r.URL.RawQuery)
	switch {
	case errors.Is(err, deliver.ErrLinkExpired):
		fail(http.StatusGone, err.Error(), auth.Entry{User: l.User, Scope: l.Scope, Detail: l.String()})
		return
	case errors.Is(err, deliver.ErrLinkScope):
		fail(http.StatusForbidden, err.Error(), auth.Entry{User: l.User, Scope: l.Scope, Detail: l.String()})
		return
	case err != nil:
		// the parameters of an invalid link are not to be believed: none is recorded as who
		fail(http.StatusForbidden, deliver.ErrLinkInvalid.Error(), auth.Entry{Detail: fmt.Sprintf("%.300s", r.URL.RawQuery)})
		return
	}
	r = r.WithContext(withScope(r.Context(), sc))
	res, err := s.Report(r.Context(), sc, l.Report, queries.Params{Month: l.Month, School: l.School}, false)
	if err != nil {
		code, msg := s.errorStatus(r, err)
		fail(code, msg, auth.Entry{Detail: l.String()})
		return
	}
	var buf strings.Builder
	if err := res.File.Write(&buf); err != nil {
		code, msg := s.errorStatus(r, err)
		fail(code, msg, auth.Entry{Detail: l.String()})
		return
	}
	s.audit(r, auth.Entry{Action: auth.ActLink, Object: res.File.FileName, Rows: int64(res.File.Rows), OK: true, Detail: l.String()})
	w.Header().Set("Content-Type", deliver.ContentType(res.File.FileName))
	w.Header().Set("Content-Disposition", disposition(res.File.FileName))
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	io.WriteString(w, buf.String())
}

// --- the pages' subscription blocks ------------------------------------------------------

func actorOf(sc auth.Scope) deliver.Actor {
	return deliver.Actor{Name: sc.User, Role: string(sc.Role), Scope: sc.String()}
}

// subscriptionsData lists the subscriptions and deliveries of one user (self) or all.
func (s *Server) subscriptionsData(ctx context.Context, sc auth.Scope, self bool) (reports.SubscriptionsData, error) {
	d := reports.SubscriptionsData{Action: "/admin/subscriptions", Schedule: deliver.DefaultSchedule, Admin: !self && sc.IsAdmin()}
	if s.delivery == nil {
		return d, nil
	}
	d.Email = s.delivery.EmailConfigured()
	d.LinkTTL = fmt.Sprintf("%d天", int(s.delivery.LinkTTL().Hours()/24))
	user := ""
	if self {
		d.Action, d.Self, user = "/me/subscriptions", sc.User, sc.User
	} else {
		us, err := s.accounts.Users(ctx)
		if err != nil {
			return d, err
		}
		for _, u := range us {
			if !u.Disabled {
				d.Users = append(d.Users, u.Name)
			}
		}
	}
	for _, k := range reportkind.All() {
		if self && !k.May(sc) {
			continue
		}
		d.Kinds = append(d.Kinds, reports.KindLabel{Name: k.Name, Label: k.Label})
	}
	subs, err := s.delivery.Subscriptions(ctx, user)
	if err != nil {
		return d, err
	}
	for _, x := range subs {
		d.Subs = append(d.Subs, reports.SubscriptionView{ID: x.ID, User: x.User, Report: deliver.ReportLabel(x.Report), School: x.School,
			Schedule: deliver.ScheduleLabel(x.Schedule), Channel: deliver.ChannelLabel(x.Channel), Target: x.Target, Secret: x.HasSecret,
			Created: x.CreatedAt.In(deliver.Zone()).Format("2006-01-02 15:04"), CreatedBy: x.CreatedBy})
	}
	ds, err := s.delivery.Deliveries(ctx, deliver.DeliveryFilter{User: user, Limit: 100})
	if err != nil {
		return d, err
	}
	for _, x := range ds {
		v := reports.DeliveryView{ID: x.ID, Subscription: x.Subscription, Period: x.Period, User: x.User, Report: deliver.ReportLabel(x.Report),
			Month: x.Month, Scope: x.Scope, Channel: deliver.ChannelLabel(x.Channel), Target: x.Target, Status: deliver.StatusLabel(x.Status),
			Err: x.Error, Attempts: x.Attempts, File: x.FileName}
		switch x.Status {
		case deliver.StatusSent:
			v.Class = "met"
			v.Sent = "送达 " + x.SentAt.In(deliver.Zone()).Format("01-02 15:04")
		case deliver.StatusFailed, deliver.StatusUncertain:
			v.Class, v.Resend = "behind", true
			d.Failed++
		case deliver.StatusStopped:
			v.Class, v.Resend = "nogate", true
		case deliver.StatusRetry, deliver.StatusPending:
			v.Next = x.NextAt.In(deliver.Zone()).Format("01-02 15:04")
		}
		d.Deliveries = append(d.Deliveries, v)
	}
	return d, nil
}

// subscriptionForm handles add, rm and (admin) resend from either page; self restricts
// every change to the caller's own subscriptions. It returns the message for the page.
func (s *Server) subscriptionForm(w http.ResponseWriter, r *http.Request, self bool) (string, error) {
	if s.delivery == nil {
		return "", apperr.Errorf(apperr.Invalid, "这个服务器没有启用报表投递")
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		return "", apperr.Errorf(apperr.Invalid, "%v", err)
	}
	f := r.PostForm
	sc := scopeOf(r.Context())
	ctx := r.Context()
	id, _ := strconv.ParseInt(f.Get("id"), 10, 64)
	owner := ""
	if self {
		owner = sc.User
	}
	switch f.Get("op") {
	case "add":
		user := strings.TrimSpace(f.Get("user"))
		if self {
			user = sc.User // a user subscribes only themselves, whatever the form says
		}
		schedule := strings.TrimSpace(f.Get("schedule"))
		if f.Get("new_month") != "" {
			schedule = deliver.NewMonth
		}
		sub, err := s.delivery.Add(ctx, deliver.NewSubscription{User: user, Report: f.Get("report"), School: f.Get("school"), Schedule: schedule,
			To: f.Get("channel") + ":" + strings.TrimSpace(f.Get("to")), Secret: f.Get("secret")}, actorOf(sc))
		if err != nil {
			return "", apperr.Errorf(apperr.Invalid, "添加订阅失败：%v", err)
		}
		return fmt.Sprintf("已添加订阅 #%d：%s 的%s，%s发送到%s %s", sub.ID, sub.User, deliver.ReportLabel(sub.Report), deliver.ScheduleLabel(sub.Schedule),
			deliver.ChannelLabel(sub.Channel), sub.Target), nil
	case "rm":
		if err := s.delivery.Remove(ctx, id, owner, actorOf(sc)); err != nil {
			return "", apperr.Errorf(apperr.Invalid, "%v", err)
		}
		return fmt.Sprintf("已删除订阅 #%d", id), nil
	case "resend":
		if self {
			return "", forbidden(sc, "重新发送")
		}
		if err := s.delivery.Resend(ctx, id, actorOf(sc)); err != nil {
			return "", apperr.Errorf(apperr.Invalid, "%v", err)
		}
		return fmt.Sprintf("投递 #%d 已重新排队", id), nil
	}
	return "", apperr.Errorf(apperr.Invalid, "未知操作")
}

func (s *Server) adminSubscriptionForm(w http.ResponseWriter, r *http.Request) error {
	msg, err := s.subscriptionForm(w, r, false)
	if err != nil {
		code, m := s.errorStatus(r, err)
		return s.renderAdmin(w, r, code, "操作失败："+m, "")
	}
	return s.renderAdmin(w, r, http.StatusOK, msg, "")
}

func (s *Server) mePage(w http.ResponseWriter, r *http.Request) error {
	return s.renderMe(w, r, http.StatusOK, "")
}

func (s *Server) meSubscriptionForm(w http.ResponseWriter, r *http.Request) error {
	msg, err := s.subscriptionForm(w, r, true)
	if err != nil {
		code, m := s.errorStatus(r, err)
		return s.renderMe(w, r, code, "操作失败："+m)
	}
	return s.renderMe(w, r, http.StatusOK, msg)
}

func (s *Server) renderMe(w http.ResponseWriter, r *http.Request, code int, msg string) error {
	sc := scopeOf(r.Context())
	d, err := s.subscriptionsData(r.Context(), sc, true)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	return s.reports.RenderMe(w, &reports.Page{Name: "me", Title: "我的订阅", Viewer: viewer(sc), Extra: map[string]string{"message": msg}}, d)
}

// deliveriesAPI lists deliveries for scripts: ?status=failed,uncertain&limit=N.
func (s *Server) deliveriesAPI(w http.ResponseWriter, r *http.Request) error {
	if s.delivery == nil {
		return writeJSON(w, []deliver.Delivery{})
	}
	f := deliver.DeliveryFilter{User: r.URL.Query().Get("user"), Limit: 500}
	if st := r.URL.Query().Get("status"); st != "" {
		f.Status = strings.Split(st, ",")
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 {
		f.Limit = n
	}
	ds, err := s.delivery.Deliveries(r.Context(), f)
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []deliver.Delivery{}
	}
	return writeJSON(w, ds)
}

func (s *Server) subscriptionsAPI(w http.ResponseWriter, r *http.Request) error {
	if s.delivery == nil {
		return writeJSON(w, []deliver.Subscription{})
	}
	subs, err := s.delivery.Subscriptions(r.Context(), r.URL.Query().Get("user"))
	if err != nil {
		return err
	}
	if subs == nil {
		subs = []deliver.Subscription{}
	}
	return writeJSON(w, subs)
}

// kickDelivery wakes the scheduler after a refresh: a new month may be due.
func (s *Server) kickDelivery() {
	if s.delivery != nil {
		s.delivery.Kick()
	}
}
