/* The simulator's virtual-time env: timers, submit latency, the in-memory
 * API (merge patch, finalizers, status subresource, eviction and PDBs). */
#include "nwtest.h"

#include <string.h>

#include "cluster/objutil.h"
#include "sim/venv.h"

static char order[64];
static size_t n_order;

static void mark(void *arg) { order[n_order++] = *(const char *)arg; }

static void test_timers_fire_in_time_then_start_order(void) {
  nw__store *st = nw__store_new();
  nw__venv *v = nw__venv_new(st, NULL, 1000, 1);
  nw__env *env = nw__venv_env(v);
  n_order = 0;
  static const char a = 'a', b = 'b', c = 'c', d = 'd';
  env->ops->timer_start(env, 50, mark, (void *)&a);
  env->ops->timer_start(env, 10, mark, (void *)&b);
  nw__timer *gone = env->ops->timer_start(env, 20, mark, (void *)&c);
  env->ops->timer_start(env, 10, mark, (void *)&d);
  env->ops->timer_stop(env, gone);
  CU_ASSERT_EQUAL(nw__venv_pending(v), 3);
  CU_ASSERT_EQUAL(nw__venv_next_due(v), 1010);
  CU_ASSERT_EQUAL(nw__venv_run_until(v, 1020), 2);
  CU_ASSERT_EQUAL(env->ops->now_ms(env), 1020);
  CU_ASSERT_EQUAL(nw__venv_run_until(v, 2000), 1);
  order[n_order] = '\0';
  CU_ASSERT_STRING_EQUAL(order, "bda");
  CU_ASSERT_EQUAL(nw__venv_pending(v), 0);
  nw__venv_free(v);
  nw__store_free(st);
}

static int64_t done_at;
static nw__env *the_env;

static void slow_work(void *arg) {
  (void)arg;
  nw__env_set_latency(the_env, 45000);
}

static void work_done(void *arg) {
  (void)arg;
  done_at = the_env->ops->now_ms(the_env);
}

static void test_submit_completes_after_reported_latency(void) {
  nw__store *st = nw__store_new();
  nw__venv *v = nw__venv_new(st, NULL, 0, 1);
  the_env = nw__venv_env(v);
  done_at = -1;
  the_env->ops->submit(the_env, slow_work, work_done, NULL);
  nw__venv_run_until(v, 44999);
  CU_ASSERT_EQUAL(done_at, -1);
  nw__venv_run_until(v, 60000);
  CU_ASSERT_EQUAL(done_at, 45000);
  nw__venv_free(v);
  nw__store_free(st);
}

static nw_status last_status;
static json_t *last_result;

static void record(void *arg, nw_status s, const json_t *r, const char *msg) {
  (void)arg;
  (void)msg;
  last_status = s;
  json_decref(last_result);
  last_result = r ? json_deep_copy(r) : NULL;
}

static void test_merge_patch_rfc7386(void) {
  json_t *target = json_loads(
      "{\"a\":\"b\",\"c\":{\"d\":\"e\",\"f\":\"g\"},\"l\":[1,2]}", 0, NULL);
  json_t *patch = json_loads(
      "{\"a\":\"z\",\"c\":{\"f\":null},\"l\":[3],\"n\":{\"x\":null,\"y\":1}}",
      0, NULL);
  json_t *out = nw__merge_patch(target, patch);
  json_t *want = json_loads(
      "{\"a\":\"z\",\"c\":{\"d\":\"e\"},\"l\":[3],\"n\":{\"y\":1}}", 0, NULL);
  CU_ASSERT_TRUE(json_equal(out, want));
  /* The target is left alone. */
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(target, "a")), "b");
  json_decref(out);
  json_decref(want);
  json_decref(patch);
  json_decref(target);
}

