package auth

import (
	"context"
	"errors"
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
	sess, _, err := s.Login(ctx, "a", "correct horse")
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
	if _, _, err := s.Login(ctx, "a", "correct horse"); !errors.Is(err, ErrDisabled) {
		t.Fatalf("disabled login: %v", err)
	}
}

func TestLockOutAndExpiry(t *testing.T) {
	s := store(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	if err := s.AddUser(ctx, User{Name: "b", Role: RoleAdmin}, "correct horse"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < DefaultPolicy.MaxFailures; i++ {
		if _, _, err := s.Login(ctx, "b", "wrong"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if _, _, err := s.Login(ctx, "b", "wrong"); !errors.Is(err, ErrLocked) {
		t.Fatalf("failure %d should lock: %v", DefaultPolicy.MaxFailures, err)
	}
	// locked: even the right password is refused until the lock ends
	if _, _, err := s.Login(ctx, "b", "correct horse"); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked account let in: %v", err)
	}
	now = now.Add(DefaultPolicy.LockFor + time.Second)
	sess, _, err := s.Login(ctx, "b", "correct horse")
	if err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	now = now.Add(DefaultPolicy.SessionTTL + time.Second)
	if _, err := s.Session(ctx, sess); err == nil {
		t.Fatal("an expired session works")
	}
	// an unknown name fails like a wrong password
	if _, _, err := s.Login(ctx, "nobody", "x"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("unknown user: %v", err)
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
