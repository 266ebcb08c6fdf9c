#include "kube_testutil.h"

#include <CUnit/CUnit.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const nw__kube_resource KT_CONFIGMAPS = {"", "v1", "configmaps", "ConfigMap", 1};

static void on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }

int kt_run_until(uv_loop_t *loop, const int *flag, int timeout_ms) {
  uv_timer_t t;
  int expired = 0;
  uv_timer_init(loop, &t);
  t.data = &expired;
  uv_timer_start(&t, on_deadline, (uint64_t)timeout_ms, 0);
  while (!*flag && !expired)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return *flag;
}

void kt_drain(uv_loop_t *loop) {
  for (int i = 0; i < 100 && uv_run(loop, UV_RUN_NOWAIT); i++) {
  }
}

nw__kube_config *kt_config(const char *path, const char *context) {
  nw_error err = {0};
  nw__kube_config *cfg = nw__kube_config_load(path, context, &err);
  if (!cfg)
    fprintf(stderr, "kubeconfig: %s\n", err.message);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  return cfg;
}

const char *kt_namespace(nw__kube_client *c, const char *prefix) {
  static char name[128];
  nw_error err = {0};
  snprintf(name, sizeof(name), "%s-%d-%ld", prefix, (int)getpid(),
           (long)(uv_hrtime() % 100000));
  json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind",
                         "Namespace", "metadata", "name", name);
  char *path = nw__kube_path(&NW__KUBE_NAMESPACES, NULL, NULL, NULL, NULL);
  nw_status st = nw__kube_call(c, "POST", path, NULL, ns, NULL, NULL, &err);
  free(path);
  json_decref(ns);
  if (st != NW_OK) {
    fprintf(stderr, "namespace: %s\n", err.message);
    return NULL;
  }
  /* Pods need the default service account, which the controller-manager
   * creates a moment later; creating it here avoids waiting.  AlreadyExists
   * is fine. */
  json_t *sa = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind",
                         "ServiceAccount", "metadata", "name", "default");
  path = nw__kube_path(&NW__KUBE_SERVICEACCOUNTS, name, NULL, NULL, NULL);
  nw__kube_call(c, "POST", path, NULL, sa, NULL, NULL, &err);
  free(path);
  json_decref(sa);
  return name;
}

void kt_delete_namespace(nw__kube_client *c, const char *ns) {
  char *path = nw__kube_path(&NW__KUBE_NAMESPACES, NULL, ns, NULL, NULL);
  nw__kube_call(c, "DELETE", path, NULL, NULL, NULL, NULL, NULL);
  free(path);
}

int kt_sh(char **out, const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  FILE *p = popen(cmd, "r");
  if (!p)
    return -1;
  size_t cap = 4096;
  size_t len = 0;
  char *buf = malloc(cap);
  for (;;) {
    size_t n = fread(buf + len, 1, cap - len - 1, p);
    if (n == 0)
      break;
    len += n;
    if (len + 1 >= cap) {
      cap *= 2;
      buf = realloc(buf, cap);
    }
  }
  buf[len] = '\0';
  int rc = pclose(p);
  if (out)
    *out = buf;
  else
    free(buf);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

json_t *kt_configmap(const char *ns, const char *name, const char *label_value) {
  return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1",
                   "kind", "ConfigMap", "metadata", "name", name, "namespace", ns,
                   "labels", "tier", label_value, "data", "k", "v");
}
