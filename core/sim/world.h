/*
 * The simulated world around the engine: what Kubernetes and the cloud
 * would do in a real cluster.
 *
 *  - Workloads: Deployments whose replicas follow a fixed count, a
 *    schedule or an HPA model (autoscaling/v2: utilisation from a load
 *    curve, tolerance, default scale-up/down policies, stabilisation
 *    windows), creating and deleting Pod objects as a ReplicaSet would.
 *  - DaemonSets: one pod per node, bound directly.
 *  - A mini kube-scheduler: binds pending pods to Ready nodes with room,
 *    using the scheduling core against existing nodes only, and marks the
 *    rest PodScheduled=False/Unschedulable so the provisioner sees them.
 *  - kube-controller-manager bits: PDB status (disruptionsAllowed), pod
 *    garbage collection when a node goes away, NoExecute eviction of pods
 *    on unreachable nodes after 300 s.
 *  - The cloud: an in-process provider plugin over the scenario's catalog
 *    (sim/provider.c) whose instances register as Ready Nodes after the
 *    boot latency; spot interruptions and node failures from the
 *    scenario's events.
 *
 * The world writes through env->ops like any controller, so the engine
 * sees the same API traffic it would in a cluster.
 */
#ifndef NW_SIM_WORLD_H
#define NW_SIM_WORLD_H

#include <jansson.h>

#include "catalog/catalog.h"
#include "cluster/env.h"
#include "sim/scenario.h"

typedef struct nw__world nw__world;

/*
 * A world for scenario `sc` over `env` (both borrowed, they must outlive
 * it).  `types` are the instance types the cloud offers (borrowed).
 * Returns NULL on OOM.
 */
nw__world *nw__world_new(nw__env *env, const nw__scenario *sc,
                         const nw_instance_types *types);
void nw__world_free(nw__world *w);

/* Creates the static nodes and workloads and arms the scenario's timers
 * (HPA syncs, schedules, events).  Returns 0, or -1 with err filled. */
int nw__world_start(nw__world *w, char *err, size_t errlen);

/* Records one sample (nodes by type, cost, pending pods, replicas) for the
 * report at the current virtual time. */
void nw__world_sample(nw__world *w);

/* Notes an Event a controller recorded, for the decision log. */
void nw__world_note_event(nw__world *w, int64_t now_ms,
                          const json_t *regarding, const char *type,
                          const char *reason, const char *note);

/*
 * The run's results as JSON (a new reference): summary (peak and final
 * nodes, cost, pending p50/p99), samples, decisions, nodes launched.
 * `end_ms` closes node lifetimes still open.
 */
json_t *nw__world_report(nw__world *w, int64_t end_ms);

/* ---- the cloud, for the in-process provider (sim/provider.c) ---------- */

/* USD/h of an offering: the pricing plugins first, then the catalog.
 * -1 when nobody prices it. */
double nw__world_price(nw__world *w, const char *type, const char *zone,
                       const char *capacity_type);
/* The instance types on offer (borrowed). */
const nw_instance_types *nw__world_types(const nw__world *w);
/* Schedules the Node of a launched instance to register after the boot
 * latency.  Strings are copied. */
void nw__world_instance_launched(nw__world *w, const char *provider_id,
                                 const char *type, const char *zone,
                                 const char *capacity_type,
                                 const json_t *labels, const json_t *taints);
/* The builtin provider's state, for injected interruptions (NULL when a
 * provider plugin serves the scenario). */
void nw__world_set_provider(nw__world *w, void *provider_state);

/* The instance is gone: its Node stops reporting (NotReady). */
void nw__world_instance_gone(nw__world *w, const char *provider_id);

#endif
