/*
** cli_fiscal.c: the fiscal storage on the command line.
**
**   kassa fn init [--fn-number N]        create the FN emulator in the data dir
**   kassa fn register --reg-number … --inn … --name … --address … [...]
**   kassa fn status [--json]
**   kassa shift open|close [--cashier NAME]
**   kassa fd list [--from N] [--limit N]
**   kassa fd show N [--json]             one document with FNS JSON names
**   kassa fd dump N                      its TLV, tag by tag, in hex
**
** Managers and integrators use these to set up a till and to look into the
** archive. Every refusal names the FN rule and its code (0x16 "shift over
** 24 hours"), in Russian and English, and changes nothing.
*/
#include "fiscal/crypto.h"
#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "fiscal/tlv.h"
#include "pos/cli/cli.h"
#include "pos/till/fiscal_text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char fn_usage[] =
    "usage: kassa fn init [--fn-number NNNNNNNNNNNNNNNN]\n"
    "       kassa fn register --reg-number RNM --inn INN --name NAME --address ADDRESS\n"
    "                         [--place PLACE] [--cashier NAME] [--tax-systems MASK]\n"
    "                         [--ofd-inn INN --ofd-name NAME | --autonomous] [--no-marking]\n"
    "                         [--kkt-serial SERIAL] [--re]\n"
    "       kassa fn status [--json]\n"
    "\n"
    "The fiscal storage (FN) of this till: the emulator, kept in DATA/fn.db.\n"
    "  init       create a new, unregistered FN (the data directory is created 0700)\n"
    "  register   registration report (document 1); --re: re-registration (11)\n"
    "  status     phase, counters, open shift, unsent documents and their age\n"
    "\n"
    "Tax systems (1062) are a bit mask: 1 OSN, 2 USN income, 4 USN income-expense,\n"
    "16 ESKhN, 32 patent. --autonomous registers without an OFD (remote shops).\n";

static const char shift_usage[] =
    "usage: kassa shift open|close [--cashier NAME]\n"
    "\n"
    "Open or close the shift (documents 2 and 5). A shift may last 24 hours; the\n"
    "FN refuses receipts after that (error 0x16) until the shift is closed.\n";

static const char fd_usage[] =
    "usage: kassa fd list [--from N] [--limit N]\n"
    "       kassa fd show N [--json]\n"
    "       kassa fd dump N\n"
    "\n"
    "Fiscal documents in the FN archive: list them, show one with the FNS JSON\n"
    "names, or dump its TLV tag by tag.\n";

/* ---- shared helpers ---------------------------------------------------- */

static void fn_path(const kassa_config_t *cfg, char *out, size_t size)
{
  snprintf(out, size, "%.*s/fn.db", (int)(size - 8), cfg->data_dir);
}

/* Print an FN refusal the way a manager can act on it; returns 1. */
static int refused(const char *what, int err)
{
  int code = fn_err_device_code(err);
  fprintf(stderr, "kassa: %s refused by the fiscal storage: error 0x%02X (%s)\n  %s\n  %s\n", what,
          (unsigned)code, fn_err_name(err), fn_err_message(err, true), fn_err_message(err, false));
  return 1;
}

static int parse_u32(const char *s, uint32_t *out)
{
  unsigned long v;
  if (!cli_number(s, 0, UINT32_MAX, &v)) return -1;
  *out = (uint32_t)v;
  return 0;
}

static int all_digits(const char *s, size_t min, size_t max)
{
  size_t n = strlen(s);
  if (n < min || n > max) return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

/* INN check digits (10 digits for an organisation, 12 for a person). */
static int inn_valid(const char *inn)
{
  static const int w10[] = {2, 4, 10, 3, 5, 9, 4, 6, 8};
  static const int w11[] = {7, 2, 4, 10, 3, 5, 9, 4, 6, 8};
  static const int w12[] = {3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8};
  size_t n = strlen(inn);
  if (!all_digits(inn, 10, 12) || n == 11) return 0;
  int d[12];
  for (size_t i = 0; i < n; i++) d[i] = inn[i] - '0';
  int s = 0;
  if (n == 10) {
    for (int i = 0; i < 9; i++) s += w10[i] * d[i];
    return s % 11 % 10 == d[9];
  }
  for (int i = 0; i < 10; i++) s += w11[i] * d[i];
  if (s % 11 % 10 != d[10]) return 0;
  s = 0;
  for (int i = 0; i < 11; i++) s += w12[i] * d[i];
  return s % 11 % 10 == d[11];
}

static const char *doc_type_name(uint16_t type)
{
  switch (type) {
  case DOC_REGISTRATION:
    return "registration";
  case DOC_SHIFT_OPEN:
    return "shift open";
  case DOC_RECEIPT:
    return "receipt";
  case DOC_SHIFT_CLOSE:
    return "shift close";
  case DOC_FN_CLOSE:
    return "FN close";
  case DOC_REREGISTRATION:
    return "re-registration";
  case DOC_STATE_REPORT:
    return "state report";
  case DOC_CORRECTION:
    return "correction";
  default:
    return "document";
  }
}

static void format_time(uint32_t t, char *out, size_t size)
{
  /* FFD time is local time written as if UTC: print it as UTC. */
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm);
}

