package rewards

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

// DutyRecordVersion is the version of the DutyRecord JSON encoding.
const DutyRecordVersion = 1

// One byte per epoch describes a validator's attestation duty in that epoch:
//
//	0xFF                      no duty recorded in this epoch
//	bits 0-4 (0..31)          slot of the duty inside the epoch (slot = epoch*32 + offset)
//	bits 5-6                  inclusion: 0 = never included in a scanned block,
//	                          1 = included at most 32 slots after the duty slot,
//	                          2 = included, but more than 32 slots after the duty slot
//	bit 7                     always 0
const (
	DutyNone          byte = 0xFF
	InclusionMissed   byte = 0
	InclusionInWindow byte = 1 // inclusionSlot - dutySlot <= 32
	InclusionLate     byte = 2 // inclusionSlot - dutySlot > 32 (counts only in v11)
)

// EncodeDuty packs a duty byte.
func EncodeDuty(slotOffset uint64, inclusion byte) byte {
	return byte(slotOffset&31) | inclusion<<5
}

// InclusionClass returns the class for a duty at dutySlot first included at
// inclusionSlot (0 = not included).
func InclusionClass(dutySlot, inclusionSlot uint64) byte {
	switch {
	case inclusionSlot == 0:
		return InclusionMissed
	case inclusionSlot-dutySlot <= 32:
		return InclusionInWindow
	default:
		return InclusionLate
	}
}

// DutyRecord is the record of every attestation duty of every protocol
// validator in the interval (duty slots in [startSlot, endSlot]), with the
// earliest inclusion of each, and the withdrawals credited to protocol
// validators in blocks of the interval's epochs (for the v10 bonus).
type DutyRecord struct {
	Version    int    `json:"version"`
	Index      uint64 `json:"index"`      // reward interval
	StartSlot  uint64 `json:"startSlot"`  // = snapshot consensusStartBlock
	EndSlot    uint64 `json:"endSlot"`    // = snapshot consensusEndBlock
	FirstEpoch uint64 `json:"firstEpoch"` // = startSlot / 32; byte i of a validator's duties is epoch firstEpoch+i

	Validators  []ValidatorDuties `json:"validators"`  // sorted by index, unique
	Withdrawals []Withdrawal      `json:"withdrawals"` // sorted by (slot, validatorIndex, amount)
}

// ValidatorDuties is the per-epoch duty bytes of one validator. JSON: the
// bytes as standard base64.
type ValidatorDuties struct {
	Index  uint64 `json:"index"`
	Duties []byte `json:"duties"`
}

// Withdrawal is one beacon withdrawal to a protocol validator.
type Withdrawal struct {
	Slot           uint64 `json:"slot"`
	ValidatorIndex uint64 `json:"validatorIndex"`
	AmountGwei     uint64 `json:"amountGwei"`
}

// DutyRecordBuilder collects duties in any order.
type DutyRecordBuilder struct {
	rec  DutyRecord
	vals map[uint64][]byte
	n    int
}

// NewDutyRecordBuilder starts a record for the slot window [startSlot, endSlot].
func NewDutyRecordBuilder(index, startSlot, endSlot uint64) *DutyRecordBuilder {
	firstEpoch := startSlot / 32
	return &DutyRecordBuilder{
		rec:  DutyRecord{Version: DutyRecordVersion, Index: index, StartSlot: startSlot, EndSlot: endSlot, FirstEpoch: firstEpoch},
		vals: make(map[uint64][]byte),
		n:    int(endSlot/32-firstEpoch) + 1,
	}
}

// AddDuty records validator's duty at dutySlot, first included at
// inclusionSlot (0 = never included). Duty slots in the window's first and
// last epoch but outside [startSlot, endSlot] are kept in the record; the
// rulesets ignore them (quirk Q9).
func (b *DutyRecordBuilder) AddDuty(validator, dutySlot, inclusionSlot uint64) error {
	if dutySlot/32 < b.rec.FirstEpoch || dutySlot/32 > b.rec.EndSlot/32 {
		return fmt.Errorf("duty slot %d outside epochs %d..%d", dutySlot, b.rec.FirstEpoch, b.rec.EndSlot/32)
	}
	if inclusionSlot != 0 && inclusionSlot <= dutySlot {
		return fmt.Errorf("validator %d: inclusion slot %d not after duty slot %d", validator, inclusionSlot, dutySlot)
	}
	d, ok := b.vals[validator]
	if !ok {
		d = make([]byte, b.n)
		for i := range d {
			d[i] = DutyNone
		}
		b.vals[validator] = d
	}
	e := dutySlot/32 - b.rec.FirstEpoch
	if d[e] != DutyNone {
		return fmt.Errorf("validator %d has two duties in epoch %d", validator, dutySlot/32)
	}
	d[e] = EncodeDuty(dutySlot%32, InclusionClass(dutySlot, inclusionSlot))
	return nil
}

// AddWithdrawal records a withdrawal.
func (b *DutyRecordBuilder) AddWithdrawal(w Withdrawal) {
	b.rec.Withdrawals = append(b.rec.Withdrawals, w)
}

// Build returns the record in canonical order.
func (b *DutyRecordBuilder) Build() *DutyRecord {
	r := b.rec
	r.Validators = make([]ValidatorDuties, 0, len(b.vals))
	for i, d := range b.vals {
		r.Validators = append(r.Validators, ValidatorDuties{Index: i, Duties: d})
	}
	r.Withdrawals = append([]Withdrawal(nil), b.rec.Withdrawals...)
	r.canonicalize()
	return &r
}

