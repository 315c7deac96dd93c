package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"tisheng/internal/warehouse"
	"tisheng/models"
)

func runRefresh(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("refresh", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "warehouse file")
	profile := fs.String("profile", "", "national, xiamen, baoji, guangdong or a PATH.json (default: the last one used, else national)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" {
		return errors.New("--db is required")
	}
	wh, err := warehouse.OpenExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer wh.Close()
	return refresh(ctx, wh, *profile, stdout)
}

// refresh picks the profile (named, else the recorded one, else national), refreshes and
// prints what it built.
func refresh(ctx context.Context, wh *warehouse.Warehouse, name string, stdout io.Writer) error {
	var p models.Profile
	var err error
	switch {
	case name != "":
		p, err = models.LoadProfile(name)
	default:
		p, err = models.CurrentProfile(ctx, wh.DB)
		if errors.Is(err, models.ErrNoProfile) {
			p, err = models.LoadProfile("national")
		}
	}
	if err != nil {
		return err
	}
	rep, err := models.Refresh(ctx, wh, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "profile %s（%s）\n", p.Name, p.Label)
	for _, b := range rep.Built {
		fmt.Fprintf(stdout, "  %-26s %10d rows %7d ms\n", b.Table, b.Rows, b.Millis)
	}
	for _, c := range rep.Checked {
		fmt.Fprintf(stdout, "  test %-21s %10s      %7d ms\n", c.Table, "passed", c.Millis)
	}
	fmt.Fprintf(stdout, "data tests: %d passed; refresh took %d ms\n", rep.Tests, rep.Millis)
	return nil
}
