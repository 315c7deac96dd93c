package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/text/width"

	"tisheng/models"
	"tisheng/queries"
)

func runSQL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "tisheng sql --db 文件 [--format table|csv|json|xlsx|arrow] [--out 文件] 查询语句"
	fs := newFlags("sql")
	db := fs.String("db", "", "仓库`文件`")
	format := fs.String("format", "table", "输出格式：table（终端表格）、csv、json、xlsx 或 arrow")
	out := fs.String("out", "", "写入这个 `文件`，而不是标准输出（xlsx 和 arrow 在终端上必须指定）")
	timeout := fs.Duration("timeout", 30*time.Second, "查询超过这个 `时长` 就中断")
	limit := fs.Int("limit", queries.DefaultRowLimit, "最多输出的 `行数`")
	maxBytes := fs.Int64("max-bytes", queries.DefaultByteLimit, "结果最多的 `字节数`")
	memory := fs.Int64("memory", queries.DefaultMemory, "查询内存超过这个 `字节数` 就中断")
	rest, err := parseFlags(fs, synopsis, args, stdout, stderr)
	if err != nil {
		return err
	}
	if *db == "" {
		return usagef("需要 --db 仓库文件")
	}
	if len(rest) != 1 {
		return usagef("需要且只需要一条查询语句（用引号括起来），现有 %d 个参数", len(rest))
	}
	switch *format {
	case "table", "csv", "json":
	case "xlsx", "arrow":
		// Binary bytes on a terminal garble it; a pipe or a redirect is fine.
		if *out == "" && isTerminal(stdout) {
			return usagef("--format %s 是二进制格式，不能输出到终端：请用 --out 文件 指定写入的文件（或重定向到文件）", *format)
		}
	default:
		return usagef("没有输出格式「%s」（可选 table、csv、json、xlsx、arrow）", *format)
	}
	wh, r, _, err := openReports(ctx, *db)
	if err != nil {
		return err
	}
	defer wh.Close()
	cat, err := models.Builtin()
	if err != nil {
		return err
	}
	ah := queries.NewAdHoc(r, cat.AnalystTables())
	ah.Timeout, ah.RowLimit, ah.ByteLimit, ah.Memory = *timeout, *limit, *maxBytes, *memory
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	q := rest[0]
	if *format == "arrow" {
		cut, err := ah.WriteArrow(ctx, w, q)
		if cut {
			fmt.Fprintf(stderr, "结果已截断：超过行数（%d）或大小（%d 字节）上限\n", *limit, *maxBytes)
		}
		return err
	}
	res, err := ah.Run(ctx, q)
	if err != nil {
		return err
	}
	switch *format {
	case "table":
		hdr := make([]string, len(res.Columns))
		for i, c := range res.Columns {
			hdr[i] = c.Name
		}
		cells := [][]string{hdr}
		for _, row := range res.Rows {
			line := make([]string, len(row))
			for i, v := range row {
				line[i] = plain(v)
			}
			cells = append(cells, line)
		}
		if err := writeAligned(w, cells); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%d 行", len(res.Rows))
		if res.Truncated {
			fmt.Fprintf(stderr, "（%s）", res.Note)
		}
		fmt.Fprintln(stderr)
		return nil
	case "csv":
		return queries.WriteCSV(w, res)
	case "json":
		return queries.WriteJSON(w, res)
	case "xlsx":
		return queries.WriteXLSX(w, "查询结果", "", res)
	}
	return usagef("没有输出格式「%s」", *format)
}

// isTerminal reports whether w is a terminal (a character device such as a tty).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// writeAligned prints rows as columns padded to their display width: a CJK character
// takes two terminal columns, so counting runes (text/tabwriter) misaligns Chinese text.
func writeAligned(w io.Writer, rows [][]string) error {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], displayWidth(c))
		}
	}
	bw := bufio.NewWriter(w)
	for _, r := range rows {
		for i, c := range r {
			bw.WriteString(c)
			if i < len(r)-1 {
				bw.WriteString(strings.Repeat(" ", widths[i]-displayWidth(c)+2))
			}
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// displayWidth is how many terminal columns s takes (East Asian wide and fullwidth
// characters two, others one).
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

func plain(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case queries.Dec:
		return x.Text
	default:
		return fmt.Sprint(x)
	}
}
