/*
** fiscal/fn.c: the FN interface's wrappers and its error table.
**
** The till holds an fn_t and calls the functions here; each one refuses
** what no backend could do anything sensible with (a NULL handle, a NULL
** output, a code longer than tag 2000 allows, an operation that is not one
** of the four) with FN_ERR_PARAMS, and passes the rest to the backend. So a
** backend may rely on its arguments being present and in range, and a
** second backend (a driver for a real FN) gets the same checks for free.
**
** The error table is the other half. The FN's errors keep their device
** numbers (0x16 is "shift over 24 hours" in every vendor's manual), so a
** store manager who reads "0x16" in a log and the message on the screen
** can look both up. Messages say what to do, in Russian for the shop floor
** and in English for integrators.
*/
#include "fiscal/fn.h"

#include <stdlib.h>
#include <string.h>

#include "common/errtab.h"

static const errtab_t error_texts[] = {
    {FN_OK, "ok", "Нет ошибки", "No error"},
    {FN_ERR_UNKNOWN_COMMAND, "unknown_command", "ФН не знает этой команды",
     "The fiscal storage does not know this command"},
    {FN_ERR_STATE, "state", "Команда не разрешена в текущем состоянии ФН (смена, чек, регистрация)",
     "The command is not allowed in the fiscal storage's current state (shift, receipt, "
     "registration)"},
    {FN_ERR_FAILURE, "failure", "Сбой фискального накопителя: обратитесь в сервисный центр",
     "The fiscal storage failed: call the service centre"},
    {FN_ERR_PARAMS, "params", "Неверные параметры команды ФН",
     "The parameters do not match the fiscal storage command"},
    {FN_ERR_TIME, "time", "Дата и время раньше последнего документа: проверьте часы кассы",
     "The date and time are earlier than the last document: check the register's clock"},
    {FN_ERR_NO_DATA, "no_data", "Запрошенных данных нет в ФН",
     "The requested data is not in the fiscal storage"},
    {FN_ERR_VALUE, "value", "Неверное значение в документе (сумма, оплата, реквизит)",
     "A value in the document is wrong (total, payment, requisite)"},
    {FN_ERR_TLV_SIZE, "tlv_size", "Документ слишком большой: разделите чек",
     "The document is too large: split the receipt"},
    {FN_ERR_OFD_OVERDUE, "ofd_overdue",
     "ОФД не подтвердил документы больше 30 дней: восстановите связь с ОФД",
     "The OFD has not acknowledged documents for over 30 days: restore the link to the OFD"},
    {FN_ERR_SHIFT_OVERDUE, "shift_overdue", "Смена длится больше 24 часов: закройте смену",
     "The shift is over 24 hours old: close the shift"},
    {FN_ERR_OFD_ANSWER, "ofd_answer_rejected",
     "ФН не принял квитанцию ОФД: фискальный признак оператора (1078) не прошёл проверку или "
     "квитанция не от ОФД этой кассы. Документы остаются в ФН неподтверждёнными и будут "
     "отправлены снова; если повторяется, проверьте адрес ОФД и обратитесь в ОФД",
     "The FN refused the OFD's acknowledgement: the operator's fiscal sign (1078) did not verify "
     "or the acknowledgement is not from this till's OFD. The documents stay unacknowledged in "
     "the FN and will be sent again; if this repeats, check the OFD's address and contact the "
     "OFD"},
    {FN_ERR_NOTIFY_FULL, "notify_full",
     "Память уведомлений о продаже заполнена: продажа маркированного товара заблокирована до "
     "отправки уведомлений",
     "The sale-notification store is full: marked goods are blocked until notifications are "
     "delivered"},
    {FN_ERR_KM_TABLE_FULL, "km_table_full",
     "Таблица проверенных кодов маркировки заполнена: закройте или отмените чек",
     "The table of checked marking codes is full: close or cancel the receipt"},
    {FN_ERR_KEYS_EXPIRED, "keys_expired",
     "Ключи проверки кодов маркировки старше 90 дней: обновите ключи (сервер ОКП)",
     "The marking-code verification keys are over 90 days old: update the keys (OKP server)"},
    {FN_ERR_KM_NOT_CHECKED, "km_not_checked",
     "Код маркировки не проверен: отсканируйте товар ещё раз",
     "The marking code was not checked first: scan the item again"},
    {FN_ERR_IO, "io", "Ошибка хранилища эмулятора ФН (диск заполнен или повреждён)",
     "The fiscal storage emulator's disk failed (full or damaged)"},
    {FN_ERR_NO_MEMORY, "no_memory", "Недостаточно памяти", "Out of memory"},
    {FN_ERR_DEVICE_LINK, "device_link",
     "Касса (ККТ) не отвечает: проверьте питание, кабель или сеть и адрес ([fn] backend)",
     "The cash register (KKT) does not answer: check its power, the cable or network and the "
     "address ([fn] backend)"},
    {FN_ERR_DEVICE, "device", "Касса (ККТ) отказала: причина в сообщении кассы",
     "The cash register (KKT) refused: its own message says why"},
    ERRTAB_END("Неизвестная ошибка ФН", "Unknown fiscal storage error"),
};

