package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tisheng/ingest"
	"tisheng/internal/auth"
	"tisheng/internal/testkit"
	"tisheng/internal/warehouse"
)

const heldBack = "东湖区_学时明细_2025-06.csv"

// staleEnv is the state a server killed after an upload committed and before its refresh
// finished leaves: the demo refreshed without one file, then that file loaded and no
// refresh. It returns the env (its server not yet asked to refresh), the file and its batch.
func staleEnv(t *testing.T, cfg Config) (*env, string, string) {
	t.Helper()
	src, _ := filepath.Glob("../../testdata/demo/*")
	td := t.TempDir()
	if err := os.Mkdir(filepath.Join(td, "demo"), 0o755); err != nil {
		t.Fatal(err)
	}
	held := ""
	for _, f := range src {
		abs, _ := filepath.Abs(f)
		if filepath.Base(f) == heldBack {
			held = abs
			continue
		}
		if err := os.Symlink(abs, filepath.Join(td, "demo", filepath.Base(f))); err != nil {
			t.Fatal(err)
		}
	}
	wh, l := testkit.Demo(t, td, filepath.Join(t.TempDir(), "w.duckdb"), warehouse.Options{Locked: true})
	res := l.LoadFile(context.Background(), held, ingest.Options{})
	if res.Status != ingest.StatusLoaded {
		t.Fatalf("%s: %s %s", held, res.Status, res.Error)
	}
	e := serveWarehouse(t, cfg, wh, l)
	return e, held, fmt.Sprint(res.Batch)
}

// inModels is how many model rows come from a batch (effective_batches names the file each
// month's figures use).
func (e *env) inModels(batch string) string {
	return e.one(`SELECT count(*) FROM effective_batches WHERE batch_id = ?`, batch)
}

func TestServeRefreshesOutdatedModelsAtStart(t *testing.T) {
	e, _, batch := staleEnv(t, Config{})
	if n := e.inModels(batch); n != "0" {
		t.Fatalf("the models already use the unrefreshed batch (%s rows)", n)
	}
	refreshed, err := e.srv.RefreshIfOutdated(context.Background())
	if err != nil || !refreshed {
		t.Fatalf("refreshed %v, err %v; want a refresh of the outdated models", refreshed, err)
	}
	if n := e.inModels(batch); n == "0" {
		t.Fatal("after the refresh at start the models still ignore the loaded batch")
	}
	// Fresh models are left alone.
	if refreshed, err := e.srv.RefreshIfOutdated(context.Background()); err != nil || refreshed {
		t.Fatalf("refreshed %v, err %v; the models were current", refreshed, err)
	}
}

func TestAlreadyLoadedUploadOntoOutdatedModelsRefreshes(t *testing.T) {
	e, held, batch := staleEnv(t, Config{})
	b, err := os.ReadFile(held)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := postFiles(t, e, map[string][]byte{heldBack: b}, nil)
	var out struct {
		Files     []ingest.Result
		Refreshed bool
	}
	json.Unmarshal(body, &out)
	if resp.StatusCode != 200 || len(out.Files) != 1 || out.Files[0].Status != ingest.StatusAlreadyLoaded {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if !out.Refreshed || e.inModels(batch) == "0" {
		t.Fatalf("an already-loaded upload onto outdated models did not refresh them: %s", body)
	}
}

func TestAdminRefreshAndBatchRemoval(t *testing.T) {
	e, held, batch := staleEnv(t, Config{})
	resp, body := e.post("/api/admin/refresh", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"refreshed":true`) || e.inModels(batch) == "0" {
		t.Fatalf("admin refresh: %d %s", resp.StatusCode, body)
	}

	resp, body = e.get("/api/admin/batches")
	var list struct {
		Batches []warehouse.Batch `json:"batches"`
		Stale   bool              `json:"models_outdated"`
	}
	if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	found := false
	for _, b := range list.Batches {
		if fmt.Sprint(b.ID) == batch && b.FileName == heldBack && b.Kind == "hours" && b.AsOf == "2025-06-30" {
			found = true
		}
	}
	if !found || list.Stale {
		t.Fatalf("batch %s (%s) not listed, or models outdated after a refresh: %s", batch, heldBack, body)
	}

	rawBefore := e.one(`SELECT count(*) FROM raw_hours`)
	inBatch := e.one(`SELECT count(*) FROM raw_hours WHERE batch_id = ?`, batch)
	withRejects := e.one(`SELECT (SELECT count(*) FROM raw_hours WHERE batch_id = $1) + (SELECT count(*) FROM rejects WHERE batch_id = $1)`, batch)
	resp, body = e.post("/api/admin/batches/"+batch+"/delete", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"refreshed":true`) {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	if n := e.one(`SELECT count(*) FROM raw_hours WHERE batch_id = ?`, batch); n != "0" {
		t.Errorf("%s rows of the removed batch are left", n)
	}
	if e.one(`SELECT count(*) FROM raw_hours`) == rawBefore || inBatch == "0" {
		t.Error("nothing was removed")
	}
	for _, tbl := range []string{"batches", "rejects", "effective_batches"} {
		if n := e.one(`SELECT count(*) FROM `+tbl+` WHERE batch_id = ?`, batch); n != "0" {
			t.Errorf("%s still has %s rows of the removed batch", tbl, n)
		}
	}
	if who := e.one(`SELECT removed_by || ' ' || file_name || ' ' || rows_removed FROM batch_removals WHERE batch_id = ?`, batch); who != "admin "+heldBack+" "+withRejects {
		t.Errorf("batch_removals: %q", who)
	}
	// Ad-hoc SQL cannot read who removed what.
	resp, body = e.post("/api/sql", `{"sql":"SELECT * FROM batch_removals"}`)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "不能读取「batch_removals」") {
		t.Errorf("batch_removals readable by analysts: %d %s", resp.StatusCode, body)
	}
	// A missing batch is named.
	resp, body = e.post("/api/admin/batches/"+batch+"/delete", "")
	if resp.StatusCode != 404 || !strings.Contains(string(body), "没有编号为 "+batch+" 的批次") {
		t.Errorf("second delete: %d %s", resp.StatusCode, body)
	}
	// The file taken back can be loaded again.
	b, _ := os.ReadFile(held)
	_, body = postFiles(t, e, map[string][]byte{heldBack: b}, nil)
	if !strings.Contains(string(body), `"status":"loaded"`) {
		t.Errorf("reloading the removed file: %s", body)
	}
}

func (e *env) post(path, jsonBody string) (*http.Response, []byte) {
	e.t.Helper()
	resp, err := e.c.Post(e.ts.URL+path, "application/json", strings.NewReader(jsonBody))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestLeftoverUploadsRemovedAtStart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.duckdb")
	left := filepath.Join(db+".uploads", "upload-123", "000.csv")
	if err := os.MkdirAll(filepath.Dir(left), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(left, []byte("x"), 0o600)
	wh, l := testkit.Demo(t, "../../testdata", db, warehouse.Options{Locked: true})
	if _, err := New(Config{}, wh, l, auth.NewStore(wh.DB, auth.DefaultPolicy), slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(left)); !os.IsNotExist(err) {
		t.Fatalf("leftover upload directory still there: %v", err)
	}
}

// TestStalledBodyIsCut: a request body that stops arriving is cut after the stall limit
// instead of holding the connection for good.
func TestStalledBodyIsCut(t *testing.T) {
	e := newEnv(t, Config{Limits: Limits{BodyStall: 200 * time.Millisecond}})
	c, err := net.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/sql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"sql\": \"SELE", e.tok)
	// Never send the rest. The server must answer (an error) and close, rather than wait.
	c.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Fatalf("status %d for a stalled body", resp.StatusCode)
	}
}

