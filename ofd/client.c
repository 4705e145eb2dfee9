/*
** ofd/client.c: connections to the OFD, the OISM and the key server, and
** the delivery loops that empty the FN's queues through them.
**
** How a message travels: ofd_client_exchange() encodes one frame
** (frame_encode, flags as a real FN's: no session CRC, container present,
** response expected; before issue 15 it was CRC mode 2), makes
** sure a connection is open (connecting lazily, after waiting out the
** backoff), sends it, and feeds whatever recv() returns into a
** frame_parser_t until one whole message comes out. Anything else is a
** fault that closes the connection: the peer closing (even in the middle
** of an answer), a timeout, bytes the parser has to skip (garbage, a bad
** CRC: on a request/response link there is no reason to resynchronise and
** hope), or an answer of the wrong container type. An answer's container
** may carry message type 0xA5 or 0x5A (a real OFD's) and, after a
** document, the 10-byte trailer real containers carry: the trailer is cut
** off (frame_document_split) and the FN gets the document alone.
**
** The delivery runs keep a window of messages in flight (client.h says
** why; "delivery: a window" below says how). The link reads ahead: one
** recv() may bring several answers, so the bytes not yet parsed stay in
** the client (in[]) for the next read, and a link left holding bytes
** nobody asked for is dropped before a single exchange uses it.
**
** Why the delivery runs check each answer before the FN sees it: the FN
** acknowledges whatever document a valid doc 7 names. A confused peer that
** acknowledges document 5 while we sent 6 would otherwise make the run
** re-send 6 forever or, worse, mark as delivered a document the OFD never
** stored. So the doc 7 must name this FN (1041) and the next document of
** the window still waiting for its answer (1040): answers come in the
** order sent, so an acknowledgement of a later document in its place means
** the peer is out of step, not early (it cannot have stored that one
** first). The ticket (84) must name the next notification waiting (2002);
** the answer (83) the request just sent (2001). Only then is it handed to
** the FN, and the FN's own checks come on top.
**
** Decisions the contract leaves open:
**  - The container header's 8-byte FN field is the 16-digit FN number in
**    packed BCD (two digits a byte), the session header carries it in
**    ASCII.
**  - A refused document (1022 != 0) stops the run: the OFD said no to the
**    lowest-numbered document still owed, and the next ones would wait
**    behind it on the OFD's side anyway (the rest of its window is left
**    unacknowledged even when the OFD took it; it is sent again later,
**    harmlessly). It is not a network failure and starts no backoff.
**  - A late copy of an answer already taken is stale, not wrong: ignored,
**    at most twice the window plus 3 times per window (a peer that
**    repeats every answer stays under that; one that only ever answers
**    the past does not).
**  - A bad ticket (2111 != 0) clears the notification in the FN (fn.h) and
**    the run goes on; it is counted for the manager to see.
*/
#include "common/errtab.h"
#include "ofd/client.h"
#include "ofd/keys.h"
#include "ofd/transport_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* Late copies of answers a delivery window tolerates: two per message it
** holds, plus this many (see flow_read). */
#define STALE_ANSWER_SLACK 3

/* ---- errors ------------------------------------------------------------ */

static const errtab_t err_texts[] = {
    {OFD_OK, "ok", "Готово.", "Done."},
    {OFD_ERR_ARGUMENT, "argument", "Внутренняя ошибка: неверный параметр.",
     "Internal error: a bad parameter."},
    {OFD_ERR_NO_MEMORY, "no_memory", "Не хватает памяти.", "Out of memory."},
    {OFD_ERR_RESOLVE, "resolve",
     "Адрес оператора не найден (DNS). Проверьте настройки сети; документы остаются в ФН.",
     "The operator's address does not resolve (DNS). Check the network settings; the documents "
     "stay in the FN."},
    {OFD_ERR_CONNECT, "connect",
     "Нет связи с оператором: соединение не установлено. Документы остаются в ФН и будут "
     "отправлены позже.",
     "Cannot reach the operator: the connection was refused. The documents stay in the FN and "
     "will be sent later."},
    {OFD_ERR_TIMEOUT, "timeout",
     "Оператор не ответил вовремя. Документы остаются в ФН и будут отправлены позже.",
     "The operator did not answer in time. The documents stay in the FN and will be sent later."},
    {OFD_ERR_CLOSED, "closed",
     "Оператор разорвал соединение, не ответив. Документ остаётся в ФН и будет отправлен снова.",
     "The operator closed the connection without answering. The document stays in the FN and "
     "will be sent again."},
    {OFD_ERR_IO, "io", "Ошибка сети при обмене с оператором. Документы остаются в ФН.",
     "A network error while talking to the operator. The documents stay in the FN."},
    {OFD_ERR_PROTOCOL, "protocol",
     "Оператор ответил не по протоколу (повреждённый или чужой ответ). Документ остаётся в ФН; "
     "если повторится, обратитесь в ОФД.",
     "The operator's answer is not valid (damaged or about something else). The document stays "
     "in the FN; if this repeats, contact the OFD."},
    {OFD_ERR_REFUSED, "refused",
     "Оператор отказался принять документ (код ответа 1022). Документ остаётся в ФН; обратитесь "
     "в ОФД.",
     "The operator refused the document (answer code 1022). The document stays in the FN; contact "
     "the OFD."},
    {OFD_ERR_FN, "fn", "Фискальный накопитель не принял ответ оператора. Документ остаётся в ФН.",
     "The fiscal storage did not accept the operator's answer. The document stays in the FN."},
    {OFD_ERR_BACKOFF, "backoff", "Связь с оператором недавно пропала; следующая попытка позже.",
     "The link to the operator failed recently; the next attempt is later."},
    {OFD_ERR_TLS, "tls",
     "Защищённое соединение (TLS) с оператором не установлено: сертификат сервера не прошёл "
     "проверку или выдан не для этого адреса. Проверьте [ofd] ca_file и адрес; документы "
     "остаются в ФН.",
     "No secure (TLS) session with the operator: the server's certificate did not verify or is "
     "not for this address. Check [ofd] ca_file and the address; the documents stay in the FN."},
    ERRTAB_END("Неизвестная ошибка связи с оператором.", "Unknown operator link error."),
};

