/* costmodel.c — the price of one kernel call: the datasheet path (roofline
 * with size-dependent efficiency curves) and the dispatch to the profile
 * path (kernels/costmodel-fit.c), plus the choice between them for a device.
 *
 * It does not measure anything (kernels/profile.c does) and does not read
 * training results.  Formulas: doc/cost-model.md. */
#include "config.h"
#include "costmodel-int.h"
#include "profile.h"
#include "store.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const int cm_elem_bytes[DTYPE_COUNT_] = {4, 4, 2, 2, 1};

int costmodel_dtype_bytes(ps_dtype d)
{
	if ((int)d < 0 || d >= DTYPE_COUNT_)
		return 4;
	return cm_elem_bytes[d];
}

int costmodel_dtype_fallback(const struct ps_device *dev, ps_dtype d)
{
	if ((int)d < 0 || d >= DTYPE_COUNT_)
		d = DTYPE_FP32;
	/* Enum order is fp32, tf32, bf16, fp16, fp8: lower index = wider. */
	for (int i = (int)d; i >= 0; i--)
		if (dev->peak_flops[i] > 0)
			return i;
	for (int i = (int)d + 1; i < DTYPE_COUNT_; i++)
		if (dev->peak_flops[i] > 0)
			return i;
	return -1;
}

/* eff(x) = eff_max * x / (x + half); eff_max <= 0 means "not given" = 1. */
static double cm_eff(double eff_max, double half, double x)
{
	if (!(eff_max > 0))
		eff_max = 1.0;
	if (!(half > 0))
		return eff_max;
	return eff_max * x / (x + half);
}

/* Roofline of one kernel (one launch) with the curves of dev. */
static double cm_datasheet_one(const struct ps_device *dev, ps_op op, double flops, double bytes, double peak)
{
	double tc = 0, tm = 0;
	if (flops > 0 && peak > 0) {
		double e;
		switch (op) {
		case OP_MATMUL_FWD:
		case OP_MATMUL_BWD:
			e = cm_eff(dev->matmul_eff_max, dev->matmul_half_flop, flops);
			break;
		case OP_ATTN_FWD:
		case OP_ATTN_BWD:
			e = cm_eff(dev->attn_eff_max, dev->matmul_half_flop, flops);
			break;
		default: /* memory-bound ops: the compute term is a size-independent safeguard */
			e = cm_eff(dev->matmul_eff_max, 0, flops);
			break;
		}
		tc = flops / (peak * e);
	}
	if (bytes > 0 && dev->mem_bw_Bps > 0)
		tm = bytes / (dev->mem_bw_Bps * cm_eff(dev->mem_eff_max, dev->mem_half_bytes, bytes));
	return dev->kernel_launch_s + (tc > tm ? tc : tm);
}

static double cm_datasheet_kernel_s(const struct ps_device *dev, ps_op op, const struct ps_shape *shape,
				    ps_dtype dtype)
{
	double flops = op_flops(op, shape);
	double bytes = op_bytes(op, shape, costmodel_dtype_bytes(dtype));
	if (!(flops > 0) || !isfinite(flops))
		flops = 0;
	if (!(bytes > 0) || !isfinite(bytes))
		bytes = 0;
	int pd = costmodel_dtype_fallback(dev, dtype);
	double peak = pd >= 0 ? dev->peak_flops[pd] : 0;
	if (op == OP_MATMUL_BWD) /* two GEMMs (dinp, dweight), each half the work */
		return 2 * cm_datasheet_one(dev, op, flops / 2, bytes / 2, peak);
	return cm_datasheet_one(dev, op, flops, bytes, peak);
}

ps_status costmodel_datasheet_alloc(const struct ps_device *dev, struct ps_costmodel **out)
{
	*out = NULL;
	if (!dev)
		return PS_ERROR(PS_ERR_INVALID, "cost model: no device");
	if (costmodel_dtype_fallback(dev, DTYPE_FP32) < 0)
		return PS_ERROR(PS_ERR_INVALID, "device %s: no peak_flops for any dtype", dev->name);
	if (!(dev->mem_bw_Bps > 0))
		return PS_ERROR(PS_ERR_INVALID, "device %s: memory_bandwidth must be positive", dev->name);
	struct ps_costmodel *cm = calloc(1, sizeof *cm);
	if (!cm)
		return PS_ERROR(PS_ERR_NOMEM, "cost model: out of memory");
	cm->source = CM_DATASHEET;
	cm->dev = *dev;
	*out = cm;
	return PS_OK;
}

ps_status costmodel_samples_alloc(const struct ps_kernel_sample *s, size_t n, struct ps_costmodel **out)
{
	*out = NULL;
	struct ps_costmodel *cm = calloc(1, sizeof *cm);
	if (!cm)
		return PS_ERROR(PS_ERR_NOMEM, "cost model: out of memory");
	cm->source = CM_PROFILE;
	cm->uid = cm_uid_new();
	ps_status rc = cm_profile_build(cm, s, n);
	if (rc != PS_OK) {
		costmodel_free(cm);
		return rc;
	}
	*out = cm;
	return PS_OK;
}

