/*
** receipt_full.c: POST /api/receipts/full, a receipt in one call (see
** receipt_full.h and pos/till/full_receipt.h), and the enumerations and
** the answer it shares with the ATOL-style tasks (atol.c).
**
** The request, in the API's conventions (snake_case, kopecks):
**
**   {"operation": "sale" | "return", "cashier": "…",
**    "lines": [{"name", "price", "quantity", "measure", "vat",
**               "payment_method", "payment_object", "code",
**               "fraction": "1/4" | {"numerator","denominator"},
**               "agent_info": {"agents": ["commissionAgent"], "paying_agent":
**                              {"operation","phones"}, "receive_payments_operator":
**                              {"phones"}, "money_transfer_operator": {"phones",
**                              "name","address","inn"}},
**               "supplier_info": {"phones","name","inn"}}, …],
**    "payments": {"cash","cashless","prepaid","credit","other"},
**    "buyer_contact": "+79001234567" | "name@example.ru" (1008),
**    "tendered", "width"}
**
** Every field of a line but "code" may be left out where the catalogue
** knows the good (name, price, VAT, weighed); a line without a code is a
** good or service sold on the front end's word (name and price required).
** The answer is made from the FN archive (receipt_full_answer): a retry
** after a crash between the close and the answer gets the same answer.
**
** KASSA_TEST_FAULT=after_close (tests only) ends the process right after
** the FN closed the receipt and before anything is answered or stored, so
** a test can kill `kassa serve` at exactly that moment; before_close ends
** it after the Idempotency-Key was claimed and before the FN heard of the
** receipt.
*/
#include "pos/serve/receipt_full.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "pos/print/receipt.h"
#include "pos/till/sale.h"
#include "pos/till/till_json.h"

/* ---- the answer, from the archive ------------------------------------------------ */

#define WIDTH_DEFAULT 48u
#define WIDTH_MIN     24u
#define WIDTH_MAX     80u

void receipt_full_answer_options(json_t *body, unsigned *width, uint64_t *tendered)
{
  json_t *w = json_object_get(body, "width"), *t = json_object_get(body, "tendered");
  *width =
      json_is_integer(w) && json_integer_value(w) >= WIDTH_MIN && json_integer_value(w) <= WIDTH_MAX
          ? (unsigned)json_integer_value(w)
          : WIDTH_DEFAULT;
  *tendered = json_is_integer(t) && json_integer_value(t) > 0 ? (uint64_t)json_integer_value(t) : 0;
}

json_t *receipt_full_answer(till_t *t, uint32_t document, unsigned width, uint64_t tendered)
{
  fn_document_t *doc = malloc(sizeof *doc);
  doc_receipt_t *r = malloc(sizeof *r);
  doc_header_t h;
  uint64_t total = 0;
  uint8_t sign[6];
  char qr[256] = "";
  json_t *j = NULL;
  int err = 0;
  if (!doc || !r || fn_document_get(till_fn(t), document, doc) != 0 ||
      (doc->type != DOC_RECEIPT && doc->type != DOC_CORRECTION) ||
      doc_parse_receipt(doc->data, doc->len, &h, r, &total, sign) != 0)
    goto done;
  uint32_t fp = doc_fiscal_sign_printed(sign);
  doc_receipt_qr(&h, total, r->operation, fp, qr, sizeof qr);
  size_t marked = 0;
  for (size_t i = 0; i < r->item_count; i++) marked += r->items[i].marked;
  uint64_t given = tendered && tendered >= r->cash ? tendered : r->cash;
  char *text = receipt_text(t, document, width, &err);
  json_t *receipt = json_pack(
      "{s:I,s:I,s:I,s:s,s:I,s:I,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:o,s:o}",
      "document", (json_int_t)document, "time", (json_int_t)h.time, "fiscal_sign", (json_int_t)fp,
      "fn_number", h.fn_number, "shift", (json_int_t)h.shift_number, "receipt",
      (json_int_t)r->receipt_number, "operation",
      r->operation == DOC_OP_SALE_RETURN ? "return" : "sale", "total", (json_int_t)total, "cash",
      (json_int_t)r->cash, "cashless", (json_int_t)r->cashless, "prepaid", (json_int_t)r->prepaid,
      "credit", (json_int_t)r->credit, "other", (json_int_t)r->other, "tendered", (json_int_t)given,
      "change", (json_int_t)(given - r->cash), "lines", (json_int_t)r->item_count, "marked_lines",
      (json_int_t)marked, "qr", qr, "qr_png", api_qr_png(qr), "text",
      text ? json_string(text) : json_null());
  free(text);
  if (receipt) json_object_set_new(receipt, "buyer_contact", json_string(r->buyer_contact));
  j = json_pack("{s:b,s:o*}", "ok", 1, "receipt", receipt);
done:
  free(doc);
  free(r);
  return j;
}

