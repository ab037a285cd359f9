# Convenience targets; the README's two commands are all a newcomer needs.
.PHONY: run test unit bench build fmt vet

run:
	go run ./cmd/watchtower sim

verify-sample:
	go run ./cmd/treegen verify-file testdata/rp-rewards-testnet-149.json.gz

test:
	./.ci/run

unit:
	go test ./...

bench:
	go test -run XXX -bench . -benchmem ./tree/ ./rewards/ ./chain/...

build:
	mkdir -p bin && go build -o bin/ ./cmd/...

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	go vet ./...
