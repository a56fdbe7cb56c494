#!/bin/sh
# run2.sh K OUTDIR: like run.sh, but before each process waits (up to 60 s)
# until the machine has been idle for 1 s (busy < 5% of one CPU).
K=${1:-8}; out=${2:-data/r3}; mkdir -p $out
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
for k in $(seq 1 $K); do
  for v in ${VARIANTS:-a b c d e f}; do
    w=0
    while [ $w -lt 60 ]; do
      b0=$(busy); sleep 1; b1=$(busy)
      [ $((b1 - b0)) -lt 5 ] && break
      w=$((w + 1))
    done
    echo "# k=$k v=$v load=$(cut -d' ' -f1 /proc/loadavg) waited=$w" >> $out/$v.txt
    nice -n 5 ./place $v ${R:-4} >> $out/$v.txt
  done
done