void receipt_full_fault_point(const char *point)
{
  const char *fault = getenv("KASSA_TEST_FAULT");
  if (fault && !strcmp(fault, point)) _exit(86); /* tests only: a crash right here */
}

/* ---- the request ---------------------------------------------------------------- */

json_t *receipt_full_refusals(const full_line_result_t *results, size_t count)
{
  json_t *list = json_array();
  for (size_t i = 0; list && i < count; i++) {
    const full_line_result_t *r = &results[i];
    json_t *one = json_pack("{s:I,s:b,s:s,s:s,s:s}", "line", (json_int_t)(i + 1), "allow", r->allow,
                            "reason", r->reason ? r->reason : "ok", "message_ru", r->message_ru,
                            "message_en", r->message_en);
    if (one && r->field) json_object_set_new(one, "field", json_string(r->field));
    if (one && r->checked && !r->allow)
      json_object_set_new(one, "decision", till_json_decision(&r->decision));
    json_array_append_new(list, one);
  }
  return list;
}

/* A line's field that is not what it should be: 400 naming it. */
static int bad_line(api_response_t *rs, size_t i, const char *field, const char *ru, const char *en)
{
  char name[64], mru[256], men[256];
  snprintf(name, sizeof name, "lines[%zu].%s", i, field);
  snprintf(mru, sizeof mru, "Поле «%s»: %s.", name, ru);
  snprintf(men, sizeof men, "Field '%s': %s.", name, en);
  return api_fail(rs, 400, "bad_request", mru, men, json_pack("{s:s}", "field", name));
}

/* A non-negative integer field (kopecks) below 2^40; *present. */
static bool kopecks(json_t *v, uint64_t *out)
{
  if (!json_is_integer(v) || json_integer_value(v) < 0 ||
      json_integer_value(v) >= ((json_int_t)1 << 40))
    return false;
  *out = (uint64_t)json_integer_value(v);
  return true;
}

