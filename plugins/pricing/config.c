/*
 * The plugin's config subtree (docs/pricing.md lists every key).  Parsed
 * strictly: an unknown key, a wrong type or an out-of-range value is an
 * error naming the key, so a typo never silently changes prices.
 */
#include "pricing_int.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* Rejects keys of obj not in `allowed` (NULL-terminated). */
static int check_keys(json_t *obj, const char *where,
                      const char *const *allowed, char *err, size_t errlen) {
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    size_t i = 0;
    while (allowed[i] && strcmp(allowed[i], key) != 0)
      i++;
    if (!allowed[i])
      return fail(err, errlen, "%s%s: unknown key", where, key);
  }
  return 0;
}

/* An optional string; *out stays NULL when absent. */
static int get_string(json_t *obj, const char *key, const char *where,
                      const char **out, char *err, size_t errlen) {
  json_t *v = json_object_get(obj, key);
  *out = NULL;
  if (!v)
    return 0;
  if (!json_is_string(v) || json_string_length(v) == 0)
    return fail(err, errlen, "%s%s: must be a non-empty string", where, key);
  *out = json_string_value(v);
  return 0;
}

/* An optional number in [lo, hi]; *out keeps its default when absent. */
static int get_number(json_t *obj, const char *key, const char *where,
                      double lo, double hi, double *out, int *present,
                      char *err, size_t errlen) {
  json_t *v = json_object_get(obj, key);
  if (present)
    *present = v != NULL;
  if (!v)
    return 0;
  if (!json_is_number(v) || !isfinite(json_number_value(v)) ||
      json_number_value(v) < lo || json_number_value(v) > hi)
    return fail(err, errlen, "%s%s: must be a number from %g to %g", where,
                key, lo, hi);
  *out = json_number_value(v);
  return 0;
}

static int get_bool(json_t *obj, const char *key, int *out, char *err,
                    size_t errlen) {
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  if (!json_is_boolean(v))
    return fail(err, errlen, "%s: must be true or false", key);
  *out = json_is_true(v);
  return 0;
}

static int get_seconds(json_t *obj, const char *key, double max, int64_t *ms,
                       char *err, size_t errlen) {
  double s = (double)*ms / 1000.0;
  if (get_number(obj, key, "", 1, max, &s, NULL, err, errlen) != 0)
    return -1;
  *ms = (int64_t)(s * 1000.0);
  return 0;
}

static int valid_capacity_type(const char *ct) {
  return strcmp(ct, NW_CAPACITY_ON_DEMAND) == 0 ||
         strcmp(ct, NW_CAPACITY_SPOT) == 0 ||
         strcmp(ct, NW_CAPACITY_RESERVED) == 0;
}

static int parse_capacity_type(json_t *obj, const char *where,
                               const char **ct, char *err, size_t errlen) {
  if (get_string(obj, "capacityType", where, ct, err, errlen) != 0)
    return -1;
  if (*ct && !valid_capacity_type(*ct))
    return fail(err, errlen,
                "%scapacityType: must be on-demand, spot or reserved, got "
                "\"%s\"", where, *ct);
  return 0;
}

