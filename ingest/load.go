// Package ingest reads platform exports (CSV in UTF-8/GBK/GB18030, XLSX) into the
// warehouse: one file, one transaction, one batch; bad rows become rejects with their file,
// row, column and reason; bad files fail whole and write nothing.
package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"tisheng/internal/warehouse"
)

//go:embed catalogue/national.csv
var nationalCatalogue []byte

// NationalCatalogue is the catalogue every warehouse starts with.
const NationalCatalogue = "national"

// Options steer one load; zero values mean "detect".
type Options struct {
	AsOf      time.Time // --as-of
	School    string    // --school: the school of a 研修考核 file, or of any file with no school column
	Kind      Kind      // --kind
	Shape     string    // hours shape, with Kind
	Catalogue string    // catalogue file: its name; assessments: the catalogue their points are read against
	Name      string    // the file name to record (uploads); default the path's base name
	// Limit confines the rows to an uploader's scope (a district or a school user); nil
	// for the command line and the project office.
	Limit *Limit
}

// Reject is one refused row.
type Reject struct {
	Row    int    `json:"row"`
	Column string `json:"column"`
	Reason string `json:"reason"`
}

// Result is what happened to one file.
type Result struct {
	File       string   `json:"file"`
	Kind       string   `json:"kind"`
	Shape      string   `json:"shape,omitempty"`
	AsOf       string   `json:"as_of"`
	AsOfSource string   `json:"as_of_source,omitempty"`
	Format     string   `json:"format,omitempty"`
	Encoding   string   `json:"encoding,omitempty"`
	Sheet      string   `json:"sheet,omitempty"`
	Rows       int      `json:"rows"`
	Accepted   int      `json:"accepted"`
	Rejected   int      `json:"rejected"`
	Batch      int64    `json:"batch"`
	Status     string   `json:"status"`
	Error      string   `json:"error"`
	Rejects    []Reject `json:"rejects,omitempty"` // the first few, for the summary
}

// Statuses of a Result.
const (
	StatusLoaded        = "loaded"
	StatusAlreadyLoaded = "already_loaded"
	StatusFailed        = "failed"
)

// maxShownRejects bounds Result.Rejects; all of them are in the rejects table.
const maxShownRejects = 20

// Loader loads files into one warehouse.
type Loader struct {
	wh        *warehouse.Warehouse
	ids       *Identity
	log       *slog.Logger
	batchRows int
	limits    Limits
	now       func() time.Time
}

// NewLoader checks the key against the warehouse and makes sure the national catalogue is
// loaded.
func NewLoader(ctx context.Context, wh *warehouse.Warehouse, key []byte, log *slog.Logger) (*Loader, error) {
	ids, err := NewIdentity(key)
	if err != nil {
		return nil, err
	}
	if err := ids.checkFingerprint(ctx, wh.DB); err != nil {
		return nil, err
	}
	l := &Loader{wh: wh, ids: ids, log: log, batchRows: 1 << 15, limits: DefaultLimits(), now: time.Now}
	var n int
	if err := wh.DB.QueryRowContext(ctx, `SELECT count(*) FROM abilities WHERE catalogue = ?`, NationalCatalogue).Scan(&n); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	if n == 0 {
		res := l.LoadReader(ctx, bytes.NewReader(nationalCatalogue), int64(len(nationalCatalogue)),
			Options{Kind: KindCatalogue, Catalogue: NationalCatalogue, Name: "national.csv（全国30个微能力点，内置）"})
		if res.Status == StatusFailed {
			return nil, fmt.Errorf("ingest: national catalogue: %s", res.Error)
		}
	}
	return l, nil
}

// loadOrder groups a command's files by kind. The order changes no figure (rows are matched
// against other files at refresh), only the order of the command's output lines.
var loadOrder = map[Kind]int{KindCatalogue: 0, KindSchools: 1, KindTeachers: 2, KindHours: 3, KindProgress: 4, KindAssessments: 5}

// LoadRank orders files of several kinds for loading: catalogues, schools and rosters
// first, as an analyst reads them. A file of no known kind goes last (and fails).
func LoadRank(k Kind) int {
	if r, ok := loadOrder[k]; ok {
		return r
	}
	return len(loadOrder)
}

// LoadFiles loads several files, grouped by kind (schools, rosters, the rest); emit is
// called after each file.
func (l *Loader) LoadFiles(ctx context.Context, paths []string, opts Options, emit func(Result)) []Result {
	type item struct {
		path  string
		order int
	}
	items := make([]item, len(paths))
	for i, p := range paths {
		k, _ := peekKind(p, opts)
		items[i] = item{path: p, order: LoadRank(k)}
	}
	sort.SliceStable(items, func(a, b int) bool { return items[a].order < items[b].order })
	var out []Result
	for _, it := range items {
		res := l.LoadFile(ctx, it.path, opts)
		if emit != nil {
			emit(res)
		}
		out = append(out, res)
	}
	return out
}

