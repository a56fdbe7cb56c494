/* net.c — the network model: topology, collective algorithms, two pricing tiers.
 *
 * Topology (see doc/network-model.md for the formulas and their sources):
 * every link is one direction of a full-duplex port with its own capacity
 * (bandwidth x level efficiency):
 *   - intra-node: each device has an up and a down port into a non-blocking
 *     switch (NVSwitch; PCIe is the same shape with a lower bandwidth);
 *   - inter-node: device d of a node talks through rail d % rails; each rail
 *     NIC has an up and a down port; nodes sit under leaf switches of
 *     leaf_nodes nodes; each leaf has one aggregated uplink and downlink to
 *     the spines of capacity leaf_nodes * rails * bw / oversubscription.
 * A flow between devices of one node uses [up(a), down(b)]; across nodes
 * [nic_up(a), (leaf_up, leaf_down when the leaves differ), nic_down(b)].
 *
 * A collective is decomposed into steps of its algorithm; each step is a
 * set of flows (one per sender/receiver pair, for every concurrent group)
 * plus a latency.  The two tiers price a step differently:
 *   NET_ANALYTIC: alpha + max over links of (bytes on link / capacity),
 *     spine links excluded: the alpha-beta closed form with beta taken from
 *     the slowest link, divided by the number of flows sharing it (e.g.
 *     concurrent groups sharing a NIC); the fabric above the NICs is taken
 *     as non-blocking.
 *   NET_FLOW: alpha + makespan of a fluid simulation of the step's flows
 *     with max-min fair rates (progressive filling), rates recomputed each
 *     time a flow finishes; spine links included.
 * Steps that repeat identically (the 2(p-1) steps of a ring) are priced
 * once and multiplied.  Results are memoised by (op, group, bytes, algo,
 * tier) in a small open-addressing table: the same collective repeats
 * thousands of times in a step graph.
 *
 * It does not model: message chunking/protocols (LL, LL128, Simple), NCCL
 * channels, SHARP/NVLS, cross-rail traffic through spines, congestion
 * control, or contention between different collectives running at the same
 * time (each collective is priced alone with its own concurrent groups). */
#include "config.h"
#include "net.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NET_MAX_PATH 4
#define MEMO_CAP 4096 /* entries; power of two */
#define MEMO_PROBE 8
#define NET_MAX_FLOWS (1u << 22) /* larger flow sets are priced by the analytic tier */

struct memo_entry {
	int64_t key[9];
	double value;
	int used;
};

struct ps_net {
	int world, dpn, nodes;
	int rails, leaf_nodes, nleaves;
	int have_node_level, have_cluster_level;
	double cap0_Bps, lat0_s; /* per device port, intra-node */
	double cap1_Bps, lat1_s; /* per NIC port */
	double leaf_cap_Bps;	 /* per leaf uplink/downlink */
	/* Links: dev_up [0,W), dev_down [W,2W), nic_up, nic_down (N*R each),
	 * leaf_up, leaf_down (nleaves each, only when nleaves > 1). */
	int nlinks;
	int link_dev_up, link_dev_down, link_nic_up, link_nic_down, link_leaf_up, link_leaf_down;
	double *cap;	/* (nlinks) bytes/s */
	uint8_t *spine; /* (nlinks) 1 for leaf<->spine links */

	/* Workspace, grown on demand (never per event). */
	size_t cap_members;
	int *members; /* (concurrent * size) real ranks */
	int *tree;    /* (2 * size) parents of the two trees */
	size_t cap_flows;
	int32_t *flow_links; /* (cap_flows * NET_MAX_PATH) */
	uint8_t *flow_nlinks;
	double *flow_bytes, *flow_rem, *flow_rate;
	uint32_t *flow_active; /* indices of unfinished flows */
	uint8_t *flow_frozen;
	uint32_t *link_flows; /* CSR of active flows per touched link */
	size_t nflows;
	/* Per link scratch, reset after each use. */
	int32_t *link_local;	    /* (nlinks) index in the touched list or -1 */
	int32_t *touched;	    /* (nlinks) */
	double *l_rem, *l_load;	    /* (nlinks) by local index */
	int32_t *l_cnt;		    /* (nlinks) unfrozen flows */
	uint32_t *l_off;	    /* (nlinks + 1) CSR offsets */
	uint32_t *l_pos;	    /* (nlinks) CSR fill cursor */
	double *l_share;	    /* (nlinks) fair share rem / cnt */
	int32_t *lheap, *lheap_pos; /* (nlinks) indexed min-heap of links by share */

	struct memo_entry *memo; /* (MEMO_CAP) */
	uint64_t memo_hits, memo_misses;
};

/* ---------------------------------------------------------------- setup */

static int valid_bw(double x)
{
	return isfinite(x) && x > 0;
}

