package queries

import (
	"context"
	"database/sql/driver"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/duckdb/duckdb-go/v2"

	"tisheng/internal/xlsxw"
)

// cutNote says where the result was cut.
func (res *Result) cutNote() string {
	if res.Note != "" {
		return res.Note
	}
	return fmt.Sprintf("结果已截断：只显示前 %d 行", res.Limit)
}

// WriteJSON writes the result as {"columns": […], "rows": […], "truncated": …}.
func WriteJSON(w io.Writer, res *Result) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(res)
}

// WriteCSV writes UTF-8 with a BOM (so Excel shows Chinese) and Chinese headers; text that
// a spreadsheet would run as a formula (= + - @ first) is prefixed with an apostrophe.
// Rates are percentages with one decimal (87.7%), as every page and workbook shows them.
func WriteCSV(w io.Writer, res *Result) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	hdr := make([]string, len(res.Columns))
	for i, c := range res.Columns {
		hdr[i] = c.Label
	}
	if err := cw.Write(hdr); err != nil {
		return err
	}
	rec := make([]string, len(res.Columns))
	for _, row := range res.Rows {
		for i, v := range row {
			if f, ok := v.(float64); ok && IsRate(res.Columns[i]) {
				rec[i] = FormatRate(f) // Excel reads 87.7% back as the number 0.877
				continue
			}
			rec[i] = csvText(v)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	if res.Truncated {
		if err := cw.Write([]string{"（" + res.cutNote() + "）"}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		if x != "" && strings.ContainsRune("=+-@\t\r", rune(x[0])) {
			return "'" + x
		}
		return x
	case bool:
		if x {
			return "是"
		}
		return "否"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case Dec:
		return x.Text
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// ColumnKind chooses how a result column is written to a workbook.
func ColumnKind(c Column) xlsxw.Kind {
	t := c.Type
	switch {
	case t == "BOOLEAN":
		return xlsxw.Bool
	case t == "DATE":
		return xlsxw.Date
	case strings.HasPrefix(t, "TIMESTAMP"):
		return xlsxw.DateTime
	case strings.HasPrefix(t, "DECIMAL"):
		return xlsxw.Number
	case t == "DOUBLE" || t == "FLOAT":
		if isRate(c.Name) {
			return xlsxw.Percent
		}
		return xlsxw.Number
	case strings.Contains(t, "INT"):
		return xlsxw.Int
	}
	return xlsxw.Text
}

func isRate(name string) bool {
	for _, s := range []string{"_rate", "_share", "completion"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// AddSheet streams a result into a new sheet of b and closes it.
func AddSheet(b *xlsxw.Book, name, title string, res *Result, colorScale ...int) (*xlsxw.Table, error) {
	return AddSheetWith(b, name, title, res, nil, colorScale...)
}

// AddSheetWith is AddSheet with a hook that runs before the sheet is closed (for charts).
func AddSheetWith(b *xlsxw.Book, name, title string, res *Result, before func(*xlsxw.Table) error, colorScale ...int) (*xlsxw.Table, error) {
	return AddSheetBlock(b, name, title, nil, res, before, colorScale...)
}

// AddSheetBlock is AddSheetWith with title-block lines between the title and the header.
func AddSheetBlock(b *xlsxw.Book, name, title string, block []xlsxw.Line, res *Result, before func(*xlsxw.Table) error, colorScale ...int) (*xlsxw.Table, error) {
	cols := make([]xlsxw.Col, len(res.Columns))
	for i, c := range res.Columns {
		cols[i] = xlsxw.Col{Header: c.Label, Kind: ColumnKind(c)}
		// Widths must be set before the first row is streamed: measure the values first.
		if cols[i].Kind == xlsxw.Text {
			w := xlsxw.DisplayWidth(c.Label) + 2
			for _, row := range res.Rows {
				if s, ok := row[i].(string); ok {
					w = max(w, xlsxw.DisplayWidth(s)+2)
				}
			}
			cols[i].Width = min(w+2, 48)
		}
	}
	t, err := b.AddTableBlock(name, title, block, cols)
	if err != nil {
		return nil, err
	}
	for _, row := range res.Rows {
		vals := make([]any, len(row))
		for i, v := range row {
			vals[i] = xlsxValue(v, cols[i].Kind)
		}
		if err := t.Row(vals...); err != nil {
			return nil, err
		}
	}
	if res.Truncated {
		if err := t.Row("（" + res.cutNote() + "）"); err != nil {
			return nil, err
		}
	}
	if before != nil {
		if err := before(t); err != nil {
			return nil, err
		}
	}
	return t, t.Close(colorScale...)
}

func xlsxValue(v any, k xlsxw.Kind) any {
	switch x := v.(type) {
	case Dec:
		return x.Float
	case string:
		if k == xlsxw.Date && len(x) == 10 {
			return dateSerialOrText(x)
		}
		if k == xlsxw.DateTime {
			if t, err := time.Parse("2006-01-02 15:04:05", x); err == nil {
				return float64(t.Sub(excelEpoch)) / float64(24*time.Hour)
			}
		}
		return x
	}
	return v
}

// excelEpoch is Excel's day 0 once its fictitious 1900-02-29 is accounted for.
var excelEpoch = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)

// dateSerialOrText turns 2025-06-30 into an Excel date serial, so the cell is a typed date.
func dateSerialOrText(s string) any {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return s
	}
	return float64(t.Sub(excelEpoch) / (24 * time.Hour))
}

// WriteXLSX writes a one-sheet workbook of the result.
func WriteXLSX(w io.Writer, sheet, title string, res *Result) error {
	b, err := xlsxw.New()
	if err != nil {
		return err
	}
	if _, err := AddSheet(b, sheet, title, res); err != nil {
		return err
	}
	return b.Write(w)
}

// WriteArrow checks and runs q and streams its result as an Arrow IPC stream, cut at the
// row and byte limits, within the time limit and memory ceiling; it reports whether it cut.
// The driver's Arrow reader cannot be relied on to interrupt a query (go-duckdb ran
// duckdb_execute_prepared_arrow to the end whatever the context said; duckdb-go v2.10506.0
// looks at the context only between chunks, and fetches each chunk unwatched), so the query
// first runs through the interruptible path with every limit; only a query that finished
// within them runs again for Arrow.
func (a *AdHoc) WriteArrow(ctx context.Context, w io.Writer, q string) (bool, error) {
	if _, err := a.Run(ctx, q); err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.Timeout)
	defer cancel()
	mctx, stop := a.mem.watch(ctx, a.Memory)
	defer stop()
	conn, err := a.r.db.Conn(mctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	truncated := false
	err = conn.Raw(func(dc any) error {
		ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		rdr, err := ar.QueryContext(mctx, q)
		if err != nil {
			return a.failure(ctx, mctx, err)
		}
		defer rdr.Release()
		iw := ipc.NewWriter(w, ipc.WithSchema(rdr.Schema()))
		left := int64(a.RowLimit)
		leftBytes := a.ByteLimit
		for rdr.Next() {
			rec := rdr.RecordBatch()
			n := rec.NumRows()
			if a.RowLimit > 0 && n > left {
				truncated, n = true, left
			}
			if size := recordSize(rec); a.ByteLimit > 0 && size > leftBytes && n > 0 {
				// Rows of a record are of similar size, near enough for a cap.
				truncated, n = true, min(n, rec.NumRows()*leftBytes/size)
			}
			if n < rec.NumRows() {
				if n > 0 {
					part := rec.NewSlice(0, n)
					err := iw.Write(part)
					part.Release()
					if err != nil {
						return err
					}
				}
				break
			}
			if err := iw.Write(rec); err != nil {
				return err
			}
			left -= n
			leftBytes -= recordSize(rec)
		}
		if err := rdr.Err(); err != nil {
			return a.failure(ctx, mctx, err)
		}
		return iw.Close()
	})
	if err != nil && mctx.Err() != nil {
		return false, a.failure(ctx, mctx, err)
	}
	return truncated, err
}

// recordSize is the bytes of a record's buffers (arrow/util's TotalRecordSize pulls in
// protobuf).
func recordSize(rec arrow.RecordBatch) int64 {
	var n int64
	var add func(d arrow.ArrayData)
	add = func(d arrow.ArrayData) {
		for _, b := range d.Buffers() {
			if b != nil {
				n += int64(b.Len())
			}
		}
		for _, c := range d.Children() {
			add(c)
		}
	}
	for _, c := range rec.Columns() {
		add(c.Data())
	}
	return n
}
