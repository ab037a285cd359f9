package beacon

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	apiv1deneb "github.com/attestantio/go-eth2-client/api/v1/deneb"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/rs/zerolog"
)

// NodeVersion is what /eth/v1/node/version reports.
const NodeVersion = "odaowatch-simnet/v0.1.0"

// Server serves a Chain over the Beacon API on a loopback address.
type Server struct {
	log    zerolog.Logger
	chain  *Chain
	store  *BlockStore
	faults *faultInjector
	ln     net.Listener
	srv    *http.Server
	done   chan struct{}
}

type serverParameters struct {
	log     zerolog.Logger
	chain   *Chain
	address string
	faults  Faults
	store   *BlockStore
}

// ServerParameter configures NewServer.
type ServerParameter interface{ applyServer(*serverParameters) }

type serverParameterFunc func(*serverParameters)

func (f serverParameterFunc) applyServer(p *serverParameters) { f(p) }

// WithServerLogger sets the server's logger.
func WithServerLogger(l zerolog.Logger) ServerParameter {
	return serverParameterFunc(func(p *serverParameters) { p.log = l })
}

// WithChain sets the chain to serve (required).
func WithChain(c *Chain) ServerParameter {
	return serverParameterFunc(func(p *serverParameters) { p.chain = c })
}

// WithListenAddress sets host:port; the host must be a loopback address
// (default 127.0.0.1:0, an ephemeral port).
func WithListenAddress(a string) ServerParameter {
	return serverParameterFunc(func(p *serverParameters) { p.address = a })
}

// WithFaults enables fault injection.
func WithFaults(f Faults) ServerParameter {
	return serverParameterFunc(func(p *serverParameters) { p.faults = f })
}

// WithBlockStore serves blocks, blinded blocks and headers of the slots the
// store covers from it (PrepareBlockStore, OpenBlockStore) instead of
// generating them on request; the store must belong to the server's chain.
func WithBlockStore(bs *BlockStore) ServerParameter {
	return serverParameterFunc(func(p *serverParameters) { p.store = bs })
}

// NewServer starts serving the chain on loopback. Stop it with Stop.
func NewServer(ctx context.Context, params ...ServerParameter) (*Server, error) {
	p := &serverParameters{log: zerolog.Nop(), address: "127.0.0.1:0"}
	for _, x := range params {
		if x != nil {
			x.applyServer(p)
		}
	}
	if p.chain == nil {
		return nil, errors.New("simnet beacon server: no chain specified")
	}
	host, _, err := net.SplitHostPort(p.address)
	if err != nil {
		return nil, fmt.Errorf("simnet beacon server: parse listen address %q: %w", p.address, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("simnet beacon server: listen address %q is not loopback", p.address)
	}
	fi, err := newFaultInjector(p.faults, p.chain.sc.Seed)
	if err != nil {
		return nil, fmt.Errorf("simnet beacon server: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", p.address)
	if err != nil {
		return nil, fmt.Errorf("simnet beacon server: listen on %s: %w", p.address, err)
	}
	s := &Server{
		log:    p.log.With().Str("service", "simnet_beacon_server").Logger(),
		chain:  p.chain,
		store:  p.store,
		faults: fi,
		ln:     ln,
		done:   make(chan struct{}),
	}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("serve failed")
		}
	}()
	s.log.Info().Str("address", s.URL()).Msg("serving simulated beacon chain")
	return s, nil
}

// URL is the server's base URL.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Stop shuts the server down.
func (s *Server) Stop(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.done
	if err != nil {
		return fmt.Errorf("stop simnet beacon server: %w", err)
	}
	return nil
}

