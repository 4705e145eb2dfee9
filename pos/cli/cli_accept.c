/*
** cli_accept.c: `kassa accept`, goods acceptance on the command line.
**
**   kassa accept (--utd FILE | --list FILE) --scanned FILE
**                [--all | --part | --reject] [--json]
**
** A manager (or a script of the back office) gives the supplier's transfer
** document and the codes scanned from the boxes; kassa compares them and,
** when told, accepts all, accepts the matched part or rejects the delivery.
** Without a decision it only compares and changes nothing, so the report
** can be read before anything is decided. Accepted codes go into the code
** cache's stock (DATA/cache.db) in one transaction; the rest of the work
** is pos/till/accept.c, which the HTTP API uses the same way.
*/
#include "pos/cli/cli.h"
#include "pos/till/accept.h"
#include "pos/till/cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char accept_usage[] =
    "usage: kassa accept (--utd FILE | --list FILE) --scanned FILE\n"
    "                    [--all | --part | --reject] [--json]\n"
    "\n"
    "Goods acceptance: compare the codes of a supplier's transfer document with\n"
    "the codes scanned from the delivery, then decide.\n"
    "  --utd FILE      the UTD (УПД) XML in the FNS format (ON_NSCHFDOPPR_…, any\n"
    "                  encoding its XML declaration names, usually windows-1251):\n"
    "                  codes from КИЗ, packages from НомУпак\n"
    "  --list FILE     or a plain list: one code per line, # comments, \\x1d for GS\n"
    "  --scanned FILE  the codes scanned from the delivery, one per line (same format)\n"
    "  --all           accept everything; refused unless nothing is missing, extra,\n"
    "                  invalid, packaged, duplicated in the document or in conflict\n"
    "                  with the code cache (sold, remarked, blocked)\n"
    "  --part          accept the matched codes only; the rest is reported\n"
    "  --reject        reject the delivery: nothing becomes stock\n"
    "                  (no decision: compare only, nothing changes)\n"
    "  --json          print the report as JSON instead of text\n"
    "\n"
    "Package codes (SSCC 00…, group packages) cannot be expanded offline: they are\n"
    "reported as needing disaggregation and never become stock.\n"
    "\n"
    "Exit status: 0 accepted, rejected, or compared with no difference; 1 refused,\n"
    "a difference found, or a file or the cache failed; 2 usage error.\n";

static int usage_error(const char *what)
{
  fprintf(stderr, "kassa accept: %s\n\n%s", what, accept_usage);
  return 2;
}

/* A load error, as text on stderr or as JSON on stdout. Returns 1. */
static int load_failed(const char *path, const accept_error_t *e, bool json)
{
  if (json) {
    json_t *o = json_object();
    json_object_set_new(o, "ok", json_false());
    json_object_set_new(o, "error", json_string(accept_err_name(e->code)));
    json_object_set_new(o, "file", json_string(path));
    json_object_set_new(o, "line", json_integer(e->line));
    json_object_set_new(o, "message", json_string(e->message_ru));
    json_object_set_new(o, "message_en", json_string(e->message_en));
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s) puts(s);
    free(s);
    json_decref(o);
  } else {
    fprintf(stderr, "kassa accept: %s\n  %s\n", e->message_ru, e->message_en);
  }
  return 1;
}

static int print_report(const accept_report_t *r, bool json)
{
  if (json) {
    json_t *o = accept_report_to_json(r);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (s == NULL) {
      fprintf(stderr, "kassa accept: out of memory\n");
      return -1;
    }
    puts(s);
    free(s);
    return 0;
  }
  char *ru = accept_report_text(r, true, 0), *en = accept_report_text(r, false, 0);
  if (ru == NULL || en == NULL) {
    free(ru);
    free(en);
    fprintf(stderr, "kassa accept: out of memory\n");
    return -1;
  }
  printf("%s\n%s", ru, en);
  free(ru);
  free(en);
  return 0;
}

