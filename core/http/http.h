/*
 * Blocking HTTP over libcurl for worker threads: what the host hands
 * plugins as nw_host_api.http and .http_stream.  TLS verification is always
 * on; connections are reused across calls through a shared cache.
 * Never call these on the event loop.
 */
#ifndef NW_HTTP_HTTP_H
#define NW_HTTP_HTTP_H

#include <nodewright/plugin.h>

/* Once per process, before threads start.  Returns 0 on success. */
int nw__http_global_init(void);
void nw__http_global_cleanup(void);

/* Performs req; the response (headers, body) is allocated in `arena`.
 * Returns NW_OK for any HTTP status (check resp->status); an error status
 * with err filled for transport failures (NW_ERR_RETRYABLE for timeouts and
 * refused connections, NW_ERR for the rest, NW_ERR_INVALID for bad input). */
nw_status nw__http_request(const nw_http_request *req, nw_http_response *resp,
                           nw_arena *arena, nw_error *err);

/* Streams the body into on_chunk until it ends or on_chunk returns
 * non-zero.  *status gets the HTTP status. */
nw_status nw__http_stream(const nw_http_request *req, nw_http_chunk_fn on_chunk,
                          void *user, long *status, nw_error *err);

/* Fills err with status and a printf message; returns status.  Shared by
 * everything in the host that reports nw_error. */
nw_status nw__error_set(nw_error *err, nw_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
