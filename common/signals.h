/* Signal dispositions for processes berth starts. */
#ifndef BERTH_SIGNALS_H
#define BERTH_SIGNALS_H

/* Every signal back to SIG_DFL, the ones libc reserves for itself (32, 33)
 * included: the caller may have inherited them ignored, and an ignored
 * signal survives execve. Async-signal-safe. */
void signals_default_all(void);

#endif
