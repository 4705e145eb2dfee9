/*
** cli_batch.c: the remote shop's batch of sale notifications.
**
**   kassa batch status [--json]        what waits, the three-day deadline, hours left
**   kassa batch export --out FILE [--json]
**                                      write every notification without a ticket to
**                                      FILE (signed by the FN), then mark them exported
**   kassa batch upload FILE [--url URL] [--json]
**                                      send a batch file to the operator; its tickets
**                                      clear the notifications in the FN
**
** A shop without a link sells marked goods all the same; the law wants its
** sales reported to the marking operator at least every three days. The FN
** keeps every sale notification until a ticket clears it (ofd/outbox.h);
** `export` puts them on a medium and stops the three-day clock, `upload`
** delivers a file when a link exists. The file format is docs/BATCH.md.
**
** Order matters in export: the file is written and synced first, the FN's
** mark moves after, so a crash between the two leaves a file that the next
** export repeats (harmless: the operator applies each notification once),
** never a mark without its file.
**
** The deadline follows the [outbox] policy; the upload goes to --url or
** http://[operator] host:[operator] http_port/api/v4/true-api/batch/upload
** (https:// is verified against [ofd] ca_file when set). Exit status: 0
** done (also "nothing to export"), 1 refused or failed with the reason in
** Russian and English, 2 usage.
*/
#include "fiscal/fn.h"
#include "ofd/batch.h"
#include "ofd/outbox.h"
#include "pos/cli/cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOUR 3600u

static const char batch_usage[] =
    "usage: kassa batch status [--json]\n"
    "       kassa batch export --out FILE [--json]\n"
    "       kassa batch upload FILE [--url URL] [--json]\n"
    "\n"
    "Remote shops (no link to the operators): sale notifications in batches.\n"
    "  status   notifications waiting, the oldest not yet exported, the three-day\n"
    "           deadline and the hours left ([outbox] settings of the config)\n"
    "  export   write every notification without a ticket to FILE, signed by the\n"
    "           FN (docs/BATCH.md), then mark them exported: the deadline clears\n"
    "  upload   send a batch file to the marking operator; the tickets it answers\n"
    "           with clear the notifications in the FN\n"
    "--url defaults to http://[operator] host:http_port" BATCH_UPLOAD_PATH ".\n";

/* Prints a JSON object on stdout and frees it. */
static void print_json(json_t *j)
{
  char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  if (text) printf("%s\n", text);
  free(text);
  json_decref(j);
}

/* The reason for a failed batch call, on stderr, in both languages. */
static int refused(const char *what, int rc, const batch_info_t *info, const char *detail)
{
  fprintf(stderr, "kassa batch %s: %s\n  %s\n  %s\n", what, batch_err_name(rc),
          batch_err_message(rc, true), batch_err_message(rc, false));
  if (detail && detail[0]) fprintf(stderr, "  %s\n", detail);
  if (rc == BATCH_ERR_FN && info && info->fn_error)
    fprintf(stderr, "  %s: %s\n  %s\n", fn_err_name(info->fn_error),
            fn_err_message(info->fn_error, true), fn_err_message(info->fn_error, false));
  return 1;
}

static void format_time(uint32_t t, char *out, size_t size)
{
  time_t tt = (time_t)t;
  struct tm tm;
  /* FFD time is local time written as if UTC: print it as UTC. */
  if (t == 0 || !gmtime_r(&tt, &tm) || strftime(out, size, "%Y-%m-%d %H:%M", &tm) == 0)
    snprintf(out, size, "-");
}

/* Parses "--json" and "--out FILE" style options (--out, --url and FILE
** only where out, url, file are not NULL); 2 on a usage error. */
static int options(const char *cmd, int argc, char **argv, bool *json, const char **out,
                   const char **url, const char **file)
{
  cli_option_t all[3] = {{"json", 0, NULL, json}};
  size_t n = 1;
  int at;
  if (out) all[n++] = (cli_option_t){"out", 0, out, NULL};
  if (url) all[n++] = (cli_option_t){"url", 0, url, NULL};
  int rc = cli_read_options(argc, argv, all, n, &at);
  const char *empty = out && *out && !**out ? "--out" : url && *url && !**url ? "--url" : NULL;
  if (rc == CLI_OPTION_NO_VALUE || (rc == CLI_OPTIONS_OK && empty)) {
    fprintf(stderr, "kassa batch %s: %s needs a value\n\n%s", cmd,
            rc == CLI_OPTIONS_OK ? empty : argv[at], batch_usage);
    return 2;
  }
  if (rc == CLI_OPTIONS_OK && file && at < argc) *file = argv[at++];
  if (rc != CLI_OPTIONS_OK || at < argc) {
    fprintf(stderr, "kassa batch %s: unknown option or extra argument: %s\n\n%s", cmd, argv[at],
            batch_usage);
    return 2;
  }
  return 0;
}

