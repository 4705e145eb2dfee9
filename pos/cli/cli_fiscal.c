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
**   kassa fd copy N                      a receipt's copy from the archive
**   kassa fn close                       the FN close report (6)
**   kassa fn replace --fn-number N       a new FN after the closed one (11)
**   kassa report x|z [--json]            X-report (21) / Z-report (5) with totals
**   kassa cash in|out AMOUNT             the drawer's counters (DATA/till.db)
**   kassa correction --operation …       a correction receipt (31)
**
** Managers and integrators use these to set up a till and to look into the
** archive. Every refusal names the FN rule and its code (0x16 "shift over
** 24 hours"), in Russian and English, and changes nothing.
*/
#include "device/fn_shtrih.h"
#include "fiscal/crypto.h"
#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "fiscal/tlv.h"
#include "pos/cli/cli.h"
#include "pos/print/print.h"
#include "pos/print/receipt.h"
#include "pos/till/correction.h"
#include "pos/till/drawer.h"
#include "pos/till/fiscal_text.h"
#include "pos/till/office.h"
#include "pos/till/sale.h"
#include "pos/till/till.h"

#include <jansson.h>

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
    "                         [--kkt-serial SERIAL] [--re [--reason MASK]]\n"
    "       kassa fn status [--json]\n"
    "       kassa fn close\n"
    "       kassa fn replace --fn-number NNNNNNNNNNNNNNNN [--cashier NAME]\n"
    "\n"
    "The fiscal storage (FN) of this till: the emulator, kept in DATA/fn.db.\n"
    "  init       create a new, unregistered FN (the data directory is created 0700)\n"
    "  register   registration report (document 1); --re: re-registration (11),\n"
    "             --reason: its 1205 mask (bit 0 FN replaced, 1 OFD changed, ...)\n"
    "  status     phase, counters, open shift, unsent documents and their age\n"
    "  close      the FN close report (document 6), once everything is delivered\n"
    "  replace    keep the closed FN as DATA/fn-NUMBER.db, create the new one and register\n"
    "             it with an 11 (1205: FN replaced) and the old registration's data\n"
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
    "       kassa fd copy N                   (a receipt, or an X/Z with its totals)\n"
    "\n"
    "Fiscal documents in the FN archive: list them, show one with the FNS JSON\n"
    "names, or dump its TLV tag by tag.\n";

/* ---- shared helpers ---------------------------------------------------- */

static int fn_close_cmd(const kassa_config_t *cfg, int argc, char **argv);
static int fd_copy(const kassa_config_t *cfg, int argc, char **argv);
static int fn_replace_cmd(const kassa_config_t *cfg, int argc, char **argv);

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
  const char *tax = NULL, *reason = NULL;
  bool no_marking = false;
  cli_option_t options[sizeof text / sizeof text[0] + 5] = {
      [sizeof text / sizeof text[0]] = {"tax-systems", 0, &tax, NULL},
      {"reason", 0, &reason, NULL},
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
  if (reason && (!re || parse_u32(reason, &r.reg.reason_mask) != 0)) {
    fprintf(stderr, "kassa: --reason is a 1205 mask (a number) and goes with --re\n");
    return 2;
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
  if (rc != 0 && fn_shtrih_last_error(fn, true)[0]) /* the register's own words */
    fprintf(stderr, "kassa: %s\n  %s\n", fn_shtrih_last_error(fn, true),
            fn_shtrih_last_error(fn, false));
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
  bool keys_by_device = (fn_capabilities(fn) & FN_CAP_DEVICE_KEYS) != 0;
  fn_free(fn);
  if (rc != 0) return refused("status", rc);
  const char *phase = s.phase == FN_PHASE_READY    ? "ready (not registered)"
                      : s.phase == FN_PHASE_FISCAL ? "fiscal"
                                                   : "closed (archive only)";
  uint32_t unsent_age =
      s.unsent_documents && s.now > s.first_unsent_time ? (s.now - s.first_unsent_time) / 3600 : 0;
  if (json) {
    json_t *j = json_pack(
        "{s:s,s:i,s:s,s:b,s:b,s:I,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "fnNumber",
        s.fn_number, "phase", (int)s.phase, "kktRegId", s.kkt_reg_number, "autonomous",
        s.autonomous, "marking", s.marking, "lastDocument", (json_int_t)s.last_document,
        "shiftOpen", s.shift_open, "shiftNumber", (json_int_t)s.shift_number, "shiftOpenedAt",
        (json_int_t)s.shift_opened_at, "receiptsInShift", (json_int_t)s.receipts_in_shift,
        "unsentDocuments", (json_int_t)s.unsent_documents, "firstUnsentNumber",
        (json_int_t)s.first_unsent_number, "firstUnsentTime", (json_int_t)s.first_unsent_time,
        "unsentNotifications", (json_int_t)s.unsent_notifications, "keysUpdatedAt",
        (json_int_t)s.keys_updated_at, "checkedKm", (json_int_t)s.checked_km, "now",
        (json_int_t)s.now);
    if (cli_print_json(j) != 0) return 1;
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
  if (keys_by_device)
    printf("verification keys: the register loads them itself (at shift open)\n");
  else if (s.keys_updated_at)
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
  if (argc >= 2 && !strcmp(argv[1], "close")) return fn_close_cmd(cfg, argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "replace")) return fn_replace_cmd(cfg, argc - 1, argv + 1);
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
  if (argc >= 2 && !strcmp(argv[1], "copy")) return fd_copy(cfg, argc - 1, argv + 1);
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

/* ---- kassa report, cash, correction, fn close, fd copy (issue 16) ------ */

static const char report_usage[] =
    "usage: kassa report x [--json] [--print | --printer DEVICE]\n"
    "       kassa report z [--cashier NAME] [--json] [--print | --printer DEVICE]\n"
    "\n"
    "  x   the settlement state report (document 21): the shift's totals so far\n"
    "      (1194) and the FN's since registration (1157), the drawer's cash\n"
    "  z   closes the shift (document 5) with its totals: the day's report\n"
    "Amounts are printed in roubles and given in kopecks in --json.\n";

static const char cash_usage[] =
    "usage: kassa cash in|out AMOUNT [--json]\n"
    "\n"
    "Cash put into the drawer (in) or taken out (out), in kopecks. Not a fiscal\n"
    "document: the till counts it (DATA/till.db) and the X and Z reports show it.\n"
    "A shift must be open; a cash out larger than the drawer holds is refused.\n";

static const char correction_usage[] =
    "usage: kassa correction --operation income|refund --cash N --cashless N --vat RATE\n"
    "                        --reason TEXT [--order NUMBER --date YYYY-MM-DD]\n"
    "                        [--prepaid N] [--credit N] [--other N] [--method M]\n"
    "                        [--cashier NAME] [--json]\n"
    "\n"
    "A correction receipt (document 31) for a settlement the till did not register\n"
    "(income: 1054 = 1) or registered wrongly as income (refund: 1054 = 2).\n"
    "Amounts in kopecks. RATE as written: 22, 22/122, 20, 20/120, 10, 10/110, 7, 7/107,\n"
    "5, 5/105, 0, none. --order and --date: a correction by the tax authority's order\n"
    "(1173 = 1, 1179 the order, 1178 the day corrected); without them it is on the\n"
    "register's own initiative (1173 = 0), dated --date or today.\n"
    "--prepaid (1215, an earlier prepayment offset), --credit (1216) and --other\n"
    "(1217, counter-provision) are the other payment forms, in kopecks; the line's\n"
    "settlement method (1214) is --method (as for `kassa sale pay`) or, without it,\n"
    "credit when --credit is the whole amount, partial-credit when it is a part,\n"
    "else full.\n";

static const char *op_words(int op)
{
  static const char *const words[5] = {"", "Приход", "Возврат прихода", "Расход",
                                       "Возврат расхода"};
  return op >= 1 && op <= 4 ? words[op] : "";
}

static void rub(uint64_t kopecks, char *out, size_t size)
{
  snprintf(out, size, "%llu.%02llu", (unsigned long long)(kopecks / 100),
           (unsigned long long)(kopecks % 100));
}

/* One operation's line (with payments for receipts; a correction's
** counters in 1133 carry count and total only). */
static void op_text(const char *title, const doc_op_totals_t *o, bool payments)
{
  char a[32], b[32], c[32];
  if (!o->count) return;
  rub(o->total, a, sizeof a);
  rub(o->cash, b, sizeof b);
  rub(o->cashless, c, sizeof c);
  if (payments)
    printf("  %-30s %5u  итог %12s  наличными %12s  безналичными %12s\n", title, o->count, a, b, c);
  else
    printf("  %-30s %5u  итог %12s\n", title, o->count, a);
  /* The other forms (1218, 1219, 1220), when the operation had them. */
  const struct {
    const char *words;
    uint64_t sum;
  } forms[] = {{"предоплатой", o->prepaid}, {"в кредит", o->credit}, {"встречным", o->other}};
  for (size_t i = 0; payments && i < sizeof forms / sizeof forms[0]; i++) {
    if (!forms[i].sum) continue;
    rub(forms[i].sum, a, sizeof a);
    printf("  %-30s        %-16s %12s\n", "", forms[i].words, a);
  }
  for (size_t i = 0; i < doc_vat_rate_count(); i++) {
    const doc_vat_rate_t *v = doc_vat_rate_at(i);
    if (!(o->vat_present & (1u << v->value))) continue;
    rub(o->vat[v->value], a, sizeof a);
    printf("  %-30s        %-16s %12s\n", "", v->sum_label, a);
  }
}

static void totals_text(const char *title, const doc_totals_t *t)
{
  printf("%s:\n", title);
  bool any = false;
  for (int op = 1; op <= 4; op++) {
    any |= t->receipts[op].count || t->corrections[op].count;
    op_text(op_words(op), &t->receipts[op], true);
  }
  for (int op = 1; op <= 4; op++) {
    char title2[64];
    snprintf(title2, sizeof title2, "Коррекция: %s", op_words(op));
    op_text(title2, &t->corrections[op], false);
  }
  if (!any) printf("  нет расчетов\n");
}

/* Print an office refusal (pos/till/office.h) in both languages; returns 1. */
static int office_refused(const char *command, const office_fail_t *why)
{
  fprintf(stderr, "kassa %s refused: %s\n  %s\n", command, why->message_ru, why->message_en);
  return 1;
}

/* The report's document on the receipt printer (device: --printer or
** [printer] device); 0 or 1 with the reason on stderr. */
static int report_print(const kassa_config_t *cfg, const char *device, const fn_document_t *doc,
                        const report_drawer_t *drawer)
{
  receipt_layout_t layout;
  print_options_t po;
  print_sink_options_t so = {0};
  print_sink_t *sink = NULL;
  uint8_t *bytes = NULL;
  size_t len = 0;
  char err[256] = "";
  int rc;
  print_options_default(&po, cfg->printer_width);
  po.codepage = cfg->printer_codepage;
  if (!device || !device[0]) {
    fprintf(stderr, "kassa report: no printer: give --printer DEVICE or set [printer] device\n");
    return 1;
  }
  if ((rc = report_layout(doc->data, doc->len, drawer, po.width, &layout)) != 0) {
    fprintf(stderr, "kassa report: the report cannot be laid out (%d)\n", rc);
    return 1;
  }
  rc = print_escpos_layout(&layout, &po, &bytes, &len);
  receipt_layout_free(&layout);
  if (rc == 0) rc = print_sink_open(device, &so, &sink, err, sizeof err);
  if (rc == 0) rc = print_sink_write(sink, bytes, len);
  int closed = sink ? print_sink_close(sink) : 0;
  free(bytes);
  if (rc == 0) rc = closed;
  if (rc != 0) {
    fprintf(stderr, "kassa report: printing failed: %s %s\n", print_err_message(rc, false), err);
    return 1;
  }
  return 0;
}

static int report_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  bool json = false, z, print = false;
  const char *cashier = "", *printer = NULL, *cashier_given = NULL;
  const cli_option_t options[] = {
      {"json", 0, NULL, &json},
      {"print", 0, NULL, &print},
      {"printer", 0, &printer, NULL},
      {"cashier", 0, &cashier_given, NULL},
  };
  int at = 0;
  if (cli_parse_options("report", report_usage, argc, argv, options,
                        sizeof options / sizeof options[0], &at) != 0)
    return 2;
  if (argc - at != 1 || (strcmp(argv[at], "x") && strcmp(argv[at], "z"))) {
    fprintf(stderr, "kassa report: x or z?\n\n%s", report_usage);
    return 2;
  }
  z = !strcmp(argv[at], "z");
  if (printer) print = true;
  if (cashier_given && !z) { /* only the Z (the shift close) names who closed it */
    fprintf(stderr, "kassa report: unknown option --cashier\n\n%s", report_usage);
    return 2;
  }
  if (cashier_given) cashier = cashier_given;
  fn_t *fn = NULL;
  if (cli_delivery_open_fn(cfg, &fn)) return 1;
  static office_report_t r;
  office_fail_t why;
  fn_document_t *doc = NULL;
  int status = 1;
  if (office_report(fn, cfg->data_dir, z, cashier, &r, &why) != 0) {
    status = office_refused("report", &why);
    goto end;
  }
  if (json) {
    json_t *o = office_report_json(&r);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text) printf("%s\n", text);
    free(text);
    json_decref(o);
  } else {
    char a[32], b[32];
    print_result(z ? "Z-report (shift closed)" : "X-report", &r.doc);
    if (r.has_shift_totals) totals_text("Итоги смены / shift totals (1194)", &r.shift_totals);
    totals_text("Итоги ФН / FN totals (1157)", &r.fn_totals);
    if (r.has_drawer) {
      rub(r.moves.in, a, sizeof a);
      rub(r.moves.out, b, sizeof b);
      printf("Внесено / cash in: %u, %s; выплачено / cash out: %u, %s\n", r.moves.ins, a,
             r.moves.outs, b);
      rub(r.balance, a, sizeof a);
      printf("Наличных в ящике / cash in the drawer: %s\n", a);
    }
  }
  status = 0;
  if (print) {
    /* The document is made: a printer that fails loses nothing (fd copy). */
    report_drawer_t dr = {r.moves.in, r.moves.out, r.balance};
    int rc =
        (doc = malloc(sizeof *doc)) ? fn_document_get(fn, r.doc.number, doc) : FN_ERR_NO_MEMORY;
    status = rc != 0 ? refused("reading the report back", rc)
                     : report_print(cfg, printer ? printer : cfg->printer_device, doc,
                                    r.has_drawer ? &dr : NULL);
  }
end:
  free(doc);
  fn_free(fn);
  return status;
}

int cli_report(const kassa_config_t *cfg, int argc, char **argv)
{
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
    fputs(report_usage, stdout);
    return 0;
  }
  return report_cmd(cfg, argc, argv);
}

