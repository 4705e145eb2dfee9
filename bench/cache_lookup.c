/*
** cache_lookup.c: the code cache at the sizes a big store reaches.
**
** For each size N it fills a fresh cache (pos/till/cache.h) with N codes the way
** a sync does, through cache_sync_apply in pages of 10 000 rows, in the
** feed's order (codes as they were issued: random serials, so the B-tree
** takes them in random key order), and reports the apply rate. Then it
** looks up 1 000 000 random codes (one in ten absent) with cache_code_get,
** timing each call, and reports p50, p99, p99.9 and the mean, and the
** process's peak resident memory (the 64 MB bound of the service). Last,
** the feed's parse rate: one page of 10 000 codes in the JSON kassa-operator
** sends (ofd/emulator/registry.h), parsed again and again with
** registry_parse_page.
**
** usage: cache_lookup [--dir DIR] [--smoke] [N ...]   (default N: 1000000)
**   --smoke  10 000 codes; checks that every code reads back as written
**            and that absent codes are absent; prints no speed claim.
** The cache file is DIR/cache-bench-N.db (DIR default /tmp), removed after.
*/
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ofd/registry.h"
#include "pos/till/cache.h"
#include "bench_cache.h"

#define LOOKUPS  1000000u
#define GTINS    64u
#define ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/* A 64-bit mix (splitmix64's finaliser): code i's serial looks random. */
static uint64_t mix(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static char gtins[GTINS][15];

static void gtins_make(void)
{
  for (unsigned g = 0; g < GTINS; g++) {
    char d[15];
    unsigned sum = 0;
    snprintf(d, sizeof d, "0460%09u", 100000000u + g * 7919u);
    for (int i = 0; i < 13; i++) sum += (unsigned)(d[i] - '0') * (i % 2 == 0 ? 3u : 1u);
    d[13] = (char)('0' + (10 - sum % 10) % 10);
    d[14] = '\0';
    memcpy(gtins[g], d, 15);
  }
}

/* Code i (present for i < n, absent for i >= n): 01 GTIN 21 serial(13). */
static void code_ki(uint64_t i, char out[40])
{
  uint64_t h = mix(i), k = mix(h);
  char serial[14];
  for (int j = 0; j < 13; j++) {
    serial[j] = ALPHABET[k % 62];
    k /= 62;
    if (j == 9) k = mix(h ^ i);
  }
  serial[13] = '\0';
  snprintf(out, 40, "01%s21%s", gtins[h % GTINS], serial);
}

/* What the sync wrote for code i. */
static cache_sync_row_t code_row(uint64_t i, const char *ki)
{
  static const char *const owners[] = {"7700000001", "7700000002", "770000000123"};
  uint64_t h = mix(i);
  cache_sync_row_t r = {.ki = ki,
                        .gtin = NULL,
                        .state = (h & 0xff) < 240 ? CACHE_OP_CIRCULATION : CACHE_OP_RETIRED,
                        .blocked = (h & 0xfff) == 7,
                        .sold = (h & 0xff) >= 240,
                        .owner_inn = owners[h % 3],
                        .expire_ms = (h & 1) ? T0_MS + (int64_t)(h % 365) * 86400000 : 0,
                        .mrp = (h & 2) ? 15000 : 0,
                        .smp = 0};
  return r;
}

static cache_sync_row_t code_sync_row(uint64_t i, char ki[40])
{
  code_ki(i, ki);
  return code_row(i, ki);
}

/* Every code reads back as written; absent ones are absent. */
static int verify(cache_t *c, uint64_t n)
{
  char ki[40];
  cache_code_t row;
  for (uint64_t i = 0; i < n + n / 10; i++) {
    int rc;
    code_ki(i, ki);
    rc = cache_code_get(c, ki, &row);
    if (i >= n) {
      if (rc != CACHE_ERR_NOT_FOUND) return fprintf(stderr, "absent code %s found\n", ki), -1;
      continue;
    }
    cache_sync_row_t want = code_row(i, ki);
    if (rc != 0 || row.op_state != want.state || row.op_blocked != want.blocked ||
        row.op_sold != want.sold || strcmp(row.owner_inn, want.owner_inn) != 0 ||
        row.expire_ms != want.expire_ms || row.mrp != want.mrp || row.local != CACHE_LOCAL_NONE ||
        strncmp(row.gtin, ki + 2, 14) != 0)
      return fprintf(stderr, "code %s reads back wrong (rc %d)\n", ki, rc), -1;
  }
  return 0;
}

static int lookups(cache_t *c, uint64_t n)
{
  double *t = malloc(LOOKUPS * sizeof *t), sum = 0;
  char ki[40];
  cache_code_t row;
  unsigned found = 0;
  if (!t) return -1;
  srand(12345);
  for (unsigned i = 0; i < LOOKUPS; i++) {
    uint64_t r = ((uint64_t)rand() << 31 | (uint64_t)rand()) % (n + n / 9);
    code_ki(r, ki);
    double a = now_s();
    int rc = cache_code_get(c, ki, &row);
    double b = now_s();
    if (rc == 0) found++;
    if (rc != 0 && rc != CACHE_ERR_NOT_FOUND) {
      free(t);
      return -1;
    }
    t[i] = (b - a) * 1e6;
    sum += t[i];
  }
  qsort(t, LOOKUPS, sizeof *t, cmp_double);
  printf("  cache_code_get, %u random lookups (%u found): p50 %.2f us, p99 %.2f us, p99.9 %.2f "
         "us, mean %.2f us\n",
         LOOKUPS, found, t[LOOKUPS / 2], t[LOOKUPS * 99 / 100], t[LOOKUPS * 999 / 1000],
         sum / LOOKUPS);
  free(t);
  return 0;
}

/* One feed page of 10 000 codes as kassa-operator writes it, parsed in a loop. */
static int parse_rate(void)
{
  size_t cap = PAGE * 160 + 1024, len = 0;
  char *json = malloc(cap), ki[40];
  registry_page_t page;
  double t, elapsed;
  unsigned rounds = 0;
  if (!json) return -1;
  len += (size_t)snprintf(json, cap,
                          "{\"code\":0,\"description\":\"ok\",\"after\":\"0\",\"next\":\"10000\","
                          "\"last\":\"10000\",\"more\":false,\"fields\":[\"ki\",\"gtin\",\"state\","
                          "\"blocked\",\"sold\",\"owner\",\"expire\",\"mrp\",\"smp\"],\"codes\":[");
  for (unsigned i = 0; i < PAGE; i++) {
    cache_sync_row_t r;
    code_ki(i, ki);
    r = code_row(i, ki);
    len += (size_t)snprintf(
        json + len, cap - len, "%s[\"%s\",\"%.14s\",\"%s\",%s,%s,\"%s\",%" PRId64 ",%" PRIu64 ",0]",
        i ? "," : "", ki, ki + 2, r.state == CACHE_OP_RETIRED ? "RETIRED" : "INTRODUCED",
        r.blocked ? "true" : "false", r.sold ? "true" : "false", r.owner_inn, r.expire_ms, r.mrp);
  }
  len += (size_t)snprintf(json + len, cap - len, "]}");
  memset(&page, 0, sizeof page);
  t = now_s();
  do {
    if (registry_parse_page(json, len, &page) != 0 || page.count != PAGE) {
      fprintf(stderr, "cache_lookup: the feed page does not parse\n");
      free(json);
      return -1;
    }
    rounds++;
  } while ((elapsed = now_s() - t) < 2.0);
  printf("feed page parse (registry_parse_page, %u codes, %zu bytes): %.0f codes/s\n", PAGE, len,
         (double)rounds * PAGE / elapsed);
  registry_page_free(&page);
  free(json);
  return 0;
}

int main(int argc, char **argv)
{
  const char *dir = "/tmp";
  uint64_t sizes[8];
  size_t count = 0;
  bool smoke = false;

  gtins_make();
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--smoke"))
      smoke = true;
    else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
      dir = argv[++i];
    else if (count < 8 && strtoull(argv[i], NULL, 10) > 0)
      sizes[count++] = strtoull(argv[i], NULL, 10);
    else {
      fprintf(stderr, "usage: cache_lookup [--dir DIR] [--smoke] [N ...]\n");
      return 2;
    }
  }
  if (smoke) {
    sizes[0] = 10000;
    count = 1;
  } else if (count == 0) {
    sizes[count++] = 1000000;
  }
  for (size_t s = 0; s < count; s++) {
    char path[512], wal[540], shm[540];
    cache_t *c = NULL;
    double seconds = 1, rate;
    int rc = 0;
    snprintf(path, sizeof path, "%s/cache-bench-%" PRIu64 "-%d.db", dir, sizes[s], (int)getpid());
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    if (cache_open(path, &c) != 0) {
      fprintf(stderr, "cache_lookup: cannot open %s\n", path);
      return 1;
    }
    if (bench_fill(c, sizes[s], code_sync_row, sizes[s] >= 1000000, &seconds) != 0) rc = 1;
    rate = (double)sizes[s] / seconds;
    if (rc == 0 && smoke) {
      rc = verify(c, sizes[s]);
      if (rc == 0) printf("cache_lookup --smoke: %" PRIu64 " codes read back exactly\n", sizes[s]);
    } else if (rc == 0) {
      printf("%" PRIu64 " codes: sync apply %.0f codes/s (pages of %u, feed order)\n", sizes[s],
             rate, PAGE);
      rc = lookups(c, sizes[s]);
      printf("  peak resident memory %ld kB\n", rss_peak_kb());
    }
    cache_close(c);
    unlink(path);
    unlink(wal);
    unlink(shm);
    if (rc != 0) return 1;
  }
  if (!smoke && parse_rate() != 0) return 1;
  return 0;
}
