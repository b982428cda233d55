/* The pod sandbox's process for tests/clients/cri.bats: what a pause image
 * holds. It sleeps, reaps the children re-parented to it (it is PID 1 of the
 * pod's PID namespace when the pod shares one), and exits 0 on SIGTERM or
 * SIGINT. Built static at test time (tests/clients/cri/cri_env.bash). */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig)
{
  (void)sig;
  _exit(0);
}

static void on_child(int sig)
{
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void)
{
  struct sigaction stop = {.sa_handler = on_stop};
  struct sigaction child = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP};

  if (sigaction(SIGTERM, &stop, NULL) < 0 || sigaction(SIGINT, &stop, NULL) < 0 ||
      sigaction(SIGCHLD, &child, NULL) < 0)
    return 1;
  for (;;)
    pause();
}
