#include "provisioning/snapshot.h"

#include <stdatomic.h>
#include <stdint.h>
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


/* ---- the decode cache -------------------------------------------------- */

/* An arena of cached decoded objects, alive while the cache keeps one of
 * its entries or a snapshot uses it. */
typedef struct nw__snap_chunk {
  nw_arena *arena;
  atomic_size_t refs;
  uint64_t mark;          /* the last take that handed it to a snapshot */
} chunk;

typedef enum centry_kind { CE_POD = 0, CE_NODE, CE_CLAIM } centry_kind;

typedef struct centry {
  json_t *obj;            /* the store's object; a reference is held */
  centry_kind kind;
  void *value;            /* nw__pod / nw__node in ch, or a json_t copy */
  nw__claim_facts *facts; /* claims: in ch */
  chunk *ch;              /* the chunk value or facts live in */
  uint64_t seen;          /* the last take that used it */
} centry;

/* Open addressing by object address; a table is rebuilt by every take,
 * which carries over the entries it used and drops the rest. */
typedef struct ctable {
  centry **slots;
  size_t cap;             /* power of two */
  size_t n;
} ctable;

/* New decodes of one take go into one chunk; after this many chunks the
 * cache starts over (one full decode), which bounds the memory that
 * chunks kept alive by a few long-lived objects can hold. */
enum { MAX_CHUNKS = 32 };

/* A pool's usable types, as positions in the provider's list. */
typedef struct usable {
  char *key;              /* pool name + canonical template */
  uint64_t fingerprint;   /* of the types it was worked out from */
  size_t len;             /* of the types it was worked out from */
  size_t n;
  size_t *pos;
  size_t n_keys;
  char **keys;            /* requirement keys of all the types */
  int used;               /* by the current prepare */
} usable;

struct nw__snap_cache {
  usable *usable;
  size_t n_usable;
  size_t usable_hits, usable_misses;
  ctable old;             /* entries of the previous take */
  ctable cur;             /* entries of this take */
  uint64_t gen;
  chunk *fresh;           /* this take's chunk, created on first miss */
  size_t chunks_made;
  size_t reused, decoded;
};

static void chunk_unref(chunk *ch) {
  if (ch && atomic_fetch_sub(&ch->refs, 1) == 1) {
    nw__arena_free(ch->arena);
    free(ch);
  }
}

static size_t slot_of(const ctable *t, const json_t *obj) {
  uintptr_t h = (uintptr_t)obj;
  h ^= h >> 17;
  h *= (uintptr_t)0x9e3779b97f4a7c15ull;
  return (size_t)(h >> 7) & (t->cap - 1);
}

static centry *table_find(const ctable *t, const json_t *obj, centry_kind kind) {
  if (!t->cap)
    return NULL;
  for (size_t i = slot_of(t, obj);; i = (i + 1) & (t->cap - 1)) {
    centry *e = t->slots[i];
    if (!e)
      return NULL;
    if (e->obj == obj && e->kind == kind)
      return e;
  }
}

static int table_grow(ctable *t) {
  size_t cap = t->cap ? t->cap * 2 : 256;
  centry **slots = calloc(cap, sizeof(*slots));
  if (!slots)
    return -1;
  ctable nt = {slots, cap, t->n};
  for (size_t i = 0; i < t->cap; i++) {
    centry *e = t->slots[i];
    if (!e)
      continue;
    size_t j = slot_of(&nt, e->obj);
    while (slots[j])
      j = (j + 1) & (cap - 1);
    slots[j] = e;
  }
  free(t->slots);
  *t = nt;
  return 0;
}

static int table_add(ctable *t, centry *e) {
  /* At most half full, so probes stay short. */
  if ((t->n + 1) * 2 > t->cap && table_grow(t) != 0)
    return -1;
  size_t i = slot_of(t, e->obj);
  while (t->slots[i])
    i = (i + 1) & (t->cap - 1);
  t->slots[i] = e;
  t->n++;
  return 0;
}

static void entry_free(centry *e) {
  json_decref(e->obj);
  if (e->kind == CE_CLAIM)
    json_decref(e->value);
  chunk_unref(e->ch);
  free(e);
}

/* Frees the entries of `t` not used by take `gen` (all when gen is 0),
 * and the table. */
static void table_drop(ctable *t, uint64_t gen) {
  for (size_t i = 0; i < t->cap; i++) {
    centry *e = t->slots[i];
    if (e && (gen == 0 || e->seen != gen))
      entry_free(e);
  }
  free(t->slots);
  memset(t, 0, sizeof(*t));
}

