/*
 * The scheduling simulation: where every pending pod goes and which new
 * nodes (NodeClaims) to launch, cheapest first, with kube-scheduler and
 * Karpenter v1 semantics.
 *
 * ## Use
 *
 *   nw__sched_input in = {...};          // cluster snapshot, borrowed
 *   nw__scheduler *s = nw__scheduler_new(&in, &err);
 *   nw__sched_result *r = nw__scheduler_solve(s, pods, n, NULL, arena, &err);
 *   ... r->placements[i], r->claims[j] ...
 *   nw__scheduler_free(s);
 *
 * nw__scheduler_new compiles the snapshot once (interned labels, dense
 * resource vectors, instance types sorted by price per pool, daemonset
 * overhead per pool and type, existing pods' topology counts).  Each solve
 * works on a copy-on-write overlay of that state, so the same scheduler
 * answers many questions cheaply; consolidation asks "without these nodes"
 * through nw__sched_opts.removed: those nodes disappear for the solve and
 * their pods are rescheduled with the pending ones (appended after them in
 * the result).  Nothing of one solve leaks into the next.
 *
 * ## Semantics (Karpenter v1, pkg/controllers/provisioning/scheduling)
 *
 *  - Pods are tried largest first — by value at the batch's resource
 *    prices, then cpu, memory, namespace/name — with cpu-heavy and
 *    memory-heavy pods interleaved so that each node's mix follows the
 *    memory/cpu ratio of the most cost-efficient type (the batch's excess
 *    of one resource is left for the last nodes, which then pick types
 *    rich in it, as the LP relaxation would).  Each pod goes to the first
 *    that fits of: existing nodes and in-flight claims (input order),
 *    claims opened earlier in this solve (creation order), a new claim
 *    from each NodePool by weight (descending, then name).
 *  - Fit on a node or claim: resources (requests incl. init containers,
 *    sidecars and overhead; allocatable minus daemonset overhead), taints
 *    (NoSchedule/NoExecute; PreferNoSchedule until relaxed; a pool's
 *    startupTaints ignored), host ports, node selector and node affinity
 *    (Karpenter's Compatible: undefined well-known labels allowed on
 *    claims), pod (anti-)affinity and topology spread over any key
 *    (minDomains, matchLabelKeys, node affinity/taints policies, inverse
 *    anti-affinity of running pods), volume topology (bound PV node
 *    affinity, WaitForFirstConsumer allowedTopologies).
 *  - Packing for cost: a claim stops accepting pods when no instance type
 *    within 5% of the best cost efficiency it started with would still
 *    fit (efficiency = value of a type's allocatable at the resource prices
 *    of the LP relaxation of the batch, over its cheapest price).  Karpenter
 *    fills a claim up to its largest type, which is often dearer per
 *    resource; the claim's options are still every type that fits.
 *  - Preferences are required until relaxed, one step per failed attempt,
 *    in Karpenter's order: drop the first required node-affinity OR term
 *    (when more remain), the heaviest preferred pod affinity term, the
 *    heaviest preferred anti-affinity term, the heaviest preferred node
 *    affinity term, a ScheduleAnyway spread, then tolerate PreferNoSchedule
 *    taints.  A pass over the queue that places nothing ends the solve.
 *  - A claim keeps every instance type of its pool that still fits all its
 *    pods (resources + the daemonsets that land on that type) and has an
 *    available offering compatible with its requirements; the result lists
 *    them cheapest first, truncated to max_options (60) unless minValues
 *    needs more.
 *  - NodePool limits are enforced as claims open: types whose capacity
 *    exceeds what is left are dropped, and each claim consumes the largest
 *    capacity among its options (Karpenter's pessimistic accounting).
 *  - DaemonSet and mirror (static) pods of removed nodes stay with their
 *    node: they are reported NONE with error "daemonset pod" / "static pod".
 *  - Same input, same result: no randomness, no hash-order dependence.
 *
 * Thread-safety: one solve at a time per scheduler; different schedulers
 * are independent.
 */
#ifndef NW_SCHEDULING_SCHEDULER_H
#define NW_SCHEDULING_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include <nodewright/types.h>

#include "model/objects.h"

/* A NodePool with the instance types its provider offers for it. */
typedef struct nw__sched_pool {
  const nw__nodepool *pool;          /* borrowed */
  nw_instance_types types;           /* borrowed (e.g. a catalog) */
  /* Optional (items NULL: all of `types`): the types of `types` that can
   * matter for this pool, as nw__scheduler_usable_types returns them;
   * only these are compiled.  Callers that price existing nodes still
   * look in `types`. */
  nw_instance_types usable;
  /* With `usable`: the requirement keys of every type of `types` (they
   * count as well-known labels, as when all types are compiled). */
  size_t n_type_keys;
  const char *const *type_keys;
} nw__sched_pool;

/* An existing node or an in-flight claim, with the pods bound to it. */
typedef struct nw__sched_node {
  const nw__node *node;              /* borrowed: labels, taints, allocatable */
  size_t n_pods;
  const nw__pod *const *pods;        /* borrowed; terminal pods are skipped */
  /* For an in-flight claim whose daemonset pods are not running yet: the
   * scheduler reserves the overhead of daemonsets that will land on it,
   * and ignores taints that go away once it is ready (the pool's
   * startupTaints, karpenter.sh/unregistered, node.kubernetes.io/not-ready
   * and /unreachable, node.cloudprovider.kubernetes.io/uninitialized). */
  int in_flight;
  /* Pool that owns it ("" or NULL: read label karpenter.sh/nodepool);
   * its capacity counts against that pool's limits. */
  const char *nodepool;
  double price;                      /* USD/h, for the caller's accounting */
} nw__sched_node;