struct cm_collect {
	struct ps_kernel_sample *s;
	size_t n, cap;
	int nomem;
};

static int cm_collect_cb(const struct ps_kernel_sample *s, void *arg)
{
	struct cm_collect *c = arg;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 256;
		struct ps_kernel_sample *p = realloc(c->s, cap * sizeof *p);
		if (!p) {
			c->nomem = 1;
			return 1;
		}
		c->s = p;
		c->cap = cap;
	}
	c->s[c->n++] = *s;
	return 0;
}

ps_status costmodel_profile_alloc(struct ps_store *st, int64_t device_id, struct ps_costmodel **out)
{
	*out = NULL;
	struct cm_collect c = {0};
	ps_status rc = store_kernel_each(st, device_id, NULL, cm_collect_cb, &c);
	if (rc == PS_OK && c.nomem)
		rc = PS_ERROR(PS_ERR_NOMEM, "cost model: out of memory reading the profile");
	if (rc == PS_OK && c.n == 0)
		rc = PS_ERROR(PS_ERR_NOTFOUND, "device %lld has no kernel profile", (long long)device_id);
	if (rc == PS_OK)
		rc = costmodel_samples_alloc(c.s, c.n, out);
	free(c.s);
	return rc;
}

ps_status costmodel_device_alloc(struct ps_store *st, const struct ps_device *dev, struct ps_costmodel **out)
{
	*out = NULL;
	if (st && dev) {
		int64_t id = -1;
		ps_status rc = store_device_find(st, dev->name, &id);
		if (rc != PS_OK && rc != PS_ERR_NOTFOUND)
			return rc;
		if (rc == PS_ERR_NOTFOUND && costmodel_is_local(dev->name)) {
			rc = costmodel_local_alloc(st, 0, out);
			if (rc != PS_ERR_NOTFOUND)
				return rc;
		}
		ps_error_clear();
		if (rc == PS_OK)
			return costmodel_profile_alloc(st, id, out);
	}
	return costmodel_datasheet_alloc(dev, out);
}

int costmodel_is_local(const char *device_name)
{
	return strcmp(device_name, "local") == 0 || strcmp(device_name, "this-cpu") == 0;
}

ps_status costmodel_local_alloc(struct ps_store *st, int threads, struct ps_costmodel **out)
{
	*out = NULL;
	char fp[PROFILE_FINGERPRINT_MAX];
	int64_t id;
	ps_status rc = profile_fingerprint(NULL, threads, fp, sizeof fp, NULL);
	if (rc == PS_OK)
		rc = store_device_find(st, fp, &id);
	if (rc == PS_ERR_NOTFOUND && (threads == 1 || (threads <= 0 && profile_default_threads() == 1))) {
		/* A one-thread profile timed with the CPU clock (--clock cpu). */
		char fpc[PROFILE_FINGERPRINT_MAX];
		if (profile_fingerprint_clock(NULL, threads, 1, fpc, sizeof fpc, NULL) == PS_OK &&
		    store_device_find(st, fpc, &id) == PS_OK)
			rc = PS_OK;
	}
	if (rc == PS_ERR_NOTFOUND)
		return PS_ERROR(
		    PS_ERR_NOTFOUND,
		    "no kernel profile of this machine with %d threads (fingerprint %s): run `parasim "
		    "profile --threads %d`",
		    threads > 0 ? threads : profile_default_threads(), fp,
		    threads > 0 ? threads : profile_default_threads());
	if (rc != PS_OK)
		return rc;
	return costmodel_profile_alloc(st, id, out);
}

void costmodel_free(struct ps_costmodel *cm)
{
	if (!cm)
		return;
	cm_profile_fini(cm);
	free(cm);
}

double costmodel_kernel_s(const struct ps_costmodel *cm, ps_op op, const struct ps_shape *shape,
			  ps_dtype dtype)
{
	if (cm->source == CM_PROFILE)
		return cm_profile_kernel_s(cm, op, shape, dtype);
	return cm_datasheet_kernel_s(&cm->dev, op, shape, dtype);
}

const char *costmodel_source(const struct ps_costmodel *cm)
{
	return cm->source == CM_PROFILE ? "profile" : "datasheet";
}

ps_status costmodel_quality(const struct ps_costmodel *cm, ps_op op, struct ps_costmodel_quality *q)
{
	memset(q, 0, sizeof *q);
	if (cm->source != CM_PROFILE)
		return PS_ERROR(PS_ERR_UNSUPPORTED,
				"cost model: fit quality needs a profile, not a datasheet");
	return cm_profile_quality(cm, op, q);
}

void costmodel_peaks(const struct ps_costmodel *cm, double *flops_per_s, double *bytes_per_s)
{
	if (cm->source == CM_PROFILE) {
		*flops_per_s = cm->peak_flops_per_s;
		*bytes_per_s = cm->peak_bytes_per_s;
	} else {
		int pd = costmodel_dtype_fallback(&cm->dev, DTYPE_FP32);
		*flops_per_s = pd >= 0 ? cm->dev.peak_flops[pd] : 0;
		*bytes_per_s = cm->dev.mem_bw_Bps;
	}
}
