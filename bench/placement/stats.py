import sys, statistics as st, collections
d = sys.argv[1]
for v in sys.argv[2] if len(sys.argv)>2 else "abcd":
    rows = collections.defaultdict(list); loads=[]; busy=[]; within=collections.defaultdict(list)
    for l in open(f"{d}/{v}.txt"):
        if l.startswith("#"): loads.append(float(l.split("load=")[1])); continue
        f = l.split()
        if f[0].startswith("thp"): continue
        if f[0]=="others_busy": busy.append(float(f[1])); continue
        rows[f[0]].append(float(f[1]))
        if len(f) > 2:
            per=[float(x) for x in f[2:]]; m=st.median(per)
            within[f[0]].append(max(per)/min(per))
    print(f"variant {v}: K={len(loads)} load {min(loads):.2f}..{max(loads):.2f} others_busy {' '.join(['%.2f'%b for b in busy])}")
    print(f"  {'shape':26s} {'median_us':>10s} {'max/min':>8s} {'med|x/m-1|':>10s}" + ("  within-proc max/min (median over procs)" if within else ""))
    for k, xs in rows.items():
        m = st.median(xs)
        dev = st.median([abs(x/m-1) for x in xs])
        w = f"  {st.median(within[k]):.3f}" if within else ""
        print(f"  {k:26s} {m:10.2f} {max(xs)/min(xs):8.3f} {100*dev:9.2f}%{w}")
