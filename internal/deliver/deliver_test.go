package deliver_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"tisheng/models"

	"tisheng/internal/auth"
	"tisheng/internal/deliver"
	"tisheng/queries"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if demoFile != "" {
		os.RemoveAll(filepath.Dir(demoFile))
	}
	os.Exit(code)
}

// outside lists what a recipient must not see: the other districts, and the schools (name
// and code) of the other districts (or, for a school, every other school).
func (e *env) outside(district, school string) []string {
	var out []string
	for _, d := range e.list(`SELECT DISTINCT district FROM school_info WHERE district <> ? ORDER BY 1`, district) {
		out = append(out, d)
	}
	q := `SELECT DISTINCT school_name FROM school_info WHERE district <> ? UNION SELECT DISTINCT school_code FROM school_info WHERE district <> ?`
	args := []any{district, district}
	if school != "" {
		q = `SELECT DISTINCT school_name FROM school_info WHERE school_code <> ? UNION SELECT DISTINCT school_code FROM school_info WHERE school_code <> ?`
		args = []any{school, school}
	}
	return append(out, e.list(q, args...)...)
}

func mustNotName(t *testing.T, what, text string, names []string) {
	t.Helper()
	for _, n := range names {
		if n != "" && strings.Contains(text, n) {
			t.Errorf("%s names %q, outside the recipient's scope", what, n)
		}
	}
}

