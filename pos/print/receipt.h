/*
** receipt.h: the printed form of a receipt, rendered from the FN archive.
**
** A receipt is printed (and reprinted, and shown on a page) from the
** document the FN signed, never from the basket that led to it, so every
** copy says what the fiscal storage says. The text and its styled lines
** come from one layout (receipt_text.c); ESC/POS (print.h), the CLI and
** the HTTP API only present it.
*/
#ifndef KASSA_POS_PRINT_RECEIPT_H
#define KASSA_POS_PRINT_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "pos/till/till.h"

/*
** The printed receipt of FN document `number` as UTF-8 text `width`
** characters wide (32 for 58 mm, 48 for 80 mm): header, each line with its
** mark ([М+] ...) before the name, totals, payments, FN, FD, FP and the QR
** string on the last line. Rendered from the archive, so a reprint is the
** same. Returns a malloc'd string (free it) or NULL with *err a negative
** fn_err_t or doc error.
*/
char *receipt_text(till_t *t, uint32_t number, unsigned width, int *err);

/*
** The same receipt as lines a printer driver can style (pos/print/print.h), so
** the layout lives in one place (receipt_text.c). Each line is a span of
** `text` (no newline) with what it is: the seller's name and the
** document's title are headings, ИТОГ the total, and the lines carrying
** the QR string are QR text, which a printer replaces with the QR picture.
*/
typedef enum receipt_style {
  RECEIPT_PLAIN = 0,
  RECEIPT_HEADING = 1, /* seller, КАССОВЫЙ ЧЕК, operation */
  RECEIPT_TOTAL = 2,   /* ИТОГ */
  RECEIPT_QR_TEXT = 3, /* "QR: t=...": the QR string written out */
} receipt_style_t;

typedef struct receipt_line {
  size_t offset, length; /* text[offset .. offset + length), UTF-8 */
  receipt_style_t style;
} receipt_line_t;

typedef struct receipt_layout {
  char *text;            /* exactly what receipt_text() returns */
  receipt_line_t *lines; /* one per newline of text */
  size_t line_count;
  char qr[256]; /* the receipt QR string; "" when it could not be made */
} receipt_layout_t;

/* Renders FN document `number` like receipt_text() into *out (zeroed
** first; free it with receipt_layout_free). Returns 0, or a negative
** fn_err_t or doc error with *out empty. */
int receipt_layout(till_t *t, uint32_t number, unsigned width, receipt_layout_t *out);

/* The drawer's figures a printed X/Z shows (pos/till/drawer.h). */
typedef struct report_drawer {
  uint64_t cash_in, cash_out, balance;
} report_drawer_t;

/*
** An X-report (21) or Z-report (5) as printed lines, from the sealed
** document doc[0..len): the title (heading), the seller, the shift, per
** operation the count, total, cash, cashless and VAT of its receipts (1194;
** 1157 when the document has no 1194), the corrections, the drawer (when
** drawer is not NULL), FN, FD and FP. No QR. Same styles and width rules as
** receipt_layout(); free with receipt_layout_free(). 0, or
** DOC_ERR_WRONG_FORM for another form, FN_ERR_NO_MEMORY, a doc error.
*/
int report_layout(const uint8_t *doc, size_t len, const report_drawer_t *drawer, unsigned width,
                  receipt_layout_t *out);

/* Frees what receipt_layout() allocated and zeroes *layout (NULL-safe). */
void receipt_layout_free(receipt_layout_t *layout);

#endif /* KASSA_POS_PRINT_RECEIPT_H */
