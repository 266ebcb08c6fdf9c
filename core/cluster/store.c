#include "cluster/store.h"

#include <stdlib.h>
#include <string.h>

/*
 * Each kind is a hash table (open addressing, linear probing) from
 * "ns/name" to a slot in an insertion-ordered array.  Removal leaves a
 * tombstone in the array that compaction clears when half are dead, so
 * iteration stays in insertion order, which keeps the controllers (and so
 * the simulator) deterministic.
 */
typedef struct entry {
  char *key;        /* "ns/name"; NULL for a removed entry */
  json_t *obj;
  char *node;       /* pods: spec.nodeName copy, for the index */
  char *pid;        /* nodes, claims: providerID copy, for its index */
  /* hash_str(node) when node is set: the pods-on-node scan compares it
   * first, reading only this array instead of every pod's node string. */
  uint64_t node_hash;
} entry;

typedef struct table {
  entry *items;
  size_t len;       /* used slots including tombstones */
  size_t live;
  size_t cap;
  size_t *index;    /* hash -> items position + 1; 0 = empty */
  size_t index_cap; /* power of two */
  /* providerID -> items position + 1.  Entries may go stale (the object's
   * providerID changed or it was removed): lookups check the entry, and
   * the index is rebuilt with the main one. */
  size_t *pids;
  size_t pids_cap;
  size_t pids_used;
} table;

typedef struct watcher {
  nw__store_watch_fn fn;
  void *user;
} watcher;

struct nw__store {
  table t[NW__K_COUNT];
  watcher watchers[16];
  size_t n_watchers;
  uint64_t version;
};

static const char *const kind_names[NW__K_COUNT] = {
    "Pod", "Node", "NodeClaim", "NodePool", "NodeClass", "DaemonSet",
    "PodDisruptionBudget", "PersistentVolume", "PersistentVolumeClaim",
    "StorageClass"};

const char *nw__kind_name(nw__kind k) {
  return k < NW__K_COUNT ? kind_names[k] : "Unknown";
}

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h;
}

static char *make_key(const char *ns, const char *name) {
  size_t a = ns ? strlen(ns) : 0, b = strlen(name);
  char *k = malloc(a + b + 2);
  if (!k)
    return NULL;
  memcpy(k, ns ? ns : "", a);
  k[a] = '/';
  memcpy(k + a + 1, name, b + 1);
  return k;
}

