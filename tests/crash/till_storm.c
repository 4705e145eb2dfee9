/*
** tests/crash/till_storm.c: a storm of sales and returns through the till,
** killed with SIGKILL at random moments, then audited.
**
** The till promises (pos/till/sale.h) that a marked code is sold if and only if
** a receipt in the FN archive sells it, whatever instruction a crash stops
** at, and that nothing is sold twice. This harness holds it to that:
**
**   till_storm kill DIR KILLS [SEED]
**       (DIR "-": a fresh temporary directory, removed when all holds)
**       create DIR (FN registered for marking, a key, a shift, a
**       catalogue), then KILLS times: start `till_storm run DIR SEED+i`,
**       wait until it is selling, let it run 1-60 ms, SIGKILL it. Then one
**       clean run that opens the till (its repair), and the audit.
**   till_storm run DIR SEED
**       open the till (which repairs the last crash), print "ready", then
**       sell forever: receipts of 1-3 marked codes drawn from 400 serials
**       (an already sold one is refused and skipped), every fifth receipt a
**       return of a code drawn the same way (refused unless sold), paid in
**       cash; some receipts are cancelled, some lines removed.
**   till_storm check DIR
**       the audit alone.
**
** The audit replays the FN archive itself, in order: a sale of a code that
** is sold already (no return in between) is a failure, a return of a code
** not sold is a failure; the cache must then say exactly that (SOLD with
** the sale's document number, IN_STOCK with the return's), and hold no
** SOLD code the archive does not sell; the till's replay pointer is the
** archive's last document; no basket is left closing; the FN's table of
** checked codes holds only codes of the open basket.
**
** Prints the figures; exits 0 when all holds, 1 with the reason otherwise.
*/
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fiscal/crypto.h"
#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "pos/till/cache.h"
#include "pos/till/check.h"
#include "pos/till/fsck.h"
#include "pos/till/sale.h"
#include "pos/till/till.h"
#include "scanner/markcode.h"
#include "tests/support/fn_fixture.h"

#define SERIALS       400u
#define GTIN          "04600000001012"
#define READY_TIMEOUT 20000

/* The key "0001" the FN checks the codes' 44-character tails with. */
static fn_key_t key;

static void ki_of(unsigned serial, char *ki) { sprintf(ki, "01" GTIN "21St%011u", serial); }

/* The code of a serial, with a genuine tail; out holds FN_FIXTURE_CODE_MAX. */
static size_t code_of(unsigned serial, char *out)
{
  char ki[64];
  ki_of(serial, ki);
  size_t n = fn_fixture_code_44(out, ki, key.id, &key);
  if (n == 0) fn_fixture_fail("hmac");
  return n;
}

static void config_for(const char *dir, kassa_config_t *cfg)
{
  kassa_config_defaults(cfg);
  snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", dir);
  snprintf(cfg->check_mode, sizeof cfg->check_mode, "offline");
}

static till_t *open_till(const char *dir)
{
  kassa_config_t cfg;
  char err[512];
  till_t *t = NULL;
  config_for(dir, &cfg);
  till_options_t o = {.config = &cfg};
  if (till_open(&o, &t, err, sizeof err) != 0) fn_fixture_fail("till_open: %s", err);
  return t;
}

static void init(const char *dir)
{
  char path[512];
  fn_t *fn = NULL;
  fn_registration_t r;
  mkdir(dir, 0700);
  snprintf(path, sizeof path, "%s/fn.db", dir);
  if (fn_emu_create(path, "9999078900054321") != 0 || fn_emu_open(path, NULL, &fn) != 0)
    fn_fixture_fail("cannot create the FN in %s", dir);
  fn_fixture_registration(&r, false);
  if (fn_fixture_prepare(fn, &r, &key, "") != 0) fn_fixture_fail("cannot register the FN");
  fn_free(fn);
  till_t *t = open_till(dir);
  cache_product_t p = {.gtin = GTIN,
                       .name = "Ботинки",
                       .price = 250000,
                       .vat = 1,
                       .group = "footwear",
                       .marking_required = true};
  if (cache_product_put(till_cache(t), &p) != 0) fn_fixture_fail("catalogue");
  till_close(t);
}

