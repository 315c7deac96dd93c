package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"tisheng/internal/apperr"
	"tisheng/internal/scoped"
	"tisheng/internal/warehouse"
	"tisheng/models"
	"tisheng/queries"
	"tisheng/reports"
)

const reportSynopsis = "tisheng report monthly|school|annual --db 文件 [--month YYYY-MM] [--district 区县] [--school 学校代码] [--unit 制表单位] [--out 文件.xlsx]\n" +
	"       tisheng report annual-doc|swot …（Word 文档，见 tisheng report annual-doc -h）"

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report")
	db := fs.String("db", "", "仓库`文件`")
	month := fs.String("month", "", "统计月份 `YYYY-MM`（默认：最新的月份）")
	district := fs.String("district", "", "`区县`（默认：全部区县）")
	school := fs.String("school", "", "`学校代码`（学校名单必填）")
	unit := fs.String("unit", "", "`制表单位`，印在封面、标题和页脚（默认：留空，打印后手填）")
	out := fs.String("out", "", "写入的`文件.xlsx`（默认：报表自己的文件名）")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if _, err := parseFlags(fs, reportSynopsis, args, stdout, stderr); err != nil {
			return err
		}
		printUsage(stderr, fs, reportSynopsis)
		return usagef("请指明报表：monthly（月报）、school（学校名单）、annual（年报）、annual-doc（年度实施情况报告）或 swot（诊断报告）")
	}
	kind := args[0]
	if kind == "annual-doc" || kind == "swot" { // the Word documents (document.go)
		return runDocument(ctx, kind, args[1:], stdout, stderr)
	}
	rest, err := parseFlags(fs, reportSynopsis, args[1:], stdout, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("多余的参数：%s", strings.Join(rest, " "))
	}
	if *db == "" {
		return usagef("需要 --db 仓库文件")
	}
	switch kind {
	case "monthly", "annual":
	case "school":
		if *school == "" {
			return usagef("学校名单需要 --school 学校代码")
		}
	default:
		return usagef("没有报表「%s」（可选 monthly 月报、school 学校名单、annual 年报、annual-doc 年度实施情况报告、swot 诊断报告）", kind)
	}
	if *month != "" {
		if _, err := time.Parse("2006-01", *month); err != nil {
			return usagef("--month %q 应为 YYYY-MM，例如 2025-06", *month)
		}
	}
	// A workbook written under another extension opens as garbage or not at all.
	if *out != "" && !strings.EqualFold(filepath.Ext(*out), ".xlsx") {
		return usagef("--out %s：报表是 Excel 工作簿，文件名应以 .xlsx 结尾", *out)
	}
	wh, _, rp, err := openReports(ctx, *db)
	if err != nil {
		return err
	}
	defer wh.Close()
	p := queries.Params{Month: *month, District: *district, School: *school}
	var wb *reports.Workbook
	switch kind {
	case "monthly":
		wb, err = rp.Monthly(ctx, p)
	case "school":
		wb, err = rp.SchoolRoster(ctx, p)
	case "annual":
		if p.District == "" {
			wb, err = rp.Annual(ctx, p)
			break
		}
		// a district's 年报 is worked from the district's own rows, aggregates included
		var d *scoped.DB
		var cat *models.Catalog
		if cat, err = models.Builtin(); err != nil {
			return err
		}
		if d, err = scoped.Build(ctx, wh.DB, cat, scoped.Key{District: p.District}, ""); err != nil {
			return err
		}
		defer d.Close()
		var dr *queries.Runner
		if dr, err = queries.NewRunner(d.DB); err != nil {
			return err
		}
		var drp *reports.Reports
		if drp, err = reports.New(dr); err != nil {
			return err
		}
		wb, err = drp.Annual(ctx, p)
	}
	if errors.Is(err, reports.ErrNotFound) {
		return fmt.Errorf("没有找到：%s", apperr.MessageOf(err))
	}
	if err != nil {
		return err
	}
	wb.Unit = *unit
	path := *out
	if path == "" {
		path = wb.FileName
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := wb.Write(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "已写入 %s\n", path)
	if wb.Stale > 0 {
		fmt.Fprintf(stderr, "注意：%d 所学校本月的数据来自更早月份的导出文件（报表中已标出“数据滞后”）\n", wb.Stale)
	}
	return nil
}

// openReports opens a warehouse read-only and locked, with its query runner and reports.
func openReports(ctx context.Context, db string) (*warehouse.Warehouse, *queries.Runner, *reports.Reports, error) {
	wh, err := warehouse.OpenReadOnly(ctx, db)
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := queries.NewRunner(wh.DB)
	if err != nil {
		wh.Close()
		return nil, nil, nil, err
	}
	rp, err := reports.New(r)
	if err != nil {
		wh.Close()
		return nil, nil, nil, err
	}
	return wh, r, rp, nil
}
