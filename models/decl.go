package models

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Decl is what a model, a source table or a data test says of itself in the header of its
// own file: the leading comment lines, of which those of the form `-- @key: value` are
// declarations and the others the table's description. models/README.md lists the keys.
type Decl struct {
	File string // the file, for messages: models/sql/roster.sql
	Note string // the description: the plain comment lines, joined

	Label         string // @label: the Chinese name pages and the SQL page show
	Months        string // @months: key, local, text, latest, fixed or none (models); load, fixed (sources)
	TextKey       string // @months: text KEY: the key column
	RecomputeFrom string // @recompute-from: as-of or first-month (months: key)
	Compared      bool   // @compared: a months: local model compared with its old rows after a rebuild
	Partitioned   bool   // @partitioned: stored one table per month behind a view
	Provides      string // @provides: effective-files or school-refs
	Scope         string // @scope: how a district's or school's database cuts it
	SchoolScope   string // @school-scope: the rule for a school's database, where it differs
	Counts        bool   // @counts: its flag-named columns hold counts (docs)
	DocOrder      int    // @doc-order: its place in the schema document and the SQL page
	ExportKind    string // @export-kind: a raw source's export kind (teachers, hours, …)
	Writer        string // @written-by: refresh (the profile tables) or load (sources)
	PerMonth      bool   // @per-month: a data test each of whose rows concerns one month

	lines map[string]int // each declaration's line, for messages
}

// What a file may be.
const (
	declModel  = "model"
	declSource = "source"
	declTest   = "test"
)

// The values of @months for a model (see incremental.go for what each promises).
const (
	MonthsKey    = "key"    // per month, small: recomputed and compared with the old rows
	MonthsLocal  = "local"  // per month, heavy: month m is worked from month m of what it reads
	MonthsText   = "text"   // no month: each row worked from one key text
	MonthsLatest = "latest" // reads the per-month tables at the latest month only
	MonthsFixed  = "fixed"  // changes only with what forces a full rebuild (profile, catalogue)
	MonthsNone   = "none"   // none of these: rebuilt whole when anything it reads changed
	MonthsLoad   = "load"   // sources: written by loading and removing files
)

// Scope rules (internal/scoped says how each cuts a table).
var scopeRules = map[string]bool{
	"district": true, "school_month": true, "batch_school": true, "teacher_month": true, "person_month": true,
	"raw_ref": true, "text": true, "scope_code": true, "recompute": true, "global": true, "batch": true,
	"reject": true, "group": true, "none": true,
}

