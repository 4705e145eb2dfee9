/*
** fn.h: the fiscal storage (FN-M), as an interface.
**
** The FN is the crypto device inside a cash register: it numbers, dates and
** signs every fiscal document, keeps the archive, refuses what the law
** forbids (a shift longer than 24 hours, documents the OFD has not
** acknowledged for 30 days), checks the crypto tails of marking codes with
** its verification keys, builds marking requests (81) and sale notifications
** (82), and marks documents delivered when the operator's acknowledgement
** comes back.
**
** The till talks to an fn_t through this vtable and never knows which
** backend answers: today the emulator (fn_emu.h), durable in SQLite; later
** a driver for a real FN over the register's serial protocol. Like
** libmodbus, the core holds an fn_t (backend + state) and calls the
** wrappers below; a backend fills fn_backend_t.
**
** Every call returns 0 or a negative fn_err_t. The FN's own error codes
** are kept as they are on real hardware (-0x16 is error 0x16, "shift over
** 24 hours") so logs and messages match the vendor documentation; errors
** the device cannot have (the emulator's disk) are below -0xFF.
*/
#ifndef KASSA_FISCAL_FN_H
#define KASSA_FISCAL_FN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiscal/doc.h"

typedef enum fn_err {
  FN_OK = 0,
  FN_ERR_UNKNOWN_COMMAND = -0x01,
  FN_ERR_STATE = -0x02,         /* command not allowed in this state */
  FN_ERR_FAILURE = -0x03,       /* FN failure */
  FN_ERR_PARAMS = -0x05,        /* parameters do not match the command */
  FN_ERR_TIME = -0x07,          /* date/time earlier than the last document */
  FN_ERR_NO_DATA = -0x08,       /* requested data is not in the archive */
  FN_ERR_VALUE = -0x09,         /* a parameter value is wrong */
  FN_ERR_TLV_SIZE = -0x10,      /* document too large */
  FN_ERR_OFD_OVERDUE = -0x15,   /* oldest unacknowledged document older than 30 days */
  FN_ERR_SHIFT_OVERDUE = -0x16, /* shift longer than 24 hours: close it */
  /* The operator's acknowledgement cannot be accepted: its sign (1078)
  ** does not verify with the OFD's key, it names another OFD (1017), or no
  ** key was shared. Nothing is cleared. 0x20 is the FN's "message from the
  ** OFD cannot be accepted" [likely: vendor error tables]. */
  FN_ERR_OFD_ANSWER = -0x20,
  FN_ERR_NOTIFY_FULL = -0x34,    /* notification store full: marking blocked */
  FN_ERR_KM_TABLE_FULL = -0x35,  /* table of checked codes full */
  FN_ERR_KEYS_EXPIRED = -0x36,   /* verification keys older than 90 days */
  FN_ERR_KM_NOT_CHECKED = -0x3E, /* a code in the receipt was not checked first */
  FN_ERR_IO = -0x100,            /* the emulator's storage failed (disk full ...) */
  FN_ERR_NO_MEMORY = -0x101,
  /* A cash register in front of the FN (device/, issue 22): it did not
  ** answer, or refused with its own error (not the FN's: a wrong
  ** password, paper out). The backend keeps the register's words. */
  FN_ERR_DEVICE_LINK = -0x102,
  FN_ERR_DEVICE = -0x103,
} fn_err_t;

/*
** The FN's own code of an error (0x16 for FN_ERR_SHIFT_OVERDUE; 0 for 0 and
** for the emulator's own errors below -0xFF), its stable name
** ("shift_overdue"; "unknown" for a value not in fn_err_t: names are a
** contract, never renamed), and a message for a store manager in Russian
** or English that says what to do. Never NULL; static strings.
*/
int fn_err_device_code(int err);
const char *fn_err_name(int err);
const char *fn_err_message(int err, bool russian);

typedef enum fn_phase {
  FN_PHASE_READY = 1,  /* not registered yet */
  FN_PHASE_FISCAL = 3, /* registered, working */
  FN_PHASE_POST = 7,   /* closed: archive readable, no new documents */
} fn_phase_t;

/* Receipt counts and sums by operation (1054), corrections included:
** index 1 sale, 2 sale return, 3 purchase, 4 purchase return; 0 unused. */
typedef struct fn_totals {
  uint32_t receipts[5];
  uint64_t amount[5]; /* sum of 1020, kopecks */
} fn_totals_t;