nw__snap_cache *nw__snap_cache_new(void) {
  return calloc(1, sizeof(nw__snap_cache));
}

static void usable_free(usable *u) {
  for (size_t i = 0; i < u->n_keys; i++)
    free(u->keys[i]);
  free(u->keys);
  free(u->pos);
  free(u->key);
}

void nw__snap_cache_free(nw__snap_cache *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->n_usable; i++)
    usable_free(&c->usable[i]);
  free(c->usable);
  table_drop(&c->old, 0);
  table_drop(&c->cur, 0);
  chunk_unref(c->fresh);
  free(c);
}

void nw__snap_cache_stats(const nw__snap_cache *c, size_t *reused,
                          size_t *decoded) {
  *reused = c ? c->reused : 0;
  *decoded = c ? c->decoded : 0;
}

void nw__snap_cache_type_stats(const nw__snap_cache *c, size_t *reused,
                               size_t *computed) {
  *reused = c ? c->usable_hits : 0;
  *computed = c ? c->usable_misses : 0;
}

static void cache_begin(nw__snap_cache *c) {
  c->gen++;
  if (c->chunks_made >= MAX_CHUNKS) {
    /* Start over: the entries go, their chunks with the last snapshot
     * that uses them. */
    table_drop(&c->old, 0);
    c->chunks_made = 0;
  }
  /* This take carries over about as many entries as the last one had:
   * sized alike, the table does not grow (and rehash) its way up. */
  if (c->old.cap && !c->cur.cap) {
    c->cur.slots = calloc(c->old.cap, sizeof(*c->cur.slots));
    c->cur.cap = c->cur.slots ? c->old.cap : 0;
  }
}

static void cache_end(nw__snap_cache *c) {
  /* Entries carried into cur were marked with this take; the rest of the
   * previous take's table is gone from the store. */
  table_drop(&c->old, c->gen);
  c->old = c->cur;
  memset(&c->cur, 0, sizeof(c->cur));
  /* The take's own reference on its chunk; entries hold theirs. */
  chunk_unref(c->fresh);
  c->fresh = NULL;
}

/* Node name -> position in the snapshot's nodes, in the snapshot's
 * arena (looked up once per bound pod). */
typedef struct name_index {
  const char **keys;
  size_t *pos;
  size_t cap;             /* power of two, at least twice the names */
} name_index;

static uint64_t name_hash(const char *k) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *k; k++)
    h = (h ^ (unsigned char)*k) * 0x100000001b3ull;
  return h ^ (h >> 32);
}

static void name_index_init(name_index *x, size_t n, nw_arena *a) {
  size_t cap = 16;
  while (cap < 2 * n + 2)
    cap *= 2;
  x->keys = nw__arena_alloc(a, cap * sizeof(*x->keys));
  x->pos = nw__arena_alloc(a, cap * sizeof(*x->pos));
  x->cap = x->keys && x->pos ? cap : 0;
}

/* The slot of `name`, or the empty slot where it would go. */
static size_t name_slot(const name_index *x, const char *name) {
  size_t i = (size_t)name_hash(name) & (x->cap - 1);
  while (x->keys[i] && strcmp(x->keys[i], name) != 0)
    i = (i + 1) & (x->cap - 1);
  return i;
}

/* Sets name (borrowed; must outlive the index) to pos; a name set again
 * takes the later position. */
static void name_index_set(name_index *x, const char *name, size_t pos) {
  if (!x->cap)
    return;
  size_t i = name_slot(x, name);
  x->keys[i] = name;
  x->pos[i] = pos;
}

static size_t name_index_get(const name_index *x, const char *name) {
  if (!x->cap)
    return (size_t)-1;
  size_t i = name_slot(x, name);
  return x->keys[i] ? x->pos[i] : (size_t)-1;
}

typedef struct taker {
  nw__env *env;
  nw__snapshot *s;
  nw__snap_cache *cache;  /* may be NULL */
  grow nodes, claims, pending, pools, ds, pvs, pvcs, scs, pods, chunks;
  grow facts;             /* parallel to claims */
  name_index node_index;  /* Node name -> position in nodes */
} taker;

/* The snapshot keeps chunk `ch` alive (once per take). */
static void use_chunk(taker *t, chunk *ch) {
  if (ch->mark == t->cache->gen)
    return;
  chunk **slot = grow_push(t->s->arena, &t->chunks);
  if (!slot)
    return;
  ch->mark = t->cache->gen;
  atomic_fetch_add(&ch->refs, 1);
  *slot = ch;
}

