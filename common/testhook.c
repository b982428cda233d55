/* See testhook.h. Only a -DBERTH_TEST_HOOKS build has anything here. */
#include "testhook.h"

#ifdef BERTH_TEST_HOOKS
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* The runtime's own pid: processes cloned from it inherit the value. */
static pid_t runtime_pid;
static unsigned hits;

__attribute__((constructor)) static void test_point_init(void)
{
  runtime_pid = getpid();
}

static bool phase_matches(const char *want, size_t len, const char *phase, const char *detail)
{
  size_t pl = strlen(phase);
  if (detail == NULL)
    return len == pl && strncmp(want, phase, len) == 0;
  return len == pl + 1 + strlen(detail) && strncmp(want, phase, pl) == 0 && want[pl] == ':' &&
         strncmp(want + pl + 1, detail, len - pl - 1) == 0;
}

void test_point(const char *phase, const char *detail)
{
  const char *want = getenv("BERTH_TEST_KILL_AT");
  if (want == NULL)
    return;
  const char *hash = strchr(want, '#');
  size_t len = hash ? (size_t)(hash - want) : strlen(want);
  unsigned nth = hash ? (unsigned)strtoul(hash + 1, NULL, 10) : 1;
  if (!phase_matches(want, len, phase, detail) || ++hits != nth)
    return;
  if (getpid() == runtime_pid)
    raise(SIGKILL);
  /* Inside the container's mount namespace the mark's path may not exist:
   * the name tells the test too (with BERTH_TEST_MARK in our environ). */
  prctl(PR_SET_NAME, TEST_POINT_STOPPED, 0, 0, 0);
  const char *mark = getenv("BERTH_TEST_MARK");
  if (mark) {
    int fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
      close(fd);
  }
  for (;;)
    pause();
}
#else
/* ISO C wants something in a translation unit. */
typedef int testhook_unused;
#endif
