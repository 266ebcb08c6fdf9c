/*
 * The scheduling simulation (see scheduler.h for the contract).
 *
 * Layout of this file: compiled snapshot (types, pools, nodes, groups),
 * per-solve overlay (slots, claims, group counts), pod compilation and
 * relaxation, topology, fitting on nodes and claims, the queue, and the
 * result.
 */
#include "scheduling/scheduler.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/quantity.h"
#include "scheduling/internal.h"
#include "util/arena.h"

#define K_ZONE "topology.kubernetes.io/zone"
#define K_REGION "topology.kubernetes.io/region"
#define K_HOST "kubernetes.io/hostname"
#define K_ITYPE "node.kubernetes.io/instance-type"
#define K_ARCH "kubernetes.io/arch"
#define K_OS "kubernetes.io/os"
#define K_CT "karpenter.sh/capacity-type"
#define K_POOL "karpenter.sh/nodepool"

enum { DEFAULT_MAX_OPTIONS = 60 };
/* A claim keeps growing while a type within 5% of its best cost
 * efficiency still fits (see compute_eff). */
static const double EFF_SLACK = 0.95;

/* ---- count maps ------------------------------------------------------ */

int32_t nw__cmap_get(const cmap *m, uint32_t k) {
  if (!m->cap)
    return 0;
  uint32_t h = (k * 2654435761u) & (m->cap - 1);
  while (m->keys[h]) {
    if (m->keys[h] == k + 1)
      return m->vals[h];
    h = (h + 1) & (m->cap - 1);
  }
  return 0;
}

static void cmap_put_raw(cmap *m, uint32_t k, int32_t v) {
  uint32_t h = (k * 2654435761u) & (m->cap - 1);
  while (m->keys[h] && m->keys[h] != k + 1)
    h = (h + 1) & (m->cap - 1);
  if (!m->keys[h]) {
    m->keys[h] = k + 1;
    m->n++;
  }
  m->vals[h] = v;
}

void nw__cmap_add(nw_arena *a, cmap *m, uint32_t k, int32_t d) {
  if ((m->n + 1) * 2 > m->cap) {
    cmap nm = {m->cap ? m->cap * 2 : 16, 0, NULL, NULL};
    nm.keys = nw__arena_alloc(a, nm.cap * sizeof(*nm.keys));
    nm.vals = nw__arena_alloc(a, nm.cap * sizeof(*nm.vals));
    for (uint32_t i = 0; i < m->cap; i++)
      if (m->keys[i])
        cmap_put_raw(&nm, m->keys[i] - 1, m->vals[i]);
    *m = nm;
  }
  cmap_put_raw(m, k, nw__cmap_get(m, k) + d);
}

cmap nw__cmap_clone(nw_arena *a, const cmap *m) {
  cmap c = *m;
  if (!m->cap)
    return c;
  c.keys = nw__arena_alloc(a, m->cap * sizeof(*c.keys));
  c.vals = nw__arena_alloc(a, m->cap * sizeof(*c.vals));
  memcpy(c.keys, m->keys, m->cap * sizeof(*c.keys));
  memcpy(c.vals, m->vals, m->cap * sizeof(*c.vals));
  return c;
}

/* ---- compiled snapshot ----------------------------------------------- */

typedef struct soff {
  uint32_t zone, ct;
  double price;
  int avail;
  const nw_offering *src;
} soff;

typedef struct stype {
  const nw_instance_type *src;
  nw__sreqs reqs;
  rvec alloc, cap;
  uint32_t n_offs;
  soff *offs;
  double min_price;            /* cheapest available offering, -1 if none */
} stype;

typedef struct spool {
  size_t idx;
  const nw__nodepool *src;
  nw__sreqs reqs;
  const nw_taints *taints;
  stype *types;                /* sorted by cheapest offering */
  uint32_t n_types;
  rvec *ds;                    /* daemonset overhead per type */
  int limited[NRES];
  rvec limit;
  int64_t node_limit;          /* -1 when unlimited */
  rvec base_usage;
  int64_t base_nodes;
} spool;

typedef struct epod {
  const nw__pod *p;
  uint32_t n_anti;
  uint32_t *anti;              /* groups this pod owns (required anti) */
} epod;

typedef struct snode {
  const nw__sched_node *src;
  nw__sreqs reqs;              /* labels as In [value] */
  uint32_t host;
  rvec alloc, used;
  int unschedulable;
  int pool;                    /* index into pools or -1 */
  rvec cap;
  uint32_t n_pods;
  epod *pods;
  size_t n_ports;
  const nw__host_port *const *ports;
  const nw_taint *taints;      /* what blocks pods (see effective_taints) */
  size_t n_taints;
} snode;

typedef struct skey {
  uint32_t key;
  uint32_t n;
  uint32_t *vals;              /* sorted by string */
} skey;

enum { LABEL_GUESSES = 64 };

struct nw__scheduler {
  nw_arena *a;
  nw__strtab st;
  nw__strtab sigs;             /* group and class signatures */
  const nw__sched_input *in;
  const char *rnames[NRES];
  uint32_t nres;
  spool *pools;                /* by weight desc, then name */
  size_t n_pools;
  snode *nodes;
  size_t n_nodes;
  tgroup **groups;             /* indexed by signature id */
  size_t n_groups, cap_groups;
  uint32_t *anti_base;         /* groups owned by existing pods */
  size_t n_anti_base, cap_anti_base;
  uint8_t *wellknown;          /* per key id */
  size_t n_wellknown;
  skey *universe;
  size_t n_universe;
  uint32_t k_zone, k_host, k_itype, k_ct, k_pool;
  nw__strtab pvc_ix, pv_ix, sc_ix;
  uint32_t claim_names;        /* placeholders interned so far */
  /* Per label position: the ids of the last labels compiled there (see
   * intern_guess). */
  uint32_t guess_key[LABEL_GUESSES], guess_val[LABEL_GUESSES];
};

/* ---- small helpers ---------------------------------------------------- */

static int res_index(nw__scheduler *s, const char *name, int add) {
  /* The first byte tells cpu, memory, pods and ephemeral-storage apart;
   * this runs for every request of every pod of every scheduler. */
  for (uint32_t i = 0; i < s->nres; i++)
    if (s->rnames[i][0] == name[0] && strcmp(s->rnames[i], name) == 0)
      return (int)i;
  if (!add || s->nres == NRES)
    return -1;
  s->rnames[s->nres] = nw__arena_strdup(s->a, name);
  return (int)s->nres++;
}

/* Adds (sign +1) or subtracts a resource list into v. */
static int rvec_addl(nw__scheduler *s, rvec *v, const nw_resource_list *l,
                     int sign) {
  int ok = 1;
  for (size_t i = 0; i < l->len; i++) {
    int r = res_index(s, l->items[i].name, 1);
    if (r < 0) {
      ok = 0;
      continue;
    }
    v->v[r] += sign * l->items[i].value;
  }
  return ok;
}

/* Adds a pod's requests into v: its well-known sums when that is all it
 * asks for (nw__pod_derive), without matching names. */
static void pod_requests_add(nw__scheduler *s, rvec *v, const nw__pod *p) {
  if (!p->requests_wk) {
    rvec_addl(s, v, &p->requests, 1);
    return;
  }
  for (int i = 0; i < NW__N_WK; i++)
    v->v[i] += p->wk_requests[i];
}

static int rvec_fits(const rvec *need, const rvec *have, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    if (need->v[i] > have->v[i])
      return 0;
  return 1;
}

static void rvec_add(rvec *a, const rvec *b, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    a->v[i] += b->v[i];
}

/* need <= have - used, only where need is positive. */
static int fits_free(const rvec *need, const rvec *used, const rvec *have,
                     uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    if (need->v[i] > 0 && used->v[i] + need->v[i] > have->v[i])
      return 0;
  return 1;
}

int64_t nw__instance_type_allocatable(const nw_instance_type *it,
                                      const char *name) {
  return nw__resources_get(&it->capacity, name) -
         nw__resources_get(&it->kube_reserved, name) -
         nw__resources_get(&it->system_reserved, name) -
         nw__resources_get(&it->eviction_threshold, name);
}

static int allow_wellknown(void *ctx, uint32_t key) {
  nw__scheduler *s = ctx;
  return key < s->n_wellknown && s->wellknown[key];
}

static void mark_wellknown(nw__scheduler *s, uint32_t key) {
  if (key >= s->n_wellknown) {
    size_t n = (key + 1) * 2;
    s->wellknown = realloc(s->wellknown, n);
    if (!s->wellknown)
      abort();
    memset(s->wellknown + s->n_wellknown, 0, n - s->n_wellknown);
    s->n_wellknown = n;
  }
  s->wellknown[key] = 1;
}

/*
 * Labels as requirements (key In [value]), as nw__sreqs_from would build
 * them -- keys and values interned in the same order, sorted by key --
 * without its per-label work for operators other than a one-value In:
 * every node's labels are compiled for every scheduler.  Labels normally
 * have distinct keys; repeated ones go through nw__sreqs_from, which
 * intersects them.
 */
/*
 * The id of str, trying *guess first.  Nodes of a cluster carry the same
 * label keys in the same order, and mostly the same values (zone, type,
 * pool), so the id seen at a label's position on the previous node is
 * usually right, and one compare replaces hashing and probing.  A wrong
 * guess interns as usual; either way the id is the one intern gives.
 */
static uint32_t intern_guess(nw__scheduler *s, const char *str,
                             uint32_t *guess) {
  if (*guess < s->st.n && strcmp(s->st.strs[*guess], str) == 0)
    return *guess;
  *guess = nw__strtab_intern(&s->st, str);
  return *guess;
}

static nw__sreqs labels_sreqs_in(nw__scheduler *s, nw_arena *a,
                                 const nw_labels *l) {
  if (l->len == 0)
    return (nw__sreqs){0, NULL};
  nw__sreq *r = nw__arena_alloc(a, l->len * sizeof(*r));
  uint32_t *vals = nw__arena_alloc(a, l->len * sizeof(*vals));
  /* Sorted as (key id, position) pairs: moving 8 bytes instead of a
   * 48-byte requirement. */
  uint64_t small[LABEL_GUESSES];
  uint64_t *ord = l->len <= LABEL_GUESSES
                      ? small
                      : nw__arena_alloc(a, l->len * sizeof(*ord));
  uint32_t spare_k = UINT32_MAX, spare_v = UINT32_MAX;
  for (size_t i = 0; i < l->len; i++) {
    int g = i < LABEL_GUESSES;
    uint32_t key = intern_guess(s, l->items[i].key,
                                g ? &s->guess_key[i] : &spare_k);
    vals[i] = intern_guess(s, l->items[i].value,
                           g ? &s->guess_val[i] : &spare_v);
    ord[i] = (uint64_t)key << 32 | (uint64_t)i;
  }
  /* Insertion sort: a node has a few dozen labels at most. */
  int dup = 0;
  for (size_t i = 1; i < l->len; i++) {
    uint64_t x = ord[i];
    size_t j = i;
    for (; j > 0 && ord[j - 1] > x; j--)
      ord[j] = ord[j - 1];
    ord[j] = x;
  }
  for (size_t i = 0; i < l->len; i++) {
    uint32_t key = (uint32_t)(ord[i] >> 32);
    dup |= i > 0 && (uint32_t)(ord[i - 1] >> 32) == key;
    uint32_t pos = (uint32_t)(ord[i] & 0xffffffffu);
    r[i] = (nw__sreq){.key = key, .n = 1, .vals = &vals[pos]};
  }
  if (!dup)
    return (nw__sreqs){(uint32_t)l->len, r};
  nw_requirement *q = nw__arena_alloc(a, l->len * sizeof(*q));
  for (size_t i = 0; i < l->len; i++)
    q[i] = (nw_requirement){l->items[i].key, NW_OP_IN, 1,
                            (const char *const *)&l->items[i].value, 0};
  nw_requirements rq = {l->len, q};
  return nw__sreqs_from(a, &s->st, &rq);
}

static nw__sreqs labels_sreqs(nw__scheduler *s, const nw_labels *l) {
  return labels_sreqs_in(s, s->a, l);
}

/* Whether the tolerations cover every taint; PreferNoSchedule counts only
 * when `prefer` is set (until the pod's last relaxation). */
static int tolerates_all(const nw__pod *p, const nw_taint *t, size_t n,
                         int prefer, const nw_taint **bad) {
  for (size_t i = 0; i < n; i++) {
    if (t[i].effect == NW_TAINT_PREFER_NO_SCHEDULE && !prefer)
      continue;
    if (!nw__tolerates(p->tolerations, p->n_tolerations, &t[i])) {
      if (bad)
        *bad = &t[i];
      return 0;
    }
  }
  return 1;
}

/* ---- compiling instance types and pools ------------------------------ */

static double offering_min_price(const stype *t) {
  double best = -1;
  for (uint32_t i = 0; i < t->n_offs; i++)
    if (t->offs[i].avail && t->offs[i].price >= 0 &&
        (best < 0 || t->offs[i].price < best))
      best = t->offs[i].price;
  return best;
}

static int cmp_type(const void *a, const void *b) {
  const stype *x = a, *y = b;
  double px = x->min_price, py = y->min_price;
  if (px < 0)
    px = 1e300;
  if (py < 0)
    py = 1e300;
  if (px != py)
    return px < py ? -1 : 1;
  return strcmp(x->src->name, y->src->name);
}

/* Launch preference: lowest price, then spot before other capacity
 * types, then zone name — so the first compatible offering is the one to
 * launch. */
static int cmp_off(const void *a, const void *b) {
  const soff *x = a, *y = b;
  if (x->avail != y->avail)
    return x->avail ? -1 : 1;
  if (x->price != y->price)
    return x->price < y->price ? -1 : 1;
  const char *xc = x->src->capacity_type ? x->src->capacity_type : "";
  const char *yc = y->src->capacity_type ? y->src->capacity_type : "";
  int xs = strcmp(xc, NW_CAPACITY_SPOT) == 0;
  int ys = strcmp(yc, NW_CAPACITY_SPOT) == 0;
  if (xs != ys)
    return xs ? -1 : 1;
  int c = strcmp(xc, yc);
  return c ? c : strcmp(x->src->zone ? x->src->zone : "",
                        y->src->zone ? y->src->zone : "");
}

