package beacon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	bitfield "github.com/OffchainLabs/go-bitfield"
	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	apiv1capella "github.com/attestantio/go-eth2-client/api/v1/capella"
	apiv1deneb "github.com/attestantio/go-eth2-client/api/v1/deneb"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// Attestation is one aggregate attestation, fork-independent.
type Attestation struct {
	// Slot of the attested duty (data.slot).
	Slot phase0.Slot
	// CommitteeIndex is data.index (the committee before Electra; 0 after).
	CommitteeIndex phase0.CommitteeIndex
	// CommitteeBits selects the committees of the slot (Electra and later);
	// nil before Electra.
	CommitteeBits bitfield.Bitvector64
	// AggregationBits: one bit per member of the selected committees, in
	// committee-index order (Electra), or of the one committee (before).
	AggregationBits bitfield.Bitlist
}

// Block is the part of a beacon block the scanner uses.
type Block struct {
	Slot          phase0.Slot
	ProposerIndex phase0.ValidatorIndex
	// Root is the block root from the verified header (zero when blocks are
	// not verified); ParentRoot is the block's parent_root.
	Root         phase0.Root
	ParentRoot   phase0.Root
	Version      spec.DataVersion
	Blinded      bool
	Attestations []Attestation
	// Withdrawals of the execution payload (Capella and later, full blocks
	// only; nil for blinded blocks, which carry only their root).
	Withdrawals []*capella.Withdrawal
	// HasPayload: the block carries a (non-empty) execution payload; then
	// ExecutionBlockNumber and ExecutionBlockHash are its EL block.
	HasPayload           bool
	ExecutionBlockNumber uint64
	ExecutionBlockHash   phase0.Hash32
}

func (b *Block) setPayload(number uint64, hash phase0.Hash32) {
	b.ExecutionBlockNumber, b.ExecutionBlockHash = number, hash
	b.HasPayload = hash != phase0.Hash32{}
}

func phase0Atts(in []*phase0.Attestation) ([]Attestation, error) {
	out := make([]Attestation, len(in))
	for i, a := range in {
		if a == nil || a.Data == nil {
			return nil, fmt.Errorf("attestation %d is empty", i)
		}
		out[i] = Attestation{Slot: a.Data.Slot, CommitteeIndex: a.Data.Index, AggregationBits: a.AggregationBits}
	}
	return out, nil
}

func electraAtts(in []*electra.Attestation) ([]Attestation, error) {
	out := make([]Attestation, len(in))
	for i, a := range in {
		if a == nil || a.Data == nil || a.CommitteeBits == nil {
			return nil, fmt.Errorf("attestation %d is empty", i)
		}
		out[i] = Attestation{Slot: a.Data.Slot, CommitteeIndex: a.Data.Index, CommitteeBits: a.CommitteeBits, AggregationBits: a.AggregationBits}
	}
	return out, nil
}

type hashRooter interface{ HashTreeRoot() ([32]byte, error) }

// blockParts is what is compared with the header.
type blockParts struct {
	slot       phase0.Slot
	proposer   phase0.ValidatorIndex
	parentRoot phase0.Root
	stateRoot  phase0.Root
	body       hashRooter
}

