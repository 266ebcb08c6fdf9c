/*
 * The pricing plugin's internals, shared by its source files and its unit
 * tests (which link these files directly, see plugins/pricing/CMakeLists).
 *
 * Nothing here uses the daemon's code: the plugin gets its services only
 * from the nw_host_api table, and allocates its own state with malloc.
 */
#ifndef NW_PRICING_INT_H
#define NW_PRICING_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libxml/tree.h>

#include <nodewright/nodewright.h>

#include "awscore.h"

/* ---- the price map ------------------------------------------------------ */

/*
 * An open-addressing hash map from (instance type, capacity type, zone) to
 * USD per hour.  Zone "" means "every zone of the region" (on-demand
 * prices are regional).  The map owns copies of its keys.  A map is
 * mutable while it is built and immutable once published; concurrent
 * readers of an unchanging map need no lock.
 */
typedef struct nw__pricing_map nw__pricing_map;

/* A new empty map sized for about `hint` entries; NULL on OOM.  The
 * caller owns it and frees it with nw__pricing_map_free (NULL is fine). */
nw__pricing_map *nw__pricing_map_new(size_t hint);
void nw__pricing_map_free(nw__pricing_map *m);

/* Inserts or replaces a price.  The strings are borrowed (copied).
 * Returns 0, or -1 on OOM. */
int nw__pricing_map_put(nw__pricing_map *m, const char *type, const char *ct,
                        const char *zone, double price);

/* Exact lookup; 0 and *price set when present, -1 when absent. */
int nw__pricing_map_get(const nw__pricing_map *m, const char *type,
                        const char *ct, const char *zone, double *price);

/* The lookup price() uses: the zone's own price, else the regional one
 * (zone ""). */
int nw__pricing_map_lookup(const nw__pricing_map *m, const char *type,
                           const char *ct, const char *zone, double *price);

size_t nw__pricing_map_len(const nw__pricing_map *m);
/* Entries with this capacity type. */
size_t nw__pricing_map_count(const nw__pricing_map *m, const char *ct);

/* Iteration: start with *cursor = 0; returns 0 and fills the outputs
 * (borrowed from the map) while entries remain, then -1. */
int nw__pricing_map_next(const nw__pricing_map *m, size_t *cursor,
                         const char **type, const char **ct,
                         const char **zone, double *price);

/* Copies every entry of src over dst (src wins).  0, or -1 on OOM. */
int nw__pricing_map_merge(nw__pricing_map *dst, const nw__pricing_map *src);

/* ---- adjustments -------------------------------------------------------- */

/*
 * One user adjustment: a selector (any of type, family, capacity type;
 * NULL = any) and either a discount or a fixed price.  Specificity: type
 * (4) > family (2) > capacity type (1), summed, so "type + capacity type"
 * beats "type" beats "family + capacity type" beats "family" beats
 * "capacity type".  The config parser rejects two rules with the same
 * selector, so exactly one rule wins for any offering.
 */
typedef struct nw__pricing_adjustment {
  char *type;
  char *family;
  char *capacity_type;
  int fixed;               /* 1: price is the new price; 0: discount */
  double price;
  double discount_percent; /* 0..100 */
} nw__pricing_adjustment;

/* The rule that applies to an offering, or NULL. */
const nw__pricing_adjustment *
nw__pricing_adjustment_find(const nw__pricing_adjustment *rules, size_t n,
                            const char *type, const char *ct);

/* A new map holding every entry of base with its winning rule applied;
 * NULL on OOM.  Only offerings that have a price are adjusted: a rule
 * never makes an unpriced offering available. */
nw__pricing_map *nw__pricing_apply(const nw__pricing_map *base,
                                   const nw__pricing_adjustment *rules,
                                   size_t n);

/* ---- configuration ------------------------------------------------------ */

typedef enum nw__pricing_mode {
  NW__PRICING_AWS = 0,      /* snapshot first, then the AWS APIs */
  NW__PRICING_SNAPSHOT = 1, /* the snapshot only, never the network */
  NW__PRICING_STATIC = 2    /* the `prices` table of the config only */
} nw__pricing_mode;

typedef struct nw__pricing_config {
  nw__pricing_mode mode;
  char *region;              /* NULL until resolved (config, env) */
  char *snapshot_path;       /* NULL = the snapshot built into the plugin */
  char *pricing_endpoint;    /* NULL = resolved from region / env */
  char *ec2_endpoint;
  int on_demand;             /* fetch on-demand prices (GetProducts) */
  int spot;                  /* fetch spot prices */
  int64_t refresh_interval_ms;
  int64_t retry_interval_ms;
  int64_t timeout_ms;
  nw__pricing_adjustment *adjustments;
  size_t n_adjustments;
  nw__pricing_map *static_prices; /* mode static: the table; else NULL */
} nw__pricing_config;

/* Parses the plugin's config subtree (JSON text).  On error returns -1
 * with a message naming the key and the problem in err.  The caller frees
 * the config with nw__pricing_config_free, also after an error. */
