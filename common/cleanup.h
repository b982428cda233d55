/* Scope-exit helpers so early returns cannot leak. Hand ownership over
 * explicitly: `int ret = fd; fd = -1; return ret;`. */
#ifndef BERTH_CLEANUP_H
#define BERTH_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_freep(void *p)
{
  free(*(void **)p);
}

static inline void cleanup_closep(int *fd)
{
  if (*fd >= 0) {
    int saved = errno;
    close(*fd);
    errno = saved;
  }
}

static inline void cleanup_fclosep(FILE **f)
{
  if (*f)
    fclose(*f);
}

static inline void cleanup_closedirp(DIR **d)
{
  if (*d)
    closedir(*d);
}

#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))
#define cleanup_fclose __attribute__((cleanup(cleanup_fclosep)))
#define cleanup_dir __attribute__((cleanup(cleanup_closedirp)))

static inline int steal_fd(int *fd)
{
  int ret = *fd;
  *fd = -1;
  return ret;
}

static inline void *steal_ptr(void *pp)
{
  void **p = pp;
  void *ret = *p;
  *p = NULL;
  return ret;
}

#endif
