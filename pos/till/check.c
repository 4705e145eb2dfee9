/*
** check.c: the decision pipeline for one scan (see check.h for the order
** of the rules and why it is that order).
**
** Each rule is a small function that either passes or fills the decision
** with its reason; check_scan() runs them in order and, once the FN holds
** the code, makes sure a refusal declines it there. The reasons' names and
** messages are one table, so the API, the pages and docs/API.md cannot
** drift apart.
*/
#include "pos/till/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/errtab.h"
#include "common/part.h"
#include "ofd/client.h"
#include "ofd/outbox.h"
#include "ofd/trueapi.h"
#include "pos/till/disk.h"
#include "pos/till/fiscal_text.h"
#include "pos/till/lane_store.h"
#include "pos/till/state_internal.h"

/* The reason table: the name (a contract), the sentence a person reads
** (the banner, the API's message_*, the log) and the short form (a line of
** a 58 mm receipt or a screen's list: CHECK_SHORT_CHARS), Russian and
** English of each side by side. test_till's reason-table test holds every
** row to the budgets of check.h. */
static const struct {
  const char *name, *ru, *en, *short_ru, *short_en;
} reasons[CHECK__COUNT] = {
    [CHECK_OK] = {"ok", "Можно продавать.", "May be sold.", "Можно продавать", "May be sold"},
    [CHECK_BAD_CODE] = {"bad_code", "Код не читается как код маркировки или штрихкод.",
                        "Not a readable marking code or barcode.", "Код не читается",
                        "Unreadable code"},
    [CHECK_UNSUPPORTED] = {"unsupported", "Алкоголь с кодом ЕГАИС эта касса не продаёт.",
                           "EGAIS alcohol codes are not sold by this till.",
                           "Алкоголь ЕГАИС не продаётся", "EGAIS alcohol not sold"},
    [CHECK_UNKNOWN_PRODUCT] = {"unknown_product", "Товара нет в справочнике: позовите менеджера.",
                               "The product is not in the catalogue: call a manager.",
                               "Нет в справочнике", "Not in the catalogue"},
    [CHECK_GROUP_MISMATCH] = {"group_mismatch",
                              "Код маркировки не той товарной группы, что у товара в справочнике.",
                              "The marking code is not of the product's group in the catalogue.",
                              "Код не той товарной группы", "Code of another group"},
    [CHECK_MARK_REQUIRED] = {"mark_required",
                             "Это маркированный товар: сканируйте код маркировки (DataMatrix), а "
                             "не штрихкод.",
                             "This good is marked: scan its DataMatrix marking code, not the "
                             "barcode.",
                             "Нужен код маркировки", "Marking code needed"},
    [CHECK_DUPLICATE] = {"duplicate", "Этот код уже есть в чеке.",
                         "This code is already in the receipt.", "Код уже в чеке",
                         "Already in the receipt"},
    [CHECK_SOLD_HERE] = {"already_sold", "Товар с этим кодом уже продан: продавать нельзя.",
                         "A good with this code has already been sold: do not sell it.",
                         "Уже продан здесь", "Already sold here"},
    [CHECK_BLOCKED_LOCAL] = {"blocked", "Код заблокирован: продажа запрещена.",
                             "The code is blocked: sale forbidden.", "Заблокирован магазином",
                             "Blocked by the store"},
    [CHECK_REMARKED] = {"remarked", "Код заменён при перемаркировке: сканируйте новый код.",
                        "The code was replaced by remarking: scan the new code.",
                        "Код заменён перемаркировкой", "Replaced by remarking"},
    [CHECK_NOT_IN_STOCK] = {"not_in_stock", "Кода нет в остатках магазина: товар не принимали.",
                            "The code is not in the store's stock: the good was never accepted.",
                            "Нет в остатках", "Not in stock"},
    [CHECK_NOT_SOLD_HERE] = {"not_sold_here",
                             "Этот код не продавался в этом магазине: возврат "
                             "по нему невозможен.",
                             "This code was not sold by this store: it cannot be returned here.",
                             "Не продавался здесь", "Not sold here"},
    [CHECK_DEADLINE] = {"delivery_overdue",
                        "Продажа маркированных товаров остановлена: сроки передачи данных "
                        "нарушены.",
                        "Marked sales are stopped: a delivery deadline has passed.",
                        "Сроки передачи нарушены", "Delivery deadline passed"},
    [CHECK_FN_REFUSED] = {"fn_refused", "Фискальный накопитель отказал в проверке кода.",
                          "The fiscal storage refused to check the code.", "ФН отказал в проверке",
                          "The FN refused the check"},
    [CHECK_COUNTERFEIT] = {"counterfeit",
                           "Код не прошёл криптографическую проверку: возможно, подделка. "
                           "Продавать нельзя.",
                           "The code failed its crypto check: possibly counterfeit. Do not "
                           "sell.",
                           "Не прошёл криптопроверку", "Crypto check failed"},
    [CHECK_NO_KEY] = {"no_key", "Нет действующего ключа проверки: обновите ключи ФН.",
                      "No valid verification key: update the FN's keys.", "Нет ключа проверки в ФН",
                      "No verification key"},
    [CHECK_OP_BAD_FORMAT] = {"op_bad_format", "Оператор: код некорректен.",
                             "The operator says the code is malformed.",
                             "Оператор: код некорректен", "Operator: malformed code"},
    [CHECK_OP_NOT_FOUND] = {"op_not_found", "Оператор не знает этот код: возможно, подделка.",
                            "The operator does not know this code: possibly counterfeit.",
                            "Оператор не знает код", "Unknown to the operator"},
    [CHECK_OP_NOT_APPLIED] = {"op_not_applied", "Код не нанесён на товар (не введён в оборот).",
                              "The code was never applied to a good.", "Код не введён в оборот",
                              "Code never applied"},
    [CHECK_OP_CRYPTO] = {"op_crypto_failed", "Оператор: код не прошёл проверку подлинности.",
                         "The operator's authenticity check failed.", "Оператор: не подлинный",
                         "Operator: not authentic"},
    [CHECK_OP_BLOCKED] = {"op_blocked",
                          "Продажа запрещена: код заблокирован по решению органа "
                          "власти.",
                          "Sale forbidden: the code is blocked by an authority.",
                          "Заблокирован органом власти", "Blocked by an authority"},
    [CHECK_OP_SOLD] = {"op_sold", "Товар с этим кодом уже выведен из оборота (продан).",
                       "This code is already out of circulation (sold).", "Уже выведен из оборота",
                       "Already out of circulation"},
    [CHECK_OP_NOT_REALIZABLE] = {"op_not_in_circulation", "Товар не в обороте: продавать нельзя.",
                                 "The good is not in circulation: do not sell it.", "Не в обороте",
                                 "Not in circulation"},
    [CHECK_OISM_REFUSED] = {"oism_refused", "Честный ЗНАК: статус кода не позволяет продажу.",
                            "Chestny ZNAK: the code's status does not allow this sale.",
                            "ЧЗ: продажа запрещена", "Chestny ZNAK: refused"},
    [CHECK_OISM_SUSPENDED] = {"oism_suspended", "Честный ЗНАК: оборот товара приостановлен.",
                              "Chestny ZNAK: circulation of the good is suspended.",
                              "ЧЗ: оборот приостановлен", "Chestny ZNAK: suspended"},
    [CHECK_OFFLINE_BLOCKED] = {"offline_blocked",
                               "Нет связи с оператором; по локальной базе код заблокирован.",
                               "No link to the operator; the local database says blocked.",
                               "Нет связи; заблокирован", "Offline; blocked"},
    [CHECK_OFFLINE_SOLD] = {"offline_sold",
                            "Нет связи с оператором; по локальной базе код уже продан.",
                            "No link to the operator; the local database says already sold.",
                            "Нет связи; уже продан", "Offline; already sold"},
    [CHECK_EXPIRED] = {"expired", "Срок годности истёк: продавать нельзя.",
                       "Past its expiry date: do not sell.", "Срок годности истёк",
                       "Past its expiry date"},
    [CHECK_PRICE_ABOVE_MAX] = {"price_above_max",
                               "Цена выше максимальной розничной (МРЦ) на пачке.",
                               "The price is above the maximum retail price on the pack.",
                               "Цена выше МРЦ", "Price above the MRP"},
    [CHECK_PRICE_BELOW_MIN] = {"price_below_min",
                               "Цена ниже минимальной розничной цены (табак, никотинсодержащая "
                               "продукция).",
                               "The price is below the minimum retail price (tobacco, nicotine "
                               "products).",
                               "Цена ниже минимальной", "Price below the minimum"},
    [CHECK_STORE_HELD] = {"store_held", "Этот код уже в чеке на другой кассе магазина.",
                          "This code is in an open receipt at another lane of the store.",
                          "В чеке на другой кассе", "In another lane's receipt"},
    [CHECK_STORE_SOLD] = {"store_sold", "Товар с этим кодом уже продан на кассе магазина.",
                          "A good with this code has already been sold at a lane of the store.",
                          "Продан на другой кассе", "Sold at another lane"},
    [CHECK_STORE_OFFLINE] = {"store_offline",
                             "Нет связи с сервером магазина; эту товарную группу без него не "
                             "продают.",
                             "No link to the store node; this product group is not sold without "
                             "it.",
                             "Нет связи с сервером магазина", "No link to the store node"},
    [CHECK_PART_EXCEEDS] = {"part_exceeds",
                            "Упаковка продаётся частями: от неё осталось меньше, чем продаётся.",
                            "The pack is sold by parts: less of it is left than this sale takes.",
                            "Остаток упаковки меньше", "Less of the pack is left"},
    [CHECK_PART_NOT_SOLD] = {"part_not_sold", "Возвращается больше, чем продано из этой упаковки.",
                             "This return takes back more of the pack than was sold.",
                             "Возврат больше проданного", "More than was sold"},
    [CHECK_TILL_DISK] = {"till_disk", "Диск кассы не принимает запись: код не проверен.",
                         "The till's disk takes no writes: the code was not checked.",
                         "Диск кассы не пишет", "The till's disk failed"},
};

