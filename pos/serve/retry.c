/*
** retry.c: safe retries of state-changing requests (see api.h and
** pos/till/idempotency.h for the model).
**
** A request with an Idempotency-Key header is bound to the digest of its
** method, path and body (the body as canonical JSON: keys sorted, no
** spaces, so a front end that re-serialises the same object is the same
** request). Its first 2xx answer is stored with the key; a repeat gets it
** back byte for byte and runs nothing. The key is claimed before the
** handler runs, with the FN's last document number and the request itself.
**
** If the process dies before the answer is stored, the claim stays pending.
** Every state-changing request settles pending claims first (retry_settle),
** before it can make a document of its own (and so does reading an ATOL
** request's results), so the archive's next document after a claim
** can only be the claim's own or another program's (the CLI while the
** service was down). A claim is settled by what the archive says:
**   - no next document: nothing happened; the claim is forgotten and a
**     retry runs anew;
**   - the next document is a receipt matching the kept request (a receipt
**     in one call: the same number of lines and the same payments; a basket
**     paid: the same cash and cashless when the request named them; an
**     ATOL request: atol_settle): its answer is made from the archive, as
**     the lost one was, and stored;
**   - anything else: 409 idempotency_in_doubt is stored for the key (the
**     till cannot tell whether the request ran: check the status).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "pos/serve/receipt_full.h"
#include "pos/till/idempotency.h"

#define SETTLE_MAX 8 /* claims settled before one request (a crash leaves one) */

static bool changes_state(const char *method) { return strcmp(method, "GET") != 0; }

static int storage_failed(api_response_t *rs)
{
  return api_fail(rs, 500, "storage", "Ошибка файла кассы.", "The till's file failed.", NULL);
}