typedef struct fn_status {
  fn_phase_t phase;
  char fn_number[17];
  char kkt_reg_number[21];
  bool autonomous;
  bool marking;
  uint32_t last_document; /* number of the last document, 0 none */
  uint32_t last_time;
  bool shift_open;
  uint32_t shift_number;
  uint32_t shift_opened_at;
  uint32_t receipts_in_shift;
  bool receipt_open;      /* a receipt is being built (it survives a restart) */
  uint32_t receipt_items; /* lines in the open receipt */
  uint32_t unsent_documents;
  uint32_t first_unsent_number;
  uint32_t first_unsent_time;
  uint32_t unsent_notifications;
  uint32_t first_unsent_notification_time;
  uint32_t first_unsent_notification_number; /* 0: the backend does not tell */
  /* The remote shop's batch (fn_notifications_exported): notifications
  ** neither ticketed nor exported yet, and the oldest of them (0: none). */
  uint32_t unexported_notifications;
  uint32_t first_unexported_notification_number;
  uint32_t first_unexported_notification_time;
  uint32_t notifications_exported_through; /* highest number marked exported, 0 none */
  uint32_t notifications_exported_at;      /* when that was marked, 0 never */
  uint32_t last_notification;              /* number of the newest notification, 0 none */
  char user_inn[13];                       /* 1018 from registration, "" before it */
  uint32_t keys_updated_at;                /* 0: never */
  uint32_t checked_km;                     /* codes checked and not yet in a closed receipt */
  uint32_t checked_km_capacity;
  /* The OFD link's key (fn_emu_share_ofd_key) and the acknowledgements
  ** refused with FN_ERR_OFD_ANSWER: how many since the FN was made, the
  ** last one's 1040, time (the FN's clock) and reason (fn_ack_refusal_t). */
  bool ofd_key_shared;
  uint32_t ofd_answers_refused;
  uint32_t ofd_answer_refused_document;
  uint32_t ofd_answer_refused_at;
  int ofd_answer_refused_reason;
  uint32_t now;             /* the FN's clock */
  fn_totals_t shift_totals; /* the open (or last) shift */
  fn_totals_t fn_totals;    /* since registration */
} fn_status_t;

/* Why an acknowledgement was refused with FN_ERR_OFD_ANSWER. */
typedef enum fn_ack_refusal {
  FN_ACK_REFUSAL_NONE = 0,
  FN_ACK_REFUSAL_NO_KEY = 1,    /* no OFD key shared with this FN */
  FN_ACK_REFUSAL_OTHER_OFD = 2, /* 1017 is not the OFD the FN is registered with */
  FN_ACK_REFUSAL_BAD_SIGN = 3,  /* 1078 does not verify (forged, zero, or for another document) */
} fn_ack_refusal_t;

/* Stable name ("no_key", "other_ofd", "bad_sign"; "none"; "unknown") and
** a message for a manager, Russian or English. Never NULL. */
const char *fn_ack_refusal_name(int reason);
const char *fn_ack_refusal_message(int reason, bool russian);

/* What a document-producing call returns. */
typedef struct fn_doc_result {
  uint32_t number;
  uint32_t time;
  uint8_t sign[6];
  uint32_t fiscal_sign; /* printed FP */
  uint32_t shift_number;
  uint32_t receipt_number;
} fn_doc_result_t;

/* A stored document (archive or delivery queue); `data` is the sealed TLV. */
typedef struct fn_document {
  uint32_t number;
  uint16_t type;
  uint32_t time;
  bool acknowledged;
  bool queued; /* it goes to the OFD (false: an autonomous FN's, which queues nothing) */
  size_t len;
  uint8_t data[DOC_MAX_DOCUMENT];
} fn_document_t;

/* The result of checking one marking code (tag 2106 and the request). */
typedef struct fn_km_check {
  uint8_t check_result; /* 2106 bits so far */
  int tail_status;      /* FN_TAIL_* below */
  uint8_t km_type;      /* 2100 as the FN determined it */
  size_t request_len;   /* document 81 for the OISM, sealed */
  uint8_t request[1024];
} fn_km_check_t;

/* What the FN concluded about a crypto tail. */
enum {
  FN_TAIL_VALID = 0,       /* verified with a current key */
  FN_TAIL_INVALID = 1,     /* the tail does not match: counterfeit or damaged */
  FN_TAIL_NO_KEY = 2,      /* no key with the code's key id (91) */
  FN_TAIL_KEY_EXPIRED = 3, /* the key exists but is older than allowed */
  FN_TAIL_UNCHECKABLE = 4, /* 93 short tail or a type the FN cannot check */
};

