package deliver

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"

	"tisheng/internal/reportkind"
	"tisheng/reports"
)

// content is what one delivery says, in each of its forms.
type content struct {
	Subject  string
	Headline *reports.Headline
	Kind     reportkind.Kind
	FileName string
	PageURL  string // the page at the server's public address ("" when none is set)
	LinkURL  string // the signed download link ("" when the message carries the file itself)
	LinkTTL  string // 7天
	User     string
	Scope    string
}

// subjectOf says what, where and when: 「东湖区 2025年6月 提升工程2.0 月报」.
func subjectOf(k reportkind.Kind, h *reports.Headline) string {
	when := h.MonthLabel
	if k.Yearly && len(h.Month) >= 4 {
		when = h.Month[:4] + "年"
	}
	return h.Scope + " " + when + " " + k.Title
}

func (c *content) behindTitle() string {
	h := c.Headline
	if h.Gate != nil {
		return ""
	}
	if h.BehindAll == 0 {
		return "全部学校已达到95%门槛。"
	}
	return fmt.Sprintf("未达到95%%门槛的学校（%d 所，差额大的在前）：", h.BehindAll)
}

func (c *content) more() string {
	if n := c.Headline.BehindAll - len(c.Headline.Behind); n > 0 {
		return fmt.Sprintf("……另有 %d 所，见附件。", n)
	}
	return ""
}

func (c *content) footer() string {
	return fmt.Sprintf("本消息由 tisheng 按订阅自动发送：收件人 %s，数据范围 %s，内容与该用户登录后下载的完全相同。", c.User, c.Scope)
}

// text is the plain-text body of an email.
func (c *content) text() string {
	var b strings.Builder
	h := c.Headline
	b.WriteString(c.Subject + "\n\n")
	if h.Notice != "" {
		b.WriteString(h.Notice + "\n\n")
	}
	b.WriteString("主要指标（" + h.MonthLabel + "）\n")
	for _, f := range h.Figures {
		fmt.Fprintf(&b, "  %s：%s\n", f.Label, f.Value)
	}
	if t := c.behindTitle(); t != "" {
		b.WriteString("\n" + t + "\n")
		for i, s := range h.Behind {
			fmt.Fprintf(&b, "  %d. %s（%s，%s）：还差 %d 人，专任教师合格率 %s\n", i+1, s.Name, s.Code, s.District, s.Shortfall, s.Rate)
		}
		if m := c.more(); m != "" {
			b.WriteString("  " + m + "\n")
		}
	}
	b.WriteString("\n")
	if c.LinkURL != "" {
		fmt.Fprintf(&b, "下载%s（%s内有效）：%s\n", c.Kind.Label, c.LinkTTL, c.LinkURL)
	} else {
		fmt.Fprintf(&b, "附件：%s\n", c.FileName)
	}
	if c.PageURL != "" {
		fmt.Fprintf(&b, "在线查看（需登录）：%s\n", c.PageURL)
	}
	b.WriteString("\n" + c.footer() + "\n")
	return b.String()
}

