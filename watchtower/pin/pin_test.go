package pin

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odaowatch/watchtower/internal/testutil"
)

// vector is one entry of shared testdata cid/vectors.json (CIDs agreed by
// boxo v0.8.0, kubo 0.43.0 and an independent implementation).
type vector struct {
	Name  string `json:"name"`
	Input struct {
		Kind     string `json:"kind"`
		InputHex string `json:"inputHex"`
	} `json:"input"`
	CID string `json:"cid"`
}

func testBin(t *testing.T) (string, []byte, string) {
	t.Helper()
	var doc struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(testutil.ReadShared(t, "cid/vectors.json"), &doc); err != nil {
		t.Fatal(err)
	}
	for _, v := range doc.Vectors {
		if v.Name == "test.bin" {
			b, err := hex.DecodeString(v.Input.InputHex)
			if err != nil {
				t.Fatal(err)
			}
			return v.Name, b, v.CID
		}
	}
	t.Fatal("test.bin vector missing")
	return "", nil, ""
}

// fixed answers with a table of known CIDs keyed by file name.
func fixed(table map[string]string) func(string, []byte, int) (string, bool) {
	return func(name string, _ []byte, _ int) (string, bool) {
		c, ok := table[name]
		return c, ok
	}
}

func newKubo(t *testing.T, f *fakeKubo, params ...KuboParameter) *Kubo {
	t.Helper()
	k, err := NewKubo(context.Background(), append([]KuboParameter{WithKuboURL(f.srv.URL), WithKuboTimeout(5 * time.Second)}, params...)...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKuboPinSendsMatchingAddOptions(t *testing.T) {
	name, data, want := testBin(t)
	f := newFakeKubo(t)
	f.answer = fixed(map[string]string{name: want})
	k := newKubo(t, f)
	got, err := k.Pin(context.Background(), name, data)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Pin returned %s, want the directory CID %s", got, want)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.query
	for key, v := range map[string]string{
		"cid-version": "1", "raw-leaves": "true", "chunker": "size-1048576",
		"wrap-with-directory": "true", "pin": "true", "hash": "sha2-256",
	} {
		if q.Get(key) != v {
			t.Errorf("add option %s = %q, want %q (all: %v)", key, q.Get(key), v, q)
		}
	}
	if f.names[0] != name || string(f.bodies[0]) != string(data) {
		t.Fatalf("kubo received %q (%d bytes), want %q (%d bytes)", f.names[0], len(f.bodies[0]), name, len(data))
	}
	f.mu.Unlock()
	defer f.mu.Lock()
	if ok, err := k.Pinned(context.Background(), want); err != nil || !ok {
		t.Fatalf("Pinned(%s) = %v, %v; want true", want, ok, err)
	}
	if ok, err := k.Pinned(context.Background(), "bafybeigl62ftvki6n6lwpot4c6c2cdaswgcm3vqvuu2xo4leq5hczk3d2i"); err != nil || ok {
		t.Fatalf("Pinned(unknown) = %v, %v; want false, nil", ok, err)
	}
	if err := k.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestKuboErrors(t *testing.T) {
	f := newFakeKubo(t)
	f.answer = func(string, []byte, int) (string, bool) { return "", false }
	k := newKubo(t, f)
	if _, err := k.Pin(context.Background(), "a.json", []byte("x")); err == nil || !strings.Contains(err.Error(), "temporary failure") {
		t.Fatalf("want the kubo error message, got %v", err)
	}
	for _, bad := range []string{"", ".", "..", "a/b", `a\b`} {
		if _, err := k.Pin(context.Background(), bad, []byte("x")); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	for _, u := range []string{"", "127.0.0.1:5001", "ftp://x", "http://user:pw@127.0.0.1:5001"} {
		if _, err := NewKubo(context.Background(), WithKuboURL(u)); err == nil {
			t.Errorf("URL %q accepted", u)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
	// A dead endpoint fails fast instead of hanging.
	dead, err := NewKubo(context.Background(), WithKuboURL("http://127.0.0.1:1"), WithKuboTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := dead.Check(context.Background()); err == nil {
		t.Fatal("Check of a dead endpoint succeeded")
	}
}

type recorder struct {
	mu     sync.Mutex
	states map[string][]string
}

func (r *recorder) PinState(a, s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.states == nil {
		r.states = map[string][]string{}
	}
	r.states[a] = append(r.states[a], s)
}

func newQueue(t *testing.T, ctx context.Context, p Pinner, params ...QueueParameter) *Queue {
	t.Helper()
	q, err := NewQueue(ctx, append([]QueueParameter{WithPinner(p), WithBackoff(5*time.Millisecond, 20*time.Millisecond),
		WithAttemptTimeout(2 * time.Second), WithDeadline(10 * time.Second)}, params...)...)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestQueueRetriesThenPins(t *testing.T) {
	name, data, want := testBin(t)
	f := newFakeKubo(t)
	// Two failures, then the right answer: 3 attempts.
	f.answer = func(n string, _ []byte, call int) (string, bool) { return want, call > 2 }
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := newQueue(t, ctx, newKubo(t, f), WithObserver(rec))
	st, err := q.Submit(name, data)
	if err != nil {
		t.Fatal(err)
	}
	if st.LocalCID != want {
		t.Fatalf("local CID %s, want the vector's %s", st.LocalCID, want)
	}
	st, err = q.Wait(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StatePinned || st.Attempts != 3 || st.RemoteCID != want || st.LastError != "" {
		t.Fatalf("status %+v; want pinned after 3 attempts", st)
	}
	rec.mu.Lock()
	got := strings.Join(rec.states[name], ",")
	rec.mu.Unlock()
	if got != "queued,pinning,retrying,pinning,retrying,pinning,pinned" {
		t.Fatalf("observed states %s", got)
	}
	// Same content again: no new upload.
	if st2, err := q.Submit(name, data); err != nil || st2.State != StatePinned {
		t.Fatalf("resubmit: %+v, %v", st2, err)
	}
	if n := f.calls.Load(); n != 3 {
		t.Fatalf("kubo add called %d times, want 3", n)
	}
}

func TestQueueFlagsMismatch(t *testing.T) {
	name, data, want := testBin(t)
	f := newFakeKubo(t)
	// kubo's CIDv0 of the same content would differ from ours (e.g. default add options).
	other := "bafybeieus3rqkpnzwcqwp7x5elv6zpyk6lgk7cbydb6wdn627us3bdghta"
	f.answer = fixed(map[string]string{name: other})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := newQueue(t, ctx, newKubo(t, f))
	if _, err := q.Submit(name, data); err != nil {
		t.Fatal(err)
	}
	st, err := q.Wait(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateMismatch || st.RemoteCID != other || st.LocalCID != want || !strings.Contains(st.LastError, other) {
		t.Fatalf("status %+v; want mismatch flagged", st)
	}
	if f.calls.Load() != 1 {
		t.Fatalf("a mismatch must not be retried; %d calls", f.calls.Load())
	}
}

func TestQueueGivesUp(t *testing.T) {
	f := newFakeKubo(t)
	f.answer = func(string, []byte, int) (string, bool) { return "", false }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := newQueue(t, ctx, newKubo(t, f), WithAttempts(4))
	if _, err := q.Submit("x.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	st, err := q.Wait(ctx, "x.json")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateFailed || st.Attempts != 4 || f.calls.Load() != 4 {
		t.Fatalf("status %+v after %d calls; want failed after 4", st, f.calls.Load())
	}
}

func TestQueueAttemptTimeoutAndDeadline(t *testing.T) {
	f := newFakeKubo(t)
	f.delay = 5 * time.Second // a stuck kubo
	f.answer = func(string, []byte, int) (string, bool) { return "x", true }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q, err := NewQueue(ctx, WithPinner(newKubo(t, f)), WithAttemptTimeout(50*time.Millisecond),
		WithBackoff(10*time.Millisecond, 10*time.Millisecond), WithDeadline(300*time.Millisecond), WithAttempts(1000))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := q.Submit("stuck.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	st, err := q.Wait(ctx, "stuck.json")
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("gave up after %v; the deadline is 300 ms", el)
	}
	if st.State != StateFailed || !strings.Contains(st.LastError, "deadline") || st.Attempts < 2 {
		t.Fatalf("status %+v; want failed by deadline after several attempts", st)
	}
}

// blockingPinner never returns until released: Submit must not block on it.
type blockingPinner struct{ release chan struct{} }

func (b blockingPinner) Pin(ctx context.Context, _ string, _ []byte) (string, error) {
	select {
	case <-b.release:
		return "", errors.New("released")
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func TestQueueSubmitNeverBlocksAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	b := blockingPinner{release: make(chan struct{})}
	q := newQueue(t, ctx, b, WithCapacity(2), WithWorkers(1))
	// One running + two waiting fill the queue; the fourth is refused at once.
	names := []string{"a.json", "b.json", "c.json"}
	for i, n := range names {
		if _, err := q.Submit(n, []byte(n)); err != nil {
			t.Fatalf("submit %s: %v", n, err)
		}
		if i == 0 { // let the worker take the first one
			deadline := time.Now().Add(2 * time.Second)
			for st, _ := q.Status(n); st.State != StatePinning; st, _ = q.Status(n) {
				if time.Now().After(deadline) {
					t.Fatal("worker did not start")
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	start := time.Now()
	if _, err := q.Submit("d.json", []byte("d")); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("want ErrQueueFull, got %v", err)
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Fatal("Submit blocked")
	}
	cancel()
	select {
	case <-q.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("queue did not stop")
	}
	for _, st := range q.Statuses() {
		if st.State != StateFailed || !strings.Contains(st.LastError, "stopped") {
			t.Errorf("%s: %+v; want failed (queue stopped)", st.Name, st)
		}
	}
	if got := len(q.Statuses()); got != 3 {
		t.Fatalf("%d statuses, want 3", got)
	}
	if _, err := q.Submit("e.json", []byte("e")); !errors.Is(err, ErrStopped) {
		t.Fatalf("submit after stop: %v", err)
	}
}

func TestQueueParameters(t *testing.T) {
	ctx := context.Background()
	if _, err := NewQueue(ctx); err == nil {
		t.Fatal("queue without pinner accepted")
	}
	b := blockingPinner{}
	for _, p := range []QueueParameter{WithAttempts(0), WithBackoff(0, 1), WithBackoff(2, 1), WithCapacity(0), WithWorkers(0), WithDeadline(0)} {
		if _, err := NewQueue(ctx, WithPinner(b), p); err == nil {
			t.Error("bad parameter accepted")
		}
	}
}
