// Package office runs the tools tests check documents with, as a person would: LibreOffice
// converts a .docx to PDF headless (it refuses or repairs a broken package), poppler counts
// and renders the pages and reads their text and fonts. On a machine without them the
// tests skip; under CI (CI=true) their absence is a failure, as .ci/run installs them.
package office

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func tool(t testing.TB, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("no %s found: CI must install it (.ci/run installs Debian's %s)", name, pkg)
	}
	t.Skipf("no %s on this machine", name)
	return ""
}

// ToPDF converts a .docx to PDF with LibreOffice headless and returns the PDF's path (in a
// directory of the test's own). Each conversion uses a profile of its own, so that tests
// converting at once do not share LibreOffice's lock.
func ToPDF(t testing.TB, docx string) string {
	t.Helper()
	soffice := tool(t, "soffice", "libreoffice-writer-nogui")
	out := t.TempDir()
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, soffice, "-env:UserInstallation=file://"+profile, "--headless", "--norestore",
		"--convert-to", "pdf", "--outdir", out, docx)
	cmd.Env = append(os.Environ(), "HOME="+profile)
	b, err := cmd.CombinedOutput()
	pdf := filepath.Join(out, strings.TrimSuffix(filepath.Base(docx), filepath.Ext(docx))+".pdf")
	if err != nil {
		t.Fatalf("soffice %s: %v\n%s", docx, err, b)
	}
	if st, err := os.Stat(pdf); err != nil || st.Size() == 0 {
		t.Fatalf("soffice wrote no PDF for %s:\n%s", docx, b)
	}
	return pdf
}

var rePages = regexp.MustCompile(`(?m)^Pages:\s+(\d+)`)

// Pages is a PDF's page count (pdfinfo).
func Pages(t testing.TB, pdf string) int {
	t.Helper()
	b, err := exec.Command(tool(t, "pdfinfo", "poppler-utils"), pdf).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo %s: %v\n%s", pdf, err, b)
	}
	m := rePages.FindSubmatch(b)
	if m == nil {
		t.Fatalf("pdfinfo %s: no page count in\n%s", pdf, b)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// Text is the PDF's text, page by page (pdftotext keeps the layout's order).
func Text(t testing.TB, pdf string) []string {
	t.Helper()
	b, err := exec.Command(tool(t, "pdftotext", "poppler-utils"), "-layout", pdf, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext %s: %v\n%s", pdf, err, b)
	}
	pages := strings.Split(string(b), "\f")
	if len(pages) > 0 && strings.TrimSpace(pages[len(pages)-1]) == "" {
		pages = pages[:len(pages)-1]
	}
	return pages
}

// Fonts is the names of the fonts the PDF uses (pdffonts), subset prefixes removed.
func Fonts(t testing.TB, pdf string) []string {
	t.Helper()
	b, err := exec.Command(tool(t, "pdffonts", "poppler-utils"), pdf).CombinedOutput()
	if err != nil {
		t.Fatalf("pdffonts %s: %v\n%s", pdf, err, b)
	}
	var out []string
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if i < 2 || len(f) == 0 {
			continue
		}
		name := f[0]
		if j := strings.Index(name, "+"); j == 6 {
			name = name[j+1:]
		}
		out = append(out, name)
	}
	return out
}

// Screenshots renders every page of the PDF to PNG files named prefix-N.png in dir
// (pdftoppm), for a person to look at, and returns their paths.
func Screenshots(t testing.TB, pdf, dir, prefix string) []string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, prefix+"-*.png"))
	for _, f := range old {
		os.Remove(f)
	}
	b, err := exec.Command(tool(t, "pdftoppm", "poppler-utils"), "-r", "70", "-png", pdf, filepath.Join(dir, prefix)).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftoppm %s: %v\n%s", pdf, err, b)
	}
	files, _ := filepath.Glob(filepath.Join(dir, prefix+"-*.png"))
	if len(files) == 0 {
		t.Fatalf("pdftoppm wrote no page of %s", pdf)
	}
	return files
}

// ScreenshotDir is screenshots/ at the repository's root, from a package up to depth
// directories below it (the browser tests keep theirs there too).
func ScreenshotDir(depth int) string {
	return filepath.Join(append(repeat("..", depth), "screenshots")...)
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// WriteFile writes a document the test made into its temp dir, for the tools.
func WriteFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Describe is a short line about a converted document, for a test's log.
func Describe(t testing.TB, pdf string) string {
	return fmt.Sprintf("%s: %d pages, fonts %v", filepath.Base(pdf), Pages(t, pdf), Fonts(t, pdf))
}
