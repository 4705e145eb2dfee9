/*
** cli_ofd.c: what the till owes the operators, and sending it.
**
**   kassa ofd status [--json]      unsent documents and notifications, their
**                                  age, the 30-day and 3-day deadlines
**   kassa ofd flush [--ofd HOST:PORT] [--oism HOST:PORT] [--retries N]
**                   [--window N]   deliver documents to the OFD, then sale
**                                  notifications to the OISM, N in flight
**                                  at a time (ofd/client.h: the window)
**   kassa ofd keys [--keys HOST:PORT]
**                                  fetch verification keys into the FN
**
** The FN is the queue (ofd/outbox.h): these commands read it and empty it,
** they keep nothing of their own, so running flush twice, or killing it in
** the middle, never loses or doubles a document. Addresses default to the
** [operator] host and ports of the configuration; with [ofd] tls = yes the
** links are TLS, the server's certificate checked against [ofd] ca_file.
** The deadlines follow the [outbox] policy of the configuration. Exit status: 0
** when nothing is owed any more (flush) or the status was printed; 1 with
** the reason, in Russian and English, when something stays owed; 2 for a
** usage error.
*/
#include "device/fn_shtrih.h"
#include "fiscal/crypto.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "ofd/client.h"
#include "ofd/outbox.h"
#include "pos/cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* TLS for every link of one command, when the configuration asks for it. */
typedef struct links {
  ofd_tls_t *tls;       /* NULL: plain TCP */
  const char *data_dir; /* why a write failed (cli_disk_why) */
} links_t;

static const char ofd_usage[] =
    "usage: kassa ofd status [--json]\n"
    "       kassa ofd flush [--ofd HOST:PORT] [--oism HOST:PORT] [--retries N]\n"
    "                       [--window N]\n"
    "       kassa ofd keys [--keys HOST:PORT]\n"
    "\n"
    "What this till owes the fiscal data operator (OFD) and the marking operator\n"
    "(OISM), read from the fiscal storage (FN), and delivering it.\n"
    "  status   unsent documents and sale notifications, the oldest one's age,\n"
    "           the FN's 30-day limit and the remote shops' 3-day batch\n"
    "  flush    send documents to the OFD, then notifications to the OISM;\n"
    "           exit 0 when nothing is owed any more\n"
    "  keys     load fresh verification keys from the key server into the FN\n"
    "Addresses default to the [operator] host and ports of the config; [ofd] tls\n"
    "and ca_file make the links TLS. Deadlines follow the [outbox] settings.\n"
    "--retries N (default 2): attempts after a network failure, with backoff.\n"
    "--window N (1..256, default 64): messages sent before their answers are\n"
    "           read; each window costs one disk flush on each side.\n";

/* ---- helpers ----------------------------------------------------------- */

/* `[fn] backend = shtrih:...`: the register instead of DATA/fn.db. */
static int open_register(const kassa_config_t *cfg, const char *spec, fn_t **fn)
{
  char err[1024];
  int rc = fn_shtrih_open(spec, cfg->fn_password, NULL, fn, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "kassa: %s\n", err);
    return 1;
  }
  return 0;
}

int cli_delivery_open_fn(const kassa_config_t *cfg, fn_t **fn)
{
  char path[KASSA_PATH_MAX + 16], spec[300];
  int kind = fn_shtrih_backend_spec(cfg->fn_backend, spec, sizeof spec);
  if (kind < 0) {
    fprintf(stderr,
            "kassa: [fn] backend = %s: не emulator и не shtrih:tcp:ХОСТ:ПОРТ / "
            "shtrih:serial:ПОРТ / neither emulator nor shtrih:tcp:HOST:PORT / "
            "shtrih:serial:PORT\n",
            cfg->fn_backend);
    return 1;
  }
  if (kind == 1) return open_register(cfg, spec, fn);
  snprintf(path, sizeof path, "%.*s/fn.db", KASSA_PATH_MAX, cfg->data_dir);
  int rc = crypto_init();
  if (rc != 0) {
    fprintf(stderr, "kassa: %s\n", crypto_error_message(rc));
    return 1;
  }
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr,
            "kassa: no fiscal storage in %s (run `kassa fn init` first)\n"
            "  Фискальный накопитель не найден: сначала выполните `kassa fn init`.\n",
            cfg->data_dir);
    return 1;
  }
  rc = fn_emu_open(path, NULL, fn);
  if (rc != 0) {
    fprintf(stderr, "kassa: cannot open the fiscal storage: %s\n  %s\n  %s\n", fn_err_name(rc),
            fn_err_message(rc, true), fn_err_message(rc, false));
    return 1;
  }
  return 0;
}

