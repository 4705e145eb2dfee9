/*
** service.h: `kassa serve`, the till as a long-running service on the
** loopback: the HTTP JSON API (pos/serve/api.h) on one port and the Chestny ZNAK
** local-module endpoints on another.
**
** One process holds one till_t (pos/till/till.h) for its whole life. Requests
** arrive on two libmicrohttpd daemons, each with its own polling thread,
** and are answered one at a time under one mutex, because the till, the FN
** emulator and the cache are single-threaded by contract; a scan's check
** is the only long call (at most [till] budget_ms), and a queue of cashiers
** is served in order anyway.
**
** Both daemons bind 127.0.0.1 only: there is no option to listen on
** another address (a till's API is not for the network; put a proxy with
** TLS and its own authentication in front if it must be reached remotely).
** Hostile clients: every request has SERVICE_REQUEST_DEADLINE_MS for its
** whole head and body from accept (common/conn_guard.h; an idle timeout
** alone restarts on every byte), each port takes at most
** SERVICE_CONNECTIONS_MAX connections and one address three quarters of
** them (the excess is closed at accept); the Host and token gates run on
** the head alone, so an anonymous body is never read, let alone buffered;
** bodies are capped per route (api_body_limit: 64 KiB, 16 MiB for goods
** acceptance) and together (SERVICE_BODY_BUDGET, 503 beyond) as they
** arrive, and large ones are given back to the system when freed. Slow
** sockets cost the polling thread nothing (epoll), so an honest request
** waits only for the requests before it in the till's line. Nothing secret is logged: a log
** line names the method, the path, the status and the stable error name,
** never a header or a body, the client's text (the path) escaped, at most
** SERVICE_LOG_PER_S lines a second (the lines left out are counted).
**
** Stopping is orderly: service_stop() stops accepting connections, lets
** the request in flight finish and its answer leave (up to
** SERVICE_DRAIN_MS), then stops the daemons and closes the till.
*/
#ifndef KASSA_POS_SERVICE_H
#define KASSA_POS_SERVICE_H

#include <stdint.h>
#include <stdio.h>

#include "pos/till/config.h"
#include "pos/till/till.h"

#define SERVICE_DRAIN_MS 10000 /* longest wait for requests in flight at stop */

/* What a client may hold (docs/OPERATIONS.md, "Security"). */
#define SERVICE_CONNECTIONS_MAX     512   /* per port; fewer when few files may be opened */
#define SERVICE_REQUEST_DEADLINE_MS 10000 /* a whole request's head and body, from accept */
#define SERVICE_IDLE_S              10    /* silence that closes a connection */
#define SERVICE_BODY_BUDGET         (48u * 1024u * 1024u) /* bodies buffered, all requests */
#define SERVICE_TAIL_DOCUMENTS      16 /* documents whose signs are checked at start */
#define SERVICE_LOG_PER_S           20 /* refusal lines a second; the rest counted */

typedef struct service service_t;

typedef struct service_options {
  const kassa_config_t *config; /* required; copied by till_open */
  uint16_t http_port;           /* the API's port; 0: an ephemeral port */
  uint16_t lm_port;             /* the local-module port; 0: an ephemeral port */
  till_clock_ms_t clock;        /* the till's wall clock; NULL: the real one */
  void *clock_user;
  FILE *log; /* one line per refused or failed request; NULL: none */
} service_options_t;

/*
** Opens the till in config->data_dir and starts both listeners. Returns 0,
** or -1 with a message for a manager in err (Russian, then English): the
** till cannot be opened (no FN, a broken data directory), the archive's
** last SERVICE_TAIL_DOCUMENTS documents are missing, misnumbered or fail
** their fiscal signs (pos/till/fsck.h), or a port is taken. Nothing is left running on failure.
*/
int service_start(const service_options_t *o, service_t **out, char *err, size_t err_size);

/* The ports actually bound (useful when 0 was asked for). */
uint16_t service_http_port(const service_t *s);
uint16_t service_lm_port(const service_t *s);

/* Stops as described above and frees everything. NULL is fine. */
void service_stop(service_t *s);

#endif /* KASSA_POS_SERVICE_H */
