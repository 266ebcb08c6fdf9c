#include "provisioning/snapshot.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/objutil.h"
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

/* ---- the maintained cache ---------------------------------------------- */

/*
 * How it works: the cache watches the store and keeps, for every pod,
 * Node and NodeClaim, a record with its place in the store's order (the
 * store lists objects in insertion order and keeps a replaced object at
 * its place, so numbering additions as they are reported gives that
 * order).  Records are kept in the lists a take hands out: Nodes, claims
 * without a Node (in flight), pending pods, and per node name its bound
 * pods, each ordered by place.  A take walks these lists instead of the
 * store, decoding only the records that changed since they were last
 * decoded, so its cost is copying pointers.
 *
 * The numbering relies on the store reporting additions in the order it
 * makes them.  A watcher that wrote to the store from its callback would
 * break that (its nested change reaches the watchers after it before the
 * change that caused it); none does, and the tests compare the cache with
 * a walk of the store.
 */

/* An arena of cached decoded objects, alive while the cache keeps one of
 * its values or a snapshot uses it. */
typedef struct nw__snap_chunk {
  nw_arena *arena;
  atomic_size_t refs;     /* the cache's (while listed) and snapshots' */
  size_t live;            /* cache values in it (loop only) */
  size_t made;            /* values ever decoded into it */
  size_t at;              /* position in the cache's list */
  int evacuate;
  /* Claim copies (rec.copy) of values made in this chunk that the cache
   * has let go of.  Snapshots borrow claim copies as they borrow decoded
   * values, under the chunk's references instead of one reference per
   * claim per take, so a copy lives as long as its chunk. */
  json_t **dead;
  size_t n_dead, cap_dead;
} chunk;

/* More chunks than this and the take moves the values of the sparse
 * ones into its own chunk (decoding them again when next used), which
 * bounds the memory dead values can hold and the chunks a snapshot
 * references.  The KEEP_CHUNKS fullest ones stay while at least half of
 * what was decoded into them is alive. */
enum { MAX_CHUNKS = 32, KEEP_CHUNKS = 8 };

enum { UNDECODED = 0, DECODED, FAILED };

typedef struct group group;
typedef struct pident pident;

/* One store object of the kinds kept (pods, Nodes, NodeClaims). */
typedef struct rec {
  json_t *obj;            /* key (first member): the store's object, held */
  uint64_t seq;           /* place in the store's order of its kind */
  nw__kind kind;
  int state;              /* of value */
  chunk *ch;              /* where value lives */
  const void *value;      /* decoded pod or Node, or the claim's facts */
  char *err;              /* why it did not decode (FAILED) */
  /* pods */
  group *grp;             /* the node name's group it is listed in */
  int pending;            /* listed in the pending pods */
  /* Nodes and claims: their providerID's entry (NULL without one) */
  pident *pi;
  /* Nodes, once decoded */
  group *own;             /* the group of its name (holds a reference) */
  const char *nodepool;
  /* claims */
  json_t *copy;           /* the private copy, with value; held */
  int deleting;
  int inflight;           /* listed in the in-flight claims */
  int ifstate;            /* of the in-flight node */
  chunk *ch2;             /* where the in-flight node lives */
  const nw__node *ifnode;
  const char *ifpool;
} rec;

/* A record in a list ordered by place; val caches a pod's decode so a
 * take reads the list only.  r is NULL for a removed record's slot (a
 * tombstone keeping its place, so that removing from a long list, such as
 * thousands of pending pods binding one by one, moves nothing). */
typedef struct ent {
  uint64_t seq;
  const void *val;
  rec *r;
} ent;

typedef struct svec {
  ent *v;
  size_t n, cap;
  size_t dead;            /* tombstones among the n */
} svec;

/* The pods bound to one node name, and the decoded Nodes of that name. */
struct group {
  char *name;             /* key (first member) */
  svec pods;
  size_t nodes;
  size_t owner;           /* the take's last node of this name */
  uint64_t owner_gen;
};

/* The claims and the number of Nodes with one providerID. */
struct pident {
  char *pid;              /* key (first member) */
  rec **claims;
  size_t n_claims, cap_claims;
  size_t n_nodes;
};

/* Open addressing by a hash of the item's key (its first member: an
 * object's address, or a string). */
typedef struct hslot {
  uint64_t h;
  void *item;
} hslot;

typedef struct htab {
  hslot *s;
  size_t cap, n;
  int str;                /* keys are strings */
} htab;

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
  nw__store *store;       /* watched; NULL when the watch failed */
  htab objs;              /* object -> rec */
  htab groups;            /* node name -> group */
  htab pids;              /* providerID -> pident */
  svec nodes;             /* every Node */
  svec inflight;          /* claims without a Node */
  svec pending;           /* pending pods */
  uint64_t next_seq[3];   /* per kind (pods, Nodes, claims) */
  chunk **chunks;         /* listed: holding values, or this take's */
  size_t n_chunks, cap_chunks;
  chunk *fresh;           /* this take's, created on its first decode */
  uint64_t gen;
  size_t reused, decoded;
};

static uint64_t name_hash(const char *k) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *k; k++)
    h = (h ^ (unsigned char)*k) * 0x100000001b3ull;
  return h ^ (h >> 32);
}

