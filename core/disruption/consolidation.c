/*
 * Candidates and the simulate callback; see consolidation.h.
 */
#include "disruption/consolidation.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/objutil.h"
#include "disruption/candidate.h"
#include "util/arena.h"

#define LABEL_NODEPOOL "karpenter.sh/nodepool"
#define LABEL_INSTANCE_TYPE "node.kubernetes.io/instance-type"
#define LABEL_ZONE "topology.kubernetes.io/zone"
#define LABEL_CAPACITY_TYPE "karpenter.sh/capacity-type"

nw__disruption_reason nw__method_reason(nw_consolidation_method method) {
  switch (method) {
  case NW_METHOD_EMPTINESS:
    return NW__REASON_EMPTY;
  case NW_METHOD_DRIFT:
    return NW__REASON_DRIFTED;
  case NW_METHOD_MULTI_NODE:
  case NW_METHOD_SINGLE_NODE:
    break;
  }
  return NW__REASON_UNDERUTILIZED;
}

static const char *node_pool_name(const nw__sched_node *sn) {
  if (sn->nodepool != NULL && sn->nodepool[0] != '\0')
    return sn->nodepool;
  return nw__node_label(sn->node, sn->node->nodepool, LABEL_NODEPOOL);
}

/* Index of the pool in st->sched->pools, or -1. */
static long pool_index(const nw__sched_input *in, const char *name) {
  if (name == NULL)
    return -1;
  for (size_t p = 0; p < in->n_pools; p++) {
    if (strcmp(in->pools[p].pool->name, name) == 0)
      return (long)p;
  }
  return -1;
}

/* The facts of node i's claim: the state's, or read into `scratch`; NULL
 * for an unmanaged node. */
static const nw__claim_facts *claim_facts(const nw__consolidation_state *st,
                                          size_t i, nw__claim_facts *scratch) {
  const json_t *claim = st->claims != NULL ? st->claims[i] : NULL;

  if (claim == NULL)
    return NULL;
  if (st->claim_facts != NULL && st->claim_facts[i] != NULL)
    return st->claim_facts[i];
  nw__claim_facts_of(claim, scratch);
  return scratch;
}

/* A managed node that counts for its pool's budget: it has a claim, is
 * no longer in flight and its claim is Initialized. */
static int managed_initialized(const nw__consolidation_state *st, size_t i) {
  nw__claim_facts scratch;
  const nw__claim_facts *cf = claim_facts(st, i, &scratch);

  return cf != NULL && !st->sched->nodes[i].in_flight && cf->initialized;
}

static int node_deleting(const nw__consolidation_state *st, size_t i) {
  nw__claim_facts scratch;
  const nw__claim_facts *cf = claim_facts(st, i, &scratch);

  return st->sched->nodes[i].node->terminating || (cf != NULL && cf->deleting);
}

/* Karpenter's IsReschedulable: not finished, not terminating, not owned by
 * a DaemonSet or the node itself (static pods). */
static int reschedulable(const nw__pod *p) {
  return !nw__pod_finished(p) && !p->terminating &&
         p->owner != NW__POD_OWNER_DAEMONSET &&
         p->owner != NW__POD_OWNER_NODE && !p->mirror;
}

/* What is known about one node regardless of the method. */
typedef struct fact {
  unsigned char known, pods_known;
  unsigned char managed;       /* managed_initialized */
  unsigned char deleting;
  long pool;
  long n_pods;                 /* check_pods: -1 when blocked */
  double cost;
  const char *blocked;         /* check_pods' skip message */
  double price;
  int price_known;
  signed char consolidatable;  /* -1 until known */
  signed char drifted;         /* -1 until known */
  unsigned char do_not_disrupt;  /* the node or its claim says so */
  unsigned char leaving;       /* Node or claim being deleted */
} fact;

struct nw__node_facts {
  size_t n;
  fact *items;
  nw_arena *arena;
};

struct nw__node_facts *nw__consolidation_facts_new(
    const nw__consolidation_state *st, nw_arena *arena) {
  struct nw__node_facts *f = nw__arena_alloc(arena, sizeof(*f));
  if (f == NULL)
    return NULL;
  f->n = st->sched->n_nodes;
  f->items = nw__arena_alloc(arena, (f->n + 1) * sizeof(*f->items));
  f->arena = arena;
  return f->items != NULL ? f : NULL;
}

