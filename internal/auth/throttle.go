package auth

import (
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2/simplelru"
)

// ThrottlePolicy bounds failed logins. Each client address, and each address with one
// name, has a token bucket: a failed login spends a token (a login refused because every
// hash slot was busy too: a flood that keeps the slots busy must slow itself down), a
// successful one gives it back, and an empty bucket refuses at once, before any password
// is hashed. No account is ever locked for everyone: a flood from one address slows that
// address only.
//
// A login from a trusted device (auth.Store's device cookie: the browser logged in as that
// name before) skips the address bucket, so that a school behind one NAT address, or an
// admin whose address a flood shares, keeps logging in; it keeps the address-and-name
// bucket, and spends from a bucket of its name alone, so that a user's own device cookie
// cannot be used to guess at its password from many addresses.
type ThrottlePolicy struct {
	AddrBurst   int           // failures an address may make at once
	AddrEvery   time.Duration // then one more per this long
	NameBurst   int           // failures an address may make at once on one name
	NameEvery   time.Duration
	DeviceBurst int // failures a name may make at once from trusted devices, all addresses together
	DeviceEvery time.Duration
	// MaxKeys bounds the buckets kept; past it the least recently used goes (a bucket that
	// has not been touched for its refill time holds nothing anyway).
	MaxKeys int
}

// DefaultThrottle: an address may fail 30 times, then once every 2 seconds; on one name 5
// times, then once a minute. A school behind one NAT address keeps its logins; a guesser
// gets 60 tries an hour at one name from one address.
var DefaultThrottle = ThrottlePolicy{AddrBurst: 30, AddrEvery: 2 * time.Second, NameBurst: 5, NameEvery: time.Minute,
	DeviceBurst: 10, DeviceEvery: time.Minute, MaxKeys: 100_000}

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
	if p.DeviceBurst <= 0 {
		p.DeviceBurst = d.DeviceBurst
	}
	if p.DeviceEvery <= 0 {
		p.DeviceEvery = d.DeviceEvery
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

// The buckets' keys: an address; an address with a name; a name's trusted devices. A
// refusal key records that an address's bucket refused a name (the name had not failed
// there itself), so that an unlock of the name finds that address.
func addrKey(addr string) string          { return "a\x00" + addr }
func nameKey(addr, name string) string    { return "n\x00" + addr + "\x00" + name }
func deviceKey(name string) string        { return "d\x00" + name }
func refusalKey(addr, name string) string { return "r\x00" + addr + "\x00" + name }

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
// checked; Return gives it back when the login succeeds. It says which bucket refused. A
// login from a trusted device (trusted) skips the address bucket while its name's device
// bucket holds tokens; trustedOK says whether it did (Return needs to know).
func (t *Throttle) Take(addr, name string, now time.Time, trusted bool) (refused Throttled, trustedOK bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if trusted && t.take(deviceKey(name), t.p.DeviceBurst, t.p.DeviceEvery, now) {
		if !t.take(nameKey(addr, name), t.p.NameBurst, t.p.NameEvery, now) {
			t.giveBack(deviceKey(name), t.p.DeviceBurst)
			return ThrottledByName, false
		}
		return NotThrottled, true
	}
	if !t.take(addrKey(addr), t.p.AddrBurst, t.p.AddrEvery, now) {
		if _, ok := t.lru.Peek(refusalKey(addr, name)); !ok {
			t.lru.Add(refusalKey(addr, name), &bucket{at: now})
		}
		return ThrottledByAddr, false
	}
	if !t.take(nameKey(addr, name), t.p.NameBurst, t.p.NameEvery, now) {
		t.giveBack(addrKey(addr), t.p.AddrBurst)
		return ThrottledByName, false
	}
	return NotThrottled, false
}

// Return gives back what Take reserved: the login succeeded.
func (t *Throttle) Return(addr, name string, trusted bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if trusted {
		t.giveBack(deviceKey(name), t.p.DeviceBurst)
	} else {
		t.giveBack(addrKey(addr), t.p.AddrBurst)
	}
	t.giveBack(nameKey(addr, name), t.p.NameBurst)
}

// addrsOf lists the addresses where name failed or was refused (its name and refusal keys).
func (t *Throttle) addrsOf(name string) map[string][]string {
	out := map[string][]string{}
	for _, k := range t.lru.Keys() {
		for _, prefix := range []string{"n\x00", "r\x00"} {
			rest, ok := strings.CutPrefix(k, prefix)
			if !ok {
				continue
			}
			addr, nm, _ := strings.Cut(rest, "\x00")
			if nm == name {
				out[addr] = append(out[addr], k)
			}
		}
	}
	return out
}

// Forget clears the throttling of a name: its buckets, its trusted devices' bucket, and
// the buckets of the addresses it failed or was refused from (an unlock is for a person
// who is waiting, whatever bucket stops them: behind a NAT address that others' failures
// emptied, the address bucket). It returns those addresses, sorted.
func (t *Throttle) Forget(name string, now time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for addr, keys := range t.addrsOf(name) {
		if t.stopped(addr, keys, now) != notStopped {
			out = append(out, addr)
			t.lru.Remove(addrKey(addr))
		}
		for _, k := range keys {
			t.lru.Remove(k)
		}
	}
	t.lru.Remove(deviceKey(name))
	sort.Strings(out)
	return out
}

type stop int

const (
	notStopped   stop = iota
	failedThere       // the name failed from the address (its bucket there is not full), or was refused there
	limitedThere      // and cannot try from there now
)

// stopped says how a name's attempts from an address (its keys there) stand.
func (t *Throttle) stopped(addr string, keys []string, now time.Time) stop {
	st := notStopped
	for _, k := range keys {
		if strings.HasPrefix(k, "r\x00") {
			st = failedThere
			continue
		}
		b, _ := t.lru.Peek(k)
		nb := *b
		nb.refill(t.p.NameBurst, t.p.NameEvery, now)
		if nb.tokens < 1 {
			return limitedThere
		}
		if nb.tokens < float64(t.p.NameBurst) {
			st = failedThere
		}
	}
	if a, ok := t.lru.Peek(addrKey(addr)); ok && st != notStopped {
		ab := *a
		ab.refill(t.p.AddrBurst, t.p.AddrEvery, now)
		if ab.tokens < 1 {
			return limitedThere
		}
	}
	return st
}

// Limited counts the addresses from which name cannot try again now: its own bucket there
// is empty, or the address's bucket, which refused it.
func (t *Throttle) Limited(name string, now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for addr, keys := range t.addrsOf(name) {
		if t.stopped(addr, keys, now) == limitedThere {
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
