/*
** cli_code.c: `kassa code parse`, the marking-code engine on the command line.
**
** One JSON object per input line (DESIGN.md contract), so scripts and other
** tools can pipe codes through the same engine the till uses. It is a bulk
** tool: stdin is read in 1 MiB blocks and cut with memchr, each code's JSON
** is written straight into a 1 MiB output buffer (markcode_json_write: the
** bytes jansson would print, without building an object), and stdout gets
** whole buffers; so a file of codes goes at a good part of the parser's own
** rate (docs/BENCHMARKS.md).
*/
#include "common/codec.h"
#include "pos/cli/cli.h"
#include "pos/till/markcode_json.h"
#include "scanner/layout.h"
#include "scanner/markcode.h"

#include <getopt.h>
#include <stdbool.h>
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

/* Longest line taken as it is: a longer one is cut to this (and refused
** as too long by the parser, its length shown as this). */
#define CODE_LINE_MAX (4 * MARKCODE_MAX_INPUT + 7)

/* The output: JSON lines gathered in one buffer and written in large
** pieces (a line is at most MARKCODE_JSON_MAX + 1 bytes). */
typedef struct code_out {
  char buf[1 << 20];
  size_t used;
} code_out_t;

static void out_flush(code_out_t *out)
{
  if (out->used) fwrite(out->buf, 1, out->used, stdout);
  out->used = 0;
}

/* Parse one code and append its JSON line; 0 if it parsed, 1 if refused. */
static int parse_one(code_out_t *out, const char *text, size_t len, int escaped)
{
  char buf[CODE_LINE_MAX + 1];
  markcode_t mc;
  if (len > CODE_LINE_MAX) len = CODE_LINE_MAX; /* still "too long" after */
  if (escaped) {
    memcpy(buf, text, len);
    len = cli_unescape(buf, len);
    text = buf;
  }
  markcode_parse(&mc, text, len);
  if (sizeof out->buf - out->used < MARKCODE_JSON_MAX + 1) out_flush(out);
  out->used += markcode_json_write(&mc, out->buf + out->used);
  out->buf[out->used++] = '\n';
  return mc.err == MARKCODE_OK ? 0 : 1;
}

/* Every line of stdin (LF or CRLF; the last may lack its newline), read in
** large blocks; a line longer than the block grows it. */
static int parse_stream(code_out_t *out, int escaped)
{
  size_t cap = 1 << 20, have = 0;
  char *in = malloc(cap);
  int status = 0;
  if (!in) return perror("kassa code parse"), 2;
  for (;;) {
    size_t got = fread(in + have, 1, cap - have, stdin);
    have += got;
    bool eof = got == 0;
    char *p = in, *end = in + have, *nl;
    while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL || (eof && p < end)) {
      char *line_end = nl ? nl : end;
      size_t len = (size_t)(line_end - p);
      if (len && p[len - 1] == '\r') len--;
      status |= parse_one(out, p, len, escaped);
      p = nl ? nl + 1 : end;
    }
    have = (size_t)(end - p);
    memmove(in, p, have);
    if (eof) break;
    if (have == cap) { /* one line fills the block */
      char *bigger = realloc(in, cap * 2);
      if (!bigger) {
        free(in);
        return perror("kassa code parse"), 2;
      }
      in = bigger;
      cap *= 2;
    }
  }
  free(in);
  if (ferror(stdin)) return perror("kassa code parse: stdin"), 2;
  return status;
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
  code_out_t *out = malloc(sizeof *out);
  if (!out) return perror("kassa code parse"), 2;
  out->used = 0;
  if (first < argc) {
    for (int i = first; i < argc; i++) status |= parse_one(out, argv[i], strlen(argv[i]), escaped);
  } else {
    status = parse_stream(out, escaped);
  }
  out_flush(out);
  free(out);
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
