package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/marcboeker/go-duckdb"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"tisheng/ingest"
	"tisheng/ingest/xlsxstream"
	"tisheng/internal/auth"
	"tisheng/internal/gen"
	"tisheng/internal/server"
	"tisheng/internal/warehouse"
	"tisheng/models"
	"tisheng/queries"
)

// benchStepCmd runs one measured step in a child process, so each step's peak RSS is its own.
const benchStepCmd = "bench-step"

const benchKey = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"

type benchFiles struct {
	dir, schools, csv, gbk, xlsx string
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "tisheng bench [--rows N] [--xlsx-rows N] [--dir 目录] [--scales city,months,province,province-months|none] [--months N] [--province-months N] [--ingest=false] [--pages=false]"
	fs := newFlags("bench")
	dir := fs.String("dir", "bench-data", "生成的文件和仓库放在这个 `目录`")
	rows := fs.Int("rows", 1_000_000, "学时 CSV 的 `行数`")
	xrows := fs.Int("xlsx-rows", 200_000, "学时 XLSX 的 `行数`")
	scales := fs.String("scales", "city,months,province", "要测的刷新规模：city（5 万教师）、months（同一城市的多个月快照：全量与增量刷新）、province（100 万）、province-months（100 万教师的多个月快照，默认不测）或 none")
	months := fs.Int("months", 36, "months 规模的月快照`个数`")
	provinceMonths := fs.Int("province-months", 4, "province-months 规模（100 万教师）的月快照`个数`")
	ingestBench := fs.Bool("ingest", true, "是否测导入")
	pages := fs.Bool("pages", true, "months 规模是否测页面与月报")
	if _, err := parseFlags(fs, synopsis, args, stdout, stderr); err != nil {
		return err
	}
	if *ingestBench {
		if err := benchIngest(ctx, *dir, *rows, *xrows, stdout, stderr); err != nil {
			return err
		}
	}
	for _, sc := range strings.Split(*scales, ",") {
		var err error
		switch sc {
		case "none", "":
		case "city":
			err = benchRefresh(ctx, *dir, "city", 50_000, 10, stdout, stderr)
			if err == nil {
				err = benchServe(ctx, *dir, filepath.Join(*dir, "city.duckdb"), stdout, stderr)
			}
		case "months":
			err = benchMonths(ctx, *dir, monthsScale{"city", 50_000, 10, 3}, *months, *pages, stdout, stderr)
		case "province-months":
			// as many months as this machine holds at a million teachers: each month adds
			// about 24M hours rows; one run each (a province refresh takes minutes)
			err = benchMonths(ctx, *dir, monthsScale{"province", 1_000_000, gen.MaxDistricts, 1}, *provinceMonths, false, stdout, stderr)
		case "province":
			err = benchRefresh(ctx, *dir, "province", 1_000_000, gen.MaxDistricts, stdout, stderr)
		default:
			err = fmt.Errorf("unknown scale %q", sc)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func benchIngest(ctx context.Context, dir string, rows, xrows int, stdout, stderr io.Writer) error {
	bf, err := makeBenchFiles(dir, rows, xrows)
	if err != nil {
		return err
	}
	type step struct {
		name, what string
		rows       int
		args       []string
	}
	steps := []step{
		{"duckdb read_csv", "CREATE TABLE … AS SELECT * FROM read_csv(UTF-8 CSV)", rows, []string{"readcsv", bf.csv}},
		{"ingest CSV UTF-8", "tisheng ingest, full checks, Arrow batches", rows, []string{"ingest", bf.csv}},
		{"ingest CSV GBK", "tisheng ingest of the same rows in GBK", rows, []string{"ingest", bf.gbk}},
		{"excelize Rows()", "plain excelize row pass over the XLSX", xrows, []string{"excelize", bf.xlsx}},
		{"xlsxstream pass", "tisheng's sheet reader alone", xrows, []string{"xlsxstream", bf.xlsx}},
		{"ingest XLSX", "tisheng ingest of the XLSX", xrows, []string{"ingest", bf.xlsx}},
	}
	fmt.Fprintf(stdout, "ingest benchmark: %d-row hours CSV, %d-row hours XLSX (%s)\n\n", rows, xrows, dir)
	fmt.Fprintf(stdout, "%-18s %10s %9s %12s %10s  %s\n", "step", "rows", "seconds", "rows/s", "peak RSS", "what")
	secs := map[string]float64{}
	for _, s := range steps {
		el, rss, _, err := benchChild(ctx, stderr, append([]string{s.args[0], bf.dir}, s.args[1:]...)...)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		secs[s.name] = el
		fmt.Fprintf(stdout, "%-18s %10d %9.2f %12.0f %8.0fMB  %s\n", s.name, s.rows, el, float64(s.rows)/el, rss, s.what)
	}
	fmt.Fprintf(stdout, "\nratios (target):\n")
	fmt.Fprintf(stdout, "  ingest CSV UTF-8 / read_csv  %.2fx  (≤ 2x)\n", secs["ingest CSV UTF-8"]/secs["duckdb read_csv"])
	fmt.Fprintf(stdout, "  ingest CSV GBK   / read_csv  %.2fx\n", secs["ingest CSV GBK"]/secs["duckdb read_csv"])
	fmt.Fprintf(stdout, "  excelize Rows()  / ingest XLSX  %.1fx  (ingest XLSX ≥ 100,000 rows/s)\n", secs["excelize Rows()"]/secs["ingest XLSX"])
	return nil
}

// benchChild runs one bench step in a child process: seconds, peak RSS in MB, and stdout.
func benchChild(ctx context.Context, stderr io.Writer, args ...string) (float64, float64, []byte, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, 0, nil, err
	}
	hwm, err := os.CreateTemp("", "tisheng-hwm-")
	if err != nil {
		return 0, 0, nil, err
	}
	hwm.Close()
	defer os.Remove(hwm.Name())
	cmd := exec.CommandContext(ctx, self, append([]string{benchStepCmd}, args...)...)
	cmd.Env = append(os.Environ(), ingest.KeyEnv+"="+benchKey, benchHWMEnv+"="+hwm.Name())
	cmd.Stderr = stderr
	start := time.Now()
	out, err := cmd.Output()
	el := time.Since(start).Seconds()
	if err != nil {
		return 0, 0, out, fmt.Errorf("%w\n%s", err, out)
	}
	// The child's own high-water mark: rusage's maxrss also counts the parent's pages the
	// child held between fork and exec, which at a big parent floors every figure.
	if b, err := os.ReadFile(hwm.Name()); err == nil {
		if kb, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64); err == nil && kb > 0 {
			return el, kb / 1024, out, nil
		}
	}
	return el, float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024, out, nil
}

// benchHWMEnv names the file a bench step writes its peak RSS (VmHWM, kB) to when it ends.
const benchHWMEnv = "TISHENG_BENCH_HWM"

// writeHWM writes this process's peak RSS for the parent bench.
func writeHWM() {
	path := os.Getenv(benchHWMEnv)
	if path == "" {
		return
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			os.WriteFile(path, []byte(strings.TrimSuffix(strings.TrimSpace(v), " kB")), 0o600)
		}
	}
}

