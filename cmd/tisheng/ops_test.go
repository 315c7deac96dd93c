package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tisheng/ingest"
	"tisheng/internal/testkit"
	"tisheng/internal/warehouse"
	"tisheng/models"
)

// figuresOf reads a warehouse file's tables and the figures a leader signs.
func figuresOf(t *testing.T, db string) map[string]string {
	t.Helper()
	wh, err := warehouse.OpenReadOnly(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	return testkit.Figures(t, wh.DB)
}

// TestBackupAndRestoreCommands walks what the operator's guide tells an office to do: a
// backup of a warehouse no server holds, a check of it, a restore; a corrupted backup and
// a warehouse a server holds are refused, naming what is wrong.
func TestBackupAndRestoreCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "w.duckdb")
	loadDemo(t, db)
	want := figuresOf(t, db)
	backups := filepath.Join(dir, "backups")

	out, err := tisheng("backup", "--db", db, "--out", backups).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "备份完成并通过校验") {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	list, err := warehouse.ListBackups(backups)
	if err != nil || len(list) != 1 || list[0].Status != warehouse.StatusVerified || !strings.Contains(string(out), list[0].Path) {
		t.Fatalf("backups listed: %+v %v\n%s", list, err, out)
	}
	good := list[0].Path
	if out, err := tisheng("restore", "--from", good, "--check").CombinedOutput(); err != nil || !strings.Contains(string(out), "备份完好") {
		t.Fatalf("check: %v\n%s", err, out)
	}

	// one flipped byte in the copy of the warehouse: refused, and nothing is written
	bad := filepath.Join(dir, "bad")
	if err := os.CopyFS(bad, os.DirFS(good)); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(bad, "w.duckdb")
	b, _ := os.ReadFile(f)
	b[len(b)/2] ^= 0x01
	os.WriteFile(f, b, 0o600)
	target := filepath.Join(dir, "restored", "w.duckdb")
	for _, args := range [][]string{{"restore", "--from", bad, "--check"}, {"restore", "--from", bad, "--db", target}} {
		out, err := tisheng(args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "w.duckdb") {
			t.Errorf("%v of a corrupted backup: %v\n%s", args, err, out)
		}
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Errorf("a refused restore left %s: %v", target, err)
	}

	// restored: the same figures, the key beside it, and it loads the next month
	out, err = tisheng("restore", "--from", good, "--db", target).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "逐表核对一致") {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	testkit.SameFigures(t, "restored", figuresOf(t, target), want)
	if out, err := tisheng("ingest", "--db", target, "../../testdata/demo/东湖区_学时明细_2025-06.csv").CombinedOutput(); err != nil || !strings.Contains(string(out), "已导入过") {
		t.Errorf("the restored warehouse does not know its own files (key?): %v\n%s", err, out)
	}

	// a warehouse a server holds: backed up by the server, restored only when it stops
	startServe(t, db)
	out, err = tisheng("backup", "--db", db, "--out", backups).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "立即备份") {
		t.Errorf("backup of a served warehouse: %v\n%s", err, out)
	}
	out, err = tisheng("restore", "--from", good, "--db", db).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "进程") {
		t.Errorf("restore over a served warehouse: %v\n%s", err, out)
	}
	if leftovers, _ := filepath.Glob(db + ".before-restore-*"); len(leftovers) > 0 {
		t.Errorf("a refused restore moved the served warehouse aside: %v", leftovers)
	}
}

// TestServeMetricsAddr: --metrics-addr serves the metrics alone, without login; the main
// listener still asks for an admin.
func TestServeMetricsAddr(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.duckdb")
	loadDemo(t, db)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	maddr := l.Addr().String()
	l.Close()
	batches := queryOne(t, db, `SELECT count(*) FROM batches`)
	addr := startServe(t, db, "--metrics-addr", maddr)
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + maddr + "/metrics")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Contains(body, []byte("\ntisheng_batches "+batches+"\n")) || !bytes.Contains(body, []byte("\ntisheng_models_outdated 0\n")) {
				t.Fatalf("metrics listener (%s batches): %d %s", batches, resp.StatusCode, body[bytes.Index(body, []byte("tisheng_")):])
			}
			break
		}
		if i == 100 {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// the metrics listener serves nothing else
	for _, p := range []string{"/", "/api/schools", "/healthz", "/sql"} {
		resp, err := http.Get("http://" + maddr + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("metrics listener %s: %d", p, resp.StatusCode)
		}
	}
	// a name not allowed (DNS rebinding) is refused there as on the main listener
	req, _ := http.NewRequest(http.MethodGet, "http://"+maddr+"/metrics", nil)
	req.Host = "evil.example"
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("metrics listener for Host evil.example: %d", resp.StatusCode)
		}
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("main listener without login: %d", resp.StatusCode)
	}
}

