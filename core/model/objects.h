/*
 * Kubernetes objects as the scheduler, the provisioner, the disruption
 * controller and the simulator read them, decoded from JSON (jansson, the
 * shape `kubectl get -o json` prints).  Only the fields nodewright uses are
 * decoded; everything else is ignored.
 *
 * Ownership: every decoder allocates the object and all its strings and
 * arrays from the arena it is given; the caller owns the arena and frees
 * everything at once.  The json_t input is borrowed and may be released
 * as soon as the decoder returns.
 *
 * Errors: decoders return NULL (or -1) and write "<kind> <ns/name>: <field>:
 * <problem>" into the nw_error, so a bad manifest is named precisely.
 *
 * Label selectors, node selector terms and NodePool requirements all
 * become nw_requirements (matchLabels k=v is "k In [v]").
 */
#ifndef NW_MODEL_OBJECTS_H
#define NW_MODEL_OBJECTS_H

#include <jansson.h>
#include <stdint.h>

#include <nodewright/types.h>

/* An OR of conjunctions (nodeSelectorTerms, allowedTopologies). */
typedef struct nw__terms {
  size_t len;
  const nw_requirements *items;
} nw__terms;

typedef struct nw__weighted_term {
  int32_t weight;
  nw_requirements term;
} nw__weighted_term;

/* A metav1.LabelSelector; `present` is 0 for a null selector (which
 * selects nothing in affinity and spread), 1 otherwise ({} selects all). */
typedef struct nw__selector {
  int present;
  nw_requirements reqs;
} nw__selector;

typedef enum nw__toleration_op {
  NW__TOL_EQUAL = 0,
  NW__TOL_EXISTS = 1
} nw__toleration_op;

typedef struct nw__toleration {
  const char *key;             /* "" matches every key (with Exists) */
  nw__toleration_op op;
  const char *value;           /* "" when absent */
  int effect;                  /* nw_taint_effect, or -1 for all effects */
  int64_t toleration_s;        /* -1 when unset */
} nw__toleration;

typedef struct nw__pod_affinity_term {
  int32_t weight;              /* 0 for required terms */
  nw__selector selector;
  size_t n_namespaces;         /* empty with no ns selector = pod's own */
  const char *const *namespaces;
  nw__selector namespace_selector;
  const char *topology_key;
  size_t n_match_label_keys;   /* matchLabelKeys: add pod's values */
  const char *const *match_label_keys;
  size_t n_mismatch_label_keys;
  const char *const *mismatch_label_keys;
} nw__pod_affinity_term;

typedef struct nw__pod_affinity_terms {
  size_t len;
  const nw__pod_affinity_term *items;
} nw__pod_affinity_terms;

typedef enum nw__policy { NW__POLICY_HONOR = 0, NW__POLICY_IGNORE = 1 } nw__policy;

typedef struct nw__spread {
  int32_t max_skew;
  const char *topology_key;
  int schedule_anyway;         /* whenUnsatisfiable: ScheduleAnyway */
  nw__selector selector;
  int32_t min_domains;         /* 0 when unset */
  size_t n_match_label_keys;
  const char *const *match_label_keys;
  nw__policy node_affinity_policy; /* default Honor */
  nw__policy node_taints_policy;   /* default Ignore */
} nw__spread;

typedef struct nw__host_port {
  int32_t port;
  const char *protocol;        /* "TCP" when unset */
  const char *host_ip;         /* "0.0.0.0" when unset */
} nw__host_port;

/* Annotations whose values the disruption rules read of every pod on
 * every candidate node (core/disruption/candidate.h). */
#define NW__ANN_DO_NOT_DISRUPT "karpenter.sh/do-not-disrupt"
#define NW__ANN_POD_DELETION_COST "controller.kubernetes.io/pod-deletion-cost"
#define NW__ANN_MIRROR "kubernetes.io/config.mirror"

