package models

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

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
// one has no as-of date). Every model is one of four kinds:
//
//   - monthKey models are per month and small (months; school_info, each school's facts each
//     month; school_refs, which school each batch's row references mean each month;
//     effective_batches, which file counts for each month, kind and school). They are
//     recomputed and compared, row for row, with the old table: the first month where the
//     two differ (for effective_batches, per export kind) is where change starts downstream.
//     Comparing outputs needs no reasoning about which batch moves which month. To keep
//     their cost flat they are recomputed only from a month before which they cannot differ:
//     school_refs and effective_batches (asOfLocal) from the earlier of B and the first
//     changed month of the per-month models they read, since their rows for month m are
//     worked only from the batches dated by m's end and from month m's rows of those models;
//     school_info, whose one rule reaching back (a school first listed later lends its
//     facts to the months before) always shows in its first month (probeFirst), from B if
//     its first month recomputes unchanged, else whole.
//   - monthLocal models are per month and heavy. Their rows for month m are worked only
//     from month m's rows of the models they read, from small tables with no month
//     (profile, catalogue), from textKeyed models joined on their key (below) and from raw
//     rows that join effective_batches on batch id (TestMonthLocalModelsReadMonthInputs
//     checks these reads). So a model's first changed month is the earliest first changed
//     month of the per-month models it reads, per export kind for effective_batches
//     (kindsRead); months before it cannot differ and are kept; if nothing it reads changed,
//     the table is kept. masked_ids, read by the heavy ones, is also compared after its
//     rebuild (diffed), so that its readers see only the months it really changed.
//   - textKeyed models have no month; each of their rows is worked from one key text alone
//     (with the profile and catalogue), for every text the loaded raw rows hold
//     (ability_refs: which catalogue point an assessment's text names, for the texts of the
//     profile's catalogue). A batch load or removal only adds or drops texts; the row of a
//     text kept cannot change. A monthLocal model joins them on the key of raw rows (or a
//     CTE of them) of month m's effective files, so every text it looks up is held by a file
//     loaded both before and after unless month m's effective files changed, which
//     effective_batches already shows it: their change adds no month for it. They are
//     rebuilt whole; when no batch was removed, from their old keys and the raw rows of the
//     batches loaded since (textWindows), since a key's row depends on the key alone and a
//     load only adds keys. Checked: they read raw rows only as SELECT
//     DISTINCT key, and no batches or per-month table; readers join on the key alone, the
//     other side raw rows or a CTE (readsByKey, also at refresh time). Not checked: that
//     the reader keeps only raw rows the textKeyed model reads (teacher_points keeps the
//     profile's catalogue, as ability_refs does); TestIncrementalEqualsFull would show it.
//   - every other model (latest-month and annual figures, data quality) is rebuilt whole when
//     anything it reads changed (or it reads the batches or raw rows), and kept otherwise.
//
// Why no changed month is missed. (1) Between two incremental refreshes only the set of
// batches changes: a batch is immutable (another digest under the same id, like another
// profile, catalogue, migration or model SQL, forces a full rebuild). (2) A batch dated in
// month M is read, by every per-month rule, only for months from M on, but for school_info's
// rule reaching back, which shows in its first month and is probed there; a batch with no
// as-of date counts as changing every month. (3) The monthKey models are recomputed from a
// month before which (1) and (2) and the first changed months of what they read leave them
// equal, and every recomputed month is compared row for row with the old one: their first
// changed month is measured, not inferred. (4) A monthLocal model's month m reads only
// month m's rows of per-month models, textKeyed models by key, tables that force a full
// rebuild, and raw rows of month m's effective files (immutable, and named by
// effective_batches' month m rows), so if no per-month model it reads changed at m, its
// month m is unchanged; by induction over the dependency order its first changed month is
// no earlier than the earliest first changed month of what it reads, where its rebuild
// starts (for a diffed one, the compared output then narrows it). (5) Every other model
// is rebuilt whole when anything it reads changed. A model added later is of the last kind
// until listed here: slower, never wrong. TestIncrementalEqualsFull checks the lists
// against full rebuilds after random loads, late files, re-uploads and removals.
//
// What a rebuild reads is narrowed further, never widened: a model rebuilt for some months
// reads the raw rows of the files effective in them alone (rawWindows; for unmatched_rows
// also of the files whose school references are unresolved there), which every raw read
// of such a model joins on batch id (rawThroughEffective, checked read by read); a
// partitioned model (partitioned) is built month by month, each month through the windows
// of that month, which its month-local rules make equal to building the months together.
func monthKind(name string) (monthKey, monthLocal bool) {
	switch name {
	case "months", "effective_batches", "school_info", "school_refs":
		return true, false
	case "roster", "masked_ids", "teacher_category_hours", "teacher_plan", "teacher_points",
		"teacher_progress_monthly", "school_gate_monthly", "monthly_progress":
		return false, true
	}
	return false, false
}

// diffed lists the monthLocal models compared with the old table after their rebuild, like
// the monthKey ones: small tables whose inputs change more often than they do.
func diffed(name string) bool { return name == "masked_ids" }

// textKey is the key column of a textKeyed model (see monthKind), "" for other models.
func textKey(name string) string {
	if name == "ability_refs" {
		return "ability_given"
	}
	return ""
}

