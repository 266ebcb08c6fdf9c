#include "provisioning/provisioner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/objutil.h"
#include "cluster/providers.h"
#include "disruption/drift.h"
#include "lifecycle/claim.h"
#include "metrics/metrics.h"
#include "model/objects.h"
#include "provisioning/instance_types.h"
#include "scheduling/scheduler.h"
#include "util/arena.h"
#include "util/log.h"

enum { SETTLE_MS = 5000, MAX_EVENTS_PER_PASS = 200 };

struct nw__provisioner {
  nw__env *env;
  nw__timer *idle;         /* batch closes when this fires ... */
  nw__timer *max;          /* ... or this */
  int running;             /* a pass is on a worker */
  int rerun;               /* pods arrived during the pass */
  int closing;
  /* Names of claims this provisioner created that the store has not shown
   * yet: until it does, another pass could launch the same capacity. */
  char **awaiting;
  size_t n_awaiting;
  int64_t awaiting_since;
  uint64_t name_seq;
};

/* ---- what is pending --------------------------------------------------- */

/* Pending: unbound, not terminating, marked unschedulable by the
 * kube-scheduler (PodScheduled=False, reason Unschedulable), no gates. */
static int pod_pending(const json_t *pod) {
  const json_t *spec = json_object_get(pod, "spec");
  if (json_object_get(spec, "nodeName") || nw__obj_deleting(pod))
    return 0;
  if (json_array_size(json_object_get(spec, "schedulingGates")) > 0)
    return 0;
  const json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions");
  size_t i;
  const json_t *c;
  json_array_foreach(conds, i, c) {
    const char *t = json_string_value(json_object_get(c, "type"));
    const char *s = json_string_value(json_object_get(c, "status"));
    const char *r = json_string_value(json_object_get(c, "reason"));
    if (t && s && r && !strcmp(t, "PodScheduled") && !strcmp(s, "False") &&
        !strcmp(r, "Unschedulable"))
      return 1;
  }
  return 0;
}

/* ---- the snapshot (on the loop) ----------------------------------------- */

typedef struct pool_in {
  nw__nodepool *pool;
  nw__plugin *provider;
  const char *nodeclass_json;
  json_t *template;       /* NodeClaim template parts (owned) */
  char hash[21];
} pool_in;

typedef struct pass {
  nw__provisioner *p;
  nw_arena *arena;
  int64_t started_ms;
  pool_in *pools;
  size_t n_pools;
  nw__sched_node *nodes;
  size_t n_nodes, cap_nodes;
  const nw__pod **pending;
  size_t n_pending, cap_pending;
  const nw__daemonset **ds;
  size_t n_ds;
  const nw__pv **pvs;
  size_t n_pvs;
  const nw__pvc **pvcs;
  size_t n_pvcs;
  const nw__storage_class **scs;
  size_t n_scs;
  /* results, built on the worker */
  json_t *claims;          /* array of NodeClaim objects to create */
  json_t *nominations;     /* [[ns, name, target], ...] */
  json_t *failures;        /* [[ns, name, reason], ...] */
  char error[512];
  size_t n_types_total;
} pass;

#define GROW(arr, n, cap, a)                                                  \
  do {                                                                        \
    if ((n) == (cap)) {                                                       \
      size_t nc_ = (cap) ? (cap) * 2 : 64;                                    \
      void *g_ = nw__arena_alloc((a), nc_ * sizeof(*(arr)));                  \
      if (n)                                                                  \
        memcpy(g_, (arr), (n) * sizeof(*(arr)));                              \
      (arr) = g_;                                                             \
      (cap) = nc_;                                                            \
    }                                                                         \
  } while (0)

typedef struct pod_acc {
  pass *ps;
  const nw__pod **pods;
  size_t n, cap;
} pod_acc;

static int add_bound_pod(void *user, json_t *obj) {
  pod_acc *acc = user;
  nw_error err = {0};
  nw__pod *pod = nw__pod_decode(obj, acc->ps->arena, &err);
  if (!pod)
    return 0;
  GROW(acc->pods, acc->n, acc->cap, acc->ps->arena);
  acc->pods[acc->n++] = pod;
  return 0;
}

