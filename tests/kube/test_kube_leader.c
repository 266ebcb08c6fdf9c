/*
 * Leader election between real processes (kube_leader_helper) on the
 * fixture apiserver: only one leads; after kill -9 of the leader the other
 * takes over once the lease expires (15 s lease + 2 s retry); a clean stop
 * releases the lease so a successor takes over at once.
 */
#include "nwtest.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kube/kutil.h"
#include "kube/ops.h"
#include "kube_testutil.h"

#define HELPER NW_TEST_BUILD_DIR "/tests/kube_leader_helper"
#define LEASE_MS 15000
#define RETRY_MS 2000

extern char **environ;

typedef struct cand {
  pid_t pid;
  int out;       /* read end of its stdout */
  char id[64];
  char buf[512];
  size_t len;
  int leading;
} cand;

static nw__kube_config *g_cfg;
static nw__kube_client *g_sync;
static char g_lease[64];

static int setup(void) {
  nw_error err = {0};
  g_cfg = nw__kube_config_load(NW_TEST_KUBECONFIG, NULL, &err);
  g_sync = g_cfg ? nw__kube_client_new(g_cfg, NULL, NULL, &err) : NULL;
  snprintf(g_lease, sizeof(g_lease), "nw-leader-test-%d", (int)getpid());
  return g_sync ? 0 : -1;
}

static int teardown(void) {
  char *path = nw__kube_path(&NW__KUBE_LEASES, "default", g_lease, NULL, NULL);
  nw__kube_call(g_sync, "DELETE", path, NULL, NULL, NULL, NULL, NULL);
  free(path);
  nw__kube_client_free(g_sync);
  nw__kube_config_free(g_cfg);
  return 0;
}

static void spawn(cand *c, const char *id) {
  int fds[2];
  posix_spawn_file_actions_t fa;
  memset(c, 0, sizeof(*c));
  snprintf(c->id, sizeof(c->id), "%s", id);
  CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  char *argv[] = {HELPER, NW_TEST_KUBECONFIG, "default", g_lease, c->id, NULL};
  CU_ASSERT_EQUAL_FATAL(posix_spawn(&c->pid, HELPER, &fa, NULL, argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  c->out = fds[0];
  fcntl(c->out, F_SETFL, O_NONBLOCK);
}

/* Reads what candidates printed for up to ms; returns the first one that
 * announced leadership during that time, or NULL. */
static cand *watch(cand **cs, int n, int ms) {
  int64_t end = nw__kube_now_ms() + ms;
  cand *first = NULL;
  while (nw__kube_now_ms() < end && !first) {
    struct pollfd p[4];
    for (int i = 0; i < n; i++) {
      p[i].fd = cs[i]->out;
      p[i].events = POLLIN;
    }
    poll(p, (nfds_t)n, 100);
    for (int i = 0; i < n; i++) {
      cand *c = cs[i];
      ssize_t got = read(c->out, c->buf + c->len, sizeof(c->buf) - c->len - 1);
      if (got <= 0)
        continue;
      c->len += (size_t)got;
      c->buf[c->len] = '\0';
      if (!c->leading && strstr(c->buf, "LEADING")) {
        c->leading = 1;
        if (!first)
          first = c;
      }
    }
  }
  return first;
}

static void reap(cand *c, int sig) {
  int st;
  kill(c->pid, sig);
  waitpid(c->pid, &st, 0);
  fcntl(c->out, F_SETFL, 0);
  for (;;) {
    ssize_t got = read(c->out, c->buf + c->len, sizeof(c->buf) - c->len - 1);
    if (got <= 0)
      break;
    c->len += (size_t)got;
  }
  c->buf[c->len] = '\0';
  close(c->out);
}

static const char *holder(void) {
  static char h[64];
  json_t *lease = NULL;
  char *path = nw__kube_path(&NW__KUBE_LEASES, "default", g_lease, NULL, NULL);
  nw__kube_call(g_sync, "GET", path, NULL, NULL, &lease, NULL, NULL);
  free(path);
  const char *v = nw__kube_str(lease, "spec.holderIdentity");
  snprintf(h, sizeof(h), "%s", v ? v : "");
  json_decref(lease);
  return h;
}

static void test_one_leader_failover_and_release(void) {
  cand a;
  cand b;
  cand c;
  spawn(&a, "cand-a");
  spawn(&b, "cand-b");
  cand *both[] = {&a, &b};
  cand *leader = watch(both, 2, 20000);
  CU_ASSERT_PTR_NOT_NULL_FATAL(leader);
  cand *other = leader == &a ? &b : &a;
  /* Several renew periods later, still exactly one leader. */
  watch(both, 2, 3 * RETRY_MS);
  CU_ASSERT_FALSE(other->leading);
  CU_ASSERT_STRING_EQUAL(holder(), leader->id);

  /* Crash the leader: the other waits out the lease, then takes over. */
  int64_t killed = nw__kube_now_ms();
  reap(leader, SIGKILL);
  cand *only[] = {other};
  cand *next = watch(only, 1, LEASE_MS + 3 * RETRY_MS);
  int64_t took = nw__kube_now_ms() - killed;
  CU_ASSERT_PTR_NOT_NULL_FATAL(next);
  fprintf(stderr, "takeover after kill -9: %lld ms\n", (long long)took);
  /* As in client-go, expiry is judged on the candidate's clock from when it
   * saw the last renewal, which it notices up to one retry period late:
   * takeover comes at most lease + retry (+ scheduling slack) after the
   * kill. */
  CU_ASSERT_TRUE(took <= LEASE_MS + RETRY_MS + 1500);
  /* It did wait for expiry: the last renewal was at most one retry
   * period before the kill. */
  CU_ASSERT_TRUE(took >= LEASE_MS - RETRY_MS - 1000);
  CU_ASSERT_STRING_EQUAL(holder(), other->id);

  /* A clean stop releases the lease; a newcomer takes it at once. */
  reap(other, SIGTERM);
  CU_ASSERT_PTR_NOT_NULL(strstr(other->buf, "STOPPED"));
  CU_ASSERT_STRING_EQUAL(holder(), "");
  int64_t t0 = nw__kube_now_ms();
  spawn(&c, "cand-c");
  cand *cc[] = {&c};
  CU_ASSERT_PTR_NOT_NULL(watch(cc, 1, 5000));
  CU_ASSERT_TRUE(nw__kube_now_ms() - t0 < 5000);
  reap(&c, SIGTERM);
}

NW_TEST_CASES({"one_leader_failover_and_release", test_one_leader_failover_and_release});
NW_TEST_MAIN("kube_leader", setup, teardown);
