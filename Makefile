# tisheng: `make run` builds, generates a demo city, loads it; `make test` runs every test.
GO      ?= go
BIN     := bin/tisheng
export CGO_ENABLED := 1
# duckdb-go/v2 builds its Arrow interface only with this tag; every go command below
# (build, test, vet, fuzz) reads it from GOFLAGS. Without make: go test -tags duckdb_arrow ./...
export GOFLAGS := $(strip $(GOFLAGS) -tags=duckdb_arrow)

.PHONY: build run test bench lint fuzz clean

build:
	$(GO) build -o $(BIN) ./cmd/tisheng

ADDR ?= 127.0.0.1:8080

run: build
	./$(BIN) demo --dir demo --addr $(ADDR)
	./$(BIN) serve --db demo/warehouse.duckdb --addr $(ADDR)

# Fuzz targets' seed corpora run as ordinary tests here; `make fuzz` explores further.
test:
	$(GO) test -count=1 ./...

# The old binary (the last commit on DuckDB 1.1.2) against this tree, side by side; see
# cmd/tishengbench and the README. BENCHFLAGS passes options (--runs, --steps, …).
bench:
	$(GO) run ./cmd/tishengbench --dir bench-data $(BENCHFLAGS)

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

FUZZTIME ?= 20s
fuzz:
	$(GO) test ./ingest -run '^$$' -fuzz FuzzParseHours -fuzztime $(FUZZTIME)
	$(GO) test ./ingest -run '^$$' -fuzz FuzzParseDate -fuzztime $(FUZZTIME)
	$(GO) test ./ingest -run '^$$' -fuzz FuzzFindHeader -fuzztime $(FUZZTIME)
	$(GO) test ./ingest -run '^$$' -fuzz FuzzValidateID -fuzztime $(FUZZTIME)
	$(GO) test ./ingest -run '^$$' -fuzz FuzzCSVSource -fuzztime $(FUZZTIME)
	$(GO) test ./ingest -run '^$$' -fuzz FuzzParseFraction -fuzztime $(FUZZTIME)
	$(GO) test ./queries -run '^$$' -fuzz FuzzGuard -fuzztime $(FUZZTIME)
	$(GO) test ./ingest -run '^$$' -fuzz FuzzMaskedID -fuzztime $(FUZZTIME)
	$(GO) test ./ingest -run '^$$' -fuzz FuzzCSVWithinLimits -fuzztime $(FUZZTIME)
	$(GO) test ./ingest -run '^$$' -fuzz FuzzMaskSensitive -fuzztime $(FUZZTIME)
	$(GO) test ./ingest/xlsxstream -run '^$$' -fuzz 'FuzzRows$$' -fuzztime $(FUZZTIME)
	$(GO) test ./ingest/xlsxstream -run '^$$' -fuzz FuzzRowsWithinLimits -fuzztime $(FUZZTIME)
	$(GO) test ./internal/docx -run '^$$' -fuzz FuzzRead -fuzztime $(FUZZTIME)

clean:
	rm -rf bin demo bench-data