static int add_node(void *user, json_t *obj) {
  pass *ps = user;
  nw_error err = {0};
  nw__node *node = nw__node_decode(obj, ps->arena, &err);
  if (!node) {
    NW_WARN("provisioner", "skipping node: %s", err.message);
    return 0;
  }
  pod_acc acc = {ps, NULL, 0, 0};
  nw__store_pods_on_node(ps->p->env->store, node->name, add_bound_pod, &acc);
  GROW(ps->nodes, ps->n_nodes, ps->cap_nodes, ps->arena);
  nw__sched_node *n = &ps->nodes[ps->n_nodes++];
  memset(n, 0, sizeof(*n));
  n->node = node;
  n->pods = acc.pods;
  n->n_pods = acc.n;
  n->nodepool = nw__labels_get(&node->labels, "karpenter.sh/nodepool");
  return 0;
}

/* A claim that has no Node yet counts as a node with what it asked for
 * (or, once launched, what it has), so pods the kube-scheduler will put
 * there do not cause a second launch. */
static int add_inflight_claim(void *user, json_t *claim) {
  pass *ps = user;
  nw__env *env = ps->p->env;
  if (nw__obj_deleting(claim))
    return 0;
  const char *pid = json_string_value(json_object_get(json_object_get(claim, "status"), "providerID"));
  if (pid && *pid && nw__store_by_provider_id(env->store, NW__K_NODE, pid))
    return 0;
  nw_arena *a = ps->arena;
  nw_error err = {0};
  nw_node_claim *c = nw__claim_decode(claim, NULL, a, &err);
  if (!c)
    return 0;
  nw__node *node = nw__arena_alloc(a, sizeof(*node));
  node->name = c->name;
  node->provider_id = "";
  /* Labels: the claim's, plus every single-valued In requirement. */
  nw_kv *kv = nw__arena_alloc(a, (c->labels.len + c->requirements.len + 2) * sizeof(*kv));
  size_t n = 0;
  for (size_t i = 0; i < c->labels.len; i++)
    kv[n++] = c->labels.items[i];
  for (size_t i = 0; i < c->requirements.len; i++) {
    const nw_requirement *r = &c->requirements.items[i];
    if (r->op == NW_OP_IN && r->n_values == 1)
      kv[n++] = (nw_kv){r->key, r->values[0]};
  }
  kv[n++] = (nw_kv){"kubernetes.io/hostname", c->name};
  node->labels = (nw_labels){n, kv};
  node->taints = c->taints;
  const json_t *alloc = json_object_get(json_object_get(claim, "status"), "allocatable");
  if (!alloc || nw__resources_decode(alloc, "status.allocatable", &node->allocatable, a, &err) != 0)
    node->allocatable = c->requests;
  node->capacity = node->allocatable;
  node->ready = 1;
  GROW(ps->nodes, ps->n_nodes, ps->cap_nodes, a);
  nw__sched_node *sn = &ps->nodes[ps->n_nodes++];
  memset(sn, 0, sizeof(*sn));
  sn->node = node;
  sn->in_flight = 1;
  sn->nodepool = c->nodepool;
  return 0;
}

static int add_pending(void *user, json_t *obj) {
  pass *ps = user;
  if (!pod_pending(obj))
    return 0;
  nw_error err = {0};
  nw__pod *pod = nw__pod_decode(obj, ps->arena, &err);
  if (!pod) {
    ps->p->env->ops->event(ps->p->env, obj, "Warning", "FailedScheduling", err.message);
    return 0;
  }
  GROW(ps->pending, ps->n_pending, ps->cap_pending, ps->arena);
  ps->pending[ps->n_pending++] = pod;
  return 0;
}

/* NodeClaim template parts shared by every claim of a pool. */
static json_t *claim_template(const json_t *np) {
  const json_t *tmpl = json_object_get(json_object_get(np, "spec"), "template");
  const json_t *tspec = json_object_get(tmpl, "spec");
  json_t *t = json_object();
  json_object_set(t, "labels", json_object_get(json_object_get(tmpl, "metadata"), "labels"));
  json_object_set(t, "annotations", json_object_get(json_object_get(tmpl, "metadata"), "annotations"));
  const char *keys[] = {"nodeClassRef", "taints", "startupTaints", "expireAfter",
                        "terminationGracePeriod"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    const json_t *v = json_object_get(tspec, keys[i]);
    if (v)
      json_object_set(t, keys[i], (json_t *)v);
  }
  json_object_set_new(t, "uid", json_string(json_string_value(json_object_get(json_object_get(np, "metadata"), "uid")) ?: ""));
  return t;
}

typedef struct pools_acc {
  pass *ps;
  size_t cap;
} pools_acc;

