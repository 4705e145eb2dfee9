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

#include <stdlib.h>
#include <string.h>

#define HOUR 3600u
#define DAY  86400u

static const char msg_fn_blocked[] =
    "ФН заблокирован: документы не переданы в ОФД 30 дней (ошибка 0x15). Восстановите связь и "
    "выполните `kassa ofd flush`. / The FN is blocked: documents have not reached the OFD for 30 "
    "days (error 0x15). Restore the link and run `kassa ofd flush`.";
static const char msg_fn_warning[] =
    "Документы не переданы в ОФД более 25 дней: на 30-й день ФН перестанет пробивать чеки. "
    "Проверьте связь и выполните `kassa ofd flush`. / Documents have not reached the OFD for over "
    "25 days: on day 30 the FN stops making receipts. Check the link and run `kassa ofd flush`.";
static const char msg_batch_blocked[] =
    "Продажа маркированных товаров остановлена: уведомления о продажах не переданы оператору 3 "
    "дня. Выгрузите пакет (`kassa batch export --out FILE`) или передайте его (`kassa batch "
    "upload FILE`, `kassa ofd flush`). / Sales of marked goods are stopped: sale notifications "
    "have not reached the marking operator for 3 days. Export the batch (`kassa batch export "
    "--out FILE`) or deliver it (`kassa batch upload FILE`, `kassa ofd flush`).";
static const char msg_batch_warning[] =
    "Уведомления о продажах ждут передачи оператору более 48 часов: через 72 часа продажа "
    "маркированных товаров будет остановлена. Выгрузите пакет (`kassa batch export`). / Sale "
    "notifications have waited over 48 hours: at 72 hours sales of marked goods stop. Export the "
    "batch (`kassa batch export`).";
static const char msg_batch_overdue[] =
    "Уведомления о продажах ждут передачи оператору более 3 дней. Выгрузите или передайте пакет "
    "(`kassa batch export`, `kassa batch upload`). / Sale notifications have waited over 3 days. "
    "Export or deliver the batch (`kassa batch export`, `kassa batch upload`).";

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
  if (st.unsent_notifications) {
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
                            const char **reason)
{
  outbox_policy_t defaults;
  if (reason) *reason = NULL;
  if (!policy) {
    outbox_policy_defaults(&defaults);
    policy = &defaults;
  }
  if (!s) return false;
  if (s->documents_level == OUTBOX_BLOCKED) {
    if (reason) *reason = msg_fn_blocked;
    return false;
  }
  if (s->batch_level == OUTBOX_BLOCKED && policy->batch_refuses_marked) {
    if (reason) *reason = msg_batch_blocked;
    return false;
  }
  return true;
}

size_t outbox_warnings(const outbox_status_t *s, const outbox_policy_t *policy, const char **out,
                       size_t cap)
{
  outbox_policy_t defaults;
  size_t n = 0;
  if (!s || !out) return 0;
  if (!policy) {
    outbox_policy_defaults(&defaults);
    policy = &defaults;
  }
  if (n < cap && s->documents_level == OUTBOX_BLOCKED) out[n++] = msg_fn_blocked;
  if (n < cap && s->batch_level == OUTBOX_BLOCKED)
    out[n++] = policy->batch_refuses_marked ? msg_batch_blocked : msg_batch_overdue;
  if (n < cap && s->documents_level == OUTBOX_WARNING) out[n++] = msg_fn_warning;
  if (n < cap && s->batch_level == OUTBOX_WARNING) out[n++] = msg_batch_warning;
  return n;
}
