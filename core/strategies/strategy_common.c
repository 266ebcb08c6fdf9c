/*
 * Karpenter v1's consolidation search (pkg/controllers/disruption:
 * emptiness.go, drift.go, multinodeconsolidation.go,
 * singlenodeconsolidation.go, consolidation.go), rewritten against the
 * nodewright strategy ABI.  docs/disruption.md states the rules.
 */
#include "strategy_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One replacement option after price filtering. */
typedef struct nws_option {
  const char *name;
  const char *capacity_type;
  double price;
} nws_option;

nw_status nws_fail(nw_error *err, nw_status status, const char *fmt, ...) {
  va_list ap;

  if (err != NULL) {
    err->status = status;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
  }
  return status;
}

static int is_spot(const char *capacity_type) {
  return capacity_type != NULL && strcmp(capacity_type, NW_CAPACITY_SPOT) == 0;
}

double nws_candidates_price(const nw_consolidation_input *in,
                            const size_t *idx, size_t n) {
  double total = 0;

  for (size_t i = 0; i < n; i++)
    total += in->candidates[idx[i]].price;
  return total;
}

static void *arena_array(const nws_state *st, nw_arena *arena, size_t n,
                         size_t size) {
  /* Never ask for 0 bytes: a NULL array would read as "unknown". */
  return st->host->arena_alloc(arena, (n == 0 ? 1 : n) * size);
}

/*
 * The options of a replacement as (name, capacity type, price) triples,
 * cheapest first.  Without per-option prices only the first option's price
 * is known, so only that option can be trusted to be cheaper.
 */
static size_t replacement_options(const nw_replacement *rep,
                                  nws_option *opts) {
  if (rep->n_instance_types == 0)
    return 0;
  if (rep->prices == NULL) {
    opts[0].name = rep->instance_types[0];
    opts[0].capacity_type = rep->capacity_type;
    opts[0].price = rep->price;
    return 1;
  }
  for (size_t i = 0; i < rep->n_instance_types; i++) {
    opts[i].name = rep->instance_types[i];
    opts[i].capacity_type =
        rep->capacity_types != NULL ? rep->capacity_types[i] : rep->capacity_type;
    opts[i].price = rep->prices[i];
  }
  /* The ABI promises cheapest first; insertion sort keeps ties stable and
   * makes a host that forgot the order harmless. */
  for (size_t i = 1; i < rep->n_instance_types; i++) {
    nws_option cur = opts[i];
    size_t j = i;
    while (j > 0 && opts[j - 1].price > cur.price) {
      opts[j] = opts[j - 1];
      j--;
    }
    opts[j] = cur;
  }
  return rep->n_instance_types;
}

/* Keeps the options strictly cheaper than max_price (and spot only when
 * spot_only); returns the new count.  Preserves order. */
static size_t filter_by_price(nws_option *opts, size_t n, double max_price,
                              int spot_only) {
  size_t kept = 0;

  for (size_t i = 0; i < n; i++) {
    if (!(opts[i].price < max_price))
      continue;
    if (spot_only && !is_spot(opts[i].capacity_type))
      continue;
    opts[kept++] = opts[i];
  }
  return kept;
}

/*
 * Karpenter's filterOutSameType: replacing several nodes by one of a type
 * already among them is no better than deleting the others, so the
 * replacement must be cheaper than the cheapest candidate of any type that
 * also appears among the options.
 */
static size_t filter_out_same_type(const nw_consolidation_input *in,
                                   const size_t *idx, size_t n,
                                   nws_option *opts, size_t n_opts) {
  double max_price = -1;

  for (size_t o = 0; o < n_opts; o++) {
    for (size_t i = 0; i < n; i++) {
      const nw_candidate *c = &in->candidates[idx[i]];
      if (c->instance_type == NULL || strcmp(c->instance_type, opts[o].name))
        continue;
      if (max_price < 0 || c->price < max_price)
        max_price = c->price;
    }
  }
  if (max_price < 0)
    return n_opts;
  return filter_by_price(opts, n_opts, max_price, 0);
}

static int all_spot(const nw_consolidation_input *in, const size_t *idx,
                    size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!is_spot(in->candidates[idx[i]].capacity_type))
      return 0;
  }
  return 1;
}

