/*
** device/emulator/kkt_emu_main.c: kassa-kkt-emu, a Shtrih-M register for
** tests.
**
**   kassa-kkt-emu --port N [--fn-db PATH] [--fn-number NUMBER] [--password P]
**                 [--ofd HOST:PORT] [--oism HOST:PORT] [--keys HOST:PORT]
**                 [--clock-ahead SECONDS]
**   kassa-kkt-emu --pty    [--fn-db PATH] ...
**
** With --ofd and --oism the register has its own links, as a real one
** does (fn.h, FN_CAP_DEVICE_DELIVERS): between commands it delivers its
** FN's documents to the OFD and sale notifications to the OISM (ofd/'s
** client, the same code kassa's outbox runs), and FF61h asks the OISM
** about a code at once; with --keys it loads its FN's verification keys
** from the key server at start and daily. This program is why device/emulator/ is a room of
** its own: it uses ofd/, which device/ itself may not.
**
** Listens on 127.0.0.1:N (N 0: a free port) and plays a register with the
** FN emulator at PATH inside (created, unregistered, when the file does
** not exist; default ./kkt-emu-fn.db), its tables (17, 18) in PATH.tables.
** Prints "listening on PORT" (or
** "pty PATH") on stdout once it can be reached, then serves one connection
** at a time, as a register does. The FN's clock is the system's, or
** KASSA_FAKE_NOW (fn_emu.h), moved --clock-ahead seconds on (`kassa demo
** --kkt` runs its day 15 days ahead). Each time it has loaded keys it
** prints "keys N" on stdout, so whoever started it knows its FN can check
** codes. Exit 0 at once on SIGTERM/SIGINT (a
** register switched off: see on_signal), 1 on a start-up failure with the
** reason on stderr, 2 on a usage error.
*/
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "device/kkt_emu.h"
#include "fiscal/crypto.h"
#include "fiscal/fn_emu.h"
#include "ofd/client.h"

/* SIGTERM/SIGINT: off at once, as a register switched off. Every FN
** document is one committed transaction, and the answer kept for the
** host is in memory as a register's is: nothing is left half done. */
static void on_signal(int sig)
{
  (void)sig;
  _exit(0);
}

/* The register's own links: what idle and oism_check use. */
typedef struct links {
  fn_t *fn;
  ofd_client_t *ofd, *oism, *keys;
  int last_rc;
  time_t keys_at; /* when the keys were last updated, 0 never */
} links_t;

/* A link to try now: there is one and it is not backing off. A link
** backing off is skipped until its time, never waited out here: the
** client would sleep it out (up to OFD_BACKOFF_MAX_MS), and a register
** keeps answering its host while its own links are down. */
static bool link_due(const ofd_client_t *c) { return c && ofd_client_backoff_ms(c) == 0; }

/* Between commands: what the FN owes goes out (each run stops at the
** first fault; the client's backoff keeps a dead link from being hammered). */
static void deliver(void *user)
{
  links_t *l = user;
  int rc = 0;
  /* Keys at once and then daily, as a register keeps its FN's keys fresh. */
  time_t now = time(NULL);
  if (link_due(l->keys) && (l->keys_at == 0 || now - l->keys_at > 24 * 3600)) {
    size_t loaded = 0;
    rc = ofd_keys_update(l->fn, l->keys, &loaded);
    if (rc == 0) {
      l->keys_at = now;
      printf("keys %zu\n", loaded);
      fflush(stdout);
    }
  }
  if (link_due(l->ofd) && rc == 0) rc = ofd_deliver_documents(l->fn, l->ofd, NULL, NULL, NULL);
  if (link_due(l->oism) && rc == 0)
    rc = ofd_deliver_notifications(l->fn, l->oism, NULL, NULL, NULL);
  /* A register's log: each new failure once, not every second. */
  if (rc != 0 && rc != l->last_rc)
    fprintf(stderr, "kassa-kkt-emu: delivery: %s\n", ofd_err_message(rc, false));
  l->last_rc = rc;
}

static int ask_oism(void *user, const fn_km_check_t *check, fn_km_check_t *out)
{
  links_t *l = user;
  return l->oism ? ofd_km_request(l->fn, l->oism, check, 1500, out) : -1;
}

/* HOST:PORT into a client of the profile; 0, or -1 after a message. */
static int open_link(const char *what, const char *endpoint, frame_profile_t profile,
                     ofd_client_t **out)
{
  char host[256];
  const char *colon = strrchr(endpoint, ':');
  char *end = NULL;
  long port = colon ? strtol(colon + 1, &end, 10) : 0;
  if (!colon || colon == endpoint || (size_t)(colon - endpoint) >= sizeof host || *end ||
      port <= 0 || port > 65535) {
    fprintf(stderr, "kassa-kkt-emu: --%s takes HOST:PORT\n", what);
    return -1;
  }
  memcpy(host, endpoint, (size_t)(colon - endpoint));
  host[colon - endpoint] = '\0';
  ofd_client_options_t o;
  ofd_client_options_init(&o);
  o.host = host;
  o.port = (uint16_t)port;
  o.profile = profile;
  if (ofd_client_create(&o, out) != 0) {
    fprintf(stderr, "kassa-kkt-emu: cannot make the %s client\n", what);
    return -1;
  }
  return 0;
}

