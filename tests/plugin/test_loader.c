#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nwtest.h"
#include "plugin/loader.h"
#include "provisioning/instance_types.h"
#include "util/arena.h"

static const char *fixture(const char *name) {
  static char buf[4096];
  snprintf(buf, sizeof(buf), "%s/plugins/%s.so", NW_TEST_FIXTURE_DIR, name);
  return buf;
}

/* Loads `good`, then `bad` beside it; checks bad is refused with a message
 * containing `expect`, and that good is still loaded and callable. */
static void refused_beside_good(const char *bad, const char *expect) {
  nw__plugin_set *set = nw__plugins_new(NULL);
  char err[1024] = "";
  nw__plugin *good = nw__plugins_load(set, fixture("good"), "{}", 1, err,
                                      sizeof(err));
  CU_ASSERT_PTR_NOT_NULL_FATAL(good);
  err[0] = '\0';
  nw__plugin *p = nw__plugins_load(set, fixture(bad), "{}", 1, err, sizeof(err));
  CU_ASSERT_PTR_NULL(p);
  if (!strstr(err, expect))
    fprintf(stderr, "\n  %s: expected \"%s\" in \"%s\"\n", bad, expect, err);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, expect));
  /* The message names the file. */
  CU_ASSERT_PTR_NOT_NULL(strstr(err, fixture(bad)));
  CU_ASSERT_EQUAL(nw__plugins_count(set), 1);
  CU_ASSERT_PTR_EQUAL(nw__plugins_find(set, "good"), good);
  const nw_pricing_vtable *vt = nw__plugin_pricing(good);
  CU_ASSERT_PTR_NOT_NULL_FATAL(vt);
  double usd = 0;
  CU_ASSERT_EQUAL(vt->price(nw__plugin_state(good), "m5.large", "z", "spot",
                            &usd, NULL), NW_OK);
  CU_ASSERT_DOUBLE_EQUAL(usd, 8.0, 1e-9);
  nw__plugins_free(set);
}

static void test_no_entry(void) {
  refused_beside_good("no_entry", "entry: symbol nw_plugin_entry not found");
}
static void test_wrong_magic(void) {
  refused_beside_good("wrong_magic",
                      "magic: found 0xdeadbeef, expected 0x4e575047");
}
static void test_major(void) {
  refused_beside_good("major", "abi major: found 2, expected 1");
}
static void test_newer_minor(void) {
  char expect[64];
  snprintf(expect, sizeof(expect), "abi minor: found %d, expected <= %d",
           NW_ABI_MINOR + 1, NW_ABI_MINOR);
  refused_beside_good("newer_minor", expect);
}
static void test_short_struct(void) {
  refused_beside_good("short_struct", "struct size: found 16, expected >=");
}
static void test_short_table(void) {
  refused_beside_good("short_table", "pricing table size: found 4");
}
static void test_unknown_kind(void) {
  refused_beside_good("unknown_kind", "kind: found 42");
}
static void test_dup_name(void) {
  refused_beside_good("dup_name", "name: \"good\" is already loaded");
}
static void test_init_fail(void) {
  refused_beside_good("init_fail", "init: plugin init_fail returned -5: "
                                   "region \"?\" is unknown");
}
static void test_missing_file(void) {
  refused_beside_good("does_not_exist", "No such file");
}

/* Copies the good fixture into a fresh directory with the given modes. */
static void copy_good(char *dir, size_t dirlen, char *path, size_t pathlen,
                      mode_t dir_mode, mode_t file_mode) {
  snprintf(dir, dirlen, "/tmp/nwtest-loader-XXXXXX");
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  snprintf(path, pathlen, "%s/good.so", dir);
  size_t len = 0;
  char *data = nw_test_read_file(fixture("good"), &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(data);
  FILE *f = fopen(path, "wb");
  fwrite(data, 1, len, f);
  fclose(f);
  free(data);
  chmod(path, file_mode);
  chmod(dir, dir_mode);
}

static void remove_copy(const char *dir, const char *path) {
  unlink(path);
  rmdir(dir);
}

static void test_group_writable_file(void) {
  char dir[64], path[128], err[1024] = "";
  copy_good(dir, sizeof(dir), path, sizeof(path), 0755, 0664);
  nw__plugin_set *set = nw__plugins_new(NULL);
  CU_ASSERT_PTR_NULL(nw__plugins_load(set, path, NULL, 1, err, sizeof(err)));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "writable by group (mode 0664)"));
  /* Without the trust check the same file loads: the refusal was the mode. */
  CU_ASSERT_PTR_NOT_NULL(nw__plugins_load(set, path, NULL, 0, err, sizeof(err)));
  nw__plugins_free(set);
  remove_copy(dir, path);
}