func summarizeFull(v *spec.VersionedSignedBeaconBlock) (*Block, *blockParts, error) {
	b := &Block{Version: v.Version}
	var parts blockParts
	var err error
	set := func(slot phase0.Slot, prop phase0.ValidatorIndex, parent, state phase0.Root, body hashRooter) {
		b.Slot, b.ProposerIndex, b.ParentRoot = slot, prop, parent
		parts = blockParts{slot, prop, parent, state, body}
	}
	switch v.Version {
	case spec.DataVersionPhase0:
		if v.Phase0 == nil || v.Phase0.Message == nil || v.Phase0.Message.Body == nil {
			return nil, nil, errors.New("empty phase0 block")
		}
		m := v.Phase0.Message
		set(m.Slot, m.ProposerIndex, m.ParentRoot, m.StateRoot, m.Body)
		b.Attestations, err = phase0Atts(m.Body.Attestations)
	case spec.DataVersionAltair:
		if v.Altair == nil || v.Altair.Message == nil || v.Altair.Message.Body == nil {
			return nil, nil, errors.New("empty altair block")
		}
		m := v.Altair.Message
		set(m.Slot, m.ProposerIndex, m.ParentRoot, m.StateRoot, m.Body)
		b.Attestations, err = phase0Atts(m.Body.Attestations)
	case spec.DataVersionBellatrix:
		if v.Bellatrix == nil || v.Bellatrix.Message == nil || v.Bellatrix.Message.Body == nil {
			return nil, nil, errors.New("empty bellatrix block")
		}
		m := v.Bellatrix.Message
		set(m.Slot, m.ProposerIndex, m.ParentRoot, m.StateRoot, m.Body)
		b.Attestations, err = phase0Atts(m.Body.Attestations)
		if p := m.Body.ExecutionPayload; p != nil {
			b.setPayload(p.BlockNumber, p.BlockHash)
		}
	case spec.DataVersionCapella:
		if v.Capella == nil || v.Capella.Message == nil || v.Capella.Message.Body == nil || v.Capella.Message.Body.ExecutionPayload == nil {
			return nil, nil, errors.New("empty capella block")
		}
		m := v.Capella.Message
		set(m.Slot, m.ProposerIndex, m.ParentRoot, m.StateRoot, m.Body)
		b.Attestations, err = phase0Atts(m.Body.Attestations)
		b.Withdrawals = m.Body.ExecutionPayload.Withdrawals
		b.setPayload(m.Body.ExecutionPayload.BlockNumber, m.Body.ExecutionPayload.BlockHash)
	case spec.DataVersionDeneb:
		if v.Deneb == nil || v.Deneb.Message == nil || v.Deneb.Message.Body == nil || v.Deneb.Message.Body.ExecutionPayload == nil {
			return nil, nil, errors.New("empty deneb block")
		}
		m := v.Deneb.Message
		set(m.Slot, m.ProposerIndex, m.ParentRoot, m.StateRoot, m.Body)
		b.Attestations, err = phase0Atts(m.Body.Attestations)
		b.Withdrawals = m.Body.ExecutionPayload.Withdrawals
		b.setPayload(m.Body.ExecutionPayload.BlockNumber, m.Body.ExecutionPayload.BlockHash)
	case spec.DataVersionElectra, spec.DataVersionFulu:
		sb := v.Electra
		if v.Version == spec.DataVersionFulu {
			sb = v.Fulu
		}
		if sb == nil || sb.Message == nil || sb.Message.Body == nil || sb.Message.Body.ExecutionPayload == nil {
			return nil, nil, fmt.Errorf("empty %s block", v.Version)
		}
		m := sb.Message
		set(m.Slot, m.ProposerIndex, m.ParentRoot, m.StateRoot, m.Body)
		b.Attestations, err = electraAtts(m.Body.Attestations)
		b.Withdrawals = m.Body.ExecutionPayload.Withdrawals
		b.setPayload(m.Body.ExecutionPayload.BlockNumber, m.Body.ExecutionPayload.BlockHash)
	default:
		return nil, nil, fmt.Errorf("unsupported block version %s", v.Version)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("decode %s block at slot %d: %w", v.Version, b.Slot, err)
	}
	if b.Withdrawals == nil && v.Version >= spec.DataVersionCapella {
		b.Withdrawals = []*capella.Withdrawal{}
	}
	return b, &parts, nil
}