static int leaving(const nw__consolidation_state *st, size_t i);

/* The node's NW__ANN_DO_NOT_DISRUPT annotation, or NULL. */
static const char *node_dnd(const nw__node *n) {
  return n->derived ? n->do_not_disrupt
                    : nw__labels_get(&n->annotations, NW__ANN_DO_NOT_DISRUPT);
}

static int node_claim_dnd(const nw__consolidation_state *st, size_t i) {
  nw__claim_facts scratch;
  const nw__claim_facts *cf = claim_facts(st, i, &scratch);

  return cf != NULL && cf->do_not_disrupt;
}

/* The facts of node i: from the table, or computed into `scratch`. */
static const fact *node_fact(const nw__consolidation_state *st, size_t i,
                             fact *scratch) {
  fact *f = st->facts != NULL && i < st->facts->n ? &st->facts->items[i] : scratch;
  if (f == scratch)
    memset(f, 0, sizeof(*f));
  if (f->known)
    return f;
  f->managed = (unsigned char)managed_initialized(st, i);
  f->deleting = (unsigned char)(f->managed && node_deleting(st, i));
  f->pool = pool_index(st->sched, node_pool_name(&st->sched->nodes[i]));
  f->do_not_disrupt = (unsigned char)(
      f->managed &&
      (node_dnd(st->sched->nodes[i].node) != NULL ||
       node_claim_dnd(st, i)));
  f->leaving = (unsigned char)leaving(st, i);
  f->consolidatable = -1;
  f->drifted = -1;
  f->known = 1;
  return f;
}

typedef struct build {
  const nw__consolidation_state *st;
  nw_consolidation_method method;
  nw_arena *arena;
  const char **skipped;
  size_t n_skipped;
} build;