// countingReader tells when the whole body has been sent.
type countingReader struct {
	r    io.Reader
	done atomic.Bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		c.done.Store(true)
	}
	return n, err
}

// TestServeStopsCleanlyDuringAnUpload: SIGTERM while an upload is loading. With the
// default grace the upload finishes (loaded and refreshed) before the server exits; with
// none it is abandoned: its transaction rolls back, the server exits 0, nothing of the
// file is in the warehouse and no upload file is left, and the file loads when sent again.
func TestServeStopsCleanlyDuringAnUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("generates an export of 12,000 teachers")
	}
	schools, hours := genExports(t, t.TempDir(), 12000, 5)
	content, err := os.ReadFile(hours)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		grace    string
		finishes bool
	}{
		{"finishes within the grace", "", true},
		{"abandoned without grace", "1ms", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "w.duckdb")
			if out, err := tisheng("ingest", "--db", db, schools).CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			client := adminClient(t, db)
			flags := []string{}
			if c.grace != "" {
				flags = append(flags, "--shutdown-grace", c.grace)
			}
			srv, addr := startServeCmd(t, db, flags...)
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			w, _ := mw.CreateFormFile("files", filepath.Base(hours))
			w.Write(content)
			mw.Close()
			body := &countingReader{r: &buf}
			type answer struct {
				code int
				body string
				err  error
			}
			got := make(chan answer, 1)
			go func() {
				resp, err := client.Post("http://"+addr+"/api/ingest", mw.FormDataContentType(), body)
				if err != nil {
					got <- answer{err: err}
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got <- answer{code: resp.StatusCode, body: string(b)}
			}()
			for !body.done.Load() {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond) // the server is loading the file now
			if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- srv.Wait() }()
			var exitErr error
			select {
			case exitErr = <-exited:
			case <-time.After(90 * time.Second):
				t.Fatal("the server did not stop within 90 s of SIGTERM")
			}
			if exitErr != nil {
				t.Errorf("the server's exit: %v", exitErr)
			}
			a := <-got
			var res struct {
				Files []struct {
					Status string `json:"status"`
				} `json:"files"`
				Refreshed bool `json:"refreshed"`
			}
			json.Unmarshal([]byte(a.body), &res)
			loaded := queryOne(t, db, `SELECT count(*) FROM batches WHERE kind = 'hours'`)
			if c.finishes {
				if a.err != nil || a.code != 200 || len(res.Files) != 1 || res.Files[0].Status != "loaded" || !res.Refreshed {
					t.Fatalf("the upload under way when the server was told to stop: %v %d %s", a.err, a.code, a.body)
				}
				if loaded != "1" {
					t.Errorf("hours batches after the finished upload: %s", loaded)
				}
				wh, err := warehouse.OpenReadOnly(context.Background(), db)
				if err != nil {
					t.Fatal(err)
				}
				outdated, err := models.Outdated(context.Background(), wh.DB)
				wh.Close()
				if err != nil || outdated {
					t.Errorf("figures outdated after an upload finished during the stop: %v %v", outdated, err)
				}
			} else {
				if a.err == nil && a.code == 200 && len(res.Files) == 1 && res.Files[0].Status == "loaded" {
					t.Skip("the upload finished before the stop reached it; nothing to check")
				}
				if loaded != "0" {
					t.Errorf("an abandoned upload left %s hours batches (answer %v %d %s)", loaded, a.err, a.code, a.body)
				}
				if n := queryOne(t, db, `SELECT count(*) FROM raw_hours`); n != "0" {
					t.Errorf("an abandoned upload left %s rows", n)
				}
				out, err := tisheng("ingest", "--db", db, hours).CombinedOutput()
				if err != nil || strings.Contains(string(out), "已导入过") {
					t.Errorf("the abandoned file sent again: %v\n%s", err, out)
				}
			}
			if left, _ := os.ReadDir(db + ".uploads"); len(left) > 0 {
				t.Errorf("upload files left behind: %v", left)
			}
		})
	}
}

