/*
** sale.c: the basket in DATA/till.db and the atomic close (see sale.h for
** why the close is ordered as it is and how a crash is repaired).
**
** The basket is two tables: `basket` (at most one row: the open receipt,
** and `closing_after`, the FN's last document number when the close began,
** 0 while the cashier is still scanning) and `line` (its lines, explicit
** columns, so a newer program reads an older basket). Every change is one
** SQLite transaction, committed without a flush (see the schema's comment:
** the FN's archive decides after a power cut), through statements compiled
** once for the till's life (t->basket_stmts). What a load read is kept
** (sale_kept_t) and used while till.db's data version says no commit came
** since, but a scan's own, which keeps it true itself.
*/
#include "pos/till/sale.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/db.h"
#include "common/errtab.h"
#include "pos/till/fiscal_text.h"
#include "pos/till/lane_store.h"
#include "pos/till/money.h"
#include "pos/till/state_internal.h"
#include "scanner/markcode.h"

static const errtab_t errors[] = {
    {SALE_OK, "ok", "Готово.", "Done."},
    {SALE_ERR_ARGUMENT, "argument", "Неверные данные запроса (количество, цена или код).",
     "Bad request data (quantity, price or code)."},
    {SALE_ERR_NO_RECEIPT, "no_receipt", "Чек не открыт.", "No receipt is open."},
    {SALE_ERR_OPEN, "receipt_open", "Чек уже открыт: закройте или отмените его.",
     "A receipt is already open: close or cancel it."},
    {SALE_ERR_REFUSED, "refused", "Товар не прошёл проверку.", "The good did not pass the check."},
    {SALE_ERR_NO_LINE, "no_line", "Такой позиции в чеке нет.", "No such line in the receipt."},
    {SALE_ERR_PAYMENT, "payment", "Сумма оплаты не равна сумме чека.",
     "The payment does not equal the receipt total."},
    {SALE_ERR_FN, "fn", "Фискальный накопитель отказал.", "The fiscal storage refused."},
    {SALE_ERR_STORAGE, "storage", "Ошибка записи на диск кассы.", "The till's disk failed."},
    {SALE_ERR_FULL, "full", "В чеке уже 100 позиций: закройте его.",
     "The receipt already has 100 lines: close it."},
    {SALE_ERR_EMPTY, "empty", "В чеке нет позиций.", "The receipt has no lines."},
    {SALE_ERR_WRONG_KIND, "wrong_operation", "Эта позиция не подходит для этого чека.",
     "This line does not fit this receipt."},
    {SALE_ERR_PRICE_NEEDS_MANAGER, "price_needs_manager",
     "Цена не совпадает с ценой справочника: нужен PIN менеджера.",
     "The price differs from the catalogue's: the manager PIN is needed."},
    {SALE_ERR_PRICE_CEILING, "price_ceiling", "Цена выше предела кассы ([till] price_max_rub).",
     "The price is above the till's ceiling ([till] price_max_rub)."},
    {SALE_ERR_QUANTITY_CEILING, "quantity_ceiling",
     "Количество выше предела кассы ([till] quantity_max, weight_max_kg).",
     "The quantity is above the till's ceiling ([till] quantity_max, weight_max_kg)."},
    {SALE_ERR_REFUND_ABOVE_SALE, "refund_above_sale",
     "Возврат дороже, чем товар был продан: верните не больше цены продажи.",
     "The refund is above the price the good was sold for: refund at most that."},
    {SALE_ERR_RETURN_UNITS, "return_units",
     "Столько единиц этого товара (или денег по этой строке чека продажи) не осталось: "
     "их не продавали или уже вернули.",
     "Not that many units of this good (or that much money on this sale line) are left: "
     "never sold, or returned already."},
    {SALE_ERR_SALE_NOT_FOUND, "sale_not_found",
     "Нет чека продажи с таким ФД в архиве ФН: укажите ФД чека продажи.",
     "No sale receipt with that FD in the FN archive: name the sale receipt's FD."},
    {SALE_ERR_SALE_LINE, "sale_line", "В этой строке чека продажи нет этого маркированного товара.",
     "That line of the sale receipt is not this marked good."},
    ERRTAB_END("Неизвестная ошибка.", "Unknown error."),
};

const char *sale_err_name(int err) { return errtab_name(errors, err); }

const char *sale_err_message(int err, bool russian) { return errtab_message(errors, err, russian); }

int till_sale_fn_error(const till_t *t) { return t ? t->last_fn_error : 0; }

/* ---- storage --------------------------------------------------------------- */

/* The basket is working state, not fiscal truth: every commit goes to the
** WAL without waiting for the disk (a killed process loses nothing; a power
** cut may lose the last scans, which the cashier sees and rescans), the
** closing mark too. What decides after a crash whether the basket was sold
** is the FN's archive: `opened_after` is the FN's last document (global
** numbering, cache_fn_bind) when the basket opened, and only the basket
** makes receipts, so a receipt after it is the basket's (sale_recover;
** docs/ARCHITECTURE.md, "One flush per receipt"). Pages of 512 bytes
** (new files) and a checkpoint every 1 000 of them: a commit writes a WAL
** frame per page it changed, so small pages write a scan in a sixth of
** the bytes 4 KiB ones did, and a short WAL keeps SQLite's WAL index from
** probing past every earlier frame of the basket's hot pages (fn_emu.c,
** configure). */
static const char schema[] =
    "PRAGMA page_size=512;"
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA wal_autocheckpoint=1000;"
    "CREATE TABLE IF NOT EXISTS basket(k INTEGER PRIMARY KEY CHECK (k = 1), operation INTEGER,"
    " cashier TEXT, opened_ms INTEGER, closing_after INTEGER NOT NULL DEFAULT 0,"
    " next_id INTEGER NOT NULL DEFAULT 1, opened_after INTEGER);"
    "CREATE TABLE IF NOT EXISTS line(id INTEGER PRIMARY KEY, name TEXT, gtin TEXT,"
    " price INTEGER, qty_mantissa INTEGER, qty_scale INTEGER, total INTEGER, vat INTEGER,"
    " subject INTEGER, measure INTEGER, marked INTEGER, km BLOB, ki TEXT, km_type INTEGER,"
    " tag2106 INTEGER, planned INTEGER, mark TEXT, industry_value TEXT,"
    " without_code INTEGER, needs_recheck INTEGER, answered_by TEXT, extras BLOB);"
    /* Scans whose FN check is under way (a scan the FN can be asked
    ** about: journaled()): written before the FN hears of the code,
    ** removed with the line's insert or the refusal. After a
    ** crash the codes left here are declined in the FN, so the FN's table
    ** of checked codes never fills up with codes nobody holds. Without a
    ** rowid (new files): one B-tree, so each change writes one page. */
    "CREATE TABLE IF NOT EXISTS checking(scan BLOB PRIMARY KEY) WITHOUT ROWID;"
    /* Returns without a code and the sale line each takes back (FD, line
    ** 1..): one unit at price. open = 1 while its basket line exists (it
    ** goes with the line), 0 once the return is closed: what a sale line
    ** has left is its quantity and total less every row naming it. */
    "CREATE TABLE IF NOT EXISTS return_link(sale_fd INTEGER NOT NULL, sale_line INTEGER NOT NULL,"
    " line_id INTEGER NOT NULL, price INTEGER NOT NULL, open INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS return_link_sale ON return_link(sale_fd, sale_line);"
    /* The open rows only (a basket's, a handful): every close and removal
    ** finds them here, not by a scan of every return ever closed. */
    "CREATE INDEX IF NOT EXISTS return_link_open ON return_link(line_id) WHERE open = 1;";

/*
** The basket kept between calls (t->basket_kept): what read_marks gave at
** till.db's data version `version` (SQLITE_FCNTL_DATA_VERSION, which every
** commit moves, this connection's and any other's: kassa serve's requests,
** the CLI). A load compares the version in its read transaction and reads
** only when it moved; the writes a sale makes at every scan (the journal
** row, the line) keep it true themselves (kept_begin, kept_commit), every
** other write moves the version and the next load reads the file.
*/
typedef struct sale_kept {
  bool valid;
  unsigned version;
  uint32_t closing_after;
  int64_t opened_after;
  sale_basket_t basket;
} sale_kept_t;

/* A basket file from before a column was added gains it (empty). */
static int add_column(sqlite3 *db, const char *table, const char *name, const char *type)
{
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT %s FROM %s LIMIT 0", name, table);
  if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK) return SQLITE_OK;
  snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", table, name, type);
  return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