/* The take's entry for obj: carried over from the previous take, or new
 * (value NULL, to be filled by the caller).  `old` is obj's entry in the
 * previous take's table when the caller looked it up already (looked
 * set), saving a lookup.  NULL on OOM. */
static centry *cache_entry(taker *t, json_t *obj, centry_kind kind,
                           centry *old, int looked, int *hit) {
  nw__snap_cache *c = t->cache;
  /* Most objects are unchanged since the previous take: look there
   * first.  An entry already carried over is in this take's table too. */
  centry *e = looked ? old : table_find(&c->old, obj, kind);
  *hit = 1;
  if (e && e->seen == c->gen)
    return e;
  if (e) {
    e->seen = c->gen;
    if (table_add(&c->cur, e) != 0) {
      e->seen = 0;
      return NULL;
    }
    c->reused++;
    return e;
  }
  e = table_find(&c->cur, obj, kind);
  if (e)
    return e;
  *hit = 0;
  e = calloc(1, sizeof(*e));
  if (!e)
    return NULL;
  e->obj = json_incref(obj);
  e->kind = kind;
  e->seen = c->gen;
  return e;
}

/* The take's chunk for new decodes. */
static nw_arena *fresh_arena(nw__snap_cache *c) {
  if (!c->fresh) {
    chunk *ch = calloc(1, sizeof(*ch));
    nw_arena *a = ch ? nw__arena_new() : NULL;
    if (!a) {
      free(ch);
      return NULL;
    }
    ch->arena = a;
    atomic_init(&ch->refs, 1);
    c->fresh = ch;
    c->chunks_made++;
  }
  return c->fresh->arena;
}

static void *decode_into(json_t *obj, centry_kind kind, nw_arena *a,
                         nw_error *err) {
  return kind == CE_POD ? (void *)nw__pod_decode(obj, a, err)
                        : (void *)nw__node_decode(obj, a, err);
}

/* Decodes a pod or node through the cache (or into the snapshot's arena
 * without one); `old` and `looked` as for cache_entry.  NULL with err
 * when it does not decode. */
static const void *decode_hinted(taker *t, json_t *obj, centry_kind kind,
                                 centry *old, int looked, nw_error *err) {
  if (!t->cache)
    return decode_into(obj, kind, t->s->arena, err);
  int hit;
  centry *e = cache_entry(t, obj, kind, old, looked, &hit);
  if (!e)
    return decode_into(obj, kind, t->s->arena, err);
  if (!hit) {
    nw_arena *a = fresh_arena(t->cache);
    void *v = a ? decode_into(obj, kind, a, err) : NULL;
    /* What does not decode is not cached: it is reported again. */
    if (!v || table_add(&t->cache->cur, e) != 0) {
      json_decref(e->obj);
      free(e);
      if (v)
        use_chunk(t, t->cache->fresh);
      return v ? v : (a ? NULL : decode_into(obj, kind, t->s->arena, err));
    }
    e->value = v;
    e->ch = t->cache->fresh;
    atomic_fetch_add(&e->ch->refs, 1);
    t->cache->decoded++;
  }
  use_chunk(t, e->ch);
  return e->value;
}

static const void *decode(taker *t, json_t *obj, centry_kind kind,
                          nw_error *err) {
  return decode_hinted(t, obj, kind, NULL, 0, err);
}

/* A private copy of a claim for the snapshot (a new reference), and its
 * facts (*facts, valid as long as the snapshot). */
static json_t *claim_copy(taker *t, json_t *claim, const nw__claim_facts **facts) {
  nw__claim_facts *f = NULL;
  if (!t->cache) {
    f = nw__arena_alloc(t->s->arena, sizeof(*f));
    if (f)
      nw__claim_facts_of(claim, f);
    *facts = f;
    return json_deep_copy(claim);
  }
  int hit;
  centry *e = cache_entry(t, claim, CE_CLAIM, NULL, 0, &hit);
  if (e && !hit) {
    nw_arena *a = fresh_arena(t->cache);
    f = a ? nw__arena_alloc(a, sizeof(*f)) : NULL;
    e->value = json_deep_copy(claim);
    if (!f || !e->value || table_add(&t->cache->cur, e) != 0) {
      json_decref(e->value);
      json_decref(e->obj);
      free(e);
      e = NULL;
    } else {
      nw__claim_facts_of(claim, f);
      e->facts = f;
      e->ch = t->cache->fresh;
      atomic_fetch_add(&e->ch->refs, 1);
      t->cache->decoded++;
    }
  }
  if (!e) {
    f = nw__arena_alloc(t->s->arena, sizeof(*f));
    if (f)
      nw__claim_facts_of(claim, f);
    *facts = f;
    return json_deep_copy(claim);
  }
  use_chunk(t, e->ch);
  *facts = e->facts;
  return json_incref(e->value);
}

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

