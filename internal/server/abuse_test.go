package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tisheng/internal/auth"
	"tisheng/internal/scoped"
)

// Attacks by one user against the others, over real HTTP.

// fromAddr is a client whose connections come from ip (any 127.x.y.z is this host), so that
// the server sees distinct client addresses; tok, if set, is sent as a bearer token.
func fromAddr(ip, tok string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	var rt http.RoundTripper = &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64}
	if tok != "" {
		rt = bearerOver{tok, rt}
	}
	return &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type bearerOver struct {
	tok string
	rt  http.RoundTripper
}

func (b bearerOver) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.tok)
	return b.rt.RoundTrip(r)
}

// token makes a user (unless it exists) and returns a new API token of it.
func (e *env) token(name string, u auth.User) string {
	e.t.Helper()
	e.client(name, u)
	_, tok, err := e.accounts.AddToken(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func loginForm(t *testing.T, c *http.Client, base, user, pw string) *http.Response {
	t.Helper()
	resp, err := c.PostForm(base+"/login", url.Values{"username": {user}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// A login flood with random names from one address: every attempt is refused alike and
// quickly, hashes stop once the address is throttled, a signed-in leader's pages keep
// answering, and a user at another address logs in.
func TestLoginFloodStarvesNobody(t *testing.T) {
	e := newEnv(t, Config{})
	leader := fromAddr("127.0.0.3", e.token("leader", auth.User{Role: auth.RoleLeader}))
	e.client("analyst", auth.User{Role: auth.RoleDistrict, District: e.one(`SELECT min(district) FROM school_info`)})
	attacker := fromAddr("127.0.0.2", "")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := attacker.PostForm(e.ts.URL+"/login", url.Values{"username": {fmt.Sprintf("rnd%d_%d", g, i)}, "password": {"x"}})
				if err != nil {
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				if !strings.Contains(string(b), auth.ErrBadCredentials.Error()) {
					codes[-1]++
				}
				mu.Unlock()
			}
		}(g)
	}
	flooded := func() int {
		mu.Lock()
		defer mu.Unlock()
		return codes[http.StatusUnauthorized]
	}
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < 40 || (flooded() < 200 && time.Now().Before(deadline)); i++ {
		resp, body := do(t, leader, http.MethodGet, e.ts.URL+"/api/overview", nil, "")
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"summary"`) {
			t.Fatalf("leader's page during the flood: %d %.200s", resp.StatusCode, body)
		}
	}
	if r := loginForm(t, fromAddr("127.0.0.4", ""), e.ts.URL, "analyst", "password-of-analyst"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("a user at another address cannot log in during the flood: %d", r.StatusCode)
	}
	close(stop)
	wg.Wait()
	if codes[-1] != 0 || len(codes) != 1 || codes[http.StatusUnauthorized] < 200 {
		t.Fatalf("flood answers (-1: not the uniform message): %v", codes)
	}
	// Throttled attempts are not hashed, and not written one by one.
	es, _ := e.accounts.Audit(context.Background(), auth.Filter{Action: auth.ActLoginFailed, Limit: 100000})
	hashed, throttledLines := 0, 0
	for _, x := range es {
		switch {
		case x.Detail == auth.ReasonUnknownName:
			hashed++
		case strings.HasPrefix(x.Detail, auth.ReasonThrottledAddr):
			throttledLines++
		}
		if x.Remote != "127.0.0.2" {
			t.Errorf("audit line from %s: %+v", x.Remote, x)
		}
	}
	if hashed > auth.DefaultThrottle.AddrBurst+30 || throttledLines > 2 {
		t.Errorf("%d hashed, %d throttled lines for %d attempts", hashed, throttledLines, codes[http.StatusUnauthorized])
	}
}

// An admin clears a throttled name from the API and from the 管理 page.
func TestAdminUnlock(t *testing.T) {
	e := newEnv(t, Config{})
	e.client("web", auth.User{Role: auth.RoleAdmin})
	c := fromAddr("127.0.0.5", "")
	for i := 0; i <= auth.DefaultThrottle.NameBurst; i++ {
		loginForm(t, c, e.ts.URL, "web", "wrong")
	}
	if r := loginForm(t, c, e.ts.URL, "web", "password-of-web"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("not throttled: %d", r.StatusCode)
	}
	_, body := e.get("/admin")
	if !strings.Contains(string(body), "登录受限（1 个来源地址多次失败）") {
		t.Errorf("the 管理 page does not show the throttled name")
	}
	resp, body := e.post("/api/admin/users/web/unlock", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"addresses_cleared":1`) {
		t.Fatalf("unlock: %d %s", resp.StatusCode, body)
	}
	if r := loginForm(t, c, e.ts.URL, "web", "password-of-web"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the unlock: %d", r.StatusCode)
	}
	if resp, _ := e.post("/api/admin/users/nobody/unlock", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unlock of an unknown name: %d", resp.StatusCode)
	}
	// the page's button
	for i := 0; i <= auth.DefaultThrottle.NameBurst; i++ {
		loginForm(t, c, e.ts.URL, "web", "wrong")
	}
	resp, body = do(t, e.c, http.MethodPost, e.ts.URL+"/admin/users", strings.NewReader("op=unlock&name=web"), "application/x-www-form-urlencoded")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "已解除 web 的登录限制") {
		t.Fatalf("page unlock: %d", resp.StatusCode)
	}
	if r := loginForm(t, c, e.ts.URL, "web", "password-of-web"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the page's unlock: %d", r.StatusCode)
	}
	// a leader cannot unlock
	ld := e.client("ld", auth.User{Role: auth.RoleLeader})
	if resp, _ := do(t, ld, http.MethodPost, e.ts.URL+"/api/admin/users/web/unlock", nil, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a leader's unlock: %d", resp.StatusCode)
	}
}

// Refusals are in the audit trail: another district's school, roster and page (403), a
// request without a valid login (401), a cross-origin POST; never the body.
func TestRefusalsAudited(t *testing.T) {
	e := newEnv(t, Config{})
	d := e.one(`SELECT min(district) FROM school_info`)
	other := e.one(`SELECT min(school_code) FROM school_info WHERE district <> ?`, d)
	qx := e.client("qx", auth.User{Role: auth.RoleDistrict, District: d})
	for _, p := range []string{"/api/school/" + other, "/schools/" + other, "/download/roster.xlsx?school=" + other, "/admin"} {
		if resp, _ := do(t, qx, http.MethodGet, e.ts.URL+p, nil, ""); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
	es, _ := e.accounts.Audit(context.Background(), auth.Filter{User: "qx", Action: auth.ActDenied})
	got := map[string]bool{}
	for _, x := range es {
		got[x.Object] = true
		if x.Scope != "区县:"+d || x.Remote == "" {
			t.Errorf("denied line %+v", x)
		}
	}
	for _, want := range []string{"GET /api/school/" + other, "GET /schools/" + other, "GET /download/roster.xlsx?school=" + other, "GET /admin"} {
		if !got[want] {
			t.Errorf("no audit line for %s: %v", want, got)
		}
	}
	if len(es) != 4 {
		t.Errorf("%d denied lines for 4 refusals", len(es))
	}

	anon := fromAddr("127.0.0.6", "tsk_000000000000_not_a_token")
	for i := 0; i < 5; i++ {
		if resp, _ := do(t, anon, http.MethodGet, e.ts.URL+"/api/overview", nil, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad token: %d", resp.StatusCode)
		}
	}
	es, _ = e.accounts.Audit(context.Background(), auth.Filter{Action: auth.ActUnauthorized})
	if len(es) != 1 || es[0].Remote != "127.0.0.6" || es[0].Object != "GET /api/overview" || strings.Contains(es[0].Detail, "tsk_") {
		t.Errorf("401 lines (one a minute per address): %+v", es)
	}

	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/api/sql", strings.NewReader(`{"sql":"SELECT 'secret body'"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://evil.example")
	resp, err := e.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin: %d", resp.StatusCode)
	}
	es, _ = e.accounts.Audit(context.Background(), auth.Filter{Action: auth.ActCrossOrigin})
	if len(es) != 1 || !strings.Contains(es[0].Detail, "evil.example") || strings.Contains(es[0].Detail, "secret body") || es[0].Object != "POST /api/sql" {
		t.Errorf("cross-origin lines: %+v", es)
	}
}

// Disabling from the 管理 page revokes the account's tokens; enabling does not revive them.
func TestDisableFromThePageRevokesTokens(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.client("qx", auth.User{Role: auth.RoleLeader})
	for _, op := range []string{"disable", "enable"} {
		if resp, _ := do(t, e.c, http.MethodPost, e.ts.URL+"/admin/users", strings.NewReader("op="+op+"&name=qx"), "application/x-www-form-urlencoded"); resp.StatusCode != 200 {
			t.Fatalf("%s: %d", op, resp.StatusCode)
		}
	}
	if resp, _ := do(t, c, http.MethodGet, e.ts.URL+"/api/overview", nil, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a token of a disabled and re-enabled account: %d", resp.StatusCode)
	}
}

// The 管理 page's new account is checked against the school list.
func TestAdminPageChecksTheSchoolList(t *testing.T) {
	e := newEnv(t, Config{})
	d := e.one(`SELECT min(district) FROM school_info`)
	add := func(district string) (int, string) {
		form := url.Values{"op": {"add"}, "name": {"n" + fmt.Sprint(len(district))}, "role": {"district"}, "district": {district}}
		resp, body := do(t, e.c, http.MethodPost, e.ts.URL+"/admin/users", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
		return resp.StatusCode, string(body)
	}
	if code, body := add(d + "X"); code != http.StatusBadRequest || !strings.Contains(body, "不在已导入的学校信息中") {
		t.Errorf("unknown district: %d", code)
	}
	if code, _ := add(d + " "); code != 200 {
		t.Errorf("a trailing space: %d", code)
	}
}

// trickle opens a raw connection, sends head, then the body one byte every gap (never all
// of it); it returns the status the server answered with (0: it closed without one).
func trickle(t *testing.T, e *env, head string, gap time.Duration) <-chan int {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		for i := 0; i < 10000; i++ {
			if _, err := c.Write([]byte{'a'}); err != nil {
				return
			}
			time.Sleep(gap)
		}
	}()
	go func() {
		c.SetReadDeadline(time.Now().Add(2 * time.Minute))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	return done
}

// Trickled bodies hold no slot and are cut once below the minimum rate: two trickled
// uploads and a trickled query leave other users' uploads and queries answered; the same
// user's second upload meanwhile is refused 429.
func TestTrickledBodiesHoldNoSlot(t *testing.T) {
	e := newEnv(t, Config{MaxUpload: 1 << 20, Limits: Limits{BodyWindow: time.Second, BodyMinRate: 1 << 10, MaxUploads: 1, MaxSQL: 1}})
	d := e.one(`SELECT min(district) FROM school_info`)
	d2 := e.one(`SELECT max(district) FROM school_info`)
	tokA := e.token("upa", auth.User{Role: auth.RoleDistrict, District: d})
	tokB := e.token("upb", auth.User{Role: auth.RoleDistrict, District: d2})
	up := func(tok string) string {
		return "POST /api/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + tok +
			"\r\nContent-Type: multipart/form-data; boundary=XX\r\nContent-Length: 500000\r\n\r\n--XX\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.csv\"\r\n\r\n"
	}
	sqlHead := "POST /api/sql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + tokB + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"sql\": \"SELECT '"
	start := time.Now()
	a, b, q := trickle(t, e, up(tokA), 100*time.Millisecond), trickle(t, e, up(tokB), 100*time.Millisecond), trickle(t, e, sqlHead, 100*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // all three are being read
	// the same uploader again: one upload at a time each
	if resp, body := do(t, fromAddr("127.0.0.1", tokA), http.MethodPost, e.ts.URL+"/api/ingest", strings.NewReader("x"), "multipart/form-data; boundary=XX"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the trickler's second upload: %d %s", resp.StatusCode, body)
	}
	// everyone else: an upload (of a file already loaded: answered without loading) and a query
	demo, _ := filepath.Glob("../../testdata/demo/*学校信息*")
	f, _ := os.ReadFile(demo[0])
	resp, body := postFiles(t, e, map[string][]byte{filepath.Base(demo[0]): f}, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "already_loaded") {
		t.Errorf("another upload while two trickle: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.postSQL("SELECT 1 AS x", "json"); resp.StatusCode != 200 {
		t.Errorf("a query while one trickles: %d %s", resp.StatusCode, body)
	}
	for name, ch := range map[string]<-chan int{"upload a": a, "upload b": b, "query": q} {
		select {
		case code := <-ch:
			if code != 0 && code != http.StatusRequestTimeout {
				t.Errorf("%s: %d", name, code)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s was never cut", name)
		}
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("trickles cut after %s", time.Since(start))
	}
	// nothing was written for them, and the upload slot is free
	if len(e.srv.uploadSlots) != 0 || e.srv.receiving.inside() != 0 {
		t.Errorf("slots held: %d %d", len(e.srv.uploadSlots), e.srv.receiving.inside())
	}
}

// The message of a cut body names the rule.
func TestSlowBodyAnswer(t *testing.T) {
	e := newEnv(t, Config{Limits: Limits{BodyWindow: 300 * time.Millisecond, BodyMinRate: 1 << 10}})
	c, err := net.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/sql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"sql\": \"SELE", e.tok)
	c.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "请求体传送过慢") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

// Past the loading slots an upload is answered 503 at once with Retry-After, after its
// body was received (the slot is not held while a body arrives).
func TestBusyAnswers503(t *testing.T) {
	e := newEnv(t, Config{Limits: Limits{MaxUploads: 1}})
	e.srv.uploadSlots <- struct{}{} // an upload loading
	resp, body := postFiles(t, e, map[string][]byte{"y.csv": []byte("列一\n1\n")}, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "服务器正忙") {
		t.Fatalf("second upload: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	<-e.srv.uploadSlots
	if resp, body = postFiles(t, e, map[string][]byte{"y.csv": []byte("列一\n1\n")}, nil); resp.StatusCode == http.StatusServiceUnavailable {
		t.Fatalf("the slot was not released: %s", body)
	}
}

// An upload of more files (or other parts) than allowed is refused whole, before anything
// is loaded, with one audit line.
func TestUploadPartsCapped(t *testing.T) {
	e := newEnv(t, Config{Limits: Limits{MaxUploadFiles: 5}})
	batches := e.one(`SELECT count(*) FROM batches`)
	files := map[string][]byte{}
	for i := 0; i < 6; i++ {
		files[fmt.Sprintf("学校信息_%d.csv", i)] = []byte("学校代码,学校名称,区县\n1,一,东湖区\n")
	}
	resp, body := postFiles(t, e, files, nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "一次最多上传 5 个文件") {
		t.Fatalf("6 files: %d %s", resp.StatusCode, body)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i < 20; i++ {
		mw.WriteField(fmt.Sprintf("x%d", i), "y")
	}
	fw, _ := mw.CreateFormFile("files", "a.csv")
	fw.Write([]byte("a\n"))
	mw.Close()
	resp, body = do(t, e.c, http.MethodPost, e.ts.URL+"/api/ingest", &buf, mw.FormDataContentType())
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "字段过多") {
		t.Fatalf("20 fields: %d %s", resp.StatusCode, body)
	}
	if got := e.one(`SELECT count(*) FROM batches`); got != batches {
		t.Errorf("batches %s -> %s", batches, got)
	}
	es, _ := e.accounts.Audit(context.Background(), auth.Filter{Action: auth.ActUpload})
	if len(es) != 2 || es[0].OK || !strings.Contains(es[1].Detail, "未导入") {
		t.Errorf("audit of refused uploads: %+v", es)
	}
}

// Ad-hoc query slots: one district cannot take every slot, and the project office always
// has one of its own.
func TestSQLSlotsPerScopeAndAdmin(t *testing.T) {
	e := newEnv(t, Config{SQLTimeout: 4 * time.Second, Limits: Limits{MaxSQL: 2}})
	ds := strings.Split(e.one(`SELECT string_agg(DISTINCT district, ',' ORDER BY district) FROM school_info`), ",")
	if len(ds) < 3 {
		t.Fatalf("districts %v", ds)
	}
	long := `{"sql": "SELECT count(*) FROM range(1000000000000) t(i) WHERE i % 7 = 3"}`
	run := func(c *http.Client, q string) (int, string) {
		resp, body := do(t, c, http.MethodPost, e.ts.URL+"/api/sql", strings.NewReader(q), "application/json")
		return resp.StatusCode, string(body)
	}
	a1 := e.client("a1", auth.User{Role: auth.RoleDistrict, District: ds[0]})
	a2 := e.client("a2", auth.User{Role: auth.RoleDistrict, District: ds[0]})
	b1 := e.client("b1", auth.User{Role: auth.RoleDistrict, District: ds[1]})
	c1 := e.client("c1", auth.User{Role: auth.RoleDistrict, District: ds[2]})
	waitRunning := func(n int) {
		for i := 0; ; i++ {
			e.srv.gate.mu.Lock()
			got := e.srv.gate.others
			e.srv.gate.mu.Unlock()
			if got == n {
				return
			}
			if i > 500 {
				t.Fatalf("%d queries running, want %d", got, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); run(a1, long) }()
	waitRunning(1)
	if code, body := run(a2, `{"sql": "SELECT 1 AS x"}`); code != http.StatusServiceUnavailable || !strings.Contains(body, "区县:"+ds[0]) {
		t.Errorf("a second query of the same district: %d %s", code, body)
	}
	go func() { defer wg.Done(); run(b1, long) }()
	waitRunning(2)
	if code, body := run(c1, `{"sql": "SELECT 1 AS x"}`); code != http.StatusServiceUnavailable {
		t.Errorf("a third district past the slots: %d %s", code, body)
	}
	if code, body := run(e.c, `{"sql": "SELECT 1 AS x"}`); code != 200 {
		t.Errorf("the admin while two districts hold the slots: %d %s", code, body)
	}
	wg.Wait()
	if code, body := run(a2, `{"sql": "SELECT 1 AS x"}`); code != 200 {
		t.Errorf("after the long queries: %d %s", code, body)
	}
}

// A district's database spills into a directory of its own beside the warehouse (private
// to the server's user), never into the working directory, and tries no extension.
func TestScopeDatabasesSpillBesideTheWarehouse(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	e := newEnv(t, Config{})
	d := e.one(`SELECT min(district) FROM school_info`)
	sd, err := scoped.Build(context.Background(), e.wh.DB, e.srv.cfg.Models, scoped.Key{District: d}, "160MB")
	if err != nil {
		t.Fatal(err)
	}
	defer sd.Close()
	var dir string
	if err := sd.DB.QueryRow(`SELECT current_setting('temp_directory')`).Scan(&dir); err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(dir) != e.wh.Path+".tmp" {
		t.Fatalf("a scope database spills to %q, not beside the warehouse %s", dir, e.wh.Path)
	}
	if st, err := os.Stat(filepath.Dir(dir)); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("temporary directory %v %v", st.Mode(), err)
	}
	// make it spill: a sort past its 160 MB (the district's own tables hold part of it)
	seen := make(chan bool, 1)
	stop := make(chan struct{})
	go func() {
		found := false
		for {
			select {
			case <-stop:
				seen <- found
				return
			default:
			}
			if es, _ := os.ReadDir(dir); len(es) > 0 {
				found = true
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	var n int64
	if err := sd.DB.QueryRow(`SELECT count(*) FROM (SELECT i, md5(i::VARCHAR) AS h FROM range(4000000) t(i) ORDER BY h)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	close(stop)
	if !<-seen {
		t.Error("the sort did not spill where it should (or at all)")
	}
	wd, _ := os.Getwd()
	if _, err := os.Stat(filepath.Join(wd, ".tmp")); !os.IsNotExist(err) {
		t.Errorf("a spill directory in the working directory: %v", err)
	}
	// an extension's type fails (ICU, which gives localtimestamp, is built into DuckDB 1.5.6)
	for _, q := range []string{"SELECT '1.2.3.4'::INET"} {
		var v any
		if err := sd.DB.QueryRow(q).Scan(&v); err == nil {
			t.Errorf("%s ran", q)
		}
	}
	if _, err := os.Stat(filepath.Join(home, ".duckdb")); !os.IsNotExist(err) {
		t.Errorf("DuckDB wrote under the home directory: %v", err)
	}
}
