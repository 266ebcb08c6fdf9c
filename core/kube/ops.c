#include "kube/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kutil.h"

#define UPDATE_ATTEMPTS 10

static void with_path(nw__kube_client *c, const char *method, char *path,
                      const char *ctype, const json_t *body,
                      nw__kube_done_fn done, void *user) {
  if (!path) {
    nw__kube_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.reason = "";
    resp.status = nw__kube_err(&resp.err, NW_ERR, "%s: out of memory", method);
    done(user, &resp);
    return;
  }
  nw__kube_request(c, method, path, ctype, body, done, user);
  free(path);
}

void nw__kube_get(nw__kube_client *c, const nw__kube_resource *r,
                  const char *ns, const char *name, nw__kube_done_fn done,
                  void *user) {
  with_path(c, "GET", nw__kube_path(r, ns, name, NULL, NULL), NULL, NULL, done,
            user);
}

void nw__kube_create(nw__kube_client *c, const nw__kube_resource *r,
                     const char *ns, const json_t *obj, nw__kube_done_fn done,
                     void *user) {
  with_path(c, "POST", nw__kube_path(r, ns, NULL, NULL, NULL), NULL, obj, done,
            user);
}

void nw__kube_replace(nw__kube_client *c, const nw__kube_resource *r,
                      const char *ns, const char *name, const char *sub,
                      const json_t *obj, nw__kube_done_fn done, void *user) {
  with_path(c, "PUT", nw__kube_path(r, ns, name, sub, NULL), NULL, obj, done,
            user);
}

void nw__kube_patch(nw__kube_client *c, const nw__kube_resource *r,
                    const char *ns, const char *name, const char *sub,
                    nw__kube_patch_type type, const json_t *patch,
                    nw__kube_done_fn done, void *user) {
  static const char *const types[] = {"application/merge-patch+json",
                                      "application/json-patch+json",
                                      "application/strategic-merge-patch+json"};
  with_path(c, "PATCH", nw__kube_path(r, ns, name, sub, NULL), types[type],
            patch, done, user);
}

/* ---- read-modify-write ------------------------------------------------- */

typedef struct update_op {
  nw__kube_client *c;
  nw__kube_resource res;
  char *ns;
  char *name;
  char *sub;
  nw__kube_mutate_fn mutate;
  void *mutate_user;
  nw__kube_done_fn done;
  void *user;
  int attempts;
} update_op;

static void update_free(update_op *op) {
  free(op->ns);
  free(op->name);
  free(op->sub);
  free(op);
}

static void update_finish(update_op *op, nw__kube_response *resp) {
  op->done(op->user, resp);
  update_free(op);
}

static void update_fetch(update_op *op);

static void on_update_put(void *user, nw__kube_response *resp) {
  update_op *op = user;
  if (resp->http_status == 409 && op->attempts < UPDATE_ATTEMPTS) {
    update_fetch(op);
    return;
  }
  update_finish(op, resp);
}

/* Mutates a private copy of obj and writes it back. */
static void update_apply(update_op *op, const json_t *obj) {
  json_t *copy = json_deep_copy(obj);
  int rc = copy ? op->mutate(op->mutate_user, copy) : -1;
  op->attempts++;
  if (rc != 0) {
    nw__kube_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.reason = "";
    resp.body = copy;
    if (rc < 0)
      resp.status = nw__kube_err(&resp.err, NW_ERR_INVALID,
                                 "update %s/%s: the change was abandoned",
                                 op->res.resource, op->name);
    update_finish(op, &resp);
    json_decref(copy);
    return;
  }
  char *path = nw__kube_path(&op->res, op->ns, op->name, op->sub, NULL);
  if (!path) {
    json_decref(copy);
    nw__kube_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.reason = "";
    resp.status = nw__kube_err(&resp.err, NW_ERR, "update: out of memory");
    update_finish(op, &resp);
    return;
  }
  nw__kube_request(op->c, "PUT", path, NULL, copy, on_update_put, op);
  free(path);
  json_decref(copy);
}

static void on_update_get(void *user, nw__kube_response *resp) {
  update_op *op = user;
  if (resp->status != NW_OK) {
    update_finish(op, resp);
    return;
  }
  update_apply(op, resp->body);
}

static void update_fetch(update_op *op) {
  char *path = nw__kube_path(&op->res, op->ns, op->name, NULL, NULL);
  if (!path) {
    nw__kube_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.reason = "";
    resp.status = nw__kube_err(&resp.err, NW_ERR, "update: out of memory");
    update_finish(op, &resp);
    return;
  }
  nw__kube_request(op->c, "GET", path, NULL, NULL, on_update_get, op);
  free(path);
}

