/*
 * nodewright — the shared data model that crosses the plugin ABI.
 *
 * Every structure here is plain data: pointers to NUL-terminated UTF-8
 * strings and counted arrays.  Nothing in this header allocates.
 *
 * Ownership rules, for every callback in the SDK:
 *  - Inputs the host passes to a plugin are borrowed: valid only for the
 *    duration of the call.  A plugin that needs them later copies them.
 *  - Outputs a plugin returns are allocated from the nw_arena the host
 *    passes to the call (see nw_host_api.arena_alloc / arena_strdup).  The
 *    host owns the arena and releases everything in it at once, so a plugin
 *    never frees what it returned and never keeps a pointer into an arena.
 *
 * Self-contained: includes only the C standard library.
 */
#ifndef NODEWRIGHT_TYPES_H
#define NODEWRIGHT_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An arena owned by the host; plugins allocate their outputs from it. */
typedef struct nw_arena nw_arena;

/* Result of every fallible call.  NW_OK is zero; errors are negative. */
typedef enum nw_status {
  NW_OK = 0,
  NW_ERR = -1,               /* generic failure; the message says why */
  NW_ERR_NOT_FOUND = -2,     /* the object is already gone (delete, get) */
  NW_ERR_INSUFFICIENT_CAPACITY = -3, /* the offering cannot be had now */
  NW_ERR_RETRYABLE = -4,     /* throttling or a transient fault: retry later */
  NW_ERR_INVALID = -5,       /* bad input or config: retrying will not help */
  NW_ERR_UNSUPPORTED = -6,   /* the plugin does not implement this */
  NW_ERR_AUTH = -7           /* credentials missing, expired or rejected */
} nw_status;

/*
 * Error details filled by a plugin next to a non-zero nw_status.  The host
 * owns the struct; the plugin writes at most sizeof(message) bytes,
 * NUL-terminated.  Messages must never contain secrets.
 */
typedef struct nw_error {
  int32_t status;          /* the nw_status returned */
  char message[512];
} nw_error;

/* A label or annotation: key and value, both borrowed or arena-owned. */
typedef struct nw_kv {
  const char *key;
  const char *value;
} nw_kv;

typedef struct nw_labels {
  size_t len;
  const nw_kv *items;
} nw_labels;

/*
 * Requirement operators.  Gte and Lte exist only in NodePool requirements
 * (Karpenter v1); Kubernetes node affinity uses the first six.
 */
typedef enum nw_operator {
  NW_OP_IN = 0,
  NW_OP_NOT_IN = 1,
  NW_OP_EXISTS = 2,
  NW_OP_DOES_NOT_EXIST = 3,
  NW_OP_GT = 4,
  NW_OP_LT = 5,
  NW_OP_GTE = 6,
  NW_OP_LTE = 7
} nw_operator;

typedef struct nw_requirement {
  const char *key;
  nw_operator op;
  size_t n_values;
  const char *const *values;
  int32_t min_values;      /* 0 when unset */
} nw_requirement;

/* A conjunction: every requirement must hold. */
typedef struct nw_requirements {
  size_t len;
  const nw_requirement *items;
} nw_requirements;

/*
 * A resource amount.  Units are fixed per name so that integers suffice:
 *  - "cpu": millicores;
 *  - "memory", "ephemeral-storage", "hugepages-*": bytes;
 *  - everything else ("pods", "nvidia.com/gpu", ...): whole units, as
 *    Kubernetes requires extended resources to be integers.
 */
typedef struct nw_resource {
  const char *name;
  int64_t value;
} nw_resource;

typedef struct nw_resource_list {
  size_t len;
  const nw_resource *items;
} nw_resource_list;

typedef enum nw_taint_effect {
  NW_TAINT_NO_SCHEDULE = 0,
  NW_TAINT_PREFER_NO_SCHEDULE = 1,
  NW_TAINT_NO_EXECUTE = 2
} nw_taint_effect;

typedef struct nw_taint {
  const char *key;
  const char *value;       /* may be NULL or "" */
  nw_taint_effect effect;
} nw_taint;

typedef struct nw_taints {
  size_t len;
  const nw_taint *items;
} nw_taints;

/* Capacity types as Karpenter labels them (karpenter.sh/capacity-type). */
#define NW_CAPACITY_ON_DEMAND "on-demand"
#define NW_CAPACITY_SPOT "spot"
#define NW_CAPACITY_RESERVED "reserved"

