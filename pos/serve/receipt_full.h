/*
** receipt_full.h: what the two drop-in doors of `kassa serve` share, the
** receipt in one call (POST /api/receipts/full, receipt_full.c) and the
** ATOL-style JSON tasks (POST /api/v2/requests, atol.c), and the safe
** retries of every state-changing request (retry.c).
**
** Both doors read a receipt into one full_receipt_t (pos/till/full_receipt.h)
** and close it through full_receipt_close(), so the same receipt sent
** either way makes the same fiscal document; the enumerations they share
** take ATOL's published names (vat22, fullPayment, commodityWithMarking,
** kilogram, commissionAgent ...), which front ends already send, or the
** FFD numbers themselves.
*/
#ifndef KASSA_POS_SERVE_RECEIPT_FULL_H
#define KASSA_POS_SERVE_RECEIPT_FULL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "pos/serve/api.h"
#include "pos/serve/frontend.h"
#include "pos/till/full_receipt.h"

/*
** The answer to a closed receipt, made from the FN archive alone (so a
** retried request after a crash gets the very answer the crash swallowed):
** {"ok":true,"receipt":{document, time, fiscal_sign, fn_number, shift,
** receipt, operation, total, cash, cashless, prepaid, credit, other,
** tendered, change, lines, marked_lines, qr, qr_png, text,
** buyer_contact}}; text
** `width` characters wide. NULL when the document is not a receipt.
*/
json_t *receipt_full_answer(till_t *t, uint32_t document, unsigned width, uint64_t tendered);

/* The width and tendered cash a receipt request asked for (defaults 48, 0):
** what receipt_full_answer needs to answer a retry. */
void receipt_full_answer_options(json_t *body, unsigned *width, uint64_t *tendered);

/* Tests only: with KASSA_TEST_FAULT=point the process ends here (exit 86).
** "after_close": right after the FN closed a receipt and before any answer
** is made or stored (both doors call it there); "before_close": a receipt
** in one call, its key claimed, before the FN hears of it. */
void receipt_full_fault_point(const char *point);

/* Each line's verdict of a refused receipt, as JSON [{line, allow, reason,
** message_ru, message_en, field?, decision?}] (results: count entries). */
json_t *receipt_full_refusals(const full_line_result_t *results, size_t count);

#endif /* KASSA_POS_SERVE_RECEIPT_FULL_H */
