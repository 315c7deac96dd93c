package queries

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"time"
)

// ErrMemory is an ad-hoc query interrupted at its memory ceiling.
var ErrMemory = errors.New("query exceeded its memory ceiling")

// The ceiling is enforced from outside DuckDB. Its memory_limit is per database instance
// and covers only its buffer manager: a result being materialised (SELECT repeat('x',
// 100000) FROM range(10000)) or a string_agg state is not counted (measured on DuckDB 1.1.2, the old
// server: 6.0 GB and 13.5 GB of RSS under memory_limit=500MB). The serving instance is
// shared with the pages and locked, and a second instance on the same file diverges
// (measured on DuckDB 1.1.2), so a watcher samples the process's resident memory while the query runs and
// cancels its context past the ceiling, which interrupts DuckDB (go-duckdb calls
// duckdb_interrupt); the query fails and the server goes on.

// memSample is how often the watcher reads the resident set (a read of /proc/self/statm).
const memSample = 5 * time.Millisecond

type memGuard struct {
	pageSize int64
}

func newMemGuard() *memGuard { return &memGuard{pageSize: int64(os.Getpagesize())} }

// rss is the process's resident set in bytes, or -1 where /proc is not available (the
// ceiling is then not enforced).
func (g *memGuard) rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return -1
	}
	n, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return -1
	}
	return n * g.pageSize
}

// watch returns a context cancelled with ErrMemory once the resident set has grown by more
// than limit bytes from now, and a function to call when the query is done.
func (g *memGuard) watch(ctx context.Context, limit int64) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	start := g.rss()
	if limit <= 0 || start < 0 {
		return ctx, func() { cancel(nil) }
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(memSample)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if g.rss()-start > limit {
					cancel(ErrMemory)
					return
				}
			}
		}
	}()
	return ctx, func() {
		close(done)
		<-stopped
		cancel(nil)
	}
}
