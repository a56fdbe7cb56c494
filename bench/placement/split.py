import sys, statistics as st, collections
d = sys.argv[1]; vs = sys.argv[2] if len(sys.argv)>2 else "abcdef"
def load(v):
    procs=[]; cur=None
    for l in open(f"{d}/{v}.txt"):
        f=l.split()
        if l.startswith("#"): cur={"v":{}}; procs.append(cur); continue
        if f[0]=="others_busy": cur["busy"]=float(f[1]); continue
        if f[0].startswith("thp"): continue
        cur["v"][f[0]]=float(f[1])
    return procs
print("per variant: idle processes (others_busy<0.15) spread, and busy(>0.6)/idle median ratio")
for v in vs:
    P=load(v); idle=[p for p in P if p["busy"]<0.15]; busy=[p for p in P if p["busy"]>0.6]
    print(f"variant {v}: idle {len(idle)} busy {len(busy)}")
    for k in P[0]["v"]:
        xi=[p["v"][k] for p in idle]; xb=[p["v"][k] for p in busy]
        if len(xi)<2: continue
        m=st.median(xi)
        r = st.median(xb)/m if xb else float('nan')
        print(f"  {k:26s} idle med {m:9.2f} max/min {max(xi)/min(xi):6.3f} med|x/m-1| {100*st.median([abs(x/m-1) for x in xi]):5.2f}%   busy/idle {r:6.3f}")
