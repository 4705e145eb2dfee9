/*
** ofd/emulator/store.c: the operator emulator's SQLite store (see store.h).
**
** Why SQLite and not memory: the emulator stands in for three operators
** whose one promise to the till is "what we acknowledged, we have", so a
** document is committed (WAL, synchronous=FULL) before its acknowledgement
** leaves, and a restarted operator acknowledges a redelivery identically
** because it finds the first reception's time here.
**
** Schema:
**   meta          one row: the operator's secret (for 1078)
**   fns           fn_number (PK), secret
**   documents     (fn, number) PK, type, tlv, received_at
**   codes         the OISM registry: ki (PK), km, gtin, grp, owner_inn,
**                 status, blocked_code/gtin/series, expiry, min/max price
**   notifications (fn, number) PK, applied_at, result (2111), refused lines
**   keys          id (PK), kind, material (secret or private key), public
**                 part (what the FN gets), created
** Statements are prepared per call: the emulator's load is a test's, and
** it keeps each function self-contained.
*/
#include "ofd/emulator/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "common/db.h"

struct store {
  sqlite3 *db;
  int depth; /* store_begin calls not yet committed or rolled back */
  uint8_t secret[STORE_SECRET_LEN];
};

static const char *const schema[] = {
    "CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1), secret BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS fns (fn_number TEXT PRIMARY KEY, secret BLOB NOT NULL)",
    ("CREATE TABLE IF NOT EXISTS documents (fn TEXT NOT NULL, number INTEGER NOT NULL,"
     " type INTEGER NOT NULL, tlv BLOB NOT NULL, received_at INTEGER NOT NULL,"
     " PRIMARY KEY (fn, number))"),
    ("CREATE TABLE IF NOT EXISTS codes (ki TEXT PRIMARY KEY, km TEXT NOT NULL, gtin TEXT NOT NULL,"
     " grp TEXT NOT NULL, owner_inn TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN"
     " ('emitted','applied','in_circulation','sold','returned','blocked')),"
     " blocked_code INTEGER NOT NULL DEFAULT 0, blocked_gtin INTEGER NOT NULL DEFAULT 0,"
     " blocked_series INTEGER NOT NULL DEFAULT 0, expiry INTEGER NOT NULL DEFAULT 0,"
     " min_price INTEGER NOT NULL DEFAULT 0, max_price INTEGER NOT NULL DEFAULT 0)"),
    "CREATE INDEX IF NOT EXISTS codes_gtin ON codes (gtin)",
    ("CREATE TABLE IF NOT EXISTS code_parts (ki TEXT PRIMARY KEY, sold INTEGER NOT NULL,"
     " units INTEGER NOT NULL) WITHOUT ROWID"),
    ("CREATE TABLE IF NOT EXISTS notifications (fn TEXT NOT NULL, number INTEGER NOT NULL,"
     " applied_at INTEGER NOT NULL, result INTEGER NOT NULL, refused INTEGER NOT NULL,"
     " PRIMARY KEY (fn, number))"),
    ("CREATE TABLE IF NOT EXISTS keys (id TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN"
     " ('gost','hmac')), material BLOB NOT NULL, public BLOB NOT NULL, created INTEGER NOT NULL)"),
};

static int sql_fail(store_t *s, const char *what)
{
  fprintf(stderr, "kassa-operator: store: %s: %s\n", what, sqlite3_errmsg(s->db));
  return STORE_ERR;
}

static int prep(store_t *s, const char *sql, sqlite3_stmt **st)
{
  if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) return sql_fail(s, sql);
  return 0;
}

/* Runs a statement that returns no row. */
static int exec_done(store_t *s, sqlite3_stmt *st, const char *what)
{
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE)
    rc = sql_fail(s, what);
  else
    rc = 0;
  sqlite3_finalize(st);
  return rc;
}

static int exec_plain(store_t *s, const char *sql)
{
  sqlite3_stmt *st = NULL;
  if (prep(s, sql, &st) != 0) return STORE_ERR;
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return sql_fail(s, sql);
  return 0;
}

static const char *kind_name(int kind) { return kind == FN_KEY_GOST ? "gost" : "hmac"; }

