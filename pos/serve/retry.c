/*
** retry.c: safe retries of state-changing requests (see receipt_full.h and
** pos/till/idempotency.h for the model).
**
** A request with an Idempotency-Key header is bound to the digest of its
** method, path and body (the body as canonical JSON: keys sorted, no
** spaces, so a front end that re-serialises the same object is the same
** request). Its first 2xx answer is stored with the key; a repeat gets it
** back byte for byte and runs nothing. The key is claimed before the
** handler runs, with the FN's last document number; if the process dies
** before the answer is stored, the repeat finds the claim still pending
** and looks at the archive: the next document a receipt (the sale
** happened) gives the answer again, made from the archive as the first
** one was; no next document means nothing happened and the request runs;
** another kind of document (a shift opened, say) is answered 409
** idempotency_in_doubt, since only a receipt's answer can be made again.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "pos/serve/receipt_full.h"
#include "pos/till/idempotency.h"

static bool changes_state(const char *method) { return strcmp(method, "GET") != 0; }

/* The digest of the request (canonical body). 0, or -1 with rs filled. */
static int request_digest(const api_request_t *rq, json_t *body, char digest[65],
                          api_response_t *rs)
{
  char *canon = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  int rc = idempotency_digest(rq->method, rq->path, canon ? canon : "", canon ? strlen(canon) : 0,
                              digest);
  free(canon);
  if (rc != 0)
    return api_fail(rs, 500, "till", "Внутренняя ошибка кассы.", "The till failed internally.",
                    NULL);
  return 0;
}

static void send_stored(api_response_t *rs, const idempotency_entry_t *e)
{
  free(rs->body);
  rs->body = e->body ? strdup(e->body) : NULL;
  rs->body_len = rs->body ? strlen(rs->body) : 0;
  rs->status = rs->body ? e->status : 500;
}

/* A pending claim: what the archive says happened after it. 1 answered,
** 0 run the request anew, -1 answered with an error. */
static int resolve_pending(api_t *api, const api_request_t *rq, json_t *body,
                           const idempotency_entry_t *e, api_response_t *rs)
{
  till_t *t = api_till(api);
  fn_status_t st;
  if (fn_status(till_fn(t), &st) != 0) {
    api_fail_fn(rs, FN_ERR_FAILURE);
    return -1;
  }
  if (st.last_document <= e->after_document) return 0; /* nothing happened */
  unsigned width;
  uint64_t tendered;
  receipt_full_answer_options(body, &width, &tendered);
  json_t *answer = receipt_full_answer(t, e->after_document + 1, width, tendered);
  if (!answer)
    return api_fail(rs, 409, "idempotency_in_doubt",
                    "Запрос с этим ключом мог быть выполнен до сбоя: проверьте состояние кассы.",
                    "The request with this key may have been done before a failure: check "
                    "the till's state.",
                    json_pack("{s:I}", "document", (json_int_t)(e->after_document + 1)));
  api_send_json(rs, 201, answer);
  if (rs->body) idempotency_finish(t, rq->idempotency_key, rs->status, rs->body);
  return 1;
}

int retry_before(api_t *api, const api_request_t *rq, json_t *body, api_response_t *rs)
{
  till_t *t = api_till(api);
  idempotency_entry_t e;
  char digest[65];
  fn_status_t st;
  if (!rq->idempotency_key || !changes_state(rq->method)) return 0;
  if (!idempotency_key_ok(rq->idempotency_key)) {
    api_fail(rs, 400, "bad_request",
             "Заголовок Idempotency-Key: от 1 до 255 печатных символов ASCII.",
             "The Idempotency-Key header: 1 to 255 printable ASCII characters.",
             json_pack("{s:s}", "field", "Idempotency-Key"));
    return 1;
  }
  if (request_digest(rq, body, digest, rs) != 0) return 1;
  int rc = idempotency_get(t, rq->idempotency_key, &e);
  if (rc == 0 && strcmp(e.digest, digest) != 0) {
    idempotency_entry_free(&e);
    api_fail(rs, 422, "idempotency_conflict",
             "Этот ключ Idempotency-Key уже использован для другого запроса.",
             "This Idempotency-Key was already used for a different request.",
             json_pack("{s:s}", "field", "Idempotency-Key"));
    return 1;
  }
  if (rc == 0 && !e.pending) {
    send_stored(rs, &e);
    idempotency_entry_free(&e);
    return 1;
  }
  if (rc == 0) {
    int r = resolve_pending(api, rq, body, &e, rs);
    idempotency_entry_free(&e);
    if (r != 0) return 1;
  } else if (rc != IDEMPOTENCY_ERR_NOT_FOUND) {
    api_fail(rs, 500, "storage", "Ошибка файла кассы.", "The till's file failed.", NULL);
    return 1;
  }
  if (fn_status(till_fn(t), &st) != 0) {
    api_fail_fn(rs, FN_ERR_FAILURE);
    return 1;
  }
  if (idempotency_begin(t, rq->idempotency_key, digest, st.last_document) != 0) {
    api_fail(rs, 500, "storage", "Ошибка файла кассы.", "The till's file failed.", NULL);
    return 1;
  }
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
