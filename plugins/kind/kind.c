/*
 * The kind/Docker provider plugin: nodes as Docker containers.
 *
 *   create   -> a container labelled like a kind worker plus our labels,
 *               CPU and memory limited to the instance type, started; then
 *               the node joins (kubeadm) or is registered (virtual)
 *   list/get -> containers of the cluster carrying a claim label
 *   delete   -> docker rm --force --volumes (and the virtual Node)
 *   events   -> the Docker events stream (events.c)
 *
 * providerID: kind://docker/<cluster>/<container name>, as kind sets it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kind.h"

#define MIB (INT64_C(1024) * 1024)

/* ---- small helpers -------------------------------------------------------- */

static char *adup(nw__kind *k, nw_arena *a, const char *s) {
  return s ? k->host->arena_strdup(a, s) : NULL;
}

static int have_kube(const nw_host_api *host) {
  return host->size >= offsetof(nw_host_api, kube_request) + sizeof(void *) &&
         host->kube_request != NULL;
}

/* Docker names allow [a-zA-Z0-9][a-zA-Z0-9_.-]; node names and hostnames
 * want lower case and at most 63 characters. */
static void container_name(const char *cluster, const char *claim, char *out,
                           size_t len) {
  char buf[256];
  size_t n = 0;
  snprintf(buf, sizeof(buf), "%s-%s", cluster, claim);
  for (size_t i = 0; buf[i] && n + 1 < len && n < 63; i++) {
    char c = buf[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '-'))
      c = '-';
    out[n++] = c;
  }
  while (n > 0 && (out[n - 1] == '-' || out[n - 1] == '.'))
    n--;
  out[n] = '\0';
}

/* Splits kind://docker/<cluster>/<name>; NW_ERR_INVALID when malformed. */
static nw_status parse_provider_id(nw__kind *k, const char *pid, char *name,
                                   size_t len, nw_error *err) {
  size_t pl = strlen(NW_KIND_PROVIDER_PREFIX);
  size_t cl = strlen(k->cfg.cluster);
  if (!pid || strncmp(pid, NW_KIND_PROVIDER_PREFIX, pl) != 0)
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind: providerID \"%s\" does not start with %s",
                        pid ? pid : "(null)", NW_KIND_PROVIDER_PREFIX);
  const char *rest = pid + pl;
  if (strncmp(rest, k->cfg.cluster, cl) != 0 || rest[cl] != '/')
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind: providerID \"%s\" is not of cluster \"%s\"", pid,
                        k->cfg.cluster);
  const char *n = rest + cl + 1;
  if (!*n || strlen(n) >= len || strspn(n, "abcdefghijklmnopqrstuvwxyz"
                                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789_.-") != strlen(n))
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind: providerID \"%s\" has no valid container name",
                        pid);
  snprintf(name, len, "%s", n);
  return NW_OK;
}

static nw_instance_state state_of(const char *s) {
  if (!s)
    return NW_INSTANCE_PENDING;
  if (strcmp(s, "running") == 0 || strcmp(s, "paused") == 0)
    return NW_INSTANCE_RUNNING;
  if (strcmp(s, "removing") == 0)
    return NW_INSTANCE_TERMINATING;
  /* A node container that exited does not come back (no restart policy in
   * the virtual runtime; kind's on-failure:1 has been used up). */
  if (strcmp(s, "exited") == 0 || strcmp(s, "dead") == 0)
    return NW_INSTANCE_TERMINATED;
  return NW_INSTANCE_PENDING;
}

