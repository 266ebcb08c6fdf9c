#include "sim/world.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/objutil.h"
#include "model/objects.h"
#include "model/quantity.h"
#include "plugin/loader.h"
#include "scheduling/scheduler.h"
#include "sim/provider.h"
#include "sim/venv.h"
#include "util/arena.h"

enum {
  NOEXECUTE_EVICT_MS = 300000,  /* default toleration of unreachable */
  STARTUP_TAINT_MS = 5000,      /* agents remove startup taints */
  HPA_UP_PODS = 4,              /* default scale-up: max(4 pods, 100%) */
  MAX_RECS = 4096               /* HPA recommendations kept per workload */
};

typedef struct snode snode;

/* The resources the kube-scheduler's pass checks before it simulates. */
static const char *const fit_res[] = {"cpu", "memory", "pods"};
enum { N_FIT_RES = 3 };

typedef struct spod {
  char *key;               /* "ns/name" */
  char *name;
  const char *ns;          /* borrowed from the template */
  int wl;                  /* workload index, or -1 */
  int ds;                  /* daemonset index, or -1 */
  int64_t created_ms;
  int64_t bound_ms;        /* -1 while pending */
  int ready;
  int unsched_marked;
  snode *node;
  size_t node_slot;
  size_t wl_slot;
  size_t pending_slot;     /* index in w->pending, or NO_SLOT */
  uint64_t seq;            /* creation order */
  nw__pod pod;             /* template's decode with this pod's identity */
} spod;

struct snode {
  char *name;
  nw_arena *arena;
  nw__node *dec;
  int ready;
  int usable;              /* ready, schedulable, not deleting */
  int ds_done;
  int startup_done;        /* startup taints checked after registration */
  spod **pods;
  size_t n_pods, cap_pods;
  /* What the pods ask of each of fit_res, summed as they come and go:
   * the kube-scheduler's pass asks it of every node. */
  int64_t asked[N_FIT_RES];
  size_t hist;             /* index into w->history */
};

/* A node's life for the cost and the report. */
typedef struct node_life {
  char *name;
  char *type;
  char *capacity_type;
  char *zone;
  char *nodepool;          /* NULL for static nodes */
  double price;
  int64_t start_ms;
  int64_t end_ms;          /* -1 while alive */
} node_life;

typedef struct hpa_rec {
  int64_t at;
  int32_t value;
} hpa_rec;

typedef struct wstate {
  const nw__sim_workload *spec;
  nw__pod tmpl;            /* decoded template */
  spod **pods;
  size_t n_pods, cap_pods;
  int32_t desired;
  uint64_t name_seq;
  hpa_rec *recs;               /* HPA recommendations in the windows */
  size_t n_recs;
  int pdb_dirty;
} wstate;

typedef struct dstate {
  const json_t *obj;       /* the DaemonSet */
  const char *name;
  const char *ns;
  nw__pod tmpl;
} dstate;

struct nw__world {
  nw__env *env;
  const nw__scenario *sc;
  const nw_instance_types *types;
  nw_arena *arena;         /* decoded templates */
  void *provider;          /* the builtin provider's state, or NULL */
  int64_t t0;

  json_t *pod_map;         /* key -> spod address (json integer) */
  json_t *node_map;        /* name -> snode address */
  snode **nodes;           /* insertion order */
  size_t n_nodes, cap_nodes;
  wstate *wls;
  dstate *dss;
  size_t n_dss;
  spod **orphans;
  size_t n_orphans, cap_orphans;
  /* Workload pods without a node, in no particular order: the
   * kube-scheduler's pass looks at these rather than at every pod. */
  spod **pending;
  size_t n_pending, cap_pending;
  uint64_t pod_seq;
  uint64_t node_seq;

  nw__timer *tick;
  int sched_dirty;
  /* No pod template uses pod (anti-)affinity or topology spread, so where
   * a pod may go does not depend on other nodes' pods: the kube-scheduler
   * pass can leave out nodes with no room for any pending pod. */
  int independent;
  int ds_dirty;
  int wl_dirty;

  node_life *history;
  size_t n_history, cap_history;
  double *pending_s;       /* pending durations of bound pods */
  size_t n_pending_s, cap_pending_s;
  size_t pods_created;
  size_t live_nodes;       /* history entries still open */
  size_t peak_nodes;
  json_t *samples;
  json_t *decisions;
  size_t pod_events;
  json_t *nominated;       /* claim name -> {pod key: true} nominated */
};

#define NO_SLOT SIZE_MAX

#define GROW(arr, n, cap)                                                     \
  do {                                                                        \
    if ((n) == (cap)) {                                                       \
      size_t c_ = (cap) ? (cap) * 2 : 16;                                     \
      void *g_ = realloc((arr), c_ * sizeof(*(arr)));                         \
      if (!g_)                                                                \
        abort();                                                              \
      (arr) = g_;                                                             \
      (cap) = c_;                                                             \
    }                                                                         \
  } while (0)

static int64_t now(nw__world *w) { return w->env->ops->now_ms(w->env); }

static void *map_get(json_t *map, const char *key) {
  json_t *v = json_object_get(map, key);
  return v ? (void *)(uintptr_t)json_integer_value(v) : NULL;
}

static void map_put(json_t *map, const char *key, void *p) {
  json_object_set_new(map, key, json_integer((json_int_t)(uintptr_t)p));
}

static void ignore_done(void *arg, nw_status st, const json_t *r,
                        const char *msg) {
  (void)arg;
  (void)st;
  (void)r;
  (void)msg;
}

static void arm_tick(nw__world *w);
static void note(nw__world *w, const char *kind, const char *name,
                 const char *type, const char *reason, const char *text);

/* ---- node bookkeeping ------------------------------------------------ */

static snode *node_find(nw__world *w, const char *name) {
  return map_get(w->node_map, name);
}

static void node_ask(snode *n, const spod *p, int sign) {
  for (int r = 0; r < N_FIT_RES; r++)
    n->asked[r] += sign * nw__resources_get(&p->pod.requests, fit_res[r]);
}

static void node_attach(snode *n, spod *p) {
  GROW(n->pods, n->n_pods, n->cap_pods);
  node_ask(n, p, 1);
  p->node = n;
  p->node_slot = n->n_pods;
  n->pods[n->n_pods++] = p;
}

static void node_detach(spod *p) {
  snode *n = p->node;
  if (!n)
    return;
  node_ask(n, p, -1);
  spod *last = n->pods[--n->n_pods];
  n->pods[p->node_slot] = last;
  last->node_slot = p->node_slot;
  p->node = NULL;
}

static void pending_add(nw__world *w, spod *p) {
  GROW(w->pending, w->n_pending, w->cap_pending);
  p->pending_slot = w->n_pending;
  w->pending[w->n_pending++] = p;
}

static void pending_drop(nw__world *w, spod *p) {
  if (p->pending_slot == NO_SLOT)
    return;
  spod *last = w->pending[--w->n_pending];
  w->pending[p->pending_slot] = last;
  last->pending_slot = p->pending_slot;
  p->pending_slot = NO_SLOT;
}

static const char *node_label(const snode *n, const char *key) {
  return nw__labels_get(&n->dec->labels, key);
}

static void node_decode(nw__world *w, snode *n, const json_t *obj) {
  nw_arena *a = nw__arena_new();
  nw_error e = {0};
  nw__node *d = nw__node_decode(obj, a, &e);
  if (!d) {
    /* Nodes come from the world and the lifecycle controller; one that
     * does not decode is unusable rather than fatal. */
    nw__arena_free(a);
    n->usable = 0;
    return;
  }
  nw__arena_free(n->arena);
  n->arena = a;
  n->dec = d;
  n->ready = d->ready;
  n->usable = d->ready && !d->unschedulable && !d->terminating;
  /* kube-scheduler retries unschedulable pods on every node change
   * (taints removed, labels added, Ready). */
  w->sched_dirty = 1;
}

/* Instance types the claim allowed (its instance-type In requirement),
 * or 0 when it named none. */