// An admin subscribes a district user, a school user and a leader; each message and each
// attachment is built under its recipient's scope and names nothing outside it.
func TestEachRecipientGetsOwnScope(t *testing.T) {
	e := newEnv(t)
	school := e.one(`SELECT school FROM users WHERE name = 'xiaozhang'`)
	schoolName := e.one(`SELECT arg_max(school_name, month) FROM school_info WHERE school_code = ?`, school)
	e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "email:quxian@example.cn"})
	e.subscribe(deliver.NewSubscription{User: "xiaozhang", Report: "school", To: "email:xiaozhang@example.cn"})
	e.subscribe(deliver.NewSubscription{User: "xiaozhang", Report: "monthly", To: "email:xiaozhang@example.cn", Schedule: "30 7 5 * *"})
	e.subscribe(deliver.NewSubscription{User: "lingdao", Report: "annual", To: "email:lingdao@example.cn"})

	// nothing is due before the 5th
	if sum := e.run("2025-07-04 08:00"); sum.Recorded != 0 || len(e.mail.messages()) != 0 {
		t.Fatalf("before the schedule: %+v, %d mails", sum, len(e.mail.messages()))
	}
	if sum := e.run("2025-07-05 07:30"); sum.Sent != 1 {
		t.Fatalf("07:30: %+v", sum)
	}
	sum := e.run("2025-07-05 08:00")
	if sum.Recorded != 3 || sum.Sent != 3 {
		t.Fatalf("08:00: %+v; deliveries %+v", sum, e.deliveries())
	}
	byTo := map[string][]parsedMail{}
	for _, m := range e.mail.messages() {
		if m.from != "tisheng@example.cn" || len(m.to) != 1 {
			t.Errorf("envelope %s → %v", m.from, m.to)
		}
		byTo[m.to[0]] = append(byTo[m.to[0]], parseMail(t, m.data))
	}
	if e.mail.auths == 0 {
		t.Error("the mail went without logging in")
	}

	t.Run("district", func(t *testing.T) {
		ms := byTo["quxian@example.cn"]
		if len(ms) != 1 {
			t.Fatalf("quxian got %d mails", len(ms))
		}
		m := ms[0]
		if m.subject != "南城区 2025年6月 提升工程2.0 月报" {
			t.Errorf("subject %q", m.subject)
		}
		if m.fileName != "2025年6月_南城区_月报.xlsx" || !strings.Contains(m.disposition, "filename*0*=UTF-8''") {
			t.Errorf("attachment %q (%s)", m.fileName, m.disposition)
		}
		book := cells(t, m.file)
		out := e.outside("南城区", "")
		mustNotName(t, "the 月报", book, out)
		mustNotName(t, "the text", m.text, out)
		mustNotName(t, "the HTML", m.html, out)
		teachers := e.one(`SELECT sum(teachers)::VARCHAR FROM school_gate_monthly WHERE month = '2025-06' AND district = '南城区'`)
		if !strings.Contains(m.text, "教师："+teachers+"\n") || !strings.Contains(m.html, ">"+teachers+"<") {
			t.Errorf("the body does not give the district's %s teachers:\n%s", teachers, m.text)
		}
		behind := e.list(`SELECT school_name FROM school_gate_monthly WHERE month = '2025-06' AND district = '南城区' AND NOT gate_met`)
		if len(behind) == 0 {
			t.Fatal("the demo district has no school behind the gate")
		}
		if !strings.Contains(m.text, fmt.Sprintf("未达到95%%门槛的学校（%d 所", len(behind))) {
			t.Errorf("the text does not count %d schools behind:\n%s", len(behind), m.text)
		}
		for _, s := range behind {
			if !strings.Contains(m.text, s) || !strings.Contains(m.html, s) {
				t.Errorf("school behind the gate %s is not in the message", s)
			}
		}
		if !strings.Contains(m.text, e.ts.URL+"/?") || !strings.Contains(m.text, url.QueryEscape("南城区")) {
			t.Errorf("no link to the district's page:\n%s", m.text)
		}
		if id := m.header.Get("Message-Id"); !strings.Contains(id, "tisheng-delivery-") {
			t.Errorf("Message-ID %q", id)
		}
	})

	t.Run("school", func(t *testing.T) {
		ms := byTo["xiaozhang@example.cn"]
		if len(ms) != 2 {
			t.Fatalf("xiaozhang got %d mails", len(ms))
		}
		for _, m := range ms {
			out := e.outside("西山区", school)
			mustNotName(t, m.fileName, cells(t, m.file), out)
			mustNotName(t, "the text", m.text, out)
			mustNotName(t, "the HTML", m.html, out)
			if !strings.HasPrefix(m.subject, "西山区 "+schoolName+" 2025年6月 提升工程2.0 ") {
				t.Errorf("subject %q", m.subject)
			}
		}
		roster := ms[1]
		if strings.HasSuffix(ms[0].fileName, "学校名单.xlsx") {
			roster = ms[0]
		}
		if want := "2025年6月_西山区_" + schoolName + "_学校名单.xlsx"; roster.fileName != want {
			t.Errorf("roster file %q, want %q", roster.fileName, want)
		}
		teachers := e.one(`SELECT teachers::VARCHAR FROM school_gate_monthly WHERE month = '2025-06' AND school_code = ?`, school)
		if !strings.Contains(roster.text, "教师："+teachers+"\n") {
			t.Errorf("the school's body does not say its %s teachers:\n%s", teachers, roster.text)
		}
	})

	t.Run("leader", func(t *testing.T) {
		ms := byTo["lingdao@example.cn"]
		if len(ms) != 1 || ms[0].subject != "全部区县 2025年 提升工程2.0 年报" || ms[0].fileName != "2025年_全部区县_提升工程2.0_年报.xlsx" {
			t.Fatalf("lingdao: %d mails %+v", len(ms), ms)
		}
	})

	// every delivery is on record, sent, with the scope it was built under
	for _, d := range e.deliveries() {
		want := map[string]string{"quxian": "区县:南城区", "xiaozhang": "学校:" + school, "lingdao": "全部"}[d.User]
		if d.Status != deliver.StatusSent || d.Scope != want || d.Month != "2025-06" || d.Attempts != 1 {
			t.Errorf("delivery %+v", d)
		}
	}
	// the same time again sends nothing
	if sum := e.run("2025-07-05 08:00"); sum.Recorded != 0 || sum.Sent != 0 || len(e.mail.messages()) != 4 {
		t.Errorf("a second pass at the same time: %+v, %d mails", sum, len(e.mail.messages()))
	}
}

// A user whose scope changes gets the new scope from the next delivery on; a disabled user's
// subscriptions stop.
func TestScopeChangeAndDisabledRecipient(t *testing.T) {
	e := newEnv(t)
	e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "email:quxian@example.cn"})
	e.run("2025-07-05 08:00")
	if _, err := e.wh.DB.Exec(`UPDATE users SET district = '西山区' WHERE name = 'quxian'`); err != nil {
		t.Fatal(err)
	}
	e.run("2025-08-05 08:00")
	ms := e.mail.messages()
	if len(ms) != 2 {
		t.Fatalf("%d mails", len(ms))
	}
	first, second := parseMail(t, ms[0].data), parseMail(t, ms[1].data)
	if !strings.HasPrefix(first.subject, "南城区 ") || !strings.HasPrefix(second.subject, "西山区 ") {
		t.Errorf("subjects %q then %q", first.subject, second.subject)
	}
	mustNotName(t, "after the move", cells(t, second.file), e.outside("西山区", ""))

	if err := e.accounts.SetDisabled(context.Background(), "quxian", true); err != nil {
		t.Fatal(err)
	}
	if sum := e.run("2025-09-05 08:00"); sum.Recorded != 0 || sum.Sent != 0 {
		t.Errorf("a disabled recipient: %+v", sum)
	}
	if n := len(e.mail.messages()); n != 2 {
		t.Errorf("%d mails after disabling", n)
	}
}