/* A verification key from the key server (91 id and key material). */
typedef struct fn_key {
  char id[5];   /* the code's AI 91 value */
  uint8_t kind; /* FN_KEY_GOST (88-char tails), FN_KEY_HMAC (44) */
  size_t len;
  uint8_t material[256]; /* GOST public key (DER) or HMAC secret */
} fn_key_t;
enum { FN_KEY_GOST = 1, FN_KEY_HMAC = 2 };

/* Registration data (1 and 11). */
typedef struct fn_registration {
  doc_header_t header; /* kkt_reg_number, user_inn, user_name, address, place, cashier */
  doc_registration_t reg;
} fn_registration_t;

/* A notification (82) waiting for its ticket. */
typedef struct fn_notification {
  uint32_t number;
  uint32_t receipt_number; /* the document number of the receipt it reports */
  uint32_t time;
  size_t len;
  uint8_t data[DOC_MAX_DOCUMENT];
} fn_notification_t;

/* One message as bytes: an operator's answer handed to a group commit
** (fn_document_ack_batch, fn_notification_ticket_batch). For an
** acknowledgement, fn_number and document_number are what the container's
** header named (NULL / 0 when unknown): a real OFD's answer names the FN
** and the document only there, and where the document names them too the
** two must agree. A ticket ignores them. */
typedef struct fn_bytes {
  const uint8_t *data;
  size_t len;
  const char *fn_number;    /* the header's FN number; NULL: unknown */
  uint32_t document_number; /* the header's document number; 0: unknown */
} fn_bytes_t;

/* The size of an export signature (fn_sign_blob): HMAC-Streebog-256. */
#define FN_BLOB_MAC_SIZE 32

struct fn_correction; /* below, in the block of issue 16 */
struct fn_payments;
struct fn_receipt_order;

typedef struct fn_backend {
  const char *name;
  int (*status)(void *self, fn_status_t *out);
  int (*register_kkt)(void *self, const fn_registration_t *r, bool re, fn_doc_result_t *out);
  int (*shift_open)(void *self, const char *cashier, fn_doc_result_t *out);
  int (*shift_close)(void *self, const char *cashier, fn_doc_result_t *out);
  int (*state_report)(void *self, fn_doc_result_t *out);
  int (*fn_close)(void *self, fn_doc_result_t *out);
  int (*receipt_begin)(void *self, uint8_t operation, uint8_t tax_system, const char *cashier);
  int (*receipt_add)(void *self, const doc_item_t *item);
  int (*receipt_close)(void *self, uint64_t cash, uint64_t cashless, bool correction,
                       fn_doc_result_t *out);
  int (*receipt_cancel)(void *self);
  int (*km_check)(void *self, const doc_item_t *item, fn_km_check_t *out);
  int (*km_answer)(void *self, const uint8_t *doc83, size_t len, fn_km_check_t *out);
  int (*km_accept)(void *self, const char *km, size_t km_len, bool accept);
  int (*document_next_unsent)(void *self, fn_document_t *out); /* FN_ERR_NO_DATA: none */
  int (*document_ack)(void *self, const uint8_t *doc7, size_t len);
  int (*document_get)(void *self, uint32_t number, fn_document_t *out);
  int (*notification_next)(void *self, fn_notification_t *out); /* FN_ERR_NO_DATA: none */
  int (*notification_ticket)(void *self, const uint8_t *doc84, size_t len);
  int (*key_update)(void *self, const fn_key_t *keys, size_t count, uint32_t when);
  void (*destroy)(void *self);
  /* The remote shop's export (added with batches; see the wrappers). */
  int (*notification_next_after)(void *self, uint32_t after, fn_notification_t *out);
  int (*notifications_exported)(void *self, uint32_t through);
  int (*sign_blob)(void *self, const uint8_t *data, size_t len, uint8_t mac[FN_BLOB_MAC_SIZE]);
  /* Group commits (added for the outbox flush; see the wrappers). NULL: the
  ** wrappers call document_ack / notification_ticket once per entry. */
  int (*document_ack_batch)(void *self, const fn_bytes_t *acks, size_t count, size_t *applied);
  int (*notification_ticket_batch)(void *self, const fn_bytes_t *tickets, size_t count,
                                   size_t *applied);
  /* Reports, corrections and FN replacement (see the block at the end). */
  int (*correction_close)(void *self, uint64_t cash, uint64_t cashless,
                          const struct fn_correction *c, fn_doc_result_t *out);
  int (*totals)(void *self, bool shift, doc_totals_t *out);
  int (*receipt_close_paid)(void *self, const struct fn_payments *p, const struct fn_correction *c,
                            fn_doc_result_t *out);
  /* What a register does itself (issue 22; see the block at the end).
  ** NULL: nothing, as the emulator. */
  unsigned (*capabilities)(void *self);
  /* A whole receipt in one call (fn_receipt_make). NULL: the wrapper makes
  ** it with receipt_begin, receipt_add and receipt_close_paid. */
  int (*receipt_make)(void *self, const struct fn_receipt_order *o, fn_doc_result_t *out);
} fn_backend_t;