ps_status net_alloc(const struct ps_cluster *cl, struct ps_net **out)
{
	*out = NULL;
	if (!cl)
		return PS_ERROR(PS_ERR_INVALID, "network: no cluster");
	if (cl->devices_per_node < 1 || cl->nodes < 1)
		return PS_ERROR(PS_ERR_INVALID,
				"network: cluster needs devices_per_node >= 1 and nodes >= 1, got %d and %d",
				cl->devices_per_node, cl->nodes);
	if ((int64_t)cl->devices_per_node * cl->nodes > (1 << 24))
		return PS_ERROR(PS_ERR_RANGE, "network: %d x %d devices is too many", cl->nodes,
				cl->devices_per_node);
	const struct ps_net_level *l0 = NULL, *l1 = NULL;
	for (int i = 0; i < cl->nlevels && i < PS_MAX_LEVELS; i++) {
		if (cl->levels[i].scope == LEVEL_NODE && !l0)
			l0 = &cl->levels[i];
		if (cl->levels[i].scope == LEVEL_CLUSTER && !l1)
			l1 = &cl->levels[i];
	}
	if (cl->devices_per_node > 1 && !l0)
		return PS_ERROR(PS_ERR_INVALID,
				"network: %d devices per node but no node-scope network level",
				cl->devices_per_node);
	if (cl->nodes > 1 && !l1)
		return PS_ERROR(PS_ERR_INVALID, "network: %d nodes but no cluster-scope network level",
				cl->nodes);
	const struct ps_net_level *chk[2] = {l0, l1};
	for (int i = 0; i < 2; i++) {
		const struct ps_net_level *l = chk[i];
		if (!l)
			continue;
		if (!valid_bw(l->bw_Bps))
			return PS_ERROR(PS_ERR_INVALID, "network level %s: bandwidth must be positive",
					l->name);
		if (!isfinite(l->lat_s) || l->lat_s < 0)
			return PS_ERROR(PS_ERR_INVALID, "network level %s: latency must be >= 0", l->name);
		if (!(l->eff >= 0 && l->eff <= 1))
			return PS_ERROR(PS_ERR_INVALID, "network level %s: efficiency must be in (0, 1]",
					l->name);
		if (i == 1 && (l->rails < 0 || l->leaf_nodes < 0 || !(l->oversubscription >= 0) ||
			       !isfinite(l->oversubscription)))
			return PS_ERROR(PS_ERR_INVALID,
					"network level %s: rails, leaf_nodes, oversubscription must be >= 0",
					l->name);
	}

	struct ps_net *net = calloc(1, sizeof *net);
	if (!net)
		return PS_ERROR(PS_ERR_NOMEM, "network: out of memory");
	net->dpn = cl->devices_per_node;
	net->nodes = cl->nodes;
	net->world = net->dpn * net->nodes;
	net->have_node_level = l0 != NULL;
	net->have_cluster_level = l1 != NULL;
	if (l0) {
		net->cap0_Bps = l0->bw_Bps * (l0->eff > 0 ? l0->eff : 1.0);
		net->lat0_s = l0->lat_s;
	}
	net->rails = 1;
	net->leaf_nodes = net->nodes;
	net->nleaves = 1;
	if (l1) {
		net->cap1_Bps = l1->bw_Bps * (l1->eff > 0 ? l1->eff : 1.0);
		net->lat1_s = l1->lat_s;
		net->rails = l1->rails > 0 ? l1->rails : 1;
		net->leaf_nodes =
		    l1->leaf_nodes > 0 && l1->leaf_nodes < net->nodes ? l1->leaf_nodes : net->nodes;
		net->nleaves = (net->nodes + net->leaf_nodes - 1) / net->leaf_nodes;
		double os = l1->oversubscription > 0 ? l1->oversubscription : 1.0;
		net->leaf_cap_Bps = net->leaf_nodes * net->rails * net->cap1_Bps / os;
	}
	int W = net->world, NR = net->nodes * net->rails, L = net->nleaves > 1 ? net->nleaves : 0;
	net->link_dev_up = 0;
	net->link_dev_down = W;
	net->link_nic_up = 2 * W;
	net->link_nic_down = 2 * W + NR;
	net->link_leaf_up = 2 * W + 2 * NR;
	net->link_leaf_down = 2 * W + 2 * NR + L;
	net->nlinks = 2 * W + 2 * NR + 2 * L;
	size_t nl = (size_t)net->nlinks;
	net->cap = malloc(nl * sizeof *net->cap);
	net->spine = calloc(nl, 1);
	net->link_local = malloc(nl * sizeof *net->link_local);
	net->touched = malloc(nl * sizeof *net->touched);
	net->l_rem = malloc(nl * sizeof *net->l_rem);
	net->l_load = malloc(nl * sizeof *net->l_load);
	net->l_cnt = malloc(nl * sizeof *net->l_cnt);
	net->l_off = malloc((nl + 1) * sizeof *net->l_off);
	net->l_pos = malloc(nl * sizeof *net->l_pos);
	net->l_share = malloc(nl * sizeof *net->l_share);
	net->lheap = malloc(nl * sizeof *net->lheap);
	net->lheap_pos = malloc(nl * sizeof *net->lheap_pos);
	net->memo = calloc(MEMO_CAP, sizeof *net->memo);
	if (!net->cap || !net->spine || !net->link_local || !net->touched || !net->l_rem || !net->l_load ||
	    !net->l_cnt || !net->l_off || !net->l_pos || !net->l_share || !net->lheap || !net->lheap_pos ||
	    !net->memo) {
		net_free(net);
		return PS_ERROR(PS_ERR_NOMEM, "network: out of memory for %d links", net->nlinks);
	}
	for (int i = 0; i < 2 * W; i++)
		net->cap[i] = net->cap0_Bps;
	for (int i = 2 * W; i < 2 * W + 2 * NR; i++)
		net->cap[i] = net->cap1_Bps;
	for (int i = 2 * W + 2 * NR; i < net->nlinks; i++) {
		net->cap[i] = net->leaf_cap_Bps;
		net->spine[i] = 1;
	}
	for (int i = 0; i < net->nlinks; i++)
		net->link_local[i] = -1;
	*out = net;
	return PS_OK;
}