static int add_pool(void *user, json_t *np) {
  pools_acc *acc = user;
  pass *ps = acc->ps;
  nw__env *env = ps->p->env;
  if (nw__obj_deleting(np))
    return 0;
  nw_error err = {0};
  nw__nodepool *pool = nw__nodepool_decode(np, ps->arena, &err);
  if (!pool) {
    env->ops->event(env, np, "Warning", "InvalidNodePool", err.message);
    return 0;
  }
  nw__plugin *prov = nw__provider_for_obj(env->plugins, np);
  if (!prov) {
    env->ops->event(env, np, "Warning", "NoProvider", "no provider plugin is loaded");
    return 0;
  }
  GROW(ps->pools, ps->n_pools, acc->cap, ps->arena);
  pool_in *pi = &ps->pools[ps->n_pools++];
  memset(pi, 0, sizeof(*pi));
  pi->pool = pool;
  pi->provider = prov;
  const json_t *nc = pool->node_class.name
                         ? nw__store_get(env->store, NW__K_NODECLASS, NULL, pool->node_class.name)
                         : NULL;
  if (nc) {
    char *text = json_dumps(nc, JSON_COMPACT);
    pi->nodeclass_json = nw__arena_strdup(ps->arena, text);
    free(text);
  }
  pi->template = claim_template(np);
  if (nw__nodepool_hash(np, pi->hash, &err) != 0)
    pi->hash[0] = '\0';
  return 0;
}

#define DECODE_ALL(kind, type, decoder, arr, n)                               \
  static int collect_##arr(void *user, json_t *obj) {                         \
    pass *ps = user;                                                          \
    nw_error err = {0};                                                       \
    type *v = decoder(obj, ps->arena, &err);                                  \
    if (v) {                                                                  \
      const type **g = nw__arena_alloc(ps->arena, (ps->n + 1) * sizeof(*g));  \
      if (ps->n)                                                              \
        memcpy(g, ps->arr, ps->n * sizeof(*g));                               \
      g[ps->n++] = v;                                                         \
      ps->arr = g;                                                            \
    }                                                                         \
    return 0;                                                                 \
  }

DECODE_ALL(NW__K_DAEMONSET, nw__daemonset, nw__daemonset_decode, ds, n_ds)
DECODE_ALL(NW__K_PV, nw__pv, nw__pv_decode, pvs, n_pvs)
DECODE_ALL(NW__K_PVC, nw__pvc, nw__pvc_decode, pvcs, n_pvcs)
DECODE_ALL(NW__K_STORAGECLASS, nw__storage_class, nw__storage_class_decode, scs, n_scs)

static pass *snapshot(nw__provisioner *p) {
  nw__env *env = p->env;
  pass *ps = calloc(1, sizeof(*ps));
  ps->p = p;
  ps->arena = nw__arena_new();
  ps->started_ms = env->ops->now_ms(env);
  /* Nodes before pods, as Karpenter does: a pod that binds meanwhile is
   * then seen on its node rather than pending and on no node. */
  nw__store_foreach(env->store, NW__K_NODE, add_node, ps);
  nw__store_foreach(env->store, NW__K_NODECLAIM, add_inflight_claim, ps);
  nw__store_foreach(env->store, NW__K_POD, add_pending, ps);
  pools_acc pa = {ps, 0};
  nw__store_foreach(env->store, NW__K_NODEPOOL, add_pool, &pa);
  nw__store_foreach(env->store, NW__K_DAEMONSET, collect_ds, ps);
  nw__store_foreach(env->store, NW__K_PV, collect_pvs, ps);
  nw__store_foreach(env->store, NW__K_PVC, collect_pvcs, ps);
  nw__store_foreach(env->store, NW__K_STORAGECLASS, collect_scs, ps);
  return ps;
}

/* ---- scheduling (on a worker) ------------------------------------------ */

static char *claim_name(nw__provisioner *p, const char *pool, char *buf,
                        size_t len) {
  /* Karpenter names claims <pool>-<5 random chars>; a hash of a sequence
   * and the start time keeps names unique across restarts and
   * deterministic in the simulator. */
  static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  uint64_t x = (p->name_seq++ * 0x9e3779b97f4a7c15ull) ^
               (uint64_t)p->env->ops->now_ms(p->env);
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 29;
  char suffix[6];
  for (int i = 0; i < 5; i++) {
    suffix[i] = alphabet[x % (sizeof(alphabet) - 1)];
    x /= sizeof(alphabet) - 1;
  }
  suffix[5] = '\0';
  snprintf(buf, len, "%s-%s", pool, suffix);
  return buf;
}

