/*
 * core/kube/ against the real kube-apiserver of the "cluster" fixture:
 * informer events, conflicts, finalizers, delete preconditions, patches,
 * status, eviction with a PodDisruptionBudget, events, and bad input.
 */
#include "nwtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/events.h"
#include "kube/informer.h"
#include "config/yaml.h"
#include "kube/kutil.h"
#include "kube_testutil.h"

static nw__kube_config *g_cfg;
static nw__kube_client *g_sync; /* blocking mode */
static const char *g_ns;
static char g_ns_buf[128];

static int setup(void) {
  nw_error err = {0};
  g_cfg = nw__kube_config_load(NW_TEST_KUBECONFIG, NULL, &err);
  if (!g_cfg) {
    fprintf(stderr, "%s\n", err.message);
    return -1;
  }
  g_sync = nw__kube_client_new(g_cfg, NULL, NULL, &err);
  const char *ns = kt_namespace(g_sync, "nw-kube");
  if (!ns)
    return -1;
  snprintf(g_ns_buf, sizeof(g_ns_buf), "%s", ns);
  g_ns = g_ns_buf;
  return 0;
}

static int teardown(void) {
  kt_delete_namespace(g_sync, g_ns);
  nw__kube_client_free(g_sync);
  nw__kube_config_free(g_cfg);
  return 0;
}

/* ---- informer ---------------------------------------------------------- */

typedef struct seen {
  int adds;
  int updates;
  int deletes;
  int synced;
  char last_tier[64];
  char deleted_name[64];
} seen;

static const char *or_empty(const char *s) { return s ? s : ""; }

static void on_add(void *u, const json_t *o) {
  seen *s = u;
  s->adds++;
  snprintf(s->last_tier, sizeof(s->last_tier), "%s",
           or_empty(nw__kube_str(o, "metadata.labels.tier")));
}
static void on_update(void *u, const json_t *old, const json_t *o) {
  seen *s = u;
  (void)old;
  s->updates++;
  snprintf(s->last_tier, sizeof(s->last_tier), "%s",
           or_empty(nw__kube_str(o, "metadata.labels.tier")));
}
static void on_delete(void *u, const json_t *o) {
  seen *s = u;
  s->deletes++;
  snprintf(s->deleted_name, sizeof(s->deleted_name), "%s",
           or_empty(nw__kube_str(o, "metadata.name")));
}
static void on_synced(void *u) { ((seen *)u)->synced = 1; }

typedef struct waiter {
  int done;
  nw_status status;
  long http;
} waiter;

static void on_done(void *u, nw__kube_response *r) {
  waiter *w = u;
  w->done = 1;
  w->status = r->status;
  w->http = r->http_status;
  if (r->status != NW_OK)
    fprintf(stderr, "request: %s\n", r->err.message);
}

static int count_visit(void *u, const json_t *o) {
  (void)o;
  (*(int *)u)++;
  return 0;
}

/* Runs the loop until the counter reaches want (or 10 s). */
static int wait_count(uv_loop_t *loop, const int *counter, int want) {
  for (int i = 0; i < 200 && *counter < want; i++) {
    int never = 0;
    kt_run_until(loop, &never, 50);
  }
  return *counter >= want;
}

