/*
 * The kind provider's configuration and KindNodeClass parsing.  Both are
 * strict: an unknown key is an error naming it, so that a typo never
 * silently falls back to a default.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kind.h"

nw_status nw__kind_err(nw_error *err, nw_status status, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    err->status = status;
  }
  return status;
}

static const char *const top_keys[] = {
    "socket", "clusterName", "image", "network", "runtime", "arch", "os",
    "timeoutMs", "kwokLabel", "catalog", "limits", NULL};
static const char *const catalog_keys[] = {
    "cpus", "memoryPerCpuGiB", "families", "zones", "capacityTypes", "pods",
    "pricing", "prices", "overhead", NULL};
static const char *const pricing_keys[] = {"perCpu", "perGiB", "spotRatio",
                                           NULL};
static const char *const overhead_keys[] = {
    "kubeReservedCpuMillis", "kubeReservedMemoryMiB", "systemReservedCpuMillis",
    "systemReservedMemoryMiB", "evictionMemoryMiB", NULL};
static const char *const limits_keys[] = {"cpuScale", "memoryScale", NULL};

static int known(const char *const *keys, const char *key) {
  for (size_t i = 0; keys[i]; i++) {
    if (strcmp(keys[i], key) == 0)
      return 1;
  }
  return 0;
}

/* Every key of obj must be in keys; `where` names obj in the message. */
static nw_status check_keys(json_t *obj, const char *const *keys,
                            const char *where, nw_error *err) {
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    (void)v;
    if (!known(keys, key))
      return nw__kind_err(err, NW_ERR_INVALID,
                          "kind config: unknown key \"%s%s\"", where, key);
  }
  return NW_OK;
}

/* Reads an optional object member; NULL when absent, error when not an
 * object. */
static nw_status get_object(json_t *obj, const char *key, const char *where,
                            json_t **out, nw_error *err) {
  json_t *v = json_object_get(obj, key);
  *out = NULL;
  if (!v || json_is_null(v))
    return NW_OK;
  if (!json_is_object(v))
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind config: \"%s%s\" must be an object", where, key);
  *out = v;
  return NW_OK;
}

/* A malloc'd copy of a string member, or of dflt when absent. */
static nw_status get_string(json_t *obj, const char *key, const char *where,
                            const char *dflt, char **out, nw_error *err) {
  json_t *v = json_object_get(obj, key);
  const char *s = dflt;
  if (v && !json_is_null(v)) {
    if (!json_is_string(v))
      return nw__kind_err(err, NW_ERR_INVALID,
                          "kind config: \"%s%s\" must be a string", where, key);
    s = json_string_value(v);
  }
  *out = strdup(s ? s : "");
  if (!*out)
    return nw__kind_err(err, NW_ERR, "kind config: out of memory");
  return NW_OK;
}

/* An integer member in [lo, hi], or dflt when absent. */
static nw_status get_int(json_t *obj, const char *key, const char *where,
                         int64_t dflt, int64_t lo, int64_t hi, int64_t *out,
                         nw_error *err) {
  json_t *v = json_object_get(obj, key);
  *out = dflt;
  if (!v || json_is_null(v))
    return NW_OK;
  if (!json_is_integer(v))
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind config: \"%s%s\" must be an integer", where, key);
  *out = (int64_t)json_integer_value(v);
  if (*out < lo || *out > hi)
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind config: \"%s%s\" is %lld, expected %lld..%lld",
                        where, key, (long long)*out, (long long)lo,
                        (long long)hi);
  return NW_OK;
}

/* A number member > 0 (or >= 0 when allow_zero), or dflt when absent. */
static nw_status get_number(json_t *obj, const char *key, const char *where,
                            double dflt, int allow_zero, double *out,
                            nw_error *err) {
  json_t *v = json_object_get(obj, key);
  *out = dflt;
  if (!v || json_is_null(v))
    return NW_OK;
  if (!json_is_number(v))
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind config: \"%s%s\" must be a number", where, key);
  *out = json_number_value(v);
  if (*out < 0 || (*out == 0 && !allow_zero))
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind config: \"%s%s\" must be %s, got %g", where, key,
                        allow_zero ? ">= 0" : "> 0", *out);
  return NW_OK;
}

