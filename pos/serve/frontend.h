/*
** frontend.h: a front end's words for a line, read from JSON: ATOL's
** published names of the FFD enumerations (vat22, fullPayment,
** commodityWithMarking, kilogram, commissionAgent ...) or the FFD numbers,
** an agent's data, the buyer's contact and the fraction of a marked pack.
**
** Shared by the three doors that take a line from a front end: the
** basket's scan (POST /api/receipts/current/items, api.c), the receipt in
** one call (receipt_full.c) and the ATOL-style tasks (atol.c), so a field
** means the same wherever it is sent. Only jansson and fiscal/doc.h: api.c
** may use it without reaching back into the doors built on api.h.
*/
#ifndef KASSA_POS_SERVE_FRONTEND_H
#define KASSA_POS_SERVE_FRONTEND_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "fiscal/doc.h"

/* ATOL's names (or the number, as JSON integer) -> the FFD value. false
** for anything else. vat: 1199; method: 1214; subject: 1212; measure:
** 2108; agent: one bit of 1222. */
bool frontend_vat(json_t *v, uint8_t *out);
bool frontend_method(json_t *v, uint8_t *out);
bool frontend_subject(json_t *v, uint8_t *out);
bool frontend_measure(json_t *v, uint8_t *out);
bool frontend_agent_bit(json_t *v, uint8_t *out);

/* The JSON keys of an agent's data: kassa's own (snake_case) or ATOL's. */
typedef struct frontend_agent_keys {
  const char *agents, *paying_agent, *receive_operator, *transfer_operator, *inn;
} frontend_agent_keys_t;

extern const frontend_agent_keys_t frontend_agent_keys_kassa, frontend_agent_keys_atol;

/* An agent's data (agent_info: the agents and their operators; supplier:
** phones, name and INN; either may be NULL) into *out. 0, or -1 with
** *field naming what is wrong. */
int frontend_agent(json_t *agent_info, json_t *supplier, const frontend_agent_keys_t *keys,
                   doc_agent_t *out, const char **field);

/* The buyer's phone or e-mail (1008): 1..64 printable ASCII characters
** into out; 0, or -1. */
int frontend_buyer_contact(json_t *v, char out[65]);

/* A fraction "n/d" (ATOL's itemFractionalAmount) or {"numerator","denominator"}. */
bool frontend_fraction(json_t *v, uint64_t *numerator, uint64_t *denominator);

#endif /* KASSA_POS_SERVE_FRONTEND_H */
