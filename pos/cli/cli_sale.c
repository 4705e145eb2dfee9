/*
** cli_sale.c: `kassa sale` and `kassa return`, the till from a shell.
**
** The same till as `kassa serve` (pos/till/till.h): the basket lives in the
** data directory, so a script can open a receipt, add items in separate
** invocations, and pay; a crash in between loses nothing. Returns need the
** manager PIN ([till] manager_pin). Human-readable output by default,
** `--json` for scripts (the same objects as the HTTP API, pos/till/till_json.h).
** Exit status: 0 done, 1 refused or failed (the reason is printed), 2 usage.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos/cli/cli.h"
#include "pos/print/receipt.h"
#include "pos/till/check.h"
#include "pos/till/disk.h"
#include "pos/till/money.h"
#include "pos/till/sale.h"
#include "pos/till/till.h"
#include "pos/till/till_json.h"

static const char sale_usage[] =
    "usage: kassa sale open [--cashier NAME]\n"
    "       kassa sale add CODE [--escaped] [--qty Q] [--price RUB] [--fraction N/D] [--json]\n"
    "                      [--agent KIND --supplier-name NAME --supplier-inn INN\n"
    "                       [--supplier-phone PHONE] [--agent-phone PHONE]]\n"
    "       kassa sale check CODE [--escaped] [--price RUB] [--json]\n"
    "       kassa sale remove LINE\n"
    "       kassa sale show [--json]\n"
    "       kassa sale pay [--cash RUB] [--card RUB] [--prepaid RUB] [--credit RUB]\n"
    "                      [--other RUB] [--tendered RUB] [--method M] [--width 32|48] [--json]\n"
    "       kassa sale cancel\n"
    "       kassa sale print FD [--width 32|48]\n"
    "A --price other than the catalogue's needs the manager PIN (--pin-file FILE or\n"
    "KASSA_PIN), beyond [till] price_tolerance_percent.\n"
    "\n"
    "The receipt being built lives in the data directory. `add` runs the full\n"
    "check (catalogue, store records, FN crypto tail, operator) and adds the line\n"
    "only when the good may be sold; `pay` closes the receipt in the FN (without\n"
    "--cash/--card: all cash) and prints it.\n"
    "--fraction N/D sells N of the D pieces a marked pack holds under one code\n"
    "(1291; planned status 2; the line costs price * N / D). --agent sells the line\n"
    "for a supplier (1222: bank-agent, bank-subagent, payment-agent, payment-subagent,\n"
    "attorney, commission, other; 1224/1226 the supplier; the receipt's 1057).\n"
    "--method: prepayment-full, prepayment, advance, full, partial-credit, credit,\n"
    "credit-payment (1214 of every line).\n";

static const char return_usage[] =
    "usage: kassa return open [--cashier NAME]\n"
    "       kassa return add CODE [--escaped] [--price RUB] [--fraction N/D] [--json]\n"
    "                        [--agent KIND --supplier-name NAME --supplier-inn INN ...]\n"
    "       kassa return add-without-code --gtin GTIN --sale-fd FD --sale-line N [--price RUB]\n"
    "       kassa return pay [--cash RUB] [--card RUB] [--prepaid RUB]\n"
    "                        [--credit RUB] [--other RUB] [--method M] [--width 32|48] [--json]\n"
    "PIN: --pin-file FILE (its first line), or KASSA_PIN in the environment, or\n"
    "--pin PIN (visible to every user in `ps`: avoid).\n"
    "\n"
    "A sale return (manager only): open it, add the returned goods by their\n"
    "marking codes (the code must have been sold by this store) or, when the code\n"
    "cannot be read, by GTIN and the sale it takes back: --sale-fd the FD of the\n"
    "sale receipt, --sale-line its line (1..); one unit, never more units or money\n"
    "than that line has left (the good then waits for remarking), then finish\n"
    "with `kassa return pay` (the options of `kassa sale pay`) or `kassa sale pay` /\n"
    "`kassa sale show` / `kassa sale cancel`. --fraction N/D returns a part of a\n"
    "marked pack sold in a fraction (planned status 4).\n";

typedef struct opts {
  const char *code, *cashier, *qty, *price, *cash, *card, *pin, *pin_file, *gtin, *width;
  const char *prepaid, *credit, *other, *tendered, *method; /* sale pay (issue 16) */
  const char *fraction, *agent, *supplier_name, *supplier_inn, *supplier_phone, *agent_phone;
  const char *sale_fd, *sale_line; /* return add-without-code: the sale it takes back */
  bool escaped, json;
} opts_t;

