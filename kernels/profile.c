/* profile.c — the parts of the profiler that run no kernel: the device
 * fingerprint, the statistics of the timing loop, the default options per
 * level and the CSV import of profiles measured elsewhere.
 *
 * The grid and the timing of the CPU kernels are in kernels/profile-kernels.c;
 * collectives in kernels/comm-profile.c.  Nothing here prints. */
#define _GNU_SOURCE 1 /* dladdr */
#include "config.h"
#include "profile.h"
#include "store.h"
#include "backend.h"
#include "cpu/kernels.h"

#include <cblas.h>
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <gsl/gsl_version.h>
#include <dirent.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

int profile_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n >= 1 ? (int)n : 1;
}

/* --- a growing string ---------------------------------------------------- */

struct pf_buf {
	char *s;
	size_t len, cap;
	int nomem;
};

static void pf_putn(struct pf_buf *b, const char *s, size_t n)
{
	if (b->nomem)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p) {
			b->nomem = 1;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void pf_puts(struct pf_buf *b, const char *s)
{
	pf_putn(b, s, strlen(s));
}

static void pf_printf(struct pf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pf_printf(struct pf_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		pf_putn(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* JSON string literal of s (control characters escaped). */
static void pf_json_str(struct pf_buf *b, const char *s)
{
	pf_puts(b, "\"");
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\') {
			char e[3] = {'\\', (char)*p, 0};
			pf_puts(b, e);
		} else if (*p < 0x20) {
			pf_printf(b, "\\u%04x", *p);
		} else {
			pf_putn(b, (const char *)p, 1);
		}
	}
	pf_puts(b, "\"");
}

/* --- fingerprint ----------------------------------------------------------- */

/* Value of the first "key<blanks>: value" line of /proc/cpuinfo, trimmed. */
static int pf_cpuinfo(const char *key, char *out, size_t size)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return -1;
	char *line = NULL;
	size_t cap = 0;
	int found = -1;
	size_t klen = strlen(key);
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, key, klen) != 0)
			continue;
		char *p = line + klen;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ':')
			continue;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		size_t n = strlen(p);
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			p[--n] = '\0';
		snprintf(out, size, "%s", p);
		found = 0;
		break;
	}
	free(line);
	fclose(f);
	return found;
}

static long pf_read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long v = -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

const char *profile_blas_library(void)
{
	/* Where the dynamic linker bound cblas_sgemm: the library that really
	 * runs the GEMMs (GSL's libgslcblas wins over OpenBLAS when it comes
	 * first in the link order). */
	static char name[256];
	Dl_info info;
	void *fn = (void *)cblas_sgemm;
	if (!dladdr(fn, &info) || !info.dli_fname || !*info.dli_fname)
		return "unknown";
	const char *base = strrchr(info.dli_fname, '/');
	snprintf(name, sizeof name, "%s", base ? base + 1 : info.dli_fname);
	return name;
}

static uint64_t pf_fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

ps_status profile_fingerprint(const struct ps_backend *be, int threads, char *fp, size_t fpsize, char **json)
{
	return profile_fingerprint_clock(be, threads, 0, fp, fpsize, json);
}

