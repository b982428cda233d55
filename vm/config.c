/* microVM options (dev.berth.vm.*), the VM's size, and the command lines
 * of QEMU and virtiofsd. Pure apart from checking that files exist. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/fileutil.h"
#include "vm.h"

static int check_path(const char *k, const char *v, struct berth_err **err)
{
  if (v[0] != '/')
    return berth_err_set(err, 0, "dev.berth.%s: must be an absolute path, got \"%s\"", k, v);
  return 0;
}

static int check_accel(const char *k, const char *v, struct berth_err **err)
{
  if (strcmp(v, "auto") != 0 && strcmp(v, "kvm") != 0 && strcmp(v, "tcg") != 0)
    return berth_err_set(err, 0, "dev.berth.%s: must be auto, kvm or tcg, got \"%s\"", k, v);
  return 0;
}

static int parse_uint(const char *v, unsigned long max, unsigned long *out)
{
  char *end;
  errno = 0;
  unsigned long n = strtoul(v, &end, 10);
  if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno || n > max)
    return -1;
  *out = n;
  return 0;
}

static int check_seconds(const char *k, const char *v, struct berth_err **err)
{
  unsigned long n;
  if (parse_uint(v, 3600, &n) < 0 || n == 0)
    return berth_err_set(err, 0, "dev.berth.%s: must be seconds from 1 to 3600, got \"%s\"", k, v);
  return 0;
}

static int check_memory(const char *k, const char *v, struct berth_err **err)
{
  unsigned long n;
  if (parse_uint(v, 1u << 20, &n) < 0)
    return berth_err_set(err, 0, "dev.berth.%s: must be MiB (a number), got \"%s\"", k, v);
  if (n < VM_MEM_MIN_MIB)
    return berth_err_set(err, 0,
                         "dev.berth.%s: %lu MiB is too little memory: the guest kernel needs at "
                         "least %d MiB",
                         k, n, VM_MEM_MIN_MIB);
  return 0;
}

static int check_cpus(const char *k, const char *v, struct berth_err **err)
{
  unsigned long n;
  if (parse_uint(v, 64, &n) < 0 || n == 0)
    return berth_err_set(err, 0, "dev.berth.%s: must be a number of vCPUs from 1 to 64, got \"%s\"",
                         k, v);
  return 0;
}

static int check_any(const char *k, const char *v, struct berth_err **err)
{
  (void)k;
  (void)v;
  (void)err;
  return 0;
}

static const struct {
  const char *key;
  int (*check)(const char *k, const char *v, struct berth_err **err);
} options[] = {
    {"vm.kernel", check_path},   {"vm.initrd", check_path},
    {"vm.accel", check_accel},   {"vm.boot_timeout", check_seconds},
    {"vm.memory", check_memory}, {"vm.append", check_any},
    {"vm.cpus", check_cpus},
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

bool vm_option_is_key(const char *k)
{
  for (size_t i = 0; i < N_OPTIONS; i++)
    if (strcmp(options[i].key, k) == 0)
      return true;
  return false;
}

int vm_option_check(const char *k, const char *val, struct berth_err **err)
{
  for (size_t i = 0; i < N_OPTIONS; i++)
    if (strcmp(options[i].key, k) == 0)
      return options[i].check(k, val, err);
  return berth_err_set(err, 0, "dev.berth.%s: unknown microVM option", k);
}

static const char *annotation(json_t *a, const char *k)
{
  char key[64];
  snprintf(key, sizeof(key), "dev.berth.%s", k);
  return json_string_value(json_object_get(a, key));
}

/* The container's limit plus room for the guest kernel and init; enough
 * vCPUs for its CPU quota, up to the host's. */
static void size_from_limits(const struct vm_limits *lim, struct vm_config *c)
{
  c->memory_mib = VM_MEM_DEFAULT_MIB;
  if (lim->mem_limit > 0) {
    uint64_t need = ((uint64_t)lim->mem_limit + (1u << 20) - 1) / (1u << 20) + VM_MEM_OVERHEAD_MIB;
    if (need > c->memory_mib)
      c->memory_mib = need > (1u << 20) ? 1u << 20 : (unsigned)need;
  }
  c->vcpus = 1;
  if (lim->cpu_quota > 0) {
    uint64_t period = lim->cpu_period ? lim->cpu_period : 100000;
    uint64_t n = ((uint64_t)lim->cpu_quota + period - 1) / period;
    long host = sysconf(_SC_NPROCESSORS_ONLN);
    c->vcpus = (unsigned)(n > (uint64_t)host && host > 0 ? (uint64_t)host : n);
  }
}

