package scoped

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"
	"tisheng/models"
)

// Options bound the databases.
type Options struct {
	Max         int    // databases kept at once (least recently used goes first)
	MemoryLimit string // per database, e.g. "1GB"
	// OnBuild, when set, is told of every build: the scope, how long its pages' tables
	// took, and whether it failed (the server's metrics).
	OnBuild func(k Key, d time.Duration, err error)
}

// Set keeps the scopes' databases built since the last refresh.
type Set struct {
	src   *sql.DB
	cat   *models.Catalog
	opts  Options
	log   *slog.Logger
	setup func(*sql.DB) (any, error)

	mu       sync.Mutex
	gen      int
	dbs      map[Key]*DB
	used     map[Key]time.Time
	building map[Key]*call
}

type call struct {
	done chan struct{}
	db   *DB
	err  error
}

// NewSet builds scope databases from src on demand; setup runs once on each new one (the
// server builds that scope's reports there).
func NewSet(src *sql.DB, cat *models.Catalog, o Options, log *slog.Logger, setup func(*sql.DB) (any, error)) *Set {
	if o.Max <= 0 {
		o.Max = 8
	}
	if o.MemoryLimit == "" {
		o.MemoryLimit = "1GB"
	}
	return &Set{src: src, cat: cat, opts: o, log: log, setup: setup, dbs: map[Key]*DB{}, used: map[Key]time.Time{}, building: map[Key]*call{}}
}

// ErrNoScope is a request without a scope to cut to: it gets nothing.
var ErrNoScope = errors.New("scoped: no scope")

// Get returns the scope's database, building it if needed; release it when done.
func (s *Set) Get(ctx context.Context, k Key) (*DB, func(), error) {
	if k.District == "" && k.School == "" {
		return nil, nil, ErrNoScope
	}
	for {
		s.mu.Lock()
		if d, ok := s.dbs[k]; ok {
			d.refs++
			s.used[k] = time.Now()
			s.mu.Unlock()
			return d, s.releaser(d), nil
		}
		c, ok := s.building[k]
		if !ok {
			c = &call{done: make(chan struct{})}
			s.building[k] = c
			go s.build(k, s.gen, c)
		}
		s.mu.Unlock()
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		if c.err != nil {
			return nil, nil, c.err
		}
		s.mu.Lock()
		d := c.db
		if !d.dead {
			d.refs++
			s.used[k] = time.Now()
			s.mu.Unlock()
			return d, s.releaser(d), nil
		}
		s.mu.Unlock() // invalidated while it was built: build afresh
	}
}

func (s *Set) releaser(d *DB) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			d.refs--
			if d.dead && d.refs == 0 {
				d.close()
			}
		})
	}
}

// build runs detached from any one request, so that a client going away does not waste
// the work for the next.
func (s *Set) build(k Key, gen int, c *call) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	d, err := build(ctx, s.src, s.cat, k, s.opts.MemoryLimit, true)
	if err == nil && s.setup != nil {
		d.Value, err = s.setup(d.DB)
		if err != nil {
			d.close()
			d = nil
		}
	}
	if s.opts.OnBuild != nil {
		s.opts.OnBuild(k, time.Since(start), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.building, k)
	c.db, c.err = d, err
	if err == nil {
		if gen != s.gen {
			d.dead = true // a refresh happened meanwhile: the waiters build afresh
			d.close()
		} else {
			s.dbs[k] = d
			s.used[k] = time.Now()
			s.evict()
		}
		s.log.Info("scope database built", "scope", k.String(), "ms", time.Since(start).Milliseconds())
		go func() { // its raw tables follow
			if d.Ready(context.Background()) == nil {
				s.log.Info("scope database raw rows in", "scope", k.String(), "ms", time.Since(start).Milliseconds())
			} else if !errors.Is(d.rawErr, context.Canceled) {
				s.log.Error("scope database raw rows failed", "scope", k.String(), "err", d.rawErr)
			}
		}()
	} else {
		s.log.Error("scope database failed", "scope", k.String(), "err", err)
	}
	close(c.done)
}

// evict drops the least recently used databases beyond the maximum.
func (s *Set) evict() {
	for len(s.dbs) > s.opts.Max {
		var oldest Key
		var t time.Time
		first := true
		for k := range s.dbs {
			if first || s.used[k].Before(t) {
				oldest, t, first = k, s.used[k], false
			}
		}
		s.drop(oldest)
	}
}

func (s *Set) drop(k Key) {
	d := s.dbs[k]
	delete(s.dbs, k)
	delete(s.used, k)
	d.dead = true
	if d.refs == 0 {
		d.close()
	}
}

// Invalidate drops every scope database: the models changed. The scopes that were in use
// are rebuilt at once in the background, so that their users do not wait on their next
// page (a district's database takes seconds to build at city scale).
func (s *Set) Invalidate() { s.invalidate(true) }

// Close closes every database.
func (s *Set) Close() { s.invalidate(false) }

func (s *Set) invalidate(rebuild bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	var warm []Key
	for k := range s.dbs {
		warm = append(warm, k)
	}
	// most recently used first: their users are the likeliest to come back soon
	sort.Slice(warm, func(i, j int) bool { return s.used[warm[i]].After(s.used[warm[j]]) })
	for _, k := range warm {
		s.drop(k)
	}
	if rebuild && len(warm) > 0 {
		go s.warm(s.gen, warm)
	}
}

// warm rebuilds the databases a refresh dropped, one at a time: a build takes every core,
// so building them all at once only makes each user wait for all of them (at 36 months,
// eight districts at once kept each waiting for about the sum). A request for one not
// started yet builds it at once; a newer refresh ends the warming.
func (s *Set) warm(gen int, keys []Key) {
	for _, k := range keys {
		s.mu.Lock()
		if s.gen != gen {
			s.mu.Unlock()
			return
		}
		if _, ok := s.dbs[k]; ok {
			s.mu.Unlock()
			continue
		}
		c, ok := s.building[k]
		if !ok {
			c = &call{done: make(chan struct{})}
			s.building[k] = c
			go s.build(k, gen, c)
		}
		s.mu.Unlock()
		<-c.done
	}
}
