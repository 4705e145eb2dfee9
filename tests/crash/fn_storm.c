/*
** tests/crash/fn_storm.c: writes receipts into an emulated FN as fast as it
** can, to be killed.
**
** fn_crash starts this program, SIGKILLs it at a random moment, starts it
** again, hundreds of times, and then checks the archive. So this program
** does what a till does, with nothing to protect it: it opens the FN,
** cancels a receipt a previous life left open (as a till does after a
** crash), and then forever opens shifts, sells (some lines marked: checked,
** accepted, sold; half the receipts by the single calls, half as one
** fn_receipt_make, as the till makes them), closes shifts after 20
** receipts. After each document is
** committed it writes "doc N" to stdout, unbuffered, so the harness knows
** which numbers were promised to a customer before the kill.
**
**   fn_storm --init PATH   create and register an FN, load a key (run once)
**   fn_storm PATH          write until killed
**
** Codes are made from the next document number and the line, with a genuine
** 44-character tail, so a code a killed life checked but never sold is
** checked again in place by the next life rather than piling up.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fiscal/crypto.h"
#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "tests/support/fn_fixture.h"

#define STORM_FN_NUMBER "9999078900004242"
#define KEY_ID          "TH01"
#define SHIFT_RECEIPTS  20

/* The key server's HMAC key (the tests' one); the harness needs nothing
** from it. */
static fn_key_t key;

/* One line to stdout with one write(2): nothing buffered dies with us. */
static void say(const char *format, ...)
{
  char line[128];
  va_list ap;
  va_start(ap, format);
  int n = vsnprintf(line, sizeof line, format, ap);
  va_end(ap);
  if (n > 0 && (size_t)n < sizeof line && write(STDOUT_FILENO, line, (size_t)n) != n) exit(3);
}

static void die(const char *what, int rc)
{
  fprintf(stderr, "fn_storm: %s: %s (%s)\n", what, fn_err_name(rc), fn_err_message(rc, false));
  exit(2);
}

/* A marked line whose code is made from (document, line). */
static doc_item_t marked_make(uint32_t document, unsigned line)
{
  char ki[40], km[FN_FIXTURE_CODE_MAX];
  doc_item_t it;
  snprintf(ki, sizeof ki,
           "0104600000000015"
           "21"
           "%08u%05u",
           document, line);
  if (fn_fixture_code_44(km, ki, key.id, &key) == 0) die("hmac", FN_ERR_FAILURE);
  fn_fixture_marked_item(&it, "Ботинки", 1000u + line, km);
  it.product_tag = 1305; /* 1163: GS1 code of a marked good, the KI */
  snprintf(it.product_value, sizeof it.product_value, "%s", ki);
  return it;
}

static int storm_init(const char *path)
{
  fn_t *fn = NULL;
  fn_registration_t r;
  int rc;
  if ((rc = fn_emu_create(path, STORM_FN_NUMBER)) != 0) die("create", rc);
  if ((rc = fn_emu_open(path, NULL, &fn)) != 0) die("open", rc);
  fn_fixture_registration(&r, false);
  if ((rc = fn_fixture_prepare(fn, &r, &key, NULL)) != 0) die("register and key", rc);
  fn_free(fn);
  return 0;
}

static void sell(fn_t *fn, uint32_t next)
{
  doc_item_t marked[4], plain; /* room for the plain line after 0..3 marked */
  fn_km_check_t check;
  fn_doc_result_t res;
  unsigned count = (unsigned)(rand() % 4); /* 0..3 marked lines */
  int rc;
  fn_fixture_item(&plain, "Пакет", 500);
  uint64_t total = plain.total;
  for (unsigned i = 0; i < count; i++) {
    marked[i] = marked_make(next, i);
    if ((rc = fn_km_check(fn, &marked[i], &check)) != 0) die("km check", rc);
    if (check.tail_status != FN_TAIL_VALID) die("tail not valid", FN_ERR_VALUE);
    if ((rc = fn_km_accept(fn, marked[i].km, marked[i].km_len, true)) != 0) die("km accept", rc);
    total += marked[i].total;
  }
  if (rand() % 2) { /* as the till closes: one call */
    marked[count] = plain;
    fn_receipt_order_t o = {.operation = DOC_OP_SALE,
                            .tax_system = 1,
                            .cashier = "Шторм",
                            .items = marked,
                            .count = count + 1,
                            .pay = {.cash = total / 2, .cashless = total - total / 2}};
    if ((rc = fn_receipt_make(fn, &o, &res)) != 0) die("receipt make", rc);
    say("doc %u\n", res.number);
    return;
  }
  if ((rc = fn_receipt_begin(fn, DOC_OP_SALE, 1, "Шторм")) != 0) die("receipt begin", rc);
  for (unsigned i = 0; i < count; i++) {
    if ((rc = fn_receipt_add(fn, &marked[i])) != 0) die("receipt add (marked)", rc);
  }
  if ((rc = fn_receipt_add(fn, &plain)) != 0) die("receipt add", rc);
  if ((rc = fn_receipt_close(fn, total / 2, total - total / 2, false, &res)) != 0)
    die("receipt close", rc);
  say("doc %u\n", res.number);
}

static _Noreturn void storm(const char *path)
{
  /* Codes a killed life checked but never sold stay in the table until a
  ** till declines them; give them room, the harness counts them. */
  fn_emu_options_t options = {.checked_km_capacity = 100000};
  fn_t *fn = NULL;
  fn_status_t s;
  fn_doc_result_t res;
  int rc;
  if ((rc = fn_emu_open(path, &options, &fn)) != 0) die("open", rc);
  if ((rc = fn_status(fn, &s)) != 0) die("status", rc);
  if (s.receipt_open && (rc = fn_receipt_cancel(fn)) != 0) die("cancel", rc);
  say("ready %u\n", s.last_document);
  for (;;) {
    if ((rc = fn_status(fn, &s)) != 0) die("status", rc);
    if (!s.shift_open) {
      if ((rc = fn_shift_open(fn, "Шторм", &res)) != 0) die("shift open", rc);
      say("doc %u\n", res.number);
    } else if (s.receipts_in_shift >= SHIFT_RECEIPTS) {
      if ((rc = fn_shift_close(fn, "Шторм", &res)) != 0) die("shift close", rc);
      say("doc %u\n", res.number);
    } else {
      sell(fn, s.last_document + 1);
    }
  }
}

int main(int argc, char **argv)
{
  int rc;
  if ((rc = crypto_init()) != 0) {
    fprintf(stderr, "fn_storm: %s\n", crypto_error_message(rc));
    return 2;
  }
  srand((unsigned)getpid());
  fn_fixture_hmac_key(&key, KEY_ID);
  if (argc == 3 && strcmp(argv[1], "--init") == 0) return storm_init(argv[2]);
  if (argc == 2) storm(argv[1]);
  fprintf(stderr, "usage: fn_storm [--init] PATH\n");
  return 2;
}
