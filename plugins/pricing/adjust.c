/*
 * User price adjustments (what Karpenter users ask NodeOverlay for):
 * enterprise discounts and savings plans as a percentage off, or a fixed
 * price, per instance family, instance type or capacity type.  They are
 * applied once when a table is built, so price() stays a single lookup.
 */
#include "pricing_int.h"

#include <string.h>

/* "m5" for "m5.large": the family is the type up to its first dot. */
static int family_matches(const char *family, const char *type) {
  size_t n = strlen(family);
  return strncmp(family, type, n) == 0 && type[n] == '.';
}

static int rule_matches(const nw__pricing_adjustment *r, const char *type,
                        const char *ct) {
  if (r->type && strcmp(r->type, type) != 0)
    return 0;
  if (r->family && !family_matches(r->family, type))
    return 0;
  if (r->capacity_type && strcmp(r->capacity_type, ct) != 0)
    return 0;
  return 1;
}

static int specificity(const nw__pricing_adjustment *r) {
  return (r->type ? 4 : 0) + (r->family ? 2 : 0) + (r->capacity_type ? 1 : 0);
}

const nw__pricing_adjustment *
nw__pricing_adjustment_find(const nw__pricing_adjustment *rules, size_t n,
                            const char *type, const char *ct) {
  const nw__pricing_adjustment *best = NULL;
  for (size_t i = 0; i < n; i++) {
    if (!rule_matches(&rules[i], type, ct))
      continue;
    if (!best || specificity(&rules[i]) > specificity(best))
      best = &rules[i];
  }
  return best;
}

static double adjusted(const nw__pricing_adjustment *r, double price) {
  if (!r)
    return price;
  if (r->fixed)
    return r->price;
  return price * (100.0 - r->discount_percent) / 100.0;
}

nw__pricing_map *nw__pricing_apply(const nw__pricing_map *base,
                                   const nw__pricing_adjustment *rules,
                                   size_t n) {
  nw__pricing_map *out = nw__pricing_map_new(nw__pricing_map_len(base));
  if (!out)
    return NULL;
  size_t cur = 0;
  const char *type, *ct, *zone;
  double price;
  while (nw__pricing_map_next(base, &cur, &type, &ct, &zone, &price) == 0) {
    const nw__pricing_adjustment *r =
        nw__pricing_adjustment_find(rules, n, type, ct);
    if (nw__pricing_map_put(out, type, ct, zone, adjusted(r, price)) != 0) {
      nw__pricing_map_free(out);
      return NULL;
    }
  }
  return out;
}
