package scan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"

	"github.com/odaowatch/watchtower/rewards"
)

// recordDigest is rewards.DutyRecord.Digest (sha256 of the canonical JSON
// plus a newline) computed while encoding one validator at a time, so a
// mainnet-sized record (45k validators × 6,300 epochs: ~380 MB of JSON) is
// never held as one buffer. The bytes hashed are exactly json.Marshal's
// (the arrays are written element by element with the same encoder).
func recordDigest(r *rewards.DutyRecord) (string, error) {
	c := r.Canonical()
	head := *c
	head.Validators, head.Withdrawals = []rewards.ValidatorDuties{}, []rewards.Withdrawal{}
	hb, err := json.Marshal(&head)
	if err != nil {
		return "", fmt.Errorf("encode duty record: %w", err)
	}
	vKey, wKey := []byte(`"validators":[]`), []byte(`"withdrawals":[]`)
	vi, wi := bytes.Index(hb, vKey), bytes.Index(hb, wKey)
	if vi < 0 || wi < vi || bytes.Count(hb, vKey) != 1 || bytes.Count(hb, wKey) != 1 {
		return "", errors.New("encode duty record: unexpected canonical layout")
	}
	h := sha256.New()
	h.Write(hb[:vi+len(vKey)-1])
	if err := writeElems(h, c.Validators); err != nil {
		return "", err
	}
	h.Write(hb[vi+len(vKey)-1 : wi+len(wKey)-1])
	if err := writeElems(h, c.Withdrawals); err != nil {
		return "", err
	}
	h.Write(hb[wi+len(wKey)-1:])
	h.Write([]byte{'\n'})
	return "0x" + hex.EncodeToString(h.Sum(nil)), nil
}

// writeElems writes the elements of a JSON array (without brackets), comma separated.
func writeElems[T any](h hash.Hash, list []T) error {
	for i := range list {
		if i > 0 {
			h.Write([]byte{','})
		}
		b, err := json.Marshal(&list[i])
		if err != nil {
			return fmt.Errorf("encode duty record: %w", err)
		}
		h.Write(b)
	}
	return nil
}
