/*
 * Helpers shared by the pricing plugin tests: load build/lib/nodewright/
 * pricing.so through the real loader with a virtual clock, and run the
 * Price List test server (pricelist_server.py) as a child process.
 */
#ifndef NW_TESTS_PRICING_TEST_H
#define NW_TESTS_PRICING_TEST_H

#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "plugin/loader.h"

/* The virtual clocks the loaded plugin sees (both in ms). */
extern int64_t pt_now_ms;

/* A loaded pricing plugin: its set, vtable and state. */
typedef struct pt_plugin {
  nw__plugin_set *set;
  const nw_pricing_vtable *vt;
  void *state;
} pt_plugin;

/* Loads pricing.so with config_json; 0, or -1 with the loader's message
 * in err.  Free with pt_unload. */
int pt_load(pt_plugin *p, const char *config_json, char *err, size_t errlen);
void pt_unload(pt_plugin *p);

/* price() of the loaded plugin; returns its status. */
nw_status pt_price(pt_plugin *p, const char *type, const char *zone,
                   const char *ct, double *usd);

/* The shipped snapshot's prices for us-east-1 (borrowed JSON object with
 * "on-demand" and "spot"); loaded once. */
json_t *pt_snapshot_region(void);

/* Test credentials in the environment (as moto expects), IMDS off, and no
 * endpoint overrides from the environment: the tests name endpoints in
 * the plugin config. */
void pt_fake_aws_env(void);

/* The Price List test server. */
typedef struct pt_server {
  pid_t pid;
  int port;
  char url[64];
} pt_server;

/* Starts pricelist_server.py with extra arguments (a NULL-terminated
 * list); 0 once it listens, -1 on failure. */
int pt_server_start(pt_server *s, const char *const *args);
void pt_server_stop(pt_server *s);

/* GET path from the server, parsed; NULL on failure.  Caller decrefs. */
json_t *pt_server_get(const pt_server *s, const char *path);
/* POST /__control with a JSON body; 0 on HTTP 200. */
int pt_server_control(const pt_server *s, const char *json);

#endif
