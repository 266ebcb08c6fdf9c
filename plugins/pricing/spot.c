/*
 * DescribeSpotPriceHistory responses (EC2 Query protocol, XML):
 *
 *   <DescribeSpotPriceHistoryResponse xmlns="http://ec2.amazonaws.com/...">
 *     <spotPriceHistorySet>
 *       <item><instanceType>m5.large</instanceType>
 *             <productDescription>Linux/UNIX</productDescription>
 *             <spotPrice>0.041200</spotPrice>
 *             <timestamp>2026-07-20T10:00:00.000Z</timestamp>
 *             <availabilityZone>us-east-1a</availabilityZone></item>
 *     </spotPriceHistorySet>
 *     <nextToken>...</nextToken>
 *   </DescribeSpotPriceHistoryResponse>
 *
 * A history holds several prices per type and zone; the latest wins.
 */
#include "pricing_int.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TS_KEY "ts"

static int named(const xmlNode *n, const char *name) {
  return n->type == XML_ELEMENT_NODE &&
         strcmp((const char *)n->name, name) == 0;
}

static const xmlNode *child(const xmlNode *parent, const char *name) {
  for (const xmlNode *c = parent->children; c; c = c->next)
    if (named(c, name))
      return c;
  return NULL;
}

/* The text of a child element, malloc'd; NULL when absent or empty. */
static char *child_text(const xmlNode *parent, const char *name) {
  const xmlNode *c = child(parent, name);
  if (!c)
    return NULL;
  xmlChar *t = xmlNodeGetContent(c);
  char *s = t && *t ? strdup((const char *)t) : NULL;
  xmlFree(t);
  return s;
}

/* ISO 8601 UTC ("2026-07-20T10:00:00.123Z") to seconds; -1 when bad. */
static int parse_time(const char *s, double *out) {
  struct tm tm = {0};
  int n = 0;
  if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
             &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
    return -1;
  double frac = 0;
  const char *p = s + n;
  if (*p == '.') {
    char *end;
    frac = strtod(p, &end);
    p = end;
  }
  if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  *out = (double)timegm(&tm) + frac;
  return 0;
}

static int parse_price(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno || !isfinite(v) || v <= 0)
    return -1;
  *out = v;
  return 0;
}

static int is_linux(const char *product) {
  return strcmp(product, "Linux/UNIX") == 0 ||
         strcmp(product, "Linux/UNIX (Amazon VPC)") == 0;
}

/* 1 added or older than what we have, 0 not Linux, -1 malformed. */
static int add_fields(nw__pricing_map *dst, nw__pricing_map *latest,
                      const char *type, const char *zone, const char *product,
                      const char *price_s, const char *ts_s) {
  double price, ts, seen;
  if (!type || !zone || !product || !price_s || !ts_s)
    return -1;
  if (parse_price(price_s, &price) != 0 || parse_time(ts_s, &ts) != 0)
    return -1;
  if (!is_linux(product))
    return 0;
  if (nw__pricing_map_get(latest, type, TS_KEY, zone, &seen) == 0 && seen > ts)
    return 1;
  if (nw__pricing_map_put(latest, type, TS_KEY, zone, ts) != 0 ||
      nw__pricing_map_put(dst, type, NW_CAPACITY_SPOT, zone, price) != 0)
    return -1;
  return 1;
}

static int add_item(nw__pricing_map *dst, nw__pricing_map *latest,
                    const xmlNode *item) {
  char *type = child_text(item, "instanceType");
  char *zone = child_text(item, "availabilityZone");
  char *product = child_text(item, "productDescription");
  char *price = child_text(item, "spotPrice");
  char *ts = child_text(item, "timestamp");
  int rc = add_fields(dst, latest, type, zone, product, price, ts);
  free(type);
  free(zone);
  free(product);
  free(price);
  free(ts);
  return rc;
}

static void add_set(nw__pricing_map *dst, nw__pricing_map *latest,
                    const xmlNode *set, nw__pricing_stats *stats) {
  for (const xmlNode *it = set->children; it; it = it->next) {
    if (it->type != XML_ELEMENT_NODE)
      continue;
    int rc = named(it, "item") ? add_item(dst, latest, it) : -1;
    if (rc < 0)
      stats->malformed++;
    else if (rc > 0)
      stats->prices++;
  }
}

/* An EC2 error document: <Response><Errors><Error><Code>..<Message>.. */
static void describe_error(const xmlNode *root, char *err, size_t errlen) {
  const xmlNode *errors = child(root, "Errors");
  const xmlNode *e = errors ? child(errors, "Error") : NULL;
  char *code = e ? child_text(e, "Code") : NULL;
  char *msg = e ? child_text(e, "Message") : NULL;
  snprintf(err, errlen, "DescribeSpotPriceHistory: unexpected <%s> response%s%s%s%s",
           (const char *)root->name, code ? ": " : "", code ? code : "",
           msg ? ": " : "", msg ? msg : "");
  free(code);
  free(msg);
}

int nw__pricing_parse_spot(nw__pricing_map *dst, nw__pricing_map *latest,
                           const char *body, size_t len, char **next_token,
                           nw__pricing_stats *stats, char *err,
                           size_t errlen) {
  *next_token = NULL;
  if (len > (size_t)0x7fffffff) {
    snprintf(err, errlen, "DescribeSpotPriceHistory: response too large");
    return -1;
  }
  xmlDoc *doc = xmlReadMemory(body, (int)len, "spot.xml", NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR |
                                  XML_PARSE_NOWARNING);
  const xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
  if (!root) {
    snprintf(err, errlen, "DescribeSpotPriceHistory: response is not XML");
    xmlFreeDoc(doc);
    return -1;
  }
  if (!named(root, "DescribeSpotPriceHistoryResponse")) {
    describe_error(root, err, errlen);
    xmlFreeDoc(doc);
    return -1;
  }
  const xmlNode *set = child(root, "spotPriceHistorySet");
  if (set)
    add_set(dst, latest, set, stats);
  stats->pages++;
  *next_token = child_text(root, "nextToken");
  xmlFreeDoc(doc);
  return 0;
}
