/*
** till_bench.c: the till in process: check latency with N codes cached,
** and receipts per second with durability on.
**
** A fresh data directory gets an FN registered for marking (with a key, so
** tails verify), a catalogue, and N codes synced into the cache the way
** `kassa cache sync` writes them (pages of 10 000). Then:
**
**   check   2 000 checks of cached codes with genuine tails through
**           check_probe() (parse, catalogue, store records, the FN's tail
**           check and its decline, the cached operator statuses: [till]
**           check = offline, so no network is measured), each timed;
**   receipt R receipts of one marked and one plain line, each opened,
**           filled and closed through the FN, each close timed (the
**           codes, as a scanner would hand them over, are made before
**           the clock starts), and the rate as a share of the disk's
**           fdatasync rate measured just before and just after in the
**           same directory (their mean); the flushes and bytes SQLite
**           asked of the disk per receipt (bench_io.h counts them);
**   the FN   the receipts' FN calls timed at the FN's interface
**           (bench_fn_clock.h): the FN's part of a receipt and the till's
**           own, and the rate the FN's part alone would allow;
**   start-up the till closed and opened again three times (what `kassa
**           serve` does before it listens), each timed;
**   FN alone the till's last receipt made again by the FN with no till
**           around it (the code checked and accepted, the receipt in one
**           call), a fifth as many times: that bound measured.
**
** usage: till_bench [--dir DIR] [--receipts R] [N ...]   (default N 1000000, R 1000)
** Prints p50/p99/max of each and the peak RSS. Removes its files.
*/
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/db.h"
#include "fiscal/crypto.h"
#include "fiscal/fn_emu.h"
#include "pos/till/cache.h"
#include "pos/till/check.h"
#include "pos/till/sale.h"
#include "pos/till/till.h"
#include "bench_cache.h"
#include "bench_fn_clock.h"
#include "bench_io.h"

#define GTIN     "04600000001012"
#define BREAD    "4600000005058"
#define PROBES   2000u
#define CODE_MAX 128 /* code_of's longest: 31 + 1 + 6 + 1 + 46 characters and the NUL */

static fn_key_t key = {.id = "0001", .kind = FN_KEY_HMAC, .len = 32};

static void ki_of(uint64_t i, char *ki) { sprintf(ki, "01" GTIN "21B%012" PRIu64, i); }

static size_t code_of(uint64_t i, char *out)
{
  static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char ki[64], tail[48];
  uint8_t mac[CRYPTO_STREEBOG256_SIZE];
  size_t o = 0;
  ki_of(i, ki);
  crypto_hmac_streebog256(key.material, key.len, (const uint8_t *)ki, strlen(ki), mac);
  for (size_t k = 0; k < sizeof mac; k += 3) {
    uint32_t w = (uint32_t)mac[k] << 16 | (k + 1 < sizeof mac ? (uint32_t)mac[k + 1] << 8 : 0) |
                 (k + 2 < sizeof mac ? mac[k + 2] : 0);
    tail[o++] = t[w >> 18 & 63];
    tail[o++] = t[w >> 12 & 63];
    tail[o++] = k + 1 < sizeof mac ? t[w >> 6 & 63] : '=';
    tail[o++] = k + 2 < sizeof mac ? t[w & 63] : '=';
  }
  tail[o] = '\0';
  return (size_t)sprintf(out,
                         "%s\x1d"
                         "91%s\x1d"
                         "92%s",
                         ki, key.id, tail);
}

static void report(const char *what, double *v, size_t n)
{
  qsort(v, n, sizeof *v, cmp_double);
  printf("  %s: p50 %.3f ms, p99 %.3f ms, max %.3f ms (%zu)\n", what, v[n / 2] * 1e3,
         v[n * 99 / 100] * 1e3, v[n - 1] * 1e3, n);
}

