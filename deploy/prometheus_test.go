package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestAlertMetricNames checks that the alert rules and the guide name only metrics the
// server registers (internal/metrics), so that a renamed metric cannot leave an alert
// that watches nothing and never fires.
func TestAlertMetricNames(t *testing.T) {
	src, err := os.ReadFile("../internal/metrics/metrics.go")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`"(tisheng_[a-z_]+)"`).FindAllStringSubmatch(string(src), -1) {
		known[m[1]] = true
	}
	if len(known) < 10 {
		t.Fatalf("found only %d metric names in internal/metrics/metrics.go: %v", len(known), known)
	}
	used := regexp.MustCompile(`\btisheng_[a-z_]+[a-z]`)
	for _, f := range []string{"prometheus/tisheng-alerts.yml", "../docs/运维手册.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, name := range used.FindAllString(string(b), -1) {
			// a histogram's series carry suffixes of their own
			base := name
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, s); ok && known[b] {
					base = b
				}
			}
			if !known[base] {
				t.Errorf("%s names %s, which the server does not register", f, name)
			}
			n++
		}
		if n == 0 {
			t.Errorf("%s names no tisheng metric", f)
		}
	}
}
