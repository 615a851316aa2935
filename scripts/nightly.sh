#!/bin/sh
# The nightly campaign on a plain machine: shards in parallel (one per core), merge, triage.
# Usage: scripts/nightly.sh [time per shard, default 30m] [shards, default: the number of cores]
set -eu
cd "$(dirname "$0")/.."
time="${1:-30m}"
shards="${2:-$(nproc)}"
night="out/$(date +%F)"
seed="nightly-$(date +%F)"
npm ci --silent
rm -rf "$night"
i=1
while [ "$i" -le "$shards" ]; do
  npm run --silent fuzz -- --seed "$seed" --time "$time" --shard "$i/$shards" --out "$night/shard-$i" > "$night-shard-$i.log" 2>&1 &
  i=$((i + 1))
done
# A shard exits 1 when an invariant failed: that is data for triage, not an error here.
wait || true
npm run --silent merge -- "$night"/shard-* --out "$night/merged"
npm run --silent triage -- "$night/merged" --known corpus
