/* Shared inside seccomp/ only. */
#ifndef BERTH_SECCOMP_INTERNAL_H
#define BERTH_SECCOMP_INTERNAL_H

#include <linux/filter.h>

struct seccomp_filter {
  struct sock_fprog prog;
  unsigned int flags; /* SECCOMP_FILTER_FLAG_* */
};

#endif
