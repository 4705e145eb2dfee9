/*
** device/shtrih_cmd.h: the Shtrih-M commands kassa uses, as pure encoders
** and decoders, and the protocol's error table.
**
** A request is the command code (one byte; the FN commands are two, FF
** then the code) and its parameters, almost always starting with the
** operator's or administrator's password (4 bytes, little-endian; 30 is
** the factory administrator's). An answer is the command code, an error
** byte, and, only when the error is 0, the fields. Numbers are binary
** little-endian; a date and time from the FN is 5 bytes YY MM DD HH MM.
** Strings are CP1251 on the wire and UTF-8 here.
**
** The layouts are the vendor's protocol description ("Протокол ККТ 2.0",
** "Команды работы с ФН"); the tests hold each decoder to bytes recorded
** from devices and the vendor's own unit tests (tests/data/shtrih/).
** Nothing here does I/O: shtrih_link.h carries the bytes, fn_shtrih.h
** turns answers into fn.h's structures.
*/
#ifndef KASSA_DEVICE_SHTRIH_CMD_H
#define KASSA_DEVICE_SHTRIH_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device/shtrih_frame.h"

/* Command codes (FF xx written 0xFFxx). */
enum {
  SHTRIH_CMD_SHORT_STATUS = 0x10,
  SHTRIH_CMD_STATUS = 0x11,
  SHTRIH_CMD_WRITE_TABLE = 0x1E,
  SHTRIH_CMD_READ_TABLE = 0x1F,
  SHTRIH_CMD_ERROR_TEXT = 0x6B,
  SHTRIH_CMD_DEVICE_TYPE = 0xFC,
  SHTRIH_CMD_FN_STATUS = 0xFF01,
  SHTRIH_CMD_FN_NUMBER = 0xFF02,
  SHTRIH_CMD_FN_BEGIN_REGISTRATION = 0xFF05,
  SHTRIH_CMD_FN_REGISTER = 0xFF06,
  SHTRIH_CMD_FN_CANCEL_DOCUMENT = 0xFF08,
  SHTRIH_CMD_FN_REGISTRATION = 0xFF09,
  SHTRIH_CMD_FN_FIND_DOCUMENT = 0xFF0A,
  SHTRIH_CMD_FN_OPEN_SHIFT = 0xFF0B,
  SHTRIH_CMD_FN_SEND_TLV = 0xFF0C,
  SHTRIH_CMD_FN_BUFFER_STATUS = 0xFF30,
  SHTRIH_CMD_FN_READ_BLOCK = 0xFF31,
  SHTRIH_CMD_FN_REREGISTER = 0xFF34,
  SHTRIH_CMD_FN_BEGIN_CORRECTION = 0xFF35,
  SHTRIH_CMD_FN_BEGIN_STATE_REPORT = 0xFF37,
  SHTRIH_CMD_FN_STATE_REPORT = 0xFF38,
  SHTRIH_CMD_FN_EXCHANGE_STATUS = 0xFF39,
  SHTRIH_CMD_FN_DOCUMENT_TLV = 0xFF3A,
  SHTRIH_CMD_FN_READ_TLV = 0xFF3B,
  SHTRIH_CMD_FN_BEGIN_CLOSE_FN = 0xFF3D,
  SHTRIH_CMD_FN_CLOSE_FN = 0xFF3E,
  SHTRIH_CMD_FN_UNSENT_COUNT = 0xFF3F,
  SHTRIH_CMD_FN_SHIFT_PARAMS = 0xFF40,
  SHTRIH_CMD_FN_BEGIN_OPEN_SHIFT = 0xFF41,
  SHTRIH_CMD_FN_BEGIN_CLOSE_SHIFT = 0xFF42,
  SHTRIH_CMD_FN_CLOSE_SHIFT = 0xFF43,
  SHTRIH_CMD_FN_CLOSE_RECEIPT = 0xFF45,
  SHTRIH_CMD_FN_OPERATION = 0xFF46,
  SHTRIH_CMD_FN_OPERATION_TLV = 0xFF4D,
  SHTRIH_CMD_FN_KM_CHECK = 0xFF61,
  SHTRIH_CMD_FN_KM_BIND = 0xFF67,
  SHTRIH_CMD_FN_KM_ACCEPT = 0xFF69,
  SHTRIH_CMD_FN_KM_STATUS = 0xFF70,
};

