/*
 * The simulator's cloud: an nw_provider_vtable implemented in-process over
 * the scenario's catalog, registered in the plugin set as the builtin
 * plugin "sim", so the engine finds and calls it exactly as it would the
 * AWS or kind plugin.
 *
 *  - instance_types: the catalog; offerings are left unpriced when a
 *    pricing plugin is loaded, so the engine prices them through it.
 *  - create: idempotent per claim name; the cheapest available offering
 *    that satisfies the claim's requirements; the Node registers after the
 *    boot latency (the world does that).  The call itself takes the
 *    scenario's launch latency of virtual time.
 *  - delete/get/list: over the instances it made.
 *  - poll_events: spot interruption warnings the scenario injects; the
 *    instance terminates when the notice runs out.
 *  - repair_policies: Ready False or Unknown for 10 minutes.
 */
#ifndef NW_SIM_PROVIDER_H
#define NW_SIM_PROVIDER_H

#include <nodewright/nodewright.h>

#include "cluster/env.h"
#include "sim/world.h"

/* The descriptor to pass to nw__plugins_add_builtin (static storage). */
const nw_plugin_descriptor *nw__sim_provider_descriptor(void);

/* Connects the plugin's state (nw__plugin_state of the builtin) to the
 * world and the env, both borrowed; call before the engine runs. */
void nw__sim_provider_attach(void *state, nw__world *w, nw__env *env,
                             int64_t launch_ms, int64_t notice_ms);

/* Queues a spot interruption warning for the instance; it terminates
 * notice_ms later.  Returns 0, or -1 when the instance is unknown. */
int nw__sim_provider_interrupt(void *state, const char *provider_id);

/* The cloud stops the instance: a state-change event ("stopping"), and
 * the instance is stopped and gone a moment later.  Returns 0, or -1 when
 * the instance is unknown. */
int nw__sim_provider_stop(void *state, const char *provider_id);

/* Non-zero while the instance exists and is not terminated. */
int nw__sim_provider_alive(void *state, const char *provider_id);

#endif
