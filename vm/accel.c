/* Choosing KVM or TCG. A /dev/kvm that opens is not proof that a guest
 * runs: under PVM-backed nested virtualization a stock kernel hangs
 * silently. So `auto` runs three real-mode instructions (mov, out, hlt)
 * under KVM_RUN in a child with a deadline, and uses KVM only when the
 * vCPU comes back with the port write. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "../common/cleanup.h"
#include "vm.h"

#define PROBE_DEADLINE_MS 2000
#define PROBE_PORT 0xb0

static const uint8_t probe_code[] = {0xb0, 0x42,       /* mov $0x42, %al */
                                     0xe6, PROBE_PORT, /* out %al, $PROBE_PORT */
                                     0xf4};            /* hlt */

/* Child: 0 when the vCPU exits with our port write. */
static int kvm_probe_child(int kvm)
{
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  void *mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (vm < 0 || mem == MAP_FAILED)
    return 1;
  memcpy(mem, probe_code, sizeof(probe_code));
  struct kvm_userspace_memory_region region = {.slot = 0,
                                               .guest_phys_addr = 0x1000,
                                               .memory_size = 0x1000,
                                               .userspace_addr = (uintptr_t)mem};
  int vcpu =
      ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0 ? -1 : ioctl(vm, KVM_CREATE_VCPU, 0);
  int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (vcpu < 0 || size <= 0)
    return 1;
  struct kvm_run *run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  struct kvm_sregs sregs;
  if (run == MAP_FAILED || ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
    return 1;
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  struct kvm_regs regs = {.rip = 0x1000, .rflags = 0x2};
  if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0 ||
      ioctl(vcpu, KVM_RUN, 0) < 0)
    return 1;
  return run->exit_reason == KVM_EXIT_IO && run->io.port == PROBE_PORT ? 0 : 1;
}

/* 0: KVM ran the probe; else err says why not. */
static int kvm_probe(struct berth_err **err)
{
  cleanup_close int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0)
    return berth_err_sys(err, "/dev/kvm");
  if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
    return berth_err_set(err, 0, "/dev/kvm: unexpected API version");
  pid_t pid = fork();
  if (pid < 0)
    return berth_err_sys(err, "fork");
  if (pid == 0)
    _exit(kvm_probe_child(kvm));
  cleanup_close int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  struct pollfd p = {.fd = pidfd, .events = POLLIN};
  int r = pidfd < 0 ? -1 : poll(&p, 1, PROBE_DEADLINE_MS);
  if (r <= 0)
    kill(pid, SIGKILL);
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
    ;
  if (r == 0)
    return berth_err_set(err, ETIMEDOUT, "/dev/kvm: a test vCPU did not come back within %d ms",
                         PROBE_DEADLINE_MS);
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
    return berth_err_set(err, 0, "/dev/kvm: a test vCPU could not run");
  return 0;
}

int vm_accel_resolve(struct vm_config *c, struct berth_err **err)
{
  if (c->accel == VM_ACCEL_TCG)
    return 0;
  struct berth_err *why = NULL;
  if (kvm_probe(&why) == 0) {
    c->accel = VM_ACCEL_KVM;
    return 0;
  }
  if (c->accel == VM_ACCEL_KVM) {
    berth_err_set(err, why->errnum, "dev.berth.vm.accel=kvm: KVM cannot run a guest here: %s",
                  why->msg);
    berth_err_free(&why);
    return -1;
  }
  berth_err_free(&why);
  c->accel = VM_ACCEL_TCG;
  return 0;
}

unsigned long vm_tsc_khz(void)
{
  struct timespec a, b, d = {0, 10000000L};
  clock_gettime(CLOCK_MONOTONIC_RAW, &a);
  uint64_t t0 = __rdtsc();
  nanosleep(&d, NULL);
  clock_gettime(CLOCK_MONOTONIC_RAW, &b);
  uint64_t t1 = __rdtsc();
  int64_t ns = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
  return ns > 0 ? (unsigned long)((t1 - t0) * 1000000ULL / (uint64_t)ns) : 0;
}