static void print_result(const char *what, const fn_doc_result_t *r)
{
  char when[32];
  format_time(r->time, when, sizeof when);
  printf("%s: document %u, %s, FP %010u", what, r->number, when, r->fiscal_sign);
  if (r->shift_number) printf(", shift %u", r->shift_number);
  printf("\n");
}

/* ---- kassa fn ---------------------------------------------------------- */

static int fn_init(const kassa_config_t *cfg, int argc, char **argv)
{
  const char *given = NULL;
  const cli_option_t options[] = {{"fn-number", 0, &given, NULL}};
  char number[17] = "";
  if (cli_parse_options("fn init", fn_usage, argc, argv, options, 1, NULL)) return 2;
  if (given) {
    if (!all_digits(given, 16, 16)) {
      fprintf(stderr, "kassa: the FN number must be 16 digits, not '%s'\n", given);
      return 2;
    }
    snprintf(number, sizeof number, "%s", given);
  }
  if (!number[0]) {
    /* An emulator number: 9999 (not a real series) and 12 digits of time. */
    snprintf(number, sizeof number, "9999%012llu",
             (unsigned long long)time(NULL) % 1000000000000ULL);
  }
  if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
    fprintf(stderr, "kassa: cannot create the data directory %s: %s\n", cfg->data_dir,
            strerror(errno));
    return 1;
  }
  int rc = crypto_init();
  if (rc != 0) {
    fprintf(stderr, "kassa: %s\n", crypto_error_message(rc));
    return 1;
  }
  char path[KASSA_PATH_MAX + 16];
  fn_path(cfg, path, sizeof path);
  rc = fn_emu_create(path, number);
  if (rc != 0) {
    if (rc == FN_ERR_STATE)
      fprintf(stderr, "kassa: %s already holds a fiscal storage; it is never overwritten\n", path);
    else
      refused("creating the FN", rc);
    return 1;
  }
  printf("fiscal storage %s created in %s (not registered yet: `kassa fn register`)\n", number,
         path);
  return 0;
}

