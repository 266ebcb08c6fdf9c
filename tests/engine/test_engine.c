#include <stdio.h>
#include <string.h>

#include "cluster/objutil.h"
#include "util/arena.h"
#include "disruption/controller.h"
#include "lifecycle/lifecycle.h"
#include "metrics/metrics.h"
#include "nwtest.h"
#include "plugin/loader.h"
#include "provisioning/provisioner.h"
#include "sim/venv.h"
#include "termination/termination.h"

static const int64_t T0 = 1767225600000LL; /* 2026-01-01T00:00:00Z */

typedef struct world {
  nw__store *store;
  nw__plugin_set *plugins;
  nw__venv *venv;
  nw__env *env;
  nw__provisioner *prov;
  nw__lifecycle *life;
  nw__termination *term;
  nw__disruption *disr;
  int events_launched;
  int events_disrupting;
  int events_failed_scheduling;
  int events_registration_timeout;
} world;

static void on_event(void *user, int64_t now, const json_t *regarding,
                     const char *type, const char *reason, const char *note) {
  world *w = user;
  (void)now;
  (void)regarding;
  (void)type;
  (void)note;
  if (strcmp(reason, "Launched") == 0)
    w->events_launched++;
  if (strcmp(reason, "RegistrationTimeout") == 0)
    w->events_registration_timeout++;
  if (strcmp(reason, "FailedScheduling") == 0)
    w->events_failed_scheduling++;
  if (strcmp(reason, "DisruptionTerminating") == 0 || strcmp(reason, "Expired") == 0)
    w->events_disrupting++;
}

static void world_init(world *w) {
  memset(w, 0, sizeof(*w));
  w->store = nw__store_new();
  w->plugins = nw__plugins_new(NULL);
  char err[512], path[1024];
  snprintf(path, sizeof(path), "%s/example-provider.so", NW_TEST_PLUGIN_DIR);
  CU_ASSERT_PTR_NOT_NULL_FATAL(nw__plugins_load(w->plugins, path,
                                                "{\"zones\":[\"zone-a\"]}", 1,
                                                err, sizeof(err)));
  snprintf(path, sizeof(path), "%s/strategy-default.so", NW_TEST_PLUGIN_DIR);
  CU_ASSERT_PTR_NOT_NULL_FATAL(nw__plugins_load(w->plugins, path, NULL, 1, err,
                                                sizeof(err)));
  w->venv = nw__venv_new(w->store, w->plugins, T0, 42);
  w->env = nw__venv_env(w->venv);
  nw__venv_on_event(w->venv, on_event, w);
  w->prov = nw__provisioner_new(w->env);
  w->life = nw__lifecycle_new(w->env);
  w->term = nw__termination_new(w->env);
  w->disr = nw__disruption_new(w->env, "default");
}

static void world_free(world *w) {
  nw__provisioner_free(w->prov);
  nw__lifecycle_free(w->life);
  nw__termination_free(w->term);
  nw__disruption_free(w->disr);
  nw__venv_free(w->venv);
  nw__plugins_free(w->plugins);
  nw__store_free(w->store);
}

static void run(world *w, int64_t ms) {
  nw__venv_run_until(w->venv, nw__venv_now(w->venv) + ms);
}

static void add_nodepool_full(world *w, const char *limits_cpu,
                              const char *expire_after) {
  json_t *np = json_pack(
      "{s:s, s:s, s:{s:s, s:s}, s:{s:{s:{s:{s:s}}, s:{s:[{s:s, s:s, s:[s]}], "
      "s:{s:s, s:s, s:s}}}}}",
      "apiVersion", "karpenter.sh/v1", "kind", "NodePool", "metadata", "name",
      "kong", "uid", "np-uid", "spec", "template", "metadata", "labels",
      "nodegroupname", "kong", "spec", "requirements", "key",
      "kubernetes.io/arch", "operator", "In", "values", "amd64",
      "nodeClassRef", "group", "nodewright.dev", "kind", "ExampleNodeClass",
      "name", "default");
  if (limits_cpu)
    json_object_set_new(json_object_get(np, "spec"), "limits",
                        json_pack("{s:s}", "cpu", limits_cpu));
  json_object_set_new(json_object_get(np, "spec"), "disruption",
                      json_pack("{s:s, s:s}", "consolidationPolicy",
                                "WhenEmptyOrUnderutilized", "consolidateAfter", "0s"));
  if (expire_after)
    json_object_set_new(json_object_get(json_object_get(json_object_get(np, "spec"), "template"), "spec"),
                        "expireAfter", json_string(expire_after));
  nw__store_put(w->store, NW__K_NODEPOOL, np);
}

