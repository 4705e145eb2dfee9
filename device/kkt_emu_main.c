/*
** device/kkt_emu_main.c: kassa-kkt-emu, a Shtrih-M register for tests.
**
**   kassa-kkt-emu --port N [--fn-db PATH] [--fn-number NUMBER] [--password P]
**   kassa-kkt-emu --pty    [--fn-db PATH] ...
**
** Listens on 127.0.0.1:N (N 0: a free port) and plays a register with the
** FN emulator at PATH inside (created, unregistered, when the file does
** not exist; default ./kkt-emu-fn.db). Prints "listening on PORT" (or
** "pty PATH") on stdout once it can be reached, then serves one connection
** at a time, as a register does. The FN's clock is the system's, or
** KASSA_FAKE_NOW (fn_emu.h). Exit 0 on SIGTERM/SIGINT, 1 on a start-up
** failure with the reason on stderr, 2 on a usage error.
*/
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device/kkt_emu.h"
#include "fiscal/crypto.h"
#include "fiscal/fn_emu.h"

static volatile sig_atomic_t stopping;
static void on_signal(int sig)
{
  (void)sig;
  stopping = 1;
}

static int usage(void)
{
  fprintf(stderr, "usage: kassa-kkt-emu (--port N | --pty) [--fn-db PATH] [--fn-number NUMBER] "
                  "[--password P]\n");
  return 2;
}

/* Serves a pseudo-terminal's master until a signal: the host opens the
** slave as serial:PATH. A closed slave reads as EIO: wait and go on. */
static int serve_pty(kkt_emu_t *emu)
{
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
    perror("kassa-kkt-emu: pty");
    return 1;
  }
  printf("pty %s\n", ptsname(master));
  fflush(stdout);
  while (!stopping) {
    (void)kkt_emu_serve_fd(emu, master);
    usleep(50000);
  }
  close(master);
  return 0;
}

static int serve_tcp(kkt_emu_t *emu, long port)
{
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof addr;
  if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(s, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s, 4) != 0 ||
      getsockname(s, (struct sockaddr *)&addr, &alen) != 0) {
    fprintf(stderr, "kassa-kkt-emu: cannot listen on port %ld: %s\n", port, strerror(errno));
    if (s >= 0) close(s);
    return 1;
  }
  printf("listening on %u\n", ntohs(addr.sin_port));
  fflush(stdout);
  while (!stopping) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue; /* EINTR from a signal: the loop checks stopping */
    (void)kkt_emu_serve_fd(emu, c);
    close(c);
  }
  close(s);
  return 0;
}

int main(int argc, char **argv)
{
  static const struct option options[] = {{"port", required_argument, NULL, 'p'},
                                          {"pty", no_argument, NULL, 't'},
                                          {"fn-db", required_argument, NULL, 'f'},
                                          {"fn-number", required_argument, NULL, 'n'},
                                          {"password", required_argument, NULL, 'w'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
  const char *db = "kkt-emu-fn.db", *number = "9999078900012345";
  long port = -1, password = 30;
  int opt, use_pty = 0;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    char *end = NULL;
    switch (opt) {
    case 'p':
      port = strtol(optarg, &end, 10);
      if (*end || port < 0 || port > 65535) return usage();
      break;
    case 't':
      use_pty = 1;
      break;
    case 'f':
      db = optarg;
      break;
    case 'n':
      number = optarg;
      break;
    case 'w':
      password = strtol(optarg, &end, 10);
      if (*end || password <= 0 || password > 0x7FFFFFFFL) return usage();
      break;
    default:
      return usage();
    }
  }
  if (optind != argc || (port < 0) == !use_pty) return usage();

  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  int rc = crypto_init();
  if (rc != 0) {
    fprintf(stderr, "kassa-kkt-emu: %s\n", crypto_error_message(rc));
    return 1;
  }
  struct stat sb;
  if (stat(db, &sb) != 0 && (rc = fn_emu_create(db, number)) != 0) {
    fprintf(stderr, "kassa-kkt-emu: cannot create the FN %s: %s\n", db, fn_err_message(rc, false));
    return 1;
  }
  fn_t *fn = NULL;
  if ((rc = fn_emu_open(db, NULL, &fn)) != 0) {
    fprintf(stderr, "kassa-kkt-emu: cannot open the FN %s: %s\n", db, fn_err_message(rc, false));
    return 1;
  }
  kkt_emu_options_t eo = {.password = (uint32_t)password};
  kkt_emu_t *emu = NULL;
  if (kkt_emu_new(fn, &eo, &emu) != 0) {
    fn_free(fn);
    return 1;
  }
  rc = use_pty ? serve_pty(emu) : serve_tcp(emu, port);
  kkt_emu_free(emu);
  fn_free(fn);
  return rc;
}
