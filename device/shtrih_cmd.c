/*
** device/shtrih_cmd.c: encoders, decoders and the error table of the
** Shtrih-M commands (shtrih_cmd.h).
**
** The error texts are the vendor's own (shtrih-m/javapos_shtrih,
** messages_ru.txt / messages_en.txt, MIT License, Copyright (c) 2024
** Shtrih-M; tests/data/shtrih/errors_*.txt holds them and
** tests/unit/test_shtrih.c checks every row here against them), so what a
** cashier reads matches the vendor's manuals and the device's display.
** Only the codes a register with an FN answers to kassa's commands are
** listed; any other byte is shown as its number with a generic text.
*/
#include "device/shtrih_cmd.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <time.h>

#include "common/errtab.h"

void shtrih_msg_begin(shtrih_msg_t *msg, uint16_t command)
{
  memset(msg, 0, sizeof *msg);
  if (command > 0xFF) {
    msg->data[msg->len++] = 0xFF;
    msg->data[msg->len++] = (uint8_t)(command & 0xFF);
  } else {
    msg->data[msg->len++] = (uint8_t)command;
  }
}

void shtrih_msg_bytes(shtrih_msg_t *msg, const void *bytes, size_t n)
{
  if (msg->len + n > sizeof msg->data) {
    msg->overflow = true;
    return;
  }
  memcpy(msg->data + msg->len, bytes, n);
  msg->len += n;
}

void shtrih_msg_le(shtrih_msg_t *msg, uint64_t value, size_t n)
{
  uint8_t b[8];
  for (size_t i = 0; i < n && i < 8; i++) b[i] = (uint8_t)(value >> (8 * i));
  shtrih_msg_bytes(msg, b, n < 8 ? n : 8);
}

void shtrih_msg_text(shtrih_msg_t *msg, const char *text, size_t width)
{
  uint8_t field[256] = {0};
  size_t n = text ? strlen(text) : 0;
  if (width > sizeof field) width = sizeof field;
  memcpy(field, text ? text : "", n < width ? n : width);
  shtrih_msg_bytes(msg, field, width);
}

void shtrih_request(shtrih_msg_t *msg, uint16_t command, uint32_t password)
{
  shtrih_msg_begin(msg, command);
  shtrih_msg_le(msg, password, 4);
}

int shtrih_answer_parse(const uint8_t *message, size_t len, shtrih_answer_t *a)
{
  memset(a, 0, sizeof *a);
  size_t code_len = (len > 0 && message[0] == 0xFF) ? 2 : 1;
  if (!message || len < code_len + 1) return -1;
  a->command = code_len == 2 ? (uint16_t)(0xFF00 | message[1]) : message[0];
  a->error = message[code_len];
  a->fields = message + code_len + 1;
  a->len = len - code_len - 1;
  return 0;
}

uint64_t shtrih_get_le(shtrih_answer_t *a, size_t n)
{
  uint64_t v = 0;
  if (a->at + n > a->len) {
    a->short_read = true;
    a->at = a->len;
    return 0;
  }
  for (size_t i = 0; i < n; i++) v |= (uint64_t)a->fields[a->at + i] << (8 * i);
  a->at += n;
  return v;
}

void shtrih_get_bytes(shtrih_answer_t *a, uint8_t *out, size_t n)
{
  if (a->at + n > a->len) {
    a->short_read = true;
    memset(out, 0, n);
    a->at = a->len;
    return;
  }
  memcpy(out, a->fields + a->at, n);
  a->at += n;
}

void shtrih_cp1251_to_utf8(const uint8_t *src, size_t n, char *out, size_t out_size)
{
  if (!out || out_size == 0) return;
  out[0] = '\0';
  size_t len = 0;
  while (len < n && src[len]) len++;
  iconv_t cd = iconv_open("UTF-8", "CP1251");
  if (cd == (iconv_t)-1) return;
  char *in = (char *)(uintptr_t)src, *o = out;
  size_t inleft = len, outleft = out_size - 1;
  /* A character that does not fit ends the text there (never half of it). */
  (void)iconv(cd, &in, &inleft, &o, &outleft);
  *o = '\0';
  iconv_close(cd);
}