/* The FN's clock: the system's, `ahead` seconds on. */
static uint32_t clock_ahead(void *user)
{
  return fn_emu_system_clock(NULL) + *(const uint32_t *)user;
}

static int usage(void)
{
  fprintf(stderr, "usage: kassa-kkt-emu (--port N | --pty) [--fn-db PATH] [--fn-number NUMBER] "
                  "[--password P] [--ofd HOST:PORT] [--oism HOST:PORT] [--keys HOST:PORT] "
                  "[--clock-ahead SECONDS]\n");
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
  for (;;) { /* until a signal ends the process */
    (void)kkt_emu_serve_fd(emu, master);
    usleep(50000);
  }
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
  for (;;) {
    struct pollfd p = {.fd = s, .events = POLLIN};
    kkt_emu_idle(emu); /* between connections: the register's own work */
    if (poll(&p, 1, 1000) <= 0) continue;
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    /* The register answers ACK and then its frame, two small writes: with
    ** Nagle on, the frame would wait for the host's delayed ACK (40 ms a
    ** command on Linux loopback). The host's link sets the same. */
    (void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)kkt_emu_serve_fd(emu, c);
    close(c);
  } /* until a signal ends the process */
}

int main(int argc, char **argv)
{
  static const struct option options[] = {{"port", required_argument, NULL, 'p'},
                                          {"pty", no_argument, NULL, 't'},
                                          {"fn-db", required_argument, NULL, 'f'},
                                          {"fn-number", required_argument, NULL, 'n'},
                                          {"password", required_argument, NULL, 'w'},
                                          {"help", no_argument, NULL, 'h'},
                                          {"ofd", required_argument, NULL, 'o'},
                                          {"keys", required_argument, NULL, 'k'},
                                          {"oism", required_argument, NULL, 'i'},
                                          {"clock-ahead", required_argument, NULL, 'a'},
                                          {NULL, 0, NULL, 0}};
  const char *db = "kkt-emu-fn.db", *number = "9999078900012345", *ofd = NULL, *oism = NULL,
             *keys = NULL;
  long port = -1, password = 30;
  static uint32_t ahead = 0;
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
    case 'o':
      ofd = optarg;
      break;
    case 'i':
      oism = optarg;
      break;
    case 'k':
      keys = optarg;
      break;
    case 'a': {
      long v = strtol(optarg, &end, 10);
      if (*end || v < 0 || v > 10L * 365 * 86400) return usage();
      ahead = (uint32_t)v;
      break;
    }
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
  fn_emu_options_t fo = {.clock = clock_ahead, .clock_user = &ahead};
  if ((rc = fn_emu_open(db, &fo, &fn)) != 0) {
    fprintf(stderr, "kassa-kkt-emu: cannot open the FN %s: %s\n", db, fn_err_message(rc, false));
    return 1;
  }
  links_t links = {.fn = fn};
  if ((ofd && open_link("ofd", ofd, FRAME_PROFILE_OFD, &links.ofd) != 0) ||
      (oism && open_link("oism", oism, FRAME_PROFILE_OISM, &links.oism) != 0) ||
      (keys && open_link("keys", keys, FRAME_PROFILE_KEYS, &links.keys) != 0)) {
    ofd_client_destroy(links.ofd);
    ofd_client_destroy(links.oism);
    fn_free(fn);
    return 2;
  }
  char tables[4096]; /* its tables 17/18 beside its FN (kkt_emu.h) */
  snprintf(tables, sizeof tables, "%.4000s.tables", db);
  kkt_emu_options_t eo = {.password = (uint32_t)password, .user = &links, .tables_path = tables};
  if (ofd || oism || keys) eo.idle = deliver;
  if (oism) eo.oism_check = ask_oism;
  kkt_emu_t *emu = NULL;
  if (kkt_emu_new(fn, &eo, &emu) != 0) {
    ofd_client_destroy(links.ofd);
    ofd_client_destroy(links.oism);
    ofd_client_destroy(links.keys);
    fn_free(fn);
    return 1;
  }
  rc = use_pty ? serve_pty(emu) : serve_tcp(emu, port);
  kkt_emu_free(emu);
  ofd_client_destroy(links.ofd);
  ofd_client_destroy(links.oism);
  ofd_client_destroy(links.keys);
  fn_free(fn);
  return rc;
}