static size_t claim_options(const json_t *claim) {
  const json_t *reqs =
      json_object_get(json_object_get(claim, "spec"), "requirements");
  size_t i;
  const json_t *r;
  json_array_foreach(reqs, i, r) {
    const char *k = json_string_value(json_object_get(r, "key"));
    const char *op = json_string_value(json_object_get(r, "operator"));
    if (k && op && strcmp(k, "node.kubernetes.io/instance-type") == 0 &&
        strcmp(op, "In") == 0)
      return json_array_size(json_object_get(r, "values"));
  }
  return 0;
}

/* "launched c6a.2xlarge (on-demand, us-east-1a) for 4 pods: cheapest of
 * 37 candidate types, $0.3060/h, NodePool kong, claim kong-x".  The
 * candidates are the claim's instance-type requirement (the scheduler
 * keeps at most 60, cheapest first). */
static void note_joined(nw__world *w, const snode *n, const node_life *h) {
  const json_t *claim = n->dec->provider_id && *n->dec->provider_id
                            ? nw__store_by_provider_id(w->env->store,
                                                       NW__K_NODECLAIM,
                                                       n->dec->provider_id)
                            : NULL;
  const json_t *pods = claim ? json_object_get(w->nominated,
                                               nw__obj_name(claim))
                             : NULL;
  size_t options = claim ? claim_options(claim) : 0;
  char text[512], why[160] = "", for_pods[64] = "";
  if (options > 0)
    snprintf(why, sizeof(why), ": cheapest of %zu candidate type%s",
             options, options == 1 ? "" : "s");
  long long np = (long long)json_object_size(pods);
  /* Replacements the disruption controller launches have no pods yet. */
  if (np > 0)
    snprintf(for_pods, sizeof(for_pods), " for %lld pod%s", np,
             np == 1 ? "" : "s");
  snprintf(text, sizeof(text), "launched %s (%s, %s)%s%s, $%.4f/h, "
           "NodePool %s%s%s", h->type, h->capacity_type, h->zone, for_pods,
           why, h->price, h->nodepool,
           claim ? ", claim " : "", claim ? nw__obj_name(claim) : "");
  note(w, "Node", n->name, "Normal", "NodeJoined", text);
}

static void history_open(nw__world *w, snode *n) {
  GROW(w->history, w->n_history, w->cap_history);
  node_life *h = &w->history[w->n_history];
  memset(h, 0, sizeof(*h));
  const char *type = node_label(n, "node.kubernetes.io/instance-type");
  const char *ct = node_label(n, "karpenter.sh/capacity-type");
  const char *zone = node_label(n, "topology.kubernetes.io/zone");
  const char *pool = node_label(n, "karpenter.sh/nodepool");
  h->name = strdup(n->name);
  h->type = strdup(type ? type : "unknown");
  h->capacity_type = strdup(ct ? ct : NW_CAPACITY_ON_DEMAND);
  h->zone = strdup(zone ? zone : "");
  h->nodepool = pool ? strdup(pool) : NULL;
  h->price = nw__world_price(w, h->type, h->zone, h->capacity_type);
  if (h->price < 0)
    h->price = 0;
  h->start_ms = now(w);
  h->end_ms = -1;
  n->hist = w->n_history++;
  if (h->nodepool)
    note_joined(w, n, h);
  if (++w->live_nodes > w->peak_nodes)
    w->peak_nodes = w->live_nodes;
}

static void node_added(nw__world *w, const json_t *obj) {
  snode *n = calloc(1, sizeof(*n));
  if (!n)
    abort();
  n->name = strdup(nw__obj_name(obj));
  node_decode(w, n, obj);
  if (!n->dec) {
    free(n->name);
    free(n);
    return;
  }
  GROW(w->nodes, w->n_nodes, w->cap_nodes);
  w->nodes[w->n_nodes++] = n;
  map_put(w->node_map, n->name, n);
  history_open(w, n);
  w->ds_dirty = 1;
  w->sched_dirty = 1;
}

static void node_removed(nw__world *w, const char *name) {
  snode *n = node_find(w, name);
  if (!n)
    return;
  json_object_del(w->node_map, name);
  for (size_t i = 0; i < w->n_nodes; i++) {
    if (w->nodes[i] == n) {
      memmove(&w->nodes[i], &w->nodes[i + 1],
              (w->n_nodes - i - 1) * sizeof(*w->nodes));
      w->n_nodes--;
      break;
    }
  }
  /* The pod garbage collector deletes pods bound to a node that is gone;
   * their controllers replace them. */
  while (n->n_pods > 0) {
    spod *p = n->pods[n->n_pods - 1];
    node_detach(p);
    if (p->wl >= 0)
      pending_add(w, p);
    GROW(w->orphans, w->n_orphans, w->cap_orphans);
    w->orphans[w->n_orphans++] = p;
  }
  node_life *h = &w->history[n->hist];
  h->end_ms = now(w);
  w->live_nodes--;
  if (h->nodepool) {
    char text[400];
    snprintf(text, sizeof(text), "%s %s left after %.0f min ($%.4f/h)",
             h->type, h->capacity_type,
             (double)(h->end_ms - h->start_ms) / 60000.0, h->price);
    note(w, "Node", n->name, "Normal", "NodeLeft", text);
  }
  free(n->pods);
  nw__arena_free(n->arena);
  free(n->name);
  free(n);
  w->sched_dirty = 1;
}

/* ---- pod bookkeeping --------------------------------------------------- */

static void pod_forget(nw__world *w, spod *p) {
  node_detach(p);
  pending_drop(w, p);
  if (p->wl >= 0) {
    wstate *ws = &w->wls[p->wl];
    spod *last = ws->pods[--ws->n_pods];
    ws->pods[p->wl_slot] = last;
    last->wl_slot = p->wl_slot;
    ws->pdb_dirty = 1;
    w->wl_dirty = 1;
  }
  for (size_t i = 0; i < w->n_orphans; i++) {
    if (w->orphans[i] == p) {
      w->orphans[i] = w->orphans[--w->n_orphans];
      break;
    }
  }
  json_object_del(w->pod_map, p->key);
  free(p->key);
  free(p->name);
  free(p);
  w->sched_dirty = 1;
}

static void on_store(void *user, nw__kind kind, const json_t *old_obj,
                     const json_t *new_obj) {
  nw__world *w = user;
  if (kind == NW__K_POD && !new_obj) {
    char key[512];
    snprintf(key, sizeof(key), "%s/%s", nw__obj_ns(old_obj),
             nw__obj_name(old_obj));
    spod *p = map_get(w->pod_map, key);
    if (p)
      pod_forget(w, p);
  } else if (kind == NW__K_NODE && !new_obj) {
    node_removed(w, nw__obj_name(old_obj));
  } else if (kind == NW__K_NODE && !old_obj) {
    node_added(w, new_obj);
  } else if (kind == NW__K_NODE) {
    snode *n = node_find(w, nw__obj_name(new_obj));
    if (n)
      node_decode(w, n, new_obj);
  } else {
    return;
  }
  arm_tick(w);
}

/* ---- creating and deleting pods --------------------------------------- */

static spod *pod_new(nw__world *w, const nw__pod *tmpl, const char *name,
                     const char *ns) {
  spod *p = calloc(1, sizeof(*p));
  if (!p)
    abort();
  size_t kl = strlen(ns) + strlen(name) + 2;
  p->key = malloc(kl);
  snprintf(p->key, kl, "%s/%s", ns, name);
  p->name = strdup(name);
  p->ns = ns;
  p->wl = -1;
  p->ds = -1;
  p->pending_slot = NO_SLOT;
  p->created_ms = now(w);
  p->bound_ms = -1;
  p->seq = w->pod_seq++;
  p->pod = *tmpl;
  p->pod.name = p->name;
  p->pod.namespace_ = ns;
  p->pod.creation_ms = p->created_ms;
  p->pod.node_name = NULL;
  map_put(w->pod_map, p->key, p);
  w->pods_created++;
  return p;
}

/* The Pod object of a template: metadata from the template plus identity
 * and owner, the template's spec, status Pending.  It shares all but its
 * top level and metadata with the template (create copies it), so callers
 * change only those. */
