/* NodeClaim objects (karpenter.sh/v1) to and from the SDK's data model. */
#ifndef NW_LIFECYCLE_CLAIM_H
#define NW_LIFECYCLE_CLAIM_H

#include <jansson.h>

#include <nodewright/nodewright.h>

/*
 * Decodes a NodeClaim into an nw_node_claim for a provider's create().
 * `nodeclass` (may be NULL) is the referenced node class object, passed on
 * as JSON text.  Everything lives in `arena`.  NULL with err filled
 * ("NodeClaim <name>: <field>: <problem>") on bad input.
 */
nw_node_claim *nw__claim_decode(const json_t *claim, const json_t *nodeclass,
                                nw_arena *arena, nw_error *err);

/* The status fields a launch fills: providerID, imageID, capacity,
 * allocatable (a new object). */
json_t *nw__claim_status_from_instance(const nw_node_instance *inst);

/* The labels a launched claim (and its Node) carry: instance type, zone,
 * capacity type, plus the provider's own labels (a new object). */
json_t *nw__claim_labels_from_instance(const nw_node_instance *inst);

/* Requirements as a NodeClaim's spec.requirements list (a new array). */
json_t *nw__requirements_to_json(const nw_requirements *r);

/* A resource list as a Kubernetes resource map ({"cpu": "1500m", ...}). */
json_t *nw__resources_to_json(const nw_resource_list *l);

#endif
