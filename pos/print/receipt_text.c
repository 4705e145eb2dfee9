/*
** receipt_text.c: the printed form of a receipt, rendered from the FN
** archive (receipt_text in pos/print/receipt.h).
**
** The text is built from the sealed document, not from the basket, so a
** reprint months later is the same receipt the customer got, and what is
** printed can never say something the FN did not sign. Lines are UTF-8 and
** `width` characters wide (32 for 58 mm paper, 48 for 80 mm); a printer
** driver converts them to its code page. Each marked line starts with its
** 2106 mark ([М+], [М-], [М]) as the format requires.
**
** The same rendering also records where each line starts and what it is
** (heading, total, the QR string): receipt_layout() hands that to the
** ESC/POS printer driver (pos/print/print.c), which sets headings bold and
** prints the QR picture instead of its text, without a second layout.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fiscal/doc.h"
#include "pos/print/receipt.h"
#include "pos/till/check.h"
#include "pos/till/sale.h"

typedef struct out {
  char *buf;
  size_t len, cap;
  unsigned width;
  bool failed;
  /* Lines as they are completed, each with the style current then. */
  receipt_line_t *lines;
  size_t line_count, line_cap, line_start;
  receipt_style_t style;
} out_t;

/* Records the line ending at o->len (before its newline). */
static void line_done(out_t *o)
{
  if (o->line_count == o->line_cap) {
    size_t cap = o->line_cap ? o->line_cap * 2 : 64;
    receipt_line_t *l = realloc(o->lines, cap * sizeof *l);
    if (!l) {
      o->failed = true;
      return;
    }
    o->lines = l;
    o->line_cap = cap;
  }
  o->lines[o->line_count++] = (receipt_line_t){
      .offset = o->line_start, .length = o->len - o->line_start, .style = o->style};
}

/* Characters (not bytes) of UTF-8 text. */
static size_t chars(const char *s, size_t n)
{
  size_t c = 0;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
  return c;
}

static void put(out_t *o, const char *s, size_t n)
{
  if (o->failed) return;
  if (o->len + n + 1 > o->cap) {
    size_t cap = (o->cap + n + 1) * 2;
    char *b = realloc(o->buf, cap);
    if (!b) {
      o->failed = true;
      return;
    }
    o->buf = b;
    o->cap = cap;
  }
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '\n') {
      o->buf[o->len++] = s[i];
      continue;
    }
    line_done(o);
    o->buf[o->len++] = '\n';
    o->line_start = o->len;
  }
  o->buf[o->len] = '\0';
}

/* Byte length of the first `n` characters of s. */
static size_t prefix_bytes(const char *s, size_t n)
{
  size_t i = 0, c = 0;
  while (s[i] && c < n) {
    i++;
    while (((unsigned char)s[i] & 0xC0) == 0x80) i++;
    c++;
  }
  return i;
}

/* Text wrapped to the width; `indent` spaces before continuation lines.
** Lines break after the last space that fits, so a customer reads whole
** words ("Кроссовки беговые" / "мужские", not "мужс" / "кие"); a word
** longer than a line (a QR string) is cut where the line ends. */
static void wrapped(out_t *o, const char *text, unsigned indent)
{
  size_t first = 1;
  while (*text) {
    size_t room = o->width - (first ? 0 : indent);
    size_t take = prefix_bytes(text, room), next = take;
    if (text[take]) {
      size_t space = take, word;
      while (space > 0 && text[space] != ' ') space--;
      word = strcspn(text + space + 1, " ");
      /* Only when the word then fits a line of its own: a QR string
      ** would be cut anyway, so it stays after its label. */
      if (space > 0 && chars(text + space + 1, word) <= o->width - indent) {
        take = space;     /* the line ends before the space */
        next = space + 1; /* the next starts after it */
      }
    }
    if (!first)
      for (unsigned i = 0; i < indent; i++) put(o, " ", 1);
    put(o, text, take);
    put(o, "\n", 1);
    text += next;
    first = 0;
  }
}