static nw_status parse_runtime(const char *s, const char *where,
                               nw__kind_runtime *out, nw_error *err) {
  if (strcmp(s, "virtual") == 0) {
    *out = NW_KIND_RUNTIME_VIRTUAL;
    return NW_OK;
  }
  if (strcmp(s, "kubeadm") == 0) {
    *out = NW_KIND_RUNTIME_KUBEADM;
    return NW_OK;
  }
  return nw__kind_err(err, NW_ERR_INVALID,
                      "%s: runtime \"%s\" is not one of virtual, kubeadm",
                      where, s);
}

/* Reads an array of positive integers (catalog.cpus, memoryPerCpuGiB). */
static nw_status int_list(json_t *cat, const char *key, const int *dflt,
                          size_t n_dflt, int max, int **out, size_t *n,
                          nw_error *err) {
  json_t *v = json_object_get(cat, key);
  size_t len = v ? json_array_size(v) : n_dflt;
  if (v && (!json_is_array(v) || len == 0))
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind config: \"catalog.%s\" must be a non-empty array "
                        "of integers", key);
  *out = calloc(len, sizeof(int));
  if (!*out)
    return nw__kind_err(err, NW_ERR, "kind config: out of memory");
  *n = len;
  for (size_t i = 0; i < len; i++) {
    json_t *e = v ? json_array_get(v, i) : NULL;
    json_int_t x = e ? (json_is_integer(e) ? json_integer_value(e) : -1)
                     : dflt[i];
    if (x < 1 || x > max)
      return nw__kind_err(err, NW_ERR_INVALID,
                          "kind config: \"catalog.%s[%zu]\" must be an integer "
                          "in 1..%d", key, i, max);
    (*out)[i] = (int)x;
  }
  return NW_OK;
}

static nw_status parse_zones(nw__kind_config *cfg, json_t *cat, nw_error *err) {
  static const char *const dflt[] = {"kind-a", "kind-b", "kind-c"};
  json_t *v = json_object_get(cat, "zones");
  size_t n = v ? json_array_size(v) : 3;
  if (v && (!json_is_array(v) || n == 0))
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind config: \"catalog.zones\" must be a non-empty "
                        "array of strings");
  cfg->zones = calloc(n, sizeof(char *));
  if (!cfg->zones)
    return nw__kind_err(err, NW_ERR, "kind config: out of memory");
  for (size_t i = 0; i < n; i++) {
    json_t *e = v ? json_array_get(v, i) : NULL;
    const char *s = v ? json_string_value(e) : dflt[i];
    if (!s || !*s)
      return nw__kind_err(err, NW_ERR_INVALID,
                          "kind config: \"catalog.zones[%zu]\" must be a "
                          "non-empty string", i);
    cfg->zones[i] = strdup(s);
    cfg->n_zones = i + 1;
    if (!cfg->zones[i])
      return nw__kind_err(err, NW_ERR, "kind config: out of memory");
  }
  return NW_OK;
}

static nw_status parse_capacity_types(nw__kind_config *cfg, json_t *cat,
                                      nw_error *err) {
  json_t *v = json_object_get(cat, "capacityTypes");
  if (!v) {
    cfg->on_demand = cfg->spot = 1;
    return NW_OK;
  }
  if (!json_is_array(v) || json_array_size(v) == 0)
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind config: \"catalog.capacityTypes\" must be a "
                        "non-empty array of \"on-demand\" and \"spot\"");
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) {
    const char *s = json_string_value(e);
    if (s && strcmp(s, NW_CAPACITY_ON_DEMAND) == 0) {
      cfg->on_demand = 1;
    } else if (s && strcmp(s, NW_CAPACITY_SPOT) == 0) {
      cfg->spot = 1;
    } else {
      return nw__kind_err(err, NW_ERR_INVALID,
                          "kind config: \"catalog.capacityTypes[%zu]\" must be "
                          "\"on-demand\" or \"spot\"", i);
    }
  }
  return NW_OK;
}

