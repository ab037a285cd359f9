package tree

import (
	"encoding/json"
	"testing"
)

func TestBigIntJSON(t *testing.T) {
	for _, in := range []string{`"0"`, `"1"`, `"115792089237316195423570985008687907853269984665640564039457584007913129639935"`, `"null"`} {
		var b BigInt
		if err := json.Unmarshal([]byte(in), &b); err != nil {
			t.Fatalf("unmarshal %s: %v", in, err)
		}
		out, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != in {
			t.Errorf("round trip %s gave %s", in, out)
		}
	}
	for _, bad := range []string{`1`, `""`, `"-1"`, `"1e18"`, `"0x10"`, `null`, `"115792089237316195423570985008687907853269984665640564039457584007913129639936"`} {
		var b BigInt
		if err := json.Unmarshal([]byte(bad), &b); err == nil {
			t.Errorf("unmarshal %s: want error, got %s", bad, b.String())
		}
	}
}
