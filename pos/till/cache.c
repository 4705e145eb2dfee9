/*
** pos/till/cache.c: the till's local code cache in one SQLite file (cache.h).
**
** What shapes it is one number: a scan must find its code among ten
** million in a few microseconds, in a process that stays under 64 MB.
** So the code table is a WITHOUT ROWID B-tree keyed by the ki and nothing
** else: one B-tree descent per lookup, no second index to keep up, rows
** as narrow as SQLite can make them. What the ki already says is not
** stored again: the GTIN is characters 2..15 of a GS1 ki (or the first 14
** of a tobacco pack's), so the `gtin` column is NULL unless the ki does
** not say it; the owner's INN (12 bytes on every synced row) is a small
** integer into `owners`; the operator's state and its two flags share one
** integer. Zero and NULL cost SQLite no body bytes, and most columns of
** most rows are one of them. The page cache is bounded (CACHE_PAGES_KIB)
** and memory mapping is off, so a big file costs page-cache reads from the
** kernel, never resident memory: the interior pages of a 10 M-code tree
** fit in the bound, so a lookup reads at most one leaf from the OS.
**
** Counting by local state would scan the table, so `meta` keeps the
** counts, changed in the same transaction as the rows (a status page then
** costs one row read); the crash test holds the counters to the rows.
** Counting stock by GTIN is a range scan of the primary key ("01" GTIN
** ...), which is why no GTIN index exists; the rare codes whose ki does
** not carry a GTIN sit in a partial index that holds only them.
**
** Every write is one transaction (BEGIN IMMEDIATE ... COMMIT, WAL,
** synchronous=FULL; the archive's replay NORMAL, since the archive gives
** it again: tx_begin_light), checked in full before the first row changes, so a
** refusal and a crash both leave the file as it was. Statements are
** prepared once at open and kept in the context.
**
** Schema (PRAGMA user_version = 1):
**   meta     one row: fn_applied (replay pointer), sync cursor, last_sync,
**            the code counters
**   products gtin PK, name, price, vat, grp, group_id, flags   (no rowid)
**   codes    ki PK, local, sold_doc, returned_doc, op, owner, expire, mrp,
**            smp, synced, remarked_to, remarked_from, gtin     (no rowid)
**   owners   id, inn UNIQUE
**   blocks   (kind, value) PK, reason                          (no rowid)
**   pool     id, gtin, ki UNIQUE, code; index (gtin, id)
**   pending  id, gtin, return_doc, line, created, closed_by; UNIQUE
**            (return_doc, line)
** and, made at open by any version (no migration): fn_binding (cache_fn_bind)
** and parts (ki PK, sold, units: the account of a pack sold by parts,
** common/part.h; a row only while the code is SOLD through fractions, so
** the code table stays as narrow as it was).
*/
#include "pos/till/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csv.h>
#include <sqlite3.h>

#include "common/db.h"
#include "common/text.h"
#include "common/errtab.h"
#include "common/part.h"
#include "scanner/markcode.h"

#define SCHEMA_VERSION  1
#define CACHE_PAGES_KIB 16384 /* page cache bound: 16 MiB */
#define BUSY_MS         5000
#define OWNERS_KEPT     16
#define STALE_DEFAULT_H 72u
#define LINE_MAX_BYTES  4096

/* op column: state in bits 0..2, blocked bit 3, sold bit 4. */
#define OP_STATE_MASK 7
#define OP_BLOCKED    8
#define OP_SOLD       16

#define FLAG_MARKING 1
#define FLAG_STRICT  2
#define FLAG_WEIGHED 4
#define FLAG_EXCISE  8

static const char *const schema_v1[] = {
    ("CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1),"
     " fn_applied INTEGER NOT NULL DEFAULT 0, cursor TEXT NOT NULL DEFAULT '',"
     " last_sync INTEGER NOT NULL DEFAULT 0, n_codes INTEGER NOT NULL DEFAULT 0,"
     " n_in_stock INTEGER NOT NULL DEFAULT 0, n_sold INTEGER NOT NULL DEFAULT 0,"
     " n_remarked INTEGER NOT NULL DEFAULT 0, n_synced INTEGER NOT NULL DEFAULT 0,"
     " n_op_blocked INTEGER NOT NULL DEFAULT 0)"),
    "INSERT INTO meta (id) VALUES (1)",
    ("CREATE TABLE products (gtin TEXT PRIMARY KEY, name TEXT NOT NULL, price INTEGER NOT NULL,"
     " vat INTEGER NOT NULL, grp TEXT NOT NULL, group_id INTEGER NOT NULL,"
     " flags INTEGER NOT NULL) WITHOUT ROWID"),
    ("CREATE TABLE codes (ki TEXT PRIMARY KEY, local INTEGER NOT NULL DEFAULT 0,"
     " sold_doc INTEGER NOT NULL DEFAULT 0, returned_doc INTEGER NOT NULL DEFAULT 0,"
     " op INTEGER NOT NULL DEFAULT 0, owner INTEGER NOT NULL DEFAULT 0,"
     " expire INTEGER NOT NULL DEFAULT 0, mrp INTEGER NOT NULL DEFAULT 0,"
     " smp INTEGER NOT NULL DEFAULT 0, synced INTEGER NOT NULL DEFAULT 0,"
     " remarked_to TEXT, remarked_from TEXT, gtin TEXT) WITHOUT ROWID"),
    "CREATE INDEX codes_gtin ON codes (gtin) WHERE gtin IS NOT NULL",
    "CREATE TABLE owners (id INTEGER PRIMARY KEY, inn TEXT NOT NULL UNIQUE)",
    ("CREATE TABLE blocks (kind INTEGER NOT NULL, value TEXT NOT NULL, reason TEXT NOT NULL,"
     " PRIMARY KEY (kind, value)) WITHOUT ROWID"),
    ("CREATE TABLE pool (id INTEGER PRIMARY KEY, gtin TEXT NOT NULL, ki TEXT NOT NULL UNIQUE,"
     " code TEXT NOT NULL)"),
    "CREATE INDEX pool_gtin ON pool (gtin, id)",
    ("CREATE TABLE pending (id INTEGER PRIMARY KEY, gtin TEXT NOT NULL,"
     " return_doc INTEGER NOT NULL, line INTEGER NOT NULL, created INTEGER NOT NULL,"
     " closed_by TEXT, UNIQUE (return_doc, line))"),
};

/* The kept statements. */
enum {
  ST_BEGIN,
  ST_BEGIN_READ,
  ST_COMMIT,
  ST_ROLLBACK,
  ST_META_GET,
  ST_META_COUNTS,
  ST_META_APPLIED,
  ST_META_SYNC,
  ST_PRODUCT_PUT,
  ST_PRODUCT_GET,
  ST_PRODUCT_COUNT,
  ST_CODE_GET,
  ST_CODE_STATE,
  ST_CODE_NEW,
  ST_CODE_LOCAL,
  ST_CODE_SOLD,
  ST_CODE_RETURNED,
  ST_CODE_REMARK_OLD,
  ST_CODE_REMARK_NEW,
  ST_CODE_SYNC_NEW,
  ST_CODE_SYNC_SET,
  ST_STOCK_GS1,
  ST_STOCK_PACK,
  ST_STOCK_EXTRA,
  ST_STOCK_ALL,
  ST_OWNER_FIND,
  ST_OWNER_ADD,
  ST_OWNER_INN,
  ST_BLOCK_PUT,
  ST_BLOCK_DEL,
  ST_BLOCK_GET,
  ST_BLOCK_COUNT,
  ST_POOL_HAS,
  ST_POOL_ADD,
  ST_POOL_OLDEST,
  ST_POOL_DEL,
  ST_POOL_COUNT_GTIN,
  ST_POOL_COUNT,
  ST_PENDING_FIND,
  ST_PENDING_ADD,
  ST_PENDING_GET,
  ST_PENDING_LIST,
  ST_PENDING_CLOSE,
  ST_PENDING_COUNT,
  ST_PART_GET,
  ST_PART_PUT,
  ST_PART_DEL,
  ST__COUNT
};

static const char *const sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_META_GET] = "SELECT fn_applied, cursor, last_sync, n_codes, n_in_stock, n_sold,"
                    " n_remarked, n_synced, n_op_blocked FROM meta WHERE id = 1",
    [ST_META_COUNTS] = "UPDATE meta SET n_codes = n_codes + ?1, n_in_stock = n_in_stock + ?2,"
                       " n_sold = n_sold + ?3, n_remarked = n_remarked + ?4,"
                       " n_synced = n_synced + ?5, n_op_blocked = n_op_blocked + ?6 WHERE id = 1",
    [ST_META_APPLIED] = "UPDATE meta SET fn_applied = ?1 WHERE id = 1",
    [ST_META_SYNC] = "UPDATE meta SET cursor = ?1, last_sync = ?2 WHERE id = 1",
    [ST_PRODUCT_PUT] = "INSERT OR REPLACE INTO products (gtin, name, price, vat, grp, group_id,"
                       " flags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_PRODUCT_GET] =
        "SELECT name, price, vat, grp, group_id, flags FROM products WHERE gtin = ?1",
    [ST_PRODUCT_COUNT] = "SELECT count(*) FROM products",
    [ST_CODE_GET] = "SELECT local, sold_doc, returned_doc, op, owner, expire, mrp, smp, synced,"
                    " remarked_to, remarked_from, gtin FROM codes WHERE ki = ?1",
    [ST_CODE_STATE] = "SELECT local, op, synced, gtin FROM codes WHERE ki = ?1",
    [ST_CODE_NEW] = "INSERT INTO codes (ki, local, sold_doc, returned_doc, remarked_from, gtin)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_CODE_LOCAL] = "UPDATE codes SET local = ?2 WHERE ki = ?1",
    [ST_CODE_SOLD] = "UPDATE codes SET local = ?2, sold_doc = ?3 WHERE ki = ?1",
    [ST_CODE_RETURNED] = "UPDATE codes SET local = ?2, returned_doc = ?3 WHERE ki = ?1",
    [ST_CODE_REMARK_OLD] = "UPDATE codes SET local = 3, remarked_to = ?2 WHERE ki = ?1",
    [ST_CODE_REMARK_NEW] = "UPDATE codes SET local = 1, remarked_from = ?2 WHERE ki = ?1",
    [ST_CODE_SYNC_NEW] = "INSERT INTO codes (ki, op, owner, expire, mrp, smp, synced, gtin)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_CODE_SYNC_SET] = "UPDATE codes SET op = ?2, owner = ?3, expire = ?4, mrp = ?5, smp = ?6,"
                         " synced = ?7, gtin = coalesce(?8, gtin) WHERE ki = ?1",
    [ST_STOCK_GS1] = "SELECT count(*) FROM codes WHERE ki >= ?1 AND ki < ?2 AND local = ?3"
                     " AND gtin IS NULL",
    [ST_STOCK_PACK] = "SELECT count(*) FROM codes WHERE ki >= ?1 AND ki < ?2 AND local = ?3"
                      " AND gtin IS NULL AND length(ki) = 21",
    [ST_STOCK_EXTRA] = "SELECT count(*) FROM codes WHERE gtin = ?1 AND local = ?2",
    [ST_STOCK_ALL] = "SELECT n_in_stock FROM meta WHERE id = 1",
    [ST_OWNER_FIND] = "SELECT id FROM owners WHERE inn = ?1",
    [ST_OWNER_ADD] = "INSERT INTO owners (inn) VALUES (?1)",
    [ST_OWNER_INN] = "SELECT inn FROM owners WHERE id = ?1",
    [ST_BLOCK_PUT] = "INSERT INTO blocks (kind, value, reason) VALUES (?1, ?2, ?3)"
                     " ON CONFLICT (kind, value) DO UPDATE SET reason = excluded.reason",
    [ST_BLOCK_DEL] = "DELETE FROM blocks WHERE kind = ?1 AND value = ?2",
    [ST_BLOCK_GET] = "SELECT reason FROM blocks WHERE kind = ?1 AND value = ?2",
    [ST_BLOCK_COUNT] = "SELECT count(*) FROM blocks",
    [ST_POOL_HAS] = "SELECT 1 FROM pool WHERE ki = ?1",
    [ST_POOL_ADD] = "INSERT INTO pool (gtin, ki, code) VALUES (?1, ?2, ?3)",
    [ST_POOL_OLDEST] = "SELECT id, ki, code FROM pool WHERE gtin = ?1 ORDER BY id LIMIT 1",
    [ST_POOL_DEL] = "DELETE FROM pool WHERE id = ?1",
    [ST_POOL_COUNT_GTIN] = "SELECT count(*) FROM pool WHERE gtin = ?1",
    [ST_POOL_COUNT] = "SELECT count(*) FROM pool",
    [ST_PENDING_FIND] = "SELECT id, gtin FROM pending WHERE return_doc = ?1 AND line = ?2",
    [ST_PENDING_ADD] = "INSERT INTO pending (gtin, return_doc, line, created)"
                       " VALUES (?1, ?2, ?3, ?4)",
    [ST_PENDING_GET] = "SELECT gtin, return_doc, line, closed_by FROM pending WHERE id = ?1",
    [ST_PENDING_LIST] = "SELECT id, gtin, return_doc, line, created FROM pending"
                        " WHERE closed_by IS NULL ORDER BY id LIMIT ?1",
    [ST_PENDING_CLOSE] = "UPDATE pending SET closed_by = ?2 WHERE id = ?1",
    [ST_PENDING_COUNT] = "SELECT count(*) FROM pending WHERE closed_by IS NULL",
    [ST_PART_GET] = "SELECT sold, units FROM parts WHERE ki = ?1",
    [ST_PART_PUT] = "INSERT OR REPLACE INTO parts (ki, sold, units) VALUES (?1, ?2, ?3)",
    [ST_PART_DEL] = "DELETE FROM parts WHERE ki = ?1",
};