// readsByKey says whether every read of model name in q is a join on its key column alone
// (JOIN name a ON a.key = x.key) whose other side x is raw rows or a CTE of the query: the
// one read a monthLocal model may make of a textKeyed one.
func readsByKey(q, name, key string) bool {
	code := stripComments(q)
	refs := regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+`+name+`\b`).FindAllStringIndex(code, -1)
	joins := regexp.MustCompile(`(?i)\bJOIN\s+`+name+`\s+(\w+)\s+ON\s+(\w+)\.`+key+`\s*=\s*(\w+)\.`+key+
		`\s*(\)|$|\b(?:LEFT|JOIN|WHERE|GROUP|QUALIFY|ORDER|UNION)\b)`).FindAllStringSubmatch(code, -1)
	if len(refs) == 0 || len(joins) != len(refs) {
		return false
	}
	ctes := map[string]bool{}
	for _, c := range reCTE.FindAllStringSubmatch(code, -1) {
		ctes[strings.ToLower(c[1])] = true
	}
	for _, j := range joins {
		a := strings.ToLower(j[1])
		l, r := strings.ToLower(j[2]), strings.ToLower(j[3])
		if (l == a) == (r == a) {
			return false
		}
		other := l
		if l == a {
			other = r
		}
		// the texts joined on come from raw rows or a CTE over them, never from a model or
		// profile table, whose texts need not be in the textKeyed model
		bound := regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+(\w+)\s+(?:AS\s+)?`+regexp.QuoteMeta(other)+`\b`).FindAllStringSubmatch(code, -1)
		if len(bound) == 0 {
			return false
		}
		for _, b := range bound {
			src := strings.ToLower(b[1])
			if !strings.HasPrefix(src, "raw_") && !ctes[src] {
				return false
			}
		}
	}
	return true
}

// reCTE finds the names a query's WITH clause defines.
var reCTE = regexp.MustCompile(`(?i)(?:\bWITH|,)\s*([a-z_][a-z0-9_]*)\s+AS\s*(?:MATERIALIZED\s*)?\(`)

// monthLocalTest lists the data tests each of whose rows concerns one month's rows (a row
// test, or one grouped by month): an incremental refresh runs them over the recomputed months
// only, since the months before passed them when they were built and have not changed. A
// test added later runs over every month until listed here.
func monthLocalTest(name string) bool {
	switch name {
	case "each_teacher_once", "every_roster_teacher_present", "flags_consistent", "gate_consistent",
		"hours_never_negative", "nobody_in_two_schools", "passed_points_in_catalogue", "rates_within_0_1":
		return true
	}
	return false
}

// latestOnly lists the models that read the per-month tables only at the latest month (a
// filter on max(month), or a join to a latest-month table on month): an incremental refresh
// hands them that month alone, so their cost does not grow with the months. A model added
// later reads every month until listed here; TestIncrementalEqualsFull (whose full rebuilds
// read every month) catches a model listed wrongly.
func latestOnly(name string) bool {
	switch name {
	case "teacher_progress", "school_gate", "ability_choices", "coverage", "swot_gaps", "swot_inputs",
		"unmatched_rows", "data_quality", "annual_by_group", "annual_summary", "district_summary":
		return true
	}
	return false
}

// asOfLocal lists the per-month models whose rows for month m depend only on the batches
// with an as-of date on or before m's last day and on month m's rows of the per-month models
// they read (months, school_info, school_refs): a batch loaded or removed changes them from
// its as-of month on, a model they read from its first changed month on, so they are
// rebuilt from the earlier of the two (and compared with the old rows from there).
// school_info is not one: a school first listed later lends its facts to the months before.
func asOfLocal(name string) bool { return name == "effective_batches" || name == "school_refs" }

// probeFirst lists the per-month models whose rows for a month before the first month a
// batch change falls in can change only through rules reaching back from later files to
// months with no file of their own (school_info: a school first listed later lends its
// earliest list's facts to every month before), and every such month shows it in the first
// month. A refresh recomputes the first month alone; if it came out as before, the model
// is rebuilt from the batch change's month on, else whole.
func probeFirst(name string) bool { return name == "school_info" }

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

func perMonth(name string) bool {
	k, l := monthKind(name)
	return k || l
}

// baseChanging are the loaded tables a batch load or removal writes; abilities changes only
// with a catalogue load, which forces a full rebuild.
var reBaseChanging = regexp.MustCompile(`(?i)\b(batches|rejects|raw_[a-z_]+)\b`)

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
	how    int
	from   string           // delta: the first month rebuilt
	out    since            // what changed in the table
	byKind map[string]since // effective_batches: what changed for each export kind
	old    []string         // partitioned: the months of the partitions stored
	parts  []string         // partitioned: the months of the partitions staged
}

var (
	reKindRef  = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+effective_batches\b`)
	reKindJoin = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+effective_batches\s+(\w+)\s+ON\s+(\w+)\.kind\s*=\s*'(\w+)'((?:.|\n)*?)(?:\b(?:LEFT|JOIN|WHERE|GROUP|QUALIFY|ORDER)\b|$)`)
	reOr       = regexp.MustCompile(`(?i)\bOR\b`)
)