// PeekKind detects a file's kind from its header without loading it.
func PeekKind(path string) (Kind, error) { return peekKind(path, Options{}) }

func peekKind(path string, opts Options) (Kind, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	o, err := openTable(f, st.Size(), opts.Kind, opts.Shape, DefaultLimits())
	if err != nil {
		return "", err
	}
	o.src.close()
	return o.h.kind, nil
}

// LoadFile loads one file from disk.
func (l *Loader) LoadFile(ctx context.Context, path string, opts Options) Result {
	if opts.Name == "" {
		opts.Name = filepath.Base(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return Result{File: opts.Name, Status: StatusFailed, Error: "无法打开文件：" + err.Error()}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Result{File: opts.Name, Status: StatusFailed, Error: "无法读取文件：" + err.Error()}
	}
	if st.IsDir() {
		return Result{File: opts.Name, Status: StatusFailed, Error: "这是一个目录，不是文件"}
	}
	return l.LoadReader(ctx, f, st.Size(), opts)
}

// LoadReader loads one file held by r.
func (l *Loader) LoadReader(ctx context.Context, r io.ReaderAt, size int64, opts Options) Result {
	start := time.Now()
	res := Result{File: opts.Name}
	err := l.load(ctx, r, size, opts, &res)
	if err != nil {
		res.Status = StatusFailed
		res.Batch, res.Accepted, res.Rejected, res.Rows, res.Rejects = 0, 0, 0, 0, nil
		var fe *fileError
		if errors.As(err, &fe) {
			res.Error = opts.Name + "：" + fe.Error()
		} else if msg, ok := dbFailure(err); ok {
			res.Error = opts.Name + "：" + msg
		} else {
			res.Error = opts.Name + "：" + err.Error()
		}
	}
	l.log.Info("ingest", "file", res.File, "kind", res.Kind, "status", res.Status, "accepted", res.Accepted,
		"rejected", res.Rejected, "batch", res.Batch, "ms", time.Since(start).Milliseconds(), "error", res.Error)
	return res
}

func (l *Loader) load(ctx context.Context, r io.ReaderAt, size int64, opts Options, res *Result) error {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		return &fileError{Msg: "读取失败：" + err.Error()}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	// The bytes already loaded: by the project office (the bare digest), or, for an
	// upload by a district or school user, by that same scope (the digest @ its scope).
	// Another scope's upload of the same bytes (a district that loaded its neighbour's
	// roster by mistake, every row refused) must not block the owner's. No figure counts
	// twice: a scope's upload keeps only its own schools' rows, and each month counts one
	// file per school and kind.
	mine := sum
	if lim := opts.Limit; lim != nil {
		mine = sum + "@" + lim.Label
	}

	var (
		prevID             int64
		prevKind, prevAsOf sql.NullString
		prevAcc, prevRej   int
	)
	err := l.wh.DB.QueryRowContext(ctx, `SELECT batch_id, kind, strftime(as_of, '%Y-%m-%d'), accepted, rejected
		FROM batches WHERE sha256 IN (?, ?) ORDER BY batch_id LIMIT 1`, sum, mine).Scan(&prevID, &prevKind, &prevAsOf, &prevAcc, &prevRej)
	if err == nil {
		res.Status, res.Batch, res.Kind, res.AsOf = StatusAlreadyLoaded, prevID, prevKind.String, prevAsOf.String
		res.Accepted, res.Rejected, res.Rows = prevAcc, prevRej, prevAcc+prevRej
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("ingest: %w", err)
	}

	o, err := openTable(r, size, opts.Kind, opts.Shape, l.limits)
	if err != nil {
		return err
	}
	defer o.src.close()
	res.Kind, res.Shape = string(o.h.kind), o.h.shape
	res.Format, res.Encoding, res.Sheet = o.src.info()

	j := &job{l: l, o: o, opts: opts, res: res, sha: mine}
	if xs, ok := o.src.(*xlsxSource); ok {
		j.date1904 = xs.wb.Date1904
	}
	if err := j.resolveAsOf(); err != nil {
		return err
	}
	return l.wh.Tx(ctx, func(conn *sql.Conn) error { return j.run(ctx, conn) })
}

// job is one file's load.
type job struct {
	l        *Loader
	o        *opened
	opts     Options
	res      *Result
	sha      string
	date1904 bool

	asOf       time.Time
	asOfSource string
	batch      int64
	school     string // the school given for the whole file

	conn    *sql.Conn
	connMu  sync.Mutex // guards conn while the inserter runs
	ins     *inserter
	data    *tableWriter
	rejects *tableWriter
	conv    converter
	seen    map[[16]byte]int32
	row     []val
	rejRow  []val
	// hoursSchoolName is raw_hours' school_name column, set by position like the others
	hoursSchoolName int
}

func (j *job) resolveAsOf() error {
	switch {
	case j.o.h.kind == KindCatalogue:
		j.asOfSource = "none"
		return nil
	case !j.opts.AsOf.IsZero():
		j.asOf, j.asOfSource = j.opts.AsOf, "flag"
	default:
		if t, ok := asOfFromTitle(j.o.above); ok {
			j.asOf, j.asOfSource = t, "title"
		} else if t, ok := asOfFromName(j.opts.Name); ok {
			j.asOf, j.asOfSource = t, "file_name"
		} else {
			return &fileError{Msg: "无法确定数据截止日期：请用 --as-of 指定，或在标题行写明「数据截止：2025年6月30日」，或在文件名中写明日期（如 2025-06-30）"}
		}
	}
	j.res.AsOf, j.res.AsOfSource = j.asOf.Format("2006-01-02"), j.asOfSource
	// The programme (提升工程2.0) began in 2019; a date before it, or more than a year
	// ahead, is a typo, and would give every per-month model a month for each month between.
	if j.asOf.Before(programmeStart()) || j.asOf.After(time.Now().AddDate(1, 0, 0)) {
		return &fileError{Msg: fmt.Sprintf("数据截止日期 %s（来自%s）不在工程实施期间（%s 起，至今后一年内），请核对或用 --as-of 指定",
			j.asOf.Format("2006-01-02"), asOfSourceLabel(j.asOfSource), programmeStart().Format("2006-01-02"))}
	}
	return nil
}

// programmeStart is the earliest as-of date a file may have: 提升工程2.0 began in 2019.
func programmeStart() time.Time { return time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC) }

