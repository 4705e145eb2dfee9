/*
** device/kkt_emu.c: the Shtrih-M register emulator (kkt_emu.h).
**
** Two halves. The exchange (kkt_emu_serve_fd) is the register's side of
** the v1 lower level: ENQ is answered NAK (waiting) or ACK and the kept
** answer; a good frame is ACKed, executed and answered; a bad one NAKed.
** The commands (a table: code, the shortest request, a handler) turn into
** calls of the FN behind it, and the FN's refusals into its error bytes.
*/
#include "device/kkt_emu.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "device/shtrih_cmd.h"
#include "device/shtrih_frame.h"
#include "fiscal/doc.h"
#include "fiscal/tlv.h"

/* What the register answers to FCh: a model number no Shtrih-M model uses
** in the vendor's table and a name that says what it is. */
#define EMU_MODEL 250
#define EMU_NAME  "KASSA-KKT-EMU"
/* Its serial number (table 18 field 1, 1013 in its registrations). */
#define EMU_SERIAL "0250000000000001"

struct kkt_emu {
  fn_t *fn;
  kkt_emu_options_t o;
  /* The answer the host has not acknowledged yet (kept across connections). */
  uint8_t pending[SHTRIH_MAX_MESSAGE];
  size_t pending_len;
  uint32_t executed;
  /* Two-step FN commands: FF41 before FF0B, FF42 before FF43, FF37 before FF38. */
  uint16_t begun;
  /* FF3A/FF3B: the document being read out and how far. */
  fn_document_t *reading;
  size_t read_at, read_end;
  /* The receipt being built (FF46 lines, FF4D requisites), kept in the
  ** register until FF45 hands it to the FN whole or FF08 drops it. */
  uint8_t receipt_operation; /* 0: none open */
  /* FF35h began a correction receipt; FF0Ch gave its 1173/1174. */
  bool correction, correction_told;
  fn_correction_t correction_data;
  /* FF0Ch's 1008, the buyer's phone or e-mail ("" none), for FF45h. */
  char buyer_contact[65];
  /* FF0Ch's 1021 for the shift document begun or the receipt ("" none). */
  char cashier[129];
  size_t line_count;
  doc_item_t *lines; /* DOC_MAX_ITEMS */
  /* Marking: the code FF61 checked last (FF69 decides on it), the planned
  ** status (2003) of recent checks, the code FF67 bound to the next line. */
  char last_km[DOC_MAX_KM + 1];
  size_t last_km_len;
  uint8_t last_result;
  struct {
    char km[DOC_MAX_KM + 1];
    uint8_t planned;
  } planned[32];
  size_t planned_next;
  char bound_km[DOC_MAX_KM + 1];
  size_t bound_km_len;
  int64_t last_idle_ms; /* when options.idle last ran (monotonic), 0 never */
  /* Registration: the writable table cells (emu_cells) as written, CP1251
  ** or little-endian, and the report type FF05h began (begun). */
  uint8_t cell[16][SHTRIH_TEXT_FIELD];
  uint8_t cell_len[16];
  uint8_t reg_type;
  uint32_t reg_document; /* the last 1 or 11 (FF09h), 0 not looked up yet */
};

typedef struct emu_answer {
  uint8_t *buf;
  size_t len;
} emu_answer_t;

static void put(emu_answer_t *a, const void *p, size_t n)
{
  if (a->len + n > SHTRIH_MAX_MESSAGE) n = SHTRIH_MAX_MESSAGE - a->len;
  memcpy(a->buf + a->len, p, n);
  a->len += n;
}

static void put_le(emu_answer_t *a, uint64_t v, size_t n)
{
  uint8_t b[8];
  for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * i));
  put(a, b, n);
}

/* The FN's refusal as the byte a register answers (shtrih_cmd.h). */
static uint8_t fn_code(int rc) { return shtrih_fn_byte_of_err(rc); }

/* Four bytes little-endian. */
static uint32_t le32(const uint8_t *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

typedef struct request {
  const uint8_t *p; /* the parameters after code and password */
  size_t len;
} request_t;

typedef uint8_t (*handler_t)(kkt_emu_t *e, const request_t *r, emu_answer_t *a);

static uint8_t h_device_type(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)e, (void)r;
  const uint8_t head[6] = {0, 0, 2, 0, EMU_MODEL, 0};
  put(a, head, sizeof head);
  put(a, EMU_NAME, strlen(EMU_NAME));
  return 0;
}

static uint8_t h_short_status(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)r;
  fn_status_t st;
  int rc = fn_status(e->fn, &st);
  if (rc) return fn_code(rc);
  uint8_t mode = SHTRIH_MODE_SHIFT_CLOSED;
  st.receipt_open = st.receipt_open || e->receipt_operation;
  st.receipt_items += (uint32_t)e->line_count;
  if (st.receipt_open)
    mode = SHTRIH_MODE_DOCUMENT_OPEN;
  else if (st.shift_open)
    mode = st.now - st.shift_opened_at > 24u * 3600u ? SHTRIH_MODE_SHIFT_OVERDUE
                                                     : SHTRIH_MODE_SHIFT_OPEN;
  put_le(a, 30, 1);     /* operator: the administrator */
  put_le(a, 0x0002, 2); /* flags: receipt roll present */
  put_le(a, mode, 1);
  put_le(a, 0, 1); /* submode: paper present, idle */
  put_le(a, st.receipt_items & 0xFF, 1);
  put_le(a, 0, 4); /* battery, power, FP and EKLZ errors: none here */
  put_le(a, (st.receipt_items >> 8) & 0xFF, 1);
  put_le(a, 0, 3);
  put_le(a, 0, 1); /* last print: done */
  return 0;
}

static uint8_t h_fn_status(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)r;
  fn_status_t st;
  uint8_t t[5], number[16];
  int rc = fn_status(e->fn, &st);
  if (rc) return fn_code(rc);
  put_le(a, (uint8_t)st.phase, 1); /* 1, 3, 7: the phase bits FF01 reports */
  put_le(a, st.receipt_open || e->receipt_operation ? 0x04 : 0x00, 1);
  put_le(a, st.receipt_items || e->line_count ? 1 : 0, 1);
  put_le(a, st.shift_open ? 1 : 0, 1);
  put_le(a, 0, 1); /* warnings */
  shtrih_fn_time_put(st.now, t);
  put(a, t, 5);
  memset(number, ' ', sizeof number);
  memcpy(number, st.fn_number, strnlen(st.fn_number, 16));
  put(a, number, 16);
  put_le(a, st.last_document, 4);
  return 0;
}

static uint8_t h_fn_number(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)r;
  fn_status_t st;
  int rc = fn_status(e->fn, &st);
  if (rc) return fn_code(rc);
  uint8_t number[16];
  memset(number, ' ', sizeof number);
  memcpy(number, st.fn_number, strnlen(st.fn_number, 16));
  put(a, number, 16);
  return 0;
}

static uint8_t h_exchange_status(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)r;
  fn_status_t st;
  uint8_t t[5] = {0};
  int rc = fn_status(e->fn, &st);
  if (rc) return fn_code(rc);
  uint32_t unsent = st.unsent_documents > 0xFFFF ? 0xFFFF : st.unsent_documents;
  put_le(a, unsent ? 0x02 : 0x00, 1); /* bit 1: a message for the OFD */
  put_le(a, 0, 1);
  put_le(a, unsent, 2);
  put_le(a, unsent ? st.first_unsent_number : 0, 4);
  if (unsent) shtrih_fn_time_put(st.first_unsent_time, t);
  put(a, t, 5);
  return 0;
}