void shtrih_get_text(shtrih_answer_t *a, size_t n, char *out, size_t out_size)
{
  size_t avail = a->len - a->at < n ? a->len - a->at : n;
  shtrih_cp1251_to_utf8(a->fields + a->at, avail, out, out_size);
  a->at += avail;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's). */
static int64_t days_from_civil(int y, unsigned m, unsigned d)
{
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return (int64_t)era * 146097 + (int64_t)doe - 719468;
}

uint32_t shtrih_fn_time(const uint8_t b[5])
{
  if (b[1] < 1 || b[1] > 12 || b[2] < 1 || b[2] > 31 || b[3] > 23 || b[4] > 59) return 0;
  int64_t days = days_from_civil(2000 + b[0], b[1], b[2]);
  return (uint32_t)(days * 86400 + b[3] * 3600 + b[4] * 60);
}

void shtrih_fn_time_put(uint32_t seconds, uint8_t b[5])
{
  time_t t = (time_t)seconds;
  struct tm tm;
  gmtime_r(&t, &tm);
  b[0] = (uint8_t)(tm.tm_year - 100);
  b[1] = (uint8_t)(tm.tm_mon + 1);
  b[2] = (uint8_t)tm.tm_mday;
  b[3] = (uint8_t)tm.tm_hour;
  b[4] = (uint8_t)tm.tm_min;
}

/* 0 when the answer says no error and every field was there. */
static int finish(const shtrih_answer_t *a) { return a->short_read ? -1 : 0; }

int shtrih_decode_device_type(shtrih_answer_t *a, shtrih_device_type_t *out)
{
  memset(out, 0, sizeof *out);
  if (a->error) return -1;
  out->type = (uint8_t)shtrih_get_le(a, 1);
  out->subtype = (uint8_t)shtrih_get_le(a, 1);
  out->protocol = (uint8_t)shtrih_get_le(a, 1);
  out->subprotocol = (uint8_t)shtrih_get_le(a, 1);
  out->model = (uint8_t)shtrih_get_le(a, 1);
  out->language = (uint8_t)shtrih_get_le(a, 1);
  if (finish(a)) return -1;
  shtrih_get_text(a, a->len - a->at, out->name, sizeof out->name);
  return 0;
}

int shtrih_decode_short_status(shtrih_answer_t *a, shtrih_short_status_t *out)
{
  memset(out, 0, sizeof *out);
  if (a->error) return -1;
  out->operator_number = (uint8_t)shtrih_get_le(a, 1);
  out->flags = (uint16_t)shtrih_get_le(a, 2);
  out->mode = (uint8_t)shtrih_get_le(a, 1);
  out->submode = (uint8_t)shtrih_get_le(a, 1);
  out->operations = (uint16_t)shtrih_get_le(a, 1);
  (void)shtrih_get_le(a, 4); /* battery, power, FP error, EKLZ error */
  out->operations = (uint16_t)(out->operations | shtrih_get_le(a, 1) << 8);
  return finish(a);
}

int shtrih_decode_fn_status(shtrih_answer_t *a, shtrih_fn_status_t *out)
{
  uint8_t t[5], num[16];
  memset(out, 0, sizeof *out);
  if (a->error) return -1;
  out->phase_bits = (uint8_t)shtrih_get_le(a, 1);
  out->document = (uint8_t)shtrih_get_le(a, 1);
  out->document_data = (uint8_t)shtrih_get_le(a, 1);
  out->shift_open = shtrih_get_le(a, 1) != 0;
  out->warnings = (uint8_t)shtrih_get_le(a, 1);
  shtrih_get_bytes(a, t, 5);
  shtrih_get_bytes(a, num, 16);
  out->last_document = (uint32_t)shtrih_get_le(a, 4);
  out->time = shtrih_fn_time(t);
  for (size_t i = 0; i < 16 && num[i] && num[i] != ' '; i++) out->fn_number[i] = (char)num[i];
  return finish(a);
}

int shtrih_decode_exchange_status(shtrih_answer_t *a, shtrih_exchange_status_t *out)
{
  uint8_t t[5];
  memset(out, 0, sizeof *out);
  if (a->error) return -1;
  out->status_bits = (uint8_t)shtrih_get_le(a, 1);
  out->reading = shtrih_get_le(a, 1) != 0;
  out->unsent = (uint16_t)shtrih_get_le(a, 2);
  out->first_unsent_number = (uint32_t)shtrih_get_le(a, 4);
  shtrih_get_bytes(a, t, 5);
  out->first_unsent_time = out->unsent ? shtrih_fn_time(t) : 0;
  return finish(a);
}

int shtrih_decode_shift_params(shtrih_answer_t *a, shtrih_shift_params_t *out)
{
  memset(out, 0, sizeof *out);
  if (a->error) return -1;
  out->open = shtrih_get_le(a, 1) != 0;
  out->shift_number = (uint16_t)shtrih_get_le(a, 2);
  out->receipt_number = (uint16_t)shtrih_get_le(a, 2);
  return finish(a);
}

int shtrih_decode_shift_fd(shtrih_answer_t *a, shtrih_fd_answer_t *out)
{
  memset(out, 0, sizeof *out);
  if (a->error) return -1;
  out->shift_number = (uint16_t)shtrih_get_le(a, 2);
  out->number = (uint32_t)shtrih_get_le(a, 4);
  out->fiscal_sign = (uint32_t)shtrih_get_le(a, 4);
  return finish(a);
}

int shtrih_decode_fd_sign(shtrih_answer_t *a, shtrih_fd_answer_t *out)
{
  memset(out, 0, sizeof *out);
  if (a->error) return -1;
  out->number = (uint32_t)shtrih_get_le(a, 4);
  out->fiscal_sign = (uint32_t)shtrih_get_le(a, 4);
  return finish(a);
}

int shtrih_decode_state_report(shtrih_answer_t *a, shtrih_fd_answer_t *out)
{
  uint8_t d[5] = {0};
  memset(out, 0, sizeof *out);
  if (a->error) return -1;
  out->number = (uint32_t)shtrih_get_le(a, 4);
  out->fiscal_sign = (uint32_t)shtrih_get_le(a, 4);
  out->unsent = (uint32_t)shtrih_get_le(a, 4);
  shtrih_get_bytes(a, d, 3);
  out->first_unsent_date = out->unsent ? shtrih_fn_time(d) : 0;
  return finish(a);
}

int shtrih_decode_found_document(shtrih_answer_t *a, shtrih_found_document_t *out)
{
  uint8_t t[5];
  memset(out, 0, sizeof *out);
  if (a->error) return -1;
  out->type = (uint8_t)shtrih_get_le(a, 1);
  out->ticket = shtrih_get_le(a, 1) != 0;
  shtrih_get_bytes(a, t, 5);
  out->number = (uint32_t)shtrih_get_le(a, 4);
  out->fiscal_sign = (uint32_t)shtrih_get_le(a, 4);
  if (finish(a)) return -1;
  out->time = shtrih_fn_time(t);
  out->data_len = a->len - a->at;
  shtrih_get_bytes(a, out->data, out->data_len);
  return 0;
}

int shtrih_decode_buffer_status(shtrih_answer_t *a, uint16_t *size, uint8_t *block)
{
  if (a->error) return -1;
  *size = (uint16_t)shtrih_get_le(a, 2);
  *block = (uint8_t)shtrih_get_le(a, 1);
  return finish(a);
}

int shtrih_decode_document_tlv(shtrih_answer_t *a, uint16_t *tag, uint16_t *len)
{
  if (a->error) return -1;
  *tag = (uint16_t)shtrih_get_le(a, 2);
  *len = (uint16_t)shtrih_get_le(a, 2);
  return finish(a);
}

int shtrih_decode_unsent_count(shtrih_answer_t *a, uint16_t *count)
{
  if (a->error) return -1;
  *count = (uint16_t)shtrih_get_le(a, 2);
  return finish(a);
}

/* ---- Receipts ------------------------------------------------------------ */

int shtrih_utf8_to_cp1251(const char *text, uint8_t *out, size_t out_size, size_t *len)
{
  if (!text || !out || out_size == 0 || !len) return -1;
  iconv_t cd = iconv_open("CP1251", "UTF-8");
  if (cd == (iconv_t)-1) return -1;
  char *in = (char *)(uintptr_t)text, *o = (char *)out;
  size_t inleft = strlen(text), outleft = out_size - 1;
  size_t r = iconv(cd, &in, &inleft, &o, &outleft);
  int why = errno;
  iconv_close(cd);
  *o = '\0';
  *len = (size_t)(o - (char *)out);
  /* A text cut at the field's width is fine (E2BIG); one with no CP1251
  ** form is not (EILSEQ), nor a broken UTF-8 one (EINVAL). */
  return r == (size_t)-1 && why != E2BIG ? -1 : 0;
}

/* 1199 value -> the register's table 6 row. Rows 1..6 are the vendor's
** default table; 11 (VAT 22 %) and 12 (22/122) are the rows the vendor's
** 2026 firmware adds (fr_drv_ng issue 328: "ндс 22% и ндс 22/122
** отдельными строками в таблице 6: 11 и 12"), used as sent only when the
** register's table 17 field 71 is 2 (HARDWARE.md's checklist). */
static const uint8_t vat_tax[][2] = {{1, 1}, {2, 2}, {5, 3},   {6, 4},
                                     {3, 5}, {4, 6}, {11, 11}, {12, 12}};

uint8_t shtrih_tax_of_vat(uint8_t vat)
{
  for (size_t i = 0; i < sizeof vat_tax / sizeof vat_tax[0]; i++)
    if (vat_tax[i][0] == vat) return vat_tax[i][1];
  return 0;
}

uint8_t shtrih_vat_of_tax(uint8_t tax)
{
  for (size_t i = 0; i < sizeof vat_tax / sizeof vat_tax[0]; i++)
    if (vat_tax[i][1] == tax) return vat_tax[i][0];
  return 0;
}

void shtrih_encode_operation(shtrih_msg_t *msg, uint32_t password, const shtrih_operation_t *op)
{
  uint8_t name[129];
  size_t n = 0;
  shtrih_request(msg, SHTRIH_CMD_FN_OPERATION, password);
  shtrih_msg_le(msg, op->operation, 1);
  shtrih_msg_le(msg, op->quantity_millionths, 6);
  shtrih_msg_le(msg, op->price, 5);
  shtrih_msg_le(msg, op->total, 5);
  shtrih_msg_le(msg, SHTRIH_SUM_UNSET, 5);
  shtrih_msg_le(msg, op->tax, 1);
  shtrih_msg_le(msg, op->department, 1);
  shtrih_msg_le(msg, op->payment_method, 1);
  shtrih_msg_le(msg, op->subject, 1);
  if (shtrih_utf8_to_cp1251(op->name, name, sizeof name, &n) != 0) msg->overflow = true;
  shtrih_msg_bytes(msg, name, n);
}

int shtrih_decode_operation(const uint8_t *p, size_t len, shtrih_operation_t *out)
{
  shtrih_answer_t a = {.fields = p, .len = len};
  memset(out, 0, sizeof *out);
  out->operation = (uint8_t)shtrih_get_le(&a, 1);
  out->quantity_millionths = shtrih_get_le(&a, 6);
  out->price = shtrih_get_le(&a, 5);
  out->total = shtrih_get_le(&a, 5);
  (void)shtrih_get_le(&a, 5);
  out->tax = (uint8_t)shtrih_get_le(&a, 1);
  out->department = (uint8_t)shtrih_get_le(&a, 1);
  out->payment_method = (uint8_t)shtrih_get_le(&a, 1);
  out->subject = (uint8_t)shtrih_get_le(&a, 1);
  if (a.short_read) return -1;
  shtrih_get_text(&a, a.len - a.at, out->name, sizeof out->name);
  return 0;
}

void shtrih_encode_close(shtrih_msg_t *msg, uint32_t password, const shtrih_close_t *c)
{
  shtrih_request(msg, SHTRIH_CMD_FN_CLOSE_RECEIPT, password);
  for (size_t i = 0; i < 16; i++) shtrih_msg_le(msg, c->payments[i], 5);
  shtrih_msg_le(msg, 0, 1); /* no discount on the receipt */
  for (size_t i = 0; i < 6; i++) shtrih_msg_le(msg, SHTRIH_SUM_UNSET, 5);
  shtrih_msg_le(msg, c->tax_system, 1);
}

int shtrih_decode_close(const uint8_t *p, size_t len, shtrih_close_t *out)
{
  shtrih_answer_t a = {.fields = p, .len = len};
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < 16; i++) out->payments[i] = shtrih_get_le(&a, 5);
  (void)shtrih_get_le(&a, 1);
  for (size_t i = 0; i < 6; i++) (void)shtrih_get_le(&a, 5);
  out->tax_system = (uint8_t)shtrih_get_le(&a, 1);
  return a.short_read ? -1 : 0;
}

