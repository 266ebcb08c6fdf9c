#include "plugin/loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "metrics/metrics.h"
#include "util/arena.h"
#include "util/json.h"
#include "util/log.h"

struct nw_plugin_handle {
  nw__plugin *plugin;
};

struct nw__plugin {
  struct nw_plugin_handle handle;
  nw__plugin_set *set;
  void *dl;
  char *path;
  const nw_plugin_descriptor *desc;
  void *state;
  json_t *config;
  char *config_text;
  /* Host-sized copies of the plugin's table, zero past the plugin's size,
   * so fields a newer host knows read as NULL for an older plugin. */
  void *vtable;
  int initialized;
};

struct nw__plugin_set {
  nw__host_hooks hooks;
  nw__plugin **items;
  size_t len;
  size_t cap;
};

/* ---- checks ------------------------------------------------------------ */

static int fail(char *err, size_t errlen, const char *path, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, const char *path, const char *fmt,
                ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(err, errlen, "plugin %s: %s", path, msg);
  return -1;
}

/* Refuses what another local user could have swapped under us: anything
 * not owned by us (or root), or writable by group or others. */
static int check_trusted(const char *what, const char *path, char *err,
                         size_t errlen, const char *plugin_path) {
  struct stat st;
  if (stat(path, &st) != 0)
    return fail(err, errlen, plugin_path, "trust: cannot stat %s %s: %s", what,
                path, strerror(errno));
  if (st.st_uid != geteuid() && st.st_uid != 0)
    return fail(err, errlen, plugin_path,
                "trust: %s %s is owned by uid %u, expected uid %u or root",
                what, path, (unsigned)st.st_uid, (unsigned)geteuid());
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return fail(err, errlen, plugin_path,
                "trust: %s %s is writable by %s (mode %04o), expected no "
                "group/other write",
                what, path, (st.st_mode & S_IWOTH) ? "others" : "group",
                (unsigned)(st.st_mode & 07777));
  return 0;
}

static int check_file_trust(const char *path, char *err, size_t errlen) {
  struct stat st;
  if (stat(path, &st) != 0)
    return fail(err, errlen, path, "open: %s", strerror(errno));
  if (!S_ISREG(st.st_mode))
    return fail(err, errlen, path, "open: not a regular file");
  if (check_trusted("file", path, err, errlen, path) != 0)
    return -1;
  char *copy = strdup(path);
  if (!copy)
    return fail(err, errlen, path, "out of memory");
  int rc = check_trusted("directory", dirname(copy), err, errlen, path);
  free(copy);
  return rc;
}

static int valid_name(const char *name) {
  if (!name || !*name || strlen(name) > 64)
    return 0;
  for (const char *p = name; *p; p++) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
          *p == '_'))
      return 0;
  }
  return 1;
}

/* Size of each kind's table in ABI 1.0: the least a plugin may hand us.
 * Members appended later (provider: 1.2) read as NULL for older plugins. */
static size_t min_vtable_size(uint32_t kind) {
  switch (kind) {
  case NW_PLUGIN_PROVIDER:
    return NW_PROVIDER_VTABLE_SIZE_1_0;
  case NW_PLUGIN_PRICING:
    return sizeof(nw_pricing_vtable);
  case NW_PLUGIN_STRATEGY:
    return sizeof(nw_strategy_vtable);
  default:
    return 0;
  }
}

static const char *kind_name(uint32_t kind) {
  switch (kind) {
  case NW_PLUGIN_PROVIDER:
    return "provider";
  case NW_PLUGIN_PRICING:
    return "pricing";
  case NW_PLUGIN_STRATEGY:
    return "strategy";
  default:
    return "unknown";
  }
}

/* The required callbacks of each kind, so a NULL is refused at load time
 * instead of crashing at first use. */
static const char *missing_callback(uint32_t kind, const void *vt) {
  if (kind == NW_PLUGIN_PROVIDER) {
    const nw_provider_vtable *p = vt;
    if (!p->instance_types)
      return "instance_types";
    if (!p->create)
      return "create";
    if (!p->delete_instance)
      return "delete_instance";
    if (!p->get)
      return "get";
    if (!p->list)
      return "list";
  } else if (kind == NW_PLUGIN_PRICING) {
    const nw_pricing_vtable *p = vt;
    if (!p->price)
      return "price";
  } else if (kind == NW_PLUGIN_STRATEGY) {
    const nw_strategy_vtable *p = vt;
    if (!p->compute)
      return "compute";
  }
  return NULL;
}

