package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Trusted devices. A login flood from many addresses kept every hash slot busy and emptied
// the address buckets of a shared (NAT) address, and the admin's correct password got
// 401. A browser that logged in as a name before carries a device cookie for that name: an HMAC, under a key the server holds outside the database, over the name and an
// expiry. It proves nothing by itself (the password is still checked, and the name's own
// buckets still apply), but a login that carries one for the name it logs in as hashes in a
// slot kept for such logins and skips the address bucket (throttle.go).
//
// The cookie holds the last few names the browser logged in as (a school's shared computer),
// newest first, each signed on its own.

// DeviceCookie is the device cookie's name; it is sent to /login only.
const DeviceCookie = "tisheng_device"

// maxDeviceNames bounds the names one device cookie holds.
const maxDeviceNames = 4

// DeviceKey derives the device cookies' key from a secret the server holds outside the
// database (serve passes the warehouse's key file): ad-hoc SQL, which reads tables only,
// cannot reach it, and a separate derivation keeps the file's own use apart.
func DeviceKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("tisheng trusted device cookie v1"))
	return m.Sum(nil)
}

// SetDeviceKey sets the key of the device cookies (DeviceKey). Without one the store makes
// a random key: cookies then hold until the process ends.
func (s *Store) SetDeviceKey(key []byte) { s.deviceKey = append([]byte(nil), key...) }

func randomKey() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(err)
	}
	return k
}

func (s *Store) deviceMAC(name string, exp int64) string {
	m := hmac.New(sha256.New, s.deviceKey)
	m.Write([]byte("device\x00" + name + "\x00" + strconv.FormatInt(exp, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// deviceEntry is one name of a device cookie: base64url(name).expiry.mac.
func (s *Store) deviceEntry(name string, exp int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(name)) + "." + strconv.FormatInt(exp, 10) + "." + s.deviceMAC(name, exp)
}

// deviceNames reads a device cookie's valid entries, in order: names with their expiries.
func (s *Store) deviceNames(cookie string, now time.Time) ([]string, []int64) {
	if len(cookie) > 4096 {
		return nil, nil
	}
	var names []string
	var exps []int64
	for _, e := range strings.SplitN(cookie, "|", maxDeviceNames+1) {
		parts := strings.Split(e, ".")
		if len(parts) != 3 {
			continue
		}
		nb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
		exp, err2 := strconv.ParseInt(parts[1], 10, 64)
		if err1 != nil || err2 != nil || now.Unix() >= exp {
			continue
		}
		want := s.deviceMAC(string(nb), exp)
		if !hmac.Equal([]byte(want), []byte(parts[2])) {
			continue
		}
		names, exps = append(names, string(nb)), append(exps, exp)
	}
	return names, exps
}

// DeviceTrusted reports whether a device cookie vouches for name.
func (s *Store) DeviceTrusted(cookie, name string) bool {
	if cookie == "" || name == "" {
		return false
	}
	names, _ := s.deviceNames(cookie, s.now())
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// NewDeviceCookie is the device cookie to set after name logged in: name first, with a new
// expiry, then the other names the old cookie still vouches for.
func (s *Store) NewDeviceCookie(old, name string) string {
	now := s.now()
	entries := []string{s.deviceEntry(name, now.Add(s.policy.DeviceTTL).Unix())}
	names, exps := s.deviceNames(old, now)
	for i, n := range names {
		if n != name && len(entries) < maxDeviceNames {
			entries = append(entries, s.deviceEntry(n, exps[i]))
		}
	}
	return strings.Join(entries, "|")
}
