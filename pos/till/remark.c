/*
** remark.c: see remark.h. The order matters: the cache's remark (old code
** dead, new code in stock) and the queued report are written before the
** caller draws the label or the operator is called, so a crash after the manager
** pressed the button leaves a remark that is complete locally and a report
** that will be sent.
*/
#include "pos/till/remark.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errtab.h"
#include "ofd/registry.h"
#include "pos/till/lane_store.h"
#include "pos/till/state_internal.h"
#include "scanner/markcode.h"

static const errtab_t errors[] = {
    {REMARK_OK, "ok", "Готово.", "Done."},
    {REMARK_ERR_ARGUMENT, "argument", "Укажите старый код или возврат без кода (одно из двух).",
     "Give the old code or a return without a code (one of them)."},
    {REMARK_ERR_CODE, "bad_code", "Старый код не читается или неизвестен магазину.",
     "The old code is unreadable or unknown to the store."},
    {REMARK_ERR_STATE, "state", "Старый код продан или уже перемаркирован.",
     "The old code is sold or already remarked."},
    {REMARK_ERR_EMPTY, "pool_empty", "В пуле нет свободных кодов для этого товара: закажите коды.",
     "The pool has no fresh code for this good: order codes."},
    {REMARK_ERR_NOT_FOUND, "not_found", "Такого возврата без кода нет.",
     "No such return without a code."},
    {REMARK_ERR_STORAGE, "storage", "Ошибка записи на диск кассы.", "The till's disk failed."},
    {REMARK_ERR_LABEL, "label", "Этикетку не удалось напечатать (перемаркировка записана).",
     "The label could not be drawn (the remark is recorded)."},
    ERRTAB_END("Неизвестная ошибка.", "Unknown error."),
};

const char *remark_err_name(int err) { return errtab_name(errors, err); }

const char *remark_err_message(int err, bool russian)
{
  return errtab_message(errors, err, russian);
}

static int queue_ensure(till_t *t)
{
  return sqlite3_exec(t->db,
                      "CREATE TABLE IF NOT EXISTS remark_report(id INTEGER PRIMARY KEY,"
                      " old TEXT NOT NULL, new BLOB NOT NULL, created_ms INTEGER)",
                      NULL, NULL, NULL) == SQLITE_OK
             ? 0
             : REMARK_ERR_STORAGE;
}

static int queue_add(till_t *t, const char *old, const char *code, size_t len)
{
  sqlite3_stmt *s = NULL;
  int rc = REMARK_ERR_STORAGE;
  if (queue_ensure(t) != 0) return rc;
  if (sqlite3_prepare_v2(t->db, "INSERT INTO remark_report(old, new, created_ms) VALUES(?,?,?)", -1,
                         &s, NULL) == SQLITE_OK) {
    sqlite3_bind_text(s, 1, old, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, code, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, till_now_ms(t));
    if (sqlite3_step(s) == SQLITE_DONE) rc = 0;
  }
  sqlite3_finalize(s);
  return rc;
}

static registry_t *open_registry(till_t *t)
{
  char url[300];
  registry_t *r = NULL;
  kassa_config_operator_url(&t->config, url, sizeof url);
  registry_options_t o = {.url = url, .api_key = t->config.trueapi_api_key, .timeout_ms = 3000};
  return registry_create(&o, &r) == 0 ? r : NULL;
}

