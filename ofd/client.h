/*
** ofd/client.h: the till's side of the wire to the OFD, the OISM and the
** key server.
**
** The fiscal storage (FN) is the source of truth for what is owed: it keeps
** every sealed document until the OFD's acknowledgement (doc 7) comes back,
** and every sale notification (82) until the OISM's ticket (84) does. This
** module only carries those bytes: it wraps a document in the session and
** container headers (ofd/frame.h), sends it, reads the answer on the same
** connection, checks that the answer is about what was sent, and hands it
** to the FN. It keeps no queue of its own, so a crash at any point loses
** nothing and, because redelivery is harmless on both sides, sends nothing
** twice in a way that counts twice.
**
** Delivery runs keep a window of messages in flight. Sent one at a time,
** a document costs a round trip plus two disk flushes in a row (the
** operator commits it before acknowledging, the FN commits the
** acknowledgement), a few milliseconds each: a few hundred documents a
** second however fast the link. So a run sends up to `window` documents
** back to back (64 by default), reads their answers in the order sent,
** and gives the FN the whole window's acknowledgements in one group commit
** (fn_document_ack_batch); kassa-operator likewise commits every message
** one read brought before it answers any of them. Both disk flushes are
** paid once per window instead of once per document, and a crash leaves
** each group commit whole or absent. What was answered before a fault is
** applied; what was not is sent again by the next run, and the operator
** acknowledges a redelivery identically. `kassa ofd flush --window N`
** picks another size (1: one message at a time).
**
** One ofd_client_t is one endpoint (host:port and a frame profile). It
** connects lazily, keeps the connection open between messages, drops it on
** any fault (a short read, a peer that closes, bytes that are not a frame,
** an answer of the wrong type, a timeout) and reconnects on the next call.
** Between failed attempts it backs off exponentially with jitter, so a till
** that lost its link does not hammer the operator; the clock, the sleep and
** the random source of that schedule are injectable for tests. Socket
** timeouts (connect 5 s, answer 30 s by default) run on the real monotonic
** clock.
**
** The transport is a small vtable (ofd_transport_t), as in libmodbus: plain
** TCP is ofd_transport_tcp(); TLS through OpenSSL (ofd_transport_tls(),
** implemented in ofd/tls.c: the server's certificate verified against a
** CA file, its name or address checked, SNI sent) is a second backend
** behind the same calls, and nothing above them changes.
**
** Errors: 0 or a negative ofd_err_t with a stable name and a message in
** Russian and English for a store manager.
*/
#ifndef KASSA_OFD_CLIENT_H
#define KASSA_OFD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiscal/fn.h"
#include "ofd/frame.h"

typedef enum ofd_err {
  OFD_OK = 0,
  OFD_ERR_ARGUMENT = -1,  /* NULL pointer, bad option, body too large */
  OFD_ERR_NO_MEMORY = -2, /* allocation failed */
  OFD_ERR_RESOLVE = -3,   /* the host name does not resolve */
  OFD_ERR_CONNECT = -4,   /* connection refused or unreachable */
  OFD_ERR_TIMEOUT = -5,   /* no connection or no answer in time */
  OFD_ERR_CLOSED = -6,    /* the peer closed the connection before answering */
  OFD_ERR_IO = -7,        /* send or receive failed */
  OFD_ERR_PROTOCOL = -8,  /* the answer is not a valid frame, has the wrong type,
                             or is about another document */
  OFD_ERR_REFUSED = -9,   /* the operator answered and refused (1022 != 0) */
  OFD_ERR_FN = -10,       /* the FN refused the answer or failed (see fn_error) */
  OFD_ERR_BACKOFF = -11,  /* too soon after a failure and the caller cannot wait */
  OFD_ERR_TLS = -12,      /* TLS: no secure session, or the server's certificate is not
                             trusted or not for this host (ofd_tls_last_error says why) */
} ofd_err_t;

/* Stable lower-case name ("connect", "refused"; "unknown" otherwise: names
** are a contract) and a static message for a manager, Russian or English,
** saying what happened and that nothing is lost. Never NULL. */
const char *ofd_err_name(int err);
const char *ofd_err_message(int err, bool russian);