static json_t *requirements_json(const nw_requirements *r) {
  json_t *arr = json_array();
  for (size_t i = 0; i < r->len; i++) {
    const nw_requirement *q = &r->items[i];
    json_t *vals = json_array();
    for (size_t v = 0; v < q->n_values; v++)
      json_array_append_new(vals, json_string(q->values[v]));
    json_t *o = json_pack("{s:s, s:s, s:o}", "key", q->key, "operator",
                          nw__operator_name(q->op), "values", vals);
    if (q->min_values > 0)
      json_object_set_new(o, "minValues", json_integer(q->min_values));
    json_array_append_new(arr, o);
  }
  return arr;
}

static json_t *build_claim(pass *ps, const nw__sched_claim *c) {
  const pool_in *pi = &ps->pools[c->pool];
  const json_t *t = pi->template;
  char name[128];
  claim_name(ps->p, c->nodepool, name, sizeof(name));
  json_t *labels = json_deep_copy(json_object_get(t, "labels"));
  if (!json_is_object(labels)) {
    json_decref(labels);
    labels = json_object();
  }
  json_object_set_new(labels, "karpenter.sh/nodepool", json_string(c->nodepool));
  json_t *ann = json_deep_copy(json_object_get(t, "annotations"));
  if (!json_is_object(ann)) {
    json_decref(ann);
    ann = json_object();
  }
  if (pi->hash[0]) {
    json_object_set_new(ann, NW__ANN_NODEPOOL_HASH, json_string(pi->hash));
    json_object_set_new(ann, NW__ANN_NODEPOOL_HASH_VERSION, json_string(NW__NODEPOOL_HASH_VERSION));
  }
  json_t *spec = json_pack("{s:o, s:{s:o}}", "requirements",
                           requirements_json(&c->requirements), "resources",
                           "requests", nw__resources_to_json(&c->requests));
  const char *keys[] = {"nodeClassRef", "taints", "startupTaints", "expireAfter",
                        "terminationGracePeriod"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    json_t *v = json_object_get(t, keys[i]);
    if (v)
      json_object_set_new(spec, keys[i], json_deep_copy(v));
  }
  json_t *claim = json_pack(
      "{s:s, s:s, s:{s:s, s:o, s:o, s:[s], s:[{s:s, s:s, s:s, s:s, s:b, s:b}]}, s:o}",
      "apiVersion", "karpenter.sh/v1", "kind", "NodeClaim", "metadata", "name",
      name, "labels", labels, "annotations", ann, "finalizers",
      "karpenter.sh/termination", "ownerReferences", "apiVersion",
      "karpenter.sh/v1", "kind", "NodePool", "name", c->nodepool, "uid",
      json_string_value(json_object_get(t, "uid")), "blockOwnerDeletion", 1,
      "controller", 1, "spec", spec);
  return claim;
}

static void nominate(pass *ps, const nw__sched_result *r) {
  ps->nominations = json_array();
  ps->failures = json_array();
  for (size_t i = 0; i < r->n_placements; i++) {
    const nw__sched_placement *pl = &r->placements[i];
    const char *target = NULL;
    if (pl->kind == NW__PLACE_NODE)
      target = ps->nodes[pl->index].node->name;
    else if (pl->kind == NW__PLACE_CLAIM)
      target = json_string_value(json_object_get(json_object_get(
          json_array_get(ps->claims, pl->index), "metadata"), "name"));
    if (target)
      json_array_append_new(ps->nominations,
                            json_pack("[s, s, s]", pl->pod->namespace_ ?: "",
                                      pl->pod->name, target));
    else
      json_array_append_new(ps->failures,
                            json_pack("[s, s, s]", pl->pod->namespace_ ?: "",
                                      pl->pod->name, pl->error ?: "no pool fits"));
  }
}