static void compile_type(nw__scheduler *s, const nw_instance_type *it,
                         stype *t) {
  t->src = it;
  t->reqs = nw__sreqs_from(s->a, &s->st, &it->requirements);
  for (uint32_t i = 0; i < t->reqs.n; i++)
    mark_wellknown(s, t->reqs.r[i].key);
  rvec_addl(s, &t->cap, &it->capacity, 1);
  t->alloc = t->cap;
  rvec_addl(s, &t->alloc, &it->kube_reserved, -1);
  rvec_addl(s, &t->alloc, &it->system_reserved, -1);
  rvec_addl(s, &t->alloc, &it->eviction_threshold, -1);
  t->n_offs = (uint32_t)it->n_offerings;
  t->offs = nw__arena_alloc(s->a, (it->n_offerings + 1) * sizeof(*t->offs));
  for (size_t i = 0; i < it->n_offerings; i++) {
    const nw_offering *o = &it->offerings[i];
    t->offs[i] = (soff){nw__strtab_intern(&s->st, o->zone ? o->zone : ""),
                        nw__strtab_intern(&s->st,
                                          o->capacity_type ? o->capacity_type
                                                           : ""),
                        o->price, o->available && o->price >= 0, o};
  }
  qsort(t->offs, t->n_offs, sizeof(*t->offs), cmp_off);
  t->min_price = offering_min_price(t);
}

/* Whether a daemonset pod would run on nodes of this pool and type. */
static int ds_lands(nw__scheduler *s, const nw__pod *dp, const nw__sreqs *dreq,
                    const spool *p, const stype *t) {
  if (!tolerates_all(dp, p->taints->items, p->taints->len, 0, NULL))
    return 0;
  if (!nw__sreqs_compatible(&s->st, &p->reqs, dreq, allow_wellknown, s, NULL))
    return 0;
  return nw__sreqs_intersects(&s->st, &t->reqs, dreq, NULL);
}

/* A daemonset's node requirements: nodeSelector AND first required term. */
static nw__sreqs pod_strict_static(nw__scheduler *s, const nw__pod *p) {
  nw__sreqs r = labels_sreqs(s, &p->node_selector);
  if (p->required_node_affinity.len > 0) {
    nw__sreqs t = nw__sreqs_from(s->a, &s->st,
                                 &p->required_node_affinity.items[0]);
    r = nw__sreqs_and(s->a, &s->st, r, t, NULL);
  }
  return r;
}

static int type_offerable(const nw__scheduler *s, const stype *t,
                          const nw__sreqs *r);

static int cmp_pool(const void *a, const void *b) {
  const spool *x = a, *y = b;
  if (x->src->weight != y->src->weight)
    return x->src->weight > y->src->weight ? -1 : 1;
  return strcmp(x->src->name, y->src->name);
}

static int compile_pool(nw__scheduler *s, size_t idx, spool *p,
                        nw_error *err) {
  const nw__sched_pool *in = &s->in->pools[idx];
  p->idx = idx;
  p->src = in->pool;
  p->taints = &in->pool->taints;
  nw__sreqs r = nw__sreqs_from(s->a, &s->st, &in->pool->requirements);
  r = nw__sreqs_and(s->a, &s->st, r, labels_sreqs(s, &in->pool->labels), NULL);
  nw__sreq pn = nw__sreq_in1(s->a, s->k_pool,
                             nw__strtab_intern(&s->st, in->pool->name));
  p->reqs = nw__sreqs_and(s->a, &s->st, r, (nw__sreqs){1, &pn}, NULL);
  const nw_instance_types *types = in->usable.items ? &in->usable : &in->types;
  for (size_t i = 0; in->usable.items && i < in->n_type_keys; i++)
    mark_wellknown(s, nw__strtab_intern(&s->st, in->type_keys[i]));
  p->types = nw__arena_alloc(s->a, (types->len + 1) * sizeof(*p->types));
  for (size_t i = 0; i < types->len; i++)
    compile_type(s, &types->items[i], &p->types[i]);
  /* Types the pool's requirements rule out never matter. */
  uint32_t k = 0;
  for (size_t i = 0; i < types->len; i++)
    if (nw__sreqs_intersects(&s->st, &p->types[i].reqs, &p->reqs, NULL) &&
        type_offerable(s, &p->types[i], &p->reqs))
      p->types[k++] = p->types[i];
  p->n_types = k;
  qsort(p->types, p->n_types, sizeof(*p->types), cmp_type);
  p->node_limit = -1;
  for (size_t i = 0; i < in->pool->limits.len; i++) {
    const nw_resource *l = &in->pool->limits.items[i];
    if (strcmp(l->name, "nodes") == 0) {
      p->node_limit = l->value;
      continue;
    }
    int ri = res_index(s, l->name, 1);
    if (ri < 0) {
      err->status = NW_ERR_INVALID;
      snprintf(err->message, sizeof(err->message),
               "NodePool %s: too many distinct resources (limit %s)",
               in->pool->name, l->name);
      return -1;
    }
    p->limited[ri] = 1;
    p->limit.v[ri] = l->value;
  }
  return 0;
}

static void compile_overheads(nw__scheduler *s) {
  size_t nds = s->in->n_daemonsets;
  nw__sreqs *dreq = nw__arena_alloc(s->a, (nds + 1) * sizeof(*dreq));
  rvec *dres = nw__arena_alloc(s->a, (nds + 1) * sizeof(*dres));
  for (size_t d = 0; d < nds; d++) {
    dreq[d] = pod_strict_static(s, &s->in->daemonsets[d]->pod);
    pod_requests_add(s, &dres[d], &s->in->daemonsets[d]->pod);
  }
  for (size_t i = 0; i < s->n_pools; i++) {
    spool *p = &s->pools[i];
    p->ds = nw__arena_alloc(s->a, (p->n_types + 1) * sizeof(*p->ds));
    for (uint32_t t = 0; t < p->n_types; t++)
      for (size_t d = 0; d < nds; d++)
        if (ds_lands(s, &s->in->daemonsets[d]->pod, &dreq[d], p, &p->types[t]))
          rvec_add(&p->ds[t], &dres[d], s->nres);
  }
}

/* ---- topology groups --------------------------------------------------- */

static int ns_matches(const nw__scheduler *s, const tgroup *g, const char *ns) {
  if (g->all_ns)
    return 1;
  for (size_t i = 0; i < g->n_ns; i++)
    if (strcmp(g->ns[i], ns) == 0)
      return 1;
  if (g->ns_sel.present) {
    for (size_t i = 0; i < s->in->n_namespaces; i++) {
      const nw__namespace *n = s->in->namespaces[i];
      if (strcmp(n->name, ns) == 0)
        return nw__requirements_match_labels(&g->ns_sel.reqs, &n->labels);
    }
    return 0;
  }
  return g->n_ns == 0 && g->own_ns && strcmp(g->own_ns, ns) == 0;
}

static int group_selects(const nw__scheduler *s, const tgroup *g,
                         const nw__pod *p) {
  if (!g->sel.present)
    return 0;
  if (!ns_matches(s, g, p->namespace_))
    return 0;
  return nw__requirements_match_labels(&g->sel.reqs, &p->labels);
}

/* Appends a readable, canonical form of requirements to a signature. */
static void sig_reqs(char *buf, size_t len, size_t *k,
                     const nw_requirements *r) {
  for (size_t i = 0; i < r->len && *k < len; i++) {
    *k += (size_t)snprintf(buf + *k, len - *k, "%s%d(", r->items[i].key,
                           (int)r->items[i].op);
    for (size_t j = 0; j < r->items[i].n_values && *k < len; j++)
      *k += (size_t)snprintf(buf + *k, len - *k, "%s,", r->items[i].values[j]);
    if (*k < len)
      *k += (size_t)snprintf(buf + *k, len - *k, ")");
  }
}

/* Groups outlive the solve that created them, so everything they point
 * to is copied into the scheduler's arena. */
static const char *cp_str(nw_arena *a, const char *x) {
  return x ? nw__arena_strdup(a, x) : NULL;
}

static nw_requirements cp_reqs(nw_arena *a, const nw_requirements *r) {
  nw_requirement *items = nw__arena_alloc(a, (r->len + 1) * sizeof(*items));
  for (size_t i = 0; i < r->len; i++) {
    const nw_requirement *q = &r->items[i];
    const char **v = nw__arena_alloc(a, (q->n_values + 1) * sizeof(*v));
    for (size_t j = 0; j < q->n_values; j++)
      v[j] = cp_str(a, q->values[j]);
    items[i] = (nw_requirement){cp_str(a, q->key), q->op, q->n_values, v,
                                q->min_values};
  }
  return (nw_requirements){r->len, items};
}

static nw_labels cp_labels(nw_arena *a, const nw_labels *l) {
  nw_kv *items = nw__arena_alloc(a, (l->len + 1) * sizeof(*items));
  for (size_t i = 0; i < l->len; i++)
    items[i] = (nw_kv){cp_str(a, l->items[i].key), cp_str(a, l->items[i].value)};
  return (nw_labels){l->len, items};
}

/* The parts of a pod a group's node filter reads. */
static const nw__pod *cp_filter_pod(nw_arena *a, const nw__pod *p) {
  nw__pod *c = nw__arena_alloc(a, sizeof(*c));
  c->name = cp_str(a, p->name);
  c->namespace_ = cp_str(a, p->namespace_);
  c->node_selector = cp_labels(a, &p->node_selector);
  nw_requirements *terms = nw__arena_alloc(a, (p->required_node_affinity.len + 1)
                                                  * sizeof(*terms));
  for (size_t i = 0; i < p->required_node_affinity.len; i++)
    terms[i] = cp_reqs(a, &p->required_node_affinity.items[i]);
  c->required_node_affinity = (nw__terms){p->required_node_affinity.len, terms};
  nw__toleration *t = nw__arena_alloc(a, (p->n_tolerations + 1) * sizeof(*t));
  for (size_t i = 0; i < p->n_tolerations; i++) {
    t[i] = p->tolerations[i];
    t[i].key = cp_str(a, t[i].key);
    t[i].value = cp_str(a, t[i].value);
  }
  c->n_tolerations = p->n_tolerations;
  c->tolerations = t;
  return c;
}

/* Builds the group for a term of pod p, or finds the identical one. */
static tgroup *group_get(nw__scheduler *s, const nw__pod *p, gtype type,
                         const char *key, const nw__selector *sel,
                         const nw__pod_affinity_term *term,
                         const nw__spread *sp) {
  char buf[2048];
  size_t k = 0;
  k += (size_t)snprintf(buf, sizeof(buf), "%d|%s|%d|", (int)type, key,
                        sel->present);
  sig_reqs(buf, sizeof(buf), &k, &sel->reqs);
  const char *const *mlk = term ? term->match_label_keys
                                : (sp ? sp->match_label_keys : NULL);
  size_t n_mlk = term ? term->n_match_label_keys
                      : (sp ? sp->n_match_label_keys : 0);
  /* matchLabelKeys: the pod's own values join the selector. */
  nw_requirement extra[16];
  size_t n_extra = 0;
  for (size_t i = 0; i < n_mlk && n_extra < 16; i++) {
    const char *v = nw__labels_get(&p->labels, mlk[i]);
    if (!v)
      continue;
    const char **vv = nw__arena_alloc(s->a, sizeof(*vv));
    vv[0] = v;
    extra[n_extra++] = (nw_requirement){mlk[i], NW_OP_IN, 1, vv, 0};
  }
  nw_requirements ex = {n_extra, extra};
  if (k < sizeof(buf))
    k += (size_t)snprintf(buf + k, sizeof(buf) - k, "|mlk:");
  sig_reqs(buf, sizeof(buf), &k, &ex);
  int all_ns = 0;
  const char *own_ns = p->namespace_;
  if (term) {
    all_ns = term->namespace_selector.present &&
             term->namespace_selector.reqs.len == 0;
    if (k < sizeof(buf))
      k += (size_t)snprintf(buf + k, sizeof(buf) - k, "|ns%d:", all_ns);
    for (size_t i = 0; i < term->n_namespaces && k < sizeof(buf); i++)
      k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s,",
                            term->namespaces[i]);
    if (term->namespace_selector.present)
      sig_reqs(buf, sizeof(buf), &k, &term->namespace_selector.reqs);
    if (term->n_namespaces || term->namespace_selector.present)
      own_ns = NULL;
  }
  if (own_ns && k < sizeof(buf))
    k += (size_t)snprintf(buf + k, sizeof(buf) - k, "|own:%s", own_ns);
  int filter_aff = 0, filter_taints = 0;
  if (sp) {
    filter_aff = sp->node_affinity_policy == NW__POLICY_HONOR &&
                 (p->node_selector.len || p->required_node_affinity.len);
    filter_taints = sp->node_taints_policy == NW__POLICY_HONOR;
    if (k < sizeof(buf))
      k += (size_t)snprintf(buf + k, sizeof(buf) - k, "|sk%d|md%d|f%d%d",
                            sp->max_skew, sp->min_domains, filter_aff,
                            filter_taints);
    if (filter_aff) {
      for (size_t i = 0; i < p->node_selector.len && k < sizeof(buf); i++)
        k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s=%s,",
                              p->node_selector.items[i].key,
                              p->node_selector.items[i].value);
      for (size_t i = 0; i < p->required_node_affinity.len; i++)
        sig_reqs(buf, sizeof(buf), &k, &p->required_node_affinity.items[i]);
    }
    if (filter_taints)
      for (size_t i = 0; i < p->n_tolerations && k < sizeof(buf); i++)
        k += (size_t)snprintf(buf + k, sizeof(buf) - k, "t%s%d%s%d,",
                              p->tolerations[i].key, p->tolerations[i].op,
                              p->tolerations[i].value,
                              p->tolerations[i].effect);
  }
  uint32_t id = nw__strtab_intern(&s->sigs, buf);
  if (id < s->n_groups && s->groups[id])
    return s->groups[id];
  if (id >= s->cap_groups) {
    size_t nc = (id + 1) * 2;
    s->groups = realloc(s->groups, nc * sizeof(*s->groups));
    if (!s->groups)
      abort();
    memset(s->groups + s->cap_groups, 0,
           (nc - s->cap_groups) * sizeof(*s->groups));
    s->cap_groups = nc;
  }
  if (id >= s->n_groups)
    s->n_groups = id + 1;
  tgroup *g = nw__arena_alloc(s->a, sizeof(*g));
  g->id = id;
  g->type = type;
  g->key = nw__strtab_intern(&s->st, key);
  g->is_host = g->key == s->k_host;
  g->sel.present = sel->present;
  {
    nw_requirement *r = nw__arena_alloc(s->a, (sel->reqs.len + n_extra + 1) *
                                                  sizeof(*r));
    if (sel->reqs.len)
      memcpy(r, sel->reqs.items, sel->reqs.len * sizeof(*r));
    memcpy(r + sel->reqs.len, extra, n_extra * sizeof(*r));
    nw_requirements all = {sel->reqs.len + n_extra, r};
    g->sel.reqs = cp_reqs(s->a, &all);
  }
  g->own_ns = cp_str(s->a, own_ns);
  g->all_ns = all_ns;
  if (term) {
    g->n_ns = term->n_namespaces;
    const char **ns = nw__arena_alloc(s->a, (g->n_ns + 1) * sizeof(*ns));
    for (size_t i = 0; i < g->n_ns; i++)
      ns[i] = cp_str(s->a, term->namespaces[i]);
    g->ns = ns;
    g->ns_sel.present = term->namespace_selector.present;
    g->ns_sel.reqs = cp_reqs(s->a, &term->namespace_selector.reqs);
  }
  if (sp) {
    g->max_skew = sp->max_skew;
    g->min_domains = sp->min_domains;
  }
  g->filter_affinity = filter_aff;
  g->filter_taints = filter_taints;
  g->filter_pod = cp_filter_pod(s->a, p);
  if (filter_aff)
    g->filter_reqs = pod_strict_static(s, g->filter_pod);
  s->groups[id] = g;
  return g;
}