/* HOST:PORT (the last colon splits, so "[::1]:7790" style is not needed
** for loopback names). Returns 0, or -1 for a malformed value. */
static int parse_endpoint(const char *s, char *host, size_t host_size, uint16_t *port)
{
  const char *colon = strrchr(s, ':');
  if (!colon || colon == s || (size_t)(colon - s) >= host_size) return -1;
  unsigned long p;
  if (!cli_number(colon + 1, 1, 65535, &p)) return -1;
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = '\0';
  *port = (uint16_t)p;
  return 0;
}

/* [ofd] tls: one TLS context (the CA file read now) for the command. */
static int links_open(const kassa_config_t *cfg, links_t *l)
{
  char detail[512];
  l->tls = NULL;
  l->data_dir = cfg->data_dir;
  if (!cfg->ofd_tls) return 0;
  ofd_tls_options_t o = {cfg->ofd_ca_file[0] ? cfg->ofd_ca_file : NULL, NULL};
  int rc = ofd_tls_create(&o, &l->tls, detail, sizeof detail);
  if (rc != 0) {
    fprintf(stderr, "kassa: %s\n  %s\n  %s\n", detail[0] ? detail : ofd_err_name(rc),
            ofd_err_message(rc, true), ofd_err_message(rc, false));
    return 1;
  }
  return 0;
}

static void links_close(links_t *l)
{
  ofd_tls_destroy(l->tls);
  l->tls = NULL;
}

/* Why TLS failed, when it did. */
static void tls_why(const links_t *l, int rc)
{
  if (rc == OFD_ERR_TLS && l->tls && ofd_tls_last_error(l->tls)[0])
    fprintf(stderr, "  %s\n", ofd_tls_last_error(l->tls));
}

static void format_age(uint32_t seconds, char *out, size_t size)
{
  if (seconds >= 86400u)
    snprintf(out, size, "%u d %u h", seconds / 86400u, seconds % 86400u / 3600u);
  else if (seconds >= 3600u)
    snprintf(out, size, "%u h %u min", seconds / 3600u, seconds % 3600u / 60u);
  else
    snprintf(out, size, "%u min", seconds / 60u);
}

/* The options of `kassa ofd flush|keys` (cli_read_options), which take no
** operand: 0, or 2 after naming what is wrong (an unknown option, a
** missing value, an operand) with the usage. */
static int read_options(const char *verb, int argc, char **argv, const cli_option_t *options,
                        size_t count)
{
  int at;
  if (cli_read_options(argc, argv, options, count, &at) == CLI_OPTIONS_OK && at >= argc) return 0;
  fprintf(stderr, "kassa ofd %s: unknown option or missing value: %s\n\n%s", verb, argv[at],
          ofd_usage);
  return 2;
}

/* ---- kassa ofd status -------------------------------------------------- */

