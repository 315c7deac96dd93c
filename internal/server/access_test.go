package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"log/slog"

	"github.com/go-chi/chi/v5"
	"github.com/xuri/excelize/v2"

	"tisheng/ingest"
	"tisheng/internal/auth"
	"tisheng/internal/warehouse"
)

// outsiders lists what a scope must never see: the other districts' names and the codes of
// schools outside it.
type outsiders struct {
	districts []string
	schools   []string
}

func (e *env) outsidersOf(district, school string) outsiders {
	e.t.Helper()
	var o outsiders
	rows, err := e.wh.DB.Query(`SELECT DISTINCT district FROM school_info WHERE district <> ?`, district)
	if err != nil {
		e.t.Fatal(err)
	}
	for rows.Next() {
		var d string
		rows.Scan(&d)
		o.districts = append(o.districts, d)
	}
	rows.Close()
	q := `SELECT DISTINCT school_code FROM school_info WHERE district <> ?`
	args := []any{district}
	if school != "" {
		q = `SELECT DISTINCT school_code FROM school_info WHERE school_code <> ?`
		args = []any{school}
	}
	rows, err = e.wh.DB.Query(q, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		o.schools = append(o.schools, s)
	}
	rows.Close()
	if len(o.districts) == 0 && school == "" || len(o.schools) == 0 {
		e.t.Fatal("the demo needs outsiders to test against")
	}
	return o
}

// leak reports the first outsider found in a body (JSON, CSV or the text of a workbook).
func (o outsiders) leak(body string) string {
	if school := ""; school == "" {
		for _, d := range o.districts {
			if strings.Contains(body, d) {
				return "district " + d
			}
		}
	}
	for _, s := range o.schools {
		if regexp.MustCompile(`(^|[^0-9])` + s + `([^0-9]|$)`).MatchString(body) {
			return "school " + s
		}
	}
	return ""
}

// xlsxText is every cell of every sheet, tab-separated.
func xlsxText(t *testing.T, b []byte) string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("workbook does not open: %v", err)
	}
	defer f.Close()
	var sb strings.Builder
	for _, sh := range f.GetSheetList() {
		rows, _ := f.GetRows(sh)
		for _, r := range rows {
			sb.WriteString(strings.Join(r, "\t") + "\n")
		}
	}
	return sb.String()
}