ps_status profile_fingerprint_clock(const struct ps_backend *be, int threads, int cpu_clock, char *fp,
				    size_t fpsize, char **json)
{
	if (json)
		*json = NULL;
	if (threads <= 0)
		threads = profile_default_threads();
	int gpu = be && strcmp(be->name, "cpu") != 0;
	char gpudesc[512] = "";
	if (gpu) {
		ps_status rc = be->describe(be, gpudesc, sizeof gpudesc);
		if (rc != PS_OK)
			return rc;
	}
	char model[256] = "unknown", flags[4096] = "";
	if (pf_cpuinfo("model name", model, sizeof model) != 0 &&
	    pf_cpuinfo("Hardware", model, sizeof model) != 0)
		pf_cpuinfo("CPU part", model, sizeof model);
	if (pf_cpuinfo("flags", flags, sizeof flags) != 0)
		pf_cpuinfo("Features", flags, sizeof flags);
	long khz = pf_read_long("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");

	struct pf_buf b = {0};
	if (gpu) {
		pf_puts(&b, "{\"kind\":\"gpu\",\"backend\":");
		pf_json_str(&b, be->name);
		pf_puts(&b, ",\"device\":");
		pf_json_str(&b, gpudesc);
		pf_puts(&b, ",\"host_cpu_model\":");
		pf_json_str(&b, model);
		pf_puts(&b, ",\"parasim\":");
		pf_json_str(&b, PACKAGE_VERSION);
		pf_puts(&b, "}");
		goto done;
	}
	pf_puts(&b, "{\"kind\":\"cpu\",\"cpu_model\":");
	pf_json_str(&b, model);
	pf_puts(&b, ",\"cpu_flags\":");
	pf_json_str(&b, flags);
	pf_printf(&b, ",\"cpus_online\":%d,\"threads\":%d", profile_default_threads(), threads);
	if (khz > 0)
		pf_printf(&b, ",\"cpu_max_khz\":%ld", khz);
	else
		pf_puts(&b, ",\"cpu_max_khz\":null");
	pf_puts(&b, ",\"blas_library\":");
	pf_json_str(&b, profile_blas_library());
	pf_puts(&b, ",\"blas_core\":");
	pf_json_str(&b, cpu_blas_corename());
	pf_puts(&b, ",\"blas_config\":");
	pf_json_str(&b, cpu_blas_config());
	pf_puts(&b, ",\"gsl\":");
	pf_json_str(&b, gsl_version);
	pf_puts(&b, ",\"sqlite\":");
	pf_json_str(&b, sqlite3_libversion());
	pf_puts(&b, ",\"libyaml\":");
	pf_json_str(&b, yaml_get_version_string());
	pf_puts(&b, ",\"parasim\":");
	pf_json_str(&b, PACKAGE_VERSION);
	if (cpu_clock)
		pf_puts(&b, ",\"clock\":\"cpu\"");
	pf_puts(&b, "}");
done:
	if (b.nomem) {
		free(b.s);
		return PS_ERROR(PS_ERR_NOMEM, "fingerprint: out of memory");
	}
	snprintf(fp, fpsize, "%s-%016llx", gpu ? be->name : "cpu", (unsigned long long)pf_fnv1a(b.s));
	if (json)
		*json = b.s;
	else
		free(b.s);
	return PS_OK;
}

/* --- statistics and options ------------------------------------------------ */

