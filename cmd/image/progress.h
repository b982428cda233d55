/* berth-image's rendering of a pull's progress (image_opts.progress). */
#ifndef BERTH_CMD_IMAGE_PROGRESS_H
#define BERTH_CMD_IMAGE_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "../../image/image.h"

struct progress_view {
  bool drawn;
  double last; /* seconds of the last redraw */
  size_t layer, layers_done;
};

void progress_show(const struct image_progress *p, void *arg);

#endif
