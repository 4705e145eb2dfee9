/*
** full_receipt.c: a receipt in one call (see full_receipt.h): every line
** checked, then one FN receipt, or nothing at all.
*/
#include "pos/till/full_receipt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "pos/till/cache.h"
#include "pos/till/fiscal_text.h"
#include "pos/till/money.h"
#include "pos/till/state_internal.h"

/* The basket's scan journal (sale.c's `checking` table): a code is in it
** while the FN holds it checked and no closed receipt has it yet. */
static void journal(till_t *t, const char *scan, size_t len, bool add)
{
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(t->db,
                         add ? "INSERT OR IGNORE INTO checking(scan) VALUES(?)"
                             : "DELETE FROM checking WHERE scan = ?",
                         -1, &s, NULL) == SQLITE_OK) {
    sqlite3_bind_blob(s, 1, scan, (int)len, SQLITE_STATIC);
    sqlite3_step(s);
  }
  sqlite3_finalize(s);
}

/* Gives back every code the check accepted (a refused or failed receipt). */
static void decline_all(till_t *t, const full_receipt_t *req, const full_line_result_t *res)
{
  for (size_t i = 0; i < req->count; i++) {
    const check_decision_t *d = &res[i].decision;
    if (res[i].checked && d->allow && d->marked)
      fn_km_accept(t->fn, d->normalized, d->normalized_len, false);
    if (req->lines[i].code_len) journal(t, req->lines[i].code, req->lines[i].code_len, false);
  }
}

static void line_refused(full_line_result_t *r, const char *field, const char *ru, const char *en)
{
  r->allow = false;
  r->reason = "argument";
  r->field = field;
  snprintf(r->message_ru, sizeof r->message_ru, "%s", ru);
  snprintf(r->message_en, sizeof r->message_en, "%s", en);
}

/* price * quantity in kopecks, half up; false beyond 2^40. */
static bool times(uint64_t price, doc_quantity_t q, uint64_t *out)
{
  uint64_t div = 1;
  for (unsigned i = 0; i < q.scale; i++) div *= 10;
  if (q.mantissa != 0 && price > UINT64_MAX / q.mantissa) return false;
  *out = (price * q.mantissa + div / 2) / div;
  return *out < (UINT64_C(1) << 40);
}

/* name folded to what the FN takes, whole UTF-8 characters only. */
static void fold_name(const char *name, char *out, size_t size)
{
  char tmp[CACHE_NAME_MAX * 4 + 1];
  snprintf(tmp, sizeof tmp, "%s", name);
  fiscal_text_fold(tmp);
  size_t n = strlen(tmp);
  if (n >= size) {
    n = size - 1;
    while (n > 0 && ((unsigned char)tmp[n] & 0xC0) == 0x80) n--;
  }
  memcpy(out, tmp, n);
  out[n] = '\0';
}

/* The product a line describes, for the check and for what it leaves out. */
static void given_product(const full_line_t *l, cache_product_t *p)
{
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "%s", l->name);
  p->price = l->price;
  p->vat = l->vat;
  p->weighed = l->has_measure && l->measure != 0;
  p->marking_required = true; /* the front end sent a code: it is the good's */
  p->excise = l->subject == 31 || l->subject == 30;
}