const char *ofd_err_name(int err) { return errtab_name(err_texts, err); }

const char *ofd_err_message(int err, bool russian)
{
  return errtab_message(err_texts, err, russian);
}

/* ---- time -------------------------------------------------------------- */

uint64_t ofd_monotonic_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t default_clock(void *user)
{
  (void)user;
  return ofd_monotonic_ms();
}

static void default_sleep(void *user, uint64_t ms)
{
  (void)user;
  struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* ---- TCP backend ------------------------------------------------------- */

typedef struct tcp_conn {
  int fd;
} tcp_conn_t;

int ofd_wait_fd(int fd, short events, int timeout_ms)
{
  struct pollfd p = {.fd = fd, .events = events, .revents = 0};
  for (;;) {
    int n = poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms);
    if (n > 0) return 0;
    if (n == 0) return OFD_ERR_TIMEOUT;
    if (errno != EINTR) return OFD_ERR_IO;
  }
}

int ofd_tcp_open(const char *host, uint16_t port, int timeout_ms, int *out)
{
  struct addrinfo hints, *list = NULL;
  char service[8];
  int rc = OFD_ERR_CONNECT, fd = -1;
  *out = -1;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  snprintf(service, sizeof service, "%u", (unsigned)port);
  if (getaddrinfo(host, service, &hints, &list) != 0 || !list) {
    rc = OFD_ERR_RESOLVE;
    goto fail;
  }
  uint64_t deadline = ofd_monotonic_ms() + (uint64_t)timeout_ms;
  for (struct addrinfo *a = list; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    if (errno == EINPROGRESS) {
      uint64_t now = ofd_monotonic_ms();
      int left = now < deadline ? (int)(deadline - now) : 0;
      int w = ofd_wait_fd(fd, POLLOUT, left);
      int soerr = 0;
      socklen_t sl = sizeof soerr;
      if (w == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) break;
      rc = w == OFD_ERR_TIMEOUT ? OFD_ERR_TIMEOUT : OFD_ERR_CONNECT;
    }
    close(fd);
    fd = -1;
  }
  if (fd < 0) goto fail;
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  freeaddrinfo(list);
  *out = fd;
  return 0;
fail:
  if (list) freeaddrinfo(list);
  return rc;
}

static int tcp_connect(const char *host, uint16_t port, int timeout_ms, void **conn)
{
  tcp_conn_t *t = NULL;
  int fd = -1, rc = ofd_tcp_open(host, port, timeout_ms, &fd);
  *conn = NULL;
  if (rc != 0) return rc;
  if (!(t = malloc(sizeof *t))) {
    close(fd);
    return OFD_ERR_NO_MEMORY;
  }
  t->fd = fd;
  *conn = t;
  return 0;
}

static int tcp_send(void *conn, const uint8_t *buf, size_t len, int timeout_ms)
{
  tcp_conn_t *t = conn;
  uint64_t deadline = ofd_monotonic_ms() + (uint64_t)timeout_ms;
  size_t off = 0;
  while (off < len) {
    ssize_t n = send(t->fd, buf + off, len - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      uint64_t now = ofd_monotonic_ms();
      if (now >= deadline) return OFD_ERR_TIMEOUT;
      int rc = ofd_wait_fd(t->fd, POLLOUT, (int)(deadline - now));
      if (rc != 0) return rc;
      continue;
    }
    return (n < 0 && (errno == EPIPE || errno == ECONNRESET)) ? OFD_ERR_CLOSED : OFD_ERR_IO;
  }
  return 0;
}

static int tcp_recv(void *conn, uint8_t *buf, size_t cap, int timeout_ms, size_t *got)
{
  tcp_conn_t *t = conn;
  uint64_t deadline = ofd_monotonic_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
  *got = 0;
  for (;;) {
    uint64_t now = ofd_monotonic_ms();
    int rc = ofd_wait_fd(t->fd, POLLIN, now < deadline ? (int)(deadline - now) : 0);
    if (rc != 0) return rc;
    ssize_t n = recv(t->fd, buf, cap, 0);
    if (n >= 0) {
      *got = (size_t)n;
      return 0;
    }
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    return errno == ECONNRESET ? OFD_ERR_CLOSED : OFD_ERR_IO;
  }
}

static void tcp_close(void *conn)
{
  tcp_conn_t *t = conn;
  if (!t) return;
  close(t->fd);
  free(t);
}

static const ofd_transport_t tcp_transport = {"tcp", tcp_connect, tcp_send, tcp_recv, tcp_close};

const ofd_transport_t *ofd_transport_tcp(void) { return &tcp_transport; }

/* ---- the client -------------------------------------------------------- */

