/* Shared inside seccomp/ only. */
#ifndef BERTH_SECCOMP_INTERNAL_H
#define BERTH_SECCOMP_INTERNAL_H

#include <jansson.h>
#include <linux/filter.h>
#include <stdbool.h>

#include "../common/err.h"

struct seccomp_filter {
  struct sock_fprog prog;
  unsigned int flags;  /* SECCOMP_FILTER_FLAG_* */
  char *listener_path; /* notify: where the listener fd goes (NULL: none) */
  char *listener_metadata;
  bool listener_mmsg; /* the profile notifies sendmsg: hand the fd over with sendmmsg */
};

/* listenerPath/listenerMetadata of a linux.seccomp object into f (and the
 * NEW_LISTENER flag when a rule notifies). */
int seccomp_listener_parse(json_t *obj, const char *prefix, struct seccomp_filter *f,
                           struct berth_err **err);

#endif
