/*
** office.c: the manager's fiscal operations (see office.h): X/Z reports
** with the drawer, cash in/out, correction receipts, the FN close and the
** FN replacement. The command line and the HTTP API only translate their
** input into these calls and the results into text or JSON.
*/
#include "pos/till/office.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errtab.h"
#include "fiscal/fn_emu.h"
#include "pos/till/fiscal_text.h"
#include "pos/till/state_internal.h"

static const errtab_t error_texts[] = {
    {OFFICE_OK, "ok", "Готово.", "Done."},
    {OFFICE_ERR_ARGUMENT, "argument", "Неверные данные.", "Bad input."},
    {OFFICE_ERR_FN, "fn", "ФН отказал.", "The FN refused."},
    {OFFICE_ERR_DRAWER, "drawer", "Денежный ящик отказал.", "The drawer refused."},
    {OFFICE_ERR_OWED, "owed", "Не все документы переданы.", "Not everything is delivered."},
    {OFFICE_ERR_NOT_CLOSED, "fn_not_closed", "ФН не закрыт.", "The FN is not closed."},
    {OFFICE_ERR_NO_REGISTRATION, "no_registration", "В архиве нет регистрации.",
     "No registration in the archive."},
    {OFFICE_ERR_FILES, "files", "Файлы ФН не удалось заменить.",
     "The FN's files could not be replaced."},
    {OFFICE_ERR_MEMORY, "memory", "Недостаточно памяти.", "Out of memory."},
    {OFFICE_ERR_DEVICE, "device",
     "ФН стоит в кассовом аппарате: его заменяют и перерегистрируют на самом аппарате.",
     "The FN is inside a cash register: it is replaced and re-registered at the register."},
    ERRTAB_END("Неизвестная ошибка.", "Unknown error."),
};

const char *office_err_name(int err) { return errtab_name(error_texts, err); }

/* Starts a refusal: why (may be NULL) reset to err with the table's words. */
static int refuse(office_fail_t *why, int err)
{
  if (why) {
    memset(why, 0, sizeof *why);
    why->err = err;
    snprintf(why->message_ru, sizeof why->message_ru, "%s", errtab_message(error_texts, err, true));
    snprintf(why->message_en, sizeof why->message_en, "%s",
             errtab_message(error_texts, err, false));
  }
  return err;
}

static int refuse_fn(office_fail_t *why, const char *what_ru, const char *what_en, int rc)
{
  refuse(why, OFFICE_ERR_FN);
  if (why) {
    why->fn_error = rc;
    snprintf(why->message_ru, sizeof why->message_ru, "%s: ФН отказал: %s (ошибка 0x%02X, %s)",
             what_ru, fn_err_message(rc, true), (unsigned)fn_err_device_code(rc), fn_err_name(rc));
    snprintf(why->message_en, sizeof why->message_en, "%s: the FN refused: %s (error 0x%02X, %s)",
             what_en, fn_err_message(rc, false), (unsigned)fn_err_device_code(rc), fn_err_name(rc));
    fiscal_text_utf8_clean(why->message_ru); /* a cut letter would void the API's JSON */
  }
  return OFFICE_ERR_FN;
}

static int refuse_drawer(office_fail_t *why, int rc)
{
  refuse(why, OFFICE_ERR_DRAWER);
  if (why) {
    why->drawer_error = rc;
    snprintf(why->message_ru, sizeof why->message_ru, "Денежный ящик: %s.",
             drawer_err_message(rc, true));
    snprintf(why->message_en, sizeof why->message_en, "The drawer: %s.",
             drawer_err_message(rc, false));
  }
  return OFFICE_ERR_DRAWER;
}

static int refuse_field(office_fail_t *why, const char *field, const char *ru, const char *en)
{
  refuse(why, OFFICE_ERR_ARGUMENT);
  if (why) {
    why->field = field;
    snprintf(why->message_ru, sizeof why->message_ru, "%s: %s.", field, ru);
    snprintf(why->message_en, sizeof why->message_en, "%s: %s.", field, en);
  }
  return OFFICE_ERR_ARGUMENT;
}

