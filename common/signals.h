/* Signal dispositions for processes berth starts. */
#ifndef BERTH_SIGNALS_H
#define BERTH_SIGNALS_H

#include <signal.h>

/* Every signal back to SIG_DFL, the ones libc reserves for itself (32, 33)
 * included: the caller may have inherited them ignored, and an ignored
 * signal survives execve. Async-signal-safe. */
void signals_default_all(void);

/* The signals berth forwards to a container (everything but SIGKILL, SIGSTOP
 * and the synchronous faults, which stay berth's own). */
void signals_forward_set(sigset_t *set);

#endif