static json_t *pod_object(const json_t *tmpl, const char *name, const char *ns,
                          const char *owner_kind, const char *owner) {
  json_t *obj = json_copy((json_t *)tmpl);
  json_object_set_new(obj, "apiVersion", json_string("v1"));
  json_object_set_new(obj, "kind", json_string("Pod"));
  json_t *md = json_object_get(obj, "metadata");
  md = json_is_object(md) ? json_copy(md) : json_object();
  json_object_set_new(obj, "metadata", md);
  json_object_set_new(md, "name", json_string(name));
  json_object_set_new(md, "namespace", json_string(ns));
  json_object_set_new(md, "ownerReferences",
                      json_pack("[{s:s, s:s, s:s, s:b}]", "apiVersion",
                                "apps/v1", "kind", owner_kind, "name", owner,
                                "controller", 1));
  json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Pending"));
  return obj;
}

static void workload_add_pod(nw__world *w, size_t i) {
  wstate *ws = &w->wls[i];
  char name[256];
  snprintf(name, sizeof(name), "%s-%05llu", ws->spec->name,
           (unsigned long long)ws->name_seq++);
  spod *p = pod_new(w, &ws->tmpl, name, ws->spec->namespace_);
  p->wl = (int)i;
  GROW(ws->pods, ws->n_pods, ws->cap_pods);
  p->wl_slot = ws->n_pods;
  ws->pods[ws->n_pods++] = p;
  pending_add(w, p);
  char owner[256];
  snprintf(owner, sizeof(owner), "%s-rs", ws->spec->name);
  json_t *obj = pod_object(ws->spec->pod_template, name, ws->spec->namespace_,
                           "ReplicaSet", owner);
  w->env->ops->create(w->env, NW__K_POD, obj, ignore_done, NULL);
  json_decref(obj);
  w->sched_dirty = 1;
}

/* ReplicaSet's deletion order: unscheduled, then not ready, then the
 * newest. */
static int victim_cmp(const void *a, const void *b) {
  const spod *x = *(spod *const *)a, *y = *(spod *const *)b;
  if (!x->node != !y->node)
    return x->node ? 1 : -1;
  if (x->ready != y->ready)
    return x->ready ? 1 : -1;
  return x->seq < y->seq ? 1 : (x->seq > y->seq ? -1 : 0);
}

/* Writes the first k (at most n) of pods (n of them) in victim order to
 * out (room for n).  A scale-down usually deletes a few pods of many:
 * keeping the k best in order costs O(n k), not a sort of all. */
static void first_victims(spod *const *pods, size_t n, size_t k,
                          spod **out) {
  if (k == 0)
    return;
  if (k > 32) {
    memcpy(out, pods, n * sizeof(*out));
    qsort(out, n, sizeof(*out), victim_cmp);
    return;
  }
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    spod *p = pods[i];
    if (len == k && victim_cmp(&p, &out[len - 1]) >= 0)
      continue;
    size_t j = len < k ? len++ : len - 1;
    for (; j > 0 && victim_cmp(&p, &out[j - 1]) < 0; j--)
      out[j] = out[j - 1];
    out[j] = p;
  }
}

static void workload_reconcile(nw__world *w, size_t i) {
  wstate *ws = &w->wls[i];
  while ((int32_t)ws->n_pods < ws->desired)
    workload_add_pod(w, i);
  if ((int32_t)ws->n_pods <= ws->desired)
    return;
  size_t extra = ws->n_pods - (size_t)ws->desired;
  spod **v = malloc(ws->n_pods * sizeof(*v));
  first_victims(ws->pods, ws->n_pods, extra, v);
  char **names = malloc(extra * sizeof(*names));
  for (size_t k = 0; k < extra; k++)
    names[k] = strdup(v[k]->name);
  free(v);
  /* Deleting changes ws->pods through the store watch, so the victims
   * are chosen first. */
  for (size_t k = 0; k < extra; k++) {
    w->env->ops->remove(w->env, NW__K_POD, ws->spec->namespace_, names[k],
                        ignore_done, NULL);
    free(names[k]);
  }
  free(names);
}

/* ---- the mini kube-scheduler ---------------------------------------------- */

static void pod_started(void *arg);

typedef struct start_ctx {
  nw__world *w;
  char *key;
} start_ctx;

static void bind(nw__world *w, spod *p, snode *n) {
  json_t *spec = json_pack("{s:{s:s}}", "spec", "nodeName", n->name);
  w->env->ops->patch(w->env, NW__K_POD, p->ns, p->name, spec, 0, ignore_done,
                     NULL);
  json_decref(spec);
  char ts[32];
  nw__rfc3339(now(w), ts, sizeof(ts));
  json_t *st = json_pack("{s:{s:[{s:s, s:s, s:s}]}}", "status", "conditions",
                         "type", "PodScheduled", "status", "True",
                         "lastTransitionTime", ts);
  w->env->ops->patch(w->env, NW__K_POD, p->ns, p->name, st, 1, ignore_done,
                     NULL);
  json_decref(st);
  node_attach(n, p);
  pending_drop(w, p);
  p->pod.node_name = n->name;
  p->bound_ms = now(w);
  GROW(w->pending_s, w->n_pending_s, w->cap_pending_s);
  w->pending_s[w->n_pending_s++] = (double)(p->bound_ms - p->created_ms) / 1e3;
  int64_t startup = p->wl >= 0 ? w->wls[p->wl].spec->pod_startup_ms : 1000;
  /* Timer contexts live in the world's arena, so timers still pending
   * when the run ends are not leaks. */
  start_ctx *sc = nw__arena_alloc(w->arena, sizeof(*sc));
  sc->w = w;
  sc->key = nw__arena_strdup(w->arena, p->key);
  w->env->ops->timer_start(w->env, startup, pod_started, sc);
}

static void mark_unschedulable(nw__world *w, spod *p, const char *why) {
  if (p->unsched_marked)
    return;
  p->unsched_marked = 1;
  char ts[32], msg[512];
  nw__rfc3339(now(w), ts, sizeof(ts));
  snprintf(msg, sizeof(msg), "0/%zu nodes are available: %s", w->n_nodes,
           why ? why : "no node has room");
  json_t *st = json_pack(
      "{s:{s:s, s:[{s:s, s:s, s:s, s:s, s:s}]}}", "status", "phase",
      "Pending", "conditions", "type", "PodScheduled", "status", "False",
      "reason", "Unschedulable", "message", msg, "lastTransitionTime", ts);
  w->env->ops->patch(w->env, NW__K_POD, p->ns, p->name, st, 1, ignore_done,
                     NULL);
  json_decref(st);
}

/* The kube-scheduler's queue order: higher priority first, then the
 * earlier arrival. */