static int read_line(json_t *o, size_t i, full_line_t *l, api_response_t *rs)
{
  json_t *v;
  const char *field = NULL;
  memset(l, 0, sizeof *l);
  if (!json_is_object(o)) return bad_line(rs, i, "", "должна быть объектом", "must be an object");
  if ((v = json_object_get(o, "name")) &&
      (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= sizeof l->name))
    return bad_line(rs, i, "name", "строка до 256 байт", "a string of up to 256 bytes");
  if (v) memcpy(l->name, json_string_value(v), json_string_length(v) + 1);
  if ((v = json_object_get(o, "price")) && !(l->has_price = kopecks(v, &l->price)))
    return bad_line(rs, i, "price", "целое число копеек", "an integer number of kopecks");
  if ((v = json_object_get(o, "quantity"))) {
    char text[64] = "";
    if (json_is_string(v))
      snprintf(text, sizeof text, "%s", json_string_value(v));
    else if (json_is_integer(v))
      snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v) && json_real_value(v) > 0 && json_real_value(v) < 1e9)
      snprintf(text, sizeof text, "%.3f", json_real_value(v));
    if (!(l->has_quantity = sale_quantity_parse(text, &l->quantity)))
      return bad_line(rs, i, "quantity", "больше нуля, не более трёх знаков после точки",
                      "above zero, at most three decimals");
  }
  if ((v = json_object_get(o, "measure")) && !(l->has_measure = frontend_measure(v, &l->measure)))
    return bad_line(rs, i, "measure", "единица ФФД (piece, kilogram, liter … или 2108)",
                    "an FFD unit (piece, kilogram, liter ... or the 2108 number)");
  if ((v = json_object_get(o, "vat")) && !frontend_vat(v, &l->vat))
    return bad_line(rs, i, "vat", "ставка НДС (vat22, vat10, vat0, none … или 1199)",
                    "a VAT rate (vat22, vat10, vat0, none ... or the 1199 number)");
  if ((v = json_object_get(o, "payment_method")) && !frontend_method(v, &l->method))
    return bad_line(rs, i, "payment_method", "способ расчёта (fullPayment … или 1214)",
                    "a payment method (fullPayment ... or the 1214 number)");
  if ((v = json_object_get(o, "payment_object")) && !frontend_subject(v, &l->subject))
    return bad_line(rs, i, "payment_object", "предмет расчёта (commodityWithMarking … или 1212)",
                    "a payment object (commodityWithMarking ... or the 1212 number)");
  if ((v = json_object_get(o, "code"))) {
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) > MARKCODE_MAX_INPUT)
      return bad_line(rs, i, "code", "код маркировки или штрихкод строкой",
                      "a marking code or barcode as a string");
    l->code_len = json_string_length(v);
    memcpy(l->code, json_string_value(v), l->code_len + 1);
  }
  if ((v = json_object_get(o, "fraction")) &&
      !frontend_fraction(v, &l->fraction_numerator, &l->fraction_denominator))
    return bad_line(rs, i, "fraction", "дробь «n/d», 0 < n < d", "a fraction \"n/d\", 0 < n < d");
  json_t *agent = json_object_get(o, "agent_info"), *supplier = json_object_get(o, "supplier_info");
  if ((agent || supplier) &&
      frontend_agent(agent, supplier, &frontend_agent_keys_kassa, &l->agent, &field) != 0)
    return bad_line(rs, i, field, "данные агента по формату ФФД", "agent data as the FFD has it");
  if (!l->code_len && (!l->name[0] || !l->has_price))
    return bad_line(rs, i, "code", "без кода нужны name и price",
                    "without a code, name and price are required");
  return 0;
}

static const char *const payment_keys[] = {"cash", "cashless", "prepaid", "credit", "other"};

static int read_request(api_t *api, json_t *body, full_receipt_t *req, api_response_t *rs)
{
  json_t *v, *lines = json_object_get(body, "lines"), *pay = json_object_get(body, "payments");
  memset(req, 0, sizeof *req);
  req->operation = DOC_OP_SALE;
  req->force_catalogue = till_config(api_till(api))->force_catalogue;
  if ((v = json_object_get(body, "operation"))) {
    const char *op = json_string_value(v);
    if (op && !strcmp(op, "return"))
      req->operation = DOC_OP_SALE_RETURN;
    else if (!op || strcmp(op, "sale") != 0)
      return api_fail(rs, 400, "bad_request", "Поле «operation»: «sale» или «return».",
                      "Field 'operation': \"sale\" or \"return\".",
                      json_pack("{s:s}", "field", "operation"));
  }
  if ((v = json_object_get(body, "cashier")) &&
      (!json_is_string(v) || json_string_length(v) >= sizeof req->cashier ||
       !fn_cashier_ok(json_string_value(v))))
    return api_fail(rs, 400, "bad_request", "Поле «cashier»: строка до 64 символов.",
                    "Field 'cashier': a string of up to 64 characters.",
                    json_pack("{s:s}", "field", "cashier"));
  if (v) memcpy(req->cashier, json_string_value(v), json_string_length(v) + 1);
  if (!json_is_array(lines) || json_array_size(lines) == 0 ||
      json_array_size(lines) > DOC_MAX_ITEMS)
    return api_fail(rs, 400, "bad_request", "Поле «lines»: от 1 до 100 позиций.",
                    "Field 'lines': 1 to 100 lines.", json_pack("{s:s}", "field", "lines"));
  req->count = json_array_size(lines);
  for (size_t i = 0; i < req->count; i++)
    if (read_line(json_array_get(lines, i), i, &req->lines[i], rs) != 0) return -1;
  if (!json_is_object(pay))
    return api_fail(rs, 400, "bad_request", "Поле «payments»: объект с суммами оплаты.",
                    "Field 'payments': an object of the amounts paid.",
                    json_pack("{s:s}", "field", "payments"));
  uint64_t *forms[5] = {&req->payments.cash, &req->payments.cashless, &req->payments.prepaid,
                        &req->payments.credit, &req->payments.other};
  for (size_t k = 0; k < 5; k++)
    if ((v = json_object_get(pay, payment_keys[k])) && !kopecks(v, forms[k]))
      return api_fail(rs, 400, "bad_request", "Поле «payments»: суммы в копейках.",
                      "Field 'payments': amounts in kopecks.",
                      json_pack("{s:s}", "field", "payments"));
  if ((v = json_object_get(body, "buyer_contact")) &&
      frontend_buyer_contact(v, req->payments.buyer_contact) != 0)
    return api_fail(rs, 400, "bad_request",
                    "Поле «buyer_contact»: телефон или e-mail покупателя, до 64 символов.",
                    "Field 'buyer_contact': the buyer's phone or e-mail, up to 64 characters.",
                    json_pack("{s:s}", "field", "buyer_contact"));
  if ((v = json_object_get(body, "tendered")) && !kopecks(v, &req->tendered))
    return api_fail(rs, 400, "bad_request", "Поле «tendered»: копейки.",
                    "Field 'tendered': kopecks.", json_pack("{s:s}", "field", "tendered"));
  if ((v = json_object_get(body, "width")) &&
      (!json_is_integer(v) || json_integer_value(v) < WIDTH_MIN ||
       json_integer_value(v) > WIDTH_MAX))
    return api_fail(rs, 400, "bad_request", "Поле «width»: от 24 до 80 символов.",
                    "Field 'width': 24 to 80 characters.", json_pack("{s:s}", "field", "width"));
  return 0;
}