// benchRefresh builds (once) a warehouse of a generated city or province and times a
// refresh of it, then the two heaviest models run bare by DuckDB on the same data.
func benchRefresh(ctx context.Context, dir, scale string, teachers, districts int, stdout, stderr io.Writer) error {
	db, err := benchWarehouse(ctx, dir, scale, teachers, districts, stdout)
	if err != nil {
		return err
	}
	el, rss, out, err := benchChild(ctx, stderr, "refresh-full", dir, db)
	if err != nil {
		return fmt.Errorf("refresh %s: %w", scale, err)
	}
	var rep models.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		return fmt.Errorf("refresh %s: %w", scale, err)
	}
	sort.Slice(rep.Built, func(i, j int) bool { return rep.Built[i].Millis > rep.Built[j].Millis })
	var rows int64
	for _, b := range rep.Built {
		if b.Table == "teacher_progress" {
			rows = b.Rows
		}
	}
	fmt.Fprintf(stdout, "\nrefresh at %s scale (%d roster teachers, %d hours rows): %.2f s, peak RSS %.0f MB (targets: city < 3 s, province < 60 s, RSS < 4 GB)\n",
		scale, rows, countRows(ctx, db, "raw_hours"), el, rss)
	var heavy []models.Built
	for _, b := range rep.Built {
		if b.Table != "(swap in)" && len(heavy) < 2 {
			heavy = append(heavy, b)
		}
	}
	bareTotal := 0.0
	for _, h := range heavy {
		bel, _, _, err := benchChild(ctx, stderr, "bare", dir, db, h.Table)
		if err != nil {
			return err
		}
		bareTotal += bel
		fmt.Fprintf(stdout, "  %-26s in refresh %6d ms; bare DuckDB (own process, incl. open) %6.0f ms\n", h.Table, h.Millis, bel*1000)
	}
	fmt.Fprintf(stdout, "  whole refresh (%d models staged, %d data tests, swapped in one transaction) / the two heaviest bare: %.1fx\n", len(rep.Built)-1, rep.Tests, el/bareTotal)
	return nil
}

