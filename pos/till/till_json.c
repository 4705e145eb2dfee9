/*
** till_json.c: see till_json.h. Kept apart from the till so the core has no
** JSON in it and the CLI and the service cannot drift apart.
*/
#include "pos/till/till_json.h"

#include <stdio.h>
#include <string.h>

json_t *till_json_decision(const check_decision_t *d)
{
  json_t *product = json_null();
  if (d->has_product)
    product =
        json_pack("{s:s,s:s,s:I,s:i,s:s,s:b,s:b,s:b}", "gtin", d->product.gtin, "name",
                  d->product.name, "price", (json_int_t)d->product.price, "vat", d->product.vat,
                  "group", d->product.group, "marking_required", d->product.marking_required,
                  "strict", d->product.strict, "weighed", d->product.weighed);
  json_t *o = json_pack(
      "{s:b,s:s,s:s,s:s,s:s,s:b,s:s,s:s,s:s,s:o,s:s,s:i,s:i,s:i,s:o,s:s,s:I,s:b,s:b,s:b,s:b,"
      "s:b,s:I}",
      "allow", d->allow, "reason", check_reason_name(d->reason), "message_ru", d->message_ru,
      "message_en", d->message_en, "detail", d->detail, "marked", d->marked, "kind",
      markcode_kind_name(d->kind), "gtin", d->gtin, "ki", d->ki, "product",
      product ? product : json_null(), "mark", d->mark ? d->mark : "", "tag2106", d->tag2106,
      "km_type", d->km_type, "planned", d->planned, "tag1265",
      d->has_1265 ? json_string(d->industry.value) : json_null(), "req_id", d->req_id,
      "req_timestamp", (json_int_t)d->req_timestamp, "fn_checked", d->fn_checked, "oism_answered",
      d->oism_answered, "trueapi_answered", d->trueapi_answered, "offline", d->offline,
      "cache_stale", d->cache_stale, "elapsed_us", (json_int_t)d->elapsed_us);
  if (o) {
    json_object_set_new(o, "reason_ru", json_string(check_reason_message(d->reason, true)));
    json_object_set_new(o, "reason_en", json_string(check_reason_message(d->reason, false)));
    json_object_set_new(o, "short_ru", json_string(check_reason_short(d->reason, true)));
    json_object_set_new(o, "short_en", json_string(check_reason_short(d->reason, false)));
    json_object_set_new(o, "answered_by", json_string(check_answered_by(d)));
    json_object_set_new(o, "warning_ru",
                        d->warning_ru[0] ? json_string(d->warning_ru) : json_null());
    json_object_set_new(o, "warning_en",
                        d->warning_en[0] ? json_string(d->warning_en) : json_null());
  }
  return o;
}

/* A line's fraction ("fraction": "1/4", the planned status) and agent
** ("agent": {"kind", "sign", "supplier_name", "supplier_inn", ...}), only
** when it has them. */
static void line_extras(json_t *o, const sale_line_t *l)
{
  char text[48];
  if (!o) return;
  json_object_set_new(o, "planned", json_integer(l->planned));
  if (l->fraction_denominator) {
    snprintf(text, sizeof text, "%llu/%llu", (unsigned long long)l->fraction_numerator,
             (unsigned long long)l->fraction_denominator);
    json_object_set_new(o, "fraction", json_string(text));
  }
  if (l->agent.sign)
    json_object_set_new(o, "agent",
                        json_pack("{s:s,s:i,s:s,s:s,s:s,s:s}", "kind",
                                  sale_agent_kind_name(l->agent.sign), "sign", l->agent.sign,
                                  "supplier_name", l->agent.supplier_name, "supplier_inn",
                                  l->agent.supplier_inn, "supplier_phone", l->agent.supplier_phone,
                                  "agent_phone", l->agent.agent_phone));
}

