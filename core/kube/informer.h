/*
 * Informers: a local, indexed cache of one resource kept current by a
 * paginated LIST (limit/continue) followed by a WATCH from the list's
 * resourceVersion with bookmarks.  A 410 Gone (the watch fell behind etcd
 * compaction) triggers a relist that reconciles the cache (adds, updates
 * and deletes for what changed meanwhile).  Other failures reconnect with
 * exponential backoff and jitter (0.5 s .. 30 s).  Everything runs on the
 * client's libuv loop; the client must be in loop mode.
 *
 *   nw__informer *inf = nw__informer_new(client, &NW__KUBE_PODS, NULL);
 *   nw__informer_add_index_field(inf, "node", "spec.nodeName");
 *   nw__informer_add_handlers(inf, &(nw__informer_handlers){
 *       .on_add = pod_added, .on_update = pod_updated,
 *       .on_delete = pod_deleted, .on_synced = pods_synced, .user = ctx});
 *   nw__informer_start(inf);
 *   ... uv_run ...
 *   json_t *pod = nw__informer_get(inf, "default", "web-0"); ... json_decref(pod);
 *   nw__informer_index_foreach(inf, "node", "node-1", visit, ctx);
 *
 * Objects handed to handlers and visitors are borrowed: valid during the
 * call only, never to be modified (json_deep_copy to change one, e.g. as
 * the `start` of nw__kube_update).  metadata.managedFields is dropped
 * before caching by default, to save memory.
 */
#ifndef NW_KUBE_INFORMER_H
#define NW_KUBE_INFORMER_H

#include <jansson.h>
#include <stddef.h>

#include "kube/client.h"

typedef struct nw__informer nw__informer;

typedef struct nw__informer_handlers {
  void (*on_add)(void *user, const json_t *obj);
  /* Only for real changes (resourceVersion differs). */
  void (*on_update)(void *user, const json_t *old_obj, const json_t *new_obj);
  /* obj is the last state known. */
  void (*on_delete)(void *user, const json_t *obj);
  /* Once, when the initial list is complete. */
  void (*on_synced)(void *user);
  void *user;
} nw__informer_handlers;

/*
 * Rewrites an object before it is cached: returns the object to keep (obj
 * itself, modified in place, or a new reference; the reference to obj is
 * consumed either way), or NULL to drop it.
 */
typedef json_t *(*nw__informer_transform_fn)(void *user, json_t *obj);

typedef struct nw__informer_options {
  const char *ns;             /* NULL: all namespaces */
  const char *label_selector; /* NULL: everything */
  const char *field_selector;
  int page_size;              /* LIST limit; 0: 500 */
  /*
   * Keep each cached object as compact JSON text instead of a json_t
   * tree: a sixth of the memory, at the price of a decode for every
   * lookup (nw__informer_get/foreach hand out freshly decoded copies) and
   * about twice the CPU while syncing.  Measured with 5,000 nodes and
   * 100,000 small pods (docs/benchmarks.md): json trees 923 MiB RSS,
   * compact 151 MiB, compact with page_size 100 144 MiB.  Use compact
   * (and page_size 100) for pods and nodes in large clusters; keep trees
   * for small, hot caches (NodePools, NodeClaims, node classes).
   */
  int compact;
  nw__informer_transform_fn transform; /* NULL: drop managedFields */
  void *transform_user;
} nw__informer_options;

/* client (loop mode) and res are borrowed and must outlive the informer;
 * opts may be NULL and is copied.  NULL on OOM. */
nw__informer *nw__informer_new(nw__kube_client *client,
                               const nw__kube_resource *res,
                               const nw__informer_options *opts);

/* Registers handlers (copied).  When added after the informer has items,
 * on_add runs at once for each of them (and on_synced when synced), as
 * client-go does.  Returns 0, -1 on OOM. */
int nw__informer_add_handlers(nw__informer *inf, const nw__informer_handlers *h);

/*
 * Secondary indexes, to be added before start.  index_field indexes the
 * string at a dotted path ("spec.nodeName"); index_label the value of a
 * label ("karpenter.sh/nodepool").  Objects without the field are not
 * indexed.  name and the path/key are copied.  0, or -1 on OOM / a
 * duplicate name.
 */
int nw__informer_add_index_field(nw__informer *inf, const char *name,
                                 const char *dotted_path);
int nw__informer_add_index_label(nw__informer *inf, const char *name,
                                 const char *label_key);

/* Starts listing and watching. */
void nw__informer_start(nw__informer *inf);

/* Stops and frees; handlers do not run any more.  Free informers before
 * their client. */
void nw__informer_free(nw__informer *inf);

/* Non-zero once the initial list is in the cache. */
int nw__informer_synced(const nw__informer *inf);
size_t nw__informer_size(const nw__informer *inf);
/* The resourceVersion the cache is current at (borrowed, may be ""). */
const char *nw__informer_resource_version(const nw__informer *inf);
/* Number of LISTs done (1 + relists), for tests and metrics. */
unsigned nw__informer_lists(const nw__informer *inf);

/* A new reference to the cached object (json_decref it), or NULL.  ns is
 * ignored for cluster-scoped resources. */
json_t *nw__informer_get(nw__informer *inf, const char *ns, const char *name);

/* Calls fn(user, obj) for every cached object until fn returns non-zero;
 * returns the number visited.  Do not modify the informer from fn. */
typedef int (*nw__informer_visit_fn)(void *user, const json_t *obj);
size_t nw__informer_foreach(nw__informer *inf, nw__informer_visit_fn fn,
                            void *user);
/* Same over the objects whose index `index` has the value `value`. */
size_t nw__informer_index_foreach(nw__informer *inf, const char *index,
                                  const char *value, nw__informer_visit_fn fn,
                                  void *user);
/* How many objects the index holds under value (0 when unknown). */
size_t nw__informer_index_count(nw__informer *inf, const char *index,
                                const char *value);

#endif