static int file_check(const char *what, const char *path, const char *key, struct berth_err **err)
{
  if (access(path, R_OK) == 0)
    return 0;
  if (errno == ENOENT && key == NULL)
    return berth_err_set(err, 0, "microvm: no guest %s at %s: run `make vm-assets` (or set %s)",
                         what, path,
                         strcmp(what, "kernel") ? "dev.berth.vm.initrd" : "dev.berth.vm.kernel");
  return berth_err_sys(err, "microvm: guest %s %s%s%s", what, path, key ? " from " : "",
                       key ? key : "");
}

static int options_apply(json_t *a, struct vm_config *c, struct berth_err **err)
{
  for (size_t i = 0; i < N_OPTIONS; i++) {
    const char *v = annotation(a, options[i].key);
    if (v && options[i].check(options[i].key, v, err) < 0)
      return -1;
  }
  const char *v;
  if ((v = annotation(a, "vm.accel")))
    c->accel = strcmp(v, "kvm") == 0   ? VM_ACCEL_KVM
               : strcmp(v, "tcg") == 0 ? VM_ACCEL_TCG
                                       : VM_ACCEL_AUTO;
  if ((v = annotation(a, "vm.boot_timeout")))
    c->boot_timeout_s = (unsigned)strtoul(v, NULL, 10);
  if ((v = annotation(a, "vm.memory"))) {
    c->memory_mib = (unsigned)strtoul(v, NULL, 10);
    c->memory_set = true;
  }
  if ((v = annotation(a, "vm.cpus")))
    c->vcpus = (unsigned)strtoul(v, NULL, 10);
  if ((v = annotation(a, "vm.append")))
    c->append = xstrdup(v);
  return 0;
}

const char *vm_assets_dir(void)
{
  const char *env = getenv(VM_ASSETS_ENV);
  return env && env[0] == '/' ? env : VM_ASSETS_DIR_DEFAULT;
}

int vm_config_build(json_t *annotations, const struct vm_limits *lim, struct vm_config *c,
                    struct berth_err **err)
{
  *c = (struct vm_config){.accel = VM_ACCEL_AUTO, .boot_timeout_s = VM_BOOT_TIMEOUT_DEFAULT};
  size_from_limits(lim, c);
  if (options_apply(annotations, c, err) < 0)
    return -1;
  const char *k = annotation(annotations, "vm.kernel");
  const char *i = annotation(annotations, "vm.initrd");
  const char *dir = vm_assets_dir();
  c->kernel = k ? xstrdup(k) : xasprintf("%s/vmlinux", dir);
  c->initrd = i ? xstrdup(i) : xasprintf("%s/initramfs.cpio", dir);
  if (file_check("kernel", c->kernel, k ? "dev.berth.vm.kernel" : NULL, err) < 0 ||
      file_check("initramfs", c->initrd, i ? "dev.berth.vm.initrd" : NULL, err) < 0)
    return -1;
  uint64_t limit_mib = lim->mem_limit > 0 ? (uint64_t)lim->mem_limit >> 20 : 0;
  if (c->memory_set && limit_mib + 64 > c->memory_mib)
    return berth_err_set(err, 0,
                         "dev.berth.vm.memory: %u MiB is too little for the container's memory "
                         "limit of %llu MiB (give at least %llu)",
                         c->memory_mib, (unsigned long long)limit_mib,
                         (unsigned long long)limit_mib + 64);
  return 0;
}

void vm_config_free(struct vm_config *c)
{
  free(c->kernel);
  free(c->initrd);
  free(c->append);
  *c = (struct vm_config){0};
}

struct argv {
  char **v;
  size_t n;
};

static void push(struct argv *a, char *s)
{
  char **nv = realloc(a->v, (a->n + 2) * sizeof(char *));
  if (nv == NULL)
    abort();
  nv[a->n++] = s;
  nv[a->n] = NULL;
  a->v = nv;
}

static void pushv(struct argv *a, const char *const *list)
{
  for (; *list; list++)
    push(a, xstrdup(*list));
}

