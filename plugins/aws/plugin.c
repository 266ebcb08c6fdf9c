/*
 * The AWS provider plugin: descriptor, config, state, and the glue from
 * the provider vtable to ec2.c and sqs.c.
 *
 * Config (the plugin entry's `config:` subtree):
 *   cluster_name               required; tags and user data use it
 *   region                     else AWS_REGION, profile, IMDS
 *   endpoint                   override for every service (tests)
 *   kubernetes_version         for EKS AMI aliases, default "1.31"
 *   cluster_endpoint, cluster_ca_bundle, cluster_cidr
 *                              written into the nodes' user data
 *   interruption_queue         SQS queue name or URL; none = no events
 *   vm_memory_overhead_percent default 0.075
 *   prices                     {"m5.large": 0.096, ...} on-demand USD/h,
 *                              overriding the pricing plugin for these
 *                              types; every other offering has price -1
 *                              and the host prices it through its
 *                              pricing plugins
 *   spot_price_factor          for overridden types: spot = factor x
 *                              on-demand, default 0.35
 *   instance_types             ["m5.*", ...] limits DescribeInstanceTypes
 *   catalog_ttl_s              default 3600
 *   max_attempts, backoff_ms   retries of throttled calls (5, 100)
 *   launch_template_ttl_s      launch templates this process made or used
 *                              and no launch needed for this long are
 *                              deleted (3600)
 *   node_class_cache_ttl_s     how long resolved subnets, security groups
 *                              and images are reused (60)
 *   create_batch_idle_ms, create_batch_max_ms
 *                              CreateFleet batching windows (35, 1000)
 */
#include "aws.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* delete_instance is the one provider call without an arena, so its
 * responses are streamed into a per-thread heap buffer instead; each
 * response there is valid until the next arena-less call on the thread,
 * which is enough because nw_awscore consumes every response before it
 * sends the next request. */
typedef struct tbuf {
  struct tbuf *next;         /* every live buffer, for fini */
  char *data;
  size_t len, cap, max;
} tbuf;

/* The key's destructor is code in this library: a worker thread exiting
 * after the host unloaded the plugin would jump into unmapped memory.  So
 * the last fini deletes the key (no destructor runs after that) and frees
 * every buffer itself. */
static pthread_mutex_t g_tbuf_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t g_tbuf_key;
static int g_tbuf_key_ok;
static int g_states;         /* live plugin instances */
static tbuf *g_tbufs;

static void tbuf_unlink(tbuf *b) {
  for (tbuf **pp = &g_tbufs; *pp; pp = &(*pp)->next) {
    if (*pp == b) {
      *pp = b->next;
      return;
    }
  }
}

/* Freed when the thread exits, so worker threads leak nothing. */
static void tbuf_free(void *p) {
  tbuf *b = p;
  if (!b)
    return;
  pthread_mutex_lock(&g_tbuf_mu);
  tbuf_unlink(b);
  pthread_mutex_unlock(&g_tbuf_mu);
  free(b->data);
  free(b);
}

/* This thread's buffer, made on first use; NULL when out of memory. */
static tbuf *tbuf_get(void) {
  pthread_mutex_lock(&g_tbuf_mu);
  if (!g_tbuf_key_ok)
    g_tbuf_key_ok = pthread_key_create(&g_tbuf_key, tbuf_free) == 0;
  int ok = g_tbuf_key_ok;
  pthread_mutex_unlock(&g_tbuf_mu);
  if (!ok)
    return NULL;
  tbuf *b = pthread_getspecific(g_tbuf_key);
  if (b)
    return b;
  b = calloc(1, sizeof(*b));
  if (!b || pthread_setspecific(g_tbuf_key, b) != 0) {
    free(b);
    return NULL;
  }
  pthread_mutex_lock(&g_tbuf_mu);
  b->next = g_tbufs;
  g_tbufs = b;
  pthread_mutex_unlock(&g_tbuf_mu);
  return b;
}

/* At the last fini: no thread is in a plugin call any more. */
static void tbuf_release_all(void) {
  pthread_mutex_lock(&g_tbuf_mu);
  if (--g_states == 0 && g_tbuf_key_ok) {
    pthread_key_delete(g_tbuf_key);
    g_tbuf_key_ok = 0;
    while (g_tbufs) {
      tbuf *b = g_tbufs;
      g_tbufs = b->next;
      free(b->data);
      free(b);
    }
  }
  pthread_mutex_unlock(&g_tbuf_mu);
}

