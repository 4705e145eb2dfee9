/*
** cli_args.c: the argument parsers every `kassa` command shares.
**
** Each command used to carry its own strtoul() wrapper, and they differed
** in what slipped through (a sign, leading spaces, overflow). One parser
** means one answer to "is this a number": digits only, within bounds.
*/
#include "pos/cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
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

/*
** The next option of a command's line (getopt_long, its own messages
** off, optind reset by the caller's first call with *first set): the
** option's val, -1 at the end (positional arguments left from optind on),
** or '?' after a message naming the unknown option, or the one whose
** value is missing, with the command's usage.
*/
int cli_next_option(int argc, char **argv, const struct option *options, bool *first,
                    const char *cmd, const char *usage)
{
  if (*first) {
    optind = 0;
    opterr = 0;
    *first = false;
  }
  int opt = getopt_long(argc, argv, ":", options, NULL);
  if (opt == ':') {
    fprintf(stderr, "kassa: %s needs a value\n", argv[optind - 1]);
    return '?';
  }
  if (opt == '?') {
    fprintf(stderr, "kassa %s: unknown option %s\n\n%s", cmd, argv[optind - 1], usage);
    return '?';
  }
  return opt;
}

/* 2 after a message when positional arguments are left over (from optind). */
int cli_no_extra(int argc, char **argv, const char *cmd, const char *usage)
{
  if (optind >= argc) return 0;
  fprintf(stderr, "kassa %s: unknown option %s\n\n%s", cmd, argv[optind], usage);
  return 2;
}