// kindsRead lists the export kinds a model reads from effective_batches when every reference
// to it is a join whose condition keeps one kind (ON e.kind = 'hours' AND …); nil when some
// reference can read every kind.
func kindsRead(q string) []string {
	code := stripComments(q)
	refs := reKindRef.FindAllStringIndex(code, -1)
	joins := reKindJoin.FindAllStringSubmatch(code, -1)
	if len(refs) == 0 || len(joins) != len(refs) {
		return nil
	}
	var kinds []string
	for _, j := range joins {
		if j[1] != j[2] || reOr.MatchString(j[4]) {
			return nil
		}
		kinds = append(kinds, j[3])
	}
	return kinds
}

// changeIn is what changed in dependency s as model q reads it.
func changeIn(s *step, q string) since {
	if s.byKind == nil {
		return s.out
	}
	kinds := kindsRead(q)
	if kinds == nil {
		return s.out
	}
	var c since
	for _, k := range kinds {
		c = earlier(c, s.byKind[k])
	}
	return c
}

// inputs is what the models are built from, as recorded after a refresh.
type inputs struct {
	schema     int
	modelsHash string
	params     string
	catalogues string
	batches    map[int64]batchRef
}

type batchRef struct {
	sha  string
	asOf sql.NullTime
}

// modelsHash fingerprints the model and data-test SQL: a binary with other models rebuilds
// everything once.
func modelsHash() (string, error) {
	h := sha256.New()
	for _, dir := range []string{"sql", "tests"} {
		entries, err := fs.ReadDir(sqlFS, dir)
		if err != nil {
			return "", err
		}
		for _, e := range entries {
			b, err := sqlFS.ReadFile(path.Join(dir, e.Name()))
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s/%s %d\n", dir, e.Name(), len(b))
			h.Write(b)
		}
	}
	// how the models are stored: another layout rebuilds everything once
	fmt.Fprintf(h, "partitioned %s\n", strings.Join(partitionedModels(), ","))
	return hex.EncodeToString(h.Sum(nil)), nil
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// currentInputs reads what is loaded now; params is the profile about to be applied.
func currentInputs(ctx context.Context, q querier, params string) (inputs, error) {
	in := inputs{params: params, batches: map[int64]batchRef{}}
	var err error
	if in.modelsHash, err = modelsHash(); err != nil {
		return in, err
	}
	if err := q.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&in.schema); err != nil {
		return in, err
	}
	if err := q.QueryRowContext(ctx, `SELECT coalesce(list_sort(list(DISTINCT batch_id))::VARCHAR, '') FROM abilities`).Scan(&in.catalogues); err != nil {
		return in, err
	}
	return in, readBatches(ctx, q, `SELECT batch_id, sha256, as_of FROM batches`, in.batches)
}

func readBatches(ctx context.Context, q querier, query string, into map[int64]batchRef) error {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var b batchRef
		if err := rows.Scan(&id, &b.sha, &b.asOf); err != nil {
			return err
		}
		into[id] = b
	}
	return rows.Err()
}

// recordedInputs reads what the models were last built from; ok is false if never recorded.
func recordedInputs(ctx context.Context, q querier) (in inputs, ok bool, err error) {
	err = q.QueryRowContext(ctx, `SELECT schema_version, models_hash, profile_params, catalogues FROM refresh_state`).
		Scan(&in.schema, &in.modelsHash, &in.params, &in.catalogues)
	if errors.Is(err, sql.ErrNoRows) {
		return in, false, nil
	}
	if err != nil {
		return in, false, err
	}
	in.batches = map[int64]batchRef{}
	return in, true, readBatches(ctx, q, `SELECT batch_id, sha256, as_of FROM refresh_batches`, in.batches)
}

// fullReason says why the models must be rebuilt whole, or "" if they need not be.
func fullReason(was, now inputs) string {
	switch {
	case was.schema != now.schema:
		return "数据库结构已升级"
	case was.modelsHash != now.modelsHash:
		return "模型定义已更新"
	case was.params != now.params:
		return "规则配置已更改"
	case was.catalogues != now.catalogues:
		return "能力点目录已更新"
	}
	for id, b := range now.batches {
		if o, ok := was.batches[id]; ok && o.sha != b.sha {
			return fmt.Sprintf("批次 %d 的内容已改变", id)
		}
	}
	return ""
}

func sameBatches(was, now inputs) bool {
	if len(was.batches) != len(now.batches) {
		return false
	}
	for id := range now.batches {
		if _, ok := was.batches[id]; !ok {
			return false
		}
	}
	return true
}

// Stale reports whether the models are older than what is loaded: a batch loaded or removed,
// a catalogue loaded, a migration applied or other model definitions since the last refresh
// (or no refresh recorded while batches are loaded). It reads only small tables.
func Stale(ctx context.Context, db *sql.DB) (bool, error) {
	var p Profile
	p, err := CurrentProfile(ctx, db)
	params := ""
	switch {
	case errors.Is(err, ErrNoProfile):
	case err != nil:
		return false, fmt.Errorf("stale: %w", err)
	default:
		b, err := json.Marshal(p)
		if err != nil {
			return false, fmt.Errorf("stale: %w", err)
		}
		params = string(b)
	}
	now, err := currentInputs(ctx, db, params)
	if err != nil {
		return false, fmt.Errorf("stale: %w", err)
	}
	was, ok, err := recordedInputs(ctx, db)
	if err != nil {
		return false, fmt.Errorf("stale: %w", err)
	}
	if !ok {
		return len(now.batches) > 0, nil
	}
	if params == "" {
		params = was.params
		now.params = params
	}
	return fullReason(was, now) != "" || !sameBatches(was, now), nil
}