static void test_create_patch_remove_with_finalizers(void) {
  nw__store *st = nw__store_new();
  nw__venv *v = nw__venv_new(st, NULL, 1767600000000LL, 7);
  nw__env *env = nw__venv_env(v);
  json_t *claim = json_loads(
      "{\"metadata\":{\"generateName\":\"kong-\",\"finalizers\":"
      "[\"karpenter.sh/termination\"]},\"spec\":{\"x\":1}}", 0, NULL);
  env->ops->create(env, NW__K_NODECLAIM, claim, record, NULL);
  /* Written at once, answered from the queue. */
  CU_ASSERT_EQUAL(nw__store_count(st, NW__K_NODECLAIM), 1);
  nw__venv_run_until(v, nw__venv_now(v));
  CU_ASSERT_EQUAL(last_status, NW_OK);
  const char *name = nw__obj_name(last_result);
  CU_ASSERT_EQUAL(strncmp(name, "kong-", 5), 0);
  CU_ASSERT_EQUAL(strlen(name), 10);
  char *keep = strdup(name);
  CU_ASSERT_PTR_NOT_NULL(json_object_get(json_object_get(last_result,
                                                         "metadata"), "uid"));
  CU_ASSERT_STRING_EQUAL(
      json_string_value(json_object_get(json_object_get(last_result,
                                                        "metadata"),
                                        "creationTimestamp")),
      "2026-01-05T08:00:00Z");
  /* A second create of the same name fails. */
  json_t *again = json_pack("{s:{s:s}}", "metadata", "name", keep);
  env->ops->create(env, NW__K_NODECLAIM, again, record, NULL);
  nw__venv_run_until(v, nw__venv_now(v));
  CU_ASSERT_NOT_EQUAL(last_status, NW_OK);
  json_decref(again);

  /* status patches change status only; others never change it. */
  json_t *p = json_loads("{\"spec\":{\"y\":2},\"status\":{\"s\":1}}", 0, NULL);
  env->ops->patch(env, NW__K_NODECLAIM, NULL, keep, p, 0, record, NULL);
  env->ops->patch(env, NW__K_NODECLAIM, NULL, keep, p, 1, record, NULL);
  json_decref(p);
  nw__venv_run_until(v, nw__venv_now(v));
  json_t *cur = nw__store_get(st, NW__K_NODECLAIM, NULL, keep);
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(
                      json_object_get(cur, "spec"), "y")), 2);
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(
                      json_object_get(cur, "status"), "s")), 1);
  CU_ASSERT_PTR_NULL(json_object_get(json_object_get(cur, "status"), "y"));

  /* Delete with a finalizer: deletionTimestamp, still there. */
  env->ops->remove(env, NW__K_NODECLAIM, NULL, keep, record, NULL);
  nw__venv_run_until(v, nw__venv_now(v));
  cur = nw__store_get(st, NW__K_NODECLAIM, NULL, keep);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cur);
  CU_ASSERT_TRUE(nw__obj_deleting(cur));
  /* Removing the finalizer lets it go. */
  json_t *fin = json_loads("{\"metadata\":{\"finalizers\":[]}}", 0, NULL);
  env->ops->patch(env, NW__K_NODECLAIM, NULL, keep, fin, 0, record, NULL);
  json_decref(fin);
  nw__venv_run_until(v, nw__venv_now(v));
  CU_ASSERT_PTR_NULL(nw__store_get(st, NW__K_NODECLAIM, NULL, keep));
  /* Gone: patch and remove say NotFound. */
  env->ops->remove(env, NW__K_NODECLAIM, NULL, keep, record, NULL);
  nw__venv_run_until(v, nw__venv_now(v));
  CU_ASSERT_EQUAL(last_status, NW_ERR_NOT_FOUND);
  free(keep);
  json_decref(claim);
  json_decref(last_result);
  last_result = NULL;
  nw__venv_free(v);
  nw__store_free(st);
}

static void put_pod(nw__store *st, const char *name, const char *app) {
  json_t *pod = json_pack("{s:{s:s, s:s, s:{s:s}}, s:{s:s}, s:{s:s}}",
                          "metadata", "name", name, "namespace", "kong",
                          "labels", "app", app, "spec", "nodeName", "n1",
                          "status", "phase", "Running");
  nw__store_put(st, NW__K_POD, pod);
}

static void test_evict_honours_pdb(void) {
  nw__store *st = nw__store_new();
  nw__venv *v = nw__venv_new(st, NULL, 0, 1);
  nw__env *env = nw__venv_env(v);
  put_pod(st, "gw-1", "gateway");
  put_pod(st, "gw-2", "gateway");
  put_pod(st, "other", "upstream");
  nw__store_put(st, NW__K_PDB,
                json_loads("{\"metadata\":{\"name\":\"gw\",\"namespace\":"
                           "\"kong\"},\"spec\":{\"maxUnavailable\":1,"
                           "\"selector\":{\"matchLabels\":{\"app\":"
                           "\"gateway\"}}},\"status\":{\"disruptionsAllowed\":"
                           "1}}", 0, NULL));
  json_t *pdb = nw__store_get(st, NW__K_PDB, "kong", "gw");
  CU_ASSERT_TRUE(nw__pdb_selects(pdb, nw__store_get(st, NW__K_POD, "kong",
                                                    "gw-1")));
  CU_ASSERT_FALSE(nw__pdb_selects(pdb, nw__store_get(st, NW__K_POD, "kong",
                                                     "other")));
  env->ops->evict(env, "kong", "gw-1", record, NULL);
  nw__venv_run_until(v, 0);
  CU_ASSERT_EQUAL(last_status, NW_OK);
  CU_ASSERT_PTR_NULL(nw__store_get(st, NW__K_POD, "kong", "gw-1"));
  /* The budget is spent: the next one is refused (429). */
  env->ops->evict(env, "kong", "gw-2", record, NULL);
  nw__venv_run_until(v, 0);
  CU_ASSERT_EQUAL(last_status, NW_ERR_RETRYABLE);
  CU_ASSERT_PTR_NOT_NULL(nw__store_get(st, NW__K_POD, "kong", "gw-2"));
  /* Pods no PDB selects go. */
  env->ops->evict(env, "kong", "other", record, NULL);
  nw__venv_run_until(v, 0);
  CU_ASSERT_EQUAL(last_status, NW_OK);
  json_decref(last_result);
  last_result = NULL;
  nw__venv_free(v);
  nw__store_free(st);
}

NW_TEST_CASES({"timers fire in time, then start order",
               test_timers_fire_in_time_then_start_order},
              {"submit completes after the reported latency",
               test_submit_completes_after_reported_latency},
              {"merge patch follows RFC 7386", test_merge_patch_rfc7386},
              {"create, patch, remove with finalizers",
               test_create_patch_remove_with_finalizers},
              {"evict honours PodDisruptionBudgets", test_evict_honours_pdb});
NW_TEST_MAIN("sim venv", NULL, NULL);