/* Parses Docker's RFC 3339 "2026-11-28T00:23:02.123456789Z"; 0 on failure. */
static int64_t parse_time_ms(const char *s) {
  struct tm tm;
  int ms = 0;
  memset(&tm, 0, sizeof(tm));
  if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon,
                   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
    return 0;
  const char *dot = strchr(s, '.');
  if (dot) {
    for (int i = 1, f = 100; i <= 3 && dot[i] >= '0' && dot[i] <= '9'; i++, f /= 10)
      ms += (dot[i] - '0') * f;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return (int64_t)timegm(&tm) * 1000 + ms;
}

static nw_resource_list res_list(nw__kind *k, nw_arena *a, int64_t cpu_m,
                                 int64_t mem_b, int64_t pods) {
  nw_resource_list l = {0};
  nw_resource *r = k->host->arena_alloc(a, 3 * sizeof(*r));
  if (!r)
    return l;
  r[0].name = "cpu";
  r[0].value = cpu_m;
  r[1].name = "memory";
  r[1].value = mem_b;
  r[2].name = "pods";
  r[2].value = pods;
  l.items = r;
  l.len = 3;
  return l;
}

/* Fills an instance from a container's name, labels, image, state. */
static void fill_instance(nw__kind *k, nw_arena *a, const char *name,
                          json_t *labels, const char *image, const char *state,
                          int64_t created_ms, nw_node_instance *out) {
  char pid[320];
  const char *type = json_string_value(json_object_get(labels, NW_KIND_LABEL_TYPE));
  const char *zone = json_string_value(json_object_get(labels, NW_KIND_LABEL_ZONE));
  const char *cap = json_string_value(json_object_get(labels, NW_KIND_LABEL_CAPACITY));
  memset(out, 0, sizeof(*out));
  if (name && name[0] == '/')
    name++;
  snprintf(pid, sizeof(pid), "%s%s/%s", NW_KIND_PROVIDER_PREFIX, k->cfg.cluster,
           name ? name : "");
  out->provider_id = adup(k, a, pid);
  out->claim_name = adup(k, a, json_string_value(json_object_get(labels, NW_KIND_LABEL_CLAIM)));
  out->nodepool = adup(k, a, json_string_value(json_object_get(labels, NW_KIND_LABEL_POOL)));
  out->instance_type = adup(k, a, type);
  out->zone = adup(k, a, zone);
  out->capacity_type = adup(k, a, cap);
  out->image_id = adup(k, a, image);
  out->state = state_of(state);
  out->created_at_ms = created_ms;
  nw_kv *kv = k->host->arena_alloc(a, 6 * sizeof(*kv));
  size_t n = 0;
  if (kv) {
    if (type) {
      kv[n].key = "node.kubernetes.io/instance-type";
      kv[n++].value = out->instance_type;
    }
    if (zone) {
      kv[n].key = "topology.kubernetes.io/zone";
      kv[n++].value = out->zone;
    }
    if (cap) {
      kv[n].key = "karpenter.sh/capacity-type";
      kv[n++].value = out->capacity_type;
    }
    if (out->nodepool) {
      kv[n].key = "karpenter.sh/nodepool";
      kv[n++].value = out->nodepool;
    }
    kv[n].key = "kubernetes.io/arch";
    kv[n++].value = adup(k, a, k->cfg.arch);
    kv[n].key = "kubernetes.io/os";
    kv[n++].value = adup(k, a, k->cfg.os);
    out->labels.items = kv;
    out->labels.len = n;
  }
  const nw__kind_type *t = type ? nw__kind_type_find(&k->cfg, type) : NULL;
  if (t) {
    const nw__kind_config *c = &k->cfg;
    out->capacity = res_list(k, a, (int64_t)t->cpus * 1000, t->memory_mib * MIB, c->pods);
    out->allocatable = res_list(
        k, a, (int64_t)t->cpus * 1000 - c->kube_reserved_cpu_m - c->system_reserved_cpu_m,
        (t->memory_mib - c->kube_reserved_mem_mib - c->system_reserved_mem_mib -
         c->eviction_mem_mib) * MIB, c->pods);
  }
}

/* GET /containers/<name>/json into *inst; *labels_out (borrowed from the
 * returned root, which the caller decrefs) when wanted. */
static nw_status inspect(nw__kind *k, const char *name, nw_arena *a,
                         nw_node_instance *inst, json_t **root, nw_error *err) {
  char enc[256], path[400];
  nw_http_response r;
  nw__kind_url_encode(name, enc, sizeof(enc));
  snprintf(path, sizeof(path), "/containers/%s/json", enc);
  nw_status st = nw__kind_docker(k, "GET", path, NULL, a, &r, err);
  if (st != NW_OK)
    return st;
  if (r.status == 404)
    return nw__kind_err(err, NW_ERR_NOT_FOUND, "kind: container %s not found", name);
  if (r.status != 200)
    return nw__kind_err(err, NW_ERR, "docker: inspect %s: HTTP %ld: %s", name,
                        r.status, nw__kind_docker_message(k->host, a, &r));
  json_t *v = json_loads(r.body, 0, NULL);
  json_t *labels = json_object_get(json_object_get(v, "Config"), "Labels");
  const char *cl = json_string_value(json_object_get(labels, NW_KIND_LABEL_CLUSTER));
  if (!cl || strcmp(cl, k->cfg.cluster) != 0 ||
      !json_object_get(labels, NW_KIND_LABEL_CLAIM)) {
    json_decref(v);
    return nw__kind_err(err, NW_ERR_NOT_FOUND,
                        "kind: container %s is not a node of cluster %s", name,
                        k->cfg.cluster);
  }
  fill_instance(k, a, json_string_value(json_object_get(v, "Name")), labels,
                json_string_value(json_object_get(json_object_get(v, "Config"), "Image")),
                json_string_value(json_object_get(json_object_get(v, "State"), "Status")),
                parse_time_ms(json_string_value(json_object_get(v, "Created"))), inst);
  if (root)
    *root = v;
  else
    json_decref(v);
  return NW_OK;
}

static void list_item(nw__kind *k, nw_arena *a, json_t *c, nw_node_instance *out) {
  json_t *created = json_object_get(c, "Created");
  fill_instance(k, a, json_string_value(json_array_get(json_object_get(c, "Names"), 0)),
                json_object_get(c, "Labels"), json_string_value(json_object_get(c, "Image")),
                json_string_value(json_object_get(c, "State")),
                json_is_integer(created) ? (int64_t)json_integer_value(created) * 1000 : 0,
                out);
}

/* The container made for a claim, by label; NW_ERR_NOT_FOUND when none. */
static nw_status find_claim(nw__kind *k, const char *claim, nw_arena *a,
                            char *name, size_t len, nw_error *err) {
  json_t *labels = json_pack("[s+,s+]", NW_KIND_LABEL_CLUSTER "=",
                             k->cfg.cluster, NW_KIND_LABEL_CLAIM "=", claim);
  char *lj = labels ? json_dumps(labels, JSON_COMPACT) : NULL;
  json_decref(labels);
  if (!lj)
    return nw__kind_err(err, NW_ERR, "kind: out of memory");
  json_t *arr = NULL;
  nw_status st = nw__kind_list_containers(k, lj, a, &arr, err);
  free(lj);
  if (st != NW_OK)
    return st;
  const char *n = json_string_value(json_array_get(
      json_object_get(json_array_get(arr, 0), "Names"), 0));
  if (n)
    snprintf(name, len, "%s", n[0] == '/' ? n + 1 : n);
  json_decref(arr);
  if (!n)
    return nw__kind_err(err, NW_ERR_NOT_FOUND, "kind: no container for claim %s", claim);
  return NW_OK;
}

/* Learns the Docker host's CPU count once (Docker refuses larger limits). */
static void learn_host(nw__kind *k, nw_arena *a) {
  nw_http_response r;
  nw_error err = {0};
  pthread_mutex_lock(&k->api_lock);
  int known = k->host_cpus;
  pthread_mutex_unlock(&k->api_lock);
  if (known || nw__kind_docker(k, "GET", "/info", NULL, a, &r, &err) != NW_OK ||
      r.status != 200)
    return;
  json_t *v = json_loads(r.body, 0, NULL);
  json_t *n = json_object_get(v, "NCPU");
  pthread_mutex_lock(&k->api_lock);
  k->host_cpus = json_is_integer(n) ? (int)json_integer_value(n) : 0;
  pthread_mutex_unlock(&k->api_lock);
  json_decref(v);
}

static int host_cpus(nw__kind *k) {
  pthread_mutex_lock(&k->api_lock);
  int n = k->host_cpus;
  pthread_mutex_unlock(&k->api_lock);
  return n;
}

static void flush_gone(nw__kind *k, nw_arena *a);

/* ---- init / fini ---------------------------------------------------------- */

static nw_status kind_init(const nw_host_api *host, nw_plugin_handle *h,
                           void **state, nw_error *err) {
  if (!host || host->size < offsetof(nw_host_api, now_ms) + sizeof(void *))
    return nw__kind_err(err, NW_ERR_INVALID, "kind: host API table too old");
  nw__kind *k = calloc(1, sizeof(*k));
  if (!k)
    return nw__kind_err(err, NW_ERR, "kind: out of memory");
  k->host = host;
  k->h = h;
  pthread_mutex_init(&k->api_lock, NULL);
  pthread_mutex_init(&k->q_lock, NULL);
  pthread_mutex_init(&k->gone_lock, NULL);
  nw_status st = nw__kind_config_parse(host->config_json(h), &k->cfg, err);
  if (st == NW_OK)
    st = nw__kind_events_start(k, err);
  if (st != NW_OK) {
    nw__kind_events_stop(k);
    nw__kind_config_free(&k->cfg);
    pthread_mutex_destroy(&k->api_lock);
    pthread_mutex_destroy(&k->q_lock);
    pthread_mutex_destroy(&k->gone_lock);
    free(k);
    return st;
  }
  host->log(h, NW_LOG_INFO,
            "kind: cluster %s, %zu instance types, docker socket %s, runtime %s",
            k->cfg.cluster, k->cfg.n_types, k->cfg.socket,
            k->cfg.runtime == NW_KIND_RUNTIME_KUBEADM ? "kubeadm" : "virtual");
  *state = k;
  return NW_OK;
}

static void kind_fini(void *state) {
  nw__kind *k = state;
  if (!k)
    return;
  nw__kind_events_stop(k);
  nw__kind_config_free(&k->cfg);
  for (size_t i = 0; i < k->n_gone; i++)
    free(k->gone[i]);
  free(k->gone);
  pthread_mutex_destroy(&k->api_lock);
  pthread_mutex_destroy(&k->q_lock);
  pthread_mutex_destroy(&k->gone_lock);
  free(k);
}

/* ---- instance types ------------------------------------------------------- */

static nw_status kind_instance_types(void *state, const char *nodepool,
                                     const char *node_class_json,
                                     nw_arena *arena, nw_instance_types *out,
                                     nw_error *err) {
  nw__kind *k = state;
  nw__kind_class cls;
  (void)nodepool;
  if (node_class_json) {
    nw_status st = nw__kind_class_parse(&k->cfg, node_class_json, &cls, err);
    if (st != NW_OK)
      return st;
  }
  flush_gone(k, arena);
  learn_host(k, arena);
  return nw__kind_catalog(k->host, &k->cfg, host_cpus(k), arena, out, err);
}

/* ---- create --------------------------------------------------------------- */

static json_t *container_labels(nw__kind *k, const nw__kind_class *cls,
                                const nw_node_claim *claim,
                                const nw__kind_type *t, const char *zone,
                                const char *cap) {
  (void)k;
  return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
                   NW_KIND_LABEL_CLUSTER, cls->cluster, NW_KIND_LABEL_ROLE, "worker",
                   NW_KIND_LABEL_POOL, claim->nodepool ? claim->nodepool : "",
                   NW_KIND_LABEL_CLAIM, claim->name, NW_KIND_LABEL_TYPE, t->name,
                   NW_KIND_LABEL_ZONE, zone, NW_KIND_LABEL_CAPACITY, cap,
                   NW_KIND_LABEL_RUNTIME,
                   cls->runtime == NW_KIND_RUNTIME_KUBEADM ? "kubeadm" : "virtual");
}

