#include "kube/events.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kutil.h"
#include "kube/ops.h"
#include "util/log.h"

/* Repeats within this window join the existing series (client-go). */
#define SERIES_WINDOW_MS (6 * 60 * 1000)
/* Bound on remembered series; the oldest are dropped first. */
#define MAX_SERIES 4096

static const char *COMP = "events";

struct nw__kube_recorder {
  nw__kube_client *c;
  char *controller;
  char *instance;
  json_t *series; /* key -> {name, ns, count, last_ms} (insertion ordered) */
  unsigned writes;
  unsigned seq;
};

nw__kube_recorder *nw__kube_recorder_new(nw__kube_client *client,
                                         const char *controller,
                                         const char *instance) {
  nw__kube_recorder *r = calloc(1, sizeof(*r));
  if (!r)
    return NULL;
  r->c = client;
  r->controller = strdup(controller);
  r->instance = strdup(instance);
  r->series = json_object();
  return r;
}

void nw__kube_recorder_free(nw__kube_recorder *r) {
  if (!r)
    return;
  free(r->controller);
  free(r->instance);
  json_decref(r->series);
  free(r);
}

unsigned nw__kube_recorder_writes(const nw__kube_recorder *r) { return r->writes; }

static void on_written(void *user, nw__kube_response *resp) {
  (void)user;
  if (resp->status != NW_OK)
    NW_WARN(COMP, "recording event: %s", resp->err.message);
}

static void forget_old(nw__kube_recorder *r, int64_t now) {
  const char *key;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(r->series, tmp, key, v) {
    int64_t last = json_integer_value(json_object_get(v, "first_ms"));
    if (now - last < SERIES_WINDOW_MS && json_object_size(r->series) <= MAX_SERIES)
      break;
    json_object_del(r->series, key);
  }
}

static json_t *regarding_ref(const json_t *obj) {
  json_t *ref = json_object();
  static const char *const meta[] = {"name", "namespace", "uid", "resourceVersion"};
  json_t *m = json_object_get(obj, "metadata");
  const char *kind = json_string_value(json_object_get(obj, "kind"));
  const char *av = json_string_value(json_object_get(obj, "apiVersion"));
  if (kind)
    json_object_set_new(ref, "kind", json_string(kind));
  if (av)
    json_object_set_new(ref, "apiVersion", json_string(av));
  for (size_t i = 0; i < sizeof(meta) / sizeof(meta[0]); i++) {
    json_t *v = json_object_get(m, meta[i]);
    if (json_is_string(v))
      json_object_set(ref, meta[i], v);
  }
  return ref;
}

static void create_event(nw__kube_recorder *r, const json_t *regarding,
                         const char *type, const char *reason,
                         const char *action, const char *note,
                         const char *key, int64_t now) {
  char ts[64];
  char name[320];
  const char *obj_name = nw__kube_str(regarding, "metadata.name");
  const char *obj_ns = nw__kube_str(regarding, "metadata.namespace");
  /* Cluster-scoped objects get their events in "default", as kubectl
   * describe looks for them there. */
  const char *ns = obj_ns && *obj_ns ? obj_ns : "default";
  nw__kube_format_time(now, ts, sizeof(ts));
  snprintf(name, sizeof(name), "%.200s.%" PRIx64 "%04x", obj_name ? obj_name : "unknown",
           (uint64_t)now, (r->seq++) & 0xffff);
  json_t *ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s}",
                         "apiVersion", "events.k8s.io/v1", "kind", "Event",
                         "metadata", "name", name, "namespace", ns,
                         "eventTime", ts, "reportingController", r->controller,
                         "reportingInstance", r->instance, "action", action,
                         "reason", reason, "type", type, "regarding",
                         regarding_ref(regarding), "note", note);
  json_object_set_new(r->series, key,
                      json_pack("{s:s, s:s, s:I, s:I}", "name", name, "ns", ns,
                                "count", (json_int_t)1, "first_ms", (json_int_t)now));
  r->writes++;
  nw__kube_create(r->c, &NW__KUBE_EVENTS, ns, ev, on_written, NULL);
  json_decref(ev);
}

void nw__kube_event(nw__kube_recorder *r, const json_t *regarding,
                    const char *type, const char *reason, const char *action,
                    const char *fmt, ...) {
  char note[1024];
  char ts[64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(note, sizeof(note), fmt, ap);
  va_end(ap);
  int64_t now = nw__kube_now_ms();
  forget_old(r, now);
  const char *uid = nw__kube_str(regarding, "metadata.uid");
  const char *nm = nw__kube_str(regarding, "metadata.name");
  char *key = NULL;
  if (asprintf(&key, "%s|%s|%s|%s|%s|%s", uid ? uid : "", nm ? nm : "", type,
               reason, action, note) < 0)
    return;
  json_t *s = json_object_get(r->series, key);
  if (!s) {
    create_event(r, regarding, type, reason, action, note, key, now);
    free(key);
    return;
  }
  json_int_t count = json_integer_value(json_object_get(s, "count")) + 1;
  json_object_set_new(s, "count", json_integer(count));
  nw__kube_format_time(now, ts, sizeof(ts));
  json_t *patch = json_pack("{s:{s:I, s:s}}", "series", "count", count,
                            "lastObservedTime", ts);
  r->writes++;
  nw__kube_patch(r->c, &NW__KUBE_EVENTS, json_string_value(json_object_get(s, "ns")),
                 json_string_value(json_object_get(s, "name")), NULL,
                 NW__KUBE_PATCH_MERGE, patch, on_written, NULL);
  json_decref(patch);
  free(key);
}