static void add_nodepool(world *w, const char *limits_cpu) {
  add_nodepool_full(w, limits_cpu, NULL);
}

static void add_pending_pod(world *w, const char *name, const char *cpu,
                            const char *mem) {
  json_t *pod = json_pack(
      "{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:[{s:s, s:s, s:{s:{s:s, s:s}}}]}, "
      "s:{s:s, s:[{s:s, s:s, s:s}]}}",
      "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace",
      "default", "labels", "app", "gateway", "spec", "containers", "name", "c",
      "image", "kong", "resources", "requests", "cpu", cpu, "memory", mem,
      "status", "phase", "Pending", "conditions", "type", "PodScheduled",
      "status", "False", "reason", "Unschedulable");
  nw__store_put(w->store, NW__K_POD, pod);
}

typedef struct claims {
  json_t *items[16];
  int n;
} claims;

static int collect(void *user, json_t *obj) {
  claims *c = user;
  if (c->n < 16)
    c->items[c->n++] = obj;
  return 0;
}

static claims list_claims(world *w) {
  claims c = {{0}, 0};
  nw__store_foreach(w->store, NW__K_NODECLAIM, collect, &c);
  return c;
}

static const char *provider_id(const json_t *claim) {
  return json_string_value(json_object_get(json_object_get(claim, "status"), "providerID"));
}

/* What a kubelet does: a Ready Node with the instance's providerID. */
static void register_node(world *w, const json_t *claim, const char *name) {
  nw__store_put(w->store, NW__K_NODE,
                json_pack("{s:{s:s, s:{s:s}}, s:{s:s, s:[{s:s, s:s, s:s}]}, "
                          "s:{s:[{s:s, s:s}], s:{s:s, s:s, s:s}}}",
                          "metadata", "name", name, "labels",
                          "kubernetes.io/hostname", name, "spec", "providerID",
                          provider_id(claim), "taints", "key",
                          "karpenter.sh/unregistered", "effect", "NoExecute",
                          "value", "true", "status", "conditions", "type",
                          "Ready", "status", "True", "allocatable", "cpu",
                          "7900m", "memory", "15Gi", "pods", "110"));
}

static void bind(world *w, const char *pod, const char *node) {
  json_t *p = json_deep_copy(nw__store_get(w->store, NW__K_POD, "default", pod));
  json_object_set_new(json_object_get(p, "spec"), "nodeName", json_string(node));
  json_object_set_new(json_object_get(p, "status"), "phase", json_string("Running"));
  json_object_del(json_object_get(p, "status"), "conditions");
  nw__store_put(w->store, NW__K_POD, p);
}

static void set_ready(world *w, const char *node_name, const char *status) {
  json_t *node = json_deep_copy(nw__store_get(w->store, NW__K_NODE, NULL, node_name));
  char ts[40];
  nw__rfc3339(nw__venv_now(w->venv), ts, sizeof(ts));
  json_object_set_new(json_object_get(node, "status"), "conditions",
                      json_pack("[{s:s, s:s, s:s}]", "type", "Ready", "status",
                                status, "lastTransitionTime", ts));
  nw__store_put(w->store, NW__K_NODE, node);
}

/* One pending pod, run for ms: the one claim made for it (borrowed from
 * the store) and its name in claim_name. */
static json_t *one_claim(world *w, int64_t ms, char *claim_name, size_t len) {
  add_pending_pod(w, "gw-0", "1500m", "3Gi");
  run(w, ms);
  claims c = list_claims(w);
  CU_ASSERT_EQUAL_FATAL(c.n, 1);
  snprintf(claim_name, len, "%s", nw__obj_name(c.items[0]));
  return c.items[0];
}

/* One pod, launched, registered and bound: returns the claim's name. */
static void one_running_node(world *w, char *claim_name, size_t len) {
  register_node(w, one_claim(w, 3000, claim_name, len), "node-1");
  run(w, 1000);
  bind(w, "gw-0", "node-1");
  run(w, 1000);
}

static void test_batch_waits_for_idle_window(void) {
  world w;
  world_init(&w);
  add_nodepool(&w, NULL);
  add_pending_pod(&w, "gw-0", "1500m", "3Gi");
  run(&w, 600);
  add_pending_pod(&w, "gw-1", "1500m", "3Gi");
  run(&w, 600);
  /* 1.2 s in, but the second pod restarted the 1 s idle window. */
  CU_ASSERT_EQUAL(list_claims(&w).n, 0);
  run(&w, 600);
  claims c = list_claims(&w);
  CU_ASSERT_EQUAL(c.n, 1);
  world_free(&w);
}