static int queue_cmp(const void *a, const void *b) {
  const spod *x = *(spod *const *)a, *y = *(spod *const *)b;
  if (x->pod.priority != y->pod.priority)
    return x->pod.priority > y->pod.priority ? -1 : 1;
  return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Pods waiting for a node, in the kube-scheduler's queue order. */
static size_t collect_pending(nw__world *w, spod ***out) {
  size_t n = w->n_pending;
  spod **v = malloc((n + 1) * sizeof(*v));
  if (!v)
    abort();
  memcpy(v, w->pending, n * sizeof(*v));
  if (n > 1)
    qsort(v, n, sizeof(*v), queue_cmp);
  *out = v;
  return n;
}

static int looks_around(const nw__pod *p) {
  return p->affinity.len || p->preferred_affinity.len || p->anti_affinity.len ||
         p->preferred_anti_affinity.len || p->n_spreads;
}

/* The least any pending pod asks of each of fit_res. */
static void least_asked(spod *const *pending, size_t n, int64_t least[N_FIT_RES]) {
  for (int r = 0; r < N_FIT_RES; r++) {
    least[r] = INT64_MAX;
    for (size_t i = 0; i < n; i++) {
      int64_t v = nw__resources_get(&pending[i]->pod.requests, fit_res[r]);
      if (v < least[r])
        least[r] = v;
    }
  }
}

/* The node certainly has no room for any pending pod: what is left of
 * one of its allocatable resources is below the least any of them asks. */
static int no_room(const snode *n, const int64_t least[N_FIT_RES]) {
  for (int r = 0; r < N_FIT_RES; r++) {
    const nw_resource_list *alloc = &n->dec->allocatable;
    int listed = 0;
    for (size_t k = 0; k < alloc->len && !listed; k++)
      listed = strcmp(alloc->items[k].name, fit_res[r]) == 0;
    if (!listed || least[r] <= 0)
      continue;
    int64_t left = nw__resources_get(alloc, fit_res[r]) - n->asked[r];
    if (left < least[r])
      return 1;
  }
  return 0;
}

static void schedule_pass(nw__world *w) {
  spod **pending;
  size_t n_pending = collect_pending(w, &pending);
  if (n_pending == 0) {
    free(pending);
    return;
  }
  int64_t least[N_FIT_RES];
  least_asked(pending, n_pending, least);
  nw_arena *a = nw__arena_new();
  nw__sched_node *nodes = nw__arena_alloc(a, (w->n_nodes + 1) * sizeof(*nodes));
  snode **which = nw__arena_alloc(a, (w->n_nodes + 1) * sizeof(*which));
  size_t nn = 0;
  for (size_t i = 0; i < w->n_nodes; i++) {
    snode *n = w->nodes[i];
    if (!n->usable || (w->independent && no_room(n, least)))
      continue;
    const nw__pod **pods = nw__arena_alloc(a, (n->n_pods + 1) * sizeof(*pods));
    for (size_t k = 0; k < n->n_pods; k++)
      pods[k] = &n->pods[k]->pod;
    nodes[nn].node = n->dec;
    nodes[nn].n_pods = n->n_pods;
    nodes[nn].pods = pods;
    which[nn++] = n;
  }
  const nw__pod **pp = nw__arena_alloc(a, n_pending * sizeof(*pp));
  for (size_t i = 0; i < n_pending; i++)
    pp[i] = &pending[i]->pod;
  nw__sched_input in = {0};
  in.n_nodes = nn;
  in.nodes = nodes;
  nw_error err = {0};
  nw__scheduler *s = nw__scheduler_new(&in, &err);
  nw__sched_opts opts = {0};
  opts.no_new_claims = 1;
  opts.keep_order = 1;
  /* Only the first failure of a pod is reported (mark_unschedulable). */
  opts.no_errors = 1;
  for (size_t i = 0; i < n_pending && opts.no_errors; i++)
    opts.no_errors = pending[i]->unsched_marked;
  nw__sched_result *r =
      s ? nw__scheduler_solve(s, pp, n_pending, &opts, a, &err) : NULL;
  for (size_t i = 0; r && i < r->n_placements; i++) {
    const nw__sched_placement *pl = &r->placements[i];
    /* Placements hold the caller's pod pointers, which live in spods. */
    spod *p = (spod *)((char *)pl->pod - offsetof(spod, pod));
    if (pl->kind == NW__PLACE_NODE)
      bind(w, p, which[pl->index]);
    else
      mark_unschedulable(w, p, pl->error);
  }
  if (!r) {
    for (size_t i = 0; i < n_pending; i++)
      mark_unschedulable(w, pending[i], err.message);
  }
  nw__scheduler_free(s);
  nw__arena_free(a);
  free(pending);
}

static void pod_started(void *arg) {
  start_ctx *c = arg;
  nw__world *w = c->w;
  spod *p = map_get(w->pod_map, c->key);
  if (!p || !p->node)
    return;
  char ts[32];
  nw__rfc3339(now(w), ts, sizeof(ts));
  json_t *st = json_pack(
      "{s:{s:s, s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}]}}", "status",
      "phase", "Running", "startTime", ts, "conditions", "type",
      "PodScheduled", "status", "True", "lastTransitionTime", ts, "type",
      "Ready", "status", "True", "lastTransitionTime", ts);
  w->env->ops->patch(w->env, NW__K_POD, p->ns, p->name, st, 1, ignore_done,
                     NULL);
  json_decref(st);
  p->ready = 1;
  if (p->wl >= 0)
    w->wls[p->wl].pdb_dirty = 1;
  arm_tick(w);
}

/* ---- daemonsets ------------------------------------------------------------ */

static int ds_fits(const dstate *d, const snode *n) {
  for (size_t i = 0; i < d->tmpl.node_selector.len; i++) {
    const nw_kv *kv = &d->tmpl.node_selector.items[i];
    const char *v = nw__labels_get(&n->dec->labels, kv->key);
    if (!v || strcmp(v, kv->value) != 0)
      return 0;
  }
  for (size_t i = 0; i < n->dec->taints.len; i++) {
    const nw_taint *t = &n->dec->taints.items[i];
    if (t->effect == NW_TAINT_PREFER_NO_SCHEDULE)
      continue;
    if (!nw__tolerates(d->tmpl.tolerations, d->tmpl.n_tolerations, t))
      return 0;
  }
  return 1;
}

static void daemonsets_reconcile(nw__world *w) {
  for (size_t i = 0; i < w->n_nodes; i++) {
    snode *n = w->nodes[i];
    if (n->ds_done || n->dec->terminating)
      continue;
    n->ds_done = 1;
    for (size_t d = 0; d < w->n_dss; d++) {
      dstate *ds = &w->dss[d];
      if (!ds_fits(ds, n))
        continue;
      char name[512];
      snprintf(name, sizeof(name), "%s-%s", ds->name, n->name);
      spod *p = pod_new(w, &ds->tmpl, name, ds->ns);
      p->ds = (int)d;
      json_t *obj = pod_object(
          json_object_get(json_object_get(ds->obj, "spec"), "template"), name,
          ds->ns, "DaemonSet", ds->name);
      json_t *spec = json_copy(json_object_get(obj, "spec"));
      json_object_set_new(spec, "nodeName", json_string(n->name));
      json_object_set_new(obj, "spec", spec);
      json_object_set_new(obj, "status",
                          json_pack("{s:s}", "phase", "Running"));
      w->env->ops->create(w->env, NW__K_POD, obj, ignore_done, NULL);
      json_decref(obj);
      node_attach(n, p);
      p->pod.node_name = n->name;
      p->bound_ms = now(w);
      p->ready = 1;
    }
  }
}

/* ---- PodDisruptionBudgets (kube-controller-manager's disruption) ------------ */

static int64_t pdb_value(const json_t *v, int32_t expected, int round_up) {
  if (json_is_integer(v))
    return json_integer_value(v);
  double pct = atof(json_string_value(v));
  double x = pct * expected / 100.0;
  return (int64_t)(round_up ? ceil(x) : floor(x));
}

static void pdb_update(nw__world *w, size_t i) {
  wstate *ws = &w->wls[i];
  ws->pdb_dirty = 0;
  if (!ws->spec->pdb)
    return;
  int32_t healthy = 0;
  for (size_t k = 0; k < ws->n_pods; k++)
    healthy += ws->pods[k]->ready && ws->pods[k]->node;
  const json_t *spec = json_object_get(ws->spec->pdb, "spec");
  const json_t *min = json_object_get(spec, "minAvailable");
  const json_t *max = json_object_get(spec, "maxUnavailable");
  int64_t desired = min ? pdb_value(min, ws->desired, 1)
                        : ws->desired - pdb_value(max, ws->desired, 1);
  int64_t allowed = healthy - desired;
  if (allowed < 0)
    allowed = 0;
  json_t *st = json_pack("{s:{s:I, s:I, s:I, s:i}}", "status",
                         "disruptionsAllowed", (json_int_t)allowed,
                         "currentHealthy", (json_int_t)healthy,
                         "desiredHealthy", (json_int_t)desired,
                         "expectedPods", ws->desired);
  w->env->ops->patch(w->env, NW__K_PDB, ws->spec->namespace_, ws->spec->name,
                     st, 1, ignore_done, NULL);
  json_decref(st);
}

/* ---- the tick -------------------------------------------------------------- */

static void tick(void *arg) {
  nw__world *w = arg;
  w->tick = NULL;
  while (w->n_orphans > 0) {
    spod *p = w->orphans[w->n_orphans - 1];
    char *ns = strdup(p->ns), *name = strdup(p->name);
    w->n_orphans--;
    /* Removing fires the watch, which frees p. */
    w->env->ops->remove(w->env, NW__K_POD, ns, name, ignore_done, NULL);
    free(ns);
    free(name);
  }
  if (w->ds_dirty) {
    w->ds_dirty = 0;
    daemonsets_reconcile(w);
  }
  if (w->wl_dirty) {
    w->wl_dirty = 0;
    for (size_t i = 0; i < w->sc->n_workloads; i++)
      workload_reconcile(w, i);
  }
  if (w->sched_dirty) {
    w->sched_dirty = 0;
    schedule_pass(w);
  }
  for (size_t i = 0; i < w->sc->n_workloads; i++)
    if (w->wls[i].pdb_dirty)
      pdb_update(w, i);
}

static void arm_tick(nw__world *w) {
  if (!w->tick)
    w->tick = w->env->ops->timer_start(w->env, 0, tick, w);
}

/* ---- replicas over time: schedules and the HPA ------------------------------ */

typedef struct wl_timer {
  nw__world *w;
  size_t i;
} wl_timer;

static void set_desired(nw__world *w, size_t i, int32_t d) {
  if (w->wls[i].desired == d)
    return;
  w->wls[i].desired = d;
  w->wls[i].pdb_dirty = 1;
  w->wl_dirty = 1;
  arm_tick(w);
}

static void schedule_fire(void *arg) {
  wl_timer *t = arg;
  nw__world *w = t->w;
  const nw__sim_workload *spec = w->wls[t->i].spec;
  int64_t rel = now(w) - w->t0;
  set_desired(w, t->i, (int32_t)llround(nw__sim_curve_at(&spec->schedule, rel)));
  /* The next change point. */
  for (size_t k = 0; k < spec->schedule.len; k++) {
    if (spec->schedule.items[k].at_ms > rel) {
      int64_t delay = spec->schedule.items[k].at_ms - rel;
      if (spec->schedule.linear && delay > 60000)
        delay = 60000;
      w->env->ops->timer_start(w->env, delay, schedule_fire, t);
      return;
    }
  }
}

static int32_t clamp32(int64_t v, int32_t lo, int32_t hi) {
  return (int32_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* One HPA sync (autoscaling/v2 replica calculator with the default
 * behavior: scale up by max(100%, 4 pods) per 15 s, down by 100% per
 * 15 s, and the stabilisation windows). */
static void hpa_sync(void *arg) {
  wl_timer *t = arg;
  nw__world *w = t->w;
  wstate *ws = &w->wls[t->i];
  const nw__sim_hpa *h = &ws->spec->hpa;
  int64_t tnow = now(w);
  double load = nw__sim_curve_at(&ws->spec->load, tnow - w->t0);
  int32_t ready = 0;
  for (size_t k = 0; k < ws->n_pods; k++)
    ready += ws->pods[k]->ready;
  int32_t current = ws->desired;
  int32_t rec = current;
  if (ready > 0) {
    double util = load / (ready * h->pod_capacity_rps) * 100.0;
    double ratio = util / h->target_utilization;
    if (fabs(ratio - 1.0) > h->tolerance)
      rec = (int32_t)ceil(ratio * ready);
  } else if (load <= 0) {
    rec = h->min_replicas;
  }
  rec = clamp32(rec, h->min_replicas, h->max_replicas);
  /* Stabilisation: remember recommendations; scale down to the highest
   * of the down window, up to the lowest of the up window. */
  if (ws->n_recs == MAX_RECS) {
    memmove(ws->recs, ws->recs + 1, (MAX_RECS - 1) * sizeof(*ws->recs));
    ws->n_recs--;
  }
  ws->recs[ws->n_recs++] = (hpa_rec){tnow, rec};
  int64_t keep = h->scale_down_window_ms > h->scale_up_window_ms
                     ? h->scale_down_window_ms
                     : h->scale_up_window_ms;
  size_t drop = 0;
  while (drop < ws->n_recs && ws->recs[drop].at < tnow - keep)
    drop++;
  memmove(ws->recs, ws->recs + drop, (ws->n_recs - drop) * sizeof(*ws->recs));
  ws->n_recs -= drop;
  int32_t up = rec, down = rec;
  for (size_t k = 0; k < ws->n_recs; k++) {
    if (ws->recs[k].at >= tnow - h->scale_up_window_ms && ws->recs[k].value < up)
      up = ws->recs[k].value;
    if (ws->recs[k].at >= tnow - h->scale_down_window_ms &&
        ws->recs[k].value > down)
      down = ws->recs[k].value;
  }
  int32_t desired = current;
  if (rec > current) {
    int32_t limit = current * 2 > current + HPA_UP_PODS ? current * 2
                                                         : current + HPA_UP_PODS;
    desired = up > limit ? limit : up;
    if (desired < current)
      desired = current;
  } else if (rec < current) {
    desired = down < current ? down : current;
  }
  set_desired(w, t->i, clamp32(desired, h->min_replicas, h->max_replicas));
  w->env->ops->timer_start(w->env, h->sync_ms, hpa_sync, t);
}

/* ---- scenario events: interruptions and failures ----------------------------- */

static int selector_matches(const json_t *sel, const snode *n) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)sel, k, v) {
    const char *have = node_label(n, k);
    const char *want = json_string_value(v);
    char buf[32];
    if (!want && json_is_integer(v)) {
      snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
      want = buf;
    }
    if (!have || !want || strcmp(have, want) != 0)
      return 0;
  }
  return 1;
}