static size_t copy_blob(sqlite3_stmt *st, int col, uint8_t *out, size_t cap)
{
  const void *b = sqlite3_column_blob(st, col);
  size_t n = (size_t)sqlite3_column_bytes(st, col);
  if (n > cap) n = cap;
  if (b && n) memcpy(out, b, n);
  return n;
}

const char *store_path(const store_t *s) { return s ? sqlite3_db_filename(s->db, "main") : NULL; }

/*
** The registry's change feed (ofd/emulator/registry.c: the code statuses a
** till's cache syncs from): a log of every code in the order it last
** changed, kept by triggers, so any writer (the server, `kassa-operator
** issue` or `block` in another process) is logged. It is installed with the
** store, so a new file logs every code from its first write; an older file
** has its codes copied in once, here, not inside a till's first request.
*/
static const char *const feed_sql[] = {
    "CREATE TABLE IF NOT EXISTS lm_feed (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " ki TEXT NOT NULL UNIQUE)",
    "CREATE TABLE IF NOT EXISTS lm_remarks (old TEXT PRIMARY KEY, new_ki TEXT NOT NULL UNIQUE,"
    " owner TEXT NOT NULL, at INTEGER NOT NULL)",
    /* Every code present now, in the order it was added; then the triggers
    ** log every later change. One transaction: no change falls between. */
    "INSERT OR IGNORE INTO lm_feed (ki) SELECT ki FROM codes ORDER BY rowid",
    "CREATE TRIGGER IF NOT EXISTS lm_feed_insert AFTER INSERT ON codes BEGIN"
    " DELETE FROM lm_feed WHERE ki = NEW.ki; INSERT INTO lm_feed (ki) VALUES (NEW.ki); END",
    "CREATE TRIGGER IF NOT EXISTS lm_feed_update AFTER UPDATE ON codes BEGIN"
    " DELETE FROM lm_feed WHERE ki = NEW.ki; INSERT INTO lm_feed (ki) VALUES (NEW.ki); END",
};

static int feed_install(store_t *s)
{
  sqlite3_stmt *st = NULL;
  bool installed;
  if (exec_plain(s, "BEGIN IMMEDIATE") != 0) return STORE_ERR;
  if (prep(s, "SELECT 1 FROM sqlite_master WHERE name = 'lm_feed_update'", &st) != 0) goto fail;
  installed = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  st = NULL;
  for (size_t i = 0; !installed && i < sizeof feed_sql / sizeof feed_sql[0]; i++)
    if (exec_plain(s, feed_sql[i]) != 0) goto fail;
  /* The feed's snapshot walks codes in ki order: a covering index makes
  ** that a sequential read instead of a table lookup per code (ten million
  ** lookups scattered over a file of gigabytes). Older files get it once. */
  if (exec_plain(s, "CREATE INDEX IF NOT EXISTS lm_snapshot ON codes (ki, gtin, status,"
                    " blocked_code, blocked_gtin, blocked_series, owner_inn, expiry, min_price,"
                    " max_price)") != 0)
    goto fail;
  if (exec_plain(s, "COMMIT") == 0) return 0;
fail:
  sqlite3_finalize(st);
  store_rollback(s);
  return STORE_ERR;
}