struct ofd_client {
  char *host;
  uint16_t port;
  frame_profile_t profile;
  int connect_timeout_ms, answer_timeout_ms;
  uint32_t backoff_base_ms, backoff_max_ms;
  const ofd_transport_t *transport;
  void *transport_context;
  ofd_clock_ms_t clock;
  ofd_sleep_ms_t sleep;
  ofd_random_t random;
  void *user;
  uint64_t rng; /* xorshift state when no random source is given */
  void *conn;   /* NULL: not connected */
  uint32_t failures;
  uint64_t next_attempt; /* on the injected clock; valid when failures > 0 */
  uint32_t window;       /* messages in flight in a delivery run (options.window) */
  frame_parser_t parser;
  /* Bytes read and not yet fed to the parser: a recv() may bring several
  ** answers of a window at once. */
  size_t in_off, in_len;
  uint8_t in[16384];
  uint8_t out[FRAME_MESSAGE_MAX];
};

void ofd_client_options_init(ofd_client_options_t *o)
{
  if (o) memset(o, 0, sizeof *o);
}

void ofd_client_options_use_tls(ofd_client_options_t *o, ofd_tls_t *tls)
{
  if (!o) return;
  o->transport = tls ? ofd_transport_tls() : NULL;
  o->transport_context = tls;
}

int ofd_client_create(const ofd_client_options_t *o, ofd_client_t **out)
{
  ofd_client_t *c = NULL;
  int rc = OFD_ERR_ARGUMENT;
  if (out) *out = NULL;
  if (!o || !out || !o->host || !o->host[0] || o->port == 0 || !frame_profile_info(o->profile) ||
      o->connect_timeout_ms < 0 || o->answer_timeout_ms < 0 || o->window > OFD_WINDOW_MAX)
    goto fail;
  if (o->transport && (!o->transport->connect || !o->transport->send || !o->transport->recv ||
                       !o->transport->close))
    goto fail;
  c = calloc(1, sizeof *c);
  if (!c || !(c->host = strdup(o->host))) {
    rc = OFD_ERR_NO_MEMORY;
    goto fail;
  }
  c->port = o->port;
  c->profile = o->profile;
  c->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : OFD_CONNECT_TIMEOUT_MS;
  c->answer_timeout_ms = o->answer_timeout_ms ? o->answer_timeout_ms : OFD_ANSWER_TIMEOUT_MS;
  c->backoff_base_ms = o->backoff_base_ms ? o->backoff_base_ms : OFD_BACKOFF_BASE_MS;
  c->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : OFD_BACKOFF_MAX_MS;
  if (c->backoff_max_ms < c->backoff_base_ms) c->backoff_max_ms = c->backoff_base_ms;
  c->window = o->window ? o->window : OFD_WINDOW_DEFAULT;
  c->transport = o->transport ? o->transport : ofd_transport_tcp();
  c->transport_context = o->transport_context;
  c->clock = o->clock ? o->clock : default_clock;
  c->sleep = o->sleep ? o->sleep : default_sleep;
  c->random = o->random;
  c->user = o->user;
  c->rng = ofd_monotonic_ms() ^ ((uint64_t)(uintptr_t)c << 16) ^ 0x9E3779B97F4A7C15ull;
  if (!c->rng) c->rng = 1;
  frame_parser_init(&c->parser);
  *out = c;
  return 0;
fail:
  if (c) free(c->host);
  free(c);
  return rc;
}

void ofd_client_disconnect(ofd_client_t *c)
{
  if (!c || !c->conn) return;
  c->transport->close(c->conn);
  c->conn = NULL;
  frame_parser_init(&c->parser);
  c->in_off = c->in_len = 0;
}

void ofd_client_destroy(ofd_client_t *c)
{
  if (!c) return;
  ofd_client_disconnect(c);
  free(c->host);
  free(c);
}

uint32_t ofd_client_failures(const ofd_client_t *c) { return c ? c->failures : 0; }

uint64_t ofd_client_backoff_ms(const ofd_client_t *c)
{
  if (!c || c->failures == 0) return 0;
  uint64_t now = c->clock(c->user);
  return now < c->next_attempt ? c->next_attempt - now : 0;
}

static uint32_t next_random(ofd_client_t *c)
{
  if (c->random) return c->random(c->user);
  c->rng ^= c->rng << 13;
  c->rng ^= c->rng >> 7;
  c->rng ^= c->rng << 17;
  return (uint32_t)(c->rng >> 32);
}

/* A fault: drop the connection and schedule the next attempt. */
static int fail_link(ofd_client_t *c, int rc)
{
  ofd_client_disconnect(c);
  if (c->failures < UINT32_MAX) c->failures++;
  uint64_t d = c->backoff_base_ms;
  for (uint32_t k = 1; k < c->failures && d < c->backoff_max_ms; k++) d *= 2;
  if (d > c->backoff_max_ms) d = c->backoff_max_ms;
  uint64_t half = d / 2;
  uint64_t delay = half + (uint64_t)next_random(c) % (d - half + 1);
  c->next_attempt = c->clock(c->user) + delay;
  return rc;
}

/* Milliseconds left before deadline (real clock), at least 0. */
static int left_ms(uint64_t deadline)
{
  uint64_t now = ofd_monotonic_ms();
  if (now >= deadline) return 0;
  uint64_t d = deadline - now;
  return d > INT32_MAX ? INT32_MAX : (int)d;
}

/* One BCD nibble: a digit, or F for anything else (a real FN writes its
** 15-digit number "999907891234567 " as ... 56 7F). */
static unsigned bcd_nibble(char ch)
{
  return ch >= '0' && ch <= '9' ? (unsigned)(ch - '0') : 0x0Fu;
}

static void container_fn_bcd(const char fn_number[16], uint8_t out[FRAME_CONTAINER_FN_SIZE])
{
  for (size_t i = 0; i < FRAME_CONTAINER_FN_SIZE; i++)
    out[i] = (uint8_t)(bcd_nibble(fn_number[2 * i]) << 4 | bcd_nibble(fn_number[2 * i + 1]));
}

