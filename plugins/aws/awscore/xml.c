/* libxml2 helpers for Query-protocol answers: namespace-agnostic lookups. */
#include "awscore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

xmlDocPtr nw_aws_xml_parse(const char *body, size_t len, const char *what,
                           nw_error *err) {
  if (!body || len == 0) {
    nw_aws_error(err, NW_ERR_INVALID, "%s: empty XML answer", what);
    return NULL;
  }
  if (len > (size_t)INT32_MAX) {
    nw_aws_error(err, NW_ERR_INVALID, "%s: XML answer too large", what);
    return NULL;
  }
  xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
  if (!ctxt) {
    nw_aws_error(err, NW_ERR, "%s: out of memory", what);
    return NULL;
  }
  /* No network, no entity substitution, no DTD loading: the answer is
   * data, never instructions to fetch more. */
  xmlDocPtr doc = xmlCtxtReadMemory(ctxt, body, (int)len, NULL, "UTF-8",
                                    XML_PARSE_NONET | XML_PARSE_NOERROR |
                                        XML_PARSE_NOWARNING);
  if (!doc || !ctxt->wellFormed || !xmlDocGetRootElement(doc)) {
    const xmlError *e = xmlCtxtGetLastError(ctxt);
    char msg[160] = "no root element";
    if (e && e->message) {
      snprintf(msg, sizeof(msg), "%s", e->message);
      size_t n = strlen(msg);
      while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    }
    nw_aws_error(err, NW_ERR_INVALID, "%s: malformed XML at line %d: %s", what,
                 e ? e->line : 0, msg);
    xmlFreeDoc(doc);
    doc = NULL;
  } else if (doc->intSubset || doc->extSubset) {
    /* AWS answers never carry a DTD; one here could only be an attempt
     * at entity amplification. */
    nw_aws_error(err, NW_ERR_INVALID, "%s: XML answer with a DTD refused",
                 what);
    xmlFreeDoc(doc);
    doc = NULL;
  }
  xmlFreeParserCtxt(ctxt);
  return doc;
}

static int is_named(xmlNodePtr n, const char *name) {
  return n && n->type == XML_ELEMENT_NODE &&
         strcmp((const char *)n->name, name) == 0;
}

xmlNodePtr nw_aws_xml_child(xmlNodePtr node, const char *name) {
  if (!node)
    return NULL;
  for (xmlNodePtr c = node->children; c; c = c->next)
    if (is_named(c, name))
      return c;
  return NULL;
}

xmlNodePtr nw_aws_xml_next(xmlNodePtr node, const char *name) {
  for (xmlNodePtr c = node ? node->next : NULL; c; c = c->next)
    if (is_named(c, name))
      return c;
  return NULL;
}

xmlNodePtr nw_aws_xml_path(xmlNodePtr node, const char *path) {
  if (!path)
    return node;
  char seg[128];
  const char *p = path;
  while (node && *p) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n >= sizeof(seg))
      return NULL;
    memcpy(seg, p, n);
    seg[n] = '\0';
    node = nw_aws_xml_child(node, seg);
    p += n;
    if (*p == '/')
      p++;
  }
  return node;
}

char *nw_aws_xml_text(xmlNodePtr node, const char *path) {
  xmlNodePtr n = nw_aws_xml_path(node, path);
  if (!n)
    return NULL;
  xmlChar *c = xmlNodeGetContent(n);
  if (!c)
    return strdup("");
  char *s = strdup((const char *)c);
  xmlFree(c);
  return s;
}

int64_t nw_aws_xml_int(xmlNodePtr node, const char *path, int64_t dflt) {
  char *s = nw_aws_xml_text(node, path);
  if (!s)
    return dflt;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  int ok = errno == 0 && end != s && *end == '\0';
  free(s);
  return ok ? (int64_t)v : dflt;
}
