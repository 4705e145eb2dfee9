/*
** doc.h: FFD 1.2 fiscal documents, as data and as TLV.
**
** A fiscal document is an STLV whose tag is its form code (3 for a
** receipt). This module knows which requisites each form carries and in
** what order; it does not number, date or sign anything. That is the fiscal
** storage's job (fn.h): the FN fills a doc_header_t (document number, time,
** shift, FN number) and calls a builder here, signs the bytes, and seals
** the document with doc_seal(), which appends the fiscal sign (1077).
**
** Builders write into a caller buffer through the TLV writer and never
** allocate. Parsers read documents that come from outside (the operator's
** acknowledgement 7, the OISM answer 83, the notification ticket 84) and
** never trust them. doc_to_json() renders any document with the FNS JSON
** names of the tag dictionary, for `kassa fd show --json`.
**
** Amounts are kopecks (uint64_t). Quantities are FVLN: mantissa and the
** number of digits after the point (1.000 kg = {1000, 3}). Text is UTF-8
** here and CP866 on the wire (tlv.c converts).
**
** CHANGES to this header by the doc.c author (read before building on it):
**  - doc_error_t (DOC_ERR_*, -32 and below) and doc_error_code() /
**    doc_error_message(): errors that are not the TLV codec's (a receipt
**    whose payments do not match its items, a document of another form).
**    Functions return 0, a negative tlv_error_t or a negative doc_error_t.
**  - Builders set *len = 0 and wipe what they wrote on error.
**  - doc_counters_t: keys_valid_days is uint16_t (1213 is UINT16);
**    shift_overdue removed (1052 is "FN memory full", FFD has no overdue
**    flag); added first_unsent_number (1116) and the FN flags 1050-1053.
**  - doc_receipt_t: 1174 is an STLV {1178 date, 1179 number}:
**    correction_basis is the 1179 number, correction_date (1178) added.
**  - doc_km_answer_t: checked_items (uint32) is now processing_results
**    (uint8_t, 2005 is a BYTE); added request_number (2001) and
**    request_time (2114).
**  - doc_km_ticket_t: added processing_results (2006).
**  - doc_check_negative(): the 2106 -> 2107 rule, for the till and printer.
**  - DOC_SIGN_SIZE, DOC_SEAL_SIZE, DOC_FFD_1_2, DOC_KKT_VERSION.
**  - No function was renamed and no builder's signature changed.
*/
#ifndef KASSA_FISCAL_DOC_H
#define KASSA_FISCAL_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiscal/tlv.h"

/* Form codes (DOMAIN §3). */
typedef enum doc_type {
  DOC_REGISTRATION = 1,
  DOC_SHIFT_OPEN = 2,
  DOC_RECEIPT = 3,
  DOC_SHIFT_CLOSE = 5,
  DOC_FN_CLOSE = 6,
  DOC_OPERATOR_ACK = 7,
  DOC_REREGISTRATION = 11,
  DOC_STATE_REPORT = 21,
  DOC_CORRECTION = 31,
  DOC_KM_REQUEST = 81,
  DOC_KM_NOTIFICATION = 82,
  DOC_KM_ANSWER = 83,
  DOC_KM_TICKET = 84,
} doc_type_t;

/* Receipt operation, tag 1054. */
typedef enum doc_operation {
  DOC_OP_SALE = 1,
  DOC_OP_SALE_RETURN = 2,
  DOC_OP_PURCHASE = 3,
  DOC_OP_PURCHASE_RETURN = 4,
} doc_operation_t;

/* Settlement method of a line, tag 1214. */
typedef enum doc_pay_method {
  DOC_PAY_PREPAYMENT_FULL = 1, /* prepayment 100 % (goods later) */
  DOC_PAY_PREPAYMENT = 2,      /* partial prepayment */
  DOC_PAY_ADVANCE = 3,         /* advance (goods not yet named) */
  DOC_PAY_FULL = 4,            /* full settlement (a prepayment may be offset: 1215) */
  DOC_PAY_PARTIAL_CREDIT = 5,  /* partial settlement and credit */
  DOC_PAY_CREDIT = 6,          /* handed over on credit */
  DOC_PAY_CREDIT_PAYMENT = 7,  /* payment of a credit */
} doc_pay_method_t;

/* Planned / assigned marking-code status, tags 2003 and 2110. */
typedef enum doc_km_status {
  DOC_KM_PIECE_SOLD = 1,
  DOC_KM_MEASURED_SOLD = 2,
  DOC_KM_PIECE_RETURNED = 3,
  DOC_KM_MEASURED_RETURNED = 4,
  DOC_KM_UNCHANGED = 255,
} doc_km_status_t;

/* Tag 2106 bits (DOMAIN §3). */
#define DOC_2106_TAIL_CHECKED 0x01u /* the FN checked the crypto tail     */
#define DOC_2106_TAIL_VALID   0x02u /* ... and it is correct              */
#define DOC_2106_OISM_CHECKED 0x04u /* the OISM answered                  */
#define DOC_2106_OISM_VALID   0x08u /* ... and the status is correct      */
#define DOC_2106_AUTONOMOUS   0x10u /* result from an autonomous KKT      */

