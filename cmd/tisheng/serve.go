package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"tisheng/ingest"
	"tisheng/internal/server"
	"tisheng/internal/warehouse"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg server.Config
	const synopsis = "tisheng serve --db 文件 [--addr 127.0.0.1:8080] [--max-upload 字节数] [--sql-timeout 30s] [--sql-rows 10000]"
	fs := newFlags("serve")
	db := fs.String("db", "", "仓库`文件`")
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "监听的 `地址:端口`")
	fs.Int64Var(&cfg.MaxUpload, "max-upload", 1<<30, "一次上传最多的 `字节数`")
	fs.DurationVar(&cfg.SQLTimeout, "sql-timeout", 30*time.Second, "SQL 查询的 `时限`")
	fs.IntVar(&cfg.SQLRowLimit, "sql-rows", 10000, "SQL 查询最多返回的 `行数`")
	verbose := fs.Bool("v", true, "记录每个请求的日志")
	if _, err := parseFlags(fs, synopsis, args, stdout, stderr); err != nil {
		return err
	}
	if *db == "" {
		return usagef("需要 --db 仓库文件")
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
	fmt.Fprintf(stdout, "tisheng：仓库 %s 已在 http://%s/ 提供服务\n", db, cfg.Addr)
	return srv.Run(ctx)
}
