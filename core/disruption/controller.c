#include "disruption/controller.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/objutil.h"
#include "cluster/providers.h"
#include "disruption/candidate.h"
#include "disruption/consolidation.h"
#include "disruption/drift.h"
#include "disruption/pass.h"
#include "disruption/repair.h"
#include "kube/kutil.h"
#include "lifecycle/claim.h"
#include "metrics/metrics.h"
#include "provisioning/snapshot.h"
#include "termination/termination.h"
#include "util/arena.h"
#include "util/duration.h"
#include "util/log.h"

enum {
  PASS_MS = 10000,
  VALIDATE_MS = 15000,
  EVENTS_MS = 2000,
  POD_EVENT_DEDUP_MS = 5000,
  REPLACE_TIMEOUT_MS = 15 * 60 * 1000
};


typedef enum phase {
  IDLE = 0,
  COMPUTING,     /* a worker computes a decision */
  VALIDATING,    /* waiting 15 s, then recomputing on a worker */
  REPLACING      /* replacements launched, waiting for them */
} phase;

/* A decision, in names so it survives snapshots. */
typedef struct decision {
  nw_consolidation_method method;
  char **claims;          /* candidates' NodeClaim names */
  size_t n_claims;
  json_t *replacements;   /* NodeClaim objects to create */
  char **replacement_names;
  size_t n_replacements;
  double savings;
  char *reason;
  int64_t replaced_at;
  /* The state it was decided on, kept for validation on a later one. */
  nw__snapshot *snap;
  nw__disruption_decision pass;
} decision;

struct nw__disruption {
  nw__env *env;
  char *strategy;
  phase phase;
  decision *pending;      /* decided, being validated or executed */
  nw__timer *pass_timer;
  nw__timer *events_timer;
  int events_running;
  int closing;
  int inflight;
  uint64_t name_seq;
  /* Repair policies of each provider plugin (by plugin index), fetched
   * once on a worker; NULL until then. */
  nw_arena *policy_arena;
  nw_repair_policies *policies;
  size_t n_policies;
  int policies_requested;
  /* The count of changes that can open a disruption (relevant, below)
   * when the last pass that found nothing started, and when it ended:
   * until such a change, the cluster is only looked at again after
   * RECHECK_MS (time alone can make a node consolidatable). */
  uint64_t relevant;
  uint64_t idle_version;
  int64_t idle_since_ms;
  int spot_to_spot;
  /* Expiration and drift only change with a claim, its Node or its
   * NodePool, or with time (expiry): claims whose objects changed are
   * re-checked (names in drift_dirty), all of them when a NodePool or node
   * class changed or the earliest expiry is due. */
  json_t *drift_dirty;
  int drift_all;
  int64_t next_expiry_ms;
  /* Repair verdicts change with Nodes and claims, or with time while a
   * node is unhealthy. */
  int repair_dirty;
  /* Names of the Nodes that match a repair policy of some provider (once
   * the policies are known): while there are none, no pool has an
   * unhealthy node and repair has nothing to look at. */
  json_t *maybe_unhealthy;
  /* Decoded objects reused from pass to pass. */
  nw__snap_cache *cache;
  /* Claim names by status.nodeName (node -> {claim: true}), so a pod
   * event on a node whose claim is not found through the providerID
   * needs no scan of every claim.  It is complete only when every store
   * change so far has reached on_change: `delivered` counts them against
   * the store's version (a watcher called before this one may write
   * while a claim change has not reached us yet). */
  json_t *claims_by_node;
  uint64_t delivered;
};

enum { RECHECK_MS = 60000 };

static void release(nw__disruption *d);
static void schedule(nw__disruption *d, int64_t delay_ms);

static void ignore_done(void *arg, nw_status st, const json_t *res,
                        const char *msg) {
  (void)arg;
  (void)res;
  if (st != NW_OK && st != NW_ERR_NOT_FOUND)
    NW_WARN("disruption", "write failed: %s", msg ? msg : "");
}

static void decision_free(decision *x) {
  if (!x)
    return;
  for (size_t i = 0; i < x->n_claims; i++)
    free(x->claims[i]);
  for (size_t i = 0; i < x->n_replacements; i++)
    free(x->replacement_names[i]);
  free(x->claims);
  free(x->replacement_names);
  json_decref(x->replacements);
  free(x->reason);
  nw__snapshot_free(x->snap);
  free(x);
}

/* ---- expiration, drift, pod events ------------------------------------- */

/* A NodePool decoded once per expiration and drift pass. */
typedef struct pass_pool {
  const char *name;
  const json_t *obj;
  const nw__nodepool *pool;
  char hash[21];
  int hashed;
} pass_pool;

typedef struct drift_pass {
  nw__disruption *d;
  nw_arena *arena;       /* the pass's scratch: pools, labels */
  pass_pool *pools;
  size_t n_pools, cap_pools;
  int64_t now;
  int64_t next_expiry;   /* earliest expiry among the claims checked */
} drift_pass;

/* The claim's NodePool, decoded once per pass; NULL when absent or
 * invalid. */
