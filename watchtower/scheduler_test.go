package watchtower_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/odaowatch/watchtower/watchtower"
)

func TestSchedulerStopsInReverseOrder(t *testing.T) {
	var mu sync.Mutex
	var events []string
	rec := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	svc := func(name string) watchtower.Service {
		return watchtower.Service{Name: name, Run: func(ctx context.Context) error {
			rec("start " + name)
			<-ctx.Done()
			rec("stop " + name)
			return nil
		}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- (&watchtower.Scheduler{}).Run(ctx, svc("a"), svc("b"), svc("c")) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	stops := []string{}
	for _, e := range events {
		if e[:4] == "stop" {
			stops = append(stops, e)
		}
	}
	if len(stops) != 3 || stops[0] != "stop c" || stops[1] != "stop b" || stops[2] != "stop a" {
		t.Fatalf("events %v", events)
	}
}

func TestSchedulerFailingServiceStopsAll(t *testing.T) {
	boom := errors.New("boom")
	stopped := make(chan struct{})
	err := (&watchtower.Scheduler{}).Run(context.Background(),
		watchtower.Service{Name: "long", Run: func(ctx context.Context) error { <-ctx.Done(); close(stopped); return nil }},
		watchtower.Service{Name: "bad", Run: func(context.Context) error { return boom }},
	)
	if !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("the other service was not stopped")
	}
}

func TestNewMemberRejectsMissingSettings(t *testing.T) {
	if _, err := watchtower.NewMember(context.Background(), watchtower.MemberConfig{}); err == nil {
		t.Fatal("empty config accepted")
	}
}
