/* test-net.c — the network model against closed forms and first principles.
 *
 * Uncontended collectives: both tiers equal the alpha-beta closed forms
 * (ring all-reduce 2(p-1)/p n/B + 2(p-1)a; all-gather / reduce-scatter
 * (p-1)/p n/B + (p-1)a; hierarchical; double binary tree).  Contended:
 * two groups per NIC doubles the transfer time in both tiers; an
 * oversubscribed spine doubles it in the flow tier only.  Max-min fluid
 * sharing is checked on hand-solved flow sets. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "net.h"

#define GBps 1e9

static struct ps_cluster mkcluster(int dpn, int nodes, double bw0, double lat0, double eff0, double bw1,
				   double lat1, double eff1, int rails, int leaf_nodes, double oversub)
{
	struct ps_cluster cl;
	memset(&cl, 0, sizeof cl);
	strcpy(cl.name, "test");
	cl.devices_per_node = dpn;
	cl.nodes = nodes;
	cl.nlevels = 2;
	strcpy(cl.levels[0].name, "nvswitch");
	cl.levels[0].scope = LEVEL_NODE;
	cl.levels[0].bw_Bps = bw0;
	cl.levels[0].lat_s = lat0;
	cl.levels[0].eff = eff0;
	strcpy(cl.levels[1].name, "ib");
	cl.levels[1].scope = LEVEL_CLUSTER;
	cl.levels[1].bw_Bps = bw1;
	cl.levels[1].lat_s = lat1;
	cl.levels[1].eff = eff1;
	cl.levels[1].rails = rails;
	cl.levels[1].leaf_nodes = leaf_nodes;
	cl.levels[1].oversubscription = oversub;
	return cl;
}

static struct ps_net *mknet(const struct ps_cluster *cl)
{
	struct ps_net *net = NULL;
	assert_int_equal(net_alloc(cl, &net), PS_OK);
	assert_non_null(net);
	return net;
}

static void assert_rel(double got, double want, double tol)
{
	double err = fabs(got - want) / fabs(want);
	if (!(err <= tol))
		fail_msg("got %.17g, want %.17g (relative error %.3g > %.3g)", got, want, err, tol);
}

static double both(struct ps_net *net, ps_coll_op op, struct ps_group_desc g, double n, ps_coll_algo algo,
		   double want)
{
	double ta = net_coll_time(net, NET_ANALYTIC, op, &g, n, algo);
	double tf = net_coll_time(net, NET_FLOW, op, &g, n, algo);
	assert_rel(ta, want, 1e-12);
	assert_rel(tf, want, 1e-9);
	assert_rel(tf, ta, 0.02);
	return ta;
}

static void test_ring_allreduce_intra(void **state)
{
	(void)state;
	struct ps_cluster cl = mkcluster(8, 1, 300 * GBps, 3e-6, 0.8, 0, 0, 0, 0, 0, 0);
	cl.nlevels = 1;
	struct ps_net *net = mknet(&cl);
	double B = 300 * GBps * 0.8, a = 3e-6;
	for (int p = 2; p <= 8; p++)
		for (double n = 1e3; n <= 1e10; n *= 97) {
			struct ps_group_desc g = {p, 1, 0, 1, 0};
			both(net, COLL_ALLREDUCE, g, n, ALGO_RING,
			     2.0 * (p - 1) / p * n / B + 2.0 * (p - 1) * a);
		}
	net_free(net);
}

static void test_ring_allreduce_inter(void **state)
{
	(void)state;
	/* 8 nodes x 8 GPUs, 8 rails: DP groups of 8 (stride 8), all 8 at once,
	 * each GPU on its own rail: uncontended at the NIC bandwidth. */
	struct ps_cluster cl = mkcluster(8, 8, 300 * GBps, 3e-6, 0.8, 25 * GBps, 5e-6, 0.9, 8, 0, 1);
	struct ps_net *net = mknet(&cl);
	double B = 25 * GBps * 0.9, a = 5e-6;
	int p = 8;
	double n = 512e6;
	struct ps_group_desc g = {p, 8, 0, 8, 1};
	both(net, COLL_ALLREDUCE, g, n, ALGO_RING, 2.0 * (p - 1) / p * n / B + 2.0 * (p - 1) * a);
	/* One group spanning two nodes in rank order: the ring crosses the NIC
	 * twice; the slowest link on the ring is the NIC, the latency inter-node. */
	struct ps_group_desc g2 = {16, 1, 0, 1, 0};
	both(net, COLL_ALLREDUCE, g2, n, ALGO_RING, 2.0 * 15 / 16 * n / B + 2.0 * 15 * a);
	net_free(net);
}