static int fn_register_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  fn_registration_t r;
  memset(&r, 0, sizeof r);
  r.reg.ffd_version = 4;
  r.reg.marking = true;
  r.reg.tax_systems = 1;
  bool re = false, autonomous = false;
  struct {
    const char *flag;
    char *dst;
    size_t size;
    const char *value; /* as given, until checked and copied to dst */
  } text[] = {
      {"--reg-number", r.header.kkt_reg_number, sizeof r.header.kkt_reg_number, NULL},
      {"--inn", r.header.user_inn, sizeof r.header.user_inn, NULL},
      {"--name", r.header.user_name, sizeof r.header.user_name, NULL},
      {"--address", r.header.address, sizeof r.header.address, NULL},
      {"--place", r.header.place, sizeof r.header.place, NULL},
      {"--cashier", r.header.cashier, sizeof r.header.cashier, NULL},
      {"--ofd-inn", r.reg.ofd_inn, sizeof r.reg.ofd_inn, NULL},
      {"--ofd-name", r.reg.ofd_name, sizeof r.reg.ofd_name, NULL},
      {"--kkt-serial", r.reg.kkt_serial, sizeof r.reg.kkt_serial, NULL},
  };
  const size_t ntext = sizeof text / sizeof text[0];
  const char *tax = NULL;
  bool no_marking = false;
  cli_option_t options[sizeof text / sizeof text[0] + 4] = {
      [sizeof text / sizeof text[0]] = {"tax-systems", 0, &tax, NULL},
      {"autonomous", 0, NULL, &autonomous},
      {"no-marking", 0, NULL, &no_marking},
      {"re", 0, NULL, &re},
  };
  for (size_t k = 0; k < ntext; k++)
    options[k] = (cli_option_t){text[k].flag + 2, 0, &text[k].value, NULL};
  if (cli_parse_options("fn register", fn_usage, argc, argv, options,
                        sizeof options / sizeof options[0], NULL))
    return 2;
  for (size_t k = 0; k < ntext; k++) {
    if (!text[k].value) continue;
    if (strlen(text[k].value) >= text[k].size) {
      fprintf(stderr, "kassa: %s is longer than %zu characters\n", text[k].flag, text[k].size - 1);
      return 2;
    }
    snprintf(text[k].dst, text[k].size, "%s", text[k].value);
  }
  if (tax) {
    uint32_t m;
    if (parse_u32(tax, &m) || m == 0 || m > 63) {
      fprintf(stderr, "kassa: --tax-systems is a mask from 1 to 63\n");
      return 2;
    }
    r.reg.tax_systems = (uint8_t)m;
  }
  if (no_marking) r.reg.marking = false;
  const char *missing = !r.header.kkt_reg_number[0] ? "--reg-number"
                        : !r.header.user_inn[0]     ? "--inn"
                        : !r.header.user_name[0]    ? "--name"
                        : !r.header.address[0]      ? "--address"
                                                    : NULL;
  if (missing) {
    fprintf(stderr, "kassa fn register: %s is required\n\n%s", missing, fn_usage);
    return 2;
  }
  if (!all_digits(r.header.kkt_reg_number, 1, 20)) {
    fprintf(stderr, "kassa: the registration number (RNM) is up to 20 digits\n");
    return 2;
  }
  if (!inn_valid(r.header.user_inn)) {
    fprintf(stderr,
            "kassa: INN %s is not valid (10 or 12 digits with their check digits)\n"
            "  ИНН %s неверен: проверьте цифры.\n",
            r.header.user_inn, r.header.user_inn);
    return 2;
  }
  if (autonomous && r.reg.ofd_inn[0]) {
    fprintf(stderr, "kassa: an autonomous till has no OFD: drop --ofd-inn or --autonomous\n");
    return 2;
  }
  if (!autonomous && !inn_valid(r.reg.ofd_inn)) {
    fprintf(stderr, "kassa: give the OFD's INN (--ofd-inn) or register --autonomous\n");
    return 2;
  }
  r.header.autonomous = autonomous;
  /* «Ромашка» and dashes have no CP866 form: fold them, as on every document. */
  fiscal_text_fold(r.header.user_name);
  fiscal_text_fold(r.header.address);
  fiscal_text_fold(r.header.place);
  fiscal_text_fold(r.header.cashier);
  fiscal_text_fold(r.reg.ofd_name);
  if (!r.reg.kkt_serial[0]) snprintf(r.reg.kkt_serial, sizeof r.reg.kkt_serial, "%s", "KASSA0001");
  fn_t *fn = NULL;
  if (cli_delivery_open_fn(cfg, &fn)) return 1;
  fn_doc_result_t res;
  int rc = fn_register(fn, &r, re, &res);
  fn_free(fn);
  if (rc != 0) return refused(re ? "re-registration" : "registration", rc);
  print_result(re ? "re-registration" : "registration", &res);
  return 0;
}

