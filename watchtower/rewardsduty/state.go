package rewardsduty

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	bolt "go.etcd.io/bbolt"

	"github.com/odaowatch/watchtower/chain/interval"
)

// Phase of one interval's duty.
type Phase string

const (
	PhaseGenerated    Phase = "generated"     // files written, submission built
	PhaseGenerateOnly Phase = "generate-only" // not an oDAO member: files only
	PhaseVoted        Phase = "voted"         // this member's vote is on chain
	PhaseExecuted     Phase = "executed"      // the reward index moved past this interval
)

// Record is the persisted state of one interval's duty.
type Record struct {
	Index      uint64               `json:"index"`
	Phase      Phase                `json:"phase"`
	Submission *interval.Submission `json:"submission"`
	Files      []string             `json:"files"`
	// VoteTxs / ExecuteTxs are every signed version of the vote / execute transaction (raw, hex via JSON
	// []byte = base64), saved before each broadcast so a restart can find or rebroadcast them.
	VoteTxs    [][]byte `json:"vote_txs,omitempty"`
	ExecuteTxs [][]byte `json:"execute_txs,omitempty"`
	VoteHash   string   `json:"vote_hash,omitempty"`
	// ExecutedBySelf is set when this member's executeRewardSnapshot was mined.
	ExecutedBySelf bool `json:"executed_by_self,omitempty"`
	// SentCount counts vote broadcasts of first versions (must stay ≤ 1 per interval; replacements excluded).
	SentCount int       `json:"sent_count"`
	Updated   time.Time `json:"updated"`
}

func decodeTxs(raw [][]byte) ([]*types.Transaction, error) {
	out := make([]*types.Transaction, 0, len(raw))
	for i, r := range raw {
		tx := new(types.Transaction)
		if err := tx.UnmarshalBinary(r); err != nil {
			return nil, fmt.Errorf("decode saved transaction %d: %w", i, err)
		}
		out = append(out, tx)
	}
	return out, nil
}

// State is the duty's bbolt database in the member's data directory.
type State struct{ db *bolt.DB }

var bucket = []byte("rewards")

// OpenState opens (creating) the duty database at path.
func OpenState(path string) (*State, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open duty state %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucket); return err }); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("create duty state bucket: %w", err)
	}
	return &State{db: db}, nil
}

// Close closes the database.
func (s *State) Close() error { return s.db.Close() }

func key(index uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, index)
	return k
}

// Get returns the record of index, nil if none.
func (s *State) Get(index uint64) (*Record, error) {
	var rec *Record
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucket).Get(key(index))
		if v == nil {
			return nil
		}
		rec = new(Record)
		return json.Unmarshal(v, rec)
	})
	if err != nil {
		return nil, fmt.Errorf("read duty record %d: %w", index, err)
	}
	return rec, nil
}

// Put stores rec durably (bbolt fsyncs on commit).
func (s *State) Put(rec *Record) error {
	if rec == nil {
		return errors.New("put duty record: nil")
	}
	rec.Updated = time.Now().UTC()
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode duty record %d: %w", rec.Index, err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key(rec.Index), data) }); err != nil {
		return fmt.Errorf("write duty record %d: %w", rec.Index, err)
	}
	return nil
}

// All returns every record in index order.
func (s *State) All() ([]*Record, error) {
	var out []*Record
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(_, v []byte) error {
			r := new(Record)
			if err := json.Unmarshal(v, r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read duty records: %w", err)
	}
	return out, nil
}