static void test_informer_create_update_delete(void) {
  uv_loop_t loop;
  nw_error err = {0};
  seen s;
  memset(&s, 0, sizeof(s));
  uv_loop_init(&loop);
  /* One object exists before the informer starts: it arrives by LIST. */
  json_t *pre = kt_configmap(g_ns, "pre", "a");
  char *path = nw__kube_path(&KT_CONFIGMAPS, g_ns, NULL, NULL, NULL);
  CU_ASSERT_EQUAL(nw__kube_call(g_sync, "POST", path, NULL, pre, NULL, NULL, &err), NW_OK);
  free(path);
  json_decref(pre);

  nw__kube_client *c = nw__kube_client_new(g_cfg, &loop, NULL, &err);
  /* The selector keeps out kube-root-ca.crt, which the controller-manager
   * publishes in every namespace. */
  nw__informer_options o = {.ns = g_ns, .label_selector = "tier", .page_size = 1};
  nw__informer *inf = nw__informer_new(c, &KT_CONFIGMAPS, &o);
  nw__informer_add_index_label(inf, "tier", "tier");
  nw__informer_handlers h = {on_add, on_update, on_delete, on_synced, &s};
  nw__informer_add_handlers(inf, &h);
  nw__informer_start(inf);
  CU_ASSERT_TRUE(kt_run_until(&loop, &s.synced, 10000));
  CU_ASSERT_EQUAL(s.adds, 1);
  CU_ASSERT_EQUAL(nw__informer_size(inf), 1);

  /* Create through the async client. */
  waiter w = {0};
  json_t *cm = kt_configmap(g_ns, "web", "front");
  nw__kube_create(c, &KT_CONFIGMAPS, g_ns, cm, on_done, &w);
  json_decref(cm);
  CU_ASSERT_TRUE(kt_run_until(&loop, &w.done, 10000));
  CU_ASSERT_EQUAL(w.status, NW_OK);
  CU_ASSERT_TRUE(wait_count(&loop, &s.adds, 2));
  CU_ASSERT_STRING_EQUAL(s.last_tier, "front");
  CU_ASSERT_EQUAL(nw__informer_index_count(inf, "tier", "front"), 1);

  /* Update by merge patch: handlers and the label index follow. */
  json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "tier", "back");
  memset(&w, 0, sizeof(w));
  nw__kube_patch(c, &KT_CONFIGMAPS, g_ns, "web", NULL, NW__KUBE_PATCH_MERGE, patch,
                 on_done, &w);
  json_decref(patch);
  CU_ASSERT_TRUE(kt_run_until(&loop, &w.done, 10000));
  CU_ASSERT_TRUE(wait_count(&loop, &s.updates, 1));
  CU_ASSERT_STRING_EQUAL(s.last_tier, "back");
  CU_ASSERT_EQUAL(nw__informer_index_count(inf, "tier", "front"), 0);
  CU_ASSERT_EQUAL(nw__informer_index_count(inf, "tier", "back"), 1);
  int visited = 0;
  CU_ASSERT_EQUAL(nw__informer_index_foreach(inf, "tier", "back", count_visit, &visited), 1);
  CU_ASSERT_EQUAL(visited, 1);
  json_t *got = nw__informer_get(inf, g_ns, "web");
  CU_ASSERT_STRING_EQUAL(nw__kube_str(got, "metadata.labels.tier"), "back");
  CU_ASSERT_PTR_NULL(json_object_get(json_object_get(got, "metadata"), "managedFields"));
  json_decref(got);

  /* Delete: on_delete with the last state; gone from cache and index. */
  memset(&w, 0, sizeof(w));
  nw__kube_delete(c, &KT_CONFIGMAPS, g_ns, "web", NULL, on_done, &w);
  CU_ASSERT_TRUE(kt_run_until(&loop, &w.done, 10000));
  CU_ASSERT_TRUE(wait_count(&loop, &s.deletes, 1));
  CU_ASSERT_STRING_EQUAL(s.deleted_name, "web");
  CU_ASSERT_PTR_NULL(nw__informer_get(inf, g_ns, "web"));
  CU_ASSERT_EQUAL(nw__informer_index_count(inf, "tier", "back"), 0);
  CU_ASSERT_EQUAL(nw__informer_size(inf), 1);
  CU_ASSERT_EQUAL(nw__informer_lists(inf), 1);

  nw__informer_free(inf);
  nw__kube_client_free(c);
  kt_drain(&loop);
  CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
}

/* ---- writes ------------------------------------------------------------ */

typedef struct conflict_ctx {
  int calls;
  const char *key;
} conflict_ctx;

/* Sneaks a concurrent change in on the first call, so the PUT conflicts. */
static int mutate_with_race(void *u, json_t *obj) {
  conflict_ctx *cc = u;
  cc->calls++;
  if (cc->calls == 1) {
    json_t *patch = json_pack("{s:{s:s}}", "data", "racer", "won");
    char *path = nw__kube_path(&KT_CONFIGMAPS, g_ns, "racy", NULL, NULL);
    CU_ASSERT_EQUAL(nw__kube_call(g_sync, "PATCH", path, "application/merge-patch+json",
                                  patch, NULL, NULL, NULL), NW_OK);
    free(path);
    json_decref(patch);
  }
  json_object_set_new(json_object_get(obj, "data"), cc->key, json_string("mine"));
  return 0;
}