static void test_hierarchical(void **state)
{
	(void)state;
	struct ps_cluster cl = mkcluster(8, 4, 300 * GBps, 3e-6, 0.8, 25 * GBps, 5e-6, 0.9, 8, 0, 1);
	struct ps_net *net = mknet(&cl);
	double B0 = 240 * GBps, a0 = 3e-6, B1 = 22.5 * GBps, a1 = 5e-6;
	double n = 1e9;
	/* 32 ranks over 4 nodes: intra RS (q=8), inter AR over 4 nodes on each
	 * of the 8 rails in parallel, intra AG. */
	int q = 8, N = 4;
	double want = 2.0 * (q - 1) * (a0 + n / q / B0) + 2.0 * (N - 1) * (a1 + n / q / N / B1);
	struct ps_group_desc g = {32, 1, 0, 1, 0};
	both(net, COLL_ALLREDUCE, g, n, ALGO_HIERARCHICAL, want);
	/* Two members per node (stride 4 within 4 nodes: 8 ranks). */
	struct ps_group_desc g2 = {8, 4, 0, 4, 1};
	q = 2;
	want = 2.0 * (q - 1) * (a0 + n / q / B0) + 2.0 * (N - 1) * (a1 + n / q / N / B1);
	both(net, COLL_ALLREDUCE, g2, n, ALGO_HIERARCHICAL, want);
	/* Hierarchical beats a flat ring for large messages across nodes. */
	double tr = net_coll_time(net, NET_ANALYTIC, COLL_ALLREDUCE, &g, n, ALGO_RING);
	double th = net_coll_time(net, NET_ANALYTIC, COLL_ALLREDUCE, &g, n, ALGO_HIERARCHICAL);
	assert_true(th < tr);
	net_free(net);
}

static void test_allgather_reducescatter(void **state)
{
	(void)state;
	struct ps_cluster cl = mkcluster(8, 4, 300 * GBps, 3e-6, 0.8, 25 * GBps, 5e-6, 0.9, 8, 0, 1);
	struct ps_net *net = mknet(&cl);
	double n = 3e8;
	for (int p = 2; p <= 8; p *= 2) {
		struct ps_group_desc gi = {p, 1, 0, 1, 0}; /* intra-node */
		double B = 240 * GBps, a = 3e-6;
		both(net, COLL_ALLGATHER, gi, n, ALGO_AUTO, (p - 1.0) / p * n / B + (p - 1) * a);
		both(net, COLL_REDUCESCATTER, gi, n, ALGO_AUTO, (p - 1.0) / p * n / B + (p - 1) * a);
	}
	/* Inter-node, 8 concurrent groups on 8 rails. */
	int p = 4;
	struct ps_group_desc g = {p, 8, 0, 8, 1};
	double B = 22.5 * GBps, a = 5e-6;
	both(net, COLL_ALLGATHER, g, n, ALGO_RING, (p - 1.0) / p * n / B + (p - 1) * a);
	both(net, COLL_REDUCESCATTER, g, n, ALGO_TREE, (p - 1.0) / p * n / B + (p - 1) * a);
	net_free(net);
}

