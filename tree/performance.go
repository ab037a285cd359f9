package tree

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Performance files (formats.md §4) record, per minipool and per megapool
// validator, the attestation counts, score and earnings behind the smoothing
// pool payout. They are not part of consensus. Two layouts exist:
//
//   - MinipoolPerformanceFile: the minipool performance file version 2 written
//     for rulesets < 11, named rp-minipool-performance-<network>-<index>.json;
//   - PerformanceFile: the performance file version 1 written for ruleset 11,
//     named rp-performance-<network>-<index>.json; it adds megapoolPerformance.
//
// Both are JSON. Marshal writes compact JSON with struct fields in the
// reference's order and map keys sorted (Go encoding/json), which is how the
// reference node writes them. The public copies in rocket-pool/rewards-trees
// are re-indented, so compare parsed values with them, not bytes.

// Performance files' rulesetVersion boundary: ruleset 11 (Saturn 1) and later
// write PerformanceFile, earlier rulesets write MinipoolPerformanceFile.
const PerformanceFileV1Ruleset = 11

// maxPerformanceFileSize bounds a zstd-compressed performance file given to
// ReadPerformanceFile once decompressed.
const maxPerformanceFileSize = 1 << 30

// ValidatorPubkey is a 48-byte BLS public key. In performance files it is
// written as 96 lowercase hex digits without a 0x prefix, both as the
// minipool "pubkey" value and as the key of a megapool's validatorPerformance.
type ValidatorPubkey [48]byte

// ParseValidatorPubkey parses 96 lowercase hex digits without 0x.
func ParseValidatorPubkey(s string) (ValidatorPubkey, error) {
	var pk ValidatorPubkey
	if len(s) != 2*len(pk) {
		return pk, fmt.Errorf("pubkey %q: want %d hex digits without 0x, got %d characters", clipKey(s), 2*len(pk), len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return pk, fmt.Errorf("pubkey %q: character %q at %d is not a lowercase hex digit", clipKey(s), c, i)
		}
	}
	if _, err := hex.Decode(pk[:], []byte(s)); err != nil {
		return pk, fmt.Errorf("pubkey %q: %w", clipKey(s), err)
	}
	return pk, nil
}

// String returns the 96 lowercase hex digits, without 0x.
func (pk ValidatorPubkey) String() string { return hex.EncodeToString(pk[:]) }

// MarshalText writes the performance-file form (lowercase hex, no 0x).
func (pk ValidatorPubkey) MarshalText() ([]byte, error) {
	out := make([]byte, 2*len(pk))
	hex.Encode(out, pk[:])
	return out, nil
}

// UnmarshalText accepts only the performance-file form (see ParseValidatorPubkey).
func (pk *ValidatorPubkey) UnmarshalText(text []byte) error {
	v, err := ParseValidatorPubkey(string(text))
	if err != nil {
		return err
	}
	*pk = v
	return nil
}

// IsZero reports whether every byte is zero (never a real key; such a value
// means "missing" and is rejected by the reader and the writer).
func (pk ValidatorPubkey) IsZero() bool { return pk == ValidatorPubkey{} }

// clipKey shortens an offending value for an error message, keeping whole
// addresses and pubkeys readable.
func clipKey(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// parseLowerAddress accepts "0x" followed by 40 lowercase hex digits, the only
// form the reference writes for map keys.
func parseLowerAddress(s string) (common.Address, error) {
	var a common.Address
	if len(s) != 42 || s[0] != '0' || s[1] != 'x' {
		return a, fmt.Errorf("address %q: want 0x and 40 lowercase hex digits", clipKey(s))
	}
	for i := 2; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return a, fmt.Errorf("address %q: character %q at %d is not a lowercase hex digit", clipKey(s), c, i)
		}
	}
	if _, err := hex.Decode(a[:], []byte(s[2:])); err != nil {
		return a, fmt.Errorf("address %q: %w", clipKey(s), err)
	}
	return a, nil
}

// PerformanceHeader is the interval header shared by both layouts; the field
// order is the order in the files.
type PerformanceHeader struct {
	RewardsFileVersion  uint64    `json:"rewardsFileVersion"`
	RulesetVersion      uint64    `json:"rulesetVersion"`
	Index               uint64    `json:"index"`
	Network             string    `json:"network"`
	StartTime           time.Time `json:"startTime"` // written in UTC, RFC 3339
	EndTime             time.Time `json:"endTime"`
	ConsensusStartBlock uint64    `json:"consensusStartBlock"`
	ConsensusEndBlock   uint64    `json:"consensusEndBlock"`
	ExecutionStartBlock uint64    `json:"executionStartBlock"`
	ExecutionEndBlock   uint64    `json:"executionEndBlock"`
}