/* Options after the verb (argv[0]), read by cli_parse_verb; the one
** positional CODE / number into o->code. 0, or 2 after a message. */
static int parse(int argc, char **argv, opts_t *o)
{
  memset(o, 0, sizeof *o);
  const cli_option_t options[] = {
      {"escaped", 0, NULL, &o->escaped},
      {"json", 0, NULL, &o->json},
      {"cashier", 0, &o->cashier, NULL},
      {"qty", 0, &o->qty, NULL},
      {"price", 0, &o->price, NULL},
      {"cash", 0, &o->cash, NULL},
      {"card", 0, &o->card, NULL},
      {"pin", 0, &o->pin, NULL},
      {"gtin", 0, &o->gtin, NULL},
      {"width", 0, &o->width, NULL},
      {"prepaid", 0, &o->prepaid, NULL},
      {"credit", 0, &o->credit, NULL},
      {"other", 0, &o->other, NULL},
      {"tendered", 0, &o->tendered, NULL},
      {"method", 0, &o->method, NULL},
      {"fraction", 0, &o->fraction, NULL},
      {"agent", 0, &o->agent, NULL},
      {"supplier-name", 0, &o->supplier_name, NULL},
      {"supplier-inn", 0, &o->supplier_inn, NULL},
      {"supplier-phone", 0, &o->supplier_phone, NULL},
      {"agent-phone", 0, &o->agent_phone, NULL},
      {"pin-file", 0, &o->pin_file, NULL},
      {"sale-fd", 0, &o->sale_fd, NULL},
      {"sale-line", 0, &o->sale_line, NULL},
  };
  return cli_parse_verb(argc, argv, options, sizeof options / sizeof options[0], &o->code);
}

/* A positive decimal number up to 2^31 (an FD, a line): false for none or junk. */
static bool parse_number(const char *s, uint32_t *out)
{
  char *end;
  if (!s || *s < '0' || *s > '9') return false;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v == 0 || v > 0x7FFFFFFFULL) return false;
  *out = (uint32_t)v;
  return true;
}

/* "123.45" roubles into kopecks. */
static bool parse_money(const char *s, uint64_t *out)
{
  char *end;
  errno = 0;
  if (!s || !*s || *s == '-') return false;
  unsigned long long r = strtoull(s, &end, 10), k = 0;
  if (errno || r > 1000000000ULL) return false;
  if (*end == '.' || *end == ',') {
    const char *f = end + 1;
    size_t n = strspn(f, "0123456789");
    if (n == 0 || n > 2 || f[n]) return false;
    k = strtoull(f, NULL, 10) * (n == 1 ? 10 : 1);
  } else if (*end) {
    return false;
  }
  *out = r * 100 + k;
  return true;
}

int cli_open_till(const kassa_config_t *cfg, till_t **t)
{
  char err[512];
  till_options_t o = {.config = cfg};
  if (till_open(&o, t, err, sizeof err) == 0) return 0;
  fprintf(stderr, "kassa: %s\n", err);
  return 1;
}

static void print_json(json_t *j)
{
  char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
  if (s) puts(s);
  free(s);
  json_decref(j);
}

