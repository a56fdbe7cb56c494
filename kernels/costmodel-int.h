/* costmodel-int.h — private to kernels/costmodel.c and kernels/costmodel-fit.c:
 * the layout of struct ps_costmodel and the profile fitting machinery.
 * Nothing outside those two files includes it. */
#ifndef PS_COSTMODEL_INT_H
#define PS_COSTMODEL_INT_H

#include "costmodel.h"

#define CM_NFIELDS 11 /* M N K B T C NH KVH HS V n of struct ps_shape */

/* One measured point of a group: shape, its flops/bytes, its median time. */
struct cm_point {
	int64_t dim[CM_NFIELDS];
	double flops, bytes;
	double t_s;	      /* median seconds, > 0 */
	double resid;	      /* log(t) - log(fit) once the group is fitted */
	double x[CM_NFIELDS]; /* standardised log features (first nf used) */
};

/* The samples of one (op, dtype, variant) and their fit.  Points are owned
 * by the model (one array per model, groups point into it). */
struct cm_group {
	ps_op op;
	ps_dtype dtype;
	int variant;
	int elem_bytes; /* of dtype: bytes of a query are recomputed with it */
	int n;
	struct cm_point *pt;
	int nf;					/* number of varying shape fields (features) */
	int field[CM_NFIELDS];			/* which fields are features */
	int64_t lo[CM_NFIELDS], hi[CM_NFIELDS]; /* box of every field over the points */
	double xscale[CM_NFIELDS];		/* 1 / (log hi - log lo) of the features */
	double c[3];				/* t = c0 + c1 flops + c2 bytes, all >= 0 */
	double tmin_s;				/* smallest measured time, floor of the fit */
};

enum cm_source { CM_DATASHEET = 0, CM_PROFILE };

struct ps_costmodel {
	enum cm_source source;
	uint64_t uid;	      /* unique per model ever allocated (memo key) */
	struct ps_device dev; /* datasheet */
	/* profile */
	int ngroups;
	struct cm_group *groups;
	struct cm_point *points; /* all points, groups index into it */
	size_t npoints;
	double peak_flops_per_s; /* max flops/t over all points */
	double peak_bytes_per_s; /* max bytes/t over all points */
	double tmin_s;		 /* min t over all points (ops without data) */
};

/* costmodel-fit.c */
ps_status cm_profile_build(struct ps_costmodel *cm, const struct ps_kernel_sample *s, size_t n);
double cm_profile_kernel_s(const struct ps_costmodel *cm, ps_op op, const struct ps_shape *shape,
			   ps_dtype dtype);
ps_status cm_profile_quality(const struct ps_costmodel *cm, ps_op op, struct ps_costmodel_quality *q);
void cm_profile_fini(struct ps_costmodel *cm);
int cm_dtype_from_name(const char *name);
uint64_t cm_uid_new(void);

#endif
