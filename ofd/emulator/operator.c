/*
** ofd/emulator/operator.c: kassa-operator, the emulated OFD, OISM and key
** server that the tests, the demo and field trials talk to.
**
** It has to be a real peer, not a stub that says yes: it checks every
** fiscal sign with the FN's own secret, keeps what it acknowledged in
** SQLite (store.c) before the acknowledgement leaves (committed per group
** of messages: see group_open), applies sale notifications to its
** registry of codes, and can be told to misbehave (--fault) the way real
** networks and operators do.
**
** THE WIRE CONTRACT (the till's ofd/client.c implements the other side)
**
** Transport: plain TCP on 127.0.0.1, one listener per peer; with
** --tls-cert FILE --tls-key FILE (PEM) every frame port speaks TLS 1.2+
** instead (the till's [ofd] tls = yes), and a client that does not
** complete the handshake within 10 s is dropped. A message is a
** session header + container header + body (ofd/frame.h), any CRC mode
** (kassa sends 0, as real FNs do), container present, response expected;
** the body is the document, alone or followed by the 10-byte trailer real
** containers carry (cut off before anything is checked or stored). Every
** message gets exactly one answer message as a real OFD's is made (same
** profile, same session FN number and A-protocol version, container FN
** bytes copied from the request, flags 0x0014: no session CRC, container,
** response expected; container message type 0x5A; OFD and OISM answers
** end with a 10-byte trailer, see answer_trailer), in the order the
** messages came, and the connection stays
** open for the next one. A client may send many messages before reading
** (the till sends a window of documents: ofd/client.h). Everything one
** read brings is handled as a group inside one store transaction and
** committed (one disk flush) before the first of its answers is sent:
** an answer never leaves before the commit that makes it true. Bytes the
** frame parser rejects are skipped while it resynchronises on the next
** signature; when a read leaves rejected bytes and nothing that could still
** become a frame, or rejected bytes are followed by a second of silence, the
** connection is closed. A container type a port does
** not serve, or a request of message type 0x5A (an answer's), also closes
** the connection. A connection idle 120 s is closed.
**
** OFD port (FRAME_PROFILE_OFD). Request: container type = form code (1, 2,
** 3, 5, 6, 11, 21, 31), document number = 1040, body = the sealed document
** as stored in the FN. Answer: container type 7, document number = the
** request's, body = doc 7 {1017 operator INN (--inn), 1012 time, 1068
** {1022 answer code}, 1078 operator sign =
** fn_emu_operator_sign() of this acknowledgement and the document's 1077
** with the FN's OFD key (admin_ofd_key: derived from the operator's secret
** and the FN number, and given to the FN by `fn add`), which the FN checks
** before it clears anything}. 1022 codes:
**   0  accepted and stored (once per (FN, 1040); a redelivery is
**      acknowledged again byte for byte: same 1012, the first reception's)
**   1  refused: the FN is not in the operator's registry (`fn add`)
**   2  refused: the fiscal sign (1077) does not verify with the FN secret
**   3  refused: by fault injection (--fault refuse)
**   4  refused: malformed: not one document STLV, its form code or 1040
**      disagrees with the container header, a requisite its form needs is
**      absent (doc_check_required), or a receipt's 1020, payment forms or
**      VAT sums disagree with its lines (doc_check_sums)
**   5  refused: another document with this (FN, 1040) is already stored
** Refusals store nothing; 1012 is then the time of the answer.
**
** OISM port (FRAME_PROFILE_OISM). Type 81 (KM request; document number =
** its 2001) -> type 83 (document number = 2001): 2001, 2114 and 2000
** echoed, 2100 and 2102 from the request, 2105 = 0, 2109 from the
** registry (the code is looked up by its KI, the part before the first GS):
**   1 correct: in circulation (or returned) for a sale (2003 = 1, 2 or
**     255), sold for a return (2003 = 3, 4), not expired; a part of a pack
**     (1291, planned 2 / 4) only when it fits what is left of the pack
**     (a sale) or what is sold of it (a return), oism.h's oism_fits();
**   2 incorrect: unknown code, wrong status for the planned operation, a
**     part that does not fit, or expired;
**   3 circulation suspended: the code or its GTIN is blocked.
** 2005 bits ([open], ours): 1 the code is in the registry, 2 its status
** fits the planned one, 4 blocked. An unknown FN, a sign that does not
** verify or a malformed request gets 2105 = 1 (bad request), 2109 = 2,
** 2005 = 0.
** Type 82 (sale notification; document number = its 2002) -> type 84
** (document number = 2002): every 2007's code becomes sold (2110 = 1, 2)
** or in_circulation again (3, 4), a part of a pack (1291) moves the pack's
** account (sold when the parts make the whole); applied once per (FN, 2002): a
** redelivery changes nothing and gets the same ticket. 2111 = 0 when every
** line was applied, 1 when any code is unknown or blocked (those lines are
** skipped, the others applied); 2006 ([open], ours) = the number of lines
** refused (at most 254), 255 when the whole notification was refused
** (unknown FN, bad sign, malformed: nothing stored, 2111 = 1).
**
** KEYS port (FRAME_PROFILE_KEYS). Type 90 ([open], ours: the real key
** server's format is not public), empty body -> type 91, document number
** 0, body = keys_build_update() (ofd/keys.h) of every key the operator has
** (public parts), dated now. Any FN may ask: the keys are for verifying.
**
** Faults (--fault MODE[,MODE], for every port): drop = close the connection
** after reading a message, without answering; delay = sleep 2 s before
** answering what one read brought; garbage = answer 64 random bytes
** instead of each message (what it stores is stored all the same);
** dup-ack = send the answer twice; refuse = OFD answers 1022 = 3 (other
** ports unaffected). The mode is one atomic mask: POST /control/fault on
** the HTTP port changes it at run time (http.h).
**
** HTTP port (--http-port, default 7793): the emulated true-api of the
** permissive mode (cdn/info, cdn/health/check, codes/check) and /control
** endpoints; see http.h. --api-key KEY (default demo-key) is what
** codes/check wants in X-API-KEY; --cdn-host URL (repeatable, at most 8)
** adds a host to cdn/info; --client-inn INN is the participant the key
** belongs to (isOwner); --health-ms N is the avgTimeMs health/check
** reports.
**
** Times are FFD UNIXTIME: local wall time written as if UTC.
*/
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/version.h"
#include "fiscal/crypto.h"
#include "fiscal/doc.h"
#include "fiscal/fn_emu.h"
#include "fiscal/tlv.h"
#include "ofd/emulator/admin.h"
#include "ofd/emulator/http.h"
#include "ofd/emulator/oism.h"
#include "ofd/emulator/store.h"
#include "ofd/frame.h"
#include "ofd/keys.h"