/* Error bytes kassa acts on (the rest are only shown, with their text). */
enum {
  SHTRIH_E_OK = 0x00,
  SHTRIH_E_FN_UNKNOWN_COMMAND = 0x01,
  SHTRIH_E_FN_NO_DATA = 0x08,
  SHTRIH_E_BAD_PARAMS = 0x33,
  SHTRIH_E_PAYMENT_SHORT = 0x45,
  SHTRIH_E_NOT_SUPPORTED = 0x37,
  SHTRIH_E_PASSWORD = 0x4F,
};

/* The factory administrator's password. */
#define SHTRIH_DEFAULT_PASSWORD 30u

/* A message being built. Writes past SHTRIH_MAX_MESSAGE set overflow and
** are dropped; a sender refuses an overflowed message. */
typedef struct shtrih_msg {
  uint8_t data[SHTRIH_MAX_MESSAGE];
  size_t len;
  bool overflow;
} shtrih_msg_t;

/* Starts msg with command (one byte up to 0xFF, else FF and the low byte). */
void shtrih_msg_begin(shtrih_msg_t *msg, uint16_t command);
/* Appends value as n (1..8) little-endian bytes. */
void shtrih_msg_le(shtrih_msg_t *msg, uint64_t value, size_t n);
/* Appends bytes. */
void shtrih_msg_bytes(shtrih_msg_t *msg, const void *bytes, size_t n);
/* Appends text (ASCII) in a field of width bytes, NUL-padded, cut to fit. */
void shtrih_msg_text(shtrih_msg_t *msg, const char *text, size_t width);
/* shtrih_msg_begin + the password: the start of almost every request. */
void shtrih_request(shtrih_msg_t *msg, uint16_t command, uint32_t password);

/* An answer being read. Reads past the end set short_read and give 0. */
typedef struct shtrih_answer {
  uint16_t command;
  uint8_t error;
  const uint8_t *fields;
  size_t len, at;
  bool short_read;
} shtrih_answer_t;

/*
** Splits message[0..len) into command, error and fields (the pointer
** stays into message). -1 when it is shorter than the code and the error
** byte. A code whose first byte is FF is two bytes (the vendor driver does
** the same with a one-byte FF answer: its second byte is the "error").
*/
int shtrih_answer_parse(const uint8_t *message, size_t len, shtrih_answer_t *a);
uint64_t shtrih_get_le(shtrih_answer_t *a, size_t n);
/* Copies n bytes (zeros past the end). */
void shtrih_get_bytes(shtrih_answer_t *a, uint8_t *out, size_t n);
/* n bytes of CP1251 text, up to the first NUL, as UTF-8 into out. */
void shtrih_get_text(shtrih_answer_t *a, size_t n, char *out, size_t out_size);

/* CP1251 src[0..n) (stopping at a NUL) to UTF-8, always terminated. */
void shtrih_cp1251_to_utf8(const uint8_t *src, size_t n, char *out, size_t out_size);

/* FN date-time YY MM DD HH MM <-> FFD seconds (local time written as UTC).
** A date that is not one (month 13, ...) gives 0. */
uint32_t shtrih_fn_time(const uint8_t b[5]);
void shtrih_fn_time_put(uint32_t seconds, uint8_t b[5]);

/* ---- Answers ---------------------------------------------------------- */

/* FCh: who the device is. */
typedef struct shtrih_device_type {
  uint8_t type, subtype, protocol, subprotocol, model, language;
  char name[128]; /* UTF-8 */
} shtrih_device_type_t;
int shtrih_decode_device_type(shtrih_answer_t *a, shtrih_device_type_t *out);

