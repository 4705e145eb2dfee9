/*
** markcode_bench.c: marking codes parsed per second, one core.
**
** The mix is what a busy till sees: mostly clean GS1 codes from 2D scanners
** (footwear 44/88, dairy, water, tobacco), some with AIM prefixes or leading
** GS, a share from keyboard-wedge scanners that lost their separators or
** arrived under the Russian layout, plain EAN-13s, and a few refusals. Each
** code is parsed into the same caller-owned markcode_t, as the till does.
**
** usage: markcode_bench [SECONDS]   (default 3; prints one line of figures)
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scanner/markcode.h"

#define GS "\x1d"

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

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
  double seconds = argc > 1 ? atof(argv[1]) : 3.0;
  /* Expand the weights into a 100-entry cycle so the mix is exact. */
  const char *cycle[128];
  size_t lens[128], n = 0;
  for (size_t i = 0; i < sizeof mix / sizeof mix[0]; i++)
    for (int w = 0; w < mix[i].weight && n < 128; w++) {
      cycle[n] = mix[i].code;
      lens[n] = strlen(mix[i].code);
      n++;
    }
  markcode_t mc;
  unsigned long parsed = 0, ok = 0;
  double start = now(), elapsed;
  do {
    for (int rep = 0; rep < 100; rep++)
      for (size_t i = 0; i < n; i++) {
        ok += markcode_parse(&mc, cycle[i], lens[i]) == MARKCODE_OK;
        parsed++;
      }
    elapsed = now() - start;
  } while (elapsed < seconds);
  printf("markcode_parse: %.0f codes/s (%lu codes in %.2f s, %.1f%% valid, %.0f ns/code)\n",
         (double)parsed / elapsed, parsed, elapsed, 100.0 * (double)ok / (double)parsed,
         1e9 * elapsed / (double)parsed);
  return 0;
}
