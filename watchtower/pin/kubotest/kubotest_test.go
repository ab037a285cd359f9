package kubotest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestRepoRootFindsBuildScript(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(filepath.Join(root, "deploy", "kubo", "build.sh")) != "build.sh" {
		t.Fatal(root)
	}
}

func TestStartFailsCleanlyWithABrokenBinary(t *testing.T) {
	_, err := Start(context.Background(), "/bin/false", t.TempDir(), 0)
	if err == nil || !strings.Contains(err.Error(), "ipfs init") {
		t.Fatalf("want an init error, got %v", err)
	}
}