static void keep_body(void *u, nw__kube_response *r) {
  json_t **out = u;
  *out = r->status == NW_OK ? json_incref(r->body) : NULL;
  if (r->status != NW_OK)
    fprintf(stderr, "%s\n", r->err.message);
}

static void test_update_conflict_retried(void) {
  json_t *cm = kt_configmap(g_ns, "racy", "x");
  json_t *created = NULL;
  nw__kube_create(g_sync, &KT_CONFIGMAPS, g_ns, cm, keep_body, &created);
  json_decref(cm);
  CU_ASSERT_PTR_NOT_NULL_FATAL(created);
  /* An unknown field kept through the round trip shows nothing is lost. */
  conflict_ctx cc = {0, "mine"};
  json_t *final = NULL;
  nw__kube_update(g_sync, &KT_CONFIGMAPS, g_ns, "racy", NULL, created,
                  mutate_with_race, &cc, keep_body, &final);
  CU_ASSERT_EQUAL(cc.calls, 2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(final);
  CU_ASSERT_STRING_EQUAL(nw__kube_str(final, "data.racer"), "won");
  CU_ASSERT_STRING_EQUAL(nw__kube_str(final, "data.mine"), "mine");
  CU_ASSERT_STRING_EQUAL(nw__kube_str(final, "data.k"), "v");
  json_decref(final);
  json_decref(created);
}

static void test_finalizers_and_preconditions(void) {
  json_t *cm = kt_configmap(g_ns, "fin", "x");
  json_t *obj = NULL;
  json_t *tmp = NULL;
  nw__kube_create(g_sync, &KT_CONFIGMAPS, g_ns, cm, keep_body, &obj);
  json_decref(cm);
  CU_ASSERT_PTR_NOT_NULL_FATAL(obj);
  nw__kube_finalizer_add(g_sync, &KT_CONFIGMAPS, g_ns, "fin", "nodewright.io/test", keep_body, &tmp);
  CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(
                             json_object_get(json_object_get(tmp, "metadata"), "finalizers"), 0)),
                         "nodewright.io/test");
  json_decref(tmp);

  /* A stale uid precondition is refused with 409. */
  waiter w = {0};
  nw__kube_delete_options bad = {"00000000-0000-0000-0000-000000000000", NULL, NULL, -1};
  nw__kube_delete(g_sync, &KT_CONFIGMAPS, g_ns, "fin", &bad, on_done, &w);
  CU_ASSERT_EQUAL(w.http, 409);
  nw__kube_delete_options good = {nw__kube_str(obj, "metadata.uid"), NULL, "Background", 0};
  memset(&w, 0, sizeof(w));
  nw__kube_delete(g_sync, &KT_CONFIGMAPS, g_ns, "fin", &good, on_done, &w);
  CU_ASSERT_EQUAL(w.status, NW_OK);
  /* The finalizer holds it: still there, marked for deletion. */
  nw__kube_get(g_sync, &KT_CONFIGMAPS, g_ns, "fin", keep_body, &tmp);
  CU_ASSERT_PTR_NOT_NULL(nw__kube_str(tmp, "metadata.deletionTimestamp"));
  json_decref(tmp);
  tmp = NULL;
  nw__kube_finalizer_remove(g_sync, &KT_CONFIGMAPS, g_ns, "fin", "nodewright.io/test", keep_body, &tmp);
  json_decref(tmp);
  memset(&w, 0, sizeof(w));
  nw__kube_get(g_sync, &KT_CONFIGMAPS, g_ns, "fin", on_done, &w);
  CU_ASSERT_EQUAL(w.status, NW_ERR_NOT_FOUND);
  json_decref(obj);
}

static void test_json_patch(void) {
  json_t *cm = kt_configmap(g_ns, "jp", "x");
  json_t *out = NULL;
  nw__kube_create(g_sync, &KT_CONFIGMAPS, g_ns, cm, keep_body, &out);
  json_decref(cm);
  json_decref(out);
  json_t *ops = json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s}]", "op", "test", "path",
                          "/data/k", "value", "v", "op", "replace", "path", "/data/k",
                          "value", "w");
  out = NULL;
  nw__kube_patch(g_sync, &KT_CONFIGMAPS, g_ns, "jp", NULL, NW__KUBE_PATCH_JSON, ops,
                 keep_body, &out);
  CU_ASSERT_STRING_EQUAL(nw__kube_str(out, "data.k"), "w");
  json_decref(out);
  /* The test op now fails: 422, NW_ERR_INVALID. */
  waiter w = {0};
  nw__kube_patch(g_sync, &KT_CONFIGMAPS, g_ns, "jp", NULL, NW__KUBE_PATCH_JSON, ops,
                 on_done, &w);
  CU_ASSERT_EQUAL(w.status, NW_ERR_INVALID);
  json_decref(ops);
}