static uint64_t ptr_hash(const void *p) {
  uint64_t h = (uint64_t)(uintptr_t)p;
  h ^= h >> 17;
  h *= 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}

static int key_is(const htab *t, const void *item, const void *key) {
  const void *k = *(void *const *)item;
  return t->str ? strcmp(k, key) == 0 : k == key;
}

static size_t ht_find(const htab *t, uint64_t h, const void *key) {
  for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
    if (!t->s[i].item || (t->s[i].h == h && key_is(t, t->s[i].item, key)))
      return i;
  }
}

static void *ht_get(const htab *t, uint64_t h, const void *key) {
  return t->cap ? t->s[ht_find(t, h, key)].item : NULL;
}

static int ht_put(htab *t, uint64_t h, void *item) {
  /* At most half full, so probes stay short. */
  if ((t->n + 1) * 2 > t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    hslot *s = calloc(cap, sizeof(*s));
    if (!s)
      return -1;
    for (size_t i = 0; i < t->cap; i++) {
      if (!t->s[i].item)
        continue;
      size_t j = t->s[i].h & (cap - 1);
      while (s[j].item)
        j = (j + 1) & (cap - 1);
      s[j] = t->s[i];
    }
    free(t->s);
    t->s = s;
    t->cap = cap;
  }
  size_t i = ht_find(t, h, *(void **)item);
  t->s[i] = (hslot){h, item};
  t->n++;
  return 0;
}

/* Removes key, shifting back the entries after it (no tombstones). */
static void ht_del(htab *t, uint64_t h, const void *key) {
  if (!t->cap)
    return;
  size_t mask = t->cap - 1;
  size_t i = ht_find(t, h, key);
  if (!t->s[i].item)
    return;
  t->s[i].item = NULL;
  t->n--;
  for (size_t j = (i + 1) & mask; t->s[j].item; j = (j + 1) & mask) {
    size_t k = t->s[j].h & mask;
    /* Entry j may move to the hole at i unless its home k lies in the
     * cyclic range (i, j]. */
    int stays = i <= j ? (k > i && k <= j) : (k > i || k <= j);
    if (stays)
      continue;
    t->s[i] = t->s[j];
    t->s[j].item = NULL;
    i = j;
  }
}

/* The first position whose place is not before seq. */
static size_t svec_at(const svec *s, uint64_t seq) {
  if (s->n && s->v[s->n - 1].seq < seq)
    return s->n;
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->v[mid].seq < seq)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static int svec_insert(svec *s, rec *r) {
  size_t at = svec_at(s, r->seq);
  /* A tombstone next to the place keeps the order when reused. */
  size_t reuse = at < s->n && !s->v[at].r ? at
                 : (at > 0 && !s->v[at - 1].r ? at - 1 : s->n);
  if (reuse < s->n && (reuse + 1 == s->n || s->v[reuse + 1].seq > r->seq)) {
    s->v[reuse] = (ent){r->seq, NULL, r};
    s->dead--;
    return 0;
  }
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 8;
    ent *v = realloc(s->v, cap * sizeof(*v));
    if (!v)
      return -1;
    s->v = v;
    s->cap = cap;
  }
  size_t i = svec_at(s, r->seq);
  memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
  s->v[i] = (ent){r->seq, NULL, r};
  s->n++;
  return 0;
}

static ent *svec_find(const svec *s, const rec *r) {
  size_t i = svec_at(s, r->seq);
  return i < s->n && s->v[i].r == r ? &s->v[i] : NULL;
}

static void svec_remove(svec *s, const rec *r) {
  ent *e = svec_find(s, r);
  if (!e)
    return;
  e->r = NULL;
  e->val = NULL;
  s->dead++;
  if (s->dead < 32 || s->dead * 2 < s->n)
    return;
  size_t k = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (s->v[i].r)
      s->v[k++] = s->v[i];
  }
  s->n = k;
  s->dead = 0;
}

static size_t svec_live(const svec *s) { return s->n - s->dead; }

static void chunk_unref(chunk *ch) {
  if (ch && atomic_fetch_sub(&ch->refs, 1) == 1) {
    for (size_t i = 0; i < ch->n_dead; i++)
      json_decref(ch->dead[i]);
    free(ch->dead);
    nw__arena_free(ch->arena);
    free(ch);
  }
}

/* Hands a claim copy the cache no longer keeps to its chunk (see
 * chunk.dead).  Out of memory, the copy is leaked rather than freed
 * under a snapshot that may still read it. */
static void chunk_defer(chunk *ch, json_t *copy) {
  if (!copy)
    return;
  if (ch->n_dead == ch->cap_dead) {
    size_t cap = ch->cap_dead ? ch->cap_dead * 2 : 16;
    json_t **g = realloc(ch->dead, cap * sizeof(*g));
    if (!g)
      return;
    ch->dead = g;
    ch->cap_dead = cap;
  }
  ch->dead[ch->n_dead++] = copy;
}