#define FAULT_DROP    0x01
#define FAULT_DELAY   0x02
#define FAULT_GARBAGE 0x04
#define FAULT_DUP     0x08
#define FAULT_REFUSE  0x10

#define ANSWER_OK        0
#define ANSWER_UNKNOWN   1
#define ANSWER_BAD_SIGN  2
#define ANSWER_REFUSED   3
#define ANSWER_MALFORMED 4
#define ANSWER_CONFLICT  5

#define IDLE_SECONDS          120
#define TLS_HANDSHAKE_SECONDS 10
#define OPERATOR_SIGN         18
#define DEFAULT_INN           ADMIN_DEFAULT_INN
#define KEYS_MAX              64
#define NOTIFY_ALL_BAD        255u

typedef struct server {
  store_t *store;
  pthread_mutex_t lock; /* one request at a time touches the store */
  char inn[13];
  uint8_t secret[STORE_SECRET_LEN];
  atomic_int faults;
  atomic_int connections;
  SSL_CTX *tls; /* --tls-cert/--tls-key: every frame port speaks TLS; NULL plain */
} server_t;

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
  (void)sig;
  stopping = 1;
}

/* FFD UNIXTIME: local wall time written as if UTC. */
static uint32_t ffd_now(void)
{
  time_t t = time(NULL);
  struct tm tm;
  if (!localtime_r(&t, &tm)) return (uint32_t)t;
  return (uint32_t)((int64_t)t + tm.tm_gmtoff);
}

/* ---------------------------------------------------------------------- */
/* OFD                                                                     */

static int form_served(uint8_t type)
{
  return type == 1 || type == 2 || type == 3 || type == 5 || type == 6 || type == 11 ||
         type == 21 || type == 31;
}

/* doc_check_sums() with its room (a receipt read back is about 130 KiB). */
static bool sums_agree(const uint8_t *doc, size_t len)
{
  doc_receipt_t *scratch = malloc(sizeof *scratch);
  bool ok = scratch && doc_check_sums(doc, len, scratch) == 0;
  free(scratch);
  return ok;
}

static int ofd_answer(server_t *sv, const frame_message_t *m, const char *fn, uint8_t *out,
                      size_t cap, size_t *len)
{
  uint8_t fn_secret[STORE_SECRET_LEN], key[ADMIN_OFD_KEY_SIZE];
  uint8_t document_sign[DOC_SIGN_SIZE] = {0};
  doc_summary_t sum;
  doc_ack_t ack;
  uint32_t received = ffd_now();
  bool same = false;
  int rc;

  memset(&ack, 0, sizeof ack);
  memcpy(ack.fn_number, fn, 17);
  snprintf(ack.ofd_inn, sizeof ack.ofd_inn, "%s", sv->inn);
  ack.document_number = m->document_number;
  ack.answer_code = ANSWER_OK;
  /* 1078 covers the document's own 1077 (zeros for a body without one). */
  if (doc_summarize(m->body, m->body_len, &sum) == 0 && sum.has_sign)
    memcpy(document_sign, sum.sign, sizeof document_sign);
  if (atomic_load(&sv->faults) & FAULT_REFUSE) {
    ack.answer_code = ANSWER_REFUSED;
  } else if ((rc = store_fn_secret(sv->store, fn, fn_secret)) != 0) {
    if (rc != STORE_NOT_FOUND) return -1;
    ack.answer_code = ANSWER_UNKNOWN;
  } else if (doc_summarize(m->body, m->body_len, &sum) != 0 || sum.type != m->document_type ||
             sum.number != m->document_number ||
             doc_check_required(m->body, m->body_len, NULL) != 0 ||
             !sums_agree(m->body, m->body_len)) {
    /* A form without a requisite it must carry, or a receipt whose total,
    ** payments or VAT sums disagree with its lines, is malformed too. */
    ack.answer_code = ANSWER_MALFORMED;
  } else if (fn_emu_verify_sign(fn_secret, m->body, m->body_len) != 0) {
    ack.answer_code = ANSWER_BAD_SIGN;
  } else {
    if (store_document_put(sv->store, fn, m->document_number, sum.type, m->body, m->body_len,
                           received, &received, &same) != 0)
      return -1;
    if (!same) {
      ack.answer_code = ANSWER_CONFLICT;
      received = ffd_now();
    }
  }
  ack.time = received;
  /* The key this FN got at `fn add` (admin_ofd_key): the FN checks it. */
  rc = admin_ofd_key(sv->secret, fn, key) == 0 &&
               fn_emu_operator_sign(key, &ack, document_sign, ack.operator_sign) == 0
           ? 0
           : -1;
  explicit_bzero(key, sizeof key);
  if (rc != 0) return -1;
  ack.operator_sign_len = OPERATOR_SIGN;
  /* Like a real OFD: the FN and the document are named by the answer's
  ** headers (the session's FN number, the container's document number),
  ** not by 1041 and 1040; the sign above still covers them. */
  ack.fn_number[0] = '\0';
  ack.document_number = 0;
  return doc_build_ack(&ack, out, cap, len) == 0 ? DOC_OPERATOR_ACK : -1;
}

