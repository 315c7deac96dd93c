package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"tisheng/ingest"
)

type ingestConfig struct {
	db        string
	asOf      string
	school    string
	kind      string
	catalogue string
	json      bool
	verbose   bool
	files     []string
}

func parseIngestFlags(args []string, stderr io.Writer) (ingestConfig, error) {
	var c ingestConfig
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.db, "db", "", "warehouse file (created if missing)")
	fs.StringVar(&c.asOf, "as-of", "", "data as-of date YYYY-MM-DD (default: title row, then file name)")
	fs.StringVar(&c.school, "school", "", "school code of a 研修考核 file, or of a file with no school column")
	fs.StringVar(&c.kind, "kind", "", "export kind, instead of detecting it from the header")
	fs.StringVar(&c.catalogue, "catalogue", "", "catalogue name: of a catalogue file, or to resolve assessments against (default national)")
	fs.BoolVar(&c.json, "json", false, "one JSON object per file")
	fs.BoolVar(&c.verbose, "v", false, "log each load")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.files = fs.Args()
	if c.db == "" {
		return c, fmt.Errorf("--db is required")
	}
	if len(c.files) == 0 {
		return c, fmt.Errorf("no files given")
	}
	return c, nil
}

func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseIngestFlags(args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "tisheng ingest: %v\n", err)
		return 2
	}
	var opts ingest.Options
	if cfg.asOf != "" {
		t, err := time.Parse("2006-01-02", cfg.asOf)
		if err != nil {
			fmt.Fprintf(stderr, "tisheng ingest: --as-of %q is not YYYY-MM-DD\n", cfg.asOf)
			return 2
		}
		opts.AsOf = t
	}
	if cfg.kind != "" {
		if opts.Kind, opts.Shape, err = ingest.ParseKind(cfg.kind); err != nil {
			fmt.Fprintf(stderr, "tisheng ingest: %v\n", err)
			return 2
		}
	}
	opts.School, opts.Catalogue = cfg.school, cfg.catalogue

	wh, loader, err := openLoader(ctx, cfg.db, newLogger(stderr, cfg.verbose))
	if err != nil {
		fmt.Fprintf(stderr, "tisheng ingest: %v\n", err)
		return 1
	}
	defer wh.Close()
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	status := 0
	loader.LoadFiles(ctx, cfg.files, opts, func(r ingest.Result) {
		if r.Status == ingest.StatusFailed {
			status = 1
		}
		if cfg.json {
			_ = enc.Encode(r)
			return
		}
		printResult(stdout, r)
	})
	return status
}

// printResult writes the one-line summary of a file, and its first rejects below it.
func printResult(w io.Writer, r ingest.Result) {
	switch r.Status {
	case ingest.StatusFailed:
		fmt.Fprintf(w, "failed          %s\n  %s\n", r.File, r.Error)
		return
	case ingest.StatusAlreadyLoaded:
		fmt.Fprintf(w, "already_loaded  %-11s as-of %-10s accepted %7d  rejected %6d  batch %d  %s\n",
			r.Kind, r.AsOf, r.Accepted, r.Rejected, r.Batch, r.File)
		return
	}
	fmt.Fprintf(w, "loaded          %-11s as-of %-10s accepted %7d  rejected %6d  batch %d  %s\n",
		r.Kind, orDash(r.AsOf), r.Accepted, r.Rejected, r.Batch, r.File)
	for i, rj := range r.Rejects {
		if i == 5 {
			fmt.Fprintf(w, "  … 共 %d 行被拒，详见 rejects 表（batch_id = %d）\n", r.Rejected, r.Batch)
			break
		}
		col := ""
		if rj.Column != "" {
			col = "「" + rj.Column + "」"
		}
		fmt.Fprintf(w, "  第%d行%s：%s\n", rj.Row, col, rj.Reason)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
