package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tisheng/internal/auth"
	"tisheng/internal/testkit"
	"tisheng/internal/warehouse"
)

// browserAt is a client from ip that keeps its cookies, as a browser does.
func browserAt(t *testing.T, ip string) *http.Client {
	t.Helper()
	c := fromAddr(ip, "")
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Jar = jar
	return c
}

// deviceCookie is the Set-Cookie of the device cookie in a login's answer.
func deviceCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == auth.DeviceCookie {
			return c
		}
	}
	return nil
}

// A login flood from 100 addresses over 150 connections keeps the general hash slot busy;
// the admin, whose browser logged in before (its device cookie), logs in at once, every
// time, with its right password, while a browser without the cookie is refused busy.
// Before: the admin's correct password got 401 after waiting for the slot, and refusals
// for a busy slot gave their tokens back, so the flood never slowed.
func TestLoginFloodLeavesTrustedDevicesIn(t *testing.T) {
	p := auth.DefaultPolicy
	p.HashSlots, p.HashWait = 1, 400*time.Millisecond
	wh, l := testkit.Demo(t, "../../testdata", filepath.Join(t.TempDir(), "w.duckdb"), warehouse.Options{Locked: true})
	e := servePolicy(t, Config{}, wh, l, p)
	e.client("chief", auth.User{Role: auth.RoleAdmin})
	browser := browserAt(t, "127.0.0.9")
	resp := loginForm(t, browser, e.ts.URL, "chief", "password-of-chief")
	dc := deviceCookie(resp)
	if resp.StatusCode != http.StatusSeeOther || dc == nil || !dc.HttpOnly || dc.Path != "/login" || dc.MaxAge < 30*24*3600 ||
		dc.SameSite != http.SameSiteStrictMode {
		t.Fatalf("first login: %d, device cookie %+v", resp.StatusCode, dc)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var answered, other atomic.Int64
	for g := 0; g < 150; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			c := fromAddr(fmt.Sprintf("127.0.1.%d", g%100+1), "")
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.PostForm(e.ts.URL+"/login", map[string][]string{"username": {fmt.Sprintf("x%d_%d", g, i)}, "password": {"guess"}})
				if err != nil {
					continue
				}
				resp.Body.Close()
				if answered.Add(1); resp.StatusCode != http.StatusUnauthorized {
					other.Add(1)
				}
			}
		}(g)
	}
	defer func() { close(stop); wg.Wait() }()
	for answered.Load() < 300 {
		time.Sleep(20 * time.Millisecond)
	}
	for i := 0; i < 3; i++ {
		resp := loginForm(t, browser, e.ts.URL, "chief", "password-of-chief")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the admin with its device cookie during the flood, try %d: %d", i, resp.StatusCode)
		}
		if resp := loginForm(t, browser, e.ts.URL, "chief", "wrong password"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a wrong password with the device cookie: %d", resp.StatusCode)
		}
	}
	// the same admin from a browser without the cookie waits for the general slot: the
	// flood does keep it busy (refused in HashWait, or let in by chance once in a while)
	busy := 0
	for i := 0; i < 5; i++ {
		if loginForm(t, fromAddr(fmt.Sprintf("127.0.2.%d", i+1), ""), e.ts.URL, "chief", "password-of-chief").StatusCode == http.StatusUnauthorized {
			busy++
		}
	}
	if busy == 0 {
		t.Error("the flood never kept the general slot busy: the test proves nothing")
	}
	if other.Load() != 0 {
		t.Errorf("%d flood answers were not 401", other.Load())
	}
	es, _ := e.accounts.Audit(context.Background(), auth.Filter{User: "chief", Action: auth.ActLogin})
	trusted := 0
	for _, x := range es {
		if x.Remote == "127.0.0.9" && x.Detail == "受信任设备" {
			trusted++
		}
	}
	if trusted != 3 {
		t.Errorf("%d audit lines of trusted logins, want 3: %+v", trusted, es)
	}
}

// Behind a shared (NAT) address that others' failures emptied, a user whose browser logged
// in before keeps logging in; one whose browser did not is refused, and the admin's unlock
// clears that address and names it. Before: both got 401, and the unlock cleared nothing
// ("addresses_cleared": 0) since the name had not failed there itself.
func TestSharedAddressKeepsUsersIn(t *testing.T) {
	e := newEnv(t, Config{})
	// the buckets refill with time: a slow machine must not refill them mid-test
	frozen := time.Now().UTC()
	e.accounts.SetClock(func() time.Time { return frozen })
	e.client("t1", auth.User{Role: auth.RoleLeader})
	e.client("t2", auth.User{Role: auth.RoleLeader})
	const nat = "127.0.0.21"
	b1 := browserAt(t, nat)
	if r := loginForm(t, b1, e.ts.URL, "t1", "password-of-t1"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("t1's first login: %d", r.StatusCode)
	}
	for i := 0; i <= auth.DefaultThrottle.AddrBurst; i++ {
		loginForm(t, fromAddr(nat, ""), e.ts.URL, fmt.Sprintf("guess%d", i), "x")
	}
	b2 := browserAt(t, nat)
	if r := loginForm(t, b2, e.ts.URL, "t2", "password-of-t2"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("t2 behind the emptied address: %d", r.StatusCode)
	}
	if r := loginForm(t, b1, e.ts.URL, "t1", "password-of-t1"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("t1, with its device cookie, behind the emptied address: %d", r.StatusCode)
	}
	if _, body := e.get("/admin"); !strings.Contains(string(body), "登录受限（1 个来源地址多次失败）") {
		t.Error("the 管理 page does not show t2 as throttled")
	}
	resp, body := e.post("/api/admin/users/t2/unlock", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"addresses_cleared":1`) || !strings.Contains(string(body), `"addresses":["`+nat+`"]`) {
		t.Fatalf("unlock: %d %s", resp.StatusCode, body)
	}
	if r := loginForm(t, b2, e.ts.URL, "t2", "password-of-t2"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("t2 after the unlock: %d", r.StatusCode)
	}
	es, _ := e.accounts.Audit(context.Background(), auth.Filter{User: "admin", Action: auth.ActUser})
	if len(es) == 0 || !strings.Contains(es[0].Detail, nat) {
		t.Errorf("the unlock's audit line does not name the address: %+v", es)
	}
}