static int sale_failed(int rc, till_t *t)
{
  /* A write that failed: the data directory says why (issue 18). */
  till_disk_t disk =
      rc == SALE_ERR_STORAGE || (rc == SALE_ERR_FN && till_sale_fn_error(t) <= FN_ERR_IO)
          ? till_disk_diagnose(till_config(t)->data_dir)
          : TILL_DISK_OK;
  if (disk != TILL_DISK_OK) {
    fprintf(stderr, "kassa: %s / %s (%s)\n", till_disk_message(disk, true),
            till_disk_message(disk, false), till_disk_name(disk));
    return 1;
  }
  fprintf(stderr, "kassa: %s / %s\n", sale_err_message(rc, true), sale_err_message(rc, false));
  if (rc == SALE_ERR_FN) {
    int e = till_sale_fn_error(t);
    fprintf(stderr, "  %s (0x%02X %s)\n  %s\n", fn_err_message(e, true),
            (unsigned)fn_err_device_code(e), fn_err_name(e), fn_err_message(e, false));
  }
  return 1;
}

static void print_decision(const check_decision_t *d, bool json)
{
  if (json) {
    print_json(till_json_decision(d));
    return;
  }
  if (d->allow)
    printf("OK %s%s%s  %s\n", d->mark, d->mark[0] ? " " : "", d->has_product ? d->product.name : "",
           d->offline ? "(без связи / offline)" : "");
  else
    printf("ОТКАЗ / REFUSED [%s]\n  %s\n  %s\n", check_reason_name(d->reason), d->message_ru,
           d->message_en);
  if (d->warning_ru[0]) printf("! %s\n! %s\n", d->warning_ru, d->warning_en);
}

/* The receipt FD `number` as the customer's copy. `just_closed`: the FN
** has just closed it, so a failed read is the archive (or the register
** holding it) not answering, never "no such receipt": the sale stands and
** the manager prints the copy later. */
static int print_receipt(till_t *t, uint32_t number, const char *width, bool just_closed)
{
  int err = 0;
  unsigned w = width ? (unsigned)strtoul(width, NULL, 10) : 32;
  char *text = receipt_text(t, number, w, &err);
  if (!text && just_closed) {
    fprintf(stderr,
            "kassa: чек ФД %u пробит, но прочитать его для печати не удалось (%s). Напечатайте "
            "копию позже: kassa fd copy %u. Не пробивайте чек повторно.\n"
            "  Receipt FD %u is closed, but it could not be read back to print (%s). Print a "
            "copy later: kassa fd copy %u. Do not sell it again.\n",
            number, fn_err_message(err, true), number, number, fn_err_message(err, false), number);
    return 0;
  }
  if (!text) {
    fprintf(stderr, "kassa: no receipt FD %u: %s\n", number, fn_err_message(err, false));
    return 1;
  }
  fputs(text, stdout);
  free(text);
  return 0;
}

/* --fraction N/D: 0 < N < D, both whole numbers. */
static bool parse_fraction(const char *s, uint64_t *n, uint64_t *d)
{
  unsigned long long a, b;
  int used = 0;
  if (!s || strspn(s, "0123456789/") != strlen(s) || sscanf(s, "%llu/%llu%n", &a, &b, &used) != 2 ||
      s[used] || a == 0 || a >= b || b > 1000000000ULL)
    return false;
  *n = a;
  *d = b;
  return true;
}

