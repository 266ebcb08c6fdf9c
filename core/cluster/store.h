/*
 * The cluster as the controllers see it: Kubernetes objects (JSON, the
 * shape the API server returns) by kind and namespace/name.
 *
 * The same store backs the daemon and the simulator, which is what lets
 * `nodewright simulate` run the daemon's controllers unchanged: in the
 * daemon, informer events feed it; in the simulator, the in-memory API
 * writes to it directly.  Controllers only read the store and act through
 * nw__env (env.h).
 *
 * Single-threaded: used from the event loop (or the simulator's loop) only.
 */
#ifndef NW_CLUSTER_STORE_H
#define NW_CLUSTER_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum nw__kind {
  NW__K_POD = 0,
  NW__K_NODE,
  NW__K_NODECLAIM,
  NW__K_NODEPOOL,
  NW__K_NODECLASS,     /* EC2NodeClass, KindNodeClass, ... */
  NW__K_DAEMONSET,
  NW__K_PDB,
  NW__K_PV,
  NW__K_PVC,
  NW__K_STORAGECLASS,
  NW__K_COUNT
} nw__kind;

/* "Pod", "Node", "NodeClaim", ... */
const char *nw__kind_name(nw__kind k);

typedef struct nw__store nw__store;

/* Called after every change: old is NULL for an add, new NULL for a
 * delete.  Both borrowed for the call. */
typedef void (*nw__store_watch_fn)(void *user, nw__kind kind,
                                   const json_t *old_obj,
                                   const json_t *new_obj);

nw__store *nw__store_new(void);
void nw__store_free(nw__store *s);

/* Registers a watcher; at most 16.  Returns 0 or -1. */
int nw__store_watch(nw__store *s, nw__store_watch_fn fn, void *user);

/* Removes a watcher registered with the same fn and user. */
void nw__store_unwatch(nw__store *s, nw__store_watch_fn fn, void *user);

/* Inserts or replaces obj by metadata.namespace/name.  Takes the
 * reference.  Returns 0, or -1 when obj has no metadata.name. */
int nw__store_put(nw__store *s, nw__kind kind, json_t *obj);
/* Removes an object; 0 when removed, -1 when absent. */
int nw__store_remove(nw__store *s, nw__kind kind, const char *ns,
                     const char *name);

/* The object, borrowed until the next change of it; NULL when absent.
 * ns is NULL or "" for cluster-scoped kinds. */
json_t *nw__store_get(const nw__store *s, nw__kind kind, const char *ns,
                      const char *name);
size_t nw__store_count(const nw__store *s, nw__kind kind);

/* Visits every object of a kind in insertion order until fn returns
 * non-zero.  fn may change the store; the object it was handed stays
 * valid (if stale) for the call.  Returns the number seen. */
typedef int (*nw__store_visit_fn)(void *user, json_t *obj);
size_t nw__store_foreach(const nw__store *s, nw__kind kind,
                         nw__store_visit_fn fn, void *user);

/* Pods bound to a node (spec.nodeName).  A scan of every pod: callers
 * wanting every node's pods make one pass themselves (the snapshot does). */
size_t nw__store_pods_on_node(const nw__store *s, const char *node,
                              nw__store_visit_fn fn, void *user);

/* The NodeClaim (or Node) with status.providerID / spec.providerID. */
json_t *nw__store_by_provider_id(const nw__store *s, nw__kind kind,
                                 const char *provider_id);

/* Increases on every change; lets controllers skip work when nothing
 * changed since their last pass. */
uint64_t nw__store_version(const nw__store *s);

#endif
