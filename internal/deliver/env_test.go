package deliver_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/xuri/excelize/v2"

	"tisheng/ingest"
	"tisheng/internal/auth"
	"tisheng/internal/deliver"
	"tisheng/internal/server"
	"tisheng/internal/testkit"
	"tisheng/internal/warehouse"
)

// The demo warehouse is built once per test binary and copied for each test: a build loads
// and refreshes the demo city (seconds), a copy is a file.
var (
	demoOnce sync.Once
	demoFile string
	demoErr  error
)

var testKey = bytes.Repeat([]byte{5}, 32) // testkit.Demo's

func demoCopy(t *testing.T) string {
	t.Helper()
	demoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tisheng-deliver-demo-")
		if err != nil {
			demoErr = err
			return
		}
		demoFile = filepath.Join(dir, "demo.duckdb")
		// testkit.Demo needs a testing.TB whose cleanups run now: a sub-benchmark-free
		// stand-in is this test itself, with the warehouse closed before the copy
		wh, _ := testkit.Demo(t, "../../testdata", demoFile, warehouse.Options{})
		demoErr = wh.Close()
	})
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	dst := filepath.Join(t.TempDir(), "w.duckdb")
	b, err := os.ReadFile(demoFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// env is a served demo warehouse with its delivery service, a mail server and the robots.
type env struct {
	t        *testing.T
	db       string
	cfg      deliver.Config
	wh       *warehouse.Warehouse
	accounts *auth.Store
	srv      *server.Server
	ts       *httptest.Server
	svc      *deliver.Service
	mail     *smtpServer
	robots   *robots
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, db: demoCopy(t), mail: startSMTP(t, "starttls", true), robots: startRobots(t)}
	e.cfg = deliver.Config{
		SMTP:       deliver.SMTP{Addr: e.mail.addr, TLS: "starttls", From: "tisheng@example.cn", User: e.mail.user, Password: e.mail.pass, RootCAs: e.mail.pool, Timeout: 5 * time.Second},
		RobotHosts: []string{"127.0.0.1"},
		Backoff:    []time.Duration{time.Minute, 5 * time.Minute},
	}
	e.open()
	t.Cleanup(e.close)
	ctx := context.Background()
	for _, u := range []auth.User{
		{Name: "admin", Role: auth.RoleAdmin},
		{Name: "quxian", Role: auth.RoleDistrict, District: "南城区"},
		{Name: "xiaozhang", Role: auth.RoleSchool, School: e.one(`SELECT min(school_code) FROM school_info WHERE district = '西山区'`)},
		{Name: "lingdao", Role: auth.RoleLeader},
	} {
		if err := e.accounts.AddUser(ctx, u, "password-of-"+u.Name); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// open starts the process: warehouse, server, delivery service (as serve wires them).
func (e *env) open() {
	t := e.t
	ctx := context.Background()
	wh, err := warehouse.OpenWith(ctx, e.db, warehouse.Options{Locked: true})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := ingest.NewLoader(ctx, wh, testKey, log)
	if err != nil {
		t.Fatal(err)
	}
	e.wh, e.accounts = wh, auth.NewStore(wh.DB, auth.DefaultPolicy)
	if e.srv, err = server.New(server.Config{}, wh, l, e.accounts, log); err != nil {
		t.Fatal(err)
	}
	e.ts = httptest.NewServer(e.srv.Handler())
	cfg := e.cfg
	cfg.Key = testKey
	if cfg.PublicURL == "" {
		cfg.PublicURL = e.ts.URL
	}
	if e.svc, err = deliver.New(cfg, wh.DB, e.accounts, e.srv, log); err != nil {
		t.Fatal(err)
	}
	e.srv.SetDelivery(e.svc)
}

func (e *env) close() {
	if e.wh == nil {
		return
	}
	e.ts.Close()
	e.srv.Close()
	e.wh.Close()
	e.wh = nil
}

// restart is a new process on the same warehouse: nothing in memory survives.
func (e *env) restart() {
	e.close()
	e.open()
}

func (e *env) one(q string, args ...any) string {
	e.t.Helper()
	var v *string
	if err := e.wh.DB.QueryRow(q, args...).Scan(&v); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	if v == nil {
		return ""
	}
	return *v
}

func (e *env) list(q string, args ...any) []string {
	e.t.Helper()
	rows, err := e.wh.DB.Query(q, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

var admin = deliver.Actor{Name: "admin", Role: "admin", Scope: "全部"}

func (e *env) subscribe(n deliver.NewSubscription) deliver.Subscription {
	e.t.Helper()
	s, err := e.svc.Add(context.Background(), n, admin)
	if err != nil {
		e.t.Fatalf("subscribe %+v: %v", n, err)
	}
	return s
}

// at is a Beijing time.
func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, deliver.Zone())
	if err != nil {
		panic(err)
	}
	return t
}

func (e *env) run(when string) deliver.Summary {
	e.t.Helper()
	sum, err := e.svc.RunOnce(context.Background(), at(when), true)
	if err != nil {
		e.t.Fatalf("deliver at %s: %v", when, err)
	}
	return sum
}

func (e *env) deliveries() []deliver.Delivery {
	e.t.Helper()
	ds, err := e.svc.Deliveries(context.Background(), deliver.DeliveryFilter{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	return ds
}

// --- a real SMTP server (go-smtp, in this process) ----------------------------------------

type received struct {
	from string
	to   []string
	data []byte
}

type smtpServer struct {
	addr       string
	user, pass string
	pool       *x509.CertPool
	mu         sync.Mutex
	msgs       []received
	auths      int
	srv        *smtp.Server
}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

type smtpSession struct {
	s      *smtpServer
	authed bool
	cur    received
}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.user || pass != ss.s.pass {
			return smtp.ErrAuthFailed // 535, as mail servers answer
		}
		ss.authed = true
		ss.s.mu.Lock()
		ss.s.auths++
		ss.s.mu.Unlock()
		return nil
	}), nil
}
func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.user != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.cur = received{from: from}
	return nil
}
func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.cur.to = append(ss.cur.to, to)
	return nil
}
func (ss *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.cur.data = b
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, ss.cur)
	ss.s.mu.Unlock()
	return nil
}
func (ss *smtpSession) Reset()        { ss.cur = received{} }
func (ss *smtpSession) Logout() error { return nil }