/*
** Whether a 2106 value is a negative check: a check that was made and
** failed (TAIL_CHECKED without TAIL_VALID, or OISM_CHECKED without
** OISM_VALID). A check not made is not negative: 0, 3 and 16 print [М],
** not [М-]. A receipt's 2107 is 1 when any marked line is negative, 0
** when none is, and absent when the receipt has no marked line.
*/
bool doc_check_negative(uint8_t check_result);

/*
** VAT (1199) and the receipt-level sums. One row per 1199 value 1..12:
** the requisite the receipt carries for that rate, and what goes in it.
** For a rate with a fraction (num/den) it is the tax inside the gross
** amount of the lines at that rate, rounded half up once on the receipt:
** sum = (gross * num + den / 2) / den (20 % is 20/120 of a price that
** includes it, 22 % 22/122, 5 % 5/105 ...). For 0 % (1104) and "no VAT"
** (1105) num is 0 and the requisite holds the gross amount itself.
**
** [open] The FNS tags of the six sums for 1199 = 7..12 (5 %, 7 %, 5/105,
** 7/107, 22 %, 22/122) could not be confirmed from any published source
** this project had (tag dictionaries, vendor drivers and OFD tables
** reachable here give the 1199 values and the FNS JSON names nds5, nds7,
** nds5105, nds7107, nds22, nds22122, never the numbers). Until they are,
** these sums go in the private tags DOC_TAG_VAT_* below (0xFE10..0xFE15,
** flagged TLV_TAG_NUMBER_OURS in the dictionary): never mistaken for a
** real requisite, and replaced in this one place when the numbers are
** known.
*/
#define DOC_VAT_MAX        12     /* the largest 1199 value */
#define DOC_TAG_VAT_5      0xFE10 /* [open] sum of VAT at 5 %    (1199 = 7)  */
#define DOC_TAG_VAT_7      0xFE11 /* [open] sum of VAT at 7 %    (1199 = 8)  */
#define DOC_TAG_VAT_5_105  0xFE12 /* [open] sum of VAT at 5/105  (1199 = 9)  */
#define DOC_TAG_VAT_7_107  0xFE13 /* [open] sum of VAT at 7/107  (1199 = 10) */
#define DOC_TAG_VAT_22     0xFE14 /* [open] sum of VAT at 22 %   (1199 = 11) */
#define DOC_TAG_VAT_22_122 0xFE15 /* [open] sum of VAT at 22/122 (1199 = 12) */

typedef struct doc_vat_rate {
  uint8_t value;         /* 1199 */
  uint16_t sum_tag;      /* the receipt-level requisite */
  uint8_t numerator;     /* the tax is gross * numerator / denominator; */
  uint8_t denominator;   /* 0 / 0: the requisite is the gross amount     */
  const char *label;     /* printed after a line: "НДС 22%", "Без НДС"   */
  const char *sum_label; /* printed with the sum: "НДС 22%", "Сумма без НДС" */
} doc_vat_rate_t;

/* The row of a 1199 value, NULL outside 1..DOC_VAT_MAX. */
const doc_vat_rate_t *doc_vat_rate(uint8_t value);
/* The rows in the order their sums appear on a receipt (by tag). */
const doc_vat_rate_t *doc_vat_rate_at(size_t index);
size_t doc_vat_rate_count(void);
/* The receipt-level value for `gross` kopecks at 1199 = value (see above);
** 0 for a value outside 1..DOC_VAT_MAX. gross below 2^48 cannot overflow. */
uint64_t doc_vat_amount(uint8_t value, uint64_t gross);

/* Text fields below hold UTF-8, sized 2n+1 bytes for a requisite of n
** CP866 characters so Cyrillic fits; the codec counts the characters. */
#define DOC_MAX_ITEMS    100
#define DOC_MAX_KM       256                               /* tag 2000 */
#define DOC_MAX_DOCUMENT 32768                             /* a sealed document, header included */
#define DOC_SIGN_SIZE    6                                 /* the fiscal sign, 1077 */
#define DOC_SEAL_SIZE    (TLV_HEADER_SIZE + DOC_SIGN_SIZE) /* what doc_seal() adds */
#define DOC_FFD_1_2      4     /* 1209, 1189, 1190: format version 1.2 */
#define DOC_KKT_VERSION  "0.1" /* 1188, this register's software version */

/*
** The requisites of a line that an FN keeps beside its plain columns (the
** agent's 1222/1223/1224/1226 and the fraction 1291) as one TLV list, and
** back into an item (other fields untouched). *len 0 when the line has
** none. The same codec as the documents', so what is stored is what a
** receipt will carry.
*/
struct doc_item;
int doc_item_extras_put(const struct doc_item *item, uint8_t *buf, size_t cap, size_t *len);
int doc_item_extras_get(const uint8_t *buf, size_t len, struct doc_item *item);

