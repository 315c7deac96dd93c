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
	verbose := fs.Bool("v", true, "log requests")
	if err := fs.Parse(args); err != nil {
		return err
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
	fmt.Fprintf(stdout, "tisheng: serving %s at http://%s/\n", db, cfg.Addr)
	return srv.Run(ctx)
}