static int collect(void *user, const char *data, size_t len) {
  tbuf *b = user;
  if (b->len + len + 1 > b->max)
    return 1;
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + len + 1)
      cap *= 2;
    char *n = realloc(b->data, cap);
    if (!n)
      return 1;
    b->data = n;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

nw_status aws_http(void *user, const nw_http_request *req,
                   nw_http_response *resp, nw_arena *arena, nw_error *err) {
  aws_state *s = user;
  if (arena)
    return s->host->http(s->h, req, resp, arena, err);
  tbuf *b = tbuf_get();
  if (!b)
    return nw_aws_error(err, NW_ERR, "aws: out of memory");
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
  b->max = req->max_response_bytes ? req->max_response_bytes : 16u << 20;
  long status = 0;
  nw_status st = s->host->http_stream(s->h, req, collect, b, &status, err);
  memset(resp, 0, sizeof(*resp));
  resp->size = sizeof(*resp);
  resp->status = status;
  resp->body = b->data ? b->data : "";
  resp->body_len = b->len;
  return st;
}

static int64_t host_now(void *user) {
  aws_state *s = user;
  return s->host->now_ms(s->h);
}

static void host_log(void *user, nw_log_level level, const char *msg) {
  aws_state *s = user;
  s->host->log(s->h, level, "%s", msg);
}

static char *cfg_str(json_t *cfg, const char *key, const char *dflt) {
  const char *v = json_string_value(json_object_get(cfg, key));
  if (!v || !*v)
    v = dflt;
  return v ? strdup(v) : NULL;
}

static double cfg_num(json_t *cfg, const char *key, double dflt) {
  json_t *v = json_object_get(cfg, key);
  return json_is_number(v) ? json_number_value(v) : dflt;
}

static void state_free(aws_state *s) {
  if (!s)
    return;
  nw_aws_client_free(s->client);
  nw_aws_creds_free(s->creds);
  json_decref(s->config);
  free(s->cluster);
  free(s->k8s_version);
  free(s->cluster_endpoint);
  free(s->cluster_ca);
  free(s->queue);
  free(s->queue_url);
  aws_catalog_free(&s->catalog);
  free(s->unavailable);
  free(s->lts);
  free(s->instances);
  free(s->resolve_cache);
  pthread_mutex_destroy(&s->mu);
  pthread_mutex_destroy(&s->umu);
  pthread_mutex_destroy(&s->bmu);
  pthread_rwlock_destroy(&s->lt_lock);
  free(s);
}

static nw_status validate_config(json_t *cfg, nw_error *err) {
  if (!json_string_value(json_object_get(cfg, "cluster_name")))
    return nw_aws_error(err, NW_ERR_INVALID,
                        "aws: config.cluster_name is required (a string)");
  json_t *prices = json_object_get(cfg, "prices");
  if (prices && !json_is_object(prices))
    return nw_aws_error(err, NW_ERR_INVALID,
                        "aws: config.prices must be a map of instance type "
                        "to USD per hour");
  const char *k;
  json_t *v;
  json_object_foreach(prices, k, v) {
    if (!json_is_number(v) || json_number_value(v) < 0)
      return nw_aws_error(err, NW_ERR_INVALID,
                          "aws: config.prices.%s must be a non-negative number",
                          k);
  }
  json_t *types = json_object_get(cfg, "instance_types");
  if (types && !json_is_array(types))
    return nw_aws_error(err, NW_ERR_INVALID,
                        "aws: config.instance_types must be a list of patterns");
  double oh = cfg_num(cfg, "vm_memory_overhead_percent", 0.075);
  if (oh < 0 || oh >= 1)
    return nw_aws_error(err, NW_ERR_INVALID,
                        "aws: config.vm_memory_overhead_percent must be in "
                        "[0, 1), got %g",
                        oh);
  return NW_OK;
}

