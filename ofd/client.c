/*
** ofd/client.c: connections to the OFD, the OISM and the key server, and
** the delivery loops that empty the FN's queues through them.
**
** How a message travels: ofd_client_exchange() encodes one frame
** (frame_encode, CRC mode 2, container present, response expected), makes
** sure a connection is open (connecting lazily, after waiting out the
** backoff), sends it, and feeds whatever recv() returns into a
** frame_parser_t until one whole message comes out. Anything else is a
** fault that closes the connection: the peer closing (even in the middle
** of an answer), a timeout, bytes the parser has to skip (garbage, a bad
** CRC: on a request/response link there is no reason to resynchronise and
** hope), or an answer of the wrong container type.
**
** Why the delivery loops check the answer before the FN sees it: the FN
** acknowledges whatever document a valid doc 7 names. A confused peer that
** acknowledges document 5 while we sent 6 would otherwise make the loop
** re-send 6 forever or, worse, mark as delivered a document the OFD never
** stored. So the doc 7 must name this FN (1041) and the document just sent
** (1040); the ticket (84) the notification just sent (2002); the answer
** (83) the request just sent (2001). Only then is it handed to the FN, and
** the FN's own checks come on top.
**
** Decisions the contract leaves open:
**  - The container header's 8-byte FN field is the 16-digit FN number in
**    packed BCD (two digits a byte), the session header carries it in
**    ASCII.
**  - A refused document (1022 != 0) stops the run: the OFD said no to the
**    lowest-numbered document, and the next ones would wait behind it on
**    the OFD's side anyway. It is not a network failure and starts no
**    backoff.
**  - A bad ticket (2111 != 0) clears the notification in the FN (fn.h) and
**    the run goes on; it is counted for the manager to see.
*/
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

/* How often one document is sent again after a stale (duplicate) answer. */
#define STALE_ANSWER_RETRIES 3

/* ---- errors ------------------------------------------------------------ */

typedef struct err_text {
  int code;
  const char *name;
  const char *ru;
  const char *en;
} err_text_t;

static const err_text_t err_texts[] = {
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
};

static const err_text_t *err_find(int err)
{
  for (size_t i = 0; i < sizeof err_texts / sizeof err_texts[0]; i++)
    if (err_texts[i].code == err) return &err_texts[i];
  return NULL;
}

const char *ofd_err_name(int err)
{
  const err_text_t *t = err_find(err);
  return t ? t->name : "unknown";
}

const char *ofd_err_message(int err, bool russian)
{
  const err_text_t *t = err_find(err);
  if (!t)
    return russian ? "Неизвестная ошибка связи с оператором." : "Unknown operator link error.";
  return russian ? t->ru : t->en;
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
  frame_parser_t parser;
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
      o->connect_timeout_ms < 0 || o->answer_timeout_ms < 0)
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