static void test_tree_broadcast_alltoall(void **state)
{
	(void)state;
	struct ps_cluster cl = mkcluster(1, 16, 100 * GBps, 1e-6, 1, 10 * GBps, 4e-6, 1, 1, 0, 1);
	cl.nlevels = 2;
	struct ps_net *net = mknet(&cl);
	double B = 10 * GBps, a = 4e-6, n = 2e8;
	/* Double binary tree, one GPU per node: each rank is an inner node of
	 * at most one tree, so it sends and receives n per phase (n/2 in each
	 * tree); depth floor(log2 p).  p = 2: each rank is the root of one
	 * tree and sends only n/2 per phase. */
	for (int p = 3; p <= 16; p++) {
		struct ps_group_desc g = {p, 1, 0, 1, 0};
		int h = 0;
		while ((1 << (h + 1)) <= p)
			h++;
		both(net, COLL_ALLREDUCE, g, n, ALGO_TREE, 2.0 * h * a + 2.0 * n / B);
	}
	struct ps_group_desc g2 = {2, 1, 0, 1, 0};
	both(net, COLL_ALLREDUCE, g2, n, ALGO_TREE, 2.0 * a + n / B);
	/* Broadcast: pipelined chain. */
	struct ps_group_desc g8 = {8, 1, 0, 1, 0};
	both(net, COLL_BROADCAST, g8, n, ALGO_AUTO, 7 * a + n / B);
	/* All-to-all, direct: every rank sends (p-1)/p n through its NIC. */
	both(net, COLL_ALLTOALL, g8, n, ALGO_AUTO, a + 7.0 / 8 * n / B);
	net_free(net);
}

static void test_auto_choice(void **state)
{
	(void)state;
	struct ps_cluster cl = mkcluster(8, 16, 300 * GBps, 3e-6, 0.8, 25 * GBps, 5e-6, 0.9, 8, 0, 1);
	struct ps_net *net = mknet(&cl);
	struct ps_group_desc tp = {8, 1, 0, 1, 0}, dp = {16, 8, 0, 8, 1}, big = {32, 1, 0, 1, 0};
	assert_int_equal(net_coll_algo(net, COLL_ALLREDUCE, &tp, 1e3, ALGO_AUTO), ALGO_RING);
	assert_int_equal(net_coll_algo(net, COLL_ALLREDUCE, &tp, 1e10, ALGO_AUTO), ALGO_RING);
	assert_int_equal(net_coll_algo(net, COLL_ALLREDUCE, &dp, 1e3, ALGO_AUTO), ALGO_TREE);
	assert_int_equal(net_coll_algo(net, COLL_ALLREDUCE, &dp, 1e10, ALGO_AUTO), ALGO_RING);
	assert_int_equal(net_coll_algo(net, COLL_ALLREDUCE, &big, 1e10, ALGO_AUTO), ALGO_HIERARCHICAL);
	assert_int_equal(net_coll_algo(net, COLL_ALLREDUCE, &big, 1e3, ALGO_AUTO), ALGO_TREE);
	assert_int_equal(net_coll_algo(net, COLL_ALLGATHER, &dp, 1e3, ALGO_AUTO), ALGO_RING);
	assert_int_equal(net_coll_algo(net, COLL_ALLREDUCE, &dp, 1e3, ALGO_HIERARCHICAL), ALGO_HIERARCHICAL);
	/* The tree/ring switch sits where the closed forms cross:
	 * p = 16, h = 4: 2(p-1)(a + n/(pB)) = 2 h a + 2 n/B
	 * -> n* = p B a (p - 1 - h) / 1 ... solved for n: */
	double B = 22.5 * GBps, a = 5e-6;
	int p = 16, h = 4;
	double nstar = (2.0 * (p - 1) * a - 2.0 * h * a) / (2.0 / B - 2.0 * (p - 1) / p / B);
	assert_int_equal(net_coll_algo(net, COLL_ALLREDUCE, &dp, nstar * 0.99, ALGO_AUTO), ALGO_TREE);
	assert_int_equal(net_coll_algo(net, COLL_ALLREDUCE, &dp, nstar * 1.01, ALGO_AUTO), ALGO_RING);
	/* AUTO prices as the algorithm it picks. */
	double t_auto = net_coll_time(net, NET_ANALYTIC, COLL_ALLREDUCE, &dp, 1e3, ALGO_AUTO);
	double t_tree = net_coll_time(net, NET_ANALYTIC, COLL_ALLREDUCE, &dp, 1e3, ALGO_TREE);
	assert_true(t_auto == t_tree);
	net_free(net);
}

