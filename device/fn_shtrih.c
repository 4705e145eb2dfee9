/*
** device/fn_shtrih.c: the Shtrih-M register as an fn_backend_t
** (fn_shtrih.h says what it covers).
**
** Every call goes through one helper, call(): build the request, send it,
** check the answer is for that command, turn a non-zero error byte into
** an fn_err_t and keep its words. The handlers are then a request and a
** decoder each.
*/
#include "device/fn_shtrih.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fiscal/doc.h"
#include "fiscal/tlv.h"

typedef struct shtrih_fn {
  shtrih_link_t *link; /* NULL after the connection broke: the next call reconnects */
  char spec[300];
  shtrih_link_options_t options;
  uint32_t password;
  uint8_t answer[SHTRIH_MAX_MESSAGE];
  uint8_t last_code; /* the register's last error byte, 0 none */
  /* The receipt kassa is building: the register opens it with the first
  ** line and learns the tax system at the close. */
  uint8_t operation, tax_system;
  /* Its lines as sent (a correction sends them again after FF35h). */
  doc_item_t *lines; /* DOC_MAX_ITEMS */
  size_t line_count;
  /* FF0Ch gave the register a 1008 for it (only FF08h takes it back). */
  bool contact_sent;
  /* The receipt's cashier 1021 ("" none), sent with FF0Ch before FF45h. */
  char cashier[129];
  /* The code FF61h checked last: FF69h decides on it alone. */
  char last_km[DOC_MAX_KM + 1];
  char last_ru[320], last_en[320];
  /* When the open shift began (its shift-open document's 1012), found once
  ** for shift number opened_shift (0: not yet). */
  uint32_t opened_shift, opened_at;
} shtrih_fn_t;

static const fn_backend_t shtrih_backend;

static void clear_error(shtrih_fn_t *s)
{
  s->last_ru[0] = s->last_en[0] = '\0';
  s->last_code = 0;
}

/* The register's error byte as an fn_err_t, its words kept. */
static int device_error(shtrih_fn_t *s, uint16_t command, uint8_t code)
{
  int width = command > 0xFF ? 4 : 2;
  s->last_code = code;
  snprintf(s->last_ru, sizeof s->last_ru, "ККТ: команда %0*Xh: ошибка 0x%02X: %s", width, command,
           code, shtrih_error_text(code, true));
  snprintf(s->last_en, sizeof s->last_en, "KKT: command %0*Xh: error 0x%02X: %s", width, command,
           code, shtrih_error_text(code, false));
  int err = shtrih_err_of_fn_byte(code);
  return err ? err : FN_ERR_DEVICE;
}

/*
** Sends msg and reads its answer into *a: 0 with a->error 0; an fn_err_t
** otherwise (the FN's byte, FN_ERR_DEVICE, FN_ERR_DEVICE_LINK), with the
** words kept. allow_error: an error byte the caller wants to see itself
** (0x08 "no data" at the end of a read-out) is returned as 0 with a->error.
*/
static int call(shtrih_fn_t *s, const shtrih_msg_t *msg, shtrih_answer_t *a, uint8_t allow_error)
{
  size_t len = 0;
  clear_error(s);
  uint16_t command = msg->data[0] == 0xFF ? (uint16_t)(0xFF00 | msg->data[1]) : msg->data[0];
  int rc = SHTRIH_LINK_OK;
  /* A connection that broke is opened again here, never the command sent
  ** again: the register may have run it (the caller reads the status). */
  if (!s->link) rc = shtrih_link_open(s->spec, &s->options, &s->link, NULL, 0);
  if (rc == SHTRIH_LINK_OK) rc = shtrih_link_call(s->link, msg, s->answer, sizeof s->answer, &len);
  if (rc == SHTRIH_LINK_IO) {
    shtrih_link_close(s->link);
    s->link = NULL;
  }
  if (rc != SHTRIH_LINK_OK) {
    snprintf(s->last_ru, sizeof s->last_ru, "%s (%s)", shtrih_link_err_message(rc, true), s->spec);
    snprintf(s->last_en, sizeof s->last_en, "%s (%s)", shtrih_link_err_message(rc, false), s->spec);
    return rc == SHTRIH_LINK_NO_MEMORY ? FN_ERR_NO_MEMORY : FN_ERR_DEVICE_LINK;
  }
  if (shtrih_answer_parse(s->answer, len, a) != 0 || a->command != command) {
    snprintf(s->last_ru, sizeof s->last_ru, "%s",
             shtrih_link_err_message(SHTRIH_LINK_PROTOCOL, true));
    snprintf(s->last_en, sizeof s->last_en, "%s",
             shtrih_link_err_message(SHTRIH_LINK_PROTOCOL, false));
    return FN_ERR_DEVICE_LINK;
  }
  if (a->error && a->error != allow_error) return device_error(s, command, a->error);
  return 0;
}

/* A request of just the code and the password. */
static int simple(shtrih_fn_t *s, uint16_t command, shtrih_answer_t *a)
{
  shtrih_msg_t m;
  shtrih_request(&m, command, s->password);
  return call(s, &m, a, 0);
}

/* An answer whose layout did not hold: the register speaks another
** version of the protocol. */
static int malformed(shtrih_fn_t *s)
{
  snprintf(s->last_ru, sizeof s->last_ru, "%s",
           shtrih_link_err_message(SHTRIH_LINK_PROTOCOL, true));
  snprintf(s->last_en, sizeof s->last_en, "%s",
           shtrih_link_err_message(SHTRIH_LINK_PROTOCOL, false));
  return FN_ERR_DEVICE_LINK;
}

static int read_fn_status(shtrih_fn_t *s, shtrih_fn_status_t *out)
{
  shtrih_answer_t a;
  int rc = simple(s, SHTRIH_CMD_FN_STATUS, &a);
  if (rc == 0 && shtrih_decode_fn_status(&a, out) != 0) rc = malformed(s);
  return rc;
}

