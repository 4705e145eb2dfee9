/*
** tests/unit/test_client.c: delivery from a real emulated FN to an operator
** on the loopback interface (ofd/client.h).
**
** The operator here is a small but faithful peer, a thread that implements
** the wire contract from the other side: it reads the stream with
** frame_parser, requires CRC mode 2 with a container and "response
** expected", reads the body with doc_summarize, requires the container's
** type and number to be the document's own, verifies the fiscal sign with
** the FN's secret (read from the FN file, as the operator emulator does),
** stores each document once, and answers with a real doc 7 / 84 / 83 built
** by fiscal/doc.c. It refuses to answer anything that fails those checks
** and counts it, so a client that sent the wrong bytes fails the test.
**
** Faults are injected on the peer's side at a chosen message: it closes in
** the middle of the answer (after storing the document: the realistic
** redelivery case), sends garbage, refuses with 1022 != 0, acknowledges
** another document or another FN's, answers with a stale acknowledgement
** instead, slips a late copy of the previous answer in before this one,
** answers everything twice, answers one byte at a time, or falls silent.
** The client keeps a window of documents in flight (8 in the fault tests,
** so a fault lands mid-window): after each fault the test checks that
** what was answered before it is acknowledged, the rest is owed, nothing
** after the faulted window was sent, the peer holds nothing the FN
** believes delivered without its answer, and that the next run completes
** with every document stored once.
**
** The backoff schedule is tested with an injected clock, sleep and random
** source and a transport wrapper (the seam) that can be switched "down".
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "tests/support/fn_fixture.h"
#include "ofd/client.h"
#include "ofd/frame.h"
#include "ofd/keys.h"

#define FN_NUMBER "9999078900005555"
#define OFD_INN   "7704211201"
#define T0        1700000000u
#define GS        "\x1d"
#define MAX_NUM   1024

/* ---------------------------------------------------------------------- */
/* The peer                                                                */

typedef enum peer_fault {
  FAULT_NONE,
  FAULT_CLOSE_MID,  /* store, send half the answer, close */
  FAULT_GARBAGE,    /* send bytes that are no frame */
  FAULT_REFUSE,     /* answer 1022 = refuse_code, store nothing */
  FAULT_WRONG_ACK,  /* acknowledge number + 1 instead (a document not sent) */
  FAULT_STALE_ACK,  /* acknowledge number - 1 (a late duplicate) instead, store nothing */
  FAULT_LATE_COPY,  /* store; a copy of the previous answer, then this one's */
  FAULT_DUP_ALL,    /* from here on (this connection): store, answer twice */
  FAULT_OTHER_FN,   /* acknowledge this number for another FN, store nothing */
  FAULT_DRIP,       /* store, answer one byte per write */
  FAULT_SILENT,     /* from here on (this connection): store nothing, answer nothing */
  FAULT_WRONG_TYPE, /* answer a container of type 84 to a document */
  FAULT_ZERO_SIGN,  /* store; acknowledge with 1078 all zero bytes */
  FAULT_OTHER_KEY,  /* store; acknowledge with 1078 made with another OFD's key */
  FAULT_OTHER_OFD,  /* store; acknowledge as another OFD (1017), signed with the right key */
} peer_fault_t;

/* Faults that go on for the rest of the connection once they start. */
static bool fault_sticky(peer_fault_t f) { return f == FAULT_DUP_ALL || f == FAULT_SILENT; }

typedef struct peer {
  int listen_fd;
  uint16_t port;
  pthread_t thread;
  pthread_mutex_t lock;
  frame_profile_t profile;
  uint8_t secret[FN_EMU_SECRET_SIZE];
  char fn_number[17];
  /* fault: applied once, to the fault_at-th message received (1-based) */
  peer_fault_t fault;
  uint32_t fault_at;
  bool fault_on; /* a sticky fault has started on this connection */
  uint8_t refuse_code;
  /* what it saw */
  uint32_t received;
  uint32_t connections;
  uint32_t bad; /* messages that failed verification */
  uint32_t stored;
  uint32_t seen[MAX_NUM]; /* per number: times received and verified */
  int stop;
  frame_parser_t parser;
} peer_t;

static void send_all(int fd, const uint8_t *b, size_t n)
{
  while (n > 0) {
    ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
    if (w <= 0) return;
    b += w;
    n -= (size_t)w;
  }
}

/* Verify one message; 0 when it is what the contract says. */
static int peer_verify(peer_t *p, const frame_message_t *m, doc_summary_t *sum)
{
  if (m->profile != p->profile || !m->has_container) return -1;
  /* As a real FN flags it: no session CRC (ofd/frame.c). */
  if ((m->flags & FRAME_FLAG_CRC_MASK) != FRAME_CRC_NONE) return -1;
  if (m->message_type != FRAME_MESSAGE_TYPE) return -1;
  if ((m->flags & FRAME_FLAG_RESPONSE_MASK) != FRAME_FLAG_RESPONSE_EXPECTED) return -1;
  if (memcmp(m->fn_number, p->fn_number, 16) != 0) return -1;
  if (doc_summarize(m->body, m->body_len, sum) != 0) return -1;
  if (sum->type != m->document_type || sum->number != m->document_number) return -1;
  if (sum->number == 0 || sum->number >= MAX_NUM) return -1;
  if (p->profile == FRAME_PROFILE_OFD &&
      (sum->type == DOC_KM_REQUEST || sum->type == DOC_KM_NOTIFICATION))
    return -1;
  if (p->profile == FRAME_PROFILE_OISM && sum->type != DOC_KM_REQUEST &&
      sum->type != DOC_KM_NOTIFICATION)
    return -1;
  if (fn_emu_verify_sign(p->secret, m->body, m->body_len) != 0) return -1;
  return 0;
}

/* Build the answer body for a verified message (forge: one of the
** FAULT_*_SIGN / _KEY / _OFD faults for an acknowledgement, else
** FAULT_NONE). */
static size_t peer_answer(const frame_message_t *m, const doc_summary_t *sum, uint8_t answer_code,
                          uint32_t number, const char *fn_number, uint8_t *buf, size_t cap,
                          uint8_t *type, peer_fault_t forge)
{
  size_t len = 0;
  if (m->document_type == DOC_KM_NOTIFICATION) {
    doc_km_ticket_t t = {number, 0, 0};
    *type = DOC_KM_TICKET;
    if (doc_build_km_ticket(&t, buf, cap, &len) != 0) return 0;
  } else if (m->document_type == DOC_KM_REQUEST) {
    doc_km_answer_t a;
    memset(&a, 0, sizeof a);
    a.request_number = number;
    a.request_time = sum->time;
    a.status_answer = 1;
    a.processing_code = 0;
    a.km_type = 4;
    *type = DOC_KM_ANSWER;
    if (doc_build_km_answer(&a, buf, cap, &len) != 0) return 0;
  } else {
    /* Signed with the key the fixture FN was given (fn_fixture_ack_build),
    ** over the document received; then forged as the fault says. */
    *type = DOC_OPERATOR_ACK;
    if (fn_fixture_ack_build(fn_number, number, sum->time, answer_code, m->body, m->body_len, buf,
                             cap, &len) != 0)
      return 0;
    if (forge == FAULT_NONE) return len;
    doc_ack_t a;
    uint8_t key[FN_EMU_OFD_KEY_SIZE];
    if (doc_parse_ack(buf, len, &a) != 0) return 0;
    fn_fixture_ofd_key(key);
    if (forge == FAULT_ZERO_SIGN) {
      memset(a.operator_sign, 0, sizeof a.operator_sign);
    } else if (forge == FAULT_OTHER_KEY) {
      key[0] ^= 0xFF; /* a key the FN was never given */
      if (fn_emu_operator_sign(key, &a, sum->sign, a.operator_sign) != 0) return 0;
    } else if (forge == FAULT_OTHER_OFD) {
      strcpy(a.ofd_inn, "7707083893");
      if (fn_emu_operator_sign(key, &a, sum->sign, a.operator_sign) != 0) return 0;
    }
    if (doc_build_ack(&a, buf, cap, &len) != 0) return 0;
  }
  return len;
}

