/*
** cli_code.c: `kassa code parse`, the marking-code engine on the command line.
**
** One JSON object per input line (DESIGN.md contract), so scripts and other
** tools can pipe codes through the same engine the till uses. It is a bulk
** tool: stdin is mapped when it is a regular file (else read in 1 MiB
** blocks) and cut into lines sixteen bytes a step, codes are parsed 32
** at a time and then their JSON written straight into a 1 MiB output
** buffer (markcode_json_write: the bytes jansson would print, without
** building an object), and stdout gets whole buffers by write(2); so a
** file of codes goes at a good part of the parser's own rate
** (docs/BENCHMARKS.md). A failed write or read is said on stderr and
** exits 2.
*/
#include "common/codec.h"
#include "pos/cli/cli.h"
#include "pos/till/markcode_json.h"
#include "scanner/layout.h"
#include "scanner/markcode.h"

#include <errno.h>
#include <getopt.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
    "Exit status: 0 when every code parsed, 1 when any was refused, 2 on usage errors\n"
    "or when reading stdin or writing stdout failed.\n"
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
** pieces with write(2) (a line is at most MARKCODE_JSON_MAX + 1 bytes). */
/* Codes parsed before their JSON is written (see code_out_t). */
enum { CODE_BATCH = 32 };
typedef struct code_out {
  char buf[1 << 20];
  size_t used;
  bool failed; /* a write failed: the rest is not written */
  /* Codes parsed and not yet written: CODE_BATCH are parsed, then their
  ** JSON written, so the parser's code (~25 KiB) and the writer's (~5 KiB)
  ** each stay in the instruction cache for a run of codes instead of
  ** evicting each other every code: 13 % less time for the same
  ** instructions (docs/BENCHMARKS.md). The order of the lines is the
  ** same; 32 markcode_t are ~110 KiB, in the L2 cache. */
  size_t parsed;
  markcode_t mc[CODE_BATCH];
} code_out_t;

static void out_flush(code_out_t *out)
{
  for (size_t done = 0; done < out->used && !out->failed;) {
    ssize_t n = write(STDOUT_FILENO, out->buf + done, out->used - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      perror("kassa code parse: stdout");
      out->failed = true;
      break;
    }
    done += (size_t)n;
  }
  out->used = 0;
}

/* The JSON lines of the codes parsed so far appended to the buffer (written
** out first when it may not hold the next). */
static __attribute__((noinline)) void out_put_parsed(code_out_t *out)
{
  for (size_t i = 0; i < out->parsed; i++) {
    if (sizeof out->buf - out->used < MARKCODE_JSON_MAX + 1) out_flush(out);
    out->used += markcode_json_write(&out->mc[i], out->buf + out->used);
    out->buf[out->used++] = '\n';
  }
  out->parsed = 0;
}

/* Parse one code into the batch (its JSON line is appended when the batch
** is full, or by out_put_parsed() at the end); 0 if it parsed, 1 if
** refused. */
static inline __attribute__((always_inline)) int parse_one(code_out_t *out, const char *text,
                                                           size_t len, int escaped)
{
  markcode_t *mc = &out->mc[out->parsed];
  if (len > CODE_LINE_MAX) len = CODE_LINE_MAX; /* still "too long" after */
  if (escaped) {
    char buf[CODE_LINE_MAX + 1];
    memcpy(buf, text, len);
    len = cli_unescape(buf, len);
    markcode_parse(mc, buf, len);
  } else {
    markcode_parse(mc, text, len);
  }
  if (++out->parsed == CODE_BATCH) out_put_parsed(out);
  return mc->err == MARKCODE_OK ? 0 : 1;
}

/* The first '\n' in [p, end), or NULL. Lines are short (about sixty
** bytes), and libc's memchr costs more to start and finish than to scan
** them: sixteen bytes a step by one compare (GCC/Clang vector extensions;
** pmovmskb gathers the lanes on x86-64), never reading past end. */
typedef char lf_bytes16_t __attribute__((vector_size(16)));
static inline __attribute__((always_inline)) const char *find_newline(const char *p,
                                                                      const char *end)
{
#if defined(__SSE2__)
  for (; end - p >= 16; p += 16) {
    lf_bytes16_t v;
    memcpy(&v, p, sizeof v);
    unsigned mask = (unsigned)__builtin_ia32_pmovmskb128(v == '\n');
    if (mask) return p + __builtin_ctz(mask);
  }
#endif
  return memchr(p, '\n', (size_t)(end - p));
}

