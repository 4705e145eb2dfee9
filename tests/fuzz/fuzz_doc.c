/*
** tests/fuzz/fuzz_doc.c: libFuzzer target for the document readers of
** fiscal/doc.c that issue 16 added or widened, fed what kassa-operator
** and fsck may be fed: doc_check_required() and doc_check_sums()
** (kassa-operator runs them on every document from the network), doc_parse_receipt() with the VAT
*sums,
** payment forms, agent and fraction requisites, doc_parse_totals() (1194,
** 1157), doc_parse_registration(), doc_item_extras_get().
**
** Besides "no crash, no sanitizer report": a receipt that parses is
** rebuilt from what was read and must parse again to the same totals (the
** builder accepts what the parser gives back, or refuses it whole); totals
** read twice are the same; the extras codec re-encodes what it read.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fiscal/doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(condition)                                                                         \
  do {                                                                                             \
    if (!(condition)) abort();                                                                     \
  } while (0)

static doc_receipt_t receipt, again;
static uint8_t rebuilt[DOC_MAX_DOCUMENT];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  doc_header_t h, h2;
  doc_registration_t reg;
  doc_totals_t t1, t2;
  uint64_t total = 0, total2 = 0;
  uint8_t sign[6];
  uint16_t missing = 0;
  size_t len = 0;

  (void)doc_check_required(data, size, &missing);
  (void)doc_check_sums(data, size, &again);
  (void)doc_parse_registration(data, size, &h, &reg);
  for (int i = 0; i < 2; i++) {
    uint16_t tag = i ? 1157 : 1194;
    if (doc_parse_totals(data, size, tag, &t1) == 0) {
      REQUIRE(doc_parse_totals(data, size, tag, &t2) == 0);
      REQUIRE(memcmp(&t1, &t2, sizeof t1) == 0);
    }
  }
  if (doc_parse_receipt(data, size, &h, &receipt, &total, sign) == 0) {
    /* What was read builds again, or is refused whole; built, it reads
    ** back to the same sum of lines and payments. */
    if (doc_build_receipt(&h, &receipt, false, rebuilt, sizeof rebuilt, &len) == 0) {
      REQUIRE(doc_parse_receipt(rebuilt, len, &h2, &again, &total2, sign) == 0);
      REQUIRE(again.item_count == receipt.item_count);
      REQUIRE(again.cash == receipt.cash && again.prepaid == receipt.prepaid &&
              again.credit == receipt.credit);
      for (size_t i = 0; i < receipt.item_count; i++) {
        REQUIRE(again.items[i].agent.sign == receipt.items[i].agent.sign);
        REQUIRE(again.items[i].fraction_denominator == receipt.items[i].fraction_denominator);
      }
    } else {
      REQUIRE(len == 0);
    }
  }
  doc_item_t item, item2;
  memset(&item, 0, sizeof item);
  if (doc_item_extras_get(data, size, &item) == 0) {
    uint8_t extras[4096];
    size_t n = 0;
    if (doc_item_extras_put(&item, extras, sizeof extras, &n) == 0) {
      memset(&item2, 0, sizeof item2);
      REQUIRE(doc_item_extras_get(extras, n, &item2) == 0);
      REQUIRE(item2.agent.sign == item.agent.sign);
      REQUIRE(item2.fraction_numerator == item.fraction_numerator);
    }
  }
  return 0;
}
