#!/bin/sh
# run3.sh K OUT: K interleaved processes of `paired 4k` and `paired huge`, each started
# after the machine was idle for 1 s (waits up to 60 s); P=6 sets, N=21 rounds.
K=${1:-5}; out=${2:-data/p1}; mkdir -p $out
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
for k in $(seq 1 $K); do
  for v in 4k huge; do
    w=0
    while [ $w -lt 60 ]; do b0=$(busy); sleep 1; b1=$(busy); [ $((b1 - b0)) -lt 5 ] && break; w=$((w + 1)); done
    echo "# k=$k load=$(cut -d' ' -f1 /proc/loadavg) waited=$w" >> $out/$v.txt
    nice -n 5 ./paired $v 6 21 >> $out/$v.txt
  done
done