/* Every whole line in [p, end) (LF or CRLF), and with last a final line
** without its newline too. Returns the status bits; *rest gets the start
** of what was left (a line still without its newline). */
static int parse_lines(code_out_t *out, const char *p, const char *end, bool last, int escaped,
                       const char **rest)
{
  int status = 0;
  const char *nl;
  while ((nl = find_newline(p, end)) != NULL || (last && p < end)) {
    const char *line_end = nl ? nl : end;
    size_t len = (size_t)(line_end - p);
    if (len && p[len - 1] == '\r') len--;
    status |= parse_one(out, p, len, escaped);
    p = nl ? nl + 1 : end;
  }
  *rest = p;
  return status;
}

/* stdin when it is a regular file: mapped and read in place, without the
** copy read(2) makes of every block. A file cut shorter while it is read
** would make its lost pages fault (SIGBUS): that is caught, and said. */
static sigjmp_buf mapped_lost;
static void on_sigbus(int sig)
{
  (void)sig;
  siglongjmp(mapped_lost, 1);
}

/* The whole lines of a regular stdin, mapped, from its offset to the size
** it has now; the last line, if it has no newline yet, is copied into the
** block (*in, grown as needed; *have its bytes) and stdin left at that
** size, so parse_stream() goes on reading whatever was added since, as if
** it had read it all. Returns the status, -1 when stdin cannot be mapped
** (nothing read), 2 when it failed. */
static int parse_mapped(code_out_t *out, int escaped, char **in, size_t *cap, size_t *have)
{
  struct stat st;
  off_t at = lseek(STDIN_FILENO, 0, SEEK_CUR);
  if (at < 0 || fstat(STDIN_FILENO, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= at)
    return -1;
  long page = sysconf(_SC_PAGESIZE);
  off_t from = at - at % (page > 0 ? page : 4096);
  if ((uintmax_t)(st.st_size - from) > SIZE_MAX) return -1; /* more than the address space */
  size_t size = (size_t)(st.st_size - from);
  char *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, STDIN_FILENO, from);
  if (map == MAP_FAILED) return -1;
  /* No madvise: MADV_SEQUENTIAL, MADV_WILLNEED and MAP_POPULATE each
  ** made the 2 M-code file 2-4 % slower here (docs/BENCHMARKS.md). */
  struct sigaction lost = {.sa_handler = on_sigbus}, before;
  sigemptyset(&lost.sa_mask);
  sigaction(SIGBUS, &lost, &before);
  volatile int status = 0;
  if (sigsetjmp(mapped_lost, 1) == 0) {
    const char *rest;
    status = parse_lines(out, map + (at - from), map + size, false, escaped, &rest);
    size_t left = (size_t)(map + size - rest);
    if (left >= *cap) { /* one unfinished line longer than the block */
      char *bigger = realloc(*in, 2 * left);
      if (bigger) {
        *in = bigger;
        *cap = 2 * left;
      }
    }
    if (left < *cap) {
      memcpy(*in, rest, left);
      *have = left;
    } else {
      perror("kassa code parse");
      status = 2;
    }
  } else {
    fputs("kassa code parse: stdin was cut shorter while it was read\n", stderr);
    status = 2;
  }
  sigaction(SIGBUS, &before, NULL);
  munmap(map, size);
  lseek(STDIN_FILENO, st.st_size, SEEK_SET); /* what was mapped counts as read */
  return status;
}

/* Every line of stdin (LF or CRLF; the last may lack its newline): mapped
** when it is a regular file, then (or else) read in large blocks; a line
** longer than the block grows it. */
static int parse_stream(code_out_t *out, int escaped)
{
  size_t cap = 1 << 20, have = 0;
  char *in = malloc(cap);
  if (!in) return perror("kassa code parse"), 2;
  int status = parse_mapped(out, escaped, &in, &cap, &have);
  if (status == 2) {
    free(in);
    return 2;
  }
  if (status < 0) status = 0;
  for (;;) {
    ssize_t got = read(STDIN_FILENO, in + have, cap - have);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      free(in);
      return perror("kassa code parse: stdin"), 2;
    }
    bool eof = got == 0;
    have += (size_t)got;
    const char *rest;
    status |= parse_lines(out, in, in + have, eof, escaped, &rest);
    have = (size_t)(in + have - rest);
    memmove(in, rest, have);
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
  out->failed = false;
  out->parsed = 0;
  fflush(stdout); /* nothing is buffered there; the JSON goes by write(2) */
  if (first < argc) {
    for (int i = first; i < argc; i++) status |= parse_one(out, argv[i], strlen(argv[i]), escaped);
  } else {
    status = parse_stream(out, escaped);
  }
  out_put_parsed(out);
  out_flush(out);
  if (out->failed && status < 2) status = 2;
  free(out);
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
