/*
** money.c: the money rules of a basket line (see money.h).
*/
#include "pos/till/money.h"

#include <stdlib.h>
#include <string.h>

#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "pos/till/cache.h"
#include "pos/till/state_internal.h"

void till_set_manager_present(till_t *t, bool present)
{
  if (t) t->manager_present = present;
}

bool till_manager_present(const till_t *t) { return t && t->manager_present; }

/* Whether price is within tolerance_percent of the catalogue's. */
static bool within_tolerance(uint64_t price, uint64_t catalogue, uint32_t tolerance_percent)
{
  uint64_t diff = price > catalogue ? price - catalogue : catalogue - price;
  if (diff == 0) return true;
  if (catalogue == 0) return false;
  return diff * 100 <= catalogue * (uint64_t)tolerance_percent;
}

/* The ceilings of [till]: a unit's price, pieces, kilograms. */
static money_verdict_t ceilings(const kassa_config_t *cfg, const money_line_t *m)
{
  if (m->price > (uint64_t)cfg->price_max_rub * 100) return MONEY_PRICE_CEILING;
  uint64_t div = 1;
  for (unsigned i = 0; i < m->quantity.scale; i++) div *= 10;
  uint64_t limit = m->measure == 11 ? cfg->weight_max_kg : cfg->quantity_max;
  if (m->quantity.mantissa > limit * div) return MONEY_QUANTITY_CEILING;
  return MONEY_OK;
}

/*
** The price code ki was sold for, from the FN archive: the sale receipt
** the cache names (cache_code_get's sold_document) read back and the line
** whose code starts with ki. 0 with *price, or -1 when the sale is not in
** this FN's archive (sold on a replaced FN, or the cache does not know).
*/
static int sold_price(till_t *t, const char *ki, uint64_t *price)
{
  static fn_document_t doc;
  cache_code_t row;
  doc_header_t h;
  uint64_t total;
  uint8_t sign[6];
  int rc = -1;
  if (cache_code_get(t->cache, ki, &row) != 0 || row.local != CACHE_LOCAL_SOLD ||
      row.sold_document <= t->fn_base)
    return -1;
  doc_receipt_t *r = malloc(sizeof *r);
  if (!r) return -1;
  size_t n = strlen(ki);
  if (fn_document_get(t->fn, row.sold_document - t->fn_base, &doc) == 0 &&
      doc_parse_receipt(doc.data, doc.len, &h, r, &total, sign) == 0 &&
      r->operation == DOC_OP_SALE) {
    for (size_t i = 0; i < r->item_count && rc != 0; i++) {
      const doc_item_t *it = &r->items[i];
      if (it->marked && it->km_len >= n && !memcmp(it->km, ki, n) &&
          (it->km_len == n || it->km[n] == 0x1D)) {
        *price = it->price;
        rc = 0;
      }
    }
  }
  free(r);
  return rc;
}

/* A return line with its code: at most the sold price; none asked, the sold price. */
static money_verdict_t return_with_code(till_t *t, money_line_t *m)
{
  uint64_t sold;
  if (sold_price(t, m->ki, &sold) != 0) sold = m->catalogue_price; /* an older FN's sale */
  if (m->asked_price > sold) return MONEY_REFUND_ABOVE_SALE;
  if (m->asked_price == 0) m->price = sold;
  return MONEY_OK;
}

/* Whether the line is a marked good whose code ("01" + 14 digits ...) is of gtin. */
static bool km_has_gtin(const doc_item_t *it, const char *gtin)
{
  return it->marked && it->km_len >= 16 && !memcmp(it->km, "01", 2) &&
         !memcmp(it->km + 2, gtin, 14);
}

/* Whether the sale line's own code came back: returned with its code (the
** cache no longer holds it as sold by receipt fd) or in this return. */
static bool code_back(till_t *t, const money_line_t *m, const doc_item_t *it)
{
  char ki[CACHE_KI_MAX + 1];
  cache_code_t row;
  const char *gs = memchr(it->km, 0x1D, it->km_len);
  size_t n = gs ? (size_t)(gs - it->km) : it->km_len;
  if (n > CACHE_KI_MAX) return false;
  memcpy(ki, it->km, n);
  ki[n] = 0;
  if (m->basket_has_ki && m->basket_has_ki(m->basket, ki)) return true;
  if (cache_code_get(t->cache, ki, &row) != 0) return false; /* unknown: the links decide */
  return !(row.local == CACHE_LOCAL_SOLD && row.sold_document == t->fn_base + m->sale_fd);
}

