/* User, groups and capabilities: the last privileged step of the init
 * before it reports ready (and of an exec'd process before execve).
 * Child, inside the container after pivot_root, still uid 0 with all caps. */
#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "linux.h"

static int caps_drop_bounding(uint64_t keep, int last, struct berth_err **err)
{
  for (int c = 0; c <= last; c++) {
    if (keep & (UINT64_C(1) << c))
      continue;
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      return berth_err_sys(err, "drop capability %d from the bounding set", c);
  }
  return 0;
}

static int caps_set_proc(const uint64_t sets[CAP_SET_COUNT], int last, struct berth_err **err)
{
  cap_t caps = cap_init();
  if (caps == NULL)
    return berth_err_sys(err, "cap_init");
  static const struct {
    int set;
    cap_flag_t flag;
  } map[] = {{CAP_SET_EFFECTIVE, CAP_EFFECTIVE},
             {CAP_SET_PERMITTED, CAP_PERMITTED},
             {CAP_SET_INHERITABLE, CAP_INHERITABLE}};
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
    for (int c = 0; c <= last; c++) {
      if (!(sets[map[i].set] & (UINT64_C(1) << c)))
        continue;
      cap_value_t v = c;
      cap_set_flag(caps, map[i].flag, 1, &v, CAP_SET);
    }
  int r = cap_set_proc(caps);
  cap_free(caps);
  if (r < 0)
    return berth_err_sys(err, "set capabilities");
  return 0;
}

static int caps_raise_ambient(uint64_t ambient, int last, struct berth_err **err)
{
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return berth_err_sys(err, "clear ambient capabilities");
  for (int c = 0; c <= last; c++) {
    if (!(ambient & (UINT64_C(1) << c)))
      continue;
    /* The kernel only raises what is both permitted and inheritable. runc's
     * own default spec lists ambient caps without inheritable ones and runc
     * skips them; so do we, rather than widen inheritable (CVE-2022-29162). */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EPERM)
      return berth_err_sys(err, "raise ambient capability %d", c);
  }
  return 0;
}

static int user_switch(const struct spec *s, struct berth_err **err)
{
  /* In a user namespace whose setgroups is denied (rootless), an empty
   * list is what the process has anyway. */
  if (setgroups(s->n_additional_gids, s->additional_gids) < 0 &&
      !(errno == EPERM && s->n_additional_gids == 0))
    return berth_err_sys(err, "setgroups");
  if (setresgid(s->gid, s->gid, s->gid) < 0)
    return berth_err_sys(err, "setgid %u", s->gid);
  if (setresuid(s->uid, s->uid, s->uid) < 0)
    return berth_err_sys(err, "setuid %u", s->uid);
  return 0;
}

int caps_first_unknown(const uint64_t sets[CAP_SET_COUNT], int last)
{
  uint64_t known = last >= 63 ? UINT64_MAX : (UINT64_C(1) << (last + 1)) - 1;
  for (int set = 0; set < CAP_SET_COUNT; set++)
    if (sets[set] & ~known)
      return __builtin_ctzll(sets[set] & ~known);
  return -1;
}

/* A capability libcap can name but this kernel lacks would otherwise be
 * left out silently (runc warns and drops it): refuse it instead. */
static int caps_check_known(const struct spec *s, int last, struct berth_err **err)
{
  int c = caps_first_unknown(s->caps, last);
  if (c < 0)
    return 0;
  char *name = cap_to_name(c);
  berth_err_set(err, 0, "process.capabilities: %s is not known to this kernel (cap_last_cap is %d)",
                name ? name : "?", last);
  cap_free(name);
  return -1;
}

/* keep_admin: CAP_SYS_ADMIN stays effective (and permitted) for loading
 * the seccomp filter afterwards without no_new_privs; execve drops it. */
int user_and_caps_apply(const struct spec *s, bool keep_admin, struct berth_err **err)
{
  int last = (int)cap_max_bits() - 1;
  if (s->has_caps && caps_check_known(s, last, err) < 0)
    return -1;
  if (s->has_caps && caps_drop_bounding(s->caps[CAP_SET_BOUNDING], last, err) < 0)
    return -1;
  bool set_caps = s->has_caps || keep_admin;
  /* Keep the permitted set across setuid; effective is recomputed below. */
  if (set_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return berth_err_sys(err, "keep capabilities");
  if (user_switch(s, err) < 0)
    return -1;
  if (!set_caps)
    return 0;
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    return berth_err_sys(err, "reset keepcaps");
  uint64_t sets[CAP_SET_COUNT];
  for (int i = 0; i < CAP_SET_COUNT; i++)
    sets[i] = s->has_caps ? s->caps[i] : 0;
  if (!s->has_caps && s->uid == 0)
    sets[CAP_SET_EFFECTIVE] = sets[CAP_SET_PERMITTED] = ~UINT64_C(0); /* root keeps all */
  if (keep_admin) {
    sets[CAP_SET_EFFECTIVE] |= UINT64_C(1) << CAP_SYS_ADMIN;
    sets[CAP_SET_PERMITTED] |= UINT64_C(1) << CAP_SYS_ADMIN;
  }
  /* Inheritable stays empty unless asked (CVE-2022-29162). */
  if (caps_set_proc(sets, last, err) < 0)
    return -1;
  return caps_raise_ambient(sets[CAP_SET_AMBIENT], last, err);
}