// TestLostKeyIsNotReplaced: a loaded warehouse whose key file is gone gets no new key
// (one would match none of its teachers and hide the loss); every command that needs
// the key says, in Chinese, where it belongs and to take it from a backup.
func TestLostKeyIsNotReplaced(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "w.duckdb")
	loadDemo(t, db) // with the tests' key in the environment
	key := []byte(strings.Repeat("07", 32) + "\n")
	// these commands find the key where a district keeps it: in the file beside
	noEnv := func(args ...string) *exec.Cmd {
		cmd := tisheng(args...)
		cmd.Env = slices.DeleteFunc(cmd.Env, func(v string) bool { return strings.HasPrefix(v, ingest.KeyEnv+"=") })
		return cmd
	}
	for _, args := range [][]string{
		{"serve", "--db", db, "--addr", "127.0.0.1:0"},
		{"ingest", "--db", db, "../../testdata/demo/东湖区_学时明细_2025-06.csv"},
	} {
		out, err := noEnv(args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "找不到仓库") || !strings.Contains(string(out), "从备份中取回密钥文件") {
			t.Errorf("%s without its key: %v\n%s", args[0], err, out)
		}
		if _, err := os.Stat(db + ".key"); !os.IsNotExist(err) {
			t.Fatalf("%s made a new key file", args[0])
		}
	}
	// another key: refused in Chinese, and it is not overwritten
	other := bytes.Repeat([]byte("ab"), 32)
	os.WriteFile(db+".key", append(other, '\n'), 0o600)
	out, err := noEnv("ingest", "--db", db, "../../testdata/demo/东湖区_学时明细_2025-06.csv").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "不是这个仓库导入数据时所用的密钥") {
		t.Errorf("refresh with another key: %v\n%s", err, out)
	}
	// the key put back: all is well
	os.WriteFile(db+".key", key, 0o600)
	if out, err := noEnv("ingest", "--db", db, "../../testdata/demo/东湖区_学时明细_2025-06.csv").CombinedOutput(); err != nil || !strings.Contains(string(out), "已导入过") {
		t.Errorf("ingest with its key back: %v\n%s", err, out)
	}
}

// slowReader sends its bytes a chunk at a time, as a slow client does.
type slowReader struct {
	r     io.Reader
	chunk int
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	if len(p) > s.chunk {
		p = p[:s.chunk]
	}
	return s.r.Read(p)
}

// TestServeStopsWhileAnUploadArrives: SIGTERM while a slow client is still sending its
// upload: the server does not wait for the client beyond its grace; it closes the
// connection, exits 0, and nothing of the upload stays (its file is swept).
func TestServeStopsWhileAnUploadArrives(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.duckdb")
	loadDemo(t, db)
	client := adminClient(t, db)
	srv, addr := startServeCmd(t, db, "--shutdown-grace", "1s")
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile("files", "h_2025-07-31.csv")
	w.Write([]byte("姓名,身份证号,学校名称,研修类型,学时\n"))
	w.Write(bytes.Repeat([]byte("某,360199********0000,某校,网络研修,1\n"), 200000)) // ~9 MB
	mw.Close()
	body := &slowReader{r: &buf, chunk: 64 << 10, pause: 100 * time.Millisecond} // 640 KB/s: 15 s to send
	go func() {
		resp, err := client.Post("http://"+addr+"/api/ingest", mw.FormDataContentType(), body)
		if err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(2 * time.Second)
	start := time.Now()
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit: %v", err)
		}
		t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("the server waited for the slow client: not stopped 20 s after SIGTERM (grace 1 s)")
	}
	if n := queryOne(t, db, `SELECT count(*) FROM batches WHERE kind = 'hours' AND file_name = 'h_2025-07-31.csv'`); n != "0" {
		t.Errorf("the upload cut off by the stop was loaded: %s", n)
	}
}