static uint8_t h_unsent_count(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)r;
  fn_status_t st;
  int rc = fn_status(e->fn, &st);
  if (rc) return fn_code(rc);
  put_le(a, st.unsent_documents > 0xFFFF ? 0xFFFF : st.unsent_documents, 2);
  return 0;
}

static uint8_t h_shift_params(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)r;
  fn_status_t st;
  int rc = fn_status(e->fn, &st);
  if (rc) return fn_code(rc);
  put_le(a, st.shift_open ? 1 : 0, 1);
  put_le(a, st.shift_number, 2);
  put_le(a, st.receipts_in_shift, 2);
  return 0;
}

/* FF41, FF42, FF37: the FN notes that a document is begun. */
static uint8_t h_begin(kkt_emu_t *e, const request_t *r, emu_answer_t *a, uint16_t what)
{
  (void)r, (void)a;
  fn_status_t st;
  int rc = fn_status(e->fn, &st);
  if (rc) return fn_code(rc);
  if (st.receipt_open || e->receipt_operation) return fn_code(FN_ERR_STATE);
  e->begun = what;
  e->cashier[0] = '\0';
  return 0;
}
static uint8_t h_begin_open(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  return h_begin(e, r, a, SHTRIH_CMD_FN_OPEN_SHIFT);
}
static uint8_t h_begin_close(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  return h_begin(e, r, a, SHTRIH_CMD_FN_CLOSE_SHIFT);
}
static uint8_t h_begin_report(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  return h_begin(e, r, a, SHTRIH_CMD_FN_STATE_REPORT);
}

/* FF0B and FF43: the shift document. */
static uint8_t h_shift(kkt_emu_t *e, emu_answer_t *a, bool open)
{
  uint16_t want = open ? SHTRIH_CMD_FN_OPEN_SHIFT : SHTRIH_CMD_FN_CLOSE_SHIFT;
  if (e->begun != want) return fn_code(FN_ERR_STATE);
  e->begun = 0;
  fn_doc_result_t d;
  const char *cashier = e->cashier[0] ? e->cashier : NULL;
  int rc = open ? fn_shift_open(e->fn, cashier, &d) : fn_shift_close(e->fn, cashier, &d);
  e->cashier[0] = '\0';
  if (rc) return fn_code(rc);
  put_le(a, d.shift_number, 2);
  put_le(a, d.number, 4);
  put_le(a, d.fiscal_sign, 4);
  return 0;
}
static uint8_t h_open_shift(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)r;
  return h_shift(e, a, true);
}
static uint8_t h_close_shift(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)r;
  return h_shift(e, a, false);
}

static uint8_t h_begin_close_fn(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  return h_begin(e, r, a, SHTRIH_CMD_FN_CLOSE_FN);
}

/* FF3E: the FN's fiscal mode closed (6): FD, FP. */
static uint8_t h_close_fn(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)r;
  if (e->begun != SHTRIH_CMD_FN_CLOSE_FN) return fn_code(FN_ERR_STATE);
  e->begun = 0;
  fn_doc_result_t d;
  int rc = fn_close_archive(e->fn, &d);
  if (rc) return fn_code(rc);
  put_le(a, d.number, 4);
  put_le(a, d.fiscal_sign, 4);
  return 0;
}

static uint8_t h_state_report(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)r;
  if (e->begun != SHTRIH_CMD_FN_STATE_REPORT) return fn_code(FN_ERR_STATE);
  e->begun = 0;
  fn_doc_result_t d;
  fn_status_t st;
  int rc = fn_state_report(e->fn, &d);
  if (rc == 0) rc = fn_status(e->fn, &st);
  if (rc) return fn_code(rc);
  uint8_t t[5] = {0};
  if (st.unsent_documents) shtrih_fn_time_put(st.first_unsent_time, t);
  put_le(a, d.number, 4);
  put_le(a, d.fiscal_sign, 4);
  put_le(a, st.unsent_documents, 4);
  put(a, t, 3); /* YY MM DD */
  return 0;
}

/* Forgets the receipt being built (lines, correction, 1008). */
static void drop_receipt(kkt_emu_t *e)
{
  e->receipt_operation = 0;
  e->line_count = 0;
  e->correction = e->correction_told = false;
  e->buyer_contact[0] = '\0';
  e->cashier[0] = '\0';
}

static uint8_t h_cancel_document(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)r, (void)a;
  e->begun = 0;
  e->bound_km_len = 0;
  drop_receipt(e);
  fn_status_t st;
  int rc = fn_status(e->fn, &st);
  if (rc == 0 && st.receipt_open) rc = fn_receipt_cancel(e->fn);
  return rc ? fn_code(rc) : 0;
}

/* The archive's document number `number` into e->reading. */
static int load_document(kkt_emu_t *e, uint32_t number)
{
  if (!e->reading && !(e->reading = malloc(sizeof *e->reading))) return FN_ERR_NO_MEMORY;
  return fn_document_get(e->fn, number, e->reading);
}

static int put_found_registration(const fn_document_t *doc, emu_answer_t *a);

static uint8_t h_find_document(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  uint32_t number = le32(r->p);
  int rc = load_document(e, number);
  doc_summary_t s;
  if (rc) return fn_code(rc);
  if (doc_summarize(e->reading->data, e->reading->len, &s) != 0) return fn_code(FN_ERR_FAILURE);
  uint8_t t[5];
  put_le(a, s.type & 0xFF, 1);
  put_le(a, e->reading->acknowledged ? 1 : 0, 1);
  shtrih_fn_time_put(s.time, t);
  put(a, t, 5);
  put_le(a, s.number, 4);
  put_le(a, s.has_sign ? doc_fiscal_sign_printed(s.sign) : 0, 4);
  if (s.type == 3 || s.type == 31) { /* a receipt: its 1054 and 1020 */
    put_le(a, s.operation, 1);
    put_le(a, s.total, 5);
  } else if (s.type == 2 || s.type == 5) { /* a shift: its number */
    put_le(a, s.shift_number, 2);
  } else if ((s.type == 1 || s.type == 11) && put_found_registration(e->reading, a) != 0) {
    return fn_code(FN_ERR_FAILURE);
  }
  return 0;
}

static uint8_t h_document_tlv(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  uint32_t number = le32(r->p);
  e->read_at = e->read_end = 0;
  int rc = load_document(e, number);
  if (rc) return fn_code(rc);
  if (e->reading->len < TLV_HEADER_SIZE) return fn_code(FN_ERR_FAILURE);
  const uint8_t *d = e->reading->data;
  put(a, d, TLV_HEADER_SIZE); /* the STLV's tag and length, as stored (LE) */
  e->read_at = TLV_HEADER_SIZE;
  e->read_end = e->reading->len;
  return 0;
}

/* FF3B: the next piece of the document's TLVs (at most what a v1 frame
** holds besides code and error); 08h when all was read. */
static uint8_t h_read_tlv(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)r;
  if (!e->reading || e->read_at >= e->read_end) return fn_code(FN_ERR_NO_DATA);
  size_t n = e->read_end - e->read_at, room = SHTRIH_MAX_MESSAGE - 3;
  if (n > room) n = room;
  put(a, e->reading->data + e->read_at, n);
  e->read_at += n;
  return 0;
}

