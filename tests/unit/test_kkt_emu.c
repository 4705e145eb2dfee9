/*
** tests/unit/test_kkt_emu.c: the v1 exchange (device/shtrih_link.h), the
** register emulator (device/kkt_emu.h) and the Shtrih-M backend
** (device/fn_shtrih.h) against each other, with a real FN emulator inside.
**
** The exchange: clean, and with each way a line misbehaves (the stray
** 0xFF of network registers, noise before an answer, one byte per write,
** the register's ACK lost, an answer garbled, the host's ACK lost, a
** register that never answers): the answer arrives, and the register has
** executed the command exactly once. The emulator: strict about LRCs,
** half frames, passwords, unknown and short commands. The backend: what
** fn.h reads through the register equals what the FN inside holds, byte
** for byte for archive documents; FN refusals keep their codes; a wrong
** password and a dead line give FN_ERR_DEVICE / FN_ERR_DEVICE_LINK with
** the register's words.
*/
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "device/fn_shtrih.h"
#include "device/kkt_emu.h"
#include "device/shtrih_link.h"
#include "fiscal/fn.h"
#include "ofd/client.h"
#include "ofd/outbox.h"
#include "tests/support/fn_fixture.h"

#define FN_NUMBER "9999078900022022"
#define T0        1750000000u

static const shtrih_link_options_t fast = {
    .control_ms = 300, .answer_ms = 3000, .byte_ms = 300, .retries = 3};

typedef struct served {
  kkt_emu_t *emu;
  int fd;
  pthread_t thread;
} served_t;

static void *serve_thread(void *arg)
{
  served_t *s = arg;
  (void)kkt_emu_serve_fd(s->emu, s->fd);
  close(s->fd);
  return NULL;
}

/* A register on one end of a socketpair; *host gets the other end. */
static void serve(served_t *s, fn_t *fn, const kkt_emu_options_t *o, int *host)
{
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal(kkt_emu_new(fn, o, &s->emu), 0);
  s->fd = sv[1];
  *host = sv[0];
  assert_int_equal(pthread_create(&s->thread, NULL, serve_thread, s), 0);
}

/* Closes the host's side (the register sees EOF) and joins. */
static void unserve(served_t *s, shtrih_link_t *link, int host_fd)
{
  if (link)
    shtrih_link_close(link);
  else if (host_fd >= 0)
    close(host_fd);
  pthread_join(s->thread, NULL);
  kkt_emu_free(s->emu);
}

