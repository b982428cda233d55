/* The unit tests' shared counters and CHECK. unit.c owns the counters and
 * prints "N passed, N failed"; each suite file runs through its entry point. */
#ifndef BERTH_UNIT_CHECK_H
#define BERTH_UNIT_CHECK_H

#include <stdio.h>

extern int unit_passed, unit_failed;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (cond) {                                                                                    \
      unit_passed++;                                                                               \
    } else {                                                                                       \
      unit_failed++;                                                                               \
      printf("not ok: %s:%d: ", __FILE__, __LINE__);                                               \
      printf(__VA_ARGS__);                                                                         \
      printf("\n");                                                                                \
    }                                                                                              \
  } while (0)

void cgroup_unit_tests(void);
void hooks_unit_tests(void);
void netlink_unit_tests(void);
void ipam_unit_tests(void);
void netfw_unit_tests(void);
void netcfg_unit_tests(void);
void cni_unit_tests(void);
void netattach_unit_tests(void);
void vm_unit_tests(void);

#endif
