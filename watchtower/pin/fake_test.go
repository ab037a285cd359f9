package pin

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeKubo is an httptest stand-in for the kubo RPC endpoints the package
// uses: POST /api/v0/add, /api/v0/version and /api/v0/pin/ls.
type fakeKubo struct {
	t   *testing.T
	srv *httptest.Server

	// answer returns the directory CID for an added file (ok=false: HTTP 500).
	answer func(name string, data []byte, call int) (cid string, ok bool)
	delay  time.Duration // before answering add
	stop   chan struct{} // closed at cleanup: delayed handlers give up

	calls  atomic.Int64
	mu     sync.Mutex
	query  url.Values // options of the last add
	names  []string   // file names received, in order
	bodies [][]byte
	pinned map[string]bool
}

func newFakeKubo(t *testing.T) *fakeKubo {
	f := &fakeKubo{t: t, pinned: map[string]bool{}, stop: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v0/add", f.add)
	mux.HandleFunc("/api/v0/version", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		_, _ = io.WriteString(w, `{"Version":"0.43.0","Commit":"","Repo":"18","System":"amd64/linux","Golang":"go1.26"}`)
	})
	mux.HandleFunc("/api/v0/pin/ls", func(w http.ResponseWriter, r *http.Request) {
		c := r.URL.Query().Get("arg")
		f.mu.Lock()
		ok := f.pinned[c]
		f.mu.Unlock()
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = fmt.Fprintf(w, `{"Message":"path '%s' is not pinned","Code":0,"Type":"error"}`, c)
			return
		}
		_, _ = fmt.Fprintf(w, `{"Keys":{%q:{"Type":"recursive"}}}`, c)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(f.stop) }) // runs before Close (cleanups are LIFO)
	return f
}

func (f *fakeKubo) add(w http.ResponseWriter, r *http.Request) {
	call := int(f.calls.Add(1))
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		http.Error(w, "want multipart/form-data", http.StatusBadRequest)
		return
	}
	_ = params
	mr, err := r.MultipartReader()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var name string
	var data []byte
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if n > 0 {
			http.Error(w, "more than one part", http.StatusBadRequest)
			return
		}
		name, _ = url.PathUnescape(p.FileName())
		if data, err = io.ReadAll(p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	f.mu.Lock()
	f.query = r.URL.Query()
	f.names = append(f.names, name)
	f.bodies = append(f.bodies, data)
	f.mu.Unlock()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-r.Context().Done():
			return
		case <-f.stop:
			return
		}
	}
	c, ok := f.answer(name, data, call)
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"Message":"blockstore: temporary failure","Code":0,"Type":"error"}`)
		return
	}
	f.mu.Lock()
	f.pinned[c] = true
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	_ = enc.Encode(map[string]string{"Name": name, "Hash": "bafkreifilecidplaceholder", "Size": fmt.Sprint(len(data))})
	_ = enc.Encode(map[string]string{"Name": "", "Hash": c, "Size": fmt.Sprint(len(data) + 60)})
}
