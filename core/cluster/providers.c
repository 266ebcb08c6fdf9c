#include "cluster/providers.h"

#include <string.h>

nw__plugin *nw__provider_for_kind(nw__plugin_set *plugins, const char *group,
                                  const char *kind) {
  nw__plugin *first = NULL;
  for (size_t i = 0; i < nw__plugins_count(plugins); i++) {
    nw__plugin *p = nw__plugins_at(plugins, i);
    const nw_provider_vtable *vt = nw__plugin_provider(p);
    if (!vt)
      continue;
    if (!first)
      first = p;
    for (size_t k = 0; kind && k < vt->n_node_class_kinds; k++) {
      const nw_node_class_ref *r = &vt->node_class_kinds[k];
      if (r->kind && strcmp(r->kind, kind) == 0 &&
          (!group || !r->group || strcmp(r->group, group) == 0))
        return p;
    }
  }
  /* A named kind no provider serves is not guessed at: launching an
   * EC2NodeClass pool on the kind provider would be wrong. */
  return kind ? NULL : first;
}

nw__plugin *nw__provider_for_obj(nw__plugin_set *plugins, const json_t *obj) {
  const json_t *spec = json_object_get(obj, "spec");
  const json_t *ref = json_object_get(spec, "nodeClassRef");
  if (!ref)
    ref = json_object_get(
        json_object_get(json_object_get(spec, "template"), "spec"),
        "nodeClassRef");
  return nw__provider_for_kind(
      plugins, json_string_value(json_object_get(ref, "group")),
      json_string_value(json_object_get(ref, "kind")));
}