static void run(const char *dir, unsigned seed)
{
  char code[256];
  check_decision_t *d = malloc(sizeof *d);
  sale_basket_t *b = malloc(sizeof *b);
  till_t *t = open_till(dir);
  srand(seed);
  if (!d || !b) fn_fixture_fail("memory");
  /* A basket a crash left open: finish it so the storm goes on. */
  if (sale_get(t, b) == 0 && b->open) {
    if (b->count == 0 || sale_close(t, b->total, 0, NULL, d) != 0) sale_cancel(t);
  }
  printf("ready\n");
  fflush(stdout);
  for (unsigned n = 0;; n++) {
    bool ret = rand() % 5 == 0;
    if (sale_open(t, ret ? DOC_OP_SALE_RETURN : DOC_OP_SALE, NULL) != 0)
      fn_fixture_fail("sale_open");
    int lines = 1 + rand() % 3;
    for (int i = 0; i < lines; i++) {
      size_t len = code_of((unsigned)rand() % SERIALS, code);
      int rc = sale_add_scan(t, code, len, NULL, 0, d, NULL);
      if (rc != 0 && rc != SALE_ERR_REFUSED) fn_fixture_fail("add: %s", sale_err_name(rc));
    }
    if (sale_get(t, b) != 0) fn_fixture_fail("get");
    if (b->count > 1 && rand() % 7 == 0) sale_remove(t, b->lines[0].id);
    if (sale_get(t, b) != 0) fn_fixture_fail("get");
    if (b->count == 0 || rand() % 11 == 0) {
      if (sale_cancel(t) != 0) fn_fixture_fail("cancel");
      continue;
    }
    int rc = sale_close(t, b->total, 0, NULL, d);
    if (rc != 0)
      fn_fixture_fail("close: %s (fn %s)", sale_err_name(rc), fn_err_name(till_sale_fn_error(t)));
  }
}

/* ---- the audit ------------------------------------------------------------ */

static int check(const char *dir)
{
  static fn_document_t doc;
  uint32_t sold_by[SERIALS] = {0}, returned_by[SERIALS] = {0};
  uint32_t receipts = 0, sales = 0, returns = 0;
  fn_status_t st;
  doc_header_t h;
  uint64_t total;
  uint8_t sign[6];
  markcode_t mc;
  doc_receipt_t *r = malloc(sizeof *r);
  till_t *t = open_till(dir); /* the repair runs first, as in real life */
  if (!r) fn_fixture_fail("memory");
  if (fn_status(till_fn(t), &st) != 0) fn_fixture_fail("fn_status");
  if (st.receipt_open) fn_fixture_fail("an FN receipt is still open after the repair");
  for (uint32_t n = 1; n <= st.last_document; n++) {
    if (fn_document_get(till_fn(t), n, &doc) != 0) fn_fixture_fail("document %u missing", n);
    if (doc.type != DOC_RECEIPT) continue;
    if (doc_parse_receipt(doc.data, doc.len, &h, r, &total, sign) != 0)
      fn_fixture_fail("receipt %u", n);
    receipts++;
    for (size_t i = 0; i < r->item_count; i++) {
      if (!r->items[i].marked) continue;
      if (markcode_parse(&mc, r->items[i].km, r->items[i].km_len) != MARKCODE_OK)
        fn_fixture_fail("receipt %u: unreadable code", n);
      unsigned s = (unsigned)strtoul(mc.serial + 2, NULL, 10);
      if (s >= SERIALS) fn_fixture_fail("receipt %u: serial %s", n, mc.serial);
      bool is_sold = sold_by[s] > returned_by[s];
      if (r->operation == DOC_OP_SALE) {
        if (is_sold) fn_fixture_fail("code %u sold twice: FD %u and FD %u", s, sold_by[s], n);
        sold_by[s] = n;
        sales++;
      } else if (r->operation == DOC_OP_SALE_RETURN) {
        if (!is_sold) fn_fixture_fail("code %u returned by FD %u without a sale", s, n);
        returned_by[s] = n;
        returns++;
      }
    }
  }
  uint32_t applied = 0;
  if (cache_fn_applied(till_cache(t), &applied) != 0 || applied != st.last_document)
    fn_fixture_fail("cache applied %u of %u documents", applied, st.last_document);
  unsigned sold_now = 0;
  for (unsigned s = 0; s < SERIALS; s++) {
    char ki[64];
    cache_code_t row;
    ki_of(s, ki);
    int rc = cache_code_get(till_cache(t), ki, &row);
    bool is_sold = sold_by[s] > returned_by[s];
    sold_now += is_sold;
    if (is_sold && (rc != 0 || row.local != CACHE_LOCAL_SOLD || row.sold_document != sold_by[s]))
      fn_fixture_fail("code %u: sold by FD %u, the cache says %s/%u", s, sold_by[s],
                      rc                              ? "absent"
                      : row.local == CACHE_LOCAL_SOLD ? "sold"
                                                      : "not sold",
                      rc ? 0 : row.sold_document);
    if (!is_sold && rc == 0 && row.local == CACHE_LOCAL_SOLD)
      fn_fixture_fail("code %u: the cache says sold by FD %u, the archive does not", s,
                      row.sold_document);
    if (!is_sold && returned_by[s] && row.returned_document != returned_by[s])
      fn_fixture_fail("code %u: returned by FD %u, the cache says %u", s, returned_by[s],
                      row.returned_document);
  }
  sale_basket_t *b = malloc(sizeof *b);
  if (!b || sale_get(t, b) != 0) fn_fixture_fail("basket");
  uint32_t marked_in_basket = 0;
  for (size_t i = 0; b->open && i < b->count; i++)
    marked_in_basket += b->lines[i].marked; /* rechecked or not, it may be held */
  if (fn_status(till_fn(t), &st) != 0) fn_fixture_fail("fn_status");
  if (st.checked_km > marked_in_basket)
    fn_fixture_fail("the FN holds %u checked codes, the basket %u: codes leaked", st.checked_km,
                    marked_in_basket);
  /* And the same data through `kassa fsck`'s checks. */
  fsck_report_t *fr = malloc(sizeof *fr);
  char ferr[256];
  till_close(t);
  t = NULL;
  if (!fr || fsck_run(dir, fr, ferr, sizeof ferr) != 0)
    fn_fixture_fail("fsck: %s", fr ? ferr : "memory");
  if (fr->problem_count)
    fn_fixture_fail("fsck: %zu problem(s), first: %s: %s", fr->problem_count, fr->problems[0].check,
                    fr->problems[0].detail);
  free(fr);
  printf("audit: documents=%u receipts=%u marked_sales=%u returns=%u sold_now=%u checked_km=%u "
         "ok\n",
         st.last_document, receipts, sales, returns, sold_now, st.checked_km);
  free(b);
  free(r);
  return 0;
}

