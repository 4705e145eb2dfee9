/*
** markcode_bench.c: marking codes parsed per second, one core, and how far
** that is from what merely reading the bytes costs.
**
** The mix is what a busy till sees: mostly clean GS1 codes from 2D scanners
** (footwear 44/88, dairy, water, tobacco), some with AIM prefixes or leading
** GS, a share from keyboard-wedge scanners that lost their separators or
** arrived under the Russian layout, plain EAN-13s, and a few refusals. Each
** code is parsed into the same caller-owned markcode_t, as the till does.
**
** Absolute rates move with the host (a shared VM, another process on the
** core), so every figure is also given as a ratio to a floor measured in
** the same run on the same bytes: the byte-scan floor of a code is memchr
** for every GS plus a sum of its bytes, the least any parser must do (look
** at each byte once and find the separators). "floor %" = floor time /
** parse time: 100 % would be a parser as cheap as reading the code. The
** parser and the floor are timed in nine alternating slices and each
** figure is the median of its slices (measure()), so a neighbour's burst
** on a shared host moves neither.
**
** Per layout: ns a code, ns a character, the floor's ns and the ratio. The
** mix: codes/s. With --cli KASSA: `KASSA code parse` over a file of the
** mix (one code a line, stdout to /dev/null), its codes/s and its ratio to
** the library's rate on the same mix (CPU time of each: on a shared machine
** it moves less than wall time).
**
** usage: markcode_bench [SECONDS] [--cli KASSA] [--cli-codes N]
**        (SECONDS per measurement, default 3; N default 2 000 000)
**        markcode_bench --mix-file PATH [--cli-codes N]: only write the mix
**        as a file of N lines (to profile `kassa code parse` on it)
**        markcode_bench --count N [--layout I]: only parse the mix (or the
**        I-th layout, from 0) N times, untimed: for callgrind, whose
**        instruction counts a busy machine does not move, e.g.
**        valgrind --tool=callgrind --toggle-collect=markcode_parse
**        markcode_bench --count 100000 --layout 0 (Ir / N = per code)
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "scanner/markcode.h"

#define GS "\x1d"

/* The mix of a busy till (weights sum to 100). */
static const struct {
  const char *code;
  int weight;
} mix[] = {
    {"010461008041021521e,s;r!t%BroGd" GS "91EE11" GS
     "929GkndNAXaeC4gMRT4LHKh/EkGRn4+gUPdrWMpbtkejw=",
     20},
    {"]d2010463011132146421V!VeVCzqYrNi_" GS "910098" GS
     "92rKl1F4poDIm7lNxYpopchwRkhKfjPSZtyGRFb17Zk2x1MxujYHTQxiZTBjn7UV6AJ+qcTKgTbA1SbHRPH5fkcw==",
     10},
    {"0103041094787443215Qbag!" GS "93Zjqw", 15},
    {GS "0104600605032541215B,LN)" GS "93gJXT", 10},
    {"0104607038046435215Z7(DdTeBEIIU" GS "93mfhf", 10},
    {"010460043993125621JgXJ5.T" GS "8005112000" GS "93abcd", 5},
    {"04606203084623+A13gPh-4Hi7uGl", 5},
    {"4607038046435", 10},
    {"0104601669010315217m2CUceKxx41w91EE0692rUIIFK4Vds1rR0GLNvvo43aAM7CwwSh1twdFV8Y0heQ=", 5},
    {"0104636332455339215\xd0\xb9\xd1\x84"
     "5,\xd0\xa6\xd0\xa0\xd0\x9e\xd1\x8b\xd1\x8b\xd0\xb8\xd0\xa8-" GS
     "93\xd0\xb2\xd0\x9f\xd0\x9c\xd1\x8f",
     3},
    {"015175404137639621Pg0R4Vcxuarsu" GS "91ffd0" GS
     "92tHvxvNv2hZna+QJefLW+4th9wmu04kwn0yPNJ/xWO9U=",
     4},
    {"010460780959150821sSBmxTYIFT(eq" GS "91FFD0" GS "92testtesttest", 3},
};