static int read_exchange(shtrih_fn_t *s, shtrih_exchange_status_t *out)
{
  shtrih_answer_t a;
  int rc = simple(s, SHTRIH_CMD_FN_EXCHANGE_STATUS, &a);
  if (rc == 0 && shtrih_decode_exchange_status(&a, out) != 0) rc = malformed(s);
  return rc;
}

static int read_short_status(shtrih_fn_t *s, shtrih_short_status_t *out)
{
  shtrih_answer_t a;
  int rc = simple(s, SHTRIH_CMD_SHORT_STATUS, &a);
  if (rc == 0 && shtrih_decode_short_status(&a, out) != 0) rc = malformed(s);
  return rc;
}

static int read_device_type(shtrih_fn_t *s, shtrih_device_type_t *out)
{
  shtrih_msg_t m;
  shtrih_answer_t a;
  shtrih_msg_begin(&m, SHTRIH_CMD_DEVICE_TYPE);
  int rc = call(s, &m, &a, 0);
  if (rc == 0 && shtrih_decode_device_type(&a, out) != 0) rc = malformed(s);
  return rc;
}

static fn_phase_t phase_of(uint8_t bits)
{
  if (bits & 0x04) return FN_PHASE_POST;
  if (bits & 0x02) return FN_PHASE_FISCAL;
  return FN_PHASE_READY;
}

/* FF09h: the user's INN, the KKT's registration number and whether it
** is autonomous, from the last registration; a register that does not
** answer it leaves them as they were (not a failure of the status). */
static void status_registration(shtrih_fn_t *s, fn_status_t *out)
{
  shtrih_answer_t a;
  shtrih_registration_data_t g;
  if (simple(s, SHTRIH_CMD_FN_REGISTRATION, &a) == 0 &&
      shtrih_decode_registration_data(&a, &g) == 0) {
    snprintf(out->user_inn, sizeof out->user_inn, "%s", g.r.inn);
    snprintf(out->kkt_reg_number, sizeof out->kkt_reg_number, "%s", g.r.rnm);
    out->autonomous = (g.r.work_mode & SHTRIH_WORK_MODE_AUTONOMOUS) != 0;
  }
  clear_error(s);
}

static int shift_opened_at(shtrih_fn_t *s, uint32_t last, const shtrih_shift_params_t *p,
                           uint32_t *at);

static int sh_status(void *self, fn_status_t *out)
{
  shtrih_fn_t *s = self;
  shtrih_fn_status_t f;
  shtrih_exchange_status_t x;
  shtrih_short_status_t k;
  shtrih_shift_params_t p;
  shtrih_answer_t a;
  int rc = read_fn_status(s, &f);
  if (rc == 0) rc = read_exchange(s, &x);
  if (rc == 0) rc = read_short_status(s, &k);
  if (rc == 0 && (rc = simple(s, SHTRIH_CMD_FN_SHIFT_PARAMS, &a)) == 0 &&
      shtrih_decode_shift_params(&a, &p) != 0)
    rc = malformed(s);
  uint32_t opened_at = 0;
  if (rc == 0 && f.shift_open) rc = shift_opened_at(s, f.last_document, &p, &opened_at);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  out->shift_opened_at = opened_at;
  out->phase = phase_of(f.phase_bits);
  memcpy(out->fn_number, f.fn_number, sizeof out->fn_number);
  out->last_document = f.last_document;
  out->now = f.time;
  out->shift_open = f.shift_open;
  out->shift_number = p.shift_number;
  out->receipts_in_shift = p.receipt_number;
  out->receipt_open = f.document == 0x04 || f.document == 0x14 || s->operation;
  out->receipt_items = out->receipt_open ? k.operations : 0;
  out->unsent_documents = x.unsent;
  shtrih_km_status_t km;
  if (simple(s, SHTRIH_CMD_FN_KM_STATUS, &a) == 0 && shtrih_decode_km_status(&a, &km) == 0) {
    out->unsent_notifications = km.queued;
    out->checked_km = km.results_kept;
    out->marking = (km.flags & 0x01) != 0;
  }
  clear_error(s); /* a register without FF70h (no marking) is not a failure */
  if (out->phase != FN_PHASE_READY) status_registration(s, out);
  out->first_unsent_number = x.unsent ? x.first_unsent_number : 0;
  out->first_unsent_time = x.first_unsent_time;
  return 0;
}

static int sh_document_get(void *self, uint32_t number, fn_document_t *out);

/* The time a document carries (1012, to the second; FF01h's clock has
** only minutes): read back from the archive. */
static int document_time(shtrih_fn_t *s, uint32_t number, uint32_t *time)
{
  static fn_document_t doc; /* one thread uses a backend at a time */
  doc_summary_t sum;
  int rc = sh_document_get(s, number, &doc);
  if (rc) return rc;
  if (doc_summarize(doc.data, doc.len, &sum) != 0) return malformed(s);
  *time = sum.time;
  return 0;
}

/*
** When the open shift p began: its shift-open document's 1012. The
** register has no command for it (FF40h gives the shift's number and
** receipt count only, FF01h the FN's clock), so the archive is walked
** back from the last document by FF0Ah's type alone, starting below the
** shift's receipts (FF40h counts them; X reports may lie between), until
** the shift-open document (2) of this shift; its 1012 read once and kept
** for the shift. 0, or the FN_ERR_ of the read.
*/
static int shift_opened_at(shtrih_fn_t *s, uint32_t last, const shtrih_shift_params_t *p,
                           uint32_t *at)
{
  if (s->opened_shift != 0 && s->opened_shift == p->shift_number) {
    *at = s->opened_at;
    return 0;
  }
  for (uint32_t n = last > p->receipt_number ? last - p->receipt_number : last; n >= 1; n--) {
    shtrih_msg_t m;
    shtrih_answer_t a;
    shtrih_found_document_t found;
    shtrih_request(&m, SHTRIH_CMD_FN_FIND_DOCUMENT, s->password);
    shtrih_msg_le(&m, n, 4);
    int rc = call(s, &m, &a, 0);
    if (rc == 0 && shtrih_decode_found_document(&a, &found) != 0) rc = malformed(s);
    if (rc) return rc;
    if (found.type != 2) continue;
    if ((rc = document_time(s, n, at)) != 0) return rc;
    s->opened_shift = p->shift_number;
    s->opened_at = *at;
    return 0;
  }
  *at = 0; /* no shift-open document: nothing to age the shift by */
  return 0;
}

