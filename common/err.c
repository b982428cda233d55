#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct berth_err *err_get(struct berth_err **err)
{
  if (*err == NULL) {
    *err = calloc(1, sizeof(**err));
    if (*err == NULL)
      abort(); /* out of memory while reporting an error: nothing sane left */
  }
  return *err;
}

static void err_vset(struct berth_err **err, int errnum, const char *fmt, va_list ap)
{
  struct berth_err *e = err_get(err);
  int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
  if (errnum != 0 && n >= 0 && (size_t)n < sizeof(e->msg))
    snprintf(e->msg + n, sizeof(e->msg) - (size_t)n, ": %s", strerror(errnum));
  e->errnum = errnum;
}

int berth_err_set(struct berth_err **err, int errnum, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  err_vset(err, errnum, fmt, ap);
  va_end(ap);
  return -1;
}

int berth_err_sys(struct berth_err **err, const char *fmt, ...)
{
  int saved = errno;
  va_list ap;
  va_start(ap, fmt);
  err_vset(err, saved, fmt, ap);
  va_end(ap);
  errno = saved;
  return -1;
}

int berth_err_wrap(struct berth_err **err, const char *fmt, ...)
{
  struct berth_err *e = err_get(err);
  char ctx[512];
  va_list ap;

  va_start(ap, fmt);
  int n = vsnprintf(ctx, sizeof(ctx) - 2, fmt, ap);
  va_end(ap);
  if (n < 0)
    return -1;
  size_t clen = strlen(ctx);
  memcpy(ctx + clen, ": ", 3);
  clen += 2;
  size_t mlen = strnlen(e->msg, sizeof(e->msg) - 1);
  if (clen + mlen >= sizeof(e->msg))
    mlen = sizeof(e->msg) - 1 - clen;
  memmove(e->msg + clen, e->msg, mlen);
  memcpy(e->msg, ctx, clen);
  e->msg[clen + mlen] = '\0';
  return -1;
}

void berth_err_free(struct berth_err **err)
{
  free(*err);
  *err = NULL;
}
