/*
 * The Docker Engine API client: requests over the unix socket through the
 * host's HTTP service, version negotiation, and docker exec.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "kind.h"

/* Percent-encodes s for a query string into out. */
void nw__kind_url_encode(const char *s, char *out, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (; *s && o + 4 < len; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~') {
      out[o++] = (char)c;
    } else {
      out[o++] = '%';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    }
  }
  out[o] = '\0';
}

/* Parses "1.41" into 41; -1 when it is not a 1.x version. */
static int api_minor(const char *v) {
  char *end;
  if (!v || strncmp(v, "1.", 2) != 0)
    return -1;
  errno = 0;
  long m = strtol(v + 2, &end, 10);
  if (errno || end == v + 2 || *end || m < 0 || m > 1000)
    return -1;
  return (int)m;
}

int nw__kind_pick_version(const char *server_max, const char *server_min,
                          char *out, size_t outlen) {
  int max = api_minor(server_max);
  int min = server_min ? api_minor(server_min) : NW_KIND_API_MIN_MINOR;
  if (max < 0 || min < 0)
    return -1;
  int v = max < NW_KIND_API_MAX_MINOR ? max : NW_KIND_API_MAX_MINOR;
  if (v < NW_KIND_API_MIN_MINOR || v < min)
    return -1;
  snprintf(out, outlen, "/v1.%d", v);
  return 0;
}

static const char *header(const nw_http_response *r, const char *name) {
  for (size_t i = 0; i < r->n_headers; i++) {
    if (r->headers[i].name && strcasecmp(r->headers[i].name, name) == 0)
      return r->headers[i].value;
  }
  return NULL;
}

/* One raw request (no version prefix handling). */
static nw_status raw(nw__kind *k, const char *method, const char *path,
                     const char *body, nw_arena *arena, nw_http_response *resp,
                     nw_error *err) {
  char url[2048];
  struct stat sb;
  nw_http_header hdr = {"Content-Type", "application/json"};
  if (stat(k->cfg.socket, &sb) != 0)
    return nw__kind_err(err, NW_ERR_RETRYABLE,
                        "docker: socket %s: %s (is dockerd running? set the "
                        "kind plugin's \"socket\" config)", k->cfg.socket,
                        strerror(errno));
  if (snprintf(url, sizeof(url), "http://localhost%s", path) >= (int)sizeof(url))
    return nw__kind_err(err, NW_ERR_INVALID, "docker: request path too long");
  nw_http_request req = {
      .size = sizeof(req),
      .method = method,
      .url = url,
      .unix_socket = k->cfg.socket,
      .n_headers = body ? 1 : 0,
      .headers = body ? &hdr : NULL,
      .body = body,
      .body_len = body ? strlen(body) : 0,
      .timeout_ms = k->cfg.timeout_ms,
  };
  memset(resp, 0, sizeof(*resp));
  nw_status st = k->host->http(k->h, &req, resp, arena, err);
  if (st != NW_OK) {
    char why[400];
    snprintf(why, sizeof(why), "%.399s", err ? err->message : "");
    return nw__kind_err(err, st, "docker: %s %s via %s: %s", method, path,
                        k->cfg.socket, why);
  }
  return NW_OK;
}

nw_status nw__kind_negotiate(nw__kind *k, nw_arena *arena, nw_error *err) {
  nw_http_response ping, ver;
  char prefix[16];
  nw_status st = raw(k, "GET", "/_ping", NULL, arena, &ping, err);
  if (st != NW_OK)
    return st;
  const char *max = header(&ping, "Api-Version");
  if (ping.status != 200 || !max)
    return nw__kind_err(err, NW_ERR,
                        "docker: %s does not answer /_ping like a Docker Engine "
                        "(HTTP %ld)", k->cfg.socket, ping.status);
  /* /version names the oldest API the daemon still serves. */
  st = raw(k, "GET", "/version", NULL, arena, &ver, err);
  if (st != NW_OK)
    return st;
  json_t *v = json_loads(ver.body ? ver.body : "", 0, NULL);
  const char *min = json_string_value(json_object_get(v, "MinAPIVersion"));
  const char *server = json_string_value(json_object_get(v, "Version"));
  int rc = nw__kind_pick_version(max, min, prefix, sizeof(prefix));
  if (rc == 0) {
    pthread_mutex_lock(&k->api_lock);
    memcpy(k->api_prefix, prefix, sizeof(prefix));
    pthread_mutex_unlock(&k->api_lock);
    k->host->log(k->h, NW_LOG_INFO, "docker %s at %s: API %s",
                 server ? server : "?", k->cfg.socket, prefix + 1);
  } else {
    nw__kind_err(err, NW_ERR_INVALID,
                 "docker: the daemon at %s serves API %s..%s; this plugin "
                 "needs 1.%d..1.%d", k->cfg.socket, min ? min : "?", max,
                 NW_KIND_API_MIN_MINOR, NW_KIND_API_MAX_MINOR);
  }
  json_decref(v);
  return rc == 0 ? NW_OK : NW_ERR_INVALID;
}

