#include "kube/leader.h"

#include <stdlib.h>
#include <string.h>

#include "kube/kutil.h"
#include "kube/ops.h"
#include "util/log.h"

static const char *COMP = "leader";

struct nw__kube_leader {
  nw__kube_client *c;
  nw__kube_leader_options o;
  uv_timer_t timer;
  int leading;
  int in_flight;
  int stopping;
  char *seen_holder;
  char *seen_renew;
  int64_t seen_at_ms;     /* local time the record last changed */
  int seen_duration_ms;
  int64_t last_renew_ms;
  json_t *last;           /* the lease as we last wrote it */
  char *reported;         /* leader last announced to on_new_leader */
  void (*stop_done)(void *);
  void *stop_user;
};

static void tick(uv_timer_t *t);

static void schedule(nw__kube_leader *l, int ms) {
  if (!l->stopping)
    uv_timer_start(&l->timer, tick, (uint64_t)ms, 0);
}

static int same(const char *a, const char *b) {
  return strcmp(a ? a : "", b ? b : "") == 0;
}

static void set(char **dst, const char *s) {
  free(*dst);
  *dst = s ? strdup(s) : NULL;
}

static void lose(nw__kube_leader *l, const char *why) {
  if (!l->leading)
    return;
  l->leading = 0;
  NW_WARN(COMP, "%s: lost leadership of lease %s/%s: %s", l->o.identity, l->o.ns,
          l->o.name, why);
  if (l->o.on_stopped)
    l->o.on_stopped(l->o.user);
}

/* Tracks when the lease record last changed, on our own clock, as
 * client-go does: clocks of different machines are never compared. */
static void observe(nw__kube_leader *l, const json_t *lease) {
  const char *holder = nw__kube_str(lease, "spec.holderIdentity");
  const char *renew = nw__kube_str(lease, "spec.renewTime");
  json_int_t dur = json_integer_value(
      json_object_get(json_object_get(lease, "spec"), "leaseDurationSeconds"));
  if (!same(holder, l->seen_holder) || !same(renew, l->seen_renew) || !l->seen_at_ms) {
    set(&l->seen_holder, holder);
    set(&l->seen_renew, renew);
    l->seen_at_ms = nw__kube_now_ms();
  }
  l->seen_duration_ms = dur > 0 ? (int)dur * 1000 : l->o.lease_ms;
  if (holder && *holder && !same(holder, l->reported)) {
    set(&l->reported, holder);
    if (strcmp(holder, l->o.identity) != 0 && l->o.on_new_leader)
      l->o.on_new_leader(l->o.user, holder);
  }
}

static void fill_spec(nw__kube_leader *l, json_t *lease, int acquiring) {
  char now[64];
  json_t *spec = json_object_get(lease, "spec");
  nw__kube_format_time(nw__kube_now_ms(), now, sizeof(now));
  if (!json_is_object(spec)) {
    spec = json_object();
    json_object_set_new(lease, "spec", spec);
  }
  json_object_set_new(spec, "holderIdentity", json_string(l->o.identity));
  json_object_set_new(spec, "leaseDurationSeconds",
                      json_integer((l->o.lease_ms + 999) / 1000));
  json_object_set_new(spec, "renewTime", json_string(now));
  if (acquiring) {
    json_int_t tr = json_integer_value(json_object_get(spec, "leaseTransitions"));
    json_object_set_new(spec, "acquireTime", json_string(now));
    /* An existing lease changes hands; a new one starts at zero. */
    if (nw__kube_str(lease, "metadata.resourceVersion"))
      tr++;
    json_object_set_new(spec, "leaseTransitions", json_integer(tr));
  }
}

static void finish_stop(nw__kube_leader *l);
static void release(nw__kube_leader *l);

static void on_write(void *user, nw__kube_response *resp) {
  nw__kube_leader *l = user;
  l->in_flight = 0;
  if (resp->status == NW_OK) {
    json_decref(l->last);
    l->last = json_incref(resp->body);
    observe(l, resp->body);
    l->last_renew_ms = nw__kube_now_ms();
    if (!l->leading) {
      l->leading = 1;
      NW_INFO(COMP, "%s: became leader of lease %s/%s", l->o.identity, l->o.ns,
              l->o.name);
      if (l->o.on_started)
        l->o.on_started(l->o.user);
    }
  } else {
    NW_DEBUG(COMP, "%s: lease write failed: %s", l->o.identity, resp->err.message);
  }
  if (l->stopping)
    release(l);
  else
    schedule(l, l->o.retry_ms);
}

static void create_lease(nw__kube_leader *l) {
  json_t *lease = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion",
                            "coordination.k8s.io/v1", "kind", "Lease",
                            "metadata", "name", l->o.name, "namespace", l->o.ns);
  fill_spec(l, lease, 1);
  l->in_flight = 1;
  nw__kube_create(l->c, &NW__KUBE_LEASES, l->o.ns, lease, on_write, l);
  json_decref(lease);
}

