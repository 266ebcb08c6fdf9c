/*
 * nodewright plugin ABI: the descriptor every plugin exports and the table
 * of host services every plugin is given.
 *
 * Versioning (as GStreamer and PostgreSQL do it):
 *  - The plugin exports one function, NW_PLUGIN_ENTRY_SYMBOL, returning a
 *    pointer to a const nw_plugin_descriptor with static storage.
 *  - The host reads magic and abi_major first and trusts nothing else until
 *    both match; then it requires plugin abi_minor <= host abi_minor and a
 *    struct_size at least as large as the ABI minor the plugin claims.
 *  - Minor versions only append fields to the end of structs and append
 *    functions to the end of tables (as sqlite3ext.h does).  Every table
 *    and struct starts with its own size, so each side reads only the
 *    fields the other side knows.  Fields are never removed or reordered;
 *    that would be a new major version.
 *
 * Self-contained: includes only the C standard library and types.h.
 */
#ifndef NODEWRIGHT_PLUGIN_H
#define NODEWRIGHT_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <nodewright/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NW_PLUGIN_MAGIC 0x4e575047u /* "NWPG" */
#define NW_ABI_MAJOR 1
#define NW_ABI_MINOR 3

/* The one symbol a plugin exports. */
#define NW_PLUGIN_ENTRY_SYMBOL "nw_plugin_entry"

#if defined(__GNUC__)
#define NW_PLUGIN_EXPORT __attribute__((visibility("default")))
#define NW_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define NW_PLUGIN_EXPORT
#define NW_PRINTF_LIKE(f, a)
#endif

typedef enum nw_plugin_kind {
  NW_PLUGIN_PROVIDER = 1,
  NW_PLUGIN_PRICING = 2,
  NW_PLUGIN_STRATEGY = 3
} nw_plugin_kind;

typedef enum nw_log_level {
  NW_LOG_DEBUG = 0,
  NW_LOG_INFO = 1,
  NW_LOG_WARN = 2,
  NW_LOG_ERROR = 3
} nw_log_level;

/* Opaque handle the host gives each loaded plugin; pass it back on calls. */
typedef struct nw_plugin_handle nw_plugin_handle;

/* One HTTP header, "Name" and "value". */
typedef struct nw_http_header {
  const char *name;
  const char *value;
} nw_http_header;

typedef struct nw_http_request {
  uint32_t size;               /* sizeof(nw_http_request) of the caller */
  const char *method;          /* "GET", "POST", ... */
  const char *url;             /* http(s)://... or http://localhost/... */
  const char *unix_socket;     /* path, or NULL for TCP */
  size_t n_headers;
  const nw_http_header *headers;
  const char *body;            /* may be NULL */
  size_t body_len;
  int64_t timeout_ms;          /* 0 = host default (30 s) */
  size_t max_response_bytes;   /* 0 = host default (64 MiB); larger fails */
} nw_http_request;

/* A response; body and headers are allocated in the call's arena. */
typedef struct nw_http_response {
  uint32_t size;
  long status;
  size_t n_headers;
  const nw_http_header *headers;
  const char *body;            /* NUL-terminated for convenience */
  size_t body_len;
} nw_http_response;

/*
 * Called for each chunk of a streamed response body.  Return non-zero to
 * stop the stream.  `data` is borrowed for the duration of the call.
 */
typedef int (*nw_http_chunk_fn)(void *user, const char *data, size_t len);

/*
 * Services the host offers every plugin.  Given at init and valid until
 * the plugin's fini returns.  Functions documented "thread-safe" may be
 * called from any thread, including the plugin's own.
 */
