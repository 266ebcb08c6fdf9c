/*
 * The host side of consolidation: which nodes are candidates for a
 * method, within their pools' budgets, and the nw_simulate_fn a strategy
 * plugin calls, answered by the scheduling core ("where would the pods go
 * without these nodes?").  See docs/disruption.md.
 *
 * Single-threaded per state: the strategy's compute() calls simulate from
 * its own thread, one call at a time, during compute() only.
 */
#ifndef NW_DISRUPTION_CONSOLIDATION_H
#define NW_DISRUPTION_CONSOLIDATION_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <nodewright/strategy.h>

#include "disruption/budget.h"
#include "disruption/candidate.h"
#include "model/objects.h"
#include "scheduling/scheduler.h"

/* The cluster as the disruption controller sees it; everything borrowed. */
typedef struct nw__consolidation_state {
  /* Nodes (existing and in flight, with their pods) and NodePools with
   * their instance types: the scheduler's input. */
  const nw__sched_input *sched;
  /* Parallel to sched->nodes: each node's NodeClaim (JSON, as the store
   * holds it), or NULL for nodes nodewright does not manage. */
  const json_t *const *claims;
  /* Parallel to sched->nodes, may be NULL: non-zero for nodes the
   * provisioner just nominated pods to (never candidates). */
  const uint8_t *nominated;
  /* Pending pods: scheduled along with the candidates' pods, so capacity
   * they need is not consolidated away. */
  size_t n_pending;
  const nw__pod *const *pending;
  const json_t *pdbs;          /* policy/v1 PDB objects (array) or NULL */
  int64_t now_ms;
  /* Optional (NULL: none): per-node facts that do not depend on the
   * method (managed, pool, pods' blocks and eviction cost, price),
   * computed once and shared by the methods and the validation run on
   * this state; from nw__consolidation_facts_new. */
  struct nw__node_facts *facts;
  /* Optional (NULL: read the claims): parallel to claims, each claim's
   * facts (NULL where claims[i] is NULL), e.g. the snapshot's. */
  const nw__claim_facts *const *claim_facts;
} nw__consolidation_state;

/* An empty facts table for `st` (its sched->n_nodes), in `arena`; NULL
 * on OOM.  Valid as long as the state's inputs do not change. */
struct nw__node_facts *nw__consolidation_facts_new(
    const nw__consolidation_state *st, nw_arena *arena);

/* The candidates of one method, ready for nw_consolidation_input. */
typedef struct nw__candidate_set {
  size_t n;
  nw_candidate *items;         /* by disruption cost, ascending */
  size_t *node;                /* items[i] is sched->nodes[node[i]] */
  /* Why nodes were left out, for events and logs: one line per node that
   * is a managed, initialized node but not a candidate ("node x: pod a/b
   * has karpenter.sh/do-not-disrupt"); n_skipped lines. */
  size_t n_skipped;
  const char **skipped;
  /* A pool had candidates held back by its budget: the caller must not
   * mark the cluster consolidated (Karpenter's constrainedByBudgets). */
  int constrained_by_budget;
  /* Nodes being deleted (Node or claim), which every simulation removes
   * too; found once here rather than in each simulation. */
  size_t n_leaving;
  size_t *leaving;
} nw__candidate_set;

/*
 * Builds the candidates for `method` (Karpenter's GetCandidates with the
 * method's ShouldDisrupt, then its budget filter):
 *  - managed (a claim), Initialized, not deleting, not in flight, not
 *    nominated, no karpenter.sh/do-not-disrupt on the node or claim, no pod
 *    blocked by do-not-disrupt (incl. the duration form) or by a PDB;
 *  - emptiness: no reschedulable pods, policy WhenEmpty or
 *    WhenEmptyOrUnderutilized (or Balanced), consolidatable
 *    (consolidateAfter elapsed);
 *  - multi/single-node: policy WhenEmptyOrUnderutilized or Balanced,
 *    consolidatable;
 *  - drift: the claim's Drifted condition is True;
 *  - budgets: reason Empty / Underutilized / Drifted; for emptiness,
 *    multi-node and drift only the first `allowed` candidates of a pool
 *    (in cost order) stay, for single-node every candidate of a pool that
 *    allows at least one.
 * A pool whose budgets cannot be read allows nothing and its message is
 * added to `skipped`.  Results live in `arena`.  Returns 0, or -1 on
 * allocation failure.
 */
int nw__consolidation_candidates(const nw__consolidation_state *st,
                                 nw_consolidation_method method,
                                 nw_arena *arena, nw__candidate_set *out,
                                 nw_error *err);

/* The simulate callback's context: the state, its candidates and a
 * scheduler compiled from st->sched (owned by the caller). */
typedef struct nw__consolidation_sim {
  const nw__consolidation_state *st;
  const nw__candidate_set *cands;
  nw__scheduler *sched;
  size_t solves;               /* how many simulations ran */
} nw__consolidation_sim;

/*
 * nw_simulate_fn over the scheduling core: removes the candidates' nodes,
 * reschedules their pods together with the pending pods, and reports:
 * all_scheduled when every pod of the removed nodes found a place (on an
 * initialized node or a new claim; pending pods may stay pending, as in
 * Karpenter); one nw_replacement per new claim, with each option's
 * cheapest available offering compatible with the claim's requirements
 * (price and capacity type).  `ctx` is an nw__consolidation_sim.  Output
 * lives in `arena`.
 */
nw_status nw__consolidation_simulate(void *ctx, const size_t *idx, size_t n,
                                     nw_arena *arena, nw_sim_result *out);

/* The reason budgets use for a method. */
nw__disruption_reason nw__method_reason(nw_consolidation_method method);

#endif