/* One message as a frame at out[0..*len), flagged as a real FN flags it
** (0x0014: no session CRC, container, response expected; frame.c says
** why); OFD_ERR_ARGUMENT when it cannot be one (a body too large). */
static int frame_make(const ofd_client_t *c, const char fn_number[16], uint8_t document_type,
                      uint32_t document_number, const uint8_t *body, size_t body_len, uint8_t *out,
                      size_t cap, size_t *len)
{
  frame_message_t msg;
  memset(&msg, 0, sizeof msg);
  msg.profile = c->profile;
  memcpy(msg.fn_number, fn_number, FRAME_FN_NUMBER_SIZE);
  msg.flags = FRAME_CRC_NONE | FRAME_FLAG_RESPONSE_EXPECTED;
  msg.has_container = 1;
  msg.document_type = document_type;
  container_fn_bcd(fn_number, msg.container_fn);
  msg.document_number = document_number;
  msg.body = body;
  msg.body_len = body_len;
  return frame_encode(&msg, out, cap, len) == 0 ? 0 : OFD_ERR_ARGUMENT;
}

/*
** The link made ready for a message: the backoff waited out (or, on a
** budget, OFD_ERR_BACKOFF at once), a connection opened when there is none
** (a failure is a fault: counted, its ofd_err_t returned).
*/
static int link_ready(ofd_client_t *c, int budget_ms)
{
  uint64_t wait = ofd_client_backoff_ms(c);
  if (wait > 0) {
    if (budget_ms > 0) return OFD_ERR_BACKOFF;
    c->sleep(c->user, wait);
  }
  if (c->conn) return 0;
  int ct = c->connect_timeout_ms;
  if (budget_ms > 0 && budget_ms < ct) ct = budget_ms;
  c->conn = c->transport_context; /* the backend's state, replaced by the connection */
  int rc = c->transport->connect(c->host, c->port, ct, &c->conn);
  if (rc != 0) {
    c->conn = NULL;
    return fail_link(c, rc);
  }
  frame_parser_init(&c->parser);
  c->in_off = c->in_len = 0;
  return 0;
}

/* What an answer's headers named: the session header's FN number and the
** container header's document number (a real OFD's acknowledgement names
** them only there). */
typedef struct answer_origin {
  char fn_number[FRAME_FN_NUMBER_SIZE + 1];
  uint32_t document_number;
} answer_origin_t;

/*
** The next whole message on the link, which must be a container of
** answer_type: its body is copied to answer[0..cap) and its length stored
** in *answer_len, what its headers named in *origin (may be NULL). The parser must never skip a
*byte: on a request/response
** link garbage means the peer is broken. Faults close the link and count
** (OFD_ERR_TIMEOUT at deadline, _CLOSED, _IO, _PROTOCOL); an answer over
** cap drops the link without counting (OFD_ERR_ARGUMENT). A good message
** resets the backoff: the peer is there and speaks the protocol.
*/
static int link_read(ofd_client_t *c, uint64_t deadline, uint8_t answer_type, uint8_t *answer,
                     size_t cap, size_t *answer_len, answer_origin_t *origin)
{
  *answer_len = 0;
  for (;;) {
    while (c->in_off < c->in_len) {
      size_t used = 0;
      frame_message_t in;
      int rc = frame_parser_feed(&c->parser, c->in + c->in_off, c->in_len - c->in_off, &used, &in);
      c->in_off += used;
      if (frame_parser_skipped(&c->parser) > 0) return fail_link(c, OFD_ERR_PROTOCOL);
      if (rc == FRAME_AGAIN) break;
      if (rc != 0) return fail_link(c, OFD_ERR_PROTOCOL);
      if (in.profile != c->profile || !in.has_container || in.document_type != answer_type)
        return fail_link(c, OFD_ERR_PROTOCOL);
      /* A document answer may carry the real trailer (frame.c); the FN
      ** gets the document. The key server's list is not one document. */
      size_t doc_len = in.body_len, trailer_len = 0;
      if (c->profile != FRAME_PROFILE_KEYS &&
          frame_document_split(in.body, in.body_len, &doc_len, &trailer_len) != 0)
        return fail_link(c, OFD_ERR_PROTOCOL);
      if (doc_len > cap) {
        ofd_client_disconnect(c);
        return OFD_ERR_ARGUMENT;
      }
      memcpy(answer, in.body, doc_len);
      *answer_len = doc_len;
      if (origin) {
        /* The session header's FN number, as written (space-padded). */
        size_t n = FRAME_FN_NUMBER_SIZE;
        while (n > 0 && (in.fn_number[n - 1] == ' ' || in.fn_number[n - 1] == '\0')) n--;
        memcpy(origin->fn_number, in.fn_number, n);
        origin->fn_number[n] = '\0';
        origin->document_number = in.document_number;
      }
      c->failures = 0;
      return 0;
    }
    c->in_off = c->in_len = 0;
    size_t got = 0;
    int t = left_ms(deadline);
    if (t == 0) return fail_link(c, OFD_ERR_TIMEOUT);
    int rc = c->transport->recv(c->conn, c->in, sizeof c->in, t, &got);
    if (rc != 0) return fail_link(c, rc);
    if (got == 0) return fail_link(c, OFD_ERR_CLOSED);
    c->in_len = got;
  }
}

/* True when bytes already read are not yet a whole answer taken. */
static bool link_holds_bytes(const ofd_client_t *c)
{
  return c->in_off < c->in_len || frame_parser_pending(&c->parser) > 0;
}

