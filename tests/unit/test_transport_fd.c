/*
** test_transport_fd.c: scans arriving through the framer and the fd
** transport (scanner/transport.h).
**
** The framer is tested alone first: every suffix mode, a CRLF cut between
** two feeds, GS kept as data, AIM identifiers, empty and overlong scans,
** and silence framing with explicit timestamps.
**
** Then the fd backend through pseudo-terminals: a writer thread plays the
** scanner on the master side, the transport reads the slave. 10 000
** realistic marking codes (GS separators, some with the ]d2 prefix), each
** with a random suffix, written in random chunk sizes so codes and CRLF
** pairs are cut across reads, must all arrive whole and in order; silence
** framing must join bytes closer than the gap and split at the gap; and an
** unplug (the master closed) must be reported, then reconnection must work.
** A FIFO whose writer leaves checks the POLLHUP-only path of unplugging.
**
** The random seed is printed; set KASSA_TEST_SEED to replay a run.
*/
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "scanner/transport.h"
#include "test_transport_fifo.h"

#define GS      0x1D
#define N_CODES 10000

static uint64_t seed = 20240521u;

/* splitmix64: small, good enough, and the same everywhere. */
static uint64_t rng_next(uint64_t *s)
{
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static size_t rng_below(uint64_t *s, size_t n) { return (size_t)(rng_next(s) % n); }

static void sleep_ms(unsigned ms)
{
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* ---- framer alone ---- */

static scan_framer_t framer;
static scan_t scan;

static void framer_setup(scan_framing_mode_t mode, unsigned gap_ms)
{
  scan_framing_t fr = {mode, gap_ms};

  assert_int_equal(scan_framer_init(&framer, &fr), TRANSPORT_OK);
}

/* Feed s (which may contain NUL: len given) at time now; collect the scans
** into out[] as strings, results into rcs[]. Returns how many results. */
static size_t framer_run(const char *s, size_t len, uint64_t now, char out[][64], int *rcs,
                         size_t max)
{
  size_t used, k = 0;
  int rc;

  for (;;) {
    rc = scan_framer_feed(&framer, (const uint8_t *)s, len, now, &used, &scan);
    assert_true(used <= len);
    s += used;
    len -= used;
    if (rc == TRANSPORT_AGAIN) break;
    assert_true(k < max);
    rcs[k] = rc;
    out[k][0] = 0;
    if (rc == TRANSPORT_OK) {
      assert_true(scan.length < 64);
      memcpy(out[k], scan.data, scan.length + 1);
    }
    k++;
  }
  assert_int_equal(len, 0);
  return k;
}

/* framer_run on a string literal (which may hold NUL). */
#define RUN(lit, now, out, rcs, max) framer_run(lit, sizeof(lit) - 1, now, out, rcs, max)

/* Each suffix mode: what one feed of in (no NUL in these) hands out. */
static void test_framer_suffix_modes(void **state)
{
  static const struct {
    scan_framing_mode_t mode;
    const char *in;
    size_t n;
    const char *want[6];
  } cases[] = {
      {SCAN_FRAME_CR,
       "01a\x1d"
       "91x\r\r02\n\r",
       2,
       {"01a\x1d"
        "91x",    /* GS is data */
        "02\n"}}, /* LF is data here */
      {SCAN_FRAME_LF, "A\r\nB\n\n", 2, {"A\r", "B"}},
      {SCAN_FRAME_TAB, "A\rB\tC\t", 2, {"A\rB", "C"}},
      {SCAN_FRAME_CRLF, "A\rB\r\r\nC\r\n", 2, {"A\rB\r" /* lone CRs are data */, "C"}},
      {SCAN_FRAME_ANY_SUFFIX,
       "A\r\nB\rC\nD\tE\r\n\r\n\t\nF\n\r",
       6,
       {"A", "B", "C", "D", "E", "F"}},
  };
  char out[8][64];
  int rcs[8];

  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    framer_setup(cases[i].mode, 0);
    size_t n = framer_run(cases[i].in, strlen(cases[i].in), 0, out, rcs, 8);
    assert_int_equal(n, cases[i].n);
    for (size_t k = 0; k < n; k++) assert_string_equal(out[k], cases[i].want[k]);
  }
}

static void test_framer_crlf_split_across_feeds(void **state)
{
  char out[4][64];
  int rcs[4];

  (void)state;
  framer_setup(SCAN_FRAME_CRLF, 0);
  assert_int_equal(RUN("0104\x1d"
                       "91",
                       0, out, rcs, 4),
                   0);
  assert_int_equal(RUN("EE\r", 1, out, rcs, 4), 0);
  assert_int_equal(RUN("\n", 2, out, rcs, 4), 1);
  assert_string_equal(out[0], "0104\x1d"
                              "91EE");
  /* A CR at the end of one feed and not-LF at the start of the next. */
  assert_int_equal(RUN("X\r", 3, out, rcs, 4), 0);
  assert_int_equal(RUN("Y\r\n", 4, out, rcs, 4), 1);
  assert_string_equal(out[0], "X\rY");

  framer_setup(SCAN_FRAME_ANY_SUFFIX, 0);
  assert_int_equal(RUN("A\r", 0, out, rcs, 4), 1);
  assert_string_equal(out[0], "A");
  /* The LF half of that CRLF, in the next read, is not a scan, nor data. */
  assert_int_equal(RUN("\nB\t", 0, out, rcs, 4), 1);
  assert_string_equal(out[0], "B");
}

static void test_framer_aim_and_binary(void **state)
{
  scan_framing_t fr = {SCAN_FRAME_LF, 0};
  static const uint8_t bin[] = {']', 'd', '2', '0', 0x00, GS, 0xE8, '\n'};
  size_t used;

  (void)state;
  assert_int_equal(scan_framer_init(&framer, &fr), TRANSPORT_OK);
  assert_int_equal(scan_framer_feed(&framer, bin, sizeof bin, 0, &used, &scan), TRANSPORT_OK);
  assert_int_equal(scan.length, 7);
  assert_memory_equal(scan.data, bin, 7); /* prefix kept, NUL kept */
  assert_int_equal(scan.data[7], 0);
  assert_string_equal(scan.aim, "]d2");

  assert_int_equal(scan_framer_feed(&framer, (const uint8_t *)"]Q3x\n", 5, 0, &used, &scan),
                   TRANSPORT_OK);
  assert_string_equal(scan.aim, "]Q3");
  assert_int_equal(scan_framer_feed(&framer, (const uint8_t *)"]13x\n", 5, 0, &used, &scan),
                   TRANSPORT_OK);
  assert_string_equal(scan.aim, ""); /* ']' + digit: not an AIM id */
  assert_int_equal(scan_framer_feed(&framer, (const uint8_t *)"]d\n", 3, 0, &used, &scan),
                   TRANSPORT_OK);
  assert_string_equal(scan.aim, "");
  assert_int_equal(scan.length, 2);
}

static void test_framer_overlong(void **state)
{
  static char big[SCAN_DATA_MAX + 8];
  char out[4][64];
  int rcs[4];
  size_t used;

  (void)state;
  framer_setup(SCAN_FRAME_CR, 0);
  /* Exactly SCAN_DATA_MAX is fine. */
  memset(big, 'A', SCAN_DATA_MAX);
  big[SCAN_DATA_MAX] = '\r';
  assert_int_equal(
      scan_framer_feed(&framer, (const uint8_t *)big, SCAN_DATA_MAX + 1, 0, &used, &scan),
      TRANSPORT_OK);
  assert_int_equal(scan.length, SCAN_DATA_MAX);

  /* One more is overlong, reported once at its end, in pieces. */
  memset(big, 'B', SCAN_DATA_MAX + 1);
  assert_int_equal(framer_run(big, 700, 0, out, rcs, 4), 0);
  assert_int_equal(framer_run(big, SCAN_DATA_MAX + 1 - 700, 0, out, rcs, 4), 0);
  assert_int_equal(RUN("BBB\rok\r", 0, out, rcs, 4), 2);
  assert_int_equal(rcs[0], TRANSPORT_OVERLONG);
  assert_int_equal(rcs[1], TRANSPORT_OK);
  assert_string_equal(out[1], "ok"); /* the tail never became a scan */
}

static void test_framer_silence(void **state)
{
  char out[4][64];
  int rcs[4];

  (void)state;
  framer_setup(SCAN_FRAME_SILENCE, 50);
  assert_int_equal(scan_framer_wait_ms(&framer, 0), -1);
  assert_int_equal(RUN("0104", 1000, out, rcs, 4), 0);
  assert_int_equal(RUN("\x1d"
                       "91\r",
                       1030, out, rcs, 4),
                   0);
  assert_int_equal(scan_framer_wait_ms(&framer, 1040), 40);
  assert_int_equal(scan_framer_flush(&framer, 1079, &scan), TRANSPORT_AGAIN);
  assert_int_equal(scan_framer_flush(&framer, 1080, &scan), TRANSPORT_OK);
  assert_string_equal((char *)scan.data, "0104\x1d"
                                         "91\r"); /* all kept */
  assert_int_equal(scan_framer_flush(&framer, 2000, &scan), TRANSPORT_AGAIN);

  /* A byte after the gap first completes the scan before it. */
  assert_int_equal(RUN("AB", 3000, out, rcs, 4), 0);
  assert_int_equal(RUN("CD", 3100, out, rcs, 4), 1);
  assert_string_equal(out[0], "AB");
  assert_int_equal(scan_framer_flush(&framer, 3150, &scan), TRANSPORT_OK);
  assert_string_equal((char *)scan.data, "CD");

  /* Suffix framing never completes on silence. */
  framer_setup(SCAN_FRAME_CR, 0);
  assert_int_equal(RUN("AB", 0, out, rcs, 4), 0);
  assert_int_equal(scan_framer_wait_ms(&framer, 0), -1);
  assert_int_equal(scan_framer_flush(&framer, 99999, &scan), TRANSPORT_AGAIN);
}

static void test_framer_arguments(void **state)
{
  scan_framing_t silence0 = {SCAN_FRAME_SILENCE, 0};
  scan_framing_t bad = {(scan_framing_mode_t)42, 0};
  scan_framing_t cr = {SCAN_FRAME_CR, 0};
  static int sentinel;
  scanner_transport_t *t = (scanner_transport_t *)(void *)&sentinel;
  size_t used = 5;

  (void)state;
  assert_int_equal(scan_framer_init(&framer, &silence0), TRANSPORT_ERR_ARGUMENT);
  assert_int_equal(scan_framer_init(&framer, &bad), TRANSPORT_ERR_ARGUMENT);
  assert_int_equal(scan_framer_init(NULL, &cr), TRANSPORT_ERR_ARGUMENT);
  assert_int_equal(scan_framer_init(&framer, &cr), TRANSPORT_OK);
  assert_int_equal(scan_framer_feed(&framer, NULL, 1, 0, &used, &scan), TRANSPORT_ERR_ARGUMENT);
  assert_int_equal(used, 0);
  assert_int_equal(scan_framer_feed(&framer, NULL, 0, 0, &used, &scan), TRANSPORT_AGAIN);
  scan_framer_reset(NULL);

  assert_int_equal(transport_fd_new(NULL, &cr, &t), TRANSPORT_ERR_ARGUMENT);
  assert_null(t);
  t = (scanner_transport_t *)(void *)&sentinel;
  assert_int_equal(transport_fd_new("/dev/null", &bad, &t), TRANSPORT_ERR_ARGUMENT);
  assert_null(t);
  assert_int_equal(transport_read_scan(NULL, &scan, 0), TRANSPORT_ERR_ARGUMENT);
  transport_free(NULL);
  transport_close(NULL);
  assert_string_equal(transport_describe(NULL), "");
  assert_string_equal(transport_strerror(TRANSPORT_UNPLUGGED), "scanner unplugged or not present");
}

/* ---- pseudo-terminals ---- */

typedef struct pty {
  int master;
  char slave[128];
} pty_t;

static void pty_open(pty_t *p)
{
  const char *name;
  int flags;

  p->master = posix_openpt(O_RDWR | O_NOCTTY);
  assert_true(p->master >= 0);
  assert_int_equal(grantpt(p->master), 0);
  assert_int_equal(unlockpt(p->master), 0);
  name = ptsname(p->master);
  assert_non_null(name);
  assert_true(strlen(name) < sizeof p->slave);
  strcpy(p->slave, name);
  /* The writer waits in poll(), so it can be told to stop. */
  flags = fcntl(p->master, F_GETFL);
  assert_int_equal(fcntl(p->master, F_SETFL, flags | O_NONBLOCK), 0);
}

static void pty_close(pty_t *p)
{
  if (p->master >= 0) close(p->master);
  p->master = -1;
}

/* The fd backend on a fresh pty's slave, with framing, opened. */
static scanner_transport_t *fd_on_pty(pty_t *p, const scan_framing_t *framing)
{
  scanner_transport_t *t = NULL;

  pty_open(p);
  assert_int_equal(transport_fd_new(p->slave, framing, &t), TRANSPORT_OK);
  assert_int_equal(transport_open(t), TRANSPORT_OK);
  return t;
}

static void fd_close(scanner_transport_t *t, pty_t *p)
{
  transport_free(t);
  pty_close(p);
}

/* A writer thread: segments of bytes, each after a pause, each either in
** one write or cut into random chunks with short pauses between some. */
typedef struct segment {
  const uint8_t *data;
  size_t len;
  unsigned delay_ms;
  /* Optional, one per byte: 1 where a frame ends after that byte, 2 after
  ** the CR of a CRLF suffix. Lets the writer count where it cut. */
  const uint8_t *marks;
} segment_t;

typedef struct writer {
  int fd;
  const segment_t *segs;
  size_t nsegs;
  bool random_chunks;
  uint64_t rng;
  atomic_int stop;
  int failed;         /* errno of a failed write, or 0 */
  size_t chunks;      /* writes made */
  size_t cuts_inside; /* writes that ended inside a code */
  size_t cuts_crlf;   /* ... between the CR and LF of a suffix */
  pthread_t thread;
} writer_t;

static int write_all(writer_t *w, const uint8_t *p, size_t n)
{
  struct pollfd pfd;
  ssize_t k;

  while (n > 0) {
    if (atomic_load(&w->stop)) return -1;
    k = write(w->fd, p, n);
    if (k > 0) {
      p += k;
      n -= (size_t)k;
    } else if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
      pfd.fd = w->fd;
      pfd.events = POLLOUT;
      (void)poll(&pfd, 1, 100);
    } else {
      w->failed = errno ? errno : EIO;
      return -1;
    }
  }
  return 0;
}