/* ---------------------------------------------------------------------- */
/* OISM                                                                    */

typedef struct km_request {
  uint32_t number, time;
  char km[DOC_MAX_KM + 1];
  size_t km_len;
  uint8_t km_type, planned, mode;
  uint64_t numerator, denominator; /* 1291's 1293 / 1294; 0 / 0 a whole */
} km_request_t;

/* The requisites of an 81 the answer needs; 0 or -1 when malformed. */
static int parse_request(const uint8_t *doc, size_t len, km_request_t *q)
{
  tlv_reader_t r, in;
  tlv_item_t item;
  int rc, have = 0;
  memset(q, 0, sizeof *q);
  tlv_reader_init(&r, doc, len);
  if (tlv_reader_next(&r, &item) != 0 || item.tag != DOC_KM_REQUEST || !tlv_reader_done(&r) ||
      tlv_reader_enter(&item, &in) != 0)
    return -1;
  while ((rc = tlv_reader_next(&in, &item)) == 0) {
    int bad = 0;
    switch (item.tag) {
    case 2001:
      bad = tlv_get_uint32(&item, &q->number), have |= 1;
      break;
    case 2114:
      bad = tlv_get_unixtime(&item, &q->time), have |= 2;
      break;
    case 2000:
      bad = tlv_get_string(&item, q->km, sizeof q->km, &q->km_len);
      have |= 4;
      break;
    case 2100:
      bad = tlv_get_byte(&item, &q->km_type);
      break;
    case 2003:
      bad = tlv_get_byte(&item, &q->planned);
      break;
    case 2102:
      bad = tlv_get_byte(&item, &q->mode);
      break;
    case 1291:
      bad = oism_read_fraction(&item, &q->numerator, &q->denominator);
      break;
    default:
      break;
    }
    if (bad) return -1;
  }
  return rc == TLV_ERR_END && have == 7 ? 0 : -1;
}

/* Is the FN known and the document's 1077 right? */
static int fn_document_ok(server_t *sv, const char *fn, const uint8_t *doc, size_t len, int *ok)
{
  uint8_t secret[STORE_SECRET_LEN];
  int rc = store_fn_secret(sv->store, fn, secret);
  *ok = 0;
  if (rc == STORE_NOT_FOUND) return 0;
  if (rc != 0) return -1;
  *ok = fn_emu_verify_sign(secret, doc, len) == 0;
  return 0;
}

static int km_answer(server_t *sv, const frame_message_t *m, const char *fn, uint8_t *out,
                     size_t cap, size_t *len)
{
  km_request_t q;
  doc_km_answer_t a;
  store_code_t c;
  char ki[STORE_KI_MAX + 1];
  int ok = 0, rc;

  memset(&a, 0, sizeof a);
  a.status_answer = 2;
  if (parse_request(m->body, m->body_len, &q) != 0 || q.number != m->document_number) {
    a.request_number = m->document_number;
    a.processing_code = 1;
    return doc_build_km_answer(&a, out, cap, len) == 0 ? DOC_KM_ANSWER : -1;
  }
  a.request_number = q.number;
  a.request_time = q.time;
  memcpy(a.km, q.km, q.km_len + 1);
  a.km_len = q.km_len;
  a.km_type = q.km_type;
  a.km_mode = q.mode;
  if (fn_document_ok(sv, fn, m->body, m->body_len, &ok) != 0) return -1;
  if (!ok) {
    a.processing_code = 1;
  } else if (!admin_ki(q.km, q.km_len, ki, sizeof ki) ||
             (rc = store_code_get(sv->store, ki, &c)) == STORE_NOT_FOUND) {
    a.status_answer = 2;
  } else if (rc != 0) {
    return -1;
  } else {
    oism_next_t next;
    bool fits = oism_fits(&c, q.planned, q.numerator, q.denominator, &next);
    bool expired = c.expiry != 0 && (uint32_t)time(NULL) > c.expiry;
    a.processing_results = (uint8_t)(1u | (fits ? 2u : 0u) | (oism_code_blocked(&c) ? 4u : 0u));
    if (oism_code_blocked(&c))
      a.status_answer = 3;
    else
      a.status_answer = fits && !expired ? 1 : 2;
  }
  return doc_build_km_answer(&a, out, cap, len) == 0 ? DOC_KM_ANSWER : -1;
}