void net_free(struct ps_net *net)
{
	if (!net)
		return;
	free(net->cap);
	free(net->spine);
	free(net->link_local);
	free(net->touched);
	free(net->l_rem);
	free(net->l_load);
	free(net->l_cnt);
	free(net->l_off);
	free(net->l_pos);
	free(net->l_share);
	free(net->lheap);
	free(net->lheap_pos);
	free(net->memo);
	free(net->members);
	free(net->tree);
	free(net->flow_links);
	free(net->flow_nlinks);
	free(net->flow_bytes);
	free(net->flow_rem);
	free(net->flow_rate);
	free(net->flow_active);
	free(net->flow_frozen);
	free(net->link_flows);
	free(net);
}

void net_memo_stats(const struct ps_net *net, uint64_t *hits, uint64_t *misses)
{
	if (hits)
		*hits = net ? net->memo_hits : 0;
	if (misses)
		*misses = net ? net->memo_misses : 0;
}

/* ---------------------------------------------------------------- routes */

/* Links of the path a -> b (a != b) into links[]; returns how many, and
 * the latency of the hop in *lat_s. */
static int net_route(const struct ps_net *net, int a, int b, int32_t *links, double *lat_s)
{
	int na = a / net->dpn, nb = b / net->dpn;
	if (na == nb) {
		links[0] = net->link_dev_up + a;
		links[1] = net->link_dev_down + b;
		*lat_s = net->lat0_s;
		return 2;
	}
	int ra = (a % net->dpn) % net->rails, rb = (b % net->dpn) % net->rails;
	int n = 0;
	links[n++] = net->link_nic_up + na * net->rails + ra;
	int la = na / net->leaf_nodes, lb = nb / net->leaf_nodes;
	if (la != lb && net->nleaves > 1) {
		links[n++] = net->link_leaf_up + la;
		links[n++] = net->link_leaf_down + lb;
	}
	links[n++] = net->link_nic_down + nb * net->rails + rb;
	*lat_s = net->lat1_s;
	return n;
}

/* ---------------------------------------------------------------- workspace */

static int ws_members(struct ps_net *net, size_t n)
{
	if (n <= net->cap_members)
		return 0;
	size_t cap = net->cap_members ? net->cap_members : 64;
	while (cap < n)
		cap *= 2;
	int *m = realloc(net->members, cap * sizeof *m);
	if (!m)
		return -1;
	net->members = m;
	int *t = realloc(net->tree, 2 * cap * sizeof *t);
	if (!t)
		return -1;
	net->tree = t;
	net->cap_members = cap;
	return 0;
}

static int ws_flows(struct ps_net *net, size_t n)
{
	if (n <= net->cap_flows)
		return 0;
	size_t cap = net->cap_flows ? net->cap_flows : 256;
	while (cap < n)
		cap *= 2;
#define GROW(field, count)                                                                                   \
	do {                                                                                                 \
		void *p_ = realloc(net->field, (count) * sizeof *net->field);                                \
		if (!p_)                                                                                     \
			return -1;                                                                           \
		net->field = p_;                                                                             \
	} while (0)
	GROW(flow_links, cap * NET_MAX_PATH);
	GROW(flow_nlinks, cap);
	GROW(flow_bytes, cap);
	GROW(flow_rem, cap);
	GROW(flow_rate, cap);
	GROW(flow_active, cap);
	GROW(flow_frozen, cap);
	GROW(link_flows, cap * NET_MAX_PATH);
#undef GROW
	net->cap_flows = cap;
	return 0;
}

/* Append a flow a -> b of bytes; returns the hop latency (0 for a == b,
 * which adds no flow). */
static double flow_add(struct ps_net *net, int a, int b, double bytes)
{
	if (a == b || bytes <= 0)
		return 0;
	size_t f = net->nflows++;
	double lat;
	net->flow_nlinks[f] = (uint8_t)net_route(net, a, b, &net->flow_links[f * NET_MAX_PATH], &lat);
	net->flow_bytes[f] = bytes;
	return lat;
}

/* ---------------------------------------------------------------- step pricing */

