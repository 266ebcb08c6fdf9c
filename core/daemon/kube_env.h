/*
 * The daemon's nw__env: libuv timers and thread pool, the Kubernetes API
 * through the kube client, the store fed by informers.
 */
#ifndef NW_DAEMON_KUBE_ENV_H
#define NW_DAEMON_KUBE_ENV_H

#include <uv.h>

#include "cluster/env.h"
#include "kube/client.h"

typedef struct nw__kube_env nw__kube_env;

/*
 * Creates the environment and starts one informer per kind the
 * controllers read.  loop and client (loop mode) are borrowed and must
 * outlive it; plugins borrowed.  on_synced(user) runs once every informer
 * has listed.  NULL on OOM.
 */
nw__kube_env *nw__kube_env_new(uv_loop_t *loop, nw__kube_client *client,
                               nw__plugin_set *plugins, const char *cluster,
                               void (*on_synced)(void *user), void *user);
/* The nw__env view of it (borrowed). */
nw__env *nw__kube_env_env(nw__kube_env *e);
/* Stops informers and frees; run the loop afterwards so handles close. */
/* Worker jobs (env->ops->submit) submitted and not yet done: the daemon
 * waits for them at shutdown, before plugins are unloaded. */
size_t nw__kube_env_jobs(const nw__kube_env *e);

void nw__kube_env_free(nw__kube_env *e);

#endif