// missingModels lists the models with no table (a warehouse never refreshed, or one a user
// dropped a table from).
func missingModels(ctx context.Context, q querier, ms []Model) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		have[n] = true
	}
	var missing []string
	for _, m := range ms {
		if !have[m.Name] {
			missing = append(missing, m.Name)
		}
	}
	for _, t := range profileTables {
		if !have[t] {
			missing = append(missing, t)
		}
	}
	return missing, rows.Err()
}

// span is which months of the per-month tables a build reads: all of them, from a month
// on, or only one (the latest).
type span struct{ from, only string }

// window is the SQL for table s as a build reading span sp sees it: the old rows where the
// table is kept, the staged rows where it was rebuilt whole, and for a per-month rebuild the
// old rows before its first rebuilt month and the staged rows after.
func window(s step, sp span) string {
	if !perMonth(s.name) {
		sp = span{}
	}
	if partitioned(s.name) {
		return partWindow(s, sp)
	}
	where := func(conds ...string) string {
		var cs []string
		for _, c := range conds {
			if c != "" {
				cs = append(cs, c)
			}
		}
		if len(cs) == 0 {
			return ""
		}
		return " WHERE " + strings.Join(cs, " AND ")
	}
	month := ""
	switch {
	case sp.only != "":
		month = "month = '" + sp.only + "'"
	case sp.from != "":
		month = "month >= '" + sp.from + "'"
	}
	switch s.how {
	case keep:
		return "SELECT * FROM " + s.name + where(month)
	case whole:
		return "SELECT * FROM " + stagePrefix + s.name + where(month)
	}
	staged := "SELECT * FROM " + stagePrefix + s.name + where(month)
	old := "SELECT * FROM " + s.name + where(month, "month < '"+s.from+"'")
	switch {
	case sp.only != "" && sp.only >= s.from, sp.only == "" && sp.from != "" && sp.from >= s.from:
		return staged
	case sp.only != "":
		return old
	}
	return old + "\nUNION ALL " + staged
}

// windowPrefix names the temporary views a model's references are pointed at while it builds.
const windowPrefix = "__win_"

// reader rewrites a model's table references (after FROM or JOIN) to the window views.
func reader(names []string) func(string) string {
	sorted := append([]string(nil), names...)
	sort.Slice(sorted, func(i, j int) bool { return len(sorted[i]) > len(sorted[j]) })
	re := regexp.MustCompile(`(?i)\b(FROM|JOIN)(\s+)(` + strings.Join(sorted, "|") + `)\b`)
	return func(q string) string { return re.ReplaceAllString(q, "${1}${2}"+windowPrefix+"${3}") }
}

// refsOf lists the names among names that q reads.
func refsOf(q string, names []string) []string {
	code := stripComments(q)
	var out []string
	for _, n := range names {
		if regexp.MustCompile(`(?i)\b(FROM|JOIN)\s+` + n + `\b`).MatchString(code) {
			out = append(out, n)
		}
	}
	return out
}

// openWindows points the window views of refs at the tables as a build reading span sp sees them.
func openWindows(ctx context.Context, conn *sql.Conn, steps map[string]*step, refs []string, sp span) error {
	for _, r := range refs {
		if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP VIEW "+windowPrefix+r+" AS "+window(*steps[r], sp)); err != nil {
			return err
		}
	}
	return nil
}

// closeWindows drops every window view of the connection.
func closeWindows(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, `SELECT view_name FROM duckdb_views() WHERE temporary AND starts_with(view_name, ?)`, windowPrefix)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		if _, err := conn.ExecContext(ctx, "DROP VIEW IF EXISTS temp."+n); err != nil {
			return err
		}
	}
	return nil
}

// firstDiff sets what changed in the staged table of a per-month model: from the first
// month in which it differs from the old one (from its first rebuilt month, for a per-month
// rebuild), row for row (NULL equal to NULL, duplicates counted); for effective_batches also
// for each export kind.
func firstDiff(ctx context.Context, conn *sql.Conn, s *step) error {
	group, kind := "", "''"
	if s.name == "effective_batches" {
		group, kind = " GROUP BY kind", "kind"
	}
	old := "SELECT * FROM " + s.name
	if s.how == delta {
		old += " WHERE month >= '" + s.from + "'"
	}
	q := fmt.Sprintf(`SELECT %[3]s, min(month) FROM (
		(%[5]s EXCEPT ALL SELECT * FROM %[2]s%[1]s)
		UNION ALL
		(SELECT * FROM %[2]s%[1]s EXCEPT ALL %[5]s))%[4]s`, s.name, stagePrefix, kind, group, old)
	if s.how == delta {
		// months the old table does not hold yet (the usual case: the next month's files)
		// differ wherever the staged table has rows; the comparison would say the same
		var n int
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM ("+old+")").Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			q = fmt.Sprintf(`SELECT %[3]s, min(month) FROM %[2]s%[1]s%[4]s`, s.name, stagePrefix, kind, group)
		}
	}
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	s.out = since{}
	if group != "" {
		s.byKind = map[string]since{}
	}
	for rows.Next() {
		var k, m sql.NullString
		if err := rows.Scan(&k, &m); err != nil {
			return err
		}
		if !m.Valid {
			continue
		}
		s.out = earlier(s.out, from(m.String))
		if s.byKind != nil {
			s.byKind[k.String] = from(m.String)
		}
	}
	return rows.Err()
}