static void *writer_main(void *arg)
{
  writer_t *w = arg;
  struct timespec pause = {0, 300000L};
  size_t i, pos, n;

  for (i = 0; i < w->nsegs; i++) {
    const segment_t *s = &w->segs[i];

    sleep_ms(s->delay_ms);
    for (pos = 0; pos < s->len; pos += n) {
      n = s->len - pos;
      if (w->random_chunks) {
        /* Mostly mid-sized chunks, some tiny ones that cut at any byte
        ** (inside a CRLF, next to a GS); a pause now and then lets the
        ** reader take a half-written code. */
        size_t max = rng_below(&w->rng, 4) == 0 ? 6 : 300;
        size_t want = 1 + rng_below(&w->rng, max);
        if (want < n) n = want;
        if (rng_below(&w->rng, 32) == 0) nanosleep(&pause, NULL);
      }
      if (write_all(w, s->data + pos, n) != 0) return NULL;
      w->chunks++;
      if (s->marks != NULL && pos + n < s->len) {
        w->cuts_inside += s->marks[pos + n - 1] == 0;
        w->cuts_crlf += s->marks[pos + n - 1] == 2;
      }
    }
  }
  return NULL;
}

static void writer_start(writer_t *w, int fd, const segment_t *segs, size_t nsegs,
                         bool random_chunks)
{
  memset(w, 0, sizeof *w);
  w->fd = fd;
  w->segs = segs;
  w->nsegs = nsegs;
  w->random_chunks = random_chunks;
  w->rng = seed ^ 0x5752495445ull;
  atomic_init(&w->stop, 0);
  assert_int_equal(pthread_create(&w->thread, NULL, writer_main, w), 0);
}

