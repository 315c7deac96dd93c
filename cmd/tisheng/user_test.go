package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"tisheng/internal/auth"
	"tisheng/internal/testkit"
	"tisheng/internal/warehouse"
)

// The account commands, as the README shows them: a generated password printed once,
// stored only hashed; a token printed once; list; disable; a mistyped --db refused.
func TestUserAndTokenCommands(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "w.duckdb")
	wh, err := warehouse.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	wh.Close()
	runOK := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(ctx, args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	out := runOK("user", "add", "--db", db, "--name", "qx", "--role", "district", "--district", "东湖区")
	m := regexp.MustCompile(`密码：(\S+)`).FindStringSubmatch(out)
	if m == nil || len(m[1]) < auth.MinPasswordLen {
		t.Fatalf("no password printed: %s", out)
	}
	out = runOK("token", "add", "--db", db, "--user", "qx")
	tok := regexp.MustCompile(`tsk_\S+`).FindString(out)
	if tok == "" {
		t.Fatalf("no token printed: %s", out)
	}
	if out := runOK("user", "list", "--db", db); !strings.Contains(out, "qx") || !strings.Contains(out, "区县:东湖区") {
		t.Errorf("user list: %s", out)
	}

	wh, err = warehouse.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	st := auth.NewStore(wh.DB, auth.DefaultPolicy)
	if _, _, err := st.Login(ctx, "127.0.0.1", "qx", m[1]); err != nil {
		t.Errorf("the printed password does not log in: %v", err)
	}
	if u, err := st.TokenUser(ctx, tok); err != nil || u.Name != "qx" {
		t.Errorf("the printed token: %v", err)
	}
	var clear int
	wh.DB.QueryRow(`SELECT count(*) FROM users WHERE password_hash = ? OR password_hash NOT LIKE '$argon2id$%'`, m[1]).Scan(&clear)
	if clear != 0 {
		t.Error("a password is stored in clear")
	}
	es, _ := st.Audit(ctx, auth.Filter{})
	if len(es) != 2 || !strings.HasPrefix(es[0].User, "命令行") {
		t.Errorf("account changes not in the audit trail: %+v", es)
	}
	wh.Close()

	runOK("user", "disable", "--db", db, "qx")
	wh, _ = warehouse.Open(ctx, db)
	st = auth.NewStore(wh.DB, auth.DefaultPolicy)
	if _, err := st.TokenUser(ctx, tok); err == nil {
		t.Error("a disabled user's token still works")
	}
	wh.Close()

	for _, c := range [][]string{
		{"user", "add", "--db", filepath.Join(t.TempDir(), "typo.duckdb"), "--name", "x", "--role", "admin"},
		{"user", "add", "--db", db, "--name", "qx2", "--role", "district"},
		{"user", "add", "--db", db, "--name", "qx", "--role", "admin"},
		{"user", "add", "--db", db, "--name", "y", "--role", "superuser"},
		{"token", "add", "--db", db, "--user", "nobody"},
	} {
		var out, errb bytes.Buffer
		if code := run(ctx, c, &out, &errb); code == 0 {
			t.Errorf("%v succeeded: %s", c, out.String())
		}
	}
}

// `user add --district "东湖区 "` trims; a district or school the loaded school lists do
// not name is refused; before any school list the account is made with a warning.
func TestUserAddChecksTheSchoolList(t *testing.T) {
	ctx := context.Background()
	empty := filepath.Join(t.TempDir(), "empty.duckdb")
	wh, err := warehouse.Open(ctx, empty)
	if err != nil {
		t.Fatal(err)
	}
	wh.Close()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"user", "add", "--db", empty, "--name", "early", "--role", "district", "--district", "东湖区"}, &out, &errb); code != 0 {
		t.Fatalf("before any school list: exit %d %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "还没有导入学校信息") || !strings.Contains(errb.String(), "tisheng user list") {
		t.Errorf("no warning that the district was not checked: %s", errb.String())
	}

	db := filepath.Join(t.TempDir(), "w.duckdb")
	wh, _ = testkit.Demo(t, "../../testdata", db, warehouse.Options{})
	wh.Close()
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"user", "add", "--db", db}, args...), &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, msg := run("--name", "qx", "--role", "district", "--district", "东湖区 "); code != 0 {
		t.Fatalf("a trailing space: exit %d %s", code, msg)
	}
	for _, c := range [][]string{
		{"--name", "qx2", "--role", "district", "--district", "东湖"},
		{"--name", "ld", "--role", "leader", "--district", "火星区"},
		{"--name", "sc", "--role", "school", "--school", "99999999"},
	} {
		if code, msg := run(c...); code == 0 || !strings.Contains(msg, "不在已导入的学校信息中") {
			t.Errorf("%v: exit %d %s", c, code, msg)
		}
	}
	wh, err = warehouse.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	st := auth.NewStore(wh.DB, auth.DefaultPolicy)
	u, err := st.User(ctx, "qx")
	if err != nil || u.District != "东湖区" {
		t.Fatalf("stored %+v %v", u, err)
	}
	if _, err := st.User(ctx, "qx2"); err == nil {
		t.Error("a refused account was stored")
	}
}

// `user unlock` clears what an account's failed logins left and says where a running
// server's throttling is cleared.
func TestUserUnlock(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "w.duckdb")
	wh, err := warehouse.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	st := auth.NewStore(wh.DB, auth.DefaultPolicy)
	if err := st.AddUser(ctx, auth.User{Name: "admin", Role: auth.RoleAdmin}, "correct horse"); err != nil {
		t.Fatal(err)
	}
	// what an earlier version's lock-out left on the account
	wh.DB.Exec(`UPDATE users SET failed_logins = 5, locked_until = now()::TIMESTAMP + INTERVAL 1 HOUR`)
	wh.Close()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"user", "unlock", "--db", db, "admin"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "已解除 admin 的登录限制") || !strings.Contains(out.String(), "/api/admin/users/admin/unlock") {
		t.Errorf("unlock said: %s", out.String())
	}
	wh, _ = warehouse.Open(ctx, db)
	defer wh.Close()
	var locked int
	wh.DB.QueryRow(`SELECT count(*) FROM users WHERE locked_until IS NOT NULL OR failed_logins > 0`).Scan(&locked)
	if locked != 0 {
		t.Error("the old lock is still recorded")
	}
	es, _ := auth.NewStore(wh.DB, auth.DefaultPolicy).Audit(ctx, auth.Filter{Action: auth.ActUser})
	if len(es) != 1 || es[0].Detail != "unlock" || es[0].Object != "admin" {
		t.Errorf("audit: %+v", es)
	}
	errb.Reset()
	if code := run(ctx, []string{"user", "unlock", "--db", db, "nobody"}, &out, &errb); code == 0 {
		t.Error("unlocking an unknown name succeeded")
	}
}
