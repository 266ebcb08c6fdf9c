/* Instance-type catalogs (core/catalog): the AWS formula and labels. */
#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"
#include "nwtest.h"
#include "scheduling/scheduler.h"

static const nw_instance_type *find(const nw__catalog *c, const char *name) {
  for (size_t i = 0; i < c->types.len; i++)
    if (strcmp(c->types.items[i].name, name) == 0)
      return &c->types.items[i];
  return NULL;
}

static const char *label(const nw_instance_type *it, const char *key) {
  for (size_t i = 0; i < it->requirements.len; i++)
    if (strcmp(it->requirements.items[i].key, key) == 0)
      return it->requirements.items[i].values[0];
  return NULL;
}

static void test_formula(void) {
  CU_ASSERT_EQUAL(nw__aws_max_pods(3, 10), 29);
  CU_ASSERT_EQUAL(nw__aws_max_pods(15, 50), 737);
  CU_ASSERT_EQUAL(nw__aws_kube_reserved_cpu_m(1), 60);
  CU_ASSERT_EQUAL(nw__aws_kube_reserved_cpu_m(2), 70);
  CU_ASSERT_EQUAL(nw__aws_kube_reserved_cpu_m(4), 80);
  CU_ASSERT_EQUAL(nw__aws_kube_reserved_cpu_m(8), 90);
  CU_ASSERT_EQUAL(nw__aws_kube_reserved_cpu_m(96), 310);
  CU_ASSERT_EQUAL(nw__aws_kube_reserved_memory(29), 574LL << 20);
  CU_ASSERT_EQUAL(nw__aws_memory_bytes(8192), 7577LL << 20);
}

static void test_aws_catalog(void) {
  nw_error err = {0};
  nw__catalog *c = nw__catalog_load_default_aws(&err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_TRUE(c->types.len > 1300);
  CU_ASSERT_PTR_NULL(find(c, "mac1.metal")); /* Macs are not offered. */
  const nw_instance_type *m5 = find(c, "m5.large");
  CU_ASSERT_PTR_NOT_NULL_FATAL(m5);
  CU_ASSERT_STRING_EQUAL(label(m5, "karpenter.k8s.aws/instance-family"), "m5");
  CU_ASSERT_STRING_EQUAL(label(m5, "karpenter.k8s.aws/instance-category"), "m");
  CU_ASSERT_STRING_EQUAL(label(m5, "karpenter.k8s.aws/instance-generation"),
                         "5");
  CU_ASSERT_STRING_EQUAL(label(m5, "karpenter.k8s.aws/instance-size"), "large");
  CU_ASSERT_STRING_EQUAL(label(m5, "karpenter.k8s.aws/instance-cpu"), "2");
  CU_ASSERT_STRING_EQUAL(label(m5, "karpenter.k8s.aws/instance-memory"), "8192");
  CU_ASSERT_STRING_EQUAL(label(m5, "kubernetes.io/arch"), "amd64");
  CU_ASSERT_EQUAL(nw__instance_type_allocatable(m5, "cpu"), 1930);
  CU_ASSERT_EQUAL(nw__instance_type_allocatable(m5, "memory"),
                  (7577LL - 574 - 100) << 20);
  CU_ASSERT_EQUAL(nw__instance_type_allocatable(m5, "pods"), 29);
  /* Spot is modelled below on-demand; both offered in every zone. */
  double od = -1, spot = -1;
  for (size_t i = 0; i < m5->n_offerings; i++) {
    const nw_offering *o = &m5->offerings[i];
    CU_ASSERT_TRUE(o->available);
    if (strcmp(o->capacity_type, "on-demand") == 0)
      od = o->price;
    else
      spot = o->price;
  }
  CU_ASSERT_DOUBLE_EQUAL(od, 0.096, 1e-9);
  CU_ASSERT_TRUE(spot > 0.25 * od && spot < 0.5 * od);
  const nw_instance_type *g5 = find(c, "g5.xlarge");
  CU_ASSERT_PTR_NOT_NULL_FATAL(g5);
  CU_ASSERT_EQUAL(nw__resources_get(&g5->capacity, "nvidia.com/gpu"), 1);
  CU_ASSERT_STRING_EQUAL(label(g5, "karpenter.k8s.aws/instance-gpu-name"),
                         "a10g");
  const nw_instance_type *u = find(c, "u-6tb1.112xlarge");
  CU_ASSERT_PTR_NOT_NULL_FATAL(u);
  CU_ASSERT_STRING_EQUAL(label(u, "karpenter.k8s.aws/instance-category"), "u");
  CU_ASSERT_STRING_EQUAL(label(u, "karpenter.k8s.aws/instance-generation"),
                         "1");
  nw__catalog_free(c);
}

static void test_bad_catalog(void) {
  nw_error err = {0};
  CU_ASSERT_PTR_NULL(nw__catalog_load_aws("/nonexistent/catalog.json", &err));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/catalog.json"));
}

static void test_diverse(void) {
  nw__catalog *c = nw__catalog_karpenter_diverse(400);
  CU_ASSERT_EQUAL_FATAL(c->types.len, 400);
  const nw_instance_type *t = &c->types.items[3];
  CU_ASSERT_EQUAL(nw__resources_get(&t->capacity, "cpu"), 4000);
  CU_ASSERT_EQUAL(nw__resources_get(&t->capacity, "memory"), 8LL << 30);
  CU_ASSERT_EQUAL(nw__resources_get(&t->capacity, "pods"), 40);
  CU_ASSERT_EQUAL(nw__instance_type_allocatable(t, "cpu"), 3900);
  CU_ASSERT_EQUAL(t->n_offerings, 5);
  CU_ASSERT_DOUBLE_EQUAL(t->offerings[0].price, 1.2, 1e-9);
  nw__catalog_free(c);
}

static void test_by_name(void) {
  nw_error err = {0};
  nw__catalog *c = nw__catalog_load("karpenter-diverse:12", &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(c->types.len, 12);
  nw__catalog_free(c);
  c = nw__catalog_load("karpenter-diverse", &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(c->types.len, 400);
  nw__catalog_free(c);
  c = nw__catalog_load("aws", &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_TRUE(c->types.len > 1300);
  nw__catalog_free(c);
  CU_ASSERT_PTR_NULL(nw__catalog_load("karpenter-diverse:lots", &err));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "karpenter-diverse:<1..100000>"));
  CU_ASSERT_PTR_NULL(nw__catalog_load("no-such-catalog.json", &err));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no-such-catalog.json"));
}

NW_TEST_CASES({"by_name", test_by_name}, {"aws_formula", test_formula}, {"aws_catalog", test_aws_catalog},
              {"bad_catalog_named", test_bad_catalog},
              {"karpenter_diverse", test_diverse});
NW_TEST_MAIN("catalog", NULL, NULL);
