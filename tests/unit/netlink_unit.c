/* Unit tests of netns/ (netlink). */
#include "check.h"

void netlink_unit_tests(void)
{
}
