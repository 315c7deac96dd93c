package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	dto "github.com/prometheus/client_model/go"

	"tisheng/ingest"
	"tisheng/internal/auth"
	"tisheng/internal/metrics"
	"tisheng/internal/testkit"
	"tisheng/internal/warehouse"
)

// the key testkit.Demo loads with
var demoKey = bytes.Repeat([]byte{5}, 32)

// dataTables are what a backup must hold whole: the files loaded and what the models
// computed from them (not the audit log, which the backup's own request writes to).
var dataTables = []string{"batches", "raw_hours", "raw_teachers", "teacher_category_hours", "teacher_progress", "school_gate", "district_summary", "unmatched_rows"}

// hoursFile is an hours export of n rows for the demo's first school, distinct per seed.
func hoursFile(t *testing.T, e *env, seed, n int) []byte {
	t.Helper()
	school := e.one(`SELECT school_name FROM school_gate ORDER BY school_code LIMIT 1`)
	var b strings.Builder
	b.WriteString("姓名,身份证号,学校名称,研修类型,学时\n")
	for i := range n {
		id := ingest.CompleteID(fmt.Sprintf("36019919%02d%07d", 70+seed, i))
		fmt.Fprintf(&b, "教师%d_%d,%s,%s,网络研修,%d\n", seed, i, id, school, 1+i%5)
	}
	return []byte(b.String())
}

