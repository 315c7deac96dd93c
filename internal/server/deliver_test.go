package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"tisheng/internal/auth"
	"tisheng/internal/deliver"
)

// withDelivery attaches a delivery service (no mail server) to the env's server.
func withDelivery(t *testing.T, e *env) *deliver.Service {
	t.Helper()
	svc, err := deliver.New(deliver.Config{Key: bytes.Repeat([]byte{5}, 32), PublicURL: e.ts.URL}, e.wh.DB, e.accounts, e.srv, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	e.srv.SetDelivery(svc)
	return svc
}

func postForm(t *testing.T, c *http.Client, u string, v url.Values) (int, string) {
	t.Helper()
	resp, err := c.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Any user manages their own subscriptions on their own page, and only their own; the
// admin manages everyone's on 管理.
func TestSubscriptionPages(t *testing.T) {
	e := newEnv(t, Config{})
	svc := withDelivery(t, e)
	d := e.one(`SELECT min(district) FROM school_info`)
	school := e.one(`SELECT min(school_code) FROM school_info`)
	qx := e.client("quxian", auth.User{Role: auth.RoleDistrict, District: d})
	xx := e.client("xuexiao", auth.User{Role: auth.RoleSchool, School: school})
	e.client("other", auth.User{Role: auth.RoleLeader})

	// the admin subscribes another user on 管理
	code, body := postForm(t, e.c, e.ts.URL+"/admin/subscriptions", url.Values{"op": {"add"}, "user": {"other"}, "report": {"annual"},
		"channel": {"email"}, "to": {"other@example.cn"}, "schedule": {"0 9 1 * *"}})
	if code != 200 || !strings.Contains(body, "已添加订阅 #1") || !strings.Contains(body, "other@example.cn") {
		t.Fatalf("admin add: %d %.500s", code, body)
	}

	// a district user's own page: whatever the form says, the subscription is theirs
	code, body = postForm(t, qx, e.ts.URL+"/me/subscriptions", url.Values{"op": {"add"}, "user": {"other"}, "report": {"monthly"},
		"channel": {"email"}, "to": {"qx@example.cn"}, "new_month": {"1"}})
	if code != 200 || !strings.Contains(body, "已添加订阅 #2：quxian") || !strings.Contains(body, "新月份数据导入后") {
		t.Fatalf("own add: %d %.800s", code, body)
	}
	subs, _ := svc.Subscriptions(context.Background(), "")
	if len(subs) != 2 || subs[1].User != "quxian" || subs[1].CreatedBy != "quxian" {
		t.Fatalf("%+v", subs)
	}
	// their page lists theirs, not the other user's
	resp, b := getWith(t, qx, e.ts.URL+"/me")
	if resp.StatusCode != 200 || !strings.Contains(b, "qx@example.cn") || strings.Contains(b, "other@example.cn") {
		t.Errorf("/me: %d %.500s", resp.StatusCode, b)
	}
	// and they cannot remove another's, resend, or use 管理's form
	if code, body := postForm(t, qx, e.ts.URL+"/me/subscriptions", url.Values{"op": {"rm"}, "id": {"1"}}); code != 400 || !strings.Contains(body, "没有这个订阅") {
		t.Errorf("removing another's: %d", code)
	}
	if code, _ := postForm(t, qx, e.ts.URL+"/me/subscriptions", url.Values{"op": {"resend"}, "id": {"1"}}); code != 403 {
		t.Errorf("resend from /me: %d", code)
	}
	if code, _ := postForm(t, qx, e.ts.URL+"/admin/subscriptions", url.Values{"op": {"add"}, "user": {"other"}, "report": {"monthly"}, "channel": {"email"}, "to": {"x@example.cn"}}); code != 403 {
		t.Errorf("管理's form as a district user: %d", code)
	}
	// a school user is not offered the 年报, and is refused it
	resp, b = getWith(t, xx, e.ts.URL+"/me")
	if strings.Contains(b, `value="annual"`) || !strings.Contains(b, `value="school"`) {
		t.Errorf("a school's form offers: %.300s", b)
	}
	if code, body := postForm(t, xx, e.ts.URL+"/me/subscriptions", url.Values{"op": {"add"}, "report": {"annual"}, "channel": {"email"}, "to": {"x@example.cn"}}); code != 400 || !strings.Contains(body, "不能接收年报") {
		t.Errorf("a school's 年报: %d", code)
	}
	// a robot outside the allowed hosts is refused
	if code, body := postForm(t, qx, e.ts.URL+"/me/subscriptions", url.Values{"op": {"add"}, "report": {"monthly"}, "channel": {"wecom"}, "to": {e.ts.URL + "/cgi-bin/webhook/send?key=k"}}); code != 400 || !strings.Contains(body, "qyapi.weixin.qq.com") {
		t.Errorf("a robot on the server itself: %d", code)
	}
	// their own removal works; the admin's list then has one
	if code, _ := postForm(t, qx, e.ts.URL+"/me/subscriptions", url.Values{"op": {"rm"}, "id": {"2"}}); code != 200 {
		t.Errorf("own removal: %d", code)
	}
	resp, b = getWith(t, e.c, e.ts.URL+"/admin")
	if !strings.Contains(b, "other@example.cn") || strings.Contains(b, "qx@example.cn</span>") || !strings.Contains(b, "每月1日 09:00") {
		t.Errorf("管理 after: %.2000s", b)
	}
	// every change is in the audit trail
	es, _ := e.accounts.Audit(context.Background(), auth.Filter{Action: auth.ActSubscription})
	if len(es) < 4 {
		t.Errorf("%d subscription changes audited", len(es))
	}
}

func getWith(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
