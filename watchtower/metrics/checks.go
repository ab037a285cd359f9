package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxCheckBody bounds what a check reads from a node.
const maxCheckBody = 1 << 16

// BeaconSyncedCheck asks a beacon node's GET /eth/v1/node/syncing and fails
// when the node is unreachable, optimistic, or more than maxDistance slots
// behind. client nil means a client without timeout (the check's context
// bounds it). Errors name the endpoint by EndpointLabel only.
func BeaconSyncedCheck(url string, client *http.Client, maxDistance uint64) Check {
	if client == nil {
		client = &http.Client{}
	}
	base := strings.TrimRight(url, "/")
	label := EndpointLabel(url)
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/eth/v1/node/syncing", nil)
		if err != nil {
			return fmt.Errorf("beacon node %s: %w", label, err)
		}
		req.Header.Set("Accept", "application/json")
		body, err := do(client, req)
		if err != nil {
			return fmt.Errorf("beacon node %s: %w", label, err)
		}
		var r struct {
			Data struct {
				HeadSlot     string `json:"head_slot"`
				SyncDistance string `json:"sync_distance"`
				IsSyncing    bool   `json:"is_syncing"`
				IsOptimistic bool   `json:"is_optimistic"`
				ELOffline    bool   `json:"el_offline"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			return fmt.Errorf("beacon node %s: decode syncing status: %w", label, err)
		}
		dist, err := strconv.ParseUint(r.Data.SyncDistance, 10, 64)
		if err != nil {
			return fmt.Errorf("beacon node %s: bad sync_distance %q", label, r.Data.SyncDistance)
		}
		switch {
		case dist > maxDistance:
			return fmt.Errorf("beacon node %s is %d slots behind (head %s; limit %d)", label, dist, r.Data.HeadSlot, maxDistance)
		case r.Data.IsOptimistic:
			return fmt.Errorf("beacon node %s is optimistic (execution payloads not verified)", label)
		case r.Data.ELOffline:
			return fmt.Errorf("beacon node %s reports its execution client offline", label)
		}
		return nil
	}
}

// ExecutionCheck sends eth_syncing to an execution client's JSON-RPC
// endpoint and fails when it is unreachable, answers with an error, or is
// still syncing.
func ExecutionCheck(url string, client *http.Client) Check {
	if client == nil {
		client = &http.Client{}
	}
	label := EndpointLabel(url)
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url,
			bytes.NewReader([]byte(`{"jsonrpc":"2.0","id":1,"method":"eth_syncing","params":[]}`)))
		if err != nil {
			return fmt.Errorf("execution client %s: %w", label, err)
		}
		req.Header.Set("Content-Type", "application/json")
		body, err := do(client, req)
		if err != nil {
			return fmt.Errorf("execution client %s: %w", label, err)
		}
		var r struct {
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			return fmt.Errorf("execution client %s: decode eth_syncing: %w", label, err)
		}
		if r.Error != nil {
			return fmt.Errorf("execution client %s: eth_syncing: %s", label, r.Error.Message)
		}
		if string(bytes.TrimSpace(r.Result)) != "false" {
			if len(r.Result) == 0 {
				return fmt.Errorf("execution client %s: eth_syncing: empty result", label)
			}
			return fmt.Errorf("execution client %s is syncing", label)
		}
		return nil
	}
}

func do(client *http.Client, req *http.Request) ([]byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		// url.Error repeats the full URL (credentials, API keys): keep only the cause.
		var cause error = err
		if ue, ok := err.(interface{ Unwrap() error }); ok && ue.Unwrap() != nil {
			cause = ue.Unwrap()
		}
		return nil, fmt.Errorf("%s: %w", req.Method, cause)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCheckBody))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("http status %d", resp.StatusCode)
	}
	return body, nil
}
