/*
** atol.c: ATOL-style JSON tasks on the API port, for front ends written
** for ATOL's web server (the most common integration of Russian tills):
**
**   POST /api/v2/requests      {"uuid": "…", "request": [task, …] | task}
**   GET  /api/v2/requests/{uuid}
**     -> {"results": [{"status", "errorCode", "errorDescription", "result"}]}
**
** Field names and values are ATOL's published JSON task format (its
** driver's and web server's documentation, and the many public front ends
** that send it): a task's "type"; a receipt's "items" of type "position"
** with "name", "price" and "amount" in roubles, "quantity",
** "measurementUnit", "paymentMethod", "paymentObject", "tax": {"type":
** "vat22"}, "imcParams": {"imc": base64 of the marking code,
** "itemEstimatedStatus", "itemFractionalAmount"}, "agentInfo",
** "supplierInfo"; "payments": [{"type": "cash" | "electronically" |
** "prepaid" | "credit" | "other", "sum"}]; "operator": {"name"}. The code
** is kassa's own.
**
** Tasks: sell, sellReturn, sellCorrection (and sellReturnCorrection),
** openShift, closeShift, reportX, getShiftStatus, cashIn, cashOut,
** beginMarkingCodeValidation, getMarkingCodeValidationStatus,
** acceptMarkingCode, declineMarkingCode, cancelMarkingCodeValidation,
** getFnInfo. A receipt task becomes a full_receipt_t and closes through
** full_receipt_close(), like POST /api/receipts/full, so the same receipt
** makes the same document either way.
**
** What kassa decides where ATOL's behaviour is its device's ([open]):
**   - A request runs at once; POST answers 201 with the results too, GET
**     gives them again. Tasks run in order; after a failed task the rest
**     are "interrupted" (not run).
**   - The uuid is the idempotency key (pos/till/idempotency.h, key
**     "atol:UUID"): the same uuid with the same body is answered with the
**     stored results and runs nothing; with another body it is 409
**     uuid_used. A crash between a receipt's close and the stored results
**     is settled from the archive before the next request (atol_settle):
**     a request of one receipt task whose receipt is the next document
**     (same positions, same payments) is answered with it; anything else
**     with every task "interrupted".
**   - errorCode numbers are the ATOL driver's (libfptr) for the same kind
**     of failure: 8 a required parameter missing, 11 not supported (an
**     unknown task), 12 not allowed in this state (the FN refused, a
**     validation not begun, a shift already open), 13 a parameter's value
**     (a refused marking code: errorDescription has the check's reason),
**     16 a sum that does not add up; the description says what kassa's
**     rule was, in Russian and English.
**   - Marking-code validation asks the whole pipeline (check_probe) and
**     keeps nothing in the FN: the sell task checks the code again, as a
**     scan would. "onlineValidation" reports the pipeline's verdict in
**     ATOL's fields.
**   - clientInfo.emailOrPhone is the receipt's 1008.
**   - reportX and closeShift are POST /api/reports/x and /z (office.h):
**     their result adds to ATOL's fiscalParams kassa's "report" (the
**     sealed totals per operation and payment form, and the drawer).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/codec.h"
#include "common/errtab.h"
#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "pos/serve/receipt_full.h"
#include "pos/till/check.h"
#include "pos/till/idempotency.h"
#include "pos/till/office.h"
#include "pos/till/till_json.h"

/* libfptr's error numbers for the failures kassa reports. */
#define ATOL_NO_PARAM      8
#define ATOL_NOT_SUPPORTED 11
#define ATOL_INVALID_MODE  12
#define ATOL_INVALID_PARAM 13
#define ATOL_INVALID_SUM   16
#define ATOL_UUID_MAX      64

/* A line's refusal in a task's description: "позиция N: " and the reason's
** name around the check's message. */
#define ATOL_LINE_MAX (CHECK_MESSAGE_MAX + 64)

typedef struct task_result {
  bool ok;
  int code;
  char description[2 * ATOL_LINE_MAX + 8]; /* "ru / en", each whole */
  json_t *result;                          /* owned; NULL: {} */
} task_result_t;

/* The task failed with code; its description "ru / en" (errtab_join: a
** text too long is cut at a word, never inside a UTF-8 character, which
** would make the answer's JSON invalid). */
static void task_fail(task_result_t *r, int code, const char *ru, const char *en)
{
  const char *parts[] = {ru, "/", en};
  r->ok = false;
  r->code = code;
  errtab_join(r->description, sizeof r->description, parts, 3);
}

/* ---- numbers -------------------------------------------------------------------- */

