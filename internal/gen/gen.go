// Package gen writes realistic platform exports for a made-up city: every export shape,
// with the quirks real platforms produce (GBK, title rows, merged cells, 合计 rows, masked
// IDs, mixed ability-point spellings) and a handful of bad rows, over two monthly snapshots.
// The same seed always gives the same files.
package gen

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"tisheng/ingest"
)

// Config sizes the city.
type Config struct {
	Out       string
	Districts int
	Teachers  int // in all
	Seed      int64
}

// Limits of a generated city: school codes hold two digits of district, and every
// district needs two teachers (one moves school, one fails a point).
const (
	MaxDistricts = 99
	MaxTeachers  = 1_000_000
)

// Validate refuses a city that cannot be generated, saying why (in the user's words).
func (c Config) Validate() error {
	switch {
	case c.Out == "":
		return fmt.Errorf("gen: 需要 --out 目录")
	case c.Districts < 1 || c.Districts > MaxDistricts:
		return fmt.Errorf("gen: --districts 应在 1 到 %d 之间（现为 %d）", MaxDistricts, c.Districts)
	case c.Teachers < 2*c.Districts || c.Teachers > MaxTeachers:
		return fmt.Errorf("gen: --teachers 应在 %d（每个区县至少 2 人）到 %d 之间（现为 %d）", 2*c.Districts, MaxTeachers, c.Teachers)
	}
	return nil
}

// File is one written export and what loading it needs.
type File struct {
	Path   string
	Kind   string
	School string // --school, for 研修考核 files
}

// Summary says what was written.
type Summary struct {
	Files     []File
	Schools   int
	Teachers  int
	HoursRows int
}

// Months are the two snapshots written.
var Months = []time.Time{
	time.Date(2025, 5, 31, 0, 0, 0, 0, time.UTC),
	time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC),
}

var (
	districtNames = []string{"东湖区", "西山区", "南城区", "北塘区", "青云区", "临江区", "白石县", "凤鸣县", "石门县", "龙泉县"}
	surnames      = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余于杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛")
	givenChars    = []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红玲兰建文辉力永志宁雪琳晨思佳欣悦婷雅俊浩宇轩涵")
	subjects      = []string{"语文", "数学", "英语", "物理", "化学", "生物", "历史", "地理", "道德与法治", "音乐", "美术", "体育", "信息技术", "科学"}
	titles        = []string{"三级教师", "二级教师", "一级教师", "高级教师", "正高级教师"}
	stages        = []string{"小学", "初中", "高中", "九年一贯制"}
	urbanTypes    = []string{"城区", "镇区", "乡村"}
	envs          = []string{"多媒体教学环境", "混合学习环境", "智慧学习环境"}
	onlineLabels  = []string{"网络研修", "网络课程", "线上学习"}
	// point choices that cover three dimensions, two dimensions, and only two points
	pointSets = [][]string{{"A1", "A3", "A6"}, {"A2", "A5", "A11"}, {"B1", "B2", "B4"}, {"A1", "B2", "B9"}, {"C1", "C3", "C6"}, {"A3", "A4", "A6"}, {"A5", "A6"}}
	pointName = map[string]string{"A1": "技术支持的学情分析", "A2": "数字教育资源获取与评价", "A3": "演示文稿设计与制作", "A4": "数字教育资源管理",
		"A5": "技术支持的课堂导入", "A6": "技术支持的课堂讲授", "A11": "评价量规设计与应用", "B1": "技术支持的测验与练习",
		"B2": "微课程设计与制作", "B4": "技术支持的发现与解决问题", "B9": "自评与互评活动的组织", "C1": "跨学科学习活动设计",
		"C3": "创新解决问题的方法", "C6": "应用数据分析模型"}
)

type school struct {
	code, name, district, stage, urban, env string
	pilot                                   bool
	classes, students, staff                int
	teachers                                []*teacher
}

type activity struct {
	label, name string
	hours       int64 // hundredths
	date        time.Time
}

type result struct {
	code, result, level string
	date                time.Time
}

type teacher struct {
	name, id, subject, gender, group, title string
	birth                                   time.Time
	fullTime                                bool
	acts                                    []activity
	results                                 []result
	movedTo                                 *school // listed here on the June roster
}

