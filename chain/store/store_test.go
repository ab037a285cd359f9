package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func open(t *testing.T, path string, params ...Parameter) *Store {
	t.Helper()
	s, err := New(context.Background(), append([]Parameter{WithPath(path)}, params...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParameters(t *testing.T) {
	if _, err := New(context.Background()); err == nil {
		t.Fatal("missing path accepted")
	}
	if _, err := New(context.Background(), WithPath(filepath.Join(t.TempDir(), "x.db")), WithLockTimeout(0)); err == nil {
		t.Fatal("zero lock timeout accepted")
	}
}

func TestWatermarkOutOfOrderAndResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scan.db")
	s := open(t, path)
	wm, err := s.OpenRun("r1", 100, []byte("meta"))
	if err != nil || wm != 100 {
		t.Fatalf("open run: wm %d err %v", wm, err)
	}
	// 102 and 101 before 100: watermark stays at 100 until 100 arrives.
	for _, e := range []uint64{102, 101} {
		if err := s.PutEpoch("r1", e, []byte{byte(e)}); err != nil {
			t.Fatal(err)
		}
	}
	if wm, _ := s.Watermark("r1"); wm != 100 {
		t.Fatalf("watermark %d, want 100", wm)
	}
	if err := s.PutEpoch("r1", 100, []byte{100}); err != nil {
		t.Fatal(err)
	}
	if wm, _ := s.Watermark("r1"); wm != 103 {
		t.Fatalf("watermark %d, want 103", wm)
	}
	// Same bytes again: no-op; other bytes: error.
	if err := s.PutEpoch("r1", 101, []byte{101}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutEpoch("r1", 101, []byte{7}); err == nil {
		t.Fatal("conflicting result accepted")
	}
	if err := s.PutEpoch("r1", 99, []byte{1}); err == nil {
		t.Fatal("epoch before first accepted")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	defer s.Close()
	if _, err := s.OpenRun("r1", 100, []byte("other")); !errors.Is(err, ErrRunMismatch) {
		t.Fatalf("meta mismatch: %v", err)
	}
	wm, err = s.OpenRun("r1", 100, []byte("meta"))
	if err != nil || wm != 103 {
		t.Fatalf("reopen: wm %d err %v", wm, err)
	}
	var got []uint64
	if err := s.Epochs("r1", func(e Epoch) error {
		if len(e.Result) != 1 || uint64(e.Result[0]) != e.Epoch {
			t.Fatalf("epoch %d result %v", e.Epoch, e.Result)
		}
		got = append(got, e.Epoch)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != 100 || got[2] != 102 {
		t.Fatalf("epochs %v", got)
	}
	runs, _ := s.Runs()
	if len(runs) != 1 || runs[0] != "r1" {
		t.Fatalf("runs %v", runs)
	}
	if err := s.DeleteRun("r1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Watermark("r1"); err == nil {
		t.Fatal("deleted run still there")
	}
}

// TestHookFailureRollsBack: a failing commit hook leaves neither the epoch
// nor a moved watermark behind.
func TestHookFailureRollsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scan.db")
	crash := errors.New("crash")
	s := open(t, path, WithCommitHook(func(_ string, e uint64) error {
		if e == 11 {
			return crash
		}
		return nil
	}))
	if _, err := s.OpenRun("r", 10, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.PutEpoch("r", 10, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutEpoch("r", 11, []byte("b")); !errors.Is(err, crash) {
		t.Fatalf("hook error not returned: %v", err)
	}
	if wm, _ := s.Watermark("r"); wm != 11 {
		t.Fatalf("watermark %d, want 11", wm)
	}
	n := 0
	_ = s.Epochs("r", func(Epoch) error { n++; return nil })
	if n != 1 {
		t.Fatalf("%d epochs stored, want 1", n)
	}
	_ = s.Close()
}

func TestReplaceEpochAndBlobs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scan.db")
	s := open(t, path)
	if _, err := s.OpenRun("r", 10, []byte("m")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutEpoch("r", 10, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceEpoch("r", 10, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceEpoch("r", 11, []byte("fresh")); err != nil {
		t.Fatal(err)
	}
	if wm, _ := s.Watermark("r"); wm != 12 {
		t.Fatalf("watermark %d, want 12", wm)
	}
	if err := s.ReplaceEpoch("r", 9, []byte("x")); err == nil {
		t.Fatal("epoch before first accepted")
	}
	if _, ok, err := s.Blob("r", "set/a"); err != nil || ok {
		t.Fatalf("missing blob: ok %v err %v", ok, err)
	}
	if err := s.PutBlob("r", "set/a", []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBlob("nope", "k", nil); err == nil {
		t.Fatal("blob in unopened run accepted")
	}
	if err := s.PutBlob("r", "", nil); err == nil {
		t.Fatal("empty blob key accepted")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	defer s.Close()
	v, ok, err := s.Blob("r", "set/a")
	if err != nil || !ok || string(v) != "\x01\x02\x03" {
		t.Fatalf("blob after reopen: %x ok %v err %v", v, ok, err)
	}
	var got []string
	if err := s.Epochs("r", func(e Epoch) error { got = append(got, string(e.Result)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "new" || got[1] != "fresh" {
		t.Fatalf("epochs after replace: %q", got)
	}
}
