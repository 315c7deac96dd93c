package deliver

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// derive makes a key for one purpose from the warehouse key (the FILE.key beside the
// warehouse, which ingest already keeps private): one key file to guard, and a link key
// that says nothing about the sealing key or the ID hashes.
func derive(master []byte, purpose string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("tisheng " + purpose))
	return m.Sum(nil)
}

// sealer encrypts the destinations and robot secrets a subscription keeps (AES-256-GCM),
// so that the warehouse file alone, a copy of it or a backup, gives away no webhook key.
// Ad-hoc SQL cannot read the table in any case (it is not an analyst table).
type sealer struct{ aead cipher.AEAD }

func newSealer(master []byte) (*sealer, error) {
	if len(master) < 16 {
		return nil, errors.New("deliver: the warehouse key is too short")
	}
	b, err := aes.NewCipher(derive(master, "deliver seal v1"))
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: g}, nil
}

// seal encrypts plain bound to what it is (label), so that a sealed secret cannot be moved
// into another column or subscription's place.
func (s *sealer) seal(plain, label string) string {
	if plain == "" {
		return ""
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return base64.RawStdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(plain), []byte(label)))
}

func (s *sealer) open(sealed, label string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	b, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errors.New("deliver: sealed value damaged")
	}
	p, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], []byte(label))
	if err != nil {
		return "", errors.New("deliver: sealed value does not open with this warehouse's key")
	}
	return string(p), nil
}

// Link is what a signed download link names: every parameter is under the signature, so
// editing any of them (another report, month, school, user or scope, a later expiry) makes
// the link invalid.
type Link struct {
	Report   string    // the kind
	User     string    // the recipient
	Scope    string    // the recipient's scope when the link was made (auth.Scope.String)
	Month    string    // 2025-06
	School   string    // for a school's report
	Delivery int64     // the delivery that sent it
	Expires  time.Time // to the second
}

// linkParams are exactly the parameters of a link besides sig.
var linkParams = []string{"r", "u", "s", "m", "sc", "d", "e"}

type linkSigner struct {
	key []byte
	now func() time.Time
}

func (l *linkSigner) values(k Link) url.Values {
	return url.Values{"r": {k.Report}, "u": {k.User}, "s": {k.Scope}, "m": {k.Month}, "sc": {k.School},
		"d": {strconv.FormatInt(k.Delivery, 10)}, "e": {strconv.FormatInt(k.Expires.Unix(), 10)}}
}

// mac signs the canonical encoding (url.Values.Encode sorts by key).
func (l *linkSigner) mac(canonical string) string {
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte("link v1\n" + canonical))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Query is the link's query string, signature last.
func (l *linkSigner) query(k Link) string {
	c := l.values(k).Encode()
	return c + "&sig=" + l.mac(c)
}

// Link errors; their words are for whoever opened the link.
var (
	ErrLinkInvalid = errors.New("下载链接无效（已被修改或不完整）")
	ErrLinkExpired = errors.New("下载链接已过期，请在订阅页面或联系管理员重新发送")
)

// verify checks a link's query: exactly its parameters, each once, under a valid signature,
// not expired.
func (l *linkSigner) verify(rawQuery string) (Link, error) {
	if len(rawQuery) > 4096 {
		return Link{}, ErrLinkInvalid
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil || len(q) != len(linkParams)+1 {
		return Link{}, ErrLinkInvalid
	}
	for _, p := range append([]string{"sig"}, linkParams...) {
		if len(q[p]) != 1 {
			return Link{}, ErrLinkInvalid
		}
	}
	sig := q.Get("sig")
	q.Del("sig")
	if subtle.ConstantTimeCompare([]byte(sig), []byte(l.mac(q.Encode()))) != 1 {
		return Link{}, ErrLinkInvalid
	}
	d, err1 := strconv.ParseInt(q.Get("d"), 10, 64)
	e, err2 := strconv.ParseInt(q.Get("e"), 10, 64)
	if err1 != nil || err2 != nil {
		return Link{}, ErrLinkInvalid
	}
	k := Link{Report: q.Get("r"), User: q.Get("u"), Scope: q.Get("s"), Month: q.Get("m"), School: q.Get("sc"), Delivery: d, Expires: time.Unix(e, 0)}
	if !l.now().Before(k.Expires) {
		return k, ErrLinkExpired
	}
	return k, nil
}

// String describes a link for the audit trail (never its signature).
func (k Link) String() string {
	parts := []string{"报表 " + k.Report, "收件人 " + k.User, "范围 " + k.Scope, "月份 " + k.Month}
	if k.School != "" {
		parts = append(parts, "学校 "+k.School)
	}
	parts = append(parts, fmt.Sprintf("投递 #%d", k.Delivery), "有效至 "+k.Expires.In(zone).Format("2006-01-02 15:04"))
	return strings.Join(parts, "，")
}
