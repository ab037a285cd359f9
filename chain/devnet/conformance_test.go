//go:build devnet

package devnet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	eth2client "github.com/attestantio/go-eth2-client"
	"github.com/attestantio/go-eth2-client/api"
	apiv1deneb "github.com/attestantio/go-eth2-client/api/v1/deneb"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/rs/zerolog"

	"github.com/odaowatch/watchtower/chain/beacon"
	"github.com/odaowatch/watchtower/chain/devnet"
	simbeacon "github.com/odaowatch/watchtower/chain/simnet/beacon"
)

// conformanceRequest is one Beacon API request asked of both servers.
type conformanceRequest struct {
	name   string
	method string
	path   string
	body   string
	accept string
	// ssz decodes an SSZ body (nil: the answer must be JSON).
	ssz func([]byte) error
}

// answer is what a server returned, reduced to what must agree.
type answer struct {
	status    int
	mediaType string
	version   string // Eth-Consensus-Version header
	fields    []string
}

func ask(ctx context.Context, base string, r conformanceRequest) (*answer, error) {
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, base+r.path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", r.accept)
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	a := &answer{status: resp.StatusCode, version: strings.ToLower(resp.Header.Get("Eth-Consensus-Version"))}
	a.mediaType, _, _ = mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case a.mediaType == "application/octet-stream":
		if r.ssz == nil {
			return a, fmt.Errorf("SSZ answer to a JSON-only request")
		}
		if err := r.ssz(raw); err != nil {
			return a, fmt.Errorf("decode SSZ: %w", err)
		}
	case a.status == http.StatusOK:
		var doc any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return a, fmt.Errorf("decode JSON: %w", err)
		}
		set := map[string]bool{}
		jsonPaths(doc, "", set)
		for p := range set {
			a.fields = append(a.fields, p)
		}
		sort.Strings(a.fields)
	}
	return a, nil
}

// jsonPaths collects every field path with its JSON type ("data.message.slot:string"); array elements are
// merged under "[]".
func jsonPaths(v any, path string, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		out[path+":object"] = true
		for k, e := range x {
			jsonPaths(e, path+"."+k, out)
		}
	case []any:
		out[path+":array"] = true
		for _, e := range x {
			jsonPaths(e, path+"[]", out)
		}
	case string:
		out[path+":string"] = true
	case json.Number:
		out[path+":number"] = true
	case bool:
		out[path+":bool"] = true
	case nil:
		out[path+":null"] = true
	}
}

// diff returns the field paths only one side has. A path inside an array that the other side has but empty
// (e.g. no withdrawals in a block) is a difference of content, not of form, and is left out.
func diff(a, b []string) (onlyA, onlyB []string) {
	in := func(s []string, x string) bool { i := sort.SearchStrings(s, x); return i < len(s) && s[i] == x }
	emptyArrayIn := func(s []string, x string) bool {
		for i := strings.Index(x, "[]"); i >= 0; i = nextIndex(x, "[]", i) {
			prefix := x[:i]
			if in(s, prefix+":array") && !hasPrefix(s, prefix+"[]") {
				return true
			}
		}
		return false
	}
	for _, x := range a {
		if !in(b, x) && !emptyArrayIn(b, x) {
			onlyA = append(onlyA, x)
		}
	}
	for _, x := range b {
		if !in(a, x) && !emptyArrayIn(a, x) {
			onlyB = append(onlyB, x)
		}
	}
	return onlyA, onlyB
}

func nextIndex(s, sub string, after int) int {
	j := strings.Index(s[after+len(sub):], sub)
	if j < 0 {
		return -1
	}
	return after + len(sub) + j
}

func hasPrefix(sorted []string, prefix string) bool {
	i := sort.SearchStrings(sorted, prefix)
	return i < len(sorted) && strings.HasPrefix(sorted[i], prefix)
}

