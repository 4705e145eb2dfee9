/*
** ofd/tls.c: the TLS backend of the delivery transport (ofd/client.h).
**
** Why it is its own backend and not a flag on TCP: the client above it
** must not know or care; it sends frames and reads frames. Everything that
** makes TLS TLS is here: the context with the CAs the till trusts, the
** check that the certificate names the host we meant to reach (a
** certificate that verifies but belongs to someone else is the classic
** man in the middle), SNI so a shared front end picks the right
** certificate, and a handshake bounded by the same timeout as a TCP
** connect.
**
** The socket stays non-blocking, as for TCP; OpenSSL's WANT_READ and
** WANT_WRITE become polls with the remaining time. OpenSSL writes with
** write(), which raises SIGPIPE on a closed peer, and the library cannot
** decide the process's signal policy, so every call into OpenSSL that
** may write runs with SIGPIPE blocked in this thread, and a SIGPIPE it
** caused is taken back before unblocking.
**
** When the handshake fails, the reason is kept (ofd_tls_last_error): the
** certificate verify error by name, or OpenSSL's error queue, so a store
** manager is told "unable to get local issuer certificate", not
** "connection failed".
*/
#include "ofd/client.h"
#include "ofd/transport_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct ofd_tls {
  SSL_CTX *ctx;
  char *server_name;
  char last_error[256];
};

typedef struct tls_conn {
  int fd;
  SSL *ssl;
  ofd_tls_t *tls;
} tls_conn_t;

/* ---- SIGPIPE ----------------------------------------------------------- */

typedef struct pipe_guard {
  sigset_t old;
  bool was_pending;
} pipe_guard_t;

static void guard_begin(pipe_guard_t *g)
{
  sigset_t block, pending;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  sigemptyset(&pending);
  sigpending(&pending);
  g->was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &block, &g->old);
}

static void guard_end(pipe_guard_t *g)
{
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  if (!g->was_pending && sigismember(&pending, SIGPIPE) == 1) {
    /* Ours: take it back so unblocking does not deliver it. */
    sigset_t only;
    struct timespec zero = {0, 0};
    sigemptyset(&only);
    sigaddset(&only, SIGPIPE);
    while (sigtimedwait(&only, NULL, &zero) < 0 && errno == EINTR) {}
  }
  pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---- errors ------------------------------------------------------------ */

static void note(ofd_tls_t *t, const char *format, ...)
{
  va_list ap;
  va_start(ap, format);
  vsnprintf(t->last_error, sizeof t->last_error, format, ap);
  va_end(ap);
}

/* OpenSSL's first queued error as text (and the queue emptied). */
static const char *queue_text(char *buf, size_t cap)
{
  unsigned long e = ERR_get_error();
  if (!e) {
    snprintf(buf, cap, "%s", "the connection closed during the handshake");
  } else {
    ERR_error_string_n(e, buf, cap);
  }
  ERR_clear_error();
  return buf;
}

/* ---- the transport ----------------------------------------------------- */

static int left_of(uint64_t deadline)
{
  uint64_t now = ofd_monotonic_ms();
  if (now >= deadline) return 0;
  uint64_t d = deadline - now;
  return d > INT32_MAX ? INT32_MAX : (int)d;
}

/* Waits for what OpenSSL asked for; 0 to retry, else an ofd_err_t. */
static int wait_for(tls_conn_t *c, int ssl_error, uint64_t deadline)
{
  short events = ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
  int left = left_of(deadline);
  if (left == 0) return OFD_ERR_TIMEOUT;
  return ofd_wait_fd(c->fd, events, left);
}

static bool is_address(const char *host)
{
  struct in6_addr a6;
  struct in_addr a4;
  return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
}

static void tls_close(void *conn)
{
  tls_conn_t *c = conn;
  if (!c) return;
  if (c->ssl) {
    pipe_guard_t g;
    guard_begin(&g);
    (void)SSL_shutdown(c->ssl); /* one close_notify, no waiting for the peer's */
    guard_end(&g);
    SSL_free(c->ssl);
  }
  if (c->fd >= 0) close(c->fd);
  ERR_clear_error();
  free(c);
}

static int tls_connect(const char *host, uint16_t port, int timeout_ms, void **out)
{
  ofd_tls_t *t = *out; /* the context, by the contract of ofd_transport_t */
  tls_conn_t *c = NULL;
  uint64_t deadline = ofd_monotonic_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
  const char *name = t->server_name ? t->server_name : host;
  char text[200];
  pipe_guard_t g;
  int rc;
  *out = NULL;
  if (!t) return OFD_ERR_ARGUMENT;
  t->last_error[0] = '\0';
  if (!(c = calloc(1, sizeof *c))) return OFD_ERR_NO_MEMORY;
  c->fd = -1;
  c->tls = t;
  if ((rc = ofd_tcp_open(host, port, timeout_ms, &c->fd)) != 0) goto fail;
  if (!(c->ssl = SSL_new(t->ctx)) || SSL_set_fd(c->ssl, c->fd) != 1) {
    note(t, "TLS: %s", queue_text(text, sizeof text));
    rc = OFD_ERR_NO_MEMORY;
    goto fail;
  }
  /* The certificate must be for the host we meant: a name (checked
  ** against its DNS names, and sent as SNI) or an address (checked against
  ** its IP addresses; RFC 6066 forbids an address as SNI). */
  int named = is_address(name)
                  ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name)
                  : SSL_set_tlsext_host_name(c->ssl, name) == 1 && SSL_set1_host(c->ssl, name) == 1;
  if (!named) {
    note(t, "TLS: cannot check the certificate against '%s'", name);
    rc = OFD_ERR_TLS;
    goto fail;
  }
  for (;;) {
    guard_begin(&g);
    int r = SSL_connect(c->ssl);
    int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
    guard_end(&g);
    if (r == 1) break;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if ((rc = wait_for(c, e, deadline)) != 0) {
        if (rc == OFD_ERR_TIMEOUT) note(t, "TLS: no handshake with %s:%u in time", host, port);
        goto fail;
      }
      continue;
    }
    long verify = SSL_get_verify_result(c->ssl);
    if (verify != X509_V_OK)
      note(t, "TLS: the certificate of %s:%u is refused: %s", host, port,
           X509_verify_cert_error_string(verify));
    else
      note(t, "TLS: handshake with %s:%u failed: %s", host, port, queue_text(text, sizeof text));
    ERR_clear_error();
    rc = OFD_ERR_TLS;
    goto fail;
  }
  *out = c;
  return 0;
