package deliver

import (
	"context"
	"mime"
	"net/url"
	"strings"
	"testing"
	"time"

	mail "github.com/wneessen/go-mail"
)

func TestLastTick(t *testing.T) {
	at := func(s string) time.Time {
		t, _ := time.ParseInLocation("2006-01-02 15:04", s, zone)
		return t
	}
	for _, c := range []struct {
		spec, after, now, want string
	}{
		{"0 8 5 * *", "2025-06-20 10:00", "2025-07-05 07:59", ""},
		{"0 8 5 * *", "2025-06-20 10:00", "2025-07-05 08:00", "2025-07-05 08:00"},
		// a long stop: the latest time only, not every one missed
		{"0 8 5 * *", "2025-01-20 10:00", "2025-07-20 10:00", "2025-07-05 08:00"},
		{"0 8 5 * *", "2025-07-05 08:00", "2025-07-20 10:00", ""},
		{"30 7 * * 1", "2025-07-01 00:00", "2025-07-16 12:00", "2025-07-14 07:30"},
	} {
		s, err := parseSchedule(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		got := s.lastTick(at(c.after), at(c.now))
		if (c.want == "" && !got.IsZero()) || (c.want != "" && !got.Equal(at(c.want))) {
			t.Errorf("%s after %s at %s: %v, want %s", c.spec, c.after, c.now, got, c.want)
		}
	}
	// the zone is Beijing's whatever the machine's: 08:00 there is 00:00 UTC
	s, _ := parseSchedule(DefaultSchedule)
	got := s.lastTick(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 7, 5, 0, 0, 0, 0, time.UTC))
	if !got.Equal(time.Date(2025, 7, 5, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("default schedule in UTC: %v", got)
	}
	if describe(DefaultSchedule) != "每月5日 08:00" || describe(NewMonth) != "新月份数据导入后" {
		t.Errorf("%q %q", describe(DefaultSchedule), describe(NewMonth))
	}
}

func TestLimiterKeepsTwentyAMinute(t *testing.T) {
	now := time.Date(2025, 7, 5, 8, 0, 0, 0, time.UTC)
	l := newLimiter(func() time.Time { return now })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	for i := 0; i < robotPerMinute; i++ {
		if err := l.wait(ctx, "r"); err != nil {
			t.Fatalf("message %d waited: %v", i+1, err)
		}
	}
	if err := l.wait(ctx, "other"); err != nil {
		t.Errorf("another robot waited: %v", err)
	}
	if err := l.wait(ctx, "r"); err == nil {
		t.Error("the 21st message within a minute did not wait")
	}
	now = now.Add(time.Minute)
	if err := l.wait(context.Background(), "r"); err != nil {
		t.Errorf("a minute later: %v", err)
	}
}

func TestDestinations(t *testing.T) {
	d, err := ParseDest("wecom:https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xx6-4bc4-97a0-0ec2sifa5aaa", nil)
	if err != nil || d.Masked() != "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=****5aaa" {
		t.Errorf("%v %q", err, d.Masked())
	}
	for _, bad := range []string{
		"wecom:https://qyapi.weixin.qq.com.evil.cn/cgi-bin/webhook/send?key=k",
		"wecom:https://user@qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
		"wecom:https://qyapi.weixin.qq.com:8443/cgi-bin/webhook/send?key=k",
		"wecom:https://qyapi.weixin.qq.com/cgi-bin/webhook/upload_media?key=k",
		"wecom:https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
		"dingtalk:https://127.0.0.1/robot/send?access_token=t",
		"dingtalk:file:///etc/passwd",
		"email:a@b.cn,c@d.cn",
		"email:张三 <a@b.cn>",
	} {
		if _, err := ParseDest(bad, nil); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := ParseDest("dingtalk:http://127.0.0.1:9/robot/send?access_token=t", []string{"127.0.0.1"}); err != nil {
		t.Errorf("an allowed relay: %v", err)
	}
}

func TestLinkSignature(t *testing.T) {
	now := time.Unix(1751700000, 0)
	l := &linkSigner{key: derive([]byte("0123456789abcdef0123456789abcdef"), "deliver links v1"), now: func() time.Time { return now }}
	k := Link{Report: "monthly", User: "u", Scope: "区县:东湖区", Month: "2025-06", Delivery: 7, Expires: now.Add(time.Hour)}
	q := l.query(k)
	got, err := l.verify(q)
	if err != nil || got.Scope != k.Scope || got.Delivery != 7 {
		t.Fatalf("%+v %v", got, err)
	}
	v, _ := url.ParseQuery(q)
	v.Set("s", "全部")
	if _, err := l.verify(v.Encode()); err != ErrLinkInvalid {
		t.Errorf("an edited scope: %v", err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := l.verify(q); err != ErrLinkExpired {
		t.Errorf("expired: %v", err)
	}
	other := &linkSigner{key: derive([]byte("another warehouse key, 32 bytes"), "deliver links v1"), now: l.now}
	if _, err := other.verify(q); err != ErrLinkInvalid {
		t.Errorf("another warehouse's key: %v", err)
	}
}

func TestSealing(t *testing.T) {
	s, _ := newSealer([]byte("0123456789abcdef0123456789abcdef"))
	sealed := s.seal("SECsecret", "secret")
	if strings.Contains(sealed, "SECsecret") {
		t.Fatal("not sealed")
	}
	if p, err := s.open(sealed, "secret"); err != nil || p != "SECsecret" {
		t.Errorf("%q %v", p, err)
	}
	if _, err := s.open(sealed, "target"); err == nil {
		t.Error("a secret opened as a target")
	}
}

// The attachment's Chinese name survives in RFC 2231 form, however long.
func TestAttachmentName(t *testing.T) {
	for _, name := range []string{"2025年6月_东湖区_月报.xlsx", "2025年6月_西山区_西山区第一实验小学（东校区）附属幼儿园_学校名单.xlsx", "a%b;c\".xlsx"} {
		f := &mail.File{Header: map[string][]string{}}
		rfc2231(name)(f)
		cd := f.Header.Get("Content-Disposition")
		for _, line := range strings.Split(cd, " ") {
			if strings.HasPrefix(line, "filename*") && len(line) > 76 {
				t.Errorf("a header piece of %d characters: %s", len(line), line)
			}
		}
		_, p, err := mime.ParseMediaType(cd)
		if err != nil || p["filename"] != name {
			t.Errorf("%s: %q %v (%s)", name, p["filename"], err, cd)
		}
	}
}
