package models

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tisheng/ingest"
)

// TestNoAnalystTableHasBirthDate: the stored mask 前6位********后4位 hides exactly the ID's
// birth digits, so no table an analyst can read may hold a birth date, by name or by value,
// not even a rejected row's. Ages and age bands stay.
func TestNoAnalystTableHasBirthDate(t *testing.T) {
	c := newCity(t)
	c.build()
	// A July roster with 出生日期 (the city's IDs are all born 1980-01-01), one row refused.
	body := "姓名,身份证号,学校名称,是否专任教师,出生日期\n" +
		c.person("T1", "东湖小学") + ",是,1980-01-01\n" +
		c.person("T2", "东湖小学") + ",是,1980年1月1日\n" +
		"坏号," + c.id("T1")[:17] + "0,东湖小学,是,1980-01-01\n"
	p := filepath.Join(c.dir, "roster_2025-07-31.csv")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := c.l.LoadFile(c.ctx, p, ingest.Options{}); res.Status != ingest.StatusLoaded || res.Accepted != 2 || res.Rejected != 1 {
		t.Fatalf("%+v", res)
	}
	c.refresh("national")
	d, err := Dictionary()
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range builtin(t).AnalystTables() {
		rows, err := c.wh.DB.QueryContext(c.ctx, `SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = 'main' AND table_name = ?`, table)
		if err != nil {
			t.Fatal(err)
		}
		var cols, types []string
		for rows.Next() {
			var col, typ string
			rows.Scan(&col, &typ)
			cols, types = append(cols, col), append(types, typ)
		}
		rows.Close()
		for i, col := range cols {
			label, _ := builtin(t).Describe(d, table, col)
			if strings.Contains(col, "birth") || strings.Contains(label.Label, "出生") {
				t.Errorf("%s.%s (%s) is a birth date", table, col, label.Label)
			}
			var q string
			switch types[i] {
			case "DATE":
				q = `SELECT count(*) FROM "` + table + `" WHERE "` + col + `" = DATE '1980-01-01'`
			case "VARCHAR":
				q = `SELECT count(*) FROM "` + table + `" WHERE "` + col + `" LIKE '%1980-01-01%' OR "` + col + `" LIKE '%19800101%' OR "` + col + `" LIKE '%1980年1月1日%'`
			default:
				continue
			}
			var n sql.NullInt64
			if err := c.wh.DB.QueryRowContext(c.ctx, q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n.Int64 > 0 {
				t.Errorf("%s.%s holds the birth date in %d rows", table, col, n.Int64)
			}
		}
	}
	// What the roster keeps instead, worked by hand: born 1980, as of 2025-07-31.
	if got := c.one(`SELECT age || '|' || age_band FROM teacher_progress_monthly WHERE month = '2025-07' AND name = 'T1'`); got != "45|40-49岁" {
		t.Fatalf("T1 age in July: %s", got)
	}
}