static int km_ticket(server_t *sv, const frame_message_t *m, const char *fn, uint8_t *out,
                     size_t cap, size_t *len)
{
  doc_km_ticket_t t;
  uint8_t result = 1, refused = NOTIFY_ALL_BAD;
  bool repeated = false;
  int ok = 0, rc;

  memset(&t, 0, sizeof t);
  t.notification_number = m->document_number;
  if (fn_document_ok(sv, fn, m->body, m->body_len, &ok) != 0) return -1;
  if (ok) {
    /* oism.c: the same application a batch upload makes, once per (FN, 2002). */
    if (store_begin(sv->store) != 0) return -1;
    rc = oism_apply_notification(sv->store, fn, m->body, m->body_len, m->document_number, ffd_now(),
                                 &result, &refused, &repeated);
    if (rc == 0 && store_commit(sv->store) != 0) rc = -1;
    if (rc != 0) store_rollback(sv->store);
    if (rc < 0) return -1;
    if (rc > 0) { /* malformed: nothing applied */
      result = 1;
      refused = NOTIFY_ALL_BAD;
    }
  }
  t.result = result;
  t.processing_results = refused;
  return doc_build_km_ticket(&t, out, cap, len) == 0 ? DOC_KM_TICKET : -1;
}

/* ---------------------------------------------------------------------- */
/* Keys                                                                    */

static int keys_answer(server_t *sv, uint8_t *out, size_t cap, size_t *len)
{
  static _Thread_local fn_key_t keys[KEYS_MAX];
  size_t n = 0;
  if (store_keys_public(sv->store, keys, KEYS_MAX, &n) != 0) return -1;
  return keys_build_update(keys, n, ffd_now(), out, cap, len) == 0 ? 91 : -1;
}

