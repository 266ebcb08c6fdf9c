#include "sim/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared helpers -------------------------------------------------- */

static double num(const json_t *o, const char *key) {
  return json_number_value(json_object_get(o, key));
}

/* "1h05m" / "12m" / "45s" for a number of seconds. */
static void fmt_dur(double s, char *buf, size_t len) {
  long t = lround(s);
  if (t >= 3600)
    snprintf(buf, len, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  else if (t >= 60)
    snprintf(buf, len, "%ldm", t / 60);
  else
    snprintf(buf, len, "%lds", t);
}

static void fmt_clock(double s, char *buf, size_t len) {
  long t = lround(s);
  snprintf(buf, len, "%02ld:%02ld:%02ld", t / 3600, (t % 3600) / 60, t % 60);
}

/* ---- terminal ---------------------------------------------------------- */

void nw__sim_print_summary(FILE *out, const json_t *report, double wall_s) {
  const json_t *s = json_object_get(report, "summary");
  const json_t *samples = json_object_get(report, "samples");
  const json_t *decisions = json_object_get(report, "decisions");
  char dur[32];
  fmt_dur(num(report, "duration_s"), dur, sizeof(dur));
  fprintf(out, "nodewright simulate: %s (seed %lld): %s of virtual time in "
          "%.2f s\n\n",
          json_string_value(json_object_get(report, "scenario")),
          (long long)json_integer_value(json_object_get(report, "seed")), dur,
          wall_s);
  fprintf(out, "  nodes     peak %lld, final %lld; %lld launched by "
          "nodewright\n",
          (long long)json_integer_value(json_object_get(s, "peak_nodes")),
          (long long)json_integer_value(json_object_get(s, "final_nodes")),
          (long long)json_integer_value(json_object_get(s, "nodes_launched")));
  fprintf(out, "  cost      $%.2f in total, $%.3f/h on average, $%.3f/h at "
          "the end\n",
          num(s, "cost_usd"), num(s, "cost_per_hour_avg"),
          num(s, "cost_per_hour_final"));
  fprintf(out, "  pending   p50 %.1f s, p99 %.1f s, max %.1f s over %lld "
          "pods\n",
          num(s, "pending_p50_s"), num(s, "pending_p99_s"),
          num(s, "pending_max_s"),
          (long long)json_integer_value(json_object_get(s, "pods_created")));
  /* Cost per hour at (about) twelve points in time. */
  size_t n = json_array_size(samples);
  if (n > 0) {
    fprintf(out, "\n  over time:      time      $/h  nodes  pending\n");
    size_t step = n > 12 ? (n + 11) / 12 : 1;
    for (size_t i = 0; i < n; i += step) {
      const json_t *smp = json_array_get(samples, i);
      char t[32];
      fmt_dur(num(smp, "t"), t, sizeof(t));
      fprintf(out, "                %8s %8.3f %6lld %8lld\n", t,
              num(smp, "cost_per_hour"),
              (long long)json_integer_value(json_object_get(smp, "nodes")),
              (long long)json_integer_value(json_object_get(smp, "pending")));
    }
  }
  fprintf(out, "\n  decisions (%zu; plus %lld pod events):\n",
          json_array_size(decisions),
          (long long)json_integer_value(json_object_get(s, "pod_events")));
  size_t i;
  const json_t *d;
  json_array_foreach(decisions, i, d) {
    char t[32];
    fmt_clock(num(d, "t"), t, sizeof(t));
    fprintf(out, "    %s  %-9s %-28s %-26s %s\n", t,
            json_string_value(json_object_get(d, "kind")),
            json_string_value(json_object_get(d, "name")),
            json_string_value(json_object_get(d, "reason")),
            json_string_value(json_object_get(d, "note")));
  }
}

/* ---- HTML ---------------------------------------------------------------- */

static void esc(FILE *out, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", out); break;
    case '>': fputs("&gt;", out); break;
    case '&': fputs("&amp;", out); break;
    case '"': fputs("&quot;", out); break;
    default: fputc(*s, out);
    }
  }
}

enum { W = 860, H = 260, ML = 64, MR = 16, MT = 16, MB = 34 };

typedef struct axes {
  double xmax, ymax;
} axes;

static double px(const axes *a, double x) {
  return ML + (a->xmax > 0 ? x / a->xmax : 0) * (W - ML - MR);
}

static double py(const axes *a, double y) {
  return H - MB - (a->ymax > 0 ? y / a->ymax : 0) * (H - MT - MB);
}

/* A round upper bound: 1, 2 or 5 times a power of ten. */
static double nice_max(double v) {
  if (v <= 0)
    return 1;
  double p = pow(10, floor(log10(v)));
  static const double steps[] = {1, 2, 5, 10};
  for (size_t i = 0; i < 4; i++)
    if (steps[i] * p >= v)
      return steps[i] * p;
  return 10 * p;
}