int nw__pricing_config_parse(const char *json, nw__pricing_config *cfg,
                             char *err, size_t errlen);
void nw__pricing_config_free(nw__pricing_config *cfg);

/* ---- sources ------------------------------------------------------------ */

/* Counters a fetch fills, for logs, metrics and tests. */
typedef struct nw__pricing_stats {
  size_t pages;              /* responses read */
  size_t prices;             /* prices accepted */
  size_t malformed;          /* entries skipped as malformed */
} nw__pricing_stats;

/*
 * Loads a snapshot (format nodewright.pricing.snapshot/v1) for `region`
 * into dst.  `text` is the JSON, borrowed; `origin` names it in errors.
 * A region absent from the snapshot loads nothing and returns 0.
 * Returns -1 with err filled when the text is not a valid snapshot.
 */
int nw__pricing_snapshot_load(nw__pricing_map *dst, const char *text,
                              size_t len, const char *origin,
                              const char *region, size_t *loaded, char *err,
                              size_t errlen);

/* The snapshot built into the plugin (NUL-terminated JSON). */
const char *nw__pricing_builtin_snapshot(size_t *len);

/*
 * Parses one GetProducts response body (awsJson1.1) into dst: each
 * PriceList entry is a JSON string holding a product; its
 * product.attributes.instanceType and every
 * terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD make an on-demand
 * price.  Entries that do not parse are skipped and counted in
 * stats->malformed.  *next_token gets a malloc'd copy of NextToken, or
 * NULL on the last page.  Returns -1 with err filled when the body itself
 * is not a GetProducts response.
 */
int nw__pricing_parse_products(nw__pricing_map *dst, const char *body,
                               size_t len, char **next_token,
                               nw__pricing_stats *stats, char *err,
                               size_t errlen);

/* The same, for an answer already parsed (root borrowed). */
int nw__pricing_parse_products_json(nw__pricing_map *dst, json_t *root,
                                    char **next_token,
                                    nw__pricing_stats *stats, char *err,
                                    size_t errlen);

/*
 * Parses one DescribeSpotPriceHistory response (EC2 Query protocol XML)
 * into dst, keeping per (type, zone) the price with the latest timestamp
 * (`latest` holds the timestamps in Unix ms, same keys, capacity type
 * "ts").  Only Linux/UNIX product descriptions count.  *next_token as
 * above.  Returns -1 with err filled when the XML is not such a response.
 */
int nw__pricing_parse_spot(nw__pricing_map *dst, nw__pricing_map *latest,
                           const char *body, size_t len, char **next_token,
                           nw__pricing_stats *stats, char *err,
                           size_t errlen);

/* The same, for an answer already parsed (doc borrowed). */
int nw__pricing_parse_spot_doc(nw__pricing_map *dst, nw__pricing_map *latest,
                               xmlDocPtr doc, char **next_token,
                               nw__pricing_stats *stats, char *err,
                               size_t errlen);

/* The Price List API endpoint region for a region: us-east-1, or
 * ap-south-1, eu-central-1, cn-northwest-1 for the ap-, eu- and cn-
 * regions.  Returns a static string. */
const char *nw__pricing_api_region(const char *region);

/* ---- fetching from AWS -------------------------------------------------- */

/* Where and how to call AWS; set up at init, used by refresh only (never
 * concurrently with itself).  Clients and credentials are awscore's. */
typedef struct nw__pricing_aws {
  const nw_host_api *host;   /* borrowed, valid until fini */
  nw_plugin_handle *h;
  const nw__pricing_config *cfg; /* borrowed from the plugin state */
  nw_aws_creds *creds;       /* owned */
  nw_aws_client *pricing;    /* owned; region = the Price List API region */
  nw_aws_client *ec2;        /* owned; region = cfg->region */
} nw__pricing_aws;

/* Creates the credential chain and the two clients.  Endpoints: the
 * environment (AWS_ENDPOINT_URL_PRICING / _EC2, AWS_ENDPOINT_URL), else
 * config endpoints.*, else the AWS defaults.  0, or -1 on OOM. */
int nw__pricing_aws_init(nw__pricing_aws *a, const nw_host_api *host,
                         nw_plugin_handle *h, const nw__pricing_config *cfg);
void nw__pricing_aws_free(nw__pricing_aws *a);

/* Both GetProducts queries, every page, into out (on-demand, zone "").
 * Blocking.  On error out may hold a part; the caller discards it. */
nw_status nw__pricing_fetch_on_demand(nw__pricing_aws *a,
                                      nw__pricing_map *out,
                                      nw__pricing_stats *stats, nw_error *err);

/* Every page of DescribeSpotPriceHistory (Linux/UNIX, price in effect
 * now), the latest per type and zone, into out.  Blocking. */
nw_status nw__pricing_fetch_spot(nw__pricing_aws *a, nw__pricing_map *out,
                                 nw__pricing_stats *stats, nw_error *err);

#endif