/* True when the link holds bytes nobody asked for (a late copy of an
** answer): they must not become the answer of a later exchange. Reading
** what the socket has now, without waiting, is enough to know. */
static bool link_unsettled(ofd_client_t *c)
{
  if (!c->conn) return false;
  if (link_holds_bytes(c)) return true;
  size_t got = 0;
  int rc = c->transport->recv(c->conn, c->in, sizeof c->in, 0, &got);
  c->in_off = 0;
  c->in_len = rc == 0 ? got : 0;
  return rc != OFD_ERR_TIMEOUT; /* bytes, a close or an error */
}

int ofd_client_exchange(ofd_client_t *c, const char fn_number[16], uint8_t document_type,
                        uint32_t document_number, const uint8_t *body, size_t body_len,
                        uint8_t answer_type, uint8_t *answer, size_t cap, size_t *answer_len,
                        int budget_ms)
{
  size_t len = 0;
  int rc;
  if (answer_len) *answer_len = 0;
  if (!c || !fn_number || (!body && body_len) || !answer || !answer_len || budget_ms < 0 ||
      body_len > FRAME_BODY_MAX || document_number > FRAME_DOCUMENT_NUMBER_MAX)
    return OFD_ERR_ARGUMENT;
  if ((rc = frame_make(c, fn_number, document_type, document_number, body, body_len, c->out,
                       sizeof c->out, &len)) != 0)
    return rc;

  /* Bytes left over from before (a late copy of an answer) would be
  ** taken for this message's answer: not on this link. */
  if (c->conn && link_holds_bytes(c)) ofd_client_disconnect(c);
  uint64_t start = ofd_monotonic_ms(); /* on a budget, link_ready never sleeps */
  if ((rc = link_ready(c, budget_ms)) != 0) return rc;
  uint64_t deadline = budget_ms > 0 ? start + (uint64_t)budget_ms
                                    : ofd_monotonic_ms() + (uint64_t)c->answer_timeout_ms;
  rc = c->transport->send(c->conn, c->out, len, left_ms(deadline));
  if (rc != 0) return fail_link(c, rc);
  if ((rc = link_read(c, deadline, answer_type, answer, cap, answer_len, NULL)) != 0) return rc;
  /* One answer per message: more bytes mean the peer is out of step. */
  if (link_holds_bytes(c)) ofd_client_disconnect(c);
  return 0;
}

/* ---- delivery: a window of messages in flight ------------------------- */

/*
** Both queues are emptied the same way (see client.h for why a window):
**   1. fill: the lowest owed items from the FN, up to the window's size,
**      each framed into one buffer;
**   2. send the buffer (one write: the peer reads the window at once and
**      commits it as one group);
**   3. read answers until every item has one, in the order sent. An
**      answer about an item already answered or one before the window is
**      a late copy (stale): ignored, a bounded number of times. An answer
**      about an item further on than the next one, about something never
**      sent, of the wrong type, or not an answer at all is a fault;
**   4. hand the answered items' answers to the FN in one group commit
**      (fn_document_ack_batch / fn_notification_ticket_batch), then tell
**      the progress callback about each, in order.
** A fault in 2 or 3 still does 4 for what was answered before it: those
** documents are the operator's, and acknowledging them is what keeps a
** rerun from sending them again.
**
** Two windows take turns: when a window's answers are all in, the next
** one (the owed items after it) is filled and sent before the FN commits
** the first, so the operator's commit of one window and the FN's commit
** of the other run at the same time. Only a window answered in full lets
** the next one go; when the FN then refuses or fails, the window already
** sent is abandoned with the link (its items are owed still, and sent
** again later, harmlessly).
*/
typedef enum flow_kind { FLOW_DOCUMENTS, FLOW_NOTIFICATIONS } flow_kind_t;

typedef struct slot {
  uint32_t number;        /* 1040 or 2002 of what was sent */
  bool bad;               /* a ticket with 2111 != 0 */
  answer_origin_t origin; /* what its answer's headers named */
  size_t answer_len;      /* its answer, once it came */
  uint8_t answer[DOC_MAX_DOCUMENT];
} slot_t;

typedef struct window {
  size_t count; /* items in it */
  slot_t *slots;
  size_t wire_len; /* their frames, back to back */
  uint8_t *wire;
} window_t;

typedef struct flow {
  flow_kind_t kind;
  fn_t *fn;
  ofd_client_t *c;
  ofd_delivery_stats_t *stats;
  ofd_progress_t progress;
  void *user;
  char fn_number[17];
  uint32_t last_done; /* the highest number the FN has taken an answer for */
  window_t win[2];
  size_t wire_cap;
  fn_bytes_t *answers;
  fn_document_t *doc;
  fn_notification_t *note;
} flow_t;

/* The FN failed or answered something that would make the run loop. */
static int flow_fn_error(flow_t *f, int fn_rc)
{
  f->stats->fn_error = fn_rc;
  return OFD_ERR_FN;
}

/* One item into the window: its frame appended to the window's wire. */
static int flow_add(flow_t *f, window_t *w, uint8_t type, uint32_t number, const uint8_t *body,
                    size_t len)
{
  size_t n = 0;
  int rc = frame_make(f->c, f->fn_number, type, number, body, len, w->wire + w->wire_len,
                      f->wire_cap - w->wire_len, &n);
  if (rc != 0) return rc;
  w->wire_len += n;
  w->slots[w->count].number = number;
  w->slots[w->count].bad = false;
  w->slots[w->count].answer_len = 0;
  w->count++;
  return 0;
}

