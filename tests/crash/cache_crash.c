/*
** tests/crash/cache_crash.c: SIGKILL a cache writer in a loop, then audit
** the cache file.
**
** The cache promises that a receipt from the FN archive is applied whole or
** not at all, together with the replay pointer, and that a sync page lands
** whole together with its cursor (pos/till/cache.h). This harness forks a child
** that opens the cache and applies, as fast as it can, the next FN document
** (cache_apply_receipt) and the next sync page (cache_sync_apply),
** alternately, from a deterministic script; the parent lets it run a random
** 1-40 ms, kills it with SIGKILL, and audits, KILLS times:
**
**   - the cache opens; the pointer P and the cursor C never go backwards;
**   - everything the child reported committed (it writes "doc N" / "page K"
**     to a pipe after each commit) is in the file: N <= P, K <= C;
**   - every code of documents P-40 .. P+1 and pages C-40 .. C+1 is in the
**     state the script gives for exactly P and C: document P's lines are
**     all applied, document P+1's are all absent (no half receipt), a page
**     is all there or not at all;
**   - the counters (cache_counts) equal what the script gives for P and C.
**
** At the end every code of every document and page is audited once more.
**
**   cache_crash [KILLS [SEED]]     (KILLS 60; SEED from the clock)
**
** Prints the figures and exits 0 when all holds, 1 with the reason.
*/
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pos/till/cache.h"
#include "tests/support/fn_fixture.h"

#define LINES_MAX     4
#define EXTRA_PER_PG  12
#define WINDOW        40
#define READY_TIMEOUT 20000 /* ms: a sanitizer build starts slowly */
#define T0_MS         ((int64_t)1700000000 * 1000)

static char work_dir[64];
static char cache_path[128];

/* ---------------------------------------------------------------------- */
/* The script: what document n and page k hold                             */

typedef enum { DOC_OTHER, DOC_PURCHASE, DOC_SALE, DOC_RETURN } doc_kind_t;

static doc_kind_t doc_kind(uint32_t n)
{
  if (n == 0) return DOC_OTHER;
  if (n % 9 == 0) return DOC_OTHER;     /* a shift report: pointer only */
  if (n % 10 == 0) return DOC_PURCHASE; /* operation 3: pointer only */
  if (n % 4 == 0 && doc_kind(n - 1) == DOC_SALE) return DOC_RETURN; /* of n-1's codes */
  return DOC_SALE;
}

static unsigned doc_lines(uint32_t n) { return 1 + n % LINES_MAX; }

/* Code j of document (or page) n: "01" GTIN "21" serial. */
static void code_ki(uint32_t n, unsigned j, char *out, size_t cap)
{
  snprintf(out, cap,
           "0104600000000017"
           "21R%08u%04u",
           n, j);
}

/* Extra code i of page k, known only from the operator. */
static void extra_ki(uint32_t k, unsigned i, char *out, size_t cap)
{
  snprintf(out, cap,
           "0104600000000017"
           "21S%08u%04u",
           k, i);
}

static void page_owner(uint32_t k, char out[13]) { snprintf(out, 13, "77000000%02u", k % 5); }

static bool page_blocked(uint32_t k, unsigned j) { return k % 3 == 0 && j == 0; }

/* ---------------------------------------------------------------------- */
/* The child: apply the script from where the file says, forever           */

static void say(int fd, const char *what, uint32_t n)
{
  char line[32];
  int len = snprintf(line, sizeof line, "%s %u\n", what, n);
  if (write(fd, line, (size_t)len) != len) _exit(3);
}

static int apply_doc(cache_t *c, uint32_t n)
{
  char kis[LINES_MAX][CACHE_KI_MAX + 1];
  cache_receipt_line_t lines[LINES_MAX];
  doc_kind_t kind = doc_kind(n);
  uint32_t source = kind == DOC_RETURN ? n - 1 : n;
  unsigned count = kind == DOC_OTHER ? 0 : doc_lines(source);
  uint8_t operation = kind == DOC_SALE ? 1 : kind == DOC_RETURN ? 2 : kind == DOC_PURCHASE ? 3 : 0;
  for (unsigned j = 0; j < count; j++) {
    code_ki(source, j, kis[j], sizeof kis[j]);
    lines[j] = (cache_receipt_line_t){
        .ki = kis[j], .gtin = NULL, .km_status = (uint8_t)(kind == DOC_RETURN ? 3 : 1)};
  }
  return cache_apply_receipt(c, n, operation, lines, count);
}