static void test_pending_pods_become_a_launched_claim(void) {
  world w;
  world_init(&w);
  add_nodepool(&w, NULL);
  for (int i = 0; i < 3; i++) {
    char name[16];
    snprintf(name, sizeof(name), "gw-%d", i);
    add_pending_pod(&w, name, "1500m", "3Gi");
  }
  run(&w, 3000);
  claims c = list_claims(&w);
  CU_ASSERT_EQUAL_FATAL(c.n, 1);
  json_t *claim = c.items[0];
  CU_ASSERT_STRING_EQUAL(nw__label(claim, "karpenter.sh/nodepool"), "kong");
  CU_ASSERT_STRING_EQUAL(nw__label(claim, "nodegroupname"), "kong");
  CU_ASSERT_TRUE(nw__has_finalizer(claim, "karpenter.sh/termination"));
  CU_ASSERT_PTR_NOT_NULL(nw__annotation(claim, "karpenter.sh/nodepool-hash"));
  /* 3 x 1500m needs the 8-CPU type: the 2- and 4-CPU ones cannot hold it. */
  CU_ASSERT_STRING_EQUAL(nw__label(claim, "node.kubernetes.io/instance-type"), "ex.large");
  CU_ASSERT_STRING_EQUAL(nw__cond_status(claim, "Launched"), "True");
  CU_ASSERT_PTR_NOT_NULL(provider_id(claim));
  CU_ASSERT_EQUAL(strncmp(provider_id(claim), "example:///zone-a/", 18), 0);
  CU_ASSERT_EQUAL(w.events_launched, 1);
  /* ex.large costs 0.20 on demand and 0.08 as spot in the example catalog;
   * the scheduler picked the cheapest. */
  CU_ASSERT_STRING_EQUAL(nw__annotation(claim, NW__ANN_PRICE), "0.080000");
  /* Pods still pending (no kubelet yet) do not cause a second launch. */
  run(&w, 15000);
  CU_ASSERT_EQUAL(list_claims(&w).n, 1);
  /* The cost gauge follows the claims within seconds (the lifecycle
   * controller walks them at most every 5 s). */
  CU_ASSERT_DOUBLE_EQUAL(nw__metric_get("cluster_cost_per_hour", NULL), 0.08, 1e-9);
  world_free(&w);
}

static void test_registration_initialization_and_termination(void) {
  world w;
  world_init(&w);
  add_nodepool(&w, NULL);
  char claim_name[128];
  register_node(&w, one_claim(&w, 3000, claim_name, sizeof(claim_name)), "node-1");
  run(&w, 1000);
  json_t *claim = nw__store_get(w.store, NW__K_NODECLAIM, NULL, claim_name);
  json_t *node = nw__store_get(w.store, NW__K_NODE, NULL, "node-1");
  CU_ASSERT_STRING_EQUAL(nw__cond_status(claim, "Registered"), "True");
  CU_ASSERT_STRING_EQUAL(nw__cond_status(claim, "Initialized"), "True");
  CU_ASSERT_FALSE(nw__has_taint(node, "karpenter.sh/unregistered"));
  CU_ASSERT_STRING_EQUAL(nw__label(node, "karpenter.sh/nodepool"), "kong");
  CU_ASSERT_STRING_EQUAL(nw__label(node, "karpenter.sh/initialized"), "true");

  /* Delete: the node is tainted and drained, the instance deleted, the
   * Node removed and the finalizer released. */
  bind(&w, "gw-0", "node-1");
  w.env->ops->remove(w.env, NW__K_NODECLAIM, NULL, claim_name, NULL, NULL);
  run(&w, 500);
  node = nw__store_get(w.store, NW__K_NODE, NULL, "node-1");
  if (node)
    CU_ASSERT_TRUE(nw__has_taint(node, "karpenter.sh/disrupted"));
  run(&w, 10000);
  CU_ASSERT_PTR_NULL(nw__store_get(w.store, NW__K_POD, "default", "gw-0"));
  CU_ASSERT_PTR_NULL(nw__store_get(w.store, NW__K_NODE, NULL, "node-1"));
  CU_ASSERT_PTR_NULL(nw__store_get(w.store, NW__K_NODECLAIM, NULL, claim_name));
  /* The provider no longer lists the instance. */
  nw__plugin *p = nw__plugins_find(w.plugins, "example-provider");
  nw_arena *a = nw__arena_new();
  nw_node_instances list = {0, NULL};
  nw_error err = {0};
  CU_ASSERT_EQUAL(nw__plugin_provider(p)->list(nw__plugin_state(p), a, &list, &err), NW_OK);
  CU_ASSERT_EQUAL(list.len, 0);
  nw__arena_free(a);
  world_free(&w);
}

