/*
 * The "cluster" fixture is a working control plane: both admin identities
 * authenticate, RBAC denies an identity without grants, kwok makes a labelled
 * Node Ready, kube-scheduler binds a pod to it and kwok runs it, the
 * controller manager runs Deployments and computes PDB status, and a forced
 * etcd compaction makes old resource versions 410 Gone.
 */
#include "kubectl_util.h"
#include "nwtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char ns[64];
static char node[64];

static int suite_setup(void) {
  snprintf(ns, sizeof(ns), "%s", nwt_unique("nwt-cluster"));
  snprintf(node, sizeof(node), "%s", nwt_unique("nwt-kwok-node"));
  char *out = NULL;
  int rc = nwt_kubectl(&out, "create namespace %s", ns);
  if (rc != 0)
    fprintf(stderr, "create namespace: %s\n", out);
  free(out);
  return rc == 0 ? 0 : 1;
}

static int suite_teardown(void) {
  nwt_kubectl(NULL, "delete namespace %s --wait=false", ns);
  nwt_kubectl(NULL, "delete node %s --wait=false", node);
  return 0;
}

static void test_identities(void) {
  char *out = NULL;
  CU_ASSERT_EQUAL(nwt_kubectl(&out, "auth whoami -o jsonpath='{.status.userInfo.username}'"), 0);
  CU_ASSERT_STRING_EQUAL(out, "nodewright-admin");
  free(out);
  CU_ASSERT_EQUAL(nwt_kubectl(&out, "--context nodewright-test-token get namespace %s -o name", ns), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, ns));
  free(out);
  /* Authenticated but without any RBAC grant: 403, not 401. */
  CU_ASSERT_NOT_EQUAL(nwt_kubectl(&out, "--context nodewright-test-unprivileged get namespace %s", ns), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "Forbidden"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "nodewright-unprivileged"));
  free(out);
}

static void create_kwok_node(void) {
  char yaml[1024];
  snprintf(yaml, sizeof(yaml),
           "apiVersion: v1\nkind: Node\nmetadata:\n  name: %s\n  labels:\n"
           "    kwok.x-k8s.io/node: fake\n    kubernetes.io/hostname: %s\n"
           "status:\n  allocatable: {cpu: '4', memory: 16Gi, pods: '110'}\n"
           "  capacity: {cpu: '4', memory: 16Gi, pods: '110'}\n",
           node, node);
  char *out = NULL;
  int rc = nwt_kubectl_stdin(yaml, &out, "create -f -");
  if (rc != 0)
    fprintf(stderr, "create node: %s\n", out);
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  free(out);
}

static void test_kwok_node_ready(void) {
  create_kwok_node();
  /* kwok adds the conditions; look for Ready wherever it put it. */
  int ready = 0;
  for (int i = 0; i < 600 && !ready; i++) {
    char *out = NULL;
    nwt_kubectl(&out, "get node %s -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}'", node);
    ready = strcmp(out, "True") == 0;
    free(out);
    if (!ready)
      usleep(100 * 1000);
  }
  CU_ASSERT_TRUE(ready);
  /* A Node without the label is not kwok's: nobody ever makes it Ready. */
  char other[80], yaml[256], *out = NULL;
  snprintf(other, sizeof(other), "%s-unmanaged", node);
  snprintf(yaml, sizeof(yaml), "apiVersion: v1\nkind: Node\nmetadata:\n  name: %s\n", other);
  CU_ASSERT_EQUAL(nwt_kubectl_stdin(yaml, &out, "create -f -"), 0);
  free(out);
  sleep(3);
  CU_ASSERT_EQUAL(nwt_kubectl(&out, "get node %s -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}'", other), 0);
  CU_ASSERT_STRING_NOT_EQUAL(out, "True");
  free(out);
  nwt_kubectl(NULL, "delete node %s --wait=false", other);
}

static void test_pod_scheduled_and_running(void) {
  char yaml[1024];
  snprintf(yaml, sizeof(yaml),
           "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: %s\n"
           "spec:\n  nodeSelector:\n    kubernetes.io/hostname: %s\n"
           "  containers:\n  - name: web\n    image: nginx\n"
           "    resources: {requests: {cpu: 100m, memory: 64Mi}}\n",
           ns, node);
  char *out = NULL;
  CU_ASSERT_EQUAL_FATAL(nwt_kubectl_stdin(yaml, &out, "create -f -"), 0);
  free(out);
  /* kube-scheduler binds it (not us: no nodeName in the manifest)... */
  CU_ASSERT_TRUE(nwt_wait_field(60, "spec.nodeName", node,
                                "get pod web -n %s -o json", ns));
  /* ...and kwok, playing the kubelet, reports it running. */
  CU_ASSERT_TRUE(nwt_wait_field(60, "status.phase", "Running",
                                "get pod web -n %s -o json", ns));
  json_t *pod = nwt_kubectl_json("get pod web -n %s -o json", ns);
  CU_ASSERT_PTR_NOT_NULL(nwt_json_str(pod, "status.podIP"));
  json_decref(pod);
}