/* A real OFD's answer shape (ofd/frame.c): the 10-byte trailer after the
** document. */
static size_t with_trailer(uint8_t *body, size_t len, size_t cap)
{
  static const uint8_t trailer[FRAME_TRAILER_SIZE] = {0x82, 0x06, 1, 2, 3, 4, 5, 6, 0, 0};
  if (len == 0 || len + sizeof trailer > cap) return 0;
  memcpy(body + len, trailer, sizeof trailer);
  return len + sizeof trailer;
}

/* Handle one message; returns 0 to keep the connection, -1 to close it,
** 1 when the peer's end is closed (read on, answer nothing). */
static int peer_handle(peer_t *p, int fd, const frame_message_t *m)
{
  static uint8_t body[DOC_MAX_DOCUMENT];
  static uint8_t wire[FRAME_MESSAGE_MAX];
  doc_summary_t sum;
  frame_message_t out;
  size_t len = 0;
  uint8_t type = 0;

  pthread_mutex_lock(&p->lock);
  p->received++;
  if (p->received == p->fault_at && fault_sticky(p->fault)) p->fault_on = true;
  peer_fault_t fault = p->received == p->fault_at || p->fault_on ? p->fault : FAULT_NONE;
  if (p->profile == FRAME_PROFILE_KEYS) {
    /* The key server: an empty request 90 from this FN, answered by 91. */
    bool ok = m->profile == FRAME_PROFILE_KEYS && m->has_container && m->document_type == 90 &&
              m->body_len == 0 && memcmp(m->fn_number, p->fn_number, 16) == 0;
    if (!ok) p->bad++;
    pthread_mutex_unlock(&p->lock);
    if (!ok) return -1;
    fn_key_t key; /* the material the FN's own TH01 has, under another id */
    fn_fixture_hmac_key(&key, "TK07");
    if (fault == FAULT_GARBAGE) {
      /* A well-framed 91 whose body is not a key update. */
      memset(body, 0xEE, 40);
      len = 40;
    } else if (keys_build_update(&key, 1, T0 + 7, body, sizeof body, &len) != 0) {
      return -1;
    }
    memset(&out, 0, sizeof out);
    out.profile = FRAME_PROFILE_KEYS;
    memcpy(out.fn_number, m->fn_number, FRAME_FN_NUMBER_SIZE);
    out.flags = FRAME_CRC_HEADER_BODY;
    out.has_container = 1;
    out.document_type = 91;
    out.body = body;
    out.body_len = len;
    size_t kn = 0;
    if (frame_encode(&out, wire, sizeof wire, &kn) != 0) return -1;
    send_all(fd, wire, kn);
    return 0;
  }
  if (peer_verify(p, m, &sum) != 0) {
    p->bad++;
    pthread_mutex_unlock(&p->lock);
    return -1;
  }
  bool store = fault != FAULT_REFUSE && fault != FAULT_SILENT && fault != FAULT_GARBAGE &&
               fault != FAULT_WRONG_ACK && fault != FAULT_STALE_ACK && fault != FAULT_OTHER_FN &&
               m->document_type != DOC_KM_REQUEST;
  if (store) {
    if (p->seen[sum.number] == 0) p->stored++;
    p->seen[sum.number]++;
  }
  pthread_mutex_unlock(&p->lock);

  if (fault == FAULT_SILENT) return 0;
  if (fault == FAULT_GARBAGE) {
    static const uint8_t junk[64] = "this is not a frame at all, just some bytes from a broken box";
    send_all(fd, junk, sizeof junk);
    return 0;
  }
  uint32_t number = fault == FAULT_WRONG_ACK   ? sum.number + 1
                    : fault == FAULT_STALE_ACK ? sum.number - 1
                                               : sum.number;
  const char *fn_number = fault == FAULT_OTHER_FN ? "9999078900009999" : p->fn_number;
  if (fault == FAULT_LATE_COPY) {
    /* The previous message's answer again, as a peer that retransmits
    ** would send it, then this message's own. */
    len = peer_answer(m, &sum, 0, sum.number - 1, fn_number, body, sizeof body, &type, FAULT_NONE);
    if (len == 0) return -1;
    /* The old shape (0xA5, CRC mode 2, no trailer): still accepted. */
    memset(&out, 0, sizeof out);
    out.profile = p->profile;
    memcpy(out.fn_number, m->fn_number, FRAME_FN_NUMBER_SIZE);
    out.flags = FRAME_CRC_HEADER_BODY;
    out.has_container = 1;
    out.document_type = type;
    memcpy(out.container_fn, m->container_fn, sizeof out.container_fn);
    out.document_number = sum.number - 1;
    out.body = body;
    out.body_len = len;
    size_t copy = 0;
    if (frame_encode(&out, wire, sizeof wire, &copy) != 0) return -1;
    send_all(fd, wire, copy);
  }
  peer_fault_t forge =
      fault == FAULT_ZERO_SIGN || fault == FAULT_OTHER_KEY || fault == FAULT_OTHER_OFD ? fault
                                                                                       : FAULT_NONE;
  len = peer_answer(m, &sum, fault == FAULT_REFUSE ? p->refuse_code : 0, number, fn_number, body,
                    sizeof body, &type, forge);
  /* Answered as a real OFD answers: 0x5A, trailer, no session CRC. */
  len = with_trailer(body, len, sizeof body);
  if (len == 0) return -1;
  memset(&out, 0, sizeof out);
  out.profile = p->profile;
  memcpy(out.fn_number, m->fn_number, FRAME_FN_NUMBER_SIZE);
  out.flags = FRAME_CRC_NONE | FRAME_FLAG_RESPONSE_EXPECTED;
  out.message_type = FRAME_MESSAGE_TYPE_ANSWER;
  out.has_container = 1;
  out.document_type = fault == FAULT_WRONG_TYPE ? DOC_KM_TICKET : type;
  memcpy(out.container_fn, m->container_fn, sizeof out.container_fn);
  out.document_number = sum.number;
  out.body = body;
  out.body_len = len;
  size_t n = 0;
  if (frame_encode(&out, wire, sizeof wire, &n) != 0) return -1;
  if (fault == FAULT_CLOSE_MID) {
    /* Half the answer, then the peer's end closes (FIN). It reads on and
    ** ignores the rest, so the close is a clean one: a close with unread
    ** bytes would be a reset, which may also take answers the client has
    ** not read yet (realistic, and harmless, but not what this tests). */
    send_all(fd, wire, n / 2);
    shutdown(fd, SHUT_WR);
    return 1;
  }
  if (fault == FAULT_DRIP) {
    for (size_t i = 0; i < n; i++) send_all(fd, wire + i, 1);
    return 0;
  }
  send_all(fd, wire, n);
  if (fault == FAULT_DUP_ALL) send_all(fd, wire, n);
  return 0;
}

