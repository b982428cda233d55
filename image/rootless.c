/* Images for an ordinary user (rootless): where the store goes, and
 * whether this process has the privileges a layer cache of overlay lower
 * directories needs (0:0 whiteout devices, trusted.overlay.* xattrs,
 * chown to the image's owners). Without them, pull keeps the blobs and
 * each layer's diff_id only, and bundle create always copies, unpacking
 * with UNPACK_ROOTLESS (see unpack.c). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

bool image_rootless(void)
{
  return geteuid() != 0;
}

int image_root_default(char *buf, size_t n, struct berth_err **err)
{
  if (!image_rootless())
    return snprintf(buf, n, "%s", IMAGE_ROOT_DEFAULT) < (int)n ? 0 : -1;
  const char *data = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
  int k;
  if (data != NULL && data[0] == '/')
    k = snprintf(buf, n, "%s/berth", data);
  else if (home != NULL && home[0] == '/')
    k = snprintf(buf, n, "%s/.local/share/berth", home);
  else
    return berth_err_set(err, 0, "no image root: set HOME or XDG_DATA_HOME, or give --image-root");
  return k < (int)n ? 0 : berth_err_set(err, 0, "image root: HOME or XDG_DATA_HOME too long");
}
