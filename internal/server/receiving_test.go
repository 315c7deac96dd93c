package server

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tisheng/internal/auth"
)

// slowUpload sends an upload's head, then chunk bytes every tick (never the whole body)
// until the test ends or the server answers; the channel gets the status (0: closed with
// no answer).
func slowUpload(t *testing.T, e *env, tok string, burst, chunk int, tick time.Duration) <-chan int {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /api/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: multipart/form-data; boundary=XX\r\nContent-Length: 900000000\r\n\r\n"+
		"--XX\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.csv\"\r\n\r\n", tok)
	if burst > 0 {
		if _, err := c.Write([]byte(strings.Repeat("a", burst))); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan int, 1)
	go func() {
		b := []byte(strings.Repeat("a", chunk))
		for {
			if _, err := c.Write(b); err != nil {
				return
			}
			time.Sleep(tick)
		}
	}()
	go func() {
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

// waitInside waits until n upload bodies are being received.
func waitInside(t *testing.T, e *env, n int) {
	t.Helper()
	for i := 0; e.srv.receiving.inside() != n; i++ {
		if i > 500 {
			t.Fatalf("%d bodies being received, want %d", e.srv.receiving.inside(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Upload bodies arriving slowly (but above the minimum rate) hold the receiving slots: one
// district, its schools' users with it, holds at most its share, and the project office
// always has a slot of its own. Before: four such uploads held every slot and the admin
// got 503.
func TestReceivingSlotsPerScopeAndAdmin(t *testing.T) {
	e := newEnv(t, Config{Limits: Limits{MaxReceiving: 4, ReceivingPerScope: 2, BodyMinRate: 1 << 10, BodyWindow: 2 * time.Second}})
	ds := strings.Split(e.one(`SELECT string_agg(DISTINCT district, ',' ORDER BY district) FROM school_info`), ",")
	schoolOfA := e.one(`SELECT min(school_code) FROM school_info WHERE district = ?`, ds[0])
	a1 := e.token("a1", auth.User{Role: auth.RoleDistrict, District: ds[0]})
	a2 := e.token("a2", auth.User{Role: auth.RoleSchool, School: schoolOfA})
	a3 := e.token("a3", auth.User{Role: auth.RoleDistrict, District: ds[0]})
	b1 := e.token("b1", auth.User{Role: auth.RoleDistrict, District: ds[1]})
	b2 := e.token("b2", auth.User{Role: auth.RoleDistrict, District: ds[1]})
	c1 := e.token("c1", auth.User{Role: auth.RoleDistrict, District: ds[2]})
	// 4 KB every 200 ms: 20 KB/s, well above the 1 KB/s minimum
	slow := func(tok string) <-chan int { return slowUpload(t, e, tok, 0, 4<<10, 200*time.Millisecond) }
	slow(a1)
	slow(a2) // a school of the same district counts in the district
	waitInside(t, e, 2)
	if code := <-slow(a3); code != http.StatusServiceUnavailable {
		t.Errorf("a third upload of district %s: %d", ds[0], code)
	}
	slow(b1)
	slow(b2)
	waitInside(t, e, 4)
	if code := <-slow(c1); code != http.StatusServiceUnavailable {
		t.Errorf("another district past the slots: %d", code)
	}
	demo, _ := filepath.Glob("../../testdata/demo/*学校信息*")
	f, _ := os.ReadFile(demo[0])
	resp, body := postFiles(t, e, map[string][]byte{filepath.Base(demo[0]): f}, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "already_loaded") {
		t.Fatalf("the admin's upload while four slow uploads hold the slots: %d %s", resp.StatusCode, body)
	}
	if e.srv.receiving.inside() != 4 {
		t.Errorf("%d bodies being received, want the 4 slow ones", e.srv.receiving.inside())
	}
}

// A burst banks no credit: after 2 MB at once, a byte every 200 ms (never a stall) is cut
// once a window passes without its quota. Before: the average since the start stayed above
// the minimum for 2,000 s (an hour with 28.8 MB), and the body held its slot that long.
func TestBurstThenTrickleIsCut(t *testing.T) {
	e := newEnv(t, Config{Limits: Limits{BodyMinRate: 1 << 10, BodyWindow: time.Second}})
	tok := e.token("up", auth.User{Role: auth.RoleDistrict, District: e.one(`SELECT min(district) FROM school_info`)})
	start := time.Now()
	done := slowUpload(t, e, tok, 2<<20, 1, 200*time.Millisecond)
	select {
	case code := <-done:
		if code != 0 && code != http.StatusRequestTimeout {
			t.Errorf("answer %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a burst then a trickle was not cut")
	}
	waitInside(t, e, 0)
	t.Logf("cut after %s", time.Since(start).Round(time.Millisecond))
}