int sale_store_open(till_t *t, char *err, size_t err_size)
{
  char path[KASSA_PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/till.db", t->config.data_dir);
  mode_t old = umask(077);
  db_process_setup();
  /* NOMUTEX: a till is used by one thread at a time (kassa serve's
  ** requests under the service's lock), as its code cache is. */
  int rc = sqlite3_open_v2(path, &t->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  umask(old);
  if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(t->db, 5000);
  if (rc == SQLITE_OK) rc = sqlite3_exec(t->db, schema, NULL, NULL, NULL);
  /* A basket written before answered_by (issue 23) or the lines' extras
  ** (issue 16) gains the column; one from before issue 20 gains
  ** opened_after (NULL: the old baskets' closing marks were written with a
  ** flush, and still decide). */
  if (rc == SQLITE_OK) rc = add_column(t->db, "line", "answered_by", "TEXT");
  if (rc == SQLITE_OK) rc = add_column(t->db, "line", "extras", "BLOB");
  if (rc == SQLITE_OK) rc = add_column(t->db, "basket", "opened_after", "INTEGER");
  /* The kept basket (sale_kept_t above); out of memory, none is kept and
  ** every load reads the file. */
  if (rc == SQLITE_OK && !t->basket_kept) t->basket_kept = calloc(1, sizeof *t->basket_kept);
  if (rc != SQLITE_OK) {
    snprintf(err, err_size, "Не открывается файл чека %s. / Cannot open the basket %s: %s", path,
             path, t->db ? sqlite3_errmsg(t->db) : "out of memory");
    return -1;
  }
  return 0;
}

/* The basket's statement for sql (one statement, a fixed text), compiled
** once for the till's life (common/db.h: db_stmts); NULL when it does not
** compile. Hand it back with done(). */
static sqlite3_stmt *stmt(till_t *t, const char *sql)
{
  int rc;
  return db_stmts_get(&t->basket_stmts, t->db, sql, &rc);
}
static void done(till_t *t, sqlite3_stmt *s) { db_stmts_put(&t->basket_stmts, s); }

/* Runs sql: a fixed single statement through the kept ones, a text of
** several (rare paths) as it is. */
static int exec(till_t *t, const char *sql)
{
  return strchr(sql, ';') ? db_exec(t->db, sql, NULL, 0)
                          : db_stmts_exec(&t->basket_stmts, t->db, sql);
}

static int begin(till_t *t)
{
  return exec(t, "BEGIN IMMEDIATE") == SQLITE_OK ? 0 : SALE_ERR_STORAGE;
}
static int commit(till_t *t)
{
  if (exec(t, "COMMIT") == SQLITE_OK) return 0;
  exec(t, "ROLLBACK");
  return SALE_ERR_STORAGE;
}
static void rollback(till_t *t) { exec(t, "ROLLBACK"); }

/* The scan journal (see the `checking` table). */
static int journal(till_t *t, const char *scan, size_t len, bool add)
{
  sqlite3_stmt *s = NULL;
  int rc = SALE_ERR_STORAGE;
  if ((s = stmt(t, add ? "INSERT OR IGNORE INTO checking(scan) VALUES(?)"
                       : "DELETE FROM checking WHERE scan = ?")) != NULL) {
    sqlite3_bind_blob(s, 1, scan, (int)len, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_DONE) rc = 0;
  }
  done(t, s);
  return rc;
}

/* Whether the check may ask the FN about scan, so that it needs a journal
** row: a plain barcode (digits only, at most 14: EAN-8, EAN-13, UPC, a
** GTIN) has no serial for the FN to check (check.c, rule_parse: not
** marked), so a bread or milk scan costs no journal commit. */
static bool journaled(const char *scan, size_t len)
{
  if (len > 14) return true;
  for (size_t i = 0; i < len; i++)
    if (scan[i] < '0' || scan[i] > '9') return true;
  return false;
}

/* Declines the codes of scans a crash left in the journal, unless a line
** holds them, and empties the journal. */
static int journal_recover(till_t *t, const sale_basket_t *b)
{
  sqlite3_stmt *s = NULL;
  markcode_t *mc = malloc(sizeof *mc);
  int step;
  if (!mc) return SALE_ERR_STORAGE;
  if (!(s = stmt(t, "SELECT scan FROM checking"))) {
    free(mc);
    return SALE_ERR_STORAGE;
  }
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    const char *scan = sqlite3_column_blob(s, 0);
    size_t len = (size_t)sqlite3_column_bytes(s, 0);
    if (!scan || markcode_parse(mc, scan, len) != MARKCODE_OK) continue;
    bool held = false;
    for (size_t i = 0; i < b->count; i++)
      if (b->lines[i].marked && !strcmp(b->lines[i].km, mc->normalized)) held = true;
    if (!held) fn_km_accept(t->fn, mc->normalized, mc->normalized_len, false);
  }
  done(t, s);
  free(mc);
  if (step != SQLITE_DONE) return SALE_ERR_STORAGE;
  return exec(t, "DELETE FROM checking") == SQLITE_OK ? 0 : SALE_ERR_STORAGE;
}

/* A literal, so that the statements naming them are too (no text is built
** at each scan to find the kept statement). */
#define LINE_COLUMNS                                                                               \
  "id, name, gtin, price, qty_mantissa, qty_scale, total, vat, subject, measure, marked, km,"      \
  " ki, km_type, tag2106, planned, mark, industry_value, without_code, needs_recheck, "            \
  "answered_by, extras"

/* The agent and the fraction of a line as one TLV list and back (the FN's
** own codec, doc_item_extras_put/get: what is kept is what the receipt
** will carry, and text it cannot carry is refused when the line is made). */
static int extras_put(const sale_line_t *l, uint8_t *buf, size_t cap, size_t *len)
{
  doc_item_t item; /* 2.5 KiB: on the stack, not the heap, at every line */
  memset(&item, 0, sizeof item);
  item.agent = l->agent;
  item.fraction_numerator = l->fraction_numerator;
  item.fraction_denominator = l->fraction_denominator;
  return doc_item_extras_put(&item, buf, cap, len) == 0 ? 0 : SALE_ERR_ARGUMENT;
}

static void extras_get(const void *buf, size_t len, sale_line_t *l)
{
  if (len == 0) return; /* a line without an agent or a fraction: most */
  doc_item_t *item = calloc(1, sizeof *item);
  if (!item || doc_item_extras_get(buf, len, item) != 0) {
    free(item);
    return;
  }
  l->agent = item->agent;
  l->fraction_numerator = item->fraction_numerator;
  l->fraction_denominator = item->fraction_denominator;
  free(item);
}

/* A line's 1260 as the basket keeps it: only its value (1265) is stored;
** the rest is the one Order of the Ministry that defines it. */
static void industry_as_read(sale_line_t *l)
{
  l->has_industry = true;
  snprintf(l->industry.authority, sizeof l->industry.authority, "030");
  snprintf(l->industry.date, sizeof l->industry.date, "21.11.2023");
  snprintf(l->industry.number, sizeof l->industry.number, "1944");
}

/* The line in the columns of s from base on, in LINE_COLUMNS' order. */
static void read_line(sqlite3_stmt *s, int base, sale_line_t *l)
{
  const unsigned char *text;
  memset(l, 0, sizeof *l);
  l->id = (uint32_t)sqlite3_column_int64(s, base + 0);
#define TEXT(col, dst)                                                                             \
  if ((text = sqlite3_column_text(s, base + (col))) != NULL) snprintf(dst, sizeof dst, "%s", text)
  TEXT(1, l->name);
  TEXT(2, l->gtin);
  l->price = (uint64_t)sqlite3_column_int64(s, base + 3);
  l->quantity.mantissa = (uint64_t)sqlite3_column_int64(s, base + 4);
  l->quantity.scale = (uint8_t)sqlite3_column_int(s, base + 5);
  l->total = (uint64_t)sqlite3_column_int64(s, base + 6);
  l->vat = (uint8_t)sqlite3_column_int(s, base + 7);
  l->subject = (uint8_t)sqlite3_column_int(s, base + 8);
  l->measure = (uint8_t)sqlite3_column_int(s, base + 9);
  l->marked = sqlite3_column_int(s, base + 10) != 0;
  int n = sqlite3_column_bytes(s, base + 11);
  if (n > 0 && (size_t)n <= DOC_MAX_KM) {
    memcpy(l->km, sqlite3_column_blob(s, base + 11), (size_t)n);
    l->km[n] = '\0';
  }
  TEXT(12, l->ki);
  l->km_type = (uint8_t)sqlite3_column_int(s, base + 13);
  l->tag2106 = (uint8_t)sqlite3_column_int(s, base + 14);
  l->planned = (uint8_t)sqlite3_column_int(s, base + 15);
  TEXT(16, l->mark);
  TEXT(17, l->industry.value);
#undef TEXT
  if (l->industry.value[0]) industry_as_read(l);
  l->without_code = sqlite3_column_int(s, base + 18) != 0;
  l->needs_recheck = sqlite3_column_int(s, base + 19) != 0;
  if ((text = sqlite3_column_text(s, base + 20)) != NULL)
    snprintf(l->answered_by, sizeof l->answered_by, "%s", text);
  extras_get(sqlite3_column_blob(s, base + 21), (size_t)sqlite3_column_bytes(s, base + 21), l);
}

/* The basket with its lines; closing_after (may be NULL) as stored. One
** statement, so one read transaction (a scan loads the basket): the
** basket's row joined with its lines (the two tables share no column
** name), a row of NULL line columns when it has none; ordered by k (the
** one basket) first, so SQLite walks the lines in id order without a
** sorter. Its lines past count are not cleared. */
static int read_marks(till_t *t, sale_basket_t *b, uint32_t *closing_after, int64_t *opened_after)
{
  enum { LINE_BASE = 5 }; /* the basket's five columns, then LINE_COLUMNS */
  sqlite3_stmt *s = NULL;
  int rc = SALE_ERR_STORAGE, step;
  memset(b, 0, offsetof(sale_basket_t, lines)); /* 250 KiB: only the head */
  b->total = 0;
  if (closing_after) *closing_after = 0;
  if (opened_after) *opened_after = -1;
  if (!(s = stmt(t, "SELECT operation, cashier, opened_ms, closing_after, "
                    "coalesce(opened_after, -1), " LINE_COLUMNS
                    " FROM basket LEFT JOIN line ORDER BY k, id")))
    goto fail;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    if (!b->open) {
      b->open = true;
      b->operation = (uint8_t)sqlite3_column_int(s, 0);
      if (sqlite3_column_text(s, 1))
        snprintf(b->cashier, sizeof b->cashier, "%s", (const char *)sqlite3_column_text(s, 1));
      b->opened_ms = sqlite3_column_int64(s, 2);
      if (closing_after) *closing_after = (uint32_t)sqlite3_column_int64(s, 3);
      if (opened_after) *opened_after = sqlite3_column_int64(s, 4);
    }
    if (sqlite3_column_type(s, LINE_BASE) == SQLITE_NULL || b->count >= DOC_MAX_ITEMS) continue;
    read_line(s, LINE_BASE, &b->lines[b->count]);
    b->total += b->lines[b->count].total;
    b->count++;
  }
  rc = step == SQLITE_DONE ? 0 : SALE_ERR_STORAGE;
fail:
  done(t, s);
  return rc;
}