/*
** Fills w with what is owed: after 0, from the FN's lowest owed item;
** otherwise the owed items numbered after `after` (the window in flight's
** last). w->count 0 when there is none. An item the FN or the frame cannot
** carry ends the window before it: a later window starts with it, and the
** run stops there.
*/
static int flow_fill(flow_t *f, window_t *w, uint32_t after)
{
  const uint32_t window = f->c->window;
  int rc;
  w->count = 0;
  w->wire_len = 0;
  if (f->kind == FLOW_DOCUMENTS) {
    fn_document_t *d = f->doc;
    if (after == 0) {
      if ((rc = fn_document_next_unsent(f->fn, d)) == FN_ERR_NO_DATA) return 0;
      if (rc != 0) return flow_fn_error(f, rc);
      /* The FN hands back a document it has just acknowledged: it would loop. */
      if (d->number <= f->last_done || d->type > 0xFF) return flow_fn_error(f, FN_ERR_FAILURE);
      if ((rc = flow_add(f, w, (uint8_t)d->type, d->number, d->data, d->len)) != 0) return rc;
      after = d->number;
    }
    /* The following numbers, skipping any the OFD has already or never
    ** gets; the scan is bounded so a long acknowledged stretch ends it. */
    for (uint32_t n = after + 1; w->count < window && n - after <= 4u * window; n++) {
      if ((rc = fn_document_get(f->fn, n, d)) == FN_ERR_NO_DATA) break;
      if (rc != 0) {
        w->count = 0;
        return flow_fn_error(f, rc);
      }
      if (d->acknowledged || !d->queued) continue;
      if (d->type > 0xFF || flow_add(f, w, (uint8_t)d->type, d->number, d->data, d->len) != 0)
        break;
    }
    return 0;
  }
  fn_notification_t *n = f->note;
  if (after == 0) {
    if ((rc = fn_notification_next(f->fn, n)) == FN_ERR_NO_DATA) return 0;
    if (rc != 0) return flow_fn_error(f, rc);
    if (n->number <= f->last_done) return flow_fn_error(f, FN_ERR_FAILURE);
    if ((rc = flow_add(f, w, DOC_KM_NOTIFICATION, n->number, n->data, n->len)) != 0) return rc;
    after = n->number;
  }
  while (w->count < window) {
    /* A backend without next_after (FN_ERR_UNKNOWN_COMMAND) gets windows
    ** of one, each found by fn_notification_next. */
    rc = fn_notification_next_after(f->fn, after, n);
    if (rc == FN_ERR_NO_DATA || rc == FN_ERR_UNKNOWN_COMMAND) break;
    if (rc != 0) {
      w->count = 0;
      return flow_fn_error(f, rc);
    }
    if (flow_add(f, w, DOC_KM_NOTIFICATION, n->number, n->data, n->len) != 0) break;
    after = n->number;
  }
  return 0;
}

/* Step 2: the window's frames in one write (connecting first when needed). */
static int flow_send(flow_t *f, const window_t *w)
{
  int rc = link_ready(f->c, 0);
  if (rc != 0) return rc;
  rc = f->c->transport->send(f->c->conn, w->wire, w->wire_len, f->c->answer_timeout_ms);
  return rc ? fail_link(f->c, rc) : 0;
}

/* What an answer says: the number it is about, and for an acknowledgement
** its 1022. -1 when it is not an answer of this flow's kind for this FN. */
static int flow_parse(const flow_t *f, const uint8_t *answer, size_t len,
                      const answer_origin_t *origin, uint32_t *number, uint8_t *code)
{
  if (f->kind == FLOW_DOCUMENTS) {
    doc_ack_t ack;
    if (doc_parse_ack(answer, len, &ack) != 0) return -1;
    /* A real OFD names the FN and the document in the headers only. */
    const char *fn = ack.fn_number[0] ? ack.fn_number : origin->fn_number;
    if (strcmp(fn, f->fn_number) != 0) return -1;
    *number = ack.document_number ? ack.document_number : origin->document_number;
    *code = ack.answer_code;
    return 0;
  }
  doc_km_ticket_t t;
  if (doc_parse_km_ticket(answer, len, &t) != 0) return -1;
  /* A ticket names no FN: the header does, and must name ours (a header
  ** damaged on the way is answered as an unknown FN's, result 1, which
  ** the FN would take as the end of one of ours). */
  if (origin->fn_number[0] && strcmp(origin->fn_number, f->fn_number) != 0) return -1;
  *number = t.notification_number;
  *code = t.result;
  return 0;
}

/*
** Step 3: answers until each item of w has one. *answered is how many
** items (a prefix, in the order sent) got theirs; on OFD_ERR_REFUSED the
** last of them is the refused document.
*/
static int flow_read(flow_t *f, window_t *w, size_t *answered)
{
  ofd_client_t *c = f->c;
  uint8_t answer_type = f->kind == FLOW_DOCUMENTS ? DOC_OPERATOR_ACK : DOC_KM_TICKET;
  /* A peer may repeat every answer once (and the window before's last);
  ** more than that is a peer that answers the past only. */
  size_t stale = 0, stale_max = 2 * w->count + STALE_ANSWER_SLACK;
  size_t next = 0;
  int rc = 0;
  while (next < w->count) {
    slot_t *s = &w->slots[next];
    uint32_t number = 0;
    uint8_t code = 0;
    /* Each answer gets the whole answer timeout: a window is not one message. */
    uint64_t deadline = ofd_monotonic_ms() + (uint64_t)c->answer_timeout_ms;
    if ((rc = link_read(c, deadline, answer_type, s->answer, sizeof s->answer, &s->answer_len,
                        &s->origin)) != 0)
      break;
    if (flow_parse(f, s->answer, s->answer_len, &s->origin, &number, &code) != 0) {
      rc = fail_link(c, OFD_ERR_PROTOCOL); /* well framed but not an answer for this FN */
      break;
    }
    if (number < s->number) {
      /* A late copy of an answer already taken (this window's or an
      ** earlier one's): stale, not wrong. */
      s->answer_len = 0;
      f->stats->stale++;
      if (++stale > stale_max) {
        rc = fail_link(c, OFD_ERR_PROTOCOL);
        break;
      }
      continue;
    }
    if (number != s->number) {
      /* About an item sent later (its answer cannot come before this
      ** one's) or never sent: the peer is out of step. */
      s->answer_len = 0;
      rc = fail_link(c, OFD_ERR_PROTOCOL);
      break;
    }
    next++;
    if (f->kind == FLOW_NOTIFICATIONS) {
      s->bad = code != 0;
    } else if (code != 0) {
      /* The OFD refused this document: the run stops here. The answers
      ** still in flight go with the link; a refusal is not a link fault. */
      f->stats->answer_code = code;
      ofd_client_disconnect(c);
      rc = OFD_ERR_REFUSED;
      break;
    }
  }
  *answered = next;
  return rc;
}

