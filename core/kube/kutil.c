#include "kube/kutil.h"

#include "util/json.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

nw_status nw__kube_err(nw_error *err, nw_status status, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    err->status = status;
  }
  return status;
}

unsigned char *nw__kube_b64_decode(const char *in, size_t *out_len) {
  size_t n = strlen(in);
  char *clean = malloc(n + 1);
  unsigned char *out = malloc(n + 4);
  size_t m = 0;
  if (!clean || !out)
    goto fail;
  /* Multi-line base64 (as some tools write it) is fine; drop whitespace. */
  for (size_t i = 0; i < n; i++) {
    if (in[i] != '\n' && in[i] != '\r' && in[i] != ' ' && in[i] != '\t')
      clean[m++] = in[i];
  }
  if (m == 0 || m % 4 != 0)
    goto fail;
  EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
  int len1 = 0;
  int len2 = 0;
  if (!ctx)
    goto fail;
  EVP_DecodeInit(ctx);
  int rc = EVP_DecodeUpdate(ctx, out, &len1, (unsigned char *)clean, (int)m);
  int rc2 = rc < 0 ? -1 : EVP_DecodeFinal(ctx, out + len1, &len2);
  EVP_ENCODE_CTX_free(ctx);
  if (rc < 0 || rc2 < 0)
    goto fail;
  free(clean);
  out[len1 + len2] = '\0';
  *out_len = (size_t)(len1 + len2);
  return out;
fail:
  free(clean);
  free(out);
  return NULL;
}

char *nw__kube_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 4096;
  size_t n = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (n + 1 < cap)
      break;
    cap *= 2;
    char *nb = realloc(buf, cap);
    if (!nb) {
      free(buf);
      buf = NULL;
    } else {
      buf = nb;
    }
  }
  int failed = ferror(f);
  fclose(f);
  if (!buf || failed) {
    free(buf);
    errno = failed ? EIO : ENOMEM;
    return NULL;
  }
  buf[n] = '\0';
  if (len)
    *len = n;
  return buf;
}

int64_t nw__kube_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void nw__kube_format_time(int64_t ms, char *buf, size_t len) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, len - n, ".%06dZ", (int)(ms % 1000) * 1000);
}

int64_t nw__kube_parse_time(const char *s) {
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  if (!s)
    return -1;
  const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p)
    return -1;
  int64_t ms = 0;
  if (*p == '.') {
    int digits = 0;
    for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
      if (digits < 3)
        ms = ms * 10 + (*p - '0');
    }
    for (; digits < 3; digits++)
      ms *= 10;
  }
  int64_t off = 0;
  if (*p == '+' || *p == '-') {
    int hh = 0;
    int mm = 0;
    if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
      return -1;
    off = (hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
  } else if (*p != 'Z' && *p != 'z') {
    return -1;
  }
  return ((int64_t)timegm(&tm) - off) * 1000 + ms;
}

const char *nw__kube_str(const json_t *obj, const char *dotted) {
  return json_string_value(nw__json_at(obj, dotted));
}