/* The family name of a memory ratio: catalog.families["4"], or c/m/r for
 * 2/4/8 as the big clouds name compute, general and memory families. */
static nw_status family_of(json_t *cat, int ratio, char *out, size_t len,
                           nw_error *err) {
  json_t *fams = json_object_get(cat, "families");
  char key[16];
  snprintf(key, sizeof(key), "%d", ratio);
  if (fams && !json_is_object(fams))
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind config: \"catalog.families\" must be an object "
                        "mapping GiB per vCPU to a family name");
  const char *s = json_string_value(json_object_get(fams, key));
  if (!s)
    s = ratio == 2 ? "c" : ratio == 4 ? "m" : ratio == 8 ? "r" : NULL;
  if (!s) {
    snprintf(out, len, "x%d", ratio);
    return NW_OK;
  }
  if (!*s || strlen(s) >= len || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(s))
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind config: \"catalog.families.%s\" must be 1..%zu "
                        "characters of [a-z0-9]", key, len - 1);
  snprintf(out, len, "%s", s);
  return NW_OK;
}

/* A static price from catalog.prices.<type>.<capacity>, or -1. */
static nw_status static_price(json_t *prices, const char *type,
                              const char *capacity, double *out,
                              nw_error *err) {
  json_t *t = json_object_get(prices, type);
  *out = -1;
  if (!t)
    return NW_OK;
  json_t *v = json_object_get(t, capacity);
  if (!v)
    return NW_OK;
  if (!json_is_number(v) || json_number_value(v) < 0)
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind config: \"catalog.prices.%s.%s\" must be a "
                        "number >= 0 (USD per hour)", type, capacity);
  *out = json_number_value(v);
  return NW_OK;
}

static nw_status check_prices(json_t *prices, const nw__kind_config *cfg,
                              nw_error *err) {
  const char *key;
  json_t *v;
  if (prices && !json_is_object(prices))
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind config: \"catalog.prices\" must be an object");
  json_object_foreach(prices, key, v) {
    if (!nw__kind_type_find(cfg, key))
      return nw__kind_err(err, NW_ERR_INVALID,
                          "kind config: \"catalog.prices.%s\": no such instance "
                          "type in the catalog", key);
    if (!json_is_object(v))
      return nw__kind_err(err, NW_ERR_INVALID,
                          "kind config: \"catalog.prices.%s\" must be an object "
                          "{\"on-demand\": price, \"spot\": price}", key);
  }
  return NW_OK;
}

