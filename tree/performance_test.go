package tree

import (
	"bytes"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/odaowatch/watchtower/internal/testutil"
)

const (
	canonicalPerf139 = "canonical/rp-minipool-performance-testnet-139.json.gz"
	canonicalPerf149 = "canonical/rp-performance-testnet-149.json.gz"
)

// decodeGeneric parses JSON into map[string]any keeping numbers exact.
func decodeGeneric(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("generic decode: %v", err)
	}
	return v
}

func readPerf(t *testing.T, rel string) ([]byte, PerformanceData) {
	t.Helper()
	raw := testutil.ReadShared(t, rel)
	f, err := ReadPerformanceFile(raw)
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return raw, f
}

// TestPerformanceCanonicalRoundTrip: decode → encode keeps every field
// (semantic comparison with the canonical file), encode → decode gives the
// same typed value, and the output is the canonical file's compact form.
func TestPerformanceCanonicalRoundTrip(t *testing.T) {
	for _, rel := range []string{canonicalPerf139, canonicalPerf149} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			raw, f := readPerf(t, rel)
			out, err := f.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !reflect.DeepEqual(decodeGeneric(t, raw), decodeGeneric(t, out)) {
				t.Fatal("re-encoded file differs semantically from the canonical file")
			}
			f2, err := ReadPerformanceFile(out)
			if err != nil {
				t.Fatalf("read re-encoded file: %v", err)
			}
			if !reflect.DeepEqual(f, f2) {
				t.Fatal("decode(encode(x)) != x")
			}
			out2, err := f2.Marshal()
			if err != nil || !bytes.Equal(out, out2) {
				t.Fatalf("second encoding differs (err %v)", err)
			}
			// The rewards-trees copy is only re-indented: compacting it gives
			// back the bytes the node wrote, which must equal our output
			// (struct order, sorted map keys, compact).
			var compact bytes.Buffer
			if err := json.Compact(&compact, raw); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(compact.Bytes(), out) {
				t.Errorf("output (%d bytes) differs from the compacted canonical file (%d bytes)", len(out), compact.Len())
			}
			if f.FileName()+".gz" != filepath.Base(rel) {
				t.Errorf("FileName %s does not match %s", f.FileName(), rel)
			}
		})
	}
}

func TestPerformanceCanonical139Values(t *testing.T) {
	_, pd := readPerf(t, canonicalPerf139)
	f, ok := pd.(*MinipoolPerformanceFile)
	if !ok {
		t.Fatalf("got %T, want *MinipoolPerformanceFile", pd)
	}
	// Header values as listed in shared/testdata/README.md.
	h := f.Header()
	if h.RewardsFileVersion != 3 || h.RulesetVersion != 10 || h.Index != 139 || h.Network != "testnet" ||
		h.ConsensusStartBlock != 2300352 || h.ConsensusEndBlock != 2314751 ||
		h.ExecutionStartBlock != 2138229 || h.ExecutionEndBlock != 2151342 {
		t.Errorf("header %+v", h)
	}
	if !h.StartTime.Equal(time.Date(2026, 1, 31, 0, 0, 24, 0, time.UTC)) || !h.EndTime.Equal(time.Date(2026, 2, 2, 0, 0, 12, 0, time.UTC)) {
		t.Errorf("times %s %s", h.StartTime, h.EndTime)
	}
	if len(f.MinipoolPerformance) != 1456 {
		t.Errorf("minipools: %d, want 1456", len(f.MinipoolPerformance))
	}
	if f.BonusScalar.String() != "346706141408339354" {
		t.Errorf("bonusScalar %s", f.BonusScalar.String())
	}
	// First entry of the canonical file, read by eye.
	mp := f.MinipoolPerformance[common.HexToAddress("0x003e84757dba10f9cd68dfc29589113ec718ad68")]
	if mp == nil {
		t.Fatal("minipool 0x003e84… missing")
	}
	if mp.Pubkey.String() != "a6beff3149e46a98fd90ccdfd7b312cdd7f876882075dfd2c4bb496e4cdb9a626cab2802c3632b9c65b895b4576720f7" ||
		mp.SuccessfulAttestations != 411 || mp.MissedAttestations != 2 ||
		mp.AttestationScore.String() != "134776686691278183705" ||
		!reflect.DeepEqual(mp.MissingAttestationSlots, []uint64{2311352, 2311363}) ||
		mp.EthEarned.String() != "22753519524800" ||
		mp.ConsensusIncome == nil || mp.ConsensusIncome.String() != "3361962000000000" ||
		mp.BonusEthEarned == nil || mp.BonusEthEarned.String() != "47118515510524" ||
		mp.EffectiveCommission == nil || mp.EffectiveCommission.String() != "103898415867893541" {
		t.Errorf("entry 0x003e84…: %+v", mp)
	}
	// Every entry of this file carries the three bonus fields.
	for addr, m := range f.MinipoolPerformance {
		if m.ConsensusIncome == nil || m.BonusEthEarned == nil || m.EffectiveCommission == nil {
			t.Fatalf("minipool %s lacks a bonus field", addr)
		}
	}
}

