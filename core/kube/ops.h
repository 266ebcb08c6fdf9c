/*
 * Typed write operations on top of nw__kube_request.  They work on both
 * client modes: on a loop-mode client they are asynchronous state
 * machines on the loop; on a blocking-mode client every callback has run
 * before the call returns.
 *
 * Every `done` receives an nw__kube_response as described in client.h:
 * resp->body is the object the server returned (borrowed).  Pointer
 * arguments are borrowed and may be freed as soon as the call returns.
 */
#ifndef NW_KUBE_OPS_H
#define NW_KUBE_OPS_H

#include "kube/client.h"

/* GET one object. */
void nw__kube_get(nw__kube_client *c, const nw__kube_resource *r,
                  const char *ns, const char *name, nw__kube_done_fn done,
                  void *user);

/* POST obj to its collection; 409 AlreadyExists comes back as NW_ERR with
 * resp->reason "AlreadyExists". */
void nw__kube_create(nw__kube_client *c, const nw__kube_resource *r,
                     const char *ns, const json_t *obj, nw__kube_done_fn done,
                     void *user);

/* PUT obj (the whole object, metadata.resourceVersion included, so the
 * server rejects it with 409 Conflict when it changed meanwhile); sub is
 * NULL or "status". */
void nw__kube_replace(nw__kube_client *c, const nw__kube_resource *r,
                      const char *ns, const char *name, const char *sub,
                      const json_t *obj, nw__kube_done_fn done, void *user);

typedef enum nw__kube_patch_type {
  NW__KUBE_PATCH_MERGE = 0,     /* application/merge-patch+json */
  NW__KUBE_PATCH_JSON = 1,      /* application/json-patch+json (array of ops) */
  NW__KUBE_PATCH_STRATEGIC = 2  /* built-in types only */
} nw__kube_patch_type;

/* PATCH; sub is NULL or "status". */
void nw__kube_patch(nw__kube_client *c, const nw__kube_resource *r,
                    const char *ns, const char *name, const char *sub,
                    nw__kube_patch_type type, const json_t *patch,
                    nw__kube_done_fn done, void *user);

/*
 * Read-modify-write with optimistic concurrency.  mutate(mutate_user, obj)
 * edits obj (a private copy it may change freely) and returns 0 to write
 * it, 1 when nothing needs writing (done then gets NW_OK, http 0 and the
 * unchanged object), or -1 to give up (done gets NW_ERR_INVALID).  The
 * first attempt starts from `start` (e.g. the informer's copy) when
 * non-NULL, else from a GET; on 409 Conflict the object is fetched again
 * and mutate re-applied, up to 10 attempts.  sub: NULL or "status".
 * Unknown fields survive because the whole object is written back.
 */
typedef int (*nw__kube_mutate_fn)(void *mutate_user, json_t *obj);
void nw__kube_update(nw__kube_client *c, const nw__kube_resource *r,
                     const char *ns, const char *name, const char *sub,
                     const json_t *start, nw__kube_mutate_fn mutate,
                     void *mutate_user, nw__kube_done_fn done, void *user);

/* Adds / removes a metadata.finalizers entry (idempotent: NW_OK with http
 * 0 when already in the wanted state), with conflict retries. */
void nw__kube_finalizer_add(nw__kube_client *c, const nw__kube_resource *r,
                            const char *ns, const char *name,
                            const char *finalizer, nw__kube_done_fn done,
                            void *user);
void nw__kube_finalizer_remove(nw__kube_client *c, const nw__kube_resource *r,
                               const char *ns, const char *name,
                               const char *finalizer, nw__kube_done_fn done,
                               void *user);

/* DELETE with optional preconditions (uid, resource_version: NULL for
 * none), propagation ("Foreground", "Background", "Orphan" or NULL) and
 * grace period (-1: the object's default).  A failed precondition is 409
 * Conflict (NW_ERR); an object already gone is NW_ERR_NOT_FOUND. */
typedef struct nw__kube_delete_options {
  const char *uid;
  const char *resource_version;
  const char *propagation;
  long grace_seconds;
} nw__kube_delete_options;
void nw__kube_delete(nw__kube_client *c, const nw__kube_resource *r,
                     const char *ns, const char *name,
                     const nw__kube_delete_options *opts,
                     nw__kube_done_fn done, void *user);

/*
 * Evicts a pod through the policy/v1 Eviction subresource, so
 * PodDisruptionBudgets are honoured.  A budget that forbids it now answers
 * 429: done then gets NW_ERR_RETRYABLE with reason "TooManyRequests" —
 * try again later.  grace_seconds -1: the pod's own.
 */
void nw__kube_evict(nw__kube_client *c, const char *ns, const char *pod,
                    long grace_seconds, nw__kube_done_fn done, void *user);

#endif
