/* bench-sim.c — how fast the simulator is, on the yardstick: one
 * training step of a 1T-parameter GPT (128 layers, hidden 25600, 160 heads,
 * seq 2048, vocab 51200) on 4096 H100s (DGX H100 style, 512 nodes) with
 * tp 8, pp 64, dp 8, vpp 2 (interleaved 1F1B), micro-batch 1, global batch
 * 4096, sequence parallel, selective recompute, distributed optimizer.
 *
 * Prints medians (of >= 5 runs) of: the folded graph build, the folded
 * discrete-event run (flow tier and analytic network tier), the analytic
 * (closed-form) tier in configurations per second on one core over a sweep
 * of layouts, the same layout at global batch 512 unfolded (its step must
 * equal the folded one), and the full unfolded build + run when it fits in
 * memory (the global-batch-512 run's peak scaled by the task count decides:
 * --unfold forces the attempt, --no-unfold skips it).
 * Targets (issue 4): folded DES <= 0.1 s, analytic >= 10,000 configs/s.
 * Wall clock, and for the folded runs also the process CPU time (user +
 * system, getrusage) and the load average, since the shared machines this
 * runs on are often busy.  Tests never time anything. */
#include "config.h"
#include "graph.h"
#include "net.h"
#include "simulate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *scenario_1t =
	"name: bench-gpt-1t\n"
	"model: { name: gpt-1t, layers: 128, hidden: 25600, heads: 160, kv_heads: 160, head_dim: 160,\n"
	"         ffn_hidden: 102400, ffn: gelu, vocab: 51200, seq_len: 2048, norm: layernorm,\n"
	"         position: learned, tied_embeddings: true, bias: true, parallel_block: false }\n"
	"cluster: { include: dgx-h100, nodes: 512 }\n"
	"strategy: { dp: 8, tp: 8, pp: 64, vpp: 2, cp: 1, micro_batch: 1, global_batch: 4096,\n"
	"            schedule: interleaved, sequence_parallel: true, recompute: selective,\n"
	"            zero_stage: 1, distributed_optimizer: true, dtype: bf16, grad_dtype: fp32 }\n";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of this process so far (user + system), seconds. */
static double cpu_s(void)
{
	struct rusage u;
	if (getrusage(RUSAGE_SELF, &u) != 0)
		return 0;
	return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + (double)u.ru_stime.tv_sec +
	       u.ru_stime.tv_usec * 1e-6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_d);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static long mem_available_kb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long kb = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "MemAvailable: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

#define REPS 5

