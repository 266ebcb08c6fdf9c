/*
 * Node repair (Karpenter v1 node.health controller): a managed node whose
 * condition matches one of its provider's repair policies (type and
 * status) for at least the policy's toleration is replaced -- its claim is
 * deleted forcefully (no budget, no pre-spun replacement; termination
 * gets the claim's termination timestamp so the drain does not wait).
 * A circuit breaker stops repairs in a NodePool where more than 20 % of
 * the nodes (rounded up, so one of three may be unhealthy) match a policy:
 * that is an outage replacing nodes will not fix.  Pure functions.
 */
#ifndef NW_DISRUPTION_REPAIR_H
#define NW_DISRUPTION_REPAIR_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <nodewright/types.h>

/* The annotation the repair sets on the claim before deleting it. */
#define NW__ANN_TERMINATION_TIMESTAMP "karpenter.sh/nodeclaim-termination-timestamp"

/*
 * Whether the Node (JSON, borrowed) matches a policy now.  Returns the
 * index of the matching policy whose repair time (condition
 * lastTransitionTime + toleration) comes first, or -1 when none matches;
 * *repair_at_ms (may be NULL) gets that time.
 */
long nw__node_unhealthy(const json_t *node, const nw_repair_policies *policies,
                        int64_t *repair_at_ms);

/* Karpenter's breaker: repairs may go on while at most 20 % of the pool's
 * `total` nodes, rounded up, are unhealthy. */
int nw__repair_allowed(size_t unhealthy, size_t total);

typedef enum nw__repair_verdict {
  NW__REPAIR_NONE = 0,     /* healthy */
  NW__REPAIR_WAIT = 1,     /* unhealthy, toleration not over: recheck */
  NW__REPAIR_NOW = 2,      /* replace it */
  NW__REPAIR_BLOCKED = 3   /* due, but the pool is over the 20 % line */
} nw__repair_verdict;

/*
 * The decision for one node of a pool in which `unhealthy` of `total`
 * nodes match a policy.  *recheck_ms (may be NULL) gets how long to wait
 * for WAIT, or -1.
 */
nw__repair_verdict nw__repair_verdict_for(const json_t *node,
                                          const nw_repair_policies *policies,
                                          size_t unhealthy, size_t total,
                                          int64_t now_ms, int64_t *recheck_ms);

#endif
