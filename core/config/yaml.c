#include "config/yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/arena.h"

typedef struct anchor {
  struct anchor *next;
  const char *name;
  nw__ynode *node;
} anchor;

typedef struct parser {
  yaml_parser_t yp;
  nw_arena *arena;
  const char *file;
  char *err;
  size_t errlen;
  anchor *anchors;
  int depth;
} parser;

enum { MAX_DEPTH = 200 };

static nw__ynode *parse_node(parser *p, yaml_event_t *ev);

static int perror_at(parser *p, int line, int col, const char *what) {
  snprintf(p->err, p->errlen, "%s:%d:%d: %s", p->file, line, col, what);
  return -1;
}

static int next_event(parser *p, yaml_event_t *ev) {
  if (yaml_parser_parse(&p->yp, ev))
    return 0;
  const yaml_mark_t *m = p->yp.problem_mark.line || p->yp.problem_mark.column
                             ? &p->yp.problem_mark
                             : &p->yp.context_mark;
  char what[256];
  snprintf(what, sizeof(what), "invalid YAML: %s%s%s",
           p->yp.problem ? p->yp.problem : "parse error",
           p->yp.context ? " " : "", p->yp.context ? p->yp.context : "");
  return perror_at(p, (int)m->line + 1, (int)m->column + 1, what);
}

static nw__ynode *new_node(parser *p, nw__ynode_kind kind,
                           const yaml_event_t *ev) {
  nw__ynode *n = nw__arena_alloc(p->arena, sizeof(*n));
  if (!n)
    return NULL;
  n->kind = kind;
  n->line = (int)ev->start_mark.line + 1;
  n->column = (int)ev->start_mark.column + 1;
  return n;
}

static void remember(parser *p, const yaml_char_t *name, nw__ynode *n) {
  if (!name || !n)
    return;
  anchor *a = nw__arena_alloc(p->arena, sizeof(*a));
  if (!a)
    return;
  a->name = nw__arena_strdup(p->arena, (const char *)name);
  a->node = n;
  a->next = p->anchors;
  p->anchors = a;
}

/* Appends to a growing array allocated in the arena. */
static int push(parser *p, nw__ynode ***arr, size_t len, size_t *cap,
                nw__ynode *item) {
  if (len == *cap) {
    size_t ncap = *cap ? *cap * 2 : 8;
    nw__ynode **grown = nw__arena_alloc(p->arena, ncap * sizeof(*grown));
    if (!grown)
      return -1;
    if (len)
      memcpy(grown, *arr, len * sizeof(*grown));
    *arr = grown;
    *cap = ncap;
  }
  (*arr)[len] = item;
  return 0;
}

static nw__ynode *parse_seq(parser *p, yaml_event_t *start) {
  nw__ynode *n = new_node(p, NW__Y_SEQ, start);
  remember(p, start->data.sequence_start.anchor, n);
  size_t cap = 0;
  for (;;) {
    yaml_event_t ev;
    if (next_event(p, &ev) != 0)
      return NULL;
    if (ev.type == YAML_SEQUENCE_END_EVENT) {
      yaml_event_delete(&ev);
      return n;
    }
    nw__ynode *item = parse_node(p, &ev);
    yaml_event_delete(&ev);
    if (!item || push(p, &n->items, n->len, &cap, item) != 0)
      return NULL;
    n->len++;
  }
}

static nw__ynode *parse_map(parser *p, yaml_event_t *start) {
  nw__ynode *n = new_node(p, NW__Y_MAP, start);
  remember(p, start->data.mapping_start.anchor, n);
  size_t kcap = 0, vcap = 0;
  for (;;) {
    yaml_event_t ev;
    if (next_event(p, &ev) != 0)
      return NULL;
    if (ev.type == YAML_MAPPING_END_EVENT) {
      yaml_event_delete(&ev);
      return n;
    }
    nw__ynode *key = parse_node(p, &ev);
    yaml_event_delete(&ev);
    if (!key)
      return NULL;
    if (key->kind != NW__Y_SCALAR) {
      perror_at(p, key->line, key->column, "mapping keys must be scalars");
      return NULL;
    }
    if (nw__ymap_get(n, key->value)) {
      char what[300];
      snprintf(what, sizeof(what), "duplicate key \"%s\"", key->value);
      perror_at(p, key->line, key->column, what);
      return NULL;
    }
    if (next_event(p, &ev) != 0)
      return NULL;
    nw__ynode *val = parse_node(p, &ev);
    yaml_event_delete(&ev);
    if (!val || push(p, &n->keys, n->len, &kcap, key) != 0 ||
        push(p, &n->items, n->len, &vcap, val) != 0)
      return NULL;
    n->len++;
  }
}

