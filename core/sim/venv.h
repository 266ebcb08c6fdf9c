/*
 * The simulator's nw__env: a virtual clock with a timer queue and an
 * in-memory Kubernetes API that writes straight into the store.
 *
 * Time only moves when the simulator asks (nw__venv_run_until), so a day
 * of cluster life replays in seconds and every run with the same inputs
 * fires the same timers in the same order: timers due at the same instant
 * fire in the order they were started.
 *
 * API semantics follow the API server closely enough for the controllers:
 *  - create: rejects an existing name ("AlreadyExists"); fills uid,
 *    resourceVersion, creationTimestamp; metadata.generateName works;
 *  - patch: RFC 7386 JSON merge patch (null deletes a key, arrays are
 *    replaced); with `status` only the patch's `status` applies, without it
 *    `status` is ignored, as with a status subresource; an object being
 *    deleted whose finalizers become empty disappears;
 *  - remove: objects with finalizers get metadata.deletionTimestamp,
 *    others disappear at once;
 *  - evict: refused with NW_ERR_RETRYABLE (HTTP 429) when a
 *    PodDisruptionBudget matching the pod allows no disruption
 *    (status.disruptionsAllowed, which the simulated world keeps current);
 *  - every `done` callback runs from the timer queue at the current
 *    instant (never inside the call), as an asynchronous API would;
 *  - writes reach the store at once, but an object a write replaces or
 *    removes stays valid until the timer callback that wrote returns (in
 *    the daemon the store changes only with the next watch event, so a
 *    controller may read what it just patched).
 */
#ifndef NW_SIM_VENV_H
#define NW_SIM_VENV_H

#include <stdint.h>

#include "cluster/env.h"

typedef struct nw__venv nw__venv;

/* Called for every Event a controller records (env->ops->event).  All
 * arguments borrowed for the call. */
typedef void (*nw__venv_event_fn)(void *user, int64_t now_ms,
                                  const json_t *regarding, const char *type,
                                  const char *reason, const char *note);

/*
 * A new environment over `store` and `plugins` (both borrowed; they must
 * outlive it), with the virtual clock at start_ms (Unix ms) and `seed`
 * for generated names.  Returns NULL on OOM.
 */
nw__venv *nw__venv_new(nw__store *store, nw__plugin_set *plugins,
                       int64_t start_ms, uint64_t seed);
/* Frees pending timers (without firing them) and the env. */
void nw__venv_free(nw__venv *v);

/* The nw__env to hand to controllers; owned by v. */
nw__env *nw__venv_env(nw__venv *v);

void nw__venv_on_event(nw__venv *v, nw__venv_event_fn fn, void *user);

/*
 * Fires every timer due at or before until_ms in (time, start order),
 * advancing the clock to each, then sets the clock to until_ms.  Timers
 * that timers start are fired too when due.  Returns the number fired.
 */
uint64_t nw__venv_run_until(nw__venv *v, int64_t until_ms);

/* The time of the next pending timer, or INT64_MAX when none. */
int64_t nw__venv_next_due(const nw__venv *v);
int64_t nw__venv_now(const nw__venv *v);
/* Timers pending now (started, not fired, not stopped). */
size_t nw__venv_pending(const nw__venv *v);

/*
 * RFC 7386: applies `patch` (borrowed) to `target` and returns the result
 * (a new reference; target is borrowed and left unchanged).  A non-object
 * patch replaces the target.
 */
json_t *nw__merge_patch(const json_t *target, const json_t *patch);

/* Whether the PodDisruptionBudget `pdb` selects `pod` (same namespace,
 * selector matches).  Both borrowed. */
int nw__pdb_selects(const json_t *pdb, const json_t *pod);

#endif
