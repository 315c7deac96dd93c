package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"
)

// server is a running `tisheng serve`.
type server struct {
	cmd  *exec.Cmd
	url  string
	out  bytes.Buffer
	done chan error
}

// serve starts a binary's server on a free loopback port and waits for /healthz.
func (c *config) serve(ctx context.Context, bin, db string) (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	s := &server{url: "http://" + addr, done: make(chan error, 1)}
	s.cmd = exec.CommandContext(ctx, bin, "serve", "--db", db, "--addr", addr)
	s.cmd.Env = append(os.Environ(), "TISHENG_ID_KEY="+benchKey, "TISHENG_KEY_FILE=")
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait() }()
	for i := 0; ; i++ {
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("serve ended: %v\n%s", err, tail(s.out.String(), 2000))
		default:
		}
		if resp, err := http.Get(s.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		if i > 1200 {
			s.stop()
			return nil, fmt.Errorf("serve did not start in 2 minutes\n%s", tail(s.out.String(), 2000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the server as an operator would (SIGINT) and waits for it.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// get fetches a page with a token and fails on any status but 200.
func get(client *http.Client, u, tok string) (time.Duration, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	el := time.Since(t0)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return el, err
}

// burst asks for every URL once, clients at a time, and returns the latencies.
func burst(client *http.Client, urls []string, tok string, clients int) ([]time.Duration, error) {
	lat := make([]time.Duration, len(urls))
	errs := make([]error, len(urls))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				lat[i], errs[i] = get(client, urls[i], tok)
			}
		}()
	}
	for i := range urls {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return lat, nil
}

func pct(lat []time.Duration, p int) float64 {
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := len(s) * p / 100
	if i >= len(s) {
		i = len(s) - 1
	}
	return float64(s[i].Microseconds()) / 1000
}

// benchPages measures the first views of 学校进度 (every month and district) and 学校详情
// (clients × per-client schools and months) as the admin, clients at a time, each run on a
// server started afresh, so that no page is served from the page cache.
func (c *config) benchPages(ctx context.Context, city *cityFiles) ([]row, error) {
	fmt.Fprintf(c.stdout, "pages at city scale, %d clients, first views …\n", c.clients)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.clients, MaxConnsPerHost: c.clients}}
	var progress []string
	for _, m := range city.months {
		for _, d := range append([]string{""}, city.districts...) {
			progress = append(progress, "/schools?"+url.Values{"month": {m}, "district": {d}}.Encode())
		}
	}
	var detail []string
	for i := 0; len(detail) < c.clients*c.perClient && i < len(city.schools)*len(city.months); i++ {
		s := city.schools[(i*7919)%len(city.schools)]
		m := city.months[(i/len(city.schools))%len(city.months)]
		detail = append(detail, "/schools/"+s+"?month="+m)
	}
	seen := map[string]bool{}
	for _, u := range detail {
		if seen[u] {
			return nil, fmt.Errorf("the city has too few schools for %d first views of 学校详情", len(detail))
		}
		seen[u] = true
	}
	type obs struct{ p50, p99 []float64 }
	res := map[string]*obs{"progress-old": {}, "progress-new": {}, "detail-old": {}, "detail-new": {}}
	_, _, err := c.inTurn(c.runs, func(bin string, old bool) (float64, error) {
		db := filepath.Join(c.dir, "serve-"+c.label(old)+".duckdb")
		if err := copyDB(city.base[old], db); err != nil {
			return 0, err
		}
		s, err := c.serve(ctx, bin, db)
		if err != nil {
			return 0, err
		}
		defer s.stop()
		tok := city.adminTok[old]
		if _, err := get(client, s.url+"/", tok); err != nil { // the first connection and statements
			return 0, err
		}
		for _, p := range []struct {
			key  string
			urls []string
		}{{"progress", progress}, {"detail", detail}} {
			urls := make([]string, len(p.urls))
			for i, u := range p.urls {
				urls[i] = s.url + u
			}
			lat, err := burst(client, urls, tok, c.clients)
			if err != nil {
				return 0, err
			}
			o := res[p.key+"-"+c.label(old)]
			o.p50 = append(o.p50, pct(lat, 50))
			o.p99 = append(o.p99, pct(lat, 99))
		}
		return 0, nil
	})
	rows := []row{
		{name: fmt.Sprintf("学校进度 first view p99, %d clients (%d views a run)", c.clients, len(progress)), unit: "ms", target: "≤ 1.1x",
			old: res["progress-old"].p99, new: res["progress-new"].p99,
			note: fmt.Sprintf("p50 %.1f ms old, %.1f ms new", median(res["progress-old"].p50), median(res["progress-new"].p50))},
		{name: fmt.Sprintf("学校详情 first view p99, %d clients (%d views a run)", c.clients, len(detail)), unit: "ms", target: "< 100 ms",
			old: res["detail-old"].p99, new: res["detail-new"].p99,
			note: fmt.Sprintf("p50 %.1f ms old, %.1f ms new", median(res["detail-old"].p50), median(res["detail-new"].p50))},
	}
	return rows, err
}
