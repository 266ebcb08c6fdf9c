/*
 * One source for every loader fixture: each variant is this file compiled
 * with one FIXTURE_* definition, so the fixtures differ only in the defect
 * under test.
 */
#include <stdio.h>
#include <string.h>

#include <nodewright/nodewright.h>

#ifndef FIXTURE_NAME
#define FIXTURE_NAME "good"
#endif

static nw_status price(void *state, const char *instance_type,
                       const char *zone, const char *capacity_type,
                       double *usd, nw_error *err) {
  (void)state;
  (void)zone;
  (void)capacity_type;
  (void)err;
  *usd = (double)strlen(instance_type);
  return NW_OK;
}

static const nw_pricing_vtable vtable = {
#ifdef FIXTURE_SHORT_TABLE
    .size = 4,
#else
    .size = sizeof(nw_pricing_vtable),
#endif
    .price = price,
};

static const nw_host_api *g_host;

static nw_status init(const nw_host_api *host, nw_plugin_handle *h,
                      void **state, nw_error *err) {
  g_host = host;
#ifdef FIXTURE_INIT_FAIL
  (void)h;
  (void)state;
  snprintf(err->message, sizeof(err->message), "region \"%s\" is unknown",
           host->config_string(h, "region", "?"));
  return NW_ERR_INVALID;
#else
  (void)err;
  /* Echo a config value back through the state, so tests can see that the
   * plugin received its own subtree. */
  *state = (void *)host->config_string(h, "greeting", "none");
  host->log(h, NW_LOG_DEBUG, "fixture %s initialised", FIXTURE_NAME);
  return NW_OK;
#endif
}

static void fini(void *state) { (void)state; }

static const nw_plugin_descriptor descriptor = {
#ifdef FIXTURE_WRONG_MAGIC
    .magic = 0xdeadbeefu,
#else
    .magic = NW_PLUGIN_MAGIC,
#endif
#ifdef FIXTURE_MAJOR
    .abi_major = NW_ABI_MAJOR + 1,
#else
    .abi_major = NW_ABI_MAJOR,
#endif
#ifdef FIXTURE_NEWER_MINOR
    .abi_minor = NW_ABI_MINOR + 1,
#else
    .abi_minor = NW_ABI_MINOR,
#endif
#ifdef FIXTURE_SHORT_STRUCT
    .struct_size = 16,
#else
    .struct_size = sizeof(nw_plugin_descriptor),
#endif
#ifdef FIXTURE_UNKNOWN_KIND
    .kind = 42,
#else
    .kind = NW_PLUGIN_PRICING,
#endif
    .name = FIXTURE_NAME,
    .version = "1.2.3",
    .description = "loader test fixture",
    .init = init,
    .fini = fini,
    .vtable = &vtable,
};

#ifndef FIXTURE_NO_ENTRY
NW_PLUGIN_DEFINE(descriptor)
#else
/* Exported under the wrong name: the loader must not find it. */
NW_PLUGIN_EXPORT const nw_plugin_descriptor *nw_plugin_entry_v0(void);
NW_PLUGIN_EXPORT const nw_plugin_descriptor *nw_plugin_entry_v0(void) {
  return &descriptor;
}
#endif