/* left ...... right on one line (right wins when both do not fit). */
static void columns(out_t *o, const char *left, const char *right)
{
  size_t l = chars(left, strlen(left)), r = chars(right, strlen(right));
  if (l + r + 1 > o->width) {
    wrapped(o, left, 0);
    l = 0;
    left = "";
  }
  put(o, left, strlen(left));
  for (size_t i = l + r; r > 0 && i < o->width; i++) put(o, " ", 1);
  put(o, right, strlen(right));
  put(o, "\n", 1);
}

static void centered(out_t *o, const char *text)
{
  size_t n = chars(text, strlen(text));
  if (n >= o->width) {
    wrapped(o, text, 0);
    return;
  }
  for (size_t i = 0; i < (o->width - n) / 2; i++) put(o, " ", 1);
  put(o, text, strlen(text));
  put(o, "\n", 1);
}

static void rule(out_t *o)
{
  for (unsigned i = 0; i < o->width; i++) put(o, "-", 1);
  put(o, "\n", 1);
}

static const char *money(uint64_t kopecks, char *buf, size_t size)
{
  snprintf(buf, size, "=%llu.%02llu", (unsigned long long)(kopecks / 100),
           (unsigned long long)(kopecks % 100));
  return buf;
}

/* A line's rate as printed (the wording is fiscal/doc.c's table). */
static const char *vat_name(uint8_t vat)
{
  const doc_vat_rate_t *v = doc_vat_rate(vat);
  return v ? v->label : "НДС";
}

/* 1214 as a receipt prints it. */
/* 1222 as printed: the kind of agent a line is sold by. */
static const char *agent_name(uint8_t sign)
{
  static const char *const names[7] = {
      "БАНК. ПЛ. АГЕНТ", "БАНК. ПЛ. СУБАГЕНТ", "ПЛ. АГЕНТ", "ПЛ. СУБАГЕНТ",
      "ПОВЕРЕННЫЙ",      "КОМИССИОНЕР",        "АГЕНТ"};
  for (unsigned i = 0; i < 7; i++)
    if (sign == (1u << i)) return names[i];
  return "АГЕНТ";
}

static const char *pay_method_name(uint8_t method)
{
  static const char *const names[8] = {"",
                                       "ПРЕДОПЛАТА 100%",
                                       "ПРЕДОПЛАТА",
                                       "АВАНС",
                                       "ПОЛНЫЙ РАСЧЕТ",
                                       "ЧАСТИЧНЫЙ РАСЧЕТ И КРЕДИТ",
                                       "ПЕРЕДАЧА В КРЕДИТ",
                                       "ОПЛАТА КРЕДИТА"};
  return method < 8 ? names[method] : "";
}

static const char *operation_name(uint8_t op)
{
  switch (op) {
  case 1:
    return "ПРИХОД";
  case 2:
    return "ВОЗВРАТ ПРИХОДА";
  case 3:
    return "РАСХОД";
  case 4:
    return "ВОЗВРАТ РАСХОДА";
  default:
    return "ЧЕК";
  }
}

