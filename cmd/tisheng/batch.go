package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"text/tabwriter"

	"tisheng/internal/warehouse"
	"tisheng/models"
)

const batchSynopsis = "tisheng batch list --db 文件 | tisheng batch rm --db 文件 批次号…"

// runBatch lists the loaded files, or takes some back (rows, rejects, catalogue entries and
// batch in one transaction, recorded with the OS user's name) and refreshes.
func runBatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, err := subcommand("batch", batchSynopsis, []string{"list", "ls", "rm"}, args, stdout, stderr)
	if err != nil {
		return err
	}
	fs := newFlags("batch " + sub)
	db := fs.String("db", "", "仓库`文件`")
	rest, err := parseFlags(fs, batchSynopsis, args[1:], stdout, stderr)
	if err != nil {
		return err
	}
	if *db == "" {
		return usagef("需要 --db 仓库文件")
	}
	switch sub {
	case "list", "ls":
		if len(rest) != 0 {
			return usagef("多余的参数：%v（batch list 只需 --db）", rest)
		}
		wh, err := warehouse.OpenExisting(ctx, *db)
		if err != nil {
			return err
		}
		defer wh.Close()
		return listBatches(ctx, wh, stdout)
	case "rm":
		if len(rest) == 0 {
			return usagef("需要要删除的批次号（tisheng batch list 列出它们）")
		}
		var ids []int64
		for _, a := range rest {
			id, err := strconv.ParseInt(a, 10, 64)
			if err != nil {
				return fmt.Errorf("批次编号应为数字：%q", a)
			}
			ids = append(ids, id)
		}
		wh, err := warehouse.OpenExisting(ctx, *db)
		if err != nil {
			return err
		}
		defer wh.Close()
		removed, err := wh.RemoveBatches(ctx, osUser(), ids)
		if err != nil {
			return err
		}
		for _, r := range removed {
			fmt.Fprintf(stdout, "已删除批次 %d：%s（%s，%s）%d 行\n", r.ID, r.FileName, r.Kind, r.AsOf, r.RowsRemoved)
		}
		if err := refresh(ctx, wh, "", false, stdout); err != nil {
			return fmt.Errorf("批次已删除，但刷新失败（模型仍是旧的，修正后运行 tisheng refresh）：%w", err)
		}
		return nil
	}
	return usagef("tisheng batch 没有子命令「%s」", sub)
}

func listBatches(ctx context.Context, wh *warehouse.Warehouse, stdout io.Writer) error {
	bs, err := wh.Batches(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "批次\t类型\t数据截止\t学校\t行数\t接受\t拒绝\t导入时间\t文件")
	for _, b := range bs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", b.ID, b.Kind, b.AsOf, b.School, b.Rows, b.Accepted, b.Rejected,
			b.LoadedAt.Format("2006-01-02 15:04"), b.FileName)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if stale, err := models.Outdated(ctx, wh.DB); err == nil && stale {
		fmt.Fprintln(stdout, "模型早于已导入的批次：请运行 tisheng refresh")
	}
	return nil
}

// osUser names who ran the command, for batch_removals.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}