/* 16 GPUs per node over 8 rails: 16 concurrent DP groups put two flows on
 * every NIC, so each ring step's transfer takes twice as long (both tiers:
 * the analytic tier counts flows per NIC). */
static void test_contention_nic(void **state)
{
	(void)state;
	struct ps_cluster cl = mkcluster(16, 4, 300 * GBps, 3e-6, 1, 25 * GBps, 5e-6, 1, 8, 0, 1);
	struct ps_net *net = mknet(&cl);
	double n = 1e9, a = 5e-6;
	int p = 4;
	struct ps_group_desc g8 = {p, 16, 0, 8, 1}, g16 = {p, 16, 0, 16, 1};
	for (int tier = NET_ANALYTIC; tier <= NET_FLOW; tier++) {
		double t8 = net_coll_time(net, (ps_net_tier)tier, COLL_ALLREDUCE, &g8, n, ALGO_RING);
		double t16 = net_coll_time(net, (ps_net_tier)tier, COLL_ALLREDUCE, &g16, n, ALGO_RING);
		double lat = 2.0 * (p - 1) * a;
		assert_rel(t8 - lat, 2.0 * (p - 1) / p * n / (25 * GBps), 1e-9);
		assert_rel(t16 - lat, 2.0 * (t8 - lat), 1e-9);
	}
	net_free(net);
}

/* Oversubscribed spine: 4 nodes in 2 leaves, 4 GPUs and 4 rails per node,
 * oversubscription 4 -> each leaf uplink carries leaf_nodes*rails*B/4 = 2B.
 * 4 concurrent DP rings over the 4 nodes each cross from leaf 0 to leaf 1
 * once and back once: 4 flows on each uplink at B/2 each, twice the NIC
 * time.  The flow tier sees it; the analytic tier assumes a non-blocking
 * fabric above the NICs. */
static void test_contention_spine(void **state)
{
	(void)state;
	double B = 25 * GBps, a = 5e-6, n = 1e9;
	struct ps_cluster cl = mkcluster(4, 4, 300 * GBps, 3e-6, 1, B, a, 1, 4, 2, 4.0);
	struct ps_net *net = mknet(&cl);
	int p = 4;
	struct ps_group_desc g = {p, 4, 0, 4, 1};
	double ta = net_coll_time(net, NET_ANALYTIC, COLL_ALLREDUCE, &g, n, ALGO_RING);
	double tf = net_coll_time(net, NET_FLOW, COLL_ALLREDUCE, &g, n, ALGO_RING);
	double lat = 2.0 * (p - 1) * a, xfer = 2.0 * (p - 1) / p * n / B;
	assert_rel(ta, lat + xfer, 1e-12);
	assert_rel(tf, lat + 2 * xfer, 1e-9);
	assert_true(tf > ta * 1.5);
	/* Non-blocking spine: the tiers agree again. */
	struct ps_cluster cl1 = mkcluster(4, 4, 300 * GBps, 3e-6, 1, B, a, 1, 4, 2, 1.0);
	struct ps_net *net1 = mknet(&cl1);
	assert_rel(net_coll_time(net1, NET_FLOW, COLL_ALLREDUCE, &g, n, ALGO_RING), lat + xfer, 1e-9);
	net_free(net1);
	net_free(net);
}