// A subscription's recipient may not receive what their role does not allow, nor another
// scope's school.
func TestSubscriptionRefusals(t *testing.T) {
	e := newEnv(t)
	other := e.one(`SELECT min(school_code) FROM school_info WHERE district = '南城区'`)
	for _, c := range []struct {
		n    deliver.NewSubscription
		want string
	}{
		{deliver.NewSubscription{User: "xiaozhang", Report: "annual", To: "email:a@example.cn"}, "不能接收年报"},
		{deliver.NewSubscription{User: "xiaozhang", Report: "school", School: other, To: "email:a@example.cn"}, "无权访问"},
		{deliver.NewSubscription{User: "quxian", Report: "school", School: e.one(`SELECT min(school_code) FROM school_info WHERE district = '西山区'`), To: "email:a@example.cn"}, "无权访问"},
		{deliver.NewSubscription{User: "quxian", Report: "school", To: "email:a@example.cn"}, "需要学校代码"},
		{deliver.NewSubscription{User: "nobody", Report: "monthly", To: "email:a@example.cn"}, "没有这个用户"},
		{deliver.NewSubscription{User: "quxian", Report: "weekly", To: "email:a@example.cn"}, "没有报表"},
		{deliver.NewSubscription{User: "quxian", Report: "monthly", To: "email:a@example.cn", Schedule: "* * * * *"}, "过于频繁"},
		{deliver.NewSubscription{User: "quxian", Report: "monthly", To: "email:a@example.cn", Schedule: "@every 1h"}, "无效"},
		{deliver.NewSubscription{User: "quxian", Report: "monthly", To: "email:a@example.cn", Schedule: "CRON_TZ=UTC 0 8 5 * *"}, "无效"},
		{deliver.NewSubscription{User: "quxian", Report: "monthly", To: "email:a@example.cn\r\nBcc: x@evil.cn"}, "无效"},
		{deliver.NewSubscription{User: "quxian", Report: "monthly", To: "wecom:https://evil.example.cn/cgi-bin/webhook/send?key=k"}, "https://qyapi.weixin.qq.com"},
		{deliver.NewSubscription{User: "quxian", Report: "monthly", To: "wecom:http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"}, "https://qyapi.weixin.qq.com"},
		{deliver.NewSubscription{User: "quxian", Report: "monthly", To: "dingtalk:https://oapi.dingtalk.com/robot/send?access_token=t&x=1"}, "只带一个参数"},
		{deliver.NewSubscription{User: "quxian", Report: "monthly", To: "email:a@example.cn", Secret: "SEC1"}, "只用于钉钉"},
		{deliver.NewSubscription{User: "quxian", Report: "monthly", To: "fax:123"}, "无效"},
	} {
		_, err := e.svc.Add(context.Background(), c.n, admin)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.n, err, c.want)
		}
	}
	if subs, _ := e.svc.Subscriptions(context.Background(), ""); len(subs) != 0 {
		t.Errorf("refused subscriptions were stored: %+v", subs)
	}
	// one recipient has a bounded number
	for i := 0; i < deliver.MaxPerUser; i++ {
		e.subscribe(deliver.NewSubscription{User: "lingdao", Report: "monthly", To: fmt.Sprintf("email:l%d@example.cn", i)})
	}
	if _, err := e.svc.Add(context.Background(), deliver.NewSubscription{User: "lingdao", Report: "monthly", To: "email:one-more@example.cn"}, admin); err == nil || !strings.Contains(err.Error(), "上限") {
		t.Errorf("subscription %d: %v", deliver.MaxPerUser+1, err)
	}
}

