package server

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tisheng/internal/auth"
	"tisheng/internal/testkit"
	"tisheng/internal/warehouse"
)

// A teacher and a school change district in July (testkit.Moves): on every path a district
// reads (pages and their JSON, workbooks, ad-hoc SQL), each district sees them in the months
// it held them and not in the others.
func TestMovesOnEveryPath(t *testing.T) {
	wh, l, m := testkit.DemoMoved(t, "../../testdata", filepath.Join(t.TempDir(), "w.duckdb"), warehouse.Options{Locked: true})
	e := serveWarehouse(t, Config{}, wh, l)
	key := e.one(`SELECT any_value(teacher_key) FROM roster WHERE month = '2025-06' AND name = ?`, m.Teacher)
	clients := map[string]*http.Client{}
	for _, d := range []string{"东湖区", "南城区", "西山区"} {
		clients[d] = e.client("u"+d, auth.User{Role: auth.RoleDistrict, District: d})
	}
	// the moved school's own user sees all its months, before and after the move
	clients[m.School] = e.client("school", auth.User{Role: auth.RoleSchool, School: m.School})
	get := func(d, path string) (int, string) {
		t.Helper()
		resp, body := do(t, clients[d], http.MethodGet, e.ts.URL+path, nil, "")
		if strings.HasSuffix(strings.SplitN(path, "?", 2)[0], ".xlsx") && resp.StatusCode == 200 {
			return resp.StatusCode, xlsxText(t, body)
		}
		return resp.StatusCode, string(body)
	}
	sql := func(d, q string) string {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"sql": q})
		resp, body := do(t, clients[d], http.MethodPost, e.ts.URL+"/api/sql", bytes.NewReader(b), "application/json")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %s: %d %s", d, q, resp.StatusCode, body)
		}
		var res struct{ Rows [][]any }
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range res.Rows {
			out = append(out, strings.Trim(strings.Join(strings.Fields(strings.Trim(strings.ReplaceAll(jsonText(r), ",", " "), "[]")), ","), `"`))
		}
		return strings.Join(out, ";")
	}

	t.Run("sql", func(t *testing.T) {
		her := `SELECT DISTINCT month FROM %s WHERE teacher_key = '` + key + `' ORDER BY month`
		school := `SELECT DISTINCT month FROM %s WHERE school_code = '` + m.School + `' ORDER BY month`
		for _, c := range []struct{ q, table, district, want string }{
			{her, "teacher_category_hours", "东湖区", `2025-05;2025-06`},
			{her, "teacher_category_hours", "西山区", `2025-07`},
			{her, "teacher_category_hours", "南城区", ``},
			{her, "teacher_progress_monthly", "东湖区", `2025-05;2025-06`},
			{her, "teacher_progress_monthly", "西山区", `2025-07`},
			{her, "teacher_points", "西山区", `2025-07`},
			{school, "roster", "南城区", `2025-05;2025-06`},
			{school, "roster", "西山区", `2025-07`},
			{school, "school_refs", "西山区", `2025-07`},
			{school, "effective_batches", "南城区", `2025-05;2025-06`},
		} {
			q := strings.Replace(c.q, "%s", c.table, 1)
			if got := strings.ReplaceAll(sql(c.district, q), `"`, ""); got != c.want {
				t.Errorf("%s %s: %q, want %q", c.district, c.table, got, c.want)
			}
		}
		// 东湖区's free text in an assessment's 能力点 cell is its own
		for d, want := range map[string]string{"东湖区": "1", "南城区": "0", "西山区": "0"} {
			if got := sql(d, `SELECT count(*) FROM ability_refs WHERE ability_given LIKE '东湖区内部备注%'`); got != want {
				t.Errorf("%s reads %s rows of 东湖区's note", d, got)
			}
		}
	})

	t.Run("pages", func(t *testing.T) {
		for _, c := range []struct {
			district, path, want, not string
		}{
			{"东湖区", "/api/school/3601000001?month=2025-06", m.Teacher, ""},
			{"东湖区", "/api/school/3601000001?month=2025-07", "", m.Teacher},
			{"西山区", "/api/school/3602000003?month=2025-07", m.Teacher, ""},
			{"南城区", "/api/school/" + m.School + "?month=2025-06", m.SchoolTeacher, ""},
			{"南城区", "/api/school/" + m.School + "?month=2025-07", "", m.SchoolTeacher},
			{"西山区", "/api/school/" + m.School + "?month=2025-06", "", m.SchoolTeacher},
			{"西山区", "/api/school/" + m.School + "?month=2025-07", m.SchoolTeacher, ""},
			{"南城区", "/api/schools?month=2025-06", m.SchoolName, ""},
			{"南城区", "/api/schools?month=2025-07", "", m.SchoolName},
			{"西山区", "/api/schools?month=2025-06", "", m.SchoolName},
			{"西山区", "/api/schools?month=2025-07", m.SchoolName, ""},
			{m.School, "/api/school/" + m.School + "?month=2025-06", m.SchoolTeacher, ""},
			{m.School, "/api/school/" + m.School + "?month=2025-07", m.SchoolTeacher, ""},
			{m.School, "/api/schools?month=2025-05", m.SchoolName, ""},
		} {
			code, body := get(c.district, c.path)
			if c.want != "" && (code != 200 || !strings.Contains(body, c.want)) {
				t.Errorf("%s %s: %d, want %s in it", c.district, c.path, code, c.want)
			}
			if c.not != "" && strings.Contains(body, c.not) {
				t.Errorf("%s %s: %d shows %s", c.district, c.path, code, c.not)
			}
		}
	})

	t.Run("downloads", func(t *testing.T) {
		for _, c := range []struct {
			district, path string
			want, not      []string
		}{
			{"东湖区", "/download/school_teachers.csv?school=3601000001&month=2025-06", []string{m.Teacher}, nil},
			{"西山区", "/download/school_teachers.xlsx?school=3602000003&month=2025-07", []string{m.Teacher}, nil},
			{"西山区", "/download/monthly.xlsx?month=2025-07", []string{m.SchoolName}, nil},
			{"西山区", "/download/monthly.xlsx?month=2025-06", nil, []string{m.Teacher, m.SchoolName}},
			{"南城区", "/download/monthly.xlsx?month=2025-06", []string{m.SchoolName}, nil},
			{"南城区", "/download/monthly.xlsx?month=2025-07", nil, []string{m.SchoolName}},
			{"南城区", "/download/annual.xlsx", nil, []string{m.SchoolName}},
			{"西山区", "/download/annual.xlsx", []string{m.SchoolName}, nil},
			{"东湖区", "/download/school_teachers.csv?school=3601000001&month=2025-07", nil, []string{m.Teacher}},
			{m.School, "/download/school_teachers.csv?school=" + m.School + "&month=2025-06", []string{m.SchoolTeacher}, nil},
			{m.School, "/download/monthly.xlsx?month=2025-05", []string{m.SchoolName}, nil},
		} {
			code, body := get(c.district, c.path)
			if code != 200 {
				t.Errorf("%s %s: %d %s", c.district, c.path, code, body)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s %s: %s missing", c.district, c.path, w)
				}
			}
			for _, n := range c.not {
				if strings.Contains(body, n) {
					t.Errorf("%s %s: shows %s", c.district, c.path, n)
				}
			}
		}
	})
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// An upload's refusals are its uploader's: a district that uploads another's roster sees
// its own refused rows, and the other district neither the rows nor the file's name. Bytes
// another scope loaded are answered without that batch's id, date or counts.
func TestUploadAnswersAreTheUploaders(t *testing.T) {
	e := newEnv(t, Config{})
	east := e.client("east", auth.User{Role: auth.RoleDistrict, District: "东湖区"})
	south := e.client("south", auth.User{Role: auth.RoleDistrict, District: "南城区"})
	upload := func(c *http.Client, name string, data []byte) map[string]any {
		t.Helper()
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("files", name)
		fw.Write(data)
		mw.Close()
		resp, body := do(t, c, http.MethodPost, e.ts.URL+"/api/ingest", &buf, mw.FormDataContentType())
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, body)
		}
		var out struct{ Files []map[string]any }
		if err := json.Unmarshal(body, &out); err != nil || len(out.Files) != 1 {
			t.Fatalf("%s: %s", name, body)
		}
		return out.Files[0]
	}
	// 南城区's roster, as 东湖区 uploads it by mistake (another date: other bytes)
	roster, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo", "南城区_教师名单_2025-06-30.csv"))
	if err != nil {
		t.Fatal(err)
	}
	const name = "南城区_教师名单_误传_2025-07-31.csv"
	mistaken := append(append([]byte(nil), roster...), '\n') // not the bytes the demo loaded
	res := upload(east, name, mistaken)
	if res["accepted"].(float64) != 0 || res["rejected"].(float64) < 60 {
		t.Fatalf("东湖区 uploading 南城区's roster: %v", res)
	}
	_, q := do(t, south, http.MethodGet, e.ts.URL+"/api/quality", nil, "")
	if strings.Contains(string(q), "误传") {
		t.Errorf("南城区's 数据质量 shows 东湖区's upload: %.300s", q)
	}
	for _, c := range []*http.Client{south} {
		b, _ := json.Marshal(map[string]string{"sql": `SELECT (SELECT count(*) FROM rejects r JOIN batches b USING (batch_id) WHERE b.file_name LIKE '%误传%') + (SELECT count(*) FROM batches WHERE file_name LIKE '%误传%')`})
		_, body := do(t, c, http.MethodPost, e.ts.URL+"/api/sql", bytes.NewReader(b), "application/json")
		if !strings.Contains(string(body), `[[0]]`) {
			t.Errorf("南城区's SQL reads 东湖区's upload: %s", body)
		}
	}
	_, q = do(t, east, http.MethodGet, e.ts.URL+"/api/quality", nil, "")
	if !strings.Contains(string(q), "误传") {
		t.Errorf("东湖区's 数据质量 lacks its own upload: %.300s", q)
	}

	// the same bytes again: 东湖区 is told its batch; 南城区, whose roster it is, loads them:
	// another district's mistaken upload does not block the owner's
	again := upload(east, "again.csv", mistaken)
	if again["status"] != "already_loaded" || again["batch"].(float64) == 0 || again["as_of"] != "2025-07-31" {
		t.Errorf("东湖区 repeating its upload: %v", again)
	}
	own := upload(south, name, mistaken)
	if own["status"] != "loaded" || own["accepted"].(float64) < 60 || own["rejected"].(float64) != 0 {
		t.Errorf("南城区 loading its own roster after 东湖区's mistake: %v", own)
	}
	// a file the project office loaded with 南城区's rows: its details are 南城区's to see
	if own := upload(south, "mine.csv", roster); own["status"] != "already_loaded" || own["batch"].(float64) == 0 || own["as_of"] != "2025-06-30" {
		t.Errorf("南城区 repeating its own roster: %v", own)
	}
	// 西山区 loading the same bytes is told only that they are loaded: its scope holds none
	// of the batches
	other := upload(e.client("west", auth.User{Role: auth.RoleDistrict, District: "西山区"}), "x.csv", roster)
	if other["status"] != "already_loaded" || other["batch"].(float64) != 0 || other["as_of"] != "" || other["kind"] != "" {
		t.Errorf("西山区 repeating the office's 南城区 roster is told: %v", other)
	}
}