// firstMonth is the earliest month the table of step s holds ("" if empty); a partitioned
// model's partitions say, without reading the view.
func firstMonth(ctx context.Context, conn *sql.Conn, s *step) (string, error) {
	if partitioned(s.name) {
		if len(s.old) == 0 {
			return "", nil
		}
		return s.old[0], nil
	}
	var m sql.NullString
	err := conn.QueryRowContext(ctx, "SELECT min(month) FROM "+s.name).Scan(&m)
	return m.String, err
}

// writeState records what the models were built from, inside the swap's transaction.
func writeState(ctx context.Context, conn *sql.Conn, now inputs, mode, fromMonth, reason string) error {
	if _, err := conn.ExecContext(ctx, `DELETE FROM refresh_state`); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO refresh_state VALUES (?, ?, ?, ?, ?, nullif(?, ''), nullif(?, ''), current_timestamp::TIMESTAMP)`,
		now.schema, now.modelsHash, now.params, now.catalogues, mode, fromMonth, reason); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `DELETE FROM refresh_batches`); err != nil {
		return err
	}
	if len(now.batches) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(now.batches))
	for id := range now.batches {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	// the batches the models were built from, as read when the refresh began
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = fmt.Sprint(id)
	}
	_, err := conn.ExecContext(ctx, `INSERT INTO refresh_batches
		SELECT batch_id, sha256, as_of FROM batches WHERE batch_id IN (SELECT unnest(?::BIGINT[]))`, "["+strings.Join(list, ",")+"]")
	return err
}

// scopeModel picks the files effective each month: a per-month rebuild reads the raw rows of
// its files alone (rawWindows).
const scopeModel = "effective_batches"

// refsModel reads, of the raw rows, only which school reference each batch's rows give.
// Its rows for the latest month hold those of every batch with an as-of date (the months
// reach the latest one), so an incremental refresh reads them there for the batches kept
// and reads raw rows only for the batches loaded since, rather than every raw row.
const refsModel = "school_refs"

var (
	reRawRef = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+raw_[a-z_]+\b`)
	reRefSel = regexp.MustCompile(`(?i)\bSELECT\s+DISTINCT\s+'(\w+)'(?:\s+AS\s+kind)?\s*,\s*batch_id\s*,\s*school_code(?:\s+AS\s+given_code)?\s*,\s*school_name(?:\s+AS\s+given_name)?\s+FROM\s+(raw_[a-z_]+)\b`)
)

// refSource is one raw table the refs model reads, and the kind it gives its rows.
type refSource struct{ kind, table string }

// refSources lists the raw tables the refs model reads, if it reads each only as
// SELECT DISTINCT 'kind' [AS kind], batch_id, school_code [AS given_code], school_name
// [AS given_name] FROM raw_x; nil if it reads them otherwise (then it reads the raw rows
// themselves).
func refSources(q string) []refSource {
	code := stripComments(q)
	refs := reRawRef.FindAllString(code, -1)
	sels := reRefSel.FindAllStringSubmatch(code, -1)
	var out []refSource
	for _, s := range sels {
		out = append(out, refSource{kind: s[1], table: strings.ToLower(s[2])})
	}
	// raw_schools is read otherwise (the school lists), and is not a reference's source
	n := 0
	for _, r := range refs {
		if !strings.HasSuffix(strings.ToLower(r), "raw_schools") {
			n++
		}
	}
	if len(out) == 0 || len(out) != n {
		return nil
	}
	for _, o := range out {
		if o.table == "raw_schools" {
			return nil
		}
	}
	return out
}

// refsWindows points the refs model's raw tables at the references of the batches kept (its
// old rows for the latest month, of batches still loaded) and at the raw rows of the batches
// loaded since, read by batch id ranges (raw rows are stored in load order, so DuckDB skips
// the older row groups). The returned function rewrites the model's references to them.
func refsWindows(ctx context.Context, conn *sql.Conn, sources []refSource, was, now inputs) (func(string) string, error) {
	added := addedBatches(was, now)
	var tables []string
	for _, src := range sources {
		view := `SELECT batch_id, given_code AS school_code, given_name AS school_name FROM ` + refsModel +
			` WHERE month = (SELECT max(month) FROM ` + refsModel + `) AND kind = '` + src.kind + `'` +
			` AND batch_id IN (SELECT batch_id FROM batches)`
		if len(added) > 0 {
			view += "\nUNION ALL " + batchScan(src.table, "batch_id, school_code, school_name", added, true)
		}
		if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP VIEW "+windowPrefix+src.table+" AS "+view); err != nil {
			return nil, err
		}
		tables = append(tables, src.table)
	}
	return reader(tables), nil
}

