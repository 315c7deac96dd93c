package server

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/xuri/excelize/v2"

	"tisheng/ingest"
	"tisheng/internal/auth"
	"tisheng/internal/testkit"
	"tisheng/internal/warehouse"
)

type env struct {
	t        testing.TB
	wh       *warehouse.Warehouse
	srv      *Server
	ts       *httptest.Server
	accounts *auth.Store
	c        *http.Client // an admin's API token on every request
	tok      string       // that token, for raw requests
}

// newEnv serves the demo warehouse, opened as tisheng serve opens it, with an admin whose
// token its client sends.
func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	wh, l := testkit.Demo(t, "../../testdata", filepath.Join(t.TempDir(), "w.duckdb"), warehouse.Options{Locked: true, BackupDir: cfg.Backup.Dir})
	return serveWarehouse(t, cfg, wh, l)
}

// serveWarehouse serves an open warehouse over httptest, with an admin whose token the
// env's client sends.
func serveWarehouse(t testing.TB, cfg Config, wh *warehouse.Warehouse, l *ingest.Loader) *env {
	t.Helper()
	return servePolicy(t, cfg, wh, l, auth.DefaultPolicy)
}

// servePolicy is serveWarehouse with a login policy of the test's own.
func servePolicy(t testing.TB, cfg Config, wh *warehouse.Warehouse, l *ingest.Loader, p auth.Policy) *env {
	t.Helper()
	accounts := auth.NewStore(wh.DB, p)
	srv, err := New(cfg, wh, l, accounts, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	e := &env{t: t, wh: wh, srv: srv, ts: ts, accounts: accounts}
	e.c = e.client("admin", auth.User{Role: auth.RoleAdmin})
	return e
}

// client makes a user (unless it exists) and returns a client sending its API token.
func (e *env) client(name string, u auth.User) *http.Client {
	e.t.Helper()
	u.Name = name
	if err := e.accounts.AddUser(context.Background(), u, "password-of-"+name); err != nil && !errors.Is(err, auth.ErrUserExists) {
		e.t.Fatal(err)
	}
	_, tok, err := e.accounts.AddToken(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	if name == "admin" {
		e.tok = tok
	}
	return &http.Client{Transport: bearer{tok}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type bearer struct{ tok string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.tok)
	return http.DefaultTransport.RoundTrip(r)
}

func (e *env) get(path string) (*http.Response, []byte) {
	e.t.Helper()
	resp, err := e.c.Get(e.ts.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (e *env) one(q string, args ...any) string {
	e.t.Helper()
	var v sql.NullString
	if err := e.wh.DB.QueryRow(q, args...).Scan(&v); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return v.String
}

func TestRoutes(t *testing.T) {
	e := newEnv(t, Config{})
	school := e.one(`SELECT school_code FROM school_gate ORDER BY school_code LIMIT 1`)
	cases := []struct {
		path, ctype string
		code        int
	}{
		{"/", "text/html", 200},
		{"/?month=2025-05&district=" + url.QueryEscape("东湖区"), "text/html", 200},
		{"/schools", "text/html", 200},
		{"/schools/" + school, "text/html", 200},
		{"/abilities", "text/html", 200},
		{"/trend", "text/html", 200},
		{"/quality", "text/html", 200},
		{"/sql", "text/html", 200},
		{"/upload", "text/html", 200},
		{"/api/overview", "application/json", 200},
		{"/api/schools?month=2025-05", "application/json", 200},
		{"/api/school/" + school, "application/json", 200},
		{"/api/abilities", "application/json", 200},
		{"/api/trend", "application/json", 200},
		{"/api/quality", "application/json", 200},
		{"/static/echarts.min.js", "text/javascript", 200},
		{"/download/schools.csv", "text/csv", 200},
		{"/download/schools.xlsx", "application/vnd.openxmlformats", 200},
		{"/download/monthly.xlsx", "application/vnd.openxmlformats", 200},
		{"/download/annual.xlsx", "application/vnd.openxmlformats", 200},
		{"/download/roster.xlsx?school=" + school, "application/vnd.openxmlformats", 200},
		{"/schools?month=2024-01", "text/html", 404},
		{"/schools?month=June", "text/html", 400},
		{"/schools/NOSUCH", "text/html", 404},
		{"/schools/%3Cscript%3E", "text/html", 400},
		{"/api/schools?district=" + url.QueryEscape("火星区"), "application/json", 404},
		{"/download/nosuch.xlsx", "application/json", 404},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			resp, body := e.get(c.path)
			if resp.StatusCode != c.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) {
				t.Fatalf("%d %s: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if c.code == 500 || bytes.Contains(body, []byte("duckdb")) || bytes.Contains(body, []byte("Binder Error")) {
				t.Fatalf("internals leaked: %.300s", body)
			}
		})
	}
}

func TestPagesShowTheModelsFigures(t *testing.T) {
	e := newEnv(t, Config{})
	var pg struct {
		Params  map[string]string `json:"params"`
		Summary map[string]any    `json:"summary"`
		Tables  []struct {
			ID     string `json:"id"`
			Result struct {
				Columns []struct{ Name string }
				Rows    [][]any
			} `json:"result"`
		} `json:"tables"`
	}
	_, body := e.get("/api/overview")
	if err := json.Unmarshal(body, &pg); err != nil {
		t.Fatal(err)
	}
	if pg.Params["Month"] != "2025-06" {
		t.Fatalf("default month %v", pg.Params)
	}
	if got, want := fmt.Sprint(pg.Summary["teachers"]), e.one(`SELECT sum(teachers)::VARCHAR FROM school_gate`); got != want {
		t.Errorf("teachers %s, model %s", got, want)
	}
	if got, want := fmt.Sprint(pg.Summary["schools_gate_met"]), e.one(`SELECT count(*) FROM school_gate WHERE gate_met`); got != want {
		t.Errorf("gate %s, model %s", got, want)
	}
	// 学校进度 lists every school of the month with the model's shortfall.
	_, body = e.get("/api/schools?month=2025-05")
	json.Unmarshal(body, &pg)
	rows := pg.Tables[0].Result.Rows
	if fmt.Sprint(len(rows)) != e.one(`SELECT count(*) FROM school_gate_monthly WHERE month = '2025-05'`) {
		t.Fatalf("%d schools", len(rows))
	}
	for _, row := range rows {
		code, short := row[0], row[9]
		if want := e.one(`SELECT shortfall FROM school_gate_monthly WHERE month = '2025-05' AND school_code = ?`, code); fmt.Sprint(short) != want {
			t.Errorf("%v shortfall %v, model %s", code, short, want)
		}
	}
	// The HTML page names each school and marks those behind.
	_, html := e.get("/schools")
	names := e.one(`SELECT string_agg(school_name, '|') FROM school_gate`)
	for _, n := range strings.Split(names, "|") {
		if !bytes.Contains(html, []byte(n)) {
			t.Errorf("page lacks %s", n)
		}
	}
	if behind := e.one(`SELECT count(*) FROM school_gate WHERE gate_met = false`); bytes.Count(html, []byte(`class="behind"`)) != atoi(behind) {
		t.Errorf("behind rows %d, model %s", bytes.Count(html, []byte(`class="behind"`)), behind)
	}
}

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}

func (e *env) postSQL(q, format string) (*http.Response, []byte) {
	e.t.Helper()
	b, _ := json.Marshal(map[string]string{"sql": q})
	resp, err := e.c.Post(e.ts.URL+"/api/sql?format="+format, "application/json", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestSQLAPI(t *testing.T) {
	e := newEnv(t, Config{SQLTimeout: 300 * time.Millisecond, SQLRowLimit: 3})
	resp, body := e.postSQL("SELECT school_code, shortfall FROM school_gate ORDER BY 1", "json")
	var res struct {
		Rows      [][]any
		Truncated bool
	}
	json.Unmarshal(body, &res)
	if resp.StatusCode != 200 || len(res.Rows) != 3 || !res.Truncated {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	for _, q := range []string{"SELECT * FROM meta", "DROP TABLE batches", "SELECT * FROM read_csv('/etc/passwd')", "COPY batches TO '/tmp/x.csv'", "ATTACH '/tmp/a.db'"} {
		for _, f := range []string{"json", "csv", "xlsx", "arrow"} {
			resp, body := e.postSQL(q, f)
			if resp.StatusCode != 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !bytes.Contains(body, []byte(`"error"`)) {
				t.Errorf("%s as %s: %d %s", q, f, resp.StatusCode, body)
			}
		}
	}
	resp, body = e.postSQL("SELECT count(*) FROM range(100000000000) a, range(10) b", "json")
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("runaway query: %d %s", resp.StatusCode, body)
	}
	resp, body = e.postSQL("SELECT district FROM school_gate", "csv")
	if !bytes.HasPrefix(body, []byte("\ufeff所属区县")) || !strings.Contains(resp.Header.Get("Content-Disposition"), "filename*=UTF-8''") {
		t.Errorf("csv: %q %s", body[:20], resp.Header.Get("Content-Disposition"))
	}
	resp, body = e.postSQL("SELECT school_code FROM school_gate", "arrow")
	if resp.Header.Get("Content-Type") != "application/vnd.apache.arrow.stream" {
		t.Fatalf("arrow content type %s", resp.Header.Get("Content-Type"))
	}
	rd, err := ipc.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rd.Next() {
		n += int(rd.Record().NumRows())
	}
	if n != 3 {
		t.Errorf("arrow rows %d", n)
	}
	// A form post (the page's download buttons) works too.
	r2, err := e.c.PostForm(e.ts.URL+"/api/sql?format=xlsx", url.Values{"sql": {"SELECT 1 AS x"}})
	if err != nil || r2.StatusCode != 200 {
		t.Fatalf("form post: %v %v", err, r2.Status)
	}
	r2.Body.Close()
}

func download(t *testing.T, e *env, path string) (*excelize.File, *http.Response, []byte) {
	t.Helper()
	resp, body := e.get(path)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
	}
	f, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return f, resp, body
}

func TestMonthlyWorkbookMatchesModels(t *testing.T) {
	e := newEnv(t, Config{})
	f, resp, raw := download(t, e, "/download/monthly.xlsx?month=2025-06&district="+url.QueryEscape("东湖区"))
	cd := resp.Header.Get("Content-Disposition")
	if !strings.Contains(cd, "filename*=UTF-8''"+url.PathEscape("2025年6月_东湖区_月报.xlsx")) {
		t.Fatalf("disposition %s", cd)
	}
	want := []string{"封面", "区县汇总", "学校进度", "95%门槛", "能力点分布", "能力点分布图", "覆盖矩阵", "月度趋势", "月度趋势图", "数据质量"}
	if got := f.GetSheetList(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("sheets %v", got)
	}
	for _, s := range want {
		if len([]rune(s)) > 31 {
			t.Errorf("sheet name too long: %s", s)
		}
		lay, _ := f.GetPageLayout(s)
		orient := "landscape"
		if s == "封面" {
			orient = "portrait"
		}
		if lay.Orientation == nil || *lay.Orientation != orient || lay.Size == nil || *lay.Size != 9 {
			t.Errorf("%s: not A4 %s", s, orient)
		}
		if p, _ := f.GetPanes(s); !p.Freeze && s != "封面" && !strings.HasSuffix(s, "图") {
			t.Errorf("%s: header not frozen", s)
		}
	}
	// 学校进度: one row per school of 东湖区, cell by cell against school_gate_monthly.
	rows, _ := f.GetRows("学校进度")
	hdr := rows[1]
	col := func(label string) int {
		for i, h := range hdr {
			if h == label {
				return i
			}
		}
		t.Fatalf("no column %s in %v", label, hdr)
		return -1
	}
	codeC, ftC, passedC, shortC, rateC := col("学校代码"), col("专任教师数"), col("专任教师合格数"), col("距门槛差额"), col("合格率")
	n := 0
	for _, r := range rows[2:] {
		if len(r) <= shortC {
			continue
		}
		n++
		code := r[codeC]
		want := e.one(`SELECT concat_ws('|', full_time_teachers, passed_full_time, shortfall, coalesce(printf('%.1f%%', round(pass_rate, 3) * 100), '')) FROM school_gate_monthly WHERE month = '2025-06' AND school_code = ?`, code)
		got := strings.Join([]string{r[ftC], r[passedC], r[shortC], r[rateC]}, "|")
		if got != want {
			t.Errorf("%s: workbook %s, model %s", code, got, want)
		}
	}
	if fmt.Sprint(n) != e.one(`SELECT count(*) FROM school_gate_monthly WHERE month = '2025-06' AND district = '东湖区'`) {
		t.Errorf("%d school rows", n)
	}
	// Numbers are typed numbers, not text.
	cell, _ := excelize.CoordinatesToCellName(shortC+1, 3)
	if ct, _ := f.GetCellType("学校进度", cell); ct == excelize.CellTypeSharedString || ct == excelize.CellTypeInlineString {
		t.Errorf("shortfall stored as text")
	}
	// 95%门槛 holds exactly the schools below the gate.
	below, _ := f.GetRows("95%门槛")
	if fmt.Sprint(len(below)-2) != e.one(`SELECT count(*) FROM school_gate_monthly WHERE month = '2025-06' AND district = '东湖区' AND gate_met = false`) {
		t.Errorf("95%%门槛 has %d rows", len(below)-2)
	}
	// The cover's headline against the model (labels in B, values in C).
	ov, _ := f.GetRows("封面")
	kv := map[string]string{}
	for _, r := range ov {
		if len(r) >= 3 {
			kv[r[1]] = r[2]
		}
	}
	if kv["教师数"] != e.one(`SELECT format('{:,}', sum(teachers)) FROM school_gate_monthly WHERE month = '2025-06' AND district = '东湖区'`) ||
		kv["区县"] != "东湖区" || !strings.Contains(kv["规则方案"], "national") {
		t.Errorf("封面 %v", kv)
	}
	// Native charts on 能力点分布 and 月度趋势, a color scale on 覆盖矩阵, print titles.
	zr, _ := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	// A chart counts only if its sheet links a drawing: a chart part alone shows nowhere.
	charts, linked := 0, 0
	for _, zf := range zr.File {
		if strings.HasPrefix(zf.Name, "xl/charts/chart") {
			charts++
		}
		if strings.HasPrefix(zf.Name, "xl/worksheets/sheet") && strings.HasSuffix(zf.Name, ".xml") {
			rc, _ := zf.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			if bytes.Contains(b, []byte("<drawing ")) {
				linked++
			}
		}
	}
	if charts != 2 || linked != 2 {
		t.Errorf("%d charts, %d sheets linking a drawing", charts, linked)
	}
	if cf, _ := f.GetConditionalFormats("覆盖矩阵"); len(cf) == 0 {
		t.Error("no color scale on 覆盖矩阵")
	}
	titles := 0
	for _, dn := range f.GetDefinedName() {
		if dn.Name == "_xlnm.Print_Titles" {
			titles++
		}
	}
	if titles != len(want)-3 { // not on the cover and the two chart sheets
		t.Errorf("print titles on %d sheets", titles)
	}
}

func TestSchoolRosterAndAnnual(t *testing.T) {
	e := newEnv(t, Config{})
	school := e.one(`SELECT school_code FROM school_gate ORDER BY teachers DESC LIMIT 1`)
	f, _, _ := download(t, e, "/download/roster.xlsx?school="+school)
	rows, _ := f.GetRows("学校名单")
	// The title block comes first; the header is the row that starts with 姓名, and the sign
	// block follows the teachers after a blank row.
	h := 0
	for h < len(rows) && (len(rows[h]) == 0 || rows[h][0] != "姓名") {
		h++
	}
	if h == len(rows) {
		t.Fatalf("no header row in %v", rows)
	}
	body := rows[h+1:]
	for i, r := range body {
		if len(r) == 0 {
			body = body[:i]
			break
		}
	}
	if fmt.Sprint(len(body)) != e.one(`SELECT count(*) FROM teacher_progress WHERE school_code = ?`, school) {
		t.Fatalf("roster rows %d", len(body))
	}
	// Each teacher's hours and completion, cell by cell.
	hdr := rows[h]
	idx := map[string]int{}
	for i, h := range hdr {
		idx[h] = i
	}
	for _, r := range body {
		want := e.one(`SELECT concat_ws('|', hours_total, CASE WHEN complete THEN '是' ELSE '否' END) FROM teacher_progress WHERE school_code = ? AND id_masked = ?`, school, r[idx["身份证号（脱敏）"]])
		if got := r[idx["总学时"]] + "|" + r[idx["完成培训"]]; got != want {
			t.Errorf("%s: %s, model %s", r[0], got, want)
		}
	}
	a, _, _ := download(t, e, "/download/annual.xlsx")
	sheets := strings.Join(a.GetSheetList(), ",")
	if sheets != "封面,总体情况,按区县,按区县图,按学校,按学段,按学段图,按学科,按学科图,按年龄段,按年龄段图,能力点选择,逐月进度,逐月进度图" {
		t.Fatalf("annual sheets %s", sheets)
	}
	ar, _ := a.GetRows("按区县")
	if fmt.Sprint(len(ar)-2) != e.one(`SELECT count(*) FROM annual_by_group WHERE group_by = 'district'`) {
		t.Errorf("按区县 rows %d", len(ar)-2)
	}
}

func postFiles(t *testing.T, e *env, files map[string][]byte, fields map[string]string) (*http.Response, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w, _ := mw.CreateFormFile("files", n)
		w.Write(files[n])
	}
	mw.Close()
	resp, err := e.c.Post(e.ts.URL+"/api/ingest", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestUploadLoadsRefreshesAndRefuses(t *testing.T) {
	e := newEnv(t, Config{MaxUpload: 1 << 20})
	batches := e.one(`SELECT count(*) FROM batches`)
	school := e.one(`SELECT school_name FROM school_gate ORDER BY school_code LIMIT 1`)
	id := ingest.CompleteID("36019919900101001")
	good := []byte("姓名,身份证号,学校名称,研修类型,学时\n新教师," + id + "," + school + ",网络研修,2\n")

	// Readers keep answering while the upload loads and refreshes.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad int
	var mu sync.Mutex
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := e.c.Get(e.ts.URL + "/api/schools")
				if err != nil || resp.StatusCode != 200 {
					mu.Lock()
					bad++
					mu.Unlock()
				}
				if resp != nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	resp, body := postFiles(t, e, map[string][]byte{"hours_2025-07-31.csv": good, "junk.csv": []byte("列一,列二\n1,2\n")}, nil)
	close(stop)
	wg.Wait()
	if bad > 0 {
		t.Errorf("%d reads failed during the upload", bad)
	}
	var out struct {
		Files     []ingest.Result
		Refreshed bool
	}
	json.Unmarshal(body, &out)
	if resp.StatusCode != 200 || !out.Refreshed || len(out.Files) != 2 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	st := map[string]string{}
	for _, f := range out.Files {
		st[f.File] = f.Status
		if f.Status == ingest.StatusFailed && !strings.Contains(f.Error, "没有可识别的表头") {
			t.Errorf("failure reason: %s", f.Error)
		}
	}
	if st["hours_2025-07-31.csv"] != "loaded" || st["junk.csv"] != "failed" {
		t.Fatalf("statuses %v", st)
	}
	if got := e.one(`SELECT count(*) FROM batches`); atoi(got) != atoi(batches)+1 {
		t.Errorf("batches %s -> %s", batches, got)
	}
	// The refresh ran: July now exists, and the stranger is listed as unmatched.
	if e.one(`SELECT max(month) FROM months`) != "2025-07" || e.one(`SELECT count(*) FROM unmatched_rows WHERE name = '新教师'`) != "1" {
		t.Error("upload did not refresh the models")
	}
	// Pages see the new month at once (nothing stale is cached across a refresh).
	if _, body := e.get("/api/overview"); !bytes.Contains(body, []byte(`"Month":"2025-07"`)) {
		t.Errorf("overview after upload: %.200s", body)
	}
	// The same bytes again change nothing.
	_, body = postFiles(t, e, map[string][]byte{"again.csv": good}, nil)
	if !bytes.Contains(body, []byte(`"already_loaded"`)) {
		t.Errorf("second upload: %s", body)
	}
	// Over the size limit: 413 and nothing loaded.
	resp, body = postFiles(t, e, map[string][]byte{"big_2025-07-31.csv": bytes.Repeat(good, 20000)}, nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !bytes.Contains(body, []byte("上限")) {
		t.Errorf("big upload: %d %s", resp.StatusCode, body)
	}
	if got := e.one(`SELECT count(*) FROM batches`); atoi(got) != atoi(batches)+1 {
		t.Errorf("batches after refusals: %s", got)
	}
	// A 研修考核 file and an hours file in one upload: the school code is the 研修考核 file's
	// only, so the hours file's rows (for another school) are not refused.
	code, other := e.one(`SELECT school_code FROM school_gate ORDER BY school_code LIMIT 1`), e.one(`SELECT school_name FROM school_gate ORDER BY school_code DESC LIMIT 1`)
	id2 := ingest.CompleteID("36019919900101002")
	_, body = postFiles(t, e, map[string][]byte{
		"研修考核.csv":          []byte("序号,姓名,身份证号,个人提升计划,校本研修学时,个人提升总结\n1,无名,360199********0000,已上传,25/25,3/3\n"),
		"h2_2025-07-31.csv": []byte("姓名,身份证号,学校名称,研修类型,学时\n另一位," + id2 + "," + other + ",网络研修,2\n"),
	}, map[string]string{"school": code, "as_of": "2025-07-31"})
	json.Unmarshal(body, &out)
	for _, f := range out.Files {
		if f.File == "h2_2025-07-31.csv" && (f.Status != "loaded" || f.Rejected != 0) {
			t.Errorf("hours file in a mixed upload: %+v", f)
		}
		if f.File == "研修考核.csv" && (f.Status != "loaded" || f.Accepted != 1) {
			t.Errorf("研修考核 file: %+v", f)
		}
	}
	// Its one row names nobody on the roster: kept, and listed as unmatched after the refresh.
	if got := e.one(`SELECT unmatched_reason FROM unmatched_rows WHERE name = '无名'`); got != "姓名与脱敏身份证号在花名册中无匹配" {
		t.Errorf("研修考核 row on no roster: %q", got)
	}
	// Rejected rows of an upload are downloadable.
	_, body = postFiles(t, e, map[string][]byte{"r_2025-07-31.csv": []byte("姓名,身份证号,学校名称,研修类型,学时\n坏,110105194912310021," + school + ",网络研修,2\n")}, nil)
	json.Unmarshal(body, &out)
	f, _, _ := download(t, e, fmt.Sprintf("/download/rejects.xlsx?batch=%d", out.Files[0].Batch))
	rows, _ := f.GetRows(f.GetSheetList()[0])
	if len(rows) != 3 || !strings.Contains(strings.Join(rows[2], " "), "校验位错误") || strings.Contains(strings.Join(rows[2], " "), "110105194912310021") {
		t.Errorf("rejects download: %v", rows)
	}
}

func TestDisposition(t *testing.T) {
	d := disposition(`2025年6月_东湖区_月报.xlsx`)
	if !strings.HasPrefix(d, `attachment; filename="2025`) || !strings.Contains(d, "filename*=UTF-8''2025%E5%B9%B4") {
		t.Fatal(d)
	}
}