/* ---- kassa batch status ------------------------------------------------ */

static int status_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  bool json = false;
  int rc = options("status", argc, argv, &json, NULL, NULL, NULL);
  if (rc) return rc;
  fn_t *fn = NULL;
  if (cli_delivery_open_fn(cfg, &fn)) return 1;
  outbox_policy_t policy;
  outbox_status_t s;
  kassa_config_outbox_policy(cfg, &policy);
  rc = outbox_status(fn, 0, &policy, &s);
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
  bool clock_runs = s.unexported_notifications > 0 && (s.autonomous || policy.batch_applies_online);
  uint32_t deadline = clock_runs ? s.first_unexported_time + policy.batch_refuse_hours * HOUR : 0;
  uint32_t warn_at = clock_runs ? s.first_unexported_time + policy.batch_warn_hours * HOUR : 0;
  if (json) {
    json_t *w = json_array();
    for (size_t i = 0; w && i < nwarn; i++) json_array_append_new(w, json_string(warnings[i]));
    json_t *j = json_pack(
        "{s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:I,s:I,s:I,s:f,s:I,s:I,s:b,s:b}", "fnNumber",
        s.fn_number, "autonomous", s.autonomous, "now", (json_int_t)s.now, "waitingNotifications",
        (json_int_t)s.unsent_notifications, "unexportedNotifications",
        (json_int_t)s.unexported_notifications, "firstUnexportedNumber",
        (json_int_t)s.first_unexported_number, "firstUnexportedTime",
        (json_int_t)s.first_unexported_time, "oldestUnexportedAge",
        (json_int_t)s.oldest_unexported_age, "exportedThrough", (json_int_t)s.exported_through,
        "exportedAt", (json_int_t)s.exported_at, "level", outbox_level_name(s.batch_level),
        "warnAt", (json_int_t)warn_at, "deadline", (json_int_t)deadline, "secondsLeft",
        (json_int_t)s.batch_seconds_left, "hoursLeft", (double)s.batch_seconds_left / HOUR,
        "warnHours", (json_int_t)policy.batch_warn_hours, "refuseHours",
        (json_int_t)policy.batch_refuse_hours, "refusesMarked", policy.batch_refuses_marked,
        "maySellMarked", may_sell);
    if (j) {
      json_object_set_new(j, "reason", may_sell ? json_null() : json_string(reason));
      json_object_set_new(j, "warnings", w ? w : json_array());
    } else {
      json_decref(w);
    }
    print_json(j);
    return j ? 0 : 1;
  }
  char when[32], age[32];
  printf("FN %s%s\n", s.fn_number, s.autonomous ? " (autonomous: batches)" : "");
  printf("sale notifications waiting for a ticket / ждут квитанции: %u\n", s.unsent_notifications);
  printf("not exported yet / ещё не выгружены: %u", s.unexported_notifications);
  if (s.unexported_notifications) {
    format_time(s.first_unexported_time, when, sizeof when);
    snprintf(age, sizeof age, "%u h %u min", s.oldest_unexported_age / HOUR,
             s.oldest_unexported_age % HOUR / 60u);
    printf(" (oldest #%u of %s, %s ago)", s.first_unexported_number, when, age);
  }
  printf("\n");
  if (s.exported_through) {
    format_time(s.exported_at, when, sizeof when);
    printf("last export / последняя выгрузка: through #%u at %s\n", s.exported_through, when);
  }
  if (deadline) {
    format_time(deadline, when, sizeof when);
    if (s.batch_seconds_left)
      printf("deadline / срок: %s (%u h %u min left / осталось)\n", when,
             s.batch_seconds_left / HOUR, s.batch_seconds_left % HOUR / 60u);
    else
      printf("deadline / срок: %s (passed / прошёл)\n", when);
  } else {
    printf("deadline / срок: none / нет\n");
  }
  printf("state: %s\n", outbox_level_name(s.batch_level));
  for (size_t i = 0; i < nwarn; i++) printf("! %s\n", warnings[i]);
  if (!may_sell) printf("marked sales refused / продажа маркированных товаров запрещена\n");
  return 0;
}

/* ---- kassa batch export ------------------------------------------------ */