/* A claim already deleting when the termination controller starts (a
 * restarted daemon) is still drained and finished: the controller looks
 * only at deleting claims, and learns of this one from the store, not
 * from a change. */
static void test_deleting_claim_at_start_is_finished(void) {
  world w;
  world_init(&w);
  add_nodepool(&w, NULL);
  char claim_name[128];
  one_running_node(&w, claim_name, sizeof(claim_name));
  nw__termination_free(w.term);
  w.term = NULL;
  w.env->ops->remove(w.env, NW__K_NODECLAIM, NULL, claim_name, NULL, NULL);
  run(&w, 5000);
  json_t *claim = nw__store_get(w.store, NW__K_NODECLAIM, NULL, claim_name);
  CU_ASSERT_PTR_NOT_NULL_FATAL(claim);
  CU_ASSERT_TRUE(nw__obj_deleting(claim));
  w.term = nw__termination_new(w.env);
  run(&w, 10000);
  CU_ASSERT_PTR_NULL(nw__store_get(w.store, NW__K_POD, "default", "gw-0"));
  CU_ASSERT_PTR_NULL(nw__store_get(w.store, NW__K_NODE, NULL, "node-1"));
  CU_ASSERT_PTR_NULL(nw__store_get(w.store, NW__K_NODECLAIM, NULL, claim_name));
  world_free(&w);
}

static void test_limits_stop_launches(void) {
  world w;
  world_init(&w);
  /* 4 CPU of limit: one 4-CPU node at most; the 8-CPU type is over it. */
  add_nodepool(&w, "4");
  for (int i = 0; i < 4; i++) {
    char name[16];
    snprintf(name, sizeof(name), "gw-%d", i);
    add_pending_pod(&w, name, "1500m", "3Gi");
  }
  run(&w, 3000);
  claims c = list_claims(&w);
  CU_ASSERT_EQUAL(c.n, 1);
  if (c.n)
    CU_ASSERT_STRING_EQUAL(nw__label(c.items[0], "node.kubernetes.io/instance-type"), "ex.medium");
  CU_ASSERT_TRUE(w.events_failed_scheduling > 0);
  world_free(&w);
}

static void test_empty_node_is_consolidated(void) {
  world w;
  world_init(&w);
  add_nodepool(&w, NULL);
  char name[128];
  one_running_node(&w, name, sizeof(name));
  /* While its pod runs the node is not empty, and nothing cheaper fits. */
  run(&w, 60000);
  CU_ASSERT_PTR_NOT_NULL(nw__store_get(w.store, NW__K_NODECLAIM, NULL, name));
  CU_ASSERT_EQUAL(w.events_disrupting, 0);
  /* The pod goes away: emptiness removes the node after validation. */
  nw__store_remove(w.store, NW__K_POD, "default", "gw-0");
  run(&w, 60000);
  CU_ASSERT_TRUE(w.events_disrupting >= 1);
  CU_ASSERT_PTR_NULL(nw__store_get(w.store, NW__K_NODECLAIM, NULL, name));
  CU_ASSERT_PTR_NULL(nw__store_get(w.store, NW__K_NODE, NULL, "node-1"));
  world_free(&w);
}

static void test_expired_claim_is_deleted(void) {
  world w;
  world_init(&w);
  add_nodepool_full(&w, NULL, "30m");
  char name[128];
  one_running_node(&w, name, sizeof(name));
  run(&w, 20 * 60000);
  CU_ASSERT_PTR_NOT_NULL(nw__store_get(w.store, NW__K_NODECLAIM, NULL, name));
  run(&w, 15 * 60000);
  CU_ASSERT_PTR_NULL(nw__store_get(w.store, NW__K_NODECLAIM, NULL, name));
  /* Its pod was evicted; the pending replacement pod would come from its
   * controller, which this test does not run. */
  CU_ASSERT_PTR_NULL(nw__store_get(w.store, NW__K_POD, "default", "gw-0"));
  world_free(&w);
}

/* The example provider's repair policy: Ready False for 10 minutes. */
static void test_unhealthy_node_is_repaired(void) {
  world w;
  world_init(&w);
  add_nodepool(&w, NULL);
  char name[128];
  one_running_node(&w, name, sizeof(name));
  json_t *node = json_deep_copy(nw__store_get(w.store, NW__K_NODE, NULL, "node-1"));
  char ts[40];
  nw__rfc3339(nw__venv_now(w.venv), ts, sizeof(ts));
  json_object_set_new(json_object_get(node, "status"), "conditions",
                      json_pack("[{s:s, s:s, s:s}]", "type", "Ready", "status",
                                "False", "lastTransitionTime", ts));
  nw__store_put(w.store, NW__K_NODE, node);
  run(&w, 5 * 60000);
  CU_ASSERT_PTR_NOT_NULL(nw__store_get(w.store, NW__K_NODECLAIM, NULL, name));
  run(&w, 6 * 60000);
  CU_ASSERT_PTR_NULL(nw__store_get(w.store, NW__K_NODECLAIM, NULL, name));
  world_free(&w);
}