static const pass_pool *pool_of(drift_pass *dp, const json_t *claim) {
  nw__env *env = dp->d->env;
  const char *p = nw__label(claim, "karpenter.sh/nodepool");
  if (!p)
    return NULL;
  for (size_t i = 0; i < dp->n_pools; i++) {
    if (strcmp(dp->pools[i].name, p) == 0)
      return dp->pools[i].pool ? &dp->pools[i] : NULL;
  }
  if (dp->n_pools == dp->cap_pools) {
    size_t cap = dp->cap_pools ? dp->cap_pools * 2 : 8;
    pass_pool *g = nw__arena_alloc(dp->arena, cap * sizeof(*g));
    if (!g)
      return NULL;
    if (dp->n_pools)
      memcpy(g, dp->pools, dp->n_pools * sizeof(*g));
    dp->pools = g;
    dp->cap_pools = cap;
  }
  pass_pool *pp = &dp->pools[dp->n_pools++];
  memset(pp, 0, sizeof(*pp));
  pp->name = nw__arena_strdup(dp->arena, p);
  pp->obj = nw__store_get(env->store, NW__K_NODEPOOL, NULL, p);
  nw_error err = {0};
  pp->pool = pp->obj ? nw__nodepool_decode(pp->obj, dp->arena, &err) : NULL;
  pp->hashed = pp->pool && nw__nodepool_hash(pp->obj, pp->hash, &err) == 0;
  return pp->pool ? pp : NULL;
}

/* Labels to check requirement drift against: the Node's, else the
 * claim's. */
static nw_labels labels_of(nw__env *env, const json_t *claim, nw_arena *a) {
  const char *pid = json_string_value(json_object_get(json_object_get(claim, "status"), "providerID"));
  const json_t *node = pid ? nw__store_by_provider_id(env->store, NW__K_NODE, pid) : NULL;
  const json_t *lab = json_object_get(json_object_get(node ? node : claim, "metadata"), "labels");
  nw_kv *kv = nw__arena_alloc(a, (json_object_size(lab) + 1) * sizeof(*kv));
  size_t n = 0;
  const char *k;
  json_t *v;
  /* Borrowed from the store: the pass uses them before anything changes. */
  json_object_foreach((json_t *)lab, k, v) {
    if (kv && json_is_string(v))
      kv[n++] = (nw_kv){k, json_string_value(v)};
  }
  return (nw_labels){n, kv};
}

static void mark_drifted(nw__env *env, const json_t *claim, nw__drift_kind kind,
                         const char *hash, int64_t now) {
  if (kind == NW__DRIFT_RESTAMP) {
    json_t *p = json_pack("{s:{s:{s:s, s:s}}}", "metadata", "annotations",
                          NW__ANN_NODEPOOL_HASH, hash, NW__ANN_NODEPOOL_HASH_VERSION,
                          NW__NODEPOOL_HASH_VERSION);
    env->ops->patch(env, NW__K_NODECLAIM, NULL, nw__obj_name(claim), p, 0, ignore_done, NULL);
    json_decref(p);
    return;
  }
  const char *drifted = nw__cond_status(claim, "Drifted");
  if (kind == NW__DRIFT_NONE || (drifted && strcmp(drifted, "True") == 0))
    return;
  json_t *st = nw__guarded(claim, json_pack("{s:{s:o}}", "status", "conditions",
                         nw__cond_with(claim, "Drifted", "True", nw__drift_reason(kind),
                                       "", now)));
  env->ops->patch(env, NW__K_NODECLAIM, NULL, nw__obj_name(claim), st, 1, ignore_done, NULL);
  json_decref(st);
}

/* Expiration (forceful, regardless of budgets) and drift marking of one
 * claim. */
static int expire_and_drift(void *user, json_t *claim) {
  drift_pass *dp = user;
  nw__env *env = dp->d->env;
  if (nw__obj_deleting(claim))
    return 0;
  const pass_pool *pp = pool_of(dp, claim);
  const nw__nodepool *pool = pp ? pp->pool : NULL;
  int64_t at = -1;
  if (nw__claim_expired(claim, pool, dp->now, &at)) {
    env->ops->event(env, claim, "Normal", "Expired", "expireAfter elapsed; deleting");
    nw__metric_add("nodeclaims_disrupted_total", "reason=expired", 1);
    env->ops->remove(env, NW__K_NODECLAIM, NULL, nw__obj_name(claim), ignore_done, NULL);
    return 0;
  }
  if (at >= 0 && at < dp->next_expiry)
    dp->next_expiry = at;
  if (pp && pp->hashed) {
    nw_labels labels = labels_of(env, claim, dp->arena);
    mark_drifted(env, claim, nw__claim_drift(claim, pool, pp->hash, &labels),
                 pp->hash, dp->now);
  }
  return 0;
}

/* Runs expiration and drift over the claims that need it: every claim
 * when a NodePool changed or an expiry is due, else the changed ones. */
static void expire_and_drift_pass(nw__disruption *d) {
  nw__env *env = d->env;
  drift_pass dp;
  memset(&dp, 0, sizeof(dp));
  dp.d = d;
  dp.arena = nw__arena_new();
  dp.now = env->ops->now_ms(env);
  dp.next_expiry = INT64_MAX;
  /* Writes below change the store and fire on_change, which marks the
   * written claims dirty again: take the set first. */
  json_t *dirty = d->drift_dirty;
  d->drift_dirty = json_object();
  if (d->drift_all || dp.now >= d->next_expiry_ms) {
    d->drift_all = 0;
    nw__store_foreach(env->store, NW__K_NODECLAIM, expire_and_drift, &dp);
    d->next_expiry_ms = dp.next_expiry;
  } else {
    const char *name;
    json_t *v;
    json_object_foreach(dirty, name, v) {
      json_t *claim = json_incref(nw__store_get(env->store, NW__K_NODECLAIM, NULL, name));
      if (claim)
        expire_and_drift(&dp, claim);
      json_decref(claim);
    }
    if (dp.next_expiry < d->next_expiry_ms)
      d->next_expiry_ms = dp.next_expiry;
  }
  json_decref(dirty);
  nw__arena_free(dp.arena);
}