const char *check_reason_name(check_reason_t r)
{
  return (unsigned)r < CHECK__COUNT ? reasons[r].name : "unknown";
}

const char *check_reason_message(check_reason_t r, bool russian)
{
  if ((unsigned)r >= CHECK__COUNT) return russian ? "Неизвестная причина." : "Unknown reason.";
  return russian ? reasons[r].ru : reasons[r].en;
}

const char *check_reason_short(check_reason_t r, bool russian)
{
  if ((unsigned)r >= CHECK__COUNT) return russian ? "Неизвестная причина" : "Unknown reason";
  return russian ? reasons[r].short_ru : reasons[r].short_en;
}

const char *check_answered_by(const check_decision_t *d)
{
  if (!d) return "";
  if (d->oism_answered && d->trueapi_answered) return "both";
  if (d->oism_answered) return "oism";
  if (d->trueapi_answered) return "trueapi";
  if (d->lm_checked) return "local_module";
  if (d->offline) return "cache";
  return "";
}

const char *check_mark_for(uint8_t tag2106)
{
  switch (tag2106) {
  case 15:
    return "[М+]";
  case 1:
  case 5:
  case 7:
  case 17:
    return "[М-]";
  default:
    return "[М]";
  }
}

/* Sets the refusal and its messages: the reason's sentence, then
** more_ru/more_en (a sentence, NULL for none), joined whole by
** errtab_join (a detail too long for the message ends at a word with "…",
** never inside one). Returns 1 so rules can `return refuse(...)`. */
static int refuse(check_decision_t *d, check_reason_t r, const char *detail, const char *more_ru,
                  const char *more_en)
{
  d->allow = false;
  d->reason = r;
  const char *ru[] = {reasons[r].ru, more_ru}, *en[] = {reasons[r].en, more_en};
  errtab_join(d->message_ru, sizeof d->message_ru, ru, 2);
  errtab_join(d->message_en, sizeof d->message_en, en, 2);
  snprintf(d->detail, sizeof d->detail, "%s", detail ? detail : "");
  fiscal_text_utf8_clean(d->message_ru);
  fiscal_text_utf8_clean(d->message_en);
  fiscal_text_utf8_clean(d->detail);
  return 1;
}

