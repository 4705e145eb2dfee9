/*
** ofd/emulator/oism.c: sale notifications applied to the OISM registry,
** online or in a batch (see oism.h).
**
** The one rule both roads keep: a notification is identified by its FN
** and its own number (2002), and is applied once. The frame port answers a
** redelivered 82 with the ticket of the first application; the batch
** endpoint answers a batch sent twice (or a batch whose notifications came
** online in between) the same way, so a code is never counted sold twice
** and a ticket never differs from one road to the other.
**
** A batch is all or nothing: its signature and every notification's own
** fiscal sign are checked before anything is written, and its
** notifications are applied in one transaction, so a refused batch leaves
** the registry as it was and the shop can fix and send it again.
*/
#include "ofd/emulator/oism.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/part.h"
#include "fiscal/doc.h"
#include "fiscal/fn_emu.h"
#include "fiscal/tlv.h"
#include "ofd/batch.h"
#include "ofd/emulator/admin.h"

bool oism_code_blocked(const store_code_t *c) { return c->blocked_code || c->blocked_gtin; }

bool oism_fits(const store_code_t *c, uint8_t planned, uint64_t n, uint64_t d, oism_next_t *next)
{
  bool returning = planned == DOC_KM_PIECE_RETURNED || planned == DOC_KM_MEASURED_RETURNED;
  part_account_t have = {c->sold_units, c->inner_units}, after;
  if (c->inner_units <= 1)
    have = strcmp(c->status, "sold") == 0 ? (part_account_t){1, 1} : (part_account_t){0, 0};
  bool status_fits =
      returning ? have.sold > 0
                : strcmp(c->status, "in_circulation") == 0 || strcmp(c->status, "returned") == 0;
  if (!status_fits) return false;
  if (d == 0 && have.units <= 1) {
    /* A whole piece (or a weighed good) of a pack not sold by parts. */
    *next = (oism_next_t){returning ? "in_circulation" : "sold", 0, 0};
    return true;
  }
  if (part_apply(&have, !returning, n, d, &after) != PART_OK) return false;
  *next = (oism_next_t){part_sold_out(&after) ? "sold" : "in_circulation", after.sold, after.units};
  return true;
}

int oism_read_fraction(const tlv_item_t *item, uint64_t *n, uint64_t *d)
{
  tlv_reader_t in;
  tlv_item_t f;
  int rc;
  *n = *d = 0;
  if (tlv_reader_enter(item, &in) != 0) return -1;
  while ((rc = tlv_reader_next(&in, &f)) == 0) {
    if (f.tag == 1293 && tlv_get_vln(&f, n) != 0) return -1;
    if (f.tag == 1294 && tlv_get_vln(&f, d) != 0) return -1;
  }
  return rc == TLV_ERR_END ? 0 : -1;
}