// Handler returns the HTTP handler (usable with httptest as well).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /eth/v1/node/syncing", s.nodeSyncing)
	mux.HandleFunc("GET /eth/v1/node/version", s.nodeVersion)
	mux.HandleFunc("GET /eth/v1/config/spec", s.configSpec)
	mux.HandleFunc("GET /eth/v1/beacon/genesis", s.genesis)
	mux.HandleFunc("GET /eth/v1/beacon/states/{state_id}/fork", s.fork)
	mux.HandleFunc("GET /eth/v1/beacon/states/{state_id}/finality_checkpoints", s.finality)
	mux.HandleFunc("GET /eth/v1/beacon/states/{state_id}/validators", s.validators)
	mux.HandleFunc("POST /eth/v1/beacon/states/{state_id}/validators", s.validators)
	mux.HandleFunc("GET /eth/v1/beacon/states/{state_id}/committees", s.committees)
	mux.HandleFunc("GET /eth/v1/beacon/states/{state_id}/root", s.stateRoot)
	mux.HandleFunc("GET /eth/v1/beacon/states/{state_id}/randao", s.randao)
	mux.HandleFunc("GET /eth/v2/debug/beacon/states/{state_id}", s.state)
	mux.HandleFunc("GET /eth/v2/beacon/blocks/{block_id}", s.block)
	mux.HandleFunc("GET /eth/v1/beacon/blinded_blocks/{block_id}", s.blindedBlock)
	mux.HandleFunc("GET /eth/v1/beacon/headers/{block_id}", s.header)
	mux.HandleFunc("GET /eth/v1/validator/duties/proposer/{epoch}", s.proposerDuties)
	mux.HandleFunc("GET /eth/v1/beacon/blocks/{block_id}/root", s.blockRoot)
	if s.faults != nil {
		return s.faults.wrap(mux)
	}
	return mux
}

// apiError writes the Beacon API error body.
func apiError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	body, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, msg})
	_, _ = w.Write(body)
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	var bad *badRequest
	switch {
	case errors.As(err, &bad):
		apiError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrNotFound):
		apiError(w, http.StatusNotFound, "NOT_FOUND: "+err.Error())
	default:
		s.log.Error().Err(err).Msg("request failed")
		apiError(w, http.StatusInternalServerError, err.Error())
	}
}

type badRequest struct{ msg string }

func (b *badRequest) Error() string { return b.msg }

func badf(format string, a ...any) error { return &badRequest{fmt.Sprintf(format, a...)} }

type envelope struct {
	Version             string          `json:"version,omitempty"`
	ExecutionOptimistic bool            `json:"execution_optimistic"`
	Finalized           bool            `json:"finalized"`
	Data                json.RawMessage `json:"data"`
}

func writeJSON(w http.ResponseWriter, version string, finalized bool, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	// The envelope around the encoded data, byte for byte what marshalling
	// envelope{...} gives, without encoding (re-compacting) the data twice:
	// a mainnet committees response is ~10 MB.
	head, err := json.Marshal(envelope{Version: version, Finalized: finalized, Data: json.RawMessage("null")})
	if err != nil {
		return fmt.Errorf("encode envelope: %w", err)
	}
	head = bytes.TrimSuffix(head, []byte("null}"))
	body := make([]byte, 0, len(head)+len(raw)+1)
	body = append(append(append(body, head...), raw...), '}')
	w.Header().Set("Content-Type", "application/json")
	if version != "" {
		w.Header().Set("Eth-Consensus-Version", version)
	}
	_, err = w.Write(body)
	return err
}

// writeData writes {"data": ...} without the state metadata (execution_optimistic, finalized): the node,
// genesis and config endpoints carry none, as real nodes answer them.
func writeData(w http.ResponseWriter, data any) error {
	body, err := json.Marshal(struct {
		Data any `json:"data"`
	}{data})
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(body)
	return err
}

func writeSSZ(w http.ResponseWriter, version string, body []byte) error {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Eth-Consensus-Version", version)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, err := w.Write(body)
	return err
}

// wantsSSZ reports whether the Accept header prefers application/octet-stream over JSON.
func wantsSSZ(r *http.Request) bool {
	best, bestQ := "", -1.0
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if qs, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(qs, 64); err == nil {
				q = v
			}
		}
		if (mt == "application/octet-stream" || mt == "application/json") && q > bestQ && q > 0 {
			best, bestQ = mt, q
		}
	}
	return best == "application/octet-stream"
}