/* The take's chunk for new decodes; NULL on OOM. */
static chunk *fresh_chunk(nw__snap_cache *c) {
  if (c->fresh)
    return c->fresh;
  if (c->n_chunks == c->cap_chunks) {
    size_t cap = c->cap_chunks ? c->cap_chunks * 2 : 16;
    chunk **g = realloc(c->chunks, cap * sizeof(*g));
    if (!g)
      return NULL;
    c->chunks = g;
    c->cap_chunks = cap;
  }
  chunk *ch = calloc(1, sizeof(*ch));
  nw_arena *a = ch ? nw__arena_new() : NULL;
  if (!a) {
    free(ch);
    return NULL;
  }
  ch->arena = a;
  atomic_init(&ch->refs, 1);
  ch->at = c->n_chunks;
  c->chunks[c->n_chunks++] = ch;
  c->fresh = ch;
  return ch;
}

/* Unlists a chunk and drops the cache's reference. */
static void chunk_retire(nw__snap_cache *c, chunk *ch) {
  chunk *last = c->chunks[--c->n_chunks];
  c->chunks[ch->at] = last;
  last->at = ch->at;
  chunk_unref(ch);
}

static void chunk_hold(chunk *ch) {
  ch->live++;
  ch->made++;
}

static void chunk_release(nw__snap_cache *c, chunk *ch) {
  if (ch && --ch->live == 0 && ch != c->fresh)
    chunk_retire(c, ch);
}

static group *group_get(nw__snap_cache *c, const char *name) {
  uint64_t h = name_hash(name);
  group *g = ht_get(&c->groups, h, name);
  if (g)
    return g;
  g = calloc(1, sizeof(*g));
  char *key = g ? strdup(name) : NULL;
  if (!key) {
    free(g);
    return NULL;
  }
  g->name = key;
  if (ht_put(&c->groups, h, g) != 0) {
    free(key);
    free(g);
    return NULL;
  }
  return g;
}

static void group_drop_if_unused(nw__snap_cache *c, group *g) {
  if (!g || svec_live(&g->pods) || g->nodes)
    return;
  ht_del(&c->groups, name_hash(g->name), g->name);
  free(g->pods.v);
  free(g->name);
  free(g);
}

static pident *pident_get(nw__snap_cache *c, const char *pid) {
  uint64_t h = name_hash(pid);
  pident *p = ht_get(&c->pids, h, pid);
  if (p)
    return p;
  p = calloc(1, sizeof(*p));
  char *key = p ? strdup(pid) : NULL;
  if (!key) {
    free(p);
    return NULL;
  }
  p->pid = key;
  if (ht_put(&c->pids, h, p) != 0) {
    free(key);
    free(p);
    return NULL;
  }
  return p;
}

static void pident_drop_if_unused(nw__snap_cache *c, pident *p) {
  if (p->n_claims || p->n_nodes)
    return;
  ht_del(&c->pids, name_hash(p->pid), p->pid);
  free(p->claims);
  free(p->pid);
  free(p);
}

static const char *str_at(const json_t *obj, const char *a, const char *b) {
  return json_string_value(json_object_get(json_object_get(obj, a), b));
}

/* A claim is in flight (a node of its own in the snapshot) unless it is
 * being deleted or a Node has its providerID. */
static void claim_reeval(nw__snap_cache *c, rec *r) {
  int want = !r->deleting && !(r->pi && r->pi->n_nodes > 0);
  if (want == r->inflight)
    return;
  if (want && svec_insert(&c->inflight, r) != 0)
    return;
  if (!want)
    svec_remove(&c->inflight, r);
  r->inflight = want;
}

static void pident_reeval(nw__snap_cache *c, pident *p) {
  for (size_t i = 0; i < p->n_claims; i++)
    claim_reeval(c, p->claims[i]);
}

/* The cached value of a pod in its list, NULL to decode when next used. */
static void pod_set_val(nw__snap_cache *c, rec *r, const void *val) {
  ent *e = r->grp ? svec_find(&r->grp->pods, r)
                  : (r->pending ? svec_find(&c->pending, r) : NULL);
  if (e)
    e->val = val;
}

/* Forgets r's decoded values (they go with their chunks). */
static void value_drop(nw__snap_cache *c, rec *r) {
  if (r->kind == NW__K_POD && r->state == DECODED)
    pod_set_val(c, r, NULL);
  /* Before the release, which may drop the cache's reference. */
  if (r->ch)
    chunk_defer(r->ch, r->copy);
  else
    json_decref(r->copy);
  r->copy = NULL;
  chunk_release(c, r->ch);
  r->ch = NULL;
  r->value = NULL;
  free(r->err);
  r->err = NULL;
  r->state = UNDECODED;
  if (r->own) {
    r->own->nodes--;
    group_drop_if_unused(c, r->own);
    r->own = NULL;
  }
  r->nodepool = NULL;
}

static void ifnode_drop(nw__snap_cache *c, rec *r) {
  chunk_release(c, r->ch2);
  r->ch2 = NULL;
  r->ifnode = NULL;
  r->ifpool = NULL;
  r->ifstate = UNDECODED;
}

