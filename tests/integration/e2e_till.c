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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fiscal/crypto.h"
#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "ofd/client.h"
#include "tests/support/fn_fixture.h"

#define MAX_CODES     20000
#define KM_BUDGET_MS  10000
#define MAX_LINES     4
#define PRICE_KOPECKS 12345u

static void ofd_ok(int rc, const char *what)
{
  if (rc != 0) fn_fixture_fail("%s: %s (%s)", what, ofd_err_name(rc), ofd_err_message(rc, false));
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
  if (!*s || *end || v == 0 || v > 65535) fn_fixture_fail("bad port %s", s);
  return (uint16_t)v;
}

/* Codes from FILE, \x1d and \\ unescaped; *n gets the count. */
static char **read_codes(const char *file, size_t *n)
{
  FILE *f = fopen(file, "r");
  char line[1024];
  char **codes = calloc(MAX_CODES, sizeof *codes);
  *n = 0;
  if (!f || !codes) fn_fixture_fail("cannot read %s", file);
  while (fgets(line, sizeof line, f)) {
    char km[DOC_MAX_KM + 1];
    if (fn_fixture_unescape(line, km) == 0) continue;
    if (*n == MAX_CODES) fn_fixture_fail("more than %d codes", MAX_CODES);
    if (!(codes[*n] = strdup(km))) fn_fixture_fail("no memory");
    (*n)++;
  }
  fclose(f);
  return codes;
}

static void marked_item(doc_item_t *it, const char *km, unsigned line)
{
  char name[32];
  snprintf(name, sizeof name, "Marked good %u", line);
  fn_fixture_marked_item(it, name, PRICE_KOPECKS, km);
}

static int cmd_init(const char *dir, const char *number)
{
  char path[4096];
  fn_registration_t r;
  snprintf(path, sizeof path, "%s/fn.db", dir);
  fn_fixture_must(fn_emu_create(path, number), "create");
  fn_t *fn = fn_fixture_open_dir(dir);
  fn_fixture_registration(&r, false);
  fn_fixture_must(fn_fixture_prepare(fn, &r, NULL, NULL), "register");
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
  fn_fixture_must(fn_km_check(fn, it, &check), "km check");
  if (check.km_type == 2 || check.km_type == 4) {
    if (check.tail_status != FN_TAIL_VALID)
      fn_fixture_fail("tail of a %s-character code does not verify (status %d): %s",
                      check.km_type == 2 ? "88" : "44", check.tail_status, it->km);
    (*valid)++;
  } else {
    if (check.tail_status != FN_TAIL_UNCHECKABLE)
      fn_fixture_fail("a code of 2100 type %u has tail status %d: %s", check.km_type,
                      check.tail_status, it->km);
    (*uncheckable)++;
  }
  ofd_ok(ofd_km_request(fn, oism, &check, KM_BUDGET_MS, &answered), "km request");
  if (!(answered.check_result & 0x08))
    fn_fixture_fail("OISM did not confirm the code (2106 = 0x%02x): %s", answered.check_result,
                    it->km);
  fn_fixture_must(fn_km_accept(fn, it->km, it->km_len, true), "accept");
}

