/* Shared by the harnesses. */
#ifndef BERTH_FUZZ_H
#define BERTH_FUZZ_H

#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: a crash libFuzzer reports. */
#define REQUIRE(cond)                                                                              \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      __builtin_trap();                                                                            \
  } while (0)

/* libseccomp 2.5.4 leaks inside seccomp_rule_add_array (see lsan.supp), so
 * leaks within libseccomp are suppressed. That would also hide a context
 * berth forgets to release, so the link wraps seccomp_init/seccomp_release
 * (-Wl,--wrap) and each input must leave none open. */
scmp_filter_ctx __real_seccomp_init(uint32_t def_action);
scmp_filter_ctx __wrap_seccomp_init(uint32_t def_action);
void __real_seccomp_release(scmp_filter_ctx ctx);
void __wrap_seccomp_release(scmp_filter_ctx ctx);

static long fuzz_seccomp_ctxs;

scmp_filter_ctx __wrap_seccomp_init(uint32_t def_action)
{
  scmp_filter_ctx ctx = __real_seccomp_init(def_action);
  if (ctx != NULL)
    fuzz_seccomp_ctxs++;
  return ctx;
}

void __wrap_seccomp_release(scmp_filter_ctx ctx)
{
  if (ctx != NULL)
    fuzz_seccomp_ctxs--;
  __real_seccomp_release(ctx);
}

#endif