/* A pod bound to the node at snapshot position `node`. */
typedef struct bound {
  size_t node;
  const nw__pod *pod;
} bound;

static void add_bound_pod(taker *t, size_t node, json_t *obj, centry *old,
                          int looked) {
  nw_error err = {0};
  const nw__pod *pod = decode_hinted(t, obj, CE_POD, old, looked, &err);
  bound *b = pod ? grow_push(t->s->arena, &t->pods) : NULL;
  if (b)
    *b = (bound){node, pod};
}

/* Hands each node its bound pods, in store order: one pass over the pods
 * (a lookup per node would scan every pod for each node). */
static void attach_pods(taker *t) {
  size_t n = t->nodes.n;
  nw__sched_node *nodes = t->nodes.items;
  const bound *b = t->pods.items;
  size_t *at = nw__arena_alloc(t->s->arena, (n + 1) * sizeof(*at));
  const nw__pod **all = nw__arena_alloc(t->s->arena, (t->pods.n + 1) * sizeof(*all));
  if (!at || !all)
    return;
  for (size_t i = 0; i < t->pods.n; i++)
    nodes[b[i].node].n_pods++;
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    at[i] = start;
    nodes[i].pods = all + start;
    start += nodes[i].n_pods;
  }
  for (size_t i = 0; i < t->pods.n; i++)
    all[at[b[i].node]++] = b[i].pod;
}

/* Appends a node and its claim's private copy; *facts (optional) gets the
 * claim's facts, NULL without a claim. */
static nw__sched_node *push_node(taker *t, json_t *claim,
                                 const nw__claim_facts **facts) {
  nw__sched_node *n = grow_push(t->s->arena, &t->nodes);
  json_t **c = grow_push(t->s->arena, &t->claims);
  const nw__claim_facts **f = grow_push(t->s->arena, &t->facts);
  if (!n || !c || !f)
    return NULL;
  memset(n, 0, sizeof(*n));
  *f = NULL;
  *c = claim ? claim_copy(t, claim, f) : NULL;
  if (facts)
    *facts = *f;
  return n;
}

static int add_node(void *user, json_t *obj) {
  taker *t = user;
  nw_error err = {0};
  const nw__node *node = decode(t, obj, CE_NODE, &err);
  if (!node) {
    NW_WARN("snapshot", "skipping node: %s", err.message);
    return 0;
  }
  json_t *claim = node->provider_id && *node->provider_id
                      ? nw__store_by_provider_id(t->env->store, NW__K_NODECLAIM,
                                                 node->provider_id)
                      : NULL;
  const nw__claim_facts *f;
  nw__sched_node *n = push_node(t, claim, &f);
  if (!n)
    return 1;
  n->node = node;
  /* A Node whose claim is not Initialized yet is still coming up: its
   * not-ready and startup taints go away, and pods planned onto it must
   * not cause a second launch (Karpenter uses the claim's taints until
   * the node is initialized). */
  n->in_flight = f && !f->initialized && !f->deleting;
  name_index_set(&t->node_index, node->name, t->nodes.n - 1);
  n->nodepool = nw__labels_get(&node->labels, "karpenter.sh/nodepool");
  return 0;
}

/* A claim without a Node yet counts as a node with what it asked for (or,
 * once launched, what it has), so the pods the kube-scheduler will bind
 * there cause no second launch. */
static int add_inflight_claim(void *user, json_t *claim) {
  taker *t = user;
  nw_arena *a = t->s->arena;
  /* Already taken as a Node's claim (found by that Node's providerID):
   * it has a Node.  Most claims of a pass, and cheaper to tell. */
  if (t->cache && table_find(&t->cache->cur, claim, CE_CLAIM))
    return 0;
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
  nw__sched_node *sn = push_node(t, claim, NULL);
  if (!sn)
    return 1;
  sn->node = node;
  sn->in_flight = 1;
  sn->nodepool = c->nodepool;
  return 0;
}

