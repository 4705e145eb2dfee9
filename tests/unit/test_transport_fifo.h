/*
** test_transport_fifo.h: a named pipe in a fresh temp folder, for the
** transport tests whose scanner is a FIFO (the fd backend's hang-up, the
** wedge's plain lines). The test writes into fifo.path; fifo_remove()
** takes the pipe and the folder away again.
*/
#ifndef KASSA_TEST_TRANSPORT_FIFO_H
#define KASSA_TEST_TRANSPORT_FIFO_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct fifo {
  char dir[32];
  char path[64];
} fifo_t;

static void fifo_make(fifo_t *f)
{
  snprintf(f->dir, sizeof f->dir, "/tmp/kassa-fifo-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof f->path, "%s/scanner", f->dir);
  assert_int_equal(mkfifo(f->path, 0600), 0);
}

static void fifo_remove(fifo_t *f)
{
  assert_int_equal(unlink(f->path), 0);
  assert_int_equal(rmdir(f->dir), 0);
}

#endif
