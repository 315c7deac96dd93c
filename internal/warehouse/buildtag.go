//go:build !duckdb_arrow

package warehouse

// tisheng is built with the tag duckdb_arrow: duckdb-go/v2 compiles its Arrow interface
// only with it. Build and test through make (it sets GOFLAGS), or pass the tag yourself:
// go test -tags duckdb_arrow ./... (README, "Set-up").
var _ = tishengNeedsBuildTag_duckdb_arrow_seeREADME
