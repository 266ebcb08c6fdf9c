/* Unit tests of kubeconfig / in-cluster loading and credential handling. */
#include "nwtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube/config.h"
#include "kube/kutil.h"
#include "kube/resource.h"

static char g_dir[256];

static const char *PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";

static const char *path_in(const char *name) {
  static char buf[4][512];
  static int i;
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof(buf[i]), "%s/%s", g_dir, name);
  return buf[i];
}

static void write_file(const char *name, const char *text, int mode) {
  FILE *f = fopen(path_in(name), "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs(text, f);
  fclose(f);
  chmod(path_in(name), (mode_t)mode);
}

static char *b64(const char *s) {
  static const char tbl[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = strlen(s);
  char *out = malloc(n * 2 + 8);
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned char)s[i] << 16;
    if (i + 1 < n)
      v |= (unsigned char)s[i + 1] << 8;
    if (i + 2 < n)
      v |= (unsigned char)s[i + 2];
    out[o++] = tbl[(v >> 18) & 63];
    out[o++] = tbl[(v >> 12) & 63];
    out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? tbl[v & 63] : '=';
  }
  out[o] = '\0';
  return out;
}

/* Writes a kubeconfig whose user section is `user` (indented 4). */
static const char *kubeconfig(const char *name, const char *cluster_extra,
                              const char *user) {
  char *ca = b64(PEM);
  char text[8192];
  snprintf(text, sizeof(text),
           "apiVersion: v1\nkind: Config\ncurrent-context: main\n"
           "clusters:\n"
           "- name: other\n  cluster:\n    server: https://10.0.0.1:6443\n"
           "- name: c1\n  cluster:\n    server: https://127.0.0.1:6443/\n"
           "    certificate-authority-data: %s\n%s"
           "contexts:\n"
           "- name: main\n  context:\n    cluster: c1\n    user: u1\n    namespace: team-a\n"
           "- name: alt\n  context:\n    cluster: other\n    user: u1\n"
           "- name: broken\n  context:\n    cluster: nope\n    user: u1\n"
           "users:\n- name: u1\n  user:\n%s",
           ca, cluster_extra, user);
  free(ca);
  write_file(name, text, 0644);
  return path_in(name);
}

/* The Authorization header apply() produced, or "" (static buffer). */
static const char *bearer(nw__kube_config *cfg, nw_status *st, nw_error *err) {
  static char out[512];
  CURL *e = curl_easy_init();
  struct curl_slist *h = NULL;
  out[0] = '\0';
  *st = nw__kube_config_apply(cfg, e, &h, err);
  for (struct curl_slist *p = h; p; p = p->next) {
    if (strncmp(p->data, "Authorization: Bearer ", 22) == 0)
      snprintf(out, sizeof(out), "%s", p->data + 22);
  }
  curl_slist_free_all(h);
  curl_easy_cleanup(e);
  return out;
}

