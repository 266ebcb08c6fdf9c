/* Small helpers shared by the files of core/kube/. */
#ifndef NW_KUBE_KUTIL_H
#define NW_KUBE_KUTIL_H

#include <jansson.h>
#include <nodewright/types.h>
#include <stddef.h>
#include <stdint.h>

/* Fills err (may be NULL) and returns status. */
nw_status nw__kube_err(nw_error *err, nw_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Decodes base64 (whitespace ignored) into a new buffer the caller frees,
 * NUL-terminated for convenience; NULL when the input is not base64. */
unsigned char *nw__kube_b64_decode(const char *in, size_t *out_len);

/* Reads a whole file into a new NUL-terminated buffer the caller frees;
 * NULL with errno set on failure. */
char *nw__kube_read_file(const char *path, size_t *len);

/* Wall clock in milliseconds. */
int64_t nw__kube_now_ms(void);
/* RFC 3339 with microseconds ("2026-01-02T03:04:05.000000Z") into buf. */
void nw__kube_format_time(int64_t ms, char *buf, size_t len);
/* Parses RFC 3339 (fraction and offset optional); -1 when malformed. */
int64_t nw__kube_parse_time(const char *s);

/* The string at a dotted path ("metadata.name") of obj, borrowed; NULL when
 * absent or not a string. */
const char *nw__kube_str(const json_t *obj, const char *dotted);

#endif
