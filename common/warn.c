#include "warn.h"

#include <stdarg.h>
#include <stdio.h>

static void (*warn_sink)(const char *msg);

void berth_warn_set_sink(void (*sink)(const char *msg))
{
  warn_sink = sink;
}

void berth_warn(const char *fmt, ...)
{
  if (warn_sink == NULL)
    return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  warn_sink(msg);
}