json_t *till_json_basket(const sale_basket_t *b)
{
  json_t *lines = json_array();
  char q[48];
  for (size_t i = 0; lines && i < b->count; i++) {
    const sale_line_t *l = &b->lines[i];
    doc_quantity_text(l->quantity, q, sizeof q);
    json_array_append_new(
        lines,
        json_pack("{s:I,s:s,s:s,s:I,s:s,s:I,s:i,s:b,s:s,s:s,s:i,s:b,s:b,s:o}", "id",
                  (json_int_t)l->id, "name", l->name, "gtin", l->gtin, "price",
                  (json_int_t)l->price, "quantity", q, "total", (json_int_t)l->total, "vat", l->vat,
                  "marked", l->marked, "mark", l->mark, "km", l->km, "tag2106", l->tag2106,
                  "without_code", l->without_code, "needs_recheck", l->needs_recheck, "tag1265",
                  l->has_industry ? json_string(l->industry.value) : json_null()));
    json_object_set_new(json_array_get(lines, json_array_size(lines) - 1), "answered_by",
                        json_string(l->answered_by));
    line_extras(json_array_get(lines, json_array_size(lines) - 1), l);
  }
  return json_pack("{s:b,s:s,s:s,s:I,s:I,s:o}", "open", b->open, "operation",
                   !b->open            ? ""
                   : b->operation == 2 ? "return"
                                       : "sale",
                   "cashier", b->cashier, "opened_ms", (json_int_t)b->opened_ms, "total",
                   (json_int_t)b->total, "lines", lines ? lines : json_array());
}

/* [{"vat":11,"label":"НДС 22%","tag":65044,"sum":1803}, ...] in the
** receipt's order (by tag). */
static json_t *vat_json(const uint64_t *sums, uint16_t present)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < doc_vat_rate_count(); i++) {
    const doc_vat_rate_t *v = doc_vat_rate_at(i);
    if (present & (1u << v->value))
      json_array_append_new(a,
                            json_pack("{s:i,s:s,s:i,s:I}", "vat", v->value, "label", v->sum_label,
                                      "tag", v->sum_tag, "sum", (json_int_t)sums[v->value]));
  }
  return a;
}

json_t *till_json_closed(const sale_closed_t *c)
{
  json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:s,s:I,s:I,s:I,s:I,s:I,s:s,s:b}", "document",
                        (json_int_t)c->doc.number, "time", (json_int_t)c->doc.time, "fiscal_sign",
                        (json_int_t)c->doc.fiscal_sign, "shift", (json_int_t)c->doc.shift_number,
                        "receipt", (json_int_t)c->doc.receipt_number, "operation",
                        c->operation == 2 ? "return" : "sale", "total", (json_int_t)c->total,
                        "cash", (json_int_t)c->cash, "cashless", (json_int_t)c->cashless, "lines",
                        (json_int_t)c->lines, "marked_lines", (json_int_t)c->marked_lines, "qr",
                        c->qr, "bookkeeping_pending", c->bookkeeping_pending);
  if (o) {
    json_object_set_new(o, "vat_sums", vat_json(c->vat_sums, c->vat_present));
    json_object_set_new(o, "prepaid", json_integer((json_int_t)c->prepaid));
    json_object_set_new(o, "credit", json_integer((json_int_t)c->credit));
    json_object_set_new(o, "other", json_integer((json_int_t)c->other));
    json_object_set_new(o, "method", json_integer(c->method));
    json_object_set_new(o, "tendered", json_integer((json_int_t)c->tendered));
    json_object_set_new(o, "change", json_integer((json_int_t)c->change));
  }
  return o;
}

json_t *till_json_notice(const outbox_notice_t *n)
{
  return json_pack("{s:s,s:s,s:s,s:I}", "name", n->name ? n->name : "", "message_ru", n->ru,
                   "message_en", n->en, "seconds_left", (json_int_t)n->seconds_left);
}