/* ---- product groups ------------------------------------------------------ */

/* The code families a product group's marks come in (markcode layouts). */
typedef enum family { FAM_ANY = 0, FAM_CRYPTO, FAM_DAIRY, FAM_SHORT, FAM_TOBACCO } family_t;

static const struct {
  const char *group;
  family_t family;
  bool expires;  /* expiry rules apply (dairy, water, beer) */
  bool tobacco;  /* price rules apply */
  bool nicotine; /* the minimum price (cached mrp) applies */
} groups[] = {
    {"footwear", FAM_CRYPTO, false, false, false},
    {"lp", FAM_CRYPTO, false, false, false},
    {"clothes", FAM_CRYPTO, false, false, false},
    {"tyres", FAM_CRYPTO, false, false, false},
    {"perfume", FAM_CRYPTO, false, false, false},
    {"photo", FAM_CRYPTO, false, false, false},
    {"pharma", FAM_CRYPTO, false, false, false},
    {"bicycles", FAM_CRYPTO, false, false, false},
    {"wheelchairs", FAM_CRYPTO, false, false, false},
    {"dairy", FAM_DAIRY, true, false, false},
    {"water", FAM_SHORT, true, false, false},
    {"beer", FAM_SHORT, true, false, false},
    {"antiseptic", FAM_SHORT, false, false, false},
    {"supplements", FAM_SHORT, false, false, false},
    {"tobacco", FAM_TOBACCO, false, true, false},
    {"otp", FAM_TOBACCO, false, true, false},
    {"nicotine", FAM_ANY, false, false, true},
};

static int group_index(const char *group)
{
  for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
    if (!strcmp(groups[i].group, group)) return (int)i;
  return -1;
}

/* The family a parsed mark belongs to, from its shape. */
static family_t code_family(const markcode_t *mc)
{
  if (mc->kind == MARKCODE_KIND_TOBACCO_PACK) return FAM_TOBACCO;
  if (mc->kind != MARKCODE_KIND_GS1) return FAM_ANY;
  if (markcode_ai_value(mc, "8005") || (mc->fixes & MARKCODE_FIX_MRP_UNLABELLED))
    return FAM_TOBACCO;
  if (markcode_ai_value(mc, "92") && markcode_ai_value(mc, "91")) return FAM_CRYPTO;
  if (markcode_ai_value(mc, "93")) return strlen(mc->serial) == 6 ? FAM_DAIRY : FAM_SHORT;
  return FAM_ANY;
}

/* ---- rules before the FN ------------------------------------------------- */

static int rule_parse(markcode_t *mc, const char *scan, size_t len, check_decision_t *d)
{
  char ru[256], en[256];
  if (markcode_parse(mc, scan, len) != MARKCODE_OK) {
    markcode_message(mc, MARKCODE_LANG_RU, ru, sizeof ru);
    markcode_message(mc, MARKCODE_LANG_EN, en, sizeof en);
    return refuse(d, CHECK_BAD_CODE, markcode_err_code(mc->err), ru, en);
  }
  d->kind = mc->kind;
  if (mc->kind == MARKCODE_KIND_EGAIS2 || mc->kind == MARKCODE_KIND_EGAIS3)
    return refuse(d, CHECK_UNSUPPORTED, markcode_kind_name(mc->kind), NULL, NULL);
  d->marked = mc->kind == MARKCODE_KIND_GS1 || mc->kind == MARKCODE_KIND_TOBACCO_PACK ||
              mc->kind == MARKCODE_KIND_FUR;
  /* Plain barcodes: the GTIN is the digits, padded to 14. */
  size_t g = strlen(mc->gtin);
  if (g > 14) g = 14;
  memset(d->gtin, '0', 14);
  memcpy(d->gtin + 14 - g, mc->gtin, g);
  d->gtin[14] = '\0';
  if (d->marked) {
    size_t k = strlen(mc->ki);
    if (k >= sizeof d->ki) return refuse(d, CHECK_BAD_CODE, "ki_too_long", NULL, NULL);
    memcpy(d->ki, mc->ki, k + 1);
    memcpy(d->normalized, mc->normalized, mc->normalized_len + 1);
    d->normalized_len = mc->normalized_len;
  }
  return 0;
}

static int rule_catalogue(till_t *t, const markcode_t *mc, const cache_product_t *given,
                          check_decision_t *d)
{
  if (cache_product_get(t->cache, d->gtin, &d->product) != 0) {
    if (!given) return refuse(d, CHECK_UNKNOWN_PRODUCT, d->gtin, NULL, NULL);
    /* A front end's own product (check_scan_given): the marking rules
    ** still apply, the group's only when it names one. */
    d->product = *given;
    snprintf(d->product.gtin, sizeof d->product.gtin, "%s", d->gtin);
    d->has_product = true;
    if (!d->marked) return 0;
    if (!d->product.group[0]) return 0;
  }
  d->has_product = true;
  if (!d->marked)
    return d->product.marking_required ? refuse(d, CHECK_MARK_REQUIRED, d->gtin, NULL, NULL) : 0;
  if (!d->product.group[0] || !d->product.marking_required)
    return refuse(d, CHECK_GROUP_MISMATCH, "unmarked_product",
                  "По справочнику этот товар не маркируется.",
                  "The catalogue says this good is not marked.");
  int gi = group_index(d->product.group);
  family_t f = code_family(mc);
  if (gi >= 0 && f != FAM_ANY && groups[gi].family != FAM_ANY && groups[gi].family != f)
    return refuse(d, CHECK_GROUP_MISMATCH, d->product.group, NULL, NULL);
  return 0;
}

