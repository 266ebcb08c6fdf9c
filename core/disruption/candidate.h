/*
 * Pure rules that decide whether a node may be a disruption candidate and
 * what disrupting it costs (Karpenter v1 pkg/controllers/disruption and
 * pkg/utils/disruption).  Objects are Kubernetes JSON (jansson), borrowed;
 * times are Unix milliseconds passed in by the caller (the host clock).
 */
#ifndef NW_DISRUPTION_CANDIDATE_H
#define NW_DISRUPTION_CANDIDATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <nodewright/types.h>

#include "model/objects.h"

/* NW__ANN_DO_NOT_DISRUPT and NW__ANN_POD_DELETION_COST come from
 * model/objects.h, whose pod decoder keeps their values. */

/*
 * Eviction cost of one pod, Karpenter's EvictionCost:
 *   1 + pod-deletion-cost / 2^27 + priority / 2^25, clamped to [-10, 10].
 * A malformed deletion cost is ignored (Karpenter logs and ignores it);
 * when err is non-NULL it receives a message naming the pod.
 */
double nw__pod_eviction_cost(const json_t *pod, nw_error *err);

/* The same for a decoded pod (core/model). */
double nw__model_pod_eviction_cost(const nw__pod *pod, nw_error *err);

/*
 * Fraction of the node's lifetime left, in [0, 1]: 1 when expire_after_ms
 * <= 0 (no expireAfter), else (expire_after - age) / expire_after.
 */
double nw__lifetime_remaining(int64_t created_ms, int64_t expire_after_ms,
                              int64_t now_ms);

/* A candidate's disruption cost: the sum of its reschedulable pods'
 * eviction costs times the lifetime remaining. */
double nw__disruption_cost(const json_t *const *pods, size_t n_pods,
                           double lifetime_remaining);

/*
 * Whether a pod's karpenter.sh/do-not-disrupt annotation blocks
 * disruption now:
 *  - "true": blocks; "false" or absent: does not;
 *  - a duration ("5m", "1h30m"): blocks until the pod's start
 *    (status.startTime, else metadata.creationTimestamp) plus that long;
 *  - anything else blocks (fail safe) and err says why.
 * Pods that finished (Succeeded, Failed) never block.  Returns 1 when
 * blocked; *until_ms (may be NULL) gets the end of a duration window, or
 * INT64_MAX when the block has no end, or 0 when not blocked.
 */
int nw__pod_do_not_disrupt(const json_t *pod, int64_t now_ms,
                           int64_t *until_ms, nw_error *err);

/* The same for a decoded pod; the model keeps no status.startTime, so a
 * duration counts from the pod's creation. */
int nw__model_pod_do_not_disrupt(const nw__pod *pod, int64_t now_ms,
                                 int64_t *until_ms, nw_error *err);

/* A Node or NodeClaim with karpenter.sh/do-not-disrupt (any value, as
 * Karpenter checks nodes) is not a candidate.  Returns 1 when blocked. */
int nw__object_do_not_disrupt(const json_t *obj);

/*
 * Whether PodDisruptionBudgets forbid evicting the pod now: a PDB in the
 * pod's namespace whose selector matches the pod's labels has
 * status.disruptionsAllowed == 0, or more than one PDB matches (the
 * eviction API refuses those).  `pdbs` is a JSON array of policy/v1 PDB
 * objects (borrowed).  Returns 1 when blocked and, if name is non-NULL,
 * points it at the blocking PDB's name (borrowed from pdbs).  A PDB with a
 * selector this code cannot read blocks (fail safe).
 */
int nw__pod_pdb_blocked(const json_t *pod, const json_t *pdbs,
                        const char **name);
int nw__model_pod_pdb_blocked(const nw__pod *pod, const json_t *pdbs,
                              const char **name);

/*
 * Karpenter's Consolidatable condition: a claim becomes consolidatable
 * consolidate_after_ms after its last pod event (or, with none, after it
 * became Initialized).  consolidate_after_ms < 0 means "Never".  Returns 1
 * when consolidatable at now_ms; otherwise 0 and *recheck_ms (may be NULL)
 * gets the milliseconds until it becomes so, or -1 for never.
 */
int nw__consolidatable(int64_t initialized_ms, int64_t last_pod_event_ms,
                       int64_t consolidate_after_ms, int64_t now_ms,
                       int64_t *recheck_ms);

/*
 * The same from a NodeClaim object: status.lastPodEventTime and the
 * lastTransitionTime of the Initialized condition (status True).  A claim
 * that is not Initialized is not consolidatable (recheck -1).
 */
/*
 * What the disruption controller reads of a NodeClaim, worked out once
 * per version of the claim (the snapshot cache keeps it with the claim's
 * private copy, so passes over an unchanged claim skip the JSON).
 */
typedef struct nw__claim_facts {
  int64_t created_ms;          /* nw__obj_created_ms */
  int64_t initialized_ms;      /* Initialized's lastTransitionTime when True, else -1 */
  int64_t last_pod_event_ms;   /* status.lastPodEventTime, -1 when absent */
  unsigned char initialized;   /* condition Initialized is True */
  unsigned char drifted;       /* condition Drifted is True */
  unsigned char deleting;      /* metadata.deletionTimestamp is set */
  unsigned char do_not_disrupt;  /* nw__object_do_not_disrupt */
} nw__claim_facts;

/* Fills *out from a claim (borrowed). */
void nw__claim_facts_of(const json_t *claim, nw__claim_facts *out);

/* nw__claim_consolidatable from a claim's facts. */
int nw__facts_consolidatable(const nw__claim_facts *f,
                             int64_t consolidate_after_ms, int64_t now_ms);

int nw__claim_consolidatable(const json_t *claim, int64_t consolidate_after_ms,
                             int64_t now_ms, int64_t *recheck_ms);

/* expireAfter: a claim created at created_ms expires at created +
 * expire_after (expire_after_ms < 0 = Never).  Returns 1 when expired and
 * sets *expires_at_ms (may be NULL; -1 for never). */
int nw__expired(int64_t created_ms, int64_t expire_after_ms, int64_t now_ms,
                int64_t *expires_at_ms);

#endif
