/*
** test_full_receipt.c: the till's parts of the drop-in doors without a
** network: a receipt in one call (pos/till/full_receipt.h), the keys of
** safe retries (pos/till/idempotency.h) and the local module's sold-goods
** table (pos/till/lm_sold.h), on a real register (tests/support/
** till_fixture.h: an FN with an open shift, [till] check = offline, codes
** with genuine tails).
**
** What must hold: a receipt of the front end's lines closes as one FN
** receipt with the front end's name, price, VAT, fraction and agent, and
** the code sold in the cache; one refused line refuses all of it and
** leaves nothing (no document, no code checked in the FN); a code the
** catalogue lacks sells on the front end's product unless the catalogue is
** forced; payments that are not the total are refused; a key is bound to
** one digest and keeps its answer; a sold-goods list is all or nothing.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "pos/till/cache.h"
#include "pos/till/full_receipt.h"
#include "pos/till/idempotency.h"
#include "pos/till/lm_sold.h"
#include "pos/till/sale.h"
#include "tests/support/till_fixture.h"

static char g_shoes[15], g_bread[15], g_foreign[15];

static int setup(void **state)
{
  till_fixture_t *f = till_fixture_shop("full", g_shoes, g_bread);
  till_fixture_gtin14("0460000000909", g_foreign); /* not in the catalogue */
  *state = f;
  return f ? 0 : -1;
}

static int teardown(void **state)
{
  till_fixture_free(*state);
  return 0;
}

/* A genuine code of gtin with serial n, into line l. */
static void code_line(full_line_t *l, const char *gtin, unsigned n)
{
  char ki[64];
  snprintf(ki, sizeof ki, "01%s21Fr%011u", gtin, n);
  l->code_len = till_fixture_genuine_code(l->code, ki, false);
  assert_true(l->code_len > 0);
}

static uint32_t last_document(till_fixture_t *f)
{
  fn_status_t st;
  assert_int_equal(fn_status(till_fn(f->till), &st), 0);
  return st.last_document;
}

static uint32_t checked_codes(till_fixture_t *f)
{
  fn_status_t st;
  assert_int_equal(fn_status(till_fn(f->till), &st), 0);
  return st.checked_km;
}

/* The archived receipt number fd, parsed (caller frees). */
static doc_receipt_t *archived(till_fixture_t *f, uint32_t fd, uint64_t *total)
{
  fn_document_t *doc = malloc(sizeof *doc);
  doc_receipt_t *r = malloc(sizeof *r);
  doc_header_t h;
  uint8_t sign[6];
  assert_non_null(doc);
  assert_non_null(r);
  assert_int_equal(fn_document_get(till_fn(f->till), fd, doc), 0);
  assert_int_equal(doc_parse_receipt(doc->data, doc->len, &h, r, total, sign), 0);
  free(doc);
  return r;
}

