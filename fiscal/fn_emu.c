/*
** fiscal/fn_emu.c: the FN-M emulator, a fiscal storage in one SQLite file.
**
** What a real FN guarantees, this file must guarantee too: every fiscal
** document gets the next number, exactly once, and its fiscal sign; the
** counters, the archive and the queues never disagree; and the rules the
** law puts into the device (24-hour shift, 30 days without the operator's
** acknowledgement, 90-day marking keys, a code sold without a check) are
** refused with the device's own error codes.
**
** Durability. The file is SQLite in WAL mode with synchronous=FULL for
** every document (the working state of checks and the open receipt commits
** with NORMAL: see tx_begin_light), and
** every call that changes the FN is one BEGIN IMMEDIATE ... COMMIT: the
** number assignment, the signed TLV, the counters, the sale notification
** of a receipt with marked lines and the removal of its codes from the
** checked table commit together or not at all. Every call sees the file as
** its transaction does: what it keeps between calls (the meta row, the open
** receipt and its lines, the last status: seen_t) is used only while
** SQLite's data version says no connection committed since, and is
** forgotten at any failure, so whatever the process was doing when it
** died, the next call sees the last committed document and nothing
** half-made. tests/crash/ kills a writer with SIGKILL hundreds of times to
** hold this to account.
**
** Schema (one file, created 0600 because it holds the FN's secret):
**   meta          one row: FN number, secret, phase, registration data,
**                 last document number and time, shift state and counters,
**                 the notification and request counters, keys_updated_at,
**                 the sizes of the two queues (kept, not counted per call),
**                 the export mark (exported_through, exported_at) and the
**                 count of notifications neither ticketed nor exported
**                 (schema version 2; a version 1 file is upgraded at open)
**   documents     the archive: number (PK), type, time, shift, sealed TLV,
**                 queued (1: for the OFD; 0: autonomous FN), acknowledged,
**                 ack_time
**   notifications sale notifications (82): own number (PK), the receipt's
**                 document number, time, sealed TLV, ticketed, ticket
**                 result and time
**   keys          verification keys: AI 91 id (PK), kind, material,
**                 updated_at
**   checked_km    codes checked and not yet sold: the code (PK), its request
**                 number (81), 2100, tail result, 2106 bits, answered,
**                 accepted, checked_at
**   open_receipt  the receipt being built (at most one row) and
**   open_items    its lines, one row per line with every doc_item_t field
**   totals        receipt counts and sums per operation, for the shift
**                 (scope 0, reset at shift open) and since registration (1)
**   ofd_link      one row: the OFD's INN and the key it shared for its
**                 1078 (fn_emu_share_ofd_key), and the acknowledgements
**                 refused (count, last document, reason, time); made at
**                 open when missing, so it needs no schema version
**
** Decisions (the domain leaves them open; change them here):
**   - The open receipt survives a restart: its lines are rows, so after a
**     crash fn_status() shows receipt_open and the till closes or cancels
**     it. Cancelling takes the receipt's codes out of the checked table
**     (a sale that did not happen must be checked again).
**   - 81, 82 and 84 are not fiscal documents: they have their own
**     counters (2001 for requests, 2002 for notifications) and never take
**     a fiscal document number, so 1040 runs 1..N without gaps.
**   - An autonomous FN (registered without an OFD) queues nothing for an
**     OFD (documents are stored with queued = 0), so the 30-day rule can
**     never fire for it; it sets bit 16 in every 2106, refuses OISM answers
**     and keeps its sale notifications until tickets clear them (they are
**     exported by other means).
**   - Two key rules, kept apart: the key table as a whole last updated
**     more than 90 days ago (or never) refuses every marking check with
**     0x36; a single key whose own updated_at is more than 90 days old
**     (the last updates did not carry it) gives FN_TAIL_KEY_EXPIRED for
**     the codes that name it, and the check goes on.
**   - An update carries some keys; keys it does not mention stay, with
**     their old dates. keys_updated_at never moves backwards.
**   - "More than 24 hours", "more than 30 days", "more than 90 days" are
**     strict: exactly 24 h is still allowed.
**   - The 30-day rule covers every fiscal document, shift close and FN
**     close included: with a month of undelivered documents even ending
**     the shift waits for the OFD. Marking checks, acknowledgements and
**     tickets are outside it (they are how the block is lifted).
**   - Requests (81) and notifications (82) carry a 1077 made the same way
**     as fiscal documents, so the operator emulator checks them alike.
**   - A code that is a line of the open receipt can be neither checked
**     again nor declined (FN_ERR_STATE): either would change the receipt
**     under the cashier's feet. An OISM answer to an older request for a
**     code checked again since is ignored (FN_ERR_NO_DATA).
**   - Capacities of the checked-code table and the notification store are
**     the options' (defaults in fn_emu.h); the real FN-M's are not public.
**   - Export (fn.h, "Export for remote shops"): a high-water mark, allowed
**     in every phase; an exported notification still counts in the store
**     (0x34) until its ticket, because it is the ticket, not the export,
**     that proves the operator has it. fn_sign_blob() is HMAC-Streebog-256
**     with the FN's secret over FN_EMU_BLOB_PREFIX and the data.
**   - An acknowledgement clears a document only when its 1017 is the OFD
**     of the registration and its 1078 verifies with the key that OFD
**     shared ("The OFD link" below); a refusal (0x20) is counted in its
**     own transaction after the group commit it ended.
**   - Group commits (fn_document_ack_batch, fn_notification_ticket_batch)
**     are one BEGIN IMMEDIATE ... COMMIT over a window of answers, checked
**     one by one under the single call's rules; a refused answer ends the
**     window with the ones before it committed (the refusal is the
**     answer's fault, not theirs), a failure of the file rolls back the
**     lot. The single calls are batches of one.
*/
#include "fiscal/fn_emu.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/codec.h"
#include "common/db.h"
#include "fiscal/crypto.h"
#include "fiscal/doc.h"
#include "fiscal/tlv.h"

#define SCHEMA_VERSION 2
#define DAY            86400u
#define SHIFT_LIMIT    (24u * 3600u) /* 0x16 */
#define OFD_LIMIT      (30u * DAY)   /* 0x15 */
#define KEYS_LIMIT     (90u * DAY)   /* 0x36 and FN_TAIL_KEY_EXPIRED */
#define BUSY_TIMEOUT   5000          /* ms: another connection is reading */
#define GS             '\x1d'

/* ---------------------------------------------------------------------- */
/* Schema and statements                                                   */

static const char *const schema[] = {
    "CREATE TABLE meta ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " schema_version INTEGER NOT NULL,"
    " fn_number TEXT NOT NULL,"
    " secret BLOB NOT NULL,"
    " phase INTEGER NOT NULL,"
    " kkt_reg_number TEXT NOT NULL DEFAULT '',"
    " user_inn TEXT NOT NULL DEFAULT '',"
    " user_name TEXT NOT NULL DEFAULT '',"
    " address TEXT NOT NULL DEFAULT '',"
    " place TEXT NOT NULL DEFAULT '',"
    " autonomous INTEGER NOT NULL DEFAULT 0,"
    " marking INTEGER NOT NULL DEFAULT 0,"
    " tax_systems INTEGER NOT NULL DEFAULT 0,"
    " ofd_inn TEXT NOT NULL DEFAULT '',"
    " ofd_name TEXT NOT NULL DEFAULT '',"
    " kkt_serial TEXT NOT NULL DEFAULT '',"
    " ffd_version INTEGER NOT NULL DEFAULT 0,"
    " last_document INTEGER NOT NULL DEFAULT 0,"
    " last_time INTEGER NOT NULL DEFAULT 0,"
    " shift_open INTEGER NOT NULL DEFAULT 0,"
    " shift_number INTEGER NOT NULL DEFAULT 0,"
    " shift_opened_at INTEGER NOT NULL DEFAULT 0,"
    " receipts_in_shift INTEGER NOT NULL DEFAULT 0,"
    " documents_in_shift INTEGER NOT NULL DEFAULT 0,"
    " last_notification INTEGER NOT NULL DEFAULT 0,"
    " last_request INTEGER NOT NULL DEFAULT 0,"
    " keys_updated_at INTEGER NOT NULL DEFAULT 0,"
    " unsent_documents INTEGER NOT NULL DEFAULT 0,"
    " unsent_notifications INTEGER NOT NULL DEFAULT 0,"
    " exported_through INTEGER NOT NULL DEFAULT 0,"
    " exported_at INTEGER NOT NULL DEFAULT 0,"
    " unexported_notifications INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE documents ("
    " number INTEGER PRIMARY KEY,"
    " type INTEGER NOT NULL,"
    " time INTEGER NOT NULL,"
    " shift INTEGER NOT NULL,"
    " tlv BLOB NOT NULL,"
    " queued INTEGER NOT NULL,"
    " acknowledged INTEGER NOT NULL DEFAULT 0,"
    " ack_time INTEGER)",
    "CREATE INDEX documents_unsent ON documents (number) WHERE queued = 1 AND acknowledged = 0",
    "CREATE TABLE notifications ("
    " number INTEGER PRIMARY KEY,"
    " receipt_number INTEGER NOT NULL UNIQUE,"
    " time INTEGER NOT NULL,"
    " tlv BLOB NOT NULL,"
    " ticketed INTEGER NOT NULL DEFAULT 0,"
    " ticket_result INTEGER,"
    " ticket_time INTEGER)",
    "CREATE INDEX notifications_unsent ON notifications (number) WHERE ticketed = 0",
    "CREATE TABLE keys ("
    " id TEXT PRIMARY KEY,"
    " kind INTEGER NOT NULL,"
    " material BLOB NOT NULL,"
    " updated_at INTEGER NOT NULL)",
    "CREATE TABLE checked_km ("
    " km BLOB PRIMARY KEY,"
    " request INTEGER NOT NULL,"
    " km_type INTEGER NOT NULL,"
    " tail_status INTEGER NOT NULL,"
    " check_result INTEGER NOT NULL,"
    " answered INTEGER NOT NULL DEFAULT 0,"
    " accepted INTEGER NOT NULL DEFAULT 0,"
    " checked_at INTEGER NOT NULL)",
    "CREATE INDEX checked_km_request ON checked_km (request)",
    "CREATE TABLE open_receipt ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " operation INTEGER NOT NULL,"
    " tax_system INTEGER NOT NULL,"
    " cashier TEXT NOT NULL,"
    " opened_at INTEGER NOT NULL)",
    "CREATE TABLE open_items ("
    " line INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL, price INTEGER NOT NULL, qty_mantissa INTEGER NOT NULL,"
    " qty_scale INTEGER NOT NULL, total INTEGER NOT NULL, vat INTEGER NOT NULL,"
    " subject INTEGER NOT NULL, payment_method INTEGER NOT NULL, measure INTEGER NOT NULL,"
    " marked INTEGER NOT NULL, km BLOB UNIQUE, km_type INTEGER NOT NULL,"
    " product_tag INTEGER NOT NULL, product_value TEXT NOT NULL, km_status INTEGER NOT NULL,"
    " km_mode INTEGER NOT NULL, check_result INTEGER NOT NULL, has_industry INTEGER NOT NULL,"
    " ind_authority TEXT NOT NULL, ind_date TEXT NOT NULL, ind_number TEXT NOT NULL,"
    " ind_value TEXT NOT NULL)",
    "CREATE TABLE totals ("
    " scope INTEGER NOT NULL, operation INTEGER NOT NULL,"
    " receipts INTEGER NOT NULL, amount INTEGER NOT NULL,"
    " PRIMARY KEY (scope, operation))",
};

typedef enum stmt_id {
  S_BEGIN,
  S_BEGIN_IMMEDIATE,
  S_COMMIT,
  S_ROLLBACK,
  S_META_GET,
  S_META_PUT,
  S_META_PUT_REGISTRATION,
  S_DOC_INSERT,
  S_DOC_GET,
  S_DOC_NEXT_UNSENT,
  S_DOC_FIRST_UNSENT,
  S_DOC_ACK,
  S_NOTE_INSERT,
  S_NOTE_NEXT,
  S_NOTE_FIRST_UNSENT,
  S_NOTE_STATE,
  S_NOTE_TICKET,
  S_NOTE_NEXT_AFTER,
  S_NOTE_FIRST_UNEXPORTED,
  S_NOTE_COUNT_UNTICKETED,
  S_KEY_UPSERT,
  S_KEY_GET,
  S_KM_COUNT,
  S_KM_GET,
  S_KM_BY_REQUEST,
  S_KM_UPSERT,
  S_KM_ANSWER,
  S_KM_ACCEPT,
  S_KM_DELETE,
  S_KM_DELETE_RECEIPT,
  S_RECEIPT_GET,
  S_RECEIPT_INSERT,
  S_RECEIPT_DELETE,
  S_ITEM_INSERT,
  S_ITEMS_GET,
  S_ITEM_COUNT,
  S_ITEM_HAS_KM,
  S_ITEMS_DELETE,
  S_TOTALS_ADD,
  S_TOTALS_RESET_SHIFT,
  S_TOTALS_GET,
  S_DOC_RECEIPTS,
  S_EXTRA_INSERT,
  S_EXTRAS_GET,
  S_EXTRAS_DELETE,
  S_OFD_LINK_GET,
  S_DATA_VERSION,
  S__COUNT
} stmt_id_t;

#define META_COLUMNS                                                                               \
  "phase, fn_number, kkt_reg_number, user_inn, user_name, address, place, autonomous, marking,"    \
  " tax_systems, ofd_inn, ofd_name, kkt_serial, ffd_version, last_document, last_time,"            \
  " shift_open, shift_number, shift_opened_at, receipts_in_shift, documents_in_shift,"             \
  " last_notification, last_request, keys_updated_at, unsent_documents, unsent_notifications,"     \
  " exported_through, exported_at, unexported_notifications"

#define ITEM_COLUMNS                                                                               \
  "name, price, qty_mantissa, qty_scale, total, vat, subject, payment_method, measure, marked,"    \
  " km, km_type, product_tag, product_value, km_status, km_mode, check_result, has_industry,"      \
  " ind_authority, ind_date, ind_number, ind_value"

static const char *const statements[S__COUNT] = {
    [S_BEGIN] = "BEGIN",
    [S_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_META_GET] = "SELECT " META_COLUMNS " FROM meta WHERE id = 1",
    [S_META_PUT] = "UPDATE meta SET phase = ?1, last_document = ?2, last_time = ?3,"
                   " shift_open = ?4, shift_number = ?5, shift_opened_at = ?6,"
                   " receipts_in_shift = ?7, documents_in_shift = ?8, last_notification = ?9,"
                   " last_request = ?10, keys_updated_at = ?11, unsent_documents = ?12,"
                   " unsent_notifications = ?13, exported_through = ?14, exported_at = ?15,"
                   " unexported_notifications = ?16 WHERE id = 1",
    [S_META_PUT_REGISTRATION] =
        "UPDATE meta SET kkt_reg_number = ?1, user_inn = ?2, user_name = ?3, address = ?4,"
        " place = ?5, autonomous = ?6, marking = ?7, tax_systems = ?8, ofd_inn = ?9,"
        " ofd_name = ?10, kkt_serial = ?11, ffd_version = ?12 WHERE id = 1",
    [S_DOC_INSERT] = "INSERT INTO documents (number, type, time, shift, tlv, queued)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_DOC_GET] = "SELECT number, type, time, tlv, acknowledged, queued FROM documents"
                  " WHERE number = ?1",
    [S_DOC_NEXT_UNSENT] = "SELECT number, type, time, tlv, acknowledged, queued FROM documents"
                          " WHERE queued = 1 AND acknowledged = 0 ORDER BY number LIMIT 1",
    [S_DOC_FIRST_UNSENT] = "SELECT number, time FROM documents"
                           " WHERE queued = 1 AND acknowledged = 0 ORDER BY number LIMIT 1",
    [S_DOC_ACK] = "UPDATE documents SET acknowledged = 1, ack_time = ?2"
                  " WHERE number = ?1 AND acknowledged = 0",
    [S_NOTE_INSERT] = "INSERT INTO notifications (number, receipt_number, time, tlv)"
                      " VALUES (?1, ?2, ?3, ?4)",
    [S_NOTE_NEXT] = "SELECT number, receipt_number, time, tlv FROM notifications"
                    " WHERE ticketed = 0 ORDER BY number LIMIT 1",
    [S_NOTE_FIRST_UNSENT] = "SELECT number, time FROM notifications WHERE ticketed = 0"
                            " ORDER BY number LIMIT 1",
    [S_NOTE_STATE] = "SELECT ticketed FROM notifications WHERE number = ?1",
    [S_NOTE_TICKET] = "UPDATE notifications SET ticketed = 1, ticket_result = ?2,"
                      " ticket_time = ?3 WHERE number = ?1 AND ticketed = 0",
    [S_NOTE_NEXT_AFTER] = "SELECT number, receipt_number, time, tlv FROM notifications"
                          " WHERE ticketed = 0 AND number > ?1 ORDER BY number LIMIT 1",
    [S_NOTE_FIRST_UNEXPORTED] = "SELECT number, time FROM notifications WHERE ticketed = 0"
                                " AND number > ?1 ORDER BY number LIMIT 1",
    [S_NOTE_COUNT_UNTICKETED] = "SELECT count(*) FROM notifications WHERE ticketed = 0"
                                " AND number > ?1 AND number <= ?2",
    [S_KEY_UPSERT] = "INSERT INTO keys (id, kind, material, updated_at) VALUES (?1, ?2, ?3, ?4)"
                     " ON CONFLICT (id) DO UPDATE SET kind = excluded.kind,"
                     " material = excluded.material, updated_at = excluded.updated_at",
    [S_KEY_GET] = "SELECT kind, material, updated_at FROM keys WHERE id = ?1",
    [S_KM_COUNT] = "SELECT count(*) FROM checked_km",
    [S_KM_GET] = "SELECT km, request, km_type, tail_status, check_result, accepted"
                 " FROM checked_km WHERE km = ?1",
    [S_KM_BY_REQUEST] = "SELECT km, request, km_type, tail_status, check_result, accepted"
                        " FROM checked_km WHERE request = ?1",
    [S_KM_UPSERT] =
        "INSERT INTO checked_km (km, request, km_type, tail_status, check_result, checked_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (km) DO UPDATE SET"
        " request = excluded.request, km_type = excluded.km_type,"
        " tail_status = excluded.tail_status, check_result = excluded.check_result,"
        " answered = 0, accepted = 0, checked_at = excluded.checked_at",
    [S_KM_ANSWER] = "UPDATE checked_km SET check_result = ?2, answered = 1 WHERE km = ?1",
    [S_KM_ACCEPT] = "UPDATE checked_km SET accepted = 1 WHERE km = ?1",
    [S_KM_DELETE] = "DELETE FROM checked_km WHERE km = ?1",
    /* The subquery as plain as this, SQLite walks open_items' own index on
    ** km for the IN (a WHERE in it made a temporary table at every close);
    ** a NULL km (an unmarked line) matches no code. */
    [S_KM_DELETE_RECEIPT] = "DELETE FROM checked_km WHERE km IN (SELECT km FROM open_items)",
    [S_RECEIPT_GET] = "SELECT operation, tax_system, cashier, opened_at FROM open_receipt"
                      " WHERE id = 1",
    [S_RECEIPT_INSERT] = "INSERT INTO open_receipt (id, operation, tax_system, cashier, opened_at)"
                         " VALUES (1, ?1, ?2, ?3, ?4)",
    [S_RECEIPT_DELETE] = "DELETE FROM open_receipt",
    [S_ITEM_INSERT] = "INSERT INTO open_items (line, " ITEM_COLUMNS ") VALUES (?1, ?2, ?3, ?4,"
                      " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,"
                      " ?20, ?21, ?22, ?23)",
    [S_ITEMS_GET] = "SELECT " ITEM_COLUMNS " FROM open_items ORDER BY line",
    [S_ITEM_COUNT] = "SELECT count(*) FROM open_items",
    [S_ITEM_HAS_KM] = "SELECT 1 FROM open_items WHERE km = ?1",
    [S_ITEMS_DELETE] = "DELETE FROM open_items",
    [S_TOTALS_ADD] =
        "INSERT INTO totals (scope, operation, receipts, amount) VALUES (?1, ?2, 1, ?3)"
        " ON CONFLICT (scope, operation) DO UPDATE SET receipts = receipts + 1,"
        " amount = amount + excluded.amount",
    [S_TOTALS_RESET_SHIFT] = "DELETE FROM totals WHERE scope = 0",
    [S_TOTALS_GET] = "SELECT scope, operation, receipts, amount FROM totals",
    /* The receipts and corrections of one shift (?1 > 0) or of the whole
    ** archive (?1 = 0), for the counters of 5 and 21. */
    /* A line's agent and fraction requisites (doc_item_extras_put). */
    [S_EXTRA_INSERT] = "INSERT INTO open_extras (line, tlv) VALUES (?1, ?2)",
    [S_EXTRAS_GET] = "SELECT line, tlv FROM open_extras ORDER BY line",
    [S_EXTRAS_DELETE] = "DELETE FROM open_extras",
    /* fn_emu_open() makes ofd_link before it compiles these. */
    [S_OFD_LINK_GET] = "SELECT inn, key, refused, refused_document, refused_reason, refused_at"
                       " FROM ofd_link WHERE id = 1",
    /* Opens the read snapshot of a transaction whose first look is at the
    ** kept state (seen_check); its value is not used. */
    [S_DATA_VERSION] = "PRAGMA data_version",
    [S_DOC_RECEIPTS] = "SELECT type, tlv FROM documents WHERE type IN (3, 31)"
                       " AND (?1 = 0 OR shift = ?1) ORDER BY number",
};

