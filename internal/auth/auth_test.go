package auth

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"tisheng/internal/warehouse"
)

func store(t *testing.T) *Store {
	t.Helper()
	wh, err := warehouse.Open(context.Background(), filepath.Join(t.TempDir(), "w.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	return NewStore(wh.DB, DefaultPolicy)
}

func TestTokenAndSession(t *testing.T) {
	s := store(t)
	ctx := context.Background()
	if err := s.AddUser(ctx, User{Name: "a", Role: RoleDistrict, District: "东湖区"}, "correct horse"); err != nil {
		t.Fatal(err)
	}
	_, tok, err := s.AddToken(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.TokenUser(ctx, tok)
	if err != nil || u.Name != "a" || u.District != "东湖区" {
		t.Fatalf("token user %+v, %v", u, err)
	}
	if _, err := s.TokenUser(ctx, tok+"x"); err == nil {
		t.Fatal("a wrong token was accepted")
	}
	sess, _, err := s.Login(ctx, "10.0.0.1", "a", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if u, err := s.Session(ctx, sess); err != nil || u.Name != "a" {
		t.Fatalf("session %+v %v", u, err)
	}
	// nothing secret in clear
	var n int
	s.db.QueryRow(`SELECT count(*) FROM users WHERE password_hash LIKE '%correct%'`).Scan(&n)
	if n != 0 {
		t.Fatal("a password is stored in clear")
	}
	s.db.QueryRow(`SELECT count(*) FROM api_tokens WHERE token_hash = ?`, tok).Scan(&n)
	if n != 0 {
		t.Fatal("a token is stored in clear")
	}
	s.db.QueryRow(`SELECT count(*) FROM sessions WHERE token_hash = ?`, sess).Scan(&n)
	if n != 0 {
		t.Fatal("a session token is stored in clear")
	}
	// disabling ends sessions and tokens at once
	if err := s.SetDisabled(ctx, "a", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenUser(ctx, tok); err == nil {
		t.Fatal("a disabled user's token works")
	}
	if _, err := s.Session(ctx, sess); err == nil {
		t.Fatal("a disabled user's session works")
	}
	// a disabled account with its right password learns nothing more than a wrong one
	_, _, err = s.Login(ctx, "10.0.0.1", "a", "correct horse")
	var le *LoginError
	if !errors.As(err, &le) || le.Reason != ReasonDisabledRight || err.Error() != ErrBadCredentials.Error() {
		t.Fatalf("disabled login: %v", err)
	}
}

// Failed logins are throttled by address and by address and name, never by account: a
// flood from one address locks nobody else out, every refusal reads alike, and an unlock
// clears a name's throttling.
func TestThrottleAndExpiry(t *testing.T) {
	s := store(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	if err := s.AddUser(ctx, User{Name: "b", Role: RoleAdmin}, "correct horse"); err != nil {
		t.Fatal(err)
	}
	reason := func(err error) string {
		t.Helper()
		var le *LoginError
		if !errors.As(err, &le) || err.Error() != ErrBadCredentials.Error() || !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("not a uniform refusal: %v", err)
		}
		return le.Reason
	}
	p := DefaultThrottle
	for i := 0; i < p.NameBurst; i++ {
		if _, _, err := s.Login(ctx, "10.0.0.9", "b", "wrong"); reason(err) != ReasonWrongPassword {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	// the attacker's address is throttled on that name, even with the right password...
	if _, _, err := s.Login(ctx, "10.0.0.9", "b", "correct horse"); reason(err) != ReasonThrottledName {
		t.Fatalf("throttled address let in: %v", err)
	}
	// ...and an unknown name from there is refused the same way (no probing by message)
	if _, _, err := s.Login(ctx, "10.0.0.9", "nobody", "x"); reason(err) != ReasonUnknownName {
		t.Fatalf("unknown name: %v", err)
	}
	// the account is not locked: its owner, elsewhere, logs in
	if _, _, err := s.Login(ctx, "10.0.0.1", "b", "correct horse"); err != nil {
		t.Fatalf("the owner is locked out by someone else's failures: %v", err)
	}
	if n := s.Throttled("b"); n != 1 {
		t.Fatalf("throttled addresses of b: %d", n)
	}
	// the bucket refills: one try a minute
	now = now.Add(p.NameEvery)
	if _, _, err := s.Login(ctx, "10.0.0.9", "b", "wrong"); reason(err) != ReasonWrongPassword {
		t.Fatalf("after a minute: %v", err)
	}
	if _, _, err := s.Login(ctx, "10.0.0.9", "b", "wrong"); reason(err) != ReasonThrottledName {
		t.Fatalf("second try in the minute: %v", err)
	}
	// an admin's unlock clears it at once
	if n, err := s.Unlock(ctx, "b"); err != nil || n != 1 {
		t.Fatalf("unlock: %d %v", n, err)
	}
	if s.Throttled("b") != 0 {
		t.Fatal("still throttled after unlock")
	}
	sess, _, err := s.Login(ctx, "10.0.0.9", "b", "correct horse")
	if err != nil {
		t.Fatalf("after the unlock: %v", err)
	}
	if _, err := s.Unlock(ctx, "nobody"); !errors.Is(err, ErrNoUser) {
		t.Fatalf("unlock of an unknown name: %v", err)
	}
	now = now.Add(DefaultPolicy.SessionTTL + time.Second)
	if _, err := s.Session(ctx, sess); err == nil {
		t.Fatal("an expired session works")
	}
	// random names from one address: the address bucket stops them before any hash
	for i := 0; i < p.AddrBurst+10; i++ {
		_, _, err := s.Login(ctx, "10.0.0.7", fmt.Sprintf("random%d", i), "x")
		want := ReasonUnknownName
		if i >= p.AddrBurst {
			want = ReasonThrottledAddr
		}
		if r := reason(err); r != want {
			t.Fatalf("attempt %d: %s, want %s", i, r, want)
		}
	}
}

// The throttle's memory is bounded: random addresses cannot grow it past MaxKeys, and IPv6
// addresses count by their /64.
func TestThrottleBounded(t *testing.T) {
	th := NewThrottle(ThrottlePolicy{MaxKeys: 100})
	now := time.Now()
	for i := 0; i < 10000; i++ {
		th.Take(AddrKey(fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255)), "admin", now)
	}
	if th.Len() > 100 {
		t.Fatalf("%d buckets kept", th.Len())
	}
	if AddrKey("2001:db8::1") != AddrKey("2001:db8::ffff:2") || AddrKey("2001:db8::1") == AddrKey("2001:db8:0:1::1") {
		t.Fatal("IPv6 addresses are not counted by /64")
	}
	if AddrKey("::ffff:10.0.0.1") != "10.0.0.1" {
		t.Fatalf("IPv4-mapped: %s", AddrKey("::ffff:10.0.0.1"))
	}
}

// A flood of failed logins does not hold the store's mutex, which every session lookup
// needs: sessions are answered while hashes run.
func TestHashOutsideTheLock(t *testing.T) {
	s := store(t)
	ctx := context.Background()
	if err := s.AddUser(ctx, User{Name: "d", Role: RoleAdmin}, "correct horse"); err != nil {
		t.Fatal(err)
	}
	sess, _, err := s.Login(ctx, "10.0.0.1", "d", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	// Hold every hash slot: a login now waits for one, and must not hold the mutex meanwhile.
	for i := 0; i < cap(s.hashing); i++ {
		s.hashing <- struct{}{}
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := s.Login(ctx, "10.0.0.2", "d", "wrong")
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	s.mu.Lock()
	s.cache = map[string]cached{} // the session must come from the database, through the mutex
	s.mu.Unlock()
	got := make(chan error, 1)
	go func() {
		_, err := s.Session(ctx, sess)
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-done:
		t.Fatal("the login did not wait for a hash slot")
	case <-time.After(3 * time.Second):
		t.Fatal("a session lookup waited for a login's hash")
	}
	for i := 0; i < cap(s.hashing); i++ {
		<-s.hashing
	}
	if err := <-done; err == nil {
		t.Fatal("a wrong password logged in")
	}
}

// Disabling revokes the API tokens: enabling again does not bring them back.
func TestDisableRevokesTokens(t *testing.T) {
	s := store(t)
	ctx := context.Background()
	if err := s.AddUser(ctx, User{Name: "e", Role: RoleDistrict, District: "东湖区"}, "correct horse"); err != nil {
		t.Fatal(err)
	}
	_, tok, _ := s.AddToken(ctx, "e")
	if err := s.SetDisabled(ctx, "e", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDisabled(ctx, "e", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenUser(ctx, tok); err == nil {
		t.Fatal("a token disabled with its account works again after enabling")
	}
	if _, _, err := s.Login(ctx, "10.0.0.1", "e", "correct horse"); err != nil {
		t.Fatalf("the enabled account cannot log in: %v", err)
	}
}

// Spaces around names are dropped; a district or school the school lists do not name is
// refused, and with no school list the caller is told it could not check.
func TestAccountNamesTrimmedAndChecked(t *testing.T) {
	s := store(t)
	ctx := context.Background()
	if err := s.AddUser(ctx, User{Name: " f ", Role: RoleDistrict, District: "东湖区 "}, "correct horse"); err != nil {
		t.Fatal(err)
	}
	u, err := s.User(ctx, "f")
	if err != nil || u.District != "东湖区" {
		t.Fatalf("%+v %v", u, err)
	}
	districts, schools := map[string]bool{"东湖区": true}, map[string]bool{"3601": true}
	for _, c := range []struct {
		u  User
		ok bool
	}{
		{User{Role: RoleDistrict, District: "东湖区"}, true},
		{User{Role: RoleDistrict, District: "东湖"}, false},
		{User{Role: RoleSchool, School: "3601"}, true},
		{User{Role: RoleSchool, School: "3602"}, false},
		{User{Role: RoleAdmin}, true},
	} {
		if err := CheckKnownScope(c.u, districts, schools); (err == nil) != c.ok {
			t.Errorf("%+v: %v", c.u, err)
		}
	}
	if err := CheckKnownScope(User{Role: RoleDistrict, District: "东湖区"}, nil, nil); !errors.Is(err, ErrNoSchoolList) {
		t.Errorf("no school list: %v", err)
	}
}

func TestUserChecks(t *testing.T) {
	for _, c := range []User{
		{Name: "x", Role: "root"},
		{Name: "x", Role: RoleDistrict},
		{Name: "x", Role: RoleSchool},
		{Name: "x", Role: RoleAdmin, District: "东湖区"},
		{Name: "x y", Role: RoleAdmin},
		{Name: "x", Role: RoleLeader, School: "1"},
	} {
		if err := CheckUser(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if (Scope{}).Valid() || (Scope{User: "x", Role: RoleDistrict}).Valid() {
		t.Error("an incomplete scope is valid")
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("secret password")
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "secret password") || CheckPassword(h, "secret passworD") || CheckPassword("$argon2id$junk", "x") {
		t.Fatal("password check wrong")
	}
}

// A password reset (what an admin does for a leaked credential) revokes the API tokens too.
func TestPasswordResetRevokesTokens(t *testing.T) {
	s := store(t)
	ctx := context.Background()
	if err := s.AddUser(ctx, User{Name: "c", Role: RoleAdmin}, "correct horse"); err != nil {
		t.Fatal(err)
	}
	_, tok, _ := s.AddToken(ctx, "c")
	if err := s.SetPassword(ctx, "c", "another horse"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenUser(ctx, tok); err == nil {
		t.Fatal("a token outlived the password reset")
	}
}