func postBackup(t *testing.T, e *env) (int, map[string]any) {
	t.Helper()
	resp, err := e.c.Post(e.ts.URL+"/api/admin/backup", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("backup answer %d %s", resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

func backupFigures(t *testing.T, dir string) map[string]string {
	t.Helper()
	if _, err := warehouse.VerifyBackup(context.Background(), dir); err != nil {
		t.Fatalf("the backup %s does not verify: %v", dir, err)
	}
	r, err := warehouse.OpenWith(context.Background(), filepath.Join(dir, "w.duckdb"), warehouse.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return testkit.Figures(t, r.DB, dataTables...)
}

// TestBackupWhileUploading: a backup asked for while an upload is loading or refreshing
// holds the warehouse as it was before that upload or as it is after it, never the file
// without the figures computed from it. Pages answer throughout.
func TestBackupWhileUploading(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, Config{MaxUpload: 8 << 20, Backup: BackupConfig{Dir: dir, Key: demoKey, Keep: 0}})
	for trial, when := range []string{"loading", "refreshing", "before"} {
		t.Run(when, func(t *testing.T) {
			before := testkit.Figures(t, e.wh.DB, dataTables...)
			file := hoursFile(t, e, trial, 3000)
			done := make(chan []byte)
			backupFirst := when == "before"
			var code int
			var out map[string]any
			if backupFirst {
				// the backup's snapshot is taken, then the upload comes while rows are copied
				go func() {
					time.Sleep(20 * time.Millisecond)
					_, body := postFiles(t, e, map[string][]byte{fmt.Sprintf("h%d_2025-07-31.csv", trial): file}, nil)
					done <- body
				}()
				code, out = postBackup(t, e)
			} else {
				go func() {
					_, body := postFiles(t, e, map[string][]byte{fmt.Sprintf("h%d_2025-07-31.csv", trial): file}, nil)
					done <- body
				}()
				// wait until the upload is where this trial wants it
				for i := 0; ; i++ {
					busy := !e.srv.writeMu.TryLock()
					if !busy {
						e.srv.writeMu.Unlock()
					}
					if (when == "loading" && busy) || (when == "refreshing" && e.srv.computing.Load() != nil) {
						break
					}
					if i > 20000 {
						t.Fatal("the upload never got to " + when)
					}
					time.Sleep(time.Millisecond)
				}
				code, out = postBackup(t, e)
			}
			body := <-done
			if !bytes.Contains(body, []byte(`"loaded"`)) {
				t.Fatalf("upload: %s", body)
			}
			after := testkit.Figures(t, e.wh.DB, dataTables...)
			if code != 200 || out["status"] != warehouse.StatusVerified {
				t.Fatalf("backup: %d %v", code, out)
			}
			got := backupFigures(t, out["path"].(string))
			switch {
			case maps.Equal(got, before):
				if !backupFirst {
					t.Errorf("a backup asked for while the upload was %s holds the warehouse before it: it did not wait for the upload", when)
				}
			case maps.Equal(got, after):
				if backupFirst {
					t.Log("the upload came before the backup's snapshot")
				}
			default:
				t.Fatalf("the backup holds a mixture:\n before %s\n after  %s\n backup %s", before, after, got)
			}
		})
	}
}

// TestBackupRefusals: a server without a backup directory says how to set one; one backup
// at a time; only an admin may ask, and a cross-origin form cannot.
func TestBackupRefusals(t *testing.T) {
	e := newEnv(t, Config{})
	code, out := postBackup(t, e)
	if code != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(out["error"]), "--backup-dir") {
		t.Errorf("no backup directory: %d %v", code, out)
	}
	for _, role := range []auth.User{{Role: auth.RoleLeader}, {Role: auth.RoleDistrict, District: "东湖区"}} {
		c := e.client("u-"+string(role.Role), role)
		resp, err := c.Post(e.ts.URL+"/api/admin/backup", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s asked for a backup: %d", role.Role, resp.StatusCode)
		}
	}
	resp, err := http.Post(e.ts.URL+"/api/admin/backup", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous backup: %d", resp.StatusCode)
	}
}

func TestParseBackupAt(t *testing.T) {
	for _, c := range []struct {
		spec, err string
	}{
		{"30 2 * * *", ""},
		{"0 3 * * 0", ""},
		{"  30   2 * * * ", ""},
		{"* * * * *", "过于频繁"},
		{"*/30 * * * *", "过于频繁"},
		{"0,30 2 * * *", "过于频繁"},
		{"30 2 * *", "五段"},
		{"30 2 * * * *", "五段"},
		{"@every 1s", "无效"},
		{"TZ=UTC 30 2 * * *", "无效"},
		{"61 2 * * *", "无效"},
		{"0 0 30 2 *", "永远不会"},
		{strings.Repeat("1,", 80) + "1 2 * * *", "无效"},
	} {
		t.Run(c.spec, func(t *testing.T) {
			_, err := ParseBackupAt(c.spec)
			switch {
			case c.err == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Errorf("want an error saying %q, got %v", c.err, err)
			}
		})
	}
}

// scrape reads /metrics as Prometheus would.
func scrape(t *testing.T, c *http.Client, url string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("content type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the scrape does not parse: %v", err)
	}
	return 200, fams
}

// value is the value of the series of family name with exactly these labels (-1: none).
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		if len(have) != len(labels)/2 {
			continue
		}
		for i := 0; i < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// TestMetricsAnswerOnlyWhomTheyShould: on the main listener /metrics answers an admin
// and no one else; what the server did shows in the scrape, counted exactly; a scan of
// made-up paths adds no series.
func TestMetricsAnswerOnlyWhomTheyShould(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, Config{MaxUpload: 8 << 20, Metrics: m, Backup: BackupConfig{Dir: t.TempDir(), Key: demoKey}})
	url := e.ts.URL + "/metrics"

	// who may read
	if code, _ := scrape(t, http.DefaultClient, url); code != http.StatusUnauthorized {
		t.Errorf("anonymous scrape: %d", code)
	}
	for _, u := range []auth.User{{Role: auth.RoleLeader}, {Role: auth.RoleDistrict, District: "东湖区"}, {Role: auth.RoleSchool, School: e.one(`SELECT school_code FROM school_gate ORDER BY 1 LIMIT 1`)}} {
		if code, _ := scrape(t, e.client("m-"+string(u.Role), u), url); code != http.StatusForbidden {
			t.Errorf("%s scrape: %d", u.Role, code)
		}
	}
	if resp, err := http.Get(url + "?token=" + e.tok); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("a token in the query string was taken")
		}
	}

	// what happens, to be counted
	district := e.client("m-district", auth.User{Role: auth.RoleDistrict, District: "东湖区"})
	if resp, err := district.Get(e.ts.URL + "/api/overview"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("district overview: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	if resp, _ := e.postSQL("SELECT count(*) FROM teacher_progress", "json"); resp.StatusCode != 200 {
		t.Fatalf("sql: %d", resp.StatusCode)
	}
	if resp, _ := e.postSQL("SELECT * FROM read_csv('/etc/passwd')", "json"); resp.StatusCode == 200 {
		t.Fatal("the guard let a file read through")
	}
	school := e.one(`SELECT school_name FROM school_gate ORDER BY school_code LIMIT 1`)
	good := ingest.CompleteID("36019919800101001")
	_, body := postFiles(t, e, map[string][]byte{"m_2025-07-31.csv": []byte("姓名,身份证号,学校名称,研修类型,学时\n甲," + good + "," + school + ",网络研修,2\n乙,110105194912310021," + school + ",网络研修,2\n")}, nil)
	var up struct{ Files []ingest.Result }
	json.Unmarshal(body, &up)
	if len(up.Files) != 1 || up.Files[0].Accepted != 1 || up.Files[0].Rejected != 1 {
		t.Fatalf("upload: %s", body)
	}
	kind := up.Files[0].Kind
	startBackup := time.Now()
	if code, out := postBackup(t, e); code != 200 {
		t.Fatalf("backup: %d %v", code, out)
	}
	endBackup := time.Now()
	for _, p := range []string{"/wp-admin/x", "/.env"} {
		e.get(p)
	}

	code, fams := scrape(t, e.c, url)
	if code != 200 {
		t.Fatalf("admin scrape: %d", code)
	}
	for _, c := range []struct {
		what   string
		got    float64
		labels []string
		want   float64
	}{
		{"sql ok", value(fams, "tisheng_sql_queries_total", "outcome", "ok"), nil, 1},
		{"sql refused", value(fams, "tisheng_sql_queries_total", "outcome", "refused"), nil, 1},
		{"sql requests 2xx", value(fams, "tisheng_http_requests_total", "class", "sql", "code", "2xx"), nil, 1},
		{"sql requests 4xx", value(fams, "tisheng_http_requests_total", "class", "sql", "code", "4xx"), nil, 1},
		// anonymous 401, three roles 403, the query-string token 401
		{"metrics refused", value(fams, "tisheng_http_requests_total", "class", "metrics", "code", "4xx"), nil, 5},
		{"unrouted", value(fams, "tisheng_http_requests_total", "class", "other", "code", "4xx"), nil, 2},
		{"upload request", value(fams, "tisheng_http_requests_total", "class", "upload", "code", "2xx"), nil, 1},
		{"files loaded", value(fams, "tisheng_ingest_files_total", "status", "loaded"), nil, 1},
		{"rows accepted", value(fams, "tisheng_ingest_rows_total", "kind", kind, "result", "accepted"), nil, 1},
		{"rows rejected", value(fams, "tisheng_ingest_rows_total", "kind", kind, "result", "rejected"), nil, 1},
		{"district builds failed", value(fams, "tisheng_scope_builds_total", "kind", "district", "outcome", "failed"), nil, 0},
		{"backups failed (a series to alert on)", value(fams, "tisheng_backups_total", "reason", "scheduled", "outcome", "failed"), nil, 0},
		{"refreshes failed", value(fams, "tisheng_refreshes_total", "mode", "incremental", "outcome", "failed"), nil, 0},
		{"backups", value(fams, "tisheng_backups_total", "reason", "manual", "outcome", "verified"), nil, 1},
		{"outdated", value(fams, "tisheng_models_outdated"), nil, 0},
		{"batches", value(fams, "tisheng_batches"), nil, float64(atoi(e.one(`SELECT count(*) FROM batches`)))},
		{"failed deliveries (a series to alert on)", value(fams, "tisheng_deliveries", "status", "failed"), nil, 0},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	refreshes := 0.0
	for _, mode := range []string{"incremental", "full"} {
		if v := value(fams, "tisheng_refreshes_total", "mode", mode, "outcome", "ok"); v > 0 {
			refreshes += v
		}
	}
	if refreshes != 1 {
		t.Errorf("the upload's refresh is not counted: %v", fams["tisheng_refreshes_total"])
	}
	// the district's database, built for its overview and again after the upload's refresh
	if n := value(fams, "tisheng_scope_builds_total", "kind", "district", "outcome", "ok"); n < 1 || n > 2 {
		t.Errorf("district builds: %v", n)
	}
	last := value(fams, "tisheng_backup_last_success_timestamp_seconds")
	if last < float64(startBackup.Unix()) || last > float64(endBackup.Unix()+1) {
		t.Errorf("last backup at %v, taken between %v and %v", last, startBackup.Unix(), endBackup.Unix())
	}
	if value(fams, "tisheng_backup_last_size_bytes") <= 0 {
		t.Error("no size for the last backup")
	}
	e.get("/api/nothing-here")
	// no path a client sent becomes a label, and no personal data is in a scrape
	resp, _ := e.c.Get(url)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, s := range []string{"wp-admin", ".env", "nothing-here", "东湖区", school, "甲", good} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("the scrape holds %q", s)
		}
	}
}