static int drifted(world *w, const char *claim) {
  const json_t *c = nw__store_get(w->store, NW__K_NODECLAIM, NULL, claim);
  const char *s = c ? nw__cond_status(c, "Drifted") : NULL;
  return s && strcmp(s, "True") == 0;
}

/* The disruption controller re-checks drift only for what changed: a
 * NodePool status write must not drift claims, a template change must,
 * and so must a Node whose labels stop matching the pool. */
static void test_drift_follows_changes(void) {
  world w;
  world_init(&w);
  add_nodepool(&w, NULL);
  char name[128];
  one_running_node(&w, name, sizeof(name));
  run(&w, 30000);
  CU_ASSERT_FALSE(drifted(&w, name));
  /* Status only (as the lifecycle controller writes it). */
  json_t *np = json_deep_copy(nw__store_get(w.store, NW__K_NODEPOOL, NULL, "kong"));
  json_object_set_new(np, "status", json_pack("{s:I}", "nodes", (json_int_t)7));
  nw__store_put(w.store, NW__K_NODEPOOL, np);
  run(&w, 30000);
  CU_ASSERT_FALSE(drifted(&w, name));
  /* A Node label the pool's requirements rule out: requirement drift. */
  json_t *node = json_deep_copy(nw__store_get(w.store, NW__K_NODE, NULL, "node-1"));
  json_object_set_new(json_object_get(json_object_get(node, "metadata"), "labels"),
                      "kubernetes.io/arch", json_string("arm64"));
  nw__store_put(w.store, NW__K_NODE, node);
  run(&w, 11000);
  CU_ASSERT_TRUE(drifted(&w, name));
  world_free(&w);
}

static void test_template_change_drifts(void) {
  world w;
  world_init(&w);
  add_nodepool(&w, NULL);
  char name[128];
  one_running_node(&w, name, sizeof(name));
  run(&w, 30000);
  CU_ASSERT_FALSE(drifted(&w, name));
  json_t *np = json_deep_copy(nw__store_get(w.store, NW__K_NODEPOOL, NULL, "kong"));
  json_t *labels = json_object_get(json_object_get(json_object_get(
      json_object_get(np, "spec"), "template"), "metadata"), "labels");
  json_object_set_new(labels, "tier", json_string("edge"));
  nw__store_put(w.store, NW__K_NODEPOOL, np);
  run(&w, 11000);
  CU_ASSERT_TRUE(drifted(&w, name));
  world_free(&w);
}

/* Liveness: a launched claim whose Node never registers is deleted after
 * 15 minutes (by the lifecycle controller's periodic look at the claims
 * not Initialized yet, since nothing about the claim changes meanwhile).  The NodePool's status
 * counts the claim while it lives and not after. */
static void test_unregistered_claim_is_deleted(void) {
  world w;
  world_init(&w);
  add_nodepool(&w, NULL);
  char claim_name[128];
  json_t *first = one_claim(&w, 20000, claim_name, sizeof(claim_name));
  CU_ASSERT_STRING_EQUAL(nw__cond_status(first, "Launched"), "True");
  json_t *np = nw__store_get(w.store, NW__K_NODEPOOL, NULL, "kong");
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(np, "status"), "nodes")), 1);
  run(&w, 13 * 60 * 1000);
  CU_ASSERT_PTR_NOT_NULL(nw__store_get(w.store, NW__K_NODECLAIM, NULL, claim_name));
  CU_ASSERT_EQUAL(w.events_registration_timeout, 0);
  run(&w, 3 * 60 * 1000);
  CU_ASSERT_EQUAL(w.events_registration_timeout, 1);
  json_t *claim = nw__store_get(w.store, NW__K_NODECLAIM, NULL, claim_name);
  CU_ASSERT_TRUE(!claim || nw__obj_deleting(claim));
  /* The pod is still pending, so a new claim replaces the deleted one;
   * the pool's status counts the live claims, not the gone one. */
  run(&w, 30000);
  CU_ASSERT_PTR_NULL(nw__store_get(w.store, NW__K_NODECLAIM, NULL, claim_name));
  claims c = list_claims(&w);
  json_int_t live = 0;
  for (int i = 0; i < c.n; i++)
    live += !nw__obj_deleting(c.items[i]);
  np = nw__store_get(w.store, NW__K_NODEPOOL, NULL, "kong");
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(np, "status"), "nodes")), live);
  world_free(&w);
}

