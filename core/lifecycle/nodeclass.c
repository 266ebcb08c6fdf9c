#include "lifecycle/nodeclass.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/objutil.h"
#include "cluster/providers.h"
#include "metrics/metrics.h"
#include "util/arena.h"
#include "util/log.h"

enum { FIRST_MS = 2000, PERIOD_MS = 30000 };

struct nw__nodeclass_status {
  nw__env *env;
  nw__timer *timer;
  int running;          /* a job is in flight */
  int closing;
};

/* One node class to resolve: captured on the loop, answered on a worker. */
typedef struct item {
  char *name;
  char *json;           /* the object, as the provider gets it */
  nw__plugin *prov;
  nw_status st;
  nw_error err;
  char *status;         /* the provider's answer (heap), or NULL */
} item;

typedef struct job {
  nw__nodeclass_status *c;
  item *items;
  size_t n;
} job;

static void tick(void *arg);

static void job_free(job *j) {
  for (size_t i = 0; i < j->n; i++) {
    free(j->items[i].name);
    free(j->items[i].json);
    free(j->items[i].status);
  }
  free(j->items);
  free(j);
}

/* On the worker: only the captured copies are read. */
static void work(void *arg) {
  job *j = arg;
  for (size_t i = 0; i < j->n; i++) {
    item *it = &j->items[i];
    const nw_provider_vtable *vt = nw__plugin_provider(it->prov);
    nw_arena *a = nw__arena_new();
    const char *out = NULL;
    it->st = vt->node_class_status(nw__plugin_state(it->prov), it->json, a,
                                   &out, &it->err);
    if (it->st == NW_OK && out)
      it->status = strdup(out);
    nw__arena_free(a);
  }
}

static void write_done(void *arg, nw_status st, const json_t *res,
                       const char *msg) {
  (void)res;
  char *name = arg;
  if (st != NW_OK && st != NW_ERR_NOT_FOUND)
    NW_WARN("nodeclass", "status of %s not written: %s", name, msg ? msg : "");
  free(name);
}

/* The conditions the provider reported, with lastTransitionTime kept from
 * `obj` while a condition's status holds; conditions it no longer reports
 * are dropped.  New reference. */
static json_t *merged_conditions(const json_t *obj, const json_t *reported,
                                 int64_t now) {
  json_t *kept = json_array();
  const json_t *have = json_object_get(json_object_get(obj, "status"), "conditions");
  size_t i, k;
  const json_t *c, *r;
  json_array_foreach(have, i, c) {
    const char *t = json_string_value(json_object_get(c, "type"));
    json_array_foreach(reported, k, r) {
      const char *rt = json_string_value(json_object_get(r, "type"));
      if (t && rt && strcmp(t, rt) == 0) {
        json_array_append_new(kept, json_deep_copy(c));
        break;
      }
    }
  }
  json_t *cur = json_pack("{s:{s:o}}", "status", "conditions", kept);
  json_array_foreach(reported, k, r) {
    const char *type = json_string_value(json_object_get(r, "type"));
    const char *status = json_string_value(json_object_get(r, "status"));
    if (!type || !status)
      continue;
    const char *reason = json_string_value(json_object_get(r, "reason"));
    const char *message = json_string_value(json_object_get(r, "message"));
    json_t *next = nw__cond_with(cur, type, status, reason ? reason : type,
                                 message ? message : "", now);
    json_object_set_new(json_object_get(cur, "status"), "conditions", next);
  }
  json_t *out = json_incref(json_object_get(json_object_get(cur, "status"), "conditions"));
  json_decref(cur);
  return out;
}