type city struct {
	cfg       Config
	rng       *rand.Rand
	districts [][]*school
	ids       map[string]bool
	sum       Summary
}

// Generate writes the exports into cfg.Out.
func Generate(cfg Config) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return Summary{}, fmt.Errorf("gen: %w", err)
	}
	c := &city{cfg: cfg, rng: rand.New(rand.NewSource(cfg.Seed)), ids: map[string]bool{}}
	c.build()
	for mi, m := range Months {
		if err := c.writeMonth(mi, m); err != nil {
			return c.sum, fmt.Errorf("gen: %w", err)
		}
	}
	return c.sum, nil
}

func districtName(i int) string {
	if i < len(districtNames) {
		return districtNames[i]
	}
	return fmt.Sprintf("第%d区", i+1)
}

func (c *city) build() {
	perDistrict := c.cfg.Teachers / c.cfg.Districts
	code := 0
	for d := 0; d < c.cfg.Districts; d++ {
		n := perDistrict
		if d == c.cfg.Districts-1 {
			n = c.cfg.Teachers - perDistrict*(c.cfg.Districts-1)
		}
		var schools []*school
		for n > 0 {
			size := min(n, 20+c.rng.Intn(80))
			// About a third of schools are strong ones, where nearly everyone passes: a real
			// district has schools on both sides of the 95% gate.
			strong := c.rng.Intn(3) == 0
			code++
			st := stages[c.rng.Intn(len(stages))]
			s := &school{
				code: fmt.Sprintf("36%02d%06d", d+1, code), district: districtName(d),
				name:  fmt.Sprintf("%s第%d%s", districtName(d), len(schools)+1, map[string]string{"小学": "小学", "初中": "中学", "高中": "高级中学", "九年一贯制": "学校"}[st]),
				stage: st, urban: urbanTypes[c.rng.Intn(3)], env: envs[c.rng.Intn(3)], pilot: c.rng.Intn(5) == 0,
				classes: 6 + size/3, students: (6 + size/3) * 40, staff: size + 5,
			}
			for i := 0; i < size; i++ {
				s.teachers = append(s.teachers, c.teacher(d, strong))
			}
			schools = append(schools, s)
			n -= size
			c.sum.Schools++
		}
		c.districts = append(c.districts, schools)
	}
	c.sum.Teachers = c.cfg.Teachers
	// One teacher moves to the district's second school in June (the first district that has two).
	for _, ss := range c.districts {
		if len(ss) > 1 && len(ss[0].teachers) > 1 {
			ss[0].teachers[0].movedTo = ss[1]
			break
		}
	}
}

func (c *city) name() string {
	n := string(surnames[c.rng.Intn(len(surnames))]) + string(givenChars[c.rng.Intn(len(givenChars))])
	if c.rng.Intn(2) == 0 {
		n += string(givenChars[c.rng.Intn(len(givenChars))])
	}
	return n
}

func (c *city) newID(district int, birth time.Time) string {
	for {
		first := fmt.Sprintf("3602%02d%s%03d", district%100, birth.Format("20060102"), c.rng.Intn(1000))
		id := ingest.CompleteID(first)
		if !c.ids[id] {
			c.ids[id] = true
			return id
		}
		birth = birth.AddDate(0, 0, 1)
	}
}