int shtrih_decode_close_answer(shtrih_answer_t *a, uint64_t *change, uint32_t *number,
                               uint32_t *fiscal_sign)
{
  if (a->error) return -1;
  *change = shtrih_get_le(a, 5);
  *number = (uint32_t)shtrih_get_le(a, 4);
  *fiscal_sign = (uint32_t)shtrih_get_le(a, 4);
  return finish(a);
}

/* ---- Marking ------------------------------------------------------------- */

void shtrih_encode_km_check(shtrih_msg_t *msg, uint32_t password, const shtrih_km_check_t *c)
{
  shtrih_request(msg, SHTRIH_CMD_FN_KM_CHECK, password);
  shtrih_msg_le(msg, c->planned_status, 1);
  shtrih_msg_le(msg, c->mode, 1);
  shtrih_msg_le(msg, c->km_len, 1);
  shtrih_msg_le(msg, c->tlv_len, 1); /* 0: a whole unit */
  shtrih_msg_bytes(msg, c->km, c->km_len);
  shtrih_msg_bytes(msg, c->tlv, c->tlv_len);
}

int shtrih_decode_km_check(const uint8_t *p, size_t len, shtrih_km_check_t *out)
{
  shtrih_answer_t a = {.fields = p, .len = len};
  memset(out, 0, sizeof *out);
  out->planned_status = (uint8_t)shtrih_get_le(&a, 1);
  out->mode = (uint8_t)shtrih_get_le(&a, 1);
  out->km_len = (uint8_t)shtrih_get_le(&a, 1);
  size_t tlv_len = (size_t)shtrih_get_le(&a, 1);
  shtrih_get_bytes(&a, out->km, out->km_len);
  if (a.short_read || out->km_len == 0 || a.len - a.at != tlv_len || tlv_len > sizeof out->tlv)
    return -1;
  out->tlv_len = (uint8_t)tlv_len;
  shtrih_get_bytes(&a, out->tlv, tlv_len);
  return 0;
}