/* Where and how an instance type can be bought, and at what price. */
typedef struct nw_offering {
  const char *zone;
  const char *capacity_type;   /* NW_CAPACITY_* */
  double price;                /* USD per hour; < 0 when unknown */
  int available;               /* non-zero when it can be launched now */
} nw_offering;

/*
 * An instance type.  `requirements` describes the labels a node of this
 * type carries (kubernetes.io/arch In [amd64], karpenter.k8s.aws/instance-
 * family In [c6i], ...); `capacity` is the raw machine, and the overheads
 * are subtracted by the host to get allocatable:
 *   allocatable = capacity - kube_reserved - system_reserved - eviction.
 */
typedef struct nw_instance_type {
  const char *name;
  nw_requirements requirements;
  size_t n_offerings;
  const nw_offering *offerings;
  nw_resource_list capacity;
  nw_resource_list kube_reserved;
  nw_resource_list system_reserved;
  nw_resource_list eviction_threshold;
} nw_instance_type;

typedef struct nw_instance_types {
  size_t len;
  const nw_instance_type *items;
} nw_instance_types;

/* A reference to a node class object (EC2NodeClass, KindNodeClass, ...). */
typedef struct nw_node_class_ref {
  const char *group;
  const char *kind;
  const char *name;
} nw_node_class_ref;

/*
 * A NodeClaim as the host hands it to a provider's create().  The
 * requirements already intersect the NodePool's with what the scheduler
 * decided (instance types, zones, capacity types); the provider picks the
 * cheapest offering that satisfies them.
 */
typedef struct nw_node_claim {
  const char *name;            /* unique; use it as an idempotency key */
  const char *nodepool;
  nw_node_class_ref node_class;
  const char *node_class_json; /* the node class object as JSON, or NULL */
  nw_requirements requirements;
  nw_resource_list requests;   /* what the scheduled pods need */
  nw_labels labels;
  nw_taints taints;
  nw_taints startup_taints;
  int64_t expire_after_s;      /* 0 = never */
} nw_node_claim;

typedef enum nw_instance_state {
  NW_INSTANCE_PENDING = 0,
  NW_INSTANCE_RUNNING = 1,
  NW_INSTANCE_STOPPING = 2,
  NW_INSTANCE_STOPPED = 3,
  NW_INSTANCE_TERMINATING = 4,
  NW_INSTANCE_TERMINATED = 5
} nw_instance_state;

/* A machine as the provider sees it. */
typedef struct nw_node_instance {
  const char *provider_id;     /* e.g. aws:///us-east-1a/i-0123 */
  const char *claim_name;      /* the claim that created it, or NULL */
  const char *nodepool;
  const char *instance_type;
  const char *zone;
  const char *capacity_type;
  const char *image_id;
  nw_instance_state state;
  int64_t created_at_ms;       /* Unix epoch milliseconds */
  nw_labels labels;
  nw_resource_list capacity;
  nw_resource_list allocatable;
} nw_node_instance;

typedef struct nw_node_instances {
  size_t len;
  const nw_node_instance *items;
} nw_node_instances;

/* Interruption and lifecycle events from the provider's queue. */
typedef enum nw_event_kind {
  NW_EVENT_SPOT_INTERRUPTION = 0,
  NW_EVENT_REBALANCE_RECOMMENDATION = 1,
  NW_EVENT_STATE_CHANGE = 2,
  NW_EVENT_SCHEDULED_MAINTENANCE = 3,
  NW_EVENT_CAPACITY_RESERVATION_INTERRUPTION = 4
} nw_event_kind;

typedef struct nw_provider_event {
  nw_event_kind kind;
  const char *provider_id;
  const char *state;           /* for STATE_CHANGE: "stopping", ... */
  int64_t time_ms;
  const char *detail;          /* free text for events and logs */
} nw_provider_event;

/* A repair policy: a node condition that, held long enough, means repair. */
typedef struct nw_repair_policy {
  const char *condition_type;  /* e.g. "Ready" */
  const char *condition_status;/* "False" or "Unknown" */
  int64_t toleration_s;        /* how long before the node is replaced */
} nw_repair_policy;

typedef struct nw_repair_policies {
  size_t len;
  const nw_repair_policy *items;
} nw_repair_policies;

#ifdef __cplusplus
}
#endif
#endif /* NODEWRIGHT_TYPES_H */