static void *peer_main(void *arg)
{
  peer_t *p = arg;
  for (;;) {
    pthread_mutex_lock(&p->lock);
    int stop = p->stop;
    pthread_mutex_unlock(&p->lock);
    if (stop) break;
    struct pollfd pf = {p->listen_fd, POLLIN, 0};
    if (poll(&pf, 1, 20) <= 0) continue;
    int fd = accept(p->listen_fd, NULL, NULL);
    if (fd < 0) continue;
    frame_parser_init(&p->parser);
    pthread_mutex_lock(&p->lock);
    p->fault_on = false; /* sticky faults end with their connection */
    p->connections++;
    pthread_mutex_unlock(&p->lock);
    bool open = true, closing = false;
    while (open) {
      uint8_t buf[2048];
      struct pollfd cf = {fd, POLLIN, 0};
      int r = poll(&cf, 1, 20);
      pthread_mutex_lock(&p->lock);
      stop = p->stop;
      pthread_mutex_unlock(&p->lock);
      if (stop) break;
      if (r <= 0) continue;
      ssize_t got = recv(fd, buf, sizeof buf, 0);
      if (got <= 0) break;
      size_t off = 0;
      while (open) {
        size_t used = 0;
        frame_message_t m;
        int rc = frame_parser_feed(&p->parser, buf + off, (size_t)got - off, &used, &m);
        off += used;
        if (rc == FRAME_AGAIN) break;
        if (rc != 0) {
          pthread_mutex_lock(&p->lock);
          p->bad++;
          pthread_mutex_unlock(&p->lock);
          continue;
        }
        if (closing) continue;
        int handled = peer_handle(p, fd, &m);
        if (handled < 0) open = false;
        if (handled > 0) closing = true;
      }
    }
    close(fd);
  }
  return NULL;
}

static peer_t *peer_start(frame_profile_t profile, const char *fn_path)
{
  peer_t *p = calloc(1, sizeof *p);
  assert_non_null(p);
  p->profile = profile;
  pthread_mutex_init(&p->lock, NULL);
  assert_int_equal(fn_emu_read_secret(fn_path, p->secret, p->fn_number), 0);
  p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(p->listen_fd >= 0);
  int one = 1;
  setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  assert_int_equal(bind(p->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(p->listen_fd, 8), 0);
  socklen_t sl = sizeof a;
  assert_int_equal(getsockname(p->listen_fd, (struct sockaddr *)&a, &sl), 0);
  p->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&p->thread, NULL, peer_main, p), 0);
  return p;
}

static void peer_set_fault(peer_t *p, peer_fault_t fault, uint32_t at_message)
{
  pthread_mutex_lock(&p->lock);
  p->fault = fault;
  p->fault_at = p->received + at_message;
  pthread_mutex_unlock(&p->lock);
}

static void peer_stop(peer_t *p)
{
  if (!p) return;
  pthread_mutex_lock(&p->lock);
  p->stop = 1;
  pthread_mutex_unlock(&p->lock);
  pthread_join(p->thread, NULL);
  close(p->listen_fd);
  pthread_mutex_destroy(&p->lock);
  free(p);
}

/* ---------------------------------------------------------------------- */
/* The FN                                                                  */

typedef struct fixture {
  fn_fixture_t fx; /* the FN, its temp file and its hand-moved clock */
  peer_t *peer;
  ofd_client_t *client;
  uint32_t window; /* for client_for: 0 the default */
} fixture_t;
#define FX(f) (&(f)->fx)

static int setup(void **state)
{
  fixture_t *f = calloc(1, sizeof *f);
  if (!f || fn_fixture_create(FX(f), "client", FN_NUMBER, T0) != 0) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  ofd_client_destroy(f->client);
  peer_stop(f->peer);
  fn_fixture_destroy(FX(f));
  free(f);
  return 0;
}

/* Registered (online, or autonomous: no OFD), the key TH01 loaded. */
static void do_register(fixture_t *f, bool autonomous)
{
  assert_int_equal(fn_fixture_register(f->fx.fn, autonomous, "TH01", NULL), 0);
}

static doc_item_t plain_item(uint64_t price)
{
  doc_item_t it;
  fn_fixture_item(&it, "Хлеб", price);
  return it;
}

static doc_item_t marked_item(unsigned serial)
{
  fn_key_t key;
  doc_item_t it;
  fn_fixture_hmac_key(&key, "TH01");
  assert_int_equal(fn_fixture_marked_line(&it, "Ботинки", 1000, "Dv", serial, &key), 0);
  return it;
}

/* Fill the FN until its last document is `count`: shifts of 20 receipts,
** every third receipt with a marked line (a notification each). */
static void fill(fixture_t *f, uint32_t count, bool autonomous)
{
  fn_status_t s;
  static unsigned serial = 1;
  do_register(f, autonomous);
  for (;;) {
    f->fx.now += 60;
    assert_int_equal(fn_status(f->fx.fn, &s), 0);
    if (s.last_document >= count) break;
    if (!s.shift_open) {
      assert_int_equal(fn_shift_open(f->fx.fn, "Иванова", NULL), 0);
    } else if (s.receipts_in_shift >= 20 || s.last_document + 1 == count) {
      assert_int_equal(fn_shift_close(f->fx.fn, "Иванова", NULL), 0);
    } else {
      doc_item_t it = (s.last_document % 3 == 0) ? marked_item(serial++) : plain_item(500);
      assert_int_equal(fn_fixture_sell(f->fx.fn, &it, 1, "Иванова", NULL), 0);
    }
  }
  assert_int_equal(s.last_document, count);
}

static ofd_client_t *client_for(fixture_t *f, frame_profile_t profile, int answer_ms)
{
  ofd_client_options_t o;
  ofd_client_t *c = NULL;
  ofd_client_options_init(&o);
  o.host = "127.0.0.1";
  o.port = f->peer->port;
  o.profile = profile;
  o.answer_timeout_ms = answer_ms;
  o.window = f->window;
  o.backoff_base_ms = 1; /* real sleeps stay short in these tests */
  o.backoff_max_ms = 4;
  assert_int_equal(ofd_client_create(&o, &c), 0);
  return c;
}

static fn_status_t status_of(fixture_t *f)
{
  fn_status_t s;
  assert_int_equal(fn_status(f->fx.fn, &s), 0);
  return s;
}

typedef struct progress_log {
  uint32_t calls;
  uint32_t last_done;
  uint32_t last_number;
  int monotonic;
} progress_log_t;

static void on_progress(void *user, uint32_t done, uint32_t total, uint32_t number)
{
  progress_log_t *l = user;
  if (done != l->last_done + 1 || done > total || number <= l->last_number) l->monotonic = 0;
  l->calls++;
  l->last_done = done;
  l->last_number = number;
}