static int fn_status_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  bool json = false;
  const cli_option_t options[] = {{"json", 0, NULL, &json}};
  if (cli_parse_options("fn status", fn_usage, argc, argv, options, 1, NULL)) return 2;
  fn_t *fn = NULL;
  if (cli_delivery_open_fn(cfg, &fn)) return 1;
  fn_status_t s;
  int rc = fn_status(fn, &s);
  fn_free(fn);
  if (rc != 0) return refused("status", rc);
  const char *phase = s.phase == FN_PHASE_READY    ? "ready (not registered)"
                      : s.phase == FN_PHASE_FISCAL ? "fiscal"
                                                   : "closed (archive only)";
  uint32_t unsent_age =
      s.unsent_documents && s.now > s.first_unsent_time ? (s.now - s.first_unsent_time) / 3600 : 0;
  if (json) {
    printf("{\"fnNumber\":\"%s\",\"phase\":%d,\"kktRegId\":\"%s\",\"autonomous\":%s,"
           "\"marking\":%s,\"lastDocument\":%u,\"shiftOpen\":%s,\"shiftNumber\":%u,"
           "\"shiftOpenedAt\":%u,\"receiptsInShift\":%u,\"unsentDocuments\":%u,"
           "\"firstUnsentNumber\":%u,\"firstUnsentTime\":%u,\"unsentNotifications\":%u,"
           "\"keysUpdatedAt\":%u,\"checkedKm\":%u,\"now\":%u}\n",
           s.fn_number, (int)s.phase, s.kkt_reg_number, s.autonomous ? "true" : "false",
           s.marking ? "true" : "false", s.last_document, s.shift_open ? "true" : "false",
           s.shift_number, s.shift_opened_at, s.receipts_in_shift, s.unsent_documents,
           s.first_unsent_number, s.first_unsent_time, s.unsent_notifications, s.keys_updated_at,
           s.checked_km, s.now);
    return 0;
  }
  printf("FN %s: %s%s\n", s.fn_number, phase, s.autonomous ? ", autonomous" : "");
  if (s.kkt_reg_number[0]) printf("KKT registration number: %s\n", s.kkt_reg_number);
  printf("last document: %u\n", s.last_document);
  if (s.shift_open)
    printf("shift %u open for %u h, %u receipts\n", s.shift_number,
           (s.now - s.shift_opened_at) / 3600, s.receipts_in_shift);
  else
    printf("shift closed (last %u)\n", s.shift_number);
  printf("unsent documents: %u", s.unsent_documents);
  if (s.unsent_documents) printf(" (oldest #%u, %u h old)", s.first_unsent_number, unsent_age);
  printf("\nunsent sale notifications: %u\n", s.unsent_notifications);
  if (s.keys_updated_at)
    printf("verification keys updated %u days ago\n", (s.now - s.keys_updated_at) / 86400);
  else
    printf("verification keys: never updated (marking checks need them)\n");
  return 0;
}

int cli_fn(const kassa_config_t *cfg, int argc, char **argv)
{
  if (argc >= 2 && !strcmp(argv[1], "init")) return fn_init(cfg, argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "register")) return fn_register_cmd(cfg, argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "status")) return fn_status_cmd(cfg, argc - 1, argv + 1);
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
    fputs(fn_usage, stdout);
    return 0;
  }
  fprintf(stderr, "kassa fn: %s\n\n%s", argc < 2 ? "which subcommand?" : "unknown subcommand",
          fn_usage);
  return 2;
}

/* ---- kassa shift ------------------------------------------------------- */

int cli_shift(const kassa_config_t *cfg, int argc, char **argv)
{
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
    fputs(shift_usage, stdout);
    return 0;
  }
  bool open = argc >= 2 && !strcmp(argv[1], "open");
  if (argc < 2 || (!open && strcmp(argv[1], "close"))) {
    fprintf(stderr, "kassa shift: open or close?\n\n%s", shift_usage);
    return 2;
  }
  const char *cashier = "";
  const cli_option_t options[] = {{"cashier", 0, &cashier, NULL}};
  /* argv[1] is open or close: the options follow it. */
  if (cli_parse_options("shift", shift_usage, argc - 1, argv + 1, options, 1, NULL)) return 2;
  fn_t *fn = NULL;
  if (cli_delivery_open_fn(cfg, &fn)) return 1;
  fn_doc_result_t res;
  int rc = open ? fn_shift_open(fn, cashier, &res) : fn_shift_close(fn, cashier, &res);
  fn_free(fn);
  if (rc != 0) return refused(open ? "shift open" : "shift close", rc);
  print_result(open ? "shift opened" : "shift closed", &res);
  return 0;
}

/* ---- kassa fd ---------------------------------------------------------- */

static int fd_list(fn_t *fn, int argc, char **argv)
{
  const char *from_arg = NULL, *limit_arg = NULL;
  const cli_option_t options[] = {{"from", 0, &from_arg, NULL}, {"limit", 0, &limit_arg, NULL}};
  uint32_t from = 1, limit = 50;
  if (cli_parse_options("fd list", fd_usage, argc, argv, options, 2, NULL)) return 2;
  const char *bad = from_arg && parse_u32(from_arg, &from)      ? "--from"
                    : limit_arg && parse_u32(limit_arg, &limit) ? "--limit"
                                                                : NULL;
  if (bad) {
    fprintf(stderr, "kassa fd list: %s needs a number\n", bad);
    return 2;
  }
  fn_status_t s;
  int rc = fn_status(fn, &s);
  if (rc != 0) return refused("listing", rc);
  fn_document_t *doc = malloc(sizeof *doc);
  if (!doc) return 1;
  printf("%-6s %-16s %-19s %-10s %-10s %s\n", "number", "type", "time", "FP", "total", "sent");
  for (uint32_t n = from; n <= s.last_document && n < from + limit; n++) {
    rc = fn_document_get(fn, n, doc);
    if (rc != 0) {
      free(doc);
      return refused("reading the archive", rc);
    }
    doc_summary_t sum;
    char when[32] = "?";
    if (doc_summarize(doc->data, doc->len, &sum) == 0)
      format_time(sum.time, when, sizeof when);
    else
      memset(&sum, 0, sizeof sum);
    char total[24] = "";
    if (sum.type == DOC_RECEIPT || sum.type == DOC_CORRECTION)
      snprintf(total, sizeof total, "%llu.%02llu", (unsigned long long)(sum.total / 100),
               (unsigned long long)(sum.total % 100));
    printf("%-6u %-16s %-19s %010u %-10s %s\n", n, doc_type_name(doc->type), when,
           sum.has_sign ? doc_fiscal_sign_printed(sum.sign) : 0, total,
           doc->acknowledged ? "yes" : "no");
  }
  free(doc);
  return 0;
}