/* The planned status FF61 was given for km by its latest check (1, a
** piece sold, if none): a code sold and then brought back is checked
** twice, and the return's status is the one that counts. */
static uint8_t planned_of(const kkt_emu_t *e, const char *km)
{
  const size_t n = sizeof e->planned / sizeof e->planned[0];
  for (size_t k = 1; k <= n && k <= e->planned_next; k++) {
    size_t i = (e->planned_next - k) % n;
    if (strcmp(e->planned[i].km, km) == 0) return e->planned[i].planned;
  }
  return 1;
}

/* FF61: the FN checks the code; the answer is its local result. This
** register has no link to the OISM of its own: nothing follows. */
static uint8_t h_km_check(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  shtrih_km_check_t c;
  fn_km_check_t *fc;
  doc_item_t *item;
  /* A length byte cannot exceed DOC_MAX_KM (255). */
  if (shtrih_decode_km_check(r->p, r->len, &c) != 0) return SHTRIH_E_FN_UNKNOWN_COMMAND;
  if (!(fc = malloc(sizeof *fc)) || !(item = calloc(1, sizeof *item))) {
    free(fc);
    return fn_code(FN_ERR_NO_MEMORY);
  }
  item->marked = true;
  memcpy(item->km, c.km, c.km_len);
  item->km_len = c.km_len;
  item->km_status = c.planned_status;
  item->quantity = (doc_quantity_t){1, 0};
  int rc = c.tlv_len && doc_item_extras_get(c.tlv, c.tlv_len, item) != 0 ? FN_ERR_VALUE : 0;
  if (rc == 0) rc = fn_km_check(e->fn, item, fc);
  if (rc == 0) {
    static const uint8_t reason[] = {[FN_TAIL_VALID] = 0,
                                     [FN_TAIL_INVALID] = 0,
                                     [FN_TAIL_NO_KEY] = 2,
                                     [FN_TAIL_KEY_EXPIRED] = 2,
                                     [FN_TAIL_UNCHECKABLE] = 3};
    put_le(a, fc->check_result & 0x03, 1);
    put_le(a,
           fc->tail_status >= 0 && fc->tail_status <= FN_TAIL_UNCHECKABLE ? reason[fc->tail_status]
                                                                          : 4,
           1);
    put_le(a, fc->km_type, 1);
    fn_km_check_t *online = NULL;
    /* A register with its own OISM link asks at once; the FN applies the
    ** answer (83), and the answer says what it added. */
    if (e->o.oism_check && fc->request_len > 0 && (online = malloc(sizeof *online)) &&
        e->o.oism_check(e->o.user, fc, online) == 0) {
      put_le(a, 2, 1);
      put_le(a, 0, 1); /* the FN took the answer */
      put_le(a, online->check_result, 1);
      fc->check_result = online->check_result;
    } else {
      put_le(a, 0, 1);
    }
    free(online);
    memcpy(e->last_km, item->km, item->km_len + 1);
    e->last_km_len = item->km_len;
    e->last_result = fc->check_result;
    size_t k = e->planned_next++ % (sizeof e->planned / sizeof e->planned[0]);
    memcpy(e->planned[k].km, item->km, item->km_len + 1);
    e->planned[k].planned = c.planned_status;
  }
  free(fc);
  free(item);
  return rc ? fn_code(rc) : 0;
}

/* FF69: the decision on the code FF61 checked last. */
static uint8_t h_km_accept(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  if (r->len < 1) return SHTRIH_E_FN_UNKNOWN_COMMAND;
  if (e->last_km_len == 0) return fn_code(FN_ERR_STATE);
  int rc = fn_km_accept(e->fn, e->last_km, e->last_km_len, r->p[0] != 0);
  if (rc) return fn_code(rc);
  e->last_km_len = 0;
  put_le(a, e->last_result, 1);
  return 0;
}

/* FF67: the code of the next line. */
static uint8_t h_km_bind(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  if (r->len < 1 || r->p[0] == 0 || r->len < 1u + r->p[0]) return SHTRIH_E_FN_UNKNOWN_COMMAND;
  memcpy(e->bound_km, r->p + 1, r->p[0]);
  e->bound_km[r->p[0]] = '\0';
  e->bound_km_len = r->p[0];
  put_le(a, 0, 2); /* the code's type as the register reads it: not told here */
  put_le(a, 0, 1);
  return 0;
}

/* FF70: the marking state from the FN. */
static uint8_t h_km_status(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)r;
  fn_status_t st;
  int rc = fn_status(e->fn, &st);
  if (rc) return fn_code(rc);
  put_le(a, st.checked_km ? 2 : 1, 1); /* 1 no code being checked, 2 some kept */
  put_le(a, e->line_count ? 1 : 0, 1);
  put_le(a, st.marking ? 0x05 : 0x00, 1);
  put_le(a, st.checked_km > 255 ? 255 : st.checked_km, 1);
  put_le(a, 0, 1);
  put_le(a, 0, 1); /* the store below half full: the emulator's is large */
  put_le(a, st.unsent_notifications > 0xFFFF ? 0xFFFF : st.unsent_notifications, 2);
  return 0;
}

/* FF46: a line; the first opens the receipt with its operation. */
static uint8_t h_operation(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)a;
  shtrih_operation_t op;
  fn_status_t st;
  int rc = fn_status(e->fn, &st);
  if (rc) return fn_code(rc);
  if (shtrih_decode_operation(r->p, r->len, &op) != 0) return SHTRIH_E_FN_UNKNOWN_COMMAND;
  if (!st.shift_open) return fn_code(FN_ERR_STATE);
  if (op.operation < 1 || op.operation > 4 || shtrih_vat_of_tax(op.tax) == 0 ||
      (e->receipt_operation && op.operation != e->receipt_operation))
    return fn_code(FN_ERR_VALUE);
  if (e->line_count == DOC_MAX_ITEMS) return fn_code(FN_ERR_TLV_SIZE);
  if (!e->lines && !(e->lines = calloc(DOC_MAX_ITEMS, sizeof *e->lines)))
    return fn_code(FN_ERR_NO_MEMORY);
  doc_item_t *it = &e->lines[e->line_count];
  memset(it, 0, sizeof *it);
  snprintf(it->name, sizeof it->name, "%s", op.name);
  it->price = op.price;
  /* Millionths, with the zeros the host did not write taken off again. */
  it->quantity.mantissa = op.quantity_millionths;
  it->quantity.scale = 6;
  while (it->quantity.scale > 0 && it->quantity.mantissa % 10 == 0) {
    it->quantity.mantissa /= 10;
    it->quantity.scale--;
  }
  if (op.total == SHTRIH_SUM_UNSET) { /* the register's: price x quantity, half up */
    uint64_t scaled = op.price * op.quantity_millionths;
    op.total = (scaled + 500000) / 1000000;
  }
  it->total = op.total;
  it->vat = shtrih_vat_of_tax(op.tax);
  it->payment_method = op.payment_method;
  it->subject = op.subject;
  if (e->bound_km_len) { /* FF67 named this line's code */
    it->marked = true;
    memcpy(it->km, e->bound_km, e->bound_km_len + 1);
    it->km_len = e->bound_km_len;
    it->km_status = planned_of(e, e->bound_km);
    e->bound_km_len = 0;
  }
  e->receipt_operation = op.operation;
  e->line_count++;
  return 0;
}