typedef struct nw__sched_input {
  size_t n_pools;
  const nw__sched_pool *pools;
  size_t n_nodes;
  const nw__sched_node *nodes;
  size_t n_daemonsets;
  const nw__daemonset *const *daemonsets;
  size_t n_pvs;
  const nw__pv *const *pvs;
  size_t n_pvcs;
  const nw__pvc *const *pvcs;
  size_t n_storage_classes;
  const nw__storage_class *const *storage_classes;
  size_t n_namespaces;               /* for namespaceSelector; may be 0 */
  const nw__namespace *const *namespaces;
} nw__sched_input;

typedef struct nw__sched_opts {
  size_t n_removed;                  /* nodes (input indexes) to pretend gone */
  const size_t *removed;
  int no_new_claims;                 /* only existing capacity */
  /* Stop opening claims beyond this many (0 = unlimited); pods that would
   * need more are reported unschedulable.  Consolidation sets 1 or 2. */
  size_t max_new_claims;
  size_t max_options;                /* 0 = 60 */
  /* Place the pods in the caller's order instead of largest first.  The
   * kube-scheduler takes pods from its queue (priority, then arrival), not
   * by size: a simulated kube-scheduler that packed largest first, ties by
   * name, would give freed room to the same workloads every time. */
  int keep_order;
  /* Leave the unschedulable pods' error NULL: working out why a pod fits
   * nowhere places it once more, wasted on a caller that has reported it
   * already. */
  int no_errors;
} nw__sched_opts;

typedef enum nw__place_kind {
  NW__PLACE_NONE = 0,                /* unschedulable: see error */
  NW__PLACE_NODE = 1,                /* index = input node index */
  NW__PLACE_CLAIM = 2                /* index = result claim index */
} nw__place_kind;

typedef struct nw__sched_placement {
  const nw__pod *pod;                /* the caller's pod */
  nw__place_kind kind;
  size_t index;
  /* For NONE: why, per pool, worded like Karpenter's events
   * ('incompatible with nodepool "x", ...; ...').  NULL otherwise,
   * and with no_errors. */
  const char *error;
} nw__sched_placement;

typedef struct nw__sched_claim {
  size_t pool;                       /* index into input pools */
  const char *nodepool;
  const char *hostname;              /* placeholder, unique in the result */
  /* Pool requirements AND pod requirements AND instance-type In [options]
   * (strings owned by the result arena). */
  nw_requirements requirements;
  /* Pods' requests plus daemonset overhead of the cheapest option. */
  nw_resource_list requests;
  size_t n_options;                  /* cheapest first */
  const nw_instance_type *const *options;
  size_t n_options_total;            /* before truncation */
  /* The launch: cheapest available offering of the options. */
  const nw_instance_type *instance_type;
  const nw_offering *offering;
  double price;
  size_t n_pods;
  const size_t *pods;                /* indexes into result placements */
} nw__sched_claim;

typedef struct nw__sched_result {
  size_t n_placements;               /* pending pods, then removed nodes' pods */
  const nw__sched_placement *placements;
  size_t n_claims;
  const nw__sched_claim *claims;
  size_t n_scheduled;
  size_t n_unschedulable;
  double new_claims_price;           /* sum of claims' launch prices */
} nw__sched_result;

typedef struct nw__scheduler nw__scheduler;

/*
 * Compiles the snapshot.  Everything `in` points to is borrowed and must
 * outlive the scheduler.  Returns NULL with err filled on bad input (an
 * unknown resource beyond the scheduler's capacity, ...).
 */
nw__scheduler *nw__scheduler_new(const nw__sched_input *in, nw_error *err);
void nw__scheduler_free(nw__scheduler *s);

/*
 * Places `pods` (borrowed; unbound pending pods).  `opts` may be NULL.
 * The result and every string and array in it live in `arena` (the
 * caller's).  Returns NULL only on allocation failure or invalid options.
 */
nw__sched_result *nw__scheduler_solve(nw__scheduler *s,
                                      const nw__pod *const *pods, size_t n,
                                      const nw__sched_opts *opts,
                                      nw_arena *arena, nw_error *err);

/*
 * The types of `types` a scheduler compiled for `pool` keeps: those its
 * requirements (with its labels and name) intersect, with an available
 * offering they allow -- what nw__scheduler_new works out for every pool
 * on every call.  Into *out (positions in `types`, ascending) and *keys
 * (the distinct requirement keys of all of `types`, *n_keys of them), all
 * in `arena`.  Returns the count, or (size_t)-1 on failure.  Inputs
 * borrowed.
 */
size_t nw__scheduler_usable_types(const nw__nodepool *pool,
                                  const nw_instance_types *types,
                                  nw_arena *arena, size_t **out,
                                  const char ***keys, size_t *n_keys);

/* Allocatable of an instance type: capacity - kube_reserved -
 * system_reserved - eviction_threshold, for resource `name`. */
int64_t nw__instance_type_allocatable(const nw_instance_type *it,
                                      const char *name);

#endif
