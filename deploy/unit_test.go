//go:build linux

package deploy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// What the unit promises an office, as the guide (docs/运维手册.md) describes it.
const (
	unitName  = "tisheng.service"
	dropIn    = "https.conf"
	envFile   = "tisheng.env.example"
	binPath   = "/usr/local/bin/tisheng" // where the guide installs the binary
	dataDir   = "/var/lib/tisheng"       // the only writable path
	configDir = "/etc/tisheng"           // certificates and the environment file, read-only
	tlsHost   = "tisheng.example.cn"     // the drop-in's example name
)

// unit is a unit file read as systemd reads it, with its drop-ins applied: per section, each
// key's values in order; an empty assignment clears the values before it (ExecStart=).
type unit map[string]map[string][]string

// listKeys are the settings whose values are lists separated by spaces.
var listKeys = map[string]bool{"ReadWritePaths": true, "CapabilityBoundingSet": true, "AmbientCapabilities": true, "RestartPreventExitStatus": true}

// readUnit reads files in order (the unit, then its drop-ins). Lines ending in a backslash
// continue on the next, joined by a space, as systemd joins them.
func readUnit(t *testing.T, files ...string) unit {
	t.Helper()
	u := unit{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		section := ""
		var cont strings.Builder
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if cont.Len() == 0 && (line == "" || line[0] == '#' || line[0] == ';') {
				continue
			}
			if s, ok := strings.CutSuffix(line, `\`); ok {
				cont.WriteString(s + " ")
				continue
			}
			if cont.Len() > 0 {
				line = cont.String() + line
				cont.Reset()
			}
			if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
				section = line[1 : len(line)-1]
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", f, n, line)
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
			if v == "" {
				u[section][k] = []string{}
				continue
			}
			if listKeys[k] {
				u[section][k] = append(u[section][k], strings.Fields(v)...)
				continue
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// get is a key's effective value: its last assignment.
func (u unit) get(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// execStart splits the one ExecStart command line into words. It reads double quotes only,
// and refuses what systemd would read differently from a shell ($ and % expansion, single
// quotes, backslash escapes): keep the example's command line within that.
func (u unit) execStart(t *testing.T) []string {
	t.Helper()
	vs := u["Service"]["ExecStart"]
	if len(vs) != 1 {
		t.Fatalf("want one ExecStart, have %d: %q", len(vs), vs)
	}
	line := vs[0]
	if i := strings.IndexAny(line, `$%'\`); i >= 0 {
		t.Fatalf("ExecStart uses %q, which this test does not read as systemd does: %s", line[i], line)
	}
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("ExecStart has an unclosed quote: %s", line)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// flagValues maps each --flag of a command line to its value (every flag of serve in the
// examples takes one).
func flagValues(t *testing.T, args []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			t.Fatalf("ExecStart: %q is not a --flag (the arguments after serve are flags with values)", a)
		}
		if k, v, ok := strings.Cut(a, "="); ok {
			m[k] = v
			continue
		}
		if i+1 == len(args) {
			t.Fatalf("ExecStart: %s has no value", a)
		}
		m[a] = args[i+1]
		i++
	}
	return m
}

// timeSpan reads a systemd time span as the examples write them: "120", "90s", "2min", "5s".
func timeSpan(t *testing.T, s string) time.Duration {
	t.Helper()
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(strings.Replace(s, "min", "m", 1))
	if err != nil {
		t.Fatalf("time span %q: %v", s, err)
	}
	return d
}

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// tisheng builds the real binary from this tree, once for the package's tests.
func tisheng(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "tisheng-deploy-"); binErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-tags", "duckdb_arrow", "-o", filepath.Join(binDir, "tisheng"), "../cmd/tisheng")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ../cmd/tisheng: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "tisheng")
}

// serveHelp is `tisheng serve -h` of the real binary.
func serveHelp(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(tisheng(t), "serve", "-h").CombinedOutput()
	if err != nil {
		t.Fatalf("tisheng serve -h: %v\n%s", err, out)
	}
	return string(out)
}