json_t *till_json_status(const till_status_t *s, const outbox_policy_t *policy)
{
  outbox_notice_t warnings[4];
  char both[2 * OUTBOX_NOTICE_MAX + 8];
  size_t nw = outbox_warnings(&s->outbox, policy, warnings, 4);
  json_t *w = json_array(), *notices = json_array();
  for (size_t i = 0; w && notices && i < nw; i++) {
    outbox_notice_both(&warnings[i], both, sizeof both);
    json_array_append_new(w, json_string(both));
    json_array_append_new(notices, till_json_notice(&warnings[i]));
  }
  const fn_status_t *f = &s->fn;
  const outbox_status_t *o = &s->outbox;
  const cache_counts_t *c = &s->cache;
  json_t *fn = json_pack(
      "{s:s,s:s,s:s,s:b,s:b,s:I,s:b,s:I,s:I,s:I,s:b,s:I,s:I}", "fn_number", f->fn_number,
      "kkt_reg_number", f->kkt_reg_number, "phase",
      f->phase == FN_PHASE_FISCAL  ? "fiscal"
      : f->phase == FN_PHASE_READY ? "ready"
                                   : "closed",
      "autonomous", f->autonomous, "marking", f->marking, "last_document",
      (json_int_t)f->last_document, "shift_open", f->shift_open, "shift_number",
      (json_int_t)f->shift_number, "shift_age_s",
      (json_int_t)(f->shift_open && f->now > f->shift_opened_at ? f->now - f->shift_opened_at : 0),
      "receipts_in_shift", (json_int_t)f->receipts_in_shift, "receipt_open", f->receipt_open,
      "keys_updated_at", (json_int_t)f->keys_updated_at, "now", (json_int_t)f->now);
  json_t *ob = json_pack(
      "{s:s,s:I,s:I,s:I,s:I,s:s,s:s,s:I,s:I,s:o}", "level", outbox_level_name(o->level),
      "unsent_documents", (json_int_t)o->unsent_documents, "oldest_document_age_s",
      (json_int_t)o->oldest_document_age, "unsent_notifications",
      (json_int_t)o->unsent_notifications, "oldest_notification_age_s",
      (json_int_t)o->oldest_notification_age, "documents_level",
      outbox_level_name(o->documents_level), "batch_level", outbox_level_name(o->batch_level),
      "documents_seconds_left", (json_int_t)o->documents_seconds_left, "batch_seconds_left",
      (json_int_t)o->batch_seconds_left, "warnings", w ? w : json_array());
  if (ob)
    json_object_set_new(ob, "notices", notices ? notices : json_array());
  else
    json_decref(notices);
  json_t *ca = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "products",
                         (json_int_t)c->products, "codes", (json_int_t)c->codes, "in_stock",
                         (json_int_t)c->in_stock, "sold", (json_int_t)c->sold, "remarked",
                         (json_int_t)c->remarked, "blocked", (json_int_t)c->blocked, "pooled",
                         (json_int_t)c->pooled, "pending_remark", (json_int_t)c->pending,
                         "last_sync_ms", (json_int_t)s->last_sync_ms, "stale", s->cache_stale);
  json_t *basket = json_pack("{s:b,s:I,s:I}", "open", s->basket_open, "lines",
                             (json_int_t)s->basket_lines, "total", (json_int_t)s->basket_total);
  return json_pack("{s:o,s:o,s:o,s:o,s:o,s:s}", "fn", fn ? fn : json_null(), "outbox",
                   ob ? ob : json_null(), "cache", ca ? ca : json_null(), "basket",
                   basket ? basket : json_null(), "key_age_days",
                   s->key_age_days == UINT32_MAX || s->keys_by_device
                       ? json_null()
                       : json_integer((json_int_t)s->key_age_days),
                   "keys_loaded_by", s->keys_by_device ? "register" : "kassa");
}

json_t *till_json_error(const char *name, const char *ru, const char *en)
{
  return json_pack("{s:b,s:s,s:s,s:s}", "ok", 0, "error", name, "message_ru", ru, "message_en", en);
}