/*
 * Opens path and runs every descriptor check in the documented order.  On
 * success returns the dl handle and *out; on failure closes the file and
 * returns NULL with err filled.
 */
static void *open_checked(const char *path, int require_trusted,
                          const nw_plugin_descriptor **out, char *err,
                          size_t errlen) {
  if (require_trusted && check_file_trust(path, err, errlen) != 0)
    return NULL;
  dlerror();
  void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!dl) {
    const char *why = dlerror();
    fail(err, errlen, path, "dlopen: %s", why ? why : "unknown error");
    return NULL;
  }
  nw_plugin_entry_fn entry;
  /* POSIX's sanctioned way to turn a data pointer into a function one. */
  *(void **)(&entry) = dlsym(dl, NW_PLUGIN_ENTRY_SYMBOL);
  const nw_plugin_descriptor *d = entry ? entry() : NULL;
  const char *bad = NULL;
  if (!entry) {
    fail(err, errlen, path, "entry: symbol %s not found", NW_PLUGIN_ENTRY_SYMBOL);
    bad = "";
  } else if (!d) {
    fail(err, errlen, path, "entry: %s returned NULL", NW_PLUGIN_ENTRY_SYMBOL);
    bad = "";
  } else if (d->magic != NW_PLUGIN_MAGIC) {
    fail(err, errlen, path, "magic: found 0x%08x, expected 0x%08x", d->magic,
         NW_PLUGIN_MAGIC);
    bad = "";
  } else if (d->abi_major != NW_ABI_MAJOR) {
    fail(err, errlen, path, "abi major: found %u, expected %u", d->abi_major,
         NW_ABI_MAJOR);
    bad = "";
  } else if (d->abi_minor > NW_ABI_MINOR) {
    fail(err, errlen, path,
         "abi minor: found %u, expected <= %u (plugin is newer than host)",
         d->abi_minor, NW_ABI_MINOR);
    bad = "";
  } else if (d->struct_size < sizeof(nw_plugin_descriptor)) {
    fail(err, errlen, path, "struct size: found %u, expected >= %zu",
         d->struct_size, sizeof(nw_plugin_descriptor));
    bad = "";
  } else if (min_vtable_size(d->kind) == 0) {
    fail(err, errlen, path, "kind: found %u, expected 1 (provider), 2 "
         "(pricing) or 3 (strategy)", d->kind);
    bad = "";
  } else if (!valid_name(d->name)) {
    fail(err, errlen, path, "name: found \"%s\", expected [a-z0-9_-]{1,64}",
         d->name ? d->name : "(null)");
    bad = "";
  } else if (!d->init) {
    fail(err, errlen, path, "init: found NULL, expected a function");
    bad = "";
  } else if (!d->vtable ||
             *(const uint32_t *)d->vtable < min_vtable_size(d->kind)) {
    fail(err, errlen, path, "%s table size: found %u, expected >= %zu",
         kind_name(d->kind), d->vtable ? *(const uint32_t *)d->vtable : 0,
         min_vtable_size(d->kind));
    bad = "";
  } else if (missing_callback(d->kind, d->vtable)) {
    fail(err, errlen, path, "%s table: callback %s is NULL, expected a "
         "function", kind_name(d->kind), missing_callback(d->kind, d->vtable));
    bad = "";
  }
  if (bad) {
    dlclose(dl);
    return NULL;
  }
  *out = d;
  return dl;
}

/* ---- host services ----------------------------------------------------- */

static void host_log(nw_plugin_handle *h, nw_log_level level, const char *fmt,
                     ...) {
  va_list ap;
  va_start(ap, fmt);
  const char *name = h && h->plugin ? h->plugin->desc->name : "plugin";
  nw__logv(level, name, fmt, ap);
  va_end(ap);
}

static void *host_alloc(size_t size) { return malloc(size); }
static void host_free(void *ptr) { free(ptr); }

static const char *host_config_json(nw_plugin_handle *h) {
  return h->plugin->config_text ? h->plugin->config_text : "{}";
}

/* The plugin's config value at a dotted path, or NULL. */
static json_t *config_lookup(nw_plugin_handle *h, const char *path) {
  return nw__json_at(h->plugin->config, path);
}