/* One code of every layout, each measured alone. */
static const struct {
  const char *name;
  const char *code;
} layouts[] = {
    {"footwear_88 (129 chars)", "010463011132146421V!VeVCzqYrNi_" GS "910098" GS
                                "92rKl1F4poDIm7lNxYpopchwRkhKfjPSZtyGRFb17Zk2x1MxujYHTQxiZTBjn7"
                                "UV6AJ+qcTKgTbA1SbHRPH5fkcw=="},
    {"footwear_44", "010461008041021521e,s;r!t%BroGd" GS "91EE11" GS
                    "929GkndNAXaeC4gMRT4LHKh/EkGRn4+gUPdrWMpbtkejw="},
    {"footwear_88 + AIM", "]d2010463011132146421V!VeVCzqYrNi_" GS "910098" GS
                          "92rKl1F4poDIm7lNxYpopchwRkhKfjPSZtyGRFb17Zk2x1MxujYHTQxiZTBjn7UV6AJ+"
                          "qcTKgTbA1SbHRPH5fkcw=="},
    {"dairy", "0103041094787443215Qbag!" GS "93Zjqw"},
    {"dairy + leading GS", GS "0104600605032541215B,LN)" GS "93gJXT"},
    {"water", "0104607038046435215Z7(DdTeBEIIU" GS "93mfhf"},
    {"tobacco_block", "010460043993125621JgXJ5.T" GS "8005112000" GS "93abcd"},
    {"tobacco_pack", "04606203084623+A13gPh-4Hi7uGl"},
    {"ean13", "4607038046435"},
    {"wedge, GS lost (layouts)",
     "0104601669010315217m2CUceKxx41w91EE0692rUIIFK4Vds1rR0GLNvvo43aAM7CwwSh1twdFV8Y0heQ="},
    {"russian layout", "0104636332455339215\xd0\xb9\xd1\x84"
                       "5,\xd0\xa6\xd0\xa0\xd0\x9e\xd1\x8b\xd1\x8b\xd0\xb8\xd0\xa8-" GS
                       "93\xd0\xb2\xd0\x9f\xd0\x9c\xd1\x8f"},
    {"refused (tail length)", "010460780959150821sSBmxTYIFT(eq" GS "91FFD0" GS "92testtesttest"},
};

/* CPU seconds of this thread: on a shared machine a rate over CPU time
** moves less with the other processes than one over wall time. */
static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile unsigned long sink;

/* The byte-scan floor of one code: every GS found with memchr, every byte
** summed. noinline: measured per call, like the parser. */
__attribute__((noinline)) static unsigned long floor_scan(const char *s, size_t n)
{
  unsigned long gs = 0, sum = 0;
  const char *p = s, *end = s + n;
  while ((p = memchr(p, 0x1d, (size_t)(end - p))) != NULL) {
    gs++;
    p++;
  }
  for (size_t i = 0; i < n; i++) sum += (unsigned char)s[i];
  return gs + sum;
}

/* Seconds per call of parse (or of the floor) over codes[0..n), repeated
** for about `seconds`. */
static double per_call(const char *const *codes, const size_t *lens, size_t n, double seconds,
                       int floor_only, double *valid_out)
{
  markcode_t mc;
  unsigned long calls = 0, ok = 0, acc = 0;
  double start = now(), elapsed;
  do {
    for (int rep = 0; rep < 100; rep++)
      for (size_t i = 0; i < n; i++) {
        if (floor_only)
          acc += floor_scan(codes[i], lens[i]);
        else
          ok += markcode_parse(&mc, codes[i], lens[i]) == MARKCODE_OK;
        calls++;
      }
    elapsed = now() - start;
  } while (elapsed < seconds);
  sink = acc;
  if (valid_out) *valid_out = (double)ok / (double)calls;
  return elapsed / (double)calls;
}

#define ROUNDS     9 /* odd: the median is one round's figure */
#define CLI_ROUNDS 5 /* the same for `kassa code parse` and the library beside it */

static int by_value(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, by_value);
  return v[n / 2];
}

/*
** The parser and its floor over the same codes, measured in ROUNDS
** alternating slices (the parser for seconds / ROUNDS, the floor for half
** that), each figure the median of its slices. A shared host's bursts (a
** neighbour's job for a few hundred milliseconds) land in one or two
** slices of one of the two, and the median leaves them out; on a quiet
** host it equals the mean. *parse_s and *floor_s: seconds a call.
*/
static void measure(const char *const *codes, const size_t *lens, size_t n, double seconds,
                    double *parse_s, double *floor_s, double *valid_out)
{
  double p[ROUNDS], f[ROUNDS];
  for (int r = 0; r < ROUNDS; r++) {
    p[r] = per_call(codes, lens, n, seconds / ROUNDS, 0, r == 0 ? valid_out : NULL);
    f[r] = per_call(codes, lens, n, seconds / ROUNDS / 2, 1, NULL);
  }
  *parse_s = median(p, ROUNDS);
  *floor_s = median(f, ROUNDS);
}