int remark_flush(till_t *t, unsigned *sent, unsigned *left)
{
  sqlite3_stmt *s = NULL;
  registry_t *reg = NULL;
  unsigned ok = 0, queued = 0;
  int rc = REMARK_ERR_STORAGE;
  if (sent) *sent = 0;
  if (left) *left = 0;
  if (!t || queue_ensure(t) != 0) return REMARK_ERR_STORAGE;
  if (sqlite3_prepare_v2(t->db, "SELECT id, old, new FROM remark_report ORDER BY id", -1, &s,
                         NULL) != SQLITE_OK)
    return rc;
  reg = open_registry(t);
  int step;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    registry_remark_result_t res;
    int64_t id = sqlite3_column_int64(s, 0);
    const char *old = (const char *)sqlite3_column_text(s, 1);
    const char *code = sqlite3_column_blob(s, 2);
    size_t len = (size_t)sqlite3_column_bytes(s, 2);
    int r = reg ? registry_report_remark(reg, old, code, len, NULL, &res) : REGISTRY_ERR_NETWORK;
    /* Taken, or refused for good (a 4xx will not change on retry). */
    if (r == 0 || r == REGISTRY_ERR_REFUSED) {
      char sql[80];
      snprintf(sql, sizeof sql, "DELETE FROM remark_report WHERE id = %lld", (long long)id);
      sqlite3_exec(t->db, sql, NULL, NULL, NULL);
      ok += r == 0;
    } else {
      queued++;
    }
  }
  rc = step == SQLITE_DONE ? 0 : REMARK_ERR_STORAGE;
  sqlite3_finalize(s);
  registry_destroy(reg);
  if (sent) *sent = ok;
  if (left) *left = queued;
  return rc;
}

int remark_good(till_t *t, const char *old_scan, size_t len, int64_t pending_id,
                remark_result_t *out)
{
  markcode_t *mc = NULL;
  const char *old_ki = NULL;
  int rc;
  if (!out) return REMARK_ERR_ARGUMENT;
  memset(out, 0, sizeof *out);
  if (!t || (old_scan == NULL) == (pending_id <= 0)) return REMARK_ERR_ARGUMENT;
  if (old_scan) {
    cache_code_t row;
    if (!(mc = malloc(sizeof *mc))) return REMARK_ERR_STORAGE;
    if (markcode_parse(mc, old_scan, len) != MARKCODE_OK ||
        cache_code_get(t->cache, mc->ki, &row) != 0) {
      rc = REMARK_ERR_CODE;
      goto done;
    }
    if (row.local == CACHE_LOCAL_SOLD || row.local == CACHE_LOCAL_REMARKED) {
      rc = REMARK_ERR_STATE;
      goto done;
    }
    old_ki = mc->ki;
    if (strlen(mc->ki) >= sizeof out->old) {
      rc = REMARK_ERR_CODE;
      goto done;
    }
    memcpy(out->old, mc->ki, strlen(mc->ki) + 1);
    snprintf(out->gtin, sizeof out->gtin, "%s", row.gtin[0] ? row.gtin : mc->gtin);
  } else {
    cache_pending_t p;
    rc = cache_pending_get(t->cache, pending_id, &p);
    if (rc == CACHE_ERR_NOT_FOUND) return REMARK_ERR_NOT_FOUND;
    if (rc != 0) return REMARK_ERR_STORAGE;
    snprintf(out->gtin, sizeof out->gtin, "%s", p.gtin);
    snprintf(out->old, sizeof out->old, "return:%u:%u", p.return_document, p.line);
  }
  rc = cache_remark(t->cache, out->gtin, old_ki, old_ki ? 0 : pending_id, out->new_code,
                    sizeof out->new_code);
  if (rc == CACHE_ERR_EMPTY)
    rc = REMARK_ERR_EMPTY;
  else if (rc == CACHE_ERR_STATE)
    rc = REMARK_ERR_STATE;
  else if (rc == CACHE_ERR_NOT_FOUND)
    rc = old_ki ? REMARK_ERR_CODE : REMARK_ERR_NOT_FOUND;
  else if (rc != 0)
    rc = REMARK_ERR_STORAGE;
  if (rc != 0) goto done;
  out->new_code_len = strlen(out->new_code);
  /* Queued before it is sent: the remark is already true locally. */
  if (queue_add(t, out->old, out->new_code, out->new_code_len) != 0) {
    rc = REMARK_ERR_STORAGE;
    goto done;
  }
  if (old_ki) lane_store_remark(t, old_ki, out->gtin); /* the store's record */
  unsigned sent = 0, left = 0;
  remark_flush(t, &sent, &left);
  out->reported = left == 0;
  if (!out->reported)
    snprintf(out->report_error, sizeof out->report_error,
             "оператор недоступен, отчёт в очереди / the operator is unreachable, the report is "
             "queued");
done:
  free(mc);
  return rc;
}