static void schedule_work(void *arg) {
  pass *ps = arg;
  nw_error err = {0};
  ps->claims = json_array();
  if (ps->n_pending == 0)
    return;
  nw__sched_pool *pools = nw__arena_alloc(ps->arena, (ps->n_pools + 1) * sizeof(*pools));
  size_t np = 0;
  for (size_t i = 0; i < ps->n_pools; i++) {
    pool_in *pi = &ps->pools[i];
    nw_instance_types types = {0, NULL};
    nw_status st = nw__priced_instance_types(ps->p->env->plugins, pi->provider,
                                             pi->pool->name, pi->nodeclass_json,
                                             ps->arena, &types, &err);
    if (st != NW_OK) {
      snprintf(ps->error, sizeof(ps->error), "nodepool %s: instance types: %s",
               pi->pool->name, err.message);
      continue;
    }
    ps->n_types_total += types.len;
    /* Keep the index of pools aligned with ps->pools for build_claim. */
    pools[np].pool = pi->pool;
    pools[np].types = types;
    if (np != i)
      ps->pools[np] = *pi;
    np++;
  }
  ps->n_pools = np;
  nw__sched_input in;
  memset(&in, 0, sizeof(in));
  in.n_pools = np;
  in.pools = pools;
  in.n_nodes = ps->n_nodes;
  in.nodes = ps->nodes;
  in.n_daemonsets = ps->n_ds;
  in.daemonsets = ps->ds;
  in.n_pvs = ps->n_pvs;
  in.pvs = ps->pvs;
  in.n_pvcs = ps->n_pvcs;
  in.pvcs = ps->pvcs;
  in.n_storage_classes = ps->n_scs;
  in.storage_classes = ps->scs;
  nw__scheduler *s = nw__scheduler_new(&in, &err);
  if (!s) {
    snprintf(ps->error, sizeof(ps->error), "scheduler: %s", err.message);
    return;
  }
  nw__sched_result *r = nw__scheduler_solve(s, ps->pending, ps->n_pending, NULL,
                                            ps->arena, &err);
  if (r) {
    for (size_t i = 0; i < r->n_claims; i++)
      json_array_append_new(ps->claims, build_claim(ps, &r->claims[i]));
    nominate(ps, r);
  } else {
    snprintf(ps->error, sizeof(ps->error), "scheduler: %s", err.message);
  }
  nw__scheduler_free(s);
}

/* ---- results (on the loop) --------------------------------------------- */

static void created(void *arg, nw_status st, const json_t *res, const char *msg) {
  nw__provisioner *p = arg;
  (void)res;
  if (st != NW_OK) {
    NW_WARN("provisioner", "creating a NodeClaim failed: %s", msg ? msg : "");
    nw__metric_add("nodeclaims_create_errors_total", NULL, 1);
  }
  (void)p;
}

static void pod_event(nw__env *env, const char *ns, const char *name,
                      const char *type, const char *reason, const char *note) {
  json_t *pod = nw__store_get(env->store, NW__K_POD, ns, name);
  if (pod)
    env->ops->event(env, pod, type, reason, note);
}

static void free_pass(pass *ps) {
  for (size_t i = 0; i < ps->n_pools; i++)
    json_decref(ps->pools[i].template);
  json_decref(ps->claims);
  json_decref(ps->nominations);
  json_decref(ps->failures);
  nw__arena_free(ps->arena);
  free(ps);
}

static void awaiting_reset(nw__provisioner *p) {
  for (size_t i = 0; i < p->n_awaiting; i++)
    free(p->awaiting[i]);
  free(p->awaiting);
  p->awaiting = NULL;
  p->n_awaiting = 0;
}

static void open_batch(nw__provisioner *p);