static void sells_the_front_ends_lines(void **state)
{
  till_fixture_t *f = *state;
  full_receipt_t *req = calloc(1, sizeof *req);
  full_line_result_t *res = calloc(3, sizeof *res);
  sale_closed_t closed;
  uint64_t total = 0;
  assert_non_null(req);
  assert_non_null(res);
  req->operation = DOC_OP_SALE;
  req->count = 3;
  /* A catalogue good at the front end's price and name, as a quarter. */
  code_line(&req->lines[0], g_shoes, 1);
  snprintf(req->lines[0].name, sizeof req->lines[0].name, "Кроссовки «Бег» (четверть)");
  req->lines[0].price = 100000;
  req->lines[0].has_price = true;
  req->lines[0].fraction_numerator = 1;
  req->lines[0].fraction_denominator = 4;
  /* A marked good the catalogue lacks: the front end's product. */
  code_line(&req->lines[1], g_foreign, 2);
  snprintf(req->lines[1].name, sizeof req->lines[1].name, "Куртка");
  req->lines[1].price = 200000;
  req->lines[1].has_price = true;
  req->lines[1].vat = 11;
  /* A service without a code, sold by a commission agent. */
  snprintf(req->lines[2].name, sizeof req->lines[2].name, "Доставка");
  req->lines[2].price = 30000;
  req->lines[2].has_price = true;
  req->lines[2].vat = 11;
  req->lines[2].subject = 4;
  req->lines[2].agent.sign = 0x20;
  snprintf(req->lines[2].agent.supplier_name, sizeof req->lines[2].agent.supplier_name,
           "ООО «Курьер»");
  snprintf(req->lines[2].agent.supplier_inn, sizeof req->lines[2].agent.supplier_inn, "7707083893");
  req->payments.cash = 330000;
  snprintf(req->payments.buyer_contact, sizeof req->payments.buyer_contact, "+79001234567");
  uint32_t before = last_document(f);
  assert_int_equal(full_receipt_close(f->till, req, res, &closed), 0);
  assert_int_equal(closed.doc.number, before + 1);
  assert_int_equal(closed.marked_lines, 2);
  assert_int_equal(checked_codes(f), 0);
  doc_receipt_t *r = archived(f, closed.doc.number, &total);
  assert_int_equal(total, 330000);
  assert_int_equal(r->item_count, 3);
  assert_string_equal(r->buyer_contact, "+79001234567");
  assert_int_equal(r->items[0].price, 100000);
  assert_int_equal(r->items[0].fraction_denominator, 4);
  assert_int_equal(r->items[0].km_status, 2); /* a part sold */
  assert_int_equal(r->items[1].subject, 33);
  assert_int_equal(r->items[1].vat, 11);
  assert_int_equal(r->items[2].agent.sign, 0x20);
  assert_int_equal(r->items[2].subject, 4);
  free(r);
  /* The cache knows a quarter of the pack is sold: the code is SOLD with
  ** 1 of 4 units, and still in circulation for the local module (its
  ** other quarters sell on, common/part.h). */
  cache_code_t row;
  char ki[64];
  snprintf(ki, sizeof ki, "01%s21Fr%011u", g_shoes, 1u);
  assert_int_equal(cache_code_get(till_cache(f->till), ki, &row), 0);
  assert_int_equal(row.local, CACHE_LOCAL_SOLD);
  assert_int_equal(row.part_sold, 1);
  assert_int_equal(row.part_units, 4);
  assert_false(lm_sold_is_sold(f->till, ki));
  free(req);
  free(res);
}

static void one_refused_line_refuses_all(void **state)
{
  till_fixture_t *f = *state;
  full_receipt_t *req = calloc(1, sizeof *req);
  full_line_result_t *res = calloc(3, sizeof *res);
  sale_closed_t closed;
  assert_non_null(req);
  assert_non_null(res);
  req->operation = DOC_OP_SALE;
  req->count = 3;
  code_line(&req->lines[0], g_shoes, 10); /* fine */
  code_line(&req->lines[1], g_shoes, 11);
  req->lines[1].code[req->lines[1].code_len - 2] ^= 1; /* a tail that does not verify */
  snprintf(req->lines[2].name, sizeof req->lines[2].name, "Хлеб");
  req->lines[2].price = 4500;
  req->lines[2].has_price = true;
  req->payments.cash = 499000 * 2 + 4500;
  uint32_t before = last_document(f);
  assert_int_equal(full_receipt_close(f->till, req, res, &closed), SALE_ERR_REFUSED);
  assert_true(res[0].allow);
  assert_false(res[1].allow);
  assert_string_equal(res[1].reason, "counterfeit");
  assert_true(res[2].allow);
  assert_int_equal(last_document(f), before);
  assert_int_equal(checked_codes(f), 0); /* the good line's code given back */
  /* The payments must be the total. */
  req->lines[1] = req->lines[2];
  req->count = 2;
  req->payments.cash = 1;
  assert_int_equal(full_receipt_close(f->till, req, res, &closed), SALE_ERR_PAYMENT);
  assert_int_equal(checked_codes(f), 0);
  assert_int_equal(last_document(f), before);
  /* Forced to the catalogue, a good it lacks is unknown. */
  req->force_catalogue = true;
  code_line(&req->lines[0], g_foreign, 12);
  snprintf(req->lines[0].name, sizeof req->lines[0].name, "Куртка");
  req->lines[0].price = 1000;
  req->lines[0].has_price = true;
  req->payments.cash = 1000 + 4500;
  assert_int_equal(full_receipt_close(f->till, req, res, &closed), SALE_ERR_REFUSED);
  assert_string_equal(res[0].reason, "unknown_product");
  /* A piece good's quantity must be whole; a line without a name and not
  ** in the catalogue is named. */
  req->force_catalogue = false;
  req->count = 1;
  req->lines[0] = req->lines[1];
  req->lines[0].quantity = (doc_quantity_t){15, 1};
  req->lines[0].has_quantity = true;
  req->payments.cash = 6750;
  assert_int_equal(full_receipt_close(f->till, req, res, &closed), SALE_ERR_REFUSED);
  assert_string_equal(res[0].reason, "argument");
  assert_string_equal(res[0].field, "quantity");
  free(req);
  free(res);
}