/* Errors that are not the TLV codec's. Values stay clear of tlv_error_t. */
typedef enum doc_error {
  DOC_ERR_TOTAL = -32,      /* payments differ from the sum of the items, or overflow */
  DOC_ERR_WRONG_FORM = -33, /* the document is of another form than asked for */
  DOC_ERR_MISSING = -34,    /* a requisite the form requires is absent */
  DOC_ERR_DUPLICATE = -35,  /* a requisite that appears once appears twice */
  DOC_ERR_NO_MEMORY = -36,  /* doc_to_json() could not allocate */
} doc_error_t;

/* A stable lower-case code ("total_mismatch", or the tlv code for a
** tlv_error_t) and an English sentence; never NULL. */
const char *doc_error_code(int error);
const char *doc_error_message(int error);

/* Fields every document carries, filled by the fiscal storage. */
typedef struct doc_header {
  uint32_t number;         /* 1040 */
  uint32_t time;           /* 1012, local time written as if UTC */
  char fn_number[17];      /* 1041 */
  char kkt_reg_number[21]; /* 1037 */
  char user_inn[13];       /* 1018 */
  char user_name[513];     /* 1048 (UTF-8: 2 bytes a Cyrillic letter) */
  char cashier[129];       /* 1021, "" when none */
  char address[513];       /* 1009 */
  char place[513];         /* 1187 */
  uint32_t shift_number;   /* 1038, 0 when the form has none */
  bool autonomous;         /* 1002 */
  uint8_t timezone;        /* 1011 in 1, 11, 3, 31 and 82 (1..11); 0: not written */
} doc_header_t;

/*
** 1011, the time zone of the place of settlement [likely: FNS order
** ЕД-7-20/236@ of 2025-03-26, in force since 2025-09-01; the values number
** Russia's zones from the west]: 1 UTC+2 (Kaliningrad), 2 UTC+3 (Moscow),
** 3 UTC+4, 4 UTC+5, 5 UTC+6, 6 UTC+7, 7 UTC+8, 8 UTC+9, 9 UTC+10, 10 UTC+11,
** 11 UTC+12 (Kamchatka). The code of an offset in seconds east of UTC; 0
** for an offset that is none of them (a machine on UTC: 1011 left out).
*/
uint8_t doc_timezone_of_offset(int32_t seconds);

/* Quantity (1023) and amounts. */
typedef struct doc_quantity {
  uint64_t mantissa;
  uint8_t scale; /* digits after the point */
} doc_quantity_t;

/* The quantity as a decimal ("1", "0.350"); scales past 6 (more than FVLN
** allows) are written as 6. Returns buf. */
const char *doc_quantity_text(doc_quantity_t q, char *buf, size_t size);

/* A decimal quantity ("2", "0.532"): digits, at most one '.' with digits on
** both sides, at most max_scale decimals, no sign, no overflow. Zero is a
** quantity here; callers that sell refuse it. false (q untouched) otherwise.
** The inverse of doc_quantity_text() for scales up to 6. */
bool doc_quantity_parse(const char *text, unsigned max_scale, doc_quantity_t *q);

/* Industry requisite 1260 (1262 authority, 1263 date, 1264 number, 1265 value). */
typedef struct doc_industry {
  char authority[4]; /* "030" */
  char date[11];     /* "21.11.2023" */
  char number[33];   /* "1944" */
  char value[513];   /* "UUID=<reqId>&Time=<reqTimestamp>" */
} doc_industry_t;

/*
** Agent requisites of a line (FFD 1.2: 1222 the agent's kind for this
** line, 1223 the agent's data, 1224 the supplier's data, 1226 the
** supplier's INN). sign 0: not an agent's line, nothing written. Bits of
** 1222 (and of the receipt's 1057, their OR): 1 bank paying agent, 2 bank
** paying sub-agent, 4 paying agent, 8 paying sub-agent, 16 attorney, 32
** commission agent, 64 another agent. An agent's line needs the supplier's
** name and INN (DOC_ERR_MISSING); 1223 is written when any of its fields
** is not "".
*/
typedef struct doc_agent {
  uint8_t sign;               /* 1222 */
  char operation[49];         /* 1044 in 1223 (24 characters) */
  char agent_phone[20];       /* 1073 in 1223 */
  char operator_phone[20];    /* 1074 in 1223 */
  char transfer_phone[20];    /* 1075 in 1223 */
  char transfer_name[129];    /* 1026 in 1223 */
  char transfer_address[513]; /* 1005 in 1223 */
  char transfer_inn[13];      /* 1016 in 1223 */
  char supplier_phone[20];    /* 1171 in 1224 */
  char supplier_name[513];    /* 1225 in 1224 */
  char supplier_inn[13];      /* 1226 */
} doc_agent_t;