static void test_controllers(void) {
  char yaml[2048];
  snprintf(yaml, sizeof(yaml),
           "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: %s\n"
           "spec:\n  replicas: 2\n  selector: {matchLabels: {app: app}}\n"
           "  template:\n    metadata: {labels: {app: app}}\n"
           "    spec:\n      nodeSelector: {kubernetes.io/hostname: %s}\n"
           "      containers: [{name: app, image: nginx}]\n"
           "---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n"
           "  name: app\n  namespace: %s\nspec:\n  minAvailable: 1\n"
           "  selector: {matchLabels: {app: app}}\n",
           ns, node, ns);
  char *out = NULL;
  int rc = nwt_kubectl_stdin(yaml, &out, "apply -f -");
  if (rc != 0)
    fprintf(stderr, "apply: %s\n", out);
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  free(out);
  /* Deployment -> ReplicaSet -> 2 pods, all by the controller manager. */
  int ok = 0;
  for (int i = 0; i < 300 && !ok; i++) {
    json_t *d = nwt_kubectl_json("get deployment app -n %s -o json", ns);
    ok = json_integer_value(nwt_json_at(d, "status.readyReplicas")) == 2;
    json_decref(d);
    if (!ok)
      usleep(200 * 1000);
  }
  CU_ASSERT_TRUE(ok);
  /* The disruption controller keeps the PDB's status: 2 healthy, 1 may go. */
  ok = 0;
  for (int i = 0; i < 300 && !ok; i++) {
    json_t *p = nwt_kubectl_json("get pdb app -n %s -o json", ns);
    ok = json_integer_value(nwt_json_at(p, "status.currentHealthy")) == 2 &&
         json_integer_value(nwt_json_at(p, "status.disruptionsAllowed")) == 1;
    json_decref(p);
    if (!ok)
      usleep(200 * 1000);
  }
  CU_ASSERT_TRUE(ok);
}

static void test_compaction_gone(void) {
  json_t *cm = NULL;
  char *out = NULL;
  CU_ASSERT_EQUAL_FATAL(nwt_kubectl(&out, "create configmap old -n %s --from-literal=a=1", ns), 0);
  free(out);
  cm = nwt_kubectl_json("get configmap old -n %s -o json", ns);
  const char *rv = nwt_json_str(cm, "metadata.resourceVersion");
  CU_ASSERT_PTR_NOT_NULL_FATAL(rv);
  char old_rv[32];
  snprintf(old_rv, sizeof(old_rv), "%s", rv);
  json_decref(cm);
  /* Move etcd's revision past old_rv, then compact everything before now. */
  CU_ASSERT_EQUAL(nwt_kubectl(&out, "create configmap new -n %s --from-literal=a=2", ns), 0);
  free(out);
  CU_ASSERT_EQUAL(nwt_sh(&out, "'%s' compact --dir '%s'",
                         nw_test_src_path("scripts/test-cluster"), NW_TEST_CLUSTER_DIR), 0);
  /* The compacted revision is the last line (progress goes to stderr). */
  char *nl = strrchr(out, '\n');
  while (nl && nl > out && nl[1] == '\0') {
    *nl = '\0';
    nl = strrchr(out, '\n');
  }
  long long compacted = strtoll(nl ? nl + 1 : out, NULL, 10);
  CU_ASSERT(compacted > strtoll(old_rv, NULL, 10));
  free(out);
  /* A list at exactly the old revision now has to come from compacted
   * history: the apiserver answers 410 Gone ("Expired"). */
  int rc = nwt_kubectl(&out, "get --raw '/api/v1/namespaces/%s/configmaps?resourceVersion=%s&resourceVersionMatch=Exact'",
                       ns, old_rv);
  CU_ASSERT_NOT_EQUAL(rc, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "too old"));
  free(out);
}

NW_TEST_CASES({"identities", test_identities},
              {"kwok_node_ready", test_kwok_node_ready},
              {"pod_scheduled_and_running", test_pod_scheduled_and_running},
              {"controllers", test_controllers},
              {"compaction_gone", test_compaction_gone});
NW_TEST_MAIN("cluster", suite_setup, suite_teardown);