static int any_spot_option(const nws_option *opts, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (is_spot(opts[i].capacity_type))
      return 1;
  }
  return 0;
}

static const char *arena_printf(const nws_state *st, nw_arena *arena,
                                const char *fmt, ...) NW_PRINTF_LIKE(3, 4);

static const char *arena_printf(const nws_state *st, nw_arena *arena,
                                const char *fmt, ...) {
  char buf[256];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return st->host->arena_strdup(arena, buf);
}

/* Copies the candidate indexes into the arena for the command. */
static size_t *copy_idx(const nws_state *st, nw_arena *arena,
                        const size_t *idx, size_t n) {
  size_t *copy = arena_array(st, arena, n, sizeof(*copy));

  if (copy != NULL && n > 0)
    memcpy(copy, idx, n * sizeof(*copy));
  return copy;
}

/* Builds the replace command from the filtered options. */
static int make_replace(const nws_state *st, const nw_consolidation_input *in,
                        const size_t *idx, size_t n, const nw_sim_result *res,
                        const nws_option *opts, size_t n_opts, nw_arena *arena,
                        nw_command *cmd) {
  nw_replacement *rep = arena_array(st, arena, 1, sizeof(*rep));
  const char **names = arena_array(st, arena, n_opts, sizeof(*names));
  const char **cts = arena_array(st, arena, n_opts, sizeof(*cts));
  double *prices = arena_array(st, arena, n_opts, sizeof(*prices));
  double total = nws_candidates_price(in, idx, n);

  if (rep == NULL || names == NULL || cts == NULL || prices == NULL)
    return 0;
  for (size_t i = 0; i < n_opts; i++) {
    names[i] = opts[i].name;
    cts[i] = opts[i].capacity_type;
    prices[i] = opts[i].price;
  }
  rep->n_instance_types = n_opts;
  rep->instance_types = names;
  rep->capacity_type = opts[0].capacity_type;
  rep->price = opts[0].price;
  rep->prices = prices;
  rep->capacity_types = cts;

  memset(cmd, 0, sizeof(*cmd));
  cmd->kind = NW_COMMAND_REPLACE;
  cmd->n_candidates = n;
  cmd->candidates = copy_idx(st, arena, idx, n);
  cmd->result = *res;
  cmd->result.n_replacements = 1;
  cmd->result.replacements = rep;
  cmd->result.replacement_price = rep->price;
  cmd->savings_per_hour = total - rep->price;
  cmd->reason = arena_printf(st, arena,
                             "underutilized: replace %zu node(s) costing "
                             "%.4f/h with one %s %s at %.4f/h",
                             n, total, rep->capacity_type ? rep->capacity_type : "",
                             names[0], rep->price);
  return cmd->candidates != NULL;
}

static void make_delete(const nws_state *st, const nw_consolidation_input *in,
                        const size_t *idx, size_t n, const nw_sim_result *res,
                        const char *why, nw_arena *arena, nw_command *cmd) {
  double total = nws_candidates_price(in, idx, n);

  memset(cmd, 0, sizeof(*cmd));
  cmd->kind = NW_COMMAND_DELETE;
  cmd->n_candidates = n;
  cmd->candidates = copy_idx(st, arena, idx, n);
  if (res != NULL)
    cmd->result = *res;
  cmd->savings_per_hour = total;
  cmd->reason = arena_printf(st, arena, "%s: delete %zu node(s) costing %.4f/h",
                             why, n, total);
}