/* ---- the drawer and the reports -------------------------------------------- */

/* The drawer's counters of shift st (open) against the shift's live totals. */
static int drawer_now(fn_t *fn, const char *data_dir, const fn_status_t *st, drawer_totals_t *moves,
                      uint64_t *balance, office_fail_t *why)
{
  doc_totals_t live;
  drawer_t *d = NULL;
  int rc = fn_totals(fn, true, &live);
  if (rc != 0) return refuse_fn(why, "Итоги смены", "The shift's totals", rc);
  if ((rc = drawer_open(data_dir, &d)) == 0)
    rc = drawer_totals(d, st->fn_number, st->shift_number, moves);
  drawer_close(d);
  if (rc != 0) return refuse_drawer(why, rc);
  *balance = drawer_balance(moves, &live);
  return 0;
}

int office_drawer(fn_t *fn, const char *data_dir, office_drawer_t *out, office_fail_t *why)
{
  fn_status_t st;
  int rc;
  if (!fn || !data_dir || !out) return refuse(why, OFFICE_ERR_ARGUMENT);
  memset(out, 0, sizeof *out);
  if ((rc = fn_status(fn, &st)) != 0) return refuse_fn(why, "Состояние ФН", "The FN's status", rc);
  memcpy(out->fn_number, st.fn_number, sizeof out->fn_number);
  if (!st.shift_open) return 0;
  out->shift_open = true;
  out->shift = st.shift_number;
  return drawer_now(fn, data_dir, &st, &out->moves, &out->balance, why);
}

int office_report(fn_t *fn, const char *data_dir, bool z, const char *cashier, office_report_t *out,
                  office_fail_t *why)
{
  fn_status_t st;
  int rc;
  if (!fn || !data_dir || !out) return refuse(why, OFFICE_ERR_ARGUMENT);
  memset(out, 0, sizeof *out);
  out->z = z;
  if ((rc = fn_status(fn, &st)) != 0) return refuse_fn(why, "Состояние ФН", "The FN's status", rc);
  /* The drawer counts with the shift's totals as they are before a Z
  ** closes it (the corrections' cash included, which 1133 does not carry). */
  if (st.shift_open) {
    if ((rc = drawer_now(fn, data_dir, &st, &out->moves, &out->balance, why)) != 0) return rc;
    out->has_drawer = true;
    out->shift = st.shift_number;
  }
  rc = z ? fn_shift_close(fn, cashier ? cashier : "", &out->doc) : fn_state_report(fn, &out->doc);
  if (rc != 0)
    return z ? refuse_fn(why, "Z-отчёт (закрытие смены)", "The Z-report (shift close)", rc)
             : refuse_fn(why, "X-отчёт (отчёт о состоянии расчётов)", "The X-report", rc);
  fn_document_t *doc = malloc(sizeof *doc);
  if (!doc) return refuse(why, OFFICE_ERR_MEMORY);
  if ((rc = fn_document_get(fn, out->doc.number, doc)) != 0) {
    free(doc);
    return refuse_fn(why, "Отчёт сделан, но не читается", "The report is made but unreadable", rc);
  }
  out->has_shift_totals = doc_parse_totals(doc->data, doc->len, 1194, &out->shift_totals) == 0;
  if (!out->has_shift_totals) memset(&out->shift_totals, 0, sizeof out->shift_totals);
  if (doc_parse_totals(doc->data, doc->len, 1157, &out->fn_totals) != 0)
    memset(&out->fn_totals, 0, sizeof out->fn_totals);
  free(doc);
  return 0;
}

const char *office_operation_name(int operation)
{
  static const char *const names[5] = {"", "sale", "sale_return", "purchase", "purchase_return"};
  return operation >= 1 && operation <= 4 ? names[operation] : "";
}