/* Register the links of the current flows in the touched list (local
 * indices); clears per-link scratch for them. */
static int links_touch(struct ps_net *net, int skip_spine)
{
	int nt = 0;
	for (size_t f = 0; f < net->nflows; f++) {
		const int32_t *lk = &net->flow_links[f * NET_MAX_PATH];
		for (int k = 0; k < net->flow_nlinks[f]; k++) {
			int32_t l = lk[k];
			if (skip_spine && net->spine[l])
				continue;
			if (net->link_local[l] < 0) {
				net->link_local[l] = nt;
				net->touched[nt] = l;
				net->l_load[nt] = 0;
				net->l_cnt[nt] = 0;
				nt++;
			}
		}
	}
	return nt;
}

static void links_untouch(struct ps_net *net, int nt)
{
	for (int i = 0; i < nt; i++)
		net->link_local[net->touched[i]] = -1;
}

/* Analytic: time for the step's flows = max over links of load / capacity. */
static double step_analytic(struct ps_net *net)
{
	int nt = links_touch(net, 1);
	for (size_t f = 0; f < net->nflows; f++) {
		const int32_t *lk = &net->flow_links[f * NET_MAX_PATH];
		for (int k = 0; k < net->flow_nlinks[f]; k++)
			if (!net->spine[lk[k]])
				net->l_load[net->link_local[lk[k]]] += net->flow_bytes[f];
	}
	double t = 0;
	for (int i = 0; i < nt; i++) {
		double x = net->l_load[i] / net->cap[net->touched[i]];
		if (x > t)
			t = x;
	}
	links_untouch(net, nt);
	return t;
}

/* Indexed binary min-heap of links (local indices) by fair share, ties by
 * index so the order is deterministic. */
static inline int lh_less(const struct ps_net *net, int a, int b)
{
	return net->l_share[a] < net->l_share[b] || (net->l_share[a] == net->l_share[b] && a < b);
}

static inline void lh_set(struct ps_net *net, int pos, int li)
{
	net->lheap[pos] = li;
	net->lheap_pos[li] = pos;
}

static void lh_sift(struct ps_net *net, int n, int pos)
{
	int li = net->lheap[pos];
	while (pos > 0) { /* up */
		int par = (pos - 1) / 2;
		if (!lh_less(net, li, net->lheap[par]))
			break;
		lh_set(net, pos, net->lheap[par]);
		pos = par;
	}
	for (;;) { /* down */
		int c = 2 * pos + 1;
		if (c >= n)
			break;
		if (c + 1 < n && lh_less(net, net->lheap[c + 1], net->lheap[c]))
			c++;
		if (!lh_less(net, net->lheap[c], li))
			break;
		lh_set(net, pos, net->lheap[c]);
		pos = c;
	}
	lh_set(net, pos, li);
}

/* Remove the link at heap position pos; returns the new heap size. */
static int lh_remove(struct ps_net *net, int n, int pos)
{
	int li = net->lheap[pos];
	net->lheap_pos[li] = -1;
	n--;
	if (pos < n) {
		lh_set(net, pos, net->lheap[n]);
		lh_sift(net, n, pos);
	}
	return n;
}

/* Max-min fair rates for the active flows by progressive filling: the link
 * with the smallest fair share (remaining capacity / unfrozen flows) fixes
 * the rate of all its unfrozen flows, which leave the other links they
 * cross; repeat.  Links sit in a min-heap by share, so a round costs
 * O(path * log links) per frozen flow instead of a scan of all links. */
static void maxmin_rates(struct ps_net *net, int nt, size_t nact)
{
	for (int i = 0; i < nt; i++) {
		net->l_rem[i] = net->cap[net->touched[i]];
		net->l_cnt[i] = 0;
	}
	for (size_t a = 0; a < nact; a++) {
		uint32_t f = net->flow_active[a];
		net->flow_frozen[f] = 0;
		for (int k = 0; k < net->flow_nlinks[f]; k++)
			net->l_cnt[net->link_local[net->flow_links[f * NET_MAX_PATH + k]]]++;
	}
	/* CSR of active flows per link. */
	net->l_off[0] = 0;
	for (int i = 0; i < nt; i++)
		net->l_off[i + 1] = net->l_off[i] + (uint32_t)net->l_cnt[i];
	for (int i = 0; i < nt; i++)
		net->l_pos[i] = net->l_off[i];
	for (size_t a = 0; a < nact; a++) {
		uint32_t f = net->flow_active[a];
		for (int k = 0; k < net->flow_nlinks[f]; k++) {
			int li = net->link_local[net->flow_links[f * NET_MAX_PATH + k]];
			net->link_flows[net->l_pos[li]++] = f;
		}
	}
	int n = 0;
	for (int i = 0; i < nt; i++) {
		net->lheap_pos[i] = -1;
		if (net->l_cnt[i] > 0) {
			net->l_share[i] = net->l_rem[i] / net->l_cnt[i];
			lh_set(net, n++, i);
		}
	}
	for (int pos = n / 2 - 1; pos >= 0; pos--)
		lh_sift(net, n, pos);
	while (n > 0) {
		int best = net->lheap[0];
		double share = net->l_share[best] > 0 ? net->l_share[best] : 0;
		n = lh_remove(net, n, 0);
		for (uint32_t j = net->l_off[best]; j < net->l_off[best + 1]; j++) {
			uint32_t f = net->link_flows[j];
			if (net->flow_frozen[f])
				continue;
			net->flow_frozen[f] = 1;
			net->flow_rate[f] = share;
			for (int k = 0; k < net->flow_nlinks[f]; k++) {
				int li = net->link_local[net->flow_links[f * NET_MAX_PATH + k]];
				net->l_rem[li] -= share;
				net->l_cnt[li]--;
				int pos = net->lheap_pos[li];
				if (pos < 0)
					continue;
				if (net->l_cnt[li] <= 0) {
					n = lh_remove(net, n, pos);
				} else {
					net->l_share[li] =
					    net->l_rem[li] > 0 ? net->l_rem[li] / net->l_cnt[li] : 0;
					lh_sift(net, n, pos);
				}
			}
		}
	}
}