/* A text requisite into out (size bytes with its NUL): 0, or -1. */
static int get_text(const tlv_item_t *x, char *out, size_t size)
{
  size_t n = 0;
  return tlv_get_string(x, out, size, &n) == 0 ? 0 : -1;
}

/* 1260 {1262, 1263, 1264, 1265} into in: 0, or -1 for a malformed one. */
static int read_industry(const tlv_item_t *x, doc_industry_t *in)
{
  tlv_reader_t sub;
  tlv_item_t y;
  int rc = tlv_reader_enter(x, &sub) == 0 ? 0 : -1;
  memset(in, 0, sizeof *in);
  while (rc == 0 && !tlv_reader_done(&sub)) {
    if (tlv_reader_next(&sub, &y) != 0) return -1;
    if (y.tag == 1262) rc = get_text(&y, in->authority, sizeof in->authority);
    if (y.tag == 1263) rc = get_text(&y, in->date, sizeof in->date);
    if (y.tag == 1264) rc = get_text(&y, in->number, sizeof in->number);
    if (y.tag == 1265) rc = get_text(&y, in->value, sizeof in->value);
  }
  return rc == 0 && in->authority[0] && in->date[0] && in->number[0] && in->value[0] ? 0 : -1;
}

/* 1163, the product code: one sub-tag (1300..1325) and its text. */
static int read_product_code(const tlv_item_t *x, doc_item_t *line)
{
  tlv_reader_t sub;
  tlv_item_t y;
  if (tlv_reader_enter(x, &sub) != 0 || tlv_reader_next(&sub, &y) != 0 || y.tag < 1300 ||
      y.tag > 1325 || !tlv_reader_done(&sub) ||
      get_text(&y, line->product_value, sizeof line->product_value) != 0)
    return -1;
  line->product_tag = y.tag;
  return 0;
}

/* FF4D: requisites of the last line: 2108 (the measure), 1260 (industry),
** 1163 (the product code), the agent's 1222/1223/1224/1226, 1291 (the
** part sold); anything else is FN_ERR_VALUE. */
static uint8_t h_operation_tlv(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)a;
  if (e->line_count == 0) return fn_code(FN_ERR_STATE);
  doc_item_t *line = &e->lines[e->line_count - 1];
  tlv_reader_t rd;
  tlv_item_t item;
  uint8_t v;
  tlv_reader_init(&rd, r->p, r->len);
  while (!tlv_reader_done(&rd)) {
    if (tlv_reader_next(&rd, &item) != 0) return fn_code(FN_ERR_VALUE);
    const uint8_t *raw = r->p + item.offset;
    size_t raw_len = TLV_HEADER_SIZE + (size_t)item.length;
    switch (item.tag) {
    case 2108:
      if (tlv_get_byte(&item, &v) != 0) return fn_code(FN_ERR_VALUE);
      line->measure = v;
      break;
    case 1260:
      if (read_industry(&item, &line->industry) != 0) return fn_code(FN_ERR_VALUE);
      line->has_industry = true;
      break;
    case 1163:
      if (read_product_code(&item, line) != 0) return fn_code(FN_ERR_VALUE);
      break;
    case 1222:
    case 1223:
    case 1224:
    case 1226:
    case 1291:
      if (doc_item_extras_get(raw, raw_len, line) != 0) return fn_code(FN_ERR_VALUE);
      break;
    default:
      return fn_code(FN_ERR_VALUE);
    }
  }
  return 0;
}

/* FF35: the next receipt is a correction (before its first line). */
static uint8_t h_begin_correction(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)r, (void)a;
  fn_status_t st;
  int rc = fn_status(e->fn, &st);
  if (rc) return fn_code(rc);
  if (!st.shift_open || e->receipt_operation || st.receipt_open) return fn_code(FN_ERR_STATE);
  e->correction = true;
  e->correction_told = false;
  memset(&e->correction_data, 0, sizeof e->correction_data);
  return 0;
}

/* FF0C: requisites of the document being built: the cashier 1021 for a
** shift document begun (FF41/FF42) or a receipt, the buyer's contact
** 1008 on any receipt, a correction's 1173 and 1174 {1178, 1179};
** anything else is FN_ERR_VALUE. All of the request is taken, or none. */
static uint8_t h_send_tlv(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)a;
  bool receipt = e->receipt_operation || e->correction;
  bool shift = e->begun == SHTRIH_CMD_FN_OPEN_SHIFT || e->begun == SHTRIH_CMD_FN_CLOSE_SHIFT;
  if (!receipt && !shift) return fn_code(FN_ERR_STATE);
  fn_correction_t c = e->correction_data;
  char contact[sizeof e->buyer_contact], cashier[sizeof e->cashier];
  bool told = e->correction_told;
  tlv_reader_t rd, sub;
  tlv_item_t x, y;
  memcpy(contact, e->buyer_contact, sizeof contact);
  memcpy(cashier, e->cashier, sizeof cashier);
  tlv_reader_init(&rd, r->p, r->len);
  while (!tlv_reader_done(&rd)) {
    if (tlv_reader_next(&rd, &x) != 0) return fn_code(FN_ERR_VALUE);
    if (x.tag == 1021) {
      if (get_text(&x, cashier, sizeof cashier) != 0 || !cashier[0]) return fn_code(FN_ERR_VALUE);
      continue;
    }
    if (!receipt) return fn_code(FN_ERR_VALUE);
    if (x.tag == 1008) {
      if (get_text(&x, contact, sizeof contact) != 0 || !contact[0]) return fn_code(FN_ERR_VALUE);
      continue;
    }
    if (!e->correction) return fn_code(FN_ERR_VALUE);
    if (x.tag == 1173 && tlv_get_byte(&x, &c.type) == 0) continue;
    if (x.tag != 1174 || tlv_reader_enter(&x, &sub) != 0) return fn_code(FN_ERR_VALUE);
    while (!tlv_reader_done(&sub)) {
      if (tlv_reader_next(&sub, &y) != 0) return fn_code(FN_ERR_VALUE);
      int bad = y.tag == 1178   ? tlv_get_unixtime(&y, &c.date)
                : y.tag == 1179 ? get_text(&y, c.order_number, sizeof c.order_number)
                                : -1;
      if (bad) return fn_code(FN_ERR_VALUE);
    }
    told = true;
  }
  e->correction_data = c;
  e->correction_told = told;
  memcpy(e->buyer_contact, contact, sizeof contact);
  memcpy(e->cashier, cashier, sizeof cashier);
  return 0;
}