static int rule_receipt(const char *const *in_receipt, size_t n, check_decision_t *d)
{
  for (size_t i = 0; i < n; i++)
    if (in_receipt[i] && !strcmp(in_receipt[i], d->ki))
      return refuse(d, CHECK_DUPLICATE, NULL, NULL, NULL);
  return 0;
}

/* A pack sold by parts (common/part.h): does this line's part fit what is
** left (a sale) or what is sold (a return)? The cached account, or the
** whole pack when it was sold whole. 0 fits, else the refusal, saying how
** much is left or sold. */
static int rule_part(const check_request_t *req, const cache_code_t *row, check_decision_t *d)
{
  part_account_t have = {row->part_sold, row->part_units}, next;
  char left[48], ru[160], en[160];
  bool sale = req->purpose == CHECK_FOR_SALE;
  if (have.units == 0) have = (part_account_t){1, 1}; /* sold whole */
  int rc = part_apply(&have, sale, req->fraction_numerator, req->fraction_denominator, &next);
  if (rc == PART_OK) return 0;
  if (rc != PART_ERR_EXCEEDS)
    return refuse(d, CHECK_BAD_CODE, "fraction", "Слишком мелкая доля упаковки.",
                  "Too small a part of the pack.");
  if (sale) {
    part_left_text(&have, left, sizeof left);
    snprintf(ru, sizeof ru, "Осталось %s упаковки.", left);
    snprintf(en, sizeof en, "%s of the pack is left.", left);
    return refuse(d, CHECK_PART_EXCEEDS, left, ru, en);
  }
  snprintf(left, sizeof left, "%llu/%llu", (unsigned long long)have.sold,
           (unsigned long long)have.units);
  snprintf(ru, sizeof ru, "Продано %s упаковки.", left);
  snprintf(en, sizeof en, "%s of the pack is sold.", left);
  return refuse(d, CHECK_PART_NOT_SOLD, left, ru, en);
}

static int rule_local(till_t *t, const markcode_t *mc, const check_request_t *req,
                      cache_code_t *row, bool *have_row, check_decision_t *d)
{
  bool blocked = false;
  cache_block_kind_t kind = 0;
  const char *why = NULL;
  check_purpose_t purpose = req->purpose;
  *have_row = cache_code_get(t->cache, d->ki, row) == 0;
  if (*have_row && row->local == CACHE_LOCAL_REMARKED)
    return refuse(d, CHECK_REMARKED, row->remarked_to, NULL, NULL);
  bool parts = *have_row && row->local == CACHE_LOCAL_SOLD && row->part_units > 1 &&
               row->part_sold < row->part_units;
  if (purpose == CHECK_FOR_SALE) {
    if (parts) {
      /* Partly sold: it sells on for a part that fits, never whole. */
      if (rule_part(req, row, d)) return 1;
    } else if (*have_row && row->local == CACHE_LOCAL_SOLD) {
      /* The cache numbers globally across replaced FNs (cache_fn_bind). */
      char more[96], more_en[96];
      if (row->sold_document > t->fn_base) {
        snprintf(more, sizeof more, "ФД %u.", row->sold_document - t->fn_base);
        snprintf(more_en, sizeof more_en, "Receipt FD %u.", row->sold_document - t->fn_base);
      } else {
        snprintf(more, sizeof more, "Чек прежнего ФН.");
        snprintf(more_en, sizeof more_en, "A receipt of the previous FN.");
      }
      return refuse(d, CHECK_SOLD_HERE, NULL, more, more_en);
    }
    if (!parts && d->product.strict && (!*have_row || row->local != CACHE_LOCAL_IN_STOCK))
      return refuse(d, CHECK_NOT_IN_STOCK, NULL, NULL, NULL);
  } else if ((!*have_row || row->local != CACHE_LOCAL_SOLD) &&
             !lane_store_sold_anywhere(t, d->ki)) {
    return refuse(d, CHECK_NOT_SOLD_HERE, NULL, NULL, NULL);
  } else if (*have_row && row->local == CACHE_LOCAL_SOLD && rule_part(req, row, d)) {
    return 1; /* a part back: no more than is sold of the pack */
  }
  const char *batch = markcode_ai_value(mc, "10");
  if (cache_block_find(t->cache, d->ki, d->gtin, batch, &blocked, &kind, &why) == 0 && blocked) {
    static const char *const kinds[] = {"", "code", "gtin", "series"};
    return refuse(d, CHECK_BLOCKED_LOCAL, kinds[kind <= 3 ? kind : 0], why, why);
  }
  return 0;
}

static int rule_deadline(till_t *t, check_decision_t *d)
{
  outbox_status_t s;
  outbox_notice_t why;
  if (outbox_status(t->fn, 0, &t->policy, &s) != 0) return 0; /* the FN will say */
  if (outbox_may_sell_marked(&s, &t->policy, &why)) {
    /* A deadline coming (48 h, day 25): the sale goes on, the person who
    ** scanned is told the true time left. */
    outbox_notice_t coming[4];
    if (outbox_warnings(&s, &t->policy, coming, 4) > 0) {
      snprintf(d->warning_ru, sizeof d->warning_ru, "%s", coming[0].ru);
      snprintf(d->warning_en, sizeof d->warning_en, "%s", coming[0].en);
    }
    return 0;
  }
  return refuse(d, CHECK_DEADLINE, s.documents_level == OUTBOX_BLOCKED ? "fn_30_days" : "batch_72h",
                why.ru, why.en);
}

/* ---- the FN and the operators -------------------------------------------- */

static bool mode_has(const till_t *t, const char *what)
{
  return !strcmp(t->config.check_mode, what) || !strcmp(t->config.check_mode, "both");
}