/* The agent's options into a; false (with a message) when they are wrong. */
static bool parse_agent(const opts_t *o, doc_agent_t *a)
{
  memset(a, 0, sizeof *a);
  const struct {
    const char *text;
    char *into;
    size_t size;
  } fields[] = {{o->supplier_name, a->supplier_name, sizeof a->supplier_name},
                {o->supplier_inn, a->supplier_inn, sizeof a->supplier_inn},
                {o->supplier_phone, a->supplier_phone, sizeof a->supplier_phone},
                {o->agent_phone, a->agent_phone, sizeof a->agent_phone}};
  a->sign = sale_agent_kind(o->agent);
  bool ok = a->sign != 0 && o->supplier_name && o->supplier_inn;
  for (size_t i = 0; ok && i < sizeof fields / sizeof fields[0]; i++) {
    if (!fields[i].text) continue;
    if (strlen(fields[i].text) >= fields[i].size)
      ok = false;
    else
      snprintf(fields[i].into, fields[i].size, "%s", fields[i].text);
  }
  if (!ok)
    fprintf(stderr, "kassa: --agent KIND (bank-agent, bank-subagent, payment-agent, "
                    "payment-subagent, attorney, commission, other) needs --supplier-name and "
                    "--supplier-inn (10 or 12 digits); phones up to 19 characters\n");
  return ok;
}

static int add(till_t *t, opts_t *o)
{
  doc_quantity_t q;
  doc_agent_t agent;
  sale_add_t a = {0};
  uint32_t id = 0;
  if (!o->code) return 2;
  if (o->fraction &&
      (o->qty || !parse_fraction(o->fraction, &a.fraction_numerator, &a.fraction_denominator))) {
    fprintf(stderr, "kassa: --fraction %s is not N/D with 0 < N < D (and never with --qty)\n",
            o->fraction);
    return 2;
  }
  bool agent_given =
      o->agent || o->supplier_name || o->supplier_inn || o->supplier_phone || o->agent_phone;
  if (agent_given && !parse_agent(o, &agent)) return 2;
  if (o->qty && !sale_quantity_parse(o->qty, &q)) {
    fprintf(stderr, "kassa: --qty %s is not a quantity (up to 3 decimals)\n", o->qty);
    return 2;
  }
  if (o->price && !parse_money(o->price, &a.price)) {
    fprintf(stderr, "kassa: --price %s is not an amount in roubles\n", o->price);
    return 2;
  }
  char *code = strdup(o->code);
  if (!code) return 1;
  size_t len = strlen(code);
  if (o->escaped) len = cli_unescape(code, len);
  check_decision_t *d = malloc(sizeof *d);
  a.scan = code;
  a.len = len;
  a.quantity = o->qty ? &q : NULL;
  a.agent = agent_given ? &agent : NULL;
  int rc = d ? sale_add(t, &a, d, &id) : SALE_ERR_STORAGE;
  free(code);
  if (rc == 0 || rc == SALE_ERR_REFUSED) {
    print_decision(d, o->json);
    if (rc == 0 && !o->json) printf("  line %u\n", id);
  } else {
    sale_failed(rc, t);
  }
  free(d);
  return rc == 0 ? 0 : 1;
}

static int check_only(till_t *t, opts_t *o)
{
  uint64_t price = 0;
  if (!o->code) return 2;
  if (o->price && !parse_money(o->price, &price)) return 2;
  char *code = strdup(o->code);
  check_decision_t *d = malloc(sizeof *d);
  if (!code || !d) {
    free(code);
    free(d);
    return 1;
  }
  size_t len = strlen(code);
  if (o->escaped) len = cli_unescape(code, len);
  check_probe(t, code, len, CHECK_FOR_SALE, price, NULL, 0, d); /* a question only */
  print_decision(d, o->json);
  int rc = d->allow ? 0 : 1;
  free(code);
  free(d);
  return rc;
}

