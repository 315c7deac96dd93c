package reports

import (
	"strings"
	"testing"

	"tisheng/queries"
)

// Table bodies are written in Go, not by html/template: data from uploads must still come
// out escaped, in text, attributes and links alike.
func TestTableBodyEscapes(t *testing.T) {
	evil := `<script>alert("x")</script>'&`
	tb := &Table{
		Result: &queries.Result{
			Columns: []queries.Column{{Name: "school_code", Type: "VARCHAR"}, {Name: "school_name", Type: "VARCHAR"}, {Name: "pass_rate", Type: "DOUBLE"}},
			Rows:    [][]any{{`a"b/../c`, evil, 0.955}},
		},
		RowClasses: []string{`behind" onclick="x`},
		LinkCol:    1,
	}
	tb.prepare(&Page{Params: queries.Params{Month: "2025-06"}})
	body := string(tb.Body)
	for _, bad := range []string{"<script>", `"x")`, `" onclick="`, `a"b`} {
		if strings.Contains(body, bad) {
			t.Errorf("unescaped %q in %s", bad, body)
		}
	}
	for _, want := range []string{"&lt;script&gt;", `href="/schools/a%22b%2F..%2Fc?month=2025-06"`, ">95.5%<", `class="behind&#34; onclick=&#34;x"`} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q: %s", want, body)
		}
	}
}