static void keys_of_retries(void **state)
{
  till_fixture_t *f = *state;
  idempotency_entry_t e;
  char a[65], b[65];
  assert_true(idempotency_key_ok("order-1"));
  assert_false(idempotency_key_ok(""));
  assert_false(idempotency_key_ok("with space"));
  assert_int_equal(idempotency_digest("POST", "/api/x", "{}", 2, a), 0);
  assert_int_equal(idempotency_digest("POST", "/api/x", "{ }", 3, b), 0);
  assert_string_not_equal(a, b);
  assert_int_equal(strlen(a), 64);
  assert_int_equal(idempotency_get(f->till, "order-1", &e), IDEMPOTENCY_ERR_NOT_FOUND);
  assert_int_equal(idempotency_begin(f->till, "order-1", a, 7, "{\"path\":\"/api/x\"}"), 0);
  assert_int_equal(idempotency_get(f->till, "order-1", &e), 0);
  assert_true(e.pending);
  assert_int_equal(e.after_document, 7);
  assert_string_equal(e.digest, a);
  assert_string_equal(e.request, "{\"path\":\"/api/x\"}");
  idempotency_entry_free(&e);
  /* A pending claim is what a crash leaves: the next one to settle. */
  assert_int_equal(idempotency_next_pending(f->till, &e), 0);
  assert_string_equal(e.key, "order-1");
  idempotency_entry_free(&e);
  assert_int_equal(idempotency_finish(f->till, "order-1", 201, "{\"ok\":true}"), 0);
  assert_int_equal(idempotency_next_pending(f->till, &e), IDEMPOTENCY_ERR_NOT_FOUND);
  /* It survives the till's restart. */
  till_close(f->till);
  f->till = NULL;
  assert_int_equal(till_fixture_open(f), 0);
  assert_int_equal(idempotency_get(f->till, "order-1", &e), 0);
  assert_false(e.pending);
  assert_int_equal(e.status, 201);
  assert_string_equal(e.body, "{\"ok\":true}");
  idempotency_entry_free(&e);
  assert_int_equal(idempotency_forget(f->till, "order-1"), 0);
  assert_int_equal(idempotency_get(f->till, "order-1", &e), IDEMPOTENCY_ERR_NOT_FOUND);
}