static int show(till_t *t, const opts_t *o)
{
  sale_basket_t *b = malloc(sizeof *b);
  if (!b || sale_get(t, b) != 0) {
    free(b);
    return 1;
  }
  if (o->json) {
    print_json(till_json_basket(b));
  } else if (!b->open) {
    puts("Чек не открыт. / No receipt is open.");
  } else {
    printf("%s, %zu line(s), total %llu.%02llu\n", b->operation == 2 ? "RETURN" : "SALE", b->count,
           (unsigned long long)(b->total / 100), (unsigned long long)(b->total % 100));
    for (size_t i = 0; i < b->count; i++) {
      const sale_line_t *l = &b->lines[i];
      char q[48];
      doc_quantity_text(l->quantity, q, sizeof q);
      if (l->fraction_denominator) /* the part of the pack (1291) */
        snprintf(q, sizeof q, "%llu/%llu", (unsigned long long)l->fraction_numerator,
                 (unsigned long long)l->fraction_denominator);
      printf("%4u %-5s %s x%s %llu.%02llu%s%s%s%s\n", l->id, l->mark, l->name, q,
             (unsigned long long)(l->total / 100), (unsigned long long)(l->total % 100),
             l->without_code ? " (без кода / no code)" : "", l->agent.sign ? " (" : "",
             l->agent.sign ? sale_agent_kind_name(l->agent.sign) : "", l->agent.sign ? ")" : "");
    }
  }
  free(b);
  return 0;
}

/* Pays the open basket; `kassa return pay` pays a return only. */
static int pay(till_t *t, const opts_t *o, bool is_return)
{
  sale_basket_t *b = malloc(sizeof *b);
  sale_payment_t p = {0};
  int rc = 1;
  if (!b || sale_get(t, b) != 0) goto done;
  if (is_return && b->open && b->operation != DOC_OP_SALE_RETURN) {
    fprintf(stderr, "kassa: открыт чек продажи, а не возврата / the open receipt is a sale, "
                    "not a return (kassa sale pay)\n");
    goto done;
  }
  const struct {
    const char *text;
    uint64_t *into;
  } money[] = {{o->cash, &p.cash},     {o->card, &p.cashless}, {o->prepaid, &p.prepaid},
               {o->credit, &p.credit}, {o->other, &p.other},   {o->tendered, &p.tendered}};
  bool any = false;
  for (size_t i = 0; i < sizeof money / sizeof money[0]; i++) {
    if (money[i].text && !parse_money(money[i].text, money[i].into)) {
      fprintf(stderr, "kassa: --cash/--card/--prepaid/--credit/--other/--tendered take amounts "
                      "in roubles (123.45)\n");
      rc = 2;
      goto done;
    }
    any |= money[i].text && money[i].into != &p.tendered;
  }
  int method = o->method ? sale_method_of(o->method) : 0;
  if (o->method && method == 0) {
    fprintf(stderr, "kassa: --method is one of prepayment-full, prepayment, advance, full, "
                    "partial-credit, credit, credit-payment\n");
    rc = 2;
    goto done;
  }
  p.method = (uint8_t)method;
  if (!any) p.cash = b->total;
  sale_closed_t closed;
  check_decision_t *d = malloc(sizeof *d);
  int s = d ? sale_close_paid(t, &p, &closed, d) : SALE_ERR_STORAGE;
  if (s == SALE_ERR_REFUSED) print_decision(d, o->json);
  free(d);
  if (s != 0) {
    sale_failed(s, t);
    goto done;
  }
  if (closed.bookkeeping_pending)
    fprintf(stderr,
            "kassa: чек ФД %u пробит, но запись кассы не обновлена (диск кассы полон или ФН "
            "не ответил при чтении чека): она будет завершена при следующем запуске. Не "
            "пробивайте чек повторно.\n"
            "  Receipt FD %u is closed in the FN, but the till's own records could not "
            "be brought up to date (the till's disk full, or the FN or register not "
            "answering when the receipt was read back); they are finished at the next start. "
            "Do not sell it again.\n",
            closed.doc.number, closed.doc.number);
  if (o->json) {
    print_json(till_json_closed(&closed));
  } else {
    print_receipt(t, closed.doc.number, o->width, true);
    if (closed.tendered > closed.cash)
      printf("Получено %llu.%02llu, сдача %llu.%02llu / tendered, change\n",
             (unsigned long long)(closed.tendered / 100),
             (unsigned long long)(closed.tendered % 100), (unsigned long long)(closed.change / 100),
             (unsigned long long)(closed.change % 100));
  }
  rc = 0;
done:
  free(b);
  return rc;
}

