/*
 * One disruption pass; see pass.h.
 */
#include "disruption/pass.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cluster/objutil.h"
#include "disruption/candidate.h"
#include "disruption/drift.h"
#include "kube/kutil.h"
#include "util/arena.h"

/*
 * Single-node consolidation simulates candidates one by one until one
 * works.  Karpenter bounds it with a 3-minute timeout; here the bound is
 * a count, so a pass decides the same on every run: at most this many
 * candidates per NodePool (the cheapest to disrupt, which are also the
 * likeliest to go), about what Karpenter gets through in its timeout on
 * a large cluster.
 */
enum { SINGLE_NODE_MAX_PER_POOL = 25 };

/* Keeps the first SINGLE_NODE_MAX_PER_POOL candidates of each pool, in
 * order.  Returns how many were dropped. */
static size_t bound_single_node(nw__candidate_set *set, nw_arena *arena) {
  size_t kept = 0, dropped = 0;
  const char **pools = nw__arena_alloc(arena, (set->n + 1) * sizeof(*pools));
  size_t *count = nw__arena_alloc(arena, (set->n + 1) * sizeof(*count));
  size_t n_pools = 0;

  if (pools == NULL || count == NULL)
    return 0;
  for (size_t k = 0; k < set->n; k++) {
    const char *np = set->items[k].nodepool ? set->items[k].nodepool : "";
    size_t p = 0;
    while (p < n_pools && strcmp(pools[p], np) != 0)
      p++;
    if (p == n_pools) {
      pools[n_pools++] = np;
      count[p] = 0;
    }
    if (count[p]++ >= SINGLE_NODE_MAX_PER_POOL) {
      dropped++;
      continue;
    }
    set->items[kept] = set->items[k];
    set->node[kept] = set->node[k];
    kept++;
  }
  set->n = kept;
  return dropped;
}

static const nw_consolidation_method method_order[] = {
    NW_METHOD_EMPTINESS, NW_METHOD_DRIFT, NW_METHOD_MULTI_NODE,
    NW_METHOD_SINGLE_NODE};

static int run_method(const nw__consolidation_state *st, nw__scheduler *sched,
                      nw__plugin *strategy, int spot_to_spot,
                      nw_consolidation_method m, nw_arena *arena,
                      nw__disruption_decision *out, nw_error *err) {
  const nw_strategy_vtable *vt = nw__plugin_strategy(strategy);
  nw__consolidation_sim sim;
  nw_command *cmds = NULL;
  size_t n = 0;
  size_t *nodes;

  memset(out, 0, sizeof(*out));
  out->method = m;
  if (nw__consolidation_candidates(st, m, arena, &out->set, err) != 0)
    return -1;
  if (out->set.n == 0)
    return 0;
  if (m == NW_METHOD_SINGLE_NODE)
    bound_single_node(&out->set, arena);
  sim = (nw__consolidation_sim){st, &out->set, sched, 0};
  nw_consolidation_input in = {
      .size = sizeof(in), .method = m, .n_candidates = out->set.n,
      .candidates = out->set.items, .simulate = nw__consolidation_simulate,
      .sim_ctx = &sim, .max_candidates = 100, .spot_to_spot = spot_to_spot,
      .min_spot_types = 15};
  if (vt == NULL || vt->compute == NULL)
    return -1;
  if (vt->compute(nw__plugin_state(strategy), &in, arena, &cmds, &n, err) !=
      NW_OK)
    return -1;
  out->n_simulations = sim.solves;
  if (n == 0 || cmds[0].n_candidates == 0)
    return 0;
  nodes = nw__arena_alloc(arena, cmds[0].n_candidates * sizeof(*nodes));
  if (nodes == NULL)
    return -1;
  for (size_t k = 0; k < cmds[0].n_candidates; k++) {
    if (cmds[0].candidates[k] >= out->set.n) {
      if (err != NULL) {
        err->status = NW_ERR_INVALID;
        snprintf(err->message, sizeof(err->message),
                 "strategy %s returned candidate %zu of %zu",
                 nw__plugin_descriptor(strategy)->name, cmds[0].candidates[k],
                 out->set.n);
      }
      return -1;
    }
    nodes[k] = out->set.node[cmds[0].candidates[k]];
  }
  out->found = 1;
  out->command = cmds[0];
  out->nodes = nodes;
  return 0;
}