/* Lists r by what its object says now. */
static void rec_link(nw__snap_cache *c, rec *r) {
  if (r->kind == NW__K_POD) {
    /* As the walk: a pod names its node (non-empty), or is pending, or
     * is in no snapshot. */
    const char *on = str_at(r->obj, "spec", "nodeName");
    if (on && *on) {
      r->grp = group_get(c, on);
      if (r->grp && svec_insert(&r->grp->pods, r) != 0) {
        group_drop_if_unused(c, r->grp);
        r->grp = NULL;
      }
    } else if (!on && nw__pod_pending(r->obj)) {
      r->pending = svec_insert(&c->pending, r) == 0;
    }
    return;
  }
  const char *pid = r->kind == NW__K_NODE ? str_at(r->obj, "spec", "providerID")
                                         : str_at(r->obj, "status", "providerID");
  r->pi = pid && *pid ? pident_get(c, pid) : NULL;
  if (r->kind == NW__K_NODE) {
    if (r->pi && r->pi->n_nodes++ == 0)
      pident_reeval(c, r->pi);
    return;
  }
  if (r->pi && r->pi->n_claims == r->pi->cap_claims) {
    size_t cap = r->pi->cap_claims ? r->pi->cap_claims * 2 : 2;
    rec **g = realloc(r->pi->claims, cap * sizeof(*g));
    if (g) {
      r->pi->claims = g;
      r->pi->cap_claims = cap;
    }
  }
  if (r->pi && r->pi->n_claims < r->pi->cap_claims)
    r->pi->claims[r->pi->n_claims++] = r;
  r->deleting = nw__obj_deleting(r->obj) != 0;
  claim_reeval(c, r);
}

/* Undoes rec_link and forgets r's decoded values. */
static void rec_unlink(nw__snap_cache *c, rec *r) {
  value_drop(c, r);
  ifnode_drop(c, r);
  if (r->grp) {
    svec_remove(&r->grp->pods, r);
    group_drop_if_unused(c, r->grp);
    r->grp = NULL;
  }
  if (r->pending) {
    svec_remove(&c->pending, r);
    r->pending = 0;
  }
  if (r->inflight) {
    svec_remove(&c->inflight, r);
    r->inflight = 0;
  }
  pident *p = r->pi;
  r->pi = NULL;
  if (!p)
    return;
  if (r->kind == NW__K_NODE) {
    if (--p->n_nodes == 0)
      pident_reeval(c, p);
  } else {
    for (size_t i = 0; i < p->n_claims; i++) {
      if (p->claims[i] == r) {
        memmove(&p->claims[i], &p->claims[i + 1],
                (p->n_claims - i - 1) * sizeof(*p->claims));
        p->n_claims--;
        break;
      }
    }
  }
  pident_drop_if_unused(c, p);
}

static void rec_add(nw__snap_cache *c, nw__kind kind, json_t *obj) {
  rec *r = calloc(1, sizeof(*r));
  if (!r)
    return;
  r->obj = json_incref(obj);
  r->kind = kind;
  r->seq = c->next_seq[kind]++;
  if (ht_put(&c->objs, ptr_hash(obj), r) != 0) {
    json_decref(obj);
    free(r);
    return;
  }
  if (kind == NW__K_NODE && svec_insert(&c->nodes, r) != 0) {
    ht_del(&c->objs, ptr_hash(obj), obj);
    json_decref(obj);
    free(r);
    return;
  }
  rec_link(c, r);
}

static void rec_free(nw__snap_cache *c, rec *r) {
  rec_unlink(c, r);
  if (r->kind == NW__K_NODE)
    svec_remove(&c->nodes, r);
  ht_del(&c->objs, ptr_hash(r->obj), r->obj);
  json_decref(r->obj);
  free(r);
}

static void on_store(void *user, nw__kind kind, const json_t *old_obj,
                     const json_t *new_obj) {
  nw__snap_cache *c = user;
  if (kind != NW__K_POD && kind != NW__K_NODE && kind != NW__K_NODECLAIM)
    return;
  rec *r = old_obj ? ht_get(&c->objs, ptr_hash(old_obj), old_obj) : NULL;
  if (!new_obj) {
    if (r)
      rec_free(c, r);
    return;
  }
  if (!r) {
    rec_add(c, kind, (json_t *)new_obj);
    return;
  }
  /* A replaced object keeps its place. */
  rec_unlink(c, r);
  ht_del(&c->objs, ptr_hash(r->obj), r->obj);
  json_decref(r->obj);
  r->obj = json_incref((json_t *)new_obj);
  if (ht_put(&c->objs, ptr_hash(new_obj), r) != 0) {
    if (r->kind == NW__K_NODE)
      svec_remove(&c->nodes, r);
    json_decref(r->obj);
    free(r);
    return;
  }
  rec_link(c, r);
}

static int seed(void *user, json_t *obj) {
  void **arg = user;
  rec_add(arg[0], *(nw__kind *)arg[1], obj);
  return 0;
}

/* Drops every record (the cache then works as if the store were
 * empty). */
static void recs_clear(nw__snap_cache *c) {
  while (c->objs.n) {
    for (size_t i = 0; i < c->objs.cap && c->objs.n; i++) {
      if (c->objs.s[i].item)
        rec_free(c, c->objs.s[i].item);
    }
  }
}