/* ---------------------------------------------------------------------- */
/* State                                                                   */

/* The meta row, as read at the start of each call. */
typedef struct meta {
  fn_phase_t phase;
  char fn_number[17];
  char kkt_reg_number[21];
  char user_inn[13];
  char user_name[513];
  char address[513];
  char place[513];
  bool autonomous;
  bool marking;
  uint8_t tax_systems;
  char ofd_inn[13];
  char ofd_name[257];
  char kkt_serial[21];
  uint8_t ffd_version;
  uint32_t last_document;
  uint32_t last_time;
  bool shift_open;
  uint32_t shift_number;
  uint32_t shift_opened_at;
  uint32_t receipts_in_shift;
  uint32_t documents_in_shift;
  uint32_t last_notification;
  uint32_t last_request;
  uint32_t keys_updated_at;
  uint32_t unsent_documents;     /* queued and not acknowledged */
  uint32_t unsent_notifications; /* not ticketed */
  uint32_t exported_through;     /* the export mark: notifications up to it */
  uint32_t exported_at;
  uint32_t unexported_notifications; /* neither ticketed nor exported */
} meta_t;

/* The open receipt's own row. */
typedef struct open_receipt {
  uint8_t operation;
  uint8_t tax_system;
  char cashier[129];
  uint32_t opened_at;
} open_receipt_t;

/* A checked_km row. */
typedef struct checked {
  char km[DOC_MAX_KM + 1];
  size_t km_len;
  uint32_t request;
  uint8_t km_type;
  int tail_status;
  uint8_t check_result;
  bool accepted;
} checked_t;

/*
** What the file said at this connection's last look, kept between calls
** (docs/ARCHITECTURE.md, "The FN's state between calls"). A call used to
** read the meta row, the open receipt's row and, for a status, nine
** queries back from the file at its start; now it asks SQLite whether the
** file changed since (SQLITE_FCNTL_DATA_VERSION: it moves at every commit,
** this connection's or another's, the CLI's, kassa ofd's, a sender's) and
** reads only when it did. What this connection commits it records here
** itself (meta_store, the open receipt's insert and delete) and takes the
** version after its commit; a write it does not record, a rollback or a
** failure forgets everything, and the next call reads the file again.
*/
typedef struct seen {
  unsigned version;   /* the file's data version the fields below are of */
  bool meta_valid;    /* meta is the file's meta row */
  bool receipt_valid; /* receipt_open and receipt are the file's open_receipt */
  bool items_valid;   /* emu_t.receipt's items are the file's open_items and open_extras */
  bool status_valid;  /* status is emu_status's answer (but now) at some version */
  unsigned stale;     /* W_ bits: the status's parts written since (stmt_writes) */
  meta_t meta;
  bool receipt_open;
  open_receipt_t receipt;
  fn_status_t status;
  /* The current transaction. */
  bool checked;         /* the version was compared in it (seen_check) */
  bool write;           /* it may write (tx_begin(true), tx_begin_light) */
  bool meta_written;    /* meta_store wrote pending_meta */
  bool receipt_written; /* the open receipt was made or dropped: pending_open */
  bool unknown;         /* it wrote a row kept here without recording it */
  unsigned written;     /* W_ bits of the statements it ran (st) */
  bool items_recorded;  /* its line inserts were recorded (emu_receipt_add) */
  bool pending_open;
  meta_t pending_meta;
  open_receipt_t pending_receipt;
} seen_t;

typedef struct emu {
  sqlite3 *db;
  seen_t seen;     /* the kept state (seen_t) */
  bool sync_light; /* the connection's synchronous is NORMAL now (see tx_begin_light) */
  sqlite3_stmt *stmt[S__COUNT];
  fn_clock_t clock;
  void *clock_user;
  uint32_t km_capacity;
  uint32_t notification_capacity;
  uint8_t secret[FN_EMU_SECRET_SIZE];
  /* The last acknowledgement refused with FN_ERR_OFD_ANSWER in the current
  ** group commit (ack_trust), recorded after it (ofd_link_record). */
  uint32_t refused_document;
  int refused_reason;
  /* Work areas, allocated once with the emulator so closing a receipt
  ** never allocates (and a 90 KiB receipt never sits on the stack). */
  doc_receipt_t receipt;
  doc_totals_t shift_totals, fn_totals; /* a report's 1194 and 1157 */
  uint8_t timezone;                     /* 1011 (fn_emu_options_t.timezone) */
  uint8_t doc[DOC_MAX_DOCUMENT];
  uint8_t note[DOC_MAX_DOCUMENT];
} emu_t;

/* ---------------------------------------------------------------------- */
/* SQLite helpers                                                          */

/* Copies text into a fixed array, cut to fit (sources are checked first). */
static void copy_text(char *out, size_t cap, const char *text)
{
  size_t n = strnlen(text, cap - 1);
  memcpy(out, text, n);
  out[n] = '\0';
}

static int db_error(int rc)
{
  switch (rc & 0xFF) {
  case SQLITE_NOMEM:
    return FN_ERR_NO_MEMORY;
  case SQLITE_CONSTRAINT:
    return FN_ERR_FAILURE; /* the emulator broke its own invariant */
  default:
    return FN_ERR_IO;
  }
}

/*
** What each statement writes of the status's parts (emu_status): a commit
** marks them stale in the kept status (seen_t). The meta row and the open
** receipt's row are recorded by their writers instead (meta_store,
** receipt_written); ofd_link is written by a statement of its own, which
** makes the transaction's write unknown (its commit forgets everything).
** A document or a notification is numbered after every one before it, so
** adding one (W_*_ADDED) leaves a queue's first row where it was unless the
** queue was empty.
*/
enum {
  W_DOCS = 1,          /* documents: the OFD queue's head */
  W_NOTES = 2,         /* notifications: their queue's and the export's heads */
  W_ITEMS = 4,         /* open_items: the open receipt's line count */
  W_KM = 8,            /* checked_km: its count */
  W_TOTALS = 16,       /* totals */
  W_LINK = 32,         /* ofd_link */
  W_DOCS_ADDED = 64,   /* documents: a row added after the others */
  W_NOTES_ADDED = 128, /* notifications: a row added after the others */
  W_ALL = 255
};
static const unsigned char stmt_writes[S__COUNT] = {
    [S_DOC_INSERT] = W_DOCS_ADDED, [S_DOC_ACK] = W_DOCS,        [S_NOTE_INSERT] = W_NOTES_ADDED,
    [S_NOTE_TICKET] = W_NOTES,     [S_KM_UPSERT] = W_KM,        [S_KM_ANSWER] = W_KM,
    [S_KM_ACCEPT] = W_KM,          [S_KM_DELETE] = W_KM,        [S_KM_DELETE_RECEIPT] = W_KM,
    [S_ITEM_INSERT] = W_ITEMS,     [S_ITEMS_DELETE] = W_ITEMS,  [S_TOTALS_ADD] = W_TOTALS,
    [S_EXTRA_INSERT] = W_ITEMS,    [S_EXTRAS_DELETE] = W_ITEMS, [S_TOTALS_RESET_SHIFT] = W_TOTALS,
};

/* A prepared statement, reset and with no bindings left from before. */
static sqlite3_stmt *st(emu_t *e, stmt_id_t id)
{
  sqlite3_stmt *s = e->stmt[id];
  e->seen.written |= stmt_writes[id];
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return s;
}

/* Runs a statement that returns no row. */
static int run(sqlite3_stmt *s)
{
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc == SQLITE_DONE ? 0 : db_error(rc);
}

/* Steps a query once: *found tells whether a row came. The caller reads
** the columns and resets the statement. */
static int fetch(sqlite3_stmt *s, bool *found)
{
  int rc = sqlite3_step(s);
  *found = rc == SQLITE_ROW;
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) return 0;
  sqlite3_reset(s);
  return db_error(rc);
}

static int bind_int(sqlite3_stmt *s, int i, int64_t v)
{
  return sqlite3_bind_int64(s, i, (sqlite3_int64)v) == SQLITE_OK ? 0 : FN_ERR_IO;
}

/* Amounts are uint64_t; SQLite integers are signed. Past INT64_MAX is no
** amount a till can have, so it is a wrong value, not a storage fault. */
static int bind_u64(sqlite3_stmt *s, int i, uint64_t v)
{
  if (v > (uint64_t)INT64_MAX) return FN_ERR_VALUE;
  return bind_int(s, i, (int64_t)v);
}