/* The body of POST /containers/create.  The kubeadm runtime runs kind's
 * node image exactly as `kind create cluster` runs its workers; the
 * virtual one needs no privileges at all. */
static char *create_body(nw__kind *k, const nw__kind_class *cls,
                         const char *name, json_t *labels,
                         const nw__kind_type *t) {
  json_t *hc = json_pack("{s:I,s:I,s:s,s:{s:s,s:s}}",
                         "NanoCpus", (json_int_t)(t->cpus * k->cfg.cpu_scale * 1e9),
                         "Memory", (json_int_t)(t->memory_mib * MIB * k->cfg.memory_scale),
                         "NetworkMode", cls->network,
                         "Tmpfs", "/tmp", "", "/run", "");
  if (!hc) {
    json_decref(labels);
    return NULL;
  }
  char prefix[16];
  pthread_mutex_lock(&k->api_lock);
  memcpy(prefix, k->api_prefix, sizeof(prefix));
  pthread_mutex_unlock(&k->api_lock);
  /* CgroupnsMode exists since API 1.41; every prefix is "/v1.NN". */
  if (strlen(prefix) == 6 && strcmp(prefix, "/v1.41") >= 0)
    json_object_set_new(hc, "CgroupnsMode", json_string("private"));
  if (cls->runtime == NW_KIND_RUNTIME_KUBEADM) {
    json_object_set_new(hc, "Privileged", json_true());
    json_object_set_new(hc, "SecurityOpt",
                        json_pack("[s,s]", "seccomp=unconfined", "apparmor=unconfined"));
    json_object_set_new(hc, "Binds", json_pack("[s]", "/lib/modules:/lib/modules:ro"));
    json_object_set_new(hc, "RestartPolicy",
                        json_pack("{s:s,s:i}", "Name", "on-failure", "MaximumRetryCount", 1));
    json_object_set_new(hc, "Init", json_false());
  }
  json_t *body = json_pack("{s:s,s:s,s:o,s:b,s:[s],s:o}", "Image", cls->image,
                           "Hostname", name, "Labels", labels, "Tty",
                           cls->runtime == NW_KIND_RUNTIME_KUBEADM, "Env",
                           "container=docker", "HostConfig", hc);
  if (body && cls->runtime == NW_KIND_RUNTIME_KUBEADM)
    json_object_set_new(body, "Volumes", json_pack("{s:{}}", "/var"));
  char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  return s;
}