/* One operation's counters. */
static json_t *op_json(const doc_op_totals_t *o)
{
  json_t *vat = json_array();
  for (size_t i = 0; vat && i < doc_vat_rate_count(); i++) {
    const doc_vat_rate_t *v = doc_vat_rate_at(i);
    if (o->vat_present & (1u << v->value))
      json_array_append_new(vat, json_pack("{s:i,s:s,s:I}", "vat", v->value, "label", v->sum_label,
                                           "sum", (json_int_t)o->vat[v->value]));
  }
  return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o*}", "count", (json_int_t)o->count, "total",
                   (json_int_t)o->total, "cash", (json_int_t)o->cash, "cashless",
                   (json_int_t)o->cashless, "prepaid", (json_int_t)o->prepaid, "credit",
                   (json_int_t)o->credit, "other", (json_int_t)o->other, "vat", vat);
}

json_t *office_totals_json(const doc_totals_t *t)
{
  json_t *receipts = json_object(), *corrections = json_object();
  for (int op = 1; op <= 4 && receipts && corrections; op++) {
    json_object_set_new(receipts, office_operation_name(op), op_json(&t->receipts[op]));
    json_object_set_new(corrections, office_operation_name(op), op_json(&t->corrections[op]));
  }
  return json_pack("{s:o*,s:o*}", "receipts", receipts, "corrections", corrections);
}

json_t *office_report_json(const office_report_t *r)
{
  return json_pack(
      "{s:s,s:I,s:I,s:I,s:I,s:o*,s:o*,s:{s:I,s:I,s:I,s:I,s:I}}", "report", r->z ? "z" : "x",
      "document", (json_int_t)r->doc.number, "time", (json_int_t)r->doc.time, "fiscal_sign",
      (json_int_t)r->doc.fiscal_sign, "shift", (json_int_t)r->shift, "shift_totals",
      r->has_shift_totals ? office_totals_json(&r->shift_totals) : json_null(), "fn_totals",
      office_totals_json(&r->fn_totals), "drawer", "cash_in", (json_int_t)r->moves.in, "cash_ins",
      (json_int_t)r->moves.ins, "cash_out", (json_int_t)r->moves.out, "cash_outs",
      (json_int_t)r->moves.outs, "balance", (json_int_t)r->balance);
}

/* ---- cash in / out ---------------------------------------------------------- */

int office_cash(fn_t *fn, const char *data_dir, bool in, uint64_t amount, office_cash_t *out,
                office_fail_t *why)
{
  office_drawer_t now;
  drawer_t *d = NULL;
  int rc;
  if (!fn || !data_dir || !out) return refuse(why, OFFICE_ERR_ARGUMENT);
  memset(out, 0, sizeof *out);
  if (amount == 0 || amount >= (UINT64_C(1) << 48)) return refuse_drawer(why, DRAWER_ERR_AMOUNT);
  if ((rc = office_drawer(fn, data_dir, &now, why)) != 0) return rc;
  if (!now.shift_open) return refuse_drawer(why, DRAWER_ERR_NO_SHIFT);
  fn_status_t st;
  if ((rc = fn_status(fn, &st)) != 0) return refuse_fn(why, "Состояние ФН", "The FN's status", rc);
  if ((rc = drawer_open(data_dir, &d)) == 0)
    rc = drawer_move(d, in, amount, now.fn_number, now.shift, st.now, now.balance);
  drawer_close(d);
  if (rc != 0) return refuse_drawer(why, rc);
  out->shift = now.shift;
  out->amount = amount;
  /* Counted again: a balance shown as 0 because the FN's cash ran below
  ** zero (returns before any cash was put in) is not the base to add to. */
  if ((rc = office_drawer(fn, data_dir, &now, why)) != 0) return rc;
  out->balance = now.balance;
  return 0;
}

/* ---- a correction's date ------------------------------------------------------ */

