#!/usr/bin/env bash
# Builds kubo (the IPFS daemon, command "ipfs") from source at a pinned version
# into a cache directory, using a throw-away "scratch" Go module (kubo cannot be
# fetched with `go install` through the module proxy; see
# shared/reference/dependencies.md §5). Never downloads a prebuilt binary.
#
#   deploy/kubo/build.sh            # prints the binary's path
#   KUBO_VERSION=v0.43.0 ODAOWATCH_BIN=/some/dir deploy/kubo/build.sh
#
# The build is skipped when the binary already exists and reports the version.
set -euo pipefail

version="${KUBO_VERSION:-v0.43.0}"
bindir="${ODAOWATCH_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/odaowatch/bin}"
bin="$bindir/ipfs-$version"

if [[ -x "$bin" ]] && "$bin" version 2>/dev/null | grep -q "${version#v}"; then
  echo "$bin"
  exit 0
fi

mkdir -p "$bindir"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/kubobuild.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
{
  go mod init example.local/kubobuild
  printf '//go:build tools\npackage tools\nimport _ "github.com/ipfs/kubo/cmd/ipfs"\n' > tools.go
  go get "github.com/ipfs/kubo/cmd/ipfs@$version"
  go build -o "$bin.tmp" github.com/ipfs/kubo/cmd/ipfs
  mv "$bin.tmp" "$bin"
} 1>&2
"$bin" version 1>&2
echo "$bin"
