/*
 * YAML to jansson: the kubeconfig (and any other YAML the daemon reads) is
 * turned into a json_t tree so that every consumer walks one data model.
 */
#ifndef NW_KUBE_YAML_H
#define NW_KUBE_YAML_H

#include <jansson.h>
#include <stddef.h>

/*
 * Parses the first YAML document of `text` (len bytes) into a new json_t
 * the caller owns (json_decref).  Plain scalars become null, booleans,
 * integers or reals when they look like one (YAML 1.2 core schema); quoted
 * scalars stay strings.  Aliases are resolved.  On error returns NULL and
 * writes "<origin>:<line>:<column>: <problem>" into err (errlen bytes);
 * `origin` (borrowed) names the input in that message.
 * An empty document yields a JSON null.
 */
json_t *nw__yaml_to_json(const char *text, size_t len, const char *origin,
                         char *err, size_t errlen);

#endif
