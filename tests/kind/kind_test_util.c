#include "kind_test_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int kt_load(kt_plugin *kp, const char *config_json, const nw__host_hooks *hooks,
            char *err, size_t errlen) {
  memset(kp, 0, sizeof(*kp));
  err[0] = '\0';
  kp->set = nw__plugins_new(hooks);
  if (!kp->set) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  kp->p = nw__plugins_load(kp->set, NW_TEST_PLUGIN_DIR "/kind.so", config_json,
                           0, err, errlen);
  if (!kp->p) {
    nw__plugins_free(kp->set);
    kp->set = NULL;
    return -1;
  }
  kp->vt = nw__plugin_provider(kp->p);
  kp->state = nw__plugin_state(kp->p);
  return 0;
}

void kt_unload(kt_plugin *kp) {
  nw__plugins_free(kp->set);
  memset(kp, 0, sizeof(*kp));
}

const char *kt_cluster(const char *tag) {
  static char buf[64];
  snprintf(buf, sizeof(buf), "nwt-%ld-%s", (long)getpid(), tag);
  return buf;
}

const char *kt_config(const char *cluster, const char *extra) {
  static char buf[2048];
  snprintf(buf, sizeof(buf),
           "{\"socket\":\"%s\",\"clusterName\":\"%s\",\"image\":\"%s\"%s}",
           NW_TEST_DOCKER_SOCKET, cluster, KT_IMAGE, extra ? extra : "");
  return buf;
}

int kt_docker(char **out, const char *fmt, ...) {
  char args[2048], cmd[2400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof(args), fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof(cmd), "docker -H unix://%s %s 2>&1", NW_TEST_DOCKER_SOCKET,
           args);
  FILE *p = popen(cmd, "r");
  if (!p)
    return -1;
  char *buf = NULL;
  size_t len = 0, cap = 0;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) {
    if (len + n + 1 > cap) {
      cap = (len + n + 1) * 2;
      buf = realloc(buf, cap);
    }
    memcpy(buf + len, chunk, n);
    len += n;
  }
  if (!buf)
    buf = calloc(1, 1);
  else
    buf[len] = '\0';
  int rc = pclose(p);
  if (out)
    *out = buf;
  else
    free(buf);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

json_t *kt_inspect(const char *name) {
  char *out = NULL;
  if (kt_docker(&out, "inspect %s", name) != 0) {
    free(out);
    return NULL;
  }
  json_t *arr = json_loads(out, 0, NULL);
  free(out);
  json_t *one = json_incref(json_array_get(arr, 0));
  json_decref(arr);
  return one;
}

void kt_remove_cluster(const char *cluster) {
  char *ids = NULL;
  if (kt_docker(&ids, "ps -aq --filter label=io.x-k8s.kind.cluster=%s", cluster) == 0) {
    for (char *save = NULL, *id = strtok_r(ids, "\n", &save); id;
         id = strtok_r(NULL, "\n", &save))
      kt_docker(NULL, "rm -f -v %s", id);
  }
  free(ids);
}