static const char *claim_node_name(const json_t *claim) {
  return claim ? json_string_value(json_object_get(json_object_get(claim, "status"), "nodeName"))
               : NULL;
}

typedef struct by_node {
  const char *node;
  json_t *claim;
} by_node;

static int find_by_node(void *user, json_t *claim) {
  by_node *b = user;
  const char *n = claim_node_name(claim);
  if (n && strcmp(n, b->node) == 0) {
    b->claim = claim;
    return 1;
  }
  return 0;
}

static const char *provider_id_of(const json_t *obj, const char *part) {
  return json_string_value(json_object_get(json_object_get(obj, part), "providerID"));
}

/* Keeps claims_by_node in step with a claim change (o and n may be
 * NULL). */
static void index_claim(nw__disruption *d, const json_t *o, const json_t *n) {
  const char *before = claim_node_name(o), *after = claim_node_name(n);
  if (before && after && strcmp(before, after) == 0)
    return;
  if (before) {
    json_t *names = json_object_get(d->claims_by_node, before);
    json_object_del(names, nw__obj_name(o));
    if (json_object_size(names) == 0)
      json_object_del(d->claims_by_node, before);
  }
  if (after) {
    json_t *names = json_object_get(d->claims_by_node, after);
    if (!names) {
      names = json_object();
      json_object_set_new(d->claims_by_node, after, names);
    }
    json_object_set_new(names, nw__obj_name(n), json_true());
  }
}

static int index_existing(void *user, json_t *claim) {
  index_claim(user, NULL, claim);
  return 0;
}

/* The NodeClaim whose status.nodeName is `node`: through the Node's
 * providerID (an index), else through claims_by_node when it is
 * complete and names one claim, else by a scan (several claims name the
 * node: the first in store order wins). */
static json_t *claim_of_node(nw__disruption *d, const char *node) {
  nw__env *env = d->env;
  const json_t *n = nw__store_get(env->store, NW__K_NODE, NULL, node);
  const char *pid = n ? provider_id_of(n, "spec") : NULL;
  json_t *c = pid && *pid ? nw__store_by_provider_id(env->store, NW__K_NODECLAIM, pid) : NULL;
  const char *cn = claim_node_name(c);
  if (cn && strcmp(cn, node) == 0)
    return c;
  if (d->delivered == nw__store_version(env->store)) {
    const json_t *names = json_object_get(d->claims_by_node, node);
    if (json_object_size(names) == 0)
      return NULL;
    if (json_object_size(names) == 1)
      return nw__store_get(env->store, NW__K_NODECLAIM, NULL,
                           json_object_iter_key(json_object_iter((json_t *)names)));
  }
  by_node b = {node, NULL};
  nw__store_foreach(env->store, NW__K_NODECLAIM, find_by_node, &b);
  return b.claim;
}

/* A pod landed on or left a node: stamp the node's claim, at most every
 * few seconds (Karpenter dedupes the same way). */
static void pod_event(nw__disruption *d, const char *node) {
  nw__env *env = d->env;
  json_t *claim = claim_of_node(d, node);
  if (!claim)
    return;
  int64_t now = env->ops->now_ms(env);
  const char *last = json_string_value(json_object_get(json_object_get(claim, "status"), "lastPodEventTime"));
  if (last && now - nw__kube_parse_time(last) < POD_EVENT_DEDUP_MS)
    return;
  char ts[40];
  nw__rfc3339(now, ts, sizeof(ts));
  json_t *st = json_pack("{s:{s:s}}", "status", "lastPodEventTime", ts);
  env->ops->patch(env, NW__K_NODECLAIM, NULL, nw__obj_name(claim), st, 1, ignore_done, NULL);
  json_decref(st);
}

static const char *node_of(const json_t *pod) {
  return pod ? json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName")) : NULL;
}

/* A Node changed: its claim's drift needs a look (labels). */
static void node_changed(nw__disruption *d, const json_t *node) {
  const char *pid = node ? provider_id_of(node, "spec") : NULL;
  const json_t *c = pid && *pid ? nw__store_by_provider_id(d->env->store, NW__K_NODECLAIM, pid) : NULL;
  const char *name = c ? nw__obj_name(c) : NULL;
  if (name)
    json_object_set_new(d->drift_dirty, name, json_true());
}

static int same_member(const json_t *o, const json_t *n, const char *part,
                       const char *key) {
  return json_equal(json_object_get(json_object_get(o, part), key),
                    json_object_get(json_object_get(n, part), key));
}

/*
 * Whether a change can open a disruption that was not there before.
 * Karpenter looks again after any change; but a pod arriving, binding or
 * starting only takes room, and the claim's lastPodEventTime stamp only
 * postpones consolidation, so those do not count (in a busy cluster they
 * are nearly every change).  What leaves room (a pod gone, finished,
 * terminating or unbound), new capacity, and any change to Nodes, pools,
 * budgets or a claim's conditions, labels or annotations does.
 */