int shtrih_decode_km_result(shtrih_answer_t *a, shtrih_km_result_t *out)
{
  memset(out, 0, sizeof *out);
  if (a->error) return -1;
  out->local_result = (uint8_t)shtrih_get_le(a, 1);
  out->local_reason = (uint8_t)shtrih_get_le(a, 1);
  out->km_type = (uint8_t)shtrih_get_le(a, 1);
  size_t more = (size_t)shtrih_get_le(a, 1);
  if (more >= 2) {
    out->online = true;
    out->online_code = (uint8_t)shtrih_get_le(a, 1);
    out->online_result = (uint8_t)shtrih_get_le(a, 1);
  }
  return finish(a);
}

int shtrih_decode_km_status(shtrih_answer_t *a, shtrih_km_status_t *out)
{
  memset(out, 0, sizeof *out);
  if (a->error) return -1;
  out->check_state = (uint8_t)shtrih_get_le(a, 1);
  out->notification_state = (uint8_t)shtrih_get_le(a, 1);
  out->flags = (uint8_t)shtrih_get_le(a, 1);
  out->results_kept = (uint8_t)shtrih_get_le(a, 1);
  out->in_notification = (uint8_t)shtrih_get_le(a, 1);
  out->fill = (uint8_t)shtrih_get_le(a, 1);
  out->queued = (uint16_t)shtrih_get_le(a, 2);
  return finish(a);
}