// The two command lines the office may run: the unit, and the unit with the HTTPS drop-in.
type variant struct {
	name  string
	files []string
}

var variants = []variant{{"unit", []string{unitName}}, {"https", []string{unitName, dropIn}}}

// TestUnitSettings checks what an office relies on, in the files as shipped.
func TestUnitSettings(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			u := readUnit(t, v.files...)
			user := u.get("Service", "User")
			if user == "" || user == "root" || user == "0" {
				t.Errorf("User=%q: the service must run as its own unprivileged user", user)
			}
			if d := u.get("Service", "DynamicUser"); d != "" && d != "no" {
				t.Errorf("DynamicUser=%s: the warehouse and key files must keep one owner across restarts and for the tisheng commands run by hand", d)
			}
			if s := u.get("Service", "StateDirectory"); s != filepath.Base(dataDir) {
				t.Errorf("StateDirectory=%q, want %q (%s)", s, filepath.Base(dataDir), dataDir)
			}
			if rw := u["Service"]["ReadWritePaths"]; !slices.Equal(rw, []string{dataDir}) {
				t.Errorf("ReadWritePaths=%q, want only the data folder %s", rw, dataDir)
			}
			if w := u.get("Service", "WorkingDirectory"); w != dataDir {
				t.Errorf("WorkingDirectory=%q, want %s", w, dataDir)
			}
			for k, want := range map[string]string{
				"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
				"UMask": "0077", "Restart": "on-failure", "KillSignal": "SIGTERM",
				"EnvironmentFile": "-" + configDir + "/tisheng.env", "MemoryDenyWriteExecute": "yes",
			} {
				if got := u.get("Service", k); got != want {
					t.Errorf("%s=%q, want %q", k, got, want)
				}
			}
			// a wrong flag (status 2) fails the same way at every start
			if !slices.Contains(u["Service"]["RestartPreventExitStatus"], "2") {
				t.Errorf("RestartPreventExitStatus=%q: a command line tisheng refuses (status 2) would be restarted in vain", u["Service"]["RestartPreventExitStatus"])
			}
			caps := u["Service"]["CapabilityBoundingSet"]
			ambient := u["Service"]["AmbientCapabilities"]
			want := []string{}
			if v.name == "https" {
				want = []string{"CAP_NET_BIND_SERVICE"} // port 443, and nothing more
			}
			if !slices.Equal(caps, want) || !slices.Equal(ambient, want) {
				t.Errorf("CapabilityBoundingSet=%q AmbientCapabilities=%q, want %q", caps, ambient, want)
			}
			args := u.execStart(t)
			if args[0] != binPath || len(args) < 2 || args[1] != "serve" {
				t.Fatalf("ExecStart=%q, want %s serve …", args, binPath)
			}
			flags := flagValues(t, args[2:])
			// what the server writes (the warehouse, its key, uploads, spill files beside it,
			// backups) lies in the data folder; what it only reads lies in /etc/tisheng
			for _, f := range []string{"--db", "--backup-dir"} {
				if p := flags[f]; !strings.HasPrefix(p, dataDir+"/") {
					t.Errorf("%s %q is outside the data folder %s, the only writable path", f, p, dataDir)
				}
			}
			for _, f := range []string{"--tls-cert", "--tls-key"} {
				if p, ok := flags[f]; ok && !strings.HasPrefix(p, configDir+"/") {
					t.Errorf("%s %q is outside %s", f, p, configDir)
				}
			}
			if flags["--backup-at"] == "" || flags["--metrics-addr"] == "" {
				t.Errorf("ExecStart has no scheduled backup or metrics address: %q", args)
			}
			if v.name == "https" && (flags["--tls-cert"] == "" || flags["--tls-key"] == "" || flags["--allowed-hosts"] != tlsHost) {
				t.Errorf("the HTTPS drop-in's ExecStart lacks --tls-cert, --tls-key or --allowed-hosts %s: %q", tlsHost, args)
			}
		})
	}
}