/* FF45: the receipt to the FN in one go: begin, every line, close. */
static uint8_t h_close_receipt(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  shtrih_close_t c;
  fn_doc_result_t d;
  if (shtrih_decode_close(r->p, r->len, &c) != 0) return SHTRIH_E_FN_UNKNOWN_COMMAND;
  if (!e->receipt_operation || (e->correction && !e->correction_told)) return fn_code(FN_ERR_STATE);
  /* Sums 1 (1031), 2 (1081), 14 (1215), 15 (1216), 16 (1217); the
  ** register's own payment types 3..13 have no FFD form here. */
  for (size_t i = 2; i < 13; i++)
    if (c.payments[i]) return fn_code(FN_ERR_VALUE);
  uint64_t due = 0,
           paid = c.payments[0] + c.payments[1] + c.payments[13] + c.payments[14] + c.payments[15];
  for (size_t i = 0; i < e->line_count; i++) due += e->lines[i].total;
  if (paid < due) return SHTRIH_E_PAYMENT_SHORT;
  uint64_t change = paid - due, cash = c.payments[0] - (change <= c.payments[0] ? change : 0);
  if (change > c.payments[0]) return fn_code(FN_ERR_VALUE); /* change only from cash */
  fn_receipt_order_t order = {.operation = e->receipt_operation,
                              .tax_system = c.tax_system,
                              .cashier = e->cashier[0] ? e->cashier : NULL,
                              .items = e->lines,
                              .count = e->line_count,
                              .pay = {.cash = cash,
                                      .cashless = c.payments[1],
                                      .prepaid = c.payments[13],
                                      .credit = c.payments[14],
                                      .other = c.payments[15]},
                              .correction = e->correction ? &e->correction_data : NULL};
  memcpy(order.pay.buyer_contact, e->buyer_contact, sizeof order.pay.buyer_contact);
  int rc = fn_receipt_make(e->fn, &order, &d);
  if (rc) return fn_code(rc); /* the receipt stays open in the register: FF08 drops it */
  drop_receipt(e);
  put_le(a, change, 5);
  put_le(a, d.number, 4);
  put_le(a, d.fiscal_sign, 4);
  return 0;
}

/* ---- Registration: tables 17/18, FF05h, FF06h, FF34h -------------------- */

/*
** The table cells kassa-kkt-emu keeps (docs/HARDWARE.md, shtrih_cmd.h):
** table 18 row 1's texts and flags and table 17's FFD version. Fields 1-4
** (serial, INN, registration number, FN number) are read-only and read
** from the FN. A cell not here is refused with 33h. The cells survive a
** restart in options.tables_path (kassa-kkt-emu: the FN file's name and
** ".tables"), as a register keeps its tables.
*/
typedef struct emu_cell {
  uint8_t table, field, width;
  bool text, writable;
} emu_cell_t;

static const emu_cell_t emu_cells[] = {
    {SHTRIH_TABLE_FN, SHTRIH_FIELD_SERIAL, 21, true, false},
    {SHTRIH_TABLE_FN, 2, 17, true, false},
    {SHTRIH_TABLE_FN, 3, 21, true, false},
    {SHTRIH_TABLE_FN, 4, 17, true, false},
    {SHTRIH_TABLE_FN, SHTRIH_FIELD_USER, SHTRIH_TEXT_FIELD, true, true},
    {SHTRIH_TABLE_FN, SHTRIH_FIELD_CASHIER, 64, true, true},
    {SHTRIH_TABLE_FN, SHTRIH_FIELD_ADDRESS, SHTRIH_TEXT_FIELD, true, true},
    {SHTRIH_TABLE_FN, SHTRIH_FIELD_OFD_NAME, SHTRIH_TEXT_FIELD, true, true},
    {SHTRIH_TABLE_FN, SHTRIH_FIELD_OFD_INN, 17, true, true},
    {SHTRIH_TABLE_FN, SHTRIH_FIELD_PLACE, SHTRIH_TEXT_FIELD, true, true},
    {SHTRIH_TABLE_FN, SHTRIH_FIELD_USER_MORE, SHTRIH_TEXT_FIELD, true, true},
    {SHTRIH_TABLE_FN, SHTRIH_FIELD_ADDRESS_MORE, SHTRIH_TEXT_FIELD, true, true},
    {SHTRIH_TABLE_FN, SHTRIH_FIELD_OFD_NAME_MORE, SHTRIH_TEXT_FIELD, true, true},
    {SHTRIH_TABLE_FN, SHTRIH_FIELD_EXT_MODES, 1, false, true},
    {SHTRIH_TABLE_FN, SHTRIH_FIELD_REASONS, 4, false, true},
    {SHTRIH_TABLE_SETUP, SHTRIH_FIELD_FFD, 1, false, true},
};

/* The index of table.field in emu_cells, -1 when the register has none. */
static int cell_index(uint8_t table, uint8_t field)
{
  for (size_t i = 0; i < sizeof emu_cells / sizeof emu_cells[0]; i++)
    if (emu_cells[i].table == table && emu_cells[i].field == field) return (int)i;
  return -1;
}

/* A number cell's value (0 never written). */
static uint32_t cell_number(const kkt_emu_t *e, uint8_t table, uint8_t field)
{
  int k = cell_index(table, field);
  uint32_t v = 0;
  for (size_t i = 0; k >= 0 && i < e->cell_len[k]; i++) v |= (uint32_t)e->cell[k][i] << (8 * i);
  return v;
}

/* A text kept in field and (0: none) more, as UTF-8, trailing spaces off. */
static void cell_text(const kkt_emu_t *e, uint8_t field, uint8_t more, char *out, size_t size)
{
  uint8_t raw[2 * SHTRIH_TEXT_FIELD];
  size_t n = 0;
  for (int pass = 0; pass < 2; pass++) {
    int k = cell_index(SHTRIH_TABLE_FN, pass ? more : field);
    if ((pass && !more) || k < 0) continue;
    memcpy(raw + n, e->cell[k], e->cell_len[k]);
    n += e->cell_len[k];
  }
  shtrih_cp1251_to_utf8(raw, n, out, size);
  for (size_t k = strlen(out); k > 0 && out[k - 1] == ' ';) out[--k] = '\0';
}

/* The tables file: each cell's length byte, then its SHTRIH_TEXT_FIELD bytes. */
#define TABLES_FILE_SIZE (sizeof(((kkt_emu_t *)0)->cell_len) + sizeof(((kkt_emu_t *)0)->cell))

/* Reads the cells from options.tables_path; a file that is missing or not
** of the layout's size leaves them empty. */
static void tables_load(kkt_emu_t *e)
{
  uint8_t buf[TABLES_FILE_SIZE];
  FILE *f = e->o.tables_path ? fopen(e->o.tables_path, "rb") : NULL;
  size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
  bool whole = f && n == sizeof buf && fgetc(f) == EOF;
  if (f) fclose(f);
  if (!whole) return;
  memcpy(e->cell_len, buf, sizeof e->cell_len);
  memcpy(e->cell, buf + sizeof e->cell_len, sizeof e->cell);
  for (size_t k = 0; k < sizeof e->cell_len; k++)
    if (e->cell_len[k] > SHTRIH_TEXT_FIELD) e->cell_len[k] = 0;
}

/* Writes the cells to options.tables_path whole: a temporary file, synced,
** renamed over it. 0, or -1 (the old file stays). */
static int tables_save(const kkt_emu_t *e)
{
  char tmp[4096];
  if (!e->o.tables_path) return 0;
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", e->o.tables_path) >= sizeof tmp) return -1;
  FILE *f = fopen(tmp, "wb");
  int rc = f && fwrite(e->cell_len, sizeof e->cell_len, 1, f) == 1 &&
                   fwrite(e->cell, sizeof e->cell, 1, f) == 1 && fflush(f) == 0 &&
                   fsync(fileno(f)) == 0
               ? 0
               : -1;
  if (f && fclose(f) != 0) rc = -1;
  if (rc == 0 && rename(tmp, e->o.tables_path) != 0) rc = -1;
  if (rc) unlink(tmp);
  return rc;
}

