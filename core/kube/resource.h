/*
 * Kubernetes resources by group/version/resource, and the REST paths to
 * them.  Everything in core/kube/ is generic over nw__kube_resource; the
 * constants below are the ones the daemon uses.
 */
#ifndef NW_KUBE_RESOURCE_H
#define NW_KUBE_RESOURCE_H

typedef struct nw__kube_resource {
  const char *group;    /* "" for the core group */
  const char *version;  /* "v1" */
  const char *resource; /* plural, lower case: "pods" */
  const char *kind;     /* "Pod" */
  int namespaced;
} nw__kube_resource;

extern const nw__kube_resource NW__KUBE_PODS;
extern const nw__kube_resource NW__KUBE_NODES;
extern const nw__kube_resource NW__KUBE_NAMESPACES;
extern const nw__kube_resource NW__KUBE_SERVICEACCOUNTS;
extern const nw__kube_resource NW__KUBE_DAEMONSETS;
extern const nw__kube_resource NW__KUBE_PDBS;
extern const nw__kube_resource NW__KUBE_PVS;
extern const nw__kube_resource NW__KUBE_PVCS;
extern const nw__kube_resource NW__KUBE_STORAGECLASSES;
extern const nw__kube_resource NW__KUBE_LEASES;
extern const nw__kube_resource NW__KUBE_EVENTS;       /* events.k8s.io/v1 */
extern const nw__kube_resource NW__KUBE_NODEPOOLS;    /* karpenter.sh/v1 */
extern const nw__kube_resource NW__KUBE_NODECLAIMS;   /* karpenter.sh/v1 */
extern const nw__kube_resource NW__KUBE_EC2NODECLASSES; /* karpenter.k8s.aws/v1 */
extern const nw__kube_resource NW__KUBE_KINDNODECLASSES;

/*
 * The path of a collection (name NULL) or object, optionally a subresource
 * ("status", "eviction") and a query string without '?' (already escaped;
 * see nw__kube_escape).  ns is ignored for cluster-scoped resources and
 * NULL means all namespaces for a collection.  Returns a new string the
 * caller frees; all arguments are borrowed.
 */
char *nw__kube_path(const nw__kube_resource *r, const char *ns,
                    const char *name, const char *sub, const char *query);

/* Percent-escapes a query value ("app=x,tier!=y"); caller frees. */
char *nw__kube_escape(const char *s);

/* "apps/v1" or "v1": the apiVersion field for r, in buf. */
const char *nw__kube_api_version(const nw__kube_resource *r, char *buf,
                                 unsigned len);

#endif
