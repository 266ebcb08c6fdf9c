#include "pricing_test.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/http.h"
#include "nwtest.h"
#include "util/arena.h"

int64_t pt_now_ms = 1784541600000; /* 2026-07-20T10:00:00Z */

static int64_t clock_ms(void *user) {
  (void)user;
  return pt_now_ms;
}

int pt_load(pt_plugin *p, const char *config_json, char *err, size_t errlen) {
  const nw__host_hooks hooks = {.now_ms = clock_ms, .monotonic_ms = clock_ms};
  memset(p, 0, sizeof(*p));
  p->set = nw__plugins_new(&hooks);
  nw__plugin *pl = nw__plugins_load(p->set, NW_TEST_PLUGIN_DIR "/pricing.so",
                                    config_json, 0, err, errlen);
  if (!pl) {
    nw__plugins_free(p->set);
    p->set = NULL;
    return -1;
  }
  p->vt = nw__plugin_pricing(pl);
  p->state = nw__plugin_state(pl);
  return 0;
}

void pt_unload(pt_plugin *p) {
  nw__plugins_free(p->set);
  memset(p, 0, sizeof(*p));
}

nw_status pt_price(pt_plugin *p, const char *type, const char *zone,
                   const char *ct, double *usd) {
  nw_error err = {0};
  return p->vt->price(p->state, type, zone, ct, usd, &err);
}

json_t *pt_snapshot_region(void) {
  static json_t *root;
  if (!root)
    root = json_load_file(nw_test_src_path("configs/pricing/aws-snapshot.json"),
                          0, NULL);
  return json_object_get(json_object_get(root, "regions"), "us-east-1");
}

void pt_fake_aws_env(void) {
  setenv("AWS_ACCESS_KEY_ID", "testing", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "testing", 1);
  unsetenv("AWS_SESSION_TOKEN");
  unsetenv("AWS_PROFILE");
  setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
  unsetenv("AWS_ENDPOINT_URL");
  unsetenv("AWS_ENDPOINT_URL_PRICING");
  unsetenv("AWS_ENDPOINT_URL_EC2");
}

/* Reads one line from fd within timeout_ms; 0 on success. */
static int read_line(int fd, char *line, size_t len, int timeout_ms) {
  size_t n = 0;
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  while (n + 1 < len) {
    if (poll(&pfd, 1, timeout_ms) <= 0)
      return -1;
    if (read(fd, line + n, 1) != 1)
      return -1;
    if (line[n] == '\n')
      break;
    n++;
  }
  line[n] = '\0';
  return 0;
}

int pt_server_start(pt_server *s, const char *const *args) {
  const char *argv[32] = {"python3",
                          nw_test_src_path("tests/pricing/pricelist_server.py")};
  char script[4096];
  snprintf(script, sizeof(script), "%s", argv[1]);
  argv[1] = script;
  char snap[4096];
  snprintf(snap, sizeof(snap), "%s",
           nw_test_src_path("configs/pricing/aws-snapshot.json"));
  size_t n = 2;
  argv[n++] = "--snapshot";
  argv[n++] = snap;
  for (size_t i = 0; args && args[i] && n < 31; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  int fds[2];
  if (pipe(fds) != 0)
    return -1;
  s->pid = fork();
  if (s->pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execvp("python3", (char *const *)argv);
    _exit(127);
  }
  close(fds[1]);
  char line[128];
  int rc = read_line(fds[0], line, sizeof(line), 20000);
  close(fds[0]);
  if (rc != 0 || sscanf(line, "PORT=%d", &s->port) != 1) {
    pt_server_stop(s);
    return -1;
  }
  snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d/", s->port);
  return 0;
}

void pt_server_stop(pt_server *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
  }
  s->pid = 0;
}

static json_t *request(const pt_server *s, const char *method,
                       const char *path, const char *body) {
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
  nw_http_request req = {.size = sizeof(req), .method = method, .url = url,
                         .body = body, .body_len = body ? strlen(body) : 0};
  nw_http_response resp;
  nw_error err = {0};
  nw_arena *a = nw__arena_new();
  json_t *out = NULL;
  if (nw__http_request(&req, &resp, a, &err) == NW_OK && resp.status == 200)
    out = json_loads(resp.body, 0, NULL);
  nw__arena_free(a);
  return out;
}

json_t *pt_server_get(const pt_server *s, const char *path) {
  return request(s, "GET", path, NULL);
}

int pt_server_control(const pt_server *s, const char *json) {
  json_t *r = request(s, "POST", "/__control", json);
  json_decref(r);
  return r ? 0 : -1;
}
