package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"tisheng/ingest"
	"tisheng/internal/auth"
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
	hosts := fs.String("allowed-hosts", "", "host names the server answers to, comma-separated (IP addresses and localhost always)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate (PEM) for HTTPS")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "TLS private key (PEM) for HTTPS")
	fs.IntVar(&cfg.Scopes.Max, "scope-cache", 8, "district and school databases kept in memory at once")
	verbose := fs.Bool("v", true, "log requests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			cfg.AllowedHosts = append(cfg.AllowedHosts, h)
		}
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return errors.New("--tls-cert 与 --tls-key 须同时给出")
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
	accounts := auth.NewStore(wh.DB, auth.DefaultPolicy)
	users, err := accounts.Users(ctx)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		log.Warn("no accounts yet: nobody can log in; create one with `tisheng user add --db " + db + " --name NAME --role admin` (stop the server first)")
	}
	srv, err := server.New(cfg, wh, loader, accounts, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	} else if !loopback(cfg.Addr) {
		log.Warn("serving personal data over plain HTTP on a non-loopback address: passwords and pages cross the network unencrypted; use --tls-cert and --tls-key", "addr", cfg.Addr)
	}
	fmt.Fprintf(stdout, "tisheng: serving %s at %s://%s/\n", db, scheme, cfg.Addr)
	return srv.Run(ctx)
}

// loopback reports whether addr listens on the loopback interface only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