int cli_cash(const kassa_config_t *cfg, int argc, char **argv)
{
  unsigned long amount;
  bool json = false;
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
    fputs(cash_usage, stdout);
    return 0;
  }
  const cli_option_t options[] = {{"json", 0, NULL, &json}};
  int at = 0;
  if (cli_parse_options("cash", cash_usage, argc, argv, options, 1, &at) != 0) return 2;
  if (argc - at != 2 || (strcmp(argv[at], "in") && strcmp(argv[at], "out")) ||
      !cli_number(argv[at + 1], 1, (1UL << 48) - 1, &amount)) {
    fprintf(stderr, "kassa cash: in or out, and an amount in kopecks\n\n%s", cash_usage);
    return 2;
  }
  bool in = !strcmp(argv[at], "in");
  fn_t *fn = NULL;
  if (cli_delivery_open_fn(cfg, &fn)) return 1;
  office_cash_t done;
  office_fail_t why;
  int rc = office_cash(fn, cfg->data_dir, in, amount, &done, &why);
  fn_free(fn);
  if (rc != 0) return office_refused(in ? "cash in" : "cash out", &why);
  if (json) {
    printf("{\"ok\":true,\"kind\":\"%s\",\"amount\":%lu,\"shift\":%u,\"balance\":%llu}\n", argv[at],
           amount, done.shift, (unsigned long long)done.balance);
  } else {
    char a[32], b[32];
    rub(amount, a, sizeof a);
    rub(done.balance, b, sizeof b);
    printf("%s %s, shift %u; cash in the drawer %s\n", in ? "cash in" : "cash out", a, done.shift,
           b);
  }
  return 0;
}

