/* Fault injection for tests/reliability: named points of the container
 * recipe where a test build (compiled with -DBERTH_TEST_HOOKS: berth-test
 * and berth-asan, never the installed berth) can be made to die.
 *
 *   BERTH_TEST_KILL_AT=PHASE[#N]   the Nth time (default 1st) PHASE is reached
 *
 * In the runtime's own process the point raises SIGKILL. In a process it
 * cloned (the container init, exec's helper), which cannot signal the
 * runtime across a pid namespace, the point creates the file named by
 * BERTH_TEST_MARK and blocks there: the test kills the runtime once the
 * file exists, and the process is left stuck where the phase put it.
 * Where that path is not reachable (past setns into the container's mount
 * namespace), the process is named TEST_POINT_STOPPED for the test to find.
 * PHASE is "create:cgroup", "child:mounts", "write:state.json", ... (see
 * the calls). Elsewhere TEST_POINT compiles to nothing. */
#ifndef BERTH_TESTHOOK_H
#define BERTH_TESTHOOK_H

#define TEST_POINT_STOPPED "test-point-stop"

#ifdef BERTH_TEST_HOOKS
void test_point(const char *phase, const char *detail);
#define TEST_POINT(phase) test_point(phase, NULL)
#define TEST_POINT2(phase, detail) test_point(phase, detail)
#else
#define TEST_POINT(phase) ((void)0)
#define TEST_POINT2(phase, detail) ((void)(detail))
#endif
/* The same inside a chain of `a() < 0 || b() < 0 ||` steps: never fails. */
#define TEST_POINT_STEP(phase) (TEST_POINT(phase), 0)

#endif
