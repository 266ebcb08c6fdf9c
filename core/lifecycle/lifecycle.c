#include "lifecycle/lifecycle.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/objutil.h"
#include "cluster/ordset.h"
#include "cluster/providers.h"
#include "lifecycle/claim.h"
#include "lifecycle/nodeclass.h"
#include "metrics/metrics.h"
#include "model/quantity.h"
#include "util/arena.h"
#include "util/log.h"

enum {
  RESYNC_MS = 10000,
  AGGREGATE_MS = 5000,
  GC_MS = 120000,
  LAUNCH_TTL_MS = 5 * 60 * 1000,
  REGISTER_TTL_MS = 15 * 60 * 1000,
  GC_GRACE_MS = 30000,
  MAX_BACKOFF_MS = 60000
};

#define UNREGISTERED_TAINT "karpenter.sh/unregistered"

/* A claim with work in flight, so a store change during the work does not
 * start it twice.  Also remembers launch retries. */
typedef struct busy {
  struct busy *next;
  struct busy *prev;
  char *name;
  int retries;
  int64_t not_before_ms;
  int launching;
  int registering;      /* the provider's registered() is submitted */
} busy;

struct nw__lifecycle {
  nw__env *env;
  nw__nodeclass_status *classes; /* node class status, ABI 1.2 providers */
  busy *busy;
  /* busy entries by name ({name: the entry's address as an integer}): in
   * a launch of 2,000 claims each one has an entry until it registers,
   * and finding entries by walking the list was quadratic. */
  json_t *busy_index;
  nw__timer *soon;      /* coalesces store changes into one pass */
  /* Claim names ({name: null}) a store change or a finished job made
   * worth a look at the next pass.  Passes look only at these; the resync
   * looks at the unsettled claims too (liveness deadlines, launch
   * retries), because reconciling 2,000 claims on every change of any of
   * them was half of a simulated day's CPU. */
  json_t *dirty;
  int all_dirty;
  /* The claims this controller may still have to act on without a change
   * of theirs: not deleting and not Initialized (Initialized ends its work
   * on a claim; deleting ones are termination's).  The resync looks only
   * at these: looking at all 2,000 claims of a settled cluster every
   * RESYNC_MS was a tenth of a simulation's CPU.  Kept from the store's
   * watch, so it is exact also after a relist. */
  nw__ordset *unsettled;
  /* What NodePool status and the cost gauge count, kept from the store's
   * watch (each claim change subtracts the old object's share and adds the
   * new one's) instead of a walk of every claim:
   * pool -> {"nodes": n, "resources": {name: sum}, "counts": {name: claims
   * with it}}, a pool and a resource present while a claim counts them. */
  json_t *pools;
  int64_t nano_usd;     /* launched, not deleting; integer, so exact */
  int64_t launched;
  /* NodePool status is written after a claim change that alters the
   * counts, at most once per AGGREGATE_MS. */
  int aggregates_due;
  int64_t aggregates_ms;  /* env time of the last NodePool status pass */
  nw__timer *aggregates;
  nw__timer *resync;
  nw__timer *gc;
  int gc_running;
  int closing;
  int inflight;         /* submitted jobs whose done has not run */
};

static void lifecycle_release(nw__lifecycle *l);

static busy *busy_find(nw__lifecycle *l, const char *name) {
  const json_t *at = json_object_get(l->busy_index, name);
  return at ? (busy *)(intptr_t)json_integer_value(at) : NULL;
}

static busy *busy_get(nw__lifecycle *l, const char *name) {
  busy *b = busy_find(l, name);
  if (b)
    return b;
  b = calloc(1, sizeof(*b));
  b->name = strdup(name);
  b->next = l->busy;
  if (b->next)
    b->next->prev = b;
  l->busy = b;
  json_object_set_new(l->busy_index, name, json_integer((json_int_t)(intptr_t)b));
  return b;
}

static void busy_drop(nw__lifecycle *l, const char *name) {
  busy *b = busy_find(l, name);
  if (!b)
    return;
  if (b->prev)
    b->prev->next = b->next;
  else
    l->busy = b->next;
  if (b->next)
    b->next->prev = b->prev;
  json_object_del(l->busy_index, name);
  free(b->name);
  free(b);
}

static void schedule_pass(nw__lifecycle *l);

/* Queues a claim for the next pass. */
static void mark_claim(nw__lifecycle *l, const char *name) {
  if (!name || !l->dirty)
    return;
  json_object_set_new(l->dirty, name, json_null());
  schedule_pass(l);
}

/* ---- launch ------------------------------------------------------------ */

typedef struct launch {
  nw__lifecycle *l;
  char *name;
  nw__plugin *prov;
  nw_arena *arena;
  nw_node_claim *claim;
  nw_status st;
  nw_error err;
  json_t *status;       /* built on the worker */
  json_t *labels;
} launch;

