/*
** cli_demo.c: `kassa demo` (the store day, pos/demo_day.c) and `kassa demo
** codes`, the scanner's side of it.
**
** `kassa demo codes` runs the first thing a till does with every scan: it
** reads the demo codes named in
** the config ([paths] demo_codes), each written the way scanners deliver
** them (lost separators, AIM prefixes, a Russian keyboard layout, damage),
** parses each, prints what the cashier would see, and checks the outcome
** against the expectation written beside the code. Exit 0 only if every
** code behaved as expected.
**
** File format, one code per line (blank lines and # comments ignored):
**   ok|refuse <TAB> code with \x1d escapes <TAB> what it shows
*/
#include "pos/cli.h"
#include "scanner/markcode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_fixes(const markcode_t *mc, char *out, size_t size)
{
  size_t o = 0;
  out[0] = '\0';
  for (unsigned k = 0; k < MARKCODE_FIX__COUNT && o < size; k++)
    if (mc->fixes & (1u << k)) {
      int n = snprintf(out + o, size - o, "%s%s", o ? "," : "",
                       markcode_fix_name((markcode_fix_t)(1u << k)));
      if (n < 0) break;
      o += (size_t)n;
    }
}

static int demo_codes(const kassa_config_t *cfg)
{
  FILE *f = fopen(cfg->demo_codes, "r");
  if (!f) {
    fprintf(stderr, "kassa demo: cannot read the demo codes %s (set [paths] demo_codes)\n",
            cfg->demo_codes);
    return 1;
  }
  printf("kassa demo: scans from %s\n\n", cfg->demo_codes);
  printf("%-3s %-7s %-13s %-14s %-20s %s\n", "#", "verdict", "kind/error", "gtin", "serial",
         "repairs / message");
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int count = 0, wrong = 0;
  while ((n = getline(&line, &cap, f)) >= 0) {
    size_t len = (size_t)n;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (len == 0 || line[0] == '#') continue;
    char *expect = line, *code = strchr(line, '\t');
    if (!code) {
      fprintf(stderr, "kassa demo: line without a TAB: %s\n", line);
      wrong++;
      continue;
    }
    *code++ = '\0';
    char *note = strchr(code, '\t');
    if (note) *note++ = '\0';
    size_t clen = cli_unescape(code, strlen(code));
    markcode_t mc;
    markcode_parse(&mc, code, clen);
    int ok = mc.err == MARKCODE_OK;
    int as_expected = ok == !strcmp(expect, "ok");
    char detail[512];
    if (ok)
      print_fixes(&mc, detail, sizeof detail);
    else
      markcode_message(&mc, MARKCODE_LANG_RU, detail, sizeof detail);
    count++;
    printf("%-3d %-7s %-13s %-14s %-20s %s%s\n", count, ok ? "ALLOW" : "REFUSE",
           ok ? markcode_kind_name(mc.kind) : markcode_err_code(mc.err), mc.gtin, mc.serial, detail,
           as_expected ? "" : "   <-- NOT AS EXPECTED");
    if (note && *note) printf("    %s\n", note);
    wrong += !as_expected;
  }
  free(line);
  fclose(f);
  printf("\n%d scans, %d as expected, %d not\n", count, count - wrong, wrong);
  return wrong == 0 && count > 0 ? 0 : 1;
}

int cli_demo(const kassa_config_t *cfg, int argc, char **argv)
{
  if (argc >= 2 && !strcmp(argv[1], "codes")) return demo_codes(cfg);
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    puts("usage: kassa demo          a store day against kassa-operator on loopback\n"
         "       kassa demo codes    the demo scans through the marking-code engine\n"
         "\n"
         "The store day starts kassa-operator (next to kassa, or $KASSA_OPERATOR) in a\n"
         "temporary directory and exits 0 only if every step behaved as described.");
    return 0;
  }
  if (argc >= 2) {
    fprintf(stderr, "kassa demo: unknown argument %s (try --help)\n", argv[1]);
    return 2;
  }
  return demo_store_day(cfg);
}