/* ---- eviction and PDBs ------------------------------------------------- */

static int make_ready(void *u, json_t *pod) {
  (void)u;
  char now[64];
  nw__kube_format_time(nw__kube_now_ms(), now, sizeof(now));
  now[19] = 'Z';
  now[20] = '\0';
  json_object_set_new(pod, "status",
                      json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "phase", "Running",
                                "conditions", "type", "Ready", "status", "True",
                                "lastTransitionTime", now));
  return 0;
}

static long pdb_allowed(const char *name, long *healthy) {
  json_t *pdb = NULL;
  nw__kube_get(g_sync, &NW__KUBE_PDBS, g_ns, name, keep_body, &pdb);
  json_t *st = json_object_get(pdb, "status");
  long allowed = json_object_get(st, "disruptionsAllowed")
                     ? (long)json_integer_value(json_object_get(st, "disruptionsAllowed"))
                     : -1;
  *healthy = (long)json_integer_value(json_object_get(st, "currentHealthy"));
  json_decref(pdb);
  return allowed;
}

static int wait_pdb(const char *name, long want_allowed) {
  long healthy = 0;
  for (int i = 0; i < 300; i++) {
    if (pdb_allowed(name, &healthy) == want_allowed && healthy == 1)
      return 1;
    usleep(100000);
  }
  return 0;
}

static void test_eviction_blocked_by_pdb_then_allowed(void) {
  json_t *pod = json_pack(
      "{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s, s:[{s:s, s:s}]}}", "apiVersion", "v1",
      "kind", "Pod", "metadata", "name", "guarded", "labels", "app", "guarded",
      "spec", "nodeName", "nw-kube-test-absent-node", "containers", "name", "c",
      "image", "registry.k8s.io/pause:3.9");
  json_t *out = NULL;
  nw__kube_create(g_sync, &NW__KUBE_PODS, g_ns, pod, keep_body, &out);
  json_decref(pod);
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  json_decref(out);
  /* No kubelet here: report the pod Running and Ready through /status. */
  out = NULL;
  nw__kube_update(g_sync, &NW__KUBE_PODS, g_ns, "guarded", "status", NULL, make_ready,
                  NULL, keep_body, &out);
  CU_ASSERT_STRING_EQUAL(nw__kube_str(out, "status.phase"), "Running");
  json_decref(out);

  json_t *pdb = json_pack("{s:s, s:s, s:{s:s}, s:{s:i, s:{s:{s:s}}}}", "apiVersion",
                          "policy/v1", "kind", "PodDisruptionBudget", "metadata", "name",
                          "guard", "spec", "minAvailable", 1, "selector", "matchLabels",
                          "app", "guarded");
  out = NULL;
  nw__kube_create(g_sync, &NW__KUBE_PDBS, g_ns, pdb, keep_body, &out);
  json_decref(pdb);
  json_decref(out);
  CU_ASSERT_TRUE_FATAL(wait_pdb("guard", 0));

  waiter w = {0};
  nw_error err = {0};
  nw__kube_evict(g_sync, g_ns, "guarded", -1, on_done, &w);
  CU_ASSERT_EQUAL(w.status, NW_ERR_RETRYABLE);
  CU_ASSERT_EQUAL(w.http, 429);
  (void)err;

  json_t *patch = json_pack("{s:{s:i}}", "spec", "minAvailable", 0);
  out = NULL;
  nw__kube_patch(g_sync, &NW__KUBE_PDBS, g_ns, "guard", NULL, NW__KUBE_PATCH_MERGE, patch,
                 keep_body, &out);
  json_decref(patch);
  json_decref(out);
  CU_ASSERT_TRUE_FATAL(wait_pdb("guard", 1));
  memset(&w, 0, sizeof(w));
  nw__kube_evict(g_sync, g_ns, "guarded", 0, on_done, &w);
  CU_ASSERT_EQUAL(w.status, NW_OK);
  CU_ASSERT_EQUAL(w.http, 201);
}

