/*
** ofd/batch.h: the remote shop's batch of sale notifications, as a signed
** JSON file, from both ends.
**
** A shop without a link (an autonomous till, or an online one whose link
** is down for days) still owes the marking operator a report of every
** marked good it sold, at least every three days. The FN keeps each sale
** notification (82) until the OISM's ticket (84) clears it; a batch is all
** of those waiting notifications written to a file, signed by the FN as a
** whole, so it can travel on any medium (a USB stick, a mail attachment)
** and be applied by the operator exactly as if the notifications had come
** online. The format is documented in docs/BATCH.md; this header is its
** implementation for the till (build, export, upload) and for the operator
** (parse, verify).
**
** The till's side:
**   batch_build()  reads every unticketed notification from the FN (in
**                  number order), the fiscal sign of the receipt each one
**                  reports, and makes the JSON text, signed with
**                  fn_sign_blob() over its canonical bytes.
**   batch_export() builds, writes the file atomically (temp file, fsync,
**                  rename, fsync of the folder) and only then marks the
**                  notifications exported in the FN. A crash in between
**                  leaves a complete file that the next export repeats
**                  (the operator applies a notification once however often
**                  it comes); never a mark without its file.
**   batch_upload() sends a batch file to the operator (HTTP POST, libcurl)
**                  and hands every ticket of the answer to the FN, which
**                  clears those notifications.
** The operator's side:
**   batch_parse()  reads a batch and checks it hangs together: every field
**                  present and typed, each notification's numbers, time,
**                  operation and codes equal to its own sealed 82;
**   batch_verify() checks the signature with the FN's secret.
**
** Errors: 0 or a negative batch_err_t with a stable name and a message in
** Russian and English; details (which field, the HTTP status, errno) go
** into the `detail` buffers the calls take.
*/
#ifndef KASSA_OFD_BATCH_H
#define KASSA_OFD_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiscal/doc.h"
#include "fiscal/fn.h"

#define BATCH_FORMAT  "kassa-batch"
#define BATCH_VERSION 1
/* What the signature object names as its algorithm. */
#define BATCH_ALGORITHM "hmac-streebog-256"
/* The operator's endpoint (kassa-operator's HTTP port). */
#define BATCH_UPLOAD_PATH "/api/v4/true-api/batch/upload"
/* Largest batch file either side reads (a month of a busy shop fits). */
#define BATCH_MAX_BYTES (64u * 1024u * 1024u)

typedef enum batch_err {
  BATCH_OK = 0,
  BATCH_ERR_ARGUMENT = -1,     /* NULL pointer or bad option */
  BATCH_ERR_NO_MEMORY = -2,    /* allocation failed */
  BATCH_ERR_FN = -3,           /* the FN refused or failed (its fn_err_t in fn_error) */
  BATCH_ERR_EMPTY = -4,        /* no notification waits: nothing to export */
  BATCH_ERR_IO = -5,           /* the file cannot be written or read (detail: why) */
  BATCH_ERR_FORMAT = -6,       /* not a batch of this version (detail: which field) */
  BATCH_ERR_INCONSISTENT = -7, /* a notification disagrees with its sealed 82 */
  BATCH_ERR_SIGNATURE = -8,    /* the signature does not verify */
  BATCH_ERR_OTHER_FN = -9,     /* the batch belongs to another FN */
  BATCH_ERR_NETWORK = -10,     /* upload: no connection, timeout, TLS failure */
  BATCH_ERR_REFUSED = -11,     /* upload: the operator answered with an error */
  BATCH_ERR_ANSWER = -12,      /* upload: the answer breaks the contract */
} batch_err_t;

/* Stable lower-case name ("signature"; "unknown" otherwise: names are a
** contract) and a static message for a manager. Never NULL. */
const char *batch_err_name(int err);
const char *batch_err_message(int err, bool russian);

/* One marked line of a notification (a 2007 of the 82). */
typedef struct batch_code {
  char *km; /* 2000, GS kept, NUL-terminated (owned by the batch) */
  size_t km_len;
  uint8_t status;          /* 2110: 1 sold, 2 measured sold, 3/4 returned */
  doc_quantity_t quantity; /* 1023 */
  uint8_t measure;         /* 2108, 0 piece */
} batch_code_t;

typedef struct batch_notification {
  uint32_t number;         /* 2002 */
  uint32_t receipt_number; /* 1040 of the receipt reported */
  uint32_t time;           /* 1012 */
  uint32_t fiscal_sign;    /* the receipt's printed FP (its 1077) */
  uint8_t operation;       /* 1054 */
  size_t code_count;
  batch_code_t *codes;
  uint8_t *document; /* the sealed 82 (owned by the batch) */
  size_t document_len;
} batch_notification_t;