func (s *Server) nodeSyncing(w http.ResponseWriter, _ *http.Request) {
	head := s.chain.HeadSlot()
	// apiv1.SyncState has no el_offline, which the spec (and Prysm) include.
	state := struct {
		HeadSlot     string `json:"head_slot"`
		SyncDistance string `json:"sync_distance"`
		IsSyncing    bool   `json:"is_syncing"`
		IsOptimistic bool   `json:"is_optimistic"`
		ELOffline    bool   `json:"el_offline"`
	}{HeadSlot: strconv.FormatUint(uint64(head), 10), SyncDistance: "0"}
	if err := writeData(w, state); err != nil {
		s.fail(w, err)
	}
}

func (s *Server) nodeVersion(w http.ResponseWriter, _ *http.Request) {
	if err := writeData(w, map[string]string{"version": NodeVersion}); err != nil {
		s.fail(w, err)
	}
}

// SpecValues is the /eth/v1/config/spec map (all values strings, as nodes serve them).
func (c *Chain) SpecValues() map[string]string {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	hexv := func(b []byte) string { return "0x" + hex.EncodeToString(b) }
	electraEpoch := u(uint64(c.electraForkEpoch()))
	return map[string]string{
		"CONFIG_NAME":                      "simnet",
		"PRESET_BASE":                      "mainnet",
		"SECONDS_PER_SLOT":                 u(c.sc.SecondsPerSlot),
		"SLOTS_PER_EPOCH":                  u(c.sc.SlotsPerEpoch),
		"MAX_COMMITTEES_PER_SLOT":          u(c.spec.MaxCommitteesPerSlot),
		"TARGET_COMMITTEE_SIZE":            u(c.spec.TargetCommitteeSize),
		"MAX_VALIDATORS_PER_COMMITTEE":     "2048",
		"SHUFFLE_ROUND_COUNT":              u(uint64(c.spec.ShuffleRoundCount)),
		"MIN_SEED_LOOKAHEAD":               u(c.spec.MinSeedLookahead),
		"MAX_SEED_LOOKAHEAD":               u(maxSeedLookahead),
		"EPOCHS_PER_HISTORICAL_VECTOR":     u(c.spec.EpochsPerHistoricalVector),
		"SLOTS_PER_HISTORICAL_ROOT":        u(slotsPerHistoricalRoot),
		"EPOCHS_PER_SLASHINGS_VECTOR":      u(epochsPerSlashings),
		"SYNC_COMMITTEE_SIZE":              u(syncCommitteeSize),
		"EPOCHS_PER_SYNC_COMMITTEE_PERIOD": "256",
		"MAX_EFFECTIVE_BALANCE":            u(maxEffectiveBalance),
		"MAX_WITHDRAWALS_PER_PAYLOAD":      u(maxWithdrawalsPerPayload),
		"MAX_ATTESTATIONS":                 "128",
		"MAX_ATTESTATIONS_ELECTRA":         "8",
		"FAR_FUTURE_EPOCH":                 u(uint64(farFuture)),
		"DOMAIN_BEACON_PROPOSER":           "0x00000000",
		"DOMAIN_BEACON_ATTESTER":           hexv(c.spec.DomainBeaconAttester[:]),
		"DOMAIN_RANDAO":                    "0x02000000",
		"GENESIS_FORK_VERSION":             "0x00000000",
		"ALTAIR_FORK_VERSION":              "0x01000000",
		"ALTAIR_FORK_EPOCH":                "0",
		"BELLATRIX_FORK_VERSION":           "0x02000000",
		"BELLATRIX_FORK_EPOCH":             "0",
		"CAPELLA_FORK_VERSION":             "0x03000000",
		"CAPELLA_FORK_EPOCH":               "0",
		"DENEB_FORK_VERSION":               hexv(denebForkVersion[:]),
		"DENEB_FORK_EPOCH":                 "0",
		"ELECTRA_FORK_VERSION":             hexv(electraForkVersion[:]),
		"ELECTRA_FORK_EPOCH":               electraEpoch,
		"DEPOSIT_CHAIN_ID":                 u(c.sc.ChainID),
		"DEPOSIT_NETWORK_ID":               u(c.sc.ChainID),
		"MIN_GENESIS_TIME":                 u(c.sc.GenesisTime),
		"GENESIS_DELAY":                    "0",
	}
}

