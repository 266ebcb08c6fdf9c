#include "provisioning/snapshot.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/objutil.h"
#include <stdio.h>
#include "cluster/providers.h"
#include "disruption/drift.h"
#include "lifecycle/claim.h"
#include "provisioning/instance_types.h"
#include "util/arena.h"
#include "util/log.h"

/* Growable arrays in the snapshot's arena. */
typedef struct grow {
  void *items;
  size_t n, cap, size;
} grow;

static void *grow_push(nw_arena *a, grow *g) {
  if (g->n == g->cap) {
    size_t cap = g->cap ? g->cap * 2 : 32;
    void *items = nw__arena_alloc(a, cap * g->size);
    if (!items)
      return NULL;
    if (g->n)
      memcpy(items, g->items, g->n * g->size);
    g->items = items;
    g->cap = cap;
  }
  return (char *)g->items + g->size * g->n++;
}

typedef struct taker {
  nw__env *env;
  nw__snapshot *s;
  grow nodes, claims, pending, pools, ds, pvs, pvcs, scs, pods;
} taker;

int nw__pod_pending(const json_t *pod) {
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
    const char *st = json_string_value(json_object_get(c, "status"));
    const char *r = json_string_value(json_object_get(c, "reason"));
    if (t && st && r && !strcmp(t, "PodScheduled") && !strcmp(st, "False") &&
        !strcmp(r, "Unschedulable"))
      return 1;
  }
  return 0;
}

static int add_bound_pod(void *user, json_t *obj) {
  taker *t = user;
  nw_error err = {0};
  nw__pod *pod = nw__pod_decode(obj, t->s->arena, &err);
  const nw__pod **slot = pod ? grow_push(t->s->arena, &t->pods) : NULL;
  if (slot)
    *slot = pod;
  return 0;
}

static nw__sched_node *push_node(taker *t, json_t *claim) {
  nw__sched_node *n = grow_push(t->s->arena, &t->nodes);
  json_t **c = grow_push(t->s->arena, &t->claims);
  if (!n || !c)
    return NULL;
  memset(n, 0, sizeof(*n));
  *c = claim ? json_deep_copy(claim) : NULL;
  return n;
}

static int add_node(void *user, json_t *obj) {
  taker *t = user;
  nw_error err = {0};
  nw__node *node = nw__node_decode(obj, t->s->arena, &err);
  if (!node) {
    NW_WARN("snapshot", "skipping node: %s", err.message);
    return 0;
  }
  t->pods = (grow){NULL, 0, 0, sizeof(nw__pod *)};
  nw__store_pods_on_node(t->env->store, node->name, add_bound_pod, t);
  json_t *claim = node->provider_id && *node->provider_id
                      ? nw__store_by_provider_id(t->env->store, NW__K_NODECLAIM,
                                                 node->provider_id)
                      : NULL;
  nw__sched_node *n = push_node(t, claim);
  if (!n)
    return 1;
  n->node = node;
  n->pods = t->pods.items;
  n->n_pods = t->pods.n;
  n->nodepool = nw__labels_get(&node->labels, "karpenter.sh/nodepool");
  return 0;
}

/* A claim without a Node yet counts as a node with what it asked for (or,
 * once launched, what it has), so the pods the kube-scheduler will bind
 * there cause no second launch. */
static int add_inflight_claim(void *user, json_t *claim) {
  taker *t = user;
  nw_arena *a = t->s->arena;
  if (nw__obj_deleting(claim))
    return 0;
  const char *pid = json_string_value(json_object_get(json_object_get(claim, "status"), "providerID"));
  if (pid && *pid && nw__store_by_provider_id(t->env->store, NW__K_NODE, pid))
    return 0;
  nw_error err = {0};
  nw_node_claim *c = nw__claim_decode(claim, NULL, a, &err);
  if (!c)
    return 0;
  nw__node *node = nw__arena_alloc(a, sizeof(*node));
  node->name = c->name;
  node->provider_id = "";
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
  nw__sched_node *sn = push_node(t, claim);
  if (!sn)
    return 1;
  sn->node = node;
  sn->in_flight = 1;
  sn->nodepool = c->nodepool;
  return 0;
}

static int add_pending(void *user, json_t *obj) {
  taker *t = user;
  if (!nw__pod_pending(obj))
    return 0;
  nw_error err = {0};
  nw__pod *pod = nw__pod_decode(obj, t->s->arena, &err);
  if (!pod) {
    t->env->ops->event(t->env, obj, "Warning", "FailedScheduling", err.message);
    return 0;
  }
  const nw__pod **slot = grow_push(t->s->arena, &t->pending);
  if (slot)
    *slot = pod;
  return 0;
}