/* Roubles (a JSON number) as kopecks: false for a negative, huge or
** non-number value, or one with more than two decimals. */
static bool roubles(json_t *v, uint64_t *out)
{
  double d = json_is_integer(v) ? (double)json_integer_value(v)
             : json_is_real(v)  ? json_real_value(v)
                                : -1;
  if (!(d >= 0 && d < 1e10)) return false;
  double k = round(d * 100.0);
  if (fabs(k - d * 100.0) > 1e-6 * (1 + d)) return false;
  *out = (uint64_t)k;
  return true;
}

/* A quantity as the shortest decimal text with at most three places. */
static bool quantity(json_t *v, doc_quantity_t *q)
{
  char text[64];
  double d = json_is_integer(v) ? (double)json_integer_value(v)
             : json_is_real(v)  ? json_real_value(v)
                                : -1;
  if (!(d > 0 && d < 1e9)) return false;
  snprintf(text, sizeof text, "%.3f", d);
  char *end = text + strlen(text) - 1;
  while (*end == '0') *end-- = '\0';
  if (*end == '.') *end = '\0';
  return sale_quantity_parse(text, q) && fabs(atof(text) - d) < 1e-9 * (1 + d);
}

/* ---- a receipt task -------------------------------------------------------------- */

static const struct {
  const char *name;
  size_t form; /* index into the five forms */
} payment_types[] = {
    {"cash", 0}, {"electronically", 1}, {"prepaid", 2}, {"credit", 3}, {"other", 4},
};

/* One item of type "position" into l; 0, or -1 with r failed. */
static int read_position(json_t *it, size_t i, full_line_t *l, task_result_t *r)
{
  json_t *v, *imc = json_object_get(it, "imcParams");
  const char *field = NULL;
  char ru[160], en[160];
  memset(l, 0, sizeof *l);
#define BAD(what_ru, what_en, code)                                                                \
  do {                                                                                             \
    snprintf(ru, sizeof ru, "позиция %zu: %s", i + 1, what_ru);                                    \
    snprintf(en, sizeof en, "item %zu: %s", i + 1, what_en);                                       \
    task_fail(r, code, ru, en);                                                                    \
    return -1;                                                                                     \
  } while (0)
  v = json_object_get(it, "name");
  if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= sizeof l->name)
    BAD("нет наименования (name)", "no name", ATOL_NO_PARAM);
  memcpy(l->name, json_string_value(v), json_string_length(v) + 1);
  if (!roubles(json_object_get(it, "price"), &l->price))
    BAD("цена (price) в рублях", "price in roubles", ATOL_INVALID_SUM);
  l->has_price = true;
  if (!quantity(json_object_get(it, "quantity"), &l->quantity))
    BAD("количество (quantity)", "quantity", ATOL_INVALID_PARAM);
  l->has_quantity = true;
  if (!frontend_vat(json_object_get(json_object_get(it, "tax"), "type"), &l->vat))
    BAD("ставка НДС (tax.type)", "VAT rate (tax.type)", ATOL_INVALID_PARAM);
  if ((v = json_object_get(it, "paymentMethod")) && !frontend_method(v, &l->method))
    BAD("способ расчёта (paymentMethod)", "paymentMethod", ATOL_INVALID_PARAM);
  if ((v = json_object_get(it, "paymentObject")) && !frontend_subject(v, &l->subject))
    BAD("предмет расчёта (paymentObject)", "paymentObject", ATOL_INVALID_PARAM);
  if ((v = json_object_get(it, "measurementUnit")) &&
      !(l->has_measure = frontend_measure(v, &l->measure)))
    BAD("единица (measurementUnit)", "measurementUnit", ATOL_INVALID_PARAM);
  json_t *code = imc ? json_object_get(imc, "imc")
                     : json_object_get(json_object_get(it, "markingCode"), "mark");
  if (code) {
    uint8_t *raw = NULL;
    size_t n = 0;
    if (!json_is_string(code) ||
        codec_base64_decode(json_string_value(code), json_string_length(code), &raw, &n) != 0 ||
        n == 0 || n > MARKCODE_MAX_INPUT || memchr(raw, 0, n)) {
      free(raw);
      BAD("код маркировки (imc) в base64", "marking code (imc) in base64", ATOL_INVALID_PARAM);
    }
    memcpy(l->code, raw, n);
    l->code[n] = '\0';
    l->code_len = n;
    free(raw);
  }
  if (imc && (v = json_object_get(imc, "itemFractionalAmount")) &&
      !frontend_fraction(v, &l->fraction_numerator, &l->fraction_denominator))
    BAD("дробное количество (itemFractionalAmount)", "itemFractionalAmount", ATOL_INVALID_PARAM);
  json_t *agent = json_object_get(it, "agentInfo"), *supplier = json_object_get(it, "supplierInfo");
  if ((agent || supplier) &&
      frontend_agent(agent, supplier, &frontend_agent_keys_atol, &l->agent, &field) != 0)
    BAD("данные агента (agentInfo, supplierInfo)", "agent data (agentInfo, supplierInfo)",
        ATOL_INVALID_PARAM);
  uint64_t amount, line;
  double q = atof(doc_quantity_text(l->quantity, ru, sizeof ru));
  line = (uint64_t)llround((double)l->price * q);
  if ((v = json_object_get(it, "amount")) && (!roubles(v, &amount) || amount != line))
    BAD("сумма (amount) не равна цене × количество", "amount is not price × quantity",
        ATOL_INVALID_SUM);