static nw_status check_image(nw__kind *k, const char *image, nw_arena *a,
                             nw_error *err) {
  char enc[1024], path[1200];
  nw_http_response r;
  nw__kind_url_encode(image, enc, sizeof(enc));
  snprintf(path, sizeof(path), "/images/%s/json", enc);
  nw_status st = nw__kind_docker(k, "GET", path, NULL, a, &r, err);
  if (st != NW_OK)
    return st;
  if (r.status == 404)
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind: image \"%s\" not found in the Docker Engine at %s "
                        "(the provider never pulls; load or build it first, and "
                        "check the KindNodeClass spec.image)", image, k->cfg.socket);
  if (r.status != 200)
    return nw__kind_err(err, NW_ERR, "docker: image %s: HTTP %ld: %s", image,
                        r.status, nw__kind_docker_message(k->host, a, &r));
  return NW_OK;
}

static nw_status remove_container(nw__kind *k, const char *name, nw_arena *a,
                                  nw_error *err) {
  char enc[256], path[400];
  nw_http_response r;
  nw__kind_url_encode(name, enc, sizeof(enc));
  snprintf(path, sizeof(path), "/containers/%s?force=true&v=true", enc);
  nw_status st = nw__kind_docker(k, "DELETE", path, NULL, a, &r, err);
  if (st != NW_OK)
    return st;
  if (r.status == 204 || r.status == 200)
    return NW_OK;
  if (r.status == 404)
    return nw__kind_err(err, NW_ERR_NOT_FOUND, "kind: container %s not found", name);
  return nw__kind_err(err, r.status == 409 ? NW_ERR_RETRYABLE : NW_ERR,
                      "docker: remove %s: HTTP %ld: %s", name, r.status,
                      nw__kind_docker_message(k->host, a, &r));
}