static void sold_goods_all_or_nothing(void **state)
{
  till_fixture_t *f = *state;
  const char *two[] = {"0104600000001012215first", "0104600000001012215second"};
  const char *twice[] = {"0104600000001012215third", "0104600000001012215third"};
  size_t bad = 99;
  assert_int_equal(lm_sold_register(f->till, two, 2, f->fx.now * 1000LL, NULL), 0);
  assert_true(lm_sold_is_sold(f->till, two[1]));
  assert_int_equal(lm_sold_register(f->till, twice, 2, f->fx.now * 1000LL, &bad), LM_SOLD_ERR_SOLD);
  assert_int_equal(bad, 1);
  assert_false(lm_sold_is_sold(f->till, twice[0])); /* nothing of that list */
  const char *mixed[] = {two[0], "0104600000001012215never"};
  assert_int_equal(lm_sold_return(f->till, mixed, 2, &bad), LM_SOLD_ERR_NOT_SOLD);
  assert_int_equal(bad, 1);
  assert_true(lm_sold_is_sold(f->till, two[0])); /* still: all or nothing */
  assert_int_equal(lm_sold_return(f->till, two, 1, NULL), 0);
  assert_false(lm_sold_is_sold(f->till, two[0]));
  assert_int_equal(lm_sold_clear(f->till), 0);
  assert_false(lm_sold_is_sold(f->till, two[1]));
  assert_int_equal(lm_sold_register(f->till, NULL, 0, 0, NULL), LM_SOLD_ERR_ARGUMENT);
}

/* A sale request of n lines and its results (both calloc'd, caller frees). */
static full_receipt_t *new_sale(size_t n, full_line_result_t **res)
{
  full_receipt_t *req = calloc(1, sizeof *req);
  *res = calloc(n, sizeof **res);
  assert_non_null(req);
  assert_non_null(*res);
  req->operation = DOC_OP_SALE;
  req->count = n;
  return req;
}

/* A sale of one loaf (a line of the front end's, 45.00 in cash) and its
** results (both calloc'd, caller frees). */
static full_receipt_t *bread_sale(full_line_result_t **res)
{
  full_receipt_t *req = new_sale(1, res);
  snprintf(req->lines[0].name, sizeof req->lines[0].name, "Хлеб");
  req->lines[0].price = 4500;
  req->lines[0].has_price = true;
  req->payments.cash = 4500;
  return req;
}

/* The cashier of a document (1021) as the FN archived it. */
static void archived_cashier(till_fixture_t *f, uint32_t fd, char *out, size_t size)
{
  fn_document_t *doc = malloc(sizeof *doc);
  doc_receipt_t *r = malloc(sizeof *r);
  doc_header_t h;
  uint64_t total;
  uint8_t sign[6];
  assert_non_null(doc);
  assert_non_null(r);
  assert_int_equal(fn_document_get(till_fn(f->till), fd, doc), 0);
  assert_int_equal(doc_parse_receipt(doc->data, doc->len, &h, r, &total, sign), 0);
  snprintf(out, size, "%s", h.cashier);
  free(doc);
  free(r);
}

/* A cashier's name of 64 Cyrillic letters (128 bytes) is what the FN
** takes for 1021 (64 characters): both doors of the till sell under it,
** and refuse 65 letters; the doors used to stop at 64 bytes (32 letters),
** which refused a full name such as "Александрова Екатерина Александровна"
** (36 letters). */
static void cashier_of_64_letters(void **state)
{
  till_fixture_t *f = *state;
  char name64[FN_CASHIER_SIZE + 8] = "", name65[FN_CASHIER_SIZE + 8], got[FN_CASHIER_SIZE];
  for (int i = 0; i < 64; i++) strcat(name64, "ж");
  assert_int_equal(strlen(name64), 128);
  strcat(strcpy(name65, name64), "ж");
  assert_true(fn_cashier_ok(name64));
  assert_false(fn_cashier_ok(name65));
  assert_true(fn_cashier_ok("Александрова Екатерина Александровна"));
  /* The receipt in one call. */
  full_line_result_t *res = NULL;
  full_receipt_t *req = bread_sale(&res);
  sale_closed_t closed;
  memcpy(req->cashier, name64, strlen(name64) + 1);
  assert_int_equal(full_receipt_close(f->till, req, res, &closed), 0);
  archived_cashier(f, closed.doc.number, got, sizeof got);
  assert_string_equal(got, name64);
  /* The basket. */
  uint32_t before = last_document(f);
  assert_int_equal(sale_open(f->till, DOC_OP_SALE, name65), SALE_ERR_ARGUMENT);
  assert_int_equal(sale_open(f->till, DOC_OP_SALE, name64), 0);
  check_decision_t d;
  assert_int_equal(sale_add_scan(f->till, g_bread + 1, 13, NULL, 0, &d, NULL), 0); /* EAN-13 */
  assert_int_equal(sale_close(f->till, 4500, 0, &closed, NULL), 0);
  assert_int_equal(closed.doc.number, before + 1);
  archived_cashier(f, closed.doc.number, got, sizeof got);
  assert_string_equal(got, name64);
  free(req);
  free(res);
}

