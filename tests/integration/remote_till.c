/*
** tests/integration/remote_till.c: the till of a remote shop, for
** test_remote_shop.py (issue 4, "a simulated remote shop runs four days").
**
** What a till's sale path does for a marked good, with the real pieces:
** ask ofd/outbox.h whether marked goods may be sold now
** (outbox_status + outbox_may_sell_marked, the same call the till's sale
** path makes), check the code in the FN (its 44- or 88-character tail must
** verify with the keys the key server gave), accept it, and close a receipt
** with the marked line and a plain one. An autonomous FN never hears from
** the OISM, so there is no online check; that is why the three-day batch
** exists. The FN's clock is the system clock, which the script moves with
** KASSA_FAKE_NOW (fiscal/fn_emu.h), so each run happens at the hour the
** script says. A shift older than 24 hours is closed and a new one opened,
** as a cashier would at the start of the day.
**
**   remote_till sell DIR --codes FILE [--first K] --count N
**       sell codes K..K+N-1 of FILE (one a line, \x1d escapes), one receipt
**       each; prints "sold DOC CODE" per receipt, then "sold N"
**       exits 3 with "refused: REASON" on stderr the moment the outbox
**       refuses a marked sale (no receipt is begun), 1 on any other fault.
**   remote_till may-sell DIR
**       prints "may-sell yes" or "may-sell no REASON"; exit 0.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fiscal/crypto.h"
#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "ofd/outbox.h"
#include "tests/support/fn_fixture.h"

#define MAX_CODES     1000
#define PRICE_KOPECKS 25000u

/* Line k (0-based, empty lines not counted) of FILE with \x1d unescaped,
** into km. */
static size_t read_code(const char *file, unsigned k, char km[DOC_MAX_KM + 1])
{
  FILE *f = fopen(file, "r");
  char line[1024];
  unsigned n = 0;
  if (!f) fn_fixture_fail("cannot read %s", file);
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '\n' || n++ != k) continue;
    fclose(f);
    return fn_fixture_unescape(line, km);
  }
  fn_fixture_fail("%s has no code %u", file, k);
}

/* The question the till asks before every marked sale. */
static bool may_sell(fn_t *fn, char *reason, size_t size)
{
  outbox_status_t s;
  outbox_notice_t why;
  fn_fixture_must(outbox_status(fn, 0, NULL, &s), "outbox status");
  bool yes = outbox_may_sell_marked(&s, NULL, &why);
  reason[0] = '\0';
  if (!yes) outbox_notice_both(&why, reason, size);
  return yes;
}

static void shift_ready(fn_t *fn)
{
  fn_status_t st;
  fn_fixture_must(fn_status(fn, &st), "status");
  if (st.shift_open && st.now - st.shift_opened_at > 24u * 3600u)
    fn_fixture_must(fn_shift_close(fn, "Cashier", NULL), "shift close");
  fn_fixture_must(fn_status(fn, &st), "status");
  if (!st.shift_open) fn_fixture_must(fn_shift_open(fn, "Cashier", NULL), "shift open");
}

static int cmd_sell(const char *dir, int argc, char **argv)
{
  const char *codes = NULL;
  unsigned first = 0, count = 0;
  for (int i = 0; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--codes"))
      codes = argv[i + 1];
    else if (!strcmp(argv[i], "--first"))
      first = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--count"))
      count = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else
      fn_fixture_fail("unknown option %s", argv[i]);
  }
  if (argc % 2 || !codes || !count) fn_fixture_fail("sell needs --codes and --count");
  fn_t *fn = fn_fixture_open_dir(dir);
  for (unsigned k = first; k < first + count; k++) {
    static doc_item_t it, plain;
    static fn_km_check_t check;
    char reason[2 * OUTBOX_NOTICE_MAX + 8];
    fn_doc_result_t res;
    if (!may_sell(fn, reason, sizeof reason)) {
      fprintf(stderr, "refused: %s\n", reason[0] ? reason : "(no reason)");
      fn_free(fn);
      return 3;
    }
    shift_ready(fn);
    char name[32], km[DOC_MAX_KM + 1];
    snprintf(name, sizeof name, "Сапоги %u", k);
    read_code(codes, k, km);
    fn_fixture_marked_item(&it, name, PRICE_KOPECKS, km);
    fn_fixture_must(fn_km_check(fn, &it, &check), "km check");
    if (check.tail_status != FN_TAIL_VALID)
      fn_fixture_fail("the FN did not verify the tail of code %u (status %d)", k,
                      check.tail_status);
    if (!(check.check_result & DOC_2106_AUTONOMOUS))
      fn_fixture_fail("2106 lacks the autonomous bit");
    fn_fixture_must(fn_km_accept(fn, it.km, it.km_len, true), "accept");
    fn_fixture_item(&plain, "Хлеб", 4500u);
    fn_fixture_must(fn_receipt_begin(fn, DOC_OP_SALE, 1, "Cashier"), "begin");
    fn_fixture_must(fn_receipt_add(fn, &it), "add marked");
    fn_fixture_must(fn_receipt_add(fn, &plain), "add plain");
    fn_fixture_must(fn_receipt_close(fn, PRICE_KOPECKS + 4500u, 0, false, &res), "close");
    printf("sold %u ", res.number);
    fn_fixture_print_escaped(stdout, it.km);
    putchar('\n');
  }
  printf("sold %u\n", count);
  fn_free(fn);
  return 0;
}

int main(int argc, char **argv)
{
  fn_fixture_driver("remote_till");
  int rc = crypto_init();
  if (rc != 0) fn_fixture_fail("crypto: %s", crypto_error_message(rc));
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 3 && !strcmp(argv[1], "sell")) {
    rc = cmd_sell(argv[2], argc - 3, argv + 3);
  } else if (argc == 3 && !strcmp(argv[1], "may-sell")) {
    fn_t *fn = fn_fixture_open_dir(argv[2]);
    char reason[2 * OUTBOX_NOTICE_MAX + 8];
    bool yes = may_sell(fn, reason, sizeof reason);
    printf("may-sell %s%s%s\n", yes ? "yes" : "no", reason[0] ? " " : "", reason);
    fn_free(fn);
    rc = 0;
  } else {
    fprintf(stderr, "usage: remote_till sell DIR --codes FILE [--first K] --count N | "
                    "may-sell DIR\n");
    rc = 2;
  }
  crypto_shutdown();
  return rc;
}