// summarizeBlinded handles *apiv1capella/deneb/electra.SignedBlindedBeaconBlock.
func summarizeBlinded(version spec.DataVersion, blk any) (*Block, *blockParts, error) {
	b := &Block{Version: version, Blinded: true}
	var parts blockParts
	var err error
	switch x := blk.(type) {
	case *apiv1capella.SignedBlindedBeaconBlock:
		if x.Message == nil || x.Message.Body == nil {
			return nil, nil, errors.New("empty blinded block")
		}
		m := x.Message
		parts = blockParts{m.Slot, m.ProposerIndex, m.ParentRoot, m.StateRoot, m.Body}
		b.Attestations, err = phase0Atts(m.Body.Attestations)
		if h := m.Body.ExecutionPayloadHeader; h != nil {
			b.setPayload(h.BlockNumber, h.BlockHash)
		}
	case *apiv1deneb.SignedBlindedBeaconBlock:
		if x.Message == nil || x.Message.Body == nil {
			return nil, nil, errors.New("empty blinded block")
		}
		m := x.Message
		parts = blockParts{m.Slot, m.ProposerIndex, m.ParentRoot, m.StateRoot, m.Body}
		b.Attestations, err = phase0Atts(m.Body.Attestations)
		if h := m.Body.ExecutionPayloadHeader; h != nil {
			b.setPayload(h.BlockNumber, h.BlockHash)
		}
	case *apiv1electra.SignedBlindedBeaconBlock:
		if x.Message == nil || x.Message.Body == nil {
			return nil, nil, errors.New("empty blinded block")
		}
		m := x.Message
		parts = blockParts{m.Slot, m.ProposerIndex, m.ParentRoot, m.StateRoot, m.Body}
		b.Attestations, err = electraAtts(m.Body.Attestations)
		if h := m.Body.ExecutionPayloadHeader; h != nil {
			b.setPayload(h.BlockNumber, h.BlockHash)
		}
	default:
		return nil, nil, fmt.Errorf("unsupported blinded block type %T", blk)
	}
	b.Slot, b.ProposerIndex, b.ParentRoot = parts.slot, parts.proposer, parts.parentRoot
	if err != nil {
		return nil, nil, fmt.Errorf("decode blinded %s block at slot %d: %w", version, b.Slot, err)
	}
	return b, &parts, nil
}

// verify compares a block with its header; any difference is ErrMismatch.
func verify(parts *blockParts, h *phase0.BeaconBlockHeader) error {
	switch {
	case parts.slot != h.Slot:
		return fmt.Errorf("%w: block slot %d, header slot %d", ErrMismatch, parts.slot, h.Slot)
	case parts.proposer != h.ProposerIndex:
		return fmt.Errorf("%w: block at slot %d: proposer %d, header proposer %d", ErrMismatch, parts.slot, parts.proposer, h.ProposerIndex)
	case parts.parentRoot != h.ParentRoot:
		return fmt.Errorf("%w: block at slot %d: parent root %s, header %s", ErrMismatch, parts.slot, parts.parentRoot, h.ParentRoot)
	case parts.stateRoot != h.StateRoot:
		return fmt.Errorf("%w: block at slot %d: state root %s, header %s", ErrMismatch, parts.slot, parts.stateRoot, h.StateRoot)
	}
	root, err := parts.body.HashTreeRoot()
	if err != nil {
		return fmt.Errorf("%w: block at slot %d: body root: %w", ErrMismatch, parts.slot, err)
	}
	if phase0.Root(root) != h.BodyRoot {
		return fmt.Errorf("%w: block at slot %d: body root %s does not match header body root %s", ErrMismatch, parts.slot, phase0.Root(root), h.BodyRoot)
	}
	return nil
}

func checkHeader(h *apiv1.BeaconBlockHeader) error {
	if h == nil || h.Header == nil || h.Header.Message == nil {
		return fmt.Errorf("%w: empty header", ErrMismatch)
	}
	return nil
}