static int opens_disruption(nw__kind kind, const json_t *o, const json_t *n) {
  if (!o || !n)
    return kind != NW__K_POD || !n;
  switch (kind) {
  case NW__K_POD:
    return (node_of(o) && !node_of(n)) ||
           nw__obj_deleting(o) != nw__obj_deleting(n) ||
           !same_member(o, n, "status", "phase");
  case NW__K_NODECLAIM:
    return nw__obj_deleting(o) != nw__obj_deleting(n) ||
           !same_member(o, n, "status", "conditions") ||
           !same_member(o, n, "metadata", "labels") ||
           !same_member(o, n, "metadata", "annotations") ||
           !same_member(o, n, "status", "providerID") ||
           !same_member(o, n, "spec", "requirements");
  case NW__K_NODEPOOL:
    /* Budgets, policy and template live in the spec; status is ours. */
    return nw__obj_deleting(o) != nw__obj_deleting(n) ||
           !json_equal(json_object_get(o, "spec"), json_object_get(n, "spec"));
  default:
    return 1;
  }
}

/* Whether the Node matches a repair policy of any provider (the
 * policies of its own claim's provider are a subset). */
static int matches_any_policy(const nw__disruption *d, const json_t *node) {
  for (size_t i = 0; i < d->n_policies; i++) {
    if (nw__node_unhealthy(node, &d->policies[i], NULL) >= 0)
      return 1;
  }
  return 0;
}

/* Keeps maybe_unhealthy in step with a Node change (o and n may be
 * NULL); nothing before the policies are known. */
static void note_health(nw__disruption *d, const json_t *o, const json_t *n) {
  if (!d->policies)
    return;
  if (o)
    json_object_del(d->maybe_unhealthy, nw__obj_name(o));
  if (n && matches_any_policy(d, n))
    json_object_set_new(d->maybe_unhealthy, nw__obj_name(n), json_true());
}

static int note_existing_health(void *user, json_t *node) {
  note_health(user, NULL, node);
  return 0;
}

static void on_change(void *user, nw__kind kind, const json_t *o, const json_t *n) {
  nw__disruption *d = user;
  const char *name;
  d->delivered++;
  if (opens_disruption(kind, o, n))
    d->relevant++;
  switch (kind) {
  case NW__K_POD: {
    const char *before = node_of(o), *after = node_of(n);
    if (after && (!before || strcmp(before, after) != 0))
      pod_event(d, after);
    else if (before && !after)
      pod_event(d, before);
    return;
  }
  case NW__K_NODECLAIM:
    index_claim(d, o, n);
    name = n ? nw__obj_name(n) : NULL;
    if (name)
      json_object_set_new(d->drift_dirty, name, json_true());
    if (!o || !n)
      d->repair_dirty = 1;
    return;
  case NW__K_NODE:
    node_changed(d, n ? n : o);
    note_health(d, o, n);
    d->repair_dirty = 1;
    return;
  case NW__K_NODEPOOL:
    /* Status writes (resources, node count) change neither drift, nor
     * expiry, nor repair; the spec and the pool's presence do. */
    if (o && n && json_equal(json_object_get(o, "spec"), json_object_get(n, "spec")) &&
        nw__obj_deleting(o) == nw__obj_deleting(n))
      return;
    d->drift_all = 1;
    d->repair_dirty = 1;
    return;
  case NW__K_NODECLASS:
    d->drift_all = 1;
    d->repair_dirty = 1;
    return;
  default:
    return;
  }
}

/* ---- repair ------------------------------------------------------------ */

typedef struct policy_job {
  nw__disruption *d;
  nw_arena *arena;
  nw_repair_policies *policies;
  size_t n;
} policy_job;

static void policy_work(void *arg) {
  policy_job *j = arg;
  nw__plugin_set *set = j->d->env->plugins;
  j->n = nw__plugins_count(set);
  j->policies = nw__arena_alloc(j->arena, (j->n + 1) * sizeof(*j->policies));
  for (size_t i = 0; i < j->n; i++) {
    nw__plugin *p = nw__plugins_at(set, i);
    const nw_provider_vtable *vt = nw__plugin_provider(p);
    nw_error err = {0};
    if (vt && vt->repair_policies &&
        vt->repair_policies(nw__plugin_state(p), j->arena, &j->policies[i], &err) != NW_OK)
      j->policies[i] = (nw_repair_policies){0, NULL};
  }
}

static void policy_done(void *arg) {
  policy_job *j = arg;
  nw__disruption *d = j->d;
  d->inflight--;
  if (d->closing) {
    nw__arena_free(j->arena);
  } else {
    d->policy_arena = j->arena;
    d->policies = j->policies;
    d->n_policies = j->n;
    d->repair_dirty = 1;
    nw__store_foreach(d->env->store, NW__K_NODE, note_existing_health, d);
  }
  free(j);
  release(d);
}

static const nw_repair_policies *policies_for(nw__disruption *d, const json_t *claim) {
  nw__plugin *p = nw__provider_for_obj(d->env->plugins, claim);
  for (size_t i = 0; p && i < d->n_policies; i++) {
    if (nw__plugins_at(d->env->plugins, i) == p)
      return &d->policies[i];
  }
  return NULL;
}

typedef struct health {
  nw__disruption *d;
  const char *pool;
  size_t total, unhealthy;
  int act;               /* second pass: act on verdicts */
} health;