/* Flow: makespan of the fluid simulation of the step's flows. */
static double step_fluid(struct ps_net *net)
{
	if (net->nflows == 0)
		return 0;
	int nt = links_touch(net, 0);
	size_t nact = 0;
	for (size_t f = 0; f < net->nflows; f++) {
		net->flow_rem[f] = net->flow_bytes[f];
		net->flow_active[nact++] = (uint32_t)f;
	}
	double t = 0;
	while (nact > 0) {
		maxmin_rates(net, nt, nact);
		double dt = INFINITY;
		for (size_t a = 0; a < nact; a++) {
			uint32_t f = net->flow_active[a];
			double x = net->flow_rate[f] > 0 ? net->flow_rem[f] / net->flow_rate[f] : INFINITY;
			if (x < dt)
				dt = x;
		}
		if (!isfinite(dt)) { /* cannot happen with positive capacities */
			t = INFINITY;
			break;
		}
		/* Flows finishing within a relative 1e-9 of dt finish together
		 * (symmetric steps finish in one round, free of rounding noise). */
		double done_by = dt * (1 + 1e-9);
		size_t keep = 0;
		for (size_t a = 0; a < nact; a++) {
			uint32_t f = net->flow_active[a];
			double x = net->flow_rate[f] > 0 ? net->flow_rem[f] / net->flow_rate[f] : INFINITY;
			if (x <= done_by)
				continue;
			net->flow_rem[f] -= net->flow_rate[f] * dt;
			net->flow_active[keep++] = f;
		}
		nact = keep;
		t += dt;
	}
	links_untouch(net, nt);
	return t;
}

static double step_price(struct ps_net *net, ps_net_tier tier)
{
	if (tier == NET_FLOW && net->nflows <= NET_MAX_FLOWS)
		return step_fluid(net);
	return step_analytic(net);
}

/* ---------------------------------------------------------------- groups */

static int group_valid(const struct ps_net *net, const struct ps_group_desc *g)
{
	if (!g || g->size < 1)
		return 0;
	if (g->size > 1 && g->stride < 1)
		return 0;
	int c = g->concurrent > 1 ? g->concurrent : 1;
	if (c > 1 && g->concurrent_stride < 0)
		return 0;
	int64_t first = g->first_rank;
	int64_t last = first + (int64_t)(c - 1) * (c > 1 ? g->concurrent_stride : 0) +
		       (int64_t)(g->size - 1) * (g->size > 1 ? g->stride : 0);
	return first >= 0 && last < net->world;
}

static int group_concurrent(const struct ps_group_desc *g)
{
	return g->concurrent > 1 ? g->concurrent : 1;
}

/* Fill net->members: group j's member i at [j * size + i]. */
static int members_fill(struct ps_net *net, const struct ps_group_desc *g)
{
	int c = group_concurrent(g);
	if (ws_members(net, (size_t)c * (size_t)g->size))
		return -1;
	for (int j = 0; j < c; j++)
		for (int i = 0; i < g->size; i++)
			net->members[(size_t)j * g->size + i] =
			    g->first_rank + j * (c > 1 ? g->concurrent_stride : 0) + i * g->stride;
	return 0;
}

/* Node structure of a group (members in order): *q members per node when
 * every node holds the same number of consecutive members, else *q = 0;
 * *nnodes distinct nodes. */
static void group_nodes(const struct ps_net *net, int first, int stride, int size, int *q, int *nnodes)
{
	int runs = 0, run = 0, qq = -1, uniform = 1, prev = -1;
	for (int i = 0; i < size; i++) {
		int node = (first + i * stride) / net->dpn;
		if (node != prev) {
			if (prev >= 0) {
				if (qq < 0)
					qq = run;
				else if (run != qq)
					uniform = 0;
			}
			runs++;
			run = 0;
			prev = node;
		}
		run++;
	}
	if (qq < 0)
		qq = run;
	else if (run != qq)
		uniform = 0;
	*nnodes = runs;
	*q = uniform ? qq : 0;
}