/* Makes the FN line of allowed line i; 0, or -1 with r refused. */
static int make_item(till_t *t, const full_receipt_t *req, size_t i, full_line_result_t *r,
                     doc_item_t *item)
{
  const full_line_t *l = &req->lines[i];
  const check_decision_t *d = &r->decision;
  cache_product_t cat, product;
  bool from_catalogue = false;
  memset(item, 0, sizeof *item);
  given_product(l, &product);
  if (r->checked && d->has_product) {
    from_catalogue = cache_product_get(t->cache, d->gtin, &cat) == 0;
    if (from_catalogue) product = cat;
  }
  bool catalogue_wins = req->force_catalogue && from_catalogue;
  const char *name = catalogue_wins || !l->name[0] ? product.name : l->name;
  if (!name[0]) {
    line_refused(r, "name", "Нет наименования: товара нет в справочнике, укажите name.",
                 "No name: the good is not in the catalogue, give its name.");
    return -1;
  }
  fold_name(name, item->name, sizeof item->name);
  item->price = catalogue_wins || !l->has_price ? product.price : l->price;
  if (!l->has_price && !from_catalogue) {
    line_refused(r, "price", "Нет цены: товара нет в справочнике, укажите price.",
                 "No price: the good is not in the catalogue, give its price.");
    return -1;
  }
  item->vat = catalogue_wins || !l->vat ? (product.vat ? product.vat : 6) : l->vat;
  item->measure = l->has_measure ? l->measure : product.weighed ? 11 : 0;
  item->quantity = l->has_quantity ? l->quantity : (doc_quantity_t){1, 0};
  bool fraction = l->fraction_denominator != 0;
  bool marked = r->checked && d->marked;
  if (fraction &&
      (!marked || l->fraction_numerator == 0 || l->fraction_numerator >= l->fraction_denominator)) {
    line_refused(r, "fraction", "Дробная часть: только для маркированного товара, 0 < n < d.",
                 "A fraction: only for a marked good, with 0 < numerator < denominator.");
    return -1;
  }
  uint64_t div = 1;
  for (unsigned k = 0; k < item->quantity.scale; k++) div *= 10;
  bool whole_one = item->quantity.mantissa == div;
  if (item->quantity.mantissa == 0 || (item->measure == 0 && item->quantity.mantissa % div) ||
      (marked && item->measure == 0 && !whole_one)) {
    line_refused(r, "quantity",
                 marked ? "Маркированный товар продаётся поштучно: количество 1."
                        : "Штучный товар: количество — целое число больше нуля.",
                 marked ? "A marked good is sold one piece at a time: quantity 1."
                        : "A piece good: the quantity is a whole number above zero.");
    return -1;
  }
  if (!times(item->price, item->quantity, &item->total)) {
    line_refused(r, "price", "Сумма позиции слишком велика.", "The line's sum is too large.");
    return -1;
  }
  /* The money rules of every line (issue 18): the ceilings, and a return
  ** refunds at most what the archive says the code was sold for. The front
  ** end's price is this receipt's own, so a sale is not an override. */
  money_line_t m = {.operation = req->operation,
                    .marked = marked,
                    .ki = marked ? d->ki : "",
                    .gtin = product.gtin,
                    .catalogue_price = from_catalogue ? cat.price : item->price,
                    .asked_price =
                        req->operation == DOC_OP_SALE_RETURN && l->has_price ? item->price : 0,
                    .price = item->price,
                    .quantity = item->quantity,
                    .measure = item->measure};
  money_verdict_t v = money_line_rules(t, &m);
  if (v != MONEY_OK) {
    int e = sale_err_of_money((int)v);
    line_refused(r, v == MONEY_QUANTITY_CEILING ? "quantity" : "price", sale_err_message(e, true),
                 sale_err_message(e, false));
    r->reason = sale_err_name(e);
    return -1;
  }
  /* A return without a price: what the code was sold for (within 2^40, as
  ** the sale's own sum was). */
  if (m.price != item->price) {
    item->price = m.price;
    times(item->price, item->quantity, &item->total);
  }
  item->subject = l->subject ? l->subject : marked ? (product.excise ? 31 : 33) : 1;
  item->payment_method = l->method ? l->method : DOC_PAY_FULL;
  item->agent = l->agent;
  /* The agent's words reach the document too: what CP866 lacks, folded. */
  char *texts[] = {item->agent.operation, item->agent.transfer_name, item->agent.transfer_address,
                   item->agent.supplier_name};
  for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) fiscal_text_fold(texts[k]);
  if (marked) {
    item->marked = true;
    item->km_len = d->normalized_len;
    memcpy(item->km, d->normalized, d->normalized_len + 1);
    item->km_type = d->km_type;
    item->km_status = d->planned;
    item->check_result = d->tag2106;
    item->has_industry = d->has_1265;
    item->industry = d->industry;
    item->fraction_numerator = l->fraction_numerator;
    item->fraction_denominator = l->fraction_denominator;
    /* 2003 of a part of a good: 2 part sold, 4 part returned. */
    if (fraction) item->km_status = req->operation == DOC_OP_SALE ? 2 : 4;
  }
  /* 1163 from the code the line was sold by (a barcode for a plain good). */
  sale_item_product_code(item, l->code, l->code_len);
  return 0;
}

/* Checks line i (its code through the pipeline); 0 allowed, -1 refused. */
static int check_line(till_t *t, const full_receipt_t *req, size_t i, const char **kis, size_t nk,
                      full_line_result_t *r)
{
  const full_line_t *l = &req->lines[i];
  cache_product_t given;
  memset(r, 0, sizeof *r);
  r->reason = "ok";
  if (!l->code_len) return 0;
  given_product(l, &given);
  check_purpose_t purpose = req->operation == DOC_OP_SALE ? CHECK_FOR_SALE : CHECK_FOR_RETURN;
  journal(t, l->code, l->code_len, true);
  r->checked = true;
  /* With the line's fraction: a part of a pack is checked as the part it
  ** is (planned 2 / 4, 1291 in the FN's 81, the pack's account). */
  check_request_t q = {.scan = l->code,
                       .len = l->code_len,
                       .purpose = purpose,
                       .price = l->has_price ? l->price : 0,
                       .in_receipt = kis,
                       .in_receipt_count = nk,
                       .fraction_numerator = l->fraction_numerator,
                       .fraction_denominator = l->fraction_denominator,
                       .keep = true,
                       .given = req->force_catalogue ? NULL : &given};
  int rc = check_run(t, &q, &r->decision);
  if (rc == 0 && r->decision.allow) return 0;
  journal(t, l->code, l->code_len, false); /* the refusal declined it already */
  r->reason = check_reason_name(r->decision.reason);
  snprintf(r->message_ru, sizeof r->message_ru, "%s", r->decision.message_ru);
  snprintf(r->message_en, sizeof r->message_en, "%s", r->decision.message_en);
  return -1;
}