// startSMTP runs a mail server on 127.0.0.1: mode none, starttls or tls (implicit), with
// PLAIN authentication when auth.
func startSMTP(t *testing.T, mode string, withAuth bool) *smtpServer {
	t.Helper()
	s := &smtpServer{}
	if withAuth {
		s.user, s.pass = "mailer", "secret-of-the-mailer"
	}
	cert, pool := selfSigned(t)
	s.pool = pool
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: s}, nil }))
	srv.Domain = "127.0.0.1"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log0{}
	var l net.Listener
	var err error
	switch mode {
	case "tls":
		l, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	case "starttls":
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		l, err = net.Listen("tcp", "127.0.0.1:0")
	default:
		srv.AllowInsecureAuth = true
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	s.addr, s.srv = l.Addr().String(), srv
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

type log0 struct{}

func (log0) Printf(string, ...any) {}
func (log0) Println(...any)        {}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}, pool
}

// --- reading a received mail --------------------------------------------------------------

type parsedMail struct {
	subject, text, html string
	header              mail.Header
	fileName            string
	file                []byte
	disposition         string
}

func parseMail(t *testing.T, raw []byte) parsedMail {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var p parsedMail
	p.header = m.Header
	dec := new(mime.WordDecoder)
	if p.subject, err = dec.DecodeHeader(m.Header.Get("Subject")); err != nil {
		t.Fatal(err)
	}
	var walk func(ct string, h map[string][]string, body io.Reader)
	walk = func(ct string, h map[string][]string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("content type %q: %v", ct, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				part, err := mr.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(part.Header.Get("Content-Type"), part.Header, part)
			}
		}
		b, _ := io.ReadAll(body)
		get := func(k string) string {
			if v := h[k]; len(v) > 0 {
				return v[0]
			}
			return ""
		}
		switch strings.ToLower(get("Content-Transfer-Encoding")) {
		case "base64":
			b, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
			if err != nil {
				t.Fatal(err)
			}
		case "quoted-printable":
			t.Fatal("quoted-printable not expected")
		}
		if cd := get("Content-Disposition"); strings.HasPrefix(cd, "attachment") {
			_, dp, err := mime.ParseMediaType(cd)
			if err != nil {
				t.Fatalf("disposition %q: %v", cd, err)
			}
			p.disposition, p.fileName, p.file = cd, dp["filename"], b
			return
		}
		switch mt {
		case "text/plain":
			p.text = string(b)
		case "text/html":
			p.html = string(b)
		}
	}
	walk(m.Header.Get("Content-Type"), m.Header, m.Body)
	return p
}

