package tree

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzReadPerformanceFile: ReadPerformanceFile must never panic. When it
// accepts an input, Marshal must succeed (unless the input breaks the
// voterShare-or-validators invariant the writer enforces), the output must
// read back, and a second Marshal must give identical bytes.
func FuzzReadPerformanceFile(f *testing.F) {
	for _, seed := range []string{
		smallV2,
		smallV1,
		strings.Replace(smallV2, `[15]`, `[30,15,20]`, 1),
		strings.Replace(smallV1, `{"voterShare":"5"}`, `{"voterShare":"null"}`, 1),
		`{}`,
		`null`,
		`[]`,
		`{"rulesetVersion":11,"megapoolPerformance":{"0x0":{}}}`,
		`{"minipoolPerformance":{"0xzz":{}}}`,
		smallV2[:len(smallV2)/2],
		"\x28\xb5\x2f\xfd\x00\x00",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pd, err := ReadPerformanceFile(data)
		if err != nil {
			return
		}
		out, err := pd.Marshal()
		if err != nil {
			if pf, ok := pd.(*PerformanceFile); ok {
				for _, m := range pf.MegapoolPerformance {
					if m.VoterShare != nil && len(m.ValidatorPerformance) > 0 {
						return // refused by design
					}
				}
			}
			t.Fatalf("accepted input does not marshal: %v", err)
		}
		back, err := ReadPerformanceFile(out)
		if err != nil {
			t.Fatalf("own output does not read back: %v\n%s", err, out)
		}
		out2, err := back.Marshal()
		if err != nil {
			t.Fatalf("second marshal: %v", err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("marshal not idempotent:\n%s\n%s", out, out2)
		}
	})
}