// Header returns the header itself; it lets both file types satisfy PerformanceData.
func (h *PerformanceHeader) Header() *PerformanceHeader { return h }

// MinipoolPerformance is one minipool's entry. The three bonus fields exist
// only in ruleset-10 files (nil = absent from the file).
type MinipoolPerformance struct {
	Pubkey                 ValidatorPubkey `json:"pubkey"`
	SuccessfulAttestations uint64          `json:"successfulAttestations"`
	MissedAttestations     uint64          `json:"missedAttestations"`
	AttestationScore       BigInt          `json:"attestationScore"`
	// MissingAttestationSlots are written sorted ascending (Marshal sorts a copy).
	MissingAttestationSlots []uint64 `json:"missingAttestationSlots"`
	EthEarned               BigInt   `json:"ethEarned"`
	ConsensusIncome         *BigInt  `json:"consensusIncome,omitempty"`
	BonusEthEarned          *BigInt  `json:"bonusEthEarned,omitempty"`
	EffectiveCommission     *BigInt  `json:"effectiveCommission,omitempty"`
}

// ValidatorPerformance is one megapool validator's entry (PerformanceFile only).
type ValidatorPerformance struct {
	SuccessfulAttestations  uint64   `json:"successfulAttestations"`
	MissedAttestations      uint64   `json:"missedAttestations"`
	AttestationScore        BigInt   `json:"attestationScore"`
	MissingAttestationSlots []uint64 `json:"missingAttestationSlots"`
	EthEarned               BigInt   `json:"ethEarned"`
}

// MegapoolPerformance is one megapool's entry (PerformanceFile only). The
// reference writes VoterShare only when the megapool has no validator entry
// (rewards-rules Q8); Marshal refuses an entry with both.
type MegapoolPerformance struct {
	VoterShare           *BigInt                                   `json:"voterShare,omitempty"`
	ValidatorPerformance map[ValidatorPubkey]*ValidatorPerformance `json:"validatorPerformance,omitempty"`
}

// MinipoolPerformanceFile is the minipool performance file version 2
// (rulesets < 11), formats.md §4.1.
type MinipoolPerformanceFile struct {
	PerformanceHeader
	MinipoolPerformance map[common.Address]*MinipoolPerformance `json:"minipoolPerformance"`
	// BonusScalar is remaining*1e18/totalBonus, or 1e18 when bonuses were not scaled.
	BonusScalar BigInt `json:"bonusScalar"`
}

// PerformanceFile is the performance file version 1 (ruleset 11), formats.md §4.2.
type PerformanceFile struct {
	PerformanceHeader
	MinipoolPerformance map[common.Address]*MinipoolPerformance `json:"minipoolPerformance"`
	MegapoolPerformance map[common.Address]*MegapoolPerformance `json:"megapoolPerformance"`
	BonusScalar         BigInt                                  `json:"bonusScalar"`
}

// PerformanceData is either *MinipoolPerformanceFile or *PerformanceFile, as
// returned by ReadPerformanceFile; use a type switch for the megapool part.
type PerformanceData interface {
	Header() *PerformanceHeader
	Minipools() map[common.Address]*MinipoolPerformance
	Marshal() ([]byte, error)
	FileName() string
}

var (
	_ PerformanceData = (*MinipoolPerformanceFile)(nil)
	_ PerformanceData = (*PerformanceFile)(nil)
)

// Minipools returns the minipool entries.
func (f *MinipoolPerformanceFile) Minipools() map[common.Address]*MinipoolPerformance {
	return f.MinipoolPerformance
}

// Minipools returns the minipool entries.
func (f *PerformanceFile) Minipools() map[common.Address]*MinipoolPerformance {
	return f.MinipoolPerformance
}

// FileName returns rp-minipool-performance-<network>-<index>.json.
func (f *MinipoolPerformanceFile) FileName() string {
	return fmt.Sprintf("rp-minipool-performance-%s-%d.json", f.Network, f.Index)
}

// FileName returns rp-performance-<network>-<index>.json.
func (f *PerformanceFile) FileName() string {
	return fmt.Sprintf("rp-performance-%s-%d.json", f.Network, f.Index)
}