/* Whether pods on this node count for the group (spread node policies). */
static int group_node_ok(const tgroup *g, const nw__node *n) {
  const nw__pod *p = g->filter_pod;
  if (g->filter_taints &&
      !tolerates_all(p, n->taints.items, n->taints.len, 0, NULL))
    return 0;
  if (!g->filter_affinity)
    return 1;
  for (size_t i = 0; i < p->node_selector.len; i++) {
    const char *v = nw__labels_get(&n->labels, p->node_selector.items[i].key);
    if (!v || strcmp(v, p->node_selector.items[i].value) != 0)
      return 0;
  }
  if (p->required_node_affinity.len == 0)
    return 1;
  for (size_t i = 0; i < p->required_node_affinity.len; i++)
    if (nw__requirements_match_labels(&p->required_node_affinity.items[i],
                                      &n->labels))
      return 1;
  return 0;
}

static int node_domain(const nw__scheduler *s, const snode *n, uint32_t key,
                       uint32_t *out) {
  if (key == s->k_host) {
    *out = n->host;
    return 1;
  }
  const nw__sreq *r = nw__sreqs_get(&n->reqs, key);
  if (!r || r->n != 1)
    return 0;
  *out = r->vals[0];
  return 1;
}

/* Counts existing pods for a group, once per scheduler. */
static void group_count(nw__scheduler *s, tgroup *g) {
  if (g->counted)
    return;
  g->counted = 1;
  for (size_t i = 0; i < s->n_nodes; i++) {
    const snode *n = &s->nodes[i];
    uint32_t d;
    if (!node_domain(s, n, g->key, &d))
      continue;
    if (g->type == G_SPREAD && !group_node_ok(g, n->src->node))
      continue;
    for (uint32_t j = 0; j < n->n_pods; j++)
      if (group_selects(s, g, n->pods[j].p))
        nw__cmap_add(s->a, &g->base_match, d, 1);
  }
}

/* The sorted (by string) domains of a key that nodes could have. */
static int cmp_str_ids(const void *a, const void *b, void *ctx) {
  const nw__strtab *t = ctx;
  return strcmp(t->strs[*(const uint32_t *)a], t->strs[*(const uint32_t *)b]);
}

static const skey *universe(nw__scheduler *s, uint32_t key) {
  for (size_t i = 0; i < s->n_universe; i++)
    if (s->universe[i].key == key)
      return &s->universe[i];
  cmap seen = {0};
  nw_arena *tmp = nw__arena_new();
  size_t n = 0, cap = 64;
  uint32_t *vals = malloc(cap * sizeof(*vals));
  for (size_t p = 0; p < s->n_pools; p++) {
    const spool *pl = &s->pools[p];
    const nw__sreq *pr = nw__sreqs_get(&pl->reqs, key);
    for (uint32_t t = 0; t < pl->n_types; t++) {
      const nw__sreq *tr = nw__sreqs_get(&pl->types[t].reqs, key);
      const nw__sreq *src = tr ? tr : pr;
      if (!src || src->complement)
        continue;
      for (uint32_t v = 0; v < src->n; v++) {
        uint32_t x = src->vals[v];
        if ((pr && !nw__sreq_has(&s->st, pr, x)) || nw__cmap_get(&seen, x))
          continue;
        nw__cmap_add(tmp, &seen, x, 1);
        if (n == cap)
          vals = realloc(vals, (cap *= 2) * sizeof(*vals));
        vals[n++] = x;
      }
    }
  }
  for (size_t i = 0; i < s->n_nodes; i++) {
    uint32_t x;
    if (!node_domain(s, &s->nodes[i], key, &x) || nw__cmap_get(&seen, x))
      continue;
    nw__cmap_add(tmp, &seen, x, 1);
    if (n == cap)
      vals = realloc(vals, (cap *= 2) * sizeof(*vals));
    vals[n++] = x;
  }
  qsort_r(vals, n, sizeof(*vals), cmp_str_ids, &s->st);
  s->universe = realloc(s->universe, (s->n_universe + 1) * sizeof(*s->universe));
  skey *u = &s->universe[s->n_universe++];
  u->key = key;
  u->n = (uint32_t)n;
  u->vals = nw__arena_alloc(s->a, (n + 1) * sizeof(*u->vals));
  memcpy(u->vals, vals, n * sizeof(*vals));
  free(vals);
  nw__arena_free(tmp);
  return u;
}

/* ---- building the scheduler ------------------------------------------- */

/* Not terminating and not finished.  Reads the phase the decoder worked
 * out (nw__pod.phase_id), not the string: this runs for every pod of every
 * node of every scheduler. */
static int pod_is_active(const nw__pod *p) {
  return !p->terminating && !nw__pod_finished(p);
}

static void compile_node(nw__scheduler *s, size_t i) {
  const nw__sched_node *in = &s->in->nodes[i];
  snode *n = &s->nodes[i];
  n->src = in;
  n->reqs = labels_sreqs(s, &in->node->labels);
  const char *h = nw__labels_get(&in->node->labels, K_HOST);
  n->host = nw__strtab_intern(&s->st, h ? h : in->node->name);
  rvec_addl(s, &n->alloc, &in->node->allocatable, 1);
  rvec_addl(s, &n->cap, &in->node->capacity, 1);
  n->unschedulable = in->node->unschedulable || in->node->terminating;
  const char *pool = in->nodepool && *in->nodepool
                         ? in->nodepool
                         : nw__labels_get(&in->node->labels, K_POOL);
  n->pool = -1;
  for (size_t p = 0; pool && p < s->n_pools; p++)
    if (strcmp(s->pools[p].src->name, pool) == 0)
      n->pool = (int)p;
  if (n->pool >= 0) {
    rvec_add(&s->pools[n->pool].base_usage, &n->cap, s->nres);
    s->pools[n->pool].base_nodes++;
  }
  n->pods = nw__arena_alloc(s->a, (in->n_pods + 1) * sizeof(*n->pods));
  size_t nports = 0;
  for (size_t j = 0; j < in->n_pods; j++)
    if (in->pods[j]->n_host_ports && pod_is_active(in->pods[j]))
      nports += in->pods[j]->n_host_ports;
  const nw__host_port **ports = nw__arena_alloc(s->a, (nports + 1) *
                                                          sizeof(*ports));
  for (size_t j = 0; j < in->n_pods; j++) {
    const nw__pod *p = in->pods[j];
    if (!pod_is_active(p))
      continue;
    epod *e = &n->pods[n->n_pods++];
    e->p = p;
    pod_requests_add(s, &n->used, p);
    for (size_t k = 0; k < p->n_host_ports; k++)
      ports[n->n_ports++] = &p->host_ports[k];
    /* Required anti-affinity of running pods repels matching pods. */
    if (p->anti_affinity.len == 0)
      continue;
    e->anti = nw__arena_alloc(s->a, (p->anti_affinity.len + 1) *
                                        sizeof(*e->anti));
    for (size_t k = 0; k < p->anti_affinity.len; k++) {
      const nw__pod_affinity_term *t = &p->anti_affinity.items[k];
      tgroup *g = group_get(s, p, G_ANTI, t->topology_key, &t->selector, t,
                            NULL);
      e->anti[e->n_anti++] = g->id;
      uint32_t d;
      if (node_domain(s, n, g->key, &d))
        nw__cmap_add(s->a, &g->base_owner, d, 1);
      int known = 0;
      for (size_t q = 0; q < s->n_anti_base && !known; q++)
        known = s->anti_base[q] == g->id;
      if (!known) {
        if (s->n_anti_base == s->cap_anti_base) {
          s->cap_anti_base = s->cap_anti_base ? s->cap_anti_base * 2 : 16;
          s->anti_base = realloc(s->anti_base,
                                 s->cap_anti_base * sizeof(*s->anti_base));
        }
        s->anti_base[s->n_anti_base++] = g->id;
      }
    }
  }
  n->ports = ports;
}

/*
 * Taints that keep pods off a node.  A node still coming up (in flight)
 * carries taints that will go away — the pool's startupTaints, Karpenter's
 * unregistered taint and the kubelet's not-ready ones — and, as Karpenter
 * does, pods are planned onto it regardless of them.
 */
static void effective_taints(nw__scheduler *s, snode *n) {
  const nw_taints *t = &n->src->node->taints;
  n->taints = t->items;
  n->n_taints = t->len;
  if (!n->src->in_flight || t->len == 0)
    return;
  static const char *const transient[] = {
      "karpenter.sh/unregistered", "node.kubernetes.io/not-ready",
      "node.kubernetes.io/unreachable",
      "node.cloudprovider.kubernetes.io/uninitialized"};
  const nw_taints *startup = n->pool >= 0 ? &s->pools[n->pool].src->startup_taints
                                          : NULL;
  nw_taint *keep = nw__arena_alloc(s->a, t->len * sizeof(*keep));
  size_t k = 0;
  for (size_t i = 0; i < t->len; i++) {
    int drop = 0;
    for (size_t j = 0; j < sizeof(transient) / sizeof(transient[0]); j++)
      drop |= strcmp(t->items[i].key, transient[j]) == 0;
    for (size_t j = 0; startup && j < startup->len; j++)
      drop |= strcmp(t->items[i].key, startup->items[j].key) == 0 &&
              t->items[i].effect == startup->items[j].effect;
    if (!drop)
      keep[k++] = t->items[i];
  }
  n->taints = keep;
  n->n_taints = k;
}

/* In-flight claims get the overhead of daemonsets not running there yet. */
static void inflight_overhead(nw__scheduler *s, snode *n) {
  for (size_t d = 0; d < s->in->n_daemonsets; d++) {
    const nw__daemonset *ds = s->in->daemonsets[d];
    int running = 0;
    for (uint32_t j = 0; j < n->n_pods && !running; j++)
      running = n->pods[j].p->owner == NW__POD_OWNER_DAEMONSET &&
                n->pods[j].p->owner_name &&
                strcmp(n->pods[j].p->owner_name, ds->name) == 0;
    if (running)
      continue;
    if (!tolerates_all(&ds->pod, n->taints, n->n_taints, 0, NULL))
      continue;
    nw__sreqs dr = pod_strict_static(s, &ds->pod);
    if (!nw__sreqs_compatible(&s->st, &n->reqs, &dr, NULL, NULL, NULL))
      continue;
    pod_requests_add(s, &n->used, &ds->pod);
  }
}

static void index_volumes(nw__scheduler *s) {
  nw__strtab_init(&s->pvc_ix);
  nw__strtab_init(&s->pv_ix);
  nw__strtab_init(&s->sc_ix);
  char key[512];
  for (size_t i = 0; i < s->in->n_pvcs; i++) {
    snprintf(key, sizeof(key), "%s/%s", s->in->pvcs[i]->namespace_,
             s->in->pvcs[i]->name);
    nw__strtab_intern(&s->pvc_ix, key);
  }
  for (size_t i = 0; i < s->in->n_pvs; i++)
    nw__strtab_intern(&s->pv_ix, s->in->pvs[i]->name);
  for (size_t i = 0; i < s->in->n_storage_classes; i++)
    nw__strtab_intern(&s->sc_ix, s->in->storage_classes[i]->name);
}

nw__scheduler *nw__scheduler_new(const nw__sched_input *in, nw_error *err) {
  nw__scheduler *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->a = nw__arena_new();
  s->in = in;
  nw__strtab_init(&s->st);
  nw__strtab_init(&s->sigs);
  /* At the positions pod_requests_add relies on. */
  for (int i = 0; i < NW__N_WK; i++)
    res_index(s, nw__wk_resources[i], 1);
  s->k_zone = nw__strtab_intern(&s->st, K_ZONE);
  s->k_host = nw__strtab_intern(&s->st, K_HOST);
  s->k_itype = nw__strtab_intern(&s->st, K_ITYPE);
  s->k_ct = nw__strtab_intern(&s->st, K_CT);
  s->k_pool = nw__strtab_intern(&s->st, K_POOL);
  static const char *const wk[] = {K_ZONE, K_REGION, K_ITYPE, K_ARCH, K_OS,
                                   K_CT, K_POOL,
                                   "node.kubernetes.io/windows-build"};
  for (size_t i = 0; i < sizeof(wk) / sizeof(wk[0]); i++)
    mark_wellknown(s, nw__strtab_intern(&s->st, wk[i]));
  s->n_pools = in->n_pools;
  s->pools = nw__arena_alloc(s->a, (in->n_pools + 1) * sizeof(*s->pools));
  nw_error dummy;
  if (!err)
    err = &dummy;
  for (size_t i = 0; i < in->n_pools; i++) {
    if (compile_pool(s, i, &s->pools[i], err) != 0) {
      nw__scheduler_free(s);
      return NULL;
    }
  }
  qsort(s->pools, s->n_pools, sizeof(*s->pools), cmp_pool);
  compile_overheads(s);
  s->n_nodes = in->n_nodes;
  s->nodes = nw__arena_alloc(s->a, (in->n_nodes + 1) * sizeof(*s->nodes));
  for (size_t i = 0; i < in->n_nodes; i++) {
    compile_node(s, i);
    effective_taints(s, &s->nodes[i]);
    if (in->nodes[i].in_flight)
      inflight_overhead(s, &s->nodes[i]);
  }
  index_volumes(s);
  return s;
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return (x > y) - (x < y);
}