/* Step 4 for the first `count` items of w. */
static int flow_apply(flow_t *f, const window_t *w, size_t count)
{
  size_t applied = 0;
  int rc = 0;
  for (size_t i = 0; i < count; i++)
    f->answers[i] = (fn_bytes_t){.data = w->slots[i].answer,
                                 .len = w->slots[i].answer_len,
                                 .fn_number = w->slots[i].origin.fn_number,
                                 .document_number = w->slots[i].origin.document_number};
  if (count > 0)
    rc = f->kind == FLOW_DOCUMENTS
             ? fn_document_ack_batch(f->fn, f->answers, count, &applied)
             : fn_notification_ticket_batch(f->fn, f->answers, count, &applied);
  for (size_t i = 0; i < applied; i++) {
    ofd_delivery_stats_t *st = f->stats;
    f->last_done = w->slots[i].number;
    if (w->slots[i].bad) st->rejected++;
    st->delivered++;
    if (st->delivered > st->total) st->total = st->delivered;
    if (f->progress) f->progress(f->user, st->delivered, st->total, w->slots[i].number);
  }
  if (rc != 0) {
    f->stats->stopped_at = w->slots[applied].number;
    return flow_fn_error(f, rc);
  }
  return 0;
}

/* The windows taking turns (the comment above); 0 when nothing is owed. */
static int flow_loop(flow_t *f)
{
  window_t *w = &f->win[0], *next = &f->win[1];
  int rc;
  if ((rc = flow_fill(f, w, 0)) != 0 || w->count == 0) return rc;
  f->stats->stopped_at = w->slots[0].number;
  if ((rc = flow_send(f, w)) != 0) return rc;
  for (;;) {
    size_t answered = 0;
    int read_rc = flow_read(f, w, &answered), fill_rc = 0, send_rc = 0;
    f->stats->sent += (uint32_t)answered;
    next->count = 0;
    if (read_rc == 0) {
      fill_rc = flow_fill(f, next, w->slots[w->count - 1].number);
      if (fill_rc == 0 && next->count > 0) send_rc = flow_send(f, next);
    }
    /* A refused document is answered but not applied. */
    size_t usable = read_rc == OFD_ERR_REFUSED ? answered - 1 : answered;
    if ((rc = flow_apply(f, w, usable)) != 0) {
      if (next->count > 0 && send_rc == 0) ofd_client_disconnect(f->c); /* abandon it */
      return rc;
    }
    if (read_rc != 0) {
      f->stats->stopped_at = w->slots[usable].number;
      return read_rc;
    }
    if (fill_rc != 0) return fill_rc;
    if (next->count > 0) f->stats->stopped_at = next->slots[0].number;
    if (send_rc != 0) return send_rc;
    if (next->count == 0) {
      /* Nothing after this window: ask the FN from the start (a document
      ** made meanwhile, one that ended a window). */
      if ((rc = flow_fill(f, next, 0)) != 0 || next->count == 0) return rc;
      f->stats->stopped_at = next->slots[0].number;
      if ((rc = flow_send(f, next)) != 0) return rc;
    }
    window_t *done = w;
    w = next;
    next = done;
  }
}

static int flow_run(flow_kind_t kind, fn_t *fn, ofd_client_t *client, ofd_progress_t progress,
                    void *user, ofd_delivery_stats_t *stats)
{
  ofd_delivery_stats_t local;
  fn_status_t st;
  flow_t f;
  int rc;
  frame_profile_t profile = kind == FLOW_DOCUMENTS ? FRAME_PROFILE_OFD : FRAME_PROFILE_OISM;
  if (!stats) stats = &local;
  memset(stats, 0, sizeof *stats);
  if (!fn || !client || client->profile != profile) return OFD_ERR_ARGUMENT;
  /* A cash register that delivers its own documents and notifications
  ** (fn.h, FN_CAP_DEVICE_DELIVERS): kassa owes nothing and sends nothing. */
  if (fn_capabilities(fn) & FN_CAP_DEVICE_DELIVERS) return 0;
  if ((rc = fn_status(fn, &st)) != 0) {
    stats->fn_error = rc;
    return OFD_ERR_FN;
  }
  stats->total = kind == FLOW_DOCUMENTS ? st.unsent_documents : st.unsent_notifications;
  memset(&f, 0, sizeof f);
  f.kind = kind;
  f.fn = fn;
  f.c = client;
  f.stats = stats;
  f.progress = progress;
  f.user = user;
  memcpy(f.fn_number, st.fn_number, sizeof f.fn_number);
  f.fn_number[16] = '\0';
  /* Large but mostly untouched: a slot is as big as the largest answer
  ** could be, a real one is under 200 bytes; a frame as big as the
  ** largest document, a real one is a few hundred. */
  f.wire_cap = (size_t)client->window * FRAME_MESSAGE_MAX;
  for (int i = 0; i < 2; i++) {
    f.win[i].slots = malloc((size_t)client->window * sizeof *f.win[i].slots);
    f.win[i].wire = malloc(f.wire_cap);
  }
  f.answers = malloc((size_t)client->window * sizeof *f.answers);
  if (kind == FLOW_DOCUMENTS)
    f.doc = malloc(sizeof *f.doc);
  else
    f.note = malloc(sizeof *f.note);
  if (!f.win[0].slots || !f.win[0].wire || !f.win[1].slots || !f.win[1].wire || !f.answers ||
      (!f.doc && !f.note)) {
    rc = OFD_ERR_NO_MEMORY;
    goto done;
  }
  if ((rc = flow_loop(&f)) == 0) stats->stopped_at = 0;
done:
  /* Late copies of the last answers would be read as the answer to the
  ** next exchange on this client (an 83 after the tickets): drop them with
  ** the link. */
  if (link_unsettled(client)) ofd_client_disconnect(client);
  if (fn_status(fn, &st) == 0)
    stats->remaining = kind == FLOW_DOCUMENTS ? st.unsent_documents : st.unsent_notifications;
  for (int i = 0; i < 2; i++) {
    free(f.win[i].slots);
    free(f.win[i].wire);
  }
  free(f.answers);
  free(f.doc);
  free(f.note);
  return rc;
}