void receipt_full_handle(api_t *api, const api_request_t *rq, json_t *body, api_response_t *rs)
{
  full_receipt_t *req = malloc(sizeof *req);
  full_line_result_t *results = NULL;
  sale_closed_t closed;
  if (!req) {
    api_fail(rs, 500, "till", "Внутренняя ошибка кассы.", "The till failed internally.", NULL);
    return;
  }
  if (read_request(api, body, req, rs) != 0) goto done;
  if (req->operation == DOC_OP_SALE_RETURN && api_check_manager(api, rq, rs) != 0) goto done;
  receipt_full_fault_point("before_close");
  if (!(results = calloc(req->count, sizeof *results))) {
    api_fail(rs, 500, "till", "Внутренняя ошибка кассы.", "The till failed internally.", NULL);
    goto done;
  }
  int rc = full_receipt_close(api_till(api), req, results, &closed);
  if (rc == SALE_ERR_REFUSED) {
    api_fail(rs, 422, "refused", "Чек не принят: позиции не прошли проверку.",
             "The receipt is refused: lines did not pass the check.",
             json_pack("{s:o*}", "lines", receipt_full_refusals(results, req->count)));
    goto done;
  }
  if (rc == SALE_ERR_FN) {
    int frc = till_sale_fn_error(api_till(api));
    api_fail_fn(rs, frc ? frc : FN_ERR_FAILURE);
    goto done;
  }
  if (rc != 0) {
    api_fail(rs,
             rc == SALE_ERR_STORAGE   ? 500
             : rc == SALE_ERR_PAYMENT ? 422
                                      : 409,
             sale_err_name(rc), sale_err_message(rc, true), sale_err_message(rc, false), NULL);
    goto done;
  }
  receipt_full_fault_point("after_close");
  unsigned width;
  uint64_t tendered;
  receipt_full_answer_options(body, &width, &tendered);
  json_t *answer = receipt_full_answer(api_till(api), closed.doc.number, width, tendered);
  if (!answer) {
    api_fail(rs, 500, "till", "Чек закрыт, но не читается из архива ФН.",
             "The receipt is closed but cannot be read from the FN archive.",
             json_pack("{s:I}", "document", (json_int_t)closed.doc.number));
    goto done;
  }
  api_send_json(rs, 201, answer);
done:
  free(req);
  free(results);
}
