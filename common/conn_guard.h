/*
** common/conn_guard.h: a deadline for a whole HTTP request, for servers
** whose library only knows an idle timeout (libmicrohttpd: kassa serve and
** kassa-operator).
**
** An idle timeout restarts on every byte, so a client that sends one
** header line every few seconds holds its connection for ever ("slow
** loris"); enough of them fill every slot and no cashier gets an answer.
** The guard gives each connection a clock instead: from its accept (or
** from the end of its previous request, on a kept-alive connection) the
** client has `deadline_ms` to deliver the request's head and body. While
** the server works on the request and sends the answer the clock is
** stopped (the server's own timeouts cover that). A connection past its
** deadline is shut down (shutdown(2), both ways) by the guard's thread;
** the server then sees the socket fail and closes it the usual way.
**
** The server tells the guard four things, from its own callbacks:
** conn_guard_open at accept, conn_guard_disarm when the request has been
** read (or refused from its head), conn_guard_arm when the answer has
** gone, conn_guard_close before it closes the socket. Because the slot
** leaves the guard under the guard's lock before the socket is closed, the
** guard never shuts down a descriptor number the kernel has given to
** another connection meanwhile.
*/
#ifndef KASSA_COMMON_CONN_GUARD_H
#define KASSA_COMMON_CONN_GUARD_H

#include <stdint.h>

typedef struct conn_guard conn_guard_t;
typedef struct conn_guard_slot conn_guard_slot_t;

/* Starts the guard's thread. 0, or -1 (out of memory, no thread). */
int conn_guard_start(unsigned deadline_ms, conn_guard_t **out);

/* Stops the thread and frees the guard; slots still open are freed too. NULL is fine. */
void conn_guard_stop(conn_guard_t *g);

/* A new connection on socket fd, its clock running. NULL when out of memory
** (the connection then simply has no deadline). */
conn_guard_slot_t *conn_guard_open(conn_guard_t *g, int fd);

/* The request is read: stop the clock. NULL slot is fine. */
void conn_guard_disarm(conn_guard_t *g, conn_guard_slot_t *s);

/* The answer went out: the next request's clock starts now. NULL slot is fine. */
void conn_guard_arm(conn_guard_t *g, conn_guard_slot_t *s);

/* The server is about to close the socket: the slot is freed. NULL slot is fine. */
void conn_guard_close(conn_guard_t *g, conn_guard_slot_t *s);

/* Connections cut at their deadline so far. */
uint64_t conn_guard_cut_count(conn_guard_t *g);

#endif /* KASSA_COMMON_CONN_GUARD_H */