static double seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void launch_work(void *arg) {
  launch *w = arg;
  const nw_provider_vtable *vt = nw__plugin_provider(w->prov);
  nw_node_instance inst;
  memset(&inst, 0, sizeof(inst));
  double t0 = seconds_now();
  w->st = vt->create(nw__plugin_state(w->prov), w->claim, w->arena, &inst,
                     &w->err);
  char labels[128];
  snprintf(labels, sizeof(labels), "provider=%s,call=create",
           nw__plugin_descriptor(w->prov)->name);
  nw__metric_observe("provider_call_duration_seconds", labels, seconds_now() - t0);
  if (w->st == NW_OK) {
    w->status = nw__claim_status_from_instance(&inst);
    w->labels = nw__claim_labels_from_instance(&inst);
  }
}

static void ignore_done(void *arg, nw_status st, const json_t *res,
                        const char *msg) {
  (void)arg;
  (void)res;
  /* A conflict means another write won; the next pass recomputes from
   * the newer object, so it is routine, not a warning. */
  if (st != NW_OK && st != NW_ERR_NOT_FOUND) {
    if (msg && strstr(msg, "409"))
      NW_DEBUG("lifecycle", "write retried later: %s", msg);
    else
      NW_WARN("lifecycle", "write failed: %s", msg ? msg : "");
  }
}

/* The labels a launch adds to its claim, written after its status. */
typedef struct labels_after {
  nw__env *env;
  char *name;
  json_t *labels;
} labels_after;

static void status_landed(void *arg, nw_status st, const json_t *res,
                          const char *msg) {
  labels_after *la = arg;
  ignore_done(NULL, st, res, msg);
  if (st == NW_OK) {
    json_t *meta = json_pack("{s:{s:O}}", "metadata", "labels", la->labels);
    la->env->ops->patch(la->env, NW__K_NODECLAIM, NULL, la->name, meta, 0,
                        ignore_done, NULL);
    json_decref(meta);
  }
  json_decref(la->labels);
  free(la->name);
  free(la);
}

static void launch_done(void *arg) {
  launch *w = arg;
  nw__lifecycle *l = w->l;
  nw__env *env = l->env;
  l->inflight--;
  if (l->closing) {
    /* Shutting down: the instance stays; a restarted daemon adopts or
     * collects it from the provider's list. */
    json_decref(w->status);
    json_decref(w->labels);
    nw__arena_free(w->arena);
    free(w->name);
    free(w);
    lifecycle_release(l);
    return;
  }
  json_t *claim = nw__store_get(env->store, NW__K_NODECLAIM, NULL, w->name);
  busy *b = busy_get(l, w->name);
  b->launching = 0;
  if (!claim) {
    /* Deleted while launching: GC will remove the instance. */
  } else if (w->st == NW_OK) {
    /* Everything read from `claim` first: a write may replace it. */
    env->ops->event(env, claim, "Normal", "Launched", "launched the instance");
    json_object_set_new(w->status, "conditions",
                        nw__cond_with(claim, "Launched", "True", "Launched", "",
                                      env->ops->now_ms(env)));
    /* Status first, guarded by the claim's resourceVersion; the labels
     * follow once it landed, so the label write cannot make the guarded
     * status write conflict. */
    labels_after *la = calloc(1, sizeof(*la));
    la->env = env;
    la->name = strdup(w->name);
    la->labels = json_incref(w->labels);
    json_t *st = nw__guarded(claim, json_pack("{s:O}", "status", w->status));
    env->ops->patch(env, NW__K_NODECLAIM, NULL, w->name, st, 1, status_landed, la);
    json_decref(st);
    nw__metric_add("nodeclaims_launched_total", NULL, 1);
    /* Until the store shows Launched, do not launch again: create is
     * idempotent, but relaunching on every store change while the status
     * write is queued would spin. */
    b->not_before_ms = env->ops->now_ms(env) + 30000;
  } else if (w->st == NW_ERR_INSUFFICIENT_CAPACITY) {
    /* The provider has marked the offering unavailable; deleting the claim
     * sends its pods back to the provisioner, which picks another one. */
    env->ops->event(env, claim, "Warning", "InsufficientCapacityError",
                    w->err.message);
    env->ops->remove(env, NW__K_NODECLAIM, NULL, w->name, ignore_done, NULL);
    nw__metric_add("nodeclaims_terminated_total", "reason=insufficient_capacity", 1);
    busy_drop(l, w->name);
  } else {
    b->retries++;
    int64_t delay = 1000LL << (b->retries < 6 ? b->retries : 6);
    b->not_before_ms = env->ops->now_ms(env) + (delay < MAX_BACKOFF_MS ? delay : MAX_BACKOFF_MS);
    env->ops->event(env, claim, "Warning", "LaunchFailed", w->err.message);
    NW_WARN("lifecycle", "launch of %s failed (retry %d): %s", w->name,
            b->retries, w->err.message);
    nw__metric_add("provider_errors_total", "call=create", 1);
  }
  mark_claim(l, w->name);
  json_decref(w->status);
  json_decref(w->labels);
  nw__arena_free(w->arena);
  free(w->name);
  free(w);
}

static const json_t *node_class_of(nw__env *env, const json_t *claim) {
  const char *n = json_string_value(json_object_get(
      json_object_get(json_object_get(claim, "spec"), "nodeClassRef"), "name"));
  return n ? nw__store_get(env->store, NW__K_NODECLASS, NULL, n) : NULL;
}