/* Renders document `number` into o (its buffer and lines) and the QR
** string into qr ("" when none). Returns 0 or a negative fn_err_t / doc
** error; o is the caller's to free either way. */
static int render(till_t *t, uint32_t number, out_t *o_, char qr[256])
{
  static fn_document_t doc; /* the till is single-threaded */
  doc_receipt_t *r = NULL;
  doc_header_t h;
  uint64_t total = 0;
  uint8_t sign[6];
  char a[96], b[96], line[640];
  out_t o = *o_;
  int rc;
  qr[0] = '\0';
  if (!t) {
    rc = FN_ERR_PARAMS;
    goto fail;
  }
  if ((rc = fn_document_get(till_fn(t), number, &doc)) != 0) goto fail;
  if (!(r = malloc(sizeof *r))) {
    rc = FN_ERR_NO_MEMORY;
    goto fail;
  }
  if ((rc = doc_parse_receipt(doc.data, doc.len, &h, r, &total, sign)) != 0) goto fail;

  o.style = RECEIPT_HEADING;
  centered(&o, h.user_name);
  o.style = RECEIPT_PLAIN;
  if (h.address[0]) centered(&o, h.address);
  if (h.place[0]) centered(&o, h.place);
  snprintf(line, sizeof line, "ИНН %s", h.user_inn);
  centered(&o, line);
  rule(&o);
  o.style = RECEIPT_HEADING;
  centered(&o, doc.type == DOC_CORRECTION ? "ЧЕК КОРРЕКЦИИ" : "КАССОВЫЙ ЧЕК");
  centered(&o, operation_name(r->operation));
  o.style = RECEIPT_PLAIN;
  snprintf(a, sizeof a, "Чек № %u", r->receipt_number);
  snprintf(b, sizeof b, "Смена № %u", h.shift_number);
  columns(&o, a, b);
  time_t when = (time_t)h.time;
  struct tm tm;
  gmtime_r(&when, &tm); /* 1012 is local time written as if UTC */
  strftime(a, sizeof a, "%d.%m.%Y %H:%M", &tm);
  columns(&o, a, "");
  if (h.cashier[0]) {
    snprintf(line, sizeof line, "Кассир: %s", h.cashier);
    wrapped(&o, line, 2);
  }
  rule(&o);
  for (size_t i = 0; i < r->item_count; i++) {
    const doc_item_t *it = &r->items[i];
    snprintf(line, sizeof line, "%s%s%s", it->marked ? check_mark_for(it->check_result) : "",
             it->marked ? " " : "", it->name);
    wrapped(&o, line, 2);
    char q[48], p[48];
    doc_quantity_text(it->quantity, q, sizeof q);
    if (it->fraction_denominator) /* 1291: the part of the pack, "1/4" */
      snprintf(q, sizeof q, "%llu/%llu", (unsigned long long)it->fraction_numerator,
               (unsigned long long)it->fraction_denominator);
    snprintf(a, sizeof a, "  %s%s x %llu.%02llu", q, it->measure == 11 ? " кг" : "",
             (unsigned long long)(it->price / 100), (unsigned long long)(it->price % 100));
    columns(&o, a, money(it->total, p, sizeof p));
    snprintf(a, sizeof a, "  %s", vat_name(it->vat));
    columns(&o, a, "");
    /* An agent's line: the kind of agent (1222) and the supplier (1224, 1226). */
    if (it->agent.sign) {
      snprintf(a, sizeof a, "  %s", agent_name(it->agent.sign));
      columns(&o, a, "");
      snprintf(line, sizeof line, "  Поставщик: %s, ИНН %s", it->agent.supplier_name,
               it->agent.supplier_inn);
      wrapped(&o, line, 4);
    }
    /* The settlement method is printed when it is not a full settlement. */
    if (it->payment_method && it->payment_method != 4) {
      snprintf(a, sizeof a, "  %s", pay_method_name(it->payment_method));
      columns(&o, a, "");
    }
  }
  rule(&o);
  o.style = RECEIPT_TOTAL;
  columns(&o, "ИТОГ", money(total, a, sizeof a));
  o.style = RECEIPT_PLAIN;
  if (r->cash) columns(&o, "Наличными", money(r->cash, a, sizeof a));
  if (r->cashless) columns(&o, "Безналичными", money(r->cashless, a, sizeof a));
  if (r->prepaid) columns(&o, "Предоплатой (зачет аванса)", money(r->prepaid, a, sizeof a));
  if (r->credit) columns(&o, "Постоплатой (в кредит)", money(r->credit, a, sizeof a));
  if (r->other) columns(&o, "Встречным предоставлением", money(r->other, a, sizeof a));
  /* The receipt-level VAT sums as the FN signed them, in the document's
  ** order (by tag): "НДС 22% =18.03", "Сумма без НДС =100.00". */
  for (size_t i = 0; i < doc_vat_rate_count(); i++) {
    const doc_vat_rate_t *v = doc_vat_rate_at(i);
    if (r->vat_present & (1u << v->value))
      columns(&o, v->sum_label, money(r->vat_sums[v->value], a, sizeof a));
  }
  rule(&o);
  snprintf(a, sizeof a, "РН ККТ %s", h.kkt_reg_number);
  columns(&o, a, "");
  snprintf(a, sizeof a, "ФН %s", h.fn_number);
  columns(&o, a, "");
  uint32_t fp = doc_fiscal_sign_printed(sign);
  snprintf(a, sizeof a, "ФД %u", h.number);
  snprintf(b, sizeof b, "ФП %u", fp);
  columns(&o, a, b);
  if (doc_receipt_qr(&h, total, r->operation, fp, qr, 256) == 0) {
    snprintf(line, sizeof line, "QR: %s", qr);
    o.style = RECEIPT_QR_TEXT;
    wrapped(&o, line, 0);
    o.style = RECEIPT_PLAIN;
  } else {
    qr[0] = '\0';
  }
  rc = o.failed ? FN_ERR_NO_MEMORY : 0;
fail:
  free(r);
  *o_ = o;
  return rc;
}