static unsigned elapsed_us(const struct timespec *start)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long us = (now.tv_sec - start->tv_sec) * 1000000 + (now.tv_nsec - start->tv_nsec) / 1000;
  return us < 0 ? 0 : (unsigned)us;
}

static unsigned elapsed_ms(const struct timespec *start) { return elapsed_us(start) / 1000u; }

/* The FN answers 0x36 both when its keys are older than 90 days and when
** none was ever loaded; a person must be told which. */
static const char keys_never_ru[] =
    "Ключи проверки кодов маркировки в ФН ещё не загружены: загрузите их (kassa ofd keys).";
static const char keys_never_en[] =
    "The FN's marking-code verification keys were never loaded: load them (kassa ofd keys).";

static bool keys_never_loaded(till_t *t)
{
  fn_status_t st;
  return fn_status(t->fn, &st) == 0 && st.keys_updated_at == 0;
}

static int rule_fn(till_t *t, const markcode_t *mc, const check_request_t *req, fn_km_check_t *fc,
                   check_decision_t *d)
{
  doc_item_t *item = calloc(1, sizeof *item);
  if (!item) return refuse(d, CHECK_FN_REFUSED, "no_memory", NULL, NULL);
  item->marked = true;
  memcpy(item->km, mc->normalized, mc->normalized_len + 1);
  item->km_len = mc->normalized_len;
  item->km_status = d->planned;
  /* A fraction's 1023 is 1 (the format's rule for a line with 1291). */
  item->quantity = (doc_quantity_t){1, 0};
  item->fraction_numerator = req->fraction_numerator;
  item->fraction_denominator = req->fraction_denominator;
  int rc = fn_km_check(t->fn, item, fc);
  free(item);
  if (rc == FN_ERR_KEYS_EXPIRED && keys_never_loaded(t))
    return refuse(d, CHECK_FN_REFUSED, "keys_never_loaded", keys_never_ru, keys_never_en);
  till_disk_t disk = rc <= FN_ERR_IO ? till_disk_diagnose(t->config.data_dir) : TILL_DISK_OK;
  if (disk != TILL_DISK_OK) /* the emulator's file, not the FN's judgement (issue 18) */
    return refuse(d, CHECK_TILL_DISK, till_disk_name(disk), till_disk_message(disk, true),
                  till_disk_message(disk, false));
  if (rc != 0)
    return refuse(d, CHECK_FN_REFUSED, fn_err_name(rc), fn_err_message(rc, true),
                  fn_err_message(rc, false));
  d->fn_checked = true;
  d->km_type = fc->km_type;
  d->tag2106 = fc->check_result;
  switch (fc->tail_status) {
  case FN_TAIL_INVALID:
    return refuse(d, CHECK_COUNTERFEIT, "tail_invalid", NULL, NULL);
  case FN_TAIL_NO_KEY:
    return refuse(d, CHECK_NO_KEY, "no_key", NULL, NULL);
  case FN_TAIL_KEY_EXPIRED:
    return refuse(d, CHECK_NO_KEY, "key_expired", NULL, NULL);
  default:
    return 0;
  }
}

static check_reason_t verdict_reason(trueapi_verdict_t v)
{
  switch (v) {
  case TRUEAPI_BAD_FORMAT:
    return CHECK_OP_BAD_FORMAT;
  case TRUEAPI_UNKNOWN:
    return CHECK_OP_NOT_FOUND;
  case TRUEAPI_NOT_APPLIED:
    return CHECK_OP_NOT_APPLIED;
  case TRUEAPI_CRYPTO_FAILED:
    return CHECK_OP_CRYPTO;
  case TRUEAPI_BLOCKED:
    return CHECK_OP_BLOCKED;
  case TRUEAPI_SOLD:
    return CHECK_OP_SOLD;
  case TRUEAPI_NOT_IN_CIRCULATION:
    return CHECK_OP_NOT_REALIZABLE;
  case TRUEAPI_EXPIRED:
    return CHECK_EXPIRED;
  case TRUEAPI_PRICE_LOW:
    return CHECK_PRICE_BELOW_MIN;
  case TRUEAPI_PRICE_HIGH:
    return CHECK_PRICE_ABOVE_MAX;
  default:
    return CHECK_OK;
  }
}

/* true-api's codes/check: the deny order for a sale; for a return only
** what still stops one (a returned good is sold by definition). */
static int rule_trueapi(till_t *t, check_purpose_t purpose, uint64_t price, check_decision_t *d)
{
  trueapi_t *api = till_trueapi(t);
  trueapi_result_t *res;
  int rc;
  if (!api || !(res = calloc(1, sizeof *res))) return 0;
  rc = trueapi_check(api, d->normalized, d->normalized_len, purpose == CHECK_FOR_SALE ? price : 0,
                     res);
  d->trueapi_tried = (uint8_t)(res->hosts_tried > 255 ? 255 : res->hosts_tried);
  d->trueapi_probed = res->probed;
  if (rc != 0) {
    free(res);
    return 0;
  }
  d->trueapi_answered = true;
  snprintf(d->req_id, sizeof d->req_id, "%s", res->req_id);
  d->req_timestamp = res->req_timestamp;
  if (res->req_id[0]) {
    /* 1260 with the permissive-mode requisites (DOMAIN §3). */
    d->has_1265 = true;
    snprintf(d->industry.authority, sizeof d->industry.authority, "030");
    snprintf(d->industry.date, sizeof d->industry.date, "21.11.2023");
    snprintf(d->industry.number, sizeof d->industry.number, "1944");
    snprintf(d->industry.value, sizeof d->industry.value, "%s", res->tag1265);
  }
  trueapi_verdict_t v = res->verdict;
  free(res);
  if (purpose == CHECK_FOR_RETURN &&
      (v == TRUEAPI_SOLD || v == TRUEAPI_NOT_IN_CIRCULATION || v == TRUEAPI_EXPIRED ||
       v == TRUEAPI_PRICE_LOW || v == TRUEAPI_PRICE_HIGH))
    return 0;
  check_reason_t r = verdict_reason(v);
  if (r == CHECK_OK) return 0;
  return refuse(d, r, trueapi_verdict_name(v), NULL, NULL);
}

