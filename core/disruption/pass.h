/*
 * One disruption pass, without the loop around it: the decision
 * (emptiness, drift, multi-node, single-node in order, the first method
 * with a command wins), its validation on a later state (Karpenter's 15 s
 * validation), and the two forceful or bookkeeping checks that need no
 * strategy: expiration and drift marking.  All pure functions of the
 * states passed in, so the daemon's controller and the simulator share
 * them and tests drive them on built states.  See docs/disruption.md.
 */
#ifndef NW_DISRUPTION_PASS_H
#define NW_DISRUPTION_PASS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <nodewright/strategy.h>

#include "disruption/consolidation.h"
#include "plugin/loader.h"

typedef struct nw__disruption_decision {
  int found;                   /* 0: nothing to do in this pass */
  nw_consolidation_method method;
  nw__candidate_set set;       /* the method's candidates */
  nw_command command;          /* command.candidates index set.items */
  const size_t *nodes;         /* state node index of each command candidate */
  size_t n_simulations;
} nw__disruption_decision;

/*
 * Runs the methods in order with the strategy plugin `strategy` (borrowed)
 * and stops at the first that returns a command.  `sched` is compiled
 * from st->sched (caller's).  `spot_to_spot` enables spot-to-spot
 * consolidation.  Results live in `arena`.  Returns 0 (out->found says
 * whether there is a command), or -1 with err when the strategy failed.
 */
int nw__disruption_decide(const nw__consolidation_state *st,
                          nw__scheduler *sched, nw__plugin *strategy,
                          int spot_to_spot, nw_arena *arena,
                          nw__disruption_decision *out, nw_error *err);

/*
 * Karpenter's validation, on a later state `st` (with its scheduler):
 * every node of the decision must still be a candidate of the same method
 * within its budget; then, except for emptiness, the same nodes are
 * simulated again and the decision must hold: every pod still fits; a
 * delete still needs no new node; a consolidation replace still needs
 * exactly one, and each of the old replacement's options is still an
 * option cheaper than the nodes' total price; a drift replace still fits.
 * `d` points into the first state's objects and arena (node names,
 * options): both must still be alive.  Returns 1 when valid; 0 when not,
 * with *why (allocated from `arena`) saying why.
 */
int nw__disruption_validate(const nw__disruption_decision *d,
                            const nw__consolidation_state *st,
                            nw__scheduler *sched, nw_arena *arena,
                            const char **why);

/*
 * Expiration (Karpenter v1, forceful): a claim expires at its creation
 * plus its spec.expireAfter ("Never" or absent: the NodePool's
 * expireAfter, as core/model decodes it; 0 = never).  Expired claims are
 * deleted regardless of budgets and do-not-disrupt; termination then
 * honours PDBs until terminationGracePeriod.  Returns 1 when the claim has
 * expired at now_ms; *expires_at_ms (may be NULL) gets when it does, or -1.
 */
int nw__claim_expired(const json_t *claim, const nw__nodepool *pool,
                      int64_t now_ms, int64_t *expires_at_ms);

typedef enum nw__drift_kind {
  NW__DRIFT_NONE = 0,
  NW__DRIFT_RESTAMP = 1,       /* stamped by another hash version: update */
  NW__DRIFT_NODEPOOL = 2,      /* NodePoolDrifted: template hash differs */
  NW__DRIFT_REQUIREMENTS = 3   /* RequirementsDrifted: labels no longer fit */
} nw__drift_kind;

/* "NodePoolDrifted", "RequirementsDrifted", or NULL. */
const char *nw__drift_reason(nw__drift_kind k);

/*
 * Static drift of one claim: its karpenter.sh/nodepool-hash against
 * `pool_hash` (nw__nodepool_hash of the pool), then the pool's
 * requirements against `labels` (the Node's, or the claim's when there is
 * no Node yet): a requirement on a label the node has must hold; one on a
 * label it lacks drifts unless the key is well known (Karpenter's
 * AllowUndefinedWellKnownLabels).  All borrowed.
 */
nw__drift_kind nw__claim_drift(const json_t *claim, const nw__nodepool *pool,
                               const char *pool_hash, const nw_labels *labels);

#endif
