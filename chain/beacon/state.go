package beacon

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/odaowatch/watchtower/chain/shuffle"
)

// Genesis returns the chain's genesis data.
func (s *Service) Genesis(ctx context.Context) (*apiv1.Genesis, error) {
	var out *apiv1.Genesis
	err := s.call(ctx, "genesis", func(ctx context.Context, ep *endpoint) error {
		r, err := ep.client.Genesis(ctx, &api.GenesisOpts{})
		if err != nil {
			return fmt.Errorf("genesis: %w", err)
		}
		if r.Data == nil {
			return errors.New("genesis: empty response")
		}
		out = r.Data
		return nil
	})
	return out, err
}

// SpecValues returns the node's /eth/v1/config/spec, decoded by go-eth2-client.
func (s *Service) SpecValues(ctx context.Context) (map[string]any, error) {
	var out map[string]any
	err := s.call(ctx, "spec", func(ctx context.Context, ep *endpoint) error {
		r, err := ep.client.Spec(ctx, &api.SpecOpts{})
		if err != nil {
			return fmt.Errorf("spec: %w", err)
		}
		out = r.Data
		return nil
	})
	return out, err
}

func specUint(m map[string]any, key string) (uint64, error) {
	v, ok := m[key]
	if !ok {
		return 0, fmt.Errorf("spec has no %s", key)
	}
	switch x := v.(type) {
	case uint64:
		return x, nil
	case string:
		u, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("spec %s: %w", key, err)
		}
		return u, nil
	case time.Duration:
		return uint64(x / time.Second), nil
	}
	return 0, fmt.Errorf("spec %s has unexpected type %T", key, v)
}

// ShuffleSpec builds the committee constants from the node's spec.
func (s *Service) ShuffleSpec(ctx context.Context) (shuffle.Spec, error) {
	m, err := s.SpecValues(ctx)
	if err != nil {
		return shuffle.Spec{}, err
	}
	var out shuffle.Spec
	for _, f := range []struct {
		key string
		dst *uint64
	}{
		{"SLOTS_PER_EPOCH", &out.SlotsPerEpoch},
		{"MAX_COMMITTEES_PER_SLOT", &out.MaxCommitteesPerSlot},
		{"TARGET_COMMITTEE_SIZE", &out.TargetCommitteeSize},
		{"MIN_SEED_LOOKAHEAD", &out.MinSeedLookahead},
		{"EPOCHS_PER_HISTORICAL_VECTOR", &out.EpochsPerHistoricalVector},
	} {
		if *f.dst, err = specUint(m, f.key); err != nil {
			return shuffle.Spec{}, err
		}
	}
	rounds, err := specUint(m, "SHUFFLE_ROUND_COUNT")
	if err != nil {
		return shuffle.Spec{}, err
	}
	if rounds > 255 {
		return shuffle.Spec{}, fmt.Errorf("spec SHUFFLE_ROUND_COUNT %d too large", rounds)
	}
	out.ShuffleRoundCount = uint8(rounds)
	switch d := m["DOMAIN_BEACON_ATTESTER"].(type) {
	case phase0.DomainType:
		out.DomainBeaconAttester = d
	default:
		return shuffle.Spec{}, fmt.Errorf("spec DOMAIN_BEACON_ATTESTER has unexpected type %T", d)
	}
	if err := out.Validate(); err != nil {
		return shuffle.Spec{}, err
	}
	return out, nil
}

// Finality returns the finality checkpoints at state id.
func (s *Service) Finality(ctx context.Context, stateID string) (*apiv1.Finality, error) {
	var out *apiv1.Finality
	err := s.call(ctx, "finality", func(ctx context.Context, ep *endpoint) error {
		r, err := ep.client.Finality(ctx, &api.FinalityOpts{State: stateID})
		if err != nil {
			return fmt.Errorf("finality at %s: %w", stateID, err)
		}
		if r.Data == nil || r.Data.Finalized == nil {
			return fmt.Errorf("finality at %s: empty response", stateID)
		}
		out = r.Data
		return nil
	})
	return out, err
}