static int status_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  bool json = false;
  const cli_option_t options[] = {{"json", 0, NULL, &json}};
  if (cli_parse_options("ofd status", ofd_usage, argc, argv, options, 1, NULL)) return 2;
  fn_t *fn = NULL;
  if (cli_delivery_open_fn(cfg, &fn)) return 1;
  outbox_status_t s;
  outbox_policy_t policy;
  kassa_config_outbox_policy(cfg, &policy);
  int rc = outbox_status(fn, 0, &policy, &s);
  fn_free(fn);
  if (rc != 0) {
    fprintf(stderr, "kassa: the fiscal storage did not answer: %s\n  %s\n  %s\n", fn_err_name(rc),
            fn_err_message(rc, true), fn_err_message(rc, false));
    return 1;
  }
  outbox_notice_t why, notices[4];
  char reason[2 * OUTBOX_NOTICE_MAX + 8], warnings[4][2 * OUTBOX_NOTICE_MAX + 8];
  bool may_sell = outbox_may_sell_marked(&s, &policy, &why);
  size_t nwarn = outbox_warnings(&s, &policy, notices, 4);
  outbox_notice_both(&why, reason, sizeof reason);
  for (size_t i = 0; i < nwarn; i++)
    outbox_notice_both(&notices[i], warnings[i], sizeof warnings[i]);
  if (json) {
    json_t *list = json_array();
    for (size_t i = 0; list && i < nwarn; i++)
      json_array_append_new(list, json_string(warnings[i]));
    json_t *j = json_pack(
        "{s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:s,s:s,s:I,s:I,"
        "s:b,s:s?,s:o?}",
        "fnNumber", s.fn_number, "autonomous", s.autonomous, "now", (json_int_t)s.now, "owed",
        (json_int_t)(s.unsent_documents + s.unsent_notifications), "unsentDocuments",
        (json_int_t)s.unsent_documents, "firstUnsentNumber", (json_int_t)s.first_unsent_number,
        "firstUnsentTime", (json_int_t)s.first_unsent_time, "oldestDocumentAge",
        (json_int_t)s.oldest_document_age, "unsentNotifications",
        (json_int_t)s.unsent_notifications, "firstNotificationNumber",
        (json_int_t)s.first_notification_number, "firstNotificationTime",
        (json_int_t)s.first_notification_time, "oldestNotificationAge",
        (json_int_t)s.oldest_notification_age, "unexportedNotifications",
        (json_int_t)s.unexported_notifications, "firstUnexportedNumber",
        (json_int_t)s.first_unexported_number, "firstUnexportedTime",
        (json_int_t)s.first_unexported_time, "oldestUnexportedAge",
        (json_int_t)s.oldest_unexported_age, "exportedThrough", (json_int_t)s.exported_through,
        "documentsLevel", outbox_level_name(s.documents_level), "batchLevel",
        outbox_level_name(s.batch_level), "level", outbox_level_name(s.level),
        "documentsSecondsLeft", (json_int_t)s.documents_seconds_left, "batchSecondsLeft",
        (json_int_t)s.batch_seconds_left, "maySellMarked", may_sell, "reason",
        may_sell ? NULL : reason, "warnings", list);
    if (cli_print_json(j) != 0) return 1;
    return 0;
  }
  char age[32];
  printf("FN %s%s\n", s.fn_number, s.autonomous ? " (autonomous: no OFD)" : "");
  printf("unsent documents / не переданы в ОФД: %u", s.unsent_documents);
  if (s.unsent_documents) {
    format_age(s.oldest_document_age, age, sizeof age);
    printf(" (oldest #%u, %s old)", s.first_unsent_number, age);
  }
  printf("\nunsent sale notifications / уведомления не переданы: %u", s.unsent_notifications);
  if (s.unsent_notifications) {
    format_age(s.oldest_notification_age, age, sizeof age);
    printf(" (oldest #%u, %s old)", s.first_notification_number, age);
  }
  if (s.unsent_notifications > s.unexported_notifications)
    printf("\n  of them exported in a batch / выгружены пакетом: %u",
           s.unsent_notifications - s.unexported_notifications);
  printf("\nstate: %s\n", outbox_level_name(s.level));
  for (size_t i = 0; i < nwarn; i++) printf("! %s\n", warnings[i]);
  if (!may_sell) printf("marked sales refused / продажа маркированных товаров запрещена\n");
  if (s.unsent_documents + s.unsent_notifications == 0) printf("nothing owed / всё передано\n");
  return 0;
}

/* ---- kassa ofd flush --------------------------------------------------- */

typedef struct progress {
  bool tty;
  const char *what;
  bool drawn;
} progress_t;

static void on_progress(void *user, uint32_t done, uint32_t total, uint32_t number)
{
  progress_t *p = user;
  if (!p->tty) {
    printf("%s %u delivered (%u/%u)\n", p->what, number, done, total);
    return;
  }
  char bar[21];
  uint32_t fill = total ? (uint32_t)((uint64_t)done * 20u / total) : 20u;
  for (uint32_t i = 0; i < 20; i++) bar[i] = i < fill ? '#' : ' ';
  bar[20] = '\0';
  printf("\r%s [%s] %u/%u", p->what, bar, done, total);
  fflush(stdout);
  p->drawn = true;
}

static void progress_end(progress_t *p)
{
  if (p->tty && p->drawn) printf("\n");
  p->drawn = false;
}

/* Explain why a run stopped; always returns 1. */
static int explain(const links_t *l, const char *peer, const char *host, uint16_t port,
                   const char *what, int rc, const ofd_delivery_stats_t *st)
{
  fprintf(stderr, "kassa: %s %s:%u: delivery stopped", peer, host, (unsigned)port);
  if (st->stopped_at) fprintf(stderr, " at %s %u", what, st->stopped_at);
  fprintf(stderr, " (%s)", ofd_err_name(rc));
  if (rc == OFD_ERR_REFUSED) fprintf(stderr, ", answer code 1022 = %u", st->answer_code);
  fprintf(stderr, "; %u still owed\n  %s\n  %s\n", st->remaining, ofd_err_message(rc, true),
          ofd_err_message(rc, false));
  tls_why(l, rc);
  if (rc == OFD_ERR_FN && st->fn_error)
    fprintf(stderr, "  %s\n  %s\n", fn_err_message(st->fn_error, true),
            fn_err_message(st->fn_error, false));
  if (rc == OFD_ERR_FN && st->fn_error <= FN_ERR_IO) cli_disk_why(l->data_dir);
  return 1;
}