static int apply_page(cache_t *c, uint32_t k)
{
  char kis[LINES_MAX + EXTRA_PER_PG][CACHE_KI_MAX + 1], owner[13], cursor[16];
  cache_sync_row_t rows[LINES_MAX + EXTRA_PER_PG];
  unsigned n = 0;
  page_owner(k, owner);
  for (unsigned j = 0; j < doc_lines(k); j++, n++) {
    code_ki(k, j, kis[n], sizeof kis[n]);
    rows[n] = (cache_sync_row_t){.ki = kis[n],
                                 .state = CACHE_OP_CIRCULATION,
                                 .blocked = page_blocked(k, j),
                                 .owner_inn = owner,
                                 .expire_ms = T0_MS + k,
                                 .mrp = k};
  }
  for (unsigned i = 0; i < EXTRA_PER_PG; i++, n++) {
    extra_ki(k, i, kis[n], sizeof kis[n]);
    rows[n] = (cache_sync_row_t){.ki = kis[n], .state = CACHE_OP_APPLIED, .owner_inn = owner};
  }
  snprintf(cursor, sizeof cursor, "%u", k);
  return cache_sync_apply(c, rows, n, cursor, T0_MS + k);
}

static void child_main(int fd)
{
  cache_t *c = NULL;
  char cursor[CACHE_CURSOR_MAX + 1];
  uint32_t p = 0, k;
  if (cache_open(cache_path, &c) != 0) _exit(2);
  if (write(fd, "ready\n", 6) != 6) _exit(3);
  for (;;) {
    if (cache_fn_applied(c, &p) != 0 || cache_sync_state(c, cursor, sizeof cursor, NULL) != 0)
      _exit(4);
    k = (uint32_t)strtoul(cursor, NULL, 10);
    if (p <= k) {
      if (apply_doc(c, p + 1) != 0) _exit(5);
      say(fd, "doc", p + 1);
    } else {
      if (apply_page(c, k + 1) != 0) _exit(6);
      say(fd, "page", k + 1);
    }
  }
}

/* ---------------------------------------------------------------------- */
/* The audit                                                               */

/* What the script says about one code for pointer p and cursor c. */
typedef struct expect {
  bool exists;
  cache_local_state_t local;
  uint32_t sold_doc, returned_doc;
  bool synced, blocked;
  cache_op_state_t op;
  uint32_t page;
} expect_t;

static expect_t expect_code(uint32_t n, unsigned j, uint32_t p, uint32_t c)
{
  expect_t e;
  memset(&e, 0, sizeof e);
  if (doc_kind(n) == DOC_SALE && n <= p) {
    e.exists = true;
    e.local = CACHE_LOCAL_SOLD;
    e.sold_doc = n;
    if (doc_kind(n + 1) == DOC_RETURN && n + 1 <= p) {
      e.local = CACHE_LOCAL_IN_STOCK;
      e.returned_doc = n + 1;
    }
  }
  if (n <= c) {
    e.exists = e.synced = true;
    e.op = CACHE_OP_CIRCULATION;
    e.blocked = page_blocked(n, j);
    e.page = n;
  }
  return e;
}

static void audit_code(cache_t *cache, const char *ki, const expect_t *e)
{
  cache_code_t row;
  int rc = cache_code_get(cache, ki, &row);
  if (!e->exists) {
    if (rc != CACHE_ERR_NOT_FOUND) fn_fixture_fail("%s should not exist (rc %d)", ki, rc);
    return;
  }
  if (rc != 0) fn_fixture_fail("%s missing (rc %d)", ki, rc);
  if (row.local != e->local || row.sold_document != e->sold_doc ||
      row.returned_document != e->returned_doc)
    fn_fixture_fail("%s: local %d sold %u returned %u, want %d %u %u", ki, row.local,
                    row.sold_document, row.returned_document, e->local, e->sold_doc,
                    e->returned_doc);
  if (!e->synced) {
    if (row.op_synced_ms != 0 || row.op_state != CACHE_OP_UNKNOWN)
      fn_fixture_fail("%s: synced by a page that is not applied", ki);
    return;
  }
  char owner[13];
  page_owner(e->page, owner);
  if (row.op_state != e->op || row.op_blocked != e->blocked ||
      row.op_synced_ms != T0_MS + e->page || strcmp(row.owner_inn, owner) != 0)
    fn_fixture_fail("%s: operator fields of page %u wrong (state %d blocked %d owner %s)", ki,
                    e->page, row.op_state, row.op_blocked, row.owner_inn);
}