typedef struct evict_ctx {
  nw__world *w;
  char *node;
} evict_ctx;

/* The taint manager: pods on an unreachable node that do not tolerate it
 * are deleted once the default 300 s toleration runs out. */
static void noexecute_evict(void *arg) {
  evict_ctx *c = arg;
  nw__world *w = c->w;
  snode *n = node_find(w, c->node);
  if (!n || n->ready)
    return;
  size_t cnt = 0;
  char **names = malloc((n->n_pods + 1) * sizeof(*names));
  const char **nss = malloc((n->n_pods + 1) * sizeof(*nss));
  for (size_t k = 0; k < n->n_pods; k++) {
    if (n->pods[k]->ds >= 0)
      continue;
    names[cnt] = strdup(n->pods[k]->name);
    nss[cnt++] = n->pods[k]->ns;
  }
  for (size_t k = 0; k < cnt; k++) {
    w->env->ops->remove(w->env, NW__K_POD, nss[k], names[k], ignore_done,
                        NULL);
    free(names[k]);
  }
  free(names);
  free(nss);
}

/* The kubelet stops reporting: Ready Unknown, the unreachable taints, and
 * the taint manager's timer. */
static void node_unreachable(nw__world *w, snode *n) {
  json_t *cur = nw__store_get(w->env->store, NW__K_NODE, NULL, n->name);
  if (!cur)
    return;
  json_t *st = json_pack(
      "{s:{s:o}}", "status", "conditions",
      nw__cond_with(cur, "Ready", "Unknown", "NodeStatusUnknown",
                    "Kubelet stopped posting node status.", now(w)));
  w->env->ops->patch(w->env, NW__K_NODE, NULL, n->name, st, 1, ignore_done,
                     NULL);
  json_decref(st);
  cur = nw__store_get(w->env->store, NW__K_NODE, NULL, n->name);
  json_t *taints = json_deep_copy(
      json_object_get(json_object_get(cur, "spec"), "taints"));
  if (!taints)
    taints = json_array();
  if (!nw__has_taint(cur, "node.kubernetes.io/unreachable")) {
    json_array_append_new(taints, json_pack("{s:s, s:s}", "key",
                                            "node.kubernetes.io/unreachable",
                                            "effect", "NoExecute"));
    json_array_append_new(taints, json_pack("{s:s, s:s}", "key",
                                            "node.kubernetes.io/unreachable",
                                            "effect", "NoSchedule"));
  }
  json_t *p = json_pack("{s:{s:o}}", "spec", "taints", taints);
  w->env->ops->patch(w->env, NW__K_NODE, NULL, n->name, p, 0, ignore_done,
                     NULL);
  json_decref(p);
  evict_ctx *c = nw__arena_alloc(w->arena, sizeof(*c));
  c->w = w;
  c->node = nw__arena_strdup(w->arena, n->name);
  w->env->ops->timer_start(w->env, NOEXECUTE_EVICT_MS, noexecute_evict, c);
}