static int kill_loop(const char *self, const char *dir, unsigned kills, unsigned seed)
{
  struct timespec t0, t1;
  unsigned mid = 0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  init(dir);
  srand(seed);
  for (unsigned i = 0; i < kills; i++) {
    int pipefd[2];
    char seed_text[16];
    if (pipe(pipefd) != 0) fn_fixture_fail("pipe");
    snprintf(seed_text, sizeof seed_text, "%u", seed + i);
    pid_t pid = fork();
    if (pid < 0) fn_fixture_fail("fork");
    if (pid == 0) {
      dup2(pipefd[1], 1);
      close(pipefd[0]);
      execl(self, self, "run", dir, seed_text, (char *)NULL);
      _exit(127);
    }
    close(pipefd[1]);
    struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
    char buf[64];
    if (poll(&pfd, 1, READY_TIMEOUT) <= 0 || read(pipefd[0], buf, sizeof buf) <= 0) {
      int status;
      waitpid(pid, &status, 0);
      fn_fixture_fail("run %u did not start (status %d)", i, status);
    }
    struct timespec nap = {0, (long)(1 + rand() % 60) * 1000000L};
    nanosleep(&nap, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(pipefd[0]);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      mid++;
    else
      fn_fixture_fail("run %u ended by itself (status %d): it should sell until killed", i, status);
  }
  int rc = check(dir);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("kills=%u killed_mid_run=%u seconds=%.1f\n", kills, mid,
         (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  return rc;
}

int main(int argc, char **argv)
{
  fn_fixture_driver("till_storm");
  fn_fixture_hmac_key(&key, "0001");
  if (crypto_init() != 0) fn_fixture_fail("crypto_init");
  if (argc >= 3 && !strcmp(argv[1], "run")) {
    run(argv[2], argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 1);
    return 0;
  }
  if (argc == 3 && !strcmp(argv[1], "check")) return check(argv[2]);
  if (argc >= 4 && !strcmp(argv[1], "kill")) {
    unsigned seed = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : (unsigned)time(NULL);
    char tmp[] = "/tmp/kassa-storm-XXXXXX", dir[64];
    bool temporary = !strcmp(argv[2], "-");
    if (temporary && !mkdtemp(tmp)) fn_fixture_fail("mkdtemp: %s", strerror(errno));
    snprintf(dir, sizeof dir, "%s/till", tmp);
    printf("seed=%u\n", seed);
    int rc =
        kill_loop(argv[0], temporary ? dir : argv[2], (unsigned)strtoul(argv[3], NULL, 10), seed);
    if (rc == 0 && temporary) {
      char cmd[128];
      snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
      if (system(cmd) != 0) fprintf(stderr, "till_storm: could not remove %s\n", tmp);
    }
    return rc;
  }
  fprintf(stderr, "usage: till_storm kill DIR KILLS [SEED] | run DIR SEED | check DIR\n");
  return 2;
}
