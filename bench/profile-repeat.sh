#!/bin/sh
# profile-repeat.sh — repeatability of `parasim profile`: run the same
# profile twice into two fresh stores and print the distribution of the
# per-shape differences of the medians, |b/a - 1|, per op and overall, with
# the fraction of shapes within 3% (the bar) — and the leave-one-out
# table of each run (from the profile's own output).
#
# usage: bench/profile-repeat.sh [PARASIM] [profile options...]
#   e.g. bench/profile-repeat.sh ./parasim            (full profile, ~2 x 10 min)
#        bench/profile-repeat.sh ./parasim --quick --threads 1
# Needs the sqlite3 command-line shell.  Keeps the stores and outputs in a
# temporary folder that it names at the end.
set -e
P=${1:-./parasim}
[ $# -gt 0 ] && shift
dir=$(mktemp -d "${TMPDIR:-/tmp}/profile-repeat.XXXXXX")
for run in a b; do
	start=$(date +%s)
	"$P" profile "$@" --db "$dir/$run.db" >"$dir/$run.txt"
	echo "run $run: $(($(date +%s) - start)) s, load average now $(cut -d' ' -f1-3 /proc/loadavg)"
done
sqlite3 -separator ' ' "$dir/a.db" "ATTACH '$dir/b.db' AS b;
  SELECT x.op, x.median_s, y.median_s FROM kernel_profiles x JOIN b.kernel_profiles y
  USING (op, dtype, M, N, K, B, T, C, NH, KVH, HS, V, numel, variant);" |
	awk '{ d = $3 / $2 - 1; if (d < 0) d = -d; print $1, d; print "ALL", d }' |
	sort -k1,1 -k2,2g >"$dir/diff.txt"
echo
echo "per-shape |median_b / median_a - 1| (nearest-rank quantiles)"
printf '%-13s %5s %8s %8s %8s %8s %9s\n' op n median p90 p99 max within3%
awk 'function flush() {
	if (n == 0) return
	m = v[int((n + 1) / 2)]; p = v[int(0.9 * n + 0.999999)]; q = v[int(0.99 * n + 0.999999)]
	printf "%-13s %5d %7.2f%% %7.2f%% %7.2f%% %7.2f%% %8.1f%%\n", op, n, 100 * m, 100 * p, 100 * q, 100 * v[n], 100 * w / n
}
$1 != op { flush(); op = $1; n = 0; w = 0 }
{ v[++n] = $2; if ($2 <= 0.03) w++ }
END { flush() }' "$dir/diff.txt"
echo
echo "leave-one-out of run a:"
sed -n '/^cost model/,$p' "$dir/a.txt"
echo
echo "leave-one-out of run b:"
sed -n '/^cost model/,$p' "$dir/b.txt"
echo
echo "stores and outputs: $dir"