static const char *str_at(const json_t *obj, const char *a, const char *b) {
  const json_t *v = json_object_get(json_object_get(obj, a), b);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

nw__store *nw__store_new(void) { return calloc(1, sizeof(nw__store)); }

static void table_free(table *t) {
  for (size_t i = 0; i < t->len; i++) {
    free(t->items[i].key);
    free(t->items[i].node);
    free(t->items[i].pid);
    json_decref(t->items[i].obj);
  }
  free(t->items);
  free(t->index);
  free(t->pids);
}

static void pid_insert(table *t, size_t pos) {
  if (!t->items[pos].pid)
    return;
  if ((t->pids_used + 1) * 2 > t->pids_cap) {
    size_t cap = t->pids_cap ? t->pids_cap * 2 : 64;
    while (cap < t->len * 2 + 2)
      cap *= 2;
    size_t *fresh = calloc(cap, sizeof(*fresh));
    if (!fresh)
      return;
    free(t->pids);
    t->pids = fresh;
    t->pids_cap = cap;
    t->pids_used = 0;
    for (size_t i = 0; i < t->len; i++) {
      if (i == pos || !t->items[i].key || !t->items[i].pid)
        continue;
      size_t h = hash_str(t->items[i].pid) & (cap - 1);
      while (t->pids[h])
        h = (h + 1) & (cap - 1);
      t->pids[h] = i + 1;
      t->pids_used++;
    }
  }
  size_t mask = t->pids_cap - 1;
  size_t h = hash_str(t->items[pos].pid) & mask;
  while (t->pids[h])
    h = (h + 1) & mask;
  t->pids[h] = pos + 1;
  t->pids_used++;
}

/* Positions moved (compaction): index every providerID afresh. */
static void pids_rebuild(table *t) {
  free(t->pids);
  t->pids = NULL;
  t->pids_cap = 0;
  t->pids_used = 0;
  for (size_t i = 0; i < t->len; i++) {
    if (t->items[i].key)
      pid_insert(t, i);
  }
}

void nw__store_free(nw__store *s) {
  if (!s)
    return;
  for (int k = 0; k < NW__K_COUNT; k++)
    table_free(&s->t[k]);
  free(s);
}

int nw__store_watch(nw__store *s, nw__store_watch_fn fn, void *user) {
  if (s->n_watchers == 16)
    return -1;
  s->watchers[s->n_watchers++] = (watcher){fn, user};
  return 0;
}

void nw__store_unwatch(nw__store *s, nw__store_watch_fn fn, void *user) {
  for (size_t i = 0; i < s->n_watchers; i++) {
    if (s->watchers[i].fn == fn && s->watchers[i].user == user) {
      memmove(&s->watchers[i], &s->watchers[i + 1],
              (s->n_watchers - i - 1) * sizeof(watcher));
      s->n_watchers--;
      return;
    }
  }
}

static void notify(nw__store *s, nw__kind kind, const json_t *old_obj,
                   const json_t *new_obj) {
  s->version++;
  for (size_t i = 0; i < s->n_watchers; i++)
    s->watchers[i].fn(s->watchers[i].user, kind, old_obj, new_obj);
}

/* Returns the items position of key, or (size_t)-1. */
static size_t find(const table *t, const char *key) {
  if (!t->index_cap)
    return (size_t)-1;
  size_t mask = t->index_cap - 1;
  for (size_t h = hash_str(key) & mask;; h = (h + 1) & mask) {
    size_t slot = t->index[h];
    if (slot == 0)
      return (size_t)-1;
    const entry *e = &t->items[slot - 1];
    if (e->key && strcmp(e->key, key) == 0)
      return slot - 1;
  }
}

static int rebuild_index(table *t, size_t cap) {
  size_t *idx = calloc(cap, sizeof(*idx));
  if (!idx)
    return -1;
  free(t->index);
  t->index = idx;
  t->index_cap = cap;
  for (size_t i = 0; i < t->len; i++) {
    if (!t->items[i].key)
      continue;
    size_t h = hash_str(t->items[i].key) & (cap - 1);
    while (idx[h])
      h = (h + 1) & (cap - 1);
    idx[h] = i + 1;
  }
  return 0;
}

/* Drops tombstones, keeping order. */
static int compact(table *t) {
  size_t j = 0;
  for (size_t i = 0; i < t->len; i++) {
    if (t->items[i].key)
      t->items[j++] = t->items[i];
  }
  t->len = j;
  int rc = rebuild_index(t, t->index_cap ? t->index_cap : 16);
  pids_rebuild(t);
  return rc;
}

static int append(table *t, char *key, json_t *obj) {
  if (t->len == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    entry *grown = realloc(t->items, cap * sizeof(*grown));
    if (!grown)
      return -1;
    t->items = grown;
    t->cap = cap;
  }
  t->items[t->len++] = (entry){key, obj, NULL, NULL, 0};
  /* Keep the index at most half full so probes stay short. */
  if (t->len * 2 >= t->index_cap)
    return rebuild_index(t, t->index_cap ? t->index_cap * 2 : 32);
  size_t mask = t->index_cap - 1;
  size_t h = hash_str(key) & mask;
  while (t->index[h])
    h = (h + 1) & mask;
  t->index[h] = t->len;
  return 0;
}

static void set_node(entry *e, nw__kind kind) {
  free(e->node);
  e->node = NULL;
  if (kind == NW__K_POD) {
    const char *n = str_at(e->obj, "spec", "nodeName");
    e->node = n ? strdup(n) : NULL;
  }
  e->node_hash = e->node ? hash_str(e->node) : 0;
}

/* Keeps the providerID copy and its index current for nodes and claims. */
static void set_pid(table *t, size_t pos, nw__kind kind) {
  entry *e = &t->items[pos];
  const char *pid = kind == NW__K_NODE ? str_at(e->obj, "spec", "providerID")
                    : kind == NW__K_NODECLAIM ? str_at(e->obj, "status", "providerID")
                                              : NULL;
  if ((!pid && !e->pid) || (pid && e->pid && strcmp(pid, e->pid) == 0))
    return;
  free(e->pid);
  e->pid = pid && *pid ? strdup(pid) : NULL;
  pid_insert(t, pos);
}

int nw__store_put(nw__store *s, nw__kind kind, json_t *obj) {
  const char *name = str_at(obj, "metadata", "name");
  if (!name) {
    json_decref(obj);
    return -1;
  }
  char *key = make_key(str_at(obj, "metadata", "namespace"), name);
  if (!key) {
    json_decref(obj);
    return -1;
  }
  table *t = &s->t[kind];
  size_t pos = find(t, key);
  if (pos != (size_t)-1) {
    free(key);
    entry *e = &t->items[pos];
    json_t *old = e->obj;
    e->obj = obj;
    set_node(e, kind);
    set_pid(t, pos, kind);
    notify(s, kind, old, obj);
    json_decref(old);
    return 0;
  }
  if (append(t, key, obj) != 0) {
    free(key);
    json_decref(obj);
    return -1;
  }
  t->live++;
  set_node(&t->items[t->len - 1], kind);
  set_pid(t, t->len - 1, kind);
  notify(s, kind, NULL, obj);
  return 0;
}

int nw__store_remove(nw__store *s, nw__kind kind, const char *ns,
                     const char *name) {
  char *key = make_key(ns, name);
  table *t = &s->t[kind];
  size_t pos = key ? find(t, key) : (size_t)-1;
  free(key);
  if (pos == (size_t)-1)
    return -1;
  entry *e = &t->items[pos];
  json_t *old = e->obj;
  free(e->key);
  free(e->node);
  free(e->pid);
  *e = (entry){NULL, NULL, NULL, NULL, 0};
  t->live--;
  /* The index keeps pointing at the tombstone: find() skips it and probes
   * on, and the slot is not reused before compaction rebuilds the index,
   * so a removal need not rebuild it (that made each removal O(n)). */
  if (t->live * 2 < t->len)
    compact(t);
  notify(s, kind, old, NULL);
  json_decref(old);
  return 0;
}

json_t *nw__store_get(const nw__store *s, nw__kind kind, const char *ns,
                      const char *name) {
  char *key = make_key(ns, name);
  const table *t = &s->t[kind];
  size_t pos = key ? find(t, key) : (size_t)-1;
  free(key);
  return pos == (size_t)-1 ? NULL : t->items[pos].obj;
}

size_t nw__store_count(const nw__store *s, nw__kind kind) {
  return s->t[kind].live;
}

size_t nw__store_foreach(const nw__store *s, nw__kind kind,
                         nw__store_visit_fn fn, void *user) {
  const table *t = &s->t[kind];
  size_t seen = 0;
  for (size_t i = 0; i < t->len; i++) {
    if (!t->items[i].key)
      continue;
    seen++;
    /* The visitor may change the store (the simulator's API writes
     * synchronously): hold the object so it outlives a replacement. */
    json_t *obj = json_incref(t->items[i].obj);
    int stop = fn(user, obj);
    json_decref(obj);
    if (stop)
      break;
  }
  return seen;
}

size_t nw__store_pods_on_node(const nw__store *s, const char *node,
                              nw__store_visit_fn fn, void *user) {
  /* A linear scan over the compact entry array, free of an index to keep
   * consistent; the node-name hashes keep it from reading every pod's
   * node string (a cache miss each, with tens of thousands of pods). */
  const table *t = &s->t[NW__K_POD];
  uint64_t h = hash_str(node);
  size_t seen = 0;
  for (size_t i = 0; i < t->len; i++) {
    const entry *e = &t->items[i];
    if (e->node_hash != h || !e->key || !e->node || strcmp(e->node, node) != 0)
      continue;
    seen++;
    json_t *obj = json_incref(e->obj);
    int stop = fn(user, obj);
    json_decref(obj);
    if (stop)
      break;
  }
  return seen;
}

json_t *nw__store_by_provider_id(const nw__store *s, nw__kind kind,
                                 const char *provider_id) {
  const table *t = &s->t[kind];
  if (!t->pids_cap || !provider_id)
    return NULL;
  size_t mask = t->pids_cap - 1;
  for (size_t h = hash_str(provider_id) & mask; t->pids[h]; h = (h + 1) & mask) {
    const entry *e = &t->items[t->pids[h] - 1];
    if (e->key && e->pid && strcmp(e->pid, provider_id) == 0)
      return e->obj;
  }
  return NULL;
}

uint64_t nw__store_version(const nw__store *s) { return s->version; }