// 企业微信: the figures as markdown, then the file uploaded (upload_media) and sent as a file
// message; the file is the recipient's workbook.
func TestWeComRobot(t *testing.T) {
	e := newEnv(t)
	sub := e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "wecom:" + e.robots.wecomURL()})
	if strings.Contains(sub.Target, e.robots.wecomKey) || !strings.HasSuffix(sub.Target, "key=****"+e.robots.wecomKey[len(e.robots.wecomKey)-4:]) {
		t.Errorf("listed target %q shows the key", sub.Target)
	}
	if sum := e.run("2025-07-05 08:00"); sum.Sent != 1 {
		t.Fatalf("%+v %+v", sum, e.deliveries())
	}
	calls := e.robots.all()
	if len(calls) != 3 {
		t.Fatalf("%d calls: %+v", len(calls), calls)
	}
	md, up, file := calls[0], calls[1], calls[2]
	content := md.body["markdown"].(map[string]any)["content"].(string)
	if md.body["msgtype"] != "markdown" || md.contentType != "application/json" || !strings.Contains(content, "南城区 2025年6月 提升工程2.0 月报") {
		t.Errorf("markdown %+v", md.body)
	}
	teachers := e.one(`SELECT sum(teachers)::VARCHAR FROM school_gate_monthly WHERE month = '2025-06' AND district = '南城区'`)
	if !strings.Contains(content, "教师：<font color=\"info\">"+teachers+"</font>") {
		t.Errorf("markdown lacks the %s teachers:\n%s", teachers, content)
	}
	mustNotName(t, "the markdown", content, e.outside("南城区", ""))
	if up.path != "/cgi-bin/webhook/upload_media" || up.fileName != "2025年6月_南城区_月报.xlsx" || up.fileLength != len(up.file) {
		t.Errorf("upload %s %q %d", up.path, up.fileName, up.fileLength)
	}
	mustNotName(t, "the uploaded 月报", cells(t, up.file), e.outside("南城区", ""))
	if file.body["msgtype"] != "file" || file.body["file"].(map[string]any)["media_id"] != "media-1" {
		t.Errorf("file message %+v", file.body)
	}
}

// 钉钉: a signed markdown message with a signed download link; the link downloads exactly
// that file for that recipient, every use audited; edited, expired or outgrown links fail.
func TestDingTalkRobotAndSignedLinks(t *testing.T) {
	e := newEnv(t)
	e.cfg.LinkTTL = 48 * time.Hour
	e.restart()
	e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "dingtalk:" + e.robots.dingURL(), Secret: e.robots.dtSecret})
	if sum := e.run("2025-07-05 08:00"); sum.Sent != 1 {
		t.Fatalf("%+v %+v (bad signs %d)", sum, e.deliveries(), e.robots.badSigns)
	}
	calls := e.robots.all()
	if len(calls) != 1 || e.robots.badSigns != 0 {
		t.Fatalf("%d calls, %d bad signatures", len(calls), e.robots.badSigns)
	}
	md := calls[0].body["markdown"].(map[string]any)
	text := md["text"].(string)
	if md["title"] != "南城区 2025年6月 提升工程2.0 月报" || !strings.Contains(text, "2天内有效") {
		t.Errorf("markdown %v", md)
	}
	link := regexp.MustCompile(`\[下载月报\]\((http[^)]+)\)`).FindStringSubmatch(text)
	if link == nil {
		t.Fatalf("no download link in\n%s", text)
	}
	get := func(u string) (*http.Response, []byte) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := get(link[1])
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), url.PathEscape("2025年6月_南城区_月报.xlsx")) {
		t.Fatalf("link: %d %s %.200s", resp.StatusCode, resp.Header.Get("Content-Disposition"), body)
	}
	mustNotName(t, "the linked 月报", cells(t, body), e.outside("南城区", ""))
	es, _ := e.accounts.Audit(context.Background(), auth.Filter{Action: auth.ActLink})
	if len(es) != 1 || !es[0].OK || es[0].User != "quxian" || es[0].Scope != "区县:南城区" || es[0].Remote == "" {
		t.Errorf("audit of the use: %+v", es)
	}

	u, _ := url.Parse(link[1])
	edit := func(k, v string) string {
		q := u.Query()
		q.Set(k, v)
		c := *u
		c.RawQuery = q.Encode()
		return c.String()
	}
	for _, c := range []struct {
		name, url string
		code      int
	}{
		{"another report", edit("r", "annual"), 403},
		{"another scope", edit("s", "全部"), 403},
		{"another user", edit("u", "admin"), 403},
		{"another month", edit("m", "2025-05"), 403},
		{"another school", edit("sc", "3601000001"), 403},
		{"a later expiry", edit("e", fmt.Sprint(time.Now().Add(1000*time.Hour).Unix())), 403},
		{"no signature", strings.Split(link[1], "&sig=")[0], 403},
		{"a parameter twice", link[1] + "&r=annual", 403},
		{"an extra parameter", link[1] + "&district=西山区", 403},
	} {
		resp, body := get(c.url)
		if resp.StatusCode != c.code || strings.Contains(resp.Header.Get("Content-Type"), "spreadsheet") {
			t.Errorf("%s: %d %.100s", c.name, resp.StatusCode, body)
		}
	}
	es, _ = e.accounts.Audit(context.Background(), auth.Filter{Action: auth.ActLink})
	if len(es) != 10 {
		t.Errorf("%d link uses audited, want 10", len(es))
	}
	for _, en := range es[:9] {
		if en.OK || en.User != "" {
			t.Errorf("a refused link recorded as %+v", en)
		}
	}

	// the recipient's scope changes: the link, made for the old one, stops
	if _, err := e.wh.DB.Exec(`UPDATE users SET district = '西山区' WHERE name = 'quxian'`); err != nil {
		t.Fatal(err)
	}
	if resp, body := get(link[1]); resp.StatusCode != 403 || !strings.Contains(string(body), "范围已变更") {
		t.Errorf("after a scope change: %d %.200s", resp.StatusCode, body)
	}
	if _, err := e.wh.DB.Exec(`UPDATE users SET district = '南城区' WHERE name = 'quxian'`); err != nil {
		t.Fatal(err)
	}
	// disabled: the link stops
	e.accounts.SetDisabled(context.Background(), "quxian", true)
	if resp, _ := get(link[1]); resp.StatusCode != 403 {
		t.Errorf("a disabled recipient's link: %d", resp.StatusCode)
	}
	e.accounts.SetDisabled(context.Background(), "quxian", false)
	// expired: the same link two days on, in a process whose clock says so
	e.cfg.Now = func() time.Time { return time.Now().Add(49 * time.Hour) }
	e.restart()
	if resp, body := get(e.rebase(link[1])); resp.StatusCode != 410 || !strings.Contains(string(body), "已过期") {
		t.Errorf("expired: %d %.200s", resp.StatusCode, body)
	}
}

