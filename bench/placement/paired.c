/* paired.c — paired test of physical placement: P buffer sets of one shape
 * (each its own pages), all warm, measured in interleaved rounds
 * (set 0, 1, ..., P-1, then set 0 again as slot P = the noise floor), so
 * slow drifts and neighbours hit every set alike.  Per set: the median of
 * its per-round samples (a sample = inner calls >= 200 us, thread CPU clock).
 * Prints per shape: max/min over the P sets' medians, and |slot P / slot 0 - 1|
 * (same buffers measured twice: what noise alone gives).
 * usage: paired 4k|huge [P] [N] */
#include "cpu/kernels.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static int huge;

static float *balloc(size_t n)
{
	size_t bytes = n * sizeof(float);
	if (!huge) {
		float *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
		return p;
	}
	size_t H = (size_t)2 << 20, len = (bytes + H - 1) / H * H;
	char *p = mmap(NULL, len + H, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		abort();
	char *a = (char *)(((uintptr_t)p + H - 1) & ~(uintptr_t)(H - 1));
	madvise(a, len, MADV_HUGEPAGE);
	return (float *)a;
}

static void fill(float *x, size_t n, uint64_t s)
{
	for (size_t i = 0; i < n; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		x[i] = (float)((double)(s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
	}
}

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

enum { ADAMW, LNB, RESB, ATTF };
struct set {
	float *b[8];
	int step;
};
struct shp {
	const char *name;
	int kind;
	size_t n; /* adamw/resid */
	int M, C, B, T, NH, HS;
};

static void call(const struct shp *s, struct set *x)
{
	switch (s->kind) {
	case ADAMW:
		cpu_adamw_update(x->b[0], x->b[1], x->b[2], x->b[3], s->n, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f,
				 ++x->step);
		break;
	case LNB:
		cpu_layernorm_backward(x->b[0], x->b[7], x->b[7] + s->C, x->b[6], x->b[1], x->b[2], x->b[4],
				       x->b[5], s->M, s->C);
		break;
	case RESB:
		cpu_residual_backward(x->b[1], x->b[2], x->b[0], s->n);
		break;
	case ATTF:
		cpu_attention_forward(x->b[0], x->b[1], x->b[2], s->B, s->T, s->NH, s->NH, s->HS);
		break;
	}
}

static void setup(const struct shp *s, struct set *x, size_t nf[8])
{
	memset(x, 0, sizeof *x);
	memset(nf, 0, 8 * sizeof *nf);
	switch (s->kind) {
	case ADAMW:
		nf[0] = nf[1] = nf[2] = nf[3] = s->n;
		break;
	case LNB:
		nf[0] = nf[1] = nf[6] = (size_t)s->M * s->C, nf[2] = nf[3] = s->C, nf[4] = nf[5] = s->M,
		nf[7] = 2 * (size_t)s->C;
		break;
	case RESB:
		nf[0] = nf[1] = nf[2] = s->n;
		break;
	case ATTF:
		nf[0] = (size_t)s->B * s->T * s->NH * s->HS, nf[1] = (size_t)s->B * s->NH * s->T,
		nf[2] = 3 * nf[0];
		break;
	}
	uint64_t st = 12345;
	for (int i = 0; i < 8; i++)
		if (nf[i]) {
			x->b[i] = balloc(nf[i]);
			fill(x->b[i], nf[i], st += 77);
		}
	if (s->kind == LNB) /* mean, rstd from a forward pass */
		cpu_layernorm_forward(x->b[0], x->b[4], x->b[5], x->b[1], x->b[2], x->b[3], s->M, s->C);
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}
static double median(double *t, int n)
{
	qsort(t, (size_t)n, sizeof *t, cmpd);
	return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

int main(int argc, char **argv)
{
	huge = argc > 1 && strcmp(argv[1], "huge") == 0;
	int P = argc > 2 ? atoi(argv[2]) : 6, N = argc > 3 ? atoi(argv[3]) : 21;
	cpu_threads_set(1);
	struct shp shapes[] = {
	    {"adamw_1Mi", ADAMW, 1 << 20},
	    {"adamw_4Mi", ADAMW, 4 << 20},
	    {"lnorm_bwd_1024x512", LNB, 0, 1024, 512},
	    {"resid_bwd_1Mi", RESB, 1 << 20},
	    {"resid_bwd_256Ki", RESB, 1 << 18},
	    {"attn_fwd_1x512x8x64", ATTF, 0, 0, 0, 1, 512, 8, 64},
	};
	for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
		const struct shp *s = &shapes[k];
		struct set *sets = calloc((size_t)P, sizeof *sets);
		size_t nf[8];
		for (int p = 0; p < P; p++)
			setup(s, &sets[p], nf);
		/* warm-up and inner */
		for (int p = 0; p < P; p++)
			call(s, &sets[p]);
		double c0 = cpu_now();
		call(s, &sets[0]);
		double one = cpu_now() - c0;
		int inner = (int)ceil(200e-6 / one);
		if (inner < 1)
			inner = 1;
		double *t = calloc((size_t)(P + 1) * N, sizeof *t);
		uint64_t rs = 99;
		int perm[65];
		for (int r = 0; r < N; r++) {
			for (int i = 0; i <= P; i++)
				perm[i] = i;
			for (int i = P; i > 0; i--) { /* Fisher-Yates, fixed seed */
				rs = rs * 6364136223846793005ull + 1442695040888963407ull;
				int j = (int)((rs >> 33) % (uint64_t)(i + 1)), tmp = perm[i];
				perm[i] = perm[j];
				perm[j] = tmp;
			}
			for (int q = 0; q <= P; q++) {
				int slot = perm[q];
				struct set *x = &sets[slot == P ? 0 : slot];
				for (int i = 0; i < 3 * inner; i++) /* rewarm this set's lines */
					call(s, x);
				double a = cpu_now();
				for (int i = 0; i < inner; i++)
					call(s, x);
				t[slot * N + r] = (cpu_now() - a) / inner;
			}
		}
		double med[64], lo = INFINITY, hi = 0;
		for (int slot = 0; slot <= P; slot++) {
			med[slot] = median(&t[slot * N], N);
			if (slot < P) {
				lo = fmin(lo, med[slot]);
				hi = fmax(hi, med[slot]);
			}
		}
		printf("%s %.3f sets_maxmin %.4f same_set %.4f |", s->name, med[0] * 1e6, hi / lo,
		       fabs(med[P] / med[0] - 1));
		for (int p = 0; p < P; p++)
			printf(" %.4f", med[p] / med[0]);
		printf("\n");
		fflush(stdout);
		free(t);
		for (int p = 0; p < P; p++)
			for (int i = 0; i < 8; i++)
				if (sets[p].b[i] && !huge)
					free(sets[p].b[i]);
		/* huge: leaked on purpose (short-lived process) */
		free(sets);
	}
	return 0;
}
