// Package testkit builds the warehouses tests run against: the committed demo exports
// (testdata/demo) loaded the way an analyst would, and refreshed.
package testkit

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"tisheng/ingest"
	"tisheng/internal/warehouse"
	"tisheng/models"
)

var reProgress = regexp.MustCompile(`研修考核_(\d+)_`)

// Demo loads every file of the committed demo set into a new warehouse at db (opened with
// opts), refreshes it with the national profile and returns it with its loader.
// 研修考核 files get their school from their name, as `make run` passes it.
func Demo(t testing.TB, testdata, db string, opts warehouse.Options) (*warehouse.Warehouse, *ingest.Loader) {
	t.Helper()
	ctx := context.Background()
	wh, err := warehouse.OpenWith(ctx, db, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	l, err := ingest.NewLoader(ctx, wh, bytes.Repeat([]byte{5}, 32), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(testdata, "demo", "*"))
	if len(files) == 0 {
		t.Fatal("no demo files under " + testdata)
	}
	sort.Strings(files)
	var plain, progress []string
	for _, f := range files {
		if reProgress.MatchString(filepath.Base(f)) {
			progress = append(progress, f)
		} else {
			plain = append(plain, f)
		}
	}
	for _, r := range l.LoadFiles(ctx, plain, ingest.Options{}, nil) {
		if r.Status != ingest.StatusLoaded {
			t.Fatalf("%s: %s %s", r.File, r.Status, r.Error)
		}
	}
	for _, f := range progress {
		r := l.LoadFile(ctx, f, ingest.Options{School: reProgress.FindStringSubmatch(filepath.Base(f))[1]})
		if r.Status != ingest.StatusLoaded {
			t.Fatalf("%s: %s %s", r.File, r.Status, r.Error)
		}
	}
	p, err := models.LoadProfile("national")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := models.Refresh(ctx, wh, p); err != nil {
		t.Fatal(err)
	}
	return wh, l
}
