/*
 * The kubeadm runtime's join, as kind and CAPD join their workers: mint a
 * join command on the control-plane container, write the kubelet's extra
 * arguments in the new node and run `kubeadm join` there, all through
 * docker exec.
 */
#include <stdio.h>
#include <string.h>

#include "kind.h"

static nw_status control_plane(nw__kind *k, nw_arena *a, char *name, size_t len,
                               nw_error *err) {
  json_t *arr = NULL;
  char lj[300];
  snprintf(lj, sizeof(lj), "[\"%s=%s\",\"%s=control-plane\"]",
           NW_KIND_LABEL_CLUSTER, k->cfg.cluster, NW_KIND_LABEL_ROLE);
  nw_status st = nw__kind_list_containers(k, lj, a, &arr, err);
  if (st != NW_OK)
    return st;
  const char *n = NULL;
  size_t i;
  json_t *c;
  json_array_foreach(arr, i, c) {
    const char *s = json_string_value(json_object_get(c, "State"));
    if (s && strcmp(s, "running") == 0) {
      n = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
      break;
    }
  }
  if (n)
    snprintf(name, len, "%s", n[0] == '/' ? n + 1 : n);
  json_decref(arr);
  if (!n)
    return nw__kind_err(err, NW_ERR_INVALID,
                        "kind: no running control-plane container of cluster %s "
                        "(labels %s=%s, %s=control-plane); create it with `kind "
                        "create cluster --name %s`", k->cfg.cluster,
                        NW_KIND_LABEL_CLUSTER, k->cfg.cluster, NW_KIND_LABEL_ROLE,
                        k->cfg.cluster);
  return NW_OK;
}

/* kubeadm runtime: join the node to the kind cluster, as kind does. */
nw_status nw__kind_join(nw__kind *k, const nw__kind_node_spec *spec,
                        nw_arena *a, nw_error *err) {
  static const char *const joined[] = {"test", "-f", "/etc/kubernetes/kubelet.conf", NULL};
  static const char *const wait_systemd[] = {
      "sh", "-c",
      "i=0; while [ $i -lt 120 ]; do systemctl is-active --quiet containerd && "
      "exit 0; i=$((i+1)); sleep 0.5; done; exit 1", NULL};
  char cp[256], endpoint[256], token[128], hash[128];
  const char *o = NULL, *e = NULL, *join_cmd = NULL;
  int code = -1;
  nw_status st = nw__kind_exec(k, spec->name, joined, a, &o, &e, &code, err);
  if (st != NW_OK || code == 0)
    return st;
  st = control_plane(k, a, cp, sizeof(cp), err);
  if (st == NW_OK)
    st = nw__kind_exec_ok(k, spec->name, wait_systemd, a, NULL, err);
  if (st == NW_OK)
    st = nw__kind_exec_ok(k, cp, nw__kind_token_argv(), a, &join_cmd, err);
  if (st != NW_OK)
    return st;
  if (nw__kind_parse_join(join_cmd, endpoint, sizeof(endpoint), token,
                          sizeof(token), hash, sizeof(hash)) != 0)
    return nw__kind_err(err, NW_ERR, "kind: unexpected output of `kubeadm token "
                        "create --print-join-command` in %s: %.200s", cp, join_cmd);
  char **kubelet = nw__kind_kubelet_args_argv(&k->cfg, spec);
  char **join = nw__kind_join_argv(endpoint, token, hash);
  if (!kubelet || !join) {
    st = nw__kind_err(err, NW_ERR, "kind: out of memory");
  } else {
    st = nw__kind_exec_ok(k, spec->name, (const char *const *)kubelet, a, NULL, err);
    if (st == NW_OK)
      st = nw__kind_exec_ok(k, spec->name, (const char *const *)join, a, NULL, err);
  }
  nw__kind_argv_free(kubelet);
  nw__kind_argv_free(join);
  return st;
}