typedef struct owner_kept {
  int64_t id;
  char inn[13];
} owner_kept_t;

/* How one transaction moves the counters in meta. */
typedef struct counts_delta {
  int64_t codes, in_stock, sold, remarked, synced, op_blocked;
} counts_delta_t;

struct cache {
  sqlite3 *db;
  sqlite3_stmt *st[ST__COUNT];
  bool sync_light; /* the connection's synchronous is NORMAL now (tx_begin_light) */
  owner_kept_t owners[OWNERS_KEPT]; /* committed rows only: cleared on rollback */
  size_t owner_count;
  char error[512];
  char reason[CACHE_REASON_MAX + 1];
};

/* ---------------------------------------------------------------------- */
/* Names and messages                                                      */

static const errtab_t errors[] = {
    {CACHE_OK, "ok", "Готово.", "Done."},
    {CACHE_ERR_ARGUMENT, "argument", "Неверный параметр для кэша кодов.",
     "Bad parameter for the code cache."},
    {CACHE_ERR_NOT_FOUND, "not_found", "Не найдено в кэше кодов.", "Not found in the code cache."},
    {CACHE_ERR_IO, "io", "Ошибка файла кэша кодов (диск полон или файл повреждён).",
     "The code cache file failed (disk full or file damaged)."},
    {CACHE_ERR_STATE, "state",
     "Код в состоянии, которое не допускает это действие (продан, перемаркирован, "
     "или шаги не по порядку).",
     "The code is in a state that does not allow this (sold, remarked, or steps out "
     "of order)."},
    {CACHE_ERR_EMPTY, "empty",
     "В пуле нет свободных кодов для этого товара: закажите коды у оператора.",
     "The pool holds no fresh code for this product: order codes from the operator."},
    {CACHE_ERR_FORMAT, "format", "Файл для загрузки содержит ошибку (см. номер строки).",
     "The import file has an error (see the line number)."},
    ERRTAB_END("Неизвестная ошибка кэша кодов.", "Unknown code cache error."),
};

const char *cache_err_name(int err) { return errtab_name(errors, err); }

const char *cache_err_message(int err, bool ru) { return errtab_message(errors, err, ru); }

const char *cache_local_name(cache_local_state_t s)
{
  static const char *const names[] = {"none", "in_stock", "sold", "remarked"};
  return (unsigned)s < 4 ? names[s] : "?";
}

const char *cache_op_name(cache_op_state_t s)
{
  static const char *const names[] = {"unknown", "emitted", "applied", "circulation", "retired"};
  return (unsigned)s < 5 ? names[s] : "?";
}

const char *cache_block_kind_name(cache_block_kind_t k)
{
  switch (k) {
  case CACHE_BLOCK_CODE:
    return "code";
  case CACHE_BLOCK_GTIN:
    return "gtin";
  case CACHE_BLOCK_SERIES:
    return "series";
  default:
    return "?";
  }
}

const char *cache_last_error(const cache_t *c) { return c ? c->error : ""; }

/* ---------------------------------------------------------------------- */
/* SQLite plumbing                                                         */

static void set_error(cache_t *c, const char *format, ...)
{
  va_list ap;
  va_start(ap, format);
  vsnprintf(c->error, sizeof c->error, format, ap);
  va_end(ap);
}

/* Records SQLite's reason; returns CACHE_ERR_IO. */
static int io_fail(cache_t *c, const char *what)
{
  set_error(c, "%s: %s", what, sqlite3_errmsg(c->db));
  return CACHE_ERR_IO;
}

/* A kept statement, reset and with its bindings cleared. */
static sqlite3_stmt *st(cache_t *c, int which)
{
  sqlite3_stmt *s = c->st[which];
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return s;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
  if (v)
    sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(s, i);
}

/* Steps a statement that returns no row. */
static int step_done(cache_t *c, sqlite3_stmt *s, const char *what)
{
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc == SQLITE_DONE ? 0 : io_fail(c, what);
}

/* Steps a statement that returns one integer (count(*) and the like). */
static int step_int(cache_t *c, sqlite3_stmt *s, int64_t *out, const char *what)
{
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return 0;
  }
  sqlite3_reset(s);
  return io_fail(c, what);
}

static int exec(cache_t *c, const char *text);

/* Sets the connection's synchronous level for the next transaction (a
** pragma only when it changes: a till selling does no other writes). */
static int sync_level(cache_t *c, bool light)
{
  if (c->sync_light == light) return 0;
  if (exec(c, light ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL") != 0)
    return CACHE_ERR_IO;
  c->sync_light = light;
  return 0;
}

static int tx_begin(cache_t *c)
{
  int rc = sync_level(c, false);
  return rc ? rc : step_done(c, st(c, ST_BEGIN), "begin");
}

/* A transaction whose commit need not wait for the disk (synchronous=
** NORMAL): only for what the FN archive can give again, the replay of its
** documents (cache_apply_receipt). A killed process loses nothing (WAL);
** a power cut may lose the last replays, and their pointer with them in
** the same transaction, so the next till_open() applies them again. The
** FN's own commit is then the receipt's one flush (docs/ARCHITECTURE.md,
** "One flush per receipt"). */
static int tx_begin_light(cache_t *c)
{
  int rc = sync_level(c, true);
  return rc ? rc : step_done(c, st(c, ST_BEGIN), "begin");
}

static int tx_commit(cache_t *c) { return step_done(c, st(c, ST_COMMIT), "commit"); }

/* Rolls back whatever is open; owners read inside it may be gone. */
static void tx_rollback(cache_t *c)
{
  if (!sqlite3_get_autocommit(c->db)) {
    sqlite3_stmt *s = st(c, ST_ROLLBACK);
    sqlite3_step(s);
    sqlite3_reset(s);
  }
  c->owner_count = 0;
}

/* Ends a write: commit on rc == 0, else roll back; returns the outcome. */
static int tx_end(cache_t *c, int rc)
{
  if (rc == 0) rc = tx_commit(c);
  if (rc != 0) tx_rollback(c);
  return rc;
}

static int counts_write(cache_t *c, const counts_delta_t *d)
{
  sqlite3_stmt *s;
  if (!d->codes && !d->in_stock && !d->sold && !d->remarked && !d->synced && !d->op_blocked)
    return 0;
  s = st(c, ST_META_COUNTS);
  sqlite3_bind_int64(s, 1, d->codes);
  sqlite3_bind_int64(s, 2, d->in_stock);
  sqlite3_bind_int64(s, 3, d->sold);
  sqlite3_bind_int64(s, 4, d->remarked);
  sqlite3_bind_int64(s, 5, d->synced);
  sqlite3_bind_int64(s, 6, d->op_blocked);
  return step_done(c, s, "counters");
}

/* Moves the local-state counters for one code going from `from` to `to`. */
static void count_local(counts_delta_t *d, int from, int to)
{
  if (from == to) return;
  if (from == CACHE_LOCAL_IN_STOCK) d->in_stock--;
  if (from == CACHE_LOCAL_SOLD) d->sold--;
  if (from == CACHE_LOCAL_REMARKED) d->remarked--;
  if (to == CACHE_LOCAL_IN_STOCK) d->in_stock++;
  if (to == CACHE_LOCAL_SOLD) d->sold++;
  if (to == CACHE_LOCAL_REMARKED) d->remarked++;
}

/* ---------------------------------------------------------------------- */
/* Values                                                                  */

static bool all_digits(const char *p, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return false;
  }
  return true;
}

/* A GTIN of 8, 13 or 14 digits with its check digit, padded to 14. */
static bool gtin_pad(const char *in, char out[15])
{
  size_t n = in ? strlen(in) : 0;
  if ((n != 8 && n != 13 && n != 14) || !all_digits(in, n) || !markcode_gs1_check_ok(in, n))
    return false;
  memset(out, '0', 14 - n);
  memcpy(out + 14 - n, in, n);
  out[14] = '\0';
  return true;
}

/* A ki: 1..CACHE_KI_MAX printable ASCII characters (no GS: a full code is
** not a ki). */
static bool ki_ok(const char *ki)
{
  size_t n = 0;
  if (!ki) return false;
  for (; ki[n]; n++) {
    if ((unsigned char)ki[n] <= 0x20 || (unsigned char)ki[n] >= 0x7f) return false;
  }
  return n > 0 && n <= CACHE_KI_MAX;
}

/* The GTIN a ki carries: 01 GTIN [21 serial], or a tobacco pack's 14
** digits + 7 serial characters (21 in all, a length no GS1 marking ki has).
** "" when the ki carries none (fur tags). */
static bool ki_gtin(const char *ki, char gtin[15])
{
  size_t n = strlen(ki);
  gtin[0] = '\0';
  if (n == 21 && all_digits(ki, 14)) {
    memcpy(gtin, ki, 14);
  } else if (n >= 16 && ki[0] == '0' && ki[1] == '1' && all_digits(ki + 2, 14) &&
             (n == 16 || (n >= 18 && ki[16] == '2' && ki[17] == '1'))) {
    memcpy(gtin, ki + 2, 14);
  } else {
    return false;
  }
  gtin[14] = '\0';
  return true;
}

/* The gtin column for a code: NULL when the ki already says it. */
static const char *gtin_column(const char *ki, const char *gtin, char derived[15])
{
  bool has = ki_gtin(ki, derived);
  if (!gtin || !gtin[0]) return NULL;
  if (has && strcmp(derived, gtin) == 0) return NULL;
  return gtin;
}

static bool inn_ok(const char *inn)
{
  size_t n = inn ? strlen(inn) : 0;
  return n == 0 || ((n == 10 || n == 12) && all_digits(inn, n));
}

/* Number of UTF-8 characters, or -1 when s is not valid UTF-8. */
static long utf8_chars(const char *s)
{
  long count = 0;
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    size_t extra = *p < 0x80             ? 0
                   : (*p & 0xE0) == 0xC0 ? 1
                   : (*p & 0xF0) == 0xE0 ? 2
                   : (*p & 0xF8) == 0xF0 ? 3
                                         : 9;
    if (extra == 9 || (*p >= 0x80 && *p < 0xC2)) return -1;
    for (size_t k = 1; k <= extra; k++) {
      if ((p[k] & 0xC0) != 0x80) return -1;
    }
    p += extra + 1;
    count++;
  }
  return count;
}

