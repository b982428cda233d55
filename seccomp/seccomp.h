/* linux.seccomp -> a BPF program, built with libseccomp in the parent and
 * installed by the container's init right before it execs. */
#ifndef BERTH_SECCOMP_H
#define BERTH_SECCOMP_H

#include <jansson.h>
#include <stdbool.h>

#include "../common/err.h"

struct seccomp_filter;

/* Translates a linux.seccomp object; path names it in errors
 * ("config.json: linux.seccomp"). Unknown syscall names are skipped (the
 * kernel or libseccomp does not know them); unknown actions, architectures,
 * operators or flags are errors. *out is NULL when obj is absent. */
int seccomp_compile(json_t *obj, const char *path, struct seccomp_filter **out,
                    struct berth_err **err);

/* Child side: installs the filter on the calling thread. The caller has set
 * no_new_privs or still holds CAP_SYS_ADMIN. */
int seccomp_install(const struct seccomp_filter *f, struct berth_err **err);

void seccomp_filter_free(struct seccomp_filter *f);

#endif
