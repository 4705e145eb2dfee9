/*
** tests/integration/e2e_till.c: the till's side of the end-to-end delivery
** tests (test_e2e_delivery.py, test_delivery_faults.py).
**
** What it proves, together with those scripts: a cashier's day of marked
** sales goes through the real pieces and nothing else. The FN is the
** emulator's SQLite file (real numbering, real HMAC-Streebog fiscal signs);
** the verification keys come from kassa-operator's key port through
** ofd_keys_update; every marking code is one the operator issued, checked by
** the FN (fn_km_check: a 44- or 88-character tail must verify with those
** keys, a 93 short code is uncheckable), sent to the OISM as the FN's sealed
** 81 with ofd_km_request (the answer must be 2109 = 1, which the FN records
** as 2106 bit 8), accepted and sold; the documents and the sale
** notifications are then delivered with ofd_deliver_documents and
** ofd_deliver_notifications over loopback TCP. Any step that does not go as
** a real till needs it to is a failure (exit 1) with the reason on stderr,
** so the scripts can trust the counts printed on stdout.
**
**   e2e_till init DIR FN_NUMBER
**       create and register DIR/fn.db (online, marking)
**   e2e_till sell DIR --keys PORT --oism PORT --codes FILE --receipts N
**                [--shift-every K] [--ofd PORT] [--sold FILE]
**       fetch keys; sell N receipts, each with one plain line and 0-3
**       marked lines taken in order from FILE (one code a line, \x1d
**       escapes as `kassa-operator issue` prints them); receipt r has no
**       marked line when r % 4 == 3, else r % 3 + 1 of them while codes
**       last; shifts are closed and reopened every K receipts (100); the
**       sold codes go to --sold; with --ofd, deliver everything at the end
**   e2e_till recheck DIR --oism PORT --codes FILE
**       check each code again as for a sale and print the OISM's 2109 and
**       the FN's 2106 for it ("recheck I 2109=S 2106=B"), then decline it
**
** Output lines the scripts read: "keys N", "tails valid=A uncheckable=B",
** "sold receipts=R marked=M codes=C documents=D notifications=S",
** "delivered documents=D notifications=S", "recheck ...".
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fiscal/crypto.h"
#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "ofd/client.h"

#define MAX_CODES     20000
#define KM_BUDGET_MS  10000
#define MAX_LINES     4
#define PRICE_KOPECKS 12345u

static void fail(const char *format, ...)
{
  va_list ap;
  va_start(ap, format);
  fputs("e2e_till: ", stderr);
  vfprintf(stderr, format, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static void fn_ok(int rc, const char *what)
{
  if (rc != 0) fail("%s: FN %s (%s)", what, fn_err_name(rc), fn_err_message(rc, false));
}

static void ofd_ok(int rc, const char *what)
{
  if (rc != 0) fail("%s: %s (%s)", what, ofd_err_name(rc), ofd_err_message(rc, false));
}

static fn_t *open_fn(const char *dir)
{
  char path[4096];
  fn_t *fn = NULL;
  snprintf(path, sizeof path, "%s/fn.db", dir);
  fn_ok(fn_emu_open(path, NULL, &fn), "open");
  return fn;
}

static ofd_client_t *client(uint16_t port, frame_profile_t profile)
{
  ofd_client_options_t o;
  ofd_client_t *c = NULL;
  ofd_client_options_init(&o);
  o.host = "127.0.0.1";
  o.port = port;
  o.profile = profile;
  o.answer_timeout_ms = KM_BUDGET_MS;
  ofd_ok(ofd_client_create(&o, &c), "client");
  return c;
}

static uint16_t port_arg(const char *s)
{
  char *end = NULL;
  unsigned long v = strtoul(s, &end, 10);
  if (!*s || *end || v == 0 || v > 65535) fail("bad port %s", s);
  return (uint16_t)v;
}

/* Codes from FILE, \x1d and \\ unescaped; *n gets the count. */
static char **read_codes(const char *file, size_t *n)
{
  FILE *f = fopen(file, "r");
  char line[1024];
  char **codes = calloc(MAX_CODES, sizeof *codes);
  *n = 0;
  if (!f || !codes) fail("cannot read %s", file);
  while (fgets(line, sizeof line, f)) {
    char km[DOC_MAX_KM + 1];
    size_t o = 0;
    for (size_t i = 0; line[i] && line[i] != '\n' && line[i] != '\r'; i++) {
      if (o + 1 >= sizeof km) fail("code too long: %s", line);
      if (strncmp(line + i, "\\x1d", 4) == 0 || strncmp(line + i, "\\x1D", 4) == 0) {
        km[o++] = 0x1d;
        i += 3;
      } else if (line[i] == '\\' && line[i + 1] == '\\') {
        km[o++] = '\\';
        i++;
      } else {
        km[o++] = line[i];
      }
    }
    km[o] = '\0';
    if (o == 0) continue;
    if (*n == MAX_CODES) fail("more than %d codes", MAX_CODES);
    if (!(codes[*n] = strdup(km))) fail("no memory");
    (*n)++;
  }
  fclose(f);
  return codes;
}

