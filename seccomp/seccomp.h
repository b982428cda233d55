/* linux.seccomp -> a BPF program, built with libseccomp in the parent and
 * installed by the container's init right before it execs. */
#ifndef BERTH_SECCOMP_H
#define BERTH_SECCOMP_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "../common/err.h"

struct seccomp_filter;

/* Translates a linux.seccomp object; path names it in errors
 * ("config.json: linux.seccomp"). Unknown syscall names are skipped (the
 * kernel or libseccomp does not know them); unknown actions, architectures,
 * operators or flags are errors. *out is NULL when obj is absent. */
int seccomp_compile(json_t *obj, const char *path, struct seccomp_filter **out,
                    struct berth_err **err);

/* The same, through a cache of compiled programs in cache_dir (NULL: none).
 * libseccomp needs ~18 ms for a Docker-sized profile; a hit costs a read.
 * An entry is used only when the profile it was built from, which it stores,
 * equals this one byte for byte. */
int seccomp_compile_cached(json_t *obj, const char *path, const char *cache_dir,
                           struct seccomp_filter **out, struct berth_err **err);

/* Child side: installs the filter on the calling thread. The caller has set
 * no_new_privs or still holds CAP_SYS_ADMIN. *listener: the notify fd when
 * the profile notifies, else -1 (listener may be NULL). */
int seccomp_install(const struct seccomp_filter *f, int *listener, struct berth_err **err);
/* Seccomp notify (listenerPath): connect to the agent's socket while its
 * path is still reachable (before pivot_root). Returns the socket, -1 when
 * the profile has no listener, -2 on error. */
int seccomp_listener_connect(const struct seccomp_filter *f, struct berth_err **err);
/* The message for the agent: the runtime-spec's ContainerProcessState
 * (fds ["seccompFd"], pid, metadata, state). Made before the filter is
 * installed: nothing after it may allocate. Caller frees. */
char *seccomp_listener_message(const struct seccomp_filter *f, const char *state_json, pid_t pid);
/* Sends the listener fd with msg, through a syscall the profile does not
 * notify (sendmsg, else sendmmsg). */
int seccomp_listener_send(int sock, int listener, const struct seccomp_filter *f, const char *msg,
                          struct berth_err **err);

/* The compiled program (struct sock_filter[], *len bytes) and its
 * SECCOMP_FILTER_FLAG_*, for a filter installed elsewhere (the microVM
 * guest). *notify: the profile needs a listener (an agent on this host). */
const void *seccomp_filter_bytes(const struct seccomp_filter *f, size_t *len, unsigned *flags,
                                 bool *notify);

void seccomp_filter_free(struct seccomp_filter *f);

/* The version of the libseccomp berth runs with, "2.5.4" (`berth --version`). */
void seccomp_library_version(char *buf, size_t len);

/* The profile `berth spec` writes (a linux.seccomp object). */
json_t *seccomp_default_profile(void);

#endif
