/*
** correction.c: the correction receipt (see correction.h). The one place
** that turns a correction request into an FN receipt, so the command line
** and the HTTP API cannot make different documents from the same words.
*/
#include "pos/till/correction.h"

#include <stdlib.h>
#include <string.h>

#include "common/errtab.h"
#include "pos/till/fiscal_text.h"

uint8_t correction_vat_parse(const char *text)
{
  static const struct {
    const char *text;
    uint8_t value;
  } rates[] = {{"20", 1}, {"10", 2}, {"20/120", 3}, {"10/110", 4}, {"0", 5},   {"none", 6},
               {"5", 7},  {"7", 8},  {"5/105", 9},  {"7/107", 10}, {"22", 11}, {"22/122", 12}};
  char t[16];
  size_t n = text ? strlen(text) : 0;
  if (!n || n >= sizeof t) return 0;
  memcpy(t, text, n + 1);
  if (t[n - 1] == '%') t[n - 1] = '\0';
  for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
    if (!strcmp(t, rates[i].text)) return rates[i].value;
  return 0;
}

/* The line's 1214 when the request leaves it to the forms. */
static uint8_t method_for(const correction_request_t *r, uint64_t amount)
{
  if (r->method) return r->method;
  if (r->pay.credit == 0) return DOC_PAY_FULL;
  return r->pay.credit == amount ? DOC_PAY_CREDIT : DOC_PAY_PARTIAL_CREDIT;
}

int correction_close(fn_t *fn, const correction_request_t *r, fn_doc_result_t *out)
{
  const uint64_t limit = (UINT64_C(1) << 48) - 1;
  doc_item_t item;
  if (!fn || !r || !out || !r->reason || !r->reason[0] || r->vat < 1 || r->vat > DOC_VAT_MAX ||
      r->method > DOC_PAY_CREDIT_PAYMENT ||
      (r->operation != DOC_OP_SALE && r->operation != DOC_OP_SALE_RETURN))
    return FN_ERR_PARAMS;
  const uint64_t forms[5] = {r->pay.cash, r->pay.cashless, r->pay.prepaid, r->pay.credit,
                             r->pay.other};
  uint64_t amount = 0;
  for (int i = 0; i < 5; i++) {
    if (forms[i] > limit || amount + forms[i] > limit) return FN_ERR_PARAMS;
    amount += forms[i];
  }
  if (amount == 0) return FN_ERR_PARAMS;
  fn_correction_t c = {.type = r->type, .date = r->date};
  const char *order = r->order_number ? r->order_number : "";
  if (strlen(order) >= sizeof c.order_number) return FN_ERR_PARAMS;
  memcpy(c.order_number, order, strlen(order) + 1);
  memset(&item, 0, sizeof item);
  /* 1030 holds at most 128 characters of CP866: fold what CP866 lacks,
  ** then a longer reason ends at a word with "..." (it is printed). */
  char *folded = strdup(r->reason);
  if (!folded) return FN_ERR_NO_MEMORY;
  fiscal_text_fold(folded);
  errtab_fit(item.name, sizeof item.name, folded, 128, "...");
  free(folded);
  fiscal_text_utf8_clean(item.name);
  item.price = item.total = amount;
  item.quantity = (doc_quantity_t){1, 0};
  item.vat = r->vat;
  item.subject = 1;
  item.payment_method = method_for(r, amount);
  fn_receipt_order_t one = {.operation = r->operation,
                            .tax_system = r->tax_system,
                            .cashier = r->cashier,
                            .items = &item,
                            .count = 1,
                            .pay = r->pay,
                            .correction = &c};
  return fn_receipt_make(fn, &one, out);
}