/* prov: the provider serving the claim's node class (borrowed). */
static void start_launch(nw__lifecycle *l, nw__plugin *prov, const json_t *claim,
                         const char *name) {
  nw__env *env = l->env;
  busy *b = busy_get(l, name);
  if (b->launching || env->ops->now_ms(env) < b->not_before_ms)
    return;
  launch *w = calloc(1, sizeof(*w));
  w->l = l;
  w->name = strdup(name);
  w->prov = prov;
  w->arena = nw__arena_new();
  w->claim = nw__claim_decode(claim, node_class_of(env, claim), w->arena, &w->err);
  if (!w->claim) {
    env->ops->event(env, claim, "Warning", "InvalidNodeClaim", w->err.message);
    nw__arena_free(w->arena);
    free(w->name);
    free(w);
    return;
  }
  b->launching = 1;
  l->inflight++;
  env->ops->submit(env, launch_work, launch_done, w);
}

/* ---- registration and initialization ---------------------------------- */

/* Taints the Node should carry: the claim's taints and startup taints,
 * minus karpenter.sh/unregistered, plus what the Node already has. */
static json_t *merged_taints(const json_t *node, const json_t *claim) {
  json_t *out = json_array();
  const json_t *have = json_object_get(json_object_get(node, "spec"), "taints");
  size_t i;
  const json_t *t;
  json_array_foreach(have, i, t) {
    const char *k = json_string_value(json_object_get(t, "key"));
    if (k && strcmp(k, UNREGISTERED_TAINT) != 0)
      json_array_append_new(out, json_deep_copy(t));
  }
  const char *fields[] = {"taints", "startupTaints"};
  for (int f = 0; f < 2; f++) {
    const json_t *want = json_object_get(json_object_get(claim, "spec"), fields[f]);
    json_array_foreach(want, i, t) {
      const char *k = json_string_value(json_object_get(t, "key"));
      if (k && !nw__has_taint(node, k))
        json_array_append_new(out, json_deep_copy(t));
    }
  }
  return out;
}

/* ---- the provider's registered() (ABI 1.2) ----------------------------- */

typedef struct reg_job {
  nw__lifecycle *l;
  nw__plugin *prov;
  char *provider_id;
  char *claim;
  char *node;
  nw_status st;
  nw_error err;
} reg_job;

static void registered_work(void *arg) {
  reg_job *j = arg;
  const nw_provider_vtable *vt = nw__plugin_provider(j->prov);
  j->st = vt->registered(nw__plugin_state(j->prov), j->provider_id, j->claim,
                         j->node, &j->err);
}

static void registered_done(void *arg) {
  reg_job *j = arg;
  nw__lifecycle *l = j->l;
  l->inflight--;
  if (j->st != NW_OK && j->st != NW_ERR_NOT_FOUND) {
    NW_WARN("lifecycle", "provider registered(%s, %s): %s", j->claim, j->node,
            j->err.message);
    nw__metric_add("provider_errors_total", "call=registered", 1);
  }
  free(j->provider_id);
  free(j->claim);
  free(j->node);
  free(j);
  lifecycle_release(l);
}

/* Tells the provider (when it implements registered()) which Node the
 * claim's instance became, once per registration: until the store shows
 * the claim Registered, passes would register it again. */
static void notify_registered(nw__lifecycle *l, const json_t *claim,
                              const char *pid, const char *node_name) {
  nw__env *env = l->env;
  nw__plugin *prov = nw__provider_for_obj(env->plugins, claim);
  const nw_provider_vtable *vt = prov ? nw__plugin_provider(prov) : NULL;
  busy *b = busy_get(l, nw__obj_name(claim));
  if (!vt || !vt->registered || b->registering)
    return;
  b->registering = 1;
  reg_job *j = calloc(1, sizeof(*j));
  j->l = l;
  j->prov = prov;
  j->provider_id = strdup(pid);
  j->claim = strdup(nw__obj_name(claim));
  j->node = strdup(node_name);
  l->inflight++;
  env->ops->submit(env, registered_work, registered_done, j);
}

static void register_node(nw__lifecycle *l, const json_t *claim,
                          const json_t *node) {
  nw__env *env = l->env;
  const char *claim_name = nw__obj_name(claim);
  const char *node_name = nw__obj_name(node);
  json_t *labels = json_deep_copy(json_object_get(json_object_get(claim, "metadata"), "labels"));
  if (!labels)
    labels = json_object();
  json_object_set_new(labels, "karpenter.sh/registered", json_string("true"));
  json_t *patch = json_pack("{s:{s:o}, s:{s:o}}", "metadata", "labels", labels,
                            "spec", "taints", merged_taints(node, claim));
  const char *pid = json_string_value(
      json_object_get(json_object_get(claim, "status"), "providerID"));
  if (pid)
    notify_registered(l, claim, pid, node_name);
  env->ops->patch(env, NW__K_NODE, NULL, node_name, patch, 0, ignore_done, NULL);
  json_decref(patch);
  json_t *st = nw__guarded(claim, json_pack("{s:{s:s, s:o}}", "status", "nodeName", node_name,
                         "conditions",
                         nw__cond_with(claim, "Registered", "True", "Registered",
                                       "", env->ops->now_ms(env))));
  env->ops->patch(env, NW__K_NODECLAIM, NULL, claim_name, st, 1, ignore_done, NULL);
  json_decref(st);
  nw__metric_add("nodeclaims_registered_total", NULL, 1);
}

