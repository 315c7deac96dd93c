package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"tisheng/internal/auth"
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
	if _, _, err := st.Login(ctx, "qx", m[1]); err != nil {
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
