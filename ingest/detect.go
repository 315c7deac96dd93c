package ingest

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Kind is an export kind (docs/domain.md "Platform exports").
type Kind string

const (
	KindSchools     Kind = "schools"
	KindTeachers    Kind = "teachers"
	KindHours       Kind = "hours"
	KindProgress    Kind = "progress"
	KindAssessments Kind = "assessments"
	KindCatalogue   Kind = "catalogue"
)

// Hours come in two shapes that are one kind.
const (
	ShapeDetail  = "detail"
	ShapeSummary = "summary"
)

// ParseKind reads a --kind value.
func ParseKind(s string) (Kind, string, error) {
	switch s {
	case "schools", "teachers", "progress", "assessments", "catalogue":
		return Kind(s), "", nil
	case "hours":
		return KindHours, "", nil
	case "hours_detail":
		return KindHours, ShapeDetail, nil
	case "hours_summary":
		return KindHours, ShapeSummary, nil
	}
	return "", "", fmt.Errorf("unknown kind %q (schools, teachers, hours, hours_detail, hours_summary, progress, assessments, catalogue)", s)
}

// hourLabels maps every label platforms use to the canonical category. An unknown label is
// a rejected row, never a guess.
var hourLabels = map[string]string{
	"网络研修": "online", "网络课程": "online", "线上学习": "online", "在线学习": "online", "网络学习": "online",
	"校本实践": "school_practice", "实践应用": "school_practice", "校本研修": "school_practice", "线下研修": "school_practice",
	"研课磨课": "lesson_study", "课例分析": "lesson_study", "磨课": "lesson_study",
	"展示分享": "showcase", "信息化教学展示": "showcase", "成果展示": "showcase",
	"教学研讨": "gd_discussion",
	"研修作业": "gd_assignment",
	"听课评课": "gd_observation",
	"线下活动": "gd_offline",
}

// summaryOnlyLabels are column names of per-teacher summaries that are not activity labels.
var summaryOnlyLabels = map[string]string{"线上": "online", "线下": "school_practice"}

type kindSpec struct {
	kind  Kind
	shape string
	// cols maps a column key to the header names that mean it.
	cols map[string][]string
	// required lists groups of keys; each group needs one present.
	required [][]string
	// forbid lists keys whose presence rules the kind out (a roster is no school list).
	forbid []string
}

var (
	nameCol   = []string{"姓名", "教师姓名", "学员姓名"}
	idCol     = []string{"身份证号", "证件号码", "身份证件号", "身份证号码", "证件号"}
	schoolNm  = []string{"学校名称", "单位名称", "所在学校", "学校", "所在单位"}
	schoolCd  = []string{"学校代码", "学校编码", "单位代码", "学校标识码"}
	groupCol  = []string{"教研组", "所属教研组", "学科组"}
	personCol = map[string][]string{"name": nameCol, "id": idCol, "school_name": schoolNm, "school_code": schoolCd}
)