/* Every document 1..count seen by the peer `times` times except `except`. */
static void assert_each_stored_once(peer_t *p, uint32_t count)
{
  pthread_mutex_lock(&p->lock);
  for (uint32_t n = 1; n <= count; n++) assert_true(p->seen[n] >= 1);
  assert_int_equal(p->stored, count);
  assert_int_equal(p->bad, 0);
  pthread_mutex_unlock(&p->lock);
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */

static void test_error_names(void **state)
{
  (void)state;
  assert_string_equal(ofd_err_name(OFD_ERR_CONNECT), "connect");
  assert_string_equal(ofd_err_name(OFD_ERR_REFUSED), "refused");
  assert_string_equal(ofd_err_name(OFD_ERR_PROTOCOL), "protocol");
  assert_string_equal(ofd_err_name(12345), "unknown");
  assert_non_null(strstr(ofd_err_message(OFD_ERR_CLOSED, true), "ФН"));
  assert_non_null(strstr(ofd_err_message(OFD_ERR_CLOSED, false), "FN"));
  ofd_client_options_t o;
  ofd_client_t *c = (ofd_client_t *)1;
  ofd_client_options_init(&o);
  assert_int_equal(ofd_client_create(&o, &c), OFD_ERR_ARGUMENT);
  assert_null(c);
  o.host = "127.0.0.1";
  assert_int_equal(ofd_client_create(&o, &c), OFD_ERR_ARGUMENT); /* port 0 */
  ofd_client_destroy(NULL);
}

static void test_deliver_200(void **state)
{
  fixture_t *f = *state;
  fill(f, 200, false);
  f->peer = peer_start(FRAME_PROFILE_OFD, f->fx.path);
  f->client = client_for(f, FRAME_PROFILE_OFD, 0);
  assert_int_equal(status_of(f).unsent_documents, 200);
  progress_log_t log = {0, 0, 0, 1};
  ofd_delivery_stats_t st;
  assert_int_equal(ofd_deliver_documents(f->fx.fn, f->client, on_progress, &log, &st), 0);
  assert_int_equal(st.total, 200);
  assert_int_equal(st.delivered, 200);
  assert_int_equal(st.sent, 200);
  assert_int_equal(st.remaining, 0);
  assert_int_equal(log.calls, 200);
  assert_true(log.monotonic);
  assert_int_equal(status_of(f).unsent_documents, 0);
  assert_each_stored_once(f->peer, 200);
  for (uint32_t n = 1; n <= 200; n++) assert_int_equal(f->peer->seen[n], 1);
  assert_int_equal(f->peer->received, 200);
  /* A second flush finds nothing to do and sends nothing. */
  assert_int_equal(ofd_deliver_documents(f->fx.fn, f->client, NULL, NULL, &st), 0);
  assert_int_equal(st.sent, 0);
  assert_int_equal(f->peer->received, 200);
}

/*
** A fault at message k of a fresh FN with `count` documents, sent 8 at a
** time: k = 19 is the third message of the third window (17..24), so the
** fault comes mid-window. The run stops with `expect`; 1..k-1, answered
** before the fault, are acknowledged (17 and 18 in the faulted window
** too), k.. are still owed, and nothing past the faulted window was sent.
** Then the next run resumes at k and completes, each document stored once.
*/
static void fault_then_resume(fixture_t *f, peer_fault_t fault, int expect, bool k_stored)
{
  const uint32_t count = 40, k = 19, window_end = 24;
  fill(f, count, false);
  f->window = 8;
  f->peer = peer_start(FRAME_PROFILE_OFD, f->fx.path);
  f->client = client_for(f, FRAME_PROFILE_OFD, 300);
  f->peer->refuse_code = 3;
  peer_set_fault(f->peer, fault, k);
  ofd_delivery_stats_t st;
  progress_log_t log = {0, 0, 0, 1};
  assert_int_equal(ofd_deliver_documents(f->fx.fn, f->client, on_progress, &log, &st), expect);
  assert_int_equal(st.delivered, k - 1);
  assert_int_equal(log.calls, k - 1); /* progress per document, in order */
  assert_true(log.monotonic);
  assert_int_equal(st.stopped_at, k);
  assert_int_equal(st.remaining, count - (k - 1));
  fn_status_t s = status_of(f);
  assert_int_equal(s.unsent_documents, count - (k - 1));
  assert_int_equal(s.first_unsent_number, k);
  pthread_mutex_lock(&f->peer->lock);
  bool k_seen_ok = f->peer->seen[k] == (k_stored ? 1u : 0u);
  /* The run really stopped: after the faulted window, or, when the FN
  ** refused an answer, after the window already sent while the FN
  ** committed (client.c: two windows take turns; that one is abandoned). */
  uint32_t last_sent = expect == OFD_ERR_FN ? window_end + 8 : window_end;
  bool stopped = f->peer->seen[last_sent + 1] == 0;
  uint32_t bad = f->peer->bad;
  pthread_mutex_unlock(&f->peer->lock);
  assert_true(k_seen_ok);
  assert_true(stopped);
  assert_int_equal(bad, 0);
  if (expect == OFD_ERR_REFUSED) {
    assert_int_equal(st.answer_code, 3);
    assert_int_equal(ofd_client_failures(f->client), 0); /* a refusal is not a link fault */
  } else if (expect == OFD_ERR_FN) {
    /* The FN refused the answer: not a link fault either. */
    assert_int_equal(ofd_client_failures(f->client), 0);
  } else {
    assert_int_equal(ofd_client_failures(f->client), 1);
  }

  /* The next flush resumes at k and completes; k is stored once. */
  assert_int_equal(ofd_deliver_documents(f->fx.fn, f->client, NULL, NULL, &st), 0);
  assert_int_equal(st.delivered, count - (k - 1));
  assert_int_equal(st.sent, count - (k - 1));
  assert_int_equal(status_of(f).unsent_documents, 0);
  assert_int_equal(ofd_client_failures(f->client), 0);
  assert_each_stored_once(f->peer, count);
  pthread_mutex_lock(&f->peer->lock);
  k_seen_ok = f->peer->seen[k] == (k_stored ? 2u : 1u); /* redelivered, stored once */
  bool before_once = true;
  for (uint32_t n = 1; n < k; n++) before_once = before_once && f->peer->seen[n] == 1;
  pthread_mutex_unlock(&f->peer->lock);
  assert_true(k_seen_ok);
  assert_true(before_once); /* what was acknowledged was never sent again */
}

static void test_close_mid_answer(void **state)
{
  fault_then_resume(*state, FAULT_CLOSE_MID, OFD_ERR_CLOSED, true);
}

static void test_garbage(void **state)
{
  fault_then_resume(*state, FAULT_GARBAGE, OFD_ERR_PROTOCOL, false);
}

static void test_refused(void **state)
{
  fault_then_resume(*state, FAULT_REFUSE, OFD_ERR_REFUSED, false);
}

/* An acknowledgement of k + 1, which is in flight too, where k's belongs:
** answers come in the order sent, so that is a peer out of step, not an
** early answer; k + 1 is not acknowledged either. */
static void test_wrong_ack(void **state)
{
  fault_then_resume(*state, FAULT_WRONG_ACK, OFD_ERR_PROTOCOL, false);
}

static void test_other_fn_ack(void **state)
{
  fault_then_resume(*state, FAULT_OTHER_FN, OFD_ERR_PROTOCOL, false);
}

/* A stale acknowledgement (k - 1's) where k's belongs: the stale one is
** ignored, and the next answer, k + 1's, is then out of step. */
static void test_stale_ack(void **state)
{
  fault_then_resume(*state, FAULT_STALE_ACK, OFD_ERR_PROTOCOL, false);
}

/*
** Forged acknowledgements (issue 15): document k's answer is well framed,
** names this FN and k, but its 1078 is all zero, or made with a key the FN
** was never given, or it comes from another OFD. The FN clears nothing
** from it: the run stops with OFD_ERR_FN / FN_ERR_OFD_ANSWER, k and after
** stay owed, the refusal is counted with its reason, and the next run with
** an honest peer delivers k (stored once: the peer had it already).
*/
static void forged_then_resume(fixture_t *f, peer_fault_t fault, int reason)
{
  fault_then_resume(f, fault, OFD_ERR_FN, true);
  fn_status_t s = status_of(f);
  assert_true(s.ofd_key_shared);
  assert_int_equal(s.ofd_answers_refused, 1);
  assert_int_equal(s.ofd_answer_refused_document, 19);
  assert_int_equal(s.ofd_answer_refused_reason, reason);
  assert_int_equal(s.ofd_answer_refused_at, f->fx.now);
  assert_non_null(strstr(fn_err_message(FN_ERR_OFD_ANSWER, false), "1078"));
  assert_non_null(strstr(fn_err_message(FN_ERR_OFD_ANSWER, true), "1078"));
  assert_string_equal(fn_err_name(FN_ERR_OFD_ANSWER), "ofd_answer_rejected");
  assert_int_equal(fn_err_device_code(FN_ERR_OFD_ANSWER), 0x20);
}

static void test_zero_sign_ack(void **state)
{
  forged_then_resume(*state, FAULT_ZERO_SIGN, FN_ACK_REFUSAL_BAD_SIGN);
}

static void test_other_key_ack(void **state)
{
  forged_then_resume(*state, FAULT_OTHER_KEY, FN_ACK_REFUSAL_BAD_SIGN);
}

static void test_other_ofd_ack(void **state)
{
  forged_then_resume(*state, FAULT_OTHER_OFD, FN_ACK_REFUSAL_OTHER_OFD);
  assert_string_equal(fn_ack_refusal_name(FN_ACK_REFUSAL_OTHER_OFD), "other_ofd");
  assert_non_null(strstr(fn_ack_refusal_message(FN_ACK_REFUSAL_OTHER_OFD, false), "1017"));
}

/* ---------------------------------------------------------------------- */
/* The published real bytes through the client (tests/data/ofd/README.md)  */

/* A transport seam that plays one canned answer and keeps what was sent. */
typedef struct canned {
  uint8_t sent[FRAME_MESSAGE_MAX];
  size_t sent_len;
  uint8_t answer[FRAME_MESSAGE_MAX];
  size_t answer_len, given;
} canned_t;

static int canned_connect(const char *host, uint16_t port, int timeout_ms, void **conn)
{
  (void)host, (void)port, (void)timeout_ms;
  /* *conn holds the transport context: the canned_t itself. */
  return *conn ? 0 : OFD_ERR_CONNECT;
}

static int canned_send(void *conn, const uint8_t *buf, size_t len, int timeout_ms)
{
  canned_t *c = conn;
  (void)timeout_ms;
  if (len > sizeof c->sent - c->sent_len) return OFD_ERR_IO;
  memcpy(c->sent + c->sent_len, buf, len);
  c->sent_len += len;
  return 0;
}

static int canned_recv(void *conn, uint8_t *buf, size_t cap, int timeout_ms, size_t *got)
{
  canned_t *c = conn;
  (void)timeout_ms;
  size_t n = c->answer_len - c->given;
  if (n == 0) return OFD_ERR_TIMEOUT;
  if (n > cap) n = cap;
  memcpy(buf, c->answer + c->given, n);
  c->given += n;
  *got = n;
  return 0;
}

static void canned_close(void *conn) { (void)conn; }

static const ofd_transport_t canned_transport = {"canned", canned_connect, canned_send, canned_recv,
                                                 canned_close};

static size_t read_sample(const char *name, uint8_t *buf, size_t cap)
{
  char path[256];
  snprintf(path, sizeof path, "tests/data/ofd/%s", name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  size_t n = fread(buf, 1, cap, f);
  fclose(f);
  assert_true(n > 0 && n < cap);
  return n;
}

/*
** The FN's real registration report (shtrih-m/opos: the document and its
** 10-byte trailer) goes out through ofd_client_exchange, and the real
** OFD's answer to it comes back: container type 0x5A, the
** acknowledgement 7, the trailer, in the one real session header's shape
** (A-version 00 01, flags 0x0014). The client sends what a real FN sends
** (flags 0x0014, 0xA5, the FN number in BCD with an F for its trailing
** space, the body as given) and hands back the document without the
** trailer; the answer's 1078 ends with the request's trailer, verbatim.
** A trailer that is not 10 bytes is a protocol fault.
*/
static void test_real_sample_exchange(void **state)
{
  static const char fn_number[17] = "999907891234567 ";
  static canned_t canned;
  static uint8_t request[1024], answer_container[1024], answer[DOC_MAX_DOCUMENT];
  size_t request_len = read_sample("shtrih_registration_container.bin", request, sizeof request);
  size_t answer_container_len =
      read_sample("shtrih_answer_container.bin", answer_container, sizeof answer_container);
  const uint8_t *body = request + 32, *trailer = request + request_len - FRAME_TRAILER_SIZE;
  size_t body_len = request_len - 32, answer_len = 0;
  (void)state;

  memset(&canned, 0, sizeof canned);
  memcpy(canned.answer, "\x2A\x08\x41\x0A\x81\xA2\x00\x01", 8);
  memcpy(canned.answer + 8, fn_number, 16);
  canned.answer[24] = (uint8_t)answer_container_len;
  canned.answer[25] = (uint8_t)(answer_container_len >> 8);
  canned.answer[26] = 0x14;
  memcpy(canned.answer + 30, answer_container, answer_container_len);
  canned.answer_len = 30 + answer_container_len;

  ofd_client_options_t o;
  ofd_client_t *c = NULL;
  ofd_client_options_init(&o);
  o.host = "ofd.example";
  o.port = 7777;
  o.profile = FRAME_PROFILE_OFD;
  o.transport = &canned_transport;
  o.transport_context = &canned;
  assert_int_equal(ofd_client_create(&o, &c), 0);
  assert_int_equal(ofd_client_exchange(c, fn_number, 1, 1, body, body_len, DOC_OPERATOR_ACK, answer,
                                       sizeof answer, &answer_len, 2000),
                   0);
  assert_int_equal(answer_len, 108); /* the 7 alone: 4 + 104 */
  assert_memory_equal(answer, answer_container + 32, answer_len);
  assert_memory_equal(answer, "\x07\x00\x68\x00", 4);
  /* 1078 (at 4 + 8): 18 bytes, the last 10 the request's trailer. */
  assert_memory_equal(answer + 12, "\x36\x04\x12\x00", 4);
  assert_memory_equal(answer + 16 + 8, trailer, FRAME_TRAILER_SIZE);

  /* What went out. */
  frame_message_t sent;
  size_t consumed = 0;
  assert_int_equal(frame_decode(canned.sent, canned.sent_len, &sent, &consumed), 0);
  assert_int_equal(consumed, canned.sent_len);
  assert_int_equal(sent.flags, 0x0014);
  assert_int_equal(sent.message_type, 0xA5);
  assert_int_equal(sent.document_type, 1);
  assert_int_equal(sent.document_number, 1);
  assert_memory_equal(sent.container_fn, request + 9, 8); /* 99 99 07 89 12 34 56 7F */
  assert_int_equal(sent.body_len, body_len);
  assert_memory_equal(sent.body, body, body_len);

  /* The same answer with a 9-byte trailer: refused as a protocol fault. */
  frame_message_t bad;
  memset(&bad, 0, sizeof bad);
  bad.profile = FRAME_PROFILE_OFD;
  memcpy(bad.fn_number, fn_number, 16);
  bad.flags = FRAME_FLAG_RESPONSE_EXPECTED;
  bad.message_type = FRAME_MESSAGE_TYPE_ANSWER;
  bad.has_container = 1;
  bad.document_type = DOC_OPERATOR_ACK;
  bad.document_number = 1;
  bad.body = answer_container + 32;
  bad.body_len = answer_container_len - 32 - 1;
  assert_int_equal(frame_encode(&bad, canned.answer, sizeof canned.answer, &canned.answer_len), 0);
  canned.given = 0;
  canned.sent_len = 0;
  assert_int_equal(ofd_client_exchange(c, fn_number, 1, 1, body, body_len, DOC_OPERATOR_ACK, answer,
                                       sizeof answer, &answer_len, 2000),
                   OFD_ERR_PROTOCOL);
  ofd_client_destroy(c);
}

static void test_wrong_type(void **state)
{
  fault_then_resume(*state, FAULT_WRONG_TYPE, OFD_ERR_PROTOCOL, true);
}

/* The peer stops answering mid-window (and stores nothing more). */
static void test_silent(void **state)
{
  fault_then_resume(*state, FAULT_SILENT, OFD_ERR_TIMEOUT, false);
}

/* A late copy of the previous acknowledgement before k's own: ignored;
** the run completes, nothing sent twice. */
static void test_late_copy(void **state)
{
  fixture_t *f = *state;
  const uint32_t count = 40, k = 19;
  fill(f, count, false);
  f->window = 8;
  f->peer = peer_start(FRAME_PROFILE_OFD, f->fx.path);
  f->client = client_for(f, FRAME_PROFILE_OFD, 300);
  peer_set_fault(f->peer, FAULT_LATE_COPY, k);
  ofd_delivery_stats_t st;
  assert_int_equal(ofd_deliver_documents(f->fx.fn, f->client, NULL, NULL, &st), 0);
  assert_int_equal(st.delivered, count);
  assert_int_equal(st.sent, count);
  assert_int_equal(st.stale, 1);
  assert_int_equal(status_of(f).unsent_documents, 0);
  assert_each_stored_once(f->peer, count);
  for (uint32_t n = 1; n <= count; n++) assert_int_equal(f->peer->seen[n], 1);
  assert_int_equal(f->peer->received, count);
}

/* A peer that answers everything twice (kassa-operator's dup-ack): every
** copy is stale and ignored, the run completes in full windows, nothing
** is sent twice, and the copies left on the link do not disturb the next
** run. */
static void test_duplicate_answers(void **state)
{
  fixture_t *f = *state;
  const uint32_t count = 100;
  fill(f, count, false);
  f->peer = peer_start(FRAME_PROFILE_OFD, f->fx.path);
  f->client = client_for(f, FRAME_PROFILE_OFD, 300);
  peer_set_fault(f->peer, FAULT_DUP_ALL, 1);
  ofd_delivery_stats_t st;
  progress_log_t log = {0, 0, 0, 1};
  assert_int_equal(ofd_deliver_documents(f->fx.fn, f->client, on_progress, &log, &st), 0);
  assert_int_equal(st.delivered, count);
  assert_int_equal(st.sent, count);
  assert_true(st.stale >= count - 2); /* all but the copies still in flight at the end */
  assert_int_equal(log.calls, count);
  assert_true(log.monotonic);
  assert_int_equal(ofd_client_failures(f->client), 0);
  assert_int_equal(status_of(f).unsent_documents, 0);
  assert_each_stored_once(f->peer, count);
  for (uint32_t n = 1; n <= count; n++) assert_int_equal(f->peer->seen[n], 1);
  assert_int_equal(f->peer->received, count);
  /* One more document, one more run: fine whether the link was kept or not. */
  f->fx.now += 60;
  assert_int_equal(fn_state_report(f->fx.fn, NULL), 0);
  assert_int_equal(ofd_deliver_documents(f->fx.fn, f->client, NULL, NULL, &st), 0);
  assert_int_equal(st.sent, 1);
  assert_int_equal(status_of(f).unsent_documents, 0);
  assert_int_equal(f->peer->bad, 0);
}

/* An FN whose disk fails on the second window's commit: the wrapper
** around the emulator's group commit answers FN_ERR_IO once, applying
** nothing, as the emulator does when its file fails. */
static const fn_backend_t *real_backend;
static int ack_batch_calls;
static int failing_ack_batch(void *self, const fn_bytes_t *acks, size_t count, size_t *applied)
{
  if (++ack_batch_calls == 2) {
    *applied = 0;
    return FN_ERR_IO;
  }
  return real_backend->document_ack_batch(self, acks, count, applied);
}

/* The FN fails while the next window is already on its way: the run stops
** with OFD_ERR_FN, the window in flight is abandoned with the link, what
** the FN committed stays, and a rerun completes, each document stored
** once. */
static void test_fn_fails_mid_run(void **state)
{
  fixture_t *f = *state;
  const uint32_t count = 40;
  fill(f, count, false);
  f->window = 8;
  real_backend = f->fx.fn->backend;
  fn_backend_t failing = *real_backend;
  failing.document_ack_batch = failing_ack_batch;
  fn_t shim = {&failing, f->fx.fn->self};
  ack_batch_calls = 0;
  f->peer = peer_start(FRAME_PROFILE_OFD, f->fx.path);
  f->client = client_for(f, FRAME_PROFILE_OFD, 300);
  ofd_delivery_stats_t st;
  assert_int_equal(ofd_deliver_documents(&shim, f->client, NULL, NULL, &st), OFD_ERR_FN);
  assert_int_equal(st.fn_error, FN_ERR_IO);
  assert_int_equal(st.delivered, 8);
  assert_int_equal(st.stopped_at, 9);
  assert_int_equal(st.remaining, count - 8);
  assert_int_equal(status_of(f).first_unsent_number, 9);
  assert_int_equal(ofd_client_failures(f->client), 0); /* the link was fine */
  assert_int_equal(ofd_deliver_documents(f->fx.fn, f->client, NULL, NULL, &st), 0);
  assert_int_equal(st.delivered, count - 8);
  assert_int_equal(status_of(f).unsent_documents, 0);
  assert_each_stored_once(f->peer, count);
  pthread_mutex_lock(&f->peer->lock);
  bool first_once = true;
  for (uint32_t n = 1; n <= 8; n++) first_once = first_once && f->peer->seen[n] == 1;
  pthread_mutex_unlock(&f->peer->lock);
  assert_true(first_once);
}

/* A window of 1 is the old message-at-a-time delivery and still works. */
static void test_window_of_one(void **state)
{
  fixture_t *f = *state;
  fill(f, 12, false);
  f->window = 1;
  f->peer = peer_start(FRAME_PROFILE_OFD, f->fx.path);
  f->client = client_for(f, FRAME_PROFILE_OFD, 0);
  peer_set_fault(f->peer, FAULT_LATE_COPY, 5);
  ofd_delivery_stats_t st;
  assert_int_equal(ofd_deliver_documents(f->fx.fn, f->client, NULL, NULL, &st), 0);
  assert_int_equal(st.sent, 12);
  assert_int_equal(st.stale, 1);
  assert_int_equal(status_of(f).unsent_documents, 0);
  assert_each_stored_once(f->peer, 12);
  /* A window over the maximum is refused at creation. */
  ofd_client_options_t o;
  ofd_client_t *c = NULL;
  ofd_client_options_init(&o);
  o.host = "127.0.0.1";
  o.port = f->peer->port;
  o.profile = FRAME_PROFILE_OFD;
  o.window = OFD_WINDOW_MAX + 1;
  assert_int_equal(ofd_client_create(&o, &c), OFD_ERR_ARGUMENT);
  assert_null(c);
}

static void test_drip(void **state)
{
  fixture_t *f = *state;
  fill(f, 12, false);
  f->peer = peer_start(FRAME_PROFILE_OFD, f->fx.path);
  f->client = client_for(f, FRAME_PROFILE_OFD, 0);
  peer_set_fault(f->peer, FAULT_DRIP, 5);
  assert_int_equal(ofd_deliver_documents(f->fx.fn, f->client, NULL, NULL, NULL), 0);
  assert_int_equal(status_of(f).unsent_documents, 0);
  assert_each_stored_once(f->peer, 12);
}

static void test_nobody_listening(void **state)
{
  fixture_t *f = *state;
  fill(f, 5, false);
  f->peer = peer_start(FRAME_PROFILE_OFD, f->fx.path);
  ofd_client_options_t o;
  ofd_client_options_init(&o);
  o.host = "127.0.0.1";
  o.port = f->peer->port;
  o.profile = FRAME_PROFILE_OFD;
  peer_stop(f->peer); /* the port is closed now */
  f->peer = NULL;
  assert_int_equal(ofd_client_create(&o, &f->client), 0);
  ofd_delivery_stats_t st;
  assert_int_equal(ofd_deliver_documents(f->fx.fn, f->client, NULL, NULL, &st), OFD_ERR_CONNECT);
  assert_int_equal(st.delivered, 0);
  assert_int_equal(st.remaining, 5);
  assert_int_equal(status_of(f).unsent_documents, 5);
  /* The wrong profile is refused before anything is sent. */
  assert_int_equal(ofd_deliver_notifications(f->fx.fn, f->client, NULL, NULL, NULL),
                   OFD_ERR_ARGUMENT);
}

static void test_notifications(void **state)
{
  fixture_t *f = *state;
  fill(f, 60, false);
  fn_status_t s = status_of(f);
  uint32_t owed = s.unsent_notifications;
  assert_true(owed >= 10);
  f->peer = peer_start(FRAME_PROFILE_OISM, f->fx.path);
  f->client = client_for(f, FRAME_PROFILE_OISM, 300);
  peer_set_fault(f->peer, FAULT_CLOSE_MID, 4);
  ofd_delivery_stats_t st;
  assert_int_equal(ofd_deliver_notifications(f->fx.fn, f->client, NULL, NULL, &st), OFD_ERR_CLOSED);
  assert_int_equal(st.delivered, 3);
  assert_int_equal(status_of(f).unsent_notifications, owed - 3);
  assert_int_equal(ofd_deliver_notifications(f->fx.fn, f->client, NULL, NULL, &st), 0);
  assert_int_equal(st.delivered, owed - 3);
  assert_int_equal(st.rejected, 0);
  s = status_of(f);
  assert_int_equal(s.unsent_notifications, 0);
  assert_int_equal(s.unsent_documents, 60); /* the OISM took no fiscal document */
  pthread_mutex_lock(&f->peer->lock);
  assert_int_equal(f->peer->stored, owed);
  assert_int_equal(f->peer->received, owed + 1);
  assert_int_equal(f->peer->bad, 0);
  pthread_mutex_unlock(&f->peer->lock);
}

/* Tickets answered twice: the copies are stale, every notification is
** ticketed once and the peer applied each once. */
static void test_notifications_duplicated(void **state)
{
  fixture_t *f = *state;
  fill(f, 60, false);
  uint32_t owed = status_of(f).unsent_notifications;
  f->window = 4;
  f->peer = peer_start(FRAME_PROFILE_OISM, f->fx.path);
  f->client = client_for(f, FRAME_PROFILE_OISM, 300);
  peer_set_fault(f->peer, FAULT_DUP_ALL, 1);
  ofd_delivery_stats_t st;
  progress_log_t log = {0, 0, 0, 1};
  assert_int_equal(ofd_deliver_notifications(f->fx.fn, f->client, on_progress, &log, &st), 0);
  assert_int_equal(st.delivered, owed);
  assert_int_equal(st.sent, owed);
  assert_true(st.stale >= owed - 2);
  assert_int_equal(log.calls, owed);
  assert_true(log.monotonic);
  assert_int_equal(status_of(f).unsent_notifications, 0);
  pthread_mutex_lock(&f->peer->lock);
  uint32_t stored = f->peer->stored, received = f->peer->received, bad = f->peer->bad;
  pthread_mutex_unlock(&f->peer->lock);
  assert_int_equal(stored, owed);
  assert_int_equal(received, owed);
  assert_int_equal(bad, 0);
}

/* An FN backend from before windows and group commits (no
** notification_next_after, no batch entries): delivery still completes,
** a window of one at a time, each ticket its own transaction. */
static void test_notifications_old_backend(void **state)
{
  fixture_t *f = *state;
  fill(f, 30, false);
  uint32_t owed = status_of(f).unsent_notifications;
  assert_true(owed >= 5);
  fn_backend_t old = *f->fx.fn->backend;
  old.notification_next_after = NULL;
  old.document_ack_batch = NULL;
  old.notification_ticket_batch = NULL;
  fn_t shim = {&old, f->fx.fn->self};
  f->peer = peer_start(FRAME_PROFILE_OISM, f->fx.path);
  f->client = client_for(f, FRAME_PROFILE_OISM, 300);
  ofd_delivery_stats_t st;
  progress_log_t log = {0, 0, 0, 1};
  assert_int_equal(ofd_deliver_notifications(&shim, f->client, on_progress, &log, &st), 0);
  assert_int_equal(st.delivered, owed);
  assert_int_equal(st.sent, owed);
  assert_int_equal(log.calls, owed);
  assert_true(log.monotonic);
  assert_int_equal(status_of(f).unsent_notifications, 0);
  pthread_mutex_lock(&f->peer->lock);
  uint32_t stored = f->peer->stored, bad = f->peer->bad;
  pthread_mutex_unlock(&f->peer->lock);
  assert_int_equal(stored, owed);
  assert_int_equal(bad, 0);
}

static void test_km_request(void **state)
{
  fixture_t *f = *state;
  fill(f, 3, false);
  f->peer = peer_start(FRAME_PROFILE_OISM, f->fx.path);
  f->client = client_for(f, FRAME_PROFILE_OISM, 0);
  doc_item_t it = marked_item(900001);
  fn_km_check_t check, out;
  assert_int_equal(fn_km_check(f->fx.fn, &it, &check), 0);
  assert_true(check.request_len > 0);
  assert_int_equal(check.check_result & DOC_2106_OISM_CHECKED, 0);
  assert_int_equal(ofd_km_request(f->fx.fn, f->client, &check, 1500, &out), 0);
  assert_int_equal(out.check_result & (DOC_2106_OISM_CHECKED | DOC_2106_OISM_VALID),
                   DOC_2106_OISM_CHECKED | DOC_2106_OISM_VALID);
  assert_int_equal(f->peer->bad, 0);

  /* A silent OISM: the budget bounds the wait, then no waiting at all. */
  peer_set_fault(f->peer, FAULT_SILENT, 1);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  assert_int_equal(ofd_km_request(f->fx.fn, f->client, &check, 200, &out), OFD_ERR_TIMEOUT);
  clock_gettime(CLOCK_MONOTONIC, &b);
  long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
  assert_true(ms >= 150 && ms < 1500);
  /* The backoff base here is 1 ms; use a client with a long one. */
  ofd_client_destroy(f->client);
  ofd_client_options_t o;
  ofd_client_options_init(&o);
  o.host = "127.0.0.1";
  o.port = f->peer->port;
  o.profile = FRAME_PROFILE_OISM;
  o.backoff_base_ms = 60000;
  assert_int_equal(ofd_client_create(&o, &f->client), 0);
  peer_set_fault(f->peer, FAULT_SILENT, 1);
  assert_int_equal(ofd_km_request(f->fx.fn, f->client, &check, 100, &out), OFD_ERR_TIMEOUT);
  clock_gettime(CLOCK_MONOTONIC, &a);
  assert_int_equal(ofd_km_request(f->fx.fn, f->client, &check, 100, &out), OFD_ERR_BACKOFF);
  clock_gettime(CLOCK_MONOTONIC, &b);
  ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
  assert_true(ms < 50);
}

/* ---- backoff with an injected clock and a switchable transport --------- */

typedef struct fake_time {
  uint64_t now;
  uint64_t sleeps[32];
  size_t nsleeps;
  uint32_t random_value;
  int down;
} fake_time_t;

static fake_time_t *fake; /* the transport wrapper has no user pointer */

static uint64_t fake_clock(void *user) { return ((fake_time_t *)user)->now; }
static void fake_sleep(void *user, uint64_t ms)
{
  fake_time_t *t = user;
  if (t->nsleeps < 32) t->sleeps[t->nsleeps++] = ms;
  t->now += ms;
}
static uint32_t fake_random(void *user) { return ((fake_time_t *)user)->random_value; }

static int switch_connect(const char *host, uint16_t port, int timeout_ms, void **conn)
{
  if (fake->down) {
    *conn = NULL;
    return OFD_ERR_CONNECT;
  }
  return ofd_transport_tcp()->connect(host, port, timeout_ms, conn);
}
static int switch_send(void *c, const uint8_t *b, size_t n, int t)
{
  return ofd_transport_tcp()->send(c, b, n, t);
}
static int switch_recv(void *c, uint8_t *b, size_t cap, int t, size_t *got)
{
  return ofd_transport_tcp()->recv(c, b, cap, t, got);
}
static void switch_close(void *c) { ofd_transport_tcp()->close(c); }
static const ofd_transport_t switch_transport = {"switch", switch_connect, switch_send, switch_recv,
                                                 switch_close};

static void test_backoff(void **state)
{
  fixture_t *f = *state;
  fake_time_t t;
  memset(&t, 0, sizeof t);
  t.now = 1000000;
  t.down = 1;
  fake = &t;
  fill(f, 3, false);
  f->peer = peer_start(FRAME_PROFILE_OFD, f->fx.path);
  ofd_client_options_t o;
  ofd_client_options_init(&o);
  o.host = "127.0.0.1";
  o.port = f->peer->port;
  o.profile = FRAME_PROFILE_OFD;
  o.backoff_base_ms = 1000;
  o.backoff_max_ms = 16000;
  o.transport = &switch_transport;
  o.clock = fake_clock;
  o.sleep = fake_sleep;
  o.random = fake_random;
  o.user = &t;
  assert_int_equal(ofd_client_create(&o, &f->client), 0);

  /* random 0: the lowest delay of each window, d/2. */
  for (int i = 0; i < 8; i++)
    assert_int_equal(ofd_deliver_documents(f->fx.fn, f->client, NULL, NULL, NULL), OFD_ERR_CONNECT);
  assert_int_equal(ofd_client_failures(f->client), 8);
  const uint64_t expect[] = {500, 1000, 2000, 4000, 8000, 8000, 8000};
  assert_int_equal(t.nsleeps, 7); /* the first attempt did not wait */
  for (size_t i = 0; i < 7; i++) assert_int_equal(t.sleeps[i], expect[i]);
  assert_int_equal(ofd_client_backoff_ms(f->client), 8000);
  t.now += 3000;
  assert_int_equal(ofd_client_backoff_ms(f->client), 5000);

  /* random at the top: the delay stays within [d/2, d], capped at max. */
  t.random_value = 0xFFFFFFFFu;
  t.nsleeps = 0;
  for (int i = 0; i < 3; i++)
    assert_int_equal(ofd_deliver_documents(f->fx.fn, f->client, NULL, NULL, NULL), OFD_ERR_CONNECT);
  assert_int_equal(t.sleeps[0], 5000); /* the rest of the window above */
  for (size_t i = 1; i < t.nsleeps; i++) {
    assert_true(t.sleeps[i] >= 8000);
    assert_true(t.sleeps[i] <= 16000);
  }
  assert_true(ofd_client_backoff_ms(f->client) <= 16000);

  /* The link comes back: the next run waits its turn once, delivers all,
  ** and a success resets the schedule. */
  t.down = 0;
  t.nsleeps = 0;
  assert_int_equal(ofd_deliver_documents(f->fx.fn, f->client, NULL, NULL, NULL), 0);
  assert_int_equal(t.nsleeps, 1);
  assert_int_equal(ofd_client_failures(f->client), 0);
  assert_int_equal(ofd_client_backoff_ms(f->client), 0);
  assert_int_equal(status_of(f).unsent_documents, 0);
  assert_each_stored_once(f->peer, 3);
  fake = NULL;
}

static void test_keys_update(void **state)
{
  fixture_t *f = *state;
  fill(f, 2, false);
  f->peer = peer_start(FRAME_PROFILE_KEYS, f->fx.path);
  f->client = client_for(f, FRAME_PROFILE_KEYS, 300);
  /* A garbled update: refused, the FN's keys untouched. */
  uint32_t before = status_of(f).keys_updated_at;
  size_t n = 99;
  peer_set_fault(f->peer, FAULT_GARBAGE, 1);
  assert_int_equal(ofd_keys_update(f->fx.fn, f->client, &n), OFD_ERR_PROTOCOL);
  assert_int_equal(n, 0);
  assert_int_equal(status_of(f).keys_updated_at, before);
  /* A real one: loaded, dated as the server says, and usable: a code whose
  ** 91 is the new key's id checks valid. */
  f->fx.now = T0 + 100000;
  assert_int_equal(ofd_keys_update(f->fx.fn, f->client, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(f->peer->bad, 0);
  doc_item_t it = marked_item(777);
  char *k = strstr(it.km, GS "91TH01");
  assert_non_null(k);
  memcpy(k + 3, "TK07", 4);
  fn_km_check_t check;
  assert_int_equal(fn_km_check(f->fx.fn, &it, &check), 0);
  assert_int_equal(check.tail_status, FN_TAIL_VALID);
  /* The wrong profile is refused before anything is sent. */
  assert_int_equal(ofd_km_request(f->fx.fn, f->client, &check, 100, &check), OFD_ERR_ARGUMENT);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_error_names),
      cmocka_unit_test_setup_teardown(test_deliver_200, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_mid_answer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_ack, setup, teardown),
      cmocka_unit_test_setup_teardown(test_other_fn_ack, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stale_ack, setup, teardown),
      cmocka_unit_test_setup_teardown(test_late_copy, setup, teardown),
      cmocka_unit_test_setup_teardown(test_duplicate_answers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_window_of_one, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fn_fails_mid_run, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_type, setup, teardown),
      cmocka_unit_test(test_real_sample_exchange),
      cmocka_unit_test_setup_teardown(test_zero_sign_ack, setup, teardown),
      cmocka_unit_test_setup_teardown(test_other_key_ack, setup, teardown),
      cmocka_unit_test_setup_teardown(test_other_ofd_ack, setup, teardown),
      cmocka_unit_test_setup_teardown(test_silent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_drip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nobody_listening, setup, teardown),
      cmocka_unit_test_setup_teardown(test_notifications, setup, teardown),
      cmocka_unit_test_setup_teardown(test_notifications_duplicated, setup, teardown),
      cmocka_unit_test_setup_teardown(test_notifications_old_backend, setup, teardown),
      cmocka_unit_test_setup_teardown(test_km_request, setup, teardown),
      cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keys_update, setup, teardown),
  };
  return cmocka_run_group_tests(tests, fn_fixture_crypto_setup, fn_fixture_crypto_teardown);
}
