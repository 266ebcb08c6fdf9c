/*
 * The kind provider (build/lib/nodewright/kind.so, through the real plugin
 * loader) against a real dockerd started by scripts/test-docker (CTest
 * fixture "docker").  What the plugin did is checked with the docker CLI.
 *
 * The virtual runtime's Node registration goes through the host's
 * kube_request; here the host hook records the calls (the cluster fixture
 * test, test_kind_cluster, sends them to a real apiserver).
 */
#include "nwtest.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kind_test_util.h"
#include "util/arena.h"

/* ---- the recording kube_request hook -------------------------------------- */

#define MAX_CALLS 64

typedef struct kube_call {
  char method[8];
  char path[256];
  json_t *body;
} kube_call;

static pthread_mutex_t calls_lock = PTHREAD_MUTEX_INITIALIZER;
static kube_call calls[MAX_CALLS];
static size_t n_calls;

static nw_status record_kube(void *user, const char *method, const char *path,
                             const char *body, nw_http_response *resp,
                             nw_arena *arena, nw_error *err) {
  (void)user;
  (void)err;
  pthread_mutex_lock(&calls_lock);
  if (n_calls < MAX_CALLS) {
    kube_call *c = &calls[n_calls++];
    snprintf(c->method, sizeof(c->method), "%s", method);
    snprintf(c->path, sizeof(c->path), "%s", path);
    c->body = body ? json_loads(body, 0, NULL) : NULL;
  }
  pthread_mutex_unlock(&calls_lock);
  memset(resp, 0, sizeof(*resp));
  resp->size = sizeof(*resp);
  resp->status = strcmp(method, "POST") == 0 ? 201 : 200;
  resp->body = nw__arena_strdup(arena, "{}");
  resp->body_len = 2;
  return NW_OK;
}

/* The last recorded call with method and path; NULL when none. */
static const kube_call *find_call(const char *method, const char *path) {
  const kube_call *found = NULL;
  pthread_mutex_lock(&calls_lock);
  for (size_t i = 0; i < n_calls; i++) {
    if (strcmp(calls[i].method, method) == 0 && strcmp(calls[i].path, path) == 0)
      found = &calls[i];
  }
  pthread_mutex_unlock(&calls_lock);
  return found;
}

/* ---- fixture ------------------------------------------------------------- */

static kt_plugin kp;
static char cluster[64];
static char name_a[128];
static char pid_a[256];

static const char *const catalog_extra =
    ",\"catalog\":{\"cpus\":[1,2,1024],\"memoryPerCpuGiB\":[2,4],"
    "\"zones\":[\"z-a\",\"z-b\"]}";

static int setup(void) {
  char err[1024];
  nw__host_hooks hooks = {0};
  hooks.kube_request = record_kube;
  snprintf(cluster, sizeof(cluster), "%s", kt_cluster("main"));
  snprintf(name_a, sizeof(name_a), "%s-claim-a", cluster);
  snprintf(pid_a, sizeof(pid_a), "kind://docker/%s/%s", cluster, name_a);
  if (kt_load(&kp, kt_config(cluster, catalog_extra), &hooks, err, sizeof(err)) != 0) {
    fprintf(stderr, "cannot load kind.so: %s\n", err);
    return 1;
  }
  return 0;
}

static int teardown(void) {
  kt_unload(&kp);
  kt_remove_cluster(cluster);
  for (size_t i = 0; i < n_calls; i++)
    json_decref(calls[i].body);
  return 0;
}

/* Claim "claim-a": m-1 (1 vCPU, 4 GiB), on-demand, zone z-b. */
static const char *types_m1[] = {"m-1"};
static const char *cap_od[] = {"on-demand"};
static const char *zone_b[] = {"z-b"};
static const nw_requirement reqs_a[] = {
    {"node.kubernetes.io/instance-type", NW_OP_IN, 1, types_m1, 0},
    {"karpenter.sh/capacity-type", NW_OP_IN, 1, cap_od, 0},
    {"topology.kubernetes.io/zone", NW_OP_IN, 1, zone_b, 0}};
static const nw_kv labels_a[] = {{"nodegroupname", "kong"}};

