// Command tishengbench measures tisheng side by side: the binary built from an earlier commit
// (by default the last one on DuckDB 1.1.2, before the move to duckdb-go/v2) and the one
// built from this working tree, each driven only through its public command line and HTTP
// API (serve, an API token), so the earlier binary needs no bench code of its own. Every
// step runs for both binaries in turn, run after run (old, new, then new, old, …), and the
// medians are compared: the machine is shared and noisy.
//
//	go run -tags duckdb_arrow ./cmd/tishengbench [--dir bench-data] [--old COMMIT] [--runs 3] [--steps …]
//
// `make bench` runs it with its defaults. Generated files and warehouses stay in --dir and
// are reused by the next run (delete the directory to start over).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"tisheng/internal/xlsxw"
)

// benchKey is the HMAC key every warehouse of the bench is loaded with (TISHENG_ID_KEY).
const benchKey = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"

// defaultOld is the last commit before tisheng moved to duckdb-go/v2 (DuckDB 1.5.6).
const defaultOld = "18a69f27dc7937d0ab3c7bf7f15cd7addbffb093"

type config struct {
	dir, repo, old      string
	runs                int
	rows, xrows         int
	teachers, districts int
	months              int
	clients, perClient  int
	steps               map[string]bool
	stdout, stderr      io.Writer
	oldBin, newBin      string
	oldLabel, newLabel  string
}

var allSteps = []string{"ingest", "refresh", "months", "pages", "monthly"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tishengbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tishengbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := config{stdout: stdout, stderr: stderr}
	fs.StringVar(&c.dir, "dir", "bench-data", "where generated files, warehouses and the two binaries go")
	fs.StringVar(&c.repo, "repo", ".", "the git repository (its working tree is the new binary)")
	fs.StringVar(&c.old, "old", defaultOld, "the commit the old binary is built from")
	fs.IntVar(&c.runs, "runs", 3, "runs of each step per binary (medians compared)")
	fs.IntVar(&c.rows, "rows", 1_000_000, "rows of the hours CSV (UTF-8 and GBK)")
	fs.IntVar(&c.xrows, "xlsx-rows", 200_000, "rows of the hours XLSX")
	fs.IntVar(&c.teachers, "teachers", 50_000, "teachers of the generated city")
	fs.IntVar(&c.districts, "districts", 10, "districts of the generated city")
	fs.IntVar(&c.months, "months", 36, "monthly snapshots of the long warehouse (the incremental refresh adds one more)")
	fs.IntVar(&c.clients, "clients", 16, "concurrent clients for the page latencies")
	fs.IntVar(&c.perClient, "per-client", 40, "first views of 学校详情 each client asks for")
	steps := fs.String("steps", strings.Join(allSteps, ","), "steps to run: "+strings.Join(allSteps, ","))
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.runs < 1 || c.months < 2 || c.clients < 1 {
		return errors.New("--runs and --clients must be at least 1, --months at least 2")
	}
	c.steps = map[string]bool{}
	for _, s := range strings.Split(*steps, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		ok := false
		for _, a := range allSteps {
			ok = ok || a == s
		}
		if !ok {
			return fmt.Errorf("unknown step %q (steps: %s)", s, strings.Join(allSteps, ","))
		}
		c.steps[s] = true
	}
	var err error
	if c.dir, err = filepath.Abs(c.dir); err != nil {
		return err
	}
	if c.repo, err = filepath.Abs(c.repo); err != nil {
		return err
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	if err := c.build(ctx); err != nil {
		return err
	}
	var rows []row
	add := func(rs []row, err error) error {
		rows = append(rows, rs...)
		return err
	}
	if c.steps["ingest"] {
		if err := add(c.benchIngest(ctx)); err != nil {
			return err
		}
	}
	var city *cityFiles
	if c.steps["refresh"] || c.steps["months"] || c.steps["pages"] || c.steps["monthly"] {
		if city, err = c.makeCity(ctx); err != nil {
			return err
		}
	}
	if c.steps["refresh"] {
		if err := add(c.benchRefresh(ctx, city)); err != nil {
			return err
		}
	}
	if c.steps["pages"] {
		if err := add(c.benchPages(ctx, city)); err != nil {
			return err
		}
	}
	if c.steps["monthly"] {
		if err := add(c.benchMonthly(ctx, city)); err != nil {
			return err
		}
	}
	if c.steps["months"] {
		if err := add(c.benchMonths(ctx, city)); err != nil {
			return err
		}
	}
	c.print(rows)
	return nil
}

// row is one measured figure for both binaries.
type row struct {
	name, unit, target string
	old, new           []float64
	note               string
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (c *config) print(rows []row) {
	w := c.stdout
	fmt.Fprintf(w, "\nside by side: old = %s, new = %s; medians of %d runs each, taken in turn\n", c.oldLabel, c.newLabel, c.runs)
	fmt.Fprintf(w, "%-58s %11s %11s %9s  %-22s %s\n", "step", "old", "new", "new/old", "target", "runs (old | new)")
	for _, r := range rows {
		mo, mn := median(r.old), median(r.new)
		ratio := "-"
		if mo > 0 {
			ratio = fmt.Sprintf("%.2fx", mn/mo)
		}
		fmt.Fprintf(w, "%s %9.3f%-2s %9.3f%-2s %9s  %-22s %s | %s\n", pad(r.name, 58), mo, r.unit, mn, r.unit, ratio, r.target, list(r.old), list(r.new))
		if r.note != "" {
			fmt.Fprintf(w, "    %s\n", r.note)
		}
	}
}

// pad fills s to n columns as a terminal shows it (a Chinese character takes two).
func pad(s string, n int) string {
	if w := int(xlsxw.DisplayWidth(s)); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}

func list(xs []float64) string {
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprintf("%.3f", x))
	}
	return strings.Join(s, " ")
}

// inTurn runs f for both binaries, runs times, alternating which goes first, and returns
// the figures of each.
func (c *config) inTurn(runs int, f func(bin string, old bool) (float64, error)) ([]float64, []float64, error) {
	var olds, news []float64
	for i := 0; i < runs; i++ {
		order := []bool{true, false}
		if i%2 == 1 {
			order = []bool{false, true}
		}
		for _, old := range order {
			bin := c.newBin
			if old {
				bin = c.oldBin
			}
			v, err := f(bin, old)
			if err != nil {
				return olds, news, fmt.Errorf("%s: %w", c.label(old), err)
			}
			if old {
				olds = append(olds, v)
			} else {
				news = append(news, v)
			}
		}
	}
	return olds, news, nil
}

func (c *config) label(old bool) string {
	if old {
		return "old"
	}
	return "new"
}

func seconds(d time.Duration) float64 { return d.Seconds() }