fail:
  tls_close(c);
  return rc;
}

static int tls_send(void *conn, const uint8_t *buf, size_t len, int timeout_ms)
{
  tls_conn_t *c = conn;
  uint64_t deadline = ofd_monotonic_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
  size_t off = 0;
  while (off < len) {
    size_t n = 0;
    pipe_guard_t g;
    guard_begin(&g);
    int r = SSL_write_ex(c->ssl, buf + off, len - off, &n);
    int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
    int saved = errno;
    guard_end(&g);
    if (r == 1) {
      off += n;
      continue;
    }
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      int rc = wait_for(c, e, deadline);
      if (rc != 0) return rc;
      continue;
    }
    ERR_clear_error();
    if (e == SSL_ERROR_ZERO_RETURN ||
        (e == SSL_ERROR_SYSCALL && (saved == EPIPE || saved == ECONNRESET)))
      return OFD_ERR_CLOSED;
    return OFD_ERR_IO;
  }
  return 0;
}

static int tls_recv(void *conn, uint8_t *buf, size_t cap, int timeout_ms, size_t *got)
{
  tls_conn_t *c = conn;
  uint64_t deadline = ofd_monotonic_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
  *got = 0;
  for (;;) {
    size_t n = 0;
    pipe_guard_t g;
    guard_begin(&g); /* a read may write (a key update's answer) */
    int r = SSL_read_ex(c->ssl, buf, cap, &n);
    int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
    int saved = errno;
    guard_end(&g);
    if (r == 1) {
      *got = n;
      return 0;
    }
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      int rc = wait_for(c, e, deadline);
      if (rc != 0) return rc;
      continue;
    }
    /* A close_notify, or the peer gone without one (OpenSSL 3 reports
    ** that as an SSL error "unexpected eof"): both are "closed" to the
    ** client, which drops the link and sends again later. */
    bool eof = e == SSL_ERROR_ZERO_RETURN ||
               (e == SSL_ERROR_SYSCALL && (saved == 0 || saved == ECONNRESET || saved == EPIPE)) ||
               (e == SSL_ERROR_SSL &&
                ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING);
    ERR_clear_error();
    return eof ? 0 : OFD_ERR_IO;
  }
}

int ofd_tls_create(const ofd_tls_options_t *o, ofd_tls_t **out, char *detail, size_t detail_cap)
{
  ofd_tls_t *t = NULL;
  char text[200];
  int rc = OFD_ERR_ARGUMENT;
  if (out) *out = NULL;
  if (detail && detail_cap) detail[0] = '\0';
  if (!o || !out) return OFD_ERR_ARGUMENT;
  if (!(t = calloc(1, sizeof *t))) return OFD_ERR_NO_MEMORY;
  if (o->server_name && !(t->server_name = strdup(o->server_name))) {
    rc = OFD_ERR_NO_MEMORY;
    goto fail;
  }
  if (!(t->ctx = SSL_CTX_new(TLS_client_method())) ||
      SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) != 1) {
    rc = OFD_ERR_NO_MEMORY;
    goto fail;
  }
  SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
  SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  int loaded = o->ca_file ? SSL_CTX_load_verify_locations(t->ctx, o->ca_file, NULL)
                          : SSL_CTX_set_default_verify_paths(t->ctx);
  if (loaded != 1) {
    if (detail && detail_cap)
      snprintf(detail, detail_cap, "TLS: cannot read the CA file %s: %s",
               o->ca_file ? o->ca_file : "(system default)", queue_text(text, sizeof text));
    rc = OFD_ERR_TLS;
    goto fail;
  }
  *out = t;
  return 0;
fail:
  ERR_clear_error();
  ofd_tls_destroy(t);
  return rc;
}

static const ofd_transport_t tls_transport = {"tls", tls_connect, tls_send, tls_recv, tls_close};

const ofd_transport_t *ofd_transport_tls(void) { return &tls_transport; }

const char *ofd_tls_last_error(const ofd_tls_t *tls) { return tls ? tls->last_error : ""; }

void ofd_tls_destroy(ofd_tls_t *tls)
{
  if (!tls) return;
  SSL_CTX_free(tls->ctx);
  free(tls->server_name);
  free(tls);
}