/* till.db's data version as this connection's pager has it now. */
static unsigned basket_version(till_t *t)
{
  unsigned v = 0;
  if (sqlite3_file_control(t->db, "main", SQLITE_FCNTL_DATA_VERSION, &v) != SQLITE_OK) v = ~0u;
  return v;
}

/* Copies a basket's head, its count lines and its total. */
static void basket_copy(sale_basket_t *to, const sale_basket_t *from)
{
  memcpy(to, from, offsetof(sale_basket_t, lines));
  memcpy(to->lines, from->lines, from->count * sizeof from->lines[0]);
  to->total = from->total;
}

/* Keeps b, with its closing_after and opened_after, as the file's at the
** connection's data version now (in or right after the transaction that
** read or wrote them). */
static void kept_set(till_t *t, const sale_basket_t *b, uint32_t closing, int64_t opened)
{
  sale_kept_t *k = t->basket_kept;
  if (!k) return;
  basket_copy(&k->basket, b);
  k->closing_after = closing;
  k->opened_after = opened;
  k->version = basket_version(t);
  k->valid = k->version != ~0u;
}

/* The basket, closing_after and opened_after (both may be NULL): kept or
** read, in one read transaction of its own; inside the caller's
** transaction (whose writes the version does not show yet) always read. */
static int load_marks(till_t *t, sale_basket_t *b, uint32_t *closing_after, int64_t *opened_after)
{
  uint32_t closing = 0;
  int64_t opened = -1;
  int rc;
  if (!sqlite3_get_autocommit(t->db) || !t->basket_kept)
    return read_marks(t, b, closing_after, opened_after);
  sale_kept_t *k = t->basket_kept;
  if (exec(t, "BEGIN") != SQLITE_OK || exec(t, "PRAGMA data_version") != SQLITE_OK) {
    rollback(t);
    k->valid = false;
    return SALE_ERR_STORAGE;
  }
  unsigned v = basket_version(t);
  if (k->valid && k->version == v && v != ~0u) {
    basket_copy(b, &k->basket);
    closing = k->closing_after;
    opened = k->opened_after;
    rc = 0;
  } else {
    k->valid = false;
    if ((rc = read_marks(t, b, &closing, &opened)) == 0) kept_set(t, b, closing, opened);
  }
  if (exec(t, "COMMIT") != SQLITE_OK) {
    rollback(t);
    k->valid = false;
    return SALE_ERR_STORAGE;
  }
  if (rc == 0 && closing_after) *closing_after = closing;
  if (rc == 0 && opened_after) *opened_after = opened;
  return rc;
}

/* In a write transaction just begun: whether the kept basket is the one
** it starts from (then kept_commit may bring it forward). */
static bool kept_begin(till_t *t)
{
  sale_kept_t *k = t->basket_kept;
  return k && k->valid && k->version == basket_version(t);
}

/* After that transaction's commit (ok) or its failure: the kept basket
** with the line the transaction added (line NULL: none) is the file's at
** the new version when `base` (kept_begin) held; else it is forgotten. */
static void kept_commit(till_t *t, bool base, bool ok, const sale_line_t *line)
{
  sale_kept_t *k = t->basket_kept;
  if (!k) return;
  if (!base || !ok || (line && k->basket.count >= DOC_MAX_ITEMS)) {
    k->valid = false;
    return;
  }
  if (line) {
    k->basket.lines[k->basket.count++] = *line;
    k->basket.total += line->total;
  }
  k->version = basket_version(t);
  k->valid = k->version != ~0u;
}

/*
** The basket (and closing_after, may be NULL) in a write transaction just
** begun, before its first write: the kept one when the version says no
** commit came since, else read and kept from then. *base tells whether the
** kept basket is the file's at the transaction's start (kept_commit's
** base). One transaction where a read of its own and then a write took two.
*/
static int load_begun(till_t *t, sale_basket_t *b, uint32_t *closing_after, bool *base)
{
  sale_kept_t *k = t->basket_kept; /* NULL: none kept */
  uint32_t closing = 0;
  int64_t opened = -1;
  int rc = 0;
  if ((*base = kept_begin(t))) {
    basket_copy(b, &k->basket);
    closing = k->closing_after;
  } else if ((rc = read_marks(t, b, &closing, &opened)) == 0) {
    kept_set(t, b, closing, opened);
    *base = k && k->valid;
  }
  if (rc == 0 && closing_after) *closing_after = closing;
  return rc;
}

static int load(till_t *t, sale_basket_t *b, uint32_t *closing_after)
{
  return load_marks(t, b, closing_after, NULL);
}

/* The open basket, or SALE_ERR_NO_RECEIPT. */
static int load_open(till_t *t, sale_basket_t *b)
{
  int rc = load(t, b, NULL);
  return rc != 0 ? rc : b->open ? 0 : SALE_ERR_NO_RECEIPT;
}

