/*
** idempotency.c: the keys of safe retries in DATA/till.db (see
** idempotency.h). Every write is its own transaction with
** synchronous=FULL: a claimed key or a stored answer survives a power cut.
*/
#include "pos/till/idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/db.h"
#include "common/errtab.h"
#include "fiscal/crypto.h"
#include "pos/till/state_internal.h"

static const errtab_t errors[] = {
    {IDEMPOTENCY_OK, "ok", "Готово.", "Done."},
    {IDEMPOTENCY_ERR_STORAGE, "storage", "Ошибка файла кассы.", "The till's file failed."},
    {IDEMPOTENCY_ERR_ARGUMENT, "argument", "Неверный ключ идемпотентности.",
     "Bad idempotency key."},
    {IDEMPOTENCY_ERR_NOT_FOUND, "not_found", "Ключ не использовался.", "The key was never used."},
    ERRTAB_END("Неизвестная ошибка.", "Unknown error."),
};

const char *idempotency_err_name(int err) { return errtab_name(errors, err); }

bool idempotency_key_ok(const char *key)
{
  size_t n = key ? strlen(key) : 0;
  if (n == 0 || n > IDEMPOTENCY_KEY_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if (key[i] < 0x21 || key[i] > 0x7e) return false;
  return true;
}

int idempotency_digest(const char *method, const char *path, const char *body, size_t len,
                       char out[65])
{
  uint8_t d[CRYPTO_STREEBOG256_SIZE];
  size_t m = strlen(method), p = strlen(path), n = m + 1 + p + 1 + len;
  uint8_t *all = malloc(n ? n : 1);
  if (!all) return IDEMPOTENCY_ERR_STORAGE;
  memcpy(all, method, m);
  all[m] = '\n';
  memcpy(all + m + 1, path, p);
  all[m + 1 + p] = '\n';
  if (len) memcpy(all + m + p + 2, body, len);
  int rc = crypto_streebog256(all, n, d);
  free(all);
  if (rc != 0) return IDEMPOTENCY_ERR_STORAGE;
  codec_hex_encode(d, sizeof d, CODEC_HEX_LOWER, out);
  return 0;
}

void idempotency_entry_free(idempotency_entry_t *e)
{
  if (!e) return;
  free(e->body);
  free(e->request);
  e->body = NULL;
  e->request = NULL;
}

static int ready(till_t *t)
{
  return db_exec(
             t->db,
             "CREATE TABLE IF NOT EXISTS idempotency(key TEXT PRIMARY KEY, digest TEXT NOT NULL,"
             " after_document INTEGER NOT NULL, status INTEGER NOT NULL DEFAULT 0,"
             " answer TEXT, request TEXT)",
             NULL, 0) == SQLITE_OK
             ? 0
             : IDEMPOTENCY_ERR_STORAGE;
}

/* The row the statement s (bound by the caller) finds: 0, NOT_FOUND, STORAGE. */
static int read_row(sqlite3_stmt *s, idempotency_entry_t *out)
{
  int step = sqlite3_step(s);
  if (step == SQLITE_DONE) return IDEMPOTENCY_ERR_NOT_FOUND;
  if (step != SQLITE_ROW) return IDEMPOTENCY_ERR_STORAGE;
  db_column_text(s, 0, out->key, sizeof out->key);
  db_column_text(s, 1, out->digest, sizeof out->digest);
  out->after_document = (uint32_t)sqlite3_column_int64(s, 2);
  out->status = (unsigned)sqlite3_column_int(s, 3);
  const unsigned char *answer = sqlite3_column_text(s, 4);
  const unsigned char *request = sqlite3_column_text(s, 5);
  out->pending = answer == NULL;
  if (answer && !(out->body = strdup((const char *)answer))) return IDEMPOTENCY_ERR_STORAGE;
  if (request && !(out->request = strdup((const char *)request))) return IDEMPOTENCY_ERR_STORAGE;
  return 0;
}

static const char row_columns[] = "SELECT key, digest, after_document, status, answer, request"
                                  " FROM idempotency";

int idempotency_get(till_t *t, const char *key, idempotency_entry_t *out)
{
  sqlite3_stmt *s = NULL;
  char sql[160];
  int rc = IDEMPOTENCY_ERR_STORAGE;
  if (!t || !out || !idempotency_key_ok(key)) return IDEMPOTENCY_ERR_ARGUMENT;
  memset(out, 0, sizeof *out);
  if (ready(t) != 0) return IDEMPOTENCY_ERR_STORAGE;
  snprintf(sql, sizeof sql, "%s WHERE key = ?", row_columns);
  if (sqlite3_prepare_v2(t->db, sql, -1, &s, NULL) == SQLITE_OK) {
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    rc = read_row(s, out);
  }
  sqlite3_finalize(s);
  if (rc != 0) idempotency_entry_free(out);
  return rc;
}

int idempotency_next_pending(till_t *t, idempotency_entry_t *out)
{
  sqlite3_stmt *s = NULL;
  char sql[160];
  int rc = IDEMPOTENCY_ERR_STORAGE;
  if (!t || !out) return IDEMPOTENCY_ERR_ARGUMENT;
  memset(out, 0, sizeof *out);
  if (ready(t) != 0) return IDEMPOTENCY_ERR_STORAGE;
  snprintf(sql, sizeof sql, "%s WHERE answer IS NULL ORDER BY after_document LIMIT 1", row_columns);
  if (sqlite3_prepare_v2(t->db, sql, -1, &s, NULL) == SQLITE_OK) rc = read_row(s, out);
  sqlite3_finalize(s);
  if (rc != 0) idempotency_entry_free(out);
  return rc;
}

/* One statement under synchronous=FULL. */
static int write_full(till_t *t, const char *sql, const char *key, const char *text, int64_t number)
{
  sqlite3_stmt *s = NULL;
  int rc = IDEMPOTENCY_ERR_STORAGE;
  if (ready(t) != 0 || db_exec(t->db, "PRAGMA synchronous=FULL", NULL, 0) != SQLITE_OK)
    return IDEMPOTENCY_ERR_STORAGE;
  if (sqlite3_prepare_v2(t->db, sql, -1, &s, NULL) == SQLITE_OK) {
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(s) >= 2) sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(s) >= 3) sqlite3_bind_int64(s, 3, number);
    if (sqlite3_step(s) == SQLITE_DONE) rc = 0;
  }
  sqlite3_finalize(s);
  db_exec(t->db, "PRAGMA synchronous=NORMAL", NULL, 0);
  return rc;
}

