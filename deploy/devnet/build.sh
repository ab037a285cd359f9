#!/usr/bin/env bash
# Builds the pinned clients of the devnet tier from source through the Go module proxy, once, into the user
# cache, and prints one "name=path" line per binary on stdout (logs go to stderr):
#
#   geth=~/.cache/odaowatch/geth-v1.17.8/geth                 (go install, like chain/simnet/gethtest)
#   beacon-chain=~/.cache/odaowatch/prysm-v7.1.2/beacon-chain (scratch module, see below)
#   validator=~/.cache/odaowatch/prysm-v7.1.2/validator
#   prysmctl=~/.cache/odaowatch/prysm-v7.1.2/prysmctl
#
# Prysm cannot be fetched with `go install` (the proxy answers 403 on its @v/list, and its go.mod has replace
# directives), so it is built in a throw-away scratch module (shared/reference/dependencies.md §6, §6a):
#   - keep Prysm's json-iterator replace (github.com/prestonvanloon/go),
#   - drop its go-bip39 replace (it points at ./third_party, which is not in the module zip; upstream v1.1.0 is used),
#   - GONOSUMDB=github.com/quic-go/quic-go for this build only (the checksum database answers 404 for the
#     pseudo-version Prysm v7 needs; the scratch go.sum still pins the hash the proxy served).
# A binary is rebuilt only when it is missing or does not report the pinned version. An flock on the cache
# directory keeps two concurrent callers (two test processes) from building at the same time.
#
#   deploy/devnet/build.sh
#   GETH_VERSION=v1.17.8 PRYSM_VERSION=v7.1.2 ODAOWATCH_CACHE=/some/dir deploy/devnet/build.sh
set -euo pipefail

geth_version="${GETH_VERSION:-v1.17.8}"
prysm_version="${PRYSM_VERSION:-v7.1.2}"
cache="${ODAOWATCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/odaowatch}"
gethdir="$cache/geth-$geth_version"
prysmdir="$cache/prysm-$prysm_version"
json_iter_replace="github.com/json-iterator/go=github.com/prestonvanloon/go@v1.1.7-0.20190722034630-4f2e55fcf87b"

mkdir -p "$gethdir" "$prysmdir"

# One builder at a time (bounded: give up after 40 minutes of waiting for another builder).
exec 9>"$cache/.devnet-build.lock"
if ! flock -w 2400 9; then
  echo "build.sh: timed out waiting for $cache/.devnet-build.lock" >&2
  exit 1
fi

geth_ok() { [[ -x "$gethdir/geth" ]] && "$gethdir/geth" version 2>/dev/null | grep -q "${geth_version#v}-stable"; }
stamp="$prysmdir/.built-$prysm_version"
prysm_ok() { # $1 binary name; prysmctl has no --version: the stamp written after its build vouches for it
  [[ -x "$prysmdir/$1" ]] || return 1
  case "$1" in
    prysmctl) [[ -f "$stamp" ]] && grep -qx prysmctl "$stamp" && "$prysmdir/$1" help >/dev/null 2>&1 ;;
    *) "$prysmdir/$1" --version 2>/dev/null | grep -q "Prysm/$prysm_version/" ;;
  esac
}

if ! geth_ok; then
  echo "building geth $geth_version into $gethdir" >&2
  GOBIN="$gethdir" GOFLAGS= go install "github.com/ethereum/go-ethereum/cmd/geth@$geth_version" 1>&2
  geth_ok || { echo "build.sh: geth at $gethdir/geth does not report $geth_version" >&2; exit 1; }
fi

need=()
for b in beacon-chain validator prysmctl; do
  prysm_ok "$b" || need+=("$b")
done
if (( ${#need[@]} > 0 )); then
  echo "building Prysm $prysm_version (${need[*]}) into $prysmdir" >&2
  scratch="$(mktemp -d "${TMPDIR:-/tmp}/prysmbuild.XXXXXX")"
  trap 'rm -rf "$scratch"' EXIT
  (
    cd "$scratch"
    export GONOSUMDB=github.com/quic-go/quic-go GOFLAGS=-mod=mod
    go mod init example.local/prysmbuild
    {
      printf '//go:build tools\n\npackage tools\n\nimport (\n'
      for b in beacon-chain validator prysmctl; do
        printf '\t_ "github.com/OffchainLabs/prysm/v7/cmd/%s"\n' "$b"
      done
      printf ')\n'
    } > tools.go
    go mod edit -replace "$json_iter_replace"
    go get "github.com/OffchainLabs/prysm/v7@$prysm_version"
    # Version string the binaries report (Prysm's own builds stamp it through Bazel x_defs).
    ldflags="-X github.com/OffchainLabs/prysm/v7/runtime/version.gitTag=$prysm_version"
    for b in "${need[@]}"; do
      echo "go build $b" >&2
      go build -ldflags "$ldflags" -o "$prysmdir/$b.tmp" "github.com/OffchainLabs/prysm/v7/cmd/$b"
      mv "$prysmdir/$b.tmp" "$prysmdir/$b"
      grep -qx "$b" "$stamp" 2>/dev/null || echo "$b" >> "$stamp"
    done
  ) 1>&2
  for b in "${need[@]}"; do
    prysm_ok "$b" || { echo "build.sh: $prysmdir/$b does not report $prysm_version:" >&2; "$prysmdir/$b" --version >&2 || true; exit 1; }
  done
fi

echo "geth=$gethdir/geth"
for b in beacon-chain validator prysmctl; do
  echo "$b=$prysmdir/$b"
done
