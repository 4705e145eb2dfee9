/*
** test_till.c: the till's checkout, returns and crash repair, on a real FN
** emulator file, a real code cache and a real basket, with no operator
** ([till] check = offline), so every decision here is the till's own.
**
** What it proves: plain, weighed and marked sales close into the FN and the
** receipt text carries the mark and the QR string; the refusals the till
** decides locally each come with their stable reason (bad_code,
** unknown_product, mark_required, group_mismatch, duplicate, already_sold,
** blocked, not_in_stock, counterfeit, expired, price_above_max,
** not_sold_here); a refused code does not stay in the FN's table of checked
** codes; codes become SOLD only through the archive replay, and a return
** puts them back in stock; a return without a code waits for remarking; a
** crash after the FN closed the receipt, or in the middle of the close, is
** repaired by till_open() with nothing sold twice and nothing lost. When
** the code cache decides as the local module (synced, not stale) the line
** carries the module's 1265 form, "&" and "=" of the sync position made
** safe, and none otherwise; offline, a tobacco block meets the per-pack
** minimum times 10 and a nicotine product (group 16) its cached minimum.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fiscal/crypto.h"
#include "fiscal/fn.h"
#include "pos/print/receipt.h"
#include "pos/till/cache.h"
#include "pos/till/check.h"
#include "pos/till/correction.h"
#include "pos/till/money.h"
#include "pos/till/sale.h"
#include "pos/till/till.h"
#include "tests/support/fn_fixture.h"
#include "tests/support/till_fixture.h"

#define GS "\x1d"

/* The register (FN, cache, basket, clocks): tests/support/till_fixture.h. */
typedef till_fixture_t fixture_t;

static void open_till(fixture_t *f) { assert_int_equal(till_fixture_open(f), 0); }

/* A GTIN with its check digit from 13 digits. */
static void gtin14(const char *thirteen, char out[15]) { till_fixture_gtin14(thirteen, out); }

static char g_shoes[15], g_bread[15], g_milk[15], g_tobacco[15], g_strict[15], g_apples[15];

static void product(fixture_t *f, const char *gtin, const char *name, uint64_t price,
                    const char *group, bool strict, bool weighed)
{
  assert_int_equal(till_fixture_product(f, gtin, name, price, group, strict, weighed), 0);
}

static int setup(void **state)
{
  fixture_t *f = calloc(1, sizeof *f);
  if (!f) return -1;
  if (till_fixture_create(f, "till", NULL) != 0) {
    till_fixture_destroy(f);
    free(f);
    return -1;
  }
  gtin14("0460000000101", g_shoes);
  gtin14("0460000000202", g_bread);
  gtin14("0460000000303", g_milk);
  gtin14("0460000000404", g_tobacco);
  gtin14("0460000000505", g_strict);
  gtin14("0460000000606", g_apples);
  product(f, g_shoes, "Кроссовки «Бег»", 499000, "footwear", false, false);
  product(f, g_bread, "Хлеб", 4500, "", false, false);
  product(f, g_milk, "Молоко 3,2%", 8900, "dairy", false, false);
  product(f, g_tobacco, "Сигареты", 15000, "tobacco", false, false);
  product(f, g_strict, "Туфли", 300000, "footwear", true, false);
  product(f, g_apples, "Яблоки", 12000, "", false, true);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  till_fixture_destroy(f);
  free(f);
  return 0;
}

/* A code with a genuine 44-character tail (HMAC of the ki with the FN's
** key), one character changed when spoil. */
static size_t genuine_code(char *out, const char *ki, bool spoil)
{
  size_t n = till_fixture_genuine_code(out, ki, spoil);
  assert_true(n > 0);
  return n;
}

/* A footwear code for serial n. */
static size_t shoe_code(char *out, unsigned n, bool spoil)
{
  char ki[64];
  snprintf(ki, sizeof ki, "01%s21Sh%011u", g_shoes, n);
  return genuine_code(out, ki, spoil);
}

static void ki_of(char *out, unsigned n) { sprintf(out, "01%s21Sh%011u", g_shoes, n); }

static int add(fixture_t *f, const char *code, check_decision_t *d)
{
  return sale_add_scan(f->till, code, strlen(code), NULL, 0, d, NULL);
}

static sale_closed_t pay_all(fixture_t *f)
{
  sale_basket_t *b = malloc(sizeof *b);
  sale_closed_t c;
  assert_non_null(b);
  assert_int_equal(sale_get(f->till, b), 0);
  assert_int_equal(sale_close(f->till, b->total, 0, &c, NULL), 0);
  free(b);
  return c;
}

static uint32_t checked_in_fn(fixture_t *f)
{
  fn_status_t st;
  assert_int_equal(fn_status(till_fn(f->till), &st), 0);
  return st.checked_km;
}

/* ---------------------------------------------------------------------- */