/* Applies the 2007 lines of a verified 82; counts the refused ones.
** 0, 1 malformed, -1 store. */
static int lines_apply(store_t *s, const uint8_t *doc, size_t len, uint32_t number,
                       unsigned *refused)
{
  tlv_reader_t r, in, line;
  tlv_item_t item, f;
  uint32_t n2002 = 0;
  int rc;
  *refused = 0;
  tlv_reader_init(&r, doc, len);
  if (tlv_reader_next(&r, &item) != 0 || item.tag != DOC_KM_NOTIFICATION || !tlv_reader_done(&r) ||
      tlv_reader_enter(&item, &in) != 0)
    return 1;
  while ((rc = tlv_reader_next(&in, &item)) == 0) {
    char km[DOC_MAX_KM + 1] = "", ki[STORE_KI_MAX + 1];
    size_t km_len = 0;
    uint8_t status = 0;
    uint64_t n = 0, d = 0;
    store_code_t c;
    oism_next_t next;
    int got;
    if (item.tag == 2002 && tlv_get_uint32(&item, &n2002) != 0) return 1;
    if (item.tag != 2007) continue;
    if (tlv_reader_enter(&item, &line) != 0) return 1;
    while ((got = tlv_reader_next(&line, &f)) == 0) {
      if (f.tag == 2000 && tlv_get_string(&f, km, sizeof km, &km_len) != 0) return 1;
      if (f.tag == 2110 && tlv_get_byte(&f, &status) != 0) return 1;
      if (f.tag == 1291 && oism_read_fraction(&f, &n, &d) != 0) return 1;
    }
    if (got != TLV_ERR_END) return 1;
    if (!admin_ki(km, km_len, ki, sizeof ki) ||
        (got = store_code_get(s, ki, &c)) == STORE_NOT_FOUND || oism_code_blocked(&c)) {
      (*refused)++;
      continue;
    }
    if (got != 0) return -1;
    if (d != 0) {
      /* A part of a pack: applied only when it fits, as the check asks. */
      if (!oism_fits(&c, status, n, d, &next)) {
        (*refused)++;
        continue;
      }
      got = store_code_set_parts(s, ki, next.status, next.sold_units, next.inner_units);
    } else if (status == DOC_KM_PIECE_SOLD || status == DOC_KM_MEASURED_SOLD) {
      got = store_code_set_parts(s, ki, "sold", 0, 0);
    } else if (status == DOC_KM_PIECE_RETURNED || status == DOC_KM_MEASURED_RETURNED) {
      got = store_code_set_parts(s, ki, "in_circulation", 0, 0);
    }
    if (got != 0) return -1;
  }
  return rc == TLV_ERR_END && n2002 == number ? 0 : 1;
}

int oism_apply_notification(store_t *s, const char *fn, const uint8_t *doc, size_t len,
                            uint32_t number, uint32_t now, uint8_t *result, uint8_t *refused,
                            bool *repeated)
{
  unsigned bad = 0;
  int rc = store_notification_get(s, fn, number, result, refused);
  *repeated = rc == 0;
  if (rc == 0) return 0;
  if (rc != STORE_NOT_FOUND) return -1;
  if ((rc = lines_apply(s, doc, len, number, &bad)) != 0) return rc;
  *result = bad ? 1 : 0;
  *refused = (uint8_t)(bad > 254 ? 254 : bad);
  return store_notification_put(s, fn, number, now, *result, *refused) == 0 ? 0 : -1;
}

/* ---- the batch endpoint -------------------------------------------------- */

static void refuse(unsigned *status, json_t **answer, unsigned code, const char *name,
                   const char *format, ...) __attribute__((format(printf, 5, 6)));

static void refuse(unsigned *status, json_t **answer, unsigned code, const char *name,
                   const char *format, ...)
{
  char why[768];
  va_list ap;
  va_start(ap, format);
  vsnprintf(why, sizeof why, format, ap);
  va_end(ap);
  *status = code;
  *answer = json_pack("{s:i,s:s,s:s}", "code", (int)code, "error", name, "description", why);
}