// Exactly once across a restart: a process stopped after recording and before sending
// sends when it starts again; one stopped after the server accepted and before recording
// that does not send again; one stopped between the two messages of 企业微信 sends only the
// second.
func TestExactlyOnceAcrossRestart(t *testing.T) {
	t.Run("after record, before send", func(t *testing.T) {
		e := newEnv(t)
		e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "email:quxian@example.cn"})
		e.svc.StopAfterRecord(func() bool { return true })
		if _, err := e.svc.RunOnce(context.Background(), at("2025-07-05 08:00"), true); err != deliver.ErrCrashed {
			t.Fatal(err)
		}
		if n := len(e.mail.messages()); n != 0 {
			t.Fatalf("%d mails before the crash", n)
		}
		e.restart()
		// the process comes back later: the time is past, the delivery is not skipped
		if sum := e.run("2025-07-05 09:13"); sum.Sent != 1 || sum.Recorded != 0 {
			t.Errorf("after the restart: %+v", sum)
		}
		e.run("2025-07-05 10:00")
		if n := len(e.mail.messages()); n != 1 {
			t.Errorf("%d mails, want 1", n)
		}
	})
	t.Run("after send, before marking", func(t *testing.T) {
		e := newEnv(t)
		e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "email:quxian@example.cn"})
		e.svc.StopAfterAck(func(deliver.Delivery, int) bool { return true })
		e.run("2025-07-05 08:00")
		if n := len(e.mail.messages()); n != 1 {
			t.Fatalf("%d mails before the crash", n)
		}
		e.restart()
		e.run("2025-07-05 08:00")
		e.run("2025-07-06 08:00")
		if n := len(e.mail.messages()); n != 1 {
			t.Errorf("%d mails after the restart, want 1", n)
		}
		ds := e.deliveries()
		if len(ds) != 1 || ds[0].Status != deliver.StatusUncertain {
			t.Errorf("the interrupted delivery: %+v", ds)
		}
		// the admin, having asked, sends it again
		if err := e.svc.Resend(context.Background(), ds[0].ID, admin); err != nil {
			t.Fatal(err)
		}
		e.run("2025-07-06 09:00")
		if n := len(e.mail.messages()); n != 2 {
			t.Errorf("%d mails after the resend", n)
		}
	})
	t.Run("mid-message", func(t *testing.T) {
		// stopped with the message written but its terminator not: the server discards it,
		// and the delivery is left uncertain rather than risk a second copy
		e := newEnv(t)
		e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "email:quxian@example.cn"})
		e.svc.StopAtCommit(func(deliver.Delivery, int) bool { return true })
		e.run("2025-07-05 08:00")
		e.restart()
		e.run("2025-07-05 08:30")
		if n := len(e.mail.messages()); n != 0 {
			t.Errorf("%d mails", n)
		}
		if ds := e.deliveries(); len(ds) != 1 || ds[0].Status != deliver.StatusUncertain {
			t.Errorf("%+v", ds)
		}
	})
	t.Run("between the robot's two messages", func(t *testing.T) {
		e := newEnv(t)
		e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "wecom:" + e.robots.wecomURL()})
		e.svc.StopAfterAck(func(_ deliver.Delivery, step int) bool { return step == 1 })
		e.run("2025-07-05 08:00")
		e.restart()
		e.run("2025-07-05 08:01")
		var md, files int
		for _, c := range e.robots.all() {
			switch c.body["msgtype"] {
			case "markdown":
				md++
			case "file":
				files++
			}
		}
		// the markdown was acknowledged but not recorded: that one is the window
		if md != 1 || files != 0 {
			t.Fatalf("markdown %d, files %d", md, files)
		}
		ds := e.deliveries()
		if len(ds) != 1 || ds[0].Status != deliver.StatusUncertain {
			t.Fatalf("%+v", ds)
		}
	})
	t.Run("between the robot's two messages, recorded", func(t *testing.T) {
		// the markdown is acknowledged and recorded, the file message refused (over the
		// robot's rate): after a restart only the file goes
		e := newEnv(t)
		e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "wecom:" + e.robots.wecomURL()})
		e.robots.mu.Lock()
		e.robots.refuseFile = 1
		e.robots.mu.Unlock()
		if sum := e.run("2025-07-05 08:00"); sum.Retry != 1 {
			t.Fatalf("%+v %+v", sum, e.deliveries())
		}
		if ds := e.deliveries(); ds[0].StepsDone != 1 {
			t.Fatalf("%+v", ds)
		}
		e.restart()
		if sum := e.run("2025-07-05 08:05"); sum.Sent != 1 {
			t.Fatalf("%+v %+v", sum, e.deliveries())
		}
		var md, files int
		for _, c := range e.robots.all() {
			switch c.body["msgtype"] {
			case "markdown":
				md++
			case "file":
				files++
			}
		}
		if md != 1 || files != 1 {
			t.Fatalf("markdown %d, files %d", md, files)
		}
	})
}