/* ---------------------------------------------------------------- algorithms */

/* Parent (1-based, 0 = root) of node x in the in-order binary tree over
 * 1..n: the complete tree over 1..2R-1 (R the largest power of two <= n,
 * the root) with the nodes above n removed and their left subtrees lifted. */
static int btree_parent(int x, int n)
{
	int r = 1;
	while (r * 2 <= n)
		r *= 2;
	while (x != r) {
		int l = __builtin_ctz((unsigned)x);
		int up = ((x >> (l + 1)) & 1) ? x - (1 << l) : x + (1 << l);
		if (up <= n)
			return up;
		x = up;
	}
	return 0;
}

static int floor_log2(int p)
{
	int h = 0;
	while ((1 << (h + 1)) <= p)
		h++;
	return h;
}

/* Parents (0-based positions, -1 root) of the two trees of a double binary
 * tree over p positions: tree 0 in-order, tree 1 its mirror (p even) or its
 * shift by one (p odd), so leaves of one tree are inner nodes of the other. */
static void dbtree_build(int p, int *par0, int *par1)
{
	for (int i = 0; i < p; i++) {
		int x = btree_parent(i + 1, p);
		par0[i] = x - 1;
	}
	for (int i = 0; i < p; i++) {
		if (p % 2 == 0) {
			int m = par0[p - 1 - i];
			par1[i] = m < 0 ? -1 : p - 1 - m;
		} else {
			int m = par0[(i - 1 + p) % p];
			par1[i] = m < 0 ? -1 : (m + 1) % p;
		}
	}
}

enum ring_kind { RING_ALL, RING_INTRA, RING_INTER };

/* One ring step: every member sends chunk bytes to the next member of its
 * ring, for all concurrent groups.  RING_ALL: one ring over the group;
 * RING_INTRA: one ring per node of q members; RING_INTER: one ring per
 * local position over the nnodes nodes.  Returns the step time. */
static double ring_step(struct ps_net *net, ps_net_tier tier, int p, int c, int q, int nnodes,
			enum ring_kind kind, double chunk)
{
	net->nflows = 0;
	double alpha = 0;
	for (int j = 0; j < c; j++) {
		const int *m = &net->members[(size_t)j * p];
		if (kind == RING_ALL) {
			for (int i = 0; i < p; i++) {
				double a = flow_add(net, m[i], m[(i + 1) % p], chunk);
				alpha = a > alpha ? a : alpha;
			}
		} else if (kind == RING_INTRA) {
			for (int n = 0; n < nnodes; n++)
				for (int k = 0; k < q; k++) {
					double a = flow_add(net, m[n * q + k], m[n * q + (k + 1) % q], chunk);
					alpha = a > alpha ? a : alpha;
				}
		} else {
			for (int k = 0; k < q; k++)
				for (int n = 0; n < nnodes; n++) {
					double a =
					    flow_add(net, m[n * q + k], m[((n + 1) % nnodes) * q + k], chunk);
					alpha = a > alpha ? a : alpha;
				}
		}
	}
	return alpha + step_price(net, tier);
}

static double coll_ring(struct ps_net *net, ps_net_tier tier, ps_coll_op op, int p, int c, double n)
{
	if (ws_flows(net, (size_t)p * c))
		return -1;
	double step = ring_step(net, tier, p, c, p, 1, RING_ALL, n / p);
	switch (op) {
	case COLL_ALLREDUCE:
		return 2.0 * (p - 1) * step;
	default: /* all-gather, reduce-scatter */
		return (double)(p - 1) * step;
	}
}

static double coll_hier(struct ps_net *net, ps_net_tier tier, int p, int c, int q, int nnodes, double n)
{
	if (ws_flows(net, (size_t)p * c))
		return -1;
	double t = 0;
	if (q > 1) /* intra-node reduce-scatter and all-gather: q-1 steps of n/q each */
		t += 2.0 * (q - 1) * ring_step(net, tier, p, c, q, nnodes, RING_INTRA, n / q);
	if (nnodes > 1) /* inter-node all-reduce of n/q on each local position (rail) */
		t += 2.0 * (nnodes - 1) * ring_step(net, tier, p, c, q, nnodes, RING_INTER, n / q / nnodes);
	return t;
}

static double coll_tree(struct ps_net *net, ps_net_tier tier, int p, int c, double n)
{
	if (ws_flows(net, (size_t)2 * p * c))
		return -1;
	int *par0 = net->tree, *par1 = net->tree + p;
	dbtree_build(p, par0, par1);
	int h = floor_log2(p);
	double t = 0;
	for (int phase = 0; phase < 2; phase++) { /* reduce up, then broadcast down */
		net->nflows = 0;
		double alpha = 0;
		for (int j = 0; j < c; j++) {
			const int *m = &net->members[(size_t)j * p];
			for (int tr = 0; tr < 2; tr++) {
				const int *par = tr ? par1 : par0;
				for (int i = 0; i < p; i++) {
					if (par[i] < 0)
						continue;
					int a = phase == 0 ? m[i] : m[par[i]],
					    b = phase == 0 ? m[par[i]] : m[i];
					double l = flow_add(net, a, b, n / 2);
					alpha = l > alpha ? l : alpha;
				}
			}
		}
		t += h * alpha + step_price(net, tier);
	}
	return t;
}