static int run(const kassa_config_t *cfg, int argc, char **argv, bool is_return)
{
  const char *usage = is_return ? return_usage : sale_usage;
  opts_t o;
  till_t *t = NULL;
  int rc;
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *verb = argv[1];
  if ((rc = parse(argc - 1, argv + 1, &o)) != 0) {
    fputs(usage, stderr);
    return rc;
  }
  char pin[64];
  if (cli_secret(is_return ? "return" : "sale", o.pin, o.pin_file, "KASSA_PIN", pin, sizeof pin))
    return 2;
  if (cli_open_till(cfg, &t)) return 1;
  if ((is_return || pin[0]) && !till_manager_pin_ok(t, pin)) {
    fprintf(stderr, is_return ? "kassa: возврат только с PIN менеджера / returns need the manager "
                                "PIN (--pin-file, KASSA_PIN)\n"
                              : "kassa: неверный PIN менеджера / wrong manager PIN\n");
    till_close(t);
    return 1;
  }
  /* A PIN given with a sale is the manager's word for a price other than
  ** the catalogue's (pos/till/money.h). */
  till_set_manager_present(t, pin[0] != '\0');
  rc = 2;
  if (!strcmp(verb, "open")) {
    int s = sale_open(t, is_return ? DOC_OP_SALE_RETURN : DOC_OP_SALE, o.cashier);
    rc =
        s ? sale_failed(s, t)
          : (puts(is_return ? "Возврат открыт. / Return opened." : "Чек открыт. / Receipt opened."),
             0);
  } else if (!strcmp(verb, "add")) {
    rc = add(t, &o);
  } else if (is_return && !strcmp(verb, "add-without-code")) {
    uint64_t price = 0;
    uint32_t id, fd, line;
    if (!o.gtin || (o.price && !parse_money(o.price, &price)) || !parse_number(o.sale_fd, &fd) ||
        !parse_number(o.sale_line, &line)) {
      fprintf(stderr, "kassa: нужны --gtin, --sale-fd и --sale-line / --gtin, --sale-fd and "
                      "--sale-line are needed\n");
      rc = 2;
    } else {
      int s = sale_add_without_code(t, o.gtin, price, fd, line, &id);
      rc = s ? sale_failed(s, t)
             : (printf("line %u (ждёт перемаркировки / waits for "
                       "remarking)\n",
                       id),
                0);
    }
  } else if (!is_return && !strcmp(verb, "check")) {
    rc = check_only(t, &o);
  } else if (!is_return && !strcmp(verb, "remove") && o.code) {
    int s = sale_remove(t, (uint32_t)strtoul(o.code, NULL, 10));
    rc = s ? sale_failed(s, t) : 0;
  } else if (!is_return && !strcmp(verb, "show")) {
    rc = show(t, &o);
  } else if (!strcmp(verb, "pay")) {
    rc = pay(t, &o, is_return);
  } else if (!is_return && !strcmp(verb, "cancel")) {
    int s = sale_cancel(t);
    rc = s ? sale_failed(s, t) : (puts("Чек отменён. / Receipt cancelled."), 0);
  } else if (!is_return && !strcmp(verb, "print") && o.code) {
    rc = print_receipt(t, (uint32_t)strtoul(o.code, NULL, 10), o.width, false);
  }
  if (rc == 2) fputs(usage, stderr);
  till_close(t);
  return rc;
}

int cli_sale(const kassa_config_t *cfg, int argc, char **argv)
{
  return run(cfg, argc, argv, false);
}

int cli_return(const kassa_config_t *cfg, int argc, char **argv)
{
  return run(cfg, argc, argv, true);
}
