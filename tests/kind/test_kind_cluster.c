/*
 * The virtual runtime end to end against real peers: kind.so (through the
 * loader) launches a container on the test dockerd (fixture "docker") and
 * registers its Node in the test control plane (fixture "cluster", with
 * kwok faking the kubelet); delete removes both.  The host's kube_request
 * hook is a thin adapter over the daemon's own Kubernetes client.
 */
#include "nwtest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kind_test_util.h"
#include "kube/client.h"
#include "kube/config.h"
#include "util/arena.h"

static nw__kube_config *kcfg;
static nw__kube_client *kc;
static uv_loop_t loop;
static kt_plugin kp;
static char cluster[64];
static char node[128];
static char pid[256];

/* One request through the client in loop mode, run to completion. */
typedef struct call {
  int done;
  long http;
  char *text;
} call;

static void on_done(void *user, nw__kube_response *resp) {
  call *c = user;
  c->http = resp->http_status;
  c->text = resp->body ? json_dumps(resp->body, JSON_COMPACT) : NULL;
  c->done = 1;
}

static call kube(const char *method, const char *path, const json_t *body) {
  call c = {0, 0, NULL};
  nw__kube_request(kc, method, path, NULL, body, on_done, &c);
  while (!c.done)
    uv_run(&loop, UV_RUN_ONCE);
  return c;
}

/* nw_host_api.kube_request over the daemon's Kubernetes client. */
static nw_status kube_hook(void *user, const char *method, const char *path,
                           const char *body, nw_http_response *resp,
                           nw_arena *arena, nw_error *err) {
  json_t *in = body ? json_loads(body, 0, NULL) : NULL;
  (void)user;
  call c = kube(method, path, in);
  json_decref(in);
  /* Any HTTP answer is a response; only transport failures are errors. */
  if (c.http == 0) {
    free(c.text);
    snprintf(err->message, sizeof(err->message), "%s %s: no response", method, path);
    err->status = NW_ERR_RETRYABLE;
    return NW_ERR_RETRYABLE;
  }
  memset(resp, 0, sizeof(*resp));
  resp->size = sizeof(*resp);
  resp->status = c.http;
  resp->body = nw__arena_strdup(arena, c.text ? c.text : "");
  resp->body_len = strlen(resp->body);
  free(c.text);
  return NW_OK;
}

/* GET a Node; returns the object (caller decrefs) or NULL, *http set. */
static json_t *get_node(const char *name, long *http) {
  char path[300];
  snprintf(path, sizeof(path), "/api/v1/nodes/%s", name);
  call c = kube("GET", path, NULL);
  *http = c.http;
  json_t *out = c.http == 200 && c.text ? json_loads(c.text, 0, NULL) : NULL;
  free(c.text);
  return out;
}

static const char *ready_status(json_t *n) {
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(json_object_get(n, "status"), "conditions"), i, c) {
    if (strcmp(json_string_value(json_object_get(c, "type")), "Ready") == 0)
      return json_string_value(json_object_get(c, "status"));
  }
  return NULL;
}

static int setup(void) {
  nw_error err = {0};
  char lerr[1024];
  kcfg = nw__kube_config_load(NW_TEST_KUBECONFIG, NULL, &err);
  if (!kcfg) {
    fprintf(stderr, "kubeconfig: %s\n", err.message);
    return 1;
  }
  uv_loop_init(&loop);
  kc = nw__kube_client_new(kcfg, &loop, NULL, &err);
  if (!kc) {
    fprintf(stderr, "kube client: %s\n", err.message);
    return 1;
  }
  nw__host_hooks hooks = {0};
  hooks.kube_request = kube_hook;
  snprintf(cluster, sizeof(cluster), "%s", kt_cluster("kube"));
  snprintf(node, sizeof(node), "%s-claim-k", cluster);
  snprintf(pid, sizeof(pid), "kind://docker/%s/%s", cluster, node);
  if (kt_load(&kp, kt_config(cluster, ""), &hooks, lerr, sizeof(lerr)) != 0) {
    fprintf(stderr, "cannot load kind.so: %s\n", lerr);
    return 1;
  }
  return 0;
}

static int teardown(void) {
  char path[300];
  kt_unload(&kp);
  kt_remove_cluster(cluster);
  snprintf(path, sizeof(path), "/api/v1/nodes/%s", node);
  if (kc) {
    call c = kube("DELETE", path, NULL);
    free(c.text);
  }
  nw__kube_client_free(kc);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  nw__kube_config_free(kcfg);
  return 0;
}

static const nw_kv pool_labels[] = {{"nodegroupname", "kong"}};
static const nw_taint startup[] = {{"example.com/warming", NULL, NW_TAINT_NO_SCHEDULE}};

static void test_register_and_delete(void) {
  nw_arena *a = nw__arena_new();
  nw_node_instance inst;
  nw_error err = {0};
  nw_node_claim c;
  memset(&c, 0, sizeof(c));
  c.name = "claim-k";
  c.nodepool = "kong";
  c.node_class_json = "{\"spec\":{\"image\":\"" KT_IMAGE "\"}}";
  c.labels.items = pool_labels;
  c.labels.len = 1;
  c.startup_taints.items = startup;
  c.startup_taints.len = 1;
  nw_status st = kp.vt->create(kp.state, &c, a, &inst, &err);
  if (st != NW_OK)
    fprintf(stderr, "create: %s\n", err.message);
  CU_ASSERT_EQUAL_FATAL(st, NW_OK);
  CU_ASSERT_STRING_EQUAL(inst.provider_id, pid);

  long http = 0;
  json_t *n = get_node(node, &http);
  CU_ASSERT_EQUAL_FATAL(http, 200);
  json_t *labels = json_object_get(json_object_get(n, "metadata"), "labels");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(n, "spec"),
                                                           "providerID")), pid);
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(labels, "nodegroupname")), "kong");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(labels, "karpenter.sh/nodepool")), "kong");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(labels, "node.kubernetes.io/instance-type")),
                         inst.instance_type);
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
      json_object_get(json_object_get(n, "status"), "capacity"), "pods")), "110");
  json_decref(n);

  /* kwok plays the kubelet of nodes carrying its label: Ready soon. */
  const char *ready = NULL;
  time_t end = time(NULL) + 60;
  while (time(NULL) < end) {
    n = get_node(node, &http);
    ready = n ? ready_status(n) : NULL;
    int ok = ready && strcmp(ready, "True") == 0;
    json_decref(n);
    if (ok)
      break;
    usleep(200 * 1000);
  }
  n = get_node(node, &http);
  CU_ASSERT_PTR_NOT_NULL(n);
  CU_ASSERT_STRING_EQUAL(n ? ready_status(n) : "", "True");
  json_decref(n);

  /* A second create for the claim is the same node. */
  CU_ASSERT_EQUAL(kp.vt->create(kp.state, &c, a, &inst, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(inst.provider_id, pid);

  CU_ASSERT_EQUAL(kp.vt->delete_instance(kp.state, pid, &err), NW_OK);
  nw_provider_event *evs = NULL;
  size_t ne = 0;
  CU_ASSERT_EQUAL(kp.vt->poll_events(kp.state, 0, 16, a, &evs, &ne, &err), NW_OK);
  n = get_node(node, &http);
  CU_ASSERT_PTR_NULL(n);
  CU_ASSERT_EQUAL(http, 404);
  json_decref(n);
  nw__arena_free(a);
}

NW_TEST_CASES({"register_and_delete", test_register_and_delete});
NW_TEST_MAIN("kind_cluster", setup, teardown);
