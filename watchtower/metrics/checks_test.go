package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBeaconSyncedCheck(t *testing.T) {
	answer := ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/eth/v1/node/syncing" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		if answer == "" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, answer)
	}))
	defer srv.Close()
	check := BeaconSyncedCheck(srv.URL+"/", nil, 2)
	for _, c := range []struct {
		answer, wantErr string
	}{
		{`{"data":{"head_slot":"100","sync_distance":"0","is_syncing":false,"is_optimistic":false,"el_offline":false}}`, ""},
		{`{"data":{"head_slot":"100","sync_distance":"2","is_syncing":true,"is_optimistic":false,"el_offline":false}}`, ""},
		{`{"data":{"head_slot":"90","sync_distance":"3","is_syncing":true,"is_optimistic":false,"el_offline":false}}`, "3 slots behind"},
		{`{"data":{"head_slot":"100","sync_distance":"0","is_syncing":false,"is_optimistic":true,"el_offline":false}}`, "optimistic"},
		{`{"data":{"head_slot":"100","sync_distance":"0","is_syncing":false,"is_optimistic":false,"el_offline":true}}`, "execution client offline"},
		{`{"data":{}}`, "bad sync_distance"},
		{`not json`, "decode"},
		{"", "status 503"},
	} {
		answer = c.answer
		err := check(context.Background())
		if (c.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("answer %q: error %v, want %q", c.answer, err, c.wantErr)
		}
	}
}

func TestExecutionCheck(t *testing.T) {
	answer := ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(b), `"eth_syncing"`) {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, answer)
	}))
	defer srv.Close()
	for _, c := range []struct{ answer, wantErr string }{
		{`{"jsonrpc":"2.0","id":1,"result":false}`, ""},
		{`{"jsonrpc":"2.0","id":1,"result":{"startingBlock":"0x0","currentBlock":"0x10","highestBlock":"0x20"}}`, "is syncing"},
		{`{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"method not found"}}`, "method not found"},
		{`{"jsonrpc":"2.0","id":1}`, "empty result"},
	} {
		answer = c.answer
		err := ExecutionCheck(srv.URL, nil)(context.Background())
		if (c.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("answer %q: error %v, want %q", c.answer, err, c.wantErr)
		}
	}
	// An unreachable endpoint fails without repeating credentials or paths.
	err := ExecutionCheck("http://user:secret@127.0.0.1:1/v3/APIKEY", nil)(context.Background())
	if err == nil || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "APIKEY") {
		t.Fatalf("dead endpoint: %v", err)
	}
}