static void skip(build *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void skip(build *b, const char *fmt, ...) {
  char buf[512];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  b->skipped[b->n_skipped++] = nw__arena_strdup(b->arena, buf);
}

/* Checks the node's pods: returns -1 when one blocks disruption (and
 * records why), else the number of reschedulable pods; *cost gets their
 * eviction costs' sum. */
static long check_pods(build *b, const nw__sched_node *sn, double *cost) {
  long n = 0;

  *cost = 0;
  /* The pods lie wherever they were decoded and this is usually the
   * pass's first look at them: asking for all of them before reading any
   * overlaps the cache misses instead of waiting for each in turn. */
  for (size_t k = 0; k < sn->n_pods; k++)
    __builtin_prefetch(sn->pods[k]);
  for (size_t k = 0; k < sn->n_pods; k++) {
    const nw__pod *p = sn->pods[k];
    const char *pdb = NULL;
    nw_error err = {0, ""};
    if (nw__model_pod_do_not_disrupt(p, b->st->now_ms, NULL, &err)) {
      skip(b, "node %s: pod %s/%s has " NW__ANN_DO_NOT_DISRUPT "%s%s",
           sn->node->name, p->namespace_, p->name, err.message[0] ? "; " : "",
           err.message);
      return -1;
    }
    if (!reschedulable(p))
      continue;
    if (b->st->pdbs != NULL && nw__model_pod_pdb_blocked(p, b->st->pdbs, &pdb)) {
      skip(b, "node %s: pod %s/%s cannot be evicted: PodDisruptionBudget %s",
           sn->node->name, p->namespace_, p->name, pdb ? pdb : "?");
      return -1;
    }
    *cost += nw__model_pod_eviction_cost(p, NULL);
    n++;
  }
  return n;
}

static int policy_is(const nw__nodepool *np, const char *policy) {
  return np->consolidation_policy != NULL &&
         strcmp(np->consolidation_policy, policy) == 0;
}

/* The method's ShouldDisrupt.  `f` (the node's facts, may be a scratch
 * copy) memoizes what does not depend on the method. */
static int method_wants(const build *b, const nw__nodepool *np,
                        const nw__claim_facts *cf, long n_pods, fact *f) {
  int64_t after = np->consolidate_after_s < 0 ? -1 : np->consolidate_after_s * 1000;
  int underutilized = policy_is(np, "WhenEmptyOrUnderutilized") ||
                      policy_is(np, "Balanced");

  switch (b->method) {
  case NW_METHOD_DRIFT:
    if (f->drifted < 0)
      f->drifted = (signed char)cf->drifted;
    return f->drifted;
  case NW_METHOD_EMPTINESS:
    if (n_pods != 0 || !(underutilized || policy_is(np, "WhenEmpty")))
      return 0;
    break;
  case NW_METHOD_MULTI_NODE:
  case NW_METHOD_SINGLE_NODE:
    if (!underutilized)
      return 0;
    break;
  }
  if (f->consolidatable < 0)
    f->consolidatable = (signed char)nw__facts_consolidatable(cf, after,
                                                             b->st->now_ms);
  return f->consolidatable;
}

typedef struct ranked {
  double cost;
  double price;
  size_t node;
  long pool;
  long n_pods;
} ranked;

static int cmp_ranked(const void *x, const void *y) {
  const ranked *a = x, *b = y;

  if (a->cost != b->cost)
    return a->cost < b->cost ? -1 : 1;
  return a->node < b->node ? -1 : a->node > b->node;
}

/* Allowed disruptions per pool for the method's reason. */
static int *pool_allowance(build *b, nw_arena *arena) {
  const nw__sched_input *in = b->st->sched;
  int *num = nw__arena_alloc(arena, (in->n_pools + 1) * sizeof(int));
  int *disrupting = nw__arena_alloc(arena, (in->n_pools + 1) * sizeof(int));
  int *allowed = nw__arena_alloc(arena, (in->n_pools + 1) * sizeof(int));

  if (num == NULL || disrupting == NULL || allowed == NULL)
    return NULL;
  for (size_t i = 0; i < in->n_nodes; i++) {
    fact scratch;
    const fact *f = node_fact(b->st, i, &scratch);
    long p = f->pool;
    if (p < 0 || !f->managed)
      continue;
    num[p]++;
    if (f->deleting || !in->nodes[i].node->ready)
      disrupting[p]++;
  }
  for (size_t p = 0; p < in->n_pools; p++) {
    nw_error err = {0, ""};
    if (nw__budgets_allowed(in->pools[p].pool, nw__method_reason(b->method),
                            b->st->now_ms, num[p], disrupting[p], &allowed[p],
                            &err) != 0)
      skip(b, "%s", err.message);
  }
  return allowed;
}

/* The node's instance type, zone and capacity type labels, or NULL. */
static const char *instance_type_of(const nw__node *n) {
  return nw__node_label(n, n->instance_type, LABEL_INSTANCE_TYPE);
}

static const char *zone_of(const nw__node *n) {
  return nw__node_label(n, n->zone, LABEL_ZONE);
}

static const char *capacity_type_of(const nw__node *n) {
  return nw__node_label(n, n->capacity_type, LABEL_CAPACITY_TYPE);
}

static const char *label_or(const nw__sched_node *sn, const char *key) {
  const char *v = nw__labels_get(&sn->node->labels, key);

  return v != NULL ? v : "?";
}

/*
 * A node's price: the caller's, or else the price of the offering its
 * labels name (instance type, zone, capacity type) among its pool's
 * instance types, as Karpenter prices candidates.  -1 when unknown.
 */
/* The price of the first offering (it, zone, ct) among `types` (which may
 * be -1, unpriced), or -2 when there is none. */
static double offering_price(const nw_instance_types *types, const char *it,
                             const char *zone, const char *ct) {
  for (size_t t = 0; t < types->len; t++) {
    const nw_instance_type *type = &types->items[t];
    if (strcmp(type->name, it) != 0)
      continue;
    for (size_t o = 0; o < type->n_offerings; o++) {
      const nw_offering *of = &type->offerings[o];
      if (of->zone != NULL && of->capacity_type != NULL &&
          strcmp(of->zone, zone) == 0 && strcmp(of->capacity_type, ct) == 0)
        return of->price;
    }
  }
  return -2;
}

static double node_price(const nw__consolidation_state *st,
                         const nw__sched_node *sn, long pool) {
  const char *it = instance_type_of(sn->node);
  const char *zone = zone_of(sn->node);
  const char *ct = capacity_type_of(sn->node);
  const nw__sched_pool *sp = &st->sched->pools[pool];
  double price = -2;

  if (sn->price > 0)
    return sn->price;
  if (it == NULL || zone == NULL || ct == NULL)
    return -1;
  /* The pool's usable types are few and usually hold the node's; they
   * are the same objects as in the full list. */
  if (sp->usable.items != NULL)
    price = offering_price(&sp->usable, it, zone, ct);
  if (price == -2)
    price = offering_price(&sp->types, it, zone, ct);
  return price == -2 ? -1 : price;
}

/* check_pods through the facts table: the pods' verdict does not depend
 * on the method. */
static long node_pods(build *b, size_t i, const fact *cf, double *cost) {
  const nw__consolidation_state *st = b->st;
  const nw__sched_node *sn = &st->sched->nodes[i];
  fact *f = (fact *)cf;
  if (st->facts == NULL || cf != &st->facts->items[i])
    return check_pods(b, sn, cost);
  if (!f->pods_known) {
    size_t before = b->n_skipped;
    f->n_pods = check_pods(b, sn, &f->cost);
    f->blocked = b->n_skipped > before
                     ? nw__arena_strdup(st->facts->arena, b->skipped[before])
                     : NULL;
    f->pods_known = 1;
  } else if (f->blocked != NULL) {
    b->skipped[b->n_skipped++] = f->blocked;
  }
  *cost = f->cost;
  return f->n_pods;
}

/* A candidate's ranking entry, or 0 when the node is not one. */
static int rank_node(build *b, size_t i, ranked *r) {
  const nw__consolidation_state *st = b->st;
  const nw__sched_node *sn = &st->sched->nodes[i];
  const nw__nodepool *np;
  double cost;
  long n_pods;
  fact scratch;
  const fact *f = node_fact(st, i, &scratch);
  nw__claim_facts cscratch;
  const nw__claim_facts *cf;

  if (!f->managed || f->deleting)
    return 0;
  /* Managed: the node has a claim. */
  cf = claim_facts(st, i, &cscratch);
  if (st->nominated != NULL && st->nominated[i])
    return 0;
  if (f->do_not_disrupt) {
    skip(b, "node %s: disruption is blocked with the " NW__ANN_DO_NOT_DISRUPT
         " annotation", sn->node->name);
    return 0;
  }
  r->pool = f->pool;
  if (r->pool < 0) {
    skip(b, "node %s: NodePool %s not found", sn->node->name,
         node_pool_name(sn) ? node_pool_name(sn) : "(no label)");
    return 0;
  }
  n_pods = node_pods(b, i, f, &cost);
  if (n_pods < 0)
    return 0;
  np = st->sched->pools[r->pool].pool;
  if (!method_wants(b, np, cf, n_pods, (fact *)f))
    return 0;
  if (f != &scratch && f->price_known) {
    r->price = f->price;
  } else {
    r->price = node_price(st, sn, r->pool);
    ((fact *)f)->price = r->price;
    ((fact *)f)->price_known = 1;
  }
  /* Karpenter cannot weigh a node it cannot price (getCandidatePrices):
   * it may still go when empty, but never by consolidation. */
  if (r->price < 0 && (b->method == NW_METHOD_MULTI_NODE ||
                       b->method == NW_METHOD_SINGLE_NODE)) {
    skip(b, "node %s: no price for its offering (%s in %s, %s)",
         sn->node->name,
         label_or(sn, LABEL_INSTANCE_TYPE), label_or(sn, LABEL_ZONE),
         label_or(sn, LABEL_CAPACITY_TYPE));
    return 0;
  }
  if (r->price < 0)
    r->price = 0;
  r->cost = cost * nw__lifetime_remaining(cf->created_ms,
                                          np->expire_after_s * 1000,
                                          st->now_ms);
  r->node = i;
  r->n_pods = n_pods;
  return 1;
}

static void fill_candidate(const nw__consolidation_state *st, const ranked *r,
                           nw_candidate *c) {
  const nw__sched_node *sn = &st->sched->nodes[r->node];

  c->node_name = sn->node->name;
  c->provider_id = sn->node->provider_id;
  c->nodepool = st->sched->pools[r->pool].pool->name;
  c->instance_type = instance_type_of(sn->node);
  c->zone = zone_of(sn->node);
  c->capacity_type = capacity_type_of(sn->node);
  c->price = r->price;
  c->n_pods = (size_t)r->n_pods;
  c->disruption_cost = r->cost;
}

/* A node on its way out: its Node or its claim is being deleted. */
static int leaving(const nw__consolidation_state *st, size_t i) {
  nw__claim_facts scratch;
  const nw__claim_facts *cf = claim_facts(st, i, &scratch);

  return st->sched->nodes[i].node->terminating || (cf != NULL && cf->deleting);
}

int nw__consolidation_candidates(const nw__consolidation_state *st,
                                 nw_consolidation_method method,
                                 nw_arena *arena, nw__candidate_set *out,
                                 nw_error *err) {
  size_t n_nodes = st->sched->n_nodes;
  build b = {st, method, arena, NULL, 0};
  ranked *rs = nw__arena_alloc(arena, (n_nodes + 1) * sizeof(*rs));
  size_t n = 0;
  int *allowed;

  memset(out, 0, sizeof(*out));
  b.skipped = nw__arena_alloc(arena, (n_nodes + st->sched->n_pools + 1) *
                                         sizeof(*b.skipped));
  out->items = nw__arena_alloc(arena, (n_nodes + 1) * sizeof(*out->items));
  out->node = nw__arena_alloc(arena, (n_nodes + 1) * sizeof(*out->node));
  allowed = rs && b.skipped && out->items && out->node
                ? pool_allowance(&b, arena) : NULL;
  if (allowed == NULL) {
    if (err != NULL) {
      err->status = NW_ERR;
      snprintf(err->message, sizeof(err->message),
               "disruption candidates: out of memory");
    }
    return -1;
  }
  for (size_t i = 0; i < n_nodes; i++) {
    if (rank_node(&b, i, &rs[n]))
      n++;
  }
  qsort(rs, n, sizeof(*rs), cmp_ranked);
  for (size_t k = 0; k < n; k++) {
    if (allowed[rs[k].pool] <= 0) {
      out->constrained_by_budget = 1;
      continue;
    }
    /* Single-node acts on one candidate, so every candidate of a pool
     * with room may be tried; the other methods may take them all. */
    if (method != NW_METHOD_SINGLE_NODE)
      allowed[rs[k].pool]--;
    fill_candidate(st, &rs[k], &out->items[out->n]);
    out->node[out->n++] = rs[k].node;
  }
  out->skipped = b.skipped;
  out->n_skipped = b.n_skipped;
  out->leaving = nw__arena_alloc(arena, (n_nodes + 1) * sizeof(*out->leaving));
  for (size_t i = 0; out->leaving != NULL && i < n_nodes; i++) {
    fact scratch;
    if (node_fact(st, i, &scratch)->leaving)
      out->leaving[out->n_leaving++] = i;
  }
  return out->leaving != NULL ? 0 : -1;
}

/* ---- simulate ------------------------------------------------------ */

/* Whether a claim's requirements admit the offering's zone and capacity
 * type (the only offering dimensions). */
static int offering_fits(const nw_requirements *reqs, const nw_offering *o) {
  nw_requirement items[8];
  nw_requirements sub = {0, items};
  nw_kv kv[2] = {{LABEL_ZONE, o->zone}, {LABEL_CAPACITY_TYPE, o->capacity_type}};
  nw_labels labels = {2, kv};

  for (size_t i = 0; i < reqs->len && sub.len < 8; i++) {
    const char *k = reqs->items[i].key;
    if (strcmp(k, LABEL_ZONE) == 0 || strcmp(k, LABEL_CAPACITY_TYPE) == 0)
      items[sub.len++] = reqs->items[i];
  }
  return nw__requirements_match_labels(&sub, &labels);
}

/* One replacement per claim: each option with its cheapest available
 * offering the claim admits. */
static int fill_replacement(const nw__sched_claim *cl, nw_arena *arena,
                            nw_replacement *rep) {
  const char **names = nw__arena_alloc(arena, (cl->n_options + 1) * sizeof(*names));
  const char **cts = nw__arena_alloc(arena, (cl->n_options + 1) * sizeof(*cts));
  double *prices = nw__arena_alloc(arena, (cl->n_options + 1) * sizeof(*prices));
  size_t n = 0;

  if (names == NULL || cts == NULL || prices == NULL)
    return -1;
  for (size_t o = 0; o < cl->n_options; o++) {
    const nw_instance_type *it = cl->options[o];
    const nw_offering *best = NULL;
    for (size_t f = 0; f < it->n_offerings; f++) {
      const nw_offering *of = &it->offerings[f];
      if (!of->available || of->price < 0 || !offering_fits(&cl->requirements, of))
        continue;
      if (best == NULL || of->price < best->price)
        best = of;
    }
    if (best == NULL)
      continue;
    names[n] = it->name;
    cts[n] = best->capacity_type;
    prices[n] = best->price;
    n++;
  }
  /* Cheapest first, as the ABI promises (stable for equal prices). */
  for (size_t i = 1; i < n; i++) {
    const char *nm = names[i], *ct = cts[i];
    double pr = prices[i];
    size_t j = i;
    while (j > 0 && prices[j - 1] > pr) {
      names[j] = names[j - 1];
      cts[j] = cts[j - 1];
      prices[j] = prices[j - 1];
      j--;
    }
    names[j] = nm;
    cts[j] = ct;
    prices[j] = pr;
  }
  rep->n_instance_types = n;
  rep->instance_types = names;
  rep->capacity_types = cts;
  rep->prices = prices;
  rep->capacity_type = n > 0 ? cts[0] : NULL;
  rep->price = n > 0 ? prices[0] : 0;
  return 0;
}

/* Whether the pod was bound to one of the leaving nodes removed[from..n). */
static int from_leaving(const nw__consolidation_state *st, const nw__pod *p,
                        const size_t *removed, size_t from, size_t n) {
  for (size_t k = from; p->node_name != NULL && k < n; k++) {
    if (strcmp(st->sched->nodes[removed[k]].node->name, p->node_name) == 0)
      return 1;
  }
  return 0;
}

nw_status nw__consolidation_simulate(void *ctx, const size_t *idx, size_t n,
                                     nw_arena *arena, nw_sim_result *out) {
  nw__consolidation_sim *sim = ctx;
  const nw__consolidation_state *st = sim->st;
  const nw__candidate_set *cands = sim->cands;
  size_t *removed = nw__arena_alloc(arena, (n + cands->n_leaving + 1) *
                                               sizeof(*removed));
  size_t n_removed = 0;
  nw__sched_opts opts;
  nw__sched_result *r;
  nw_replacement *reps;
  nw_error err = {0, ""};

  memset(out, 0, sizeof(*out));
  if (removed == NULL)
    return NW_ERR;
  for (size_t k = 0; k < n; k++) {
    if (idx[k] >= cands->n)
      return NW_ERR_INVALID;
    removed[n_removed++] = cands->node[idx[k]];
  }
  /* As Karpenter's SimulateScheduling: nodes being deleted are no room
   * for anyone, and their pods need a place too. */
  for (size_t i = 0; i < cands->n_leaving; i++)
    removed[n_removed++] = cands->leaving[i];
  memset(&opts, 0, sizeof(opts));
  opts.n_removed = n_removed;
  opts.removed = removed;
  /* Two claims already mean "no move" (Karpenter never replaces by more
   * than one node), so the solve can stop opening claims there. */
  opts.max_new_claims = 2;
  /* Only where pods land counts here, never why one lands nowhere; the
   * scheduler would place every unplaced pod once more to word that. */
  opts.no_errors = 1;
  sim->solves++;
  r = nw__scheduler_solve(sim->sched, st->pending, st->n_pending, &opts,
                          arena, &err);
  if (r == NULL)
    return NW_ERR;
  /* Every reschedulable pod of the removed nodes must land on an
   * initialized node or a new claim -- pods of leaving nodes may also land
   * on claims in flight, which were launched for them; pending pods may
   * stay pending. */
  out->all_scheduled = 1;
  for (size_t k = st->n_pending; k < r->n_placements; k++) {
    const nw__sched_placement *pl = &r->placements[k];
    /* DaemonSet, static and finished pods go with their node; only the
     * reschedulable ones need a place (Karpenter's reschedulablePods). */
    if (!reschedulable(pl->pod))
      continue;
    if (pl->kind == NW__PLACE_NONE)
      out->all_scheduled = 0;
    else if (pl->kind == NW__PLACE_NODE &&
             st->sched->nodes[pl->index].in_flight &&
             !from_leaving(st, pl->pod, removed, n, n_removed))
      out->all_scheduled = 0;
  }
  reps = nw__arena_alloc(arena, (r->n_claims + 1) * sizeof(*reps));
  if (reps == NULL)
    return NW_ERR;
  for (size_t c = 0; c < r->n_claims; c++) {
    if (fill_replacement(&r->claims[c], arena, &reps[c]) != 0)
      return NW_ERR;
    out->replacement_price += reps[c].price;
  }
  out->n_replacements = r->n_claims;
  out->replacements = reps;
  return NW_OK;
}