/* ---------------------------------------------------------------------- */
/* Open and close                                                          */

static int exec(cache_t *c, const char *text)
{
  return db_exec(c->db, text, c->error, sizeof c->error) == SQLITE_OK ? 0 : CACHE_ERR_IO;
}

/* Reads one text or integer PRAGMA answer into out. */
static int pragma_text(cache_t *c, const char *text, char *out, size_t cap)
{
  return db_pragma_text(c->db, text, out, cap) == SQLITE_OK ? 0 : io_fail(c, text);
}

/* Creates the schema in one transaction, or checks that it is ours. */
static int schema_ensure(cache_t *c)
{
  char version[32];
  int rc;
  if ((rc = exec(c, "BEGIN IMMEDIATE")) != 0) return rc;
  if ((rc = pragma_text(c, "PRAGMA user_version", version, sizeof version)) != 0) goto fail;
  if (atoi(version) == 0) {
    char set[64];
    for (size_t i = 0; i < sizeof schema_v1 / sizeof schema_v1[0]; i++) {
      if ((rc = exec(c, schema_v1[i])) != 0) goto fail;
    }
    snprintf(set, sizeof set, "PRAGMA user_version = %d", SCHEMA_VERSION);
    if ((rc = exec(c, set)) != 0) goto fail;
  } else if (atoi(version) != SCHEMA_VERSION) {
    set_error(c, "cache schema version %s, this program knows %d", version, SCHEMA_VERSION);
    rc = CACHE_ERR_IO;
    goto fail;
  }
  return exec(c, "COMMIT");
fail:
  sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

int cache_open(const char *path, cache_t **out)
{
  cache_t *c = NULL;
  char answer[32];
  int fd;

  if (!out) return CACHE_ERR_ARGUMENT;
  *out = NULL;
  if (!path || !path[0]) return CACHE_ERR_ARGUMENT;
  db_process_setup();
  /* Created here, not by SQLite, so the mode is 0600 from the first byte;
  ** SQLite gives the -wal and -shm files the same mode. */
  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return CACHE_ERR_IO;
  close(fd);
  if (!(c = calloc(1, sizeof *c))) return CACHE_ERR_IO;
  /* NOMUTEX: one thread at a time (above), so SQLite need not lock per call. */
  if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
    goto fail;
  sqlite3_busy_timeout(c->db, BUSY_MS); /* the service and a CLI command may share the file */
  if (pragma_text(c, "PRAGMA journal_mode=WAL", answer, sizeof answer) != 0 ||
      strcmp(answer, "wal") != 0 || exec(c, "PRAGMA synchronous=FULL") != 0 ||
      pragma_text(c, "PRAGMA synchronous", answer, sizeof answer) != 0 ||
      strcmp(answer, "2") != 0 || exec(c, "PRAGMA mmap_size=0") != 0)
    goto fail;
  {
    char bound[64];
    snprintf(bound, sizeof bound, "PRAGMA cache_size=-%d", CACHE_PAGES_KIB);
    if (exec(c, bound) != 0) goto fail;
  }
  if (schema_ensure(c) != 0) goto fail;
  /* The FNs the replay has numbered documents of (cache_fn_bind); kept
  ** apart from the v1 schema, so older files take it without a migration. */
  if (exec(c, "CREATE TABLE IF NOT EXISTS fn_binding (seq INTEGER PRIMARY KEY,"
              " fn_number TEXT NOT NULL UNIQUE, base INTEGER NOT NULL)") != 0 ||
      exec(c, "CREATE TABLE IF NOT EXISTS parts (ki TEXT PRIMARY KEY, sold INTEGER NOT NULL,"
              " units INTEGER NOT NULL) WITHOUT ROWID") != 0)
    goto fail;
  for (int i = 0; i < ST__COUNT; i++) {
    if (sqlite3_prepare_v3(c->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i], NULL) !=
        SQLITE_OK)
      goto fail;
  }
  *out = c;
  return 0;
fail:
  cache_close(c);
  return CACHE_ERR_IO;
}

void cache_close(cache_t *c)
{
  if (!c) return;
  for (int i = 0; i < ST__COUNT; i++) sqlite3_finalize(c->st[i]);
  sqlite3_close(c->db);
  free(c);
}

/* ---------------------------------------------------------------------- */
/* Catalogue                                                               */

static int product_check(cache_t *c, const cache_product_t *p)
{
  long chars = utf8_chars(p->name);
  size_t n = strnlen(p->gtin, sizeof p->gtin);
  if (n != 14 || !all_digits(p->gtin, 14) || !markcode_gs1_check_ok(p->gtin, 14)) {
    set_error(c, "GTIN '%.14s' is not 14 digits with a valid check digit", p->gtin);
    return CACHE_ERR_ARGUMENT;
  }
  if (strnlen(p->name, sizeof p->name) == sizeof p->name || chars <= 0 || chars > CACHE_NAME_MAX) {
    set_error(c, "product %s: the name must be 1..%d UTF-8 characters", p->gtin, CACHE_NAME_MAX);
    return CACHE_ERR_ARGUMENT;
  }
  if (strnlen(p->group, sizeof p->group) == sizeof p->group) {
    set_error(c, "product %s: the group name is longer than %d", p->gtin, CACHE_GROUP_MAX);
    return CACHE_ERR_ARGUMENT;
  }
  if (p->vat < 1 || p->vat > 12) {
    set_error(c, "product %s: VAT rate %u is not a 1199 value (1..12)", p->gtin, p->vat);
    return CACHE_ERR_ARGUMENT;
  }
  if (p->price > (uint64_t)INT64_MAX) {
    set_error(c, "product %s: the price is out of range", p->gtin);
    return CACHE_ERR_ARGUMENT;
  }
  return 0;
}

static int product_write(cache_t *c, const cache_product_t *p)
{
  sqlite3_stmt *s = st(c, ST_PRODUCT_PUT);
  int flags = (p->marking_required ? FLAG_MARKING : 0) | (p->strict ? FLAG_STRICT : 0) |
              (p->weighed ? FLAG_WEIGHED : 0) | (p->excise ? FLAG_EXCISE : 0);
  sqlite3_bind_text(s, 1, p->gtin, 14, SQLITE_STATIC);
  bind_text(s, 2, p->name);
  sqlite3_bind_int64(s, 3, (sqlite3_int64)p->price);
  sqlite3_bind_int(s, 4, p->vat);
  bind_text(s, 5, p->group);
  sqlite3_bind_int(s, 6, p->group_id);
  sqlite3_bind_int(s, 7, flags);
  return step_done(c, s, "product put");
}

int cache_product_put(cache_t *c, const cache_product_t *p)
{
  int rc;
  if (!c || !p) return CACHE_ERR_ARGUMENT;
  if ((rc = product_check(c, p)) != 0) return rc;
  if ((rc = tx_begin(c)) != 0) return rc;
  return tx_end(c, product_write(c, p));
}

int cache_product_get(cache_t *c, const char *gtin, cache_product_t *out)
{
  char key[15];
  sqlite3_stmt *s;
  int rc, flags;
  if (!c || !out || !gtin_pad(gtin, key)) return CACHE_ERR_ARGUMENT;
  s = st(c, ST_PRODUCT_GET);
  sqlite3_bind_text(s, 1, key, 14, SQLITE_STATIC);
  rc = sqlite3_step(s);
  if (rc == SQLITE_DONE) {
    sqlite3_reset(s);
    return CACHE_ERR_NOT_FOUND;
  }
  if (rc != SQLITE_ROW) {
    sqlite3_reset(s);
    return io_fail(c, "product get");
  }
  memset(out, 0, sizeof *out);
  memcpy(out->gtin, key, sizeof out->gtin);
  db_column_text(s, 0, out->name, sizeof out->name);
  out->price = (uint64_t)sqlite3_column_int64(s, 1);
  out->vat = (uint8_t)sqlite3_column_int(s, 2);
  db_column_text(s, 3, out->group, sizeof out->group);
  out->group_id = sqlite3_column_int(s, 4);
  flags = sqlite3_column_int(s, 5);
  out->marking_required = flags & FLAG_MARKING;
  out->strict = flags & FLAG_STRICT;
  out->weighed = flags & FLAG_WEIGHED;
  out->excise = flags & FLAG_EXCISE;
  sqlite3_reset(s);
  return 0;
}

/* name lower-cased into out (size bytes) for a search: ASCII and the
** Russian alphabet (А-Я, Ё), ё as е; other characters as they are. */
static void search_fold(const char *name, char *out, size_t size)
{
  const unsigned char *p = (const unsigned char *)name;
  size_t n = 0;
  while (*p && n + 3 < size) {
    if (*p < 0x80) {
      out[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
      p++;
      continue;
    }
    if ((p[0] == 0xD0 || p[0] == 0xD1) && p[1]) {
      unsigned cp = ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu);
      if (cp >= 0x410 && cp <= 0x42F) cp += 0x20; /* А-Я -> а-я */
      if (cp == 0x401 || cp == 0x451) cp = 0x435; /* Ё, ё -> е */
      out[n++] = (char)(0xC0 | (cp >> 6));
      out[n++] = (char)(0x80 | (cp & 0x3F));
      p += 2;
      continue;
    }
    out[n++] = (char)*p++;
  }
  out[n] = '\0';
}

