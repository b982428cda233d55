/* CVE-2019-5736: a process in the container that can open /proc/PID/exe of
 * berth's process joining it would reach berth's binary on the host, and
 * could rewrite it once berth exits. Before entering any container, berth
 * re-executes itself from a read-only place: a private read-only bind of
 * its own binary (open_tree + mount_setattr, no copy: the page cache is
 * shared), or where that is unavailable a sealed memfd copy. /proc/PID/exe
 * then names a file nothing can open for writing (EROFS / sealed). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/cleanup.h"
#include "runtime.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

static bool sealed(int fd)
{
  int s = fcntl(fd, F_GET_SEALS);
  return s >= 0 && (s & SEALS) == SEALS;
}

static int memfd_copy(int src)
{
  struct stat st;
  if (fstat(src, &st) < 0)
    return -1;
  /* MFD_EXEC: kernels with vm.memfd_noexec may otherwise make it noexec. */
  int fd = memfd_create("berth", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL)
    fd = memfd_create("berth", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    return -1;
  off_t off = 0;
  while (off < st.st_size) {
    ssize_t n = sendfile(fd, src, &off, (size_t)(st.st_size - off));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      close(fd);
      return -1;
    }
  }
  if (fcntl(fd, F_ADD_SEALS, SEALS) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* A detached read-only bind mount of the binary itself. */
static int ro_bind_of(int self)
{
  int tree = open_tree(self, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
  if (tree < 0)
    return -1;
  struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
  if (mount_setattr(tree, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0) {
    close(tree);
    return -1;
  }
  return tree;
}

int runtime_self_protect(char **argv, char **envp, struct berth_err **err)
{
  if (getenv("BERTH_UNSAFE_NO_SELF_CLONE"))
    return 0;
  cleanup_close int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0)
    return berth_err_sys(err, "open /proc/self/exe");
  struct statvfs sv;
  /* Already unwritable: re-executed, or installed on a read-only mount. */
  if (sealed(self) || (fstatvfs(self, &sv) == 0 && (sv.f_flag & ST_RDONLY)))
    return 0;
  cleanup_close int ro = ro_bind_of(self);
  if (ro >= 0) {
    syscall(SYS_execveat, ro, "", argv, envp, AT_EMPTY_PATH);
    /* fall back to the copy */
  }
  cleanup_close int copy = memfd_copy(self);
  if (copy < 0)
    return berth_err_sys(err, "copy berth into a sealed memfd");
  syscall(SYS_execveat, copy, "", argv, envp, AT_EMPTY_PATH);
  return berth_err_sys(err, "re-execute berth from a sealed memfd");
}
