#!/usr/bin/env bash
# Starts the devnet of the devnet tier for manual use, detached: geth v1.17.8, a Prysm v7.1.2 beacon node and
# validator client (64 interop validators, the last 4 offline, Deneb, 32-slot epochs of 2-s slots) on free
# loopback ports, with our protocol deployed and seeded (chain/devnet's layout), then exits. Binaries come from
# deploy/devnet/build.sh (built once into ~/.cache/odaowatch).
#
#   deploy/devnet/start.sh /tmp/devnet                 # prints endpoints, RocketStorage, member keystores
#   deploy/devnet/start.sh /tmp/devnet -protocol=false # the bare chain
#   deploy/devnet/stop.sh /tmp/devnet                  # stops the clients by PID
set -euo pipefail
if [[ $# -lt 1 ]]; then
  echo "usage: $0 DIR [devnetup flags]" >&2
  exit 2
fi
dir="$1"; shift
cd "$(dirname "$0")/../.."
exec go run ./chain/devnet/cmd/devnetup -dir "$dir" "$@"
