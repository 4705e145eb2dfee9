/*
** common/db.c: the SQLite helpers of db.h.
*/
#include "common/db.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void process_setup(void)
{
  /* SQLITE_MISUSE when SQLite has started already: then it stays as it is. */
  if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK) sqlite3_initialize();
}

void db_process_setup(void)
{
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, process_setup);
}

int db_exec(sqlite3 *db, const char *sql, char *err, size_t err_size)
{
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK && err && err_size)
    snprintf(err, err_size, "%s: %s", sql, msg ? msg : sqlite3_errmsg(db));
  sqlite3_free(msg);
  return rc;
}

int db_pragma_text(sqlite3 *db, const char *sql, char *out, size_t cap)
{
  sqlite3_stmt *s = NULL;
  if (cap) out[0] = '\0';
  int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    db_column_text(s, 0, out, cap);
    rc = SQLITE_DONE;
  }
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

void db_column_text(sqlite3_stmt *s, int col, char *out, size_t cap)
{
  if (!cap) return;
  const unsigned char *text = sqlite3_column_text(s, col);
  size_t n = text ? (size_t)sqlite3_column_bytes(s, col) : 0;
  if (n >= cap) n = cap - 1;
  if (n) memcpy(out, text, n);
  out[n] = '\0';
}

sqlite3_stmt *db_stmts_get(db_stmts_t *set, sqlite3 *db, const char *sql, int *rc)
{
  sqlite3_stmt *s = NULL;
  for (int i = 0; i < set->count; i++)
    if (strcmp(sqlite3_sql(set->kept[i]), sql) == 0) {
      s = set->kept[i];
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
      *rc = SQLITE_OK;
      return s;
    }
  bool keep = set->count < DB_STMTS_MAX;
  *rc = sqlite3_prepare_v3(db, sql, -1, keep ? SQLITE_PREPARE_PERSISTENT : 0, &s, NULL);
  if (*rc != SQLITE_OK) {
    sqlite3_finalize(s);
    return NULL;
  }
  if (keep) set->kept[set->count++] = s;
  return s;
}

void db_stmts_put(db_stmts_t *set, sqlite3_stmt *s)
{
  if (!s) return;
  for (int i = 0; i < set->count; i++)
    if (set->kept[i] == s) {
      sqlite3_reset(s);
      return;
    }
  sqlite3_finalize(s);
}

int db_stmts_exec(db_stmts_t *set, sqlite3 *db, const char *sql)
{
  int rc;
  sqlite3_stmt *s = db_stmts_get(set, db, sql, &rc);
  if (!s) return rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {}
  db_stmts_put(set, s);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

void db_stmts_clear(db_stmts_t *set)
{
  if (!set) return;
  for (int i = 0; i < set->count; i++) sqlite3_finalize(set->kept[i]);
  set->count = 0;
}