static int setup(void) {
  snprintf(g_dir, sizeof(g_dir), "/tmp/nw-kubeconfig-XXXXXX");
  return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void test_token_and_context(void) {
  nw_error err = {0};
  nw_status st;
  const char *p = kubeconfig("kc1", "", "    token: s3cret\n");
  nw__kube_config *cfg = nw__kube_config_load(p, NULL, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  CU_ASSERT_STRING_EQUAL(nw__kube_config_server(cfg), "https://127.0.0.1:6443");
  CU_ASSERT_STRING_EQUAL(nw__kube_config_namespace(cfg), "team-a");
  CU_ASSERT_FALSE(nw__kube_config_insecure(cfg));
  CU_ASSERT_STRING_EQUAL(bearer(cfg, &st, &err), "s3cret");
  CU_ASSERT_EQUAL(st, NW_OK);
  nw__kube_config_free(cfg);

  cfg = nw__kube_config_load(p, "alt", &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  CU_ASSERT_STRING_EQUAL(nw__kube_config_server(cfg), "https://10.0.0.1:6443");
  CU_ASSERT_STRING_EQUAL(nw__kube_config_namespace(cfg), "default");
  nw__kube_config_free(cfg);
}

static void test_client_cert_files_relative(void) {
  nw_error err = {0};
  nw_status st;
  write_file("client.crt", PEM, 0644);
  write_file("client.key", "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n", 0600);
  const char *p = kubeconfig("kc2", "    insecure-skip-tls-verify: true\n",
                             "    client-certificate: client.crt\n"
                             "    client-key: client.key\n");
  nw__kube_config *cfg = nw__kube_config_load(p, NULL, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  CU_ASSERT_TRUE(nw__kube_config_insecure(cfg));
  CU_ASSERT_STRING_EQUAL(bearer(cfg, &st, &err), "");
  CU_ASSERT_EQUAL(st, NW_OK);
  nw__kube_config_free(cfg);
}

/* Loads and expects failure whose message contains every fragment. */
static void expect_error(const char *path, const char *context,
                         const char *frag1, const char *frag2) {
  nw_error err = {0};
  nw__kube_config *cfg = nw__kube_config_load(path, context, &err);
  CU_ASSERT_PTR_NULL(cfg);
  nw__kube_config_free(cfg);
  CU_ASSERT_EQUAL(err.status, NW_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, frag1));
  if (frag2)
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, frag2));
  if (!strstr(err.message, frag1) || (frag2 && !strstr(err.message, frag2)))
    fprintf(stderr, "unexpected message: %s\n", err.message);
}

static void test_malformed(void) {
  write_file("bad.yaml", "clusters:\n  - name: x\n   bad: [\n", 0644);
  expect_error(path_in("bad.yaml"), NULL, path_in("bad.yaml"), ":3:");
  write_file("list.yaml", "- just\n- a list\n", 0644);
  expect_error(path_in("list.yaml"), NULL, "not a YAML mapping", NULL);
  expect_error(path_in("does-not-exist"), NULL, "cannot read", "does-not-exist");

  const char *p = kubeconfig("kc3", "", "    client-key-data: '!!notbase64'\n"
                                        "    client-certificate-data: QUJD\n");
  expect_error(p, NULL, "users[0] (\"u1\").user.client-certificate-data",
               "PEM");
  p = kubeconfig("kc4", "", "    client-key-data: '!!notbase64'\n");
  expect_error(p, NULL, "users[0] (\"u1\").user.client-key-data", "base64");
  p = kubeconfig("kc5", "    insecure-skip-tls-verify: yes please\n", "    token: x\n");
  expect_error(p, NULL, "clusters[1] (\"c1\").cluster.insecure-skip-tls-verify",
               "true or false");
  p = kubeconfig("kc6", "", "    token: x\n");
  expect_error(p, "nope", "contexts", "no entry named \"nope\"");
  expect_error(p, "broken", "clusters", "no entry named \"nope\"");
  p = kubeconfig("kc7", "", "    client-certificate: missing.crt\n    client-key: k\n");
  expect_error(p, NULL, "client-certificate", "missing.crt");
  p = kubeconfig("kc8", "", "    exec:\n      apiVersion: client.authentication.k8s.io/v1alpha1\n"
                            "      command: aws\n");
  expect_error(p, NULL, "user.exec.apiVersion", "v1alpha1");
  write_file("kc9", "current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: c\n"
                    "clusters:\n- name: c\n  cluster:\n    server: ftp://x\n", 0644);
  expect_error(path_in("kc9"), NULL, "clusters[0] (\"c\").cluster.server", "ftp://x");
  write_file("kc10", "contexts: []\n", 0644);
  expect_error(path_in("kc10"), NULL, "current-context", "not set");
}

static const char *EXEC_SCRIPT =
    "#!/bin/sh\n"
    "echo run >> \"$COUNT_FILE\"\n"
    "n=$(wc -l < \"$COUNT_FILE\")\n"
    "[ \"$1\" = fail ] && { echo oops >&2; exit 3; }\n"
    "case \"$KUBERNETES_EXEC_INFO\" in *ExecCredential*) ;; *) exit 9 ;; esac\n"
    "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
    "\"status\":{\"token\":\"tok-'$n'\",\"expirationTimestamp\":\"'\"$EXPIRY\"'\"}}'\n";

static int count_runs(void) {
  char *t = nw__kube_read_file(path_in("runs"), NULL);
  int n = 0;
  for (char *p = t; p && *p; p++)
    n += *p == '\n';
  free(t);
  return n;
}

static nw__kube_config *exec_config(const char *name, const char *expiry,
                                    const char *arg) {
  char user[1024];
  nw_error err = {0};
  write_file("plugin.sh", EXEC_SCRIPT, 0755);
  unlink(path_in("runs"));
  snprintf(user, sizeof(user),
           "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
           "      command: ./plugin.sh\n      args: [%s]\n"
           "      env:\n      - name: COUNT_FILE\n        value: %s\n"
           "      - name: EXPIRY\n        value: \"%s\"\n",
           arg, path_in("runs"), expiry);
  nw__kube_config *cfg = nw__kube_config_load(kubeconfig(name, "", user), NULL, &err);
  if (!cfg)
    fprintf(stderr, "%s\n", err.message);
  return cfg;
}

static void test_exec_plugin_cached(void) {
  nw_error err = {0};
  nw_status st;
  nw__kube_config *cfg = exec_config("kce1", "2099-01-01T00:00:00Z", "ok");
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  CU_ASSERT_STRING_EQUAL(bearer(cfg, &st, &err), "tok-1");
  CU_ASSERT_STRING_EQUAL(bearer(cfg, &st, &err), "tok-1");
  CU_ASSERT_EQUAL(count_runs(), 1);
  /* After a 401 the client invalidates: the plugin runs again. */
  nw__kube_config_invalidate(cfg);
  CU_ASSERT_STRING_EQUAL(bearer(cfg, &st, &err), "tok-2");
  CU_ASSERT_EQUAL(count_runs(), 2);
  nw__kube_config_free(cfg);
}

static void test_exec_plugin_expired(void) {
  nw_error err = {0};
  nw_status st;
  nw__kube_config *cfg = exec_config("kce2", "2001-01-01T00:00:00Z", "ok");
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  CU_ASSERT_STRING_EQUAL(bearer(cfg, &st, &err), "tok-1");
  CU_ASSERT_STRING_EQUAL(bearer(cfg, &st, &err), "tok-2");
  CU_ASSERT_EQUAL(count_runs(), 2);
  nw__kube_config_free(cfg);
}

static void test_exec_plugin_fails(void) {
  nw_error err = {0};
  nw_status st;
  nw__kube_config *cfg = exec_config("kce3", "2099-01-01T00:00:00Z", "fail");
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  bearer(cfg, &st, &err);
  CU_ASSERT_EQUAL(st, NW_ERR_AUTH);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "exited with status 3"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "plugin.sh"));
  nw__kube_config_free(cfg);
}

