package beacon

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func TestServerIDsAndErrors(t *testing.T) {
	c := newTestChain(t, testScenario(42, ForkElectra))
	srv := newTestServer(t, c)
	u := srv.URL()
	// Block ids: slot, root, head, genesis, finalized.
	var root struct {
		Data struct {
			Root string `json:"root"`
		} `json:"data"`
	}
	code, body := get(t, u+"/eth/v1/beacon/blocks/9/root")
	if code != 200 || json.Unmarshal(body, &root) != nil {
		t.Fatalf("block root: %d %s", code, body)
	}
	if root.Data.Root != c.BlockRoot(9).String() {
		t.Fatalf("root %s", root.Data.Root)
	}
	for _, id := range []string{root.Data.Root, "head", "genesis", "finalized", "justified"} {
		if code, body := get(t, u+"/eth/v1/beacon/headers/"+id); code != 200 {
			t.Errorf("headers/%s: %d %s", id, code, body)
		}
	}
	// State by its root.
	code, body = get(t, u+"/eth/v1/beacon/states/40/root")
	if code != 200 || json.Unmarshal(body, &root) != nil {
		t.Fatalf("state root: %d", code)
	}
	if code, _ := get(t, u+"/eth/v1/beacon/states/"+root.Data.Root+"/finality_checkpoints"); code != 200 {
		t.Errorf("state by root: %d", code)
	}
	// Committee filters: slot 17 of epoch 2 has 4096/1024 = 4 committees (4096 active at epoch 2).
	var comms struct {
		Data []struct {
			Slot  string `json:"slot"`
			Index string `json:"index"`
		} `json:"data"`
	}
	code, body = get(t, u+"/eth/v1/beacon/states/head/committees?epoch=2&slot=17")
	if code != 200 || json.Unmarshal(body, &comms) != nil || len(comms.Data) != 4 {
		t.Fatalf("committees slot filter: %d %d", code, len(comms.Data))
	}
	code, body = get(t, u+"/eth/v1/beacon/states/head/committees?epoch=2&slot=17&index=3")
	if code != 200 || json.Unmarshal(body, &comms) != nil || len(comms.Data) != 1 || comms.Data[0].Index != "3" {
		t.Fatalf("committees index filter: %d %s", code, body)
	}
	// Errors: 400 for bad input, 404 for unknown/future.
	for path, want := range map[string]int{
		"/eth/v1/beacon/states/head/committees?epoch=9":        400, // head epoch 7 + 1 is the limit
		"/eth/v1/beacon/states/head/committees?epoch=x":        400,
		"/eth/v1/beacon/states/head/committees?epoch=2&slot=3": 400,
		"/eth/v1/beacon/states/bogus/validators":               400,
		"/eth/v1/beacon/states/999/validators":                 404,
		"/eth/v2/beacon/blocks/0x" + strings.Repeat("ab", 32):  404,
		"/eth/v2/beacon/blocks/62":                             404,
		"/eth/v1/beacon/headers/0x12":                          400,
	} {
		code, body := get(t, u+path)
		if code != want {
			t.Errorf("%s: %d (%s), want %d", path, code, body, want)
		}
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &e) != nil || e.Code != want || e.Message == "" {
			t.Errorf("%s: error body %s", path, body)
		}
	}
	// Randao: the state's mix for an epoch equals the served state's randao_mixes entry.
	st, err := c.State(t.Context(), 61)
	if err != nil {
		t.Fatal(err)
	}
	code, body = get(t, u+"/eth/v1/beacon/states/61/randao?epoch=3")
	var rd struct {
		Data struct {
			Randao string `json:"randao"`
		} `json:"data"`
	}
	if code != 200 || json.Unmarshal(body, &rd) != nil || rd.Data.Randao != st.Electra.RANDAOMixes[3].String() {
		t.Fatalf("randao: %d %s", code, body)
	}
	if code, _ := get(t, u+"/eth/v1/beacon/states/61/randao?epoch=8"); code != 400 {
		t.Fatalf("future randao epoch: %d", code)
	}

	// POST validators with statuses.
	resp, err := http.Post(u+"/eth/v1/beacon/states/head/validators", "application/json",
		strings.NewReader(`{"ids":["7","100","500","2047"],"statuses":["active"]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var vals struct {
		Data []struct {
			Index  string `json:"index"`
			Status string `json:"status"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&vals); err != nil {
		t.Fatal(err)
	}
	// At epoch 7: 100 withdrawn, 500 slashed/exited -> only 7 and 2047 are active.
	if len(vals.Data) != 2 || vals.Data[0].Index != "7" || vals.Data[1].Index != "2047" {
		t.Fatalf("status filter: %+v", vals.Data)
	}
}
