package models

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
)

// A header that leaves something out or contradicts itself, or SQL that reads what its
// declaration does not allow, fails the catalog, naming the file and the line.
func TestBadDeclarationsFailClosed(t *testing.T) {
	const good = "-- @label: 测试\n-- @months: latest\n-- @scope: district\n-- @doc-order: 1\n"
	cases := []struct {
		name, file, text, want string
	}{
		{"no label", "sql/x.sql", "-- @months: latest\n-- @scope: district\n-- @doc-order: 1\nSELECT 1", "sql/x.sql: no @label"},
		{"no scope", "sql/x.sql", "-- @label: 测试\n-- @months: latest\n-- @doc-order: 1\nSELECT 1", "sql/x.sql: no @scope"},
		{"no months", "sql/x.sql", "-- @label: 测试\n-- @scope: district\n-- @doc-order: 1\nSELECT 1", "sql/x.sql: no @months"},
		{"unknown key", "sql/x.sql", good + "-- @colour: red\nSELECT 1", "sql/x.sql:5: @colour is not a declaration"},
		{"twice", "sql/x.sql", good + "-- @label: 又\nSELECT 1", "sql/x.sql:5: @label declared twice (first on line 1)"},
		{"unknown months", "sql/x.sql", "-- @label: 测试\n-- @months: daily\n-- @scope: district\n-- @doc-order: 1\nSELECT 1", "sql/x.sql:2: @months of a model is"},
		{"unknown scope rule", "sql/x.sql", "-- @label: 测试\n-- @months: latest\n-- @scope: everyone\n-- @doc-order: 1\nSELECT 1", "sql/x.sql:3: @scope: no scope rule \"everyone\""},
		{"partitioned, not local", "sql/x.sql", good + "-- @partitioned: true\nSELECT 1", "sql/x.sql:5: a partitioned model is built month by month"},
		{"compared, not local", "sql/x.sql", good + "-- @compared: true\nSELECT 1", "sql/x.sql:5: @compared is for @months: local"},
		{"recompute-from, not key", "sql/x.sql", good + "-- @recompute-from: as-of\nSELECT 1", "sql/x.sql:5: @recompute-from is for @months: key"},
		{"not a boolean", "sql/x.sql", good + "-- @counts: yes\nSELECT 1", "sql/x.sql:5: @counts is true or false"},
		{"text without key", "sql/x.sql", "-- @label: 测试\n-- @months: text\n-- @scope: text\n-- @doc-order: 1\nSELECT 1", "sql/x.sql:2: @months: text names its key column"},
		{"second effective files", "sql/x.sql", "-- @label: 测试\n-- @months: key\n-- @scope: district\n-- @provides: effective-files\n-- @doc-order: 1\nSELECT 1", "sql/x.sql:4: the effective files are already provided by effective_batches"},
		{"a table nobody declares", "sql/x.sql", good + "SELECT *\nFROM secret_table", "sql/x.sql:6: reads secret_table, neither a model nor a source"},
		{"same name as a model", "sql/roster.sql", good + "SELECT 1", "sql/roster.sql: a table of this name is already declared in models/sql/roster.sql"},
		{"local reading a latest model", "sql/x.sql", "-- @label: 测试\n-- @months: local\n-- @scope: district\n-- @doc-order: 1\nSELECT *\nFROM teacher_progress", "sql/x.sql:6: a @months: local model reads teacher_progress, which is @months: latest"},
		{"local reading raw rows unjoined", "sql/x.sql", "-- @label: 测试\n-- @months: local\n-- @scope: district\n-- @doc-order: 1\nSELECT * FROM raw_hours", "sql/x.sql: a @months: local model reads raw rows only joined"},
		{"local reading text model unkeyed", "sql/x.sql", "-- @label: 测试\n-- @months: local\n-- @scope: district\n-- @doc-order: 1\nSELECT * FROM months m\nJOIN ability_refs a ON true", "sql/x.sql:6: reads ability_refs other than by a join on its key"},
		{"text model reading a month", "sql/x.sql", "-- @label: 测试\n-- @months: text k\n-- @scope: text\n-- @doc-order: 1\nSELECT DISTINCT k FROM raw_hours WHERE k IN (SELECT month FROM months)", "sql/x.sql:5: a @months: text model reads no table with months"},
		{"qualified table", "sql/x.sql", good + "SELECT * FROM main.roster", "sql/x.sql:5: write table roster unquoted and unqualified"},
		{"not SQL", "sql/x.sql", good + "SELEKT 1", "sql/x.sql: SQL: syntax error"},
		{"two statements", "sql/x.sql", good + "SELECT 1; SELECT 2", "sql/x.sql: one SELECT statement per file"},
		{"source without writer", "sources/x.sql", "-- @label: 测试\n-- @months: load\n-- @scope: global\n-- @doc-order: 1\n", "sources/x.sql: no @written-by"},
		{"raw source without kind", "sources/x.sql", "-- @label: 测试\n-- @months: load\n-- @written-by: load\n-- @scope: raw_ref\n-- @doc-order: 1\n", "sources/x.sql:4: a source cut by raw_ref declares its @export-kind"},
		{"model key in a source", "sources/x.sql", "-- @label: 测试\n-- @months: load\n-- @written-by: load\n-- @scope: global\n-- @partitioned: true\n-- @doc-order: 1\n", "sources/x.sql:5: @partitioned is not a declaration of a source file"},
		{"data test reading nothing known", "tests/x.sql", "-- @per-month: true\nSELECT *\nFROM nowhere", "tests/x.sql:3: reads nowhere, neither a model nor a source"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Files(), fstest.MapFS{tc.file: {Data: []byte(tc.text)}})
			var de *DeclError
			if !errors.As(err, &de) {
				t.Fatalf("Load = %v, want a DeclError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %q\nwant it to say %q", err, tc.want)
			}
		})
	}
}