/* Writes the provider's answer when it differs from the stored status. */
static void apply(nw__nodeclass_status *c, const item *it) {
  nw__env *env = c->env;
  json_t *obj = nw__store_get(env->store, NW__K_NODECLASS, NULL, it->name);
  json_error_t jerr;
  json_t *want = it->status ? json_loads(it->status, 0, &jerr) : NULL;
  if (!obj || !json_is_object(want)) {
    if (obj && it->status)
      NW_WARN("nodeclass", "%s: the provider's status is not a JSON object",
              it->name);
    json_decref(want);
    return;
  }
  json_t *conds = merged_conditions(obj, json_object_get(want, "conditions"),
                                    env->ops->now_ms(env));
  json_object_set_new(want, "conditions", conds);
  const json_t *have = json_object_get(obj, "status");
  int same = 1;
  const char *k;
  json_t *v;
  json_object_foreach(want, k, v) {
    same = same && json_equal(v, json_object_get(have, k));
  }
  if (!same) {
    /* Unguarded: nodewright is the only writer of this status. */
    json_t *patch = json_pack("{s:O}", "status", want);
    env->ops->patch(env, NW__K_NODECLASS, NULL, it->name, patch, 1, write_done,
                    strdup(it->name));
    json_decref(patch);
    json_t *shown = json_pack("{s:O}", "status", want);
    const char *ready = nw__cond_status(shown, "Ready");
    NW_INFO("nodeclass", "%s: status written (Ready=%s)", it->name,
            ready ? ready : "?");
    json_decref(shown);
  }
  json_decref(want);
}

static void done(void *arg) {
  job *j = arg;
  nw__nodeclass_status *c = j->c;
  c->running = 0;
  for (size_t i = 0; !c->closing && i < j->n; i++) {
    item *it = &j->items[i];
    if (it->st == NW_OK) {
      apply(c, it);
    } else {
      NW_WARN("nodeclass", "%s: status unknown: %s", it->name, it->err.message);
      nw__metric_add("provider_errors_total", "call=node_class_status", 1);
    }
  }
  job_free(j);
  if (c->closing)
    free(c);
}

typedef struct collect {
  nw__env *env;
  job *j;
  size_t cap;
} collect;

/* The provider serving the object's apiVersion group and kind. */
static nw__plugin *provider_of(nw__env *env, const json_t *obj) {
  const char *api = json_string_value(json_object_get(obj, "apiVersion"));
  const char *kind = json_string_value(json_object_get(obj, "kind"));
  if (!api || !kind)
    return NULL;
  char group[256];
  const char *slash = strchr(api, '/');
  size_t n = slash ? (size_t)(slash - api) : 0;
  if (n >= sizeof(group))
    return NULL;
  memcpy(group, api, n);
  group[n] = '\0';
  return nw__provider_for_kind(env->plugins, group, kind);
}

static int add_class(void *user, json_t *obj) {
  collect *col = user;
  nw__plugin *prov = provider_of(col->env, obj);
  const nw_provider_vtable *vt = prov ? nw__plugin_provider(prov) : NULL;
  if (!vt || !vt->node_class_status || nw__obj_deleting(obj) || !nw__obj_name(obj))
    return 0;
  if (col->j->n == col->cap) {
    size_t cap = col->cap ? col->cap * 2 : 8;
    item *grown = realloc(col->j->items, cap * sizeof(*grown));
    if (!grown)
      return 0;
    col->j->items = grown;
    col->cap = cap;
  }
  item *it = &col->j->items[col->j->n++];
  memset(it, 0, sizeof(*it));
  it->name = strdup(nw__obj_name(obj));
  it->json = json_dumps(obj, JSON_COMPACT);
  it->prov = prov;
  return 0;
}

static void tick(void *arg) {
  nw__nodeclass_status *c = arg;
  nw__env *env = c->env;
  c->timer = env->ops->timer_start(env, PERIOD_MS, tick, c);
  if (c->running)
    return;
  job *j = calloc(1, sizeof(*j));
  j->c = c;
  collect col = {env, j, 0};
  nw__store_foreach(env->store, NW__K_NODECLASS, add_class, &col);
  if (j->n == 0) {
    job_free(j);
    return;
  }
  c->running = 1;
  env->ops->submit(env, work, done, j);
}

nw__nodeclass_status *nw__nodeclass_status_new(nw__env *env) {
  nw__nodeclass_status *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->env = env;
  c->timer = env->ops->timer_start(env, FIRST_MS, tick, c);
  return c;
}

void nw__nodeclass_status_free(nw__nodeclass_status *c) {
  if (!c)
    return;
  if (c->timer)
    c->env->ops->timer_stop(c->env, c->timer);
  c->timer = NULL;
  c->closing = 1;
  if (!c->running)
    free(c);
}