/* The handle the till holds. */
typedef struct fn {
  const fn_backend_t *backend;
  void *self;
} fn_t;

/*
** Wrappers. Each refuses with FN_ERR_PARAMS a NULL fn (or one without a
** backend), a NULL pointer it needs, and arguments no FN could take (listed
** per function), then calls the backend. Every call returns 0 or a
** negative fn_err_t; on error nothing in the FN changed (one transaction
** per call in the emulator). Where a document is made, `out` is optional
** (NULL: not wanted) and is written only on success. `cashier` may be NULL
** (no 1021) and must pass fn_cashier_ok() (below).
**
** Rules every document-making call applies, in this order: FN_ERR_STATE
** when the FN's phase, shift or open receipt forbids the call;
** FN_ERR_TIME when the clock is earlier than the last document; 0x16
** (FN_ERR_SHIFT_OVERDUE) where noted; 0x15 (FN_ERR_OFD_OVERDUE) when the
** oldest document the OFD has not acknowledged is more than 30 days old
** (never for an autonomous FN).
*/

/* A cashier's name (1021) as every FN call takes it: at most
** FN_CASHIER_MAX_CHARS characters (UTF-8 code points: a Cyrillic letter is
** two bytes; a device writes one byte a letter in its code page) that fit
** doc_header_t.cashier with their NUL. NULL is fine (no 1021). The doors
** that take a name from a person or a front end ask this, so none refuses
** a name the FN would take. */
#define FN_CASHIER_MAX_CHARS 64
#define FN_CASHIER_SIZE      sizeof(((doc_header_t *)0)->cashier)
bool fn_cashier_ok(const char *cashier);

/* The FN's state now; touches nothing. */
int fn_status(fn_t *fn, fn_status_t *out);

/*
** Registration report (1) from READY, or with re re-registration (11) of a
** registered FN between shifts (or of a READY one when 1205 has
** FN_REREG_FN_REPLACED: a new FN replacing a closed one). Registration data must hold its NULs
** (else FN_ERR_PARAMS); FN_ERR_VALUE without a KKT number, INN, user name
** or tax system, or for an online KKT without an OFD INN. The FN takes its
** header data (KKT number, user, address, place, autonomous) and marking
** flag from here for every later document.
*/
int fn_register(fn_t *fn, const fn_registration_t *r, bool re, fn_doc_result_t *out);

/* Shift open (2): FN_ERR_STATE when a shift is open (0x16 instead when
** that shift is over 24 hours old) or a receipt is. */
int fn_shift_open(fn_t *fn, const char *cashier, fn_doc_result_t *out);

/* Shift close (5): FN_ERR_STATE without an open shift or with a receipt
** open. Allowed past 24 hours: it is how an overdue shift ends. */
int fn_shift_close(fn_t *fn, const char *cashier, fn_doc_result_t *out);

/* Settlement-state report (21), inside or outside a shift; FN_ERR_STATE
** with a receipt open. */
int fn_state_report(fn_t *fn, fn_doc_result_t *out);

/* FN close (6): the FN goes to POST (archive readable, acknowledgements
** still taken, no new documents). FN_ERR_STATE with a shift open. */
int fn_close_archive(fn_t *fn, fn_doc_result_t *out);

/*
** Opens a receipt: operation is 1054 (1..4, else FN_ERR_PARAMS),
** tax_system one bit of the registered 1062 mask (else FN_ERR_VALUE).
** FN_ERR_STATE without an open shift or with a receipt already open; 0x16
** when the shift is over 24 hours old. The open receipt and its lines are
** durable: after a restart fn_status() shows receipt_open and the till
** closes or cancels it.
*/
int fn_receipt_begin(fn_t *fn, uint8_t operation, uint8_t tax_system, const char *cashier);

