/* net.h — the network model: cluster topology, collectives, point-to-point.
 *
 * Topology from struct ps_cluster: levels[0] joins the devices of a node
 * (NVLink/NVSwitch or PCIe: per-device bandwidth and latency); a cluster
 * level joins nodes through `rails` NICs per node into leaf switches of
 * `leaf_nodes` nodes, leaves joined by spines with `oversubscription`.
 * Real rank r sits on node r / devices_per_node, local device r % devices_per_node.
 *
 * Two tiers price a collective:
 *  - NET_ANALYTIC: closed form, alpha-beta per level (ring:
 *    2(p-1)/p * n/B + 2(p-1)*alpha for all-reduce; tree; hierarchical),
 *    for fast sweeps;
 *  - NET_FLOW: the algorithm's steps become flows on the links of the
 *    topology, sharing bandwidth max-min fairly (fluid model), including the
 *    `concurrent` identical groups that run the same collective at the same
 *    time (e.g. the 8 DP groups of tp=8) — that is where contention shows.
 * The two agree within 2% on uncontended cases.
 *
 * Ownership: net_alloc allocates (with its flow workspace), net_free frees. */
#ifndef PS_NET_H
#define PS_NET_H

#include <stdint.h>
#include "graph.h"
#include "scenario.h"
#include "status.h"

typedef enum { NET_ANALYTIC = 0, NET_FLOW } ps_net_tier;

/* Ranks of one group: first_rank, first_rank+stride, ..., size members.
 * `concurrent` identical groups run at once; group j (0 <= j < concurrent)
 * starts at first_rank + j*concurrent_stride. */
struct ps_group_desc {
	int size;
	int stride;
	int first_rank;
	int concurrent;
	int concurrent_stride;
};

struct ps_net;

ps_status net_alloc(const struct ps_cluster *cl, struct ps_net **out);
void net_free(struct ps_net *net);

/* The algorithm NCCL would pick for this op, size and group (ALGO_AUTO
 * resolved), or algo itself when fixed. */
ps_coll_algo net_coll_algo(const struct ps_net *net, ps_coll_op op, const struct ps_group_desc *g,
			   double bytes, ps_coll_algo algo);

/* Seconds for a collective; bytes = the full buffer size per rank (all-reduce
 * input, all-gather output, reduce-scatter input). */
double net_coll_time(struct ps_net *net, ps_net_tier tier, ps_coll_op op, const struct ps_group_desc *g,
		     double bytes, ps_coll_algo algo);

/* Seconds for one point-to-point message between real ranks. */
double net_p2p_time(struct ps_net *net, ps_net_tier tier, int src_rank, int dst_rank, double bytes);

/* Added by the engine helper (additive). */

/* A struct ps_net holds a pricing workspace and a memo table: calls on one
 * net must not run concurrently (use one net per thread). */

/* net_coll_time and net_p2p_time return a negative value when the group or
 * ranks do not fit the cluster or an argument is invalid; 0 for groups of
 * one rank or 0 bytes.  Fixed algorithms that do not apply to an op are
 * replaced: all-gather and reduce-scatter always run as rings, broadcast as a
 * pipelined chain, all-to-all as direct sends; ALGO_HIERARCHICAL on a group
 * whose nodes hold unequal numbers of members runs as a ring. */

/* Seconds until all of nflows simultaneous transfers src[i] -> dst[i] of
 * bytes[i] finish, without latency: NET_FLOW runs the max-min fluid
 * simulation over the topology, NET_ANALYTIC takes the most loaded link
 * (spine links excluded).  Negative on invalid input. */
double net_flows_time(struct ps_net *net, ps_net_tier tier, int nflows, const int *src, const int *dst,
		      const double *bytes);

/* Memo table counters (for tests and benchmarks). */
void net_memo_stats(const struct ps_net *net, uint64_t *hits, uint64_t *misses);

/* Real ranks of the cluster (nodes * devices_per_node). */
int net_world_size(const struct ps_net *net);

#endif