void oism_batch_upload(store_t *s, pthread_mutex_t *lock, const char *body, size_t len,
                       uint32_t now, unsigned *status, json_t **answer)
{
  batch_t *b = NULL;
  uint8_t secret[STORE_SECRET_LEN];
  char detail[512] = "";
  json_t *tickets = NULL;
  size_t applied = 0, repeated = 0, refused_lines = 0;
  bool locked = false, in_tx = false;
  int rc;

  *answer = NULL;
  rc = batch_parse(body ? body : "", body ? len : 0, &b, detail, sizeof detail);
  if (rc == BATCH_ERR_NO_MEMORY) {
    refuse(status, answer, 500, "no_memory", "out of memory");
    goto done;
  }
  if (rc != 0) {
    refuse(status, answer, rc == BATCH_ERR_INCONSISTENT ? 422 : 400,
           rc == BATCH_ERR_INCONSISTENT ? "inconsistent" : "malformed", "%s %s",
           batch_err_message(rc, false), detail);
    goto done;
  }
  pthread_mutex_lock(lock);
  locked = true;
  rc = store_fn_secret(s, b->fn_number, secret);
  if (rc == STORE_NOT_FOUND) {
    refuse(status, answer, 404, "unknown_fn",
           "FN %s is not registered at this operator (kassa-operator fn add); nothing applied",
           b->fn_number);
    goto done;
  }
  if (rc != 0) {
    refuse(status, answer, 500, "store", "the operator's store failed");
    goto done;
  }
  if (batch_verify(b, secret) != 0) {
    refuse(status, answer, 403, "bad_signature",
           "the batch signature does not verify with FN %s's key: altered or not this FN's; "
           "nothing applied",
           b->fn_number);
    goto done;
  }
  /* Every 82 carries its own fiscal sign: check them all before writing. */
  for (size_t i = 0; i < b->count; i++) {
    const batch_notification_t *n = &b->notifications[i];
    if (fn_emu_verify_sign(secret, n->document, n->document_len) != 0) {
      refuse(status, answer, 422, "bad_document_sign",
             "notification %u: its fiscal sign (1077) does not verify; nothing applied", n->number);
      goto done;
    }
  }
  if (!(tickets = json_array())) {
    refuse(status, answer, 500, "no_memory", "out of memory");
    goto done;
  }
  if (store_begin(s) != 0) {
    refuse(status, answer, 500, "store", "the operator's store failed");
    goto done;
  }
  in_tx = true;
  for (size_t i = 0; i < b->count; i++) {
    const batch_notification_t *n = &b->notifications[i];
    uint8_t result = 1, refused = 0, doc84[256];
    size_t doc84_len = 0;
    bool again = false;
    rc = oism_apply_notification(s, b->fn_number, n->document, n->document_len, n->number, now,
                                 &result, &refused, &again);
    if (rc != 0) {
      if (rc > 0)
        refuse(status, answer, 422, "inconsistent",
               "notification %u does not apply (malformed); nothing applied", n->number);
      else
        refuse(status, answer, 500, "store", "the operator's store failed");
      goto done;
    }
    doc_km_ticket_t t = {n->number, result, refused};
    char *doc64 = NULL;
    json_t *one = NULL;
    if (doc_build_km_ticket(&t, doc84, sizeof doc84, &doc84_len) == 0 &&
        (doc64 = codec_base64_encode(doc84, doc84_len)))
      one = json_pack("{s:I,s:i,s:i,s:s}", "number", (json_int_t)n->number, "result", (int)result,
                      "refusedLines", (int)refused, "document", doc64);
    free(doc64);
    if (!one || json_array_append_new(tickets, one) != 0) {
      refuse(status, answer, 500, "no_memory", "out of memory");
      goto done;
    }
    if (again)
      repeated++;
    else
      applied++;
    refused_lines += refused;
  }
  if (store_commit(s) != 0) {
    refuse(status, answer, 500, "store", "the operator's store failed");
    goto done;
  }
  in_tx = false;
  *status = 200;
  *answer = json_pack("{s:i,s:s,s:s,s:I,s:I,s:I,s:I}", "code", 0, "description", "ok", "fnNumber",
                      b->fn_number, "count", (json_int_t)b->count, "applied", (json_int_t)applied,
                      "repeated", (json_int_t)repeated, "refusedLines", (json_int_t)refused_lines);
  if (*answer && json_object_set_new(*answer, "tickets", tickets) == 0) {
    tickets = NULL;
  } else {
    tickets = NULL; /* set_new released it */
    json_decref(*answer);
    refuse(status, answer, 500, "no_memory", "out of memory");
  }
done:
  if (in_tx) store_rollback(s);
  if (locked) pthread_mutex_unlock(lock);
  memset(secret, 0, sizeof secret);
  json_decref(tickets);
  batch_free(b);
}