/* ---- events ------------------------------------------------------------ */

static void test_events_aggregated(void) {
  json_t *cm = kt_configmap(g_ns, "evented", "x");
  json_t *obj = NULL;
  nw__kube_create(g_sync, &KT_CONFIGMAPS, g_ns, cm, keep_body, &obj);
  json_decref(cm);
  CU_ASSERT_PTR_NOT_NULL_FATAL(obj);
  nw__kube_recorder *rec = nw__kube_recorder_new(g_sync, "nodewright.io/test", "test-1");
  for (int i = 0; i < 3; i++)
    nw__kube_event(rec, obj, "Normal", "Tested", "Test", "tested %s", "evented");
  nw__kube_event(rec, obj, "Warning", "Other", "Test", "something else");
  char *path = nw__kube_path(&NW__KUBE_EVENTS, g_ns, NULL, NULL,
                             "fieldSelector=regarding.name%3Devented");
  json_t *list = NULL;
  CU_ASSERT_EQUAL(nw__kube_call(g_sync, "GET", path, NULL, NULL, &list, NULL, NULL), NW_OK);
  free(path);
  json_t *items = json_object_get(list, "items");
  CU_ASSERT_EQUAL(json_array_size(items), 2);
  size_t i;
  json_t *ev;
  int found = 0;
  json_array_foreach(items, i, ev) {
    const char *reason = nw__kube_str(ev, "reason");
    if (reason && strcmp(reason, "Tested") == 0) {
      found = 1;
      CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(ev, "series"), "count")), 3);
      CU_ASSERT_STRING_EQUAL(nw__kube_str(ev, "regarding.kind"), "ConfigMap");
      CU_ASSERT_STRING_EQUAL(nw__kube_str(ev, "note"), "tested evented");
    }
  }
  CU_ASSERT_TRUE(found);
  CU_ASSERT_EQUAL(nw__kube_recorder_writes(rec), 4);
  json_decref(list);
  nw__kube_recorder_free(rec);
  json_decref(obj);
}

/* ---- custom resources -------------------------------------------------- */

static const nw__kube_resource CRDS = {"apiextensions.k8s.io", "v1",
                                       "customresourcedefinitions",
                                       "CustomResourceDefinition", 0};

/* Installs configs/crds/karpenter.sh_nodeclaims.yaml (AlreadyExists is
 * fine: the CRD tests apply the same file) and waits until Established. */
static int install_nodeclaim_crd(void) {
  char err[512];
  nw__ydoc *doc = nw__yaml_load(nw_test_src_path("configs/crds/karpenter.sh_nodeclaims.yaml"),
                                err, sizeof(err));
  if (!doc) {
    fprintf(stderr, "%s\n", err);
    return 0;
  }
  json_t *crd = nw__ynode_to_json(doc->root);
  nw__ydoc_free(doc);
  char *path = nw__kube_path(&CRDS, NULL, NULL, NULL, NULL);
  nw__kube_call(g_sync, "POST", path, NULL, crd, NULL, NULL, NULL);
  free(path);
  json_decref(crd);
  for (int i = 0; i < 100; i++) {
    json_t *got = NULL;
    nw__kube_get(g_sync, &CRDS, NULL, "nodeclaims.karpenter.sh", keep_body, &got);
    size_t k;
    json_t *cond;
    int ok = 0;
    json_array_foreach(json_object_get(json_object_get(got, "status"), "conditions"), k, cond) {
      if (strcmp(or_empty(nw__kube_str(cond, "type")), "Established") == 0 &&
          strcmp(or_empty(nw__kube_str(cond, "status")), "True") == 0)
        ok = 1;
    }
    json_decref(got);
    if (ok)
      return 1;
    usleep(100000);
  }
  return 0;
}

static int set_launched(void *u, json_t *nc) {
  (void)u;
  char now[64];
  nw__kube_format_time(nw__kube_now_ms(), now, sizeof(now));
  now[19] = 'Z';
  now[20] = '\0';
  json_object_set_new(nc, "status",
                      json_pack("{s:s, s:[{s:s, s:s, s:s, s:s, s:s}]}", "providerID",
                                "kind://nw-test/1", "conditions", "type", "Launched",
                                "status", "True", "reason", "Launched", "message", "",
                                "lastTransitionTime", now));
  return 0;
}