static void marked_item(doc_item_t *it, const char *km, unsigned line)
{
  memset(it, 0, sizeof *it);
  snprintf(it->name, sizeof it->name, "Marked good %u", line);
  it->price = it->total = PRICE_KOPECKS;
  it->quantity = (doc_quantity_t){1, 0};
  it->vat = 1;
  it->subject = 33;
  it->payment_method = 4;
  it->marked = true;
  it->km_len = strlen(km);
  memcpy(it->km, km, it->km_len + 1);
  it->km_status = DOC_KM_PIECE_SOLD;
}

static int cmd_init(const char *dir, const char *number)
{
  char path[4096];
  fn_registration_t r;
  fn_t *fn = NULL;
  snprintf(path, sizeof path, "%s/fn.db", dir);
  fn_ok(fn_emu_create(path, number), "create");
  fn_ok(fn_emu_open(path, NULL, &fn), "open");
  memset(&r, 0, sizeof r);
  strcpy(r.header.kkt_reg_number, "0000000001012345");
  strcpy(r.header.user_inn, "7707083893");
  strcpy(r.header.user_name, "Shop");
  strcpy(r.header.address, "Moscow, Tverskaya 1");
  strcpy(r.header.place, "Shop");
  strcpy(r.header.cashier, "Cashier");
  r.reg.tax_systems = 1;
  strcpy(r.reg.ofd_inn, "7704211201");
  strcpy(r.reg.ofd_name, "OFD");
  strcpy(r.reg.kkt_serial, "00106700000042");
  r.reg.marking = true;
  r.reg.ffd_version = 4;
  fn_ok(fn_register(fn, &r, false, NULL), "register");
  fn_free(fn);
  printf("init %s\n", number);
  return 0;
}

/* Checks one code for a sale through the FN and the OISM; the till's rule:
** a checkable tail must verify, the OISM must say 1 (2106 bit 8). */
static void check_for_sale(fn_t *fn, ofd_client_t *oism, doc_item_t *it, unsigned *valid,
                           unsigned *uncheckable)
{
  static fn_km_check_t check, answered;
  fn_ok(fn_km_check(fn, it, &check), "km check");
  if (check.km_type == 2 || check.km_type == 4) {
    if (check.tail_status != FN_TAIL_VALID)
      fail("tail of a %s-character code does not verify (status %d): %s",
           check.km_type == 2 ? "88" : "44", check.tail_status, it->km);
    (*valid)++;
  } else {
    if (check.tail_status != FN_TAIL_UNCHECKABLE)
      fail("a code of 2100 type %u has tail status %d: %s", check.km_type, check.tail_status,
           it->km);
    (*uncheckable)++;
  }
  ofd_ok(ofd_km_request(fn, oism, &check, KM_BUDGET_MS, &answered), "km request");
  if (!(answered.check_result & 0x08))
    fail("OISM did not confirm the code (2106 = 0x%02x): %s", answered.check_result, it->km);
  fn_ok(fn_km_accept(fn, it->km, it->km_len, true), "accept");
}

