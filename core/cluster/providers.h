/* Which loaded provider plugin serves a node class kind. */
#ifndef NW_CLUSTER_PROVIDERS_H
#define NW_CLUSTER_PROVIDERS_H

#include <jansson.h>

#include "cluster/env.h"

/*
 * The provider plugin whose node_class_kinds include `kind` (group may be
 * NULL to match any group).  With `kind` NULL (an object without a
 * nodeClassRef), the first provider loaded.  NULL when no provider serves
 * the kind.
 */
nw__plugin *nw__provider_for_kind(nw__plugin_set *plugins, const char *group,
                                  const char *kind);
/* The same, for a NodeClaim or NodePool's nodeClassRef (spec.nodeClassRef
 * or spec.template.spec.nodeClassRef). */
nw__plugin *nw__provider_for_obj(nw__plugin_set *plugins, const json_t *obj);

#endif
