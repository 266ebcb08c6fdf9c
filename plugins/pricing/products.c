/*
 * GetProducts responses of the AWS Price List API.  Each element of
 * PriceList is itself a JSON document serialised as a string:
 *
 *   {"product": {"attributes": {"instanceType": "m5.large", ...}, ...},
 *    "terms": {"OnDemand": {"<sku>.<term>": {"priceDimensions": {
 *        "<sku>.<term>.<rate>": {"pricePerUnit": {"USD": "0.0960000000"},
 *                                "unit": "Hrs", ...}}}}}}
 *
 * One bad element must not cost the other prices, so an element that does
 * not parse is skipped and counted, never fatal.
 */
#include "pricing_int.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A strictly parsed decimal; -1 when s is not one. */
static int parse_usd(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v < 0)
    return -1;
  *out = v;
  return 0;
}

/* The USD price of one term's dimensions; 1 found, 0 none, -1 malformed. */
static int term_price(json_t *term, double *price) {
  json_t *dims = json_object_get(term, "priceDimensions");
  const char *key;
  json_t *dim;
  int found = 0;
  if (!json_is_object(dims))
    return -1;
  json_object_foreach(dims, key, dim) {
    json_t *usd = json_object_get(json_object_get(dim, "pricePerUnit"), "USD");
    if (!json_is_string(usd) || parse_usd(json_string_value(usd), price) != 0)
      return -1;
    found = 1;
  }
  return found;
}

/*
 * Adds the price of one decoded product.  Returns 1 when a price was
 * added, 0 when the product is well formed but has no non-zero price
 * (AWS lists some at 0.00 for products that cannot be bought), -1 when
 * malformed.
 */
static int add_product(nw__pricing_map *dst, json_t *item) {
  json_t *type = json_object_get(
      json_object_get(json_object_get(item, "product"), "attributes"),
      "instanceType");
  json_t *terms = json_object_get(json_object_get(item, "terms"), "OnDemand");
  const char *key;
  json_t *term;
  double price = 0, p;
  if (!json_is_string(type) || json_string_length(type) == 0 ||
      !json_is_object(terms))
    return -1;
  json_object_foreach(terms, key, term) {
    int rc = term_price(term, &p);
    if (rc < 0)
      return -1;
    if (rc > 0 && p > 0)
      price = p;
  }
  if (price <= 0)
    return 0;
  if (nw__pricing_map_put(dst, json_string_value(type), NW_CAPACITY_ON_DEMAND,
                          "", price) != 0)
    return -1;
  return 1;
}

static void add_entry(nw__pricing_map *dst, json_t *entry,
                      nw__pricing_stats *stats) {
  json_t *item = NULL;
  int rc = -1;
  if (json_is_string(entry))
    item = json_loadb(json_string_value(entry), json_string_length(entry), 0,
                      NULL);
  if (json_is_object(item))
    rc = add_product(dst, item);
  json_decref(item);
  if (rc < 0)
    stats->malformed++;
  else if (rc > 0)
    stats->prices++;
}

static int read_token(json_t *root, char **next_token, char *err,
                      size_t errlen) {
  json_t *tok = json_object_get(root, "NextToken");
  *next_token = NULL;
  if (!tok || json_is_null(tok))
    return 0;
  if (!json_is_string(tok)) {
    snprintf(err, errlen, "GetProducts: NextToken is not a string");
    return -1;
  }
  if (json_string_length(tok) == 0)
    return 0;
  *next_token = strdup(json_string_value(tok));
  if (!*next_token) {
    snprintf(err, errlen, "GetProducts: out of memory");
    return -1;
  }
  return 0;
}

int nw__pricing_parse_products_json(nw__pricing_map *dst, json_t *root,
                                    char **next_token,
                                    nw__pricing_stats *stats, char *err,
                                    size_t errlen) {
  *next_token = NULL;
  json_t *list = json_object_get(root, "PriceList");
  if (!json_is_array(list)) {
    snprintf(err, errlen, "GetProducts: answer has no PriceList array");
    return -1;
  }
  size_t i;
  json_t *entry;
  json_array_foreach(list, i, entry) add_entry(dst, entry, stats);
  stats->pages++;
  return read_token(root, next_token, err, errlen);
}

int nw__pricing_parse_products(nw__pricing_map *dst, const char *body,
                               size_t len, char **next_token,
                               nw__pricing_stats *stats, char *err,
                               size_t errlen) {
  json_error_t jerr;
  *next_token = NULL;
  json_t *root = json_loadb(body, len, 0, &jerr);
  if (!root) {
    snprintf(err, errlen, "GetProducts: answer is not JSON (line %d "
             "column %d: %s)", jerr.line, jerr.column, jerr.text);
    return -1;
  }
  int rc = nw__pricing_parse_products_json(dst, root, next_token, stats, err,
                                           errlen);
  json_decref(root);
  return rc;
}

const char *nw__pricing_api_region(const char *region) {
  /* The Price List API has endpoints in four regions only; AWS documents
   * these as the ones to use for each partition of the world. */
  if (strncmp(region, "ap-", 3) == 0)
    return "ap-south-1";
  if (strncmp(region, "eu-", 3) == 0)
    return "eu-central-1";
  if (strncmp(region, "cn-", 3) == 0)
    return "cn-northwest-1";
  return "us-east-1";
}