static nw_status plugin_init(const nw_host_api *host, nw_plugin_handle *h,
                             void **out, nw_error *err) {
  json_error_t jerr;
  json_t *cfg = json_loads(host->config_json(h), 0, &jerr);
  if (!json_is_object(cfg)) {
    json_decref(cfg);
    return nw_aws_error(err, NW_ERR_INVALID, "aws: config is not an object");
  }
  nw_status st = validate_config(cfg, err);
  if (st != NW_OK) {
    json_decref(cfg);
    return st;
  }
  aws_state *s = calloc(1, sizeof(*s));
  if (!s) {
    json_decref(cfg);
    return nw_aws_error(err, NW_ERR, "aws: out of memory");
  }
  pthread_mutex_lock(&g_tbuf_mu);
  g_states++;
  pthread_mutex_unlock(&g_tbuf_mu);
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->umu, NULL);
  pthread_mutex_init(&s->bmu, NULL);
  pthread_rwlock_init(&s->lt_lock, NULL);
  s->host = host;
  s->h = h;
  s->config = cfg;
  s->env = (nw_aws_env){.http = aws_http, .http_user = s,
                        .now_ms = host_now, .clock_user = s,
                        .log = host_log, .log_user = s};
  s->cluster = cfg_str(cfg, "cluster_name", NULL);
  s->k8s_version = cfg_str(cfg, "kubernetes_version", "1.31");
  s->cluster_endpoint = cfg_str(cfg, "cluster_endpoint", "");
  s->cluster_ca = cfg_str(cfg, "cluster_ca_bundle", "");
  s->queue = cfg_str(cfg, "interruption_queue", NULL);
  s->vm_overhead = cfg_num(cfg, "vm_memory_overhead_percent", 0.075);
  s->spot_factor = cfg_num(cfg, "spot_price_factor", 0.35);
  s->catalog_ttl_ms = (int64_t)cfg_num(cfg, "catalog_ttl_s", 3600) * 1000;
  s->batch_idle_ms = (int)cfg_num(cfg, "create_batch_idle_ms", 35);
  s->resolve_ttl_ms = (int64_t)(cfg_num(cfg, "node_class_cache_ttl_s", 60) * 1000);
  s->lt_ttl_ms = (int64_t)(cfg_num(cfg, "launch_template_ttl_s", 3600) * 1000);
  s->resolve_cache = calloc(AWS_RESOLVE_CACHE, sizeof(aws_resolve_entry));
  if (!s->resolve_cache) {
    state_free(s);
    tbuf_release_all();
    return nw_aws_error(err, NW_ERR, "aws: out of memory");
  }
  s->batch_max_ms = (int)cfg_num(cfg, "create_batch_max_ms", 1000);
  *out = s;
  return NW_OK;
}

/* Region, credentials and client are made on the first call, which has an
 * arena for the HTTP that IMDS region discovery may need. */
static nw_status ready(aws_state *s, nw_arena *arena, nw_error *err) {
  pthread_mutex_lock(&s->mu);
  nw_status st = NW_OK;
  if (!s->client) {
    char *cfg_region = cfg_str(s->config, "region", NULL);
    char *region = nw_aws_resolve_region(&s->env, cfg_region, arena, err);
    free(cfg_region);
    if (!region) {
      st = NW_ERR_INVALID;
    } else {
      char *endpoint = cfg_str(s->config, "endpoint", NULL);
      nw_aws_client_config cc = {
          .region = region, .endpoint = endpoint,
          .max_attempts = (int)cfg_num(s->config, "max_attempts", 5),
          .backoff_base_ms = (int64_t)cfg_num(s->config, "backoff_ms", 100)};
      s->creds = nw_aws_creds_new(&s->env, region);
      s->client = s->creds ? nw_aws_client_new(&s->env, s->creds, &cc) : NULL;
      if (!s->client)
        st = nw_aws_error(err, NW_ERR, "aws: cannot create the client");
      free(endpoint);
      free(region);
    }
  }
  pthread_mutex_unlock(&s->mu);
  return st;
}

static void plugin_fini(void *state) {
  state_free(state);
  tbuf_release_all();
}