/*
** The 10 bytes a real answer carries after its document (ofd/frame.c):
** ours are the first 8 bytes of HMAC-Streebog-256(the FN's OFD key, the
** document) and two zero bytes, as the real ones end. [open] The real
** trailer is the operator's crypto; nobody checks ours (the FN checks
** 1078), it is there so every till meets the real container's shape.
*/
static int answer_trailer(server_t *sv, const char *fn, uint8_t *body, size_t *len)
{
  uint8_t key[ADMIN_OFD_KEY_SIZE], mac[CRYPTO_STREEBOG256_SIZE];
  int rc = -1;
  if (*len + FRAME_TRAILER_SIZE > FRAME_BODY_MAX) return -1;
  if (admin_ofd_key(sv->secret, fn, key) == 0 &&
      crypto_hmac_streebog256(key, sizeof key, body, *len, mac) == 0) {
    memcpy(body + *len, mac, FRAME_TRAILER_SIZE - 2);
    body[*len + FRAME_TRAILER_SIZE - 2] = 0;
    body[*len + FRAME_TRAILER_SIZE - 1] = 0;
    *len += FRAME_TRAILER_SIZE;
    rc = 0;
  }
  explicit_bzero(key, sizeof key);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Connections                                                             */

/* What one read may bring: a client's whole window of documents. */
#define CONN_READ_MAX (256u * 1024u)

typedef struct conn {
  server_t *sv;
  int fd;
  SSL *ssl; /* NULL: plain TCP */
  frame_profile_t profile;
  frame_parser_t parser;
  bool in_group;           /* the store's lock is held and a transaction open */
  size_t out_len, out_cap; /* the group's answers, sent after its commit */
  uint8_t *out;
  uint8_t body[FRAME_BODY_MAX];
  uint8_t wire[FRAME_MESSAGE_MAX];
  uint8_t in[CONN_READ_MAX];
} conn_t;

/* Writes everything (TLS when the listener has it); -1 when the peer is gone. */
static int send_all(conn_t *c, const uint8_t *p, size_t n)
{
  while (n > 0) {
    if (c->ssl) {
      size_t w = 0;
      if (SSL_write_ex(c->ssl, p, n, &w) != 1) return -1; /* SIGPIPE is ignored here */
      p += w;
      n -= w;
      continue;
    }
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads what is there (at least one byte, blocking); <= 0: closed or failed. */
static ssize_t recv_some(conn_t *c, uint8_t *buf, size_t cap)
{
  if (c->ssl) {
    size_t n = 0;
    return SSL_read_ex(c->ssl, buf, cap, &n) == 1 ? (ssize_t)n : -1;
  }
  return recv(c->fd, buf, cap, 0);
}

/* Adds to buf what is readable without waiting (TLS: what OpenSSL has
** decrypted already); the count added. A close or an error shows at the
** next blocking read. */
static size_t recv_ready(conn_t *c, uint8_t *buf, size_t cap)
{
  size_t total = 0;
  while (total < cap) {
    if (c->ssl) {
      size_t n = 0;
      if (SSL_pending(c->ssl) <= 0 || SSL_read_ex(c->ssl, buf + total, cap - total, &n) != 1) break;
      total += n;
      continue;
    }
    ssize_t n = recv(c->fd, buf + total, cap - total, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    total += (size_t)n;
  }
  return total;
}

/* The TLS handshake of a new connection, bounded so a client that never
** speaks cannot hold the thread. 0, or -1 (the reason went to stderr). */
static int tls_accept(conn_t *c)
{
  struct timeval limit = {TLS_HANDSHAKE_SECONDS, 0};
  char why[256];
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  if (!(c->ssl = SSL_new(c->sv->tls)) || SSL_set_fd(c->ssl, c->fd) != 1 ||
      SSL_accept(c->ssl) != 1) {
    ERR_error_string_n(ERR_get_error(), why, sizeof why);
    fprintf(stderr, "kassa-operator: TLS handshake refused: %s\n", why);
    ERR_clear_error();
    return -1;
  }
  return 0;
}

/* Appends bytes to the group's answers. */
static int out_put(conn_t *c, const uint8_t *p, size_t n)
{
  if (c->out_cap - c->out_len < n) {
    size_t cap = c->out_cap ? c->out_cap : 16384;
    while (cap - c->out_len < n) cap *= 2;
    uint8_t *grown = realloc(c->out, cap);
    if (!grown) return -1;
    c->out = grown;
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
  return 0;
}

/*
** The group commit. Every message one read brought is answered inside one
** store transaction (opened at the first, under the store's lock), the
** answers collected in c->out; group_end() commits, lets the lock go and
** only then sends them, so no answer leaves before the commit that makes
** it true, and the disk is flushed once for the group instead of once per
** message. A store failure rolls the whole group back and sends none of
** it: the client sends those messages again.
*/
static int group_open(conn_t *c, int faults)
{
  if (c->in_group) return 0;
  if (faults & FAULT_DELAY) sleep(2); /* a slow operator: before the lock, not under it */
  pthread_mutex_lock(&c->sv->lock);
  if (store_begin(c->sv->store) != 0) {
    pthread_mutex_unlock(&c->sv->lock);
    return -1;
  }
  c->in_group = true;
  return 0;
}

static void group_abort(conn_t *c)
{
  if (c->in_group) {
    store_rollback(c->sv->store);
    pthread_mutex_unlock(&c->sv->lock);
    c->in_group = false;
  }
  c->out_len = 0;
}

/* Commits the group and sends its answers; -1: close the connection. */
static int group_end(conn_t *c)
{
  if (c->in_group) {
    int rc = store_commit(c->sv->store);
    if (rc != 0) store_rollback(c->sv->store);
    pthread_mutex_unlock(&c->sv->lock);
    c->in_group = false;
    if (rc != 0) {
      c->out_len = 0;
      return -1;
    }
  }
  int rc = c->out_len ? send_all(c, c->out, c->out_len) : 0;
  c->out_len = 0;
  return rc;
}

/* Answers one message into the group. 0; -1: close the connection (the
** group's earlier answers still go); -2: the store failed (the group is
** lost: close without answering). */
static int conn_handle(conn_t *c, const frame_message_t *m)
{
  server_t *sv = c->sv;
  frame_message_t a;
  char fn[17];
  size_t body_len = 0, wire_len = 0;
  int faults = atomic_load(&sv->faults), type = -1;

  /* An FN sends 0xA5; 0x5A is an operator's answer, never a request. */
  if (!m->has_container || m->profile != c->profile || m->message_type != FRAME_MESSAGE_TYPE)
    return -1;
  if (faults & FAULT_DROP) return -1;
  bool served = (c->profile == FRAME_PROFILE_OFD && form_served(m->document_type)) ||
                (c->profile == FRAME_PROFILE_OISM &&
                 (m->document_type == DOC_KM_REQUEST || m->document_type == DOC_KM_NOTIFICATION)) ||
                (c->profile == FRAME_PROFILE_KEYS && m->document_type == 90);
  if (!served) return -1;
  memcpy(fn, m->fn_number, 16);
  fn[16] = '\0';
  /* A real FN's container carries 10 trailer bytes after the document
  ** (ofd/frame.c): the document is what is checked and stored. A body
  ** that is not a document with or without them stays whole and is
  ** answered as malformed. */
  frame_message_t req = *m;
  size_t doc_len = 0, trailer_len = 0;
  if (c->profile != FRAME_PROFILE_KEYS &&
      frame_document_split(m->body, m->body_len, &doc_len, &trailer_len) == 0)
    req.body_len = doc_len;
  if (group_open(c, faults) != 0) return -2;
  if (c->profile == FRAME_PROFILE_OFD)
    type = ofd_answer(sv, &req, fn, c->body, sizeof c->body, &body_len);
  else if (c->profile == FRAME_PROFILE_OISM && m->document_type == DOC_KM_REQUEST)
    type = km_answer(sv, &req, fn, c->body, sizeof c->body, &body_len);
  else if (c->profile == FRAME_PROFILE_OISM)
    type = km_ticket(sv, &req, fn, c->body, sizeof c->body, &body_len);
  else
    type = keys_answer(sv, c->body, sizeof c->body, &body_len);
  if (type < 0) return -2;
  if (c->profile != FRAME_PROFILE_KEYS && answer_trailer(sv, fn, c->body, &body_len) != 0)
    return -2;
  if (faults & FAULT_GARBAGE) {
    uint8_t junk[64];
    if (getrandom(junk, sizeof junk, 0) != (ssize_t)sizeof junk) return -2;
    junk[0] = 0x00; /* never a signature's first byte: the client cannot resync on it */
    return out_put(c, junk, sizeof junk) == 0 ? 0 : -2;
  }
  memset(&a, 0, sizeof a);
  a.profile = c->profile;
  memcpy(a.fn_number, m->fn_number, FRAME_FN_NUMBER_SIZE);
  memcpy(a.app_version, m->app_version, sizeof a.app_version);
  a.flags = FRAME_CRC_NONE | FRAME_FLAG_RESPONSE_EXPECTED; /* 0x0014, as real peers flag */
  a.has_container = 1;
  a.message_type = FRAME_MESSAGE_TYPE_ANSWER;
  a.document_type = (uint8_t)type;
  memcpy(a.container_fn, m->container_fn, sizeof a.container_fn);
  a.document_number = type == 91 ? 0 : m->document_number;
  a.body = c->body;
  a.body_len = body_len;
  if (frame_encode(&a, c->wire, sizeof c->wire, &wire_len) != 0) return -2;
  if (out_put(c, c->wire, wire_len) != 0) return -2;
  if ((faults & FAULT_DUP) && out_put(c, c->wire, wire_len) != 0) return -2;
  return 0;
}

static void *conn_main(void *arg)
{
  conn_t *c = arg;
  uint64_t skipped_at_good = 0;
  int idle = 0, stopping_conn = 0;

  frame_parser_init(&c->parser);
  if (c->sv->tls && tls_accept(c) != 0) stopping_conn = 1;
  while (!stopping && !stopping_conn) {
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    /* Bytes OpenSSL has decrypted already are not on the socket any more. */
    int ready = c->ssl && SSL_pending(c->ssl) > 0 ? 1 : poll(&p, 1, 200);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    if (ready == 0) {
      if (++idle > IDLE_SECONDS * 5) break;
      /* Rejected bytes, then a second of silence: the peer is not speaking
      ** this protocol (a TLS client on a plain port, whose hello may end in
      ** what looks like the start of a signature, waits for an answer that
      ** will never come). Close, so it learns at once. */
      if (idle >= 5 && frame_parser_skipped(&c->parser) > skipped_at_good) break;
      continue;
    }
    idle = 0;
    ssize_t got = recv_some(c, c->in, sizeof c->in);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    /* A client with a window sends it in one go: take all of it that is
    ** here, so it becomes one group. */
    size_t n = (size_t)got;
    n += recv_ready(c, c->in + n, sizeof c->in - n);
    size_t off = 0, used = 0;
    int close_it = 0;
    for (;;) {
      frame_message_t m;
      int rc = frame_parser_feed(&c->parser, c->in + off, n - off, &used, &m);
      off += used;
      if (rc == FRAME_OK) {
        int handled = conn_handle(c, &m);
        if (handled == -2) group_abort(c);
        if (handled != 0) {
          close_it = 1;
          break;
        }
        skipped_at_good = frame_parser_skipped(&c->parser);
        continue;
      }
      if (rc == FRAME_AGAIN) break;
      /* A rejected frame: the parser has moved on; keep feeding. */
    }
    if (group_end(c) != 0) break;
    if (close_it) break;
    if (frame_parser_skipped(&c->parser) > skipped_at_good && frame_parser_pending(&c->parser) == 0)
      break;
  }
  group_abort(c); /* only when a loop above left one open: never, but never leak the lock */
  if (c->ssl) {
    (void)SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    ERR_clear_error();
  }
  close(c->fd);
  atomic_fetch_sub(&c->sv->connections, 1);
  free(c->out);
  free(c);
  return NULL;
}

typedef struct listener {
  server_t *sv;
  frame_profile_t profile;
  int fd;
  unsigned port;
  pthread_t thread;
} listener_t;

static int listen_on(listener_t *l)
{
  struct sockaddr_in a;
  int one = 1;
  l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l->fd < 0) return -1;
  setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)l->port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only, by contract */
  if (bind(l->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(l->fd, 16) != 0) {
    fprintf(stderr, "kassa-operator: 127.0.0.1:%u: %s\n", l->port, strerror(errno));
    close(l->fd);
    l->fd = -1;
    return -1;
  }
  return 0;
}

static void *listener_main(void *arg)
{
  listener_t *l = arg;
  while (!stopping) {
    struct pollfd p = {.fd = l->fd, .events = POLLIN};
    if (poll(&p, 1, 200) <= 0) continue;
    int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) continue;
    conn_t *c = malloc(sizeof *c);
    pthread_t t;
    pthread_attr_t attr;
    if (!c) {
      close(fd);
      continue;
    }
    c->sv = l->sv;
    c->fd = fd;
    c->ssl = NULL;
    c->profile = l->profile;
    c->in_group = false;
    c->out = NULL;
    c->out_len = c->out_cap = 0;
    atomic_fetch_add(&l->sv->connections, 1);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, conn_main, c) != 0) {
      atomic_fetch_sub(&l->sv->connections, 1);
      close(fd);
      free(c);
    }
    pthread_attr_destroy(&attr);
  }
  return NULL;
}

static int parse_faults(const char *s, int *mask)
{
  static const struct {
    const char *name;
    int bit;
  } modes[] = {{"drop", FAULT_DROP},   {"delay", FAULT_DELAY},   {"garbage", FAULT_GARBAGE},
               {"dup-ack", FAULT_DUP}, {"refuse", FAULT_REFUSE}, {"none", 0}};
  char buf[128], *save = NULL;
  snprintf(buf, sizeof buf, "%s", s);
  *mask = 0;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    size_t i;
    for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
      if (strcmp(t, modes[i].name) == 0) break;
    }
    if (i == sizeof modes / sizeof modes[0]) return -1;
    *mask |= modes[i].bit;
  }
  return 0;
}

