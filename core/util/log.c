#include "util/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static nw_log_level g_min_level = NW_LOG_INFO;
static nw__log_format g_format = NW__LOG_TEXT;
/* One line at a time: plugins log from worker threads. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void nw__log_setup(nw_log_level min_level, nw__log_format format) {
  g_min_level = min_level;
  g_format = format;
}

int nw__log_level_parse(const char *s) {
  for (int i = 0; i < 4; i++) {
    if (strcmp(s, level_names[i]) == 0)
      return i;
  }
  return -1;
}

static void timestamp(char *buf, size_t len) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void nw__logv(nw_log_level level, const char *component, const char *fmt,
              va_list ap) {
  if (level < g_min_level)
    return;
  char msg[2048];
  char ts[40];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  timestamp(ts, sizeof(ts));
  pthread_mutex_lock(&g_lock);
  if (g_format == NW__LOG_JSON) {
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level",
                          level_names[level], "component",
                          component ? component : "core", "msg", msg);
    char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
    fprintf(stderr, "%s\n", line ? line : msg);
    free(line);
    json_decref(o);
  } else {
    fprintf(stderr, "%s %-5s [%s] %s\n", ts, level_names[level],
            component ? component : "core", msg);
  }
  pthread_mutex_unlock(&g_lock);
}

void nw__log(nw_log_level level, const char *component, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  nw__logv(level, component, fmt, ap);
  va_end(ap);
}
