/*
 * What the controllers (provisioning, lifecycle, termination, disruption)
 * may do besides reading the store: time, timers, work off the loop,
 * writes to the Kubernetes API, provider and pricing plugins.
 *
 * Two implementations: the daemon's (libuv timers and thread pool, the
 * kube client, real plugins) and the simulator's (a virtual clock, an
 * in-memory API that writes straight into the store, the same plugins).
 * Controllers written against this table run unchanged in both, which is
 * how `nodewright simulate` exercises the real engine.
 *
 * Every callback runs on the loop thread.  Objects passed in are borrowed;
 * objects handed to `done` callbacks are borrowed for the call.
 */
#ifndef NW_CLUSTER_ENV_H
#define NW_CLUSTER_ENV_H

#include <jansson.h>
#include <stdint.h>

#include <nodewright/nodewright.h>

#include "cluster/store.h"
#include "plugin/loader.h"

typedef struct nw__env nw__env;
typedef struct nw__timer nw__timer;

typedef void (*nw__timer_fn)(void *arg);
/* Completion of a write: status NW_OK or an error with a message; result
 * is the object as the API returned it (NULL on error). */
typedef void (*nw__write_done_fn)(void *arg, nw_status status,
                                  const json_t *result, const char *message);

typedef struct nw__env_ops {
  /* Wall clock, Unix epoch milliseconds (virtual in the simulator). */
  int64_t (*now_ms)(nw__env *env);

  /* One-shot timer; fires once on the loop unless stopped first.  The
   * returned handle is valid until it fires or is stopped. */
  nw__timer *(*timer_start)(nw__env *env, int64_t delay_ms, nw__timer_fn fn,
                            void *arg);
  void (*timer_stop)(nw__env *env, nw__timer *t);

  /* Runs work(arg) off the loop (a worker thread; may block on plugins),
   * then done(arg) on the loop.  The simulator runs work at once and done
   * after the virtual latency the work reported through
   * nw__env_set_latency(). */
  void (*submit)(nw__env *env, nw__timer_fn work, nw__timer_fn done,
                 void *arg);

  /* API writes.  `kind` selects the resource; objects carry their own
   * metadata.namespace/name.  create: POST; patch: JSON merge patch (of
   * the status subresource when `status` is non-zero); remove: DELETE
   * (objects with finalizers get a deletionTimestamp instead). */
  void (*create)(nw__env *env, nw__kind kind, const json_t *obj,
                 nw__write_done_fn done, void *arg);
  void (*patch)(nw__env *env, nw__kind kind, const char *ns, const char *name,
                const json_t *merge_patch, int status, nw__write_done_fn done,
                void *arg);
  void (*remove)(nw__env *env, nw__kind kind, const char *ns,
                 const char *name, nw__write_done_fn done, void *arg);
  /* The Eviction API: NW_ERR_RETRYABLE when a PDB forbids it now (429). */
  void (*evict)(nw__env *env, const char *ns, const char *name,
                nw__write_done_fn done, void *arg);

  /* A Kubernetes Event about `regarding` (type "Normal" or "Warning"). */
  void (*event)(nw__env *env, const json_t *regarding, const char *type,
                const char *reason, const char *note);
} nw__env_ops;

/*
 * The environment: ops, the store, the plugins, and settings shared by the
 * controllers.  Implementations embed this struct first in their own.
 */
struct nw__env {
  const nw__env_ops *ops;
  nw__store *store;
  nw__plugin_set *plugins;
  const char *cluster_name;
  int64_t batch_idle_ms;      /* 1000 */
  int64_t batch_max_ms;       /* 10000 */
  /* Set by the simulator: work done in submit() reports how long it would
   * have taken (for example a node's boot time). */
  int64_t pending_latency_ms;
};

/* Records the virtual duration of the work running in submit() (ignored by
 * the daemon, which takes as long as it takes). */
static inline void nw__env_set_latency(nw__env *env, int64_t ms) {
  env->pending_latency_ms = ms;
}

#endif
