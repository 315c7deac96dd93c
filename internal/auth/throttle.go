package auth

import (
	"net"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2/simplelru"
)

// ThrottlePolicy bounds failed logins. Each client address, and each address with one
// name, has a token bucket: a failed login spends a token, a successful one gives it back,
// and an empty bucket refuses at once, before any password is hashed. No account is ever
// locked for everyone: a flood from one address slows that address only.
type ThrottlePolicy struct {
	AddrBurst int           // failures an address may make at once
	AddrEvery time.Duration // then one more per this long
	NameBurst int           // failures an address may make at once on one name
	NameEvery time.Duration
	// MaxKeys bounds the buckets kept; past it the least recently used goes (a bucket that
	// has not been touched for its refill time holds nothing anyway).
	MaxKeys int
}

// DefaultThrottle: an address may fail 30 times, then once every 2 seconds; on one name 5
// times, then once a minute. A school behind one NAT address keeps its logins; a guesser
// gets 60 tries an hour at one name from one address.
var DefaultThrottle = ThrottlePolicy{AddrBurst: 30, AddrEvery: 2 * time.Second, NameBurst: 5, NameEvery: time.Minute, MaxKeys: 100_000}

// bucket is a token bucket refilled continuously.
type bucket struct {
	tokens float64
	at     time.Time
}

// Throttle keeps the buckets of failed logins, bounded in number.
type Throttle struct {
	p   ThrottlePolicy
	mu  sync.Mutex
	lru *lru.LRU[string, *bucket]
}

// NewThrottle returns an empty throttle with the policy (zero fields take the defaults).
func NewThrottle(p ThrottlePolicy) *Throttle {
	d := DefaultThrottle
	if p.AddrBurst <= 0 {
		p.AddrBurst = d.AddrBurst
	}
	if p.AddrEvery <= 0 {
		p.AddrEvery = d.AddrEvery
	}
	if p.NameBurst <= 0 {
		p.NameBurst = d.NameBurst
	}
	if p.NameEvery <= 0 {
		p.NameEvery = d.NameEvery
	}
	if p.MaxKeys <= 0 {
		p.MaxKeys = d.MaxKeys
	}
	l, _ := lru.NewLRU[string, *bucket](p.MaxKeys, nil) // only a size ≤ 0 fails
	return &Throttle{p: p, lru: l}
}

// AddrKey is the part of a client address that a throttle counts: an IPv4 address, or the
// /64 network of an IPv6 one (one host is given a whole /64).
func AddrKey(remote string) string {
	ip := net.ParseIP(remote)
	if ip == nil {
		return remote
	}
	if ip.To4() != nil {
		return ip.To4().String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

func addrKey(addr string) string       { return "a\x00" + addr }
func nameKey(addr, name string) string { return "n\x00" + addr + "\x00" + name }

// take spends one token of key's bucket, refilled since its last use; false when empty.
func (t *Throttle) take(key string, burst int, every time.Duration, now time.Time) bool {
	b, ok := t.lru.Get(key)
	if !ok {
		b = &bucket{tokens: float64(burst), at: now}
		t.lru.Add(key, b)
	}
	b.refill(burst, every, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (b *bucket) refill(burst int, every time.Duration, now time.Time) {
	if now.After(b.at) {
		b.tokens += float64(now.Sub(b.at)) / float64(every)
		b.at = now
	}
	if b.tokens > float64(burst) {
		b.tokens = float64(burst)
	}
}

func (t *Throttle) giveBack(key string, burst int) {
	if b, ok := t.lru.Peek(key); ok {
		b.tokens = min(b.tokens+1, float64(burst))
	}
}

// Throttled says which bucket refused a login.
type Throttled string

// The buckets that refuse.
const (
	NotThrottled    Throttled = ""
	ThrottledByAddr Throttled = "addr"
	ThrottledByName Throttled = "name"
)

// Take reserves a failure for a login of name from addr (AddrKey), before its password is
// checked; Return gives it back when the login succeeds. It says which bucket refused.
func (t *Throttle) Take(addr, name string, now time.Time) Throttled {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.take(addrKey(addr), t.p.AddrBurst, t.p.AddrEvery, now) {
		return ThrottledByAddr
	}
	if !t.take(nameKey(addr, name), t.p.NameBurst, t.p.NameEvery, now) {
		t.giveBack(addrKey(addr), t.p.AddrBurst)
		return ThrottledByName
	}
	return NotThrottled
}

// Return gives back what Take reserved: the login succeeded.
func (t *Throttle) Return(addr, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.giveBack(addrKey(addr), t.p.AddrBurst)
	t.giveBack(nameKey(addr, name), t.p.NameBurst)
}

// Forget clears the throttling of a name: its buckets, and the buckets of the addresses it
// was tried from (an unlock is for a person who is waiting, whatever bucket stops them).
func (t *Throttle) Forget(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range t.lru.Keys() {
		rest, ok := strings.CutPrefix(k, "n\x00")
		if !ok {
			continue
		}
		addr, nm, _ := strings.Cut(rest, "\x00")
		if nm != name {
			continue
		}
		t.lru.Remove(k)
		t.lru.Remove(addrKey(addr))
	}
}

// Limited counts the addresses from which name cannot try again now.
func (t *Throttle) Limited(name string, now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, k := range t.lru.Keys() {
		rest, ok := strings.CutPrefix(k, "n\x00")
		if !ok {
			continue
		}
		addr, nm, _ := strings.Cut(rest, "\x00")
		if nm != name {
			continue
		}
		b, _ := t.lru.Peek(k)
		nb := *b
		nb.refill(t.p.NameBurst, t.p.NameEvery, now)
		a, ok := t.lru.Peek(addrKey(addr))
		limited := nb.tokens < 1
		if ok {
			ab := *a
			ab.refill(t.p.AddrBurst, t.p.AddrEvery, now)
			limited = limited || ab.tokens < 1
		}
		if limited {
			n++
		}
	}
	return n
}

// Len is the number of buckets kept.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}
