/*
** ofd/outbox.h: what this till still owes the operators, and what that
** means for selling.
**
** The fiscal storage is the durable queue: it keeps every fiscal document
** until the OFD acknowledges it and every sale notification until the OISM
** tickets it, across power cuts. So the outbox is a view, never a copy:
** outbox_status() reads the counts and the oldest times from the FN and
** turns them into what a manager's screen and `kassa ofd status` show, and
** the two deadlines the law sets:
**
**  - the FN's 30-day rule: when the oldest document the OFD has not
**    acknowledged is 30 days old, the FN refuses every new document (error
**    0x15). We warn from day 25, so there is time to fix the link.
**  - the remote shops' 3-day batch: an autonomous till (registered without
**    an OFD) hands its sale notifications over in batches at least every
**    three days (ofd/batch.h, `kassa batch export|upload`). Counted from
**    the oldest notification that is neither ticketed by the OISM nor
**    exported in a batch, we warn from 48 hours and, by default, refuse new
**    sales of marked goods from 72 hours until a batch is exported or
**    uploaded. Exporting clears the deadline (the batch is on its way);
**    uploading brings the tickets that clear the notifications themselves.
**    The hours and whether to refuse are policy (outbox_policy_t), because
**    the rule's enforcement is the shop's decision, not the FN's.
**
** Behind a cash register (FN_CAP_DEVICE_DELIVERS) the queue is the
** register's: its counts come from the register's status, and the number
** of the first notification stays 0 (no notification comes out of it).
**
** Times are FFD time (local time written as if UTC), like the FN's clock.
*/
#ifndef KASSA_OFD_OUTBOX_H
#define KASSA_OFD_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiscal/fn.h"

typedef enum outbox_level {
  OUTBOX_OK = 0,      /* nothing to worry about */
  OUTBOX_WARNING = 1, /* a deadline is coming: deliver soon */
  OUTBOX_BLOCKED = 2, /* a deadline has passed: sales are refused */
} outbox_level_t;

typedef struct outbox_policy {
  uint32_t fn_warn_days;       /* 25: warn about unacknowledged documents */
  uint32_t fn_limit_days;      /* 30: the FN refuses documents (0x15) */
  uint32_t batch_warn_hours;   /* 48: warn about waiting notifications */
  uint32_t batch_refuse_hours; /* 72: the 3-day batch deadline */
  bool batch_refuses_marked;   /* true: past the deadline, no marked sales */
  bool batch_applies_online;   /* false: the 3-day rule is for autonomous tills */
} outbox_policy_t;

/* The defaults above. */
void outbox_policy_defaults(outbox_policy_t *p);

typedef struct outbox_status {
  char fn_number[17];
  bool autonomous;
  uint32_t now; /* the moment the ages are computed for */
  /* Fiscal documents not acknowledged by the OFD. */
  uint32_t unsent_documents;
  uint32_t first_unsent_number; /* 0 when none */
  uint32_t first_unsent_time;   /* 0 when none */
  uint32_t oldest_document_age; /* seconds, 0 when none */
  /* Sale notifications without an OISM ticket. */
  uint32_t unsent_notifications;
  uint32_t first_notification_number;
  uint32_t first_notification_time;
  uint32_t oldest_notification_age; /* seconds, 0 when none */
  /* Of those, the ones no batch has exported yet: the 3-day clock. */
  uint32_t unexported_notifications;
  uint32_t first_unexported_number; /* 0 when none */
  uint32_t first_unexported_time;   /* 0 when none */
  uint32_t oldest_unexported_age;   /* seconds, 0 when none */
  uint32_t exported_through;        /* the FN's export mark (0: never exported) */
  uint32_t exported_at;             /* when it was set (0: never) */
  /* Levels under the policy given to outbox_status(). */
  outbox_level_t documents_level;  /* the 30-day rule */
  outbox_level_t batch_level;      /* the 3-day batch rule (unexported notifications) */
  outbox_level_t level;            /* the worse of the two */
  uint32_t documents_seconds_left; /* until the FN blocks (0: blocked or none) */
  uint32_t batch_seconds_left;     /* until marked sales stop (0: passed or none) */
} outbox_status_t;

/*
** Read what is owed from the FN and evaluate it at `now` (0: the FN's own
** clock) under policy (NULL: outbox_policy_defaults). Returns 0 or the
** negative fn_err_t of the FN call that failed (FN_ERR_PARAMS for NULLs);
** *out is written only on success. A `now` earlier than a queued item
** counts its age as 0.
*/
int outbox_status(fn_t *fn, uint32_t now, const outbox_policy_t *policy, outbox_status_t *out);

/*
** A notice about a deadline, made at the status's moment from parts (the
** age, the true time left, what to do), in Russian and in English, each
** whole: built by common/errtab.h's errtab_join, never cut mid-word.
*/
#define OUTBOX_NOTICE_MAX 512
typedef struct outbox_notice {
  const char *name;      /* "fn_blocked", "fn_warning", "batch_blocked", "batch_warning",
                            "batch_overdue" (stable) */
  uint32_t seconds_left; /* until the deadline (0: passed) */
  char ru[OUTBOX_NOTICE_MAX];
  char en[OUTBOX_NOTICE_MAX];
} outbox_notice_t;

/*
** May the till sell a marked good now? true (with *why, may be NULL,
** zeroed), or false with *why the notice saying why and what to do: the
** FN's 30-day block (any sale), or the 3-day batch deadline (when the
** policy refuses). policy NULL: defaults.
*/
bool outbox_may_sell_marked(const outbox_status_t *s, const outbox_policy_t *policy,
                            outbox_notice_t *why);

/* "ok", "warning", "blocked" (stable). */
const char *outbox_level_name(outbox_level_t level);

/*
** Warnings for a person's screen, most urgent first: up to cap notices in
** out[], returns how many. Empty when level is OK.
*/
size_t outbox_warnings(const outbox_status_t *s, const outbox_policy_t *policy,
                       outbox_notice_t *out, size_t cap);

/* "Russian / English" of a notice into out (for a one-line log or a
** field that has always carried both). */
void outbox_notice_both(const outbox_notice_t *n, char *out, size_t cap);

/* A time span as a person reads it: "2 дня 3 часа", "23 часа 10 минут",
** "5 минут" ("2 days 3 hours" ...): the two largest units, the second
** left out when 0; under a minute reads as 1 minute. Returns the length. */
size_t outbox_time_text(uint32_t seconds, bool russian, char *out, size_t cap);

/* The name of the k-th notice kind, NULL past the last (for the tests
** that hold every notice to its length budget). */
const char *outbox_notice_name_at(size_t k);

#endif /* KASSA_OFD_OUTBOX_H */
