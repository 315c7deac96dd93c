package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"tisheng/ingest"
)

// benchIngest times `tisheng ingest` of one hours export in UTF-8 CSV, GBK CSV and XLSX,
// each into a copy of a warehouse holding only the school list (made by the same binary).
func (c *config) benchIngest(ctx context.Context) ([]row, error) {
	files, err := c.hoursFiles()
	if err != nil {
		return nil, err
	}
	tmpl := map[bool]string{}
	for _, old := range []bool{true, false} {
		bin := c.newBin
		if old {
			bin = c.oldBin
		}
		t := filepath.Join(c.dir, "ingest-template-"+c.label(old)+".duckdb")
		removeDB(t)
		if _, _, err := c.tisheng(ctx, bin, "ingest", "--db", t, files.schools); err != nil {
			return nil, err
		}
		tmpl[old] = t
	}
	var rows []row
	for _, f := range []struct {
		name, file string
		n          int
	}{
		{fmt.Sprintf("ingest CSV UTF-8 (%d rows)", c.rows), files.csv, c.rows},
		{fmt.Sprintf("ingest CSV GBK (%d rows)", c.rows), files.gbk, c.rows},
		{fmt.Sprintf("ingest XLSX (%d rows)", c.xrows), files.xlsx, c.xrows},
	} {
		fmt.Fprintf(c.stdout, "%s …\n", f.name)
		olds, news, err := c.inTurn(c.runs, func(bin string, old bool) (float64, error) {
			db := filepath.Join(c.dir, "ingest-"+c.label(old)+".duckdb")
			if err := copyDB(tmpl[old], db); err != nil {
				return 0, err
			}
			el, out, err := c.tisheng(ctx, bin, "ingest", "--db", db, "--json", f.file)
			if err != nil {
				return 0, err
			}
			if !strings.Contains(string(out), `"status":"loaded"`) || !strings.Contains(string(out), fmt.Sprintf(`"accepted":%d`, f.n)) {
				return 0, fmt.Errorf("ingest %s did not load every row: %s", f.file, tail(string(out), 500))
			}
			return seconds(el), nil
		})
		rows = append(rows, row{name: f.name, unit: "s", target: "≤ 1.1x", old: olds, new: news})
		if err != nil {
			return rows, err
		}
	}
	return rows, nil
}

type hoursFiles struct{ schools, csv, gbk, xlsx string }

// hoursFiles writes (once per size) an hours export of c.rows rows in UTF-8 and GBK, one of
// c.xrows rows in XLSX, and the school list they name.
func (c *config) hoursFiles() (hoursFiles, error) {
	d := filepath.Join(c.dir, "ingest-files")
	f := hoursFiles{
		schools: filepath.Join(d, "schools_2025-06-30.csv"),
		csv:     filepath.Join(d, fmt.Sprintf("hours_%d_2025-06-30.csv", c.rows)),
		gbk:     filepath.Join(d, fmt.Sprintf("hours_%d_gbk_2025-06-30.csv", c.rows)),
		xlsx:    filepath.Join(d, fmt.Sprintf("hours_%d_2025-06-30.xlsx", c.xrows)),
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return f, err
	}
	const schools = 200
	if err := writeIfMissing(f.schools, func(w io.Writer) error {
		fmt.Fprintln(w, "学校代码,学校名称,所属区县")
		for i := 0; i < schools; i++ {
			fmt.Fprintf(w, "36%08d,第%d学校,第%d区\n", i, i, i%10)
		}
		return nil
	}); err != nil {
		return f, err
	}
	row := func(i int) []string {
		t := i / 30 // 30 activities a teacher
		id := ingest.CompleteID(fmt.Sprintf("360102%s%03d", time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, t/1000).Format("20060102"), t%1000))
		labels := []string{"网络研修", "校本研修", "研课磨课", "展示分享"}
		return []string{fmt.Sprintf("教师%d", t), id, fmt.Sprintf("第%d学校", t%schools), labels[i%4],
			"活动" + strconv.Itoa(i%30), []string{"2", "2.5", "1.5学时", "3"}[i%4], fmt.Sprintf("2025-%02d-%02d", 3+i%4, 1+i%28)}
	}
	header := []string{"姓名", "身份证号", "学校名称", "研修类型", "活动名称", "获得学时", "完成日期"}
	csvBody := func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		fmt.Fprintln(bw, strings.Join(header, ","))
		for i := 0; i < c.rows; i++ {
			fmt.Fprintln(bw, strings.Join(row(i), ","))
		}
		return bw.Flush()
	}
	if err := writeIfMissing(f.csv, csvBody); err != nil {
		return f, err
	}
	if err := writeIfMissing(f.gbk, func(w io.Writer) error {
		tw := transform.NewWriter(w, simplifiedchinese.GBK.NewEncoder())
		if err := csvBody(tw); err != nil {
			return err
		}
		return tw.Close()
	}); err != nil {
		return f, err
	}
	if _, err := os.Stat(f.xlsx); err != nil {
		x := excelize.NewFile()
		sw, err := x.NewStreamWriter("Sheet1")
		if err != nil {
			return f, err
		}
		if err := sw.SetRow("A1", anyRow(header)); err != nil {
			return f, err
		}
		for i := 0; i < c.xrows; i++ {
			cell, _ := excelize.CoordinatesToCellName(1, i+2)
			r := anyRow(row(i))
			if h, err := strconv.ParseFloat(r[5].(string), 64); err == nil {
				r[5] = h // numbers as numbers, as platforms write them
			}
			if err := sw.SetRow(cell, r); err != nil {
				return f, err
			}
		}
		if err := sw.Flush(); err != nil {
			return f, err
		}
		if err := x.SaveAs(f.xlsx + ".tmp.xlsx"); err != nil {
			return f, err
		}
		if err := os.Rename(f.xlsx+".tmp.xlsx", f.xlsx); err != nil {
			return f, err
		}
	}
	return f, nil
}

func anyRow(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func writeIfMissing(path string, fill func(io.Writer) error) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// copyDB copies a closed warehouse file to dst (no WAL: every command checkpoints at close)
// and syncs it, so that the step measured next does not pay for writing the copy back.
func copyDB(src, dst string) error {
	removeDB(dst)
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if _, err := os.Stat(src + ".wal"); err == nil {
		return fmt.Errorf("%s has a WAL: it was not closed cleanly", src)
	}
	return nil
}

func removeDB(path string) {
	os.Remove(path)
	os.Remove(path + ".wal")
	os.RemoveAll(path + ".uploads")
}
