/*
 * Static drift: the NodePool template hash that nodewright stamps on a
 * NodePool and on each NodeClaim it launches (karpenter.sh/nodepool-hash
 * with karpenter.sh/nodepool-hash-version), and the comparison that tells
 * a drifted claim from one that only needs re-stamping.
 */
#ifndef NW_DISRUPTION_DRIFT_H
#define NW_DISRUPTION_DRIFT_H

#include <jansson.h>
#include <nodewright/types.h>

#define NW__ANN_NODEPOOL_HASH "karpenter.sh/nodepool-hash"
#define NW__ANN_NODEPOOL_HASH_VERSION "karpenter.sh/nodepool-hash-version"
/*
 * Our hash is not Karpenter's (theirs hashes Go structs), so it carries a
 * version of its own: claims stamped by Karpenter ("v3") are re-stamped,
 * not drifted, when nodewright takes a cluster over.  Bump it whenever
 * the hashed fields or the canonical form change.
 */
#define NW__NODEPOOL_HASH_VERSION "nw1"

/*
 * The hash of a NodePool's spec.template as a decimal string (at most 20
 * digits) in out[21].  Hashed: everything under spec.template except
 * spec.template.spec.requirements and .resources (requirement drift is
 * checked against the node's labels instead), in a canonical form: object
 * keys sorted, lists compared as sets (order ignored), nulls and empty
 * lists/objects dropped, and zero scalars ("", 0, false) dropped outside
 * labels and annotations -- so API-server defaulting does not drift every
 * node.  Returns 0, or -1 with err when spec.template is missing or not
 * an object.  `nodepool` is borrowed.
 */
int nw__nodepool_hash(const json_t *nodepool, char out[21], nw_error *err);

typedef enum nw__hash_drift {
  NW__HASH_CURRENT = 0,  /* same version, same hash */
  NW__HASH_DRIFTED = 1,  /* same version, different hash */
  NW__HASH_RESTAMP = 2   /* claim stamped by another version: update it */
} nw__hash_drift;

/* Compares a claim's stamped hash and version with the pool's current
 * ones (all borrowed; claim values may be NULL). */
nw__hash_drift nw__hash_compare(const char *pool_hash, const char *claim_hash,
                                const char *claim_version);

#endif
