/* Passing one fd over a unix socket (SCM_RIGHTS). */
#ifndef BERTH_FDPASS_H
#define BERTH_FDPASS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Sends len bytes of data (at least one) with fd attached; EINTR retried,
 * SIGPIPE never raised. Returns what sendmsg returned. */
ssize_t fd_send(int sock, const void *data, size_t len, int fd);
/* The same through sendmmsg(2) when mmsg (for a seccomp profile that
 * notifies on sendmsg). */
ssize_t fd_send_via(int sock, const void *data, size_t len, int fd, bool mmsg);

#endif