static void audit_doc(cache_t *cache, uint32_t n, uint32_t p, uint32_t c)
{
  char ki[CACHE_KI_MAX + 1];
  for (unsigned j = 0; j < doc_lines(n); j++) {
    expect_t e = expect_code(n, j, p, c);
    code_ki(n, j, ki, sizeof ki);
    audit_code(cache, ki, &e);
  }
}

static void audit_page_extras(cache_t *cache, uint32_t k, uint32_t c)
{
  char ki[CACHE_KI_MAX + 1];
  for (unsigned i = 0; i < EXTRA_PER_PG; i++) {
    expect_t e;
    memset(&e, 0, sizeof e);
    if (k <= c) {
      e.exists = e.synced = true;
      e.op = CACHE_OP_APPLIED;
      e.page = k;
    }
    extra_ki(k, i, ki, sizeof ki);
    audit_code(cache, ki, &e);
  }
}

/* The counters the script gives for p and c. */
static void audit_counts(cache_t *cache, uint32_t p, uint32_t c)
{
  cache_counts_t want, got;
  uint32_t top = (p > c ? p : c) + 1;
  memset(&want, 0, sizeof want);
  for (uint32_t n = 1; n <= top; n++) {
    for (unsigned j = 0; j < doc_lines(n); j++) {
      expect_t e = expect_code(n, j, p, c);
      if (!e.exists) continue;
      want.codes++;
      if (e.local == CACHE_LOCAL_IN_STOCK) want.in_stock++;
      if (e.local == CACHE_LOCAL_SOLD) want.sold++;
      if (e.synced) want.synced++;
      if (e.synced && e.blocked) want.op_blocked++;
    }
  }
  want.codes += (uint64_t)c * EXTRA_PER_PG;
  want.synced += (uint64_t)c * EXTRA_PER_PG;
  if (cache_counts(cache, &got) != 0) fn_fixture_fail("cache_counts failed");
  if (got.codes != want.codes || got.in_stock != want.in_stock || got.sold != want.sold ||
      got.synced != want.synced || got.op_blocked != want.op_blocked || got.remarked != 0)
    fn_fixture_fail(
        "counters at P=%u C=%u: codes %llu/%llu in_stock %llu/%llu sold %llu/%llu synced "
        "%llu/%llu blocked %llu/%llu",
        p, c, (unsigned long long)got.codes, (unsigned long long)want.codes,
        (unsigned long long)got.in_stock, (unsigned long long)want.in_stock,
        (unsigned long long)got.sold, (unsigned long long)want.sold, (unsigned long long)got.synced,
        (unsigned long long)want.synced, (unsigned long long)got.op_blocked,
        (unsigned long long)want.op_blocked);
}

/* Opens the cache and checks it; *p and *c get the pointer and cursor. */
static void audit(uint32_t *p_out, uint32_t *c_out, bool full)
{
  cache_t *cache = NULL;
  char cursor[CACHE_CURSOR_MAX + 1];
  uint32_t p = 0, c = 0, from_doc, from_page;
  int64_t last = 0;
  if (cache_open(cache_path, &cache) != 0) fn_fixture_fail("the cache does not open after a kill");
  if (cache_fn_applied(cache, &p) != 0 ||
      cache_sync_state(cache, cursor, sizeof cursor, &last) != 0)
    fn_fixture_fail("cannot read the pointer or the cursor");
  c = (uint32_t)strtoul(cursor, NULL, 10);
  if (c && last != T0_MS + c) fn_fixture_fail("lastSync %lld is not page %u's", (long long)last, c);
  from_doc = full || p <= WINDOW ? 1 : p - WINDOW; /* documents start at 1 */
  from_page = full || c <= WINDOW ? 1 : c - WINDOW;
  for (uint32_t n = from_doc; n <= p + 1; n++) audit_doc(cache, n, p, c);
  for (uint32_t n = from_page; n <= c + 1; n++) {
    audit_doc(cache, n, p, c);
    audit_page_extras(cache, n, c);
  }
  audit_counts(cache, p, c);
  cache_close(cache);
  *p_out = p;
  *c_out = c;
}

/* ---------------------------------------------------------------------- */
/* The loop                                                                */