static void test_world_writable_dir(void) {
  char dir[64], path[128], err[1024] = "";
  copy_good(dir, sizeof(dir), path, sizeof(path), 0757, 0755);
  nw__plugin_set *set = nw__plugins_new(NULL);
  CU_ASSERT_PTR_NULL(nw__plugins_load(set, path, NULL, 1, err, sizeof(err)));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "directory"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "writable by others"));
  nw__plugins_free(set);
  chmod(dir, 0755);
  remove_copy(dir, path);
}

static void test_config_reaches_plugin(void) {
  nw__plugin_set *set = nw__plugins_new(NULL);
  char err[1024] = "";
  nw__plugin *p = nw__plugins_load(set, fixture("good"),
                                   "{\"greeting\":\"hello\"}", 1, err,
                                   sizeof(err));
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  CU_ASSERT_STRING_EQUAL((const char *)nw__plugin_state(p), "hello");
  CU_ASSERT_PTR_NULL(nw__plugin_provider(p));
  CU_ASSERT_PTR_NULL(nw__plugin_strategy(p));
  CU_ASSERT_PTR_EQUAL(nw__plugins_first(set, NW_PLUGIN_PRICING), p);
  /* A config that is not an object is refused before init. */
  CU_ASSERT_PTR_NULL(nw__plugins_load(set, fixture("newer_minor"), "[1]", 0,
                                      err, sizeof(err)));
  nw__plugins_free(set);
}

static void test_inspect(void) {
  nw_plugin_descriptor d;
  char buf[512], err[512];
  CU_ASSERT_EQUAL(nw__plugin_inspect(fixture("good"), 1, &d, buf, sizeof(buf),
                                     err, sizeof(err)), 0);
  CU_ASSERT_STRING_EQUAL(d.name, "good");
  CU_ASSERT_STRING_EQUAL(d.version, "1.2.3");
  CU_ASSERT_EQUAL(d.kind, NW_PLUGIN_PRICING);
  CU_ASSERT_EQUAL(nw__plugin_inspect(fixture("major"), 1, &d, buf, sizeof(buf),
                                     err, sizeof(err)), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "abi major"));
}

static void test_host_api_config_and_arena(void) {
  const nw_host_api *h = nw__host_api();
  CU_ASSERT_EQUAL(h->size, sizeof(nw_host_api));
  CU_ASSERT_EQUAL(h->abi_major, NW_ABI_MAJOR);
  nw_arena *a = nw__arena_new();
  char *s = h->arena_strdup(a, "x");
  CU_ASSERT_STRING_EQUAL(s, "x");
  nw__arena_free(a);
  /* ABI 1.1 appended arena_new/arena_free after every 1.0 field. */
  CU_ASSERT_TRUE(offsetof(nw_host_api, arena_new) >= offsetof(nw_host_api, kube_request) + sizeof(void *));
  nw_arena *own = h->arena_new();
  CU_ASSERT_PTR_NOT_NULL(h->arena_alloc(own, 10));
  h->arena_free(own);
}

/* ABI 1.2 appended `registered` and `node_class_status` to the provider
 * table, 1.3 `instance_types_version`: a 1.1 provider still loads, and the
 * engine's copy of its table reads NULL there even though the plugin's
 * memory past its size holds functions; a current provider's are called;
 * the host's `price` answers from the set's pricing plugins. */
