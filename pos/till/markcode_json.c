/*
** markcode_json.c: render a markcode_t as the contract JSON object.
** Kept out of scanner/ so the parser stays free of any output format.
*/
#include "pos/till/markcode_json.h"

#include <stdio.h>

json_t *markcode_to_json(const markcode_t *mc)
{
  json_t *o = json_object();
  if (!o) return NULL;
  if (mc->err != MARKCODE_OK) {
    char msg[512];
    json_object_set_new(o, "ok", json_false());
    json_object_set_new(o, "error", json_string(markcode_err_code(mc->err)));
    json_object_set_new(o, "message",
                        json_string(markcode_message(mc, MARKCODE_LANG_RU, msg, sizeof msg)));
    json_object_set_new(o, "message_en",
                        json_string(markcode_message(mc, MARKCODE_LANG_EN, msg, sizeof msg)));
    json_object_set_new(o, "at", json_integer(mc->err_at));
    if (mc->aim[0]) json_object_set_new(o, "aim", json_string(mc->aim));
    return o;
  }
  json_object_set_new(o, "ok", json_true());
  json_object_set_new(o, "kind", json_string(markcode_kind_name(mc->kind)));
  json_object_set_new(o, "gtin", json_string(mc->gtin));
  json_object_set_new(o, "serial", json_string(mc->serial));
  json_object_set_new(o, "ki", json_string(mc->ki));
  json_object_set_new(o, "key", json_string(mc->key));
  json_object_set_new(o, "tail", json_string(mc->tail));
  json_object_set_new(o, "type2100", json_integer(mc->type2100));
  json_t *ais = json_object();
  for (int k = 0; k < mc->ai_count; k++)
    json_object_set_new(ais, mc->ais[k].ai, json_string(mc->ais[k].value));
  json_object_set_new(o, "ais", ais);
  json_object_set_new(o, "normalized", json_stringn(mc->normalized, mc->normalized_len));
  json_t *fixes = json_array();
  for (unsigned k = 0; k < MARKCODE_FIX__COUNT; k++)
    if (mc->fixes & (1u << k))
      json_array_append_new(fixes, json_string(markcode_fix_name((markcode_fix_t)(1u << k))));
  json_object_set_new(o, "fixes", fixes);
  char hex[2 * sizeof mc->tag1162 + 1];
  for (size_t i = 0; i < mc->tag1162_len; i++) snprintf(hex + 2 * i, 3, "%02X", mc->tag1162[i]);
  hex[2 * mc->tag1162_len] = '\0';
  json_object_set_new(o, "tag1162", json_string(hex));
  json_t *t1163 = json_object();
  json_object_set_new(t1163, "tag", json_integer(mc->tag1163));
  json_object_set_new(t1163, "value", json_string(mc->tag1163_value));
  json_object_set_new(o, "tag1163", t1163);
  json_object_set_new(o, "aim", json_string(mc->aim));
  json_object_set_new(o, "layout", json_string(mc->layout));
  json_object_set_new(o, "mrp", json_string(mc->mrp));
  return o;
}
