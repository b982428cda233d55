/* Guest PID 1, first steps: the initramfs's own /dev, /proc, /sys and
 * cgroup2, the kernel modules (virtio-mmio, console, virtiofs: modules in
 * Debian's cloud kernel), the control channel. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../../common/cleanup.h"
#include "../../common/fileutil.h"
#include "guest.h"

uint64_t guest_boottime_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int guest_mount_basics(struct berth_err **err)
{
  static const struct {
    const char *src, *dst, *type;
    unsigned long flags;
  } m[] = {
      {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID},
      {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC},
      {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC},
      /* Pure v2: no v1 hierarchy is mounted, so every controller is here. */
      {"cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC},
  };
  for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
    mkdir(m[i].dst, 0755);
    if (mount(m[i].src, m[i].dst, m[i].type, m[i].flags, NULL) < 0 && errno != EBUSY)
      return berth_err_sys(err, "mount %s", m[i].dst);
  }
  return 0;
}

/* The kernel gives init /dev/console as stdio only when the initramfs has
 * the node; ours is made by devtmpfs. */
void guest_console_stdio(void)
{
  if (fcntl(1, F_GETFD) >= 0)
    return;
  int fd = open("/dev/console", O_RDWR | O_NOCTTY);
  if (fd < 0)
    return;
  for (int i = 0; i < 3; i++)
    if (fd != i)
      dup2(fd, i);
  if (fd > 2)
    close(fd);
}

static int ko_filter(const struct dirent *de)
{
  size_t n = strlen(de->d_name);
  return n > 3 && strcmp(de->d_name + n - 3, ".ko") == 0;
}

/* The initramfs names them NN-name.ko in dependency order (vm-assets.sh
 * resolved modules.dep), so sorted order is load order. */
int guest_modules_load(const char *dir, struct berth_err **err)
{
  struct dirent **list = NULL;
  int n = scandir(dir, &list, ko_filter, alphasort);
  if (n < 0)
    return berth_err_sys(err, "read %s", dir);
  int ret = 0;
  for (int i = 0; i < n; i++) {
    cleanup_free char *path = xasprintf("%s/%s", dir, list[i]->d_name);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (ret == 0 && (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)))
      ret = berth_err_sys(err, "load module %s", list[i]->d_name);
    free(list[i]);
  }
  free(list);
  return ret;
}

/* /sys/class/virtio-ports/vportNpM/name holds the port's name. */
static int channel_find(char *dev, size_t len)
{
  cleanup_dir DIR *d = opendir("/sys/class/virtio-ports");
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    cleanup_free char *p = xasprintf("/sys/class/virtio-ports/%s/name", de->d_name);
    cleanup_free char *name = NULL;
    struct berth_err *e = NULL;
    if (read_file_at(AT_FDCWD, p, 256, &name, NULL, &e) < 0) {
      berth_err_free(&e);
      continue;
    }
    name[strcspn(name, "\n")] = '\0';
    if (strcmp(name, GUEST_PORT_NAME) == 0) {
      snprintf(dev, len, "/dev/%s", de->d_name);
      return 0;
    }
  }
  return -1;
}

/* The port appears once the host side has told the driver about it,
 * which may be after the module loaded. */
int guest_channel_open(int timeout_ms, struct berth_err **err)
{
  char dev[300];
  for (int waited = 0;; waited += 5) {
    if (channel_find(dev, sizeof(dev)) == 0) {
      int fd = open(dev, O_RDWR | O_CLOEXEC);
      if (fd >= 0)
        return fd;
    }
    if (waited >= timeout_ms)
      return berth_err_set(err, ENODEV, "no virtio port named %s", GUEST_PORT_NAME);
    usleep(5000);
  }
}

_Noreturn void guest_poweroff(void)
{
  sync();
  reboot(RB_POWER_OFF);
  for (;;)
    pause();
}
