/*
** fuzz_utd.c: libFuzzer target for the goods-acceptance import (pos/till/accept.h).
**
** Any bytes, read as a UTD and as a plain list, must either load or fail
** with an error code and two messages, never crash, over-read or leak. A
** loaded document must hold only well-formed entries (a key for items and
** packages, an error and both messages for invalid codes, shown text of at
** most 200 bytes), and must compare with itself: everything matched or a
** duplicate, nothing missing or extra. The report's JSON and both texts
** are rendered on every input, so the renderings see whatever the parser
** lets through.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pos/till/accept.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_doc(const accept_doc_t *d)
{
  for (size_t i = 0; i < accept_doc_count(d); i++) {
    const accept_entry_t *e = accept_doc_entry(d, i);
    if (e == NULL || e->text == NULL || strlen(e->text) > 200) abort();
    switch (e->kind) {
    case ACCEPT_ENTRY_ITEM:
      if (e->key[0] == '\0') abort();
      break;
    case ACCEPT_ENTRY_PACKAGE:
      if (e->key[0] == '\0' || e->package == ACCEPT_PACKAGE_NONE || !e->message_ru) abort();
      break;
    case ACCEPT_ENTRY_INVALID:
      if (!e->error || !e->message_ru || !e->message_en || !e->message_ru[0]) abort();
      break;
    default:
      abort();
    }
  }
}

static void check_self_compare(const accept_doc_t *d)
{
  accept_report_t *r = NULL;
  int rc = accept_compare(d, d, &r);
  if (accept_doc_count(d) == 0) {
    if (rc != ACCEPT_ERR_NO_CODES || r != NULL) abort();
    return;
  }
  if (rc != ACCEPT_OK || r == NULL) abort();
  if (r->missing.count || r->extra.count) abort();
  size_t seen = r->matched.count + r->invalid.count + r->packages.count + r->duplicates.count;
  /* Invalid entries and duplicates are counted once per side. */
  if (seen < accept_doc_count(d)) abort();
  json_t *j = accept_report_to_json(r);
  if (j == NULL) abort();
  char *s = json_dumps(j, JSON_COMPACT);
  if (s == NULL) abort();
  free(s);
  json_decref(j);
  char *ru = accept_report_text(r, true, 3), *en = accept_report_text(r, false, 3);
  if (ru == NULL || en == NULL) abort();
  free(ru);
  free(en);
  /* A rejection needs no cache and writes nothing. */
  if (accept_decide(r, NULL, ACCEPT_DECIDE_REJECT) != ACCEPT_OK) abort();
  accept_report_free(r);
}

typedef int (*parser_t)(const char *text, size_t len, const char *name, accept_doc_t **out,
                        accept_error_t *err);

/* One parser on the input: a document that holds together, or an error
** with its code and both messages and no document. */
static void parse_and_check(parser_t parse, const char *name, const uint8_t *data, size_t size)
{
  accept_doc_t *d = NULL;
  accept_error_t err;
  int rc = parse((const char *)data, size, name, &d, &err);
  if (rc == ACCEPT_OK) {
    if (d == NULL) abort();
    check_doc(d);
    check_self_compare(d);
    accept_doc_free(d);
  } else if (d != NULL || err.code != rc || !err.message_ru[0] || !err.message_en[0]) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  parse_and_check(accept_doc_parse_utd, "fuzz.xml", data, size);
  parse_and_check(accept_doc_parse_list, "fuzz.txt", data, size);
  return 0;
}
