/*
 * The disruption controller (Karpenter v1 semantics): every 10 s, and at
 * once again after it acted, it
 *  - deletes expired claims (expireAfter, regardless of budgets);
 *  - marks claims Drifted when their NodePool's template hash changed;
 *  - keeps status.lastPodEventTime current (consolidateAfter counts from
 *    it);
 *  - turns provider interruption events into action (spot warning,
 *    stopping/terminated, scheduled maintenance: cordon and delete the
 *    claim so a replacement launches; rebalance: an event);
 *  - asks the consolidation strategy plugin, method by method (emptiness,
 *    drift, multi-node, single-node; the first that acts wins), which
 *    nodes to delete or replace, simulating with the scheduling core;
 *  - validates a decision after 15 s against a fresh snapshot, then
 *    executes it: taints the candidates, launches replacements, waits for
 *    them to be Initialized, deletes the candidates (termination drains).
 * Everything goes through nw__env, so the simulator runs it unchanged.
 */
#ifndef NW_DISRUPTION_CONTROLLER_H
#define NW_DISRUPTION_CONTROLLER_H

#include "cluster/env.h"

typedef struct nw__disruption nw__disruption;

/* `strategy` names the strategy plugin ("default" when NULL); when none is
 * loaded, consolidation is off but expiration, drift marking and
 * interruption still run.  env borrowed. */
nw__disruption *nw__disruption_new(nw__env *env, const char *strategy);
void nw__disruption_free(nw__disruption *d);

/* Allows spot-to-spot consolidation (Karpenter's SpotToSpotConsolidation
 * feature gate; off by default): a spot node may be replaced by a cheaper
 * spot one when at least 15 cheaper types exist. */
void nw__disruption_set_spot_to_spot(nw__disruption *d, int on);

/* Runs a pass now (tests). */
void nw__disruption_trigger(nw__disruption *d);

#endif