char *receipt_text(till_t *t, uint32_t number, unsigned width, int *err)
{
  out_t o = {.width = width < 24 ? 24 : width > 64 ? 64 : width};
  char qr[256];
  int dummy;
  if (!err) err = &dummy;
  *err = render(t, number, &o, qr);
  free(o.lines);
  if (*err != 0) {
    free(o.buf);
    return NULL;
  }
  return o.buf;
}

int receipt_layout(till_t *t, uint32_t number, unsigned width, receipt_layout_t *out)
{
  out_t o = {.width = width < 24 ? 24 : width > 64 ? 64 : width};
  int rc;
  if (!out) return FN_ERR_PARAMS;
  memset(out, 0, sizeof *out);
  if ((rc = render(t, number, &o, out->qr)) != 0) {
    free(o.buf);
    free(o.lines);
    out->qr[0] = '\0';
    return rc;
  }
  out->text = o.buf;
  out->lines = o.lines;
  out->line_count = o.line_count;
  return 0;
}

/* The title and heading of each kind of counters in a printed report. */
static const char *const report_ops[5] = {"", "ПРИХОД", "ВОЗВРАТ ПРИХОДА", "РАСХОД",
                                          "ВОЗВРАТ РАСХОДА"};

static void report_op(out_t *o, const char *title, const doc_op_totals_t *t, bool payments)
{
  char a[96], b[48];
  if (!t->count) return;
  snprintf(a, sizeof a, "%s (%u)", title, t->count);
  columns(o, a, money(t->total, b, sizeof b));
  if (payments) {
    if (t->cash) columns(o, "  Наличными", money(t->cash, b, sizeof b));
    if (t->cashless) columns(o, "  Безналичными", money(t->cashless, b, sizeof b));
    if (t->prepaid) columns(o, "  Предоплатой", money(t->prepaid, b, sizeof b));
    if (t->credit) columns(o, "  В кредит", money(t->credit, b, sizeof b));
    if (t->other) columns(o, "  Встречным предост.", money(t->other, b, sizeof b));
  }
  for (size_t i = 0; i < doc_vat_rate_count(); i++) {
    const doc_vat_rate_t *v = doc_vat_rate_at(i);
    if (!(t->vat_present & (1u << v->value))) continue;
    snprintf(a, sizeof a, "  %s", v->sum_label);
    columns(o, a, money(t->vat[v->value], b, sizeof b));
  }
}

