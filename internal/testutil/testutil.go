// Package testutil holds helpers shared by the project's tests.
package testutil

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// SharedTestdata returns the absolute path of the shared test data folder
// (`shared/testdata` beside the checkout), found by walking up from the
// working directory. The test fails when it cannot be found: CI always has it.
func SharedTestdata(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("get working directory: %v", err)
	}
	for {
		for _, cand := range []string{
			filepath.Join(dir, "shared", "testdata"),
			filepath.Join(dir, "..", "shared", "testdata"),
		} {
			if st, err := os.Stat(cand); err == nil && st.IsDir() {
				abs, _ := filepath.Abs(cand)
				return abs
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("shared/testdata not found above the working directory; it must sit beside the checkout")
		}
		dir = parent
	}
}

// ReadShared reads a file below the shared test data folder, transparently
// un-gzipping names that end in .gz.
func ReadShared(tb testing.TB, rel string) []byte {
	tb.Helper()
	path := filepath.Join(SharedTestdata(tb), rel)
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	var r io.Reader = f
	if filepath.Ext(path) == ".gz" {
		zr, err := gzip.NewReader(f)
		if err != nil {
			tb.Fatalf("gunzip %s: %v", path, err)
		}
		defer zr.Close()
		r = zr
	}
	data, err := io.ReadAll(r)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	return data
}