/*
** Adds a line. FN_ERR_PARAMS when a text field lacks its NUL, a marked
** line has no code or one over DOC_MAX_KM, or quantity has more than 6
** decimals. A marked line's code must have been checked (fn_km_check) and
** accepted (fn_km_accept(..., true)), else 0x3E (FN_ERR_KM_NOT_CHECKED);
** the same code twice in a receipt is FN_ERR_VALUE. The FN writes its own
** 2100 and 2106 into the line, whatever the item says. A line the format
** refuses (text without a CP866 form, a receipt past 32 KiB) is refused
** here (FN_ERR_VALUE, FN_ERR_TLV_SIZE), so closing cannot fail on it.
** FN_ERR_STATE without an open receipt.
*/
int fn_receipt_add(fn_t *fn, const doc_item_t *item);

/*
** Closes the open receipt as a receipt (3) or, with correction, a
** correction receipt (31, on the register's own initiative, dated now).
** cash + cashless must equal the sum of the line totals (FN_ERR_VALUE, also
** for a receipt with no lines). 0x16 when the shift is over 24 hours old
** (cancel the receipt, close the shift); 0x3E when a marked line's code is
** no longer checked and accepted; 0x34 (FN_ERR_NOTIFY_FULL) when it has
** marked lines and the notification store is full. Assigns 1040 and 1042,
** signs, and in the same transaction queues the sale notification (82)
** when a line is marked and takes the receipt's codes out of the checked
** table. out->receipt_number is 1042.
*/
int fn_receipt_close(fn_t *fn, uint64_t cash, uint64_t cashless, bool correction,
                     fn_doc_result_t *out);

/* Drops the open receipt and its lines; its codes leave the checked table
** (a sale that did not happen is checked again). FN_ERR_STATE when none. */
int fn_receipt_cancel(fn_t *fn);

/*
** Checks a marking code (item->km, km_len 1..DOC_MAX_KM, else
** FN_ERR_PARAMS): finds its 2100 type, verifies its crypto tail with the
** key named by its 91 (tail_status FN_TAIL_*, 2106 bits 1 and 2; bit 16 on
** an autonomous FN), puts it in the checked table (not yet accepted) and
** returns the sealed KM request (81) for the OISM in out->request. A bad
** tail is a result (0), not an error: the till decides. FN_ERR_STATE when
** the FN is not registered for marking or the code is a line of the open
** receipt; 0x36 (FN_ERR_KEYS_EXPIRED) when the key table was last updated
** more than 90 days ago or never; 0x34 when the notification store is
** full; 0x35 (FN_ERR_KM_TABLE_FULL) when the table is full and the code is
** not in it already (a code checked again keeps its place).
*/
int fn_km_check(fn_t *fn, const doc_item_t *item, fn_km_check_t *out);

/*
** The OISM's answer (83) to a request: the code is found by its 2000, or
** by the request number (2001) when the answer carries no code. Adds 2106
** bit 4, and bit 8 when 2109 is 1 and 2105 is 0 (a later answer replaces
** an earlier one's bits). out gets the code's result (request_len 0).
** FN_ERR_VALUE for a malformed answer, FN_ERR_NO_DATA when no checked code
** matches (or the answer is for an older request of it), FN_ERR_STATE on
** an autonomous FN, which never hears from the OISM.
*/
int fn_km_answer(fn_t *fn, const uint8_t *doc83, size_t len, fn_km_check_t *out);

/* The till's decision on a checked code: accept makes it usable in a
** receipt; decline takes it out of the table. FN_ERR_NO_DATA when the code
** is not in the table; declining a code already in the open receipt is
** FN_ERR_STATE (cancel the receipt instead). */
int fn_km_accept(fn_t *fn, const char *km, size_t km_len, bool accept);

/* The lowest-numbered document the OFD has not acknowledged
** (FN_ERR_NO_DATA: none; always none on an autonomous FN). Sale
** notifications are not here: see fn_notification_next(). */
int fn_document_next_unsent(fn_t *fn, fn_document_t *out);