func (s *Server) configSpec(w http.ResponseWriter, _ *http.Request) {
	if err := writeData(w, s.chain.SpecValues()); err != nil {
		s.fail(w, err)
	}
}

func (s *Server) genesis(w http.ResponseWriter, _ *http.Request) {
	g := &apiv1.Genesis{
		GenesisTime:           time.Unix(int64(s.chain.sc.GenesisTime), 0),
		GenesisValidatorsRoot: phase0.Root(hash32(s.chain.sc.Seed, purposeGVR, 0)),
		GenesisForkVersion:    phase0.Version{},
	}
	if err := writeData(w, g); err != nil {
		s.fail(w, err)
	}
}

// stateSlot resolves a state id to a slot.
func (s *Server) stateSlot(id string) (phase0.Slot, error) {
	c := s.chain
	head := c.HeadSlot()
	var slot phase0.Slot
	switch {
	case id == "head":
		slot = head
	case id == "genesis":
		slot = 0
	case id == "finalized":
		slot = c.firstSlot(c.FinalizedEpoch(head))
	case id == "justified":
		slot = c.firstSlot(c.JustifiedEpoch(head))
	case strings.HasPrefix(id, "0x"):
		r, err := parseRoot(id)
		if err != nil {
			return 0, err
		}
		sl, ok := c.slotOfRoot(purposeStateRoot, r)
		if !ok {
			return 0, fmt.Errorf("state root %s: %w", id, ErrNotFound)
		}
		slot = sl
	default:
		v, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return 0, badf("invalid state id %q", id)
		}
		slot = phase0.Slot(v)
	}
	if slot > head {
		return 0, fmt.Errorf("state at slot %d (head %d): %w", slot, head, ErrNotFound)
	}
	return slot, nil
}

// blockSlot resolves a block id to the slot of an existing block.
func (s *Server) blockSlot(id string) (phase0.Slot, error) {
	c := s.chain
	head := c.HeadSlot()
	switch {
	case id == "head":
		return c.prevBlockSlot(head), nil
	case id == "genesis":
		return 0, nil
	case id == "finalized":
		return c.prevBlockSlot(c.firstSlot(c.FinalizedEpoch(head))), nil
	case id == "justified":
		return c.prevBlockSlot(c.firstSlot(c.JustifiedEpoch(head))), nil
	case strings.HasPrefix(id, "0x"):
		r, err := parseRoot(id)
		if err != nil {
			return 0, err
		}
		sl, ok := c.slotOfRoot(purposeBlockRoot, r)
		if !ok || !c.HasBlock(sl) {
			return 0, fmt.Errorf("block root %s: %w", id, ErrNotFound)
		}
		return sl, nil
	default:
		v, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return 0, badf("invalid block id %q", id)
		}
		if !c.HasBlock(phase0.Slot(v)) {
			return 0, fmt.Errorf("block at slot %d: %w", v, ErrNotFound)
		}
		return phase0.Slot(v), nil
	}
}

func parseRoot(id string) (phase0.Root, error) {
	b, err := hex.DecodeString(strings.TrimPrefix(id, "0x"))
	if err != nil || len(b) != 32 {
		return phase0.Root{}, badf("invalid root %q", id)
	}
	return phase0.Root(b), nil
}

func (s *Server) isFinalized(slot phase0.Slot) bool {
	return s.chain.epochOf(slot) <= s.chain.FinalizedEpoch(s.chain.HeadSlot())
}

