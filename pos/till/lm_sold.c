/*
** lm_sold.c: the local module's sold-goods table in DATA/till.db (see
** lm_sold.h). One row per registered ki; each list is one transaction.
*/
#include "pos/till/lm_sold.h"

#include <stdio.h>
#include <string.h>

#include "common/db.h"
#include "common/errtab.h"
#include "pos/till/cache.h"
#include "pos/till/state_internal.h"

static const errtab_t errors[] = {
    {LM_SOLD_OK, "ok", "Готово.", "Done."},
    {LM_SOLD_ERR_STORAGE, "storage", "Ошибка файла кассы.", "The till's file failed."},
    {LM_SOLD_ERR_SOLD, "already_sold", "Продажа этого кода уже зарегистрирована.",
     "The sale of this code is registered already."},
    {LM_SOLD_ERR_NOT_SOLD, "not_registered", "Продажа этого кода не зарегистрирована.",
     "No sale of this code is registered."},
    {LM_SOLD_ERR_ARGUMENT, "argument", "Неверный список кодов.", "Bad list of codes."},
    ERRTAB_END("Неизвестная ошибка.", "Unknown error."),
};

const char *lm_sold_err_name(int err) { return errtab_name(errors, err); }

/* The table, made on first use (an older till.db has none), without the
** sales older than LM_SOLD_KEEP_MS (the manual's soldStorePeriod). */
static int ready(till_t *t)
{
  char sql[160];
  if (db_exec(t->db,
              "CREATE TABLE IF NOT EXISTS lm_sold(seq INTEGER PRIMARY KEY, ki TEXT NOT NULL"
              " UNIQUE, at_ms INTEGER NOT NULL)",
              NULL, 0) != SQLITE_OK)
    return LM_SOLD_ERR_STORAGE;
  snprintf(sql, sizeof sql, "DELETE FROM lm_sold WHERE at_ms < %lld",
           (long long)(till_now_ms(t) - LM_SOLD_KEEP_MS));
  return db_exec(t->db, sql, NULL, 0) == SQLITE_OK ? 0 : LM_SOLD_ERR_STORAGE;
}

/* 1 registered, 0 not, -1 storage. */
static int registered(till_t *t, const char *ki)
{
  sqlite3_stmt *s = NULL;
  int rc = -1;
  if (sqlite3_prepare_v2(t->db, "SELECT 1 FROM lm_sold WHERE ki = ?", -1, &s, NULL) == SQLITE_OK) {
    sqlite3_bind_text(s, 1, ki, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    rc = step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : -1;
  }
  sqlite3_finalize(s);
  return rc;
}

/* Sold by a receipt of the archive: whole, or every part of the pack (a
** pack partly sold is still in circulation, common/part.h). */
static bool sold_by_archive(till_t *t, const char *ki)
{
  cache_code_t row;
  return cache_code_get(t->cache, ki, &row) == 0 && row.local == CACHE_LOCAL_SOLD &&
         (row.part_units <= 1 || row.part_sold >= row.part_units);
}

bool lm_sold_is_sold(till_t *t, const char *ki)
{
  if (!t || !ki || !ki[0]) return false;
  if (ready(t) == 0 && registered(t, ki) == 1) return true;
  return sold_by_archive(t, ki);
}

static bool list_ok(const char *const *kis, size_t n)
{
  if (!kis || n == 0) return false;
  for (size_t i = 0; i < n; i++)
    if (!kis[i] || !kis[i][0]) return false;
  return true;
}

/* One statement over every ki of the list inside one transaction; check
** decides, before anything is written, which ki refuses the list. */
static int apply(till_t *t, const char *const *kis, size_t n, bool add, int64_t now_ms, size_t *bad)
{
  sqlite3_stmt *s = NULL;
  int rc = LM_SOLD_ERR_STORAGE;
  if (!t || !list_ok(kis, n)) return LM_SOLD_ERR_ARGUMENT;
  if (ready(t) != 0) return LM_SOLD_ERR_STORAGE;
  if (db_exec(t->db, "BEGIN IMMEDIATE", NULL, 0) != SQLITE_OK) return LM_SOLD_ERR_STORAGE;
  for (size_t i = 0; i < n; i++) {
    int r = registered(t, kis[i]);
    if (r < 0) goto fail;
    /* A code twice in one list counts as sold by its first occurrence. */
    bool twice = false;
    for (size_t j = 0; j < i; j++) twice |= !strcmp(kis[j], kis[i]);
    if (add ? (r == 1 || twice || sold_by_archive(t, kis[i])) : (r == 0 || twice)) {
      if (bad) *bad = i;
      rc = add ? LM_SOLD_ERR_SOLD : LM_SOLD_ERR_NOT_SOLD;
      goto fail;
    }
  }
  if (sqlite3_prepare_v2(t->db,
                         add ? "INSERT INTO lm_sold(ki, at_ms) VALUES(?, ?)"
                             : "DELETE FROM lm_sold WHERE ki = ?",
                         -1, &s, NULL) != SQLITE_OK)
    goto fail;
  for (size_t i = 0; i < n; i++) {
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, kis[i], -1, SQLITE_STATIC);
    if (add) sqlite3_bind_int64(s, 2, now_ms);
    if (sqlite3_step(s) != SQLITE_DONE) goto fail;
  }
  sqlite3_finalize(s);
  s = NULL;
  if (db_exec(t->db, "COMMIT", NULL, 0) != SQLITE_OK) goto fail;
  return 0;
fail:
  sqlite3_finalize(s);
  db_exec(t->db, "ROLLBACK", NULL, 0);
  return rc;
}

int lm_sold_register(till_t *t, const char *const *kis, size_t n, int64_t now_ms, size_t *bad)
{
  return apply(t, kis, n, true, now_ms, bad);
}

int lm_sold_return(till_t *t, const char *const *kis, size_t n, size_t *bad)
{
  return apply(t, kis, n, false, 0, bad);
}

int lm_sold_list(till_t *t, uint64_t skip, uint64_t limit, void (*each)(const char *ki, void *user),
                 void *user, uint64_t *total)
{
  sqlite3_stmt *s = NULL;
  int rc = LM_SOLD_ERR_STORAGE;
  if (!t || !each) return LM_SOLD_ERR_ARGUMENT;
  if (ready(t) != 0) return LM_SOLD_ERR_STORAGE;
  if (total) {
    if (sqlite3_prepare_v2(t->db, "SELECT count(*) FROM lm_sold", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW)
      goto done;
    *total = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    s = NULL;
  }
  if (sqlite3_prepare_v2(t->db, "SELECT ki FROM lm_sold ORDER BY seq LIMIT ? OFFSET ?", -1, &s,
                         NULL) != SQLITE_OK)
    goto done;
  sqlite3_bind_int64(s, 1, (sqlite3_int64)limit);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)skip);
  int step;
  while ((step = sqlite3_step(s)) == SQLITE_ROW)
    each((const char *)sqlite3_column_text(s, 0), user);
  if (step == SQLITE_DONE) rc = 0;
done:
  sqlite3_finalize(s);
  return rc;
}

int lm_sold_clear(till_t *t)
{
  if (!t) return LM_SOLD_ERR_ARGUMENT;
  if (ready(t) != 0) return LM_SOLD_ERR_STORAGE;
  return db_exec(t->db, "DELETE FROM lm_sold", NULL, 0) == SQLITE_OK ? 0 : LM_SOLD_ERR_STORAGE;
}