static void test_crd_informer_nodeclaims(void) {
  uv_loop_t loop;
  nw_error err = {0};
  seen s;
  char name[64];
  memset(&s, 0, sizeof(s));
  CU_ASSERT_TRUE_FATAL(install_nodeclaim_crd());
  snprintf(name, sizeof(name), "nw-kube-claim-%d", (int)getpid());
  uv_loop_init(&loop);
  nw__kube_client *c = nw__kube_client_new(g_cfg, &loop, NULL, &err);
  nw__informer *inf = nw__informer_new(c, &NW__KUBE_NODECLAIMS, NULL);
  nw__informer_add_index_field(inf, "provider", "status.providerID");
  nw__informer_handlers h = {on_add, on_update, on_delete, on_synced, &s};
  nw__informer_add_handlers(inf, &h);
  nw__informer_start(inf);
  CU_ASSERT_TRUE_FATAL(kt_run_until(&loop, &s.synced, 10000));
  int adds0 = s.adds;

  json_t *nc = json_pack(
      "{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:[s]}]}}",
      "apiVersion", "karpenter.sh/v1", "kind", "NodeClaim", "metadata", "name", name,
      "labels", "tier", "claim", "spec", "nodeClassRef", "group", "nodewright.dev", "kind",
      "KindNodeClass", "name", "default", "requirements", "key",
      "kubernetes.io/arch", "operator", "In", "values", "amd64");
  waiter w = {0};
  nw__kube_create(c, &NW__KUBE_NODECLAIMS, NULL, nc, on_done, &w);
  json_decref(nc);
  CU_ASSERT_TRUE(kt_run_until(&loop, &w.done, 10000));
  CU_ASSERT_EQUAL_FATAL(w.status, NW_OK);
  CU_ASSERT_TRUE(wait_count(&loop, &s.adds, adds0 + 1));

  /* Status through its subresource, starting from the cached copy. */
  json_t *cached = nw__informer_get(inf, NULL, name);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cached);
  memset(&w, 0, sizeof(w));
  int updates0 = s.updates;
  nw__kube_update(c, &NW__KUBE_NODECLAIMS, NULL, name, "status", cached, set_launched, NULL,
                  on_done, &w);
  json_decref(cached);
  CU_ASSERT_TRUE(kt_run_until(&loop, &w.done, 10000));
  CU_ASSERT_EQUAL(w.status, NW_OK);
  CU_ASSERT_TRUE(wait_count(&loop, &s.updates, updates0 + 1));
  CU_ASSERT_EQUAL(nw__informer_index_count(inf, "provider", "kind://nw-test/1"), 1);
  json_t *got = nw__informer_get(inf, NULL, name);
  CU_ASSERT_STRING_EQUAL(or_empty(nw__kube_str(got, "spec.nodeClassRef.kind")), "KindNodeClass");
  json_decref(got);

  memset(&w, 0, sizeof(w));
  nw__kube_delete(c, &NW__KUBE_NODECLAIMS, NULL, name, NULL, on_done, &w);
  CU_ASSERT_TRUE(kt_run_until(&loop, &w.done, 10000));
  CU_ASSERT_TRUE(wait_count(&loop, &s.deletes, 1));
  CU_ASSERT_EQUAL(nw__informer_index_count(inf, "provider", "kind://nw-test/1"), 0);
  nw__informer_free(inf);
  nw__kube_client_free(c);
  kt_drain(&loop);
  CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
}

/* ---- bad input --------------------------------------------------------- */

/* Writes a copy of the fixture kubeconfig with sed applied; returns path. */
static const char *edited_kubeconfig(const char *name, const char *sed_expr) {
  static char path[256];
  snprintf(path, sizeof(path), "/tmp/nw-kube-%d-%s", (int)getpid(), name);
  CU_ASSERT_EQUAL(kt_sh(NULL, "sed -e '%s' '%s' > '%s'", sed_expr, NW_TEST_KUBECONFIG, path), 0);
  return path;
}