int main(int argc, char **argv)
{
	int unfold = -1; /* -1 decide from memory */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--unfold"))
			unfold = 1;
		else if (!strcmp(argv[i], "--no-unfold"))
			unfold = 0;
		else {
			fprintf(stderr, "usage: bench-sim [--unfold|--no-unfold]\n");
			return 2;
		}
	}
	struct ps_scenario sc;
	if (scenario_load_string(scenario_1t, strlen(scenario_1t), "bench-gpt-1t", &sc) != PS_OK) {
		fprintf(stderr, "bench-sim: %s\n", ps_error_message());
		return 1;
	}
	struct ps_costmodel *cm = NULL;
	struct ps_net *net = NULL;
	if (costmodel_datasheet_alloc(&sc.cluster.device, &cm) != PS_OK || net_alloc(&sc.cluster, &net) != PS_OK) {
		fprintf(stderr, "bench-sim: %s\n", ps_error_message());
		return 1;
	}
	printf("scenario: GPT 1T (L 128, h 25600, a 160, s 2048, V 51200) on %d x %s (%d nodes), tp 8 pp 64 dp 8 vpp 2, "
	       "mb 1, gb 4096 (%d micro-batches)\n",
	       scenario_world_size(&sc), sc.cluster.device.name, sc.cluster.nodes, 4096 / 8);

	/* folded graph build and DES */
	double tb[REPS], tf[REPS], ta[REPS], cf[REPS], ca[REPS];
	double load[3] = {-1, -1, -1};
	if (getloadavg(load, 3) < 1)
		load[0] = -1;
	struct ps_graph *g = NULL;
	struct ps_des_result res;
	double step_flow = 0, step_an = 0;
	uint64_t events = 0;
	for (int r = 0; r < REPS; r++) {
		double t0 = now_s();
		if (graph_build(&sc, 1, &g) != PS_OK) {
			fprintf(stderr, "bench-sim: %s\n", ps_error_message());
			return 1;
		}
		double t1 = now_s(), c1 = cpu_s();
		if (des_run(g, cm, net, NET_FLOW, 0, &res) != PS_OK) {
			fprintf(stderr, "bench-sim: %s\n", ps_error_message());
			return 1;
		}
		double t2 = now_s(), c2 = cpu_s();
		step_flow = res.step_time_s;
		events = res.events;
		des_result_fini(&res);
		double t3 = now_s(), c3 = cpu_s();
		if (des_run(g, cm, net, NET_ANALYTIC, 0, &res) != PS_OK) {
			fprintf(stderr, "bench-sim: %s\n", ps_error_message());
			return 1;
		}
		double t4 = now_s(), c4 = cpu_s();
		step_an = res.step_time_s;
		des_result_fini(&res);
		tb[r] = t1 - t0;
		tf[r] = t2 - t1;
		ta[r] = t4 - t3;
		cf[r] = c2 - c1;
		ca[r] = c4 - c3;
		if (r < REPS - 1)
			graph_free(g);
	}
	printf("folded graph: %d representatives, %u tasks, %u deps\n", g->nranks, g->ntasks, g->ndeps);
	printf("folded graph build:            median %.4f s (%d runs)\n", median(tb, REPS), REPS);
	printf("folded DES, flow network:      median %.4f s, CPU %.4f s (%llu events; step %.4f s)\n",
	       median(tf, REPS), median(cf, REPS), (unsigned long long)events, step_flow);
	printf("folded DES, analytic network:  median %.4f s, CPU %.4f s (step %.4f s)\n", median(ta, REPS),
	       median(ca, REPS), step_an);
	printf("load average before the folded runs: %.2f %.2f %.2f (%ld CPUs online)\n", load[0], load[1], load[2],
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("folded build + DES (flow):     median %.4f s  [target <= 0.1 s for the DES]\n",
	       median(tb, REPS) + median(tf, REPS));
	/* one straggler (rank 1234 computes 1.2x slower): folded where ranks
	 * stay identical (sim/fold.c), one run */
	{
		struct ps_scenario slow = sc;
		slow.cluster.nperturb = 1;
		slow.cluster.perturb[0].rank = 1234;
		slow.cluster.perturb[0].slowdown = 1.2;
		struct ps_graph *gs = NULL;
		double t0 = now_s();
		if (graph_build(&slow, 1, &gs) == PS_OK) {
			double t1 = now_s();
			if (des_run(gs, cm, net, NET_FLOW, 0, &res) == PS_OK) {
				double t2 = now_s();
				printf("one straggler (rank 1234 x1.2), folded: %d representatives, %u tasks; build %.3f s, "
				       "DES %.3f s (one run); step %.4f s (%+.2f %% against no straggler)\n",
				       gs->nranks, gs->ntasks, t1 - t0, t2 - t1, res.step_time_s,
				       100 * (res.step_time_s / step_flow - 1));
				des_result_fini(&res);
			}
			graph_free(gs);
		} else {
			printf("one straggler: graph build failed: %s\n", ps_error_message());
		}
	}
	size_t task_bytes = (size_t)g->ntasks * sizeof(struct ps_task) + (size_t)g->ndeps * sizeof(uint32_t);
	uint32_t ntasks_folded = g->ntasks, ndeps_folded = g->ndeps;
	graph_free(g);

	/* analytic tier: a sweep of layouts on one core */
	static const int tps[] = {1, 2, 4, 8}, pps[] = {16, 32, 64, 128}, mbs[] = {1, 2, 4};
	static const ps_recompute recs[] = {RECOMPUTE_NONE, RECOMPUTE_SELECTIVE, RECOMPUTE_FULL};
	double rates[REPS];
	int nconf = 0;
	struct ps_sim_metrics am;
	double sink = 0;
	for (int r = 0; r < REPS; r++) {
		nconf = 0;
		double t0 = now_s();
		for (int rep = 0; rep < 4; rep++)
			for (size_t a = 0; a < 4; a++)
				for (size_t b = 0; b < 4; b++)
					for (size_t c = 0; c < 3; c++)
						for (size_t d = 0; d < 3; d++)
							for (int z = 0; z <= 1; z++) {
								struct ps_scenario one = sc;
								one.strategy.tp = tps[a];
								one.strategy.pp = pps[b];
								one.strategy.dp = 4096 / (tps[a] * pps[b]);
								one.strategy.micro_batch = mbs[c];
								one.strategy.recompute = recs[d];
								one.strategy.zero_stage = z;
								one.strategy.vpp = pps[b] <= 64 ? 2 : 1;
								one.strategy.schedule = one.strategy.vpp > 1 ? SCHED_INTERLEAVED : SCHED_1F1B;
								if (one.strategy.global_batch % (one.strategy.dp * mbs[c]))
									continue;
								int m = one.strategy.global_batch / (one.strategy.dp * mbs[c]);
								if (one.strategy.vpp > 1 && m % pps[b])
									continue;
								if (simulate_analytic(&one, cm, net, &am) != PS_OK) {
									fprintf(stderr, "bench-sim: analytic: %s\n",
										ps_error_message());
									return 1;
								}
								sink += am.step_time_s;
								nconf++;
							}
		rates[r] = nconf / (now_s() - t0);
	}
	printf("analytic tier: %d configurations per run, median %.0f configs/s on one core  [target >= 10000]\n", nconf,
	       median(rates, REPS));
	if (simulate_analytic(&sc, cm, net, &am) == PS_OK)
		printf("analytic tier on the yardstick layout: step %.4f s (DES flow %.4f s, %+.1f %%)\n", am.step_time_s,
		       step_flow, 100 * (am.step_time_s / step_flow - 1));

	/* The same layout with global batch 512 (64 micro-batches) unfolded,
	 * against its folded run: the step times must be equal.  Its peak
	 * memory per task also sizes the full unfolded run below. */
	struct ps_scenario small = sc;
	small.strategy.global_batch = 512;
	double tfold = 0, sfold = 0;
	if (graph_build(&small, 1, &g) == PS_OK) {
		double t0 = now_s();
		if (des_run(g, cm, net, NET_FLOW, 0, &res) == PS_OK) {
			tfold = now_s() - t0;
			sfold = res.step_time_s;
			des_result_fini(&res);
		}
		graph_free(g);
	}
	double small_tasks = 0;
	long small_rss = 0;
	{
		double t0 = now_s();
		if (graph_build(&small, 0, &g) != PS_OK) {
			printf("unfolded graph build (global batch 512) failed: %s\n", ps_error_message());
		} else {
			double t1 = now_s();
			ps_status rc = des_run(g, cm, net, NET_FLOW, 0, &res);
			double t2 = now_s();
			small_tasks = g->ntasks;
			small_rss = rss_kb();
			printf("unfolded, global batch 512 (64 micro-batches): %d ranks, %u tasks; build %.2f s, DES %.2f s (one "
			       "run), step %.6f s; folded DES %.4f s, step %.6f s (%s); peak RSS %.1f GiB\n",
			       g->nranks, g->ntasks, t1 - t0, t2 - t1, rc == PS_OK ? res.step_time_s : -1.0, tfold, sfold,
			       rc == PS_OK && res.step_time_s == sfold ? "equal" : "DIFFERENT", small_rss / 1024.0 / 1024);
			if (rc == PS_OK)
				des_result_fini(&res);
			graph_free(g);
		}
	}

	/* unfolded: every one of the 4096 ranks.  Memory: the peak of the
	 * global-batch-512 run scaled by the task count, plus 10 %. */
	double big_tasks = (double)ntasks_folded / 64.0 * 4096;
	double need_kb = small_tasks > 0 ? 1.1 * (double)small_rss * big_tasks / small_tasks
					 : (double)task_bytes / 64.0 * 2.6 * scenario_world_size(&sc) / 1024.0;
	long avail = mem_available_kb();
	printf("unfolded estimate: %.0f M tasks, about %.1f GiB for graph and simulator (available %.1f GiB)\n",
	       big_tasks / 1e6, need_kb / 1024 / 1024, avail / 1024.0 / 1024);
	(void)ndeps_folded;
	if (unfold == 1 || (unfold == -1 && avail > 0 && need_kb < 0.9 * avail)) {
		double t0 = now_s();
		if (graph_build(&sc, 0, &g) != PS_OK) {
			printf("unfolded graph build failed: %s\n", ps_error_message());
		} else {
			double t1 = now_s();
			ps_status rc = des_run(g, cm, net, NET_FLOW, 0, &res);
			double t2 = now_s();
			printf("unfolded graph: %d ranks, %u tasks; build %.2f s, DES %.2f s (one run), step %.4f s (folded "
			       "%.4f s, %s), peak RSS %.1f GiB\n",
			       g->nranks, g->ntasks, t1 - t0, t2 - t1, rc == PS_OK ? res.step_time_s : -1.0, step_flow,
			       rc == PS_OK && res.step_time_s == step_flow ? "equal" : "DIFFERENT", rss_kb() / 1024.0 / 1024);
			if (rc == PS_OK)
				des_result_fini(&res);
			graph_free(g);
		}
	} else if (unfold == 0) {
		printf("unfolded run skipped (--no-unfold)\n");
	} else {
		printf("unfolded run skipped: does not fit in this machine's memory (--unfold forces it)\n");
	}
	if (sink < 0)
		printf("%g\n", sink);
	net_free(net);
	costmodel_free(cm);
	scenario_fini(&sc);
	return 0;
}