// cells is every cell of a workbook, one line per row.
func cells(t *testing.T, b []byte) string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the file does not open: %v", err)
	}
	defer f.Close()
	var sb strings.Builder
	for _, sh := range f.GetSheetList() {
		rows, _ := f.GetRows(sh)
		for _, r := range rows {
			sb.WriteString(strings.Join(r, "\t") + "\n")
		}
	}
	return sb.String()
}

// --- the robots' documented endpoints -------------------------------------------------

type robotCall struct {
	path, key, contentType string
	body                   map[string]any
	fileName               string
	fileLength             int
	file                   []byte
	signedAt               time.Time
}

type robots struct {
	t          *testing.T
	ts         *httptest.Server
	wecomKey   string
	dtToken    string
	dtSecret   string
	mu         sync.Mutex
	calls      []robotCall
	media      map[string][]byte
	refuse     int // answer the next n messages with an error code
	refuseFile int // the same, for file messages only
	badSigns   int
}

func (r *robots) wecomURL() string { return r.ts.URL + "/cgi-bin/webhook/send?key=" + r.wecomKey }
func (r *robots) dingURL() string  { return r.ts.URL + "/robot/send?access_token=" + r.dtToken }

func (r *robots) all() []robotCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]robotCall(nil), r.calls...)
}