static int make_client(const links_t *l, const char *host, uint16_t port, frame_profile_t profile,
                       uint32_t window, ofd_client_t **out)
{
  ofd_client_options_t o;
  ofd_client_options_init(&o);
  o.host = host;
  o.port = port;
  o.profile = profile;
  o.window = window;
  ofd_client_options_use_tls(&o, l->tls);
  int rc = ofd_client_create(&o, out);
  if (rc != 0) fprintf(stderr, "kassa: %s\n", ofd_err_message(rc, false));
  return rc;
}

typedef int (*deliver_fn_t)(fn_t *, ofd_client_t *, ofd_progress_t, void *, ofd_delivery_stats_t *);

/* One channel: deliver, retrying network faults `retries` times. */
static int flush_channel(const links_t *l, fn_t *fn, const char *peer, const char *what,
                         const char *host, uint16_t port, frame_profile_t profile,
                         deliver_fn_t deliver, unsigned retries, uint32_t window,
                         uint32_t *delivered, uint32_t *rejected)
{
  ofd_client_t *client = NULL;
  ofd_delivery_stats_t st;
  progress_t pr = {isatty(STDOUT_FILENO) != 0, what, false};
  int rc;
  *delivered = *rejected = 0;
  if (make_client(l, host, port, profile, window, &client) != 0) return 1;
  for (unsigned attempt = 0;; attempt++) {
    rc = deliver(fn, client, on_progress, &pr, &st);
    *delivered += st.delivered;
    *rejected += st.rejected;
    bool network = rc == OFD_ERR_CONNECT || rc == OFD_ERR_TIMEOUT || rc == OFD_ERR_CLOSED ||
                   rc == OFD_ERR_IO || rc == OFD_ERR_PROTOCOL || rc == OFD_ERR_RESOLVE;
    if (rc == 0 || !network || attempt >= retries) break;
    progress_end(&pr);
    fprintf(stderr, "kassa: %s %s:%u: %s; retrying\n", peer, host, (unsigned)port,
            ofd_err_name(rc));
  }
  progress_end(&pr);
  ofd_client_destroy(client);
  if (rc != 0) return explain(l, peer, host, port, what, rc, &st);
  return 0;
}

static int flush_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  char ofd_host[256], oism_host[256];
  snprintf(ofd_host, sizeof ofd_host, "%s", cfg->operator_host);
  snprintf(oism_host, sizeof oism_host, "%s", cfg->operator_host);
  uint16_t ofd_port = cfg->operator_ofd_port, oism_port = cfg->operator_oism_port;
  unsigned retries = 2;
  uint32_t window = 0; /* the client's default */
  const char *ofd = NULL, *oism = NULL, *retries_arg = NULL, *window_arg = NULL;
  const cli_option_t options[] = {
      {"ofd", 0, &ofd, NULL},
      {"oism", 0, &oism, NULL},
      {"retries", 0, &retries_arg, NULL},
      {"window", 0, &window_arg, NULL},
  };
  unsigned long n;
  if (read_options("flush", argc, argv, options, sizeof options / sizeof options[0])) return 2;
  if (ofd && parse_endpoint(ofd, ofd_host, sizeof ofd_host, &ofd_port)) {
    fprintf(stderr, "kassa ofd flush: --ofd wants HOST:PORT, not '%s'\n", ofd);
    return 2;
  }
  if (oism && parse_endpoint(oism, oism_host, sizeof oism_host, &oism_port)) {
    fprintf(stderr, "kassa ofd flush: --oism wants HOST:PORT, not '%s'\n", oism);
    return 2;
  }
  if (retries_arg) {
    if (!cli_number(retries_arg, 0, 20, &n)) {
      fprintf(stderr, "kassa ofd flush: --retries is 0 to 20\n");
      return 2;
    }
    retries = (unsigned)n;
  }
  if (window_arg) {
    if (!cli_number(window_arg, 1, OFD_WINDOW_MAX, &n)) {
      fprintf(stderr, "kassa ofd flush: --window is 1 to %u\n", (unsigned)OFD_WINDOW_MAX);
      return 2;
    }
    window = (uint32_t)n;
  }
  if (ofd_port == 0 || oism_port == 0) {
    fprintf(stderr, "kassa ofd flush: no operator port configured ([operator] in the config)\n");
    return 2;
  }
  fn_t *fn = NULL;
  links_t links;
  if (links_open(cfg, &links)) return 1;
  if (cli_delivery_open_fn(cfg, &fn)) {
    links_close(&links);
    return 1;
  }
  if (fn_capabilities(fn) & FN_CAP_DEVICE_DELIVERS) {
    printf("the cash register delivers its own documents and notifications: nothing for kassa "
           "to send\n  Касса (ККТ) сама передаёт документы в ОФД и уведомления в ОИСМ: "
           "kassa ничего не отправляет.\n");
    fn_free(fn);
    links_close(&links);
    return 0;
  }
  uint32_t docs = 0, notes = 0, rejected = 0, unused = 0;
  /* Both channels run: a dead OFD link must not hold back the OISM batch. */
  int failed = flush_channel(&links, fn, "OFD", "document", ofd_host, ofd_port, FRAME_PROFILE_OFD,
                             ofd_deliver_documents, retries, window, &docs, &unused);
  failed |=
      flush_channel(&links, fn, "OISM", "notification", oism_host, oism_port, FRAME_PROFILE_OISM,
                    ofd_deliver_notifications, retries, window, &notes, &rejected);
  outbox_status_t s;
  outbox_policy_t policy;
  kassa_config_outbox_policy(cfg, &policy);
  int rc = outbox_status(fn, 0, &policy, &s);
  fn_free(fn);
  links_close(&links);
  printf("delivered: %u documents, %u sale notifications\n", docs, notes);
  if (rejected)
    printf("! %u notifications were ticketed as bad by the OISM (2111 = 1): check the codes "
           "sold.\n  ОИСМ отклонил %u уведомлений: проверьте проданные коды.\n",
           rejected, rejected);
  if (rc == 0) {
    printf("still owed: %u documents, %u sale notifications\n", s.unsent_documents,
           s.unsent_notifications);
    if (!failed && s.unsent_documents + s.unsent_notifications > 0) {
      /* New documents arrived while flushing: say so rather than claim all. */
      fprintf(stderr, "kassa: new documents were made during the flush; run it again\n"
                      "  Во время передачи появились новые документы: повторите.\n");
      return 1;
    }
  }
  return failed ? 1 : 0;
}

