/*
 * The plugin loader and the host side of the ABI.
 *
 * A nw__plugin_set owns every plugin it loaded; plugins are never unloaded
 * while the daemon runs (their code may still be on a worker thread's
 * stack), only when the set is freed at exit.
 */
#ifndef NW_PLUGIN_LOADER_H
#define NW_PLUGIN_LOADER_H

#include <stddef.h>

#include <nodewright/nodewright.h>

typedef struct nw__plugin nw__plugin;
typedef struct nw__plugin_set nw__plugin_set;

/* Host hooks a plugin set calls into; all optional (NULL = unsupported). */
typedef struct nw__host_hooks {
  /* Kubernetes API call for plugins (nw_host_api.kube_request). */
  nw_status (*kube_request)(void *user, const char *method, const char *path,
                            const char *body, nw_http_response *resp,
                            nw_arena *arena, nw_error *err);
  void *kube_user;
  /* Clocks; NULL = the real clocks.  The simulator sets virtual ones. */
  int64_t (*now_ms)(void *user);
  int64_t (*monotonic_ms)(void *user);
  void *clock_user;
} nw__host_hooks;

/* A new, empty set.  `hooks` is copied; may be NULL.  Caller frees. */
nw__plugin_set *nw__plugins_new(const nw__host_hooks *hooks);

/* Calls each plugin's fini, then dlcloses it.  NULL is fine. */
void nw__plugins_free(nw__plugin_set *set);

/*
 * Loads one plugin file and initialises it with `config_json` (its config
 * subtree as JSON text, borrowed; NULL = "{}").  `require_trusted` enables
 * the ownership/permission checks on the file and its directory (the
 * daemon always enables them; `plugins check` does too).
 *
 * On failure returns NULL, closes the file, and writes one line to err
 * naming the file, the failed check, and found vs expected.  The set and
 * the plugins already in it are unchanged.  The returned plugin is owned
 * by the set.
 */
nw__plugin *nw__plugins_load(nw__plugin_set *set, const char *path,
                             const char *config_json, int require_trusted,
                             char *err, size_t errlen);

/*
 * Loads without init, for `plugins check`/`list`: runs every descriptor
 * check and fills *desc.  Returns 0 or -1 with err filled.  Nothing stays
 * loaded.  `desc` strings are copied into `buf` (len bytes) so they
 * outlive dlclose.
 */
int nw__plugin_inspect(const char *path, int require_trusted,
                       nw_plugin_descriptor *desc, char *buf, size_t len,
                       char *err, size_t errlen);

/* Looks a loaded plugin up by descriptor name; NULL when absent. */
nw__plugin *nw__plugins_find(nw__plugin_set *set, const char *name);
/* The first loaded plugin of a kind, or NULL. */
nw__plugin *nw__plugins_first(nw__plugin_set *set, nw_plugin_kind kind);
size_t nw__plugins_count(const nw__plugin_set *set);
nw__plugin *nw__plugins_at(nw__plugin_set *set, size_t i);

/* Accessors; the pointers are owned by the set. */
const nw_plugin_descriptor *nw__plugin_descriptor(const nw__plugin *p);
const char *nw__plugin_path(const nw__plugin *p);
void *nw__plugin_state(const nw__plugin *p);
/* The kind-specific table, or NULL when the plugin is of another kind.
 * Functions beyond the plugin's table size read as NULL: use these
 * accessors' copies, which are zero-filled past the plugin's size. */
const nw_provider_vtable *nw__plugin_provider(const nw__plugin *p);
const nw_pricing_vtable *nw__plugin_pricing(const nw__plugin *p);
const nw_strategy_vtable *nw__plugin_strategy(const nw__plugin *p);

/* The host services table handed to plugins (for tests of host code). */
const nw_host_api *nw__host_api(void);



/*
 * Adds a plugin compiled into the executable (no file: the simulator's
 * in-process provider) and initialises it like a loaded one.  `desc` must
 * have static storage; `config_json` as for nw__plugins_load.  Its path
 * reads "builtin:<name>".  Returns the plugin (owned by the set) or NULL
 * with err filled.
 */
nw__plugin *nw__plugins_add_builtin(nw__plugin_set *set,
                                    const nw_plugin_descriptor *desc,
                                    const char *config_json, char *err,
                                    size_t errlen);

/* "provider", "pricing", "strategy" or "unknown". */
const char *nw__plugin_kind_name(uint32_t kind);

#endif