/*
 * A pod's status.phase as a number, worked out once when the pod is
 * decoded, so that the checks that run on every pod of every node many
 * times per pass (is the pod finished? is it active?) compare an integer
 * instead of strings.  The scheduler, the disruption rules and anyone else
 * may read it; nw__pod.phase keeps the string for messages.
 * NW__POD_PHASE_UNKNOWN is 0 and stands for kube's "Unknown", an absent
 * phase and any value kube does not define, so a zeroed nw__pod reads as
 * neither running nor finished.
 */
typedef enum nw__pod_phase {
  NW__POD_PHASE_UNKNOWN = 0,
  NW__POD_PHASE_PENDING,
  NW__POD_PHASE_RUNNING,
  NW__POD_PHASE_SUCCEEDED,
  NW__POD_PHASE_FAILED
} nw__pod_phase;

/* The kinds of controller owner that the rules treat specially, from
 * nw__pod.owner_kind; NW__POD_OWNER_OTHER (0) for any other kind or none. */
typedef enum nw__pod_owner {
  NW__POD_OWNER_OTHER = 0,
  NW__POD_OWNER_DAEMONSET,     /* "DaemonSet" */
  NW__POD_OWNER_NODE           /* "Node": a static pod's mirror */
} nw__pod_owner;

/*
 * The resources every scheduler indexes first, in this order (its
 * resource vectors put them at these positions): nearly every request of
 * every pod is one of them.  nw__wk_resources names them.
 */
enum { NW__WK_CPU, NW__WK_MEMORY, NW__WK_PODS, NW__WK_EPHEMERAL, NW__N_WK };
extern const char *const nw__wk_resources[NW__N_WK];

typedef struct nw__pod {
  /* First, in about one cache line, what is read of every pod of every
   * node in each pass: the snapshot's node_name, the disruption rules'
   * facts, priority and age.  Passes over tens of thousands of cached
   * pods wait on memory more than they compare; one line per pod is one
   * miss.  The derived facts are worked out from the fields below when
   * the pod is decoded (the decoded pod is immutable and cached across
   * snapshots, so once per pod version); code that builds an nw__pod by
   * hand and sets `phase`, `owner_kind` or `annotations` must call
   * nw__pod_derive. */
  const char *node_name;       /* spec.nodeName, NULL when unbound */
  const char *namespace_;
  const char *do_not_disrupt;  /* NW__ANN_DO_NOT_DISRUPT's value, or NULL */
  const char *deletion_cost;   /* NW__ANN_POD_DELETION_COST's value, or NULL */
  int64_t creation_ms;         /* metadata.creationTimestamp, 0 if absent */
  int32_t priority;
  nw__pod_phase phase_id;      /* from `phase` */
  nw__pod_owner owner;         /* from `owner_kind` */
  int mirror;                  /* has the NW__ANN_MIRROR annotation */
  int terminating;             /* metadata.deletionTimestamp is set */
  /* Next, what the scheduler reads of every running pod when it compiles
   * a node.  `wk_requests` is `requests` summed by nw__wk_resources
   * position, and `requests_wk` says that is all of them (no other
   * resource is asked for): then the sum is read instead of matching
   * every request's name in every scheduler. */
  int requests_wk;
  int64_t wk_requests[NW__N_WK];
  /* Effective requests (kube's PodRequests: containers, init containers
   * and sidecars, overhead); always includes "pods" = 1. */
  nw_resource_list requests;
  size_t n_host_ports;
  const nw__host_port *host_ports;
  nw__pod_affinity_terms anti_affinity;       /* required */
  const char *name;
  const char *uid;
  nw_labels labels;
  nw_labels annotations;
  const char *owner_kind;      /* controller ownerReference kind or NULL */
  const char *owner_name;
  const char *phase;           /* status.phase, "" when absent */
  const char *priority_class;
  nw_labels node_selector;
  nw__terms required_node_affinity;
  size_t n_preferred_node_affinity;
  const nw__weighted_term *preferred_node_affinity;
  size_t n_tolerations;
  const nw__toleration *tolerations;
  nw__pod_affinity_terms affinity;            /* required */
  nw__pod_affinity_terms preferred_affinity;
  nw__pod_affinity_terms preferred_anti_affinity;
  size_t n_spreads;
  const nw__spread *spreads;
  size_t n_pvcs;               /* persistentVolumeClaim and ephemeral */
  const char *const *pvcs;     /* claim names in the pod's namespace */
  int has_scheduling_gates;
} nw__pod;