static int node_ready(const json_t *node) {
  const char *s = nw__cond_status(node, "Ready");
  return s && strcmp(s, "True") == 0;
}

/* Initialized: Ready, no startup taint left, no unregistered taint. */
static int node_initialized(const json_t *node, const json_t *claim) {
  if (!node_ready(node) || nw__has_taint(node, UNREGISTERED_TAINT))
    return 0;
  const json_t *st = json_object_get(json_object_get(claim, "spec"), "startupTaints");
  size_t i;
  const json_t *t;
  json_array_foreach(st, i, t) {
    const char *k = json_string_value(json_object_get(t, "key"));
    if (k && nw__has_taint(node, k))
      return 0;
  }
  return 1;
}

static void initialize(nw__lifecycle *l, const json_t *claim, const json_t *node) {
  nw__env *env = l->env;
  /* The claim is the caller's held reference; the node may be replaced by
   * the patch below, so it is read first. */
  json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "labels",
                            "karpenter.sh/initialized", "true");
  env->ops->patch(env, NW__K_NODE, NULL, nw__obj_name(node), patch, 0, ignore_done, NULL);
  json_decref(patch);
  env->ops->event(env, claim, "Normal", "Initialized", "node is ready");
  /* Ready is Karpenter's root condition: Launched, Registered and
   * Initialized all True; kubectl's READY column shows it. */
  int64_t now = env->ops->now_ms(env);
  json_t *tmp = json_pack("{s:{s:o}}", "status", "conditions",
                          nw__cond_with(claim, "Initialized", "True", "Initialized", "", now));
  json_t *st = nw__guarded(claim, json_pack("{s:{s:o}}", "status", "conditions",
                         nw__cond_with(tmp, "Ready", "True", "Ready", "", now)));
  json_decref(tmp);
  env->ops->patch(env, NW__K_NODECLAIM, NULL, nw__obj_name(claim), st, 1, ignore_done, NULL);
  json_decref(st);
  nw__metric_add("nodeclaims_initialized_total", NULL, 1);
}

static int is_true(const json_t *obj, const char *cond) {
  const char *s = nw__cond_status(obj, cond);
  return s && strcmp(s, "True") == 0;
}

/* ---- the pass ---------------------------------------------------------- */

static void reconcile_registered(nw__lifecycle *l, json_t *claim, json_t *node,
                                 const char *name, int64_t now);

static int reconcile_claim(void *user, json_t *claim) {
  nw__lifecycle *l = user;
  nw__env *env = l->env;
  const char *name = nw__obj_name(claim);
  if (!name || nw__obj_deleting(claim))
    return 0;
  /* A claim of a node class no loaded provider serves belongs to another
   * autoscaler sharing the cluster (each serves its own node classes):
   * registering it here would skip its own provider's registered() call,
   * and its liveness is not ours to judge. */
  nw__plugin *prov = nw__provider_for_obj(env->plugins, claim);
  if (!prov)
    return 0;
  /* Initialized is the end of this controller's work on a claim. */
  if (is_true(claim, "Initialized")) {
    busy_drop(l, name);
    return 0;
  }
  int64_t now = env->ops->now_ms(env);
  int64_t created = nw__obj_created_ms(claim);
  const char *pid = json_string_value(json_object_get(json_object_get(claim, "status"), "providerID"));
  if (!is_true(claim, "Launched") || !pid || !*pid) {
    if (created >= 0 && now - created > LAUNCH_TTL_MS) {
      env->ops->event(env, claim, "Warning", "LaunchTimeout",
                      "not launched within 5 minutes; deleting");
      env->ops->remove(env, NW__K_NODECLAIM, NULL, name, ignore_done, NULL);
      nw__metric_add("nodeclaims_terminated_total", "reason=liveness", 1);
      return 0;
    }
    start_launch(l, prov, claim, name);
    return 0;
  }
  /* The entry stays until the store shows Registered: it remembers that
   * the provider was told of the registration. */
  if (is_true(claim, "Registered"))
    busy_drop(l, name);
  json_t *node = json_incref(nw__store_by_provider_id(env->store, NW__K_NODE, pid));
  reconcile_registered(l, claim, node, name, now);
  json_decref(node);
  return 0;
}

/* Registration and initialization of a launched claim; `node` (held by
 * the caller) may be NULL. */
static void reconcile_registered(nw__lifecycle *l, json_t *claim, json_t *node,
                                 const char *name, int64_t now) {
  nw__env *env = l->env;
  if (!is_true(claim, "Registered")) {
    if (node) {
      register_node(l, claim, node);
    } else if (now - nw__cond_time(claim, "Launched") > REGISTER_TTL_MS) {
      env->ops->event(env, claim, "Warning", "RegistrationTimeout",
                      "no node registered within 15 minutes; deleting");
      env->ops->remove(env, NW__K_NODECLAIM, NULL, name, ignore_done, NULL);
      nw__metric_add("nodeclaims_terminated_total", "reason=liveness", 1);
    }
    return;
  }
  if (node && !is_true(claim, "Initialized") && node_initialized(node, claim))
    initialize(l, claim, node);
}