func with(base map[string][]string, extra map[string][]string) map[string][]string {
	m := map[string][]string{}
	for k, v := range base {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// specs are tried in order: the most specific header first.
var specs = []kindSpec{
	{
		kind: KindCatalogue,
		cols: map[string][]string{
			"code":        {"code", "能力点编码", "编码", "编号", "能力点编号", "代码"},
			"dimension":   {"dimension", "维度", "能力维度"},
			"name":        {"name", "能力点名称", "名称", "微能力点"},
			"environment": {"environment", "环境", "教学环境"},
			"credits":     {"credits", "学分"},
		},
		required: [][]string{{"code"}, {"dimension"}, {"name"}, {"environment"}},
	},
	{
		kind: KindProgress,
		cols: with(personCol, map[string][]string{
			"seq":        {"序号"},
			"group":      groupCol,
			"plan":       {"个人提升计划", "提升计划"},
			"practice":   {"校本研修学时", "校本学时"},
			"summaries":  {"个人提升总结", "提升总结"},
			"completion": {"完成情况"},
			"result":     {"考核结果"},
		}),
		required: [][]string{{"name"}, {"id"}, {"plan"}, {"practice"}, {"summaries"}},
	},
	{
		kind: KindAssessments,
		cols: with(personCol, map[string][]string{
			"ability": {"能力点", "能力点名称", "微能力点", "测评能力点"},
			"result":  {"测评结果", "考核结果", "认定结果", "测评等级"},
			"date":    {"测评日期", "审核日期", "认定日期", "测评时间", "审核时间"},
			"level":   {"审核层级", "认定层级", "审核级别"},
		}),
		required: [][]string{{"name"}, {"id"}, {"ability"}, {"result"}},
	},
	{
		kind:  KindHours,
		shape: ShapeDetail,
		cols: with(personCol, map[string][]string{
			"category": {"研修类型", "学时类型", "活动类型"},
			"activity": {"活动名称", "课程名称", "项目名称"},
			"hours":    {"学时", "获得学时", "认定学时"},
			"date":     {"完成日期", "认定日期", "完成时间"},
		}),
		required: [][]string{{"name"}, {"id"}, {"category"}, {"hours"}},
	},
	{
		kind:     KindHours,
		shape:    ShapeSummary,
		cols:     with(personCol, map[string][]string{"total": {"总学时", "合计学时", "学时合计"}}),
		required: [][]string{{"name"}, {"id"}}, // and at least one category column
	},
	{
		kind: KindTeachers,
		cols: with(personCol, map[string][]string{
			"subject":   {"学科", "任教学科"},
			"stage":     {"学段", "任教学段"},
			"gender":    {"性别"},
			"birth":     {"出生日期", "出生年月"},
			"age":       {"年龄"},
			"full_time": {"是否专任教师", "专任教师"},
			"type":      {"教师类型"},
			"title":     {"职称"},
			"group":     groupCol,
		}),
		required: [][]string{{"name"}, {"id"}},
	},
	{
		kind: KindSchools,
		cols: map[string][]string{
			"school_code":       schoolCd,
			"school_name":       schoolNm,
			"district":          {"所属区县", "区县", "所属区", "区县名称"},
			"stage":             {"学段", "办学类型"},
			"urban_rural":       {"城乡类型", "城乡分类"},
			"pilot":             {"是否试点校", "试点校"},
			"environment":       {"教学环境", "信息化环境", "主要教学环境"},
			"classes":           {"班级数"},
			"students":          {"学生数"},
			"staff":             {"教职工数"},
			"multimedia_rooms":  {"多媒体教室数"},
			"smart_classrooms":  {"智慧教室数"},
			"computer_rooms":    {"计算机教室数"},
			"teacher_terminals": {"教师终端数"},
		},
		required: [][]string{{"school_code"}, {"school_name"}, {"district"}},
		forbid:   []string{"id", "name"},
	},
}

// header is a recognised header row.
type header struct {
	kind  Kind
	shape string
	row   int            // 0-based index among the rows read
	col   map[string]int // column key -> column index
	names []string       // the header cells, cleaned
	cats  []catCol       // summary: one column per hour category
}

type catCol struct {
	col      int
	category string
	label    string
}

// normHeader makes header cells comparable: no spaces, no required-field stars, no notes in
// brackets.
func normHeader(s string) string {
	s = clean(s)
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\u3000', '\n', '\r', '\t', '*', '＊':
			return -1
		}
		return r
	}, s)
	for _, br := range [][2]string{{"(", ")"}, {"（", "）"}} {
		if i := strings.Index(s, br[0]); i > 0 && strings.HasSuffix(s, br[1]) {
			s = s[:i]
		}
	}
	return s
}

// matchHeader tries row as the header of spec. It fails when a required column is missing,
// a forbidden one is present, or two columns mean the same thing.
func matchHeader(spec kindSpec, row []string) (*header, error) {
	h := &header{kind: spec.kind, shape: spec.shape, col: map[string]int{}, names: make([]string, len(row))}
	lookup := map[string]string{}
	for k, names := range spec.cols {
		for _, n := range names {
			lookup[n] = k
		}
	}
	anyKey := map[string]string{}
	for k, names := range personCol {
		for _, n := range names {
			anyKey[n] = k
		}
	}
	seenCat := map[string]int{}
	for i, cell := range row {
		n := normHeader(cell)
		h.names[i] = n
		if n == "" {
			continue
		}
		if k, ok := lookup[n]; ok {
			if j, dup := h.col[k]; dup {
				return nil, fmt.Errorf("「%s」与「%s」是同一列的两种叫法", h.names[j], n)
			}
			h.col[k] = i
			continue
		}
		if spec.shape == ShapeSummary {
			if label, ok := strings.CutSuffix(n, "学时"); ok {
				cat, known := hourLabels[label]
				if !known {
					cat, known = summaryOnlyLabels[label]
				}
				if known {
					if j, dup := seenCat[cat]; dup {
						return nil, fmt.Errorf("「%s」与「%s」是同一学时类别", h.names[h.cats[j].col], n)
					}
					seenCat[cat] = len(h.cats)
					h.cats = append(h.cats, catCol{col: i, category: cat, label: n})
				}
			}
		}
		if k, ok := anyKey[n]; ok && spec.kind == KindSchools {
			h.col[k] = i // recorded only so that forbid can see it
		}
	}
	for _, f := range spec.forbid {
		if _, ok := h.col[f]; ok {
			return nil, errNoMatch
		}
	}
	for _, group := range spec.required {
		found := false
		for _, k := range group {
			if _, ok := h.col[k]; ok {
				found = true
			}
		}
		if !found {
			return nil, errNoMatch
		}
	}
	if spec.shape == ShapeSummary && len(h.cats) == 0 {
		return nil, errNoMatch
	}
	return h, nil
}