static int same(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int parse_adjustment(json_t *o, const char *where,
                            nw__pricing_adjustment *a, char *err,
                            size_t errlen) {
  static const char *const keys[] = {"type", "family", "capacityType",
                                     "discountPercent", "price", NULL};
  const char *type, *family, *ct;
  int has_discount, has_price;
  if (!json_is_object(o))
    return fail(err, errlen, "%s must be an object", where);
  if (check_keys(o, where, keys, err, errlen) != 0 ||
      get_string(o, "type", where, &type, err, errlen) != 0 ||
      get_string(o, "family", where, &family, err, errlen) != 0 ||
      parse_capacity_type(o, where, &ct, err, errlen) != 0 ||
      get_number(o, "discountPercent", where, 0, 100, &a->discount_percent,
                 &has_discount, err, errlen) != 0 ||
      get_number(o, "price", where, 0, 1e6, &a->price, &has_price, err,
                 errlen) != 0)
    return -1;
  if (!type && !family && !ct)
    return fail(err, errlen, "%s needs a selector: type, family or "
                "capacityType", where);
  if (type && family)
    return fail(err, errlen, "%s: give type or family, not both (a type "
                "implies its family)", where);
  if (has_discount == has_price)
    return fail(err, errlen, "%s needs exactly one of discountPercent and "
                "price", where);
  if (type && !strchr(type, '.'))
    return fail(err, errlen, "%stype: \"%s\" is not an instance type "
                "(family.size); use family for a family", where, type);
  a->fixed = has_price;
  a->type = dup_or_null(type);
  a->family = dup_or_null(family);
  a->capacity_type = dup_or_null(ct);
  return 0;
}

static int parse_adjustments(json_t *root, nw__pricing_config *cfg, char *err,
                             size_t errlen) {
  json_t *arr = json_object_get(root, "adjustments");
  if (!arr)
    return 0;
  if (!json_is_array(arr))
    return fail(err, errlen, "adjustments: must be a list");
  size_t n = json_array_size(arr);
  cfg->adjustments = calloc(n ? n : 1, sizeof(*cfg->adjustments));
  if (!cfg->adjustments)
    return fail(err, errlen, "adjustments: out of memory");
  for (size_t i = 0; i < n; i++) {
    char where[48];
    snprintf(where, sizeof(where), "adjustments[%zu].", i);
    nw__pricing_adjustment *a = &cfg->adjustments[i];
    cfg->n_adjustments = i + 1;
    if (parse_adjustment(json_array_get(arr, i), where, a, err, errlen) != 0)
      return -1;
    for (size_t j = 0; j < i; j++) {
      const nw__pricing_adjustment *b = &cfg->adjustments[j];
      if (same(a->type, b->type) && same(a->family, b->family) &&
          same(a->capacity_type, b->capacity_type))
        return fail(err, errlen, "adjustments[%zu]: same selector as "
                    "adjustments[%zu]; which should win is ambiguous", i, j);
    }
  }
  return 0;
}

static int parse_static_price(json_t *o, const char *where,
                              nw__pricing_map *m, char *err, size_t errlen) {
  static const char *const keys[] = {"type", "capacityType", "zone", "price",
                                     NULL};
  const char *type, *ct, *zone;
  double price = -1;
  int has_price;
  if (!json_is_object(o))
    return fail(err, errlen, "%s must be an object", where);
  if (check_keys(o, where, keys, err, errlen) != 0 ||
      get_string(o, "type", where, &type, err, errlen) != 0 ||
      parse_capacity_type(o, where, &ct, err, errlen) != 0 ||
      get_string(o, "zone", where, &zone, err, errlen) != 0 ||
      get_number(o, "price", where, 0, 1e6, &price, &has_price, err,
                 errlen) != 0)
    return -1;
  if (!type || !has_price)
    return fail(err, errlen, "%s needs type and price", where);
  ct = ct ? ct : NW_CAPACITY_ON_DEMAND;
  zone = zone ? zone : "";
  double old;
  if (nw__pricing_map_get(m, type, ct, zone, &old) == 0)
    return fail(err, errlen, "%s: %s %s%s%s is listed twice", where, type, ct,
                *zone ? " in " : "", zone);
  if (nw__pricing_map_put(m, type, ct, zone, price) != 0)
    return fail(err, errlen, "%s: out of memory", where);
  return 0;
}

static int parse_static(json_t *root, nw__pricing_config *cfg, char *err,
                        size_t errlen) {
  json_t *arr = json_object_get(root, "prices");
  if (cfg->mode != NW__PRICING_STATIC) {
    if (arr)
      return fail(err, errlen, "prices: only used with mode static");
    return 0;
  }
  if (!json_is_array(arr) || json_array_size(arr) == 0)
    return fail(err, errlen, "prices: mode static needs a non-empty list of "
                "{type, capacityType, zone, price}");
  cfg->static_prices = nw__pricing_map_new(json_array_size(arr));
  if (!cfg->static_prices)
    return fail(err, errlen, "prices: out of memory");
  for (size_t i = 0; i < json_array_size(arr); i++) {
    char where[40];
    snprintf(where, sizeof(where), "prices[%zu].", i);
    if (parse_static_price(json_array_get(arr, i), where, cfg->static_prices,
                           err, errlen) != 0)
      return -1;
  }
  return 0;
}

static int parse_mode(json_t *root, nw__pricing_config *cfg, char *err,
                      size_t errlen) {
  const char *mode;
  if (get_string(root, "mode", "", &mode, err, errlen) != 0)
    return -1;
  if (!mode || strcmp(mode, "aws") == 0)
    cfg->mode = NW__PRICING_AWS;
  else if (strcmp(mode, "snapshot") == 0)
    cfg->mode = NW__PRICING_SNAPSHOT;
  else if (strcmp(mode, "static") == 0)
    cfg->mode = NW__PRICING_STATIC;
  else
    return fail(err, errlen, "mode: must be aws, snapshot or static, got "
                "\"%s\"", mode);
  return 0;
}

static int parse_endpoints(json_t *root, nw__pricing_config *cfg, char *err,
                           size_t errlen) {
  static const char *const keys[] = {"pricing", "ec2", NULL};
  json_t *e = json_object_get(root, "endpoints");
  const char *pricing, *ec2;
  if (!e)
    return 0;
  if (!json_is_object(e))
    return fail(err, errlen, "endpoints: must be a map");
  if (check_keys(e, "endpoints.", keys, err, errlen) != 0 ||
      get_string(e, "pricing", "endpoints.", &pricing, err, errlen) != 0 ||
      get_string(e, "ec2", "endpoints.", &ec2, err, errlen) != 0)
    return -1;
  cfg->pricing_endpoint = dup_or_null(pricing);
  cfg->ec2_endpoint = dup_or_null(ec2);
  return 0;
}

/* Region from the config, else the AWS SDKs' environment variables. */
static int resolve_region(json_t *root, nw__pricing_config *cfg, char *err,
                          size_t errlen) {
  const char *region;
  if (get_string(root, "region", "", &region, err, errlen) != 0)
    return -1;
  if (!region)
    region = getenv("AWS_REGION");
  if (!region || !*region)
    region = getenv("AWS_DEFAULT_REGION");
  if ((!region || !*region) && cfg->mode != NW__PRICING_STATIC)
    return fail(err, errlen, "region: not set (set `region` in the plugin "
                "config, or AWS_REGION)");
  cfg->region = region && *region ? strdup(region) : NULL;
  return 0;
}

static int parse_root(json_t *root, nw__pricing_config *cfg, char *err,
                      size_t errlen) {
  static const char *const keys[] = {
      "mode",        "region",    "snapshot",
      "endpoints",   "spot",      "onDemand",
      "refreshIntervalSeconds",   "retryIntervalSeconds",
      "timeoutSeconds",           "adjustments",
      "prices",      NULL};
  const char *snapshot;
  if (!json_is_object(root))
    return fail(err, errlen, "the config must be a map");
  if (check_keys(root, "", keys, err, errlen) != 0 ||
      parse_mode(root, cfg, err, errlen) != 0 ||
      resolve_region(root, cfg, err, errlen) != 0 ||
      get_string(root, "snapshot", "", &snapshot, err, errlen) != 0 ||
      parse_endpoints(root, cfg, err, errlen) != 0 ||
      get_bool(root, "spot", &cfg->spot, err, errlen) != 0 ||
      get_bool(root, "onDemand", &cfg->on_demand, err, errlen) != 0 ||
      get_seconds(root, "refreshIntervalSeconds", 30 * 86400.0,
                  &cfg->refresh_interval_ms, err, errlen) != 0 ||
      get_seconds(root, "retryIntervalSeconds", 86400.0,
                  &cfg->retry_interval_ms, err, errlen) != 0 ||
      get_seconds(root, "timeoutSeconds", 600.0, &cfg->timeout_ms, err,
                  errlen) != 0 ||
      parse_adjustments(root, cfg, err, errlen) != 0 ||
      parse_static(root, cfg, err, errlen) != 0)
    return -1;
  cfg->snapshot_path = dup_or_null(snapshot);
  return 0;
}

int nw__pricing_config_parse(const char *text, nw__pricing_config *cfg,
                             char *err, size_t errlen) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->on_demand = 1;
  cfg->spot = 1;
  cfg->refresh_interval_ms = 12 * 3600 * 1000;
  cfg->retry_interval_ms = 5 * 60 * 1000;
  cfg->timeout_ms = 30 * 1000;
  json_error_t jerr;
  json_t *root = json_loads(text ? text : "{}", 0, &jerr);
  if (!root)
    return fail(err, errlen, "not valid JSON at line %d column %d: %s",
                jerr.line, jerr.column, jerr.text);
  int rc = parse_root(root, cfg, err, errlen);
  json_decref(root);
  return rc;
}

void nw__pricing_config_free(nw__pricing_config *cfg) {
  for (size_t i = 0; i < cfg->n_adjustments; i++) {
    free(cfg->adjustments[i].type);
    free(cfg->adjustments[i].family);
    free(cfg->adjustments[i].capacity_type);
  }
  free(cfg->adjustments);
  free(cfg->region);
  free(cfg->snapshot_path);
  free(cfg->pricing_endpoint);
  free(cfg->ec2_endpoint);
  nw__pricing_map_free(cfg->static_prices);
  memset(cfg, 0, sizeof(*cfg));
}
