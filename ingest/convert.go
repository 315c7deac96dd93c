package ingest

import (
	"context"
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// converter turns a kind's rows into rows of its table.
type converter interface {
	table() string
	setup(ctx context.Context, j *job) error
	// convert appends the row's table rows, or says why the row is refused; err is for the
	// database failing, which fails the file.
	convert(ctx context.Context, j *job, rc *rowCtx) (*rowReject, error)
}

func newConverter(j *job) (converter, error) {
	switch j.o.h.kind {
	case KindSchools:
		if j.opts.Limit != nil {
			// the school list says which district each school is in: it defines every
			// scope, so only the project office may change it
			return nil, &fileError{Msg: "学校信息只能由工程办管理员导入（它决定每所学校属于哪个区县）"}
		}
		return &schoolsConv{}, nil
	case KindTeachers:
		return &teachersConv{}, nil
	case KindHours:
		if j.o.h.shape == ShapeSummary {
			return &hoursSummaryConv{}, nil
		}
		return &hoursDetailConv{}, nil
	case KindProgress:
		return &progressConv{}, nil
	case KindAssessments:
		return &assessmentsConv{}, nil
	case KindCatalogue:
		if j.opts.Limit != nil {
			return nil, &fileError{Msg: "能力点目录只能由工程办管理员导入"}
		}
		return &catalogueConv{}, nil
	}
	return nil, fmt.Errorf("ingest: no converter for %s", j.o.h.kind)
}

func mustFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// --- ability points ----------------------------------------------------------------------

// fold turns full-width ASCII (Ａ１) into ASCII.
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0xFF01 && r <= 0xFF5E {
			return r - 0xFEE0
		}
		if r == '\u3000' {
			return ' '
		}
		return r
	}, s)
}

func normPointName(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\u3000', '“', '”', '"', '「', '」':
			return -1
		}
		return r
	}, fold(s))
}

var rePoint = regexp.MustCompile(`^([A-Za-z]{1,2}\d{1,2})\s*[.、:：\-_]?\s*(.*)$`)

// pointText reads `A1`, `A1 技术支持的学情分析`, `A1技术支持的学情分析` or the name alone, as
// stored for matching at refresh (models/sql/ability_refs.sql): full-width folded and trimmed.
// Which point it is depends on the catalogue, another file, so it is not decided here.
func pointText(s string) string { return clean(fold(s)) }

// pointKey identifies a point's text within a file, for duplicate checks: the code it gives
// and the rest of its name, normalised, or the whole name.
func pointKey(s string) string {
	if m := rePoint.FindStringSubmatch(s); m != nil {
		return strings.ToUpper(m[1]) + "\x00" + normPointName(m[2])
	}
	return "\x00" + normPointName(s)
}

// --- people --------------------------------------------------------------------------------

// person is a row's teacher as the row gives it. Which school a name means and which roster
// teacher a masked ID is depend on other files, so they are worked out at refresh, month by
// month (models/sql/school_refs.sql, masked_ids.sql), never here: the order files are loaded
// in must not change what they count for.
type person struct {
	key    string // teacher key of a full ID; "" for a masked one
	masked string // 前6位********后4位, or a masked ID's visible digits around stars
	name   string
	code   string // school code as given (or the file's --school); "" when only a name is given
	sname  string // school name as given, when no code is
}

// schoolRef identifies the school a row names, for duplicate checks within a file.
func (p person) schoolRef() string { return p.code + "\x00" + p.sname }

// ident identifies the row's teacher within a file: the key, else school, name and mask.
func (p person) ident() string {
	if p.key != "" {
		return p.key
	}
	return p.schoolRef() + "\x00" + p.name + "\x00" + p.masked
}

// needSchool checks that the file names its rows' schools somehow.
func (j *job) needSchool() error {
	j.school = j.opts.School
	if j.school == "" && !j.o.h.has("school_code") && !j.o.h.has("school_name") {
		if j.o.h.kind == KindProgress {
			return &fileError{Msg: "研修考核导出没有学校列：请指定学校代码（命令行 --school，上传页“学校代码”）"}
		}
		return &fileError{Msg: "文件没有学校列：请指定学校代码（命令行 --school，上传页“学校代码”）"}
	}
	return nil
}

func (h *header) has(key string) bool { _, ok := h.col[key]; return ok }

