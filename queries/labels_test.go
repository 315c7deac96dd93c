package queries

import (
	"sort"
	"strings"
	"testing"
)

// One rounding rule: the shown 0.1% decides, half away from zero, from the decimal a
// person would write (4.25% is 4.3%, not the 4.2% binary floating point gives).
func TestRateRounding(t *testing.T) {
	for _, c := range []struct {
		in    float64
		round float64
		shown string
	}{
		{0.0425, 0.043, "4.3%"},
		{0.04249, 0.042, "4.2%"},
		{0.8771929824561403, 0.877, "87.7%"},
		{0.9995, 1, "100.0%"},
		{1, 1, "100.0%"},
		{0, 0, "0.0%"},
		{2.0 / 3, 0.667, "66.7%"},
	} {
		t.Run(c.shown, func(t *testing.T) {
			if got := RoundRate(c.in); got != c.round {
				t.Errorf("RoundRate(%v) = %v, want %v", c.in, got, c.round)
			}
			if got := FormatRate(c.in); got != c.shown {
				t.Errorf("FormatRate(%v) = %s, want %s", c.in, got, c.shown)
			}
			if got := FormatRate(RoundRate(c.in)); got != c.shown {
				t.Errorf("rounded twice: %s, want %s", got, c.shown)
			}
		})
	}
}

func TestNaturalOrder(t *testing.T) {
	codes := []string{"A11", "B2", "A2", "A1", "C10", "A10", "B11", "C2"}
	sort.Slice(codes, func(i, j int) bool { return NaturalLess(codes[i], codes[j]) })
	if got := strings.Join(codes, ","); got != "A1,A2,A10,A11,B2,B11,C2,C10" {
		t.Errorf("%s", got)
	}
}

func TestSortCodeLists(t *testing.T) {
	res := &Result{Columns: []Column{{Name: "abilities_passed_codes"}, {Name: "name"}}, Rows: [][]any{{"A11,A2,A5", "B11,B2"}, {nil, "x"}, {"C6", "y"}}}
	SortCodeLists(res)
	if res.Rows[0][0] != "A2,A5,A11" || res.Rows[0][1] != "B11,B2" || res.Rows[1][0] != nil || res.Rows[2][0] != "C6" {
		t.Errorf("%v", res.Rows)
	}
}

func TestLabelCodes(t *testing.T) {
	res := &Result{
		Columns: []Column{{Name: "shape"}, {Name: "kind"}, {Name: "by"}},
		Rows:    [][]any{{"detail", "hours", "code"}, {"summary", "hours", "dimension"}, {nil, "progress", "environment"}, {nil, "teachers", nil}},
	}
	LabelCodes(res)
	var got []string
	for _, r := range res.Rows {
		for _, v := range r {
			if s, ok := v.(string); ok {
				got = append(got, s)
			}
		}
	}
	if s := strings.Join(got, ","); s != "学时明细,学时明细,能力点,学时汇总,学时汇总,维度,研修考核,环境,教师名单" {
		t.Errorf("%s", s)
	}
}