var errNoMatch = fmt.Errorf("no match")

// headerScanRows is how many rows above the header (titles, notes) are looked through.
const headerScanRows = 30

// findHeader looks for the first row that is the header of a kind (of want, when given).
func findHeader(rows [][]string, want Kind, wantShape string) (*header, error) {
	for i, row := range rows {
		for _, spec := range specs {
			if want != "" && spec.kind != want {
				continue
			}
			if wantShape != "" && spec.shape != "" && spec.shape != wantShape {
				continue
			}
			h, err := matchHeader(spec, row)
			if err == errNoMatch {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("第%d行表头：%w", i+1, err)
			}
			h.row = i
			return h, nil
		}
	}
	return nil, errNoHeader
}

var errNoHeader = fmt.Errorf("没有可识别的表头（应为学校信息、教师名单、学时明细/汇总、研修考核、能力点测评结果或能力点目录之一）")

// keys lists the header's mapped columns in file order, for keeping rejected rows.
func (h *header) keys() []int {
	var cols []int
	for _, c := range h.col {
		cols = append(cols, c)
	}
	for _, c := range h.cats {
		cols = append(cols, c.col)
	}
	sort.Ints(cols)
	return cols
}

var (
	reTitleAsOf = regexp.MustCompile(`(?:数据)?截[止至](?:日期|时间)?\s*[：:]?\s*(\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?)`)
	reFileDate  = regexp.MustCompile(`(\d{4})[-_.年](\d{1,2})[-_.月](\d{1,2})`)
	reFileSolid = regexp.MustCompile(`(?:^|\D)(20\d{2})(\d{2})(\d{2})(?:\D|$)`)
	reFileMonth = regexp.MustCompile(`(\d{4})[-_.年](\d{1,2})(?:月|\D|$)`)
)

// asOfFromTitle finds `数据截止：2025年6月30日` in the rows above the header.
func asOfFromTitle(rows [][]string) (time.Time, bool) {
	for _, row := range rows {
		for _, cell := range row {
			if m := reTitleAsOf.FindStringSubmatch(cell); m != nil {
				if t, err := parseDate(Cell{V: m[1]}, false); err == nil {
					return t, true
				}
			}
		}
	}
	return time.Time{}, false
}

// asOfFromName reads `2025-06-30`, `20250630` or `2025-06` (the month's last day).
func asOfFromName(name string) (time.Time, bool) {
	if m := reFileDate.FindStringSubmatch(name); m != nil {
		if t, ok := ymd(atoi(m[1]), atoi(m[2]), atoi(m[3])); ok {
			return t, true
		}
	}
	if m := reFileSolid.FindStringSubmatch(name); m != nil {
		if t, ok := ymd(atoi(m[1]), atoi(m[2]), atoi(m[3])); ok {
			return t, true
		}
	}
	if m := reFileMonth.FindStringSubmatch(name); m != nil {
		y, mo := atoi(m[1]), atoi(m[2])
		if t, ok := ymd(y, mo, 1); ok {
			return t.AddDate(0, 1, -1), true
		}
	}
	return time.Time{}, false
}

// HourCategories lists the canonical hour categories, online first.
func HourCategories() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range hourLabels {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i] == "online") != (out[j] == "online") {
			return out[i] == "online"
		}
		return out[i] < out[j]
	})
	return out
}
