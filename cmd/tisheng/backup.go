package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"tisheng/internal/deliver"
	"tisheng/internal/warehouse"
)

// runBackup: tisheng backup --db FILE --out DIR, for a warehouse no server holds (a
// serving one is backed up by the server: the 管理 page, POST /api/admin/backup).
func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "tisheng backup --db 文件 --out 备份目录 [--keep N]"
	fs := newFlags("backup")
	db := fs.String("db", "", "仓库`文件`（不能是正在服务的仓库：那时请在管理页面备份）")
	out := fs.String("out", "", "备份`目录`：在其中新建一个带日期的子目录，放仓库文件、密钥文件和清单")
	keep := fs.Int("keep", 0, "只保留最新的`份数`（0 表示全部保留）")
	rest, err := parseFlags(fs, synopsis, args, stdout, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("多余的参数：%v", rest)
	}
	if *db == "" || *out == "" {
		return usagef("需要 --db 仓库文件和 --out 备份目录")
	}
	if *keep < 0 {
		return usagef("--keep 不能为负数")
	}
	// Read-only: a backup neither migrates the warehouse nor writes to it, and a copy of
	// an older release's warehouse stays in that release's shape.
	wh, err := warehouse.OpenWith(ctx, *db, warehouse.Options{ReadOnly: true})
	var le *warehouse.LockedError
	if errors.As(err, &le) {
		return fmt.Errorf("仓库文件 %s 正被进程 %d 占用，通常是 tisheng serve 在提供服务：服务运行时请在管理页面点「立即备份」，"+
			"或 POST /api/admin/backup（服务须以 --backup-dir 启动）", *db, le.PID)
	}
	if err != nil {
		return err
	}
	defer wh.Close()
	key, file, err := warehouse.FindKey(*db)
	if errors.Is(err, warehouse.ErrNoKey) {
		return fmt.Errorf("找不到仓库的密钥（%s）：没有密钥的备份恢复后无法与新导入的文件对应，请先找回密钥文件", file)
	}
	if err != nil {
		return err
	}
	if err := warehouse.CheckKey(ctx, wh.DB, key); err != nil {
		return fmt.Errorf("密钥（%s）不是这个仓库导入时所用的密钥：请找回正确的密钥文件", keyPlace(file))
	}
	start := time.Now()
	b, err := wh.Backup(ctx, warehouse.BackupOptions{Dir: *out, Key: key, Reason: warehouse.ReasonCommand})
	if err != nil {
		return err
	}
	m := b.Manifest
	fmt.Fprintf(stdout, "备份完成并通过校验：%s\n  %d 个批次（最新数据截至 %s），%d 张表和视图，%s，数据结构版本 %d，用时 %.1f 秒\n",
		b.Path, m.Batches.Count, orNone(m.Batches.LatestAsOf), len(m.Tables), warehouse.SizeText(m.Size()), m.SchemaVersion, time.Since(start).Seconds())
	removed, err := warehouse.PruneBackups(*out, *keep)
	for _, r := range removed {
		fmt.Fprintf(stdout, "  已删除旧备份 %s\n", r)
	}
	return err
}

// runRestore: tisheng restore --from DIR --db FILE [--check].
func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "tisheng restore --from 备份 --db 文件 | tisheng restore --from 备份 --check"
	fs := newFlags("restore")
	from := fs.String("from", "", "一次备份的`目录`（备份目录下带日期的子目录，内有 manifest.json）")
	db := fs.String("db", "", "恢复成的仓库`文件`：已有的文件（连同其 .wal 和 .key）改名保留在旁边；正在服务的仓库不能恢复，请先停止服务")
	check := fs.Bool("check", false, "只检查这份备份（校验和、清单、密钥，只读打开逐表核对），不恢复")
	rest, err := parseFlags(fs, synopsis, args, stdout, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("多余的参数：%v", rest)
	}
	if *from == "" || (*db == "" && !*check) {
		return usagef("需要 --from 备份目录，以及 --db 仓库文件（或 --check）")
	}
	if *check {
		m, err := warehouse.VerifyBackup(ctx, *from)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "备份完好：%s\n  %d 个批次（最新数据截至 %s），%d 张表和视图，%s，数据结构版本 %d，备份于 %s\n",
			*from, m.Batches.Count, orNone(m.Batches.LatestAsOf), len(m.Tables), warehouse.SizeText(m.Size()), m.SchemaVersion, m.CreatedAt.In(deliver.Zone()).Format("2006-01-02 15:04:05")+"（北京时间）")
		return nil
	}
	res, err := warehouse.Restore(ctx, *from, *db, time.Now())
	if err != nil {
		return err
	}
	m := res.Manifest
	fmt.Fprintf(stdout, "已从 %s 恢复到 %s，并逐表核对一致：\n  %d 个批次（最新数据截至 %s），%d 张表和视图，数据结构版本 %d，备份于 %s\n",
		*from, res.DB, m.Batches.Count, orNone(m.Batches.LatestAsOf), len(m.Tables), m.SchemaVersion, m.CreatedAt.In(deliver.Zone()).Format("2006-01-02 15:04:05")+"（北京时间）")
	fmt.Fprintf(stdout, "  密钥已放在 %s\n", warehouse.KeyFile(res.DB))
	for _, k := range res.Kept {
		fmt.Fprintf(stdout, "  原有文件已保留为 %s\n", k)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "注意：%s\n", w)
	}
	return nil
}

func keyPlace(file string) string {
	if file == "" {
		return "环境变量 " + warehouse.KeyEnv
	}
	return file
}

func orNone(s string) string {
	if s == "" {
		return "无"
	}
	return s
}