bool office_date_parse(const char *s, uint32_t *out)
{
  static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  unsigned y, m, d;
  char tail;
  if (!s || strlen(s) != 10 || sscanf(s, "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3 || s[4] != '-' ||
      s[7] != '-' || y < 2000 || y > 2099 || m < 1 || m > 12 || d < 1)
    return false;
  bool leap = y % 4 == 0; /* 2000..2099: every fourth year, 2000 included */
  if (d > (unsigned)month_days[m - 1] + (m == 2 && leap)) return false;
  uint32_t days = 0;
  for (unsigned yy = 1970; yy < y; yy++)
    days += 365u + (yy % 4 == 0 && (yy % 100 || yy % 400 == 0));
  for (unsigned mm = 1; mm < m; mm++) days += (uint32_t)month_days[mm - 1] + (mm == 2 && leap);
  days += d - 1;
  *out = days * 86400u;
  return true;
}

/* ---- FN close and replacement ------------------------------------------------ */

/* A refusal over what the FN still owes (the counts kept in why). */
static void refuse_owing(office_fail_t *why, int err, const fn_status_t *st)
{
  refuse(why, err);
  if (why) {
    why->documents = st->unsent_documents;
    why->notifications = st->unsent_notifications;
  }
}

int office_fn_close(fn_t *fn, fn_doc_result_t *out, office_fail_t *why)
{
  fn_status_t st;
  int rc;
  if (!fn || !out) return refuse(why, OFFICE_ERR_ARGUMENT);
  if ((rc = fn_status(fn, &st)) != 0) return refuse_fn(why, "Состояние ФН", "The FN's status", rc);
  if (st.unsent_documents || st.unsent_notifications) {
    refuse_owing(why, OFFICE_ERR_OWED, &st);
    if (why)
      errtab_format(why->message_ru, sizeof why->message_ru, why->message_en,
                    sizeof why->message_en,
                    "ФН нельзя закрыть: не переданы документы (%u) и уведомления (%u); "
                    "сначала передайте их (kassa ofd flush).",
                    "The FN cannot be closed: %u documents and %u notifications are not "
                    "delivered yet; deliver them first (kassa ofd flush).",
                    st.unsent_documents, st.unsent_notifications);
    return OFFICE_ERR_OWED;
  }
  if ((rc = fn_close_archive(fn, out)) != 0)
    return refuse_fn(why, "Закрытие ФН", "The FN close", rc);
  return 0;
}

static bool all_digits(const char *s, size_t n)
{
  if (!s || strlen(s) != n) return false;
  return strspn(s, "0123456789") == n;
}

/* The old FN's last registration (1 or 11), into reg. */
static bool last_registration(fn_t *fn, uint32_t last, fn_registration_t *reg)
{
  fn_document_t *doc = malloc(sizeof *doc);
  bool found = false;
  memset(reg, 0, sizeof *reg);
  for (uint32_t n = last; doc && n >= 1 && !found; n--) {
    if (fn_document_get(fn, n, doc) != 0) continue;
    if (doc->type != DOC_REGISTRATION && doc->type != DOC_REREGISTRATION) continue;
    found = doc_parse_registration(doc->data, doc->len, &reg->header, &reg->reg) == 0;
  }
  free(doc);
  return found;
}

/* Moves path (and a -wal / -shm left beside it) to dest. */
static int move_db(const char *path, const char *dest)
{
  static const char *const sidecars[] = {"-wal", "-shm"};
  struct stat sb;
  if (rename(path, dest) != 0) return -1;
  for (size_t i = 0; i < 2; i++) {
    char from[4300], to[4300];
    snprintf(from, sizeof from, "%s%s", path, sidecars[i]);
    snprintf(to, sizeof to, "%s%s", dest, sidecars[i]);
    if (stat(from, &sb) == 0) rename(from, to);
  }
  return 0;
}

int till_fn_replace(till_t *t, const char *new_number, const char *cashier, office_replaced_t *out,
                    office_fail_t *why)
{
  fn_status_t st;
  fn_registration_t reg;
  char path[KASSA_PATH_MAX + 16];
  struct stat sb;
  int rc;
  if (!t || !out) return refuse(why, OFFICE_ERR_ARGUMENT);
  memset(out, 0, sizeof *out);
  if (!all_digits(new_number, 16))
    return refuse_field(why, "fn_number", "номер нового ФН: 16 цифр",
                        "the new FN's number: 16 digits");
  if (cashier && strlen(cashier) > 64)
    return refuse_field(why, "cashier", "не более 64 байт", "at most 64 bytes");
  if (fn_capabilities(t->fn) & FN_CAP_DEVICE_DELIVERS) return refuse(why, OFFICE_ERR_DEVICE);
  if ((rc = fn_status(t->fn, &st)) != 0)
    return refuse_fn(why, "Состояние ФН", "The FN's status", rc);
  if (st.phase != FN_PHASE_POST || st.unsent_documents || st.unsent_notifications) {
    refuse_owing(why, OFFICE_ERR_NOT_CLOSED, &st);
    if (why)
      errtab_format(why->message_ru, sizeof why->message_ru, why->message_en,
                    sizeof why->message_en,
                    "Замена ФН %s: сначала передайте все документы и закройте ФН (%s; не "
                    "переданы документы: %u, уведомления: %u).",
                    "Replacing the FN %s: it must be closed and owe nothing first (%s; "
                    "undelivered documents: %u, notifications: %u).",
                    st.fn_number, st.phase == FN_PHASE_POST ? "closed" : "not closed",
                    st.unsent_documents, st.unsent_notifications);
    return OFFICE_ERR_NOT_CLOSED;
  }
  if (!strcmp(new_number, st.fn_number))
    return refuse_field(why, "fn_number", "новый ФН должен иметь другой номер",
                        "the new FN needs another number");
  if (!last_registration(t->fn, st.last_document, &reg))
    return refuse(why, OFFICE_ERR_NO_REGISTRATION);
  /* Every old document is in the cache before the new FN's begin. */
  if ((rc = till_replay(t, NULL)) != 0) return refuse_fn(why, "Кэш кодов", "The code cache", rc);
  snprintf(path, sizeof path, "%s/fn.db", t->config.data_dir);
  snprintf(out->kept, sizeof out->kept, "%.*s/fn-%s.db", KASSA_PATH_MAX, t->config.data_dir,
           st.fn_number);
  memcpy(out->old_number, st.fn_number, sizeof out->old_number);
  snprintf(out->new_number, sizeof out->new_number, "%s", new_number);
  if (stat(out->kept, &sb) == 0) return refuse(why, OFFICE_ERR_FILES);
  /* The old FN's connection goes before its file moves. */
  fn_free(t->fn);
  t->fn = NULL;
  fn_emu_options_t fo = {.clock = t->fn_clock, .clock_user = t->fn_clock_user};
  if (move_db(path, out->kept) != 0) {
    fn_emu_open(path, &fo, &t->fn);
    return refuse(why, OFFICE_ERR_FILES);
  }
  if ((rc = fn_emu_create(path, new_number)) != 0 || (rc = fn_emu_open(path, &fo, &t->fn)) != 0) {
    /* Back as it was: the old FN stays the till's. */
    fn_free(t->fn);
    t->fn = NULL;
    unlink(path);
    move_db(out->kept, path);
    fn_emu_open(path, &fo, &t->fn);
    return refuse(why, OFFICE_ERR_FILES);
  }
  snprintf(reg.header.cashier, sizeof reg.header.cashier, "%s", cashier ? cashier : "");
  reg.reg.reason_mask = FN_REREG_FN_REPLACED;
  if ((rc = fn_register(t->fn, &reg, true, &out->doc)) != 0)
    return refuse_fn(why, "Регистрация нового ФН", "The new FN's registration", rc);
  /* The cache binds the new FN after the old one; the links that named the
  ** old FN are made again when next needed. */
  memcpy(t->fn_number, out->new_number, sizeof t->fn_number);
  if (cache_fn_bind(t->cache, t->fn_number, &t->fn_base) != 0 || till_replay(t, NULL) != 0)
    return refuse(why, OFFICE_ERR_FILES);
  ofd_client_destroy(t->oism);
  t->oism = NULL;
  trueapi_destroy(t->trueapi);
  t->trueapi = NULL;
  return 0;
}
