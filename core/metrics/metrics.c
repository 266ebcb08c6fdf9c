#include "metrics/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct series {
  struct series *next;
  char *name;     /* with prefix */
  char *labels;   /* rendered: k="v",k2="v2" or "" */
  nw__metric_type type;
  double value;   /* counter/gauge value, or summary sum */
  double count;   /* summary count */
} series;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static series *g_head;

static char *prefixed(const char *name) {
  const char *pfx = strncmp(name, "nodewright_", 11) == 0 ? "" : "nodewright_";
  size_t n = strlen(pfx) + strlen(name) + 1;
  char *s = malloc(n);
  if (s)
    snprintf(s, n, "%s%s", pfx, name);
  return s;
}

/* Turns "k=v,k2=v2" into k="v",k2="v2", escaping quotes and backslashes as
 * the exposition format requires. */
static char *render_labels(const char *in) {
  if (!in || !*in)
    return strdup("");
  size_t cap = strlen(in) * 2 + 8;
  char *out = malloc(cap);
  if (!out)
    return NULL;
  size_t o = 0;
  int in_value = 0;
  for (const char *p = in; *p; p++) {
    if (o + 4 >= cap) {
      cap *= 2;
      char *grown = realloc(out, cap);
      if (!grown) {
        free(out);
        return NULL;
      }
      out = grown;
    }
    if (!in_value && *p == '=') {
      out[o++] = '=';
      out[o++] = '"';
      in_value = 1;
    } else if (in_value && *p == ',') {
      out[o++] = '"';
      out[o++] = ',';
      in_value = 0;
    } else if (in_value && (*p == '"' || *p == '\\')) {
      out[o++] = '\\';
      out[o++] = *p;
    } else {
      out[o++] = *p;
    }
  }
  if (in_value)
    out[o++] = '"';
  out[o] = '\0';
  return out;
}

/* Finds or creates a series; call with the lock held. */
static series *lookup(const char *name, const char *labels,
                      nw__metric_type type, int create) {
  char *full = prefixed(name);
  char *lab = render_labels(labels);
  series *s = NULL;
  if (full && lab) {
    for (s = g_head; s; s = s->next) {
      if (strcmp(s->name, full) == 0 && strcmp(s->labels, lab) == 0)
        break;
    }
    if (!s && create) {
      s = calloc(1, sizeof(*s));
      if (s) {
        s->name = full;
        s->labels = lab;
        s->type = type;
        s->next = g_head;
        g_head = s;
        return s;
      }
    }
  }
  free(full);
  free(lab);
  return s;
}

void nw__metric_add(const char *name, const char *labels, double value) {
  pthread_mutex_lock(&g_lock);
  series *s = lookup(name, labels, NW__METRIC_COUNTER, 1);
  if (s)
    s->value += value;
  pthread_mutex_unlock(&g_lock);
}

void nw__metric_set(const char *name, const char *labels, double value) {
  pthread_mutex_lock(&g_lock);
  series *s = lookup(name, labels, NW__METRIC_GAUGE, 1);
  if (s)
    s->value = value;
  pthread_mutex_unlock(&g_lock);
}

void nw__metric_observe(const char *name, const char *labels, double value) {
  pthread_mutex_lock(&g_lock);
  series *s = lookup(name, labels, NW__METRIC_SUMMARY, 1);
  if (s) {
    s->value += value;
    s->count += 1;
  }
  pthread_mutex_unlock(&g_lock);
}

double nw__metric_get(const char *name, const char *labels) {
  pthread_mutex_lock(&g_lock);
  series *s = lookup(name, labels, NW__METRIC_COUNTER, 0);
  double v = s ? s->value : 0;
  pthread_mutex_unlock(&g_lock);
  return v;
}

static const char *type_name(nw__metric_type t) {
  static const char *const names[] = {"counter", "gauge", "summary"};
  return names[t];
}

/* Appends to a growing buffer; returns 0 on OOM. */
static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0)
      return 0;
    if ((size_t)n < *cap - *len) {
      *len += (size_t)n;
      return 1;
    }
    size_t ncap = (*cap + (size_t)n) * 2;
    char *grown = realloc(*buf, ncap);
    if (!grown)
      return 0;
    *buf = grown;
    *cap = ncap;
  }
}

char *nw__metrics_render(void) {
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  if (!buf)
    return NULL;
  buf[0] = '\0';
  pthread_mutex_lock(&g_lock);
  for (series *s = g_head; s; s = s->next) {
    /* TYPE once per name: only when no earlier series shares the name. */
    int first = 1;
    for (series *t = g_head; t != s; t = t->next) {
      if (strcmp(t->name, s->name) == 0)
        first = 0;
    }
    if (first)
      append(&buf, &len, &cap, "# TYPE %s %s\n", s->name, type_name(s->type));
    const char *lb = *s->labels ? "{" : "";
    const char *le = *s->labels ? "}" : "";
    if (s->type == NW__METRIC_SUMMARY) {
      append(&buf, &len, &cap, "%s_sum%s%s%s %.17g\n", s->name, lb, s->labels,
             le, s->value);
      append(&buf, &len, &cap, "%s_count%s%s%s %.17g\n", s->name, lb,
             s->labels, le, s->count);
    } else {
      append(&buf, &len, &cap, "%s%s%s%s %.17g\n", s->name, lb, s->labels, le,
             s->value);
    }
  }
  pthread_mutex_unlock(&g_lock);
  return buf;
}

void nw__metrics_reset(void) {
  pthread_mutex_lock(&g_lock);
  series *s = g_head;
  while (s) {
    series *next = s->next;
    free(s->name);
    free(s->labels);
    free(s);
    s = next;
  }
  g_head = NULL;
  pthread_mutex_unlock(&g_lock);
}
