#include "kube/yaml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Nesting deeper than this is refused: no config needs it, and it bounds
 * the parse stack against hostile input. */
#define YJ_MAX_DEPTH 64

typedef struct yj_frame {
  json_t *node;   /* the open mapping or sequence (borrowed from parent) */
  char *key;      /* pending mapping key, owned; NULL when expecting one */
} yj_frame;

typedef struct yj_state {
  yj_frame stack[YJ_MAX_DEPTH];
  int depth;
  json_t *root;
  json_t *anchors; /* anchor name -> value, for aliases */
} yj_state;

static int is_int(const char *s) {
  const char *p = s;
  if (*p == '-' || *p == '+')
    p++;
  if (!*p)
    return 0;
  for (; *p; p++) {
    if (*p < '0' || *p > '9')
      return 0;
  }
  return 1;
}

static json_t *plain_scalar(const char *s) {
  if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
      !strcmp(s, "NULL"))
    return json_null();
  if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
    return json_true();
  if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
    return json_false();
  if (is_int(s)) {
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == 0)
      return json_integer(v);
  }
  char *end = NULL;
  double d = strtod(s, &end);
  if (end && *end == '\0' && end != s && strpbrk(s, ".eE") &&
      strspn(s, "+-.0123456789eE") == strlen(s))
    return json_real(d);
  return json_string(s);
}

static json_t *scalar_value(const yaml_event_t *ev) {
  const char *s = (const char *)ev->data.scalar.value;
  size_t n = ev->data.scalar.length;
  if (ev->data.scalar.plain_implicit && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
    return plain_scalar(s);
  return json_stringn(s, n);
}

static void remember_anchor(yj_state *st, const yaml_char_t *anchor, json_t *v) {
  if (anchor)
    json_object_set(st->anchors, (const char *)anchor, v);
}

/* Attaches v (reference stolen) to the open container or makes it the root.
 * Returns -1 with a message when a mapping key is not a scalar. */
static int attach(yj_state *st, json_t *v, int is_scalar, char *err,
                  size_t errlen) {
  if (st->depth == 0) {
    if (!st->root)
      st->root = v;
    else
      json_decref(v);
    return 0;
  }
  yj_frame *f = &st->stack[st->depth - 1];
  if (json_is_array(f->node))
    return json_array_append_new(f->node, v);
  if (!f->key) {
    if (!is_scalar) {
      json_decref(v);
      snprintf(err, errlen, "mapping keys must be scalars");
      return -1;
    }
    const char *k = json_is_string(v) ? json_string_value(v) : NULL;
    char buf[64];
    if (!k) {
      /* A key such as `1` or `true` was typed by the schema; keep its text. */
      char *t = json_dumps(v, JSON_ENCODE_ANY);
      snprintf(buf, sizeof(buf), "%s", t ? t : "");
      free(t);
      k = buf;
    }
    f->key = strdup(k);
    json_decref(v);
    return f->key ? 0 : -1;
  }
  int rc = json_object_set_new(f->node, f->key, v);
  free(f->key);
  f->key = NULL;
  return rc;
}

static int open_node(yj_state *st, json_t *node, const yaml_char_t *anchor,
                     char *err, size_t errlen) {
  if (st->depth >= YJ_MAX_DEPTH) {
    json_decref(node);
    snprintf(err, errlen, "nesting deeper than %d levels", YJ_MAX_DEPTH);
    return -1;
  }
  remember_anchor(st, anchor, node);
  json_incref(node);
  if (attach(st, node, 0, err, errlen) < 0) {
    json_decref(node);
    return -1;
  }
  st->stack[st->depth].node = node;
  st->stack[st->depth].key = NULL;
  st->depth++;
  json_decref(node); /* the parent (or root) holds it now */
  return 0;
}

static int handle_event(yj_state *st, const yaml_event_t *ev, char *err,
                        size_t errlen) {
  json_t *v;
  switch (ev->type) {
  case YAML_SCALAR_EVENT:
    v = scalar_value(ev);
    remember_anchor(st, ev->data.scalar.anchor, v);
    return attach(st, v, 1, err, errlen);
  case YAML_ALIAS_EVENT:
    v = json_object_get(st->anchors, (const char *)ev->data.alias.anchor);
    if (!v) {
      snprintf(err, errlen, "unknown alias *%s", ev->data.alias.anchor);
      return -1;
    }
    return attach(st, json_deep_copy(v), json_is_string(v), err, errlen);
  case YAML_SEQUENCE_START_EVENT:
    return open_node(st, json_array(), ev->data.sequence_start.anchor, err,
                     errlen);
  case YAML_MAPPING_START_EVENT:
    return open_node(st, json_object(), ev->data.mapping_start.anchor, err,
                     errlen);
  case YAML_SEQUENCE_END_EVENT:
  case YAML_MAPPING_END_EVENT:
    st->depth--;
    free(st->stack[st->depth].key);
    st->stack[st->depth].key = NULL;
    return 0;
  default:
    return 0;
  }
}

static void state_free(yj_state *st) {
  for (int i = 0; i < st->depth; i++)
    free(st->stack[i].key);
  json_decref(st->anchors);
}

json_t *nw__yaml_to_json(const char *text, size_t len, const char *origin,
                         char *err, size_t errlen) {
  yaml_parser_t parser;
  yaml_event_t ev;
  yj_state st;
  char msg[256] = "";
  int done = 0;
  int failed = 0;

  memset(&st, 0, sizeof(st));
  st.anchors = json_object();
  if (!yaml_parser_initialize(&parser)) {
    snprintf(err, errlen, "%s: out of memory", origin);
    json_decref(st.anchors);
    return NULL;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  while (!done && !failed) {
    if (!yaml_parser_parse(&parser, &ev)) {
      snprintf(err, errlen, "%s:%zu:%zu: %s%s%s", origin,
               parser.problem_mark.line + 1, parser.problem_mark.column + 1,
               parser.problem ? parser.problem : "invalid YAML",
               parser.context ? " " : "", parser.context ? parser.context : "");
      failed = 1;
      break;
    }
    /* Only the first document is read. */
    if (ev.type == YAML_DOCUMENT_END_EVENT || ev.type == YAML_STREAM_END_EVENT)
      done = 1;
    else if (handle_event(&st, &ev, msg, sizeof(msg)) < 0) {
      snprintf(err, errlen, "%s:%zu:%zu: %s", origin, ev.start_mark.line + 1,
               ev.start_mark.column + 1, msg);
      failed = 1;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  state_free(&st);
  if (failed) {
    json_decref(st.root);
    return NULL;
  }
  return st.root ? st.root : json_null();
}
