/* fold.h — classes of identical ranks, for folding the step graph
 * (fold.c says how they are found). */
#ifndef PS_FOLD_H
#define PS_FOLD_H

#include "graph.h"
#include "scenario.h"

/* Class of every rank of the layout st (class_of[global rank], classes
 * 0 .. *nclasses-1 numbered by their lowest rank): the coarsest partition
 * by (stage, slowdown[rank]) in which ranks of a class see the same
 * multiset of classes in each of their TP, CP, DP, DP x CP and pipeline
 * groups.  slowdown: per rank (NULL: all 1).  Returns a malloc'ed array
 * (the caller frees it), NULL when out of memory. */
int *fold_classes(const struct ps_strategy *st, const double *slowdown, int *nclasses);

/* Ranks of the instance of group kind k that rank r belongs to, in rank
 * order, into out (room for fold_group_max(st, k)); returns their count. */
int fold_group_members(const struct ps_strategy *st, int r, ps_group_kind k, int *out);
int fold_group_max(const struct ps_strategy *st, ps_group_kind k);

#endif