func (s *Server) finality(w http.ResponseWriter, r *http.Request) {
	slot, err := s.stateSlot(r.PathValue("state_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	c := s.chain
	fin, just := c.FinalizedEpoch(slot), c.JustifiedEpoch(slot)
	prev := fin
	f := &apiv1.Finality{Finalized: c.checkpoint(fin), Justified: c.checkpoint(just), PreviousJustified: c.checkpoint(prev)}
	if err := writeJSON(w, "", s.isFinalized(slot), f); err != nil {
		s.fail(w, err)
	}
}

// fork serves the state's fork (the value the served state carries).
func (s *Server) fork(w http.ResponseWriter, r *http.Request) {
	slot, err := s.stateSlot(r.PathValue("state_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := writeJSON(w, "", s.isFinalized(slot), s.chain.Fork(slot)); err != nil {
		s.fail(w, err)
	}
}

func (s *Server) stateRoot(w http.ResponseWriter, r *http.Request) {
	slot, err := s.stateSlot(r.PathValue("state_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := writeJSON(w, "", s.isFinalized(slot), map[string]string{"root": s.chain.StateRoot(slot).String()}); err != nil {
		s.fail(w, err)
	}
}

// randao serves get_randao_mix(state, epoch) (epoch defaults to the state's).
func (s *Server) randao(w http.ResponseWriter, r *http.Request) {
	slot, err := s.stateSlot(r.PathValue("state_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	c := s.chain
	cur := c.epochOf(slot)
	epoch := cur
	if v := r.URL.Query().Get("epoch"); v != "" {
		e, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			s.fail(w, badf("invalid epoch %q", v))
			return
		}
		epoch = phase0.Epoch(e)
	}
	l := c.spec.EpochsPerHistoricalVector
	if epoch > cur || uint64(cur-epoch) >= l {
		s.fail(w, badf("epoch %d is outside the randao history of the state at slot %d", epoch, slot))
		return
	}
	if err := writeJSON(w, "", s.isFinalized(slot), map[string]string{"randao": c.mix(epoch).String()}); err != nil {
		s.fail(w, err)
	}
}

func (s *Server) blockRoot(w http.ResponseWriter, r *http.Request) {
	slot, err := s.blockSlot(r.PathValue("block_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := writeJSON(w, "", s.isFinalized(slot), map[string]string{"root": s.chain.BlockRoot(slot).String()}); err != nil {
		s.fail(w, err)
	}
}

// statusMatches implements the API's status filter (exact or general status).
func statusMatches(st apiv1.ValidatorState, filters []string) bool {
	if len(filters) == 0 {
		return true
	}
	name := st.String()
	for _, f := range filters {
		if f == name || strings.HasPrefix(name, f+"_") || (f == "withdrawal" && strings.HasPrefix(name, "withdrawal_")) {
			return true
		}
	}
	return false
}

func (s *Server) validators(w http.ResponseWriter, r *http.Request) {
	slot, err := s.stateSlot(r.PathValue("state_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	var ids, statuses []string
	if r.Method == http.MethodPost {
		var body struct {
			IDs      []string `json:"ids"`
			Statuses []string `json:"statuses"`
		}
		if r.ContentLength != 0 {
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20)).Decode(&body); err != nil {
				s.fail(w, badf("invalid validators request body: %v", err))
				return
			}
		}
		ids, statuses = body.IDs, body.Statuses
	} else {
		for _, v := range r.URL.Query()["id"] {
			ids = append(ids, strings.Split(v, ",")...)
		}
		for _, v := range r.URL.Query()["status"] {
			statuses = append(statuses, strings.Split(v, ",")...)
		}
	}
	c := s.chain
	e := c.epochOf(slot)
	n := c.sc.ValidatorCount
	var indices []phase0.ValidatorIndex
	if len(ids) == 0 {
		indices = make([]phase0.ValidatorIndex, n)
		for i := range indices {
			indices[i] = phase0.ValidatorIndex(i)
		}
	} else {
		seen := make(map[phase0.ValidatorIndex]bool, len(ids))
		for _, id := range ids {
			var idx phase0.ValidatorIndex
			if strings.HasPrefix(id, "0x") {
				b, err := hex.DecodeString(id[2:])
				if err != nil || len(b) != 48 {
					s.fail(w, badf("invalid validator id %q", id))
					return
				}
				found, ok := c.ValidatorByPubkey(phase0.BLSPubKey(b))
				if !ok {
					continue // unknown keys are omitted, as nodes do
				}
				idx = found
			} else {
				v, err := strconv.ParseUint(id, 10, 64)
				if err != nil {
					s.fail(w, badf("invalid validator id %q", id))
					return
				}
				if v >= n {
					continue
				}
				idx = phase0.ValidatorIndex(v)
			}
			if !seen[idx] {
				seen[idx] = true
				indices = append(indices, idx)
			}
		}
		slices.Sort(indices)
	}
	out := make([]*apiv1.Validator, 0, len(indices))
	for _, idx := range indices {
		v := c.APIValidator(idx, e)
		if statusMatches(v.Status, statuses) {
			out = append(out, v)
		}
	}
	if err := writeJSON(w, "", s.isFinalized(slot), out); err != nil {
		s.fail(w, err)
	}
}

func (s *Server) committees(w http.ResponseWriter, r *http.Request) {
	slot, err := s.stateSlot(r.PathValue("state_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	c := s.chain
	q := r.URL.Query()
	epoch := c.epochOf(slot)
	if v := q.Get("epoch"); v != "" {
		e, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			s.fail(w, badf("invalid epoch %q", v))
			return
		}
		epoch = phase0.Epoch(e)
	}
	if epoch > c.epochOf(slot)+phase0.Epoch(c.spec.MinSeedLookahead) {
		s.fail(w, badf("epoch %d is too far in the future for state at slot %d", epoch, slot))
		return
	}
	if back := c.spec.EpochsPerHistoricalVector - c.spec.MinSeedLookahead - 1; uint64(c.epochOf(slot)) >= back && epoch <= c.epochOf(slot)-phase0.Epoch(back) {
		s.fail(w, badf("epoch %d is too old for state at slot %d", epoch, slot))
		return
	}
	var wantIndex, wantSlot *uint64
	if v := q.Get("index"); v != "" {
		x, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			s.fail(w, badf("invalid index %q", v))
			return
		}
		wantIndex = &x
	}
	if v := q.Get("slot"); v != "" {
		x, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			s.fail(w, badf("invalid slot %q", v))
			return
		}
		if c.epochOf(phase0.Slot(x)) != epoch {
			s.fail(w, badf("slot %d is not in epoch %d", x, epoch))
			return
		}
		wantSlot = &x
	}
	ec, err := c.Committees(epoch)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := make([]*apiv1.BeaconCommittee, 0, ec.Count())
	ec.ForEach(func(sl phase0.Slot, idx phase0.CommitteeIndex, members []phase0.ValidatorIndex) {
		if (wantSlot != nil && uint64(sl) != *wantSlot) || (wantIndex != nil && uint64(idx) != *wantIndex) {
			return
		}
		out = append(out, &apiv1.BeaconCommittee{Slot: sl, Index: idx, Validators: members})
	})
	if err := writeJSON(w, "", s.isFinalized(slot), out); err != nil {
		s.fail(w, err)
	}
}

func (s *Server) state(w http.ResponseWriter, r *http.Request) {
	slot, err := s.stateSlot(r.PathValue("state_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	st, err := s.chain.State(r.Context(), slot)
	if err != nil {
		s.fail(w, err)
		return
	}
	version := st.Version.String()
	var data interface {
		MarshalSSZ() ([]byte, error)
	}
	switch st.Version {
	case spec.DataVersionDeneb:
		data = st.Deneb
	default:
		data = st.Electra
	}
	if wantsSSZ(r) {
		body, err := data.MarshalSSZ()
		if err != nil {
			s.fail(w, fmt.Errorf("encode state: %w", err))
			return
		}
		err = writeSSZ(w, version, body)
		if err != nil {
			s.log.Debug().Err(err).Msg("write state")
		}
		return
	}
	if err := writeJSON(w, version, s.isFinalized(slot), data); err != nil {
		s.fail(w, err)
	}
}

func (s *Server) block(w http.ResponseWriter, r *http.Request) {
	slot, err := s.blockSlot(r.PathValue("block_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if s.store != nil && s.store.has(slot) {
		s.fromStore(w, r, slot, partFull)
		return
	}
	blk, err := s.chain.Block(r.Context(), slot)
	if err != nil {
		s.fail(w, err)
		return
	}
	var data interface {
		MarshalSSZ() ([]byte, error)
	}
	switch blk.Version {
	case spec.DataVersionDeneb:
		data = blk.Deneb
	default:
		data = blk.Electra
	}
	s.writeVersioned(w, r, blk.Version, slot, data)
}

func (s *Server) writeVersioned(w http.ResponseWriter, r *http.Request, v spec.DataVersion, slot phase0.Slot, data interface {
	MarshalSSZ() ([]byte, error)
},
) {
	if wantsSSZ(r) {
		body, err := data.MarshalSSZ()
		if err != nil {
			s.fail(w, fmt.Errorf("encode block: %w", err))
			return
		}
		if err := writeSSZ(w, v.String(), body); err != nil {
			s.log.Debug().Err(err).Msg("write block")
		}
		return
	}
	if err := writeJSON(w, v.String(), s.isFinalized(slot), data); err != nil {
		s.fail(w, err)
	}
}

func (s *Server) blindedBlock(w http.ResponseWriter, r *http.Request) {
	slot, err := s.blockSlot(r.PathValue("block_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if s.store != nil && s.store.has(slot) {
		s.fromStore(w, r, slot, partBlinded)
		return
	}
	blk, err := s.chain.BlindedBlock(r.Context(), slot)
	if err != nil {
		s.fail(w, err)
		return
	}
	var data interface {
		MarshalSSZ() ([]byte, error)
	}
	v := s.chain.VersionAt(slot)
	switch b := blk.(type) {
	case *apiv1deneb.SignedBlindedBeaconBlock:
		data = b
	case *apiv1electra.SignedBlindedBeaconBlock:
		data = b
	}
	s.writeVersioned(w, r, v, slot, data)
}

func (s *Server) header(w http.ResponseWriter, r *http.Request) {
	slot, err := s.blockSlot(r.PathValue("block_id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if s.store != nil && s.store.has(slot) {
		s.fromStore(w, r, slot, partHeader)
		return
	}
	h, err := s.chain.Header(r.Context(), slot)
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := writeJSON(w, "", s.isFinalized(slot), h); err != nil {
		s.fail(w, err)
	}
}

// proposerDuties lists the proposer of every slot of an epoch (slot 0 excluded),
// missed slots included, for epochs up to the head epoch + 1.
func (s *Server) proposerDuties(w http.ResponseWriter, r *http.Request) {
	c := s.chain
	v, err := strconv.ParseUint(r.PathValue("epoch"), 10, 64)
	if err != nil {
		s.fail(w, badf("invalid epoch %q", r.PathValue("epoch")))
		return
	}
	epoch := phase0.Epoch(v)
	if epoch > c.epochOf(c.HeadSlot())+1 {
		s.fail(w, badf("epoch %d is too far in the future", epoch))
		return
	}
	out := make([]*apiv1.ProposerDuty, 0, c.sc.SlotsPerEpoch)
	for sl := c.firstSlot(epoch); sl < c.firstSlot(epoch+1); sl++ {
		if sl == 0 {
			continue
		}
		p, err := c.Proposer(sl)
		if err != nil {
			s.fail(w, err)
			return
		}
		out = append(out, &apiv1.ProposerDuty{PubKey: c.Pubkey(p), Slot: sl, ValidatorIndex: p})
	}
	w.Header().Set("Content-Type", "application/json")
	raw, err := json.Marshal(out)
	if err != nil {
		s.fail(w, fmt.Errorf("encode proposer duties: %w", err))
		return
	}
	dep := c.BlockRoot(c.prevBlockSlot(max(c.firstSlot(epoch), 1) - 1))
	body, err := json.Marshal(struct {
		DependentRoot       string          `json:"dependent_root"`
		ExecutionOptimistic bool            `json:"execution_optimistic"`
		Data                json.RawMessage `json:"data"`
	}{dep.String(), false, raw})
	if err != nil {
		s.fail(w, fmt.Errorf("encode proposer duties: %w", err))
		return
	}
	_, _ = w.Write(body)
}

// fromStore answers a block, blinded-block or header request from the block
// store: SSZ bytes as stored, JSON encoded from the decoded block (as a node
// encodes its stored SSZ blocks on request). A header is built from the
// stored blinded block with its body hashed on request, as nodes do (~35 µs
// per header at mainnet size); the header stored at prepare time is only
// compared with the chain when the store is opened.
func (s *Server) fromStore(w http.ResponseWriter, r *http.Request, slot phase0.Slot, part int) {
	if part == partHeader {
		h, err := s.storedHeader(slot)
		if err != nil {
			s.fail(w, err)
			return
		}
		if err := writeJSON(w, "", s.isFinalized(slot), h); err != nil {
			s.fail(w, err)
		}
		return
	}
	raw, err := s.store.read(slot, part)
	if err != nil {
		s.fail(w, err)
		return
	}
	v := s.chain.VersionAt(slot)
	if wantsSSZ(r) {
		if err := writeSSZ(w, v.String(), raw); err != nil {
			s.log.Debug().Err(err).Msg("write stored block")
		}
		return
	}
	var data interface {
		MarshalSSZ() ([]byte, error)
		UnmarshalSSZ([]byte) error
	}
	switch {
	case v == spec.DataVersionDeneb && part == partFull:
		data = &deneb.SignedBeaconBlock{}
	case v == spec.DataVersionDeneb:
		data = &apiv1deneb.SignedBlindedBeaconBlock{}
	case part == partFull:
		data = &electra.SignedBeaconBlock{}
	default:
		data = &apiv1electra.SignedBlindedBeaconBlock{}
	}
	if err := data.UnmarshalSSZ(raw); err != nil {
		s.fail(w, fmt.Errorf("decode stored block at slot %d: %w", slot, err))
		return
	}
	if err := writeJSON(w, v.String(), s.isFinalized(slot), data); err != nil {
		s.fail(w, err)
	}
}

// storedHeader decodes the stored blinded block at slot and hashes its body
// (the blinded body has the same root as the full one).
func (s *Server) storedHeader(slot phase0.Slot) (*apiv1.BeaconBlockHeader, error) {
	raw, err := s.store.read(slot, partBlinded)
	if err != nil {
		return nil, err
	}
	var msg *phase0.BeaconBlockHeader
	var sig phase0.BLSSignature
	switch s.chain.VersionAt(slot) {
	case spec.DataVersionDeneb:
		b := &apiv1deneb.SignedBlindedBeaconBlock{}
		if err := b.UnmarshalSSZ(raw); err != nil {
			return nil, fmt.Errorf("decode stored block at slot %d: %w", slot, err)
		}
		root, err := b.Message.Body.HashTreeRoot()
		if err != nil {
			return nil, fmt.Errorf("body root of slot %d: %w", slot, err)
		}
		m := b.Message
		msg = &phase0.BeaconBlockHeader{Slot: m.Slot, ProposerIndex: m.ProposerIndex, ParentRoot: m.ParentRoot, StateRoot: m.StateRoot, BodyRoot: root}
		sig = b.Signature
	default:
		b := &apiv1electra.SignedBlindedBeaconBlock{}
		if err := b.UnmarshalSSZ(raw); err != nil {
			return nil, fmt.Errorf("decode stored block at slot %d: %w", slot, err)
		}
		root, err := b.Message.Body.HashTreeRoot()
		if err != nil {
			return nil, fmt.Errorf("body root of slot %d: %w", slot, err)
		}
		m := b.Message
		msg = &phase0.BeaconBlockHeader{Slot: m.Slot, ProposerIndex: m.ProposerIndex, ParentRoot: m.ParentRoot, StateRoot: m.StateRoot, BodyRoot: root}
		sig = b.Signature
	}
	return &apiv1.BeaconBlockHeader{Root: s.chain.BlockRoot(slot), Canonical: true,
		Header: &phase0.SignedBeaconBlockHeader{Message: msg, Signature: sig}}, nil
}
