/* What `run` in the foreground owes its caller (runtime.c): the container
 * dies with berth, and its output reaches the caller through berth. */
#ifndef BERTH_RELAY_H
#define BERTH_RELAY_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "../common/err.h"

/* A caller reading berth's stdout or stderr through a pipe or socket waits
 * for every writer to close it. Given those fds directly, a container that
 * outlives a killed berth (or anything it left behind) would hold the
 * caller's pipe open; so, as runc does, the container gets pipes of
 * berth's own, which berth copies to the caller's. Terminals, files and
 * /dev/null are handed over as they are: nobody waits on their EOF. */
struct relay {
  int child[3]; /* the container's fds 0-2 (-1: the caller's own) */
  int from[2];  /* berth's read ends for stdout, stderr (-1: none) */
  int to[2];    /* where each goes: 1, 2 */
};

#define RELAY_NONE                                                                                 \
  {                                                                                                \
    {-1, -1, -1}, {-1, -1},                                                                        \
    {                                                                                              \
      1, 2                                                                                         \
    }                                                                                              \
  }

/* Pipes for berth's fds 1 and 2 where they are pipes or sockets (one pipe
 * when both are the same one, keeping the streams' order). */
int relay_open(struct relay *r, struct berth_err **err);
/* After create: the container holds its ends, berth must not. */
void relay_child_ends_close(struct relay *r);
/* Waits for the container's init: forwards the signals in set (blocked by
 * the caller) to it, reaps orphans (berth is their subreaper) and copies
 * output meanwhile. *exit_status: its code, or 128+N when killed by N. */
void relay_wait(struct relay *r, pid_t init, int pidfd, const sigset_t *set, int *exit_status);
/* Copies what is left in the pipes once the container is gone, then
 * closes everything. */
void relay_finish(struct relay *r);

#endif
