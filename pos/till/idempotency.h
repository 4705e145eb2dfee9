/*
** idempotency.h: safe retries. A front end that lost the answer to a
** request (a dropped connection, a restarted till) sends it again with the
** same Idempotency-Key header and must get the same answer, with nothing
** done twice: never two receipts for one sale, never a second shift.
**
** One row per key in DATA/till.db: what the key was used for (the route
** and a Streebog-256 digest of the method, path and body), then either the
** answer as sent (status and body) or, while the request runs, "pending"
** with the FN's last document number at its start. A key used with another
** route or body is a conflict (the caller refuses it: a key is one request).
**
** Why the FN number: the answer to a receipt is a function of the receipt,
** and the receipt is in the FN archive, committed by the FN in the same
** transaction as its numbering. A crash between the FN's commit and the
** stored answer leaves the row pending with document N and the request
** itself. The caller settles every pending row before it lets anything
** else make a document (pos/serve/retry.c): document N + 1 in the archive,
** a receipt matching the kept request, is that receipt, and the answer is
** made again from it, identical to the one the crash swallowed because
** every answer to a receipt is made from the archive. Without document
** N + 1 nothing happened (till_open() cancelled any FN receipt left open)
** and the row is forgotten, so a retry runs anew.
**
** A request that failed before it changed anything (a refused line, a bad
** field) is not kept: the key is free again for the corrected request.
*/
#ifndef KASSA_POS_TILL_IDEMPOTENCY_H
#define KASSA_POS_TILL_IDEMPOTENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pos/till/state.h"

#define IDEMPOTENCY_KEY_MAX 255 /* bytes of a key: printable ASCII */

typedef enum idempotency_err {
  IDEMPOTENCY_OK = 0,
  IDEMPOTENCY_ERR_STORAGE = -1,   /* "storage": DATA/till.db failed */
  IDEMPOTENCY_ERR_ARGUMENT = -2,  /* "argument": a key empty, too long or not printable */
  IDEMPOTENCY_ERR_NOT_FOUND = -3, /* "not_found": the key was never used */
} idempotency_err_t;

const char *idempotency_err_name(int err);

/* A key is 1..IDEMPOTENCY_KEY_MAX printable ASCII characters. */
bool idempotency_key_ok(const char *key);

/* The digest a key is bound to: Streebog-256 of method, path and body, as
** 64 hex digits (out: 65 bytes). */
int idempotency_digest(const char *method, const char *path, const char *body, size_t len,
                       char out[65]);

typedef struct idempotency_entry {
  char key[IDEMPOTENCY_KEY_MAX + 1];
  char digest[65];
  bool pending;            /* no answer stored yet */
  uint32_t after_document; /* the FN's last document when the request began */
  unsigned status;         /* the answer's HTTP status (0 while pending) */
  char *body;              /* the answer's body, malloc'd (NULL while pending) */
  char *request;           /* the request as the caller kept it, malloc'd (may be NULL) */
} idempotency_entry_t;

void idempotency_entry_free(idempotency_entry_t *e); /* NULL is fine */

/* The row of key: 0 with *out filled, IDEMPOTENCY_ERR_NOT_FOUND. */
int idempotency_get(till_t *t, const char *key, idempotency_entry_t *out);

/* Claims key for digest as pending after document after_document, durably
** (synchronous=FULL) before the caller acts, keeping request (text, may be
** NULL) to settle the claim after a crash; replaces a pending row. */
int idempotency_begin(till_t *t, const char *key, const char *digest, uint32_t after_document,
                      const char *request);

/* A pending row (one a crash left: the caller settles them before anything
** else runs): 0 with *out filled, IDEMPOTENCY_ERR_NOT_FOUND when none. */
int idempotency_next_pending(till_t *t, idempotency_entry_t *out);

/* Stores the answer of key's request (durably). */
int idempotency_finish(till_t *t, const char *key, unsigned status, const char *body);

/* Forgets key (its request changed nothing). */
int idempotency_forget(till_t *t, const char *key);

#endif /* KASSA_POS_TILL_IDEMPOTENCY_H */
