/*
 * docker exec through the Docker Engine API, as the kubeadm runtime uses it
 * (kubeadm token create on the control plane, kubeadm join in the node),
 * against the real dockerd of the "docker" fixture: stdout and stderr come
 * back demultiplexed with the exit code.  Also API version negotiation
 * through both paths (host->http with /_ping, host->http_stream).
 *
 * The kubeadm runtime's join runs end to end through the Docker Engine
 * too.  kind's node image (kubelet, containerd, systemd) cannot run here:
 * it needs privileged containers, which this machine refuses.  So the
 * control plane and the node are busybox containers whose `kubeadm` and
 * `systemctl` are small scripts recording how they were called; what is
 * tested is everything nodewright does: finding the control plane by its
 * kind labels, minting the join command there, the kubelet arguments file
 * and the join command run in the node, and not joining twice.
 */
#include "nwtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Copies an executable script with the given text to path in a container
 * (docker cp keeps the mode of the host file). */
static int put_script(const char *container, const char *path, const char *text) {
  char tmp[] = "/tmp/nwt-script-XXXXXX";
  int fd = mkstemp(tmp);
  if (fd < 0)
    return -1;
  FILE *f = fdopen(fd, "w");
  fprintf(f, "#!/bin/sh\n%s\n", text);
  fclose(f);
  chmod(tmp, 0755);
  int rc = kt_docker(NULL, "cp %s %s:%s", tmp, container, path);
  unlink(tmp);
  return rc;
}

/* The "node" container of a join test (the test image has few busybox
 * links; `test` is one the join runs directly): `systemctl is-active
 * containerd` succeeds and `kubeadm` records its arguments and leaves kubelet.conf as
 * a joined node has it. */
static int make_join_node(const char *name) {
  if (kt_docker(NULL, "run -d --name %s --network none --label "
                "io.x-k8s.kind.cluster=%s %s", name, cluster, KT_IMAGE) != 0 ||
      kt_docker(NULL, "exec %s sh -c 'mkdir -p /etc/default && "
                "ln -s busybox /bin/test'", name) != 0 ||
      put_script(name, "/bin/systemctl",
                 "[ \"$*\" = \"is-active --quiet containerd\" ]") != 0)
    return -1;
  return put_script(name, "/bin/kubeadm",
                    "echo \"$*\" >> /tmp/join-args\n"
                    "mkdir -p /etc/kubernetes && touch /etc/kubernetes/kubelet.conf");
}

/* The control-plane container: labelled as kind labels it, with a
 * `kubeadm` printing `output` for `token create --print-join-command`. */
static int make_control_plane(const char *name, const char *output) {
  char text[600];
  if (kt_docker(NULL, "run -d --name %s --network none --label "
                "io.x-k8s.kind.cluster=%s --label io.x-k8s.kind.role=control-plane %s",
                name, cluster, KT_IMAGE) != 0)
    return -1;
  snprintf(text, sizeof(text), "[ \"$*\" = \"token create --print-join-command\" ] "
           "|| exit 1\necho '%s'", output);
  return put_script(name, "/bin/kubeadm", text);
}

/* `cat path` in a container; caller frees; NULL when it fails. */
static char *cat_in(const char *container, const char *path) {
  char *out = NULL;
  if (kt_docker(&out, "exec %s cat %s", container, path) != 0) {
    free(out);
    return NULL;
  }
  return out;
}

static nw__kind_node_spec join_spec(const char *name, char *pid, size_t len) {
  snprintf(pid, len, "kind://docker/%s/%s", cluster, name);
  nw__kind_node_spec spec = {.name = name, .provider_id = pid,
                             .type = &k.cfg.types[0], .zone = k.cfg.zones[0],
                             .capacity_type = "on-demand"};
  return spec;
}

