/* place.c — does physical page placement of the profiler's buffers decide
 * a run's speed?  Measures a few shapes with profile_measure (the
 * profiler's own timing loop, full-level options, 1 thread, CPU clock) in
 * one process, under an allocation variant:
 *   a  the CPU backend as the profiler uses it (aligned_alloc 64)
 *   b  2 MiB-aligned mmap + madvise(MADV_HUGEPAGE) + pre-fault
 *   c  R fresh placements: R measurements per shape, buffers of earlier
 *      sets kept alive (so each set gets other physical pages); prints the
 *      median of the per-set medians and the per-set values
 *   d  b with R placements (as c)
 * usage: place VARIANT [R]
 * Output: one line per shape: name median_us [per-set medians] and a final
 * line with AnonHugePages of this process. */
#include "config.h"
#include "profile.h"
#include "backend.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int use_huge;
static void *grave[4096];
static size_t grave_len[4096];
static int keep; /* 1: free() defers to the end of the shape */

static int pool_mode, pool_n, pool_i;
static void *pool_p[64];
static size_t pool_sz[64];
static ps_status x_alloc_raw(size_t bytes, void **out);
static ps_status x_alloc(const struct ps_backend *be, size_t bytes, void **out)
{
	(void)be;
	*out = NULL;
	if (!bytes)
		return PS_OK;
	if (pool_mode) {
		if (pool_i < pool_n) {
			if (pool_sz[pool_i] != bytes)
				abort();
			*out = pool_p[pool_i++];
			return PS_OK;
		}
		ps_status rc = x_alloc_raw(bytes, out);
		pool_p[pool_n] = *out;
		pool_sz[pool_n++] = bytes;
		pool_i = pool_n;
		return rc;
	}
	return x_alloc_raw(bytes, out);
}
static ps_status x_alloc_raw(size_t bytes, void **out)
{
	if (use_huge) {
		size_t H = (size_t)2 << 20, len = (bytes + H - 1) / H * H;
		char *p = mmap(NULL, len + H, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return PS_ERROR(PS_ERR_NOMEM, "mmap");
		char *a = (char *)(((uintptr_t)p + H - 1) & ~(uintptr_t)(H - 1));
		if (a > p)
			munmap(p, (size_t)(a - p));
		if (a + len < p + len + H)
			munmap(a + len, (size_t)(p + len + H - (a + len)));
		madvise(a, len, MADV_HUGEPAGE);
		memset(a, 0, len);
		/* remember the mapping length in a side table */
		for (int i = 0; i < 4096; i++)
			if (!grave_len[i] && !grave[i]) {
				grave[i] = a;
				grave_len[i] = len | 1; /* live */
				break;
			}
		*out = a;
		return PS_OK;
	}
	void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
	if (!p)
		return PS_ERROR(PS_ERR_NOMEM, "alloc");
	memset(p, 0, bytes); /* as upload would touch it anyway */
	*out = p;
	return PS_OK;
}

static void x_release(void *p)
{
	if (use_huge) {
		for (int i = 0; i < 4096; i++)
			if (grave[i] == p) {
				munmap(p, grave_len[i] & ~(size_t)1);
				grave[i] = NULL;
				grave_len[i] = 0;
				return;
			}
		abort();
	}
	free(p);
}

static void *deferred[4096];
static int ndeferred;

static void x_free(const struct ps_backend *be, void *p)
{
	(void)be;
	if (!p)
		return;
	if (pool_mode)
		return;
	if (keep) {
		deferred[ndeferred++] = p;
		return;
	}
	x_release(p);
}

static void flush_deferred(void)
{
	for (int i = 0; i < ndeferred; i++)
		x_release(deferred[i]);
	ndeferred = 0;
}

static long anon_huge_kb(void)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "thp_fault_alloc %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

#include <sys/resource.h>
#include <time.h>
static double busy_all_s(void)
{
	FILE *f = fopen("/proc/stat", "r");
	unsigned long long u, n, sy, id, io, irq, sirq, st;
	double b = 0;
	if (f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &u, &n, &sy, &id, &io, &irq, &sirq,
			&st) == 8)
		b = (double)(u + n + sy + irq + sirq) / 100.0;
	if (f)
		fclose(f);
	return b;
}
static double own_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}
static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	char v = argc > 1 ? argv[1][0] : 'a';
	int R = argc > 2 ? atoi(argv[2]) : 4;
	if (v == 'a' || v == 'b')
		R = 1;
	use_huge = v == 'b' || v == 'd';
	keep = v == 'c' || v == 'd';
	pool_mode = v == 'e' || v == 'f';
	use_huge |= v == 'f';
	struct ps_backend be = *ps_backend_cpu();
	be.alloc = x_alloc;
	be.free = x_free;
	profile_threads_set(1);
	struct ps_profile_opts o;
	profile_opts_init(&o, PROFILE_FULL);
	o.threads = 1;
	o.cpu_clock = 1;
	o.rounds = 1;
	struct {
		const char *name;
		struct ps_profile_shape s;
	} sh[] = {
	    {"adamw_1Mi", {OP_ADAMW, {.n = 1 << 20}}},
	    {"adamw_4Mi", {OP_ADAMW, {.n = 4 << 20}}},
	    {"lnorm_bwd_1024x512", {OP_NORM_BWD, {.M = 1024, .C = 512}}},
	    {"resid_bwd_1Mi", {OP_RESIDUAL_BWD, {.n = 1 << 20}}},
	    {"resid_fwd_256Ki", {OP_RESIDUAL_FWD, {.n = 1 << 18}}},
	    {"attn_fwd_1x512x8x64", {OP_ATTN_FWD, {.B = 1, .T = 512, .NH = 8, .KVH = 8, .HS = 64}}},
	    {"gelu_fwd_4Ki(ctl)", {OP_GELU_FWD, {.n = 4096}}},
	    {"matmul_256x512x512(ctl)", {OP_MATMUL_FWD, {.M = 256, .N = 512, .K = 512, .variant = 1}}},
	};
	long huge0 = anon_huge_kb(), hugemax = 0;
	double b0 = busy_all_s(), o0 = own_s(), w0 = wall_s();
	for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++) {
		double m[64];
		double sb0 = busy_all_s(), so0 = own_s(), sw0 = wall_s();
		for (int r = 0; r < R; r++) {
			struct ps_kernel_sample out;
			pool_i = 0;
			ps_status rc = profile_measure(&be, DTYPE_FP32, &sh[i].s, &o, &out, NULL);
			if (rc != PS_OK) {
				fprintf(stderr, "%s: %s\n", sh[i].name, ps_error_message());
				return 1;
			}
			m[r] = out.median_s * 1e6;
			hugemax = anon_huge_kb() - huge0;
		}
		flush_deferred();
		for (int j = 0; j < pool_n; j++)
			x_release(pool_p[j]);
		pool_n = pool_i = 0;
		double s[64];
		memcpy(s, m, sizeof(double) * (size_t)R);
		qsort(s, (size_t)R, sizeof *s, cmpd);
		double med = R % 2 ? s[R / 2] : 0.5 * (s[R / 2 - 1] + s[R / 2]);
		double ob = (busy_all_s() - sb0 - (own_s() - so0)) / (wall_s() - sw0);
		printf("%s %.4f ob=%.3f", sh[i].name, med, ob);
		for (int r = 0; r < R && R > 1; r++)
			printf(" %.4f", m[r]);
		printf("\n");
	}
	printf("others_busy %.3f\n", (busy_all_s() - b0 - (own_s() - o0)) / (wall_s() - w0));
	printf("thp_fault_alloc_delta %ld\n", hugemax);
	return 0;
}