int cache_product_search(cache_t *c, const char *query, cache_product_t *out, size_t max,
                         size_t *count)
{
  char want[CACHE_NAME_MAX * 4 + 1], name[CACHE_NAME_MAX * 4 + 1];
  sqlite3_stmt *s = NULL;
  size_t n = 0;
  int step, rc = 0;
  size_t chars = 0;
  if (count) *count = 0;
  for (const char *q = query; q && *q; q++) chars += ((unsigned char)*q & 0xC0) != 0x80;
  if (!c || !query || !out || !count || chars < 2 || strlen(query) >= sizeof want)
    return CACHE_ERR_ARGUMENT;
  search_fold(query, want, sizeof want);
  if (sqlite3_prepare_v2(c->db, "SELECT gtin, name FROM products ORDER BY name, gtin", -1, &s,
                         NULL) != SQLITE_OK)
    return io_fail(c, "product search");
  while (n < max && (step = sqlite3_step(s)) == SQLITE_ROW) {
    const char *gtin = (const char *)sqlite3_column_text(s, 0);
    const char *text = (const char *)sqlite3_column_text(s, 1);
    if (!gtin || !text) continue;
    search_fold(text, name, sizeof name);
    if (!strstr(name, want) && !strstr(gtin, query)) continue;
    char key[15];
    snprintf(key, sizeof key, "%s", gtin);
    if ((rc = cache_product_get(c, key, &out[n])) != 0) break;
    n++;
  }
  if (rc == 0 && n < max && step != SQLITE_DONE) rc = io_fail(c, "product search");
  sqlite3_finalize(s);
  *count = n;
  return rc;
}

/* One catalogue line, already split. */
typedef struct import_line {
  cache_product_t p;
  size_t line;
} import_line_t;

/* Formats "line N: en / строка N: ru" into err; returns CACHE_ERR_FORMAT. */
static int line_error(char *err, size_t size, size_t line, const char *en, const char *ru,
                      const char *value)
{
  if (err && size)
    snprintf(err, size, "line %zu: %s%s%s%s / строка %zu: %s", line, en, value ? " '" : "",
             value ? value : "", value ? "'" : "", line, ru);
  return CACHE_ERR_FORMAT;
}

/* Kopecks from roubles with an optional dot and 1-2 decimals. */
static bool parse_roubles(const char *s, uint64_t *out)
{
  uint64_t r = 0;
  size_t i = 0, decimals = 0;
  if (!s[0]) return false;
  for (; s[i] && s[i] != '.'; i++) {
    if (s[i] < '0' || s[i] > '9' || i >= 12) return false;
    r = r * 10 + (uint64_t)(s[i] - '0');
  }
  r *= 100;
  if (s[i] == '.') {
    const char *f = s + i + 1;
    size_t n = strlen(f);
    if (n < 1 || n > 2 || !all_digits(f, n)) return false;
    decimals = (size_t)(f[0] - '0') * 10 + (n == 2 ? (size_t)(f[1] - '0') : 0);
  }
  if (i == 0) return false;
  *out = r + decimals;
  return true;
}

static bool parse_flag(const char *s, bool *out)
{
  if (strcmp(s, "0") != 0 && strcmp(s, "1") != 0) return false;
  *out = s[0] == '1';
  return true;
}

static bool parse_small(const char *s, long max, long *out)
{
  char *end;
  long v;
  if (!s[0] || !all_digits(s, strlen(s)) || strlen(s) > 6) return false;
  v = strtol(s, &end, 10);
  if (*end || v > max) return false;
  *out = v;
  return true;
}

/*
** One catalogue line cut into its fields by libcsv (RFC 4180 with ';' as
** the separator): a field may be quoted ("Кеды; размер 42"), a quote inside
** it doubled (""), and spaces are kept as written. The fields are copied,
** NUL-terminated, into buf (as long as the line, plus a NUL per field).
*/
#define CATALOGUE_FIELDS 10

typedef struct csv_split {
  char *buf;
  size_t used, cap;
  char *field[CATALOGUE_FIELDS + 1];
  size_t fields;  /* fields seen (may pass CATALOGUE_FIELDS + 1: only counted) */
  size_t records; /* records seen: one for a well-formed line */
} csv_split_t;

static void csv_on_field(void *data, size_t len, void *user)
{
  csv_split_t *s = user;
  if (s->fields <= CATALOGUE_FIELDS && s->used + len + 1 <= s->cap) {
    s->field[s->fields] = s->buf + s->used;
    if (len) memcpy(s->buf + s->used, data, len);
    s->buf[s->used + len] = '\0';
    s->used += len + 1;
  }
  s->fields++;
}

static void csv_on_record(int terminator, void *user)
{
  (void)terminator;
  ((csv_split_t *)user)->records++;
}

static int csv_keep_spaces(unsigned char c)
{
  (void)c;
  return 0;
}

/* The ten fields of one data line (already split) into *p. */
static int import_fields(char **field, size_t line, cache_product_t *p, char *err, size_t err_size)
{
  long v;
  if (!gtin_pad(field[0], p->gtin))
    return line_error(err, err_size, line,
                      "the GTIN is not 8, 13 or 14 digits with a valid check digit",
                      "GTIN не из 8, 13 или 14 цифр с верной контрольной цифрой", field[0]);
  v = utf8_chars(field[1]);
  if (v <= 0 || v > CACHE_NAME_MAX || strlen(field[1]) >= sizeof p->name)
    return line_error(err, err_size, line, "the name must be 1..128 UTF-8 characters",
                      "название должно быть от 1 до 128 символов UTF-8", NULL);
  memcpy(p->name, field[1], strlen(field[1]) + 1);
  if (!parse_roubles(field[2], &p->price))
    return line_error(err, err_size, line, "the price is not roubles with a dot (89.90)",
                      "цена не в рублях с точкой (89.90)", field[2]);
  if (!parse_small(field[3], 12, &v) || v < 1)
    return line_error(err, err_size, line, "the VAT rate is not a 1199 value 1..12",
                      "ставка НДС не значение 1199 от 1 до 12", field[3]);
  p->vat = (uint8_t)v;
  if (strlen(field[4]) > CACHE_GROUP_MAX)
    return line_error(err, err_size, line, "the group name is longer than 24",
                      "название группы длиннее 24", field[4]);
  for (const char *g = field[4]; *g; g++) {
    if (!((*g >= 'a' && *g <= 'z') || *g == '_'))
      return line_error(err, err_size, line, "the group is not lower-case latin letters",
                        "группа не из строчных латинских букв", field[4]);
  }
  memcpy(p->group, field[4], strlen(field[4]) + 1);
  if (!parse_small(field[5], 999, &v))
    return line_error(err, err_size, line, "group_id is not a number 0..999",
                      "group_id не число от 0 до 999", field[5]);
  p->group_id = (int)v;
  if (!parse_flag(field[6], &p->marking_required) || !parse_flag(field[7], &p->strict) ||
      !parse_flag(field[8], &p->weighed) || !parse_flag(field[9], &p->excise))
    return line_error(err, err_size, line, "marking, strict, weighed, excise must be 0 or 1",
                      "marking, strict, weighed, excise должны быть 0 или 1", NULL);
  if (p->marking_required && !p->group[0])
    return line_error(err, err_size, line, "a marked product needs its group",
                      "для маркированного товара нужна товарная группа", NULL);
  if ((p->strict || p->excise) && !p->marking_required)
    return line_error(err, err_size, line, "strict accounting and excise need marking = 1",
                      "строгий учёт и акциз требуют marking = 1", NULL);
  return 0;
}

/* Parses one data line of the catalogue into *p. */
static int import_parse(char *text, size_t line, cache_product_t *p, char *err, size_t err_size)
{
  struct csv_parser parser;
  csv_split_t split;
  char **field = split.field;
  size_t len = strlen(text), n;
  int bad;
  memset(p, 0, sizeof *p);
  memset(&split, 0, sizeof split);
  split.cap = len + CATALOGUE_FIELDS + 2;
  if (!(split.buf = malloc(split.cap)) || csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
    free(split.buf);
    return line_error(err, err_size, line, "out of memory", "недостаточно памяти", NULL);
  }
  csv_set_delim(&parser, ';');
  csv_set_space_func(&parser, csv_keep_spaces);
  bad = csv_parse(&parser, text, len, csv_on_field, csv_on_record, &split) != len ||
        csv_fini(&parser, csv_on_field, csv_on_record, &split) != 0;
  csv_free(&parser);
  n = split.fields;
  if (bad || split.records != 1) {
    free(split.buf);
    return line_error(err, err_size, line, "a quoted field is not closed or a quote is stray",
                      "кавычки в строке не закрыты или стоят не на месте", NULL);
  }
  /* The fields live in split.buf until the end of this call. */
  int rc = 0;
  if (n != CATALOGUE_FIELDS)
    rc = line_error(err, err_size, line, "expected 10 fields separated by ';'",
                    "ожидается 10 полей через ';'", NULL);
  else
    rc = import_fields(field, line, p, err, err_size);
  free(split.buf);
  return rc;
}

static const char catalogue_header[] = "gtin;name;price;vat;group;group_id;marking;strict;weighed;"
                                       "excise";

