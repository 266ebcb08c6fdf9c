/*
 * The metrics and health endpoint: GET /metrics (Prometheus text), /healthz
 * (the process is alive) and /readyz (ready to reconcile).  Served by
 * libmicrohttpd on its own thread, so the event loop never serves HTTP.
 */
#ifndef NW_METRICS_SERVER_H
#define NW_METRICS_SERVER_H

typedef struct nw__metrics_server nw__metrics_server;

/* Listens on "host:port" (port 0 picks a free one).  Returns NULL with err
 * filled when the address is bad or taken.  Caller stops it. */
nw__metrics_server *nw__metrics_server_start(const char *listen, char *err,
                                             unsigned long errlen);
/* The bound port (useful with port 0). */
int nw__metrics_server_port(const nw__metrics_server *s);
/* /readyz answers 200 once set to non-zero, 503 before. Thread-safe. */
void nw__metrics_server_set_ready(nw__metrics_server *s, int ready);
void nw__metrics_server_stop(nw__metrics_server *s);

#endif