/* Max-min fluid sharing on hand-solved cases (one node, B = 1 GB/s). */
static void test_maxmin_fluid(void **state)
{
	(void)state;
	struct ps_cluster cl = mkcluster(6, 1, GBps, 0, 1, 0, 0, 0, 0, 0, 0);
	cl.nlevels = 1;
	struct ps_net *net = mknet(&cl);
	/* a: 0->1 (1 GB), b: 0->2 (2 GB), c: 3->2 (1 GB).  up0 and down2 both
	 * share 1/2: all at 0.5 GB/s; a and c end at 2 s; b alone then runs at
	 * 1 GB/s for its last 1 GB: 3 s (4 s if rates were never recomputed). */
	int s1[] = {0, 0, 3}, d1[] = {1, 2, 2};
	double b1[] = {1e9, 2e9, 1e9};
	assert_rel(net_flows_time(net, NET_FLOW, 3, s1, d1, b1), 3.0, 1e-12);
	/* a: 0->1 (3 GB); b,c,d: 0->2, 3->2, 4->2 (1 GB each).  down2 is the
	 * first bottleneck (1/3 each), a gets the rest of up0 (2/3).  At 3 s
	 * b,c,d are done and a has 1 GB left alone at 1 GB/s: 4 s. */
	int s2[] = {0, 0, 3, 4}, d2[] = {1, 2, 2, 2};
	double b2[] = {3e9, 1e9, 1e9, 1e9};
	assert_rel(net_flows_time(net, NET_FLOW, 4, s2, d2, b2), 4.0, 1e-12);
	/* Disjoint flows run at full speed in parallel. */
	int s3[] = {0, 2, 4}, d3[] = {1, 3, 5};
	double b3[] = {1e9, 2e9, 5e8};
	assert_rel(net_flows_time(net, NET_FLOW, 3, s3, d3, b3), 2.0, 1e-12);
	assert_rel(net_flows_time(net, NET_ANALYTIC, 3, s3, d3, b3), 2.0, 1e-12);
	/* Six flows into one port: 6x. */
	int s4[] = {0, 1, 2, 3, 4, 0}, d4[] = {5, 5, 5, 5, 5, 5};
	double b4[] = {1e9, 1e9, 1e9, 1e9, 1e9, 1e9};
	assert_rel(net_flows_time(net, NET_FLOW, 6, s4, d4, b4), 6.0, 1e-12);
	assert_true(net_flows_time(net, NET_FLOW, 0, NULL, NULL, NULL) == 0);
	int bad[] = {6};
	assert_true(net_flows_time(net, NET_FLOW, 1, bad, d4, b4) < 0);
	net_free(net);
}

static void test_p2p(void **state)
{
	(void)state;
	struct ps_cluster cl = mkcluster(8, 2, 300 * GBps, 3e-6, 0.8, 25 * GBps, 5e-6, 0.9, 8, 0, 1);
	struct ps_net *net = mknet(&cl);
	double n = 1e8;
	for (int tier = NET_ANALYTIC; tier <= NET_FLOW; tier++) {
		assert_rel(net_p2p_time(net, (ps_net_tier)tier, 0, 7, n), 3e-6 + n / (240 * GBps), 1e-12);
		assert_rel(net_p2p_time(net, (ps_net_tier)tier, 3, 11, n), 5e-6 + n / (22.5 * GBps), 1e-12);
		assert_true(net_p2p_time(net, (ps_net_tier)tier, 3, 3, n) == 0);
		assert_true(net_p2p_time(net, (ps_net_tier)tier, 3, 16, n) < 0);
		assert_true(net_p2p_time(net, (ps_net_tier)tier, -1, 0, n) < 0);
	}
	net_free(net);
}