int nw__kind_have_version(nw__kind *k) {
  pthread_mutex_lock(&k->api_lock);
  int have = k->api_prefix[0] != '\0';
  pthread_mutex_unlock(&k->api_lock);
  return have;
}

typedef struct body_acc {
  char buf[8192];
  size_t len;
} body_acc;

static int acc_chunk(void *user, const char *data, size_t len) {
  body_acc *b = user;
  size_t n = sizeof(b->buf) - 1 - b->len;
  if (len > n)
    return 1;
  memcpy(b->buf + b->len, data, len);
  b->len += len;
  b->buf[b->len] = '\0';
  return 0;
}

nw_status nw__kind_negotiate_stream(nw__kind *k, nw_error *err) {
  struct stat sb;
  body_acc b = {{0}, 0};
  long status = 0;
  char prefix[16];
  if (stat(k->cfg.socket, &sb) != 0)
    return nw__kind_err(err, NW_ERR_RETRYABLE,
                        "docker: socket %s: %s (is dockerd running? set the "
                        "kind plugin's \"socket\" config)", k->cfg.socket,
                        strerror(errno));
  nw_http_request req = {.size = sizeof(req), .method = "GET",
                         .url = "http://localhost/version",
                         .unix_socket = k->cfg.socket,
                         .timeout_ms = k->cfg.timeout_ms};
  nw_status st = k->host->http_stream(k->h, &req, acc_chunk, &b, &status, err);
  if (st != NW_OK)
    return st;
  json_t *v = json_loads(b.buf, 0, NULL);
  const char *max = json_string_value(json_object_get(v, "ApiVersion"));
  const char *min = json_string_value(json_object_get(v, "MinAPIVersion"));
  int rc = status == 200 ? nw__kind_pick_version(max, min, prefix, sizeof(prefix)) : -1;
  if (rc == 0) {
    pthread_mutex_lock(&k->api_lock);
    memcpy(k->api_prefix, prefix, sizeof(prefix));
    pthread_mutex_unlock(&k->api_lock);
  } else {
    nw__kind_err(err, NW_ERR_INVALID,
                 "docker: %s: /version answered HTTP %ld with API %s..%s; "
                 "this plugin needs 1.%d..1.%d", k->cfg.socket, status,
                 min ? min : "?", max ? max : "?", NW_KIND_API_MIN_MINOR,
                 NW_KIND_API_MAX_MINOR);
  }
  json_decref(v);
  return rc == 0 ? NW_OK : NW_ERR_INVALID;
}

typedef struct heap_acc {
  char *data;
  size_t len;
} heap_acc;

static int heap_chunk(void *user, const char *data, size_t len) {
  heap_acc *b = user;
  if (b->len + len > 4 * 1024 * 1024)
    return 1;
  char *p = realloc(b->data, b->len + len + 1);
  if (!p)
    return 1;
  memcpy(p + b->len, data, len);
  b->len += len;
  p[b->len] = '\0';
  b->data = p;
  return 0;
}