int store_open(const char *dir, store_t **out)
{
  store_t *s = NULL;
  char path[4096];
  sqlite3_stmt *st = NULL;
  int n;

  if (!out) return STORE_ERR;
  *out = NULL;
  if (!dir) return STORE_ERR;
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    fprintf(stderr, "kassa-operator: %s: %s\n", dir, strerror(errno));
    return STORE_ERR;
  }
  n = snprintf(path, sizeof path, "%s/operator.db", dir);
  if (n < 0 || (size_t)n >= sizeof path) return STORE_ERR;
  if (!(s = calloc(1, sizeof *s))) return STORE_ERR;
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
      SQLITE_OK) {
    sql_fail(s, path);
    goto fail;
  }
  sqlite3_busy_timeout(s->db, 5000);
  /* A subcommand (issue, block) may run while the server holds the file. */
  if (exec_plain(s, "PRAGMA journal_mode=WAL") != 0 ||
      exec_plain(s, "PRAGMA synchronous=FULL") != 0)
    goto fail;
  for (size_t i = 0; i < sizeof schema / sizeof schema[0]; i++) {
    if (exec_plain(s, schema[i]) != 0) goto fail;
  }
  if (feed_install(s) != 0) goto fail;
  if (getrandom(s->secret, sizeof s->secret, 0) != (ssize_t)sizeof s->secret) goto fail;
  /* The first open's secret wins: later opens read it back. */
  if (prep(s, "INSERT OR IGNORE INTO meta (id, secret) VALUES (1, ?)", &st) != 0) goto fail;
  sqlite3_bind_blob(st, 1, s->secret, (int)sizeof s->secret, SQLITE_STATIC);
  if (exec_done(s, st, "meta") != 0) goto fail;
  st = NULL;
  if (prep(s, "SELECT secret FROM meta WHERE id = 1", &st) != 0) goto fail;
  if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_bytes(st, 0) != STORE_SECRET_LEN) {
    sql_fail(s, "meta secret");
    goto fail;
  }
  copy_blob(st, 0, s->secret, sizeof s->secret);
  sqlite3_finalize(st);
  *out = s;
  return 0;
fail:
  sqlite3_finalize(st);
  store_close(s);
  return STORE_ERR;
}

void store_close(store_t *s)
{
  if (!s) return;
  sqlite3_close(s->db);
  memset(s->secret, 0, sizeof s->secret);
  free(s);
}

/*
** Transactions nest: the outermost is BEGIN IMMEDIATE ... COMMIT, the ones
** inside it savepoints. That is how the frame port commits a whole read's
** worth of messages as one group (one disk flush) while the code that
** handles one of them (a sale notification: oism.c) still opens and ends
** its own transaction: its commit only releases the savepoint, its
** rollback undoes that message and nothing else of the group.
*/
int store_begin(store_t *s)
{
  int rc = exec_plain(s, s->depth == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT nested");
  if (rc == 0) s->depth++;
  return rc;
}

int store_commit(store_t *s)
{
  /* A failed COMMIT leaves the depth: the caller rolls back. */
  int rc = exec_plain(s, s->depth > 1 ? "RELEASE nested" : "COMMIT");
  if (rc == 0 && s->depth > 0) s->depth--;
  return rc;
}

void store_rollback(store_t *s)
{
  if (s->depth > 1) {
    (void)exec_plain(s, "ROLLBACK TO nested");
    (void)exec_plain(s, "RELEASE nested");
  } else if (!sqlite3_get_autocommit(s->db)) {
    (void)exec_plain(s, "ROLLBACK"); /* SQLite may have ended it already (an I/O error) */
  }
  if (s->depth > 0) s->depth--;
}

void store_operator_secret(const store_t *s, uint8_t secret[STORE_SECRET_LEN])
{
  memcpy(secret, s->secret, STORE_SECRET_LEN);
}

int store_fn_put(store_t *s, const char *fn_number, const uint8_t secret[STORE_SECRET_LEN])
{
  sqlite3_stmt *st = NULL;
  if (prep(s, "INSERT OR REPLACE INTO fns (fn_number, secret) VALUES (?, ?)", &st) != 0)
    return STORE_ERR;
  sqlite3_bind_text(st, 1, fn_number, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 2, secret, STORE_SECRET_LEN, SQLITE_STATIC);
  return exec_done(s, st, "fn put");
}

int store_fn_secret(store_t *s, const char *fn_number, uint8_t secret[STORE_SECRET_LEN])
{
  sqlite3_stmt *st = NULL;
  int rc;
  if (prep(s, "SELECT secret FROM fns WHERE fn_number = ?", &st) != 0) return STORE_ERR;
  sqlite3_bind_text(st, 1, fn_number, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == STORE_SECRET_LEN) {
    copy_blob(st, 0, secret, STORE_SECRET_LEN);
    rc = 0;
  } else if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
    rc = STORE_NOT_FOUND;
  } else {
    rc = sql_fail(s, "fn secret");
  }
  sqlite3_finalize(st);
  return rc;
}

