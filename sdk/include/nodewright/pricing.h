/*
 * nodewright pricing plugins (kind NW_PLUGIN_PRICING).
 *
 * Threading: price() is called from any thread, often and concurrently, and
 * must not block: it answers from the plugin's in-memory table.  refresh()
 * may block (network) and is called from a worker thread, never
 * concurrently with itself; the plugin swaps its table atomically so price()
 * never sees a half-built one.
 */
#ifndef NODEWRIGHT_PRICING_H
#define NODEWRIGHT_PRICING_H

#include <nodewright/plugin.h>
#include <nodewright/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nw_pricing_vtable {
  uint32_t size;               /* sizeof(nw_pricing_vtable) of the plugin */

  /* USD per hour for one offering.  NW_ERR_NOT_FOUND when the plugin has
   * no price for it (the host then treats the offering as unavailable). */
  nw_status (*price)(void *state, const char *instance_type,
                     const char *zone, const char *capacity_type,
                     double *usd_per_hour, nw_error *err);

  /* Fetch fresh prices; on failure the old table stays in use. */
  nw_status (*refresh)(void *state, nw_error *err);
} nw_pricing_vtable;

#ifdef __cplusplus
}
#endif
#endif /* NODEWRIGHT_PRICING_H */
