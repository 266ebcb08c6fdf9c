#include "model/quantity.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

typedef __int128 i128;

/* 10^38 still fits in a signed 128-bit integer, 10^39 does not. */
enum { MAX_POW10 = 38, MAX_DIGITS = 36 };

static i128 pow10_i128(int e) {
  i128 r = 1;
  for (int i = 0; i < e; i++)
    r *= 10;
  return r;
}

static int fail(char *err, size_t errlen, const char *s, const char *why) {
  if (err && errlen)
    snprintf(err, errlen, "invalid quantity \"%s\": %s", s, why);
  return -1;
}

/* Reads the suffix at p; sets the power of two and of ten it stands for. */
static int parse_suffix(const char *p, int *pow2, int *pow10) {
  static const struct {
    const char *s;
    int p2, p10;
  } tab[] = {{"Ki", 10, 0}, {"Mi", 20, 0}, {"Gi", 30, 0}, {"Ti", 40, 0},
             {"Pi", 50, 0}, {"Ei", 60, 0}, {"n", 0, -9},  {"u", 0, -6},
             {"m", 0, -3},  {"", 0, 0},    {"k", 0, 3},   {"M", 0, 6},
             {"G", 0, 9},   {"T", 0, 12},  {"P", 0, 15},  {"E", 0, 18}};
  for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
    if (strcmp(p, tab[i].s) == 0) {
      *pow2 = tab[i].p2;
      *pow10 = tab[i].p10;
      return 0;
    }
  }
  if (*p != 'e' && *p != 'E')
    return -1;
  p++;
  int neg = 0;
  if (*p == '+' || *p == '-')
    neg = *p++ == '-';
  if (!isdigit((unsigned char)*p))
    return -1;
  int e = 0;
  for (; isdigit((unsigned char)*p); p++) {
    if (e > 1000)
      return -1;
    e = e * 10 + (*p - '0');
  }
  if (*p)
    return -1;
  *pow2 = 0;
  *pow10 = neg ? -e : e;
  return 0;
}

int nw__quantity_parse(const char *s, int milli, int64_t *out, char *err,
                       size_t errlen) {
  if (!s || !*s)
    return fail(err, errlen, s ? s : "", "empty");
  const char *p = s;
  int neg = 0;
  if (*p == '+' || *p == '-')
    neg = *p++ == '-';
  i128 mant = 0;
  int ndigits = 0, frac = 0, seen = 0;
  for (; isdigit((unsigned char)*p); p++, seen++) {
    if (mant == 0 && *p == '0')
      continue;
    if (++ndigits > MAX_DIGITS)
      return fail(err, errlen, s, "too many digits");
    mant = mant * 10 + (*p - '0');
  }
  if (*p == '.') {
    p++;
    for (; isdigit((unsigned char)*p); p++, seen++) {
      frac++;
      if (mant == 0 && *p == '0')
        continue;
      if (++ndigits > MAX_DIGITS)
        return fail(err, errlen, s, "too many digits");
      mant = mant * 10 + (*p - '0');
    }
  }
  if (!seen)
    return fail(err, errlen, s, "no digits");
  int pow2 = 0, pow10 = 0;
  if (parse_suffix(p, &pow2, &pow10) != 0)
    return fail(err, errlen, s, "unknown suffix");
  int e10 = pow10 - frac + (milli ? 3 : 0);
  const i128 limit = (i128)INT64_MAX;
  i128 v = mant;
  if (v != 0) {
    for (int i = 0; i < pow2; i++) {
      v *= 2;
      if (v > limit)
        return fail(err, errlen, s, "too large");
    }
  }
  if (e10 >= 0) {
    for (int i = 0; i < e10 && v != 0; i++) {
      v *= 10;
      if (v > limit)
        return fail(err, errlen, s, "too large");
    }
  } else if (v != 0) {
    /* Round up: a request of 0.5m cpu still needs 1m. */
    if (-e10 > MAX_POW10) {
      v = neg ? 0 : 1;
    } else {
      i128 d = pow10_i128(-e10);
      i128 q = v / d;
      if (v % d != 0 && !neg)
        q++;
      v = q;
    }
  }
  *out = neg ? -(int64_t)v : (int64_t)v;
  return 0;
}

int nw__resource_is_milli(const char *name) { return strcmp(name, "cpu") == 0; }

static int is_bytes(const char *name) {
  return strcmp(name, "memory") == 0 ||
         strcmp(name, "ephemeral-storage") == 0 ||
         strncmp(name, "hugepages-", 10) == 0;
}

char *nw__quantity_format(const char *name, int64_t v, char *buf, size_t len) {
  if (nw__resource_is_milli(name)) {
    if (v % 1000 == 0)
      snprintf(buf, len, "%lld", (long long)(v / 1000));
    else
      snprintf(buf, len, "%lldm", (long long)v);
    return buf;
  }
  if (is_bytes(name) && v != 0) {
    static const char *const suf[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    int k = -1;
    int64_t x = v;
    while (k < 5 && x % 1024 == 0) {
      x /= 1024;
      k++;
    }
    if (k >= 0) {
      snprintf(buf, len, "%lld%s", (long long)x, suf[k]);
      return buf;
    }
  }
  snprintf(buf, len, "%lld", (long long)v);
  return buf;
}