int cli_correction(const kassa_config_t *cfg, int argc, char **argv)
{
  const char *operation = NULL, *reason = NULL, *order = "", *date = NULL, *cashier = "";
  const char *method_text = NULL;
  bool json = false;
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
    fputs(correction_usage, stdout);
    return 0;
  }
  /* The five forms in kopecks: --cash, --cashless, --prepaid, --credit, --other. */
  const char *form_text[5] = {NULL};
  const char *const form_name[5] = {"--cash", "--cashless", "--prepaid", "--credit", "--other"};
  unsigned long form[5] = {0};
  const char *vat_text = NULL, *order_given = NULL, *cashier_given = NULL;
  const cli_option_t options[] = {
      {"json", 0, NULL, &json},
      {"operation", 0, &operation, NULL},
      {"cash", 0, &form_text[0], NULL},
      {"cashless", 0, &form_text[1], NULL},
      {"prepaid", 0, &form_text[2], NULL},
      {"credit", 0, &form_text[3], NULL},
      {"other", 0, &form_text[4], NULL},
      {"method", 0, &method_text, NULL},
      {"vat", 0, &vat_text, NULL},
      {"reason", 0, &reason, NULL},
      {"order", 0, &order_given, NULL},
      {"date", 0, &date, NULL},
      {"cashier", 0, &cashier_given, NULL},
  };
  if (cli_parse_options("correction", correction_usage, argc, argv, options,
                        sizeof options / sizeof options[0], NULL) != 0)
    return 2;
  if (order_given) order = order_given;
  if (cashier_given) cashier = cashier_given;
  const char *bad = NULL, *bad_value = NULL;
  bool any = false;
  uint8_t vat = 0, method = 0;
  for (int i = 0; i < 5 && !bad; i++) {
    if (form_text[i] && !cli_number(form_text[i], 0, (1UL << 48) - 1, &form[i]))
      bad = form_name[i], bad_value = form_text[i];
    any |= form_text[i] != NULL;
  }
  if (!bad && vat_text && (vat = correction_vat_parse(vat_text)) == 0)
    bad = "--vat", bad_value = vat_text;
  if (!bad && method_text && (method = sale_method_of(method_text)) == 0)
    bad = "--method", bad_value = method_text;
  if (bad) {
    fprintf(stderr, "kassa correction: bad %s %s\n\n%s", bad, bad_value, correction_usage);
    return 2;
  }
  correction_request_t r = {
      .operation = !operation                     ? 0
                   : !strcmp(operation, "income") ? DOC_OP_SALE
                   : !strcmp(operation, "refund") ? DOC_OP_SALE_RETURN
                                                  : 0,
      .tax_system = (uint8_t)cfg->tax_system,
      .vat = vat,
      .method = method,
      .pay = {.cash = form[0],
              .cashless = form[1],
              .prepaid = form[2],
              .credit = form[3],
              .other = form[4]},
      .reason = reason,
      .type = order[0] ? 1 : 0,
      .order_number = order,
      .cashier = cashier,
  };
  uint64_t total = (uint64_t)form[0] + form[1] + form[2] + form[3] + form[4];
  if (!r.operation || !vat || !reason || !reason[0] || !any || total == 0 ||
      total > (UINT64_C(1) << 48) - 1 || (order[0] && !date) || strlen(order) > 32 ||
      (date && !office_date_parse(date, &r.date))) {
    fprintf(stderr,
            "kassa correction: --operation income|refund, an amount (--cash, --cashless, "
            "--prepaid, --credit or --other), --vat and --reason are needed; --order needs "
            "--date\n\n%s",
            correction_usage);
    return 2;
  }
  fn_t *fn = NULL;
  if (cli_delivery_open_fn(cfg, &fn)) return 1;
  fn_doc_result_t res;
  int rc = correction_close(fn, &r, &res);
  fn_free(fn);
  if (rc != 0) return refused("the correction receipt", rc);
  if (json)
    printf("{\"ok\":true,\"document\":%u,\"time\":%u,\"fiscal_sign\":%u,\"shift\":%u,"
           "\"operation\":\"%s\",\"total\":%llu,\"vat\":%u,\"correction_type\":%u,"
           "\"cash\":%lu,\"cashless\":%lu,\"prepaid\":%lu,\"credit\":%lu,\"other\":%lu}\n",
           res.number, res.time, res.fiscal_sign, res.shift_number, operation,
           (unsigned long long)total, vat, r.type, form[0], form[1], form[2], form[3], form[4]);
  else
    print_result("correction receipt", &res);
  return 0;
}