static int setup(void **state)
{
  fn_fixture_t *f = fn_fixture_new("kktemu", FN_NUMBER, T0);
  if (!f) return -1;
  if (fn_fixture_register(f->fn, false, "kk01", NULL) != 0) {
    fn_fixture_free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fn_fixture_free(*state);
  return 0;
}

/* One FF01h call through link; the answer must be FF01h with error 0. */
static void call_fn_status(shtrih_link_t *link)
{
  shtrih_msg_t m;
  uint8_t ans[SHTRIH_MAX_MESSAGE];
  size_t n = 0;
  shtrih_answer_t a;
  shtrih_fn_status_t st;
  shtrih_request(&m, SHTRIH_CMD_FN_STATUS, 30);
  assert_int_equal(shtrih_link_call(link, &m, ans, sizeof ans, &n), SHTRIH_LINK_OK);
  assert_int_equal(shtrih_answer_parse(ans, n, &a), 0);
  assert_int_equal(a.command, SHTRIH_CMD_FN_STATUS);
  assert_int_equal(a.error, 0);
  assert_int_equal(shtrih_decode_fn_status(&a, &st), 0);
  assert_string_equal(st.fn_number, FN_NUMBER);
  assert_int_equal(st.phase_bits, FN_PHASE_FISCAL);
}

/* Each fault: the answer arrives and the command ran exactly once. */
static void test_exchange_faults(void **state)
{
  fn_fixture_t *f = *state;
  const struct {
    const char *what;
    kkt_emu_options_t o;
    bool noisy, garbled;
  } cases[] = {
      {"clean", {0}, false, false},
      {"stray 0xFF before ACK/NAK", {.stray_byte = true}, true, false},
      {"noise before the answer", {.noise_before_answer = 7}, true, false},
      {"one byte per write", {.split_writes = true}, false, false},
      {"the register's ACK lost", {.drop_ack_of = 1}, false, false},
      {"the answer garbled", {.garble_answer_of = 1}, false, true},
      {"all at once",
       {.stray_byte = true, .noise_before_answer = 3, .split_writes = true, .garble_answer_of = 1},
       true,
       true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    served_t s;
    int host;
    shtrih_link_t *link = NULL;
    shtrih_link_stats_t st;
    serve(&s, f->fn, &cases[i].o, &host);
    assert_int_equal(shtrih_link_from_fd(host, &fast, &link), 0);
    call_fn_status(link);
    assert_int_equal(kkt_emu_executed(s.emu), 1);
    call_fn_status(link); /* and the next call is clean */
    assert_int_equal(kkt_emu_executed(s.emu), 2);
    shtrih_link_get_stats(link, &st);
    if (cases[i].noisy) assert_true(st.noise > 0);
    assert_int_equal(st.bad_frames, cases[i].garbled ? 1 : 0);
    assert_int_equal(st.stale_answers, 0);
    assert_int_equal(st.resent_commands, 0);
    unserve(&s, link, -1);
  }
}

/* The host's ACK of an answer lost: the next call takes the kept answer
** first, drops it, and gets its own; nothing runs twice. */
static void test_host_ack_lost(void **state)
{
  fn_fixture_t *f = *state;
  served_t s;
  int host;
  kkt_emu_options_t o = {.ack_ms = 100};
  serve(&s, f->fn, &o, &host);
  /* Raw: a 10h command; read ACK and the answer; never acknowledge it. */
  const uint8_t cmd[] = {0x02, 0x05, 0x10, 0x1E, 0x00, 0x00, 0x00, 0x0B};
  assert_int_equal(write(host, cmd, sizeof cmd), (ssize_t)sizeof cmd);
  uint8_t got[64];
  size_t have = 0;
  while (have < 2 || have < (size_t)got[2] + 4) {
    struct pollfd p = {.fd = host, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 2000), 1);
    ssize_t r = read(host, got + have, sizeof got - have);
    assert_true(r > 0);
    have += (size_t)r;
  }
  assert_int_equal(got[0], SHTRIH_ACK);
  assert_int_equal(got[1], SHTRIH_STX);
  assert_int_equal(got[3], 0x10);
  usleep(200000); /* past the register's wait for our ACK */
  shtrih_link_t *link = NULL;
  assert_int_equal(shtrih_link_from_fd(host, &fast, &link), 0);
  call_fn_status(link);
  shtrih_link_stats_t st;
  shtrih_link_get_stats(link, &st);
  assert_int_equal(st.stale_answers, 1);
  assert_int_equal(kkt_emu_executed(s.emu), 2);
  unserve(&s, link, -1);
}

/* A line where nobody answers: NO_ANSWER, within the timeouts. */
static void test_no_answer(void **state)
{
  (void)state;
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  shtrih_link_options_t o = {.control_ms = 50, .answer_ms = 100, .byte_ms = 50, .retries = 2};
  shtrih_link_t *link = NULL;
  assert_int_equal(shtrih_link_from_fd(sv[0], &o, &link), 0);
  shtrih_msg_t m;
  uint8_t ans[SHTRIH_MAX_MESSAGE];
  size_t n = 0;
  shtrih_msg_begin(&m, SHTRIH_CMD_DEVICE_TYPE);
  assert_int_equal(shtrih_link_call(link, &m, ans, sizeof ans, &n), SHTRIH_LINK_NO_ANSWER);
  /* It asked with ENQ, and never sent the command blind. */
  uint8_t seen[64];
  ssize_t r = read(sv[1], seen, sizeof seen);
  assert_true(r >= 1);
  for (ssize_t i = 0; i < r; i++) assert_int_equal(seen[i], SHTRIH_ENQ);
  shtrih_link_close(link);
  close(sv[1]);
  /* A peer that hangs up: IO. */
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal(shtrih_link_from_fd(sv[0], &o, &link), 0);
  close(sv[1]);
  assert_int_equal(shtrih_link_call(link, &m, ans, sizeof ans, &n), SHTRIH_LINK_IO);
  shtrih_link_close(link);
  /* A spec that is neither form. */
  char err[512];
  assert_int_equal(shtrih_link_open("udp:1.2.3.4:5", NULL, &link, err, sizeof err),
                   SHTRIH_LINK_SPEC);
  assert_null(link);
  assert_non_null(strstr(err, "tcp:HOST:PORT"));
  assert_int_equal(shtrih_link_open("serial:/dev/null@12345", NULL, &link, err, sizeof err),
                   SHTRIH_LINK_SPEC);
}

/* The emulator is strict: bad LRC NAKed and not run; a half frame dropped. */
static void test_emulator_strict_framing(void **state)
{
  fn_fixture_t *f = *state;
  served_t s;
  int host;
  kkt_emu_options_t o = {.byte_ms = 100};
  serve(&s, f->fn, &o, &host);
  const uint8_t bad[] = {0x02, 0x05, 0x10, 0x1E, 0x00, 0x00, 0x00, 0x0C}; /* LRC 0B */
  uint8_t b = 0;
  assert_int_equal(write(host, bad, sizeof bad), (ssize_t)sizeof bad);
  assert_int_equal(read(host, &b, 1), 1);
  assert_int_equal(b, SHTRIH_NAK);
  /* Half a frame, then silence past the byte timeout: forgotten. */
  assert_int_equal(write(host, bad, 4), 4);
  usleep(250000);
  shtrih_link_t *link = NULL;
  assert_int_equal(shtrih_link_from_fd(host, &fast, &link), 0);
  call_fn_status(link);
  assert_int_equal(kkt_emu_executed(s.emu), 1);
  unserve(&s, link, -1);
}

/* Commands: unknown, short, wrong password get the protocol's errors. */
static void test_emulator_refusals(void **state)
{
  fn_fixture_t *f = *state;
  kkt_emu_t *emu = NULL;
  uint8_t ans[SHTRIH_MAX_MESSAGE];
  assert_int_equal(kkt_emu_new(f->fn, NULL, &emu), 0);
  const struct {
    uint8_t req[8];
    size_t len;
    uint8_t want[3];
    size_t want_len;
  } cases[] = {
      {{0x99}, 1, {0x99, SHTRIH_E_NOT_SUPPORTED}, 2},
      {{0xFF, 0x99, 30, 0, 0, 0}, 6, {0xFF, 0x99, SHTRIH_E_FN_UNKNOWN_COMMAND}, 3},
      {{0x10, 31, 0, 0, 0}, 5, {0x10, SHTRIH_E_PASSWORD}, 2},
      {{0xFF, 0x01, 29, 0, 0, 0}, 6, {0xFF, 0x01, SHTRIH_E_PASSWORD}, 3},
      {{0x10}, 1, {0x10, SHTRIH_E_BAD_PARAMS}, 2},
      {{0xFF, 0x0A, 30, 0, 0, 0}, 6, {0xFF, 0x0A, SHTRIH_E_FN_UNKNOWN_COMMAND}, 3},
      {{0xFF, 0x0A, 30, 0, 0, 0, 0xFF}, 7, {0xFF, 0x0A, SHTRIH_E_FN_UNKNOWN_COMMAND}, 3},
      /* FF0B without FF41 first: the FN's "wrong state". */
      {{0xFF, 0x0B, 30, 0, 0, 0}, 6, {0xFF, 0x0B, 0x02}, 3},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int n = kkt_emu_execute(emu, cases[i].req, cases[i].len, ans, sizeof ans);
    assert_int_equal(n, (int)cases[i].want_len);
    assert_memory_equal(ans, cases[i].want, cases[i].want_len);
  }
  /* A document that is not there: the FN's 08h. */
  const uint8_t find[] = {0xFF, 0x0A, 30, 0, 0, 0, 0x40, 0x42, 0x0F, 0};
  assert_int_equal(kkt_emu_execute(emu, find, sizeof find, ans, sizeof ans), 3);
  assert_int_equal(ans[2], SHTRIH_E_FN_NO_DATA);
  kkt_emu_free(emu);
}

/* A TCP register for the backend, serving connections until stopped. */
typedef struct tcp_register {
  kkt_emu_t *emu;
  int listen_fd;
  int port;
  volatile int conn; /* the connection being served, -1 none */
  pthread_t thread;
} tcp_register_t;

static void *tcp_thread(void *arg)
{
  tcp_register_t *t = arg;
  for (;;) {
    int c = accept(t->listen_fd, NULL, NULL), one = 1;
    if (c < 0) break;
    /* As kassa-kkt-emu: its ACK and answer frame must not wait for Nagle. */
    (void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    t->conn = c;
    (void)kkt_emu_serve_fd(t->emu, c);
    t->conn = -1;
    close(c);
  }
  return NULL;
}

static void tcp_start(tcp_register_t *t, fn_t *fn, uint32_t password)
{
  struct sockaddr_in a = {.sin_family = AF_INET};
  socklen_t alen = sizeof a;
  kkt_emu_options_t o = {.password = password};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(kkt_emu_new(fn, &o, &t->emu), 0);
  t->conn = -1;
  t->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(t->listen_fd >= 0);
  assert_int_equal(bind(t->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(t->listen_fd, 4), 0);
  assert_int_equal(getsockname(t->listen_fd, (struct sockaddr *)&a, &alen), 0);
  t->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&t->thread, NULL, tcp_thread, t), 0);
}

static void tcp_stop(tcp_register_t *t)
{
  shutdown(t->listen_fd, SHUT_RDWR);
  close(t->listen_fd);
  pthread_join(t->thread, NULL);
  kkt_emu_free(t->emu);
}

static void assert_same_document(fn_t *device, fn_t *inside, uint32_t number)
{
  static fn_document_t a, b;
  assert_int_equal(fn_document_get(device, number, &a), 0);
  assert_int_equal(fn_document_get(inside, number, &b), 0);
  assert_int_equal(a.number, number);
  assert_int_equal(a.type, b.type);
  assert_int_equal(a.acknowledged, b.acknowledged);
  assert_int_equal(a.len, b.len);
  assert_memory_equal(a.data, b.data, b.len);
}

/* One marked line through the register: its code checked and accepted,
** a receipt of `operation` with it alone, closed for `total` in cash; the
** receipt read through the register (equal to the FN's) parsed into rec. */
static void sell_marked(fn_t *dev, fn_t *inside, const doc_item_t *item, uint8_t operation,
                        uint64_t total, doc_receipt_t *rec)
{
  static fn_document_t doc;
  fn_km_check_t kc;
  fn_doc_result_t d;
  doc_header_t h;
  uint64_t sum = 0;
  uint8_t sign[6];
  assert_int_equal(fn_km_check(dev, item, &kc), 0);
  assert_int_equal(kc.tail_status, FN_TAIL_VALID);
  assert_int_equal(fn_km_accept(dev, item->km, item->km_len, true), 0);
  assert_int_equal(fn_receipt_begin(dev, operation, 1, NULL), 0);
  assert_int_equal(fn_receipt_add(dev, item), 0);
  assert_int_equal(fn_receipt_close(dev, total, 0, false, &d), 0);
  assert_same_document(dev, inside, d.number);
  assert_int_equal(fn_document_get(dev, d.number, &doc), 0);
  assert_int_equal(doc_parse_receipt(doc.data, doc.len, &h, rec, &sum, sign), 0);
}

/* fn.h through the register equals the FN inside. */
static void test_backend(void **state)
{
  fn_fixture_t *f = *state;
  tcp_register_t t;
  char spec[64], err[512];
  fn_t *dev = NULL;
  fn_status_t ds, is;
  fn_doc_result_t d;
  tcp_start(&t, f->fn, 30);
  snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", t.port);
  assert_int_equal(fn_shtrih_open(spec, 30, &fast, &dev, err, sizeof err), 0);
  assert_int_equal(fn_capabilities(dev), FN_CAP_DEVICE_DELIVERS | FN_CAP_DEVICE_KEYS);
  assert_int_equal(fn_key_update(dev, NULL, 0, 0), FN_ERR_UNKNOWN_COMMAND);
  { /* it loads its own keys: ofd_keys_update asks no key server (port 1: none) */
    ofd_client_options_t ko;
    ofd_client_t *kc = NULL;
    size_t nkeys = 7;
    ofd_client_options_init(&ko);
    ko.host = "127.0.0.1";
    ko.port = 1;
    ko.profile = FRAME_PROFILE_KEYS;
    assert_int_equal(ofd_client_create(&ko, &kc), 0);
    assert_int_equal(ofd_keys_update(dev, kc, &nkeys), 0);
    assert_int_equal(nkeys, 0);
    ofd_client_destroy(kc);
  }
  assert_int_equal(fn_capabilities(f->fn), 0);

  fn_shtrih_facts_t facts;
  assert_int_equal(fn_shtrih_facts(dev, &facts), 0);
  assert_string_equal(facts.device.name, "KASSA-KKT-EMU");
  assert_int_equal(facts.device.model, 250);
  assert_string_equal(facts.fn.fn_number, FN_NUMBER);
  assert_int_equal(fn_shtrih_facts(f->fn, &facts), FN_ERR_PARAMS);

  assert_int_equal(fn_status(dev, &ds), 0);
  assert_int_equal(fn_status(f->fn, &is), 0);
  assert_int_equal(ds.phase, FN_PHASE_FISCAL);
  assert_string_equal(ds.fn_number, is.fn_number);
  assert_int_equal(ds.last_document, is.last_document);
  assert_false(ds.shift_open);
  assert_int_equal(ds.unsent_documents, is.unsent_documents);
  assert_int_equal(ds.first_unsent_number, is.first_unsent_number);
  assert_int_equal(ds.now, is.now - is.now % 60); /* the FN's clock to the minute */

  /* Shift open through the register: the document is the FN's own. */
  f->now += 60;
  assert_int_equal(fn_shift_open(dev, NULL, &d), 0);
  assert_int_equal(fn_status(f->fn, &is), 0);
  assert_true(is.shift_open);
  assert_int_equal(d.number, is.last_document);
  assert_int_equal(d.time, is.last_time); /* to the second, as the FN wrote it */
  assert_int_equal(d.shift_number, is.shift_number);
  assert_same_document(dev, f->fn, d.number);
  assert_same_document(dev, f->fn, 1);                          /* the registration report */
  assert_int_equal(fn_shift_open(dev, NULL, &d), FN_ERR_STATE); /* the FN's 02h */

  /* A sale through the register: two lines (one by weight, 2108 = 11),
  ** paid in cash with change; the FN's receipt holds what was sold. */
  doc_item_t items[2];
  fn_fixture_item(&items[0], "Хлеб Бородинский", 5990);
  fn_fixture_item(&items[1], "Сыр, кг", 89900);
  items[1].quantity = (doc_quantity_t){350, 3};
  items[1].total = 31465;
  items[1].measure = 11;
  items[1].vat = 2;
  assert_int_equal(fn_receipt_begin(dev, 1, 1, NULL), 0);
  assert_int_equal(fn_receipt_begin(dev, 1, 1, NULL), FN_ERR_STATE);
  assert_int_equal(fn_receipt_add(dev, &items[0]), 0);
  assert_int_equal(fn_receipt_add(dev, &items[1]), 0);
  assert_int_equal(fn_status(dev, &ds), 0);
  assert_true(ds.receipt_open);
  assert_int_equal(ds.receipt_items, 2);
  assert_int_equal(fn_receipt_close(dev, 40000, 0, false, &d), 0);
  assert_int_equal(fn_status(f->fn, &is), 0);
  assert_int_equal(d.number, is.last_document);
  /* When the shift began: no command gives it, its shift-open document
  ** does (a till's "shift over 24 hours" and ATOL's expiry read it). */
  assert_int_equal(fn_status(dev, &ds), 0);
  assert_true(ds.shift_opened_at != 0);
  assert_int_equal(ds.shift_opened_at, is.shift_opened_at);
  assert_int_equal(d.time, is.last_time);
  assert_int_equal(d.receipt_number, 1);
  assert_same_document(dev, f->fn, d.number);
  static doc_receipt_t rec;
  doc_header_t h;
  uint64_t total = 0;
  uint8_t sign[6];
  static fn_document_t doc;
  assert_int_equal(fn_document_get(dev, d.number, &doc), 0);
  assert_int_equal(doc_parse_receipt(doc.data, doc.len, &h, &rec, &total, sign), 0);
  assert_int_equal(total, 5990 + 31465);
  assert_int_equal(rec.item_count, 2);
  assert_string_equal(rec.items[0].name, "Хлеб Бородинский");
  assert_int_equal(rec.items[1].quantity.mantissa, 35);
  assert_int_equal(rec.items[1].quantity.scale, 2);
  assert_int_equal(rec.items[1].measure, 11);
  assert_int_equal(rec.items[1].vat, 2);
  assert_int_equal(rec.cash, 5990 + 31465); /* the change is not a requisite */
  assert_int_equal(doc_fiscal_sign_printed(sign), d.fiscal_sign);
  /* Too little paid: the register's 45h, the receipt stays open; cancelled. */
  assert_int_equal(fn_receipt_begin(dev, 1, 1, NULL), 0);
  assert_int_equal(fn_receipt_add(dev, &items[0]), 0);
  assert_int_equal(fn_receipt_close(dev, 100, 0, false, &d), FN_ERR_DEVICE);
  assert_non_null(strstr(fn_shtrih_last_error(dev, false), "0x45"));
  assert_int_equal(fn_receipt_cancel(dev), 0);
  assert_int_equal(fn_status(dev, &ds), 0);
  assert_false(ds.receipt_open);
  assert_int_equal(fn_status(f->fn, &is), 0);
  assert_int_equal(ds.last_document, is.last_document);
  /* A marked sale: FF61h check (the FN verifies the tail with its key),
  ** FF69h accept, FF67h + FF46h, FF45h; the FN's receipt carries the code
  ** and its notification waits in the register (FF70h counts it). */
  fn_key_t key;
  fn_km_check_t kc;
  doc_item_t shoe;
  fn_fixture_hmac_key(&key, "kk01");
  assert_int_equal(fn_fixture_marked_line(&shoe, "Туфли", 500000, "SH", 1, &key), 0);
  assert_int_equal(fn_km_check(dev, &shoe, &kc), 0);
  assert_int_equal(kc.tail_status, FN_TAIL_VALID);
  assert_int_equal(kc.check_result & 0x03, 0x03);
  assert_int_equal(kc.request_len, 0); /* the register talks to the OISM */
  assert_int_equal(fn_km_accept(dev, shoe.km, shoe.km_len, true), 0);
  assert_int_equal(fn_status(f->fn, &is), 0);
  assert_int_equal(is.checked_km, 1);
  assert_int_equal(fn_receipt_begin(dev, 1, 1, NULL), 0);
  assert_int_equal(fn_receipt_add(dev, &shoe), 0);
  assert_int_equal(fn_receipt_close(dev, 500000, 0, false, &d), 0);
  assert_int_equal(fn_document_get(dev, d.number, &doc), 0);
  assert_int_equal(doc_parse_receipt(doc.data, doc.len, &h, &rec, &total, sign), 0);
  assert_int_equal(rec.item_count, 1);
  assert_true(rec.items[0].marked);
  assert_int_equal(rec.items[0].km_len, shoe.km_len);
  assert_memory_equal(rec.items[0].km, shoe.km, shoe.km_len);
  assert_int_equal(fn_status(f->fn, &is), 0);
  assert_int_equal(is.unsent_notifications, 1);
  assert_int_equal(fn_status(dev, &ds), 0);
  assert_int_equal(ds.unsent_notifications, 1);
  assert_true(ds.marking);
  /* A quarter of a marked cheese head: 1291 {1293 1, 1294 4} in FF61h's
  ** TLV list and bound to the line by FF4Dh; status 2 (part sold). The
  ** receipt read back equals the FN's and carries the fraction. */
  doc_item_t cheese;
  assert_int_equal(fn_fixture_marked_line(&cheese, "Сыр", 80000, "TH", 4, &key), 0);
  cheese.quantity = (doc_quantity_t){25, 2};
  cheese.total = 20000;
  cheese.fraction_numerator = 1;
  cheese.fraction_denominator = 4;
  cheese.km_status = DOC_KM_MEASURED_SOLD;
  cheese.product_tag = 1305; /* 1163 as kassa reads it from a GS1 code: sent by FF4Dh */
  snprintf(cheese.product_value, sizeof cheese.product_value, "%s", "0104600000000007215TH");
  sell_marked(dev, f->fn, &cheese, 1, 20000, &rec);
  assert_int_equal(rec.items[0].fraction_numerator, 1);
  assert_int_equal(rec.items[0].fraction_denominator, 4);
  assert_int_equal(rec.items[0].km_status, DOC_KM_MEASURED_SOLD);
  assert_memory_equal(rec.items[0].km, cheese.km, cheese.km_len);
  assert_int_equal(rec.items[0].product_tag, 1305);
  assert_string_equal(rec.items[0].product_value, cheese.product_value);
  /* The quarter brought back: the same code checked again with status 4
  ** (part returned). The line the register binds it to carries the status
  ** of this check, not the sale's (the register once kept the first). */
  cheese.km_status = DOC_KM_MEASURED_RETURNED;
  sell_marked(dev, f->fn, &cheese, 2, 20000, &rec);
  assert_int_equal(rec.items[0].km_status, DOC_KM_MEASURED_RETURNED);
  /* A counterfeit tail: the FN says so; declined, never sold. */
  doc_item_t fake;
  assert_int_equal(fn_fixture_marked_line(&fake, "Туфли", 500000, "SH", 2, &key), 0);
  fake.km[fake.km_len - 1] = fake.km[fake.km_len - 1] == 'A' ? 'B' : 'A';
  assert_int_equal(fn_km_check(dev, &fake, &kc), 0);
  assert_int_equal(kc.tail_status, FN_TAIL_INVALID);
  assert_int_equal(fn_km_accept(dev, fake.km, fake.km_len, false), 0);
  /* A code never checked (or not the last one): accepting it is refused. */
  assert_int_equal(fn_km_accept(dev, shoe.km, shoe.km_len, true), FN_ERR_NO_DATA);
  /* A marked line whose code was not checked: the FN's 0x3E at the close. */
  doc_item_t other;
  assert_int_equal(fn_fixture_marked_line(&other, "Туфли", 500000, "SH", 3, &key), 0);
  assert_int_equal(fn_receipt_begin(dev, 1, 1, NULL), 0);
  assert_int_equal(fn_receipt_add(dev, &other), 0);
  assert_int_equal(fn_receipt_close(dev, 500000, 0, false, &d), FN_ERR_KM_NOT_CHECKED);
  assert_int_equal(fn_receipt_cancel(dev), 0);
  assert_int_equal(fn_status(f->fn, &is), 0);
  assert_false(is.receipt_open);

  /* X report, then the shift closed; the archive reads the same. */
  assert_int_equal(fn_state_report(dev, &d), 0);
  assert_same_document(dev, f->fn, d.number);
  /* ... found again by a new connection, back past the X report. */
  fn_free(dev);
  assert_int_equal(fn_shtrih_open(spec, 30, &fast, &dev, err, sizeof err), 0);
  assert_int_equal(fn_status(dev, &ds), 0);
  assert_int_equal(fn_status(f->fn, &is), 0);
  assert_int_equal(ds.shift_opened_at, is.shift_opened_at);
  assert_int_equal(fn_shift_close(dev, NULL, &d), 0);
  assert_same_document(dev, f->fn, d.number);
  assert_int_equal(fn_status(dev, &ds), 0);
  assert_false(ds.shift_open);
  assert_int_equal(fn_document_get(dev, d.number + 1, &(fn_document_t){0}), FN_ERR_NO_DATA);

  /* The oldest unacknowledged document, read through the register. */
  static fn_document_t u;
  assert_int_equal(fn_status(f->fn, &is), 0);
  assert_true(is.unsent_documents > 0);
  assert_int_equal(fn_document_next_unsent(dev, &u), 0);
  assert_int_equal(u.number, is.first_unsent_number);
  /* What the register does itself is not kassa's: the outbox sends none
  ** of its documents or notifications (no OFD listens at this port: a
  ** delivery that tried would fail). */
  ofd_client_options_t oo;
  ofd_client_t *client = NULL;
  ofd_delivery_stats_t stats;
  ofd_client_options_init(&oo);
  oo.host = "127.0.0.1";
  oo.port = 9; /* discard: nothing listens */
  oo.profile = FRAME_PROFILE_OFD;
  assert_int_equal(ofd_client_create(&oo, &client), 0);
  assert_int_equal(ofd_deliver_documents(dev, client, NULL, NULL, &stats), 0);
  assert_int_equal(stats.sent, 0);
  assert_int_equal(stats.total, 0);
  assert_int_not_equal(ofd_deliver_documents(f->fn, client, NULL, NULL, &stats), 0);
  ofd_client_destroy(client);
  oo.profile = FRAME_PROFILE_OISM;
  assert_int_equal(ofd_client_create(&oo, &client), 0);
  assert_int_equal(ofd_deliver_notifications(dev, client, NULL, NULL, &stats), 0);
  ofd_client_destroy(client);
  /* What the register does itself is not kassa's. */
  assert_int_equal(fn_notification_next(dev, &(fn_notification_t){0}), FN_ERR_NO_DATA);
  assert_string_equal(fn_shtrih_last_error(dev, false), "");
  /* ... and so is its queue: the outbox's status counts it from FF70h and
  ** reads no notification the register cannot hand out (`kassa ofd status`,
  ** GET /api/status failed with no_data while one waited in the register). */
  outbox_status_t os;
  assert_int_equal(fn_status(dev, &ds), 0);
  assert_true(ds.unsent_notifications > 0);
  assert_int_equal(outbox_status(dev, 0, NULL, &os), 0);
  assert_int_equal(os.unsent_notifications, ds.unsent_notifications);
  assert_int_equal(os.level, OUTBOX_OK);

  /* The connection drops (the register restarts, the network blinks): the
  ** call that sees it fails; the next one connects again. */
  assert_true(t.conn >= 0);
  shutdown(t.conn, SHUT_RDWR);
  for (int i = 0; i < 200 && t.conn >= 0; i++) usleep(10000);
  assert_int_equal(fn_status(dev, &ds), FN_ERR_DEVICE_LINK);
  assert_non_null(strstr(fn_shtrih_last_error(dev, false), "broke"));
  assert_int_equal(fn_status(dev, &ds), 0);
  assert_string_equal(ds.fn_number, FN_NUMBER);
  fn_free(dev);
  tcp_stop(&t);
}

/* The wrong password: the register's 4Fh with its words. A dead line. */
/* The totals through the register equal the FN's own (shift and since
** registration). */
static void assert_same_totals(fn_t *dev, fn_t *inside)
{
  static doc_totals_t a, b;
  for (int shift = 0; shift <= 1; shift++) {
    memset(&a, 0x5A, sizeof a);
    assert_int_equal(fn_totals(dev, shift, &a), 0);
    assert_int_equal(fn_totals(inside, shift, &b), 0);
    assert_memory_equal(&a, &b, sizeof a);
  }
}

/* One line sold (operation) through dev and closed by the five forms. */
static void sell(fn_t *dev, uint8_t operation, const doc_item_t *item, const fn_payments_t *p,
                 fn_doc_result_t *d)
{
  assert_int_equal(fn_receipt_begin(dev, operation, 1, NULL), 0);
  assert_int_equal(fn_receipt_add(dev, item), 0);
  assert_int_equal(fn_receipt_close_paid(dev, p, NULL, d), 0);
}

/* Receipt `number` read back through dev into doc and parsed into rec. */
static void read_receipt(fn_t *dev, uint32_t number, fn_document_t *doc, doc_receipt_t *rec)
{
  doc_header_t h;
  uint64_t total = 0;
  uint8_t sign[6];
  assert_int_equal(fn_document_get(dev, number, doc), 0);
  assert_int_equal(doc_parse_receipt(doc->data, doc->len, &h, rec, &total, sign), 0);
}

/*
** Through the register: a 22 % line with an agent (FF4Dh 1222..1226) and
** its 1260, a credit sale (FF45h's sum 15, 1216), a return (FF46h
** operation 2), corrections (FF35h ... FF0Ch 1173/1174 ... FF45h); the
** X-report's totals equal the FN's inside across shift closes; FN close
** (FF3Dh/FF3Eh).
*/
static void test_backend_fiscal_ops(void **state)
{
  fn_fixture_t *f = *state;
  tcp_register_t t;
  char spec[64], err[512];
  fn_t *dev = NULL;
  fn_status_t is;
  fn_doc_result_t d;
  static doc_receipt_t rec;
  static fn_document_t doc;
  tcp_start(&t, f->fn, 30);
  snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", t.port);
  assert_int_equal(fn_shtrih_open(spec, 30, &fast, &dev, err, sizeof err), 0);
  f->now += 60;
  assert_int_equal(fn_shift_open(dev, NULL, &d), 0);
  assert_same_totals(dev, f->fn);

  doc_item_t item;
  fn_fixture_item(&item, "Чай чёрный", 12000);
  item.vat = 11; /* 22 %: the register's row 11 */
  item.agent.sign = 0x40;
  snprintf(item.agent.supplier_name, sizeof item.agent.supplier_name, "ООО \"Поставщик\"");
  snprintf(item.agent.supplier_inn, sizeof item.agent.supplier_inn, "7701234567");
  snprintf(item.agent.supplier_phone, sizeof item.agent.supplier_phone, "+74950000000");
  item.has_industry = true;
  snprintf(item.industry.authority, sizeof item.industry.authority, "030");
  snprintf(item.industry.date, sizeof item.industry.date, "21.11.2023");
  snprintf(item.industry.number, sizeof item.industry.number, "1944");
  snprintf(item.industry.value, sizeof item.industry.value, "UUID=%s&Time=%s",
           "6b4b1c2e-9f0a-4e43-8c1d-2a7a9d1e5f00", "1750000000000");
  fn_payments_t pay = {.cash = 2000, .cashless = 10000};
  sell(dev, 1, &item, &pay, &d);
  assert_same_document(dev, f->fn, d.number);
  read_receipt(dev, d.number, &doc, &rec);
  assert_int_equal(rec.items[0].vat, 11);
  assert_int_equal(rec.items[0].agent.sign, 0x40);
  assert_string_equal(rec.items[0].agent.supplier_name, "ООО \"Поставщик\"");
  assert_string_equal(rec.items[0].agent.supplier_inn, "7701234567");
  assert_true(rec.items[0].has_industry);
  assert_string_equal(rec.items[0].industry.value, item.industry.value);
  assert_int_equal(rec.cashless, 10000);

  /* On credit: 1214 = 6 paid by 1216. */
  doc_item_t credit;
  fn_fixture_item(&credit, "Холодильник", 3500000);
  credit.payment_method = 6;
  fn_payments_t on_credit = {.credit = 3500000};
  sell(dev, 1, &credit, &on_credit, &d);
  read_receipt(dev, d.number, &doc, &rec);
  assert_int_equal(rec.credit, 3500000);
  assert_int_equal(rec.cash + rec.cashless, 0);
  /* A form the lines do not allow is the FN's refusal, nothing made. */
  fn_payments_t wrong = {.credit = 12000}; /* 1216 against a 1214 = 4 line */
  assert_int_equal(fn_status(f->fn, &is), 0);
  uint32_t before = is.last_document;
  assert_int_equal(fn_receipt_begin(dev, 1, 1, NULL), 0);
  assert_int_equal(fn_receipt_add(dev, &item), 0);
  assert_int_equal(fn_receipt_close_paid(dev, &wrong, NULL, &d), FN_ERR_VALUE);
  assert_int_equal(fn_receipt_cancel(dev), 0);
  assert_int_equal(fn_status(f->fn, &is), 0);
  assert_int_equal(is.last_document, before);

  /* Offset by an earlier prepayment (1215, FF45h's sum 14). */
  fn_payments_t prepaid = {.prepaid = 12000};
  sell(dev, 1, &item, &prepaid, &d);
  read_receipt(dev, d.number, &doc, &rec);
  assert_int_equal(rec.prepaid, 12000);

  /* The buyer's contact 1008 by FF0Ch before FF45h: read back from the
  ** register equal to the FN's own; the same receipt refused once with a
  ** contact and then closed without one has none (FF08h, lines again). */
  fn_payments_t mailed = {.cash = 12000};
  snprintf(mailed.buyer_contact, sizeof mailed.buyer_contact, "%s", "buyer@example.ru");
  sell(dev, 1, &item, &mailed, &d);
  assert_same_document(dev, f->fn, d.number);
  read_receipt(dev, d.number, &doc, &rec);
  assert_string_equal(rec.buyer_contact, "buyer@example.ru");
  static const uint8_t contact_tlv[] = {0xF0, 0x03, 0x10, 0x00, 'b', 'u', 'y', 'e', 'r', '@'};
  assert_non_null(memmem(doc.data, doc.len, contact_tlv, sizeof contact_tlv));
  fn_payments_t short_pay = {.cash = 100};
  snprintf(short_pay.buyer_contact, sizeof short_pay.buyer_contact, "%s", "+79001234567");
  assert_int_equal(fn_receipt_begin(dev, 1, 1, NULL), 0);
  assert_int_equal(fn_receipt_add(dev, &item), 0);
  assert_int_not_equal(fn_receipt_close_paid(dev, &short_pay, NULL, &d), 0);
  fn_payments_t plain = {.cash = 12000};
  assert_int_equal(fn_receipt_close_paid(dev, &plain, NULL, &d), 0);
  assert_same_document(dev, f->fn, d.number);
  read_receipt(dev, d.number, &doc, &rec);
  assert_string_equal(rec.buyer_contact, "");
  assert_null(memmem(doc.data, doc.len, contact_tlv, 4));

  /* The return of the tea (1054 = 2). */
  fn_payments_t back = {.cash = 12000};
  sell(dev, 2, &item, &back, &d);
  read_receipt(dev, d.number, &doc, &rec);
  assert_int_equal(rec.operation, 2);
  assert_same_totals(dev, f->fn);
  static doc_totals_t x;
  assert_int_equal(fn_totals(dev, true, &x), 0);
  assert_int_equal(x.receipts[1].count, 5);
  assert_int_equal(x.receipts[1].total, 12000 + 3500000 + 12000 + 2 * 12000);
  assert_int_equal(x.receipts[1].prepaid, 12000);
  assert_int_equal(x.receipts[1].credit, 3500000);
  assert_int_equal(x.receipts[2].count, 1);
  assert_true(x.receipts[1].vat_present & (1u << 11));

  /* Corrections: by an order (FF35h, the lines again, FF0Ch 1173/1174,
  ** FF45h) and one of the register's own (dated today). */
  fn_correction_t order = {.type = 1, .date = f->now - f->now % 86400 - 86400};
  snprintf(order.order_number, sizeof order.order_number, "%s", "12-34/56");
  assert_int_equal(fn_receipt_begin(dev, 1, 1, NULL), 0);
  assert_int_equal(fn_receipt_add(dev, &item), 0);
  assert_int_equal(fn_correction_close(dev, 12000, 0, &order, &d), 0);
  assert_same_document(dev, f->fn, d.number);
  read_receipt(dev, d.number, &doc, &rec);
  assert_int_equal(doc.type, 31);
  /* 1173 = 1 and 1179 as TLVs (doc_parse_receipt does not read them). */
  static const uint8_t by_order[] = {0x95, 0x04, 0x01, 0x00, 0x01};
  static const uint8_t basis[] = {0x9B, 0x04, 0x08, 0x00, '1', '2', '-', '3', '4', '/', '5', '6'};
  assert_non_null(memmem(doc.data, doc.len, by_order, sizeof by_order));
  assert_non_null(memmem(doc.data, doc.len, basis, sizeof basis));
  assert_true(rec.items[0].agent.sign == 0x40 && rec.items[0].has_industry);
  assert_int_equal(fn_receipt_begin(dev, 1, 1, NULL), 0);
  assert_int_equal(fn_receipt_add(dev, &item), 0);
  assert_int_equal(fn_receipt_close(dev, 12000, 0, true, &d), 0);
  read_receipt(dev, d.number, &doc, &rec);
  assert_int_equal(doc.type, 31);
  static const uint8_t own[] = {0x95, 0x04, 0x01, 0x00, 0x00};
  assert_non_null(memmem(doc.data, doc.len, own, sizeof own));
  /* An order without its number: the FN's refusal, nothing made. */
  order.order_number[0] = '\0';
  assert_int_equal(fn_status(f->fn, &is), 0);
  before = is.last_document;
  assert_int_equal(fn_receipt_begin(dev, 1, 1, NULL), 0);
  assert_int_equal(fn_receipt_add(dev, &item), 0);
  assert_int_equal(fn_correction_close(dev, 12000, 0, &order, &d), FN_ERR_VALUE);
  assert_int_equal(fn_receipt_cancel(dev), 0);
  assert_int_equal(fn_status(f->fn, &is), 0);
  assert_int_equal(is.last_document, before);
  assert_same_totals(dev, f->fn);

  /* The Z report; the totals since registration run across it. */
  f->now += 60;
  assert_int_equal(fn_shift_close(dev, NULL, &d), 0);
  assert_same_totals(dev, f->fn);
  /* The cashier's 1021 by FF0Ch: between FF41h and FF0Bh for the shift,
  ** before FF45h for a receipt (with a 1008 in the same FF0Ch). */
  static const uint8_t cashier_tlv[] = {0xFD, 0x03, 0x0D, 0x00, 0x88, 0xA2, 0xA0}; /* CP866 */
  f->now += 60;
  assert_int_equal(fn_shift_open(dev, "Иванова А. В.", &d), 0);
  assert_same_document(dev, f->fn, d.number);
  assert_int_equal(fn_document_get(dev, d.number, &doc), 0);
  assert_non_null(memmem(doc.data, doc.len, cashier_tlv, sizeof cashier_tlv));
  assert_int_equal(fn_receipt_begin(dev, 1, 1, "Иванова А. В."), 0);
  assert_int_equal(fn_receipt_add(dev, &item), 0);
  assert_int_equal(fn_receipt_close_paid(dev, &mailed, NULL, &d), 0);
  assert_same_document(dev, f->fn, d.number);
  read_receipt(dev, d.number, &doc, &rec);
  assert_string_equal(rec.buyer_contact, "buyer@example.ru");
  assert_non_null(memmem(doc.data, doc.len, cashier_tlv, sizeof cashier_tlv));
  sell(dev, 1, &item, &pay, &d);
  assert_same_totals(dev, f->fn); /* across a Z */
  assert_int_equal(fn_totals(dev, false, &x), 0);
  assert_int_equal(x.receipts[1].count, 7);

  /* FN close: refused with the shift open (the FN's 02h), then made. */
  assert_int_equal(fn_close_archive(dev, &d), FN_ERR_STATE);
  f->now += 60;
  assert_int_equal(fn_shift_close(dev, NULL, &d), 0);
  f->now += 60;
  assert_int_equal(fn_close_archive(dev, &d), 0);
  assert_int_equal(fn_status(f->fn, &is), 0);
  assert_int_equal(is.phase, FN_PHASE_POST);
  assert_int_equal(d.number, is.last_document);
  assert_int_equal(d.time, is.last_time);
  assert_same_document(dev, f->fn, d.number);
  assert_int_equal(fn_shift_open(dev, NULL, &d), FN_ERR_STATE);
  fn_free(dev);
  tcp_stop(&t);
}

static void test_backend_errors(void **state)
{
  fn_fixture_t *f = *state;
  tcp_register_t t;
  char spec[64], err[512];
  fn_t *dev = NULL;
  fn_status_t st;
  tcp_start(&t, f->fn, 30);
  snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", t.port);
  assert_int_equal(fn_shtrih_open(spec, 31, &fast, &dev, err, sizeof err), 0);
  assert_int_equal(fn_status(dev, &st), FN_ERR_DEVICE);
  assert_non_null(strstr(fn_shtrih_last_error(dev, true), "0x4F: Неверный пароль"));
  assert_non_null(strstr(fn_shtrih_last_error(dev, false), "0x4F: Invalid password"));
  fn_free(dev);
  tcp_stop(&t);

  /* A port where nothing listens: FN_ERR_DEVICE_LINK, both languages. */
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  socklen_t alen = sizeof a;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(getsockname(s, (struct sockaddr *)&a, &alen), 0);
  snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", ntohs(a.sin_port));
  close(s);
  assert_int_equal(fn_shtrih_open(spec, 30, &fast, &dev, err, sizeof err), FN_ERR_DEVICE_LINK);
  assert_null(dev);
  assert_non_null(strstr(err, "Не удаётся подключиться к ККТ"));
  assert_non_null(strstr(err, "Cannot connect to the KKT"));

  /* A listener that accepts and never answers: no answer. */
  s = socket(AF_INET, SOCK_STREAM, 0);
  a.sin_port = 0;
  assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(s, 1), 0);
  assert_int_equal(getsockname(s, (struct sockaddr *)&a, &alen), 0);
  snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", ntohs(a.sin_port));
  shtrih_link_options_t o = {.control_ms = 50, .answer_ms = 100, .byte_ms = 50, .retries = 2};
  assert_int_equal(fn_shtrih_open(spec, 30, &o, &dev, err, sizeof err), FN_ERR_DEVICE_LINK);
  assert_non_null(strstr(err, "ККТ не отвечает"));
  assert_non_null(strstr(err, "The KKT does not answer"));
  close(s);
  char back[64];
  assert_int_equal(fn_shtrih_backend_spec("shtrih:tcp:10.0.0.5:7778", back, sizeof back), 1);
  assert_string_equal(back, "tcp:10.0.0.5:7778");
  assert_int_equal(fn_shtrih_backend_spec("emulator", back, sizeof back), 0);
  assert_int_equal(fn_shtrih_backend_spec("atol:tcp:1:2", back, sizeof back), -1);
}