static int add_pool(void *user, json_t *np) {
  taker *t = user;
  nw__env *env = t->env;
  nw_arena *a = t->s->arena;
  if (nw__obj_deleting(np))
    return 0;
  nw_error err = {0};
  nw__nodepool *pool = nw__nodepool_decode(np, a, &err);
  if (!pool) {
    env->ops->event(env, np, "Warning", "InvalidNodePool", err.message);
    return 0;
  }
  nw__plugin *prov = nw__provider_for_obj(env->plugins, np);
  if (!prov) {
    env->ops->event(env, np, "Warning", "NoProvider", "no provider plugin is loaded");
    return 0;
  }
  nw__snap_pool *pi = grow_push(a, &t->pools);
  if (!pi)
    return 1;
  memset(pi, 0, sizeof(*pi));
  pi->pool = pool;
  pi->provider = prov;
  const json_t *nc = pool->node_class.name
                         ? nw__store_get(env->store, NW__K_NODECLASS, NULL, pool->node_class.name)
                         : NULL;
  if (nc) {
    char *text = json_dumps(nc, JSON_COMPACT);
    pi->nodeclass_json = nw__arena_strdup(a, text);
    free(text);
  }
  pi->object = json_deep_copy(np);
  if (nw__nodepool_hash(np, pi->hash, &err) != 0)
    pi->hash[0] = '\0';
  return 0;
}

/* One collector per simple kind: decode, push, skip what does not decode. */
#define COLLECT(fn, type, decoder, field)                                    \
  static int fn(void *user, json_t *obj) {                                   \
    taker *t = user;                                                         \
    nw_error err = {0};                                                      \
    type *v = decoder(obj, t->s->arena, &err);                               \
    const type **slot = v ? grow_push(t->s->arena, &t->field) : NULL;        \
    if (slot)                                                                \
      *slot = v;                                                             \
    return 0;                                                                \
  }
COLLECT(collect_ds, nw__daemonset, nw__daemonset_decode, ds)
COLLECT(collect_pv, nw__pv, nw__pv_decode, pvs)
COLLECT(collect_pvc, nw__pvc, nw__pvc_decode, pvcs)
COLLECT(collect_sc, nw__storage_class, nw__storage_class_decode, scs)

static int collect_pdb(void *user, json_t *obj) {
  taker *t = user;
  json_array_append_new(t->s->pdbs, json_deep_copy(obj));
  return 0;
}

nw__snapshot *nw__snapshot_take(nw__env *env) {
  nw__snapshot *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->arena = nw__arena_new();
  s->taken_ms = env->ops->now_ms(env);
  s->pdbs = json_array();
  taker t = {env, s, {NULL, 0, 0, sizeof(nw__sched_node)},
             {NULL, 0, 0, sizeof(json_t *)}, {NULL, 0, 0, sizeof(nw__pod *)},
             {NULL, 0, 0, sizeof(nw__snap_pool)}, {NULL, 0, 0, sizeof(void *)},
             {NULL, 0, 0, sizeof(void *)}, {NULL, 0, 0, sizeof(void *)},
             {NULL, 0, 0, sizeof(void *)}, {NULL, 0, 0, sizeof(void *)}};
  /* Nodes before pods, as Karpenter does: a pod that binds meanwhile is
   * then seen on its node rather than nowhere. */
  nw__store_foreach(env->store, NW__K_NODE, add_node, &t);
  nw__store_foreach(env->store, NW__K_NODECLAIM, add_inflight_claim, &t);
  nw__store_foreach(env->store, NW__K_POD, add_pending, &t);
  nw__store_foreach(env->store, NW__K_NODEPOOL, add_pool, &t);
  nw__store_foreach(env->store, NW__K_DAEMONSET, collect_ds, &t);
  nw__store_foreach(env->store, NW__K_PV, collect_pv, &t);
  nw__store_foreach(env->store, NW__K_PVC, collect_pvc, &t);
  nw__store_foreach(env->store, NW__K_STORAGECLASS, collect_sc, &t);
  nw__store_foreach(env->store, NW__K_PDB, collect_pdb, &t);
  s->nodes = t.nodes.items;
  s->n_nodes = t.nodes.n;
  s->claims = t.claims.items;
  s->pending = t.pending.items;
  s->n_pending = t.pending.n;
  s->pools = t.pools.items;
  s->n_pools = t.pools.n;
  s->ds = t.ds.items;
  s->n_ds = t.ds.n;
  s->pvs = t.pvs.items;
  s->n_pvs = t.pvs.n;
  s->pvcs = t.pvcs.items;
  s->n_pvcs = t.pvcs.n;
  s->scs = t.scs.items;
  s->n_scs = t.scs.n;
  return s;
}