/* The payment form key of a request body, 0 when absent. */
static uint64_t amount(json_t *obj, const char *key)
{
  json_t *v = json_object_get(obj, key);
  return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

/* Is archived document fd the receipt the kept request {method, path, body} made? */
static bool receipt_of(till_t *t, uint32_t fd, json_t *kept)
{
  const char *path = json_string_value(json_object_get(kept, "path"));
  json_t *body = json_object_get(kept, "body");
  fn_document_t *doc = malloc(sizeof *doc);
  doc_receipt_t *r = malloc(sizeof *r);
  doc_header_t h;
  uint64_t total = 0;
  uint8_t sign[6];
  bool same = false;
  if (path && doc && r && fn_document_get(till_fn(t), fd, doc) == 0 &&
      (doc->type == DOC_RECEIPT || doc->type == DOC_CORRECTION) &&
      doc_parse_receipt(doc->data, doc->len, &h, r, &total, sign) == 0) {
    if (!strcmp(path, "/api/receipts/full")) {
      json_t *pay = json_object_get(body, "payments");
      same = json_array_size(json_object_get(body, "lines")) == r->item_count &&
             amount(pay, "cash") == r->cash && amount(pay, "cashless") == r->cashless &&
             amount(pay, "prepaid") == r->prepaid && amount(pay, "credit") == r->credit &&
             amount(pay, "other") == r->other;
    } else if (!strcmp(path, "/api/receipts/current/pay")) {
      same = (!json_object_get(body, "cash") || amount(body, "cash") == r->cash) &&
             (!json_object_get(body, "cashless") || amount(body, "cashless") == r->cashless);
    }
  }
  free(doc);
  free(r);
  return same;
}

/* Settles one claim a crash left pending (see the top of the file). */
static void settle(api_t *api, const idempotency_entry_t *e)
{
  till_t *t = api_till(api);
  fn_status_t st;
  api_response_t rs = {0};
  if (fn_status(till_fn(t), &st) != 0) return; /* the next request tries again */
  if (st.last_document <= e->after_document) {
    idempotency_forget(t, e->key);
    return;
  }
  if (!strncmp(e->key, "atol:", 5)) {
    atol_settle(api, e->key, e->after_document, e->request);
    return;
  }
  json_t *kept = e->request ? json_loads(e->request, 0, NULL) : NULL;
  json_t *answer = NULL;
  if (receipt_of(t, e->after_document + 1, kept)) {
    unsigned width;
    uint64_t tendered;
    receipt_full_answer_options(json_object_get(kept, "body"), &width, &tendered);
    answer = receipt_full_answer(t, e->after_document + 1, width, tendered);
  }
  if (answer)
    api_send_json(&rs, 201, answer);
  else
    api_fail(&rs, 409, "idempotency_in_doubt",
             "Запрос с этим ключом мог быть выполнен до сбоя: проверьте состояние кассы.",
             "The request with this key may have been done before a failure: check the "
             "till's state.",
             json_pack("{s:I}", "document", (json_int_t)(e->after_document + 1)));
  if (rs.body) idempotency_finish(t, e->key, rs.status, rs.body);
  api_response_free(&rs);
  json_decref(kept);
}

/* Settles every claim a crash left pending, oldest first. */
static void retry_settle(api_t *api)
{
  idempotency_entry_t e;
  for (int i = 0; i < SETTLE_MAX && idempotency_next_pending(api_till(api), &e) == 0; i++) {
    settle(api, &e);
    idempotency_entry_free(&e);
  }
}

int retry_before(api_t *api, const api_request_t *rq, json_t *body, api_response_t *rs)
{
  till_t *t = api_till(api);
  idempotency_entry_t e;
  char digest[65];
  fn_status_t st;
  /* A GET makes no document; only an ATOL request's results need its
  ** claim settled to be read. */
  if (changes_state(rq->method) || !strncmp(rq->path, "/api/v2/requests/", 17)) retry_settle(api);
  if (!rq->idempotency_key || !changes_state(rq->method)) return 0;
  if (!idempotency_key_ok(rq->idempotency_key)) {
    api_fail(rs, 400, "bad_request",
             "Заголовок Idempotency-Key: от 1 до 255 печатных символов ASCII.",
             "The Idempotency-Key header: 1 to 255 printable ASCII characters.",
             json_pack("{s:s}", "field", "Idempotency-Key"));
    return 1;
  }
  char *canon = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_t *kept = json_pack("{s:s,s:s,s:O*}", "method", rq->method, "path", rq->path, "body", body);
  char *request = kept ? json_dumps(kept, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(kept);
  int rc = idempotency_digest(rq->method, rq->path, canon ? canon : "", canon ? strlen(canon) : 0,
                              digest);
  free(canon);
  if (rc == 0) rc = idempotency_get(t, rq->idempotency_key, &e);
  if (rc == 0) {
    if (strcmp(e.digest, digest) != 0)
      api_fail(rs, 422, "idempotency_conflict",
               "Этот ключ Idempotency-Key уже использован для другого запроса.",
               "This Idempotency-Key was already used for a different request.",
               json_pack("{s:s}", "field", "Idempotency-Key"));
    else if (e.body) { /* the stored answer, byte for byte */
      free(rs->body);
      rs->body = strdup(e.body);
      rs->body_len = rs->body ? strlen(rs->body) : 0;
      rs->status = rs->body ? e.status : 500;
    } else
      storage_failed(rs); /* pending after settling: the storage failed */
    idempotency_entry_free(&e);
    free(request);
    return 1;
  }
  if (rc != IDEMPOTENCY_ERR_NOT_FOUND || !request || fn_status(till_fn(t), &st) != 0 ||
      idempotency_begin(t, rq->idempotency_key, digest, st.last_document, request) != 0) {
    free(request);
    storage_failed(rs);
    return 1;
  }
  free(request);
  return 0;
}

void retry_after(api_t *api, const api_request_t *rq, const api_response_t *rs)
{
  if (!rq->idempotency_key || !changes_state(rq->method) ||
      !idempotency_key_ok(rq->idempotency_key))
    return;
  if (rs->status >= 200 && rs->status < 300 && rs->body)
    idempotency_finish(api_till(api), rq->idempotency_key, rs->status, rs->body);
  else
    idempotency_forget(api_till(api), rq->idempotency_key);
}