static int repair_visit(void *user, json_t *claim) {
  health *h = user;
  nw__disruption *d = h->d;
  nw__env *env = d->env;
  const char *pool = nw__label(claim, "karpenter.sh/nodepool");
  const char *pid = json_string_value(json_object_get(json_object_get(claim, "status"), "providerID"));
  if (!pool || strcmp(pool, h->pool) != 0 || !pid || nw__obj_deleting(claim))
    return 0;
  json_t *node = nw__store_by_provider_id(env->store, NW__K_NODE, pid);
  const nw_repair_policies *pol = policies_for(d, claim);
  if (!node || !pol || pol->len == 0)
    return 0;
  if (!h->act) {
    h->total++;
    if (nw__node_unhealthy(node, pol, NULL) >= 0)
      h->unhealthy++;
    return 0;
  }
  int64_t recheck = -1;
  nw__repair_verdict v = nw__repair_verdict_for(node, pol, h->unhealthy, h->total,
                                                env->ops->now_ms(env), &recheck);
  if (v == NW__REPAIR_NOW) {
    env->ops->event(env, claim, "Warning", "NodeRepair",
                    "the node matched a repair policy past its toleration; replacing it");
    nw__metric_add("nodeclaims_disrupted_total", "reason=repair", 1);
    env->ops->remove(env, NW__K_NODECLAIM, NULL, nw__obj_name(claim), ignore_done, NULL);
  } else if (v == NW__REPAIR_BLOCKED) {
    nw__metric_add("node_repair_blocked_total", NULL, 1);
  }
  return 0;
}

static int repair_pool(void *user, json_t *np) {
  nw__disruption *d = user;
  health h = {d, nw__obj_name(np), 0, 0, 0};
  nw__store_foreach(d->env->store, NW__K_NODECLAIM, repair_visit, &h);
  if (h.unhealthy == 0)
    return 0;
  /* Tolerations run out with time alone: look again next pass. */
  d->repair_dirty = 1;
  h.act = 1;
  nw__store_foreach(d->env->store, NW__K_NODECLAIM, repair_visit, &h);
  return 0;
}

/* Node repair: the provider's policies (e.g. Ready False/Unknown for
 * 10 min) replace a node, unless over 20 % of its pool is unhealthy. */
static void repair(nw__disruption *d) {
  nw__env *env = d->env;
  if (!d->policies_requested) {
    policy_job *j = calloc(1, sizeof(*j));
    j->d = d;
    j->arena = nw__arena_new();
    d->policies_requested = 1;
    d->inflight++;
    env->ops->submit(env, policy_work, policy_done, j);
    return;
  }
  /* Nothing changed and nothing was unhealthy: the verdicts stand. */
  if (!d->policies || !d->repair_dirty)
    return;
  d->repair_dirty = 0;
  if (json_object_size(d->maybe_unhealthy) == 0)
    return;
  nw__store_foreach(env->store, NW__K_NODEPOOL, repair_pool, d);
}

/* ---- interruption ------------------------------------------------------ */

typedef struct events_job {
  nw__disruption *d;
  nw__plugin *prov;
  nw_arena *arena;
  nw_provider_event *events;
  size_t n;
  nw_status st;
  nw_error err;
} events_job;

static void events_work(void *arg) {
  events_job *j = arg;
  const nw_provider_vtable *vt = nw__plugin_provider(j->prov);
  if (!vt->poll_events) {
    j->st = NW_ERR_UNSUPPORTED;
    return;
  }
  j->st = vt->poll_events(nw__plugin_state(j->prov), 0, 100, j->arena,
                          &j->events, &j->n, &j->err);
}

static void cordon(nw__env *env, const char *provider_id) {
  nw__taint_disrupted(env, nw__store_by_provider_id(env->store, NW__K_NODE, provider_id));
}

static const char *event_name(nw_event_kind k) {
  switch (k) {
  case NW_EVENT_SPOT_INTERRUPTION:
    return "SpotInterrupted";
  case NW_EVENT_REBALANCE_RECOMMENDATION:
    return "RebalanceRecommendation";
  case NW_EVENT_STATE_CHANGE:
    return "InstanceStateChange";
  case NW_EVENT_SCHEDULED_MAINTENANCE:
    return "ScheduledMaintenance";
  default:
    return "CapacityReservationInterrupted";
  }
}

static void handle_event(nw__disruption *d, const nw_provider_event *ev) {
  nw__env *env = d->env;
  if (!ev->provider_id)
    return;
  json_t *claim = json_incref(nw__store_by_provider_id(env->store, NW__K_NODECLAIM, ev->provider_id));
  if (!claim)
    return;
  char note[512];
  snprintf(note, sizeof(note), "%s%s%s", event_name(ev->kind),
           ev->detail ? ": " : "", ev->detail ? ev->detail : "");
  int act = ev->kind != NW_EVENT_REBALANCE_RECOMMENDATION;
  if (ev->kind == NW_EVENT_STATE_CHANGE && ev->state &&
      (strcmp(ev->state, "running") == 0 || strcmp(ev->state, "pending") == 0))
    act = 0;
  env->ops->event(env, claim, act ? "Warning" : "Normal", event_name(ev->kind), note);
  if (act && !nw__obj_deleting(claim)) {
    /* Cordon first so nothing new lands, then delete the claim: its pods
     * go pending at once and the provisioner launches their replacement
     * while termination drains. */
    cordon(env, ev->provider_id);
    env->ops->remove(env, NW__K_NODECLAIM, NULL, nw__obj_name(claim), ignore_done, NULL);
    char labels[64];
    snprintf(labels, sizeof(labels), "reason=%s", event_name(ev->kind));
    nw__metric_add("nodeclaims_disrupted_total", labels, 1);
  }
  json_decref(claim);
}

static void events_done(void *arg) {
  events_job *j = arg;
  nw__disruption *d = j->d;
  d->inflight--;
  d->events_running = 0;
  if (!d->closing && j->st == NW_OK) {
    for (size_t i = 0; i < j->n; i++)
      handle_event(d, &j->events[i]);
  }
  nw__arena_free(j->arena);
  free(j);
  release(d);
}

