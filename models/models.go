// Package models turns the loaded exports into the figures the programme is judged on:
// SQL models (one table per file under sql/), built in dependency order under a rule
// profile, checked by SQL data tests (tests/), and swapped in together in one transaction;
// a failing test changes nothing, so readers only ever see a complete, checked state.
package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"tisheng/internal/warehouse"
)

// Built is one model table built by a refresh.
type Built struct {
	Table  string `json:"table"`
	Rows   int64  `json:"rows"`
	Millis int64  `json:"ms"`
	From   string `json:"from,omitempty"` // rebuilt from this month on; "" = whole
}

// Report says what a refresh did.
type Report struct {
	Profile Profile `json:"profile"`
	Mode    string  `json:"mode"`             // full, incremental or unchanged
	Reason  string  `json:"reason,omitempty"` // full: why
	From    string  `json:"from,omitempty"`   // incremental: the first month recomputed`
	Built   []Built `json:"built"`
	Tests   int     `json:"tests"`
	Checked []Built `json:"checked"` // the data tests: name, offending rows, ms
	Millis  int64   `json:"ms"`
}

// TestFailure is a data test that found rows breaking its rule.
type TestFailure struct {
	Test  string
	Count int
	Rows  []string // the first few, as "col=value" lists
}

// TestError fails a refresh: nothing it built was kept.
type TestError struct{ Failures []TestFailure }

func (e *TestError) Error() string {
	var b strings.Builder
	b.WriteString("refresh: data tests failed, nothing changed:")
	for _, f := range e.Failures {
		fmt.Fprintf(&b, "\n  %s: %d rows", f.Test, f.Count)
		for _, r := range f.Rows {
			fmt.Fprintf(&b, "\n    %s", r)
		}
	}
	return b.String()
}

// ErrNoProfile means the warehouse has never been refreshed.
var ErrNoProfile = errors.New("no profile recorded")

// CurrentProfile is the profile of the last refresh.
func CurrentProfile(ctx context.Context, db *sql.DB) (Profile, error) {
	var params string
	err := db.QueryRowContext(ctx, `SELECT params FROM profile`).Scan(&params)
	if err != nil {
		var n int
		if db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() AND table_name = 'profile'`).Scan(&n) == nil && n == 0 {
			return Profile{}, ErrNoProfile
		}
		return Profile{}, fmt.Errorf("profile: %w", err)
	}
	return ParseProfile([]byte(params), "recorded in the warehouse")
}

// Refresh brings the built-in models up to date under profile p (Catalog.Refresh).
func Refresh(ctx context.Context, wh *warehouse.Warehouse, p Profile) (Report, error) {
	c, err := Builtin()
	if err != nil {
		return Report{Profile: p}, err
	}
	return c.Refresh(ctx, wh, p)
}

// RefreshFull rebuilds every built-in model from every batch under profile p.
func RefreshFull(ctx context.Context, wh *warehouse.Warehouse, p Profile) (Report, error) {
	c, err := Builtin()
	if err != nil {
		return Report{Profile: p}, err
	}
	return c.RefreshFull(ctx, wh, p)
}

// Refresh brings the models up to date under profile p, recomputing only what the batches
// loaded or removed since the last refresh can have changed (incremental.go); a new profile,
// catalogue, migration or model definition rebuilds everything. The result is the same as
// RefreshFull's, row for row.
func (c *Catalog) Refresh(ctx context.Context, wh *warehouse.Warehouse, p Profile) (Report, error) {
	return c.refresh(ctx, wh, p, false)
}

// RefreshFull rebuilds every model from every batch under profile p.
func (c *Catalog) RefreshFull(ctx context.Context, wh *warehouse.Warehouse, p Profile) (Report, error) {
	return c.refresh(ctx, wh, p, true)
}
