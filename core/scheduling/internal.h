/*
 * Private structures of core/scheduling shared by scheduler.c and
 * topology.c.  Not for use outside this folder.
 */
#ifndef NW_SCHEDULING_INTERNAL_H
#define NW_SCHEDULING_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "model/objects.h"
#include "scheduling/reqs.h"
#include "scheduling/scheduler.h"

/* Resources the scheduler tracks at once (cpu, memory, pods, ...). */
enum { NRES = 12 };

typedef struct rvec {
  int64_t v[NRES];
} rvec;

/* uint32 -> int32 counts, open addressing (key + 1 stored, 0 = empty). */
typedef struct cmap {
  uint32_t cap, n;
  uint32_t *keys;
  int32_t *vals;
} cmap;

int32_t nw__cmap_get(const cmap *m, uint32_t k);
void nw__cmap_add(nw_arena *a, cmap *m, uint32_t k, int32_t d);
cmap nw__cmap_clone(nw_arena *a, const cmap *m);
/* Iterate: for (i = 0; i < cap; i++) if (keys[i]) key = keys[i] - 1. */

typedef enum gtype { G_SPREAD = 0, G_AFFINITY = 1, G_ANTI = 2 } gtype;

/* A topology group: the pods a constraint counts, and where they are. */
typedef struct tgroup {
  uint32_t id;
  gtype type;
  uint32_t key;
  int is_host;
  nw__selector sel;            /* with matchLabelKeys folded in */
  const char *own_ns;          /* namespace of the owner when no list */
  int all_ns;
  size_t n_ns;
  const char *const *ns;
  nw__selector ns_sel;
  int32_t max_skew, min_domains;
  int filter_affinity;         /* nodeAffinityPolicy Honor and a filter */
  int filter_taints;           /* nodeTaintsPolicy Honor */
  const nw__pod *filter_pod;   /* whose selector/affinity/tolerations */
  nw__sreqs filter_reqs;       /* its nodeSelector AND first term */
  int counted;                 /* base counts computed */
  cmap base_match;             /* matching existing pods per domain */
  cmap base_owner;             /* anti: owners among existing pods */
} tgroup;

#endif
