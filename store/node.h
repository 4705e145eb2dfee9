/*
** store/node.h: the store node, `kassa store serve`: the store (store.h)
** served to the lanes over HTTP, JSON in and out, on loopback or the
** store's LAN.
**
** Routes (every one needs the token: "Authorization: Bearer TOKEN", or
** "X-API-KEY: TOKEN" as the operator's feed is asked):
**   POST /store/v1/claim      {lane, ki, lease_ms} -> {verdict, holder, fn, document}
**   POST /store/v1/release    {lane, ki} -> {ok}
**   POST /store/v1/publish    {lane, fn, document, offline, remark, lines: [{ki, gtin, op}]}
**                             -> {conflicts}
**   POST /store/v1/heartbeat  {lane, lease_ms, fn} -> {published}
**   GET  /store/v1/feed?after=SEQ&limit=N -> {rows: [{seq, ki, gtin, op, lane, fn,
**                             document, offline}], last}
**   GET  /store/v1/conflicts  -> {conflicts: [{ki, first_lane, first_fn,
**                             first_document, second_lane, second_fn, second_document}]}
**   GET  /api/v4/true-api/lm/codes?after=SEQ&limit=N: the records as the
**        operator's sync feed (ofd/registry.h), so `kassa cache sync`
**        pointed at the node fills a lane's cache with every lane's sales.
**   POST /api/v1/cis/outCheck, /api/v2/cis/outCheck, GET /api/v1/status:
**        the Chestny ZNAK local module's API (as pos/serve/lm.c answers it
**        for one till) for the whole store: X-ClientId may be any FN that
**        published to this store; `sold` is true for a code any lane sold
**        (so a front end asking the store refuses a repeat sale across
**        lanes); the rest from the operator's statuses `kassa store sync`
**        put in; HTTP Basic with the token as password is accepted too.
**        Served on the main port and, with lm_port, on a port of its own.
** A store error is {"error": NAME, "message": ...} with 400 (argument),
** 503 (unreachable: the database is down) or 500.
**
** libmicrohttpd with a thread per connection; database sessions are a
** pool shared by the threads (a request holds one while it runs).
*/
#ifndef KASSA_STORE_NODE_H
#define KASSA_STORE_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store_node store_node_t;

typedef struct store_node_options {
  const char *spec;    /* "pg:CONNINFO" or "local:PATH" (store_open) */
  const char *listen;  /* address to bind; NULL: 127.0.0.1 */
  uint16_t port;       /* 0: any free port (store_node_port says which) */
  const char *token;   /* required unless allow_no_token */
  bool allow_no_token; /* loopback tests only */
  uint16_t lm_port;    /* the local-module routes on a port of their own too; 0: none */
  /* A scanned code to its identification part and GTIN (the caller's
  ** parser: scanner/markcode.h, which store/ may not include); false when
  ** the code is not a marking code. NULL: the local-module routes answer
  ** 501. */
  bool (*ki_of)(const char *code, size_t len, char *ki, size_t ki_size, char gtin[15]);
} store_node_options_t;

/* Opens the store once (creating or migrating its schema) and starts
** serving. 0 with *out, or -1 with the reason in err. */
int store_node_start(const store_node_options_t *o, store_node_t **out, char *err, size_t err_size);
uint16_t store_node_port(const store_node_t *n);
uint16_t store_node_lm_port(const store_node_t *n); /* 0: none */
/* Stops serving and closes every connection. NULL is fine. */
void store_node_stop(store_node_t *n);

/*
** One request as the node answers it, without a network (the routes'
** unit test): method "GET"/"POST", path, query ("after=1&limit=2", may be
** NULL), body (NUL-terminated JSON or NULL). Returns the HTTP status and
** *answer (malloc'd JSON text, to free).
*/
int store_node_answer(store_node_t *n, const char *method, const char *path, const char *query,
                      const char *body, char **answer);
/* The same with the request's X-ClientId (NULL: none), for the
** local-module routes. */
int store_node_answer_lm(store_node_t *n, const char *method, const char *path,
                         const char *client_id, const char *body, char **answer);

#endif /* KASSA_STORE_NODE_H */
