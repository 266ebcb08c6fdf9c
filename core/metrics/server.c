#include "metrics/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"

struct nw__metrics_server {
  struct MHD_Daemon *mhd;
  atomic_int ready;
  int port;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code,
                             const char *ctype, char *body, int owned) {
  struct MHD_Response *r = MHD_create_response_from_buffer(
      strlen(body), body,
      owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  if (!r)
    return MHD_NO;
  MHD_add_response_header(r, "Content-Type", ctype);
  enum MHD_Result rc = MHD_queue_response(conn, code, r);
  MHD_destroy_response(r);
  return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
  (void)version;
  (void)upload;
  (void)upload_size;
  (void)con_cls;
  nw__metrics_server *s = cls;
  if (strcmp(method, "GET") != 0)
    return reply(conn, 405, "text/plain", "method not allowed\n", 0);
  if (strcmp(url, "/metrics") == 0) {
    char *body = nw__metrics_render();
    if (!body)
      return reply(conn, 500, "text/plain", "out of memory\n", 0);
    return reply(conn, 200, "text/plain; version=0.0.4", body, 1);
  }
  if (strcmp(url, "/healthz") == 0)
    return reply(conn, 200, "text/plain", "ok\n", 0);
  if (strcmp(url, "/readyz") == 0) {
    if (atomic_load(&s->ready))
      return reply(conn, 200, "text/plain", "ok\n", 0);
    return reply(conn, 503, "text/plain", "not ready\n", 0);
  }
  return reply(conn, 404, "text/plain", "not found\n", 0);
}

nw__metrics_server *nw__metrics_server_start(const char *listen, char *err,
                                             unsigned long errlen) {
  const char *colon = strrchr(listen, ':');
  char host[256];
  if (!colon || (size_t)(colon - listen) >= sizeof(host)) {
    snprintf(err, errlen, "metrics: listen address \"%s\" is not host:port",
             listen);
    return NULL;
  }
  memcpy(host, listen, (size_t)(colon - listen));
  host[colon - listen] = '\0';
  char *end;
  long port = strtol(colon + 1, &end, 10);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  const char *h = (!*host || strcmp(host, "localhost") == 0) ? "127.0.0.1" : host;
  if (*end || port < 0 || port > 65535 || inet_pton(AF_INET, h, &addr.sin_addr) != 1) {
    snprintf(err, errlen, "metrics: listen address \"%s\" is not an IPv4 "
             "host:port", listen);
    return NULL;
  }
  nw__metrics_server *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                            0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&addr, MHD_OPTION_END);
  if (!s->mhd) {
    snprintf(err, errlen, "metrics: cannot listen on %s (address in use or "
             "not local)", listen);
    free(s);
    return NULL;
  }
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : (int)port;
  return s;
}

int nw__metrics_server_port(const nw__metrics_server *s) { return s->port; }

void nw__metrics_server_set_ready(nw__metrics_server *s, int ready) {
  atomic_store(&s->ready, ready);
}

void nw__metrics_server_stop(nw__metrics_server *s) {
  if (!s)
    return;
  MHD_stop_daemon(s->mhd);
  free(s);
}
