package main

import (
	"context"
	"io"
)

const benchStepCmd = "bench-step"

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error { return nil }
func runBenchStep(ctx context.Context, args []string, stdout io.Writer) error     { return nil }