static nw__ynode *parse_node(parser *p, yaml_event_t *ev) {
  if (++p->depth > MAX_DEPTH) {
    perror_at(p, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
              "nesting too deep");
    return NULL;
  }
  nw__ynode *n = NULL;
  switch (ev->type) {
  case YAML_SCALAR_EVENT:
    n = new_node(p, NW__Y_SCALAR, ev);
    if (n) {
      n->value = nw__arena_strndup(p->arena, (const char *)ev->data.scalar.value,
                                   ev->data.scalar.length);
      n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
      remember(p, ev->data.scalar.anchor, n);
    }
    break;
  case YAML_SEQUENCE_START_EVENT:
    n = parse_seq(p, ev);
    break;
  case YAML_MAPPING_START_EVENT:
    n = parse_map(p, ev);
    break;
  case YAML_ALIAS_EVENT:
    for (anchor *a = p->anchors; a; a = a->next) {
      if (strcmp(a->name, (const char *)ev->data.alias.anchor) == 0) {
        n = a->node;
        break;
      }
    }
    if (!n)
      perror_at(p, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                "unknown alias");
    break;
  default:
    perror_at(p, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
              "unexpected YAML event");
    break;
  }
  p->depth--;
  return n;
}

/* Parses one document after its DOCUMENT_START; *done set at stream end. */
static nw__ydoc *parse_doc(parser *p, int *done) {
  yaml_event_t ev;
  *done = 0;
  if (next_event(p, &ev) != 0)
    return NULL;
  if (ev.type == YAML_STREAM_END_EVENT) {
    yaml_event_delete(&ev);
    *done = 1;
    return NULL;
  }
  if (ev.type != YAML_DOCUMENT_START_EVENT) {
    yaml_event_delete(&ev);
    perror_at(p, 1, 1, "expected a YAML document");
    return NULL;
  }
  yaml_event_delete(&ev);
  nw__ydoc *doc = calloc(1, sizeof(*doc));
  if (!doc)
    return NULL;
  doc->file = strdup(p->file);
  doc->arena = nw__arena_new();
  p->arena = doc->arena;
  p->anchors = NULL;
  if (next_event(p, &ev) != 0)
    goto fail;
  if (ev.type != YAML_DOCUMENT_END_EVENT) {
    doc->root = parse_node(p, &ev);
    yaml_event_delete(&ev);
    if (!doc->root)
      goto fail;
    if (next_event(p, &ev) != 0)
      goto fail;
  }
  yaml_event_delete(&ev);
  return doc;
fail:
  nw__ydoc_free(doc);
  return NULL;
}

static int parser_open(parser *p, const char *file, const char *text,
                       size_t len, char *err, size_t errlen) {
  memset(p, 0, sizeof(*p));
  p->file = file;
  p->err = err;
  p->errlen = errlen;
  err[0] = '\0';
  if (!yaml_parser_initialize(&p->yp)) {
    snprintf(err, errlen, "%s: out of memory", file);
    return -1;
  }
  yaml_parser_set_input_string(&p->yp, (const unsigned char *)text, len);
  yaml_event_t ev;
  if (next_event(p, &ev) != 0) {
    yaml_parser_delete(&p->yp);
    return -1;
  }
  yaml_event_delete(&ev); /* STREAM_START */
  return 0;
}

nw__ydoc **nw__yaml_parse_all(const char *file, const char *text, size_t len,
                              size_t *n_out, char *err, size_t errlen) {
  parser p;
  *n_out = 0;
  if (parser_open(&p, file, text, len, err, errlen) != 0)
    return NULL;
  nw__ydoc **docs = NULL;
  size_t n = 0;
  for (;;) {
    int done = 0;
    nw__ydoc *d = parse_doc(&p, &done);
    if (done)
      break;
    nw__ydoc **grown = d ? realloc(docs, (n + 1) * sizeof(*docs)) : NULL;
    if (!grown) {
      nw__ydoc_free(d);
      nw__ydocs_free(docs, n);
      yaml_parser_delete(&p.yp);
      if (!err[0])
        snprintf(err, errlen, "%s: out of memory", file);
      return NULL;
    }
    docs = grown;
    docs[n++] = d;
  }
  yaml_parser_delete(&p.yp);
  if (n == 0) {
    /* An empty stream is one empty document, so callers see no error. */
    docs = calloc(1, sizeof(*docs));
    nw__ydoc *d = docs ? calloc(1, sizeof(*d)) : NULL;
    if (!d) {
      free(docs);
      return NULL;
    }
    d->file = strdup(file);
    d->arena = nw__arena_new();
    docs[n++] = d;
  }
  *n_out = n;
  return docs;
}

nw__ydoc *nw__yaml_parse(const char *file, const char *text, size_t len,
                         char *err, size_t errlen) {
  size_t n = 0;
  nw__ydoc **docs = nw__yaml_parse_all(file, text, len, &n, err, errlen);
  if (!docs)
    return NULL;
  nw__ydoc *first = docs[0];
  docs[0] = NULL;
  nw__ydocs_free(docs, n);
  return first;
}