int cli_accept(const kassa_config_t *cfg, int argc, char **argv)
{
  const char *utd = NULL, *list = NULL, *scanned = NULL;
  accept_decision_t decision = ACCEPT_DECIDE_NONE;
  bool json = false;
  accept_doc_t *document = NULL, *delivery = NULL;
  accept_report_t *report = NULL;
  cache_t *cache = NULL;
  accept_error_t e;
  int status = 1, rc;

  bool help = false, all = false, part = false, reject = false;
  enum { HELP, UTD, LIST, SCANNED, ALL, PART, REJECT, JSON, OPTIONS };
  const cli_option_t options[OPTIONS] = {
      [HELP] = {"help", 'h', NULL, &help},     [UTD] = {"utd", 0, &utd, NULL},
      [LIST] = {"list", 0, &list, NULL},       [SCANNED] = {"scanned", 0, &scanned, NULL},
      [ALL] = {"all", 0, NULL, &all},          [PART] = {"part", 0, NULL, &part},
      [REJECT] = {"reject", 0, NULL, &reject}, [JSON] = {"json", 0, NULL, &json},
  };
  unsigned given[OPTIONS];
  int at;
  int read = cli_count_options(argc, argv, options, OPTIONS, &at, given);
  if (help) {
    fputs(accept_usage, stdout);
    return 0;
  }
  if (given[UTD] > 1 || given[LIST] > 1 || given[SCANNED] > 1)
    return usage_error("a file option is given twice");
  if (given[ALL] + given[PART] + given[REJECT] > 1)
    return usage_error("give one of --all, --part, --reject");
  if (read == CLI_OPTION_NO_VALUE) return usage_error("an option needs a file");
  if (read != CLI_OPTIONS_OK || at < argc) {
    fprintf(stderr, "kassa accept: unknown argument '%s'\n\n%s", argv[at], accept_usage);
    return 2;
  }
  decision = all      ? ACCEPT_DECIDE_ALL
             : part   ? ACCEPT_DECIDE_PART
             : reject ? ACCEPT_DECIDE_REJECT
                      : ACCEPT_DECIDE_NONE;
  if ((utd == NULL) == (list == NULL)) return usage_error("give exactly one of --utd, --list");
  if (scanned == NULL) return usage_error("--scanned FILE is required");

  const char *doc_path = utd ? utd : list;
  rc = utd ? accept_doc_load_utd(utd, &document, &e) : accept_doc_load_list(list, &document, &e);
  if (rc != ACCEPT_OK) {
    status = load_failed(doc_path, &e, json);
    goto done;
  }
  rc = accept_doc_load_list(scanned, &delivery, &e);
  if (rc != ACCEPT_OK) {
    status = load_failed(scanned, &e, json);
    goto done;
  }
  rc = accept_compare(document, delivery, &report);
  if (rc == ACCEPT_ERR_NO_CODES) {
    e.code = rc;
    e.line = 0;
    snprintf(e.message_ru, sizeof e.message_ru,
             "%s: в документе нет ни одного кода маркировки (КИЗ или НомУпак); принимать нечего.",
             doc_path);
    snprintf(e.message_en, sizeof e.message_en,
             "%s: the document lists no marking code (КИЗ or НомУпак); nothing to accept.",
             doc_path);
    status = load_failed(doc_path, &e, json);
    goto done;
  }
  if (rc != ACCEPT_OK) {
    fprintf(stderr, "kassa accept: %s\n", accept_err_message(rc, false));
    goto done;
  }

  if (decision == ACCEPT_DECIDE_ALL || decision == ACCEPT_DECIDE_PART) {
    char path[KASSA_PATH_MAX + 16];
    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
      fprintf(stderr,
              "kassa accept: cannot create the data directory %s: %s\n"
              "  Не удалось создать каталог данных %s.\n",
              cfg->data_dir, strerror(errno), cfg->data_dir);
      goto done;
    }
    snprintf(path, sizeof path, "%.*s/cache.db", KASSA_PATH_MAX, cfg->data_dir);
    if (cache_open(path, &cache) != CACHE_OK) {
      fprintf(stderr,
              "kassa accept: cannot open the code cache %s\n"
              "  Не удалось открыть базу кодов %s.\n",
              path, path);
      goto done;
    }
  }
  if (decision != ACCEPT_DECIDE_NONE) {
    rc = accept_decide(report, cache, decision);
    if (rc != ACCEPT_OK && rc != ACCEPT_ERR_REFUSED && rc != ACCEPT_ERR_CACHE) {
      fprintf(stderr, "kassa accept: %s\n", accept_err_message(rc, false));
      goto done;
    }
  }
  if (print_report(report, json) != 0) goto done;
  if (report->outcome == ACCEPT_OUTCOME_COMPARED)
    status = report->missing.count || report->extra.count || report->invalid.count ||
                     report->packages.count
                 ? 1
                 : 0;
  else
    status = report->outcome == ACCEPT_OUTCOME_REFUSED ? 1 : 0;
done:
  accept_report_free(report);
  accept_doc_free(document);
  accept_doc_free(delivery);
  cache_close(cache);
  return status;
}