// addedBatches lists, in order, the batches loaded since the last refresh.
func addedBatches(was, now inputs) []int64 {
	var added []int64
	for id := range now.batches {
		if _, ok := was.batches[id]; !ok {
			added = append(added, id)
		}
	}
	sort.Slice(added, func(i, j int) bool { return added[i] < added[j] })
	return added
}

// batchScan is a scan of table's cols keeping the rows of the sorted batch ids: one scan per
// id range, which DuckDB checks against each row group's bounds (raw rows are stored in load
// order, so the other files' row groups are skipped), with exact also the ids themselves (a
// range may take in ids not asked for). An OR of the ranges in one scan reads every row
// group (25M rows in load order, 8 ranges of 1,470 batches, DuckDB 1.5.6: 3-8 ms for the
// union against 360-854 ms for the OR and 14-48 ms for batch_id IN (…); 1.1.2: 3-4, 140-185
// and 49-51 ms; 2.0.0 prunes the OR too, 10-12 ms, and the union still halves that).
func batchScan(table, cols string, ids []int64, exact bool) string {
	in := ""
	if exact {
		list := make([]string, len(ids))
		for i, id := range ids {
			list[i] = fmt.Sprint(id)
		}
		in = " AND batch_id IN (" + strings.Join(list, ",") + ")"
	}
	var parts []string
	for _, r := range idRanges(ids, 16) {
		parts = append(parts, fmt.Sprintf("SELECT %s FROM %s WHERE batch_id BETWEEN %d AND %d%s", cols, table, r[0], r[1], in))
	}
	if len(parts) == 0 {
		return "SELECT " + cols + " FROM " + table + " WHERE false"
	}
	return strings.Join(parts, "\nUNION ALL ")
}

// textWindows points the raw tables a textKeyed model reads (as SELECT DISTINCT key, see
// monthKind) at its old keys and at the raw rows of the batches loaded since, when none was
// removed: each row is worked from its key alone, so the keys kept keep their rows and only
// the texts the new files bring are worked out; the raw rows of the files kept are not read.
// The old keys come with the profile's catalogue in column catalogue, the one column besides
// the key a textKeyed model may filter raw rows on (the profile is unchanged, or the refresh
// would be full). nil when a batch was removed: its texts may have gone, which only reading
// every raw row shows.
func textWindows(ctx context.Context, conn *sql.Conn, m Model, catalogue string, was, now inputs) (func(string) string, error) {
	key := textKey(m.Name)
	if key == "" {
		return nil, nil
	}
	for id := range was.batches {
		if _, ok := now.batches[id]; !ok {
			return nil, nil
		}
	}
	added := addedBatches(was, now)
	tables := map[string]bool{}
	for _, r := range reRawRef.FindAllString(stripComments(m.SQL), -1) {
		tables[strings.ToLower(strings.Fields(r)[1])] = true
	}
	var names []string
	for t := range tables {
		view := "SELECT " + key + ", '" + strings.ReplaceAll(catalogue, "'", "''") + "' AS catalogue FROM " + m.Name
		if len(added) > 0 {
			view += "\nUNION ALL " + batchScan(t, key+", catalogue", added, true)
		}
		if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP VIEW "+windowPrefix+t+" AS "+view); err != nil {
			return nil, err
		}
		names = append(names, t)
	}
	sort.Strings(names)
	return reader(names), nil
}

