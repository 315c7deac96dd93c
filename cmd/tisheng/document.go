package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"tisheng/internal/apperr"
	"tisheng/internal/scoped"
	"tisheng/models"
	"tisheng/queries"
	"tisheng/reports"
)

const documentSynopsis = "tisheng report annual-doc --db 文件 [--year YYYY] [--district 区县] [--unit 制表单位] --out 文件.docx\n" +
	"       tisheng report swot --db 文件 --school 学校代码 [--unit 学校名称] --out 文件.docx\n" +
	"       tisheng report swot --db 文件 --district 区县 --out 文件.zip"

// runDocument writes the Word documents: the 年度实施情况报告 (annual-doc) and a school's
// SWOT 诊断报告 (swot; with --district and no --school, every school of the district in
// one zip).
func runDocument(ctx context.Context, kind string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report " + kind)
	db := fs.String("db", "", "仓库`文件`")
	year := fs.String("year", "", "统计`年度` YYYY（默认：有数据的最近一年）")
	district := fs.String("district", "", "`区县`（年度报告默认：全部区县）")
	school := fs.String("school", "", "`学校代码`（诊断报告）")
	unit := fs.String("unit", "", "落款的`单位`名称（默认：留作待填写）")
	out := fs.String("out", "", "写入的`文件`（.docx；全部学校的诊断报告为 .zip）")
	rest, err := parseFlags(fs, documentSynopsis, args, stdout, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("多余的参数：%s", strings.Join(rest, " "))
	}
	if *db == "" {
		return usagef("需要 --db 仓库文件")
	}
	ext := ".docx"
	switch {
	case kind == "annual-doc":
		if _, err := reports.ParseYear(*year); err != nil {
			return usagef("--year %q 应为四位年份，例如 2025", *year)
		}
		if *school != "" {
			return usagef("年度实施情况报告不按学校写，请去掉 --school")
		}
	case *school != "":
		if *year != "" {
			return usagef("诊断报告用最新月份的数据，不接受 --year")
		}
	case *district != "":
		ext = ".zip"
	default:
		return usagef("诊断报告需要 --school 学校代码（或 --district 区县，写该区县全部学校）")
	}
	if *out == "" {
		return usagef("需要 --out 文件%s", ext)
	}
	if !strings.EqualFold(filepath.Ext(*out), ext) {
		return usagef("--out %s：文件名应以 %s 结尾", *out, ext)
	}
	wh, _, rp, err := openReports(ctx, *db)
	if err != nil {
		return err
	}
	defer wh.Close()
	p := queries.Params{District: *district, School: *school}
	if *district != "" {
		// a district's documents are written from the district's own rows, as its 年报
		cat, err := models.Builtin()
		if err != nil {
			return err
		}
		d, err := scoped.Build(ctx, wh.DB, cat, scoped.Key{District: *district}, "")
		if err != nil {
			return err
		}
		defer d.Close()
		r, err := queries.NewRunner(d.DB)
		if err != nil {
			return err
		}
		if rp, err = reports.New(r); err != nil {
			return err
		}
	}
	var wb *reports.Workbook
	switch {
	case kind == "annual-doc":
		wb, err = rp.AnnualDoc(ctx, *year, p)
	case *school != "":
		wb, err = rp.SchoolSWOT(ctx, p)
	default:
		wb, err = rp.SchoolSWOTZip(ctx, p)
	}
	if errors.Is(err, reports.ErrNotFound) {
		return fmt.Errorf("没有找到：%s", apperr.MessageOf(err))
	}
	if errors.Is(err, reports.ErrBadParam) {
		return usagef("%s", apperr.MessageOf(err))
	}
	if err != nil {
		return err
	}
	wb.Unit = *unit
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := wb.Write(f); err != nil {
		f.Close()
		os.Remove(*out)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "已写入 %s\n", *out)
	return nil
}
