/*
 * docker exec through the Docker Engine API, as the kubeadm runtime uses it
 * (kubeadm token create on the control plane, kubeadm join in the node),
 * against the real dockerd of the "docker" fixture: stdout and stderr come
 * back demultiplexed with the exit code.  Also API version negotiation
 * through both paths (host->http with /_ping, host->http_stream).
 */
#include "nwtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http.h"
#include "kind.h"
#include "kind_test_util.h"
#include "plugin/loader.h"
#include "util/arena.h"

static nw__kind k;
static char cluster[64];
static char box[128];

static int setup(void) {
  nw_error err = {0};
  char cfg[512];
  nw__http_global_init();
  snprintf(cluster, sizeof(cluster), "%s", kt_cluster("exec"));
  snprintf(box, sizeof(box), "%s-box", cluster);
  snprintf(cfg, sizeof(cfg), "{\"socket\":\"%s\",\"clusterName\":\"%s\"}",
           NW_TEST_DOCKER_SOCKET, cluster);
  k.host = nw__host_api();
  pthread_mutex_init(&k.api_lock, NULL);
  if (nw__kind_config_parse(cfg, &k.cfg, &err) != NW_OK) {
    fprintf(stderr, "config: %s\n", err.message);
    return 1;
  }
  if (kt_docker(NULL, "run -d --name %s --network none --label "
                "io.x-k8s.kind.cluster=%s %s", box, cluster, KT_IMAGE) != 0) {
    fprintf(stderr, "cannot start the test container\n");
    return 1;
  }
  return 0;
}

static int teardown(void) {
  kt_remove_cluster(cluster);
  nw__kind_config_free(&k.cfg);
  pthread_mutex_destroy(&k.api_lock);
  return 0;
}

static void test_negotiate(void) {
  nw_arena *a = nw__arena_new();
  nw_error err = {0};
  k.api_prefix[0] = '\0';
  CU_ASSERT_EQUAL(nw__kind_negotiate_stream(&k, &err), NW_OK);
  CU_ASSERT_EQUAL(strncmp(k.api_prefix, "/v1.", 4), 0);
  char streamed[16];
  memcpy(streamed, k.api_prefix, sizeof(streamed));
  k.api_prefix[0] = '\0';
  CU_ASSERT_EQUAL(nw__kind_negotiate(&k, a, &err), NW_OK);
  CU_ASSERT_STRING_EQUAL(k.api_prefix, streamed);
  CU_ASSERT_TRUE(nw__kind_have_version(&k));
  nw__arena_free(a);
}

static void test_exec_output_and_status(void) {
  nw_arena *a = nw__arena_new();
  nw_error err = {0};
  const char *out = NULL, *errout = NULL;
  int code = -1;
  const char *const argv[] = {"sh", "-c", "echo to-out; echo to-err >&2; "
                              "printf 'x%.0s' $(seq 1 3000); exit 3", NULL};
  CU_ASSERT_EQUAL_FATAL(nw__kind_exec(&k, box, argv, a, &out, &errout, &code, &err), NW_OK);
  CU_ASSERT_EQUAL(code, 3);
  CU_ASSERT_EQUAL(strncmp(out, "to-out\n", 7), 0);
  CU_ASSERT_EQUAL(strlen(out), 7 + 3000);
  CU_ASSERT_STRING_EQUAL(errout, "to-err\n");
  const char *const ok[] = {"true", NULL};
  CU_ASSERT_EQUAL(nw__kind_exec(&k, box, ok, a, &out, &errout, &code, &err), NW_OK);
  CU_ASSERT_EQUAL(code, 0);
  CU_ASSERT_STRING_EQUAL(out, "");
  nw__arena_free(a);
}

static void test_exec_missing(void) {
  nw_arena *a = nw__arena_new();
  nw_error err = {0};
  const char *out = NULL, *errout = NULL;
  int code = -1;
  const char *const argv[] = {"true", NULL};
  CU_ASSERT_EQUAL(nw__kind_exec(&k, "nwt-no-such-container", argv, a, &out, &errout,
                                &code, &err), NW_ERR_NOT_FOUND);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "nwt-no-such-container"));
  nw__arena_free(a);
}

NW_TEST_CASES({"negotiate", test_negotiate},
              {"exec_output_and_status", test_exec_output_and_status},
              {"exec_missing", test_exec_missing});
NW_TEST_MAIN("kind_exec", setup, teardown);
