package models

import "fmt"

// How a refresh treats one model.
const (
	keep  = iota // unchanged: the table stays as it is
	whole        // rebuilt whole under the staging name, renamed in at the swap
	delta        // per-month: months >= from rebuilt under the staging name, replaced at the swap
)

// The incremental refresh. Its input is the loaded batches (immutable: a batch id whose
// digest changed forces a full rebuild, as do another profile, catalogue, migration or model
// SQL). From what was recorded at the last refresh it knows which batches were loaded or
// removed since; B is the first month the as-of date of one of them falls in (every month if
// one has no as-of date). Every model declares which of these it is (@months in its file's
// header; catalog.go checks the reads each kind promises when the models are loaded):
//
//   - @months: key models are per month and small (months; school_info, each school's facts each
//     month; school_refs, which school each batch's row references mean each month;
//     effective_batches, which file counts for each month, kind and school). They are
//     recomputed and compared, row for row, with the old table: the first month where the
//     two differ (for effective_batches, per export kind) is where change starts downstream.
//     Comparing outputs needs no reasoning about which batch moves which month. To keep
//     their cost flat they are recomputed only from a month before which they cannot differ:
//     school_refs and effective_batches (@recompute-from: as-of) from the earlier of B and the first
//     changed month of the per-month models they read, since their rows for month m are
//     worked only from the batches dated by m's end and from month m's rows of those models;
//     school_info, whose one rule reaching back (a school first listed later lends its
//     facts to the months before) always shows in its first month (@recompute-from:
//     first-month), from B if
//     its first month recomputes unchanged, else whole.
//   - @months: local models are per month and heavy. Their rows for month m are worked only
//     from month m's rows of the models they read, from small tables with no month
//     (@months: fixed: the profile, the catalogue), from text-keyed models joined on their
//     key (below) and from raw rows that join effective_batches on batch id (Load checks
//     these reads). So a model's first changed month is the earliest first changed
//     month of the per-month models it reads, per export kind for effective_batches
//     (kindsRead); months before it cannot differ and are kept; if nothing it reads changed,
//     the table is kept. masked_ids, read by the heavy ones, is also compared after its
//     rebuild (@compared), so that its readers see only the months it really changed.
//   - @months: text KEY models have no month; each of their rows is worked from one key text alone
//     (with the profile and catalogue), for every text the loaded raw rows hold
//     (ability_refs: which catalogue point an assessment's text names, for the texts of the
//     profile's catalogue). A batch load or removal only adds or drops texts; the row of a
//     text kept cannot change. A month-local model joins them on the key of raw rows (or a
//     CTE of them) of month m's effective files, so every text it looks up is held by a file
//     loaded both before and after unless month m's effective files changed, which
//     effective_batches already shows it: their change adds no month for it. They are
//     rebuilt whole; when no batch was removed, from their old keys and the raw rows of the
//     batches loaded since (textWindows), since a key's row depends on the key alone and a
//     load only adds keys. Checked when the models load: they read raw rows only as SELECT
//     DISTINCT key, and no table but fixed ones; readers join on the key alone, the other
//     side raw rows or a CTE (readsByKey). Not checked: that
//     the reader keeps only raw rows the text-keyed model reads (teacher_points keeps the
//     profile's catalogue, as ability_refs does); TestIncrementalEqualsFull would show it.
//   - every other model (@months: latest, the latest-month and annual figures and data
//     quality, which an incremental refresh hands the latest month alone; @months: fixed;
//     @months: none) is rebuilt whole when anything it reads changed (or it reads a table
//     loading writes), and kept otherwise.
//
// Why no changed month is missed. (1) Between two incremental refreshes only the set of
// batches changes: a batch is immutable (another digest under the same id, like another
// profile, catalogue, migration or model SQL, forces a full rebuild). (2) A batch dated in
// month M is read, by every per-month rule, only for months from M on, but for school_info's
// rule reaching back, which shows in its first month and is probed there; a batch with no
// as-of date counts as changing every month. (3) The key models are recomputed from a
// month before which (1) and (2) and the first changed months of what they read leave them
// equal, and every recomputed month is compared row for row with the old one: their first
// changed month is measured, not inferred. (4) A local model's month m reads only
// month m's rows of per-month models, text-keyed models by key, tables that force a full
// rebuild, and raw rows of month m's effective files (immutable, and named by
// effective_batches' month m rows), so if no per-month model it reads changed at m, its
// month m is unchanged; by induction over the dependency order its first changed month is
// no earlier than the earliest first changed month of what it reads, where its rebuild
// starts (for a compared one, the compared output then narrows it). (5) Every other model
// is rebuilt whole when anything it reads changed. TestIncrementalEqualsFull checks the
// declarations against full rebuilds after random loads, late files, re-uploads and removals.
//
// What a rebuild reads is narrowed further, never widened: a model rebuilt for some months
// reads the raw rows of the files effective in them alone (rawWindows; for unmatched_rows
// also of the files whose school references are unresolved there), which every raw read
// of such a model joins on batch id (stmt.rawReads, checked read by read); a
// partitioned model (@partitioned) is built month by month, each month through the windows
// of that month, which its month-local rules make equal to building the months together.
//
// A data test declared @per-month (each of its rows concerns one month's rows) runs over the
// recomputed months only: the months before passed it when they were built and have not
// changed. Any other test runs over every month.

// since is how much of a model's output changed: nothing, every month from a month on, or
// everything (all months, or a table with no month).
type since struct {
	changed bool
	month   string // "" with changed: everything
}

func from(m string) since { return since{changed: true, month: m} }

// earlier is the wider of two changes.
func earlier(a, b since) since {
	switch {
	case !a.changed:
		return b
	case !b.changed:
		return a
	case a.month == "" || b.month == "":
		return since{changed: true}
	case a.month < b.month:
		return a
	}
	return b
}

// step is what a refresh does with one model or profile table.
type step struct {
	name   string
	decl   Decl
	how    int
	from   string           // delta: the first month rebuilt
	out    since            // what changed in the table
	byKind map[string]since // the effective files: what changed for each export kind
	old    []string         // partitioned: the months of the partitions stored
	parts  []string         // partitioned: the months of the partitions staged
}

// batchesFrom is the first month a batch loaded or removed since the last refresh falls in.
func batchesFrom(was, now inputs) since {
	var c since
	mark := func(b batchRef) {
		if !b.asOf.Valid {
			c = earlier(c, since{changed: true})
			return
		}
		c = earlier(c, from(b.asOf.Time.Format("2006-01")))
	}
	for id, b := range now.batches {
		if _, ok := was.batches[id]; !ok {
			mark(b)
		}
	}
	for id, b := range was.batches {
		if _, ok := now.batches[id]; !ok {
			mark(b)
		}
	}
	return c
}

// changeIn is what changed in dependency s as a model reading the export kinds kinds of
// the effective files sees it (kinds nil: every kind).
func changeIn(s *step, kinds []string) since {
	if s.byKind == nil || kinds == nil {
		return s.out
	}
	var c since
	for _, k := range kinds {
		c = earlier(c, s.byKind[k])
	}
	return c
}

var _ = fmt.Sprint