/* One receipt line (1059). */
typedef struct doc_item {
  char name[257];          /* 1030, up to 128 characters */
  uint64_t price;          /* 1079, kopecks */
  doc_quantity_t quantity; /* 1023 */
  uint64_t total;          /* 1043, kopecks */
  uint8_t vat;             /* 1199 */
  uint8_t subject;         /* 1212: 1 goods, 33 marked goods, 31 excisable marked */
  uint8_t payment_method;  /* 1214 (DOC_PAY_*): 4 full settlement */
  uint8_t measure;         /* 2108: 0 piece, 11 kg, 41 l ... */
  /* Marking (all empty/zero for an unmarked good). */
  bool marked;
  char km[DOC_MAX_KM + 1]; /* 2000, the normalized code, GS kept */
  size_t km_len;
  uint8_t km_type;        /* 2100 */
  uint16_t product_tag;   /* 1163 sub-tag (1300..1325), 0 for none */
  char product_value[65]; /* 1163 sub-tag value */
  uint8_t km_status;      /* 2003 planned (3, 81); 2110 assigned (31, 82) */
  uint8_t km_mode;        /* 2102, 0 */
  uint8_t check_result;   /* 2106 */
  bool has_industry;
  doc_industry_t industry; /* 1260 */
  /* A marked good sold in a fraction of its unit (a quarter of a cheese
  ** head): 1291 {1292 "n/d", 1293 n, 1294 d} in 3, 31, 81 and 82, with
  ** status 2 (part sold) or 4 (part returned). 0 / 0: not a fraction. */
  uint64_t fraction_numerator, fraction_denominator;
  doc_agent_t agent; /* 1222-1226; agent.sign 0: none */
} doc_item_t;

/* A receipt (3) or a correction receipt (31). */
typedef struct doc_receipt {
  uint8_t operation;       /* 1054 */
  uint8_t tax_system;      /* 1055 */
  uint32_t receipt_number; /* 1042, number in the shift */
  size_t item_count;
  doc_item_t items[DOC_MAX_ITEMS];
  uint64_t cash;     /* 1031 */
  uint64_t cashless; /* 1081 */
  uint64_t prepaid;  /* 1215: paid by an earlier prepayment (advance) offset */
  uint64_t credit;   /* 1216: left on credit (postpayment) */
  uint64_t other;    /* 1217: counter-provision (another form of payment) */
  /* Computed by the builder: 1020 total, 2107 any negative check. */
  uint8_t correction_type; /* 1173 (31 only): 0 own, 1 by order */
  /* 1174 (31 only), an STLV: */
  bool internet;             /* 1125 = 1: a settlement over the internet (left out when false) */
  char buyer_contact[65];    /* 1008: the buyer's phone or e-mail, "" none (left out) */
  uint32_t correction_date;  /* 1178, date of the corrected settlement */
  char correction_basis[33]; /* 1179, number of the order ("" when own) */
  /* Read back by doc_parse_receipt() (the builder computes its own): the
  ** receipt-level VAT requisite of each 1199 value, and which were there. */
  uint64_t vat_sums[DOC_VAT_MAX + 1];
  uint16_t vat_present; /* bit n: the sum of 1199 = n is on the receipt */
  /* 2116 of the receipt's sale notification (82): 1 a receipt (also when
  ** 0), 2 a correction receipt. */
  uint8_t notification_kind;
} doc_receipt_t;

/*
** The FN's sum rules for the payment forms of a receipt (3, 31) [likely:
** FFD 1.2's table of 1214 values and the forms they may be paid with, as
** FN firmware applies them]: 1215 (an offset prepayment) only against
** lines of 1214 = 4 or 5 and at most their sum; 1216 (credit) only against
** lines of 1214 = 5 or 6 and at most their sum; lines of 1214 = 1, 2, 3 and
** 7 (money that moves now) are paid by 1031 + 1081 + 1217 at least; a
** marked good's line is never a prepayment (1, 2, 3: the good is not handed
** over, its code does not leave circulation). 0 when r keeps them,
** DOC_ERR_TOTAL when it does not, TLV_ERR_ARGUMENT for a 1214 outside 1..7.
*/
int doc_payment_rules(const doc_receipt_t *r);

/* Registration (1) and re-registration (11). */
typedef struct doc_registration {
  uint8_t tax_systems;      /* 1062, bit mask */
  char ofd_inn[13];         /* 1017, "" for an autonomous KKT */
  char ofd_name[513];       /* 1046 */
  char kkt_serial[21];      /* 1013 */
  bool marking;             /* 1290 bit: sells marked goods */
  uint8_t ffd_version;      /* 1209: 4 = 1.2 */
  uint32_t reason_mask;     /* 1205 (11 only) */
  uint16_t keys_valid_days; /* 1213, the FN's key resource (days); 0: left out */
} doc_registration_t;

