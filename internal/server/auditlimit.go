package server

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2/simplelru"

	"tisheng/internal/auth"
)

// Refusals that anyone can cause at will (throttled logins, 401s, cross-origin requests)
// are recorded at most once a minute per client address and kind, each line saying how
// many like it went unrecorded since the last: a flood can neither fill the disk with audit
// lines nor queue the server behind their writes.
const (
	auditEvery    = time.Minute
	auditKeysKept = 10_000
)

type auditSampler struct {
	mu   sync.Mutex
	seen *lru.LRU[string, *sampled]
}

type sampled struct {
	at      time.Time
	skipped int
}

func newAuditSampler() *auditSampler {
	l, _ := lru.NewLRU[string, *sampled](auditKeysKept, nil)
	return &auditSampler{seen: l}
}

// admit reports whether a line for key is written now, and how many were skipped before it.
func (a *auditSampler) admit(key string, now time.Time) (bool, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if x, ok := a.seen.Get(key); ok && now.Sub(x.at) < auditEvery {
		x.skipped++
		return false, 0
	} else if ok {
		n := x.skipped
		x.at, x.skipped = now, 0
		return true, n
	}
	a.seen.Add(key, &sampled{at: now})
	return true, 0
}

// auditSampled records e unless a line of the same kind from the same address was
// recorded in the last minute.
func (s *Server) auditSampled(r *http.Request, kind string, e auth.Entry) {
	ok, skipped := s.sampler.admit(kind+"\x00"+auth.AddrKey(clientIP(r)), time.Now())
	if !ok {
		return
	}
	if skipped > 0 {
		e.Detail += fmt.Sprintf("（上一条同类记录之后，同一地址另有 %d 次未逐条记录）", skipped)
	}
	s.audit(r, e)
}