int fn_err_device_code(int err)
{
  /* Device errors are the FN's own byte, negated; the emulator's own
  ** failures (below -0xFF) have no device code. */
  if (err < 0 && err >= -0xFF) return -err;
  return 0;
}

const char *fn_err_name(int err) { return errtab_name(error_texts, err); }

const char *fn_err_message(int err, bool russian)
{
  return errtab_message(error_texts, err, russian);
}

typedef struct ack_refusal_text {
  int reason;
  const char *name, *russian, *english;
} ack_refusal_text_t;

static const ack_refusal_text_t ack_refusals[] = {
    {FN_ACK_REFUSAL_NONE, "none", "Квитанции не отклонялись", "No acknowledgement was refused"},
    {FN_ACK_REFUSAL_NO_KEY, "no_key",
     "У ФН нет ключа ОФД для проверки квитанций: добавьте ФН в ОФД (kassa-operator fn add)",
     "The FN holds no OFD key to verify acknowledgements: add the FN to the OFD "
     "(kassa-operator fn add)"},
    {FN_ACK_REFUSAL_OTHER_OFD, "other_ofd",
     "Квитанция от другого ОФД (ИНН 1017 не тот, что при регистрации)",
     "The acknowledgement comes from another OFD (1017 is not the INN registered)"},
    {FN_ACK_REFUSAL_BAD_SIGN, "bad_sign",
     "Фискальный признак оператора (1078) не прошёл проверку: квитанция подделана или повреждена",
     "The operator's fiscal sign (1078) does not verify: the acknowledgement is forged or "
     "damaged"},
};

static const ack_refusal_text_t *ack_refusal_find(int reason)
{
  for (size_t i = 0; i < sizeof ack_refusals / sizeof ack_refusals[0]; i++)
    if (ack_refusals[i].reason == reason) return &ack_refusals[i];
  return NULL;
}

const char *fn_ack_refusal_name(int reason)
{
  const ack_refusal_text_t *t = ack_refusal_find(reason);
  return t ? t->name : "unknown";
}

const char *fn_ack_refusal_message(int reason, bool russian)
{
  const ack_refusal_text_t *t = ack_refusal_find(reason);
  if (!t) return russian ? "Неизвестная причина" : "Unknown reason";
  return russian ? t->russian : t->english;
}

/* ---------------------------------------------------------------------- */
/* Argument checks shared by the wrappers                                  */

static bool usable(const fn_t *fn) { return fn && fn->backend; }

/* A cashier name is at most 64 characters (tag 1021), counted as UTF-8
** code points: a Cyrillic name takes twice as many bytes as letters. */
bool fn_cashier_ok(const char *cashier)
{
  if (!cashier) return true;
  size_t bytes = strnlen(cashier, FN_CASHIER_SIZE), chars = 0;
  if (bytes >= FN_CASHIER_SIZE) return false;
  for (size_t i = 0; i < bytes; i++) chars += ((unsigned char)cashier[i] & 0xC0) != 0x80;
  return chars <= FN_CASHIER_MAX_CHARS;
}

/* A fixed-size text field holds its NUL (else it was cut, or is garbage). */
#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

/* An item the FN can store: a NUL inside the name fields' arrays, and for a
** marked good a code that fits tag 2000. */
static bool item_ok(const doc_item_t *item)
{
  if (!item) return false;
  if (!TERMINATED(item->name) || !TERMINATED(item->product_value)) return false;
  if (item->has_industry &&
      (!TERMINATED(item->industry.authority) || !TERMINATED(item->industry.date) ||
       !TERMINATED(item->industry.number) || !TERMINATED(item->industry.value)))
    return false;
  if (item->marked && (item->km_len == 0 || item->km_len > DOC_MAX_KM)) return false;
  if (item->quantity.scale > 6) return false; /* FFD allows at most 6 decimals */
  return true;
}

