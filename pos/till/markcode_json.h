/*
** markcode_json.h: a parsed marking code as the JSON other tools rely on.
**
** The shape is a contract (DESIGN.md, "Contracts other tools rely on"):
** success  {"ok":true,"kind","gtin","serial","ki","key","tail","type2100",
**           "ais":{…},"normalized","fixes":[…],"tag1162":"HEX",
**           "tag1163":{"tag":N,"value":…}} plus "aim", "layout", "mrp";
** failure  {"ok":false,"error":"<code>","message":"<ru>","message_en":"<en>",
**           "at":N}.
** Adding fields is allowed; renaming or removing one breaks integrators.
*/
#ifndef KASSA_POS_MARKCODE_JSON_H
#define KASSA_POS_MARKCODE_JSON_H

#include <jansson.h>

#include "scanner/markcode.h"

/* A new JSON object describing mc (caller owns the reference). NULL only
** when memory runs out. */
json_t *markcode_to_json(const markcode_t *mc);

#endif