nw__snap_cache *nw__snap_cache_new(nw__env *env) {
  nw__snap_cache *c = calloc(1, sizeof(nw__snap_cache));
  if (!c)
    return NULL;
  c->groups.str = 1;
  c->pids.str = 1;
  if (!env || !env->store)
    return c;
  /* What the store holds already, in its order; then every change. */
  static const nw__kind kinds[] = {NW__K_NODE, NW__K_NODECLAIM, NW__K_POD};
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
    void *arg[2] = {c, (void *)&kinds[i]};
    nw__store_foreach(env->store, kinds[i], seed, arg);
  }
  if (nw__store_watch(env->store, on_store, c) == 0)
    c->store = env->store;
  else
    recs_clear(c);
  return c;
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
  if (c->store)
    nw__store_unwatch(c->store, on_store, c);
  for (size_t i = 0; i < c->n_usable; i++)
    usable_free(&c->usable[i]);
  free(c->usable);
  recs_clear(c);
  free(c->objs.s);
  free(c->groups.s);
  free(c->pids.s);
  free(c->nodes.v);
  free(c->inflight.v);
  free(c->pending.v);
  /* Whatever snapshots still use stays with them. */
  for (size_t i = 0; i < c->n_chunks; i++)
    chunk_unref(c->chunks[i]);
  free(c->chunks);
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

/* ---- taking a snapshot --------------------------------------------------- */

/* Node name -> position in the snapshot's nodes, in the snapshot's
 * arena (looked up once per bound pod by the walk). */
typedef struct name_index {
  const char **keys;
  size_t *pos;
  size_t cap;             /* power of two, at least twice the names */
} name_index;

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
  grow nodes, claims, pending, pools, ds, pvs, pvcs, scs, pods;
  grow facts;             /* parallel to claims */
  name_index node_index;  /* Node name -> position in nodes (the walk) */
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


/* The node an in-flight claim (borrowed) counts as: what it asked for or,
 * once launched, what it has, with its labels, single-valued In
 * requirements and hostname.  In `a`; *nodepool gets the claim's pool.
 * NULL when the claim does not decode. */
static const nw__node *inflight_node(const json_t *claim, nw_arena *a,
                                     const char **nodepool) {
  nw_error err = {0};
  nw_node_claim *c = nw__claim_decode((json_t *)claim, NULL, a, &err);
  if (!c)
    return NULL;
  nw__node *node = nw__arena_alloc(a, sizeof(*node));
  nw_kv *kv = nw__arena_alloc(a, (c->labels.len + c->requirements.len + 2) * sizeof(*kv));
  if (!node || !kv)
    return NULL;
  memset(node, 0, sizeof(*node));
  node->name = c->name;
  node->provider_id = "";
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
  *nodepool = c->nodepool;
  return node;
}

/* ---- the walk: without a cache, every object is decoded ------------------ */

/* A pod bound to the node at snapshot position `node`. */
typedef struct bound {
  size_t node;
  const nw__pod *pod;
} bound;

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

/*
 * The part of a claim a snapshot keeps for the workers, as a private copy
 * (the loop goes on changing the store): its metadata (name, labels,
 * annotations), with apiVersion and kind.  What the disruption rules read
 * of spec and status is in the claim's facts (nw__claim_facts_of), and a
 * claim changes with every pod event on its node (lastPodEventTime), so
 * copying status and spec each time was most of a take's copying.  NULL
 * on OOM.
 */
static json_t *claim_copy(const json_t *claim) {
  json_t *md = json_deep_copy(json_object_get(claim, "metadata"));
  json_t *c = md ? json_object() : NULL;
  if (!c) {
    json_decref(md);
    return NULL;
  }
  json_object_set_new(c, "apiVersion",
                      json_deep_copy(json_object_get(claim, "apiVersion")));
  json_object_set_new(c, "kind", json_deep_copy(json_object_get(claim, "kind")));
  json_object_set_new(c, "metadata", md);
  return c;
}

/* Appends a node, its claim's private copy (claim borrowed, may be NULL)
 * and the claim's facts, which *facts (optional) gets too. */
static nw__sched_node *push_node(taker *t, json_t *claim,
                                 const nw__claim_facts **facts) {
  nw__sched_node *n = grow_push(t->s->arena, &t->nodes);
  json_t **c = grow_push(t->s->arena, &t->claims);
  const nw__claim_facts **f = grow_push(t->s->arena, &t->facts);
  if (!n || !c || !f)
    return NULL;
  memset(n, 0, sizeof(*n));
  *f = NULL;
  *c = NULL;
  nw__claim_facts *cf = claim ? nw__arena_alloc(t->s->arena, sizeof(*cf)) : NULL;
  if (cf) {
    nw__claim_facts_of(claim, cf);
    *f = cf;
    *c = claim_copy(claim);
  }
  if (facts)
    *facts = *f;
  return n;
}

/* A Node whose claim is not Initialized yet is still coming up: its
 * not-ready and startup taints go away, and pods planned onto it must
 * not cause a second launch (Karpenter uses the claim's taints until the
 * node is initialized). */
static int node_in_flight(const nw__claim_facts *f) {
  return f && !f->initialized && !f->deleting;
}

static int add_node(void *user, json_t *obj) {
  taker *t = user;
  nw_error err = {0};
  const nw__node *node = nw__node_decode(obj, t->s->arena, &err);
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
  n->in_flight = node_in_flight(f);
  name_index_set(&t->node_index, node->name, t->nodes.n - 1);
  n->nodepool = nw__labels_get(&node->labels, "karpenter.sh/nodepool");
  return 0;
}