/* Sets the derived facts of `p` (phase_id, owner, mirror, do_not_disrupt,
 * deletion_cost, requests_wk, wk_requests) from its phase, owner_kind,
 * annotations and requests.  The
 * decoders call it; the strings stay borrowed from `p`. */
void nw__pod_derive(nw__pod *p);

/* Whether the pod finished (Succeeded or Failed): it will not run again. */
static inline int nw__pod_finished(const nw__pod *p) {
  return p->phase_id == NW__POD_PHASE_SUCCEEDED ||
         p->phase_id == NW__POD_PHASE_FAILED;
}

typedef struct nw__node {
  const char *name;
  const char *provider_id;     /* "" when absent */
  nw_labels labels;
  nw_labels annotations;
  nw_taints taints;
  nw_resource_list capacity;
  nw_resource_list allocatable;
  int unschedulable;
  int ready;                   /* condition Ready == True */
  int terminating;
  int64_t creation_ms;
  /* The values of the labels and annotation the disruption rules read of
   * every node in each pass (NULL when absent), looked up once by
   * nw__node_decode (nw__node_derive).  `derived` is 1 then; nodes built
   * by hand may leave it 0, and readers then look in `labels`
   * (nw__node_label).  Whoever changes labels or annotations after
   * nw__node_derive must call it again. */
  int derived;
  const char *instance_type;   /* node.kubernetes.io/instance-type */
  const char *zone;            /* topology.kubernetes.io/zone */
  const char *capacity_type;   /* karpenter.sh/capacity-type */
  const char *nodepool;        /* karpenter.sh/nodepool */
  const char *do_not_disrupt;  /* annotation NW__ANN_DO_NOT_DISRUPT */
} nw__node;

/* Sets n's derived fields from its labels and annotations (borrowed from
 * n) and `derived` to 1. */
void nw__node_derive(nw__node *n);


typedef struct nw__budget {
  const char *nodes;           /* "10%" or "3" */
  const char *schedule;        /* cron, or NULL */
  int64_t duration_s;          /* 0 when unset */
  size_t n_reasons;
  const char *const *reasons;  /* Empty, Underutilized, Drifted */
} nw__budget;

typedef struct nw__nodepool {
  const char *name;
  int32_t weight;
  nw_labels labels;            /* spec.template.metadata.labels */
  nw_labels annotations;       /* spec.template.metadata.annotations */
  nw_requirements requirements;/* with min_values */
  nw_taints taints;
  nw_taints startup_taints;
  nw_node_class_ref node_class;
  int64_t expire_after_s;      /* 0 = Never */
  int64_t termination_grace_s; /* -1 when unset */
  nw_resource_list limits;     /* "nodes" counts nodes */
  const char *consolidation_policy; /* WhenEmptyOrUnderutilized default */
  int64_t consolidate_after_s; /* -1 = Never */
  size_t n_budgets;
  const nw__budget *budgets;
} nw__nodepool;

typedef struct nw__daemonset {
  const char *name;
  const char *namespace_;
  nw__pod pod;                 /* the pod template as a pod */
} nw__daemonset;

typedef struct nw__pv {
  const char *name;
  const char *storage_class;
  nw__terms node_affinity;     /* spec.nodeAffinity.required */
  const char *claim_namespace; /* spec.claimRef, or NULL */
  const char *claim_name;
} nw__pv;