static void test_plain_and_weighed_sale(void **state)
{
  fixture_t *f = *state;
  check_decision_t d;
  doc_quantity_t kg = {350, 3};
  /* An empty sale does not block a return (a refused first scan leaves
  ** one open), and an empty return does not block a sale; a second sale
  ** over an open sale is refused. */
  assert_int_equal(sale_open(f->till, 1, "Иванова"), 0);
  assert_int_equal(sale_open(f->till, 1, NULL), SALE_ERR_OPEN);
  assert_int_equal(sale_open(f->till, 2, "Менеджер"), 0);
  sale_basket_t *ret = malloc(sizeof *ret);
  assert_int_equal(sale_get(f->till, ret), 0);
  assert_true(ret->open && ret->operation == 2 && !strcmp(ret->cashier, "Менеджер"));
  free(ret);
  assert_int_equal(sale_open(f->till, 1, "Иванова"), 0);
  assert_int_equal(add(f, g_bread + 1, &d), 0);                 /* the EAN-13 on the bag */
  assert_int_equal(sale_open(f->till, 2, NULL), SALE_ERR_OPEN); /* not over a line */
  assert_true(d.allow);
  assert_false(d.marked);
  /* Weighed goods need a weight; 0.350 kg at 120.00 is 42.00. */
  assert_int_equal(sale_add_scan(f->till, g_apples + 1, 13, NULL, 0, &d, NULL), SALE_ERR_ARGUMENT);
  assert_int_equal(sale_add_scan(f->till, g_apples + 1, 13, &kg, 0, &d, NULL), 0);
  sale_basket_t *b = malloc(sizeof *b);
  assert_int_equal(sale_get(f->till, b), 0);
  assert_int_equal(b->count, 2);
  assert_int_equal(b->lines[1].total, 4200);
  assert_int_equal(b->lines[1].measure, 11);
  assert_int_equal(b->total, 4500 + 4200);
  assert_int_equal(sale_close(f->till, 5000, 100, NULL, NULL), SALE_ERR_PAYMENT);
  sale_closed_t c;
  assert_int_equal(sale_close(f->till, 5000, 3700, &c, NULL), 0);
  assert_true(c.doc.number > 0);
  assert_non_null(strstr(c.qr, "&s=87.00&"));
  assert_int_equal(sale_get(f->till, b), 0);
  assert_false(b->open);
  free(b);
  int err;
  char *text = receipt_text(f->till, c.doc.number, 32, &err);
  assert_non_null(text);
  assert_non_null(strstr(text, "Хлеб"));
  assert_non_null(strstr(text, "0.350 кг"));
  assert_non_null(strstr(text, "ИТОГ"));
  /* The QR string is wrapped over lines on paper; unwrapped it is whole. */
  char *flat = malloc(strlen(text) + 1);
  size_t k = 0;
  for (const char *p = strstr(text, "QR: "); p && *p; p++)
    if (*p != '\n') flat[k++] = *p;
  flat[k] = '\0';
  assert_non_null(strstr(flat, c.qr));
  free(flat);
  free(text);
}

/*
** sale_add (issue 16): a quarter of a marked pack (planned 2, the line
** 4990.00 / 4 = 1247.50, quantity 1, 1291 in the receipt), an agent's line
** kept in the basket file and carried into the receipt with the receipt's
** 1057, and what is refused before any check: a fraction of an unmarked
** good, an agent without a supplier INN; then the quarter returned
** (planned 4).
*/
static void test_fraction_and_agent(void **state)
{
  fixture_t *f = *state;
  check_decision_t d;
  char code[200];
  doc_agent_t agent;
  uint32_t id = 0;
  memset(&agent, 0, sizeof agent);
  agent.sign = sale_agent_kind("commission");
  assert_int_equal(agent.sign, 32);
  assert_string_equal(sale_agent_kind_name(64), "other");
  snprintf(agent.supplier_name, sizeof agent.supplier_name, "ООО «Пекарня»");
  shoe_code(code, 7, false);
  assert_int_equal(sale_open(f->till, 1, NULL), 0);
  sale_add_t bread = {
      .scan = g_bread + 1, .len = 13, .fraction_numerator = 1, .fraction_denominator = 4};
  assert_int_equal(sale_add(f->till, &bread, &d, NULL), SALE_ERR_REFUSED);
  assert_string_equal(d.detail, "fraction");
  bread.fraction_numerator = bread.fraction_denominator = 0;
  bread.agent = &agent; /* no supplier INN */
  assert_int_equal(sale_add(f->till, &bread, &d, NULL), SALE_ERR_ARGUMENT);
  snprintf(agent.supplier_inn, sizeof agent.supplier_inn, "7710140679");
  assert_int_equal(sale_add(f->till, &bread, &d, NULL), 0);
  sale_add_t quarter = {
      .scan = code, .len = strlen(code), .fraction_numerator = 1, .fraction_denominator = 4};
  assert_int_equal(sale_add(f->till, &quarter, &d, &id), 0);
  assert_int_equal(d.planned, 2);
  sale_basket_t *b = malloc(sizeof *b);
  assert_int_equal(sale_get(f->till, b), 0);
  assert_int_equal(b->count, 2);
  assert_int_equal(b->lines[0].agent.sign, 32);
  assert_string_equal(b->lines[0].agent.supplier_name, "ООО \"Пекарня\"");
  assert_int_equal(b->lines[1].fraction_denominator, 4);
  assert_int_equal(b->lines[1].total, 124750);
  assert_int_equal(b->lines[1].quantity.mantissa, 1);
  assert_int_equal(b->lines[1].planned, 2);
  sale_closed_t c = pay_all(f);
  static fn_document_t doc;
  static doc_receipt_t r;
  doc_header_t h;
  uint64_t total;
  uint8_t sign[6];
  assert_int_equal(fn_document_get(till_fn(f->till), c.doc.number, &doc), 0);
  assert_int_equal(doc_parse_receipt(doc.data, doc.len, &h, &r, &total, sign), 0);
  assert_int_equal(r.items[0].agent.sign, 32);
  assert_string_equal(r.items[0].agent.supplier_inn, "7710140679");
  assert_int_equal(r.items[1].fraction_numerator, 1);
  assert_int_equal(r.items[1].fraction_denominator, 4);
  assert_int_equal(r.items[1].km_status, 2);
  assert_int_equal(total, 4500 + 124750);

  assert_int_equal(sale_open(f->till, 2, NULL), 0);
  assert_int_equal(sale_add(f->till, &quarter, &d, NULL), 0);
  assert_int_equal(d.planned, 4);
  c = pay_all(f);
  assert_int_equal(c.total, 124750);
  free(b);
}

