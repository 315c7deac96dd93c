package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"mime"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// mailSink is a real SMTP server (STARTTLS, PLAIN login) that keeps what it receives.
type mailSink struct {
	mu   sync.Mutex
	msgs [][]byte
}

type sinkSession struct {
	s      *mailSink
	authed bool
}

func (ss *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (ss *sinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, u, p string) error {
		if u != "mailer" || p != "pw-of-mailer" {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}
func (ss *sinkSession) Mail(string, *smtp.MailOptions) error {
	if !ss.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}
func (ss *sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, b)
	ss.s.mu.Unlock()
	return err
}
func (ss *sinkSession) Reset()        {}
func (ss *sinkSession) Logout() error { return nil }

// startSink serves SMTP on 127.0.0.1 with a certificate whose CA it writes to caFile.
func startSink(t *testing.T, caFile string) (*mailSink, string) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	sink := &mailSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: sink}, nil }))
	srv.Domain = "127.0.0.1"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: k}}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sink, l.Addr().String()
}

// The command line adds, lists and removes subscriptions, and `deliver --at` sends what is
// due then, once, over STARTTLS with the password from the environment.
func TestSubscriptionAndDeliverCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "w.duckdb")
	loadDemo(t, db)
	ca := filepath.Join(dir, "ca.pem")
	sink, addr := startSink(t, ca)
	runTisheng := func(stdin string, env []string, args ...string) (int, string, string) {
		t.Helper()
		cmd := tisheng(args...)
		cmd.Env = append(cmd.Env, env...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(interface{ ExitCode() int }); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errb.String()
	}
	if code, _, e := runTisheng("", nil, "user", "add", "--db", db, "--name", "qx", "--role", "district", "--district", "东湖区"); code != 0 {
		t.Fatal(e)
	}
	code, out, e := runTisheng("", nil, "subscription", "add", "--db", db, "--user", "qx", "--report", "monthly", "--to", "email:qx@example.cn")
	if code != 0 || !strings.Contains(out, "已添加订阅 #1：qx 的月报，每月5日 08:00") {
		t.Fatalf("add: %d %s %s", code, out, e)
	}
	hook := "http://127.0.0.1:9/robot/send?access_token=tok-0123456789abcdef"
	code, out, e = runTisheng("SECsecret-of-the-robot\n", nil, "subscription", "add", "--db", db, "--user", "qx", "--report", "monthly",
		"--to", "dingtalk:"+hook, "--secret-stdin", "--robot-hosts", "127.0.0.1", "--schedule", "new-month")
	if code != 0 {
		t.Fatalf("add a robot: %d %s %s", code, out, e)
	}
	code, out, _ = runTisheng("", nil, "subscription", "list", "--db", db)
	if code != 0 || !strings.Contains(out, "access_token=****cdef（已设加签）") || strings.Contains(out, "tok-0123456789abcdef") || strings.Contains(out, "SECsecret") ||
		!strings.Contains(out, "新月份数据导入后") {
		t.Errorf("list: %s", out)
	}
	if code, out, e := runTisheng("", nil, "subscription", "rm", "--db", db, "2"); code != 0 || !strings.Contains(out, "已删除订阅 #2") {
		t.Errorf("rm: %d %s %s", code, out, e)
	}
	// a password on the command line is not an option; a user without one is refused
	if code, _, e := runTisheng("", nil, "deliver", "--db", db, "--smtp", addr, "--smtp-from", "t@example.cn", "--smtp-user", "mailer", "--smtp-password", "x"); code != 2 || !strings.Contains(e, "没有这个选项") {
		t.Errorf("--smtp-password: %d %s", code, e)
	}
	if code, _, e := runTisheng("", nil, "deliver", "--db", db, "--smtp", addr, "--smtp-from", "t@example.cn", "--smtp-user", "mailer"); code != 2 || !strings.Contains(e, SMTPPasswordEnv) {
		t.Errorf("no password: %d %s", code, e)
	}
	env := []string{SMTPPasswordEnv + "=pw-of-mailer", "SSL_CERT_FILE=" + ca}
	args := []string{"deliver", "--db", db, "--at", "2025-07-05T08:00", "--smtp", addr, "--smtp-tls", "starttls", "--smtp-from", "tisheng@example.cn",
		"--smtp-user", "mailer", "--public-url", "https://tisheng.example.cn"}
	code, out, e = runTisheng("", env, args...)
	if code != 0 || !strings.Contains(out, "新记录 1 个投递；发送成功 1") {
		t.Fatalf("deliver: %d %s %s", code, out, e)
	}
	code, out, _ = runTisheng("", env, args...)
	if code != 0 || !strings.Contains(out, "新记录 0 个投递；发送成功 0") {
		t.Errorf("deliver again: %d %s", code, out)
	}
	sink.mu.Lock()
	msgs := sink.msgs
	sink.mu.Unlock()
	if len(msgs) != 1 {
		t.Fatalf("%d mails", len(msgs))
	}
	m, err := mail.ReadMessage(strings.NewReader(string(msgs[0])))
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if subj != "东湖区 2025年6月 提升工程2.0 月报" {
		t.Errorf("subject %q", subj)
	}
	if body := string(msgs[0]); !strings.Contains(body, "filename*0*=UTF-8''") {
		t.Error("no RFC 2231 file name")
	}
}