typedef struct ev_timer {
  nw__world *w;
  const nw__sim_event *ev;
} ev_timer;

static void note(nw__world *w, const char *kind, const char *name,
                 const char *type, const char *reason, const char *text) {
  json_array_append_new(
      w->decisions,
      json_pack("{s:f, s:s, s:s, s:s, s:s, s:s}", "t",
                (double)(now(w) - w->t0) / 1e3, "kind", kind, "name", name,
                "type", type, "reason", reason, "note", text));
}

static void event_fire(void *arg) {
  ev_timer *t = arg;
  nw__world *w = t->w;
  const nw__sim_event *ev = t->ev;
  int hit = 0;
  for (size_t i = 0; i < w->n_nodes && hit < ev->count; i++) {
    snode *n = w->nodes[i];
    if (ev->node && strcmp(ev->node, n->name) != 0)
      continue;
    if (ev->selector && !selector_matches(ev->selector, n))
      continue;
    if (!n->ready || n->dec->terminating)
      continue;
    char text[400];
    if (ev->kind == NW__SIM_SPOT_INTERRUPTION) {
      if (!w->provider || !n->dec->provider_id ||
          nw__sim_provider_interrupt(w->provider, n->dec->provider_id) != 0)
        continue;
      snprintf(text, sizeof(text), "spot interruption warning for %s; the "
               "instance terminates in %llds", n->name,
               (long long)(w->sc->interruption_notice_ms / 1000));
      note(w, "Node", n->name, "Warning", "SimulatedSpotInterruption", text);
    } else if (ev->kind == NW__SIM_INSTANCE_STOPPED) {
      if (!w->provider || !n->dec->provider_id ||
          nw__sim_provider_stop(w->provider, n->dec->provider_id) != 0)
        continue;
      snprintf(text, sizeof(text), "the cloud stops the instance of %s",
               n->name);
      note(w, "Node", n->name, "Warning", "SimulatedInstanceStop", text);
    } else {
      snprintf(text, sizeof(text), "node %s failed (kubelet stopped "
               "reporting)", n->name);
      note(w, "Node", n->name, "Warning", "SimulatedNodeFailure", text);
      node_unreachable(w, n);
    }
    hit++;
  }
  if (hit < ev->count) {
    char text[200];
    snprintf(text, sizeof(text), "%s:%d:%d: event matched %d of %d nodes",
             w->sc->file, ev->line, ev->column, hit, ev->count);
    note(w, "Scenario", "events", "Warning", "EventUnmatched", text);
  }
}

/* ---- the cloud --------------------------------------------------------------- */

double nw__world_price(nw__world *w, const char *type, const char *zone,
                       const char *ct) {
  nw__plugin_set *ps = w->env->plugins;
  for (size_t i = 0; ps && i < nw__plugins_count(ps); i++) {
    nw__plugin *p = nw__plugins_at(ps, i);
    const nw_pricing_vtable *vt = nw__plugin_pricing(p);
    double usd;
    nw_error e = {0};
    if (vt && vt->price(nw__plugin_state(p), type, zone, ct, &usd, &e) == NW_OK)
      return usd;
  }
  for (size_t i = 0; i < w->types->len; i++) {
    const nw_instance_type *it = &w->types->items[i];
    if (strcmp(it->name, type) != 0)
      continue;
    for (size_t o = 0; o < it->n_offerings; o++) {
      const nw_offering *of = &it->offerings[o];
      if (strcmp(of->capacity_type, ct) == 0 &&
          (!zone || !*zone || strcmp(of->zone, zone) == 0))
        return of->price;
    }
  }
  return -1;
}

const nw_instance_types *nw__world_types(const nw__world *w) {
  return w->types;
}

static const nw_instance_type *find_type(const nw__world *w, const char *name) {
  for (size_t i = 0; i < w->types->len; i++)
    if (strcmp(w->types->items[i].name, name) == 0)
      return &w->types->items[i];
  return NULL;
}

/* A Node object for an instance: labels from the type, the offering and
 * the caller; capacity and allocatable from the type; Ready. */
static json_t *node_object(nw__world *w, const char *name, const char *pid,
                           const nw_instance_type *it, const char *zone,
                           const char *ct, const json_t *labels,
                           const json_t *taints) {
  json_t *l = json_object();
  for (size_t i = 0; i < it->requirements.len; i++) {
    const nw_requirement *r = &it->requirements.items[i];
    if (r->op == NW_OP_IN && r->n_values == 1)
      json_object_set_new(l, r->key, json_string(r->values[0]));
  }
  json_object_set_new(l, "node.kubernetes.io/instance-type",
                      json_string(it->name));
  json_object_set_new(l, "topology.kubernetes.io/zone", json_string(zone));
  json_object_set_new(l, "karpenter.sh/capacity-type", json_string(ct));
  json_object_set_new(l, "kubernetes.io/hostname", json_string(name));
  json_object_set_new(l, "kubernetes.io/os", json_string("linux"));
  if (labels)
    json_object_update(l, (json_t *)labels);
  json_t *cap = json_object(), *alloc = json_object();
  for (size_t i = 0; i < it->capacity.len; i++) {
    const char *rn = it->capacity.items[i].name;
    char buf[64];
    nw__quantity_format(rn, it->capacity.items[i].value, buf, sizeof(buf));
    json_object_set_new(cap, rn, json_string(buf));
    nw__quantity_format(rn, nw__instance_type_allocatable(it, rn), buf,
                        sizeof(buf));
    json_object_set_new(alloc, rn, json_string(buf));
  }
  char ts[32];
  nw__rfc3339(now(w), ts, sizeof(ts));
  json_t *spec = json_object();
  if (pid)
    json_object_set_new(spec, "providerID", json_string(pid));
  json_object_set_new(spec, "taints", taints ? json_deep_copy(taints)
                                             : json_array());
  return json_pack(
      "{s:s, s:s, s:{s:s, s:o}, s:o, s:{s:o, s:o, s:[{s:s, s:s, s:s, s:s}]}}",
      "apiVersion", "v1", "kind", "Node", "metadata", "name", name, "labels",
      l, "spec", spec, "status", "capacity", cap, "allocatable", alloc,
      "conditions", "type", "Ready", "status", "True", "reason",
      "KubeletReady", "lastTransitionTime", ts);
}

typedef struct boot_ctx {
  nw__world *w;
  char *pid, *type, *zone, *ct;
  char *labels, *taints;   /* JSON text */
} boot_ctx;

static void boot_done(void *arg) {
  boot_ctx *b = arg;
  nw__world *w = b->w;
  const nw_instance_type *it = find_type(w, b->type);
  /* Terminated before it booted: no Node. */
  if (it && (!w->provider || nw__sim_provider_alive(w->provider, b->pid)) &&
      !nw__store_by_provider_id(w->env->store, NW__K_NODE, b->pid)) {
    uint64_t k = ++w->node_seq;
    char name[96];
    snprintf(name, sizeof(name), "ip-10-%u-%u-%u.ec2.internal",
             (unsigned)(k >> 16) & 0xff, (unsigned)(k >> 8) & 0xff,
             (unsigned)k & 0xff);
    json_t *labels = json_loads(b->labels, 0, NULL);
    json_t *taints = json_loads(b->taints, 0, NULL);
    json_t *obj = node_object(w, name, b->pid, it, b->zone, b->ct, labels,
                              taints);
    w->env->ops->create(w->env, NW__K_NODE, obj, ignore_done, NULL);
    json_decref(obj);
    json_decref(labels);
    json_decref(taints);
  }
}

void nw__world_instance_launched(nw__world *w, const char *pid,
                                 const char *type, const char *zone,
                                 const char *ct, const json_t *labels,
                                 const json_t *taints) {
  boot_ctx *b = nw__arena_alloc(w->arena, sizeof(*b));
  b->w = w;
  b->pid = nw__arena_strdup(w->arena, pid);
  b->type = nw__arena_strdup(w->arena, type);
  b->zone = nw__arena_strdup(w->arena, zone);
  b->ct = nw__arena_strdup(w->arena, ct);
  char *l = json_dumps(labels ? labels : json_object(), JSON_COMPACT);
  char *t = taints ? json_dumps(taints, JSON_COMPACT) : NULL;
  b->labels = nw__arena_strdup(w->arena, l);
  b->taints = nw__arena_strdup(w->arena, t ? t : "[]");
  free(l);
  free(t);
  w->env->ops->timer_start(w->env, w->sc->boot_ms, boot_done, b);
}

