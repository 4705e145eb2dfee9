/*
** common/db.h: the few SQLite steps every module that keeps a file does
** the same way: run SQL text with no parameters, read a one-row pragma,
** copy a text column into a fixed buffer.
**
** The FN emulator, the code cache, the basket and kassa-operator's store
** each keep their own connection, statements and error style; these
** helpers return SQLite's result code and leave the reporting to the
** caller, which knows what a failure means for it.
*/
#ifndef KASSA_COMMON_DB_H
#define KASSA_COMMON_DB_H

#include <stddef.h>

#include <sqlite3.h>

/*
** Runs sql (one or more statements, no parameters; rows are discarded).
** Returns SQLITE_OK or SQLite's error code; on an error and when err is
** not NULL, writes "sql: SQLite's message" into err[0..err_size).
*/
int db_exec(sqlite3 *db, const char *sql, char *err, size_t err_size);

/*
** Runs one statement (a PRAGMA) and copies its first row's first column
** as text into out[0..cap) ("" when there is no row or it is NULL).
** SQLITE_OK or SQLite's error code.
*/
int db_pragma_text(sqlite3 *db, const char *sql, char *out, size_t cap);

/* Copies column col of the current row as text into out[0..cap), cut to
** fit and always NUL-terminated ("" for NULL). */
void db_column_text(sqlite3_stmt *s, int col, char *out, size_t cap);

#endif /* KASSA_COMMON_DB_H */
