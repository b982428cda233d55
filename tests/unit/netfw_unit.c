/* Unit tests of netns/ (netfw). */
#include "check.h"

void netfw_unit_tests(void)
{
}
