package server

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/chromedp/chromedp"

	"tisheng/ingest"
	"tisheng/models"
)

// TestFailedRefreshIsShown: when the files load but the refresh after them fails (here a
// data test a district added), the uploader reads that the figures are still the old
// ones, in the answer and on the upload page, and never 「导入完成」; the rows the test
// found are in the log only.
func TestFailedRefreshIsShown(t *testing.T) {
	cat, err := models.Load(models.Files(), fstest.MapFS{
		"tests/no_test_teacher.sql": {Data: []byte("-- A district's own check: nothing for July 2025 yet.\n-- @per-month: true\nSELECT month, teacher_key FROM teacher_progress_monthly WHERE month = '2025-07'\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{Models: cat})
	school := e.one(`SELECT school_name FROM school_gate ORDER BY school_code LIMIT 1`)
	id := ingest.CompleteID("36019919900101003")
	file := []byte("姓名,身份证号,学校名称,研修类型,学时\n测试教师," + id + "," + school + ",网络研修,2\n")
	_, body := postFiles(t, e, map[string][]byte{"f_2025-07-31.csv": file}, nil)
	var out struct {
		Files        []ingest.Result
		Refreshed    bool
		RefreshError string `json:"refresh_error"`
	}
	json.Unmarshal(body, &out)
	if len(out.Files) != 1 || out.Files[0].Status != ingest.StatusLoaded || out.Refreshed ||
		!strings.Contains(out.RefreshError, "未通过数据检查") || !strings.Contains(out.RefreshError, "no_test_teacher（") {
		t.Fatalf("answer: %s", body)
	}
	if strings.Contains(string(body), "teacher_key") {
		t.Errorf("the answer holds the rows the test found: %s", body)
	}

	// the page
	path := browserPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.UserDataDir(profileDir(t)))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	f := filepath.Join(t.TempDir(), "g_2025-07-31.csv")
	os.WriteFile(f, []byte("姓名,身份证号,学校名称,研修类型,学时\n测试教师,"+ingest.CompleteID("36019919900101004")+","+school+",网络研修,2\n"), 0o600)
	var status, class string
	err = chromedp.Run(bctx,
		login(e, "admin"),
		chromedp.Navigate(e.ts.URL+"/upload"),
		chromedp.SetUploadFiles(`#files`, []string{f}, chromedp.ByQuery),
		chromedp.Click(`#send`, chromedp.ByQuery),
		chromedp.WaitVisible(`#results tbody tr`, chromedp.ByQuery),
		chromedp.Text(`#status`, &status, chromedp.ByQuery),
		chromedp.AttributeValue(`#status`, "class", &class, nil, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(status, "未通过数据检查") || strings.Contains(status, "导入完成") || class != "error" {
		t.Errorf("the upload page says %q (class %q)", status, class)
	}
}