// shape lists the paths of a decoded value that are nil (pointers, slices, maps, interfaces), with slice
// elements merged: two answers decode "identically" when their Go types and shapes agree.
func shape(v reflect.Value, path string, out map[string]bool) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			out[path+"=nil"] = true
			return
		}
		shape(v.Elem(), path, out)
	case reflect.Slice:
		if v.IsNil() {
			out[path+"=nil"] = true
			return
		}
		for i := 0; i < v.Len(); i++ {
			shape(v.Index(i), path+"[]", out)
		}
	case reflect.Map:
		if v.IsNil() {
			out[path+"=nil"] = true
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() {
				shape(v.Field(i), path+"."+f.Name, out)
			}
		}
	}
}

func shapeOf(x any) []string {
	set := map[string]bool{fmt.Sprintf("type=%T", x): true}
	shape(reflect.ValueOf(x), "", set)
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// metaKeys lists go-eth2-client's response metadata. For SSZ answers it holds the HTTP headers too; Vary
// (Prysm's caching hint) says nothing about the content and is left out.
func metaKeys(m map[string]any) []string {
	out := []string{}
	for k := range m {
		if k != "Vary" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// clientCall is one typed go-eth2-client call.
type clientCall struct {
	name string
	call func(ctx context.Context, c eth2client.Service) (data any, meta map[string]any, err error)
}

// testConformance asks Prysm and our simulated beacon server (a Deneb chain of the same size and slot time)
// the same requests — everything the scanner, the interval generation and the watchtower read — and checks
// that the answers agree in status, content type, consensus-version header and JSON fields (path and type),
// that SSZ answers decode into the same go-eth2-client types, that go-eth2-client's typed calls return the
// same Go types with the same fields present (in SSZ and in JSON mode), and that chain/beacon reads blocks of
// both alike.
func testConformance(ctx context.Context, t *testing.T, dn *devnet.Devnet) {
	const head = 40
	sim, err := simbeacon.New(ctx, simbeacon.WithScenario(&simbeacon.Scenario{Seed: 5, GenesisTime: dn.Genesis.Time - 1000,
		SecondsPerSlot: dn.Genesis.SecondsPerSlot, ValidatorCount: uint64(len(dn.Genesis.Pubkeys)), HeadSlot: head, Fork: "deneb",
		MissedSlotRate: 0.1, LateInclusionRate: 0.1, ChainID: devnet.ChainID}))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := simbeacon.NewServer(ctx, simbeacon.WithChain(sim), simbeacon.WithListenAddress("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Stop(context.Background()) }()
	servers := map[string]string{"prysm": dn.BeaconURL, "simnet": srv.URL()}

	// A slot with a block and attestations on both chains, and an empty slot of each.
	blockOn := func(base string, slot uint64) bool {
		a, err := ask(ctx, base, conformanceRequest{method: "GET", path: fmt.Sprintf("/eth/v1/beacon/headers/%d", slot), accept: "application/json"})
		return err == nil && a.status == http.StatusOK
	}
	slot, emptyPrysm, emptySim := uint64(0), uint64(0), uint64(0)
	for s := uint64(head - 2); s >= 8 && (slot == 0 || emptyPrysm == 0 || emptySim == 0); s-- {
		p, q := blockOn(dn.BeaconURL, s), blockOn(srv.URL(), s)
		switch {
		case p && q && slot == 0:
			slot = s
		case !p && emptyPrysm == 0:
			emptyPrysm = s
		case !q && emptySim == 0:
			emptySim = s
		}
	}
	if slot == 0 {
		t.Fatal("no slot with a block on both chains")
	}
	epoch := slot / 32
	sszBlock := func(b []byte) error { var x deneb.SignedBeaconBlock; return x.UnmarshalSSZ(b) }
	sszBlinded := func(b []byte) error { var x apiv1deneb.SignedBlindedBeaconBlock; return x.UnmarshalSSZ(b) }
	sszState := func(b []byte) error { var x deneb.BeaconState; return x.UnmarshalSSZ(b) }
	const js, ssz = "application/json", "application/octet-stream"
	s := strconv.FormatUint(slot, 10)
	reqs := []conformanceRequest{
		{name: "node version", path: "/eth/v1/node/version", accept: js},
		{name: "node syncing", path: "/eth/v1/node/syncing", accept: js},
		{name: "genesis", path: "/eth/v1/beacon/genesis", accept: js},
		{name: "fork", path: "/eth/v1/beacon/states/head/fork", accept: js},
		{name: "finality", path: "/eth/v1/beacon/states/" + s + "/finality_checkpoints", accept: js},
		{name: "finality head", path: "/eth/v1/beacon/states/head/finality_checkpoints", accept: js},
		{name: "state root", path: "/eth/v1/beacon/states/" + s + "/root", accept: js},
		{name: "randao", path: "/eth/v1/beacon/states/" + s + "/randao", accept: js},
		{name: "validators GET", path: "/eth/v1/beacon/states/" + s + "/validators?id=0,1,63", accept: js},
		{name: "validators POST", method: "POST", path: "/eth/v1/beacon/states/" + s + "/validators", body: `{"ids":["0","1","63"]}`, accept: js},
		{name: "committees", path: fmt.Sprintf("/eth/v1/beacon/states/%s/committees?epoch=%d", s, epoch), accept: js},
		{name: "header", path: "/eth/v1/beacon/headers/" + s, accept: js},
		{name: "header head", path: "/eth/v1/beacon/headers/head", accept: js},
		{name: "block root", path: "/eth/v1/beacon/blocks/" + s + "/root", accept: js},
		{name: "block JSON", path: "/eth/v2/beacon/blocks/" + s, accept: js},
		{name: "block SSZ", path: "/eth/v2/beacon/blocks/" + s, accept: ssz, ssz: sszBlock},
		{name: "blinded block JSON", path: "/eth/v1/beacon/blinded_blocks/" + s, accept: js},
		{name: "blinded block SSZ", path: "/eth/v1/beacon/blinded_blocks/" + s, accept: ssz, ssz: sszBlinded},
		{name: "state SSZ", path: "/eth/v2/debug/beacon/states/" + s, accept: ssz, ssz: sszState},
		{name: "proposer duties", path: fmt.Sprintf("/eth/v1/validator/duties/proposer/%d", epoch), accept: js},
	}
	var problems []string
	for _, r := range reqs {
		if r.method == "" {
			r.method = "GET"
		}
		got := map[string]*answer{}
		for name, base := range servers {
			a, err := ask(ctx, base, r)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %s: %v", r.name, name, err))
				continue
			}
			got[name] = a
		}
		p, q := got["prysm"], got["simnet"]
		if p == nil || q == nil {
			continue
		}
		if p.status != q.status || p.mediaType != q.mediaType || p.version != q.version {
			problems = append(problems, fmt.Sprintf("%s: Prysm %d %s version %q, simnet %d %s version %q", r.name, p.status, p.mediaType, p.version, q.status, q.mediaType, q.version))
			continue
		}
		if p.status != http.StatusOK {
			problems = append(problems, fmt.Sprintf("%s: both answer %d", r.name, p.status))
			continue
		}
		if onlyP, onlyQ := diff(p.fields, q.fields); len(onlyP)+len(onlyQ) > 0 {
			problems = append(problems, fmt.Sprintf("%s: fields only Prysm has %v, only simnet has %v", r.name, onlyP, onlyQ))
		}
	}
	// Empty slots: both answer 404 for the block, the blinded block and the header.
	for name, base := range servers {
		empty := emptyPrysm
		if name == "simnet" {
			empty = emptySim
		}
		if empty == 0 {
			continue
		}
		for _, path := range []string{"/eth/v2/beacon/blocks/%d", "/eth/v1/beacon/blinded_blocks/%d", "/eth/v1/beacon/headers/%d"} {
			a, err := ask(ctx, base, conformanceRequest{method: "GET", path: fmt.Sprintf(path, empty), accept: js})
			if err != nil || a.status != http.StatusNotFound {
				problems = append(problems, fmt.Sprintf("%s: empty slot %s: %v %+v, want 404", name, fmt.Sprintf(path, empty), err, a))
			}
		}
	}

	// go-eth2-client's typed calls, SSZ-preferring and JSON-only.
	id := phase0.Slot(slot)
	calls := []clientCall{
		{"Genesis", func(ctx context.Context, c eth2client.Service) (any, map[string]any, error) {
			r, err := c.(eth2client.GenesisProvider).Genesis(ctx, &api.GenesisOpts{})
			return dataMeta(r, err)
		}},
		{"Fork", func(ctx context.Context, c eth2client.Service) (any, map[string]any, error) {
			r, err := c.(eth2client.ForkProvider).Fork(ctx, &api.ForkOpts{State: "head"})
			return dataMeta(r, err)
		}},
		{"Spec", func(ctx context.Context, c eth2client.Service) (any, map[string]any, error) {
			r, err := c.(eth2client.SpecProvider).Spec(ctx, &api.SpecOpts{})
			if err != nil {
				return nil, nil, err
			}
			// The values our code reads, with the Go types go-eth2-client gives them.
			keys := map[string]string{}
			for _, k := range []string{"SECONDS_PER_SLOT", "SLOTS_PER_EPOCH", "SHUFFLE_ROUND_COUNT", "TARGET_COMMITTEE_SIZE",
				"MAX_COMMITTEES_PER_SLOT", "MIN_SEED_LOOKAHEAD", "EPOCHS_PER_HISTORICAL_VECTOR", "DOMAIN_BEACON_ATTESTER", "GENESIS_FORK_VERSION"} {
				keys[k] = fmt.Sprintf("%T", r.Data[k])
			}
			return keys, r.Metadata, nil
		}},
		{"BeaconBlockHeader", func(ctx context.Context, c eth2client.Service) (any, map[string]any, error) {
			r, err := c.(eth2client.BeaconBlockHeadersProvider).BeaconBlockHeader(ctx, &api.BeaconBlockHeaderOpts{Block: s})
			return dataMeta(r, err)
		}},
		{"SignedBeaconBlock", func(ctx context.Context, c eth2client.Service) (any, map[string]any, error) {
			r, err := c.(eth2client.SignedBeaconBlockProvider).SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: s})
			return dataMeta(r, err)
		}},
		{"BeaconState", func(ctx context.Context, c eth2client.Service) (any, map[string]any, error) {
			r, err := c.(eth2client.BeaconStateProvider).BeaconState(ctx, &api.BeaconStateOpts{State: s})
			return dataMeta(r, err)
		}},
		{"Validators", func(ctx context.Context, c eth2client.Service) (any, map[string]any, error) {
			r, err := c.(eth2client.ValidatorsProvider).Validators(ctx, &api.ValidatorsOpts{State: s, Indices: []phase0.ValidatorIndex{0, 1, 63}})
			return dataMeta(r, err)
		}},
		{"BeaconCommittees", func(ctx context.Context, c eth2client.Service) (any, map[string]any, error) {
			e := phase0.Epoch(epoch)
			r, err := c.(eth2client.BeaconCommitteesProvider).BeaconCommittees(ctx, &api.BeaconCommitteesOpts{State: s, Epoch: &e})
			return dataMeta(r, err)
		}},
		{"Finality", func(ctx context.Context, c eth2client.Service) (any, map[string]any, error) {
			r, err := c.(eth2client.FinalityProvider).Finality(ctx, &api.FinalityOpts{State: s})
			return dataMeta(r, err)
		}},
		{"ProposerDuties", func(ctx context.Context, c eth2client.Service) (any, map[string]any, error) {
			r, err := c.(eth2client.ProposerDutiesProvider).ProposerDuties(ctx, &api.ProposerDutiesOpts{Epoch: phase0.Epoch(epoch)})
			return dataMeta(r, err)
		}},
		{"NodeVersion", func(ctx context.Context, c eth2client.Service) (any, map[string]any, error) {
			r, err := c.(eth2client.NodeVersionProvider).NodeVersion(ctx, &api.NodeVersionOpts{})
			return dataMeta(r, err)
		}},
		{"NodeSyncing", func(ctx context.Context, c eth2client.Service) (any, map[string]any, error) {
			r, err := c.(eth2client.NodeSyncingProvider).NodeSyncing(ctx, &api.NodeSyncingOpts{})
			return dataMeta(r, err)
		}},
	}
	for _, enforceJSON := range []bool{false, true} {
		clients := map[string]eth2client.Service{}
		for name, base := range servers {
			c, err := eth2http.New(ctx, eth2http.WithAddress(base), eth2http.WithLogLevel(zerolog.Disabled), eth2http.WithEnforceJSON(enforceJSON), eth2http.WithTimeout(30*time.Second))
			if err != nil {
				t.Fatalf("go-eth2-client on %s: %v", name, err)
			}
			clients[name] = c
		}
		for _, cc := range calls {
			res := map[string][]string{}
			meta := map[string][]string{}
			for name, c := range clients {
				data, m, err := cc.call(ctx, c)
				if err != nil {
					problems = append(problems, fmt.Sprintf("%s (JSON only %t): %s: %v", cc.name, enforceJSON, name, err))
					continue
				}
				res[name], meta[name] = shapeOf(data), metaKeys(m)
				if cc.name == "Spec" {
					res[name] = []string{fmt.Sprint(data)}
				}
			}
			if len(res) < 2 {
				continue
			}
			if onlyP, onlyQ := diff(res["prysm"], res["simnet"]); len(onlyP)+len(onlyQ) > 0 {
				problems = append(problems, fmt.Sprintf("%s (JSON only %t): decoded shape only Prysm %v, only simnet %v", cc.name, enforceJSON, onlyP, onlyQ))
			}
			if onlyP, onlyQ := diff(meta["prysm"], meta["simnet"]); len(onlyP)+len(onlyQ) > 0 {
				problems = append(problems, fmt.Sprintf("%s (JSON only %t): metadata only Prysm %v, only simnet %v", cc.name, enforceJSON, onlyP, onlyQ))
			}
		}
	}

	// chain/beacon reads a block of each alike: blinded and full, SSZ and JSON, checked against the header.
	for _, enforceJSON := range []bool{false, true} {
		for _, full := range []bool{false, true} {
			shapes := map[string][]string{}
			for name, base := range servers {
				svc, err := beacon.New(ctx, beacon.WithAddresses(base), beacon.WithEnforceJSON(enforceJSON), beacon.WithTimeout(30*time.Second))
				if err != nil {
					t.Fatal(err)
				}
				b, err := svc.Block(ctx, id, full)
				svc.Close()
				if err != nil || b == nil {
					problems = append(problems, fmt.Sprintf("chain/beacon Block(%d, full %t, JSON %t) on %s: %v (nil block: %t)", slot, full, enforceJSON, name, err, b == nil))
					continue
				}
				sum := []string{fmt.Sprintf("version=%s blinded=%t payload=%t root=%t parent=%t attestations=%t withdrawals=%t",
					b.Version, b.Blinded, b.HasPayload, b.Root != phase0.Root{}, b.ParentRoot != phase0.Root{}, len(b.Attestations) > 0, b.Withdrawals != nil)}
				shapes[name] = sum
			}
			if fmt.Sprint(shapes["prysm"]) != fmt.Sprint(shapes["simnet"]) {
				problems = append(problems, fmt.Sprintf("chain/beacon Block(full %t, JSON %t): Prysm %v, simnet %v", full, enforceJSON, shapes["prysm"], shapes["simnet"]))
			}
		}
	}
	if len(problems) > 0 {
		t.Fatalf("the simulated beacon server differs from Prysm (slot %d):\n  %s", slot, strings.Join(problems, "\n  "))
	}
	t.Logf("simnet and Prysm agree on %d raw requests, %d typed calls × 2 encodings, chain/beacon blocks (slot %d, empty slots %d / %d)",
		len(reqs), len(calls), slot, emptyPrysm, emptySim)
}

func dataMeta[T any](r *api.Response[T], err error) (any, map[string]any, error) {
	if err != nil {
		return nil, nil, err
	}
	return r.Data, r.Metadata, nil
}
