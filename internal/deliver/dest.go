package deliver

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
)

// Channels a delivery goes by.
const (
	ChanEmail    = "email"
	ChanWeCom    = "wecom"
	ChanDingTalk = "dingtalk"
)

// channelLabels name the channels on the pages.
var channelLabels = map[string]string{ChanEmail: "邮件", ChanWeCom: "企业微信群机器人", ChanDingTalk: "钉钉群机器人"}

// ChannelLabel is a channel's Chinese name.
func ChannelLabel(c string) string {
	if l, ok := channelLabels[c]; ok {
		return l
	}
	return c
}

// The official robot endpoints. A webhook must name one of them (over HTTPS) unless its
// host is listed in Config.RobotHosts: the server posts to whatever URL a subscription
// holds, and a user must not make it post into the server's own network.
var robotHosts = map[string]struct{ host, path, key string }{
	ChanWeCom:    {"qyapi.weixin.qq.com", "/cgi-bin/webhook/send", "key"},
	ChanDingTalk: {"oapi.dingtalk.com", "/robot/send", "access_token"},
}

// Dest is where a subscription delivers.
type Dest struct {
	Channel string
	Address string // the email address or the webhook URL (with its key)
}

// maxDest bounds an address or a webhook URL.
const maxDest = 2048

// ParseDest reads email:ADDRESS, wecom:WEBHOOK_URL or dingtalk:WEBHOOK_URL. extraHosts are
// robot hosts allowed besides the official ones (and over plain HTTP).
func ParseDest(s string, extraHosts []string) (Dest, error) {
	s = strings.TrimSpace(s)
	ch, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Dest{}, errors.New("发送目标应写作 email:地址、wecom:Webhook地址 或 dingtalk:Webhook地址")
	}
	ch = strings.ToLower(strings.TrimSpace(ch))
	rest = strings.TrimSpace(rest)
	if len(rest) > maxDest {
		return Dest{}, errors.New("发送目标过长")
	}
	switch ch {
	case ChanEmail:
		a, err := mail.ParseAddress(rest)
		if err != nil || a.Address != rest || strings.ContainsAny(rest, "\r\n,;<>\"") || len(rest) > 254 {
			return Dest{}, fmt.Errorf("邮件地址「%s」无效", rest)
		}
		return Dest{Channel: ch, Address: rest}, nil
	case ChanWeCom, ChanDingTalk:
		if err := checkWebhook(ch, rest, extraHosts); err != nil {
			return Dest{}, err
		}
		return Dest{Channel: ch, Address: rest}, nil
	}
	return Dest{}, fmt.Errorf("发送方式「%s」无效：应为 email、wecom 或 dingtalk", ch)
}

// checkWebhook allows the robot's own endpoint with its key, and nothing else.
func checkWebhook(ch, raw string, extraHosts []string) error {
	want := robotHosts[ch]
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%s Webhook 地址无效", ChannelLabel(ch))
	}
	host := strings.ToLower(u.Hostname())
	extra := false
	for _, h := range extraHosts {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" && (h == host || h == strings.ToLower(u.Host)) {
			extra = true
		}
	}
	switch {
	case host == want.host && u.Scheme == "https" && u.Port() == "":
	case extra && (u.Scheme == "https" || u.Scheme == "http"):
	default:
		return fmt.Errorf("%s Webhook 地址应为 https://%s%s?%s=…（其他主机须由管理员用 --robot-hosts 允许）", ChannelLabel(ch), want.host, want.path, want.key)
	}
	if u.Path != want.path {
		return fmt.Errorf("%s Webhook 地址的路径应为 %s", ChannelLabel(ch), want.path)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil || len(q[want.key]) != 1 || q.Get(want.key) == "" || len(q) != 1 {
		return fmt.Errorf("%s Webhook 地址应只带一个参数 %s", ChannelLabel(ch), want.key)
	}
	return nil
}

// webhookKey is the key or access token a webhook URL carries.
func webhookKey(ch, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Query().Get(robotHosts[ch].key)
}

// Masked is the destination as lists show it: an email address whole (the admin must see
// where reports go), a webhook with its key cut to its last four characters.
func (d Dest) Masked() string {
	switch d.Channel {
	case ChanEmail:
		return d.Address
	case ChanWeCom, ChanDingTalk:
		u, err := url.Parse(d.Address)
		if err != nil {
			return ChannelLabel(d.Channel)
		}
		k := robotHosts[d.Channel].key
		key := u.Query().Get(k)
		tail := ""
		if r := []rune(key); len(r) > 8 {
			tail = string(r[len(r)-4:])
		}
		return u.Scheme + "://" + u.Host + u.Path + "?" + k + "=****" + tail
	}
	return d.Channel
}