static int rule_oism(till_t *t, const fn_km_check_t *fc, unsigned budget_left, check_decision_t *d)
{
  ofd_client_t *c = till_oism(t);
  fn_km_check_t ans;
  /* A cash register asks the OISM itself (fn.h, FN_CAP_DEVICE_DELIVERS):
  ** its check carries the answer's bits (4 answered, 8 may be sold), or
  ** none came and the check goes on as without an answer. */
  if (fn_capabilities(t->fn) & FN_CAP_DEVICE_DELIVERS) {
    if (!(fc->check_result & 4)) return 0;
    d->oism_answered = true;
    d->tag2106 = fc->check_result;
    return (fc->check_result & 8) ? 0 : refuse(d, CHECK_OISM_REFUSED, "2109", NULL, NULL);
  }
  if (!c || budget_left == 0) return 0;
  if (ofd_km_request(t->fn, c, fc, (int)budget_left, &ans) != 0) return 0;
  d->oism_answered = true;
  d->tag2106 = ans.check_result;
  if (!(ans.check_result & 8)) return refuse(d, CHECK_OISM_REFUSED, "2109", NULL, NULL);
  return 0;
}

/* A return asks the OISM whether the code stands sold, and the OISM knows
** only the sales it has been told of. `kassa ofd flush` runs from a timer,
** so a good brought back minutes after its sale would be refused because
** of this FN's own notification still waiting in it. When the FN owes
** notifications from the code's sale on, they go first, over the check's
** link (each exchange within the check's budget; none while the link is
** backing off). A notification is applied once, so a flush running beside
** the till does no harm; a failure leaves them owed and the check goes on
** as it would have. */
static void report_sale_first(till_t *t, const cache_code_t *row)
{
  ofd_client_t *c;
  fn_notification_t *owed;
  if (row->sold_document == 0 || !(c = till_oism(t)) || ofd_client_backoff_ms(c) > 0) return;
  if (!(owed = malloc(sizeof *owed))) return;
  /* sold_document is the cache's global number (cache_fn_bind). */
  if (fn_notification_next(t->fn, owed) == 0 &&
      (uint64_t)owed->receipt_number + t->fn_base <= row->sold_document)
    ofd_deliver_notifications(t->fn, c, NULL, NULL, NULL);
  free(owed);
}

/* A random (version 4) UUID, as the local module makes its reqId. */
static void uuid_v4(char out[37])
{
  uint8_t r[16];
  if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    for (size_t i = 0; i < sizeof r; i++)
      r[i] = (uint8_t)((uint64_t)ts.tv_nsec >> (i % 4 * 8) ^ (uint64_t)ts.tv_sec >> (i % 8));
  }
  r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
  r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
           r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
           r[15]);
}