/*
** Line l as read_line gives it back once insert_line stored it with id and
** its extras: the same columns through the same conversions (a text as
** the column keeps it, the industry's other fields as read_line sets
** them, the agent and the fraction through the codec), nothing else.
** test_till's kept-basket test compares the two.
*/
static void line_as_read(const sale_line_t *l, uint32_t id, const uint8_t *extras,
                         size_t extras_len, sale_line_t *out)
{
  size_t n = strlen(l->km);
  memset(out, 0, sizeof *out);
  out->id = id;
  snprintf(out->name, sizeof out->name, "%s", l->name);
  out->price = l->price;
  out->quantity.mantissa = l->quantity.mantissa;
  out->quantity.scale = l->quantity.scale;
  snprintf(out->gtin, sizeof out->gtin, "%s", l->gtin);
  out->total = l->total;
  out->vat = l->vat;
  out->subject = l->subject;
  if (n > 0 && n <= DOC_MAX_KM) memcpy(out->km, l->km, n + 1); /* a blob of strlen bytes */
  out->measure = l->measure;
  out->marked = l->marked;
  snprintf(out->ki, sizeof out->ki, "%s", l->ki);
  out->km_type = l->km_type;
  out->tag2106 = l->tag2106;
  out->planned = l->planned;
  snprintf(out->mark, sizeof out->mark, "%s", l->mark);
  if (l->has_industry && l->industry.value[0]) {
    snprintf(out->industry.value, sizeof out->industry.value, "%s", l->industry.value);
    industry_as_read(out);
  }
  out->without_code = l->without_code;
  out->needs_recheck = l->needs_recheck;
  snprintf(out->answered_by, sizeof out->answered_by, "%s", l->answered_by);
  extras_get(extras, extras_len, out);
}

/* Inserts line l (its id in *id) and drops scan's journal row (scan NULL:
** none), in a transaction of its own, or, with begun, in the caller's
** write transaction that has written nothing yet (*begun: load_begun's
** base); either way committed, or rolled back on failure. */
static int insert_line(till_t *t, const sale_line_t *l, const char *scan, size_t scan_len,
                       uint32_t *id, const bool *begun)
{
  sqlite3_stmt *s = NULL;
  uint8_t extras[2048];
  size_t extras_len = 0;
  int rc;
  if (!begun && begin(t) != 0) return SALE_ERR_STORAGE;
  bool base = begun ? *begun : kept_begin(t);
  sale_line_t back;
  if ((rc = extras_put(l, extras, sizeof extras, &extras_len)) != 0) goto fail;
  rc = SALE_ERR_STORAGE;
  /* Read, then moved: one UPDATE ... RETURNING made SQLite build and drop
  ** a temporary table for its one row at every line. */
  if (!(s = stmt(t, "SELECT next_id FROM basket")) || sqlite3_step(s) != SQLITE_ROW) goto fail;
  *id = (uint32_t)sqlite3_column_int64(s, 0);
  done(t, s);
  if (!(s = stmt(t, "UPDATE basket SET next_id = next_id + 1")) || sqlite3_step(s) != SQLITE_DONE)
    goto fail;
  done(t, s);
  if (!(s = stmt(t, "INSERT INTO line(" LINE_COLUMNS
                    ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")))
    goto fail;
  sqlite3_bind_int64(s, 1, *id);
  sqlite3_bind_text(s, 2, l->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, l->gtin, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 4, (sqlite3_int64)l->price);
  sqlite3_bind_int64(s, 5, (sqlite3_int64)l->quantity.mantissa);
  sqlite3_bind_int(s, 6, l->quantity.scale);
  sqlite3_bind_int64(s, 7, (sqlite3_int64)l->total);
  sqlite3_bind_int(s, 8, l->vat);
  sqlite3_bind_int(s, 9, l->subject);
  sqlite3_bind_int(s, 10, l->measure);
  sqlite3_bind_int(s, 11, l->marked);
  sqlite3_bind_blob(s, 12, l->km, (int)strlen(l->km), SQLITE_STATIC);
  sqlite3_bind_text(s, 13, l->ki, -1, SQLITE_STATIC);
  sqlite3_bind_int(s, 14, l->km_type);
  sqlite3_bind_int(s, 15, l->tag2106);
  sqlite3_bind_int(s, 16, l->planned);
  sqlite3_bind_text(s, 17, l->mark, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 18, l->has_industry ? l->industry.value : "", -1, SQLITE_STATIC);
  sqlite3_bind_int(s, 19, l->without_code);
  sqlite3_bind_int(s, 20, l->needs_recheck);
  sqlite3_bind_text(s, 21, l->answered_by, -1, SQLITE_STATIC);
  if (extras_len) sqlite3_bind_blob(s, 22, extras, (int)extras_len, SQLITE_STATIC);
  if (sqlite3_step(s) != SQLITE_DONE) goto fail;
  done(t, s);
  s = NULL;
  if (l->sale_fd) {
    if (!(s = stmt(t, "INSERT INTO return_link(sale_fd, sale_line, line_id, price, open) "
                      "VALUES(?,?,?,?,1)")))
      goto fail;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)t->fn_base + l->sale_fd); /* global numbering */
    sqlite3_bind_int64(s, 2, l->sale_line);
    sqlite3_bind_int64(s, 3, *id);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)l->price);
    if (sqlite3_step(s) != SQLITE_DONE) goto fail;
    done(t, s);
    s = NULL;
  }
  if (scan && journal(t, scan, scan_len, false) != 0) goto fail;
  /* The largest id, so the last of the basket's lines when loaded. */
  if (base) line_as_read(l, *id, extras, extras_len, &back);
  rc = commit(t);
  kept_commit(t, base, rc == 0, &back);
  return rc;
fail:
  done(t, s);
  rollback(t);
  kept_commit(t, false, false, NULL);
  return rc;
}

/* 0 when the basket b is open and can take one more line, else
** SALE_ERR_NO_RECEIPT or SALE_ERR_FULL. */
static int takes_line(const sale_basket_t *b)
{
  return !b->open ? SALE_ERR_NO_RECEIPT : b->count >= DOC_MAX_ITEMS ? SALE_ERR_FULL : 0;
}

/* A scan's journal row (add) or its removal, in a transaction of its own
** that keeps the kept basket (the journal is not part of it). With b, the
** row is added only to an open basket that takes one more line, loaded
** into b in the same transaction (load_begun): what a marked scan needs
** before the FN hears of its code, in one commit. */
static int journal_alone(till_t *t, const char *scan, size_t len, bool add, sale_basket_t *b)
{
  if (begin(t) != 0) return SALE_ERR_STORAGE;
  bool base = false;
  int rc = 0;
  if (!b)
    base = kept_begin(t);
  else if ((rc = load_begun(t, b, NULL, &base)) == 0)
    rc = takes_line(b);
  if (rc == 0) rc = journal(t, scan, len, add);
  rc = rc == 0 ? commit(t) : (rollback(t), rc);
  kept_commit(t, base, rc == 0, NULL);
  return rc;
}

/* ---- the basket ------------------------------------------------------------ */

static int drop_lines(till_t *t, const sale_basket_t *b, uint32_t id, bool basket_too);

/* The basket row of a new basket (in the caller's transaction, or its own
** when none): the FN's last document is its opened_after. With as_read,
** the new basket as read_marks would give it back, and its opened_after. */
static int basket_insert(till_t *t, uint8_t operation, const char *cashier, sale_basket_t *as_read,
                         int64_t *opened_after)
{
  fn_status_t st;
  if ((t->last_fn_error = fn_status(t->fn, &st)) != 0) return SALE_ERR_FN;
  sqlite3_stmt *s = stmt(t, "INSERT INTO basket(k, operation, cashier, opened_ms, opened_after)"
                            " VALUES(1, ?, ?, ?, ?)");
  if (!s) return SALE_ERR_STORAGE;
  /* The name goes into the receipt (1021): folded as every document's text
  ** is, control characters to spaces (issue 18). */
  char name[FN_CASHIER_SIZE];
  snprintf(name, sizeof name, "%s", cashier ? cashier : "");
  fiscal_text_fold(name);
  int64_t now = till_now_ms(t), after = (int64_t)t->fn_base + st.last_document;
  sqlite3_bind_int(s, 1, operation);
  sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, now);
  sqlite3_bind_int64(s, 4, after);
  int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : SALE_ERR_STORAGE;
  done(t, s);
  if (rc == 0 && as_read) {
    memset(as_read, 0, offsetof(sale_basket_t, lines)); /* as read_marks: the head only */
    as_read->total = 0;
    as_read->open = true;
    as_read->operation = operation;
    snprintf(as_read->cashier, sizeof as_read->cashier, "%s", name);
    as_read->opened_ms = now;
    *opened_after = after;
  }
  return rc;
}