/* kassa fn close: the FN close report (6), once everything is delivered. */
static int fn_close_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  (void)argv;
  if (argc > 1) {
    fprintf(stderr, "kassa fn close: no options\n\n%s", fn_usage);
    return 2;
  }
  fn_t *fn = NULL;
  if (cli_delivery_open_fn(cfg, &fn)) return 1;
  fn_doc_result_t res;
  office_fail_t why;
  int rc = office_fn_close(fn, &res, &why);
  fn_free(fn);
  if (rc != 0) return office_refused("fn close", &why);
  print_result("FN closed", &res);
  printf("deliver it (kassa ofd flush); the archive stays readable\n");
  return 0;
}

/* kassa fd copy N: a receipt's copy from the archive, as text. */
static int fd_copy(const kassa_config_t *cfg, int argc, char **argv)
{
  uint32_t n;
  if (argc < 2 || parse_u32(argv[1], &n) || n == 0 || argc > 2) {
    fprintf(stderr, "kassa fd copy: which document number?\n\n%s", fd_usage);
    return 2;
  }
  /* A report (5, 21): its totals again, as the document holds them. */
  fn_t *fn = NULL;
  if (cli_delivery_open_fn(cfg, &fn)) return 1;
  fn_document_t *doc = malloc(sizeof *doc);
  int got = doc ? fn_document_get(fn, n, doc) : FN_ERR_NO_MEMORY;
  fn_free(fn);
  if (got == 0 && (doc->type == DOC_SHIFT_CLOSE || doc->type == DOC_STATE_REPORT)) {
    static doc_totals_t totals;
    doc_summary_t sum;
    fn_doc_result_t res = {0};
    if (doc_summarize(doc->data, doc->len, &sum) == 0) {
      res.number = sum.number;
      res.time = sum.time;
      res.shift_number = sum.shift_number;
      res.fiscal_sign = sum.has_sign ? doc_fiscal_sign_printed(sum.sign) : 0;
    }
    printf("%*s\n", 21, "КОПИЯ");
    print_result(doc->type == DOC_SHIFT_CLOSE ? "Z-report (shift close)" : "X-report", &res);
    if (doc_parse_totals(doc->data, doc->len, 1194, &totals) == 0)
      totals_text("Итоги смены / shift totals (1194)", &totals);
    if (doc_parse_totals(doc->data, doc->len, 1157, &totals) == 0)
      totals_text("Итоги ФН / FN totals (1157)", &totals);
    free(doc);
    return 0;
  }
  free(doc);
  till_t *t = NULL;
  if (cli_open_till(cfg, &t)) return 1;
  int err = 0;
  char *text = receipt_text(t, n, 32, &err);
  till_close(t);
  if (!text) {
    fprintf(stderr, "kassa fd copy: document %u is not a receipt in the archive (%s)\n", n,
            err == FN_ERR_NO_DATA ? "no such document" : "not a receipt");
    return 1;
  }
  size_t length = strlen(text);
  printf("%*s\n%s%s", 21, "КОПИЯ", text, length && text[length - 1] != '\n' ? "\n" : "");
  free(text);
  return 0;
}