static void poll_events(void *arg) {
  nw__disruption *d = arg;
  nw__env *env = d->env;
  d->events_timer = env->ops->timer_start(env, EVENTS_MS, poll_events, d);
  if (d->events_running)
    return;
  for (size_t i = 0; i < nw__plugins_count(env->plugins); i++) {
    nw__plugin *p = nw__plugins_at(env->plugins, i);
    if (!nw__plugin_provider(p))
      continue;
    events_job *j = calloc(1, sizeof(*j));
    j->d = d;
    j->prov = p;
    j->arena = nw__arena_new();
    d->events_running = 1;
    d->inflight++;
    env->ops->submit(env, events_work, events_done, j);
    break;
  }
}

/* ---- consolidation ----------------------------------------------------- */

typedef struct compute_job {
  nw__disruption *d;
  nw__snapshot *snap;
  nw__plugin *strategy;
  decision *validate;     /* non-NULL: re-check this decision */
  decision *result;       /* what the worker decided */
  uint64_t version;       /* d->relevant when the snapshot was taken */
  /* The scheduler's own claims for the decision's pods (requirements that
   * carry the pods' zone, affinity and other constraints). */
  const nw__sched_result *replan;
  int still_valid;
  char error[512];
} compute_job;

static const char *const method_names[] = {"emptiness", "drift", "multi-node",
                                           "single-node"};


/* A replacement NodeClaim for the candidates' pool: the pool's template,
 * restricted to the cheaper options the strategy kept. */
static json_t *replacement_claim(compute_job *j, const nw__snap_pool *sp,
                                 const nw_replacement *r,
                                 const nw_requirements *sched_reqs,
                                 char **name_out) {
  char name[128];
  nw__claim_name(sp->pool->name,
                 j->d->name_seq++ ^ (uint64_t)j->snap->taken_ms << 16 ^ 0x5bd1e995u,
                 name, sizeof(name));
  json_t *types = json_array();
  for (size_t i = 0; i < r->n_instance_types; i++)
    json_array_append_new(types, json_string(r->instance_types[i]));
  /* The scheduler's requirements for these pods (pool AND pods), without
   * the instance-type and capacity-type choice the strategy narrowed; or,
   * without them, the pool's template. */
  json_t *reqs;
  if (sched_reqs) {
    json_t *all = nw__requirements_to_json(sched_reqs);
    reqs = json_array();
    size_t i;
    json_t *q;
    json_array_foreach(all, i, q) {
      const char *k = json_string_value(json_object_get(q, "key"));
      if (k && strcmp(k, "node.kubernetes.io/instance-type") != 0 &&
          !(r->capacity_type && strcmp(k, "karpenter.sh/capacity-type") == 0))
        json_array_append(reqs, q);
    }
    json_decref(all);
  } else {
    const json_t *tspec = json_object_get(
        json_object_get(json_object_get(sp->object, "spec"), "template"), "spec");
    reqs = json_deep_copy(json_object_get(tspec, "requirements"));
    if (!json_is_array(reqs)) {
      json_decref(reqs);
      reqs = json_array();
    }
  }
  json_array_append_new(reqs, json_pack("{s:s, s:s, s:o}", "key",
                                        "node.kubernetes.io/instance-type",
                                        "operator", "In", "values", types));
  if (r->capacity_type)
    json_array_append_new(reqs, json_pack("{s:s, s:s, s:[s]}", "key",
                                          "karpenter.sh/capacity-type", "operator",
                                          "In", "values", r->capacity_type));
  *name_out = strdup(name);
  return nw__claim_for_pool(sp, name, reqs, NULL, r->price);
}

static long snap_pool(const nw__snapshot *s, const char *name) {
  for (size_t i = 0; name && i < s->n_pools; i++) {
    if (strcmp(s->pools[i].pool->name, name) == 0)
      return (long)i;
  }
  return -1;
}

static decision *to_decision(compute_job *j, const nw__disruption_decision *dec) {
  nw__snapshot *s = j->snap;
  const nw_command *c = &dec->command;
  nw_consolidation_method m = dec->method;
  decision *x = calloc(1, sizeof(*x));
  x->method = m;
  x->pass = *dec;
  x->claims = calloc(c->n_candidates + 1, sizeof(char *));
  const char *pool = NULL;
  for (size_t i = 0; i < c->n_candidates; i++) {
    size_t node = dec->nodes[i];
    json_t *claim = s->claims[node];
    if (!claim)
      continue;
    x->claims[x->n_claims++] = strdup(nw__obj_name(claim));
    if (!pool)
      pool = nw__label(claim, "karpenter.sh/nodepool");
  }
  x->savings = c->savings_per_hour;
  x->replacements = json_array();
  long pi = snap_pool(s, pool);
  if (c->kind == NW_COMMAND_REPLACE && pi >= 0) {
    x->replacement_names = calloc(c->result.n_replacements + 1, sizeof(char *));
    for (size_t i = 0; i < c->result.n_replacements; i++) {
      char *name = NULL;
      json_array_append_new(x->replacements,
                            replacement_claim(j, &s->pools[pi], &c->result.replacements[i],
                                              j->replan && i < j->replan->n_claims
                                                  ? &j->replan->claims[i].requirements
                                                  : NULL,
                                              &name));
      x->replacement_names[x->n_replacements++] = name;
    }
  }
  char reason[512];
  if (c->kind == NW_COMMAND_DELETE)
    snprintf(reason, sizeof(reason), "%s: deleting %zu node%s, saving $%.4f/h%s%s",
             method_names[m], x->n_claims, x->n_claims == 1 ? "" : "s",
             x->savings, c->reason ? " — " : "", c->reason ? c->reason : "");
  else
    snprintf(reason, sizeof(reason), "%s: replacing %zu node%s with %zu, saving $%.4f/h%s%s",
             method_names[m], x->n_claims, x->n_claims == 1 ? "" : "s",
             x->n_replacements, x->savings, c->reason ? " — " : "",
             c->reason ? c->reason : "");
  x->reason = strdup(reason);
  return x;
}