/* The till on dir as `kassa serve` opens it ([till] check = offline). */
static till_t *open_till(const char *dir)
{
  static kassa_config_t cfg; /* the till keeps the pointer */
  char err[512];
  till_t *t = NULL;
  kassa_config_defaults(&cfg);
  snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", dir);
  snprintf(cfg.check_mode, sizeof cfg.check_mode, "offline");
  till_options_t o = {.config = &cfg};
  if (till_open(&o, &t, err, sizeof err) != 0) {
    fprintf(stderr, "till_bench: %s\n", err);
    exit(1);
  }
  return t;
}

static till_t *make_till(const char *dir)
{
  char path[600];
  fn_t *fn = NULL;
  fn_registration_t r;
  mkdir(dir, 0700);
  snprintf(path, sizeof path, "%s/fn.db", dir);
  memset(&r, 0, sizeof r);
  strcpy(r.header.kkt_reg_number, "0000000001011111");
  strcpy(r.header.user_inn, "7700000000");
  strcpy(r.header.user_name, "Bench");
  strcpy(r.header.address, "Loopback");
  r.reg.tax_systems = 1;
  strcpy(r.reg.ofd_inn, "7704211201");
  strcpy(r.reg.ofd_name, "OFD");
  strcpy(r.reg.kkt_serial, "BENCH0001");
  r.reg.marking = true;
  r.reg.ffd_version = 4;
  if (fn_emu_create(path, "9999078900011111") != 0 || fn_emu_open(path, NULL, &fn) != 0 ||
      fn_register(fn, &r, false, NULL) != 0 || fn_key_update(fn, &key, 1, 0) != 0 ||
      fn_shift_open(fn, NULL, NULL) != 0) {
    fprintf(stderr, "till_bench: cannot set up the FN in %s\n", dir);
    exit(1);
  }
  fn_free(fn);
  till_t *t = open_till(dir);
  cache_product_t shoes = {.gtin = GTIN,
                           .name = "Ботинки",
                           .price = 250000,
                           .vat = 1,
                           .group = "footwear",
                           .marking_required = true};
  cache_product_t bread = {.gtin = "0" BREAD, .name = "Хлеб", .price = 5000, .vat = 1};
  if (cache_product_put(till_cache(t), &shoes) || cache_product_put(till_cache(t), &bread)) exit(1);
  return t;
}

static cache_sync_row_t circulating(uint64_t i, char ki[40])
{
  ki_of(i, ki);
  return (cache_sync_row_t){.ki = ki, .state = CACHE_OP_CIRCULATION, .owner_inn = "7700000000"};
}

static void fill(till_t *t, uint64_t n)
{
  double seconds = 0;
  if (bench_fill(till_cache(t), n, circulating, false, &seconds) != 0) exit(1);
  printf("  filled %" PRIu64 " codes in %.1f s\n", n, seconds);
}