int cache_catalogue_import(cache_t *c, const char *path, size_t *count, char *err, size_t err_size)
{
  FILE *f = NULL;
  char *text = NULL;
  size_t cap = 0, line = 0, n = 0, lines_cap = 0;
  ssize_t got;
  import_line_t *lines = NULL;
  bool header = false;
  int rc = 0;

  if (count) *count = 0;
  if (err && err_size) err[0] = '\0';
  if (!c || !path) return CACHE_ERR_ARGUMENT;
  if (!(f = fopen(path, "r"))) {
    if (err && err_size)
      snprintf(err, err_size, "%s: %s / файл не читается", path, strerror(errno));
    return CACHE_ERR_NOT_FOUND;
  }
  while ((got = getline(&text, &cap, f)) >= 0) {
    size_t len = (size_t)got;
    char *s = text;
    line++;
    if (len > LINE_MAX_BYTES) {
      rc = line_error(err, err_size, line, "the line is too long", "строка слишком длинная", NULL);
      goto done;
    }
    if (memchr(s, '\0', len)) {
      rc = line_error(err, err_size, line, "the line holds a NUL byte", "в строке байт NUL", NULL);
      goto done;
    }
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r')) s[--len] = '\0';
    if (line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3; /* UTF-8 BOM */
    /* Names go into fiscal documents: UTF-8 without control characters
    ** (an invalid byte used to be imported, then the FN refused every
    ** receipt with the product; issue 18). */
    size_t at = 0;
    text_fault_t fault = text_check(s, strlen(s), &at);
    if (fault != TEXT_OK) {
      char where[32];
      snprintf(where, sizeof where, "byte %zu", at + 1);
      rc = line_error(err, err_size, line, text_fault_en(fault), text_fault_ru(fault), where);
      goto done;
    }
    if (!s[0] || s[0] == '#') continue;
    if (!header) {
      if (strcmp(s, catalogue_header) != 0) {
        rc = line_error(err, err_size, line, "the header must be", "заголовок должен быть",
                        catalogue_header);
        goto done;
      }
      header = true;
      continue;
    }
    if (n == lines_cap) {
      size_t grown_cap = lines_cap ? lines_cap * 2 : 64;
      import_line_t *grown = realloc(lines, grown_cap * sizeof *grown);
      if (!grown) {
        rc = CACHE_ERR_IO;
        set_error(c, "out of memory");
        goto done;
      }
      lines = grown;
      lines_cap = grown_cap;
    }
    if ((rc = import_parse(s, line, &lines[n].p, err, err_size)) != 0) goto done;
    lines[n].line = line;
    for (size_t k = 0; k < n; k++) {
      if (strcmp(lines[k].p.gtin, lines[n].p.gtin) == 0) {
        char also[64];
        snprintf(also, sizeof also, "%s, line %zu / строка %zu", lines[n].p.gtin, lines[k].line,
                 lines[k].line);
        rc = line_error(err, err_size, line, "this GTIN is already on", "этот GTIN уже есть", also);
        goto done;
      }
    }
    n++;
  }
  if (ferror(f)) {
    rc = CACHE_ERR_IO;
    goto done;
  }
  if (!header) {
    rc = line_error(err, err_size, line ? line : 1, "no header line", "нет строки заголовка",
                    catalogue_header);
    goto done;
  }
  if ((rc = tx_begin(c)) != 0) goto done;
  for (size_t i = 0; i < n && rc == 0; i++) rc = product_write(c, &lines[i].p);
  if ((rc = tx_end(c, rc)) == 0 && count) *count = n;
done:
  free(lines);
  free(text);
  fclose(f);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Codes                                                                   */

/* The local state of a code inside a write. *exists false when no row. */
typedef struct code_state {
  bool exists;
  int local;
  int op;
  int64_t synced;
} code_state_t;

static int code_state(cache_t *c, const char *ki, code_state_t *out)
{
  sqlite3_stmt *s = st(c, ST_CODE_STATE);
  int rc;
  bind_text(s, 1, ki);
  rc = sqlite3_step(s);
  memset(out, 0, sizeof *out);
  if (rc == SQLITE_ROW) {
    out->exists = true;
    out->local = sqlite3_column_int(s, 0);
    out->op = sqlite3_column_int(s, 1);
    out->synced = sqlite3_column_int64(s, 2);
  }
  sqlite3_reset(s);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : io_fail(c, "code state");
}

/* Inserts a code with only local facts. */
static int code_insert(cache_t *c, const char *ki, int local, uint32_t sold_doc,
                       uint32_t returned_doc, const char *remarked_from, const char *gtin)
{
  sqlite3_stmt *s = st(c, ST_CODE_NEW);
  char derived[15];
  bind_text(s, 1, ki);
  sqlite3_bind_int(s, 2, local);
  sqlite3_bind_int64(s, 3, sold_doc);
  sqlite3_bind_int64(s, 4, returned_doc);
  bind_text(s, 5, remarked_from);
  bind_text(s, 6, gtin_column(ki, gtin, derived));
  return step_done(c, s, "code insert");
}

/* The INN of an owner id, from the kept list or the table. */
static int owner_inn(cache_t *c, int64_t id, char inn[13])
{
  sqlite3_stmt *s;
  int rc;
  inn[0] = '\0';
  if (id == 0) return 0;
  for (size_t i = 0; i < c->owner_count; i++) {
    if (c->owners[i].id == id) {
      memcpy(inn, c->owners[i].inn, 13);
      return 0;
    }
  }
  s = st(c, ST_OWNER_INN);
  sqlite3_bind_int64(s, 1, id);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) db_column_text(s, 0, inn, 13);
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return io_fail(c, "owner");
  /* Kept only outside a transaction: then the row is committed. */
  if (rc == SQLITE_ROW && sqlite3_get_autocommit(c->db) && c->owner_count < OWNERS_KEPT) {
    c->owners[c->owner_count].id = id;
    memcpy(c->owners[c->owner_count].inn, inn, 13);
    c->owner_count++;
  }
  return 0;
}

/* The id of an owner INN, made when new (inside the caller's transaction). */
static int owner_id(cache_t *c, const char *inn, int64_t *id)
{
  sqlite3_stmt *s;
  int rc;
  *id = 0;
  if (!inn || !inn[0]) return 0;
  for (size_t i = 0; i < c->owner_count; i++) {
    if (strcmp(c->owners[i].inn, inn) == 0) {
      *id = c->owners[i].id;
      return 0;
    }
  }
  s = st(c, ST_OWNER_FIND);
  bind_text(s, 1, inn);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *id = sqlite3_column_int64(s, 0);
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return io_fail(c, "owner find");
  if (rc == SQLITE_DONE) {
    s = st(c, ST_OWNER_ADD);
    bind_text(s, 1, inn);
    if ((rc = step_done(c, s, "owner add")) != 0) return rc;
    *id = sqlite3_last_insert_rowid(c->db);
  }
  /* Kept for this transaction's later rows; a rollback clears the list. */
  if (c->owner_count < OWNERS_KEPT) {
    c->owners[c->owner_count].id = *id;
    snprintf(c->owners[c->owner_count].inn, 13, "%s", inn);
    c->owner_count++;
  }
  return 0;
}

/* The pack's account of parts ({0, 0}: no row). */
static int part_get(cache_t *c, const char *ki, part_account_t *out)
{
  sqlite3_stmt *s = st(c, ST_PART_GET);
  int rc;
  bind_text(s, 1, ki);
  rc = sqlite3_step(s);
  *out = (part_account_t){0, 0};
  if (rc == SQLITE_ROW) {
    out->sold = (uint64_t)sqlite3_column_int64(s, 0);
    out->units = (uint64_t)sqlite3_column_int64(s, 1);
  }
  sqlite3_reset(s);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : io_fail(c, "part get");
}

/* Stores the account; one that is no account of parts ({0, 0} nothing
** sold, {1, 1} sold whole) removes its row. */
static int part_put(cache_t *c, const char *ki, const part_account_t *a)
{
  bool kept = a->units > 1;
  sqlite3_stmt *s = st(c, kept ? ST_PART_PUT : ST_PART_DEL);
  bind_text(s, 1, ki);
  if (kept) {
    sqlite3_bind_int64(s, 2, (int64_t)a->sold);
    sqlite3_bind_int64(s, 3, (int64_t)a->units);
  }
  return step_done(c, s, "part");
}

int cache_code_get(cache_t *c, const char *ki, cache_code_t *out)
{
  sqlite3_stmt *s;
  int rc, op;
  int64_t owner;
  if (!c || !out || !ki_ok(ki)) return CACHE_ERR_ARGUMENT;
  s = c->st[ST_CODE_GET];
  sqlite3_bind_text(s, 1, ki, -1, SQLITE_STATIC);
  rc = sqlite3_step(s);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? CACHE_ERR_NOT_FOUND : io_fail(c, "code get");
  }
  memset(out, 0, sizeof *out);
  memcpy(out->ki, ki, strlen(ki) + 1);
  out->local = (cache_local_state_t)sqlite3_column_int(s, 0);
  out->sold_document = (uint32_t)sqlite3_column_int64(s, 1);
  out->returned_document = (uint32_t)sqlite3_column_int64(s, 2);
  op = sqlite3_column_int(s, 3);
  out->op_state = (cache_op_state_t)(op & OP_STATE_MASK);
  out->op_blocked = op & OP_BLOCKED;
  out->op_sold = op & OP_SOLD;
  owner = sqlite3_column_int64(s, 4);
  out->expire_ms = sqlite3_column_int64(s, 5);
  out->mrp = (uint64_t)sqlite3_column_int64(s, 6);
  out->smp = (uint64_t)sqlite3_column_int64(s, 7);
  out->op_synced_ms = sqlite3_column_int64(s, 8);
  db_column_text(s, 9, out->remarked_to, sizeof out->remarked_to);
  db_column_text(s, 10, out->remarked_from, sizeof out->remarked_from);
  if (sqlite3_column_type(s, 11) == SQLITE_NULL)
    ki_gtin(ki, out->gtin);
  else
    db_column_text(s, 11, out->gtin, sizeof out->gtin);
  sqlite3_reset(s);
  if (out->local == CACHE_LOCAL_SOLD) {
    part_account_t a;
    if ((rc = part_get(c, ki, &a)) != 0) return rc;
    out->part_sold = a.sold;
    out->part_units = a.units;
  }
  return owner_inn(c, owner, out->owner_inn);
}

int cache_stock_add(cache_t *c, const char *const *kis, size_t count, size_t *bad)
{
  counts_delta_t d = {0};
  code_state_t cs;
  int rc;
  if (!c || (!kis && count)) return CACHE_ERR_ARGUMENT;
  for (size_t i = 0; i < count; i++) {
    if (!ki_ok(kis[i])) {
      if (bad) *bad = i;
      set_error(c, "code %zu: not a ki (1..%d printable characters, no GS)", i, CACHE_KI_MAX);
      return CACHE_ERR_ARGUMENT;
    }
  }
  if ((rc = tx_begin(c)) != 0) return rc;
  for (size_t i = 0; i < count && rc == 0; i++) {
    if ((rc = code_state(c, kis[i], &cs)) != 0) break;
    if (cs.exists && (cs.local == CACHE_LOCAL_SOLD || cs.local == CACHE_LOCAL_REMARKED)) {
      if (bad) *bad = i;
      set_error(c, "code %zu (%s) is %s: it cannot become stock", i, kis[i],
                cache_local_name((cache_local_state_t)cs.local));
      rc = CACHE_ERR_STATE;
    } else if (!cs.exists) {
      rc = code_insert(c, kis[i], CACHE_LOCAL_IN_STOCK, 0, 0, NULL, NULL);
      d.codes++;
      count_local(&d, CACHE_LOCAL_NONE, CACHE_LOCAL_IN_STOCK);
    } else if (cs.local == CACHE_LOCAL_NONE) {
      sqlite3_stmt *s = st(c, ST_CODE_LOCAL);
      bind_text(s, 1, kis[i]);
      sqlite3_bind_int(s, 2, CACHE_LOCAL_IN_STOCK);
      rc = step_done(c, s, "stock add");
      count_local(&d, CACHE_LOCAL_NONE, CACHE_LOCAL_IN_STOCK);
    }
  }
  if (rc == 0) rc = counts_write(c, &d);
  return tx_end(c, rc);
}

/* count(*) for one prefix range of the primary key. */
static int count_range(cache_t *c, int which, const char *prefix, int local, int64_t *out)
{
  char hi[32];
  sqlite3_stmt *s = st(c, which);
  snprintf(hi, sizeof hi, "%s\x7f", prefix);
  bind_text(s, 1, prefix);
  bind_text(s, 2, hi);
  sqlite3_bind_int(s, 3, local);
  return step_int(c, s, out, "stock count");
}

/* The codes of one GTIN in one local state, whatever their shape. */
static int count_gtin(cache_t *c, const char *gtin, int local, uint64_t *out)
{
  char key[15], gs1[17];
  int64_t a = 0, b = 0, e = 0;
  int rc;
  if (!gtin_pad(gtin, key)) return CACHE_ERR_ARGUMENT;
  snprintf(gs1, sizeof gs1, "01%s", key);
  if ((rc = count_range(c, ST_STOCK_GS1, gs1, local, &a)) != 0 ||
      (rc = count_range(c, ST_STOCK_PACK, key, local, &b)) != 0)
    return rc;
  {
    sqlite3_stmt *s = st(c, ST_STOCK_EXTRA);
    bind_text(s, 1, key);
    sqlite3_bind_int(s, 2, local);
    if ((rc = step_int(c, s, &e, "stock count")) != 0) return rc;
  }
  *out = (uint64_t)(a + b + e);
  return 0;
}