/*
** Settlement totals: the shift's (1194, in a shift close 5 and a state
** report 21 inside a shift) and the FN's since registration (1157, in 5
** and 21). Both have one layout: 1134 (receipts and corrections of every
** operation), then per operation 1129 (sale), 1130 (sale return), 1131
** (purchase), 1132 (purchase return) the counters of its receipts (3):
** 1135 count, 1136 cash, 1138 cashless, 1218 prepaid, 1219 credit, 1220
** other form (these three only when not 0), the VAT of each rate present
** (1139 20 %, 1140 10 %, 1141 20/120, 1142 10/110, 1143 sum at 0 %, 1183
** sum without VAT; the 2025-2026 rates [open], DOC_TAG_TOTAL_VAT_*), 1201
** total; an operation without receipts is left out. Then 1133 for the
** correction receipts (31): 1144 count, and per operation with corrections
** 1145 (sale), 1232 (sale return), 1146 (purchase), 1233 (purchase
** return), each {1135 count, 1201 total}.
*/
#define DOC_TAG_TOTAL_VAT_5      0xFE20 /* [open] VAT at 5 % in the counters      */
#define DOC_TAG_TOTAL_VAT_7      0xFE21 /* [open] 7 %                             */
#define DOC_TAG_TOTAL_VAT_5_105  0xFE22 /* [open] 5/105                           */
#define DOC_TAG_TOTAL_VAT_7_107  0xFE23 /* [open] 7/107                           */
#define DOC_TAG_TOTAL_VAT_22     0xFE24 /* [open] 22 %                            */
#define DOC_TAG_TOTAL_VAT_22_122 0xFE25 /* [open] 22/122                          */

typedef struct doc_op_totals {
  uint32_t count;                  /* 1135 */
  uint64_t total;                  /* 1201: the sum of 1020 */
  uint64_t cash;                   /* 1136 */
  uint64_t cashless;               /* 1138 */
  uint64_t prepaid, credit, other; /* 1218, 1219, 1220 */
  uint64_t vat[DOC_VAT_MAX + 1];   /* the receipts' VAT requisites, by 1199 value */
  uint16_t vat_present;            /* bit n: rate n seen */
} doc_op_totals_t;

typedef struct doc_totals {
  doc_op_totals_t receipts[5];    /* by 1054 (index 1..4; 0 unused) */
  doc_op_totals_t corrections[5]; /* correction receipts, by 1054 */
} doc_totals_t;

/* The counter tag of a 1199 value's VAT in 1129..1132 (0 outside 1..12). */
uint16_t doc_totals_vat_tag(uint8_t value);

/* Adds one receipt (3) or correction receipt (31), as doc_parse_receipt()
** read it (r with its vat_sums, total its 1020), to t. */
void doc_totals_add(doc_totals_t *t, bool correction, const doc_receipt_t *r, uint64_t total);

/*
** Reads the 1194 (tag 1194) or 1157 (tag 1157) of a sealed 5 or 21 into
** *out; DOC_ERR_MISSING when the document has none, DOC_ERR_WRONG_FORM for
** another form, a tlv_error_t for a malformed one. The VAT of a rate is
** read back into vat[] with its bit in vat_present.
*/
int doc_parse_totals(const uint8_t *doc, size_t len, uint16_t tag, doc_totals_t *out);

/*
** Whether a sealed fiscal document carries every requisite its form needs
** (the table in doc.c: the header, 1209 and the form's own; 1 and 11 their
** registration data, 11 its 1205; 2 the KKT versions; 5 its counters with
** 1194 and 1157; 21 its counters and 1157; 3 and 31 1042, 1054, 1055, a
** 1059, 1020, the payment forms; 31 also 1173 and 1174; 6 its counters;
** and 1077 in all). 0, DOC_ERR_MISSING (with *missing the first absent tag,
** may be NULL), DOC_ERR_WRONG_FORM for 7 and the marking forms, or a
** tlv_error_t. kassa-operator refuses a document that fails it; fsck and
** the tests read every archived document with it.
*/
int doc_check_required(const uint8_t *doc, size_t len, uint16_t *missing);

/*
** Whether a sealed receipt (3) or correction receipt (31) agrees with
** itself: 1020 is the sum of its lines' 1043, the five payment forms add
** up to it and keep doc_payment_rules(), and each receipt-level VAT
** requisite is there exactly for the rates its lines have, with the value
** doc_vat_amount() gives. 0, DOC_ERR_TOTAL when it does not, DOC_ERR_MISSING
** / a tlv_error_t when it cannot be read; 0 for any other form (nothing to
** add up). scratch is the caller's room to read the receipt into (about
** 130 KiB: allocate it). kassa-operator refuses a receipt that fails it.
*/
int doc_check_sums(const uint8_t *doc, size_t len, doc_receipt_t *scratch);

/*
** A registration (1) or re-registration (11) read back from the archive,
** so a replaced FN can be registered with the same data: h gets 1012,
** 1040, 1037, 1018, 1048, 1009, 1187, 1021, 1002; r gets 1209, 1013, 1062,
** 1290 (marking), 1017, 1046, 1205. DOC_ERR_WRONG_FORM for another form.
*/
int doc_parse_registration(const uint8_t *doc, size_t len, doc_header_t *h, doc_registration_t *r);

