package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
	"tisheng/internal/apperr"

	"tisheng/internal/auth"
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
	// DefaultBodyMinRate and DefaultBodyWindow: every window of a body's reading (the
	// first from its start, each next one from when the last was satisfied) must bring
	// this rate times the window, or the body is cut. A byte every 20 seconds held an upload
	// slot for an hour; 8 KB/s is a tenth of the slowest school line (64 kbit/s). The rate
	// is not the average since the start: a 28.8 MB burst banked an hour of credit, which
	// a byte every 29 s then spent holding a slot.
	DefaultBodyMinRate = 8 << 10
	DefaultBodyWindow  = 30 * time.Second
	// DefaultMaxSQL and DefaultMaxUploads bound the ad-hoc queries and uploads running at
	// once; more are answered 503 with Retry-After. An admin has one more SQL slot of its
	// own, and one scope (a district, a school) at most DefaultSQLPerScope of the others.
	DefaultMaxSQL      = 2
	DefaultSQLPerScope = 1
	DefaultMaxUploads  = 2
	// DefaultMaxReceiving bounds the uploads being received at once (each is spooled to
	// disk, up to MaxUpload, before it asks for an upload slot); an admin has one more of
	// its own, and one district (its schools' users with it) or school at most
	// DefaultReceivingPerScope of the others: four accounts sending at 9 KB/s held every
	// receiving slot and the admin got 503.
	DefaultMaxReceiving      = 4
	DefaultReceivingPerScope = 2
	// DefaultMaxUploadFiles bounds the files of one upload: 10,000 tiny parts held the
	// write lock for a minute and wrote 10,025 audit lines.
	DefaultMaxUploadFiles = 100
	// maxOtherParts bounds the parts of an upload that are not files (as_of, school, and
	// anything unknown, which is skipped).
	maxOtherParts = 8
	// maxSQLBody is the largest ad-hoc query request.
	maxSQLBody = 1 << 20
	retryAfter = 10 // seconds
)

// Limits bound what one request may hold; zero fields take the defaults.
type Limits struct {
	WriteTimeout time.Duration // writing one response
	BodyStall    time.Duration // a request body that stops arriving
	BodyTotal    time.Duration // reading one request body, in all
	BodyMinRate  int64         // bytes a second a body must average over each BodyWindow
	BodyWindow   time.Duration
	MaxSQL       int // ad-hoc queries at once (besides the admins' own slot)
	SQLPerScope  int // ad-hoc queries at once of one district or school
	MaxUploads   int // uploads loading at once (they load one at a time)
	MaxReceiving int // upload bodies being received at once (besides the admins' own slot)
	// ReceivingPerScope bounds the upload bodies of one district (with its schools' users)
	// or of one school being received at once.
	ReceivingPerScope int
	MaxUploadFiles    int   // files in one upload
	SQLBytes          int64 // an ad-hoc result's size
	SQLMemory         int64 // an ad-hoc query's memory growth
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
	if l.BodyMinRate <= 0 {
		l.BodyMinRate = DefaultBodyMinRate
	}
	if l.BodyWindow <= 0 {
		l.BodyWindow = DefaultBodyWindow
	}
	if l.MaxSQL <= 0 {
		l.MaxSQL = DefaultMaxSQL
	}
	if l.SQLPerScope <= 0 {
		l.SQLPerScope = DefaultSQLPerScope
	}
	if l.MaxUploads <= 0 {
		l.MaxUploads = DefaultMaxUploads
	}
	if l.MaxReceiving <= 0 {
		l.MaxReceiving = DefaultMaxReceiving
	}
	if l.ReceivingPerScope <= 0 {
		l.ReceivingPerScope = DefaultReceivingPerScope
	}
	if l.MaxUploadFiles <= 0 {
		l.MaxUploadFiles = DefaultMaxUploadFiles
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
	if err := os.Chmod(dir, 0o700); err != nil { // one an earlier version made 0755
		return fmt.Errorf("uploads: %w", err)
	}
	// what the scope databases of a killed server spilled (DuckDB removes a closed one's)
	leftover, _ := filepath.Glob(filepath.Join(s.wh.Path+".tmp", "scope-*"))
	for _, p := range leftover {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("temporary files: %w", err)
		}
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

// busy answers 503 at once, in Chinese, with Retry-After, so that excess work queues at
// the client rather than in memory here.
func busy(w http.ResponseWriter, msg string) { writeError(w, http.StatusServiceUnavailable, msg) }

// sqlGate admits ad-hoc queries: at most max of everyone's at once, at most perScope of one
// district's or school's, and one more for the project office whatever the others hold
// (two long district queries took both slots and the admin got 503 eight times of eight).
// The same gate admits upload bodies being received (with a scope that counts a school's
// users in their district).
type sqlGate struct {
	max, perScope int
	key           func(auth.Scope) string // the scope a caller counts in
	what          string                  // what the slots are for, in the busy message

	mu      sync.Mutex
	others  int            // non-admins inside
	admins  int            // admins inside
	byScope map[string]int // non-admins inside, by scope
}

func newSQLGate(max, perScope int) *sqlGate {
	return &sqlGate{max: max, perScope: perScope, key: auth.Scope.String, what: "运行的查询", byScope: map[string]int{}}
}

// newReceivingGate admits upload bodies. A school user counts in its school's district
// (scopeFor fills it in from the school list), so that a district's schools together get
// the district's share; a school the list does not place counts on its own.
func newReceivingGate(max, perScope int) *sqlGate {
	return &sqlGate{max: max, perScope: perScope, what: "接收的上传", byScope: map[string]int{},
		key: func(sc auth.Scope) string {
			if sc.District != "" {
				return "区县:" + sc.District
			}
			return sc.String()
		}}
}

// enter takes a slot for sc, or says in Chinese why none is free.
func (g *sqlGate) enter(sc auth.Scope) (func(), string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if sc.IsAdmin() {
		if g.others+g.admins >= g.max+1 {
			return nil, fmt.Sprintf("服务器正忙：同时%s已达上限 %d 个，请 %d 秒后再试", g.what, g.max+1, retryAfter)
		}
		g.admins++
		return func() { g.mu.Lock(); g.admins--; g.mu.Unlock() }, ""
	}
	key := g.key(sc)
	switch {
	case g.byScope[key] >= g.perScope:
		return nil, fmt.Sprintf("服务器正忙：%s 同时%s已达上限 %d 个，请 %d 秒后再试", key, g.what, g.perScope, retryAfter)
	case g.others >= g.max || g.others+g.admins >= g.max+1:
		return nil, fmt.Sprintf("服务器正忙：同时%s已达上限 %d 个，请 %d 秒后再试", g.what, g.max, retryAfter)
	}
	g.others++
	g.byScope[key]++
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.others--
		if g.byScope[key]--; g.byScope[key] == 0 {
			delete(g.byScope, key)
		}
	}, ""
}

// inside is how many callers are inside the gate.
func (g *sqlGate) inside() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.others + g.admins
}