size_t nw__scheduler_usable_types(const nw__nodepool *pool,
                                  const nw_instance_types *types,
                                  nw_arena *arena, size_t **out,
                                  const char ***keys, size_t *n_keys) {
  nw__sched_pool sp = {pool, *types, {0, NULL}, 0, NULL};
  nw__sched_input in;
  memset(&in, 0, sizeof(in));
  in.n_pools = 1;
  in.pools = &sp;
  nw_error err = {0};
  nw__scheduler *s = nw__scheduler_new(&in, &err);
  if (!s)
    return (size_t)-1;
  const spool *p = &s->pools[0];
  size_t *pos = nw__arena_alloc(arena, (p->n_types + 1) * sizeof(*pos));
  if (!pos) {
    nw__scheduler_free(s);
    return (size_t)-1;
  }
  for (uint32_t i = 0; i < p->n_types; i++)
    pos[i] = (size_t)(p->types[i].src - types->items);
  size_t n = p->n_types;
  /* Every key the types define was interned while compiling them, so the
   * string table's ids index a seen-set. */
  uint32_t n_ids = s->st.n;
  const char **ks = nw__arena_alloc(arena, (n_ids + 1) * sizeof(*ks));
  uint8_t *seen = calloc(n_ids + 1, 1);
  size_t nk = 0;
  for (size_t i = 0; ks && seen && i < types->len; i++) {
    const nw_requirements *r = &types->items[i].requirements;
    for (size_t j = 0; j < r->len; j++) {
      uint32_t id = nw__strtab_intern(&s->st, r->items[j].key);
      if (id < n_ids && !seen[id]) {
        seen[id] = 1;
        ks[nk++] = nw__arena_strdup(arena, r->items[j].key);
      }
    }
  }
  nw__scheduler_free(s);
  if (!ks || !seen) {
    free(seen);
    return (size_t)-1;
  }
  free(seen);
  *keys = ks;
  *n_keys = nk;
  qsort(pos, n, sizeof(*pos), cmp_size);
  *out = pos;
  return n;
}

void nw__scheduler_free(nw__scheduler *s) {
  if (!s)
    return;
  nw__strtab_free(&s->st);
  nw__strtab_free(&s->sigs);
  nw__strtab_free(&s->pvc_ix);
  nw__strtab_free(&s->pv_ix);
  nw__strtab_free(&s->sc_ix);
  free(s->groups);
  free(s->anti_base);
  free(s->wellknown);
  free(s->universe);
  nw__arena_free(s->a);
  free(s);
}

/* ======================================================================
 * Solving
 * ====================================================================== */

enum { R_OK = 0, R_RES = 1, R_MONO = 2, R_OTHER = 3 };

typedef struct owned {
  uint32_t g;
  uint8_t kind;                /* 0 required, 1 preferred, 2 ScheduleAnyway */
  uint8_t active;
  uint8_t self;                /* the pod matches its own term */
  int32_t weight;
} owned;

typedef struct spod {
  const nw__pod *p;
  size_t out;                  /* index in the result placements */
  rvec req;
  const char *fatal;           /* a reason no relaxation fixes */
  nw__sreqs base;              /* nodeSelector AND volume topology */
  nw__sreqs *terms;
  uint32_t n_terms, cur_term;
  nw__sreqs *prefs;            /* preferred node affinity, heaviest first */
  uint32_t n_prefs, cur_pref;
  nw__sreqs strict, full;
  owned *own;
  uint32_t n_own;
  uint32_t *match;             /* active groups selecting this pod */
  uint32_t n_match;
  int tol_prefer;
  uint32_t cls;
  nw__place_kind kind;         /* where it went */
  size_t where;
} spod;

typedef struct slot {
  int is_claim;
  size_t node;                 /* input index for nodes */
  int removed;
  nw__sreqs reqs;
  uint32_t host;
  const nw_taint *taints;
  size_t n_taints;
  rvec alloc, used;            /* nodes */
  size_t n_ports, cap_ports;
  const nw__host_port *const *ports;
  /* claims */
  spool *pool;
  uint32_t *types;             /* indexes into pool->types; the first
                                * n_eff are within the efficiency floor */
  uint32_t n_types, n_eff;
  rvec maxfree;                /* elementwise max of alloc - overhead over
                                * the types within the efficiency floor */
  uint32_t *pods;
  uint32_t n_pods, cap_pods;
  int closed;
  double e_floor;              /* efficiency the claim must keep */
} slot;

typedef struct clist {
  uint32_t *ids;
  uint32_t n, cap, synced;
} clist;

/* Per class: the open nodes (input indexes, input order) the class has
 * not ruled out yet; built on the class's first try. */
typedef struct nlist {
  uint32_t *ids;
  uint32_t n;
  int built;
  int exact;                   /* the class signature was not truncated */
} nlist;

typedef struct gstate {
  int init;
  cmap match, owner;
} gstate;

typedef struct solve {
  nw__scheduler *s;
  nw_arena *a;                 /* per-solve scratch, freed at the end */
  nw_arena *out;
  size_t max_new, max_options;
  int no_new;
  slot *nodes;
  size_t n_nodes;
  /* Nodes that may still take a pod of this solve, in input order (see
   * open_nodes); entries that can no longer fit open_min are dropped as
   * place() passes them. */
  uint32_t *open;
  size_t n_open;
  rvec open_min;               /* smallest request of the placeable pods */
  slot **claims;
  size_t n_claims, cap_claims;
  gstate *gs;
  size_t n_gs;
  uint32_t *active;            /* groups that matter in this solve */
  size_t n_active;
  spod *pods;
  size_t n_pods;
  rvec *rem;                   /* per pool remaining limits */
  int64_t *rem_nodes;
  nw__strtab cls_tab;          /* class signatures of this solve */
  struct clist *cls_list;      /* per class: claims still worth trying */
  rvec *cls_min;               /* smallest request seen per class */
  nlist *cls_nodes;            /* per class: nodes still worth trying */
  size_t n_cls;
  rvec min_req;
  uint32_t *scratch;           /* instance-type filter output */
  uint32_t *scratch2;
  nw__bump tmp;                /* reset before every try */
  struct opt *optbuf;          /* per-claim options while building results */
  double **eff;                /* per pool and type: cost efficiency, 0..1 */
  double weights[2];           /* cpu and memory prices of the first pool */
  double ratio;                /* memory per millicore of its best type */
  /* error collection (final pass only) */
  char *msg;
  size_t msg_len, msg_cap;
} solve;