#define HASH "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_kubeadm_join(void) {
  char cp[160], node[160], pid[320], want[600];
  nw_error err = {0};
  snprintf(cp, sizeof(cp), "%s-control-plane", cluster);
  snprintf(node, sizeof(node), "%s-worker1", cluster);
  char join[400];
  snprintf(join, sizeof(join), "kubeadm join %s:6443 --token abcdef.0123456789abcdef "
           "--discovery-token-ca-cert-hash " HASH, cp);
  CU_ASSERT_EQUAL_FATAL(make_control_plane(cp, join), 0);
  CU_ASSERT_EQUAL_FATAL(make_join_node(node), 0);
  nw__kind_node_spec spec = join_spec(node, pid, sizeof(pid));
  nw_arena *a = nw__arena_new();
  CU_ASSERT_EQUAL(nw__kind_join(&k, &spec, a, &err), NW_OK);
  if (err.message[0])
    fprintf(stderr, "join: %s\n", err.message);

  char *args = cat_in(node, "/tmp/join-args");
  snprintf(want, sizeof(want), "join %s:6443 --token abcdef.0123456789abcdef "
           "--discovery-token-ca-cert-hash " HASH " --skip-phases=preflight\n", cp);
  CU_ASSERT_PTR_NOT_NULL_FATAL(args);
  CU_ASSERT_STRING_EQUAL(args, want);
  free(args);

  /* The kubelet learns its providerID, labels and the unregistered taint
   * from /etc/default/kubelet, as Karpenter's nodes do from user data. */
  char *kubelet = cat_in(node, "/etc/default/kubelet");
  CU_ASSERT_PTR_NOT_NULL_FATAL(kubelet);
  snprintf(want, sizeof(want), "--provider-id=%s ", pid);
  CU_ASSERT_PTR_NOT_NULL(strstr(kubelet, want));
  snprintf(want, sizeof(want), "node.kubernetes.io/instance-type=%s", k.cfg.types[0].name);
  CU_ASSERT_PTR_NOT_NULL(strstr(kubelet, want));
  CU_ASSERT_PTR_NOT_NULL(strstr(kubelet, "karpenter.sh/unregistered:NoExecute"));
  free(kubelet);

  /* A create retried after a crash finds the node joined: no second join. */
  CU_ASSERT_EQUAL(nw__kind_join(&k, &spec, a, &err), NW_OK);
  args = cat_in(node, "/tmp/join-args");
  CU_ASSERT_PTR_NOT_NULL(args);
  CU_ASSERT_PTR_NULL(args ? strchr(strchr(args, '\n') + 1, '\n') : NULL);
  free(args);
  kt_docker(NULL, "rm -f %s %s", cp, node);
  nw__arena_free(a);
}

static void test_kubeadm_join_errors(void) {
  char cp[160], node[160], pid[320];
  nw_error err = {0};
  snprintf(cp, sizeof(cp), "%s-control-plane", cluster);
  snprintf(node, sizeof(node), "%s-worker2", cluster);
  CU_ASSERT_EQUAL_FATAL(make_join_node(node), 0);
  nw__kind_node_spec spec = join_spec(node, pid, sizeof(pid));
  nw_arena *a = nw__arena_new();

  /* No control plane: the error says which labels were looked for. */
  CU_ASSERT_EQUAL(nw__kind_join(&k, &spec, a, &err), NW_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cluster));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "control-plane"));

  /* Output that is not a join command never reaches the node's shell. */
  CU_ASSERT_EQUAL_FATAL(make_control_plane(cp, "kubeadm join x:6443 --token a;reboot"), 0);
  memset(&err, 0, sizeof(err));
  CU_ASSERT_EQUAL(nw__kind_join(&k, &spec, a, &err), NW_ERR);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "unexpected output"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cp));
  CU_ASSERT_PTR_NULL(cat_in(node, "/tmp/join-args"));

  /* A control plane that does not run is not one to join. */
  kt_docker(NULL, "rm -f %s", cp);
  kt_docker(NULL, "create --name %s --network none --label io.x-k8s.kind.cluster=%s "
            "--label io.x-k8s.kind.role=control-plane %s", cp, cluster, KT_IMAGE);
  memset(&err, 0, sizeof(err));
  CU_ASSERT_EQUAL(nw__kind_join(&k, &spec, a, &err), NW_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no running control-plane"));
  kt_docker(NULL, "rm -f %s %s", cp, node);
  nw__arena_free(a);
}

NW_TEST_CASES({"negotiate", test_negotiate},
              {"exec_output_and_status", test_exec_output_and_status},
              {"exec_missing", test_exec_missing},
              {"kubeadm_join", test_kubeadm_join},
              {"kubeadm_join_errors", test_kubeadm_join_errors});
NW_TEST_MAIN("kind_exec", setup, teardown);