// person reads a row's teacher: the school it names (or the file's) and its ID, full or
// masked. Only what the row itself shows is checked here.
func (j *job) person(rc *rowCtx) (person, *rowReject) {
	var p person
	p.name = rc.str("name")
	if p.name == "" {
		return p, rejectf("name", "姓名为空")
	}
	code, name := rc.str("school_code"), rc.str("school_name")
	switch {
	case code != "":
		if j.school != "" && code != j.school {
			return p, rejectf("school_code", "该行学校代码%s与指定的学校代码 %s 不符", code, j.school)
		}
		p.code = code
	case name != "":
		if maskSensitive(name) != name {
			// a number where the school's name belongs is a shifted column or a typo, and
			// would be kept (and shown) as the school name: refuse it, masked
			return p, rejectf("school_name", "学校名称「%s」含有身份证号或电话号码", maskSensitive(name))
		}
		// checked against the --school code at refresh, once the name is resolved
		p.sname = name
	case j.school != "":
		p.code = j.school
	default:
		return p, rejectf("school_name", "学校为空")
	}
	if lim := j.opts.Limit; lim != nil {
		// an uploader's scope is checked against the school lists loaded so far, for the
		// file's month: a school no list puts in the scope then is refused (load the school
		// list first; a school that moved district is its new district's from the move on)
		month := j.asOf.Format("2006年1月")
		switch {
		case p.code != "" && !lim.HoldsCode(p.code, j.asOf):
			return p, rejectf("school_code", "学校代码%s在%s不属于您的管辖范围（%s）（学校须先在学校信息中）", p.code, month, lim.Label)
		case p.code == "" && !lim.holdsName(p.sname, j.asOf):
			return p, rejectf("school_name", "学校「%s」在%s不属于您的管辖范围（%s）（学校须先在学校信息中）", p.sname, month, lim.Label)
		}
	}
	raw := strings.ReplaceAll(rc.str("id"), " ", "")
	if raw == "" {
		return p, rejectf("id", "身份证号为空")
	}
	if m, ok := parseMaskedID(raw); ok {
		p.masked = m.canonical()
		return p, nil
	}
	full, err := ValidateID(raw)
	if err != nil {
		return p, &rowReject{key: "id", reason: err.Error()}
	}
	p.key, p.masked = j.l.ids.Key(full), MaskID(full)
	return p, nil
}

// setPerson fills the person columns every table naming teachers has.
func (j *job) setPerson(w *tableWriter, r []val, p person) {
	r[w.col("teacher_key")] = svOpt(p.key)
	r[w.col("id_masked")] = sv(p.masked)
	r[w.col("name")] = sv(p.name)
	r[w.col("school_code")] = svOpt(p.code)
	r[w.col("school_name")] = svOpt(p.sname)
}

// duplicate reports a repeat of an earlier row of the same file.
func (j *job) duplicate(key string, rc *rowCtx, what string) *rowReject {
	// The index holds a 128-bit digest of each key, not the key: a file of millions of
	// teachers then costs tens of bytes a row, whatever its keys' length.
	h := fnv.New128a()
	h.Write([]byte(key))
	var k [16]byte
	h.Sum(k[:0])
	if first, ok := j.seen[k]; ok {
		return rejectf("", "与第%d行重复（同一%s）", first, what)
	}
	j.seen[k] = int32(rc.no)
	return nil
}

func (j *job) base(w *tableWriter, rc *rowCtx) []val {
	r := j.row
	for i := range r {
		r[i] = val{}
	}
	r[0] = iv(j.batch)
	r[1] = iv(int64(rc.no))
	return r
}

// --- schools -------------------------------------------------------------------------------

type schoolsConv struct{}

func (schoolsConv) table() string                           { return "raw_schools" }
func (schoolsConv) setup(ctx context.Context, j *job) error { return nil }

var (
	environments = map[string]string{
		"多媒体教学环境": "多媒体教学环境", "多媒体": "多媒体教学环境", "多媒体环境": "多媒体教学环境",
		"混合学习环境": "混合学习环境", "混合": "混合学习环境", "混合环境": "混合学习环境",
		"智慧学习环境": "智慧学习环境", "智慧": "智慧学习环境", "智慧环境": "智慧学习环境",
	}
	urbanRural   = map[string]bool{"城区": true, "镇区": true, "乡村": true}
	schoolCounts = []string{"classes", "students", "staff", "multimedia_rooms", "smart_classrooms", "computer_rooms", "teacher_terminals"}
)