int cache_stock_count(cache_t *c, const char *gtin, uint64_t *out)
{
  int64_t a = 0;
  int rc;
  if (!c || !out) return CACHE_ERR_ARGUMENT;
  *out = 0;
  if (!gtin) {
    rc = step_int(c, st(c, ST_STOCK_ALL), &a, "stock count");
    if (rc == 0) *out = (uint64_t)a;
    return rc;
  }
  return count_gtin(c, gtin, CACHE_LOCAL_IN_STOCK, out);
}

int cache_pending_total(cache_t *c, const char *gtin, uint64_t *out)
{
  sqlite3_stmt *s = NULL;
  char key[15];
  int64_t n = 0;
  if (!c || !gtin || !out || !gtin_pad(gtin, key)) return CACHE_ERR_ARGUMENT;
  *out = 0;
  if (sqlite3_prepare_v2(c->db, "SELECT count(*) FROM pending WHERE gtin = ?1", -1, &s, NULL) !=
      SQLITE_OK)
    return CACHE_ERR_IO;
  bind_text(s, 1, key);
  int rc = step_int(c, s, &n, "pending count");
  sqlite3_finalize(s);
  *out = (uint64_t)n;
  return rc;
}

int cache_sold_count(cache_t *c, const char *gtin, uint64_t *out)
{
  if (!c || !gtin || !out) return CACHE_ERR_ARGUMENT;
  *out = 0;
  return count_gtin(c, gtin, CACHE_LOCAL_SOLD, out);
}

/* ---------------------------------------------------------------------- */
/* The FN archive                                                          */

int cache_fn_applied(cache_t *c, uint32_t *out)
{
  sqlite3_stmt *s;
  int rc;
  if (!c || !out) return CACHE_ERR_ARGUMENT;
  s = st(c, ST_META_GET);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *out = (uint32_t)sqlite3_column_int64(s, 0);
  sqlite3_reset(s);
  return rc == SQLITE_ROW ? 0 : io_fail(c, "replay pointer");
}

int cache_fn_bind(cache_t *c, const char *fn_number, uint32_t *base)
{
  sqlite3_stmt *s = NULL;
  uint32_t applied = 0;
  int rc, step;
  if (!c || !fn_number || !fn_number[0] || !base) return CACHE_ERR_ARGUMENT;
  if ((rc = tx_begin(c)) != 0) return rc;
  rc = CACHE_ERR_IO;
  if (sqlite3_prepare_v2(c->db, "SELECT base FROM fn_binding WHERE fn_number = ?1", -1, &s, NULL) !=
      SQLITE_OK)
    goto done;
  sqlite3_bind_text(s, 1, fn_number, -1, SQLITE_STATIC);
  step = sqlite3_step(s);
  if (step == SQLITE_ROW) {
    *base = (uint32_t)sqlite3_column_int64(s, 0);
    rc = 0;
    goto done;
  }
  if (step != SQLITE_DONE) goto done;
  sqlite3_finalize(s);
  s = NULL;
  /* A new FN: its documents come after everything applied so far (the
  ** first FN the cache sees starts at 0, where the pointer is). */
  if ((rc = cache_fn_applied(c, &applied)) != 0) goto done;
  rc = CACHE_ERR_IO;
  if (sqlite3_prepare_v2(c->db, "INSERT INTO fn_binding (fn_number, base) VALUES (?1, ?2)", -1, &s,
                         NULL) != SQLITE_OK)
    goto done;
  sqlite3_bind_text(s, 1, fn_number, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, applied);
  if (sqlite3_step(s) == SQLITE_DONE) {
    *base = applied;
    rc = 0;
  }
done:
  sqlite3_finalize(s);
  if (rc == CACHE_ERR_IO) set_error(c, "fn binding: %s", sqlite3_errmsg(c->db));
  return tx_end(c, rc);
}

int cache_fn_bindings(cache_t *c, cache_fn_binding_t *out, size_t max, size_t *count)
{
  sqlite3_stmt *s = NULL;
  int step;
  if (!c || !count || (max && !out)) return CACHE_ERR_ARGUMENT;
  *count = 0;
  if (sqlite3_prepare_v2(c->db, "SELECT fn_number, base FROM fn_binding ORDER BY seq", -1, &s,
                         NULL) != SQLITE_OK)
    return io_fail(c, "fn bindings");
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    if (*count < max) {
      db_column_text(s, 0, out[*count].fn_number, sizeof out[*count].fn_number);
      out[*count].base = (uint32_t)sqlite3_column_int64(s, 1);
    }
    (*count)++;
  }
  sqlite3_finalize(s);
  return step == SQLITE_DONE ? 0 : io_fail(c, "fn bindings");
}

/* The pack's account after one line, as the archive says it happened
** (common/part.h): a whole line sells the pack whole ({1, 1}) or gives it
** back ({0, 0}); a part past what the account holds (the check refuses
** one, but the archive is the truth) goes as far as it can: sold out, or
** nothing sold. */
static part_account_t line_account(part_account_t cur, bool sale, const cache_receipt_line_t *l)
{
  part_account_t next;
  if (l->fraction_denominator &&
      part_apply(&cur, sale, l->fraction_numerator, l->fraction_denominator, &next) == PART_OK)
    return next;
  return sale ? (part_account_t){1, 1} : (part_account_t){0, 0};
}

/* One receipt line: the code's new local state, document and account. */
static int apply_line(cache_t *c, const cache_receipt_line_t *l, bool sale, uint32_t number,
                      counts_delta_t *d)
{
  code_state_t cs;
  sqlite3_stmt *s;
  part_account_t cur = {0, 0}, next;
  int to, rc;
  if ((rc = code_state(c, l->ki, &cs)) != 0) return rc;
  if (cs.exists && cs.local == CACHE_LOCAL_SOLD) {
    if ((rc = part_get(c, l->ki, &cur)) != 0) return rc;
    if (cur.units == 0) cur = (part_account_t){1, 1}; /* sold whole */
  }
  next = line_account(cur, sale, l);
  to = next.sold > 0 ? CACHE_LOCAL_SOLD : CACHE_LOCAL_IN_STOCK;
  if (cs.exists && cs.local == CACHE_LOCAL_REMARKED) {
    to = CACHE_LOCAL_REMARKED; /* final */
    next = (part_account_t){0, 0};
  }
  if ((rc = part_put(c, l->ki, &next)) != 0) return rc;
  if (!cs.exists) {
    d->codes++;
    count_local(d, CACHE_LOCAL_NONE, to);
    return code_insert(c, l->ki, to, sale ? number : 0, sale ? 0 : number, NULL, l->gtin);
  }
  s = st(c, sale ? ST_CODE_SOLD : ST_CODE_RETURNED);
  bind_text(s, 1, l->ki);
  sqlite3_bind_int(s, 2, to);
  sqlite3_bind_int64(s, 3, number);
  count_local(d, cs.local, to);
  return step_done(c, s, "receipt line");
}

int cache_apply_receipt(cache_t *c, uint32_t number, uint8_t operation,
                        const cache_receipt_line_t *lines, size_t count)
{
  counts_delta_t d = {0};
  uint32_t applied = 0;
  bool moves = operation == 1 || operation == 2;
  sqlite3_stmt *s;
  int rc;
  if (!c || (count && !lines)) return CACHE_ERR_ARGUMENT;
  for (size_t i = 0; i < count; i++) {
    if (!ki_ok(lines[i].ki)) {
      set_error(c, "document %u line %zu: not a ki", number, i);
      return CACHE_ERR_ARGUMENT;
    }
  }
  if ((rc = tx_begin_light(c)) != 0) return rc;
  if ((rc = cache_fn_applied(c, &applied)) != 0) goto done;
  if (applied == UINT32_MAX || number != applied + 1) {
    set_error(c, "document %u out of order: the cache has applied %u", number, applied);
    rc = CACHE_ERR_STATE;
    goto done;
  }
  for (size_t i = 0; moves && i < count && rc == 0; i++)
    rc = apply_line(c, &lines[i], operation == 1, number, &d);
  if (rc == 0) rc = counts_write(c, &d);
  if (rc == 0) {
    s = st(c, ST_META_APPLIED);
    sqlite3_bind_int64(s, 1, number);
    rc = step_done(c, s, "replay pointer");
  }
done:
  return tx_end(c, rc);
}

/* ---------------------------------------------------------------------- */
/* Blocks                                                                  */

/* The stored form of a block value: a ki, a padded GTIN, GTIN/batch. */
static int block_key(cache_t *c, cache_block_kind_t kind, const char *value, char *key, size_t cap)
{
  const char *slash;
  size_t batch;
  char gtin[15], head[16];
  if (!value) return CACHE_ERR_ARGUMENT;
  switch (kind) {
  case CACHE_BLOCK_CODE:
    if (!ki_ok(value)) break;
    snprintf(key, cap, "%s", value);
    return 0;
  case CACHE_BLOCK_GTIN:
    if (!gtin_pad(value, gtin)) break;
    snprintf(key, cap, "%s", gtin);
    return 0;
  case CACHE_BLOCK_SERIES:
    slash = strchr(value, '/');
    if (!slash || (size_t)(slash - value) >= sizeof head) break;
    memcpy(head, value, (size_t)(slash - value));
    head[slash - value] = '\0';
    batch = strlen(slash + 1);
    if (!gtin_pad(head, gtin) || batch < 1 || batch > 20 || !ki_ok(slash + 1)) break;
    snprintf(key, cap, "%s/%s", gtin, slash + 1);
    return 0;
  default:
    break;
  }
  set_error(c, "'%.80s' is not a %s block value", value, cache_block_kind_name(kind));
  return CACHE_ERR_ARGUMENT;
}

int cache_block_put(cache_t *c, cache_block_kind_t kind, const char *value, const char *reason)
{
  char key[CACHE_KI_MAX + 40];
  sqlite3_stmt *s;
  int rc;
  if (!c) return CACHE_ERR_ARGUMENT;
  if ((rc = block_key(c, kind, value, key, sizeof key)) != 0) return rc;
  if (reason && strlen(reason) > CACHE_REASON_MAX) {
    set_error(c, "the reason is longer than %d bytes", CACHE_REASON_MAX);
    return CACHE_ERR_ARGUMENT;
  }
  if ((rc = tx_begin(c)) != 0) return rc;
  s = st(c, ST_BLOCK_PUT);
  sqlite3_bind_int(s, 1, (int)kind);
  bind_text(s, 2, key);
  bind_text(s, 3, reason ? reason : "");
  return tx_end(c, step_done(c, s, "block put"));
}

