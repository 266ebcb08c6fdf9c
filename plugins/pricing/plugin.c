/*
 * The pricing plugin: prices of offerings (instance type, zone, capacity
 * type) for the AWS and kind providers and the simulator.
 *
 * Tables.  `base` holds the prices as the sources gave them (snapshot,
 * then every successful fetch merged over it); only refresh() touches it.
 * `table` is base with the user's adjustments applied: immutable once
 * published, read by price() under the read side of a rwlock, replaced by
 * refresh() under the write side with one pointer store.  price() never
 * sees a half-built table and never waits for a fetch; refresh() builds
 * the next table outside the lock.
 */
#include "pricing_int.h"

#include <errno.h>
#include <libxml/parser.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPONENT_METRIC(n) "pricing_" n

typedef struct state {
  const nw_host_api *host; /* borrowed until fini */
  nw_plugin_handle *h;
  nw__pricing_config cfg;
  nw__pricing_aws aws;
  pthread_rwlock_t lock;
  nw__pricing_map *table;  /* published; guarded by lock */
  nw__pricing_map *base;   /* refresh() only */
  int tried;               /* a fetch was attempted */
  int last_failed;
  int64_t last_try_ms;     /* monotonic */
  int64_t last_ok_ms;
} state;

static void publish_gauges(state *s, const nw__pricing_map *t) {
  s->host->gauge_set(s->h, COMPONENT_METRIC("prices"),
                     "capacity_type=on-demand",
                     (double)nw__pricing_map_count(t, NW_CAPACITY_ON_DEMAND));
  s->host->gauge_set(s->h, COMPONENT_METRIC("prices"), "capacity_type=spot",
                     (double)nw__pricing_map_count(t, NW_CAPACITY_SPOT));
}

/* Applies the adjustments to base and swaps the result in.  0, or -1 on
 * OOM (the old table stays). */
static int publish(state *s) {
  nw__pricing_map *next =
      nw__pricing_apply(s->base, s->cfg.adjustments, s->cfg.n_adjustments);
  if (!next)
    return -1;
  pthread_rwlock_wrlock(&s->lock);
  nw__pricing_map *old = s->table;
  s->table = next;
  pthread_rwlock_unlock(&s->lock);
  nw__pricing_map_free(old);
  publish_gauges(s, next);
  return 0;
}

