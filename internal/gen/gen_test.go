package gen

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSameSeedSameFiles(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	sa, err := Generate(Config{Out: a, Districts: 3, Teachers: 200, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(Config{Out: b, Districts: 3, Teachers: 200, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	csvs := 0
	for _, f := range sa.Files {
		if !strings.HasSuffix(f.Path, ".csv") { // XLSX carries a creation time
			continue
		}
		csvs++
		x, _ := os.ReadFile(f.Path)
		y, _ := os.ReadFile(filepath.Join(b, filepath.Base(f.Path)))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with one seed", filepath.Base(f.Path))
		}
	}
	// 3 districts × 2 months × (roster except 西山区's XLSX, assessments) + 东湖区's and
	// 南城区's hours detail in May, 东湖区's in June (南城区 is the district still on May).
	if csvs != 3*2*2-2+3 || sa.Teachers != 200 {
		t.Fatalf("%d CSV files, %d teachers", csvs, sa.Teachers)
	}
}