/* A claim without a Node yet counts as a node with what it asked for (or,
 * once launched, what it has), so the pods the kube-scheduler will bind
 * there cause no second launch. */
static int add_inflight_claim(void *user, json_t *claim) {
  taker *t = user;
  if (nw__obj_deleting(claim))
    return 0;
  const char *pid = str_at(claim, "status", "providerID");
  if (pid && *pid && nw__store_by_provider_id(t->env->store, NW__K_NODE, pid))
    return 0;
  const char *pool = NULL;
  const nw__node *node = inflight_node(claim, t->s->arena, &pool);
  if (!node)
    return 0;
  nw__sched_node *sn = push_node(t, claim, NULL);
  if (!sn)
    return 1;
  sn->node = node;
  sn->in_flight = 1;
  sn->nodepool = pool;
  return 0;
}

/* A pod: bound to a node of the snapshot, or pending. */
static int add_pod(void *user, json_t *obj) {
  taker *t = user;
  const char *on = str_at(obj, "spec", "nodeName");
  nw_error err = {0};
  if (on) {
    size_t at = name_index_get(&t->node_index, on);
    const nw__pod *pod = at != (size_t)-1 ? nw__pod_decode(obj, t->s->arena, &err) : NULL;
    bound *b = pod ? grow_push(t->s->arena, &t->pods) : NULL;
    if (b)
      *b = (bound){at, pod};
    return 0;
  }
  if (!nw__pod_pending(obj))
    return 0;
  const nw__pod *pod = nw__pod_decode(obj, t->s->arena, &err);
  if (!pod) {
    t->env->ops->event(t->env, obj, "Warning", "FailedScheduling", err.message);
    return 0;
  }
  const nw__pod **slot = grow_push(t->s->arena, &t->pending);
  if (slot)
    *slot = pod;
  return 0;
}

static void take_walk(taker *t) {
  nw__env *env = t->env;
  name_index_init(&t->node_index, nw__store_count(env->store, NW__K_NODE), t->s->arena);
  /* Nodes before pods, as Karpenter does: a pod that binds meanwhile is
   * then seen on its node rather than nowhere. */
  nw__store_foreach(env->store, NW__K_NODE, add_node, t);
  nw__store_foreach(env->store, NW__K_NODECLAIM, add_inflight_claim, t);
  nw__store_foreach(env->store, NW__K_POD, add_pod, t);
  attach_pods(t);
}

/* ---- the maintained take ------------------------------------------------- */

/* r's decoded pod or Node (into this take's chunk when not decoded
 * since it last changed); NULL when it does not decode (r->err says
 * why) or on OOM. */
static const void *rec_value(nw__snap_cache *c, rec *r) {
  if (r->state == DECODED) {
    c->reused++;
    return r->value;
  }
  if (r->state == FAILED)
    return NULL;
  chunk *ch = fresh_chunk(c);
  if (!ch)
    return NULL;
  nw_error err = {0};
  const void *v = r->kind == NW__K_POD ? (const void *)nw__pod_decode(r->obj, ch->arena, &err)
                                       : (const void *)nw__node_decode(r->obj, ch->arena, &err);
  if (!v) {
    /* The object does not change until it is replaced: it fails the
     * same way at every take, which reports it again. */
    r->state = FAILED;
    r->err = strdup(err.message);
    return NULL;
  }
  r->state = DECODED;
  r->value = v;
  r->ch = ch;
  chunk_hold(ch);
  c->decoded++;
  if (r->kind == NW__K_NODE) {
    const nw__node *node = v;
    r->own = group_get(c, node->name);
    if (r->own)
      r->own->nodes++;
    r->nodepool = nw__labels_get(&node->labels, "karpenter.sh/nodepool");
  }
  return v;
}

/* A claim's facts, its private copy made alongside; NULL on OOM. */
static const nw__claim_facts *claim_value(nw__snap_cache *c, rec *r) {
  if (r->state == DECODED) {
    c->reused++;
    return r->value;
  }
  chunk *ch = fresh_chunk(c);
  nw__claim_facts *f = ch ? nw__arena_alloc(ch->arena, sizeof(*f)) : NULL;
  json_t *copy = f ? claim_copy(r->obj) : NULL;
  if (!copy)
    return NULL;
  nw__claim_facts_of(r->obj, f);
  r->state = DECODED;
  r->value = f;
  r->copy = copy;
  r->ch = ch;
  chunk_hold(ch);
  c->decoded++;
  return f;
}

static const nw__node *ifnode_value(nw__snap_cache *c, rec *r) {
  if (r->ifstate != UNDECODED)
    return r->ifnode;
  chunk *ch = fresh_chunk(c);
  if (!ch)
    return NULL;
  r->ifnode = inflight_node(r->obj, ch->arena, &r->ifpool);
  r->ifstate = r->ifnode ? DECODED : FAILED;
  if (r->ifnode) {
    r->ch2 = ch;
    chunk_hold(ch);
  }
  return r->ifnode;
}

/* The claim of Node record r: the one with its providerID.  Several
 * claims with one providerID: the store's answer, as the walk. */