/* ---- init --------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *data = NULL;
  size_t cap = 0, n = 0, got;
  do {
    if (n + 65536 > cap) {
      cap = cap ? cap * 2 : 262144;
      char *p = realloc(data, cap);
      if (!p) {
        free(data);
        fclose(f);
        return NULL;
      }
      data = p;
    }
    got = fread(data + n, 1, cap - n - 1, f);
    n += got;
  } while (got > 0);
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(data);
    return NULL;
  }
  data[n] = '\0';
  *len = n;
  return data;
}

static nw_status load_snapshot(state *s, nw_error *err) {
  size_t len = 0, loaded = 0;
  char *owned = NULL;
  const char *text;
  const char *origin = s->cfg.snapshot_path;
  if (origin) {
    owned = read_file(origin, &len);
    if (!owned)
      return nw_aws_error(err, NW_ERR_INVALID,
                          "pricing config: snapshot: cannot read %s: %s",
                          origin, strerror(errno));
    text = owned;
  } else {
    text = nw__pricing_builtin_snapshot(&len);
    origin = "built-in snapshot";
  }
  char msg[sizeof(err->message)];
  int rc = nw__pricing_snapshot_load(s->base, text, len, origin,
                                     s->cfg.region, &loaded, msg, sizeof(msg));
  free(owned);
  if (rc != 0)
    return nw_aws_error(err, NW_ERR_INVALID, "pricing: %s", msg);
  if (loaded == 0)
    s->host->log(s->h, NW_LOG_WARN, "%s has no prices for region %s: every "
                 "offering is unavailable until a refresh succeeds", origin,
                 s->cfg.region);
  else
    s->host->log(s->h, NW_LOG_INFO, "loaded %zu prices for %s from %s", loaded,
                 s->cfg.region, origin);
  return NW_OK;
}

static nw_status load_initial(state *s, nw_error *err) {
  s->base = nw__pricing_map_new(8192);
  if (!s->base)
    return nw_aws_error(err, NW_ERR, "pricing: out of memory");
  if (s->cfg.mode == NW__PRICING_STATIC) {
    if (nw__pricing_map_merge(s->base, s->cfg.static_prices) != 0)
      return nw_aws_error(err, NW_ERR, "pricing: out of memory");
    s->host->log(s->h, NW_LOG_INFO, "static prices: %zu offerings",
                 nw__pricing_map_len(s->base));
    return NW_OK;
  }
  return load_snapshot(s, err);
}

static void state_free(state *s) {
  if (!s)
    return;
  nw__pricing_aws_free(&s->aws);
  nw__pricing_map_free(s->table);
  nw__pricing_map_free(s->base);
  nw__pricing_config_free(&s->cfg);
  pthread_rwlock_destroy(&s->lock);
  free(s);
}

static nw_status pricing_init(const nw_host_api *host, nw_plugin_handle *h,
                              void **out, nw_error *err) {
  char msg[sizeof(err->message) - 32];
  state *s = calloc(1, sizeof(*s));
  if (!s)
    return nw_aws_error(err, NW_ERR, "pricing: out of memory");
  s->host = host;
  s->h = h;
  /* glibc's default rwlock lets a steady stream of price() readers starve
   * the one writer; refresh() must get its pointer swap in. */
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr,
                                PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&s->lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  nw_status st = NW_OK;
  if (nw__pricing_config_parse(host->config_json(h), &s->cfg, msg,
                               sizeof(msg)) != 0)
    st = nw_aws_error(err, NW_ERR_INVALID, "pricing config: %s", msg);
  if (st == NW_OK)
    st = load_initial(s, err);
  if (st == NW_OK && publish(s) != 0)
    st = nw_aws_error(err, NW_ERR, "pricing: out of memory");
  if (st == NW_OK && s->cfg.mode == NW__PRICING_AWS) {
    /* libxml2 must be initialised once before threads use it. */
    xmlInitParser();
    if (nw__pricing_aws_init(&s->aws, host, h, &s->cfg) != 0)
      st = nw_aws_error(err, NW_ERR, "pricing: out of memory");
  }
  if (st != NW_OK) {
    state_free(s);
    return st;
  }
  *out = s;
  return NW_OK;
}

static void pricing_fini(void *st) { state_free(st); }

/* ---- price -------------------------------------------------------------- */

static nw_status pricing_price(void *st, const char *type, const char *zone,
                               const char *ct, double *usd, nw_error *err) {
  state *s = st;
  if (!type || !ct || !usd)
    return nw_aws_error(err, NW_ERR_INVALID,
                        "price: instance type and capacity type are required");
  pthread_rwlock_rdlock(&s->lock);
  int rc = nw__pricing_map_lookup(s->table, type, ct, zone ? zone : "", usd);
  pthread_rwlock_unlock(&s->lock);
  if (rc != 0)
    return nw_aws_error(err, NW_ERR_NOT_FOUND, "no %s price for %s in %s", ct,
                        type, zone && *zone ? zone : "any zone");
  return NW_OK;
}

/* ---- refresh ------------------------------------------------------------ */

/* Whether a fetch is due: always first; after a failure, once the retry
 * interval passed; after a success, once the refresh interval passed, less
 * a little slack so a host timer with the same period never skips one. */
static int due(const state *s, int64_t now) {
  if (!s->tried)
    return 1;
  if (s->last_failed)
    return now - s->last_try_ms >= s->cfg.retry_interval_ms;
  int64_t slack = s->cfg.refresh_interval_ms / 10;
  if (slack > 60000)
    slack = 60000;
  return now - s->last_ok_ms >= s->cfg.refresh_interval_ms - slack;
}

typedef nw_status (*fetch_fn)(nw__pricing_aws *a, nw__pricing_map *out,
                              nw__pricing_stats *stats, nw_error *err);

/* Runs one source; on success merges it into *fresh.  Logs and counts
 * either way; returns the source's status with err filled. */
