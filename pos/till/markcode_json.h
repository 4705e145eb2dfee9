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
**
** Two writers of the one shape: markcode_to_json() builds a jansson object
** (for callers that embed it in more JSON), markcode_json_write() writes the
** same bytes json_dumps(…, JSON_COMPACT) would make straight into a buffer,
** escaping each string once (`kassa code parse` over millions of lines).
** tests/unit/test_samples.c and the fuzzer hold the second to the first.
*/
#ifndef KASSA_POS_MARKCODE_JSON_H
#define KASSA_POS_MARKCODE_JSON_H

#include <jansson.h>

#include "scanner/markcode.h"

/* A new JSON object describing mc (caller owns the reference). NULL only
** when memory runs out. */
json_t *markcode_to_json(const markcode_t *mc);

/* Room markcode_json_write() may need: every string of a markcode_t escaped
** at its worst (six bytes a control character) with the keys around it. */
#define MARKCODE_JSON_MAX 32768

/* Write mc as one compact JSON object, byte for byte what
** json_dumps(markcode_to_json(mc), JSON_COMPACT) gives, into out (room for
** MARKCODE_JSON_MAX bytes), NUL-terminated, no newline. Returns its length.
** mc->layout must be a static string, as the parser's are (markcode.h):
** the writer keeps each name it meets quoted, by its address, in a table
** of the calling thread. */
size_t markcode_json_write(const markcode_t *mc, char *out);

#endif
