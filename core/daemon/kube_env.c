#include "daemon/kube_env.h"

#include <stdlib.h>
#include <string.h>

#include "kube/events.h"
#include "kube/kutil.h"
#include "kube/informer.h"
#include "kube/ops.h"
#include "kube/resource.h"
#include "model/objects.h"
#include "util/log.h"

/* The informers that feed the store: one per resource; node classes have
 * one per provider's kind, all landing in NW__K_NODECLASS. */
static const struct {
  nw__kind kind;
  const nw__kube_resource *res;
} feeds[] = {
    {NW__K_NODE, &NW__KUBE_NODES},
    {NW__K_POD, &NW__KUBE_PODS},
    {NW__K_NODECLAIM, &NW__KUBE_NODECLAIMS},
    {NW__K_NODEPOOL, &NW__KUBE_NODEPOOLS},
    {NW__K_NODECLASS, &NW__KUBE_EC2NODECLASSES},
    {NW__K_NODECLASS, &NW__KUBE_KINDNODECLASSES},
    {NW__K_DAEMONSET, &NW__KUBE_DAEMONSETS},
    {NW__K_PDB, &NW__KUBE_PDBS},
    {NW__K_PV, &NW__KUBE_PVS},
    {NW__K_PVC, &NW__KUBE_PVCS},
    {NW__K_STORAGECLASS, &NW__KUBE_STORAGECLASSES},
};
enum { N_FEEDS = sizeof(feeds) / sizeof(feeds[0]) };

typedef struct feed {
  struct nw__kube_env *env;
  nw__kind kind;
  nw__informer *inf;
  int synced;
} feed;

struct nw__kube_env {
  nw__env base;
  uv_loop_t *loop;
  nw__kube_client *client;
  nw__kube_recorder *recorder;
  feed feeds[N_FEEDS];
  size_t jobs;          /* submitted worker jobs whose done has not run */
  int n_synced;
  void (*on_synced)(void *user);
  void *user;
};

/* The resource descriptor that writes of a kind go to. */
static const nw__kube_resource *resource_of(nw__kind kind) {
  for (size_t i = 0; i < N_FEEDS; i++) {
    if (feeds[i].kind == kind)
      return feeds[i].res;
  }
  return NULL;
}

/* ---- informer handlers ------------------------------------------------- */

static void on_add(void *user, const json_t *obj) {
  feed *f = user;
  nw__store_put(f->env->base.store, f->kind, json_incref((json_t *)obj));
}

static void on_update(void *user, const json_t *old_obj, const json_t *obj) {
  (void)old_obj;
  on_add(user, obj);
}

static void on_delete(void *user, const json_t *obj) {
  feed *f = user;
  const json_t *meta = json_object_get(obj, "metadata");
  nw__store_remove(f->env->base.store, f->kind,
                   json_string_value(json_object_get(meta, "namespace")),
                   json_string_value(json_object_get(meta, "name")));
}

/* Pods are most of the cache: keep of each only what the engine reads. */
static json_t *prune_pod(void *user, json_t *obj) {
  (void)user;
  return nw__pod_prune(obj);
}

static void on_synced(void *user) {
  feed *f = user;
  nw__kube_env *e = f->env;
  if (f->synced)
    return;
  f->synced = 1;
  if (++e->n_synced == N_FEEDS && e->on_synced)
    e->on_synced(e->user);
}

/* ---- ops --------------------------------------------------------------- */

static int64_t now_ms(nw__env *env) {
  (void)env;
  return nw__kube_now_ms();
}

struct nw__timer {
  uv_timer_t h;
  nw__timer_fn fn;
  void *arg;
};

static void timer_closed(uv_handle_t *h) { free(h->data); }

static void timer_fired(uv_timer_t *h) {
  nw__timer *t = h->data;
  nw__timer_fn fn = t->fn;
  void *arg = t->arg;
  uv_close((uv_handle_t *)&t->h, timer_closed);
  fn(arg);
}

static nw__timer *timer_start(nw__env *env, int64_t delay_ms, nw__timer_fn fn,
                              void *arg) {
  nw__kube_env *e = (nw__kube_env *)env;
  nw__timer *t = calloc(1, sizeof(*t));
  if (!t)
    return NULL;
  t->fn = fn;
  t->arg = arg;
  uv_timer_init(e->loop, &t->h);
  t->h.data = t;
  uv_timer_start(&t->h, timer_fired, (uint64_t)(delay_ms > 0 ? delay_ms : 0), 0);
  return t;
}

static void timer_stop(nw__env *env, nw__timer *t) {
  (void)env;
  if (!t || uv_is_closing((uv_handle_t *)&t->h))
    return;
  uv_timer_stop(&t->h);
  uv_close((uv_handle_t *)&t->h, timer_closed);
}

typedef struct job {
  uv_work_t req;
  struct nw__kube_env *e;
  nw__timer_fn work;
  nw__timer_fn done;
  void *arg;
} job;

static void job_work(uv_work_t *req) {
  job *j = req->data;
  j->work(j->arg);
}

static void job_done(uv_work_t *req, int status) {
  job *j = req->data;
  (void)status;
  j->e->jobs--;
  j->done(j->arg);
  free(j);
}

static void submit(nw__env *env, nw__timer_fn work, nw__timer_fn done,
                   void *arg) {
  nw__kube_env *e = (nw__kube_env *)env;
  job *j = calloc(1, sizeof(*j));
  j->e = e;
  e->jobs++;
  j->work = work;
  j->done = done;
  j->arg = arg;
  j->req.data = j;
  uv_queue_work(e->loop, &j->req, job_work, job_done);
}

