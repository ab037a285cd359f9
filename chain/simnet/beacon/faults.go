package beacon

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Faults configures misbehaviour for client-robustness tests. Decisions are
// deterministic in the seed and the request sequence number.
type Faults struct {
	// Latency is added to every response.
	Latency time.Duration `yaml:"latency"`
	// ErrorRate is the share of requests answered 503.
	ErrorRate float64 `yaml:"error_rate"`
	// TruncateRate is the share of responses cut in half.
	TruncateRate float64 `yaml:"truncate_rate"`
	// WrongDataRate is the share of responses with one byte (SSZ) or one hex
	// digit (JSON) altered.
	WrongDataRate float64 `yaml:"wrong_data_rate"`
	// SkipNodeEndpoints leaves /eth/v1/node/* untouched so clients can start.
	SkipNodeEndpoints bool `yaml:"skip_node_endpoints"`
}

const purposeFault uint64 = 1000

type faultInjector struct {
	f                          Faults
	seed                       uint64
	errPPM, truncPPM, wrongPPM uint64
	seq                        atomic.Uint64
}

func newFaultInjector(f Faults, seed uint64) (*faultInjector, error) {
	if f == (Faults{}) {
		return nil, nil
	}
	if f.Latency < 0 {
		return nil, errors.New("faults: negative latency")
	}
	fi := &faultInjector{f: f, seed: seed}
	var err error
	if fi.errPPM, err = ratePPM("faults error_rate", f.ErrorRate); err != nil {
		return nil, err
	}
	if fi.truncPPM, err = ratePPM("faults truncate_rate", f.TruncateRate); err != nil {
		return nil, err
	}
	if fi.wrongPPM, err = ratePPM("faults wrong_data_rate", f.WrongDataRate); err != nil {
		return nil, err
	}
	return fi, nil
}

type bufferedWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}

func (fi *faultInjector) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fi.f.SkipNodeEndpoints && len(r.URL.Path) >= 13 && r.URL.Path[:13] == "/eth/v1/node/" {
			next.ServeHTTP(w, r)
			return
		}
		n := fi.seq.Add(1)
		if fi.f.Latency > 0 {
			t := time.NewTimer(fi.f.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if chance(fi.seed, purposeFault, n, 1, fi.errPPM) {
			apiError(w, http.StatusServiceUnavailable, "simulated failure")
			return
		}
		truncate := chance(fi.seed, purposeFault, n, 2, fi.truncPPM)
		wrong := chance(fi.seed, purposeFault, n, 3, fi.wrongPPM)
		if !truncate && !wrong {
			next.ServeHTTP(w, r)
			return
		}
		bw := &bufferedWriter{header: w.Header()}
		next.ServeHTTP(bw, r)
		body := bw.body.Bytes()
		if wrong && len(body) > 0 {
			pos := int(draw(fi.seed, purposeFault, n, 4) % uint64(len(body)))
			if bw.header.Get("Content-Type") == "application/octet-stream" {
				body[pos] ^= 0x01
			} else {
				for i := range body {
					j := (pos + i) % len(body)
					if c := body[j]; c >= '0' && c <= '8' {
						body[j] = c + 1
						break
					}
				}
			}
		}
		if truncate {
			// Announce the full length but send half: the client sees an unexpected EOF.
			bw.header.Set("Content-Length", strconv.Itoa(len(body)))
			body = body[:len(body)/2]
		} else {
			bw.header.Set("Content-Length", strconv.Itoa(len(body)))
		}
		if bw.code == 0 {
			bw.code = http.StatusOK
		}
		w.WriteHeader(bw.code)
		_, _ = w.Write(body)
	})
}
