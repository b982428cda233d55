/* A pull's progress on stderr, when it is a terminal: one line redrawn in
 * place (\r) at most every 100 ms and whenever a layer changes, then a
 * summary line. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "progress.h"

#define LINE_WIDTH 79

static void human(int64_t n, char *out, size_t cap)
{
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)n;
  size_t u = 0;
  while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(out, cap, "%" PRId64 " B", n);
  else
    snprintf(out, cap, "%.1f %s", v, units[u]);
}

/* bytes per second, as "1.2 MiB/s" */
static void rate(const struct image_progress *p, char out[40])
{
  human(p->seconds > 0 ? (int64_t)((double)p->bytes_done / p->seconds) : 0, out, 32);
  size_t n = strlen(out);
  snprintf(out + n, 40 - n, "/s");
}

static void draw(const struct image_progress *p)
{
  char line[256], done[32], size[32], r[40];
  human(p->layer_done, done, sizeof(done));
  human(p->layer_size, size, sizeof(size));
  rate(p, r);
  if (p->layer_size > 0)
    snprintf(line, sizeof(line), "layer %zu/%zu: %s / %s  layers done %zu/%zu  %s", p->layer + 1,
             p->layers, done, size, p->layers_done, p->layers, r);
  else
    snprintf(line, sizeof(line), "layers done %zu/%zu", p->layers_done, p->layers);
  fprintf(stderr, "\r%-*.*s", LINE_WIDTH, LINE_WIDTH, line);
}

static void summary(const struct image_progress *p)
{
  char bytes[32], r[40];
  human(p->bytes_done, bytes, sizeof(bytes));
  rate(p, r);
  fprintf(stderr, "\r%*s\r", LINE_WIDTH, "");
  if (p->ok)
    fprintf(stderr, "pulled %zu layers: %s fetched in %.1f s (%s)\n", p->layers, bytes, p->seconds,
            r);
}

void progress_show(const struct image_progress *p, void *arg)
{
  struct progress_view *v = arg;
  if (p->finished) {
    summary(p);
    fflush(stderr);
    return;
  }
  bool layer_event = p->layer != v->layer || p->layers_done != v->layers_done;
  if (v->drawn && !layer_event && p->seconds - v->last < 0.1)
    return;
  draw(p);
  fflush(stderr);
  v->drawn = true;
  v->last = p->seconds;
  v->layer = p->layer;
  v->layers_done = p->layers_done;
}