static void deliver(fn_t *fn, uint16_t ofd_port, uint16_t oism_port)
{
  ofd_client_t *ofd = client(ofd_port, FRAME_PROFILE_OFD);
  ofd_client_t *oism = client(oism_port, FRAME_PROFILE_OISM);
  ofd_delivery_stats_t d, n;
  int rc = ofd_deliver_documents(fn, ofd, NULL, NULL, &d);
  if (rc != 0)
    fail("deliver documents: %s at %u (1022 = %u, %u left)", ofd_err_name(rc), d.stopped_at,
         d.answer_code, d.remaining);
  rc = ofd_deliver_notifications(fn, oism, NULL, NULL, &n);
  if (rc != 0)
    fail("deliver notifications: %s at %u (%u left)", ofd_err_name(rc), n.stopped_at, n.remaining);
  if (n.rejected) fail("%u notifications ticketed as bad", n.rejected);
  printf("delivered documents=%u notifications=%u\n", d.delivered, n.delivered);
  ofd_client_destroy(ofd);
  ofd_client_destroy(oism);
}

static int cmd_sell(const char *dir, int argc, char **argv)
{
  static doc_item_t items[MAX_LINES];
  uint16_t keys_port = 0, oism_port = 0, ofd_port = 0;
  const char *codes_file = NULL, *sold_file = NULL;
  unsigned receipts = 0, shift_every = 100, valid = 0, uncheckable = 0, marked_receipts = 0;
  size_t ncodes = 0, next = 0, nkeys = 0;
  fn_status_t st;
  FILE *sold = NULL;

  for (int i = 0; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--keys"))
      keys_port = port_arg(argv[i + 1]);
    else if (!strcmp(argv[i], "--oism"))
      oism_port = port_arg(argv[i + 1]);
    else if (!strcmp(argv[i], "--ofd"))
      ofd_port = port_arg(argv[i + 1]);
    else if (!strcmp(argv[i], "--codes"))
      codes_file = argv[i + 1];
    else if (!strcmp(argv[i], "--sold"))
      sold_file = argv[i + 1];
    else if (!strcmp(argv[i], "--receipts"))
      receipts = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--shift-every"))
      shift_every = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else
      fail("unknown option %s", argv[i]);
  }
  if (argc % 2 || !keys_port || !oism_port || !codes_file || !receipts || !shift_every)
    fail("sell needs --keys, --oism, --codes and --receipts");
  char **codes = read_codes(codes_file, &ncodes);
  if (sold_file && !(sold = fopen(sold_file, "w"))) fail("cannot write %s", sold_file);

  fn_t *fn = open_fn(dir);
  ofd_client_t *keys = client(keys_port, FRAME_PROFILE_KEYS);
  ofd_client_t *oism = client(oism_port, FRAME_PROFILE_OISM);
  ofd_ok(ofd_keys_update(fn, keys, &nkeys), "keys");
  ofd_client_destroy(keys);
  printf("keys %zu\n", nkeys);

  for (unsigned r = 0; r < receipts; r++) {
    unsigned want = r % 4 == 3 ? 0 : r % 3 + 1, lines = 0;
    uint64_t total = 0;
    fn_ok(fn_status(fn, &st), "status");
    if (st.shift_open && st.receipts_in_shift >= shift_every)
      fn_ok(fn_shift_close(fn, "Cashier", NULL), "shift close");
    fn_ok(fn_status(fn, &st), "status");
    if (!st.shift_open) fn_ok(fn_shift_open(fn, "Cashier", NULL), "shift open");
    for (unsigned k = 0; k < want && next < ncodes; k++, lines++) {
      marked_item(&items[lines], codes[next++], lines);
      check_for_sale(fn, oism, &items[lines], &valid, &uncheckable);
    }
    if (lines) marked_receipts++;
    fn_ok(fn_receipt_begin(fn, DOC_OP_SALE, 1, "Cashier"), "begin");
    for (unsigned k = 0; k < lines; k++) {
      fn_ok(fn_receipt_add(fn, &items[k]), "add marked line");
      total += items[k].total;
    }
    doc_item_t plain;
    memset(&plain, 0, sizeof plain);
    snprintf(plain.name, sizeof plain.name, "Bread %u", r);
    plain.price = plain.total = 4990u + r;
    plain.quantity = (doc_quantity_t){1, 0};
    plain.vat = 1;
    plain.subject = 1;
    plain.payment_method = 4;
    fn_ok(fn_receipt_add(fn, &plain), "add plain line");
    total += plain.total;
    fn_ok(fn_receipt_close(fn, r % 2 ? total : 0, r % 2 ? 0 : total, false, NULL), "close");
    for (unsigned k = 0; k < lines && sold; k++) {
      for (const char *p = items[k].km; *p; p++) {
        if (*p == 0x1d)
          fputs("\\x1d", sold);
        else
          fputc(*p, sold);
      }
      fputc('\n', sold);
    }
  }
  fn_ok(fn_status(fn, &st), "status");
  if (st.shift_open) fn_ok(fn_shift_close(fn, "Cashier", NULL), "shift close");
  fn_ok(fn_status(fn, &st), "status");
  printf("tails valid=%u uncheckable=%u\n", valid, uncheckable);
  printf("sold receipts=%u marked=%u codes=%zu documents=%u notifications=%u\n", receipts,
         marked_receipts, next, st.unsent_documents, st.unsent_notifications);
  fflush(stdout);
  if (sold && fclose(sold) != 0) fail("cannot write %s", sold_file);
  ofd_client_destroy(oism);
  if (ofd_port) deliver(fn, ofd_port, oism_port);
  fn_free(fn);
  for (size_t i = 0; i < ncodes; i++) free(codes[i]);
  free(codes);
  return 0;
}