/* ---- Errors ------------------------------------------------------------ */

/* The FN's errors (FSPrinterErrorXX), read for bytes below 0x20 and A0..B2. */
static const errtab_t fn_errors[] = {
    {0x00, "ok", "Ошибок нет", "No errors"},
    {0x01, "fn_unknown_command",
     "ФН: Неизвестная команда, неверный формат посылки или неизвестные параметры",
     "FS: Unknown command or invalid format"},
    {0x02, "fn_state", "ФН: Неверное состояние ФН", "FS: Incorrect status"},
    {0x03, "fn_failure", "ФН: Ошибка ФН", "FS: Error, read extended error code"},
    {0x04, "fn_crypto", "ФН: Ошибка КС", "FS: CRC error, read extended error code"},
    {0x05, "fn_expired", "ФН: Закончен срок эксплуатации ФН", "FS: Device expired"},
    {0x06, "fn_archive_full", "ФН: Архив ФН переполнен", "FS: Archive overflow error"},
    {0x07, "fn_time", "ФН: Неверные дата и/или время", "FS: Invalid date/time value"},
    {0x08, "fn_no_data", "ФН: Нет запрошенных данных", "FS: No data available"},
    {0x09, "fn_value", "ФН: Некорректное значение параметров команды",
     "FS: Invalid parameter value"},
    {0x10, "fn_tlv_size", "ФН: Превышение размеров TLV данных", "FS: TLV size too large"},
    {0x11, "fn_no_transport", "ФН: Нет транспортного соединения", "FS: No transport connection "},
    {0x12, "fn_crypto_exhausted", "ФН: Исчерпан ресурс КС (криптографического сопроцессора)",
     "FS: Cryptographic coprocessor resource exhausted"},
    {0x14, "fn_storage_exhausted", "ФН: Исчерпан ресурс хранения",
     "FS: Documents resource exhausted"},
    {0x15, "fn_ofd_overdue", "ФН: Исчерпан ресурс ожидания передачи сообщения",
     "FS: Maximum send time limit reached"},
    {0x16, "fn_shift_overdue", "ФН: Продолжительность смены более 24 часов",
     "FS: Fiscal day last for 24 hours"},
    {0x17, "fn_time_difference", "ФН: Неверная разница во времени между 2 операциями",
     "FS: Invalid time range betseen two operations"},
    {0xA0, "fn_marking_forbidden", "ФН: Запрещена работа с маркированным товарами",
     "FS: Item marking is disables"},
    {0xA1, "fn_marking_sequence", "ФН: Неверная последовательность команд группы Bxh",
     "FS: Invalid 0xBx commands sequence"},
    {0xA2, "fn_marking_blocked", "ФН: Работа с маркированными товарами временно заблокирована",
     "FS: Item marking is temporary blocked"},
    {0xA3, "fn_km_table_full", "ФН: Переполнена таблица проверки кодов маркировки",
     "FS: Item marking table overflow"},
    {0xAA, "fn_tlv_missing", "ФН: В блоке TLV отсутствуют необходимые реквизиты",
     "FS: TLB block has no required requisites"},
    {0xAC, "fn_km_not_checked",
     "ФН: В реквизите 2007 содержится КМ, который ранее не проверялся в ФН",
     "FS: Tag 2007 has already checked marking code"},
    ERRTAB_END("Неизвестный код ошибки", "Unknown error code"),
};

