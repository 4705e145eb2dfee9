/*
** cli_code.c: `kassa code parse`, the marking-code engine on the command line.
**
** One JSON object per input line (DESIGN.md contract), so scripts and other
** tools can pipe codes through the same engine the till uses.
*/
#include "common/codec.h"
#include "pos/cli/cli.h"
#include "pos/till/markcode_json.h"
#include "scanner/layout.h"
#include "scanner/markcode.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char code_usage[] =
    "usage: kassa code parse [--escaped] [CODE...]\n"
    "\n"
    "Parse, repair and validate marking codes. With no CODE, reads one code per\n"
    "line from standard input. Prints one JSON object per code:\n"
    "  {\"ok\":true,\"kind\":\"gs1\",\"gtin\":...,\"serial\":...,\"normalized\":...}\n"
    "  {\"ok\":false,\"error\":\"gtin_check_digit\",\"message\":...,\"at\":N}\n"
    "\n"
    "  --escaped   read \\x1d (any \\xHH), \\u001d (any \\uXXXX) and \\\\ in the input,\n"
    "              so a group separator can be typed as \\x1d\n"
    "\n"
    "Exit status: 0 when every code parsed, 1 when any was refused, 2 on usage errors.\n"
    "\n"
    "Examples:\n"
    "  kassa code parse --escaped '0104600439931256215Qbag!\\x1d93Zjqw'\n"
    "  kassa code parse < codes.txt\n";

size_t cli_unescape(char *s, size_t len)
{
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '\\' && i + 1 < len) {
      char t = s[i + 1];
      size_t digits = t == 'x' ? 2 : t == 'u' ? 4 : 0;
      if (t == '\\') {
        s[o++] = '\\';
        i++;
        continue;
      }
      if (digits && i + 2 + digits <= len) {
        unsigned v = 0;
        size_t k = 0;
        for (; k < digits; k++) {
          int h = codec_hex_digit(s[i + 2 + k]);
          if (h < 0) break;
          v = v * 16 + (unsigned)h;
        }
        if (k == digits) {
          if (t == 'x')
            s[o++] = (char)v;
          else
            o += layout_utf8_encode(v, s + o); /* 6 chars in, <= 3 out */
          i += 1 + digits;
          continue;
        }
      }
    }
    s[o++] = s[i];
  }
  return o;
}

static int parse_one(const char *text, size_t len, int escaped)
{
  char buf[4 * MARKCODE_MAX_INPUT + 8];
  markcode_t mc;
  if (len >= sizeof buf) len = sizeof buf - 1; /* still "too long" after */
  memcpy(buf, text, len);
  buf[len] = '\0';
  if (escaped) len = cli_unescape(buf, len);
  markcode_parse(&mc, buf, len);
  json_t *o = markcode_to_json(&mc);
  char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
  if (line) puts(line);
  free(line);
  json_decref(o);
  return mc.err == MARKCODE_OK ? 0 : 1;
}

static int code_parse(int argc, char **argv)
{
  static const struct option options[] = {
      {"escaped", no_argument, NULL, 'e'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int escaped = 0, first, status = 0, opt;
  /* "+": the options come first; from the first code on, everything is a
  ** code (a code may start with anything). */
  opterr = 0;
  optind = 0;
  while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
    if (opt == 'e') {
      escaped = 1;
    } else if (opt == 'h') {
      fputs(code_usage, stdout);
      return 0;
    } else {
      fprintf(stderr, "kassa code parse: unknown option %s\n\n%s", argv[optind - 1], code_usage);
      return 2;
    }
  }
  first = optind;
  if (first < argc) {
    for (int i = first; i < argc; i++) status |= parse_one(argv[i], strlen(argv[i]), escaped);
    return status;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    size_t len = (size_t)n;
    if (len && line[len - 1] == '\n') len--;
    if (len && line[len - 1] == '\r') len--;
    status |= parse_one(line, len, escaped);
  }
  free(line);
  fflush(stdout);
  return status;
}

int cli_code(const kassa_config_t *cfg, int argc, char **argv)
{
  (void)cfg;
  if (argc >= 2 && !strcmp(argv[1], "parse")) return code_parse(argc - 1, argv + 1);
  if (argc >= 2 &&
      (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))) {
    fputs(code_usage, stdout);
    return 0;
  }
  fprintf(stderr, "kassa code: %s\n\n%s", argc < 2 ? "which subcommand?" : "unknown subcommand",
          code_usage);
  return 2;
}