// TestAdminPageBackups: the 管理 page's 立即备份 button takes a verified backup and lists
// it; a backup that failed its verification is listed as failed, never as good; the audit
// log records who took it.
func TestAdminPageBackups(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, Config{Backup: BackupConfig{Dir: dir, Key: demoKey, Keep: 3, AtSpec: "30 2 * * *"}})
	code, body := postForm(t, e.c, e.ts.URL+"/admin/backup", nil)
	if code != 200 || !strings.Contains(body, "备份已完成并通过校验") || !strings.Contains(body, "定时备份 <code>30 2 * * *</code>") || !strings.Contains(body, "保留最新 3 份") {
		t.Fatalf("立即备份: %d %s", code, body)
	}
	list, err := warehouse.ListBackups(dir)
	if err != nil || len(list) != 1 || list[0].Status != warehouse.StatusVerified {
		t.Fatalf("backups: %+v %v", list, err)
	}
	if !strings.Contains(body, list[0].Name) || !strings.Contains(body, "已校验") || !strings.Contains(body, "手动") {
		t.Errorf("the page does not list the backup %s", list[0].Name)
	}
	if got := e.one(`SELECT count(*) FROM audit WHERE action = 'backup' AND user_name = 'admin' AND ok`); got != "1" {
		t.Errorf("audit rows for the backup: %s", got)
	}
	// a backup marked failed (as verification marks one) is shown so
	failed := filepath.Join(dir, "20250101-000000-manual.failed")
	if err := os.CopyFS(failed, os.DirFS(list[0].Path)); err != nil {
		t.Fatal(err)
	}
	mf := filepath.Join(failed, warehouse.ManifestName)
	b, _ := os.ReadFile(mf)
	if !bytes.Contains(b, []byte(`"status": "verified"`)) {
		t.Fatalf("the manifest's status is not where this test marks it failed: %s", b)
	}
	b = bytes.Replace(b, []byte(`"status": "verified"`), []byte(`"status": "failed", "error": "表 raw_hours 行数不符"`), 1)
	os.WriteFile(mf, b, 0o600)
	_, page := e.get("/admin")
	if !strings.Contains(string(page), "失败：表 raw_hours 行数不符") {
		t.Errorf("a failed backup is not shown as failed, with why")
	}
	// a leader sees no 管理 page at all
	leader := e.client("l", auth.User{Role: auth.RoleLeader})
	if code, _ := postForm(t, leader, e.ts.URL+"/admin/backup", nil); code != http.StatusForbidden {
		t.Errorf("a leader's 立即备份: %d", code)
	}
}

// TestBackupWhileAnotherRuns: a second backup asked for while one runs is refused with 409
// (a double click is not a server fault); a scheduled one that falls then waits and runs.
func TestBackupWhileAnotherRuns(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, Config{Backup: BackupConfig{Dir: dir, Key: demoKey}})
	e.srv.backupSlot <- struct{}{} // a backup under way
	code, out := postBackup(t, e)
	if code != http.StatusConflict || !strings.Contains(fmt.Sprint(out["error"]), "已有一个备份正在进行") {
		t.Errorf("a second backup: %d %v", code, out)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := e.srv.Backup(context.Background(), warehouse.ReasonScheduled)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the scheduled backup did not wait: %v", err)
	case <-time.After(1500 * time.Millisecond):
	}
	<-e.srv.backupSlot
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	list, _ := warehouse.ListBackups(dir)
	if len(list) != 1 || list[0].Reason != warehouse.ReasonScheduled || list[0].Status != warehouse.StatusVerified {
		t.Errorf("backups: %+v", list)
	}
}