int nw__disruption_decide(const nw__consolidation_state *st,
                          nw__scheduler *sched, nw__plugin *strategy,
                          int spot_to_spot, nw_arena *arena,
                          nw__disruption_decision *out, nw_error *err) {
  size_t sims = 0;

  for (size_t i = 0; i < sizeof(method_order) / sizeof(method_order[0]); i++) {
    if (run_method(st, sched, strategy, spot_to_spot, method_order[i], arena,
                   out, err) != 0)
      return -1;
    sims += out->n_simulations;
    out->n_simulations = sims;
    if (out->found)
      return 0;
  }
  return 0;
}

static const char *node_name(const nw__consolidation_state *st, size_t i) {
  return st->sched->nodes[i].node->name;
}

/* Index in `set` of the candidate on node `name`, or -1. */
static long find_candidate(const nw__consolidation_state *st,
                           const nw__candidate_set *set, const char *name) {
  for (size_t k = 0; k < set->n; k++) {
    if (strcmp(node_name(st, set->node[k]), name) == 0)
      return (long)k;
  }
  return -1;
}

static int invalid(nw_arena *arena, const char **why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int invalid(nw_arena *arena, const char **why, const char *fmt, ...) {
  char buf[512];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (why != NULL)
    *why = nw__arena_strdup(arena, buf);
  return 0;
}

static int has_option(const nw_replacement *rep, const char *name,
                      double below) {
  for (size_t i = 0; i < rep->n_instance_types; i++) {
    double price = rep->prices != NULL ? rep->prices[i] : rep->price;
    if (strcmp(rep->instance_types[i], name) == 0)
      return price < below;
  }
  return 0;
}

/* The consolidation command still holds on the new simulation. */
static int same_decision(const nw__disruption_decision *d,
                         const nw__candidate_set *set, const size_t *idx,
                         const nw_sim_result *res, nw_arena *arena,
                         const char **why) {
  const nw_command *c = &d->command;
  double total = 0;

  if (!res->all_scheduled)
    return invalid(arena, why, "pods of the candidates no longer all fit");
  if (d->method == NW_METHOD_DRIFT)
    return 1;
  if (c->kind == NW_COMMAND_DELETE) {
    if (res->n_replacements != 0)
      return invalid(arena, why, "deleting now needs %zu new node(s)",
                     res->n_replacements);
    return 1;
  }
  if (res->n_replacements != 1)
    return invalid(arena, why, "replacing now needs %zu new node(s)",
                   res->n_replacements);
  for (size_t k = 0; k < c->n_candidates; k++)
    total += set->items[idx[k]].price;
  for (size_t o = 0; o < c->result.replacements[0].n_instance_types; o++) {
    const char *name = c->result.replacements[0].instance_types[o];
    if (!has_option(&res->replacements[0], name, total))
      return invalid(arena, why, "replacement option %s is no longer "
                     "available below %.4f/h", name, total);
  }
  return 1;
}

int nw__disruption_validate(const nw__disruption_decision *d,
                            const nw__consolidation_state *st,
                            nw__scheduler *sched, nw_arena *arena,
                            const char **why) {
  nw__candidate_set set;
  nw_error err = {0, ""};
  size_t n = d->command.n_candidates;
  size_t *idx = nw__arena_alloc(arena, (n + 1) * sizeof(*idx));
  nw__consolidation_sim sim;
  nw_sim_result res;

  if (idx == NULL)
    return invalid(arena, why, "out of memory");
  if (nw__consolidation_candidates(st, d->method, arena, &set, &err) != 0)
    return invalid(arena, why, "%s", err.message);
  for (size_t k = 0; k < n; k++) {
    const char *name = d->set.items[d->command.candidates[k]].node_name;
    long at = find_candidate(st, &set, name);
    if (at < 0)
      return invalid(arena, why, "node %s is no longer a candidate", name);
    idx[k] = (size_t)at;
  }
  if (d->method == NW_METHOD_EMPTINESS)
    return 1;
  sim = (nw__consolidation_sim){st, &set, sched, 0};
  if (nw__consolidation_simulate(&sim, idx, n, arena, &res) != NW_OK)
    return invalid(arena, why, "simulation failed");
  return same_decision(d, &set, idx, &res, arena, why);
}

/* ---- expiration and drift ----------------------------------------- */

int nw__claim_expired(const json_t *claim, const nw__nodepool *pool,
                      int64_t now_ms, int64_t *expires_at_ms) {
  const char *spec = nw__kube_str(claim, "spec.expireAfter");
  int64_t created = nw__obj_created_ms(claim);
  int64_t after_s = -1;

  if (spec != NULL) {
    if (nw__duration_parse(spec, &after_s) != 0)
      after_s = -1;
  } else if (pool != NULL && pool->expire_after_s > 0) {
    after_s = pool->expire_after_s;
  }
  if (created < 0 || after_s < 0) {
    if (expires_at_ms != NULL)
      *expires_at_ms = -1;
    return 0;
  }
  return nw__expired(created, after_s * 1000, now_ms, expires_at_ms);
}

const char *nw__drift_reason(nw__drift_kind k) {
  switch (k) {
  case NW__DRIFT_NODEPOOL:
    return "NodePoolDrifted";
  case NW__DRIFT_REQUIREMENTS:
    return "RequirementsDrifted";
  case NW__DRIFT_NONE:
  case NW__DRIFT_RESTAMP:
    break;
  }
  return NULL;
}

/* Labels every node gets from Karpenter, the kubelet or its provider: a
 * requirement on one the node lacks is not drift.  Providers register
 * their own labels as well known in Karpenter (the AWS provider all of
 * karpenter.k8s.aws/, Azure's karpenter.azure.com/), so their domains
 * count whole. */
static int well_known(const char *key) {
  static const char *const keys[] = {
      "topology.kubernetes.io/zone", "topology.kubernetes.io/region",
      "node.kubernetes.io/instance-type", "kubernetes.io/arch",
      "kubernetes.io/os", "karpenter.sh/capacity-type",
      "karpenter.sh/nodepool", "node.kubernetes.io/windows-build"};
  static const char *const domains[] = {"karpenter.k8s.aws/",
                                        "karpenter.azure.com/"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    if (strcmp(keys[i], key) == 0)
      return 1;
  }
  for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
    if (strncmp(domains[i], key, strlen(domains[i])) == 0)
      return 1;
  }
  return 0;
}

