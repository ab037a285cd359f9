package pin

import (
	"context"
	"testing"
	"time"
)

type nopPinner struct{}

func (nopPinner) Pin(context.Context, string, []byte) (string, error) { return "", nil }

// BenchmarkSubmit measures what Submit costs the caller (copy + local CID)
// for a mainnet-sized rewards JSON (~2.8 MB).
func BenchmarkSubmit(b *testing.B) {
	data := make([]byte, 2_829_554) // rp-rewards-mainnet-20.json
	for i := range data {
		data[i] = byte(i * 7)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q, err := NewQueue(ctx, WithPinner(nopPinner{}), WithCapacity(1<<16), WithBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		data[0] = byte(i) // new content each time: no idempotent shortcut
		if _, err := q.Submit("rp-rewards-mainnet-20.json", data); err != nil {
			b.Fatal(err)
		}
	}
}