nw_status nw__kind_docker_noarena(nw__kind *k, const char *method,
                                  const char *path, long *status, char **body,
                                  nw_error *err) {
  char prefix[16], url[2048];
  struct stat sb;
  heap_acc b = {NULL, 0};
  *body = NULL;
  *status = 0;
  if (!nw__kind_have_version(k)) {
    nw_status st = nw__kind_negotiate_stream(k, err);
    if (st != NW_OK)
      return st;
  }
  if (stat(k->cfg.socket, &sb) != 0)
    return nw__kind_err(err, NW_ERR_RETRYABLE,
                        "docker: socket %s: %s (is dockerd running? set the "
                        "kind plugin's \"socket\" config)", k->cfg.socket,
                        strerror(errno));
  pthread_mutex_lock(&k->api_lock);
  memcpy(prefix, k->api_prefix, sizeof(prefix));
  pthread_mutex_unlock(&k->api_lock);
  snprintf(url, sizeof(url), "http://localhost%s%s", prefix, path);
  nw_http_request req = {.size = sizeof(req), .method = method, .url = url,
                         .unix_socket = k->cfg.socket,
                         .timeout_ms = k->cfg.timeout_ms};
  nw_status st = k->host->http_stream(k->h, &req, heap_chunk, &b, status, err);
  if (st != NW_OK) {
    char why[400];
    snprintf(why, sizeof(why), "%.399s", err ? err->message : "");
    free(b.data);
    pthread_mutex_lock(&k->api_lock);
    k->api_prefix[0] = '\0';
    pthread_mutex_unlock(&k->api_lock);
    return nw__kind_err(err, st, "docker: %s %s via %s: %s", method, path,
                        k->cfg.socket, why);
  }
  *body = b.data ? b.data : strdup("");
  return NW_OK;
}

nw_status nw__kind_docker(nw__kind *k, const char *method, const char *path,
                          const char *body, nw_arena *arena,
                          nw_http_response *resp, nw_error *err) {
  char prefix[16], full[2048];
  pthread_mutex_lock(&k->api_lock);
  memcpy(prefix, k->api_prefix, sizeof(prefix));
  pthread_mutex_unlock(&k->api_lock);
  if (!prefix[0]) {
    nw_status st = nw__kind_negotiate(k, arena, err);
    if (st != NW_OK)
      return st;
    pthread_mutex_lock(&k->api_lock);
    memcpy(prefix, k->api_prefix, sizeof(prefix));
    pthread_mutex_unlock(&k->api_lock);
  }
  snprintf(full, sizeof(full), "%s%s", prefix, path);
  nw_status st = raw(k, method, full, body, arena, resp, err);
  if (st != NW_OK) {
    /* The daemon may come back upgraded: negotiate again next time. */
    pthread_mutex_lock(&k->api_lock);
    k->api_prefix[0] = '\0';
    pthread_mutex_unlock(&k->api_lock);
  }
  return st;
}

const char *nw__kind_docker_message(const nw_host_api *host, nw_arena *arena,
                                    const nw_http_response *resp) {
  const char *body = resp->body ? resp->body : "";
  json_t *v = json_loads(body, 0, NULL);
  const char *m = json_string_value(json_object_get(v, "message"));
  char *out = host->arena_strdup(arena, m ? m : body);
  json_decref(v);
  return out ? out : "(out of memory)";
}

/* ---- exec ---------------------------------------------------------------- */

static int append(char **buf, size_t *len, const char *data, size_t n) {
  char *p = realloc(*buf, *len + n + 1);
  if (!p)
    return -1;
  memcpy(p + *len, data, n);
  *len += n;
  p[*len] = '\0';
  *buf = p;
  return 0;
}

int nw__kind_demux(const char *data, size_t len, char **out, char **errout) {
  size_t olen = 0, elen = 0, off = 0;
  int rc = 0;
  *out = calloc(1, 1);
  *errout = calloc(1, 1);
  if (!*out || !*errout)
    return -1;
  while (off < len) {
    const unsigned char *h = (const unsigned char *)data + off;
    if (len - off < 8) {
      rc = -1;
      break;
    }
    size_t n = ((size_t)h[4] << 24) | ((size_t)h[5] << 16) |
               ((size_t)h[6] << 8) | (size_t)h[7];
    if (len - off - 8 < n) {
      rc = -1;
      break;
    }
    /* Stream 2 is stderr; 0 (stdin) and 1 (stdout) go to out. */
    int e = h[0] == 2 ? append(errout, &elen, data + off + 8, n)
                      : append(out, &olen, data + off + 8, n);
    if (e != 0)
      return -1;
    off += 8 + n;
  }
  return rc;
}

