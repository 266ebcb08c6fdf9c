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
} nw_provider_vtable;

#ifdef __cplusplus
}
#endif
#endif /* NODEWRIGHT_PROVIDER_H */