func (s *Service) header(ctx context.Context, ep *endpoint, id string) (*apiv1.BeaconBlockHeader, error) {
	resp, err := ep.client.BeaconBlockHeader(ctx, &api.BeaconBlockHeaderOpts{Block: id})
	if err != nil {
		return nil, fmt.Errorf("header %s: %w", id, classify(err))
	}
	if err := checkHeader(resp.Data); err != nil {
		return nil, fmt.Errorf("header %s: %w", id, err)
	}
	return resp.Data, nil
}

// Header fetches the header of block id (slot, root, head, finalized, ...).
func (s *Service) Header(ctx context.Context, id string) (*apiv1.BeaconBlockHeader, error) {
	var out *apiv1.BeaconBlockHeader
	err := s.call(ctx, "header", func(ctx context.Context, ep *endpoint) error {
		h, err := s.header(ctx, ep, id)
		out = h
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) fullBlock(ctx context.Context, ep *endpoint, id string) (*Block, *blockParts, error) {
	resp, err := ep.client.SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: id})
	if err != nil {
		return nil, nil, fmt.Errorf("block %s: %w", id, classify(err))
	}
	if resp.Data == nil {
		return nil, nil, fmt.Errorf("block %s: empty response", id)
	}
	b, parts, err := summarizeFull(resp.Data)
	if err != nil {
		return nil, nil, fmt.Errorf("block %s: %w", id, err)
	}
	return b, parts, nil
}

const maxBlockBytes = 64 << 20

func (s *Service) blindedBlock(ctx context.Context, ep *endpoint, id string) (*Block, *blockParts, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.base+"/eth/v1/beacon/blinded_blocks/"+id, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("blinded block %s: %w", id, err)
	}
	req.Header.Set("Accept", s.accept)
	resp, err := ep.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("blinded block %s: %w", id, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBlockBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("blinded block %s: read body: %w", id, err)
	}
	if len(body) > maxBlockBytes {
		return nil, nil, fmt.Errorf("blinded block %s: body larger than %d bytes", id, maxBlockBytes)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, nil, fmt.Errorf("blinded block %s: %w", id, ErrNotFound)
	case resp.StatusCode == http.StatusBadRequest:
		return nil, nil, &permanentError{fmt.Errorf("blinded block %s: status 400: %s", id, trim(body))}
	case resp.StatusCode != http.StatusOK:
		return nil, nil, fmt.Errorf("blinded block %s: status %d: %s", id, resp.StatusCode, trim(body))
	}
	ct := resp.Header.Get("Content-Type")
	versionName := resp.Header.Get("Eth-Consensus-Version")
	isSSZ := strings.HasPrefix(ct, "application/octet-stream")
	var raw []byte
	if isSSZ {
		raw = body
	} else {
		var env struct {
			Version string          `json:"version"`
			Data    json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return nil, nil, fmt.Errorf("blinded block %s: decode JSON envelope: %w", id, err)
		}
		if env.Version != "" {
			versionName = env.Version
		}
		raw = env.Data
	}
	var version spec.DataVersion
	if err := version.UnmarshalJSON([]byte(strconv.Quote(strings.ToLower(versionName)))); err != nil {
		return nil, nil, fmt.Errorf("blinded block %s: consensus version %q: %w", id, versionName, err)
	}
	type codec interface {
		UnmarshalSSZ([]byte) error
		UnmarshalJSON([]byte) error
	}
	var blk codec
	switch version {
	case spec.DataVersionCapella:
		blk = &apiv1capella.SignedBlindedBeaconBlock{}
	case spec.DataVersionDeneb:
		blk = &apiv1deneb.SignedBlindedBeaconBlock{}
	case spec.DataVersionElectra, spec.DataVersionFulu:
		blk = &apiv1electra.SignedBlindedBeaconBlock{}
	default:
		return nil, nil, &permanentError{fmt.Errorf("blinded block %s: unsupported version %s", id, version)}
	}
	if isSSZ {
		err = blk.UnmarshalSSZ(raw)
	} else {
		err = blk.UnmarshalJSON(raw)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("blinded block %s: decode %s: %w", id, version, err)
	}
	b, parts, err := summarizeBlinded(version, blk)
	if err != nil {
		return nil, nil, fmt.Errorf("blinded block %s: %w", id, err)
	}
	return b, parts, nil
}