func TestPerformanceCanonical149Values(t *testing.T) {
	_, pd := readPerf(t, canonicalPerf149)
	f, ok := pd.(*PerformanceFile)
	if !ok {
		t.Fatalf("got %T, want *PerformanceFile", pd)
	}
	if f.RewardsFileVersion != 4 || f.RulesetVersion != 11 || f.Index != 149 {
		t.Errorf("header %+v", f.PerformanceHeader)
	}
	if f.BonusScalar.String() != "1000000000000000000" {
		t.Errorf("bonusScalar %s", f.BonusScalar.String())
	}
	// Counts from shared/testdata/README.md: 41 minipools, 17 megapools,
	// 1671 megapool validators, 5 megapools with only voterShare.
	if len(f.MinipoolPerformance) != 41 || len(f.MegapoolPerformance) != 17 {
		t.Errorf("minipools %d megapools %d, want 41 and 17", len(f.MinipoolPerformance), len(f.MegapoolPerformance))
	}
	validators, voterOnly := 0, 0
	for addr, m := range f.MegapoolPerformance {
		validators += len(m.ValidatorPerformance)
		if m.VoterShare != nil {
			voterOnly++
			if len(m.ValidatorPerformance) != 0 {
				t.Errorf("megapool %s has both voterShare and validators", addr)
			}
		}
	}
	if validators != 1671 || voterOnly != 5 {
		t.Errorf("validators %d voter-only megapools %d, want 1671 and 5", validators, voterOnly)
	}
	for _, m := range f.MinipoolPerformance {
		if m.ConsensusIncome != nil || m.BonusEthEarned != nil || m.EffectiveCommission != nil {
			t.Fatal("ruleset-11 minipool entry carries a v10 bonus field")
		}
	}
	mg := f.MegapoolPerformance[common.HexToAddress("0x399210e272d3a961008384597cae44c506086b63")]
	if mg == nil || mg.VoterShare == nil || mg.VoterShare.String() != "8419811063947252" || mg.ValidatorPerformance != nil {
		t.Errorf("megapool 0x399210…: %+v", mg)
	}
}