/* ---- NodePool status and cost ------------------------------------------ */

/* Adds sign (1 or -1) times q to counter k of obj, dropping it at zero. */
static void bump(json_t *obj, const char *k, int64_t q) {
  int64_t v = (int64_t)json_integer_value(json_object_get(obj, k)) + q;
  if (v == 0)
    json_object_del(obj, k);
  else
    json_object_set_new(obj, k, json_integer(v));
}

/* Adds (sign 1) or takes away (sign -1) a claim's share of its pool's
 * nodes and resources. */
static void pool_share(json_t *pools, const json_t *claim, const char *pool,
                       int sign) {
  json_t *u = json_object_get(pools, pool);
  if (!u) {
    u = json_pack("{s:{}, s:{}, s:I}", "resources", "counts", "nodes", (json_int_t)0);
    json_object_set_new(pools, pool, u);
  }
  json_t *res = json_object_get(u, "resources");
  json_t *counts = json_object_get(u, "counts");
  const json_t *cap = json_object_get(json_object_get(claim, "status"), "capacity");
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)cap, k, v) {
    int64_t q = 0;
    char err[64];
    if (!json_is_string(v) ||
        nw__quantity_parse(json_string_value(v), nw__resource_is_milli(k), &q, err, sizeof(err)) != 0)
      continue;
    /* A resource stays listed while a claim has it, even at a sum of 0. */
    if (json_integer_value(json_object_get(counts, k)) + sign == 0) {
      json_object_del(res, k);
    } else {
      json_t *have = json_object_get(res, k);
      json_object_set_new(res, k, json_integer(json_integer_value(have) + sign * q));
    }
    bump(counts, k, sign);
  }
  bump(u, "nodes", sign);
  if (!json_object_get(u, "nodes"))
    json_object_del(pools, pool);
}

/* A price annotation in USD-billionths, so sums stay exact however many
 * claims come and go. */
static int64_t nano_usd(const json_t *claim) {
  const char *p = nw__annotation(claim, NW__ANN_PRICE);
  return p ? llround(strtod(p, NULL) * 1e9) : 0;
}

/* Adds (sign 1) or takes away (sign -1) what claim (may be NULL) counts
 * for: its pool's usage and, launched, the cost gauge. */
static void count_claim(nw__lifecycle *l, const json_t *claim, int sign) {
  if (!claim || nw__obj_deleting(claim))
    return;
  const char *pool = nw__label(claim, "karpenter.sh/nodepool");
  if (pool)
    pool_share(l->pools, claim, pool, sign);
  if (is_true(claim, "Launched")) {
    l->launched += sign;
    l->nano_usd += sign * nano_usd(claim);
  }
}


/* status.resources (what the pool's nodes have, counted against its
 * limits), status.nodes and the Ready condition (its node class exists),
 * written only when they change. */
static int pool_status(void *user, json_t *np) {
  nw__lifecycle *l = user;
  nw__env *env = l->env;
  const json_t *u = json_object_get(l->pools, nw__obj_name(np));
  int64_t nodes = json_integer_value(json_object_get(u, "nodes"));
  json_t *res = json_object();
  const char *k;
  json_t *v;
  char buf[64];
  json_object_foreach(json_object_get(u, "resources"), k, v) {
    json_object_set_new(res, k, json_string(nw__quantity_format(k, json_integer_value(v), buf, sizeof(buf))));
  }
  snprintf(buf, sizeof(buf), "%lld", (long long)nodes);
  json_object_set_new(res, "nodes", json_string(buf));
  const char *class_name = json_string_value(json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(np, "spec"), "template"), "spec"), "nodeClassRef"), "name"));
  int class_ok = class_name && nw__store_get(env->store, NW__K_NODECLASS, NULL, class_name);
  const char *ready = class_ok ? "True" : "False";
  const char *cur = nw__cond_status(np, "Ready");
  const json_t *status = json_object_get(np, "status");
  if (json_equal(json_object_get(status, "resources"), res) && cur &&
      strcmp(cur, ready) == 0 && json_integer_value(json_object_get(status, "nodes")) == nodes) {
    json_decref(res);
    return 0;
  }
  int64_t now = env->ops->now_ms(env);
  json_t *tmp = json_pack("{s:{s:o}}", "status", "conditions",
                          nw__cond_with(np, "NodeClassReady", ready,
                                        class_ok ? "NodeClassReady" : "NodeClassNotFound",
                                        class_ok ? "" : "the node class does not exist", now));
  json_t *conds = nw__cond_with(tmp, "Ready", ready, class_ok ? "Ready" : "NodeClassNotReady",
                                class_ok ? "" : "NodeClassReady=False", now);
  json_decref(tmp);
  /* A merge patch keeps the keys it does not name: a resource no claim
   * has any more (the pool's last node went) is removed with a null, or
   * the status would count it forever and be rewritten on every pass. */
  json_object_foreach(json_object_get(status, "resources"), k, v) {
    if (!json_object_get(res, k))
      json_object_set_new(res, k, json_null());
  }
  /* Not guarded: nodewright is the only writer of a NodePool's status,
   * and a guard would conflict with our own previous write until the
   * informer caught up. */
  json_t *patch = json_pack("{s:{s:o, s:I, s:o}}", "status", "resources", res,
                            "nodes", (json_int_t)nodes, "conditions", conds);
  env->ops->patch(env, NW__K_NODEPOOL, NULL, nw__obj_name(np), patch, 1, ignore_done, NULL);
  json_decref(patch);
  return 0;
}

