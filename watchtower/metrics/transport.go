package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxMethodBody bounds how much of a request body is parsed for the
// JSON-RPC method name; larger bodies are labelled "large".
const maxMethodBody = 1 << 20

// RoundTripper wraps next (nil: http.DefaultTransport) so every JSON-RPC
// request through it is recorded by ExecutionRequest under the method name
// ("batch" for batches). endpoint is passed through EndpointLabel. Use it
// with go-ethereum as
//
//	rc, err := rpc.DialOptions(ctx, url, rpc.WithHTTPClient(&http.Client{Transport: m.RoundTripper(url, nil)}))
//	el := ethclient.NewClient(rc)
//
// A request fails (result "error") on a transport error or an HTTP status
// of 400 and above; JSON-RPC errors inside a 200 answer count as "ok".
func (m *Metrics) RoundTripper(endpoint string, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	if m == nil {
		return next
	}
	return &transport{m: m, endpoint: EndpointLabel(endpoint), next: next}
}

type transport struct {
	m        *Metrics
	endpoint string
	next     http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	method := "unknown"
	if req.Body != nil && req.Body != http.NoBody {
		body, err := io.ReadAll(io.LimitReader(req.Body, maxMethodBody+1))
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		rest := req.Body
		req = req.Clone(req.Context())
		req.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), rest), rest}
		method = rpcMethod(body)
	}
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	if err == nil && resp.StatusCode >= http.StatusBadRequest {
		t.m.ExecutionRequest(t.endpoint, method, time.Since(start), fmt.Errorf("http status %d", resp.StatusCode))
		return resp, nil
	}
	t.m.ExecutionRequest(t.endpoint, method, time.Since(start), err)
	return resp, err
}

// rpcMethod extracts the JSON-RPC method of a request body.
func rpcMethod(body []byte) string {
	if len(body) > maxMethodBody {
		return "large"
	}
	b := bytes.TrimLeft(body, " \t\r\n")
	if len(b) > 0 && b[0] == '[' {
		return "batch"
	}
	var r struct {
		Method string `json:"method"`
	}
	if json.Unmarshal(b, &r) != nil || r.Method == "" || len(r.Method) > 64 {
		return "unknown"
	}
	return r.Method
}