/* FF0Ch with the TLV list buf[0..len) for the document being built. */
static int send_receipt_tlv(shtrih_fn_t *s, const uint8_t *buf, size_t len)
{
  shtrih_msg_t m;
  shtrih_answer_t a;
  shtrih_request(&m, SHTRIH_CMD_FN_SEND_TLV, s->password);
  shtrih_msg_bytes(&m, buf, len);
  return call(s, &m, &a, 0);
}

/* FF0Ch with 1021, the cashier, unless there is none (NULL or ""). */
static int send_cashier(shtrih_fn_t *s, const char *cashier)
{
  uint8_t buf[160];
  tlv_writer_t w;
  if (!cashier || !cashier[0]) return 0;
  tlv_writer_init(&w, buf, sizeof buf);
  if (tlv_put_string(&w, 1021, cashier, strlen(cashier)) != 0) return FN_ERR_VALUE;
  return send_receipt_tlv(s, buf, tlv_writer_length(&w));
}

typedef int (*fd_decoder_t)(shtrih_answer_t *a, shtrih_fd_answer_t *out);

/* A document's FD, FP and shift as the register answered them, and its
** time to the second, read back from the archive, into out (NULL: none). */
static int fd_result(shtrih_fn_t *s, const shtrih_fd_answer_t *d, fn_doc_result_t *out)
{
  uint32_t time = 0;
  int rc = out ? document_time(s, d->number, &time) : 0;
  if (rc || !out) return rc;
  memset(out, 0, sizeof *out);
  out->number = d->number;
  out->fiscal_sign = d->fiscal_sign;
  out->shift_number = d->shift_number;
  out->time = time;
  return 0;
}

/* A two-step FN document: "begin", the cashier's 1021 by FF0Ch (NULL
** or "" none), then "make", whose answer `decode` reads (shift, FD, FP
** as the command has them). */
static int two_step(shtrih_fn_t *s, uint16_t begin, const char *cashier, uint16_t make,
                    fd_decoder_t decode, fn_doc_result_t *out)
{
  shtrih_answer_t a;
  shtrih_fd_answer_t d;
  int rc = simple(s, begin, &a);
  if (rc == 0) rc = send_cashier(s, cashier);
  if (rc == 0) rc = simple(s, make, &a);
  if (rc == 0 && decode(&a, &d) != 0) rc = malformed(s);
  return rc ? rc : fd_result(s, &d, out);
}

static int sh_shift_open(void *self, const char *cashier, fn_doc_result_t *out)
{
  return two_step(self, SHTRIH_CMD_FN_BEGIN_OPEN_SHIFT, cashier, SHTRIH_CMD_FN_OPEN_SHIFT,
                  shtrih_decode_shift_fd, out);
}

static int sh_shift_close(void *self, const char *cashier, fn_doc_result_t *out)
{
  return two_step(self, SHTRIH_CMD_FN_BEGIN_CLOSE_SHIFT, cashier, SHTRIH_CMD_FN_CLOSE_SHIFT,
                  shtrih_decode_shift_fd, out);
}

static int sh_state_report(void *self, fn_doc_result_t *out)
{
  int rc = two_step(self, SHTRIH_CMD_FN_BEGIN_STATE_REPORT, NULL, SHTRIH_CMD_FN_STATE_REPORT,
                    shtrih_decode_state_report, out);
  if (rc == 0 && out) out->shift_number = 0;
  return rc;
}

static int sh_receipt_cancel(void *self)
{
  shtrih_fn_t *s = self;
  shtrih_answer_t a;
  int rc = simple(s, SHTRIH_CMD_FN_CANCEL_DOCUMENT, &a);
  if (rc == 0) s->operation = 0, s->line_count = 0, s->contact_sent = false;
  return rc;
}

/* FF0A for where the document stands, then FF3A/FF3B for its TLV. */
static int sh_document_get(void *self, uint32_t number, fn_document_t *out)
{
  shtrih_fn_t *s = self;
  shtrih_msg_t m;
  shtrih_answer_t a;
  shtrih_found_document_t found;
  uint16_t tag = 0, len = 0;
  shtrih_request(&m, SHTRIH_CMD_FN_FIND_DOCUMENT, s->password);
  shtrih_msg_le(&m, number, 4);
  int rc = call(s, &m, &a, 0);
  if (rc == 0 && shtrih_decode_found_document(&a, &found) != 0) rc = malformed(s);
  if (rc) return rc;
  shtrih_request(&m, SHTRIH_CMD_FN_DOCUMENT_TLV, s->password);
  shtrih_msg_le(&m, number, 4);
  if ((rc = call(s, &m, &a, 0)) != 0) return rc;
  if (shtrih_decode_document_tlv(&a, &tag, &len) != 0 ||
      (size_t)len + TLV_HEADER_SIZE > sizeof out->data)
    return malformed(s);
  memset(out, 0, offsetof(fn_document_t, data));
  out->data[0] = (uint8_t)(tag & 0xFF);
  out->data[1] = (uint8_t)(tag >> 8);
  out->data[2] = (uint8_t)(len & 0xFF);
  out->data[3] = (uint8_t)(len >> 8);
  size_t have = TLV_HEADER_SIZE, want = TLV_HEADER_SIZE + (size_t)len;
  /* FF3B hands the TLVs out a piece at a time until 08h, "no data". */
  while (have < want) {
    shtrih_request(&m, SHTRIH_CMD_FN_READ_TLV, s->password);
    if ((rc = call(s, &m, &a, SHTRIH_E_FN_NO_DATA)) != 0) return rc;
    if (a.error == SHTRIH_E_FN_NO_DATA || a.len == 0 || have + a.len > want) break;
    memcpy(out->data + have, a.fields, a.len);
    have += a.len;
  }
  if (have != want) return malformed(s);
  out->number = number;
  out->type = tag;
  out->time = found.time;
  out->acknowledged = found.ticket;
  out->queued = true;
  out->len = have;
  return 0;
}