int sale_open(till_t *t, uint8_t operation, const char *cashier)
{
  sale_basket_t *b;
  bool base;
  int rc;
  if (!t || (operation != DOC_OP_SALE && operation != DOC_OP_SALE_RETURN)) return SALE_ERR_ARGUMENT;
  if (!fn_cashier_ok(cashier)) return SALE_ERR_ARGUMENT; /* what the FN takes, no less */
  if (!(b = malloc(sizeof *b))) return SALE_ERR_STORAGE;
  uint32_t closing = 0;
  /* The common case, no basket: looked at and made in one transaction. */
  if (begin(t) != 0) {
    free(b);
    return SALE_ERR_STORAGE;
  }
  if ((rc = load_begun(t, b, &closing, &base)) == 0 && !b->open) {
    int64_t opened_after = -1;
    rc = basket_insert(t, operation, cashier, b, &opened_after);
    rc = rc == 0 ? commit(t) : (rollback(t), rc);
    /* Kept as the file has it now (no line: none is made without a basket,
    ** and every delete of the basket takes its lines in the same commit). */
    if (rc == 0)
      kept_set(t, b, 0, opened_after);
    else
      kept_commit(t, false, false, NULL);
    free(b);
    return rc;
  }
  rollback(t); /* nothing written: what load_begun kept stays true */
  if (rc == 0 && closing > 0) {
    /* A close whose bookkeeping could not be written (a full disk): finish
    ** it from the archive first, as till_open() would. */
    char err[256];
    if (sale_recover(t, err, sizeof err) == 0) rc = load(t, b, NULL);
  }
  bool open = b->open;
  /* An empty basket of the other operation holds nothing (no line, no FN
  ** receipt): a manager's return is not blocked by the empty sale a
  ** refused first scan left open (nor a sale by an empty return). */
  if (rc == 0 && open && b->count == 0 && b->operation != operation && closing == 0 &&
      (rc = drop_lines(t, b, 0, true)) == 0)
    open = false;
  free(b);
  if (rc != 0) return rc;
  if (open) return SALE_ERR_OPEN;
  return basket_insert(t, operation, cashier, NULL, NULL);
}

int sale_get(till_t *t, sale_basket_t *out)
{
  if (!t || !out) return SALE_ERR_ARGUMENT;
  return load(t, out, NULL);
}

bool sale_line_total(uint64_t price, doc_quantity_t q, uint64_t *out)
{
  uint64_t div = 1;
  for (unsigned i = 0; i < q.scale; i++) div *= 10;
  if (q.mantissa != 0 && price > UINT64_MAX / q.mantissa) return false;
  *out = (price * q.mantissa + div / 2) / div;
  return *out < (UINT64_C(1) << 40);
}

/* The line for a decision that allowed the scan; a (checked) fraction
** n/d makes it one piece priced price * n / d, half up. */
static int fill_line(const check_decision_t *d, const doc_quantity_t *quantity, uint64_t price,
                     uint64_t numerator, uint64_t denominator, sale_line_t *l)
{
  const cache_product_t *p = &d->product;
  memset(l, 0, sizeof *l);
  char name[sizeof p->name];
  memcpy(name, p->name, sizeof name);
  fiscal_text_fold(name);
  /* Whole characters only: a cut UTF-8 sequence has no CP866 form. */
  size_t n = strlen(name);
  if (n >= sizeof l->name) {
    n = sizeof l->name - 1;
    while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80) n--;
  }
  memcpy(l->name, name, n);
  l->name[n] = '\0';
  snprintf(l->gtin, sizeof l->gtin, "%s", p->gtin);
  l->price = price ? price : p->price;
  if (p->weighed) {
    if (!quantity || quantity->scale > 3 || quantity->mantissa == 0) return SALE_ERR_ARGUMENT;
    l->quantity = *quantity;
    l->measure = 11;
  } else {
    /* Pieces are whole; a marked piece is exactly one. */
    doc_quantity_t one = {1, 0};
    const doc_quantity_t *q = quantity ? quantity : &one;
    uint64_t div = 1;
    for (unsigned i = 0; i < q->scale; i++) div *= 10;
    if (q->mantissa == 0 || q->mantissa % div != 0) return SALE_ERR_ARGUMENT;
    if (d->marked && q->mantissa / div != 1) return SALE_ERR_ARGUMENT;
    l->quantity = (doc_quantity_t){q->mantissa / div, 0};
  }
  if (!sale_line_total(l->price, l->quantity, &l->total)) return SALE_ERR_ARGUMENT;
  if (denominator) {
    if (quantity || l->price > UINT64_MAX / numerator) return SALE_ERR_ARGUMENT;
    l->total = (l->price * numerator + denominator / 2) / denominator;
    l->fraction_numerator = numerator;
    l->fraction_denominator = denominator;
  }
  l->vat = p->vat ? p->vat : 6;
  l->subject = d->marked ? (p->excise ? 31 : 33) : 1;
  l->marked = d->marked;
  if (d->marked) {
    memcpy(l->km, d->normalized, d->normalized_len + 1);
    snprintf(l->ki, sizeof l->ki, "%s", d->ki);
    l->km_type = d->km_type;
    l->tag2106 = d->tag2106;
    l->planned = d->planned;
    snprintf(l->mark, sizeof l->mark, "%s", d->mark);
    snprintf(l->answered_by, sizeof l->answered_by, "%s", check_answered_by(d));
    l->has_industry = d->has_1265;
    l->industry = d->industry;
  }
  return 0;
}

/* money_line_t's basket_has_ki for a sale_basket_t. */
static bool basket_has_ki(const void *basket, const char *ki)
{
  const sale_basket_t *b = basket;
  for (size_t i = 0; i < b->count; i++)
    if (b->lines[i].marked && !strcmp(b->lines[i].ki, ki)) return true;
  return false;
}

/* What the returns naming sale line (fd of this FN, line) took so far:
** rows and kopecks. The table keeps the global numbering (fn_base + fd). */
static int sale_line_taken(till_t *t, uint32_t fd, uint32_t line, uint64_t *units, uint64_t *money)
{
  sqlite3_stmt *s = stmt(t, "SELECT count(*), coalesce(sum(price), 0) FROM return_link "
                            "WHERE sale_fd = ? AND sale_line = ?");
  if (!s) return SALE_ERR_STORAGE;
  sqlite3_bind_int64(s, 1, (sqlite3_int64)t->fn_base + fd);
  sqlite3_bind_int64(s, 2, line);
  int rc = SALE_ERR_STORAGE;
  if (sqlite3_step(s) == SQLITE_ROW) {
    *units = (uint64_t)sqlite3_column_int64(s, 0);
    *money = (uint64_t)sqlite3_column_int64(s, 1);
    rc = 0;
  }
  done(t, s);
  return rc;
}

int sale_err_of_money(int verdict)
{
  static const int errors_of[] = {
      [MONEY_OK] = 0,
      [MONEY_PRICE_NEEDS_MANAGER] = SALE_ERR_PRICE_NEEDS_MANAGER,
      [MONEY_PRICE_CEILING] = SALE_ERR_PRICE_CEILING,
      [MONEY_QUANTITY_CEILING] = SALE_ERR_QUANTITY_CEILING,
      [MONEY_REFUND_ABOVE_SALE] = SALE_ERR_REFUND_ABOVE_SALE,
      [MONEY_RETURN_UNITS] = SALE_ERR_RETURN_UNITS,
      [MONEY_STORAGE] = SALE_ERR_STORAGE,
      [MONEY_SALE_NOT_FOUND] = SALE_ERR_SALE_NOT_FOUND,
      [MONEY_SALE_LINE] = SALE_ERR_SALE_LINE,
  };
  return verdict >= 0 && (size_t)verdict < sizeof errors_of / sizeof errors_of[0]
             ? errors_of[verdict]
             : SALE_ERR_STORAGE;
}

/* The money rules (pos/till/money.h) for line l of basket b: 0 (a
** return's price may now be the code's sold price), or their SALE_ERR_*. */
static int line_money(till_t *t, const sale_basket_t *b, const check_decision_t *d,
                      uint64_t asked_price, sale_line_t *l)
{
  money_line_t m = {.operation = b->operation,
                    .marked = l->marked,
                    .without_code = l->without_code,
                    .ki = l->ki,
                    .gtin = l->gtin,
                    .catalogue_price = d->product.price,
                    .asked_price = asked_price,
                    .price = l->price,
                    .quantity = l->quantity,
                    .measure = l->measure,
                    .sale_fd = l->sale_fd,
                    .sale_line = l->sale_line,
                    .basket_has_ki = basket_has_ki,
                    .basket = b};
  for (size_t i = 0; i < b->count; i++)
    if (!strcmp(b->lines[i].gtin, l->gtin)) m.basket_same_gtin++;
  if (l->sale_fd &&
      sale_line_taken(t, l->sale_fd, l->sale_line, &m.sale_taken_units, &m.sale_taken_money) != 0)
    return SALE_ERR_STORAGE;
  money_verdict_t v = money_line_rules(t, &m);
  if (v != MONEY_OK) return sale_err_of_money((int)v);
  if (m.price == l->price) return 0;
  if (!sale_line_total(m.price, l->quantity, &l->total)) return SALE_ERR_ARGUMENT;
  if (l->fraction_denominator) /* a part of a pack: its part of the sold unit price */
    l->total =
        (m.price * l->fraction_numerator + l->fraction_denominator / 2) / l->fraction_denominator;
  l->price = m.price;
  return 0;
}