/* 1Eh: a writable cell takes a text up to its width (a NUL ends it) or a
** number of exactly its width; anything else is 33h, nothing kept. A
** table that cannot be kept is the register's failure (03h), the old
** value stays. */
static uint8_t h_write_table(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)a;
  shtrih_table_cell_t c;
  if (shtrih_decode_table_cell(r->p, r->len, &c) != 0) return SHTRIH_E_BAD_PARAMS;
  int k = cell_index(c.table, c.field);
  if (k < 0 || c.row != 1 || !emu_cells[k].writable) return SHTRIH_E_BAD_PARAMS;
  const uint8_t *nul = emu_cells[k].text ? memchr(c.value, 0, c.len) : NULL;
  size_t n = nul ? (size_t)(nul - c.value) : c.len;
  if (emu_cells[k].text ? n > emu_cells[k].width : n != emu_cells[k].width)
    return SHTRIH_E_BAD_PARAMS;
  uint8_t old[SHTRIH_TEXT_FIELD], old_len = e->cell_len[k];
  memcpy(old, e->cell[k], sizeof old);
  memcpy(e->cell[k], c.value, n);
  e->cell_len[k] = (uint8_t)n;
  if (tables_save(e) == 0) return 0;
  memcpy(e->cell[k], old, sizeof old);
  e->cell_len[k] = old_len;
  return fn_code(FN_ERR_IO);
}

/* 1Fh: a cell's value (fields 1-4 from the FN and the register). */
static uint8_t h_read_table(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  shtrih_table_cell_t c;
  fn_status_t st;
  if (shtrih_decode_table_cell(r->p, r->len, &c) != 0 || c.len) return SHTRIH_E_BAD_PARAMS;
  int k = cell_index(c.table, c.field);
  if (k < 0 || c.row != 1) return SHTRIH_E_BAD_PARAMS;
  if (emu_cells[k].writable) {
    if (emu_cells[k].text)
      put(a, e->cell[k], e->cell_len[k]);
    else
      put_le(a, cell_number(e, c.table, c.field), emu_cells[k].width);
    return 0;
  }
  int rc = fn_status(e->fn, &st);
  if (rc) return fn_code(rc);
  const char *v = c.field == SHTRIH_FIELD_SERIAL ? EMU_SERIAL
                  : c.field == 2                 ? st.user_inn
                  : c.field == 3                 ? st.kkt_reg_number
                                                 : st.fn_number;
  put(a, v, strlen(v));
  return 0;
}

/* FF05h: begins a registration report of the type asked (0, 1, 2: else
** the FN's 01h, as a register answered fr_drv_ng issue 175's type 4), in
** the phase it needs, between shifts, with table 17 set to FFD 1.2 (else
** 33h, as a register answered issue 292's wrong FFD code). */
static uint8_t h_begin_registration(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)a;
  fn_status_t st;
  uint8_t type = r->p[0];
  if (type > SHTRIH_REG_CHANGE) return SHTRIH_E_FN_UNKNOWN_COMMAND;
  if (cell_number(e, SHTRIH_TABLE_SETUP, SHTRIH_FIELD_FFD) != 4) return SHTRIH_E_BAD_PARAMS;
  int rc = fn_status(e->fn, &st);
  if (rc) return fn_code(rc);
  fn_phase_t want = type == SHTRIH_REG_CHANGE ? FN_PHASE_FISCAL : FN_PHASE_READY;
  if (st.phase != want || st.shift_open || st.receipt_open || e->receipt_operation)
    return fn_code(FN_ERR_STATE);
  e->begun = SHTRIH_CMD_FN_BEGIN_REGISTRATION;
  e->reg_type = type;
  e->cashier[0] = '\0';
  return 0;
}

/*
** FF06h / FF34h: the report begun, made by the FN from the request's INN,
** registration number, 1062 and work mode and the tables' texts. A tax
** mask of 0 or past 63 is 33h (javapos_shtrih issue 37: "51, Некорректные
** параметры в команде" for 0); a work mode this register's documents
** cannot carry (anything but autonomous) and a reason byte outside 1..4
** (fr_drv_ng issue 160: 40h answered 36h) are 36h. The FN's refusals
** (no OFD INN for an online KKT: 09h) keep their bytes.
*/
static uint8_t h_registration(kkt_emu_t *e, const request_t *r, emu_answer_t *a, bool re)
{
  shtrih_registration_t g;
  fn_doc_result_t d;
  if (shtrih_decode_registration(r->p, r->len, re, &g) != 0) return SHTRIH_E_FN_UNKNOWN_COMMAND;
  if (e->begun != SHTRIH_CMD_FN_BEGIN_REGISTRATION || (e->reg_type == SHTRIH_REG_REPORT) == re)
    return fn_code(FN_ERR_STATE);
  if (g.tax_systems == 0 || g.tax_systems > 63) return SHTRIH_E_BAD_PARAMS;
  if ((g.work_mode & ~SHTRIH_WORK_MODE_AUTONOMOUS) || (re && (g.reason < 1 || g.reason > 4)))
    return SHTRIH_E_MODEL_PARAMS;
  fn_registration_t *reg = calloc(1, sizeof *reg);
  if (!reg) return fn_code(FN_ERR_NO_MEMORY);
  doc_header_t *h = &reg->header;
  snprintf(h->kkt_reg_number, sizeof h->kkt_reg_number, "%s", g.rnm);
  snprintf(h->user_inn, sizeof h->user_inn, "%s", g.inn);
  cell_text(e, SHTRIH_FIELD_USER, SHTRIH_FIELD_USER_MORE, h->user_name, sizeof h->user_name);
  cell_text(e, SHTRIH_FIELD_ADDRESS, SHTRIH_FIELD_ADDRESS_MORE, h->address, sizeof h->address);
  cell_text(e, SHTRIH_FIELD_PLACE, 0, h->place, sizeof h->place);
  cell_text(e, SHTRIH_FIELD_CASHIER, 0, h->cashier, sizeof h->cashier);
  h->autonomous = (g.work_mode & SHTRIH_WORK_MODE_AUTONOMOUS) != 0;
  reg->reg.tax_systems = g.tax_systems;
  cell_text(e, SHTRIH_FIELD_OFD_INN, 0, reg->reg.ofd_inn, sizeof reg->reg.ofd_inn);
  cell_text(e, SHTRIH_FIELD_OFD_NAME, SHTRIH_FIELD_OFD_NAME_MORE, reg->reg.ofd_name,
            sizeof reg->reg.ofd_name);
  snprintf(reg->reg.kkt_serial, sizeof reg->reg.kkt_serial, "%s", EMU_SERIAL);
  reg->reg.marking =
      (cell_number(e, SHTRIH_TABLE_FN, SHTRIH_FIELD_EXT_MODES) & SHTRIH_EXT_MODE_MARKING) != 0;
  reg->reg.ffd_version = 4;
  reg->reg.reason_mask = re ? cell_number(e, SHTRIH_TABLE_FN, SHTRIH_FIELD_REASONS) : 0;
  e->begun = 0;
  int rc = fn_register(e->fn, reg, re, &d);
  free(reg);
  if (rc) return fn_code(rc);
  e->reg_document = d.number;
  put_le(a, d.number, 4);
  put_le(a, d.fiscal_sign, 4);
  return 0;
}
static uint8_t h_register(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  return h_registration(e, r, a, false);
}
static uint8_t h_reregister(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  return h_registration(e, r, a, true);
}