// A mail server that is down delays the delivery, retried after its pause; a robot over
// its rate is tried again too. Failures are on record with their reason.
func TestRetryWithBackoff(t *testing.T) {
	e := newEnv(t)
	l, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close() // nothing listens there now
	e.cfg.SMTP.Addr = down
	e.restart()
	e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "email:quxian@example.cn"})
	e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "wecom:" + e.robots.wecomURL()})
	e.robots.mu.Lock()
	e.robots.refuse = 1
	e.robots.mu.Unlock()
	sum := e.run("2025-07-05 08:00")
	if sum.Retry != 2 || sum.Sent != 0 {
		t.Fatalf("%+v %+v", sum, e.deliveries())
	}
	for _, d := range e.deliveries() {
		if d.Status != deliver.StatusRetry || d.Attempts != 1 || !d.NextAt.Equal(at("2025-07-05 08:01").UTC()) || d.Error == "" {
			t.Errorf("after a failure: %+v", d)
		}
		if strings.Contains(d.Error, e.robots.wecomKey) {
			t.Errorf("the error shows the webhook key: %s", d.Error)
		}
	}
	// not before its pause
	if sum := e.run("2025-07-05 08:00"); sum.Retry+sum.Sent != 0 {
		t.Errorf("retried before the pause: %+v", sum)
	}
	// the mail server is back
	e.cfg.SMTP.Addr = e.mail.addr
	e.restart()
	if sum := e.run("2025-07-05 08:02"); sum.Sent != 2 {
		t.Fatalf("after the pause: %+v %+v", sum, e.deliveries())
	}
	if len(e.mail.messages()) != 1 {
		t.Errorf("%d mails", len(e.mail.messages()))
	}
}