/* 10h: short status. Modes (low nibble) per the protocol's appendix 1:
** 2 shift open, 3 shift open over 24 h, 4 shift closed, 8 document open. */
typedef struct shtrih_short_status {
  uint8_t operator_number;
  uint16_t flags;
  uint8_t mode, submode;
  uint16_t operations; /* in the open receipt */
} shtrih_short_status_t;
int shtrih_decode_short_status(shtrih_answer_t *a, shtrih_short_status_t *out);
enum {
  SHTRIH_MODE_SHIFT_OPEN = 2,
  SHTRIH_MODE_SHIFT_OVERDUE = 3,
  SHTRIH_MODE_SHIFT_CLOSED = 4,
  SHTRIH_MODE_DOCUMENT_OPEN = 8,
};

/* FF01h: the FN's status. phase bits: 0 set up, 1 fiscal mode open, 2
** fiscal mode closed, 3 archive delivered to the OFD. */
typedef struct shtrih_fn_status {
  uint8_t phase_bits, document, document_data;
  bool shift_open;
  uint8_t warnings;
  uint32_t time; /* FFD seconds */
  char fn_number[17];
  uint32_t last_document;
} shtrih_fn_status_t;
int shtrih_decode_fn_status(shtrih_answer_t *a, shtrih_fn_status_t *out);

/* FF39h: the exchange with the OFD. */
typedef struct shtrih_exchange_status {
  uint8_t status_bits;
  bool reading;
  uint16_t unsent;
  uint32_t first_unsent_number;
  uint32_t first_unsent_time; /* FFD seconds, 0 none */
} shtrih_exchange_status_t;
int shtrih_decode_exchange_status(shtrih_answer_t *a, shtrih_exchange_status_t *out);

/* FF40h: the current shift. */
typedef struct shtrih_shift_params {
  bool open;
  uint16_t shift_number, receipt_number;
} shtrih_shift_params_t;
int shtrih_decode_shift_params(shtrih_answer_t *a, shtrih_shift_params_t *out);

/* FF0Bh (open shift), FF43h (close shift): shift number, FD, FP. FF38h
** (state report): FD, FP, unsent count (4), first unsent date (3, YY MM
** DD). FF06h/FF34h/FF3Eh: FD, FP. One struct for all of them. */
typedef struct shtrih_fd_answer {
  uint16_t shift_number;
  uint32_t number, fiscal_sign;
  uint32_t unsent;
  uint32_t first_unsent_date; /* FFD seconds at midnight, 0 none */
} shtrih_fd_answer_t;
int shtrih_decode_shift_fd(shtrih_answer_t *a, shtrih_fd_answer_t *out);
int shtrih_decode_state_report(shtrih_answer_t *a, shtrih_fd_answer_t *out);
/* FF3Eh (close the FN's fiscal mode), FF06h, FF34h: FD (4), FP (4). */
int shtrih_decode_fd_sign(shtrih_answer_t *a, shtrih_fd_answer_t *out);

/* FF0Ah: a document found by number: its type, whether the OFD's ticket
** came, its date, number, fiscal sign and the rest as the type lays out. */
typedef struct shtrih_found_document {
  uint8_t type;
  bool ticket;
  uint32_t time, number, fiscal_sign;
  size_t data_len;
  uint8_t data[SHTRIH_MAX_MESSAGE];
} shtrih_found_document_t;
int shtrih_decode_found_document(shtrih_answer_t *a, shtrih_found_document_t *out);

/* FF30h: how much the FN's buffer holds and the largest block to read. */
int shtrih_decode_buffer_status(shtrih_answer_t *a, uint16_t *size, uint8_t *block);
/* FF3Ah: the document's STLV tag and length (FF3Bh then reads its TLVs). */
int shtrih_decode_document_tlv(shtrih_answer_t *a, uint16_t *tag, uint16_t *len);
/* FF3Fh: documents without the OFD's ticket. */
int shtrih_decode_unsent_count(shtrih_answer_t *a, uint16_t *count);

/* ---- Receipts ----------------------------------------------------------- */

