/*
** till_json.h: the till's results as JSON (jansson), one shape for the
** `kassa sale --json` CLI and the HTTP API, so scripts and front ends see
** the same field names. Every function returns a new reference (NULL only
** when out of memory). Field names are a contract (docs/API.md).
*/
#ifndef KASSA_POS_TILL_JSON_H
#define KASSA_POS_TILL_JSON_H

#include <jansson.h>

#include "pos/till/check.h"
#include "pos/till/sale.h"
#include "pos/till/till.h"

/* {"allow","reason","message_ru","message_en","detail","marked","kind","gtin","ki",
**  "product":{…}|null,"mark","tag2106","km_type","planned","tag1265"|null,"req_id",
**  "req_timestamp","fn_checked","oism_answered","trueapi_answered","offline",
**  "cache_stale","elapsed_us"} */
json_t *till_json_decision(const check_decision_t *d);

/* {"open","operation":"sale"|"return","cashier","opened_ms","total","lines":[{"id","name",
**  "gtin","price","quantity","total","vat","marked","mark","km","tag2106","without_code",
**  "needs_recheck"}]} ; money in kopecks, quantity as a decimal string. */
json_t *till_json_basket(const sale_basket_t *b);

/* {"document","time","fiscal_sign","shift","receipt","operation","total","cash",
**  "cashless","lines","marked_lines","qr","bookkeeping_pending"} */
json_t *till_json_closed(const sale_closed_t *c);

/* {"name","message_ru","message_en","seconds_left"}: a deadline notice. */
json_t *till_json_notice(const outbox_notice_t *n);

/* {"fn":{…},"outbox":{…, "warnings":["ru / en"], "notices":[notice]},"cache":{…},
**  "basket":{…},"key_age_days","keys_loaded_by":"kassa"|"register"} */
json_t *till_json_status(const till_status_t *s, const outbox_policy_t *policy);

/* An error object {"ok":false,"error":name,"message_ru","message_en"}. */
json_t *till_json_error(const char *name, const char *ru, const char *en);

#endif