static rec *node_claim(const nw__snap_cache *c, const rec *r) {
  const pident *p = r->pi;
  if (!p || !p->n_claims)
    return NULL;
  if (p->n_claims == 1)
    return p->claims[0];
  const json_t *obj = nw__store_by_provider_id(c->store, NW__K_NODECLAIM, p->pid);
  for (size_t i = 0; i < p->n_claims; i++) {
    if (p->claims[i]->obj == obj)
      return p->claims[i];
  }
  return NULL;
}

static int by_live(const void *a, const void *b) {
  const chunk *x = *(chunk *const *)a, *y = *(chunk *const *)b;
  return x->live > y->live ? -1 : (x->live < y->live ? 1 : 0);
}

/* Too many chunks: the values in all but the fullest few are forgotten,
 * to be decoded into this take's chunk when next used. */
static void cache_evacuate(nw__snap_cache *c) {
  if (c->n_chunks <= MAX_CHUNKS)
    return;
  chunk **order = malloc(c->n_chunks * sizeof(*order));
  if (!order)
    return;
  memcpy(order, c->chunks, c->n_chunks * sizeof(*order));
  qsort(order, c->n_chunks, sizeof(*order), by_live);
  for (size_t i = 0; i < c->n_chunks; i++)
    order[i]->evacuate = i >= KEEP_CHUNKS || order[i]->live * 2 < order[i]->made;
  free(order);
  for (size_t i = 0; i < c->objs.cap; i++) {
    rec *r = c->objs.s[i].item;
    if (r && r->ch && r->ch->evacuate)
      value_drop(c, r);
    if (r && r->ch2 && r->ch2->evacuate)
      ifnode_drop(c, r);
  }
  for (size_t i = 0; i < c->n_chunks; i++)
    c->chunks[i]->evacuate = 0;
}

/* A pending pod that did not decode, reported after the take. */
typedef struct failed_pod {
  json_t *obj;
  const char *why;
} failed_pod;

/* Fills t's nodes (with their claims and bound pods) and pending pods
 * from the cache's lists. */
