/*
** frontend.c: a front end's words for a line (see frontend.h): the tables
** of ATOL's names and the readers of an agent's data, the buyer's contact
** and a fraction. Written from ATOL's published JSON task format and the
** FFD 1.2 tag tables (tests/data/atol/README.md names the sources).
*/
#include "pos/serve/frontend.h"

#include <stdio.h>
#include <string.h>

/* ---- ATOL's names ------------------------------------------------------------ */

typedef struct name_value {
  const char *name;
  uint8_t value;
} name_value_t;

static const name_value_t vat_names[] = {
    {"vat20", 1}, {"vat10", 2}, {"vat120", 3}, {"vat110", 4},  {"vat0", 5},   {"none", 6},
    {"vat5", 7},  {"vat7", 8},  {"vat105", 9}, {"vat107", 10}, {"vat22", 11}, {"vat122", 12},
};

static const name_value_t method_names[] = {
    {"fullPrepayment", 1}, {"prepayment", 2}, {"advance", 3},       {"fullPayment", 4},
    {"partialPayment", 5}, {"credit", 6},     {"creditPayment", 7},
};

static const name_value_t subject_names[] = {
    {"commodity", 1},
    {"excise", 2},
    {"job", 3},
    {"service", 4},
    {"gamblingBet", 5},
    {"gamblingPrize", 6},
    {"lottery", 7},
    {"lotteryPrize", 8},
    {"intellectualActivity", 9},
    {"payment", 10},
    {"agentCommission", 11},
    {"composite", 12},
    {"another", 13},
    {"proprietaryLaw", 14},
    {"nonOperatingIncome", 15},
    {"otherContributions", 16},
    {"merchantTax", 17},
    {"resortFee", 18},
    {"deposit", 19},
    {"consumption", 20},
    {"exciseWithoutMarking", 30},
    {"exciseWithMarking", 31},
    {"commodityWithoutMarking", 32},
    {"commodityWithMarking", 33},
};

static const name_value_t measure_names[] = {
    {"piece", 0},
    {"gram", 10},
    {"kilogram", 11},
    {"ton", 12},
    {"centimeter", 20},
    {"decimeter", 21},
    {"meter", 22},
    {"squareCentimeter", 30},
    {"squareDecimeter", 31},
    {"squareMeter", 32},
    {"milliliter", 40},
    {"liter", 41},
    {"cubicMeter", 42},
    {"kilowattHour", 50},
    {"gkal", 51},
    {"day", 70},
    {"hour", 71},
    {"minute", 72},
    {"second", 73},
    {"kilobyte", 80},
    {"megabyte", 81},
    {"gigabyte", 82},
    {"terabyte", 83},
    {"otherUnits", 255},
};

/* 1222 is a bit mask: each agent kind one bit. */
static const name_value_t agent_names[] = {
    {"bankPayingAgent", 0x01}, {"bankPayingSubagent", 0x02}, {"payingAgent", 0x04},
    {"payingSubagent", 0x08},  {"attorney", 0x10},           {"commissionAgent", 0x20},
    {"another", 0x40},
};

/* A name of the table, or one of its values as a JSON integer. */
static bool lookup(const name_value_t *table, size_t n, json_t *v, uint8_t *out)
{
  for (size_t i = 0; i < n; i++) {
    if ((json_is_string(v) && !strcmp(json_string_value(v), table[i].name)) ||
        (json_is_integer(v) && json_integer_value(v) == table[i].value)) {
      *out = table[i].value;
      return true;
    }
  }
  return false;
}

#define LOOKUP(table, v, out) lookup(table, sizeof table / sizeof table[0], v, out)

bool frontend_vat(json_t *v, uint8_t *out) { return LOOKUP(vat_names, v, out); }
bool frontend_method(json_t *v, uint8_t *out) { return LOOKUP(method_names, v, out); }
bool frontend_subject(json_t *v, uint8_t *out) { return LOOKUP(subject_names, v, out); }
bool frontend_measure(json_t *v, uint8_t *out) { return LOOKUP(measure_names, v, out); }
bool frontend_agent_bit(json_t *v, uint8_t *out) { return LOOKUP(agent_names, v, out); }

const frontend_agent_keys_t frontend_agent_keys_kassa = {
    "agents", "paying_agent", "receive_payments_operator", "money_transfer_operator", "inn"};
