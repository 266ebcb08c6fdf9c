/*
 * Informers across control-plane trouble, on a private cluster (its etcd
 * gets compacted and its apiserver restarted, which would disturb other
 * tests on the shared fixture): the watch resumes after an apiserver
 * restart, and a watch that fell behind compaction (410 Gone) relists and
 * reconciles the cache.
 */
#include "nwtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/informer.h"
#include "kube/kutil.h"
#include "kube_testutil.h"

static char g_dir[256];
static char g_kubeconfig[300];
static nw__kube_config *g_cfg;
static nw__kube_client *g_sync;
static char g_ns[128];

static int setup(void) {
  nw_error err = {0};
  snprintf(g_dir, sizeof(g_dir), "/tmp/nw-kube-resilience-%d", (int)getpid());
  if (kt_sh(NULL, "%s/scripts/test-cluster up --dir '%s' >/dev/null", NW_SOURCE_DIR, g_dir) != 0)
    return -1;
  snprintf(g_kubeconfig, sizeof(g_kubeconfig), "%s/kubeconfig", g_dir);
  g_cfg = nw__kube_config_load(g_kubeconfig, NULL, &err);
  g_sync = g_cfg ? nw__kube_client_new(g_cfg, NULL, NULL, &err) : NULL;
  const char *ns = g_sync ? kt_namespace(g_sync, "nw-res") : NULL;
  if (!ns)
    return -1;
  snprintf(g_ns, sizeof(g_ns), "%s", ns);
  return 0;
}

static int teardown(void) {
  nw__kube_client_free(g_sync);
  nw__kube_config_free(g_cfg);
  kt_sh(NULL, "%s/scripts/test-cluster down --dir '%s' >/dev/null 2>&1", NW_SOURCE_DIR, g_dir);
  return 0;
}

typedef struct track {
  int synced;
  int adds;
  int updates;
  int deletes;
  char added[64];
  char updated[64];
  char deleted[64];
} track;

static void copy_name(char *dst, const json_t *o) {
  const char *n = nw__kube_str(o, "metadata.name");
  snprintf(dst, 64, "%s", n ? n : "");
}
static void t_add(void *u, const json_t *o) {
  track *t = u;
  t->adds++;
  copy_name(t->added, o);
}
static void t_update(void *u, const json_t *old, const json_t *o) {
  track *t = u;
  (void)old;
  t->updates++;
  copy_name(t->updated, o);
}
static void t_delete(void *u, const json_t *o) {
  track *t = u;
  t->deletes++;
  copy_name(t->deleted, o);
}
static void t_synced(void *u) { ((track *)u)->synced = 1; }

static void create_cm(const char *name) {
  json_t *cm = kt_configmap(g_ns, name, "x");
  char *path = nw__kube_path(&KT_CONFIGMAPS, g_ns, NULL, NULL, NULL);
  nw_error err = {0};
  nw_status st = nw__kube_call(g_sync, "POST", path, NULL, cm, NULL, NULL, &err);
  if (st != NW_OK)
    fprintf(stderr, "%s\n", err.message);
  CU_ASSERT_EQUAL(st, NW_OK);
  free(path);
  json_decref(cm);
}

/* Restarting takes the apiserver away for a few seconds; blocking calls in
 * between would fail, so wait until it answers again. */
static void restart_apiserver(void) {
  CU_ASSERT_EQUAL_FATAL(kt_sh(NULL, "%s/scripts/test-cluster restart-apiserver --dir '%s' >/dev/null 2>&1",
                              NW_SOURCE_DIR, g_dir), 0);
  for (int i = 0; i < 100; i++) {
    if (nw__kube_call(g_sync, "GET", "/api/v1/namespaces/default", NULL, NULL, NULL, NULL, NULL) == NW_OK)
      return;
    usleep(100000);
  }
  CU_FAIL("apiserver did not come back");
}

static int wait_for(uv_loop_t *loop, const int *counter, int want, int ms) {
  for (int i = 0; i < ms / 50 && *counter < want; i++) {
    int never = 0;
    kt_run_until(loop, &never, 50);
  }
  return *counter >= want;
}

static void test_watch_resumes_after_restart(void) {
  uv_loop_t loop;
  nw_error err = {0};
  track t;
  memset(&t, 0, sizeof(t));
  uv_loop_init(&loop);
  create_cm("before");
  nw__kube_client *c = nw__kube_client_new(g_cfg, &loop, NULL, &err);
  nw__informer_options o = {.ns = g_ns, .label_selector = "tier"};
  nw__informer *inf = nw__informer_new(c, &KT_CONFIGMAPS, &o);
  nw__informer_handlers h = {t_add, t_update, t_delete, t_synced, &t};
  nw__informer_add_handlers(inf, &h);
  nw__informer_start(inf);
  CU_ASSERT_TRUE_FATAL(kt_run_until(&loop, &t.synced, 10000));
  int never = 0;
  kt_run_until(&loop, &never, 500); /* the watch is established */
  CU_ASSERT_EQUAL(t.adds, 1);

  restart_apiserver();
  create_cm("after-restart");
  CU_ASSERT_TRUE(wait_for(&loop, &t.adds, 2, 30000));
  CU_ASSERT_STRING_EQUAL(t.added, "after-restart");
  /* And it keeps following changes on the new connection. */
  create_cm("later");
  CU_ASSERT_TRUE(wait_for(&loop, &t.adds, 3, 15000));
  CU_ASSERT_EQUAL(nw__informer_size(inf), 3);
  CU_ASSERT_EQUAL(t.deletes, 0);
  fprintf(stderr, "lists after restart: %u\n", nw__informer_lists(inf));

  nw__informer_free(inf);
  nw__kube_client_free(c);
  kt_drain(&loop);
  CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
}