/* Every text field of the registration holds its NUL. */
static bool registration_ok(const fn_registration_t *r)
{
  const doc_header_t *h = &r->header;
  return TERMINATED(h->kkt_reg_number) && TERMINATED(h->user_inn) && TERMINATED(h->user_name) &&
         TERMINATED(h->cashier) && TERMINATED(h->address) && TERMINATED(h->place) &&
         TERMINATED(r->reg.ofd_inn) && TERMINATED(r->reg.ofd_name) && TERMINATED(r->reg.kkt_serial);
}

/* ---------------------------------------------------------------------- */
/* Wrappers                                                                */

int fn_status(fn_t *fn, fn_status_t *out)
{
  if (!usable(fn) || !out) return FN_ERR_PARAMS;
  return fn->backend->status(fn->self, out);
}

int fn_register(fn_t *fn, const fn_registration_t *r, bool re, fn_doc_result_t *out)
{
  if (!usable(fn) || !r || !registration_ok(r)) return FN_ERR_PARAMS;
  return fn->backend->register_kkt(fn->self, r, re, out);
}

int fn_shift_open(fn_t *fn, const char *cashier, fn_doc_result_t *out)
{
  if (!usable(fn) || !fn_cashier_ok(cashier)) return FN_ERR_PARAMS;
  return fn->backend->shift_open(fn->self, cashier ? cashier : "", out);
}

int fn_shift_close(fn_t *fn, const char *cashier, fn_doc_result_t *out)
{
  if (!usable(fn) || !fn_cashier_ok(cashier)) return FN_ERR_PARAMS;
  return fn->backend->shift_close(fn->self, cashier ? cashier : "", out);
}

int fn_state_report(fn_t *fn, fn_doc_result_t *out)
{
  if (!usable(fn)) return FN_ERR_PARAMS;
  return fn->backend->state_report(fn->self, out);
}

int fn_close_archive(fn_t *fn, fn_doc_result_t *out)
{
  if (!usable(fn)) return FN_ERR_PARAMS;
  return fn->backend->fn_close(fn->self, out);
}

int fn_receipt_begin(fn_t *fn, uint8_t operation, uint8_t tax_system, const char *cashier)
{
  if (!usable(fn) || !fn_cashier_ok(cashier)) return FN_ERR_PARAMS;
  if (operation < DOC_OP_SALE || operation > DOC_OP_PURCHASE_RETURN) return FN_ERR_PARAMS;
  return fn->backend->receipt_begin(fn->self, operation, tax_system, cashier ? cashier : "");
}

int fn_receipt_add(fn_t *fn, const doc_item_t *item)
{
  if (!usable(fn) || !item_ok(item)) return FN_ERR_PARAMS;
  return fn->backend->receipt_add(fn->self, item);
}

int fn_receipt_close(fn_t *fn, uint64_t cash, uint64_t cashless, bool correction,
                     fn_doc_result_t *out)
{
  if (!usable(fn)) return FN_ERR_PARAMS;
  return fn->backend->receipt_close(fn->self, cash, cashless, correction, out);
}

int fn_correction_close(fn_t *fn, uint64_t cash, uint64_t cashless, const fn_correction_t *c,
                        fn_doc_result_t *out)
{
  if (!usable(fn) || !c) return FN_ERR_PARAMS;
  if (!memchr(c->order_number, '\0', sizeof c->order_number)) return FN_ERR_PARAMS;
  if (fn->backend->correction_close)
    return fn->backend->correction_close(fn->self, cash, cashless, c, out);
  if (c->type != 0 || c->order_number[0]) return FN_ERR_UNKNOWN_COMMAND;
  return fn->backend->receipt_close(fn->self, cash, cashless, true, out);
}

int fn_receipt_close_paid(fn_t *fn, const fn_payments_t *p, const fn_correction_t *c,
                          fn_doc_result_t *out)
{
  if (!usable(fn) || !p) return FN_ERR_PARAMS;
  if (c && !memchr(c->order_number, '\0', sizeof c->order_number)) return FN_ERR_PARAMS;
  if (fn->backend->receipt_close_paid) return fn->backend->receipt_close_paid(fn->self, p, c, out);
  if (p->prepaid || p->credit || p->other) return FN_ERR_UNKNOWN_COMMAND;
  return c ? fn_correction_close(fn, p->cash, p->cashless, c, out)
           : fn->backend->receipt_close(fn->self, p->cash, p->cashless, false, out);
}