static void aggregates(nw__lifecycle *l) {
  l->aggregates_due = 0;
  l->aggregates_ms = l->env->ops->now_ms(l->env);
  nw__store_foreach(l->env->store, NW__K_NODEPOOL, pool_status, l);
  nw__metric_set("cluster_cost_per_hour", NULL, (double)l->nano_usd / 1e9);
  nw__metric_set("nodeclaims_launched", NULL, (double)l->launched);
}

static void aggregates_timer(void *arg) {
  nw__lifecycle *l = arg;
  l->aggregates = NULL;
  if (l->aggregates_due)
    aggregates(l);
}

/* Runs the NodePool status pass now, or arms a timer for when
 * AGGREGATE_MS has passed since the last one. */
static void aggregates_soon(nw__lifecycle *l) {
  nw__env *env = l->env;
  int64_t wait = l->aggregates_ms + AGGREGATE_MS - env->ops->now_ms(env);
  if (wait <= 0 || l->aggregates_ms == 0) {
    aggregates(l);
    return;
  }
  if (!l->aggregates)
    l->aggregates = env->ops->timer_start(env, wait, aggregates_timer, l);
}

/* Reconciles the claim named name, if it still exists. */
static void reconcile_named(nw__lifecycle *l, const char *name) {
  json_t *claim = json_incref(nw__store_get(l->env->store, NW__K_NODECLAIM, NULL, name));
  if (claim)
    reconcile_claim(l, claim);
  json_decref(claim);
}

static void run_pass(nw__lifecycle *l) {
  json_t *dirty = l->dirty;
  l->dirty = json_object();
  if (l->all_dirty) {
    /* The unsettled claims and the changed ones, in store order: the
     * claims a walk of every claim would do something for (for the
     * others, reconcile_claim does nothing). */
    l->all_dirty = 0;
    char **names = nw__ordset_list(l->unsettled, -1, dirty);
    for (char **p = names; *p; p++)
      reconcile_named(l, *p);
    nw__ordset_list_free(names);
  } else {
    const char *name;
    json_t *v;
    json_object_foreach(dirty, name, v) {
      reconcile_named(l, name);
    }
  }
  json_decref(dirty);
  if (l->aggregates_due)
    aggregates_soon(l);
}

static void pass(void *arg) {
  nw__lifecycle *l = arg;
  l->soon = NULL;
  run_pass(l);
}

static void schedule_pass(nw__lifecycle *l) {
  if (l->soon || l->closing)
    return;
  l->soon = l->env->ops->timer_start(l->env, 0, pass, l);
}

static const char *provider_id_of(const json_t *obj, nw__kind kind) {
  const char *parent = kind == NW__K_NODE ? "spec" : "status";
  return json_string_value(json_object_get(json_object_get(obj, parent), "providerID"));
}

/* Does the change alter what the NodePool status or the cost gauge count?
 * Most claim writes are conditions that do not. */
static int counts_changed(const json_t *o, const json_t *n) {
  if (!o || !n)
    return 1;
  if (nw__obj_deleting(o) != nw__obj_deleting(n) ||
      is_true(o, "Launched") != is_true(n, "Launched"))
    return 1;
  const char *po = nw__annotation(o, NW__ANN_PRICE), *pn = nw__annotation(n, NW__ANN_PRICE);
  if ((po == NULL) != (pn == NULL) || (po && strcmp(po, pn) != 0))
    return 1;
  const char *lo = nw__label(o, "karpenter.sh/nodepool"), *ln = nw__label(n, "karpenter.sh/nodepool");
  if ((lo == NULL) != (ln == NULL) || (lo && strcmp(lo, ln) != 0))
    return 1;
  return !json_equal(json_object_get(json_object_get(o, "status"), "capacity"),
                     json_object_get(json_object_get(n, "status"), "capacity"));
}

/* Keeps `unsettled` and the counts in step with a claim change (o NULL:
 * added; n NULL: removed). */
static void track_claim(nw__lifecycle *l, const json_t *o, const json_t *n) {
  const char *name = nw__obj_name(n ? n : o);
  int member = n && !nw__obj_deleting(n) && !is_true(n, "Initialized");
  nw__ordset_put(l->unsettled, name, o == NULL, n == NULL, member);
  if (!counts_changed(o, n))
    return;
  count_claim(l, o, -1);
  count_claim(l, n, 1);
  l->aggregates_due = 1;
}