/*
** FF46h, "operation v2": one line of a receipt (the first opens it).
** Layout (password first): operation 1054 (1), quantity in millionths (6),
** price 1079 (5), sum 1043 (5; all FF: the register computes it), tax sum
** (5; all FF: the register computes it), tax rate (1: the register's tax
** table row, shtrih_tax_of_vat), department (1), 1214 (1), 1212 (1), the
** name 1030 (CP1251, up to 128 bytes). Answer: none beyond the error.
*/
typedef struct shtrih_operation {
  uint8_t operation;
  uint64_t quantity_millionths;
  uint64_t price, total; /* total SHTRIH_SUM_UNSET: the register's */
  uint8_t tax, department, payment_method, subject;
  char name[257]; /* UTF-8 */
} shtrih_operation_t;
#define SHTRIH_SUM_UNSET 0xFFFFFFFFFFull
void shtrih_encode_operation(shtrih_msg_t *msg, uint32_t password, const shtrih_operation_t *op);
/* The request's parameters (after code and password) back; -1 when short. */
int shtrih_decode_operation(const uint8_t *p, size_t len, shtrih_operation_t *out);

/*
** The register's tax byte for a 1199 value and back. The vendor's default
** tax table: 1 VAT 20 %, 2 VAT 10 %, 3 VAT 0 %, 4 no VAT, 5 20/120, 6
** 10/110, and the 2026 rows 11 VAT 22 %, 12 22/122 (a register whose
** table 6 was changed differs: HARDWARE.md). 0 for a value without a row.
*/
uint8_t shtrih_tax_of_vat(uint8_t vat);
uint8_t shtrih_vat_of_tax(uint8_t tax);

/*
** FF45h, "close receipt extended v2": 16 payment sums (5 each: 1 cash
** 1031, 2 cashless 1081, 14 prepayment 1215, 15 credit 1216, 16 other
** 1217), a discount byte, 6 tax sums (5 each, all FF: the register's),
** the tax system 1055 (1 bit), a text. Answer: change (5), FD (4), FP (4).
*/
typedef struct shtrih_close {
  uint64_t payments[16];
  uint8_t tax_system;
} shtrih_close_t;
void shtrih_encode_close(shtrih_msg_t *msg, uint32_t password, const shtrih_close_t *c);
int shtrih_decode_close(const uint8_t *p, size_t len, shtrih_close_t *out);
int shtrih_decode_close_answer(shtrih_answer_t *a, uint64_t *change, uint32_t *number,
                               uint32_t *fiscal_sign);

/* ---- Marking ------------------------------------------------------------- */

/*
** FF61h, check a marking code in the FN: planned status 2003 (1), check
** mode (1), the code's length (1), the TLV list's length (1), the code as
** scanned (GS kept), TLVs (2108 and 1023 for a part sold). Answer: the
** local check's result (1: 2106 bits 0 and 1), why it was not done (1: 0
** done, 1 a type the FN does not check, 2 no key, 3 no 91/92, 4 other),
** the code's type 2100 (1), the length of what follows (1), then, when
** the register asked the OISM itself: the FN's answer code (1), the
** result (1: the 2106 bits the answer added) and the OISM's requisites.
*/
typedef struct shtrih_km_check {
  uint8_t planned_status; /* 2003 */
  uint8_t mode;
  uint8_t km_len;
  uint8_t km[255];
  /* The TLVs after the code: 1291 for a part of the unit ([open]). */
  uint8_t tlv_len;
  uint8_t tlv[64];
} shtrih_km_check_t;
void shtrih_encode_km_check(shtrih_msg_t *msg, uint32_t password, const shtrih_km_check_t *c);
int shtrih_decode_km_check(const uint8_t *p, size_t len, shtrih_km_check_t *out);

typedef struct shtrih_km_result {
  uint8_t local_result, local_reason, km_type;
  bool online; /* the register asked the OISM */
  uint8_t online_code, online_result;
} shtrih_km_result_t;
int shtrih_decode_km_result(shtrih_answer_t *a, shtrih_km_result_t *out);

/* FF69h: accept (1) or decline (0) the code last checked. Answer: 2106. */
/* FF67h: bind a code to the next line: its length (1) and the code. */
/* FF70h: the marking state. Answer: check state (1), notification state
** (1), command flags (1), results kept (1), codes in the notification
** being built (1), the notification store's fill (1), notifications in
** the queue (2). */
typedef struct shtrih_km_status {
  uint8_t check_state, notification_state, flags, results_kept, in_notification, fill;
  uint16_t queued;
} shtrih_km_status_t;
int shtrih_decode_km_status(shtrih_answer_t *a, shtrih_km_status_t *out);