// ScopeRules lists the scope rules a declaration may name.
func ScopeRules() []string {
	var out []string
	for r := range scopeRules {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// DeclError is a header that cannot be read or contradicts itself: it names the file and line.
type DeclError struct {
	File string
	Line int
	Msg  string
}

func (e *DeclError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// parseDecl reads the header of a file of the given kind (model, source or test).
func parseDecl(file, text, kind string) (Decl, error) {
	d := Decl{File: file, lines: map[string]int{}}
	var notes []string
	for i, line := range strings.Split(text, "\n") {
		l := strings.TrimSpace(line)
		if l == "" && len(notes) == 0 && len(d.lines) == 0 {
			continue
		}
		if !strings.HasPrefix(l, "--") {
			break
		}
		body := strings.TrimSpace(strings.TrimPrefix(l, "--"))
		if !strings.HasPrefix(body, "@") {
			if body != "" {
				notes = append(notes, body)
			}
			continue
		}
		key, value, ok := strings.Cut(body[1:], ":")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		lineNo := i + 1
		fail := func(format string, a ...any) error {
			return &DeclError{File: file, Line: lineNo, Msg: fmt.Sprintf(format, a...)}
		}
		if !ok || key == "" {
			return d, fail("a declaration reads -- @key: value")
		}
		if _, dup := d.lines[key]; dup {
			return d, fail("@%s declared twice (first on line %d)", key, d.lines[key])
		}
		if !allowed(kind, key) {
			return d, fail("@%s is not a declaration of a %s file (see models/README.md)", key, kind)
		}
		d.lines[key] = lineNo
		boolean := func() (bool, error) {
			switch value {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
			return false, fail("@%s is true or false, not %q", key, value)
		}
		var err error
		switch key {
		case "label":
			d.Label = value
		case "months":
			f := strings.Fields(value)
			if len(f) == 0 {
				return d, fail("@months needs a value")
			}
			d.Months = f[0]
			switch {
			case kind == declModel && d.Months == MonthsText && len(f) == 2:
				d.TextKey = f[1]
			case kind == declModel && d.Months == MonthsText:
				return d, fail("@months: text names its key column: @months: text COLUMN")
			case len(f) != 1:
				return d, fail("@months: %q: one word", value)
			case kind == declModel && !oneOf(d.Months, MonthsKey, MonthsLocal, MonthsLatest, MonthsFixed, MonthsNone):
				return d, fail("@months of a model is key, local, text COLUMN, latest, fixed or none, not %q", value)
			case kind == declSource && !oneOf(d.Months, MonthsLoad, MonthsFixed):
				return d, fail("@months of a source is load or fixed, not %q", value)
			}
		case "recompute-from":
			if !oneOf(value, "as-of", "first-month") {
				return d, fail("@recompute-from is as-of or first-month, not %q", value)
			}
			d.RecomputeFrom = value
		case "compared":
			d.Compared, err = boolean()
		case "partitioned":
			d.Partitioned, err = boolean()
		case "provides":
			if !oneOf(value, "effective-files", "school-refs") {
				return d, fail("@provides is effective-files or school-refs, not %q", value)
			}
			d.Provides = value
		case "scope", "school-scope":
			if !scopeRules[value] {
				return d, fail("@%s: no scope rule %q (one of %s)", key, value, strings.Join(ScopeRules(), ", "))
			}
			if key == "scope" {
				d.Scope = value
			} else {
				d.SchoolScope = value
			}
		case "counts":
			d.Counts, err = boolean()
		case "doc-order":
			n, e := strconv.Atoi(value)
			if e != nil || n < 0 {
				return d, fail("@doc-order is a whole number, not %q", value)
			}
			d.DocOrder = n
		case "export-kind":
			if !oneOf(value, "schools", "teachers", "hours", "progress", "assessments") {
				return d, fail("@export-kind is schools, teachers, hours, progress or assessments, not %q", value)
			}
			d.ExportKind = value
		case "written-by":
			if !oneOf(value, "load", "refresh") {
				return d, fail("@written-by is load or refresh, not %q", value)
			}
			d.Writer = value
		case "per-month":
			d.PerMonth, err = boolean()
		}
		if err != nil {
			return d, err
		}
	}
	d.Note = strings.Join(notes, " ")
	return d, d.check(kind)
}

// allowed says which keys each kind of file may declare.
func allowed(kind, key string) bool {
	switch kind {
	case declTest:
		return key == "per-month"
	case declSource:
		return oneOf(key, "label", "months", "scope", "school-scope", "counts", "doc-order", "export-kind", "written-by")
	}
	return oneOf(key, "label", "months", "recompute-from", "compared", "partitioned", "provides", "scope", "school-scope", "counts", "doc-order")
}

// check refuses a header that leaves something out or contradicts itself.
func (d Decl) check(kind string) error {
	at := func(key, format string, a ...any) error {
		return &DeclError{File: d.File, Line: d.lines[key], Msg: fmt.Sprintf(format, a...)}
	}
	if kind == declTest {
		return nil
	}
	for _, k := range []string{"label", "months", "scope", "doc-order"} {
		if _, ok := d.lines[k]; !ok {
			return &DeclError{File: d.File, Msg: fmt.Sprintf("no @%s: every analyst table declares its label, months, scope and doc-order (see models/README.md)", k)}
		}
	}
	if d.Label == "" {
		return at("label", "@label is empty")
	}
	if kind == declSource {
		if _, ok := d.lines["written-by"]; !ok {
			return &DeclError{File: d.File, Msg: "no @written-by: a source is written by load or by refresh"}
		}
		if (d.Scope == "raw_ref") != (d.ExportKind != "") {
			return at("scope", "a source cut by raw_ref declares its @export-kind, and only such a source does")
		}
		return nil
	}
	switch {
	case d.RecomputeFrom != "" && d.Months != MonthsKey:
		return at("recompute-from", "@recompute-from is for @months: key models, this one is %s", d.Months)
	case d.Compared && d.Months != MonthsLocal:
		return at("compared", "@compared is for @months: local models (key models are always compared), this one is %s", d.Months)
	case d.Partitioned && d.Months != MonthsLocal:
		return at("partitioned", "a partitioned model is built month by month: it must be @months: local, this one is %s", d.Months)
	case d.Provides == "effective-files" && d.Months != MonthsKey:
		return at("provides", "the model of the effective files is @months: key")
	case d.Provides == "school-refs" && d.Months != MonthsKey:
		return at("provides", "the model of the school references is @months: key")
	case d.Scope == "text" && d.Months != MonthsText:
		return at("scope", "the text scope rule cuts a @months: text model")
	}
	return nil
}

func oneOf(s string, xs ...string) bool {
	for _, x := range xs {
		if s == x {
			return true
		}
	}
	return false
}