static int sh_document_next_unsent(void *self, fn_document_t *out)
{
  shtrih_exchange_status_t x;
  int rc = read_exchange(self, &x);
  if (rc) return rc;
  if (x.unsent == 0) return FN_ERR_NO_DATA;
  return sh_document_get(self, x.first_unsent_number, out);
}

/* The register delivers its notifications itself: none are kassa's. */
static int sh_notification_next(void *self, fn_notification_t *out)
{
  (void)self, (void)out;
  return FN_ERR_NO_DATA;
}

static unsigned sh_capabilities(void *self)
{
  (void)self;
  return FN_CAP_DEVICE_DELIVERS | FN_CAP_DEVICE_KEYS;
}

/*
** The X-report's totals, from the FN's own archive (what the register's
** FN signed, read back with FF0Ah/FF3Ah/FF3Bh), as the emulator counts
** them: the shift's are its receipts since the shift-open document; since
** registration, every receipt in the archive (a Z's 1157 would be shorter,
** but its 1133 carries no payment forms of the corrections). The
** register's money registers (1Ah) hold sums too, but by its own
** departments and tax rows, not by 1054 and 1199 as doc_totals_t counts.
*/
static int sh_totals(void *self, bool shift, doc_totals_t *out)
{
  shtrih_fn_t *s = self;
  shtrih_fn_status_t f;
  doc_header_t h;
  doc_summary_t sum;
  uint64_t total = 0;
  uint8_t sign[6];
  memset(out, 0, sizeof *out);
  int rc = read_fn_status(s, &f);
  if (rc || (shift && !f.shift_open)) return rc;
  fn_document_t *doc = malloc(sizeof *doc);
  doc_receipt_t *r = malloc(sizeof *r);
  if (!doc || !r) rc = FN_ERR_NO_MEMORY;
  for (uint32_t n = f.last_document; rc == 0 && n >= 1; n--) {
    if ((rc = sh_document_get(s, n, doc)) != 0) break;
    if (doc_summarize(doc->data, doc->len, &sum) != 0) {
      rc = malformed(s);
    } else if (sum.type == 3 || sum.type == 31) {
      if (doc_parse_receipt(doc->data, doc->len, &h, r, &total, sign) != 0)
        rc = malformed(s);
      else
        doc_totals_add(out, sum.type == 31, r, total);
    } else if (shift && sum.type == 2) {
      break; /* the shift's first document */
    }
  }
  free(doc);
  free(r);
  if (rc) memset(out, 0, sizeof *out);
  return rc;
}

/* The five payment forms: FF45h's sums 1, 2, 14, 15 and 16. */
static int sh_receipt_close_paid(void *self, const fn_payments_t *p, const fn_correction_t *c,
                                 fn_doc_result_t *out);

/* FN close (6): FF3Dh begins it, FF3Eh makes it (FD, FP). */
static int sh_fn_close(void *self, fn_doc_result_t *out)
{
  return two_step(self, SHTRIH_CMD_FN_BEGIN_CLOSE_FN, NULL, SHTRIH_CMD_FN_CLOSE_FN,
                  shtrih_decode_fd_sign, out);
}

/* ---- Registration (FF05h, the tables, FF06h / FF34h) ---------------- */

/* 1Eh: one field of a table, value[0..len). */
static int write_cell(shtrih_fn_t *s, uint8_t table, uint8_t field, const void *value, size_t len)
{
  shtrih_msg_t m;
  shtrih_answer_t a;
  shtrih_encode_write_table(&m, s->password, table, 1, field, value, len);
  if (m.overflow) return FN_ERR_VALUE;
  return call(s, &m, &a, 0);
}

static int write_number(shtrih_fn_t *s, uint8_t table, uint8_t field, uint32_t value, size_t width)
{
  uint8_t b[4];
  for (size_t i = 0; i < width; i++) b[i] = (uint8_t)(value >> (8 * i));
  return write_cell(s, table, field, b, width);
}

/* A text into table 18: its first SHTRIH_TEXT_FIELD bytes (CP1251) in
** `field`, the rest in `more` (0: none: a longer text is FN_ERR_VALUE).
** An empty part is written as a NUL, so nothing of an earlier text stays. */
static int write_text(shtrih_fn_t *s, uint8_t field, uint8_t more, size_t width, const char *text)
{
  uint8_t cp[sizeof(((doc_header_t *)0)->user_name)]; /* CP1251 is never longer than UTF-8 */
  size_t n = 0;
  if (strlen(text) >= sizeof cp || shtrih_utf8_to_cp1251(text, cp, sizeof cp, &n) != 0 ||
      n > (more ? 2 : 1) * width)
    return FN_ERR_VALUE;
  size_t first = n < width ? n : width;
  int rc =
      write_cell(s, SHTRIH_TABLE_FN, field, first ? cp : (const uint8_t *)"", first ? first : 1);
  if (rc == 0 && more)
    rc = write_cell(s, SHTRIH_TABLE_FN, more, n > width ? cp + width : (const uint8_t *)"",
                    n > width ? n - width : 1);
  return rc;
}

/* The FFD 1.05 reason byte (1101) FF34h carries beside 1205 in field 22:
** 1 the FN replaced, 2 the OFD changed, 3 the user's data, 4 the KKT's
** settings (fr_drv_ng issue 177 sends 4 with 1205 in the table). */
static uint8_t reason_byte(uint32_t mask)
{
  if (mask & FN_REREG_FN_REPLACED) return 1;
  if (mask & 0x02u) return 2;
  if (mask & 0x0Cu) return 3;
  return 4;
}