static void take_maintained(taker *t, nw__snap_cache *c) {
  nw_arena *a = t->s->arena;
  c->gen++;
  cache_evacuate(c);
  size_t cap = c->nodes.n + c->inflight.n + 1;
  nw__sched_node *nodes = nw__arena_alloc(a, cap * sizeof(*nodes));
  json_t **claims = nw__arena_alloc(a, cap * sizeof(*claims));
  const nw__claim_facts **facts = nw__arena_alloc(a, cap * sizeof(*facts));
  group **groups = nw__arena_alloc(a, cap * sizeof(*groups));
  if (!nodes || !claims || !facts || !groups)
    return;
  size_t n = 0;
  for (size_t i = 0; i < c->nodes.n; i++) {
    rec *r = c->nodes.v[i].r;
    if (!r)
      continue;
    const nw__node *node = rec_value(c, r);
    if (!node) {
      if (r->state == FAILED)
        NW_WARN("snapshot", "skipping node: %s", r->err);
      continue;
    }
    rec *cl = node_claim(c, r);
    const nw__claim_facts *f = cl ? claim_value(c, cl) : NULL;
    memset(&nodes[n], 0, sizeof(nodes[n]));
    nodes[n].node = node;
    nodes[n].in_flight = node_in_flight(f);
    nodes[n].nodepool = r->nodepool;
    claims[n] = f ? cl->copy : NULL;
    facts[n] = f;
    groups[n] = r->own;
    /* Two Nodes of one name: the later one gets the pods, as the walk's
     * name index. */
    if (r->own) {
      r->own->owner = n;
      r->own->owner_gen = c->gen;
    }
    n++;
  }
  for (size_t i = 0; i < c->inflight.n; i++) {
    rec *r = c->inflight.v[i].r;
    if (!r)
      continue;
    const nw__node *node = ifnode_value(c, r);
    if (!node)
      continue;
    const nw__claim_facts *f = claim_value(c, r);
    memset(&nodes[n], 0, sizeof(nodes[n]));
    nodes[n].node = node;
    nodes[n].in_flight = 1;
    nodes[n].nodepool = r->ifpool;
    claims[n] = f ? r->copy : NULL;
    facts[n] = f;
    groups[n] = NULL;
    n++;
  }
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    const group *g = groups[i];
    if (g && g->owner_gen == c->gen && g->owner == i)
      total += g->pods.n;
  }
  const nw__pod **all = nw__arena_alloc(a, (total + 1) * sizeof(*all));
  size_t k = 0;
  for (size_t i = 0; i < n && all; i++) {
    group *g = groups[i];
    nodes[i].pods = all + k;
    if (!g || g->owner_gen != c->gen || g->owner != i)
      continue;
    size_t start = k;
    for (size_t j = 0; j < g->pods.n; j++) {
      ent *e = &g->pods.v[j];
      if (!e->r)
        continue;
      if (e->val) {
        c->reused++;
      } else {
        e->val = rec_value(c, e->r);
      }
      if (e->val)
        all[k++] = e->val;
    }
    nodes[i].n_pods = k - start;
  }
  const nw__pod **pending = nw__arena_alloc(a, (c->pending.n + 1) * sizeof(*pending));
  failed_pod *failed = NULL;
  size_t n_pending = 0, n_failed = 0;
  for (size_t i = 0; i < c->pending.n && pending; i++) {
    ent *e = &c->pending.v[i];
    if (!e->r)
      continue;
    if (e->val) {
      c->reused++;
    } else {
      e->val = rec_value(c, e->r);
    }
    if (e->val) {
      pending[n_pending++] = e->val;
      continue;
    }
    if (e->r->state != FAILED)
      continue;
    if (!failed)
      failed = malloc(c->pending.n * sizeof(*failed));
    if (failed)
      failed[n_failed++] = (failed_pod){json_incref(e->r->obj), nw__arena_strdup(a, e->r->err)};
  }
  t->nodes = (grow){nodes, n, cap, sizeof(*nodes)};
  t->claims = (grow){claims, n, cap, sizeof(*claims)};
  t->facts = (grow){facts, n, cap, sizeof(*facts)};
  t->pending = (grow){pending, pending ? n_pending : 0, c->pending.n + 1, sizeof(*pending)};
  if (c->fresh && c->fresh->live == 0)
    chunk_retire(c, c->fresh);
  c->fresh = NULL;
  /* The snapshot keeps every chunk holding values alive: those it uses
   * are among them, and there are few. */
  t->s->claims_borrowed = 1;
  t->s->chunks = nw__arena_alloc(a, (c->n_chunks + 1) * sizeof(*t->s->chunks));
  for (size_t i = 0; i < c->n_chunks && t->s->chunks; i++) {
    atomic_fetch_add(&c->chunks[i]->refs, 1);
    t->s->chunks[t->s->n_chunks++] = c->chunks[i];
  }
  /* Reported once the cache's lists are no longer walked (an event may
   * change the store). */
  for (size_t i = 0; i < n_failed; i++) {
    t->env->ops->event(t->env, failed[i].obj, "Warning", "FailedScheduling", failed[i].why);
    json_decref(failed[i].obj);
  }
  free(failed);
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
  taker t = {env, s, {NULL, 0, 0, sizeof(nw__sched_node)},
             {NULL, 0, 0, sizeof(json_t *)}, {NULL, 0, 0, sizeof(nw__pod *)},
             {NULL, 0, 0, sizeof(nw__snap_pool)}, {NULL, 0, 0, sizeof(void *)},
             {NULL, 0, 0, sizeof(void *)}, {NULL, 0, 0, sizeof(void *)},
             {NULL, 0, 0, sizeof(void *)}, {NULL, 0, 0, sizeof(bound)},
             {NULL, 0, 0, sizeof(nw__claim_facts *)}, {NULL, NULL, 0}};
  if (cache && cache->store && cache->store == env->store)
    take_maintained(&t, cache);
  else
    take_walk(&t);
  nw__store_foreach(env->store, NW__K_NODEPOOL, add_pool, &t);
  nw__store_foreach(env->store, NW__K_DAEMONSET, collect_ds, &t);
  nw__store_foreach(env->store, NW__K_PV, collect_pv, &t);
  nw__store_foreach(env->store, NW__K_PVC, collect_pvc, &t);
  nw__store_foreach(env->store, NW__K_STORAGECLASS, collect_sc, &t);
  nw__store_foreach(env->store, NW__K_PDB, collect_pdb, &t);
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

/*
 * What a pool's usable types depend on, of the types themselves.  A list
 * the provider gave a version (ABI 1.3, `version` not 0) is promised
 * unchanged in its text while the version holds, so the version stands
 * for names, requirements, zones and capacity types; the offerings'
 * availability comes from each call's pricing and is always read.  The
 * two kinds start apart so they never compare equal.
 */
static uint64_t types_fingerprint(const nw_instance_types *types,
                                  uint64_t version) {
  uint64_t h = version ? mix(0x5bd1e9955bd1e995ull, version)
                       : 0xcbf29ce484222325ull /* any non-zero start */;
  for (size_t i = 0; i < types->len; i++) {
    const nw_instance_type *t = &types->items[i];
    if (!version) {
      h = hash_text(h, t->name);
      for (size_t j = 0; j < t->requirements.len; j++) {
        const nw_requirement *r = &t->requirements.items[j];
        h = mix(hash_text(h, r->key), (uint64_t)r->op + 1);
        for (size_t v = 0; v < r->n_values; v++)
          h = hash_text(h, r->values[v]);
      }
    }
    for (size_t o = 0; o < t->n_offerings; o++) {
      const nw_offering *of = &t->offerings[o];
      if (!version)
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
                       nw__sched_pool *sp, uint64_t version, nw_arena *a) {
  char *key = pool_key(pi);
  if (!key)
    return;
  uint64_t fp = types_fingerprint(&sp->types, version);
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
    uint64_t version = 0;
    nw_error err = {0};
    if (nw__priced_instance_types(plugins, pi->provider, pi->pool->name,
                                  pi->nodeclass_json, a, &types,
                                  c ? &version : NULL, &err) != NW_OK) {
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
      set_usable(c, &s->pools[kept], &s->sched_pools[kept], version, a);
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
  for (size_t i = 0; i < s->n_nodes && !s->claims_borrowed; i++)
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
