/*
** remark.h: remarking (перемаркировка) a good whose code is damaged or lost.
**
** A manager takes a fresh code from the store's pool (codes the operator
** issued to the store, `kassa cache pool add`), the till records the link old -> new in one
** cache transaction: the old code becomes REMARKED and never sells again,
** the new one is in stock. The caller prints the new code as a DataMatrix
** label (pos/print/label.h): the till knows codes, not pictures. The old side is either a code the
*store knows
** (scanned or typed, its identification part is enough) or a good returned
** without a readable code (a pending return, cache_pending_t).
**
** The operator must hear of it too, so no other till sells the old code.
** The report is queued in DATA/till.db in the same step and sent at once;
** when the link is down it stays queued and remark_flush() (also run by
** every later remark) sends it. A queued report is never lost and sending
** it twice is harmless (the operator answers "repeated").
*/
#ifndef KASSA_POS_REMARK_H
#define KASSA_POS_REMARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiscal/doc.h"
#include "pos/till/cache.h"
#include "pos/till/state.h"

typedef enum remark_err {
  REMARK_OK = 0,
  REMARK_ERR_ARGUMENT = -1,  /* "argument": neither or both of old code and pending return */
  REMARK_ERR_CODE = -2,      /* "bad_code": the old code is unreadable or unknown here */
  REMARK_ERR_STATE = -3,     /* "state": the old code is sold or already remarked */
  REMARK_ERR_EMPTY = -4,     /* "pool_empty": no fresh code of this GTIN in the pool */
  REMARK_ERR_NOT_FOUND = -5, /* "not_found": no such pending return */
  REMARK_ERR_STORAGE = -6,   /* "storage": the cache or the queue failed */
  REMARK_ERR_LABEL = -7,     /* "label": the caller could not draw the label (the remark stands) */
} remark_err_t;

const char *remark_err_name(int err);
const char *remark_err_message(int err, bool russian);

typedef struct remark_result {
  char old[CACHE_KI_MAX + 32]; /* the old ki, or "return:DOC:LINE" */
  char gtin[15];
  char new_code[DOC_MAX_KM + 1]; /* the full new code, GS as 0x1D */
  size_t new_code_len;
  bool reported;          /* the operator took the report now */
  char report_error[256]; /* why not, when queued */
} remark_result_t;

/*
** Remarks one good: old_scan (len bytes, any form markcode_parse takes, or
** just the ki) or pending_id (> 0) of a return without a code; exactly one
** of them. Fills *out (it owns no memory).
*/
int remark_good(till_t *t, const char *old_scan, size_t len, int64_t pending_id,
                remark_result_t *out);

/* Sends queued reports; *sent and *left (may be NULL) count them. 0, or
** REMARK_ERR_STORAGE; a network failure leaves reports queued (0). */
int remark_flush(till_t *t, unsigned *sent, unsigned *left);

#endif /* KASSA_POS_REMARK_H */