typedef struct batch {
  int version;
  char fn_number[17];
  char kkt_reg_number[21];
  char user_inn[13];
  uint32_t created_at;           /* FFD time, the FN's clock */
  uint32_t from_notification;    /* lowest number in the batch */
  uint32_t through_notification; /* highest */
  size_t count;
  batch_notification_t *notifications;
  uint8_t signature[FN_BLOB_MAC_SIZE];
  /* The canonical bytes the signature covers (owned by the batch). */
  char *canonical;
  size_t canonical_len;
} batch_t;

/* What batch_build/export/upload did. */
typedef struct batch_info {
  size_t count;           /* notifications in the batch */
  size_t codes;           /* marked lines in them */
  uint32_t from, through; /* notification numbers (0 when empty) */
  uint32_t created_at;
  int fn_error; /* the fn_err_t when BATCH_ERR_FN */
  /* upload only */
  long http_status; /* 0: no answer */
  size_t tickets;   /* tickets handed to the FN */
  size_t rejected;  /* of those, 2111 != 0 (the OISM refused lines) */
  size_t applied;   /* notifications the operator applied now */
  size_t repeated;  /* ... had applied before (a batch sent twice) */
} batch_info_t;

/*
** Builds the batch of every notification the FN has not had a ticket for,
** signed by the FN. On success *text (NUL-terminated, the caller frees it
** with free()) holds the file's content and *len its length, and info (may
** be NULL) the counts. BATCH_ERR_EMPTY (nothing to export, *text NULL)
** when no notification waits; BATCH_ERR_FN (info->fn_error) when the FN
** fails or a notification's receipt is not in its archive.
*/
int batch_build(fn_t *fn, char **text, size_t *len, batch_info_t *info);

/*
** Writes text[0..len) to path atomically: a temporary file in the same
** folder, written and fsync'ed, renamed over path, then the folder
** fsync'ed. Readers see the old file or the new one, never a part.
** BATCH_ERR_IO with the reason (errno text and the file) in detail
** (may be NULL; cut to detail_cap).
*/
int batch_write_file(const char *path, const char *text, size_t len, char *detail,
                     size_t detail_cap);

/* Reads a whole file (at most BATCH_MAX_BYTES) into *text (NUL-terminated,
** freed by the caller). BATCH_ERR_IO with the reason in detail. */
int batch_read_file(const char *path, char **text, size_t *len, char *detail, size_t detail_cap);

/*
** batch_build + batch_write_file + fn_notifications_exported(through), in
** that order (see above for why). BATCH_ERR_EMPTY writes no file.
*/
int batch_export(fn_t *fn, const char *path, batch_info_t *info, char *detail, size_t detail_cap);

/*
** Reads a batch from text[0..len) into *out (the caller frees it with
** batch_free). BATCH_ERR_FORMAT when it is not JSON, not this format or
** version, a field is missing, of the wrong type or out of range, a key
** appears twice, or a document is not base64; BATCH_ERR_INCONSISTENT when
** a notification's number, receipt, time, operation or codes, or the
** header's FN, KKT or INN, differ from what its sealed 82 says, or the
** numbers are not strictly increasing. detail (may be NULL) names the
** field or the notification. Verifies no signature (batch_verify does).
*/
int batch_parse(const char *text, size_t len, batch_t **out, char *detail, size_t detail_cap);

/* Frees a parsed batch; NULL is fine. */
void batch_free(batch_t *b);

/* 0 when the batch's signature is the FN's (fn_emu_blob_mac over
** b->canonical with secret), else BATCH_ERR_SIGNATURE. Needs crypto_init(). */
int batch_verify(const batch_t *b, const uint8_t secret[32]);

/* The same check made by the FN that signed it (fn_sign_blob): how the
** till makes sure a file is its own and undamaged before sending it.
** BATCH_ERR_OTHER_FN when b names another FN. */
int batch_verify_with_fn(fn_t *fn, const batch_t *b, int *fn_error);

typedef struct batch_upload_options {
  const char *url;     /* the operator's endpoint (http:// or https://) */
  const char *ca_file; /* https: CA bundle to verify the server (NULL: system's) */
  long timeout_ms;     /* 0: 60 000 */
} batch_upload_options_t;

/*
** Uploads a batch file's text to the operator and applies the answer:
** parses and checks the batch (batch_parse, batch_verify_with_fn: it must
** be this FN's and intact), POSTs it, reads {"tickets":[...]} and gives
** each ticket (84) to fn_notification_ticket(). Every ticket must be for a
** notification in the batch (else BATCH_ERR_ANSWER, and the tickets after
** it are not applied). BATCH_ERR_NETWORK when no answer came,
** BATCH_ERR_REFUSED (info->http_status, the operator's reason in detail)
** for an error answer; nothing in the FN changes then.
*/
int batch_upload(fn_t *fn, const char *text, size_t len, const batch_upload_options_t *options,
                 batch_info_t *info, char *detail, size_t detail_cap);

#endif /* KASSA_OFD_BATCH_H */