// Validators fetches validators by index at state id, chunk by chunk
// (POST /eth/v1/beacon/states/{id}/validators), each chunk retried on its
// own. Unknown indices are absent from the result.
func (s *Service) Validators(ctx context.Context, stateID string, indices []phase0.ValidatorIndex) (map[phase0.ValidatorIndex]*apiv1.Validator, error) {
	return s.validatorsChunked(ctx, stateID, len(indices), func(lo, hi int) *api.ValidatorsOpts {
		return &api.ValidatorsOpts{State: stateID, Indices: indices[lo:hi]}
	})
}

// ValidatorsByPubkey fetches validators by public key at state id.
func (s *Service) ValidatorsByPubkey(ctx context.Context, stateID string, keys []phase0.BLSPubKey) (map[phase0.ValidatorIndex]*apiv1.Validator, error) {
	return s.validatorsChunked(ctx, stateID, len(keys), func(lo, hi int) *api.ValidatorsOpts {
		return &api.ValidatorsOpts{State: stateID, PubKeys: keys[lo:hi]}
	})
}

// validatorsChunked asks for n validators in chunks of the configured size;
// opts builds the request of the chunk [lo, hi).
func (s *Service) validatorsChunked(ctx context.Context, stateID string, n int, opts func(lo, hi int) *api.ValidatorsOpts) (map[phase0.ValidatorIndex]*apiv1.Validator, error) {
	out := make(map[phase0.ValidatorIndex]*apiv1.Validator, n)
	for lo := 0; lo < n; lo += s.p.indexChunk {
		o := opts(lo, min(lo+s.p.indexChunk, n))
		err := s.call(ctx, "validators", func(ctx context.Context, ep *endpoint) error {
			r, err := ep.client.Validators(ctx, o)
			if err != nil {
				return fmt.Errorf("validators at %s: %w", stateID, err)
			}
			for idx, v := range r.Data {
				if v == nil || v.Validator == nil || v.Index != idx {
					return fmt.Errorf("%w: validators at %s: malformed entry for %d", ErrMismatch, stateID, idx)
				}
				out[idx] = v
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// BeaconState downloads the full state at state id (SSZ unless JSON is enforced).
func (s *Service) BeaconState(ctx context.Context, stateID string) (*spec.VersionedBeaconState, error) {
	var out *spec.VersionedBeaconState
	err := s.call(ctx, "state", func(ctx context.Context, ep *endpoint) error {
		r, err := ep.client.BeaconState(ctx, &api.BeaconStateOpts{State: stateID})
		if err != nil {
			return fmt.Errorf("state %s: %w", stateID, err)
		}
		if r.Data == nil || r.Data.IsEmpty() {
			return fmt.Errorf("state %s: empty response", stateID)
		}
		out = r.Data
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// BeaconCommittees returns all committees of epoch as seen from state id.
func (s *Service) BeaconCommittees(ctx context.Context, stateID string, epoch phase0.Epoch) ([]*apiv1.BeaconCommittee, error) {
	var out []*apiv1.BeaconCommittee
	err := s.call(ctx, "committees", func(ctx context.Context, ep *endpoint) error {
		r, err := ep.client.BeaconCommittees(ctx, &api.BeaconCommitteesOpts{State: stateID, Epoch: &epoch})
		if err != nil {
			return fmt.Errorf("committees of epoch %d: %w", epoch, err)
		}
		out = r.Data
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RandaoMixes returns the randao_mixes vector of a state.
func RandaoMixes(st *spec.VersionedBeaconState) ([]phase0.Root, error) {
	switch st.Version {
	case spec.DataVersionPhase0:
		if st.Phase0 != nil {
			return st.Phase0.RANDAOMixes, nil
		}
	case spec.DataVersionAltair:
		if st.Altair != nil {
			return st.Altair.RANDAOMixes, nil
		}
	case spec.DataVersionBellatrix:
		if st.Bellatrix != nil {
			return st.Bellatrix.RANDAOMixes, nil
		}
	case spec.DataVersionCapella:
		if st.Capella != nil {
			return st.Capella.RANDAOMixes, nil
		}
	case spec.DataVersionDeneb:
		if st.Deneb != nil {
			return st.Deneb.RANDAOMixes, nil
		}
	case spec.DataVersionElectra:
		if st.Electra != nil {
			return st.Electra.RANDAOMixes, nil
		}
	case spec.DataVersionFulu:
		if st.Fulu != nil {
			return st.Fulu.RANDAOMixes, nil
		}
	}
	return nil, fmt.Errorf("randao mixes: unsupported or empty %s state", st.Version)
}
