package deliver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Robot limits (企业微信 and 钉钉 group robots alike).
const (
	robotPerMinute      = 20
	wecomMarkdownMax    = 4096
	dingtalkMarkdownMax = 18000
	wecomFileMax        = 20 << 20
	robotAnswerMax      = 64 << 10
)

// limiter keeps each robot within its messages a minute; waiting delays a delivery, it
// never drops one.
type limiter struct {
	mu   sync.Mutex
	sent map[string][]time.Time
	now  func() time.Time
	per  int
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{sent: map[string][]time.Time{}, now: now, per: robotPerMinute}
}

// wait blocks until robot may take another message, and counts it.
func (l *limiter) wait(ctx context.Context, robot string) error {
	for {
		l.mu.Lock()
		now := l.now()
		ts := l.sent[robot]
		for len(ts) > 0 && now.Sub(ts[0]) >= time.Minute {
			ts = ts[1:]
		}
		if len(ts) < l.per {
			l.sent[robot] = append(ts, now)
			l.mu.Unlock()
			return nil
		}
		delay := time.Minute - now.Sub(ts[0])
		l.sent[robot] = ts
		l.mu.Unlock()
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// robotAnswer is both robots' reply.
type robotAnswer struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
	MediaID string `json:"media_id"`
}

// robotTemporary are error codes worth trying again: busy, and over the rate limit.
var robotTemporary = map[int]bool{-1: true, 45009: true, 130101: true, 410100: true}

// post sends one request and reads the robot's answer. An error before any answer is
// uncertain (refused false) once the request may have left.
func post(ctx context.Context, c *http.Client, u, contentType string, body []byte) (robotAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return robotAnswer{}, &sendErr{err: err, refused: true, permanent: true}
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := c.Do(req)
	if err != nil {
		return robotAnswer{}, &sendErr{err: fmt.Errorf("robot: %s", redactURL(err.Error(), u))}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, robotAnswerMax))
	if err != nil {
		return robotAnswer{}, &sendErr{err: fmt.Errorf("robot: reading the answer: %v", err)}
	}
	if resp.StatusCode != http.StatusOK {
		return robotAnswer{}, &sendErr{err: fmt.Errorf("robot: HTTP %d", resp.StatusCode), refused: true, permanent: resp.StatusCode < 500 && resp.StatusCode != 429}
	}
	var a robotAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return a, &sendErr{err: fmt.Errorf("robot: the answer is not JSON: %.100s", b)}
	}
	if a.ErrCode != 0 {
		return a, &sendErr{err: fmt.Errorf("robot: errcode %d：%s", a.ErrCode, a.ErrMsg), refused: true, permanent: !robotTemporary[a.ErrCode]}
	}
	return a, nil
}

// redactURL keeps a webhook's key out of an error message (net/http errors quote the URL).
func redactURL(msg, u string) string {
	if pu, err := url.Parse(u); err == nil {
		for _, vs := range pu.Query() {
			for _, v := range vs {
				if v != "" {
					msg = strings.ReplaceAll(msg, v, "****")
				}
			}
		}
	}
	return msg
}

// wecomMarkdown is 企业微信's markdown message.
func wecomMarkdownBody(text string) []byte {
	b, _ := json.Marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": text}})
	return b
}

func wecomFileBody(mediaID string) []byte {
	b, _ := json.Marshal(map[string]any{"msgtype": "file", "file": map[string]string{"media_id": mediaID}})
	return b
}

// wecomUploadURL is the webhook's upload_media endpoint: the same host and key.
func wecomUploadURL(webhook string) (string, error) {
	u, err := url.Parse(webhook)
	if err != nil {
		return "", err
	}
	u.Path = strings.TrimSuffix(u.Path, "/send") + "/upload_media"
	q := url.Values{"key": {u.Query().Get("key")}, "type": {"file"}}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// wecomUpload uploads a file as the robot API asks (multipart field media, with filename
// and filelength) and returns its media_id. An upload is not a message: it is not counted
// against the rate and may be repeated.
func wecomUpload(ctx context.Context, c *http.Client, webhook, name string, data []byte) (string, error) {
	if len(data) < 5 || len(data) > wecomFileMax {
		return "", &sendErr{err: fmt.Errorf("企业微信文件须在 5 B 到 20 MB 之间，这个有 %d 字节", len(data)), refused: true, permanent: true}
	}
	u, err := wecomUploadURL(webhook)
	if err != nil {
		return "", &sendErr{err: err, refused: true, permanent: true}
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name="media"; filename="%s"; filelength=%d`, strings.ReplaceAll(name, `"`, "_"), len(data))}
	h["Content-Type"] = []string{"application/octet-stream"}
	pw, err := mw.CreatePart(h)
	if err != nil {
		return "", &sendErr{err: err, refused: true}
	}
	pw.Write(data)
	mw.Close()
	a, err := post(ctx, c, u, mw.FormDataContentType(), body.Bytes())
	if err != nil {
		if se, ok := err.(*sendErr); ok {
			se.refused = true // an upload that may or may not have arrived is simply repeated
		}
		return "", err
	}
	if a.MediaID == "" {
		return "", &sendErr{err: fmt.Errorf("企业微信上传没有返回 media_id"), refused: true}
	}
	return a.MediaID, nil
}

// dingtalkSigned adds 钉钉's 加签 to a webhook: timestamp (ms) and
// sign = base64(HMAC-SHA256(secret, timestamp + "\n" + secret)), URL-encoded.
func dingtalkSigned(webhook, secret string, now time.Time) (string, error) {
	if secret == "" {
		return webhook, nil
	}
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "\n" + secret))
	sign := base64.StdEncoding.EncodeToString(m.Sum(nil))
	u, err := url.Parse(webhook)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("timestamp", ts)
	q.Set("sign", sign)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func dingtalkMarkdownBody(title, text string) []byte {
	b, _ := json.Marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": title, "text": text}})
	return b
}
