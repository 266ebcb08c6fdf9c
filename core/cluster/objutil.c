#include "cluster/objutil.h"

#include <string.h>
#include <time.h>

#include "kube/kutil.h"

static const json_t *find_cond(const json_t *obj, const char *type) {
  const json_t *conds = json_object_get(json_object_get(obj, "status"),
                                        "conditions");
  size_t i;
  const json_t *c;
  json_array_foreach(conds, i, c) {
    const char *t = json_string_value(json_object_get(c, "type"));
    if (t && strcmp(t, type) == 0)
      return c;
  }
  return NULL;
}

const char *nw__cond_status(const json_t *obj, const char *type) {
  return json_string_value(json_object_get(find_cond(obj, type), "status"));
}

int64_t nw__cond_time(const json_t *obj, const char *type) {
  const char *t = json_string_value(
      json_object_get(find_cond(obj, type), "lastTransitionTime"));
  return t ? nw__kube_parse_time(t) : -1;
}

void nw__rfc3339(int64_t ms, char *buf, size_t len) {
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *nw__cond_with(const json_t *obj, const char *type, const char *status,
                      const char *reason, const char *message, int64_t now_ms) {
  const json_t *conds = json_object_get(json_object_get(obj, "status"),
                                        "conditions");
  json_t *out = json_array();
  size_t i;
  const json_t *c;
  const char *old_time = NULL;
  json_array_foreach(conds, i, c) {
    const char *t = json_string_value(json_object_get(c, "type"));
    if (t && strcmp(t, type) == 0) {
      const char *st = json_string_value(json_object_get(c, "status"));
      if (st && strcmp(st, status) == 0)
        old_time = json_string_value(json_object_get(c, "lastTransitionTime"));
      continue;
    }
    json_array_append_new(out, json_deep_copy(c));
  }
  char ts[40];
  nw__rfc3339(now_ms, ts, sizeof(ts));
  json_array_append_new(
      out, json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "status",
                     status, "reason", reason ? reason : type, "message",
                     message ? message : "", "lastTransitionTime",
                     old_time ? old_time : ts));
  return out;
}

static const char *meta_str(const json_t *obj, const char *section,
                            const char *key) {
  return json_string_value(json_object_get(
      json_object_get(json_object_get(obj, "metadata"), section), key));
}

const char *nw__label(const json_t *obj, const char *key) {
  return meta_str(obj, "labels", key);
}

const char *nw__annotation(const json_t *obj, const char *key) {
  return meta_str(obj, "annotations", key);
}

const char *nw__obj_ns(const json_t *obj) {
  return json_string_value(
      json_object_get(json_object_get(obj, "metadata"), "namespace"));
}

const char *nw__obj_name(const json_t *obj) {
  return json_string_value(
      json_object_get(json_object_get(obj, "metadata"), "name"));
}

int nw__obj_deleting(const json_t *obj) {
  return json_object_get(json_object_get(obj, "metadata"),
                         "deletionTimestamp") != NULL;
}

int64_t nw__obj_created_ms(const json_t *obj) {
  const char *t = json_string_value(
      json_object_get(json_object_get(obj, "metadata"), "creationTimestamp"));
  return t ? nw__kube_parse_time(t) : -1;
}

int nw__has_finalizer(const json_t *obj, const char *f) {
  const json_t *fs = json_object_get(json_object_get(obj, "metadata"),
                                     "finalizers");
  size_t i;
  const json_t *v;
  json_array_foreach(fs, i, v) {
    if (json_is_string(v) && strcmp(json_string_value(v), f) == 0)
      return 1;
  }
  return 0;
}

json_t *nw__finalizers_without(const json_t *obj, const char *f) {
  const json_t *fs = json_object_get(json_object_get(obj, "metadata"),
                                     "finalizers");
  json_t *out = json_array();
  size_t i;
  const json_t *v;
  json_array_foreach(fs, i, v) {
    if (!json_is_string(v) || strcmp(json_string_value(v), f) != 0)
      json_array_append_new(out, json_deep_copy(v));
  }
  return out;
}

int nw__has_taint(const json_t *node, const char *key) {
  const json_t *ts = json_object_get(json_object_get(node, "spec"), "taints");
  size_t i;
  const json_t *t;
  json_array_foreach(ts, i, t) {
    const char *k = json_string_value(json_object_get(t, "key"));
    if (k && strcmp(k, key) == 0)
      return 1;
  }
  return 0;
}

json_t *nw__guarded(const json_t *obj, json_t *patch) {
  const char *rv = json_string_value(
      json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
  if (!rv || !patch)
    return patch;
  json_t *md = json_object_get(patch, "metadata");
  if (!md) {
    md = json_object();
    json_object_set_new(patch, "metadata", md);
  }
  json_object_set_new(md, "resourceVersion", json_string(rv));
  return patch;
}