static const char *const agent_kinds[7] = {
    "bank-agent", "bank-subagent", "payment-agent", "payment-subagent",
    "attorney",   "commission",    "other"};

uint8_t sale_agent_kind(const char *name)
{
  for (unsigned i = 0; name && i < 7; i++)
    if (!strcmp(name, agent_kinds[i])) return (uint8_t)(1u << i);
  return 0;
}

const char *sale_agent_kind_name(uint8_t sign)
{
  for (unsigned i = 0; i < 7; i++)
    if (sign == (1u << i)) return agent_kinds[i];
  return "";
}

/* An agent's line names one kind of agent and its supplier (name, INN of
** 10 or 12 digits); the codec checks lengths and CP866 when it is stored. */
static bool agent_ok(const doc_agent_t *a)
{
  size_t inn = strlen(a->supplier_inn);
  return sale_agent_kind_name(a->sign)[0] && a->supplier_name[0] && (inn == 10 || inn == 12) &&
         strspn(a->supplier_inn, "0123456789") == inn;
}

/* The agent's requisites on a line, «» and dashes folded as on any other
** text of a document (fiscal_text.h). */
static void set_agent(sale_line_t *l, const doc_agent_t *a)
{
  doc_agent_t *g = &l->agent;
  *g = *a;
  char *const texts[] = {
      g->operation,        g->agent_phone,  g->operator_phone, g->transfer_phone, g->transfer_name,
      g->transfer_address, g->transfer_inn, g->supplier_phone, g->supplier_name,  g->supplier_inn};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) fiscal_text_fold(texts[i]);
}

int sale_add_scan(till_t *t, const char *scan, size_t len, const doc_quantity_t *quantity,
                  uint64_t price, check_decision_t *d, uint32_t *line_id)
{
  sale_add_t a = {.scan = scan, .len = len, .quantity = quantity, .price = price};
  return sale_add(t, &a, d, line_id);
}

int sale_add(till_t *t, const sale_add_t *a, check_decision_t *d, uint32_t *line_id)
{
  sale_basket_t *b = NULL;
  sale_line_t *l = NULL;
  const char *kis[DOC_MAX_ITEMS];
  size_t n = 0;
  uint32_t id = 0;
  bool begun = false, base = false; /* a plain scan's transaction */
  int rc;
  if (!t || !a || !a->scan || !d) return SALE_ERR_ARGUMENT;
  const char *scan = a->scan;
  size_t len = a->len;
  memset(d, 0, sizeof *d);
  d->mark = "";
  if (a->agent && !agent_ok(a->agent)) return SALE_ERR_ARGUMENT;
  if (!(b = malloc(sizeof *b)) || !(l = malloc(sizeof *l))) {
    rc = SALE_ERR_STORAGE;
    goto done;
  }
  /* A scan the FN may be asked about is journaled in the transaction that
  ** loads the basket. A plain barcode's check asks only the cache (no FN,
  ** no network: journaled()), so its line is written in the transaction
  ** that loads the basket, begun here and ended by insert_line. */
  bool journal_row = journaled(scan, len);
  if (journal_row) {
    rc = journal_alone(t, scan, len, true, b);
  } else if ((rc = begin(t)) == 0) {
    begun = true;
    if ((rc = load_begun(t, b, NULL, &base)) == 0) rc = takes_line(b);
  }
  if (rc != 0) goto done;
  for (size_t i = 0; i < b->count; i++)
    if (b->lines[i].marked) kis[n++] = b->lines[i].ki;
  check_purpose_t purpose = b->operation == DOC_OP_SALE ? CHECK_FOR_SALE : CHECK_FOR_RETURN;
  check_request_t req = {.scan = scan,
                         .len = len,
                         .purpose = purpose,
                         .price = a->price,
                         .in_receipt = kis,
                         .in_receipt_count = n,
                         .fraction_numerator = a->fraction_numerator,
                         .fraction_denominator = a->fraction_denominator,
                         .keep = true};
  if (check_run(t, &req, d) != 0 || !d->allow) {
    if (journal_row) journal_alone(t, scan, len, false, NULL); /* the refusal declined it already */
    rc = SALE_ERR_REFUSED;
    goto done;
  }
  rc = fill_line(d, a->quantity, a->price, a->fraction_numerator, a->fraction_denominator, l);
  if (rc == 0 && a->agent) set_agent(l, a->agent);
  if (rc == 0) rc = line_money(t, b, d, a->price, l);
  if (rc == 0) {
    begun = false; /* insert_line ends it */
    rc = insert_line(t, l, journal_row ? scan : NULL, len, &id, journal_row ? NULL : &base);
  }
  if (rc != 0) {
    /* The check passed but the line cannot be kept: give the code back. */
    if (d->marked) fn_km_accept(t->fn, d->normalized, d->normalized_len, false);
    if (d->store_claimed) lane_store_release(t, d->ki);
    if (journal_row) journal_alone(t, scan, len, false, NULL);
    goto done;
  }
  if (line_id) *line_id = id;
done:
  if (begun) { /* a plain scan refused, or its line not made: nothing written */
    rollback(t);
    kept_commit(t, false, false, NULL);
  }
  free(b);
  free(l);
  return rc;
}

int sale_add_without_code(till_t *t, const char *gtin, uint64_t price, uint32_t sale_fd,
                          uint32_t sale_line, uint32_t *line_id)
{
  sale_basket_t *b = NULL;
  check_decision_t *d = NULL;
  sale_line_t l;
  uint32_t id = 0;
  int rc;
  if (!t || !gtin) return SALE_ERR_ARGUMENT;
  if (!(b = malloc(sizeof *b)) || !(d = calloc(1, sizeof *d))) {
    rc = SALE_ERR_STORAGE;
    goto done;
  }
  if ((rc = load_open(t, b)) != 0) goto done;
  if (b->operation != DOC_OP_SALE_RETURN) {
    rc = SALE_ERR_WRONG_KIND;
    goto done;
  }
  if (b->count >= DOC_MAX_ITEMS) {
    rc = SALE_ERR_FULL;
    goto done;
  }
  char padded[15] = "00000000000000";
  size_t g = strlen(gtin);
  if (g == 0 || g > 14 || strspn(gtin, "0123456789") != g) {
    rc = SALE_ERR_ARGUMENT;
    goto done;
  }
  memcpy(padded + 14 - g, gtin, g);
  if (cache_product_get(t->cache, padded, &d->product) != 0) {
    rc = SALE_ERR_ARGUMENT;
    goto done;
  }
  d->has_product = true;
  if ((rc = fill_line(d, NULL, price, 0, 0, &l)) != 0) goto done;
  l.without_code = true;
  l.sale_fd = sale_fd;
  l.sale_line = sale_line;
  if (sale_fd == 0) {
    rc = SALE_ERR_SALE_NOT_FOUND;
    goto done;
  }
  if ((rc = line_money(t, b, d, price, &l)) != 0) goto done;
  rc = insert_line(t, &l, NULL, 0, &id, NULL);
  if (rc == 0 && line_id) *line_id = id;
done:
  free(b);
  free(d);
  return rc;
}

/* Deletes lines (one id, or all when id is 0) and, in the same
** transaction, journals their marked codes: the codes leave the basket and
** enter the journal together, so a crash before the FN declines them is
** repaired by journal_recover() at the next start. */
static int drop_lines(till_t *t, const sale_basket_t *b, uint32_t id, bool basket_too)
{
  sqlite3_stmt *s = NULL;
  if (begin(t) != 0) return SALE_ERR_STORAGE;
  for (size_t i = 0; i < b->count; i++) {
    const sale_line_t *l = &b->lines[i];
    if ((id && l->id != id) || !l->marked) continue;
    if (journal(t, l->km, strlen(l->km), true) != 0) goto fail;
  }
  for (int k = 0; k < 2; k++) {
    static const char *const sql[2][2] = {
        {"DELETE FROM line", "DELETE FROM line WHERE id = ?"},
        {"DELETE FROM return_link WHERE open = 1",
         "DELETE FROM return_link WHERE open = 1 AND line_id = ?"}};
    if (!(s = stmt(t, sql[k][id != 0]))) goto fail;
    if (id) sqlite3_bind_int64(s, 1, id);
    if (sqlite3_step(s) != SQLITE_DONE) goto fail;
    done(t, s);
    s = NULL;
  }
  if (basket_too && exec(t, "DELETE FROM basket") != SQLITE_OK) goto fail;
  if (commit(t) != 0) return SALE_ERR_STORAGE;
  /* Now the FN; then the journal rows go. */
  for (size_t i = 0; i < b->count; i++) {
    const sale_line_t *l = &b->lines[i];
    if ((id && l->id != id) || !l->marked) continue;
    fn_km_accept(t->fn, l->km, strlen(l->km), false);
    journal(t, l->km, strlen(l->km), false);
    if (b->operation == DOC_OP_SALE) lane_store_release(t, l->ki);
  }
  return 0;
fail:
  done(t, s);
  rollback(t);
  return SALE_ERR_STORAGE;
}

