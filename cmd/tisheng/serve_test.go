package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeSurvivesAHugeValue: one function call building one huge value cannot be
// interrupted, and DuckDB's memory_limit does not count it; under serve's --max-memory the
// allocation fails, the query gets an error, and the server answers the next request.
func TestServeSurvivesAHugeValue(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.duckdb")
	loadDemo(t, db)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	srv := tisheng("serve", "--db", db, "--addr", addr, "--max-memory", "1GB", "--sql-memory", "100000000000", "-v=false")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	up := false
	for i := 0; i < 300 && !up; i++ {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			up = true
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !up {
		t.Fatal("server did not start")
	}
	post := func(q string) (int, string) {
		resp, err := http.Post("http://"+addr+"/api/sql", "application/json", strings.NewReader(`{"sql": "`+q+`"}`))
		if err != nil {
			t.Fatalf("%s: %v (the server died?)", q, err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String()
	}
	// A list of 300 million BIGINTs is 2.4 GB in one allocation. (The ad-hoc ceiling, which
	// samples memory while a query runs, is set out of the way: this is the hard ceiling.)
	code, body := post("SELECT len(range(300000000))")
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "查询占用内存过多") {
		t.Fatalf("huge value: %d %s", code, body)
	}
	if code, body := post("SELECT count(*) FROM teacher_progress"); code != 200 {
		t.Fatalf("after the huge value: %d %s", code, body)
	}
}
