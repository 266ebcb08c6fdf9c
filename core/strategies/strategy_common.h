/*
 * The consolidation search both strategy plugins share (Karpenter v1's
 * emptiness, drift, multi-node and single-node methods), compiled into each
 * plugin .so.  Plugins must not use nwcore, so this lives here and not in
 * core/util; it uses only the SDK and the host API table.
 *
 * A strategy differs from the default one only through an nws_policy: a
 * hook that may veto a consolidatable move, and a hook that may skip a
 * single-node candidate before it is simulated.
 */
#ifndef NW_STRATEGIES_STRATEGY_COMMON_H
#define NW_STRATEGIES_STRATEGY_COMMON_H

#include <stddef.h>

#include <nodewright/plugin.h>
#include <nodewright/strategy.h>

/* The plugin instance state both strategies use. */
typedef struct nws_state {
  const nw_host_api *host;   /* borrowed from init; valid until fini */
  nw_plugin_handle *handle;  /* borrowed from init */
  double threshold;          /* balanced: consolidationThreshold k */
} nws_state;

typedef struct nws_policy {
  /*
   * Decides whether a move the simulation found feasible is worth making.
   * `cmd` is the finished command (candidates, filtered replacement,
   * savings).  Returns non-zero to accept.  NULL accepts every move.
   */
  int (*approve)(const nws_state *st, const nw_consolidation_input *in,
                 const nw_command *cmd);
  /*
   * Single-node only: returns zero to skip candidate `i` without
   * simulating it (its best possible move already fails approve).
   * NULL tries every candidate.
   */
  int (*worth_trying)(const nws_state *st, const nw_consolidation_input *in,
                      size_t i);
} nws_policy;

/*
 * Runs the method `in->method` and returns at most one command (Karpenter
 * acts on one command per method per pass; emptiness's one command deletes
 * every empty candidate).  Commands and their arrays are allocated from
 * `arena` through st->host.  Returns NW_OK with *n_out == 0 when nothing is
 * worth doing; an error status only for invalid input or a failed
 * simulation in the multi-node search.
 */
nw_status nws_compute(const nws_state *st, const nws_policy *policy,
                      const nw_consolidation_input *in, nw_arena *arena,
                      nw_command **out, size_t *n_out, nw_error *err);

/*
 * Turns one simulation result for candidates idx[0..n) into a command,
 * exactly as Karpenter's computeConsolidation does (see
 * docs/disruption.md): every pod must fit; no new node -> delete; one new
 * node -> replace with the options cheaper than the candidates' total
 * (spot-to-spot only when allowed and, for one candidate, with at least
 * in->min_spot_types cheaper options, then truncated to that many); more
 * new nodes -> nothing.  `multi` additionally applies Karpenter's
 * filterOutSameType.  Returns 1 and fills *cmd (arena-owned arrays) when
 * the move is feasible, 0 when it is not.
 */
int nws_consolidation_command(const nws_state *st,
                              const nw_consolidation_input *in,
                              const size_t *idx, size_t n,
                              const nw_sim_result *res, int multi,
                              nw_arena *arena, nw_command *cmd);

/* Sum of the prices of candidates idx[0..n). */
double nws_candidates_price(const nw_consolidation_input *in,
                            const size_t *idx, size_t n);

/* Fills err (may be NULL) and returns status. */
nw_status nws_fail(nw_error *err, nw_status status, const char *fmt, ...)
    NW_PRINTF_LIKE(3, 4);

#endif
