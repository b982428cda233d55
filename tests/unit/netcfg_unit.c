/* Unit tests of netns/ (netcfg). */
#include "check.h"

void netcfg_unit_tests(void)
{
}
