/*
 * NodeClaim lifecycle: Launched -> Registered -> Initialized.
 *
 * A NodeClaim without status.providerID is launched through the provider
 * plugin on a worker (env submit); its status gets providerID, imageID,
 * capacity and allocatable and the Launched condition.  When a Node with
 * that providerID appears, its labels, taints and owner are synced and
 * Registered is set; when the Node is Ready, startup taints are gone and
 * requested extended resources are present, Initialized.  Liveness: no
 * launch within 5 min or no registration within 15 min deletes the claim.
 * Capacity errors mark the offering unavailable and requeue the pods.
 * Garbage collection removes instances without a claim and claims whose
 * instance vanished.
 */
#ifndef NW_LIFECYCLE_LIFECYCLE_H
#define NW_LIFECYCLE_LIFECYCLE_H

#include "cluster/env.h"

typedef struct nw__lifecycle nw__lifecycle;

nw__lifecycle *nw__lifecycle_new(nw__env *env);
void nw__lifecycle_free(nw__lifecycle *l);

#endif
