/*
** ofd/emulator/http.h: kassa-operator's HTTP port, the emulated true-api
** of the permissive mode (DOMAIN §6) and a control endpoint for tests.
**
** Endpoints (127.0.0.1 only; JSON in, JSON out):
**   GET  /api/v4/true-api/cdn/info          -> {"code":0,"description":"ok",
**        "hosts":[{"host":"http://127.0.0.1:PORT"}, then every --cdn-host]}
**   GET  /api/v4/true-api/cdn/health/check  -> {"code":0,"description":"ok",
**        "avgTimeMs":N}
**   POST /api/v4/true-api/codes/check       header X-API-KEY, body
**        {"codes":["KM"],"fiscalDriveNumber":"FN"} -> {"code":0,
**        "description":"ok","reqId":UUID,"reqTimestamp":MS,"codes":[…]}
**        computed from the OISM registry (store.h); a wrong or missing key
**        is HTTP 401 {"code":401,"description":…}; a malformed body 400.
**   POST /api/v4/true-api/batch/upload     body = a remote shop's batch file
**        (docs/BATCH.md, ofd/batch.h) -> 200 {"code":0,…,"tickets":[…]}
**        with a ticket (84, base64) per notification; 400 malformed, 422
**        inconsistent or a bad notification sign, 404 unknown FN, 403 bad
**        batch signature: {"code","error","description"}, nothing applied
**        (oism.h). Up to 64 MiB; the other routes take 64 KiB.
**   POST /control/fault  {"mode":"drop|delay|garbage|dup-ack|refuse|none"}
**        sets the frame listeners' fault mode (a comma list is fine, as for
**        --fault); {"mode":"slow","ms":N} delays every codes/check answer
**        by N ms ("none" clears it too).
**   POST /control/answer {"cis":"KM","fields":{…},"delayMs":N,"status":S}
**        scripts what codes/check answers for exactly that code (GS as
**        \u001d), so a test can play each case of CRPT's permissive-mode
**        plan: "fields" replace the derived ones in the code's element (the
**        element keeps every field true-api sends), "delayMs" (0..60000)
**        holds the whole answer back, "status" 200 (default) or 203 (the
**        check service's emergency mode: no verdict, the body an error).
**        {"clear":true} forgets every script. Up to 64 scripts; the same
**        code again replaces its script. -> {"scripts":N}
**   POST /control/health {"avgTimeMs":N} sets what health/check reports.
**   GET  /control/stats  -> {"checks":N,"health":N,"batches":N}: requests served.
*/
#ifndef KASSA_OFD_EMULATOR_HTTP_H
#define KASSA_OFD_EMULATOR_HTTP_H

#include "ofd/emulator/http_reply.h"

typedef struct http_server http_server_t;

/* Starts the server on 127.0.0.1:port in its own threads. 0, or -1 (the
** reason went to stderr) with *out NULL. */
int http_start(const http_options_t *options, http_server_t **out);

/* Stops the server and waits for its threads. NULL is fine. */
void http_stop(http_server_t *h);

#endif