nw__ydoc *nw__yaml_load(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 > cap) {
      cap = cap ? cap * 2 : 8192;
      char *grown = realloc(buf, cap);
      if (!grown) {
        free(buf);
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
      }
      buf = grown;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0)
      break;
  }
  fclose(f);
  nw__ydoc *d = nw__yaml_parse(path, buf ? buf : "", len, err, errlen);
  free(buf);
  return d;
}

void nw__ydoc_free(nw__ydoc *doc) {
  if (!doc)
    return;
  nw__arena_free(doc->arena);
  free(doc->file);
  free(doc);
}

void nw__ydocs_free(nw__ydoc **docs, size_t n) {
  if (!docs)
    return;
  for (size_t i = 0; i < n; i++)
    nw__ydoc_free(docs[i]);
  free(docs);
}

nw__ynode *nw__ymap_get(const nw__ynode *map, const char *key) {
  if (!map || map->kind != NW__Y_MAP)
    return NULL;
  for (size_t i = 0; i < map->len; i++) {
    if (strcmp(map->keys[i]->value, key) == 0)
      return map->items[i];
  }
  return NULL;
}

int nw__yscalar_is_null(const nw__ynode *n) {
  if (!n || n->kind != NW__Y_SCALAR || n->quoted)
    return 0;
  const char *v = n->value;
  return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
         !strcmp(v, "NULL");
}

int nw__yscalar_bool(const nw__ynode *n, int *out) {
  if (!n || n->kind != NW__Y_SCALAR || n->quoted)
    return -1;
  const char *v = n->value;
  if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE")) {
    *out = 1;
    return 0;
  }
  if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE")) {
    *out = 0;
    return 0;
  }
  return -1;
}

int nw__yscalar_int(const nw__ynode *n, long long *out) {
  if (!n || n->kind != NW__Y_SCALAR || n->quoted || !*n->value)
    return -1;
  char *end;
  errno = 0;
  int base = strncmp(n->value, "0x", 2) == 0 ? 16 : 10;
  long long v = strtoll(n->value, &end, base);
  if (errno || *end)
    return -1;
  *out = v;
  return 0;
}

int nw__yscalar_double(const nw__ynode *n, double *out) {
  if (!n || n->kind != NW__Y_SCALAR || n->quoted || !*n->value)
    return -1;
  char *end;
  errno = 0;
  double v = strtod(n->value, &end);
  if (errno || *end || isnan(v))
    return -1;
  *out = v;
  return 0;
}

json_t *nw__ynode_to_json(const nw__ynode *n) {
  if (!n)
    return json_null();
  if (n->kind == NW__Y_SEQ) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < n->len; i++)
      json_array_append_new(a, nw__ynode_to_json(n->items[i]));
    return a;
  }
  if (n->kind == NW__Y_MAP) {
    json_t *o = json_object();
    for (size_t i = 0; o && i < n->len; i++)
      json_object_set_new(o, n->keys[i]->value, nw__ynode_to_json(n->items[i]));
    return o;
  }
  long long iv;
  double dv;
  int bv;
  if (nw__yscalar_is_null(n))
    return json_null();
  if (nw__yscalar_bool(n, &bv) == 0)
    return json_boolean(bv);
  if (nw__yscalar_int(n, &iv) == 0)
    return json_integer(iv);
  if (nw__yscalar_double(n, &dv) == 0 && strpbrk(n->value, "0123456789"))
    return json_real(dv);
  return json_string(n->value);
}

const char *nw__ynode_kind_name(const nw__ynode *n) {
  static const char *const names[] = {"scalar", "map", "sequence"};
  return n ? names[n->kind] : "nothing";
}

int nw__yerr(char *err, size_t errlen, const char *file, const nw__ynode *n,
             const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(err, errlen, "%s:%d:%d: %s", file, n ? n->line : 1,
           n ? n->column : 1, msg);
  return -1;
}

int nw__ycheck_keys(char *err, size_t errlen, const char *file,
                    const nw__ynode *map, const char *where,
                    const char *const *allowed) {
  for (size_t i = 0; i < map->len; i++) {
    const char *k = map->keys[i]->value;
    int ok = 0;
    for (const char *const *a = allowed; *a && !ok; a++)
      ok = strcmp(*a, k) == 0;
    if (ok)
      continue;
    char list[400] = "";
    size_t off = 0;
    for (const char *const *a = allowed; *a && off < sizeof(list); a++)
      off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
                              a == allowed ? "" : ", ", *a);
    return nw__yerr(err, errlen, file, map->keys[i],
                    "unknown field \"%s\" in %s (expected one of: %s)", k,
                    where, list);
  }
  return 0;
}
