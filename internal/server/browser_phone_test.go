package server

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tisheng/internal/auth"
)

// A leader opens 总览, 学校进度 and 学校详情 on a phone (390 px wide): nothing is wider
// than the screen (tables scroll inside their own box or become lists), the headline
// figures are cards, the charts fit. The screenshots are for a person to look at.
func TestBrowserPhone(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests take a few seconds")
	}
	path := browserPath(t)
	e := newEnv(t, Config{})
	e.client("lingdao", auth.User{Role: auth.RoleLeader})
	school := e.one(`SELECT min(school_code) FROM school_gate WHERE NOT gate_met`)
	shots := screenshotDir(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.UserDataDir(profileDir(t)), chromedp.WindowSize(390, 844))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Run(bctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(1), chromedp.EmulateMobile), login(e, "lingdao")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ name, path, wait string }{
		{"overview", "/", "#c-rates canvas"},
		{"schools", "/schools", "#t-schools table"},
		{"school", "/schools/" + school, "#gate"},
	} {
		var width, inner, cards int
		var overflow []string
		err := chromedp.Run(bctx,
			chromedp.Navigate(e.ts.URL+p.path),
			chromedp.WaitVisible(p.wait, chromedp.ByQuery),
			chromedp.Sleep(300*time.Millisecond),
			chromedp.Evaluate(`document.documentElement.scrollWidth`, &width),
			chromedp.Evaluate(`window.innerWidth`, &inner),
			chromedp.Evaluate(`document.querySelectorAll('.cards .card, .gate').length`, &cards),
			// any element that sticks out of the screen, outside a box that scrolls
			chromedp.Evaluate(`Array.from(document.querySelectorAll('body *')).filter(el => {
				const r = el.getBoundingClientRect();
				if (r.width === 0 || (r.right <= window.innerWidth + 1 && r.left >= -1)) return false;
				for (let p = el.parentElement; p; p = p.parentElement) {
					const s = getComputedStyle(p);
					if ((s.overflowX === 'auto' || s.overflowX === 'scroll' || s.overflowX === 'hidden') && p !== document.body && p !== document.documentElement) return false;
				}
				return true;
			}).slice(0, 5).map(el => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right))`, &overflow),
			chromedp.ActionFunc(func(ctx context.Context) error {
				var buf []byte
				if err := chromedp.FullScreenshot(&buf, 100).Do(ctx); err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(shots, "phone-"+p.name+".png"), buf, 0o644); err != nil {
					return err
				}
				// what the screen shows first, at the phone's own size
				if err := chromedp.CaptureScreenshot(&buf).Do(ctx); err != nil {
					return err
				}
				return os.WriteFile(filepath.Join(shots, "phone-"+p.name+"-screen.png"), buf, 0o644)
			}),
		)
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		// a phone shrinks a page wider than the screen to fit (innerWidth grows with it):
		// the page must be no wider than the screen itself
		if width > 390 || inner > 390 {
			t.Errorf("%s is %d px wide (layout %d px) on a 390 px screen", p.name, width, inner)
		}
		if len(overflow) > 0 {
			t.Errorf("%s: elements past the screen's edge: %v", p.name, overflow)
		}
		if cards == 0 && p.name != "schools" {
			t.Errorf("%s shows no headline cards", p.name)
		}
	}
}
