package rewards

import (
	"bytes"
	"encoding/json"
	"math/big"
	"runtime"
	"testing"
)

// mainnetSized builds a synthetic mainnet-sized interval: `nodes` nodes with
// `per` minipools each (all Staking, opted in, mixed 8/16-ETH bonds, one in
// ten with a mid-interval bond reduction), `epochs` epochs of duties (97 %
// included), one withdrawal per validator every ~2,250 epochs.
func mainnetSized(nodes, per int, epochs uint64) (*Snapshot, *DutyRecord) {
	s := baseSnapshot("mainnet", 30)
	s.ConsensusEndBlock = fxStart + epochs*32 - 1
	s.SnapshotSlot = s.ConsensusEndBlock
	s.ELEndTime = fxSlotTime(s.ConsensusEndBlock)
	s.SmoothingPoolBalance = ether(400)
	s.Nodes = make([]Node, 0, nodes)
	s.Minipools = make([]Minipool, 0, nodes*per)
	s.Validators = make([]BeaconValidator, 0, nodes*per)
	var idx uint64
	for i := 0; i < nodes; i++ {
		a := addr(byte(i>>16), byte(i>>8), byte(i), 0x11)
		s.Nodes = append(s.Nodes, Node{Address: a, RegistrationTime: 1, SmoothingPoolRegistered: true, SmoothingPoolChangeTime: 1,
			LegacyStakedRPL: NewWei(new(big.Int).Mul(big.NewInt(int64(100+i%3000)), eth1))})
		for j := 0; j < per; j++ {
			idx++
			bond := int64(8)
			if idx%3 == 0 {
				bond = 16
			}
			key := pk(byte(idx>>16), byte(idx>>8), byte(idx))
			mp := Minipool{Address: addr(byte(idx>>16), byte(idx>>8), byte(idx), 0x22), Pubkey: key, Node: a, Status: MinipoolStaking, StatusTime: 1,
				NodeFee: perc(int64(5 + idx%11)), NodeDepositBalance: ether(bond), UserDepositBalance: ether(32 - bond)}
			if idx%10 == 0 && bond == 8 {
				mp.LastBondReductionTime = fxSlotTime(fxStart + epochs*16)
				mp.LastBondReductionPrevValue, mp.LastBondReductionPrevNodeFee = ether(16), perc(10)
			}
			s.Minipools = append(s.Minipools, mp)
			s.Validators = append(s.Validators, BeaconValidator{Pubkey: key, Index: idx, Status: "active_ongoing", ActivationEpoch: 1, ExitEpoch: FarFutureEpoch, WithdrawableEpoch: FarFutureEpoch})
		}
	}
	d := &DutyRecord{Version: DutyRecordVersion, Index: s.Index, StartSlot: s.ConsensusStartBlock, EndSlot: s.ConsensusEndBlock, FirstEpoch: fxStart / 32}
	d.Validators = make([]ValidatorDuties, 0, idx)
	x := uint64(88172645463325252)
	for v := uint64(1); v <= idx; v++ {
		buf := make([]byte, epochs)
		for e := range buf {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			incl := InclusionInWindow
			if x%100 < 3 {
				incl = InclusionMissed
			}
			buf[e] = EncodeDuty(x>>8, incl)
		}
		d.Validators = append(d.Validators, ValidatorDuties{Index: v, Duties: buf})
		for w := uint64(0); w < epochs/2250; w++ {
			d.Withdrawals = append(d.Withdrawals, Withdrawal{Slot: fxStart + (w*2250+v%2250)*32, ValidatorIndex: v, AmountGwei: 60_000_000})
		}
	}
	return s, d
}

// BenchmarkComputeMainnetSized computes a v10 interval of 45,000 validators
// × 6,300 epochs (283.5 M duties). The duty record alone is 283.5 MB (one byte
// per duty); heap_MB reports the live heap after setup and one run.
func BenchmarkComputeMainnetSized(b *testing.B) {
	s, d := mainnetSized(3000, 15, 6300)
	b.ResetTimer()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compute(s, d); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/1e6, "heap_MB")
	b.ReportMetric(float64(ms.Sys)/1e6, "sys_MB")
}

// BenchmarkDecodeDutyRecordMainnetSized measures reading a mainnet-sized duty
// record from its JSON encoding (base64 duty bytes, ~380 MB).
func BenchmarkDecodeDutyRecordMainnetSized(b *testing.B) {
	_, d := mainnetSized(3000, 15, 6300)
	data, err := d.MarshalCanonical()
	if err != nil {
		b.Fatal(err)
	}
	d = nil
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeDutyRecord(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(data))/1e6, "json_MB")
}

// BenchmarkFilesMainnetSized turns a mainnet-sized result (3,000 nodes,
// 45,000 minipools) into the sealed rewards file and the performance file,
// and encodes JSON, SSZ and performance JSON.
func BenchmarkFilesMainnetSized(b *testing.B) {
	s, d := mainnetSized(3000, 15, 225)
	r, err := Compute(s, d)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		f, err := r.Files()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(f.Rewards); err != nil {
			b.Fatal(err)
		}
		if _, err := f.Rewards.MarshalSSZ(); err != nil {
			b.Fatal(err)
		}
		if _, err := f.Performance.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}