static void msgf(solve *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void msgf(solve *v, const char *fmt, ...) {
  if (!v->msg)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(v->msg + v->msg_len, v->msg_cap - v->msg_len, fmt, ap);
  va_end(ap);
  if (n > 0)
    v->msg_len += (size_t)n;
  if (v->msg_len >= v->msg_cap)
    v->msg_len = v->msg_cap - 1;
}

static gstate *gs_get(solve *v, uint32_t g) {
  gstate *st = &v->gs[g];
  if (!st->init) {
    tgroup *grp = v->s->groups[g];
    group_count(v->s, grp);
    st->match = nw__cmap_clone(v->a, &grp->base_match);
    st->owner = nw__cmap_clone(v->a, &grp->base_owner);
    st->init = 1;
  }
  return st;
}

/* ---- pods ---------------------------------------------------------------- */

static int cmp_weighted(const void *a, const void *b) {
  const nw__weighted_term *x = *(const nw__weighted_term *const *)a;
  const nw__weighted_term *y = *(const nw__weighted_term *const *)b;
  return (x->weight < y->weight) - (x->weight > y->weight);
}

/* Volume topology: PV node affinity (first term, well-known keys and
 * hostname), or a WaitForFirstConsumer class's allowedTopologies. */
static int volume_reqs(solve *v, spod *sp, nw__sreqs *out) {
  nw__scheduler *s = v->s;
  const nw__pod *p = sp->p;
  char key[512];
  for (size_t i = 0; i < p->n_pvcs; i++) {
    snprintf(key, sizeof(key), "%s/%s", p->namespace_, p->pvcs[i]);
    uint32_t ci = nw__strtab_find(&s->pvc_ix, key);
    if (ci == UINT32_MAX) {
      sp->fatal = nw__arena_printf(v->out,
                                   "persistentvolumeclaim \"%s\" not found",
                                   p->pvcs[i]);
      return -1;
    }
    const nw__pvc *pvc = s->in->pvcs[ci];
    const nw_requirements *use = NULL;
    nw_requirement *filtered = NULL;
    size_t nf = 0;
    if (pvc->volume_name) {
      uint32_t vi = nw__strtab_find(&s->pv_ix, pvc->volume_name);
      if (vi == UINT32_MAX) {
        sp->fatal = nw__arena_printf(v->out,
                                     "persistentvolume \"%s\" not found",
                                     pvc->volume_name);
        return -1;
      }
      const nw__pv *pv = s->in->pvs[vi];
      if (pv->node_affinity.len == 0)
        continue;
      const nw_requirements *t0 = &pv->node_affinity.items[0];
      filtered = nw__arena_alloc(v->a, (t0->len + 1) * sizeof(*filtered));
      for (size_t k = 0; k < t0->len; k++) {
        uint32_t kid = nw__strtab_intern(&s->st, t0->items[k].key);
        if (allow_wellknown(s, kid) || kid == s->k_host)
          filtered[nf++] = t0->items[k];
      }
    } else {
      const char *scn = pvc->storage_class;
      const nw__storage_class *sc = NULL;
      for (size_t k = 0; k < s->in->n_storage_classes && !sc; k++) {
        const nw__storage_class *c = s->in->storage_classes[k];
        if (scn ? strcmp(c->name, scn) == 0 : c->is_default)
          sc = c;
      }
      if (!sc || !sc->wait_for_first_consumer ||
          sc->allowed_topologies.len == 0)
        continue;
      use = &sc->allowed_topologies.items[0];
    }
    nw_requirements fr = {nf, filtered};
    nw__sreqs r = nw__sreqs_from(v->a, &s->st, use ? use : &fr);
    *out = nw__sreqs_and(v->a, &s->st, *out, r, NULL);
  }
  return 0;
}

static void pod_reqs(solve *v, spod *sp) {
  nw__sreqs r = sp->base;
  if (sp->cur_term < sp->n_terms)
    r = nw__sreqs_and(v->a, &v->s->st, r, sp->terms[sp->cur_term], NULL);
  sp->strict = r;
  if (sp->cur_pref < sp->n_prefs)
    r = nw__sreqs_and(v->a, &v->s->st, r, sp->prefs[sp->cur_pref], NULL);
  sp->full = r;
}

static void own_terms(solve *v, spod *sp, const nw__pod_affinity_terms *t,
                      gtype type, int preferred, uint32_t *k) {
  for (size_t i = 0; i < t->len; i++) {
    const nw__pod_affinity_term *term = &t->items[i];
    tgroup *g = group_get(v->s, sp->p, type, term->topology_key,
                          &term->selector, term, NULL);
    sp->own[*k] = (owned){g->id, (uint8_t)preferred, 1,
                          (uint8_t)group_selects(v->s, g, sp->p),
                          term->weight};
    (*k)++;
  }
}

static int compile_pod(solve *v, spod *sp, const nw__pod *p, size_t out) {
  nw__scheduler *s = v->s;
  sp->p = p;
  sp->out = out;
  for (size_t i = 0; i < p->requests.len; i++) {
    int r = res_index(s, p->requests.items[i].name, 1);
    if (r < 0) {
      sp->fatal = nw__arena_printf(v->out, "too many distinct resources (%s)",
                                   p->requests.items[i].name);
      continue;
    }
    sp->req.v[r] += p->requests.items[i].value;
  }
  if (p->has_scheduling_gates)
    sp->fatal = "pod has scheduling gates";
  sp->base = labels_sreqs_in(s, v->a, &p->node_selector);
  volume_reqs(v, sp, &sp->base);
  sp->n_terms = (uint32_t)p->required_node_affinity.len;
  sp->terms = nw__arena_alloc(v->a, (sp->n_terms + 1) * sizeof(*sp->terms));
  for (uint32_t i = 0; i < sp->n_terms; i++)
    sp->terms[i] = nw__sreqs_from(v->a, &s->st,
                                  &p->required_node_affinity.items[i]);
  sp->n_prefs = (uint32_t)p->n_preferred_node_affinity;
  const nw__weighted_term **w = nw__arena_alloc(v->a, (sp->n_prefs + 1) *
                                                          sizeof(*w));
  for (uint32_t i = 0; i < sp->n_prefs; i++)
    w[i] = &p->preferred_node_affinity[i];
  /* Stable heaviest-first order (qsort is not stable: break ties by
   * position, which the pointers preserve). */
  for (uint32_t i = 1; i < sp->n_prefs; i++)
    for (uint32_t j = i; j > 0 && cmp_weighted(&w[j - 1], &w[j]) > 0; j--) {
      const nw__weighted_term *t = w[j];
      w[j] = w[j - 1];
      w[j - 1] = t;
    }
  sp->prefs = nw__arena_alloc(v->a, (sp->n_prefs + 1) * sizeof(*sp->prefs));
  for (uint32_t i = 0; i < sp->n_prefs; i++)
    sp->prefs[i] = nw__sreqs_from(v->a, &s->st, &w[i]->term);
  pod_reqs(v, sp);
  uint32_t n = (uint32_t)(p->affinity.len + p->preferred_affinity.len +
                          p->anti_affinity.len +
                          p->preferred_anti_affinity.len + p->n_spreads);
  sp->own = nw__arena_alloc(v->a, (n + 1) * sizeof(*sp->own));
  uint32_t k = 0;
  own_terms(v, sp, &p->affinity, G_AFFINITY, 0, &k);
  own_terms(v, sp, &p->preferred_affinity, G_AFFINITY, 1, &k);
  own_terms(v, sp, &p->anti_affinity, G_ANTI, 0, &k);
  own_terms(v, sp, &p->preferred_anti_affinity, G_ANTI, 1, &k);
  for (size_t i = 0; i < p->n_spreads; i++) {
    const nw__spread *spr = &p->spreads[i];
    tgroup *g = group_get(s, p, G_SPREAD, spr->topology_key, &spr->selector,
                          NULL, spr);
    sp->own[k++] = (owned){g->id, (uint8_t)(spr->schedule_anyway ? 2 : 0), 1,
                           (uint8_t)group_selects(s, g, p), 0};
  }
  sp->n_own = k;
  return 0;
}

/* Karpenter's relaxation order; returns 0 when nothing is left to relax. */
static int relax(solve *v, spod *sp) {
  if (sp->n_terms - sp->cur_term > 1) {
    sp->cur_term++;
    pod_reqs(v, sp);
    return 1;
  }
  for (int pass = 0; pass < 2; pass++) {
    gtype want = pass == 0 ? G_AFFINITY : G_ANTI;
    owned *best = NULL;
    for (uint32_t i = 0; i < sp->n_own; i++) {
      owned *o = &sp->own[i];
      if (o->kind == 1 && o->active && v->s->groups[o->g]->type == want &&
          (!best || o->weight > best->weight))
        best = o;
    }
    if (best) {
      best->active = 0;
      return 1;
    }
  }
  if (sp->cur_pref < sp->n_prefs) {
    sp->cur_pref++;
    pod_reqs(v, sp);
    return 1;
  }
  for (uint32_t i = 0; i < sp->n_own; i++)
    if (sp->own[i].kind == 2 && sp->own[i].active) {
      sp->own[i].active = 0;
      return 1;
    }
  if (!sp->tol_prefer) {
    sp->tol_prefer = 1;
    return 1;
  }
  return 0;
}

/* ---- topology -------------------------------------------------------------- */

typedef struct topo_out {
  nw__sreq r[16];
  uint32_t n;
  int nonmono;                 /* a failure that later pods could undo */
  const tgroup *failed;        /* the group that had no domain left */
  int failed_inverse;
  uint32_t buf[512];           /* value arrays, so the hot path never
                                * allocates; copied out on commit */
  uint32_t used;
} topo_out;

static uint32_t *topo_buf(solve *v, topo_out *o, uint32_t n) {
  if (o->used + n <= sizeof(o->buf) / sizeof(o->buf[0])) {
    uint32_t *p = o->buf + o->used;
    o->used += n;
    return p;
  }
  return nw__arena_alloc(v->a, (n + 1) * sizeof(uint32_t));
}

static int32_t min_count(solve *v, const tgroup *g, gstate *st,
                         const nw__sreq *pod_dom) {
  if (g->is_host)
    return 0;
  const skey *u = universe(v->s, g->key);
  int32_t min = INT32_MAX, n = 0;
  for (uint32_t i = 0; i < u->n; i++) {
    if (pod_dom && !nw__sreq_has(&v->s->st, pod_dom, u->vals[i]))
      continue;
    n++;
    int32_t c = nw__cmap_get(&st->match, u->vals[i]);
    if (c < min)
      min = c;
  }
  if (n == 0 || (g->min_domains > 0 && n < g->min_domains))
    return 0;
  return min;
}

/* Candidate domains of the slot for a key: In-set values, or the
 * universe filtered by the slot's requirement. */
static const uint32_t *slot_domains(solve *v, topo_out *o,
                                    const nw__sreq *node_dom, uint32_t key,
                                    uint32_t *n) {
  if (node_dom && !node_dom->complement) {
    *n = node_dom->n;
    return node_dom->vals;
  }
  const skey *u = universe(v->s, key);
  if (!node_dom) {
    *n = u->n;
    return u->vals;
  }
  uint32_t *out = topo_buf(v, o, u->n + 1);
  uint32_t k = 0;
  for (uint32_t i = 0; i < u->n; i++)
    if (!node_dom || nw__sreq_has(&v->s->st, node_dom, u->vals[i]))
      out[k++] = u->vals[i];
  *n = k;
  return out;
}

static void topo_push(solve *v, topo_out *o, uint32_t key, uint32_t *vals,
                      uint32_t n) {
  /* Values sorted by id for the requirement set. */
  for (uint32_t i = 1; i < n; i++)
    for (uint32_t j = i; j > 0 && vals[j - 1] > vals[j]; j--) {
      uint32_t t = vals[j];
      vals[j] = vals[j - 1];
      vals[j - 1] = t;
    }
  nw__sreq r = {.key = key, .n = n, .vals = vals};
  for (uint32_t i = 0; i < o->n; i++)
    if (o->r[i].key == key) {
      nw__sreqs one = {1, &o->r[i]}, add = {1, &r};
      o->r[i] = nw__sreqs_and_b(&v->tmp, &v->s->st, one, add, NULL).r[0];
      return;
    }
  if (o->n < 16)
    o->r[o->n++] = r;
}

/*
 * The domains pod sp may take on a slot with requirements `node`, one
 * requirement per constrained key (Karpenter's Topology.AddRequirements).
 */
static int topology(solve *v, spod *sp, const nw__sreqs *node,
                    topo_out *o) {
  nw__scheduler *s = v->s;
  o->n = 0;
  o->nonmono = 0;
  o->used = 0;
  o->failed = NULL;
  o->failed_inverse = 0;
  for (uint32_t i = 0; i < sp->n_own + sp->n_match; i++) {
    int inverse = i >= sp->n_own;
    uint32_t gid = inverse ? sp->match[i - sp->n_own] : sp->own[i].g;
    const tgroup *g = s->groups[gid];
    if (inverse && g->type != G_ANTI)
      continue;
    if (!inverse && !sp->own[i].active)
      continue;
    gstate *st = gs_get(v, gid);
    if (inverse && st->owner.n == 0)
      continue;
    const nw__sreq *nd = nw__sreqs_get(node, g->key);
    const nw__sreq *pd = nw__sreqs_get(&sp->strict, g->key);
    uint32_t nn;
    const uint32_t *dom = slot_domains(v, o, nd, g->key, &nn);
    uint32_t *keep = topo_buf(v, o, nn + 1);
    uint32_t k = 0;
    if (inverse) {
      for (uint32_t j = 0; j < nn; j++)
        if (nw__cmap_get(&st->owner, dom[j]) == 0)
          keep[k++] = dom[j];
    } else if (g->type == G_ANTI) {
      for (uint32_t j = 0; j < nn; j++)
        if (nw__cmap_get(&st->match, dom[j]) == 0)
          keep[k++] = dom[j];
    } else if (g->type == G_AFFINITY) {
      for (uint32_t j = 0; j < nn; j++)
        if ((!pd || nw__sreq_has(&s->st, pd, dom[j])) &&
            nw__cmap_get(&st->match, dom[j]) > 0)
          keep[k++] = dom[j];
      if (k == 0 && sp->own[i].self) {
        /* Nothing to be near yet and the pod selects itself: it may start
         * the domain (the first that the pod and the slot allow). */
        int any = 0;
        for (uint32_t j = 0; j < st->match.cap && !any; j++)
          any = st->match.keys[j] && st->match.vals[j] > 0;
        if (!any) {
          const uint32_t *best = NULL;
          for (uint32_t j = 0; j < nn; j++)
            if ((!pd || nw__sreq_has(&s->st, pd, dom[j])) &&
                (!best || strcmp(s->st.strs[dom[j]], s->st.strs[*best]) < 0))
              best = &dom[j];
          if (best)
            keep[k++] = *best;
        }
      }
      if (k == 0)
        o->nonmono = 1;
    } else {
      int32_t min = min_count(v, g, st, pd);
      int32_t best_c = INT32_MAX;
      const uint32_t *best = NULL;
      for (uint32_t j = 0; j < nn; j++) {
        if (pd && !nw__sreq_has(&s->st, pd, dom[j]))
          continue;
        int32_t c = nw__cmap_get(&st->match, dom[j]) + sp->own[i].self;
        if (c - min > g->max_skew)
          continue;
        if (c < best_c ||
            (c == best_c && strcmp(s->st.strs[dom[j]], s->st.strs[*best]) < 0)) {
          best_c = c;
          best = &dom[j];
        }
      }
      if (best)
        keep[k++] = *best;
      else if (!g->is_host)
        o->nonmono = 1;
    }
    if (k == 0 && nd == NULL && !g->is_host && g->type == G_ANTI)
      continue; /* No such label on the node: anti-affinity holds. */
    topo_push(v, o, g->key, keep, k);
    if (k == 0) {
      o->failed = g;
      o->failed_inverse = inverse;
      return 0;
    }
  }
  return 1;
}

static int slot_filter_ok(solve *v, const tgroup *g, const slot *sl) {
  if (g->type != G_SPREAD || (!g->filter_affinity && !g->filter_taints))
    return 1;
  if (!sl->is_claim)
    return group_node_ok(g, v->s->in->nodes[sl->node].node);
  if (g->filter_taints &&
      !tolerates_all(g->filter_pod, sl->taints, sl->n_taints, 0, NULL))
    return 0;
  return !g->filter_affinity ||
         nw__sreqs_intersects(&v->s->st, &sl->reqs, &g->filter_reqs, NULL);
}

/* Counts the placed pod in every group that selects it (Topology.Record). */
static void record(solve *v, spod *sp, const slot *sl) {
  for (uint32_t i = 0; i < sp->n_match + sp->n_own; i++) {
    int owner = i >= sp->n_match;
    uint32_t gid = owner ? sp->own[i - sp->n_match].g : sp->match[i];
    const tgroup *g = v->s->groups[gid];
    if (owner && (g->type != G_ANTI || !sp->own[i - sp->n_match].active))
      continue;
    if (!owner && !slot_filter_ok(v, g, sl))
      continue;
    gstate *st = gs_get(v, gid);
    cmap *m = owner ? &st->owner : &st->match;
    if (g->is_host) {
      nw__cmap_add(v->a, m, sl->host, 1);
      continue;
    }
    const nw__sreq *d = nw__sreqs_get(&sl->reqs, g->key);
    if (!d || d->complement)
      continue;
    if (g->type == G_ANTI)
      for (uint32_t j = 0; j < d->n; j++)
        nw__cmap_add(v->a, m, d->vals[j], 1);
    else if (d->n == 1)
      nw__cmap_add(v->a, m, d->vals[0], 1);
  }
}

/* ---- fitting ----------------------------------------------------------------- */

static int ports_conflict(const slot *sl, const nw__pod *p) {
  if (!p->n_host_ports || !sl->n_ports)
    return 0;
  for (size_t i = 0; i < p->n_host_ports; i++)
    for (size_t j = 0; j < sl->n_ports; j++) {
      const nw__host_port *a = &p->host_ports[i], *b = sl->ports[j];
      if (a->port != b->port || strcmp(a->protocol, b->protocol) != 0)
        continue;
      if (strcmp(a->host_ip, "0.0.0.0") == 0 ||
          strcmp(b->host_ip, "0.0.0.0") == 0 ||
          strcmp(a->host_ip, b->host_ip) == 0)
        return 1;
    }
  return 0;
}

static void add_ports(solve *v, slot *sl, const nw__pod *p) {
  if (!p->n_host_ports)
    return;
  size_t n = sl->n_ports + p->n_host_ports;
  const nw__host_port **np = nw__arena_alloc(v->a, n * sizeof(*np));
  if (sl->n_ports)
    memcpy(np, sl->ports, sl->n_ports * sizeof(*np));
  for (size_t i = 0; i < p->n_host_ports; i++)
    np[sl->n_ports + i] = &p->host_ports[i];
  sl->ports = np;
  sl->n_ports = n;
}

static void fmt_resources(solve *v, const rvec *r) {
  char q[64];
  msgf(v, "{");
  int first = 1;
  for (uint32_t i = 0; i < v->s->nres; i++) {
    if (!r->v[i])
      continue;
    msgf(v, "%s\"%s\":\"%s\"", first ? "" : ",", v->s->rnames[i],
         nw__quantity_format(v->s->rnames[i], r->v[i], q, sizeof(q)));
    first = 0;
  }
  msgf(v, "}");
}

static void fmt_bad_key(solve *v, const nw__sreqs *node, const nw__sreqs *pod,
                        uint32_t key) {
  char a[256], b[256];
  const nw__sreq *x = nw__sreqs_get(node, key), *y = nw__sreqs_get(pod, key);
  if (!x) {
    msgf(v, "label \"%s\" does not have known values",
         v->s->st.strs[key]);
    return;
  }
  msgf(v, "incompatible requirements, key %s, %s not in %s",
       v->s->st.strs[key], y ? nw__sreq_format(&v->s->st, y, b, sizeof(b)) : "",
       nw__sreq_format(&v->s->st, x, a, sizeof(a)));
}

static int try_node(solve *v, spod *sp, slot *sl) {
  const nw__pod *p = sp->p;
  if (sl->removed)
    return R_MONO;
  if (v->s->nodes[sl->node].unschedulable)
    return R_MONO;
  if (!fits_free(&sp->req, &sl->used, &sl->alloc, v->s->nres))
    return R_RES;
  v->tmp.used = 0;
  if (!tolerates_all(p, sl->taints, sl->n_taints, !sp->tol_prefer, NULL))
    return R_MONO;
  if (ports_conflict(sl, p))
    return R_MONO;
  if (!nw__sreqs_compatible(&v->s->st, &sl->reqs, &sp->full, NULL, NULL, NULL))
    return R_MONO;
  topo_out t;
  if (!topology(v, sp, &sl->reqs, &t))
    return R_OTHER;
  nw__sreqs tr = {t.n, t.r};
  if (t.n && !nw__sreqs_compatible(&v->s->st, &sl->reqs, &tr, NULL, NULL, NULL))
    return R_OTHER;
  rvec_add(&sl->used, &sp->req, v->s->nres);
  add_ports(v, sl, p);
  record(v, sp, sl);
  return R_OK;
}

static int offering_ok(const nw__strtab *st, const soff *o,
                       const nw__sreq *zr, const nw__sreq *cr) {
  return o->avail && (!zr || nw__sreq_has(st, zr, o->zone)) &&
         (!cr || nw__sreq_has(st, cr, o->ct));
}

static int type_offerable(const nw__scheduler *s, const stype *t,
                          const nw__sreqs *r) {
  const nw__sreq *zr = nw__sreqs_get(r, s->k_zone);
  const nw__sreq *cr = nw__sreqs_get(r, s->k_ct);
  for (uint32_t i = 0; i < t->n_offs; i++)
    if (offering_ok(&s->st, &t->offs[i], zr, cr))
      return 1;
  return 0;
}

/* Distinct values of `key` over the types (for minValues). */
static uint32_t distinct_values(solve *v, const spool *pl,
                                const uint32_t *types, uint32_t n,
                                uint32_t key) {
  cmap seen = {0};
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; i++) {
    const nw__sreq *r = nw__sreqs_get(&pl->types[types[i]].reqs, key);
    for (uint32_t j = 0; r && !r->complement && j < r->n; j++)
      if (!nw__cmap_get(&seen, r->vals[j])) {
        nw__cmap_add(v->a, &seen, r->vals[j], 1);
        k++;
      }
  }
  return k;
}

static void update_maxfree(solve *v, slot *c) {
  memset(&c->maxfree, 0, sizeof(c->maxfree));
  size_t pidx = (size_t)(c->pool - v->s->pools);
  for (uint32_t i = 0; i < c->n_types; i++) {
    if (v->eff && v->eff[pidx][c->types[i]] < c->e_floor)
      continue;
    const stype *t = &c->pool->types[c->types[i]];
    const rvec *d = &c->pool->ds[c->types[i]];
    for (uint32_t r = 0; r < v->s->nres; r++) {
      int64_t f = t->alloc.v[r] - d->v[r];
      if (f > c->maxfree.v[r])
        c->maxfree.v[r] = f;
    }
  }
}

