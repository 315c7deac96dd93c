package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
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
	c := adminClient(t, db)
	addr := startServe(t, db, "--max-memory", "1GB", "--sql-memory", "100000000000")
	post := func(q string) (int, string) {
		resp, err := c.Post("http://"+addr+"/api/sql", "application/json", strings.NewReader(`{"sql": "`+q+`"}`))
		if err != nil {
			t.Fatalf("%s: %v (the server died?)", q, err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String()
	}
	// The guard bounds what one call is asked to build from literals (SELECT
	// len(range(300000000)) is refused before it runs); a value grown through a chain of
	// CTEs, each concatenating ten copies of the last, is not its to see: the last call
	// builds 10 GB at once. (The ad-hoc ceiling, which samples memory while a query runs,
	// is set out of the way: this is the hard ceiling.)
	s10 := strings.TrimSuffix(strings.Repeat("s||", 10), "||") + " AS s"
	code, body := post("WITH a AS (SELECT repeat('x', 100000) AS s), b AS (SELECT " + s10 + " FROM a), c AS (SELECT " + s10 + " FROM b), " +
		"d AS (SELECT " + s10 + " FROM c), e AS (SELECT " + s10 + " FROM d), f AS (SELECT " + s10 + " FROM e) SELECT length(s) FROM f")
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "查询占用内存过多") {
		t.Fatalf("huge value: %d %s", code, body)
	}
	if code, body := post("SELECT count(*) FROM teacher_progress"); code != 200 {
		t.Fatalf("after the huge value: %d %s", code, body)
	}
}

// TestServeRefreshesOutdatedModels: a file loaded and never refreshed (as a server killed
// between a load and its refresh leaves it) is in the models soon after serve starts.
func TestServeRefreshesOutdatedModels(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.duckdb")
	loadDemo(t, db)
	if out, err := tisheng("ingest", "--db", db, "../../testdata/demo/东湖区_能力点测评_20250630.csv").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c := adminClient(t, db)
	addr := startServe(t, db)
	for i := 0; ; i++ {
		resp, err := c.Get("http://" + addr + "/api/admin/batches")
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Outdated bool `json:"models_outdated"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if !out.Outdated {
			break
		}
		if i == 600 {
			t.Fatal("serve did not refresh the outdated models")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startServe runs tisheng serve on a free port until the test ends and returns its address.
// adminClient makes an admin with the account commands and returns a client sending its
// API token, as a script would.
func adminClient(t *testing.T, db string) *http.Client {
	t.Helper()
	if out, err := tisheng("user", "add", "--db", db, "--name", "script-admin", "--role", "admin").CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	out, err := tisheng("token", "add", "--db", db, "--user", "script-admin").CombinedOutput()
	tok := regexp.MustCompile(`tsk_\S+`).FindString(string(out))
	if err != nil || tok == "" {
		t.Fatalf("token add: %v\n%s", err, out)
	}
	return &http.Client{Transport: bearerTransport(tok)}
}

type bearerTransport string

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

func startServe(t *testing.T, db string, flags ...string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	srv := tisheng(append([]string{"serve", "--db", db, "--addr", addr, "-v=false"}, flags...)...)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	for i := 0; i < 300; i++ {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return addr
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("server did not start")
	return ""
}
