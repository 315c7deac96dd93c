package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"tisheng/ingest"
	"tisheng/internal/server"
	"tisheng/internal/warehouse"
	"tisheng/queries"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg server.Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "warehouse file")
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "listen address")
	fs.Int64Var(&cfg.MaxUpload, "max-upload", 1<<30, "bytes per upload request")
	fs.DurationVar(&cfg.SQLTimeout, "sql-timeout", 30*time.Second, "ad-hoc SQL time limit")
	fs.IntVar(&cfg.SQLRowLimit, "sql-rows", 10000, "ad-hoc SQL row limit")
	fs.Int64Var(&cfg.SQLBytes, "sql-bytes", queries.DefaultByteLimit, "ad-hoc SQL result size limit in bytes")
	fs.Int64Var(&cfg.SQLMemory, "sql-memory", queries.DefaultMemory, "ad-hoc SQL memory ceiling in bytes (growth of the process while the query runs)")
	fs.IntVar(&cfg.MaxSQL, "max-sql", server.DefaultMaxSQL, "ad-hoc queries running at once")
	fs.IntVar(&cfg.MaxUploads, "max-uploads", server.DefaultMaxUploads, "uploads accepted at once")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", server.DefaultWriteTimeout, "time to write one response")
	maxMem := fs.String("max-memory", defaultMaxMemory(), "hard memory ceiling of the process (e.g. 6GB; none): past it an allocation fails the query, not the server (Linux)")
	verbose := fs.Bool("v", true, "log requests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	n, err := parseBytes(*maxMem)
	if err != nil {
		return err
	}
	if err := setMaxMemory(n); err != nil {
		return fmt.Errorf("max-memory: %w", err)
	}
	if *db == "" {
		return errors.New("--db is required")
	}
	return serve(ctx, cfg, *db, stdout, stderr, *verbose)
}

// serve opens the warehouse locked (no file access from SQL, configuration fixed) and serves it.
func serve(ctx context.Context, cfg server.Config, db string, stdout, stderr io.Writer, verbose bool) error {
	wh, err := warehouse.OpenWith(ctx, db, warehouse.Options{Locked: true})
	if err != nil {
		return err
	}
	defer wh.Close()
	key, err := ingest.LoadKey(db)
	if err != nil {
		return err
	}
	log := newLogger(stderr, verbose)
	loader, err := ingest.NewLoader(ctx, wh, key, log)
	if err != nil {
		return err
	}
	srv, err := server.New(cfg, wh, loader, log)
	if err != nil {
		return err
	}
	// Models older than the batches (a server killed after a load committed and before its
	// refresh finished) are rebuilt first; pages answer from the old state meanwhile.
	go func() {
		refreshed, err := srv.RefreshIfOutdated(ctx)
		switch {
		case err != nil:
			log.Error("refresh at start failed; the models are older than the loaded files", "err", err)
		case refreshed:
			log.Warn("the models were older than the loaded files: refreshed at start")
		}
	}()
	fmt.Fprintf(stdout, "tisheng: serving %s at http://%s/\n", db, cfg.Addr)
	return srv.Run(ctx)
}