func (schoolsConv) convert(ctx context.Context, j *job, rc *rowCtx) (*rowReject, error) {
	w := j.data
	code, name, district := rc.str("school_code"), rc.str("school_name"), rc.str("district")
	switch {
	case code == "":
		return rejectf("school_code", "学校代码为空"), nil
	case name == "":
		return rejectf("school_name", "学校名称为空"), nil
	case district == "":
		return rejectf("district", "所属区县为空"), nil
	}
	r := j.base(w, rc)
	r[w.col("school_code")] = sv(code)
	r[w.col("school_name")] = sv(name)
	r[w.col("district")] = sv(district)
	r[w.col("stage")] = svOpt(rc.str("stage"))
	if u := rc.str("urban_rural"); u != "" {
		if !urbanRural[u] {
			return rejectf("urban_rural", "城乡类型「%s」应为城区、镇区或乡村", u), nil
		}
		r[w.col("urban_rural")] = sv(u)
	}
	if c, ok := rc.cell("pilot"); ok && clean(c.V) != "" {
		b, err := parseYesNo(c, yesWords, noWords)
		if err != nil {
			return rejectf("pilot", "是否试点校：%v", err), nil
		}
		r[w.col("is_pilot")] = bv(b)
	}
	if e := rc.str("environment"); e != "" {
		norm, ok := environments[e]
		if !ok {
			return rejectf("environment", "教学环境「%s」应为多媒体教学环境、混合学习环境或智慧学习环境", e), nil
		}
		r[w.col("environment")] = sv(norm)
	}
	for _, k := range schoolCounts {
		if c, ok := rc.cell(k); ok && clean(c.V) != "" {
			n, err := parseCount(c)
			if err != nil {
				return rejectf(k, "%v", err), nil
			}
			r[w.col(k)] = iv(n)
		}
	}
	if rej := j.duplicate(code, rc, "学校代码"); rej != nil {
		return rej, nil
	}
	return nil, w.append(ctx, r)
}

// --- teachers ------------------------------------------------------------------------------

type teachersConv struct{}

func (teachersConv) table() string { return "raw_teachers" }
func (teachersConv) setup(ctx context.Context, j *job) error {
	return j.needSchool()
}

var teacherTypes = map[string]bool{"专任": true, "专任教师": true, "兼任": false, "兼任教师": false, "兼职": false, "行政": false, "行政人员": false, "代课": false, "代课教师": false, "教辅": false, "教辅人员": false}

func (teachersConv) convert(ctx context.Context, j *job, rc *rowCtx) (*rowReject, error) {
	p, rej := j.person(rc)
	if rej != nil {
		return rej, nil
	}
	if p.key == "" {
		// a roster is where masked IDs are matched: its own must be whole
		return rejectf("id", "花名册须填写完整的身份证号：脱敏号码无法确定是哪位教师"), nil
	}
	w := j.data
	r := j.base(w, rc)
	j.setPerson(w, r, p)
	r[w.col("subject")] = svOpt(rc.str("subject"))
	r[w.col("stage")] = svOpt(rc.str("stage"))
	r[w.col("title")] = svOpt(rc.str("title"))
	r[w.col("research_group")] = svOpt(rc.str("group"))
	if g := rc.str("gender"); g != "" {
		if g != "男" && g != "女" {
			return rejectf("gender", "性别「%s」应为男或女", g), nil
		}
		r[w.col("gender")] = sv(g)
	}
	age, rej := j.age(rc)
	if rej != nil {
		return rej, nil
	}
	if age.ok {
		r[w.col("age")] = age
		r[w.col("age_band")] = sv(ageBand(age.i))
	}
	if c, ok := rc.cell("full_time"); ok {
		if clean(c.V) == "" {
			return rejectf("full_time", "是否专任教师为空"), nil
		}
		b, err := parseYesNo(c, yesWords, noWords)
		if err != nil {
			return rejectf("full_time", "是否专任教师：%v", err), nil
		}
		r[w.col("is_full_time")] = bv(b)
	}
	if t := rc.str("type"); t != "" {
		ft, ok := teacherTypes[t]
		if !ok {
			return rejectf("type", "教师类型「%s」无法识别（专任/兼任/行政/代课）", t), nil
		}
		r[w.col("teacher_type")] = sv(t)
		if !r[w.col("is_full_time")].ok {
			r[w.col("is_full_time")] = bv(ft)
		} else if (r[w.col("is_full_time")].i != 0) != ft {
			return rejectf("type", "教师类型「%s」与是否专任教师不一致", t), nil
		}
	} else if rc.has("type") && !rc.has("full_time") {
		return rejectf("type", "教师类型为空"), nil
	}
	if rej := j.duplicate(p.schoolRef()+"\x00"+p.ident(), rc, "教师"); rej != nil {
		return rej, nil
	}
	return nil, w.append(ctx, r)
}