void aws_mark_unavailable(aws_state *s, const char *type, const char *zone,
                          const char *ct) {
  char key[128];
  snprintf(key, sizeof(key), "%s/%s/%s", type, zone ? zone : "*", ct);
  int64_t until = s->host->monotonic_ms(s->h) + 3 * 60 * 1000;
  pthread_mutex_lock(&s->umu);
  size_t i;
  for (i = 0; i < s->n_unavailable; i++)
    if (strcmp(s->unavailable[i].key, key) == 0)
      break;
  if (i == s->n_unavailable && s->n_unavailable == s->cap_unavailable) {
    size_t cap = s->cap_unavailable ? s->cap_unavailable * 2 : 16;
    aws_unavailable *n = realloc(s->unavailable, cap * sizeof(*n));
    if (n) {
      s->unavailable = n;
      s->cap_unavailable = cap;
    }
  }
  if (i < s->cap_unavailable) {
    snprintf(s->unavailable[i].key, sizeof(s->unavailable[i].key), "%s", key);
    s->unavailable[i].until_ms = until;
    if (i == s->n_unavailable)
      s->n_unavailable++;
  }
  pthread_mutex_unlock(&s->umu);
  s->host->counter_add(s->h, "aws_offering_unavailable_total", NULL, 1);
}

int aws_is_unavailable(aws_state *s, const char *type, const char *zone,
                       const char *ct) {
  char key[128], any[128];
  snprintf(key, sizeof(key), "%s/%s/%s", type, zone, ct);
  snprintf(any, sizeof(any), "%s/*/%s", type, ct);
  int64_t now = s->host->monotonic_ms(s->h);
  int hit = 0;
  pthread_mutex_lock(&s->umu);
  for (size_t i = 0; i < s->n_unavailable && !hit; i++)
    hit = s->unavailable[i].until_ms > now &&
          (strcmp(s->unavailable[i].key, key) == 0 ||
           strcmp(s->unavailable[i].key, any) == 0);
  pthread_mutex_unlock(&s->umu);
  return hit;
}

double aws_price(aws_state *s, const char *type, const char *ct) {
  json_t *v = json_object_get(json_object_get(s->config, "prices"), type);
  if (!json_is_number(v))
    return -1;
  double od = json_number_value(v);
  return strcmp(ct, NW_CAPACITY_SPOT) == 0 ? od * s->spot_factor : od;
}

int aws_host_prices(const aws_state *s) {
  /* A host before ABI 1.2 has no price call. */
  return offsetof(nw_host_api, price) < s->host->size && s->host->price;
}

double aws_launch_price(aws_state *s, const char *type, const char *zone,
                        const char *ct) {
  double usd = aws_price(s, type, ct);
  if (usd >= 0)
    return usd;
  if (!aws_host_prices(s))
    return -1;
  nw_error err = {0};
  if (s->host->price(s->h, type, zone, ct, &usd, &err) != NW_OK || usd < 0)
    return -1;
  return usd;
}

