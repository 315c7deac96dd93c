package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"tisheng/ingest"
	"tisheng/internal/gen"
)

func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg gen.Config
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Out, "out", "", "directory to write the exports into")
	fs.IntVar(&cfg.Districts, "districts", 3, "districts")
	fs.IntVar(&cfg.Teachers, "teachers", 1200, "teachers in all (up to a province's 1,000,000)")
	fs.Int64Var(&cfg.Seed, "seed", 1, "random seed: the same seed gives the same files")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.Out == "" {
		return errors.New("--out is required")
	}
	sum, err := gen.Generate(cfg)
	if err != nil {
		return err
	}
	for _, f := range sum.Files {
		fmt.Fprintf(stdout, "%-12s %s\n", f.Kind, f.Path)
	}
	fmt.Fprintf(stdout, "%d files: %d schools, %d teachers, %d hours rows\n", len(sum.Files), sum.Schools, sum.Teachers, sum.HoursRows)
	return nil
}

// runDemo generates a demo city into DIR, loads it into DIR/warehouse.duckdb and refreshes
// the models: what `make run` does.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "demo", "directory for the exports and the warehouse")
	teachers := fs.Int("teachers", 1200, "teachers in all")
	districts := fs.Int("districts", 3, "districts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	exports := filepath.Join(*dir, "exports")
	if err := os.RemoveAll(*dir); err != nil {
		return err
	}
	sum, err := gen.Generate(gen.Config{Out: exports, Districts: *districts, Teachers: *teachers, Seed: 1})
	if err != nil {
		return err
	}
	db := filepath.Join(*dir, "warehouse.duckdb")
	wh, loader, err := openLoader(ctx, db, newLogger(stderr, false))
	if err != nil {
		return err
	}
	defer wh.Close()
	fmt.Fprintf(stdout, "demo: %d schools, %d teachers, %d export files in %s\n", sum.Schools, sum.Teachers, len(sum.Files), exports)
	failed := 0
	// Files are written month by month in dependency order; load them in that order.
	for _, f := range sum.Files {
		r := loader.LoadFile(ctx, f.Path, ingest.Options{School: f.School})
		printResult(stdout, r)
		if r.Status == ingest.StatusFailed {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d files failed to load", failed)
	}
	if err := refresh(ctx, wh, "national", false, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "warehouse: %s\n", db)
	return nil
}
