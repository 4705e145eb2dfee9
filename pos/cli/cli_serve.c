/*
** cli_serve.c: `kassa serve [--http-port N] [--lm-port N]`, the till as a
** service (pos/serve/service.h) until SIGTERM or SIGINT.
**
** The ports default to [service] http_port and lm_port of the config; 0
** asks the kernel for a free port, and the line printed when the service is
** ready names the ports actually bound, so a test or a supervisor waits for
** that line and reads them from it:
**
**   kassa serve: listening on 127.0.0.1:8780 (api) and 127.0.0.1:5995 (local module)
**
** Signals are taken synchronously (sigwait) by the main thread, blocked in
** the service's threads, so a SIGTERM never interrupts a request: the
** service drains and closes the till, then the program exits 0.
**
** The pages (pos/serve/web) are served on the API port from [paths] web: the
** cashier screen at /, the manager screen at /manager. When that folder
** has no index.html the service still starts (the API is what front ends
** need) and says so once on stderr.
**
** Under systemd (Type=notify, dist/systemd/kassa.service) the service
** says READY=1 once both ports listen and STOPPING=1 when a signal
** arrives (sd_notify, libsystemd; nothing happens without NOTIFY_SOCKET,
** or in a build without libsystemd).
**
** Test clock: when KASSA_FAKE_NOW is set (fiscal/fn_emu.h: the FN
** emulator's test clock, FFD seconds), the till's own clock (cache
** staleness, basket times, reqTimestamp) follows the FN's, so one variable
** moves the whole till through days in a test.
*/
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef KASSA_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#else
static int sd_notify(int unset, const char *state)
{
  (void)unset, (void)state;
  return 0;
}
#endif

#include "fiscal/fn_emu.h"
#include "pos/cli/cli.h"
#include "pos/serve/service.h"

static const char serve_usage[] =
    "usage: kassa serve [--http-port N] [--lm-port N] [--store URL] [--insecure-no-token]\n"
    "\n"
    "Runs the till as a service on 127.0.0.1 until SIGTERM or SIGINT:\n"
    "  --http-port N  the HTTP JSON API (default [service] http_port, 8780)\n"
    "  --lm-port N    the local-module compatible endpoints (default [service] lm_port, 5995)\n"
    "  --store URL    the store node the lane claims and publishes through ([store] url)\n"
    "0 picks a free port; the line printed when ready names the ports bound.\n"
    "Without [till] api_token the service refuses to start: --insecure-no-token\n"
    "starts it anyway (loopback only, as always), with a warning.\n"
    "The pages: http://127.0.0.1:PORT/ (cashier) and /manager, from [paths] web.\n"
    "The API is described in docs/API.md; security in docs/OPERATIONS.md.\n";

static int parse_port(const char *s, uint16_t *out)
{
  unsigned long v;
  if (!cli_number(s, 0, 65535, &v)) return -1;
  *out = (uint16_t)v;
  return 0;
}

/* The FN emulator's clock (FFD: local time written as UTC) as epoch ms. */
static int64_t fn_clock_ms(void *user)
{
  struct tm tm;
  time_t now = time(NULL);
  (void)user;
  long offset = localtime_r(&now, &tm) ? tm.tm_gmtoff : 0;
  return ((int64_t)fn_emu_system_clock(NULL) - offset) * 1000;
}

/* The demo's secrets (config/kassa.conf, which the package replaces on
** install): anyone who read the README knows them. */
#define DEMO_TOKEN "kassa-demo-token"
#define DEMO_PIN   "2468"
#define TOKEN_MIN  16 /* characters a token should have at least */

/*
** Secure defaults (issue 18): no token means no authentication, so the
** service refuses to start without one unless told --insecure-no-token;
** the demo's token or PIN, or a short token, start with a loud warning on
** stderr (the journal). 0 to go on, or 2 after the refusal.
*/
static int check_secrets(const kassa_config_t *cfg, bool insecure)
{
  if (!cfg->api_token[0] && !insecure) {
    fprintf(stderr,
            "kassa serve: нет [till] api_token: любая программа на этой машине управляла бы "
            "кассой. Задайте токен (openssl rand -hex 16) или запустите с --insecure-no-token. / "
            "no [till] api_token: every program on this machine could drive the till. Set one "
            "(openssl rand -hex 16) or start with --insecure-no-token.\n");
    return 2;
  }
  if (!cfg->api_token[0])
    fprintf(stderr, "kassa serve: ВНИМАНИЕ: API без токена (--insecure-no-token) / WARNING: the "
                    "API has no token (--insecure-no-token)\n");
  else if (!strcmp(cfg->api_token, DEMO_TOKEN))
    fprintf(stderr,
            "kassa serve: ВНИМАНИЕ: токен API из демо (%s) известен всем: замените "
            "[till] api_token / WARNING: the API token is the demo's, known to everyone: "
            "replace [till] api_token\n",
            DEMO_TOKEN);
  else if (strlen(cfg->api_token) < TOKEN_MIN)
    fprintf(stderr,
            "kassa serve: ВНИМАНИЕ: токен API короче %d символов / WARNING: the API token "
            "is shorter than %d characters\n",
            TOKEN_MIN, TOKEN_MIN);
  if (!strcmp(cfg->manager_pin, DEMO_PIN))
    fprintf(stderr, "kassa serve: ВНИМАНИЕ: PIN менеджера из демо: замените [till] manager_pin / "
                    "WARNING: the manager PIN is the demo's: replace [till] manager_pin\n");
  return 0;
}

