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
 * model never reads measured *training* results. */
#ifndef PS_COSTMODEL_H
#define PS_COSTMODEL_H

#include "ops.h"
#include "scenario.h"
#include "status.h"

struct ps_costmodel;
struct ps_store;

ps_status costmodel_datasheet_alloc(const struct ps_device *dev, struct ps_costmodel **out);
ps_status costmodel_profile_alloc(struct ps_store *st, int64_t device_id, struct ps_costmodel **out);
void costmodel_free(struct ps_costmodel *cm);

/* Seconds for one call of op on shape in dtype. */
double costmodel_kernel_s(const struct ps_costmodel *cm, ps_op op, const struct ps_shape *shape, ps_dtype dtype);

/* "datasheet" or "profile". */
const char *costmodel_source(const struct ps_costmodel *cm);

#endif