static nw_status build_types(nw__kind_config *cfg, json_t *cat,
                             nw_error *err) {
  static const int dflt_cpus[] = {1, 2, 4, 8, 16, 32};
  static const int dflt_ratios[] = {2, 4, 8};
  int *cpus = NULL, *ratios = NULL;
  size_t n_cpus = 0, n_ratios = 0;
  json_t *pricing = NULL;
  double per_cpu, per_gib, spot_ratio;
  nw_status st = int_list(cat, "cpus", dflt_cpus, 6, 1024, &cpus, &n_cpus, err);
  if (st == NW_OK)
    st = int_list(cat, "memoryPerCpuGiB", dflt_ratios, 3, 1024, &ratios,
                  &n_ratios, err);
  if (st == NW_OK)
    st = get_object(cat, "pricing", "catalog.", &pricing, err);
  if (st == NW_OK && pricing)
    st = check_keys(pricing, pricing_keys, "catalog.pricing.", err);
  /* Defaults approximate the big clouds' general purpose on-demand prices
   * (about $0.096/h for 2 vCPU and 8 GiB); spot at a third of that. */
  if (st == NW_OK)
    st = get_number(pricing, "perCpu", "catalog.pricing.", 0.031, 1, &per_cpu, err);
  if (st == NW_OK)
    st = get_number(pricing, "perGiB", "catalog.pricing.", 0.0042, 1, &per_gib, err);
  if (st == NW_OK)
    st = get_number(pricing, "spotRatio", "catalog.pricing.", 0.35, 0, &spot_ratio, err);
  if (st == NW_OK) {
    cfg->types = calloc(n_cpus * n_ratios, sizeof(nw__kind_type));
    if (!cfg->types)
      st = nw__kind_err(err, NW_ERR, "kind config: out of memory");
  }
  for (size_t r = 0; st == NW_OK && r < n_ratios; r++) {
    char fam[32];
    st = family_of(cat, ratios[r], fam, sizeof(fam), err);
    for (size_t c = 0; st == NW_OK && c < n_cpus; c++) {
      nw__kind_type *t = &cfg->types[cfg->n_types];
      snprintf(t->family, sizeof(t->family), "%s", fam);
      snprintf(t->name, sizeof(t->name), "%s-%d", fam, cpus[c]);
      if (nw__kind_type_find(cfg, t->name)) {
        st = nw__kind_err(err, NW_ERR_INVALID,
                          "kind config: instance type \"%s\" defined twice "
                          "(duplicate entries in catalog.cpus, "
                          "catalog.memoryPerCpuGiB or catalog.families)",
                          t->name);
        break;
      }
      t->cpus = cpus[c];
      t->memory_mib = (int64_t)cpus[c] * ratios[r] * 1024;
      t->price_on_demand = cpus[c] * per_cpu + (double)cpus[c] * ratios[r] * per_gib;
      t->price_spot = t->price_on_demand * spot_ratio;
      cfg->n_types++;
    }
  }
  json_t *prices = json_object_get(cat, "prices");
  if (st == NW_OK)
    st = check_prices(prices, cfg, err);
  for (size_t i = 0; st == NW_OK && i < cfg->n_types; i++) {
    nw__kind_type *t = &cfg->types[i];
    double p;
    st = static_price(prices, t->name, NW_CAPACITY_ON_DEMAND, &p, err);
    if (st == NW_OK && p >= 0)
      t->price_on_demand = p;
    if (st == NW_OK)
      st = static_price(prices, t->name, NW_CAPACITY_SPOT, &p, err);
    if (st == NW_OK && p >= 0)
      t->price_spot = p;
  }
  free(cpus);
  free(ratios);
  return st;
}

static nw_status parse_overhead(nw__kind_config *cfg, json_t *cat,
                                nw_error *err) {
  json_t *o = NULL;
  const char *w = "catalog.overhead.";
  const int64_t big = INT64_C(1) << 40;
  nw_status st = get_object(cat, "overhead", "catalog.", &o, err);
  if (st == NW_OK && o)
    st = check_keys(o, overhead_keys, w, err);
  if (st == NW_OK)
    st = get_int(o, "kubeReservedCpuMillis", w, 100, 0, big, &cfg->kube_reserved_cpu_m, err);
  if (st == NW_OK)
    st = get_int(o, "kubeReservedMemoryMiB", w, 256, 0, big, &cfg->kube_reserved_mem_mib, err);
  if (st == NW_OK)
    st = get_int(o, "systemReservedCpuMillis", w, 0, 0, big, &cfg->system_reserved_cpu_m, err);
  if (st == NW_OK)
    st = get_int(o, "systemReservedMemoryMiB", w, 0, 0, big, &cfg->system_reserved_mem_mib, err);
  if (st == NW_OK)
    st = get_int(o, "evictionMemoryMiB", w, 100, 0, big, &cfg->eviction_mem_mib, err);
  return st;
}