/* http.h's set_faults: the frame listeners' mask, from any thread. */
static int set_faults(void *user, const char *modes)
{
  server_t *sv = user;
  int mask = 0;
  if (parse_faults(modes, &mask) != 0) return -1;
  atomic_store(&sv->faults, mask);
  return 0;
}

static int parse_port(const char *s, unsigned *port)
{
  char *end = NULL;
  unsigned long v = strtoul(s, &end, 10);
  if (!*s || *end || v < 1 || v > 65535) return -1;
  *port = (unsigned)v;
  return 0;
}

static void usage_to(FILE *out)
{
  fprintf(out, "usage: kassa-operator --data DIR [--ofd-port N] [--oism-port N] [--keys-port N]\n"
               "                      [--http-port N] [--inn INN] [--fault MODE[,MODE]]\n"
               "                      [--api-key KEY] [--cdn-host URL]... [--client-inn INN]\n"
               "                      [--health-ms N] [--tls-cert FILE --tls-key FILE]\n"
               "       kassa-operator --data DIR fn add --fn-db PATH [--inn INN]\n"
               "       kassa-operator --data DIR keys new --kind hmac|gost\n"
               "       kassa-operator --data DIR issue --gtin G --group GROUP --count N"
               " [--owner INN] [--tail 44|88|93]\n"
               "       kassa-operator --data DIR block --code KM | --gtin G\n"
               "       kassa-operator --data DIR price --gtin G [--min KOPECKS] [--max KOPECKS]\n"
               "       kassa-operator --data DIR status CODE\n"
               "       kassa-operator --version\n"
               "faults: drop delay garbage dup-ack refuse\n");
}