typedef struct gone_ctx {
  nw__world *w;
  char *pid;
} gone_ctx;

static void gone_fire(void *arg) {
  gone_ctx *g = arg;
  json_t *node = nw__store_by_provider_id(g->w->env->store, NW__K_NODE, g->pid);
  snode *n = node ? node_find(g->w, nw__obj_name(node)) : NULL;
  if (n && n->ready)
    node_unreachable(g->w, n);
}

void nw__world_instance_gone(nw__world *w, const char *pid) {
  /* Provider calls run inside submit(); the Node changes on the loop. */
  gone_ctx *g = nw__arena_alloc(w->arena, sizeof(*g));
  g->w = w;
  g->pid = nw__arena_strdup(w->arena, pid);
  w->env->ops->timer_start(w->env, 0, gone_fire, g);
}

/* ---- startup taints ------------------------------------------------------------- */

/* Removes, from registered nodes, the startup taints their claims list,
 * as the agents that own them would once running. */
static void startup_taints(void *arg) {
  nw__world *w = arg;
  for (size_t i = 0; i < w->n_nodes; i++) {
    snode *n = w->nodes[i];
    /* Each node once, after the lifecycle controller registered it. */
    if (n->startup_done || !n->dec->provider_id || !*n->dec->provider_id ||
        !node_label(n, "karpenter.sh/registered"))
      continue;
    n->startup_done = 1;
    json_t *claim = nw__store_by_provider_id(w->env->store, NW__K_NODECLAIM,
                                             n->dec->provider_id);
    const json_t *st =
        json_object_get(json_object_get(claim, "spec"), "startupTaints");
    if (json_array_size(st) == 0)
      continue;
    json_t *cur = nw__store_get(w->env->store, NW__K_NODE, NULL, n->name);
    const json_t *have = json_object_get(json_object_get(cur, "spec"), "taints");
    json_t *keep = json_array();
    size_t k, j;
    const json_t *t, *s;
    int removed = 0;
    json_array_foreach(have, k, t) {
      int startup = 0;
      json_array_foreach(st, j, s) {
        startup |= json_equal(json_object_get(t, "key"),
                              json_object_get(s, "key"));
      }
      if (startup)
        removed = 1;
      else
        json_array_append(keep, (json_t *)t);
    }
    if (removed) {
      json_t *p = json_pack("{s:{s:o}}", "spec", "taints", keep);
      w->env->ops->patch(w->env, NW__K_NODE, NULL, n->name, p, 0, ignore_done,
                         NULL);
      json_decref(p);
    } else {
      json_decref(keep);
    }
  }
  w->env->ops->timer_start(w->env, STARTUP_TAINT_MS, startup_taints, w);
}

/* ---- life cycle ------------------------------------------------------------------ */

nw__world *nw__world_new(nw__env *env, const nw__scenario *sc,
                         const nw_instance_types *types) {
  nw__world *w = calloc(1, sizeof(*w));
  if (!w)
    return NULL;
  w->env = env;
  w->sc = sc;
  w->types = types;
  w->arena = nw__arena_new();
  w->pod_map = json_object();
  w->node_map = json_object();
  w->samples = json_array();
  w->decisions = json_array();
  w->nominated = json_object();
  w->wls = calloc(sc->n_workloads + 1, sizeof(*w->wls));
  w->dss = calloc(json_array_size(sc->daemonsets) + 1, sizeof(*w->dss));
  w->t0 = env->ops->now_ms(env);
  nw__store_watch(env->store, on_store, w);
  return w;
}

void nw__world_set_provider(nw__world *w, void *provider_state) {
  w->provider = provider_state;
}

static int decode_templates(nw__world *w, char *err, size_t errlen) {
  w->independent = 1;
  for (size_t i = 0; i < w->sc->n_workloads; i++) {
    const nw__sim_workload *spec = &w->sc->workloads[i];
    json_t *pod = pod_object(spec->pod_template, spec->name, spec->namespace_,
                             "ReplicaSet", spec->name);
    nw_error e = {0};
    nw__pod *p = nw__pod_decode(pod, w->arena, &e);
    json_decref(pod);
    if (!p) {
      snprintf(err, errlen, "workload %s: %s", spec->name, e.message);
      return -1;
    }
    w->wls[i].spec = spec;
    w->wls[i].tmpl = *p;
    if (looks_around(p))
      w->independent = 0;
    w->wls[i].recs = calloc(MAX_RECS, sizeof(hpa_rec));
  }
  size_t i;
  json_t *ds;
  json_array_foreach(w->sc->daemonsets, i, ds) {
    nw_error e = {0};
    nw__daemonset *d = nw__daemonset_decode(ds, w->arena, &e);
    if (!d) {
      snprintf(err, errlen, "daemonset: %s", e.message);
      return -1;
    }
    if (looks_around(&d->pod))
      w->independent = 0;
    w->dss[i].obj = ds;
    w->dss[i].name = d->name;
    w->dss[i].ns = d->namespace_;
    w->dss[i].tmpl = d->pod;
    w->n_dss++;
  }
  return 0;
}

static int static_nodes(nw__world *w, char *err, size_t errlen) {
  for (size_t i = 0; i < w->sc->n_static_nodes; i++) {
    const nw__sim_static_node *sn = &w->sc->static_nodes[i];
    const nw_instance_type *it = find_type(w, sn->instance_type);
    if (!it) {
      snprintf(err, errlen, "%s:%d:%d: nodes[%zu]: instance type %s is not "
               "in the catalog", w->sc->file, sn->line, sn->column, i,
               sn->instance_type);
      return -1;
    }
    const char *zone = sn->zone;
    if (!zone)
      zone = it->n_offerings ? it->offerings[0].zone : "zone-a";
    json_t *obj = node_object(w, sn->name, NULL, it, zone, sn->capacity_type,
                              sn->labels, sn->taints);
    w->env->ops->create(w->env, NW__K_NODE, obj, ignore_done, NULL);
    json_decref(obj);
  }
  return 0;
}

int nw__world_start(nw__world *w, char *err, size_t errlen) {
  if (decode_templates(w, err, errlen) != 0 || static_nodes(w, err, errlen))
    return -1;
  for (size_t i = 0; i < w->sc->n_workloads; i++) {
    wstate *ws = &w->wls[i];
    const nw__sim_workload *spec = ws->spec;
    if (spec->pdb)
      w->env->ops->create(w->env, NW__K_PDB, spec->pdb, ignore_done, NULL);
    wl_timer *t = nw__arena_alloc(w->arena, sizeof(*t));
    t->w = w;
    t->i = i;
    if (spec->has_hpa) {
      set_desired(w, i, spec->hpa.min_replicas);
      w->env->ops->timer_start(w->env, 0, hpa_sync, t);
    } else if (spec->schedule.len > 0) {
      w->env->ops->timer_start(w->env, 0, schedule_fire, t);
    } else {
      set_desired(w, i, spec->replicas);
    }
  }
  for (size_t i = 0; i < w->sc->n_events; i++) {
    if (w->sc->events[i].kind != NW__SIM_NODE_FAILURE && !w->provider) {
      snprintf(err, errlen, "%s:%d:%d: spot interruptions and instance "
               "stops need the built-in simulated provider (no provider "
               "plugin in the scenario)",
               w->sc->file, w->sc->events[i].line, w->sc->events[i].column);
      return -1;
    }
    ev_timer *t = nw__arena_alloc(w->arena, sizeof(*t));
    t->w = w;
    t->ev = &w->sc->events[i];
    w->env->ops->timer_start(w->env, w->sc->events[i].at_ms, event_fire, t);
  }
  w->env->ops->timer_start(w->env, STARTUP_TAINT_MS, startup_taints, w);
  w->wl_dirty = 1;
  arm_tick(w);
  return 0;
}