/* The register's errors (PrinterErrorXX), for the other bytes. */
static const errtab_t kkt_errors[] = {
    {0x33, "bad_params", "Некорректные параметры в команде", "Incorrect command parameters"},
    {0x34, "no_data", "Нет данных", "No data available"},
    {0x35, "bad_setting", "Некорректный параметр при данных настройках",
     "Settings: Incorrect command parameters"},
    {0x36, "bad_params_model", "Некорректные параметры в команде для данной реализации",
     "Model: Incorrect command parameters"},
    {0x37, "not_supported", "Команда не поддерживается в данной реализации",
     "Command is not supported"},
    {0x3D, "shift_not_open", "Смена не открыта - операция невозможна",
     "Day closed, operation is invalid"},
    {0x45, "payment_short", "Cумма всех типов оплаты меньше итога чека",
     "Payment total less than receipt total"},
    {0x46, "no_cash", "Не хватает наличности в кассе", "No enough cash in ECR"},
    {0x4A, "receipt_open", "Открыт чек - операция невозможна",
     "Receipt is opened. Command is invalid"},
    {0x4E, "shift_overdue", "Смена превысила 24 часа", "Day exceedes 24 hours"},
    {0x4F, "password", "Неверный пароль", "Invalid password"},
    {0x50, "printing", "Идет печать предыдущей команды", "Printing previous command"},
    {0x55, "receipt_closed", "Чек закрыт - операция невозможна",
     "Receipt closed, operation is invalid"},
    {0x58, "continue_print", "Ожидание команды продолжения печати",
     "Waiting for repeat print command"},
    {0x5E, "bad_operation", "Некорректная операция", "Invalid command"},
    {0x6B, "no_receipt_paper", "Нет чековой ленты", "No receipt paper"},
    {0x72, "not_in_submode", "Команда не поддерживается в данном подрежиме",
     "Command not supported in this submode"},
    {0x73, "not_in_mode", "Команда не поддерживается в данном режиме",
     "Command not supported in this mode"},
    {0x8E, "zero_total", "Нулевой итог чека", "Zero receipt total"},
    {0x8F, "not_fiscal", "Касса не фискализирована", "Non fiscal printer"},
    ERRTAB_END("Неизвестный код ошибки", "Unknown error code"),
};

