/*
** cli_args.c: the argument parsers every `kassa` command shares.
**
** Each command used to carry its own strtoul() wrapper, and they differed
** in what slipped through (a sign, leading spaces, overflow). One parser
** means one answer to "is this a number": digits only, within bounds.
**
** Each also carried its own getopt_long loop: an option array, the
** restart, a switch with the same "needs a value" and "unknown option"
** cases. A command now writes only a table of cli_option_t rows (where
** each value or flag goes) and checks the values afterwards; the loop and
** the common messages are here (the contracts are in cli.h).
*/
#include "pos/cli/cli.h"
#include "pos/till/disk.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The table as getopt_long wants it: long options answer 256 + their row,
** short ones their letter. */
static void getopt_table(const cli_option_t *options, size_t count, struct option *longs,
                         char *shorts)
{
  size_t n = 0;
  shorts[n++] = ':'; /* a missing value is ':', not '?' */
  for (size_t k = 0; k < count; k++) {
    longs[k] = (struct option){options[k].name, options[k].value ? required_argument : no_argument,
                               NULL, 256 + (int)k};
    if (options[k].letter) {
      shorts[n++] = (char)options[k].letter;
      if (options[k].value) shorts[n++] = ':';
    }
  }
  longs[count] = (struct option){NULL, 0, NULL, 0};
  shorts[n] = '\0';
}

/* The row of what getopt_long returned, or count when it is none. */
static size_t option_row(const cli_option_t *options, size_t count, int opt)
{
  if (opt >= 256) return (size_t)(opt - 256);
  for (size_t k = 0; k < count; k++)
    if (options[k].letter && options[k].letter == opt) return k;
  return count;
}

int cli_read_options(int argc, char **argv, const cli_option_t *options, size_t count, int *at)
{
  unsigned given[CLI_OPTIONS_MAX];
  return cli_count_options(argc, argv, options, count, at, given);
}

int cli_count_options(int argc, char **argv, const cli_option_t *options, size_t count, int *at,
                      unsigned *given)
{
  struct option longs[CLI_OPTIONS_MAX + 1];
  char shorts[2 * CLI_OPTIONS_MAX + 2];
  int opt;
  if (count > CLI_OPTIONS_MAX) abort(); /* a table the caller wrote too long */
  for (size_t k = 0; k < count; k++) given[k] = 0;
  getopt_table(options, count, longs, shorts);
  optind = 0; /* glibc: restart, whatever was parsed before */
  opterr = 0;
  while ((opt = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
    size_t k = option_row(options, count, opt);
    if (opt == ':' || opt == '?' || k >= count) {
      *at = optind - 1;
      return opt == ':' ? CLI_OPTION_NO_VALUE : CLI_OPTION_UNKNOWN;
    }
    given[k]++;
    if (options[k].value)
      *options[k].value = optarg;
    else
      *options[k].flag = true;
  }
  *at = optind;
  return CLI_OPTIONS_OK;
}

int cli_parse_options(const char *command, const char *usage, int argc, char **argv,
                      const cli_option_t *options, size_t count, int *first_operand)
{
  int at;
  int rc = cli_read_options(argc, argv, options, count, &at);
  if (rc == CLI_OPTION_NO_VALUE) {
    fprintf(stderr, "kassa: %s needs a value\n", argv[at]);
    return 2;
  }
  if (rc == CLI_OPTION_UNKNOWN) /* the message of an operand too many, naming argv[at] */
    return cli_no_extra(command, usage, at + 1, argv, at);
  if (first_operand) {
    *first_operand = at;
    return 0;
  }
  return cli_no_extra(command, usage, argc, argv, at);
}

int cli_parse_verb(int argc, char **argv, const cli_option_t *options, size_t count,
                   const char **operand)
{
  int at;
  if (cli_parse_options(NULL, NULL, argc, argv, options, count, &at)) return 2;
  if (at < argc) *operand = argv[at++];
  if (at < argc) {
    fprintf(stderr, "kassa: unexpected argument %s\n", argv[at]);
    return 2;
  }
  return 0;
}

int cli_no_extra(const char *command, const char *usage, int argc, char **argv, int from)
{
  if (from >= argc) return 0;
  fprintf(stderr, "kassa%s%s: unknown option %s\n%s%s", command ? " " : "", command ? command : "",
          argv[from], usage ? "\n" : "", usage ? usage : "");
  return 2;
}

int cli_secret(const char *command, const char *given, const char *file, const char *env, char *out,
               size_t size)
{
  const char *from = given ? given : (!file && env) ? getenv(env) : NULL;
  out[0] = '\0';
  if (!given && file) {
    FILE *f = fopen(file, "r");
    if (!f) {
      fprintf(stderr, "kassa %s: не читается %s / cannot read %s: %s\n", command, file, file,
              strerror(errno));
      return -1;
    }
    bool read = fgets(out, (int)size, f) != NULL;
    fclose(f);
    size_t n = read ? strcspn(out, "\r\n") : 0;
    if (read && out[n] == '\0' && n + 1 >= size) {
      fprintf(stderr, "kassa %s: секрет в %s слишком длинный / the secret in %s is too long\n",
              command, file, file);
      out[0] = '\0';
      return -1;
    }
    out[n] = '\0';
    return 0;
  }
  if (from && snprintf(out, size, "%s", from) >= (int)size) {
    fprintf(stderr, "kassa %s: секрет слишком длинный / the secret is too long\n", command);
    out[0] = '\0';
    return -1;
  }
  return 0;
}

int cli_print_json(json_t *j)
{
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!text) return -1;
  printf("%s\n", text);
  free(text);
  return 0;
}

void cli_disk_why(const char *data_dir)
{
  till_disk_t disk = till_disk_diagnose(data_dir);
  if (disk != TILL_DISK_OK)
    fprintf(stderr, "kassa: %s / %s (%s)\n", till_disk_message(disk, true),
            till_disk_message(disk, false), till_disk_name(disk));
}