// TestUnitFlags checks every flag of each ExecStart against the real binary: serve -h
// lists it, the binary parses the whole command line, and the unit gives a stopping server
// more time than serve's own grace.
func TestUnitFlags(t *testing.T) {
	help := serveHelp(t)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			u := readUnit(t, v.files...)
			args := u.execStart(t)
			flags := flagValues(t, args[2:])
			for f := range flags {
				if !strings.Contains(help, "\n  "+f+" ") && !strings.Contains(help, "\n  "+f+"\n") {
					t.Errorf("tisheng serve -h does not list %s", f)
				}
			}
			// -h after the unit's flags: the binary parses each (an unknown flag or a value
			// of the wrong type fails with status 2) and stops before serving
			cmd := exec.Command(tisheng(t), append(slices.Clone(args[1:]), "-h")...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("tisheng %s -h: %v\n%s", strings.Join(args[1:], " "), err, out)
			}
			grace := flags["--shutdown-grace"]
			if grace == "" {
				m := regexp.MustCompile(`--shutdown-grace \S+\n\s+.*（默认 (\S+)）`).FindStringSubmatch(help)
				if m == nil {
					t.Fatalf("tisheng serve -h gives no default for --shutdown-grace:\n%s", help)
				}
				grace = m[1]
			}
			g, err := time.ParseDuration(grace)
			if err != nil {
				t.Fatalf("--shutdown-grace %q: %v", grace, err)
			}
			if stop := timeSpan(t, u.get("Service", "TimeoutStopSec")); stop < g+30*time.Second {
				t.Errorf("TimeoutStopSec=%v leaves less than 30 s beyond --shutdown-grace %v: systemd would kill a server still closing the warehouse", stop, g)
			}
		})
	}
}

// TestEnvExample checks that the environment file names only variables the binary reads,
// as systemd's EnvironmentFile= reads them.
func TestEnvExample(t *testing.T) {
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(tisheng(t))
	if err != nil {
		t.Fatal(err)
	}
	names := 0
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		// a commented-out setting is what the office fills in: its name is checked too
		k, _, ok := strings.Cut(strings.TrimPrefix(line, "#"), "=")
		switch {
		case ok && envName.MatchString(k):
			names++
			if !bytes.Contains(bin, []byte(k)) {
				t.Errorf("%s:%d: the binary never reads %s", envFile, i+1, k)
			}
		case line != "" && !strings.HasPrefix(line, "#"):
			t.Errorf("%s:%d: neither a comment nor TISHENG_NAME=value: %q", envFile, i+1, line)
		}
	}
	if names == 0 {
		t.Errorf("%s names no variable", envFile)
	}
}

var envName = regexp.MustCompile(`^TISHENG_[A-Z_]+$`)

