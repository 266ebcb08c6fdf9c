/*
 * NodePool template hash; see drift.h.
 */
#include "disruption/drift.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *canonical(const json_t *v, int keep_scalars);

static int is_zero_scalar(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_STRING:
    return json_string_length(v) == 0;
  case JSON_INTEGER:
    return json_integer_value(v) == 0;
  case JSON_REAL:
    return json_real_value(v) == 0;
  case JSON_FALSE:
  case JSON_NULL:
    return 1;
  default:
    return 0;
  }
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Arrays are sets: canonical elements, sorted by their compact text. */
static json_t *canonical_array(const json_t *v) {
  size_t n = json_array_size(v), kept = 0;
  char **texts = calloc(n ? n : 1, sizeof(*texts));
  json_t *out = json_array();

  for (size_t i = 0; texts != NULL && i < n; i++) {
    json_t *c = canonical(json_array_get(v, i), 0);
    if (c == NULL)
      continue;
    texts[kept++] = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS |
                                      JSON_ENCODE_ANY);
    json_decref(c);
  }
  qsort(texts, kept, sizeof(*texts), cmp_str);
  for (size_t i = 0; i < kept; i++) {
    json_array_append_new(out, json_loads(texts[i], JSON_DECODE_ANY, NULL));
    free(texts[i]);
  }
  free(texts);
  if (json_array_size(out) == 0) {
    json_decref(out);
    return NULL;
  }
  return out;
}

static json_t *canonical_object(const json_t *v) {
  json_t *out = json_object();
  const char *k;
  json_t *x;

  json_object_foreach((json_t *)v, k, x) {
    /* Label and annotation values are data: "" is a real value there. */
    int keep = strcmp(k, "labels") == 0 || strcmp(k, "annotations") == 0;
    json_t *c = NULL;
    if (json_is_object(x) && keep) {
      c = json_deep_copy(x);
      if (json_object_size(c) == 0) {
        json_decref(c);
        c = NULL;
      }
    } else {
      c = canonical(x, 0);
    }
    if (c != NULL)
      json_object_set_new(out, k, c);
  }
  if (json_object_size(out) == 0) {
    json_decref(out);
    return NULL;
  }
  return out;
}

/* A new canonical copy of v, or NULL when v is "zero" and drops out. */
static json_t *canonical(const json_t *v, int keep_scalars) {
  if (v == NULL)
    return NULL;
  if (json_is_object(v))
    return canonical_object(v);
  if (json_is_array(v))
    return canonical_array(v);
  if (!keep_scalars && is_zero_scalar(v))
    return NULL;
  return json_deep_copy(v);
}

/* FNV-1a, 64 bit: stable across builds and machines. */
static uint64_t fnv1a(const char *s) {
  uint64_t h = 14695981039346656037ULL;

  for (; *s != '\0'; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

int nw__nodepool_hash(const json_t *nodepool, char out[21], nw_error *err) {
  const json_t *tmpl = json_object_get(json_object_get(nodepool, "spec"),
                                       "template");
  json_t *copy, *spec, *canon;
  char *text;

  if (!json_is_object(tmpl)) {
    const char *name = json_string_value(
        json_object_get(json_object_get(nodepool, "metadata"), "name"));
    if (err != NULL) {
      err->status = NW_ERR_INVALID;
      snprintf(err->message, sizeof(err->message),
               "NodePool %s: spec.template is missing or not an object",
               name != NULL ? name : "(unnamed)");
    }
    return -1;
  }
  copy = json_deep_copy(tmpl);
  spec = json_object_get(copy, "spec");
  if (json_is_object(spec)) {
    json_object_del(spec, "requirements");
    json_object_del(spec, "resources");
  }
  canon = canonical(copy, 0);
  json_decref(copy);
  text = canon != NULL ? json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS)
                       : NULL;
  snprintf(out, 21, "%llu",
           (unsigned long long)fnv1a(text != NULL ? text : "{}"));
  free(text);
  json_decref(canon);
  return 0;
}

nw__hash_drift nw__hash_compare(const char *pool_hash, const char *claim_hash,
                                const char *claim_version) {
  if (claim_version == NULL ||
      strcmp(claim_version, NW__NODEPOOL_HASH_VERSION) != 0 ||
      claim_hash == NULL)
    return NW__HASH_RESTAMP;
  if (pool_hash == NULL || strcmp(pool_hash, claim_hash) == 0)
    return NW__HASH_CURRENT;
  return NW__HASH_DRIFTED;
}