// PerformanceFileName returns the reference's file name for the performance
// file of an interval produced with the given ruleset.
func PerformanceFileName(network string, index, rulesetVersion uint64) string {
	if rulesetVersion >= PerformanceFileV1Ruleset {
		return fmt.Sprintf("rp-performance-%s-%d.json", network, index)
	}
	return fmt.Sprintf("rp-minipool-performance-%s-%d.json", network, index)
}

// ---------------------------------------------------------------------------
// Writing

// Marshal validates the file and returns its compact JSON. It checks the
// header (ruleset < 11, network set, times representable), that every entry
// is present with a non-zero pubkey, and writes each missingAttestationSlots
// sorted ascending and empty lists as [] (the caller's data is not modified).
func (f *MinipoolPerformanceFile) Marshal() ([]byte, error) {
	if f.RulesetVersion >= PerformanceFileV1Ruleset {
		return nil, fmt.Errorf("encode minipool performance file: ruleset %d needs the performance file v1 (PerformanceFile)", f.RulesetVersion)
	}
	out := *f
	if err := out.PerformanceHeader.normalize(); err != nil {
		return nil, fmt.Errorf("encode minipool performance file: %w", err)
	}
	mp, err := normalizeMinipools(f.MinipoolPerformance)
	if err != nil {
		return nil, fmt.Errorf("encode minipool performance file: %w", err)
	}
	out.MinipoolPerformance = mp
	data, err := json.Marshal(&out)
	if err != nil {
		return nil, fmt.Errorf("encode minipool performance file: %w", err)
	}
	return data, nil
}

// Marshal validates the file and returns its compact JSON; see
// MinipoolPerformanceFile.Marshal. It also requires ruleset ≥ 11 and refuses
// a megapool entry carrying both a voter share and validator entries.
func (f *PerformanceFile) Marshal() ([]byte, error) {
	if f.RulesetVersion < PerformanceFileV1Ruleset {
		return nil, fmt.Errorf("encode performance file: ruleset %d needs the minipool performance file v2 (MinipoolPerformanceFile)", f.RulesetVersion)
	}
	out := *f
	if err := out.PerformanceHeader.normalize(); err != nil {
		return nil, fmt.Errorf("encode performance file: %w", err)
	}
	mp, err := normalizeMinipools(f.MinipoolPerformance)
	if err != nil {
		return nil, fmt.Errorf("encode performance file: %w", err)
	}
	out.MinipoolPerformance = mp
	mg, err := normalizeMegapools(f.MegapoolPerformance)
	if err != nil {
		return nil, fmt.Errorf("encode performance file: %w", err)
	}
	out.MegapoolPerformance = mg
	data, err := json.Marshal(&out)
	if err != nil {
		return nil, fmt.Errorf("encode performance file: %w", err)
	}
	return data, nil
}

// WritePerformanceFile marshals f and writes it atomically to
// filepath.Join(dir, f.FileName()) with mode 0644; it returns the path.
func WritePerformanceFile(dir string, f PerformanceData) (string, error) {
	data, err := f.Marshal()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, f.FileName())
	if err := WriteFileAtomic(path, data, 0o644); err != nil {
		return "", fmt.Errorf("write performance file: %w", err)
	}
	return path, nil
}

func (h *PerformanceHeader) normalize() error {
	if h.Network == "" {
		return errors.New("network is empty")
	}
	h.StartTime = h.StartTime.UTC()
	h.EndTime = h.EndTime.UTC()
	for _, t := range []struct {
		name string
		v    time.Time
	}{{"startTime", h.StartTime}, {"endTime", h.EndTime}} {
		if y := t.v.Year(); y < 0 || y > 9999 {
			return fmt.Errorf("%s %s is outside years 0000-9999", t.name, t.v)
		}
	}
	return nil
}

// sortedSlots returns slots sorted ascending, copying only when needed, and
// an empty non-nil slice for nil (written as []).
func sortedSlots(slots []uint64) []uint64 {
	if slots == nil {
		return []uint64{}
	}
	if slices.IsSorted(slots) {
		return slots
	}
	c := slices.Clone(slots)
	slices.Sort(c)
	return c
}

func sortedAddresses[V any](m map[common.Address]V) []common.Address {
	keys := make([]common.Address, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b common.Address) int { return bytes.Compare(a[:], b[:]) })
	return keys
}