int ofd_deliver_documents(fn_t *fn, ofd_client_t *client, ofd_progress_t progress, void *user,
                          ofd_delivery_stats_t *stats)
{
  return flow_run(FLOW_DOCUMENTS, fn, client, progress, user, stats);
}

int ofd_deliver_notifications(fn_t *fn, ofd_client_t *client, ofd_progress_t progress, void *user,
                              ofd_delivery_stats_t *stats)
{
  return flow_run(FLOW_NOTIFICATIONS, fn, client, progress, user, stats);
}

int ofd_km_request(fn_t *fn, ofd_client_t *client, const fn_km_check_t *check, int budget_ms,
                   fn_km_check_t *out)
{
  fn_status_t st;
  doc_summary_t sum;
  doc_km_answer_t ans;
  uint8_t *answer = NULL;
  size_t answer_len = 0;
  int rc;
  if (!fn || !client || !check || !out || budget_ms <= 0 || client->profile != FRAME_PROFILE_OISM ||
      check->request_len == 0 || check->request_len > sizeof check->request)
    return OFD_ERR_ARGUMENT;
  if (doc_summarize(check->request, check->request_len, &sum) != 0 || sum.type != DOC_KM_REQUEST)
    return OFD_ERR_ARGUMENT;
  if (fn_status(fn, &st) != 0) return OFD_ERR_FN;
  answer = malloc(DOC_MAX_DOCUMENT);
  if (!answer) return OFD_ERR_NO_MEMORY;
  rc = ofd_client_exchange(client, st.fn_number, DOC_KM_REQUEST, sum.number, check->request,
                           check->request_len, DOC_KM_ANSWER, answer, DOC_MAX_DOCUMENT, &answer_len,
                           budget_ms);
  if (rc != 0) goto fail;
  if (doc_parse_km_answer(answer, answer_len, &ans) != 0 || ans.request_number != sum.number) {
    rc = fail_link(client, OFD_ERR_PROTOCOL);
    goto fail;
  }
  if (fn_km_answer(fn, answer, answer_len, out) != 0) {
    rc = OFD_ERR_FN;
    goto fail;
  }
  rc = 0;
fail:
  free(answer);
  return rc;
}

/* Container types of the key server link (ours: the contract fixes them). */
#define KEYS_REQUEST_TYPE 90u
#define KEYS_ANSWER_TYPE  91u
/* The smallest key entry (list header, id, kind, one byte of material). */
#define KEYS_ENTRY_MIN (4u + (4u + 4u) + (4u + 1u) + (4u + 1u))

int ofd_keys_update(fn_t *fn, ofd_client_t *client, size_t *count)
{
  fn_status_t st;
  fn_key_t *keys = NULL;
  uint8_t *answer = NULL;
  size_t answer_len = 0, n = 0, cap = FRAME_BODY_MAX / KEYS_ENTRY_MIN + 1;
  uint32_t when = 0;
  int rc;
  if (count) *count = 0;
  if (!fn || !client || client->profile != FRAME_PROFILE_KEYS) return OFD_ERR_ARGUMENT;
  /* A register that loads its own keys (fn.h, FN_CAP_DEVICE_KEYS). */
  if (fn_capabilities(fn) & FN_CAP_DEVICE_KEYS) return 0;
  if (fn_status(fn, &st) != 0) return OFD_ERR_FN;
  answer = malloc(FRAME_BODY_MAX);
  keys = calloc(cap, sizeof *keys);
  if (!answer || !keys) {
    rc = OFD_ERR_NO_MEMORY;
    goto fail;
  }
  rc = ofd_client_exchange(client, st.fn_number, KEYS_REQUEST_TYPE, 0, NULL, 0, KEYS_ANSWER_TYPE,
                           answer, FRAME_BODY_MAX, &answer_len, 0);
  if (rc != 0) goto fail;
  if (keys_parse_update(answer, answer_len, keys, cap, &n, &when) != 0) {
    rc = fail_link(client, OFD_ERR_PROTOCOL);
    goto fail;
  }
  if (fn_key_update(fn, keys, n, when) != 0) {
    rc = OFD_ERR_FN;
    goto fail;
  }
  if (count) *count = n;
  rc = 0;
fail:
  free(keys);
  free(answer);
  return rc;
}