/* A usage error: the usage on stderr. */
static void usage(void) { usage_to(stderr); }

/* The TLS context of the frame ports from a PEM certificate (chain) and
** key; NULL with the reason on stderr. */
static SSL_CTX *tls_context(const char *cert, const char *key)
{
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  char why[256] = "";
  if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    ERR_error_string_n(ERR_get_error(), why, sizeof why);
    fprintf(stderr, "kassa-operator: TLS certificate %s / key %s: %s\n", cert, key, why);
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

/* The server: argv[1..argc) are its options (argv[0], whatever precedes
** them, is skipped as getopt_long skips a program's name). 0, 1 or 2
** (usage). */
static int serve(store_t *store, int argc, char **argv)
{
  server_t sv;
  listener_t ls[3] = {{.profile = FRAME_PROFILE_OFD, .port = 7790, .fd = -1},
                      {.profile = FRAME_PROFILE_OISM, .port = 7791, .fd = -1},
                      {.profile = FRAME_PROFILE_KEYS, .port = 7792, .fd = -1}};
  unsigned http_port = 7793, health_ms = HTTP_DEFAULT_HEALTH_MS;
  const char *tls_cert = NULL, *tls_key = NULL;
  http_options_t ho;
  http_server_t *http = NULL;
  int faults = 0, started = 0, rc = 1;
  struct sigaction sa;

  memset(&sv, 0, sizeof sv);
  memset(&ho, 0, sizeof ho);
  ho.api_key = HTTP_DEFAULT_API_KEY;
  snprintf(sv.inn, sizeof sv.inn, "%s", DEFAULT_INN);
  enum {
    O_OFD = 1,
    O_OISM,
    O_KEYS,
    O_HTTP,
    O_FAULT,
    O_KEY,
    O_CLIENT,
    O_CDN,
    O_HEALTH,
    O_CERT,
    O_TLSKEY,
    O_INN
  };
  static const struct option options[] = {
      {"ofd-port", required_argument, NULL, O_OFD},
      {"oism-port", required_argument, NULL, O_OISM},
      {"keys-port", required_argument, NULL, O_KEYS},
      {"http-port", required_argument, NULL, O_HTTP},
      {"fault", required_argument, NULL, O_FAULT},
      {"api-key", required_argument, NULL, O_KEY},
      {"client-inn", required_argument, NULL, O_CLIENT},
      {"cdn-host", required_argument, NULL, O_CDN},
      {"health-ms", required_argument, NULL, O_HEALTH},
      {"tls-cert", required_argument, NULL, O_CERT},
      {"tls-key", required_argument, NULL, O_TLSKEY},
      {"inn", required_argument, NULL, O_INN},
      {NULL, 0, NULL, 0},
  };
  int opt;
  optind = 0;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
    const char *v = optarg;
    int bad = 0;
    switch (opt) {
    case O_OFD:
      bad = parse_port(v, &ls[0].port);
      break;
    case O_OISM:
      bad = parse_port(v, &ls[1].port);
      break;
    case O_KEYS:
      bad = parse_port(v, &ls[2].port);
      break;
    case O_HTTP:
      bad = parse_port(v, &http_port);
      break;
    case O_FAULT:
      bad = parse_faults(v, &faults);
      break;
    case O_KEY:
      ho.api_key = v;
      break;
    case O_CLIENT:
      ho.client_inn = v;
      break;
    case O_CDN:
      bad = ho.cdn_host_count >= HTTP_MAX_CDN_HOSTS || strncmp(v, "http://", 7) != 0;
      if (!bad) ho.cdn_hosts[ho.cdn_host_count++] = v;
      break;
    case O_HEALTH:
      bad = parse_port(v, &health_ms);
      break;
    case O_CERT:
      tls_cert = v;
      break;
    case O_TLSKEY:
      tls_key = v;
      break;
    case O_INN:
      bad = (strlen(v) != 10 && strlen(v) != 12) || snprintf(sv.inn, sizeof sv.inn, "%s", v) < 0;
      break;
    default: /* an unknown option (?) or one without its value (:) */
      bad = 1;
      break;
    }
    if (bad) {
      usage();
      return 2;
    }
  }
  if (optind < argc) { /* the server takes no operands */
    usage();
    return 2;
  }
  if ((tls_cert == NULL) != (tls_key == NULL)) {
    fprintf(stderr, "kassa-operator: --tls-cert and --tls-key go together\n");
    usage();
    return 2;
  }
  if (tls_cert && !(sv.tls = tls_context(tls_cert, tls_key))) return 1;
  sv.store = store;
  store_operator_secret(store, sv.secret);
  atomic_init(&sv.faults, faults);
  atomic_init(&sv.connections, 0);
  pthread_mutex_init(&sv.lock, NULL);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  for (int i = 0; i < 3; i++) {
    ls[i].sv = &sv;
    if (listen_on(&ls[i]) != 0) goto fail;
  }
  ho.port = http_port;
  ho.health_ms = health_ms;
  ho.store = store;
  ho.lock = &sv.lock;
  ho.set_faults = set_faults;
  ho.user = &sv;
  if (http_start(&ho, &http) != 0) goto fail;
  for (int i = 0; i < 3; i++) {
    if (pthread_create(&ls[i].thread, NULL, listener_main, &ls[i]) != 0) goto fail;
    started++;
  }
  printf("kassa-operator: ofd 127.0.0.1:%u oism 127.0.0.1:%u keys 127.0.0.1:%u http "
         "127.0.0.1:%u%s\n",
         ls[0].port, ls[1].port, ls[2].port, http_port, sv.tls ? " (frame ports: TLS)" : "");
  fflush(stdout);
  while (!stopping) usleep(100000); /* pause() could miss a signal that came just before */
  rc = 0;
fail:
  stopping = 1;
  http_stop(http);
  for (int i = 0; i < started; i++) pthread_join(ls[i].thread, NULL);
  /* Connection threads see `stopping` within one poll period. */
  for (int waited = 0; atomic_load(&sv.connections) > 0 && waited < 50; waited++) usleep(100000);
  for (int i = 0; i < 3; i++) {
    if (ls[i].fd >= 0) close(ls[i].fd);
  }
  if (atomic_load(&sv.connections) > 0) _exit(rc); /* a thread is stuck in a send */
  pthread_mutex_destroy(&sv.lock);
  SSL_CTX_free(sv.tls);
  memset(sv.secret, 0, sizeof sv.secret);
  return rc;
}

int main(int argc, char **argv)
{
  const char *data = getenv("KASSA_OPERATOR_DATA");
  store_t *store = NULL;
  int first = 1, rc;

  if (argc == 2 && strcmp(argv[1], "--version") == 0) {
    printf("kassa-operator %s\n", KASSA_VERSION);
    return 0;
  }
  if (argc >= 3 && strcmp(argv[1], "--data") == 0) {
    data = argv[2];
    first = 3;
  }
  /* --help anywhere (before a "--"), on any subcommand: the usage, exit 0. */
  for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage_to(stdout);
      return 0;
    }
  if (!data) {
    usage();
    return 2;
  }
  if ((rc = crypto_init()) != 0) {
    fprintf(stderr, "kassa-operator: %s\n", crypto_error_message(rc));
    return 1;
  }
  if (store_open(data, &store) != 0) {
    crypto_shutdown();
    return 1;
  }
  if (first < argc && admin_is_command(argv[first]))
    rc = admin_run(store, argc - first, argv + first);
  else
    rc = serve(store, argc - first + 1, argv + first - 1);
  store_close(store);
  crypto_shutdown();
  return rc;
}