static void test_relist_after_gone(void) {
  uv_loop_t loop;
  nw_error err = {0};
  track t;
  memset(&t, 0, sizeof(t));
  uv_loop_init(&loop);
  char sel[160];
  snprintf(sel, sizeof(sel), "tier=gone-test");
  static const char *const names[] = {"keep", "gone", "change"};
  for (int i = 0; i < 3; i++) {
    json_t *cm = kt_configmap(g_ns, names[i], "gone-test");
    json_t *out = NULL;
    char *path = nw__kube_path(&KT_CONFIGMAPS, g_ns, NULL, NULL, NULL);
    CU_ASSERT_EQUAL(nw__kube_call(g_sync, "POST", path, NULL, cm, &out, NULL, NULL), NW_OK);
    free(path);
    json_decref(out);
    json_decref(cm);
  }
  /* A slow token bucket (one request per 4 s) holds the watch back after
   * the LIST, so the cluster moves on and compacts meanwhile. */
  nw__kube_client_options co = {.qps = 0.25, .burst = 1};
  nw__kube_client *c = nw__kube_client_new(g_cfg, &loop, &co, &err);
  nw__informer_options o = {.ns = g_ns, .label_selector = sel};
  nw__informer *inf = nw__informer_new(c, &KT_CONFIGMAPS, &o);
  nw__informer_handlers h = {t_add, t_update, t_delete, t_synced, &t};
  nw__informer_add_handlers(inf, &h);
  nw__informer_start(inf);
  CU_ASSERT_TRUE_FATAL(kt_run_until(&loop, &t.synced, 10000));
  CU_ASSERT_EQUAL(t.adds, 3);
  CU_ASSERT_EQUAL(nw__informer_lists(inf), 1);

  /* While the informer is not watching: delete, change, add. */
  char *path = nw__kube_path(&KT_CONFIGMAPS, g_ns, "gone", NULL, NULL);
  CU_ASSERT_EQUAL(nw__kube_call(g_sync, "DELETE", path, NULL, NULL, NULL, NULL, NULL), NW_OK);
  free(path);
  json_t *patch = json_pack("{s:{s:s}}", "data", "k", "changed");
  path = nw__kube_path(&KT_CONFIGMAPS, g_ns, "change", NULL, NULL);
  CU_ASSERT_EQUAL(nw__kube_call(g_sync, "PATCH", path, "application/merge-patch+json", patch,
                                NULL, NULL, NULL), NW_OK);
  free(path);
  json_decref(patch);
  json_t *cm = kt_configmap(g_ns, "new", "gone-test");
  path = nw__kube_path(&KT_CONFIGMAPS, g_ns, NULL, NULL, NULL);
  CU_ASSERT_EQUAL(nw__kube_call(g_sync, "POST", path, NULL, cm, NULL, NULL, NULL), NW_OK);
  free(path);
  json_decref(cm);
  /* Compact etcd past the informer's resourceVersion; restart the
   * apiserver so its watch cache no longer holds the older events either. */
  CU_ASSERT_EQUAL(kt_sh(NULL, "%s/scripts/test-cluster compact --dir '%s' >/dev/null 2>&1",
                        NW_SOURCE_DIR, g_dir), 0);
  restart_apiserver();

  CU_ASSERT_TRUE(wait_for(&loop, &t.deletes, 1, 40000));
  CU_ASSERT_EQUAL(nw__informer_lists(inf), 2);
  CU_ASSERT_STRING_EQUAL(t.deleted, "gone");
  CU_ASSERT_EQUAL(t.updates, 1);
  CU_ASSERT_STRING_EQUAL(t.updated, "change");
  CU_ASSERT_EQUAL(t.adds, 4);
  CU_ASSERT_STRING_EQUAL(t.added, "new");
  CU_ASSERT_EQUAL(nw__informer_size(inf), 3);
  json_t *got = nw__informer_get(inf, g_ns, "change");
  CU_ASSERT_STRING_EQUAL(nw__kube_str(got, "data.k"), "changed");
  json_decref(got);

  nw__informer_free(inf);
  nw__kube_client_free(c);
  kt_drain(&loop);
  CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
}

NW_TEST_CASES({"watch_resumes_after_restart", test_watch_resumes_after_restart},
              {"relist_after_gone", test_relist_after_gone});
NW_TEST_MAIN("kube_resilience", setup, teardown);