func normalizeMinipools(in map[common.Address]*MinipoolPerformance) (map[common.Address]*MinipoolPerformance, error) {
	out := make(map[common.Address]*MinipoolPerformance, len(in))
	for _, addr := range sortedAddresses(in) {
		v := in[addr]
		if v == nil {
			return nil, fmt.Errorf("minipool %s: entry is nil", addrString(addr))
		}
		if v.Pubkey.IsZero() {
			return nil, fmt.Errorf("minipool %s: pubkey is missing (all zero)", addrString(addr))
		}
		e := *v
		e.MissingAttestationSlots = sortedSlots(v.MissingAttestationSlots)
		out[addr] = &e
	}
	return out, nil
}

func normalizeMegapools(in map[common.Address]*MegapoolPerformance) (map[common.Address]*MegapoolPerformance, error) {
	out := make(map[common.Address]*MegapoolPerformance, len(in))
	for _, addr := range sortedAddresses(in) {
		v := in[addr]
		if v == nil {
			return nil, fmt.Errorf("megapool %s: entry is nil", addrString(addr))
		}
		if v.VoterShare != nil && len(v.ValidatorPerformance) > 0 {
			return nil, fmt.Errorf("megapool %s: voterShare is written only when the megapool has no validator entry", addrString(addr))
		}
		e := MegapoolPerformance{VoterShare: v.VoterShare}
		if len(v.ValidatorPerformance) > 0 {
			e.ValidatorPerformance = make(map[ValidatorPubkey]*ValidatorPerformance, len(v.ValidatorPerformance))
			for pk, vp := range v.ValidatorPerformance {
				if vp == nil {
					return nil, fmt.Errorf("megapool %s: validator %s: entry is nil", addrString(addr), pk)
				}
				c := *vp
				c.MissingAttestationSlots = sortedSlots(vp.MissingAttestationSlots)
				e.ValidatorPerformance[pk] = &c
			}
		}
		out[addr] = &e
	}
	return out, nil
}

// addrString is the lowercase form used as a key in the files.
func addrString(a common.Address) string { return "0x" + hex.EncodeToString(a[:]) }

// ---------------------------------------------------------------------------
// Reading

// Wire types: every field a pointer so a missing field can be told from a
// zero value; map keys as strings so a malformed key is reported with its
// context. Unknown fields at any level are rejected by the decoder.
type perfFileWire struct {
	RewardsFileVersion  *uint64                   `json:"rewardsFileVersion"`
	RulesetVersion      *uint64                   `json:"rulesetVersion"`
	Index               *uint64                   `json:"index"`
	Network             *string                   `json:"network"`
	StartTime           *time.Time                `json:"startTime"`
	EndTime             *time.Time                `json:"endTime"`
	ConsensusStartBlock *uint64                   `json:"consensusStartBlock"`
	ConsensusEndBlock   *uint64                   `json:"consensusEndBlock"`
	ExecutionStartBlock *uint64                   `json:"executionStartBlock"`
	ExecutionEndBlock   *uint64                   `json:"executionEndBlock"`
	MinipoolPerformance *map[string]*minipoolWire `json:"minipoolPerformance"`
	MegapoolPerformance *map[string]*megapoolWire `json:"megapoolPerformance"`
	BonusScalar         *BigInt                   `json:"bonusScalar"`
}

type minipoolWire struct {
	Pubkey                  *string  `json:"pubkey"`
	SuccessfulAttestations  *uint64  `json:"successfulAttestations"`
	MissedAttestations      *uint64  `json:"missedAttestations"`
	AttestationScore        *BigInt  `json:"attestationScore"`
	MissingAttestationSlots []uint64 `json:"missingAttestationSlots"`
	EthEarned               *BigInt  `json:"ethEarned"`
	ConsensusIncome         *BigInt  `json:"consensusIncome"`
	BonusEthEarned          *BigInt  `json:"bonusEthEarned"`
	EffectiveCommission     *BigInt  `json:"effectiveCommission"`
}

type validatorWire struct {
	SuccessfulAttestations  *uint64  `json:"successfulAttestations"`
	MissedAttestations      *uint64  `json:"missedAttestations"`
	AttestationScore        *BigInt  `json:"attestationScore"`
	MissingAttestationSlots []uint64 `json:"missingAttestationSlots"`
	EthEarned               *BigInt  `json:"ethEarned"`
}

type megapoolWire struct {
	VoterShare           *BigInt                   `json:"voterShare"`
	ValidatorPerformance map[string]*validatorWire `json:"validatorPerformance"`
}