int cache_block_remove(cache_t *c, cache_block_kind_t kind, const char *value)
{
  char key[CACHE_KI_MAX + 40];
  sqlite3_stmt *s;
  int rc;
  if (!c) return CACHE_ERR_ARGUMENT;
  if ((rc = block_key(c, kind, value, key, sizeof key)) != 0) return rc;
  if ((rc = tx_begin(c)) != 0) return rc;
  s = st(c, ST_BLOCK_DEL);
  sqlite3_bind_int(s, 1, (int)kind);
  bind_text(s, 2, key);
  rc = step_done(c, s, "block remove");
  if (rc == 0 && sqlite3_changes(c->db) == 0) rc = CACHE_ERR_NOT_FOUND;
  return tx_end(c, rc);
}

/* One block lookup; *found with c->reason filled. */
static int block_get(cache_t *c, cache_block_kind_t kind, const char *key, bool *found)
{
  sqlite3_stmt *s = st(c, ST_BLOCK_GET);
  int rc;
  sqlite3_bind_int(s, 1, (int)kind);
  bind_text(s, 2, key);
  rc = sqlite3_step(s);
  *found = rc == SQLITE_ROW;
  if (*found) db_column_text(s, 0, c->reason, sizeof c->reason);
  sqlite3_reset(s);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : io_fail(c, "block find");
}

int cache_block_find(cache_t *c, const char *ki, const char *gtin, const char *batch, bool *blocked,
                     cache_block_kind_t *kind, const char **reason)
{
  char key[15], series[64];
  bool found = false, has_gtin;
  int rc;
  if (!c || !blocked || !ki_ok(ki)) return CACHE_ERR_ARGUMENT;
  *blocked = false;
  if (reason) *reason = NULL;
  has_gtin = gtin && gtin[0] ? gtin_pad(gtin, key) : ki_gtin(ki, key);
  if (gtin && gtin[0] && !has_gtin) return CACHE_ERR_ARGUMENT;
  if ((rc = block_get(c, CACHE_BLOCK_CODE, ki, &found)) != 0) return rc;
  if (found && kind) *kind = CACHE_BLOCK_CODE;
  if (!found && has_gtin && batch && batch[0] && strlen(batch) <= 20) {
    snprintf(series, sizeof series, "%s/%s", key, batch);
    if ((rc = block_get(c, CACHE_BLOCK_SERIES, series, &found)) != 0) return rc;
    if (found && kind) *kind = CACHE_BLOCK_SERIES;
  }
  if (!found && has_gtin) {
    if ((rc = block_get(c, CACHE_BLOCK_GTIN, key, &found)) != 0) return rc;
    if (found && kind) *kind = CACHE_BLOCK_GTIN;
  }
  *blocked = found;
  if (found && reason) *reason = c->reason;
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Sync                                                                    */

static int sync_row(cache_t *c, const cache_sync_row_t *r, int64_t now_ms, counts_delta_t *d)
{
  code_state_t cs;
  sqlite3_stmt *s;
  int64_t owner = 0;
  int op = (int)r->state | (r->blocked ? OP_BLOCKED : 0) | (r->sold ? OP_SOLD : 0), rc;
  char derived[15], padded[15];
  const char *gtin = r->gtin && r->gtin[0] && gtin_pad(r->gtin, padded) ? padded : NULL;
  if ((rc = code_state(c, r->ki, &cs)) != 0 || (rc = owner_id(c, r->owner_inn, &owner)) != 0)
    return rc;
  if (!cs.exists) d->codes++;
  if (!cs.exists || cs.synced == 0) d->synced++;
  if ((cs.op & OP_BLOCKED) && !r->blocked) d->op_blocked--;
  if (!(cs.op & OP_BLOCKED) && r->blocked) d->op_blocked++;
  s = st(c, cs.exists ? ST_CODE_SYNC_SET : ST_CODE_SYNC_NEW);
  bind_text(s, 1, r->ki);
  sqlite3_bind_int(s, 2, op);
  sqlite3_bind_int64(s, 3, owner);
  sqlite3_bind_int64(s, 4, r->expire_ms);
  sqlite3_bind_int64(s, 5, (sqlite3_int64)r->mrp);
  sqlite3_bind_int64(s, 6, (sqlite3_int64)r->smp);
  sqlite3_bind_int64(s, 7, now_ms);
  bind_text(s, 8, gtin_column(r->ki, gtin, derived));
  return step_done(c, s, "sync row");
}

/* Sync rows by ki, then by their place in the page. */
static int row_order(const void *a, const void *b)
{
  const cache_sync_row_t *x = *(const cache_sync_row_t *const *)a;
  const cache_sync_row_t *y = *(const cache_sync_row_t *const *)b;
  int k = strcmp(x->ki, y->ki);
  return k ? k : (x < y ? -1 : x > y);
}

int cache_sync_apply(cache_t *c, const cache_sync_row_t *rows, size_t count, const char *cursor,
                     int64_t now_ms)
{
  const cache_sync_row_t **order = NULL;
  counts_delta_t d = {0};
  sqlite3_stmt *s;
  int rc;
  if (!c || (count && !rows) || !cursor || strlen(cursor) > CACHE_CURSOR_MAX || now_ms <= 0)
    return CACHE_ERR_ARGUMENT;
  for (size_t i = 0; i < count; i++) {
    const cache_sync_row_t *r = &rows[i];
    char g[15];
    if (!ki_ok(r->ki) || (unsigned)r->state > (unsigned)CACHE_OP_RETIRED || !inn_ok(r->owner_inn) ||
        (r->gtin && r->gtin[0] && !gtin_pad(r->gtin, g)) || r->mrp > (uint64_t)INT64_MAX ||
        r->smp > (uint64_t)INT64_MAX) {
      set_error(c, "sync row %zu (%.64s): malformed", i, r->ki ? r->ki : "NULL");
      return CACHE_ERR_ARGUMENT;
    }
  }
  /* In key order: the B-tree then takes the page leaf after leaf instead of
  ** jumping about (the feed comes in change order, which is random in ki);
  ** ties keep the page's order, so a later row for the same ki wins. */
  if (count > 1 && !(order = malloc(count * sizeof *order))) return CACHE_ERR_IO;
  for (size_t i = 0; order && i < count; i++) order[i] = &rows[i];
  if (order) qsort(order, count, sizeof *order, row_order);
  if ((rc = tx_begin(c)) != 0) {
    free(order);
    return rc;
  }
  for (size_t i = 0; i < count && rc == 0; i++)
    rc = sync_row(c, order ? order[i] : &rows[i], now_ms, &d);
  free(order);
  if (rc == 0) rc = counts_write(c, &d);
  if (rc == 0) {
    s = st(c, ST_META_SYNC);
    bind_text(s, 1, cursor);
    sqlite3_bind_int64(s, 2, now_ms);
    rc = step_done(c, s, "sync cursor");
  }
  return tx_end(c, rc);
}

int cache_sync_state(cache_t *c, char *cursor, size_t cursor_size, int64_t *last_sync_ms)
{
  sqlite3_stmt *s;
  int rc;
  if (!c || (cursor && cursor_size == 0)) return CACHE_ERR_ARGUMENT;
  s = st(c, ST_META_GET);
  rc = sqlite3_step(s);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(s);
    return io_fail(c, "sync state");
  }
  if (cursor) {
    size_t n = (size_t)sqlite3_column_bytes(s, 1);
    if (n >= cursor_size) {
      sqlite3_reset(s);
      return CACHE_ERR_ARGUMENT;
    }
    db_column_text(s, 1, cursor, cursor_size);
  }
  if (last_sync_ms) *last_sync_ms = sqlite3_column_int64(s, 2);
  sqlite3_reset(s);
  return 0;
}

int cache_read_begin(cache_t *c)
{
  if (!c) return CACHE_ERR_ARGUMENT;
  if (!sqlite3_get_autocommit(c->db)) return CACHE_ERR_STATE;
  return step_done(c, st(c, ST_BEGIN_READ), "begin");
}

void cache_read_end(cache_t *c)
{
  if (c && !sqlite3_get_autocommit(c->db)) tx_end(c, 0);
}

bool cache_is_stale(cache_t *c, int64_t now_ms, uint32_t stale_hours)
{
  int64_t last = 0;
  if (!c || cache_sync_state(c, NULL, 0, &last) != 0 || last == 0) return true;
  if (stale_hours == 0) stale_hours = STALE_DEFAULT_H;
  return now_ms - last > (int64_t)stale_hours * 3600 * 1000;
}

/* ---------------------------------------------------------------------- */
/* Remarking                                                               */

int cache_pool_add(cache_t *c, const char *const *codes, size_t count, size_t *added)
{
  markcode_t *mc = NULL;
  code_state_t cs;
  size_t fresh = 0;
  int rc = 0;
  if (added) *added = 0;
  if (!c || (!codes && count)) return CACHE_ERR_ARGUMENT;
  if (!(mc = malloc(sizeof *mc))) return CACHE_ERR_IO;
  for (size_t i = 0; i < count; i++) {
    char why[256];
    if (!codes[i] || markcode_parse(mc, codes[i], strlen(codes[i])) != MARKCODE_OK ||
        mc->kind != MARKCODE_KIND_GS1 || !mc->tail[0] || !ki_ok(mc->ki)) {
      if (codes[i] && mc->err != MARKCODE_OK)
        markcode_message(mc, MARKCODE_LANG_EN, why, sizeof why);
      else
        snprintf(why, sizeof why, "not a GS1 marking code with a verification part");
      set_error(c, "code %zu: %s", i, why);
      free(mc);
      return CACHE_ERR_FORMAT;
    }
  }
  if ((rc = tx_begin(c)) != 0) goto done;
  for (size_t i = 0; i < count && rc == 0; i++) {
    sqlite3_stmt *s;
    int got;
    markcode_parse(mc, codes[i], strlen(codes[i]));
    if ((rc = code_state(c, mc->ki, &cs)) != 0) break;
    if (cs.exists && cs.local != CACHE_LOCAL_NONE) {
      set_error(c, "code %zu (%s) is already %s in this store: not a fresh code", i, mc->ki,
                cache_local_name((cache_local_state_t)cs.local));
      rc = CACHE_ERR_STATE;
      break;
    }
    s = st(c, ST_POOL_HAS);
    bind_text(s, 1, mc->ki);
    got = sqlite3_step(s);
    sqlite3_reset(s);
    if (got == SQLITE_ROW) continue;
    if (got != SQLITE_DONE) {
      rc = io_fail(c, "pool");
      break;
    }
    s = st(c, ST_POOL_ADD);
    bind_text(s, 1, mc->gtin);
    bind_text(s, 2, mc->ki);
    sqlite3_bind_text(s, 3, mc->normalized, (int)mc->normalized_len, SQLITE_STATIC);
    if ((rc = step_done(c, s, "pool add")) == 0) fresh++;
  }
  if ((rc = tx_end(c, rc)) == 0 && added) *added = fresh;
done:
  free(mc);
  return rc;
}

int cache_pool_count(cache_t *c, const char *gtin, uint64_t *out)
{
  char key[15];
  sqlite3_stmt *s;
  int64_t n = 0;
  int rc;
  if (!c || !out) return CACHE_ERR_ARGUMENT;
  if (gtin) {
    if (!gtin_pad(gtin, key)) return CACHE_ERR_ARGUMENT;
    s = st(c, ST_POOL_COUNT_GTIN);
    bind_text(s, 1, key);
  } else {
    s = st(c, ST_POOL_COUNT);
  }
  rc = step_int(c, s, &n, "pool count");
  *out = rc == 0 ? (uint64_t)n : 0;
  return rc;
}

