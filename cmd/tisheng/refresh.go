package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"tisheng/ingest"
	"tisheng/internal/warehouse"
	"tisheng/models"
)

func runRefresh(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "tisheng refresh --db 文件 [--profile national|xiamen|baoji|guangdong|规则.json] [--full]"
	fs := newFlags("refresh")
	db := fs.String("db", "", "仓库`文件`")
	profile := fs.String("profile", "", "规则方案：national、xiamen、baoji、guangdong 或一个 `规则.json`（默认：上次用的，否则 national）")
	full := fs.Bool("full", false, "用全部批次重建所有模型（默认只重算上次刷新后载入或删除的批次可能影响的月份）")
	rest, err := parseFlags(fs, synopsis, args, stdout, stderr)
	if err != nil {
		return err
	}
	if *db == "" {
		return usagef("需要 --db 仓库文件")
	}
	if len(rest) > 0 {
		return usagef("多余的参数：%s", strings.Join(rest, " "))
	}
	wh, err := warehouse.OpenExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer wh.Close()
	if err := ensureNational(ctx, wh, *db, stderr); err != nil {
		return err
	}
	return refresh(ctx, wh, *profile, *full, stdout)
}

// ensureNational loads the built-in national catalogue into a warehouse that has none yet
// (one no file was ever loaded into), as every load and the server do: every warehouse
// has the national 30 points. The loader that does it needs the ID key, which is read (or
// made) only then.
func ensureNational(ctx context.Context, wh *warehouse.Warehouse, db string, stderr io.Writer) error {
	var n int
	if err := wh.DB.QueryRowContext(ctx, `SELECT count(*) FROM abilities WHERE catalogue = ?`, ingest.NationalCatalogue).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	key, err := ingest.LoadKey(ctx, wh.DB, db)
	if err != nil {
		return err
	}
	_, err = ingest.NewLoader(ctx, wh, key, newLogger(stderr, false))
	return err
}

// refresh picks the profile (named, else the recorded one, else national), refreshes and
// prints what it built.
func refresh(ctx context.Context, wh *warehouse.Warehouse, name string, full bool, stdout io.Writer) error {
	var p models.Profile
	var err error
	switch {
	case name != "":
		p, err = models.LoadProfile(name)
	default:
		p, err = models.CurrentProfile(ctx, wh.DB)
		if errors.Is(err, models.ErrNoProfile) {
			p, err = models.LoadProfile("national")
		}
	}
	if err != nil {
		return err
	}
	run := models.Refresh
	if full {
		run = models.RefreshFull
	}
	rep, err := run(ctx, wh, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "规则方案 %s（%s）\n", p.Name, p.Label)
	switch rep.Mode {
	case "unchanged":
		fmt.Fprintf(stdout, "模型已是最新：上次刷新后没有载入或删除批次\n")
		return nil
	case "incremental":
		if rep.From == "" {
			fmt.Fprintf(stdout, "增量刷新：各月的数据都没有变化，只重建了依赖批次清单的模型\n")
			break
		}
		fmt.Fprintf(stdout, "增量刷新：重算 %s 起的月份，其余月份和未受影响的模型保留\n", rep.From)
	default:
		fmt.Fprintf(stdout, "全量刷新：%s\n", rep.Reason)
	}
	for _, b := range rep.Built {
		from := ""
		if b.From != "" {
			from = "，自 " + b.From + " 起"
		}
		fmt.Fprintf(stdout, "  模型 %-26s %10d 行  %7d 毫秒%s\n", b.Table, b.Rows, b.Millis, from)
	}
	for _, c := range rep.Checked {
		fmt.Fprintf(stdout, "  检查 %-26s %10s     %7d 毫秒\n", c.Table, "通过", c.Millis)
	}
	fmt.Fprintf(stdout, "数据检查：%d 项通过；刷新用时 %d 毫秒\n", rep.Tests, rep.Millis)
	return nil
}