static const struct {
  int err;
  uint8_t code;
} marking_bytes[] = {
    {-0x34, 0xA2}, /* FN_ERR_NOTIFY_FULL: marking blocked */
    {-0x36, 0xA2}, /* FN_ERR_KEYS_EXPIRED: [open], see the header */
    {-0x35, 0xA3}, /* FN_ERR_KM_TABLE_FULL */
    {-0x3E, 0xAC}, /* FN_ERR_KM_NOT_CHECKED */
};

uint8_t shtrih_fn_byte_of_err(int fn_err)
{
  for (size_t i = 0; i < sizeof marking_bytes / sizeof marking_bytes[0]; i++)
    if (marking_bytes[i].err == fn_err) return marking_bytes[i].code;
  if (fn_err < 0 && fn_err > -0x20) return (uint8_t)-fn_err;
  if (fn_err == -0x20) return 0x20; /* the OFD's answer refused: the FN's 20h */
  return 0x03;
}

int shtrih_err_of_fn_byte(uint8_t code)
{
  for (size_t i = 0; i < sizeof marking_bytes / sizeof marking_bytes[0]; i++)
    if (marking_bytes[i].code == code) return marking_bytes[i].err; /* the first: A2h is 0x34 */
  if (code > 0 && code < 0x20) return -(int)code;
  return 0;
}

static const errtab_t *table_of(uint8_t code)
{
  return (code < 0x20 || (code >= 0xA0 && code <= 0xB2)) ? fn_errors : kkt_errors;
}

const char *shtrih_error_name(uint8_t code) { return errtab_name(table_of(code), code); }

const char *shtrih_error_text(uint8_t code, bool russian)
{
  return errtab_message(table_of(code), code, russian);
}

/* ---- Registration ------------------------------------------------------- */

