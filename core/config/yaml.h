/*
 * YAML documents as a tree that remembers where each node came from, so
 * every error can name file:line:column.  Parsed with libyaml; anchors and
 * aliases are resolved by copying the referenced node.
 */
#ifndef NW_CONFIG_YAML_H
#define NW_CONFIG_YAML_H

#include <jansson.h>
#include <stddef.h>

typedef enum nw__ynode_kind {
  NW__Y_SCALAR = 0,
  NW__Y_MAP = 1,
  NW__Y_SEQ = 2
} nw__ynode_kind;

typedef struct nw__ynode nw__ynode;
struct nw__ynode {
  nw__ynode_kind kind;
  int line;         /* 1-based */
  int column;       /* 1-based */
  const char *value;/* scalars: the text; NULL otherwise */
  int quoted;       /* scalars written in quotes are always strings */
  size_t len;       /* maps: pairs; sequences: items */
  nw__ynode **keys; /* maps: key scalars */
  nw__ynode **items;/* maps: values; sequences: items */
};

typedef struct nw__ydoc {
  char *file;       /* the name used in messages */
  nw__ynode *root;  /* NULL for an empty document */
  void *arena;      /* owns every node */
} nw__ydoc;

/*
 * Parses the first document of `text` (len bytes).  `file` names it in
 * messages.  Returns a document the caller frees with nw__ydoc_free, or NULL
 * with "file:line:column: what" in err.
 */
nw__ydoc *nw__yaml_parse(const char *file, const char *text, size_t len,
                         char *err, size_t errlen);
/* Reads and parses a file; same contract. */
nw__ydoc *nw__yaml_load(const char *path, char *err, size_t errlen);
/* Parses every document of a multi-document stream (`---`); *n_out gets
 * the count.  Returns an array of documents, freed with nw__ydocs_free. */
nw__ydoc **nw__yaml_parse_all(const char *file, const char *text, size_t len,
                              size_t *n_out, char *err, size_t errlen);
void nw__ydocs_free(nw__ydoc **docs, size_t n);
void nw__ydoc_free(nw__ydoc *doc);

/* Map lookup; NULL when absent or when `map` is not a map. Borrowed. */
nw__ynode *nw__ymap_get(const nw__ynode *map, const char *key);

/* Scalar type tests following YAML 1.2 core schema for plain scalars. */
int nw__yscalar_is_null(const nw__ynode *n);
int nw__yscalar_bool(const nw__ynode *n, int *out);     /* 0 on success */
int nw__yscalar_int(const nw__ynode *n, long long *out);/* 0 on success */
int nw__yscalar_double(const nw__ynode *n, double *out);/* 0 on success */

/* Converts a subtree to JSON with YAML 1.2 core-schema typing.  New
 * reference owned by the caller; NULL on OOM. */
json_t *nw__ynode_to_json(const nw__ynode *n);

/* Writes "file:line:column: <message>" about node n (NULL: 1:1) into err
 * and returns -1, so parsers can `return nw__yerr(...)`. */
int nw__yerr(char *err, size_t errlen, const char *file, const nw__ynode *n,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Fails (-1, err filled as nw__yerr) on the first key of `map` not in the
 * NULL-terminated `allowed`, naming `where` and listing what is allowed so
 * a typo is obvious.  0 when every key is known. */
int nw__ycheck_keys(char *err, size_t errlen, const char *file,
                    const nw__ynode *map, const char *where,
                    const char *const *allowed);

/* "map", "sequence" or "scalar". */
const char *nw__ynode_kind_name(const nw__ynode *n);

#endif