// After the last pause the delivery fails for good, and says why; a permanent refusal (a
// robot key that does not exist) fails at once.
func TestGivesUp(t *testing.T) {
	e := newEnv(t)
	e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "wecom:" + e.robots.ts.URL + "/cgi-bin/webhook/send?key=wrong-key-0000"})
	if sum := e.run("2025-07-05 08:00"); sum.Failed != 1 {
		t.Fatalf("%+v %+v", sum, e.deliveries())
	}
	d := e.deliveries()[0]
	if !strings.Contains(d.Error, "93000") || strings.Contains(d.Error, "wrong-key-0000") {
		t.Errorf("error %q", d.Error)
	}
	l, _ := netListen()
	down := l.Addr().String()
	l.Close()
	e.cfg.SMTP.Addr = down
	e.restart()
	e.subscribe(deliver.NewSubscription{User: "lingdao", Report: "monthly", To: "email:lingdao@example.cn"})
	for _, when := range []string{"2025-07-05 08:00", "2025-07-05 08:01", "2025-07-05 08:06"} {
		e.run(when)
	}
	ds, _ := e.svc.Deliveries(context.Background(), deliver.DeliveryFilter{User: "lingdao"})
	if len(ds) != 1 || ds[0].Status != deliver.StatusFailed || ds[0].Attempts != 3 {
		t.Errorf("after three attempts with two pauses: %+v", ds)
	}
}

// A subscription "after the refresh that brings a new month" goes out once for each month
// later than the one there was when it was made.
func TestNewMonthSubscription(t *testing.T) {
	e := newEnv(t)
	// made when the warehouse's latest month was May
	e.cfg.Now = func() time.Time { return at("2025-05-20 10:00") }
	e.restart()
	sub := e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "email:quxian@example.cn", Schedule: deliver.NewMonth})
	if sub.SinceMonth != "2025-05" {
		t.Fatalf("since %q", sub.SinceMonth)
	}
	if sum := e.run("2025-05-31 10:00"); sum.Recorded != 0 {
		t.Errorf("no new month yet: %+v", sum)
	}
	if sum := e.run("2025-07-01 10:00"); sum.Sent != 1 {
		t.Errorf("June arrived: %+v", sum)
	}
	if sum := e.run("2025-07-02 10:00"); sum.Recorded != 0 {
		t.Errorf("June again: %+v", sum)
	}
	ds := e.deliveries()
	if len(ds) != 1 || ds[0].Period != "2025-06" || ds[0].Month != "2025-06" {
		t.Errorf("%+v", ds)
	}
}

// Secrets stay out of ad-hoc SQL, the pages, the audit trail and the file itself.
func TestSecretsStayPut(t *testing.T) {
	e := newEnv(t)
	e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "dingtalk:" + e.robots.dingURL(), Secret: e.robots.dtSecret})
	e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "wecom:" + e.robots.wecomURL()})
	e.run("2025-07-05 08:00")
	secrets := []string{e.robots.wecomKey, e.robots.dtToken, e.robots.dtSecret, e.mail.pass}

	cat, err := models.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	ah := queries.NewAdHoc(mustRunner(t, e), cat.AnalystTables())
	for _, q := range []string{`SELECT * FROM subscriptions`, `SELECT * FROM deliveries`, `SELECT target_sealed FROM main.subscriptions`,
		`WITH x AS (SELECT * FROM subscriptions) SELECT * FROM x`} {
		if _, err := ah.Run(context.Background(), q); err == nil || !strings.Contains(err.Error(), "不能读取") {
			t.Errorf("ad-hoc %s: %v", q, err)
		}
	}
	var raw strings.Builder
	rows, _ := e.wh.DB.Query(`SELECT target_masked || target_sealed || coalesce(secret_sealed, '') FROM subscriptions`)
	for rows.Next() {
		var s string
		rows.Scan(&s)
		raw.WriteString(s)
	}
	rows.Close()
	es, _ := e.accounts.Audit(context.Background(), auth.Filter{Limit: 1000})
	var trail strings.Builder
	for _, en := range es {
		trail.WriteString(en.Object + en.Detail + "\n")
	}
	ds := e.deliveries()
	var dl strings.Builder
	for _, d := range ds {
		dl.WriteString(d.Target + d.Error)
	}
	page := adminPage(t, e)
	for _, s := range secrets {
		for what, text := range map[string]string{"the stored subscriptions": raw.String(), "the audit trail": trail.String(), "the deliveries": dl.String(), "the 管理 page": page} {
			if strings.Contains(text, s) {
				t.Errorf("%s holds the secret %.8s…", what, s)
			}
		}
	}
	if !strings.Contains(page, "key=****"+e.robots.wecomKey[len(e.robots.wecomKey)-4:]) || !strings.Contains(page, "已设加签") {
		t.Errorf("the 管理 page does not list the subscriptions masked")
	}
}