static int export_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  bool json = false;
  const char *out = NULL;
  int rc = options("export", argc, argv, &json, &out, NULL, NULL);
  if (rc) return rc;
  if (!out) {
    fprintf(stderr, "kassa batch export: where to? --out FILE\n\n%s", batch_usage);
    return 2;
  }
  fn_t *fn = NULL;
  if (cli_delivery_open_fn(cfg, &fn)) return 1;
  batch_info_t info;
  char detail[512] = "";
  rc = batch_export(fn, out, &info, detail, sizeof detail);
  fn_free(fn);
  if (rc == BATCH_ERR_EMPTY) {
    if (json)
      print_json(json_pack("{s:b,s:i,s:n}", "exported", 0, "count", 0, "file"));
    else
      printf("nothing to export: no sale notification waits / выгружать нечего: все уведомления "
             "переданы\n");
    return 0;
  }
  if (rc != 0) return refused("export", rc, &info, detail);
  if (json) {
    print_json(json_pack("{s:b,s:s,s:I,s:I,s:I,s:I,s:I}", "exported", 1, "file", out, "count",
                         (json_int_t)info.count, "codes", (json_int_t)info.codes, "from",
                         (json_int_t)info.from, "through", (json_int_t)info.through, "createdAt",
                         (json_int_t)info.created_at));
  } else {
    printf("exported %zu sale notifications (#%u..#%u, %zu codes) to %s\n"
           "выгружено уведомлений: %zu; срок трёх дней снят до следующей продажи\n",
           info.count, info.from, info.through, info.codes, out, info.count);
  }
  return 0;
}

/* ---- kassa batch upload ------------------------------------------------ */

static int upload_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  bool json = false;
  const char *url = NULL, *file = NULL;
  char default_url[512], detail[768] = "";
  int rc = options("upload", argc, argv, &json, NULL, &url, &file);
  if (rc) return rc;
  if (!file) {
    fprintf(stderr, "kassa batch upload: which file?\n\n%s", batch_usage);
    return 2;
  }
  if (!url) {
    char base[300];
    kassa_config_operator_url(cfg, base, sizeof base);
    snprintf(default_url, sizeof default_url, "%s%s", base, BATCH_UPLOAD_PATH);
    url = default_url;
  }
  if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
    fprintf(stderr, "kassa batch upload: --url must be http:// or https://, not '%s'\n", url);
    return 2;
  }
  char *text = NULL;
  size_t len = 0;
  batch_info_t info;
  memset(&info, 0, sizeof info);
  if ((rc = batch_read_file(file, &text, &len, detail, sizeof detail)) != 0)
    return refused("upload", rc, &info, detail);
  fn_t *fn = NULL;
  if (cli_delivery_open_fn(cfg, &fn)) {
    free(text);
    return 1;
  }
  batch_upload_options_t o = {url, cfg->ofd_ca_file[0] ? cfg->ofd_ca_file : NULL, 0};
  rc = batch_upload(fn, text, len, &o, &info, detail, sizeof detail);
  free(text);
  fn_free(fn);
  if (rc != 0) return refused("upload", rc, &info, detail);
  if (json) {
    print_json(json_pack("{s:b,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "uploaded", 1, "url", url, "count",
                         (json_int_t)info.count, "applied", (json_int_t)info.applied, "repeated",
                         (json_int_t)info.repeated, "tickets", (json_int_t)info.tickets, "rejected",
                         (json_int_t)info.rejected, "codes", (json_int_t)info.codes));
  } else {
    printf("uploaded %zu sale notifications (#%u..#%u) to %s: %zu applied now, %zu already "
           "known; %zu tickets cleared in the FN\n"
           "пакет передан: квитанций %zu\n",
           info.count, info.from, info.through, url, info.applied, info.repeated, info.tickets,
           info.tickets);
    if (info.rejected)
      printf("! %zu notifications were ticketed as bad by the OISM (2111 = 1): check the codes "
             "sold.\n  ОИСМ отклонил %zu уведомлений: проверьте проданные коды.\n",
             info.rejected, info.rejected);
  }
  return 0;
}

int cli_batch(const kassa_config_t *cfg, int argc, char **argv)
{
  if (argc >= 2 && !strcmp(argv[1], "status")) return status_cmd(cfg, argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "export")) return export_cmd(cfg, argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "upload")) return upload_cmd(cfg, argc - 1, argv + 1);
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
    fputs(batch_usage, stdout);
    return 0;
  }
  fprintf(stderr, "kassa batch: %s\n\n%s", argc < 2 ? "which subcommand?" : "unknown subcommand",
          batch_usage);
  return 2;
}
