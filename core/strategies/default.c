/*
 * The `default` consolidation strategy: Karpenter v1's behaviour
 * (WhenEmptyOrUnderutilized) -- any feasible move that saves money is made.
 */
#include <nodewright/plugin.h>
#include <nodewright/strategy.h>

#include "strategy_common.h"

static nw_status default_init(const nw_host_api *host, nw_plugin_handle *h,
                              void **state, nw_error *err) {
  nws_state *st = host->alloc(sizeof(*st));

  if (st == NULL)
    return nws_fail(err, NW_ERR, "out of memory");
  st->host = host;
  st->handle = h;
  st->threshold = 0;
  *state = st;
  return NW_OK;
}

static void default_fini(void *state) {
  nws_state *st = state;

  if (st != NULL)
    st->host->free(st);
}

static nw_status default_compute(void *state, const nw_consolidation_input *in,
                                 nw_arena *arena, nw_command **out,
                                 size_t *n_out, nw_error *err) {
  return nws_compute(state, NULL, in, arena, out, n_out, err);
}

static const nw_strategy_vtable default_vtable = {
    .size = sizeof(nw_strategy_vtable),
    .compute = default_compute,
};

static const nw_plugin_descriptor default_descriptor = {
    NW_DESCRIPTOR_HEAD(NW_PLUGIN_STRATEGY),
    .name = "default",
    .version = "0.1.0",
    .description = "Karpenter v1 consolidation: any feasible move that saves "
                   "money (emptiness, drift, multi-node, single-node)",
    .init = default_init,
    .fini = default_fini,
    .vtable = &default_vtable,
};

NW_PLUGIN_DEFINE(default_descriptor)
