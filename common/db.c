/*
** common/db.c: the SQLite helpers of db.h.
*/
#include "common/db.h"

#include <stdio.h>
#include <string.h>

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
