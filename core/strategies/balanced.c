/*
 * The `balanced` consolidation strategy: Karpenter's Balanced policy
 * (designs/balanced-consolidation.md, pkg/controllers/disruption/
 * balanced.go).  The search is the default one; a feasible move is made
 * only when its share of the pool's savings is at least 1/k of its share
 * of the pool's disruption:
 *
 *   score = (savings / pool_cost) / (move_disruption / pool_disruption)
 *   approve when score >= 1 / k            (k = consolidation_threshold, 2)
 *
 * where a node's disruption is 1 + max(0, its disruption cost).  Config:
 *   consolidation_threshold: k, a positive number (default 2).
 */
#include <math.h>
#include <string.h>

#include <nodewright/plugin.h>
#include <nodewright/strategy.h>

#include "strategy_common.h"

#define BALANCED_DEFAULT_THRESHOLD 2.0

typedef struct pool_totals {
  double cost;
  double disruption;
} pool_totals;

static const char *pool_of(const nw_candidate *c) {
  return c->nodepool != NULL ? c->nodepool : "";
}

/* A node's disruption units: the per-node base of 1 plus its pods' cost,
 * never negative, so empty nodes still count and cheap pods do not make a
 * move look free. */
static double node_disruption(const nw_candidate *c) {
  return 1.0 + (c->disruption_cost > 0 ? c->disruption_cost : 0.0);
}

/* Totals of a pool over every candidate the host passed.  Candidates
 * without a price are left out of both sums, as Karpenter does. */
static pool_totals totals_of(const nw_consolidation_input *in,
                             const char *pool) {
  pool_totals t = {0, 0};

  for (size_t i = 0; i < in->n_candidates; i++) {
    const nw_candidate *c = &in->candidates[i];
    if (c->price <= 0 || strcmp(pool_of(c), pool) != 0)
      continue;
    t.cost += c->price;
    t.disruption += node_disruption(c);
  }
  return t;
}

/* Karpenter's ScoreMove. */
static int score_approves(double savings, double disruption, pool_totals t,
                          double k) {
  double score;

  if (t.cost <= 0 || savings <= 0)
    return 0;
  if (t.disruption <= 0)
    return 1;
  score = (savings / t.cost) / (disruption / t.disruption);
  return score >= 1.0 / k;
}

/* A pool of the move is judged on its own totals with its share of the
 * savings (in proportion to its share of the removed cost); every pool
 * must approve. */
static int balanced_approve(const nws_state *st,
                            const nw_consolidation_input *in,
                            const nw_command *cmd) {
  double total = nws_candidates_price(in, cmd->candidates, cmd->n_candidates);
  int many_pools = 0;
  const char *first;

  if (cmd->n_candidates == 0)
    return 0;
  first = pool_of(&in->candidates[cmd->candidates[0]]);
  for (size_t i = 1; i < cmd->n_candidates; i++) {
    if (strcmp(pool_of(&in->candidates[cmd->candidates[i]]), first) != 0)
      many_pools = 1;
  }
  for (size_t i = 0; i < cmd->n_candidates; i++) {
    const char *pool = pool_of(&in->candidates[cmd->candidates[i]]);
    double pool_cost = 0, disruption = 0, savings = cmd->savings_per_hour;
    int seen = 0;
    for (size_t j = 0; j < i; j++) {
      if (strcmp(pool_of(&in->candidates[cmd->candidates[j]]), pool) == 0)
        seen = 1;
    }
    if (seen)
      continue;
    for (size_t j = 0; j < cmd->n_candidates; j++) {
      const nw_candidate *c = &in->candidates[cmd->candidates[j]];
      if (strcmp(pool_of(c), pool) != 0)
        continue;
      pool_cost += c->price;
      disruption += node_disruption(c);
    }
    if (many_pools && total > 0)
      savings = savings * (pool_cost / total);
    if (!score_approves(savings, disruption, totals_of(in, pool),
                        st->threshold))
      return 0;
  }
  return 1;
}

/* Deleting a node is the best any move on it can do; when even that fails
 * the score, simulating it is wasted work. */
static int balanced_worth_trying(const nws_state *st,
                                 const nw_consolidation_input *in, size_t i) {
  const nw_candidate *c = &in->candidates[i];

  return score_approves(c->price, node_disruption(c),
                        totals_of(in, pool_of(c)), st->threshold);
}

static const nws_policy balanced_policy = {
    .approve = balanced_approve,
    .worth_trying = balanced_worth_trying,
};

static nw_status balanced_init(const nw_host_api *host, nw_plugin_handle *h,
                               void **state, nw_error *err) {
  double k = host->config_double(h, "consolidation_threshold",
                                 BALANCED_DEFAULT_THRESHOLD);
  nws_state *st;

  /* The host's typed getter falls back to the default for a value of the
   * wrong type; a string there is a mistake worth reporting. */
  if (host->config_string(h, "consolidation_threshold", NULL) != NULL)
    return nws_fail(err, NW_ERR_INVALID,
                    "balanced: config consolidation_threshold must be a "
                    "number, got a string");
  if (!(k > 0) || !isfinite(k))
    return nws_fail(err, NW_ERR_INVALID,
                    "balanced: config consolidation_threshold must be a "
                    "positive number, got %g", k);
  st = host->alloc(sizeof(*st));
  if (st == NULL)
    return nws_fail(err, NW_ERR, "out of memory");
  st->host = host;
  st->handle = h;
  st->threshold = k;
  *state = st;
  return NW_OK;
}

static void balanced_fini(void *state) {
  nws_state *st = state;

  if (st != NULL)
    st->host->free(st);
}

static nw_status balanced_compute(void *state,
                                  const nw_consolidation_input *in,
                                  nw_arena *arena, nw_command **out,
                                  size_t *n_out, nw_error *err) {
  return nws_compute(state, &balanced_policy, in, arena, out, n_out, err);
}

static const nw_strategy_vtable balanced_vtable = {
    .size = sizeof(nw_strategy_vtable),
    .compute = balanced_compute,
};

static const nw_plugin_descriptor balanced_descriptor = {
    NW_DESCRIPTOR_HEAD(NW_PLUGIN_STRATEGY),
    .name = "balanced",
    .version = "0.1.0",
    .description = "Karpenter Balanced consolidation: a move must save at "
                   "least 1/k of its disruption share (k = 2)",
    .init = balanced_init,
    .fini = balanced_fini,
    .vtable = &balanced_vtable,
};

NW_PLUGIN_DEFINE(balanced_descriptor)
