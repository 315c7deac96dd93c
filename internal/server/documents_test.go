package server

import (
	"archive/zip"
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"tisheng/internal/auth"
	"tisheng/internal/docx"
)

// docText checks a downloaded document as Word would and returns its text.
func docText(t *testing.T, b []byte) (string, *docx.Doc) {
	t.Helper()
	if err := docx.Check(b); err != nil {
		t.Fatalf("the document is not a sound package: %v", err)
	}
	d, err := docx.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	return d.Text(), d
}

// Both documents download for every role within its scope, and nobody gets another's:
// a district's annual report covers its district only, a school gets its own diagnosis,
// a district its schools', and asking past the scope is 403.
func TestDocumentsWithinScope(t *testing.T) {
	e := newEnv(t, Config{})
	// a district with several schools: a school user's sibling is out of its scope
	d := e.one(`SELECT district FROM school_info GROUP BY district HAVING count(DISTINCT school_code) > 1 ORDER BY district LIMIT 1`)
	otherDistrict := e.one(`SELECT min(district) FROM school_info WHERE district <> ?`, d)
	mine := e.one(`SELECT min(school_code) FROM school_info WHERE district = ?`, d)
	sibling := e.one(`SELECT max(school_code) FROM school_info WHERE district = ?`, d)
	other := e.one(`SELECT min(school_code) FROM school_info WHERE district <> ?`, d)
	district := e.client("qx", auth.User{Role: auth.RoleDistrict, District: d})
	school := e.client("xx", auth.User{Role: auth.RoleSchool, School: mine})
	leader := e.client("ld", auth.User{Role: auth.RoleLeader})
	get := func(c *http.Client, u string, status int) []byte {
		t.Helper()
		resp, body := do(t, c, http.MethodGet, e.ts.URL+u, nil, "")
		if resp.StatusCode != status {
			t.Fatalf("%s: %d, want %d: %.300s", u, resp.StatusCode, status, body)
		}
		if status == 200 {
			ct := resp.Header.Get("Content-Type")
			if strings.Contains(u, ".docx") && ct != "application/vnd.openxmlformats-officedocument.wordprocessingml.document" ||
				strings.Contains(u, ".zip") && ct != "application/zip" {
				t.Errorf("%s: Content-Type %s", u, ct)
			}
			if !strings.Contains(resp.Header.Get("Content-Disposition"), "filename*=UTF-8''") {
				t.Errorf("%s: Content-Disposition %s", u, resp.Header.Get("Content-Disposition"))
			}
		}
		return body
	}
	teachers := func(district string) string {
		q := `SELECT count(*) FROM teacher_progress`
		if district == "" {
			return e.one(q)
		}
		return e.one(q+` WHERE district = ?`, district)
	}

	// The admin's report covers every district; its figures are the 年报 workbook's.
	text, doc := docText(t, get(e.c, "/download/annual.docx", 200))
	if !strings.Contains(text, "名单内教师"+teachers("")+"人") {
		t.Errorf("annual report: not all %s teachers", teachers(""))
	}
	wb := get(e.c, "/download/annual.xlsx", 200)
	f, err := excelize.OpenReader(bytes.NewReader(wb))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := f.GetRows("按区县")
	f.Close()
	byDistrict := map[string][]string{}
	for _, r := range doc.Tables()[0].Rows[1:] {
		byDistrict[r[0]] = r
	}
	hdr := rows[1]
	col := map[string]int{}
	for i, h := range hdr {
		col[h] = i
	}
	compared := 0
	for _, r := range rows[2:] {
		got := byDistrict[r[0]]
		for docCol, label := range map[int]string{3: "教师数", 4: "参训率", 5: "完成率", 6: "合格率", 7: "优秀率"} {
			i, ok := col[label]
			if !ok {
				t.Fatalf("年报 按区县 has no %s: %v", label, hdr)
			}
			if len(got) <= docCol || got[docCol] != r[i] {
				t.Errorf("%s %s: document %v, 年报 %s", r[0], label, got, r[i])
			}
			compared++
		}
	}
	if compared < 10 {
		t.Errorf("compared %d figures with the 年报", compared)
	}

	// A district asked for by the admin, and a district user's own: the district only.
	o := e.outsidersOf(d, "")
	for _, c := range []struct {
		who    *http.Client
		u      string
		whoami string
	}{{e.c, "/download/annual.docx?district=" + url.QueryEscape(d), "admin"}, {district, "/download/annual.docx", "district"}, {leader, "/download/annual.docx?district=" + url.QueryEscape(d), "leader"}} {
		text, _ := docText(t, get(c.who, c.u, 200))
		if !strings.Contains(text, "名单内教师"+teachers(d)+"人") || !strings.Contains(text, d+"2025年度") {
			t.Errorf("%s %s: not %s's report", c.whoami, c.u, d)
		}
		if l := o.leak(text); l != "" {
			t.Errorf("%s %s leaks %s", c.whoami, c.u, l)
		}
	}
	get(e.c, "/download/annual.docx?district="+url.QueryEscape("不存在区"), 404)
	get(e.c, "/download/annual.docx?year=2023", 200)
	get(e.c, "/download/annual.docx?year=20x5", 400)
	get(e.c, "/download/annual.docx?year=1899", 400)
	get(district, "/download/annual.docx?district="+url.QueryEscape(otherDistrict), 403)
	get(school, "/download/annual.docx", 403)

	// Diagnoses: a school's own, without asking; a district's schools; nobody another's.
	text, _ = docText(t, get(school, "/download/swot.docx", 200))
	name := e.one(`SELECT school_name FROM school_info WHERE school_code = ?`, mine)
	if !strings.Contains(text, name) || !strings.Contains(text, "学校代码"+mine) {
		t.Errorf("the school's own diagnosis is not of %s", mine)
	}
	if l := e.outsidersOf(d, mine).leak(text); l != "" {
		t.Errorf("a school's diagnosis leaks %s", l)
	}
	get(school, "/download/swot.docx?school="+mine, 200)
	get(school, "/download/swot.docx?school="+sibling, 403)
	get(school, "/download/swot.docx?school="+other, 403)
	get(district, "/download/swot.docx?school="+sibling, 200)
	get(district, "/download/swot.docx?school="+other, 403)
	get(district, "/download/swot.zip?district="+url.QueryEscape(otherDistrict), 403)
	get(e.c, "/download/swot.docx?school="+other, 200)
	get(e.c, "/download/swot.docx", 400)
	get(e.c, "/download/swot.docx?school=3699999999", 404)
	get(e.c, "/download/swot.zip", 400)

	for _, c := range []struct {
		who *http.Client
		u   string
	}{{district, "/download/swot.zip"}, {e.c, "/download/swot.zip?district=" + url.QueryEscape(d)}} {
		b := get(c.who, c.u, 200)
		z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		if want := e.one(`SELECT count(*) FROM school_gate WHERE district = ?`, d); fmt.Sprint(len(z.File)) != want {
			t.Errorf("%s: %d documents for %s schools", c.u, len(z.File), want)
		}
		for _, zf := range z.File {
			if !regexp.MustCompile(`^` + d + `_36\d{8}_`).MatchString(zf.Name) {
				t.Errorf("%s: %s", c.u, zf.Name)
			}
			rc, _ := zf.Open()
			var buf bytes.Buffer
			buf.ReadFrom(rc)
			rc.Close()
			text, _ := docText(t, buf.Bytes())
			if l := o.leak(text); l != "" {
				t.Errorf("%s: %s leaks %s", c.u, zf.Name, l)
			}
		}
	}

	// Each download is in the audit trail, with who and what.
	if n := e.one(`SELECT count(*) FROM audit WHERE action = 'download' AND (object LIKE '%.docx' OR object LIKE '%.zip')`); n == "0" {
		t.Errorf("document downloads not audited")
	}
	if n := e.one(`SELECT count(*) FROM audit WHERE action = 'download' AND detail LIKE '年度实施情况报告 %year=2023%'`); n != "1" {
		t.Errorf("the year asked for is not in the audit trail (%s entries)", n)
	}
}
