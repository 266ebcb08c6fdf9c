/*
 * The provisioner: pending pods become NodeClaims.
 *
 * Watches the store for pods the kube-scheduler marked unschedulable
 * (PodScheduled=False, reason Unschedulable) and batches them: a batch
 * closes after env->batch_idle_ms without a new pending pod, or
 * env->batch_max_ms after it opened.  Then it snapshots the cluster (nodes
 * before pods, as Karpenter does), runs the scheduling core against
 * existing nodes, claims in flight and every NodePool's instance types,
 * and creates one karpenter.sh/v1 NodeClaim per new node, emitting
 * Nominated / FailedScheduling events.
 */
#ifndef NW_PROVISIONING_PROVISIONER_H
#define NW_PROVISIONING_PROVISIONER_H

#include "cluster/env.h"

typedef struct nw__provisioner nw__provisioner;

/* Starts watching env->store.  env is borrowed and must outlive it. */
nw__provisioner *nw__provisioner_new(nw__env *env);
void nw__provisioner_free(nw__provisioner *p);

/* Runs a scheduling pass now, regardless of the batch window (tests). */
void nw__provisioner_trigger(nw__provisioner *p);

#endif