/*
** The operator's acknowledgement (7): marks its document (1040) delivered.
** A second acknowledgement of the same document is harmless (0).
** FN_ERR_VALUE for a malformed one, one for another FN (1041) or one whose
** 1022 is not 0 (the OFD refused the document: it stays queued);
** FN_ERR_NO_DATA when the document does not exist; FN_ERR_STATE for a
** document an autonomous FN never queued; FN_ERR_OFD_ANSWER (0x20) when
** the FN cannot trust it: 1017 is not the OFD it is registered with, no
** OFD key was shared with it, or 1078 does not verify with that key
** (forged, all zero, for another document). Such a refusal clears
** nothing, is counted in fn_status (ofd_answers_refused, with the last
** document, time and fn_ack_refusal_t), and the document stays owed.
** Allowed in every phase.
*/
int fn_document_ack(fn_t *fn, const uint8_t *doc7, size_t len);

/* Document `number` (1.., else FN_ERR_PARAMS) from the archive;
** FN_ERR_NO_DATA when there is none. out->acknowledged and out->queued
** say where it stands with the OFD (a delivery window reads the documents
** after fn_document_next_unsent() this way and skips the ones not owed). */
int fn_document_get(fn_t *fn, uint32_t number, fn_document_t *out);

/* The lowest-numbered sale notification without a ticket (FN_ERR_NO_DATA:
** none). An autonomous FN keeps them too, for export. */
int fn_notification_next(fn_t *fn, fn_notification_t *out);

/* The OISM's ticket (84) for a notification (2002): clears it whatever its
** 2111 says (the result is kept); a second ticket is harmless (0).
** FN_ERR_VALUE for a malformed ticket, FN_ERR_NO_DATA for an unknown
** notification. */
int fn_notification_ticket(fn_t *fn, const uint8_t *doc84, size_t len);

/*
** Group commits. A flush sends a window of documents (or notifications)
** and gets a window of answers back; applying them one call each would
** cost one disk flush (synchronous=FULL) per document, which is most of
** what a flush waits for. These calls apply a window's answers in ONE
** transaction: one flush for the lot, and a crash leaves all or none.
**
** acks[0..count) (tickets[0..count)) are applied in order, each under
** exactly the rules of the single call (fn_document_ack: FN_ERR_VALUE for
** a malformed acknowledgement, one for another FN or one whose 1022 is
** not 0; FN_ERR_NO_DATA for an unknown document; FN_ERR_STATE for one an
** autonomous FN never queued; FN_ERR_OFD_ANSWER for one whose 1078 or
** 1017 it cannot trust; a second acknowledgement harmless.
** fn_notification_ticket: FN_ERR_VALUE malformed, FN_ERR_NO_DATA unknown
** notification; a second ticket harmless; any 2111 clears). The call
** STOPS AT THE FIRST ENTRY THE FN REFUSES and returns that refusal: the
** entries before it stay applied (committed together), that one and all
** after it are not. *applied (may be NULL) is always how many entries are
** applied when the call returns: count on 0, the refused entry's index on
** a refusal. When the FN itself fails (FN_ERR_IO, FN_ERR_NO_MEMORY,
** FN_ERR_FAILURE) the emulator applies none (*applied 0). count 0 is 0.
** FN_ERR_PARAMS, nothing applied, for a NULL fn, a NULL array with
** count > 0, or an entry with NULL data or len 0. A backend without the
** batch entry gets the single call in a loop: the same outcome and the
** same *applied, one transaction each.
*/
int fn_document_ack_batch(fn_t *fn, const fn_bytes_t *acks, size_t count, size_t *applied);
int fn_notification_ticket_batch(fn_t *fn, const fn_bytes_t *tickets, size_t count,
                                 size_t *applied);

/*
** Loads verification keys from the key server, dated `when` (0: the FN's
** clock now). Each key needs a 4-character id, kind FN_KEY_GOST or
** FN_KEY_HMAC and 1..256 bytes of material (else FN_ERR_PARAMS); a GOST
** key must be a readable public key (else FN_ERR_VALUE, nothing loaded).
** Keys with a known id are replaced, others added; keys the update does
** not carry keep their date, so a key missing from updates for 90 days
** gives FN_TAIL_KEY_EXPIRED. The table's date (keys_updated_at, the 0x36
** rule) becomes `when` unless it is already later. count 0 (keys may be
** NULL) just records a session with the key server. FN_ERR_STATE in POST.
*/
int fn_key_update(fn_t *fn, const fn_key_t *keys, size_t count, uint32_t when);

