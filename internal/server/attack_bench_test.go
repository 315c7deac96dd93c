package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"tisheng/internal/auth"
)

// BenchmarkAttacks prints, for a signed-in leader's page (its session cookie, the cached
// 总览), p50 and p99 with no attack and under each attack (a login flood, long calls, trickled bodies), and what other users
// got meanwhile: the admin's and a third district's queries, another user's upload. It
// runs once whatever b.N:
//
//	go test ./internal/server -run '^$' -bench Attacks -benchtime 1x
//
// It speaks HTTP only, so the same file measures an older server too.
func BenchmarkAttacks(b *testing.B) {
	e := newEnv(b, Config{SQLTimeout: 30 * time.Second})
	ds := strings.Split(e.one(`SELECT string_agg(DISTINCT district, ',' ORDER BY district) FROM school_info`), ",")
	tok := func(name string, u auth.User) string {
		e.client(name, u)
		_, t, err := e.accounts.AddToken(context.Background(), name)
		if err != nil {
			b.Fatal(err)
		}
		return t
	}
	atkA, atkB := tok("atk_a", auth.User{Role: auth.RoleDistrict, District: ds[0]}), tok("atk_b", auth.User{Role: auth.RoleDistrict, District: ds[1]})
	analyst := benchClient("127.0.0.7", tok("analyst", auth.User{Role: auth.RoleDistrict, District: ds[2]}))
	uploader := benchClient("127.0.0.8", tok("uploader", auth.User{Role: auth.RoleAdmin}))
	admin := benchClient("127.0.0.9", e.tok)
	if err := e.accounts.AddUser(context.Background(), auth.User{Name: "leader", Role: auth.RoleLeader}, "password-of-leader"); err != nil {
		b.Fatal(err)
	}
	leader := benchClient("127.0.0.3", "")
	resp, err := leader.PostForm(e.ts.URL+"/login", url.Values{"username": {"leader"}, "password": {"password-of-leader"}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("leader login: %v", err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			cookie = c
		}
	}
	demo, _ := filepath.Glob("../../testdata/demo/*学校信息*")
	schools, _ := os.ReadFile(demo[0])
	// every database the attackers and the probes use is built before measuring
	for _, c := range []*http.Client{benchClient("127.0.0.1", atkA), benchClient("127.0.0.1", atkB), analyst, admin} {
		benchDo(c, http.MethodPost, e.ts.URL+"/api/sql", strings.NewReader(`{"sql":"SELECT 1"}`), "application/json")
	}

	type attack struct {
		name string
		run  func(stop <-chan struct{})
	}
	loop := func(stop <-chan struct{}, f func()) {
		for {
			select {
			case <-stop:
				return
			default:
				f()
			}
		}
	}
	// The two calls, a tenth of their size (each still seconds in one call on a
	// server without the size rule); each attacker resubmits as soon as it is answered.
	longSQL := []string{`{"sql":"SELECT length(lpad('x', 200000000, 'y'))"}`, `{"sql":"SELECT length(regexp_replace(repeat('a', 50000000), 'a', 'bbbb', 'g'))"}`}
	attacks := []attack{
		{"none", func(stop <-chan struct{}) { <-stop }},
		{"login flood (8 clients, random names)", func(stop <-chan struct{}) {
			var wg sync.WaitGroup
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					c := benchClient("127.0.0.2", "")
					i := 0
					loop(stop, func() {
						i++
						benchDo(c, http.MethodPost, e.ts.URL+"/login", strings.NewReader(url.Values{"username": {fmt.Sprintf("r%d_%d", g, i)}, "password": {"x"}}.Encode()), "application/x-www-form-urlencoded")
					})
				}(g)
			}
			wg.Wait()
		}},
		{"two long SQL calls (two districts)", func(stop <-chan struct{}) {
			var wg sync.WaitGroup
			for i, t := range []string{atkA, atkB} {
				wg.Add(1)
				go func(i int, t string) {
					defer wg.Done()
					c := benchClient("127.0.0.1", t)
					loop(stop, func() {
						benchDo(c, http.MethodPost, e.ts.URL+"/api/sql", strings.NewReader(longSQL[i]), "application/json")
					})
				}(i, t)
			}
			wg.Wait()
		}},
		{"two trickled uploads (a byte every 200 ms)", func(stop <-chan struct{}) {
			var wg sync.WaitGroup
			for _, t := range []string{atkA, atkB} {
				wg.Add(1)
				go func(t string) {
					defer wg.Done()
					loop(stop, func() { trickleUpload(e.ts.URL, t, 200*time.Millisecond, stop) })
				}(t)
			}
			wg.Wait()
		}},
	}
	fmt.Printf("\n%-44s %9s %9s %9s  %-14s %-14s %-14s\n", "attack", "p50 ms", "p99 ms", "max ms", "admin SQL ok", "analyst ok", "upload ok")
	for _, a := range attacks {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { a.run(stop); close(done) }()
		time.Sleep(2 * time.Second) // the attack under way
		var lat []time.Duration
		var okAdmin, okAnalyst, okUpload, n, nUp int
		for i := 0; i < 300; i++ {
			req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/", nil)
			req.AddCookie(cookie)
			t0 := time.Now()
			resp, err := leader.Do(req)
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("leader page: %v %v", err, resp)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(t0))
			if i%30 == 0 {
				n++
				if benchDo(admin, http.MethodPost, e.ts.URL+"/api/sql", strings.NewReader(`{"sql":"SELECT count(*) FROM teacher_progress"}`), "application/json") == 200 {
					okAdmin++
				}
				if benchDo(analyst, http.MethodPost, e.ts.URL+"/api/sql", strings.NewReader(`{"sql":"SELECT count(*) FROM teacher_progress"}`), "application/json") == 200 {
					okAnalyst++
				}
			}
			if i%100 == 0 {
				nUp++
				if benchUpload(uploader, e.ts.URL, filepath.Base(demo[0]), schools) == 200 {
					okUpload++
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		close(stop)
		<-done
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		fmt.Printf("%-44s %9.1f %9.1f %9.1f  %-14s %-14s %-14s\n", a.name, ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), ms(lat[len(lat)-1]),
			fmt.Sprintf("%d/%d", okAdmin, n), fmt.Sprintf("%d/%d", okAnalyst, n), fmt.Sprintf("%d/%d", okUpload, nUp))
		time.Sleep(time.Second) // what the attack left running ends
	}
}