/*
** Registration (1) or re-registration (11) the way the vendor's drivers
** make it: the register's table 17 gets the FFD version (4, 1.2), table
** 18 the header's texts, the OFD's INN, the marking flag and, for an 11,
** 1205; FF05h begins the report (0; 1 with the FN replaced; 2), FF06h or
** FF34h makes it with INN, registration number, 1062 and the work mode.
** The KKT's serial number 1013 is the register's own (table 18 field 1,
** read-only): r->reg.kkt_serial is not sent.
*/
static int sh_register(void *self, const fn_registration_t *r, bool re, fn_doc_result_t *out)
{
  shtrih_fn_t *s = self;
  shtrih_registration_t g = {0};
  shtrih_msg_t m;
  shtrih_answer_t a;
  shtrih_fd_answer_t d;
  if (r->reg.ffd_version != 0 && r->reg.ffd_version != 4) return FN_ERR_VALUE;
  if (strlen(r->header.user_inn) >= sizeof g.inn ||
      strlen(r->header.kkt_reg_number) >= sizeof g.rnm)
    return FN_ERR_VALUE;
  snprintf(g.inn, sizeof g.inn, "%s", r->header.user_inn);
  snprintf(g.rnm, sizeof g.rnm, "%s", r->header.kkt_reg_number);
  g.tax_systems = r->reg.tax_systems;
  g.work_mode = r->header.autonomous ? SHTRIH_WORK_MODE_AUTONOMOUS : 0;
  g.reason = reason_byte(r->reg.reason_mask);
  const size_t w = SHTRIH_TEXT_FIELD;
  int rc = write_number(s, SHTRIH_TABLE_SETUP, SHTRIH_FIELD_FFD, 4, 1);
  if (rc == 0)
    rc = write_text(s, SHTRIH_FIELD_USER, SHTRIH_FIELD_USER_MORE, w, r->header.user_name);
  if (rc == 0)
    rc = write_text(s, SHTRIH_FIELD_ADDRESS, SHTRIH_FIELD_ADDRESS_MORE, w, r->header.address);
  if (rc == 0) rc = write_text(s, SHTRIH_FIELD_PLACE, 0, w, r->header.place);
  if (rc == 0) rc = write_text(s, SHTRIH_FIELD_CASHIER, 0, 64, r->header.cashier);
  if (rc == 0)
    rc = write_text(s, SHTRIH_FIELD_OFD_NAME, SHTRIH_FIELD_OFD_NAME_MORE, w, r->reg.ofd_name);
  if (rc == 0) rc = write_text(s, SHTRIH_FIELD_OFD_INN, 0, 12, r->reg.ofd_inn);
  if (rc == 0)
    rc = write_number(s, SHTRIH_TABLE_FN, SHTRIH_FIELD_EXT_MODES,
                      r->reg.marking ? SHTRIH_EXT_MODE_MARKING : 0, 1);
  if (rc == 0 && re)
    rc = write_number(s, SHTRIH_TABLE_FN, SHTRIH_FIELD_REASONS, r->reg.reason_mask, 4);
  if (rc) return rc;
  uint8_t type = !re                                           ? SHTRIH_REG_REPORT
                 : (r->reg.reason_mask & FN_REREG_FN_REPLACED) ? SHTRIH_REG_FN_REPLACED
                                                               : SHTRIH_REG_CHANGE;
  shtrih_request(&m, SHTRIH_CMD_FN_BEGIN_REGISTRATION, s->password);
  shtrih_msg_le(&m, type, 1);
  if ((rc = call(s, &m, &a, 0)) != 0) return rc;
  shtrih_encode_registration(&m, s->password, &g, re);
  rc = call(s, &m, &a, 0);
  if (rc == 0 && shtrih_decode_fd_sign(&a, &d) != 0) rc = malformed(s);
  return rc ? rc : fd_result(s, &d, out);
}

/* The register opens a receipt with its first line (FF46h): begin only
** notes what the lines and the close will say. */
static int sh_receipt_begin(void *self, uint8_t operation, uint8_t tax_system, const char *cashier)
{
  shtrih_fn_t *s = self;
  fn_status_t st;
  if (cashier && strlen(cashier) >= sizeof s->cashier) return FN_ERR_VALUE;
  int rc = sh_status(s, &st);
  if (rc) return rc;
  if (!st.shift_open || st.receipt_open || s->operation) return FN_ERR_STATE;
  s->operation = operation;
  s->line_count = 0;
  s->contact_sent = false;
  snprintf(s->cashier, sizeof s->cashier, "%s", cashier ? cashier : "");
  s->tax_system = tax_system;
  return 0;
}

/*
** The requisites of a line FF46h has no field for, as the TLVs FF4Dh binds
** to the operation just sent, into buf: 2108 (the measure), the agent's
** 1222/1223/1224/1226 (doc_item_extras_put, the codec the documents use),
** 1260 {1262, 1263, 1264, 1265} (the industry requisite the OISM's
** answer gives a marked line) and 1163 {1300..1325} (the product code
** kassa read from the line's marking code; [open] whether a register forms
** it itself from FF67h's code). Texts go as they are (ASCII in practice).
** 0, or FN_ERR_VALUE when they do not fit.
*/
static int line_tlvs(const doc_item_t *item, uint8_t *buf, size_t cap, size_t *len)
{
  tlv_writer_t w;
  size_t extras = 0;
  *len = 0;
  if (doc_item_extras_put(item, buf, cap, &extras) != 0) return FN_ERR_VALUE;
  tlv_writer_init(&w, buf + extras, cap - extras);
  int rc = item->measure ? tlv_put_byte(&w, 2108, item->measure) : 0;
  if (rc == 0 && item->has_industry) {
    const doc_industry_t *in = &item->industry;
    rc = tlv_begin_stlv(&w, 1260);
    if (rc == 0) rc = tlv_put_string(&w, 1262, in->authority, strlen(in->authority));
    if (rc == 0) rc = tlv_put_string(&w, 1263, in->date, strlen(in->date));
    if (rc == 0) rc = tlv_put_string(&w, 1264, in->number, strlen(in->number));
    if (rc == 0) rc = tlv_put_string(&w, 1265, in->value, strlen(in->value));
    if (rc == 0) rc = tlv_end_stlv(&w);
  }
  if (rc == 0 && item->product_tag) { /* 1163, the product code kassa read from the code */
    rc = tlv_begin_stlv(&w, 1163);
    if (rc == 0)
      rc = tlv_put_string(&w, item->product_tag, item->product_value, strlen(item->product_value));
    if (rc == 0) rc = tlv_end_stlv(&w);
  }
  if (rc != 0) return FN_ERR_VALUE;
  *len = extras + tlv_writer_length(&w);
  return 0;
}