/*
** The sale a return without a code names: receipt m->sale_fd of this FN
** (its number as printed, not the global numbering),
** line m->sale_line, a marked good of m->gtin. Its units left (whole
** pieces) and money left after the earlier returns naming it; the refund
** price is at most that line's unit price and the money left. Without an
** asked price the line takes the sold price (m->price).
*/
static money_verdict_t named_sale(till_t *t, money_line_t *m)
{
  static fn_document_t doc;
  doc_header_t h;
  uint64_t total;
  uint8_t sign[6];
  money_verdict_t v = MONEY_SALE_NOT_FOUND;
  if (m->sale_fd == 0) return MONEY_SALE_NOT_FOUND;
  doc_receipt_t *r = malloc(sizeof *r);
  if (!r) return MONEY_STORAGE;
  if (fn_document_get(t->fn, m->sale_fd, &doc) != 0 ||
      doc_parse_receipt(doc.data, doc.len, &h, r, &total, sign) != 0 || r->operation != DOC_OP_SALE)
    goto done;
  v = MONEY_SALE_LINE;
  if (m->sale_line == 0 || m->sale_line > r->item_count) goto done;
  const doc_item_t *it = &r->items[m->sale_line - 1];
  if (!km_has_gtin(it, m->gtin)) goto done;
  uint64_t units = it->quantity.mantissa;
  for (unsigned i = 0; i < it->quantity.scale; i++) units /= 10;
  uint64_t taken = m->sale_taken_units + (code_back(t, m, it) ? 1 : 0);
  if (m->asked_price == 0) m->price = it->price;
  if (m->price > it->price) {
    v = MONEY_REFUND_ABOVE_SALE;
  } else if (taken >= units || m->sale_taken_money + m->price > it->total) {
    v = MONEY_RETURN_UNITS;
  } else {
    v = MONEY_OK;
  }
done:
  free(r);
  return v;
}

/* A return line without its code: its named sale line (above; may set
** the sold price), and a sold unit of the GTIN left in the store. */
static money_verdict_t return_without_code(till_t *t, money_line_t *m)
{
  uint64_t sold = 0, taken = 0;
  money_verdict_t v = named_sale(t, m);
  if (v != MONEY_OK) return v;
  if (cache_sold_count(t->cache, m->gtin, &sold) != 0 ||
      cache_pending_total(t->cache, m->gtin, &taken) != 0)
    return MONEY_STORAGE;
  /* Every line of this GTIN already in the return takes a sold unit: one
  ** without a code, and one with its code (still SOLD until the close). */
  taken += m->basket_same_gtin;
  return taken >= sold ? MONEY_RETURN_UNITS : MONEY_OK;
}

money_verdict_t money_line_rules(till_t *t, money_line_t *m)
{
  const kassa_config_t *cfg = &t->config;
  money_verdict_t v = MONEY_OK;
  if (m->operation == DOC_OP_SALE_RETURN) {
    if (m->without_code)
      v = return_without_code(t, m); /* may set the sold price */
    else if (m->marked)
      v = return_with_code(t, m); /* may set the sold price */
    else if (m->price > m->catalogue_price)
      v = MONEY_REFUND_ABOVE_SALE;
  } else if (m->asked_price &&
             !within_tolerance(m->asked_price, m->catalogue_price, cfg->price_tolerance_percent) &&
             !t->manager_present) {
    v = MONEY_PRICE_NEEDS_MANAGER;
  }
  return v != MONEY_OK ? v : ceilings(cfg, m);
}

money_verdict_t money_ceilings(const till_t *t, uint64_t price, doc_quantity_t quantity,
                               uint8_t measure)
{
  money_line_t m = {.price = price, .quantity = quantity, .measure = measure};
  return t ? ceilings(&t->config, &m) : MONEY_OK;
}