bool sale_quantity_parse(const char *text, doc_quantity_t *q)
{
  char dot[32];
  doc_quantity_t v;
  size_t n = text ? strlen(text) : 0;
  if (n == 0 || n >= sizeof dot) return false;
  memcpy(dot, text, n + 1);
  char *comma = strchr(dot, ',');
  if (comma) *comma = '.'; /* the Russian decimal separator */
  if (!doc_quantity_parse(dot, 3, &v) || v.mantissa == 0) return false;
  *q = v;
  return true;
}

int sale_remove(till_t *t, uint32_t line_id)
{
  sale_basket_t *b = malloc(sizeof *b);
  int rc;
  if (!t || !b) {
    free(b);
    return t ? SALE_ERR_STORAGE : SALE_ERR_ARGUMENT;
  }
  if ((rc = load_open(t, b)) != 0) goto done;
  rc = SALE_ERR_NO_LINE;
  for (size_t i = 0; i < b->count && line_id != 0; i++)
    if (b->lines[i].id == line_id) rc = drop_lines(t, b, line_id, false);
done:
  free(b);
  return rc;
}

int sale_cancel(till_t *t)
{
  sale_basket_t *b = malloc(sizeof *b);
  int rc;
  if (!t || !b) {
    free(b);
    return t ? SALE_ERR_STORAGE : SALE_ERR_ARGUMENT;
  }
  rc = load_open(t, b);
  if (rc == 0) rc = drop_lines(t, b, 0, true);
  free(b);
  return rc;
}

/* ---- closing ---------------------------------------------------------------- */

/* The closing mark: the FN's last document before this close. Written
** without a flush like the rest of the basket: after a power cut that lost
** it, the archive still says whether the basket was sold (sale_recover). */
static int set_closing(till_t *t, uint32_t after)
{
  sqlite3_stmt *s = stmt(t, "UPDATE basket SET closing_after = ?");
  if (!s) return SALE_ERR_STORAGE;
  sqlite3_bind_int64(s, 1, after);
  int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : SALE_ERR_STORAGE;
  done(t, s);
  return rc;
}

static int mark_recheck(till_t *t)
{
  return exec(t, "UPDATE basket SET closing_after = 0; UPDATE line SET needs_recheck = 1 WHERE "
                 "marked = 1") == SQLITE_OK
             ? 0
             : SALE_ERR_STORAGE;
}

/* Returns without a code are recorded as waiting for remarking; the cache
** keeps each (document, line) once, so a repeated recovery adds nothing. */
static int record_pending(till_t *t, const sale_basket_t *b, uint32_t document)
{
  for (size_t i = 0; i < b->count; i++) {
    if (!b->lines[i].without_code) continue;
    if (cache_pending_add(t->cache, b->lines[i].gtin, document, (uint32_t)(i + 1), till_now_ms(t),
                          NULL) != 0)
      return SALE_ERR_STORAGE;
  }
  return 0;
}

/* Finishes a sold basket whose receipt is FN document number: the cache
** replays the archive (through number when the close just made it: no
** status asked; from made, the receipt as the close parsed it, when it
** could), then the basket goes. */
static int finish(till_t *t, const sale_basket_t *b, uint32_t document, bool just_made,
                  const doc_receipt_t *made)
{
  int rc = made        ? till_replay_made(t, document, made, NULL)
           : just_made ? till_replay_through(t, document, NULL)
                       : till_replay(t, NULL);
  if (rc != 0) return SALE_ERR_STORAGE;
  lane_store_publish(t); /* the store node hears of it (lane_store.h); quiet if down */
  if ((rc = record_pending(t, b, document)) != 0) return rc;
  if (begin(t) != 0) return SALE_ERR_STORAGE;
  if (exec(t, "DELETE FROM line") != SQLITE_OK || exec(t, "DELETE FROM basket") != SQLITE_OK ||
      exec(t, "UPDATE return_link SET open = 0 WHERE open = 1") != SQLITE_OK) {
    rollback(t);
    return SALE_ERR_STORAGE;
  }
  return commit(t);
}

static void to_item(const sale_line_t *l, doc_item_t *item)
{
  memset(item, 0, sizeof *item);
  snprintf(item->name, sizeof item->name, "%s", l->name);
  item->price = l->price;
  item->quantity = l->quantity;
  item->total = l->total;
  item->vat = l->vat;
  item->subject = l->without_code ? 1 : l->subject;
  item->payment_method = 4;
  item->measure = l->measure;
  if (l->marked) {
    item->marked = true;
    item->km_len = strlen(l->km);
    memcpy(item->km, l->km, item->km_len + 1);
    item->km_type = l->km_type;
    item->km_status = l->planned;
    item->check_result = l->tag2106;
    item->has_industry = l->has_industry;
    item->industry = l->industry;
  }
  item->fraction_numerator = l->fraction_numerator;
  item->fraction_denominator = l->fraction_denominator;
  item->agent = l->agent;
  /* 1163 from the code the line was sold by (EAN-13 for a plain good). */
  const char *code = l->marked ? l->km : l->gtin;
  sale_item_product_code(item, code, strlen(code));
}

void sale_item_product_code(doc_item_t *item, const char *code, size_t len)
{
  markcode_t *mc = len ? malloc(sizeof *mc) : NULL; /* a parsed code is large: not on the stack */
  if (mc && markcode_parse(mc, code, len) == MARKCODE_OK && mc->tag1163) {
    size_t n = strlen(mc->tag1163_value);
    if (n < sizeof item->product_value) {
      item->product_tag = (uint16_t)mc->tag1163;
      memcpy(item->product_value, mc->tag1163_value, n + 1);
    }
  }
  free(mc);
}

/* Checks again the marked lines whose FN check was lost. */
static int recheck(till_t *t, sale_basket_t *b, check_decision_t *d)
{
  const char *kis[DOC_MAX_ITEMS];
  check_purpose_t purpose = b->operation == DOC_OP_SALE ? CHECK_FOR_SALE : CHECK_FOR_RETURN;
  for (size_t i = 0; i < b->count; i++) {
    sale_line_t *l = &b->lines[i];
    if (!l->marked || !l->needs_recheck) continue;
    size_t n = 0;
    for (size_t j = 0; j < b->count; j++)
      if (j != i && b->lines[j].marked) kis[n++] = b->lines[j].ki;
    check_request_t req = {.scan = l->km,
                           .len = strlen(l->km),
                           .purpose = purpose,
                           .price = l->price,
                           .in_receipt = kis,
                           .in_receipt_count = n,
                           .fraction_numerator = l->fraction_numerator,
                           .fraction_denominator = l->fraction_denominator,
                           .keep = true};
    if (check_run(t, &req, d) != 0 || !d->allow) return SALE_ERR_REFUSED;
    sqlite3_stmt *s = stmt(t, "UPDATE line SET needs_recheck = 0, tag2106 = ? WHERE id = ?");
    if (!s) return SALE_ERR_STORAGE;
    sqlite3_bind_int(s, 1, d->tag2106);
    sqlite3_bind_int64(s, 2, l->id);
    int step = sqlite3_step(s);
    done(t, s);
    if (step != SQLITE_DONE) return SALE_ERR_STORAGE;
    l->tag2106 = d->tag2106;
    l->needs_recheck = false;
  }
  return 0;
}

uint8_t sale_method_of(const char *name)
{
  static const char *const names[] = {"",     "prepayment-full", "prepayment", "advance",
                                      "full", "partial-credit",  "credit",     "credit-payment"};
  for (uint8_t i = 1; name && i < 8; i++)
    if (!strcmp(name, names[i])) return i;
  return 0;
}