int store_document_put(store_t *s, const char *fn_number, uint32_t number, uint16_t type,
                       const uint8_t *tlv, size_t len, uint32_t now, uint32_t *received_at,
                       bool *same)
{
  sqlite3_stmt *st = NULL;
  int rc;
  if (prep(s,
           "INSERT OR IGNORE INTO documents (fn, number, type, tlv, received_at)"
           " VALUES (?, ?, ?, ?, ?)",
           &st) != 0)
    return STORE_ERR;
  sqlite3_bind_text(st, 1, fn_number, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, number);
  sqlite3_bind_int(st, 3, type);
  sqlite3_bind_blob(st, 4, tlv, (int)len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, now);
  if (exec_done(s, st, "document put") != 0) return STORE_ERR;
  if (prep(s, "SELECT tlv, received_at FROM documents WHERE fn = ? AND number = ?", &st) != 0)
    return STORE_ERR;
  sqlite3_bind_text(st, 1, fn_number, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, number);
  if (sqlite3_step(st) != SQLITE_ROW) {
    rc = sql_fail(s, "document get");
    goto done;
  }
  *same = (size_t)sqlite3_column_bytes(st, 0) == len &&
          (len == 0 || memcmp(sqlite3_column_blob(st, 0), tlv, len) == 0);
  *received_at = (uint32_t)sqlite3_column_int64(st, 1);
  rc = 0;
done:
  sqlite3_finalize(st);
  return rc;
}

int store_document_count(store_t *s, const char *fn_number, uint32_t *count)
{
  sqlite3_stmt *st = NULL;
  int rc = 0;
  if (prep(s, "SELECT count(*) FROM documents WHERE fn = ?", &st) != 0) return STORE_ERR;
  sqlite3_bind_text(st, 1, fn_number, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW)
    *count = (uint32_t)sqlite3_column_int64(st, 0);
  else
    rc = sql_fail(s, "document count");
  sqlite3_finalize(st);
  return rc;
}

int store_key_put(store_t *s, const char *id, int kind, const uint8_t *material, size_t len,
                  const uint8_t *public_part, size_t public_len, uint32_t created)
{
  sqlite3_stmt *st = NULL;
  if (prep(s, "INSERT INTO keys (id, kind, material, public, created) VALUES (?, ?, ?, ?, ?)",
           &st) != 0)
    return STORE_ERR;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, kind_name(kind), -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 3, material, (int)len, SQLITE_STATIC);
  sqlite3_bind_blob(st, 4, public_part, (int)public_len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, created);
  return exec_done(s, st, "key put");
}

int store_key_newest(store_t *s, int kind, char id[5], uint8_t *material, size_t cap, size_t *len)
{
  sqlite3_stmt *st = NULL;
  int rc;
  if (prep(s,
           "SELECT id, material FROM keys WHERE kind = ? ORDER BY created DESC, rowid DESC"
           " LIMIT 1",
           &st) != 0)
    return STORE_ERR;
  sqlite3_bind_text(st, 1, kind_name(kind), -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    db_column_text(st, 0, id, 5);
    *len = copy_blob(st, 1, material, cap);
    rc = 0;
  } else {
    rc = rc == SQLITE_DONE ? STORE_NOT_FOUND : sql_fail(s, "key newest");
  }
  sqlite3_finalize(st);
  return rc;
}

int store_key_exists(store_t *s, const char *id, bool *exists)
{
  sqlite3_stmt *st = NULL;
  int rc;
  if (prep(s, "SELECT 1 FROM keys WHERE id = ?", &st) != 0) return STORE_ERR;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  *exists = rc == SQLITE_ROW;
  rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sql_fail(s, "key exists");
  sqlite3_finalize(st);
  return rc;
}

