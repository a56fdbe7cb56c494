import sys, statistics as st, collections
d=sys.argv[1]
print(f"{'var':5s} {'shape':22s} {'procs':>5s} {'set |x/med-1| med':>17s} {'p90':>6s} {'same-set |d| med':>16s} {'sets max/min med':>16s} {'proc level max/min':>18s}")
for v in ["4k","huge"]:
    dev=collections.defaultdict(list); same=collections.defaultdict(list); mm=collections.defaultdict(list); lvl=collections.defaultdict(list)
    for l in open(f"{d}/{v}.txt"):
        if l.startswith("#"): continue
        f=l.split(); name=f[0]; base=float(f[1]); rel=[float(x) for x in f[f.index("|")+1:]]
        m=st.median(rel)
        dev[name]+= [abs(x/m-1) for x in rel]
        same[name].append(float(f[5])); mm[name].append(float(f[3])); lvl[name].append(base*m)
    for k in dev:
        xs=sorted(dev[k]); p90=xs[int(0.9*len(xs))]
        print(f"{v:5s} {k:22s} {len(same[k]):5d} {100*st.median(xs):16.2f}% {100*p90:5.1f}% {100*st.median(same[k]):15.2f}% {st.median(mm[k]):16.3f} {max(lvl[k])/min(lvl[k]):18.3f}")