/* A lifecycle controller started while a launched claim waits for its
 * Node (a restarted daemon) still deletes it after 15 minutes: it learns
 * of the claim from the store, not from a change. */
static void test_unregistered_claim_at_start_is_deleted(void) {
  world w;
  world_init(&w);
  add_nodepool(&w, NULL);
  char claim_name[128];
  json_t *first = one_claim(&w, 20000, claim_name, sizeof(claim_name));
  CU_ASSERT_STRING_EQUAL(nw__cond_status(first, "Launched"), "True");
  nw__lifecycle_free(w.life);
  w.life = nw__lifecycle_new(w.env);
  run(&w, 13 * 60 * 1000);
  CU_ASSERT_EQUAL(w.events_registration_timeout, 0);
  run(&w, 3 * 60 * 1000);
  CU_ASSERT_EQUAL(w.events_registration_timeout, 1);
  world_free(&w);
}

static const json_t *pool_status_of(world *w) {
  return json_object_get(nw__store_get(w->store, NW__K_NODEPOOL, NULL, "kong"), "status");
}

/* NodePool status follows its claims as they come and go (the counts are
 * kept per change, not recounted): a running node's capacity while it
 * lives, nothing once it is gone, the same after a restart. */
static void test_pool_status_follows_claims(void) {
  world w;
  world_init(&w);
  add_nodepool(&w, NULL);
  char name[128];
  one_running_node(&w, name, sizeof(name));
  run(&w, 10000);
  const json_t *res = json_object_get(pool_status_of(&w), "resources");
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(pool_status_of(&w), "nodes")), 1);
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(res, "nodes")), "1");
  CU_ASSERT_PTR_NOT_NULL(json_object_get(res, "cpu"));
  json_t *before = json_deep_copy(pool_status_of(&w));
  nw__lifecycle_free(w.life);
  w.life = nw__lifecycle_new(w.env);
  run(&w, 10000);
  CU_ASSERT_TRUE(json_equal(before, pool_status_of(&w)));
  json_decref(before);
  w.env->ops->remove(w.env, NW__K_NODECLAIM, NULL, name, NULL, NULL);
  run(&w, 20000);
  CU_ASSERT_PTR_NULL(nw__store_get(w.store, NW__K_NODECLAIM, NULL, name));
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(pool_status_of(&w), "nodes")), 0);
  json_t *want = json_pack("{s:s}", "nodes", "0");
  CU_ASSERT_TRUE(json_equal(json_object_get(pool_status_of(&w), "resources"), want));
  json_decref(want);
  CU_ASSERT_DOUBLE_EQUAL(nw__metric_get("cluster_cost_per_hour", NULL), 0, 1e-9);
  world_free(&w);
}

static void stop_claim_controllers(void *arg) {
  world *w = arg;
  nw__lifecycle_free(w->life);
  nw__termination_free(w->term);
  w->life = NULL;
  w->term = NULL;
}

/* At the periodic passes' time: first a timer that stops the lifecycle
 * and termination controllers right after those passes, then claim
 * changes that queue an immediate pass of each. */
static void change_claims_then_stop(void *arg) {
  world *w = arg;
  w->env->ops->timer_start(w->env, 0, stop_claim_controllers, w);
  nw__store_put(w->store, NW__K_NODECLAIM,
                json_pack("{s:{s:s}}", "metadata", "name", "changed"));
  nw__store_put(w->store, NW__K_NODECLAIM,
                json_pack("{s:{s:s, s:s}}", "metadata", "name", "deleting",
                          "deletionTimestamp", "2026-01-01T00:00:00Z"));
}

/* A periodic pass (lifecycle's resync, termination's tick) that runs while
 * a change's pass is queued leaves that pass queued, so freeing the
 * controller stops it: it used to be forgotten and then ran on the freed
 * controller (ASan: heap-use-after-free). */
static void test_queued_pass_stops_with_controller(void) {
  world w;
  world_init(&w);
  run(&w, 5000);
  /* Started before the resync and tick timers due at +20 s, so it fires
   * first at that time. */
  w.env->ops->timer_start(w.env, 15000, change_claims_then_stop, &w);
  run(&w, 16000);
  CU_ASSERT_PTR_NULL(w.life);
  CU_ASSERT_PTR_NULL(w.term);
  run(&w, 5000);
  world_free(&w);
}

