/* Logging for the daemon: levelled, text or JSON lines on stderr. */
#ifndef NW_UTIL_LOG_H
#define NW_UTIL_LOG_H

#include <nodewright/plugin.h>

typedef enum nw__log_format { NW__LOG_TEXT = 0, NW__LOG_JSON = 1 } nw__log_format;

void nw__log_setup(nw_log_level min_level, nw__log_format format);
/* Parses "debug", "info", "warn", "error"; returns -1 when unknown. */
int nw__log_level_parse(const char *s);

/* `component` names the part of the daemon or the plugin; borrowed. */
void nw__log(nw_log_level level, const char *component, const char *fmt, ...)
    NW_PRINTF_LIKE(3, 4);
void nw__logv(nw_log_level level, const char *component, const char *fmt,
              va_list ap);

#define NW_DEBUG(comp, ...) nw__log(NW_LOG_DEBUG, comp, __VA_ARGS__)
#define NW_INFO(comp, ...) nw__log(NW_LOG_INFO, comp, __VA_ARGS__)
#define NW_WARN(comp, ...) nw__log(NW_LOG_WARN, comp, __VA_ARGS__)
#define NW_ERROR(comp, ...) nw__log(NW_LOG_ERROR, comp, __VA_ARGS__)

#endif