/* FF4Dh, one top-level TLV of list[0..len) a call (a v1 message holds
** 255 bytes; a line's TLVs together may not). */
static int send_line_tlvs(shtrih_fn_t *s, const uint8_t *list, size_t len)
{
  tlv_reader_t rd;
  tlv_item_t x;
  shtrih_msg_t m;
  shtrih_answer_t a;
  int rc = 0;
  tlv_reader_init(&rd, list, len);
  while (rc == 0 && !tlv_reader_done(&rd)) {
    if (tlv_reader_next(&rd, &x) != 0) return FN_ERR_VALUE;
    shtrih_request(&m, SHTRIH_CMD_FN_OPERATION_TLV, s->password);
    shtrih_msg_bytes(&m, list + x.offset, TLV_HEADER_SIZE + (size_t)x.length);
    if (m.overflow) return FN_ERR_TLV_SIZE;
    rc = call(s, &m, &a, 0);
  }
  return rc;
}

/* A line to the register: FF67h for its code, FF46h, FF4Dh for the rest. */
static int send_line(shtrih_fn_t *s, const doc_item_t *item)
{
  shtrih_operation_t op = {0};
  shtrih_msg_t m;
  shtrih_answer_t a;
  static uint8_t tlvs[2048]; /* one thread uses a backend at a time */
  size_t tlvs_len = 0;
  int rc = line_tlvs(item, tlvs, sizeof tlvs, &tlvs_len);
  if (rc) return rc;
  op.operation = s->operation;
  op.quantity_millionths = item->quantity.mantissa;
  for (uint8_t k = item->quantity.scale; k < 6; k++) op.quantity_millionths *= 10;
  op.price = item->price;
  op.total = item->total;
  op.tax = shtrih_tax_of_vat(item->vat);
  op.department = 1;
  op.payment_method = item->payment_method;
  op.subject = item->subject;
  snprintf(op.name, sizeof op.name, "%s", item->name);
  if (item->quantity.scale > 6 || op.tax == 0) return FN_ERR_VALUE;
  if (item->marked) { /* FF67h: the code this line sells, then the line */
    shtrih_request(&m, SHTRIH_CMD_FN_KM_BIND, s->password);
    shtrih_msg_le(&m, item->km_len, 1);
    shtrih_msg_bytes(&m, item->km, item->km_len);
    if (m.overflow) return FN_ERR_PARAMS;
    if ((rc = call(s, &m, &a, 0)) != 0) return rc;
  }
  shtrih_encode_operation(&m, s->password, &op);
  if (m.overflow) return FN_ERR_VALUE; /* a name with no CP1251 form */
  rc = call(s, &m, &a, 0);
  if (rc == 0 && tlvs_len) rc = send_line_tlvs(s, tlvs, tlvs_len);
  return rc;
}

/* A line: sent at once (the register refuses a bad one now, not at the
** close), and kept for a correction's second sending. */
static int sh_receipt_add(void *self, const doc_item_t *item)
{
  shtrih_fn_t *s = self;
  if (!s->operation) return FN_ERR_STATE;
  if (s->line_count == DOC_MAX_ITEMS) return FN_ERR_TLV_SIZE;
  if (!s->lines && !(s->lines = calloc(DOC_MAX_ITEMS, sizeof *s->lines))) return FN_ERR_NO_MEMORY;
  int rc = send_line(s, item);
  if (rc == 0) s->lines[s->line_count++] = *item;
  return rc;
}

/* FF08h drops what the register holds of the receipt (a 1008 with it),
** FF35h if it is to be a correction, then the lines go again. */
static int restart_receipt(shtrih_fn_t *s, bool correction)
{
  shtrih_answer_t a;
  int rc = simple(s, SHTRIH_CMD_FN_CANCEL_DOCUMENT, &a);
  if (rc == 0) s->contact_sent = false;
  if (rc == 0 && correction) rc = simple(s, SHTRIH_CMD_FN_BEGIN_CORRECTION, &a);
  for (size_t i = 0; rc == 0 && i < s->line_count; i++) rc = send_line(s, &s->lines[i]);
  return rc;
}

/*
** A correction (FFD 1.2): the register must know before the lines, and
** fn.h says so only at the close. So: FF08h drops the receipt built so
** far, FF35h begins a correction, the lines go again, and FF0Ch carries
** 1173 and 1174 {1178, 1179} (fr_drv_ng issues 150 and 216 describe this
** order); FF45h then closes it.
*/
static int begin_correction(shtrih_fn_t *s, const fn_correction_t *c)
{
  uint8_t buf[128];
  tlv_writer_t w;
  int rc = restart_receipt(s, true);
  if (rc) return rc;
  tlv_writer_init(&w, buf, sizeof buf);
  if (tlv_put_byte(&w, 1173, c->type) != 0 || tlv_begin_stlv(&w, 1174) != 0 ||
      tlv_put_unixtime(&w, 1178, c->date) != 0 ||
      tlv_put_string(&w, 1179, c->order_number, strlen(c->order_number)) != 0 ||
      tlv_end_stlv(&w) != 0)
    return FN_ERR_VALUE;
  return send_receipt_tlv(s, buf, tlv_writer_length(&w));
}

/*
** The receipt's cashier 1021 and the buyer's contact 1008 by FF0Ch before
** FF45h (the vendor's protocol description: FF0Ch sends a TLV structure
** for the document being built). A receipt whose earlier close sent a
** contact and now has none starts again in the register (FF08h, the
** lines again), since nothing else unsays it.
*/
static int send_receipt_requisites(shtrih_fn_t *s, const char *contact)
{
  uint8_t buf[240];
  tlv_writer_t w;
  int rc = !contact[0] && s->contact_sent ? restart_receipt(s, false) : 0;
  if (rc || (!contact[0] && !s->cashier[0])) return rc;
  tlv_writer_init(&w, buf, sizeof buf);
  if ((s->cashier[0] && tlv_put_string(&w, 1021, s->cashier, strlen(s->cashier)) != 0) ||
      (contact[0] && tlv_put_string(&w, 1008, contact, strlen(contact)) != 0))
    return FN_ERR_VALUE;
  rc = send_receipt_tlv(s, buf, tlv_writer_length(&w));
  if (rc == 0 && contact[0]) s->contact_sent = true;
  return rc;
}