static int requirements_drifted(const nw__nodepool *pool,
                                const nw_labels *labels) {
  for (size_t i = 0; i < pool->requirements.len; i++) {
    const nw_requirement *r = &pool->requirements.items[i];
    nw_requirements one = {1, r};
    if (nw__labels_get(labels, r->key) == NULL) {
      /* Absent: fine for NotIn and DoesNotExist, and for well-known keys
       * (the node's own value is what the provider chose). */
      if (r->op == NW_OP_NOT_IN || r->op == NW_OP_DOES_NOT_EXIST ||
          well_known(r->key))
        continue;
      return 1;
    }
    if (!nw__requirements_match_labels(&one, labels))
      return 1;
  }
  return 0;
}

nw__drift_kind nw__claim_drift(const json_t *claim, const nw__nodepool *pool,
                               const char *pool_hash, const nw_labels *labels) {
  nw__hash_drift h;

  if (pool_hash != NULL && pool_hash[0] != '\0') {
    h = nw__hash_compare(pool_hash, nw__annotation(claim, NW__ANN_NODEPOOL_HASH),
                         nw__annotation(claim, NW__ANN_NODEPOOL_HASH_VERSION));
    if (h == NW__HASH_DRIFTED)
      return NW__DRIFT_NODEPOOL;
    if (h == NW__HASH_RESTAMP)
      return NW__DRIFT_RESTAMP;
  }
  if (pool != NULL && labels != NULL && requirements_drifted(pool, labels))
    return NW__DRIFT_REQUIREMENTS;
  return NW__DRIFT_NONE;
}