int report_layout(const uint8_t *doc, size_t len, const report_drawer_t *drawer, unsigned width,
                  receipt_layout_t *out)
{
  out_t o = {.width = width < 24 ? 24 : width > 64 ? 64 : width};
  static doc_totals_t totals; /* the till is single-threaded */
  doc_summary_t sum;
  doc_header_t h;
  char a[96], b[96];
  int rc;
  if (!out) return FN_ERR_PARAMS;
  memset(out, 0, sizeof *out);
  if ((rc = doc_summarize(doc, len, &sum)) != 0) return rc;
  if (sum.type != DOC_SHIFT_CLOSE && sum.type != DOC_STATE_REPORT) return DOC_ERR_WRONG_FORM;
  bool shift = doc_parse_totals(doc, len, 1194, &totals) == 0;
  if (!shift && (rc = doc_parse_totals(doc, len, 1157, &totals)) != 0) return rc;
  /* The seller from the document's own header requisites. */
  memset(&h, 0, sizeof h);
  {
    tlv_reader_t top, body;
    tlv_item_t outer, x;
    tlv_reader_init(&top, doc, len);
    if (tlv_reader_next(&top, &outer) == 0 && tlv_reader_enter(&outer, &body) == 0)
      while (tlv_reader_next(&body, &x) == 0) {
        char *field = x.tag == 1048   ? h.user_name
                      : x.tag == 1009 ? h.address
                      : x.tag == 1018 ? h.user_inn
                      : x.tag == 1041 ? h.fn_number
                      : x.tag == 1037 ? h.kkt_reg_number
                                      : NULL;
        size_t cap = x.tag == 1018   ? sizeof h.user_inn
                     : x.tag == 1041 ? sizeof h.fn_number
                     : x.tag == 1037 ? sizeof h.kkt_reg_number
                                     : sizeof h.user_name;
        size_t got = 0;
        if (field && tlv_get_string(&x, field, cap, &got) != 0) field[0] = '\0';
      }
  }
  o.style = RECEIPT_HEADING;
  centered(&o, h.user_name);
  o.style = RECEIPT_PLAIN;
  if (h.address[0]) centered(&o, h.address);
  snprintf(a, sizeof a, "ИНН %s", h.user_inn);
  centered(&o, a);
  rule(&o);
  o.style = RECEIPT_HEADING;
  centered(&o, sum.type == DOC_SHIFT_CLOSE ? "ОТЧЕТ О ЗАКРЫТИИ СМЕНЫ" : "ОТЧЕТ О ТЕКУЩЕМ");
  if (sum.type == DOC_STATE_REPORT) centered(&o, "СОСТОЯНИИ РАСЧЕТОВ");
  o.style = RECEIPT_PLAIN;
  snprintf(a, sizeof a, "Смена № %u", sum.shift_number);
  time_t when = (time_t)sum.time;
  struct tm tm;
  gmtime_r(&when, &tm); /* 1012 is local time written as if UTC */
  strftime(b, sizeof b, "%d.%m.%Y %H:%M", &tm);
  columns(&o, sum.shift_number ? a : "", b);
  rule(&o);
  centered(&o, shift ? "ИТОГИ СМЕНЫ" : "ИТОГИ ФН");
  bool any = false;
  for (int op = 1; op <= 4; op++) {
    any |= totals.receipts[op].count || totals.corrections[op].count;
    report_op(&o, report_ops[op], &totals.receipts[op], true);
  }
  for (int op = 1; op <= 4; op++) {
    snprintf(a, sizeof a, "КОРР. %s", report_ops[op]);
    report_op(&o, a, &totals.corrections[op], false);
  }
  if (!any) centered(&o, "РАСЧЕТОВ НЕ БЫЛО");
  if (drawer) {
    rule(&o);
    columns(&o, "Внесено", money(drawer->cash_in, b, sizeof b));
    columns(&o, "Выплачено", money(drawer->cash_out, b, sizeof b));
    o.style = RECEIPT_TOTAL;
    columns(&o, "В КАССЕ", money(drawer->balance, b, sizeof b));
    o.style = RECEIPT_PLAIN;
  }
  rule(&o);
  snprintf(a, sizeof a, "РН ККТ %s", h.kkt_reg_number);
  columns(&o, a, "");
  snprintf(a, sizeof a, "ФН %s", h.fn_number);
  columns(&o, a, "");
  snprintf(a, sizeof a, "ФД %u", sum.number);
  snprintf(b, sizeof b, "ФП %u", sum.has_sign ? doc_fiscal_sign_printed(sum.sign) : 0);
  columns(&o, a, b);
  if (o.failed) {
    free(o.buf);
    free(o.lines);
    return FN_ERR_NO_MEMORY;
  }
  out->text = o.buf;
  out->lines = o.lines;
  out->line_count = o.line_count;
  return 0;
}

void receipt_layout_free(receipt_layout_t *layout)
{
  if (!layout) return;
  free(layout->text);
  free(layout->lines);
  memset(layout, 0, sizeof *layout);
}