static nw_status start_container(nw__kind *k, const char *name, nw_arena *a,
                                 nw_error *err) {
  char path[400];
  nw_http_response r;
  snprintf(path, sizeof(path), "/containers/%s/start", name);
  nw_status st = nw__kind_docker(k, "POST", path, NULL, a, &r, err);
  if (st == NW_OK && r.status != 204 && r.status != 304)
    st = nw__kind_err(err, NW_ERR, "docker: start %s: HTTP %ld: %s", name,
                      r.status, nw__kind_docker_message(k->host, a, &r));
  return st;
}

/* Creates and starts the container; on a name conflict (a concurrent
 * create for the same claim) the existing container is the answer. */
static nw_status launch(nw__kind *k, const nw__kind_class *cls,
                        const nw_node_claim *claim, const nw__kind_type *t,
                        const char *zone, const char *cap, const char *name,
                        nw_arena *a, nw_error *err) {
  char path[400];
  nw_http_response r;
  char *body = create_body(k, cls, name, container_labels(k, cls, claim, t, zone, cap), t);
  if (!body)
    return nw__kind_err(err, NW_ERR, "kind: out of memory");
  snprintf(path, sizeof(path), "/containers/create?name=%s", name);
  nw_status st = nw__kind_docker(k, "POST", path, body, a, &r, err);
  free(body);
  if (st != NW_OK)
    return st;
  if (r.status == 409)
    return NW_OK;
  const char *msg = r.status == 201 ? "" : nw__kind_docker_message(k->host, a, &r);
  if (r.status == 404)
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind: create %s: %s (check the KindNodeClass image and "
                        "network)", name, msg);
  if (r.status == 400 && strstr(msg, "CPUs"))
    return nw__kind_err(err, NW_ERR_INSUFFICIENT_CAPACITY,
                        "kind: offering %s/%s/%s: %s", t->name, zone, cap, msg);
  if (r.status != 201)
    return nw__kind_err(err, r.status >= 500 ? NW_ERR_RETRYABLE : NW_ERR,
                        "docker: create %s: HTTP %ld: %s", name, r.status, msg);
  st = start_container(k, name, a, err);
  if (st != NW_OK) {
    /* A container that never ran is no node; the retry starts afresh. */
    nw_error ignored = {0};
    remove_container(k, name, a, &ignored);
  }
  return st;
}