int idempotency_begin(till_t *t, const char *key, const char *digest, uint32_t after_document,
                      const char *request)
{
  sqlite3_stmt *s = NULL;
  int rc = IDEMPOTENCY_ERR_STORAGE;
  if (!t || !digest || !idempotency_key_ok(key)) return IDEMPOTENCY_ERR_ARGUMENT;
  if (ready(t) != 0 || db_exec(t->db, "PRAGMA synchronous=FULL", NULL, 0) != SQLITE_OK)
    return IDEMPOTENCY_ERR_STORAGE;
  if (sqlite3_prepare_v2(t->db,
                         "INSERT OR REPLACE INTO idempotency(key, digest, after_document, status,"
                         " answer, request) VALUES(?1, ?2, ?3, 0, NULL, ?4)",
                         -1, &s, NULL) == SQLITE_OK) {
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, digest, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, after_document);
    if (request) sqlite3_bind_text(s, 4, request, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_DONE) rc = 0;
  }
  sqlite3_finalize(s);
  db_exec(t->db, "PRAGMA synchronous=NORMAL", NULL, 0);
  return rc;
}

int idempotency_finish(till_t *t, const char *key, unsigned status, const char *body)
{
  if (!t || !body || !idempotency_key_ok(key)) return IDEMPOTENCY_ERR_ARGUMENT;
  return write_full(t, "UPDATE idempotency SET answer = ?2, status = ?3 WHERE key = ?1", key, body,
                    status);
}

int idempotency_forget(till_t *t, const char *key)
{
  if (!t || !idempotency_key_ok(key)) return IDEMPOTENCY_ERR_ARGUMENT;
  return write_full(t, "DELETE FROM idempotency WHERE key = ?1", key, NULL, 0);
}