/* NodeClaim.Add: the claim keeps the types that still fit every pod.
 * With `classify` set, a resource failure is examined further so that the
 * caller learns whether the claim is lost to this kind of pod for good. */
static int try_claim(solve *v, spod *sp, slot *c, int fresh, int classify) {
  nw__scheduler *s = v->s;
  const nw__pod *p = sp->p;
  rvec total = c->used;
  rvec_add(&total, &sp->req, s->nres);
  int res_fail = !rvec_fits(&total, &c->maxfree, s->nres);
  if (res_fail) {
    if (v->msg) {
      msgf(v, "no instance type satisfied resources ");
      fmt_resources(v, &total);
    }
    if (!classify)
      return R_RES;
  }
  const nw_taint *bad = NULL;
  if (!tolerates_all(p, c->taints, c->n_taints, !sp->tol_prefer, &bad)) {
    if (!res_fail)
      msgf(v, "did not tolerate taint %s=%s:%s", bad->key,
           bad->value ? bad->value : "", nw__taint_effect_name(bad->effect));
    return R_MONO;
  }
  if (ports_conflict(c, p)) {
    if (!res_fail)
      msgf(v, "host port conflict");
    return R_MONO;
  }
  uint32_t bad_key;
  if (!nw__sreqs_compatible(&s->st, &c->reqs, &sp->full, allow_wellknown, s,
                            &bad_key)) {
    if (v->msg && !res_fail)
      fmt_bad_key(v, &c->reqs, &sp->full, bad_key);
    return R_MONO;
  }
  int changed = 0;
  v->tmp.used = 0;
  nw__sreqs merged = nw__sreqs_and_b(&v->tmp, &s->st, c->reqs, sp->full,
                                     &changed);
  topo_out t;
  int topo_ok = topology(v, sp, &merged, &t);
  nw__sreqs tr = {t.n, t.r};
  if (topo_ok && t.n) {
    if (!nw__sreqs_intersects(&s->st, &merged, &tr, &bad_key))
      topo_ok = 0;
    else {
      int ch2 = 0;
      merged = nw__sreqs_and_b(&v->tmp, &s->st, merged, tr, &ch2);
      changed |= ch2;
    }
  }
  if (!topo_ok) {
    if (!res_fail && v->msg) {
      static const char *const kinds[] = {"topology spread", "pod affinity",
                                          "pod anti-affinity"};
      const tgroup *g = t.failed;
      if (g)
        msgf(v, "unsatisfiable topology constraint for %s%s, key=%s",
             t.failed_inverse ? "anti-affinity of running pods" : kinds[g->type],
             g->type == G_SPREAD && g->min_domains > 0 ? " with minDomains" : "",
             s->st.strs[g->key]);
      else
        msgf(v, "unsatisfiable topology constraint");
    }
    return t.nonmono ? R_OTHER : R_MONO;
  }
  if (res_fail)
    return R_RES;
  /* Which keys narrowed: the types only need checking on those. */
  /* A fresh claim starts from its pool's requirements, which every type
   * of the pool was checked against when the scheduler was built, so it
   * too only needs the narrowed keys checked. */
  const nw__sreq *ck[16];
  uint32_t nck = 0;
  int offer_check = 0, full = 0;
  if (changed) {
    for (uint32_t i = 0; i < merged.n; i++) {
      const nw__sreq *old = nw__sreqs_get(&c->reqs, merged.r[i].key);
      if (old && old->vals == merged.r[i].vals && old->n == merged.r[i].n &&
          old->complement == merged.r[i].complement &&
          old->has_gt == merged.r[i].has_gt && old->has_lt == merged.r[i].has_lt)
        continue;
      if (nck == 16) {
        full = 1; /* Too many to track: check everything. */
        break;
      }
      ck[nck++] = &merged.r[i];
      if (merged.r[i].key == s->k_zone || merged.r[i].key == s->k_ct)
        offer_check = 1;
    }
  }
  /* Filter instance types into the scratch list: the efficient part
   * first, so a claim that has outgrown its efficient types says so
   * without looking at the rest. */
  uint32_t *keep = v->scratch;
  uint32_t k = 0, k_eff = 0;
  size_t pidx = (size_t)(c->pool - s->pools);
  uint32_t n_first = fresh ? c->n_types : c->n_eff;
  rvec mf;                     /* maxfree of what is kept, computed here */
  memset(&mf, 0, sizeof(mf));
  for (uint32_t i = 0; i < c->n_types; i++) {
    if (i == n_first) {
      k_eff = k;
      if (k == 0 && !fresh) {
        msgf(v, "no instance type satisfied resources ");
        fmt_resources(v, &total);
        return R_RES;
      }
    }
    uint32_t ti = c->types[i];
    const stype *ty = &c->pool->types[ti];
    rvec need = total;
    rvec_add(&need, &c->pool->ds[ti], s->nres);
    if (!rvec_fits(&need, &ty->alloc, s->nres))
      continue;
    if (full && !nw__sreqs_intersects(&s->st, &ty->reqs, &merged, NULL))
      continue;
    int ok = 1;
    for (uint32_t j = 0; j < nck && ok && !full; j++) {
      const nw__sreq *tr = nw__sreqs_get(&ty->reqs, ck[j]->key);
      ok = !tr || nw__sreq_compatible(&s->st, tr, ck[j]);
    }
    if (!ok || ((full || offer_check) && !type_offerable(s, ty, &merged)))
      continue;
    keep[k++] = ti;
    if (!fresh && v->eff[pidx][ti] >= c->e_floor)
      for (uint32_t q = 0; q < s->nres; q++) {
        int64_t f = ty->alloc.v[q] - c->pool->ds[ti].v[q];
        if (f > mf.v[q])
          mf.v[q] = f;
      }
  }
  if (k == 0) {
    if (v->msg) {
      msgf(v, "no instance type satisfied resources ");
      fmt_resources(v, &total);
      msgf(v, " and requirements");
      char b[256];
      for (uint32_t i = 0; i < merged.n && i < 12; i++)
        msgf(v, "%s%s", i ? ", " : " ",
             nw__sreq_format(&s->st, &merged.r[i], b, sizeof(b)));
    }
    return changed ? R_OTHER : R_RES;
  }
  if (n_first == c->n_types)
    k_eff = k;
  /* Keep the claim as cost-efficient as it started (see compute_eff). */
  double be = 0;
  for (uint32_t i = 0; i < (fresh ? k : k_eff); i++)
    if (v->eff[pidx][keep[i]] > be)
      be = v->eff[pidx][keep[i]];
  if (!fresh && be < c->e_floor) {
    msgf(v, "no instance type satisfied resources ");
    fmt_resources(v, &total);
    return R_RES;
  }
  for (uint32_t i = 0; i < merged.n; i++) {
    const nw__sreq *r = &merged.r[i];
    if (r->min_values > 0 &&
        distinct_values(v, c->pool, keep, k, r->key) < (uint32_t)r->min_values) {
      msgf(v, "minValues requirement is not met for %s (needs %d values)",
           s->st.strs[r->key], r->min_values);
      return R_OTHER;
    }
  }
  if (changed)
    c->reqs = nw__sreqs_copy(v->a, &merged);
  if (fresh) {
    c->e_floor = be * EFF_SLACK;
    /* Partition: efficient types first, each part in price order. */
    uint32_t *t2 = v->scratch2;
    uint32_t a = 0;
    for (uint32_t i = 0; i < k; i++)
      if (v->eff[pidx][keep[i]] >= c->e_floor)
        t2[a++] = keep[i];
    k_eff = a;
    for (uint32_t i = 0; i < k; i++)
      if (v->eff[pidx][keep[i]] < c->e_floor)
        t2[a++] = keep[i];
    memcpy(keep, t2, k * sizeof(*keep));
  } else {
    /* Types of the efficient part that fell below the floor move out. */
    uint32_t a = 0;
    for (uint32_t i = 0; i < k_eff; i++)
      if (v->eff[pidx][keep[i]] >= c->e_floor)
        keep[a++] = keep[i];
    if (a != k_eff) {
      uint32_t *t2 = v->scratch2;
      uint32_t b = 0;
      for (uint32_t i = 0; i < k_eff; i++)
        if (v->eff[pidx][keep[i]] < c->e_floor)
          t2[b++] = keep[i];
      memmove(keep + a + b, keep + k_eff, (k - k_eff) * sizeof(*keep));
      memcpy(keep + a, t2, b * sizeof(*keep));
      k_eff = a;
    }
  }
  if (k != c->n_types || fresh) {
    /* The list only shrinks: compact it in place. */
    memcpy(c->types, keep, k * sizeof(*keep));
    c->n_types = k;
    if (fresh)
      update_maxfree(v, c);
    else
      c->maxfree = mf;
  }
  c->n_eff = k_eff;
  c->used = total;
  add_ports(v, c, p);
  if (c->n_pods == c->cap_pods) {
    c->cap_pods = c->cap_pods ? c->cap_pods * 2 : 8;
    uint32_t *np = nw__arena_alloc(v->a, c->cap_pods * sizeof(*np));
    if (c->n_pods)
      memcpy(np, c->pods, c->n_pods * sizeof(*np));
    c->pods = np;
  }
  c->pods[c->n_pods++] = (uint32_t)(sp - v->pods);
  record(v, sp, c);
  for (uint32_t r = 0; r < s->nres; r++)
    if (v->min_req.v[r] > 0 && c->used.v[r] + v->min_req.v[r] > c->maxfree.v[r])
      c->closed = 1;
  return R_OK;
}

static uint32_t placeholder(solve *v, size_t i) {
  nw__scheduler *s = v->s;
  char name[48];
  snprintf(name, sizeof(name), "nodewright-claim-%05zu", i);
  return nw__strtab_intern(&s->st, name);
}

/* A new claim from pool pl for the pod; NULL when it does not fit. */
static slot *new_claim(solve *v, spod *sp, size_t pidx) {
  nw__scheduler *s = v->s;
  spool *pl = &s->pools[pidx];
  slot *c = nw__arena_alloc(v->a, sizeof(*c));
  c->is_claim = 1;
  c->pool = pl;
  c->taints = pl->taints->items;
  c->n_taints = pl->taints->len;
  c->host = placeholder(v, v->n_claims);
  nw__sreq h = nw__sreq_in1(v->a, s->k_host, c->host);
  c->reqs = nw__sreqs_and(v->a, &s->st, pl->reqs, (nw__sreqs){1, &h}, NULL);
  if (pl->n_types == 0) {
    msgf(v, "no instance types available for nodepool \"%s\"",
         pl->src->name);
    return NULL;
  }
  if (v->rem_nodes[pidx] == 0) {
    msgf(v, "all available instance types exceed limits for nodepool: \"%s\"",
         pl->src->name);
    return NULL;
  }
  c->types = nw__arena_alloc(v->a, (pl->n_types + 1) * sizeof(*c->types));
  for (uint32_t t = 0; t < pl->n_types; t++) {
    int ok = 1;
    for (uint32_t r = 0; r < s->nres && ok; r++)
      ok = !pl->limited[r] || pl->types[t].cap.v[r] <= v->rem[pidx].v[r];
    if (ok)
      c->types[c->n_types++] = t;
  }
  if (c->n_types == 0) {
    msgf(v, "all available instance types exceed limits for nodepool: \"%s\"",
         pl->src->name);
    return NULL;
  }
  update_maxfree(v, c);
  if (try_claim(v, sp, c, 1, 0) != R_OK)
    return NULL;
  /* Karpenter's pessimistic limit accounting: the largest option. */
  for (uint32_t r = 0; r < s->nres; r++) {
    if (!pl->limited[r])
      continue;
    int64_t mx = 0;
    for (uint32_t t = 0; t < c->n_types; t++)
      if (pl->types[c->types[t]].cap.v[r] > mx)
        mx = pl->types[c->types[t]].cap.v[r];
    v->rem[pidx].v[r] -= mx;
  }
  if (v->rem_nodes[pidx] > 0)
    v->rem_nodes[pidx]--;
  return c;
}

/*
 * Within a solve nodes only fill up and removed nodes stay removed, so a
 * node that cannot take the smallest request of the solve's placeable pods
 * can take none of them for the rest of the solve.  The open list keeps
 * the others in input order (the order pods try nodes in), so each pod
 * skips the full nodes of a large cluster without testing them.  Pods
 * with a fatal reason never try nodes and do not count for the minimum.
 */
static void open_nodes(solve *v) {
  uint32_t nres = v->s->nres;
  for (uint32_t r = 0; r < NRES; r++)
    v->open_min.v[r] = INT64_MAX / 4;
  for (size_t i = 0; i < v->n_pods; i++)
    for (uint32_t r = 0; r < nres && !v->pods[i].fatal; r++)
      if (v->pods[i].req.v[r] < v->open_min.v[r])
        v->open_min.v[r] = v->pods[i].req.v[r];
  v->open = nw__arena_alloc(v->a, (v->n_nodes + 1) * sizeof(*v->open));
  v->n_open = 0;
  for (size_t i = 0; i < v->n_nodes; i++) {
    const slot *sl = &v->nodes[i];
    if (sl->removed || v->s->nodes[i].unschedulable ||
        !fits_free(&v->open_min, &sl->used, &sl->alloc, nres))
      continue;
    v->open[v->n_open++] = (uint32_t)i;
  }
}

/* The class's node list, copied from the open list on first use (which
 * drops the nodes that filled up since). */
static nlist *class_nodes(solve *v, uint32_t cls) {
  nlist *L = &v->cls_nodes[cls];
  if (L->built)
    return L;
  size_t w = 0;
  for (size_t r = 0; r < v->n_open; r++) {
    const slot *sl = &v->nodes[v->open[r]];
    if (fits_free(&v->open_min, &sl->used, &sl->alloc, v->s->nres))
      v->open[w++] = v->open[r];
  }
  v->n_open = w;
  L->ids = nw__arena_alloc(v->a, (w + 1) * sizeof(*L->ids));
  memcpy(L->ids, v->open, w * sizeof(*L->ids));
  L->n = (uint32_t)w;
  L->built = 1;
  return L;
}

/*
 * The first node (input order) that takes the pod.  Nodes too full for
 * open_min leave the class's list, and so do nodes that fail for reasons
 * the class shares and that do not go away within the solve (R_MONO:
 * taints, host ports, node affinity; as for claims, see place) -- unless
 * the class signature was truncated, when its pods may differ in them.
 */