static int pf_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pf_median_sorted(const double *t, int n)
{
	return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

void profile_stats(double *t, int n, double *median, double *mad, double *ci_rel)
{
	*median = *mad = 0;
	*ci_rel = INFINITY;
	if (n <= 0)
		return;
	qsort(t, (size_t)n, sizeof *t, pf_cmp_double);
	double med = pf_median_sorted(t, n);
	*median = med;
	/* MAD: median of |t - med|, read from the sorted array by merging the
	 * two monotone halves (no scratch buffer). */
	int lo = n / 2 - 1, hi = n / 2, k = 0, want = n / 2;
	double prev = 0, cur = 0;
	while (k <= want) {
		double dl = lo >= 0 ? med - t[lo] : INFINITY, dh = hi < n ? t[hi] - med : INFINITY;
		prev = cur;
		if (dl <= dh) {
			cur = dl;
			lo--;
		} else {
			cur = dh;
			hi++;
		}
		k++;
	}
	*mad = n % 2 ? cur : 0.5 * (prev + cur);
	if (n >= 6 && med > 0) {
		double r = 0.98 * sqrt((double)n);
		int j = (int)floor(n / 2.0 - r), u = (int)ceil(n / 2.0 + r); /* 1-based ranks */
		if (j < 1)
			j = 1;
		if (u > n)
			u = n;
		*ci_rel = (t[u - 1] - t[j - 1]) / (2 * med);
	}
}

void profile_combine(const struct ps_kernel_sample *passes, int r, struct ps_kernel_sample *out)
{
	double med[64], mad[64], m1, m2, ci;
	if (r > 64)
		r = 64;
	*out = passes[0];
	out->reps = 0;
	out->disturbed = 0;
	for (int i = 0; i < r; i++) {
		med[i] = passes[i].median_s;
		mad[i] = passes[i].spread_s;
		out->reps += passes[i].reps;
		out->disturbed += passes[i].disturbed;
	}
	profile_stats(mad, r, &m1, &m2, &ci);
	double inner_mad = m1;
	profile_stats(med, r, &m1, &m2, &ci);
	out->median_s = m1;
	out->spread_s = m2 > inner_mad ? m2 : inner_mad;
}

ps_status profile_schedstat_parse(const char *text, double *run_delay_s)
{
	unsigned long long on_cpu, waited;
	int used = 0;
	if (!text || sscanf(text, "%llu %llu %*u%n", &on_cpu, &waited, &used) != 2 || used == 0)
		return PS_ERROR(PS_ERR_PARSE, "schedstat: expected three counters, got \"%.40s\"",
				text ? text : "");
	*run_delay_s = (double)waited * 1e-9;
	return PS_OK;
}

double profile_run_delay_s(void)
{
	DIR *dir = opendir("/proc/self/task");
	if (!dir)
		return -1;
	double sum = 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		char path[64], buf[128];
		snprintf(path, sizeof path, "/proc/self/task/%.20s/schedstat", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue; /* the thread ended meanwhile */
		size_t len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[len] = '\0';
		double d;
		if (profile_schedstat_parse(buf, &d) != PS_OK) {
			ps_error_clear();
			continue;
		}
		sum += d;
		n++;
	}
	closedir(dir);
	return n > 0 ? sum : -1;
}

void profile_opts_init(struct ps_profile_opts *o, ps_profile_level level)
{
	memset(o, 0, sizeof *o);
	o->level = level;
	o->threads = 0;
	o->rounds = 1;
	switch (level) {
	case PROFILE_TINY:
		o->warmup_s = 0.002, o->max_s = 0.02, o->min_reps = 3, o->max_reps = 20, o->target_ci = 0.05;
		break;
	case PROFILE_QUICK:
		o->warmup_s = 0.005, o->max_s = 0.12, o->min_reps = 5, o->max_reps = 200, o->target_ci = 0.02;
		break;
	case PROFILE_FULL:
	default:
		o->warmup_s = 0.02, o->max_s = 0.7, o->min_reps = 5, o->max_reps = 300, o->target_ci = 0.01;
		o->rounds = 3;
		break;
	}
}

/* --- CSV import -------------------------------------------------------------- */

enum {
	PC_OP,
	PC_DTYPE,
	PC_M,
	PC_N,
	PC_K,
	PC_B,
	PC_T,
	PC_C,
	PC_NH,
	PC_KVH,
	PC_HS,
	PC_V,
	PC_n,
	PC_VARIANT,
	PC_MEDIAN,
	PC_SPREAD,
	PC_REPS,
	PC_FLOPS,
	PC_BYTES,
	PC_SOURCE,
	PC_COUNT
};
static const char *const pc_names[PC_COUNT] = {
    "op", "dtype", "M", "N",	   "K",	       "B",	   "T",	   "C",	    "NH",    "KVH",
    "HS", "V",	   "n", "variant", "median_s", "spread_s", "reps", "flops", "bytes", "source"};
static const char *const pc_dtypes[] = {"fp32", "tf32", "bf16", "fp16", "fp8"};

#define PC_MAXF 64

/* Split one CSV record (RFC 4180 quoting, no embedded newlines) in place.
 * f[i] the field text, col[i] its 1-based column.  Returns the count, or
 * -1 with *errcol at an unterminated quote. */
static int pc_split(char *line, char **f, int *col, int max, int *errcol)
{
	int n = 0;
	char *p = line;
	for (;;) {
		if (n == max)
			return n;
		col[n] = (int)(p - line) + 1;
		if (*p == '"') {
			char *w = p, *r = p + 1;
			f[n] = w;
			for (;;) {
				if (*r == '\0') {
					*errcol = col[n];
					return -1;
				}
				if (*r == '"') {
					if (r[1] == '"') {
						*w++ = '"';
						r += 2;
						continue;
					}
					r++;
					break;
				}
				*w++ = *r++;
			}
			*w = '\0';
			while (*r == ' ' || *r == '\t')
				r++;
			n++;
			if (*r != ',')
				return n;
			p = r + 1;
		} else {
			f[n] = p;
			char *e = strchr(p, ',');
			n++;
			if (!e) {
				break;
			}
			*e = '\0';
			p = e + 1;
		}
	}
	return n;
}

static char *pc_trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Add text to the provenance list unless already there ("; " separated). */
static void pc_source_add(struct pf_buf *src, const char *text)
{
	if (!*text)
		return;
	if (src->s) {
		const char *p = src->s;
		size_t n = strlen(text);
		while ((p = strstr(p, text)) != NULL) {
			int start = p == src->s || (p >= src->s + 2 && p[-2] == ';' && p[-1] == ' ');
			if (start && (p[n] == '\0' || p[n] == ';'))
				return;
			p++;
		}
		pf_puts(src, "; ");
	}
	pf_puts(src, text);
}

ps_status profile_csv_read(const char *path, struct ps_kernel_sample **out, size_t *nout, char **source)
{
	*out = NULL;
	*nout = 0;
	*source = NULL;
	FILE *f = fopen(path, "r");
	if (!f)
		return PS_ERROR(PS_ERR_IO, "%s: %s", path, strerror(errno));
	ps_status rc = PS_OK;
	char *line = NULL;
	size_t cap = 0, nalloc = 0, n = 0;
	ssize_t len;
	int lineno = 0, have_header = 0, ncols = 0, colmap[PC_MAXF], has_source_col = 0, hdr_source = 0;
	struct ps_kernel_sample *s = NULL;
	struct pf_buf src = {0};
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			continue;
		if (*p == '#') {
			p++;
			while (*p == ' ' || *p == '\t')
				p++;
			if (strncmp(p, "source:", 7) == 0 && *pc_trim(p + 7)) {
				pc_source_add(&src, pc_trim(p + 7));
				hdr_source = 1;
			}
			continue;
		}
		char *fld[PC_MAXF];
		int col[PC_MAXF], errcol = 0;
		int nf = pc_split(line, fld, col, PC_MAXF, &errcol);
		if (nf < 0) {
			rc = PS_ERROR(PS_ERR_PARSE, "%s:%d:%d: unterminated quoted field", path, lineno,
				      errcol);
			goto out;
		}
		if (!have_header) {
			int seen[PC_COUNT] = {0};
			for (int i = 0; i < nf; i++) {
				char *name = pc_trim(fld[i]);
				int k;
				for (k = 0; k < PC_COUNT; k++)
					if (strcmp(name, pc_names[k]) == 0)
						break;
				if (k == PC_COUNT) {
					rc = PS_ERROR(PS_ERR_PARSE,
						      "%s:%d:%d: unknown column \"%s\" (expected op, dtype, "
						      "M, N, K, B, T, C, "
						      "NH, KVH, HS, V, n, variant, median_s, spread_s, reps, "
						      "flops, bytes, "
						      "source)",
						      path, lineno, col[i], name);
					goto out;
				}
				if (seen[k]) {
					rc = PS_ERROR(PS_ERR_PARSE, "%s:%d:%d: column \"%s\" given twice",
						      path, lineno, col[i], name);
					goto out;
				}
				seen[k] = 1;
				colmap[i] = k;
			}
			if (!seen[PC_OP] || !seen[PC_MEDIAN]) {
				rc = PS_ERROR(PS_ERR_PARSE,
					      "%s:%d:1: header needs the columns op and median_s", path,
					      lineno);
				goto out;
			}
			has_source_col = seen[PC_SOURCE];
			ncols = nf;
			have_header = 1;
			continue;
		}
		if (nf != ncols) {
			rc = PS_ERROR(PS_ERR_PARSE, "%s:%d:%d: expected %d fields as in the header, got %d",
				      path, lineno, nf < ncols ? (int)len + 1 : col[ncols], ncols, nf);
			goto out;
		}
		if (n == nalloc) {
			nalloc = nalloc ? 2 * nalloc : 64;
			struct ps_kernel_sample *q = realloc(s, nalloc * sizeof *s);
			if (!q) {
				rc = PS_ERROR(PS_ERR_NOMEM, "%s: out of memory", path);
				goto out;
			}
			s = q;
		}
		struct ps_kernel_sample *k = &s[n];
		memset(k, 0, sizeof *k);
		snprintf(k->dtype, sizeof k->dtype, "fp32");
		k->reps = 1;
		int row_has_source = 0;
		for (int i = 0; i < nf; i++) {
			char *v = pc_trim(fld[i]);
			int c = colmap[i];
			const char *what = NULL;
			char *end;
			errno = 0;
			if (c == PC_OP) {
				ps_op op;
				if (op_parse(v, &op) != 0)
					what = "an op name such as matmul_fwd";
				else
					snprintf(k->op, sizeof k->op, "%s", op_name(op));
			} else if (c == PC_DTYPE) {
				int ok = 0;
				for (size_t d = 0; d < sizeof pc_dtypes / sizeof *pc_dtypes; d++)
					if (strcmp(v, pc_dtypes[d]) == 0)
						ok = 1;
				if (ok)
					snprintf(k->dtype, sizeof k->dtype, "%s", v);
				else
					what = "a dtype (fp32, tf32, bf16, fp16, fp8)";
			} else if (c == PC_SOURCE) {
				if (*v) {
					pc_source_add(&src, v);
					row_has_source = 1;
				}
			} else if (c >= PC_M && c <= PC_VARIANT) {
				long long x = 0;
				if (*v) {
					x = strtoll(v, &end, 10);
					if (*end || errno || x < 0 || x > (long long)1 << 40)
						what = "a non-negative integer";
				}
				int64_t *dims[] = {&k->M,  &k->N,   &k->K,  &k->B, &k->T, &k->C,
						   &k->NH, &k->KVH, &k->HS, &k->V, &k->n};
				if (c == PC_VARIANT)
					k->variant = (int)x;
				else
					*dims[c - PC_M] = x;
			} else if (c == PC_REPS) {
				long x = strtol(v, &end, 10);
				if (!*v || *end || errno || x < 1 || x > 1000000000)
					what = "a positive integer";
				else
					k->reps = (int)x;
			} else {
				double x = *v ? strtod(v, &end) : 0;
				int required = c == PC_MEDIAN;
				if ((*v && (*end || errno || !isfinite(x) || x < 0)) ||
				    (required && !(x > 0)))
					what =
					    required ? "a positive time in seconds" : "a non-negative number";
				else if (c == PC_MEDIAN)
					k->median_s = x;
				else if (c == PC_SPREAD)
					k->spread_s = x;
				else if (c == PC_FLOPS)
					k->flops = x;
				else if (c == PC_BYTES)
					k->bytes = x;
			}
			if (what) {
				rc = PS_ERROR(PS_ERR_PARSE, "%s:%d:%d: %s: expected %s, got \"%s\"", path,
					      lineno, col[i], pc_names[c], what, v);
				goto out;
			}
		}
		if (has_source_col && !row_has_source && !hdr_source) {
			rc =
			    PS_ERROR(PS_ERR_PARSE, "%s:%d:1: source: empty, and no \"# source:\" line before",
				     path, lineno);
			goto out;
		}
		/* Missing flops/bytes are computed like the profiler's. */
		ps_op op;
		op_parse(k->op, &op);
		struct ps_shape sh = {k->M,  k->N,   k->K,  k->B, k->T, k->C,
				      k->NH, k->KVH, k->HS, k->V, k->n, k->variant};
		int eb = strcmp(k->dtype, "fp8") == 0					    ? 1
			 : (strcmp(k->dtype, "bf16") == 0 || strcmp(k->dtype, "fp16") == 0) ? 2
											    : 4;
		if (!(k->flops > 0))
			k->flops = op_flops(op, &sh);
		if (!(k->bytes > 0))
			k->bytes = op_bytes(op, &sh, eb);
		n++;
	}
	if (!have_header) {
		rc = PS_ERROR(PS_ERR_PARSE, "%s:%d:1: no header line (expected e.g. op,M,N,K,median_s)", path,
			      lineno + 1);
		goto out;
	}
	if (n == 0) {
		rc = PS_ERROR(PS_ERR_PARSE, "%s:%d:1: no samples after the header", path, lineno + 1);
		goto out;
	}
	if (!src.s) {
		rc = PS_ERROR(PS_ERR_PARSE,
			      "%s:1:1: no provenance: add a \"# source: ...\" line or a source column", path);
		goto out;
	}
	if (src.nomem) {
		rc = PS_ERROR(PS_ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
out:
	free(line);
	fclose(f);
	if (rc != PS_OK) {
		free(s);
		free(src.s);
		return rc;
	}
	*out = s;
	*nout = n;
	*source = src.s;
	return PS_OK;
}