var (
	reRawAlias  = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+(raw_[a-z_]+)\s+([a-z_]+)`)
	reEffSubset = regexp.MustCompile(`(?i)\b(\w+)\s+AS\s*\(`)
	reCTEStart  = regexp.MustCompile(`(?i)\b(\w+)\s+AS\s*\(`)
	reReadEnd   = regexp.MustCompile(`(?i)\b(?:SELECT|FROM|UNION|EXCEPT|INTERSECT)\b|\)`)
)

// Which files a raw read keeps, for rawWindows.
const (
	viaEffective  = 1 << iota // joined to effective_batches (or a CTE of its rows) on batch id
	viaUnresolved             // joined to a CTE of school_refs rows whose school is unresolved
)

// rawThroughEffective lists the raw tables model q reads if each read is joined, on its
// batch_id, to effective_batches or a CTE of its rows (so it reads only rows of the files
// effective in the months it builds), or to a CTE of the unresolved school references
// (unresolvedRefs); ok is false if some raw read is joined neither way. via says which of
// the two joins occur. Each read is checked on its own: the join must follow it before the
// next SELECT, FROM, set operation or closing parenthesis, so another read's join under
// the same alias does not count.
func rawThroughEffective(q string) (tables []string, via int, ok bool) {
	code := plainOps(stripComments(q))
	if len(reRawRef.FindAllString(code, -1)) != len(reRawAlias.FindAllString(code, -1)) {
		return nil, 0, false
	}
	// effective_batches, or a subset of it named in the query (cur AS (SELECT * FROM effective_batches WHERE …))
	eff := []string{"effective_batches"}
	for _, c := range reEffSubset.FindAllStringSubmatchIndex(code, -1) {
		if body, ok := balanced(code[c[1]:]); ok && subsetOfEffective(body) {
			eff = append(eff, regexp.QuoteMeta(code[c[2]:c[3]]))
		}
	}
	unresolved := unresolvedRefs(code)
	for _, loc := range reRawAlias.FindAllStringSubmatchIndex(code, -1) {
		table, alias := strings.ToLower(code[loc[2]:loc[3]]), code[loc[4]:loc[5]]
		rest := code[loc[1]:]
		if e := reReadEnd.FindStringIndex(rest); e != nil {
			rest = rest[:e[0]]
		}
		switch {
		case joinedOnBatch(rest, eff, alias):
			via |= viaEffective
		case joinedOnBatch(rest, unresolved, alias):
			via |= viaUnresolved
		default:
			return nil, 0, false
		}
		tables = append(tables, table)
	}
	return tables, via, true
}

var (
	reIsDistinct = regexp.MustCompile(`(?i)\bIS\s+(?:NOT\s+)?DISTINCT\s+FROM\b`)
	reIsNotNull  = regexp.MustCompile(`(?i)\bIS\s+NOT\s+NULL\b`)
	reOrNot      = regexp.MustCompile(`(?i)\b(?:OR|NOT)\b`)
	reAnd        = regexp.MustCompile(`(?i)\bAND\b`)
	reSetOp      = regexp.MustCompile(`(?i)\b(?:UNION|EXCEPT|INTERSECT)\b`)
)

// plainOps writes the comparisons IS [NOT] DISTINCT FROM and IS NOT NULL as single words, so
// that their FROM and NOT read as neither a table nor a negation.
func plainOps(code string) string {
	code = reIsDistinct.ReplaceAllString(code, " IS_DISTINCT_OP ")
	return reIsNotNull.ReplaceAllString(code, " IS_NOT_NULL ")
}

// joinedOnBatch says whether rest (the text after a raw read up to the next SELECT, FROM,
// set operation or closing parenthesis) inner-joins one of targets with a condition of
// conditions joined by AND, one of them target.batch_id = alias.batch_id: a join that keeps
// only the read's rows whose batch is one of the target's.
func joinedOnBatch(rest string, targets []string, alias string) bool {
	if len(targets) == 0 {
		return false
	}
	re := regexp.MustCompile(`(?is)((?:\b(?:LEFT|RIGHT|FULL|OUTER|INNER|SEMI|ANTI|CROSS|NATURAL|POSITIONAL|ASOF)\s+)*)\bJOIN\s+(?:` + strings.Join(targets, "|") + `)\s+(\w+)\s+ON\s+(.*?)(?:\b(?:JOIN|LEFT|RIGHT|FULL|INNER|CROSS|SEMI|ANTI|NATURAL|POSITIONAL|ASOF|WHERE|GROUP|QUALIFY|ORDER|HAVING|WINDOW|LIMIT)\b|$)`)
	a := regexp.QuoteMeta(alias)
	for _, m := range re.FindAllStringSubmatch(rest, -1) {
		if kind := strings.ToUpper(strings.Join(strings.Fields(m[1]), " ")); kind != "" && kind != "INNER" && kind != "SEMI" {
			continue
		}
		if reOrNot.MatchString(m[3]) {
			continue
		}
		t := regexp.QuoteMeta(m[2])
		eq := regexp.MustCompile(`(?i)^\s*(?:` + t + `\.batch_id\s*=\s*` + a + `\.batch_id|` + a + `\.batch_id\s*=\s*` + t + `\.batch_id)\s*$`)
		for _, c := range reAnd.Split(m[3], -1) {
			if eq.MatchString(c) {
				return true
			}
		}
	}
	return false
}

// subsetOfEffective says whether a CTE body keeps rows of effective_batches alone: SELECT *
// FROM effective_batches with, at its top level, nothing but a WHERE filter.
func subsetOfEffective(body string) bool {
	top := flatten(body)
	return regexp.MustCompile(`(?is)^\s*SELECT\s+\*\s+FROM\s+effective_batches(?:\s+\w+)?\s*(?:\bWHERE\b.*)?$`).MatchString(top) &&
		!reSetOp.MatchString(top) && !regexp.MustCompile(`(?i)\bJOIN\b|,`).MatchString(regexp.MustCompile(`(?is)\bWHERE\b.*`).ReplaceAllString(top, ""))
}

// unresolvedRefs names the CTEs of code that keep only rows of school_refs whose school is
// unresolved, with their batch ids: at its top level, SELECT … r.batch_id … FROM school_refs r
// [JOIN batches b ON b.batch_id = r.batch_id] WHERE conditions joined by AND, one of them
// r.school_code IS NULL, then at most QUALIFY, ORDER or LIMIT; no set operation, no other
// batch_id in the select list. Subqueries are allowed only inside those conditions, where
// they can only narrow. Their batch ids are among those of school_refs' unresolved rows in
// the months read.
func unresolvedRefs(code string) []string {
	var out []string
	shape := regexp.MustCompile(`(?is)^\s*SELECT\b(.*?)\bFROM\s+school_refs\s+(\w+)(\s+(?:INNER\s+)?JOIN\s+batches\s+(\w+)\s+ON\s+(\w+)\.batch_id\s*=\s*(\w+)\.batch_id)?\s+WHERE\b(.*?)(?:\b(?:QUALIFY|ORDER|LIMIT)\b.*)?$`)
	for _, m := range reCTEStart.FindAllStringSubmatchIndex(code, -1) {
		body, ok := balanced(code[m[1]:])
		if !ok {
			continue
		}
		top := flatten(body)
		x := shape.FindStringSubmatch(top)
		if x == nil || reSetOp.MatchString(top) || regexp.MustCompile(`(?i)\bGROUP\b|\bHAVING\b`).MatchString(top) {
			continue
		}
		r := x[2]
		if x[3] != "" {
			b := x[4]
			if !((x[5] == b && x[6] == r) || (x[5] == r && x[6] == b)) {
				continue
			}
		}
		// the select list names batch_id once, as r.batch_id
		ids := regexp.MustCompile(`(?i)(\w+\.)?batch_id\b(\s+AS\b)?`).FindAllStringSubmatch(x[1], -1)
		if len(ids) != 1 || !strings.EqualFold(ids[0][1], r+".") || ids[0][2] != "" || regexp.MustCompile(`(?i)\bAS\s+batch_id\b`).MatchString(x[1]) {
			continue
		}
		where := x[7]
		if reOrNot.MatchString(where) {
			continue
		}
		isNull := regexp.MustCompile(`(?i)^\s*` + regexp.QuoteMeta(r) + `\.school_code\s+IS\s+NULL\s*$`)
		for _, c := range reAnd.Split(where, -1) {
			if isNull.MatchString(c) {
				out = append(out, regexp.QuoteMeta(code[m[2]:m[3]]))
				break
			}
		}
	}
	return out
}

// balanced returns the text up to the parenthesis closing one already open at s's start.
func balanced(s string) (string, bool) {
	depth := 1
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s[:i], true
			}
		}
	}
	return "", false
}

// flatten blanks what is inside parentheses, leaving a query's top level.
func flatten(s string) string {
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '(':
			depth++
			b.WriteRune(r)
		case r == ')':
			depth--
			b.WriteRune(r)
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// rawWindows points the raw tables of a per-month rebuild from sp at the rows of the files
// effective in those months alone (and of the files whose school references are unresolved
// in them, for a model reading those), read by batch id ranges: raw rows are stored in load
// order, so DuckDB skips the row groups of every other file (a join alone would read every
// raw row of the programme). The returned function rewrites the references; nil if the
// model's raw reads do not all go through effective_batches or unresolved references.
func rawWindows(ctx context.Context, conn *sql.Conn, steps map[string]*step, q string, sp span) (func(string) string, error) {
	tables, via, ok := rawThroughEffective(q)
	if !ok || len(tables) == 0 || steps[scopeModel] == nil {
		return nil, nil
	}
	var parts []string
	if via&viaEffective != 0 {
		parts = append(parts, "SELECT batch_id FROM ("+window(*steps[scopeModel], sp)+")")
	}
	if via&viaUnresolved != 0 {
		if steps[refsModel] == nil {
			return nil, nil
		}
		parts = append(parts, "SELECT batch_id FROM ("+window(*steps[refsModel], sp)+") WHERE school_code IS NULL")
	}
	rows, err := conn.QueryContext(ctx, "SELECT DISTINCT batch_id FROM ("+strings.Join(parts, " UNION ALL ")+") ORDER BY 1")
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, t := range tables {
		// the join to the effective files drops the rows of ids a range takes in
		if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP VIEW "+windowPrefix+t+" AS "+batchScan(t, "*", ids, false)); err != nil {
			return nil, err
		}
	}
	return reader(tables), nil
}

// idRanges covers sorted ids with at most max ranges, closing the smallest gaps first (a
// range may take in ids not asked for: the join to effective_batches drops their rows).
func idRanges(ids []int64, max int) [][2]int64 {
	var rs [][2]int64
	for _, id := range ids {
		if n := len(rs); n > 0 && id <= rs[n-1][1]+1 {
			rs[n-1][1] = id
			continue
		}
		rs = append(rs, [2]int64{id, id})
	}
	for len(rs) > max {
		best := 1
		for i := 2; i < len(rs); i++ {
			if rs[i][0]-rs[i-1][1] < rs[best][0]-rs[best-1][1] {
				best = i
			}
		}
		rs[best-1][1] = rs[best][1]
		rs = append(rs[:best], rs[best+1:]...)
	}
	return rs
}

// probe recomputes model m for month alone and says whether it came out as the old rows of
// that month.
func probe(ctx context.Context, conn *sql.Conn, steps map[string]*step, m Model, refs []string, read func(string) string, month string) (bool, error) {
	if err := openWindows(ctx, conn, steps, refs, span{only: month}); err != nil {
		return false, err
	}
	var n int
	q := "SELECT count(*) FROM ((SELECT * FROM (" + read(m.SQL) + "\n) EXCEPT ALL SELECT * FROM " + m.Name + " WHERE month = '" + month + "')" +
		" UNION ALL (SELECT * FROM " + m.Name + " WHERE month = '" + month + "' EXCEPT ALL SELECT * FROM (" + read(m.SQL) + "\n)))"
	if err := conn.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return false, err
	}
	return n == 0, nil
}

// reDistinctFrom finds the comparison a IS [NOT] DISTINCT FROM b, whose FROM reads no table.
var reDistinctFrom = regexp.MustCompile(`(?i)\bIS\s+(?:NOT\s+)?DISTINCT\s+FROM\b`)