/* Shift open (2), shift close (5), state report (21), FN close (6): counters. */
typedef struct doc_counters {
  uint32_t receipts_in_shift;    /* 1118 (5) */
  uint32_t documents_in_shift;   /* 1111 (5) */
  uint32_t unsent_documents;     /* 1097 */
  uint32_t first_unsent_number;  /* 1116 (21), 0 when none */
  uint32_t first_unsent_time;    /* 1098, 0 when none */
  uint16_t keys_valid_days;      /* 1213 (days the fiscal-sign keys stay valid) */
  uint32_t unsent_notifications; /* 2104 */
  bool fn_exhausted;             /* 1050: FN resource (30 days) nearly used up */
  bool fn_replace_urgent;        /* 1051: replace the FN soon */
  bool fn_memory_full;           /* 1052: FN memory 99% full */
  bool ofd_timeout;              /* 1053: OFD answer overdue */
  /* Totals (see doc_totals_t); NULL leaves the requisite out. */
  const doc_totals_t *shift_totals; /* 1194 (5; 21 inside a shift) */
  const doc_totals_t *fn_totals;    /* 1157 (5, 21) */
} doc_counters_t;

/*
** Builders. Each writes one complete document STLV (without 1077) into
** buf[0..cap) and stores its length. Returns 0 or a negative tlv_error_t
** (TLV_ERR_NO_SPACE, TLV_ERR_VALUE_TOO_LONG, TLV_ERR_STLV_TOO_LONG,
** TLV_ERR_NOT_CP866 ...) or doc_error_t. On error *len is 0 and the bytes
** the builder touched are zeroed: nothing is half-written. A text field
** that fills its array without a NUL is TLV_ERR_ARGUMENT.
**
** Every document leaves room for its seal: a build that would not fit in
** DOC_MAX_DOCUMENT once doc_seal() adds DOC_SEAL_SIZE bytes fails with
** TLV_ERR_STLV_TOO_LONG (a buffer smaller than that gives TLV_ERR_NO_SPACE).
**
** Order of the header: 1040 number, 1012 time, 1041 FN, 1037 KKT, 1018 INN,
** 1048 user, 1009 address, 1187 place, 1021 cashier (when not ""), 1038
** shift (2, 3, 5, 6, 31 always; 21 when shift_number is not 0), 1209.
**
** Registration (1/11): 1209 (r->ffd_version, 0 means 4), 1013, 1062, 1002,
**   1056 and 1001 (both 0), 1290 (bit 8 when r->marking), 1017 and 1046
**   (not when autonomous; an online KKT without an OFD INN is
**   DOC_ERR_MISSING), 1188, 1189, 1190, 1213 (when not 0), 1205 (11 only).
** Shift open (2): 1188, 1189, FN flags 1050-1053 (when set), 1213 (when
**   not 0). Shift close (5): 1118, 1111, 1097, 1098 (when 1097 > 0), 2104,
**   flags, 1213, 1194 and 1157 (when given). State report (21): 1002 (when
**   autonomous), 1097, 1116 and 1098 (when 1097 > 0), 2104, flags, 1213,
**   1194 and 1157 (when given). FN close (6): 1097, 1098
**   (when 1097 > 0), 2104, 1157 (when given: the FNS table 124 asks for it).
*/
int doc_build_registration(const doc_header_t *h, const doc_registration_t *r, bool re,
                           uint8_t *buf, size_t cap, size_t *len);
int doc_build_shift(const doc_header_t *h, const doc_counters_t *c, bool open, uint8_t *buf,
                    size_t cap, size_t *len);
int doc_build_state_report(const doc_header_t *h, const doc_counters_t *c, uint8_t *buf, size_t cap,
                           size_t *len);
int doc_build_fn_close(const doc_header_t *h, const doc_counters_t *c, uint8_t *buf, size_t cap,
                       size_t *len);
/*
** Receipt (3) or, with correction, correction receipt (31): header, 1042,
** 1054, 1055, [31: 1173, 1174 {1178, 1179}], one 1059 per item, 1020 (the
** sum of the item totals), 1031, 1081, 1215, 1216, 1217, the VAT
** sum of each rate present (doc_vat_rate: 1102-1107 and the [open] tags of
** 5 %, 7 %, 22 % and their fractions, in tag order), 2107 (see
** doc_check_negative).
** An item: 1030, 1079, 1023, 1043, 1199, 1212, 1214, 2108, 1163 {tag:
** value} (when product_tag), and when marked 2000 (km[0..km_len), GS
** kept), 2100, 2102, the status (2003 in 3, 2110 in 31: a correction
** states the status the good got, there was no check before it), 2106;
** 1260 {1262, 1263, 1264, 1265} when has_industry.
** DOC_ERR_TOTAL when the five payment forms (1031 + 1081 + 1215 + 1216 +
** 1217) differ from the sum of the item totals, break doc_payment_rules(),
** or an amount passes 2^48 - 1 kopecks; TLV_ERR_ARGUMENT for no
** items, more than DOC_MAX_ITEMS, an operation outside 1..4, a 1173 other
** than 0 or 1, or a marked item with km_len 0 or over DOC_MAX_KM. Item
** totals are taken as given (discounts make price x quantity differ).
*/
int doc_build_receipt(const doc_header_t *h, const doc_receipt_t *r, bool correction, uint8_t *buf,
                      size_t cap, size_t *len);