static void container_fn_bcd(const char fn_number[16], uint8_t out[FRAME_CONTAINER_FN_SIZE])
{
  for (size_t i = 0; i < FRAME_CONTAINER_FN_SIZE; i++) {
    unsigned hi = (unsigned)(fn_number[2 * i] - '0') & 0x0Fu;
    unsigned lo = (unsigned)(fn_number[2 * i + 1] - '0') & 0x0Fu;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
}

int ofd_client_exchange(ofd_client_t *c, const char fn_number[16], uint8_t document_type,
                        uint32_t document_number, const uint8_t *body, size_t body_len,
                        uint8_t answer_type, uint8_t *answer, size_t cap, size_t *answer_len,
                        int budget_ms)
{
  frame_message_t msg;
  size_t len = 0;
  int rc;
  if (answer_len) *answer_len = 0;
  if (!c || !fn_number || (!body && body_len) || !answer || !answer_len || budget_ms < 0 ||
      body_len > FRAME_BODY_MAX || document_number > FRAME_DOCUMENT_NUMBER_MAX)
    return OFD_ERR_ARGUMENT;

  memset(&msg, 0, sizeof msg);
  msg.profile = c->profile;
  memcpy(msg.fn_number, fn_number, FRAME_FN_NUMBER_SIZE);
  msg.flags = FRAME_CRC_HEADER_BODY | FRAME_FLAG_RESPONSE_EXPECTED;
  msg.has_container = 1;
  msg.document_type = document_type;
  container_fn_bcd(fn_number, msg.container_fn);
  msg.document_number = document_number;
  msg.body = body;
  msg.body_len = body_len;
  if (frame_encode(&msg, c->out, sizeof c->out, &len) != 0) return OFD_ERR_ARGUMENT;

  /* Backoff: wait it out, or refuse at once when on a budget. */
  uint64_t wait = ofd_client_backoff_ms(c);
  if (wait > 0) {
    if (budget_ms > 0) return OFD_ERR_BACKOFF;
    c->sleep(c->user, wait);
  }

  uint64_t start = ofd_monotonic_ms();
  uint64_t deadline;
  if (!c->conn) {
    int ct = c->connect_timeout_ms;
    if (budget_ms > 0 && budget_ms < ct) ct = budget_ms;
    c->conn = c->transport_context; /* the backend's state, replaced by the connection */
    rc = c->transport->connect(c->host, c->port, ct, &c->conn);
    if (rc != 0) {
      c->conn = NULL;
      return fail_link(c, rc);
    }
    frame_parser_init(&c->parser);
  }
  deadline = budget_ms > 0 ? start + (uint64_t)budget_ms
                           : ofd_monotonic_ms() + (uint64_t)c->answer_timeout_ms;
  rc = c->transport->send(c->conn, c->out, len, left_ms(deadline));
  if (rc != 0) return fail_link(c, rc);

  /* Read until one whole message. The parser must never skip a byte: on a
  ** request/response link garbage means the peer is broken. */
  uint8_t chunk[4096];
  for (;;) {
    size_t got = 0, off = 0;
    int t = left_ms(deadline);
    if (t == 0) return fail_link(c, OFD_ERR_TIMEOUT);
    rc = c->transport->recv(c->conn, chunk, sizeof chunk, t, &got);
    if (rc != 0) return fail_link(c, rc);
    if (got == 0) return fail_link(c, OFD_ERR_CLOSED);
    while (off < got) {
      size_t used = 0;
      frame_message_t in;
      rc = frame_parser_feed(&c->parser, chunk + off, got - off, &used, &in);
      off += used;
      if (frame_parser_skipped(&c->parser) > 0) return fail_link(c, OFD_ERR_PROTOCOL);
      if (rc == FRAME_AGAIN) break;
      if (rc != 0) return fail_link(c, OFD_ERR_PROTOCOL);
      if (in.profile != c->profile || !in.has_container || in.document_type != answer_type)
        return fail_link(c, OFD_ERR_PROTOCOL);
      if (in.body_len > cap) {
        ofd_client_disconnect(c);
        return OFD_ERR_ARGUMENT;
      }
      memcpy(answer, in.body, in.body_len);
      *answer_len = in.body_len;
      c->failures = 0;
      /* One answer per message: more bytes mean the peer is out of step. */
      if (off < got || frame_parser_pending(&c->parser) > 0) ofd_client_disconnect(c);
      return 0;
    }
  }
}

/* ---- delivery loops ---------------------------------------------------- */

static void stats_reset(ofd_delivery_stats_t *s) { memset(s, 0, sizeof *s); }

int ofd_deliver_documents(fn_t *fn, ofd_client_t *client, ofd_progress_t progress, void *user,
                          ofd_delivery_stats_t *stats)
{
  ofd_delivery_stats_t local;
  fn_status_t st;
  fn_document_t *doc = NULL;
  uint8_t *answer = NULL;
  size_t answer_len = 0;
  uint32_t last_acked = 0;
  int rc;
  if (!stats) stats = &local;
  stats_reset(stats);
  if (!fn || !client || client->profile != FRAME_PROFILE_OFD) return OFD_ERR_ARGUMENT;
  if ((rc = fn_status(fn, &st)) != 0) {
    stats->fn_error = rc;
    return OFD_ERR_FN;
  }
  stats->total = st.unsent_documents;
  doc = malloc(sizeof *doc);
  answer = malloc(DOC_MAX_DOCUMENT);
  if (!doc || !answer) {
    rc = OFD_ERR_NO_MEMORY;
    goto fail;
  }
  for (;;) {
    rc = fn_document_next_unsent(fn, doc);
    if (rc == FN_ERR_NO_DATA) break;
    if (rc != 0) {
      stats->fn_error = rc;
      rc = OFD_ERR_FN;
      goto fail;
    }
    stats->stopped_at = doc->number;
    /* The FN handed back the document it just acknowledged: it would loop. */
    if (doc->number == last_acked || doc->type > 0xFF) {
      stats->fn_error = FN_ERR_FAILURE;
      rc = OFD_ERR_FN;
      goto fail;
    }
    doc_ack_t ack;
    bool parsed = false;
    /* A late duplicate of an earlier acknowledgement (peers do repeat
    ** themselves) may arrive as the answer to this document: it is stale,
    ** not wrong. Drop the link and send this document again on a fresh one;
    ** redelivery is harmless by contract. Bounded, so a peer that only ever
    ** answers the past still stops the run. */
    for (int attempt = 0; attempt < STALE_ANSWER_RETRIES; attempt++) {
      rc =
          ofd_client_exchange(client, st.fn_number, (uint8_t)doc->type, doc->number, doc->data,
                              doc->len, DOC_OPERATOR_ACK, answer, DOC_MAX_DOCUMENT, &answer_len, 0);
      if (rc != 0) goto fail;
      stats->sent++;
      parsed = doc_parse_ack(answer, answer_len, &ack) == 0;
      if (!parsed || strcmp(ack.fn_number, st.fn_number) != 0 || ack.document_number >= doc->number)
        break;
      ofd_client_disconnect(client);
    }
    if (!parsed || ack.document_number != doc->number || strcmp(ack.fn_number, st.fn_number) != 0) {
      /* Well framed but not an acknowledgement of what we sent. */
      rc = fail_link(client, OFD_ERR_PROTOCOL);
      goto fail;
    }
    if (ack.answer_code != 0) {
      stats->answer_code = ack.answer_code;
      rc = OFD_ERR_REFUSED;
      goto fail;
    }
    if ((rc = fn_document_ack(fn, answer, answer_len)) != 0) {
      stats->fn_error = rc;
      rc = OFD_ERR_FN;
      goto fail;
    }
    last_acked = doc->number;
    stats->delivered++;
    if (stats->delivered > stats->total) stats->total = stats->delivered;
    if (progress) progress(user, stats->delivered, stats->total, doc->number);
  }
  stats->stopped_at = 0;
  rc = 0;
fail:
  if (fn_status(fn, &st) == 0) stats->remaining = st.unsent_documents;
  free(doc);
  free(answer);
  return rc;
}

int ofd_deliver_notifications(fn_t *fn, ofd_client_t *client, ofd_progress_t progress, void *user,
                              ofd_delivery_stats_t *stats)
{
  ofd_delivery_stats_t local;
  fn_status_t st;
  fn_notification_t *n = NULL;
  uint8_t *answer = NULL;
  size_t answer_len = 0;
  uint32_t last_done = 0;
  int rc;
  if (!stats) stats = &local;
  stats_reset(stats);
  if (!fn || !client || client->profile != FRAME_PROFILE_OISM) return OFD_ERR_ARGUMENT;
  if ((rc = fn_status(fn, &st)) != 0) {
    stats->fn_error = rc;
    return OFD_ERR_FN;
  }
  stats->total = st.unsent_notifications;
  n = malloc(sizeof *n);
  answer = malloc(DOC_MAX_DOCUMENT);
  if (!n || !answer) {
    rc = OFD_ERR_NO_MEMORY;
    goto fail;
  }
  for (;;) {
    rc = fn_notification_next(fn, n);
    if (rc == FN_ERR_NO_DATA) break;
    if (rc != 0) {
      stats->fn_error = rc;
      rc = OFD_ERR_FN;
      goto fail;
    }
    stats->stopped_at = n->number;
    if (n->number == last_done) {
      stats->fn_error = FN_ERR_FAILURE;
      rc = OFD_ERR_FN;
      goto fail;
    }
    doc_km_ticket_t ticket;
    bool parsed = false;
    /* As for documents: a late duplicate ticket for an earlier notification
    ** is stale; resend this one on a fresh link, a bounded number of times. */
    for (int attempt = 0; attempt < STALE_ANSWER_RETRIES; attempt++) {
      rc = ofd_client_exchange(client, st.fn_number, DOC_KM_NOTIFICATION, n->number, n->data,
                               n->len, DOC_KM_TICKET, answer, DOC_MAX_DOCUMENT, &answer_len, 0);
      if (rc != 0) goto fail;
      stats->sent++;
      parsed = doc_parse_km_ticket(answer, answer_len, &ticket) == 0;
      if (!parsed || ticket.notification_number >= n->number) break;
      ofd_client_disconnect(client);
    }
    if (!parsed || ticket.notification_number != n->number) {
      rc = fail_link(client, OFD_ERR_PROTOCOL);
      goto fail;
    }
    if ((rc = fn_notification_ticket(fn, answer, answer_len)) != 0) {
      stats->fn_error = rc;
      rc = OFD_ERR_FN;
      goto fail;
    }
    if (ticket.result != 0) stats->rejected++;
    last_done = n->number;
    stats->delivered++;
    if (stats->delivered > stats->total) stats->total = stats->delivered;
    if (progress) progress(user, stats->delivered, stats->total, n->number);
  }
  stats->stopped_at = 0;
  rc = 0;
fail:
  if (fn_status(fn, &st) == 0) stats->remaining = st.unsent_notifications;
  free(n);
  free(answer);
  return rc;
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
