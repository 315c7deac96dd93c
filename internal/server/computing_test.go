package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tisheng/ingest"
	"tisheng/internal/auth"
	"tisheng/internal/warehouse"
)

// While the figures of files loaded before a restart are computed (no model built yet),
// pages say so, since when, and to reload shortly, rather than asking for files that are
// loaded; a download or a query is answered 503 with the same words.
func TestPagesSayFiguresAreBeingComputed(t *testing.T) {
	ctx := context.Background()
	wh, err := warehouse.OpenWith(ctx, filepath.Join(t.TempDir(), "w.duckdb"), warehouse.Options{Locked: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	l, err := ingest.NewLoader(ctx, wh, bytes.Repeat([]byte{5}, 32), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "demo", "*教师名单*"))
	for _, r := range l.LoadFiles(ctx, files, ingest.Options{}, nil) {
		if r.Status != ingest.StatusLoaded {
			t.Fatalf("%s: %s", r.File, r.Error)
		}
	}
	e := serveWarehouse(t, Config{}, wh, l)
	c := e.client("analyst", auth.User{Role: auth.RoleAdmin})
	began := time.Now().Add(-7 * time.Second)
	e.srv.computing.Store(&began)
	_, page := do(t, c, http.MethodGet, e.ts.URL+"/schools", nil, "")
	if !strings.Contains(string(page), "统计正在计算（自 "+began.Format("15:04:05")+" 起") || strings.Contains(string(page), "平台导出文件按这个顺序导入") {
		t.Errorf("the page while computing: %.400s", page)
	}
	resp, body := do(t, c, http.MethodGet, e.ts.URL+"/download/monthly.xlsx", nil, "")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "统计正在计算") {
		t.Errorf("a download while computing: %d %s", resp.StatusCode, body)
	}
	// once no refresh runs, the page guides as before
	e.srv.computing.Store(nil)
	if _, page := do(t, c, http.MethodGet, e.ts.URL+"/schools", nil, ""); !strings.Contains(string(page), "平台导出文件按这个顺序导入") {
		t.Errorf("the page with nothing computed: %.400s", page)
	}
}