/* On a worker: decide (the methods in order, through the strategy), or
 * validate the pending decision on the fresh snapshot. */
static void compute_work(void *arg) {
  compute_job *j = arg;
  nw__snapshot *s = j->snap;
  nw__snapshot_prepare_cached(s, j->d->env->plugins, j->d->cache);
  nw_error err = {0};
  nw__scheduler *sched = nw__scheduler_new(&s->input, &err);
  if (!sched) {
    snprintf(j->error, sizeof(j->error), "scheduler: %s", err.message);
    return;
  }
  uint8_t *nominated = nw__arena_alloc(s->arena, s->n_nodes + 1);
  nw__consolidation_state st = {&s->input, (const json_t *const *)s->claims,
                                nominated, s->n_pending, s->pending, s->pdbs,
                                s->taken_ms, NULL, s->claim_facts};
  /* The methods look at the same nodes: what does not depend on the
   * method is worked out once. */
  st.facts = nw__consolidation_facts_new(&st, s->arena);
  if (j->validate) {
    const char *why = NULL;
    j->still_valid = nw__disruption_validate(&j->validate->pass, &st, sched,
                                             s->arena, &why);
    if (!j->still_valid)
      snprintf(j->error, sizeof(j->error), "validation: %s", why ? why : "state changed");
  } else if (j->strategy) {
    nw__disruption_decision dec;
    if (nw__disruption_decide(&st, sched, j->strategy, j->d->spot_to_spot,
                              s->arena, &dec, &err) != 0)
      snprintf(j->error, sizeof(j->error), "strategy %s: %s",
               nw__plugin_descriptor(j->strategy)->name, err.message);
    else if (dec.found) {
      if (dec.command.kind == NW_COMMAND_REPLACE) {
        /* Re-plan the moved pods alone to learn the requirements of their
         * new claims; the strategy's result names only instance types. */
        nw__sched_opts o;
        memset(&o, 0, sizeof(o));
        o.n_removed = dec.command.n_candidates;
        o.removed = dec.nodes;
        o.max_new_claims = dec.command.result.n_replacements;
        j->replan = nw__scheduler_solve(sched, NULL, 0, &o, s->arena, &err);
      }
      j->result = to_decision(j, &dec);
    }
  }
  nw__scheduler_free(sched);
}

static void taint_candidates(nw__disruption *d, const decision *x) {
  nw__env *env = d->env;
  for (size_t i = 0; i < x->n_claims; i++) {
    json_t *c = nw__store_get(env->store, NW__K_NODECLAIM, NULL, x->claims[i]);
    const char *pid = c ? json_string_value(json_object_get(json_object_get(c, "status"), "providerID")) : NULL;
    if (pid)
      cordon(env, pid);
  }
}

static void delete_candidates(nw__disruption *d, const decision *x) {
  nw__env *env = d->env;
  for (size_t i = 0; i < x->n_claims; i++) {
    json_t *c = nw__store_get(env->store, NW__K_NODECLAIM, NULL, x->claims[i]);
    if (!c)
      continue;
    env->ops->event(env, c, "Normal", "DisruptionTerminating", x->reason);
    env->ops->remove(env, NW__K_NODECLAIM, NULL, x->claims[i], ignore_done, NULL);
  }
  char labels[64];
  snprintf(labels, sizeof(labels), "method=%s", method_names[x->method]);
  nw__metric_add("nodeclaims_disrupted_total", labels, (double)x->n_claims);
  nw__metric_add("consolidation_savings_usd_per_hour_total", NULL, x->savings);
  NW_INFO("disruption", "%s", x->reason);
}

static void execute(nw__disruption *d) {
  nw__env *env = d->env;
  decision *x = d->pending;
  taint_candidates(d, x);
  if (x->n_replacements == 0) {
    delete_candidates(d, x);
    decision_free(x);
    d->pending = NULL;
    d->phase = IDLE;
    schedule(d, 0);
    return;
  }
  for (size_t i = 0; i < x->n_replacements; i++)
    env->ops->create(env, NW__K_NODECLAIM, json_array_get(x->replacements, i),
                     ignore_done, NULL);
  json_t *first = nw__store_get(env->store, NW__K_NODECLAIM, NULL, x->claims[0]);
  if (first)
    env->ops->event(env, first, "Normal", "DisruptionLaunching", x->reason);
  x->replaced_at = env->ops->now_ms(env);
  d->phase = REPLACING;
  schedule(d, 1000);
}

/* Replacements Initialized: delete the candidates.  A replacement that
 * failed or timed out abandons the decision and untaints nothing: the
 * candidates' taint goes with them only when they are deleted, so the
 * next pass may pick them again. */