static void on_get(void *user, nw__kube_response *resp) {
  nw__kube_leader *l = user;
  l->in_flight = 0;
  if (l->stopping) {
    release(l);
    return;
  }
  if (resp->status == NW_ERR_NOT_FOUND) {
    create_lease(l);
    return;
  }
  if (resp->status != NW_OK) {
    NW_DEBUG(COMP, "%s: lease read failed: %s", l->o.identity, resp->err.message);
    schedule(l, l->o.retry_ms);
    return;
  }
  observe(l, resp->body);
  const char *holder = nw__kube_str(resp->body, "spec.holderIdentity");
  int other = holder && *holder && strcmp(holder, l->o.identity) != 0;
  int64_t expires = l->seen_at_ms + l->seen_duration_ms;
  int64_t now = nw__kube_now_ms();
  if (other && expires > now) {
    lose(l, "another holder renewed the lease");
    /* Try again right when it would expire if not renewed, rather than
     * up to a retry period later. */
    schedule(l, expires - now < l->o.retry_ms ? (int)(expires - now) + 10 : l->o.retry_ms);
    return;
  }
  json_t *lease = json_deep_copy(resp->body);
  fill_spec(l, lease, !holder || strcmp(holder, l->o.identity) != 0);
  l->in_flight = 1;
  nw__kube_replace(l->c, &NW__KUBE_LEASES, l->o.ns, l->o.name, NULL, lease,
                   on_write, l);
  json_decref(lease);
}

static void tick(uv_timer_t *t) {
  nw__kube_leader *l = t->data;
  if (l->leading && nw__kube_now_ms() - l->last_renew_ms > l->o.renew_deadline_ms)
    lose(l, "renew deadline exceeded");
  if (l->in_flight) {
    schedule(l, l->o.retry_ms);
    return;
  }
  l->in_flight = 1;
  nw__kube_get(l->c, &NW__KUBE_LEASES, l->o.ns, l->o.name, on_get, l);
}

static void free_leader(uv_handle_t *h) {
  nw__kube_leader *l = h->data;
  void (*done)(void *) = l->stop_done;
  void *user = l->stop_user;
  free((char *)l->o.ns);
  free((char *)l->o.name);
  free((char *)l->o.identity);
  free(l->seen_holder);
  free(l->seen_renew);
  free(l->reported);
  json_decref(l->last);
  free(l);
  if (done)
    done(user);
}

static void finish_stop(nw__kube_leader *l) {
  uv_close((uv_handle_t *)&l->timer, free_leader);
}

static void on_released(void *user, nw__kube_response *resp) {
  nw__kube_leader *l = user;
  l->in_flight = 0;
  if (resp->status != NW_OK)
    NW_WARN(COMP, "%s: releasing lease %s/%s: %s", l->o.identity, l->o.ns,
            l->o.name, resp->err.message);
  else
    NW_INFO(COMP, "%s: released lease %s/%s", l->o.identity, l->o.ns, l->o.name);
  lose(l, "released on shutdown");
  finish_stop(l);
}

/* As client-go's ReleaseOnCancel: empty holder, 1 s duration. */
static void release(nw__kube_leader *l) {
  if (!l->leading || !l->last) {
    finish_stop(l);
    return;
  }
  char now[64];
  json_t *lease = json_deep_copy(l->last);
  json_t *spec = json_object_get(lease, "spec");
  nw__kube_format_time(nw__kube_now_ms(), now, sizeof(now));
  json_object_del(spec, "holderIdentity");
  json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
  json_object_set_new(spec, "renewTime", json_string(now));
  json_object_set_new(spec, "acquireTime", json_string(now));
  l->in_flight = 1;
  nw__kube_replace(l->c, &NW__KUBE_LEASES, l->o.ns, l->o.name, NULL, lease,
                   on_released, l);
  json_decref(lease);
}

nw__kube_leader *nw__kube_leader_start(nw__kube_client *client,
                                       const nw__kube_leader_options *opts,
                                       nw_error *err) {
  if (!opts->ns || !opts->name || !opts->identity || !*opts->identity) {
    nw__kube_err(err, NW_ERR_INVALID, "leader election: namespace, name and identity are required");
    return NULL;
  }
  if (!nw__kube_client_loop(client)) {
    nw__kube_err(err, NW_ERR_INVALID, "leader election needs a loop-mode client");
    return NULL;
  }
  nw__kube_leader *l = calloc(1, sizeof(*l));
  if (!l) {
    nw__kube_err(err, NW_ERR, "leader election: out of memory");
    return NULL;
  }
  l->c = client;
  l->o = *opts;
  l->o.ns = strdup(opts->ns);
  l->o.name = strdup(opts->name);
  l->o.identity = strdup(opts->identity);
  if (l->o.lease_ms <= 0)
    l->o.lease_ms = 15000;
  if (l->o.renew_deadline_ms <= 0)
    l->o.renew_deadline_ms = 10000;
  if (l->o.retry_ms <= 0)
    l->o.retry_ms = 2000;
  uv_timer_init(nw__kube_client_loop(client), &l->timer);
  l->timer.data = l;
  uv_timer_start(&l->timer, tick, 0, 0);
  return l;
}

int nw__kube_leader_is_leader(const nw__kube_leader *l) { return l->leading; }

void nw__kube_leader_stop(nw__kube_leader *l, void (*done)(void *user),
                          void *user) {
  l->stopping = 1;
  l->stop_done = done;
  l->stop_user = user;
  uv_timer_stop(&l->timer);
  if (!l->in_flight)
    release(l);
}