/* Run `kassa code parse` over path (stdout to /dev/null); its CPU seconds
** (user + system, from wait4), or a negative number when it could not run. */
static double run_cli(const char *kassa, const char *path)
{
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int in = open(path, O_RDONLY), out = open("/dev/null", O_WRONLY);
    if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0) _exit(127);
    execl(kassa, kassa, "code", "parse", (char *)NULL);
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) > 1) return -1;
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
  double seconds = 3.0;
  const char *kassa = NULL;
  long cli_codes = 2000000;
  const char *mix_file = NULL;
  long calls = 0, layout = -1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--mix-file") && i + 1 < argc)
      mix_file = argv[++i];
    else if (!strcmp(argv[i], "--cli") && i + 1 < argc)
      kassa = argv[++i];
    else if (!strcmp(argv[i], "--count") && i + 1 < argc)
      calls = atol(argv[++i]);
    else if (!strcmp(argv[i], "--layout") && i + 1 < argc)
      layout = atol(argv[++i]);
    else if (!strcmp(argv[i], "--cli-codes") && i + 1 < argc)
      cli_codes = atol(argv[++i]);
    else
      seconds = atof(argv[i]);
  }
  /* Expand the weights into a 100-entry cycle so the mix is exact. */
  const char *cycle[128];
  size_t lens[128], n = 0;
  for (size_t i = 0; i < sizeof mix / sizeof mix[0]; i++)
    for (int w = 0; w < mix[i].weight && n < 128; w++) {
      cycle[n] = mix[i].code;
      lens[n] = strlen(mix[i].code);
      n++;
    }
  if (mix_file) { /* only the file of the mix, one code a line (to profile the CLI on) */
    FILE *f = fopen(mix_file, "w");
    if (!f) return perror(mix_file), 1;
    for (long i = 0; i < cli_codes; i++) {
      fwrite(cycle[i % (long)n], 1, lens[i % (long)n], f);
      fputc('\n', f);
    }
    return fclose(f) == 0 ? 0 : 1;
  }
  if (calls > 0) { /* untimed, for callgrind: the mix or one layout, count times */
    markcode_t mc;
    unsigned long ok = 0;
    size_t nl = sizeof layouts / sizeof layouts[0];
    if (layout >= (long)nl) return fprintf(stderr, "markcode_bench: no layout %ld\n", layout), 2;
    const char *one = layout >= 0 ? layouts[layout].code : NULL;
    size_t one_len = one ? strlen(one) : 0;
    for (long i = 0; i < calls; i++)
      ok += one ? markcode_parse(&mc, one, one_len) == MARKCODE_OK
                : markcode_parse(&mc, cycle[i % (long)n], lens[i % (long)n]) == MARKCODE_OK;
    printf("%s: %ld codes parsed, %lu valid\n", one ? layouts[layout].name : "mix", calls, ok);
    return 0;
  }
  double each = seconds / 4 > 0.05 ? seconds / 4 : 0.05;

  printf("markcode_parse by layout (floor = memchr for GS + byte sum, same run):\n");
  printf("  %-26s %5s %9s %8s %9s %8s\n", "layout", "chars", "ns/code", "ns/char", "floor ns",
         "floor %");
  double worst = 1e9;
  for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++) {
    const char *c = layouts[l].code;
    size_t len = strlen(c);
    double parse, fl;
    measure(&c, &len, 1, each, &parse, &fl, NULL);
    double ratio = 100.0 * fl / parse;
    if (ratio < worst) worst = ratio;
    printf("  %-26s %5zu %9.1f %8.2f %9.1f %7.1f%%\n", layouts[l].name, len, parse * 1e9,
           parse * 1e9 / (double)len, fl * 1e9, ratio);
  }
  printf("  worst layout: %.1f%% of the floor (target >= 15%%)\n", worst);

  double valid = 0, parse, fl;
  measure(cycle, lens, n, seconds, &parse, &fl, &valid);
  double rate = 1.0 / parse;
  printf("markcode_parse mix: %.0f codes/s (%.0f ns/code, floor %.1f ns = %.1f%%; %.1f%% valid; "
         "target >= 5 000 000)\n",
         rate, parse * 1e9, fl * 1e9, 100.0 * fl / parse, 100.0 * valid);
  if (!kassa) return 0;

  /* The bulk command line over a file of the mix. */
  char path[] = "/tmp/markcode_bench_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return perror("mkstemp"), 1;
  close(fd);
  const char *self[] = {argv[0], "--mix-file", path, "--cli-codes", NULL, NULL};
  char count[24];
  snprintf(count, sizeof count, "%ld", cli_codes);
  self[4] = count;
  if (main(5, (char **)self) != 0) return 1;
  /* The command and the library alternate, CLI_ROUNDS times each, and each
  ** rate is the median of its rounds: a change in the machine's load hits
  ** a round of one or of the other, not the ratio. */
  double lib_rate[CLI_ROUNDS], cmd_rate[CLI_ROUNDS], lib_lo = 1e18, lib_hi = 0;
  for (int r = 0; r < CLI_ROUNDS; r++) {
    lib_rate[r] = 1.0 / per_call(cycle, lens, n, seconds / CLI_ROUNDS, 0, NULL);
    double cpu = run_cli(kassa, path);
    if (cpu <= 0) {
      unlink(path);
      return fprintf(stderr, "markcode_bench: %s code parse failed\n", kassa), 1;
    }
    cmd_rate[r] = (double)cli_codes / cpu;
    if (lib_rate[r] < lib_lo) lib_lo = lib_rate[r];
    if (lib_rate[r] > lib_hi) lib_hi = lib_rate[r];
  }
  unlink(path);
  double cli_rate = median(cmd_rate, CLI_ROUNDS), lib = median(lib_rate, CLI_ROUNDS);
  printf("kassa code parse < file: %.0f codes/s (%ld codes a run, median of %d runs) = %.1f%% of "
         "the library's %.0f codes/s (median of %d slices between them, %.0f to %.0f; target >= "
         "50%%)\n",
         cli_rate, cli_codes, CLI_ROUNDS, 100.0 * cli_rate / lib, lib, CLI_ROUNDS, lib_lo, lib_hi);
  return 0;
}
