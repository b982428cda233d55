/* A pull's progress, for image_opts.progress: what the registry source
 * reports as blob bytes arrive, summed per layer and for the pull. How it
 * is shown is the caller's (cmd/image). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/cleanup.h"
#include "../common/fileutil.h"
#include "internal.h"

struct pull_progress {
  const struct image_opts *o;
  const struct manifest *m;
  struct image_progress p;
  struct timespec t0;
  int64_t *done;  /* per layer: bytes so far */
  bool *complete; /* per layer: counted in layers_done */
  int64_t other;  /* the config blob's bytes */
};

static double since(const struct timespec *t0)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static bool blob_stored(const char *root, const char *digest)
{
  struct stat sb;
  cleanup_free char *path = xasprintf("%s/blobs/sha256/%s", root, digest + 7);
  return stat(path, &sb) == 0;
}

static void report(struct pull_progress *pp)
{
  pp->p.seconds = since(&pp->t0);
  pp->o->progress(&pp->p, pp->o->progress_arg);
}

struct pull_progress *pull_progress_begin(const struct image_opts *o, const struct manifest *m)
{
  if (o->progress == NULL)
    return NULL;
  struct pull_progress *pp = xcalloc(1, sizeof(*pp));
  pp->o = o;
  pp->m = m;
  pp->done = xcalloc(m->n_layers + 1, sizeof(int64_t));
  pp->complete = xcalloc(m->n_layers + 1, sizeof(bool));
  clock_gettime(CLOCK_MONOTONIC, &pp->t0);
  pp->p.layers = m->n_layers;
  for (size_t i = 0; i < m->n_layers; i++) {
    if (blob_stored(o->root, m->layers[i].digest)) {
      pp->complete[i] = true;
      pp->p.layers_done++;
    } else {
      pp->p.bytes_total += m->layers[i].size;
    }
  }
  if (!blob_stored(o->root, m->config.digest))
    pp->p.bytes_total += m->config.size;
  report(pp);
  return pp;
}

static void sum_bytes(struct pull_progress *pp)
{
  int64_t sum = pp->other;
  for (size_t i = 0; i < pp->m->n_layers; i++)
    sum += pp->done[i];
  pp->p.bytes_done = sum;
}

void pull_progress_bytes(void *arg, const char *digest, int64_t done, int64_t total)
{
  struct pull_progress *pp = arg;
  size_t i = 0;
  while (i < pp->m->n_layers && strcmp(pp->m->layers[i].digest, digest) != 0)
    i++;
  if (i == pp->m->n_layers) { /* the config */
    pp->other = done;
    sum_bytes(pp);
    return;
  }
  pp->p.layer = i;
  pp->p.layer_done = done;
  pp->p.layer_size = total;
  pp->done[i] = done;
  sum_bytes(pp);
  if (done == total && !pp->complete[i]) {
    pp->complete[i] = true;
    pp->p.layers_done++;
  }
  report(pp);
}

void pull_progress_end(struct pull_progress *pp, bool ok)
{
  if (pp == NULL)
    return;
  pp->p.finished = true;
  pp->p.ok = ok;
  if (ok)
    pp->p.layers_done = pp->p.layers;
  report(pp);
  free(pp->done);
  free(pp->complete);
  free(pp);
}
