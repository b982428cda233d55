/* One error type for all of berth: a message with context and an errno.
 * Functions that can fail take `struct berth_err **err` last and return a
 * negative value after filling it; callers add context on the way out. */
#ifndef BERTH_ERR_H
#define BERTH_ERR_H

#include <stdarg.h>

struct berth_err {
  int errnum;     /* errno that caused it, 0 if none */
  char msg[2048]; /* "context: context: cause[: strerror]" */
};

/* Sets *err (allocating it) to the formatted message, followed by
 * ": strerror(errnum)" when errnum != 0. Always returns -1. */
int berth_err_set(struct berth_err **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Same as berth_err_set with errnum = errno. */
int berth_err_sys(struct berth_err **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes "context: " to an existing error. Always returns -1. */
int berth_err_wrap(struct berth_err **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void berth_err_free(struct berth_err **err);

#endif
