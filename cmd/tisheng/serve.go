package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"tisheng/ingest"
	"tisheng/internal/auth"
	"tisheng/internal/deliver"
	"tisheng/internal/metrics"
	"tisheng/internal/server"
	"tisheng/internal/warehouse"
	"tisheng/queries"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg server.Config
	const synopsis = "tisheng serve --db 文件 [--addr 127.0.0.1:8080] [--max-upload 字节数] [--sql-timeout 30s] [--sql-rows 10000] [--allowed-hosts 主机名,…] [--tls-cert 证书 --tls-key 私钥]\n" +
		"                     [--backup-dir 目录 [--backup-at \"30 2 * * *\"] [--backup-keep 14]] [--metrics-addr 127.0.0.1:9108]"
	fs := newFlags("serve")
	db := fs.String("db", "", "仓库`文件`")
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "监听的 `地址:端口`")
	fs.Int64Var(&cfg.MaxUpload, "max-upload", 1<<30, "一次上传最多的 `字节数`")
	fs.DurationVar(&cfg.SQLTimeout, "sql-timeout", 30*time.Second, "SQL 查询的 `时限`")
	fs.IntVar(&cfg.SQLRowLimit, "sql-rows", 10000, "SQL 查询最多返回的 `行数`")
	fs.Int64Var(&cfg.SQLBytes, "sql-bytes", queries.DefaultByteLimit, "SQL 查询结果最多的 `字节数`")
	fs.Int64Var(&cfg.SQLMemory, "sql-memory", queries.DefaultMemory, "一条 SQL 查询运行时进程内存最多增长的 `字节数`，超过即中断该查询")
	fs.IntVar(&cfg.MaxSQL, "max-sql", server.DefaultMaxSQL, "同时运行的 SQL 查询`个数`")
	fs.IntVar(&cfg.SQLPerScope, "sql-per-scope", server.DefaultSQLPerScope, "一个区县或学校同时运行的 SQL 查询`个数`（工程办另有一个专用名额）")
	fs.IntVar(&cfg.MaxUploads, "max-uploads", server.DefaultMaxUploads, "同时导入的上传`个数`")
	fs.IntVar(&cfg.MaxUploadFiles, "max-upload-files", server.DefaultMaxUploadFiles, "一次上传最多的`文件数`")
	fs.Int64Var(&cfg.BodyMinRate, "min-body-rate", server.DefaultBodyMinRate, "请求体每 30 秒内须达到的平均`字节每秒`，低于即中断")
	fs.IntVar(&cfg.ReceivingPerScope, "uploads-per-scope", server.DefaultReceivingPerScope, "一个区县（连同其学校）或学校同时接收的上传`个数`（工程办另有一个专用名额）")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", server.DefaultWriteTimeout, "写出一个响应的`时限`")
	maxMem := fs.String("max-memory", defaultMaxMemory(), "进程内存的硬上限（如 6GB；none 不设）：超过时失败的是查询而不是服务器（Linux）")
	hosts := fs.String("allowed-hosts", "", "服务器接受的`主机名`，逗号分隔（IP 地址和 localhost 总是接受）")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "HTTPS 的`证书`文件（PEM）")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "HTTPS 的`私钥`文件（PEM）")
	fs.IntVar(&cfg.Scopes.Max, "scope-cache", 8, "内存中同时保留的区县、学校数据库`个数`")
	fs.StringVar(&cfg.Backup.Dir, "backup-dir", "", "备份`目录`：管理页面的「立即备份」、POST /api/admin/backup 和定时备份都写到这里，每次一个带日期的子目录；升级数据结构前的备份也放在这里（不给则放在仓库文件旁的 文件.backups）")
	backupAt := fs.String("backup-at", "", "定时备份的`时间`：五段 cron 表达式（分 时 日 月 周，北京时间），如 \"30 2 * * *\" 表示每天 2:30；需要 --backup-dir")
	fs.IntVar(&cfg.Backup.Keep, "backup-keep", 14, "保留最新的`份数`（已校验的备份；升级前的备份不计、不删；0 表示全部保留）")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "另开一个只提供 /metrics（Prometheus 格式，无需登录）的监听`地址:端口`，供本机或内网的监控采集，如 127.0.0.1:9108；主端口上的 /metrics 只对管理员开放")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", server.DefaultShutdownGrace, "收到停止信号后，等待进行中的上传和刷新完成的`时长`；超过则中止它们（已导入的文件不受影响，中止的文件可重新上传）")
	verbose := fs.Bool("v", true, "记录每个请求的日志")
	getDelivery := deliveryFlags(fs)
	if _, err := parseFlags(fs, synopsis, args, stdout, stderr); err != nil {
		return err
	}
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			cfg.AllowedHosts = append(cfg.AllowedHosts, h)
		}
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return usagef("--tls-cert 与 --tls-key 须同时给出")
	}
	n, err := parseBytes(*maxMem)
	if err != nil {
		return usagef("--max-memory：%v", err)
	}
	if err := setMaxMemory(n); err != nil {
		return fmt.Errorf("max-memory: %w", err)
	}
	if *db == "" {
		return usagef("需要 --db 仓库文件")
	}
	if *backupAt != "" {
		if cfg.Backup.Dir == "" {
			return usagef("--backup-at 需要 --backup-dir 备份目录")
		}
		if cfg.Backup.At, err = server.ParseBackupAt(*backupAt); err != nil {
			return usagef("--backup-at：%v", err)
		}
		cfg.Backup.AtSpec = *backupAt
	}
	if cfg.Backup.Keep < 0 {
		return usagef("--backup-keep 不能为负数")
	}
	dcfg, err := getDelivery()
	if err != nil {
		return err
	}
	return serve(ctx, cfg, dcfg, *db, stdout, stderr, *verbose)
}