static int place_on_node(solve *v, spod *sp) {
  uint32_t nres = v->s->nres;
  nlist *L = class_nodes(v, sp->cls);
  uint32_t w = 0;
  for (uint32_t r = 0; r < L->n; r++) {
    uint32_t i = L->ids[r];
    slot *sl = &v->nodes[i];
    if (!fits_free(&v->open_min, &sl->used, &sl->alloc, nres))
      continue;
    int res = try_node(v, sp, sl);
    if (res == R_MONO && L->exact)
      continue;
    L->ids[w++] = i;
    if (res != R_OK)
      continue;
    memmove(L->ids + w, L->ids + r + 1, (L->n - r - 1) * sizeof(*L->ids));
    L->n = w + (L->n - r - 1);
    sp->kind = NW__PLACE_NODE;
    sp->where = i;
    return 1;
  }
  L->n = w;
  return 0;
}

static int place(solve *v, spod *sp) {
  if (sp->fatal) {
    msgf(v, "%s", sp->fatal);
    return 0;
  }
  if (place_on_node(v, sp))
    return 1;
  /* Claims this kind of pod can never use again are dropped from the
   * class's list (claims only fill up and narrow), so pods of one shape do
   * not rescan them. */
  clist *L = &v->cls_list[sp->cls];
  if (L->synced < v->n_claims) {
    size_t need = L->n + (v->n_claims - L->synced);
    if (need > L->cap) {
      L->cap = need * 2;
      L->ids = realloc(L->ids, L->cap * sizeof(*L->ids));
      if (!L->ids)
        abort();
    }
    for (size_t j = L->synced; j < v->n_claims; j++)
      L->ids[L->n++] = (uint32_t)j;
    L->synced = (uint32_t)v->n_claims;
  }
  char *saved = v->msg;
  v->msg = NULL; /* Failures on planned claims are not reported. */
  uint32_t w = 0;
  for (uint32_t r = 0; r < L->n; r++) {
    uint32_t i = L->ids[r];
    slot *c = v->claims[i];
    int res = c->closed ? R_MONO : try_claim(v, sp, c, 0, 1);
    /* A claim that cannot hold even the smallest pod of the class is done
     * for the class. */
    if (res == R_RES) {
      rvec t = c->used;
      rvec_add(&t, &v->cls_min[sp->cls], v->s->nres);
      if (!rvec_fits(&t, &c->maxfree, v->s->nres))
        res = R_MONO;
    }
    if (res == R_OK) {
      if (w != r) {
        memmove(L->ids + w, L->ids + r, (L->n - r) * sizeof(*L->ids));
        L->n = w + (L->n - r);
      }
      v->msg = saved;
      sp->kind = NW__PLACE_CLAIM;
      sp->where = i;
      return 1;
    }
    if (res != R_MONO)
      L->ids[w++] = i;
  }
  L->n = w;
  v->msg = saved;
  if (v->no_new || (v->max_new && v->n_claims >= v->max_new)) {
    msgf(v, "no capacity left on existing nodes");
    return 0;
  }
  for (size_t pi = 0; pi < v->s->n_pools; pi++) {
    size_t mark = v->msg_len;
    if (v->msg)
      msgf(v, "%sincompatible with nodepool \"%s\", ", mark ? "; " : "",
           v->s->pools[pi].src->name);
    slot *c = new_claim(v, sp, pi);
    if (!c)
      continue;
    if (v->n_claims == v->cap_claims) {
      v->cap_claims = v->cap_claims ? v->cap_claims * 2 : 64;
      v->claims = realloc(v->claims, v->cap_claims * sizeof(*v->claims));
      if (!v->claims)
        abort();
    }
    sp->kind = NW__PLACE_CLAIM;
    sp->where = v->n_claims;
    v->claims[v->n_claims++] = c;
    return 1;
  }
  if (v->s->n_pools == 0)
    msgf(v, "no nodepools found");
  return 0;
}

/* ---- classes: pods that fail on the same claims for the same reasons --- */

static void classify(solve *v, spod *sp) {
  char buf[1024];
  size_t k = 0;
  k += (size_t)snprintf(buf, sizeof(buf), "%u.%u.%d|", sp->cur_term,
                        sp->cur_pref, sp->tol_prefer);
  nw_requirements r = nw__sreqs_to_sdk(v->a, &v->s->st, &sp->full);
  sig_reqs(buf, sizeof(buf), &k, &r);
  for (uint32_t i = 0; i < sp->n_own && k < sizeof(buf); i++)
    k += (size_t)snprintf(buf + k, sizeof(buf) - k, "o%u.%u.%u,",
                          sp->own[i].g, sp->own[i].active, sp->own[i].self);
  for (uint32_t i = 0; i < sp->n_match && k < sizeof(buf); i++)
    k += (size_t)snprintf(buf + k, sizeof(buf) - k, "m%u,", sp->match[i]);
  for (size_t i = 0; i < sp->p->n_tolerations && k < sizeof(buf); i++) {
    const nw__toleration *t = &sp->p->tolerations[i];
    k += (size_t)snprintf(buf + k, sizeof(buf) - k, "t%s%d%s%d,", t->key,
                          t->op, t->value, t->effect);
  }
  for (size_t i = 0; i < sp->p->n_host_ports && k < sizeof(buf); i++)
    k += (size_t)snprintf(buf + k, sizeof(buf) - k, "p%d%s%s,",
                          sp->p->host_ports[i].port,
                          sp->p->host_ports[i].protocol,
                          sp->p->host_ports[i].host_ip);
  if (sp->fatal && k < sizeof(buf))
    k += (size_t)snprintf(buf + k, sizeof(buf) - k, "fatal");
  uint32_t id = nw__strtab_intern(&v->cls_tab, buf);
  if (id >= v->n_cls) {
    size_t n = (id + 1) * 2;
    v->cls_list = realloc(v->cls_list, n * sizeof(*v->cls_list));
    v->cls_min = realloc(v->cls_min, n * sizeof(*v->cls_min));
    v->cls_nodes = realloc(v->cls_nodes, n * sizeof(*v->cls_nodes));
    if (!v->cls_list || !v->cls_min || !v->cls_nodes)
      abort();
    memset(v->cls_list + v->n_cls, 0, (n - v->n_cls) * sizeof(*v->cls_list));
    memset(v->cls_nodes + v->n_cls, 0,
           (n - v->n_cls) * sizeof(*v->cls_nodes));
    for (size_t i = v->n_cls; i < n; i++)
      v->cls_nodes[i].exact = 1;
    for (size_t i = v->n_cls; i < n; i++)
      for (uint32_t r = 0; r < NRES; r++)
        v->cls_min[i].v[r] = INT64_MAX / 4;
    v->n_cls = n;
  }
  sp->cls = id;
  /* A truncated signature may lump pods that differ in what it leaves out. */
  if (k >= sizeof(buf) - 1)
    v->cls_nodes[id].exact = 0;
  for (uint32_t r = 0; r < v->s->nres; r++)
    if (sp->req.v[r] < v->cls_min[id].v[r])
      v->cls_min[id].v[r] = sp->req.v[r];
}

/* ---- the solve ------------------------------------------------------------- */

/* Largest first by value at the solve's resource prices (cpu and memory
 * weighted as the cheapest packing values them), then cpu, memory, name. */
static int cmp_spod(const void *a, const void *b, void *ctx) {
  const spod *x = a, *y = b;
  const double *w = ctx;
  double vx = (double)x->req.v[0] * w[0] + (double)x->req.v[1] * w[1];
  double vy = (double)y->req.v[0] * w[0] + (double)y->req.v[1] * w[1];
  if (vx != vy)
    return vx > vy ? -1 : 1;
  if (x->req.v[0] != y->req.v[0])
    return x->req.v[0] > y->req.v[0] ? -1 : 1;
  if (x->req.v[1] != y->req.v[1])
    return x->req.v[1] > y->req.v[1] ? -1 : 1;
  int c = strcmp(x->p->namespace_, y->p->namespace_);
  if (c)
    return c;
  c = strcmp(x->p->name, y->p->name);
  if (c)
    return c;
  return x->out < y->out ? -1 : x->out > y->out;
}

static void match_groups(solve *v) {
  for (size_t i = 0; i < v->n_pods; i++) {
    spod *sp = &v->pods[i];
    sp->match = nw__arena_alloc(v->a, (v->n_active + 1) * sizeof(*sp->match));
    for (size_t g = 0; g < v->n_active; g++)
      if (group_selects(v->s, v->s->groups[v->active[g]], sp->p))
        sp->match[sp->n_match++] = v->active[g];
  }
}

static void collect_active(solve *v) {
  nw__scheduler *s = v->s;
  uint8_t *seen = nw__arena_alloc(v->a, s->n_groups + 1);
  v->active = nw__arena_alloc(v->a, (s->n_groups + 1) * sizeof(*v->active));
  for (size_t i = 0; i < v->n_pods; i++)
    for (uint32_t j = 0; j < v->pods[i].n_own; j++) {
      uint32_t g = v->pods[i].own[j].g;
      if (!seen[g]) {
        seen[g] = 1;
        v->active[v->n_active++] = g;
      }
    }
  for (size_t i = 0; i < s->n_anti_base; i++)
    if (!seen[s->anti_base[i]]) {
      seen[s->anti_base[i]] = 1;
      v->active[v->n_active++] = s->anti_base[i];
    }
}

/* Removed nodes: their pods leave the counts and the limits' usage. */
static void apply_removed(solve *v) {
  nw__scheduler *s = v->s;
  for (size_t i = 0; i < v->n_nodes; i++) {
    slot *sl = &v->nodes[i];
    if (!sl->removed)
      continue;
    const snode *n = &s->nodes[i];
    if (n->pool >= 0) {
      for (uint32_t r = 0; r < s->nres; r++)
        v->rem[n->pool].v[r] += n->cap.v[r];
      if (v->rem_nodes[n->pool] >= 0)
        v->rem_nodes[n->pool]++;
    }
    for (uint32_t j = 0; j < n->n_pods; j++) {
      const epod *e = &n->pods[j];
      for (size_t g = 0; g < v->n_active; g++) {
        const tgroup *grp = s->groups[v->active[g]];
        uint32_t d;
        if (!node_domain(s, n, grp->key, &d))
          continue;
        gstate *st = gs_get(v, v->active[g]);
        if (group_selects(s, grp, e->p) &&
            (grp->type != G_SPREAD || group_node_ok(grp, n->src->node)))
          nw__cmap_add(v->a, &st->match, d, -1);
        for (uint32_t q = 0; q < e->n_anti; q++)
          if (e->anti[q] == v->active[g])
            nw__cmap_add(v->a, &st->owner, d, -1);
      }
    }
  }
}

static void init_slots(solve *v, const nw__sched_opts *o) {
  nw__scheduler *s = v->s;
  v->n_nodes = s->n_nodes;
  v->nodes = nw__arena_alloc(v->a, (s->n_nodes + 1) * sizeof(*v->nodes));
  for (size_t i = 0; i < s->n_nodes; i++) {
    const snode *n = &s->nodes[i];
    slot *sl = &v->nodes[i];
    sl->node = i;
    sl->reqs = n->reqs;
    sl->host = n->host;
    sl->taints = n->taints;
    sl->n_taints = n->n_taints;
    sl->alloc = n->alloc;
    sl->used = n->used;
    sl->ports = n->ports;
    sl->n_ports = n->n_ports;
  }
  for (size_t i = 0; o && i < o->n_removed; i++)
    if (o->removed[i] < s->n_nodes)
      v->nodes[o->removed[i]].removed = 1;
  v->rem = nw__arena_alloc(v->a, (s->n_pools + 1) * sizeof(*v->rem));
  v->rem_nodes = nw__arena_alloc(v->a, (s->n_pools + 1) * sizeof(int64_t));
  for (size_t p = 0; p < s->n_pools; p++) {
    const spool *pl = &s->pools[p];
    for (uint32_t r = 0; r < s->nres; r++)
      v->rem[p].v[r] = pl->limit.v[r] - pl->base_usage.v[r];
    v->rem_nodes[p] = pl->node_limit < 0 ? -1
                                         : pl->node_limit - pl->base_nodes;
    if (pl->node_limit >= 0 && v->rem_nodes[p] < 0)
      v->rem_nodes[p] = 0;
  }
}

/*
 * Cost efficiency of every instance type for this solve's demand.  The
 * pods' total cpu and memory give resource prices y (the dual of the
 * packing LP, searched along one dimension); a type's efficiency is the
 * value of its allocatable at those prices over its cheapest price, 1 for
 * the types an optimal fractional packing would buy.  Claims stop
 * growing when no type this efficient is left (see try_claim), so nodes
 * are filled to the size of an efficient type instead of to the largest
 * type, which costs more per resource.
 */
enum { EFF_STEPS = 32 };

static double eff_scale(const spool *pl, double wc, double wm) {
  double best = -1;
  for (uint32_t t = 0; t < pl->n_types; t++) {
    double p = pl->types[t].min_price;
    double v = (double)pl->types[t].alloc.v[0] * wc +
               (double)pl->types[t].alloc.v[1] * wm;
    if (p <= 0 || v <= 0)
      continue;
    if (best < 0 || p / v < best)
      best = p / v;
  }
  return best;
}

static void compute_eff(solve *v) {
  nw__scheduler *s = v->s;
  double dc = 0, dm = 0;
  for (size_t i = 0; i < v->n_pods; i++) {
    dc += (double)v->pods[i].req.v[0];
    dm += (double)v->pods[i].req.v[1];
  }
  v->eff = nw__arena_alloc(v->a, (s->n_pools + 1) * sizeof(*v->eff));
  for (size_t p = 0; p < s->n_pools; p++) {
    const spool *pl = &s->pools[p];
    v->eff[p] = nw__arena_alloc(v->a, (pl->n_types + 1) * sizeof(double));
    if (dc <= 0 && dm <= 0)
      continue;
    double best_a = 0.5, best = -1;
    for (int round = 0; round < 3; round++) {
      double lo = round ? best_a - 1.0 / (EFF_STEPS << (3 * (round - 1)))
                        : 0;
      double step = round ? 2.0 / (EFF_STEPS << (3 * (round - 1))) / EFF_STEPS
                          : 1.0 / EFF_STEPS;
      for (int k = 0; k <= EFF_STEPS; k++) {
        double a = lo + step * k;
        if (a < 0 || a > 1)
          continue;
        double wc = dc > 0 ? a / dc : 0, wm = dm > 0 ? (1 - a) / dm : 0;
        double sc = eff_scale(pl, wc, wm);
        if (sc > best) {
          best = sc;
          best_a = a;
        }
      }
    }
    double wc = dc > 0 ? best_a / dc : 0, wm = dm > 0 ? (1 - best_a) / dm : 0;
    if (p == 0) {
      v->weights[0] = wc;
      v->weights[1] = wm;
    }
    double top = -1;
    for (uint32_t t = 0; t < pl->n_types; t++) {
      double pr = pl->types[t].min_price;
      double val = (double)pl->types[t].alloc.v[0] * wc +
                   (double)pl->types[t].alloc.v[1] * wm;
      v->eff[p][t] = pr > 0 && best > 0 ? val * best / pr : 0;
      if (p == 0 && pl->types[t].alloc.v[0] > 0 && v->eff[p][t] > top) {
        top = v->eff[p][t];
        v->ratio = (double)pl->types[t].alloc.v[1] /
                   (double)pl->types[t].alloc.v[0];
      }
    }
  }
}