static void check_replacements(nw__disruption *d) {
  nw__env *env = d->env;
  decision *x = d->pending;
  size_t ready = 0;
  for (size_t i = 0; i < x->n_replacements; i++) {
    json_t *c = nw__store_get(env->store, NW__K_NODECLAIM, NULL, x->replacement_names[i]);
    const char *s = c ? nw__cond_status(c, "Initialized") : NULL;
    if (s && strcmp(s, "True") == 0)
      ready++;
  }
  if (ready == x->n_replacements) {
    delete_candidates(d, x);
  } else if (env->ops->now_ms(env) - x->replaced_at < REPLACE_TIMEOUT_MS) {
    schedule(d, 1000);
    return;
  } else {
    NW_WARN("disruption", "replacements not initialized in time; abandoning: %s", x->reason);
  }
  decision_free(x);
  d->pending = NULL;
  d->phase = IDLE;
  schedule(d, 0);
}

static void compute_done(void *arg) {
  compute_job *j = arg;
  nw__disruption *d = j->d;
  d->inflight--;
  if (d->closing) {
    decision_free(j->result);
    nw__snapshot_free(j->snap);
    free(j);
    release(d);
    return;
  }
  if (j->error[0])
    NW_WARN("disruption", "%s", j->error);
  if (j->validate) {
    if (j->still_valid) {
      execute(d);
    } else {
      NW_INFO("disruption", "decision no longer holds after validation: %s",
              d->pending->reason);
      decision_free(d->pending);
      d->pending = NULL;
      d->phase = IDLE;
      schedule(d, PASS_MS);
    }
  } else if (j->result) {
    d->pending = j->result;
    d->pending->snap = j->snap;
    j->snap = NULL;
    d->phase = VALIDATING;
    /* Karpenter waits before acting so a burst of pods can change its
     * mind; the same 15 s apply here (virtual in the simulator). */
    schedule(d, VALIDATE_MS);
  } else {
    d->phase = IDLE;
    d->idle_version = j->version;
    d->idle_since_ms = d->env->ops->now_ms(d->env);
    schedule(d, PASS_MS);
  }
  nw__snapshot_free(j->snap);
  free(j);
}

static void start_compute(nw__disruption *d, decision *validate) {
  nw__env *env = d->env;
  compute_job *j = calloc(1, sizeof(*j));
  j->d = d;
  j->version = d->relevant;
  j->snap = nw__snapshot_take_cached(env, d->cache);
  j->strategy = nw__plugins_find(env->plugins, d->strategy);
  if (j->strategy && !nw__plugin_strategy(j->strategy))
    j->strategy = NULL;
  j->validate = validate;
  d->inflight++;
  d->phase = COMPUTING;
  env->ops->submit(env, compute_work, compute_done, j);
}

static void pass(void *arg) {
  nw__disruption *d = arg;
  d->pass_timer = NULL;
  expire_and_drift_pass(d);
  repair(d);
  nw__env *env = d->env;
  switch (d->phase) {
  case IDLE:
    if (d->idle_since_ms && d->relevant == d->idle_version &&
        env->ops->now_ms(env) - d->idle_since_ms < RECHECK_MS) {
      schedule(d, PASS_MS);
      break;
    }
    start_compute(d, NULL);
    break;
  case VALIDATING:
    start_compute(d, d->pending);
    break;
  case REPLACING:
    check_replacements(d);
    break;
  case COMPUTING:
    break;
  }
}

static void schedule(nw__disruption *d, int64_t delay_ms) {
  nw__env *env = d->env;
  if (d->closing)
    return;
  if (d->pass_timer)
    env->ops->timer_stop(env, d->pass_timer);
  d->pass_timer = env->ops->timer_start(env, delay_ms, pass, d);
}

/* ---- lifetime ---------------------------------------------------------- */

nw__disruption *nw__disruption_new(nw__env *env, const char *strategy) {
  nw__disruption *d = calloc(1, sizeof(*d));
  if (!d)
    return NULL;
  d->env = env;
  d->strategy = strdup(strategy ? strategy : "default");
  /* Objects in the store before we watched it get their first look. */
  d->drift_dirty = json_object();
  d->drift_all = 1;
  d->next_expiry_ms = INT64_MAX;
  d->repair_dirty = 1;
  d->cache = nw__snap_cache_new(env);
  d->claims_by_node = json_object();
  d->maybe_unhealthy = json_object();
  nw__store_foreach(env->store, NW__K_NODECLAIM, index_existing, d);
  d->delivered = nw__store_version(env->store);
  nw__store_watch(env->store, on_change, d);
  schedule(d, PASS_MS);
  d->events_timer = env->ops->timer_start(env, EVENTS_MS, poll_events, d);
  return d;
}

void nw__disruption_set_spot_to_spot(nw__disruption *d, int on) {
  d->spot_to_spot = on;
}

void nw__disruption_trigger(nw__disruption *d) {
  if (d->phase == IDLE)
    schedule(d, 0);
}

static void release(nw__disruption *d) {
  if (!d->closing || d->inflight > 0)
    return;
  decision_free(d->pending);
  nw__arena_free(d->policy_arena);
  json_decref(d->drift_dirty);
  json_decref(d->claims_by_node);
  json_decref(d->maybe_unhealthy);
  nw__snap_cache_free(d->cache);
  free(d->strategy);
  free(d);
}

void nw__disruption_free(nw__disruption *d) {
  if (!d)
    return;
  nw__env *env = d->env;
  d->closing = 1;
  nw__store_unwatch(env->store, on_change, d);
  if (d->pass_timer)
    env->ops->timer_stop(env, d->pass_timer);
  if (d->events_timer)
    env->ops->timer_stop(env, d->events_timer);
  release(d);
}
