package ingest

import (
	"testing"
	"time"
)

// An uploader's scope is the district holding each school in the file's month: a school
// moved on July's list is the old district's until June and the new one's from July; a
// school first listed later is held, before its first list, by the district of that list.
func TestLimitFollowsTheMonth(t *testing.T) {
	d := func(s string) time.Time { x, _ := time.Parse("2006-01-02", s); return x }
	lists := []Listing{
		{Code: "A", Name: "甲校", District: "东", AsOf: d("2025-05-31"), Batch: 1},
		{Code: "A", Name: "甲校", District: "西", AsOf: d("2025-07-31"), Batch: 3},
		{Code: "B", Name: "乙校", District: "东", AsOf: d("2025-05-31"), Batch: 1},
		{Code: "C", Name: "丙校", District: "西", AsOf: d("2025-06-30"), Batch: 2},
		// a name two schools share in June: neither is meant by it
		{Code: "D", Name: "同名校", District: "东", AsOf: d("2025-06-30"), Batch: 2},
		{Code: "E", Name: "同名校", District: "东", AsOf: d("2025-06-30"), Batch: 2},
	}
	east, west := NewLimit("东", "", "区县:东", lists), NewLimit("西", "", "区县:西", lists)
	school := NewLimit("", "A", "学校:A", lists)
	for _, c := range []struct {
		lim        *Limit
		code, name string
		asOf       string
		want       bool
	}{
		{east, "A", "", "2025-06-30", true},
		{east, "A", "", "2025-07-15", false}, // July's list, dated the 31st, already holds for July
		{west, "A", "", "2025-07-01", true},
		{west, "A", "", "2025-06-30", false},
		{east, "B", "", "2025-09-30", true},
		{west, "C", "", "2025-04-30", true}, // before its first list, its first list's district
		{east, "Z", "", "2025-06-30", false},
		{east, "", "甲校", "2025-06-30", true},
		{east, "", "甲校", "2025-07-31", false},
		{west, "", "甲校", "2025-07-31", true},
		{east, "", "同名校", "2025-06-30", false},
		{east, "", "无名", "2025-06-30", false},
		{school, "A", "", "2025-07-31", true},
		{school, "B", "", "2025-07-31", false},
		{school, "", "甲校", "2025-06-30", true},
	} {
		var got bool
		if c.code != "" {
			got = c.lim.HoldsCode(c.code, d(c.asOf))
		} else {
			got = c.lim.holdsName(c.name, d(c.asOf))
		}
		if got != c.want {
			t.Errorf("%s holds %s%s on %s: %v, want %v", c.lim.Label, c.code, c.name, c.asOf, got, c.want)
		}
	}
	if !west.HeldEver("A") || west.HeldEver("B") {
		t.Error("HeldEver")
	}
}