static double coll_bcast(struct ps_net *net, ps_net_tier tier, int p, int c, double n)
{
	if (ws_flows(net, (size_t)p * c))
		return -1;
	net->nflows = 0;
	double alpha = 0;
	for (int j = 0; j < c; j++) {
		const int *m = &net->members[(size_t)j * p];
		for (int i = 0; i + 1 < p; i++) {
			double l = flow_add(net, m[i], m[i + 1], n);
			alpha = l > alpha ? l : alpha;
		}
	}
	return (p - 1) * alpha + step_price(net, tier);
}

static double coll_alltoall(struct ps_net *net, ps_net_tier tier, int p, int c, double n)
{
	size_t nf = (size_t)p * (size_t)(p - 1) * (size_t)c;
	if (nf > NET_MAX_FLOWS) {
		/* Too many flows to list: uncontended closed form, one member's
		 * (p-1)/p * n through the slowest port it uses. */
		int q, nn;
		group_nodes(net, net->members[0], net->members[p > 1 ? 1 : 0] - net->members[0], p, &q, &nn);
		double B = nn > 1 ? net->cap1_Bps : net->cap0_Bps;
		return (nn > 1 ? net->lat1_s : net->lat0_s) + (double)(p - 1) / p * n / B;
	}
	if (ws_flows(net, nf))
		return -1;
	net->nflows = 0;
	double alpha = 0;
	for (int j = 0; j < c; j++) {
		const int *m = &net->members[(size_t)j * p];
		for (int i = 0; i < p; i++)
			for (int k = 0; k < p; k++) {
				double l = flow_add(net, m[i], m[k], n / p);
				alpha = l > alpha ? l : alpha;
			}
	}
	return alpha + step_price(net, tier);
}

/* ---------------------------------------------------------------- algorithm choice */

/* Uncontended closed forms used to choose an algorithm (see the doc). */
static double closed_ring(const struct ps_net *net, int p, int q, int nnodes, double n)
{
	double B = nnodes > 1 ? (q == 1 ? net->cap1_Bps : fmin(net->cap0_Bps, net->cap1_Bps)) : net->cap0_Bps;
	double a = nnodes > 1 ? net->lat1_s : net->lat0_s;
	return 2.0 * (p - 1) * (a + n / p / B);
}

static double closed_tree(const struct ps_net *net, int p, int q, int nnodes, double n)
{
	double B = nnodes > 1 ? (q == 1 ? net->cap1_Bps : fmin(net->cap0_Bps, net->cap1_Bps)) : net->cap0_Bps;
	double a = nnodes > 1 ? net->lat1_s : net->lat0_s;
	/* p = 2: each rank is one tree's root, sends n/2 per phase */
	return 2.0 * floor_log2(p) * a + (p == 2 ? 1.0 : 2.0) * n / B;
}

static double closed_hier(const struct ps_net *net, int q, int nnodes, double n)
{
	return 2.0 * (q - 1) * (net->lat0_s + n / q / net->cap0_Bps) +
	       2.0 * (nnodes - 1) * (net->lat1_s + n / q / nnodes / net->cap1_Bps);
}

ps_coll_algo net_coll_algo(const struct ps_net *net, ps_coll_op op, const struct ps_group_desc *g,
			   double bytes, ps_coll_algo algo)
{
	if (algo != ALGO_AUTO)
		return algo;
	if (!net || op != COLL_ALLREDUCE || !group_valid(net, g) || g->size <= 1)
		return ALGO_RING;
	int q, nnodes;
	group_nodes(net, g->first_rank, g->stride, g->size, &q, &nnodes);
	if (nnodes <= 1)
		return ALGO_RING; /* intra-node: ring (NCCL uses trees only across nodes) */
	int p = g->size;
	ps_coll_algo bw_algo = ALGO_RING;
	double t_bw = closed_ring(net, p, q, nnodes, bytes);
	if (q > 1) {
		double th = closed_hier(net, q, nnodes, bytes);
		if (th < t_bw) {
			t_bw = th;
			bw_algo = ALGO_HIERARCHICAL;
		}
	}
	double t_tree = closed_tree(net, p, q, nnodes, bytes);
	return t_tree < t_bw ? ALGO_TREE : bw_algo;
}

/* ---------------------------------------------------------------- public pricing */

static uint64_t memo_hash(const int64_t *k, int n)
{
	uint64_t h = 1469598103934665603ULL;
	for (int i = 0; i < n; i++) {
		h ^= (uint64_t)k[i];
		h *= 1099511628211ULL;
		h ^= h >> 29;
	}
	return h;
}

