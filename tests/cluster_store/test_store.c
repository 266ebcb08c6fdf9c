#include <string.h>

#include "cluster/store.h"
#include "nwtest.h"

static json_t *pod(const char *ns, const char *name, const char *node) {
  json_t *p = json_pack("{s:{s:s, s:s}, s:{}}", "metadata", "namespace", ns,
                        "name", name, "spec");
  if (node)
    json_object_set_new(json_object_get(p, "spec"), "nodeName",
                        json_string(node));
  return p;
}

typedef struct seen {
  int adds, updates, deletes;
  char names[8][32];
  int n;
} seen;

static void watch(void *user, nw__kind kind, const json_t *o, const json_t *n) {
  seen *s = user;
  (void)kind;
  if (!o)
    s->adds++;
  else if (!n)
    s->deletes++;
  else
    s->updates++;
}

static int collect(void *user, json_t *obj) {
  seen *s = user;
  const char *name = json_string_value(
      json_object_get(json_object_get(obj, "metadata"), "name"));
  if (s->n < 8)
    strcpy(s->names[s->n++], name);
  return 0;
}

static void test_put_get_remove_watch(void) {
  nw__store *st = nw__store_new();
  seen w = {0};
  nw__store_watch(st, watch, &w);
  CU_ASSERT_EQUAL(nw__store_put(st, NW__K_POD, pod("a", "p1", NULL)), 0);
  CU_ASSERT_EQUAL(nw__store_put(st, NW__K_POD, pod("b", "p1", "n1")), 0);
  CU_ASSERT_EQUAL(nw__store_put(st, NW__K_POD, pod("a", "p1", "n1")), 0);
  CU_ASSERT_EQUAL(nw__store_count(st, NW__K_POD), 2);
  CU_ASSERT_EQUAL(w.adds, 2);
  CU_ASSERT_EQUAL(w.updates, 1);
  json_t *p = nw__store_get(st, NW__K_POD, "a", "p1");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
                             json_object_get(p, "spec"), "nodeName")), "n1");
  CU_ASSERT_PTR_NULL(nw__store_get(st, NW__K_POD, "c", "p1"));
  seen on = {0};
  CU_ASSERT_EQUAL(nw__store_pods_on_node(st, "n1", collect, &on), 2);
  uint64_t v = nw__store_version(st);
  CU_ASSERT_EQUAL(nw__store_remove(st, NW__K_POD, "a", "p1"), 0);
  CU_ASSERT_EQUAL(nw__store_remove(st, NW__K_POD, "a", "p1"), -1);
  CU_ASSERT_EQUAL(w.deletes, 1);
  CU_ASSERT_TRUE(nw__store_version(st) > v);
  CU_ASSERT_EQUAL(nw__store_count(st, NW__K_POD), 1);
  /* An object without a name is refused. */
  CU_ASSERT_EQUAL(nw__store_put(st, NW__K_POD, json_object()), -1);
  nw__store_free(st);
}

/* The pods-on-node scan follows rebinds, unbinds and compaction (it
 * compares a hash of the node name kept with each entry first). */
static void test_pods_on_node_follows_changes(void) {
  nw__store *st = nw__store_new();
  char name[16];
  for (int i = 0; i < 40; i++) {
    snprintf(name, sizeof(name), "p%02d", i);
    nw__store_put(st, NW__K_POD, pod("d", name, i % 2 ? "n1" : "n2"));
  }
  seen on = {0};
  CU_ASSERT_EQUAL(nw__store_pods_on_node(st, "n1", collect, &on), 20);
  /* p01 moves to n2, p03 loses its node. */
  nw__store_put(st, NW__K_POD, pod("d", "p01", "n2"));
  nw__store_put(st, NW__K_POD, pod("d", "p03", NULL));
  CU_ASSERT_EQUAL(nw__store_pods_on_node(st, "n1", collect, &on), 18);
  CU_ASSERT_EQUAL(nw__store_pods_on_node(st, "n2", collect, &on), 21);
  CU_ASSERT_EQUAL(nw__store_pods_on_node(st, "n", collect, &on), 0);
  /* Removing most of them compacts the table. */
  for (int i = 0; i < 36; i++) {
    snprintf(name, sizeof(name), "p%02d", i);
    nw__store_remove(st, NW__K_POD, "d", name);
  }
  memset(&on, 0, sizeof(on));
  CU_ASSERT_EQUAL(nw__store_pods_on_node(st, "n1", collect, &on), 2);
  CU_ASSERT_STRING_EQUAL(on.names[0], "p37");
  CU_ASSERT_STRING_EQUAL(on.names[1], "p39");
  nw__store_free(st);
}

static void test_order_survives_removal(void) {
  nw__store *st = nw__store_new();
  char name[16];
  for (int i = 0; i < 100; i++) {
    snprintf(name, sizeof(name), "n%02d", i);
    nw__store_put(st, NW__K_NODE, json_pack("{s:{s:s}}", "metadata", "name", name));
  }
  for (int i = 0; i < 100; i += 2) {
    snprintf(name, sizeof(name), "n%02d", i);
    CU_ASSERT_EQUAL(nw__store_remove(st, NW__K_NODE, NULL, name), 0);
  }
  seen s = {0};
  nw__store_foreach(st, NW__K_NODE, collect, &s);
  CU_ASSERT_STRING_EQUAL(s.names[0], "n01");
  CU_ASSERT_STRING_EQUAL(s.names[1], "n03");
  CU_ASSERT_STRING_EQUAL(s.names[7], "n15");
  CU_ASSERT_EQUAL(nw__store_count(st, NW__K_NODE), 50);
  CU_ASSERT_PTR_NOT_NULL(nw__store_get(st, NW__K_NODE, NULL, "n99"));
  CU_ASSERT_PTR_NOT_NULL(nw__store_get(st, NW__K_NODE, "", "n51"));
  nw__store_free(st);
}