static nw_status exec_create(nw__kind *k, const char *container,
                             const char *const *argv, nw_arena *arena,
                             char *id, size_t idlen, nw_error *err) {
  char path[512];
  nw_http_response r;
  json_t *cmd = json_array();
  for (size_t i = 0; argv[i]; i++)
    json_array_append_new(cmd, json_string(argv[i]));
  json_t *req = json_pack("{s:b,s:b,s:b,s:o}", "AttachStdin", 0, "AttachStdout",
                          1, "AttachStderr", 1, "Cmd", cmd);
  char *body = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  if (!body)
    return nw__kind_err(err, NW_ERR, "docker exec: out of memory");
  snprintf(path, sizeof(path), "/containers/%s/exec", container);
  nw_status st = nw__kind_docker(k, "POST", path, body, arena, &r, err);
  free(body);
  if (st != NW_OK)
    return st;
  if (r.status != 201)
    return nw__kind_err(err, r.status == 404 ? NW_ERR_NOT_FOUND : NW_ERR,
                        "docker exec %s in %s: HTTP %ld: %s", argv[0],
                        container, r.status,
                        nw__kind_docker_message(k->host, arena, &r));
  json_t *v = json_loads(r.body, 0, NULL);
  const char *s = json_string_value(json_object_get(v, "Id"));
  if (s)
    snprintf(id, idlen, "%s", s);
  json_decref(v);
  if (!s)
    return nw__kind_err(err, NW_ERR, "docker exec: no Id in the response");
  return NW_OK;
}

nw_status nw__kind_exec(nw__kind *k, const char *container,
                        const char *const *argv, nw_arena *arena,
                        const char **out, const char **errout, int *exit_code,
                        nw_error *err) {
  char id[128], path[256];
  nw_http_response r;
  nw_status st = exec_create(k, container, argv, arena, id, sizeof(id), err);
  if (st != NW_OK)
    return st;
  /* Without an Upgrade header the daemon sends the multiplexed stream as
   * the response body and closes the connection when the process ends. */
  snprintf(path, sizeof(path), "/exec/%s/start", id);
  st = nw__kind_docker(k, "POST", path, "{\"Detach\":false,\"Tty\":false}",
                       arena, &r, err);
  if (st != NW_OK)
    return st;
  if (r.status != 200)
    return nw__kind_err(err, NW_ERR, "docker exec %s in %s: start: HTTP %ld: %s",
                        argv[0], container, r.status,
                        nw__kind_docker_message(k->host, arena, &r));
  char *o = NULL, *e = NULL;
  int rc = nw__kind_demux(r.body, r.body_len, &o, &e);
  *out = k->host->arena_strdup(arena, o ? o : "");
  *errout = k->host->arena_strdup(arena, e ? e : "");
  free(o);
  free(e);
  if (rc != 0)
    k->host->log(k->h, NW_LOG_WARN, "docker exec %s in %s: truncated output",
                 argv[0], container);
  snprintf(path, sizeof(path), "/exec/%s/json", id);
  st = nw__kind_docker(k, "GET", path, NULL, arena, &r, err);
  if (st != NW_OK)
    return st;
  json_t *v = json_loads(r.body, 0, NULL);
  json_t *code = json_object_get(v, "ExitCode");
  *exit_code = json_is_integer(code) ? (int)json_integer_value(code) : -1;
  json_decref(v);
  return NW_OK;
}

nw_status nw__kind_list_containers(nw__kind *k, const char *labels_json,
                                   nw_arena *a, json_t **out, nw_error *err) {
  char filters[1024], enc[2048], path[2200];
  nw_http_response r;
  snprintf(filters, sizeof(filters), "{\"label\":%s}", labels_json);
  nw__kind_url_encode(filters, enc, sizeof(enc));
  snprintf(path, sizeof(path), "/containers/json?all=1&filters=%s", enc);
  nw_status st = nw__kind_docker(k, "GET", path, NULL, a, &r, err);
  if (st != NW_OK)
    return st;
  *out = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
  if (!json_is_array(*out)) {
    json_decref(*out);
    *out = NULL;
    return nw__kind_err(err, NW_ERR, "docker: list containers: HTTP %ld: %s",
                        r.status, nw__kind_docker_message(k->host, a, &r));
  }
  return NW_OK;
}

nw_status nw__kind_exec_ok(nw__kind *k, const char *container,
                           const char *const *argv, nw_arena *a,
                           const char **out, nw_error *err) {
  const char *o = NULL, *e = NULL;
  int code = -1;
  nw_status st = nw__kind_exec(k, container, argv, a, &o, &e, &code, err);
  if (st != NW_OK)
    return st;
  if (code != 0)
    return nw__kind_err(err, NW_ERR, "kind: `%s %s` in %s exited with %d: %.300s",
                        argv[0], argv[1] ? argv[1] : "", container, code,
                        e && *e ? e : o);
  if (out)
    *out = o;
  return NW_OK;
}

