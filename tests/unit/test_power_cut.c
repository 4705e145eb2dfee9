/*
** test_power_cut.c: a power cut that takes the till's unflushed commits
** sells nothing twice and loses nothing the FN holds (issue 20).
**
** A receipt costs one flush: the FN's commit. The basket (till.db) and the
** replay of the archive into the code cache (cache.db) commit to their WAL
** without waiting for the disk, so a power cut may take any suffix of their
** commits while the FN keeps its receipt. A killed process loses none of
** them (the kill loops, `make crash`, cover that); this test makes the
** power cut by hand: the till's two files are copied, database and WAL,
** at a point before the close, the close runs, the till stops, and the
** copies are put back, as if the disk had kept only what it had then. The
** FN's file is not touched: its commit was flushed.
**
** What must follow at the next start: the basket that was closed is not
** offered again (the archive's receipt after the basket's opening is its),
** the cache says the code is sold by that receipt, the FN's table of
** checked codes is empty, the same code is refused in a new receipt, and
** the numbering goes on.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pos/till/cache.h"
#include "pos/till/check.h"
#include "pos/till/sale.h"
#include "pos/till/till.h"
#include "tests/support/till_fixture.h"

static char g_shoes[15], g_bread[15];

static int setup(void **state)
{
  till_fixture_t *f = till_fixture_shop("powercut", g_shoes, g_bread);
  *state = f;
  return f ? 0 : -1;
}

static int teardown(void **state)
{
  till_fixture_free(*state);
  return 0;
}

/* Copies DIR/name (and its -wal when there is one) to DIR/name.cut, or
** back when `back`; the -shm index is rebuilt by SQLite from the WAL. */
static void copy_file(const char *from, const char *to)
{
  FILE *in = fopen(from, "rb"), *out;
  char buf[65536];
  size_t n;
  unlink(to);
  if (!in) return; /* no WAL at this moment */
  out = fopen(to, "wb");
  assert_non_null(out);
  while ((n = fread(buf, 1, sizeof buf, in)) > 0) assert_int_equal(fwrite(buf, 1, n, out), n);
  fclose(in);
  assert_int_equal(fclose(out), 0);
}

static void snapshot(const till_fixture_t *f, const char *name, bool back)
{
  static const char *const parts[] = {"", "-wal"};
  char live[512], kept[512];
  for (size_t i = 0; i < 2; i++) {
    snprintf(live, sizeof live, "%s/%s%s", f->fx.dir, name, parts[i]);
    snprintf(kept, sizeof kept, "%s/%s%s.cut", f->fx.dir, name, parts[i]);
    if (back)
      copy_file(kept, live);
    else
      copy_file(live, kept);
  }
  snprintf(live, sizeof live, "%s/%s-shm", f->fx.dir, name);
  if (back) unlink(live);
}

static size_t shoe_code(char *out, unsigned n, char ki[64])
{
  snprintf(ki, 64, "01%s21Pc%011u", g_shoes, n);
  size_t len = till_fixture_genuine_code(out, ki, false);
  assert_true(len > 0);
  return len;
}

/* One receipt of a marked and a plain line; the till's files are copied
** at `cut` (0: before the basket opened, 1: after its scans, before the
** close), then the close runs and the copies are put back. */
static void power_cut_at(till_fixture_t *f, int cut, unsigned serial)
{
  char code[200], ki[64];
  check_decision_t d;
  cache_code_t row;
  fn_status_t st;
  sale_closed_t closed;
  sale_basket_t *b = malloc(sizeof *b);
  assert_non_null(b);
  size_t len = shoe_code(code, serial, ki);
  if (cut == 0) {
    snapshot(f, "till.db", false);
    snapshot(f, "cache.db", false);
  }
  assert_int_equal(sale_open(f->till, 1, NULL), 0);
  assert_int_equal(sale_add_scan(f->till, code, len, NULL, 0, &d, NULL), 0);
  assert_int_equal(sale_add_scan(f->till, g_bread + 1, 13, NULL, 0, &d, NULL), 0);
  if (cut == 1) {
    snapshot(f, "till.db", false);
    snapshot(f, "cache.db", false);
  }
  assert_int_equal(sale_get(f->till, b), 0);
  assert_int_equal(sale_close(f->till, b->total, 0, &closed, NULL), 0);
  uint32_t sold_as = closed.doc.number;

  till_close(f->till); /* the power goes */
  f->till = NULL;
  snapshot(f, "till.db", true);
  snapshot(f, "cache.db", true);
  assert_int_equal(till_fixture_open(f), 0);

  /* Cut after the scans, the basket is back as it was before the close:
  ** the FN's receipt after its opening says it was sold. */
  assert_int_equal(sale_get(f->till, b), 0);
  assert_false(b->open);
  assert_int_equal(cache_code_get(till_cache(f->till), ki, &row), 0);
  assert_int_equal(row.local, CACHE_LOCAL_SOLD);
  assert_int_equal(row.sold_document, sold_as);
  assert_int_equal(fn_status(till_fn(f->till), &st), 0);
  assert_int_equal(st.checked_km, 0);
  assert_false(st.receipt_open);
  assert_int_equal(st.last_document, sold_as);

  /* Nothing twice: the code is refused, the numbering goes on. */
  assert_int_equal(sale_open(f->till, 1, NULL), 0);
  assert_int_equal(sale_add_scan(f->till, code, len, NULL, 0, &d, NULL), SALE_ERR_REFUSED);
  assert_string_equal(check_reason_name(d.reason), "already_sold");
  assert_int_equal(sale_add_scan(f->till, g_bread + 1, 13, NULL, 0, &d, NULL), 0);
  assert_int_equal(sale_get(f->till, b), 0);
  assert_int_equal(sale_close(f->till, b->total, 0, &closed, NULL), 0);
  assert_int_equal(closed.doc.number, sold_as + 1);
  free(b);
}

static void test_cut_after_the_scans(void **state) { power_cut_at(*state, 1, 1); }

static void test_cut_before_the_basket(void **state) { power_cut_at(*state, 0, 2); }

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_cut_after_the_scans, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cut_before_the_basket, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
