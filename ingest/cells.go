package ingest

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Cell is one value as the file holds it. Num is set for XLSX cells stored as numbers (an
// Excel date is such a number, a serial day count); CSV cells are always text.
type Cell struct {
	V   string
	Num bool
}

// clean trims ordinary and full-width spaces and zero-width marks that spreadsheets leave.
func clean(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		switch r {
		case ' ', '\t', '\r', '\n', '\u3000', '\u00a0', '\u200b', '\ufeff':
			return true
		}
		return false
	})
}

// Decimal values (hours) are kept as integer hundredths: exact, and what DECIMAL(9,2) holds.

// parseHundredths parses a plain decimal such as `2`, `2.5`, `-1.25` exactly.
func parseHundredths(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("空值")
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" && (!hasDot || frac == "") {
		return 0, errors.New("不是数字")
	}
	if !allDigits(intPart) && intPart != "" {
		return 0, errors.New("不是数字")
	}
	if hasDot && frac != "" && !allDigits(frac) {
		return 0, errors.New("不是数字")
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > 2 {
		return 0, errors.New("小数超过两位")
	}
	if len(intPart) > 7 {
		return 0, errors.New("数值过大")
	}
	v := int64(0)
	if intPart != "" {
		v = int64(atoi(intPart))
	}
	v *= 100
	switch len(frac) {
	case 1:
		v += int64(frac[0]-'0') * 10
	case 2:
		v += int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	}
	if neg {
		v = -v
	}
	return v, nil
}

// numericText turns an XLSX number into the text Excel shows: 15 significant digits, so a
// stored 2.4999999999999996 reads as 2.5.
func numericText(c Cell) string {
	if !c.Num {
		return c.V
	}
	f, err := strconv.ParseFloat(c.V, 64)
	if err != nil {
		return c.V
	}
	return strconv.FormatFloat(mustRound15(f), 'f', -1, 64)
}

func mustRound15(f float64) float64 {
	g, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 15, 64), 64)
	return g
}

var hourUnits = []string{"学时", "课时", "小时", "h", "H"}

// parseHours reads `2`, `2.5`, `2学时`; missing or negative hours are errors.
func parseHours(c Cell) (int64, error) {
	s := clean(numericText(c))
	if s == "" {
		return 0, errors.New("学时为空")
	}
	for _, unit := range hourUnits {
		if t, ok := strings.CutSuffix(s, unit); ok {
			s = clean(t)
			break
		}
	}
	v, err := parseHundredths(s)
	if err != nil {
		return 0, fmt.Errorf("学时%q无法识别（%v）", c.V, err)
	}
	if v < 0 {
		return 0, fmt.Errorf("学时为负数（%s）", c.V)
	}
	return v, nil
}

// parseFraction reads `18/25` or `2/3` (the 研修考核 view); the denominator may be missing.
func parseFraction(c Cell) (num, den int64, hasDen bool, err error) {
	s := clean(numericText(c))
	s = strings.ReplaceAll(s, "学时", "")
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		a, b, ok = strings.Cut(s, "／")
	}
	num, err = parseHundredths(clean(a))
	if err != nil {
		return 0, 0, false, fmt.Errorf("%q无法识别（%v）", c.V, err)
	}
	if num < 0 {
		return 0, 0, false, fmt.Errorf("%q为负数", c.V)
	}
	if ok {
		den, err = parseHundredths(clean(b))
		if err != nil || den <= 0 {
			return 0, 0, false, fmt.Errorf("%q的分母无法识别", c.V)
		}
	}
	return num, den, ok, nil
}

// parseCount reads a non-negative whole number.
func parseCount(c Cell) (int64, error) {
	s := clean(numericText(c))
	v, err := parseHundredths(s)
	if err != nil || v%100 != 0 {
		return 0, fmt.Errorf("%q不是整数", c.V)
	}
	if v < 0 {
		return 0, fmt.Errorf("%q为负数", c.V)
	}
	return v / 100, nil
}

// parseYesNo maps a flag cell to a bool using the column's own words.
func parseYesNo(c Cell, yes, no []string) (bool, error) {
	s := clean(c.V)
	for _, y := range yes {
		if s == y {
			return true, nil
		}
	}
	for _, n := range no {
		if s == n {
			return false, nil
		}
	}
	return false, fmt.Errorf("%q不是%s/%s", c.V, yes[0], no[0])
}

var (
	yesWords      = []string{"是", "Y", "y", "√", "✓", "1", "TRUE", "true"}
	noWords       = []string{"否", "N", "n", "×", "0", "FALSE", "false"}
	uploadedWords = []string{"已上传"}
	notUploaded   = []string{"未上传"}
	doneWords     = []string{"完成", "已完成"}
	notDoneWords  = []string{"未完成"}
)

// Excel's day 0 in the 1900 date system is 1899-12-30 once its fictitious 1900-02-29 is
// accounted for; every serial from 61 on maps correctly from there.
var excelEpoch = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)

var (
	reDateYMD   = regexp.MustCompile(`^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$`)
	reDateYM    = regexp.MustCompile(`^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$`)
	reDateSolid = regexp.MustCompile(`^(\d{4})(\d{2})(\d{2})$`)
)

func ymd(y, m, d int) (time.Time, bool) {
	if y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), true
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseDate reads an Excel serial (XLSX numbers only) or `2025-06-12`, `2025/6/12`,
// `2025年6月12日`, `20250612`. With monthOK, `2025-06` means the month's first day (a
// birth month).
func parseDate(c Cell, monthOK bool) (time.Time, error) {
	s := clean(c.V)
	if c.Num {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 61 || f > 73415 { // 1900-03-01 .. 2100-12-31
			return time.Time{}, fmt.Errorf("日期%q无法识别", c.V)
		}
		return excelEpoch.AddDate(0, 0, int(math.Floor(f))), nil
	}
	// The common ISO form without the regular expression: one in every row of an hours export.
	if len(s) == 10 && s[4] == '-' && s[7] == '-' && allDigits(s[:4]) && allDigits(s[5:7]) && allDigits(s[8:]) {
		if t, ok := ymd(atoi(s[:4]), atoi(s[5:7]), atoi(s[8:])); ok {
			return t, nil
		}
		return time.Time{}, fmt.Errorf("日期%q不存在", c.V)
	}
	if m := reDateYMD.FindStringSubmatch(s); m != nil {
		if t, ok := ymd(atoi(m[1]), atoi(m[2]), atoi(m[3])); ok {
			return t, nil
		}
		return time.Time{}, fmt.Errorf("日期%q不存在", c.V)
	}
	if m := reDateSolid.FindStringSubmatch(s); m != nil {
		if t, ok := ymd(atoi(m[1]), atoi(m[2]), atoi(m[3])); ok {
			return t, nil
		}
		return time.Time{}, fmt.Errorf("日期%q不存在", c.V)
	}
	if monthOK {
		if m := reDateYM.FindStringSubmatch(s); m != nil {
			if t, ok := ymd(atoi(m[1]), atoi(m[2]), 1); ok {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("日期%q无法识别", c.V)
}

// dayNumber is the Arrow/DuckDB DATE value: days since 1970-01-01.
func dayNumber(t time.Time) int32 { return int32(t.Unix() / 86400) }