// An upload is checked against the district that holds each school in the file's month:
// after a school moves, its new district cannot rewrite the months it was the old one's,
// and the old district can still correct them. And a district's roster cannot take back a
// teacher another district's roster lists in the same month.
func TestUploadsFollowTheMonth(t *testing.T) {
	wh, l, m := testkit.DemoMoved(t, "../../testdata", filepath.Join(t.TempDir(), "w.duckdb"), warehouse.Options{Locked: true})
	e := serveWarehouse(t, Config{}, wh, l)
	upload := func(c *http.Client, name, body string) map[string]any {
		t.Helper()
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("files", name)
		fw.Write([]byte(body))
		mw.Close()
		resp, out := do(t, c, http.MethodPost, e.ts.URL+"/api/ingest", &buf, mw.FormDataContentType())
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, out)
		}
		var res struct{ Files []map[string]any }
		if err := json.Unmarshal(out, &res); err != nil || len(res.Files) != 1 {
			t.Fatalf("%s: %s", name, out)
		}
		return res.Files[0]
	}
	west := e.client("west", auth.User{Role: auth.RoleDistrict, District: m.SchoolTo})
	south := e.client("south", auth.User{Role: auth.RoleDistrict, District: m.SchoolFrom})
	east := e.client("east", auth.User{Role: auth.RoleDistrict, District: m.TeacherFrom})
	const header = "姓名,身份证号,学校代码,任教学科,是否专任教师\n"
	// each file its own bytes (the same bytes are one load, whatever the file's name)
	ids := []string{"110101198001010117", "110101198001010133", "11010119800101015X", "110101198001010176"}
	for i, c := range []struct {
		who    string
		c      *http.Client
		file   string
		loaded float64
	}{
		{"西山区, June", west, "名单_2025-06-30.csv", 0},
		{"南城区, June", south, "名单_2025-06-30.csv", 1},
		{"西山区, July", west, "名单_2025-07-31.csv", 1},
		{"南城区, July", south, "名单_2025-07-31.csv", 0},
	} {
		res := upload(c.c, c.file, header+"张三,"+ids[i]+","+m.School+",语文,是\n")
		if res["accepted"] != c.loaded {
			t.Errorf("%s, a roster of %s: %v", c.who, m.School, res)
		}
	}
	// 东湖区 lists 韦娟志 again in July, at its own school, after 西山区's July roster listed her
	her := header + m.Teacher + "," + m.TeacherID + ",3601000001,地理,是\n" +
		"李四,110101198001010037,3601000001,数学,是\n"
	res := upload(east, "东湖区_教师名单_补_2025-07-31.csv", her)
	rejects, _ := json.Marshal(res["rejects"])
	if res["accepted"] != 1.0 || res["rejected"] != 1.0 || !strings.Contains(string(rejects), "其他区县") {
		t.Fatalf("东湖区 claiming 西山区's teacher in July: %v", res)
	}
	if d := e.one(`SELECT district FROM roster WHERE month = '2025-07' AND name = ?`, m.Teacher); d != m.TeacherTo {
		t.Errorf("in July %s is %s's", m.Teacher, d)
	}
	// in June, when 西山区 lists her nowhere, 东湖区 may correct its roster with her
	june := upload(east, "东湖区_教师名单_补_2025-06-30.csv", her+"王五,110101198001010096,3601000001,英语,是\n")
	if june["accepted"] != 3.0 {
		t.Errorf("东湖区's June roster with her: %v", june)
	}
}