/* Moves till.db's data version from another connection (two commits that
** leave the basket as it was: SQLite writes no page for a row written
** with what it holds), so that the till's next load reads the file. */
static void touch_basket_file(fixture_t *f)
{
  char path[256];
  sqlite3 *db = NULL;
  snprintf(path, sizeof path, "%s/till.db", f->fx.dir);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  assert_int_equal(sqlite3_exec(db,
                                "UPDATE basket SET opened_ms = opened_ms + 1;"
                                "UPDATE basket SET opened_ms = opened_ms - 1",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
}

/*
** The basket the till keeps between its calls (sale.c, sale_kept_t) is
** exactly what it reads back from till.db: a basket of an agent's line, a
** marked quarter and a marked line with 1260, got after the scans (kept)
** and again after another connection's commits (read), byte for byte.
*/
static void test_kept_basket_is_the_files(void **state)
{
  fixture_t *f = *state;
  check_decision_t d;
  char code[200], code2[200];
  doc_agent_t agent;
  memset(&agent, 0, sizeof agent);
  agent.sign = sale_agent_kind("commission");
  snprintf(agent.supplier_name, sizeof agent.supplier_name, "ООО «Пекарня»");
  snprintf(agent.supplier_inn, sizeof agent.supplier_inn, "7710140679");
  shoe_code(code, 41, false);
  shoe_code(code2, 42, false);
  assert_int_equal(
      cache_sync_apply(till_cache(f->till), NULL, 0, "feed&7=x", (int64_t)f->fx.now * 1000), 0);
  assert_int_equal(sale_open(f->till, 1, "Иванова"), 0);
  sale_add_t bread = {.scan = g_bread + 1, .len = 13, .agent = &agent};
  assert_int_equal(sale_add(f->till, &bread, &d, NULL), 0);
  sale_add_t quarter = {
      .scan = code, .len = strlen(code), .fraction_numerator = 1, .fraction_denominator = 4};
  assert_int_equal(sale_add(f->till, &quarter, &d, NULL), 0);
  assert_int_equal(add(f, code2, &d), 0);
  sale_basket_t *kept = malloc(sizeof *kept), *read = malloc(sizeof *read);
  assert_non_null(kept);
  assert_non_null(read);
  assert_int_equal(sale_get(f->till, kept), 0);
  touch_basket_file(f);
  assert_int_equal(sale_get(f->till, read), 0);
  assert_int_equal(kept->count, 3);
  assert_int_equal(read->count, 3);
  assert_true(read->lines[2].has_industry); /* the line's 1260 went through */
  assert_memory_equal(kept, read, offsetof(sale_basket_t, lines));
  for (size_t i = 0; i < read->count; i++)
    assert_memory_equal(&kept->lines[i], &read->lines[i], sizeof read->lines[i]);
  assert_int_equal(kept->total, read->total);
  /* A plain line after the reload is kept, and equal, too. */
  assert_int_equal(add(f, g_bread + 1, &d), 0);
  assert_int_equal(sale_get(f->till, kept), 0);
  touch_basket_file(f);
  assert_int_equal(sale_get(f->till, read), 0);
  assert_int_equal(read->count, 4);
  assert_memory_equal(&kept->lines[3], &read->lines[3], sizeof read->lines[3]);
  assert_int_equal(kept->total, read->total);
  free(kept);
  free(read);
  pay_all(f);
}

/* correction_close (issue 16): the line's 1214 from the forms (credit:
** 6), a 1217 payment kept, and a request no FN could take refused with
** nothing left open. */
static void test_correction_forms(void **state)
{
  fixture_t *f = *state;
  fn_doc_result_t res;
  fn_status_t st;
  static fn_document_t doc;
  static doc_receipt_t r;
  doc_header_t h;
  uint64_t total;
  uint8_t sign[6];
  assert_int_equal(correction_vat_parse("22%"), 11);
  assert_int_equal(correction_vat_parse("22/122"), 12);
  assert_int_equal(correction_vat_parse("18"), 0);
  correction_request_t q = {.operation = DOC_OP_SALE,
                            .tax_system = 1,
                            .vat = 11,
                            .reason = "Без чека",
                            .pay = {.credit = 3000, .other = 2000}};
  assert_int_equal(correction_close(till_fn(f->till), &q, &res), 0);
  assert_int_equal(fn_document_get(till_fn(f->till), res.number, &doc), 0);
  assert_int_equal(doc_parse_receipt(doc.data, doc.len, &h, &r, &total, sign), 0);
  assert_int_equal(r.items[0].payment_method, 5); /* credit is a part: partial credit */
  assert_int_equal(r.credit, 3000);
  assert_int_equal(r.other, 2000);
  assert_int_equal(total, 5000);
  q.reason = "";
  assert_int_equal(correction_close(till_fn(f->till), &q, &res), FN_ERR_PARAMS);
  q.reason = "x";
  q.method = DOC_PAY_FULL; /* credit against a full settlement */
  assert_int_equal(correction_close(till_fn(f->till), &q, &res), FN_ERR_VALUE);
  assert_int_equal(fn_status(till_fn(f->till), &st), 0);
  assert_false(st.receipt_open);
}

static void test_marked_sale_then_already_sold(void **state)
{
  fixture_t *f = *state;
  check_decision_t d;
  char code[200], ki[64];
  cache_code_t row;
  shoe_code(code, 1, false);
  ki_of(ki, 1);
  assert_int_equal(sale_open(f->till, 1, NULL), 0);
  assert_int_equal(add(f, code, &d), 0);
  assert_true(d.allow);
  assert_true(d.fn_checked);
  assert_true(d.offline);             /* no operator in this test */
  assert_int_equal(d.tag2106 & 3, 3); /* tail checked and correct */
  assert_string_equal(d.mark, "[М]"); /* no OISM answer: [М] */
  assert_int_equal(checked_in_fn(f), 1);
  assert_int_equal(add(f, code, &d), SALE_ERR_REFUSED);
  assert_string_equal(check_reason_name(d.reason), "duplicate");
  sale_closed_t c = pay_all(f);
  assert_int_equal(c.marked_lines, 1);
  assert_int_equal(checked_in_fn(f), 0);
  assert_int_equal(cache_code_get(till_cache(f->till), ki, &row), 0);
  assert_int_equal(row.local, CACHE_LOCAL_SOLD);
  assert_int_equal(row.sold_document, c.doc.number);
  int err;
  char *text = receipt_text(f->till, c.doc.number, 48, &err);
  assert_non_null(strstr(text, "[М] Кроссовки"));
  free(text);
  /* The same code again, in a new receipt. */
  assert_int_equal(sale_open(f->till, 1, NULL), 0);
  assert_int_equal(add(f, code, &d), SALE_ERR_REFUSED);
  assert_string_equal(check_reason_name(d.reason), "already_sold");
  assert_false(d.fn_checked);
  assert_int_equal(sale_cancel(f->till), 0);
}

/* The close replays from the receipt it parsed only when that receipt is
** the cache's next document: a correction made behind the till's back (no
** replay after it) is applied first, then the receipt, and the close's
** bookkeeping is not left pending. */
static void test_close_replays_what_came_before(void **state)
{
  fixture_t *f = *state;
  check_decision_t d;
  fn_doc_result_t res;
  char code[200], ki[64];
  cache_code_t row;
  uint32_t before = 0, after = 0;
  shoe_code(code, 7, false);
  ki_of(ki, 7);
  assert_int_equal(cache_fn_applied(till_cache(f->till), &before), 0);
  correction_request_t q = {
      .operation = DOC_OP_SALE, .tax_system = 1, .vat = 11, .reason = "x", .pay = {.cash = 100}};
  assert_int_equal(correction_close(till_fn(f->till), &q, &res), 0);
  assert_int_equal(sale_open(f->till, 1, NULL), 0);
  assert_int_equal(add(f, code, &d), 0);
  sale_closed_t c = pay_all(f);
  assert_false(c.bookkeeping_pending);
  assert_int_equal(c.doc.number, res.number + 1);
  assert_int_equal(cache_fn_applied(till_cache(f->till), &after), 0);
  assert_int_equal(after, before + 2); /* the correction, then the receipt */
  assert_int_equal(cache_code_get(till_cache(f->till), ki, &row), 0);
  assert_int_equal(row.local, CACHE_LOCAL_SOLD);
  assert_int_equal(row.sold_document, c.doc.number);
  assert_true(strlen(c.qr) > 0);
}

static void test_local_refusals(void **state)
{
  fixture_t *f = *state;
  check_decision_t d;
  char code[200];
  assert_int_equal(sale_open(f->till, 1, NULL), 0);

  assert_int_equal(add(f, "01046000000001", &d), SALE_ERR_REFUSED);
  assert_string_equal(check_reason_name(d.reason), "bad_code");
  assert_true(strlen(d.message_ru) > 20);

  assert_int_equal(add(f, "4006381333931", &d), SALE_ERR_REFUSED); /* a valid EAN-13 we lack */
  assert_string_equal(check_reason_name(d.reason), "unknown_product");

  assert_int_equal(add(f, g_shoes + 1, &d), SALE_ERR_REFUSED); /* the shoe box's EAN */
  assert_string_equal(check_reason_name(d.reason), "mark_required");

  /* A short-tail (water/beer) code on a footwear GTIN. */
  snprintf(code, sizeof code, "01%s21ABCDEFGHIJKLM" GS "93ab12", g_shoes);
  assert_int_equal(add(f, code, &d), SALE_ERR_REFUSED);
  assert_string_equal(check_reason_name(d.reason), "group_mismatch");

  /* One changed character in the tail: the FN's check fails. */
  shoe_code(code, 2, true);
  assert_int_equal(add(f, code, &d), SALE_ERR_REFUSED);
  assert_string_equal(check_reason_name(d.reason), "counterfeit");
  assert_true(d.fn_checked);
  assert_int_equal(checked_in_fn(f), 0); /* declined: not left in the FN table */

  /* Blocked by GTIN in the store's records. */
  shoe_code(code, 3, false);
  assert_int_equal(cache_block_put(till_cache(f->till), CACHE_BLOCK_GTIN, g_shoes, "recall"), 0);
  assert_int_equal(add(f, code, &d), SALE_ERR_REFUSED);
  assert_string_equal(check_reason_name(d.reason), "blocked");
  assert_int_equal(cache_block_remove(till_cache(f->till), CACHE_BLOCK_GTIN, g_shoes), 0);
  assert_int_equal(add(f, code, &d), 0);

  /* Dairy past its expiry date (17 = 2025-01-01). */
  snprintf(code, sizeof code, "01%s21Ab1234" GS "93Zx12" GS "17250101", g_milk);
  assert_int_equal(add(f, code, &d), SALE_ERR_REFUSED);
  assert_string_equal(check_reason_name(d.reason), "expired");
  snprintf(code, sizeof code, "01%s21Ab1235" GS "93Zx12" GS "17301231", g_milk);
  assert_int_equal(add(f, code, &d), 0);

  /* Tobacco block with MRP 120.00 sold at 150.00. */
  snprintf(code, sizeof code, "01%s21Tb12345" GS "8005012000" GS "93Qw12", g_tobacco);
  assert_int_equal(sale_add_scan(f->till, code, strlen(code), NULL, 15000, &d, NULL),
                   SALE_ERR_REFUSED);
  assert_string_equal(check_reason_name(d.reason), "price_above_max");
  /* Any price but the catalogue's is the manager's decision (issue 18). */
  assert_int_equal(sale_add_scan(f->till, code, strlen(code), NULL, 11900, &d, NULL),
                   SALE_ERR_PRICE_NEEDS_MANAGER);
  till_set_manager_present(f->till, true);
  assert_int_equal(sale_add_scan(f->till, code, strlen(code), NULL, 11900, &d, NULL), 0);
  till_set_manager_present(f->till, false);

  /* Strict accounting: only accepted codes sell. */
  char ki[64];
  snprintf(ki, sizeof ki, "01%s21St%011u", g_strict, 7u);
  genuine_code(code, ki, false);
  assert_int_equal(add(f, code, &d), SALE_ERR_REFUSED);
  assert_string_equal(check_reason_name(d.reason), "not_in_stock");
  const char *kis[] = {ki};
  assert_int_equal(cache_stock_add(till_cache(f->till), kis, 1, NULL), 0);
  assert_int_equal(add(f, code, &d), 0); /* in stock now */
  assert_int_equal(checked_in_fn(f), 4); /* the codes of the four lines */
  assert_int_equal(sale_cancel(f->till), 0);
  assert_int_equal(checked_in_fn(f), 0); /* cancel declines every code */
}

static void test_returns(void **state)
{
  fixture_t *f = *state;
  check_decision_t d;
  char code[200], ki[64];
  cache_code_t row;
  char second[200];
  shoe_code(code, 10, false);
  shoe_code(second, 12, false);
  ki_of(ki, 10);
  assert_int_equal(sale_open(f->till, 1, NULL), 0);
  assert_int_equal(add(f, code, &d), 0);
  assert_int_equal(add(f, second, &d), 0);
  uint32_t sale_fd = pay_all(f).doc.number; /* line 1 code, line 2 second */
  /* A return of a code this store never sold is refused. */
  char other[200];
  shoe_code(other, 11, false);
  assert_int_equal(sale_open(f->till, 2, "Менеджер"), 0);
  assert_int_equal(add(f, other, &d), SALE_ERR_REFUSED);
  assert_string_equal(check_reason_name(d.reason), "not_sold_here");
  assert_int_equal(add(f, code, &d), 0);
  assert_int_equal(d.planned, 3);
  uint32_t id;
  /* A return without a code names its sale (issue 18): the FD of a sale
  ** receipt in the archive and a line of it holding this good. */
  assert_int_equal(sale_add_without_code(f->till, g_shoes, 0, 0, 2, &id), SALE_ERR_SALE_NOT_FOUND);
  assert_int_equal(sale_add_without_code(f->till, g_shoes, 0, sale_fd + 50, 2, &id),
                   SALE_ERR_SALE_NOT_FOUND);
  assert_int_equal(sale_add_without_code(f->till, g_shoes, 0, sale_fd, 3, &id), SALE_ERR_SALE_LINE);
  /* Line 1's pair is in this return with its code: nothing left of it. */
  assert_int_equal(sale_add_without_code(f->till, g_shoes, 0, sale_fd, 1, &id),
                   SALE_ERR_RETURN_UNITS);
  assert_int_equal(sale_add_without_code(f->till, g_bread, 0, sale_fd, 2, &id), SALE_ERR_SALE_LINE);
  assert_int_equal(sale_add_without_code(f->till, g_shoes, 0, sale_fd, 2, &id), 0);
  /* The line's one pair is in this return: naming it again is refused,
  ** until the line goes (its link goes with it). */
  assert_int_equal(sale_add_without_code(f->till, g_shoes, 0, sale_fd, 2, &id),
                   SALE_ERR_RETURN_UNITS);
  assert_int_equal(sale_remove(f->till, id), 0);
  assert_int_equal(sale_add_without_code(f->till, g_shoes, 0, sale_fd, 2, &id), 0);
  /* Two pairs sold, two in this return: a third is refused. */
  assert_int_equal(sale_add_without_code(f->till, g_shoes, 0, sale_fd, 1, &id),
                   SALE_ERR_RETURN_UNITS);
  sale_closed_t c = pay_all(f);
  /* Closed, the return still counts; a return receipt is not a sale. */
  assert_int_equal(sale_open(f->till, 2, "Менеджер"), 0);
  assert_int_equal(sale_add_without_code(f->till, g_shoes, 0, sale_fd, 2, &id),
                   SALE_ERR_RETURN_UNITS);
  assert_int_equal(sale_add_without_code(f->till, g_shoes, 0, c.doc.number, 1, &id),
                   SALE_ERR_SALE_NOT_FOUND);
  assert_int_equal(sale_cancel(f->till), 0);
  assert_int_equal(c.operation, 2);
  assert_int_equal(cache_code_get(till_cache(f->till), ki, &row), 0);
  assert_int_equal(row.local, CACHE_LOCAL_IN_STOCK);
  assert_int_equal(row.returned_document, c.doc.number);
  cache_pending_t p[4];
  size_t n = 0;
  assert_int_equal(cache_pending_list(till_cache(f->till), p, 4, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(p[0].gtin, g_shoes);
  assert_int_equal(p[0].return_document, c.doc.number);
  /* Returned goods sell again. */
  assert_int_equal(sale_open(f->till, 1, NULL), 0);
  assert_int_equal(sale_add_without_code(f->till, g_shoes, 0, sale_fd, 2, &id),
                   SALE_ERR_WRONG_KIND);
  assert_int_equal(add(f, code, &d), 0);
  pay_all(f);
}

/* Issue 18's money attacks, each refused with its own reason. */
static void test_money_rules(void **state)
{
  fixture_t *f = *state;
  check_decision_t d;
  char code[200], cheap[200];
  sale_basket_t *b = malloc(sizeof *b);
  assert_non_null(b);
  assert_int_equal(sale_open(f->till, 1, NULL), 0);
  /* A marked good at 1 kopeck on the cashier's word alone: refused. */
  shoe_code(code, 40, false);
  assert_int_equal(sale_add_scan(f->till, code, strlen(code), NULL, 1, &d, NULL),
                   SALE_ERR_PRICE_NEEDS_MANAGER);
  /* Weighed goods by the tonne, bread by the thousand: the ceilings. */
  doc_quantity_t tonne = {1000000, 3}, thousand = {1000, 0}, kilo = {1500, 3};
  assert_int_equal(sale_add_scan(f->till, g_apples + 1, 13, &tonne, 0, &d, NULL),
                   SALE_ERR_QUANTITY_CEILING);
  assert_int_equal(sale_add_scan(f->till, g_apples + 1, 13, &kilo, 0, &d, NULL), 0);
  assert_int_equal(sale_add_scan(f->till, g_bread + 1, 13, &thousand, 0, &d, NULL),
                   SALE_ERR_QUANTITY_CEILING);
  /* Not even the manager sells above [till] price_max_rub. */
  till_set_manager_present(f->till, true);
  assert_int_equal(sale_add_scan(f->till, g_bread + 1, 13, NULL, 200000000, &d, NULL),
                   SALE_ERR_PRICE_CEILING);
  /* The manager may sell the pair cheaper: 3 000.00 instead of 4 990.00. */
  assert_int_equal(sale_add_scan(f->till, code, strlen(code), NULL, 300000, &d, NULL), 0);
  till_set_manager_present(f->till, false);
  shoe_code(cheap, 41, false);
  assert_int_equal(add(f, cheap, &d), 0);
  uint32_t sale_fd = pay_all(f).doc.number; /* apples, code at 3 000.00, cheap at 4 990.00 */
  /* The catalogue price rises; the refund stays what was paid. */
  product(f, g_shoes, "Кроссовки «Бег»", 1099511627775, "footwear", false, false);
  assert_int_equal(sale_open(f->till, 2, "Менеджер"), 0);
  /* The hostile tester's refund of 10 995 116 277.75 for a 3 000.00 sale. */
  assert_int_equal(sale_add_scan(f->till, code, strlen(code), NULL, 1099511627775, &d, NULL),
                   SALE_ERR_REFUND_ABOVE_SALE);
  assert_int_equal(sale_add_scan(f->till, code, strlen(code), NULL, 300001, &d, NULL),
                   SALE_ERR_REFUND_ABOVE_SALE);
  till_set_manager_present(f->till, true); /* no PIN lifts it */
  assert_int_equal(sale_add_scan(f->till, code, strlen(code), NULL, 499000, &d, NULL),
                   SALE_ERR_REFUND_ABOVE_SALE);
  till_set_manager_present(f->till, false);
  assert_int_equal(add(f, code, &d), 0);
  assert_int_equal(sale_get(f->till, b), 0);
  assert_int_equal(b->lines[0].price, 300000); /* the sold price, not the catalogue's */
  assert_int_equal(b->total, 300000);
  /* Two pairs were sold, one is in this return with its code: one without
  ** a code may follow, a second may not. Without a price it takes the
  ** named line's sold price, not the (risen) catalogue's. */
  uint32_t id;
  assert_int_equal(sale_add_without_code(f->till, g_shoes, 499001, sale_fd, 3, &id),
                   SALE_ERR_REFUND_ABOVE_SALE);
  assert_int_equal(sale_add_without_code(f->till, g_shoes, 0, sale_fd, 3, &id), 0);
  assert_int_equal(sale_get(f->till, b), 0);
  assert_int_equal(b->lines[1].price, 499000);
  assert_int_equal(sale_add_without_code(f->till, g_shoes, 0, sale_fd, 2, &id),
                   SALE_ERR_RETURN_UNITS);
  pay_all(f);
  /* Closed: line 2's code came back with its code, line 3 by its link. */
  assert_int_equal(sale_open(f->till, 2, "Менеджер"), 0);
  assert_int_equal(sale_add_without_code(f->till, g_shoes, 0, sale_fd, 2, &id),
                   SALE_ERR_RETURN_UNITS);
  assert_int_equal(sale_add_without_code(f->till, g_shoes, 0, sale_fd, 3, &id),
                   SALE_ERR_RETURN_UNITS);
  assert_int_equal(sale_cancel(f->till), 0);
  free(b);
}

/* The FN closed the receipt, then the process died before the cache and
** the basket heard of it. */
static void test_crash_after_fn_close(void **state)
{
  fixture_t *f = *state;
  check_decision_t d;
  char code[200], ki[64], sql[128], path[256];
  cache_code_t row;
  fn_status_t st;
  shoe_code(code, 20, false);
  ki_of(ki, 20);
  assert_int_equal(sale_open(f->till, 1, NULL), 0);
  assert_int_equal(add(f, code, &d), 0);
  sale_basket_t *b = malloc(sizeof *b);
  assert_int_equal(sale_get(f->till, b), 0);
  /* What sale_close does up to the FN's commit, by hand. */
  fn_t *fn = till_fn(f->till);
  assert_int_equal(fn_status(fn, &st), 0);
  sqlite3 *db;
  snprintf(path, sizeof path, "%s/till.db", f->fx.dir);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  snprintf(sql, sizeof sql, "UPDATE basket SET closing_after = %u", st.last_document);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  doc_item_t *it = calloc(1, sizeof *it);
  snprintf(it->name, sizeof it->name, "%s", b->lines[0].name);
  it->price = it->total = b->lines[0].total;
  it->quantity = (doc_quantity_t){1, 0};
  it->vat = 1;
  it->subject = 33;
  it->payment_method = 4;
  it->marked = true;
  it->km_len = strlen(b->lines[0].km);
  memcpy(it->km, b->lines[0].km, it->km_len + 1);
  it->km_status = 1;
  assert_int_equal(fn_receipt_begin(fn, 1, 1, NULL), 0);
  assert_int_equal(fn_receipt_add(fn, it), 0);
  assert_int_equal(fn_receipt_close(fn, b->total, 0, false, NULL), 0);
  free(it);
  till_close(f->till); /* "crash" */
  open_till(f);
  assert_int_equal(sale_get(f->till, b), 0);
  assert_false(b->open); /* the close happened: the basket is gone */
  assert_int_equal(cache_code_get(till_cache(f->till), ki, &row), 0);
  assert_int_equal(row.local, CACHE_LOCAL_SOLD);
  assert_int_equal(row.sold_document, st.last_document + 1);
  /* Opening again changes nothing (the replay applies each document once). */
  till_close(f->till);
  open_till(f);
  assert_int_equal(cache_code_get(till_cache(f->till), ki, &row), 0);
  assert_int_equal(row.sold_document, st.last_document + 1);

  /* The other crash: the FN receipt was open, not closed. */
  shoe_code(code, 21, false);
  assert_int_equal(sale_open(f->till, 1, NULL), 0);
  assert_int_equal(add(f, code, &d), 0);
  assert_int_equal(fn_status(till_fn(f->till), &st), 0);
  snprintf(sql, sizeof sql, "UPDATE basket SET closing_after = %u", st.last_document);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(fn_receipt_begin(till_fn(f->till), 1, 1, NULL), 0);
  till_close(f->till);
  open_till(f);
  assert_int_equal(fn_status(till_fn(f->till), &st), 0);
  assert_false(st.receipt_open); /* cancelled */
  assert_int_equal(sale_get(f->till, b), 0);
  assert_true(b->open);                   /* the cashier's basket survived */
  assert_true(b->lines[0].needs_recheck); /* its check went with the FN receipt */
  sale_closed_t c = pay_all(f);           /* checked again, then sold */
  assert_int_equal(c.doc.number, st.last_document + 1);
  ki_of(ki, 21);
  assert_int_equal(cache_code_get(till_cache(f->till), ki, &row), 0);
  assert_int_equal(row.local, CACHE_LOCAL_SOLD);
  sqlite3_close(db);
  free(b);
}

/* What a cashier types for a weight: a comma or a point, up to grams. */
static void test_quantity_typed(void **state)
{
  (void)state;
  doc_quantity_t q;
  assert_true(sale_quantity_parse("0,350", &q));
  assert_int_equal(q.mantissa, 350);
  assert_int_equal(q.scale, 3);
  assert_true(sale_quantity_parse("2", &q));
  assert_int_equal(q.mantissa, 2);
  assert_false(sale_quantity_parse("0", &q));      /* nothing to sell */
  assert_false(sale_quantity_parse("0.3505", &q)); /* past grams */
  assert_false(sale_quantity_parse("1,2,3", &q));
  assert_false(sale_quantity_parse("", &q));
}

static void probe(fixture_t *f, const char *code, uint64_t price, check_decision_t *d)
{
  assert_int_equal(check_probe(f->till, code, strlen(code), CHECK_FOR_SALE, price, NULL, 0, d), 0);
}

static void test_offline_1265(void **state)
{
  fixture_t *f = *state;
  check_decision_t d;
  char code[200], want[256];
  cache_t *cache = till_cache(f->till);
  int64_t now = (int64_t)f->fx.now * 1000;
  shoe_code(code, 40, false);
  /* Never synced: the local module could not answer, so no 1265. */
  probe(f, code, 0, &d);
  assert_true(d.allow && d.offline);
  assert_false(d.has_1265);
  assert_false(d.lm_checked);
  assert_int_equal(d.trueapi_tried, 0);
  /* Synced: the module's form, the sync position made safe for it. */
  assert_int_equal(cache_sync_apply(cache, NULL, 0, "feed&7=x", now), 0);
  probe(f, code, 0, &d);
  assert_true(d.allow && d.offline && d.lm_checked && d.has_1265);
  assert_int_equal(strlen(d.req_id), 36);
  assert_true(d.req_timestamp == now);
  snprintf(want, sizeof want, "UUID=%s&Time=%lld&Inst=kassa-%s&Ver=feed_7_x", d.req_id,
           (long long)now, TILL_FIXTURE_FN_NUMBER);
  assert_string_equal(d.industry.value, want);
  assert_string_equal(d.industry.authority, "030");
  /* Stale (more than 72 h): the module would refuse (4050), so no 1265. */
  f->fx.now += 73 * 3600;
  probe(f, code, 0, &d);
  assert_true(d.offline && d.cache_stale);
  assert_false(d.has_1265);
  f->fx.now -= 73 * 3600;
}

static void test_offline_minimum_prices(void **state)
{
  fixture_t *f = *state;
  check_decision_t d;
  char block[128], ki[64], nsp_gtin[15], nsp[64];
  cache_t *cache = till_cache(f->till);
  int64_t now = (int64_t)f->fx.now * 1000;
  /* A tobacco block (GS1, 8005 = 2 000.00) whose packs' minimum is 137.00. */
  snprintf(ki, sizeof ki, "01%s21Ab1234C", g_tobacco);
  snprintf(block, sizeof block, "%s" GS "8005200000" GS "93dGVz", ki);
  gtin14("0460000000707", nsp_gtin);
  snprintf(nsp, sizeof nsp, "%sZz;ZnRbAAAAdGVz", nsp_gtin);
  char nsp_ki[32];
  snprintf(nsp_ki, sizeof nsp_ki, "%.21s", nsp);
  product(f, nsp_gtin, "Жидкость для ЭСДН", 15000, "nicotine", false, false);
  cache_sync_row_t rows[2] = {
      {.ki = ki, .gtin = g_tobacco, .state = CACHE_OP_CIRCULATION, .smp = 13700},
      {.ki = nsp_ki, .gtin = nsp_gtin, .state = CACHE_OP_CIRCULATION, .mrp = 15000},
  };
  assert_int_equal(cache_sync_apply(cache, rows, 2, "p1", now), 0);
  probe(f, block, 136999, &d);
  assert_false(d.allow);
  assert_string_equal(check_reason_name(d.reason), "price_below_min");
  assert_string_equal(d.detail, "cached_smp");
  probe(f, block, 137000, &d);
  assert_true(d.allow);
  /* Nicotine: the cached mrp is the minimum. */
  probe(f, nsp, 14999, &d);
  assert_false(d.allow);
  assert_string_equal(check_reason_name(d.reason), "price_below_min");
  assert_string_equal(d.detail, "cached_mrp");
  probe(f, nsp, 15000, &d);
  assert_true(d.allow);
  assert_int_equal(checked_in_fn(f), 0);
}

/* The query plan of sql on the till's basket file, one line a step. */
static void basket_plan(fixture_t *f, const char *sql, char *out, size_t cap)
{
  char path[256], q[512];
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  size_t used = 0;
  snprintf(path, sizeof path, "%s/till.db", f->fx.dir);
  snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql);
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
  out[0] = 0;
  while (sqlite3_step(s) == SQLITE_ROW && used < cap)
    used += (size_t)snprintf(out + used, cap - used, "%s\n", sqlite3_column_text(s, 3));
  sqlite3_finalize(s);
  sqlite3_close(db);
}

/*
** A return without a code leaves a row in return_link for good (what the
** sale line has left); a close and a removal touch only the open ones. The
** basket file gives SQLite an index of the open rows, so those statements
** (as sale.c writes them) do not scan every return the till ever closed.
*/
static void test_open_returns_indexed(void **state)
{
  fixture_t *f = *state;
  static const char *const touching_open[] = {
      "UPDATE return_link SET open = 0 WHERE open = 1",
      "DELETE FROM return_link WHERE open = 1",
      "DELETE FROM return_link WHERE open = 1 AND line_id = 7",
  };
  char plan[1024];
  for (size_t i = 0; i < sizeof touching_open / sizeof *touching_open; i++) {
    basket_plan(f, touching_open[i], plan, sizeof plan);
    if (!strstr(plan, "USING INDEX return_link_open") &&
        !strstr(plan, "USING COVERING INDEX return_link_open"))
      fail_msg("%s: %s", touching_open[i], plan);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_plain_and_weighed_sale, setup, teardown),
      cmocka_unit_test_setup_teardown(test_marked_sale_then_already_sold, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_replays_what_came_before, setup, teardown),
      cmocka_unit_test_setup_teardown(test_local_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_money_rules, setup, teardown),
      cmocka_unit_test_setup_teardown(test_returns, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fraction_and_agent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kept_basket_is_the_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_correction_forms, setup, teardown),
      cmocka_unit_test_setup_teardown(test_crash_after_fn_close, setup, teardown),
      cmocka_unit_test(test_quantity_typed),
      cmocka_unit_test_setup_teardown(test_offline_1265, setup, teardown),
      cmocka_unit_test_setup_teardown(test_offline_minimum_prices, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_returns_indexed, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
