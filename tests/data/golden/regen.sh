#!/bin/sh
# regen.sh — regenerate the golden outputs of tests/test-simulate: for each
# tests/data/golden/NAME.yaml, NAME.json = `parasim simulate NAME.yaml
# --format json`.  Run it only deliberately, after a change that is meant to
# move the simulated numbers (graph, engine, network, cost model), and review
# the diff of the .json files before committing it:
#   make golden-regen                      (from a build directory), or
#   PARASIM=/path/to/build/parasim sh tests/data/golden/regen.sh
# The scenarios are self-contained (no preset includes), so recalibrated
# presets do not move them.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
bin=${PARASIM:-parasim}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for y in "$dir"/*.yaml; do
	out=${y%.yaml}.json
	"$bin" simulate "$y" --db "$tmp/golden.db" --format json > "$tmp/out.json"
	mv "$tmp/out.json" "$out"
	echo "wrote $out"
done