static double coll_price(struct ps_net *net, ps_net_tier tier, ps_coll_op op, const struct ps_group_desc *g,
			 double bytes, ps_coll_algo algo)
{
	int p = g->size, c = group_concurrent(g);
	if (members_fill(net, g))
		return -1;
	switch (op) {
	case COLL_ALLREDUCE:
		if (algo == ALGO_TREE)
			return coll_tree(net, tier, p, c, bytes);
		if (algo == ALGO_HIERARCHICAL) {
			int q, nn;
			group_nodes(net, g->first_rank, g->stride, g->size, &q, &nn);
			/* every concurrent group must have the same node shape */
			for (int j = 1; j < c && q > 0; j++) {
				int q2, nn2;
				group_nodes(net, g->first_rank + j * g->concurrent_stride, g->stride, g->size,
					    &q2, &nn2);
				if (q2 != q || nn2 != nn)
					q = 0;
			}
			if (q > 0)
				return coll_hier(net, tier, p, c, q, nn, bytes);
		}
		return coll_ring(net, tier, op, p, c, bytes);
	case COLL_ALLGATHER:
	case COLL_REDUCESCATTER:
		return coll_ring(net, tier, op, p, c, bytes);
	case COLL_BROADCAST:
		return coll_bcast(net, tier, p, c, bytes);
	case COLL_ALLTOALL:
		return coll_alltoall(net, tier, p, c, bytes);
	}
	return -1;
}

double net_coll_time(struct ps_net *net, ps_net_tier tier, ps_coll_op op, const struct ps_group_desc *g,
		     double bytes, ps_coll_algo algo)
{
	if (!net || !group_valid(net, g) || !(bytes >= 0) || !isfinite(bytes) ||
	    (unsigned)op > COLL_ALLTOALL || (unsigned)algo > ALGO_HIERARCHICAL ||
	    (tier != NET_ANALYTIC && tier != NET_FLOW))
		return -1;
	if (g->size <= 1 || bytes == 0)
		return 0;
	algo = net_coll_algo(net, op, g, bytes, algo);
	int c = group_concurrent(g);
	int64_t key[9];
	key[0] = (int64_t)op | (int64_t)algo << 8 | (int64_t)tier << 16;
	key[1] = g->size;
	key[2] = g->stride;
	key[3] = g->first_rank;
	key[4] = c;
	key[5] = c > 1 ? g->concurrent_stride : 0;
	memcpy(&key[6], &bytes, sizeof bytes);
	key[7] = 0;
	key[8] = 0;
	uint64_t h = memo_hash(key, 9);
	size_t home = (size_t)(h & (MEMO_CAP - 1)), slot = home;
	for (int k = 0; k < MEMO_PROBE; k++) {
		struct memo_entry *e = &net->memo[(home + (size_t)k) & (MEMO_CAP - 1)];
		if (!e->used) {
			slot = (home + (size_t)k) & (MEMO_CAP - 1);
			break;
		}
		if (memcmp(e->key, key, sizeof key) == 0) {
			net->memo_hits++;
			return e->value;
		}
	}
	net->memo_misses++;
	double t = coll_price(net, tier, op, g, bytes, algo);
	if (t >= 0) { /* slot: first free in the probe window, else the home slot is replaced */
		struct memo_entry *e = &net->memo[slot];
		memcpy(e->key, key, sizeof key);
		e->value = t;
		e->used = 1;
	}
	return t;
}

double net_p2p_time(struct ps_net *net, ps_net_tier tier, int src_rank, int dst_rank, double bytes)
{
	(void)tier; /* a lone flow: both tiers give latency + bytes / path bottleneck */
	if (!net || src_rank < 0 || dst_rank < 0 || src_rank >= net->world || dst_rank >= net->world ||
	    !(bytes >= 0) || !isfinite(bytes))
		return -1;
	if (src_rank == dst_rank || bytes == 0)
		return 0;
	int32_t links[NET_MAX_PATH];
	double lat;
	int n = net_route(net, src_rank, dst_rank, links, &lat);
	double B = INFINITY;
	for (int i = 0; i < n; i++)
		B = fmin(B, net->cap[links[i]]);
	return lat + bytes / B;
}

int net_world_size(const struct ps_net *net)
{
	return net ? net->world : 0;
}

double net_flows_time(struct ps_net *net, ps_net_tier tier, int nflows, const int *src, const int *dst,
		      const double *bytes)
{
	if (!net || nflows < 0 || (nflows > 0 && (!src || !dst || !bytes)) || (size_t)nflows > NET_MAX_FLOWS)
		return -1;
	for (int i = 0; i < nflows; i++)
		if (src[i] < 0 || dst[i] < 0 || src[i] >= net->world || dst[i] >= net->world ||
		    !(bytes[i] >= 0) || !isfinite(bytes[i]))
			return -1;
	if (ws_flows(net, (size_t)nflows))
		return -1;
	net->nflows = 0;
	for (int i = 0; i < nflows; i++)
		flow_add(net, src[i], dst[i], bytes[i]);
	return step_price(net, tier);
}