static int sh_receipt_close(void *self, uint64_t cash, uint64_t cashless, bool correction,
                            fn_doc_result_t *out)
{
  fn_payments_t pay = {.cash = cash, .cashless = cashless};
  shtrih_fn_t *s = self;
  fn_correction_t own = {.type = 0, .date = 0};
  if (correction) { /* self-made, dated today (the FN's clock) */
    shtrih_fn_status_t f;
    int rc = read_fn_status(s, &f);
    if (rc) return rc;
    own.date = f.time - f.time % 86400;
  }
  return sh_receipt_close_paid(self, &pay, correction ? &own : NULL, out);
}

static int sh_correction_close(void *self, uint64_t cash, uint64_t cashless,
                               const fn_correction_t *c, fn_doc_result_t *out)
{
  fn_payments_t pay = {.cash = cash, .cashless = cashless};
  return sh_receipt_close_paid(self, &pay, c, out);
}

static int sh_receipt_close_paid(void *self, const fn_payments_t *pay, const fn_correction_t *cor,
                                 fn_doc_result_t *out)
{
  shtrih_fn_t *s = self;
  shtrih_close_t c = {0};
  shtrih_msg_t m;
  shtrih_answer_t a;
  shtrih_shift_params_t p;
  uint64_t change = 0;
  uint32_t number = 0, sign = 0;
  if (!s->operation) return FN_ERR_STATE;
  int rc = cor ? begin_correction(s, cor) : 0;
  if (rc == 0) rc = send_receipt_requisites(s, pay->buyer_contact);
  if (rc) return rc;
  c.payments[0] = pay->cash;
  c.payments[1] = pay->cashless;
  c.payments[13] = pay->prepaid; /* 1215 */
  c.payments[14] = pay->credit;  /* 1216 */
  c.payments[15] = pay->other;   /* 1217 */
  c.tax_system = s->tax_system;
  shtrih_encode_close(&m, s->password, &c);
  rc = call(s, &m, &a, 0);
  if (rc == 0 && shtrih_decode_close_answer(&a, &change, &number, &sign) != 0) rc = malformed(s);
  if (rc) return rc;
  s->operation = 0;
  s->line_count = 0;
  s->contact_sent = false;
  /* The receipt's time and its number in the shift, as the FN has them. */
  uint32_t time = 0;
  if (out && (rc = document_time(s, number, &time)) != 0) return rc;
  if ((rc = simple(s, SHTRIH_CMD_FN_SHIFT_PARAMS, &a)) != 0) return rc;
  if (shtrih_decode_shift_params(&a, &p) != 0) return malformed(s);
  if (out) {
    memset(out, 0, sizeof *out);
    out->number = number;
    out->fiscal_sign = sign;
    out->time = time;
    out->shift_number = p.shift_number;
    out->receipt_number = p.receipt_number;
  }
  return 0;
}

/*
** FF61h: the register's FN checks the code. Its local result is 2106's
** bits 0 and 1; a register online asks the OISM itself and adds what the
** answer said. No request (81) comes back for kassa to send: the register
** talks to the OISM (FN_CAP_DEVICE_DELIVERS).
*/
static int sh_km_check(void *self, const doc_item_t *item, fn_km_check_t *out)
{
  shtrih_fn_t *s = self;
  shtrih_km_check_t c = {0};
  shtrih_km_result_t res;
  shtrih_msg_t m;
  shtrih_answer_t a;
  if (item->km_len > sizeof c.km) return FN_ERR_PARAMS;
  c.planned_status = item->km_status ? item->km_status : 1;
  c.km_len = (uint8_t)item->km_len;
  memcpy(c.km, item->km, item->km_len);
  if (item->fraction_denominator) { /* FF61h's TLV list: 1291 alone */
    static doc_item_t part;         /* one thread uses a backend at a time */
    size_t n = 0;
    memset(&part, 0, sizeof part);
    part.fraction_numerator = item->fraction_numerator;
    part.fraction_denominator = item->fraction_denominator;
    if (doc_item_extras_put(&part, c.tlv, sizeof c.tlv, &n) != 0) return FN_ERR_VALUE;
    c.tlv_len = (uint8_t)n;
  }
  shtrih_encode_km_check(&m, s->password, &c);
  int rc = call(s, &m, &a, 0);
  if (rc == 0 && shtrih_decode_km_result(&a, &res) != 0) rc = malformed(s);
  if (rc) return rc;
  memset(out, 0, offsetof(fn_km_check_t, request));
  out->km_type = res.km_type;
  out->check_result = (uint8_t)(res.local_result | (res.online ? res.online_result : 0));
  if (res.local_reason == 2)
    out->tail_status = FN_TAIL_NO_KEY;
  else if (res.local_reason != 0)
    out->tail_status = FN_TAIL_UNCHECKABLE;
  else
    out->tail_status = (res.local_result & 0x02) ? FN_TAIL_VALID : FN_TAIL_INVALID;
  snprintf(s->last_km, sizeof s->last_km, "%.*s", (int)item->km_len, item->km);
  return 0;
}

/* The OISM's answer goes to the register, not through kassa. */
static int sh_km_answer(void *self, const uint8_t *doc83, size_t len, fn_km_check_t *out)
{
  (void)self, (void)doc83, (void)len, (void)out;
  return FN_ERR_STATE;
}