/*
** FF09h: the last registration's data, in the long layout an FFD 1.2
** register answers (shtrih_cmd.h): the FN's last 1 or 11, found once by
** reading the archive back from its end. 08h before any (a fresh FN).
*/
static uint8_t h_registration_data(kkt_emu_t *e, const request_t *r, emu_answer_t *a)
{
  (void)r;
  fn_status_t st = {0};
  doc_summary_t sum = {0};
  fn_document_t *doc = malloc(sizeof *doc);
  doc_header_t *h = malloc(sizeof *h);
  doc_registration_t *reg = malloc(sizeof *reg);
  int rc = doc && h && reg ? fn_status(e->fn, &st) : FN_ERR_NO_MEMORY;
  for (uint32_t n = st.last_document; rc == 0 && !e->reg_document && n >= 1; n--) {
    if ((rc = fn_document_get(e->fn, n, doc)) == 0 &&
        (doc->type == DOC_REGISTRATION || doc->type == DOC_REREGISTRATION))
      e->reg_document = n;
  }
  if (rc == 0 && !e->reg_document) rc = FN_ERR_NO_DATA;
  if (rc == 0) rc = fn_document_get(e->fn, e->reg_document, doc);
  if (rc == 0 && (doc_summarize(doc->data, doc->len, &sum) != 0 ||
                  doc_parse_registration(doc->data, doc->len, h, reg) != 0))
    rc = FN_ERR_FAILURE;
  if (rc == 0) {
    uint8_t t[5];
    char field[21];
    shtrih_fn_time_put(sum.time, t);
    put(a, t, 5);
    snprintf(field, sizeof field, "%-12s", h->user_inn);
    put(a, field, 12);
    snprintf(field, sizeof field, "%-20s", h->kkt_reg_number);
    put(a, field, 20);
    put_le(a, reg->tax_systems, 1);
    put_le(a, h->autonomous ? SHTRIH_WORK_MODE_AUTONOMOUS : 0, 1);
    put_le(a, reg->marking ? SHTRIH_EXT_MODE_MARKING : 0, 1);
    snprintf(field, sizeof field, "%-12s", reg->ofd_inn);
    put(a, field, 12);
    put_le(a, reg->reason_mask, 4);
    put_le(a, sum.number, 4);
    put_le(a, sum.has_sign ? doc_fiscal_sign_printed(sum.sign) : 0, 4);
  }
  free(doc);
  free(h);
  free(reg);
  return rc ? fn_code(rc) : 0;
}

/* FF0Ah's data for a registration (1) or re-registration (11): INN,
** registration number (space-padded, as the vendor's recorded answer),
** 1062, the work mode. */
static int put_found_registration(const fn_document_t *doc, emu_answer_t *a)
{
  doc_header_t *h = malloc(sizeof *h);
  doc_registration_t *reg = malloc(sizeof *reg);
  int rc = h && reg && doc_parse_registration(doc->data, doc->len, h, reg) == 0 ? 0 : -1;
  if (rc == 0) {
    char field[21];
    snprintf(field, sizeof field, "%-12s", h->user_inn);
    put(a, field, 12);
    snprintf(field, sizeof field, "%-20s", h->kkt_reg_number);
    put(a, field, 20);
    put_le(a, reg->tax_systems, 1);
    put_le(a, h->autonomous ? SHTRIH_WORK_MODE_AUTONOMOUS : 0, 1);
  }
  free(h);
  free(reg);
  return rc;
}

typedef struct command {
  uint16_t code;
  bool password;     /* the request starts with the password */
  size_t min_params; /* bytes after code and password */
  handler_t run;
} command_t;

static const command_t commands[] = {
    {SHTRIH_CMD_SHORT_STATUS, true, 0, h_short_status},
    {SHTRIH_CMD_WRITE_TABLE, true, 4, h_write_table},
    {SHTRIH_CMD_READ_TABLE, true, 4, h_read_table},
    {SHTRIH_CMD_FN_BEGIN_REGISTRATION, true, 1, h_begin_registration},
    {SHTRIH_CMD_FN_REGISTER, true, 0, h_register},
    {SHTRIH_CMD_FN_REREGISTER, true, 0, h_reregister},
    {SHTRIH_CMD_FN_REGISTRATION, true, 0, h_registration_data},
    {SHTRIH_CMD_DEVICE_TYPE, false, 0, h_device_type},
    {SHTRIH_CMD_FN_STATUS, true, 0, h_fn_status},
    {SHTRIH_CMD_FN_NUMBER, true, 0, h_fn_number},
    {SHTRIH_CMD_FN_CANCEL_DOCUMENT, true, 0, h_cancel_document},
    {SHTRIH_CMD_FN_FIND_DOCUMENT, true, 4, h_find_document},
    {SHTRIH_CMD_FN_OPEN_SHIFT, true, 0, h_open_shift},
    {SHTRIH_CMD_FN_SEND_TLV, true, 1, h_send_tlv},
    {SHTRIH_CMD_FN_BEGIN_CORRECTION, true, 0, h_begin_correction},
    {SHTRIH_CMD_FN_BEGIN_STATE_REPORT, true, 0, h_begin_report},
    {SHTRIH_CMD_FN_STATE_REPORT, true, 0, h_state_report},
    {SHTRIH_CMD_FN_EXCHANGE_STATUS, true, 0, h_exchange_status},
    {SHTRIH_CMD_FN_BEGIN_CLOSE_FN, true, 0, h_begin_close_fn},
    {SHTRIH_CMD_FN_CLOSE_FN, true, 0, h_close_fn},
    {SHTRIH_CMD_FN_DOCUMENT_TLV, true, 4, h_document_tlv},
    {SHTRIH_CMD_FN_READ_TLV, true, 0, h_read_tlv},
    {SHTRIH_CMD_FN_UNSENT_COUNT, true, 0, h_unsent_count},
    {SHTRIH_CMD_FN_SHIFT_PARAMS, true, 0, h_shift_params},
    {SHTRIH_CMD_FN_BEGIN_OPEN_SHIFT, true, 0, h_begin_open},
    {SHTRIH_CMD_FN_BEGIN_CLOSE_SHIFT, true, 0, h_begin_close},
    {SHTRIH_CMD_FN_CLOSE_SHIFT, true, 0, h_close_shift},
    {SHTRIH_CMD_FN_CLOSE_RECEIPT, true, 0, h_close_receipt},
    {SHTRIH_CMD_FN_OPERATION, true, 0, h_operation},
    {SHTRIH_CMD_FN_OPERATION_TLV, true, 0, h_operation_tlv},
    {SHTRIH_CMD_FN_KM_CHECK, true, 4, h_km_check},
    {SHTRIH_CMD_FN_KM_BIND, true, 1, h_km_bind},
    {SHTRIH_CMD_FN_KM_ACCEPT, true, 1, h_km_accept},
    {SHTRIH_CMD_FN_KM_STATUS, true, 0, h_km_status},
};