static nw_status try_list(const char *kubeconfig, const char *context, char *msg,
                          size_t len) {
  nw__kube_config *cfg = kt_config(kubeconfig, context);
  nw_error err = {0};
  nw__kube_client_options o = {.timeout_ms = 5000};
  nw__kube_client *c = nw__kube_client_new(cfg, NULL, &o, &err);
  nw_status st = nw__kube_call(c, "GET", "/api/v1/nodes", NULL, NULL, NULL, NULL, &err);
  snprintf(msg, len, "%s", err.message);
  nw__kube_client_free(c);
  nw__kube_config_free(cfg);
  return st;
}

static void test_bad_input(void) {
  char msg[600];
  /* Unreachable server: retryable, names the server. */
  const char *p = edited_kubeconfig("unreachable", "s#server: https://127.0.0.1:[0-9]*#server: https://127.0.0.1:9#");
  CU_ASSERT_EQUAL(try_list(p, NULL, msg, sizeof(msg)), NW_ERR_RETRYABLE);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "cannot reach https://127.0.0.1:9"));
  unlink(p);
  /* Wrong CA: the client certificate is no CA of the server's cert. */
  p = edited_kubeconfig("wrongca", "/certificate-authority-data/d");
  char *cert = NULL;
  kt_sh(&cert, "grep -m1 client-certificate-data '%s' | awk '{print $2}'", NW_TEST_KUBECONFIG);
  cert[strcspn(cert, "\n")] = '\0';
  kt_sh(NULL, "sed -i 's#^\\(    server: .*\\)$#\\1\\n    certificate-authority-data: %s#' '%s'", cert, p);
  free(cert);
  CU_ASSERT_EQUAL(try_list(p, NULL, msg, sizeof(msg)), NW_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "not trusted"));
  unlink(p);
  /* Rejected token: 401, NW_ERR_AUTH. */
  p = edited_kubeconfig("badtoken", "s#token: .*#token: not-a-valid-token#");
  CU_ASSERT_EQUAL(try_list(p, "nodewright-test-token", msg, sizeof(msg)), NW_ERR_AUTH);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "401"));
  CU_ASSERT_PTR_NULL(strstr(msg, "not-a-valid-token"));
  unlink(p);
  /* Valid identity without RBAC rights: 403, NW_ERR_AUTH. */
  CU_ASSERT_EQUAL(try_list(NW_TEST_KUBECONFIG, "nodewright-test-unprivileged", msg, sizeof(msg)),
                  NW_ERR_AUTH);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "403"));
}

static void test_informer_unreachable_keeps_retrying(void) {
  uv_loop_t loop;
  nw_error err = {0};
  seen s;
  memset(&s, 0, sizeof(s));
  uv_loop_init(&loop);
  const char *p = edited_kubeconfig("unreach2", "s#server: https://127.0.0.1:[0-9]*#server: https://127.0.0.1:9#");
  nw__kube_config *cfg = kt_config(p, NULL);
  nw__kube_client *c = nw__kube_client_new(cfg, &loop, NULL, &err);
  nw__informer *inf = nw__informer_new(c, &NW__KUBE_NODES, NULL);
  nw__informer_handlers h = {on_add, on_update, on_delete, on_synced, &s};
  nw__informer_add_handlers(inf, &h);
  nw__informer_start(inf);
  CU_ASSERT_FALSE(kt_run_until(&loop, &s.synced, 2500));
  CU_ASSERT_TRUE(nw__kube_client_requests(c) >= 2);
  CU_ASSERT_EQUAL(nw__informer_lists(inf), 0);
  nw__informer_free(inf);
  nw__kube_client_free(c);
  kt_drain(&loop);
  CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
  nw__kube_config_free(cfg);
  unlink(p);
}

NW_TEST_CASES({"informer_create_update_delete", test_informer_create_update_delete},
              {"update_conflict_retried", test_update_conflict_retried},
              {"finalizers_and_preconditions", test_finalizers_and_preconditions},
              {"json_patch", test_json_patch},
              {"eviction_blocked_by_pdb_then_allowed", test_eviction_blocked_by_pdb_then_allowed},
              {"events_aggregated", test_events_aggregated},
              {"crd_informer_nodeclaims", test_crd_informer_nodeclaims},
              {"bad_input", test_bad_input},
              {"informer_unreachable_keeps_retrying", test_informer_unreachable_keeps_retrying});
NW_TEST_MAIN("kube_client", setup, teardown);