/* virtual runtime: POST the Node object, as a kubelet registers itself. */
static nw_status register_node(nw__kind *k, const nw__kind_node_spec *spec,
                               nw_arena *a, nw_error *err) {
  nw_http_response r;
  if (!have_kube(k->host))
    return nw__kind_err(err, NW_ERR_UNSUPPORTED, "kind: host has no kube_request");
  char *body = nw__kind_node_json(&k->cfg, spec);
  if (!body)
    return nw__kind_err(err, NW_ERR, "kind: out of memory");
  nw_status st = k->host->kube_request(k->h, "POST", "/api/v1/nodes", body, &r, a, err);
  free(body);
  if (st != NW_OK)
    return st;
  if (r.status == 201 || r.status == 200 || r.status == 409)
    return NW_OK;
  return nw__kind_err(err, r.status >= 500 || r.status == 429 ? NW_ERR_RETRYABLE : NW_ERR,
                      "kind: register Node %s: HTTP %ld: %s", spec->name, r.status,
                      nw__kind_docker_message(k->host, a, &r));
}

/* After the container runs: make it a node. */
static nw_status make_node(nw__kind *k, const nw__kind_class *cls,
                           const nw__kind_node_spec *spec, nw_arena *a,
                           nw_error *err) {
  if (cls->runtime == NW_KIND_RUNTIME_KUBEADM)
    return nw__kind_join(k, spec, a, err);
  nw_status st = register_node(k, spec, a, err);
  if (st == NW_ERR_UNSUPPORTED) {
    /* `nodewright simulate` and hosts without a cluster: the container is
     * the whole node. */
    k->host->log(k->h, NW_LOG_WARN,
                 "kind: no Kubernetes connection; Node %s not registered",
                 spec->name);
    return NW_OK;
  }
  return st;
}

static nw_status kind_create(void *state, const nw_node_claim *claim,
                             nw_arena *arena, nw_node_instance *out,
                             nw_error *err) {
  nw__kind *k = state;
  nw__kind_class cls;
  char name[128];
  const nw__kind_type *t = NULL;
  const char *zone = NULL, *cap = NULL;
  if (!claim || !claim->name || !claim->name[0])
    return nw__kind_err(err, NW_ERR_INVALID, "kind: create needs a claim name");
  nw_status st = nw__kind_class_parse(&k->cfg, claim->node_class_json, &cls, err);
  if (st != NW_OK)
    return st;
  int64_t t0 = k->host->monotonic_ms(k->h);
  st = find_claim(k, claim->name, arena, name, sizeof(name), err);
  if (st == NW_ERR_NOT_FOUND) {
    learn_host(k, arena);
    if (nw__kind_pick(&k->cfg, &claim->requirements, &claim->requests,
                      host_cpus(k), &t, &zone, &cap) != 0) {
      st = nw__kind_err(err, NW_ERR_INSUFFICIENT_CAPACITY,
                        "kind: no offering of the catalog satisfies claim %s "
                        "(the Docker host has %d CPUs)", claim->name, host_cpus(k));
    } else {
      container_name(cls.cluster, claim->name, name, sizeof(name));
      st = check_image(k, cls.image, arena, err);
    }
    if (st == NW_OK)
      st = launch(k, &cls, claim, t, zone, cap, name, arena, err);
  }
  if (st == NW_OK)
    st = inspect(k, name, arena, out, NULL, err);
  /* A create interrupted between create and start (a daemon killed
   * mid-launch) left a container that never ran: start it now. */
  if (st == NW_OK && out->state == NW_INSTANCE_PENDING) {
    st = start_container(k, name, arena, err);
    if (st == NW_OK)
      st = inspect(k, name, arena, out, NULL, err);
  }
  if (st == NW_OK && out->claim_name && strcmp(out->claim_name, claim->name) != 0)
    st = nw__kind_err(err, NW_ERR, "kind: container %s belongs to claim %s, not %s",
                      name, out->claim_name, claim->name);
  if (st == NW_OK) {
    t = out->instance_type ? nw__kind_type_find(&k->cfg, out->instance_type) : NULL;
    if (!t)
      st = nw__kind_err(err, NW_ERR, "kind: container %s has unknown instance "
                        "type \"%s\"", name, out->instance_type ? out->instance_type : "");
  }
  /* A node container that has already died is reported as it is; the
   * engine replaces it rather than reviving its Node. */
  if (st == NW_OK && out->state != NW_INSTANCE_TERMINATED &&
      out->state != NW_INSTANCE_TERMINATING) {
    nw__kind_node_spec spec = {name, out->provider_id, t, out->zone,
                               out->capacity_type, claim};
    st = make_node(k, &cls, &spec, arena, err);
  }
  k->host->observe(k->h, "kind_create_seconds", NULL,
                   (double)(k->host->monotonic_ms(k->h) - t0) / 1000.0);
  k->host->counter_add(k->h, "kind_creates_total",
                       st == NW_OK ? "result=ok" : "result=error", 1);
  return st;
}