/* ---- kassa ofd keys ---------------------------------------------------- */

static int keys_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  char host[256];
  uint16_t port = cfg->operator_keys_port;
  snprintf(host, sizeof host, "%s", cfg->operator_host);
  const char *keys = NULL;
  const cli_option_t options[] = {{"keys", 0, &keys, NULL}};
  if (read_options("keys", argc, argv, options, 1)) return 2;
  if (keys && parse_endpoint(keys, host, sizeof host, &port)) {
    fprintf(stderr, "kassa ofd keys: --keys wants HOST:PORT, not '%s'\n", keys);
    return 2;
  }
  fn_t *fn = NULL;
  ofd_client_t *client = NULL;
  links_t links;
  if (links_open(cfg, &links)) return 1;
  if (cli_delivery_open_fn(cfg, &fn)) {
    links_close(&links);
    return 1;
  }
  if (fn_capabilities(fn) & FN_CAP_DEVICE_KEYS) {
    printf("the cash register loads its FN's verification keys itself (when a shift opens)\n"
           "  Касса (ККТ) сама загружает ключи проверки в ФН (при открытии смены).\n");
    fn_free(fn);
    links_close(&links);
    return 0;
  }
  if (make_client(&links, host, port, FRAME_PROFILE_KEYS, 0, &client) != 0) {
    fn_free(fn);
    links_close(&links);
    return 1;
  }
  size_t n = 0;
  int rc = ofd_keys_update(fn, client, &n);
  ofd_client_destroy(client);
  fn_free(fn);
  if (rc != 0) {
    fprintf(stderr, "kassa: key server %s:%u: %s\n  %s\n  %s\n", host, (unsigned)port,
            ofd_err_name(rc), ofd_err_message(rc, true), ofd_err_message(rc, false));
    tls_why(&links, rc);
  }
  links_close(&links);
  if (rc != 0) return 1;
  printf("verification keys loaded: %zu\n", n);
  return 0;
}

int cli_ofd(const kassa_config_t *cfg, int argc, char **argv)
{
  if (argc >= 2 && !strcmp(argv[1], "status")) return status_cmd(cfg, argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "flush")) return flush_cmd(cfg, argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "keys")) return keys_cmd(cfg, argc - 1, argv + 1);
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
    fputs(ofd_usage, stdout);
    return 0;
  }
  fprintf(stderr, "kassa ofd: %s\n\n%s", argc < 2 ? "which subcommand?" : "unknown subcommand",
          ofd_usage);
  return 2;
}
