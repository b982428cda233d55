/* Unit tests of netns/ (ipam). */
#include "check.h"

void ipam_unit_tests(void)
{
}