static nw_node_claim make_claim(const char *name, const char *class_json,
                                const nw_requirement *reqs, size_t n_reqs) {
  nw_node_claim c;
  memset(&c, 0, sizeof(c));
  c.name = name;
  c.nodepool = "default";
  c.node_class.group = "nodewright.dev";
  c.node_class.kind = "KindNodeClass";
  c.node_class.name = "default";
  c.node_class_json = class_json;
  c.requirements.items = reqs;
  c.requirements.len = n_reqs;
  c.labels.items = labels_a;
  c.labels.len = 1;
  return c;
}

static const char *class_json(const char *image) {
  static char buf[512];
  snprintf(buf, sizeof(buf),
           "{\"apiVersion\":\"nodewright.dev/v1alpha1\",\"kind\":\"KindNodeClass\","
           "\"metadata\":{\"name\":\"default\"},\"spec\":{\"image\":\"%s\"}}", image);
  return buf;
}

static const char *label(json_t *c, const char *key) {
  return json_string_value(json_object_get(
      json_object_get(json_object_get(c, "Config"), "Labels"), key));
}

/* ---- tests --------------------------------------------------------------- */

static void test_instance_types(void) {
  nw_arena *a = nw__arena_new();
  nw_instance_types its = {0};
  nw_error err = {0};
  CU_ASSERT_EQUAL_FATAL(kp.vt->instance_types(kp.state, "default", class_json(KT_IMAGE),
                                              a, &its, &err), NW_OK);
  CU_ASSERT_EQUAL(its.len, 6);
  for (size_t i = 0; i < its.len; i++) {
    const nw_instance_type *it = &its.items[i];
    CU_ASSERT_EQUAL(it->n_offerings, 4);
    /* No Docker host has 1024 CPUs: those offerings cannot launch. */
    int huge = strstr(it->name, "-1024") != NULL;
    for (size_t o = 0; o < it->n_offerings; o++)
      CU_ASSERT_EQUAL(it->offerings[o].available, !huge);
    if (strcmp(it->name, "m-2") == 0) {
      CU_ASSERT_STRING_EQUAL(it->capacity.items[0].name, "cpu");
      CU_ASSERT_EQUAL(it->capacity.items[0].value, 2000);
      CU_ASSERT_EQUAL(it->capacity.items[1].value, INT64_C(8) << 30);
    }
  }
  nw__arena_free(a);
}

static void test_create(void) {
  nw_arena *a = nw__arena_new();
  nw_node_instance inst;
  nw_error err = {0};
  nw_node_claim c = make_claim("claim-a", class_json(KT_IMAGE), reqs_a, 3);
  nw_status st = kp.vt->create(kp.state, &c, a, &inst, &err);
  if (st != NW_OK)
    fprintf(stderr, "create: %s\n", err.message);
  CU_ASSERT_EQUAL_FATAL(st, NW_OK);
  CU_ASSERT_STRING_EQUAL(inst.provider_id, pid_a);
  CU_ASSERT_STRING_EQUAL(inst.claim_name, "claim-a");
  CU_ASSERT_STRING_EQUAL(inst.nodepool, "default");
  CU_ASSERT_STRING_EQUAL(inst.instance_type, "m-1");
  CU_ASSERT_STRING_EQUAL(inst.zone, "z-b");
  CU_ASSERT_STRING_EQUAL(inst.capacity_type, "on-demand");
  CU_ASSERT_STRING_EQUAL(inst.image_id, KT_IMAGE);
  CU_ASSERT_EQUAL(inst.state, NW_INSTANCE_RUNNING);

  json_t *ci = kt_inspect(name_a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(ci);
  CU_ASSERT_STRING_EQUAL(label(ci, "io.x-k8s.kind.cluster"), cluster);
  CU_ASSERT_STRING_EQUAL(label(ci, "io.x-k8s.kind.role"), "worker");
  CU_ASSERT_STRING_EQUAL(label(ci, "nodewright.dev/nodepool"), "default");
  CU_ASSERT_STRING_EQUAL(label(ci, "nodewright.dev/nodeclaim"), "claim-a");
  CU_ASSERT_STRING_EQUAL(label(ci, "nodewright.dev/instance-type"), "m-1");
  CU_ASSERT_STRING_EQUAL(label(ci, "nodewright.dev/zone"), "z-b");
  CU_ASSERT_STRING_EQUAL(label(ci, "nodewright.dev/capacity-type"), "on-demand");
  json_t *hc = json_object_get(ci, "HostConfig");
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(hc, "NanoCpus")), INT64_C(1000000000));
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(hc, "Memory")), INT64_C(4) << 30);
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(hc, "NetworkMode")), "none");
  CU_ASSERT_TRUE(json_is_true(json_object_get(json_object_get(ci, "State"), "Running")));
  CU_ASSERT_FALSE(json_is_true(json_object_get(hc, "Privileged")));
  json_decref(ci);

  /* The virtual runtime registered the Node as a kubelet would. */
  const kube_call *post = find_call("POST", "/api/v1/nodes");
  CU_ASSERT_PTR_NOT_NULL_FATAL(post);
  json_t *md = json_object_get(post->body, "metadata");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(md, "name")), name_a);
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
      json_object_get(post->body, "spec"), "providerID")), pid_a);
  json_t *nl = json_object_get(md, "labels");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(nl, "nodegroupname")), "kong");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(nl, "kwok.x-k8s.io/node")), "fake");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
      json_object_get(json_object_get(post->body, "status"), "capacity"), "cpu")), "1000m");
  nw__arena_free(a);
}