/* A claim of a node class no loaded provider serves (another autoscaler's
 * in a shared cluster) is left alone: not registered when its Node
 * appears, not timed out, and its finalizer stays when it is deleted, so
 * its own autoscaler can delete the instance. */
static void test_foreign_claim_left_alone(void) {
  world w;
  world_init(&w);
  json_t *claim = json_pack(
      "{s:{s:s, s:{s:s}, s:[s], s:s}, s:{s:{s:s, s:s, s:s}}, "
      "s:{s:s, s:[{s:s, s:s, s:s}]}}",
      "metadata", "name", "foreign-1", "labels", "karpenter.sh/nodepool", "theirs",
      "finalizers", "karpenter.sh/termination", "creationTimestamp", "2026-01-01T00:00:00Z",
      "spec", "nodeClassRef", "group", "karpenter.k8s.aws", "kind", "EC2NodeClass",
      "name", "default", "status", "providerID", "aws:///us-east-1a/i-0abc", "conditions",
      "type", "Launched", "status", "True", "lastTransitionTime", "2026-01-01T00:00:00Z");
  nw__store_put(w.store, NW__K_NODECLAIM, claim);
  register_node(&w, claim, "theirs-1");
  run(&w, 16 * 60 * 1000);
  json_t *c = nw__store_get(w.store, NW__K_NODECLAIM, NULL, "foreign-1");
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_PTR_NULL(nw__cond_status(c, "Registered"));
  CU_ASSERT_EQUAL(w.events_registration_timeout, 0);
  CU_ASSERT_TRUE(nw__has_taint(nw__store_get(w.store, NW__K_NODE, NULL, "theirs-1"),
                               "karpenter.sh/unregistered"));
  w.env->ops->remove(w.env, NW__K_NODECLAIM, NULL, "foreign-1", NULL, NULL);
  run(&w, 60000);
  c = nw__store_get(w.store, NW__K_NODECLAIM, NULL, "foreign-1");
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_TRUE(nw__obj_deleting(c));
  CU_ASSERT_TRUE(nw__has_finalizer(c, "karpenter.sh/termination"));
  CU_ASSERT_PTR_NOT_NULL(nw__store_get(w.store, NW__K_NODE, NULL, "theirs-1"));
  world_free(&w);
}

/* A claim whose Node has registered but is not Ready yet (the kubelet's
 * not-ready taint still on it) is still the capacity it was launched as:
 * a pod that fits there causes no second launch.  Karpenter plans onto an
 * uninitialized node with its claim's taints for the same reason. */
static void test_registered_uninitialized_node_counts(void) {
  world w;
  world_init(&w);
  add_nodepool(&w, NULL);
  char claim_name[128];
  register_node(&w, one_claim(&w, 3000, claim_name, sizeof(claim_name)), "node-1");
  set_ready(&w, "node-1", "False");
  json_t *node = json_deep_copy(nw__store_get(w.store, NW__K_NODE, NULL, "node-1"));
  json_object_set_new(json_object_get(node, "spec"), "taints",
                      json_pack("[{s:s, s:s}]", "key", "node.kubernetes.io/not-ready",
                                "effect", "NoSchedule"));
  nw__store_put(w.store, NW__K_NODE, node);
  run(&w, 1000);
  json_t *claim = nw__store_get(w.store, NW__K_NODECLAIM, NULL, claim_name);
  CU_ASSERT_STRING_EQUAL(nw__cond_status(claim, "Registered"), "True");
  const char *initialized = nw__cond_status(claim, "Initialized");
  CU_ASSERT_TRUE(initialized == NULL || strcmp(initialized, "True") != 0);
  add_pending_pod(&w, "gw-1", "1500m", "3Gi");
  run(&w, 15000);
  CU_ASSERT_EQUAL(list_claims(&w).n, 1);
  CU_ASSERT_EQUAL(w.events_launched, 1);
  world_free(&w);
}

static const char *last_pod_event(world *w, const char *claim) {
  const json_t *c = nw__store_get(w->store, NW__K_NODECLAIM, NULL, claim);
  return json_string_value(json_object_get(json_object_get(c, "status"), "lastPodEventTime"));
}

/* A pod landing on a node whose providerID no longer leads to its claim
 * still stamps the claim that names the node (status.nodeName): the
 * controller's index by node name must follow the claim. */