// age is a roster row's age in the year of the file's as-of date: the as-of year minus the
// birth year, else the file's 年龄 column. The birth date itself is never stored (with the
// masked ID it rebuilds the full number), and a whole-year age does not step at the
// birthday from one monthly roster to the next, which would give the birth month away.
func (j *job) age(rc *rowCtx) (val, *rowReject) {
	if c, ok := rc.cell("birth"); ok && clean(c.V) != "" {
		d, rej := rc.date("birth", true)
		if rej != nil {
			// The reason does not quote the value: a birth date is not kept even in rejects.
			return val{}, rejectf("birth", "出生日期无法识别（应为 1980-05-12、1980年5月、19800512 等形式）")
		}
		n := int64(j.asOf.Year() - time.Unix(d.i*86400, 0).UTC().Year())
		if n < 16 || n > 80 {
			return val{}, rejectf("birth", "由出生日期推算的年龄（%d岁）不合理", n)
		}
		return iv(n), nil
	}
	if c, ok := rc.cell("age"); ok && clean(c.V) != "" {
		n, err := parseCount(c)
		if err != nil || n < 16 || n > 80 {
			return val{}, rejectf("age", "年龄「%s」不合理", c.V)
		}
		return iv(n), nil
	}
	return val{}, nil
}

// ageBand is the band reports group by (the same bands as the SWOT inputs).
func ageBand(age int64) string {
	switch {
	case age < 30:
		return "30岁以下"
	case age < 40:
		return "30-39岁"
	case age < 50:
		return "40-49岁"
	}
	return "50岁及以上"
}

// --- hours ---------------------------------------------------------------------------------

type hoursDetailConv struct{}

func (hoursDetailConv) table() string { return "raw_hours" }
func (hoursDetailConv) setup(ctx context.Context, j *job) error {
	if err := checkHoursColumns(j.data); err != nil {
		return err
	}
	j.hoursSchoolName = j.data.col("school_name")
	return j.needSchool()
}

// hoursColumns are raw_hours' columns from the third on, which the hours converters set by
// position: they run once per hour row, millions of times in a province's export.
var hoursColumns = []string{"teacher_key", "id_masked", "name", "school_code", "category", "label", "activity", "hours", "completed_on"}

// setHoursPerson is setPerson by position, for the hours converters.
func (j *job) setHoursPerson(w *tableWriter, r []val, p person) {
	r[2] = svOpt(p.key)
	r[3] = sv(p.masked)
	r[4] = sv(p.name)
	r[5] = svOpt(p.code)
	r[j.hoursSchoolName] = svOpt(p.sname)
}

func checkHoursColumns(w *tableWriter) error {
	for i, name := range hoursColumns {
		if c, ok := w.cols[name]; !ok || c != i+2 {
			return fmt.Errorf("ingest: raw_hours column %d is not %s", i+2, name)
		}
	}
	return nil
}

func (hoursDetailConv) convert(ctx context.Context, j *job, rc *rowCtx) (*rowReject, error) {
	p, rej := j.person(rc)
	if rej != nil {
		return rej, nil
	}
	label := rc.str("category")
	if label == "" {
		return rejectf("category", "研修类型为空"), nil
	}
	cat, ok := hourLabels[strings.TrimSuffix(label, "学时")]
	if !ok {
		return rejectf("category", "未知的学时类型「%s」", label), nil
	}
	c, _ := rc.cell("hours")
	h, err := parseHours(c)
	if err != nil {
		return &rowReject{key: "hours", reason: err.Error()}, nil
	}
	d, rej := rc.date("date", false)
	if rej != nil {
		return rej, nil
	}
	w := j.data
	r := j.base(w, rc)
	j.setHoursPerson(w, r, p)
	r[6] = sv(cat)
	r[7] = sv(label)
	r[8] = svOpt(rc.str("activity"))
	r[9] = iv(h)
	r[10] = d
	return nil, w.append(ctx, r)
}

