package server

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"

	"tisheng/internal/auth"
)

// browserPath finds Debian's chromium; CI installs it, and there its absence is a failure.
func browserPath(t *testing.T) string {
	for _, p := range []string{os.Getenv("CHROME_PATH"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found: CI must install it (.ci/run installs Debian's chromium)")
	}
	t.Skip("no Chromium on this machine")
	return ""
}

// profileDir is a browser profile directory removed after the test; Chromium may still be
// writing to it as it exits, so a failed removal is retried, then left to the OS.
func profileDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "tisheng-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 20 && os.RemoveAll(dir) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	return dir
}

// screenshotDir keeps the screenshots for a person to look at: screenshots/ at the repo root.
func screenshotDir(t *testing.T) string {
	dir := filepath.Join("..", "..", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// login signs in through the form, as a person does; env users' passwords are
// "password-of-" and their name.
func login(e *env, name string) chromedp.Action {
	return chromedp.Tasks{
		chromedp.Navigate(e.ts.URL + "/login"),
		chromedp.WaitVisible(`input[name=username]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name=username]`, name, chromedp.ByQuery),
		chromedp.SendKeys(`input[name=password]`, "password-of-"+name, chromedp.ByQuery),
		chromedp.Submit(`input[name=password]`, chromedp.ByQuery),
		chromedp.WaitNotPresent(`input[name=password]`, chromedp.ByQuery),
	}
}

func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests take a few seconds")
	}
	path := browserPath(t)
	e := newEnv(t, Config{})
	shots := screenshotDir(t)
	downloads := t.TempDir()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profileDir(t)),
		chromedp.WindowSize(1400, 1000),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	shot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			var buf []byte
			if err := chromedp.FullScreenshot(&buf, 100).Do(ctx); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644)
		})
	}

	// 总览: the charts render (ECharts draws a canvas) and the figures are there.
	var teachers string
	err := chromedp.Run(bctx,
		login(e, "admin"),
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.WaitVisible(`#c-rates canvas`, chromedp.ByQuery),
		chromedp.WaitVisible(`#c-gate canvas`, chromedp.ByQuery),
		chromedp.Text(`.cards .card .v`, &teachers, chromedp.ByQuery),
		shot("overview"),
	)
	if err != nil {
		t.Fatalf("overview: %v", err)
	}
	if want := e.one(`SELECT sum(teachers)::VARCHAR FROM school_gate`); strings.TrimSpace(teachers) != want {
		t.Errorf("overview shows %q teachers, model %s", teachers, want)
	}

	// Follow a school from 学校进度 to its 学校详情.
	var title string
	err = chromedp.Run(bctx,
		chromedp.Navigate(e.ts.URL+"/schools"),
		chromedp.WaitVisible(`table.data tbody tr`, chromedp.ByQuery),
		chromedp.Click(`table.data tbody tr:first-child a`, chromedp.ByQuery),
		chromedp.WaitVisible(`#t-school_teachers`, chromedp.ByQuery),
		chromedp.Text(`h1`, &title, chromedp.ByQuery),
		shot("school"),
	)
	if err != nil {
		t.Fatalf("school: %v", err)
	}
	if !strings.Contains(title, "学校详情") {
		t.Errorf("followed to %q", title)
	}

	// Download the 月报 from 总览 and open it.
	err = chromedp.Run(bctx,
		browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(downloads).WithEventsEnabled(true),
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.WaitVisible(`#monthly`, chromedp.ByQuery),
		chromedp.Click(`#monthly`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	var file string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && file == ""; time.Sleep(200 * time.Millisecond) {
		matches, _ := filepath.Glob(filepath.Join(downloads, "*月报.xlsx"))
		if len(matches) == 1 {
			file = matches[0]
		}
	}
	if file == "" {
		entries, _ := os.ReadDir(downloads)
		t.Fatalf("no 月报 downloaded; have %v", entries)
	}
	if filepath.Base(file) != "2025年6月_全部区县_月报.xlsx" {
		t.Errorf("downloaded as %s", filepath.Base(file))
	}
	f, err := excelize.OpenFile(file)
	if err != nil {
		t.Fatalf("the downloaded 月报 does not open: %v", err)
	}
	if len(f.GetSheetList()) != 10 {
		t.Errorf("月报 sheets %v", f.GetSheetList())
	}
	f.Close()

	// Run a query on /sql.
	var cell, status string
	err = chromedp.Run(bctx,
		chromedp.Navigate(e.ts.URL+"/sql"),
		chromedp.WaitVisible(`#sql`, chromedp.ByQuery),
		chromedp.SetValue(`#sql`, "SELECT count(*) AS n FROM teacher_progress", chromedp.ByQuery),
		chromedp.Click(`#run`, chromedp.ByQuery),
		chromedp.WaitVisible(`#result tbody td`, chromedp.ByQuery),
		chromedp.Text(`#result tbody td`, &cell, chromedp.ByQuery),
		chromedp.Text(`#status`, &status, chromedp.ByQuery),
		shot("sql"),
	)
	if err != nil {
		t.Fatalf("sql: %v", err)
	}
	if want := e.one(`SELECT count(*)::VARCHAR FROM teacher_progress`); cell != want || !strings.Contains(status, "1 行") {
		t.Errorf("sql page shows %q (%q), model %s", cell, status, want)
	}
	// A forbidden query shows its refusal.
	var msg string
	err = chromedp.Run(bctx,
		chromedp.SetValue(`#sql`, "SELECT * FROM meta", chromedp.ByQuery),
		chromedp.Click(`#run`, chromedp.ByQuery),
		chromedp.WaitVisible(`#error`, chromedp.ByQuery),
		chromedp.Text(`#error`, &msg, chromedp.ByQuery),
	)
	if err != nil || !strings.Contains(msg, "不能读取") {
		t.Errorf("refusal on the page: %q %v", msg, err)
	}
}

// Each role logs in through the form and sees its own scope: the header names it, the
// pages hold only its rows, and the links it may not use are not offered.
func TestBrowserRoles(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests take a few seconds")
	}
	path := browserPath(t)
	e := newEnv(t, Config{})
	shots := screenshotDir(t)
	d := e.one(`SELECT min(district) FROM school_info`)
	school := e.one(`SELECT min(school_code) FROM school_info WHERE district = ?`, d)
	otherDistrict := e.one(`SELECT min(district) FROM school_info WHERE district <> ?`, d)
	e.client("quxian", auth.User{Role: auth.RoleDistrict, District: d})
	e.client("xuexiao", auth.User{Role: auth.RoleSchool, School: school})
	e.client("lingdao", auth.User{Role: auth.RoleLeader})
	for _, c := range []struct {
		user, scope string
		sql, upload bool
		rows        string // the teachers 学校进度 lists (sum of its 教师 column)
	}{
		{"admin", "全部", true, true, e.one(`SELECT count(*) FROM school_gate`)},
		{"quxian", "区县:" + d, true, true, e.one(`SELECT count(*) FROM school_gate WHERE district = ?`, d)},
		{"xuexiao", "学校:" + school, false, true, "1"},
		{"lingdao", "全部", false, false, e.one(`SELECT count(*) FROM school_gate`)},
	} {
		t.Run(c.user, func(t *testing.T) {
			opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
				chromedp.Flag("disable-gpu", true), chromedp.UserDataDir(profileDir(t)), chromedp.WindowSize(1400, 1000))
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
			defer acancel()
			bctx, bcancel := chromedp.NewContext(actx)
			defer bcancel()
			var who, nav, body string
			var rows int
			err := chromedp.Run(bctx,
				login(e, c.user),
				chromedp.Navigate(e.ts.URL+"/schools"),
				chromedp.WaitVisible(`#t-schools`, chromedp.ByQuery),
				chromedp.Text(`header form.who span`, &who, chromedp.ByQuery),
				chromedp.Text(`nav`, &nav, chromedp.ByQuery),
				chromedp.Evaluate(`document.querySelectorAll('#t-schools tbody tr').length`, &rows),
				chromedp.Text(`main`, &body, chromedp.ByQuery),
				chromedp.ActionFunc(func(ctx context.Context) error {
					var buf []byte
					if err := chromedp.FullScreenshot(&buf, 100).Do(ctx); err != nil {
						return err
					}
					return os.WriteFile(filepath.Join(shots, "role-"+c.user+".png"), buf, 0o644)
				}),
			)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(who, c.user) || !strings.Contains(who, c.scope) {
				t.Errorf("header says %q, want %s · %s", who, c.user, c.scope)
			}
			if strings.Contains(nav, "SQL") != c.sql || strings.Contains(nav, "上传") != c.upload {
				t.Errorf("nav %q: sql %v upload %v", nav, c.sql, c.upload)
			}
			if fmt.Sprint(rows) != c.rows {
				t.Errorf("学校进度 lists %d schools, want %s", rows, c.rows)
			}
			if c.user != "admin" && c.user != "lingdao" && strings.Contains(body, otherDistrict) {
				t.Errorf("%s sees %s on 学校进度", c.user, otherDistrict)
			}
		})
	}
}