func startRobots(t *testing.T) *robots {
	r := &robots{t: t, wecomKey: "693a91f6-7xx6-4bc4-97a0-0ec2sifa5aaa", dtToken: "a7c1d2e3f4b5a6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1",
		dtSecret: "SEC3f2b0c1d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2", media: map[string][]byte{}}
	answer := func(w http.ResponseWriter, v map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	// 企业微信: POST /cgi-bin/webhook/send?key=KEY {"msgtype": "markdown"|"file", …}
	mux.HandleFunc("/cgi-bin/webhook/send", func(w http.ResponseWriter, req *http.Request) {
		c := robotCall{path: req.URL.Path, key: req.URL.Query().Get("key"), contentType: req.Header.Get("Content-Type")}
		if req.Method != http.MethodPost || c.key != r.wecomKey {
			answer(w, map[string]any{"errcode": 93000, "errmsg": "invalid webhook url"})
			return
		}
		if err := json.NewDecoder(req.Body).Decode(&c.body); err != nil {
			answer(w, map[string]any{"errcode": 40001, "errmsg": "bad json"})
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.refuse > 0 {
			r.refuse--
			answer(w, map[string]any{"errcode": 45009, "errmsg": "api freq out of limit"})
			return
		}
		switch c.body["msgtype"] {
		case "markdown":
			md, _ := c.body["markdown"].(map[string]any)
			if s, _ := md["content"].(string); s == "" || len(s) > 4096 {
				answer(w, map[string]any{"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"})
				return
			}
		case "file":
			if r.refuseFile > 0 {
				r.refuseFile--
				answer(w, map[string]any{"errcode": 45009, "errmsg": "api freq out of limit"})
				return
			}
			f, _ := c.body["file"].(map[string]any)
			if _, ok := r.media[fmt.Sprint(f["media_id"])]; !ok {
				answer(w, map[string]any{"errcode": 40007, "errmsg": "invalid media_id"})
				return
			}
		default:
			answer(w, map[string]any{"errcode": 40008, "errmsg": "invalid message type"})
			return
		}
		r.calls = append(r.calls, c)
		answer(w, map[string]any{"errcode": 0, "errmsg": "ok"})
	})
	// 企业微信: POST /cgi-bin/webhook/upload_media?key=KEY&type=file, multipart field media
	mux.HandleFunc("/cgi-bin/webhook/upload_media", func(w http.ResponseWriter, req *http.Request) {
		c := robotCall{path: req.URL.Path, key: req.URL.Query().Get("key"), contentType: req.Header.Get("Content-Type")}
		if c.key != r.wecomKey || req.URL.Query().Get("type") != "file" {
			answer(w, map[string]any{"errcode": 93000, "errmsg": "invalid webhook url"})
			return
		}
		mr, err := req.MultipartReader()
		if err != nil {
			answer(w, map[string]any{"errcode": 40001, "errmsg": "not multipart"})
			return
		}
		part, err := mr.NextPart()
		if err != nil || part.FormName() != "media" {
			answer(w, map[string]any{"errcode": 40001, "errmsg": "no media"})
			return
		}
		_, params, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		c.fileName = part.FileName()
		c.fileLength, _ = strconv.Atoi(params["filelength"])
		c.file, _ = io.ReadAll(part)
		if len(c.file) < 5 || len(c.file) > 20<<20 || len(c.file) != c.fileLength {
			answer(w, map[string]any{"errcode": 40006, "errmsg": "invalid media size"})
			return
		}
		r.mu.Lock()
		id := fmt.Sprintf("media-%d", len(r.media)+1)
		r.media[id] = c.file
		r.calls = append(r.calls, c)
		r.mu.Unlock()
		answer(w, map[string]any{"errcode": 0, "errmsg": "ok", "type": "file", "media_id": id, "created_at": "1380000000"})
	})
	// 钉钉: POST /robot/send?access_token=T&timestamp=MS&sign=S, 加签 checked as documented
	mux.HandleFunc("/robot/send", func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		c := robotCall{path: req.URL.Path, key: q.Get("access_token"), contentType: req.Header.Get("Content-Type")}
		if c.key != r.dtToken {
			answer(w, map[string]any{"errcode": 300001, "errmsg": "token is not exist"})
			return
		}
		ms, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		mac := hmac.New(sha256.New, []byte(r.dtSecret))
		mac.Write([]byte(q.Get("timestamp") + "\n" + r.dtSecret))
		want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
		c.signedAt = time.UnixMilli(ms)
		if err != nil || q.Get("sign") != want || time.Since(c.signedAt).Abs() > time.Hour {
			r.mu.Lock()
			r.badSigns++
			r.mu.Unlock()
			answer(w, map[string]any{"errcode": 310000, "errmsg": "sign not match"})
			return
		}
		if err := json.NewDecoder(req.Body).Decode(&c.body); err != nil || c.body["msgtype"] != "markdown" {
			answer(w, map[string]any{"errcode": 40035, "errmsg": "bad message"})
			return
		}
		r.mu.Lock()
		r.calls = append(r.calls, c)
		r.mu.Unlock()
		answer(w, map[string]any{"errcode": 0, "errmsg": "ok"})
	})
	r.ts = httptest.NewServer(mux)
	t.Cleanup(r.ts.Close)
	return r
}
