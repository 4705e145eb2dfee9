/*
** ofd/emulator/registry.h: kassa-operator's sync feed for tills' local
** code caches, and the remarking report (routes under /api/v4/true-api/lm/).
**
** A till must decide without a link, so it keeps a copy of what the
** operator knows about the codes it may sell (DOMAIN §6, the local module)
** and brings it up to date page by page. These routes serve that copy:
**
**   GET  /api/v4/true-api/lm/codes?after=CURSOR&limit=N[&owner=INN]
**        header X-API-KEY (the key codes/check wants). At most N codes
**        (default 1000, 1..10000) after CURSOR:
**        {"code":0,"description":"ok","after":"0","next":"s25000.25000.1000.30..",
**         "last":"25000","more":true,"snapshot":{"done":1000,"total":25000},
**         "fields":["ki","gtin","state","blocked","sold","owner","expire",
**                   "mrp","smp"],
**         "codes":[["0104...21...","0460...","INTRODUCED",false,false,
**                   "7700000001",1767225600000,15000,11000], ...]}
**        Each code is a positional array in the order of "fields" (a
**        client checks the list, so a change of order is detected, not
**        misread): state is EMITTED, APPLIED, INTRODUCED (in circulation,
**        or returned to it) or RETIRED (sold, or replaced by remarking);
**        blocked is the code's or its GTIN's block; expire is ms since the
**        epoch (0: none); mrp/smp in kopecks (0: none). "next" is the
**        cursor to ask with next; "more" false means the feed is exhausted
**        at "last" (the newest change). owner filters by the owner's INN.
**
**        Cursors (opaque to a till: at most FEED_CURSOR_MAX characters of
**        [0-9a-z.]): the feed has two parts, as the real local module's
**        full download and increments do. From the start ("0" or no
**        after) it sends a snapshot: every code, in ki order, its cursors
**        "sSEQ.TOTAL.DONE.HEX" (the log's end when the snapshot began, its
**        size then, codes sent so far, the hex of the last ki sent) and
**        "snapshot":{"done","total"} for a progress bar. Why ki order: a
**        till's cache is a B-tree on ki, and ten million codes arriving in
**        key order are appended leaf after leaf, where the change order
**        (random in ki) dirties a leaf per code and runs an initial sync
**        ten times slower. The snapshot's last page says next = "SEQ", and
**        from there the feed is the change log: the codes whose status
**        changed after change SEQ, in the order they changed, a code once,
**        at its latest change ("N" cursors). A code changed while the
**        snapshot was read comes again in the log, in its latest state, so
**        a till that applies every page in order and stores "next" with it
**        (cache_sync_apply) ends with the operator's state, and a killed
**        sync resumes from its last page. Positional arrays keep a page of
**        10 000 codes at about 1 MB and let jansson parse it at several
**        hundred thousand codes a second (bench/cache_lookup.c measures
**        it).
**   POST /api/v4/true-api/lm/remark   {"old":KI or "return:DOC:LINE",
**        "new":full code (GS as \u001d), "owner":INN (optional)}
**        The till remarked a good: the new code (which the operator issued
**        and whose verification part must verify) goes into circulation for
**        the owner (the body's, else the old code's, else its own); the old
**        code, when one is named, leaves circulation for good: codes/check
**        answers realizable=false for it and the feed says RETIRED. Both in
**        one transaction. The same report again is answered 200 with
**        "repeated":true and changes nothing.
**        200 {"code":0,"description":"ok","old","new":KI,"owner","repeated"}
**        400 malformed, 401 key, 404 unknown old or new code, 409 the old
**        code is sold, blocked, not in circulation or already remarked to
**        another code, or the new code is used, 422 the new code's tail
**        does not verify: {"code":N,"description":why,"error":name}.
**
** How the feed knows what changed: store.c keeps a change log in the
** store's file, lm_feed(seq, ki), by triggers on the registry's codes table
** (so every writer, the OISM port, the batch upload and the admin
** subcommands alike, logs its changes), installed with the store together
** with lm_remarks(old, new_ki, owner, at), the remarks. The routes use their own
** connection to that file, under the server's store lock.
*/
#ifndef KASSA_OFD_EMULATOR_REGISTRY_H
#define KASSA_OFD_EMULATOR_REGISTRY_H

#include <stddef.h>

#include <microhttpd.h>

#include "ofd/emulator/http_reply.h"

#define REGISTRY_PREFIX    "/api/v4/true-api/lm/"
#define REGISTRY_LIMIT     1000u
#define REGISTRY_LIMIT_MAX 10000u
#define FEED_CURSOR_MAX    120 /* the longest cursor the feed sends */

/*
** Answers one request whose URL starts with REGISTRY_PREFIX (404 for a
** path under it that is no route, 405 for a wrong method). options gives
** the store's lock and the API key; body/len the request body (NULL for a
** GET). Returns what libmicrohttpd's handler returns.
*/
enum MHD_Result registry_http(const http_options_t *options, struct MHD_Connection *conn,
                              const char *url, const char *method, const char *body, size_t len);

#endif