/* fn_receipt_make() by the single calls, for a backend without it. */
static int receipt_make_by_steps(fn_t *fn, const fn_receipt_order_t *o, fn_doc_result_t *out)
{
  int rc = fn->backend->receipt_begin(fn->self, o->operation, o->tax_system,
                                      o->cashier ? o->cashier : "");
  if (rc != 0) return rc;
  for (size_t i = 0; i < o->count && rc == 0; i++)
    rc = fn->backend->receipt_add(fn->self, &o->items[i]);
  if (rc == 0) rc = fn_receipt_close_paid(fn, &o->pay, o->correction, out);
  if (rc != 0) (void)fn->backend->receipt_cancel(fn->self);
  return rc;
}

int fn_receipt_make(fn_t *fn, const fn_receipt_order_t *o, fn_doc_result_t *out)
{
  if (!usable(fn) || !o || !fn_cashier_ok(o->cashier) || (o->count && !o->items))
    return FN_ERR_PARAMS;
  if (o->operation < DOC_OP_SALE || o->operation > DOC_OP_PURCHASE_RETURN) return FN_ERR_PARAMS;
  if (o->correction &&
      !memchr(o->correction->order_number, '\0', sizeof o->correction->order_number))
    return FN_ERR_PARAMS;
  if (o->count > DOC_MAX_ITEMS) return FN_ERR_TLV_SIZE;
  for (size_t i = 0; i < o->count; i++)
    if (!item_ok(&o->items[i])) return FN_ERR_PARAMS;
  if (fn->backend->receipt_make) return fn->backend->receipt_make(fn->self, o, out);
  return receipt_make_by_steps(fn, o, out);
}

int fn_totals(fn_t *fn, bool shift, doc_totals_t *out)
{
  if (!usable(fn) || !out) return FN_ERR_PARAMS;
  if (!fn->backend->totals) return FN_ERR_UNKNOWN_COMMAND;
  return fn->backend->totals(fn->self, shift, out);
}

int fn_receipt_cancel(fn_t *fn)
{
  if (!usable(fn)) return FN_ERR_PARAMS;
  return fn->backend->receipt_cancel(fn->self);
}

int fn_km_check(fn_t *fn, const doc_item_t *item, fn_km_check_t *out)
{
  if (!usable(fn) || !item || !out) return FN_ERR_PARAMS;
  if (item->km_len == 0 || item->km_len > DOC_MAX_KM) return FN_ERR_PARAMS;
  return fn->backend->km_check(fn->self, item, out);
}

int fn_km_answer(fn_t *fn, const uint8_t *doc83, size_t len, fn_km_check_t *out)
{
  if (!usable(fn) || !doc83 || len == 0 || !out) return FN_ERR_PARAMS;
  return fn->backend->km_answer(fn->self, doc83, len, out);
}

int fn_km_accept(fn_t *fn, const char *km, size_t km_len, bool accept)
{
  if (!usable(fn) || !km || km_len == 0 || km_len > DOC_MAX_KM) return FN_ERR_PARAMS;
  return fn->backend->km_accept(fn->self, km, km_len, accept);
}

int fn_document_next_unsent(fn_t *fn, fn_document_t *out)
{
  if (!usable(fn) || !out) return FN_ERR_PARAMS;
  return fn->backend->document_next_unsent(fn->self, out);
}

int fn_document_ack(fn_t *fn, const uint8_t *doc7, size_t len)
{
  if (!usable(fn) || !doc7 || len == 0) return FN_ERR_PARAMS;
  return fn->backend->document_ack(fn->self, doc7, len);
}

int fn_document_get(fn_t *fn, uint32_t number, fn_document_t *out)
{
  if (!usable(fn) || !out || number == 0) return FN_ERR_PARAMS;
  return fn->backend->document_get(fn->self, number, out);
}

int fn_notification_next(fn_t *fn, fn_notification_t *out)
{
  if (!usable(fn) || !out) return FN_ERR_PARAMS;
  return fn->backend->notification_next(fn->self, out);
}