/* UTF-8 text to CP1251 into out (at most out_size - 1 bytes, never half
** a character; NUL-terminated). -1 when a character has no CP1251 form. */
int shtrih_utf8_to_cp1251(const char *text, uint8_t *out, size_t out_size, size_t *len);

/* Each decoder: 0, or -1 when the answer's error is not 0 (the caller
** reports the error byte) or its fields are shorter than the layout. */

/* ---- Errors ------------------------------------------------------------ */

/*
** The text of an error byte, as the register reports it, in Russian or
** English, and a stable name ("password", "fn_shift_overdue", ...). With
** an FN (every register kassa drives) the vendor's driver reads bytes
** below 0x20 and A0..B2 as the FN's own errors and the rest as the
** register's; so do these. A byte in neither table: "unknown" and a
** generic text. Never NULL.
*/
const char *shtrih_error_name(uint8_t code);
const char *shtrih_error_text(uint8_t code, bool russian);

/*
** fn.h's errors and a register's FN error bytes. The FN's own codes below
** 20h are the same number (0x16 is FN_ERR_SHIFT_OVERDUE); the marking
** refusals kassa's emulator numbers 0x34..0x3E are the vendor's A2h
** (marking blocked: the notification store full; [open]: also for keys
** older than 90 days, which the vendor's table does not name), A3h (the
** table of checked codes full) and ACh (a code not checked in the FN).
** shtrih_fn_byte_of_err: the byte a register answers for an fn_err_t (03h,
** "FN failure", for one it cannot have); shtrih_err_of_fn_byte: the
** fn_err_t of an FN byte (a byte below 20h or A0h..B2h), 0 for another.
*/
uint8_t shtrih_fn_byte_of_err(int fn_err);
int shtrih_err_of_fn_byte(uint8_t code);

/* ---- Registration ------------------------------------------------------- */

/*
** A registration through the register (the vendor's description, "Команды
** работы с ФН", and its drivers: javapos_shtrih's Fiscalizer, fr_drv_ng's
** examples and issues 160, 175, 177, 224): the register takes the
** header's texts from its table 18 ("Fiscal storage", row 1), the FFD
** version from table 17, then FF05h begins the report (type 0 a
** registration, 1 a re-registration with the FN replaced, 2 without),
** and FF06h (registration) or FF34h (re-registration) makes it: INN 12
** bytes and the KKT's registration number 20 bytes (ASCII, NUL-padded by
** the vendor's Java driver, space-padded by fr_drv_ng), the tax systems
** (1062 mask), the work mode (bits: 0 encryption, 1 autonomous, 2
** automatic, 3 services, 4 BSO, 5 internet) and, for FF34h, a reason
** byte (the FFD 1.05 1101 code; FFD 1.2's 1205 mask is table 18 field
** 22). Answer: FD (4), FP (4) (shtrih_decode_fd_sign).
*/
enum {
  SHTRIH_REG_REPORT = 0,      /* FF05h: the registration report */
  SHTRIH_REG_FN_REPLACED = 1, /* a re-registration, the FN replaced */
  SHTRIH_REG_CHANGE = 2,      /* a re-registration, the same FN */
  SHTRIH_WORK_MODE_AUTONOMOUS = 0x02,
  /* 36h, "incorrect parameters for this model": a recorded register's
  ** answer to FF34h with a reason byte of 40h (fr_drv_ng issue 160). */
  SHTRIH_E_MODEL_PARAMS = 0x36,
};