int full_receipt_close(till_t *t, const full_receipt_t *req, full_line_result_t *results,
                       sale_closed_t *closed)
{
  sale_basket_t *b = NULL;
  doc_item_t *items = NULL;
  const char *kis[DOC_MAX_ITEMS];
  size_t nk = 0;
  fn_doc_result_t res;
  int rc, frc = 0;
  bool refused = false;
  char cashier[FN_CASHIER_SIZE]; /* 1021 folded as every document's text (sale_open) */
  if (!t || !req || !results || !closed) return SALE_ERR_ARGUMENT;
  if (req->count == 0) return SALE_ERR_EMPTY;
  if (req->count > DOC_MAX_ITEMS ||
      (req->operation != DOC_OP_SALE && req->operation != DOC_OP_SALE_RETURN) ||
      !fn_cashier_ok(req->cashier)) /* also false without a NUL in the array */
    return SALE_ERR_ARGUMENT;
  memcpy(cashier, req->cashier, sizeof cashier);
  fiscal_text_fold(cashier);
  t->last_fn_error = 0;
  if (!(b = malloc(sizeof *b)) || !(items = calloc(req->count, sizeof *items))) {
    rc = SALE_ERR_STORAGE;
    goto done;
  }
  if ((rc = sale_get(t, b)) != 0) goto done;
  if (b->open) {
    rc = SALE_ERR_OPEN;
    goto done;
  }
  for (size_t i = 0; i < req->count; i++) {
    full_line_result_t *r = &results[i];
    if (check_line(t, req, i, kis, nk, r) != 0 || make_item(t, req, i, r, &items[i]) != 0) {
      refused = true;
      continue;
    }
    r->allow = true;
    if (r->checked && r->decision.marked) kis[nk++] = r->decision.ki;
  }
  if (refused) {
    rc = SALE_ERR_REFUSED;
    goto decline;
  }
  uint64_t total = 0, paid = 0;
  for (size_t i = 0; i < req->count; i++) total += items[i].total;
  const uint64_t forms[5] = {req->payments.cash, req->payments.cashless, req->payments.prepaid,
                             req->payments.credit, req->payments.other};
  for (int k = 0; k < 5; k++) {
    if (forms[k] > total) paid = UINT64_MAX;
    if (paid != UINT64_MAX) paid += forms[k];
  }
  if (paid != total || (req->tendered && req->tendered < req->payments.cash)) {
    rc = SALE_ERR_PAYMENT;
    goto decline;
  }
  fn_receipt_order_t order = {.operation = req->operation,
                              .tax_system = (uint8_t)t->config.tax_system,
                              .cashier = cashier[0] ? cashier : NULL,
                              .items = items,
                              .count = req->count,
                              .pay = req->payments,
                              .correction = req->correction ? &req->corr : NULL};
  if ((frc = fn_receipt_make(t->fn, &order, &res)) != 0) goto fn_failed;
  /* Sold. The cache learns it from the archive; the journal lets go. */
  till_replay(t, NULL);
  for (size_t i = 0; i < req->count; i++)
    if (req->lines[i].code_len) journal(t, req->lines[i].code, req->lines[i].code_len, false);
  memset(closed, 0, sizeof *closed);
  closed->doc = res;
  closed->operation = req->operation;
  closed->total = total;
  closed->cash = req->payments.cash;
  closed->cashless = req->payments.cashless;
  closed->prepaid = req->payments.prepaid;
  closed->credit = req->payments.credit;
  closed->other = req->payments.other;
  closed->tendered = req->tendered ? req->tendered : req->payments.cash;
  closed->change = closed->tendered - req->payments.cash;
  closed->lines = req->count;
  for (size_t i = 0; i < req->count; i++) closed->marked_lines += items[i].marked;
  rc = 0;
  goto done;
fn_failed:
  t->last_fn_error = frc;
  rc = SALE_ERR_FN;
decline:
  decline_all(t, req, results);
done:
  free(b);
  free(items);
  return rc;
}
