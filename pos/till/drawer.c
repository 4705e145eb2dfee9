/*
** drawer.c: the cash drawer's counters in DATA/till.db (see drawer.h).
** One row per movement; the sums are asked of SQLite, so a counter is
** never a second truth that could drift from its rows.
*/
#include "pos/till/drawer.h"

#include <stdio.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "common/db.h"
#include "common/errtab.h"

struct drawer {
  sqlite3 *db;
};

static const errtab_t error_texts[] = {
    {DRAWER_OK, "ok", "готово", "done"},
    {DRAWER_ERR_STORAGE, "storage", "файл кассы DATA/till.db недоступен",
     "the till's file DATA/till.db cannot be used"},
    {DRAWER_ERR_AMOUNT, "amount", "сумма должна быть больше нуля и меньше 2^48 копеек",
     "the amount must be above zero and below 2^48 kopecks"},
    {DRAWER_ERR_SHORT, "short", "в денежном ящике нет такой суммы наличных",
     "the drawer does not hold that much cash"},
    {DRAWER_ERR_NO_SHIFT, "no_shift", "смена не открыта: откройте смену",
     "no shift is open: open the shift first"},
    ERRTAB_END("неизвестная ошибка", "unknown error"),
};

const char *drawer_err_name(int err) { return errtab_name(error_texts, err); }

const char *drawer_err_message(int err, bool russian)
{
  return errtab_message(error_texts, err, russian);
}

#define AMOUNT_MAX ((UINT64_C(1) << 48) - 1)

int drawer_open(const char *data_dir, drawer_t **out)
{
  char path[4096];
  drawer_t *d;
  if (!data_dir || !out) return DRAWER_ERR_STORAGE;
  *out = NULL;
  if (!(d = calloc(1, sizeof *d))) return DRAWER_ERR_STORAGE;
  snprintf(path, sizeof path, "%s/till.db", data_dir);
  if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
          SQLITE_OK ||
      sqlite3_busy_timeout(d->db, 5000) != SQLITE_OK ||
      db_exec(d->db,
              /* the basket's page size when this makes the file (sale.c) */
              "PRAGMA page_size=512; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
              "CREATE TABLE IF NOT EXISTS drawer (id INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
              " fn TEXT NOT NULL, shift INTEGER NOT NULL,"
              " kind TEXT NOT NULL CHECK (kind IN ('in', 'out')),"
              " amount INTEGER NOT NULL CHECK (amount > 0));"
              "CREATE INDEX IF NOT EXISTS drawer_shift ON drawer (fn, shift);",
              NULL, 0) != SQLITE_OK) {
    drawer_close(d);
    return DRAWER_ERR_STORAGE;
  }
  *out = d;
  return 0;
}

void drawer_close(drawer_t *d)
{
  if (!d) return;
  sqlite3_close(d->db);
  free(d);
}

int drawer_totals(drawer_t *d, const char *fn_number, uint32_t shift, drawer_totals_t *out)
{
  sqlite3_stmt *s = NULL;
  int rc = DRAWER_ERR_STORAGE;
  if (!d || !out || !fn_number) return DRAWER_ERR_STORAGE;
  *out = (drawer_totals_t){0};
  if (sqlite3_prepare_v2(
          d->db,
          "SELECT kind, count(*), total(amount) FROM drawer WHERE fn = ?2 AND shift = ?1"
          " GROUP BY kind",
          -1, &s, NULL) != SQLITE_OK ||
      sqlite3_bind_int64(s, 1, shift) != SQLITE_OK ||
      sqlite3_bind_text(s, 2, fn_number, -1, SQLITE_STATIC) != SQLITE_OK)
    goto end;
  int step;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    const unsigned char *kind = sqlite3_column_text(s, 0);
    uint32_t n = (uint32_t)sqlite3_column_int64(s, 1);
    uint64_t sum = (uint64_t)sqlite3_column_double(s, 2);
    if (kind && kind[0] == 'i') {
      out->ins = n;
      out->in = sum;
    } else {
      out->outs = n;
      out->out = sum;
    }
  }
  if (step == SQLITE_DONE) rc = 0;
end:
  sqlite3_finalize(s);
  return rc;
}

uint64_t drawer_balance(const drawer_totals_t *moves, const doc_totals_t *fn_shift)
{
  /* Money in: put in, sales, returns of purchases; out: taken out, sale
  ** returns, purchases. Corrections move cash like their operation. */
  static const int sign[5] = {0, +1, -1, -1, +1};
  int64_t cash = (int64_t)moves->in - (int64_t)moves->out;
  for (int op = 1; op <= 4 && fn_shift; op++)
    cash +=
        sign[op] * ((int64_t)fn_shift->receipts[op].cash + (int64_t)fn_shift->corrections[op].cash);
  return cash > 0 ? (uint64_t)cash : 0;
}

int drawer_move(drawer_t *d, bool in, uint64_t amount, const char *fn_number, uint32_t shift,
                uint32_t time, uint64_t balance)
{
  sqlite3_stmt *s = NULL;
  int rc = DRAWER_ERR_STORAGE;
  if (!d || !fn_number) return DRAWER_ERR_STORAGE;
  if (amount == 0 || amount > AMOUNT_MAX) return DRAWER_ERR_AMOUNT;
  if (shift == 0) return DRAWER_ERR_NO_SHIFT;
  if (!in && amount > balance) return DRAWER_ERR_SHORT;
  if (sqlite3_prepare_v2(
          d->db, "INSERT INTO drawer (time, shift, kind, amount, fn) VALUES (?1, ?2, ?3, ?4, ?5)",
          -1, &s, NULL) == SQLITE_OK &&
      sqlite3_bind_int64(s, 1, time) == SQLITE_OK && sqlite3_bind_int64(s, 2, shift) == SQLITE_OK &&
      sqlite3_bind_text(s, 3, in ? "in" : "out", -1, SQLITE_STATIC) == SQLITE_OK &&
      sqlite3_bind_int64(s, 4, (sqlite3_int64)amount) == SQLITE_OK &&
      sqlite3_bind_text(s, 5, fn_number, -1, SQLITE_STATIC) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_DONE)
    rc = 0;
  sqlite3_finalize(s);
  return rc;
}