/*
** The transport seam. connect() opens a connection to host:port within
** timeout_ms and stores a handle in *conn; send() writes all len bytes
** within timeout_ms; recv() reads at most cap bytes, waiting at most
** timeout_ms, and stores the count (0: the peer closed) in *got; close()
** accepts NULL. Each returns 0 or a negative ofd_err_t (OFD_ERR_TIMEOUT,
** OFD_ERR_CONNECT, OFD_ERR_RESOLVE, OFD_ERR_IO, OFD_ERR_TLS).
**
** A backend with state of its own (TLS: its CA store) finds it in *conn on
** entry to connect(): the client puts ofd_client_options_t.transport_context
** there (NULL unless set) before the call, and the backend overwrites it
** with the connection. Backends without state ignore what comes in.
*/
typedef struct ofd_transport {
  const char *name;
  int (*connect)(const char *host, uint16_t port, int timeout_ms, void **conn);
  int (*send)(void *conn, const uint8_t *buf, size_t len, int timeout_ms);
  int (*recv)(void *conn, uint8_t *buf, size_t cap, int timeout_ms, size_t *got);
  void (*close)(void *conn);
} ofd_transport_t;

/* Plain TCP (non-blocking sockets, poll, no SIGPIPE). */
const ofd_transport_t *ofd_transport_tcp(void);

/*
** TLS through OpenSSL (TLS 1.2 or later), on the same non-blocking
** sockets and timeouts as TCP. The server's certificate chain must verify
** against ca_file (PEM; NULL: OpenSSL's default paths) and name the host:
** the name the client connects to (or server_name when given) is checked
** against the certificate's DNS names and sent as SNI; an IP address is
** checked against its IP addresses and sends no SNI. Anything else is
** OFD_ERR_TLS, with the reason (OpenSSL's verify error: "unable to get
** local issuer certificate", "hostname mismatch", ...) kept for
** ofd_tls_last_error(). No SIGPIPE either: writes block it around OpenSSL.
**
** A client uses it with o.transport = ofd_transport_tls() and
** o.transport_context = the ofd_tls_t (ofd_client_options_use_tls() sets
** both); connect() without a context is OFD_ERR_ARGUMENT.
** ofd_tls_create() reads the CA file at once, so a wrong path is reported
** before any connection: OFD_ERR_TLS with the reason in detail (may be
** NULL; cut to detail_cap), *out NULL; OFD_ERR_ARGUMENT for NULLs,
** OFD_ERR_NO_MEMORY. One ofd_tls_t may serve several clients of one
** thread and must outlive them. ofd_tls_destroy() accepts NULL.
*/
typedef struct ofd_tls ofd_tls_t;
typedef struct ofd_tls_options {
  const char *ca_file;     /* CAs to trust (PEM); NULL: the system's */
  const char *server_name; /* name to check and send; NULL: the host connected to */
} ofd_tls_options_t;
int ofd_tls_create(const ofd_tls_options_t *o, ofd_tls_t **out, char *detail, size_t detail_cap);
const ofd_transport_t *ofd_transport_tls(void);
const char *ofd_tls_last_error(const ofd_tls_t *tls); /* "" when none; never NULL */
void ofd_tls_destroy(ofd_tls_t *tls);

/* Injected time for the backoff schedule: milliseconds on any monotonic
** scale, a sleep, and a random 32-bit value. */
typedef uint64_t (*ofd_clock_ms_t)(void *user);
typedef void (*ofd_sleep_ms_t)(void *user, uint64_t ms);
typedef uint32_t (*ofd_random_t)(void *user);

#define OFD_CONNECT_TIMEOUT_MS 5000
#define OFD_ANSWER_TIMEOUT_MS  30000
#define OFD_BACKOFF_BASE_MS    1000
#define OFD_BACKOFF_MAX_MS     300000
#define OFD_WINDOW_DEFAULT     64 /* messages in flight in a delivery run */
#define OFD_WINDOW_MAX         256

typedef struct ofd_client_options {
  const char *host; /* name or address; copied */
  uint16_t port;    /* 1..65535 */
  frame_profile_t profile;
  int connect_timeout_ms;           /* 0: OFD_CONNECT_TIMEOUT_MS */
  int answer_timeout_ms;            /* 0: OFD_ANSWER_TIMEOUT_MS */
  uint32_t backoff_base_ms;         /* 0: OFD_BACKOFF_BASE_MS */
  uint32_t backoff_max_ms;          /* 0: OFD_BACKOFF_MAX_MS */
  uint32_t window;                  /* 0: OFD_WINDOW_DEFAULT; 1: one message at a time */
  const ofd_transport_t *transport; /* NULL: ofd_transport_tcp() */
  void *transport_context;          /* given to transport->connect in *conn (TLS: ofd_tls_t) */
  ofd_clock_ms_t clock;             /* NULL: CLOCK_MONOTONIC */
  ofd_sleep_ms_t sleep;             /* NULL: nanosleep */
  ofd_random_t random;              /* NULL: a per-client xorshift seeded from the clock */
  void *user;                       /* passed to clock, sleep, random */
} ofd_client_options_t;

