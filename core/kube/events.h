/*
 * An events.k8s.io/v1 Event recorder with client-side aggregation: the
 * first occurrence of (object, type, reason, action, note) creates an
 * Event; repeats within 6 minutes patch its `series` (count and
 * lastObservedTime) instead of creating new objects, as client-go's
 * events broadcaster does.  Works on both client modes.
 */
#ifndef NW_KUBE_EVENTS_H
#define NW_KUBE_EVENTS_H

#include "kube/client.h"

typedef struct nw__kube_recorder nw__kube_recorder;

/* controller: reportingController ("nodewright.io/controller");
 * instance: reportingInstance (e.g. the pod name).  Both copied; client
 * borrowed and must outlive the recorder. */
nw__kube_recorder *nw__kube_recorder_new(nw__kube_client *client,
                                         const char *controller,
                                         const char *instance);
void nw__kube_recorder_free(nw__kube_recorder *r);

/*
 * Records an event about `regarding` (the object, borrowed: kind,
 * apiVersion, metadata.{name,namespace,uid,resourceVersion} are used).
 * type: "Normal" or "Warning"; reason: UpperCamelCase ("Launched");
 * action: what was done ("Provision").  Failures are logged, not returned:
 * events are best effort.
 */
void nw__kube_event(nw__kube_recorder *r, const json_t *regarding,
                    const char *type, const char *reason, const char *action,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Events written so far (creates + series patches), for tests. */
unsigned nw__kube_recorder_writes(const nw__kube_recorder *r);

#endif