/* A pod: bound to a node of the snapshot, or pending.  Its spec.nodeName
 * comes from its cached decode when there is one (most pods of a pass),
 * else from the object; the entry found is handed on to the decode. */
static int add_pod(void *user, json_t *obj) {
  taker *t = user;
  centry *e = t->cache ? table_find(&t->cache->old, obj, CE_POD) : NULL;
  const char *on = e ? ((const nw__pod *)e->value)->node_name
                     : json_string_value(json_object_get(json_object_get(obj, "spec"), "nodeName"));
  if (on) {
    size_t at = name_index_get(&t->node_index, on);
    if (at != (size_t)-1)
      add_bound_pod(t, at, obj, e, t->cache != NULL);
    return 0;
  }
  if (!nw__pod_pending(obj))
    return 0;
  nw_error err = {0};
  const nw__pod *pod = decode(t, obj, CE_POD, &err);
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
  return nw__snapshot_take_cached(env, NULL);
}

nw__snapshot *nw__snapshot_take_cached(nw__env *env, nw__snap_cache *cache) {
  nw__snapshot *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->arena = nw__arena_new();
  s->taken_ms = env->ops->now_ms(env);
  s->pdbs = json_array();
  taker t = {env, s, cache, {NULL, 0, 0, sizeof(nw__sched_node)},
             {NULL, 0, 0, sizeof(json_t *)}, {NULL, 0, 0, sizeof(nw__pod *)},
             {NULL, 0, 0, sizeof(nw__snap_pool)}, {NULL, 0, 0, sizeof(void *)},
             {NULL, 0, 0, sizeof(void *)}, {NULL, 0, 0, sizeof(void *)},
             {NULL, 0, 0, sizeof(void *)}, {NULL, 0, 0, sizeof(bound)},
             {NULL, 0, 0, sizeof(chunk *)},
             {NULL, 0, 0, sizeof(nw__claim_facts *)}, {NULL, NULL, 0}};
  name_index_init(&t.node_index, nw__store_count(env->store, NW__K_NODE), s->arena);
  if (cache)
    cache_begin(cache);
  /* Nodes before pods, as Karpenter does: a pod that binds meanwhile is
   * then seen on its node rather than nowhere. */
  nw__store_foreach(env->store, NW__K_NODE, add_node, &t);
  nw__store_foreach(env->store, NW__K_NODECLAIM, add_inflight_claim, &t);
  nw__store_foreach(env->store, NW__K_POD, add_pod, &t);
  attach_pods(&t);
  nw__store_foreach(env->store, NW__K_NODEPOOL, add_pool, &t);
  nw__store_foreach(env->store, NW__K_DAEMONSET, collect_ds, &t);
  nw__store_foreach(env->store, NW__K_PV, collect_pv, &t);
  nw__store_foreach(env->store, NW__K_PVC, collect_pvc, &t);
  nw__store_foreach(env->store, NW__K_STORAGECLASS, collect_sc, &t);
  nw__store_foreach(env->store, NW__K_PDB, collect_pdb, &t);
  if (cache)
    cache_end(cache);
  s->chunks = t.chunks.items;
  s->n_chunks = t.chunks.n;
  s->nodes = t.nodes.items;
  s->n_nodes = t.nodes.n;
  s->claims = t.claims.items;
  s->claim_facts = t.facts.items;
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

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v;
  h *= 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}

/* Hashes a string eight bytes at a time (a catalog has megabytes of
 * label text, hashed on every pass). */
static uint64_t hash_text(uint64_t h, const char *str) {
  const char *p = str ? str : "";
  size_t n = strlen(p);
  h = mix(h, n);
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = mix(h, w);
  }
  uint64_t w = 0;
  memcpy(&w, p, n);
  return mix(h, w);
}

/* What a pool's usable types depend on, of the types themselves. */
static uint64_t types_fingerprint(const nw_instance_types *types) {
  uint64_t h = 0xcbf29ce484222325ull /* any non-zero start */;
  for (size_t i = 0; i < types->len; i++) {
    const nw_instance_type *t = &types->items[i];
    h = hash_text(h, t->name);
    for (size_t j = 0; j < t->requirements.len; j++) {
      const nw_requirement *r = &t->requirements.items[j];
      h = mix(hash_text(h, r->key), (uint64_t)r->op + 1);
      for (size_t v = 0; v < r->n_values; v++)
        h = hash_text(h, r->values[v]);
    }
    for (size_t o = 0; o < t->n_offerings; o++) {
      const nw_offering *of = &t->offerings[o];
      h = hash_text(hash_text(h, of->zone), of->capacity_type);
      h = mix(h, of->available && of->price >= 0 ? 1 : 2);
    }
  }
  return h;
}