typedef struct ofd_client ofd_client_t;

/* Zeroes *o (all defaults). host, port and profile are still to be set. */
void ofd_client_options_init(ofd_client_options_t *o);

/* TLS for this client: transport = ofd_transport_tls(), context = tls
** (NULL tls: back to plain TCP). */
void ofd_client_options_use_tls(ofd_client_options_t *o, ofd_tls_t *tls);

/* Create a client; connects nothing yet. OFD_ERR_ARGUMENT for a NULL or
** empty host, port 0, an unknown profile, negative timeouts or a window
** over OFD_WINDOW_MAX; OFD_ERR_NO_MEMORY. *out is NULL on failure. */
int ofd_client_create(const ofd_client_options_t *o, ofd_client_t **out);

/* Closes the connection and frees; NULL is fine. */
void ofd_client_destroy(ofd_client_t *c);

/*
** The backoff schedule. After the k-th failure in a row (k >= 1) the next
** attempt waits d = min(max, base * 2^(k-1)) with "equal jitter": a delay
** in [d/2, d], drawn from the random source. Any success resets it.
** ofd_client_failures() is k; ofd_client_backoff_ms() is how long the
** next attempt would still wait now (0: it may go).
*/
uint32_t ofd_client_failures(const ofd_client_t *c);
uint64_t ofd_client_backoff_ms(const ofd_client_t *c);

/*
** One message and its answer. Sends a container of document_type and
** document_number with body[0..body_len) (the FN's sealed TLV) under the
** session header for fn_number (16 ASCII digits), flags 0x0014 as a real
** FN sends them (no session CRC, container, response expected); then
** reads one answer message and requires a container of answer_type
** (message type 0xA5 or 0x5A). Its document is copied to answer[0..cap)
** and its length stored in *answer_len: for the OFD and the OISM the body
** without the 10-byte trailer real containers carry (absent or exactly 10
** bytes, else OFD_ERR_PROTOCOL); for the key server the whole body.
**
** budget_ms 0 means the default timeouts and, while backing off, sleeping
** until the next attempt is due; budget_ms > 0 bounds the whole call
** (connect + send + answer) and never sleeps for backoff: while backing off
** it returns OFD_ERR_BACKOFF at once.
**
** Any fault closes the connection and counts as a failure for the backoff
** (OFD_ERR_RESOLVE, _CONNECT, _TIMEOUT, _CLOSED, _IO, _PROTOCOL; a reply
** frame with bytes after it is accepted, then the connection is dropped).
** OFD_ERR_ARGUMENT (no failure counted) for NULLs, a body over
** FRAME_BODY_MAX, or an answer larger than cap.
*/
int ofd_client_exchange(ofd_client_t *c, const char fn_number[16], uint8_t document_type,
                        uint32_t document_number, const uint8_t *body, size_t body_len,
                        uint8_t answer_type, uint8_t *answer, size_t cap, size_t *answer_len,
                        int budget_ms);

/* Drop the connection (next call reconnects); not a failure. */
void ofd_client_disconnect(ofd_client_t *c);

/* What a delivery run did. */
typedef struct ofd_delivery_stats {
  uint32_t total;      /* owed when the run started (from fn_status) */
  uint32_t sent;       /* messages sent and answered */
  uint32_t stale;      /* late copies of earlier answers, ignored */
  uint32_t delivered;  /* acknowledged / ticketed in the FN */
  uint32_t rejected;   /* notifications the OISM ticketed as bad (2111 != 0) */
  uint32_t remaining;  /* still owed when the run ended */
  uint32_t stopped_at; /* number of the document the run stopped on (0: none) */
  uint8_t answer_code; /* 1022 of a refusal (OFD_ERR_REFUSED) */
  int fn_error;        /* the fn_err_t when OFD_ERR_FN */
} ofd_delivery_stats_t;