// benchWarehouse builds (once) a warehouse of a generated city or province: two monthly
// snapshots of every export, loaded as tisheng ingest loads them.
func benchWarehouse(ctx context.Context, dir, scale string, teachers, districts int, stdout io.Writer) (string, error) {
	db := filepath.Join(dir, scale+".duckdb")
	if _, err := os.Stat(db + ".ready"); err != nil {
		fmt.Fprintf(stdout, "\nbuilding the %s warehouse (%d teachers; once, kept in %s) …\n", scale, teachers, dir)
		os.Remove(db)
		os.Remove(db + ".wal")
		exports := filepath.Join(dir, scale+"-exports")
		os.RemoveAll(exports)
		sum, err := gen.Generate(gen.Config{Out: exports, Districts: districts, Teachers: teachers, Seed: 1})
		if err != nil {
			return "", err
		}
		os.Setenv(ingest.KeyEnv, benchKey)
		wh, l, err := openLoader(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			return "", err
		}
		for _, f := range sum.Files {
			if r := l.LoadFile(ctx, f.Path, ingest.Options{School: f.School}); r.Status == ingest.StatusFailed {
				wh.Close()
				return "", fmt.Errorf("%s: %s", f.Path, r.Error)
			}
		}
		wh.Close()
		os.RemoveAll(exports)
		if err := os.WriteFile(db+".ready", nil, 0o644); err != nil {
			return "", err
		}
	}
	return db, nil
}

