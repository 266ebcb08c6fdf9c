/*
 * Provider fixtures for the ABI's appended members.  Built twice:
 *   provider_1_1  ABI 1.1, its table ends before `registered`; the member
 *                 slots after that size hold a bogus function, which a
 *                 host reading past the plugin's size would see.
 *   provider_1_2  the current ABI: 1.2's `registered` and
 *                 `node_class_status`, a call of the host's `price`, and
 *                 1.3's `instance_types_version` (always 7).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <nodewright/nodewright.h>

static const nw_host_api *g_host;
static nw_plugin_handle *g_handle;

static nw_status instance_types(void *state, const char *nodepool,
                                const char *node_class_json, nw_arena *arena,
                                nw_instance_types *out, nw_error *err) {
  (void)state, (void)nodepool, (void)node_class_json, (void)arena, (void)err;
  out->len = 0;
  out->items = NULL;
  return NW_OK;
}

static nw_status create(void *state, const nw_node_claim *claim,
                        nw_arena *arena, nw_node_instance *out, nw_error *err) {
  (void)state, (void)claim, (void)arena, (void)out;
  snprintf(err->message, sizeof(err->message), "fixture: no create");
  return NW_ERR_UNSUPPORTED;
}

static nw_status delete_instance(void *state, const char *provider_id,
                                 nw_error *err) {
  (void)state, (void)provider_id, (void)err;
  return NW_ERR_NOT_FOUND;
}

static nw_status get(void *state, const char *provider_id, nw_arena *arena,
                     nw_node_instance *out, nw_error *err) {
  (void)state, (void)provider_id, (void)arena, (void)out, (void)err;
  return NW_ERR_NOT_FOUND;
}

static nw_status list(void *state, nw_arena *arena, nw_node_instances *out,
                      nw_error *err) {
  (void)state, (void)arena, (void)err;
  out->len = 0;
  out->items = NULL;
  return NW_OK;
}

#ifndef FIXTURE_ABI_1_1
/* Records its arguments in the state buffer, so the test sees the call. */
static nw_status registered(void *state, const char *provider_id,
                            const char *claim_name, const char *node_name,
                            nw_error *err) {
  (void)err;
  snprintf(state, 256, "%s %s %s", provider_id, claim_name, node_name);
  return NW_OK;
}

/* The status echoes the host's price for "m5.large" (ABI 1.2 host call),
 * so one call checks both directions. */
static nw_status node_class_status(void *state, const char *node_class_json,
                                   nw_arena *arena, const char **status_json,
                                   nw_error *err) {
  (void)state, (void)node_class_json;
  double usd = -1;
  nw_status st = g_host->price(g_handle, "m5.large", "z", "on-demand", &usd, err);
  char buf[128];
  snprintf(buf, sizeof(buf), "{\"price\":%g,\"st\":%d}", usd, (int)st);
  *status_json = g_host->arena_strdup(arena, buf);
  return NW_OK;
}

static uint64_t types_version(void *state, const char *nodepool,
                              const char *node_class_json) {
  (void)state, (void)nodepool, (void)node_class_json;
  return 7;
}
#endif

#ifdef FIXTURE_ABI_1_1
/* Never to be called: past the 1.1 table's size. */
static nw_status bogus_registered(void *state, const char *provider_id,
                                  const char *claim_name, const char *node_name,
                                  nw_error *err) {
  (void)state, (void)provider_id, (void)claim_name, (void)node_name, (void)err;
  return NW_ERR;
}

static nw_status bogus_status(void *state, const char *node_class_json,
                              nw_arena *arena, const char **status_json,
                              nw_error *err) {
  (void)state, (void)node_class_json, (void)arena, (void)status_json, (void)err;
  return NW_ERR;
}

static uint64_t bogus_version(void *state, const char *nodepool,
                              const char *node_class_json) {
  (void)state, (void)nodepool, (void)node_class_json;
  return 99;
}
#endif

static const nw_node_class_ref kinds[] = {{"fixture.dev", "FixtureClass", NULL}};

static const nw_provider_vtable vtable = {
#ifdef FIXTURE_ABI_1_1
    .size = NW_PROVIDER_VTABLE_SIZE_1_0,
    .registered = bogus_registered,
    .node_class_status = bogus_status,
    .instance_types_version = bogus_version,
#else
    .size = sizeof(nw_provider_vtable),
    .registered = registered,
    .node_class_status = node_class_status,
    .instance_types_version = types_version,
#endif
    .n_node_class_kinds = 1,
    .node_class_kinds = kinds,
    .instance_types = instance_types,
    .create = create,
    .delete_instance = delete_instance,
    .get = get,
    .list = list};

static char g_state[256];

static nw_status init(const nw_host_api *host, nw_plugin_handle *h,
                      void **state, nw_error *err) {
  (void)err;
  g_host = host;
  g_handle = h;
  g_state[0] = '\0';
  *state = g_state;
  return NW_OK;
}

static void fini(void *state) { (void)state; }

static const nw_plugin_descriptor descriptor = {
    .magic = NW_PLUGIN_MAGIC,
    .abi_major = NW_ABI_MAJOR,
#ifdef FIXTURE_ABI_1_1
    .abi_minor = 1,
    .name = "provider_1_1",
#else
    .abi_minor = NW_ABI_MINOR,
    .name = "provider_1_2",
#endif
    .struct_size = sizeof(nw_plugin_descriptor),
    .kind = NW_PLUGIN_PROVIDER,
    .version = "1.0.0",
    .description = "provider ABI fixture",
    .init = init,
    .fini = fini,
    .vtable = &vtable};

NW_PLUGIN_DEFINE(descriptor)