static void test_pod_event_finds_claim_by_node_name(void) {
  world w;
  world_init(&w);
  add_nodepool(&w, NULL);
  char name[128];
  one_running_node(&w, name, sizeof(name));
  const json_t *claim = nw__store_get(w.store, NW__K_NODECLAIM, NULL, name);
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(claim, "status"), "nodeName")),
                         "node-1");
  json_t *node = json_deep_copy(nw__store_get(w.store, NW__K_NODE, NULL, "node-1"));
  json_object_set_new(json_object_get(node, "spec"), "providerID",
                      json_string("example://elsewhere"));
  nw__store_put(w.store, NW__K_NODE, node);
  run(&w, 30000);
  add_pending_pod(&w, "gw-1", "100m", "128Mi");
  bind(&w, "gw-1", "node-1");
  char want[40];
  nw__rfc3339(nw__venv_now(w.venv), want, sizeof(want));
  const char *got = last_pod_event(&w, name);
  CU_ASSERT_PTR_NOT_NULL_FATAL(got);
  CU_ASSERT_STRING_EQUAL(got, want);
  world_free(&w);
}

/* Repair looks at the cluster only while some Node matches a policy: a
 * node that turns unhealthy long after the policies were fetched is
 * still replaced, and one that recovers in time is not. */
static void test_repair_follows_node_health(void) {
  world w;
  world_init(&w);
  add_nodepool(&w, NULL);
  char name[128];
  one_running_node(&w, name, sizeof(name));
  run(&w, 2 * 60000);
  set_ready(&w, "node-1", "False");
  run(&w, 5 * 60000);
  set_ready(&w, "node-1", "True");
  run(&w, 15 * 60000);
  CU_ASSERT_PTR_NOT_NULL(nw__store_get(w.store, NW__K_NODECLAIM, NULL, name));
  set_ready(&w, "node-1", "False");
  run(&w, 11 * 60000);
  CU_ASSERT_PTR_NULL(nw__store_get(w.store, NW__K_NODECLAIM, NULL, name));
  world_free(&w);
}

/* An empty node becomes consolidatable by time alone (consolidateAfter
 * after its last pod event), with no further change in the cluster: the
 * controller must look again although nothing changed since it last
 * found nothing to do. */
static void test_consolidate_after_elapses_without_changes(void) {
  world w;
  world_init(&w);
  add_nodepool(&w, NULL);
  json_t *np = json_deep_copy(nw__store_get(w.store, NW__K_NODEPOOL, NULL, "kong"));
  json_object_set_new(json_object_get(json_object_get(np, "spec"), "disruption"),
                      "consolidateAfter", json_string("2m"));
  nw__store_put(w.store, NW__K_NODEPOOL, np);
  char name[128];
  one_running_node(&w, name, sizeof(name));
  run(&w, 60000);
  nw__store_remove(w.store, NW__K_POD, "default", "gw-0");
  run(&w, 90000);
  CU_ASSERT_PTR_NOT_NULL(nw__store_get(w.store, NW__K_NODECLAIM, NULL, name));
  CU_ASSERT_EQUAL(w.events_disrupting, 0);
  run(&w, 3 * 60000);
  CU_ASSERT_PTR_NULL(nw__store_get(w.store, NW__K_NODECLAIM, NULL, name));
  CU_ASSERT_EQUAL(w.events_disrupting, 1);
  world_free(&w);
}

NW_TEST_CASES({"drift_follows_changes", test_drift_follows_changes},
              {"template_change_drifts", test_template_change_drifts},
              {"unhealthy_node_is_repaired", test_unhealthy_node_is_repaired},
              {"repair_follows_node_health", test_repair_follows_node_health},
              {"empty_node_is_consolidated", test_empty_node_is_consolidated},
              {"consolidate_after_elapses_without_changes",
               test_consolidate_after_elapses_without_changes},
              {"expired_claim_is_deleted", test_expired_claim_is_deleted},
              {"batch_waits_for_idle_window", test_batch_waits_for_idle_window},
              {"pending_pods_become_a_launched_claim",
               test_pending_pods_become_a_launched_claim},
              {"registration_initialization_and_termination",
               test_registration_initialization_and_termination},
              {"deleting_claim_at_start_is_finished",
               test_deleting_claim_at_start_is_finished},
              {"limits_stop_launches", test_limits_stop_launches},
              {"registered_uninitialized_node_counts",
               test_registered_uninitialized_node_counts},
              {"unregistered_claim_is_deleted", test_unregistered_claim_is_deleted},
              {"unregistered_claim_at_start_is_deleted",
               test_unregistered_claim_at_start_is_deleted},
              {"pool_status_follows_claims", test_pool_status_follows_claims},
              {"queued_pass_stops_with_controller",
               test_queued_pass_stops_with_controller},
              {"foreign_claim_left_alone", test_foreign_claim_left_alone},
              {"pod_event_finds_claim_by_node_name",
               test_pod_event_finds_claim_by_node_name});
NW_TEST_MAIN("engine", NULL, NULL);