/* Called after each item the FN has taken the answer for, in order:
** done of total (total may grow while running). */
typedef void (*ofd_progress_t)(void *user, uint32_t done, uint32_t total, uint32_t number);

/*
** Deliver the FN's unsent fiscal documents to the OFD (client with the OFD
** profile, else OFD_ERR_ARGUMENT), lowest number first, a window at a time
** (ofd_client_options_t.window):
**   - the window is fn_document_next_unsent() and the numbers after it
**     that fn_document_get() shows queued and unacknowledged, each sent as
**     a container of its form code with its 1040, all in one write;
**   - the answers must come in the order sent, each a doc 7 naming this
**     FN (1041) and the next document still waiting for its answer
**     (1040). A late copy of an answer already taken (a peer that repeats
**     itself: kassa-operator's dup-ack, a retransmission) names an
**     earlier number: it is ignored and counted in stats.stale, up to
**     twice the window plus 3 per window; past that, or an answer about a
**     document further on or never sent, or anything that is not a doc 7
**     for this FN, is OFD_ERR_PROTOCOL;
**   - the answered documents' acknowledgements go to the FN in one
**     fn_document_ack_batch(), then progress is called once per document.
** Stops when none is left (0); at the first refusal (OFD_ERR_REFUSED,
** stats.answer_code = its 1022, stats.stopped_at its number; the documents
** answered before it are acknowledged, it and the rest of the window stay
** queued; the link is dropped without counting a failure); at a network
** fault (its ofd_err_t: closed, timeout, garbage, an answer out of step;
** the documents answered before it are acknowledged, the rest stay
** queued: nothing is acknowledged that the OFD did not accept); or when
** the FN refuses an acknowledgement (OFD_ERR_FN, stats.fn_error; the ones
** before it stay acknowledged). stats.stopped_at is then the first
** document not acknowledged. A run that ends with unread bytes on the
** link (late copies) drops the link, so they cannot answer a later call.
** progress and stats may be NULL. A cash register that delivers its own
** documents (fn_capabilities() has FN_CAP_DEVICE_DELIVERS): 0 at once,
** stats all zero, nothing read from it or sent (this and the next call).
*/
int ofd_deliver_documents(fn_t *fn, ofd_client_t *client, ofd_progress_t progress, void *user,
                          ofd_delivery_stats_t *stats);

/*
** The same for sale notifications to the OISM (client with the OISM
** profile): the window is fn_notification_next() and
** fn_notification_next_after(), each 82 sent with its 2002 as the
** document number; answers are 84s naming the next notification waiting
** (2002), applied with fn_notification_ticket_batch(). A ticket with
** 2111 != 0 still clears the notification in the FN (the FN keeps the
** result): it counts as delivered and in stats.rejected, and the run goes
** on. There is no refusal: OFD_ERR_REFUSED never comes from here.
*/
int ofd_deliver_notifications(fn_t *fn, ofd_client_t *client, ofd_progress_t progress, void *user,
                              ofd_delivery_stats_t *stats);

/*
** One marking-code request during a sale: check->request (the sealed 81
** from fn_km_check) to the OISM (profile OISM), its answer 83 checked to be
** about that request (2001) and handed to fn_km_answer, whose result lands
** in *out. budget_ms (> 0) bounds the whole exchange; while the client is
** backing off it fails at once with OFD_ERR_BACKOFF, and the till decides
** without the OISM. OFD_ERR_FN when the FN refuses the answer.
*/
int ofd_km_request(fn_t *fn, ofd_client_t *client, const fn_km_check_t *check, int budget_ms,
                   fn_km_check_t *out);

/*
** Fresh verification keys from the key server (client with the KEYS
** profile): request container 90 with an empty body, answer 91 decoded by
** keys_parse_update() (ofd/keys.h) and loaded with fn_key_update(), dated
** as the server says. *count (may be NULL) gets the number of keys loaded.
** OFD_ERR_PROTOCOL for an update that does not decode; OFD_ERR_FN when the
** FN refuses the keys (nothing loaded). 0 with *count 0, the key server
** not asked, for a register that loads its own (FN_CAP_DEVICE_KEYS).
*/
int ofd_keys_update(fn_t *fn, ofd_client_t *client, size_t *count);

#endif /* KASSA_OFD_CLIENT_H */