int nws_consolidation_command(const nws_state *st,
                              const nw_consolidation_input *in,
                              const size_t *idx, size_t n,
                              const nw_sim_result *res, int multi,
                              nw_arena *arena, nw_command *cmd) {
  const nw_replacement *rep;
  nws_option *opts;
  size_t n_opts;
  double total;

  if (!res->all_scheduled)
    return 0;
  if (res->n_replacements == 0) {
    make_delete(st, in, idx, n, res, "underutilized", arena, cmd);
    return cmd->candidates != NULL;
  }
  /* Karpenter never turns nodes into more than one new node. */
  if (res->n_replacements != 1 || res->replacements == NULL)
    return 0;
  rep = &res->replacements[0];
  opts = arena_array(st, arena, rep->n_instance_types, sizeof(*opts));
  if (opts == NULL)
    return 0;
  n_opts = replacement_options(rep, opts);
  total = nws_candidates_price(in, idx, n);

  if (all_spot(in, idx, n) && any_spot_option(opts, n_opts)) {
    /* Spot-to-spot: the replacement stays spot and must be cheaper. */
    if (!in->spot_to_spot)
      return 0;
    n_opts = filter_by_price(opts, n_opts, total, 1);
    if (n_opts == 0)
      return 0;
    if (n == 1) {
      /* At least min_spot_types cheaper options proves the candidate is
       * not among the cheapest ones, and launching from only that many
       * keeps the new node inside the set so it is not consolidated again
       * at once. */
      if (n_opts < in->min_spot_types)
        return 0;
      if (in->min_spot_types > 0)
        n_opts = in->min_spot_types;
    }
  } else {
    /* On-demand (or mixed) candidates may be replaced by spot or
     * on-demand, but only by options cheaper than what they cost now. */
    n_opts = filter_by_price(opts, n_opts, total, 0);
    if (n_opts == 0)
      return 0;
  }
  if (multi) {
    n_opts = filter_out_same_type(in, idx, n, opts, n_opts);
    if (n_opts == 0)
      return 0;
  }
  return make_replace(st, in, idx, n, res, opts, n_opts, arena, cmd);
}

static int approved(const nws_state *st, const nws_policy *policy,
                    const nw_consolidation_input *in, const nw_command *cmd) {
  if (policy == NULL || policy->approve == NULL)
    return 1;
  return policy->approve(st, in, cmd);
}

/* Emptiness: one command deleting every candidate without pods. */
static nw_status compute_emptiness(const nws_state *st,
                                   const nw_consolidation_input *in,
                                   nw_arena *arena, nw_command **out,
                                   size_t *n_out) {
  size_t *idx = arena_array(st, arena, in->n_candidates, sizeof(*idx));
  size_t n = 0;
  nw_command *cmd;

  if (idx == NULL)
    return NW_ERR;
  for (size_t i = 0; i < in->n_candidates; i++) {
    if (in->candidates[i].n_pods == 0)
      idx[n++] = i;
  }
  if (n == 0)
    return NW_OK;
  cmd = arena_array(st, arena, 1, sizeof(*cmd));
  if (cmd == NULL)
    return NW_ERR;
  make_delete(st, in, idx, n, NULL, "empty", arena, cmd);
  cmd->result.all_scheduled = 1;
  *out = cmd;
  *n_out = 1;
  return NW_OK;
}

static nw_status simulate(const nw_consolidation_input *in, const size_t *idx,
                          size_t n, nw_arena *arena, nw_sim_result *res) {
  memset(res, 0, sizeof(*res));
  return in->simulate(in->sim_ctx, idx, n, arena, res);
}

/*
 * Drift: empty drifted candidates are deleted together; otherwise the
 * first drifted candidate whose pods all fit is replaced by whatever the
 * simulation needs (any number of nodes, no price rule).
 */
static nw_status compute_drift(const nws_state *st,
                               const nw_consolidation_input *in,
                               nw_arena *arena, nw_command **out,
                               size_t *n_out, nw_error *err) {
  nw_command *cmd;
  nw_sim_result res;
  nw_status rc = compute_emptiness(st, in, arena, out, n_out);

  if (rc != NW_OK || *n_out > 0) {
    if (*n_out > 0)
      (*out)[0].reason = "drifted: delete empty node(s)";
    return rc;
  }
  for (size_t i = 0; i < in->n_candidates; i++) {
    rc = simulate(in, &i, 1, arena, &res);
    if (rc != NW_OK)
      return nws_fail(err, rc, "simulating drifted candidate %s failed",
                      in->candidates[i].node_name);
    if (!res.all_scheduled)
      continue;
    cmd = arena_array(st, arena, 1, sizeof(*cmd));
    if (cmd == NULL)
      return NW_ERR;
    make_delete(st, in, &i, 1, &res, "drifted", arena, cmd);
    if (res.n_replacements > 0) {
      cmd->kind = NW_COMMAND_REPLACE;
      cmd->savings_per_hour = in->candidates[i].price - res.replacement_price;
      cmd->reason = arena_printf(st, arena,
                                 "drifted: replace %s with %zu new node(s)",
                                 in->candidates[i].node_name,
                                 res.n_replacements);
    }
    *out = cmd;
    *n_out = 1;
    return NW_OK;
  }
  return NW_OK;
}

