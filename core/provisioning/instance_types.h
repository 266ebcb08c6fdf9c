/*
 * Instance types for a NodePool, as the scheduler needs them: asked of the
 * provider plugin, with every offering priced (the provider's own price,
 * else the pricing plugin's; no price = unavailable, as Karpenter treats
 * it).  Blocking (provider call): run on a worker.
 */
#ifndef NW_PROVISIONING_INSTANCE_TYPES_H
#define NW_PROVISIONING_INSTANCE_TYPES_H

#include <nodewright/nodewright.h>

#include "plugin/loader.h"

/* Fills *out in `arena` (offerings are copies, priced).  `nodeclass_json`
 * may be NULL.  When `version` is not NULL it receives the provider's
 * instance_types_version for the answer (ABI 1.3): not 0 only when the
 * provider has one and it was the same before and after the call, so the
 * list is that version's.  Returns the provider's status with err
 * filled. */
nw_status nw__priced_instance_types(nw__plugin_set *plugins, nw__plugin *provider,
                                    const char *nodepool,
                                    const char *nodeclass_json, nw_arena *arena,
                                    nw_instance_types *out, uint64_t *version,
                                    nw_error *err);

#endif