static int bind_text(sqlite3_stmt *s, int i, const char *text)
{
  return sqlite3_bind_text(s, i, text, -1, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : FN_ERR_IO;
}

static int bind_blob(sqlite3_stmt *s, int i, const void *data, size_t len)
{
  if (len > INT_MAX) return FN_ERR_TLV_SIZE;
  return sqlite3_bind_blob(s, i, data, (int)len, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : FN_ERR_IO;
}

static uint32_t col_u32(sqlite3_stmt *s, int i)
{
  sqlite3_int64 v = sqlite3_column_int64(s, i);
  return v < 0 || v > (sqlite3_int64)UINT32_MAX ? 0 : (uint32_t)v;
}

static uint8_t col_u8(sqlite3_stmt *s, int i)
{
  sqlite3_int64 v = sqlite3_column_int64(s, i);
  return v < 0 || v > 255 ? 0 : (uint8_t)v;
}

static uint64_t col_u64(sqlite3_stmt *s, int i)
{
  sqlite3_int64 v = sqlite3_column_int64(s, i);
  return v < 0 ? 0 : (uint64_t)v;
}

/* Copies a text column into a fixed array; a value that does not fit means
** the file was not written by this code. */
static int col_text(sqlite3_stmt *s, int i, char *out, size_t cap)
{
  const unsigned char *text = sqlite3_column_text(s, i);
  int n = sqlite3_column_bytes(s, i);
  if (!text || n <= 0) {
    out[0] = '\0';
    return 0;
  }
  if ((size_t)n >= cap) return FN_ERR_FAILURE;
  memcpy(out, text, (size_t)n);
  out[n] = '\0';
  return 0;
}

/* Copies a blob column into out[0..cap). */
static int col_blob(sqlite3_stmt *s, int i, uint8_t *out, size_t cap, size_t *len)
{
  const void *data = sqlite3_column_blob(s, i);
  int n = sqlite3_column_bytes(s, i);
  *len = 0;
  if (!data || n <= 0) return 0;
  if ((size_t)n > cap) return FN_ERR_FAILURE;
  memcpy(out, data, (size_t)n);
  *len = (size_t)n;
  return 0;
}

static int exec_plain(sqlite3 *db, const char *sql);

/* Sets the connection's synchronous level for the next transaction. */
static int sync_level(emu_t *e, bool light)
{
  int rc;
  if (e->sync_light == light) return 0;
  if ((rc = exec_plain(e->db,
                       light ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL")) != 0)
    return rc;
  e->sync_light = light;
  return 0;
}

/* A write transaction (write true) that is durable against a power cut
** (synchronous=FULL): every fiscal document, acknowledgement, ticket, key
** and mark; or a read (write false). */
static void seen_tx_start(emu_t *e, bool write)
{
  seen_t *k = &e->seen;
  k->checked = k->meta_written = k->receipt_written = k->unknown = false;
  k->written = 0;
  k->items_recorded = false;
  k->write = write;
}

/* Forgets the kept state: the next look reads the file. */
static void seen_forget(emu_t *e)
{
  e->seen.meta_valid = e->seen.receipt_valid = e->seen.status_valid = false;
  e->seen.items_valid = false;
}

/* The data version SQLite's pager holds now (no snapshot is opened). */
static unsigned pager_version(emu_t *e)
{
  unsigned v = 0;
  if (sqlite3_file_control(e->db, "main", SQLITE_FCNTL_DATA_VERSION, &v) != SQLITE_OK) v = ~0u;
  return v;
}

/*
** In a transaction: compares the file's data version with the kept
** state's and forgets the state when they differ. A transaction that has
** read nothing yet has no snapshot (a deferred BEGIN opens it at the first
** read), so one is opened first: the version is then the one every read
** of this transaction sees. Once a transaction.
*/
static int seen_check(emu_t *e)
{
  seen_t *k = &e->seen;
  if (k->checked) return 0;
  if (sqlite3_txn_state(e->db, "main") == SQLITE_TXN_NONE) {
    bool found = false;
    sqlite3_stmt *s = st(e, S_DATA_VERSION);
    int rc = fetch(s, &found);
    sqlite3_reset(s);
    if (rc != 0) return rc;
  }
  unsigned v = pager_version(e);
  if (v != k->version || v == ~0u) {
    seen_forget(e);
    k->version = v;
  }
  k->checked = true;
  return 0;
}

/* After a commit: a write transaction that compared the version and
** recorded every kept row it wrote leaves the kept state true at the new
** version; any other forgets it. A status is always read again after a
** write (its queues and counts are not recorded here). */
static void seen_committed(emu_t *e)
{
  seen_t *k = &e->seen;
  if (!k->write) return;
  k->stale |= k->written;
  if (!k->checked || k->unknown) {
    seen_forget(e);
    return;
  }
  if (k->meta_written) {
    k->meta = k->pending_meta;
    k->meta_valid = true;
  }
  if (k->receipt_written) {
    k->receipt_open = k->pending_open;
    k->receipt = k->pending_receipt;
    k->receipt_valid = true;
  }
  if ((k->written & W_ITEMS) && !k->items_recorded) k->items_valid = false;
  k->version = pager_version(e);
  if (k->version == ~0u) seen_forget(e);
}

static int tx_begin(emu_t *e, bool write)
{
  /* A read commits nothing, so the level does not matter to it: it keeps
  ** the one set, and a status read between two light writes costs no
  ** pragma (a pragma is compiled again at each change of level). */
  int rc = write ? sync_level(e, false) : 0;
  seen_tx_start(e, write);
  return rc ? rc : run(st(e, write ? S_BEGIN_IMMEDIATE : S_BEGIN));
}

/*
** A transaction for the FN's working state, not its archive: the table of
** checked codes and the receipt being built. It commits to the WAL without
** waiting for the disk (synchronous=NORMAL): a killed process loses
** nothing (SQLite's WAL keeps every commit), a power cut may lose the last
** checks or lines, never a document. The next FULL commit (any document)
** makes them durable too. The till repairs what a power cut takes (a code
** checked again, a receipt closed again: pos/till/sale.h), and it saves two
** disk flushes on every scan, which is what a cashier waits for.
*/
static int tx_begin_light(emu_t *e)
{
  int rc = sync_level(e, true);
  seen_tx_start(e, true);
  return rc ? rc : run(st(e, S_BEGIN_IMMEDIATE));
}

static int tx_commit(emu_t *e)
{
  int rc = run(st(e, S_COMMIT));
  if (rc == 0)
    seen_committed(e);
  else
    seen_forget(e);
  return rc;
}

/* Undoes everything since tx_begin(); safe to call when no transaction is
** open (a failed BEGIN, a failed COMMIT that SQLite already rolled back). */
static void tx_rollback(emu_t *e)
{
  for (int i = 0; i < S__COUNT; i++) sqlite3_reset(e->stmt[i]);
  seen_forget(e);
  if (!sqlite3_get_autocommit(e->db)) (void)run(st(e, S_ROLLBACK));
}

/* Ends a call's transaction with the call's outcome rc: commits when rc
** is 0, rolls back when it is not or the commit fails. Returns the
** outcome. */
static int tx_end(emu_t *e, int rc)
{
  if (rc == 0) rc = tx_commit(e);
  if (rc != 0) tx_rollback(e);
  return rc;
}

/* Runs one SQL text with no parameters (schema, pragmas), discarding rows. */
static int exec_plain(sqlite3 *db, const char *sql)
{
  int rc = db_exec(db, sql, NULL, 0);
  return rc == SQLITE_OK ? 0 : db_error(rc);
}

/* Runs a pragma and gives its one-row answer as text. */
static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t cap)
{
  int rc = db_pragma_text(db, sql, out, cap);
  return rc == SQLITE_OK ? 0 : db_error(rc);
}

/*
** The pragmas every connection needs, read back: the durability promise
** rests on them, so a file system that cannot do WAL (SQLite silently
** stays in rollback mode there) is refused rather than trusted. WAL is
** stored in the file, synchronous is per connection; FULL makes a commit
** survive a power cut, not only a killed process.
*/
static int configure(sqlite3 *db)
{
  char mode[16];
  int rc;
  sqlite3_busy_timeout(db, BUSY_TIMEOUT);
  if ((rc = pragma_text(db, "PRAGMA journal_mode = WAL", mode, sizeof mode)) != 0) return rc;
  if (strcmp(mode, "wal") != 0) return FN_ERR_IO;
  if ((rc = exec_plain(db, "PRAGMA synchronous = FULL")) != 0) return rc;
  if ((rc = pragma_text(db, "PRAGMA synchronous", mode, sizeof mode)) != 0) return rc;
  if (strcmp(mode, "2") != 0) return FN_ERR_IO;
  /* A checkpoint every 1 000 pages (about 30 receipts): each costs two
  ** flushes and rewrites the hot pages (counters, queues) once, but a
  ** longer WAL costs more: SQLite's WAL index finds a slot for each frame
  ** by probing past every earlier frame of the same page in the WAL, and
  ** the meta page is written at every call (8 000 pages made that probing
  ** 14 % of a receipt's instructions; 1 000 cut it to 3 %, for 0.1 flush a
  ** receipt: docs/BENCHMARKS.md). */
  return exec_plain(db, "PRAGMA wal_autocheckpoint = 1000");
}

/* ---------------------------------------------------------------------- */
/* Meta                                                                    */

static int meta_read(emu_t *e, meta_t *m);

/* The meta row as this transaction sees it: the kept one while the file
** has not changed (seen_t), else read (and kept). */
static int meta_load(emu_t *e, meta_t *m)
{
  seen_t *k = &e->seen;
  int rc = seen_check(e);
  if (rc != 0) return rc;
  if (k->meta_written) {
    *m = k->pending_meta;
    return 0;
  }
  if (k->meta_valid) {
    *m = k->meta;
    return 0;
  }
  if ((rc = meta_read(e, m)) != 0) return rc;
  k->meta = *m;
  k->meta_valid = true;
  return 0;
}

static int meta_read(emu_t *e, meta_t *m)
{
  sqlite3_stmt *s = st(e, S_META_GET);
  bool found = false;
  int rc = fetch(s, &found);
  if (rc != 0) return rc;
  if (!found) {
    sqlite3_reset(s);
    return FN_ERR_FAILURE;
  }
  memset(m, 0, sizeof *m);
  m->phase = (fn_phase_t)sqlite3_column_int(s, 0);
  rc = col_text(s, 1, m->fn_number, sizeof m->fn_number);
  if (rc == 0) rc = col_text(s, 2, m->kkt_reg_number, sizeof m->kkt_reg_number);
  if (rc == 0) rc = col_text(s, 3, m->user_inn, sizeof m->user_inn);
  if (rc == 0) rc = col_text(s, 4, m->user_name, sizeof m->user_name);
  if (rc == 0) rc = col_text(s, 5, m->address, sizeof m->address);
  if (rc == 0) rc = col_text(s, 6, m->place, sizeof m->place);
  m->autonomous = sqlite3_column_int(s, 7) != 0;
  m->marking = sqlite3_column_int(s, 8) != 0;
  m->tax_systems = col_u8(s, 9);
  if (rc == 0) rc = col_text(s, 10, m->ofd_inn, sizeof m->ofd_inn);
  if (rc == 0) rc = col_text(s, 11, m->ofd_name, sizeof m->ofd_name);
  if (rc == 0) rc = col_text(s, 12, m->kkt_serial, sizeof m->kkt_serial);
  m->ffd_version = col_u8(s, 13);
  m->last_document = col_u32(s, 14);
  m->last_time = col_u32(s, 15);
  m->shift_open = sqlite3_column_int(s, 16) != 0;
  m->shift_number = col_u32(s, 17);
  m->shift_opened_at = col_u32(s, 18);
  m->receipts_in_shift = col_u32(s, 19);
  m->documents_in_shift = col_u32(s, 20);
  m->last_notification = col_u32(s, 21);
  m->last_request = col_u32(s, 22);
  m->keys_updated_at = col_u32(s, 23);
  m->unsent_documents = col_u32(s, 24);
  m->unsent_notifications = col_u32(s, 25);
  m->exported_through = col_u32(s, 26);
  m->exported_at = col_u32(s, 27);
  m->unexported_notifications = col_u32(s, 28);
  sqlite3_reset(s);
  return rc;
}

static int meta_store(emu_t *e, const meta_t *m)
{
  sqlite3_stmt *s = st(e, S_META_PUT);
  if (bind_int(s, 1, m->phase) || bind_int(s, 2, m->last_document) ||
      bind_int(s, 3, m->last_time) || bind_int(s, 4, m->shift_open) ||
      bind_int(s, 5, m->shift_number) || bind_int(s, 6, m->shift_opened_at) ||
      bind_int(s, 7, m->receipts_in_shift) || bind_int(s, 8, m->documents_in_shift) ||
      bind_int(s, 9, m->last_notification) || bind_int(s, 10, m->last_request) ||
      bind_int(s, 11, m->keys_updated_at) || bind_int(s, 12, m->unsent_documents) ||
      bind_int(s, 13, m->unsent_notifications) || bind_int(s, 14, m->exported_through) ||
      bind_int(s, 15, m->exported_at) || bind_int(s, 16, m->unexported_notifications))
    return FN_ERR_IO;
  int rc = run(s);
  seen_t *k = &e->seen;
  if (rc == 0 && (k->meta_written || (k->checked && k->meta_valid))) {
    /* Kept as the file now has it: the fields S_META_PUT wrote over the
    ** row as this transaction saw it. */
    meta_t *p = &k->pending_meta;
    if (!k->meta_written) *p = k->meta;
    p->phase = m->phase;
    p->last_document = m->last_document;
    p->last_time = m->last_time;
    p->shift_open = m->shift_open;
    p->shift_number = m->shift_number;
    p->shift_opened_at = m->shift_opened_at;
    p->receipts_in_shift = m->receipts_in_shift;
    p->documents_in_shift = m->documents_in_shift;
    p->last_notification = m->last_notification;
    p->last_request = m->last_request;
    p->keys_updated_at = m->keys_updated_at;
    p->unsent_documents = m->unsent_documents;
    p->unsent_notifications = m->unsent_notifications;
    p->exported_through = m->exported_through;
    p->exported_at = m->exported_at;
    p->unexported_notifications = m->unexported_notifications;
    k->meta_written = true;
  } else {
    k->unknown = true;
  }
  return rc;
}

static int meta_store_registration(emu_t *e, const meta_t *m)
{
  sqlite3_stmt *s = st(e, S_META_PUT_REGISTRATION);
  e->seen.unknown = true; /* read again after it */
  if (bind_text(s, 1, m->kkt_reg_number) || bind_text(s, 2, m->user_inn) ||
      bind_text(s, 3, m->user_name) || bind_text(s, 4, m->address) || bind_text(s, 5, m->place) ||
      bind_int(s, 6, m->autonomous) || bind_int(s, 7, m->marking) ||
      bind_int(s, 8, m->tax_systems) || bind_text(s, 9, m->ofd_inn) ||
      bind_text(s, 10, m->ofd_name) || bind_text(s, 11, m->kkt_serial) ||
      bind_int(s, 12, m->ffd_version))
    return FN_ERR_IO;
  return run(s);
}

/* ---------------------------------------------------------------------- */
/* Queues and tables                                                       */

typedef struct unsent {
  uint32_t count;
  uint32_t first_number;
  uint32_t first_time;
} unsent_t;

/*
** A queue's size and its oldest entry. The sizes are counters in meta,
** moved in the transaction that queues or clears an entry, because
** counting a queue of weeks of undelivered documents on every receipt
** made each receipt slower than the last. The oldest entry is the
** lowest-numbered one (times never go backwards), found through the
** queue's partial index: s is that query, bound and about to step.
*/
static int queue_head(sqlite3_stmt *s, uint32_t count, unsent_t *u)
{
  bool found = false;
  int rc = fetch(s, &found);
  if (rc != 0) return rc;
  memset(u, 0, sizeof *u);
  u->count = count;
  if (found) {
    u->first_number = col_u32(s, 0);
    u->first_time = col_u32(s, 1);
  }
  sqlite3_reset(s);
  /* A counter that disagrees with its queue means a damaged file. */
  return found == (count > 0) ? 0 : FN_ERR_FAILURE;
}

/* Documents waiting for the OFD's acknowledgement. */
static int documents_unsent(emu_t *e, const meta_t *m, unsent_t *u)
{
  return queue_head(st(e, S_DOC_FIRST_UNSENT), m->unsent_documents, u);
}

/* Notifications waiting for their ticket. */
static int notifications_unsent(emu_t *e, const meta_t *m, unsent_t *u)
{
  return queue_head(st(e, S_NOTE_FIRST_UNSENT), m->unsent_notifications, u);
}

/* Notifications neither ticketed nor exported: the remote shop's clock. */
static int notifications_unexported(emu_t *e, const meta_t *m, unsent_t *u)
{
  sqlite3_stmt *s = st(e, S_NOTE_FIRST_UNEXPORTED);
  int rc = bind_int(s, 1, m->exported_through);
  return rc != 0 ? rc : queue_head(s, m->unexported_notifications, u);
}

static int count_rows(emu_t *e, stmt_id_t id, uint32_t *count)
{
  sqlite3_stmt *s = st(e, id);
  bool found = false;
  int rc = fetch(s, &found);
  if (rc != 0) return rc;
  *count = found ? col_u32(s, 0) : 0;
  sqlite3_reset(s);
  return 0;
}

static int receipt_read(emu_t *e, bool *open, open_receipt_t *r);

/* The open receipt's row as this transaction sees it (*open false: none):
** the kept one while the file has not changed (seen_t), else read. */
static int receipt_load(emu_t *e, bool *open, open_receipt_t *r)
{
  seen_t *k = &e->seen;
  int rc = seen_check(e);
  if (rc != 0) return rc;
  if (k->receipt_written || k->receipt_valid) {
    *open = k->receipt_written ? k->pending_open : k->receipt_open;
    *r = k->receipt_written ? k->pending_receipt : k->receipt;
    return 0;
  }
  if ((rc = receipt_read(e, open, r)) != 0) return rc;
  k->receipt_open = *open;
  k->receipt = *r;
  k->receipt_valid = true;
  return 0;
}

/* Records that this transaction made the open receipt (r) or dropped it
** (r NULL), for seen_committed. */
static void receipt_written(emu_t *e, const open_receipt_t *r)
{
  seen_t *k = &e->seen;
  if (!k->checked) k->unknown = true; /* not compared: the rest may be stale */
  k->receipt_written = true;
  k->pending_open = r != NULL;
  if (r)
    k->pending_receipt = *r;
  else
    memset(&k->pending_receipt, 0, sizeof k->pending_receipt);
}

static int receipt_read(emu_t *e, bool *open, open_receipt_t *r)
{
  sqlite3_stmt *s = st(e, S_RECEIPT_GET);
  int rc = fetch(s, open);
  if (rc != 0) return rc;
  memset(r, 0, sizeof *r);
  if (*open) {
    r->operation = col_u8(s, 0);
    r->tax_system = col_u8(s, 1);
    rc = col_text(s, 2, r->cashier, sizeof r->cashier);
    r->opened_at = col_u32(s, 3);
  }
  sqlite3_reset(s);
  return rc;
}

/* Reads a checked_km row from a query positioned on it. */
static int checked_read(sqlite3_stmt *s, checked_t *c)
{
  size_t len = 0;
  memset(c, 0, sizeof *c);
  int rc = col_blob(s, 0, (uint8_t *)c->km, DOC_MAX_KM, &len);
  c->km_len = len;
  c->request = col_u32(s, 1);
  c->km_type = col_u8(s, 2);
  c->tail_status = sqlite3_column_int(s, 3);
  c->check_result = col_u8(s, 4);
  c->accepted = sqlite3_column_int(s, 5) != 0;
  return rc;
}

static int checked_find(emu_t *e, const char *km, size_t km_len, bool *found, checked_t *c)
{
  sqlite3_stmt *s = st(e, S_KM_GET);
  int rc = bind_blob(s, 1, km, km_len);
  if (rc == 0) rc = fetch(s, found);
  if (rc == 0 && *found) rc = checked_read(s, c);
  sqlite3_reset(s);
  return rc;
}

static int item_has_km(emu_t *e, const char *km, size_t km_len, bool *found)
{
  sqlite3_stmt *s = st(e, S_ITEM_HAS_KM);
  int rc = bind_blob(s, 1, km, km_len);
  if (rc == 0) rc = fetch(s, found);
  sqlite3_reset(s);
  return rc;
}

static int items_read(emu_t *e);

/* Loads the open receipt's lines into e->receipt.items, unless they are
** there already as the file has them (seen_t.items_valid). */
static int items_load(emu_t *e)
{
  int rc = seen_check(e);
  if (rc != 0 || e->seen.items_valid) return rc;
  if ((rc = items_read(e)) == 0) e->seen.items_valid = true;
  return rc;
}

static int items_read(emu_t *e)
{
  sqlite3_stmt *s = st(e, S_ITEMS_GET);
  doc_receipt_t *r = &e->receipt;
  bool found = false;
  int rc;
  r->item_count = 0;
  while ((rc = fetch(s, &found)) == 0 && found) {
    if (r->item_count >= DOC_MAX_ITEMS) {
      rc = FN_ERR_FAILURE;
      break;
    }
    doc_item_t *it = &r->items[r->item_count];
    size_t km_len = 0;
    memset(it, 0, sizeof *it);
    rc = col_text(s, 0, it->name, sizeof it->name);
    it->price = col_u64(s, 1);
    it->quantity.mantissa = col_u64(s, 2);
    it->quantity.scale = col_u8(s, 3);
    it->total = col_u64(s, 4);
    it->vat = col_u8(s, 5);
    it->subject = col_u8(s, 6);
    it->payment_method = col_u8(s, 7);
    it->measure = col_u8(s, 8);
    it->marked = sqlite3_column_int(s, 9) != 0;
    if (rc == 0) rc = col_blob(s, 10, (uint8_t *)it->km, DOC_MAX_KM, &km_len);
    it->km_len = km_len;
    it->km_type = col_u8(s, 11);
    it->product_tag = (uint16_t)col_u32(s, 12);
    if (rc == 0) rc = col_text(s, 13, it->product_value, sizeof it->product_value);
    it->km_status = col_u8(s, 14);
    it->km_mode = col_u8(s, 15);
    it->check_result = col_u8(s, 16);
    it->has_industry = sqlite3_column_int(s, 17) != 0;
    if (rc == 0) rc = col_text(s, 18, it->industry.authority, sizeof it->industry.authority);
    if (rc == 0) rc = col_text(s, 19, it->industry.date, sizeof it->industry.date);
    if (rc == 0) rc = col_text(s, 20, it->industry.number, sizeof it->industry.number);
    if (rc == 0) rc = col_text(s, 21, it->industry.value, sizeof it->industry.value);
    if (rc != 0) break;
    r->item_count++;
  }
  sqlite3_reset(s);
  if (rc != 0) return rc;
  /* The lines' agent and fraction requisites (line n is items[n - 1]). */
  s = st(e, S_EXTRAS_GET);
  while ((rc = fetch(s, &found)) == 0 && found) {
    int64_t line = sqlite3_column_int64(s, 0);
    const uint8_t *tlv = sqlite3_column_blob(s, 1);
    size_t n = (size_t)sqlite3_column_bytes(s, 1);
    if (line < 1 || (size_t)line > r->item_count ||
        doc_item_extras_get(tlv, n, &r->items[line - 1]) != 0) {
      rc = FN_ERR_FAILURE;
      break;
    }
  }
  sqlite3_reset(s);
  return rc;
}

/*
** *it as items_read gives it back after item_store: the columns of
** open_items and the extras, nothing else (a field neither keeps is 0).
*/
static int item_as_stored(const doc_item_t *it, doc_item_t *out)
{
  uint8_t extras[2048];
  size_t extras_len = 0;
  memset(out, 0, sizeof *out);
  copy_text(out->name, sizeof out->name, it->name);
  out->price = it->price;
  out->quantity.mantissa = it->quantity.mantissa;
  out->quantity.scale = it->quantity.scale;
  out->total = it->total;
  out->vat = it->vat;
  out->subject = it->subject;
  out->payment_method = it->payment_method;
  out->measure = it->measure;
  out->marked = it->marked;
  if (it->marked) {
    memcpy(out->km, it->km, it->km_len);
    out->km_len = it->km_len;
  }
  out->km_type = it->km_type;
  out->product_tag = it->product_tag;
  copy_text(out->product_value, sizeof out->product_value, it->product_value);
  out->km_status = it->km_status;
  out->km_mode = it->km_mode;
  out->check_result = it->check_result;
  out->has_industry = it->has_industry;
  if (it->has_industry) out->industry = it->industry;
  if (doc_item_extras_put(it, extras, sizeof extras, &extras_len) != 0) return FN_ERR_VALUE;
  if (extras_len && doc_item_extras_get(extras, extras_len, out) != 0) return FN_ERR_FAILURE;
  return 0;
}

static int item_store(emu_t *e, uint32_t line, const doc_item_t *it)
{
  sqlite3_stmt *s = st(e, S_ITEM_INSERT);
  int rc = 0;
  if (bind_int(s, 1, line) || bind_text(s, 2, it->name) || bind_int(s, 5, it->quantity.scale) ||
      bind_int(s, 7, it->vat) || bind_int(s, 8, it->subject) ||
      bind_int(s, 9, it->payment_method) || bind_int(s, 10, it->measure) ||
      bind_int(s, 11, it->marked) || bind_int(s, 13, it->km_type) ||
      bind_int(s, 14, it->product_tag) || bind_text(s, 15, it->product_value) ||
      bind_int(s, 16, it->km_status) || bind_int(s, 17, it->km_mode) ||
      bind_int(s, 18, it->check_result) || bind_int(s, 19, it->has_industry))
    return FN_ERR_IO;
  /* Without 1260 its fields are whatever the caller left there: store "". */
  const doc_industry_t none = {"", "", "", ""};
  const doc_industry_t *ind = it->has_industry ? &it->industry : &none;
  if (bind_text(s, 20, ind->authority) || bind_text(s, 21, ind->date) ||
      bind_text(s, 22, ind->number) || bind_text(s, 23, ind->value))
    return FN_ERR_IO;
  /* An unmarked line stores NULL: NULLs never collide in the UNIQUE km. */
  if (it->marked) rc = bind_blob(s, 12, it->km, it->km_len);
  if (rc == 0) rc = bind_u64(s, 3, it->price);
  if (rc == 0) rc = bind_u64(s, 4, it->quantity.mantissa);
  if (rc == 0) rc = bind_u64(s, 6, it->total);
  if (rc != 0) return rc;
  if ((rc = run(s)) != 0) return rc;
  /* Agent and fraction requisites, when the line has any. */
  uint8_t extras[2048];
  size_t extras_len = 0;
  if (doc_item_extras_put(it, extras, sizeof extras, &extras_len) != 0) return FN_ERR_VALUE;
  if (extras_len == 0) return 0;
  s = st(e, S_EXTRA_INSERT);
  if (bind_int(s, 1, line) || bind_blob(s, 2, extras, extras_len)) return FN_ERR_IO;
  return run(s);
}

static int totals_add(emu_t *e, uint8_t operation, uint64_t amount)
{
  for (int scope = 0; scope < 2; scope++) {
    sqlite3_stmt *s = st(e, S_TOTALS_ADD);
    int rc = bind_int(s, 1, scope);
    if (rc == 0) rc = bind_int(s, 2, operation);
    if (rc == 0) rc = bind_u64(s, 3, amount);
    if (rc == 0) rc = run(s);
    if (rc != 0) return rc;
  }
  return 0;
}

static int totals_load(emu_t *e, fn_totals_t *shift, fn_totals_t *all)
{
  sqlite3_stmt *s = st(e, S_TOTALS_GET);
  bool found = false;
  int rc;
  memset(shift, 0, sizeof *shift);
  memset(all, 0, sizeof *all);
  while ((rc = fetch(s, &found)) == 0 && found) {
    int scope = sqlite3_column_int(s, 0);
    int operation = sqlite3_column_int(s, 1);
    if (operation < 1 || operation > 4) continue;
    fn_totals_t *t = scope == 0 ? shift : all;
    t->receipts[operation] = col_u32(s, 2);
    t->amount[operation] = col_u64(s, 3);
  }
  sqlite3_reset(s);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Rules                                                                   */

/* The clock must not run backwards past the last document: a document
** dated before its predecessor would break the archive's order. */
static int rule_time(const meta_t *m, uint32_t now) { return now < m->last_time ? FN_ERR_TIME : 0; }

static bool shift_overdue(const meta_t *m, uint32_t now)
{
  return m->shift_open && now > m->shift_opened_at && now - m->shift_opened_at > SHIFT_LIMIT;
}

/* 0x15: the oldest document the OFD has not acknowledged is over 30 days
** old. An autonomous FN queues nothing, so this never fires for it. */
static int rule_ofd(emu_t *e, const meta_t *m, uint32_t now)
{
  unsent_t u;
  int rc;
  if (m->autonomous) return 0;
  if ((rc = documents_unsent(e, m, &u)) != 0) return rc;
  if (u.count > 0 && now > u.first_time && now - u.first_time > OFD_LIMIT)
    return FN_ERR_OFD_OVERDUE;
  return 0;
}

/* 0x36: the key table was last refreshed more than 90 days ago, or never. */
static int rule_keys(const meta_t *m, uint32_t now)
{
  if (m->keys_updated_at == 0) return FN_ERR_KEYS_EXPIRED;
  if (now > m->keys_updated_at && now - m->keys_updated_at > KEYS_LIMIT) return FN_ERR_KEYS_EXPIRED;
  return 0;
}

/* 0x34: the notification store is full. */
static int rule_notifications(const emu_t *e, const meta_t *m)
{
  return m->unsent_notifications >= e->notification_capacity ? FN_ERR_NOTIFY_FULL : 0;
}

/* ---------------------------------------------------------------------- */
/* Building, signing, storing                                              */

/* A builder's error as the FN reports it. */
static int from_doc(int rc)
{
  if (rc == 0) return 0;
  if (rc == TLV_ERR_NO_SPACE || rc == TLV_ERR_STLV_TOO_LONG) return FN_ERR_TLV_SIZE;
  if (rc == TLV_ERR_CHARSET) return FN_ERR_FAILURE;
  return FN_ERR_VALUE; /* DOC_ERR_TOTAL, text not in CP866, a value too long ... */
}

static void header_make(const emu_t *e, const meta_t *m, const char *cashier, uint32_t number,
                        uint32_t now, uint32_t shift, doc_header_t *h)
{
  memset(h, 0, sizeof *h);
  h->timezone = e->timezone; /* 1011, where the form has it */
  h->number = number;
  h->time = now;
  copy_text(h->fn_number, sizeof h->fn_number, m->fn_number);
  copy_text(h->kkt_reg_number, sizeof h->kkt_reg_number, m->kkt_reg_number);
  copy_text(h->user_inn, sizeof h->user_inn, m->user_inn);
  copy_text(h->user_name, sizeof h->user_name, m->user_name);
  copy_text(h->cashier, sizeof h->cashier, cashier);
  copy_text(h->address, sizeof h->address, m->address);
  copy_text(h->place, sizeof h->place, m->place);
  h->shift_number = shift;
  h->autonomous = m->autonomous;
}

/* Fiscal sign: the first 6 bytes of HMAC-Streebog-256(secret, document
** without 1077); doc_seal() puts it in. */
static int seal(emu_t *e, uint8_t *doc, size_t *len, size_t cap, uint8_t sign[DOC_SIGN_SIZE])
{
  uint8_t mac[CRYPTO_STREEBOG256_SIZE];
  if (crypto_hmac_streebog256(e->secret, sizeof e->secret, doc, *len, mac) != 0)
    return FN_ERR_FAILURE;
  memcpy(sign, mac, DOC_SIGN_SIZE);
  return from_doc(doc_seal(doc, len, cap, sign));
}

/* Seals the document built in e->doc, files it under h->number and
** counts it in m when it goes to the OFD (the caller stores m). */
static int document_store(emu_t *e, meta_t *m, uint16_t type, const doc_header_t *h, size_t len,
                          bool queued, fn_doc_result_t *res)
{
  uint8_t sign[DOC_SIGN_SIZE];
  int rc = seal(e, e->doc, &len, sizeof e->doc, sign);
  if (rc != 0) return rc;
  sqlite3_stmt *s = st(e, S_DOC_INSERT);
  if (bind_int(s, 1, h->number) || bind_int(s, 2, type) || bind_int(s, 3, h->time) ||
      bind_int(s, 4, h->shift_number) || bind_blob(s, 5, e->doc, len) ||
      bind_int(s, 6, queued ? 1 : 0))
    return FN_ERR_IO;
  if ((rc = run(s)) != 0) return rc;
  if (queued) m->unsent_documents++;
  memset(res, 0, sizeof *res);
  res->number = h->number;
  res->time = h->time;
  memcpy(res->sign, sign, DOC_SIGN_SIZE);
  res->fiscal_sign = doc_fiscal_sign_printed(sign);
  res->shift_number = h->shift_number;
  return 0;
}

/* The counters reports carry (2, 5, 6, 21). */
/*
** 1213, the resource of the FN's fiscal-sign keys in days [likely: FNS
** tables 87, 94, 95 and 123 make it mandatory in 1, 11, 2, 21 and 5]: the
** emulator's keys last FN_KEY_LIFE_DAYS (an FN-M of 36 months [open]: FNs
** of 15 months exist too) from its first document, the registration (now,
** while that is being made). At least 1 while the FN works, so the
** requisite is never left out for being 0.
*/
#define FN_KEY_LIFE_DAYS 1095u

static uint16_t keys_days_left(emu_t *e, uint32_t now)
{
  sqlite3_stmt *s = st(e, S_DOC_GET);
  uint32_t first = now;
  if (bind_int(s, 1, 1) == 0 && sqlite3_step(s) == SQLITE_ROW)
    first = (uint32_t)sqlite3_column_int64(s, 2);
  sqlite3_reset(s);
  uint32_t used = now > first ? (now - first) / 86400u : 0;
  return (uint16_t)(used < FN_KEY_LIFE_DAYS ? FN_KEY_LIFE_DAYS - used : 1);
}

static int counters_make(emu_t *e, const meta_t *m, doc_counters_t *c)
{
  unsent_t docs, notes;
  int rc;
  memset(c, 0, sizeof *c);
  if ((rc = documents_unsent(e, m, &docs)) != 0) return rc;
  if ((rc = notifications_unsent(e, m, &notes)) != 0) return rc;
  c->receipts_in_shift = m->receipts_in_shift;
  c->documents_in_shift = m->documents_in_shift;
  c->unsent_documents = docs.count;
  c->first_unsent_number = docs.first_number;
  c->first_unsent_time = docs.first_time;
  c->unsent_notifications = notes.count;
  c->keys_valid_days = keys_days_left(e, e->clock(e->clock_user));
  /* 1052: notification store at 99%. */
  c->fn_memory_full = (uint64_t)notes.count * 100u >= (uint64_t)e->notification_capacity * 99u;
  return 0;
}

/* Copies the outcome to the caller's optional result. */
static void result_give(fn_doc_result_t *out, const fn_doc_result_t *res)
{
  if (out) *out = *res;
}

/* The end every report-like call shares (1, 11, 2, 5, 21, 6): store the
** sealed document, make it the last one, write the counters and commit, in
** the caller's transaction; then the outcome goes to out (may be NULL).
** The caller has applied its own state changes to m first; on error the
** caller rolls back, and out is untouched. */
static int document_finish(emu_t *e, meta_t *m, uint16_t type, const doc_header_t *h, size_t len,
                           uint32_t now, fn_doc_result_t *out)
{
  fn_doc_result_t res;
  int rc = document_store(e, m, type, h, len, !m->autonomous, &res);
  if (rc != 0) return rc;
  m->last_document = h->number;
  m->last_time = now;
  if ((rc = meta_store(e, m)) != 0) return rc;
  if ((rc = tx_commit(e)) != 0) return rc;
  result_give(out, &res);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Marking codes: the crypto tail                                          */

/* Where a code's parts are. */
typedef struct km_parts {
  size_t ki_len; /* the identification part is km[0..ki_len): 0 for a non-GS1 code */
  const char *key;
  size_t key_len;
  const char *tail;
  size_t tail_len;
  bool short_tail; /* 93 */
} km_parts_t;

/* GS1 AIs of predefined length (no GS after them), as prefix and total
** length with the AI: 17 is "17"+YYMMDD. A segment may hold several
** before the variable-length AI that ends it. */
static size_t fixed_ai_length(const char *p, size_t n)
{
  static const struct {
    char prefix[3];
    unsigned char length;
  } fixed[] = {{"00", 20}, {"01", 16}, {"02", 16}, {"03", 16}, {"04", 18}, {"11", 8},
               {"12", 8},  {"13", 8},  {"14", 8},  {"15", 8},  {"16", 8},  {"17", 8},
               {"18", 8},  {"19", 8},  {"20", 4},  {"31", 10}, {"32", 10}, {"33", 10},
               {"34", 10}, {"35", 10}, {"36", 10}, {"41", 16}};
  if (n < 2) return 0;
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    if (p[0] == fixed[i].prefix[0] && p[1] == fixed[i].prefix[1])
      return fixed[i].length <= n ? fixed[i].length : 0;
  }
  return 0;
}

/*
** Splits a normalized code as the FN does: the identification part is
** everything before the first GS of a GS1 code (01 GTIN 21 serial); the
** fields after it are cut at GS, predefined-length AIs skipped, and 91,
** 92 and 93 picked out.
*/
static void km_split(const char *km, size_t len, km_parts_t *p)
{
  memset(p, 0, sizeof *p);
  if (len < 2 || km[0] != '0' || km[1] != '1') return;
  const char *gs = memchr(km, GS, len);
  p->ki_len = gs ? (size_t)(gs - km) : len;
  size_t at = p->ki_len;
  while (at < len) {
    at++; /* the GS */
    const char *next = memchr(km + at, GS, len - at);
    size_t end = next ? (size_t)(next - km) : len;
    size_t skip;
    while ((skip = fixed_ai_length(km + at, end - at)) > 0) at += skip;
    if (end - at >= 2 && km[at] == '9') {
      const char *value = km + at + 2;
      size_t value_len = end - at - 2;
      if (km[at + 1] == '1') {
        p->key = value;
        p->key_len = value_len;
      } else if (km[at + 1] == '2') {
        p->tail = value;
        p->tail_len = value_len;
      } else if (km[at + 1] == '3') {
        p->short_tail = true;
      }
    }
    at = end;
  }
}

/* Constant time: a timing difference must not tell which byte was wrong. */
static bool equal_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
  uint8_t diff = 0;
  for (size_t i = 0; i < n; i++) diff |= (uint8_t)(a[i] ^ b[i]);
  return diff == 0;
}

/* Verifies a tail with a key that exists and is current. */
static int tail_verify(int kind, const uint8_t *material, size_t material_len, const char *km,
                       const km_parts_t *p, int *status)
{
  uint8_t expected[CRYPTO_SIGNATURE_SIZE];
  uint8_t mac[CRYPTO_STREEBOG256_SIZE];
  size_t n = 0;
  *status = FN_TAIL_INVALID;
  if (kind == FN_KEY_GOST) {
    crypto_key_t *key = NULL;
    if (!codec_base64_decode_to(p->tail, p->tail_len, expected, sizeof expected, &n) ||
        n != CRYPTO_SIGNATURE_SIZE)
      return 0;
    if (crypto_key_import(CRYPTO_KEY_PUBLIC, CRYPTO_KEY_DER, material, material_len, &key) != 0)
      return FN_ERR_FAILURE; /* key_update checked it: the file was damaged */
    int rc = crypto_verify(key, (const uint8_t *)km, p->ki_len, expected);
    crypto_key_free(key);
    if (rc == 0) *status = FN_TAIL_VALID;
    return rc == 0 || rc == CRYPTO_ERR_BAD_SIGNATURE ? 0 : FN_ERR_FAILURE;
  }
  if (!codec_base64_decode_to(p->tail, p->tail_len, expected, sizeof expected, &n) ||
      n != CRYPTO_STREEBOG256_SIZE)
    return 0;
  if (crypto_hmac_streebog256(material, material_len, (const uint8_t *)km, p->ki_len, mac) != 0)
    return FN_ERR_FAILURE;
  if (equal_bytes(mac, expected, sizeof mac)) *status = FN_TAIL_VALID;
  return 0;
}

/*
** What the FN makes of a code: its 2100 type and the tail status. 88-char
** tails are GOST R 34.10-2012 signatures (type 2), 44-char ones HMACs
** (type 4 when the FN has the key, 3 when not), 93 short tails are type 5
** and not checkable; a code without any of them keeps the type the till
** gave (a tobacco pack, a fur tag) and is not checkable either.
*/
static int tail_check(emu_t *e, const doc_item_t *item, uint32_t now, uint8_t *km_type, int *status)
{
  km_parts_t p;
  km_split(item->km, item->km_len, &p);
  *status = FN_TAIL_UNCHECKABLE;
  *km_type = item->km_type;
  if (p.ki_len > 0 && p.tail && p.key && p.key_len == 4 && (p.tail_len == 88 || p.tail_len == 44)) {
    bool gost = p.tail_len == 88;
    char id[5];
    uint8_t material[sizeof((fn_key_t *)0)->material];
    size_t material_len = 0;
    bool found = false;
    int kind = 0;
    uint32_t updated_at = 0;
    memcpy(id, p.key, 4);
    id[4] = '\0';
    sqlite3_stmt *s = st(e, S_KEY_GET);
    int rc = bind_text(s, 1, id);
    if (rc == 0) rc = fetch(s, &found);
    if (rc == 0 && found) {
      kind = sqlite3_column_int(s, 0);
      rc = col_blob(s, 1, material, sizeof material, &material_len);
      updated_at = col_u32(s, 2);
    }
    sqlite3_reset(s);
    if (rc != 0) return rc;
    if (!found || kind != (gost ? FN_KEY_GOST : FN_KEY_HMAC)) {
      *km_type = gost ? 2 : 3;
      *status = FN_TAIL_NO_KEY;
      return 0;
    }
    *km_type = gost ? 2 : 4;
    if (now > updated_at && now - updated_at > KEYS_LIMIT) {
      *status = FN_TAIL_KEY_EXPIRED;
      return 0;
    }
    return tail_verify(kind, material, material_len, item->km, &p, status);
  }
  if (p.ki_len > 0 && p.short_tail) *km_type = 5;
  return 0;
}

/* ---------------------------------------------------------------------- */
/* The backend                                                             */

static uint32_t now_of(emu_t *e) { return e->clock(e->clock_user); }

static int ofd_link_status(emu_t *e, fn_status_t *out);

/*
** Whether a queue's first row must be read again for a status: its table
** was changed (`changed` in stale) other than by rows added after the
** others (`added`), or its counter went from `was` to `now` in a way
** adding does not explain (from empty, or down).
*/
static bool head_stale(unsigned stale, unsigned changed, unsigned added, uint32_t was, uint32_t now)
{
  if (stale & changed) return true;
  if (now == was) return false;
  return !((stale & added) && was > 0 && now > was);
}

/*
** The status. Its parts that come from tables are read again only when a
** commit since the last status wrote the table (seen_t.stale, from
** stmt_writes) or the meta counter a queue's head is checked against
** moved; another connection's commit, or a write not recorded, reads
** everything (seen_forget).
*/
static int emu_status(void *self, fn_status_t *out)
{
  emu_t *e = self;
  meta_t m;
  unsent_t u;
  open_receipt_t r;
  bool open = false;
  int rc;
  if ((rc = tx_begin(e, false)) != 0) return rc;
  if ((rc = meta_load(e, &m)) != 0) goto fail; /* compares the version first */
  fn_status_t *s = &e->seen.status;
  unsigned stale = e->seen.stale;
  if (!e->seen.status_valid) {
    memset(s, 0, sizeof *s);
    stale = W_ALL;
  }
  if (head_stale(stale, W_DOCS, W_DOCS_ADDED, s->unsent_documents, m.unsent_documents)) {
    if ((rc = documents_unsent(e, &m, &u)) != 0) goto fail;
    s->unsent_documents = u.count;
    s->first_unsent_number = u.first_number;
    s->first_unsent_time = u.first_time;
  }
  s->unsent_documents = m.unsent_documents;
  if (head_stale(stale, W_NOTES, W_NOTES_ADDED, s->unsent_notifications, m.unsent_notifications)) {
    if ((rc = notifications_unsent(e, &m, &u)) != 0) goto fail;
    s->unsent_notifications = u.count;
    s->first_unsent_notification_time = u.first_time;
    s->first_unsent_notification_number = u.first_number;
  }
  s->unsent_notifications = m.unsent_notifications;
  if (s->notifications_exported_through != m.exported_through ||
      head_stale(stale, W_NOTES, W_NOTES_ADDED, s->unexported_notifications,
                 m.unexported_notifications)) {
    if ((rc = notifications_unexported(e, &m, &u)) != 0) goto fail;
    s->unexported_notifications = u.count;
    s->first_unexported_notification_number = u.first_number;
    s->first_unexported_notification_time = u.first_time;
  }
  s->unexported_notifications = m.unexported_notifications;
  if ((rc = receipt_load(e, &open, &r)) != 0) goto fail;
  if ((stale & W_ITEMS) && (rc = count_rows(e, S_ITEM_COUNT, &s->receipt_items)) != 0) goto fail;
  if ((stale & W_KM) && (rc = count_rows(e, S_KM_COUNT, &s->checked_km)) != 0) goto fail;
  if ((stale & W_TOTALS) && (rc = totals_load(e, &s->shift_totals, &s->fn_totals)) != 0) goto fail;
  if ((stale & W_LINK) && (rc = ofd_link_status(e, s)) != 0) goto fail;
  if ((rc = tx_commit(e)) != 0) goto fail;
  s->phase = m.phase;
  copy_text(s->fn_number, sizeof s->fn_number, m.fn_number);
  copy_text(s->kkt_reg_number, sizeof s->kkt_reg_number, m.kkt_reg_number);
  s->autonomous = m.autonomous;
  s->marking = m.marking;
  s->last_document = m.last_document;
  s->last_time = m.last_time;
  s->shift_open = m.shift_open;
  s->shift_number = m.shift_number;
  s->shift_opened_at = m.shift_opened_at;
  s->receipts_in_shift = m.receipts_in_shift;
  s->receipt_open = open;
  s->notifications_exported_through = m.exported_through;
  s->notifications_exported_at = m.exported_at;
  s->last_notification = m.last_notification;
  copy_text(s->user_inn, sizeof s->user_inn, m.user_inn);
  s->keys_updated_at = m.keys_updated_at;
  s->checked_km_capacity = e->km_capacity;
  e->seen.status_valid = true;
  e->seen.stale = 0;
  *out = *s;
  out->now = now_of(e);
  return 0;
fail:
  tx_rollback(e);
  return rc;
}

/* Registration data must be complete and hold together. */
static int registration_check(const fn_registration_t *r)
{
  const doc_header_t *h = &r->header;
  if (h->kkt_reg_number[0] == '\0' || h->user_inn[0] == '\0' || h->user_name[0] == '\0')
    return FN_ERR_VALUE;
  if (r->reg.tax_systems == 0) return FN_ERR_VALUE;
  if (!h->autonomous && r->reg.ofd_inn[0] == '\0') return FN_ERR_VALUE;
  return 0;
}

static int emu_register(void *self, const fn_registration_t *r, bool re, fn_doc_result_t *out)
{
  emu_t *e = self;
  meta_t m;
  doc_header_t h;
  bool receipt = false;
  open_receipt_t open;
  size_t len = 0;
  uint32_t now = now_of(e);
  int rc;
  if ((rc = registration_check(r)) != 0) return rc;
  if ((rc = tx_begin(e, true)) != 0) return rc;
  if ((rc = meta_load(e, &m)) != 0) goto fail;
  if ((rc = receipt_load(e, &receipt, &open)) != 0) goto fail;
  /* First registration only from READY; re-registration only when
  ** registered, between shifts. */
  /* A new FN replacing a closed one registers with an 11 (1205 bit 0). */
  bool replacing = re && m.phase == FN_PHASE_READY && (r->reg.reason_mask & FN_REREG_FN_REPLACED);
  if (replacing) {
    /* its first document: no shift, no receipt, nothing owed yet */
  } else if (re ? (m.phase != FN_PHASE_FISCAL || m.shift_open || receipt)
                : m.phase != FN_PHASE_READY) {
    rc = FN_ERR_STATE;
    goto fail;
  }
  if ((rc = rule_time(&m, now)) != 0) goto fail;
  if (re && (rc = rule_ofd(e, &m, now)) != 0) goto fail;
  copy_text(m.kkt_reg_number, sizeof m.kkt_reg_number, r->header.kkt_reg_number);
  copy_text(m.user_inn, sizeof m.user_inn, r->header.user_inn);
  copy_text(m.user_name, sizeof m.user_name, r->header.user_name);
  copy_text(m.address, sizeof m.address, r->header.address);
  copy_text(m.place, sizeof m.place, r->header.place);
  m.autonomous = r->header.autonomous;
  m.marking = r->reg.marking;
  m.tax_systems = r->reg.tax_systems;
  copy_text(m.ofd_inn, sizeof m.ofd_inn, r->reg.ofd_inn);
  copy_text(m.ofd_name, sizeof m.ofd_name, r->reg.ofd_name);
  copy_text(m.kkt_serial, sizeof m.kkt_serial, r->reg.kkt_serial);
  m.ffd_version = r->reg.ffd_version;
  header_make(e, &m, r->header.cashier, m.last_document + 1, now, 0, &h);
  doc_registration_t reg = r->reg;
  reg.keys_valid_days = replacing ? FN_KEY_LIFE_DAYS : keys_days_left(e, now);
  if ((rc = from_doc(doc_build_registration(&h, &reg, re, e->doc, sizeof e->doc, &len))) != 0)
    goto fail;
  m.phase = FN_PHASE_FISCAL;
  if ((rc = meta_store_registration(e, &m)) != 0) goto fail;
  if ((rc = document_finish(e, &m, re ? DOC_REREGISTRATION : DOC_REGISTRATION, &h, len, now,
                            out)) != 0)
    goto fail;
  return 0;
fail:
  tx_rollback(e);
  return rc;
}

/*
** What every report-like document (2, 5, 21, 6) checks first: registered,
** no receipt open, the clock; then the shift the form needs (2 and 6 none
** open, 5 one open, 21 either); then the 30-day rule.
*/
static int report_start(emu_t *e, uint16_t type, meta_t *m, uint32_t now)
{
  bool receipt = false;
  open_receipt_t open;
  int rc;
  if ((rc = meta_load(e, m)) != 0) return rc;
  if ((rc = receipt_load(e, &receipt, &open)) != 0) return rc;
  if (m->phase != FN_PHASE_FISCAL || receipt) return FN_ERR_STATE;
  if ((rc = rule_time(m, now)) != 0) return rc;
  switch (type) {
  case DOC_SHIFT_OPEN:
    /* An overdue shift says what to do about it. */
    if (m->shift_open) return shift_overdue(m, now) ? FN_ERR_SHIFT_OVERDUE : FN_ERR_STATE;
    break;
  case DOC_SHIFT_CLOSE:
    /* Closing is always allowed past 24 hours: it is the way out. */
    if (!m->shift_open) return FN_ERR_STATE;
    break;
  case DOC_FN_CLOSE:
    if (m->shift_open) return FN_ERR_STATE;
    break;
  }
  return rule_ofd(e, m, now);
}

/*
** The settlement totals of 1194 (shift > 0: that shift's) or 1157 (shift 0:
** since registration), added up from the archive itself: the receipts and
** corrections the FN signed are the truth, so the counters cannot drift
** from them and need no table of their own. Uses e->receipt as scratch: a
** report is only made with no receipt open (report_start).
*/
static int totals_from_archive(emu_t *e, uint32_t shift, doc_totals_t *out)
{
  sqlite3_stmt *s = st(e, S_DOC_RECEIPTS);
  bool found = false;
  int rc;
  memset(out, 0, sizeof *out);
  if ((rc = bind_int(s, 1, (int64_t)shift)) != 0) return rc;
  while ((rc = fetch(s, &found)) == 0 && found) {
    doc_header_t h;
    uint64_t total = 0;
    uint8_t sign[DOC_SIGN_SIZE];
    int type = sqlite3_column_int(s, 0);
    const uint8_t *tlv = sqlite3_column_blob(s, 1);
    size_t n = (size_t)sqlite3_column_bytes(s, 1);
    if (doc_parse_receipt(tlv, n, &h, &e->receipt, &total, sign) != 0) {
      rc = FN_ERR_FAILURE; /* the archive holds what the FN sealed */
      break;
    }
    doc_totals_add(out, type == DOC_CORRECTION, &e->receipt, total);
  }
  sqlite3_reset(s);
  memset(&e->receipt, 0, sizeof e->receipt);
  e->seen.items_valid = false; /* the scratch is no longer the open receipt's lines */
  return rc;
}

/* A report-like document into e->doc, with the counters as they stand. */
static int report_build(emu_t *e, uint16_t type, const doc_header_t *h, const doc_counters_t *c,
                        size_t *len)
{
  switch (type) {
  case DOC_SHIFT_OPEN:
  case DOC_SHIFT_CLOSE:
    return from_doc(doc_build_shift(h, c, type == DOC_SHIFT_OPEN, e->doc, sizeof e->doc, len));
  case DOC_STATE_REPORT:
    return from_doc(doc_build_state_report(h, c, e->doc, sizeof e->doc, len));
  default:
    return from_doc(doc_build_fn_close(h, c, e->doc, sizeof e->doc, len));
  }
}

/* The state a report-like document leaves, applied to m (and the shift's
** totals, which a new shift starts from nothing). */
static int report_apply(emu_t *e, uint16_t type, meta_t *m, uint32_t now)
{
  switch (type) {
  case DOC_SHIFT_OPEN:
    m->shift_open = true;
    m->shift_opened_at = now;
    m->documents_in_shift = 1;
    return run(st(e, S_TOTALS_RESET_SHIFT));
  case DOC_SHIFT_CLOSE:
    m->shift_open = false;
    return 0;
  case DOC_STATE_REPORT:
    if (m->shift_open) m->documents_in_shift++;
    return 0;
  default:
    m->phase = FN_PHASE_POST;
    return 0;
  }
}

/*
** One report-like document (2, 5, 21, 6), one transaction: the checks, the
** counts the document carries, the document, the state it leaves, and
** document_finish. cashier is "" for 21 and 6, which name none.
*/
static int report(emu_t *e, uint16_t type, const char *cashier, fn_doc_result_t *out)
{
  meta_t m;
  doc_header_t h;
  doc_counters_t c;
  size_t len = 0;
  uint32_t now = now_of(e);
  int rc;
  if ((rc = tx_begin(e, true)) != 0) return rc;
  if ((rc = report_start(e, type, &m, now)) != 0) goto fail;
  if (type == DOC_SHIFT_OPEN) {
    m.shift_number++;
    m.receipts_in_shift = 0;
    m.documents_in_shift = 0;
  } else if (type == DOC_SHIFT_CLOSE) {
    m.documents_in_shift++; /* 1111 counts the close itself */
  }
  if ((rc = counters_make(e, &m, &c)) != 0) goto fail;
  if (type == DOC_SHIFT_CLOSE || type == DOC_STATE_REPORT || type == DOC_FN_CLOSE) {
    /* 1194 for the shift (a 21 outside a shift has none, nor a 6), 1157 always. */
    if (m.shift_open && type != DOC_FN_CLOSE) {
      if ((rc = totals_from_archive(e, m.shift_number, &e->shift_totals)) != 0) goto fail;
      c.shift_totals = &e->shift_totals;
    }
    if ((rc = totals_from_archive(e, 0, &e->fn_totals)) != 0) goto fail;
    c.fn_totals = &e->fn_totals;
  }
  /* 1038 only inside a shift (the builder leaves 0 out of a 21). */
  header_make(e, &m, cashier, m.last_document + 1, now,
              type == DOC_STATE_REPORT && !m.shift_open ? 0 : m.shift_number, &h);
  if ((rc = report_build(e, type, &h, &c, &len)) != 0) goto fail;
  if ((rc = report_apply(e, type, &m, now)) != 0) goto fail;
  if ((rc = document_finish(e, &m, type, &h, len, now, out)) != 0) goto fail;
  return 0;
fail:
  tx_rollback(e);
  return rc;
}

static int emu_shift_open(void *self, const char *cashier, fn_doc_result_t *out)
{
  return report(self, DOC_SHIFT_OPEN, cashier, out);
}

static int emu_shift_close(void *self, const char *cashier, fn_doc_result_t *out)
{
  return report(self, DOC_SHIFT_CLOSE, cashier, out);
}

static int emu_state_report(void *self, fn_doc_result_t *out)
{
  return report(self, DOC_STATE_REPORT, "", out);
}

static int emu_fn_close(void *self, fn_doc_result_t *out)
{
  return report(self, DOC_FN_CLOSE, "", out);
}

/* A tax system (1055) is one bit of the registered mask (1062). */
static bool tax_system_ok(const meta_t *m, uint8_t tax_system)
{
  return tax_system != 0 && (tax_system & (tax_system - 1)) == 0 &&
         (tax_system & m->tax_systems) != 0;
}

/*
** What opening (receipt_open false) and closing (true) a receipt check
** first: registered, a shift open, a receipt open or not as receipt_open
** says, the clock, the 24-hour shift, the 30-day rule. The open receipt's
** row goes to *open.
*/
static int receipt_start(emu_t *e, bool receipt_open, meta_t *m, open_receipt_t *open, uint32_t now)
{
  bool receipt = false;
  int rc;
  if ((rc = meta_load(e, m)) != 0) return rc;
  if ((rc = receipt_load(e, &receipt, open)) != 0) return rc;
  if (m->phase != FN_PHASE_FISCAL || !m->shift_open || receipt != receipt_open) return FN_ERR_STATE;
  if ((rc = rule_time(m, now)) != 0) return rc;
  if (shift_overdue(m, now)) return FN_ERR_SHIFT_OVERDUE;
  return rule_ofd(e, m, now);
}

static int emu_receipt_begin(void *self, uint8_t operation, uint8_t tax_system, const char *cashier)
{
  emu_t *e = self;
  meta_t m;
  open_receipt_t open;
  uint32_t now = now_of(e);
  int rc;
  if ((rc = tx_begin_light(e)) != 0) return rc;
  if ((rc = receipt_start(e, false, &m, &open, now)) != 0) goto end;
  if (!tax_system_ok(&m, tax_system)) {
    rc = FN_ERR_VALUE;
    goto end;
  }
  sqlite3_stmt *s = st(e, S_RECEIPT_INSERT);
  if (bind_int(s, 1, operation) || bind_int(s, 2, tax_system) || bind_text(s, 3, cashier) ||
      bind_int(s, 4, now)) {
    rc = FN_ERR_IO;
    goto end;
  }
  if ((rc = run(s)) == 0) {
    /* The row as receipt_read would give it back (a name too long for it
    ** is read from the file, which refuses it as receipt_read does). */
    open_receipt_t made = {.operation = operation, .tax_system = tax_system, .opened_at = now};
    if (strlen(cashier) < sizeof made.cashier) {
      memcpy(made.cashier, cashier, strlen(cashier) + 1);
      receipt_written(e, &made);
    } else {
      e->seen.unknown = true;
    }
  }
end:
  return tx_end(e, rc);
}

/*
** A line as the FN takes it into the receipt whose lines so far are
** e->receipt's: a marked line's code checked and accepted (else 0x3E), not
** already a line (one piece, one line: FN_ERR_VALUE), and with the FN's own
** 2100 and 2106, not the till's; an unmarked line without a code.
*/
static int line_take(emu_t *e, doc_item_t *it)
{
  checked_t c;
  bool found = false;
  int rc;
  if (!it->marked) {
    it->km_len = 0;
    it->km[0] = '\0';
    return 0;
  }
  if ((rc = checked_find(e, it->km, it->km_len, &found, &c)) != 0) return rc;
  if (!found || !c.accepted) return FN_ERR_KM_NOT_CHECKED;
  for (size_t i = 0; i < e->receipt.item_count; i++) {
    const doc_item_t *was = &e->receipt.items[i];
    if (was->marked && was->km_len == it->km_len && memcmp(was->km, it->km, it->km_len) == 0)
      return FN_ERR_VALUE;
  }
  it->km_type = c.km_type;
  it->check_result = c.check_result;
  return 0;
}

static int emu_receipt_add(void *self, const doc_item_t *item)
{
  emu_t *e = self;
  meta_t m;
  bool receipt = false;
  open_receipt_t open;
  doc_item_t it = *item;
  doc_header_t h;
  size_t len = 0;
  int rc;
  if ((rc = tx_begin_light(e)) != 0) return rc;
  if ((rc = meta_load(e, &m)) != 0) goto end;
  if ((rc = receipt_load(e, &receipt, &open)) != 0) goto end;
  if (m.phase != FN_PHASE_FISCAL || !receipt) {
    rc = FN_ERR_STATE;
    goto end;
  }
  if ((rc = items_load(e)) != 0) goto end;
  if (e->receipt.item_count >= DOC_MAX_ITEMS) {
    rc = FN_ERR_TLV_SIZE;
    goto end;
  }
  if ((rc = line_take(e, &it)) != 0) goto end;
  /*
  ** Build the receipt with this line added, now: a line the format refuses
  ** (text without a CP866 form, a receipt past 32 KiB) is refused here,
  ** where the cashier can drop it, and closing can never fail on it.
  ** Payments are set to the total so the sums hold.
  */
  e->receipt.items[e->receipt.item_count] = it;
  e->receipt.item_count++;
  e->receipt.operation = open.operation;
  e->receipt.tax_system = open.tax_system;
  e->receipt.receipt_number = m.receipts_in_shift + 1;
  e->receipt.cash = 0;
  e->receipt.cashless = 0;
  e->receipt.prepaid = e->receipt.credit = e->receipt.other = 0;
  for (size_t i = 0; i < e->receipt.item_count; i++) {
    if (e->receipt.items[i].total > (uint64_t)INT64_MAX - e->receipt.cash) {
      rc = FN_ERR_VALUE;
      goto end;
    }
    e->receipt.cash += e->receipt.items[i].total;
  }
  header_make(e, &m, open.cashier, m.last_document + 1, m.last_time, m.shift_number, &h);
  if ((rc = from_doc(doc_build_receipt(&h, &e->receipt, false, e->doc, sizeof e->doc, &len))) != 0)
    goto end;
  rc = item_store(e, (uint32_t)e->receipt.item_count, &it);
  /* The lines in memory are the file's with this one (seen_t.items_valid). */
  if (rc == 0 && e->seen.items_valid)
    rc = item_as_stored(&it, &e->receipt.items[e->receipt.item_count - 1]);
  if (rc == 0) e->seen.items_recorded = e->seen.items_valid;
end:
  return tx_end(e, rc);
}

static int receipt_finish(emu_t *e, const meta_t *mp, const open_receipt_t *op,
                          const fn_payments_t *pay, const fn_correction_t *correction, uint32_t now,
                          bool rows, fn_doc_result_t *out);

/*
** Closes the open receipt as a receipt (3) or, with `correction` (1173,
** 1174 in *correction; NULL for a receipt), a correction receipt (31).
*/
static int receipt_close(emu_t *e, const fn_payments_t *pay, const fn_correction_t *correction,
                         fn_doc_result_t *out)
{
  meta_t m;
  open_receipt_t open;
  uint32_t now = now_of(e);
  int rc;
  if ((rc = tx_begin(e, true)) != 0) return rc;
  if ((rc = receipt_start(e, true, &m, &open, now)) != 0) goto fail;
  if ((rc = items_load(e)) != 0) goto fail;
  if ((rc = receipt_finish(e, &m, &open, pay, correction, now, true, out)) != 0) goto fail;
  return 0;
fail:
  tx_rollback(e);
  return rc;
}

/*
** A receipt whose lines are e->receipt's, made in the durable transaction
** receipt_start() checked, and committed: the sums, the payment rules, the
** document, the notification, the totals. `rows`: the lines are the open
** receipt's rows (the single calls), whose codes are checked again here
** (one may have been declined since it was added) and which go with the
** receipt; else (fn_receipt_make) they came with the call, taken in this
** transaction, and only their codes are in the file. On failure the caller
** rolls back.
*/
static int receipt_finish(emu_t *e, const meta_t *mp, const open_receipt_t *op,
                          const fn_payments_t *pay, const fn_correction_t *correction, uint32_t now,
                          bool rows, fn_doc_result_t *out)
{
  meta_t m = *mp;
  const open_receipt_t open = *op;
  bool marked = false;
  doc_header_t h;
  fn_doc_result_t res;
  size_t len = 0;
  uint64_t total = 0;
  int rc;
  doc_receipt_t *r = &e->receipt;
  /* 1020 is the sum of the lines; 1031 + 1081 must pay exactly that. */
  if (r->item_count == 0) {
    rc = FN_ERR_VALUE;
    goto fail;
  }
  for (size_t i = 0; i < r->item_count; i++) {
    if (r->items[i].total > UINT64_MAX - total) {
      rc = FN_ERR_VALUE;
      goto fail;
    }
    total += r->items[i].total;
    marked |= r->items[i].marked;
    if (rows && r->items[i].marked) {
      /* A code declined or re-checked since it was added is no longer
      ** accepted: 0x3E, as if it had never been checked. */
      checked_t c;
      bool found = false;
      if ((rc = checked_find(e, r->items[i].km, r->items[i].km_len, &found, &c)) != 0) goto fail;
      if (!found || !c.accepted) {
        rc = FN_ERR_KM_NOT_CHECKED;
        goto fail;
      }
    }
  }
  /* The five forms pay exactly the lines (each below 2^48, so no overflow). */
  const uint64_t limit = (UINT64_C(1) << 48) - 1;
  if (pay->cash > limit || pay->cashless > limit || pay->prepaid > limit || pay->credit > limit ||
      pay->other > limit ||
      pay->cash + pay->cashless + pay->prepaid + pay->credit + pay->other != total) {
    rc = FN_ERR_VALUE;
    goto fail;
  }
  if (marked && (rc = rule_notifications(e, &m)) != 0) goto fail;
  r->operation = open.operation;
  r->tax_system = open.tax_system;
  r->receipt_number = m.receipts_in_shift + 1;
  r->cash = pay->cash;
  r->cashless = pay->cashless;
  r->prepaid = pay->prepaid;
  r->credit = pay->credit;
  r->other = pay->other;
  snprintf(r->buyer_contact, sizeof r->buyer_contact, "%s", pay->buyer_contact);
  /* The rules of 1214 (doc_payment_rules): which lines each form may pay. */
  if (doc_payment_rules(r) != 0) {
    rc = FN_ERR_VALUE;
    goto fail;
  }
  r->correction_type = 0;
  r->correction_date = now;
  r->correction_basis[0] = '\0';
  if (correction) {
    /* 1173 is 0 (own initiative) or 1 (by order, which needs the order's
    ** number); the corrected settlement cannot be later than now. */
    bool by_order = correction->type == 1;
    if (correction->type > 1 || by_order != (correction->order_number[0] != '\0') ||
        correction->date > now) {
      rc = FN_ERR_VALUE;
      goto fail;
    }
    r->correction_type = correction->type;
    r->correction_date = correction->date ? correction->date : now;
    copy_text(r->correction_basis, sizeof r->correction_basis, correction->order_number);
  }
  header_make(e, &m, open.cashier, m.last_document + 1, now, m.shift_number, &h);
  if ((rc = from_doc(doc_build_receipt(&h, r, correction != NULL, e->doc, sizeof e->doc, &len))) !=
      0)
    goto fail;
  if ((rc = document_store(e, &m, correction ? DOC_CORRECTION : DOC_RECEIPT, &h, len, !m.autonomous,
                           &res)) != 0)
    goto fail;
  res.receipt_number = r->receipt_number;
  if (marked) {
    /* The sale notification commits with the receipt, or neither does. */
    doc_header_t nh;
    uint8_t sign[DOC_SIGN_SIZE];
    size_t note_len = 0;
    header_make(e, &m, open.cashier, m.last_notification + 1, now, m.shift_number, &nh);
    r->notification_kind = correction ? 2 : 1; /* 2116: a receipt's or a correction's */
    rc = from_doc(doc_build_km_notification(&nh, h.number, r, e->note, sizeof e->note, &note_len));
    if (rc == 0) rc = seal(e, e->note, &note_len, sizeof e->note, sign);
    if (rc != 0) goto fail;
    sqlite3_stmt *s = st(e, S_NOTE_INSERT);
    if (bind_int(s, 1, nh.number) || bind_int(s, 2, h.number) || bind_int(s, 3, now) ||
        bind_blob(s, 4, e->note, note_len)) {
      rc = FN_ERR_IO;
      goto fail;
    }
    if ((rc = run(s)) != 0) goto fail;
    m.last_notification = nh.number;
    m.unsent_notifications++;
    m.unexported_notifications++; /* a new number is always past the export mark */
    /* Sold codes leave the checked table with the receipt. */
    if (rows) {
      if ((rc = run(st(e, S_KM_DELETE_RECEIPT))) != 0) goto fail;
    } else {
      for (size_t i = 0; i < r->item_count && rc == 0; i++) {
        if (!r->items[i].marked) continue;
        s = st(e, S_KM_DELETE);
        if ((rc = bind_blob(s, 1, r->items[i].km, r->items[i].km_len)) == 0) rc = run(s);
      }
      if (rc != 0) goto fail;
    }
  }
  if (rows) {
    if ((rc = run(st(e, S_ITEMS_DELETE))) != 0) goto fail;
    if ((rc = run(st(e, S_EXTRAS_DELETE))) != 0) goto fail;
    if ((rc = run(st(e, S_RECEIPT_DELETE))) != 0) goto fail;
    receipt_written(e, NULL);
  }
  if ((rc = totals_add(e, r->operation, total)) != 0) goto fail;
  m.receipts_in_shift++;
  m.documents_in_shift++;
  m.last_document = h.number;
  m.last_time = now;
  if ((rc = meta_store(e, &m)) != 0) goto fail;
  if ((rc = tx_commit(e)) != 0) goto fail;
  result_give(out, &res);
  return 0;
fail:
  return rc;
}

/*
** fn_receipt_make: the single calls' rules (receipt_start with none open,
** the tax system, line_take for each line) and receipt_finish, in one
** durable transaction; nothing of the receipt but its document is ever in
** the file. e->receipt is the order's scratch: the open receipt's kept
** lines (seen_t.items_valid) describe none, and none is left there.
*/
static int emu_receipt_make(void *self, const fn_receipt_order_t *o, fn_doc_result_t *out)
{
  emu_t *e = self;
  meta_t m;
  open_receipt_t none, open = {.operation = o->operation, .tax_system = o->tax_system};
  uint32_t now = now_of(e);
  int rc;
  if ((rc = tx_begin(e, true)) != 0) return rc;
  if ((rc = receipt_start(e, false, &m, &none, now)) != 0) goto fail;
  if (!tax_system_ok(&m, o->tax_system)) {
    rc = FN_ERR_VALUE;
    goto fail;
  }
  copy_text(open.cashier, sizeof open.cashier, o->cashier ? o->cashier : "");
  open.opened_at = now;
  e->receipt.item_count = 0;
  e->seen.items_valid = false;
  for (size_t i = 0; i < o->count; i++) {
    doc_item_t taken = o->items[i];
    if ((rc = line_take(e, &taken)) != 0 ||
        (rc = item_as_stored(&taken, &e->receipt.items[i])) != 0)
      goto fail;
    e->receipt.item_count = i + 1;
  }
  if ((rc = receipt_finish(e, &m, &open, &o->pay, o->correction, now, false, out)) != 0) goto fail;
  e->receipt.item_count = 0;
  return 0;
fail:
  tx_rollback(e);
  e->receipt.item_count = 0;
  return rc;
}

static int emu_receipt_close(void *self, uint64_t cash, uint64_t cashless, bool correction,
                             fn_doc_result_t *out)
{
  fn_correction_t own = {.type = 0};
  fn_payments_t pay = {.cash = cash, .cashless = cashless};
  return receipt_close(self, &pay, correction ? &own : NULL, out);
}

static int emu_correction_close(void *self, uint64_t cash, uint64_t cashless,
                                const fn_correction_t *c, fn_doc_result_t *out)
{
  fn_payments_t pay = {.cash = cash, .cashless = cashless};
  return receipt_close(self, &pay, c, out);
}

static int emu_receipt_close_paid(void *self, const fn_payments_t *p, const fn_correction_t *c,
                                  fn_doc_result_t *out)
{
  return receipt_close(self, p, c, out);
}

static int emu_totals(void *self, bool shift, doc_totals_t *out)
{
  emu_t *e = self;
  meta_t m;
  bool receipt = false;
  open_receipt_t open;
  int rc;
  if ((rc = tx_begin(e, false)) != 0) return rc;
  if ((rc = meta_load(e, &m)) != 0) goto fail;
  /* e->receipt is the open receipt's scratch; with one open it is in use. */
  if ((rc = receipt_load(e, &receipt, &open)) != 0) goto fail;
  if (receipt) {
    rc = FN_ERR_STATE;
    goto fail;
  }
  if (shift && !m.shift_open)
    memset(out, 0, sizeof *out);
  else if ((rc = totals_from_archive(e, shift ? m.shift_number : 0, out)) != 0)
    goto fail;
  return tx_commit(e);
fail:
  tx_rollback(e);
  return rc;
}

static int emu_receipt_cancel(void *self)
{
  emu_t *e = self;
  bool receipt = false;
  open_receipt_t open;
  int rc;
  if ((rc = tx_begin_light(e)) != 0) return rc;
  if ((rc = receipt_load(e, &receipt, &open)) != 0) goto end;
  if (!receipt) {
    rc = FN_ERR_STATE;
    goto end;
  }
  /* A sale that did not happen: its codes must be checked again. */
  if ((rc = run(st(e, S_KM_DELETE_RECEIPT))) != 0) goto end;
  if ((rc = run(st(e, S_ITEMS_DELETE))) != 0) goto end;
  if ((rc = run(st(e, S_EXTRAS_DELETE))) != 0) goto end;
  if ((rc = run(st(e, S_RECEIPT_DELETE))) == 0) receipt_written(e, NULL);
end:
  return tx_end(e, rc);
}

/* Marking needs a registered FN that sells marked goods. */
static int marking_state(const meta_t *m)
{
  return m->phase == FN_PHASE_FISCAL && m->marking ? 0 : FN_ERR_STATE;
}

static int emu_km_check(void *self, const doc_item_t *item, fn_km_check_t *out)
{
  emu_t *e = self;
  meta_t m;
  checked_t c;
  doc_item_t it = *item;
  doc_header_t h;
  bool found = false;
  uint32_t count = 0;
  uint8_t km_type = 0, sign[DOC_SIGN_SIZE];
  int tail = FN_TAIL_UNCHECKABLE;
  size_t len = 0;
  uint32_t now = now_of(e);
  int rc;
  if ((rc = tx_begin_light(e)) != 0) return rc;
  if ((rc = meta_load(e, &m)) != 0) goto fail;
  if ((rc = marking_state(&m)) != 0) goto fail;
  if ((rc = rule_time(&m, now)) != 0) goto fail;
  if ((rc = rule_keys(&m, now)) != 0) goto fail;
  if ((rc = rule_notifications(e, &m)) != 0) goto fail;
  /* A code already in the table is checked again in its place. */
  if ((rc = checked_find(e, it.km, it.km_len, &found, &c)) != 0) goto fail;
  if (!found) {
    if ((rc = count_rows(e, S_KM_COUNT, &count)) != 0) goto fail;
    if (count >= e->km_capacity) {
      rc = FN_ERR_KM_TABLE_FULL;
      goto fail;
    }
  } else {
    /* Re-checking a code that is in the open receipt would un-accept it
    ** under the receipt's feet. */
    if ((rc = item_has_km(e, it.km, it.km_len, &found)) != 0) goto fail;
    if (found) {
      rc = FN_ERR_STATE;
      goto fail;
    }
  }
  if ((rc = tail_check(e, &it, now, &km_type, &tail)) != 0) goto fail;
  it.km_type = km_type;
  it.check_result = 0;
  if (tail == FN_TAIL_VALID) it.check_result = DOC_2106_TAIL_CHECKED | DOC_2106_TAIL_VALID;
  if (tail == FN_TAIL_INVALID) it.check_result = DOC_2106_TAIL_CHECKED;
  if (m.autonomous) it.check_result |= DOC_2106_AUTONOMOUS;
  header_make(e, &m, "", m.last_request + 1, now, 0, &h);
  memset(out, 0, sizeof *out);
  rc = from_doc(doc_build_km_request(&h, &it, out->request, sizeof out->request, &len));
  if (rc == 0) rc = seal(e, out->request, &len, sizeof out->request, sign);
  if (rc != 0) goto fail;
  sqlite3_stmt *s = st(e, S_KM_UPSERT);
  if (bind_blob(s, 1, it.km, it.km_len) || bind_int(s, 2, h.number) || bind_int(s, 3, km_type) ||
      bind_int(s, 4, tail) || bind_int(s, 5, it.check_result) || bind_int(s, 6, now)) {
    rc = FN_ERR_IO;
    goto fail;
  }
  if ((rc = run(s)) != 0) goto fail;
  m.last_request = h.number;
  if ((rc = meta_store(e, &m)) != 0) goto fail;
  if ((rc = tx_commit(e)) != 0) goto fail;
  out->check_result = it.check_result;
  out->tail_status = tail;
  out->km_type = km_type;
  out->request_len = len;
  return 0;
fail:
  tx_rollback(e);
  if (out) memset(out, 0, sizeof *out);
  return rc;
}

static int emu_km_answer(void *self, const uint8_t *doc83, size_t len, fn_km_check_t *out)
{
  emu_t *e = self;
  meta_t m;
  doc_km_answer_t a;
  checked_t c;
  bool found = false;
  int rc;
  if (doc_parse_km_answer(doc83, len, &a) != 0) return FN_ERR_VALUE;
  if ((rc = tx_begin_light(e)) != 0) return rc;
  if ((rc = meta_load(e, &m)) != 0) goto fail;
  if ((rc = marking_state(&m)) != 0) goto fail;
  /* An autonomous FN never hears from the OISM. */
  if (m.autonomous) {
    rc = FN_ERR_STATE;
    goto fail;
  }
  /* The answer names its code (2000) or at least its request (2001). */
  if (a.km_len > 0) {
    if ((rc = checked_find(e, a.km, a.km_len, &found, &c)) != 0) goto fail;
    if (found && c.request != a.request_number && a.request_number != 0) found = false;
  } else {
    sqlite3_stmt *s = st(e, S_KM_BY_REQUEST);
    if ((rc = bind_int(s, 1, a.request_number)) != 0) goto fail;
    rc = fetch(s, &found);
    if (rc == 0 && found) rc = checked_read(s, &c);
    sqlite3_reset(s);
    if (rc != 0) goto fail;
  }
  if (!found) {
    rc = FN_ERR_NO_DATA;
    goto fail;
  }
  uint8_t result = (uint8_t)(c.check_result & ~(DOC_2106_OISM_CHECKED | DOC_2106_OISM_VALID));
  result |= DOC_2106_OISM_CHECKED;
  if (a.status_answer == 1 && a.processing_code == 0) result |= DOC_2106_OISM_VALID;
  sqlite3_stmt *s = st(e, S_KM_ANSWER);
  if (bind_blob(s, 1, c.km, c.km_len) || bind_int(s, 2, result)) {
    rc = FN_ERR_IO;
    goto fail;
  }
  if ((rc = run(s)) != 0) goto fail;
  if ((rc = tx_commit(e)) != 0) goto fail;
  memset(out, 0, sizeof *out);
  out->check_result = result;
  out->tail_status = c.tail_status;
  out->km_type = c.km_type;
  return 0;
fail:
  tx_rollback(e);
  return rc;
}

static int emu_km_accept(void *self, const char *km, size_t km_len, bool accept)
{
  emu_t *e = self;
  meta_t m;
  checked_t c;
  bool found = false;
  int rc;
  if ((rc = tx_begin_light(e)) != 0) return rc;
  if ((rc = meta_load(e, &m)) != 0) goto end;
  if ((rc = marking_state(&m)) != 0) goto end;
  if ((rc = checked_find(e, km, km_len, &found, &c)) != 0) goto end;
  if (!found) {
    rc = FN_ERR_NO_DATA;
    goto end;
  }
  if ((rc = item_has_km(e, km, km_len, &found)) != 0) goto end;
  if (found) {
    /* Already a line of the open receipt: accepting again changes
    ** nothing; declining would leave the receipt with an unchecked code
    ** (cancel the receipt instead). */
    rc = accept ? 0 : FN_ERR_STATE;
  } else {
    sqlite3_stmt *s = st(e, accept ? S_KM_ACCEPT : S_KM_DELETE);
    if ((rc = bind_blob(s, 1, km, km_len)) != 0) goto end;
    if ((rc = run(s)) != 0) goto end;
  }
end:
  return tx_end(e, rc);
}

/* Reads a documents row (number, type, time, tlv, acknowledged, queued). */
static int document_read(sqlite3_stmt *s, fn_document_t *out)
{
  out->number = col_u32(s, 0);
  out->type = (uint16_t)col_u32(s, 1);
  out->time = col_u32(s, 2);
  out->acknowledged = sqlite3_column_int(s, 4) != 0;
  out->queued = sqlite3_column_int(s, 5) != 0;
  return col_blob(s, 3, out->data, sizeof out->data, &out->len);
}

static int document_query(emu_t *e, sqlite3_stmt *s, fn_document_t *out)
{
  bool found = false;
  int rc = fetch(s, &found);
  if (rc == 0 && !found) rc = FN_ERR_NO_DATA;
  if (rc == 0) rc = document_read(s, out);
  sqlite3_reset(s);
  (void)e;
  return rc;
}

static int emu_document_next_unsent(void *self, fn_document_t *out)
{
  emu_t *e = self;
  return document_query(e, st(e, S_DOC_NEXT_UNSENT), out);
}

static int emu_document_get(void *self, uint32_t number, fn_document_t *out)
{
  emu_t *e = self;
  sqlite3_stmt *s = st(e, S_DOC_GET);
  if (bind_int(s, 1, number) != 0) return FN_ERR_IO;
  return document_query(e, s, out);
}

/*
** Group commits (fn.h): a refusal is the answer's fault and leaves the
** entries before it standing, so they are committed; a failure of the
** file is the FN's and undoes the lot. The single calls are batches of
** one, so the rules live in one place.
*/
static bool refusal(int rc)
{
  return rc == FN_ERR_VALUE || rc == FN_ERR_NO_DATA || rc == FN_ERR_STATE ||
         rc == FN_ERR_OFD_ANSWER;
}

/*
** The OFD link (issue 15). An acknowledgement clears a document only when
** the FN can trust it, as a real FN checks the operator's sign before it
** marks anything delivered: 1017 must be the OFD the FN is registered
** with, and 1078 must be what fn_emu_operator_sign() makes with the key
** the OFD shared (fn_emu_share_ofd_key; kassa-operator does it at `fn add`)
** over this acknowledgement and the document's own 1077. The key and the
** count of refused acknowledgements live in their own one-row table,
** ofd_link, made at open when missing (a file from before keeps its schema
** version: the table is additive). Decisions [open]: the real FN's ФПО
** check is its crypto, not public; ours is HMAC-Streebog-256 with a key
** per FN, so one FN's key cannot forge another's acknowledgements.
*/
static const char ofd_link_schema[] = "CREATE TABLE IF NOT EXISTS ofd_link ("
                                      " id INTEGER PRIMARY KEY CHECK (id = 1),"
                                      " inn TEXT NOT NULL DEFAULT '',"
                                      " key BLOB,"
                                      " shared_at INTEGER NOT NULL DEFAULT 0,"
                                      " refused INTEGER NOT NULL DEFAULT 0,"
                                      " refused_document INTEGER NOT NULL DEFAULT 0,"
                                      " refused_reason INTEGER NOT NULL DEFAULT 0,"
                                      " refused_at INTEGER NOT NULL DEFAULT 0)";

typedef struct ofd_link {
  bool has_key;
  char inn[13];
  uint8_t key[FN_EMU_OFD_KEY_SIZE];
  uint32_t refused, refused_document, refused_at;
  int refused_reason;
} ofd_link_t;

/* The ofd_link row (all zero when there is none), inside the caller's
** transaction. */
static int ofd_link_load(emu_t *e, ofd_link_t *l)
{
  sqlite3_stmt *s = st(e, S_OFD_LINK_GET);
  bool found = false;
  size_t len = 0;
  int rc;
  memset(l, 0, sizeof *l);
  if ((rc = fetch(s, &found)) != 0 || !found) goto done;
  if ((rc = col_text(s, 0, l->inn, sizeof l->inn)) != 0) goto done;
  if (sqlite3_column_type(s, 1) == SQLITE_BLOB) {
    if ((rc = col_blob(s, 1, l->key, sizeof l->key, &len)) != 0) goto done;
    l->has_key = len == sizeof l->key;
  }
  l->refused = (uint32_t)sqlite3_column_int64(s, 2);
  l->refused_document = (uint32_t)sqlite3_column_int64(s, 3);
  l->refused_reason = sqlite3_column_int(s, 4);
  l->refused_at = (uint32_t)sqlite3_column_int64(s, 5);
done:
  sqlite3_reset(s); /* the key leaves no copy in a pending row */
  return rc;
}

/* The link's part of fn_status, inside the caller's transaction. */
static int ofd_link_status(emu_t *e, fn_status_t *out)
{
  ofd_link_t l;
  int rc = ofd_link_load(e, &l);
  if (rc != 0) return rc;
  out->ofd_key_shared = l.has_key;
  out->ofd_answers_refused = l.refused;
  out->ofd_answer_refused_document = l.refused_document;
  out->ofd_answer_refused_reason = l.refused_reason;
  out->ofd_answer_refused_at = l.refused_at;
  explicit_bzero(&l, sizeof l);
  return 0;
}

/* Counts a refused acknowledgement in its own transaction: the group
** commit that refused it has ended (committed or rolled back). */
static int ofd_link_record(emu_t *e, uint32_t document, int reason)
{
  sqlite3_stmt *s = NULL;
  int rc;
  if ((rc = tx_begin(e, true)) != 0) return rc;
  if (sqlite3_prepare_v2(e->db,
                         "INSERT INTO ofd_link (id, refused, refused_document, refused_reason,"
                         " refused_at) VALUES (1, 1, ?1, ?2, ?3) ON CONFLICT (id) DO UPDATE SET"
                         " refused = refused + 1, refused_document = ?1, refused_reason = ?2,"
                         " refused_at = ?3",
                         -1, &s, NULL) != SQLITE_OK) {
    rc = FN_ERR_IO;
    goto fail;
  }
  if (bind_int(s, 1, document) || bind_int(s, 2, reason) || bind_int(s, 3, now_of(e))) {
    rc = FN_ERR_IO;
    goto fail;
  }
  if ((rc = run(s)) != 0) goto fail;
  sqlite3_finalize(s);
  return tx_commit(e);
fail:
  sqlite3_finalize(s);
  tx_rollback(e);
  return rc;
}

/* Whether acknowledgement a of a document whose sealed TLV is doc[0..len)
** can be trusted (the essay above); FN_ERR_OFD_ANSWER with the reason kept
** in e when not. */
static int ack_trust(emu_t *e, const meta_t *m, const doc_ack_t *a, const uint8_t *doc, size_t len)
{
  uint8_t expected[FN_EMU_OPERATOR_SIGN_SIZE];
  doc_summary_t sum;
  ofd_link_t l;
  int rc, reason = FN_ACK_REFUSAL_NONE;
  if ((rc = ofd_link_load(e, &l)) != 0) return rc;
  if (strcmp(a->ofd_inn, m->ofd_inn) != 0 || (l.has_key && strcmp(a->ofd_inn, l.inn) != 0))
    reason = FN_ACK_REFUSAL_OTHER_OFD;
  else if (!l.has_key)
    reason = FN_ACK_REFUSAL_NO_KEY;
  else if (doc_summarize(doc, len, &sum) != 0 || !sum.has_sign ||
           fn_emu_operator_sign(l.key, a, sum.sign, expected) != 0 ||
           a->operator_sign_len != sizeof expected ||
           !equal_bytes(expected, a->operator_sign, sizeof expected))
    reason = FN_ACK_REFUSAL_BAD_SIGN;
  explicit_bzero(&l, sizeof l);
  if (reason == FN_ACK_REFUSAL_NONE) return 0;
  e->refused_document = a->document_number;
  e->refused_reason = reason;
  return FN_ERR_OFD_ANSWER;
}

/* Ends a group commit that stopped at entry `at` with rc (0: all done):
** commits the entries before it, or rolls everything back. */
static int batch_end(emu_t *e, const meta_t *m, bool meta_changed, int rc, size_t at,
                     size_t *applied)
{
  int done = 0;
  *applied = 0;
  if (rc != 0 && !refusal(rc)) goto fail;
  if (at > 0) {
    if (meta_changed && (done = meta_store(e, m)) != 0) goto fail_with;
    if ((done = tx_commit(e)) != 0) goto fail_with;
    *applied = at;
    return rc;
  }
  tx_rollback(e); /* nothing applied: nothing to commit */
  return rc;
fail_with:
  rc = done;
fail:
  tx_rollback(e);
  return rc;
}

/* One acknowledgement inside the caller's transaction; moves m's count. */
static int ack_apply(emu_t *e, meta_t *m, const fn_bytes_t *answer, bool *changed)
{
  doc_ack_t a;
  bool found = false;
  int rc;
  size_t doc_len = 0;
  if (doc_parse_ack(answer->data, answer->len, &a) != 0) return FN_ERR_VALUE;
  /* A real OFD names the FN and the document in the container's header
  ** only; where both say, they must agree. */
  const char *header_fn = answer->fn_number ? answer->fn_number : "";
  if (!a.fn_number[0]) snprintf(a.fn_number, sizeof a.fn_number, "%s", header_fn);
  if (header_fn[0] && strcmp(a.fn_number, header_fn) != 0) return FN_ERR_VALUE;
  if (!a.document_number) a.document_number = answer->document_number;
  if (answer->document_number && a.document_number != answer->document_number) return FN_ERR_VALUE;
  if (a.document_number == 0) return FN_ERR_VALUE;                 /* names no document */
  if (strcmp(a.fn_number, m->fn_number) != 0) return FN_ERR_VALUE; /* another FN's */
  sqlite3_stmt *s = st(e, S_DOC_GET);
  if ((rc = bind_int(s, 1, a.document_number)) != 0) return rc;
  rc = fetch(s, &found);
  bool queued = found && sqlite3_column_int(s, 5) != 0;
  if (rc == 0 && found) rc = col_blob(s, 3, e->doc, sizeof e->doc, &doc_len);
  sqlite3_reset(s);
  if (rc != 0) return rc;
  if (!found) return FN_ERR_NO_DATA;
  if (!queued) return FN_ERR_STATE; /* an autonomous FN's document went to no OFD */
  /* 1022 other than 0: the OFD refused the document; it stays queued. */
  if (a.answer_code != 0) return FN_ERR_VALUE;
  /* The operator's sign and INN: nothing is cleared on an untrusted word. */
  if ((rc = ack_trust(e, m, &a, e->doc, doc_len)) != 0) return rc;
  /* Only an unacknowledged row changes: a second delivery is harmless. */
  s = st(e, S_DOC_ACK);
  if (bind_int(s, 1, a.document_number) || bind_int(s, 2, now_of(e))) return FN_ERR_IO;
  if ((rc = run(s)) != 0) return rc;
  if (sqlite3_changes(e->db) == 1) {
    if (m->unsent_documents == 0) return FN_ERR_FAILURE; /* counter and table disagree */
    m->unsent_documents--;
    *changed = true;
  }
  return 0;
}

/* One answer applied inside the caller's transaction (ack_apply,
** ticket_apply). */
typedef int (*answer_apply_t)(emu_t *e, meta_t *m, const fn_bytes_t *answer, bool *changed);

/* A group commit: the answers applied in order in one transaction. */
static int batch_apply(emu_t *e, answer_apply_t apply, const fn_bytes_t *list, size_t count,
                       size_t *applied)
{
  meta_t m;
  bool changed = false;
  size_t i = 0;
  int rc;
  *applied = 0;
  if ((rc = tx_begin(e, true)) != 0) return rc;
  if ((rc = meta_load(e, &m)) == 0) {
    for (i = 0; i < count; i++)
      if ((rc = apply(e, &m, &list[i], &changed)) != 0) break;
  }
  return batch_end(e, &m, changed, rc, i, applied);
}

static int emu_document_ack_batch(void *self, const fn_bytes_t *acks, size_t count, size_t *applied)
{
  emu_t *e = self;
  e->refused_reason = FN_ACK_REFUSAL_NONE;
  int rc = batch_apply(e, ack_apply, acks, count, applied);
  if (rc == FN_ERR_OFD_ANSWER && e->refused_reason != FN_ACK_REFUSAL_NONE) {
    int record = ofd_link_record(e, e->refused_document, e->refused_reason);
    if (record != 0) rc = record; /* the refusal must be seen: a disk fault says so */
  }
  return rc;
}

static int emu_document_ack(void *self, const uint8_t *doc7, size_t len)
{
  fn_bytes_t one = {.data = doc7, .len = len};
  size_t applied = 0;
  return emu_document_ack_batch(self, &one, 1, &applied);
}

/* Reads a notification row (number, receipt_number, time, tlv) from a
** query about to step; FN_ERR_NO_DATA when it has none. */
static int notification_query(sqlite3_stmt *s, fn_notification_t *out)
{
  bool found = false;
  int rc = fetch(s, &found);
  if (rc == 0 && !found) rc = FN_ERR_NO_DATA;
  if (rc == 0) {
    out->number = col_u32(s, 0);
    out->receipt_number = col_u32(s, 1);
    out->time = col_u32(s, 2);
    rc = col_blob(s, 3, out->data, sizeof out->data, &out->len);
  }
  sqlite3_reset(s);
  return rc;
}

static int emu_notification_next(void *self, fn_notification_t *out)
{
  emu_t *e = self;
  return notification_query(st(e, S_NOTE_NEXT), out);
}

static int emu_notification_next_after(void *self, uint32_t after, fn_notification_t *out)
{
  emu_t *e = self;
  sqlite3_stmt *s = st(e, S_NOTE_NEXT_AFTER);
  if (bind_int(s, 1, after) != 0) return FN_ERR_IO;
  return notification_query(s, out);
}

static int emu_notifications_exported(void *self, uint32_t through)
{
  emu_t *e = self;
  meta_t m;
  uint32_t waiting = 0;
  int rc;
  if ((rc = tx_begin(e, true)) != 0) return rc;
  if ((rc = meta_load(e, &m)) != 0) goto end;
  if (through > m.last_notification) {
    rc = FN_ERR_NO_DATA; /* the FN never made that notification */
    goto end;
  }
  if (through > m.exported_through) {
    /* The unticketed ones the mark passes over leave the batch clock. */
    sqlite3_stmt *s = st(e, S_NOTE_COUNT_UNTICKETED);
    bool found = false;
    if (bind_int(s, 1, m.exported_through) || bind_int(s, 2, through)) {
      rc = FN_ERR_IO;
      goto end;
    }
    if ((rc = fetch(s, &found)) != 0) goto end;
    waiting = found ? col_u32(s, 0) : 0;
    sqlite3_reset(s);
    if (waiting > m.unexported_notifications) {
      rc = FN_ERR_FAILURE; /* the counter disagrees with the table: damaged */
      goto end;
    }
    m.unexported_notifications -= waiting;
    m.exported_through = through;
    m.exported_at = now_of(e);
    if ((rc = meta_store(e, &m)) != 0) goto end;
  }
end:
  return tx_end(e, rc);
}

static int emu_sign_blob(void *self, const uint8_t *data, size_t len, uint8_t mac[FN_BLOB_MAC_SIZE])
{
  emu_t *e = self;
  return fn_emu_blob_mac(e->secret, data, len, mac);
}

/* One ticket inside the caller's transaction; moves m's counts. */
static int ticket_apply(emu_t *e, meta_t *m, const fn_bytes_t *answer, bool *changed)
{
  const uint8_t *doc84 = answer->data;
  size_t len = answer->len;
  doc_km_ticket_t t;
  bool found = false;
  int rc;
  if (doc_parse_km_ticket(doc84, len, &t) != 0) return FN_ERR_VALUE;
  /* The ticket names its notification; the container's header names the
  ** FN (and the notification) it answers. An answer about another FN's
  ** notification (a header damaged on the way, and answered as an unknown
  ** FN's) would otherwise clear one of ours it never applied. */
  if (answer->fn_number && answer->fn_number[0] && strcmp(answer->fn_number, m->fn_number) != 0)
    return FN_ERR_VALUE;
  if (answer->document_number && answer->document_number != t.notification_number)
    return FN_ERR_VALUE;
  sqlite3_stmt *s = st(e, S_NOTE_STATE);
  if ((rc = bind_int(s, 1, t.notification_number)) != 0) return rc;
  rc = fetch(s, &found);
  sqlite3_reset(s);
  if (rc != 0) return rc;
  if (!found) return FN_ERR_NO_DATA;
  /* Any ticket clears the notification: 2111 = 1 means the OISM read it
  ** and found it bad, which resending would not change. The result is
  ** kept in the row. A second ticket changes nothing. */
  s = st(e, S_NOTE_TICKET);
  if (bind_int(s, 1, t.notification_number) || bind_int(s, 2, t.result) ||
      bind_int(s, 3, now_of(e)))
    return FN_ERR_IO;
  if ((rc = run(s)) != 0) return rc;
  if (sqlite3_changes(e->db) == 1) {
    bool unexported = t.notification_number > m->exported_through;
    if (m->unsent_notifications == 0 || (unexported && m->unexported_notifications == 0))
      return FN_ERR_FAILURE; /* counters and table disagree: damaged */
    m->unsent_notifications--;
    if (unexported) m->unexported_notifications--;
    *changed = true;
  }
  return 0;
}

static int emu_notification_ticket_batch(void *self, const fn_bytes_t *tickets, size_t count,
                                         size_t *applied)
{
  return batch_apply(self, ticket_apply, tickets, count, applied);
}

static int emu_notification_ticket(void *self, const uint8_t *doc84, size_t len)
{
  fn_bytes_t one = {.data = doc84, .len = len};
  size_t applied = 0;
  return emu_notification_ticket_batch(self, &one, 1, &applied);
}

static int emu_key_update(void *self, const fn_key_t *keys, size_t count, uint32_t when)
{
  emu_t *e = self;
  meta_t m;
  int rc;
  if (when == 0) when = now_of(e);
  /* A GOST key the FN could not read would fail every check later: refuse
  ** the whole update now. */
  for (size_t i = 0; i < count; i++) {
    if (keys[i].kind != FN_KEY_GOST) continue;
    crypto_key_t *key = NULL;
    rc = crypto_key_import(CRYPTO_KEY_PUBLIC, CRYPTO_KEY_DER, keys[i].material, keys[i].len, &key);
    crypto_key_free(key);
    if (rc == CRYPTO_ERR_NOT_INITIALIZED) return FN_ERR_FAILURE;
    if (rc != 0) return FN_ERR_VALUE;
  }
  if ((rc = tx_begin(e, true)) != 0) return rc;
  if ((rc = meta_load(e, &m)) != 0) goto end;
  if (m.phase == FN_PHASE_POST) {
    rc = FN_ERR_STATE;
    goto end;
  }
  for (size_t i = 0; i < count; i++) {
    char id[5];
    memcpy(id, keys[i].id, 4);
    id[4] = '\0';
    sqlite3_stmt *s = st(e, S_KEY_UPSERT);
    if (bind_text(s, 1, id) || bind_int(s, 2, keys[i].kind) ||
        bind_blob(s, 3, keys[i].material, keys[i].len) || bind_int(s, 4, when)) {
      rc = FN_ERR_IO;
      goto end;
    }
    if ((rc = run(s)) != 0) goto end;
  }
  if (when > m.keys_updated_at) m.keys_updated_at = when;
  rc = meta_store(e, &m);
end:
  return tx_end(e, rc);
}

static void emu_destroy(void *self)
{
  emu_t *e = self;
  if (!e) return;
  for (int i = 0; i < S__COUNT; i++) sqlite3_finalize(e->stmt[i]);
  sqlite3_close(e->db); /* the last connection checkpoints the WAL */
  explicit_bzero(e->secret, sizeof e->secret);
  free(e);
}

static const fn_backend_t emu_backend = {
    .name = "emulator",
    .status = emu_status,
    .register_kkt = emu_register,
    .shift_open = emu_shift_open,
    .shift_close = emu_shift_close,
    .state_report = emu_state_report,
    .fn_close = emu_fn_close,
    .receipt_begin = emu_receipt_begin,
    .receipt_add = emu_receipt_add,
    .receipt_close = emu_receipt_close,
    .receipt_cancel = emu_receipt_cancel,
    .km_check = emu_km_check,
    .km_answer = emu_km_answer,
    .km_accept = emu_km_accept,
    .document_next_unsent = emu_document_next_unsent,
    .document_ack = emu_document_ack,
    .document_get = emu_document_get,
    .notification_next = emu_notification_next,
    .notification_ticket = emu_notification_ticket,
    .key_update = emu_key_update,
    .destroy = emu_destroy,
    .notification_next_after = emu_notification_next_after,
    .notifications_exported = emu_notifications_exported,
    .sign_blob = emu_sign_blob,
    .document_ack_batch = emu_document_ack_batch,
    .notification_ticket_batch = emu_notification_ticket_batch,
    .correction_close = emu_correction_close,
    .totals = emu_totals,
    .receipt_close_paid = emu_receipt_close_paid,
    .receipt_make = emu_receipt_make,
};

/* ---------------------------------------------------------------------- */
/* Public entry points                                                     */

/* KASSA_FAKE_NOW (test-only): FFD seconds, read here and nowhere else. */
static bool fake_now(uint32_t *out)
{
  const char *text = getenv("KASSA_FAKE_NOW");
  char *end = NULL;
  if (!text || !*text) return false;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || *end || text[0] == '-' || v > UINT32_MAX) {
    /* A test that sets it wrong must not run on the real clock unnoticed. */
    fprintf(stderr, "fn_emu: KASSA_FAKE_NOW='%s' is not FFD seconds (0..4294967295)\n", text);
    abort();
  }
  *out = (uint32_t)v;
  return true;
}

uint32_t fn_emu_system_clock(void *user)
{
  struct tm tm;
  time_t t = time(NULL);
  uint32_t fake = 0;
  (void)user;
  if (fake_now(&fake)) return fake;
  /* FFD writes local time as if it were UTC: add the zone's offset. */
  if (!localtime_r(&t, &tm)) return (uint32_t)t;
  long long local = (long long)t + tm.tm_gmtoff;
  return local < 0 ? 0 : (uint32_t)local;
}

uint8_t fn_emu_system_timezone(void)
{
  struct tm tm;
  time_t t = time(NULL);
  if (!localtime_r(&t, &tm)) return 0;
  return doc_timezone_of_offset((int32_t)tm.tm_gmtoff);
}

static bool fn_number_ok(const char *fn_number)
{
  if (!fn_number || strlen(fn_number) != 16) return false;
  for (size_t i = 0; i < 16; i++) {
    if (fn_number[i] < '0' || fn_number[i] > '9') return false;
  }
  return true;
}

static int random_fill(uint8_t *out, size_t len)
{
  size_t done = 0;
  while (done < len) {
    ssize_t n = getrandom(out + done, len - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FN_ERR_FAILURE;
    }
    done += (size_t)n;
  }
  return 0;
}

/* Removes a half-created FN file and its WAL companions. */
static void remove_files(const char *path)
{
  size_t n = strlen(path);
  char *side = malloc(n + 5);
  unlink(path);
  if (!side) return;
  memcpy(side, path, n);
  memcpy(side + n, "-wal", 5);
  unlink(side);
  memcpy(side + n, "-shm", 5);
  unlink(side);
  free(side);
}

/* fn_emu_create and fn_emu_create_with_secret: pinned NULL means a fresh
** random secret. */
static int create_fn_file(const char *path, const char *fn_number, const uint8_t *pinned);

int fn_emu_create(const char *path, const char *fn_number)
{
  return create_fn_file(path, fn_number, NULL);
}

int fn_emu_create_with_secret(const char *path, const char *fn_number,
                              const uint8_t secret[FN_EMU_SECRET_SIZE])
{
  if (!secret) return FN_ERR_PARAMS;
  return create_fn_file(path, fn_number, secret);
}

static int create_fn_file(const char *path, const char *fn_number, const uint8_t *pinned)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  uint8_t secret[FN_EMU_SECRET_SIZE];
  bool created = false;
  int rc;
  db_process_setup();
  if (!path || !fn_number_ok(fn_number)) return FN_ERR_PARAMS;
  /* O_EXCL: an existing FN is never overwritten. The file is made here,
  ** 0600, before SQLite opens it, so the secret is never readable by
  ** others; SQLite gives its -wal and -shm files the same mode. */
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno == EEXIST ? FN_ERR_STATE : FN_ERR_IO;
  created = true;
  rc = fchmod(fd, 0600) == 0 ? 0 : FN_ERR_IO;
  close(fd);
  if (rc != 0) goto fail;
  if (pinned)
    memcpy(secret, pinned, sizeof secret);
  else if ((rc = random_fill(secret, sizeof secret)) != 0)
    goto fail;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    rc = FN_ERR_IO;
    goto fail;
  }
  /* 512-byte pages, set while the file is empty (WAL fixes it after): a
  ** commit writes one WAL frame per page it changed, whatever it changed
  ** in it, and a receipt changes about 25 pages (the sealed document, its
  ** notification, the counters, the checked codes, the open receipt):
  ** 15 KiB a receipt against 100 KiB with 4 KiB pages (bench/till_bench;
  ** 1 KiB pages gave 27 KiB, 2 KiB 52). Files made before keep theirs. */
  if ((rc = exec_plain(db, "PRAGMA page_size = 512")) != 0) goto fail;
  if ((rc = configure(db)) != 0) goto fail;
  if ((rc = exec_plain(db, "BEGIN IMMEDIATE")) != 0) goto fail;
  for (size_t i = 0; i < sizeof schema / sizeof schema[0]; i++) {
    if ((rc = exec_plain(db, schema[i])) != 0) goto fail;
  }
  rc = sqlite3_prepare_v2(db,
                          "INSERT INTO meta (id, schema_version, fn_number, secret, phase)"
                          " VALUES (1, ?1, ?2, ?3, ?4)",
                          -1, &s, NULL);
  if (rc != SQLITE_OK) {
    rc = db_error(rc);
    goto fail;
  }
  if (bind_int(s, 1, SCHEMA_VERSION) || bind_text(s, 2, fn_number) ||
      bind_blob(s, 3, secret, sizeof secret) || bind_int(s, 4, FN_PHASE_READY)) {
    rc = FN_ERR_IO;
    goto fail;
  }
  if ((rc = run(s)) != 0) goto fail;
  if ((rc = exec_plain(db, "COMMIT")) != 0) goto fail;
  sqlite3_finalize(s);
  explicit_bzero(secret, sizeof secret);
  if (sqlite3_close(db) != SQLITE_OK) return FN_ERR_IO;
  return 0;
fail:
  sqlite3_finalize(s);
  sqlite3_close(db);
  explicit_bzero(secret, sizeof secret);
  if (created) remove_files(path);
  return rc;
}

/*
** Version 1 files (before batches) get the export columns: nothing was
** exported, so every unticketed notification is unexported. One
** transaction: a crash leaves the file at version 1, upgraded next time.
*/
static int schema_upgrade_1(sqlite3 *db)
{
  static const char *const steps[] = {
      "ALTER TABLE meta ADD COLUMN exported_through INTEGER NOT NULL DEFAULT 0",
      "ALTER TABLE meta ADD COLUMN exported_at INTEGER NOT NULL DEFAULT 0",
      "ALTER TABLE meta ADD COLUMN unexported_notifications INTEGER NOT NULL DEFAULT 0",
      "UPDATE meta SET unexported_notifications = unsent_notifications, schema_version = 2",
  };
  int rc = exec_plain(db, "BEGIN IMMEDIATE");
  for (size_t i = 0; rc == 0 && i < sizeof steps / sizeof steps[0]; i++)
    rc = exec_plain(db, steps[i]);
  if (rc == 0) rc = exec_plain(db, "COMMIT");
  if (rc != 0 && !sqlite3_get_autocommit(db)) (void)exec_plain(db, "ROLLBACK");
  return rc;
}

/* The file's schema version (0: not an FN file). */
static int schema_version_of(sqlite3 *db, int *version)
{
  sqlite3_stmt *s = NULL;
  bool found = false;
  *version = 0;
  if (sqlite3_prepare_v2(db, "SELECT schema_version FROM meta WHERE id = 1", -1, &s, NULL) !=
      SQLITE_OK)
    return 0; /* a database, but not an FN's */
  int rc = fetch(s, &found);
  if (rc == 0 && found) *version = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  return rc;
}

int fn_emu_open(const char *path, const fn_emu_options_t *options, fn_t **out)
{
  emu_t *e = NULL;
  fn_t *fn = NULL;
  sqlite3_stmt *s = NULL;
  uint8_t probe[CRYPTO_STREEBOG256_SIZE] = {0};
  bool found = false;
  size_t len = 0;
  int rc;
  if (!out) return FN_ERR_PARAMS;
  *out = NULL;
  if (!path) return FN_ERR_PARAMS;
  /* Signing needs the GOST engine: say so now, not at the first receipt. */
  if (crypto_hmac_streebog256(probe, 0, probe, 0, probe) != 0) return FN_ERR_FAILURE;
  e = calloc(1, sizeof *e);
  fn = calloc(1, sizeof *fn);
  if (!e || !fn) {
    rc = FN_ERR_NO_MEMORY;
    goto fail;
  }
  e->clock = options && options->clock ? options->clock : fn_emu_system_clock;
  /* 1011: given, or (on the system clock) the machine's zone, [till] timezone. */
  if (options && options->timezone)
    e->timezone = options->timezone;
  else if (e->clock == fn_emu_system_clock)
    e->timezone = fn_emu_system_timezone();
  e->clock_user = options ? options->clock_user : NULL;
  e->km_capacity = options && options->checked_km_capacity ? options->checked_km_capacity
                                                           : FN_EMU_DEFAULT_KM_CAPACITY;
  e->notification_capacity = options && options->notification_capacity
                                 ? options->notification_capacity
                                 : FN_EMU_DEFAULT_NOTIFICATION_CAPACITY;
  db_process_setup();
  /* NOMUTEX: an fn_t is used by one thread at a time (kassa serve's
  ** requests under the service's lock; its sender opens its own), so
  ** SQLite need not lock at every call (the code cache does the same). */
  if (sqlite3_open_v2(path, &e->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
      SQLITE_OK) {
    rc = FN_ERR_IO;
    goto fail;
  }
  if ((rc = configure(e->db)) != 0) goto fail;
  int version = 0;
  if ((rc = schema_version_of(e->db, &version)) != 0) goto fail;
  if (version == 1 && (rc = schema_upgrade_1(e->db)) != 0) goto fail;
  if (version != 0 && (rc = exec_plain(e->db, ofd_link_schema)) != 0) goto fail;
  /* The open receipt's extra line requisites (agent, fraction): a table
  ** any version takes without an upgrade. */
  if (version >= 1 && (rc = exec_plain(e->db, "CREATE TABLE IF NOT EXISTS open_extras (line "
                                              "INTEGER PRIMARY KEY, tlv BLOB NOT NULL)")) != 0)
    goto fail;
  rc = sqlite3_prepare_v2(e->db, "SELECT schema_version, secret FROM meta WHERE id = 1", -1, &s,
                          NULL);
  if (rc != SQLITE_OK) {
    rc = FN_ERR_FAILURE; /* a database, but not an FN's */
    goto fail;
  }
  if ((rc = fetch(s, &found)) != 0) goto fail;
  if (!found || sqlite3_column_int(s, 0) != SCHEMA_VERSION) {
    rc = FN_ERR_FAILURE;
    goto fail;
  }
  if ((rc = col_blob(s, 1, e->secret, sizeof e->secret, &len)) != 0) goto fail;
  if (len != sizeof e->secret) {
    rc = FN_ERR_FAILURE;
    goto fail;
  }
  sqlite3_finalize(s);
  s = NULL;
  for (int i = 0; i < S__COUNT; i++) {
    if (sqlite3_prepare_v3(e->db, statements[i], -1, SQLITE_PREPARE_PERSISTENT, &e->stmt[i],
                           NULL) != SQLITE_OK) {
      rc = FN_ERR_FAILURE;
      goto fail;
    }
  }
  fn->backend = &emu_backend;
  fn->self = e;
  *out = fn;
  return 0;
fail:
  sqlite3_finalize(s);
  emu_destroy(e);
  free(fn);
  return rc;
}

int fn_emu_read_secret(const char *path, uint8_t secret[FN_EMU_SECRET_SIZE], char fn_number[17])
{
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  bool found = false;
  size_t len = 0;
  int rc;
  if (!path || !secret || !fn_number) return FN_ERR_PARAMS;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    rc = FN_ERR_IO;
    goto fail;
  }
  sqlite3_busy_timeout(db, BUSY_TIMEOUT);
  if (sqlite3_prepare_v2(db, "SELECT secret, fn_number FROM meta WHERE id = 1", -1, &s, NULL) !=
      SQLITE_OK) {
    rc = FN_ERR_IO;
    goto fail;
  }
  if ((rc = fetch(s, &found)) != 0) goto fail;
  if (!found) {
    rc = FN_ERR_NO_DATA;
    goto fail;
  }
  if ((rc = col_blob(s, 0, secret, FN_EMU_SECRET_SIZE, &len)) != 0) goto fail;
  if (len != FN_EMU_SECRET_SIZE) {
    rc = FN_ERR_FAILURE;
    goto fail;
  }
  if ((rc = col_text(s, 1, fn_number, 17)) != 0) goto fail;
fail:
  sqlite3_finalize(s);
  sqlite3_close(db);
  return rc;
}

int fn_emu_blob_mac(const uint8_t secret[FN_EMU_SECRET_SIZE], const uint8_t *data, size_t len,
                    uint8_t mac[FN_BLOB_MAC_SIZE])
{
  static const uint8_t prefix[] = FN_EMU_BLOB_PREFIX;
  uint8_t *buf = NULL;
  int rc;
  if (!secret || !mac || (!data && len > 0)) return FN_ERR_PARAMS;
  if (len > SIZE_MAX - sizeof prefix) return FN_ERR_PARAMS;
  /* crypto.h has a one-shot HMAC only: prefix and data go in one buffer. */
  buf = malloc(sizeof prefix + len);
  if (!buf) return FN_ERR_NO_MEMORY;
  memcpy(buf, prefix, sizeof prefix); /* the prefix's NUL included */
  if (len) memcpy(buf + sizeof prefix, data, len);
  rc = crypto_hmac_streebog256(secret, FN_EMU_SECRET_SIZE, buf, sizeof prefix + len, mac) == 0
           ? 0
           : FN_ERR_FAILURE;
  free(buf);
  return rc;
}

int fn_emu_verify_sign(const uint8_t secret[FN_EMU_SECRET_SIZE], const uint8_t *doc, size_t len)
{
  uint8_t sign[DOC_SIGN_SIZE];
  uint8_t mac[CRYPTO_STREEBOG256_SIZE];
  uint8_t *part = NULL;
  size_t part_len = 0;
  int rc;
  if (!secret || !doc || len == 0 || len > DOC_MAX_DOCUMENT) return FN_ERR_PARAMS;
  part = malloc(len);
  if (!part) return FN_ERR_NO_MEMORY;
  if (doc_signed_part(doc, len, part, len, &part_len, sign) != 0) {
    rc = FN_ERR_VALUE; /* no sign, or not a document */
    goto fail;
  }
  if (crypto_hmac_streebog256(secret, FN_EMU_SECRET_SIZE, part, part_len, mac) != 0) {
    rc = FN_ERR_FAILURE;
    goto fail;
  }
  rc = equal_bytes(mac, sign, DOC_SIGN_SIZE) ? 0 : FN_ERR_VALUE;
fail:
  free(part);
  return rc;
}

int fn_emu_operator_sign(const uint8_t key[FN_EMU_OFD_KEY_SIZE], const doc_ack_t *a,
                         const uint8_t document_sign[DOC_SIGN_SIZE],
                         uint8_t out[FN_EMU_OPERATOR_SIGN_SIZE])
{
  static const uint8_t prefix[] = FN_EMU_OPERATOR_SIGN_PREFIX;
  uint8_t buf[sizeof prefix + 16 + 12 + 4 + 4 + 1 + DOC_SIGN_SIZE];
  uint8_t mac[CRYPTO_STREEBOG256_SIZE];
  size_t n = 0;
  int rc;
  if (!key || !a || !document_sign || !out) return FN_ERR_PARAMS;
  memcpy(buf, prefix, sizeof prefix); /* its NUL included */
  n = sizeof prefix;
  /* Fixed-width fields, NUL-padded, so no two acknowledgements share bytes. */
  memset(buf + n, 0, 16 + 12);
  memcpy(buf + n, a->fn_number, strnlen(a->fn_number, 16));
  n += 16;
  memcpy(buf + n, a->ofd_inn, strnlen(a->ofd_inn, 12));
  n += 12;
  for (int i = 0; i < 4; i++) buf[n++] = (uint8_t)(a->document_number >> (8 * i));
  for (int i = 0; i < 4; i++) buf[n++] = (uint8_t)(a->time >> (8 * i));
  buf[n++] = a->answer_code;
  memcpy(buf + n, document_sign, DOC_SIGN_SIZE);
  n += DOC_SIGN_SIZE;
  rc = crypto_hmac_streebog256(key, FN_EMU_OFD_KEY_SIZE, buf, n, mac) == 0 ? 0 : FN_ERR_FAILURE;
  if (rc == 0) memcpy(out, mac, FN_EMU_OPERATOR_SIGN_SIZE);
  explicit_bzero(mac, sizeof mac);
  return rc;
}

int fn_emu_share_ofd_key(const char *path, const char *ofd_inn,
                         const uint8_t key[FN_EMU_OFD_KEY_SIZE])
{
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  int version = 0, rc;
  size_t inn_len = ofd_inn ? strlen(ofd_inn) : 0;
  if (!path || !key || inn_len < 10 || inn_len > 12) return FN_ERR_PARAMS;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    rc = FN_ERR_IO;
    goto fail;
  }
  sqlite3_busy_timeout(db, BUSY_TIMEOUT);
  if ((rc = schema_version_of(db, &version)) != 0) goto fail;
  if (version == 0) {
    rc = FN_ERR_FAILURE; /* a database, but not an FN's */
    goto fail;
  }
  if ((rc = exec_plain(db, ofd_link_schema)) != 0) goto fail;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO ofd_link (id, inn, key, shared_at) VALUES (1, ?1, ?2, ?3)"
                         " ON CONFLICT (id) DO UPDATE SET inn = ?1, key = ?2, shared_at = ?3",
                         -1, &s, NULL) != SQLITE_OK) {
    rc = FN_ERR_IO;
    goto fail;
  }
  if (bind_text(s, 1, ofd_inn) || bind_blob(s, 2, key, FN_EMU_OFD_KEY_SIZE) ||
      bind_int(s, 3, (int64_t)time(NULL))) {
    rc = FN_ERR_IO;
    goto fail;
  }
  rc = run(s); /* one statement: its own transaction, synchronous=FULL */
fail:
  sqlite3_finalize(s);
  sqlite3_close(db);
  return rc;
}