typedef struct nw__pvc {
  const char *name;
  const char *namespace_;
  const char *volume_name;     /* NULL when unbound */
  const char *storage_class;   /* NULL when unset */
} nw__pvc;

typedef struct nw__storage_class {
  const char *name;
  const char *provisioner;
  int wait_for_first_consumer; /* volumeBindingMode */
  nw__terms allowed_topologies;
  int is_default;              /* storageclass.kubernetes.io/is-default-class */
} nw__storage_class;

typedef struct nw__namespace {
  const char *name;
  nw_labels labels;
} nw__namespace;

/* Drops, in place, what no decoder reads from a pod and what makes cached
 * pods large: managedFields, kubectl's last-applied annotation, container
 * members other than name, resources, ports and restartPolicy, ephemeral
 * containers, volumes that are not claims, and container statuses.
 * nw__pod_decode gives the same result for the pruned pod.  Takes and
 * returns the caller's reference (the daemon's informer transform). */
json_t *nw__pod_prune(json_t *pod);

/* Decoders.  `obj` borrowed; results in `arena`. */
nw__pod *nw__pod_decode(const json_t *obj, nw_arena *arena, nw_error *err);
nw__node *nw__node_decode(const json_t *obj, nw_arena *arena, nw_error *err);
nw__nodepool *nw__nodepool_decode(const json_t *obj, nw_arena *arena,
                                  nw_error *err);
nw__daemonset *nw__daemonset_decode(const json_t *obj, nw_arena *arena,
                                    nw_error *err);
nw__pv *nw__pv_decode(const json_t *obj, nw_arena *arena, nw_error *err);
nw__pvc *nw__pvc_decode(const json_t *obj, nw_arena *arena, nw_error *err);
nw__storage_class *nw__storage_class_decode(const json_t *obj,
                                            nw_arena *arena, nw_error *err);
nw__namespace *nw__namespace_decode(const json_t *obj, nw_arena *arena,
                                    nw_error *err);

/* Decodes a resource map ({"cpu":"100m",...}) into a list in `arena`;
 * `where` (borrowed) names the field in errors.  Returns 0 or -1. */
int nw__resources_decode(const json_t *obj, const char *where,
                         nw_resource_list *out, nw_arena *arena,
                         nw_error *err);

/* Value of `name` in a list, or 0 when absent. */
int64_t nw__resources_get(const nw_resource_list *l, const char *name);
/* Value of label `key`, or NULL. */
const char *nw__labels_get(const nw_labels *l, const char *key);

/* `cached` (one of n's derived fields) when n has them, else label `key`
 * of n; e.g. nw__node_label(n, n->zone, "topology.kubernetes.io/zone"). */
static inline const char *nw__node_label(const nw__node *n, const char *cached,
                                         const char *key) {
  return n->derived ? cached : nw__labels_get(&n->labels, key);
}

/*
 * Whether `labels` satisfy every requirement of `reqs` (label-selector
 * semantics: In, NotIn, Exists, DoesNotExist; Gt/Lt/Gte/Lte compare
 * integers).  A pure function on borrowed data.
 */
int nw__requirements_match_labels(const nw_requirements *reqs,
                                  const nw_labels *labels);

/* Parses "In", "NotIn", ... ; -1 when unknown. */
int nw__operator_parse(const char *s);
const char *nw__operator_name(nw_operator op);
/* Parses "NoSchedule", "PreferNoSchedule", "NoExecute"; -1 when unknown. */
int nw__taint_effect_parse(const char *s);
const char *nw__taint_effect_name(int effect);

/*
 * Whether the tolerations tolerate the taint (kube's
 * Toleration.ToleratesTaint).  Borrowed data.
 */
int nw__tolerates(const nw__toleration *tols, size_t n, const nw_taint *t);

/* Parses a Go duration ("30s", "1h30m", "720h") or "Never" (-> -1).
 * Returns 0 or -1. */
int nw__duration_parse(const char *s, int64_t *out_s);

#endif
