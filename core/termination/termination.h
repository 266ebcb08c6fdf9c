/*
 * Termination: a NodeClaim (or Node) being deleted is drained and its
 * instance removed.  Taints the node karpenter.sh/disrupted:NoSchedule,
 * evicts pods through the Eviction API honouring PDBs (429 = later),
 * leaving DaemonSet and static pods, critical pods last;
 * terminationGracePeriod forces the end; then deletes the instance through
 * the provider until it is gone, deletes the Node and removes the
 * karpenter.sh/termination finalizer.
 */
#ifndef NW_TERMINATION_TERMINATION_H
#define NW_TERMINATION_TERMINATION_H

#include "cluster/env.h"

typedef struct nw__termination nw__termination;

nw__termination *nw__termination_new(nw__env *env);
void nw__termination_free(nw__termination *t);

/* Taints `node` (borrowed) karpenter.sh/disrupted:NoSchedule unless it
 * already is, so nothing new lands on a node about to go.  Shared by
 * termination, disruption and interruption handling. */
void nw__taint_disrupted(nw__env *env, const json_t *node);

#endif