func TestPerformanceReadZstd(t *testing.T) {
	raw := testutil.ReadShared(t, canonicalPerf149)
	z, err := Compress(raw)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ReadPerformanceFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadPerformanceFile(z)
	if err != nil {
		t.Fatalf("read compressed: %v", err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("compressed and plain reads differ")
	}
}

// A small valid minipool performance file v2 used to derive bad inputs.
const smallV2 = `{"rewardsFileVersion":3,"rulesetVersion":10,"index":7,"network":"testnet",` +
	`"startTime":"2026-01-31T00:00:24Z","endTime":"2026-02-02T00:00:12Z",` +
	`"consensusStartBlock":10,"consensusEndBlock":20,"executionStartBlock":30,"executionEndBlock":40,` +
	`"minipoolPerformance":{"0x00000000000000000000000000000000000000aa":{` +
	`"pubkey":"a6beff3149e46a98fd90ccdfd7b312cdd7f876882075dfd2c4bb496e4cdb9a626cab2802c3632b9c65b895b4576720f7",` +
	`"successfulAttestations":5,"missedAttestations":1,"attestationScore":"100","missingAttestationSlots":[15],` +
	`"ethEarned":"7"}},"bonusScalar":"1000000000000000000"}`

const smallV1 = `{"rewardsFileVersion":4,"rulesetVersion":11,"index":8,"network":"mainnet",` +
	`"startTime":"2026-01-31T00:00:24Z","endTime":"2026-02-02T00:00:12Z",` +
	`"consensusStartBlock":10,"consensusEndBlock":20,"executionStartBlock":30,"executionEndBlock":40,` +
	`"minipoolPerformance":{},"megapoolPerformance":{` +
	`"0x00000000000000000000000000000000000000bb":{"voterShare":"5"},` +
	`"0x00000000000000000000000000000000000000cc":{"validatorPerformance":{` +
	`"8803ee015c67078af2725e4f964050e2ce514b4471aa4c4a69a6e62541fbc718bd1845e09c58cfc5e9c8c55dc4796cc1":` +
	`{"successfulAttestations":3,"missedAttestations":0,"attestationScore":"9","missingAttestationSlots":[],"ethEarned":"2"}}}},` +
	`"bonusScalar":"1000000000000000000"}`

func TestPerformanceSmallValid(t *testing.T) {
	for name, in := range map[string]string{"v2": smallV2, "v1": smallV1} {
		f, err := ReadPerformanceFile([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out, err := f.Marshal()
		if err != nil {
			t.Fatalf("%s: Marshal: %v", name, err)
		}
		// These snippets are written in the writer's own order and form.
		if string(out) != in {
			t.Errorf("%s: round trip\n got %s\nwant %s", name, out, in)
		}
	}
}

func TestPerformanceStrictErrors(t *testing.T) {
	pk := "a6beff3149e46a98fd90ccdfd7b312cdd7f876882075dfd2c4bb496e4cdb9a626cab2802c3632b9c65b895b4576720f7"
	cases := []struct {
		name, in, wantInErr string
	}{
		{"unknown top-level field", strings.Replace(smallV2, `"index":7`, `"index":7,"indx":8`, 1), `"indx"`},
		{"unknown entry field", strings.Replace(smallV2, `"ethEarned":"7"`, `"ethEarned":"7","bogus":1`, 1), `"bogus"`},
		{"uppercase address", strings.Replace(smallV2, "0x00000000000000000000000000000000000000aa", "0x00000000000000000000000000000000000000AA", 1), "0x00000000000000000000000000000000000000AA"},
		{"short address", strings.Replace(smallV2, "0x00000000000000000000000000000000000000aa", "0x00aa", 1), "0x00aa"},
		{"address without 0x", strings.Replace(smallV2, "0x00000000000000000000000000000000000000aa", "0000000000000000000000000000000000000000aa", 1), "0000000000000000000000000000000000000000aa"},
		{"pubkey with 0x", strings.Replace(smallV2, `"pubkey":"`+pk, `"pubkey":"0x`+pk[2:], 1), "pubkey"},
		{"short pubkey", strings.Replace(smallV2, pk, pk[:94], 1), "pubkey"},
		{"non-hex pubkey", strings.Replace(smallV2, pk, "zz"+pk[2:], 1), "zz"},
		{"zero pubkey", strings.Replace(smallV2, pk, strings.Repeat("0", 96), 1), "all zero"},
		{"missing pubkey", strings.Replace(smallV2, `"pubkey":"`+pk+`",`, "", 1), "pubkey is missing"},
		{"missing ethEarned", strings.Replace(smallV2, `,"ethEarned":"7"`, "", 1), "ethEarned is missing"},
		{"numeric amount", strings.Replace(smallV2, `"ethEarned":"7"`, `"ethEarned":7`, 1), "decimal string"},
		{"negative amount", strings.Replace(smallV2, `"ethEarned":"7"`, `"ethEarned":"-7"`, 1), "-7"},
		{"string count", strings.Replace(smallV2, `"missedAttestations":1`, `"missedAttestations":"1"`, 1), "missedAttestations"},
		{"missing index", strings.Replace(smallV2, `"index":7,`, "", 1), "index is missing"},
		{"missing ruleset", strings.Replace(smallV2, `"rulesetVersion":10,`, "", 1), "rulesetVersion is missing"},
		{"missing network", strings.Replace(smallV2, `"network":"testnet",`, "", 1), "network"},
		{"missing startTime", strings.Replace(smallV2, `"startTime":"2026-01-31T00:00:24Z",`, "", 1), "startTime is missing"},
		{"bad time", strings.Replace(smallV2, `2026-01-31T00:00:24Z`, `31/01/2026`, 1), "31/01/2026"},
		{"misspelt minipools", strings.Replace(smallV2, `"minipoolPerformance":{`, `"minipoolPerformanceX":{`, 1), "minipoolPerformanceX"},
		{"null minipools", `{"rewardsFileVersion":3,"rulesetVersion":10,"index":7,"network":"testnet",` +
			`"startTime":"2026-01-31T00:00:24Z","endTime":"2026-02-02T00:00:12Z",` +
			`"consensusStartBlock":10,"consensusEndBlock":20,"executionStartBlock":30,"executionEndBlock":40,` +
			`"minipoolPerformance":null,"bonusScalar":"1"}`, "minipoolPerformance is missing"},
		{"null entry", strings.Replace(smallV1, `{"voterShare":"5"}`, `null`, 1), "is null"},
		{"missing bonusScalar", strings.Replace(smallV2, `,"bonusScalar":"1000000000000000000"`, "", 1), "bonusScalar is missing"},
		{"megapools in ruleset 10", strings.Replace(smallV2, `"minipoolPerformance":`, `"megapoolPerformance":{},"minipoolPerformance":`, 1), "megapoolPerformance present"},
		{"trailing data", smallV2 + `{}`, "trailing"},
		{"not an object", `[1,2]`, "cannot unmarshal"},
		{"empty", ``, "EOF"},
		{"bad validator key", strings.Replace(smallV1, `"8803ee`, `"8803EE`, 1), "8803EE"},
		{"missing validator field", strings.Replace(smallV1, `"missedAttestations":0,`, "", 1), "missedAttestations is missing"},
		{"bad megapool key", strings.Replace(smallV1, `0x00000000000000000000000000000000000000bb`, `0x0bb`, 1), "0x0bb"},
		{"validator pubkey field", strings.Replace(smallV1, `{"successfulAttestations":3`, `{"pubkey":"x","successfulAttestations":3`, 1), `"pubkey"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.in == smallV2 || c.in == smallV1 {
				t.Fatal("test case did not change the input")
			}
			_, err := ReadPerformanceFile([]byte(c.in))
			if err == nil {
				t.Fatal("expected an error")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), c.wantInErr) {
				t.Errorf("error %q does not name %q", err, c.wantInErr)
			}
		})
	}
}

func TestPerformanceReadLenient(t *testing.T) {
	// null slots read as an empty list; null voterShare / validatorPerformance as absent.
	in := strings.Replace(smallV2, `"missingAttestationSlots":[15]`, `"missingAttestationSlots":null`, 1)
	f, err := ReadPerformanceFile([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range f.Minipools() {
		if m.MissingAttestationSlots == nil || len(m.MissingAttestationSlots) != 0 {
			t.Errorf("slots %v, want empty non-nil", m.MissingAttestationSlots)
		}
	}
	in = strings.Replace(smallV1, `{"voterShare":"5"}`, `{"voterShare":"5","validatorPerformance":null}`, 1)
	if _, err := ReadPerformanceFile([]byte(in)); err != nil {
		t.Errorf("null validatorPerformance: %v", err)
	}
	// Ruleset 11 without megapoolPerformance reads as an empty megapool map.
	in = strings.Replace(smallV2, `"rulesetVersion":10`, `"rulesetVersion":11`, 1)
	pd, err := ReadPerformanceFile([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	pf, ok := pd.(*PerformanceFile)
	if !ok || pf.MegapoolPerformance == nil || len(pf.MegapoolPerformance) != 0 {
		t.Errorf("got %T %+v", pd, pd)
	}
}

func samplePubkey(b byte) ValidatorPubkey {
	var pk ValidatorPubkey
	for i := range pk {
		pk[i] = b + byte(i)
	}
	return pk
}

func TestPerformanceWriterInvariants(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	slots := []uint64{30, 10, 20}
	f := &MinipoolPerformanceFile{
		PerformanceHeader: PerformanceHeader{
			RewardsFileVersion: 3, RulesetVersion: 10, Index: 1, Network: "testnet",
			// 01:00:24 at UTC+1 is 00:00:24Z.
			StartTime: time.Date(2026, 1, 31, 1, 0, 24, 0, berlin),
			EndTime:   time.Date(2026, 2, 2, 0, 0, 12, 0, time.UTC),
		},
		MinipoolPerformance: map[common.Address]*MinipoolPerformance{
			common.HexToAddress("0x00000000000000000000000000000000000000bb"): {
				Pubkey: samplePubkey(1), MissingAttestationSlots: slots,
				AttestationScore: NewBigInt(big.NewInt(12)), EthEarned: NewBigInt(big.NewInt(3)),
			},
			common.HexToAddress("0x00000000000000000000000000000000000000AA"): {
				Pubkey: samplePubkey(2), // nil slots → []
			},
		},
		BonusScalar: BigIntFromUint64(1_000_000_000_000_000_000),
	}
	out, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		`"startTime":"2026-01-31T00:00:24Z"`,
		`"missingAttestationSlots":[10,20,30]`,
		`"missingAttestationSlots":[]`,
		`"pubkey":"` + samplePubkey(1).String() + `"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %s:\n%s", want, s)
		}
	}
	// Lowercase keys, sorted: …aa before …bb.
	if ia, ib := strings.Index(s, `"0x00000000000000000000000000000000000000aa"`), strings.Index(s, `"0x00000000000000000000000000000000000000bb"`); ia < 0 || ib < 0 || ia > ib {
		t.Errorf("keys not lowercase and sorted: %s", s)
	}
	if strings.Contains(s, "consensusIncome") || strings.Contains(s, "megapoolPerformance") {
		t.Errorf("absent fields written: %s", s)
	}
	if !reflect.DeepEqual(slots, []uint64{30, 10, 20}) {
		t.Errorf("Marshal modified the caller's slots: %v", slots)
	}

	// Invariants the writer refuses.
	bad := *f
	bad.RulesetVersion = 11
	if _, err := bad.Marshal(); err == nil {
		t.Error("ruleset 11 in a minipool performance file v2: expected an error")
	}
	bad = *f
	bad.Network = ""
	if _, err := bad.Marshal(); err == nil {
		t.Error("empty network: expected an error")
	}
	bad = *f
	bad.MinipoolPerformance = map[common.Address]*MinipoolPerformance{{1}: {}}
	if _, err := bad.Marshal(); err == nil || !strings.Contains(err.Error(), "pubkey") {
		t.Errorf("zero pubkey: got %v", err)
	}
	bad = *f
	bad.MinipoolPerformance = map[common.Address]*MinipoolPerformance{{1}: nil}
	if _, err := bad.Marshal(); err == nil {
		t.Error("nil entry: expected an error")
	}

	v1 := &PerformanceFile{
		PerformanceHeader: f.PerformanceHeader,
		MegapoolPerformance: map[common.Address]*MegapoolPerformance{
			{2}: {VoterShare: ptrBig(5), ValidatorPerformance: map[ValidatorPubkey]*ValidatorPerformance{samplePubkey(3): {}}},
		},
	}
	v1.RulesetVersion = 11
	if _, err := v1.Marshal(); err == nil || !strings.Contains(err.Error(), "voterShare") {
		t.Errorf("voterShare with validators: got %v", err)
	}
	v1.MegapoolPerformance[common.Address{2}].VoterShare = nil
	out, err = v1.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// nil minipool map is written as {}, empty validator slots as [].
	if !strings.Contains(string(out), `"minipoolPerformance":{}`) || !strings.Contains(string(out), `"missingAttestationSlots":[]`) {
		t.Errorf("output: %s", out)
	}
	v1.RulesetVersion = 10
	if _, err := v1.Marshal(); err == nil {
		t.Error("ruleset 10 in a performance file v1: expected an error")
	}
}

func ptrBig(x int64) *BigInt {
	b := NewBigInt(big.NewInt(x))
	return &b
}

func TestWritePerformanceFile(t *testing.T) {
	dir := t.TempDir()
	_, f := readPerf(t, canonicalPerf149)
	path, err := WritePerformanceFile(dir, f)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "rp-performance-testnet-149.json" {
		t.Errorf("path %s", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadPerformanceFile(data)
	if err != nil || !reflect.DeepEqual(back, f) {
		t.Errorf("written file does not read back equal (err %v)", err)
	}
	if got := PerformanceFileName("mainnet", 30, 10); got != "rp-minipool-performance-mainnet-30.json" {
		t.Errorf("PerformanceFileName v10: %s", got)
	}
	if got := PerformanceFileName("mainnet", 46, 11); got != "rp-performance-mainnet-46.json" {
		t.Errorf("PerformanceFileName v11: %s", got)
	}
}

func TestValidatorPubkeyText(t *testing.T) {
	pk := samplePubkey(0xf0)
	txt, _ := pk.MarshalText()
	var back ValidatorPubkey
	if err := back.UnmarshalText(txt); err != nil || back != pk {
		t.Fatalf("round trip: %v", err)
	}
	if strings.ToLower(string(txt)) != string(txt) || len(txt) != 96 {
		t.Errorf("text form %s", txt)
	}
	if err := back.UnmarshalText([]byte(strings.ToUpper(string(txt)))); err == nil {
		t.Error("uppercase accepted")
	}
}

func BenchmarkReadPerformanceFile(b *testing.B) {
	raw := testutil.ReadShared(b, canonicalPerf149)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadPerformanceFile(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalPerformanceFile(b *testing.B) {
	raw := testutil.ReadShared(b, canonicalPerf149)
	f, err := ReadPerformanceFile(raw)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}
