package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"tisheng/internal/warehouse"
	"tisheng/queries"
	"tisheng/reports"
)

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: tisheng report monthly|school|annual --db FILE [--month YYYY-MM] [--district D] [--school CODE] --out FILE.xlsx")
	}
	kind := args[0]
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "warehouse file")
	month := fs.String("month", "", "report month YYYY-MM (default: the latest)")
	district := fs.String("district", "", "district (default: all)")
	school := fs.String("school", "", "school code (the school report)")
	out := fs.String("out", "", "the .xlsx file to write (default: the report's own name)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *db == "" {
		return errors.New("--db is required")
	}
	wh, _, rp, err := openReports(ctx, *db)
	if err != nil {
		return err
	}
	defer wh.Close()
	p := queries.Params{Month: *month, District: *district, School: *school}
	var wb *reports.Workbook
	switch kind {
	case "monthly":
		wb, err = rp.Monthly(ctx, p)
	case "school":
		if *school == "" {
			return errors.New("report school needs --school CODE")
		}
		wb, err = rp.SchoolRoster(ctx, p)
	case "annual":
		wb, err = rp.Annual(ctx, p)
	default:
		return fmt.Errorf("unknown report %q (monthly, school, annual)", kind)
	}
	if err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = wb.FileName
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := wb.Write(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", path)
	return nil
}

// openReports opens a warehouse read-only and locked, with its query runner and reports.
func openReports(ctx context.Context, db string) (*warehouse.Warehouse, *queries.Runner, *reports.Reports, error) {
	wh, err := warehouse.OpenReadOnly(ctx, db)
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := queries.NewRunner(wh.DB)
	if err != nil {
		wh.Close()
		return nil, nil, nil, err
	}
	rp, err := reports.New(r)
	if err != nil {
		wh.Close()
		return nil, nil, nil, err
	}
	return wh, r, rp, nil
}