/* Print a TLV list, one requisite a line, nested STLVs indented. The
** reader keeps the nesting limit, so even a damaged archive dumps safely. */
static void dump_tlv(tlv_reader_t *r, int depth)
{
  tlv_item_t item;
  int rc;
  while ((rc = tlv_reader_next(r, &item)) == 0) {
    const tlv_tag_info_t *info = tlv_tag_lookup(item.tag);
    printf("%*s%u %s [%u]", depth * 2, "", item.tag, info ? info->json_name : "?",
           (unsigned)item.length);
    tlv_reader_t child;
    if (info && info->type == TLV_TYPE_STLV && tlv_reader_enter(&item, &child) == 0) {
      printf("\n");
      dump_tlv(&child, depth + 1);
      continue;
    }
    printf(":");
    for (size_t i = 0; i < item.length; i++) printf(" %02X", item.value[i]);
    printf("\n");
  }
  if (rc != TLV_ERR_END) printf("%*s!! %s\n", depth * 2, "", tlv_error_message(rc));
}

static int fd_one(fn_t *fn, int argc, char **argv, bool dump)
{
  uint32_t n;
  bool json = false;
  int at;
  const cli_option_t options[] = {{"json", 0, NULL, &json}}; /* show only */
  if (cli_parse_options("fd", fd_usage, argc, argv, options, dump ? 0 : 1, &at)) return 2;
  if (at >= argc || parse_u32(argv[at], &n) || n == 0) {
    fprintf(stderr, "kassa fd %s: which document number?\n\n%s", dump ? "dump" : "show", fd_usage);
    return 2;
  }
  if (cli_no_extra("fd", fd_usage, argc, argv, at + 1)) return 2;
  fn_document_t *doc = malloc(sizeof *doc);
  if (!doc) return 1;
  int rc = fn_document_get(fn, n, doc);
  if (rc != 0) {
    free(doc);
    if (rc == FN_ERR_NO_DATA) {
      fprintf(stderr, "kassa: there is no document %u in the archive\n", n);
      return 1;
    }
    return refused("reading the archive", rc);
  }
  int status = 0;
  if (dump) {
    printf("document %u, %zu bytes\n", n, doc->len);
    tlv_reader_t r;
    tlv_reader_init(&r, doc->data, doc->len);
    dump_tlv(&r, 0);
  } else {
    int err = 0;
    char *text = doc_to_json(doc->data, doc->len, &err);
    if (text) {
      if (json)
        printf("%s\n", text);
      else
        printf("document %u (%s)\n%s\n", n, doc_type_name(doc->type), text);
      free(text);
    } else {
      fprintf(stderr, "kassa: document %u cannot be read: %s\n", n, tlv_error_message(err));
      status = 1;
    }
  }
  free(doc);
  return status;
}

int cli_fd(const kassa_config_t *cfg, int argc, char **argv)
{
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
    fputs(fd_usage, stdout);
    return 0;
  }
  if (argc < 2 || (strcmp(argv[1], "list") && strcmp(argv[1], "show") && strcmp(argv[1], "dump"))) {
    fprintf(stderr, "kassa fd: list, show or dump?\n\n%s", fd_usage);
    return 2;
  }
  fn_t *fn = NULL;
  if (cli_delivery_open_fn(cfg, &fn)) return 1;
  int status = !strcmp(argv[1], "list") ? fd_list(fn, argc - 1, argv + 1)
                                        : fd_one(fn, argc - 1, argv + 1, !strcmp(argv[1], "dump"));
  fn_free(fn);
  return status;
}