void nw__world_free(nw__world *w) {
  if (!w)
    return;
  nw__store_unwatch(w->env->store, on_store, w);
  for (size_t i = 0; i < w->sc->n_workloads; i++) {
    while (w->wls[i].n_pods > 0)
      pod_forget(w, w->wls[i].pods[w->wls[i].n_pods - 1]);
    free(w->wls[i].pods);
    free(w->wls[i].recs);
  }
  for (size_t i = 0; i < w->n_nodes; i++) {
    snode *n = w->nodes[i];
    for (size_t k = 0; k < n->n_pods; k++) {
      spod *p = n->pods[k];
      free(p->key);
      free(p->name);
      free(p);
    }
    free(n->pods);
    nw__arena_free(n->arena);
    free(n->name);
    free(n);
  }
  for (size_t i = 0; i < w->n_orphans; i++) {
    if (w->orphans[i]->wl >= 0)
      continue; /* freed with its workload above */
    free(w->orphans[i]->key);
    free(w->orphans[i]->name);
    free(w->orphans[i]);
  }
  for (size_t i = 0; i < w->n_history; i++) {
    free(w->history[i].name);
    free(w->history[i].type);
    free(w->history[i].capacity_type);
    free(w->history[i].zone);
    free(w->history[i].nodepool);
  }
  free(w->history);
  free(w->nodes);
  free(w->orphans);
  free(w->pending);
  free(w->pending_s);
  free(w->wls);
  free(w->dss);
  json_decref(w->pod_map);
  json_decref(w->node_map);
  json_decref(w->samples);
  json_decref(w->decisions);
  json_decref(w->nominated);
  nw__arena_free(w->arena);
  free(w);
}

/* ---- the report ----------------------------------------------------------------- */

void nw__world_note_event(nw__world *w, int64_t now_ms,
                          const json_t *regarding, const char *type,
                          const char *reason, const char *note_text) {
  const char *kind = json_string_value(json_object_get(regarding, "kind"));
  const char *name = nw__obj_name(regarding);
  if (kind && strcmp(kind, "Pod") == 0) {
    /* One per pod per pass: counted, not listed; nominations say how many
     * pods each new node was launched for. */
    w->pod_events++;
    const char *claim = note_text ? strstr(note_text, "nodeclaim/") : NULL;
    if (reason && strcmp(reason, "Nominated") == 0 && claim) {
      /* A pod is nominated again on every pass while it waits: a set. */
      claim += strlen("nodeclaim/");
      json_t *set = json_object_get(w->nominated, claim);
      if (!set) {
        set = json_object();
        json_object_set_new(w->nominated, claim, set);
      }
      char key[512];
      snprintf(key, sizeof(key), "%s/%s", nw__obj_ns(regarding),
               name ? name : "");
      json_object_set(set, key, json_true());
    }
    return;
  }
  json_array_append_new(
      w->decisions,
      json_pack("{s:f, s:s, s:s, s:s, s:s, s:s}", "t",
                (double)(now_ms - w->t0) / 1e3, "kind", kind ? kind : "",
                "name", name ? name : "", "type", type ? type : "",
                "reason", reason ? reason : "", "note",
                note_text ? note_text : ""));
}

void nw__world_sample(nw__world *w) {
  json_t *by_type = json_object();
  double cost = 0;
  size_t nodes = 0, managed = 0;
  for (size_t i = 0; i < w->n_history; i++) {
    const node_life *h = &w->history[i];
    if (h->end_ms >= 0)
      continue;
    nodes++;
    managed += h->nodepool != NULL;
    cost += h->price;
    char key[160];
    snprintf(key, sizeof(key), "%s/%s", h->type, h->capacity_type);
    json_t *c = json_object_get(by_type, key);
    json_object_set_new(by_type, key,
                        json_integer(c ? json_integer_value(c) + 1 : 1));
  }
  size_t pending = 0, running = 0;
  json_t *wls = json_object();
  for (size_t i = 0; i < w->sc->n_workloads; i++) {
    wstate *ws = &w->wls[i];
    size_t ready = 0;
    for (size_t k = 0; k < ws->n_pods; k++) {
      pending += ws->pods[k]->node == NULL;
      ready += ws->pods[k]->ready;
    }
    running += ready;
    json_t *o = json_pack("{s:i, s:I}", "replicas", ws->desired, "ready",
                          (json_int_t)ready);
    if (ws->spec->has_hpa)
      json_object_set_new(o, "load",
                          json_real(nw__sim_curve_at(&ws->spec->load,
                                                     now(w) - w->t0)));
    json_object_set_new(wls, ws->spec->name, o);
  }
  json_array_append_new(
      w->samples,
      json_pack("{s:f, s:I, s:I, s:f, s:I, s:I, s:o, s:o}", "t",
                (double)(now(w) - w->t0) / 1e3, "nodes", (json_int_t)nodes,
                "managed_nodes", (json_int_t)managed, "cost_per_hour", cost,
                "pending", (json_int_t)pending, "running", (json_int_t)running,
                "by_type", by_type, "workloads", wls));
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : (x > y ? 1 : 0);
}

/* Nearest-rank percentile of sorted values. */
static double percentile(const double *v, size_t n, double p) {
  if (n == 0)
    return 0;
  size_t rank = (size_t)ceil(p / 100.0 * (double)n);
  return v[rank > 0 ? rank - 1 : 0];
}

json_t *nw__world_report(nw__world *w, int64_t end_ms) {
  json_t *nodes = json_array();
  double total = 0, final_cost = 0;
  size_t final_nodes = 0, launched = 0;
  for (size_t i = 0; i < w->n_history; i++) {
    const node_life *h = &w->history[i];
    int64_t end = h->end_ms >= 0 ? h->end_ms : end_ms;
    total += h->price * (double)(end - h->start_ms) / 3.6e6;
    if (h->end_ms < 0) {
      final_nodes++;
      final_cost += h->price;
    }
    launched += h->nodepool != NULL;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:f, s:f}", "name", h->name,
                          "instance_type", h->type, "capacity_type",
                          h->capacity_type, "zone", h->zone, "price", h->price,
                          "start", (double)(h->start_ms - w->t0) / 1e3);
    json_object_set_new(o, "nodepool",
                        h->nodepool ? json_string(h->nodepool) : json_null());
    json_object_set_new(o, "end", h->end_ms >= 0
                                      ? json_real((double)(h->end_ms - w->t0) / 1e3)
                                      : json_null());
    json_array_append_new(nodes, o);
  }
  /* Pods still waiting count with the time they have waited so far. */
  size_t n = w->n_pending_s;
  double *v = malloc((n + w->pods_created + 1) * sizeof(*v));
  if (n > 0)
    memcpy(v, w->pending_s, n * sizeof(*v));
  for (size_t i = 0; i < w->sc->n_workloads; i++)
    for (size_t k = 0; k < w->wls[i].n_pods; k++)
      if (!w->wls[i].pods[k]->node)
        v[n++] = (double)(end_ms - w->wls[i].pods[k]->created_ms) / 1e3;
  qsort(v, n, sizeof(*v), cmp_double);
  double hours = (double)(end_ms - w->t0) / 3.6e6;
  json_t *summary = json_pack(
      "{s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I}", "peak_nodes",
      (json_int_t)w->peak_nodes, "final_nodes", (json_int_t)final_nodes,
      "nodes_launched", (json_int_t)launched, "cost_usd", total,
      "cost_per_hour_avg", hours > 0 ? total / hours : 0,
      "cost_per_hour_final", final_cost, "pending_p50_s",
      percentile(v, n, 50), "pending_p99_s", percentile(v, n, 99),
      "pending_max_s", n ? v[n - 1] : 0.0, "pods_created",
      (json_int_t)w->pods_created, "pod_events", (json_int_t)w->pod_events);
  free(v);
  return json_pack("{s:s, s:I, s:f, s:o, s:O, s:O, s:o}", "scenario",
                   w->sc->name, "seed", (json_int_t)w->sc->seed, "duration_s",
                   (double)w->sc->duration_ms / 1e3, "summary", summary,
                   "samples", w->samples, "decisions", w->decisions, "nodes",
                   nodes);
}
