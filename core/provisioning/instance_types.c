#include "provisioning/instance_types.h"

#include <string.h>

#include "util/arena.h"

/* Prices each offering that has no price with the pricing plugins, in load
 * order; an offering nobody prices becomes unavailable. */
static void price_offerings(nw__plugin_set *plugins, nw_instance_type *t,
                            nw_arena *arena) {
  nw_offering *offs = nw__arena_alloc(arena, (t->n_offerings + 1) * sizeof(*offs));
  if (!offs)
    return;
  memcpy(offs, t->offerings, t->n_offerings * sizeof(*offs));
  for (size_t o = 0; o < t->n_offerings; o++) {
    if (offs[o].price >= 0)
      continue;
    int priced = 0;
    for (size_t i = 0; i < nw__plugins_count(plugins) && !priced; i++) {
      nw__plugin *p = nw__plugins_at(plugins, i);
      const nw_pricing_vtable *vt = nw__plugin_pricing(p);
      double usd = -1;
      nw_error e = {0};
      if (vt && vt->price(nw__plugin_state(p), t->name, offs[o].zone,
                          offs[o].capacity_type, &usd, &e) == NW_OK && usd >= 0) {
        offs[o].price = usd;
        priced = 1;
      }
    }
    if (!priced)
      offs[o].available = 0;
  }
  t->offerings = offs;
}

nw_status nw__priced_instance_types(nw__plugin_set *plugins, nw__plugin *provider,
                                    const char *nodepool,
                                    const char *nodeclass_json, nw_arena *arena,
                                    nw_instance_types *out, uint64_t *version,
                                    nw_error *err) {
  const nw_provider_vtable *vt = nw__plugin_provider(provider);
  void *state = nw__plugin_state(provider);
  nw_instance_types got = {0, NULL};
  /* The loader's copy of the table is zeroed past an older plugin's
   * size, so the 1.3 member reads as NULL there. */
  uint64_t before = version && vt->instance_types_version
                        ? vt->instance_types_version(state, nodepool, nodeclass_json)
                        : 0;
  nw_status st = vt->instance_types(state, nodepool, nodeclass_json, arena,
                                    &got, err);
  if (st != NW_OK)
    return st;
  if (version) {
    /* A change during the call may or may not be in the answer: then
     * the answer has no version. */
    uint64_t after = before ? vt->instance_types_version(state, nodepool,
                                                         nodeclass_json)
                            : 0;
    *version = before == after ? before : 0;
  }
  nw_instance_type *types = nw__arena_alloc(arena, (got.len + 1) * sizeof(*types));
  if (!types)
    return NW_ERR;
  /* An empty answer may come as NULL items, which memcpy must not get. */
  if (got.len)
    memcpy(types, got.items, got.len * sizeof(*types));
  for (size_t i = 0; i < got.len; i++)
    price_offerings(plugins, &types[i], arena);
  out->items = types;
  out->len = got.len;
  return NW_OK;
}