static void test_in_cluster_rotation(void) {
  nw_error err = {0};
  nw_status st;
  mkdir(path_in("sa"), 0755);
  write_file("sa/ca.crt", PEM, 0644);
  write_file("sa/token", "first\n", 0600);
  write_file("sa/namespace", "kube-system", 0644);
  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  nw__kube_config *cfg = nw__kube_config_in_cluster(path_in("sa"), &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  CU_ASSERT_STRING_EQUAL(nw__kube_config_server(cfg), "https://[fd00::1]:443");
  CU_ASSERT_STRING_EQUAL(nw__kube_config_namespace(cfg), "kube-system");
  CU_ASSERT_STRING_EQUAL(bearer(cfg, &st, &err), "first");
  /* The kubelet rotates projected tokens by replacing the file. */
  write_file("sa/token.new", "second-longer\n", 0600);
  rename(path_in("sa/token.new"), path_in("sa/token"));
  CU_ASSERT_STRING_EQUAL(bearer(cfg, &st, &err), "second-longer");
  unlink(path_in("sa/token"));
  bearer(cfg, &st, &err);
  CU_ASSERT_EQUAL(st, NW_ERR_AUTH);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "sa/token"));
  nw__kube_config_free(cfg);

  unsetenv("KUBERNETES_SERVICE_HOST");
  cfg = nw__kube_config_in_cluster(path_in("sa"), &err);
  CU_ASSERT_PTR_NULL(cfg);
  CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "KUBERNETES_SERVICE_HOST"));
}

static void test_paths_and_time(void) {
  char *p = nw__kube_path(&NW__KUBE_PODS, "ns1", "web", "eviction", NULL);
  CU_ASSERT_STRING_EQUAL(p, "/api/v1/namespaces/ns1/pods/web/eviction");
  free(p);
  p = nw__kube_path(&NW__KUBE_NODECLAIMS, "ignored", NULL, NULL, "limit=5");
  CU_ASSERT_STRING_EQUAL(p, "/apis/karpenter.sh/v1/nodeclaims?limit=5");
  free(p);
  p = nw__kube_path(&NW__KUBE_PODS, NULL, NULL, NULL, NULL);
  CU_ASSERT_STRING_EQUAL(p, "/api/v1/pods");
  free(p);
  char *e = nw__kube_escape("a=b,c!=d");
  CU_ASSERT_STRING_EQUAL(e, "a%3Db%2Cc%21%3Dd");
  free(e);
  CU_ASSERT_EQUAL(nw__kube_parse_time("2026-01-02T03:04:05Z"), 1767323045000LL);
  CU_ASSERT_EQUAL(nw__kube_parse_time("2026-01-02T04:04:05.250+01:00"), 1767323045250LL);
  CU_ASSERT_EQUAL(nw__kube_parse_time("yesterday"), -1);
  char buf[64];
  nw__kube_format_time(1767323045250LL, buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "2026-01-02T03:04:05.250000Z");
  size_t n = 0;
  unsigned char *d = nw__kube_b64_decode("aGVs\nbG8=", &n);
  CU_ASSERT_EQUAL(n, 5);
  CU_ASSERT_STRING_EQUAL((char *)d, "hello");
  free(d);
  CU_ASSERT_PTR_NULL(nw__kube_b64_decode("abc", &n));
}

NW_TEST_CASES({"token_and_context", test_token_and_context},
              {"client_cert_files_relative", test_client_cert_files_relative},
              {"malformed", test_malformed},
              {"exec_plugin_cached", test_exec_plugin_cached},
              {"exec_plugin_expired", test_exec_plugin_expired},
              {"exec_plugin_fails", test_exec_plugin_fails},
              {"in_cluster_rotation", test_in_cluster_rotation},
              {"paths_and_time", test_paths_and_time});
NW_TEST_MAIN("kubeconfig", setup, teardown);
