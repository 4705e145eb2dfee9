/*
** disk.h: why a write to the data directory failed, in words a manager
** acts on (issue 18).
**
** SQLite says "disk I/O error" or "attempt to write a readonly database";
** the FN emulator and the basket turn any of those into one "storage
** failed". A cashier then saw "the FN refused to check the code" for a full
** disk and "disk failed" for a directory mounted read-only. After a failed
** write the till asks the file system itself: no space left for it
** (statvfs: less free space than TILL_DISK_RESERVE bytes for an
** unprivileged writer), or the directory cannot be written (mounted
** read-only, or no write permission), and says which.
*/
#ifndef KASSA_POS_TILL_DISK_H
#define KASSA_POS_TILL_DISK_H

#include <stdbool.h>

#define TILL_DISK_RESERVE (1024u * 1024u) /* less free space than this counts as full */

typedef enum till_disk {
  TILL_DISK_OK = 0,        /* nothing wrong the file system can tell */
  TILL_DISK_FULL = -1,     /* "disk_full" */
  TILL_DISK_READ_ONLY = -2 /* "read_only" */
} till_disk_t;

/* What is wrong with writing into dir (NULL: TILL_DISK_OK). */
till_disk_t till_disk_diagnose(const char *dir);

/* The stable name and a message for the manager; never NULL. */
const char *till_disk_name(till_disk_t d);
const char *till_disk_message(till_disk_t d, bool russian);

#endif /* KASSA_POS_TILL_DISK_H */