static void test_memo_and_invalid(void **state)
{
	(void)state;
	struct ps_cluster cl = mkcluster(8, 2, 300 * GBps, 3e-6, 0.8, 25 * GBps, 5e-6, 0.9, 8, 0, 1);
	struct ps_net *net = mknet(&cl);
	struct ps_group_desc g = {2, 8, 0, 8, 1};
	uint64_t h0, m0, h1, m1;
	net_memo_stats(net, &h0, &m0);
	double t1 = net_coll_time(net, NET_FLOW, COLL_ALLREDUCE, &g, 1e6, ALGO_RING);
	double t2 = net_coll_time(net, NET_FLOW, COLL_ALLREDUCE, &g, 1e6, ALGO_RING);
	net_memo_stats(net, &h1, &m1);
	assert_true(t1 == t2);
	assert_int_equal(m1 - m0, 1);
	assert_int_equal(h1 - h0, 1);
	/* Many distinct keys: the table replaces entries, results stay right. */
	for (int i = 1; i <= 20000; i++) {
		double t = net_coll_time(net, NET_ANALYTIC, COLL_ALLGATHER, &g, (double)i, ALGO_RING);
		assert_rel(t, 1.0 * (5e-6 + i / 2.0 / (22.5 * GBps)), 1e-12);
	}
	/* Invalid groups and arguments: negative, never a crash. */
	struct ps_group_desc out = {4, 8, 0, 1, 0}; /* ranks 0..24: 24 >= 16 */
	struct ps_group_desc zero = {0, 1, 0, 1, 0};
	struct ps_group_desc conc = {2, 1, 0, 9, 2}; /* last group starts at 16 */
	assert_true(net_coll_time(net, NET_FLOW, COLL_ALLREDUCE, &out, 1e6, ALGO_RING) < 0);
	assert_true(net_coll_time(net, NET_FLOW, COLL_ALLREDUCE, &zero, 1e6, ALGO_RING) < 0);
	assert_true(net_coll_time(net, NET_FLOW, COLL_ALLREDUCE, &conc, 1e6, ALGO_RING) < 0);
	assert_true(net_coll_time(net, NET_FLOW, COLL_ALLREDUCE, &g, -1, ALGO_RING) < 0);
	assert_true(net_coll_time(net, NET_FLOW, COLL_ALLREDUCE, &g, NAN, ALGO_RING) < 0);
	assert_true(net_coll_time(net, NET_FLOW, COLL_ALLREDUCE, NULL, 1, ALGO_RING) < 0);
	assert_true(net_coll_time(net, NET_FLOW, (ps_coll_op)99, &g, 1, ALGO_RING) < 0);
	struct ps_group_desc one = {1, 1, 5, 1, 0};
	assert_true(net_coll_time(net, NET_FLOW, COLL_ALLREDUCE, &one, 1e6, ALGO_RING) == 0);
	assert_true(net_coll_time(net, NET_FLOW, COLL_ALLREDUCE, &g, 0, ALGO_RING) == 0);
	net_free(net);

	/* Bad clusters are errors, not crashes. */
	struct ps_net *bad = NULL;
	struct ps_cluster c2 = mkcluster(8, 2, 300 * GBps, 3e-6, 0.8, 25 * GBps, 5e-6, 0.9, 8, 0, 1);
	c2.nlevels = 1; /* 2 nodes, no cluster level */
	assert_int_equal(net_alloc(&c2, &bad), PS_ERR_INVALID);
	assert_null(bad);
	c2 = mkcluster(8, 2, 0, 3e-6, 0.8, 25 * GBps, 5e-6, 0.9, 8, 0, 1);
	assert_int_equal(net_alloc(&c2, &bad), PS_ERR_INVALID);
	c2 = mkcluster(8, 2, 300 * GBps, 3e-6, 1.5, 25 * GBps, 5e-6, 0.9, 8, 0, 1);
	assert_int_equal(net_alloc(&c2, &bad), PS_ERR_INVALID);
	c2 = mkcluster(0, 2, 300 * GBps, 3e-6, 0.8, 25 * GBps, 5e-6, 0.9, 8, 0, 1);
	assert_int_equal(net_alloc(&c2, &bad), PS_ERR_INVALID);
	assert_int_equal(net_alloc(NULL, &bad), PS_ERR_INVALID);
	net_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ring_allreduce_intra),
	    cmocka_unit_test(test_ring_allreduce_inter),
	    cmocka_unit_test(test_hierarchical),
	    cmocka_unit_test(test_allgather_reducescatter),
	    cmocka_unit_test(test_tree_broadcast_alltoall),
	    cmocka_unit_test(test_auto_choice),
	    cmocka_unit_test(test_contention_nic),
	    cmocka_unit_test(test_contention_spine),
	    cmocka_unit_test(test_maxmin_fluid),
	    cmocka_unit_test(test_p2p),
	    cmocka_unit_test(test_memo_and_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
