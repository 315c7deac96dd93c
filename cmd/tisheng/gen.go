package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"tisheng/ingest"
	"tisheng/internal/auth"
	"tisheng/internal/gen"
	"tisheng/internal/warehouse"
	"tisheng/queries"
)

func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg gen.Config
	const synopsis = "tisheng gen --out 目录 [--districts N] [--teachers N] [--seed N]"
	fs := newFlags("gen")
	fs.StringVar(&cfg.Out, "out", "", "写入导出文件的 `目录`")
	fs.IntVar(&cfg.Districts, "districts", 3, fmt.Sprintf("区县数（1 到 %d）", gen.MaxDistricts))
	fs.IntVar(&cfg.Teachers, "teachers", 1200, fmt.Sprintf("教师总数（每个区县至少 2 人，最多 %d 人，一个省的规模）", gen.MaxTeachers))
	fs.Int64Var(&cfg.Seed, "seed", 1, "随机种子：同一种子生成同样的文件")
	rest, err := parseFlags(fs, synopsis, args, stdout, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("多余的参数：%s", strings.Join(rest, " "))
	}
	if err := cfg.Validate(); err != nil {
		return usageError{strings.TrimPrefix(err.Error(), "gen: ")}
	}
	sum, err := gen.Generate(cfg)
	if err != nil {
		return err
	}
	for _, f := range sum.Files {
		fmt.Fprintf(stdout, "%s  %s\n", padRight(queries.KindLabel(f.Kind), 14), f.Path)
	}
	fmt.Fprintf(stdout, "共 %d 个文件：%d 所学校，%d 名教师，%d 行学时\n", len(sum.Files), sum.Schools, sum.Teachers, sum.HoursRows)
	return nil
}

// runDemo generates a demo city into DIR, loads it into DIR/warehouse.duckdb and refreshes
// the models: what `make run` does.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "tisheng demo [--dir 目录] [--teachers N] [--districts N]"
	fs := newFlags("demo")
	dir := fs.String("dir", "demo", "放导出文件和仓库的 `目录`（必须是空目录，或以前 demo 建的目录）")
	teachers := fs.Int("teachers", 1200, "教师总数")
	districts := fs.Int("districts", 3, "区县数")
	addr := fs.String("addr", "127.0.0.1:8080", "make run 提供服务的`地址`（与演示账号一起打印）")
	rest, err := parseFlags(fs, synopsis, args, stdout, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("多余的参数：%s", strings.Join(rest, " "))
	}
	exports := filepath.Join(*dir, "exports")
	cfg := gen.Config{Out: exports, Districts: *districts, Teachers: *teachers, Seed: 1}
	if err := cfg.Validate(); err != nil {
		return usageError{strings.TrimPrefix(err.Error(), "gen: ")}
	}
	if err := resetDemoDir(*dir); err != nil {
		return err
	}
	sum, err := gen.Generate(cfg)
	if err != nil {
		return err
	}
	db := filepath.Join(*dir, "warehouse.duckdb")
	wh, loader, err := openLoader(ctx, db, newLogger(stderr, false))
	if err != nil {
		return err
	}
	defer wh.Close()
	fmt.Fprintf(stdout, "演示数据：%d 所学校，%d 名教师，%d 个导出文件，在 %s\n", sum.Schools, sum.Teachers, len(sum.Files), exports)
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
		return fmt.Errorf("%d 个文件导入失败", failed)
	}
	if err := refresh(ctx, wh, "national", false, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "仓库：%s\n", db)
	return demoUsers(ctx, wh, *addr, stdout)
}

// demoUsers creates one account of each role over the demo city and prints how to log in.
func demoUsers(ctx context.Context, wh *warehouse.Warehouse, addr string, stdout io.Writer) error {
	var district, school, schoolName string
	err := wh.DB.QueryRowContext(ctx, `SELECT district, school_code, school_name FROM school_gate ORDER BY district, school_code LIMIT 1`).Scan(&district, &school, &schoolName)
	if err != nil {
		return fmt.Errorf("demo users: %w", err)
	}
	st := auth.NewStore(wh.DB, auth.DefaultPolicy)
	users := []auth.User{
		{Name: "gongchengban", Role: auth.RoleAdmin},
		{Name: "quxian", Role: auth.RoleDistrict, District: district},
		{Name: "xuexiao", Role: auth.RoleSchool, School: school},
		{Name: "lingdao", Role: auth.RoleLeader},
	}
	fmt.Fprintf(stdout, "\n演示账号（登录 http://%s/login）：\n", addr)
	for _, u := range users {
		pw := auth.GeneratePassword()
		if err := st.AddUser(ctx, u, pw); err != nil {
			return fmt.Errorf("demo users: %w", err)
		}
		scope := u.Scope().String()
		if u.School != "" {
			scope += "（" + schoolName + "）"
		}
		fmt.Fprintf(stdout, "  %s %s 范围 %s 密码 %s\n", padRight(u.Name, 13), padRight(u.Role.Label(), 14), padRight(scope, 36), pw)
	}
	return nil
}

// demoMark is the file by which demo knows a directory as its own.
const demoMark = ".tisheng-demo"

// resetDemoDir empties dir for a new demo, but only if demo made it (it holds demoMark) or
// it is empty or missing: a user's own files are never deleted.
func resetDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(dir, demoMark)); err != nil {
			return usagef("目录 %s 不是空的，也不是 tisheng demo 建的：为免删掉其中的文件，请换一个目录（或先自己清空它）", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, demoMark), []byte("tisheng demo 建的目录：再次运行 demo 会清空并重建它。\n"), 0o644)
}

// padRight pads s with spaces to w terminal columns.
func padRight(s string, w int) string {
	return s + strings.Repeat(" ", max(0, w-displayWidth(s)))
}
