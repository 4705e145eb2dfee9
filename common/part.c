/*
** common/part.c: a marked pack's account of parts sold (see part.h).
**
** Everything is brought to one denominator, the least common multiple of
** the account's and the line's, bounded by PART_UNITS_MAX so no product
** below can overflow 64 bits.
*/
#include "common/part.h"

#include <stdio.h>

static uint64_t gcd(uint64_t a, uint64_t b)
{
  while (b) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

bool part_sold_out(const part_account_t *a) { return a && a->units > 0 && a->sold >= a->units; }

int part_apply(const part_account_t *a, bool sale, uint64_t n, uint64_t d, part_account_t *out)
{
  part_account_t cur = {0, 1};
  if (!a || !out) return PART_ERR_ARGUMENT;
  if (a->units > PART_UNITS_MAX || a->sold > a->units) return PART_ERR_RANGE;
  if (a->units > 0) cur = *a;
  if (n == 0 && d == 0) {
    /* A piece line: the whole pack, none of it sold / all of it. */
    if (sale ? cur.sold != 0 : cur.sold != cur.units) return PART_ERR_EXCEEDS;
    *out = sale ? (part_account_t){1, 1} : (part_account_t){0, 0};
    return PART_OK;
  }
  if (n == 0 || n >= d) return PART_ERR_ARGUMENT;
  if (d > PART_UNITS_MAX) return PART_ERR_RANGE;
  uint64_t units = cur.units / gcd(cur.units, d) * d;
  if (units > PART_UNITS_MAX) return PART_ERR_RANGE;
  uint64_t have = cur.sold * (units / cur.units), part = n * (units / d);
  if (sale ? have + part > units : part > have) return PART_ERR_EXCEEDS;
  have = sale ? have + part : have - part;
  *out = have ? (part_account_t){have, units} : (part_account_t){0, 0};
  return PART_OK;
}

const char *part_left_text(const part_account_t *a, char *buf, unsigned size)
{
  if (!buf || size == 0) return "";
  if (part_sold_out(a))
    snprintf(buf, size, "0");
  else if (!a || a->units == 0)
    snprintf(buf, size, "1/1");
  else
    snprintf(buf, size, "%llu/%llu", (unsigned long long)(a->units - a->sold),
             (unsigned long long)a->units);
  return buf;
}
