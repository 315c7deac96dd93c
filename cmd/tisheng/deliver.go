package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"tisheng/ingest"
	"tisheng/internal/auth"
	"tisheng/internal/deliver"
	"tisheng/internal/reportkind"
	"tisheng/internal/server"
	"tisheng/internal/warehouse"
)

// SMTPPasswordEnv holds the mail server's password: never a flag, which any user of the
// machine can read in the process list.
const SMTPPasswordEnv = "TISHENG_SMTP_PASSWORD"

// deliveryFlags adds the mail and robot options serve and deliver share; the returned
// function reads them into a config once the flags are parsed.
func deliveryFlags(fs *flag.FlagSet) func() (deliver.Config, error) {
	var c deliver.Config
	fs.StringVar(&c.SMTP.Addr, "smtp", "", "发送邮件的 SMTP 服务器 `主机:端口`（不给则不发邮件）")
	fs.StringVar(&c.SMTP.TLS, "smtp-tls", "starttls", "SMTP 加密方式：none、starttls 或 tls（465 端口一般为 tls）")
	fs.StringVar(&c.SMTP.From, "smtp-from", "", "发件人`地址`")
	fs.StringVar(&c.SMTP.User, "smtp-user", "", "SMTP 登录`用户名`；密码取自环境变量 "+SMTPPasswordEnv+" 或 --smtp-password-file")
	pwFile := fs.String("smtp-password-file", "", "SMTP 密码所在的`文件`（仅本用户可读）")
	fs.StringVar(&c.PublicURL, "public-url", "", "收件人访问本服务器的`地址`（如 https://tisheng.example.cn），邮件和机器人消息里的链接以它开头")
	fs.DurationVar(&c.LinkTTL, "link-ttl", deliver.DefaultLinkTTL, "签名下载链接的有效`时长`")
	hosts := fs.String("robot-hosts", "", "除企业微信、钉钉官方地址外允许的机器人`主机`，逗号分隔（内网转发；允许 http）")
	return func() (deliver.Config, error) {
		for _, h := range strings.Split(*hosts, ",") {
			if h = strings.TrimSpace(h); h != "" {
				c.RobotHosts = append(c.RobotHosts, h)
			}
		}
		c.SMTP.Password = os.Getenv(SMTPPasswordEnv)
		if *pwFile != "" {
			pw, err := readSecretFile(*pwFile)
			if err != nil {
				return c, err
			}
			c.SMTP.Password = pw
		}
		if c.SMTP.Addr != "" && c.SMTP.From == "" {
			return c, usagef("给了 --smtp 还需要 --smtp-from 发件人地址")
		}
		if err := c.SMTP.Check(); err != nil {
			return c, usagef("%v", err)
		}
		if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "https://") && !strings.HasPrefix(c.PublicURL, "http://") {
			return c, usagef("--public-url 应以 https:// 开头")
		}
		return c, nil
	}
}