/*
** KM request (81) for one code: 1041, 2001 (h->number: the request's
** number), 2114 (h->time), 1018 (when h->user_inn is not ""), 2004 (the
** item's check_result: the FN's tail bits), 2000, 2100, 2003, 1023, 2108
** (when measure is not 0: measured goods), 1291 (a fraction), 2102. Only
** fn_number, user_inn, number and time of h are used.
** Sale notification (82) for the marked lines of one receipt: 2002
** (h->number: the notification's number), 1012, 1041, 1037, 1018, 1040
** (receipt_number: the document number of the receipt reported), 2040,
** 1011 (when set), 1055, 1054, 2116 (r->notification_kind: 1 receipt, 2
** correction receipt), then one 2007 STLV per marked line {2000, 2100,
** 2110 (item km_status), 2106, 1023, 2108 when measured, 1291 for a
** fraction, 2102, 1214, 1030, 1079, 1043, 1199, 1200 (the line's VAT, 0 at
** 0 % and without VAT), 1222 and 1226 for an agent's line}.
** DOC_ERR_MISSING when the receipt has no marked line.
** The FNS tables of 81 (127), 82 (128) and 2007 (130) as a public FFD
** dictionary transcribes them (chayleaf/coop-fd, facts only) also name
** 2101 (product id) and 2115 (the code's 4-character check code) in 2007
** [open]: how each is derived was not found, so they are not written.
** The planned status 2003 is the 81's (and
** this project's receipt line's, DOMAIN §3); the 82 carries the assigned
** 2110, which is what the format's table asks.
*/
int doc_build_km_request(const doc_header_t *h, const doc_item_t *item, uint8_t *buf, size_t cap,
                         size_t *len);
int doc_build_km_notification(const doc_header_t *h, uint32_t receipt_number,
                              const doc_receipt_t *r, uint8_t *buf, size_t cap, size_t *len);

/*
** Sealing. doc_seal() appends the fiscal sign (1077, 6 bytes) inside the
** document STLV as its last requisite and fixes the STLV length; *len
** grows by DOC_SEAL_SIZE. A document already sealed is DOC_ERR_DUPLICATE;
** one that would pass DOC_MAX_DOCUMENT or its form's limit is
** TLV_ERR_STLV_TOO_LONG; cap too small is TLV_ERR_NO_SPACE.
** doc_signed_part() gives back the bytes the sign covers (the document
** without its 1077, outer length adjusted), so a verifier can recompute
** it, and the sign in sign[] (may be NULL). out may be doc itself.
** DOC_ERR_MISSING when the document has no 1077.
** doc_fiscal_sign_printed() is the number printed on a receipt: the
** big-endian uint32 of bytes 2..5 of 1077.
*/
int doc_seal(uint8_t *doc, size_t *len, size_t cap, const uint8_t sign[6]);
int doc_signed_part(const uint8_t *doc, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                    uint8_t sign[6]);
uint32_t doc_fiscal_sign_printed(const uint8_t sign[6]);

/*
** The receipt QR string: t=YYYYMMDDThhmm&s=RUB.KK&fn=…&i=…&fp=…&n=…, with
** t from h->time (read as UTC, as 1012 is written), s = total in rubles
** with two decimals, fn, i = h->number, fp the printed fiscal sign, n the
** operation (1054). TLV_ERR_NO_SPACE (out = "") when cap is too small.
*/
int doc_receipt_qr(const doc_header_t *h, uint64_t total, uint8_t operation, uint32_t fp, char *out,
                   size_t cap);

/*
** What a document is, read back from its TLV (archive listing, fsck).
** number is 1040 (2001 for 81/83, 2002 for 82/84), time 1012 (2114 for
** 81/83); fields a document lacks are 0. doc must be exactly one document
** STLV: a tag that is not a form code is DOC_ERR_WRONG_FORM, trailing
** bytes TLV_ERR_BAD_LENGTH, a malformed TLV its tlv_error_t.
*/
typedef struct doc_summary {
  uint16_t type;
  uint32_t number;       /* 1040, 0 if absent */
  uint32_t time;         /* 1012 */
  uint32_t shift_number; /* 1038 */
  uint64_t total;        /* 1020 (receipts) */
  uint8_t operation;     /* 1054 (receipts) */
  bool has_sign;
  uint8_t sign[6];
} doc_summary_t;
int doc_summarize(const uint8_t *doc, size_t len, doc_summary_t *out);