static void on_change(void *user, nw__kind kind, const json_t *o, const json_t *n) {
  nw__lifecycle *l = user;
  const json_t *obj = n ? n : o;
  if (kind == NW__K_NODECLAIM) {
    track_claim(l, o, n);
    mark_claim(l, nw__obj_name(obj));
  } else if (kind == NW__K_NODE) {
    /* A Node matters to the claim whose instance it is. */
    const json_t *claim = nw__store_by_provider_id(l->env->store, NW__K_NODECLAIM,
                                                   provider_id_of(obj, NW__K_NODE));
    if (claim)
      mark_claim(l, nw__obj_name(claim));
  } else if (kind == NW__K_NODECLASS || kind == NW__K_NODEPOOL) {
    /* Launches wait for their node class; pools' Ready follows it. */
    l->all_dirty = kind == NW__K_NODECLASS ? 1 : l->all_dirty;
    l->aggregates_due = 1;
    schedule_pass(l);
  }
}

/* Leaves a pending `soon` pass alone: forgetting it (as the resync once
 * did) left a timer that nw__lifecycle_free could not stop, so it could
 * fire on a freed controller. */
static void resync(void *arg) {
  nw__lifecycle *l = arg;
  l->all_dirty = 1;
  run_pass(l);
  l->resync = l->env->ops->timer_start(l->env, RESYNC_MS, resync, l);
}

/* ---- garbage collection ------------------------------------------------ */

typedef struct gc_job {
  nw__lifecycle *l;
  nw__plugin *prov;
  nw_arena *arena;
  nw_node_instances list;
  nw_status st;
  nw_error err;
  char **claims;           /* claim names present when GC started */
  size_t n_claims;
  /* Lookup indexes built on the worker, in `arena`; NULL when out of
   * memory, and then the lookups scan.  With thousands of claims and
   * instances the scans cost claims x instances string compares. */
  char **sorted_claims;    /* `claims` in strcmp order */
  const nw_node_instance **by_pid; /* listed instances with a provider ID */
  size_t n_by_pid;
  int64_t now;
  size_t deleted;
} gc_job;

static int cmp_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Orders by provider ID and, for equal IDs, by place in the list (the
 * pointers are into one array), so a lookup finds the first one listed. */
static int cmp_instance(const void *a, const void *b) {
  const nw_node_instance *x = *(const nw_node_instance *const *)a;
  const nw_node_instance *y = *(const nw_node_instance *const *)b;
  int c = strcmp(x->provider_id, y->provider_id);
  if (c != 0)
    return c;
  return (x > y) - (x < y);
}

static void index_claims(gc_job *g) {
  g->sorted_claims = nw__arena_alloc(g->arena, (g->n_claims + 1) * sizeof(char *));
  if (!g->sorted_claims)
    return;
  memcpy(g->sorted_claims, g->claims, g->n_claims * sizeof(char *));
  qsort(g->sorted_claims, g->n_claims, sizeof(char *), cmp_name);
}

static void index_instances(gc_job *g) {
  g->by_pid = nw__arena_alloc(g->arena, (g->list.len + 1) * sizeof(*g->by_pid));
  if (!g->by_pid)
    return;
  for (size_t i = 0; i < g->list.len; i++) {
    if (g->list.items[i].provider_id)
      g->by_pid[g->n_by_pid++] = &g->list.items[i];
  }
  qsort(g->by_pid, g->n_by_pid, sizeof(*g->by_pid), cmp_instance);
}

static int claim_known(const gc_job *g, const char *name) {
  if (!name)
    return 0;
  if (g->sorted_claims)
    return bsearch(&name, g->sorted_claims, g->n_claims, sizeof(char *),
                   cmp_name) != NULL;
  for (size_t i = 0; i < g->n_claims; i++) {
    if (strcmp(g->claims[i], name) == 0)
      return 1;
  }
  return 0;
}

/* On the worker: list instances, delete the ones no claim owns.  The claim
 * names were captured on the loop, so the worker never reads the store. */
static void gc_work(void *arg) {
  gc_job *g = arg;
  const nw_provider_vtable *vt = nw__plugin_provider(g->prov);
  void *state = nw__plugin_state(g->prov);
  g->st = vt->list(state, g->arena, &g->list, &g->err);
  if (g->st == NW_OK) {
    index_claims(g);
    index_instances(g);
  }
  for (size_t i = 0; g->st == NW_OK && i < g->list.len; i++) {
    const nw_node_instance *in = &g->list.items[i];
    if (claim_known(g, in->claim_name) || g->now - in->created_at_ms < GC_GRACE_MS ||
        in->state == NW_INSTANCE_TERMINATED)
      continue;
    nw_error e = {0};
    nw_status s = vt->delete_instance(state, in->provider_id, &e);
    if (s == NW_OK || s == NW_ERR_NOT_FOUND)
      g->deleted++;
  }
}

static int collect_claim(void *user, json_t *claim) {
  gc_job *g = user;
  g->claims[g->n_claims++] = strdup(nw__obj_name(claim));
  return 0;
}

/* Whether the first instance listed with provider ID `pid` is not
 * terminated. */
static int instance_listed(const gc_job *g, const char *pid) {
  if (g->by_pid) {
    /* The first entry not below pid: the first listed of its ID. */
    size_t lo = 0, hi = g->n_by_pid;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (strcmp(g->by_pid[mid]->provider_id, pid) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo < g->n_by_pid && strcmp(g->by_pid[lo]->provider_id, pid) == 0)
      return g->by_pid[lo]->state != NW_INSTANCE_TERMINATED;
    return 0;
  }
  for (size_t i = 0; i < g->list.len; i++) {
    if (g->list.items[i].provider_id && strcmp(g->list.items[i].provider_id, pid) == 0)
      return g->list.items[i].state != NW_INSTANCE_TERMINATED;
  }
  return 0;
}