/* For counts: a bound whose quarters are whole numbers. */
static double count_max(double v) {
  if (v <= 4)
    return 4;
  return ceil((v <= 40 ? v : nice_max(v)) / 4) * 4;
}

static void draw_axes(FILE *out, const axes *a, const char *yfmt) {
  fprintf(out, "<g class=\"axes\" stroke=\"#999\" fill=\"none\">"
               "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
               "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/></g>\n",
          ML, H - MB, W - MR, H - MB, ML, MT, ML, H - MB);
  for (int k = 0; k <= 4; k++) {
    double y = a->ymax * k / 4;
    char label[32];
    snprintf(label, sizeof(label), yfmt, y);
    fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
                 "stroke=\"#eee\"/><text x=\"%d\" y=\"%.1f\" "
                 "text-anchor=\"end\" font-size=\"11\">%s</text>\n",
            ML, py(a, y), W - MR, py(a, y), ML - 6, py(a, y) + 4, label);
  }
  for (int k = 0; k <= 6; k++) {
    double x = a->xmax * k / 6;
    char label[32];
    fmt_dur(x, label, sizeof(label));
    fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" "
                 "font-size=\"11\">%s</text>\n",
            px(a, x), H - MB + 16, label);
  }
}

static void open_chart(FILE *out, const char *id, const char *title) {
  fprintf(out, "<h2>%s</h2>\n<svg class=\"chart\" id=\"%s\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\" "
               "xmlns=\"http://www.w3.org/2000/svg\" "
               "font-family=\"sans-serif\">\n",
          title, id, W, H, W, H);
}

/* A single series as a line. */
static void line_chart(FILE *out, const json_t *samples, const char *id,
                       const char *title, const char *key, const char *yfmt,
                       const char *color, double xmax, int counts) {
  axes a = {xmax, 0};
  size_t i;
  const json_t *s;
  json_array_foreach(samples, i, s) {
    if (num(s, key) > a.ymax)
      a.ymax = num(s, key);
  }
  a.ymax = counts ? count_max(a.ymax) : nice_max(a.ymax);
  open_chart(out, id, title);
  draw_axes(out, &a, yfmt);
  fprintf(out, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" "
               "stroke-width=\"2\" points=\"", color);
  json_array_foreach(samples, i, s) {
    fprintf(out, "%.1f,%.1f ", px(&a, num(s, "t")), py(&a, num(s, key)));
  }
  fprintf(out, "\"/>\n</svg>\n");
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Nodes by "type/capacity type", stacked: on-demand in blues, spot in
 * oranges. */
static void nodes_chart(FILE *out, const json_t *samples, double xmax) {
  json_t *keys = json_object();
  size_t i;
  const json_t *s;
  axes a = {xmax, 0};
  json_array_foreach(samples, i, s) {
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(s, "by_type"), k, v)
      json_object_set(keys, k, json_true());
    if (num(s, "nodes") > a.ymax)
      a.ymax = num(s, "nodes");
  }
  a.ymax = count_max(a.ymax);
  size_t nk = json_object_size(keys), j = 0, n = json_array_size(samples);
  const char **names = calloc(nk + 1, sizeof(*names));
  const char *k;
  json_t *v;
  json_object_foreach(keys, k, v)
    names[j++] = k;
  qsort(names, nk, sizeof(*names), cmp_str);
  double *lo = calloc(n + 1, sizeof(*lo)), *hi = calloc(n + 1, sizeof(*hi));
  static const char *const od[] = {"#1f77b4", "#4e79a7", "#2c5f8a", "#6baed6",
                                   "#3b5ba5", "#9ecae1"};
  static const char *const spot[] = {"#ff7f0e", "#f28e2b", "#e15759",
                                     "#fdae6b", "#d62728", "#edc948"};
  const char **colors = calloc(nk + 1, sizeof(*colors));
  size_t n_od = 0, n_spot = 0;
  open_chart(out, "nodes", "Nodes by instance type and capacity type");
  draw_axes(out, &a, "%g");
  for (j = 0; j < nk; j++) {
    int is_spot = strstr(names[j], "/spot") != NULL;
    colors[j] = is_spot ? spot[n_spot++ % 6] : od[n_od++ % 6];
    json_array_foreach(samples, i, s) {
      hi[i] = lo[i] + json_number_value(
                          json_object_get(json_object_get(s, "by_type"),
                                          names[j]));
    }
    fprintf(out, "<polygon class=\"series\" fill=\"%s\" fill-opacity=\"0.85\""
                 " stroke=\"#fff\" stroke-width=\"0.5\" points=\"", colors[j]);
    for (i = 0; i < n; i++)
      fprintf(out, "%.1f,%.1f ",
              px(&a, num(json_array_get(samples, i), "t")), py(&a, hi[i]));
    for (i = n; i > 0; i--)
      fprintf(out, "%.1f,%.1f ",
              px(&a, num(json_array_get(samples, i - 1), "t")),
              py(&a, lo[i - 1]));
    fprintf(out, "\"><title>");
    esc(out, names[j]);
    fprintf(out, "</title></polygon>\n");
    memcpy(lo, hi, n * sizeof(*lo));
  }
  fprintf(out, "</svg>\n<ul class=\"legend\">");
  for (j = 0; j < nk; j++) {
    fprintf(out, "<li><span style=\"background:%s\"></span>", colors[j]);
    esc(out, names[j]);
    fprintf(out, "</li>");
  }
  fprintf(out, "</ul>\n");
  free(lo);
  free(hi);
  free(colors);
  free(names);
  json_decref(keys);
}

