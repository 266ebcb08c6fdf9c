/*
 * Node class status (ABI 1.2): every NODECLASS_STATUS_MS, each node class
 * whose provider implements node_class_status() is resolved on a worker
 * and its answer written to the object's status subresource (resolved
 * subnets, security groups, images, instance profile, Ready conditions),
 * only when it changed.  Condition times are kept while a condition's
 * status holds.
 */
#ifndef NW_LIFECYCLE_NODECLASS_H
#define NW_LIFECYCLE_NODECLASS_H

#include "cluster/env.h"

typedef struct nw__nodeclass_status nw__nodeclass_status;

/* Starts the loop on env (borrowed; must outlive the controller). */
nw__nodeclass_status *nw__nodeclass_status_new(nw__env *env);
/* Stops it; the memory goes once no worker job is in flight. */
void nw__nodeclass_status_free(nw__nodeclass_status *c);

#endif
