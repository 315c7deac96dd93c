// Command tisheng loads the training platforms' exports into a DuckDB warehouse and reports
// on them. main wires flags into configs and constructors; nothing here is global state.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"tisheng/ingest"
	"tisheng/internal/warehouse"
)

const usage = `tisheng：中小学教师信息技术应用能力提升工程2.0 数据仓库

用法：
  tisheng ingest  --db 文件 [--as-of YYYY-MM-DD] [--school 学校代码 | --school 学校代码=文件 …]
                  [--school-from-name 模式] [--kind 类型] [--catalogue 目录名] [--json] 文件…
  tisheng refresh --db 文件 [--profile national|xiamen|baoji|guangdong|规则.json]
  tisheng report  monthly|school|annual --db 文件 [--month YYYY-MM] [--district 区县] [--school 学校代码]
                  [--unit 制表单位] [--out 文件.xlsx]
  tisheng serve   --db 文件 [--addr 127.0.0.1:8080] [--allowed-hosts 主机名,…] [--tls-cert 证书 --tls-key 私钥]
                  [--backup-dir 目录 [--backup-at "30 2 * * *"] [--backup-keep 14]] [--metrics-addr 127.0.0.1:9108]
  tisheng backup  --db 文件 --out 备份目录 [--keep N]
  tisheng restore --from 备份 --db 文件 | --from 备份 --check
  tisheng user    add --db 文件 --name 用户名 --role admin|district|school|leader [--district 区县] [--school 学校代码]
                  [--password-stdin]
  tisheng user    list|disable|enable|passwd --db 文件 [用户名]
  tisheng token   add --db 文件 --user 用户名 | list --db 文件 | revoke --db 文件 令牌编号
  tisheng subscription add --db 文件 --user 用户名 --report monthly|annual|school [--school 学校代码]
                  --to email:地址|wecom:Webhook地址|dingtalk:Webhook地址 [--secret-stdin] [--schedule 时间]
  tisheng subscription list|rm --db 文件 [订阅编号…]
  tisheng deliver --db 文件 [--at YYYY-MM-DDTHH:MM] [--smtp 主机:端口 --smtp-from 地址 …]
  tisheng batch   list --db 文件 | rm --db 文件 批次号…
  tisheng sql     --db 文件 [--format table|csv|json|xlsx|arrow] [--out 文件] 查询语句
  tisheng gen     --out 目录 [--districts N] [--teachers N] [--seed N]
  tisheng demo    [--dir 目录] [--teachers N] [--districts N] [--addr 127.0.0.1:8080]

命令后加 -h 查看它的全部选项。
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one subcommand and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "ingest", "refresh", "serve", "user", "token", "batch", "demo", "backup", "restore":
		// the commands that write the warehouse: what they and DuckDB create beside it
		// (the WAL, spill and upload files) is private to the user from the start
		privateFiles()
	}
	switch args[0] {
	case "ingest":
		return runIngest(ctx, args[1:], stdout, stderr)
	case "refresh":
		err = runRefresh(ctx, args[1:], stdout, stderr)
	case "report":
		err = runReport(ctx, args[1:], stdout, stderr)
	case "serve":
		err = runServe(ctx, args[1:], stdout, stderr)
	case "sql":
		err = runSQL(ctx, args[1:], stdout, stderr)
	case "user":
		err = runUser(ctx, args[1:], os.Stdin, stdout, stderr)
	case "token":
		err = runToken(ctx, args[1:], stdout, stderr)
	case "batch":
		err = runBatch(ctx, args[1:], stdout, stderr)
	case "subscription":
		err = runSubscription(ctx, args[1:], os.Stdin, stdout, stderr)
	case "deliver":
		err = runDeliver(ctx, args[1:], stdout, stderr)
	case "backup":
		err = runBackup(ctx, args[1:], stdout, stderr)
	case "restore":
		err = runRestore(ctx, args[1:], stdout, stderr)
	case "gen":
		err = runGen(ctx, args[1:], stdout, stderr)
	case "demo":
		err = runDemo(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "tisheng：没有命令「%s」\n\n%s", args[0], usage)
		return 2
	}
	return exitStatus(stderr, args[0], err)
}

// exitStatus prints a command's error and gives its exit status: 0 for success or -h, 2 for
// a command line that cannot run, 1 for a failure.
func exitStatus(stderr io.Writer, cmd string, err error) int {
	if err == nil || errors.Is(err, errHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "tisheng %s：%v\n", cmd, err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// openLoader opens the warehouse file and a loader with the file's ID key.
func openLoader(ctx context.Context, db string, log *slog.Logger) (*warehouse.Warehouse, *ingest.Loader, error) {
	wh, err := warehouse.Open(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	key, err := ingest.LoadKey(ctx, wh.DB, db)
	if err != nil {
		wh.Close()
		return nil, nil, err
	}
	l, err := ingest.NewLoader(ctx, wh, key, log)
	if err != nil {
		wh.Close()
		return nil, nil, err
	}
	return wh, l, nil
}

// newLogger logs to stderr: warnings only unless verbose, so that stdout stays the result.
func newLogger(w io.Writer, verbose bool) *slog.Logger {
	lvl := slog.LevelWarn
	if verbose {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}
