/*
** line_edit.c: a basket line's quantity and discount (see line_edit.h).
** The line is read through sale_get(), checked against its rule, and
** rewritten in DATA/till.db in one transaction with its discount row.
*/
#include "pos/till/line_edit.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/db.h"
#include "common/errtab.h"
#include "pos/till/sale.h"
#include "pos/till/money.h"
#include "pos/till/state_internal.h"

static const errtab_t error_texts[] = {
    {LINE_EDIT_OK, "ok", "Готово.", "Done."},
    {LINE_EDIT_ERR_NO_RECEIPT, "no_receipt", "Чек не открыт.", "No receipt is open."},
    {LINE_EDIT_ERR_NO_LINE, "no_line", "В чеке нет такой строки.", "The receipt has no such line."},
    {LINE_EDIT_ERR_QUANTITY, "quantity",
     "Количество: маркированный товар — одна штука на код, штучный — целое число, весовой — "
     "до трёх знаков после запятой.",
     "Quantity: a marked good is one piece per code, a piece good a whole number, a weighed "
     "good at most three decimals."},
    {LINE_EDIT_ERR_PERCENT, "percent", "Скидка — целое число процентов от 0 до 99.",
     "A discount is a whole percentage from 0 to 99."},
    {LINE_EDIT_ERR_NOT_DISCOUNTABLE, "not_discountable",
     "На эту строку скидка не даётся: возврат или подакцизный товар с минимальной ценой.",
     "This line takes no discount: a return, or an excisable good with a minimum price."},
    {LINE_EDIT_ERR_STORAGE, "storage", "Файл чека DATA/till.db недоступен.",
     "The basket's file DATA/till.db cannot be used."},
    ERRTAB_END("Неизвестная ошибка.", "Unknown error."),
};

const char *line_edit_err_name(int err) { return errtab_name(error_texts, err); }

const char *line_edit_err_message(int err, bool russian)
{
  return errtab_message(error_texts, err, russian);
}

/* The discounts beside the lines; a line's row goes with the line. */
static const char schema[] = "CREATE TABLE IF NOT EXISTS line_discount(line_id INTEGER PRIMARY KEY,"
                             " list_price INTEGER NOT NULL, percent INTEGER NOT NULL);"
                             "CREATE TRIGGER IF NOT EXISTS line_discount_gone AFTER DELETE ON line"
                             " BEGIN DELETE FROM line_discount WHERE line_id = old.id; END;";

/* The open basket (malloc'd) and its line line_id in *line; NULL with *rc. */
static sale_basket_t *basket_line(till_t *t, uint32_t line_id, const sale_line_t **line, int *rc)
{
  sale_basket_t *b = malloc(sizeof *b);
  *line = NULL;
  if (!b || db_exec(t->db, schema, NULL, 0) != SQLITE_OK || sale_get(t, b) != 0) {
    *rc = LINE_EDIT_ERR_STORAGE;
  } else if (!b->open) {
    *rc = LINE_EDIT_ERR_NO_RECEIPT;
  } else {
    for (size_t i = 0; i < b->count && !*line; i++)
      if (b->lines[i].id == line_id) *line = &b->lines[i];
    if (*line) return b;
    *rc = LINE_EDIT_ERR_NO_LINE;
  }
  free(b);
  return NULL;
}

/* Runs one statement with up to three integer parameters. */
static int run(till_t *t, const char *sql, int64_t a, int64_t b, int64_t c)
{
  sqlite3_stmt *s = NULL;
  int rc = LINE_EDIT_ERR_STORAGE;
  if (sqlite3_prepare_v2(t->db, sql, -1, &s, NULL) == SQLITE_OK) {
    int n = sqlite3_bind_parameter_count(s);
    if (n >= 1) sqlite3_bind_int64(s, 1, a);
    if (n >= 2) sqlite3_bind_int64(s, 2, b);
    if (n >= 3) sqlite3_bind_int64(s, 3, c);
    if (sqlite3_step(s) == SQLITE_DONE) rc = 0;
  }
  sqlite3_finalize(s);
  return rc;
}

/* Rewrites a line's price, quantity and total, and its discount row
** (percent 0: none), in one transaction. */
static int rewrite(till_t *t, const sale_line_t *l, uint64_t price, doc_quantity_t q,
                   uint64_t list_price, unsigned percent)
{
  uint64_t total;
  if (l->fraction_denominator) {
    /* A part of a marked good's unit (1291): price x n / d, half up, as sale.c's line. */
    if (price > UINT64_MAX / l->fraction_numerator) return LINE_EDIT_ERR_QUANTITY;
    total = (price * l->fraction_numerator + l->fraction_denominator / 2) / l->fraction_denominator;
  } else if (!sale_line_total(price, q, &total))
    return LINE_EDIT_ERR_QUANTITY;
  if (db_exec(t->db, "BEGIN IMMEDIATE", NULL, 0) != SQLITE_OK) return LINE_EDIT_ERR_STORAGE;
  int rc = run(t, "UPDATE line SET price = ?1, total = ?2 WHERE id = ?3", (int64_t)price,
               (int64_t)total, l->id);
  if (rc == 0)
    rc = run(t, "UPDATE line SET qty_mantissa = ?1, qty_scale = ?2 WHERE id = ?3",
             (int64_t)q.mantissa, q.scale, l->id);
  if (rc == 0)
    rc = percent ? run(t,
                       "INSERT OR REPLACE INTO line_discount(line_id, list_price, percent)"
                       " VALUES(?1, ?2, ?3)",
                       l->id, (int64_t)list_price, percent)
                 : run(t, "DELETE FROM line_discount WHERE line_id = ?1", l->id, 0, 0);
  if (rc == 0 && db_exec(t->db, "COMMIT", NULL, 0) == SQLITE_OK) return 0;
  db_exec(t->db, "ROLLBACK", NULL, 0);
  return LINE_EDIT_ERR_STORAGE;
}

