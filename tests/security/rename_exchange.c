/*
 * rename-exchange: swap two names with renameat2(RENAME_EXCHANGE) in a
 * tight loop until SIGTERM, then print how many exchanges were made.
 *
 *   rename-exchange A B [USEC]
 *
 * Used by tests/security/race.bats to race a runtime's mount-target lookup:
 * A is a directory and B a symlink (or the other way round), and every
 * exchange is atomic, so each name always exists. USEC (default 0) is a
 * pause after each exchange, to leave the runtime some CPU on small
 * machines. Built by the test with the host's cc into the bats run's temp
 * directory.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
  (void)sig;
  stop = 1;
}

int main(int argc, char **argv)
{
  struct sigaction sa;
  unsigned long n = 0;
  useconds_t gap = 0;

  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: rename-exchange A B [USEC]\n");
    return 2;
  }
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  if (argc == 4)
    gap = (useconds_t)strtoul(argv[3], NULL, 10);
  while (!stop) {
    if (renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) < 0) {
      perror("rename-exchange: renameat2");
      return 1;
    }
    n++;
    if (gap)
      usleep(gap);
  }
  printf("%lu\n", n);
  return 0;
}
