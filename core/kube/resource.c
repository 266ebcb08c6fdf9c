#include "kube/resource.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const nw__kube_resource NW__KUBE_PODS = {"", "v1", "pods", "Pod", 1};
const nw__kube_resource NW__KUBE_NODES = {"", "v1", "nodes", "Node", 0};
const nw__kube_resource NW__KUBE_NAMESPACES = {"", "v1", "namespaces", "Namespace", 0};
const nw__kube_resource NW__KUBE_SERVICEACCOUNTS = {"", "v1", "serviceaccounts",
                                                    "ServiceAccount", 1};
const nw__kube_resource NW__KUBE_DAEMONSETS = {"apps", "v1", "daemonsets", "DaemonSet", 1};
const nw__kube_resource NW__KUBE_PDBS = {"policy", "v1", "poddisruptionbudgets",
                                         "PodDisruptionBudget", 1};
const nw__kube_resource NW__KUBE_PVS = {"", "v1", "persistentvolumes",
                                        "PersistentVolume", 0};
const nw__kube_resource NW__KUBE_PVCS = {"", "v1", "persistentvolumeclaims",
                                         "PersistentVolumeClaim", 1};
const nw__kube_resource NW__KUBE_STORAGECLASSES = {"storage.k8s.io", "v1",
                                                   "storageclasses", "StorageClass", 0};
const nw__kube_resource NW__KUBE_LEASES = {"coordination.k8s.io", "v1", "leases",
                                           "Lease", 1};
const nw__kube_resource NW__KUBE_EVENTS = {"events.k8s.io", "v1", "events", "Event", 1};
const nw__kube_resource NW__KUBE_NODEPOOLS = {"karpenter.sh", "v1", "nodepools",
                                              "NodePool", 0};
const nw__kube_resource NW__KUBE_NODECLAIMS = {"karpenter.sh", "v1", "nodeclaims",
                                               "NodeClaim", 0};
const nw__kube_resource NW__KUBE_EC2NODECLASSES = {"karpenter.k8s.aws", "v1",
                                                   "ec2nodeclasses", "EC2NodeClass", 0};
const nw__kube_resource NW__KUBE_KINDNODECLASSES = {"nodewright.dev", "v1alpha1",
                                                    "kindnodeclasses", "KindNodeClass", 0};

char *nw__kube_path(const nw__kube_resource *r, const char *ns,
                    const char *name, const char *sub, const char *query) {
  char *out = NULL;
  char nsbuf[300] = "";
  if (r->namespaced && ns && *ns)
    snprintf(nsbuf, sizeof(nsbuf), "/namespaces/%s", ns);
  char prefix[200];
  if (r->group[0])
    snprintf(prefix, sizeof(prefix), "/apis/%s/%s", r->group, r->version);
  else
    snprintf(prefix, sizeof(prefix), "/api/%s", r->version);
  int rc = asprintf(&out, "%s%s/%s%s%s%s%s%s", prefix, nsbuf, r->resource,
                    name ? "/" : "", name ? name : "", sub && name ? "/" : "",
                    sub && name ? sub : "", query && *query ? "?" : "");
  if (rc < 0)
    return NULL;
  if (query && *query) {
    char *full = NULL;
    rc = asprintf(&full, "%s%s", out, query);
    free(out);
    out = rc < 0 ? NULL : full;
  }
  return out;
}

char *nw__kube_escape(const char *s) {
  char *e = curl_easy_escape(NULL, s, 0);
  char *out = e ? strdup(e) : NULL;
  curl_free(e);
  return out;
}

const char *nw__kube_api_version(const nw__kube_resource *r, char *buf,
                                 unsigned len) {
  snprintf(buf, len, "%s%s%s", r->group, r->group[0] ? "/" : "", r->version);
  return buf;
}
