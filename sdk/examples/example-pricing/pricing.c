/*
 * example-pricing: prices from a fixed table.  On-demand prices are in the
 * table; spot is the on-demand price times (1 - spotDiscount) from config.
 * price() only reads immutable state, so concurrent calls need no lock.
 */
#include <stdio.h>
#include <string.h>

#include <nodewright/nodewright.h>

typedef struct pricing {
  double spot_factor;
} pricing;

static const struct {
  const char *type;
  double usd;
} table[] = {{"ex.small", 0.05}, {"ex.medium", 0.10}, {"ex.large", 0.20}};

static nw_status price(void *state, const char *instance_type,
                       const char *zone, const char *capacity_type,
                       double *usd, nw_error *err) {
  const pricing *p = state;
  (void)zone;
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
    if (strcmp(table[i].type, instance_type) != 0)
      continue;
    *usd = table[i].usd;
    if (strcmp(capacity_type, NW_CAPACITY_SPOT) == 0)
      *usd *= p->spot_factor;
    return NW_OK;
  }
  snprintf(err->message, sizeof(err->message), "no price for %s",
           instance_type);
  return NW_ERR_NOT_FOUND;
}

static nw_status refresh(void *state, nw_error *err) {
  /* A fixed table never changes. */
  (void)state;
  (void)err;
  return NW_OK;
}

static const nw_host_api *host;

static nw_status init(const nw_host_api *h, nw_plugin_handle *handle,
                      void **state, nw_error *err) {
  host = h;
  double discount = h->config_double(handle, "spotDiscount", 0.6);
  if (discount < 0 || discount >= 1) {
    snprintf(err->message, sizeof(err->message),
             "spotDiscount must be in [0, 1), found %g", discount);
    return NW_ERR_INVALID;
  }
  pricing *p = h->alloc(sizeof(*p));
  if (!p)
    return NW_ERR;
  p->spot_factor = 1 - discount;
  *state = p;
  return NW_OK;
}

static void fini(void *state) { host->free(state); }

static const nw_pricing_vtable vtable = {
    .size = sizeof(nw_pricing_vtable),
    .price = price,
    .refresh = refresh,
};

static const nw_plugin_descriptor descriptor = {
    NW_DESCRIPTOR_HEAD(NW_PLUGIN_PRICING),
    .name = "example-pricing",
    .version = "1.0.0",
    .description = "fixed price table with a spot discount (SDK example)",
    .init = init,
    .fini = fini,
    .vtable = &vtable,
};

NW_PLUGIN_DEFINE(descriptor)