/* The offline 1265 form (CRPT's plan, the local module's answer used):
** UUID=<reqId>&Time=<reqTimestamp>&Inst=<instance>&Ver=<version>. The
** till's code cache is its local module (pos/serve/lm.c answers front ends
** from it): Inst is the instance name lm.c reports ("kassa-<FN>"), Ver the
** database version the 2025 manual puts in the offline answer's `version`
** (the cache's sync position; "&" and "=" would break the form and become
** "_"). Only when the cache would answer as the module does: synced and
** not stale (the module refuses with 4045 / 4050 otherwise). */
static void offline_1265(till_t *t, check_decision_t *d)
{
  char cursor[CACHE_CURSOR_MAX + 1] = "", uuid[37];
  int64_t last = 0, now = till_now_ms(t);
  if (d->cache_stale || cache_sync_state(t->cache, cursor, sizeof cursor, &last) != 0 || last == 0)
    return;
  for (char *p = cursor; *p; p++)
    if (*p == '&' || *p == '=' || (unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) *p = '_';
  uuid_v4(uuid);
  d->lm_checked = true;
  d->has_1265 = true;
  snprintf(d->req_id, sizeof d->req_id, "%s", uuid);
  d->req_timestamp = now;
  snprintf(d->industry.authority, sizeof d->industry.authority, "030");
  snprintf(d->industry.date, sizeof d->industry.date, "21.11.2023");
  snprintf(d->industry.number, sizeof d->industry.number, "1944");
  snprintf(d->industry.value, sizeof d->industry.value, "UUID=%s&Time=%lld&Inst=kassa-%s&Ver=%s",
           uuid, (long long)now, t->fn_number, cursor[0] ? cursor : "0");
}

/* No operator answered: the local module's rule, isBlocked and sold only. */
static int rule_offline(till_t *t, check_purpose_t purpose, const cache_code_t *row, bool have_row,
                        check_decision_t *d)
{
  d->offline = true;
  /* The staleness and the 1265's version from one snapshot, one read. */
  bool grouped = cache_read_begin(t->cache) == 0;
  d->cache_stale = cache_is_stale(t->cache, till_now_ms(t), t->config.cache_stale_hours);
  offline_1265(t, d);
  if (grouped) cache_read_end(t->cache);
  const char *ru =
      d->cache_stale ? "Локальная база устарела (нет синхронизации более 72 ч)." : NULL;
  const char *en = d->cache_stale ? "The local database is stale (no sync for over 72 h)." : NULL;
  if (!have_row || row->op_synced_ms == 0) return 0;
  if (row->op_blocked) return refuse(d, CHECK_OFFLINE_BLOCKED, NULL, ru, en);
  if (purpose == CHECK_FOR_SALE && row->op_sold) return refuse(d, CHECK_OFFLINE_SOLD, NULL, ru, en);
  return 0;
}

/* ---- expiry and price ----------------------------------------------------- */

/* YYMMDD[hhmm] as seconds, "local time as UTC" like the FN's clock; the
** date alone means the end of that day. */
static bool parse_expiry(const char *v, bool with_time, uint32_t *out)
{
  struct tm tm = {0};
  size_t n = strlen(v);
  if (n < 6) return false;
  for (size_t i = 0; i < n; i++)
    if (v[i] < '0' || v[i] > '9') return false;
  tm.tm_year = 100 + (v[0] - '0') * 10 + (v[1] - '0');
  tm.tm_mon = (v[2] - '0') * 10 + (v[3] - '0') - 1;
  tm.tm_mday = (v[4] - '0') * 10 + (v[5] - '0');
  if (tm.tm_mday == 0) tm.tm_mday = 1; /* GS1: day 00 is the end of the month; keep it simple */
  if (with_time && n >= 10) {
    tm.tm_hour = (v[6] - '0') * 10 + (v[7] - '0');
    tm.tm_min = (v[8] - '0') * 10 + (v[9] - '0');
  } else {
    tm.tm_hour = 23;
    tm.tm_min = 59;
    tm.tm_sec = 59;
  }
  time_t t = timegm(&tm);
  if (t < 0) return false;
  *out = (uint32_t)t;
  return true;
}

static int rule_expiry_price(till_t *t, const markcode_t *mc, const cache_code_t *row,
                             bool have_row, uint64_t price, check_decision_t *d)
{
  int gi = group_index(d->product.group);
  if (gi < 0) return 0;
  if (groups[gi].expires) {
    fn_status_t st;
    uint32_t when = 0;
    const char *v17 = markcode_ai_value(mc, "17"), *v7003 = markcode_ai_value(mc, "7003");
    bool has =
        (v7003 && parse_expiry(v7003, true, &when)) || (v17 && parse_expiry(v17, false, &when));
    if (has && fn_status(t->fn, &st) == 0 && st.now > when)
      return refuse(d, CHECK_EXPIRED, v7003 ? v7003 : v17, NULL, NULL);
    if (have_row && row->expire_ms > 0 && till_now_ms(t) > row->expire_ms)
      return refuse(d, CHECK_EXPIRED, "operator_expire_date", NULL, NULL);
  }
  if (groups[gi].tobacco && price > 0) {
    const char *mrp = markcode_ai_value(mc, "8005");
    if (mrp && !(mc->fixes & MARKCODE_FIX_MRP_UNLABELLED)) {
      uint64_t max = strtoull(mrp, NULL, 10);
      if (max > 0 && price > max) {
        char ru[96], en[96];
        snprintf(ru, sizeof ru, "МРЦ %llu.%02llu ₽.", (unsigned long long)(max / 100),
                 (unsigned long long)(max % 100));
        snprintf(en, sizeof en, "MRP %llu.%02llu RUB.", (unsigned long long)(max / 100),
                 (unsigned long long)(max % 100));
        return refuse(d, CHECK_PRICE_ABOVE_MAX, mrp, ru, en);
      }
    }
    /* The minimum price is per pack; a GS1 tobacco code is a block (a pack
    ** carries the 29-character pack code), priced for its packs. */
    uint64_t units = mc->kind == MARKCODE_KIND_GS1 ? TRUEAPI_BLOCK_UNITS : 1u;
    if (have_row && row->smp > 0 && price < row->smp * units)
      return refuse(d, CHECK_PRICE_BELOW_MIN, "cached_smp", NULL, NULL);
  }
  /* Nicotine (group 16): the operator's mrp is the minimum price. */
  if (groups[gi].nicotine && price > 0 && have_row && row->mrp > 0 && price < row->mrp)
    return refuse(d, CHECK_PRICE_BELOW_MIN, "cached_mrp", NULL, NULL);
  return 0;
}

/* A fraction (1291) is a part of one marked piece: 0 < n < d, never of a
** weighed good (that is a measured quantity) nor of an unmarked one. */
static int rule_fraction(const check_request_t *req, check_decision_t *d)
{
  uint64_t n = req->fraction_numerator, den = req->fraction_denominator;
  if (n == 0 && den == 0) return 0;
  if (n > 0 && n < den && d->marked && !d->product.weighed) return 0;
  return refuse(d, CHECK_BAD_CODE, "fraction",
                "Дробное количество — только для штучного маркированного товара, 0 < n < d.",
                "A fraction is for a marked piece good only, 0 < n < d.");
}

/* The store node, last: a claim is a lease the lane holds, so it is taken
** only for a code every other rule allowed (lane_store.h). */
static int rule_store(till_t *t, check_decision_t *d)
{
  const char *detail = NULL;
  if (!t->lane_store) return 0;
  switch (lane_store_claim(t, d->ki, d->product.group, &detail)) {
  case LANE_CLAIM_GRANTED:
    d->store_claimed = true;
    return 0;
  case LANE_CLAIM_ALONE:
    d->store_offline = true;
    return 0;
  case LANE_CLAIM_HELD:
    return refuse(d, CHECK_STORE_HELD, detail, NULL, NULL);
  case LANE_CLAIM_SOLD:
    return refuse(d, CHECK_STORE_SOLD, detail, NULL, NULL);
  default:
    return refuse(d, CHECK_STORE_OFFLINE, detail, NULL, NULL);
  }
}

/* ---- the pipeline ---------------------------------------------------------- */

/* The rules the cache and the basket decide, in their order: the
** catalogue, the fraction, then for a marked code the receipt's own lines
** and the local records. 1 when one refused (d says why), else 0; price 0
** becomes the catalogue's. */
static int rules_cached(till_t *t, const markcode_t *mc, const check_request_t *req,
                        uint64_t *price, cache_code_t *row, bool *have_row, check_decision_t *d)
{
  if (rule_catalogue(t, mc, req->given, d)) return 1;
  if (*price == 0) *price = d->product.price;
  if (rule_fraction(req, d)) return 1;
  if (!d->marked) return 0;
  /* A measured good and a fraction of a piece are "part" statuses. */
  bool part = d->product.weighed || req->fraction_denominator != 0;
  d->planned = req->purpose == CHECK_FOR_SALE ? (part ? 2 : 1) : (part ? 4 : 3);
  if (rule_receipt(req->in_receipt, req->in_receipt_count, d)) return 1;
  return rule_local(t, mc, req, row, have_row, d);
}

/* The pipeline; keep: an allowed code stays accepted in the FN (a sale
** line follows), else it is declined at once (a question only). */
static int pipeline(till_t *t, const check_request_t *req, check_decision_t *out)
{
  const char *scan = req ? req->scan : NULL;
  size_t len = req ? req->len : 0;
  check_purpose_t purpose = req ? req->purpose : CHECK_FOR_SALE;
  uint64_t price = req ? req->price : 0;
  bool keep = req && req->keep;
  struct timespec start;
  markcode_t *mc = NULL;
  cache_code_t row;
  bool have_row = false;
  fn_km_check_t *fc = NULL;
  int rc = 0;
  if (!out) return -1;
  memset(out, 0, sizeof *out);
  out->mark = "";
  clock_gettime(CLOCK_MONOTONIC, &start);
  if (!t || !req || !scan || (purpose != CHECK_FOR_SALE && purpose != CHECK_FOR_RETURN)) {
    refuse(out, CHECK_BAD_CODE, "argument", NULL, NULL);
    return -1;
  }
  mc = malloc(sizeof *mc);
  fc = malloc(sizeof *fc);
  if (!mc || !fc) {
    refuse(out, CHECK_FN_REFUSED, "no_memory", NULL, NULL);
    rc = -1;
    goto done;
  }
  memset(&row, 0, sizeof row);
  if (rule_parse(mc, scan, len, out)) goto done;
  /* A marked sale's lookups (product, code, blocks) read one snapshot of
  ** the cache in one read transaction; a return's rule_local may ask the
  ** store node, so it reads each alone. */
  bool grouped = out->marked && purpose == CHECK_FOR_SALE && cache_read_begin(t->cache) == 0;
  int refused = rules_cached(t, mc, req, &price, &row, &have_row, out);
  if (grouped) cache_read_end(t->cache);
  if (refused) goto done;
  if (!out->marked) goto allow; /* a plain good: nothing more to check */
  if (purpose == CHECK_FOR_SALE && rule_deadline(t, out)) goto done;
  if (rule_fn(t, mc, req, fc, out)) goto done_fn;
  unsigned budget = t->config.check_budget_ms ? t->config.check_budget_ms : 1500;
  if (mode_has(t, "trueapi") && rule_trueapi(t, purpose, price, out)) goto done_fn;
  if (purpose == CHECK_FOR_RETURN && mode_has(t, "oism") && elapsed_ms(&start) < budget)
    report_sale_first(t, &row);
  unsigned spent = elapsed_ms(&start);
  if (mode_has(t, "oism") && rule_oism(t, fc, spent < budget ? budget - spent : 0, out))
    goto done_fn;
  if (!out->oism_answered && !out->trueapi_answered &&
      rule_offline(t, purpose, &row, have_row, out))
    goto done_fn;
  if (purpose == CHECK_FOR_SALE && rule_expiry_price(t, mc, &row, have_row, price, out))
    goto done_fn;
  if (purpose == CHECK_FOR_SALE && keep && rule_store(t, out)) goto done_fn;
  /* A question only: the decline is the one write the FN needs. */
  if (fn_km_accept(t->fn, out->normalized, out->normalized_len, keep) != 0 && keep) {
    refuse(out, CHECK_FN_REFUSED, "accept", NULL, NULL);
    goto done_fn;
  }
  out->mark = check_mark_for(out->tag2106);
allow:
  out->allow = true;
  out->reason = CHECK_OK;
  snprintf(out->message_ru, sizeof out->message_ru, "%s", reasons[CHECK_OK].ru);
  snprintf(out->message_en, sizeof out->message_en, "%s", reasons[CHECK_OK].en);
  goto done;
done_fn:
  /* The FN holds the code as checked: a refusal takes it out again. */
  if (out->fn_checked) fn_km_accept(t->fn, out->normalized, out->normalized_len, false);
  if (out->store_claimed) lane_store_release(t, out->ki); /* and the store's claim */
done:
  out->elapsed_us = elapsed_us(&start);
  free(mc);
  free(fc);
  return rc;
}

int check_scan(till_t *t, const char *scan, size_t len, check_purpose_t purpose, uint64_t price,
               const char *const *in_receipt, size_t in_receipt_count, check_decision_t *out)
{
  check_request_t req = {.scan = scan,
                         .len = len,
                         .purpose = purpose,
                         .price = price,
                         .in_receipt = in_receipt,
                         .in_receipt_count = in_receipt_count,
                         .keep = true};
  return pipeline(t, &req, out);
}

int check_scan_given(till_t *t, const char *scan, size_t len, check_purpose_t purpose,
                     uint64_t price, const char *const *in_receipt, size_t in_receipt_count,
                     const cache_product_t *given, check_decision_t *out)
{
  check_request_t req = {scan, len, purpose, price, in_receipt, in_receipt_count,
                         0,    0,   true,    given};
  return pipeline(t, &req, out);
}

int check_probe(till_t *t, const char *scan, size_t len, check_purpose_t purpose, uint64_t price,
                const char *const *in_receipt, size_t in_receipt_count, check_decision_t *out)
{
  check_request_t req = {.scan = scan,
                         .len = len,
                         .purpose = purpose,
                         .price = price,
                         .in_receipt = in_receipt,
                         .in_receipt_count = in_receipt_count};
  return pipeline(t, &req, out);
}

int check_run(till_t *t, const check_request_t *req, check_decision_t *out)
{
  return pipeline(t, req, out);
}
