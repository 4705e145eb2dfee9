/*
** ofd/outbox.c: the deadlines computed from the FN's own queues.
**
** Nothing is stored here. The counts and the oldest times come from
** fn_status() (the FN keeps them in the same transaction as the documents),
** and the number of the oldest waiting notification from
** fn_notification_next(). The 3-day clock runs from the oldest notification
** that is neither ticketed nor exported (fn.h, "Export for remote shops"):
** a batch written to a medium is on its way, so it stops the clock even
** before its tickets come back. The levels are a pure function of those facts,
** `now` and the policy, so a test moves `now` and sees each threshold
** switch exactly at its hour.
**
** Boundaries: a threshold is reached when the age is equal to it (72 h
** 0 s is refused, 71 h 59 min 59 s is not), the same way the FN counts its
** 30 days.
*/
#include "ofd/outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errtab.h"

#define HOUR 3600u
#define DAY  86400u

/* The notices, each from parts so that none is ever cut: what has
** happened (with the age and the true time left filled in), then what to
** do. {limit}, {age} and {left} stand for outbox_time_text() of the
** policy's limit, the age of the oldest item and the time left. */
typedef struct notice_text {
  const char *name;
  const char *ru_what, *ru_todo;
  const char *en_what, *en_todo;
} notice_text_t;

enum { N_FN_BLOCKED, N_FN_WARNING, N_BATCH_BLOCKED, N_BATCH_WARNING, N_BATCH_OVERDUE };

static const notice_text_t notices[] = {
    [N_FN_BLOCKED] =
        {"fn_blocked",
         "ФН заблокирован: документы не переданы в ОФД {age} (срок {limit}, ошибка 0x15).",
         "Восстановите связь и выполните kassa ofd flush.",
         "The FN is blocked: documents have not reached the OFD for {age} (the limit is {limit}, "
         "error 0x15).",
         "Restore the link and run kassa ofd flush."},
    [N_FN_WARNING] =
        {"fn_warning",
         "Документы не переданы в ОФД {age}: через {left} ФН перестанет пробивать чеки.",
         "Проверьте связь и выполните kassa ofd flush.",
         "Documents have not reached the OFD for {age}: in {left} the FN stops making "
         "receipts.",
         "Check the link and run kassa ofd flush."},
    [N_BATCH_BLOCKED] = {"batch_blocked",
                         "Уведомления о продажах не переданы оператору {age} (срок {limit}).",
                         "Выгрузите пакет (kassa batch export --out FILE) или передайте его "
                         "(kassa batch upload FILE, kassa ofd flush).",
                         "Sale notifications have not reached the marking operator for {age} "
                         "(the limit is {limit}).",
                         "Export the batch (kassa batch export --out FILE) or deliver it "
                         "(kassa batch upload FILE, kassa ofd flush)."},
    [N_BATCH_WARNING] =
        {"batch_warning",
         "Уведомления о продажах ждут передачи оператору {age}: через {left} "
         "продажа маркированных товаров будет остановлена.",
         "Выгрузите пакет (kassa batch export --out FILE).",
         "Sale notifications have waited {age}: in {left} sales of marked goods stop.",
         "Export the batch (kassa batch export --out FILE)."},
    [N_BATCH_OVERDUE] = {"batch_overdue",
                         "Уведомления о продажах ждут передачи оператору {age} (срок {limit}).",
                         "Выгрузите или передайте пакет (kassa batch export --out FILE, kassa "
                         "batch upload FILE).",
                         "Sale notifications have waited {age} (the limit is {limit}).",
                         "Export or deliver the batch (kassa batch export --out FILE, kassa "
                         "batch upload FILE)."},
};

/* The Russian word for n of something: one (1, 21 ...), few (2-4, 22 ...),
** many (5-20, 0 ...). */
static const char *plural_ru(uint32_t n, const char *one, const char *few, const char *many)
{
  uint32_t d = n % 10, dd = n % 100;
  if (d == 1 && dd != 11) return one;
  if (d >= 2 && d <= 4 && (dd < 12 || dd > 14)) return few;
  return many;
}

/* "N unit" in the language: days, hours, minutes. */
static int unit_text(char *out, size_t cap, uint32_t n, int unit, bool russian)
{
  static const char *const ru[3][3] = {
      {"день", "дня", "дней"}, {"час", "часа", "часов"}, {"минуту", "минуты", "минут"}};
  static const char *const en[3][2] = {{"day", "days"}, {"hour", "hours"}, {"minute", "minutes"}};
  return snprintf(out, cap, "%u %s", n,
                  russian ? plural_ru(n, ru[unit][0], ru[unit][1], ru[unit][2])
                          : en[unit][n == 1 ? 0 : 1]);
}

