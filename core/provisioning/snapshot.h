/*
 * A snapshot of the cluster for one scheduling pass: taken on the loop from
 * the store (decoded into an arena, so workers never touch the store),
 * then prepared on a worker (instance types from the providers, priced) into
 * the scheduler's input.  Shared by the provisioner and the disruption
 * controller so both see the cluster the same way.
 */
#ifndef NW_PROVISIONING_SNAPSHOT_H
#define NW_PROVISIONING_SNAPSHOT_H

#include <jansson.h>

#include "cluster/env.h"
#include "disruption/candidate.h"
#include "model/objects.h"
#include "scheduling/scheduler.h"

typedef struct nw__snap_pool {
  nw__nodepool *pool;
  nw__plugin *provider;
  const char *nodeclass_json;  /* NULL when the node class is absent */
  json_t *object;              /* the NodePool (a private copy) */
  char hash[21];               /* template hash, "" when not computable */
} nw__snap_pool;

struct nw__snap_chunk;

typedef struct nw__snapshot {
  nw_arena *arena;             /* owns the decoded objects not cached */
  /* Arenas of a cache (nw__snap_cache) holding the cached decoded
   * objects this snapshot uses; references released on free. */
  struct nw__snap_chunk **chunks;
  size_t n_chunks;
  int64_t taken_ms;
  nw__snap_pool *pools;
  size_t n_pools;
  /* Existing nodes, then in-flight claims (no Node yet). */
  nw__sched_node *nodes;
  size_t n_nodes;
  /* Parallel to nodes: the node's NodeClaim or NULL.  A private copy of
   * its apiVersion, kind and metadata only: read spec and status through
   * claim_facts.  Owned by the snapshot, or, when `claims_borrowed`,
   * borrowed from the cache's chunks the snapshot holds. */
  json_t **claims;
  int claims_borrowed;
  /* Parallel to nodes: what the disruption controller reads of each
   * claim (NULL where claims[i] is NULL). */
  const nw__claim_facts **claim_facts;
  const nw__pod **pending;     /* unschedulable pods */
  size_t n_pending;
  const nw__daemonset **ds;
  size_t n_ds;
  const nw__pv **pvs;
  size_t n_pvs;
  const nw__pvc **pvcs;
  size_t n_pvcs;
  const nw__storage_class **scs;
  size_t n_scs;
  json_t *pdbs;                /* array of PDB objects (private copies) */
  /* Filled by nw__snapshot_prepare: */
  nw__sched_pool *sched_pools; /* parallel to pools after dropping failures */
  nw__sched_input input;
  size_t n_types_total;
  char error[512];             /* the last pool that could not be priced */
} nw__snapshot;

/* On the loop: decodes what the controllers need from env->store.  Bad
 * objects are skipped with an event.  Caller frees. */
nw__snapshot *nw__snapshot_take(nw__env *env);

/*
 * The store's pods, Nodes and NodeClaims kept ready for snapshots: the
 * cache watches the store and keeps them in the lists a take hands out
 * (Nodes and their claims, claims without a Node, pending pods, each
 * node's bound pods), each in the store's order, so a take copies
 * pointers instead of walking the store.  What changed is decoded again
 * at the next take that uses it (the store replaces an object on every
 * change, never edits it in place).  Decoded objects are immutable and
 * shared by the snapshots that use them (each snapshot holds references
 * on their arenas), so a snapshot stays valid after the cache moves on or
 * is freed.  Also remembers each pool's usable instance types
 * (nw__snapshot_prepare_cached).  One cache per controller; used on the
 * loop only, except by nw__snapshot_prepare_cached.
 */
typedef struct nw__snap_cache nw__snap_cache;

/* A new cache over env->store (borrowed; must outlive the cache), seeded
 * from what the store holds and then fed by its watch until freed.  Owned
 * by the caller; NULL on OOM.  Should the store refuse another watcher,
 * takes walk the store as nw__snapshot_take. */
nw__snap_cache *nw__snap_cache_new(nw__env *env);
/* Stops watching and drops the cache's references; snapshots taken with
 * it stay valid.  NULL is fine. */
void nw__snap_cache_free(nw__snap_cache *c);

/* nw__snapshot_take from `c` (NULL: walks the store).  The same
 * snapshot, array for array. */
nw__snapshot *nw__snapshot_take_cached(nw__env *env, nw__snap_cache *c);

/* Decodes reused and decoded afresh by takes so far (for tests and
 * benchmarks). */
void nw__snap_cache_stats(const nw__snap_cache *c, size_t *reused,
                          size_t *decoded);
/* Usable-type lists reused and worked out by prepares so far. */
void nw__snap_cache_type_stats(const nw__snap_cache *c, size_t *reused,
                               size_t *computed);

/* On a worker: asks each pool's provider for instance types, prices them
 * and fills `input`.  Pools whose provider fails are dropped (error says
 * which).  Returns the number of pools left. */
size_t nw__snapshot_prepare(nw__snapshot *s, nw__plugin_set *plugins);

/*
 * nw__snapshot_prepare that also hands the scheduler each pool's usable
 * instance types (nw__scheduler_usable_types), remembered in `c` by the
 * pool's name and template and a fingerprint of the types (names,
 * requirements, offerings' zone, capacity type and availability): a new
 * catalog, a changed NodePool or an offering that became unavailable
 * (or priceless) works them out again.  Prices may change freely.  Runs
 * on a worker: the caller must not use `c` elsewhere meanwhile (one pass
 * at a time per cache).  c may be NULL.
 */
size_t nw__snapshot_prepare_cached(nw__snapshot *s, nw__plugin_set *plugins,
                                   nw__snap_cache *c);

void nw__snapshot_free(nw__snapshot *s);

/*
 * A karpenter.sh/v1 NodeClaim for pool `sp`: the template's labels,
 * annotations, nodeClassRef, taints, startupTaints, expireAfter and
 * terminationGracePeriod, the pool label, hash and owner, the termination
 * finalizer, and the given requirements (taken) and requests (taken; may
 * be NULL).  `price` < 0 leaves out the price annotation.  A new object.
 * Shared by the provisioner and the disruption controller's replacements.
 */
json_t *nw__claim_for_pool(const nw__snap_pool *sp, const char *name,
                           json_t *requirements, json_t *requests,
                           double price);

/* Karpenter's claim name, <pool>-<5 characters>, from `seed` (a counter
 * mixed with the clock, so names are unique across restarts and
 * deterministic in the simulator).  Into buf. */
void nw__claim_name(const char *pool, uint64_t seed, char *buf, size_t len);

/* Pending per the kube-scheduler: unbound, PodScheduled=False with reason
 * Unschedulable, not terminating, no scheduling gates. */
int nw__pod_pending(const json_t *pod);

#endif