// TestUnreadResponseIsDropped: a client that asks for a big result and never reads it does
// not keep the server writing it: past the write timeout the response is cut short.
func TestUnreadResponseIsDropped(t *testing.T) {
	e := newEnv(t, Config{Limits: Limits{WriteTimeout: 300 * time.Millisecond}})
	c, err := net.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := `{"sql": "SELECT repeat('x', 1000) FROM range(20000)"}`
	fmt.Fprintf(c, "POST /api/sql?format=csv HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", e.tok, len(q), q)
	time.Sleep(2 * time.Second) // not reading, well past the write timeout
	c.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return // cut before even the headers arrived
	}
	// What the kernel had buffered arrives, then the end: the server closed mid-response.
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil {
		t.Fatalf("the whole response (%d bytes) was written to a client that did not read", n)
	}
}

// TestSQLMemoryCeilingOverHTTP: the query fails with a Chinese message and the server
// answers the next one.
func TestSQLMemoryCeilingOverHTTP(t *testing.T) {
	e := newEnv(t, Config{Limits: Limits{SQLMemory: 256 << 20}})
	resp, body := e.post("/api/sql", `{"sql": "SELECT repeat('x', 100000) FROM range(10000)"}`)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "查询占用内存过多，已中断（每个查询最多 256 MB）") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, body = e.post("/api/sql", `{"sql": "SELECT count(*) FROM teacher_progress"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("after the interrupted query: %d %s", resp.StatusCode, body)
	}
}

// One analyst cannot hold every SQL slot: a second query of the same user while the first
// runs is answered 429, and another user's query still runs.
func TestOneQueryPerUser(t *testing.T) {
	e := newEnv(t, Config{SQLTimeout: 5 * time.Second})
	d := e.one(`SELECT min(district) FROM school_info`)
	qx := e.client("qx", auth.User{Role: auth.RoleDistrict, District: d})
	done := make(chan int, 1)
	go func() {
		resp, _ := do(t, qx, http.MethodPost, e.ts.URL+"/api/sql", strings.NewReader(`{"sql": "SELECT count(*) FROM range(1000000000000) t(i) WHERE i % 7 = 3"}`), "application/json")
		done <- resp.StatusCode
	}()
	var code int
	for i := 0; i < 200; i++ {
		time.Sleep(20 * time.Millisecond)
		resp, _ := do(t, qx, http.MethodPost, e.ts.URL+"/api/sql", strings.NewReader(`{"sql": "SELECT 1 AS x"}`), "application/json")
		if code = resp.StatusCode; code == http.StatusTooManyRequests {
			break
		}
	}
	if code != http.StatusTooManyRequests {
		t.Fatalf("second query of the same user: %d", code)
	}
	if resp, body := e.postSQL("SELECT 1 AS x", "json"); resp.StatusCode != 200 {
		t.Errorf("another user's query: %d %s", resp.StatusCode, body)
	}
	select {
	case c := <-done:
		if c == 200 {
			t.Error("the runaway query finished")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the runaway query was never interrupted")
	}
}