typedef struct write_ctx {
  nw__write_done_fn done;
  void *arg;
} write_ctx;

static void write_done(void *user, nw__kube_response *resp) {
  write_ctx *w = user;
  if (w->done)
    w->done(w->arg, resp->status, resp->body,
            resp->status == NW_OK ? NULL : resp->err.message);
  free(w);
}

static write_ctx *ctx(nw__write_done_fn done, void *arg) {
  write_ctx *w = calloc(1, sizeof(*w));
  w->done = done;
  w->arg = arg;
  return w;
}

static const char *ns_of(const json_t *obj) {
  return json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
}

static void op_create(nw__env *env, nw__kind kind, const json_t *obj,
                      nw__write_done_fn done, void *arg) {
  nw__kube_env *e = (nw__kube_env *)env;
  nw__kube_create(e->client, resource_of(kind), ns_of(obj), obj, write_done,
                  ctx(done, arg));
}

static void op_patch(nw__env *env, nw__kind kind, const char *ns,
                     const char *name, const json_t *patch, int status,
                     nw__write_done_fn done, void *arg) {
  nw__kube_env *e = (nw__kube_env *)env;
  nw__kube_patch(e->client, resource_of(kind), ns, name,
                 status ? "status" : NULL, NW__KUBE_PATCH_MERGE, patch,
                 write_done, ctx(done, arg));
}

static void op_remove(nw__env *env, nw__kind kind, const char *ns,
                      const char *name, nw__write_done_fn done, void *arg) {
  nw__kube_env *e = (nw__kube_env *)env;
  nw__kube_delete(e->client, resource_of(kind), ns, name, NULL, write_done,
                  ctx(done, arg));
}

static void op_evict(nw__env *env, const char *ns, const char *name,
                     nw__write_done_fn done, void *arg) {
  nw__kube_env *e = (nw__kube_env *)env;
  nw__kube_evict(e->client, ns, name, -1, write_done, ctx(done, arg));
}

/* Informer lists drop kind/apiVersion from items; events need them. */
static const char *kind_of(const json_t *obj, nw__kube_env *e) {
  const char *k = json_string_value(json_object_get(obj, "kind"));
  if (k)
    return k;
  (void)e;
  if (json_object_get(json_object_get(obj, "spec"), "containers"))
    return "Pod";
  if (json_object_get(json_object_get(obj, "spec"), "nodeClassRef"))
    return "NodeClaim";
  if (json_object_get(json_object_get(obj, "spec"), "template"))
    return "NodePool";
  return "Node";
}

static void op_event(nw__env *env, const json_t *regarding, const char *type,
                     const char *reason, const char *note) {
  nw__kube_env *e = (nw__kube_env *)env;
  json_t *r = json_copy((json_t *)regarding);
  if (!json_object_get(r, "kind"))
    json_object_set_new(r, "kind", json_string(kind_of(regarding, e)));
  nw__kube_event(e->recorder, r, type, reason, reason, "%s", note ? note : "");
  json_decref(r);
}

static const nw__env_ops kube_ops = {
    .now_ms = now_ms,
    .timer_start = timer_start,
    .timer_stop = timer_stop,
    .submit = submit,
    .create = op_create,
    .patch = op_patch,
    .remove = op_remove,
    .evict = op_evict,
    .event = op_event,
};

nw__kube_env *nw__kube_env_new(uv_loop_t *loop, nw__kube_client *client,
                               nw__plugin_set *plugins, const char *cluster,
                               void (*synced)(void *user), void *user) {
  nw__kube_env *e = calloc(1, sizeof(*e));
  if (!e)
    return NULL;
  e->base.ops = &kube_ops;
  e->base.store = nw__store_new();
  e->base.plugins = plugins;
  e->base.cluster_name = cluster;
  e->base.batch_idle_ms = 1000;
  e->base.batch_max_ms = 10000;
  e->loop = loop;
  e->client = client;
  e->on_synced = synced;
  e->user = user;
  e->recorder = nw__kube_recorder_new(client, "karpenter", "nodewright");
  for (size_t i = 0; i < N_FEEDS; i++) {
    feed *f = &e->feeds[i];
    f->env = e;
    f->kind = feeds[i].kind;
    nw__informer_options o = {.transform = f->kind == NW__K_POD ? prune_pod : NULL};
    f->inf = nw__informer_new(client, feeds[i].res, &o);
    if (f->kind == NW__K_POD)
      nw__informer_add_index_field(f->inf, "node", "spec.nodeName");
    nw__informer_add_handlers(f->inf, &(nw__informer_handlers){
                                          .on_add = on_add,
                                          .on_update = on_update,
                                          .on_delete = on_delete,
                                          .on_synced = on_synced,
                                          .user = f});
    nw__informer_start(f->inf);
  }
  return e;
}

nw__env *nw__kube_env_env(nw__kube_env *e) { return &e->base; }

size_t nw__kube_env_jobs(const nw__kube_env *e) { return e ? e->jobs : 0; }

void nw__kube_env_free(nw__kube_env *e) {
  if (!e)
    return;
  for (size_t i = 0; i < N_FEEDS; i++)
    nw__informer_free(e->feeds[i].inf);
  nw__kube_recorder_free(e->recorder);
  nw__store_free(e->base.store);
  free(e);
}