func trim(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return strings.TrimSpace(string(b))
}

// Block returns the block at slot, or (nil, nil) when the slot is empty.
// full=false asks for the blinded block (no withdrawals, much smaller);
// full=true for the full block with the payload's withdrawals. With block
// verification on (the default) the header is fetched first, the block by
// the header's root from the same node, and the two are compared; a
// mismatch is retried elsewhere and reported as ErrMismatch if it persists.
func (s *Service) Block(ctx context.Context, slot phase0.Slot, full bool) (*Block, error) {
	op := "blinded_block"
	if full {
		op = "block"
	}
	id := strconv.FormatUint(uint64(slot), 10)
	var out *Block
	var answered *endpoint
	fetch := func(ctx context.Context, ep *endpoint) error {
		answered = ep
		blockID := id
		var hdr *apiv1.BeaconBlockHeader
		if s.p.verifyBlocks {
			h, err := s.header(ctx, ep, id)
			if err != nil {
				return err
			}
			hdr = h
			if h.Header.Message.Slot != slot {
				return fmt.Errorf("%w: header for slot %d is for slot %d", ErrMismatch, slot, h.Header.Message.Slot)
			}
			blockID = h.Root.String()
		}
		var b *Block
		var parts *blockParts
		var err error
		if full {
			b, parts, err = s.fullBlock(ctx, ep, blockID)
		} else {
			b, parts, err = s.blindedBlock(ctx, ep, blockID)
		}
		if err != nil {
			if hdr != nil && errors.Is(err, ErrNotFound) {
				// The header exists, so the block must too.
				return fmt.Errorf("%w: header of slot %d found but its block is missing: %v", ErrMismatch, slot, err) //nolint:errorlint // must not match ErrNotFound
			}
			return err
		}
		if b.Slot != slot {
			return fmt.Errorf("%w: asked for slot %d, got a block of slot %d", ErrMismatch, slot, b.Slot)
		}
		if hdr != nil {
			if err := verify(parts, hdr.Header.Message); err != nil {
				return err
			}
			b.Root = hdr.Root
		}
		out = b
		return nil
	}
	err := s.call(ctx, op, fetch)
	if errors.Is(err, ErrNotFound) {
		out = nil
		if err := s.confirmMissing(ctx, op, slot, answered, fetch); err != nil {
			return nil, err
		}
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fetch block at slot %d: %w", slot, err)
	}
	return out, nil
}

// confirmMissing asks the other nodes about a slot one node reported empty
// (a node without history answers 404 too); fetch stores a block it finds.
// Nodes that fail to answer are skipped; the scanner's parent-root
// continuity check is the backstop.
func (s *Service) confirmMissing(ctx context.Context, op string, slot phase0.Slot, first *endpoint, fetch func(ctx context.Context, ep *endpoint) error) error {
	if !s.p.confirmMissing || len(s.eps) < 2 {
		return nil
	}
	for _, ep := range s.eps {
		if ep == first {
			continue
		}
		err := s.once(ctx, op+"_confirm", ep, fetch)
		switch {
		case err == nil:
			s.log.Warn().Uint64("slot", uint64(slot)).Str("missing_on", first.name).Str("found_on", ep.name).Msg("node reported an existing block as missing")
			return nil
		case errors.Is(err, ErrNotFound):
		case ctx.Err() != nil:
			return fmt.Errorf("fetch block at slot %d: %w", slot, ctx.Err())
		default:
			s.log.Debug().Err(err).Uint64("slot", uint64(slot)).Str("endpoint", ep.name).Msg("could not confirm an empty slot")
		}
	}
	return nil
}
