package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"tisheng/internal/warehouse"
	"tisheng/models"
)

func runRefresh(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("refresh", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "warehouse file")
	profile := fs.String("profile", "", "national, xiamen, baoji, guangdong or a PATH.json (default: the last one used, else national)")
	full := fs.Bool("full", false, "rebuild every model from every batch (default: only the months the batches loaded or removed since the last refresh can have changed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" {
		return errors.New("--db is required")
	}
	wh, err := warehouse.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer wh.Close()
	return refresh(ctx, wh, *profile, *full, stdout)
}

// refresh picks the profile (named, else the recorded one, else national), refreshes (whole
// if full) and prints what it built.
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
	fmt.Fprintf(stdout, "profile %s（%s）\n", p.Name, p.Label)
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
			from = " from " + b.From
		}
		fmt.Fprintf(stdout, "  %-26s %10d rows %7d ms%s\n", b.Table, b.Rows, b.Millis, from)
	}
	for _, c := range rep.Checked {
		fmt.Fprintf(stdout, "  test %-21s %10s      %7d ms\n", c.Table, "passed", c.Millis)
	}
	fmt.Fprintf(stdout, "data tests: %d passed; refresh took %d ms\n", rep.Tests, rep.Millis)
	return nil
}