static void test_create_idempotent(void) {
  nw_arena *a = nw__arena_new();
  nw_node_instance inst;
  nw_error err = {0};
  nw_node_claim c = make_claim("claim-a", class_json(KT_IMAGE), reqs_a, 3);
  CU_ASSERT_EQUAL_FATAL(kp.vt->create(kp.state, &c, a, &inst, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(inst.provider_id, pid_a);
  char *out = NULL;
  CU_ASSERT_EQUAL(kt_docker(&out, "ps -aq --filter label=io.x-k8s.kind.cluster=%s", cluster), 0);
  size_t lines = 0;
  for (char *p = out; p && *p; p++)
    lines += *p == '\n';
  CU_ASSERT_EQUAL(lines, 1);
  free(out);
  nw__arena_free(a);
}

static void test_list_get(void) {
  nw_arena *a = nw__arena_new();
  nw_node_instances all = {0};
  nw_node_instance one;
  nw_error err = {0};
  CU_ASSERT_EQUAL_FATAL(kp.vt->list(kp.state, a, &all, &err), NW_OK);
  CU_ASSERT_EQUAL_FATAL(all.len, 1);
  CU_ASSERT_STRING_EQUAL(all.items[0].provider_id, pid_a);
  CU_ASSERT_STRING_EQUAL(all.items[0].claim_name, "claim-a");
  CU_ASSERT_EQUAL(all.items[0].state, NW_INSTANCE_RUNNING);
  CU_ASSERT_EQUAL_FATAL(kp.vt->get(kp.state, pid_a, a, &one, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(one.instance_type, "m-1");
  CU_ASSERT_EQUAL(one.state, NW_INSTANCE_RUNNING);
  int64_t now_ms = (int64_t)time(NULL) * 1000;
  CU_ASSERT_TRUE(one.created_at_ms > now_ms - 300000 && one.created_at_ms <= now_ms + 1000);
  CU_ASSERT_TRUE(one.capacity.len == 3 && one.capacity.items[0].value == 1000);
  CU_ASSERT_TRUE(one.allocatable.len == 3 && one.allocatable.items[0].value == 900);
  /* Malformed or foreign providerIDs are bad input, not "gone". */
  CU_ASSERT_EQUAL(kp.vt->get(kp.state, "aws:///us-east-1a/i-1", a, &one, &err), NW_ERR_INVALID);
  CU_ASSERT_EQUAL(kp.vt->get(kp.state, "kind://docker/other/x", a, &one, &err), NW_ERR_INVALID);
  nw__arena_free(a);
}

static void test_drift(void) {
  nw_arena *a = nw__arena_new();
  nw_node_instance one;
  nw_error err = {0};
  const char *reason = "unset";
  CU_ASSERT_EQUAL_FATAL(kp.vt->get(kp.state, pid_a, a, &one, &err), NW_OK);
  CU_ASSERT_EQUAL(kp.vt->is_drifted(kp.state, &one, class_json(KT_IMAGE), a, &reason, &err), NW_OK);
  CU_ASSERT_PTR_NULL(reason);
  CU_ASSERT_EQUAL(kp.vt->is_drifted(kp.state, &one, class_json("kindest/node:v1.31.0"), a,
                                    &reason, &err), NW_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(reason);
  CU_ASSERT_PTR_NOT_NULL(strstr(reason, "kindest/node:v1.31.0"));
  CU_ASSERT_PTR_NOT_NULL(strstr(reason, KT_IMAGE));
  nw_repair_policies rp = {0};
  CU_ASSERT_EQUAL(kp.vt->repair_policies(kp.state, a, &rp, &err), NW_OK);
  CU_ASSERT_EQUAL(rp.len, 2);
  CU_ASSERT_STRING_EQUAL(rp.items[0].condition_type, "Ready");
  CU_ASSERT_EQUAL(rp.items[0].toleration_s, 600);
  nw__arena_free(a);
}

static void test_kill_event(void) {
  CU_ASSERT_EQUAL_FATAL(kt_docker(NULL, "kill %s", name_a), 0);
  int stopping = 0, terminated = 0;
  time_t end = time(NULL) + 30;
  while (!terminated && time(NULL) < end) {
    nw_arena *a = nw__arena_new();
    nw_provider_event *evs = NULL;
    size_t n = 0;
    nw_error err = {0};
    CU_ASSERT_EQUAL(kp.vt->poll_events(kp.state, 1000, 16, a, &evs, &n, &err), NW_OK);
    for (size_t i = 0; i < n; i++) {
      CU_ASSERT_EQUAL(evs[i].kind, NW_EVENT_STATE_CHANGE);
      CU_ASSERT_STRING_EQUAL(evs[i].provider_id, pid_a);
      stopping |= strcmp(evs[i].state, "stopping") == 0;
      terminated |= strcmp(evs[i].state, "terminated") == 0;
    }
    nw__arena_free(a);
  }
  CU_ASSERT_TRUE(stopping);
  CU_ASSERT_TRUE(terminated);
  nw_arena *a = nw__arena_new();
  nw_node_instance one;
  nw_error err = {0};
  CU_ASSERT_EQUAL(kp.vt->get(kp.state, pid_a, a, &one, &err), NW_OK);
  CU_ASSERT_EQUAL(one.state, NW_INSTANCE_TERMINATED);
  /* Creating the claim again reports the dead node, neither a new
   * container nor a revived Node. */
  pthread_mutex_lock(&calls_lock);
  size_t before = n_calls;
  pthread_mutex_unlock(&calls_lock);
  nw_node_claim c = make_claim("claim-a", class_json(KT_IMAGE), reqs_a, 3);
  CU_ASSERT_EQUAL(kp.vt->create(kp.state, &c, a, &one, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(one.provider_id, pid_a);
  CU_ASSERT_EQUAL(one.state, NW_INSTANCE_TERMINATED);
  pthread_mutex_lock(&calls_lock);
  CU_ASSERT_EQUAL(n_calls, before);
  pthread_mutex_unlock(&calls_lock);
  nw__arena_free(a);
}

static void test_delete(void) {
  nw_error err = {0};
  char path[300];
  CU_ASSERT_EQUAL(kp.vt->delete_instance(kp.state, pid_a, &err), NW_OK);
  json_t *ci = kt_inspect(name_a);
  CU_ASSERT_PTR_NULL(ci);
  json_decref(ci);
  CU_ASSERT_EQUAL(kp.vt->delete_instance(kp.state, pid_a, &err), NW_ERR_NOT_FOUND);
  nw_arena *a = nw__arena_new();
  nw_node_instance one;
  CU_ASSERT_EQUAL(kp.vt->get(kp.state, pid_a, a, &one, &err), NW_ERR_NOT_FOUND);
  /* The Node goes with the container (on the next call with an arena). */
  nw_provider_event *evs = NULL;
  size_t n = 0;
  CU_ASSERT_EQUAL(kp.vt->poll_events(kp.state, 0, 16, a, &evs, &n, &err), NW_OK);
  snprintf(path, sizeof(path), "/api/v1/nodes/%s", name_a);
  CU_ASSERT_PTR_NOT_NULL(find_call("DELETE", path));
  nw__arena_free(a);
}

static void test_stop_event(void) {
  nw_arena *a = nw__arena_new();
  nw_node_instance inst;
  nw_error err = {0};
  char name_b[160], pid_b[300];
  snprintf(name_b, sizeof(name_b), "%s-claim-b", cluster);
  snprintf(pid_b, sizeof(pid_b), "kind://docker/%s/%s", cluster, name_b);
  nw_node_claim c = make_claim("claim-b", class_json(KT_IMAGE), reqs_a, 3);
  CU_ASSERT_EQUAL_FATAL(kp.vt->create(kp.state, &c, a, &inst, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(inst.provider_id, pid_b);
  CU_ASSERT_EQUAL_FATAL(kt_docker(NULL, "stop -t 1 %s", name_b), 0);
  int terminated = 0;
  time_t end = time(NULL) + 30;
  while (!terminated && time(NULL) < end) {
    nw_provider_event *evs = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(kp.vt->poll_events(kp.state, 1000, 16, a, &evs, &n, &err), NW_OK);
    for (size_t i = 0; i < n; i++)
      terminated |= strcmp(evs[i].provider_id, pid_b) == 0 &&
                    strcmp(evs[i].state, "terminated") == 0;
  }
  CU_ASSERT_TRUE(terminated);
  CU_ASSERT_EQUAL(kp.vt->delete_instance(kp.state, pid_b, &err), NW_OK);
  nw__arena_free(a);
}

/* A daemon killed between container create and start: the next create
 * for the claim starts the container it finds. */
static void test_resume_created(void) {
  nw_arena *a = nw__arena_new();
  nw_node_instance inst;
  nw_error err = {0};
  char name_c[160];
  snprintf(name_c, sizeof(name_c), "%s-claim-c", cluster);
  CU_ASSERT_EQUAL_FATAL(kt_docker(NULL, "create --name %s --network none "
      "--label io.x-k8s.kind.cluster=%s --label io.x-k8s.kind.role=worker "
      "--label nodewright.dev/nodeclaim=claim-c --label nodewright.dev/nodepool=default "
      "--label nodewright.dev/instance-type=m-1 --label nodewright.dev/zone=z-a "
      "--label nodewright.dev/capacity-type=spot --label nodewright.dev/runtime=virtual "
      "%s", name_c, cluster, KT_IMAGE), 0);
  nw_node_claim c = make_claim("claim-c", class_json(KT_IMAGE), reqs_a, 3);
  CU_ASSERT_EQUAL_FATAL(kp.vt->create(kp.state, &c, a, &inst, &err), NW_OK);
  CU_ASSERT_EQUAL(inst.state, NW_INSTANCE_RUNNING);
  CU_ASSERT_STRING_EQUAL(inst.zone, "z-a");
  json_t *ci = kt_inspect(name_c);
  CU_ASSERT_PTR_NOT_NULL_FATAL(ci);
  CU_ASSERT_TRUE(json_is_true(json_object_get(json_object_get(ci, "State"), "Running")));
  json_decref(ci);
  CU_ASSERT_EQUAL(kp.vt->delete_instance(kp.state, inst.provider_id, &err), NW_OK);
  nw__arena_free(a);
}

static void test_insufficient_capacity(void) {
  static const char *huge[] = {"c-1024"};
  nw_requirement r[] = {{"node.kubernetes.io/instance-type", NW_OP_IN, 1, huge, 0}};
  nw_arena *a = nw__arena_new();
  nw_node_instance inst;
  nw_error err = {0};
  nw_node_claim c = make_claim("claim-huge", class_json(KT_IMAGE), r, 1);
  CU_ASSERT_EQUAL(kp.vt->create(kp.state, &c, a, &inst, &err), NW_ERR_INSUFFICIENT_CAPACITY);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "claim-huge"));
  nw__arena_free(a);
}

static void test_image_missing(void) {
  nw_arena *a = nw__arena_new();
  nw_node_instance inst;
  nw_error err = {0};
  nw_node_claim c = make_claim("claim-noimg", class_json("nodewright/missing:0"), reqs_a, 3);
  CU_ASSERT_EQUAL(kp.vt->create(kp.state, &c, a, &inst, &err), NW_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "nodewright/missing:0"));
  CU_ASSERT_PTR_NULL(kt_inspect("claim-noimg"));
  char *out = NULL;
  kt_docker(&out, "ps -aq --filter label=nodewright.dev/nodeclaim=claim-noimg");
  CU_ASSERT_STRING_EQUAL(out, "");
  free(out);
  nw__arena_free(a);
}

static void test_bad_class(void) {
  nw_arena *a = nw__arena_new();
  nw_node_instance inst;
  nw_error err = {0};
  nw_node_claim c = make_claim("claim-bad",
      "{\"spec\":{\"image\":\"" KT_IMAGE "\",\"clusterName\":\"elsewhere\"}}", reqs_a, 3);
  CU_ASSERT_EQUAL(kp.vt->create(kp.state, &c, a, &inst, &err), NW_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "elsewhere"));
  c.node_class_json = "{\"spec\":{\"runtime\":\"firecracker\"}}";
  CU_ASSERT_EQUAL(kp.vt->create(kp.state, &c, a, &inst, &err), NW_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "firecracker"));
  nw__arena_free(a);
}

static void test_socket_missing(void) {
  char cfg[512], sock[128], err_s[1024];
  kt_plugin other;
  snprintf(sock, sizeof(sock), "/tmp/nwt-no-docker-%ld/docker.sock", (long)getpid());
  snprintf(cfg, sizeof(cfg), "{\"socket\":\"%s\",\"clusterName\":\"%s\",\"image\":\"%s\"}",
           sock, kt_cluster("nosock"), KT_IMAGE);
  CU_ASSERT_EQUAL_FATAL(kt_load(&other, cfg, NULL, err_s, sizeof(err_s)), 0);
  nw_arena *a = nw__arena_new();
  nw_error err = {0};
  nw_instance_types its = {0};
  /* The catalog comes from the config and needs no daemon. */
  CU_ASSERT_EQUAL(other.vt->instance_types(other.state, "default", NULL, a, &its, &err), NW_OK);
  CU_ASSERT_EQUAL(its.len, 18);
  nw_node_instance inst;
  nw_node_claim c = make_claim("claim-x", NULL, NULL, 0);
  nw_status st = other.vt->create(other.state, &c, a, &inst, &err);
  CU_ASSERT_EQUAL(st, NW_ERR_RETRYABLE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, sock));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "dockerd"));
  nw_node_instances all;
  CU_ASSERT_EQUAL(other.vt->list(other.state, a, &all, &err), NW_ERR_RETRYABLE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, sock));
  char pid[256];
  snprintf(pid, sizeof(pid), "kind://docker/%s/x", kt_cluster("nosock"));
  st = other.vt->delete_instance(other.state, pid, &err);
  CU_ASSERT_EQUAL(st, NW_ERR_RETRYABLE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, sock));
  nw__arena_free(a);
  kt_unload(&other);
}

static void test_bad_config(void) {
  char err[1024];
  kt_plugin other;
  CU_ASSERT_EQUAL(kt_load(&other, "{\"catalog\":{\"cpus\":[0]}}", NULL, err, sizeof(err)), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "catalog.cpus[0]"));
  CU_ASSERT_EQUAL(kt_load(&other, "{\"sokcet\":\"/var/run/docker.sock\"}", NULL, err,
                          sizeof(err)), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "sokcet"));
  CU_ASSERT_EQUAL(kt_load(&other, "{\"runtime\":\"vm\"}", NULL, err, sizeof(err)), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "runtime \"vm\""));
}

NW_TEST_CASES({"instance_types", test_instance_types},
              {"create", test_create},
              {"create_idempotent", test_create_idempotent},
              {"list_get", test_list_get},
              {"drift", test_drift},
              {"kill_event", test_kill_event},
              {"delete", test_delete},
              {"stop_event", test_stop_event},
              {"resume_created", test_resume_created},
              {"insufficient_capacity", test_insufficient_capacity},
              {"image_missing", test_image_missing},
              {"bad_class", test_bad_class},
              {"socket_missing", test_socket_missing},
              {"bad_config", test_bad_config});
NW_TEST_MAIN("kind_docker", setup, teardown);