// From a non-default month and district, every link a page offers keeps both: the browser
// follows each page link and checks the filters it lands on, and every download and JSON
// link is fetched and must carry them too (the 月报 named for that month and district).
func TestBrowserLinksKeepFilters(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests take a few seconds")
	}
	path := browserPath(t)
	e := newEnv(t, Config{})
	month := e.one(`SELECT min(month) FROM months`)
	if month == e.one(`SELECT max(month) FROM months`) {
		t.Fatal("the demo needs two months")
	}
	district := e.one(`SELECT max(district) FROM school_info`)
	school := e.one(`SELECT min(school_code) FROM school_info WHERE district = ?`, district)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.UserDataDir(profileDir(t)), chromedp.WindowSize(1400, 1000))
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Run(bctx, login(e, "admin")); err != nil {
		t.Fatal(err)
	}
	q := "?month=" + month + "&district=" + url.QueryEscape(district)
	start := []string{"/" + q, "/schools" + q, "/schools/" + school + q, "/abilities" + q, "/trend" + q, "/quality" + q}
	seen := map[string]bool{}
	for _, page := range start {
		var hrefs []string
		var gotMonth, gotDistrict string
		err := chromedp.Run(bctx,
			chromedp.Navigate(e.ts.URL+page),
			chromedp.WaitVisible(`main h1`, chromedp.ByQuery),
			chromedp.Evaluate(`Array.from(document.querySelectorAll('main a[href], nav a[href]')).map(a => a.getAttribute('href'))`, &hrefs),
			chromedp.Value(`select[name=month]`, &gotMonth, chromedp.ByQuery),
			chromedp.Evaluate(`(document.querySelector('select[name=district]') || {value: '`+district+`'}).value`, &gotDistrict),
			chromedp.Sleep(300*time.Millisecond), // charts finish their animation for the picture
			chromedp.ActionFunc(func(ctx context.Context) error {
				var buf []byte
				if err := chromedp.FullScreenshot(&buf, 100).Do(ctx); err != nil {
					return err
				}
				name := strings.Trim(strings.SplitN(page, "?", 2)[0], "/")
				if name == "" {
					name = "overview"
				}
				return os.WriteFile(filepath.Join(screenshotDir(t), "page-"+strings.ReplaceAll(name, "/", "-")+".png"), buf, 0o644)
			}),
		)
		if err != nil {
			t.Fatalf("%s: %v", page, err)
		}
		if gotMonth != month || gotDistrict != district {
			t.Errorf("%s shows %s / %s, want %s / %s", page, gotMonth, gotDistrict, month, district)
		}
		for _, h := range hrefs {
			if seen[h] || strings.HasPrefix(h, "#") || h == "/sql" || h == "/upload" || h == "/admin" || h == "/me" {
				continue
			}
			seen[h] = true
			u, err := url.Parse(h)
			if err != nil {
				t.Errorf("%s: bad link %q", page, h)
				continue
			}
			if u.Query().Get("month") != month || u.Query().Get("district") != district {
				t.Errorf("%s links to %s, losing month %s / district %s", page, h, month, district)
				continue
			}
			resp, body := e.get(h)
			if resp.StatusCode != 200 {
				t.Errorf("%s -> %s: %d %.200s", page, h, resp.StatusCode, body)
				continue
			}
			if cd := resp.Header.Get("Content-Disposition"); cd != "" {
				name, _ := url.PathUnescape(cd[strings.Index(cd, "''")+2:])
				if !strings.Contains(name, district) {
					t.Errorf("%s -> %s downloads %s, not %s's", page, h, name, district)
				}
				if !strings.Contains(h, "annual") && !strings.Contains(name, monthLabelOf(month)) {
					t.Errorf("%s -> %s downloads %s, not %s's", page, h, name, month)
				}
			}
		}
	}
	if len(seen) < 20 {
		t.Errorf("followed only %d links", len(seen))
	}
}

// monthLabelOf is 2025-05 as file names write it: 2025年5月.
func monthLabelOf(m string) string {
	tm, _ := time.Parse("2006-01", m)
	return fmt.Sprintf("%d年%d月", tm.Year(), tm.Month())
}