// asOfSourceLabel says in Chinese where an as-of date was read from.
func asOfSourceLabel(src string) string {
	switch src {
	case "flag":
		return "--as-of 或上传时填写的日期"
	case "title":
		return "标题行"
	case "file_name":
		return "文件名"
	}
	return src
}

func (j *job) run(ctx context.Context, conn *sql.Conn) error {
	j.conn = conn
	if err := conn.QueryRowContext(ctx, `SELECT nextval('batch_seq')`).Scan(&j.batch); err != nil {
		return err
	}
	var err error
	j.conv, err = newConverter(j)
	if err != nil {
		return err
	}
	j.ins = newInserter(ctx, conn, &j.connMu)
	defer j.ins.wait()
	if j.data, err = newTableWriter(ctx, conn, j.ins, j.conv.table(), j.l.batchRows); err != nil {
		return err
	}
	if j.rejects, err = newTableWriter(ctx, conn, j.ins, "rejects", j.l.batchRows); err != nil {
		return err
	}
	j.connMu.Lock()
	err = j.conv.setup(ctx, j)
	j.connMu.Unlock()
	if err != nil {
		return err
	}
	j.row = make([]val, j.data.width())
	j.rejRow = make([]val, j.rejects.width())
	j.seen = map[[16]byte]int32{}
	maxRows := j.l.limits.KeyedRows
	if j.o.h.kind == KindHours && j.o.h.shape == ShapeDetail {
		maxRows = j.l.limits.Rows // no index of earlier rows
	}

	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		cells, no, err := j.o.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if isTotalRow(cells) {
			continue
		}
		j.res.Rows++
		if j.res.Rows > maxRows {
			return limitError(no, "数据行超过 %d 行的上限", maxRows)
		}
		rc := rowCtx{h: j.o.h, cells: cells, no: no, date1904: j.date1904}
		rej, err := j.conv.convert(ctx, j, &rc)
		if err != nil {
			return err
		}
		if rej != nil {
			if err := j.reject(ctx, &rc, rej); err != nil {
				return err
			}
			continue
		}
		j.res.Accepted++
	}
	if j.res.Rows == 0 {
		return &fileError{Msg: "表头下没有数据行"}
	}
	if err := j.data.flush(ctx); err != nil {
		return err
	}
	if err := j.rejects.flush(ctx); err != nil {
		return err
	}
	if err := j.ins.wait(); err != nil {
		return err
	}
	if j.o.h.kind == KindTeachers && j.opts.Limit != nil {
		if err := j.refuseClaimed(ctx, conn); err != nil {
			return err
		}
	}
	format, enc, sheet := j.o.src.info()
	var asOf any
	if !j.asOf.IsZero() {
		asOf = j.asOf.Format("2006-01-02")
	}
	// the uploader's scope owns the batch's rejects and the answer to a repeat of its bytes
	var byDistrict, bySchool string
	if lim := j.opts.Limit; lim != nil {
		byDistrict, bySchool = lim.District, lim.School
	}
	_, err = conn.ExecContext(ctx, `INSERT INTO batches (batch_id, file_name, sha256, kind, shape, format, encoding, sheet,
			as_of, as_of_source, school_scope, catalogue, rows_total, accepted, rejected, loaded_at, status,
			loaded_district, loaded_school)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?::DATE, ?, ?, ?, ?, ?, ?, ?::TIMESTAMP, ?, ?, ?)`,
		j.batch, j.opts.Name, j.sha, string(j.o.h.kind), nullStr(j.o.h.shape), format, nullStr(enc), nullStr(sheet),
		asOf, j.asOfSource, nullStr(j.school), nullStr(j.catalogueName()), j.res.Rows, j.res.Accepted, j.res.Rejected,
		j.l.now().Format("2006-01-02 15:04:05"), StatusLoaded, nullStr(byDistrict), nullStr(bySchool))
	if err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	j.res.Batch = j.batch
	j.res.Status = StatusLoaded
	return nil
}