static nw_status parse_catalog(nw__kind_config *cfg, json_t *root,
                               nw_error *err) {
  json_t *cat = NULL;
  nw_status st = get_object(root, "catalog", "", &cat, err);
  if (st == NW_OK && cat)
    st = check_keys(cat, catalog_keys, "catalog.", err);
  if (st == NW_OK)
    st = parse_zones(cfg, cat, err);
  if (st == NW_OK)
    st = parse_capacity_types(cfg, cat, err);
  if (st == NW_OK)
    st = get_int(cat, "pods", "catalog.", 110, 1, 100000, &cfg->pods, err);
  if (st == NW_OK)
    st = build_types(cfg, cat, err);
  if (st == NW_OK)
    st = parse_overhead(cfg, cat, err);
  return st;
}

static nw_status parse_limits(nw__kind_config *cfg, json_t *root,
                              nw_error *err) {
  json_t *l = NULL;
  nw_status st = get_object(root, "limits", "", &l, err);
  if (st == NW_OK && l)
    st = check_keys(l, limits_keys, "limits.", err);
  if (st == NW_OK)
    st = get_number(l, "cpuScale", "limits.", 1.0, 0, &cfg->cpu_scale, err);
  if (st == NW_OK)
    st = get_number(l, "memoryScale", "limits.", 1.0, 0, &cfg->memory_scale, err);
  return st;
}

static nw_status parse_top(nw__kind_config *cfg, json_t *root, nw_error *err) {
  char *runtime = NULL;
  nw_status st = check_keys(root, top_keys, "", err);
  if (st == NW_OK)
    st = get_string(root, "socket", "", "/var/run/docker.sock", &cfg->socket, err);
  if (st == NW_OK && cfg->socket[0] != '/')
    st = nw__kind_err(err, NW_ERR_INVALID,
                      "kind config: \"socket\" must be an absolute path to the "
                      "Docker Engine unix socket, got \"%s\"", cfg->socket);
  if (st == NW_OK)
    st = get_string(root, "clusterName", "", "kind", &cfg->cluster, err);
  if (st == NW_OK && (!cfg->cluster[0] || strlen(cfg->cluster) > 100))
    st = nw__kind_err(err, NW_ERR_INVALID,
                      "kind config: \"clusterName\" must be 1..100 characters");
  if (st == NW_OK)
    st = get_string(root, "image", "", "", &cfg->image, err);
  if (st == NW_OK)
    st = get_string(root, "network", "", "none", &cfg->network, err);
  if (st == NW_OK)
    st = get_string(root, "runtime", "", "virtual", &runtime, err);
  if (st == NW_OK)
    st = parse_runtime(runtime, "kind config", &cfg->runtime, err);
  if (st == NW_OK)
    st = get_string(root, "arch", "", "amd64", &cfg->arch, err);
  if (st == NW_OK)
    st = get_string(root, "os", "", "linux", &cfg->os, err);
  if (st == NW_OK)
    st = get_int(root, "timeoutMs", "", 30000, 100, 3600000, &cfg->timeout_ms, err);
  if (st == NW_OK)
    st = get_string(root, "kwokLabel", "", "kwok.x-k8s.io/node=fake",
                    &cfg->kwok_label, err);
  if (st == NW_OK && !strchr(cfg->kwok_label, '='))
    st = nw__kind_err(err, NW_ERR_INVALID,
                      "kind config: \"kwokLabel\" must be key=value, got "
                      "\"%s\"", cfg->kwok_label);
  free(runtime);
  return st;
}

nw_status nw__kind_config_parse(const char *json, nw__kind_config *cfg,
                                nw_error *err) {
  json_error_t jerr;
  memset(cfg, 0, sizeof(*cfg));
  json_t *root = json_loads(json ? json : "{}", 0, &jerr);
  if (!root)
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind config: not JSON: %s at line %d", jerr.text,
                        jerr.line);
  nw_status st = NW_OK;
  if (!json_is_object(root))
    st = nw__kind_err(err, NW_ERR_INVALID, "kind config: must be an object");
  if (st == NW_OK)
    st = parse_top(cfg, root, err);
  if (st == NW_OK)
    st = parse_catalog(cfg, root, err);
  if (st == NW_OK)
    st = parse_limits(cfg, root, err);
  json_decref(root);
  if (st != NW_OK)
    nw__kind_config_free(cfg);
  return st;
}