func adminPage(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	_, tok, err := e.accounts.AddToken(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", e.ts.URL+"/admin", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/admin: %d %.300s", resp.StatusCode, b)
	}
	return string(b)
}

func mustRunner(t *testing.T, e *env) *queries.Runner {
	r, err := queries.NewRunner(e.wh.DB)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// rebase points a link made by an earlier process at this one's address.
func (e *env) rebase(link string) string {
	u, _ := url.Parse(link)
	b, _ := url.Parse(e.ts.URL)
	u.Scheme, u.Host = b.Scheme, b.Host
	return u.String()
}

// The three ways to reach a mail server: implicit TLS with a login, STARTTLS with a login
// (the other tests), plain without one; a wrong password fails without retrying.
func TestMailServerModes(t *testing.T) {
	for _, c := range []struct {
		mode  string
		auth  bool
		wrong bool
	}{{"tls", true, false}, {"none", false, false}, {"starttls", true, true}} {
		t.Run(fmt.Sprintf("%s auth=%v wrong=%v", c.mode, c.auth, c.wrong), func(t *testing.T) {
			e := newEnv(t)
			m := startSMTP(t, c.mode, c.auth)
			e.cfg.SMTP = deliver.SMTP{Addr: m.addr, TLS: c.mode, From: "tisheng@example.cn", User: m.user, Password: m.pass, RootCAs: m.pool, Timeout: 5 * time.Second}
			if c.wrong {
				e.cfg.SMTP.Password = "not-the-password"
			}
			e.restart()
			e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "email:quxian@example.cn"})
			sum := e.run("2025-07-05 08:00")
			if c.wrong {
				ds := e.deliveries()
				if sum.Failed != 1 || len(m.messages()) != 0 || strings.Contains(ds[0].Error, "not-the-password") {
					t.Errorf("a wrong password: %+v %+v", sum, ds)
				}
				return
			}
			if sum.Sent != 1 || len(m.messages()) != 1 {
				t.Fatalf("%+v %+v", sum, e.deliveries())
			}
			if p := parseMail(t, m.messages()[0].data); p.fileName != "2025年6月_南城区_月报.xlsx" {
				t.Errorf("attachment %q", p.fileName)
			}
		})
	}
}

// The server's own scheduler: a mail server that accepts and never answers holds one
// delivery until its timeout, while pages answer as usual and the robot's delivery goes.
func TestSchedulerDoesNotHoldPages(t *testing.T) {
	e := newEnv(t)
	hang, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accepted, never greeted
		}
	}()
	e.cfg.Now = func() time.Time { return at("2025-07-04 12:00") }
	e.restart()
	e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "email:quxian@example.cn"})
	e.subscribe(deliver.NewSubscription{User: "quxian", Report: "monthly", To: "wecom:" + e.robots.wecomURL()})
	e.cfg.Now = func() time.Time { return at("2025-07-05 08:00").Add(30 * time.Second) }
	e.cfg.SMTP.Addr, e.cfg.SMTP.Timeout = hang.Addr().String(), 3*time.Second
	e.cfg.Poll = 100 * time.Millisecond
	e.restart()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.svc.Run(ctx); close(done) }()
	_, tok, _ := e.accounts.AddToken(context.Background(), "lingdao")
	var robotDone, pageOK bool
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !(robotDone && pageOK); time.Sleep(50 * time.Millisecond) {
		req, _ := http.NewRequest("GET", e.ts.URL+"/schools", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("a page while the mail server hangs: %d", resp.StatusCode)
		}
		for _, d := range e.deliveries() {
			if d.Channel == "wecom" && d.Status == deliver.StatusSent {
				robotDone = true
			}
			if d.Channel == "email" && (d.Status == deliver.StatusPending || d.Status == deliver.StatusSending) && robotDone {
				pageOK = true // the page answered while the mail was still waiting
			}
		}
	}
	if !robotDone || !pageOK {
		t.Errorf("robot sent %v, page answered during the wait %v: %+v", robotDone, pageOK, e.deliveries())
	}
	cancel()
	<-done
	for _, d := range e.deliveries() {
		if d.Channel == "email" && d.Status != deliver.StatusRetry {
			t.Errorf("the hung mail after its timeout: %+v", d)
		}
	}
}