func (j *job) catalogueName() string {
	switch j.o.h.kind {
	case KindCatalogue, KindAssessments:
		if j.opts.Catalogue != "" {
			return j.opts.Catalogue
		}
		if j.o.h.kind == KindCatalogue {
			return catalogueNameFromFile(j.opts.Name)
		}
		return NationalCatalogue
	}
	return ""
}

func catalogueNameFromFile(name string) string {
	base := strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	if base == "" {
		return "regional"
	}
	return base
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// isTotalRow is a trailing 合计/总计 line: a sum, not a teacher.
func isTotalRow(cells []Cell) bool {
	for _, c := range cells {
		v := clean(c.V)
		if v == "" {
			continue
		}
		v = strings.ReplaceAll(v, " ", "")
		return v == "合计" || v == "总计" || v == "合计：" || v == "总计："
	}
	return false
}

// rowReject says why a row was refused and in which column.
type rowReject struct {
	key    string // column key, "" for the row as a whole
	reason string
}

func rejectf(key, format string, a ...any) *rowReject {
	return &rowReject{key: key, reason: fmt.Sprintf(format, a...)}
}

func (j *job) reject(ctx context.Context, rc *rowCtx, rej *rowReject) error {
	j.res.Rejected++
	col := ""
	if i, ok := rc.h.col[rej.key]; ok {
		col = rc.h.names[i]
	} else if strings.HasPrefix(rej.key, "cat:") {
		col = strings.TrimPrefix(rej.key, "cat:")
	}
	lim := j.l.limits
	// Reasons quote cell values: mask and bound them as the values are.
	reason := truncate(maskSensitive(rej.reason), lim.RejectReasonChars)
	if len(j.res.Rejects) < maxShownRejects {
		j.res.Rejects = append(j.res.Rejects, Reject{Row: rc.no, Column: col, Reason: reason})
	}
	idCol, hasID := rc.h.col["id"]
	birthCol, hasBirth := rc.h.col["birth"]
	var b strings.Builder
	b.WriteByte('{')
	for n, c := range rc.h.keys() {
		if n > 0 {
			b.WriteByte(',')
		}
		quoteJSON(&b, truncate(rc.h.names[c], lim.RejectValueChars))
		b.WriteByte(':')
		v := ""
		if c < len(rc.cells) {
			v = rc.cells[c].V
		}
		if hasID && c == idCol {
			v = maskAny(clean(v))
		}
		if hasBirth && c == birthCol && v != "" {
			v = "（出生日期不保存）"
		}
		quoteJSON(&b, truncate(maskSensitive(v), lim.RejectValueChars))
	}
	b.WriteByte('}')
	w := j.rejects
	r := j.rejRow
	r[w.col("batch_id")] = iv(j.batch)
	r[w.col("row_no")] = iv(int64(rc.no))
	r[w.col("column_name")] = svOpt(truncate(col, lim.RejectValueChars))
	r[w.col("reason")] = sv(reason)
	r[w.col("row_values")] = sv(b.String())
	// the school as the row (or the file's --school) names it, for cutting rejects to a scope
	code, name := rc.str("school_code"), rc.str("school_name")
	if code == "" && name == "" {
		code = j.school
	}
	r[w.col("school_code")] = svOpt(truncate(maskSensitive(code), lim.RejectValueChars))
	r[w.col("school_name")] = svOpt(truncate(maskSensitive(name), lim.RejectValueChars))
	return w.append(ctx, r)
}

// rowCtx is one data row being converted.
type rowCtx struct {
	h        *header
	cells    []Cell
	no       int
	date1904 bool
}

// cell returns the row's cell for a column key, and whether the file has that column.
func (r *rowCtx) cell(key string) (Cell, bool) {
	i, ok := r.h.col[key]
	if !ok {
		return Cell{}, false
	}
	if i >= len(r.cells) {
		return Cell{}, true
	}
	return r.cells[i], true
}

func (r *rowCtx) str(key string) string {
	c, _ := r.cell(key)
	return clean(c.V)
}

func (r *rowCtx) has(key string) bool { return r.h.has(key) }

// date reads an optional date column; an unreadable date is a reject.
func (r *rowCtx) date(key string, monthOK bool) (val, *rowReject) {
	c, ok := r.cell(key)
	if !ok || clean(c.V) == "" {
		return val{}, nil
	}
	if c.Num && r.date1904 {
		// The 1904 date system counts from 1904-01-01: shift to the 1900 system's serials.
		c = Cell{V: fmt.Sprint(mustFloat(c.V) + 1462), Num: true}
	}
	t, err := parseDate(c, monthOK)
	if err != nil {
		return val{}, &rowReject{key: key, reason: err.Error()}
	}
	return iv(int64(dayNumber(t))), nil
}

// refuseClaimed moves to the rejects, within the load's transaction, the rows of an
// uploader's roster that list a teacher another scope's roster of the same month lists at
// a school the uploader does not hold. Of two rosters of one month the later load counts,
// so without this a district that kept a former teacher's ID could take her, and her
// figures, back from the district she moved to, for any month. Two districts claiming one
// teacher in one month is for the project office to settle (its loads are not checked).
func (j *job) refuseClaimed(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, `SELECT m.row_no, o.school_code, coalesce(o.school_name, ''), b.as_of, m.name, m.id_masked, coalesce(m.school_code, ''), coalesce(m.school_name, '')
		FROM raw_teachers m
		JOIN raw_teachers o ON o.teacher_key = m.teacher_key AND o.batch_id <> m.batch_id
		JOIN batches b ON b.batch_id = o.batch_id
		WHERE m.batch_id = ? AND date_trunc('month', b.as_of) = date_trunc('month', ?::DATE)
		ORDER BY m.row_no`, j.batch, j.asOf.Format("2006-01-02"))
	if err != nil {
		return fmt.Errorf("roster claims: %w", err)
	}
	type claim struct{ name, masked, code, sname string }
	claimed := map[int]claim{}
	var order []int
	for rows.Next() {
		var no int
		var code sql.NullString
		var sname, name, masked, mcode, msname string
		var asOf time.Time
		if err := rows.Scan(&no, &code, &sname, &asOf, &name, &masked, &mcode, &msname); err != nil {
			rows.Close()
			return fmt.Errorf("roster claims: %w", err)
		}
		lim := j.opts.Limit
		held := (code.Valid && lim.HoldsCode(code.String, asOf)) || (!code.Valid && lim.holdsName(sname, asOf))
		if _, seen := claimed[no]; !seen && !held {
			claimed[no] = claim{name, masked, mcode, msname}
			order = append(order, no)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("roster claims: %w", err)
	}
	const reason = "该教师在本月已列入其他区县（或学校）的花名册：同一月份两处都报送同一教师时，须由工程办核实后导入"
	for _, no := range order {
		c := claimed[no]
		vals, _ := json.Marshal(map[string]string{"姓名": c.name, "身份证号": c.masked, "学校代码": c.code, "学校名称": c.sname})
		if _, err := conn.ExecContext(ctx, `DELETE FROM raw_teachers WHERE batch_id = ? AND row_no = ?`, j.batch, no); err != nil {
			return fmt.Errorf("roster claims: %w", err)
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO rejects (batch_id, row_no, column_name, reason, row_values, school_code, school_name)
			VALUES (?, ?, ?, ?, ?, nullif(?, ''), nullif(?, ''))`, j.batch, no, "身份证号", reason, string(vals), c.code, c.sname); err != nil {
			return fmt.Errorf("roster claims: %w", err)
		}
		j.res.Accepted--
		j.res.Rejected++
		if len(j.res.Rejects) < maxShownRejects {
			j.res.Rejects = append(j.res.Rejects, Reject{Row: no, Column: "身份证号", Reason: reason})
		}
	}
	return nil
}