// TestUnitRuns runs each ExecStart as systemd would (its working directory, umask 077),
// with the data folder and addresses moved into the test's own, and stops it with the
// unit's KillSignal: the server must answer, keep its files private, and end with status 0
// (a clean stop that Restart=on-failure leaves stopped) within TimeoutStopSec.
func TestUnitRuns(t *testing.T) {
	bin := tisheng(t)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			u := readUnit(t, v.files...)
			args := u.execStart(t)[1:]
			data := filepath.Join(t.TempDir(), "data")
			conf := t.TempDir()
			addr, metricsAddr := freeAddr(t), freeAddr(t)
			var pool *x509.CertPool
			if v.name == "https" {
				pool = writeCert(t, filepath.Join(conf, "tls", "tisheng.crt"), filepath.Join(conf, "tls", "tisheng.key"))
			}
			flags := flagValues(t, args[1:])
			for i, a := range args {
				switch {
				case i > 0 && args[i-1] == "--addr":
					args[i] = addr
				case i > 0 && args[i-1] == "--metrics-addr":
					args[i] = metricsAddr
				case strings.HasPrefix(a, dataDir+"/"):
					args[i] = data + strings.TrimPrefix(a, dataDir)
				case strings.HasPrefix(a, configDir+"/"):
					args[i] = conf + strings.TrimPrefix(a, configDir)
				}
			}
			// StateDirectory= makes the data folder (0700) before the start
			if err := os.Mkdir(data, 0o700); err != nil {
				t.Fatal(err)
			}
			var out syncBuffer
			cmd := exec.Command(bin, args...)
			cmd.Dir = data // WorkingDirectory=
			cmd.Stdout, cmd.Stderr = &out, &out
			old := syscall.Umask(0o077) // UMask=0077, around the start only: the child keeps it
			err := cmd.Start()
			syscall.Umask(old)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			defer func() {
				if cmd.ProcessState == nil {
					cmd.Process.Kill()
					<-done
				}
				if t.Failed() {
					t.Logf("server output:\n%s", out.String())
				}
			}()

			base, client := "http://"+addr, &http.Client{Timeout: 10 * time.Second}
			if pool != nil {
				// the name the certificate and --allowed-hosts give, dialled at the test's port
				_, port, _ := net.SplitHostPort(addr)
				base = "https://" + net.JoinHostPort(tlsHost, port)
				client.Transport = &http.Transport{
					TLSClientConfig: &tls.Config{RootCAs: pool},
					DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
						var d net.Dialer
						return d.DialContext(ctx, network, addr)
					},
				}
			}
			waitHealthy(t, client, base+"/healthz", done)

			// the main port answers /metrics to an admin only; the metrics address to anyone
			// who can reach it (the unit keeps it on loopback)
			if code, _ := fetch(t, client, base+"/metrics"); code != http.StatusUnauthorized {
				t.Errorf("GET %s/metrics without login: %d, want 401", base, code)
			}
			code, body := fetch(t, &http.Client{Timeout: 10 * time.Second}, "http://"+metricsAddr+"/metrics")
			if code != http.StatusOK || !strings.Contains(body, "tisheng_backup_last_success_timestamp_seconds") {
				t.Errorf("GET %s/metrics: %d, without tisheng_backup_last_success_timestamp_seconds:\n%.500s", metricsAddr, code, body)
			}
			if h, ok := flags["--metrics-addr"]; ok {
				if host, _, _ := net.SplitHostPort(h); host != "127.0.0.1" && host != "::1" && host != "localhost" {
					t.Errorf("--metrics-addr %s answers without login beyond this machine", h)
				}
			}

			// the warehouse, its key and the backup folder are in the data folder, private
			for _, f := range []string{"tisheng.duckdb", "tisheng.duckdb.key", "backups"} {
				st, err := os.Stat(filepath.Join(data, f))
				if err != nil {
					t.Errorf("after start: %v", err)
					continue
				}
				if st.Mode().Perm()&0o077 != 0 {
					t.Errorf("%s is %v: others may read it", f, st.Mode().Perm())
				}
			}

			sig := map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT}[u.get("Service", "KillSignal")]
			if sig == 0 {
				t.Fatalf("KillSignal=%s: not one the server stops on", u.get("Service", "KillSignal"))
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("after %v the server ended with %v, want status 0 (Restart=on-failure would start it again)", sig, err)
				}
			case <-time.After(timeSpan(t, u.get("Service", "TimeoutStopSec"))):
				t.Errorf("the server did not stop within TimeoutStopSec after %v", sig)
			}
		})
	}
}

