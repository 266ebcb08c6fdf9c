/*
 * Reading and changing the parts of Kubernetes objects the controllers
 * share: status conditions, labels, annotations, taints, finalizers.
 * Objects are jansson trees as the API returns them.
 */
#ifndef NW_CLUSTER_OBJUTIL_H
#define NW_CLUSTER_OBJUTIL_H

#include <jansson.h>
#include <stdint.h>

/* Annotation with the USD/hour of the offering a claim was launched for. */
#define NW__ANN_PRICE "nodewright.dev/price-per-hour"

/* The status ("True", "False", "Unknown") of condition `type` in
 * status.conditions, or NULL when absent.  Borrowed. */
const char *nw__cond_status(const json_t *obj, const char *type);
/* Its lastTransitionTime in Unix ms, or -1. */
int64_t nw__cond_time(const json_t *obj, const char *type);

/*
 * A copy of obj's status.conditions with `type` set (lastTransitionTime
 * kept when the status does not change).  A new reference for a merge
 * patch {"status": {"conditions": <it>}} (merge patches replace arrays).
 */
json_t *nw__cond_with(const json_t *obj, const char *type, const char *status,
                      const char *reason, const char *message, int64_t now_ms);

/*
 * Makes `patch` (a merge patch; the reference is taken and returned)
 * conditional on obj's metadata.resourceVersion, so the API server
 * refuses it with 409 Conflict when obj changed meanwhile.  Status
 * condition lists are written whole, so a patch computed from a stale copy
 * would silently drop a condition another write just added.
 */
json_t *nw__guarded(const json_t *obj, json_t *patch);

/* metadata.labels[key] / annotations[key], borrowed; NULL when absent. */
const char *nw__label(const json_t *obj, const char *key);
const char *nw__annotation(const json_t *obj, const char *key);
/* metadata.namespace (NULL for cluster-scoped) and metadata.name. */
const char *nw__obj_ns(const json_t *obj);
const char *nw__obj_name(const json_t *obj);
/* Non-zero when metadata.deletionTimestamp is set. */
int nw__obj_deleting(const json_t *obj);
/* metadata.creationTimestamp in Unix ms, or -1. */
int64_t nw__obj_created_ms(const json_t *obj);
/* Non-zero when metadata.finalizers contains f. */
int nw__has_finalizer(const json_t *obj, const char *f);
/* A copy of metadata.finalizers without f (new reference). */
json_t *nw__finalizers_without(const json_t *obj, const char *f);
/* Non-zero when spec.taints (nodes) contains a taint with this key. */
int nw__has_taint(const json_t *node, const char *key);

/* RFC 3339 "2026-01-02T03:04:05Z" of ms into buf (>= 32 bytes). */
void nw__rfc3339(int64_t ms, char *buf, size_t len);

#endif