static void test_provider_abi_1_2(void) {
  nw__plugin_set *set = nw__plugins_new(NULL);
  char err[1024] = "";
  nw__plugin *old = nw__plugins_load(set, fixture("provider_1_1"), "{}", 1, err,
                                     sizeof(err));
  if (!old)
    fprintf(stderr, "\n  %s\n", err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(old);
  CU_ASSERT_EQUAL(nw__plugin_descriptor(old)->abi_minor, 1);
  const nw_provider_vtable *ovt = nw__plugin_provider(old);
  CU_ASSERT_PTR_NOT_NULL_FATAL(ovt);
  CU_ASSERT_PTR_NOT_NULL(ovt->list);
  CU_ASSERT_PTR_NULL(ovt->registered);
  CU_ASSERT_PTR_NULL(ovt->node_class_status);
  CU_ASSERT_PTR_NULL(ovt->instance_types_version);
  /* The host asks an old provider for no version (ABI 1.3). */
  nw_arena *ta = nw__arena_new();
  nw_instance_types types;
  uint64_t version = 1;
  nw_error te = {0};
  CU_ASSERT_EQUAL(nw__priced_instance_types(set, old, "p", NULL, ta, &types,
                                            &version, &te), NW_OK);
  CU_ASSERT_EQUAL(version, 0);

  nw__plugin *cur = nw__plugins_load(set, fixture("provider_1_2"), "{}", 1, err,
                                     sizeof(err));
  CU_ASSERT_PTR_NOT_NULL_FATAL(cur);
  const nw_provider_vtable *vt = nw__plugin_provider(cur);
  CU_ASSERT_PTR_NOT_NULL_FATAL(vt->registered);
  CU_ASSERT_PTR_NOT_NULL_FATAL(vt->node_class_status);
  CU_ASSERT_PTR_NOT_NULL_FATAL(vt->instance_types_version);
  CU_ASSERT_EQUAL(nw__priced_instance_types(set, cur, "p", NULL, ta, &types,
                                            &version, &te), NW_OK);
  CU_ASSERT_EQUAL(version, 7);
  nw__arena_free(ta);
  nw_error e = {0};
  CU_ASSERT_EQUAL(vt->registered(nw__plugin_state(cur), "fx:///a/1", "claim-a",
                                 "node-a", &e), NW_OK);
  CU_ASSERT_STRING_EQUAL((const char *)nw__plugin_state(cur),
                         "fx:///a/1 claim-a node-a");

  /* No pricing plugin yet: the host says it cannot price. */
  nw_arena *a = nw__arena_new();
  const char *status = NULL;
  CU_ASSERT_EQUAL(vt->node_class_status(nw__plugin_state(cur), "{}", a, &status, &e),
                  NW_OK);
  char want[64];
  snprintf(want, sizeof(want), "{\"price\":-1,\"st\":%d}", (int)NW_ERR_NOT_FOUND);
  CU_ASSERT_STRING_EQUAL(status, want);
  /* With the pricing fixture (price = length of the type name). */
  CU_ASSERT_PTR_NOT_NULL_FATAL(nw__plugins_load(set, fixture("good"), "{}", 1, err,
                                                sizeof(err)));
  CU_ASSERT_EQUAL(vt->node_class_status(nw__plugin_state(cur), "{}", a, &status, &e),
                  NW_OK);
  CU_ASSERT_STRING_EQUAL(status, "{\"price\":8,\"st\":0}");
  nw__arena_free(a);
  nw__plugins_free(set);
}

NW_TEST_CASES({"no_entry", test_no_entry}, {"wrong_magic", test_wrong_magic},
              {"major", test_major}, {"newer_minor", test_newer_minor},
              {"short_struct", test_short_struct},
              {"short_table", test_short_table},
              {"unknown_kind", test_unknown_kind}, {"dup_name", test_dup_name},
              {"init_fail", test_init_fail},
              {"missing_file", test_missing_file},
              {"group_writable_file", test_group_writable_file},
              {"world_writable_dir", test_world_writable_dir},
              {"config_reaches_plugin", test_config_reaches_plugin},
              {"inspect", test_inspect},
              {"host_api_config_and_arena", test_host_api_config_and_arena},
              {"provider_abi_1_2", test_provider_abi_1_2});
NW_TEST_MAIN("loader", NULL, NULL);