static void deliver(fn_t *fn, uint16_t ofd_port, uint16_t oism_port)
{
  ofd_client_t *ofd = client(ofd_port, FRAME_PROFILE_OFD);
  ofd_client_t *oism = client(oism_port, FRAME_PROFILE_OISM);
  ofd_delivery_stats_t d, n;
  int rc = ofd_deliver_documents(fn, ofd, NULL, NULL, &d);
  if (rc != 0)
    fn_fixture_fail("deliver documents: %s at %u (1022 = %u, %u left)", ofd_err_name(rc),
                    d.stopped_at, d.answer_code, d.remaining);
  rc = ofd_deliver_notifications(fn, oism, NULL, NULL, &n);
  if (rc != 0)
    fn_fixture_fail("deliver notifications: %s at %u (%u left)", ofd_err_name(rc), n.stopped_at,
                    n.remaining);
  if (n.rejected) fn_fixture_fail("%u notifications ticketed as bad", n.rejected);
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
      fn_fixture_fail("unknown option %s", argv[i]);
  }
  if (argc % 2 || !keys_port || !oism_port || !codes_file || !receipts || !shift_every)
    fn_fixture_fail("sell needs --keys, --oism, --codes and --receipts");
  char **codes = read_codes(codes_file, &ncodes);
  if (sold_file && !(sold = fopen(sold_file, "w"))) fn_fixture_fail("cannot write %s", sold_file);

  fn_t *fn = fn_fixture_open_dir(dir);
  ofd_client_t *keys = client(keys_port, FRAME_PROFILE_KEYS);
  ofd_client_t *oism = client(oism_port, FRAME_PROFILE_OISM);
  ofd_ok(ofd_keys_update(fn, keys, &nkeys), "keys");
  ofd_client_destroy(keys);
  printf("keys %zu\n", nkeys);

  for (unsigned r = 0; r < receipts; r++) {
    unsigned want = r % 4 == 3 ? 0 : r % 3 + 1, lines = 0;
    uint64_t total = 0;
    fn_fixture_must(fn_status(fn, &st), "status");
    if (st.shift_open && st.receipts_in_shift >= shift_every)
      fn_fixture_must(fn_shift_close(fn, "Cashier", NULL), "shift close");
    fn_fixture_must(fn_status(fn, &st), "status");
    if (!st.shift_open) fn_fixture_must(fn_shift_open(fn, "Cashier", NULL), "shift open");
    for (unsigned k = 0; k < want && next < ncodes; k++, lines++) {
      marked_item(&items[lines], codes[next++], lines);
      check_for_sale(fn, oism, &items[lines], &valid, &uncheckable);
    }
    if (lines) marked_receipts++;
    fn_fixture_must(fn_receipt_begin(fn, DOC_OP_SALE, 1, "Cashier"), "begin");
    for (unsigned k = 0; k < lines; k++) {
      fn_fixture_must(fn_receipt_add(fn, &items[k]), "add marked line");
      total += items[k].total;
    }
    doc_item_t plain;
    char bread[32];
    snprintf(bread, sizeof bread, "Bread %u", r);
    fn_fixture_item(&plain, bread, 4990u + r);
    fn_fixture_must(fn_receipt_add(fn, &plain), "add plain line");
    total += plain.total;
    fn_fixture_must(fn_receipt_close(fn, r % 2 ? total : 0, r % 2 ? 0 : total, false, NULL),
                    "close");
    for (unsigned k = 0; k < lines && sold; k++) {
      fn_fixture_print_escaped(sold, items[k].km);
      fputc('\n', sold);
    }
  }
  fn_fixture_must(fn_status(fn, &st), "status");
  if (st.shift_open) fn_fixture_must(fn_shift_close(fn, "Cashier", NULL), "shift close");
  fn_fixture_must(fn_status(fn, &st), "status");
  printf("tails valid=%u uncheckable=%u\n", valid, uncheckable);
  printf("sold receipts=%u marked=%u codes=%zu documents=%u notifications=%u\n", receipts,
         marked_receipts, next, st.unsent_documents, st.unsent_notifications);
  fflush(stdout);
  if (sold && fclose(sold) != 0) fn_fixture_fail("cannot write %s", sold_file);
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
      fn_fixture_fail("unknown option %s", argv[i]);
  }
  if (argc % 2 || !oism_port || !codes_file) fn_fixture_fail("recheck needs --oism and --codes");
  char **codes = read_codes(codes_file, &ncodes);
  fn_t *fn = fn_fixture_open_dir(dir);
  ofd_client_t *oism = client(oism_port, FRAME_PROFILE_OISM);
  fn_fixture_must(fn_status(fn, &st), "status");
  for (size_t i = 0; i < ncodes; i++) {
    doc_item_t it;
    doc_summary_t sum;
    doc_km_answer_t a;
    size_t len = 0;
    marked_item(&it, codes[i], 0);
    fn_fixture_must(fn_km_check(fn, &it, &check), "km check");
    /* The exchange by hand: the test needs the 2109 itself, not only the
    ** FN's conclusion from it. */
    if (doc_summarize(check.request, check.request_len, &sum) != 0)
      fn_fixture_fail("81 does not parse");
    ofd_ok(ofd_client_exchange(oism, st.fn_number, DOC_KM_REQUEST, sum.number, check.request,
                               check.request_len, DOC_KM_ANSWER, answer, sizeof answer, &len,
                               KM_BUDGET_MS),
           "km request");
    if (doc_parse_km_answer(answer, len, &a) != 0 || a.request_number != sum.number)
      fn_fixture_fail("the 83 is not about the request");
    fn_fixture_must(fn_km_answer(fn, answer, len, &answered), "km answer");
    printf("recheck %zu 2109=%u 2105=%u 2106=%u\n", i, a.status_answer, a.processing_code,
           answered.check_result);
    fn_fixture_must(fn_km_accept(fn, it.km, it.km_len, false), "decline");
    free(codes[i]);
  }
  free(codes);
  ofd_client_destroy(oism);
  fn_free(fn);
  return 0;
}

int main(int argc, char **argv)
{
  fn_fixture_driver("e2e_till");
  int rc = crypto_init();
  if (rc != 0) fn_fixture_fail("crypto: %s", crypto_error_message(rc));
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