static void gc_done(void *arg) {
  gc_job *g = arg;
  nw__lifecycle *l = g->l;
  nw__env *env = l->env;
  if (g->st == NW_OK && !l->closing) {
    if (g->deleted)
      NW_INFO("lifecycle", "garbage collected %zu instances without a claim", g->deleted);
    /* Claims whose launched instance is gone are deleted. */
    for (size_t i = 0; i < g->n_claims; i++) {
      json_t *c = nw__store_get(env->store, NW__K_NODECLAIM, NULL, g->claims[i]);
      const char *pid = c ? json_string_value(json_object_get(json_object_get(c, "status"), "providerID")) : NULL;
      if (!pid || !*pid || nw__obj_deleting(c) || instance_listed(g, pid) ||
          nw__provider_for_obj(env->plugins, c) != g->prov)
        continue;
      env->ops->event(env, c, "Warning", "InstanceGone",
                      "the instance no longer exists; deleting the claim");
      env->ops->remove(env, NW__K_NODECLAIM, NULL, g->claims[i], ignore_done, NULL);
      nw__metric_add("nodeclaims_terminated_total", "reason=instance_gone", 1);
    }
  } else if (g->st != NW_OK) {
    NW_WARN("lifecycle", "garbage collection: list failed: %s", g->err.message);
  }
  for (size_t i = 0; i < g->n_claims; i++)
    free(g->claims[i]);
  free(g->claims);
  nw__arena_free(g->arena);
  free(g);
  l->gc_running = 0;
  l->inflight--;
  lifecycle_release(l);
}

static void gc_tick(void *arg) {
  nw__lifecycle *l = arg;
  nw__env *env = l->env;
  l->gc = env->ops->timer_start(env, GC_MS, gc_tick, l);
  if (l->gc_running)
    return;
  for (size_t i = 0; i < nw__plugins_count(env->plugins); i++) {
    nw__plugin *p = nw__plugins_at(env->plugins, i);
    if (!nw__plugin_provider(p))
      continue;
    gc_job *g = calloc(1, sizeof(*g));
    g->l = l;
    g->prov = p;
    g->arena = nw__arena_new();
    g->now = env->ops->now_ms(env);
    g->claims = calloc(nw__store_count(env->store, NW__K_NODECLAIM) + 1, sizeof(char *));
    nw__store_foreach(env->store, NW__K_NODECLAIM, collect_claim, g);
    l->gc_running = 1;
    l->inflight++;
    env->ops->submit(env, gc_work, gc_done, g);
    break; /* one provider per tick keeps jobs from overlapping */
  }
}

/* ---- lifetime ---------------------------------------------------------- */

static int seed_claim(void *user, json_t *claim) {
  track_claim(user, NULL, claim);
  return 0;
}

nw__lifecycle *nw__lifecycle_new(nw__env *env) {
  nw__lifecycle *l = calloc(1, sizeof(*l));
  if (!l)
    return NULL;
  l->env = env;
  l->dirty = json_object();
  l->pools = json_object();
  l->busy_index = json_object();
  l->unsettled = nw__ordset_new();
  if (!l->dirty || !l->pools || !l->busy_index || !l->unsettled) {
    json_decref(l->busy_index);
    json_decref(l->dirty);
    json_decref(l->pools);
    nw__ordset_free(l->unsettled);
    free(l);
    return NULL;
  }
  l->all_dirty = 1;
  nw__store_foreach(env->store, NW__K_NODECLAIM, seed_claim, l);
  l->aggregates_due = 1;
  nw__store_watch(env->store, on_change, l);
  l->resync = env->ops->timer_start(env, RESYNC_MS, resync, l);
  l->gc = env->ops->timer_start(env, GC_MS, gc_tick, l);
  l->classes = nw__nodeclass_status_new(env);
  schedule_pass(l);
  return l;
}

/* Frees once closing and no job is in flight: a worker's done callback
 * must never find its controller gone. */
static void lifecycle_release(nw__lifecycle *l) {
  if (!l->closing || l->inflight > 0)
    return;
  while (l->busy)
    busy_drop(l, l->busy->name);
  json_decref(l->busy_index);
  json_decref(l->dirty);
  json_decref(l->pools);
  nw__ordset_free(l->unsettled);
  free(l);
}

void nw__lifecycle_free(nw__lifecycle *l) {
  if (!l)
    return;
  l->closing = 1;
  nw__env *env = l->env;
  nw__nodeclass_status_free(l->classes);
  l->classes = NULL;
  nw__store_unwatch(env->store, on_change, l);
  if (l->soon)
    env->ops->timer_stop(env, l->soon);
  if (l->resync)
    env->ops->timer_stop(env, l->resync);
  if (l->aggregates)
    env->ops->timer_stop(env, l->aggregates);
  if (l->gc)
    env->ops->timer_stop(env, l->gc);
  lifecycle_release(l);
}