int store_keys_public(store_t *s, fn_key_t *keys, size_t cap, size_t *n)
{
  sqlite3_stmt *st = NULL;
  int rc;
  size_t count = 0;
  if (prep(s, "SELECT id, kind, public FROM keys ORDER BY created, rowid", &st) != 0)
    return STORE_ERR;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && count < cap) {
    fn_key_t *k = &keys[count++];
    char kind[8];
    memset(k, 0, sizeof *k);
    db_column_text(st, 0, k->id, sizeof k->id);
    db_column_text(st, 1, kind, sizeof kind);
    k->kind = strcmp(kind, "gost") == 0 ? FN_KEY_GOST : FN_KEY_HMAC;
    k->len = copy_blob(st, 2, k->material, sizeof k->material);
  }
  rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sql_fail(s, "keys");
  sqlite3_finalize(st);
  *n = count;
  return rc;
}

int store_code_put(store_t *s, const store_code_t *c)
{
  sqlite3_stmt *st = NULL;
  if (prep(s,
           "INSERT INTO codes (ki, km, gtin, grp, owner_inn, status, blocked_code, blocked_gtin,"
           " blocked_series, expiry, min_price, max_price) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
           &st) != 0)
    return STORE_ERR;
  sqlite3_bind_text(st, 1, c->ki, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, c->km, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, c->gtin, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, c->group, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, c->owner_inn, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, c->status, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 7, c->blocked_code);
  sqlite3_bind_int(st, 8, c->blocked_gtin);
  sqlite3_bind_int(st, 9, c->blocked_series);
  sqlite3_bind_int64(st, 10, c->expiry);
  sqlite3_bind_int64(st, 11, (sqlite3_int64)c->min_price);
  sqlite3_bind_int64(st, 12, (sqlite3_int64)c->max_price);
  return exec_done(s, st, "code put");
}

int store_code_get(store_t *s, const char *ki, store_code_t *c)
{
  sqlite3_stmt *st = NULL;
  int rc;
  if (prep(s,
           "SELECT c.ki, c.km, c.gtin, c.grp, c.owner_inn, c.status, c.blocked_code,"
           " c.blocked_gtin, c.blocked_series, c.expiry, c.min_price, c.max_price, r.new_ki,"
           " p.sold, p.units FROM codes c LEFT JOIN lm_remarks r ON r.old = c.ki"
           " LEFT JOIN code_parts p ON p.ki = c.ki WHERE c.ki = ?",
           &st) != 0)
    return STORE_ERR;
  sqlite3_bind_text(st, 1, ki, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    memset(c, 0, sizeof *c);
    db_column_text(st, 0, c->ki, sizeof c->ki);
    db_column_text(st, 1, c->km, sizeof c->km);
    db_column_text(st, 2, c->gtin, sizeof c->gtin);
    db_column_text(st, 3, c->group, sizeof c->group);
    db_column_text(st, 4, c->owner_inn, sizeof c->owner_inn);
    db_column_text(st, 5, c->status, sizeof c->status);
    c->blocked_code = sqlite3_column_int(st, 6) != 0;
    c->blocked_gtin = sqlite3_column_int(st, 7) != 0;
    c->blocked_series = sqlite3_column_int(st, 8) != 0;
    c->expiry = (uint32_t)sqlite3_column_int64(st, 9);
    c->min_price = (uint64_t)sqlite3_column_int64(st, 10);
    c->max_price = (uint64_t)sqlite3_column_int64(st, 11);
    db_column_text(st, 12, c->remarked_to, sizeof c->remarked_to);
    c->sold_units = (uint64_t)sqlite3_column_int64(st, 13);
    c->inner_units = (uint64_t)sqlite3_column_int64(st, 14);
    rc = 0;
  } else {
    rc = rc == SQLITE_DONE ? STORE_NOT_FOUND : sql_fail(s, "code get");
  }
  sqlite3_finalize(st);
  return rc;
}

int store_code_set_status(store_t *s, const char *ki, const char *status)
{
  sqlite3_stmt *st = NULL;
  if (prep(s, "UPDATE codes SET status = ? WHERE ki = ?", &st) != 0) return STORE_ERR;
  sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, ki, -1, SQLITE_STATIC);
  return exec_done(s, st, "code status");
}

