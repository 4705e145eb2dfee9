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
** Once a process, before SQLite starts (the first file a till, an FN or a
** cache opens calls it): SQLite keeps no memory statistics. Nothing here
** reads them (sqlite3_memory_used and the like), and keeping them takes a
** process-wide mutex at every allocation SQLite makes, a few hundred a
** receipt. Called after SQLite started (another module opened a file
** first), it changes nothing. Not to be raced by another thread's first
** SQLite call: the modules call it from the thread that opens first.
*/
void db_process_setup(void);

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

/*
** Statements kept for a connection's life, found by their text: a caller
** that writes its SQL where it runs it (the basket) still compiles each
** statement once. The set is the caller's (a field of its context), holds
** at most DB_STMTS_MAX statements (more are compiled and finalized each
** time, as before), and is emptied before the connection closes.
*/
#define DB_STMTS_MAX 32
typedef struct db_stmts {
  sqlite3_stmt *kept[DB_STMTS_MAX];
  int count;
} db_stmts_t;

/*
** The statement for sql (one statement, a text that does not change from
** call to call: values go in as bindings) on db, reset and without
** bindings, prepared (SQLITE_PREPARE_PERSISTENT) the first time. When the
** set is full it is compiled for this use only (db_stmts_put finalizes
** it). NULL with SQLite's error code in *rc when it does not compile.
*/
sqlite3_stmt *db_stmts_get(db_stmts_t *set, sqlite3 *db, const char *sql, int *rc);

/* Done with a statement db_stmts_get gave: reset when kept (read locks
** released), finalized when transient (NULL-safe). */
void db_stmts_put(db_stmts_t *set, sqlite3_stmt *s);

/* Runs sql (one statement, no parameters) through the set: SQLITE_OK or
** SQLite's error code. */
int db_stmts_exec(db_stmts_t *set, sqlite3 *db, const char *sql);

/* Finalizes every kept statement (before sqlite3_close; NULL-safe). */
void db_stmts_clear(db_stmts_t *set);

#endif /* KASSA_COMMON_DB_H */