var htmlBody = template.Must(template.New("mail").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family:'PingFang SC','Microsoft YaHei',sans-serif;color:#1f2937;max-width:640px;margin:0 auto;padding:12px">
<h2 style="font-size:18px;margin:0 0 12px">{{.Subject}}</h2>
{{with .Headline.Notice}}<p style="background:#fff4e0;border:1px solid #f0b95a;color:#7a4b00;padding:8px 12px">{{.}}</p>{{end}}
<table style="border-collapse:collapse;width:100%;margin-bottom:12px">
<caption style="text-align:left;font-weight:bold;padding:4px 0">主要指标（{{.Headline.MonthLabel}}）</caption>
{{range .Headline.Figures}}<tr><td style="border-bottom:1px solid #e5e7eb;padding:6px 8px;color:#555">{{.Label}}</td><td style="border-bottom:1px solid #e5e7eb;padding:6px 8px;text-align:right;font-weight:bold">{{.Value}}</td></tr>
{{end}}</table>
{{with .BehindTitle}}<p style="font-weight:bold;margin:12px 0 4px">{{.}}</p>{{end}}
{{if .Headline.Behind}}{{if not .Headline.Gate}}<table style="border-collapse:collapse;width:100%">
<tr style="background:#eef2f8"><th style="text-align:left;padding:4px 8px">学校</th><th style="text-align:left;padding:4px 8px">区县</th><th style="text-align:right;padding:4px 8px">还差（人）</th><th style="text-align:right;padding:4px 8px">合格率</th></tr>
{{range .Headline.Behind}}<tr><td style="border-bottom:1px solid #e5e7eb;padding:4px 8px">{{.Name}}</td><td style="border-bottom:1px solid #e5e7eb;padding:4px 8px">{{.District}}</td><td style="border-bottom:1px solid #e5e7eb;padding:4px 8px;text-align:right;color:#b3261e">{{.Shortfall}}</td><td style="border-bottom:1px solid #e5e7eb;padding:4px 8px;text-align:right">{{.Rate}}</td></tr>
{{end}}</table>{{with .More}}<p>{{.}}</p>{{end}}{{end}}{{end}}
<p style="margin-top:16px">{{if .LinkURL}}<a href="{{.LinkURL}}">下载{{.Kind.Label}}</a>（{{.LinkTTL}}内有效）{{else}}附件：{{.FileName}}{{end}}{{if .PageURL}} · <a href="{{.PageURL}}">在线查看</a>（需登录）{{end}}</p>
<p style="color:#888;font-size:12px">{{.Footer}}</p>
</body></html>`))

// html is the HTML body of an email.
func (c *content) html() (string, error) {
	var b bytes.Buffer
	err := htmlBody.Execute(&b, struct {
		*content
		BehindTitle, More, Footer string
	}{c, c.behindTitle(), c.more(), c.footer()})
	return b.String(), err
}

// markdown is the group robots' message. 企业微信 caps markdown at 4,096 bytes; the list of
// schools is cut to fit, the rest counted.
func (c *content) markdown(limit int, dingtalk bool) string {
	h := c.Headline
	var head, tail strings.Builder
	if dingtalk {
		head.WriteString("#### " + c.Subject + "\n\n")
	} else {
		head.WriteString("**" + c.Subject + "**\n")
	}
	if h.Notice != "" {
		head.WriteString("> " + h.Notice + "\n\n")
	}
	for _, f := range h.Figures {
		if dingtalk {
			fmt.Fprintf(&head, "- %s：**%s**\n", f.Label, f.Value)
		} else {
			fmt.Fprintf(&head, "> %s：<font color=\"info\">%s</font>\n", f.Label, f.Value)
		}
	}
	if t := c.behindTitle(); t != "" {
		head.WriteString("\n" + t + "\n")
	}
	tail.WriteString("\n")
	if c.LinkURL != "" {
		fmt.Fprintf(&tail, "[下载%s](%s)（%s内有效）\n", c.Kind.Label, c.LinkURL, c.LinkTTL)
	} else {
		fmt.Fprintf(&tail, "文件「%s」随后发送。\n", c.FileName)
	}
	if c.PageURL != "" {
		fmt.Fprintf(&tail, "[在线查看](%s)（需登录）\n", c.PageURL)
	}
	out := head.String()
	shown := 0
	for _, s := range h.Behind {
		var line string
		if dingtalk {
			line = fmt.Sprintf("- %s（%s）：还差 **%d** 人\n", s.Name, s.District, s.Shortfall)
		} else {
			line = fmt.Sprintf("- %s（%s）：还差 <font color=\"warning\">%d</font> 人\n", s.Name, s.District, s.Shortfall)
		}
		if len(out)+len(line)+len(tail.String())+64 > limit {
			break
		}
		out += line
		shown++
	}
	if n := h.BehindAll - shown; n > 0 && h.Gate == nil {
		out += fmt.Sprintf("- ……另有 %d 所\n", n)
	}
	return out + tail.String()
}