// readSecretFile reads a password file, refusing one that others may read (as the key file).
func readSecretFile(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("smtp-password-file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("密码文件 %s 的权限为 %04o，同组或其他用户可以读取，已拒绝使用：请执行 chmod 600 %s", file, perm, file)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// openDelivery opens an existing warehouse with the server's machinery (views, scopes,
// reports) and the delivery service over it: the command line builds and sends exactly
// what the server's scheduler does.
func openDelivery(ctx context.Context, db string, c deliver.Config, stderr io.Writer) (*deliver.Service, func(), error) {
	if db == "" {
		return nil, nil, usagef("需要 --db 仓库文件")
	}
	if _, err := os.Stat(db); err != nil {
		return nil, nil, fmt.Errorf("仓库文件 %s 不存在：请检查 --db", db)
	}
	wh, err := warehouse.OpenWith(ctx, db, warehouse.Options{Locked: true})
	if err != nil {
		return nil, nil, err
	}
	log := newLogger(stderr, false)
	key, err := ingest.LoadKey(ctx, wh.DB, db)
	if err != nil {
		wh.Close()
		return nil, nil, err
	}
	loader, err := ingest.NewLoader(ctx, wh, key, log)
	if err != nil {
		wh.Close()
		return nil, nil, err
	}
	accounts := auth.NewStore(wh.DB, auth.DefaultPolicy)
	srv, err := server.New(server.Config{}, wh, loader, accounts, log)
	if err != nil {
		wh.Close()
		return nil, nil, err
	}
	c.Key = key
	svc, err := deliver.New(c, wh.DB, accounts, srv, log)
	if err != nil {
		srv.Close()
		wh.Close()
		return nil, nil, err
	}
	srv.SetDelivery(svc)
	return svc, func() { srv.Close(); wh.Close() }, nil
}

// newDeliveryService wires the scheduler into a serving server.
func newDeliveryService(c deliver.Config, wh *warehouse.Warehouse, key []byte, accounts *auth.Store, srv *server.Server, log *slog.Logger) (*deliver.Service, error) {
	c.Key = key
	svc, err := deliver.New(c, wh.DB, accounts, srv, log)
	if err != nil {
		return nil, err
	}
	srv.SetDelivery(svc)
	return svc, nil
}

const subscriptionSynopsis = `tisheng subscription add --db 文件 --user 用户名 --report ` + "REPORTS" + ` [--school 学校代码]
                         --to email:地址 | wecom:Webhook地址 | dingtalk:Webhook地址 [--secret-stdin] [--schedule 时间]
tisheng subscription list --db 文件 [--user 用户名]
tisheng subscription rm --db 文件 订阅编号…`

// runSubscription: tisheng subscription add|list|rm.
func runSubscription(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	synopsis := strings.Replace(subscriptionSynopsis, "REPORTS", reportkind.Names(), 1)
	op, err := subcommand("subscription", synopsis, []string{"add", "list", "rm"}, args, stdout, stderr)
	if err != nil {
		return err
	}
	fs := newFlags("subscription " + op)
	db := fs.String("db", "", "仓库`文件`")
	user := fs.String("user", "", "收件人`用户名`：报表按此用户的数据范围生成")
	report := fs.String("report", "", "`报表`："+reportkind.Describe())
	school := fs.String("school", "", "`学校代码`（学校名单必填；学校用户默认本校）")
	to := fs.String("to", "", "发送到：email:`地址`、wecom:企业微信机器人Webhook地址 或 dingtalk:钉钉机器人Webhook地址")
	secretStdin := fs.Bool("secret-stdin", false, "从标准输入读取钉钉机器人的加签密钥（一行）")
	schedule := fs.String("schedule", "", "发送`时间`：五段 cron 表达式（分 时 日 月 周，北京时间），或 new-month（新月份数据导入后）；默认 "+deliver.DefaultSchedule+"（每月5日 08:00）")
	getCfg := deliveryFlags(fs)
	rest, err := parseFlags(fs, synopsis, args[1:], stdout, stderr)
	if err != nil {
		return err
	}
	cfg, err := getCfg()
	if err != nil {
		return err
	}
	actor := deliver.Actor{Name: cliActor(), Role: string(auth.RoleAdmin), Scope: "全部"}
	switch op {
	case "add":
		if len(rest) > 0 {
			return usagef("多余的参数：%s", strings.Join(rest, " "))
		}
		if *user == "" || *report == "" || *to == "" {
			return usagef("subscription add 需要 --user、--report 和 --to")
		}
		var secret string
		if *secretStdin {
			line, err := bufio.NewReader(stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			secret = strings.TrimRight(line, "\r\n")
		}
		svc, closeAll, err := openDelivery(ctx, *db, cfg, stderr)
		if err != nil {
			return err
		}
		defer closeAll()
		sub, err := svc.Add(ctx, deliver.NewSubscription{User: *user, Report: *report, School: *school, Schedule: *schedule, To: *to, Secret: secret}, actor)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "已添加订阅 #%d：%s 的%s，%s，发送到%s %s\n", sub.ID, sub.User, deliver.ReportLabel(sub.Report),
			deliver.ScheduleLabel(sub.Schedule), deliver.ChannelLabel(sub.Channel), sub.Target)
	case "list", "ls":
		svc, closeAll, err := openDelivery(ctx, *db, cfg, stderr)
		if err != nil {
			return err
		}
		defer closeAll()
		subs, err := svc.Subscriptions(ctx, *user)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "编号\t收件人\t报表\t学校\t发送时间\t发送到\t创建")
		for _, s := range subs {
			secret := ""
			if s.HasSecret {
				secret = "（已设加签）"
			}
			fmt.Fprintf(tw, "#%d\t%s\t%s\t%s\t%s\t%s %s%s\t%s %s\n", s.ID, s.User, deliver.ReportLabel(s.Report), dash(s.School), deliver.ScheduleLabel(s.Schedule),
				deliver.ChannelLabel(s.Channel), s.Target, secret, s.CreatedAt.In(deliver.Zone()).Format("2006-01-02 15:04"), s.CreatedBy)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		ds, err := svc.Deliveries(ctx, deliver.DeliveryFilter{User: *user, Limit: 20})
		if err != nil || len(ds) == 0 {
			return err
		}
		fmt.Fprintln(stdout, "\n最近的投递：")
		tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "编号\t订阅\t期次\t收件人\t月份\t范围\t状态\t尝试\t原因")
		for _, d := range ds {
			fmt.Fprintf(tw, "#%d\t#%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.ID, d.Subscription, d.Period, d.User, d.Month, d.Scope, deliver.StatusLabel(d.Status), d.Attempts, d.Error)
		}
		return tw.Flush()
	case "rm", "remove":
		if len(rest) == 0 {
			return usagef("需要订阅编号：tisheng subscription rm --db 文件 编号…")
		}
		var ids []int64
		for _, a := range rest {
			id, err := strconv.ParseInt(strings.TrimPrefix(a, "#"), 10, 64)
			if err != nil {
				return usagef("订阅编号「%s」应为数字", a)
			}
			ids = append(ids, id)
		}
		svc, closeAll, err := openDelivery(ctx, *db, cfg, stderr)
		if err != nil {
			return err
		}
		defer closeAll()
		for _, id := range ids {
			if err := svc.Remove(ctx, id, "", actor); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "已删除订阅 #%d\n", id)
		}
	default:
		return usagef("未知的 subscription 子命令「%s」：应为 add、list 或 rm", op)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

const deliverSynopsis = "tisheng deliver --db 文件 [--at YYYY-MM-DDTHH:MM] [--smtp 主机:端口 --smtp-from 地址 …] [--public-url 地址]"

// runDeliver: tisheng deliver — one pass of the scheduler at a time (default now): every
// delivery due then is recorded and sent, and the failed ones of earlier passes whose
// pause is over are tried again.
func runDeliver(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("deliver")
	db := fs.String("db", "", "仓库`文件`")
	at := fs.String("at", "", "按这个北京时间 `YYYY-MM-DDTHH:MM` 运行（默认现在）：这一刻到期的投递都会发送")
	getCfg := deliveryFlags(fs)
	rest, err := parseFlags(fs, deliverSynopsis, args, stdout, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("多余的参数：%s", strings.Join(rest, " "))
	}
	cfg, err := getCfg()
	if err != nil {
		return err
	}
	now, explicit := time.Now(), false
	if *at != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04", *at, deliver.Zone())
		if err != nil {
			return usagef("--at「%s」应为 YYYY-MM-DDTHH:MM（北京时间），例如 2025-07-05T08:00", *at)
		}
		now, explicit = t, true
		cfg.Now = func() time.Time { return t }
	}
	svc, closeAll, err := openDelivery(ctx, *db, cfg, stderr)
	if err != nil {
		return err
	}
	defer closeAll()
	sum, err := svc.RunOnce(ctx, now, explicit)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s：新记录 %d 个投递；发送成功 %d，等待重试 %d，失败 %d，状态不明 %d，已停止 %d\n",
		now.In(deliver.Zone()).Format("2006-01-02 15:04"), sum.Recorded, sum.Sent, sum.Retry, sum.Failed, sum.Uncertain, sum.Stopped)
	if bad := sum.Retry + sum.Failed + sum.Uncertain; bad > 0 {
		ds, _ := svc.Deliveries(ctx, deliver.DeliveryFilter{Status: []string{deliver.StatusRetry, deliver.StatusFailed, deliver.StatusUncertain}, Limit: bad})
		for _, d := range ds {
			fmt.Fprintf(stderr, "投递 #%d（%s %s → %s %s）：%s：%s\n", d.ID, d.User, deliver.ReportLabel(d.Report), deliver.ChannelLabel(d.Channel), d.Target, deliver.StatusLabel(d.Status), d.Error)
		}
		return fmt.Errorf("%d 个投递没有送达（见上；tisheng subscription list 或管理页面）", bad)
	}
	return nil
}
