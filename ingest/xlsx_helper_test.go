package ingest

import (
	"testing"

	"github.com/xuri/excelize/v2"
)

// writeXLSX writes rows to the first sheet; nil rows are blank.
func writeXLSX(t *testing.T, path string, rows [][]any) {
	t.Helper()
	f := excelize.NewFile()
	for i, row := range rows {
		for j, v := range row {
			ref, _ := excelize.CoordinatesToCellName(j+1, i+1)
			if err := f.SetCellValue("Sheet1", ref, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(rows) > 0 && len(rows[0]) == 1 && len(rows) > 1 && len(rows[1]) > 1 {
		end, _ := excelize.CoordinatesToCellName(len(rows[1]), 1)
		f.MergeCell("Sheet1", "A1", end)
	}
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
}
