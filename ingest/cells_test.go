package ingest

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseHours(t *testing.T) {
	cases := []struct {
		in   Cell
		want int64
		err  string
	}{
		{Cell{V: "2"}, 200, ""},
		{Cell{V: "2.5"}, 250, ""},
		{Cell{V: "2学时"}, 200, ""},
		{Cell{V: "2.5 学时"}, 250, ""},
		{Cell{V: " 0.75 "}, 75, ""},
		{Cell{V: "3.50"}, 350, ""},
		{Cell{V: "0"}, 0, ""},
		{Cell{V: "2.4999999999999996", Num: true}, 250, ""}, // Excel's binary float, shown as 2.5
		{Cell{V: "12", Num: true}, 1200, ""},
		{Cell{V: ""}, 0, "学时为空"},
		{Cell{V: "-2"}, 0, "负数"},
		{Cell{V: "两学时"}, 0, "无法识别"},
		{Cell{V: "2.333"}, 0, "小数超过两位"},
		{Cell{V: "1,5"}, 0, "无法识别"},
		{Cell{V: "."}, 0, "无法识别"},
	}
	for _, c := range cases {
		t.Run(c.in.V, func(t *testing.T) {
			got, err := parseHours(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("parseHours(%q) = %d, %v; want error containing %q", c.in.V, got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("parseHours(%q) = %d, %v; want %d", c.in.V, got, err, c.want)
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	d := func(y, m, dd int) time.Time { return time.Date(y, time.Month(m), dd, 0, 0, 0, 0, time.UTC) }
	cases := []struct {
		in      Cell
		monthOK bool
		want    time.Time
		bad     bool
	}{
		{Cell{V: "2025-06-12"}, false, d(2025, 6, 12), false},
		{Cell{V: "2025/6/12"}, false, d(2025, 6, 12), false},
		{Cell{V: "2025年6月12日"}, false, d(2025, 6, 12), false},
		{Cell{V: "2025.06.12"}, false, d(2025, 6, 12), false},
		{Cell{V: "20250612"}, false, d(2025, 6, 12), false},
		{Cell{V: "2025-06-12 14:30:00"}, false, d(2025, 6, 12), false},
		{Cell{V: "45820", Num: true}, false, d(2025, 6, 12), false}, // Excel serial
		{Cell{V: "45820.5", Num: true}, false, d(2025, 6, 12), false},
		{Cell{V: "61", Num: true}, false, d(1900, 3, 1), false},
		{Cell{V: "2025-06"}, true, d(2025, 6, 1), false}, // a birth month
		{Cell{V: "1985年6月"}, true, d(1985, 6, 1), false},
		{Cell{V: "2025-06"}, false, time.Time{}, true},
		{Cell{V: "2025-02-30"}, false, time.Time{}, true},
		{Cell{V: "45820"}, false, time.Time{}, true}, // a number typed into a CSV is no date
		{Cell{V: "next week"}, false, time.Time{}, true},
	}
	for _, c := range cases {
		t.Run(c.in.V, func(t *testing.T) {
			got, err := parseDate(c.in, c.monthOK)
			if c.bad {
				if err == nil {
					t.Fatalf("parseDate(%q) = %v; want an error", c.in.V, got)
				}
				return
			}
			if err != nil || !got.Equal(c.want) {
				t.Fatalf("parseDate(%q) = %v, %v; want %v", c.in.V, got, err, c.want)
			}
		})
	}
}

func TestParseFractionAndFlags(t *testing.T) {
	n, d, ok, err := parseFraction(Cell{V: "18/25"})
	if err != nil || n != 1800 || d != 2500 || !ok {
		t.Fatalf("18/25 = %d/%d %v %v", n, d, ok, err)
	}
	n, d, ok, err = parseFraction(Cell{V: "2.5／25"})
	if err != nil || n != 250 || d != 2500 || !ok {
		t.Fatalf("2.5／25 = %d/%d %v %v", n, d, ok, err)
	}
	if _, _, _, err := parseFraction(Cell{V: "18/0"}); err == nil {
		t.Fatal("18/0 accepted")
	}
	if _, _, _, err := parseFraction(Cell{V: "-1/25"}); err == nil {
		t.Fatal("-1/25 accepted")
	}
	for in, want := range map[string]bool{"是": true, "否": false} {
		got, err := parseYesNo(Cell{V: in}, yesWords, noWords)
		if err != nil || got != want {
			t.Fatalf("%s = %v %v", in, got, err)
		}
	}
	if got, err := parseYesNo(Cell{V: "已上传"}, uploadedWords, notUploaded); err != nil || !got {
		t.Fatalf("已上传 = %v %v", got, err)
	}
	if _, err := parseYesNo(Cell{V: "也许"}, yesWords, noWords); err == nil {
		t.Fatal("也许 accepted as yes/no")
	}
}

func TestValidateID(t *testing.T) {
	// 11010519491231002X is the standard's own example (GB 11643-1999, appendix).
	cases := []struct {
		in, want, err string
	}{
		{"11010519491231002X", "11010519491231002X", ""},
		{"11010519491231002x", "11010519491231002X", ""},
		{"110105194912310021", "", "校验位错误（应为X）"},
		{"11010519491331002X", "", "出生日期无效"},
		{"1101051949123100", "", "应为18位"},
		{"110105491231002", "", "15位旧身份证号"},
		{"4.40402199001E+17", "", "存成了数字"},
		{"11010519491231002Y", "", "末位"},
		{"1101051949123100AX", "", "前17位"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ValidateID(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("ValidateID(%q) = %q, %v; want error with %q", c.in, got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("ValidateID(%q) = %q, %v", c.in, got, err)
			}
		})
	}
	if got := CompleteID("11010519491231002"); got != "11010519491231002X" {
		t.Fatalf("CompleteID = %s", got)
	}
	if got := MaskID("11010519491231002X"); got != "110105********002X" {
		t.Fatalf("MaskID = %s", got)
	}
}

func TestMaskedIDs(t *testing.T) {
	m, ok := parseMaskedID("440402********1234")
	if !ok || m.prefix != "440402" || m.suffix != "1234" {
		t.Fatalf("parse = %+v %v", m, ok)
	}
	if !m.fits("440402********1234") || m.fits("440403********1234") {
		t.Fatal("fits wrong")
	}
	m, ok = parseMaskedID("440402*******")
	if !ok || !m.fits("440402********9999") {
		t.Fatalf("short mask = %+v %v", m, ok)
	}
	for _, bad := range []string{"44040219900101123", "44*04*02", "abc***1234"} {
		if _, ok := parseMaskedID(bad); ok {
			t.Errorf("%q taken for a masked ID", bad)
		}
	}
	if got := maskAny("11010519491231002Y"); got != "110105********002Y" {
		t.Errorf("maskAny = %s", got)
	}
}

func TestAsOfDetection(t *testing.T) {
	title, ok := asOfFromTitle([][]string{{"东湖区教师学时汇总"}, {"", "数据截止：2025年6月30日"}})
	if !ok || title.Format("2006-01-02") != "2025-06-30" {
		t.Fatalf("title = %v %v", title, ok)
	}
	for name, want := range map[string]string{
		"东湖区_学时明细_2025-06-30.csv": "2025-06-30",
		"hours_20250630.xlsx":     "2025-06-30",
		"东湖区_学时明细_2025-06.csv":    "2025-06-30",
		"2025年2月学时.csv":           "2025-02-28",
		"2024-02.csv":             "2024-02-29",
	} {
		got, ok := asOfFromName(name)
		if !ok || got.Format("2006-01-02") != want {
			t.Errorf("asOfFromName(%q) = %v %v; want %s", name, got, ok, want)
		}
	}
	if _, ok := asOfFromName("学时明细.csv"); ok {
		t.Error("a name with no date gave an as-of")
	}
}

// TestPointText: ingest only folds and trims a point's text (the catalogue resolves it at
// refresh: models.TestAbilityPointsResolvedAtRefresh); within a file, spellings of one code
// and name are one point for the duplicate check.
func TestPointText(t *testing.T) {
	if got := pointText(" Ａ１　技术支持的学情分析 "); got != "A1 技术支持的学情分析" {
		t.Errorf("pointText = %q", got)
	}
	same := []string{"A1 技术支持的学情分析", "a1技术支持的学情分析", "A1.技术支持的学情分析", "A1、“技术支持的学情分析”"}
	for _, in := range same {
		if got := pointKey(pointText(in)); got != "A1\x00技术支持的学情分析" {
			t.Errorf("pointKey(%q) = %q", in, got)
		}
	}
	if pointKey("A1") == pointKey("A1 技术支持的学情分析") || pointKey("技术支持的学情分析") != "\x00技术支持的学情分析" {
		t.Error("a bare code, a code with a name and a name alone must differ")
	}
}

// Fuzz targets: the seeds run with every `go test`; `make fuzz` explores.

func FuzzParseHours(f *testing.F) {
	for _, s := range []string{"2", "2.5", "2学时", "-1", "", "1e5", "٣", "2.50学时", "99999999"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, num bool) {
		v, err := parseHours(Cell{V: s, Num: num})
		if err == nil && v < 0 {
			t.Fatalf("negative hours %d accepted from %q", v, s)
		}
	})
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2025-06-12", "2025年6月12日", "45820", "2025-06", "20250612", "0000-00-00"} {
		f.Add(s, true, false)
	}
	f.Fuzz(func(t *testing.T, s string, monthOK, num bool) {
		d, err := parseDate(Cell{V: s, Num: num}, monthOK)
		if err == nil && (d.Year() < 1900 || d.Year() > 2100) {
			t.Fatalf("date %v out of range from %q", d, s)
		}
	})
}

func FuzzValidateID(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "110105194912310021", "", "x", "440402********1234"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ValidateID(s)
		if err != nil {
			return
		}
		if len(id) != 18 || CompleteID(id[:17]) != id {
			t.Fatalf("accepted %q as %q", s, id)
		}
		if m := MaskID(id); strings.Contains(m, id[6:14]) || len(m) != 18 {
			t.Fatalf("mask %q shows the birth date", m)
		}
	})
}

func FuzzFindHeader(f *testing.F) {
	f.Add("姓名,身份证号,学校名称,研修类型,学时")
	f.Add("姓名,身份证号,学校名称,网络研修学时,实践应用学时,总学时")
	f.Add("序号,姓名,身份证号,个人提升计划,校本研修学时,个人提升总结")
	f.Add("学校代码,学校名称,所属区县")
	f.Add("姓名,身份证号,网络研修学时,线上学时")
	f.Fuzz(func(t *testing.T, line string) {
		if !utf8.ValidString(line) {
			return
		}
		h, err := findHeader([][]string{strings.Split(line, ",")}, "", "")
		if err != nil {
			return
		}
		seen := map[int]string{}
		for k, c := range h.col {
			if prev, dup := seen[c]; dup && h.kind != KindSchools {
				t.Fatalf("column %d mapped to both %s and %s", c, prev, k)
			}
			seen[c] = k
		}
		if h.kind == KindHours && h.shape == ShapeSummary && len(h.cats) == 0 {
			t.Fatal("summary header with no hour columns")
		}
	})
}

// FuzzCSVSource feeds arbitrary bytes to encoding detection and CSV reading: a file is
// either refused with a fileError or read into valid UTF-8 cells without U+FFFD.
func FuzzCSVSource(f *testing.F) {
	f.Add([]byte("姓名,身份证号\n张三,11010519491231002X\n"))
	f.Add([]byte("\xef\xbb\xbf学校代码,学校名称\n1,a\n"))
	f.Add(mustGBK("姓名,学时\n李四,2\n"))
	f.Add([]byte("a\tb\n\"x\ny\"\tz\n"))
	f.Add([]byte("\x81\n\xff\xfe"))
	f.Fuzz(func(t *testing.T, b []byte) {
		src, err := openSource(bytes.NewReader(b), int64(len(b)), DefaultLimits())
		if err != nil {
			return
		}
		for i := 0; i < 10000; i++ {
			cells, _, err := src.next()
			if err != nil {
				return
			}
			for _, c := range cells {
				if !utf8.ValidString(c.V) || strings.ContainsRune(c.V, utf8.RuneError) {
					t.Fatalf("cell %q is not clean UTF-8", c.V)
				}
			}
		}
	})
}

func FuzzParseFraction(f *testing.F) {
	for _, s := range []string{"18/25", "2/3", "25", "0/0", "-1/5", "1.5／2", "/", "18学时/25学时"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, d, has, err := parseFraction(Cell{V: s})
		if err == nil && (n < 0 || (has && d <= 0)) {
			t.Fatalf("%q gave %d/%d", s, n, d)
		}
	})
}

func FuzzMaskedID(f *testing.F) {
	for _, s := range []string{"440402********1234", "440402*******", "*", "**1234", "4404X2****"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, ok := parseMaskedID(s)
		if ok && (len(m.prefix) > 6 || len(m.suffix) > 4) {
			t.Fatalf("%q parsed as %+v", s, m)
		}
		if !ok {
			return
		}
		// The stored form: 18 characters whose leading digits and trailing digits-or-X are the
		// visible parts, as models/sql/masked_ids.sql reads them back.
		c := m.canonical()
		lead := strings.TrimLeft(c, "0123456789")
		trail := strings.TrimRight(c, "0123456789X")
		if len(c) != 18 || c[:len(c)-len(lead)] != m.prefix || c[len(trail):] != m.suffix {
			t.Fatalf("%q stored as %q, parsed as %+v", s, c, m)
		}
		if again, ok := parseMaskedID(c); !ok || again != m {
			t.Fatalf("%q stored as %q reads back as %+v", s, c, again)
		}
	})
}
