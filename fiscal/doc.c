/*
** fiscal/doc.c: FFD 1.2 documents, built and read back.
**
** The fiscal storage decides when a document exists and what number, time
** and sign it gets; this file decides what it looks like. Each builder
** writes one document STLV (its tag is the form code) with the requisites
** a real FFD 1.2 document of that form carries, always in the same order,
** so two builds of the same data are the same bytes and the fiscal sign
** over them can be recomputed. The order is the one of the format's own
** tables: the header (number, time, FN, KKT, user, place, cashier, shift,
** format version), then what the form is about, then totals and flags.
**
** Builders write through the TLV writer into the caller's buffer and never
** allocate, so a receipt can be closed on a till that is out of memory.
** Every limit the law sets is the writer's to enforce (32 KiB for a
** receipt, 1 KiB for an item, 256 bytes for a marking code); the builder
** adds only the limit on the sealed document: a document plus its fiscal
** sign must fit DOC_MAX_DOCUMENT, because that is what the FN stores and
** the OFD frame carries. On any error the builder wipes what it wrote and
** sets *len to 0, so a half-built document can never be taken for one.
**
** Documents from outside (the operator's acknowledgement 7, the OISM
** answer 83, the notification ticket 84) are read with the TLV reader,
** which never trusts a length; the parsers also refuse a document of the
** wrong form, a requisite given twice, or one the form requires missing,
** and write their output only on success.
**
** doc_to_json() is the one function here that allocates (jansson): it is
** for people and tools (`kassa fd show N --json`), not for the sale path.
*/
#include "fiscal/doc.h"

#include <inttypes.h>
#include <stddef.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/codec.h"
#include "common/errtab.h"

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */

/* The document layer's own codes; anything else is a TLV code. */
static const errtab_t error_texts[] = {
    {DOC_ERR_TOTAL, "total_mismatch", NULL, "the payments do not add up to the sum of the items"},
    {DOC_ERR_WRONG_FORM, "wrong_form", NULL, "the document is not of the form expected"},
    {DOC_ERR_MISSING, "missing_requisite", NULL, "a requisite the form requires is missing"},
    {DOC_ERR_DUPLICATE, "duplicate_requisite", NULL,
     "a requisite that may appear once appears twice"},
    {DOC_ERR_NO_MEMORY, "no_memory", NULL, "out of memory"},
    ERRTAB_END(NULL, "unknown error"),
};

const char *doc_error_code(int error)
{
  const errtab_t *row = errtab_find(error_texts, error);
  return row->name ? row->name : tlv_error_code(error);
}

const char *doc_error_message(int error)
{
  const errtab_t *row = errtab_find(error_texts, error);
  return row->name ? row->en : tlv_error_message(error);
}

/* ---------------------------------------------------------------------- */
/* Writing helpers                                                         */

/* Evaluates a put; on error jumps to the function's one cleanup path. */
#define TRY(call)                                                                                  \
  do {                                                                                             \
    rc = (call);                                                                                   \
    if (rc != 0) goto fail;                                                                        \
  } while (0)

/*
** Text from a fixed-size field of a caller struct. The field must hold its
** NUL: a string that fills the array was cut somewhere, and a cut name on
** a fiscal document is worse than a refusal.
*/
static int put_text(tlv_writer_t *w, uint16_t tag, const char *text, size_t size)
{
  size_t length = strnlen(text, size);
  if (length == size) {
    w->fault_tag = tag;
    return TLV_ERR_ARGUMENT;
  }
  return tlv_put_string(w, tag, text, length);
}
#define PUT_TEXT(w, tag, field) put_text((w), (tag), (field), sizeof(field))

/* The same, skipped when empty (an optional requisite). */
static int put_text_optional(tlv_writer_t *w, uint16_t tag, const char *text, size_t size)
{
  if (text[0] == '\0') return 0;
  return put_text(w, tag, text, size);
}
#define PUT_TEXT_OPTIONAL(w, tag, field) put_text_optional((w), (tag), (field), sizeof(field))

/* A flag requisite (1050-1053): written only when set, as real FNs do. */
static int put_flag(tlv_writer_t *w, uint16_t tag, bool set)
{
  return set ? tlv_put_byte(w, tag, 1) : 0;
}

/*
** The prologue every builder shares. len must be given and is 0 from here
** on; buf and the builder's input must be given (inputs_given: the
** builder's own pointers are not NULL). Then the writer starts on buf: it
** may use buf[0..cap) but never more than a document may take before its
** seal is added. Returns 0, or TLV_ERR_ARGUMENT having touched nothing but
** *len: the builder returns at once, there is nothing to wipe.
*/
static int build_begin(tlv_writer_t *w, bool inputs_given, uint8_t *buf, size_t cap, size_t *len)
{
  size_t limit = DOC_MAX_DOCUMENT - DOC_SEAL_SIZE;
  if (!len) return TLV_ERR_ARGUMENT;
  *len = 0;
  if (!inputs_given || !buf) return TLV_ERR_ARGUMENT;
  tlv_writer_init(w, buf, cap < limit ? cap : limit);
  return 0;
}

/*
** Ends a build begun with build_begin(), rc being how the builder fared.
** On success gives the length; on error wipes all the writer may have
** touched (a failed string conversion can scribble past the written
** length) and reports the document limit as such rather than as a small
** buffer when it was the limit that was reached.
*/
static int build_end(tlv_writer_t *w, int rc, size_t cap, size_t *len)
{
  if (rc == 0) rc = tlv_writer_finish(w, len);
  if (rc == 0) return 0;
  if (rc == TLV_ERR_NO_SPACE && w->capacity < cap) rc = TLV_ERR_STLV_TOO_LONG;
  if (w->buffer && w->capacity > 0) memset(w->buffer, 0, w->capacity);
  *len = 0;
  return rc;
}

/*
** Opens a document of a form with the common header (1, 11, 2, 5, 21, 6,
** 3, 31): the form's STLV, 1040, 1012, 1041, 1037, 1018, 1048, 1009,
** 1187, 1021 (when not ""), 1038, then 1209 = ffd. 1038 is in every form
** made inside a shift, in the state report (21) only when it was made
** inside one (shift_number not 0), never in a registration.
*/
uint8_t doc_timezone_of_offset(int32_t seconds)
{
  if (seconds % 3600 != 0) return 0;
  int32_t hours = seconds / 3600;
  return hours >= 2 && hours <= 12 ? (uint8_t)(hours - 1) : 0;
}

static int put_opening(tlv_writer_t *w, uint16_t form, const doc_header_t *h, uint8_t ffd)
{
  bool registration = form == DOC_REGISTRATION || form == DOC_REREGISTRATION;
  bool outside_shift = form == DOC_STATE_REPORT && h->shift_number == 0;
  int rc;
  TRY(tlv_begin_stlv(w, form));
  TRY(tlv_put_uint32(w, 1040, h->number));
  TRY(tlv_put_unixtime(w, 1012, h->time));
  /* 1011 (since 2025-09-01) in the registrations and the receipts. */
  if (h->timezone && (registration || form == DOC_RECEIPT || form == DOC_CORRECTION))
    TRY(tlv_put_byte(w, 1011, h->timezone));
  TRY(PUT_TEXT(w, 1041, h->fn_number));
  TRY(PUT_TEXT(w, 1037, h->kkt_reg_number));
  TRY(PUT_TEXT(w, 1018, h->user_inn));
  TRY(PUT_TEXT(w, 1048, h->user_name));
  TRY(PUT_TEXT(w, 1009, h->address));
  TRY(PUT_TEXT(w, 1187, h->place));
  TRY(PUT_TEXT_OPTIONAL(w, 1021, h->cashier));
  if (!registration && !outside_shift) TRY(tlv_put_uint32(w, 1038, h->shift_number));
  TRY(tlv_put_byte(w, 1209, ffd));
fail:
  return rc;
}

/* 1188 the register's software version, 1189 the format version it supports (1, 11, 2). */
static int put_kkt_version(tlv_writer_t *w)
{
  int rc;
  TRY(tlv_put_string(w, 1188, DOC_KKT_VERSION, strlen(DOC_KKT_VERSION)));
  TRY(tlv_put_byte(w, 1189, DOC_FFD_1_2));
fail:
  return rc;
}

/* The FN's state flags and the key resource, shared by 2, 5 and 21. */
static int put_fn_flags(tlv_writer_t *w, const doc_counters_t *c)
{
  int rc;
  TRY(put_flag(w, 1050, c->fn_exhausted));
  TRY(put_flag(w, 1051, c->fn_replace_urgent));
  TRY(put_flag(w, 1052, c->fn_memory_full));
  TRY(put_flag(w, 1053, c->ofd_timeout));
  if (c->keys_valid_days != 0) TRY(tlv_put_uint16(w, 1213, c->keys_valid_days));
fail:
  return rc;
}