type hoursSummaryConv struct{ hs []int64 }

func (hoursSummaryConv) table() string { return "raw_hours" }
func (c *hoursSummaryConv) setup(ctx context.Context, j *job) error {
	c.hs = make([]int64, len(j.o.h.cats))
	if err := checkHoursColumns(j.data); err != nil {
		return err
	}
	j.hoursSchoolName = j.data.col("school_name")
	return j.needSchool()
}

func (c *hoursSummaryConv) convert(ctx context.Context, j *job, rc *rowCtx) (*rowReject, error) {
	p, rej := j.person(rc)
	if rej != nil {
		return rej, nil
	}
	var sum int64
	for i, cc := range rc.h.cats {
		cell := Cell{}
		if cc.col < len(rc.cells) {
			cell = rc.cells[cc.col]
		}
		h, err := parseHours(cell)
		if err != nil {
			return &rowReject{key: "cat:" + cc.label, reason: cc.label + "：" + err.Error()}, nil
		}
		c.hs[i] = h
		sum += h
	}
	if tc, ok := rc.cell("total"); ok {
		t, err := parseHours(tc)
		if err != nil {
			return &rowReject{key: "total", reason: "总学时：" + err.Error()}, nil
		}
		if t != sum {
			return rejectf("total", "总学时%s不等于各项之和%s", fmtHundredths(t), fmtHundredths(sum)), nil
		}
	}
	if rej := j.duplicate(p.schoolRef()+"\x00"+p.ident(), rc, "教师"); rej != nil {
		return rej, nil
	}
	w := j.data
	for i, cc := range rc.h.cats {
		r := j.base(w, rc)
		j.setHoursPerson(w, r, p)
		r[6] = sv(cc.category)
		r[7] = sv(cc.label)
		r[9] = iv(c.hs[i])
		if err := w.append(ctx, r); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func fmtHundredths(v int64) string {
	s := strconv.FormatInt(v/100, 10)
	if f := v % 100; f != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%02d", f), "0")
	}
	return s
}

// --- 研修考核 progress ------------------------------------------------------------------------

type progressConv struct{}

func (progressConv) table() string { return "raw_progress" }
func (progressConv) setup(ctx context.Context, j *job) error {
	return j.needSchool()
}

var progressResults = map[string]bool{"待考核": true, "通过": true, "不通过": true}

func (progressConv) convert(ctx context.Context, j *job, rc *rowCtx) (*rowReject, error) {
	p, rej := j.person(rc)
	if rej != nil {
		return rej, nil
	}
	w := j.data
	r := j.base(w, rc)
	if c, ok := rc.cell("seq"); ok && clean(c.V) != "" {
		n, err := parseCount(c)
		if err != nil {
			return rejectf("seq", "序号：%v", err), nil
		}
		r[w.col("seq")] = iv(n)
	}
	j.setPerson(w, r, p)
	r[w.col("research_group")] = svOpt(rc.str("group"))
	c, _ := rc.cell("plan")
	plan, err := parseYesNo(c, uploadedWords, notUploaded)
	if err != nil {
		return rejectf("plan", "个人提升计划：%v", err), nil
	}
	r[w.col("plan_uploaded")] = bv(plan)
	c, _ = rc.cell("practice")
	num, den, hasDen, err := parseFraction(c)
	if err != nil {
		return rejectf("practice", "校本研修学时：%v", err), nil
	}
	r[w.col("practice_hours")] = iv(num)
	r[w.col("practice_hours_required")] = ivOpt(den, hasDen)
	c, _ = rc.cell("summaries")
	num, den, hasDen, err = parseFraction(c)
	if err != nil || num%100 != 0 || den%100 != 0 {
		return rejectf("summaries", "个人提升总结「%s」应为「已交/应交」篇数", c.V), nil
	}
	r[w.col("summaries")] = iv(num / 100)
	r[w.col("summaries_required")] = ivOpt(den/100, hasDen)
	if c, ok := rc.cell("completion"); ok && clean(c.V) != "" {
		b, err := parseYesNo(c, doneWords, notDoneWords)
		if err != nil {
			return rejectf("completion", "完成情况：%v", err), nil
		}
		r[w.col("completed")] = bv(b)
	}
	if res := rc.str("result"); res != "" {
		if !progressResults[res] {
			return rejectf("result", "考核结果「%s」应为待考核、通过或不通过", res), nil
		}
		r[w.col("result")] = sv(res)
	}
	if rej := j.duplicate(p.ident(), rc, "教师"); rej != nil {
		return rej, nil
	}
	return nil, w.append(ctx, r)
}

// --- assessments ---------------------------------------------------------------------------

type assessmentsConv struct{}

func (assessmentsConv) table() string { return "raw_assessments" }
func (assessmentsConv) setup(ctx context.Context, j *job) error {
	return j.needSchool()
}

var (
	assessmentResults = map[string]bool{"优秀": true, "合格": true, "不合格": false, "待审核": false, "未提交": false, "待考核": false}
	reviewLevels      = map[string]int64{
		"校级初评": 1, "校级": 1, "学校初评": 1,
		"县级复核": 2, "县级": 2, "区级复核": 2, "区县复核": 2, "区级": 2, "县区级": 2,
		"市级认定": 3, "市级": 3,
	}
)

func (assessmentsConv) convert(ctx context.Context, j *job, rc *rowCtx) (*rowReject, error) {
	p, rej := j.person(rc)
	if rej != nil {
		return rej, nil
	}
	point := rc.str("ability")
	if point == "" {
		return rejectf("ability", "能力点为空"), nil
	}
	point = pointText(point)
	res := rc.str("result")
	passed, ok := assessmentResults[res]
	if !ok {
		return rejectf("result", "测评结果「%s」应为优秀、合格、不合格、待审核、未提交或待考核", res), nil
	}
	d, rej := rc.date("date", false)
	if rej != nil {
		return rej, nil
	}
	w := j.data
	r := j.base(w, rc)
	if lv := rc.str("level"); lv != "" {
		rank, ok := reviewLevels[lv]
		if !ok {
			return rejectf("level", "审核层级「%s」应为校级初评、县级复核或市级认定", lv), nil
		}
		r[w.col("review_level")] = sv(lv)
		r[w.col("review_rank")] = iv(rank)
	}
	if rej := j.duplicate(fmt.Sprint(p.ident(), pointKey(point), d, r[w.col("review_rank")]), rc, "教师、能力点、日期与层级"); rej != nil {
		return rej, nil
	}
	j.setPerson(w, r, p)
	r[w.col("catalogue")] = sv(j.catalogueName())
	r[w.col("ability_given")] = sv(point)
	r[w.col("result")] = sv(res)
	r[w.col("passed")] = bv(passed)
	r[w.col("assessed_on")] = d
	return nil, w.append(ctx, r)
}

// --- catalogue -----------------------------------------------------------------------------

type catalogueConv struct{}

func (catalogueConv) table() string                           { return "abilities" }
func (catalogueConv) setup(ctx context.Context, j *job) error { return nil }

var reCode = regexp.MustCompile(`^[A-Z]{1,2}\d{1,2}$`)

func (catalogueConv) convert(ctx context.Context, j *job, rc *rowCtx) (*rowReject, error) {
	code := strings.ToUpper(clean(fold(rc.str("code"))))
	if !reCode.MatchString(code) {
		return rejectf("code", "能力点编号「%s」应为字母加数字（如 A1）", rc.str("code")), nil
	}
	name, dim, env := rc.str("name"), rc.str("dimension"), rc.str("environment")
	switch {
	case name == "":
		return rejectf("name", "能力点名称为空"), nil
	case dim == "":
		return rejectf("dimension", "维度为空"), nil
	case env == "":
		return rejectf("environment", "环境为空"), nil
	}
	if rej := j.duplicate(code, rc, "能力点编号"); rej != nil {
		return rej, nil
	}
	w := j.data
	r := j.base(w, rc)
	r[w.col("catalogue")] = sv(j.catalogueName())
	r[w.col("code")] = sv(code)
	r[w.col("dimension")] = sv(dim)
	r[w.col("name")] = sv(name)
	if e, ok := environments[env]; ok {
		env = e
	}
	r[w.col("environment")] = sv(env)
	if c, ok := rc.cell("credits"); ok && clean(c.V) != "" {
		n, err := parseCount(c)
		if err != nil {
			return rejectf("credits", "学分：%v", err), nil
		}
		r[w.col("credits")] = iv(n)
	}
	return nil, w.append(ctx, r)
}
