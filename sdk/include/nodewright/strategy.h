/*
 * nodewright consolidation-strategy plugins (kind NW_PLUGIN_STRATEGY).
 *
 * The host finds candidates (nodes that may be disrupted, with their price
 * and disruption cost) and asks the strategy which to delete or replace.
 * The strategy tests ideas with the host's simulate callback, which reruns
 * the host's scheduler as if the chosen candidates were gone.
 *
 * Threading: compute() runs on a worker thread; simulate may be called from
 * that thread only, during compute().
 */
#ifndef NODEWRIGHT_STRATEGY_H
#define NODEWRIGHT_STRATEGY_H

#include <nodewright/plugin.h>
#include <nodewright/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nw_consolidation_method {
  NW_METHOD_EMPTINESS = 0,
  NW_METHOD_DRIFT = 1,
  NW_METHOD_MULTI_NODE = 2,
  NW_METHOD_SINGLE_NODE = 3
} nw_consolidation_method;

typedef struct nw_candidate {
  const char *node_name;
  const char *provider_id;
  const char *nodepool;
  const char *instance_type;
  const char *zone;
  const char *capacity_type;
  double price;                /* USD per hour of this node now */
  size_t n_pods;               /* reschedulable pods on it */
  double disruption_cost;      /* higher = more costly to disrupt */
} nw_candidate;

/* One new node the simulation needed. */
typedef struct nw_replacement {
  size_t n_instance_types;     /* options, cheapest first */
  const char *const *instance_types;
  const char *capacity_type;   /* cheapest option's capacity type */
  double price;                /* cheapest option's price */
  /* Per option, parallel to instance_types (added before ABI 1.0 shipped):
   * each option's cheapest compatible offering price and its capacity
   * type.  Strategies filter options by price with these (Karpenter's
   * filterByPrice and the spot-to-spot rule).  NULL when the host cannot
   * price every option; strategies then trust only the first option. */
  const double *prices;
  const char *const *capacity_types;
} nw_replacement;

typedef struct nw_sim_result {
  int all_scheduled;           /* non-zero when every pod found a place */
  size_t n_replacements;       /* new nodes needed */
  const nw_replacement *replacements;
  double replacement_price;    /* sum of the cheapest options */
} nw_sim_result;

/* Host callback: simulate removing candidates[idx[0..n)].  Output lives in
 * the arena.  Returns NW_OK even when pods do not fit (see all_scheduled). */
typedef nw_status (*nw_simulate_fn)(void *sim_ctx, const size_t *idx, size_t n,
                                    nw_arena *arena, nw_sim_result *out);

typedef enum nw_command_kind {
  NW_COMMAND_DELETE = 0,
  NW_COMMAND_REPLACE = 1
} nw_command_kind;

typedef struct nw_command {
  nw_command_kind kind;
  size_t n_candidates;
  const size_t *candidates;    /* indexes into the input's candidates */
  nw_sim_result result;        /* what the simulation said (replacements) */
  double savings_per_hour;
  const char *reason;          /* human readable, arena-owned */
} nw_command;

typedef struct nw_consolidation_input {
  uint32_t size;               /* sizeof(nw_consolidation_input) of host */
  nw_consolidation_method method;
  size_t n_candidates;
  const nw_candidate *candidates; /* sorted by disruption cost, ascending */
  nw_simulate_fn simulate;
  void *sim_ctx;
  size_t max_candidates;       /* multi-node search bound (100) */
  int spot_to_spot;            /* non-zero when spot-to-spot is allowed */
  size_t min_spot_types;       /* types cheaper than the spot node (15) */
} nw_consolidation_input;

typedef struct nw_strategy_vtable {
  uint32_t size;               /* sizeof(nw_strategy_vtable) of the plugin */
  /* Decide.  *out is an arena array of *n_out commands (possibly 0). */
  nw_status (*compute)(void *state, const nw_consolidation_input *in,
                       nw_arena *arena, nw_command **out, size_t *n_out,
                       nw_error *err);
} nw_strategy_vtable;

#ifdef __cplusplus
}
#endif
#endif /* NODEWRIGHT_STRATEGY_H */