size_t outbox_time_text(uint32_t seconds, bool russian, char *out, size_t cap)
{
  uint32_t days = seconds / DAY, hours = seconds % DAY / HOUR, minutes = seconds % HOUR / 60u;
  uint32_t big = days ? days : hours, small = days ? hours : minutes;
  int big_unit = days ? 0 : 1;
  char a[32] = "", b[32] = "";
  if (!out || cap == 0) return 0;
  if (!days && !hours) {
    unit_text(a, sizeof a, minutes ? minutes : 1, 2, russian);
  } else {
    unit_text(a, sizeof a, big, big_unit, russian);
    if (small) unit_text(b, sizeof b, small, big_unit + 1, russian);
  }
  const char *parts[] = {a, b};
  errtab_join(out, cap, parts, 2);
  return strlen(out);
}

/* The template with {limit}, {age}, {left} replaced by values[0..2];
** the texts are ours and sized for it (the tests check every notice). */
static void fill_in(char *out, size_t cap, const char *template, const char *const values[3])
{
  static const char *const keys[] = {"{limit}", "{age}", "{left}"};
  size_t used = 0;
  while (*template && used + 1 < cap) {
    size_t k = 0, klen = 0;
    for (; k < 3; k++)
      if (!strncmp(template, keys[k], klen = strlen(keys[k]))) break;
    const char *piece = k < 3 ? values[k] : template;
    size_t len = k < 3 ? strlen(piece) : 1;
    if (used + len >= cap) { /* never with our texts: end at a word, not in one */
      while (used > 0 && out[used - 1] != ' ') used--;
      break;
    }
    memcpy(out + used, piece, len);
    used += len;
    template += k < 3 ? klen : 1;
  }
  out[used] = '\0';
}

/* Fills *out with notice k for status s under policy p. */
static void notice_fill(outbox_notice_t *out, int k, const outbox_status_t *s,
                        const outbox_policy_t *p)
{
  bool fn = k == N_FN_BLOCKED || k == N_FN_WARNING;
  uint32_t limit = fn ? p->fn_limit_days * DAY : p->batch_refuse_hours * HOUR;
  uint32_t age = fn ? s->oldest_document_age : s->oldest_unexported_age;
  uint32_t left = fn ? s->documents_seconds_left : s->batch_seconds_left;
  const notice_text_t *n = &notices[k];
  out->name = n->name;
  out->seconds_left = left;
  for (int lang = 0; lang < 2; lang++) {
    bool russian = lang == 0;
    char limit_text[64], age_text[64], left_text[64], what[OUTBOX_NOTICE_MAX];
    /* The age in whole hours up to three days, in days and hours after. */
    outbox_time_text(limit, russian, limit_text, sizeof limit_text);
    outbox_time_text(age >= 3 * DAY || age < HOUR ? age : age - age % HOUR, russian, age_text,
                     sizeof age_text);
    outbox_time_text(left, russian, left_text, sizeof left_text);
    const char *values[] = {limit_text, age_text, left_text};
    fill_in(what, sizeof what, russian ? n->ru_what : n->en_what, values);
    const char *parts[] = {what, russian ? n->ru_todo : n->en_todo};
    errtab_join(russian ? out->ru : out->en, OUTBOX_NOTICE_MAX, parts, 2);
  }
}

void outbox_notice_both(const outbox_notice_t *n, char *out, size_t cap)
{
  const char *parts[] = {n->ru, "/", n->en};
  errtab_join(out, cap, parts, 3);
}

const char *outbox_notice_name_at(size_t k)
{
  return k < sizeof notices / sizeof notices[0] ? notices[k].name : NULL;
}

void outbox_policy_defaults(outbox_policy_t *p)
{
  if (!p) return;
  memset(p, 0, sizeof *p);
  p->fn_warn_days = 25;
  p->fn_limit_days = 30;
  p->batch_warn_hours = 48;
  p->batch_refuse_hours = 72;
  p->batch_refuses_marked = true;
  p->batch_applies_online = false;
}

const char *outbox_level_name(outbox_level_t level)
{
  switch (level) {
  case OUTBOX_OK:
    return "ok";
  case OUTBOX_WARNING:
    return "warning";
  case OUTBOX_BLOCKED:
    return "blocked";
  }
  return "unknown";
}

static uint32_t age_of(uint32_t now, uint32_t since) { return now > since ? now - since : 0; }

/* Level for an age against warn/limit thresholds in seconds. */
static outbox_level_t level_of(uint32_t age, uint64_t warn, uint64_t limit, uint32_t *left)
{
  *left = age < limit ? (uint32_t)(limit - age) : 0;
  if (age >= limit) return OUTBOX_BLOCKED;
  if (age >= warn) return OUTBOX_WARNING;
  return OUTBOX_OK;
}