// TestUnitVerifies runs systemd-analyze on the unit, alone and with the HTTPS drop-in
// beside it as tisheng.service.d/https.conf, with ExecStart's binary the real one built
// from this tree (verify refuses a command that is not an executable file).
func TestUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil && os.Getenv("CI") == "true" {
		t.Fatal("systemd-analyze is not on PATH: CI must install it (.ci/run installs Debian's systemd)")
	}
	if err != nil {
		t.Skip("systemd-analyze is not on PATH (no systemd here): the unit is not verified; TestUnitSettings, TestUnitFlags and TestUnitRuns still check it")
	}
	bin := tisheng(t)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			unitPath := filepath.Join(dir, unitName)
			copyRewritten(t, v.files[0], unitPath, bin)
			if len(v.files) > 1 {
				d := filepath.Join(dir, unitName+".d")
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
				copyRewritten(t, v.files[1], filepath.Join(d, v.files[1]), bin)
			}
			out, err := exec.Command(analyze, "verify", unitPath).CombinedOutput()
			var problems []string
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if line == "" {
					continue
				}
				// verify also loads the units ours names (network-online.target,
				// multi-user.target) from this machine; what it says of those is the
				// machine's, not the unit's. Everything else, a line naming our unit or
				// file or none, counts.
				if m := otherUnit.FindStringSubmatch(line); m != nil && m[1] != unitName {
					t.Logf("ignored, about another unit of this machine: %s", line)
					continue
				}
				problems = append(problems, line)
			}
			if err != nil || len(problems) > 0 {
				t.Errorf("systemd-analyze verify %s: %v\n%s", v.name, err, strings.Join(problems, "\n"))
			}

			// the exposure systemd works out from the hardening settings; 1.5 when written
			// ("OK" is below 3.0): a loosened unit fails here
			out, err = exec.Command(analyze, "security", "--offline=yes", unitPath).CombinedOutput()
			if err != nil && strings.Contains(string(out), "offline") {
				t.Logf("systemd-analyze security --offline is not supported here: %s", out)
				return
			}
			m := regexp.MustCompile(`Overall exposure level for ` + regexp.QuoteMeta(unitName) + `: ([0-9.]+)`).FindSubmatch(out)
			if m == nil {
				t.Fatalf("systemd-analyze security: %v\n%s", err, out)
			}
			if x, _ := strconv.ParseFloat(string(m[1]), 64); x > 2.0 {
				t.Errorf("exposure %.1f, want at most 2.0:\n%s", x, out)
			}
		})
	}
}

// otherUnit matches a line systemd-analyze starts with a unit's name ("foo.target: …").
var otherUnit = regexp.MustCompile(`^([A-Za-z0-9:_.\\@-]+\.(?:service|socket|target|device|mount|automount|swap|timer|path|slice|scope)):`)

// copyRewritten copies a unit file, its ExecStart binary replaced by bin.
func copyRewritten(t *testing.T, from, to, bin string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "ExecStart="+binPath+" ", "ExecStart="+bin+" ")
	if s == string(b) && bytes.Contains(b, []byte("ExecStart="+binPath)) {
		t.Fatalf("%s: ExecStart=%s not followed by a space", from, binPath)
	}
	if err := os.WriteFile(to, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitHealthy polls /healthz until it answers ok, the server ends, or a minute passes (a
// new warehouse is made and migrated first).
func waitHealthy(t *testing.T, c *http.Client, url string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case err := <-done:
			t.Fatalf("the server ended before answering %s: %v", url, err)
		default:
		}
		code, body := fetchQuiet(c, url)
		if code == http.StatusOK && body == "ok" {
			return
		}
		if code != 0 { // it answers, and refuses
			t.Fatalf("GET %s: %d %s", url, code, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer ok within a minute", url)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func fetch(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	code, body := fetchQuiet(c, url)
	if code == 0 {
		t.Fatalf("GET %s: %s", url, body)
	}
	return code, body
}

func fetchQuiet(c *http.Client, url string) (int, string) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// writeCert writes a self-signed certificate for tlsHost and its key, 0640 as the guide
// installs them, and returns a pool that trusts it.
func writeCert(t *testing.T, certFile, keyFile string) *x509.CertPool {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(certFile), 0o750); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: tlsHost}, DNSNames: []string{tlsHost},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o640); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// syncBuffer collects the server's output from its two pipes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