typedef struct nw_host_api {
  uint32_t size;               /* sizeof(nw_host_api) of the host */
  uint16_t abi_major;
  uint16_t abi_minor;

  /* Logging, thread-safe.  The host adds the plugin name. */
  void (*log)(nw_plugin_handle *h, nw_log_level level, const char *fmt, ...)
      NW_PRINTF_LIKE(3, 4);

  /* Heap for the plugin's own long-lived state; thread-safe. */
  void *(*alloc)(size_t size);
  void (*free)(void *ptr);

  /* Arena allocation for outputs; zeroed memory.  Thread-safe for
   * different arenas; one arena belongs to one call.  NULL on OOM. */
  void *(*arena_alloc)(nw_arena *arena, size_t size);
  char *(*arena_strdup)(nw_arena *arena, const char *s);

  /* The plugin's own config subtree (the `config:` key of its entry), as
   * JSON text owned by the host; "{}" when absent. */
  const char *(*config_json)(nw_plugin_handle *h);

  /* Typed access to that subtree by dotted path ("catalog.zones").
   * Strings are owned by the host.  Return the default when absent. */
  const char *(*config_string)(nw_plugin_handle *h, const char *path,
                               const char *dflt);
  int64_t (*config_int)(nw_plugin_handle *h, const char *path, int64_t dflt);
  double (*config_double)(nw_plugin_handle *h, const char *path, double dflt);

  /* HTTP through the host's libcurl (TLS verified, proxies honoured).
   * Blocking: call only from provider callbacks or the plugin's threads,
   * never expecting it on the host's event loop.  Thread-safe. */
  nw_status (*http)(nw_plugin_handle *h, const nw_http_request *req,
                    nw_http_response *resp, nw_arena *arena, nw_error *err);
  /* Streamed variant, for long-lived responses (event streams). */
  nw_status (*http_stream)(nw_plugin_handle *h, const nw_http_request *req,
                           nw_http_chunk_fn on_chunk, void *user,
                           long *status, nw_error *err);

  /* Metrics, thread-safe.  Names are prefixed with "nodewright_"; labels
   * are "k=v,k2=v2" or NULL. */
  void (*counter_add)(nw_plugin_handle *h, const char *name,
                      const char *labels, double value);
  void (*gauge_set)(nw_plugin_handle *h, const char *name,
                    const char *labels, double value);
  void (*observe)(nw_plugin_handle *h, const char *name, const char *labels,
                  double value);

  /* Clocks in milliseconds.  Under `nodewright simulate` both are virtual,
   * so plugins must use these, never time() or clock_gettime(). */
  int64_t (*now_ms)(nw_plugin_handle *h);
  int64_t (*monotonic_ms)(nw_plugin_handle *h);

  /* A Kubernetes API call with the daemon's credentials: method, path
   * ("/api/v1/nodes"), JSON body or NULL.  The response lives in the arena.
   * NW_ERR_UNSUPPORTED when the host has no cluster (simulate). */
  nw_status (*kube_request)(nw_plugin_handle *h, const char *method,
                            const char *path, const char *body,
                            nw_http_response *resp, nw_arena *arena,
                            nw_error *err);

  /* ---- ABI 1.1 ---------------------------------------------------------
   * A plugin's own arenas, for calls that get none from the host (pricing
   * refresh(), background threads) but want host->http.  Check
   * `offsetof(nw_host_api, arena_new) < host->size` before use. */
  nw_arena *(*arena_new)(void);
  void (*arena_free)(nw_arena *arena);

  /* ---- ABI 1.2 ---------------------------------------------------------
   * The price of an offering as the host's pricing plugins give it (the
   * first that knows it), USD per hour, so a provider can order launch
   * candidates by the same prices the host schedules with.
   * NW_ERR_NOT_FOUND when no pricing plugin knows it.  Thread-safe.  Check
   * `offsetof(nw_host_api, price) < host->size` before use. */
  nw_status (*price)(nw_plugin_handle *h, const char *instance_type,
                     const char *zone, const char *capacity_type,
                     double *usd, nw_error *err);
} nw_host_api;

/*
 * The descriptor.  Fields up to and including `vtable` exist since ABI 1.0.
 * `init` creates the plugin's instance state from its config; `fini`
 * releases it.  `vtable` points to the kind's table (nw_provider_vtable,
 * nw_pricing_vtable, nw_strategy_vtable), which begins with its size.
 */
typedef struct nw_plugin_descriptor {
  uint32_t magic;              /* NW_PLUGIN_MAGIC */
  uint16_t abi_major;          /* NW_ABI_MAJOR the plugin was built with */
  uint16_t abi_minor;          /* NW_ABI_MINOR the plugin was built with */
  uint32_t struct_size;        /* sizeof(nw_plugin_descriptor) */
  uint32_t kind;               /* nw_plugin_kind */
  const char *name;            /* unique among loaded plugins: [a-z0-9-]+ */
  const char *version;         /* the plugin's own version */
  const char *description;

  /* Called once, on the loop thread, before any other call.  `host` stays
   * valid until fini.  On success stores the instance in *state. */
  nw_status (*init)(const nw_host_api *host, nw_plugin_handle *h,
                    void **state, nw_error *err);
  /* Called once, after every other call has returned. */
  void (*fini)(void *state);

  const void *vtable;
} nw_plugin_descriptor;

/* The prototype of the entry function. */
typedef const nw_plugin_descriptor *(*nw_plugin_entry_fn)(void);

/*
 * Declare the entry function:
 *   NW_PLUGIN_DEFINE(my_descriptor)
 * where my_descriptor is a static const nw_plugin_descriptor.
 */
#define NW_PLUGIN_DEFINE(desc)                                               \
  NW_PLUGIN_EXPORT const nw_plugin_descriptor *nw_plugin_entry(void);        \
  NW_PLUGIN_EXPORT const nw_plugin_descriptor *nw_plugin_entry(void) {       \
    return &(desc);                                                          \
  }

/* Fill the fixed head of a descriptor. */
#define NW_DESCRIPTOR_HEAD(kind_)                                            \
  .magic = NW_PLUGIN_MAGIC, .abi_major = NW_ABI_MAJOR,                       \
  .abi_minor = NW_ABI_MINOR, .struct_size = sizeof(nw_plugin_descriptor),    \
  .kind = (kind_)

#ifdef __cplusplus
}
#endif
#endif /* NODEWRIGHT_PLUGIN_H */