/* The discount row of a line: its list price and percent (0 none). */
static int discount_of(till_t *t, uint32_t line_id, uint64_t *list_price, unsigned *percent)
{
  sqlite3_stmt *s = NULL;
  int rc = LINE_EDIT_ERR_STORAGE, step;
  *percent = 0;
  if (sqlite3_prepare_v2(t->db, "SELECT list_price, percent FROM line_discount WHERE line_id = ?1",
                         -1, &s, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(s, 1, line_id);
    if ((step = sqlite3_step(s)) == SQLITE_ROW) {
      *list_price = (uint64_t)sqlite3_column_int64(s, 0);
      *percent = (unsigned)sqlite3_column_int(s, 1);
    }
    if (step == SQLITE_ROW || step == SQLITE_DONE) rc = 0;
  }
  sqlite3_finalize(s);
  return rc;
}

int sale_line_set_quantity(till_t *t, uint32_t line_id, const doc_quantity_t *quantity)
{
  const sale_line_t *l;
  uint64_t list = 0;
  unsigned percent = 0;
  int rc = 0;
  if (!t || !quantity || quantity->mantissa == 0) return LINE_EDIT_ERR_QUANTITY;
  sale_basket_t *b = basket_line(t, line_id, &l, &rc);
  if (!b) return rc;
  doc_quantity_t q = *quantity;
  uint64_t div = 1;
  for (unsigned i = 0; i < q.scale && i < 19; i++) div *= 10;
  if (l->marked || l->without_code) {
    /* One code, one piece. */
    rc = q.mantissa == div ? 0 : LINE_EDIT_ERR_QUANTITY;
    q = (doc_quantity_t){1, 0};
  } else if (l->measure == 11) {
    rc = q.scale <= 3 ? 0 : LINE_EDIT_ERR_QUANTITY;
  } else {
    rc = q.mantissa % div == 0 ? 0 : LINE_EDIT_ERR_QUANTITY;
    q = (doc_quantity_t){q.mantissa / div, 0};
  }
  /* No more than [till] quantity_max pieces or weight_max_kg in a line,
  ** however the quantity got there (issue 18, money.h). */
  if (rc == 0 && money_ceilings(t, l->price, q, l->measure) != MONEY_OK)
    rc = LINE_EDIT_ERR_QUANTITY;
  if (rc == 0) rc = discount_of(t, line_id, &list, &percent);
  if (rc == 0) rc = rewrite(t, l, l->price, q, list, percent);
  free(b);
  return rc;
}

int sale_line_set_discount(till_t *t, uint32_t line_id, unsigned percent)
{
  const sale_line_t *l;
  uint64_t list = 0;
  unsigned had = 0;
  int rc = 0;
  if (!t) return LINE_EDIT_ERR_STORAGE;
  if (percent > 99) return LINE_EDIT_ERR_PERCENT;
  sale_basket_t *b = basket_line(t, line_id, &l, &rc);
  if (!b) return rc;
  if (b->operation != DOC_OP_SALE || l->subject == 31) {
    free(b);
    return LINE_EDIT_ERR_NOT_DISCOUNTABLE;
  }
  if ((rc = discount_of(t, line_id, &list, &had)) == 0) {
    if (!had) list = l->price; /* the first discount: the scanned price is the list price */
    uint64_t price = list - (list * percent + 50) / 100;
    rc = rewrite(t, l, price, l->quantity, list, percent);
  }
  free(b);
  return rc;
}

bool sale_discount_needs_manager(const till_t *t, unsigned percent)
{
  return t && percent > t->config.discount_without_pin_percent;
}

int sale_line_discounts(till_t *t, sale_line_discount_t *out, size_t max, size_t *count)
{
  sqlite3_stmt *s = NULL;
  size_t n = 0;
  int step = SQLITE_DONE;
  if (count) *count = 0;
  if (!t || !out || !count) return LINE_EDIT_ERR_STORAGE;
  if (db_exec(t->db, schema, NULL, 0) != SQLITE_OK ||
      sqlite3_prepare_v2(t->db,
                         "SELECT line_id, list_price, percent FROM line_discount"
                         " WHERE line_id IN (SELECT id FROM line) ORDER BY line_id",
                         -1, &s, NULL) != SQLITE_OK)
    return LINE_EDIT_ERR_STORAGE;
  while (n < max && (step = sqlite3_step(s)) == SQLITE_ROW) {
    out[n].line_id = (uint32_t)sqlite3_column_int64(s, 0);
    out[n].list_price = (uint64_t)sqlite3_column_int64(s, 1);
    out[n].percent = (unsigned)sqlite3_column_int(s, 2);
    n++;
  }
  sqlite3_finalize(s);
  *count = n;
  return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : LINE_EDIT_ERR_STORAGE;
}