static void run(const char *root, uint64_t n, unsigned receipts)
{
  char dir[512], code[CODE_MAX], cmd[600];
  check_decision_t d;
  double *lat = malloc(sizeof *lat * (receipts > PROBES ? receipts : PROBES));
  snprintf(dir, sizeof dir, "%s/till-bench-%" PRIu64, root, n);
  printf("%" PRIu64 " codes cached:\n", n);
  till_t *t = make_till(dir);
  fill(t, n);
  for (unsigned k = 0; k < PROBES; k++) {
    size_t len = code_of((uint64_t)rand() % n, code);
    double a = now_s();
    check_probe(t, code, len, CHECK_FOR_SALE, 0, NULL, 0, &d);
    lat[k] = now_s() - a;
    if (!d.allow) {
      fprintf(stderr, "till_bench: a cached code was refused: %s\n", check_reason_name(d.reason));
      exit(1);
    }
  }
  report("check_probe (in process)", lat, PROBES);
  /* The disk's own flush rate, in the same directory, just before the
  ** receipts and again just after them: the ratio is to their mean, and a
  ** disk whose rate moved during the run shows as a spread. */
  double flush_before = bench_io_fdatasync_rate(dir, 1.0);
  /* And the least a receipt kept in SQLite could cost: one bare commit. */
  double commit_rate = bench_io_sqlite_commit_rate(dir, 1.0);
  /* The scanner's side, made before the clock starts: a fresh code for
  ** each receipt (never sold), its tail signed with the key (the FN
  ** verifies it in the timed part). */
  char(*codes)[CODE_MAX] = malloc(sizeof *codes * receipts);
  size_t *lens = malloc(sizeof *lens * receipts);
  if (!codes || !lens) exit(1);
  for (unsigned k = 0; k < receipts; k++) lens[k] = code_of(n + k, codes[k]);
  if (bench_fn_clock_install(till_fn(t)) != 0) exit(1);
  bench_fn_counts_t fn0 = bench_fn;
  bench_io_counts_t io0 = bench_io;
  double t0 = now_s();
  for (unsigned k = 0; k < receipts; k++) {
    sale_closed_t c;
    if (sale_open(t, 1, NULL) || sale_add_scan(t, codes[k], lens[k], NULL, 0, &d, NULL) ||
        sale_add_scan(t, BREAD, strlen(BREAD), NULL, 0, &d, NULL)) {
      fprintf(stderr, "till_bench: receipt %u: %s\n", k, check_reason_name(d.reason));
      exit(1);
    }
    double a = now_s();
    if (sale_close(t, 255000, 0, &c, NULL) != 0) exit(1);
    lat[k] = now_s() - a;
  }
  double span = now_s() - t0, receipt_rate = receipts / span;
  bench_io_counts_t io1 = bench_io;
  double flush_after = bench_io_fdatasync_rate(dir, 1.0);
  double flush_rate = (flush_before + flush_after) / 2;
  bench_fn_clock_remove(till_fn(t));
  free(codes);
  free(lens);
  report("sale_close (FN receipt + notification + replay)", lat, receipts);
  printf("  receipts (open, 2 scans, close): %.0f per second = %.1f%% of the disk's %.0f "
         "fdatasync/s measured here (%.0f before, %.0f after; target >= 30%%)\n",
         receipt_rate, 100.0 * receipt_rate / flush_rate, flush_rate, flush_before, flush_after);
  printf("  for scale: one bare durable SQLite commit (3 rows, kept statements) %.0f per second = "
         "%.1f%% of the fdatasync rate; a receipt costs %.1f of them\n",
         commit_rate, 100.0 * commit_rate / flush_rate, commit_rate / receipt_rate);
  printf("  per receipt: %.2f flushes (target <= 1.2), %.1f KiB written (target <= 48; WAL %.1f, "
         "database files %.1f)\n",
         (double)(io1.syncs - io0.syncs) / receipts,
         (double)(io1.bytes - io0.bytes) / receipts / 1024,
         (double)(io1.wal_bytes - io0.wal_bytes) / receipts / 1024,
         (double)(io1.db_bytes - io0.db_bytes) / receipts / 1024);
  printf("  by file:");
  for (int k = 0; k < BENCH_IO__FILES; k++)
    printf(" %s %.2f flushes %.1f KiB;", bench_io_names[k],
           (double)(io1.file_syncs[k] - io0.file_syncs[k]) / receipts,
           (double)(io1.file_bytes[k] - io0.file_bytes[k]) / receipts / 1024);
  printf("\n");
  /* Where a receipt's time goes: waiting in flushes (the FN's commit and
  ** the checkpoints), against the probe's bare fdatasync, and the rest
  ** (the CPU: SQLite, the FN's signatures, the system calls). */
  double us = 1e6 * span / receipts,
         flush_us = 1e6 * (io1.sync_seconds - io0.sync_seconds) / receipts;
  uint64_t fn_syncs = io1.file_syncs[BENCH_IO_FN] - io0.file_syncs[BENCH_IO_FN];
  double fn_flush_us =
      fn_syncs ? 1e6 * (io1.file_sync_seconds[BENCH_IO_FN] - io0.file_sync_seconds[BENCH_IO_FN]) /
                     (double)fn_syncs
               : 0;
  printf("  time a receipt: %.0f us = %.0f us in flushes (an fn.db flush %.0f us; the probe's "
         "fdatasync %.0f us) + %.0f us the rest (CPU and system calls)\n",
         us, flush_us, fn_flush_us, flush_rate > 0 ? 1e6 / flush_rate : 0, us - flush_us);
  /* The FN's part (timed at its interface, its flushes inside it) and
  ** the till's: the first alone bounds the rate whatever the till does. */
  double fn_us = 1e6 * bench_fn_seconds(&fn0) / receipts;
  printf("  the FN's calls: %.0f us a receipt (", fn_us);
  for (int k = 0; k < BENCH_FN__CALLS; k++)
    if (bench_fn.calls[k] > fn0.calls[k])
      printf("%s%s %.2f x %.1f us", k ? ", " : "", bench_fn_names[k],
             (double)(bench_fn.calls[k] - fn0.calls[k]) / receipts,
             1e6 * (bench_fn.seconds[k] - fn0.seconds[k]) /
                 (double)(bench_fn.calls[k] - fn0.calls[k]));
  printf("), its flushes %.0f us of it; the till's own %.0f us\n",
         1e6 * (io1.file_sync_seconds[BENCH_IO_FN] - io0.file_sync_seconds[BENCH_IO_FN]) / receipts,
         us - fn_us);
  printf("  the FN alone, as timed in the till (a till costing nothing): at most %.1f%% of the "
         "fdatasync rate\n",
         fn_us > 0 && flush_rate > 0 ? 100.0 * 1e6 / fn_us / flush_rate : 0);
  printf("  peak RSS %ld MB\n", rss_peak_kb() / 1024);
  till_close(t);
  /* Start-up: what `kassa serve` does before it listens (open the FN, the
  ** cache and the basket, repair, catch the cache up with the archive). */
  for (int i = 0; i < 3; i++) {
    double a = now_s();
    t = open_till(dir);
    lat[i] = now_s() - a;
    till_close(t);
  }
  printf("  till_open (start-up with %" PRIu64 " codes and %u receipts in the archive): "
         "%.1f, %.1f, %.1f ms\n",
         n, receipts, lat[0] * 1e3, lat[1] * 1e3, lat[2] * 1e3);
  /* The same bound measured: the till's last receipt made again by the FN
  ** with no till around it (a fifth as many, at least 200), after the
  ** start-up's figures, which its receipts would otherwise change. */
  unsigned again = receipts / 5 > 200 ? receipts / 5 : 200;
  t = open_till(dir);
  double alone = bench_fn_alone_rate(till_fn(t), again);
  till_close(t);
  if (alone <= 0) {
    fprintf(stderr, "till_bench: the FN refused the till's receipt made again\n");
    exit(1);
  }
  printf(
      "  the FN alone, measured (%u receipts: code checked and accepted, receipt made): %.0f per "
      "second = %.1f%% of the fdatasync rate\n",
      again, alone, flush_rate > 0 ? 100.0 * alone / flush_rate : 0);
  /* The till's rate against that bound: how much of the rate its FN
  ** allows the till keeps. */
  printf("  the till against the FN alone: %.1f%% of the FN alone's rate\n",
         100.0 * receipt_rate / alone);
  free(lat);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "till_bench: could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
  const char *root = "/tmp";
  unsigned receipts = 1000;
  int sizes = 0;
  for (size_t i = 0; i < key.len; i++) key.material[i] = (uint8_t)(i * 3 + 1);
  db_process_setup(); /* as the till's first open does; the shim below starts SQLite */
  if (crypto_init() != 0 || bench_io_install() != 0) return 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--dir") && i + 1 < argc)
      root = argv[++i];
    else if (!strcmp(argv[i], "--receipts") && i + 1 < argc)
      receipts = (unsigned)strtoul(argv[++i], NULL, 10);
    else {
      run(root, strtoull(argv[i], NULL, 10), receipts);
      sizes++;
    }
  }
  if (!sizes) run(root, 1000000, receipts);
  return 0;
}
