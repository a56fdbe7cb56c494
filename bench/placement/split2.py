import sys, statistics as st, collections
d = sys.argv[1]; vs = sys.argv[2] if len(sys.argv)>2 else "abcdef"; thr=float(sys.argv[3]) if len(sys.argv)>3 else 0.05
print(f"shapes measured while the rest of the machine was busy > {thr:.2f} CPU are left out")
print(f"{'':3s} {'shape':24s} {'n':>3s} {'median_us':>9s} {'max/min':>7s} {'med|x/m-1|':>10s} {'within':>7s} {'n_busy':>6s} {'busy/idle':>9s}")
for v in vs:
    clean=collections.defaultdict(list); dirty=collections.defaultdict(list); within=collections.defaultdict(list)
    for l in open(f"{d}/{v}.txt"):
        f=l.split()
        if l.startswith("#") or len(f)<3 or not f[2].startswith("ob="): continue
        ob=float(f[2][3:]); x=float(f[1])
        (clean if ob<thr else dirty)[f[0]].append(x)
        if ob<thr and len(f)>3:
            per=[float(y) for y in f[3:]]; within[f[0]].append(max(per)/min(per))
    for k in clean:
        xs=clean[k]
        if len(xs)<2: print(f"{v:3s} {k:24s} {len(xs):3d} too few clean"); continue
        m=st.median(xs); w=f"{st.median(within[k]):7.3f}" if within[k] else "      -"
        r=f"{st.median(dirty[k])/m:9.3f}" if dirty[k] else "        -"
        print(f"{v:3s} {k:24s} {len(xs):3d} {m:9.2f} {max(xs)/min(xs):7.3f} {100*st.median([abs(x/m-1) for x in xs]):9.2f}% {w} {len(dirty[k]):6d} {r}")
