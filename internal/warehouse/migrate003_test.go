package warehouse

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duckdb/duckdb-go/v2"
)

// TestMigration003KeepsAgesDropsBirthDates upgrades a warehouse made before 003 and checks
// that every roster row keeps an age (as-of year minus birth year, else the file's age) and
// its band, and that no birth date is left.
func TestMigration003KeepsAgesDropsBirthDates(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "old.duckdb")
	c, err := duckdb.NewConnector(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	schema, err := migrationFS.ReadFile("migrations/001_schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)`,
		string(schema),
		`INSERT INTO schema_migrations VALUES (1, '001_schema.sql', current_timestamp::TIMESTAMP)`,
		`INSERT INTO batches VALUES (7, 'r.csv', 'h', 'teachers', NULL, 'csv', 'utf-8', NULL, DATE '2025-06-30', 'file_name', NULL, NULL, 4, 4, 0, TIMESTAMP '2025-07-01 00:00:00', 'loaded')`,
		`INSERT INTO raw_teachers (batch_id, row_no, teacher_key, id_masked, name, school_code, gender, birth_date, age) VALUES
			(7, 2, 'k1', '360102********0017', '甲', 'S1', '男', DATE '1980-05-01', NULL),
			(7, 3, 'k2', '360102********0028', '乙', 'S1', '女', NULL, 29),
			(7, 4, 'k3', '360102********0039', '丙', 'S1', NULL, DATE '1975-12-31', 49),
			(7, 5, 'k4', '360102********0040', '丁', 'S1', NULL, NULL, NULL)`,
		// Model tables an earlier refresh built, with the birth date in them.
		`CREATE TABLE roster AS SELECT '2025-06' AS month, teacher_key, birth_date, age FROM raw_teachers`,
		`CREATE TABLE teacher_progress_monthly AS SELECT * FROM roster`,
		`CREATE TABLE teacher_progress AS SELECT * FROM roster`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	c.Close()

	w, err := Open(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var n int
	w.DB.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.columns WHERE column_name LIKE '%birth%'`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d birth columns left", n)
	}
	w.DB.QueryRowContext(ctx, `SELECT count(*) FROM teacher_progress`).Scan(&n)
	if n != 4 {
		t.Fatalf("teacher_progress has %d rows, want its 4 kept", n)
	}
	rows, err := w.DB.QueryContext(ctx, `SELECT name, coalesce(age::VARCHAR, '-'), coalesce(age_band, '-'), coalesce(gender, '-') FROM raw_teachers ORDER BY row_no`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var a, b, c, d string
		rows.Scan(&a, &b, &c, &d)
		got = append(got, a+"|"+b+"|"+c+"|"+d)
	}
	// By hand: 2025 - 1980 = 45; the file's 29 kept; 2025 - 1975 = 50 (a whole-year age,
	// not the 49 the file gave at 2025-06-30); nothing known, nothing made up.
	want := "甲|45|40-49岁|男,乙|29|30岁以下|女,丙|50|50岁及以上|-,丁|-|-|-"
	if strings.Join(got, ",") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, ","), want)
	}
}