static const char *host_config_string(nw_plugin_handle *h, const char *path,
                                      const char *dflt) {
  json_t *v = config_lookup(h, path);
  return json_is_string(v) ? json_string_value(v) : dflt;
}

static int64_t host_config_int(nw_plugin_handle *h, const char *path,
                               int64_t dflt) {
  json_t *v = config_lookup(h, path);
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static double host_config_double(nw_plugin_handle *h, const char *path,
                                 double dflt) {
  json_t *v = config_lookup(h, path);
  return json_is_number(v) ? json_number_value(v) : dflt;
}

static nw_status host_http(nw_plugin_handle *h, const nw_http_request *req,
                           nw_http_response *resp, nw_arena *arena,
                           nw_error *err) {
  (void)h;
  return nw__http_request(req, resp, arena, err);
}

static nw_status host_http_stream(nw_plugin_handle *h,
                                  const nw_http_request *req,
                                  nw_http_chunk_fn on_chunk, void *user,
                                  long *status, nw_error *err) {
  (void)h;
  return nw__http_stream(req, on_chunk, user, status, err);
}

static void host_counter_add(nw_plugin_handle *h, const char *name,
                             const char *labels, double value) {
  (void)h;
  nw__metric_add(name, labels, value);
}

static void host_gauge_set(nw_plugin_handle *h, const char *name,
                           const char *labels, double value) {
  (void)h;
  nw__metric_set(name, labels, value);
}

static void host_observe(nw_plugin_handle *h, const char *name,
                         const char *labels, double value) {
  (void)h;
  nw__metric_observe(name, labels, value);
}

static int64_t real_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const nw__host_hooks *hooks_of(nw_plugin_handle *h) {
  return h && h->plugin && h->plugin->set ? &h->plugin->set->hooks : NULL;
}

static int64_t host_now_ms(nw_plugin_handle *h) {
  const nw__host_hooks *k = hooks_of(h);
  return k && k->now_ms ? k->now_ms(k->clock_user) : real_now_ms();
}

static int64_t host_monotonic_ms(nw_plugin_handle *h) {
  const nw__host_hooks *k = hooks_of(h);
  return k && k->monotonic_ms ? k->monotonic_ms(k->clock_user)
                              : real_monotonic_ms();
}

static nw_status host_kube_request(nw_plugin_handle *h, const char *method,
                                   const char *path, const char *body,
                                   nw_http_response *resp, nw_arena *arena,
                                   nw_error *err) {
  const nw__host_hooks *k = hooks_of(h);
  if (!k || !k->kube_request)
    return nw__error_set(err, NW_ERR_UNSUPPORTED,
                         "kube_request: this host has no cluster connection");
  return k->kube_request(k->kube_user, method, path, body, resp, arena, err);
}

/* ABI 1.2: the first pricing plugin of the caller's set that knows the
 * offering.  The set does not change while plugins run. */
static nw_status host_price(nw_plugin_handle *h, const char *instance_type,
                            const char *zone, const char *capacity_type,
                            double *usd, nw_error *err) {
  nw__plugin_set *set = h && h->plugin ? h->plugin->set : NULL;
  for (size_t i = 0; set && i < set->len; i++) {
    const nw_pricing_vtable *vt = nw__plugin_pricing(set->items[i]);
    double v = -1;
    nw_error e = {0};
    if (vt && vt->price(set->items[i]->state, instance_type, zone,
                        capacity_type, &v, &e) == NW_OK && v >= 0) {
      *usd = v;
      return NW_OK;
    }
  }
  return nw__error_set(err, NW_ERR_NOT_FOUND, "no pricing plugin prices %s %s in %s",
                       instance_type ? instance_type : "?",
                       capacity_type ? capacity_type : "?", zone ? zone : "?");
}

static const nw_host_api g_host_api = {
    .size = sizeof(nw_host_api),
    .abi_major = NW_ABI_MAJOR,
    .abi_minor = NW_ABI_MINOR,
    .log = host_log,
    .alloc = host_alloc,
    .free = host_free,
    .arena_alloc = nw__arena_alloc,
    .arena_strdup = nw__arena_strdup,
    .config_json = host_config_json,
    .config_string = host_config_string,
    .config_int = host_config_int,
    .config_double = host_config_double,
    .http = host_http,
    .http_stream = host_http_stream,
    .counter_add = host_counter_add,
    .gauge_set = host_gauge_set,
    .observe = host_observe,
    .now_ms = host_now_ms,
    .monotonic_ms = host_monotonic_ms,
    .kube_request = host_kube_request,
    .arena_new = nw__arena_new,
    .arena_free = nw__arena_free,
    .price = host_price,
};

const nw_host_api *nw__host_api(void) { return &g_host_api; }

/* ---- the set ----------------------------------------------------------- */

nw__plugin_set *nw__plugins_new(const nw__host_hooks *hooks) {
  nw__plugin_set *s = calloc(1, sizeof(*s));
  if (s && hooks)
    s->hooks = *hooks;
  if (s)
    nw__http_global_init();
  return s;
}

static void plugin_free(nw__plugin *p) {
  if (p->initialized && p->desc->fini)
    p->desc->fini(p->state);
  if (p->dl)
    dlclose(p->dl);
  json_decref(p->config);
  free(p->config_text);
  free(p->vtable);
  free(p->path);
  free(p);
}

void nw__plugins_free(nw__plugin_set *set) {
  if (!set)
    return;
  /* Reverse order: a plugin loaded later may rely on an earlier one. */
  for (size_t i = set->len; i > 0; i--)
    plugin_free(set->items[i - 1]);
  free(set->items);
  free(set);
}

/* The table as this host knows it: the copy the engine reads. */
static size_t host_vtable_size(uint32_t kind) {
  return kind == NW_PLUGIN_PROVIDER ? sizeof(nw_provider_vtable)
                                    : min_vtable_size(kind);
}

static int copy_vtable(nw__plugin *p) {
  size_t host = host_vtable_size(p->desc->kind);
  uint32_t theirs = *(const uint32_t *)p->desc->vtable;
  p->vtable = calloc(1, host);
  if (!p->vtable)
    return -1;
  memcpy(p->vtable, p->desc->vtable, theirs < host ? theirs : host);
  return 0;
}

static int append_plugin(nw__plugin_set *set, nw__plugin *p) {
  if (set->len == set->cap) {
    size_t cap = set->cap ? set->cap * 2 : 4;
    nw__plugin **grown = realloc(set->items, cap * sizeof(*grown));
    if (!grown)
      return -1;
    set->items = grown;
    set->cap = cap;
  }
  set->items[set->len++] = p;
  return 0;
}

static int parse_config(nw__plugin *p, const char *config_json, char *err,
                        size_t errlen) {
  json_error_t jerr;
  p->config = json_loads(config_json ? config_json : "{}", 0, &jerr);
  if (!p->config || !json_is_object(p->config))
    return fail(err, errlen, p->path, "config: not a JSON object: %s",
                p->config ? "wrong type" : jerr.text);
  p->config_text = json_dumps(p->config, JSON_COMPACT);
  return p->config_text ? 0 : fail(err, errlen, p->path, "out of memory");
}

nw__plugin *nw__plugins_load(nw__plugin_set *set, const char *path,
                             const char *config_json, int require_trusted,
                             char *err, size_t errlen) {
  const nw_plugin_descriptor *d = NULL;
  void *dl = open_checked(path, require_trusted, &d, err, errlen);
  if (!dl)
    return NULL;
  if (nw__plugins_find(set, d->name)) {
    fail(err, errlen, path, "name: \"%s\" is already loaded from %s", d->name,
         nw__plugin_path(nw__plugins_find(set, d->name)));
    dlclose(dl);
    return NULL;
  }
  nw__plugin *p = calloc(1, sizeof(*p));
  if (!p) {
    dlclose(dl);
    fail(err, errlen, path, "out of memory");
    return NULL;
  }
  p->handle.plugin = p;
  p->set = set;
  p->dl = dl;
  p->desc = d;
  p->path = strdup(path);
  if (!p->path || parse_config(p, config_json, err, errlen) != 0 ||
      copy_vtable(p) != 0) {
    if (!*err)
      fail(err, errlen, path, "out of memory");
    plugin_free(p);
    return NULL;
  }
  nw_error perr = {0};
  nw_status st = d->init(&g_host_api, &p->handle, &p->state, &perr);
  if (st != NW_OK) {
    fail(err, errlen, path, "init: plugin %s returned %d: %s", d->name, st,
         perr.message[0] ? perr.message : "(no message)");
    plugin_free(p);
    return NULL;
  }
  p->initialized = 1;
  if (append_plugin(set, p) != 0) {
    fail(err, errlen, path, "out of memory");
    plugin_free(p);
    return NULL;
  }
  NW_INFO("plugin", "loaded %s %s (%s, ABI %u.%u) from %s", d->name,
          d->version ? d->version : "?", kind_name(d->kind), d->abi_major,
          d->abi_minor, path);
  return p;
}

nw__plugin *nw__plugins_add_builtin(nw__plugin_set *set,
                                    const nw_plugin_descriptor *desc,
                                    const char *config_json, char *err,
                                    size_t errlen) {
  char path[160];
  snprintf(path, sizeof(path), "builtin:%s", desc->name);
  if (nw__plugins_find(set, desc->name)) {
    fail(err, errlen, path, "name: \"%s\" is already loaded", desc->name);
    return NULL;
  }
  nw__plugin *p = calloc(1, sizeof(*p));
  if (!p) {
    fail(err, errlen, path, "out of memory");
    return NULL;
  }
  p->handle.plugin = p;
  p->set = set;
  p->desc = desc;
  p->path = strdup(path);
  if (!p->path || parse_config(p, config_json, err, errlen) != 0 ||
      copy_vtable(p) != 0) {
    if (!*err)
      fail(err, errlen, path, "out of memory");
    plugin_free(p);
    return NULL;
  }
  nw_error perr = {0};
  if (desc->init(&g_host_api, &p->handle, &p->state, &perr) != NW_OK) {
    fail(err, errlen, path, "init: %s", perr.message);
    plugin_free(p);
    return NULL;
  }
  p->initialized = 1;
  if (append_plugin(set, p) != 0) {
    fail(err, errlen, path, "out of memory");
    plugin_free(p);
    return NULL;
  }
  return p;
}

/* Copies s into buf at *off; returns the copy or NULL when it does not fit. */
static const char *stash(char *buf, size_t len, size_t *off, const char *s) {
  if (!s)
    return NULL;
  size_t n = strlen(s) + 1;
  if (*off + n > len)
    return NULL;
  memcpy(buf + *off, s, n);
  const char *r = buf + *off;
  *off += n;
  return r;
}

int nw__plugin_inspect(const char *path, int require_trusted,
                       nw_plugin_descriptor *desc, char *buf, size_t len,
                       char *err, size_t errlen) {
  const nw_plugin_descriptor *d = NULL;
  void *dl = open_checked(path, require_trusted, &d, err, errlen);
  if (!dl)
    return -1;
  size_t off = 0;
  *desc = *d;
  desc->name = stash(buf, len, &off, d->name);
  desc->version = stash(buf, len, &off, d->version);
  desc->description = stash(buf, len, &off, d->description);
  desc->init = NULL;
  desc->fini = NULL;
  desc->vtable = NULL;
  dlclose(dl);
  return 0;
}

nw__plugin *nw__plugins_find(nw__plugin_set *set, const char *name) {
  for (size_t i = 0; i < set->len; i++) {
    if (strcmp(set->items[i]->desc->name, name) == 0)
      return set->items[i];
  }
  return NULL;
}

nw__plugin *nw__plugins_first(nw__plugin_set *set, nw_plugin_kind kind) {
  for (size_t i = 0; i < set->len; i++) {
    if (set->items[i]->desc->kind == (uint32_t)kind)
      return set->items[i];
  }
  return NULL;
}

size_t nw__plugins_count(const nw__plugin_set *set) { return set->len; }

nw__plugin *nw__plugins_at(nw__plugin_set *set, size_t i) {
  return i < set->len ? set->items[i] : NULL;
}

const nw_plugin_descriptor *nw__plugin_descriptor(const nw__plugin *p) {
  return p->desc;
}

const char *nw__plugin_path(const nw__plugin *p) { return p->path; }

void *nw__plugin_state(const nw__plugin *p) { return p->state; }

const nw_provider_vtable *nw__plugin_provider(const nw__plugin *p) {
  return p->desc->kind == NW_PLUGIN_PROVIDER ? p->vtable : NULL;
}

const nw_pricing_vtable *nw__plugin_pricing(const nw__plugin *p) {
  return p->desc->kind == NW_PLUGIN_PRICING ? p->vtable : NULL;
}

const nw_strategy_vtable *nw__plugin_strategy(const nw__plugin *p) {
  return p->desc->kind == NW_PLUGIN_STRATEGY ? p->vtable : NULL;
}

const char *nw__plugin_kind_name(uint32_t kind) { return kind_name(kind); }
