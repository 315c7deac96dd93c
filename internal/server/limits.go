package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"tisheng/queries"
)

// Defaults of the limits that keep one client from holding the server.
const (
	// DefaultWriteTimeout bounds the writing of a response: a client that never reads a
	// big result does not hold its memory for longer.
	DefaultWriteTimeout = 2 * time.Minute
	// DefaultBodyStall cuts a request whose body stops arriving for this long; a large
	// upload that keeps arriving is not cut (uploads legitimately take minutes).
	DefaultBodyStall = 30 * time.Second
	// DefaultBodyTotal bounds the whole reading of a request body, however it trickles.
	DefaultBodyTotal = time.Hour
	// DefaultMaxSQL and DefaultMaxUploads bound the ad-hoc queries and uploads running at
	// once; more are answered 503 with Retry-After.
	DefaultMaxSQL     = 2
	DefaultMaxUploads = 2
	retryAfter        = 10 // seconds
)

// Limits bound what one request may hold; zero fields take the defaults.
type Limits struct {
	WriteTimeout time.Duration // writing one response
	BodyStall    time.Duration // a request body that stops arriving
	BodyTotal    time.Duration // reading one request body, in all
	MaxSQL       int           // ad-hoc queries at once
	MaxUploads   int           // uploads at once (they load one at a time)
	SQLBytes     int64         // an ad-hoc result's size
	SQLMemory    int64         // an ad-hoc query's memory growth
}

// defaults fills the zero fields.
func (l *Limits) defaults() {
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.BodyStall <= 0 {
		l.BodyStall = DefaultBodyStall
	}
	if l.BodyTotal <= 0 {
		l.BodyTotal = DefaultBodyTotal
	}
	if l.MaxSQL <= 0 {
		l.MaxSQL = DefaultMaxSQL
	}
	if l.MaxUploads <= 0 {
		l.MaxUploads = DefaultMaxUploads
	}
}

// caps sets an ad-hoc runner's byte and memory caps.
func (l Limits) caps(ah *queries.AdHoc) {
	if l.SQLBytes > 0 {
		ah.ByteLimit = l.SQLBytes
	}
	if l.SQLMemory > 0 {
		ah.Memory = l.SQLMemory
	}
}

// uploadDir holds uploads while they load: beside the warehouse (on its disk, not a small
// /tmp), one directory per warehouse, so that what a killed server left behind is found
// and removed at the next start.
func (s *Server) uploadDir() string { return s.wh.Path + ".uploads" }

// sweepUploads removes upload files a previous run left (killed mid-upload). Only the
// process holding the warehouse uses this directory, so nothing in it is in use now.
func (s *Server) sweepUploads() error {
	dir := s.uploadDir()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("uploads: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("uploads: %w", err)
		}
		s.log.Info("removed a leftover upload", "path", filepath.Join(dir, e.Name()))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("uploads: %w", err)
	}
	return nil
}

// slots is a counting semaphore that refuses rather than waits.
type slots chan struct{}

func (s slots) tryAcquire() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s slots) release() { <-s }

// limited admits h only while a slot is free; otherwise it answers 503 at once, in Chinese,
// with Retry-After, so that excess work queues at the client rather than in memory here.
func limited(s slots, what string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.tryAcquire() {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Retry-After", fmt.Sprint(retryAfter))
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf("服务器正忙：同时运行的%s已达上限 %d 个，请 %d 秒后再试", what, cap(s), retryAfter)})
			return
		}
		defer s.release()
		h(w, r)
	}
}

// deadlines sets each request's write deadline (so a response nobody reads is dropped,
// with its memory) and makes its body fail if it stalls or runs past the total bound. These
// are per request rather than http.Server's ReadTimeout/WriteTimeout, which would cut
// every large upload at the same fixed time.
func (s *Server) deadlines(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		// Not every writer supports deadlines (httptest.ResponseRecorder); then none apply.
		_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &stallReader{rc: rc, body: r.Body, stall: s.cfg.BodyStall, end: time.Now().Add(s.cfg.BodyTotal)}
		}
		next.ServeHTTP(w, r)
	})
}

// extendWrite gives a handler that worked long before answering (an upload's load and
// refresh) the whole write timeout for its answer.
func (s *Server) extendWrite(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
}

// longBody gives a handler that may read a body for longer than the write timeout (an
// upload) a fresh write deadline for its error answer too.
func (s *Server) longBody(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		err := h(w, r)
		if err != nil {
			s.extendWrite(w)
		}
		return err
	}
}

// stallReader gives each read of the body a deadline (stall from now, never past end) and
// clears it after: a deadline left running while the handler works would, once it fired,
// cancel the request's context (net/http's background read treats it as the client gone).
type stallReader struct {
	rc    *http.ResponseController
	body  io.ReadCloser
	stall time.Duration
	end   time.Time
}

func (b *stallReader) Read(p []byte) (int, error) {
	d := time.Now().Add(b.stall)
	if d.After(b.end) {
		d = b.end
	}
	_ = b.rc.SetReadDeadline(d)
	n, err := b.body.Read(p)
	if err == nil || err == io.EOF {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	// On a stall the deadline stays past, so net/http's own discard of the unread body
	// fails at once too, and the connection is closed instead of waiting.
	return n, err
}

func (b *stallReader) Close() error { return b.body.Close() }

// onePerUser admits one request of h at a time per user: one analyst's two long queries
// cannot take every SQL slot and lock the others out. A second one is answered 429 at once.
func (s *Server) onePerUser(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user := scopeOf(r.Context()).User
		slot, _ := s.userSQL.LoadOrStore(user, make(slots, 1))
		if !slot.(slots).tryAcquire() {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Retry-After", fmt.Sprint(retryAfter))
			w.WriteHeader(http.StatusTooManyRequests)
			json.NewEncoder(w).Encode(map[string]string{"error": "您已有一条查询在运行：请等它结束（或超时中断）后再查询"})
			return
		}
		defer slot.(slots).release()
		h(w, r)
	}
}