/* ---- delete / get / list -------------------------------------------------- */

/* Remembers a virtual Node to delete once an arena is at hand. */
static void node_gone(nw__kind *k, const char *name) {
  pthread_mutex_lock(&k->gone_lock);
  char **g = realloc(k->gone, (k->n_gone + 1) * sizeof(char *));
  if (g) {
    k->gone = g;
    g[k->n_gone] = strdup(name);
    if (g[k->n_gone])
      k->n_gone++;
  }
  pthread_mutex_unlock(&k->gone_lock);
}

/* Deletes the remembered virtual Nodes; failures stay for the next call. */
static void flush_gone(nw__kind *k, nw_arena *a) {
  if (!have_kube(k->host))
    return;
  pthread_mutex_lock(&k->gone_lock);
  char **g = k->gone;
  size_t n = k->n_gone;
  k->gone = NULL;
  k->n_gone = 0;
  pthread_mutex_unlock(&k->gone_lock);
  for (size_t i = 0; i < n; i++) {
    char path[400];
    nw_http_response r;
    nw_error err = {0};
    snprintf(path, sizeof(path), "/api/v1/nodes/%s", g[i]);
    nw_status st = k->host->kube_request(k->h, "DELETE", path, NULL, &r, a, &err);
    if (st == NW_ERR_UNSUPPORTED ||
        (st == NW_OK && (r.status == 200 || r.status == 202 || r.status == 404))) {
      free(g[i]);
      continue;
    }
    k->host->log(k->h, NW_LOG_WARN, "kind: delete Node %s: %s", g[i],
                 st == NW_OK ? "unexpected HTTP status, will retry" : err.message);
    node_gone(k, g[i]);
    free(g[i]);
  }
  free(g);
}

static nw_status kind_delete(void *state, const char *provider_id,
                             nw_error *err) {
  nw__kind *k = state;
  char name[256], enc[256], path[400];
  long status = 0;
  char *body = NULL;
  nw_status st = parse_provider_id(k, provider_id, name, sizeof(name), err);
  if (st != NW_OK)
    return st;
  nw__kind_url_encode(name, enc, sizeof(enc));
  snprintf(path, sizeof(path), "/containers/%s/json", enc);
  st = nw__kind_docker_noarena(k, "GET", path, &status, &body, err);
  if (st != NW_OK)
    return st;
  json_t *v = status == 200 ? json_loads(body, 0, NULL) : NULL;
  free(body);
  json_t *labels = json_object_get(json_object_get(v, "Config"), "Labels");
  const char *cl = json_string_value(json_object_get(labels, NW_KIND_LABEL_CLUSTER));
  const char *rt = json_string_value(json_object_get(labels, NW_KIND_LABEL_RUNTIME));
  int ours = cl && strcmp(cl, k->cfg.cluster) == 0 &&
             json_object_get(labels, NW_KIND_LABEL_CLAIM);
  int is_virtual = rt && strcmp(rt, "virtual") == 0;
  json_decref(v);
  if (status == 404 || (status == 200 && !ours))
    return nw__kind_err(err, NW_ERR_NOT_FOUND, "kind: %s: no such node container",
                        provider_id);
  if (status != 200)
    return nw__kind_err(err, NW_ERR, "docker: inspect %s: HTTP %ld", name, status);
  snprintf(path, sizeof(path), "/containers/%s?force=true&v=true", enc);
  st = nw__kind_docker_noarena(k, "DELETE", path, &status, &body, err);
  if (st != NW_OK)
    return st;
  json_t *e = json_loads(body ? body : "", 0, NULL);
  char msg[300];
  snprintf(msg, sizeof(msg), "%s", json_string_value(json_object_get(e, "message"))
                                       ? json_string_value(json_object_get(e, "message"))
                                       : "");
  json_decref(e);
  free(body);
  if (status == 404)
    return nw__kind_err(err, NW_ERR_NOT_FOUND, "kind: %s: no such node container",
                        provider_id);
  if (status != 204 && status != 200)
    return nw__kind_err(err, status == 409 ? NW_ERR_RETRYABLE : NW_ERR,
                        "docker: remove %s: HTTP %ld: %s", name, status, msg);
  if (is_virtual)
    node_gone(k, name);
  k->host->counter_add(k->h, "kind_deletes_total", NULL, 1);
  return NW_OK;
}