void aws_remember_instance(aws_state *s, const char *id, const char *zone) {
  if (!id || !zone)
    return;
  pthread_mutex_lock(&s->mu);
  size_t i;
  for (i = 0; i < s->n_instances; i++)
    if (strcmp(s->instances[i].id, id) == 0)
      break;
  if (i == s->n_instances) {
    if (s->n_instances == s->cap_instances) {
      size_t cap = s->cap_instances ? s->cap_instances * 2 : 64;
      aws_instance_rec *n = realloc(s->instances, cap * sizeof(*n));
      if (!n) {
        pthread_mutex_unlock(&s->mu);
        return;
      }
      s->instances = n;
      s->cap_instances = cap;
    }
    s->n_instances++;
  }
  snprintf(s->instances[i].id, sizeof(s->instances[i].id), "%s", id);
  snprintf(s->instances[i].zone, sizeof(s->instances[i].zone), "%s", zone);
  pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------- vtable */

static nw_status v_instance_types(void *state, const char *nodepool,
                                  const char *node_class_json, nw_arena *arena,
                                  nw_instance_types *out, nw_error *err) {
  (void)nodepool;
  aws_state *s = state;
  nw_status st = ready(s, arena, err);
  return st != NW_OK ? st : aws_instance_types(s, node_class_json, arena, out, err);
}

static nw_status v_create(void *state, const nw_node_claim *claim,
                          nw_arena *arena, nw_node_instance *out,
                          nw_error *err) {
  aws_state *s = state;
  nw_status st = ready(s, arena, err);
  return st != NW_OK ? st : aws_create(s, claim, arena, out, err);
}

/* delete has no arena: aws_http streams into a per-thread buffer then. */
static nw_status v_delete(void *state, const char *provider_id,
                          nw_error *err) {
  aws_state *s = state;
  nw_status st = ready(s, NULL, err);
  return st != NW_OK ? st : aws_delete(s, provider_id, err);
}

static nw_status v_get(void *state, const char *provider_id, nw_arena *arena,
                       nw_node_instance *out, nw_error *err) {
  aws_state *s = state;
  nw_status st = ready(s, arena, err);
  return st != NW_OK ? st : aws_get(s, provider_id, arena, out, err);
}

static nw_status v_list(void *state, nw_arena *arena, nw_node_instances *out,
                        nw_error *err) {
  aws_state *s = state;
  nw_status st = ready(s, arena, err);
  return st != NW_OK ? st : aws_list(s, arena, out, err);
}

static nw_status v_is_drifted(void *state, const nw_node_instance *instance,
                              const char *node_class_json, nw_arena *arena,
                              const char **reason, nw_error *err) {
  aws_state *s = state;
  nw_status st = ready(s, arena, err);
  return st != NW_OK ? st
                     : aws_is_drifted(s, instance, node_class_json, arena,
                                      reason, err);
}

static nw_status v_repair_policies(void *state, nw_arena *arena,
                                   nw_repair_policies *out, nw_error *err) {
  aws_state *s = state;
  /* Karpenter's AWS repair policies: kubelet not ready, and the node
   * monitoring agent's conditions. */
  static const nw_repair_policy policies[] = {
      {"Ready", "False", 30 * 60},
      {"Ready", "Unknown", 30 * 60},
      {"AcceleratedHardwareReady", "False", 10 * 60},
      {"StorageReady", "False", 30 * 60},
      {"NetworkingReady", "False", 30 * 60},
      {"KernelReady", "False", 30 * 60},
      {"ContainerRuntimeReady", "False", 30 * 60}};
  size_t n = sizeof(policies) / sizeof(policies[0]);
  nw_repair_policy *items = s->host->arena_alloc(arena, n * sizeof(*items));
  if (!items)
    return nw_aws_error(err, NW_ERR, "aws: out of memory");
  memcpy(items, policies, sizeof(policies));
  out->len = n;
  out->items = items;
  return NW_OK;
}

static nw_status v_poll_events(void *state, int64_t wait_ms, size_t max,
                               nw_arena *arena, nw_provider_event **out,
                               size_t *n_out, nw_error *err) {
  aws_state *s = state;
  *out = NULL;
  *n_out = 0;
  nw_status st = ready(s, arena, err);
  return st != NW_OK ? st
                     : aws_poll_events(s, wait_ms, max, arena, out, n_out, err);
}

/* registered has no arena: aws_http streams into a per-thread buffer. */
static nw_status v_registered(void *state, const char *provider_id,
                              const char *claim_name, const char *node_name,
                              nw_error *err) {
  aws_state *s = state;
  nw_status st = ready(s, NULL, err);
  return st != NW_OK ? st
                     : aws_registered(s, provider_id, claim_name, node_name, err);
}

static nw_status v_node_class_status(void *state, const char *node_class_json,
                                     nw_arena *arena, const char **status_json,
                                     nw_error *err) {
  aws_state *s = state;
  *status_json = NULL;
  nw_status st = ready(s, arena, err);
  return st != NW_OK ? st
                     : aws_node_class_status(s, node_class_json, arena,
                                             status_json, err);
}

static const nw_node_class_ref node_class_kinds[] = {
    {"karpenter.k8s.aws", "EC2NodeClass", NULL}};

static const nw_provider_vtable vtable = {
    .size = sizeof(nw_provider_vtable),
    .n_node_class_kinds = 1,
    .node_class_kinds = node_class_kinds,
    .instance_types = v_instance_types,
    .create = v_create,
    .delete_instance = v_delete,
    .get = v_get,
    .list = v_list,
    .is_drifted = v_is_drifted,
    .repair_policies = v_repair_policies,
    .poll_events = v_poll_events,
    .registered = v_registered,
    .node_class_status = v_node_class_status};

static const nw_plugin_descriptor descriptor = {
    NW_DESCRIPTOR_HEAD(NW_PLUGIN_PROVIDER),
    .name = "aws",
    .version = "0.1.0",
    .description = "AWS EC2 provider: CreateFleet launches, EC2NodeClass, "
                   "SQS interruption events",
    .init = plugin_init,
    .fini = plugin_fini,
    .vtable = &vtable};

NW_PLUGIN_DEFINE(descriptor)