/*
 * Largest-first packing groups pods of one shape, so the first nodes get
 * only memory-heavy pods and the last only cpu-heavy ones, each wasting
 * the other resource.  Interleaving the two kinds (still largest first
 * within each) keeps every node's mix at the ratio of the most efficient
 * type, so those nodes fill in both resources.
 */
static void interleave(solve *v) {
  size_t n = v->n_pods, na = 0, nb = 0;
  /* Shares of the batch's totals: the running mix follows the batch's. */
  double dc = 0, dm = 0;
  for (size_t i = 0; i < n; i++) {
    dc += (double)v->pods[i].req.v[0];
    dm += (double)v->pods[i].req.v[1];
  }
  double w[2] = {dc > 0 ? 1 / dc : 0, dm > 0 ? 1 / dm : 0};
  /* Follow the most efficient type's mix rather than the batch's: its
   * nodes fill evenly, and what is left over (the batch's excess of one
   * resource) ends up on the last nodes, which pick types rich in it. */
  if (v->ratio > 0) {
    w[0] = v->ratio;
    w[1] = 1;
  }
  spod *tmp = malloc((n + 1) * sizeof(*tmp));
  size_t *a = malloc((n + 1) * sizeof(*a)), *b = malloc((n + 1) * sizeof(*b));
  if (!tmp || !a || !b)
    abort();
  for (size_t i = 0; i < n; i++) {
    double c = (double)v->pods[i].req.v[0] * w[0];
    double m = (double)v->pods[i].req.v[1] * w[1];
    if (c >= m)
      a[na++] = i;
    else
      b[nb++] = i;
  }
  size_t ia = 0, ib = 0;
  double balance = 0;
  for (size_t k = 0; k < n; k++) {
    size_t i;
    if (ib >= nb || (ia < na && balance <= 0))
      i = a[ia++];
    else
      i = b[ib++];
    balance += (double)v->pods[i].req.v[0] * w[0] -
               (double)v->pods[i].req.v[1] * w[1];
    tmp[k] = v->pods[i];
  }
  memcpy(v->pods, tmp, n * sizeof(*tmp));
  free(tmp);
  free(a);
  free(b);
}

static void run_queue(solve *v) {
  size_t cap = v->n_pods * 2 + 16, head = 0, tail = 0, stale = 0;
  uint32_t *q = malloc(cap * sizeof(*q));
  for (size_t i = 0; i < v->n_pods; i++)
    q[tail++] = (uint32_t)i;
  while (head < tail) {
    uint32_t i = q[head++];
    spod *sp = &v->pods[i];
    if (place(v, sp)) {
      stale = 0;
      continue;
    }
    if (!sp->fatal && relax(v, sp)) {
      classify(v, sp);
      stale = 0;
    } else {
      stale++;
    }
    if (tail == cap) {
      /* Compact the consumed head, or grow. */
      memmove(q, q + head, (tail - head) * sizeof(*q));
      tail -= head;
      head = 0;
      if (tail == cap) {
        cap *= 2;
        q = realloc(q, cap * sizeof(*q));
        if (!q)
          abort();
      }
    }
    q[tail++] = i;
    if (stale >= tail - head)
      break;
  }
  free(q);
}

/* ---- results ------------------------------------------------------------- */

typedef struct opt {
  uint32_t t;
  double price;
  const soff *off;
} opt;


static int cmp_opt(const void *a, const void *b, void *ctx) {
  const opt *x = a, *y = b;
  const spool *pl = ctx;
  if (x->price != y->price)
    return x->price < y->price ? -1 : 1;
  return strcmp(pl->types[x->t].src->name, pl->types[y->t].src->name);
}

/* Cheapest launchable offering of a type under the claim's requirements;
 * offerings are kept in launch preference order (see cmp_off). */
static const soff *cheapest(const nw__scheduler *s, const stype *t,
                            const nw__sreqs *r) {
  const nw__sreq *zr = nw__sreqs_get(r, s->k_zone);
  const nw__sreq *cr = nw__sreqs_get(r, s->k_ct);
  for (uint32_t i = 0; i < t->n_offs; i++)
    if (offering_ok(&s->st, &t->offs[i], zr, cr))
      return &t->offs[i];
  return NULL;
}

static nw_resource_list to_list(solve *v, const rvec *r) {
  nw_resource *items = nw__arena_alloc(v->out, (v->s->nres + 1) *
                                                   sizeof(*items));
  size_t k = 0;
  for (uint32_t i = 0; i < v->s->nres; i++)
    if (r->v[i])
      items[k++] = (nw_resource){v->s->rnames[i], r->v[i]};
  return (nw_resource_list){k, items};
}

static void build_claim(solve *v, const slot *c, size_t idx,
                        nw__sched_claim *out) {
  nw__scheduler *s = v->s;
  const spool *pl = c->pool;
  opt *o = v->optbuf;
  uint32_t n = 0;
  for (uint32_t i = 0; i < c->n_types; i++) {
    const soff *off = cheapest(s, &pl->types[c->types[i]], &c->reqs);
    if (off)
      o[n++] = (opt){c->types[i], off->price, off};
  }
  /* Pool order is already cheapest first; sort only when the claim's
   * zones or capacity types changed which offering is cheapest. */
  int sorted = 1;
  for (uint32_t i = 1; i < n && sorted; i++)
    sorted = o[i - 1].price < o[i].price ||
             (o[i - 1].price == o[i].price && o[i - 1].t < o[i].t);
  if (!sorted)
    qsort_r(o, n, sizeof(*o), cmp_opt, (void *)pl);
  out->pool = pl->idx;
  out->nodepool = pl->src->name;
  out->hostname = s->st.strs[c->host];
  out->n_options_total = n;
  size_t keep = n < v->max_options ? n : v->max_options;
  /* Truncation must not break minValues. */
  uint32_t *ids = v->scratch;
  for (uint32_t i = 0; i < n; i++)
    ids[i] = o[i].t;
  for (uint32_t i = 0; i < c->reqs.n; i++) {
    const nw__sreq *r = &c->reqs.r[i];
    while (r->min_values > 0 && keep < n &&
           distinct_values(v, pl, ids, (uint32_t)keep, r->key) <
               (uint32_t)r->min_values)
      keep++;
  }
  const nw_instance_type **opts = nw__arena_alloc(v->out, (keep + 1) *
                                                              sizeof(*opts));
  const char **names = nw__arena_alloc(v->out, (keep + 1) * sizeof(*names));
  for (size_t i = 0; i < keep; i++) {
    opts[i] = pl->types[o[i].t].src;
    names[i] = opts[i]->name;
  }
  out->options = opts;
  out->n_options = keep;
  if (keep > 0) {
    out->instance_type = opts[0];
    out->offering = o[0].off->src;
    out->price = o[0].price;
  }
  /* Requirements: the claim's, without the placeholder hostname, plus
   * the instance types kept. */
  nw_requirements sdk = nw__sreqs_to_sdk(v->out, &s->st, &c->reqs);
  nw_requirement *items = nw__arena_alloc(v->out, (sdk.len + 2) *
                                                      sizeof(*items));
  size_t k = 0;
  for (size_t i = 0; i < sdk.len; i++) {
    if (strcmp(sdk.items[i].key, K_HOST) == 0 ||
        strcmp(sdk.items[i].key, K_ITYPE) == 0)
      continue;
    items[k++] = sdk.items[i];
  }
  int32_t itmin = 0;
  const nw__sreq *itr = nw__sreqs_get(&c->reqs, s->k_itype);
  if (itr)
    itmin = itr->min_values;
  items[k++] = (nw_requirement){K_ITYPE, NW_OP_IN, keep, names, itmin};
  out->requirements = (nw_requirements){k, items};
  rvec req = c->used;
  if (keep > 0)
    rvec_add(&req, &pl->ds[o[0].t], s->nres);
  out->requests = to_list(v, &req);
  size_t *pods = nw__arena_alloc(v->out, (c->n_pods + 1) * sizeof(*pods));
  for (uint32_t i = 0; i < c->n_pods; i++)
    pods[i] = v->pods[c->pods[i]].out;
  out->pods = pods;
  out->n_pods = c->n_pods;
  (void)idx;
}

static void collect_errors(solve *v, spod *sp, nw__sched_placement *pl) {
  /* Re-run the failed attempt with messages on; nothing is committed
   * because it failed before. */
  char buf[4096];
  v->msg = buf;
  v->msg_cap = sizeof(buf);
  v->msg_len = 0;
  buf[0] = 0;
  place(v, sp);
  pl->error = nw__arena_strdup(v->out, buf);
  v->msg = NULL;
}

nw__sched_result *nw__scheduler_solve(nw__scheduler *s,
                                      const nw__pod *const *pods, size_t n,
                                      const nw__sched_opts *opts,
                                      nw_arena *arena, nw_error *err) {
  (void)err;
  solve v = {0};
  v.s = s;
  v.a = nw__arena_new();
  v.out = arena;
  v.no_new = opts && opts->no_new_claims;
  v.max_new = opts ? opts->max_new_claims : 0;
  v.max_options = opts && opts->max_options ? opts->max_options
                                            : DEFAULT_MAX_OPTIONS;
  init_slots(&v, opts);
  nw__strtab_init(&v.cls_tab);
  uint32_t max_types = 1;
  for (size_t i = 0; i < s->n_pools; i++)
    if (s->pools[i].n_types > max_types)
      max_types = s->pools[i].n_types;
  v.scratch = nw__arena_alloc(v.a, max_types * sizeof(*v.scratch));
  v.optbuf = nw__arena_alloc(v.a, max_types * sizeof(*v.optbuf));
  v.scratch2 = nw__arena_alloc(v.a, max_types * sizeof(*v.scratch2));
  v.tmp = (nw__bump){v.a, malloc(1 << 20), 0, 1 << 20};
  /* Pending pods, then the pods of removed nodes. */
  size_t total = n;
  for (size_t i = 0; i < v.n_nodes; i++)
    if (v.nodes[i].removed)
      total += s->nodes[i].n_pods;
  v.pods = nw__arena_alloc(v.a, (total + 1) * sizeof(*v.pods));
  nw__sched_placement *pl = nw__arena_alloc(arena, (total + 1) * sizeof(*pl));
  for (size_t i = 0; i < n; i++)
    pl[i].pod = pods[i];
  size_t k = n;
  for (size_t i = 0; i < v.n_nodes; i++)
    if (v.nodes[i].removed)
      for (uint32_t j = 0; j < s->nodes[i].n_pods; j++)
        pl[k++].pod = s->nodes[i].pods[j].p;
  for (size_t i = 0; i < total; i++) {
    compile_pod(&v, &v.pods[i], pl[i].pod, i);
    /* DaemonSet pods of removed nodes do not move. */
    const nw__pod *p = pl[i].pod;
    if (i >= n && p->owner == NW__POD_OWNER_DAEMONSET)
      v.pods[i].fatal = "daemonset pod";
    if (i >= n && p->owner == NW__POD_OWNER_NODE)
      v.pods[i].fatal = "static pod";
  }
  v.n_pods = total;
  collect_active(&v);
  v.gs = nw__arena_alloc(v.a, (s->n_groups + 1) * sizeof(*v.gs));
  v.n_gs = s->n_groups;
  apply_removed(&v);
  match_groups(&v);
  for (uint32_t r = 0; r < s->nres; r++)
    v.min_req.v[r] = INT64_MAX;
  for (size_t i = 0; i < total; i++)
    for (uint32_t r = 0; r < s->nres; r++)
      if (v.pods[i].req.v[r] < v.min_req.v[r])
        v.min_req.v[r] = v.pods[i].req.v[r];
  for (uint32_t r = 0; r < s->nres; r++)
    if (v.min_req.v[r] == INT64_MAX)
      v.min_req.v[r] = 0;
  for (size_t i = 0; i < total; i++)
    classify(&v, &v.pods[i]);
  /* The queue sorts; remember which compiled pod is which output. */
  compute_eff(&v);
  open_nodes(&v);
  if (!opts || !opts->keep_order) {
    qsort_r(v.pods, total, sizeof(*v.pods), cmp_spod, v.weights);
    interleave(&v);
  }
  run_queue(&v);

  nw__sched_result *res = nw__arena_alloc(arena, sizeof(*res));
  for (size_t i = 0; i < total && !(opts && opts->no_errors); i++)
    if (v.pods[i].kind == NW__PLACE_NONE)
      collect_errors(&v, &v.pods[i], &pl[v.pods[i].out]);
  nw__sched_claim *claims = nw__arena_alloc(arena, (v.n_claims + 1) *
                                                       sizeof(*claims));
  for (size_t i = 0; i < v.n_claims; i++) {
    build_claim(&v, v.claims[i], i, &claims[i]);
    res->new_claims_price += claims[i].price;
  }
  for (size_t i = 0; i < total; i++) {
    spod *sp = &v.pods[i];
    nw__sched_placement *p = &pl[sp->out];
    p->kind = sp->kind;
    p->index = sp->where;
    if (sp->kind == NW__PLACE_NONE) {
      res->n_unschedulable++;
    } else {
      p->error = NULL;
      res->n_scheduled++;
    }
  }
  res->placements = pl;
  res->n_placements = total;
  res->claims = claims;
  res->n_claims = v.n_claims;
  free(v.claims);
  for (size_t i = 0; i < v.n_cls; i++)
    free(v.cls_list[i].ids);
  free(v.cls_list);
  nw__strtab_free(&v.cls_tab);
  free(v.cls_min);
  free(v.cls_nodes);
  free(v.tmp.buf);
  nw__arena_free(v.a);
  return res;
}
