/*
 * A leader-election candidate for test_kube_leader: campaigns for a Lease
 * and prints "LEADING <id>" / "STOPPED <id>" lines on stdout.  SIGTERM
 * stops it cleanly (the lease is released); SIGKILL is the crash case.
 *
 *   kube_leader_helper <kubeconfig> <namespace> <lease> <identity>
 */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "kube/leader.h"

typedef struct app {
  const char *id;
  nw__kube_client *client;
  nw__kube_leader *leader;
  uv_signal_t sig;
} app;

static void started(void *u) {
  printf("LEADING %s\n", ((app *)u)->id);
  fflush(stdout);
}

static void stopped(void *u) {
  printf("STOPPED %s\n", ((app *)u)->id);
  fflush(stdout);
}

static void after_release(void *u) {
  app *a = u;
  nw__kube_client_free(a->client);
  a->client = NULL;
}

static void on_term(uv_signal_t *s, int signum) {
  app *a = s->data;
  (void)signum;
  uv_close((uv_handle_t *)&a->sig, NULL);
  nw__kube_leader_stop(a->leader, after_release, a);
}

int main(int argc, char **argv) {
  nw_error err = {0};
  app a = {0};
  uv_loop_t *loop = uv_default_loop();
  if (argc != 5) {
    fprintf(stderr, "usage: %s kubeconfig namespace lease identity\n", argv[0]);
    return 2;
  }
  a.id = argv[4];
  nw__kube_config *cfg = nw__kube_config_load(argv[1], NULL, &err);
  if (!cfg) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  a.client = nw__kube_client_new(cfg, loop, NULL, &err);
  nw__kube_leader_options o = {.ns = argv[2], .name = argv[3], .identity = argv[4],
                               .on_started = started, .on_stopped = stopped, .user = &a};
  a.leader = nw__kube_leader_start(a.client, &o, &err);
  if (!a.leader) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  uv_signal_init(loop, &a.sig);
  a.sig.data = &a;
  uv_signal_start(&a.sig, on_term, SIGTERM);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  nw__kube_config_free(cfg);
  return 0;
}
