/*
** common/errtab.c: the lookups of errtab.h.
*/
#include "common/errtab.h"

#include <stddef.h>

const errtab_t *errtab_find(const errtab_t *table, int code)
{
  const errtab_t *row = table;
  while (row->name && row->code != code) row++;
  return row;
}

const char *errtab_name(const errtab_t *table, int code)
{
  const char *name = errtab_find(table, code)->name;
  return name ? name : "unknown";
}

const char *errtab_message(const errtab_t *table, int code, bool russian)
{
  const errtab_t *row = errtab_find(table, code);
  return russian ? row->ru : row->en;
}