/* 0 when basket b can be closed with payment p: open, not empty, and the
** five forms, each at most the total, adding up to it exactly; else
** SALE_ERR_NO_RECEIPT, SALE_ERR_EMPTY or SALE_ERR_PAYMENT. */
static int closable(const sale_basket_t *b, const fn_payments_t *p)
{
  const uint64_t forms[5] = {p->cash, p->cashless, p->prepaid, p->credit, p->other};
  uint64_t sum = 0;
  if (!b->open) return SALE_ERR_NO_RECEIPT;
  if (b->count == 0) return SALE_ERR_EMPTY;
  for (int i = 0; i < 5; i++) {
    if (forms[i] > b->total) return SALE_ERR_PAYMENT;
    sum += forms[i];
  }
  return sum == b->total ? 0 : SALE_ERR_PAYMENT;
}

int sale_close(till_t *t, uint64_t cash, uint64_t cashless, sale_closed_t *out, check_decision_t *d)
{
  sale_payment_t p = {.cash = cash, .cashless = cashless};
  return sale_close_paid(t, &p, out, d);
}

int sale_close_paid(till_t *t, const sale_payment_t *p, sale_closed_t *out, check_decision_t *d)
{
  sale_basket_t *b = NULL;
  check_decision_t *scratch = NULL;
  doc_item_t *items = NULL;
  fn_status_t st;
  fn_doc_result_t res;
  int rc, frc = 0;
  if (!t || !p) return SALE_ERR_ARGUMENT;
  t->last_fn_error = 0;
  if (p->method > DOC_PAY_CREDIT_PAYMENT || (p->tendered && p->tendered < p->cash))
    return SALE_ERR_PAYMENT;
  uint64_t cash = p->cash, cashless = p->cashless;
  fn_payments_t pay = {.cash = p->cash,
                       .cashless = p->cashless,
                       .prepaid = p->prepaid,
                       .credit = p->credit,
                       .other = p->other};
  if (!d && !(d = scratch = malloc(sizeof *scratch))) return SALE_ERR_STORAGE;
  if (!(b = malloc(sizeof *b))) {
    rc = SALE_ERR_STORAGE;
    goto done;
  }
  /* The basket is loaded and, when no line waits for a check again (the
  ** common case), its closing mark written in one till.db transaction;
  ** otherwise the checks run outside it and the mark is written after. */
  if (begin(t) != 0) {
    rc = SALE_ERR_STORAGE;
    goto done;
  }
  bool base, again = false;
  rc = load_begun(t, b, NULL, &base);
  if (rc == 0) rc = closable(b, &pay);
  for (size_t i = 0; rc == 0 && i < b->count; i++)
    again |= b->lines[i].marked && b->lines[i].needs_recheck;
  if (rc == 0 && !again && (frc = fn_status(t->fn, &st)) == 0)
    rc = set_closing(t, st.last_document);
  rc = rc == 0 && frc == 0 && !again ? commit(t) : (rollback(t), rc);
  kept_commit(t, false, false, NULL); /* the mark moved; the next load reads */
  if (rc != 0) goto done;
  if (frc != 0) goto fn_failed;
  if (again) {
    if ((rc = recheck(t, b, d)) != 0) goto done;
    if ((frc = fn_status(t->fn, &st)) != 0) goto fn_failed;
    if ((rc = set_closing(t, st.last_document)) != 0) goto done;
  }
  /* The receipt is one FN call (fn_receipt_make): made and signed, or
  ** nothing in the FN changed and no FN receipt is left open. */
  if (!(items = malloc((b->count ? b->count : 1) * sizeof *items))) {
    set_closing(t, 0);
    rc = SALE_ERR_STORAGE;
    goto done;
  }
  for (size_t i = 0; i < b->count; i++) {
    to_item(&b->lines[i], &items[i]);
    if (p->method) items[i].payment_method = p->method;
  }
  fn_receipt_order_t order = {.operation = b->operation,
                              .tax_system = (uint8_t)t->config.tax_system,
                              .cashier = b->cashier[0] ? b->cashier : NULL,
                              .items = items,
                              .count = b->count,
                              .pay = pay};
  if ((frc = fn_receipt_make(t->fn, &order, &res)) != 0) {
    /* Nothing was sold. The marked lines are checked again at the next
    ** try: a code the FN no longer holds as accepted (0x3E), or one a
    ** backend without the one call dropped when it cancelled, needs it. */
    mark_recheck(t);
    goto fn_failed;
  }
  /* From here the sale has happened: whatever the till's own files do, the
  ** answer is success, or a cashier would take the money twice. The
  ** receipt is read back from the archive once: the cache's replay and the
  ** QR string both take it from there. */
  static fn_document_t doc;
  doc_header_t h;
  uint64_t total = 0;
  uint8_t sign[6];
  doc_receipt_t *r = malloc(sizeof *r);
  bool parsed = r && fn_document_get(t->fn, res.number, &doc) == 0 &&
                (doc.type == DOC_RECEIPT || doc.type == DOC_CORRECTION) &&
                doc_parse_receipt(doc.data, doc.len, &h, r, &total, sign) == 0;
  bool pending = finish(t, b, res.number, true, parsed ? r : NULL) != 0;
  if (out) {
    memset(out, 0, sizeof *out);
    out->bookkeeping_pending = pending;
    out->doc = res;
    out->operation = b->operation;
    out->total = b->total;
    out->cash = cash;
    out->cashless = cashless;
    out->prepaid = pay.prepaid;
    out->credit = pay.credit;
    out->other = pay.other;
    out->method = p->method ? p->method : DOC_PAY_FULL;
    out->tendered = p->tendered ? p->tendered : cash;
    out->change = out->tendered - cash;
    out->lines = b->count;
    for (size_t i = 0; i < b->count; i++) out->marked_lines += b->lines[i].marked;
    /* The QR string from the archived document itself. */
    if (parsed) {
      doc_receipt_qr(&h, total, r->operation, res.fiscal_sign, out->qr, sizeof out->qr);
      /* The VAT sums as the FN signed them. */
      memcpy(out->vat_sums, r->vat_sums, sizeof out->vat_sums);
      out->vat_present = r->vat_present;
    }
  }
  free(r);
  rc = 0;
  goto done;
fn_failed:
  t->last_fn_error = frc;
  rc = SALE_ERR_FN;
done:
  free(b);
  free(items);
  free(scratch);
  return rc;
}

int sale_recover(till_t *t, char *err, size_t err_size)
{
  sale_basket_t *b = malloc(sizeof *b);
  static fn_document_t doc;
  fn_status_t st;
  uint32_t after = 0, sold = 0;
  int64_t opened_after = -1;
  int rc = -1;
  if (!b) return -1;
  if (load_marks(t, b, &after, &opened_after) != 0 || fn_status(t->fn, &st) != 0) goto fail;
  if (b->open && after > 0 && st.last_document > after &&
      fn_document_get(t->fn, after + 1, &doc) == 0 &&
      (doc.type == DOC_RECEIPT || doc.type == DOC_CORRECTION))
    sold = after + 1;
  /* Without the mark (a power cut took it, or it was never needed): only
  ** this basket makes receipts, so the first receipt the FN made after the
  ** basket opened is the basket's. The FN's own commit is durable; the
  ** basket's are not, and need not be. */
  for (uint32_t n = opened_after < (int64_t)t->fn_base ? 1
                                                       : (uint32_t)(opened_after - t->fn_base) + 1;
       b->open && !sold && opened_after >= 0 && !st.receipt_open && n <= st.last_document; n++) {
    if (fn_document_get(t->fn, n, &doc) != 0) goto fail;
    if (doc.type == DOC_RECEIPT) sold = n;
  }
  if (sold) {
    /* The FN closed the receipt before the crash: it is sold. */
    if (finish(t, b, sold, false, NULL) != 0) goto fail;
  } else {
    if (st.receipt_open && fn_receipt_cancel(t->fn) != 0) goto fail;
    if (b->open && (after > 0 || st.receipt_open) && mark_recheck(t) != 0) goto fail;
    if (load(t, b, NULL) != 0) goto fail;
  }
  if (journal_recover(t, b) != 0) goto fail;
  rc = 0;
fail:
  if (rc != 0)
    snprintf(err, err_size,
             "Не удалось восстановить незакрытый чек: запись на диск кассы или в ФН не "
             "удалась (диск полон?). / Could not repair the receipt a crash left open: "
             "writing to the till's disk or the FN failed (is the disk full?).");
  free(b);
  return rc;
}