static nw_status kind_get(void *state, const char *provider_id, nw_arena *arena,
                          nw_node_instance *out, nw_error *err) {
  nw__kind *k = state;
  char name[256];
  nw_status st = parse_provider_id(k, provider_id, name, sizeof(name), err);
  if (st != NW_OK)
    return st;
  flush_gone(k, arena);
  return inspect(k, name, arena, out, NULL, err);
}

static nw_status kind_list(void *state, nw_arena *arena, nw_node_instances *out,
                           nw_error *err) {
  nw__kind *k = state;
  char lj[300];
  json_t *arr = NULL;
  snprintf(lj, sizeof(lj), "[\"%s=%s\",\"%s\"]", NW_KIND_LABEL_CLUSTER,
           k->cfg.cluster, NW_KIND_LABEL_CLAIM);
  flush_gone(k, arena);
  nw_status st = nw__kind_list_containers(k, lj, arena, &arr, err);
  if (st != NW_OK)
    return st;
  size_t n = json_array_size(arr);
  nw_node_instance *items = k->host->arena_alloc(arena, (n ? n : 1) * sizeof(*items));
  if (!items) {
    json_decref(arr);
    return nw__kind_err(err, NW_ERR, "kind: out of memory");
  }
  for (size_t i = 0; i < n; i++)
    list_item(k, arena, json_array_get(arr, i), &items[i]);
  json_decref(arr);
  out->items = items;
  out->len = n;
  return NW_OK;
}

/* ---- drift, repair, events ------------------------------------------------ */

static nw_status kind_is_drifted(void *state, const nw_node_instance *instance,
                                 const char *node_class_json, nw_arena *arena,
                                 const char **reason, nw_error *err) {
  nw__kind *k = state;
  nw__kind_class cls;
  *reason = NULL;
  nw_status st = nw__kind_class_parse(&k->cfg, node_class_json, &cls, err);
  if (st != NW_OK)
    return st;
  if (instance && instance->image_id && strcmp(instance->image_id, cls.image) != 0) {
    char buf[1200];
    snprintf(buf, sizeof(buf), "image: the container runs %s, the KindNodeClass "
             "wants %s", instance->image_id, cls.image);
    *reason = k->host->arena_strdup(arena, buf);
  }
  return NW_OK;
}

static nw_status kind_repair_policies(void *state, nw_arena *arena,
                                      nw_repair_policies *out, nw_error *err) {
  nw__kind *k = state;
  nw_repair_policy *p = k->host->arena_alloc(arena, 2 * sizeof(*p));
  if (!p)
    return nw__kind_err(err, NW_ERR, "kind: out of memory");
  /* As Karpenter's cloud providers do: a node not Ready for 10 minutes. */
  p[0].condition_type = "Ready";
  p[0].condition_status = "False";
  p[0].toleration_s = 600;
  p[1].condition_type = "Ready";
  p[1].condition_status = "Unknown";
  p[1].toleration_s = 600;
  out->items = p;
  out->len = 2;
  return NW_OK;
}

static nw_status kind_poll_events(void *state, int64_t wait_ms, size_t max,
                                  nw_arena *arena, nw_provider_event **out,
                                  size_t *n_out, nw_error *err) {
  nw__kind *k = state;
  flush_gone(k, arena);
  return nw__kind_poll(k, wait_ms, max, arena, out, n_out, err);
}

/* ---- descriptor ----------------------------------------------------------- */

static const nw_node_class_ref kind_classes[] = {
    {NW_KIND_GROUP, NW_KIND_NODE_CLASS, NULL}};

static const nw_provider_vtable kind_vtable = {
    .size = sizeof(nw_provider_vtable),
    .n_node_class_kinds = 1,
    .node_class_kinds = kind_classes,
    .instance_types = kind_instance_types,
    .create = kind_create,
    .delete_instance = kind_delete,
    .get = kind_get,
    .list = kind_list,
    .is_drifted = kind_is_drifted,
    .repair_policies = kind_repair_policies,
    .poll_events = kind_poll_events,
};

static const nw_plugin_descriptor kind_descriptor = {
    NW_DESCRIPTOR_HEAD(NW_PLUGIN_PROVIDER),
    .name = "kind",
    .version = "0.1.0",
    .description = "Nodes as Docker containers for kind clusters and CI "
                   "(Docker Engine API, KindNodeClass)",
    .init = kind_init,
    .fini = kind_fini,
    .vtable = &kind_vtable,
};

NW_PLUGIN_DEFINE(kind_descriptor)