/* An FN not registered yet, for the registration through the register. */
static int setup_fresh(void **state)
{
  fn_fixture_t *f = fn_fixture_new("kktreg", FN_NUMBER, T0);
  *state = f;
  return f ? 0 : -1;
}

/* One command straight to the emulator (no host call in flight): its
** answer parsed into a (ans holds the bytes). */
static void execute(tcp_register_t *t, const shtrih_msg_t *m, uint8_t *ans, shtrih_answer_t *a)
{
  int n = kkt_emu_execute(t->emu, m->data, m->len, ans, SHTRIH_MAX_MESSAGE);
  assert_true(n > 0);
  assert_int_equal(shtrih_answer_parse(ans, (size_t)n, a), 0);
}

/*
** Registration through the register (tables 17/18, FF05h, FF06h) and a
** re-registration with its 1205 (FF05h 2, field 22, FF34h): each document
** read back through the register (FF0Ah, FF3Ah/FF3Bh) is the FN's own,
** byte for byte, and holds what was sent. The refusals change nothing: a
** wrong password (4Fh), no tax system (the register's 33h), an online KKT
** without its OFD (the FN's 09h), a re-registration of a fresh FN, a
** second registration and a re-registration with a shift open (the FN's
** 02h), a report type the FN lacks (01h), a read-only or missing table
** cell (33h).
*/
static void test_backend_registration(void **state)
{
  fn_fixture_t *f = *state;
  tcp_register_t t;
  char spec[64], err[512];
  fn_t *dev = NULL, *wrong = NULL;
  fn_status_t st;
  fn_doc_result_t d;
  static fn_registration_t r;
  static fn_document_t doc;
  static doc_header_t h;
  doc_registration_t reg;
  tcp_start(&t, f->fn, 30);
  snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", t.port);
  fn_fixture_registration(&r, false);
  snprintf(r.header.cashier, sizeof r.header.cashier, "%s", "Иванова А. П.");
  char name[300] = ""; /* 143 characters: more than one table field holds */
  for (int i = 0; i < 18; i++) strcat(name, "Ромашка ");
  name[strlen(name) - 1] = '\0';
  snprintf(r.header.user_name, sizeof r.header.user_name, "%s", name);

  /* One connection at a time (a register serves one host). */
  assert_int_equal(fn_shtrih_open(spec, 31, &fast, &wrong, err, sizeof err), 0);
  assert_int_equal(fn_register(wrong, &r, false, &d), FN_ERR_DEVICE);
  assert_non_null(strstr(fn_shtrih_last_error(wrong, true), "0x4F: Неверный пароль"));
  fn_free(wrong);
  assert_int_equal(fn_shtrih_open(spec, 30, &fast, &dev, err, sizeof err), 0);
  r.reg.tax_systems = 0;
  assert_int_equal(fn_register(dev, &r, false, &d), FN_ERR_DEVICE);
  assert_non_null(strstr(fn_shtrih_last_error(dev, false), "FF06h: error 0x33"));
  r.reg.tax_systems = 1;
  char ofd_inn[13];
  memcpy(ofd_inn, r.reg.ofd_inn, sizeof ofd_inn);
  r.reg.ofd_inn[0] = '\0';
  assert_int_equal(fn_register(dev, &r, false, &d), FN_ERR_VALUE);
  memcpy(r.reg.ofd_inn, ofd_inn, sizeof ofd_inn);
  assert_int_equal(fn_register(dev, &r, true, &d), FN_ERR_STATE);
  assert_int_equal(fn_status(f->fn, &st), 0);
  assert_int_equal(st.phase, FN_PHASE_READY);
  assert_int_equal(st.last_document, 0);
  shtrih_msg_t m;
  shtrih_answer_t a;
  uint8_t ans[SHTRIH_MAX_MESSAGE];
  shtrih_request(&m, SHTRIH_CMD_FN_REGISTRATION, 30); /* FF09h before any: 08h */
  execute(&t, &m, ans, &a);
  assert_int_equal(a.error, SHTRIH_E_FN_NO_DATA);

  f->now += 60;
  assert_int_equal(fn_register(dev, &r, false, &d), 0);
  assert_int_equal(fn_status(f->fn, &st), 0);
  assert_int_equal(st.phase, FN_PHASE_FISCAL);
  assert_int_equal(d.number, 1);
  assert_int_equal(st.last_document, 1);
  assert_int_equal(d.time, st.last_time);
  assert_same_document(dev, f->fn, 1);
  assert_int_equal(fn_document_get(dev, 1, &doc), 0);
  assert_int_equal(doc.type, DOC_REGISTRATION);
  assert_int_equal(doc_parse_registration(doc.data, doc.len, &h, &reg), 0);
  assert_string_equal(h.user_name, name);
  assert_string_equal(h.user_inn, r.header.user_inn);
  assert_string_equal(h.kkt_reg_number, r.header.kkt_reg_number);
  assert_string_equal(h.address, r.header.address);
  assert_string_equal(h.place, r.header.place);
  assert_string_equal(h.cashier, "Иванова А. П.");
  assert_string_equal(reg.ofd_inn, r.reg.ofd_inn);
  assert_string_equal(reg.ofd_name, r.reg.ofd_name);
  assert_string_equal(reg.kkt_serial, "0250000000000001"); /* the register's own */
  assert_true(reg.marking);
  assert_int_equal(reg.tax_systems, 1);
  assert_int_equal(reg.ffd_version, 4);
  assert_int_equal(fn_register(dev, &r, false, &d), FN_ERR_STATE);
  assert_int_equal(fn_status(dev, &st), 0); /* FF09h: the user's INN, the RNM */
  assert_string_equal(st.user_inn, r.header.user_inn);
  assert_string_equal(st.kkt_reg_number, r.header.kkt_reg_number);
  assert_false(st.autonomous);

  /* A re-registration: refused with a shift open, made after its close. */
  f->now += 60;
  assert_int_equal(fn_shift_open(dev, NULL, &d), 0);
  r.reg.reason_mask = 0x08u; /* 1205 bit 3: the address changed */
  snprintf(r.header.address, sizeof r.header.address, "%s", "г. Москва, ул. Тверская, 3");
  r.reg.marking = false;
  assert_int_equal(fn_register(dev, &r, true, &d), FN_ERR_STATE);
  f->now += 60;
  assert_int_equal(fn_shift_close(dev, NULL, &d), 0);
  f->now += 60;
  assert_int_equal(fn_register(dev, &r, true, &d), 0);
  assert_int_equal(fn_status(f->fn, &st), 0);
  assert_int_equal(d.number, st.last_document);
  assert_int_equal(d.time, st.last_time);
  assert_same_document(dev, f->fn, d.number);
  assert_same_document(dev, f->fn, 1);
  assert_int_equal(fn_document_get(dev, d.number, &doc), 0);
  assert_int_equal(doc.type, DOC_REREGISTRATION);
  assert_int_equal(doc_parse_registration(doc.data, doc.len, &h, &reg), 0);
  assert_int_equal(reg.reason_mask, 0x08u);
  assert_string_equal(h.address, "г. Москва, ул. Тверская, 3");
  assert_false(reg.marking);

  /* FF0Ah of the re-registration: INN, registration number, 1062, mode. */
  shtrih_found_document_t found;
  shtrih_registration_t g;
  shtrih_request(&m, SHTRIH_CMD_FN_FIND_DOCUMENT, 30);
  shtrih_msg_le(&m, d.number, 4);
  execute(&t, &m, ans, &a);
  assert_int_equal(shtrih_decode_found_document(&a, &found), 0);
  assert_int_equal(found.type, DOC_REREGISTRATION);
  assert_int_equal(found.fiscal_sign, d.fiscal_sign);
  assert_int_equal(shtrih_decode_found_registration(&found, &g), 0);
  assert_string_equal(g.inn, r.header.user_inn);
  assert_string_equal(g.rnm, r.header.kkt_reg_number);
  assert_int_equal(g.tax_systems, 1);
  assert_int_equal(g.work_mode, 0);
  /* FF09h: the last registration is the 11, in the FFD 1.2 (long) form. */
  shtrih_registration_data_t rd;
  shtrih_request(&m, SHTRIH_CMD_FN_REGISTRATION, 30);
  execute(&t, &m, ans, &a);
  assert_int_equal(shtrih_decode_registration_data(&a, &rd), 0);
  assert_true(rd.long_form);
  assert_int_equal(rd.number, d.number);
  assert_int_equal(rd.fiscal_sign, d.fiscal_sign);
  assert_int_equal(rd.time, d.time - d.time % 60);
  assert_int_equal(rd.reasons, 0x08u);
  assert_string_equal(rd.ofd_inn, r.reg.ofd_inn);
  assert_string_equal(rd.r.rnm, r.header.kkt_reg_number);
  assert_int_equal(rd.ext_modes, 0); /* marking off now */

  /* The tables and FF05h: what the register refuses. */
  shtrih_encode_write_table(&m, 30, SHTRIH_TABLE_FN, 1, SHTRIH_FIELD_SERIAL, "1", 1);
  execute(&t, &m, ans, &a);
  assert_int_equal(a.error, SHTRIH_E_BAD_PARAMS);
  shtrih_encode_write_table(&m, 30, SHTRIH_TABLE_FN, 1, 99, "1", 1);
  execute(&t, &m, ans, &a);
  assert_int_equal(a.error, SHTRIH_E_BAD_PARAMS);
  shtrih_encode_write_table(&m, 30, SHTRIH_TABLE_FN, 1, SHTRIH_FIELD_REASONS, "\1", 1);
  execute(&t, &m, ans, &a);
  assert_int_equal(a.error, SHTRIH_E_BAD_PARAMS); /* a 4-byte number */
  shtrih_encode_write_table(&m, 30, SHTRIH_TABLE_FN, 1, 3, NULL, 0);
  execute(&t, &m, ans, &a);
  assert_int_equal(a.error, 0);
  char text[32];
  shtrih_get_text(&a, a.len, text, sizeof text);
  assert_string_equal(text, r.header.kkt_reg_number);
  shtrih_request(&m, SHTRIH_CMD_FN_BEGIN_REGISTRATION, 30);
  shtrih_msg_le(&m, 4, 1);
  execute(&t, &m, ans, &a);
  assert_int_equal(a.error, SHTRIH_E_FN_UNKNOWN_COMMAND);
  assert_int_equal(fn_status(f->fn, &st), 0);
  assert_int_equal(st.last_document, d.number);
  fn_free(dev);
  tcp_stop(&t);

  /* A new FN replacing a closed one: FF05h type 1, an 11 with 1205 bit 0
  ** as its first document (fn.h, FN_REREG_FN_REPLACED). */
  fn_fixture_t *g2 = fn_fixture_new("kktreg2", "9999078900022023", T0);
  assert_non_null(g2);
  tcp_start(&t, g2->fn, 30);
  snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", t.port);
  assert_int_equal(fn_shtrih_open(spec, 30, &fast, &dev, err, sizeof err), 0);
  r.reg.reason_mask = FN_REREG_FN_REPLACED;
  assert_int_equal(fn_register(dev, &r, true, &d), 0);
  assert_int_equal(d.number, 1);
  assert_same_document(dev, g2->fn, 1);
  assert_int_equal(fn_document_get(dev, 1, &doc), 0);
  assert_int_equal(doc.type, DOC_REREGISTRATION);
  assert_int_equal(doc_parse_registration(doc.data, doc.len, &h, &reg), 0);
  assert_int_equal(reg.reason_mask, FN_REREG_FN_REPLACED);
  assert_int_equal(fn_status(g2->fn, &st), 0);
  assert_int_equal(st.phase, FN_PHASE_FISCAL);
  fn_free(dev);
  tcp_stop(&t);
  fn_fixture_free(g2);
}

