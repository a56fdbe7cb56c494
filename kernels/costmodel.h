/* costmodel.h — the price of one kernel call on one device.
 *
 * Two sources behind one interface:
 *  - datasheet: peak FLOP/s and bandwidth with size-dependent efficiency
 *    curves from the device description (struct ps_device), roofline max of
 *    compute and memory time plus launch overhead;
 *  - profile: medians measured by `parasim profile` (or imported CSV),
 *    fitted per op with GSL (least squares in flops and bytes, log-space
 *    interpolation between profiled shapes, roofline outside the grid).
 * The simulator calls costmodel_kernel_s for every kernel task.  The cost
 * model never reads measured *training* results.  See doc/cost-model.md. */
#ifndef PS_COSTMODEL_H
#define PS_COSTMODEL_H

#include <stddef.h>

#include "ops.h"
#include "scenario.h"
#include "status.h"

struct ps_costmodel;
struct ps_store;
struct ps_kernel_sample;

ps_status costmodel_datasheet_alloc(const struct ps_device *dev, struct ps_costmodel **out);
ps_status costmodel_profile_alloc(struct ps_store *st, int64_t device_id, struct ps_costmodel **out);
void costmodel_free(struct ps_costmodel *cm);

/* Seconds for one call of op on shape in dtype.  Thread-safe (the model is
 * read only), allocates nothing, deterministic. */
double costmodel_kernel_s(const struct ps_costmodel *cm, ps_op op, const struct ps_shape *shape, ps_dtype dtype);

/* "datasheet" or "profile". */
const char *costmodel_source(const struct ps_costmodel *cm);

/* --- additions (helper "costmodel") --------------------------------- */

/* A profile model from n samples in memory (copied; the caller keeps s).
 * Samples with an unknown op or dtype name, or a non-positive median, are
 * PS_ERR_INVALID.  n may be 0 (every op then has no data, see below). */
ps_status costmodel_samples_alloc(const struct ps_kernel_sample *s, size_t n, struct ps_costmodel **out);

/* The model the simulator should use for a device: the stored profile whose
 * fingerprint equals dev->name (an imported profile, `parasim profile
 * --import FILE --device-name NAME`), or for the names of this machine
 * ("this-cpu", "local": costmodel_is_local) the measured profile of this
 * host at its default thread count; otherwise the datasheet curves of dev.
 * st may be NULL (datasheet). */
ps_status costmodel_device_alloc(struct ps_store *st, const struct ps_device *dev, struct ps_costmodel **out);
/* 1 if a device name means "this machine, as profiled". */
int costmodel_is_local(const char *device_name);
/* The measured profile of this machine with `threads` threads (0 = the
 * default count), e.g. 1 when each of 2 ranks gets one of 2 cores.
 * PS_ERR_NOTFOUND (saying which command to run) when it was not profiled. */
ps_status costmodel_local_alloc(struct ps_store *st, int threads, struct ps_costmodel **out);

/* Fit quality of one op's samples (profile models; PS_ERR_NOTFOUND when the
 * op has no samples, PS_ERR_UNSUPPORTED for datasheet models).  Relative
 * errors are |pred - meas| / meas.  The leave-one-out figures predict each
 * sample from a model built without it. */
struct ps_costmodel_quality {
	int n;                  /* samples of the op (all dtypes and variants) */
	double r2_log;          /* R^2 of log t of the least-squares fit alone */
	double fit_median_rel;  /* least-squares fit alone, in-sample */
	double fit_p90_rel;
	double loo_median_rel;  /* full model (interpolation + fit + roofline), leave-one-out */
	double loo_p90_rel;
	double loo_max_rel;
	double c0_s, c1_s_per_flop, c2_s_per_byte; /* fit of the largest (dtype, variant) group */
};
ps_status costmodel_quality(const struct ps_costmodel *cm, ps_op op, struct ps_costmodel_quality *q);

/* Measured peak rates of a profile model (max over all samples of
 * flops/t and bytes/t), the roofline used as a lower bound. */
void costmodel_peaks(const struct ps_costmodel *cm, double *flops_per_s, double *bytes_per_s);

/* Element size used for dtype d (4, 4, 2, 2, 1). */
int costmodel_dtype_bytes(ps_dtype d);

/* The dtype whose peak the datasheet path uses for d: d itself when its
 * peak is > 0, else the next wider supported one (fp8 -> fp16 -> bf16 ->
 * tf32 -> fp32), else the nearest narrower one.  -1 if none is supported. */
int costmodel_dtype_fallback(const struct ps_device *dev, ps_dtype d);

#endif