int cache_pending_add(cache_t *c, const char *gtin, uint32_t return_document, uint32_t line,
                      int64_t now_ms, int64_t *id)
{
  char key[15], have[15];
  sqlite3_stmt *s;
  int rc, got;
  if (id) *id = 0;
  if (!c || !gtin_pad(gtin, key) || return_document == 0 || line == 0) return CACHE_ERR_ARGUMENT;
  if ((rc = tx_begin(c)) != 0) return rc;
  s = st(c, ST_PENDING_FIND);
  sqlite3_bind_int64(s, 1, return_document);
  sqlite3_bind_int64(s, 2, line);
  got = sqlite3_step(s);
  if (got == SQLITE_ROW) {
    if (id) *id = sqlite3_column_int64(s, 0);
    db_column_text(s, 1, have, sizeof have);
    sqlite3_reset(s);
    if (strcmp(have, key) != 0) {
      set_error(c, "return %u line %u is already pending for GTIN %s", return_document, line, have);
      rc = CACHE_ERR_STATE;
    }
    return tx_end(c, rc);
  }
  sqlite3_reset(s);
  if (got != SQLITE_DONE) return tx_end(c, io_fail(c, "pending find"));
  s = st(c, ST_PENDING_ADD);
  bind_text(s, 1, key);
  sqlite3_bind_int64(s, 2, return_document);
  sqlite3_bind_int64(s, 3, line);
  sqlite3_bind_int64(s, 4, now_ms);
  rc = step_done(c, s, "pending add");
  if (rc == 0 && id) *id = sqlite3_last_insert_rowid(c->db);
  return tx_end(c, rc);
}

int cache_pending_list(cache_t *c, cache_pending_t *out, size_t cap, size_t *count)
{
  sqlite3_stmt *s;
  size_t n = 0;
  int rc;
  if (!c || !count || (cap && !out)) return CACHE_ERR_ARGUMENT;
  *count = 0;
  s = st(c, ST_PENDING_LIST);
  sqlite3_bind_int64(s, 1, cap > (size_t)INT32_MAX ? INT32_MAX : (sqlite3_int64)cap);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < cap) {
    cache_pending_t *p = &out[n++];
    memset(p, 0, sizeof *p);
    p->id = sqlite3_column_int64(s, 0);
    db_column_text(s, 1, p->gtin, sizeof p->gtin);
    p->return_document = (uint32_t)sqlite3_column_int64(s, 2);
    p->line = (uint32_t)sqlite3_column_int64(s, 3);
    p->created_ms = sqlite3_column_int64(s, 4);
  }
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return io_fail(c, "pending list");
  *count = n;
  return 0;
}

int cache_pending_get(cache_t *c, int64_t id, cache_pending_t *out)
{
  sqlite3_stmt *s;
  int rc;
  if (!c || !out || id <= 0) return CACHE_ERR_ARGUMENT;
  memset(out, 0, sizeof *out);
  s = st(c, ST_PENDING_GET);
  sqlite3_bind_int64(s, 1, id);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW && sqlite3_column_type(s, 3) == SQLITE_NULL) {
    out->id = id;
    db_column_text(s, 0, out->gtin, sizeof out->gtin);
    out->return_document = (uint32_t)sqlite3_column_int64(s, 1);
    out->line = (uint32_t)sqlite3_column_int64(s, 2);
    rc = 0;
  } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
    set_error(c, "no open pending return %lld", (long long)id);
    rc = CACHE_ERR_NOT_FOUND;
  } else {
    rc = io_fail(c, "pending get");
  }
  sqlite3_reset(s);
  return rc;
}

/* The old side of a remark: a known code, or an open pending return.
** Fills from[] ("return:N:L" or the ki) for the new code's remarked_from. */
static int remark_old(cache_t *c, const char *gtin, const char *old_ki, int64_t pending_id,
                      char *from, size_t from_size, counts_delta_t *d, code_state_t *old)
{
  sqlite3_stmt *s;
  char have[15];
  int rc;
  if (old_ki) {
    if ((rc = code_state(c, old_ki, old)) != 0) return rc;
    if (!old->exists) {
      set_error(c, "code %s is not known to this store", old_ki);
      return CACHE_ERR_NOT_FOUND;
    }
    if (old->local == CACHE_LOCAL_SOLD || old->local == CACHE_LOCAL_REMARKED) {
      set_error(c, "code %s is %s: it cannot be remarked", old_ki,
                cache_local_name((cache_local_state_t)old->local));
      return CACHE_ERR_STATE;
    }
    {
      cache_code_t row;
      if ((rc = cache_code_get(c, old_ki, &row)) != 0) return rc;
      if (strcmp(row.gtin, gtin) != 0) {
        set_error(c, "code %s is of GTIN %s, not %s", old_ki, row.gtin, gtin);
        return CACHE_ERR_ARGUMENT;
      }
    }
    snprintf(from, from_size, "%s", old_ki);
    count_local(d, old->local, CACHE_LOCAL_REMARKED);
    return 0;
  }
  s = st(c, ST_PENDING_GET);
  sqlite3_bind_int64(s, 1, pending_id);
  rc = sqlite3_step(s);
  if (rc == SQLITE_DONE) {
    sqlite3_reset(s);
    set_error(c, "no pending return %lld", (long long)pending_id);
    return CACHE_ERR_NOT_FOUND;
  }
  if (rc != SQLITE_ROW) {
    sqlite3_reset(s);
    return io_fail(c, "pending get");
  }
  db_column_text(s, 0, have, sizeof have);
  snprintf(from, from_size, "return:%lld:%lld", (long long)sqlite3_column_int64(s, 1),
           (long long)sqlite3_column_int64(s, 2));
  rc = sqlite3_column_type(s, 3) != SQLITE_NULL ? CACHE_ERR_STATE : 0;
  sqlite3_reset(s);
  if (rc) {
    set_error(c, "pending return %lld is already remarked", (long long)pending_id);
    return rc;
  }
  if (strcmp(have, gtin) != 0) {
    set_error(c, "pending return %lld is of GTIN %s, not %s", (long long)pending_id, have, gtin);
    return CACHE_ERR_ARGUMENT;
  }
  return 0;
}

int cache_remark(cache_t *c, const char *gtin, const char *old_ki, int64_t pending_id,
                 char *new_code, size_t new_code_size)
{
  char key[15], from[CACHE_KI_MAX + 32], new_ki[CACHE_KI_MAX + 1];
  char code[MARKCODE_MAX_INPUT + 1];
  counts_delta_t d = {0};
  code_state_t old, fresh;
  sqlite3_stmt *s;
  int64_t pool_id;
  int rc;

  if (!c || !gtin_pad(gtin, key) || !new_code || (old_ki && !ki_ok(old_ki)) ||
      (!old_ki && pending_id <= 0))
    return CACHE_ERR_ARGUMENT;
  if ((rc = tx_begin(c)) != 0) return rc;
  s = st(c, ST_POOL_OLDEST);
  bind_text(s, 1, key);
  rc = sqlite3_step(s);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(s);
    if (rc == SQLITE_DONE) set_error(c, "the pool holds no code of GTIN %s", key);
    return tx_end(c, rc == SQLITE_DONE ? CACHE_ERR_EMPTY : io_fail(c, "pool"));
  }
  pool_id = sqlite3_column_int64(s, 0);
  db_column_text(s, 1, new_ki, sizeof new_ki);
  db_column_text(s, 2, code, sizeof code);
  sqlite3_reset(s);
  if (strlen(code) + 1 > new_code_size) {
    set_error(c, "the label buffer holds %zu bytes, the code needs %zu", new_code_size,
              strlen(code) + 1);
    return tx_end(c, CACHE_ERR_ARGUMENT);
  }
  if ((rc = remark_old(c, key, old_ki, pending_id, from, sizeof from, &d, &old)) != 0)
    return tx_end(c, rc);
  if (old_ki) {
    s = st(c, ST_CODE_REMARK_OLD);
    bind_text(s, 1, old_ki);
    bind_text(s, 2, new_ki);
  } else {
    s = st(c, ST_PENDING_CLOSE);
    sqlite3_bind_int64(s, 1, pending_id);
    bind_text(s, 2, new_ki);
  }
  if ((rc = step_done(c, s, "remark old")) != 0) return tx_end(c, rc);
  if ((rc = code_state(c, new_ki, &fresh)) != 0) return tx_end(c, rc);
  if (fresh.exists && fresh.local != CACHE_LOCAL_NONE) {
    set_error(c, "pooled code %s is already %s", new_ki,
              cache_local_name((cache_local_state_t)fresh.local));
    return tx_end(c, CACHE_ERR_STATE);
  }
  if (fresh.exists) {
    s = st(c, ST_CODE_REMARK_NEW);
    bind_text(s, 1, new_ki);
    bind_text(s, 2, from);
    rc = step_done(c, s, "remark new");
  } else {
    rc = code_insert(c, new_ki, CACHE_LOCAL_IN_STOCK, 0, 0, from, key);
    d.codes++;
  }
  count_local(&d, CACHE_LOCAL_NONE, CACHE_LOCAL_IN_STOCK);
  if (rc == 0) {
    s = st(c, ST_POOL_DEL);
    sqlite3_bind_int64(s, 1, pool_id);
    rc = step_done(c, s, "pool take");
  }
  if (rc == 0) rc = counts_write(c, &d);
  if ((rc = tx_end(c, rc)) == 0) memcpy(new_code, code, strlen(code) + 1);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Counts                                                                  */

int cache_counts(cache_t *c, cache_counts_t *out)
{
  sqlite3_stmt *s;
  int64_t v = 0;
  int rc;
  if (!c || !out) return CACHE_ERR_ARGUMENT;
  memset(out, 0, sizeof *out);
  s = st(c, ST_META_GET);
  rc = sqlite3_step(s);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(s);
    return io_fail(c, "counts");
  }
  out->codes = (uint64_t)sqlite3_column_int64(s, 3);
  out->in_stock = (uint64_t)sqlite3_column_int64(s, 4);
  out->sold = (uint64_t)sqlite3_column_int64(s, 5);
  out->remarked = (uint64_t)sqlite3_column_int64(s, 6);
  out->synced = (uint64_t)sqlite3_column_int64(s, 7);
  out->op_blocked = (uint64_t)sqlite3_column_int64(s, 8);
  sqlite3_reset(s);
  if ((rc = step_int(c, st(c, ST_PRODUCT_COUNT), &v, "counts")) != 0) return rc;
  out->products = (uint64_t)v;
  if ((rc = step_int(c, st(c, ST_BLOCK_COUNT), &v, "counts")) != 0) return rc;
  out->blocked = (uint64_t)v;
  if ((rc = step_int(c, st(c, ST_POOL_COUNT), &v, "counts")) != 0) return rc;
  out->pooled = (uint64_t)v;
  if ((rc = step_int(c, st(c, ST_PENDING_COUNT), &v, "counts")) != 0) return rc;
  out->pending = (uint64_t)v;
  return 0;
}