// deadlines sets each request's write deadline (so a response nobody reads is dropped,
// with its memory) and makes its body fail if it stalls, falls below the minimum rate or
// runs past the total bound. These are per request rather than http.Server's
// ReadTimeout/WriteTimeout, which would cut every large upload at the same fixed time.
func (s *Server) deadlines(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		// Not every writer supports deadlines (httptest.ResponseRecorder); then none apply.
		_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		if r.Body != nil && r.Body != http.NoBody {
			now := time.Now()
			r.Body = &rateReader{rc: rc, body: r.Body, stall: s.cfg.BodyStall, end: now.Add(s.cfg.BodyTotal),
				window: s.cfg.BodyWindow, quota: int64(float64(s.cfg.BodyMinRate) * s.cfg.BodyWindow.Seconds()), winStart: now}
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

// errSlowBody is a request body cut for arriving too slowly.
var errSlowBody = errors.New("slow body")

// rateReader gives each read of the body a deadline and clears it after: the next bytes
// must come before the body stalls (stall from now), before the current window ends
// without its quota (each window must bring quota bytes; the next window starts when it
// has: a burst banks nothing past its own window), and before end. A deadline left running
// while the handler works would, once it fired, cancel the request's context (net/http's
// background read treats it as the client gone), hence the clearing.
type rateReader struct {
	rc          *http.ResponseController
	body        io.ReadCloser
	stall       time.Duration
	end         time.Time
	window      time.Duration
	quota       int64     // bytes each window must bring
	winStart    time.Time // when the current window began
	winBytes    int64     // bytes it has brought
	failed, cut bool
}

func (b *rateReader) deadline(now time.Time) time.Time {
	d := now.Add(b.stall)
	if w := b.winStart.Add(b.window); w.Before(d) {
		d = w
	}
	if b.end.Before(d) {
		d = b.end
	}
	return d
}

func (b *rateReader) Read(p []byte) (int, error) {
	if b.cut {
		return 0, errSlowBody
	}
	now := time.Now()
	d := b.deadline(now)
	if !d.After(now) {
		b.cut = true
		return 0, errSlowBody
	}
	_ = b.rc.SetReadDeadline(d)
	n, err := b.body.Read(p)
	if b.winBytes += int64(n); b.winBytes >= b.quota {
		b.winStart, b.winBytes = time.Now(), 0
	}
	if err == nil || err == io.EOF {
		_ = b.rc.SetReadDeadline(time.Time{})
		return n, err
	}
	// On a stall the deadline stays past, so net/http's own discard of the unread body
	// fails at once too, and the connection is closed instead of waiting.
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		b.cut = true
		return n, fmt.Errorf("%w: %w", errSlowBody, err)
	}
	return n, err
}

func (b *rateReader) Close() error { return b.body.Close() }

// bodyFirst reads the whole body (at most limit bytes) before h runs, so that a body that
// trickles holds no slot: it holds only its own connection until the rate reader cuts it.
func (s *Server) bodyFirst(limit int64, h http.HandlerFunc) http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return apperr.Errorf(apperr.TooLarge, "请求体超过 %s 的上限", humanBytes(limit))
		}
		if err != nil {
			return err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		h(w, r)
		return nil
	})
}

// onePer admits one request of h at a time per user (in m): one analyst's two long
// queries cannot take every SQL slot, one uploader's two uploads every upload slot. A
// second one is answered 429 at once.
func onePer(m *sync.Map, msg string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user := scopeOf(r.Context()).User
		slot, _ := m.LoadOrStore(user, make(slots, 1))
		if !slot.(slots).tryAcquire() {
			writeError(w, http.StatusTooManyRequests, msg)
			return
		}
		defer slot.(slots).release()
		h(w, r)
	}
}
