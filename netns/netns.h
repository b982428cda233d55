/* Container networking. Functions are named by where they run: *_in_child
 * runs inside the container's new network namespace. */
#ifndef BERTH_NETNS_H
#define BERTH_NETNS_H

#include "../common/err.h"

/* Brings the loopback interface up, as every OCI runtime does for a new
 * network namespace. */
int netns_loopback_up_in_child(struct berth_err **err);

#endif
