// Command tisheng loads the training platforms' exports into a DuckDB warehouse and reports
// on them. main wires flags into configs and constructors; nothing here is global state.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"tisheng/ingest"
	"tisheng/internal/warehouse"
)

const usage = `tisheng: 中小学教师信息技术应用能力提升工程2.0 数据仓库

usage:
  tisheng ingest --db FILE [--as-of YYYY-MM-DD] [--school CODE] [--kind KIND] [--catalogue NAME] [--json] FILE...
  tisheng refresh --db FILE [--profile national|xiamen|baoji|guangdong|PATH.json]
  tisheng report monthly|school|annual --db FILE [--month YYYY-MM] [--district D] [--school CODE] [--out FILE.xlsx]
  tisheng serve  --db FILE [--addr 127.0.0.1:8080]
  tisheng batch  list --db FILE
  tisheng batch  rm --db FILE ID...
  tisheng sql    --db FILE [--format table|csv|json|xlsx|arrow] [--out FILE] QUERY
  tisheng gen    --out DIR [--districts N] [--teachers N] [--seed N]
  tisheng demo   [--dir DIR] [--teachers N] [--districts N]
  tisheng bench  [--rows N] [--xlsx-rows N] [--dir DIR]
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one subcommand and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "ingest":
		return runIngest(ctx, args[1:], stdout, stderr)
	case "refresh":
		err = runRefresh(ctx, args[1:], stdout, stderr)
	case "report":
		err = runReport(ctx, args[1:], stdout, stderr)
	case "serve":
		err = runServe(ctx, args[1:], stdout, stderr)
	case "sql":
		err = runSQL(ctx, args[1:], stdout, stderr)
	case "batch":
		err = runBatch(ctx, args[1:], stdout, stderr)
	case "gen":
		err = runGen(ctx, args[1:], stdout, stderr)
	case "demo":
		err = runDemo(ctx, args[1:], stdout, stderr)
	case "bench":
		err = runBench(ctx, args[1:], stdout, stderr)
	case benchStepCmd:
		err = runBenchStep(ctx, args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "tisheng: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "tisheng %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// openLoader opens the warehouse file and a loader with the file's ID key.
func openLoader(ctx context.Context, db string, log *slog.Logger) (*warehouse.Warehouse, *ingest.Loader, error) {
	wh, err := warehouse.Open(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	key, err := ingest.LoadKey(db)
	if err != nil {
		wh.Close()
		return nil, nil, err
	}
	l, err := ingest.NewLoader(ctx, wh, key, log)
	if err != nil {
		wh.Close()
		return nil, nil, err
	}
	return wh, l, nil
}

// newLogger logs to stderr: warnings only unless verbose, so that stdout stays the result.
func newLogger(w io.Writer, verbose bool) *slog.Logger {
	lvl := slog.LevelWarn
	if verbose {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}