static int cmd_recheck(const char *dir, int argc, char **argv)
{
  static fn_km_check_t check, answered;
  static uint8_t answer[DOC_MAX_DOCUMENT];
  uint16_t oism_port = 0;
  const char *codes_file = NULL;
  size_t ncodes = 0;
  fn_status_t st;

  for (int i = 0; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--oism"))
      oism_port = port_arg(argv[i + 1]);
    else if (!strcmp(argv[i], "--codes"))
      codes_file = argv[i + 1];
    else
      fail("unknown option %s", argv[i]);
  }
  if (argc % 2 || !oism_port || !codes_file) fail("recheck needs --oism and --codes");
  char **codes = read_codes(codes_file, &ncodes);
  fn_t *fn = open_fn(dir);
  ofd_client_t *oism = client(oism_port, FRAME_PROFILE_OISM);
  fn_ok(fn_status(fn, &st), "status");
  for (size_t i = 0; i < ncodes; i++) {
    doc_item_t it;
    doc_summary_t sum;
    doc_km_answer_t a;
    size_t len = 0;
    marked_item(&it, codes[i], 0);
    fn_ok(fn_km_check(fn, &it, &check), "km check");
    /* The exchange by hand: the test needs the 2109 itself, not only the
    ** FN's conclusion from it. */
    if (doc_summarize(check.request, check.request_len, &sum) != 0) fail("81 does not parse");
    ofd_ok(ofd_client_exchange(oism, st.fn_number, DOC_KM_REQUEST, sum.number, check.request,
                               check.request_len, DOC_KM_ANSWER, answer, sizeof answer, &len,
                               KM_BUDGET_MS),
           "km request");
    if (doc_parse_km_answer(answer, len, &a) != 0 || a.request_number != sum.number)
      fail("the 83 is not about the request");
    fn_ok(fn_km_answer(fn, answer, len, &answered), "km answer");
    printf("recheck %zu 2109=%u 2105=%u 2106=%u\n", i, a.status_answer, a.processing_code,
           answered.check_result);
    fn_ok(fn_km_accept(fn, it.km, it.km_len, false), "decline");
    free(codes[i]);
  }
  free(codes);
  ofd_client_destroy(oism);
  fn_free(fn);
  return 0;
}

int main(int argc, char **argv)
{
  int rc = crypto_init();
  if (rc != 0) fail("crypto: %s", crypto_error_message(rc));
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 4 && !strcmp(argv[1], "init"))
    rc = cmd_init(argv[2], argv[3]);
  else if (argc >= 3 && !strcmp(argv[1], "sell"))
    rc = cmd_sell(argv[2], argc - 3, argv + 3);
  else if (argc >= 3 && !strcmp(argv[1], "recheck"))
    rc = cmd_recheck(argv[2], argc - 3, argv + 3);
  else {
    fprintf(stderr, "usage: e2e_till init DIR FN_NUMBER | sell DIR ... | recheck DIR ...\n");
    rc = 2;
  }
  crypto_shutdown();
  return rc;
}