/*
** kassa fn replace --fn-number N [--cashier NAME]: the FN replacement. The
** old FN must be closed (kassa fn close) with everything delivered; it is
** kept as DATA/fn-<its number>.db (its archive stays readable: fsck reads
** it, the code cache counts on across it). A new FN is created as DATA/fn.db
** and registered with an 11 whose 1205 says "FN replaced", with the data of
** the old FN's last registration; the till carries on with it.
*/
static int fn_replace_cmd(const kassa_config_t *cfg, int argc, char **argv)
{
  char number[17] = "";
  const char *cashier = "", *number_given = NULL, *cashier_given = NULL;
  const cli_option_t options[] = {
      {"fn-number", 0, &number_given, NULL},
      {"cashier", 0, &cashier_given, NULL},
  };
  int at = 0;
  if (cli_read_options(argc, argv, options, 2, &at) != CLI_OPTIONS_OK || at != argc ||
      (number_given && !all_digits(number_given, 16, 16))) {
    fprintf(stderr, "kassa fn replace: --fn-number (16 digits) [--cashier NAME]\n\n%s", fn_usage);
    return 2;
  }
  if (number_given) snprintf(number, sizeof number, "%s", number_given);
  if (cashier_given) cashier = cashier_given;
  if (!number[0]) {
    fprintf(stderr, "kassa fn replace: the new FN's --fn-number is needed\n\n%s", fn_usage);
    return 2;
  }
  till_t *t = NULL;
  if (cli_open_till(cfg, &t)) return 1;
  static office_replaced_t done;
  office_fail_t why;
  int rc = till_fn_replace(t, number, cashier, &done, &why);
  till_close(t);
  if (rc != 0) return office_refused("fn replace", &why);
  printf("FN %s replaced by %s (the old archive kept in %s)\n", done.old_number, done.new_number,
         done.kept);
  print_result("re-registration (FN replaced)", &done.doc);
  printf("load the marking keys into the new FN (kassa ofd keys) before selling marked goods\n");
  return 0;
}
