/*
** tests/fuzz/fuzz_batch.c: libFuzzer target for the batch parser
** (ofd/batch.h), the code kassa-operator runs on whatever a remote shop
** uploads.
**
** Besides "no crash, no sanitizer report, no leak" it checks what must
** hold for any input the parser accepts:
**
** - the canonical bytes are a fixed point: the canonical object with the
**   signature put back parses again to the very same canonical bytes (what
**   the FN signed is what the operator recomputes, whatever the layout);
** - the counts and numbers agree: count notifications, numbers strictly
**   increasing from fromNotification to throughNotification, every
**   notification with at least one code and a document;
** - verifying with some secret answers 0 or BATCH_ERR_SIGNATURE, nothing
**   else.
*/
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fiscal/crypto.h"
#include "ofd/batch.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(condition)                                                                         \
  do {                                                                                             \
    if (!(condition)) abort();                                                                     \
  } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc, (void)argv;
  REQUIRE(crypto_init() == 0); /* batch_verify needs Streebog */
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const uint8_t secret[32] = {1, 2, 3};
  batch_t *b = NULL, *again = NULL;
  char detail[256];
  if (batch_parse((const char *)data, size, &b, detail, sizeof detail) != 0) {
    REQUIRE(b == NULL);
    return 0;
  }
  REQUIRE(b && b->count > 0 && b->canonical && b->canonical_len == strlen(b->canonical));
  REQUIRE(b->notifications[0].number == b->from_notification);
  REQUIRE(b->notifications[b->count - 1].number == b->through_notification);
  for (size_t i = 0; i < b->count; i++) {
    REQUIRE(b->notifications[i].code_count > 0 && b->notifications[i].document_len > 0);
    if (i) REQUIRE(b->notifications[i].number > b->notifications[i - 1].number);
  }
  int v = batch_verify(b, secret);
  REQUIRE(v == 0 || v == BATCH_ERR_SIGNATURE);

  /* The canonical form with the signature back is the same batch. */
  json_t *root = json_loads(b->canonical, JSON_REJECT_DUPLICATES, NULL);
  REQUIRE(root);
  char hex[2 * sizeof b->signature + 1];
  for (size_t i = 0; i < sizeof b->signature; i++)
    snprintf(hex + 2 * i, 3, "%02x", b->signature[i]);
  REQUIRE(json_object_set_new(root, "signature",
                              json_pack("{s:s,s:s}", "algorithm", BATCH_ALGORITHM, "value", hex)) ==
          0);
  char *text = json_dumps(root, JSON_COMPACT);
  json_decref(root);
  REQUIRE(text);
  REQUIRE(batch_parse(text, strlen(text), &again, detail, sizeof detail) == 0);
  REQUIRE(again->canonical_len == b->canonical_len &&
          memcmp(again->canonical, b->canonical, b->canonical_len) == 0);
  REQUIRE(memcmp(again->signature, b->signature, sizeof b->signature) == 0);
  free(text);
  batch_free(again);
  batch_free(b);
  return 0;
}