/* Reads the child's lines; returns false at EOF. */
static bool pump(int fd, int timeout, bool *ready, uint32_t *max_doc, uint32_t *max_page, char *buf,
                 size_t *len, size_t cap)
{
  struct pollfd pf = {fd, POLLIN, 0};
  int n = poll(&pf, 1, timeout);
  if (n < 0 && errno != EINTR) fn_fixture_fail("poll: %s", strerror(errno));
  if (n <= 0) return true;
  ssize_t got = read(fd, buf + *len, cap - *len - 1);
  if (got < 0) return errno == EINTR;
  if (got == 0) return false;
  *len += (size_t)got;
  buf[*len] = '\0';
  char *line = buf, *nl;
  while ((nl = strchr(line, '\n'))) {
    unsigned long v;
    *nl = '\0';
    if (strcmp(line, "ready") == 0)
      *ready = true;
    else if (sscanf(line, "doc %lu", &v) == 1 && v > *max_doc)
      *max_doc = (uint32_t)v;
    else if (sscanf(line, "page %lu", &v) == 1 && v > *max_page)
      *max_page = (uint32_t)v;
    line = nl + 1;
  }
  *len = strlen(line);
  memmove(buf, line, *len + 1);
  return true;
}

static long long ms_now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
  unsigned long kills = argc > 1 ? strtoul(argv[1], NULL, 10) : 60;
  unsigned seed = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : (unsigned)time(NULL);
  uint32_t p = 0, c = 0, max_doc = 0, max_page = 0;
  unsigned long died_early = 0;
  long long started = ms_now();
  char cmd[128];

  if (kills == 0) kills = 1;
  srand(seed);
  fn_fixture_driver("cache_crash: FAIL");
  fn_fixture_kept("cache", work_dir);
  snprintf(work_dir, sizeof work_dir, "/tmp/kassa-cache-crash-XXXXXX");
  if (!mkdtemp(work_dir)) fn_fixture_fail("mkdtemp: %s", strerror(errno));
  snprintf(cache_path, sizeof cache_path, "%s/cache.db", work_dir);

  for (unsigned long round = 0; round < kills; round++) {
    int fds[2];
    char buf[8192];
    size_t len = 0;
    bool ready = false, open = true;
    int status = 0;
    uint32_t old_p = p, old_c = c;
    if (pipe(fds) != 0) fn_fixture_fail("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) fn_fixture_fail("fork: %s", strerror(errno));
    if (pid == 0) {
      close(fds[0]);
      child_main(fds[1]);
    }
    close(fds[1]);
    long long deadline = ms_now() + READY_TIMEOUT;
    while (!ready && open && ms_now() < deadline)
      open = pump(fds[0], 100, &ready, &max_doc, &max_page, buf, &len, sizeof buf);
    if (!ready) fn_fixture_fail("the writer did not start (round %lu)", round);
    long long until = ms_now() + 1 + rand() % 40;
    while (open && ms_now() < until)
      open = pump(fds[0], 1, &ready, &max_doc, &max_page, buf, &len, sizeof buf);
    kill(pid, SIGKILL);
    if (waitpid(pid, &status, 0) != pid) fn_fixture_fail("waitpid: %s", strerror(errno));
    if (!WIFSIGNALED(status)) {
      died_early++;
      fn_fixture_fail("the writer exited by itself with status %d (round %lu)", WEXITSTATUS(status),
                      round);
    }
    while (open) open = pump(fds[0], 0, &ready, &max_doc, &max_page, buf, &len, sizeof buf);
    close(fds[0]);
    audit(&p, &c, false);
    if (p < old_p || c < old_c)
      fn_fixture_fail("went backwards: P %u -> %u, C %u -> %u", old_p, p, old_c, c);
    if (max_doc > p)
      fn_fixture_fail("document %u was reported committed but the pointer is %u", max_doc, p);
    if (max_page > c)
      fn_fixture_fail("page %u was reported committed but the cursor is %u", max_page, c);
  }
  audit(&p, &c, true);
  if (p < 10 || c < 10) fn_fixture_fail("the writer made too little progress (P %u, C %u)", p, c);
  printf("cache_crash: %lu kills (seed %u), %u documents and %u pages applied, every receipt and "
         "page whole, counters exact, %.1f s\n",
         kills, seed, p, c, (double)(ms_now() - started) / 1000.0);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", work_dir);
  return system(cmd) == 0 && died_early == 0 ? 0 : 1;
}
