/*
 * The Kubernetes REST client: libcurl (HTTP/1.1 with keep-alive, one
 * connection cache per client; see kreq_setup for why not HTTP/2), JSON bodies as jansson values, a client-side QPS/burst token
 * bucket, and credentials from nw__kube_config.
 *
 * Two modes, chosen at creation:
 *  - loop mode (loop != NULL): requests run on a curl multi handle driven
 *    by the libuv loop (uv_poll per socket, one uv_timer); nothing blocks
 *    on the network.  Completion callbacks run on the loop thread, never
 *    from inside the call that started the request.  Not thread-safe: use
 *    from the loop thread only.
 *  - blocking mode (loop == NULL): every request is performed before the
 *    call returns and its callback has run by then.  Thread-safe; meant
 *    for worker threads, tools, tests and benchmarks.
 * The higher-level operations in kube/ops.h work in both modes.
 *
 * Credentials come from the config at each request start; an exec plugin
 * (kubeconfig users[].user.exec) runs synchronously when its cached
 * credential is missing or expiring, which blocks the loop for the
 * plugin's run time (once per credential lifetime).
 *
 * Map of core/kube/:
 *   config.h    kubeconfig / in-cluster config, credentials
 *   resource.h  group/version/resource constants and REST paths
 *   client.h    this file: requests, streams, QPS limit
 *   ops.h       get/create/replace/patch/update-with-retry/finalizers/
 *               delete with preconditions/eviction
 *   informer.h  list+watch caches with indexes and handlers
 *   leader.h    Lease-based leader election
 *   events.h    events.k8s.io/v1 recorder with aggregation
 *   kutil.h     small shared helpers (errors, base64, time, dotted get)
 */
#ifndef NW_KUBE_CLIENT_H
#define NW_KUBE_CLIENT_H

#include <jansson.h>
#include <nodewright/types.h>
#include <uv.h>

#include "kube/config.h"
#include "kube/resource.h"

typedef struct nw__kube_client nw__kube_client;

typedef struct nw__kube_client_options {
  double qps;          /* sustained requests per second; 0: 50 */
  int burst;           /* bucket size; 0: 100 */
  long timeout_ms;     /* per request except watches; 0: 60000 */
  const char *user_agent; /* NULL: "nodewright/<version>" */
} nw__kube_client_options;

/*
 * The outcome of a request, handed (borrowed) to completion callbacks.
 *   status: NW_OK for 2xx; NW_ERR_NOT_FOUND for 404; NW_ERR_AUTH for 401
 *           and 403; NW_ERR_RETRYABLE for 429, 5xx, timeouts and
 *           connection failures; NW_ERR_INVALID for 400/422, bad TLS trust
 *           (wrong CA) and requests that could not be built; NW_ERR for
 *           anything else, including 409 Conflict (check http_status).
 *   body:   the parsed JSON body (the object, a list, or a metav1.Status on
 *           errors), or NULL.  Borrowed: json_incref it to keep it.
 *   reason: metav1.Status reason ("Conflict", "AlreadyExists", "Expired",
 *           "TooManyRequests", ...) or "".
 *   err:    a human message for non-OK outcomes naming the method, path
 *           and cause; never contains credentials.
 */
typedef struct nw__kube_response {
  nw_status status;
  long http_status;   /* 0 when no HTTP response arrived */
  json_t *body;
  const char *reason;
  nw_error err;
} nw__kube_response;

typedef void (*nw__kube_done_fn)(void *user, nw__kube_response *resp);

/*
 * Creates a client.  cfg is borrowed and must outlive the client; loop may
 * be NULL (blocking mode); opts may be NULL.  Returns NULL with err set on
 * failure.  Free with nw__kube_client_free.
 */
nw__kube_client *nw__kube_client_new(nw__kube_config *cfg, uv_loop_t *loop,
                                     const nw__kube_client_options *opts,
                                     nw_error *err);

/*
 * Cancels outstanding requests (their callbacks are not called) and frees
 * the client.  In loop mode the uv handles close asynchronously: run the
 * loop (uv_run) afterwards so the memory is released.
 */
void nw__kube_client_free(nw__kube_client *c);

nw__kube_config *nw__kube_client_config(nw__kube_client *c);
uv_loop_t *nw__kube_client_loop(nw__kube_client *c);

/* A request in flight (loop mode); see nw__kube_cancel. */
typedef struct nw__kube_req nw__kube_req;

/*
 * Starts a request.  method: "GET", "POST", "PUT", "PATCH", "DELETE";
 * path: from nw__kube_path ("/api/v1/nodes?limit=10"); content_type: NULL
 * for "application/json", or "application/merge-patch+json",
 * "application/json-patch+json", "application/strategic-merge-patch+json";
 * body: serialized now (borrowed) or NULL.  All pointers borrowed.
 *
 * done(user, resp) is called exactly once: on completion, or with status
 * NW_ERR and message "... canceled: client closed" when the client is
 * freed first (so callers can release their state; they must not start
 * new requests from that callback).  Not called after nw__kube_cancel.
 *
 * Returns a handle valid until done runs (loop mode), NULL in blocking
 * mode (the request has completed).
 */
nw__kube_req *nw__kube_request(nw__kube_client *c, const char *method,
                               const char *path, const char *content_type,
                               const json_t *body, nw__kube_done_fn done,
                               void *user);

/* Cancels a request or stream: its callbacks will not run.  Safe from
 * inside any callback of this client.  r may be NULL. */
void nw__kube_cancel(nw__kube_req *r);

/*
 * Blocking convenience (blocking mode only): performs the request and
 * returns its status.  *out (if out is non-NULL) receives a new reference to
 * the body the caller json_decrefs, *http the HTTP status; err gets the
 * message.  NW_ERR_INVALID when called on a loop-mode client.
 */
nw_status nw__kube_call(nw__kube_client *c, const char *method,
                        const char *path, const char *content_type,
                        const json_t *body, json_t **out, long *http,
                        nw_error *err);

/*
 * A long-running streamed GET (watches), loop mode only.  on_event(user,
 * obj) runs for each newline-delimited JSON object of a 200 response (obj
 * borrowed); done(user, resp) runs once when the stream ends for any
 * reason (resp->body holds the Status of a non-200 answer), as for
 * nw__kube_request.  Returns a handle for nw__kube_cancel, NULL when the
 * client is in blocking mode (done has then run with NW_ERR_INVALID).
 */
typedef void (*nw__kube_event_fn)(void *user, json_t *obj);
nw__kube_req *nw__kube_stream_start(nw__kube_client *c, const char *path,
                                    nw__kube_event_fn on_event,
                                    nw__kube_done_fn done, void *user);

/* Requests sent so far (for tests and metrics). */
unsigned long nw__kube_client_requests(const nw__kube_client *c);

#endif