func (r *DutyRecord) canonicalize() {
	sort.Slice(r.Validators, func(i, j int) bool { return r.Validators[i].Index < r.Validators[j].Index })
	sort.Slice(r.Withdrawals, func(i, j int) bool {
		a, b := r.Withdrawals[i], r.Withdrawals[j]
		if a.Slot != b.Slot {
			return a.Slot < b.Slot
		}
		if a.ValidatorIndex != b.ValidatorIndex {
			return a.ValidatorIndex < b.ValidatorIndex
		}
		return a.AmountGwei < b.AmountGwei
	})
	if r.Validators == nil {
		r.Validators = []ValidatorDuties{}
	}
	if r.Withdrawals == nil {
		r.Withdrawals = []Withdrawal{}
	}
}

// Canonical returns a copy with validators and withdrawals sorted.
func (r *DutyRecord) Canonical() *DutyRecord {
	c := *r
	c.Validators = append([]ValidatorDuties(nil), r.Validators...)
	c.Withdrawals = append([]Withdrawal(nil), r.Withdrawals...)
	c.canonicalize()
	return &c
}

// Epochs is the number of epochs (bytes per validator) the record spans.
func (r *DutyRecord) Epochs() int { return int(r.EndSlot/32-r.FirstEpoch) + 1 }

// Validate checks the record's shape and that every duty byte is well formed.
// Duties outside [startSlot, endSlot] (within the first and last epoch) are
// allowed; the rulesets ignore them (quirk Q9).
func (r *DutyRecord) Validate() error {
	if r.Version != DutyRecordVersion {
		return fmt.Errorf("duty record version %d not supported (want %d)", r.Version, DutyRecordVersion)
	}
	if r.EndSlot < r.StartSlot {
		return fmt.Errorf("endSlot %d before startSlot %d", r.EndSlot, r.StartSlot)
	}
	if r.FirstEpoch != r.StartSlot/32 {
		return fmt.Errorf("firstEpoch %d is not startSlot/32 = %d", r.FirstEpoch, r.StartSlot/32)
	}
	n := r.Epochs()
	seen := make(map[uint64]bool, len(r.Validators))
	for _, v := range r.Validators {
		if seen[v.Index] {
			return fmt.Errorf("validator %d listed twice", v.Index)
		}
		seen[v.Index] = true
		if len(v.Duties) != n {
			return fmt.Errorf("validator %d has %d duty bytes, want %d", v.Index, len(v.Duties), n)
		}
		for e, d := range v.Duties {
			if d == DutyNone {
				continue
			}
			if d&0x80 != 0 || d>>5 > InclusionLate {
				return fmt.Errorf("validator %d epoch %d: malformed duty byte 0x%02x", v.Index, r.FirstEpoch+uint64(e), d)
			}
		}
	}
	return nil
}

// DecodeDutyRecord reads (strict: unknown fields are errors) and validates a
// duty record. It streams: the validators and withdrawals arrays are decoded
// element by element, so a mainnet-sized record is never buffered whole.
func DecodeDutyRecord(rd io.Reader) (*DutyRecord, error) {
	r, err := decodeDutyRecord(json.NewDecoder(rd))
	if err != nil {
		return nil, fmt.Errorf("decode duty record: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("validate duty record: %w", err)
	}
	return r, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, got %v", want, t)
	}
	return nil
}

func decodeDutyRecord(dec *json.Decoder) (*DutyRecord, error) {
	dec.DisallowUnknownFields()
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	r := &DutyRecord{}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := t.(string)
		if !ok {
			return nil, fmt.Errorf("expected a field name, got %v", t)
		}
		if seen[key] {
			return nil, fmt.Errorf("field %q appears twice", key)
		}
		seen[key] = true
		switch key {
		case "version":
			err = dec.Decode(&r.Version)
		case "index":
			err = dec.Decode(&r.Index)
		case "startSlot":
			err = dec.Decode(&r.StartSlot)
		case "endSlot":
			err = dec.Decode(&r.EndSlot)
		case "firstEpoch":
			err = dec.Decode(&r.FirstEpoch)
		case "validators":
			err = decodeArray(dec, func() error {
				var v ValidatorDuties
				if err := dec.Decode(&v); err != nil {
					return err
				}
				r.Validators = append(r.Validators, v)
				return nil
			})
		case "withdrawals":
			err = decodeArray(dec, func() error {
				var w Withdrawal
				if err := dec.Decode(&w); err != nil {
					return err
				}
				r.Withdrawals = append(r.Withdrawals, w)
				return nil
			})
		default:
			return nil, fmt.Errorf("unknown field %q", key)
		}
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", key, err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the duty record")
	}
	return r, nil
}

func decodeArray(dec *json.Decoder, elem func() error) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t == nil {
		return nil // null: empty
	}
	if d, ok := t.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("expected an array, got %v", t)
	}
	for dec.More() {
		if err := elem(); err != nil {
			return err
		}
	}
	return expectDelim(dec, ']')
}

// MarshalCanonical returns compact JSON of the canonical form plus a newline.
func (r *DutyRecord) MarshalCanonical() ([]byte, error) {
	b, err := json.Marshal(r.Canonical())
	if err != nil {
		return nil, fmt.Errorf("encode duty record: %w", err)
	}
	return append(b, '\n'), nil
}

// Digest is "0x" + hex sha256 of the canonical encoding.
func (r *DutyRecord) Digest() (string, error) {
	b, err := r.MarshalCanonical()
	if err != nil {
		return "", err
	}
	d := sha256.Sum256(b)
	return "0x" + hex.EncodeToString(d[:]), nil
}