void nw__kube_update(nw__kube_client *c, const nw__kube_resource *r,
                     const char *ns, const char *name, const char *sub,
                     const json_t *start, nw__kube_mutate_fn mutate,
                     void *mutate_user, nw__kube_done_fn done, void *user) {
  update_op *op = calloc(1, sizeof(*op));
  if (op) {
    op->c = c;
    op->res = *r;
    op->ns = ns ? strdup(ns) : NULL;
    op->name = strdup(name);
    op->sub = sub ? strdup(sub) : NULL;
    op->mutate = mutate;
    op->mutate_user = mutate_user;
    op->done = done;
    op->user = user;
  }
  if (!op || !op->name) {
    nw__kube_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.reason = "";
    resp.status = nw__kube_err(&resp.err, NW_ERR, "update: out of memory");
    if (op)
      update_free(op);
    done(user, &resp);
    return;
  }
  if (start)
    update_apply(op, start);
  else
    update_fetch(op);
}

/* ---- finalizers -------------------------------------------------------- */

typedef struct fin_op {
  char *finalizer;
  int add;
  nw__kube_done_fn done;
  void *user;
} fin_op;

static int fin_mutate(void *user, json_t *obj) {
  fin_op *f = user;
  json_t *meta = json_object_get(obj, "metadata");
  json_t *list = json_object_get(meta, "finalizers");
  size_t i;
  json_t *v;
  if (!json_is_object(meta))
    return -1;
  json_array_foreach(list, i, v) {
    if (json_is_string(v) && strcmp(json_string_value(v), f->finalizer) == 0) {
      if (f->add)
        return 1;
      json_array_remove(list, i);
      return 0;
    }
  }
  if (!f->add)
    return 1;
  if (!json_is_array(list)) {
    list = json_array();
    json_object_set_new(meta, "finalizers", list);
  }
  json_array_append_new(list, json_string(f->finalizer));
  return 0;
}

static void fin_done(void *user, nw__kube_response *resp) {
  fin_op *f = user;
  f->done(f->user, resp);
  free(f->finalizer);
  free(f);
}

static void finalizer_op(nw__kube_client *c, const nw__kube_resource *r,
                         const char *ns, const char *name, const char *fin,
                         int add, nw__kube_done_fn done, void *user) {
  fin_op *f = calloc(1, sizeof(*f));
  if (f)
    f->finalizer = strdup(fin);
  if (!f || !f->finalizer) {
    free(f);
    nw__kube_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.reason = "";
    resp.status = nw__kube_err(&resp.err, NW_ERR, "finalizer: out of memory");
    done(user, &resp);
    return;
  }
  f->add = add;
  f->done = done;
  f->user = user;
  nw__kube_update(c, r, ns, name, NULL, NULL, fin_mutate, f, fin_done, f);
}

void nw__kube_finalizer_add(nw__kube_client *c, const nw__kube_resource *r,
                            const char *ns, const char *name,
                            const char *finalizer, nw__kube_done_fn done,
                            void *user) {
  finalizer_op(c, r, ns, name, finalizer, 1, done, user);
}

void nw__kube_finalizer_remove(nw__kube_client *c, const nw__kube_resource *r,
                               const char *ns, const char *name,
                               const char *finalizer, nw__kube_done_fn done,
                               void *user) {
  finalizer_op(c, r, ns, name, finalizer, 0, done, user);
}

/* ---- delete and evict -------------------------------------------------- */

static json_t *delete_options(const nw__kube_delete_options *o) {
  json_t *d = json_pack("{s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
  if (!o || !d)
    return d;
  if (o->uid || o->resource_version) {
    json_t *pre = json_object();
    if (o->uid)
      json_object_set_new(pre, "uid", json_string(o->uid));
    if (o->resource_version)
      json_object_set_new(pre, "resourceVersion", json_string(o->resource_version));
    json_object_set_new(d, "preconditions", pre);
  }
  if (o->propagation)
    json_object_set_new(d, "propagationPolicy", json_string(o->propagation));
  if (o->grace_seconds >= 0)
    json_object_set_new(d, "gracePeriodSeconds", json_integer(o->grace_seconds));
  return d;
}

void nw__kube_delete(nw__kube_client *c, const nw__kube_resource *r,
                     const char *ns, const char *name,
                     const nw__kube_delete_options *opts,
                     nw__kube_done_fn done, void *user) {
  json_t *body = delete_options(opts);
  with_path(c, "DELETE", nw__kube_path(r, ns, name, NULL, NULL), NULL, body,
            done, user);
  json_decref(body);
}

void nw__kube_evict(nw__kube_client *c, const char *ns, const char *pod,
                    long grace_seconds, nw__kube_done_fn done, void *user) {
  nw__kube_delete_options o = {NULL, NULL, NULL, grace_seconds};
  json_t *body = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion",
                           "policy/v1", "kind", "Eviction", "metadata", "name",
                           pod, "namespace", ns, "deleteOptions",
                           delete_options(&o));
  with_path(c, "POST", nw__kube_path(&NW__KUBE_PODS, ns, pod, "eviction", NULL),
            NULL, body, done, user);
  json_decref(body);
}