int fn_notification_ticket(fn_t *fn, const uint8_t *doc84, size_t len)
{
  if (!usable(fn) || !doc84 || len == 0) return FN_ERR_PARAMS;
  return fn->backend->notification_ticket(fn->self, doc84, len);
}

/* Every entry of a group commit holds bytes; the array exists when it
** has entries. */
static bool bytes_ok(const fn_bytes_t *list, size_t count)
{
  if (count > 0 && !list) return false;
  for (size_t i = 0; i < count; i++)
    if (!list[i].data || list[i].len == 0) return false;
  return true;
}

typedef int (*single_call_t)(void *self, const uint8_t *data, size_t len);
typedef int (*batch_call_t)(void *self, const fn_bytes_t *list, size_t count, size_t *applied);

/* A group commit through the backend's batch entry or, for a backend
** without one, its single call once per entry with the batch's contract
** (stop at the first refusal, count what stayed). */
static int batch_run(fn_t *fn, batch_call_t batch, single_call_t single, const fn_bytes_t *list,
                     size_t count, size_t *applied)
{
  size_t done = 0;
  int rc = FN_ERR_PARAMS;
  if (usable(fn) && bytes_ok(list, count)) {
    rc = 0;
    if (count > 0 && batch) {
      rc = batch(fn->self, list, count, &done);
    } else {
      for (size_t i = 0; i < count && rc == 0; i++)
        if ((rc = single(fn->self, list[i].data, list[i].len)) == 0) done = i + 1;
    }
  }
  if (applied) *applied = done;
  return rc;
}

int fn_document_ack_batch(fn_t *fn, const fn_bytes_t *acks, size_t count, size_t *applied)
{
  const fn_backend_t *b = usable(fn) ? fn->backend : NULL;
  return batch_run(fn, b ? b->document_ack_batch : NULL, b ? b->document_ack : NULL, acks, count,
                   applied);
}

int fn_notification_ticket_batch(fn_t *fn, const fn_bytes_t *tickets, size_t count, size_t *applied)
{
  const fn_backend_t *b = usable(fn) ? fn->backend : NULL;
  return batch_run(fn, b ? b->notification_ticket_batch : NULL, b ? b->notification_ticket : NULL,
                   tickets, count, applied);
}

int fn_key_update(fn_t *fn, const fn_key_t *keys, size_t count, uint32_t when)
{
  if (!usable(fn) || (!keys && count > 0)) return FN_ERR_PARAMS;
  for (size_t i = 0; i < count; i++) {
    if (strnlen(keys[i].id, sizeof keys[i].id) != 4) return FN_ERR_PARAMS;
    if (keys[i].kind != FN_KEY_GOST && keys[i].kind != FN_KEY_HMAC) return FN_ERR_PARAMS;
    if (keys[i].len == 0 || keys[i].len > sizeof keys[i].material) return FN_ERR_PARAMS;
  }
  return fn->backend->key_update(fn->self, keys, count, when);
}

int fn_notification_next_after(fn_t *fn, uint32_t after, fn_notification_t *out)
{
  if (!usable(fn) || !out) return FN_ERR_PARAMS;
  if (!fn->backend->notification_next_after) return FN_ERR_UNKNOWN_COMMAND;
  return fn->backend->notification_next_after(fn->self, after, out);
}

int fn_notifications_exported(fn_t *fn, uint32_t through)
{
  if (!usable(fn) || through == 0) return FN_ERR_PARAMS;
  if (!fn->backend->notifications_exported) return FN_ERR_UNKNOWN_COMMAND;
  return fn->backend->notifications_exported(fn->self, through);
}

int fn_sign_blob(fn_t *fn, const uint8_t *data, size_t len, uint8_t mac[FN_BLOB_MAC_SIZE])
{
  if (!usable(fn) || !mac || (!data && len > 0)) return FN_ERR_PARAMS;
  if (!fn->backend->sign_blob) return FN_ERR_UNKNOWN_COMMAND;
  return fn->backend->sign_blob(fn->self, data, len, mac);
}

unsigned fn_capabilities(fn_t *fn)
{
  if (!usable(fn) || !fn->backend->capabilities) return 0;
  return fn->backend->capabilities(fn->self);
}

void fn_free(fn_t *fn)
{
  if (!fn) return;
  if (fn->backend && fn->backend->destroy) fn->backend->destroy(fn->self);
  free(fn);
}