/*
** Export for remote shops. An autonomous FN (and an online one that has
** lost its link) keeps its sale notifications (82) until tickets (84) come
** back; a remote shop reads them out to a medium in batches and the FN
** notes how far it has exported. What a real FN-M offers for this is
** reading the notifications one by one, confirming the export, and
** signing what was read out; these three calls are that. A backend that
** lacks them (its vtable entries NULL) answers FN_ERR_UNKNOWN_COMMAND.
**
** Decisions ([open] in DOMAIN §4: the channel of autonomous KKTs):
**   - Exported is a mark, not a ticket: the notification stays in the
**     store (and in fn_notification_next) until its ticket clears it, so a
**     batch lost on the way is exported again. What export changes is the
**     remote shop's three-day clock, which runs from the oldest
**     notification that is neither ticketed nor exported
**     (fn_status_t.first_unexported_notification_time).
**   - The mark is a high-water number: exporting through N marks every
**     notification up to N. It never moves back, so marking again through
**     the same or a lower number is harmless (0, nothing changes).
**   - The FN signs an export with its own secret (the one behind every
**     fiscal sign, which the OFD/OISM side already holds), but always over
**     a fixed prefix followed by the data (the emulator's is
**     fn_emu_blob_mac() in fn_emu.h), so no blob the FN signs can ever
**     pass for a fiscal document's sign.
*/

/* The lowest-numbered notification without a ticket whose number is
** greater than `after` (0: from the first); FN_ERR_NO_DATA when none. How
** a batch reads every waiting notification in order. */
int fn_notification_next_after(fn_t *fn, uint32_t after, fn_notification_t *out);

/*
** Marks every notification numbered up to `through` as exported (durable,
** one transaction). through 0 is FN_ERR_PARAMS; a number the FN never
** made (past fn_status_t.last_notification) is FN_ERR_NO_DATA and changes
** nothing. Through a number at or below the current mark: 0, no change
** (idempotent). Allowed in every phase: a closed FN still owes its batch.
*/
int fn_notifications_exported(fn_t *fn, uint32_t through);

/*
** Signs an export: a FN_BLOB_MAC_SIZE-byte HMAC-Streebog-256 with the FN's
** secret over the backend's prefix and data[0..len) (emulator:
** fn_emu_blob_mac()). len may be 0 (data may then be NULL); touches
** nothing. FN_ERR_FAILURE when the crypto library fails.
*/
int fn_sign_blob(fn_t *fn, const uint8_t *data, size_t len, uint8_t mac[FN_BLOB_MAC_SIZE]);

/* ---------------------------------------------------------------------- */
/* Reports, corrections and FN replacement (added with issue 16: kept in     */
/* one block so the other work on this header merges apart from it)         */

/*
** 1205 (re-registration reasons), bit 0: the FN was replaced. A new FN
** (READY) takes its first registration as an 11 with this bit and the
** register's data from the old FN's last 1 or 11 (doc_parse_registration);
** fn_register(..., re = true, ...) accepts that from READY.
*/
#define FN_REREG_FN_REPLACED 0x01u

/* What a correction receipt (31) says about itself: 1173 and 1174. */
typedef struct fn_correction {
  uint8_t type;          /* 1173: 0 on the register's own initiative, 1 by an order */
  uint32_t date;         /* 1178: the day of the corrected settlement (local midnight) */
  char order_number[33]; /* 1179: the tax authority's order ("" when type is 0) */
} fn_correction_t;

/*
** Closes the open receipt as a correction receipt (31) with its 1173 and
** 1174 {1178, 1179}. The rules of fn_receipt_close() apply (lines, sums,
** 0x16, 0x3E); besides, FN_ERR_VALUE for a 1173 other than 0 or 1, an
** order (1) without its number, a self-made one (0) with a number, or a
** 1178 later than now. A backend without the call takes a self-made
** correction through receipt_close(correction = true) (dated now) and
** answers FN_ERR_UNKNOWN_COMMAND for one by order.
*/
int fn_correction_close(fn_t *fn, uint64_t cash, uint64_t cashless, const fn_correction_t *c,
                        fn_doc_result_t *out);

/* The five payment forms of a receipt (kopecks). */
typedef struct fn_payments {
  uint64_t cash;     /* 1031 */
  uint64_t cashless; /* 1081 */
  uint64_t prepaid;  /* 1215: an earlier prepayment offset */
  uint64_t credit;   /* 1216: left on credit */
  uint64_t other;    /* 1217: counter-provision */
  /* 1008, the buyer's phone or e-mail ("" none): not a payment, but it
  ** goes into the receipt when it closes, as the payments do. */
  char buyer_contact[65];
} fn_payments_t;