/* The register's tables survive its restart (options.tables_path), as a
** real register's do; a register without the file starts empty. */
static void test_tables_kept(void **state)
{
  fn_fixture_t *f = *state;
  char path[192];
  kkt_emu_t *emu = NULL;
  shtrih_msg_t m;
  shtrih_answer_t a;
  uint8_t ans[SHTRIH_MAX_MESSAGE];
  const uint8_t name[] = {0xD0, 0xEE, 0xEC, 0xE0, 0xF8, 0xEA, 0xE0}; /* "Ромашка", CP1251 */
  const uint8_t reasons[4] = {0x08, 0, 0, 0};
  snprintf(path, sizeof path, "%s/kkt.tables", f->dir);
  kkt_emu_options_t o = {.tables_path = path};
  for (int round = 0; round < 3; round++) {
    assert_int_equal(kkt_emu_new(f->fn, round == 2 ? NULL : &o, &emu), 0);
    if (round == 0) {
      shtrih_encode_write_table(&m, 30, SHTRIH_TABLE_FN, 1, SHTRIH_FIELD_USER, name, sizeof name);
      int n = kkt_emu_execute(emu, m.data, m.len, ans, sizeof ans);
      assert_int_equal(shtrih_answer_parse(ans, (size_t)n, &a), 0);
      assert_int_equal(a.error, 0);
      shtrih_encode_write_table(&m, 30, SHTRIH_TABLE_FN, 1, SHTRIH_FIELD_REASONS, reasons, 4);
      n = kkt_emu_execute(emu, m.data, m.len, ans, sizeof ans);
      assert_int_equal(shtrih_answer_parse(ans, (size_t)n, &a), 0);
      assert_int_equal(a.error, 0);
    }
    shtrih_encode_write_table(&m, 30, SHTRIH_TABLE_FN, 1, SHTRIH_FIELD_USER, NULL, 0);
    int n = kkt_emu_execute(emu, m.data, m.len, ans, sizeof ans);
    assert_int_equal(shtrih_answer_parse(ans, (size_t)n, &a), 0);
    assert_int_equal(a.error, 0);
    assert_int_equal(a.len, round == 2 ? 0 : sizeof name); /* round 1: after a restart */
    if (round < 2) assert_memory_equal(a.fields, name, sizeof name);
    shtrih_encode_write_table(&m, 30, SHTRIH_TABLE_FN, 1, SHTRIH_FIELD_REASONS, NULL, 0);
    n = kkt_emu_execute(emu, m.data, m.len, ans, sizeof ans);
    assert_int_equal(shtrih_answer_parse(ans, (size_t)n, &a), 0);
    assert_int_equal(shtrih_get_le(&a, 4), round == 2 ? 0 : 8);
    kkt_emu_free(emu);
  }
  unlink(path);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_exchange_faults, setup, teardown),
      cmocka_unit_test_setup_teardown(test_host_ack_lost, setup, teardown),
      cmocka_unit_test(test_no_answer),
      cmocka_unit_test_setup_teardown(test_emulator_strict_framing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_emulator_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_backend, setup, teardown),
      cmocka_unit_test_setup_teardown(test_backend_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_backend_fiscal_ops, setup, teardown),
      cmocka_unit_test_setup_teardown(test_backend_registration, setup_fresh, teardown),
      cmocka_unit_test_setup_teardown(test_tables_kept, setup_fresh, teardown),
  };
  return cmocka_run_group_tests(tests, fn_fixture_crypto_setup, fn_fixture_crypto_teardown);
}
