/*
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's
 * semantics: a candidate takes the lease when it is free (no holder) or
 * when the holder has not renewed it for leaseDurationSeconds as observed
 * on the candidate's own clock; the leader renews every retry period and
 * gives up leadership when it could not renew within the renew deadline.
 * A clean stop releases the lease (empty holderIdentity,
 * leaseDurationSeconds 1) so a successor takes over at once.
 *
 * Runs on the client's libuv loop (loop-mode client).  Only the leader
 * should reconcile: start the controllers in on_started, stop them in
 * on_stopped.
 */
#ifndef NW_KUBE_LEADER_H
#define NW_KUBE_LEADER_H

#include "kube/client.h"

typedef struct nw__kube_leader nw__kube_leader;

typedef struct nw__kube_leader_options {
  const char *ns;        /* Lease namespace, e.g. "kube-system" */
  const char *name;      /* Lease name, e.g. "nodewright-leader" */
  const char *identity;  /* unique per process, e.g. hostname_pid */
  int lease_ms;          /* 0: 15000 */
  int renew_deadline_ms; /* 0: 10000 */
  int retry_ms;          /* 0: 2000 */
  void (*on_started)(void *user);
  /* Leadership lost (renew deadline passed) or released by stop. */
  void (*on_stopped)(void *user);
  /* Someone else (identity borrowed) holds the lease now. */
  void (*on_new_leader)(void *user, const char *identity);
  void *user;
} nw__kube_leader_options;

/* Starts campaigning.  client (loop mode) is borrowed and must outlive
 * the elector; opts is copied.  NULL with err set on bad options. */
nw__kube_leader *nw__kube_leader_start(nw__kube_client *client,
                                       const nw__kube_leader_options *opts,
                                       nw_error *err);

int nw__kube_leader_is_leader(const nw__kube_leader *l);

/*
 * Stops campaigning, releases the lease when held (on_stopped runs), then
 * frees the elector and calls done(user) (may be NULL).  Keep running the
 * loop until done has been called.
 */
void nw__kube_leader_stop(nw__kube_leader *l, void (*done)(void *user),
                          void *user);

#endif