/* What the operators have not confirmed, shared by 5, 21 and 6: 1097
** unsent documents, with (when there are any) 1116 the first one's number
** (21 only: with_number) and 1098 its time; then 2104 unsent
** notifications. */
static int put_unsent(tlv_writer_t *w, const doc_counters_t *c, bool with_number)
{
  int rc;
  TRY(tlv_put_uint32(w, 1097, c->unsent_documents));
  if (c->unsent_documents > 0) {
    if (with_number) TRY(tlv_put_uint32(w, 1116, c->first_unsent_number));
    TRY(tlv_put_unixtime(w, 1098, c->first_unsent_time));
  }
  TRY(tlv_put_uint32(w, 2104, c->unsent_notifications));
fail:
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Registration (1), re-registration (11)                                  */

/* 1290 bit 8: the register sells goods subject to marking. */
#define USAGE_MARKED_GOODS 0x100u

int doc_build_registration(const doc_header_t *h, const doc_registration_t *r, bool re,
                           uint8_t *buf, size_t cap, size_t *len)
{
  tlv_writer_t w;
  int rc;
  if ((rc = build_begin(&w, h && r, buf, cap, len)) != 0) return rc;
  /* A register that talks to an OFD must name it. */
  if (!h->autonomous && r->ofd_inn[0] == '\0') {
    rc = DOC_ERR_MISSING;
    goto fail;
  }
  TRY(put_opening(&w, re ? DOC_REREGISTRATION : DOC_REGISTRATION, h,
                  r->ffd_version ? r->ffd_version : DOC_FFD_1_2));
  TRY(PUT_TEXT(&w, 1013, r->kkt_serial));
  TRY(tlv_put_byte(&w, 1062, r->tax_systems));
  TRY(tlv_put_byte(&w, 1002, h->autonomous ? 1 : 0));
  /* FNS table 87: 1056 (encryption) and 1001 (automatic mode) are
  ** mandatory; this register neither encrypts nor runs an automatic
  ** device, so both are 0. */
  TRY(tlv_put_byte(&w, 1056, 0));
  TRY(tlv_put_byte(&w, 1001, 0));
  TRY(tlv_put_uint32(&w, 1290, r->marking ? USAGE_MARKED_GOODS : 0));
  if (!h->autonomous) {
    TRY(PUT_TEXT(&w, 1017, r->ofd_inn));
    TRY(PUT_TEXT(&w, 1046, r->ofd_name));
  }
  TRY(put_kkt_version(&w));
  TRY(tlv_put_byte(&w, 1190, DOC_FFD_1_2));
  if (r->keys_valid_days) TRY(tlv_put_uint16(&w, 1213, r->keys_valid_days));
  if (re) TRY(tlv_put_uint32(&w, 1205, r->reason_mask));
  TRY(tlv_end_stlv(&w));
fail:
  return build_end(&w, rc, cap, len);
}

/* ---------------------------------------------------------------------- */
/* Shift open (2), shift close (5), state report (21), FN close (6)        */

/* ---------------------------------------------------------------------- */
/* Settlement totals (1194, 1157)                                          */

static int open_document(const uint8_t *doc, size_t len, uint16_t form, tlv_item_t *outer,
                         tlv_reader_t *body);

/* The counter tags of the VAT in 1129..1132, by 1199 value. */
static const uint16_t totals_vat_tags[DOC_VAT_MAX + 1] = {
    [1] = 1139,
    [2] = 1140,
    [3] = 1141,
    [4] = 1142,
    [5] = 1143,
    [6] = 1183,
    [7] = DOC_TAG_TOTAL_VAT_5,
    [8] = DOC_TAG_TOTAL_VAT_7,
    [9] = DOC_TAG_TOTAL_VAT_5_105,
    [10] = DOC_TAG_TOTAL_VAT_7_107,
    [11] = DOC_TAG_TOTAL_VAT_22,
    [12] = DOC_TAG_TOTAL_VAT_22_122,
};

/* Per operation (1054 = 1..4): the receipts' STLV and the corrections'. */
static const uint16_t totals_op_tags[5] = {0, 1129, 1130, 1131, 1132};
static const uint16_t totals_correction_tags[5] = {0, 1145, 1232, 1146, 1233};

uint16_t doc_totals_vat_tag(uint8_t value)
{
  return value <= DOC_VAT_MAX ? totals_vat_tags[value] : 0;
}

void doc_totals_add(doc_totals_t *t, bool correction, const doc_receipt_t *r, uint64_t total)
{
  if (!t || !r || r->operation < 1 || r->operation > 4) return;
  doc_op_totals_t *o = correction ? &t->corrections[r->operation] : &t->receipts[r->operation];
  o->count++;
  o->total += total;
  o->cash += r->cash;
  o->cashless += r->cashless;
  o->prepaid += r->prepaid;
  o->credit += r->credit;
  o->other += r->other;
  for (uint8_t v = 1; v <= DOC_VAT_MAX; v++)
    if (r->vat_present & (1u << v)) {
      o->vat[v] += r->vat_sums[v];
      o->vat_present = (uint16_t)(o->vat_present | (1u << v));
    }
}

/* One operation's counters of its receipts (1129..1132). */
static int put_op_totals(tlv_writer_t *w, uint16_t tag, const doc_op_totals_t *o)
{
  int rc = 0;
  TRY(tlv_begin_stlv(w, tag));
  TRY(tlv_put_uint32(w, 1135, o->count));
  TRY(tlv_put_vln(w, 1136, o->cash));
  TRY(tlv_put_vln(w, 1138, o->cashless));
  if (o->prepaid) TRY(tlv_put_vln(w, 1218, o->prepaid));
  if (o->credit) TRY(tlv_put_vln(w, 1219, o->credit));
  if (o->other) TRY(tlv_put_vln(w, 1220, o->other));
  for (uint8_t v = 1; v <= DOC_VAT_MAX; v++)
    if (o->vat_present & (1u << v)) TRY(tlv_put_vln(w, totals_vat_tags[v], o->vat[v]));
  TRY(tlv_put_vln(w, 1201, o->total));
  TRY(tlv_end_stlv(w));
fail:
  return rc;
}

/* 1194 or 1157 (see doc.h). */
static int put_totals(tlv_writer_t *w, uint16_t tag, const doc_totals_t *t)
{
  uint32_t all = 0, corrections = 0;
  int rc = 0;
  for (int op = 1; op <= 4; op++) {
    all += t->receipts[op].count + t->corrections[op].count;
    corrections += t->corrections[op].count;
  }
  TRY(tlv_begin_stlv(w, tag));
  TRY(tlv_put_uint32(w, 1134, all));
  for (int op = 1; op <= 4; op++)
    if (t->receipts[op].count) TRY(put_op_totals(w, totals_op_tags[op], &t->receipts[op]));
  TRY(tlv_begin_stlv(w, 1133));
  TRY(tlv_put_uint32(w, 1144, corrections));
  for (int op = 1; op <= 4; op++) {
    if (!t->corrections[op].count) continue;
    TRY(tlv_begin_stlv(w, totals_correction_tags[op]));
    TRY(tlv_put_uint32(w, 1135, t->corrections[op].count));
    TRY(tlv_put_vln(w, 1201, t->corrections[op].total));
    TRY(tlv_end_stlv(w));
  }
  TRY(tlv_end_stlv(w));
  TRY(tlv_end_stlv(w));
fail:
  return rc;
}

static int put_all_totals(tlv_writer_t *w, const doc_counters_t *c)
{
  int rc = 0;
  if (c->shift_totals) TRY(put_totals(w, 1194, c->shift_totals));
  if (c->fn_totals) TRY(put_totals(w, 1157, c->fn_totals));
fail:
  return rc;
}

/* One 1129..1132 or 1145/1232/1146/1233 back into o. */
static int parse_op_totals(const tlv_item_t *stlv, doc_op_totals_t *o)
{
  tlv_reader_t r;
  tlv_item_t x;
  int rc;
  if ((rc = tlv_reader_enter(stlv, &r)) != 0) return rc;
  while ((rc = tlv_reader_next(&r, &x)) == 0) {
    switch (x.tag) {
    case 1135:
      rc = tlv_get_uint32(&x, &o->count);
      break;
    case 1201:
      rc = tlv_get_vln(&x, &o->total);
      break;
    case 1136:
      rc = tlv_get_vln(&x, &o->cash);
      break;
    case 1138:
      rc = tlv_get_vln(&x, &o->cashless);
      break;
    case 1218:
      rc = tlv_get_vln(&x, &o->prepaid);
      break;
    case 1219:
      rc = tlv_get_vln(&x, &o->credit);
      break;
    case 1220:
      rc = tlv_get_vln(&x, &o->other);
      break;
    default:
      for (uint8_t v = 1; v <= DOC_VAT_MAX; v++)
        if (totals_vat_tags[v] == x.tag) {
          o->vat_present = (uint16_t)(o->vat_present | (1u << v));
          rc = tlv_get_vln(&x, &o->vat[v]);
        }
      break;
    }
    if (rc != 0) return rc;
  }
  return rc == TLV_ERR_END ? 0 : rc;
}

int doc_parse_totals(const uint8_t *doc, size_t len, uint16_t tag, doc_totals_t *out)
{
  tlv_item_t outer, x, y;
  tlv_reader_t body, t, c;
  doc_totals_t got;
  bool found = false;
  int rc;
  if (!out) return TLV_ERR_ARGUMENT;
  if ((rc = open_document(doc, len, 0, &outer, &body)) != 0) return rc;
  if (outer.tag != DOC_SHIFT_CLOSE && outer.tag != DOC_STATE_REPORT) return DOC_ERR_WRONG_FORM;
  memset(&got, 0, sizeof got);
  while ((rc = tlv_reader_next(&body, &x)) == 0) {
    if (x.tag != tag) continue;
    if (found) return DOC_ERR_DUPLICATE;
    found = true;
    if ((rc = tlv_reader_enter(&x, &t)) != 0) return rc;
    while ((rc = tlv_reader_next(&t, &y)) == 0) {
      for (int op = 1; op <= 4; op++)
        if (y.tag == totals_op_tags[op] && (rc = parse_op_totals(&y, &got.receipts[op])) != 0)
          return rc;
      if (y.tag != 1133) continue;
      tlv_item_t z;
      if ((rc = tlv_reader_enter(&y, &c)) != 0) return rc;
      while ((rc = tlv_reader_next(&c, &z)) == 0)
        for (int op = 1; op <= 4; op++)
          if (z.tag == totals_correction_tags[op] &&
              (rc = parse_op_totals(&z, &got.corrections[op])) != 0)
            return rc;
      if (rc != TLV_ERR_END) return rc;
    }
    if (rc != TLV_ERR_END) return rc;
  }
  if (rc != TLV_ERR_END) return rc;
  if (!found) return DOC_ERR_MISSING;
  *out = got;
  return 0;
}

int doc_build_shift(const doc_header_t *h, const doc_counters_t *c, bool open, uint8_t *buf,
                    size_t cap, size_t *len)
{
  tlv_writer_t w;
  int rc;
  if ((rc = build_begin(&w, h && c, buf, cap, len)) != 0) return rc;
  TRY(put_opening(&w, open ? DOC_SHIFT_OPEN : DOC_SHIFT_CLOSE, h, DOC_FFD_1_2));
  if (open) {
    TRY(put_kkt_version(&w));
  } else {
    TRY(tlv_put_uint32(&w, 1118, c->receipts_in_shift));
    TRY(tlv_put_uint32(&w, 1111, c->documents_in_shift));
    TRY(put_unsent(&w, c, false));
  }
  TRY(put_fn_flags(&w, c));
  if (!open) TRY(put_all_totals(&w, c));
  TRY(tlv_end_stlv(&w));
fail:
  return build_end(&w, rc, cap, len);
}

int doc_build_state_report(const doc_header_t *h, const doc_counters_t *c, uint8_t *buf, size_t cap,
                           size_t *len)
{
  tlv_writer_t w;
  int rc;
  if ((rc = build_begin(&w, h && c, buf, cap, len)) != 0) return rc;
  TRY(put_opening(&w, DOC_STATE_REPORT, h, DOC_FFD_1_2));
  if (h->autonomous) TRY(tlv_put_byte(&w, 1002, 1));
  TRY(put_unsent(&w, c, true));
  TRY(put_fn_flags(&w, c));
  TRY(put_all_totals(&w, c));
  TRY(tlv_end_stlv(&w));
fail:
  return build_end(&w, rc, cap, len);
}

int doc_build_fn_close(const doc_header_t *h, const doc_counters_t *c, uint8_t *buf, size_t cap,
                       size_t *len)
{
  tlv_writer_t w;
  int rc;
  if ((rc = build_begin(&w, h && c, buf, cap, len)) != 0) return rc;
  TRY(put_opening(&w, DOC_FN_CLOSE, h, DOC_FFD_1_2));
  /* What is left undelivered when the archive closes, and the FN's totals. */
  TRY(put_unsent(&w, c, false));
  if (c->fn_totals) TRY(put_totals(&w, 1157, c->fn_totals));
  TRY(tlv_end_stlv(&w));
fail:
  return build_end(&w, rc, cap, len);
}

/* ---------------------------------------------------------------------- */
/* Receipt (3), correction receipt (31)                                    */

bool doc_check_negative(uint8_t check_result)
{
  if ((check_result & DOC_2106_TAIL_CHECKED) && !(check_result & DOC_2106_TAIL_VALID)) return true;
  if ((check_result & DOC_2106_OISM_CHECKED) && !(check_result & DOC_2106_OISM_VALID)) return true;
  return false;
}

/* The marking code of an item, as the caller gave it. */
static int item_km(const doc_item_t *item, size_t *length)
{
  if (item->km_len == 0 || item->km_len > DOC_MAX_KM) return TLV_ERR_ARGUMENT;
  *length = item->km_len;
  return 0;
}

static int get_text(const tlv_item_t *item, char *out, size_t size);

/* 1291 {1292 "n/d", 1293, 1294} of a fractional line. */
static int put_fraction(tlv_writer_t *w, const doc_item_t *item)
{
  char text[48];
  int rc = 0;
  if (!item->fraction_denominator) return 0;
  if (!item->fraction_numerator || item->fraction_numerator >= item->fraction_denominator)
    return TLV_ERR_ARGUMENT; /* a fraction of a unit is below one */
  snprintf(text, sizeof text, "%llu/%llu", (unsigned long long)item->fraction_numerator,
           (unsigned long long)item->fraction_denominator);
  TRY(tlv_begin_stlv(w, 1291));
  TRY(PUT_TEXT(w, 1292, text));
  TRY(tlv_put_vln(w, 1293, item->fraction_numerator));
  TRY(tlv_put_vln(w, 1294, item->fraction_denominator));
  TRY(tlv_end_stlv(w));
fail:
  return rc;
}

/* 1222, 1223, 1224, 1226 of an agent's line. */
static int put_agent(tlv_writer_t *w, const doc_agent_t *a)
{
  int rc = 0;
  if (!a->sign) return 0;
  if (!a->supplier_name[0] || !a->supplier_inn[0]) return DOC_ERR_MISSING;
  TRY(tlv_put_byte(w, 1222, a->sign));
  if (a->operation[0] || a->agent_phone[0] || a->operator_phone[0] || a->transfer_phone[0] ||
      a->transfer_name[0] || a->transfer_address[0] || a->transfer_inn[0]) {
    TRY(tlv_begin_stlv(w, 1223));
    if (a->operation[0]) TRY(PUT_TEXT(w, 1044, a->operation));
    if (a->agent_phone[0]) TRY(PUT_TEXT(w, 1073, a->agent_phone));
    if (a->operator_phone[0]) TRY(PUT_TEXT(w, 1074, a->operator_phone));
    if (a->transfer_phone[0]) TRY(PUT_TEXT(w, 1075, a->transfer_phone));
    if (a->transfer_name[0]) TRY(PUT_TEXT(w, 1026, a->transfer_name));
    if (a->transfer_address[0]) TRY(PUT_TEXT(w, 1005, a->transfer_address));
    if (a->transfer_inn[0]) TRY(PUT_TEXT(w, 1016, a->transfer_inn));
    TRY(tlv_end_stlv(w));
  }
  TRY(tlv_begin_stlv(w, 1224));
  if (a->supplier_phone[0]) TRY(PUT_TEXT(w, 1171, a->supplier_phone));
  TRY(PUT_TEXT(w, 1225, a->supplier_name));
  TRY(tlv_end_stlv(w));
  TRY(PUT_TEXT(w, 1226, a->supplier_inn));
fail:
  return rc;
}

int doc_item_extras_put(const doc_item_t *item, uint8_t *buf, size_t cap, size_t *len)
{
  tlv_writer_t w;
  int rc;
  if (!item || !buf || !len) return TLV_ERR_ARGUMENT;
  *len = 0;
  tlv_writer_init(&w, buf, cap);
  TRY(put_agent(&w, &item->agent));
  TRY(put_fraction(&w, item));
  *len = tlv_writer_length(&w);
fail:
  return rc;
}

/* Reads 1222/1223/1224/1226/1291 of a line's list into item; any other tag
** is left to the caller. Returns 1 when the tag was one of them. */
static int item_extra(const tlv_item_t *x, doc_item_t *item, int *rc)
{
  tlv_reader_t sub;
  tlv_item_t y;
  doc_agent_t *a = &item->agent;
  switch (x->tag) {
  case 1222:
    *rc = tlv_get_byte(x, &a->sign);
    return 1;
  case 1226:
    *rc = get_text(x, a->supplier_inn, sizeof a->supplier_inn);
    return 1;
  case 1223:
  case 1224:
  case 1291:
    if ((*rc = tlv_reader_enter(x, &sub)) != 0) return 1;
    while ((*rc = tlv_reader_next(&sub, &y)) == 0) {
      switch (y.tag) {
      case 1044:
        *rc = get_text(&y, a->operation, sizeof a->operation);
        break;
      case 1073:
        *rc = get_text(&y, a->agent_phone, sizeof a->agent_phone);
        break;
      case 1074:
        *rc = get_text(&y, a->operator_phone, sizeof a->operator_phone);
        break;
      case 1075:
        *rc = get_text(&y, a->transfer_phone, sizeof a->transfer_phone);
        break;
      case 1026:
        *rc = get_text(&y, a->transfer_name, sizeof a->transfer_name);
        break;
      case 1005:
        *rc = get_text(&y, a->transfer_address, sizeof a->transfer_address);
        break;
      case 1016:
        *rc = get_text(&y, a->transfer_inn, sizeof a->transfer_inn);
        break;
      case 1171:
        *rc = get_text(&y, a->supplier_phone, sizeof a->supplier_phone);
        break;
      case 1225:
        *rc = get_text(&y, a->supplier_name, sizeof a->supplier_name);
        break;
      case 1293:
        *rc = tlv_get_vln(&y, &item->fraction_numerator);
        break;
      case 1294:
        *rc = tlv_get_vln(&y, &item->fraction_denominator);
        break;
      default:
        break;
      }
      if (*rc != 0) return 1;
    }
    if (*rc == TLV_ERR_END) *rc = 0;
    return 1;
  default:
    return 0;
  }
}

int doc_item_extras_get(const uint8_t *buf, size_t len, doc_item_t *item)
{
  tlv_reader_t r;
  tlv_item_t x;
  int rc = 0;
  if (!item || (len && !buf)) return TLV_ERR_ARGUMENT;
  tlv_reader_init(&r, buf, len);
  while ((rc = tlv_reader_next(&r, &x)) == 0) {
    int inner = 0;
    item_extra(&x, item, &inner);
    if (inner != 0) return inner;
  }
  return rc == TLV_ERR_END ? 0 : rc;
}

/* One 1059. The status tag is 2003 in a receipt and 2110 in a correction. */
static int put_item(tlv_writer_t *w, const doc_item_t *item, uint16_t status_tag)
{
  size_t km_length = 0;
  int rc;
  TRY(tlv_begin_stlv(w, 1059));
  TRY(PUT_TEXT(w, 1030, item->name));
  TRY(tlv_put_vln(w, 1079, item->price));
  TRY(tlv_put_fvln(w, 1023, (tlv_fvln_t){item->quantity.mantissa, item->quantity.scale}));
  TRY(tlv_put_vln(w, 1043, item->total));
  TRY(tlv_put_byte(w, 1199, item->vat));
  TRY(tlv_put_byte(w, 1212, item->subject));
  TRY(tlv_put_byte(w, 1214, item->payment_method));
  TRY(put_agent(w, &item->agent));
  TRY(tlv_put_byte(w, 2108, item->measure));
  TRY(put_fraction(w, item));
  if (item->product_tag != 0) {
    TRY(tlv_begin_stlv(w, 1163));
    TRY(PUT_TEXT(w, item->product_tag, item->product_value));
    TRY(tlv_end_stlv(w));
  }
  if (item->marked) {
    TRY(item_km(item, &km_length));
    /* A marking code is ASCII with GS (0x1D) separators; CP866 keeps both
    ** as they are, so the code on the wire is the scanned bytes. */
    TRY(tlv_put_string(w, 2000, item->km, km_length));
    TRY(tlv_put_byte(w, 2100, item->km_type));
    TRY(tlv_put_byte(w, 2102, item->km_mode));
    TRY(tlv_put_byte(w, status_tag, item->km_status));
    TRY(tlv_put_byte(w, 2106, item->check_result));
  }
  if (item->has_industry) {
    TRY(tlv_begin_stlv(w, 1260));
    TRY(PUT_TEXT(w, 1262, item->industry.authority));
    TRY(PUT_TEXT(w, 1263, item->industry.date));
    TRY(PUT_TEXT(w, 1264, item->industry.number));
    TRY(PUT_TEXT(w, 1265, item->industry.value));
    TRY(tlv_end_stlv(w));
  }
  TRY(tlv_end_stlv(w));
fail:
  return rc; /* the builder wipes the whole document on error */
}

/*
** VAT: one row per 1199 value, in the order of the receipt-level tags
** (1102-1107, then the [open] private tags of the 2025-2026 rates; see
** doc.h). The rounding rule lives in doc_vat_amount() alone, so the
** builder, the printed receipt and the tests' reader agree.
*/
static const doc_vat_rate_t vat_rates[] = {
    {1, 1102, 20, 120, "НДС 20%", "НДС 20%"},
    {2, 1103, 10, 110, "НДС 10%", "НДС 10%"},
    {5, 1104, 0, 0, "НДС 0%", "Сумма с НДС 0%"},
    {6, 1105, 0, 0, "Без НДС", "Сумма без НДС"},
    {3, 1106, 20, 120, "НДС 20/120", "НДС 20/120"},
    {4, 1107, 10, 110, "НДС 10/110", "НДС 10/110"},
    {7, DOC_TAG_VAT_5, 5, 105, "НДС 5%", "НДС 5%"},
    {8, DOC_TAG_VAT_7, 7, 107, "НДС 7%", "НДС 7%"},
    {9, DOC_TAG_VAT_5_105, 5, 105, "НДС 5/105", "НДС 5/105"},
    {10, DOC_TAG_VAT_7_107, 7, 107, "НДС 7/107", "НДС 7/107"},
    {11, DOC_TAG_VAT_22, 22, 122, "НДС 22%", "НДС 22%"},
    {12, DOC_TAG_VAT_22_122, 22, 122, "НДС 22/122", "НДС 22/122"},
};
#define VAT_RATE_COUNT (sizeof vat_rates / sizeof vat_rates[0])

const doc_vat_rate_t *doc_vat_rate(uint8_t value)
{
  for (size_t i = 0; i < VAT_RATE_COUNT; i++)
    if (vat_rates[i].value == value) return &vat_rates[i];
  return NULL;
}

const doc_vat_rate_t *doc_vat_rate_at(size_t index)
{
  return index < VAT_RATE_COUNT ? &vat_rates[index] : NULL;
}

size_t doc_vat_rate_count(void) { return VAT_RATE_COUNT; }

uint64_t doc_vat_amount(uint8_t value, uint64_t gross)
{
  const doc_vat_rate_t *v = doc_vat_rate(value);
  if (!v) return 0;
  if (!v->denominator) return gross;
  return (gross * v->numerator + v->denominator / 2u) / v->denominator;
}

/* Gross amounts per 1199 value (index = value; 0 unused). */
typedef struct vat_sums {
  uint64_t base[DOC_VAT_MAX + 1];
  bool present[DOC_VAT_MAX + 1];
} vat_sums_t;

/* The receipt-level sum of every rate the receipt has, in tag order. A
** rate whose tax rounds to 0 is still written (0): the line had the rate. */
static int put_vat(tlv_writer_t *w, const vat_sums_t *v)
{
  int rc = 0;
  for (size_t i = 0; i < VAT_RATE_COUNT; i++) {
    uint8_t value = vat_rates[i].value;
    if (v->present[value])
      TRY(tlv_put_vln(w, vat_rates[i].sum_tag, doc_vat_amount(value, v->base[value])));
  }
fail:
  return rc;
}

/* The largest amount a 6-byte VLN (1020, 1031, 1043 ...) holds. */
#define AMOUNT_MAX ((UINT64_C(1) << 48) - 1)

/*
** Adds up the items and checks the payments against them: the sum of the
** item totals is 1020, and it must be exactly cash + cashless (the only
** payment forms this register takes). Also decides 2107.
*/
static int receipt_sums(const doc_receipt_t *r, uint64_t *total, vat_sums_t *vat, bool *any_marked,
                        bool *any_negative)
{
  uint64_t sum = 0;
  memset(vat, 0, sizeof *vat);
  *any_marked = *any_negative = false;
  for (size_t i = 0; i < r->item_count; i++) {
    const doc_item_t *item = &r->items[i];
    if (item->total > AMOUNT_MAX || sum + item->total > AMOUNT_MAX) return DOC_ERR_TOTAL;
    sum += item->total;
    if (doc_vat_rate(item->vat)) {
      vat->base[item->vat] += item->total;
      vat->present[item->vat] = true;
    }
    if (item->marked) {
      *any_marked = true;
      if (doc_check_negative(item->check_result)) *any_negative = true;
    }
  }
  if (r->cash > AMOUNT_MAX || r->cashless > AMOUNT_MAX || r->prepaid > AMOUNT_MAX ||
      r->credit > AMOUNT_MAX || r->other > AMOUNT_MAX ||
      r->cash + r->cashless + r->prepaid + r->credit + r->other != sum)
    return DOC_ERR_TOTAL;
  int rules = doc_payment_rules(r);
  if (rules != 0) return rules;
  *total = sum;
  return 0;
}

int doc_payment_rules(const doc_receipt_t *r)
{
  uint64_t offsettable = 0, creditable = 0, money_now = 0; /* per kind of line */
  if (!r) return TLV_ERR_ARGUMENT;
  for (size_t i = 0; i < r->item_count; i++) {
    const doc_item_t *it = &r->items[i];
    switch (it->payment_method) {
    case DOC_PAY_PREPAYMENT_FULL:
    case DOC_PAY_PREPAYMENT:
    case DOC_PAY_ADVANCE:
      if (it->marked) return DOC_ERR_TOTAL; /* a prepayment hands no good over */
      money_now += it->total;
      break;
    case DOC_PAY_CREDIT_PAYMENT:
      money_now += it->total;
      break;
    case DOC_PAY_FULL:
      offsettable += it->total;
      break;
    case DOC_PAY_PARTIAL_CREDIT:
      offsettable += it->total;
      creditable += it->total;
      break;
    case DOC_PAY_CREDIT:
      creditable += it->total;
      break;
    default:
      return TLV_ERR_ARGUMENT;
    }
  }
  if (r->prepaid > offsettable || r->credit > creditable) return DOC_ERR_TOTAL;
  if (r->cash + r->cashless + r->other < money_now) return DOC_ERR_TOTAL;
  return 0;
}

int doc_build_receipt(const doc_header_t *h, const doc_receipt_t *r, bool correction, uint8_t *buf,
                      size_t cap, size_t *len)
{
  tlv_writer_t w;
  vat_sums_t vat;
  uint64_t total = 0;
  bool any_marked = false, any_negative = false;
  int rc;
  if ((rc = build_begin(&w, h && r, buf, cap, len)) != 0) return rc;
  if (r->item_count == 0 || r->item_count > DOC_MAX_ITEMS || r->operation < DOC_OP_SALE ||
      r->operation > DOC_OP_PURCHASE_RETURN || (correction && r->correction_type > 1)) {
    rc = TLV_ERR_ARGUMENT;
    goto fail;
  }
  TRY(receipt_sums(r, &total, &vat, &any_marked, &any_negative));
  TRY(put_opening(&w, correction ? DOC_CORRECTION : DOC_RECEIPT, h, DOC_FFD_1_2));
  TRY(tlv_put_uint32(&w, 1042, r->receipt_number));
  TRY(tlv_put_byte(&w, 1054, r->operation));
  TRY(tlv_put_byte(&w, 1055, r->tax_system));
  {
    /* 1057: the kinds of agent this receipt's lines are sold as. */
    uint8_t agents = 0;
    for (size_t i = 0; i < r->item_count; i++) agents |= r->items[i].agent.sign;
    if (agents) TRY(tlv_put_byte(&w, 1057, agents));
  }
  if (r->internet) TRY(tlv_put_byte(&w, 1125, 1));
  TRY(PUT_TEXT_OPTIONAL(&w, 1008, r->buyer_contact));
  if (correction) {
    TRY(tlv_put_byte(&w, 1173, r->correction_type));
    TRY(tlv_begin_stlv(&w, 1174));
    TRY(tlv_put_unixtime(&w, 1178, r->correction_date));
    TRY(PUT_TEXT(&w, 1179, r->correction_basis));
    TRY(tlv_end_stlv(&w));
  }
  for (size_t i = 0; i < r->item_count; i++)
    TRY(put_item(&w, &r->items[i], correction ? 2110 : 2003));
  TRY(tlv_put_vln(&w, 1020, total));
  TRY(tlv_put_vln(&w, 1031, r->cash));
  TRY(tlv_put_vln(&w, 1081, r->cashless));
  /* Prepayment offset, credit and counter-provision: FFD 1.2 wants the
  ** three sums present, 0 or not. */
  TRY(tlv_put_vln(&w, 1215, r->prepaid));
  TRY(tlv_put_vln(&w, 1216, r->credit));
  TRY(tlv_put_vln(&w, 1217, r->other));
  TRY(put_vat(&w, &vat));
  if (any_marked) TRY(tlv_put_byte(&w, 2107, any_negative ? 1 : 0));
  TRY(tlv_end_stlv(&w));
fail:
  return build_end(&w, rc, cap, len);
}

/* ---------------------------------------------------------------------- */
/* KM request (81) and sale notification (82)                              */

int doc_build_km_request(const doc_header_t *h, const doc_item_t *item, uint8_t *buf, size_t cap,
                         size_t *len)
{
  tlv_writer_t w;
  size_t km_length = 0;
  int rc;
  if ((rc = build_begin(&w, h && item, buf, cap, len)) != 0) return rc;
  TRY(item_km(item, &km_length));
  TRY(tlv_begin_stlv(&w, DOC_KM_REQUEST));
  TRY(PUT_TEXT(&w, 1041, h->fn_number));
  TRY(tlv_put_uint32(&w, 2001, h->number));
  TRY(tlv_put_unixtime(&w, 2114, h->time));
  /* The format's table of the request also asks for the user's INN and the
  ** FN's own check of the code (2004: its tail bits, as 2106's first two). */
  if (h->user_inn[0]) TRY(PUT_TEXT(&w, 1018, h->user_inn));
  TRY(tlv_put_byte(&w, 2004, item->check_result));
  TRY(tlv_put_string(&w, 2000, item->km, km_length));
  TRY(tlv_put_byte(&w, 2100, item->km_type));
  TRY(tlv_put_byte(&w, 2003, item->km_status));
  TRY(tlv_put_fvln(&w, 1023, (tlv_fvln_t){item->quantity.mantissa, item->quantity.scale}));
  if (item->measure != 0) TRY(tlv_put_byte(&w, 2108, item->measure));
  TRY(put_fraction(&w, item));
  TRY(tlv_put_byte(&w, 2102, item->km_mode));
  TRY(tlv_end_stlv(&w));
fail:
  return build_end(&w, rc, cap, len);
}

int doc_build_km_notification(const doc_header_t *h, uint32_t receipt_number,
                              const doc_receipt_t *r, uint8_t *buf, size_t cap, size_t *len)
{
  tlv_writer_t w;
  size_t marked = 0, km_length = 0;
  int rc;
  if ((rc = build_begin(&w, h && r, buf, cap, len)) != 0) return rc;
  if (r->item_count > DOC_MAX_ITEMS) {
    rc = TLV_ERR_ARGUMENT;
    goto fail;
  }
  TRY(tlv_begin_stlv(&w, DOC_KM_NOTIFICATION));
  TRY(tlv_put_uint32(&w, 2002, h->number));
  TRY(tlv_put_unixtime(&w, 1012, h->time));
  TRY(PUT_TEXT(&w, 1041, h->fn_number));
  TRY(PUT_TEXT(&w, 1037, h->kkt_reg_number));
  TRY(PUT_TEXT(&w, 1018, h->user_inn));
  TRY(tlv_put_uint32(&w, 1040, receipt_number));
  /* Since 2025-09-01 the receipt's FD number has its own requisite (2040)
  ** and the zone of the settlement (1011) comes with it. */
  TRY(tlv_put_uint32(&w, 2040, receipt_number));
  if (h->timezone) TRY(tlv_put_byte(&w, 1011, h->timezone));
  TRY(tlv_put_byte(&w, 1055, r->tax_system));
  TRY(tlv_put_byte(&w, 1054, r->operation));
  TRY(tlv_put_byte(&w, 2116, r->notification_kind == 2 ? 2 : 1));
  for (size_t i = 0; i < r->item_count; i++) {
    const doc_item_t *item = &r->items[i];
    if (!item->marked) continue;
    TRY(item_km(item, &km_length));
    TRY(tlv_begin_stlv(&w, 2007));
    TRY(tlv_put_string(&w, 2000, item->km, km_length));
    TRY(tlv_put_byte(&w, 2100, item->km_type));
    TRY(tlv_put_byte(&w, 2110, item->km_status));
    TRY(tlv_put_byte(&w, 2106, item->check_result));
    TRY(tlv_put_fvln(&w, 1023, (tlv_fvln_t){item->quantity.mantissa, item->quantity.scale}));
    if (item->measure != 0) TRY(tlv_put_byte(&w, 2108, item->measure));
    TRY(put_fraction(&w, item));
    TRY(tlv_put_byte(&w, 2102, item->km_mode));
    TRY(tlv_put_byte(&w, 1214, item->payment_method));
    TRY(PUT_TEXT(&w, 1030, item->name));
    TRY(tlv_put_vln(&w, 1079, item->price));
    TRY(tlv_put_vln(&w, 1043, item->total));
    TRY(tlv_put_byte(&w, 1199, item->vat));
    /* 1200, the line's VAT: none at 0 % and without VAT. */
    const doc_vat_rate_t *rate = doc_vat_rate(item->vat);
    TRY(tlv_put_vln(&w, 1200,
                    rate && rate->numerator ? doc_vat_amount(item->vat, item->total) : 0));
    if (item->agent.sign) {
      TRY(tlv_put_byte(&w, 1222, item->agent.sign));
      TRY(PUT_TEXT(&w, 1226, item->agent.supplier_inn));
    }
    TRY(tlv_end_stlv(&w));
    marked++;
  }
  /* A notification reports sold codes; without one there is nothing. */
  if (marked == 0) {
    rc = DOC_ERR_MISSING;
    goto fail;
  }
  TRY(tlv_end_stlv(&w));
fail:
  return build_end(&w, rc, cap, len);
}

/* ---------------------------------------------------------------------- */
/* Documents from the operators, built for the emulator and tests          */

int doc_build_ack(const doc_ack_t *a, uint8_t *buf, size_t cap, size_t *len)
{
  tlv_writer_t w;
  int rc;
  if ((rc = build_begin(&w, a != NULL, buf, cap, len)) != 0) return rc;
  if (a->operator_sign_len > sizeof a->operator_sign) {
    rc = TLV_ERR_ARGUMENT;
    goto fail;
  }
  TRY(tlv_begin_stlv(&w, DOC_OPERATOR_ACK));
  TRY(PUT_TEXT(&w, 1017, a->ofd_inn));
  if (a->fn_number[0]) TRY(PUT_TEXT(&w, 1041, a->fn_number));
  if (a->document_number) TRY(tlv_put_uint32(&w, 1040, a->document_number));
  TRY(tlv_put_unixtime(&w, 1012, a->time));
  TRY(tlv_begin_stlv(&w, 1068));
  TRY(tlv_put_byte(&w, 1022, a->answer_code));
  TRY(tlv_end_stlv(&w));
  TRY(tlv_put_bytes(&w, 1078, a->operator_sign, a->operator_sign_len));
  TRY(tlv_end_stlv(&w));
fail:
  return build_end(&w, rc, cap, len);
}

int doc_build_km_answer(const doc_km_answer_t *a, uint8_t *buf, size_t cap, size_t *len)
{
  tlv_writer_t w;
  int rc;
  if ((rc = build_begin(&w, a != NULL, buf, cap, len)) != 0) return rc;
  if (a->km_len > DOC_MAX_KM) {
    rc = TLV_ERR_ARGUMENT;
    goto fail;
  }
  TRY(tlv_begin_stlv(&w, DOC_KM_ANSWER));
  TRY(tlv_put_uint32(&w, 2001, a->request_number));
  TRY(tlv_put_unixtime(&w, 2114, a->request_time));
  if (a->km_len > 0) TRY(tlv_put_string(&w, 2000, a->km, a->km_len));
  TRY(tlv_put_byte(&w, 2100, a->km_type));
  TRY(tlv_put_byte(&w, 2102, a->km_mode));
  TRY(tlv_put_byte(&w, 2109, a->status_answer));
  TRY(tlv_put_byte(&w, 2105, a->processing_code));
  TRY(tlv_put_byte(&w, 2005, a->processing_results));
  TRY(tlv_end_stlv(&w));
fail:
  return build_end(&w, rc, cap, len);
}

int doc_build_km_ticket(const doc_km_ticket_t *t, uint8_t *buf, size_t cap, size_t *len)
{
  tlv_writer_t w;
  int rc;
  if ((rc = build_begin(&w, t != NULL, buf, cap, len)) != 0) return rc;
  TRY(tlv_begin_stlv(&w, DOC_KM_TICKET));
  TRY(tlv_put_uint32(&w, 2002, t->notification_number));
  TRY(tlv_put_byte(&w, 2111, t->result));
  TRY(tlv_put_byte(&w, 2006, t->processing_results));
  TRY(tlv_end_stlv(&w));
fail:
  return build_end(&w, rc, cap, len);
}

/* ---------------------------------------------------------------------- */
/* Reading a document                                                      */

static void store16(uint8_t *p, size_t value)
{
  p[0] = (uint8_t)(value & 0xFFu);
  p[1] = (uint8_t)((value >> 8) & 0xFFu);
}

/*
** Opens doc[0..len) as exactly one document STLV and starts a reader over
** its requisites. The tag must be a form code; when `form` is not 0 it
** must be that one. Bytes after the document are refused: a stored
** document is exactly its TLV.
*/
static int open_document(const uint8_t *doc, size_t len, uint16_t form, tlv_item_t *outer,
                         tlv_reader_t *body)
{
  tlv_reader_t top;
  int rc;
  if (!doc || !outer || !body) return TLV_ERR_ARGUMENT;
  tlv_reader_init(&top, doc, len);
  rc = tlv_reader_next(&top, outer);
  if (rc == TLV_ERR_END) return TLV_ERR_TRUNCATED_HEADER;
  if (rc != 0) return rc;
  if (!tlv_reader_done(&top)) return TLV_ERR_BAD_LENGTH;
  const tlv_tag_info_t *info = tlv_tag_lookup(outer->tag);
  if (!info || !(info->flags & TLV_TAG_DOCUMENT)) return DOC_ERR_WRONG_FORM;
  if (form != 0 && outer->tag != form) return DOC_ERR_WRONG_FORM;
  return tlv_reader_enter(outer, body);
}

int doc_summarize(const uint8_t *doc, size_t len, doc_summary_t *out)
{
  tlv_item_t outer, item;
  tlv_reader_t body;
  doc_summary_t s;
  int rc;
  if (!out) return TLV_ERR_ARGUMENT;
  if ((rc = open_document(doc, len, 0, &outer, &body)) != 0) return rc;
  memset(&s, 0, sizeof s);
  s.type = outer.tag;
  /* The marking forms number themselves with their own counters. */
  uint16_t number_tag = 1040, time_tag = 1012;
  if (s.type == DOC_KM_REQUEST || s.type == DOC_KM_ANSWER) {
    number_tag = 2001;
    time_tag = 2114;
  } else if (s.type == DOC_KM_NOTIFICATION || s.type == DOC_KM_TICKET) {
    number_tag = 2002;
  }
  while ((rc = tlv_reader_next(&body, &item)) == 0) {
    if (item.tag == number_tag) {
      rc = tlv_get_uint32(&item, &s.number);
    } else if (item.tag == time_tag) {
      rc = tlv_get_unixtime(&item, &s.time);
    } else if (item.tag == 1038) {
      rc = tlv_get_uint32(&item, &s.shift_number);
    } else if (item.tag == 1020) {
      rc = tlv_get_vln(&item, &s.total);
    } else if (item.tag == 1054) {
      rc = tlv_get_byte(&item, &s.operation);
    } else if (item.tag == 1077) {
      const uint8_t *sign;
      size_t sign_len;
      if (s.has_sign) return DOC_ERR_DUPLICATE;
      rc = tlv_get_bytes(&item, &sign, &sign_len);
      if (rc == 0) {
        memcpy(s.sign, sign, DOC_SIGN_SIZE);
        s.has_sign = true;
      }
    }
    if (rc != 0) return rc;
  }
  if (rc != TLV_ERR_END) return rc;
  *out = s;
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Sealing                                                                 */

/*
** Finds the 1077 among the top-level requisites of a document. Returns 0
** with its offset from the start of doc in *at (0 when absent), or an
** error for a malformed document or two signs.
*/
static int find_sign(const uint8_t *doc, size_t len, tlv_item_t *outer, size_t *at)
{
  tlv_reader_t body;
  tlv_item_t item;
  int rc;
  *at = 0;
  if ((rc = open_document(doc, len, 0, outer, &body)) != 0) return rc;
  while ((rc = tlv_reader_next(&body, &item)) == 0) {
    if (item.tag != 1077) continue;
    if (*at != 0) return DOC_ERR_DUPLICATE;
    if (item.length != DOC_SIGN_SIZE) return TLV_ERR_BAD_LENGTH;
    *at = item.offset;
  }
  return rc == TLV_ERR_END ? 0 : rc;
}

int doc_seal(uint8_t *doc, size_t *len, size_t cap, const uint8_t sign[6])
{
  tlv_item_t outer;
  size_t at = 0;
  int rc;
  if (!doc || !len || !sign) return TLV_ERR_ARGUMENT;
  if ((rc = find_sign(doc, *len, &outer, &at)) != 0) return rc;
  if (at != 0) return DOC_ERR_DUPLICATE;
  const tlv_tag_info_t *info = tlv_tag_lookup(outer.tag);
  size_t content = (size_t)outer.length + DOC_SEAL_SIZE;
  if (content > info->max_length || *len + DOC_SEAL_SIZE > DOC_MAX_DOCUMENT)
    return TLV_ERR_STLV_TOO_LONG;
  if (cap < *len + DOC_SEAL_SIZE) return TLV_ERR_NO_SPACE;
  uint8_t *seal = doc + *len;
  store16(seal, 1077);
  store16(seal + 2, DOC_SIGN_SIZE);
  memcpy(seal + TLV_HEADER_SIZE, sign, DOC_SIGN_SIZE);
  store16(doc + 2, content);
  *len += DOC_SEAL_SIZE;
  return 0;
}

int doc_signed_part(const uint8_t *doc, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                    uint8_t sign[6])
{
  tlv_item_t outer;
  uint8_t found[DOC_SIGN_SIZE];
  size_t at = 0;
  int rc;
  if (!doc || !out || !out_len) return TLV_ERR_ARGUMENT;
  if ((rc = find_sign(doc, len, &outer, &at)) != 0) return rc;
  if (at == 0) return DOC_ERR_MISSING;
  if (cap < len - DOC_SEAL_SIZE) return TLV_ERR_NO_SPACE;
  /* Keep the sign before moving anything: out may be doc itself. */
  memcpy(found, doc + at + TLV_HEADER_SIZE, DOC_SIGN_SIZE);
  memmove(out, doc, at);
  memmove(out + at, doc + at + DOC_SEAL_SIZE, len - at - DOC_SEAL_SIZE);
  store16(out + 2, (size_t)outer.length - DOC_SEAL_SIZE);
  *out_len = len - DOC_SEAL_SIZE;
  if (sign) memcpy(sign, found, DOC_SIGN_SIZE);
  return 0;
}

uint32_t doc_fiscal_sign_printed(const uint8_t sign[6])
{
  if (!sign) return 0;
  return ((uint32_t)sign[2] << 24) | ((uint32_t)sign[3] << 16) | ((uint32_t)sign[4] << 8) |
         (uint32_t)sign[5];
}

/* ---------------------------------------------------------------------- */
/* The receipt QR code                                                     */

int doc_receipt_qr(const doc_header_t *h, uint64_t total, uint8_t operation, uint32_t fp, char *out,
                   size_t cap)
{
  struct tm tm;
  if (!h || !out || cap == 0) return TLV_ERR_ARGUMENT;
  if (strnlen(h->fn_number, sizeof h->fn_number) == sizeof h->fn_number) return TLV_ERR_ARGUMENT;
  /* 1012 is local time written as if it were UTC: read it back the same way. */
  time_t t = (time_t)h->time;
  if (!gmtime_r(&t, &tm)) return TLV_ERR_ARGUMENT;
  int n =
      snprintf(out, cap,
               "t=%04d%02d%02dT%02d%02d&s=%" PRIu64 ".%02u&fn=%s&i=%" PRIu32 "&fp=%" PRIu32 "&n=%u",
               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, total / 100,
               (unsigned)(total % 100), h->fn_number, h->number, fp, (unsigned)operation);
  if (n < 0) return TLV_ERR_ARGUMENT;
  if ((size_t)n >= cap) {
    out[0] = '\0';
    return TLV_ERR_NO_SPACE;
  }
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Parsers of documents from outside: 7, 83, 84                            */

/* Marks a requisite seen; a second one is refused. `seen` has a bit per
** index the parser gives its requisites. */
static int seen_once(uint32_t *seen, unsigned index)
{
  if (*seen & (1u << index)) return DOC_ERR_DUPLICATE;
  *seen |= 1u << index;
  return 0;
}

/* A string requisite into a fixed array (NUL-terminated). */
static int get_text(const tlv_item_t *item, char *out, size_t size)
{
  char text[TLV_STRING_UTF8_SIZE(512)];
  size_t length = 0;
  int rc = tlv_get_string(item, text, sizeof text, &length);
  if (rc != 0) return rc;
  if (length >= size) return TLV_ERR_VALUE_TOO_LONG;
  memcpy(out, text, length + 1);
  return 0;
}

/*
** The parsers read their documents from a table: each simple requisite is
** a row (tag, how it is read, where it goes), and its row's index is its
** bit in `seen`, so a requisite twice is DOC_ERR_DUPLICATE and the caller
** checks the required ones by their bits. What a table cannot say (an STLV
** to enter, bytes of a bounded length) goes to the parser's own function;
** any other tag is skipped (a requisite this register does not use).
*/
typedef enum field_kind { FIELD_U32, FIELD_TIME, FIELD_BYTE, FIELD_TEXT } field_kind_t;

typedef struct field {
  uint16_t tag;
  field_kind_t kind;
  size_t offset; /* into the parser's struct */
  size_t size;   /* FIELD_TEXT: the array's size */
} field_t;

#define FIELD(tag, kind, type, member)                                                             \
  {                                                                                                \
    (tag), (kind), offsetof(type, member), sizeof(((type *)0)->member)                             \
  }

/* A tag the table does not hold: 0 to go on (skipped or read), else rc. */
typedef int (*field_other_t)(const tlv_item_t *item, void *out, uint32_t *seen);

/* One requisite into the member its row names. */
static int read_one(const tlv_item_t *item, const field_t *row, void *out)
{
  void *to = (uint8_t *)out + row->offset;
  switch (row->kind) {
  case FIELD_U32:
    return tlv_get_uint32(item, to);
  case FIELD_TIME:
    return tlv_get_unixtime(item, to);
  case FIELD_BYTE:
    return tlv_get_byte(item, to);
  case FIELD_TEXT:
    return get_text(item, to, row->size);
  }
  return TLV_ERR_ARGUMENT;
}

/* The requisites every document's header may carry (doc_header_t). */
static const field_t header_fields[] = {
    FIELD(1040, FIELD_U32, doc_header_t, number),
    FIELD(1012, FIELD_TIME, doc_header_t, time),
    FIELD(1041, FIELD_TEXT, doc_header_t, fn_number),
    FIELD(1037, FIELD_TEXT, doc_header_t, kkt_reg_number),
    FIELD(1018, FIELD_TEXT, doc_header_t, user_inn),
    FIELD(1048, FIELD_TEXT, doc_header_t, user_name),
    FIELD(1021, FIELD_TEXT, doc_header_t, cashier),
    FIELD(1009, FIELD_TEXT, doc_header_t, address),
    FIELD(1187, FIELD_TEXT, doc_header_t, place),
    FIELD(1038, FIELD_U32, doc_header_t, shift_number),
    FIELD(1011, FIELD_BYTE, doc_header_t, timezone),
};

/* item into h when it is a header requisite: 0 read, 1 not one, else rc. */
static int header_field(const tlv_item_t *item, doc_header_t *h)
{
  for (size_t k = 0; k < sizeof header_fields / sizeof header_fields[0]; k++)
    if (header_fields[k].tag == item->tag) return read_one(item, &header_fields[k], h);
  return 1;
}

static int read_fields(tlv_reader_t *body, const field_t *table, size_t count, void *out,
                       uint32_t *seen, field_other_t other)
{
  tlv_item_t item;
  int rc;
  while ((rc = tlv_reader_next(body, &item)) == 0) {
    size_t k = 0;
    while (k < count && table[k].tag != item.tag) k++;
    if (k == count) {
      if (other && (rc = other(&item, out, seen)) != 0) return rc;
      continue;
    }
    if ((rc = seen_once(seen, (unsigned)k)) != 0) return rc;
    if ((rc = read_one(&item, &table[k], out)) != 0) return rc;
  }
  return rc == TLV_ERR_END ? 0 : rc;
}

/* A whole document of `form` from outside into out (size bytes, zeroed
** first) through its field table; *seen as read_fields() leaves it. */
static int read_document(const uint8_t *doc, size_t len, uint16_t form, const field_t *table,
                         size_t count, void *out, size_t size, uint32_t *seen, field_other_t other)
{
  tlv_item_t outer;
  tlv_reader_t body;
  int rc = open_document(doc, len, form, &outer, &body);
  if (rc != 0) return rc;
  memset(out, 0, size);
  *seen = 0;
  return read_fields(&body, table, count, out, seen, other);
}

/* Operator acknowledgement (7). Bits: 0 1017, 1 1041, 2 1040, 3 1012 (the
** table), 4 1068, 5 its 1022, 6 1078. */
static const field_t ack_fields[] = {
    FIELD(1017, FIELD_TEXT, doc_ack_t, ofd_inn),
    FIELD(1041, FIELD_TEXT, doc_ack_t, fn_number),
    FIELD(1040, FIELD_U32, doc_ack_t, document_number),
    FIELD(1012, FIELD_TIME, doc_ack_t, time),
};

static int ack_other(const tlv_item_t *item, void *out, uint32_t *seen)
{
  doc_ack_t *a = out;
  int rc;
  if (item->tag == 1068) {
    tlv_reader_t message;
    tlv_item_t inner;
    if ((rc = seen_once(seen, 4)) != 0) return rc;
    if ((rc = tlv_reader_enter(item, &message)) != 0) return rc;
    while ((rc = tlv_reader_next(&message, &inner)) == 0) {
      if (inner.tag == 1017) { /* where a real OFD writes its INN */
        if ((rc = seen_once(seen, 0)) != 0) return rc;
        if ((rc = get_text(&inner, a->ofd_inn, sizeof a->ofd_inn)) != 0) return rc;
      } else if (inner.tag == 1022) { /* the operator's text, 1047, if any, skipped */
        if ((rc = seen_once(seen, 5)) != 0) return rc;
        if ((rc = tlv_get_byte(&inner, &a->answer_code)) != 0) return rc;
      }
    }
    return rc == TLV_ERR_END ? 0 : rc;
  }
  if (item->tag == 1078) {
    const uint8_t *sign;
    size_t sign_len;
    if ((rc = seen_once(seen, 6)) != 0) return rc;
    if ((rc = tlv_get_bytes(item, &sign, &sign_len)) != 0) return rc;
    if (sign_len > sizeof a->operator_sign) return TLV_ERR_BAD_LENGTH;
    memcpy(a->operator_sign, sign, sign_len);
    a->operator_sign_len = sign_len;
  }
  return 0;
}

int doc_parse_ack(const uint8_t *doc, size_t len, doc_ack_t *out)
{
  doc_ack_t a;
  uint32_t seen;
  int rc;
  if (!out) return TLV_ERR_ARGUMENT;
  if ((rc = read_document(doc, len, DOC_OPERATOR_ACK, ack_fields,
                          sizeof ack_fields / sizeof ack_fields[0], &a, sizeof a, &seen,
                          ack_other)) != 0)
    return rc;
  /* 1017 (either place), 1012, 1068 {1022} and 1078 are mandatory; 1041
  ** and 1040 (bits 1 and 2) may come from the container's header. */
  if ((seen | 0x06u) != 0x7Fu) return DOC_ERR_MISSING;
  *out = a;
  return 0;
}

/* OISM answer (83); the bit of each requisite is its row. */
static const field_t km_answer_fields[] = {
    FIELD(2001, FIELD_U32, doc_km_answer_t, request_number),
    FIELD(2114, FIELD_TIME, doc_km_answer_t, request_time),
    FIELD(2000, FIELD_TEXT, doc_km_answer_t, km),
    FIELD(2100, FIELD_BYTE, doc_km_answer_t, km_type),
    FIELD(2102, FIELD_BYTE, doc_km_answer_t, km_mode),
    FIELD(2109, FIELD_BYTE, doc_km_answer_t, status_answer),
    FIELD(2105, FIELD_BYTE, doc_km_answer_t, processing_code),
    FIELD(2005, FIELD_BYTE, doc_km_answer_t, processing_results),
};

int doc_parse_km_answer(const uint8_t *doc, size_t len, doc_km_answer_t *out)
{
  doc_km_answer_t a;
  uint32_t seen;
  int rc;
  if (!out) return TLV_ERR_ARGUMENT;
  if ((rc = read_document(doc, len, DOC_KM_ANSWER, km_answer_fields,
                          sizeof km_answer_fields / sizeof km_answer_fields[0], &a, sizeof a, &seen,
                          NULL)) != 0)
    return rc;
  a.km_len = strlen(a.km);
  /* Without a processing code the answer says nothing; a request the OISM
  ** processed (2105 = 0) must carry its answer about the status (2109). */
  if (!(seen & (1u << 6))) return DOC_ERR_MISSING;
  if (a.processing_code == 0 && !(seen & (1u << 5))) return DOC_ERR_MISSING;
  *out = a;
  return 0;
}

/* OISM ticket (84). */
static const field_t km_ticket_fields[] = {
    FIELD(2002, FIELD_U32, doc_km_ticket_t, notification_number),
    FIELD(2111, FIELD_BYTE, doc_km_ticket_t, result),
    FIELD(2006, FIELD_BYTE, doc_km_ticket_t, processing_results),
};

int doc_parse_km_ticket(const uint8_t *doc, size_t len, doc_km_ticket_t *out)
{
  doc_km_ticket_t t;
  uint32_t seen;
  int rc;
  if (!out) return TLV_ERR_ARGUMENT;
  if ((rc = read_document(doc, len, DOC_KM_TICKET, km_ticket_fields,
                          sizeof km_ticket_fields / sizeof km_ticket_fields[0], &t, sizeof t, &seen,
                          NULL)) != 0)
    return rc;
  /* Which notification, and whether it was taken. */
  if ((seen & 0x3u) != 0x3u) return DOC_ERR_MISSING;
  *out = t;
  return 0;
}

/* ---------------------------------------------------------------------- */
/* JSON                                                                    */

/* Tags that may repeat in one list and always render as an array. */
static bool json_always_array(uint16_t tag) { return tag == 1059 || tag == 2007; }

/* Bytes as upper-case hex; NULL when out of memory. */
static json_t *json_hex(const uint8_t *data, size_t length)
{
  /* On the heap: an unknown tag may hold 64 KiB and this may recurse. */
  char *text = malloc(2 * length + 1);
  if (!text) return NULL;
  codec_hex_encode(data, length, CODEC_HEX_UPPER, text);
  json_t *value = json_stringn(text, 2 * length);
  free(text);
  return value;
}

static int json_list(tlv_reader_t *reader, json_t *object);

/* One requisite as a JSON value, typed by the dictionary. */
static int json_value(const tlv_item_t *item, json_t **value)
{
  const tlv_tag_info_t *info = tlv_tag_lookup(item->tag);
  int rc = 0;
  *value = NULL;
  if (!info) {
    *value = json_hex(item->value, item->length);
    return *value ? 0 : DOC_ERR_NO_MEMORY;
  }
  switch (info->type) {
  case TLV_TYPE_BYTE: {
    uint8_t v;
    if ((rc = tlv_get_byte(item, &v)) == 0) *value = json_integer(v);
    break;
  }
  case TLV_TYPE_UINT16: {
    uint16_t v;
    if ((rc = tlv_get_uint16(item, &v)) == 0) *value = json_integer(v);
    break;
  }
  case TLV_TYPE_UINT32: {
    uint32_t v;
    if ((rc = tlv_get_uint32(item, &v)) == 0) *value = json_integer(v);
    break;
  }
  case TLV_TYPE_UNIXTIME: {
    uint32_t v;
    if ((rc = tlv_get_unixtime(item, &v)) == 0) *value = json_integer(v);
    break;
  }
  case TLV_TYPE_VLN: {
    uint64_t v;
    if ((rc = tlv_get_vln(item, &v)) != 0) break;
    /* The dictionary caps amounts at 6 bytes; an 8-byte value past
    ** json_int_t would be a damaged document. */
    if (v > (uint64_t)INT64_MAX) return TLV_ERR_BAD_LENGTH;
    *value = json_integer((json_int_t)v);
    break;
  }
  case TLV_TYPE_FVLN: {
    tlv_fvln_t v;
    if ((rc = tlv_get_fvln(item, &v)) != 0) break;
    double number = (double)v.mantissa;
    for (unsigned i = 0; i < v.scale; i++) number /= 10.0;
    *value = json_real(number);
    break;
  }
  case TLV_TYPE_STRING: {
    /* The dictionary caps every string at 256 characters; a longer
    ** one is refused by the getter before it converts anything. */
    char text[TLV_STRING_UTF8_SIZE(256)];
    size_t length = 0;
    if ((rc = tlv_get_string(item, text, sizeof text, &length)) == 0)
      *value = json_stringn(text, length);
    break;
  }
  case TLV_TYPE_BYTES:
    *value = json_hex(item->value, item->length);
    break;
  case TLV_TYPE_STLV: {
    tlv_reader_t child;
    if ((rc = tlv_reader_enter(item, &child)) != 0) break;
    *value = json_object();
    if (!*value) break;
    if ((rc = json_list(&child, *value)) != 0) {
      json_decref(*value);
      *value = NULL;
    }
    break;
  }
  }
  if (rc != 0) return rc;
  return *value ? 0 : DOC_ERR_NO_MEMORY;
}

/* The key of a requisite: its FNS name, or its number for an unknown tag. */
static const char *json_key(uint16_t tag, char *buffer, size_t size)
{
  const tlv_tag_info_t *info = tlv_tag_lookup(tag);
  if (info && info->json_name) return info->json_name;
  snprintf(buffer, size, "%u", (unsigned)tag);
  return buffer;
}

/* Every requisite of a list into object; a repeated one becomes an array. */
static int json_list(tlv_reader_t *reader, json_t *object)
{
  tlv_item_t item;
  json_t *value = NULL;
  char number[8];
  int rc;
  while ((rc = tlv_reader_next(reader, &item)) == 0) {
    if ((rc = json_value(&item, &value)) != 0) goto fail;
    const char *key = json_key(item.tag, number, sizeof number);
    json_t *existing = json_object_get(object, key);
    if (!existing && json_always_array(item.tag)) {
      existing = json_array();
      if (!existing || json_object_set_new(object, key, existing) != 0) goto no_memory;
    }
    if (existing && !json_is_array(existing)) {
      /* A tag seen twice that the format lists once: keep both. */
      json_t *array = json_array();
      if (!array) goto no_memory;
      if (json_array_append(array, existing) != 0) {
        json_decref(array);
        goto no_memory;
      }
      /* set_new takes the array even when it fails. */
      if (json_object_set_new(object, key, array) != 0) goto no_memory;
      existing = array;
    }
    if (existing) {
      if (json_array_append_new(existing, value) != 0) {
        value = NULL; /* jansson frees it on failure */
        goto no_memory;
      }
    } else if (json_object_set_new(object, key, value) != 0) {
      value = NULL;
      goto no_memory;
    }
    value = NULL;
  }
  return rc == TLV_ERR_END ? 0 : rc;
no_memory:
  rc = DOC_ERR_NO_MEMORY;
fail:
  json_decref(value);
  return rc;
}

char *doc_to_json(const uint8_t *doc, size_t len, int *err)
{
  tlv_item_t outer;
  tlv_reader_t body;
  json_t *root = NULL, *form = NULL;
  char *text = NULL;
  int rc;
  if ((rc = open_document(doc, len, 0, &outer, &body)) != 0) goto fail;
  rc = DOC_ERR_NO_MEMORY;
  if (!(root = json_object()) || !(form = json_object())) goto fail;
  if (json_object_set_new(form, "code", json_integer(outer.tag)) != 0) goto fail;
  if ((rc = json_list(&body, form)) != 0) goto fail;
  rc = DOC_ERR_NO_MEMORY;
  if (json_object_set_new(root, tlv_tag_lookup(outer.tag)->json_name, form) != 0) {
    form = NULL;
    goto fail;
  }
  form = NULL;
  /* 15 digits: a quantity 0.1 prints as 0.1, not 0.10000000000000001. */
  text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
  if (!text) goto fail;
  rc = 0;
fail:
  json_decref(form);
  json_decref(root);
  if (err) *err = rc;
  return text;
}

/* ---------------------------------------------------------------------- */
/* Receipts read back from the archive                                     */

/* One 1059 into item (zeroed first). */
static int parse_item(const tlv_item_t *stlv, doc_item_t *item)
{
  tlv_reader_t r, sub;
  tlv_item_t x, y;
  tlv_fvln_t q;
  int rc;
  memset(item, 0, sizeof *item);
  if ((rc = tlv_reader_enter(stlv, &r)) != 0) return rc;
  while ((rc = tlv_reader_next(&r, &x)) == 0) {
    switch (x.tag) {
    case 1030:
      rc = get_text(&x, item->name, sizeof item->name);
      break;
    case 1079:
      rc = tlv_get_vln(&x, &item->price);
      break;
    case 1023:
      if ((rc = tlv_get_fvln(&x, &q)) == 0) item->quantity = (doc_quantity_t){q.mantissa, q.scale};
      break;
    case 1043:
      rc = tlv_get_vln(&x, &item->total);
      break;
    case 1199:
      rc = tlv_get_byte(&x, &item->vat);
      break;
    case 1212:
      rc = tlv_get_byte(&x, &item->subject);
      break;
    case 1214:
      rc = tlv_get_byte(&x, &item->payment_method);
      break;
    case 2108:
      rc = tlv_get_byte(&x, &item->measure);
      break;
    case 1163:
      if ((rc = tlv_reader_enter(&x, &sub)) != 0) break;
      if ((rc = tlv_reader_next(&sub, &y)) != 0) break;
      item->product_tag = y.tag;
      rc = get_text(&y, item->product_value, sizeof item->product_value);
      break;
    case 2000:
      item->marked = true;
      rc = get_text(&x, item->km, sizeof item->km);
      item->km_len = strlen(item->km);
      break;
    case 2100:
      rc = tlv_get_byte(&x, &item->km_type);
      break;
    case 2102:
      rc = tlv_get_byte(&x, &item->km_mode);
      break;
    case 2003:
    case 2110:
      rc = tlv_get_byte(&x, &item->km_status);
      break;
    case 2106:
      rc = tlv_get_byte(&x, &item->check_result);
      break;
    case 1260:
      item->has_industry = true;
      if ((rc = tlv_reader_enter(&x, &sub)) != 0) break;
      while (rc == 0 && (rc = tlv_reader_next(&sub, &y)) == 0) {
        if (y.tag == 1262)
          rc = get_text(&y, item->industry.authority, sizeof item->industry.authority);
        if (y.tag == 1263) rc = get_text(&y, item->industry.date, sizeof item->industry.date);
        if (y.tag == 1264) rc = get_text(&y, item->industry.number, sizeof item->industry.number);
        if (y.tag == 1265) rc = get_text(&y, item->industry.value, sizeof item->industry.value);
      }
      if (rc == TLV_ERR_END) rc = 0;
      break;
    default:
      item_extra(&x, item, &rc);
      break;
    }
    if (rc != 0) return rc;
  }
  return rc == TLV_ERR_END ? 0 : rc;
}

/* A receipt-level VAT sum into r (by its rate); any other tag is skipped. */
static int parse_vat_sum(const tlv_item_t *x, doc_receipt_t *r)
{
  for (size_t i = 0; i < VAT_RATE_COUNT; i++) {
    if (vat_rates[i].sum_tag != x->tag) continue;
    uint8_t value = vat_rates[i].value;
    r->vat_present = (uint16_t)(r->vat_present | (1u << value));
    return tlv_get_vln(x, &r->vat_sums[value]);
  }
  return 0;
}

/* The requisites each fiscal form must carry (doc_check_required). */
#define HEADER_TAGS 1040, 1012, 1041, 1037, 1018, 1048, 1209, 1077
static const struct {
  uint16_t form;
  uint16_t tags[24];
} required[] = {
    {DOC_REGISTRATION, {HEADER_TAGS, 1013, 1062, 1002, 1290, 1188, 1189, 1190}},
    {DOC_REREGISTRATION, {HEADER_TAGS, 1013, 1062, 1002, 1290, 1188, 1189, 1190, 1205}},
    {DOC_SHIFT_OPEN, {HEADER_TAGS, 1038, 1188, 1189}},
    {DOC_SHIFT_CLOSE, {HEADER_TAGS, 1038, 1118, 1111, 1097, 2104, 1194, 1157}},
    {DOC_STATE_REPORT, {HEADER_TAGS, 1097, 2104, 1157}},
    {DOC_RECEIPT, {HEADER_TAGS, 1038, 1042, 1054, 1055, 1059, 1020, 1031, 1081, 1215, 1216, 1217}},
    {DOC_CORRECTION,
     {HEADER_TAGS, 1038, 1042, 1054, 1055, 1173, 1174, 1059, 1020, 1031, 1081, 1215, 1216, 1217}},
    {DOC_FN_CLOSE, {HEADER_TAGS, 1038, 1097, 2104}},
};

int doc_check_required(const uint8_t *doc, size_t len, uint16_t *missing)
{
  tlv_item_t outer, x;
  tlv_reader_t body;
  int rc;
  if ((rc = open_document(doc, len, 0, &outer, &body)) != 0) return rc;
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
    if (required[i].form != outer.tag) continue;
    for (size_t k = 0; k < 24 && required[i].tags[k]; k++) {
      tlv_reader_t r = body;
      bool seen = false;
      while (!seen && (rc = tlv_reader_next(&r, &x)) == 0) seen = x.tag == required[i].tags[k];
      if (rc != 0 && rc != TLV_ERR_END) return rc;
      if (!seen) {
        if (missing) *missing = required[i].tags[k];
        return DOC_ERR_MISSING;
      }
    }
    return 0;
  }
  return DOC_ERR_WRONG_FORM;
}

int doc_check_sums(const uint8_t *doc, size_t len, doc_receipt_t *scratch)
{
  doc_header_t h;
  doc_summary_t sum;
  uint64_t total = 0, lines = 0;
  uint64_t gross[DOC_VAT_MAX + 1] = {0};
  uint16_t rates = 0;
  uint8_t sign[6];
  int rc;
  if (!scratch) return TLV_ERR_ARGUMENT;
  if ((rc = doc_summarize(doc, len, &sum)) != 0) return rc;
  if (sum.type != DOC_RECEIPT && sum.type != DOC_CORRECTION) return 0;
  if ((rc = doc_parse_receipt(doc, len, &h, scratch, &total, sign)) != 0) return rc;
  for (size_t i = 0; i < scratch->item_count; i++) {
    const doc_item_t *it = &scratch->items[i];
    if (it->total > AMOUNT_MAX || lines + it->total > AMOUNT_MAX) return DOC_ERR_TOTAL;
    lines += it->total;
    if (!doc_vat_rate(it->vat)) return DOC_ERR_TOTAL;
    gross[it->vat] += it->total;
    rates = (uint16_t)(rates | (1u << it->vat));
  }
  if (lines != total || scratch->cash > AMOUNT_MAX || scratch->cashless > AMOUNT_MAX ||
      scratch->prepaid > AMOUNT_MAX || scratch->credit > AMOUNT_MAX ||
      scratch->other > AMOUNT_MAX ||
      scratch->cash + scratch->cashless + scratch->prepaid + scratch->credit + scratch->other !=
          total)
    return DOC_ERR_TOTAL;
  if ((rc = doc_payment_rules(scratch)) != 0) return rc == TLV_ERR_ARGUMENT ? DOC_ERR_TOTAL : rc;
  if (scratch->vat_present != rates) return DOC_ERR_TOTAL;
  for (uint8_t v = 1; v <= DOC_VAT_MAX; v++)
    if ((rates & (1u << v)) && scratch->vat_sums[v] != doc_vat_amount(v, gross[v]))
      return DOC_ERR_TOTAL;
  return 0;
}

int doc_parse_registration(const uint8_t *doc, size_t len, doc_header_t *h, doc_registration_t *r)
{
  tlv_item_t outer, x;
  tlv_reader_t body;
  uint8_t autonomous = 0;
  uint32_t usage = 0;
  int rc;
  if (!h || !r) return TLV_ERR_ARGUMENT;
  if ((rc = open_document(doc, len, 0, &outer, &body)) != 0) return rc;
  if (outer.tag != DOC_REGISTRATION && outer.tag != DOC_REREGISTRATION) return DOC_ERR_WRONG_FORM;
  memset(h, 0, sizeof *h);
  memset(r, 0, sizeof *r);
  while ((rc = tlv_reader_next(&body, &x)) == 0) {
    if ((rc = header_field(&x, h)) != 1) {
      if (rc != 0) return rc;
      continue;
    }
    rc = 0; /* a requisite the cases below do not name is skipped */
    switch (x.tag) {
    case 1002:
      rc = tlv_get_byte(&x, &autonomous);
      break;
    case 1209:
      rc = tlv_get_byte(&x, &r->ffd_version);
      break;
    case 1013:
      rc = get_text(&x, r->kkt_serial, sizeof r->kkt_serial);
      break;
    case 1062:
      rc = tlv_get_byte(&x, &r->tax_systems);
      break;
    case 1290:
      rc = tlv_get_uint32(&x, &usage);
      break;
    case 1017:
      rc = get_text(&x, r->ofd_inn, sizeof r->ofd_inn);
      break;
    case 1046:
      rc = get_text(&x, r->ofd_name, sizeof r->ofd_name);
      break;
    case 1205:
      rc = tlv_get_uint32(&x, &r->reason_mask);
      break;
    default:
      break;
    }
    if (rc != 0) return rc;
  }
  if (rc != TLV_ERR_END) return rc;
  h->autonomous = autonomous != 0;
  r->marking = (usage & USAGE_MARKED_GOODS) != 0;
  return 0;
}

int doc_parse_receipt(const uint8_t *doc, size_t len, doc_header_t *h, doc_receipt_t *r,
                      uint64_t *total, uint8_t sign[6])
{
  tlv_item_t outer, x;
  tlv_reader_t body;
  const uint8_t *bytes;
  size_t n;
  int rc;
  if (!h || !r || !total || !sign) return TLV_ERR_ARGUMENT;
  if ((rc = open_document(doc, len, 0, &outer, &body)) != 0) return rc;
  if (outer.tag != DOC_RECEIPT && outer.tag != DOC_CORRECTION) return DOC_ERR_WRONG_FORM;
  memset(h, 0, sizeof *h);
  /* All but the items, which are cleared one by one as they are read
  ** (a receipt of two lines need not clear a hundred). */
  memset(r, 0, offsetof(doc_receipt_t, items));
  memset(&r->cash, 0, sizeof *r - offsetof(doc_receipt_t, cash));
  *total = 0;
  memset(sign, 0, 6);
  while ((rc = tlv_reader_next(&body, &x)) == 0) {
    if ((rc = header_field(&x, h)) != 1) {
      if (rc != 0) return rc;
      continue;
    }
    rc = 0; /* a requisite the cases below do not name is skipped */
    switch (x.tag) {
    case 1125: {
      uint8_t internet = 0;
      rc = tlv_get_byte(&x, &internet);
      r->internet = internet != 0;
      break;
    }
    case 1008:
      rc = get_text(&x, r->buyer_contact, sizeof r->buyer_contact);
      break;
    case 1054:
      rc = tlv_get_byte(&x, &r->operation);
      break;
    case 1055:
      rc = tlv_get_byte(&x, &r->tax_system);
      break;
    case 1042:
      rc = tlv_get_uint32(&x, &r->receipt_number);
      break;
    case 1031:
      rc = tlv_get_vln(&x, &r->cash);
      break;
    case 1081:
      rc = tlv_get_vln(&x, &r->cashless);
      break;
    case 1215:
      rc = tlv_get_vln(&x, &r->prepaid);
      break;
    case 1216:
      rc = tlv_get_vln(&x, &r->credit);
      break;
    case 1217:
      rc = tlv_get_vln(&x, &r->other);
      break;
    case 1020:
      rc = tlv_get_vln(&x, total);
      break;
    case 1077:
      if ((rc = tlv_get_bytes(&x, &bytes, &n)) == 0 && n == 6) memcpy(sign, bytes, 6);
      break;
    case 1059:
      if (r->item_count >= DOC_MAX_ITEMS) return TLV_ERR_NO_SPACE;
      rc = parse_item(&x, &r->items[r->item_count++]);
      break;
    default:
      rc = parse_vat_sum(&x, r);
      break;
    }
    if (rc != 0) return rc;
  }
  return rc == TLV_ERR_END ? 0 : rc;
}

const char *doc_quantity_text(doc_quantity_t q, char *buf, size_t size)
{
  unsigned scale = q.scale > 6 ? 6 : q.scale;
  uint64_t div = 1;
  for (unsigned i = 0; i < scale; i++) div *= 10;
  if (scale == 0)
    snprintf(buf, size, "%llu", (unsigned long long)q.mantissa);
  else
    snprintf(buf, size, "%llu.%0*llu", (unsigned long long)(q.mantissa / div), (int)scale,
             (unsigned long long)(q.mantissa % div));
  return buf;
}

bool doc_quantity_parse(const char *text, unsigned max_scale, doc_quantity_t *q)
{
  uint64_t m = 0;
  unsigned scale = 0, digits = 0;
  bool point = false;
  if (!text || !q) return false;
  for (const char *p = text; *p; p++) {
    if (*p == '.' && !point && digits > 0) {
      point = true;
      continue;
    }
    if (*p < '0' || *p > '9' || m > (UINT64_MAX - 9) / 10) return false;
    m = m * 10 + (uint64_t)(*p - '0');
    digits++;
    if (point) scale++;
  }
  if (digits == 0 || (point && scale == 0) || scale > max_scale) return false;
  *q = (doc_quantity_t){m, (uint8_t)scale};
  return true;
}
