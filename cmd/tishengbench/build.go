package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// build makes the two binaries: the old one from a git archive of c.old (its own go.mod and
// go.sum), the new one from the working tree, both with the build tag the new driver needs
// (the old tree ignores it).
func (c *config) build(ctx context.Context) error {
	bin := filepath.Join(c.dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "git", "-C", c.repo, "rev-parse", c.old).Output()
	if err != nil {
		return fmt.Errorf("git rev-parse %s: %w", c.old, err)
	}
	oldRev := strings.TrimSpace(string(out))
	c.oldBin = filepath.Join(bin, "tisheng-"+oldRev[:12])
	c.oldLabel = oldRev[:12]
	if _, err := os.Stat(c.oldBin); err != nil {
		src := filepath.Join(c.dir, "src-"+oldRev[:12])
		os.RemoveAll(src)
		if err := os.MkdirAll(src, 0o755); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "building the old binary from %s …\n", oldRev[:12])
		archive := exec.CommandContext(ctx, "sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", c.repo, oldRev, src)
		if out, err := archive.CombinedOutput(); err != nil {
			return fmt.Errorf("git archive %s: %w\n%s", oldRev, err, out)
		}
		if err := goBuild(ctx, src, c.oldBin+".tmp"); err != nil {
			return err
		}
		if err := os.Rename(c.oldBin+".tmp", c.oldBin); err != nil {
			return err
		}
		os.RemoveAll(src)
	}
	head, _ := exec.CommandContext(ctx, "git", "-C", c.repo, "rev-parse", "--short=12", "HEAD").Output()
	c.newLabel = "working tree at " + strings.TrimSpace(string(head))
	c.newBin = filepath.Join(bin, "tisheng-new")
	fmt.Fprintf(c.stdout, "building the new binary from %s …\n", c.repo)
	t0 := time.Now()
	if err := goBuild(ctx, c.repo, c.newBin); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "  built in %.1f s\n", time.Since(t0).Seconds())
	for _, b := range []string{c.oldBin, c.newBin} {
		if st, err := os.Stat(b); err == nil {
			fmt.Fprintf(c.stdout, "  %s: %.0f MB\n", filepath.Base(b), float64(st.Size())/1e6)
		}
	}
	return nil
}

func goBuild(ctx context.Context, dir, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "duckdb_arrow", "-o", out, "./cmd/tisheng")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOFLAGS=-buildvcs=false")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build in %s: %w\n%s", dir, err, buf.String())
	}
	return nil
}

// tisheng runs one command of a binary with the bench's key and returns its wall time and
// its output; a failure carries the output.
func (c *config) tisheng(ctx context.Context, bin string, args ...string) (time.Duration, []byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "TISHENG_ID_KEY="+benchKey, "TISHENG_KEY_FILE=")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	t0 := time.Now()
	err := cmd.Run()
	el := time.Since(t0)
	if err != nil {
		return el, buf.Bytes(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, tail(buf.String(), 2000))
	}
	return el, buf.Bytes(), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
