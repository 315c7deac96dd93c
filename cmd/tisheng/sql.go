package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"tisheng/queries"
)

func runSQL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sql", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "warehouse file")
	format := fs.String("format", "table", "table, csv, json, xlsx or arrow")
	out := fs.String("out", "", "write to this file instead of standard output")
	timeout := fs.Duration("timeout", 30*time.Second, "interrupt the query after this long")
	limit := fs.Int("limit", queries.DefaultRowLimit, "rows at most")
	maxBytes := fs.Int64("max-bytes", queries.DefaultByteLimit, "result size at most, in bytes")
	memory := fs.Int64("memory", queries.DefaultMemory, "interrupt the query past this much memory, in bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" || fs.NArg() != 1 {
		return errors.New("usage: tisheng sql --db FILE [--format table|csv|json|xlsx|arrow] [--out FILE] QUERY")
	}
	wh, r, _, err := openReports(ctx, *db)
	if err != nil {
		return err
	}
	defer wh.Close()
	ah := queries.NewAdHoc(r)
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
	q := fs.Arg(0)
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
		tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
		hdr := make([]string, len(res.Columns))
		for i, c := range res.Columns {
			hdr[i] = c.Name
		}
		fmt.Fprintln(tw, strings.Join(hdr, "\t"))
		for _, row := range res.Rows {
			cells := make([]string, len(row))
			for i, v := range row {
				cells[i] = plain(v)
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		tw.Flush()
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
	return fmt.Errorf("unknown format %q", *format)
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