int outbox_status(fn_t *fn, uint32_t now, const outbox_policy_t *policy, outbox_status_t *out)
{
  outbox_policy_t defaults;
  outbox_status_t s;
  fn_status_t st;
  fn_notification_t *n = NULL;
  int rc;
  if (!fn || !out) return FN_ERR_PARAMS;
  if (!policy) {
    outbox_policy_defaults(&defaults);
    policy = &defaults;
  }
  if ((rc = fn_status(fn, &st)) != 0) goto fail;
  memset(&s, 0, sizeof s);
  memcpy(s.fn_number, st.fn_number, sizeof s.fn_number);
  s.fn_number[sizeof s.fn_number - 1] = '\0';
  s.autonomous = st.autonomous;
  s.now = now ? now : st.now;
  s.unsent_documents = st.unsent_documents;
  if (st.unsent_documents) {
    s.first_unsent_number = st.first_unsent_number;
    s.first_unsent_time = st.first_unsent_time;
    s.oldest_document_age = age_of(s.now, st.first_unsent_time);
    s.documents_level = level_of(s.oldest_document_age, (uint64_t)policy->fn_warn_days * DAY,
                                 (uint64_t)policy->fn_limit_days * DAY, &s.documents_seconds_left);
  }
  s.unsent_notifications = st.unsent_notifications;
  /* A register's queue is its own (fn.h, FN_CAP_DEVICE_DELIVERS): its status
  ** counts it, and no notification comes out of it for kassa to read. */
  if (st.unsent_notifications && (fn_capabilities(fn) & FN_CAP_DEVICE_DELIVERS)) {
    s.first_notification_time = st.first_unsent_notification_time;
    if (s.first_notification_time)
      s.oldest_notification_age = age_of(s.now, s.first_notification_time);
  } else if (st.unsent_notifications && st.first_unsent_notification_number &&
             st.first_unsent_notification_time) {
    /* The status names the first one (the emulator's does): no read. */
    s.first_notification_number = st.first_unsent_notification_number;
    s.first_notification_time = st.first_unsent_notification_time;
    s.oldest_notification_age = age_of(s.now, s.first_notification_time);
  } else if (st.unsent_notifications) {
    n = malloc(sizeof *n);
    if (!n) {
      rc = FN_ERR_NO_MEMORY;
      goto fail;
    }
    rc = fn_notification_next(fn, n);
    if (rc != 0) goto fail;
    s.first_notification_number = n->number;
    s.first_notification_time =
        st.first_unsent_notification_time ? st.first_unsent_notification_time : n->time;
    s.oldest_notification_age = age_of(s.now, s.first_notification_time);
  }
  s.exported_through = st.notifications_exported_through;
  s.exported_at = st.notifications_exported_at;
  s.unexported_notifications = st.unexported_notifications;
  if (st.unexported_notifications) {
    s.first_unexported_number = st.first_unexported_notification_number;
    s.first_unexported_time = st.first_unexported_notification_time;
    s.oldest_unexported_age = age_of(s.now, s.first_unexported_time);
    if (s.autonomous || policy->batch_applies_online)
      s.batch_level = level_of(s.oldest_unexported_age, (uint64_t)policy->batch_warn_hours * HOUR,
                               (uint64_t)policy->batch_refuse_hours * HOUR, &s.batch_seconds_left);
  }
  s.level = s.documents_level > s.batch_level ? s.documents_level : s.batch_level;
  *out = s;
  rc = 0;
fail:
  free(n);
  return rc;
}

bool outbox_may_sell_marked(const outbox_status_t *s, const outbox_policy_t *policy,
                            outbox_notice_t *why)
{
  outbox_policy_t defaults;
  if (why) memset(why, 0, sizeof *why);
  if (!policy) {
    outbox_policy_defaults(&defaults);
    policy = &defaults;
  }
  if (!s) return false;
  if (s->documents_level == OUTBOX_BLOCKED) {
    if (why) notice_fill(why, N_FN_BLOCKED, s, policy);
    return false;
  }
  if (s->batch_level == OUTBOX_BLOCKED && policy->batch_refuses_marked) {
    if (why) notice_fill(why, N_BATCH_BLOCKED, s, policy);
    return false;
  }
  return true;
}

size_t outbox_warnings(const outbox_status_t *s, const outbox_policy_t *policy,
                       outbox_notice_t *out, size_t cap)
{
  outbox_policy_t defaults;
  int which[4];
  size_t n = 0, count = 0;
  if (!s || !out) return 0;
  if (!policy) {
    outbox_policy_defaults(&defaults);
    policy = &defaults;
  }
  if (s->documents_level == OUTBOX_BLOCKED) which[n++] = N_FN_BLOCKED;
  if (s->batch_level == OUTBOX_BLOCKED)
    which[n++] = policy->batch_refuses_marked ? N_BATCH_BLOCKED : N_BATCH_OVERDUE;
  if (s->documents_level == OUTBOX_WARNING) which[n++] = N_FN_WARNING;
  if (s->batch_level == OUTBOX_WARNING) which[n++] = N_BATCH_WARNING;
  for (size_t i = 0; i < n && count < cap; i++) notice_fill(&out[count++], which[i], s, policy);
  return count;
}