func do(t *testing.T, c *http.Client, method, u string, body io.Reader, ctype string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// Every route, walked from the router itself so that a new one cannot be forgotten, refuses
// a caller without a login: pages redirect to /login, the rest answer 401.
func TestAnonymousRefusedEverywhere(t *testing.T) {
	e := newEnv(t, Config{})
	anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// /link's signature is its credential (deliver.go; its tests are internal/deliver's)
	open := map[string]bool{"/healthz": true, "/login": true, "/logout": true, "/static/*": true, "/link": true}
	n := 0
	err := chi.Walk(e.srv.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.ReplaceAll(route, "/*/", "/")
		if open[route] {
			return nil
		}
		path := strings.NewReplacer("{code}", "3601000001", "{query}", "schools", "*", "").Replace(route)
		n++
		t.Run(method+" "+route, func(t *testing.T) {
			resp, body := do(t, anon, method, e.ts.URL+path, strings.NewReader(`{"sql":"SELECT 1"}`), "application/json")
			// /metrics is for a scraper: 401, never a login page
			api := strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/download/") || path == "/metrics"
			switch {
			case api && resp.StatusCode != http.StatusUnauthorized:
				t.Errorf("%d %s", resp.StatusCode, body)
			case !api && method == http.MethodGet && (resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login")):
				t.Errorf("%d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
			case !api && method != http.MethodGet && resp.StatusCode < 400:
				t.Errorf("%d", resp.StatusCode)
			}
			if resp.StatusCode != http.StatusSeeOther && (strings.Contains(string(body), "3601000001") || strings.Contains(string(body), "东湖区")) {
				t.Errorf("data in an anonymous answer: %.200s", body)
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("walked only %d routes", n)
	}
	// A forged or revoked token is anonymous too.
	for _, h := range []string{"Bearer tsk_00_forged", "Bearer ", "Basic YWRtaW46eA==", "tsk_abc"} {
		req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/api/schools", nil)
		req.Header.Set("Authorization", h)
		resp, err := anon.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d", h, resp.StatusCode)
		}
	}
	if resp, _ := do(t, anon, http.MethodGet, e.ts.URL+"/healthz", nil, ""); resp.StatusCode != 200 {
		t.Errorf("/healthz %d", resp.StatusCode)
	}
}

// A district user sees its district on every page, JSON twin, workbook and download, and
// asking for another district or school is 403.
func TestDistrictScopeOnEveryPath(t *testing.T) {
	e := newEnv(t, Config{})
	d := e.one(`SELECT min(district) FROM school_info`)
	mine := e.one(`SELECT min(school_code) FROM school_info WHERE district = ?`, d)
	other := e.one(`SELECT min(school_code) FROM school_info WHERE district <> ?`, d)
	otherDistrict := e.one(`SELECT min(district) FROM school_info WHERE district <> ?`, d)
	o := e.outsidersOf(d, "")
	c := e.client("qx", auth.User{Role: auth.RoleDistrict, District: d})
	for _, m := range []string{"", "?month=2025-05"} {
		for _, p := range []string{"/", "/schools", "/schools/" + mine, "/abilities", "/trend", "/quality",
			"/api/overview", "/api/schools", "/api/school/" + mine, "/api/abilities", "/api/trend", "/api/quality",
			"/download/monthly.xlsx", "/download/annual.xlsx", "/download/roster.xlsx?school=" + mine,
			"/download/schools.xlsx", "/download/schools.csv", "/download/batches.csv", "/download/rejects.csv",
			"/download/coverage_matrix.csv", "/download/ability_points.csv", "/download/overview_districts.csv", "/download/trend.csv",
			"/download/unmatched.csv", "/download/school_teachers.csv?school=" + mine} {
			u := p
			if m != "" {
				sep := "?"
				if strings.Contains(p, "?") {
					sep = "&"
				}
				u = p + sep + m[1:]
			}
			t.Run(u, func(t *testing.T) {
				resp, body := do(t, c, http.MethodGet, e.ts.URL+u, nil, "")
				if resp.StatusCode != 200 {
					t.Fatalf("%d %.300s", resp.StatusCode, body)
				}
				text := string(body)
				if strings.HasSuffix(strings.SplitN(u, "?", 2)[0], ".xlsx") {
					text = xlsxText(t, body)
				}
				if l := o.leak(text); l != "" {
					t.Errorf("%s leaks %s", u, l)
				}
				if (strings.HasPrefix(u, "/api/") || strings.HasSuffix(u, ".xlsx")) && !strings.Contains(text, d) && !strings.Contains(text, mine) {
					t.Errorf("%s shows nothing of %s", u, d)
				}
			})
		}
	}
	// the 月报's schools are exactly the district's
	_, b := do(t, c, http.MethodGet, e.ts.URL+"/download/monthly.xlsx", nil, "")
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := f.GetRows("学校进度")
	count := 0
	for _, r := range rows {
		for _, v := range r {
			if regexp.MustCompile(`^36\d{8}$`).MatchString(v) {
				count++
			}
		}
	}
	if want := e.one(`SELECT count(*) FROM school_gate WHERE district = ?`, d); fmt.Sprint(count) != want {
		t.Errorf("月报 学校进度 lists %d schools, the district has %s", count, want)
	}
	f.Close()
	// widening is 403, not an empty page
	for _, u := range []string{"/?district=" + url.QueryEscape(otherDistrict), "/api/schools?district=" + url.QueryEscape(otherDistrict),
		"/schools/" + other, "/api/school/" + other, "/download/roster.xlsx?school=" + other,
		"/download/monthly.xlsx?district=" + url.QueryEscape(otherDistrict), "/download/schools.csv?district=" + url.QueryEscape(otherDistrict),
		"/download/school_teachers.csv?school=" + other, "/admin", "/api/admin/users", "/download/audit.xlsx"} {
		resp, body := do(t, c, http.MethodGet, e.ts.URL+u, nil, "")
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d %.200s", u, resp.StatusCode, body)
		}
		// the refusal may repeat what was asked for, nothing more
		if l := o.leak(strings.ReplaceAll(strings.ReplaceAll(string(body), other, ""), otherDistrict, "")); l != "" {
			t.Errorf("%s: refusal leaks %s", u, l)
		}
	}
}

// Hostile SQL from a district user never returns another district's row: every query is
// either refused or answers from the district's own database.
func TestDistrictSQLCannotLeak(t *testing.T) {
	e := newEnv(t, Config{})
	d := e.one(`SELECT min(district) FROM school_info`)
	o := e.outsidersOf(d, "")
	c := e.client("qx", auth.User{Role: auth.RoleDistrict, District: d})
	q := url.QueryEscape
	_ = q
	queries := []string{
		`SELECT count(*) AS n FROM teacher_progress`,
		`SELECT DISTINCT district FROM school_gate`,
		`SELECT * FROM teacher_progress_monthly`,
		`SELECT * FROM school_info`,
		`SELECT * FROM raw_schools`,
		`SELECT * FROM raw_hours LIMIT 5000`,
		`SELECT * FROM raw_teachers`,
		`SELECT * FROM rejects`,
		`SELECT * FROM batches`,
		`SELECT * FROM coverage`,
		`SELECT * FROM ability_choices`,
		`SELECT * FROM monthly_progress`,
		`SELECT * FROM district_summary`,
		`SELECT * FROM annual_by_group`,
		`SELECT * FROM annual_summary`,
		`SELECT * FROM swot_inputs`,
		`SELECT * FROM unmatched_rows`,
		`SELECT * FROM data_quality`,
		`SELECT * FROM effective_batches`,
		`SELECT * FROM teacher_category_hours t JOIN roster r USING (month, teacher_key)`,
		`WITH school_gate AS (SELECT * FROM school_gate_monthly) SELECT district, school_code FROM school_gate`,
		`SELECT district FROM school_gate UNION ALL SELECT scope_code FROM coverage UNION ALL SELECT group_value FROM annual_by_group`,
		`SELECT (SELECT string_agg(DISTINCT district, ',') FROM teacher_progress_monthly) AS all_districts`,
		`SELECT district, count(*) OVER () FROM school_gate_monthly`,
		`SELECT * FROM main.school_gate`,
		`SELECT * FROM memory.main.school_gate`,
		`SELECT * FROM "school_gate"`,
		`SELECT * FROM SCHOOL_GATE`,
		`SUMMARIZE school_gate`,
		`SELECT * FROM (SUMMARIZE school_info)`,
		`DESCRIBE school_gate`,
		`SHOW ALL TABLES`,
		`SELECT * FROM information_schema.tables`,
		`SELECT * FROM duckdb_tables()`,
		`SELECT * FROM duckdb_databases()`,
		`SELECT * FROM read_csv('/etc/passwd')`,
		`SELECT current_setting('memory_limit')`,
		`ATTACH 'other.duckdb' AS o`,
		`SELECT * FROM audit`,
		`SELECT * FROM users`,
		`SELECT * FROM meta`,
		`PRAGMA database_list`,
		`SELECT 1; SELECT * FROM school_gate`,
	}
	for _, sql := range queries {
		t.Run(sql, func(t *testing.T) {
			b, _ := json.Marshal(map[string]string{"sql": sql})
			for _, format := range []string{"json", "csv"} {
				resp, body := do(t, c, http.MethodPost, e.ts.URL+"/api/sql?format="+format, bytes.NewReader(b), "application/json")
				if resp.StatusCode >= 500 {
					t.Errorf("%s: %d %.200s", format, resp.StatusCode, body)
				}
				if l := o.leak(string(body)); l != "" {
					t.Errorf("%s (%d) leaks %s: %.300s", format, resp.StatusCode, l, body)
				}
			}
		})
	}
	// The district's own figures are complete, not just filtered to nothing.
	b, _ := json.Marshal(map[string]string{"sql": `SELECT count(*) AS n FROM teacher_progress`})
	_, body := do(t, c, http.MethodPost, e.ts.URL+"/api/sql", bytes.NewReader(b), "application/json")
	if want := e.one(`SELECT count(*) FROM teacher_progress WHERE district = ?`, d); !strings.Contains(string(body), `[`+want+`]`) {
		t.Errorf("count(*) for %s: %s, want %s", d, body, want)
	}
	// the same query from an admin sees everything
	_, body = do(t, e.c, http.MethodPost, e.ts.URL+"/api/sql", bytes.NewReader(b), "application/json")
	if want := e.one(`SELECT count(*) FROM teacher_progress`); !strings.Contains(string(body), `[`+want+`]`) {
		t.Errorf("admin count(*): %s, want %s", body, want)
	}
}

// School users see their school only, run no SQL and download no 年报; leaders read only.
func TestSchoolAndLeaderRoles(t *testing.T) {
	e := newEnv(t, Config{})
	school := e.one(`SELECT min(school_code) FROM school_info`)
	other := e.one(`SELECT min(school_code) FROM school_info WHERE school_code <> ?`, school)
	o := e.outsidersOf(e.one(`SELECT district FROM school_info WHERE school_code = ? LIMIT 1`, school), school)
	o.districts = nil // a school's district average is shown to it; other districts are checked by school code
	sc := e.client("xx", auth.User{Role: auth.RoleSchool, School: school})
	for _, u := range []string{"/schools/" + school, "/api/school/" + school, "/api/schools", "/api/abilities", "/api/trend", "/api/quality",
		"/download/roster.xlsx?school=" + school, "/download/monthly.xlsx", "/download/schools.csv"} {
		resp, body := do(t, sc, http.MethodGet, e.ts.URL+u, nil, "")
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %.200s", u, resp.StatusCode, body)
			continue
		}
		text := string(body)
		if strings.HasSuffix(strings.SplitN(u, "?", 2)[0], ".xlsx") {
			text = xlsxText(t, body)
		}
		if l := o.leak(text); l != "" {
			t.Errorf("%s leaks %s", u, l)
		}
	}
	// a school's 总览 is its own page
	if resp, _ := do(t, sc, http.MethodGet, e.ts.URL+"/", nil, ""); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/schools/"+school {
		t.Errorf("school overview: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, u := range []string{"/schools/" + other, "/api/school/" + other, "/download/roster.xlsx?school=" + other, "/sql", "/download/annual.xlsx", "/admin"} {
		if resp, body := do(t, sc, http.MethodGet, e.ts.URL+u, nil, ""); resp.StatusCode != http.StatusForbidden {
			t.Errorf("school user %s: %d %.200s", u, resp.StatusCode, body)
		}
	}
	if resp, _ := do(t, sc, http.MethodPost, e.ts.URL+"/api/sql", strings.NewReader(`{"sql":"SELECT 1"}`), "application/json"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("school user SQL: %d", resp.StatusCode)
	}

	ld := e.client("ld", auth.User{Role: auth.RoleLeader})
	if resp, _ := do(t, ld, http.MethodGet, e.ts.URL+"/download/monthly.xlsx", nil, ""); resp.StatusCode != 200 {
		t.Errorf("leader 月报: %d", resp.StatusCode)
	}
	for _, c := range []struct{ method, path string }{{"GET", "/sql"}, {"GET", "/upload"}, {"POST", "/api/sql"}, {"POST", "/api/ingest"}, {"GET", "/admin"}} {
		if resp, _ := do(t, ld, c.method, e.ts.URL+c.path, strings.NewReader(`{"sql":"SELECT 1"}`), "application/json"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("leader %s %s: %d", c.method, c.path, resp.StatusCode)
		}
	}
	// a leader of one district is scoped like its district
	d := e.one(`SELECT min(district) FROM school_info`)
	ld1 := e.client("ld1", auth.User{Role: auth.RoleLeader, District: d})
	_, body := do(t, ld1, http.MethodGet, e.ts.URL+"/api/overview", nil, "")
	if l := e.outsidersOf(d, "").leak(string(body)); l != "" {
		t.Errorf("district leader sees %s", l)
	}
}

// A district user's upload keeps its own schools' rows and refuses the others with that
// reason; a school user cannot load another school's 研修考核.
func TestUploadScope(t *testing.T) {
	e := newEnv(t, Config{})
	d := e.one(`SELECT min(district) FROM school_info`)
	mine := e.one(`SELECT min(school_code) FROM school_info WHERE district = ?`, d)
	other := e.one(`SELECT min(school_code) FROM school_info WHERE district <> ?`, d)
	roster := "姓名,身份证号,学校代码,任教学科,是否专任教师\n" +
		"张三,110101198001010010," + mine + ",语文,是\n" +
		"李四,110101198001010037," + other + ",数学,是\n"
	c := e.client("qx", auth.User{Role: auth.RoleDistrict, District: d})
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("files", "教师名单_2025-07-31.csv")
	fw.Write([]byte(roster))
	mw.Close()
	resp, body := do(t, c, http.MethodPost, e.ts.URL+"/api/ingest", &buf, mw.FormDataContentType())
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var out struct {
		Files []struct {
			Accepted, Rejected int
			Rejects            []struct {
				Row    int
				Reason string
			}
		}
	}
	json.Unmarshal(body, &out)
	if len(out.Files) != 1 || out.Files[0].Accepted != 1 || out.Files[0].Rejected != 1 ||
		!strings.Contains(out.Files[0].Rejects[0].Reason, "管辖范围") || out.Files[0].Rejects[0].Row != 3 {
		t.Fatalf("district upload: %s", body)
	}
	// the school user: another school's 研修考核 is refused before loading
	sc := e.client("xx", auth.User{Role: auth.RoleSchool, School: mine})
	buf.Reset()
	mw = multipart.NewWriter(&buf)
	mw.WriteField("school", other)
	fw, _ = mw.CreateFormFile("files", "研修考核.csv")
	fw.Write([]byte("x"))
	mw.Close()
	if resp, body := do(t, sc, http.MethodPost, e.ts.URL+"/api/ingest", &buf, mw.FormDataContentType()); resp.StatusCode != http.StatusForbidden {
		t.Errorf("school user uploading for %s: %d %s", other, resp.StatusCode, body)
	}
	// a catalogue is the project office's
	buf.Reset()
	mw = multipart.NewWriter(&buf)
	fw, _ = mw.CreateFormFile("files", "能力点目录.csv")
	cat, _ := os.ReadFile(filepath.Join("..", "..", "ingest", "catalogue", "national.csv"))
	fw.Write(append(cat, "\n"...)) // other bytes than the catalogue already loaded
	mw.Close()
	_, body = do(t, c, http.MethodPost, e.ts.URL+"/api/ingest", &buf, mw.FormDataContentType())
	if !strings.Contains(string(body), "工程办") || !strings.Contains(string(body), `"failed"`) {
		t.Errorf("district user loading a catalogue: %s", body)
	}
}

// Logins by form: cookie flags, lock-out, logout, no open redirect.
func TestLoginFlow(t *testing.T) {
	e := newEnv(t, Config{})
	e.client("web", auth.User{Role: auth.RoleDistrict, District: e.one(`SELECT min(district) FROM school_info`)})
	nr := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(user, pw, next string) *http.Response {
		resp, err := nr.PostForm(e.ts.URL+"/login", url.Values{"username": {user}, "password": {pw}, "next": {next}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post("web", "wrong password", ""); r.StatusCode != http.StatusUnauthorized || len(r.Cookies()) != 0 {
		t.Fatalf("wrong password: %d %v", r.StatusCode, r.Cookies())
	}
	r := post("web", "password-of-web", "//evil.example/x")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("login redirect %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == sessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.MaxAge <= 0 {
		t.Fatalf("session cookie %+v", cookie)
	}
	get := func(c *http.Cookie) int {
		req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/api/schools", nil)
		req.AddCookie(c)
		resp, err := nr.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if get(cookie) != 200 {
		t.Fatal("the session cookie does not let in")
	}
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/logout", nil)
	req.AddCookie(cookie)
	resp, err := nr.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if get(cookie) != http.StatusUnauthorized {
		t.Fatal("the session outlived logout")
	}
	// With the first wrong password, five from this address: it is throttled on the name, and
	// every refusal reads the same (status, message) whatever its reason.
	for i := 0; i < auth.DefaultThrottle.NameBurst; i++ {
		post("web", "wrong", "")
	}
	if r := post("web", "password-of-web", ""); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("throttled address logged in: %d", r.StatusCode)
	}
	// the audit trail has the logins and failures with their real reasons (throttled ones
	// once a minute per address: the second is counted, not written), and no
	// analyst SQL reads it
	es, err := e.accounts.Audit(context.Background(), auth.Filter{User: "web"})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, x := range es {
		counts[x.Action]++
		counts[x.Detail]++
	}
	if counts[auth.ActLogin] != 1 || counts[auth.ActLoginFailed] != auth.DefaultThrottle.NameBurst+1 || counts[auth.ActLogout] != 1 ||
		counts[auth.ReasonWrongPassword] != auth.DefaultThrottle.NameBurst || counts[auth.ReasonThrottledName] != 1 {
		t.Errorf("audit of logins: %v", counts)
	}
}

// Web hygiene: foreign Host, cross-origin POSTs, headers, no directory listing.
func TestWebHygiene(t *testing.T) {
	e := newEnv(t, Config{AllowedHosts: []string{"tisheng.example.edu.cn"}})
	send := func(method, path string, hdr map[string]string, body string) (*http.Response, []byte) {
		req, _ := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := e.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	// DNS rebinding: a hostile name resolving here is refused, even with a valid token
	if resp, _ := send("GET", "/api/schools", map[string]string{"Host": "attacker.example:8080"}, ""); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("foreign Host: %d", resp.StatusCode)
	}
	for _, h := range []string{"tisheng.example.edu.cn", "TISHENG.example.edu.cn:443", "127.0.0.1:8080", "localhost", "[::1]:8080", "10.1.2.3"} {
		if resp, _ := send("GET", "/healthz", map[string]string{"Host": h}, ""); resp.StatusCode != 200 {
			t.Errorf("Host %s: %d", h, resp.StatusCode)
		}
	}
	// a hostile page's form or fetch: refused before any handler runs
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
		{"Origin": "http://evil.example", "Content-Type": "application/json"},
	} {
		for _, path := range []string{"/api/sql", "/api/ingest", "/login", "/logout", "/admin/users"} {
			resp, body := send("POST", path, hdr, `{"sql":"SELECT 1"}`)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "跨站") {
				t.Errorf("cross-origin POST %s %v: %d %s", path, hdr, resp.StatusCode, body)
			}
		}
	}
	if resp, _ := send("POST", "/api/sql", map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, `{"sql":"SELECT 1 AS x"}`); resp.StatusCode != 200 {
		t.Errorf("same-origin POST: %d", resp.StatusCode)
	}
	resp, _ := send("GET", "/", nil, "")
	for k, want := range map[string]string{"Content-Security-Policy": "frame-ancestors 'none'", "X-Content-Type-Options": "nosniff",
		"Referrer-Policy": "same-origin", "Cache-Control": "no-store"} {
		if !strings.Contains(resp.Header.Get(k), want) {
			t.Errorf("%s = %q", k, resp.Header.Get(k))
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "script-src 'self' 'unsafe") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP allows inline script: %s", csp)
	}
	// every page's HTML carries no inline script or handler the CSP would block
	_, body := send("GET", "/", nil, "")
	if regexp.MustCompile(`(?i)<script>|<script [^>]*>[^<]|\son[a-z]+="`).Match(body) {
		t.Errorf("inline script on 总览")
	}
	for _, p := range []string{"/static/", "/static", "/static/../", "/static/nosuch.js"} {
		if resp, body := send("GET", p, nil, ""); resp.StatusCode == 200 {
			t.Errorf("%s: %d %.100s", p, resp.StatusCode, body)
		}
	}
	if resp, _ := send("GET", "/static/app.js", nil, ""); resp.StatusCode != 200 {
		t.Errorf("/static/app.js %d", resp.StatusCode)
	}
}

// The audit trail records downloads, queries and uploads with who, what, scope and rows,
// and the admin page lists it and downloads it.
func TestAuditTrail(t *testing.T) {
	e := newEnv(t, Config{})
	d := e.one(`SELECT min(district) FROM school_info`)
	c := e.client("qx", auth.User{Role: auth.RoleDistrict, District: d})
	do(t, c, http.MethodGet, e.ts.URL+"/download/schools.csv", nil, "")
	do(t, c, http.MethodPost, e.ts.URL+"/api/sql", strings.NewReader(`{"sql":"SELECT school_code FROM school_gate"}`), "application/json")
	do(t, c, http.MethodPost, e.ts.URL+"/api/sql", strings.NewReader(`{"sql":"SELECT * FROM meta"}`), "application/json")
	do(t, c, http.MethodGet, e.ts.URL+"/download/audit.xlsx", nil, "")
	es, err := e.accounts.Audit(context.Background(), auth.Filter{User: "qx"})
	if err != nil {
		t.Fatal(err)
	}
	byAction := map[string][]auth.Entry{}
	for _, x := range es {
		byAction[x.Action] = append(byAction[x.Action], x)
	}
	schools := e.one(`SELECT count(*) FROM school_gate WHERE district = ?`, d)
	if dl := byAction[auth.ActDownload]; len(dl) != 1 || fmt.Sprint(dl[0].Rows) != schools || dl[0].Scope != "区县:"+d || !strings.HasSuffix(dl[0].Object, ".csv") {
		t.Errorf("download audit: %+v (want %s rows)", dl, schools)
	}
	sq := byAction[auth.ActSQL]
	if len(sq) != 2 {
		t.Fatalf("sql audit: %+v", sq)
	}
	// newest first: the refused query, then the one that ran
	if sq[0].OK || !strings.Contains(sq[0].Detail, "meta") || !sq[1].OK || fmt.Sprint(sq[1].Rows) != schools {
		t.Errorf("sql audit: %+v", sq)
	}
	if len(byAction[auth.ActDenied]) != 1 {
		t.Errorf("denied audit: %+v", byAction[auth.ActDenied])
	}
	// the admin page and its workbook
	resp, body := e.get("/admin?user=qx")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "SELECT school_code FROM school_gate") {
		t.Errorf("admin page: %d", resp.StatusCode)
	}
	resp, body = e.get("/download/audit.xlsx?user=qx&action=sql")
	if resp.StatusCode != 200 {
		t.Fatalf("audit.xlsx %d %s", resp.StatusCode, body)
	}
	if text := xlsxText(t, body); !strings.Contains(text, "SELECT * FROM meta") || strings.Contains(text, "下载") {
		t.Errorf("audit workbook filtered wrong:\n%.500s", text)
	}
	// analysts' SQL cannot read the trail, even an admin's
	resp, body = e.postSQL("SELECT * FROM audit", "json")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("SELECT * FROM audit: %d %s", resp.StatusCode, body)
	}
}

// Unknown paths answer in Chinese: an HTML page for browsers, JSON for the API.
func TestNotFoundInChinese(t *testing.T) {
	e := newEnv(t, Config{})
	resp, body := e.get("/no/such/page")
	if resp.StatusCode != 404 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "页面不存在") {
		t.Errorf("page 404: %d %s %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = e.get("/api/nosuch")
	if resp.StatusCode != 404 || !strings.Contains(string(body), `"error"`) || strings.Contains(string(body), "page not found") {
		t.Errorf("api 404: %d %s", resp.StatusCode, body)
	}
	resp, body = e.get("/schools/NOSUCH")
	if resp.StatusCode != 404 || strings.Contains(string(body), "Not Found") {
		t.Errorf("unknown school: %d %.300s", resp.StatusCode, body)
	}
}

// A fresh warehouse (nothing loaded, never refreshed) guides every role to what to load
// first and never answers 500.
func TestFreshWarehouse(t *testing.T) {
	ctx := context.Background()
	wh, err := warehouse.OpenWith(ctx, filepath.Join(t.TempDir(), "w.duckdb"), warehouse.Options{Locked: true})
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	l, err := ingest.NewLoader(ctx, wh, bytes.Repeat([]byte{5}, 32), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	e := serveWarehouse(t, Config{}, wh, l)
	ts := e.ts
	for _, u := range []auth.User{{Role: auth.RoleAdmin}, {Role: auth.RoleDistrict, District: "东湖区"}, {Role: auth.RoleSchool, School: "3601000001"}, {Role: auth.RoleLeader}} {
		c := e.client(string(u.Role), u)
		for _, p := range []string{"/", "/schools", "/abilities", "/trend", "/quality", "/api/overview", "/api/schools", "/api/quality"} {
			resp, body := do(t, c, http.MethodGet, ts.URL+p, nil, "")
			if resp.StatusCode == http.StatusSeeOther {
				continue // a school's 总览 is its own page
			}
			if resp.StatusCode != 200 {
				t.Errorf("%s %s: %d %.300s", u.Role, p, resp.StatusCode, body)
				continue
			}
			if !strings.HasPrefix(p, "/api/") && !strings.Contains(string(body), "学校信息") {
				t.Errorf("%s %s: no guidance on what to load first", u.Role, p)
			}
		}
	}
}

// A query text holding an ID number or a phone number is kept in the audit trail masked.
func TestAuditMasksPersonalNumbers(t *testing.T) {
	e := newEnv(t, Config{})
	e.postSQL(`SELECT * FROM teacher_progress WHERE id_masked = '110101198001010010' OR name = '13812345678'`, "json")
	es, err := e.accounts.Audit(context.Background(), auth.Filter{Action: auth.ActSQL})
	if err != nil || len(es) != 1 {
		t.Fatalf("%v %+v", err, es)
	}
	if strings.Contains(es[0].Detail, "110101198001010010") || strings.Contains(es[0].Detail, "13812345678") || !strings.Contains(es[0].Detail, "110101********0010") {
		t.Errorf("audit keeps %q", es[0].Detail)
	}
}

// A school whose June figures come from May's file is flagged on the pages: the notice
// names its district, and 学校进度 says which file per school. (The demo's 南城区 has no June
// hours export.)
func TestStaleDataFlaggedOnPages(t *testing.T) {
	e := newEnv(t, Config{})
	stale := e.one(`SELECT min(e.school_code) FROM effective_batches e WHERE e.month = '2025-06' AND e.kind = 'hours' AND e.as_of < DATE '2025-06-01'`)
	district := e.one(`SELECT district FROM school_info WHERE month = '2025-06' AND school_code = ?`, stale)
	fresh := e.one(`SELECT min(school_code) FROM school_info WHERE month = '2025-06' AND district <> ?`, district)
	if stale == "" || fresh == "" {
		t.Fatal("the demo needs a stale school and a fresh one")
	}
	var pg struct {
		Notice string `json:"notice"`
		Tables []struct {
			Result struct {
				Columns []struct{ Name string } `json:"columns"`
				Rows    [][]any                 `json:"rows"`
			} `json:"result"`
		} `json:"tables"`
	}
	_, body := e.get("/api/schools?month=2025-06")
	if err := json.Unmarshal(body, &pg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pg.Notice, district) || !strings.Contains(pg.Notice, "更早月份") {
		t.Errorf("notice %q does not name %s", pg.Notice, district)
	}
	res := pg.Tables[0].Result
	ci := map[string]int{}
	for i, c := range res.Columns {
		ci[c.Name] = i
	}
	for _, row := range res.Rows {
		code, flag := fmt.Sprint(row[ci["school_code"]]), row[ci["stale_sources"]]
		switch code {
		case stale:
			if s, _ := flag.(string); !strings.Contains(s, "2025-05") {
				t.Errorf("%s: stale flag %v", code, flag)
			}
		case fresh:
			if flag != nil {
				t.Errorf("%s flagged stale: %v", code, flag)
			}
		}
	}
	_, body = e.get("/schools/" + stale + "?month=2025-06")
	if !strings.Contains(string(body), `id="stale"`) {
		t.Error("学校详情 of a stale school carries no notice")
	}
	_, body = e.get("/schools/" + fresh + "?month=2025-06")
	if strings.Contains(string(body), `id="stale"`) {
		t.Error("学校详情 of a fresh school carries a stale notice")
	}
}

// 能力点 tells first attempts from final results: on the demo, where failures were retaken
// and passed, the first-attempt count is lower for some point, and never higher.
func TestAbilityFirstAttempts(t *testing.T) {
	e := newEnv(t, Config{})
	// worked from the raw rows: a teacher's earliest result per point in the counted file
	lower := e.one(`SELECT count(*) FROM teacher_points WHERE month = '2025-06' AND passed AND NOT first_passed`)
	if lower == "0" {
		t.Fatal("the demo has no retaken failures to show")
	}
	var pg struct {
		Tables []struct {
			ID     string `json:"id"`
			Result struct {
				Columns []struct{ Name string } `json:"columns"`
				Rows    [][]any                 `json:"rows"`
			} `json:"result"`
		} `json:"tables"`
	}
	_, body := e.get("/api/abilities?month=2025-06")
	json.Unmarshal(body, &pg)
	gap := 0.0
	for _, tb := range pg.Tables {
		if tb.ID != "ability_attempts" {
			continue
		}
		ci := map[string]int{}
		for i, c := range tb.Result.Columns {
			ci[c.Name] = i
		}
		for _, row := range tb.Result.Rows {
			first, final := row[ci["passed_first_attempt"]].(float64), row[ci["teachers_passed"]].(float64)
			if first > final {
				t.Errorf("%v: first %v > final %v", row[0], first, final)
			}
			gap += final - first
		}
	}
	if fmt.Sprint(gap) != lower {
		t.Errorf("first-attempt gap %v on the page, %s in the model", gap, lower)
	}
}

// Found by an attack review: a district user uploading a school list that put another
// district's school in its own district took that school over (its teachers, its uploads),
// and a school user could move its school or take a sibling's name. The school list
// decides every scope, so only the project office loads it.
func TestScopedUsersCannotRedrawDistricts(t *testing.T) {
	e := newEnv(t, Config{})
	d := e.one(`SELECT min(district) FROM school_info`)
	mine := e.one(`SELECT min(school_code) FROM school_info WHERE district = ?`, d)
	victim := e.one(`SELECT min(school_code) FROM school_info WHERE district <> ?`, d)
	victimName := e.one(`SELECT any_value(school_name) FROM school_info WHERE school_code = ?`, victim)
	other := e.one(`SELECT any_value(district) FROM school_info WHERE school_code = ?`, victim)
	list := func(code, name, district string) map[string][]byte {
		return map[string][]byte{"学校信息_2025-07-31.csv": []byte("学校代码,学校名称,所属区县,学段\n" + code + "," + name + "," + district + ",高中\n")}
	}
	upload := func(c *http.Client, files map[string][]byte) string {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for name, b := range files {
			fw, _ := mw.CreateFormFile("files", name)
			fw.Write(b)
		}
		mw.Close()
		resp, body := do(t, c, http.MethodPost, e.ts.URL+"/api/ingest", &buf, mw.FormDataContentType())
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		return string(body)
	}
	qx := e.client("qx", auth.User{Role: auth.RoleDistrict, District: d})
	xx := e.client("xx", auth.User{Role: auth.RoleSchool, School: mine})
	for _, c := range []struct {
		who   *http.Client
		files map[string][]byte
	}{
		{qx, list(victim, victimName, d)},       // take another district's school
		{xx, list(mine, "新名字", other)},          // move one's own school
		{xx, list(mine, victimName, d)},         // take another school's name
		{qx, list("3699999999", victimName, d)}, // a new school with another's name
	} {
		body := upload(c.who, c.files)
		if !strings.Contains(body, "学校信息只能由工程办管理员导入") || !strings.Contains(body, `"failed"`) {
			t.Errorf("school list from a scoped user: %s", body)
		}
	}
	// nothing moved: the victim is still the other district's, and invisible to qx
	if got := e.one(`SELECT count(*) FROM raw_schools WHERE school_code = ? AND district = ?`, victim, d); got != "0" {
		t.Errorf("the victim school was written into %s", d)
	}
	if resp, _ := do(t, qx, http.MethodGet, e.ts.URL+"/api/school/"+victim, nil, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("victim school: %d", resp.StatusCode)
	}
}