int kkt_emu_execute(kkt_emu_t *e, const uint8_t *message, size_t len, uint8_t *answer,
                    size_t answer_size)
{
  if (!e || !message || !answer || answer_size < SHTRIH_MAX_MESSAGE || len == 0) return -1;
  bool two = message[0] == 0xFF;
  size_t code_len = two ? 2 : 1;
  emu_answer_t a = {answer, 0};
  /* A lone FF is an FF command without its code: the FN does not know it. */
  uint16_t code = two ? (uint16_t)(0xFF00 | (len > 1 ? message[1] : 0)) : message[0];
  put(&a, message, code_len < len ? code_len : len);
  if (a.len < code_len) put_le(&a, 0, 1);
  uint8_t unknown = two ? SHTRIH_E_FN_UNKNOWN_COMMAND : SHTRIH_E_NOT_SUPPORTED;
  uint8_t short_request = two ? SHTRIH_E_FN_UNKNOWN_COMMAND : SHTRIH_E_BAD_PARAMS;
  e->executed++;
  const command_t *c = NULL;
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (commands[i].code == code) c = &commands[i];
  uint8_t err;
  size_t head = code_len + (c && c->password ? 4 : 0);
  if (!c || len < code_len) {
    err = unknown;
  } else if (len < head + c->min_params) {
    err = short_request;
  } else if (c->password && le32(message + code_len) != e->o.password) {
    err = SHTRIH_E_PASSWORD;
  } else {
    request_t r = {message + head, len - head};
    size_t at = a.len;
    put_le(&a, 0, 1);
    err = c->run(e, &r, &a);
    if (err == 0) return (int)a.len;
    a.len = at; /* an error answer is the code and the error only */
  }
  put_le(&a, err, 1);
  return (int)a.len;
}

/* ---- The exchange -------------------------------------------------------- */

/* write(), as send(MSG_NOSIGNAL) on a socket: a peer that hung up is an
** error to report (EPIPE), not a signal that ends the process. */
static ssize_t send_or_write(int fd, const void *p, size_t n)
{
  ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
  if (w < 0 && errno == ENOTSOCK) w = write(fd, p, n);
  return w;
}

static int write_bytes(kkt_emu_t *e, int fd, const uint8_t *p, size_t n)
{
  size_t step = e->o.split_writes ? 1 : n;
  while (n > 0) {
    size_t k = step < n ? step : n;
    ssize_t w = send_or_write(fd, p, k);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
    if (e->o.split_writes) nanosleep(&(struct timespec){0, 1000000}, NULL);
  }
  return 0;
}

static int send_control(kkt_emu_t *e, int fd, uint8_t b)
{
  uint8_t two[2] = {0xFF, b};
  return e->o.stray_byte ? write_bytes(e, fd, two, 2) : write_bytes(e, fd, &b, 1);
}

/* One byte within ms (-1: forever): 1, 0 timeout, -1 EOF or error. */
static int read_byte(int fd, int ms, uint8_t *b)
{
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, ms);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n;
    ssize_t r = read(fd, b, 1);
    if (r < 0 && errno == EINTR) continue;
    return r == 1 ? 1 : -1;
  }
}

/* Sends the kept answer (garbled when the fault says so) and waits for
** the host's ACK, which clears it. 0, or -1 on I/O. */
static int send_answer(kkt_emu_t *e, int fd, bool garble)
{
  uint8_t frame[SHTRIH_V1_MAX_FRAME], noise[16];
  int n = shtrih_v1_encode(e->pending, e->pending_len, frame, sizeof frame);
  if (n < 0) return -1;
  if (garble) frame[n - 1] ^= 0x5A;
  for (uint32_t i = 0; i < e->o.noise_before_answer; i++) {
    memset(noise, 0xA5, sizeof noise);
    if (write_bytes(e, fd, noise, 1) < 0) return -1;
  }
  if (write_bytes(e, fd, frame, (size_t)n) < 0) return -1;
  uint8_t b;
  int rc = read_byte(fd, e->o.ack_ms, &b);
  if (rc < 0) return -1;
  if (rc == 1 && b == SHTRIH_ACK) e->pending_len = 0;
  /* NAK, silence or anything else: the answer stays for ENQ. An STX here
  ** would be the host's next command: it did not wait for our answer's
  ** acknowledgement, which no host does; the byte is dropped as noise. */
  return 0;
}

int kkt_emu_serve_fd(kkt_emu_t *e, int fd)
{
  shtrih_rx_t rx;
  shtrih_rx_reset(&rx);
  if (!e || fd < 0) return -1;
  for (;;) {
    uint8_t b;
    bool in_frame = shtrih_rx_in_frame(&rx);
    if (!in_frame) kkt_emu_idle(e); /* between commands: the register's own work */
    int rc = read_byte(fd, in_frame ? e->o.byte_ms : (e->o.idle ? e->o.idle_ms : -1), &b);
    if (rc < 0) return 0; /* the host closed the connection */
    if (rc == 0 && !in_frame) continue;
    if (rc == 0) { /* a frame stopped halfway: dropped */
      shtrih_rx_reset(&rx);
      continue;
    }
    switch (shtrih_rx_feed(&rx, b)) {
    case SHTRIH_RX_CONTROL:
      if (rx.control != SHTRIH_ENQ) break; /* a stray ACK/NAK: nothing to do */
      if (e->pending_len == 0) {
        if (send_control(e, fd, SHTRIH_NAK) < 0) return -1;
      } else if (send_control(e, fd, SHTRIH_ACK) < 0 || send_answer(e, fd, false) < 0) {
        return -1;
      }
      break;
    case SHTRIH_RX_BAD_LRC:
      if (send_control(e, fd, SHTRIH_NAK) < 0) return -1;
      break;
    case SHTRIH_RX_FRAME: {
      uint32_t nth = e->executed + 1;
      if (nth != e->o.drop_ack_of && send_control(e, fd, SHTRIH_ACK) < 0) return -1;
      int n = kkt_emu_execute(e, rx.message, rx.len, e->pending, sizeof e->pending);
      if (n < 0) return -1;
      e->pending_len = (size_t)n;
      if (nth == e->o.drop_ack_of) break; /* the host asks with ENQ */
      if (send_answer(e, fd, nth == e->o.garble_answer_of) < 0) return -1;
      break;
    }
    default:
      break;
    }
  }
}

void kkt_emu_idle(kkt_emu_t *emu)
{
  if (!emu || !emu->o.idle) return;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  /* At most once an idle_ms, however busy the host keeps the line. */
  if (emu->last_idle_ms && now - emu->last_idle_ms < emu->o.idle_ms) return;
  emu->last_idle_ms = now;
  emu->o.idle(emu->o.user);
}

int kkt_emu_new(fn_t *fn, const kkt_emu_options_t *options, kkt_emu_t **out)
{
  if (!out) return -1;
  *out = NULL;
  if (!fn) return -1;
  kkt_emu_t *e = calloc(1, sizeof *e);
  if (!e) return -1;
  e->fn = fn;
  if (options) e->o = *options;
  if (!e->o.password) e->o.password = SHTRIH_DEFAULT_PASSWORD;
  tables_load(e);
  /* A receipt the FN holds open was being handed over by FF45h when the
  ** register went down; its lines were in the register's memory, which a
  ** restart loses, as a register's power-on drops its open receipt. */
  fn_status_t st;
  if (fn_status(fn, &st) == 0 && st.receipt_open) (void)fn_receipt_cancel(fn);
  if (e->o.byte_ms <= 0) e->o.byte_ms = 1000;
  if (e->o.ack_ms <= 0) e->o.ack_ms = 1000;
  if (e->o.idle_ms <= 0) e->o.idle_ms = 1000;
  *out = e;
  return 0;
}

uint32_t kkt_emu_executed(const kkt_emu_t *emu) { return emu ? emu->executed : 0; }

void kkt_emu_free(kkt_emu_t *emu)
{
  if (!emu) return;
  free(emu->reading);
  free(emu->lines);
  free(emu);
}