/* The pool's identity for the scheduler's type filter: its name and its
 * template (requirements and labels live there).  Malloc'd. */
static char *pool_key(const nw__snap_pool *pi) {
  const json_t *tmpl = json_object_get(json_object_get(pi->object, "spec"), "template");
  char *dump = tmpl ? json_dumps(tmpl, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  size_t len = strlen(pi->pool->name) + (dump ? strlen(dump) : 0) + 2;
  char *key = malloc(len);
  if (key)
    snprintf(key, len, "%s\n%s", pi->pool->name, dump ? dump : "");
  free(dump);
  return key;
}

/* Fills sp->usable and its keys from the cache, working them out when
 * the pool or its types changed. */
static void set_usable(nw__snap_cache *c, const nw__snap_pool *pi,
                       nw__sched_pool *sp, nw_arena *a) {
  char *key = pool_key(pi);
  if (!key)
    return;
  uint64_t fp = types_fingerprint(&sp->types);
  usable *u = NULL;
  for (size_t i = 0; i < c->n_usable && !u; i++) {
    if (strcmp(c->usable[i].key, key) == 0)
      u = &c->usable[i];
  }
  if (u && (u->fingerprint != fp || u->len != sp->types.len)) {
    usable_free(u);
    memset(u, 0, sizeof(*u));
    u->key = key;
    key = NULL;
  } else if (u && !u->used) {
    c->usable_hits++;
  }
  if (!u) {
    usable *g = realloc(c->usable, (c->n_usable + 1) * sizeof(*g));
    if (!g) {
      free(key);
      return;
    }
    c->usable = g;
    u = &c->usable[c->n_usable++];
    memset(u, 0, sizeof(*u));
    u->key = key;
    key = NULL;
  }
  free(key);
  if (!u->pos) {
    size_t *pos = NULL;
    const char **keys = NULL;
    size_t nk = 0;
    size_t n = nw__scheduler_usable_types(pi->pool, &sp->types, a, &pos, &keys, &nk);
    if (n == (size_t)-1)
      return;
    u->pos = malloc((n + 1) * sizeof(*u->pos));
    u->keys = calloc(nk + 1, sizeof(*u->keys));
    if (!u->pos || !u->keys)
      return;
    memcpy(u->pos, pos, n * sizeof(*pos));
    for (size_t i = 0; i < nk; i++)
      u->keys[i] = strdup(keys[i]);
    u->n = n;
    u->n_keys = nk;
    u->fingerprint = fp;
    u->len = sp->types.len;
    c->usable_misses++;
  }
  u->used = 1;
  /* Positions into this pass's types: the list is rebuilt from them, so
   * it never points into an earlier pass's memory. */
  nw_instance_type *items = nw__arena_alloc(a, (u->n + 1) * sizeof(*items));
  if (!items)
    return;
  for (size_t i = 0; i < u->n; i++)
    items[i] = sp->types.items[u->pos[i]];
  sp->usable = (nw_instance_types){u->n, items};
  sp->n_type_keys = u->n_keys;
  sp->type_keys = (const char *const *)u->keys;
}

/* Forgets the pools the last prepare did not see. */
static void usable_sweep(nw__snap_cache *c) {
  size_t k = 0;
  for (size_t i = 0; i < c->n_usable; i++) {
    if (!c->usable[i].used || !c->usable[i].pos) {
      usable_free(&c->usable[i]);
      continue;
    }
    c->usable[i].used = 0;
    c->usable[k++] = c->usable[i];
  }
  c->n_usable = k;
}

size_t nw__snapshot_prepare(nw__snapshot *s, nw__plugin_set *plugins) {
  return nw__snapshot_prepare_cached(s, plugins, NULL);
}

size_t nw__snapshot_prepare_cached(nw__snapshot *s, nw__plugin_set *plugins,
                                   nw__snap_cache *c) {
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
    memset(&s->sched_pools[kept], 0, sizeof(s->sched_pools[kept]));
    s->sched_pools[kept].pool = pi->pool;
    s->sched_pools[kept].types = types;
    if (c)
      set_usable(c, &s->pools[kept], &s->sched_pools[kept], a);
    kept++;
  }
  if (c)
    usable_sweep(c);
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
  for (size_t i = 0; i < s->n_chunks; i++)
    chunk_unref(s->chunks[i]);
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