// benchClient is a client whose connections come from ip (any 127.x.y.z is this host).
func benchClient(ip, tok string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	var rt http.RoundTripper = &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64}
	if tok != "" {
		rt = bearerOver{tok, rt}
	}
	return &http.Client{Transport: rt, Timeout: 5 * time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func benchDo(c *http.Client, method, u string, body io.Reader, ctype string) int {
	req, _ := http.NewRequest(method, u, body)
	req.Header.Set("Content-Type", ctype)
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// benchUpload uploads one file (already loaded: answered without loading).
func benchUpload(c *http.Client, base, name string, b []byte) int {
	body := "--XX\r\nContent-Disposition: form-data; name=\"files\"; filename=\"" + name + "\"\r\nContent-Type: text/csv\r\n\r\n" + string(b) + "\r\n--XX--\r\n"
	return benchDo(c, http.MethodPost, base+"/api/ingest", strings.NewReader(body), "multipart/form-data; boundary=XX")
}

// trickleUpload sends an upload's head, then a byte every gap, until the server cuts it or
// stop closes.
func trickleUpload(base, tok string, gap time.Duration, stop <-chan struct{}) {
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		return
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=XX\r\nContent-Length: 500000\r\n\r\n--XX\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.csv\"\r\n\r\n", tok)
	for {
		select {
		case <-stop:
			return
		case <-time.After(gap):
		}
		if _, err := c.Write([]byte{'a'}); err != nil {
			return
		}
	}
}
