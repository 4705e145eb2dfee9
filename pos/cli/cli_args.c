/*
** cli_args.c: the argument parsers every `kassa` command shares.
**
** Each command used to carry its own strtoul() wrapper, and they differed
** in what slipped through (a sign, leading spaces, overflow). One parser
** means one answer to "is this a number": digits only, within bounds.
*/
#include "pos/cli/cli.h"

#include <errno.h>
#include <stdlib.h>

bool cli_number(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
  char *end;
  if (!s || *s < '0' || *s > '9') return false; /* strtoul would take " +5" and "-1" */
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *end || v < min || v > max) return false;
  *out = v;
  return true;
}
