#include <stdio.h>
#include <string.h>

#include "cluster/ordset.h"
#include "cluster/store.h"
#include "nwtest.h"

/* Members are the objects with metadata.labels.m, as a controller would
 * keep e.g. its deleting claims. */
static void feed(void *user, nw__kind kind, const json_t *o, const json_t *n) {
  (void)kind;
  const json_t *obj = n ? n : o;
  const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
  int member = n && json_object_get(json_object_get(json_object_get(n, "metadata"), "labels"), "m");
  nw__ordset_put(user, name, o == NULL, n == NULL, member);
}

static void put(nw__store *st, const char *name, int member) {
  json_t *o = json_pack("{s:{s:s, s:{}}}", "metadata", "name", name, "labels");
  if (member)
    json_object_set_new(json_object_get(json_object_get(o, "metadata"), "labels"), "m",
                        json_string("1"));
  nw__store_put(st, NW__K_NODECLAIM, o);
}

typedef struct walk {
  char names[64][16];
  int n;
} walk;

static int visit(void *user, json_t *obj) {
  walk *w = user;
  const json_t *md = json_object_get(obj, "metadata");
  if (json_object_get(json_object_get(md, "labels"), "m"))
    snprintf(w->names[w->n++], 16, "%s", json_string_value(json_object_get(md, "name")));
  return 0;
}

/* The listed members are exactly the members in nw__store_foreach order. */
static void assert_same_order(nw__store *st, nw__ordset *s) {
  walk w = {{{0}}, 0};
  nw__store_foreach(st, NW__K_NODECLAIM, visit, &w);
  char **names = nw__ordset_list(s, -1, NULL);
  int i = 0;
  for (; names[i]; i++) {
    CU_ASSERT_TRUE_FATAL(i < w.n);
    CU_ASSERT_STRING_EQUAL(names[i], w.names[i]);
  }
  CU_ASSERT_EQUAL(i, w.n);
  CU_ASSERT_EQUAL(nw__ordset_count(s), (size_t)w.n);
  nw__ordset_list_free(names);
}

static void test_lists_in_store_order(void) {
  nw__store *st = nw__store_new();
  nw__ordset *s = nw__ordset_new();
  nw__store_watch(st, feed, s);
  put(st, "a", 0);
  put(st, "b", 1);
  put(st, "c", 0);
  put(st, "d", 1);
  assert_same_order(st, s);
  /* A replaced object keeps its place; a re-added one goes last. */
  put(st, "d", 1);
  put(st, "a", 1);
  assert_same_order(st, s);
  nw__store_remove(st, NW__K_NODECLAIM, NULL, "a");
  put(st, "a", 1);
  put(st, "b", 0);
  assert_same_order(st, s);
  CU_ASSERT_FALSE(nw__ordset_has(s, "b"));
  CU_ASSERT_TRUE(nw__ordset_has(s, "a"));
  /* `after` and `extra`: names past d's place, plus c from extra. */
  json_t *extra = json_pack("{s:n, s:n, s:n}", "c", "a", "zz");
  char **names = nw__ordset_list(s, nw__ordset_place(s, "c") - 1, extra);
  CU_ASSERT_STRING_EQUAL(names[0], "c");
  CU_ASSERT_STRING_EQUAL(names[1], "d");
  CU_ASSERT_STRING_EQUAL(names[2], "a");
  CU_ASSERT_PTR_NULL(names[3]);
  nw__ordset_list_free(names);
  json_decref(extra);
  /* Churn through the store's compactions. */
  for (int i = 0; i < 400; i++) {
    char name[16];
    snprintf(name, sizeof(name), "n%d", (i * 7) % 40);
    if (i % 3 == 0)
      nw__store_remove(st, NW__K_NODECLAIM, NULL, name);
    else
      put(st, name, i % 2);
    assert_same_order(st, s);
  }
  nw__store_unwatch(st, feed, s);
  nw__ordset_free(s);
  nw__store_free(st);
}

NW_TEST_CASES({"lists_in_store_order", test_lists_in_store_order});
NW_TEST_MAIN("ordset", NULL, NULL);
