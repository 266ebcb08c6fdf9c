/*
 * `scripts/test-cluster restart-apiserver` brings the apiserver back on the
 * same address with the same data: the kubeconfig keeps working and objects
 * written before the restart are still there (etcd was not touched).
 */
#include "kubectl_util.h"
#include "nwtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_restart_keeps_state(void) {
  char name[64];
  snprintf(name, sizeof(name), "%s", nwt_unique("nwt-restart"));
  char *out = NULL;
  CU_ASSERT_EQUAL_FATAL(nwt_kubectl(&out, "create namespace %s", name), 0);
  free(out);
  json_t *before = nwt_kubectl_json("get namespace %s -o json", name);
  const char *uid = nwt_json_str(before, "metadata.uid");
  CU_ASSERT_PTR_NOT_NULL_FATAL(uid);

  char *pid_before = NULL, *pid_after = NULL;
  nwt_sh(&pid_before, "cat '%s/apiserver.pid'", NW_TEST_CLUSTER_DIR);
  int rc = nwt_sh(&out, "'%s' restart-apiserver --dir '%s'",
                  nw_test_src_path("scripts/test-cluster"), NW_TEST_CLUSTER_DIR);
  if (rc != 0)
    fprintf(stderr, "restart-apiserver: %s\n", out);
  CU_ASSERT_EQUAL(rc, 0);
  free(out);
  nwt_sh(&pid_after, "cat '%s/apiserver.pid'", NW_TEST_CLUSTER_DIR);
  /* A new process, not the old one still answering. */
  CU_ASSERT_STRING_NOT_EQUAL(pid_before, pid_after);
  free(pid_before);
  free(pid_after);

  json_t *after = nwt_kubectl_json("get namespace %s -o json", name);
  CU_ASSERT_PTR_NOT_NULL(after);
  const char *uid_after = nwt_json_str(after, "metadata.uid");
  CU_ASSERT_PTR_NOT_NULL(uid_after);
  if (uid_after)
    CU_ASSERT_STRING_EQUAL(uid, uid_after);
  json_decref(before);
  json_decref(after);
  nwt_kubectl(NULL, "delete namespace %s --wait=false", name);
}

NW_TEST_CASES({"restart_keeps_state", test_restart_keeps_state});
NW_TEST_MAIN("cluster_restart", NULL, NULL);