static nw_status run_source(state *s, const char *name, fetch_fn fn,
                            nw__pricing_map *fresh, nw_error *err) {
  char labels[64];
  nw__pricing_stats stats = {0};
  nw__pricing_map *got = nw__pricing_map_new(4096);
  nw_status st = got ? fn(&s->aws, got, &stats, err)
                     : nw_aws_error(err, NW_ERR, "out of memory");
  snprintf(labels, sizeof(labels), "source=%s", name);
  if (stats.malformed > 0) {
    s->host->counter_add(s->h, COMPONENT_METRIC("malformed_entries_total"),
                         labels, (double)stats.malformed);
    s->host->log(s->h, NW_LOG_WARN, "%s: skipped %zu malformed price entries",
                 name, stats.malformed);
  }
  if (st == NW_OK && nw__pricing_map_merge(fresh, got) != 0)
    st = nw_aws_error(err, NW_ERR, "out of memory");
  snprintf(labels, sizeof(labels), "source=%s,result=%s", name,
           st == NW_OK ? "success" : "error");
  s->host->counter_add(s->h, COMPONENT_METRIC("refresh_total"), labels, 1);
  if (st == NW_OK && stats.prices == 0)
    s->host->log(s->h, NW_LOG_WARN, "%s: the answer held no prices for "
                 "region %s; is the region right?", name, s->cfg.region);
  else if (st == NW_OK)
    s->host->log(s->h, NW_LOG_INFO, "%s: %zu prices from %zu pages", name,
                 stats.prices, stats.pages);
  else
    s->host->log(s->h, NW_LOG_WARN, "%s prices not refreshed, keeping the "
                 "previous ones: %s", name, err->message);
  nw__pricing_map_free(got);
  return st;
}

/* Joins the messages of two failed sources into err. */
static nw_status combine(nw_status a, const nw_error *ea, nw_status b,
                         const nw_error *eb, nw_error *err) {
  if (a != NW_OK && b != NW_OK)
    return nw_aws_error(err, a, "on-demand: %.240s; spot: %.240s",
                        ea->message, eb->message);
  if (a != NW_OK)
    return nw_aws_error(err, a, "on-demand: %s", ea->message);
  if (b != NW_OK)
    return nw_aws_error(err, b, "spot: %s", eb->message);
  return NW_OK;
}

static nw_status fetch_all(state *s, nw_error *err) {
  nw_error eod = {0}, espot = {0};
  nw_status od = NW_OK, spot = NW_OK;
  nw__pricing_map *fresh = nw__pricing_map_new(8192);
  if (!fresh)
    return nw_aws_error(err, NW_ERR, "pricing: out of memory");
  if (s->cfg.on_demand)
    od = run_source(s, "on-demand", nw__pricing_fetch_on_demand, fresh, &eod);
  if (s->cfg.spot)
    spot = run_source(s, "spot", nw__pricing_fetch_spot, fresh, &espot);
  nw_status st = combine(od, &eod, spot, &espot, err);
  /* What did arrive is merged even when the other source failed: new
   * prices replace old ones and nothing is ever dropped, so a partial
   * refresh can only make the table fresher. */
  if (nw__pricing_map_len(fresh) > 0 &&
      (nw__pricing_map_merge(s->base, fresh) != 0 || publish(s) != 0))
    st = nw_aws_error(err, NW_ERR, "pricing: out of memory");
  nw__pricing_map_free(fresh);
  return st;
}

static nw_status pricing_refresh(void *st, nw_error *err) {
  state *s = st;
  if (s->cfg.mode != NW__PRICING_AWS)
    return NW_OK;
  int64_t now = s->host->monotonic_ms(s->h);
  if (!due(s, now))
    return NW_OK;
  nw_status rc = fetch_all(s, err);
  s->tried = 1;
  s->last_try_ms = now;
  s->last_failed = rc != NW_OK;
  if (rc == NW_OK) {
    s->last_ok_ms = now;
    s->host->gauge_set(s->h, COMPONENT_METRIC("last_success_timestamp_seconds"),
                       NULL, (double)s->host->now_ms(s->h) / 1000.0);
  }
  return rc;
}

/* ---- descriptor --------------------------------------------------------- */

static const nw_pricing_vtable g_vtable = {
    .size = sizeof(nw_pricing_vtable),
    .price = pricing_price,
    .refresh = pricing_refresh,
};

static const nw_plugin_descriptor g_descriptor = {
    NW_DESCRIPTOR_HEAD(NW_PLUGIN_PRICING),
    .name = "pricing",
    .version = NW_PRICING_VERSION,
    .description = "EC2 on-demand and spot prices (AWS Price List API, "
                   "DescribeSpotPriceHistory, shipped snapshot) or a static "
                   "table, with user adjustments",
    .init = pricing_init,
    .fini = pricing_fini,
    .vtable = &g_vtable,
};

NW_PLUGIN_DEFINE(g_descriptor)