const frontend_agent_keys_t frontend_agent_keys_atol = {
    "agents", "payingAgent", "receivePaymentsOperator", "moneyTransferOperator", "vatin"};

/* A string field of obj into out (size bytes): true when absent or fits. */
static bool copy_text(json_t *obj, const char *key, char *out, size_t size)
{
  json_t *v = json_object_get(obj, key);
  if (!v) return true;
  if (!json_is_string(v) || json_string_length(v) >= size) return false;
  memcpy(out, json_string_value(v), json_string_length(v) + 1);
  return true;
}

/* The first phone of obj's "phones" (an array of strings, or one string). */
static bool copy_phone(json_t *obj, char *out, size_t size)
{
  json_t *v = json_object_get(obj, "phones");
  if (json_is_array(v)) v = json_array_get(v, 0);
  if (!v) return true;
  if (!json_is_string(v) || json_string_length(v) >= size) return false;
  memcpy(out, json_string_value(v), json_string_length(v) + 1);
  return true;
}

int frontend_agent(json_t *agent_info, json_t *supplier, const frontend_agent_keys_t *keys,
                   doc_agent_t *out, const char **field)
{
  memset(out, 0, sizeof *out);
  if (agent_info) {
    json_t *agents = json_object_get(agent_info, keys->agents), *a;
    size_t i;
    *field = keys->agents;
    if (!json_is_object(agent_info) || !json_is_array(agents) || json_array_size(agents) == 0)
      return -1;
    json_array_foreach(agents, i, a)
    {
      uint8_t bit;
      if (!frontend_agent_bit(a, &bit)) return -1;
      out->sign |= bit;
    }
    json_t *paying = json_object_get(agent_info, keys->paying_agent);
    json_t *receive = json_object_get(agent_info, keys->receive_operator);
    json_t *transfer = json_object_get(agent_info, keys->transfer_operator);
    *field = keys->paying_agent;
    if (!copy_text(paying, "operation", out->operation, sizeof out->operation) ||
        !copy_phone(paying, out->agent_phone, sizeof out->agent_phone))
      return -1;
    *field = keys->receive_operator;
    if (!copy_phone(receive, out->operator_phone, sizeof out->operator_phone)) return -1;
    *field = keys->transfer_operator;
    if (!copy_phone(transfer, out->transfer_phone, sizeof out->transfer_phone) ||
        !copy_text(transfer, "name", out->transfer_name, sizeof out->transfer_name) ||
        !copy_text(transfer, "address", out->transfer_address, sizeof out->transfer_address) ||
        !copy_text(transfer, keys->inn, out->transfer_inn, sizeof out->transfer_inn))
      return -1;
  }
  if (supplier) {
    *field = "supplier";
    if (!json_is_object(supplier) ||
        !copy_phone(supplier, out->supplier_phone, sizeof out->supplier_phone) ||
        !copy_text(supplier, "name", out->supplier_name, sizeof out->supplier_name) ||
        !copy_text(supplier, keys->inn, out->supplier_inn, sizeof out->supplier_inn))
      return -1;
  }
  return 0;
}

int frontend_buyer_contact(json_t *v, char out[65])
{
  const char *text = json_string_value(v);
  size_t n = text ? strlen(text) : 0;
  if (n == 0 || n > 64) return -1;
  for (size_t i = 0; i < n; i++)
    if (text[i] < 0x20 || text[i] > 0x7e) return -1;
  memcpy(out, text, n + 1);
  return 0;
}

bool frontend_fraction(json_t *v, uint64_t *numerator, uint64_t *denominator)
{
  unsigned long long n = 0, d = 0;
  char tail;
  if (json_is_string(v)) {
    if (sscanf(json_string_value(v), "%llu/%llu%c", &n, &d, &tail) != 2) return false;
  } else if (json_is_object(v) && json_is_integer(json_object_get(v, "numerator")) &&
             json_is_integer(json_object_get(v, "denominator"))) {
    json_int_t a = json_integer_value(json_object_get(v, "numerator"));
    json_int_t b = json_integer_value(json_object_get(v, "denominator"));
    if (a < 0 || b < 0) return false;
    n = (unsigned long long)a, d = (unsigned long long)b;
  } else {
    return false;
  }
  if (n == 0 || d == 0 || n >= d || d > UINT32_MAX) return false;
  *numerator = n;
  *denominator = d;
  return true;
}