/* tsc_early_khz: see vm_tsc_khz. tsc=reliable: no watchdog that, on a
 * busy host, drops the TSC for jiffies. pci=off: microvm has no PCI. */
static char *kernel_cmdline(const struct vm_config *c, unsigned long tsc_khz)
{
  char tsc[64] = "";
  if (c->accel == VM_ACCEL_TCG && tsc_khz)
    snprintf(tsc, sizeof(tsc), " tsc_early_khz=%lu tsc=reliable", tsc_khz);
  return xasprintf("console=ttyS0 quiet panic=-1 reboot=t pci=off%s%s%s", tsc, c->append ? " " : "",
                   c->append ? c->append : "");
}

/* virtio-net on virtio-mmio over the tap berth made (no vhost: QEMU
 * runs without /dev/vhost-net, in a network namespace of its own). */
static void net_args(struct argv *a, const uint8_t m[6])
{
  push(a, xstrdup("-netdev"));
  push(a, xasprintf("tap,id=net0,fd=%d", VM_TAP_FD));
  push(a, xstrdup("-device"));
  push(a, xasprintf("virtio-net-device,netdev=net0,mac=%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
                    m[2], m[3], m[4], m[5]));
}

char **vm_qemu_argv(const struct vm_config *c, unsigned long tsc_khz)
{
  struct argv a = {0};
  bool kvm = c->accel == VM_ACCEL_KVM;
  static const char *const fixed[] = {
      VM_QEMU, "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
      /* QEMU may not spawn, gain privileges or use obsolete calls. */
      "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
      /* virtio-fs needs modern virtio-mmio and memory shared with virtiofsd. */
      "-global", "virtio-mmio.force-legacy=false", "-device",
      "vhost-user-fs-device,chardev=vfs,tag=rootfs", "-chardev", "socket,id=ctl,fd=3", "-device",
      "virtio-serial-device", "-device", "virtserialport,chardev=ctl,name=berth.ctl", NULL};
  pushv(&a, fixed);
  push(&a, xstrdup("-chardev"));
  push(&a, xasprintf("socket,id=vfs,path=%s", VM_VFS_SOCK));
  push(&a, xstrdup("-serial"));
  push(&a, xasprintf("file:%s", VM_CONSOLE_LOG));
  push(&a, xstrdup("-M"));
  push(&a, xstrdup("microvm,x-option-roms=off,rtc=off,memory-backend=mem"));
  push(&a, xstrdup("-accel"));
  push(&a, xstrdup(kvm ? "kvm" : "tcg"));
  if (kvm) {
    /* -cpu host aborts under PVM-backed KVM unless this feature goes. */
    push(&a, xstrdup("-cpu"));
    push(&a, xstrdup("host,-arch-capabilities"));
  }
  push(&a, xstrdup("-m"));
  push(&a, xasprintf("%u", c->memory_mib));
  push(&a, xstrdup("-object"));
  push(&a, xasprintf("memory-backend-memfd,id=mem,size=%uM,share=on", c->memory_mib));
  push(&a, xstrdup("-smp"));
  push(&a, xasprintf("%u", c->vcpus));
  if (c->net)
    net_args(&a, c->mac);
  push(&a, xstrdup("-kernel"));
  push(&a, xstrdup(c->kernel));
  push(&a, xstrdup("-initrd"));
  push(&a, xstrdup(c->initrd));
  push(&a, xstrdup("-append"));
  push(&a, kernel_cmdline(c, tsc_khz));
  return a.v;
}

char **vm_virtiofsd_argv(const char *rootfs)
{
  struct argv a = {0};
  static const char *const fixed[] = {VM_VIRTIOFSD,        "-o", "cache=auto", "-o",
                                      "sandbox=namespace", NULL};
  pushv(&a, fixed);
  /* The listening socket is made by the session (fd VM_CTL_FD here):
   * with --socket-path virtiofsd locks a pid file named after the path,
   * /run/virtiofsd/vfs.sock.pid for every container, and a second VM on
   * the host failed with "Cannot lock pid file". */
  push(&a, xasprintf("--fd=%d", VM_CTL_FD));
  push(&a, xstrdup("-o"));
  push(&a, xasprintf("source=%s", rootfs));
  return a.v;
}

void vm_argv_free(char **argv)
{
  for (size_t i = 0; argv && argv[i]; i++)
    free(argv[i]);
  free(argv);
}