/* Tries the prefix of `size` candidates; 1 with *cmd filled when it is a
 * feasible, approved move. */
static nw_status try_prefix(const nws_state *st, const nws_policy *policy,
                            const nw_consolidation_input *in,
                            const size_t *order, size_t size, nw_arena *arena,
                            nw_command *cmd, int *ok) {
  nw_sim_result res;
  nw_status rc = simulate(in, order, size, arena, &res);

  *ok = 0;
  if (rc != NW_OK)
    return rc;
  if (!nws_consolidation_command(st, in, order, size, &res, 1, arena, cmd))
    return NW_OK;
  *ok = approved(st, policy, in, cmd);
  return NW_OK;
}

/*
 * Multi-node: binary search for the largest prefix (2 ..
 * min(n, max_candidates) candidates, in the host's disruption-cost order)
 * that can be consolidated.  Like Karpenter it assumes feasibility is
 * monotone in the prefix length and keeps the last feasible command.
 */
static nw_status compute_multi(const nws_state *st, const nws_policy *policy,
                               const nw_consolidation_input *in,
                               nw_arena *arena, nw_command **out,
                               size_t *n_out, nw_error *err) {
  size_t limit = in->n_candidates;
  size_t *order;
  size_t lo = 2;
  size_t hi;
  nw_command best;
  int have = 0;

  if (in->max_candidates > 0 && limit > in->max_candidates)
    limit = in->max_candidates;
  if (limit < 2)
    return NW_OK;
  order = arena_array(st, arena, limit, sizeof(*order));
  if (order == NULL)
    return NW_ERR;
  for (size_t i = 0; i < limit; i++)
    order[i] = i;
  hi = limit;
  while (lo <= hi) {
    size_t mid = lo + (hi - lo) / 2;
    nw_command cmd;
    int ok;
    nw_status rc = try_prefix(st, policy, in, order, mid, arena, &cmd, &ok);
    if (rc != NW_OK)
      return nws_fail(err, rc, "simulating %zu candidates failed", mid);
    if (ok) {
      best = cmd;
      have = 1;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (!have)
    return NW_OK;
  *out = arena_array(st, arena, 1, sizeof(**out));
  if (*out == NULL)
    return NW_ERR;
  (*out)[0] = best;
  *n_out = 1;
  return NW_OK;
}

/*
 * Karpenter interleaves node pools in single-node consolidation (the i-th
 * candidate of every pool before the (i+1)-th of any), so one big pool
 * cannot starve the others within the time limit.  Pools keep the order in
 * which they first appear; within a pool the host's order is kept.
 */
static size_t *interleave_by_pool(const nws_state *st,
                                  const nw_consolidation_input *in,
                                  nw_arena *arena) {
  size_t n = in->n_candidates;
  size_t *order = arena_array(st, arena, n, sizeof(*order));
  /* first[p]: the first candidate of the p-th pool seen; next[i]: the next
   * candidate of i's pool after i (n = none); at[p]: the pool's next one
   * to place. */
  size_t *first = arena_array(st, arena, n, sizeof(*first));
  size_t *last = arena_array(st, arena, n, sizeof(*last));
  size_t *next = arena_array(st, arena, n, sizeof(*next));
  size_t pools = 0;
  size_t filled = 0;

  if (order == NULL || first == NULL || last == NULL || next == NULL)
    return NULL;
  /* Candidates come grouped by few pools: a linear search over the pools
   * seen so far keeps this O(n * pools). */
  for (size_t i = 0; i < n; i++) {
    const char *np = in->candidates[i].nodepool ? in->candidates[i].nodepool : "";
    size_t p = 0;
    while (p < pools) {
      const char *other = in->candidates[first[p]].nodepool
                              ? in->candidates[first[p]].nodepool : "";
      if (strcmp(np, other) == 0)
        break;
      p++;
    }
    next[i] = n;
    if (p == pools) {
      first[pools++] = i;
    } else {
      next[last[p]] = i;
    }
    last[p] = i;
  }
  /* Reuse last[] as each pool's cursor. */
  for (size_t p = 0; p < pools; p++)
    last[p] = first[p];
  while (filled < n) {
    for (size_t p = 0; p < pools; p++) {
      if (last[p] == n)
        continue;
      order[filled++] = last[p];
      last[p] = next[last[p]];
    }
  }
  return order;
}

/* Single-node: the first candidate (in interleaved order) with pods whose
 * move is feasible and approved wins. */
static nw_status compute_single(const nws_state *st, const nws_policy *policy,
                                const nw_consolidation_input *in,
                                nw_arena *arena, nw_command **out,
                                size_t *n_out) {
  size_t *order = interleave_by_pool(st, in, arena);
  nw_command cmd;
  nw_sim_result res;

  if (order == NULL)
    return NW_ERR;
  for (size_t k = 0; k < in->n_candidates; k++) {
    size_t i = order[k];
    /* Empty nodes belong to emptiness; its budget (reason Empty) may have
     * held them back on purpose. */
    if (in->candidates[i].n_pods == 0)
      continue;
    if (policy != NULL && policy->worth_trying != NULL &&
        !policy->worth_trying(st, in, i))
      continue;
    if (simulate(in, &i, 1, arena, &res) != NW_OK) {
      /* As Karpenter: a failed simulation skips this candidate only. */
      st->host->log(st->handle, NW_LOG_WARN, "simulating %s failed; skipped",
                    in->candidates[i].node_name);
      continue;
    }
    if (!nws_consolidation_command(st, in, &i, 1, &res, 0, arena, &cmd))
      continue;
    if (!approved(st, policy, in, &cmd))
      continue;
    *out = arena_array(st, arena, 1, sizeof(**out));
    if (*out == NULL)
      return NW_ERR;
    (*out)[0] = cmd;
    *n_out = 1;
    return NW_OK;
  }
  return NW_OK;
}

static nw_status dispatch(const nws_state *st, const nws_policy *policy,
                          const nw_consolidation_input *in, nw_arena *arena,
                          nw_command **out, size_t *n_out, nw_error *err) {
  switch (in->method) {
  case NW_METHOD_EMPTINESS:
    return compute_emptiness(st, in, arena, out, n_out);
  case NW_METHOD_DRIFT:
    return compute_drift(st, in, arena, out, n_out, err);
  case NW_METHOD_MULTI_NODE:
    return compute_multi(st, policy, in, arena, out, n_out, err);
  case NW_METHOD_SINGLE_NODE:
    return compute_single(st, policy, in, arena, out, n_out);
  }
  return nws_fail(err, NW_ERR_INVALID, "unknown consolidation method %d",
                  (int)in->method);
}

nw_status nws_compute(const nws_state *st, const nws_policy *policy,
                      const nw_consolidation_input *in, nw_arena *arena,
                      nw_command **out, size_t *n_out, nw_error *err) {
  nw_status rc;

  *out = NULL;
  *n_out = 0;
  if (err != NULL)
    err->message[0] = '\0';
  if (in == NULL || in->size < sizeof(nw_consolidation_input))
    return nws_fail(err, NW_ERR_INVALID,
                    "consolidation input missing or older than this plugin "
                    "(size %u, need %zu)", in ? in->size : 0u,
                    sizeof(nw_consolidation_input));
  if (in->n_candidates > 0 && in->candidates == NULL)
    return nws_fail(err, NW_ERR_INVALID, "%zu candidates but no array",
                    in->n_candidates);
  if (in->method != NW_METHOD_EMPTINESS && in->simulate == NULL)
    return nws_fail(err, NW_ERR_INVALID, "method %d needs a simulate callback",
                    (int)in->method);
  rc = dispatch(st, policy, in, arena, out, n_out, err);
  /* The only failure without a message of its own: the host's arena
   * refused an allocation. */
  if (rc != NW_OK && err != NULL && err->message[0] == '\0')
    nws_fail(err, rc, "out of memory in the host's arena");
  return rc;
}
