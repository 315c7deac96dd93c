package server

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tisheng/internal/auth"
	"tisheng/internal/testkit"
	"tisheng/internal/warehouse"
)

// A cross-origin request is refused whoever sends it, and its audit line names the caller
// its cookie or token identifies (a hostile page riding on a signed-in user's browser).
// Before: the line had no user even with a valid session cookie.
func TestCrossOriginAuditNamesTheCaller(t *testing.T) {
	e := newEnv(t, Config{})
	d := e.one(`SELECT min(district) FROM school_info`)
	e.client("victim", auth.User{Role: auth.RoleDistrict, District: d})
	b := browserAt(t, "127.0.0.31")
	if r := loginForm(t, b, e.ts.URL, "victim", "password-of-victim"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", r.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/api/sql", strings.NewReader(`{"sql":"SELECT 1"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin with a session: %d", resp.StatusCode)
	}
	es, _ := e.accounts.Audit(context.Background(), auth.Filter{Action: auth.ActCrossOrigin})
	if len(es) != 1 || es[0].User != "victim" || es[0].Role != string(auth.RoleDistrict) || es[0].Scope != "区县:"+d || es[0].Remote != "127.0.0.31" {
		t.Fatalf("cross-origin line: %+v", es)
	}
	// nothing ran: no SQL line
	if es, _ := e.accounts.Audit(context.Background(), auth.Filter{User: "victim", Action: auth.ActSQL}); len(es) != 0 {
		t.Errorf("the refused query ran: %+v", es)
	}
}

// A school user's district is the school list's: the 管理 page refuses one given with it
// (before: a school user of one district could be given another's).
func TestSchoolUserTakesNoDistrict(t *testing.T) {
	e := newEnv(t, Config{})
	school := e.one(`SELECT min(school_code) FROM school_info`)
	other := e.one(`SELECT max(district) FROM school_info WHERE district <> (SELECT district FROM school_info WHERE school_code = ? LIMIT 1)`, school)
	form := url.Values{"op": {"add"}, "name": {"xx"}, "role": {"school"}, "school": {school}, "district": {other}}
	resp, body := do(t, e.c, http.MethodPost, e.ts.URL+"/admin/users", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "由学校信息决定") {
		t.Fatalf("a school user with another district: %d", resp.StatusCode)
	}
	if _, err := e.accounts.User(context.Background(), "xx"); err == nil {
		t.Fatal("the account was made")
	}
	form.Del("district")
	if resp, _ := do(t, e.c, http.MethodPost, e.ts.URL+"/admin/users", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"); resp.StatusCode != 200 {
		t.Fatalf("a school user without a district: %d", resp.StatusCode)
	}
}

// Upload files spooled while a body arrives are private (0600, in a 0700 directory),
// whatever the umask, and an uploads directory an earlier version made 0755 is made
// private at start.
func TestUploadSpoolIsPrivate(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "w.duckdb")
	if err := os.MkdirAll(db+".uploads", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(db+".uploads", 0o755); err != nil {
		t.Fatal(err)
	}
	wh, l := testkit.Demo(t, "../../testdata", db, warehouse.Options{Locked: true})
	e := serveWarehouse(t, Config{Limits: Limits{BodyMinRate: 1 << 10, BodyWindow: 2 * time.Second}}, wh, l)
	tok := e.token("up", auth.User{Role: auth.RoleDistrict, District: e.one(`SELECT min(district) FROM school_info`)})
	slowUpload(t, e, tok, 1<<10, 4<<10, 200*time.Millisecond)
	var spooled []string
	for i := 0; len(spooled) == 0; i++ {
		if i > 500 {
			t.Fatal("no upload spooled")
		}
		time.Sleep(10 * time.Millisecond)
		spooled, _ = filepath.Glob(filepath.Join(db+".uploads", "*", "*"))
	}
	for _, p := range []string{db + ".uploads", filepath.Dir(spooled[0]), spooled[0]} {
		st, err := os.Stat(p)
		want := os.FileMode(0o700)
		if p == spooled[0] {
			want = 0o600
		}
		if err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %v", p, st.Mode().Perm(), err, want)
		}
	}
	if st, err := os.Stat(db); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the warehouse file: %v %v", st.Mode().Perm(), err)
	}
}
