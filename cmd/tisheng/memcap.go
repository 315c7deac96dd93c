package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"tisheng/internal/warehouse"
)

// The process's hard memory ceiling (serve). Some DuckDB work cannot be interrupted: one
// function call building one huge value (SELECT len(range(1000000000)) killed the server
// through the kernel's OOM killer; repeat('x', 3000000000) took 6 GB). Under a data-segment
// limit such an allocation fails inside DuckDB instead ("Out of Memory Error: Allocation
// failure", measured on DuckDB 1.1.2), the query fails, and the server goes on. The Go side stays small
// (results are capped in bytes), so the limit is met by DuckDB first.

// maxMemoryHeadroom is added to DuckDB's memory_limit for what it does not count (strings
// being built, aggregate states, query results) and for Go.
const maxMemoryHeadroom = 3 << 30

// defaultMaxMemory is DuckDB's memory limit plus the headroom, or 0 (no ceiling) when
// DuckDB's own limit is off.
func defaultMaxMemory() string {
	ml := os.Getenv(warehouse.MemoryLimitEnv)
	if ml == "" {
		ml = warehouse.DefaultMemoryLimit
	}
	n, err := parseBytes(ml)
	if err != nil || n == 0 {
		return "none"
	}
	return strconv.FormatInt(n+maxMemoryHeadroom, 10)
}

// parseBytes reads 6GB, 512MB, 1.5GB, 1000000 or none (0).
func parseBytes(s string) (int64, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "NONE" || s == "" {
		return 0, nil
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.n
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("内存大小应如 6GB、512MB 或 none：%q", s)
	}
	return int64(f * float64(mult)), nil
}