/* Table 18 ("Fiscal storage"), row 1, the fields kassa writes, and table
** 17 field 17 (the FFD version: 2 = 1.05, 4 = 1.2). The texts longer than
** their field's 128 bytes go on in a second field (7/17, 9/18, 10/19), as
** the vendor's Java driver splits them. */
enum {
  SHTRIH_TABLE_FN = 18,
  SHTRIH_FIELD_SERIAL = 1,         /* 1013, read-only: the register's own */
  SHTRIH_FIELD_USER = 7,           /* 1048 */
  SHTRIH_FIELD_CASHIER = 8,        /* 1021, who registers */
  SHTRIH_FIELD_ADDRESS = 9,        /* 1009 */
  SHTRIH_FIELD_OFD_NAME = 10,      /* 1046 */
  SHTRIH_FIELD_OFD_INN = 12,       /* 1017 */
  SHTRIH_FIELD_PLACE = 14,         /* 1187 */
  SHTRIH_FIELD_USER_MORE = 17,     /* the rest of 1048 */
  SHTRIH_FIELD_ADDRESS_MORE = 18,  /* the rest of 1009 */
  SHTRIH_FIELD_OFD_NAME_MORE = 19, /* the rest of 1046 */
  SHTRIH_FIELD_EXT_MODES = 21,     /* bit 4: sells marked goods */
  SHTRIH_FIELD_REASONS = 22,       /* 1205, 4 bytes */
  SHTRIH_TABLE_SETUP = 17,
  SHTRIH_FIELD_FFD = 17,
  SHTRIH_EXT_MODE_MARKING = 0x10,
  SHTRIH_TEXT_FIELD = 128, /* bytes of text a field holds */
};

typedef struct shtrih_registration {
  char inn[13]; /* 1018, without the padding */
  char rnm[21]; /* 1037 */
  uint8_t tax_systems, work_mode;
  uint8_t reason; /* FF34h only */
} shtrih_registration_t;

/* FF06h (re false) or FF34h (re true) with the password. */
void shtrih_encode_registration(shtrih_msg_t *msg, uint32_t password,
                                const shtrih_registration_t *r, bool re);
/* Its parameters (after code and password) back, the padding (NULs or
** spaces) dropped; -1 when the length is not the layout's. */
int shtrih_decode_registration(const uint8_t *p, size_t len, bool re, shtrih_registration_t *out);
/* FF0Ah's data after a registration (1) or re-registration (11): INN,
** registration number, tax systems, work mode (the vendor's
** FSRegistrationReport). -1 when shorter. */
int shtrih_decode_found_registration(const shtrih_found_document_t *d, shtrih_registration_t *out);

/*
** 1Eh, write a table's field: table (1), row (2), field (1), the value
** (a number little-endian in the field's width, or CP1251 text: a NUL
** ends it). 1Fh reads one: the same without the value; answer the value.
*/
void shtrih_encode_write_table(shtrih_msg_t *msg, uint32_t password, uint8_t table, uint16_t row,
                               uint8_t field, const void *value, size_t len);
typedef struct shtrih_table_cell {
  uint8_t table, field;
  uint16_t row;
  const uint8_t *value; /* into the request */
  size_t len;
} shtrih_table_cell_t;
/* 1Eh's (or 1Fh's, value empty) parameters back; -1 when short. */
int shtrih_decode_table_cell(const uint8_t *p, size_t len, shtrih_table_cell_t *out);

/*
** FF09h, the last registration's data ("Запрос итогов фискализации").
** The description's layout: date and time (5), INN (12), registration
** number (20), 1062 (1), work mode (1), FD (4), FP (4) (47 bytes; a
** register may add the document's FN date-time, 5). An FFD 1.1/1.2
** register answers longer (fr_drv_ng issue 148; the vendor's Java
** FSReadFiscalization reads 64 bytes or more so): date (3, YY MM DD) and
** time (2, HH MM), INN, registration number, 1062, work mode, extended
** modes (1, table 18 field 21's bits), the OFD's INN (12), 1205 (4), FD,
** FP (66 bytes). Either is read; long_form says which.
*/
typedef struct shtrih_registration_data {
  shtrih_registration_t r; /* reason unused */
  uint32_t time;           /* FFD seconds */
  bool long_form;
  uint8_t ext_modes;
  char ofd_inn[13];
  uint32_t reasons; /* 1205 */
  uint32_t number, fiscal_sign;
} shtrih_registration_data_t;
int shtrih_decode_registration_data(shtrih_answer_t *a, shtrih_registration_data_t *out);

#endif
