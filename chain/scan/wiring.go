package scan

import (
	"context"
	"fmt"
	"strconv"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/odaowatch/watchtower/chain/beacon"
)

// Committee sources for CommitteesFromBeacon.
const (
	// CommitteesLocal: shuffle locally from ONE state (default).
	CommitteesLocal = "local"
	// CommitteesAPI: ask the node for every epoch (--committees-from-api).
	CommitteesAPI = "api"
	// CommitteesChecked: local, every epoch compared with the node's answer.
	CommitteesChecked = "checked"
)

// CommitteesFromBeacon builds a committees source over a CL reader. For the
// local and checked sources the state at stateSlot (normally the snapshot's
// consensus end block) is downloaded once; the API source asks for
// committees at that state too.
func CommitteesFromBeacon(ctx context.Context, svc *beacon.Service, stateSlot phase0.Slot, source string) (CommitteesProvider, error) {
	sp, err := svc.ShuffleSpec(ctx)
	if err != nil {
		return nil, fmt.Errorf("committees source: %w", err)
	}
	stateID := strconv.FormatUint(uint64(stateSlot), 10)
	api := func() (*APICommittees, error) { return NewAPICommittees(sp, svc, stateID) }
	local := func() (*LocalCommittees, error) {
		st, err := svc.BeaconState(ctx, stateID)
		if err != nil {
			return nil, fmt.Errorf("committees source: %w", err)
		}
		vals, err := st.Validators()
		if err != nil {
			return nil, fmt.Errorf("committees source: state validators: %w", err)
		}
		mixes, err := beacon.RandaoMixes(st)
		if err != nil {
			return nil, fmt.Errorf("committees source: %w", err)
		}
		return NewLocalCommittees(sp, stateSlot, vals, mixes)
	}
	switch source {
	case CommitteesLocal, "":
		return local()
	case CommitteesAPI:
		return api()
	case CommitteesChecked:
		l, err := local()
		if err != nil {
			return nil, err
		}
		a, err := api()
		if err != nil {
			return nil, err
		}
		return &CheckedCommittees{Primary: l, Check: a, Every: 1}, nil
	}
	return nil, fmt.Errorf("committees source %q unknown (want %s, %s or %s)", source, CommitteesLocal, CommitteesAPI, CommitteesChecked)
}
