/*
** ofd/transport_internal.h: what the TCP and TLS backends of ofd/client.h
** share, inside the ofd module only (client.c defines, tls.c uses). TLS
** runs over the same non-blocking TCP connection, the same poll-based
** waits and the same monotonic clock, so a timeout means one thing for
** both.
*/
#ifndef KASSA_OFD_TRANSPORT_INTERNAL_H
#define KASSA_OFD_TRANSPORT_INTERNAL_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t ofd_monotonic_ms(void);

/* Waits up to timeout_ms (negative: 0) for events on fd: 0 ready,
** OFD_ERR_TIMEOUT, OFD_ERR_IO. */
int ofd_wait_fd(int fd, short events, int timeout_ms);

/* A connected non-blocking TCP socket (TCP_NODELAY, close-on-exec) to
** host:port within timeout_ms, in *fd: 0, OFD_ERR_RESOLVE, OFD_ERR_CONNECT,
** OFD_ERR_TIMEOUT. */
int ofd_tcp_open(const char *host, uint16_t port, int timeout_ms, int *fd);

#endif