static void writer_join(writer_t *w)
{
  atomic_store(&w->stop, 1);
  pthread_join(w->thread, NULL);
}

/* ---- fd transport ---- */

/* A realistic marking code: [ ]d2 ] 01 GTIN(14) 21 serial(13) GS 91 key(4)
** GS 92 tail(44, base64 of 32 bytes). Returns its length. */
static size_t make_code(uint64_t *r, char *out, bool aim)
{
  static const char cs82[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                             "!\"%&'()*+,-./:;<=>?_";
  static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = 0, i;

  if (aim) {
    memcpy(out, "]d2", 3);
    n = 3;
  }
  out[n++] = '0';
  out[n++] = '1';
  for (i = 0; i < 14; i++) out[n++] = (char)('0' + rng_below(r, 10));
  out[n++] = '2';
  out[n++] = '1';
  for (i = 0; i < 13; i++) out[n++] = cs82[rng_below(r, sizeof cs82 - 1)];
  out[n++] = GS;
  out[n++] = '9';
  out[n++] = '1';
  for (i = 0; i < 4; i++) out[n++] = alnum[rng_below(r, sizeof alnum - 1)];
  out[n++] = GS;
  out[n++] = '9';
  out[n++] = '2';
  for (i = 0; i < 43; i++) out[n++] = b64[rng_below(r, sizeof b64 - 1)];
  out[n++] = '=';
  return n;
}

static void test_fd_ten_thousand_codes(void **state)
{
  static const char *const suffixes[] = {"\r", "\n", "\r\n", "\t"};
  static char codes[N_CODES][96];
  static size_t code_len[N_CODES];
  static uint8_t stream[N_CODES * 100], marks[N_CODES * 100];
  scan_framing_t any = {SCAN_FRAME_ANY_SUFFIX, 0};
  scanner_transport_t *t = NULL;
  pty_t p;
  char source[sizeof p.slave + 3];
  size_t len = 0, i, bad = N_CODES, with_aim = 0;
  uint64_t r = seed;
  writer_t w;
  segment_t seg;
  int rc = TRANSPORT_OK;

  (void)state;
  for (i = 0; i < N_CODES; i++) {
    const char *sfx = suffixes[rng_below(&r, 4)];
    bool aim = rng_below(&r, 4) == 0;

    with_aim += aim;
    code_len[i] = make_code(&r, codes[i], aim);
    memcpy(stream + len, codes[i], code_len[i]);
    len += code_len[i];
    memcpy(stream + len, sfx, strlen(sfx));
    len += strlen(sfx);
    marks[len - 1] = 1;
    if (strlen(sfx) == 2) marks[len - 2] = 2;
  }
  assert_true(with_aim > N_CODES / 8);

  t = fd_on_pty(&p, &any);
  snprintf(source, sizeof source, "fd:%s", p.slave);

  seg.data = stream;
  seg.len = len;
  seg.delay_ms = 0;
  seg.marks = marks;
  writer_start(&w, p.master, &seg, 1, true);
  for (i = 0; i < N_CODES; i++) {
    rc = transport_read_scan(t, &scan, 5000);
    if (rc != TRANSPORT_OK || scan.length != code_len[i] ||
        memcmp(scan.data, codes[i], code_len[i]) != 0 ||
        strcmp(scan.aim, codes[i][0] == ']' ? "]d2" : "") != 0 ||
        strcmp(scan.source, source) != 0) {
      bad = i;
      break;
    }
  }
  writer_join(&w);
  print_message("seed %llu: %zu codes (%zu with ]d2), %zu bytes in %zu writes, "
                "%zu cutting a code, %zu a CRLF\n",
                (unsigned long long)seed, (size_t)N_CODES, with_aim, len, w.chunks, w.cuts_inside,
                w.cuts_crlf);
  if (bad != N_CODES)
    fail_msg("code %zu (seed %llu): rc %d (%s), got %zu bytes \"%.*s\"", bad,
             (unsigned long long)seed, rc, transport_strerror(rc), scan.length, (int)scan.length,
             (const char *)scan.data);
  assert_int_equal(w.failed, 0);
  /* The writes really did cut codes, and CRLF pairs. */
  assert_true(w.cuts_inside > N_CODES / 2);
  assert_true(w.cuts_crlf > 10);
  /* Nothing left over. */
  assert_int_equal(transport_read_scan(t, &scan, 0), TRANSPORT_TIMEOUT);

  fd_close(t, &p);
}

static void test_fd_silence_framing(void **state)
{
  /* Gap 150 ms. "A" comes in two parts 20 ms apart (read separately, so
  ** the framer must join them), then "B" 400 ms later. The gap is wide so
  ** a loaded machine stalling the writer thread does not split "A". */
  static const uint8_t a1[] = "0104600439931256"
                              "21JgXJ5.T\x1d";
  static const uint8_t a2[] = "8005112000\x1d"
                              "930dsG";
  static const uint8_t b[] = "]d20104600439931256215Kw(y)\x1d"
                             "93AbCd";
  segment_t segs[3] = {
      {a1, sizeof a1 - 1, 50, NULL}, {a2, sizeof a2 - 1, 20, NULL}, {b, sizeof b - 1, 400, NULL}};
  scan_framing_t silence = {SCAN_FRAME_SILENCE, 150};
  scanner_transport_t *t = NULL;
  uint64_t t0;
  writer_t w;
  pty_t p;

  (void)state;
  t = fd_on_pty(&p, &silence);
  t0 = transport_now_ms();
  writer_start(&w, p.master, segs, 3, false);

  assert_int_equal(transport_read_scan(t, &scan, 2000), TRANSPORT_OK);
  assert_int_equal(scan.length, sizeof a1 - 1 + sizeof a2 - 1);
  assert_memory_equal(scan.data, a1, sizeof a1 - 1);
  assert_memory_equal(scan.data + sizeof a1 - 1, a2, sizeof a2 - 1);
  assert_string_equal(scan.aim, "");
  /* Not before the last part (at ~70 ms) plus the gap. */
  assert_true(transport_now_ms() - t0 >= 70 + 150 - 5);

  assert_int_equal(transport_read_scan(t, &scan, 2000), TRANSPORT_OK);
  assert_int_equal(scan.length, sizeof b - 1);
  assert_memory_equal(scan.data, b, sizeof b - 1);
  assert_string_equal(scan.aim, "]d2");

  writer_join(&w);
  assert_int_equal(w.failed, 0);
  fd_close(t, &p);
}

static void test_fd_timeout_and_overlong(void **state)
{
  static uint8_t big[1500 + 8];
  scan_framing_t cr = {SCAN_FRAME_CR, 0};
  scanner_transport_t *t = NULL;
  uint64_t t0, dt;
  segment_t seg;
  writer_t w;
  pty_t p;

  (void)state;
  t = fd_on_pty(&p, &cr);

  t0 = transport_now_ms();
  assert_int_equal(transport_read_scan(t, &scan, 100), TRANSPORT_TIMEOUT);
  dt = transport_now_ms() - t0;
  assert_true(dt >= 95 && dt < 1000);
  assert_int_equal(transport_read_scan(t, &scan, 0), TRANSPORT_TIMEOUT);

  memset(big, 'Z', 1500);
  memcpy(big + 1500, "\rok\r", 4);
  seg.data = big;
  seg.len = 1504;
  seg.delay_ms = 0;
  seg.marks = NULL;
  writer_start(&w, p.master, &seg, 1, true);
  assert_int_equal(transport_read_scan(t, &scan, 2000), TRANSPORT_OVERLONG);
  assert_int_equal(transport_read_scan(t, &scan, 2000), TRANSPORT_OK);
  assert_int_equal(scan.length, 2);
  assert_string_equal((char *)scan.data, "ok");
  writer_join(&w);

  /* After transport_close() nothing reopens by itself. */
  transport_close(t);
  assert_int_equal(transport_read_scan(t, &scan, 10), TRANSPORT_ERR_NOT_OPEN);
  assert_int_equal(transport_open(t), TRANSPORT_OK);
  fd_close(t, &p);
}

/* Point link at target, atomically (as udev does with by-id links). */
static void relink(const char *target, const char *link)
{
  char tmp[512];

  assert_true(strlen(link) + sizeof ".new" <= sizeof tmp);
  snprintf(tmp, sizeof tmp, "%.500s.new", link);
  (void)unlink(tmp);
  assert_int_equal(symlink(target, tmp), 0);
  assert_int_equal(rename(tmp, link), 0);
}

static void write_str(int fd, const char *s)
{
  assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* The scanner sends line and end on fd; the transport hands out line. */
static void expect_line(scanner_transport_t *t, int fd, const char *line, char end)
{
  char sent[128];

  snprintf(sent, sizeof sent, "%s%c", line, end);
  write_str(fd, sent);
  assert_int_equal(transport_read_scan(t, &scan, 2000), TRANSPORT_OK);
  assert_string_equal((char *)scan.data, line);
}

/* A new pty behind link: the transport reopens it by itself (TIMEOUT:
** open, nothing sent yet). */
static void plug_in(scanner_transport_t *t, pty_t *p, const char *link)
{
  pty_open(p);
  relink(p->slave, link);
  assert_int_equal(transport_read_scan(t, &scan, 300), TRANSPORT_TIMEOUT);
}

/*
** Unplug and reconnection. A pty cannot be "unplugged and plugged back" at
** the same name: closing the master destroys /dev/pts/N and the next pty
** may get any number. So the transport reads a stable symlink, as a till
** reads /dev/serial/by-id/... for a real scanner whose ttyACMn changes
** when it is replugged. What this proves:
**   1. closing the master (the unplug) is reported as UNPLUGGED at once,
**      well within the timeout, so it came from POLLHUP/EIO, not a timeout;
**      the half-sent scan is dropped, not delivered;
**   2. while the device is absent, read_scan keeps saying UNPLUGGED, after
**      retrying for its whole timeout;
**   3. once a new pty is behind the link, the next read_scan reopens it by
**      itself: it returns TIMEOUT (opened, nothing sent yet) instead of
**      UNPLUGGED, and a code written then arrives whole, raw mode included
**      (its CR suffix was not turned into LF by the new tty).
** And a transport opened before its device exists starts the same way.
*/
static void test_fd_unplug_and_reconnect(void **state)
{
  scan_framing_t cr = {SCAN_FRAME_CR, 0};
  scanner_transport_t *t = NULL;
  char dir[] = "/tmp/kassa-transport-XXXXXX";
  char link[256], source[300];
  uint64_t t0, dt;
  pty_t p1, p2;

  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(link, sizeof link, "%s/scanner", dir);
  snprintf(source, sizeof source, "fd:%s", link);

  /* Not there yet: open says so, read_scan keeps trying. */
  assert_int_equal(transport_fd_new(link, &cr, &t), TRANSPORT_OK);
  assert_int_equal(transport_open(t), TRANSPORT_UNPLUGGED);
  assert_int_equal(transport_read_scan(t, &scan, 50), TRANSPORT_UNPLUGGED);

  plug_in(t, &p1, link);
  expect_line(t, p1.master,
              "0104600439931256215Kw(y)\x1d"
              "93AbCd",
              '\r');
  assert_string_equal(scan.source, source);
  assert_string_equal(transport_describe(t), source);

  /* 1. Unplug with half a scan in flight. */
  write_str(p1.master, "0104600439931256");
  t0 = transport_now_ms();
  assert_int_equal(transport_read_scan(t, &scan, 50), TRANSPORT_TIMEOUT);
  pty_close(&p1);
  assert_int_equal(transport_read_scan(t, &scan, 3000), TRANSPORT_UNPLUGGED);
  dt = transport_now_ms() - t0;
  assert_true(dt < 1000);

  /* 2. Still absent. */
  t0 = transport_now_ms();
  assert_int_equal(transport_read_scan(t, &scan, 250), TRANSPORT_UNPLUGGED);
  dt = transport_now_ms() - t0;
  assert_true(dt >= 240 && dt < 2000);

  /* 3. Back, under whatever name the new pty got. */
  plug_in(t, &p2, link);
  expect_line(t, p2.master,
              "]d20104600439931256215Kw(y)\x1d"
              "93AbCd",
              '\r');
  assert_string_equal(scan.aim, "]d2");

  /* An explicit transport_open() reconnects too. */
  assert_int_equal(transport_open(t), TRANSPORT_OK);
  expect_line(t, p2.master, "again", '\r');

  transport_free(t);
  pty_close(&p2);
  assert_int_equal(unlink(link), 0);
  assert_int_equal(rmdir(dir), 0);
}

/*
** The same through a FIFO, where the end shows only as POLLHUP (no
** POLLIN), so this pins the poll() path: without it the transport would
** spin until its timeout. A FIFO opened again after its writer left is
** quiet until a new writer comes, which is the reconnection.
*/
static void test_fd_fifo_hangup(void **state)
{
  scan_framing_t lf = {SCAN_FRAME_LF, 0};
  scanner_transport_t *t = NULL;
  fifo_t fifo;
  uint64_t t0;
  int w;

  (void)state;
  fifo_make(&fifo);
  assert_int_equal(transport_fd_new(fifo.path, &lf, &t), TRANSPORT_OK);
  assert_int_equal(transport_open(t), TRANSPORT_OK);

  w = open(fifo.path, O_WRONLY | O_NONBLOCK);
  assert_true(w >= 0);
  expect_line(t, w,
              "0104600439931256215Kw(y)\x1d"
              "93AbCd",
              '\n');

  close(w);
  t0 = transport_now_ms();
  assert_int_equal(transport_read_scan(t, &scan, 2000), TRANSPORT_UNPLUGGED);
  assert_true(transport_now_ms() - t0 < 1000);

  /* Reopened by the next call; quiet until a writer comes back. */
  assert_int_equal(transport_read_scan(t, &scan, 100), TRANSPORT_TIMEOUT);
  w = open(fifo.path, O_WRONLY | O_NONBLOCK);
  assert_true(w >= 0);
  expect_line(t, w, "again", '\n');
  close(w);

  transport_free(t);
  fifo_remove(&fifo);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_framer_suffix_modes),
      cmocka_unit_test(test_framer_crlf_split_across_feeds),
      cmocka_unit_test(test_framer_aim_and_binary),
      cmocka_unit_test(test_framer_overlong),
      cmocka_unit_test(test_framer_silence),
      cmocka_unit_test(test_framer_arguments),
      cmocka_unit_test(test_fd_ten_thousand_codes),
      cmocka_unit_test(test_fd_silence_framing),
      cmocka_unit_test(test_fd_timeout_and_overlong),
      cmocka_unit_test(test_fd_unplug_and_reconnect),
      cmocka_unit_test(test_fd_fifo_hangup),
  };
  const char *env = getenv("KASSA_TEST_SEED");

  if (env != NULL && *env != 0) seed = strtoull(env, NULL, 10);
  printf("test_transport_fd: seed %llu (set KASSA_TEST_SEED to replay)\n",
         (unsigned long long)seed);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
