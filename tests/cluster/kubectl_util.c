#include "kubectl_util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef NW_TEST_KUBECONFIG
#error "NW_TEST_KUBECONFIG must name the fixture cluster's kubeconfig"
#endif

/* Runs cmd through the shell, collecting stdout+stderr into *out. */
static int run_shell(char **out, const char *cmd) {
  char *full = NULL;
  if (asprintf(&full, "%s 2>&1", cmd) < 0)
    return -1;
  FILE *p = popen(full, "r");
  free(full);
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap);
  if (!p || !buf) {
    if (p)
      pclose(p);
    free(buf);
    if (out)
      *out = strdup("");
    return -1;
  }
  size_t n;
  while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
    len += n;
    if (cap - len < 1024) {
      cap *= 2;
      char *grown = realloc(buf, cap);
      if (!grown)
        break;
      buf = grown;
    }
  }
  buf[len] = '\0';
  int st = pclose(p);
  if (out)
    *out = buf;
  else
    free(buf);
  if (st == -1 || !WIFEXITED(st))
    return -1;
  return WEXITSTATUS(st);
}

static int vkubectl(char **out, const char *stdin_file, const char *fmt,
                    va_list ap) {
  char *args = NULL;
  if (vasprintf(&args, fmt, ap) < 0)
    return -1;
  char *cmd = NULL;
  int rc = asprintf(&cmd, "kubectl --kubeconfig '%s' --request-timeout=30s %s%s%s",
                    NW_TEST_KUBECONFIG, args, stdin_file ? " < " : "",
                    stdin_file ? stdin_file : "");
  free(args);
  if (rc < 0)
    return -1;
  rc = run_shell(out, cmd);
  free(cmd);
  return rc;
}

int nwt_kubectl(char **out, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vkubectl(out, NULL, fmt, ap);
  va_end(ap);
  return rc;
}

int nwt_kubectl_stdin(const char *manifest, char **out, const char *fmt, ...) {
  char path[] = "/tmp/nwt-manifest-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) {
    if (out)
      *out = strdup("mkstemp failed");
    return -1;
  }
  size_t len = strlen(manifest);
  ssize_t w = write(fd, manifest, len);
  close(fd);
  int rc = -1;
  if (w == (ssize_t)len) {
    va_list ap;
    va_start(ap, fmt);
    rc = vkubectl(out, path, fmt, ap);
    va_end(ap);
  } else if (out) {
    *out = strdup("writing the manifest failed");
  }
  unlink(path);
  return rc;
}

static json_t *vkubectl_json(const char *fmt, va_list ap) {
  char *out = NULL;
  /* stderr is merged into out; kubectl prints nothing there on success. */
  int rc = vkubectl(&out, NULL, fmt, ap);
  json_t *j = NULL;
  if (rc == 0)
    j = json_loads(out, 0, NULL);
  free(out);
  return j;
}

json_t *nwt_kubectl_json(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  json_t *j = vkubectl_json(fmt, ap);
  va_end(ap);
  return j;
}

int nwt_sh(char **out, const char *fmt, ...) {
  char *cmd = NULL;
  va_list ap;
  va_start(ap, fmt);
  int rc = vasprintf(&cmd, fmt, ap);
  va_end(ap);
  if (rc < 0)
    return -1;
  rc = run_shell(out, cmd);
  free(cmd);
  return rc;
}

json_t *nwt_json_at(json_t *obj, const char *path) {
  char buf[512];
  snprintf(buf, sizeof(buf), "%s", path);
  json_t *cur = obj;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ".", &save); tok && cur;
       tok = strtok_r(NULL, ".", &save)) {
    if (json_is_array(cur) && isdigit((unsigned char)tok[0]))
      cur = json_array_get(cur, strtoul(tok, NULL, 10));
    else
      cur = json_object_get(cur, tok);
  }
  return cur;
}

const char *nwt_json_str(json_t *obj, const char *path) {
  return json_string_value(nwt_json_at(obj, path));
}

int nwt_wait_field(int timeout_s, const char *path, const char *want,
                   const char *get_fmt, ...) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    va_list ap;
    va_start(ap, get_fmt);
    json_t *j = vkubectl_json(get_fmt, ap);
    va_end(ap);
    const char *got = nwt_json_str(j, path);
    int ok = got && strcmp(got, want) == 0;
    json_decref(j);
    if (ok)
      return 1;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= timeout_s)
      return 0;
    usleep(200 * 1000);
  }
}

const char *nwt_unique(const char *prefix) {
  static char buf[128];
  static unsigned counter;
  snprintf(buf, sizeof(buf), "%s-%ld-%u", prefix, (long)getpid(), ++counter);
  return buf;
}