static const char *const css =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:960px}"
    "table{border-collapse:collapse;font-size:13px}"
    "td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left;"
    "vertical-align:top}"
    ".legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;"
    "gap:12px;font-size:12px}"
    ".legend span{display:inline-block;width:12px;height:12px;"
    "margin-right:4px;vertical-align:middle}"
    ".kpi{display:flex;gap:24px;flex-wrap:wrap}"
    ".kpi div{background:#f4f6f8;padding:10px 14px;border-radius:6px}"
    ".kpi b{display:block;font-size:20px}";

/* Counts the charts whose series have a non-empty box once laid out. */
static const char *const script =
    "(function(){var n=0;document.querySelectorAll('svg.chart')"
    ".forEach(function(svg){var d=0;svg.querySelectorAll('.series')"
    ".forEach(function(e){var b=e.getBBox();if(b.width>0)d++;});"
    "svg.setAttribute('data-drawn',d);if(d>0)n++;});"
    "document.body.setAttribute('data-charts-drawn',n);})();";

static void kpi(FILE *out, const char *label, const char *fmt, double v) {
  fprintf(out, "<div>%s<b>", label);
  fprintf(out, fmt, v);
  fprintf(out, "</b></div>");
}

int nw__sim_write_html(FILE *out, const json_t *report) {
  const json_t *s = json_object_get(report, "summary");
  const json_t *samples = json_object_get(report, "samples");
  double xmax = num(report, "duration_s");
  fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
               "charset=\"utf-8\"><title>nodewright simulate: ");
  esc(out, json_string_value(json_object_get(report, "scenario")));
  fprintf(out, "</title><style>%s</style></head>\n<body>\n<h1>"
               "nodewright simulate: ", css);
  esc(out, json_string_value(json_object_get(report, "scenario")));
  fprintf(out, "</h1>\n<div class=\"kpi\">");
  kpi(out, "peak nodes", "%.0f", num(s, "peak_nodes"));
  kpi(out, "final nodes", "%.0f", num(s, "final_nodes"));
  kpi(out, "cost", "$%.2f", num(s, "cost_usd"));
  kpi(out, "average", "$%.3f/h", num(s, "cost_per_hour_avg"));
  kpi(out, "pending p50", "%.1f s", num(s, "pending_p50_s"));
  kpi(out, "pending p99", "%.1f s", num(s, "pending_p99_s"));
  fprintf(out, "</div>\n");
  nodes_chart(out, samples, xmax);
  line_chart(out, samples, "cost", "Cost per hour (USD)", "cost_per_hour",
             "$%.2f", "#2ca02c", xmax, 0);
  line_chart(out, samples, "pending", "Pending pods", "pending", "%g",
             "#d62728", xmax, 1);
  fprintf(out, "<h2>Decisions</h2>\n<table><tr><th>time</th><th>object</th>"
               "<th>reason</th><th>what</th></tr>\n");
  size_t i;
  const json_t *d;
  json_array_foreach(json_object_get(report, "decisions"), i, d) {
    char t[32];
    fmt_clock(num(d, "t"), t, sizeof(t));
    fprintf(out, "<tr><td>%s</td><td>", t);
    esc(out, json_string_value(json_object_get(d, "kind")));
    fputc(' ', out);
    esc(out, json_string_value(json_object_get(d, "name")));
    fprintf(out, "</td><td>");
    esc(out, json_string_value(json_object_get(d, "reason")));
    fprintf(out, "</td><td>");
    esc(out, json_string_value(json_object_get(d, "note")));
    fprintf(out, "</td></tr>\n");
  }
  fprintf(out, "</table>\n<script>%s</script>\n</body></html>\n", script);
  return ferror(out) ? -1 : 0;
}