// ReadPerformanceFile parses a performance file of either layout (plain JSON,
// or zstd-compressed JSON as in the .zst copies) and returns
// *MinipoolPerformanceFile or *PerformanceFile. The layout is chosen by
// content: a present megapoolPerformance, or rulesetVersion ≥ 11, means
// PerformanceFile (megapoolPerformance absent or null there reads as empty);
// megapoolPerformance in a ruleset < 11 file is an error.
//
// Decoding is strict: unknown fields (at any level), missing header fields,
// missing entry fields, malformed or non-lowercase addresses and pubkeys, a
// zero pubkey, and trailing data are errors naming what was wrong. A null or
// missing missingAttestationSlots reads as an empty list; a null voterShare
// or validatorPerformance reads as absent. Slot order is kept as read.
func ReadPerformanceFile(data []byte) (PerformanceData, error) {
	if IsZstd(data) {
		raw, err := Decompress(data, maxPerformanceFileSize)
		if err != nil {
			return nil, fmt.Errorf("read performance file: %w", err)
		}
		data = raw
	}
	var w perfFileWire
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("decode performance file: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode performance file: trailing data after the JSON object")
	}

	hdr, err := w.header()
	if err != nil {
		return nil, fmt.Errorf("decode performance file: %w", err)
	}
	if w.MinipoolPerformance == nil {
		return nil, errors.New("decode performance file: minipoolPerformance is missing")
	}
	if w.BonusScalar == nil {
		return nil, errors.New("decode performance file: bonusScalar is missing")
	}
	minipools, err := convertMinipools(*w.MinipoolPerformance)
	if err != nil {
		return nil, fmt.Errorf("decode performance file: %w", err)
	}

	if w.MegapoolPerformance == nil && hdr.RulesetVersion < PerformanceFileV1Ruleset {
		return &MinipoolPerformanceFile{
			PerformanceHeader:   hdr,
			MinipoolPerformance: minipools,
			BonusScalar:         *w.BonusScalar,
		}, nil
	}
	if hdr.RulesetVersion < PerformanceFileV1Ruleset {
		return nil, fmt.Errorf("decode performance file: megapoolPerformance present but rulesetVersion is %d (megapools need ≥ %d)",
			hdr.RulesetVersion, PerformanceFileV1Ruleset)
	}
	var megaWire map[string]*megapoolWire
	if w.MegapoolPerformance != nil {
		megaWire = *w.MegapoolPerformance
	}
	megapools, err := convertMegapools(megaWire)
	if err != nil {
		return nil, fmt.Errorf("decode performance file: %w", err)
	}
	return &PerformanceFile{
		PerformanceHeader:   hdr,
		MinipoolPerformance: minipools,
		MegapoolPerformance: megapools,
		BonusScalar:         *w.BonusScalar,
	}, nil
}

func (w *perfFileWire) header() (PerformanceHeader, error) {
	var h PerformanceHeader
	u := []struct {
		name string
		src  *uint64
		dst  *uint64
	}{
		{"rewardsFileVersion", w.RewardsFileVersion, &h.RewardsFileVersion},
		{"rulesetVersion", w.RulesetVersion, &h.RulesetVersion},
		{"index", w.Index, &h.Index},
		{"consensusStartBlock", w.ConsensusStartBlock, &h.ConsensusStartBlock},
		{"consensusEndBlock", w.ConsensusEndBlock, &h.ConsensusEndBlock},
		{"executionStartBlock", w.ExecutionStartBlock, &h.ExecutionStartBlock},
		{"executionEndBlock", w.ExecutionEndBlock, &h.ExecutionEndBlock},
	}
	for _, f := range u {
		if f.src == nil {
			return h, fmt.Errorf("%s is missing", f.name)
		}
		*f.dst = *f.src
	}
	if w.Network == nil || *w.Network == "" {
		return h, errors.New("network is missing or empty")
	}
	h.Network = *w.Network
	if w.StartTime == nil {
		return h, errors.New("startTime is missing")
	}
	if w.EndTime == nil {
		return h, errors.New("endTime is missing")
	}
	// Times are kept as instants in UTC (the writer's form); a time whose UTC
	// year leaves 0000-9999 could not be written back as RFC 3339.
	h.StartTime, h.EndTime = *w.StartTime, *w.EndTime
	if err := h.normalize(); err != nil {
		return h, err
	}
	return h, nil
}

func sortedStringKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func slotsOrEmpty(s []uint64) []uint64 {
	if s == nil {
		return []uint64{}
	}
	return s
}

func convertMinipools(in map[string]*minipoolWire) (map[common.Address]*MinipoolPerformance, error) {
	out := make(map[common.Address]*MinipoolPerformance, len(in))
	for _, key := range sortedStringKeys(in) {
		addr, err := parseLowerAddress(key)
		if err != nil {
			return nil, fmt.Errorf("minipoolPerformance key: %w", err)
		}
		w := in[key]
		if w == nil {
			return nil, fmt.Errorf("minipoolPerformance[%s] is null", key)
		}
		missing := func(field string) error {
			return fmt.Errorf("minipoolPerformance[%s].%s is missing", key, field)
		}
		switch {
		case w.Pubkey == nil:
			return nil, missing("pubkey")
		case w.SuccessfulAttestations == nil:
			return nil, missing("successfulAttestations")
		case w.MissedAttestations == nil:
			return nil, missing("missedAttestations")
		case w.AttestationScore == nil:
			return nil, missing("attestationScore")
		case w.EthEarned == nil:
			return nil, missing("ethEarned")
		}
		pk, err := ParseValidatorPubkey(*w.Pubkey)
		if err != nil {
			return nil, fmt.Errorf("minipoolPerformance[%s].pubkey: %w", key, err)
		}
		if pk.IsZero() {
			return nil, fmt.Errorf("minipoolPerformance[%s].pubkey is all zero", key)
		}
		out[addr] = &MinipoolPerformance{
			Pubkey:                  pk,
			SuccessfulAttestations:  *w.SuccessfulAttestations,
			MissedAttestations:      *w.MissedAttestations,
			AttestationScore:        *w.AttestationScore,
			MissingAttestationSlots: slotsOrEmpty(w.MissingAttestationSlots),
			EthEarned:               *w.EthEarned,
			ConsensusIncome:         w.ConsensusIncome,
			BonusEthEarned:          w.BonusEthEarned,
			EffectiveCommission:     w.EffectiveCommission,
		}
	}
	return out, nil
}

func convertMegapools(in map[string]*megapoolWire) (map[common.Address]*MegapoolPerformance, error) {
	out := make(map[common.Address]*MegapoolPerformance, len(in))
	for _, key := range sortedStringKeys(in) {
		addr, err := parseLowerAddress(key)
		if err != nil {
			return nil, fmt.Errorf("megapoolPerformance key: %w", err)
		}
		w := in[key]
		if w == nil {
			return nil, fmt.Errorf("megapoolPerformance[%s] is null", key)
		}
		m := &MegapoolPerformance{VoterShare: w.VoterShare}
		if w.ValidatorPerformance != nil {
			m.ValidatorPerformance = make(map[ValidatorPubkey]*ValidatorPerformance, len(w.ValidatorPerformance))
		}
		for _, pkStr := range sortedStringKeys(w.ValidatorPerformance) {
			pk, err := ParseValidatorPubkey(pkStr)
			if err != nil {
				return nil, fmt.Errorf("megapoolPerformance[%s].validatorPerformance key: %w", key, err)
			}
			if pk.IsZero() {
				return nil, fmt.Errorf("megapoolPerformance[%s].validatorPerformance key is an all-zero pubkey", key)
			}
			v := w.ValidatorPerformance[pkStr]
			if v == nil {
				return nil, fmt.Errorf("megapoolPerformance[%s].validatorPerformance[%s] is null", key, pkStr)
			}
			missing := func(field string) error {
				return fmt.Errorf("megapoolPerformance[%s].validatorPerformance[%s].%s is missing", key, pkStr, field)
			}
			switch {
			case v.SuccessfulAttestations == nil:
				return nil, missing("successfulAttestations")
			case v.MissedAttestations == nil:
				return nil, missing("missedAttestations")
			case v.AttestationScore == nil:
				return nil, missing("attestationScore")
			case v.EthEarned == nil:
				return nil, missing("ethEarned")
			}
			m.ValidatorPerformance[pk] = &ValidatorPerformance{
				SuccessfulAttestations:  *v.SuccessfulAttestations,
				MissedAttestations:      *v.MissedAttestations,
				AttestationScore:        *v.AttestationScore,
				MissingAttestationSlots: slotsOrEmpty(v.MissingAttestationSlots),
				EthEarned:               *v.EthEarned,
			}
		}
		out[addr] = m
	}
	return out, nil
}
