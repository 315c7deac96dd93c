package deliver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
)

// SMTP is the mail server deliveries go through.
type SMTP struct {
	Addr     string // host:port; empty: no email deliveries
	TLS      string // none, starttls or tls
	From     string
	User     string // empty: no authentication
	Password string
	Timeout  time.Duration  // connecting and each command (default 30 s)
	RootCAs  *x509.CertPool // nil: the system's
}

// Check validates the settings (the password is not checked here: the server does).
func (c SMTP) Check() error {
	if c.Addr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil || host == "" {
		return fmt.Errorf("--smtp「%s」应为 主机:端口", c.Addr)
	}
	if _, err := strconv.Atoi(port); err != nil {
		return fmt.Errorf("--smtp「%s」的端口无效", c.Addr)
	}
	switch c.TLS {
	case "none", "starttls", "tls":
	default:
		return fmt.Errorf("--smtp-tls「%s」应为 none、starttls 或 tls", c.TLS)
	}
	if _, err := ParseDest("email:"+c.From, nil); err != nil {
		return fmt.Errorf("--smtp-from：%v", err)
	}
	if c.User != "" && c.Password == "" {
		return errors.New("给了 --smtp-user 却没有密码：请设置环境变量 TISHENG_SMTP_PASSWORD 或用 --smtp-password-file")
	}
	return nil
}

// mailMsg is one email: the parts go-mail assembles.
type mailMsg struct {
	to, subject, text, html string
	messageID               string
	fileName                string
	file                    []byte // nil: no attachment (the message carries a link)
	contentType             string
}

// build assembles the MIME message.
func (c SMTP) build(m mailMsg) (*mail.Msg, error) {
	msg := mail.NewMsg(mail.WithCharset(mail.CharsetUTF8), mail.WithEncoding(mail.EncodingB64))
	if err := msg.From(c.From); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := msg.To(m.to); err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	msg.Subject(m.subject)
	msg.SetDate()
	// the same delivery always has the same Message-ID: a copy re-sent by hand after an
	// interrupted send is recognisably the same message
	msg.SetMessageIDWithValue(m.messageID)
	msg.SetBodyString(mail.TypeTextPlain, m.text)
	msg.AddAlternativeString(mail.TypeTextHTML, m.html)
	if m.file != nil {
		if err := msg.AttachReader(m.fileName, bytes.NewReader(m.file),
			mail.WithFileContentType(mail.ContentType(m.contentType)), rfc2231(m.fileName)); err != nil {
			return nil, fmt.Errorf("attach: %w", err)
		}
	}
	return msg, nil
}

// rfc2231 sets the attachment's Content-Disposition with its file name in RFC 2231 form
// (filename*=UTF-8”…, cut into continuations short enough for a header line) and, for
// mail programs that read only the plain parameter, an RFC 2047 encoded word as well.
func rfc2231(name string) mail.FileOption {
	return func(f *mail.File) {
		enc := url.PathEscape(name)
		var parts []string
		const chunk = 54
		for i := 0; len(enc) > 0; i++ {
			n := min(chunk, len(enc))
			// never split a %XX escape
			if j := strings.LastIndexByte(enc[:n], '%'); j >= 0 && j > n-3 && n < len(enc) {
				n = j
			}
			prefix := ""
			if i == 0 {
				prefix = "UTF-8''"
			}
			parts = append(parts, fmt.Sprintf("filename*%d*=%s%s;", i, prefix, enc[:n]))
			enc = enc[n:]
		}
		last := parts[len(parts)-1]
		parts[len(parts)-1] = strings.TrimSuffix(last, ";")
		plain := mime.BEncoding.Encode("UTF-8", strings.NewReplacer(`"`, "_", `\`, "_").Replace(name))
		f.Header.Set("Content-Disposition", "attachment; filename=\""+plain+"\"; "+strings.Join(parts, " "))
	}
}

// sendErr is a failed send: whether the server definitely refused the message (a reply
// came), and whether trying again may help.
type sendErr struct {
	err       error
	refused   bool // the remote answered no: nothing was delivered
	permanent bool // trying again will not help
}

func (e *sendErr) Error() string { return e.err.Error() }
func (e *sendErr) Unwrap() error { return e.err }

// send delivers one message. commit runs once everything but the message's final
// terminator has been written: it records that the message is on its way; until the
// terminator the server discards the message if the connection drops. After commit, a
// reply from the server is definite; no reply leaves it uncertain.
func (c SMTP) send(ctx context.Context, msg *mail.Msg, commit func() error, crashed func() bool) error {
	host, portS, _ := net.SplitHostPort(c.Addr)
	port, _ := strconv.Atoi(portS)
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	opts := []mail.Option{mail.WithPort(port), mail.WithTimeout(timeout),
		mail.WithTLSConfig(&tls.Config{ServerName: host, RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12})}
	switch c.TLS {
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case "starttls":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case "tls":
		opts = append(opts, mail.WithSSL())
	}
	if c.User != "" {
		// the strongest mechanism the server offers; PLAIN and LOGIN only over TLS
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(c.User), mail.WithPassword(c.Password))
	} else {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthNoAuth))
	}
	cl, err := mail.NewClient(host, opts...)
	if err != nil {
		return &sendErr{err: fmt.Errorf("smtp: %w", err), refused: true, permanent: true}
	}
	conn, err := cl.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return &sendErr{err: fmt.Errorf("smtp %s: %w", c.Addr, err), refused: true, permanent: isPermanent(err)}
	}
	defer conn.Close()
	from, err := msg.GetSender(false)
	if err != nil {
		return &sendErr{err: err, refused: true, permanent: true}
	}
	rcpts, err := msg.GetRecipients()
	if err != nil {
		return &sendErr{err: err, refused: true, permanent: true}
	}
	if err := conn.Mail(from); err != nil {
		return &sendErr{err: fmt.Errorf("smtp MAIL FROM: %w", err), refused: true, permanent: isPermanent(err)}
	}
	for _, r := range rcpts {
		if err := conn.Rcpt(r); err != nil {
			return &sendErr{err: fmt.Errorf("smtp RCPT TO: %w", err), refused: true, permanent: isPermanent(err)}
		}
	}
	// each phase gets the whole timeout: a large attachment is not cut by the time the
	// greeting took
	_ = conn.UpdateDeadline(timeout)
	w, err := conn.Data()
	if err != nil {
		return &sendErr{err: fmt.Errorf("smtp DATA: %w", err), refused: true, permanent: isPermanent(err)}
	}
	if _, err := msg.WriteTo(w); err != nil {
		return &sendErr{err: fmt.Errorf("smtp: writing the message: %w", err), refused: true}
	}
	if err := commit(); err != nil {
		return &sendErr{err: err, refused: true}
	}
	if crashed() {
		return errCrashed
	}
	_ = conn.UpdateDeadline(timeout)
	if err := w.Close(); err != nil {
		var te *textproto.Error
		if errors.As(err, &te) {
			return &sendErr{err: fmt.Errorf("smtp: the server refused the message: %w", err), refused: true, permanent: te.Code >= 500}
		}
		return &sendErr{err: fmt.Errorf("smtp: no answer after the message: %w", err)}
	}
	_ = conn.Quit()
	return nil
}

// isPermanent: an SMTP 5xx reply; anything else (4xx, a network error) may pass later.
func isPermanent(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te) && te.Code >= 500
}