/*
** Closes the open receipt paid by the five forms, as a receipt (3; c NULL)
** or a correction receipt (31; c as for fn_correction_close). The forms
** must add up to the lines and keep the FN's rules of 1214
** (doc_payment_rules: 1215 only against lines of 1214 = 4/5, 1216 only
** against 5/6, lines of 1/2/3/7 paid by money, no marked prepayment line),
** else FN_ERR_VALUE; the other rules are fn_receipt_close()'s. A backend
** without the call takes p->prepaid = credit = other = 0 through
** receipt_close / correction_close and answers FN_ERR_UNKNOWN_COMMAND
** otherwise.
*/
int fn_receipt_close_paid(fn_t *fn, const fn_payments_t *p, const fn_correction_t *c,
                          fn_doc_result_t *out);

/* A receipt as one order: what fn_receipt_make() takes. */
typedef struct fn_receipt_order {
  uint8_t operation;                 /* 1054, as fn_receipt_begin */
  uint8_t tax_system;                /* one bit of 1062 */
  const char *cashier;               /* 1021; NULL: none */
  const doc_item_t *items;           /* the lines, as fn_receipt_add takes them */
  size_t count;                      /* how many (0: FN_ERR_VALUE, as a close) */
  fn_payments_t pay;                 /* as fn_receipt_close_paid */
  const fn_correction_t *correction; /* NULL: a receipt (3); else a correction (31) */
} fn_receipt_order_t;

/*
** Makes a whole receipt: fn_receipt_begin(), fn_receipt_add() for each line
** and fn_receipt_close_paid() as one call, under their rules and with their
** errors (FN_ERR_PARAMS for what their wrappers refuse; FN_ERR_TLV_SIZE
** past DOC_MAX_ITEMS lines). A backend that has the call (the emulator)
** makes it in one transaction: either the document exists, signed, with
** its notification and its codes out of the checked table, or nothing in
** the FN changed and no receipt is left open, whatever stops the process.
** Without it the wrapper makes the calls one by one and cancels a receipt
** it opened when one fails (its codes then leave the checked table, as
** fn_receipt_cancel says: check them again). FN_ERR_STATE with a receipt
** already open.
*/
int fn_receipt_make(fn_t *fn, const fn_receipt_order_t *o, fn_doc_result_t *out);

/*
** The settlement totals as the next 1194 (shift: the open shift's; none
** open: all zero) or 1157 (!shift: since registration) would carry them,
** for an X-report printed without a document. Touches nothing.
** FN_ERR_UNKNOWN_COMMAND when the backend cannot count them.
*/
int fn_totals(fn_t *fn, bool shift, doc_totals_t *out);

/* ---------------------------------------------------------------------- */
/* A register that does part of the work itself (added with issue 22: kept */
/* in one block so other work on this header merges apart from it)         */

/*
** The emulator is an FN alone: kassa's outbox carries every document it
** makes to the OFD and every sale notification to the OISM, and hands
** their answers back to it. A real cash register (device/fn_shtrih.h)
** sits between kassa and its FN and has its own link to the OFD and the
** OISM: it delivers its documents and notifications itself and takes
** their acknowledgements. kassa must not deliver them a second time (the
** OFD would see every document twice), nor can it hand the answers to an
** FN it does not hold. The backend says so with FN_CAP_DEVICE_DELIVERS;
** the outbox's delivery runs (ofd_deliver_documents/_notifications, which
** `kassa ofd flush` and `kassa serve`'s background use) read it and send
** nothing. One bit for now; the next thing a register does itself gets the
** next one.
*/
#define FN_CAP_DEVICE_DELIVERS 0x01u /* the register delivers to the OFD and the OISM itself */
/*
** The register loads its FN's verification keys from the key server
** itself (a Shtrih-M register does so when a shift opens and tries again
** at the next one: fr_drv_ng issue 222; its protocol has no command that
** hands the FN keys from the host). fn_key_update is not for it
** (FN_ERR_UNKNOWN_COMMAND), fn_status's keys_updated_at stays 0, and
** ofd_keys_update, `kassa ofd keys` and `kassa serve`'s key task ask the
** key server nothing.
*/
#define FN_CAP_DEVICE_KEYS 0x02u

/* The backend's FN_CAP_* bits; 0 for the emulator, a NULL fn or a backend
** without the entry. */
unsigned fn_capabilities(fn_t *fn);

/* Destroys the backend state and frees fn; NULL is fine. */
void fn_free(fn_t *fn);

#endif
