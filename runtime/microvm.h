/* Shared by the microvm backend's files (microvm.c, microvm_exec.c). */
#ifndef BERTH_MICROVM_H
#define BERTH_MICROVM_H

#include "../vm/proto.h"
#include "backend.h"

/* The process's records for the guest (SPEC's process keys, also an
 * EXEC's payload): args, env, cwd, user, umask, rlimits, capabilities,
 * no_new_privs, terminal, the seccomp filter compiled here. */
int microvm_process_records(const struct spec *s, struct vm_buf *b, struct berth_err **err);

/* A terminal's host end: a pty with the process's initial size (the
 * master for the caller), and its slave made the calling process's
 * stdio and controlling terminal, raw (the guest's pty does the line
 * discipline). */
int microvm_pty_open(const struct spec *s, int *master, int *slave, struct berth_err **err);
void microvm_pty_take(int slave);

int microvm_exec(const struct state *st, const struct spec *s, const struct backend_exec_opts *o,
                 struct backend_created *out, struct berth_err **err);

#endif
