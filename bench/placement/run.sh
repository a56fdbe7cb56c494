#!/bin/sh
# run.sh K OUTDIR: K rounds, each runs variants a b c d in fresh processes (interleaved)
K=${1:-10}; out=${2:-data/r1}; mkdir -p $out
for k in $(seq 1 $K); do
  for v in ${VARIANTS:-a b c d}; do
    echo "# k=$k v=$v load=$(cut -d' ' -f1 /proc/loadavg)" >> $out/$v.txt
    nice -n 5 ./place $v 4 >> $out/$v.txt
  done
done
