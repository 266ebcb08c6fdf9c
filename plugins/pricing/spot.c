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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscore.h"

#define TS_KEY "ts"

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

/* 1 added (or older than what we have), 0 not Linux, -1 malformed. */
static int add_fields(nw__pricing_map *dst, nw__pricing_map *latest,
                      const char *type, const char *zone, const char *product,
                      const char *price_s, const char *ts_s) {
  double price, seen;
  if (!type || !*type || !zone || !*zone || !product || !price_s)
    return -1;
  int64_t ts = nw_aws_parse_iso8601(ts_s);
  if (parse_price(price_s, &price) != 0 || ts < 0)
    return -1;
  if (!is_linux(product))
    return 0;
  if (nw__pricing_map_get(latest, type, TS_KEY, zone, &seen) == 0 &&
      seen > (double)ts)
    return 1;
  if (nw__pricing_map_put(latest, type, TS_KEY, zone, (double)ts) != 0 ||
      nw__pricing_map_put(dst, type, NW_CAPACITY_SPOT, zone, price) != 0)
    return -1;
  return 1;
}

static int add_item(nw__pricing_map *dst, nw__pricing_map *latest,
                    xmlNodePtr item) {
  char *type = nw_aws_xml_text(item, "instanceType");
  char *zone = nw_aws_xml_text(item, "availabilityZone");
  char *product = nw_aws_xml_text(item, "productDescription");
  char *price = nw_aws_xml_text(item, "spotPrice");
  char *ts = nw_aws_xml_text(item, "timestamp");
  int rc = add_fields(dst, latest, type, zone, product, price, ts);
  free(type);
  free(zone);
  free(product);
  free(price);
  free(ts);
  return rc;
}

static void add_set(nw__pricing_map *dst, nw__pricing_map *latest,
                    xmlNodePtr set, nw__pricing_stats *stats) {
  for (xmlNodePtr it = set->children; it; it = it->next) {
    if (it->type != XML_ELEMENT_NODE)
      continue;
    int rc = strcmp((const char *)it->name, "item") == 0
                 ? add_item(dst, latest, it)
                 : -1;
    if (rc < 0)
      stats->malformed++;
    else if (rc > 0)
      stats->prices++;
  }
}

int nw__pricing_parse_spot_doc(nw__pricing_map *dst, nw__pricing_map *latest,
                               xmlDocPtr doc, char **next_token,
                               nw__pricing_stats *stats, char *err,
                               size_t errlen) {
  xmlNodePtr root = xmlDocGetRootElement(doc);
  *next_token = NULL;
  const char *name = root ? (const char *)root->name : "";
  if (strcmp(name, "DescribeSpotPriceHistoryResponse") != 0) {
    snprintf(err, errlen, "DescribeSpotPriceHistory: unexpected <%s> answer",
             root ? name : "empty");
    return -1;
  }
  xmlNodePtr set = nw_aws_xml_child(root, "spotPriceHistorySet");
  if (set)
    add_set(dst, latest, set, stats);
  stats->pages++;
  char *tok = nw_aws_xml_text(root, "nextToken");
  if (tok && *tok)
    *next_token = tok;
  else
    free(tok);
  return 0;
}

int nw__pricing_parse_spot(nw__pricing_map *dst, nw__pricing_map *latest,
                           const char *body, size_t len, char **next_token,
                           nw__pricing_stats *stats, char *err,
                           size_t errlen) {
  nw_error e = {0};
  *next_token = NULL;
  xmlDocPtr doc = nw_aws_xml_parse(body, len, "DescribeSpotPriceHistory", &e);
  if (!doc) {
    snprintf(err, errlen, "%s", e.message);
    return -1;
  }
  int rc = nw__pricing_parse_spot_doc(dst, latest, doc, next_token, stats, err,
                                      errlen);
  xmlFreeDoc(doc);
  return rc;
}
