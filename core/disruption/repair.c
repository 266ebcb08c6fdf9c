/*
 * Node repair decisions; see repair.h.
 */
#include "disruption/repair.h"

#include <string.h>

#include "cluster/objutil.h"

long nw__node_unhealthy(const json_t *node, const nw_repair_policies *policies,
                        int64_t *repair_at_ms) {
  long best = -1;
  int64_t best_at = 0;

  for (size_t i = 0; policies != NULL && i < policies->len; i++) {
    const nw_repair_policy *p = &policies->items[i];
    const char *status = nw__cond_status(node, p->condition_type);
    int64_t since, at;
    if (status == NULL || p->condition_status == NULL ||
        strcmp(status, p->condition_status) != 0)
      continue;
    since = nw__cond_time(node, p->condition_type);
    /* Without a transition time the condition's age is unknown; like
     * Karpenter (a zero time), count it from the epoch: tolerated out. */
    at = (since < 0 ? 0 : since) + p->toleration_s * 1000;
    if (best < 0 || at < best_at) {
      best = (long)i;
      best_at = at;
    }
  }
  if (repair_at_ms != NULL)
    *repair_at_ms = best >= 0 ? best_at : -1;
  return best;
}

int nw__repair_allowed(size_t unhealthy, size_t total) {
  /* 20 % rounded up, as Kubernetes rounds maxUnavailable. */
  size_t threshold = (total * 20 + 99) / 100;

  return unhealthy <= threshold;
}

nw__repair_verdict nw__repair_verdict_for(const json_t *node,
                                          const nw_repair_policies *policies,
                                          size_t unhealthy, size_t total,
                                          int64_t now_ms, int64_t *recheck_ms) {
  int64_t at;

  if (recheck_ms != NULL)
    *recheck_ms = -1;
  if (nw__node_unhealthy(node, policies, &at) < 0)
    return NW__REPAIR_NONE;
  if (now_ms < at) {
    if (recheck_ms != NULL)
      *recheck_ms = at - now_ms;
    return NW__REPAIR_WAIT;
  }
  return nw__repair_allowed(unhealthy, total) ? NW__REPAIR_NOW
                                               : NW__REPAIR_BLOCKED;
}