void shtrih_encode_registration(shtrih_msg_t *msg, uint32_t password,
                                const shtrih_registration_t *r, bool re)
{
  shtrih_request(msg, re ? SHTRIH_CMD_FN_REREGISTER : SHTRIH_CMD_FN_REGISTER, password);
  shtrih_msg_text(msg, r->inn, 12);
  shtrih_msg_text(msg, r->rnm, 20);
  shtrih_msg_le(msg, r->tax_systems, 1);
  shtrih_msg_le(msg, r->work_mode, 1);
  if (re) shtrih_msg_le(msg, r->reason, 1);
}

/* n bytes of an ASCII number field without its padding (NULs, spaces). */
static void padded_text(shtrih_answer_t *a, size_t n, char *out, size_t out_size)
{
  shtrih_get_text(a, n, out, out_size);
  size_t k = strlen(out);
  while (k > 0 && out[k - 1] == ' ') out[--k] = '\0';
}

int shtrih_decode_registration(const uint8_t *p, size_t len, bool re, shtrih_registration_t *out)
{
  shtrih_answer_t a = {.fields = p, .len = len};
  memset(out, 0, sizeof *out);
  if (len != (re ? 35u : 34u)) return -1;
  padded_text(&a, 12, out->inn, sizeof out->inn);
  padded_text(&a, 20, out->rnm, sizeof out->rnm);
  out->tax_systems = (uint8_t)shtrih_get_le(&a, 1);
  out->work_mode = (uint8_t)shtrih_get_le(&a, 1);
  if (re) out->reason = (uint8_t)shtrih_get_le(&a, 1);
  return 0;
}

int shtrih_decode_found_registration(const shtrih_found_document_t *d, shtrih_registration_t *out)
{
  return d->data_len < 34 ? (memset(out, 0, sizeof *out), -1)
                          : shtrih_decode_registration(d->data, 34, false, out);
}

void shtrih_encode_write_table(shtrih_msg_t *msg, uint32_t password, uint8_t table, uint16_t row,
                               uint8_t field, const void *value, size_t len)
{
  shtrih_request(msg, value ? SHTRIH_CMD_WRITE_TABLE : SHTRIH_CMD_READ_TABLE, password);
  shtrih_msg_le(msg, table, 1);
  shtrih_msg_le(msg, row, 2);
  shtrih_msg_le(msg, field, 1);
  if (value) shtrih_msg_bytes(msg, value, len);
}

int shtrih_decode_table_cell(const uint8_t *p, size_t len, shtrih_table_cell_t *out)
{
  shtrih_answer_t a = {.fields = p, .len = len};
  memset(out, 0, sizeof *out);
  out->table = (uint8_t)shtrih_get_le(&a, 1);
  out->row = (uint16_t)shtrih_get_le(&a, 2);
  out->field = (uint8_t)shtrih_get_le(&a, 1);
  if (a.short_read) return -1;
  out->value = p + a.at;
  out->len = len - a.at;
  return 0;
}

int shtrih_decode_registration_data(shtrih_answer_t *a, shtrih_registration_data_t *out)
{
  uint8_t t[5];
  memset(out, 0, sizeof *out);
  if (a->error) return -1;
  out->long_form = a->len >= 64;
  shtrih_get_bytes(a, t, 5);
  out->time = shtrih_fn_time(t);
  padded_text(a, 12, out->r.inn, sizeof out->r.inn);
  padded_text(a, 20, out->r.rnm, sizeof out->r.rnm);
  out->r.tax_systems = (uint8_t)shtrih_get_le(a, 1);
  out->r.work_mode = (uint8_t)shtrih_get_le(a, 1);
  if (out->long_form) {
    out->ext_modes = (uint8_t)shtrih_get_le(a, 1);
    padded_text(a, 12, out->ofd_inn, sizeof out->ofd_inn);
    out->reasons = (uint32_t)shtrih_get_le(a, 4);
  }
  out->number = (uint32_t)shtrih_get_le(a, 4);
  out->fiscal_sign = (uint32_t)shtrih_get_le(a, 4);
  return finish(a);
}