size_t nw__snapshot_prepare(nw__snapshot *s, nw__plugin_set *plugins) {
  nw_arena *a = s->arena;
  s->sched_pools = nw__arena_alloc(a, (s->n_pools + 1) * sizeof(*s->sched_pools));
  size_t kept = 0;
  for (size_t i = 0; i < s->n_pools; i++) {
    nw__snap_pool *pi = &s->pools[i];
    nw_instance_types types = {0, NULL};
    nw_error err = {0};
    if (nw__priced_instance_types(plugins, pi->provider, pi->pool->name,
                                  pi->nodeclass_json, a, &types, &err) != NW_OK) {
      snprintf(s->error, sizeof(s->error), "nodepool %s: instance types: %s",
               pi->pool->name, err.message);
      json_decref(pi->object);
      continue;
    }
    s->n_types_total += types.len;
    /* Keep pools and sched_pools aligned for callers that map results
     * back to NodePools. */
    s->pools[kept] = *pi;
    s->sched_pools[kept].pool = pi->pool;
    s->sched_pools[kept].types = types;
    kept++;
  }
  s->n_pools = kept;
  memset(&s->input, 0, sizeof(s->input));
  s->input.n_pools = kept;
  s->input.pools = s->sched_pools;
  s->input.n_nodes = s->n_nodes;
  s->input.nodes = s->nodes;
  s->input.n_daemonsets = s->n_ds;
  s->input.daemonsets = s->ds;
  s->input.n_pvs = s->n_pvs;
  s->input.pvs = s->pvs;
  s->input.n_pvcs = s->n_pvcs;
  s->input.pvcs = s->pvcs;
  s->input.n_storage_classes = s->n_scs;
  s->input.storage_classes = s->scs;
  return kept;
}

void nw__snapshot_free(nw__snapshot *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->n_pools; i++)
    json_decref(s->pools[i].object);
  for (size_t i = 0; i < s->n_nodes; i++)
    json_decref(s->claims[i]);
  json_decref(s->pdbs);
  nw__arena_free(s->arena);
  free(s);
}

void nw__claim_name(const char *pool, uint64_t seed, char *buf, size_t len) {
  static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  uint64_t x = seed * 0x9e3779b97f4a7c15ull;
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
}

/* A copy of template.metadata.<part>, or an empty object. */
static json_t *template_meta(const json_t *np, const char *part) {
  const json_t *tmpl = json_object_get(json_object_get(np, "spec"), "template");
  json_t *v = json_deep_copy(json_object_get(json_object_get(tmpl, "metadata"), part));
  if (json_is_object(v))
    return v;
  json_decref(v);
  return json_object();
}

json_t *nw__claim_for_pool(const nw__snap_pool *sp, const char *name,
                           json_t *requirements, json_t *requests,
                           double price) {
  const json_t *np = sp->object;
  const char *pool = sp->pool->name;
  json_t *labels = template_meta(np, "labels");
  json_object_set_new(labels, "karpenter.sh/nodepool", json_string(pool));
  json_t *ann = template_meta(np, "annotations");
  if (price >= 0) {
    /* The price of the offering chosen, so cost can be reported without
     * asking the provider again. */
    char buf[32];
    snprintf(buf, sizeof(buf), "%.6f", price);
    json_object_set_new(ann, NW__ANN_PRICE, json_string(buf));
  }
  if (sp->hash[0]) {
    json_object_set_new(ann, NW__ANN_NODEPOOL_HASH, json_string(sp->hash));
    json_object_set_new(ann, NW__ANN_NODEPOOL_HASH_VERSION,
                        json_string(NW__NODEPOOL_HASH_VERSION));
  }
  json_t *spec = json_pack("{s:o}", "requirements", requirements);
  if (requests)
    json_object_set_new(spec, "resources", json_pack("{s:o}", "requests", requests));
  const json_t *tspec = json_object_get(
      json_object_get(json_object_get(np, "spec"), "template"), "spec");
  static const char *const keys[] = {"nodeClassRef", "taints", "startupTaints",
                                     "expireAfter", "terminationGracePeriod"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    const json_t *v = json_object_get(tspec, keys[i]);
    if (v)
      json_object_set_new(spec, keys[i], json_deep_copy(v));
  }
  const char *uid = json_string_value(
      json_object_get(json_object_get(np, "metadata"), "uid"));
  return json_pack(
      "{s:s, s:s, s:{s:s, s:o, s:o, s:[s], s:[{s:s, s:s, s:s, s:s, s:b, s:b}]}, s:o}",
      "apiVersion", "karpenter.sh/v1", "kind", "NodeClaim", "metadata", "name",
      name, "labels", labels, "annotations", ann, "finalizers",
      "karpenter.sh/termination", "ownerReferences", "apiVersion",
      "karpenter.sh/v1", "kind", "NodePool", "name", pool, "uid", uid ? uid : "",
      "blockOwnerDeletion", 1, "controller", 1, "spec", spec);
}