int store_code_set_parts(store_t *s, const char *ki, const char *status, uint64_t sold_units,
                         uint64_t inner_units)
{
  sqlite3_stmt *st = NULL;
  int rc = store_code_set_status(s, ki, status);
  if (rc != 0) return rc;
  if (inner_units > 1) {
    if (prep(s, "INSERT OR REPLACE INTO code_parts (ki, sold, units) VALUES (?, ?, ?)", &st) != 0)
      return STORE_ERR;
    sqlite3_bind_int64(st, 2, (sqlite3_int64)sold_units);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)inner_units);
  } else if (prep(s, "DELETE FROM code_parts WHERE ki = ?", &st) != 0) {
    return STORE_ERR;
  }
  sqlite3_bind_text(st, 1, ki, -1, SQLITE_STATIC);
  return exec_done(s, st, "code parts");
}

int store_code_block(store_t *s, const char *ki, const char *gtin, int *changed)
{
  sqlite3_stmt *st = NULL;
  int rc;
  if (ki) {
    if (prep(s, "UPDATE codes SET blocked_code = 1, status = 'blocked' WHERE ki = ?", &st) != 0)
      return STORE_ERR;
    sqlite3_bind_text(st, 1, ki, -1, SQLITE_STATIC);
  } else {
    if (prep(s, "UPDATE codes SET blocked_gtin = 1 WHERE gtin = ?", &st) != 0) return STORE_ERR;
    sqlite3_bind_text(st, 1, gtin, -1, SQLITE_STATIC);
  }
  rc = exec_done(s, st, "code block");
  *changed = rc == 0 ? sqlite3_changes(s->db) : 0;
  return rc;
}

int store_code_price(store_t *s, const char *gtin, uint64_t min_price, uint64_t max_price,
                     int *changed)
{
  sqlite3_stmt *st = NULL;
  int rc;
  if (prep(s, "UPDATE codes SET min_price = ?, max_price = ? WHERE gtin = ?", &st) != 0)
    return STORE_ERR;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)min_price);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)max_price);
  sqlite3_bind_text(st, 3, gtin, -1, SQLITE_STATIC);
  rc = exec_done(s, st, "code price");
  *changed = rc == 0 ? sqlite3_changes(s->db) : 0;
  return rc;
}

int store_key_public(store_t *s, const char *id, int *kind, uint8_t *public_part, size_t cap,
                     size_t *len)
{
  sqlite3_stmt *st = NULL;
  int rc;
  if (prep(s, "SELECT kind, public FROM keys WHERE id = ?", &st) != 0) return STORE_ERR;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    char k[8];
    db_column_text(st, 0, k, sizeof k);
    *kind = strcmp(k, "gost") == 0 ? FN_KEY_GOST : FN_KEY_HMAC;
    *len = copy_blob(st, 1, public_part, cap);
    rc = 0;
  } else {
    rc = rc == SQLITE_DONE ? STORE_NOT_FOUND : sql_fail(s, "key public");
  }
  sqlite3_finalize(st);
  return rc;
}

int store_notification_get(store_t *s, const char *fn_number, uint32_t number, uint8_t *result,
                           uint8_t *refused)
{
  sqlite3_stmt *st = NULL;
  int rc;
  if (prep(s, "SELECT result, refused FROM notifications WHERE fn = ? AND number = ?", &st) != 0)
    return STORE_ERR;
  sqlite3_bind_text(st, 1, fn_number, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, number);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *result = (uint8_t)sqlite3_column_int(st, 0);
    *refused = (uint8_t)sqlite3_column_int(st, 1);
    rc = 0;
  } else {
    rc = rc == SQLITE_DONE ? STORE_NOT_FOUND : sql_fail(s, "notification get");
  }
  sqlite3_finalize(st);
  return rc;
}

int store_notification_put(store_t *s, const char *fn_number, uint32_t number, uint32_t now,
                           uint8_t result, uint8_t refused)
{
  sqlite3_stmt *st = NULL;
  if (prep(s,
           "INSERT INTO notifications (fn, number, applied_at, result, refused)"
           " VALUES (?, ?, ?, ?, ?)",
           &st) != 0)
    return STORE_ERR;
  sqlite3_bind_text(st, 1, fn_number, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, number);
  sqlite3_bind_int64(st, 3, now);
  sqlite3_bind_int(st, 4, result);
  sqlite3_bind_int(st, 5, refused);
  return exec_done(s, st, "notification put");
}