// benchServe measures the two pages leaders open most, under 16 concurrent clients, and the
// 月报 workbook, at city scale.
func benchServe(ctx context.Context, dir, db string, stdout, stderr io.Writer) error {
	el, rss, _, err := benchChild(ctx, stderr, "monthly", dir, db)
	if err != nil {
		return fmt.Errorf("monthly: %w", err)
	}
	fmt.Fprintf(stdout, "\n月报 workbook at city scale: %.2f s, peak RSS %.0f MB (target < 2 s)\n", el, rss)

	os.Setenv(ingest.KeyEnv, benchKey)
	wh, err := warehouse.OpenWith(ctx, db, warehouse.Options{Locked: true})
	if err != nil {
		return err
	}
	defer wh.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := ingest.NewLoader(ctx, wh, benchKeyBytes(), log)
	if err != nil {
		return err
	}
	accounts := auth.NewStore(wh.DB, auth.DefaultPolicy)
	srv, err := server.New(server.Config{}, wh, l, accounts, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	var districts, schools []string
	rows, err := wh.DB.QueryContext(ctx, `SELECT district, school_code FROM school_gate ORDER BY district, school_code`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var d, s string
		rows.Scan(&d, &s)
		districts = append(districts, d)
		schools = append(schools, s)
	}
	rows.Close()
	// One district's schools, for the district user.
	d0 := districts[0]
	var mine []string
	for i, d := range districts {
		if d == d0 {
			mine = append(mine, schools[i])
		}
	}
	// API tokens for an admin (the whole warehouse) and a district user (its own database).
	token := func(name string, u auth.User) (string, error) {
		u.Name = name
		if err := accounts.AddUser(ctx, u, auth.GeneratePassword()); err != nil && !errors.Is(err, auth.ErrUserExists) {
			return "", err
		}
		_, t, err := accounts.AddToken(ctx, name)
		return t, err
	}
	adminTok, err := token("bench-admin", auth.User{Role: auth.RoleAdmin})
	if err != nil {
		return err
	}
	districtTok, err := token("bench-district", auth.User{Role: auth.RoleDistrict, District: d0})
	if err != nil {
		return err
	}
	const clients, perClient = 16, 40
	// Keep-alive connections for every client, as browsers have: Go's default keeps only 2
	// idle connections per host, and the churn would be measured instead of the server.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	// The district user's database is built on its first request; that cost is paid once
	// per refresh and reported on its own.
	t0 := time.Now()
	if err := benchGet(client, ts.URL+"/schools", districtTok); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "district database for %s built on first request: %.0f ms\n", d0, ms(time.Since(t0)))
	type run struct {
		name  string
		tok   string
		url   func(i int) string
		body  string
		limit float64
	}
	sqlText := `{"sql": "SELECT district, count(*) AS schools, sum(shortfall) AS shortfall FROM school_gate GROUP BY district"}`
	sqlTeachers := `{"sql": "SELECT school_code, count(*) FILTER (WHERE complete) AS done, count(*) AS teachers FROM teacher_progress GROUP BY ALL ORDER BY 1"}`
	var p99 = map[string]float64{}
	for _, page := range []run{
		{"学校进度 /schools?district= (admin)", adminTok, func(i int) string {
			return ts.URL + "/schools?district=" + url.QueryEscape(districts[i%len(districts)])
		}, "", 100},
		{"学校进度 /schools (district user)", districtTok, func(i int) string { return ts.URL + "/schools" }, "", 100},
		{"学校详情 /schools/{code} (admin)", adminTok, func(i int) string { return ts.URL + "/schools/" + schools[(i*7919)%len(schools)] }, "", 100},
		{"学校详情 /schools/{code} (district user)", districtTok, func(i int) string { return ts.URL + "/schools/" + mine[(i*7919)%len(mine)] }, "", 100},
		{"SQL group by district (admin)", adminTok, func(int) string { return ts.URL + "/api/sql" }, sqlText, 0},
		{"SQL group by district (district user)", districtTok, func(int) string { return ts.URL + "/api/sql" }, sqlText, 0},
		{"SQL teachers by school (admin)", adminTok, func(int) string { return ts.URL + "/api/sql" }, sqlTeachers, 0},
		{"SQL teachers by school (district user)", districtTok, func(int) string { return ts.URL + "/api/sql" }, sqlTeachers, 0},
	} {
		// ad-hoc SQL runs one query per user at a time (a second is answered 429), so it is
		// measured with one client per user
		clients, perClient := clients, perClient
		if page.body != "" {
			clients, perClient = 1, 300
		}
		lat := make([]time.Duration, 0, clients*perClient)
		var mu sync.Mutex
		var wg sync.WaitGroup
		failed := 0
		start := time.Now()
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				for k := 0; k < perClient; k++ {
					var req *http.Request
					if page.body != "" {
						req, _ = http.NewRequest(http.MethodPost, page.url(c*perClient+k), strings.NewReader(page.body))
						req.Header.Set("Content-Type", "application/json")
					} else {
						req, _ = http.NewRequest(http.MethodGet, page.url(c*perClient+k), nil)
					}
					req.Header.Set("Authorization", "Bearer "+page.tok)
					t0 := time.Now()
					resp, err := client.Do(req)
					if resp != nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					d := time.Since(t0)
					ok := err == nil && resp.StatusCode == 200
					mu.Lock()
					lat = append(lat, d)
					if !ok {
						failed++
					}
					mu.Unlock()
				}
			}(c)
		}
		wg.Wait()
		total := time.Since(start)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		p99[page.name] = ms(lat[len(lat)*99/100])
		target := ""
		if page.limit > 0 {
			target = fmt.Sprintf(" (target p99 < %.0f ms)", page.limit)
		}
		fmt.Fprintf(stdout, "%-44s %2d clients × %d: p50 %5.1f ms, p99 %5.1f ms, %4.0f req/s, %d failed%s\n",
			page.name, clients, perClient, ms(lat[len(lat)/2]), p99[page.name], float64(len(lat))/total.Seconds(), failed, target)
	}
	for _, pair := range [][2]string{
		{"学校进度 /schools (district user)", "学校进度 /schools?district= (admin)"},
		{"学校详情 /schools/{code} (district user)", "学校详情 /schools/{code} (admin)"},
		{"SQL group by district (district user)", "SQL group by district (admin)"},
		{"SQL teachers by school (district user)", "SQL teachers by school (admin)"},
	} {
		fmt.Fprintf(stdout, "scoping cost, p99 %s / %s: %.2fx\n", pair[0], pair[1], p99[pair[0]]/p99[pair[1]])
	}
	return nil
}

func benchGet(c *http.Client, u, tok string) error {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func countRows(ctx context.Context, db, table string) int64 {
	c, err := duckdb.NewConnector(db+"?access_mode=READ_ONLY&"+noExtensions, nil)
	if err != nil {
		return -1
	}
	defer c.Close()
	d := sql.OpenDB(c)
	defer d.Close()
	var n int64
	d.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n)
	return n
}

