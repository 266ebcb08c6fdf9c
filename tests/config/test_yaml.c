#include <string.h>

#include "config/yaml.h"
#include "nwtest.h"
#include "util/duration.h"

static void test_positions_and_types(void) {
  const char *text = "a: 1\nb:\n  - x\n  - \"2\"\n  - 2.5\n  - true\n  - ~\n";
  char err[256];
  nw__ydoc *d = nw__yaml_parse("t.yaml", text, strlen(text), err, sizeof(err));
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  nw__ynode *b = nw__ymap_get(d->root, "b");
  CU_ASSERT_EQUAL(b->kind, NW__Y_SEQ);
  CU_ASSERT_EQUAL(b->line, 3);
  CU_ASSERT_EQUAL(b->items[1]->line, 4);
  CU_ASSERT_EQUAL(b->items[1]->column, 5);
  json_t *j = nw__ynode_to_json(d->root);
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "a")), 1);
  json_t *arr = json_object_get(j, "b");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(arr, 0)), "x");
  CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(arr, 1)), "2");
  CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_array_get(arr, 2)), 2.5, 1e-9);
  CU_ASSERT_TRUE(json_is_true(json_array_get(arr, 3)));
  CU_ASSERT_TRUE(json_is_null(json_array_get(arr, 4)));
  json_decref(j);
  nw__ydoc_free(d);
}

static void test_multi_document_and_alias(void) {
  const char *text = "a: &x {k: v}\nb: *x\n---\nc: 3\n---\n";
  char err[256];
  size_t n = 0;
  nw__ydoc **docs = nw__yaml_parse_all("m.yaml", text, strlen(text), &n, err,
                                       sizeof(err));
  CU_ASSERT_PTR_NOT_NULL_FATAL(docs);
  CU_ASSERT_EQUAL(n, 3);
  nw__ynode *b = nw__ymap_get(docs[0]->root, "b");
  CU_ASSERT_STRING_EQUAL(nw__ymap_get(b, "k")->value, "v");
  CU_ASSERT_TRUE(docs[2]->root == NULL || nw__yscalar_is_null(docs[2]->root));
  nw__ydocs_free(docs, n);
}

static void test_errors(void) {
  char err[256];
  const char *bad = "a: [1, 2\n";
  CU_ASSERT_PTR_NULL(nw__yaml_parse("bad.yaml", bad, strlen(bad), err, sizeof(err)));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad.yaml:2:1: invalid YAML"));
  const char *alias = "a: *nope\n";
  CU_ASSERT_PTR_NULL(nw__yaml_parse("al.yaml", alias, strlen(alias), err, sizeof(err)));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "al.yaml:1:"));
}

static void test_durations(void) {
  int64_t ms = -2;
  CU_ASSERT_EQUAL(nw__duration_ms("1h30m", &ms), 0);
  CU_ASSERT_EQUAL(ms, 5400000);
  CU_ASSERT_EQUAL(nw__duration_ms("500ms", &ms), 0);
  CU_ASSERT_EQUAL(ms, 500);
  CU_ASSERT_EQUAL(nw__duration_ms("1.5s", &ms), 0);
  CU_ASSERT_EQUAL(ms, 1500);
  CU_ASSERT_EQUAL(nw__duration_ms("720h", &ms), 0);
  CU_ASSERT_EQUAL(ms, 2592000000LL);
  CU_ASSERT_EQUAL(nw__duration_ms("Never", &ms), 0);
  CU_ASSERT_EQUAL(ms, -1);
  CU_ASSERT_EQUAL(nw__duration_ms("0", &ms), 0);
  CU_ASSERT_EQUAL(ms, 0);
  CU_ASSERT_EQUAL(nw__duration_ms("10", &ms), -1);
  CU_ASSERT_EQUAL(nw__duration_ms("5 m", &ms), -1);
  CU_ASSERT_EQUAL(nw__duration_ms("-1s", &ms), -1);
  CU_ASSERT_EQUAL(nw__duration_ms("", &ms), -1);
  CU_ASSERT_EQUAL(nw__duration_ms("1d", &ms), -1);
}

NW_TEST_CASES({"positions_and_types", test_positions_and_types},
              {"multi_document_and_alias", test_multi_document_and_alias},
              {"errors", test_errors}, {"durations", test_durations});
NW_TEST_MAIN("yaml", NULL, NULL);