static void schedule_done(void *arg) {
  pass *ps = arg;
  nw__provisioner *p = ps->p;
  nw__env *env = p->env;
  p->running = 0;
  if (p->closing) {
    free_pass(ps);
    free(p);
    return;
  }
  double seconds = (double)(env->ops->now_ms(env) - ps->started_ms) / 1000.0;
  nw__metric_observe("scheduling_duration_seconds", NULL, seconds);
  nw__metric_set("pods_pending", NULL, (double)ps->n_pending);
  if (ps->error[0]) {
    NW_WARN("provisioner", "%s", ps->error);
  }
  size_t n = json_array_size(ps->claims);
  awaiting_reset(p);
  p->awaiting = calloc(n + 1, sizeof(char *));
  p->awaiting_since = env->ops->now_ms(env);
  for (size_t i = 0; i < n; i++) {
    json_t *c = json_array_get(ps->claims, i);
    p->awaiting[p->n_awaiting++] = strdup(nw__obj_name(c));
    env->ops->create(env, NW__K_NODECLAIM, c, created, p);
    char labels[300];
    snprintf(labels, sizeof(labels), "nodepool=%s",
             nw__label(c, "karpenter.sh/nodepool"));
    nw__metric_add("nodeclaims_created_total", labels, 1);
  }
  if (n)
    NW_INFO("provisioner", "%zu pending pods: %zu new NodeClaims (%zu instance types considered)",
            ps->n_pending, n, ps->n_types_total);
  size_t ev = 0;
  size_t i;
  json_t *row;
  json_array_foreach(ps->nominations, i, row) {
    if (ev++ >= MAX_EVENTS_PER_PASS)
      break;
    char note[256];
    snprintf(note, sizeof(note), "Pod should schedule on: nodeclaim/%s",
             json_string_value(json_array_get(row, 2)));
    pod_event(env, json_string_value(json_array_get(row, 0)),
              json_string_value(json_array_get(row, 1)), "Normal", "Nominated", note);
  }
  json_array_foreach(ps->failures, i, row) {
    if (ev++ >= MAX_EVENTS_PER_PASS)
      break;
    char note[1024];
    snprintf(note, sizeof(note), "Failed to schedule pod, %s",
             json_string_value(json_array_get(row, 2)));
    pod_event(env, json_string_value(json_array_get(row, 0)),
              json_string_value(json_array_get(row, 1)), "Warning",
              "FailedScheduling", note);
  }
  free_pass(ps);
  if (p->rerun) {
    p->rerun = 0;
    open_batch(p);
  }
}

/* Claims created by the last pass that the store does not show yet. */
static int awaiting_claims(nw__provisioner *p) {
  nw__env *env = p->env;
  if (env->ops->now_ms(env) - p->awaiting_since > SETTLE_MS) {
    awaiting_reset(p);
    return 0;
  }
  for (size_t i = 0; i < p->n_awaiting; i++) {
    if (!nw__store_get(env->store, NW__K_NODECLAIM, NULL, p->awaiting[i]))
      return 1;
  }
  awaiting_reset(p);
  return 0;
}

static void close_batch(void *arg);

static void run_pass(nw__provisioner *p) {
  nw__env *env = p->env;
  if (p->running) {
    p->rerun = 1;
    return;
  }
  if (awaiting_claims(p)) {
    /* Wait for the store to show what we created, then look again. */
    p->idle = env->ops->timer_start(env, 200, close_batch, p);
    return;
  }
  pass *ps = snapshot(p);
  if (ps->n_pending == 0) {
    free_pass(ps);
    return;
  }
  p->running = 1;
  env->ops->submit(env, schedule_work, schedule_done, ps);
}

static void close_batch(void *arg) {
  nw__provisioner *p = arg;
  nw__env *env = p->env;
  /* Whichever timer fired, the other one goes. */
  if (p->idle)
    env->ops->timer_stop(env, p->idle);
  if (p->max)
    env->ops->timer_stop(env, p->max);
  p->idle = p->max = NULL;
  run_pass(p);
}

static void idle_fired(void *arg) {
  nw__provisioner *p = arg;
  p->idle = NULL;
  close_batch(p);
}

static void max_fired(void *arg) {
  nw__provisioner *p = arg;
  p->max = NULL;
  close_batch(p);
}

/* A pending pod arrived: (re)start the idle window, open the max window. */
static void open_batch(nw__provisioner *p) {
  nw__env *env = p->env;
  if (p->idle)
    env->ops->timer_stop(env, p->idle);
  p->idle = env->ops->timer_start(env, env->batch_idle_ms, idle_fired, p);
  if (!p->max)
    p->max = env->ops->timer_start(env, env->batch_max_ms, max_fired, p);
}

static void on_change(void *user, nw__kind kind, const json_t *o, const json_t *n) {
  nw__provisioner *p = user;
  (void)o;
  if (kind == NW__K_POD && n && pod_pending(n))
    open_batch(p);
}

nw__provisioner *nw__provisioner_new(nw__env *env) {
  nw__provisioner *p = calloc(1, sizeof(*p));
  if (!p)
    return NULL;
  p->env = env;
  nw__store_watch(env->store, on_change, p);
  return p;
}

void nw__provisioner_trigger(nw__provisioner *p) { close_batch(p); }

void nw__provisioner_free(nw__provisioner *p) {
  if (!p)
    return;
  nw__env *env = p->env;
  nw__store_unwatch(env->store, on_change, p);
  if (p->idle)
    env->ops->timer_stop(env, p->idle);
  if (p->max)
    env->ops->timer_stop(env, p->max);
  awaiting_reset(p);
  p->closing = 1;
  if (!p->running)
    free(p);
}