// runBenchStep is the child side of a measured step.
func runBenchStep(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) < 3 {
		return errors.New("bench-step: STEP DIR FILE")
	}
	step, dir, file := args[0], args[1], args[2]
	defer writeHWM()
	switch step {
	case "readcsv":
		db := filepath.Join(dir, "readcsv.duckdb")
		os.Remove(db)
		os.Remove(db + ".wal")
		c, err := duckdb.NewConnector(db+"?"+noExtensions, nil)
		if err != nil {
			return err
		}
		d := sql.OpenDB(c)
		defer d.Close()
		_, err = d.ExecContext(ctx, "CREATE TABLE t AS SELECT * FROM read_csv('"+file+"')")
		return err
	case "ingest":
		db := filepath.Join(dir, "ingest.duckdb")
		if err := copyFile(filepath.Join(dir, "template.duckdb"), db); err != nil {
			return err
		}
		os.Remove(db + ".wal")
		wh, l, err := openLoader(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			return err
		}
		defer wh.Close()
		r := l.LoadFile(ctx, file, ingest.Options{})
		if r.Status != ingest.StatusLoaded || r.Rejected != 0 {
			return fmt.Errorf("bench ingest: %s, %d rejected: %s", r.Status, r.Rejected, r.Error)
		}
		return nil
	case "refresh", "refresh-full":
		wh, err := warehouse.Open(ctx, file)
		if err != nil {
			return err
		}
		defer wh.Close()
		p, err := models.LoadProfile("national")
		if err != nil {
			return err
		}
		refresh := models.Refresh
		if step == "refresh-full" {
			refresh = models.RefreshFull
		}
		rep, err := refresh(ctx, wh, p)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(rep)
	case "clone-month", "drop-month":
		// Editing steps for measuring by hand: copy June 2025's files forward K months, or
		// remove the files of month YYYY-MM.
		if len(args) < 4 {
			return fmt.Errorf("bench-step %s DIR FILE ARG", step)
		}
		wh, err := warehouse.Open(ctx, file)
		if err != nil {
			return err
		}
		defer wh.Close()
		if step == "drop-month" {
			err = dropMonth(ctx, wh, args[3])
		} else {
			var k int
			if k, err = strconv.Atoi(args[3]); err == nil {
				err = cloneMonths(ctx, wh, k, k)
			}
		}
		if err == nil {
			_, err = wh.DB.ExecContext(ctx, "CHECKPOINT")
		}
		return err
	case "bare":
		// One model's SELECT, run by DuckDB alone over the tables the refresh left.
		cat, err := models.Builtin()
		if err != nil {
			return err
		}
		ms := cat.Models
		c, err := duckdb.NewConnector(file+"?access_mode=READ_ONLY&"+noExtensions, nil)
		if err != nil {
			return err
		}
		d := sql.OpenDB(c)
		defer d.Close()
		for _, m := range ms {
			if m.Name == args[3] {
				var n int64
				return d.QueryRowContext(ctx, "SELECT count(*) FROM ("+m.SQL+")").Scan(&n)
			}
		}
		return fmt.Errorf("no model %s", args[3])
	case "monthly":
		wh, _, rp, err := openReports(ctx, file)
		if err != nil {
			return err
		}
		defer wh.Close()
		wb, err := rp.Monthly(ctx, queries.Params{})
		if err != nil {
			return err
		}
		return wb.Write(io.Discard)
	case "excelize":
		f, err := excelize.OpenFile(file)
		if err != nil {
			return err
		}
		defer f.Close()
		rows, err := f.Rows(f.GetSheetName(0))
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			if _, err := rows.Columns(); err != nil {
				return err
			}
			n++
		}
		return rows.Close()
	case "xlsxstream":
		wb, err := xlsxstream.Open(file)
		if err != nil {
			return err
		}
		defer wb.Close()
		rows, err := wb.Rows(0)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		return rows.Err()
	}
	return fmt.Errorf("bench-step: unknown step %s", step)
}