// The built-in files load and say what the Go code used to list: a check that the move
// from Go lists to declarations kept every model's kind.
func TestBuiltinDeclarations(t *testing.T) {
	c := builtin(t)
	kinds := map[string][]string{}
	for _, m := range c.Models {
		kinds[m.Months] = append(kinds[m.Months], m.Name)
	}
	want := map[string]string{
		MonthsKey:    "months,school_info,school_refs,effective_batches",
		MonthsLocal:  "roster,masked_ids,teacher_category_hours,teacher_plan,teacher_points,teacher_progress_monthly,school_gate_monthly,monthly_progress",
		MonthsText:   "ability_refs",
		MonthsLatest: "teacher_progress,school_gate,ability_choices,coverage,swot_gaps,swot_inputs,unmatched_rows,data_quality,annual_by_group,annual_summary,district_summary",
		MonthsFixed:  "profile_catalogue",
	}
	for k, names := range want {
		set := map[string]bool{}
		for _, n := range kinds[k] {
			set[n] = true
		}
		for _, n := range strings.Split(names, ",") {
			if !set[n] {
				t.Errorf("%s is not @months: %s", n, k)
			}
		}
		if len(set) != len(strings.Split(names, ",")) {
			t.Errorf("@months: %s: %v", k, kinds[k])
		}
	}
	parts := c.partitionedModels()
	sort.Strings(parts)
	if got := strings.Join(parts, ","); got != "teacher_category_hours,teacher_points" {
		t.Errorf("partitioned: %s", got)
	}
	if c.effective != "effective_batches" || c.refs != "school_refs" {
		t.Errorf("providers: %s, %s", c.effective, c.refs)
	}
	if got := strings.Join(c.profileTables(), ","); got != "profile,profile_activity_cap,profile_category_min" {
		t.Errorf("profile tables: %s", got)
	}
	if n := len(c.AnalystTables()); n != len(c.Models)+len(c.Sources) || n < 36 {
		t.Errorf("%d analyst tables", n)
	}
	for _, tb := range c.AnalystTables() {
		if d, _ := c.Table(tb); d.Label == "" || d.Note == "" {
			t.Errorf("%s: label %q, note %q", tb, d.Label, d.Note)
		}
	}
}