#undef BAD
  return 0;
}

/* A receipt task (sell, sellReturn, their corrections) into req. */
static int read_receipt(api_t *api, json_t *task, uint8_t operation, bool correction,
                        full_receipt_t *req, task_result_t *r)
{
  json_t *items = json_object_get(task, "items"), *payments = json_object_get(task, "payments");
  json_t *v;
  size_t i;
  memset(req, 0, sizeof *req);
  req->operation = operation;
  req->force_catalogue = till_config(api_till(api))->force_catalogue;
  const char *cashier =
      json_string_value(json_object_get(json_object_get(task, "operator"), "name"));
  if (cashier && !fn_cashier_ok(cashier)) { /* refused whole, never cut: it goes into 1021 */
    task_fail(r, ATOL_INVALID_PARAM, "operator.name: не больше 64 символов",
              "operator.name: at most 64 characters");
    return -1;
  }
  if (cashier) memcpy(req->cashier, cashier, strlen(cashier) + 1);
  if (!json_is_array(items)) {
    task_fail(r, ATOL_NO_PARAM, "нет позиций (items)", "no items");
    return -1;
  }
  json_array_foreach(items, i, v)
  {
    const char *type = json_string_value(json_object_get(v, "type"));
    if (type && strcmp(type, "position") != 0) continue; /* text, barcode: print only */
    if (req->count >= DOC_MAX_ITEMS) {
      task_fail(r, ATOL_INVALID_PARAM, "больше 100 позиций", "more than 100 items");
      return -1;
    }
    if (read_position(v, i, &req->lines[req->count], r) != 0) return -1;
    req->count++;
  }
  if (req->count == 0) {
    task_fail(r, ATOL_NO_PARAM, "нет позиций (items)", "no items");
    return -1;
  }
  uint64_t *forms[5] = {&req->payments.cash, &req->payments.cashless, &req->payments.prepaid,
                        &req->payments.credit, &req->payments.other};
  json_array_foreach(payments, i, v)
  {
    uint64_t sum;
    size_t form = SIZE_MAX;
    json_t *type = json_object_get(v, "type");
    for (size_t k = 0; k < sizeof payment_types / sizeof payment_types[0]; k++)
      if ((json_is_string(type) && !strcmp(json_string_value(type), payment_types[k].name)) ||
          (json_is_integer(type) && json_integer_value(type) == (json_int_t)k))
        form = payment_types[k].form;
    if (form == SIZE_MAX || !roubles(json_object_get(v, "sum"), &sum)) {
      task_fail(r, ATOL_INVALID_PARAM, "оплата (payments): type и sum", "payments: type and sum");
      return -1;
    }
    *forms[form] += sum;
  }
  json_t *contact = json_object_get(json_object_get(task, "clientInfo"), "emailOrPhone");
  if (contact && frontend_buyer_contact(contact, req->payments.buyer_contact) != 0) {
    task_fail(r, ATOL_INVALID_PARAM, "контакт покупателя (clientInfo.emailOrPhone)",
              "the buyer's contact (clientInfo.emailOrPhone)");
    return -1;
  }
  if (correction) {
    const char *kind = json_string_value(json_object_get(task, "correctionType"));
    const char *date = json_string_value(json_object_get(task, "correctionBaseDate"));
    const char *number = json_string_value(json_object_get(task, "correctionBaseNumber"));
    struct tm tm = {0};
    char tail;
    req->correction = true;
    req->corr.type = kind && !strcmp(kind, "instruction") ? 1 : 0;
    if (!date || sscanf(date, "%4d.%2d.%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tail) != 3 ||
        tm.tm_year < 2000 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31) {
      task_fail(r, ATOL_NO_PARAM, "дата коррекции (correctionBaseDate, ГГГГ.ММ.ДД)",
                "correctionBaseDate (YYYY.MM.DD)");
      return -1;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    req->corr.date = (uint32_t)timegm(&tm);
    if (req->corr.type == 1) { /* 1179, refused whole rather than cut (as the API does) */
      if (!number) number = "";
      if (strlen(number) >= sizeof req->corr.order_number) {
        task_fail(r, ATOL_INVALID_PARAM, "correctionBaseNumber: не больше 32 байт",
                  "correctionBaseNumber: at most 32 bytes");
        return -1;
      }
      memcpy(req->corr.order_number, number, strlen(number) + 1);
    }
  }
  return 0;
}

/* ATOL's fiscalParams of FN document res (number, sign, time ...). */
static json_t *fiscal_params(till_t *t, uint32_t number, uint32_t time, uint32_t fp, uint32_t shift,
                             uint32_t receipt, uint64_t total)
{
  fn_status_t st;
  char when[32], sign[16];
  time_t tt = (time_t)time;
  struct tm tm;
  gmtime_r(&tt, &tm); /* 1012 is local time written as UTC */
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(sign, sizeof sign, "%u", fp);
  if (fn_status(till_fn(t), &st) != 0) memset(&st, 0, sizeof st);
  json_t *j = json_pack("{s:I,s:s,s:s,s:I,s:s,s:s,s:s}", "fiscalDocumentNumber", (json_int_t)number,
                        "fiscalDocumentSign", sign, "fiscalDocumentDateTime", when, "shiftNumber",
                        (json_int_t)shift, "fnNumber", st.fn_number, "registrationNumber",
                        st.kkt_reg_number, "fnsUrl", "www.nalog.gov.ru");
  if (j && receipt) {
    json_object_set_new(j, "fiscalReceiptNumber", json_integer(receipt));
    json_object_set_new(j, "total", json_real((double)total / 100.0));
  }
  return j;
}

/* The result of a closed receipt, from the archive (a retry's too). */
static json_t *receipt_result(till_t *t, uint32_t document)
{
  json_t *answer = receipt_full_answer(t, document, 48, 0);
  json_t *r = json_object_get(answer, "receipt");
  json_t *j =
      r ? json_pack("{s:o*,s:n}", "fiscalParams",
                    fiscal_params(t, document,
                                  (uint32_t)json_integer_value(json_object_get(r, "time")),
                                  (uint32_t)json_integer_value(json_object_get(r, "fiscal_sign")),
                                  (uint32_t)json_integer_value(json_object_get(r, "shift")),
                                  (uint32_t)json_integer_value(json_object_get(r, "receipt")),
                                  (uint64_t)json_integer_value(json_object_get(r, "total"))),
                    "warnings")
        : NULL;
  json_decref(answer);
  return j;
}

static void run_receipt(api_t *api, json_t *task, uint8_t operation, bool correction,
                        task_result_t *r)
{
  full_receipt_t *req = malloc(sizeof *req);
  full_line_result_t *lines = NULL;
  sale_closed_t closed;
  if (!req) {
    task_fail(r, ATOL_INVALID_MODE, "нет памяти", "out of memory");
    return;
  }
  if (read_receipt(api, task, operation, correction, req, r) != 0) goto done;
  if (!(lines = calloc(req->count, sizeof *lines))) {
    task_fail(r, ATOL_INVALID_MODE, "нет памяти", "out of memory");
    goto done;
  }
  int rc = full_receipt_close(api_till(api), req, lines, &closed);
  if (rc == SALE_ERR_REFUSED) {
    for (size_t i = 0; i < req->count; i++) {
      if (lines[i].allow) continue;
      char ru[ATOL_LINE_MAX], en[ATOL_LINE_MAX];
      snprintf(ru, sizeof ru, "позиция %zu: %s (%s)", i + 1, lines[i].message_ru, lines[i].reason);
      snprintf(en, sizeof en, "item %zu: %s (%s)", i + 1, lines[i].message_en, lines[i].reason);
      task_fail(r, ATOL_INVALID_PARAM, ru, en);
      r->result = json_pack("{s:o*}", "lines", receipt_full_refusals(lines, req->count));
      break;
    }
  } else if (rc == SALE_ERR_FN) {
    int frc = till_sale_fn_error(api_till(api));
    task_fail(r, ATOL_INVALID_MODE, fn_err_message(frc ? frc : FN_ERR_FAILURE, true),
              fn_err_message(frc ? frc : FN_ERR_FAILURE, false));
  } else if (rc != 0) {
    task_fail(r, rc == SALE_ERR_PAYMENT ? ATOL_INVALID_SUM : ATOL_INVALID_MODE,
              sale_err_message(rc, true), sale_err_message(rc, false));
  } else {
    receipt_full_fault_point("after_close");
    r->ok = true;
    r->result = receipt_result(api_till(api), closed.doc.number);
  }
done:
  free(req);
  free(lines);
}

/* ---- shifts, reports, cash, FN -------------------------------------------------- */

/* openShift: the FN's shift open (2), answered with its fiscalParams. */
static void run_shift_open(api_t *api, json_t *task, task_result_t *r)
{
  till_t *t = api_till(api);
  const char *cashier =
      json_string_value(json_object_get(json_object_get(task, "operator"), "name"));
  fn_doc_result_t res;
  int rc = fn_shift_open(till_fn(t), cashier, &res);
  if (rc != 0) {
    task_fail(r, ATOL_INVALID_MODE, fn_err_message(rc, true), fn_err_message(rc, false));
    return;
  }
  till_replay(t, NULL);
  r->ok = true;
  r->result = json_pack(
      "{s:o*,s:n}", "fiscalParams",
      fiscal_params(t, res.number, res.time, res.fiscal_sign, res.shift_number, 0, 0), "warnings");
}

/*
** reportX (z false) and closeShift (z true): office_report(), the same
** function as POST /api/reports/x and /z, so the rules, the refusals and
** the totals are theirs. The result is ATOL's "fiscalParams" (document
** number, fiscal sign, time, shift) and, kassa's addition, "report": the
** totals read back from the sealed document and the drawer, in the shape
** of /api/reports (office_report_json: kopecks, snake_case).
*/
static void run_report(api_t *api, json_t *task, bool z, task_result_t *r)
{
  till_t *t = api_till(api);
  const char *cashier =
      json_string_value(json_object_get(json_object_get(task, "operator"), "name"));
  office_fail_t why;
  office_report_t *rep = malloc(sizeof *rep);
  if (!rep) {
    task_fail(r, ATOL_INVALID_MODE, "нет памяти", "out of memory");
    return;
  }
  if (office_report(till_fn(t), till_config(t)->data_dir, z, z ? cashier : NULL, rep, &why) != 0) {
    task_fail(r, ATOL_INVALID_MODE, why.message_ru, why.message_en);
    free(rep);
    return;
  }
  till_replay(t, NULL); /* the cache's replay pointer level with the archive */
  r->ok = true;
  r->result =
      json_pack("{s:o*,s:o*,s:n}", "fiscalParams",
                fiscal_params(t, rep->doc.number, rep->doc.time, rep->doc.fiscal_sign,
                              rep->doc.shift_number ? rep->doc.shift_number : rep->shift, 0, 0),
                "report", office_report_json(rep), "warnings");
  free(rep);
}

static void run_shift_status(api_t *api, task_result_t *r)
{
  fn_status_t st;
  char until[32] = "";
  if (fn_status(till_fn(api_till(api)), &st) != 0) {
    task_fail(r, ATOL_INVALID_MODE, "ФН не отвечает", "the FN does not answer");
    return;
  }
  bool expired = st.shift_open && st.now > st.shift_opened_at + 24u * 3600u;
  if (st.shift_open) {
    time_t end = (time_t)st.shift_opened_at + 24 * 3600;
    struct tm tm;
    gmtime_r(&end, &tm);
    strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%S", &tm);
  }
  r->ok = true;
  r->result = json_pack("{s:{s:s,s:I,s:s}}", "shiftStatus", "state",
                        !st.shift_open ? "closed"
                        : expired      ? "expired"
                                       : "opened",
                        "number", (json_int_t)st.shift_number, "expirationDateTime", until);
}

static void run_cash(api_t *api, json_t *task, bool in, task_result_t *r)
{
  till_t *t = api_till(api);
  uint64_t amount;
  office_cash_t done;
  office_fail_t why;
  if (!roubles(json_object_get(task, "cashSum"), &amount) || amount == 0) {
    task_fail(r, ATOL_NO_PARAM, "сумма (cashSum) в рублях", "cashSum in roubles");
    return;
  }
  /* The drawer's rules are pos/till/office.h's, as for POST /api/cash/in|out. */
  if (office_cash(till_fn(t), till_config(t)->data_dir, in, amount, &done, &why) != 0) {
    task_fail(r, ATOL_INVALID_MODE, why.message_ru, why.message_en);
    return;
  }
  r->ok = true;
  r->result = json_pack("{s:f}", "cashSum", (double)done.balance / 100.0);
}

static void run_fn_info(api_t *api, task_result_t *r)
{
  fn_status_t st;
  if (fn_status(till_fn(api_till(api)), &st) != 0) {
    task_fail(r, ATOL_INVALID_MODE, "ФН не отвечает", "the FN does not answer");
    return;
  }
  bool overdue = st.unsent_documents && st.now > st.first_unsent_time &&
                 st.now - st.first_unsent_time > 30u * 86400u;
  r->ok = true;
  r->result =
      json_pack("{s:{s:s,s:s,s:s,s:s,s:I,s:I,s:{s:b,s:b,s:b,s:b,s:b}}}", "fnInfo", "serial",
                st.fn_number, "ffdVersion", "1.2", "fnFfdVersion", "1.2", "livePhase",
                st.phase == FN_PHASE_FISCAL  ? "fiscalMode"
                : st.phase == FN_PHASE_READY ? "configuration"
                                             : "postFiscalMode",
                "lastDocumentNumber", (json_int_t)st.last_document, "unsentDocuments",
                (json_int_t)st.unsent_documents, "warnings", "criticalError", 0, "memoryOverflow",
                0, "needReplacement", 0, "resourceExhausted", 0, "ofdTimeout", overdue);
}

/* ---- marking-code validation ---------------------------------------------------- */

static const char *const estimated_statuses[] = {
    NULL, "itemPieceSold", "itemDryForSale", "itemPieceReturn", "itemDryReturn",
};

static void run_validation_begin(api_t *api, json_t *task, task_result_t *r)
{
  json_t *params = json_object_get(task, "params"), **state = api_atol_validation(api);
  json_t *imc = json_object_get(params, "imc"),
         *status = json_object_get(params, "itemEstimatedStatus");
  uint8_t *raw = NULL;
  size_t n = 0;
  if (*state) {
    task_fail(r, 401, "проверка КМ уже начата", "a marking-code validation is under way");
    return;
  }
  if (!json_is_string(imc) ||
      codec_base64_decode(json_string_value(imc), json_string_length(imc), &raw, &n) != 0 ||
      n == 0 || n > MARKCODE_MAX_INPUT) {
    free(raw);
    task_fail(r, ATOL_NO_PARAM, "код маркировки (params.imc) в base64",
              "the marking code (params.imc) in base64");
    return;
  }
  check_purpose_t purpose = CHECK_FOR_SALE;
  for (size_t k = 1; k < sizeof estimated_statuses / sizeof estimated_statuses[0]; k++)
    if (json_is_string(status) && !strcmp(json_string_value(status), estimated_statuses[k]))
      purpose = k >= 3 ? CHECK_FOR_RETURN : CHECK_FOR_SALE;
  check_decision_t *d = malloc(sizeof *d);
  if (!d || check_probe(api_till(api), (const char *)raw, n, purpose, 0, NULL, 0, d) != 0) {
    task_fail(r, ATOL_INVALID_MODE, d ? d->message_ru : "нет памяти",
              d ? d->message_en : "out of memory");
  } else {
    *state = till_json_decision(d);
    r->ok = true;
  }
  free(d);
  free(raw);
}

/* ATOL's itemInfoCheckResult of a decision (kassa's pipeline in its words). */
static json_t *check_result(json_t *d)
{
  bool allow = json_is_true(json_object_get(d, "allow"));
  return json_pack("{s:b,s:b,s:b,s:b,s:b}", "imcCheckFlag",
                   json_is_true(json_object_get(d, "fn_checked")), "imcCheckResult",
                   allow || strcmp(json_string_value(json_object_get(d, "reason")), "counterfeit"),
                   "imcStatusInfo",
                   json_is_true(json_object_get(d, "oism_answered")) ||
                       json_is_true(json_object_get(d, "trueapi_answered")),
                   "imcEstimatedStatusCorrect", allow, "ecrStandAloneFlag",
                   json_is_true(json_object_get(d, "offline")));
}

static void run_validation(api_t *api, const char *type, task_result_t *r)
{
  json_t **state = api_atol_validation(api);
  if (!*state) {
    task_fail(r, ATOL_INVALID_MODE, "проверка КМ не начата", "no marking-code validation begun");
    return;
  }
  bool allow = json_is_true(json_object_get(*state, "allow"));
  r->ok = true;
  if (!strcmp(type, "getMarkingCodeValidationStatus")) {
    r->result = json_pack(
        "{s:b,s:b,s:{s:o,s:s,s:s},s:O}", "ready", 1, "sentImcRequest",
        json_is_true(json_object_get(*state, "oism_answered")) ||
            json_is_true(json_object_get(*state, "trueapi_answered")),
        "onlineValidation", "itemInfoCheckResult", check_result(*state), "markOperatorItemStatus",
        allow ? "itemEstimatedStatusCorrect" : "itemEstimatedStatusIncorrect",
        "markOperatorResponseResult", allow ? "correct" : "incorrect", "decision", *state);
    return;
  }
  if (!strcmp(type, "acceptMarkingCode"))
    r->result = json_pack("{s:o}", "itemInfoCheckResult", check_result(*state));
  json_decref(*state);
  *state = NULL;
}

/* ---- the request ----------------------------------------------------------------- */

static void run_task(api_t *api, json_t *task, task_result_t *r)
{
  const char *type = json_string_value(json_object_get(task, "type"));
  memset(r, 0, sizeof *r);
  if (!json_is_object(task) || !type) {
    task_fail(r, ATOL_NO_PARAM, "задание без типа (type)", "a task without its type");
    return;
  }
  if (!strcmp(type, "sell"))
    run_receipt(api, task, DOC_OP_SALE, false, r);
  else if (!strcmp(type, "sellReturn"))
    run_receipt(api, task, DOC_OP_SALE_RETURN, false, r);
  else if (!strcmp(type, "sellCorrection"))
    run_receipt(api, task, DOC_OP_SALE, true, r);
  else if (!strcmp(type, "sellReturnCorrection"))
    run_receipt(api, task, DOC_OP_SALE_RETURN, true, r);
  else if (!strcmp(type, "openShift"))
    run_shift_open(api, task, r);
  else if (!strcmp(type, "closeShift"))
    run_report(api, task, true, r);
  else if (!strcmp(type, "reportX"))
    run_report(api, task, false, r);
  else if (!strcmp(type, "getShiftStatus"))
    run_shift_status(api, r);
  else if (!strcmp(type, "cashIn") || !strcmp(type, "cashOut"))
    run_cash(api, task, !strcmp(type, "cashIn"), r);
  else if (!strcmp(type, "getFnInfo"))
    run_fn_info(api, r);
  else if (!strcmp(type, "beginMarkingCodeValidation"))
    run_validation_begin(api, task, r);
  else if (!strcmp(type, "getMarkingCodeValidationStatus") || !strcmp(type, "acceptMarkingCode") ||
           !strcmp(type, "declineMarkingCode") || !strcmp(type, "cancelMarkingCodeValidation"))
    run_validation(api, type, r);
  else {
    char ru[256], en[256], shown[100];              /* 24 letters of 4 bytes at most: all fit */
    errtab_fit(shown, sizeof shown, type, 24, "…"); /* the front end's text, whole letters */
    snprintf(ru, sizeof ru, "Не поддерживается в данной версии: задание «%s»", shown);
    snprintf(en, sizeof en, "Not supported in this version: the task '%s'", shown);
    task_fail(r, ATOL_NOT_SUPPORTED, ru, en);
  }
}

static json_t *result_json(const task_result_t *r, const char *status)
{
  json_t *result = r->result ? json_incref(r->result) : json_object();
  return json_pack("{s:s,s:i,s:s,s:o}", "status", status, "errorCode", r->code, "errorDescription",
                   r->description, "result", result);
}

static bool uuid_ok(json_t *v)
{
  const char *s = json_string_value(v);
  size_t n = s ? strlen(s) : 0;
  return n > 0 && n <= ATOL_UUID_MAX &&
         strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

/* Does archived receipt fd look like the one receipt task of request (its
** positions and its payments)? What tells a settled claim its own receipt
** from another program's. */
static bool receipt_is_task(till_t *t, uint32_t fd, json_t *task)
{
  fn_document_t *doc = malloc(sizeof *doc);
  doc_receipt_t *r = malloc(sizeof *r);
  doc_header_t h;
  uint64_t total = 0, paid = 0, sum;
  uint8_t sign[6];
  size_t positions = 0, i;
  json_t *v;
  bool same = false;
  if (doc && r && fn_document_get(till_fn(t), fd, doc) == 0 &&
      (doc->type == DOC_RECEIPT || doc->type == DOC_CORRECTION) &&
      doc_parse_receipt(doc->data, doc->len, &h, r, &total, sign) == 0) {
    json_array_foreach(json_object_get(task, "items"), i, v)
    {
      const char *type = json_string_value(json_object_get(v, "type"));
      positions += !type || !strcmp(type, "position");
    }
    json_array_foreach(json_object_get(task, "payments"), i, v)
    {
      if (roubles(json_object_get(v, "sum"), &sum)) paid += sum;
    }
    same = positions == r->item_count && paid == total;
  }
  free(doc);
  free(r);
  return same;
}

/*
** Settles a claim a crash left pending (retry.c calls it for keys
** "atol:…" before anything else runs): a request of one receipt task whose
** receipt is the archive's next document is answered with it; any other is
** answered with every task "interrupted" (the till cannot tell what ran).
*/
void atol_settle(api_t *api, const char *key, uint32_t after_document, const char *request)
{
  till_t *t = api_till(api);
  json_t *body = request ? json_loads(request, 0, NULL) : NULL;
  json_t *tasks = json_object_get(body, "request"), *results = json_array();
  task_result_t r = {0};
  if (json_is_object(tasks))
    tasks = json_pack("[O]", tasks);
  else
    tasks = json_incref(tasks);
  const char *type = json_string_value(json_object_get(json_array_get(tasks, 0), "type"));
  bool receipt = json_array_size(tasks) == 1 && type && !strncmp(type, "sell", 4);
  if (receipt && receipt_is_task(t, after_document + 1, json_array_get(tasks, 0)))
    r.result = receipt_result(t, after_document + 1);
  if (r.result) {
    r.ok = true;
    json_array_append_new(results, result_json(&r, "ready"));
  } else {
    task_fail(&r, ATOL_INVALID_MODE, "задание прервано сбоем: проверьте состояние кассы",
              "the request was cut short by a failure: check the till's state");
    for (size_t i = 0; i < json_array_size(tasks) || i == 0; i++)
      json_array_append_new(results, result_json(&r, "interrupted"));
  }
  json_decref(r.result);
  json_t *answer =
      json_pack("{s:O*,s:o}", "uuid", json_object_get(body, "uuid"), "results", results);
  char *text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
  if (text) idempotency_finish(t, key, 201, text);
  free(text);
  json_decref(answer);
  json_decref(tasks);
  json_decref(body);
}

void atol_handle_post(api_t *api, const api_request_t *rq, json_t *body, api_response_t *rs)
{
  till_t *t = api_till(api);
  json_t *uuid = json_object_get(body, "uuid"), *request = json_object_get(body, "request");
  char key[ATOL_UUID_MAX + 8], digest[65];
  idempotency_entry_t e;
  fn_status_t st;
  if (!uuid_ok(uuid)) {
    api_fail(rs, 400, "bad_request", "Поле «uuid»: от 1 до 64 символов [A-Za-z0-9_-].",
             "Field 'uuid': 1 to 64 of [A-Za-z0-9_-].", json_pack("{s:s}", "field", "uuid"));
    return;
  }
  if (json_is_object(request))
    request = json_pack("[O]", request);
  else
    request = json_incref(request);
  if (!json_is_array(request) || json_array_size(request) == 0 || json_array_size(request) > 32) {
    json_decref(request);
    api_fail(rs, 400, "bad_request", "Поле «request»: задание или список из 1-32 заданий.",
             "Field 'request': a task or a list of 1 to 32 tasks.",
             json_pack("{s:s}", "field", "request"));
    return;
  }
  /* A return or a correction gives money back or rewrites the books: the
  ** manager's PIN, as for the API's own returns. */
  json_t *task;
  size_t i;
  json_array_foreach(request, i, task)
  {
    const char *type = json_string_value(json_object_get(task, "type"));
    if (type && (strstr(type, "Return") || strstr(type, "Correction")) &&
        api_check_manager(api, rq, rs) != 0) {
      json_decref(request);
      return;
    }
  }
  snprintf(key, sizeof key, "atol:%s", json_string_value(uuid));
  char *canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
  int rc = canon ? idempotency_digest(rq->method, rq->path, canon, strlen(canon), digest) : -1;
  free(canon);
  if (rc == 0) rc = idempotency_get(t, key, &e);
  if (rc == 0) {
    if (strcmp(e.digest, digest) != 0) {
      api_fail(rs, 409, "uuid_used", "Задание с таким uuid уже есть (с другим содержимым).",
               "A request with this uuid exists already (with other content).",
               json_pack("{s:s}", "field", "uuid"));
    } else {
      /* Pending claims were settled before this request (retry.c). */
      api_send_json(rs, 201, e.body ? json_loads(e.body, 0, NULL) : NULL);
    }
    idempotency_entry_free(&e);
    json_decref(request);
    return;
  }
  char *kept = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
  if (rc != IDEMPOTENCY_ERR_NOT_FOUND || !kept || fn_status(till_fn(t), &st) != 0 ||
      idempotency_begin(t, key, digest, st.last_document, kept) != 0) {
    free(kept);
    json_decref(request);
    api_fail(rs, 500, "storage", "Ошибка файла кассы.", "The till's file failed.", NULL);
    return;
  }
  free(kept);
  json_t *results = json_array();
  bool failed = false;
  json_array_foreach(request, i, task)
  {
    task_result_t r = {0};
    if (failed) {
      task_fail(&r, ATOL_INVALID_MODE, "не выполнено: предыдущее задание не удалось",
                "not run: an earlier task failed");
      json_array_append_new(results, result_json(&r, "interrupted"));
      continue;
    }
    run_task(api, task, &r);
    failed = !r.ok;
    json_array_append_new(results, result_json(&r, r.ok ? "ready" : "error"));
    json_decref(r.result);
  }
  json_decref(request);
  api_send_json(rs, 201, json_pack("{s:O,s:o}", "uuid", uuid, "results", results));
  if (rs->status == 201) idempotency_finish(t, key, 201, rs->body);
}

void atol_handle_get(api_t *api, const char *uuid, api_response_t *rs)
{
  till_t *t = api_till(api);
  char key[ATOL_UUID_MAX + 8];
  idempotency_entry_t e;
  snprintf(key, sizeof key, "atol:%.*s", ATOL_UUID_MAX, uuid);
  int rc = idempotency_get(t, key, &e);
  if (rc == IDEMPOTENCY_ERR_NOT_FOUND || rc == IDEMPOTENCY_ERR_ARGUMENT) {
    api_fail(rs, 404, "not_found", "Задания с таким uuid нет.", "No request with this uuid.", NULL);
    return;
  }
  if (rc != 0) {
    api_fail(rs, 500, "storage", "Ошибка файла кассы.", "The till's file failed.", NULL);
    return;
  }
  /* Pending claims were settled before this request (retry.c). */
  json_t *j = e.body ? json_loads(e.body, 0, NULL) : NULL;
  idempotency_entry_free(&e);
  api_send_json(rs, 200, j);
}
