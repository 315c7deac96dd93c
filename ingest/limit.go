package ingest

import (
	"sort"
	"time"
)

// Limit is the part of the warehouse an uploader may write: rows naming a school the
// uploader's scope does not hold in the file's month are refused with that reason; school
// lists and catalogues, which define every scope, are refused whole. A school is in a
// district month by month (a later school list may move it), so the check is made for the
// file's as-of month, as the models resolve a row's school: the school's newest list dated
// by the month's end, else its earliest list.
type Limit struct {
	District string // the uploader's district ("" for a school user)
	School   string // the uploader's school, for a school user
	Label    string // the scope as the reason names it (区县:… / 学校:…)

	byCode map[string][]Listing // each school's entries, oldest first
}

// Listing is one school's entry on one loaded school list.
type Listing struct {
	Code, Name, District string
	AsOf                 time.Time
	Batch                int64
}

// NewLimit is the limit of a district's (district set) or a school's (school set) uploader,
// given every entry of the school lists loaded so far.
func NewLimit(district, school, label string, lists []Listing) *Limit {
	l := &Limit{District: district, School: school, Label: label, byCode: map[string][]Listing{}}
	for _, e := range lists {
		l.byCode[e.Code] = append(l.byCode[e.Code], e)
	}
	for _, es := range l.byCode {
		sort.Slice(es, func(i, j int) bool {
			if !es[i].AsOf.Equal(es[j].AsOf) {
				return es[i].AsOf.Before(es[j].AsOf)
			}
			return es[i].Batch < es[j].Batch
		})
	}
	return l
}

// monthEnd is the last day of t's month.
func monthEnd(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
}

// factsAt is a school's entry that holds in asOf's month: its newest list dated by the
// month's end, else its earliest list.
func (l *Limit) factsAt(code string, asOf time.Time) (Listing, bool) {
	es := l.byCode[code]
	if len(es) == 0 {
		return Listing{}, false
	}
	end := monthEnd(asOf)
	for i := len(es) - 1; i >= 0; i-- {
		if !es[i].AsOf.After(end) {
			return es[i], true
		}
	}
	return es[0], true
}

// HoldsCode says whether the uploader's scope holds the school in asOf's month.
func (l *Limit) HoldsCode(code string, asOf time.Time) bool {
	if l.School != "" {
		return code == l.School
	}
	f, ok := l.factsAt(code, asOf)
	return ok && f.District == l.District
}

// holdsName says whether a school named only by name is the scope's in asOf's month: the
// name must be one school's on the lists dated by then (or its earliest), and that school
// the scope's.
func (l *Limit) holdsName(name string, asOf time.Time) bool {
	var codes []string
	for code := range l.byCode {
		if f, ok := l.factsAt(code, asOf); ok && f.Name == name {
			codes = append(codes, code)
			continue
		}
		end := monthEnd(asOf)
		for _, e := range l.byCode[code] {
			if e.Name == name && !e.AsOf.After(end) {
				codes = append(codes, code)
				break
			}
		}
	}
	return len(codes) == 1 && l.HoldsCode(codes[0], asOf)
}

// HeldEver says whether the scope holds the school in any month of the lists loaded: what
// an upload naming one school for the whole file (a 研修考核 file's --school) is checked
// against before it is read; its rows are then checked for the file's month.
func (l *Limit) HeldEver(code string) bool {
	if l.School != "" {
		return code == l.School
	}
	for _, e := range l.byCode[code] {
		if e.District == l.District {
			return true
		}
	}
	return false
}