/* A line's refusal carries the check's message whole, however long: the
** 30-day refusal with its notice is over 320 bytes in Russian, and a copy
** cut to a shorter buffer ended inside a letter (invalid UTF-8, which the
** API's JSON then dropped with the line's refusal). */
static void refusal_message_whole(void **state)
{
  till_fixture_t *f = *state;
  full_line_result_t *res = NULL;
  full_receipt_t *req = bread_sale(&res);
  sale_closed_t closed;
  assert_int_equal(full_receipt_close(f->till, req, res, &closed), 0); /* a document owed */
  f->fx.now += 30u * 24 * 3600 + 1;                                    /* and never sent */
  memset(&req->lines[0], 0, sizeof req->lines[0]);
  code_line(&req->lines[0], g_shoes, 30);
  req->payments.cash = 499000;
  assert_int_equal(full_receipt_close(f->till, req, res, &closed), SALE_ERR_REFUSED);
  assert_false(res[0].allow);
  assert_string_equal(res[0].reason, "delivery_overdue");
  assert_true(res[0].checked);
  assert_true(strlen(res[0].decision.message_ru) > 320); /* the case this test is for */
  assert_string_equal(res[0].message_ru, res[0].decision.message_ru);
  assert_string_equal(res[0].message_en, res[0].decision.message_en);
  free(req);
  free(res);
}

/* A one-call return refunds at most what the archive says the code was
** sold for, and that when it names no price (issue 18). */
static void return_bounded_by_the_sale(void **state)
{
  till_fixture_t *f = *state;
  full_line_result_t *res = NULL;
  full_receipt_t *req = new_sale(1, &res);
  sale_closed_t closed;
  code_line(&req->lines[0], g_shoes, 7);
  req->lines[0].price = 300000;
  req->lines[0].has_price = true;
  req->payments.cash = 300000;
  assert_int_equal(full_receipt_close(f->till, req, res, &closed), 0);
  req->operation = DOC_OP_SALE_RETURN;
  req->lines[0].price = 1099511627775; /* the hostile tester's refund */
  req->payments.cash = 1099511627775;
  assert_int_equal(full_receipt_close(f->till, req, res, &closed), SALE_ERR_REFUSED);
  assert_string_equal(res[0].reason, "refund_above_sale");
  req->lines[0].has_price = false;
  req->lines[0].price = 0;
  req->payments.cash = 300000;
  assert_int_equal(full_receipt_close(f->till, req, res, &closed), 0);
  assert_int_equal(closed.total, 300000);
  free(req);
  free(res);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(sells_the_front_ends_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(one_refused_line_refuses_all, setup, teardown),
      cmocka_unit_test_setup_teardown(keys_of_retries, setup, teardown),
      cmocka_unit_test_setup_teardown(sold_goods_all_or_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(return_bounded_by_the_sale, setup, teardown),
      cmocka_unit_test_setup_teardown(refusal_message_whole, setup, teardown),
      cmocka_unit_test_setup_teardown(cashier_of_64_letters, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