/*
** A receipt (3) or correction receipt (31) read back from the archive, for
** the till's replay of sales into its code cache, the printed receipt and
** fsck. h gets 1040, 1012, 1041, 1037, 1018, 1048, 1021, 1009, 1187, 1038;
** r gets 1054, 1055, 1042, the items (2003 or 2110 into km_status) and the
** payments; *total 1020, sign 1077 (all zero when the document is not
** sealed). Unknown requisites are skipped. DOC_ERR_WRONG_FORM for another
** form, TLV_ERR_NO_SPACE past DOC_MAX_ITEMS, or a tlv_error_t. r is large
** (about 250 KiB): allocate it; its items past item_count are left as they
** were (not cleared).
*/
int doc_parse_receipt(const uint8_t *doc, size_t len, doc_header_t *h, doc_receipt_t *r,
                      uint64_t *total, uint8_t sign[6]);

/*
** Parsers (7, 83, 84) read a document from outside: it must be exactly one
** STLV of that form (DOC_ERR_WRONG_FORM otherwise), every length is
** checked (tlv_error_t), a requisite twice is DOC_ERR_DUPLICATE, a
** required one absent DOC_ERR_MISSING; requisites they do not use are
** skipped. *out is written only on success. The builders make the same
** documents, for the operator emulator and the tests.
**
** Operator acknowledgement (7): 1012, 1068 {1022}, 1078 and the OFD's INN
** 1017 are required; 1017 may stand at the top or inside 1068 (a real
** OFD's answer puts it there, beside 1022 and 1047). 1041 and 1040 are
** optional: a real OFD names the FN and the document only in the
** container's header, so a parsed ack without them has fn_number "" and
** document_number 0, and the reader takes them from the header
** (fn_bytes_t in fiscal/fn.h). The builder writes 1017 at the top, and
** 1041 / 1040 only when fn_number is not "" / document_number not 0.
*/
typedef struct doc_ack {
  char ofd_inn[13];
  char fn_number[17];       /* 1041; "" when the answer carries none */
  uint32_t document_number; /* 1040; 0 when the answer carries none */
  uint32_t time;
  uint8_t answer_code; /* 1022: 0 ok */
  uint8_t operator_sign[18];
  size_t operator_sign_len;
} doc_ack_t;
int doc_parse_ack(const uint8_t *doc, size_t len, doc_ack_t *out);
int doc_build_ack(const doc_ack_t *a, uint8_t *buf, size_t cap, size_t *len);

/* OISM answer (83): 2001, 2114, 2000 (when km_len > 0), 2100, 2102, 2109,
** 2105, 2005. Required: 2105, and 2109 when 2105 is 0. */
typedef struct doc_km_answer {
  uint32_t request_number; /* 2001, the number of the request (81) answered */
  uint32_t request_time;   /* 2114, the time of that request */
  char km[DOC_MAX_KM + 1]; /* 2000, the code the answer is about; km_len 0 when absent */
  size_t km_len;
  uint8_t status_answer;      /* 2109: 1 correct, 2 incorrect, 3 circulation suspended */
  uint8_t processing_code;    /* 2105: 0 ok, 1 bad request, 2 bad KM */
  uint8_t km_type;            /* 2100 */
  uint8_t km_mode;            /* 2102 */
  uint8_t processing_results; /* 2005, bits as received */
} doc_km_answer_t;
int doc_parse_km_answer(const uint8_t *doc, size_t len, doc_km_answer_t *out);
int doc_build_km_answer(const doc_km_answer_t *a, uint8_t *buf, size_t cap, size_t *len);

/* Notification ticket (84): 2002 (notification number), 2111 (0 accepted,
** 1 bad), 2006. Required: 2002 and 2111. */
typedef struct doc_km_ticket {
  uint32_t notification_number; /* 2002 */
  uint8_t result;               /* 2111 */
  uint8_t processing_results;   /* 2006 */
} doc_km_ticket_t;
int doc_parse_km_ticket(const uint8_t *doc, size_t len, doc_km_ticket_t *out);
int doc_build_km_ticket(const doc_km_ticket_t *t, uint8_t *buf, size_t cap, size_t *len);

/*
** Any document as FNS-style JSON: {"receipt":{"code":3,
** "fiscalDocumentNumber":…}} with names from the tag dictionary (the form's
** own name as the outer key, and "code": the form code), nested STLVs as
** objects, 1059 and 2007 always as arrays ("items", "labeledProductData";
** any other tag seen twice becomes one too), strings in UTF-8,
** times as Unix seconds, money as kopeck integers, FVLN as decimal numbers,
** byte arrays as upper-case hex, unknown tags as hex under their number.
** The one function here that allocates. Returns a string the caller frees
** with free(), or NULL with *err (may be NULL) set: a tlv_error_t for a
** malformed document, DOC_ERR_WRONG_FORM, DOC_ERR_NO_MEMORY; *err is 0 on
** success.
*/
char *doc_to_json(const uint8_t *doc, size_t len, int *err);

#endif