func day(m, d int) time.Time { return time.Date(2025, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

func (c *city) teacher(district int, strong bool) *teacher {
	birth := time.Date(1965+c.rng.Intn(35), time.Month(1+c.rng.Intn(12)), 1+c.rng.Intn(28), 0, 0, 0, 0, time.UTC)
	t := &teacher{
		name: c.name(), id: c.newID(district, birth), birth: birth,
		subject: subjects[c.rng.Intn(len(subjects))], title: titles[c.rng.Intn(len(titles))],
		gender: []string{"男", "女"}[c.rng.Intn(2)], fullTime: c.rng.Intn(10) != 0,
	}
	t.group = t.subject + "组"
	// Profiles: most finish by June; some lag; some pass too few points or dimensions.
	p := c.rng.Float64()
	if strong {
		p *= 0.7 // no laggards, no missing points
	}
	online, practice := int64(2600+50*c.rng.Intn(12)), int64(2600+50*c.rng.Intn(12))
	if p > 0.8 {
		online, practice = int64(800+50*c.rng.Intn(32)), int64(400+50*c.rng.Intn(40))
	}
	label := onlineLabels[district%len(onlineLabels)]
	for left := online; left > 0; {
		h := min(left, []int64{200, 250, 300}[c.rng.Intn(3)])
		t.acts = append(t.acts, activity{label: label, name: fmt.Sprintf("网络课程%d", 1+c.rng.Intn(40)), hours: h, date: day(3+c.rng.Intn(4), 1+c.rng.Intn(28))})
		left -= h
	}
	practiceKinds := []string{"校本研修", "校本研修", "研课磨课", "展示分享"}
	for left := practice; left > 0; {
		h := min(left, []int64{100, 150, 200}[c.rng.Intn(3)])
		k := practiceKinds[c.rng.Intn(len(practiceKinds))]
		t.acts = append(t.acts, activity{label: k, name: k + "活动" + strconv.Itoa(1+c.rng.Intn(20)), hours: h, date: day(3+c.rng.Intn(4), 1+c.rng.Intn(28))})
		left -= h
	}
	set := pointSets[c.rng.Intn(len(pointSets))]
	if strong {
		set = pointSets[c.rng.Intn(5)] // the sets that cover three dimensions
	}
	levels := []string{"校级初评", "县级复核"}
	for i, code := range set {
		if p > 0.9 && i == len(set)-1 {
			break
		}
		r := result{code: code, result: []string{"合格", "合格", "优秀"}[c.rng.Intn(3)], date: day(4+c.rng.Intn(3), 1+c.rng.Intn(28)), level: levels[c.rng.Intn(2)]}
		if c.rng.Intn(15) == 0 { // failed once in April, passed on re-assessment in June
			t.results = append(t.results, result{code: code, result: "不合格", date: day(4, 10), level: "校级初评"})
			r.date = day(6, 15)
		}
		t.results = append(t.results, r)
	}
	return t
}

// --- writing -------------------------------------------------------------------------------

func (c *city) add(path, kind, school string) {
	c.sum.Files = append(c.sum.Files, File{Path: path, Kind: kind, School: school})
}

func (c *city) writeMonth(mi int, asOf time.Time) error {
	last := mi == len(Months)-1
	ymd := asOf.Format("2006-01-02")
	if err := c.writeSchools(asOf); err != nil {
		return err
	}
	for d, schools := range c.districts {
		dn := districtName(d)
		if err := c.writeRoster(d, schools, asOf, last); err != nil {
			return err
		}
		// The last district (of several) has not sent its June hours yet: its schools stay on May.
		if !(last && d == len(c.districts)-1 && d > 0) {
			var err error
			if d == 1 {
				err = c.writeHoursSummary(filepath.Join(c.cfg.Out, fmt.Sprintf("%s_学时汇总_%s.xlsx", dn, ymd)), schools, asOf, last)
			} else {
				err = c.writeHoursDetail(filepath.Join(c.cfg.Out, fmt.Sprintf("%s_学时明细_%s.csv", dn, asOf.Format("2006-01"))), schools, asOf, last, d == 0 && last)
			}
			if err != nil {
				return err
			}
		}
		if err := c.writeAssessments(filepath.Join(c.cfg.Out, fmt.Sprintf("%s_能力点测评_%s.csv", dn, asOf.Format("20060102"))), schools, asOf, last); err != nil {
			return err
		}
		if err := c.writeProgress(schools[0], asOf, last); err != nil {
			return err
		}
	}
	return nil
}

// csvFile opens a CSV for writing in the given encoding ("utf-8", "utf-8-bom", "gbk").
func csvFile(path, enc string) (*csv.Writer, func() error, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	var w io.Writer = bw
	var tw *transform.Writer
	switch enc {
	case "utf-8-bom":
		bw.WriteString("\ufeff")
	case "gbk":
		tw = transform.NewWriter(bw, simplifiedchinese.GBK.NewEncoder())
		w = tw
	}
	cw := csv.NewWriter(w)
	return cw, func() error {
		cw.Flush()
		if err := cw.Error(); err != nil {
			f.Close()
			return err
		}
		if tw != nil {
			if err := tw.Close(); err != nil {
				f.Close()
				return err
			}
		}
		if err := bw.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}, nil
}

func yesNo(b bool) string {
	if b {
		return "是"
	}
	return "否"
}

func (c *city) writeSchools(asOf time.Time) error {
	path := filepath.Join(c.cfg.Out, fmt.Sprintf("学校信息_%s.xlsx", asOf.Format("2006-01")))
	x := newXLSX()
	x.notes([]string{"填表说明", "1. 学校代码为10位教育部学校标识码。", "2. 教学环境填写多媒体教学环境、混合学习环境或智慧学习环境。"})
	sw, err := x.sheet("学校信息")
	if err != nil {
		return err
	}
	header := []string{"学校代码", "学校名称", "所属区县", "学段", "城乡类型", "是否试点校", "教学环境", "班级数", "学生数", "教职工数", "多媒体教室数", "智慧教室数", "计算机教室数", "教师终端数"}
	title := fmt.Sprintf("全市中小学学校信息表（数据截止：%d年%d月%d日）", asOf.Year(), asOf.Month(), asOf.Day())
	if err := x.title(sw, title, len(header)); err != nil {
		return err
	}
	x.row(sw, toAny(header)...)
	for _, schools := range c.districts {
		for _, s := range schools {
			mm := s.classes
			smart := 0
			if s.env == "智慧学习环境" {
				smart = s.classes / 4
			}
			x.row(sw, s.code, s.name, s.district, s.stage, s.urban, yesNo(s.pilot), s.env, s.classes, s.students, s.staff, mm, smart, 1+s.classes/12, len(s.teachers))
		}
	}
	if err := x.save(sw, path); err != nil {
		return err
	}
	c.add(path, "schools", "")
	return nil
}

// rosterSchools lists each school's roster for the month, with June's move applied.
func (c *city) rosterRows(schools []*school, last bool) [][2]any {
	var out [][2]any
	for _, s := range schools {
		for _, t := range s.teachers {
			at := s
			if last && t.movedTo != nil {
				at = t.movedTo
			}
			out = append(out, [2]any{at, t})
		}
	}
	return out
}

func (c *city) writeRoster(d int, schools []*school, asOf time.Time, last bool) error {
	dn := districtName(d)
	header := []string{"序号", "姓名", "身份证号", "学校名称", "任教学科", "任教学段", "性别", "出生年月", "是否专任教师", "职称", "所属教研组", "手机号"}
	rows := c.rosterRows(schools, last)
	line := func(i int, s *school, t *teacher) []string {
		id := t.id
		if last && d == 0 && i == 3 {
			id = id[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", id[17])+1)%11]) // a mistyped check digit
		}
		return []string{strconv.Itoa(i + 1), t.name, id, s.name, t.subject, s.stage, t.gender, t.birth.Format("2006-01"),
			yesNo(t.fullTime), t.title, t.group, fmt.Sprintf("13%09d", c.rng.Intn(1e9))}
	}
	if d == 1 {
		// An XLSX roster with a title row and a 合计 row.
		path := filepath.Join(c.cfg.Out, fmt.Sprintf("%s_教师名单_%s.xlsx", dn, asOf.Format("2006-01-02")))
		x := newXLSX()
		sw, err := x.sheet("教师名单")
		if err != nil {
			return err
		}
		if err := x.title(sw, dn+"参训教师名单", len(header)); err != nil {
			return err
		}
		x.row(sw, toAny(header)...)
		for i, r := range rows {
			x.row(sw, toAny(line(i, r[0].(*school), r[1].(*teacher)))...)
		}
		x.row(sw, "合计", fmt.Sprintf("%d人", len(rows)))
		if err := x.save(sw, path); err != nil {
			return err
		}
		c.add(path, "teachers", "")
		return nil
	}
	enc := "utf-8-bom"
	if d == 0 {
		enc = "gbk"
	}
	path := filepath.Join(c.cfg.Out, fmt.Sprintf("%s_教师名单_%s.csv", dn, asOf.Format("2006-01-02")))
	w, done, err := csvFile(path, enc)
	if err != nil {
		return err
	}
	w.Write(header)
	for i, r := range rows {
		w.Write(line(i, r[0].(*school), r[1].(*teacher)))
	}
	if err := done(); err != nil {
		return err
	}
	c.add(path, "teachers", "")
	return nil
}

func fmtHours(h int64) string {
	s := strconv.FormatInt(h/100, 10)
	if f := h % 100; f != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%02d", f), "0")
	}
	return s
}

func (c *city) writeHoursDetail(path string, schools []*school, asOf time.Time, last, bad bool) error {
	w, done, err := csvFile(path, "utf-8")
	if err != nil {
		return err
	}
	w.Write([]string{"姓名", "身份证号", "学校名称", "研修类型", "活动名称", "获得学时", "完成日期"})
	n := 0
	for _, r := range c.rosterRows(schools, last) {
		s, t := r[0].(*school), r[1].(*teacher)
		for _, a := range t.acts {
			if a.date.After(asOf) {
				continue
			}
			h := fmtHours(a.hours)
			if n%7 == 3 {
				h += "学时"
			}
			w.Write([]string{t.name, t.id, s.name, a.label, a.name, h, a.date.Format("2006-01-02")})
			n++
		}
	}
	if bad {
		t := schools[0].teachers[len(schools[0].teachers)-1]
		w.Write([]string{t.name, t.id, schools[0].name, "网上研修", "未知类型的活动", "2", "2025-06-20"})
		w.Write([]string{t.name, t.id, schools[0].name, "校本研修", "学时录错的活动", "-2", "2025-06-20"})
		// A teacher on no roster: kept and reported as unmatched, not dropped.
		stranger := c.newID(0, time.Date(1988, 8, 8, 0, 0, 0, 0, time.UTC))
		w.Write([]string{"路人甲", stranger, schools[0].name, "网络研修", "网络课程1", "2", "2025-06-21"})
		n += 3
	}
	c.sum.HoursRows += n
	if err := done(); err != nil {
		return err
	}
	c.add(path, "hours", "")
	return nil
}

func (c *city) writeHoursSummary(path string, schools []*school, asOf time.Time, last bool) error {
	x := newXLSX()
	sw, err := x.sheet("学时汇总")
	if err != nil {
		return err
	}
	header := []string{"姓名", "身份证号", "学校名称", "网络研修学时", "实践应用学时", "研课磨课学时", "展示分享学时", "总学时"}
	if err := x.title(sw, fmt.Sprintf("教师培训学时汇总表　数据截止：%d年%d月%d日", asOf.Year(), asOf.Month(), asOf.Day()), len(header)); err != nil {
		return err
	}
	x.row(sw, toAny(header)...)
	var grand int64
	for i, r := range c.rosterRows(schools, last) {
		s, t := r[0].(*school), r[1].(*teacher)
		var sums [4]int64
		for _, a := range t.acts {
			if a.date.After(asOf) {
				continue
			}
			switch a.label {
			case "校本研修":
				sums[1] += a.hours
			case "研课磨课":
				sums[2] += a.hours
			case "展示分享":
				sums[3] += a.hours
			default:
				sums[0] += a.hours
			}
		}
		total := sums[0] + sums[1] + sums[2] + sums[3]
		grand += total
		if last && i == 2 {
			total += 100 // 总学时 that is not the sum of its parts
		}
		cells := []any{t.name, t.id, s.name}
		for k, v := range sums {
			if (i+k)%5 == 0 {
				cells = append(cells, fmtHours(v)+"学时") // text, as some platforms write it
			} else {
				cells = append(cells, float64(v)/100)
			}
		}
		cells = append(cells, float64(total)/100)
		x.row(sw, cells...)
		if i == 5 {
			x.row(sw) // a blank row in the middle
		}
		c.sum.HoursRows++
	}
	x.row(sw, "合计", "", "", "", "", "", "", float64(grand)/100)
	if err := x.save(sw, path); err != nil {
		return err
	}
	c.add(path, "hours", "")
	return nil
}

func (c *city) writeAssessments(path string, schools []*school, asOf time.Time, last bool) error {
	w, done, err := csvFile(path, "utf-8-bom")
	if err != nil {
		return err
	}
	w.Write([]string{"姓名", "身份证号", "学校名称", "能力点", "测评结果", "审核日期", "审核层级"})
	k := 0
	for _, r := range c.rosterRows(schools, last) {
		s, t := r[0].(*school), r[1].(*teacher)
		for _, res := range t.results {
			if res.date.After(asOf) {
				continue
			}
			point := res.code
			switch k % 4 {
			case 1:
				point = res.code + " " + pointName[res.code]
			case 2:
				point = res.code + pointName[res.code]
			case 3:
				point = pointName[res.code]
			}
			k++
			w.Write([]string{t.name, t.id, s.name, point, res.result, res.date.Format("2006/1/2"), res.level})
		}
	}
	if last {
		t := schools[0].teachers[1]
		w.Write([]string{t.name, t.id, schools[0].name, "A99", "合格", "2025/6/20", "校级初评"})
	}
	if err := done(); err != nil {
		return err
	}
	c.add(path, "assessments", "")
	return nil
}

// writeProgress writes one school's 研修考核 view: masked IDs, no school column.
func (c *city) writeProgress(s *school, asOf time.Time, last bool) error {
	path := filepath.Join(c.cfg.Out, fmt.Sprintf("研修考核_%s_%s.xlsx", s.code, asOf.Format("2006-01-02")))
	x := newXLSX()
	sw, err := x.sheet("研修考核")
	if err != nil {
		return err
	}
	x.row(sw, "序号", "姓名", "身份证号", "所属教研组", "个人提升计划", "校本研修学时", "个人提升总结", "完成情况", "考核结果")
	i := 0
	for _, t := range s.teachers {
		if last && t.movedTo != nil {
			continue
		}
		var practice int64
		for _, a := range t.acts {
			if a.label != "网络研修" && a.label != "网络课程" && a.label != "线上学习" && !a.date.After(asOf) {
				practice += a.hours
			}
		}
		practice = min(practice, 2500)
		plan := c.rng.Intn(10) != 0
		summaries := c.rng.Intn(4)
		done := plan && practice >= 2500 && summaries >= 3
		i++
		up := "未上传"
		if plan {
			up = "已上传"
		}
		fin, res := "未完成", "待考核"
		if done {
			fin, res = "完成", "通过"
		}
		x.row(sw, i, t.name, ingest.MaskID(t.id), t.group, up, fmtHours(practice)+"/25", fmt.Sprintf("%d/3", summaries), fin, res)
	}
	if last {
		x.row(sw, i+1, "查无此人", "360201********0000", "语文组", "已上传", "25/25", "3/3", "完成", "通过")
	}
	if err := x.save(sw, path); err != nil {
		return err
	}
	c.add(path, "progress", s.code)
	return nil
}

// --- xlsx helper ---------------------------------------------------------------------------

type xlsx struct {
	f   *excelize.File
	n   int   // rows written to the current sheet
	err error // the first failed row
}

func newXLSX() *xlsx { return &xlsx{f: excelize.NewFile()} }

// notes writes a 填表说明 sheet first, as templates from the platforms have.
func (x *xlsx) notes(lines []string) {
	x.f.SetSheetName("Sheet1", "填表说明")
	for i, l := range lines {
		x.f.SetCellValue("填表说明", fmt.Sprintf("A%d", i+1), l)
	}
}

func (x *xlsx) sheet(name string) (*excelize.StreamWriter, error) {
	if idx, _ := x.f.GetSheetIndex("Sheet1"); idx >= 0 {
		x.f.SetSheetName("Sheet1", name)
	} else {
		if _, err := x.f.NewSheet(name); err != nil {
			return nil, err
		}
	}
	x.n = 0
	return x.f.NewStreamWriter(name)
}

// row appends a row; no values makes a blank row.
func (x *xlsx) row(sw *excelize.StreamWriter, values ...any) {
	x.n++
	cell, _ := excelize.CoordinatesToCellName(1, x.n)
	if err := sw.SetRow(cell, values); err != nil && x.err == nil {
		x.err = err
	}
}

func (x *xlsx) title(sw *excelize.StreamWriter, text string, width int) error {
	x.row(sw, text)
	end, _ := excelize.CoordinatesToCellName(width, 1)
	return sw.MergeCell("A1", end)
}

func (x *xlsx) save(sw *excelize.StreamWriter, path string) error {
	if x.err != nil {
		return x.err
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return x.f.SaveAs(path)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