void nw__kind_config_free(nw__kind_config *cfg) {
  free(cfg->socket);
  free(cfg->cluster);
  free(cfg->image);
  free(cfg->network);
  free(cfg->arch);
  free(cfg->os);
  free(cfg->kwok_label);
  for (size_t i = 0; i < cfg->n_zones; i++)
    free(cfg->zones[i]);
  free(cfg->zones);
  free(cfg->types);
  memset(cfg, 0, sizeof(*cfg));
}

const nw__kind_type *nw__kind_type_find(const nw__kind_config *cfg,
                                        const char *name) {
  for (size_t i = 0; i < cfg->n_types; i++) {
    if (strcmp(cfg->types[i].name, name) == 0)
      return &cfg->types[i];
  }
  return NULL;
}

/* Copies an optional string field of the class spec into out. */
static nw_status class_field(json_t *spec, const char *key, const char *dflt,
                             char *out, size_t len, nw_error *err) {
  json_t *v = json_object_get(spec, key);
  const char *s = dflt;
  if (v && !json_is_null(v)) {
    s = json_string_value(v);
    if (!s)
      return nw__kind_err(err, NW_ERR_INVALID,
                          "KindNodeClass: spec.%s must be a string", key);
  }
  if (strlen(s) >= len)
    return nw__kind_err(err, NW_ERR_INVALID,
                        "KindNodeClass: spec.%s is longer than %zu characters",
                        key, len - 1);
  snprintf(out, len, "%s", s);
  return NW_OK;
}

nw_status nw__kind_class_parse(const nw__kind_config *cfg, const char *json,
                               nw__kind_class *out, nw_error *err) {
  json_error_t jerr;
  json_t *root = json_loads(json ? json : "{}", 0, &jerr);
  if (!root)
    return nw__kind_err(err, NW_ERR_INVALID, "KindNodeClass: not JSON: %s",
                        jerr.text);
  /* A Kubernetes object keeps its fields under spec; a bare spec works too. */
  json_t *spec = json_object_get(root, "spec");
  if (!spec)
    spec = root;
  char runtime[16];
  nw_status st = NW_OK;
  if (!json_is_object(spec))
    st = nw__kind_err(err, NW_ERR_INVALID, "KindNodeClass: spec must be an object");
  if (st == NW_OK)
    st = class_field(spec, "image", cfg->image, out->image, sizeof(out->image), err);
  if (st == NW_OK)
    st = class_field(spec, "network", cfg->network, out->network, sizeof(out->network), err);
  if (st == NW_OK)
    st = class_field(spec, "clusterName", cfg->cluster, out->cluster, sizeof(out->cluster), err);
  if (st == NW_OK)
    st = class_field(spec, "runtime", cfg->runtime == NW_KIND_RUNTIME_KUBEADM
                     ? "kubeadm" : "virtual", runtime, sizeof(runtime), err);
  if (st == NW_OK)
    st = parse_runtime(runtime, "KindNodeClass: spec", &out->runtime, err);
  if (st == NW_OK && !out->image[0])
    st = nw__kind_err(err, NW_ERR_INVALID,
                      "KindNodeClass: no image: set spec.image or the plugin's "
                      "\"image\" config");
  /* list, events and garbage collection are scoped to the configured
   * cluster, so a class naming another one would make orphans. */
  if (st == NW_OK && strcmp(out->cluster, cfg->cluster) != 0)
    st = nw__kind_err(err, NW_ERR_INVALID,
                      "KindNodeClass: spec.clusterName \"%s\" is not the "
                      "cluster this provider serves (\"%s\", plugin config "
                      "clusterName)", out->cluster, cfg->cluster);
  json_decref(root);
  return st;
}