static void test_by_provider_id(void) {
  nw__store *st = nw__store_new();
  nw__store_put(st, NW__K_NODE, json_pack("{s:{s:s}, s:{s:s}}", "metadata",
                                          "name", "n1", "spec", "providerID",
                                          "kind://docker/c/n1"));
  nw__store_put(st, NW__K_NODECLAIM, json_pack("{s:{s:s}, s:{s:s}}", "metadata",
                                               "name", "c1", "status",
                                               "providerID", "kind://docker/c/n1"));
  json_t *n = nw__store_by_provider_id(st, NW__K_NODE, "kind://docker/c/n1");
  json_t *c = nw__store_by_provider_id(st, NW__K_NODECLAIM, "kind://docker/c/n1");
  CU_ASSERT_PTR_NOT_NULL(n);
  CU_ASSERT_PTR_NOT_NULL(c);
  CU_ASSERT_PTR_NULL(nw__store_by_provider_id(st, NW__K_NODE, "other"));
  /* The index follows changes and removals, and survives compaction. */
  nw__store_put(st, NW__K_NODECLAIM, json_pack("{s:{s:s}, s:{s:s}}", "metadata",
                                               "name", "c1", "status",
                                               "providerID", "kind://docker/c/n2"));
  CU_ASSERT_PTR_NULL(nw__store_by_provider_id(st, NW__K_NODECLAIM, "kind://docker/c/n1"));
  CU_ASSERT_PTR_NOT_NULL(nw__store_by_provider_id(st, NW__K_NODECLAIM, "kind://docker/c/n2"));
  char name[32], pid[64];
  for (int i = 0; i < 300; i++) {
    snprintf(name, sizeof(name), "m%d", i);
    snprintf(pid, sizeof(pid), "p://%d", i);
    nw__store_put(st, NW__K_NODE, json_pack("{s:{s:s}, s:{s:s}}", "metadata", "name",
                                            name, "spec", "providerID", pid));
  }
  for (int i = 0; i < 300; i += 3) {
    snprintf(name, sizeof(name), "m%d", i);
    nw__store_remove(st, NW__K_NODE, NULL, name);
  }
  CU_ASSERT_PTR_NULL(nw__store_by_provider_id(st, NW__K_NODE, "p://0"));
  CU_ASSERT_PTR_NOT_NULL(nw__store_by_provider_id(st, NW__K_NODE, "p://1"));
  CU_ASSERT_PTR_NOT_NULL(nw__store_by_provider_id(st, NW__K_NODE, "p://299"));
  CU_ASSERT_PTR_NOT_NULL(nw__store_by_provider_id(st, NW__K_NODE, "kind://docker/c/n1"));
  nw__store_remove(st, NW__K_NODE, NULL, "n1");
  CU_ASSERT_PTR_NULL(nw__store_by_provider_id(st, NW__K_NODE, "kind://docker/c/n1"));
  nw__store_free(st);
}

/* Removal leaves the index pointing at a tombstone: lookups must probe
 * past it, and a key put again after its removal is found (once). */
static void test_churn_through_tombstones(void) {
  nw__store *st = nw__store_new();
  char name[16];
  for (int i = 0; i < 64; i++) {
    snprintf(name, sizeof(name), "p%d", i);
    nw__store_put(st, NW__K_POD, pod("ns", name, NULL));
  }
  for (int round = 0; round < 10; round++) {
    for (int i = round % 4; i < 64; i += 4) {
      snprintf(name, sizeof(name), "p%d", i);
      CU_ASSERT_EQUAL(nw__store_remove(st, NW__K_POD, "ns", name), 0);
      CU_ASSERT_PTR_NULL(nw__store_get(st, NW__K_POD, "ns", name));
      nw__store_put(st, NW__K_POD, pod("ns", name, "n1"));
    }
    for (int i = 0; i < 64; i++) {
      snprintf(name, sizeof(name), "p%d", i);
      CU_ASSERT_PTR_NOT_NULL(nw__store_get(st, NW__K_POD, "ns", name));
    }
    CU_ASSERT_EQUAL(nw__store_count(st, NW__K_POD), 64);
  }
  seen s = {0};
  CU_ASSERT_EQUAL(nw__store_foreach(st, NW__K_POD, collect, &s), 64);
  nw__store_free(st);
}

NW_TEST_CASES({"put_get_remove_watch", test_put_get_remove_watch},
              {"churn_through_tombstones", test_churn_through_tombstones},
              {"order_survives_removal", test_order_survives_removal},
              {"by_provider_id", test_by_provider_id},
              {"pods_on_node_follows_changes", test_pods_on_node_follows_changes});
NW_TEST_MAIN("store", NULL, NULL);