// copyFile copies src to dst and syncs it: a measured step that follows should not pay for
// writing back the copy's pages (a 1.3 GB warehouse takes seconds).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// makeBenchFiles writes the hours files (once per size) and a template warehouse holding the
// schools they name.
func makeBenchFiles(dir string, rows, xrows int) (benchFiles, error) {
	bf := benchFiles{dir: dir,
		schools: filepath.Join(dir, "schools_2025-06-30.csv"),
		csv:     filepath.Join(dir, fmt.Sprintf("hours_%d_2025-06-30.csv", rows)),
		gbk:     filepath.Join(dir, fmt.Sprintf("hours_%d_gbk_2025-06-30.csv", rows)),
		xlsx:    filepath.Join(dir, fmt.Sprintf("hours_%d_2025-06-30.xlsx", xrows)),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return bf, err
	}
	const schools = 200
	if err := writeIfMissing(bf.schools, func(w io.Writer) error {
		fmt.Fprintln(w, "学校代码,学校名称,所属区县")
		for i := 0; i < schools; i++ {
			fmt.Fprintf(w, "36%08d,第%d学校,第%d区\n", i, i, i%10)
		}
		return nil
	}); err != nil {
		return bf, err
	}
	row := func(i int) []string {
		t := i / 30 // 30 activities a teacher
		id := ingest.CompleteID(fmt.Sprintf("360102%s%03d", time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, t/1000).Format("20060102"), t%1000))
		labels := []string{"网络研修", "校本研修", "研课磨课", "展示分享"}
		return []string{fmt.Sprintf("教师%d", t), id, fmt.Sprintf("第%d学校", t%schools), labels[i%4],
			"活动" + strconv.Itoa(i%30), []string{"2", "2.5", "1.5学时", "3"}[i%4], fmt.Sprintf("2025-%02d-%02d", 3+i%4, 1+i%28)}
	}
	header := []string{"姓名", "身份证号", "学校名称", "研修类型", "活动名称", "获得学时", "完成日期"}
	csvBody := func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		fmt.Fprintln(bw, strings.Join(header, ","))
		for i := 0; i < rows; i++ {
			fmt.Fprintln(bw, strings.Join(row(i), ","))
		}
		return bw.Flush()
	}
	if err := writeIfMissing(bf.csv, csvBody); err != nil {
		return bf, err
	}
	if err := writeIfMissing(bf.gbk, func(w io.Writer) error {
		tw := transform.NewWriter(w, simplifiedchinese.GBK.NewEncoder())
		if err := csvBody(tw); err != nil {
			return err
		}
		return tw.Close()
	}); err != nil {
		return bf, err
	}
	if _, err := os.Stat(bf.xlsx); err != nil {
		f := excelize.NewFile()
		sw, err := f.NewStreamWriter("Sheet1")
		if err != nil {
			return bf, err
		}
		sw.SetRow("A1", toAnyRow(header))
		for i := 0; i < xrows; i++ {
			cell, _ := excelize.CoordinatesToCellName(1, i+2)
			r := toAnyRow(row(i))
			if h, err := strconv.ParseFloat(r[5].(string), 64); err == nil {
				r[5] = h // numbers as numbers, as platforms write them
			}
			if err := sw.SetRow(cell, r); err != nil {
				return bf, err
			}
		}
		if err := sw.Flush(); err != nil {
			return bf, err
		}
		if err := f.SaveAs(bf.xlsx); err != nil {
			return bf, err
		}
	}
	tmpl := filepath.Join(dir, "template.duckdb")
	os.Remove(tmpl)
	os.Remove(tmpl + ".wal")
	os.Setenv(ingest.KeyEnv, benchKey)
	ctx := context.Background()
	wh, err := warehouse.Open(ctx, tmpl)
	if err != nil {
		return bf, err
	}
	defer wh.Close()
	l, err := ingest.NewLoader(ctx, wh, benchKeyBytes(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return bf, err
	}
	if r := l.LoadFile(ctx, bf.schools, ingest.Options{}); r.Status != ingest.StatusLoaded {
		return bf, errors.New(r.Error)
	}
	_, err = wh.DB.Exec("CHECKPOINT")
	return bf, err
}

// benchKeyBytes is the HMAC key the benchmark's warehouses are loaded with.
func benchKeyBytes() []byte {
	b, err := hex.DecodeString(benchKey)
	if err != nil {
		panic(err) // a constant
	}
	return b
}

func writeIfMissing(path string, fill func(io.Writer) error) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

func toAnyRow(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// noExtensions keeps the bench's own connectors from installing or loading extensions, as
// the warehouse's do.
const noExtensions = "autoinstall_known_extensions=false&autoload_known_extensions=false"