/*
** FF69h decides on the code FF61h checked last, and only on it. A later
** decline of a code accepted before (a line taken off the receipt) has no
** command: the code stays in the register's table until the receipt is
** closed or cancelled, and FF67h binds only the codes of the lines kassa
** sends, so it is never sold. That is 0 here, as the till means it.
*/
static int sh_km_accept(void *self, const char *km, size_t km_len, bool accept)
{
  shtrih_fn_t *s = self;
  shtrih_msg_t m;
  shtrih_answer_t a;
  if (strlen(s->last_km) != km_len || memcmp(s->last_km, km, km_len) != 0)
    return accept ? FN_ERR_NO_DATA : 0;
  shtrih_request(&m, SHTRIH_CMD_FN_KM_ACCEPT, s->password);
  shtrih_msg_le(&m, accept ? 1 : 0, 1);
  int rc = call(s, &m, &a, 0);
  if (rc == 0) s->last_km[0] = '\0';
  return rc;
}

/* An acknowledgement or a ticket is the register's own business. */
static int sh_bytes_in(void *self, const uint8_t *doc, size_t len)
{
  (void)self, (void)doc, (void)len;
  return FN_ERR_UNKNOWN_COMMAND;
}
static int sh_key_update(void *self, const fn_key_t *keys, size_t count, uint32_t when)
{
  (void)self, (void)keys, (void)count, (void)when;
  return FN_ERR_UNKNOWN_COMMAND;
}

static void sh_destroy(void *self)
{
  shtrih_fn_t *s = self;
  if (!s) return;
  shtrih_link_close(s->link);
  free(s->lines);
  free(s);
}

static const fn_backend_t shtrih_backend = {
    .name = "shtrih",
    .status = sh_status,
    .register_kkt = sh_register,
    .shift_open = sh_shift_open,
    .shift_close = sh_shift_close,
    .state_report = sh_state_report,
    .fn_close = sh_fn_close,
    .receipt_begin = sh_receipt_begin,
    .receipt_add = sh_receipt_add,
    .receipt_close = sh_receipt_close,
    .receipt_cancel = sh_receipt_cancel,
    .km_check = sh_km_check,
    .km_answer = sh_km_answer,
    .km_accept = sh_km_accept,
    .document_next_unsent = sh_document_next_unsent,
    .document_ack = sh_bytes_in,
    .document_get = sh_document_get,
    .notification_next = sh_notification_next,
    .notification_ticket = sh_bytes_in,
    .key_update = sh_key_update,
    .destroy = sh_destroy,
    .capabilities = sh_capabilities,
    .totals = sh_totals,
    .receipt_close_paid = sh_receipt_close_paid,
    .correction_close = sh_correction_close,
};

int fn_shtrih_backend_spec(const char *backend, char *spec, size_t spec_size)
{
  if (!spec || spec_size == 0) return -1;
  spec[0] = '\0';
  if (!backend || !*backend || strcmp(backend, "emulator") == 0) return 0;
  if (strncmp(backend, "shtrih:", 7) != 0) return -1;
  const char *rest = backend + 7;
  if (strncmp(rest, "tcp:", 4) != 0 && strncmp(rest, "serial:", 7) != 0) return -1;
  if ((size_t)snprintf(spec, spec_size, "%s", rest) >= spec_size) return -1;
  return 1;
}

int fn_shtrih_open(const char *spec, uint32_t password, const shtrih_link_options_t *options,
                   fn_t **out, char *err, size_t err_size)
{
  if (!out) return FN_ERR_PARAMS;
  *out = NULL;
  shtrih_fn_t *s = calloc(1, sizeof *s);
  fn_t *fn = calloc(1, sizeof *fn);
  if (!s || !fn) {
    free(s);
    free(fn);
    if (err && err_size) snprintf(err, err_size, "Недостаточно памяти. / Out of memory.");
    return FN_ERR_NO_MEMORY;
  }
  s->password = password ? password : SHTRIH_DEFAULT_PASSWORD;
  snprintf(s->spec, sizeof s->spec, "%s", spec ? spec : "");
  if (options) s->options = *options;
  fn->backend = &shtrih_backend;
  fn->self = s;
  int rc = shtrih_link_open(spec, options, &s->link, err, err_size);
  if (rc != 0) {
    fn_free(fn);
    return rc == SHTRIH_LINK_NO_MEMORY ? FN_ERR_NO_MEMORY : FN_ERR_DEVICE_LINK;
  }
  shtrih_device_type_t type;
  if ((rc = read_device_type(s, &type)) != 0) {
    if (err && err_size) snprintf(err, err_size, "%s / %s", s->last_ru, s->last_en);
    fn_free(fn);
    return rc;
  }
  *out = fn;
  return 0;
}

static shtrih_fn_t *self_of(fn_t *fn)
{
  return fn && fn->backend == &shtrih_backend ? (shtrih_fn_t *)fn->self : NULL;
}

/* One part of the facts: 0 read or missing (its rc and words kept); a
** failure that ends the probe otherwise. */
static int facts_part(shtrih_fn_t *s, int rc, int *part_rc, char *words, size_t size)
{
  *part_rc = rc;
  if (rc == 0) return 0;
  if (rc == FN_ERR_DEVICE_LINK || rc == FN_ERR_NO_MEMORY || s->last_code == SHTRIH_E_PASSWORD)
    return rc;
  snprintf(words, size, "%s / %s", s->last_ru, s->last_en);
  return 0;
}

int fn_shtrih_facts(fn_t *fn, fn_shtrih_facts_t *out)
{
  shtrih_fn_t *s = self_of(fn);
  if (!s || !out) return FN_ERR_PARAMS;
  memset(out, 0, sizeof *out);
  int rc = read_device_type(s, &out->device);
  if (rc == 0)
    rc = facts_part(s, read_short_status(s, &out->kkt), &out->kkt_rc, out->kkt_error,
                    sizeof out->kkt_error);
  if (rc == 0)
    rc = facts_part(s, read_fn_status(s, &out->fn), &out->fn_rc, out->fn_error,
                    sizeof out->fn_error);
  if (rc == 0)
    rc = facts_part(s, read_exchange(s, &out->exchange), &out->exchange_rc, out->exchange_error,
                    sizeof out->exchange_error);
  return rc;
}

const char *fn_shtrih_last_error(fn_t *fn, bool russian)
{
  shtrih_fn_t *s = self_of(fn);
  if (!s) return "";
  return russian ? s->last_ru : s->last_en;
}
