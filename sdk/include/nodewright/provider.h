/*
 * nodewright cloud provider plugins (kind NW_PLUGIN_PROVIDER).
 *
 * Semantics follow Karpenter's CloudProvider interface.
 *
 * Threading: every callback here may block (network, cloud APIs) and is
 * called from the host's worker threads, possibly several at once for
 * different claims; the host's event loop never waits on them.  A plugin
 * therefore protects its own shared state.  `state` is what init stored.
 *
 * Ownership: inputs are borrowed for the call; outputs are allocated in the
 * `arena` the host passes (see types.h).
 */
#ifndef NODEWRIGHT_PROVIDER_H
#define NODEWRIGHT_PROVIDER_H

#include <stddef.h>

#include <nodewright/plugin.h>
#include <nodewright/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nw_provider_vtable {
  uint32_t size;               /* sizeof(nw_provider_vtable) of the plugin */

  /* Node class kinds this provider serves, e.g. {"karpenter.k8s.aws",
   * "EC2NodeClass"}.  Static storage; called on the loop thread. */
  size_t n_node_class_kinds;
  const nw_node_class_ref *node_class_kinds;

  /* Every instance type a node of this class could be, with offerings
   * priced and marked available.  `node_class_json` may be NULL. */
  nw_status (*instance_types)(void *state, const char *nodepool,
                              const char *node_class_json, nw_arena *arena,
                              nw_instance_types *out, nw_error *err);

  /* Launch a node for the claim.  Idempotent per claim name: a second call
   * for the same claim returns the instance the first one made.
   * NW_ERR_INSUFFICIENT_CAPACITY names the offering in err->message. */
  nw_status (*create)(void *state, const nw_node_claim *claim,
                      nw_arena *arena, nw_node_instance *out, nw_error *err);

  /* Terminate.  NW_ERR_NOT_FOUND when the instance is already gone, which
   * the host treats as success. */
  nw_status (*delete_instance)(void *state, const char *provider_id,
                               nw_error *err);

  /* Look one instance up; NW_ERR_NOT_FOUND when it does not exist. */
  nw_status (*get)(void *state, const char *provider_id, nw_arena *arena,
                   nw_node_instance *out, nw_error *err);

  /* Every instance this provider manages for the cluster. */
  nw_status (*list)(void *state, nw_arena *arena, nw_node_instances *out,
                    nw_error *err);

  /* Has the instance drifted from its node class?  On NW_OK, *reason is
   * NULL when not drifted, or an arena string naming the drift. */
  nw_status (*is_drifted)(void *state, const nw_node_instance *instance,
                          const char *node_class_json, nw_arena *arena,
                          const char **reason, nw_error *err);

  /* Node conditions that mean the node should be replaced. */
  nw_status (*repair_policies)(void *state, nw_arena *arena,
                               nw_repair_policies *out, nw_error *err);

  /* Drain pending interruption events, at most `max`, without waiting
   * longer than `wait_ms` (long polling lives here).  *n_out = 0 when
   * there are none. */
  nw_status (*poll_events)(void *state, int64_t wait_ms, size_t max,
                           nw_arena *arena, nw_provider_event **out,
                           size_t *n_out, nw_error *err);

  /* ---- ABI 1.2: optional, NULL = not supported --------------------------
   * A host reads these only when the plugin's `size` covers them (the
   * host's loader hands the engine a copy zeroed past the plugin's size). */

  /* The claim's Node registered: `node_name` is the Node with the claim's
   * `provider_id`.  Karpenter's AWS provider tags the instance with
   * Name=<node name> here.  Called once per registration, on a worker;
   * NW_ERR_NOT_FOUND when the instance is gone. */
  nw_status (*registered)(void *state, const char *provider_id,
                          const char *claim_name, const char *node_name,
                          nw_error *err);

  /* The status of a node class object (`node_class_json`, the whole
   * object): *status_json is an arena string holding the JSON object the
   * host writes as the object's `status` (resolved values and a
   * `conditions` list; the host fills lastTransitionTime and
   * observedGeneration where missing).  NW_OK with the Ready condition
   * False when the class cannot be resolved; an error only when the
   * provider could not tell (the host then writes nothing).  Called
   * periodically per node class of a kind this provider serves, on a
   * worker. */
  nw_status (*node_class_status)(void *state, const char *node_class_json,
                                 nw_arena *arena, const char **status_json,
                                 nw_error *err);

  /* ---- ABI 1.3: optional, NULL = not supported -------------------------- */

  /* A version of what instance_types answers for this node pool and node
   * class: names, requirements, capacities, and the offerings' zones and
   * capacity types, in order.  Whenever any of that changes, the number
   * changes; 0 means "unknown".  The host calls it before and after
   * instance_types and, when both answers are equal and not 0, reuses
   * what it worked out from an earlier list of that version instead of
   * comparing ~1 MB of type text on every pass (offerings' prices and
   * availability are still read from each answer).  Cheap and
   * thread-safe; called on a worker. */
  uint64_t (*instance_types_version)(void *state, const char *nodepool,
                                     const char *node_class_json);
} nw_provider_vtable;

/* The size of the provider table in ABI 1.0 and 1.1, the least a provider
 * may hand the host. */
#define NW_PROVIDER_VTABLE_SIZE_1_0 offsetof(nw_provider_vtable, registered)

#ifdef __cplusplus
}
#endif
#endif /* NODEWRIGHT_PROVIDER_H */