int cli_serve(const kassa_config_t *cfg, int argc, char **argv)
{
  service_options_t o = {
      .config = cfg, .http_port = cfg->http_port, .lm_port = cfg->lm_port, .log = stderr};
  char err[1024];
  sigset_t stop;
  int sig = 0;
  service_t *s = NULL;

  const char *http = NULL, *lm = NULL, *store = NULL;
  bool help = false, insecure = false;
  const cli_option_t options[] = {{"http-port", 0, &http, NULL},
                                  {"lm-port", 0, &lm, NULL},
                                  {"store", 0, &store, NULL},
                                  {"help", 'h', NULL, &help},
                                  {"insecure-no-token", 0, NULL, &insecure}};
  int at;
  int rc = cli_read_options(argc, argv, options, sizeof options / sizeof options[0], &at);
  if (help) {
    fputs(serve_usage, stdout);
    return 0;
  }
  const char *bad = rc != CLI_OPTIONS_OK                     ? argv[at]
                    : http && parse_port(http, &o.http_port) ? http
                    : lm && parse_port(lm, &o.lm_port)       ? lm
                                                             : NULL;
  if (bad) {
    fprintf(stderr, "kassa serve: bad option or value: %s\n\n%s", bad, serve_usage);
    return 2;
  }
  if (at < argc) {
    fprintf(stderr, "kassa serve: unexpected argument: %s\n\n%s", argv[at], serve_usage);
    return 2;
  }
  if (o.http_port != 0 && o.http_port == o.lm_port) {
    fprintf(stderr, "kassa serve: the API and the local module need two ports, not %u twice\n",
            o.http_port);
    return 2;
  }
  if (check_secrets(cfg, insecure) != 0) return 2;
  /* --store URL: [store] url for this run (the lane joins a store node). */
  static kassa_config_t with_store;
  if (store) {
    with_store = *cfg;
    if (strlen(store) >= sizeof with_store.store_url) {
      fprintf(stderr, "kassa serve: --store URL too long\n");
      return 2;
    }
    snprintf(with_store.store_url, sizeof with_store.store_url, "%s", store);
    o.config = &with_store;
  }
  const char *fake = getenv("KASSA_FAKE_NOW");
  if (fake && *fake) o.clock = fn_clock_ms;

  /* Blocked here, before the service's threads exist, so they inherit the
  ** mask and only sigwait below ever sees the signals. */
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (service_start(&o, &s, err, sizeof err) != 0) {
    fprintf(stderr, "kassa serve: %s\n", err);
    return 1;
  }
  char index[KASSA_PATH_MAX + 16];
  snprintf(index, sizeof index, "%s/index.html", cfg->web_dir);
  if (!cfg->web_dir[0] || access(index, R_OK) != 0)
    fprintf(stderr,
            "kassa serve: нет страниц в «%s» ([paths] web): / и /manager ответят 404 / no pages "
            "in '%s' ([paths] web): / and /manager answer 404\n",
            cfg->web_dir, cfg->web_dir);
  printf("kassa serve: listening on 127.0.0.1:%u (api) and 127.0.0.1:%u (local module)\n",
         service_http_port(s), service_lm_port(s));
  fflush(stdout);
  char ready[160];
  snprintf(ready, sizeof ready,
           "READY=1\nSTATUS=listening on 127.0.0.1:%u (api), %u (local module)",
           service_http_port(s), service_lm_port(s));
  sd_notify(0, ready);
  while (sigwait(&stop, &sig) != 0) {}
  sd_notify(0, "STOPPING=1");
  fprintf(stderr, "kassa serve: %s: finishing the request in flight, closing the till\n",
          sig == SIGINT ? "SIGINT" : "SIGTERM");
  service_stop(s);
  return 0;
}
