package reports

import (
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"tisheng/internal/apperr"

	"tisheng/internal/docx"
	"tisheng/queries"
)

// The documents offices file (docs/domain.md "Documents the offices file"): the 年度实施情况报告
// the project office files every year, and each school's SWOT 诊断报告. Both are written
// from the named queries, with the one rounding rule of the pages and workbooks
// (queries.RoundRate, applied when a result is read, shown by queries.FormatRate): every
// figure in a sentence, a table or a chart is the one the 年报 workbook and the pages show.
// What only the office knows (its measures, its plans, a school's opportunities and
// threats) is left as marked prompts, never written for it.

// rec reads one row of a result by column name.
type rec struct {
	res *queries.Result
	row []any
}

func (r rec) get(col string) any {
	if r.res == nil || r.row == nil {
		return nil
	}
	if i := colIndex(r.res, col); i >= 0 {
		return r.row[i]
	}
	return nil
}

func (r rec) int(col string) int64 {
	v, _ := r.get(col).(int64)
	return v
}

func (r rec) str(col string) string {
	if v, ok := r.get(col).(string); ok {
		return v
	}
	return ""
}

// rate is a rate as every view shows it (87.7%), or — when there is none.
func (r rec) rate(col string) string { return rateText(r.get(col)) }

func rateText(v any) string {
	if f, ok := v.(float64); ok {
		return queries.FormatRate(f)
	}
	return "—"
}

// dec is a DECIMAL as the query gives it (24.95), or —.
func (r rec) dec(col string) string {
	if d, ok := r.get(col).(queries.Dec); ok {
		return d.Text
	}
	return "—"
}

func (r rec) float(col string) (float64, bool) {
	f, ok := r.get(col).(float64)
	return f, ok
}

func rows(res *queries.Result) []rec {
	out := make([]rec, len(res.Rows))
	for i, row := range res.Rows {
		out[i] = rec{res, row}
	}
	return out
}

// monthName is 2025-06 as 6月.
func monthName(m string) string {
	t, err := time.Parse("2006-01", m)
	if err != nil {
		return m
	}
	return fmt.Sprintf("%d月", t.Month())
}

// cnDate writes a date as 公文 do: Arabic numerals, no leading zeros (2025年7月1日).
func cnDate(t time.Time) string {
	return fmt.Sprintf("%d年%d月%d日", t.Year(), t.Month(), t.Day())
}

func (wb *Workbook) day() time.Time {
	if wb.Date.IsZero() {
		return time.Now()
	}
	return wb.Date
}

// points is the difference of two rates as shown, in percentage points with one decimal:
// worked from the shown tenths, so that it is the difference a reader computes.
func points(a, b float64) float64 {
	return float64(int64(math.Round(queries.RoundRate(a)*1000))-int64(math.Round(queries.RoundRate(b)*1000))) / 10
}

func pointsText(p float64) string {
	return strconv.FormatFloat(math.Abs(p), 'f', 1, 64) + "个百分点"
}

// joinCN joins items as Chinese lists them: 甲、乙和丙.
func joinCN(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], "、") + "和" + items[len(items)-1]
}

var reYear = regexp.MustCompile(`^(19|20|21)\d\d$`)

// ParseYear checks a year parameter (YYYY); empty is the latest year with data.
func ParseYear(s string) (string, error) {
	if s == "" || reYear.MatchString(s) {
		return s, nil
	}
	return "", apperr.Errorf(apperr.Invalid, "参数错误：year 应为四位年份，例如 2025")
}

// docWorkbook wraps a document as a download (file name, rows for the audit trail).
func docWorkbook(name string, rows int, build func(wb *Workbook) (*docx.Document, error)) *Workbook {
	wb := &Workbook{FileName: name, Rows: rows}
	wb.write = func(w io.Writer) error {
		d, err := build(wb)
		if err != nil {
			return err
		}
		return d.Write(w)
	}
	return wb
}

// fileSafe keeps a name usable in a file name: no path separators or characters Windows
// refuses.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(`\/:*?"<>|`, r) || r < 0x20 {
			return '_'
		}
		return r
	}, s)
}

// sortRecs orders records by a key, stably.
func sortRecs(rs []rec, less func(a, b rec) bool) {
	sort.SliceStable(rs, func(i, j int) bool { return less(rs[i], rs[j]) })
}