// serve opens the warehouse locked (no file access from SQL but for the backup directory's
// staging folder, configuration fixed) and serves it.
func serve(ctx context.Context, cfg server.Config, dcfg deliver.Config, db string, stdout, stderr io.Writer, verbose bool) error {
	log := newLogger(stderr, verbose)
	wh, err := warehouse.OpenWith(ctx, db, warehouse.Options{Locked: true, BackupDir: cfg.Backup.Dir, Log: log})
	if err != nil {
		return err
	}
	defer wh.Close()
	key, err := ingest.LoadKey(ctx, wh.DB, db)
	if err != nil {
		return err
	}
	cfg.Backup.Key = key
	// one registry for the whole server, handed down
	cfg.Metrics = metrics.New()
	dcfg.Metrics = cfg.Metrics
	if cfg.Backup.Dir != "" {
		// what a server killed during a backup left
		if err := warehouse.SweepBackups(cfg.Backup.Dir); err != nil {
			return err
		}
		if bs, err := warehouse.ListBackups(cfg.Backup.Dir); err == nil {
			for _, b := range bs {
				if b.Status == warehouse.StatusVerified {
					cfg.Metrics.LastBackup(b.Manifest.FinishedAt, time.Duration(b.Manifest.CopyMS+b.Manifest.VerifyMS)*time.Millisecond, b.Bytes)
					break
				}
			}
		}
	}
	loader, err := ingest.NewLoader(ctx, wh, key, log)
	if err != nil {
		return err
	}
	accounts := auth.NewStore(wh.DB, auth.DefaultPolicy)
	// device cookies outlive a restart: their key derives from the key file, which no SQL
	// can read
	accounts.SetDeviceKey(auth.DeviceKey(key))
	users, err := accounts.Users(ctx)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		log.Warn("还没有任何账号，无人能登录：请先停止服务，执行 tisheng user add --db " + db + " --name 用户名 --role admin")
	}
	srv, err := server.New(cfg, wh, loader, accounts, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	// subscriptions go out in the background, with their own workers and time limits: a
	// mail server that does not answer delays deliveries, never pages
	svc, err := newDeliveryService(dcfg, wh, key, accounts, srv, log)
	if err != nil {
		return err
	}
	dctx, stopDelivery := context.WithCancel(ctx)
	delivered := make(chan struct{})
	go func() { svc.Run(dctx); close(delivered) }()
	defer func() { stopDelivery(); <-delivered }()
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	} else if !loopback(cfg.Addr) {
		log.Warn("在非本机地址上以明文 HTTP 提供个人数据：密码和页面会以明文在网络上传输；请用 --tls-cert 和 --tls-key 启用 HTTPS", "addr", cfg.Addr)
	}
	// Models older than the batches (a server killed after a load committed and before its
	// refresh finished) are rebuilt first; pages answer from the old state meanwhile.
	go func() {
		refreshed, err := srv.RefreshIfOutdated(ctx)
		switch {
		case err != nil:
			log.Error("启动时重新计算失败：统计仍早于已导入的文件", "err", err)
		case refreshed:
			log.Warn("统计早于已导入的文件：已在启动时重新计算")
		}
	}()
	if cfg.Backup.At != nil {
		backups := make(chan struct{})
		go func() { srv.RunBackups(ctx); close(backups) }()
		defer func() { <-backups }()
	}
	if cfg.MetricsAddr != "" && !loopback(cfg.MetricsAddr) {
		log.Warn("监控指标在非本机地址上无需登录即可读取：请只在内网开放该端口", "metrics-addr", cfg.MetricsAddr)
	}
	fmt.Fprintf(stdout, "tisheng：仓库 %s 已在 %s://%s/ 提供服务\n", db, scheme, cfg.Addr)
	return srv.Run(ctx)
}

// loopback reports whether addr listens on the loopback interface only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
