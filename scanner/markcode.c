/*
** markcode.c: from one scanned string to a trusted marking code.
**
** The work happens in four stages, each a function below:
**
**   1. clean_input()  bytes -> ASCII with real GS (0x1D) separators. Undoes
**                     what scanners and software do to a code: AIM prefixes,
**                     GS spelled as text ({FNC1}, <GS>, &#x1D;, \u001d, ↔,
**                     0xE8, spaces), whitespace, leading and trailing GS,
**                     and the Russian keyboard layout. Every output byte
**                     remembers the input offset it came from, so errors
**                     point at the byte the cashier's scanner produced.
**   2. classify()     picks the kind by shape: GS1 element string, the
**                     bracketed (01)… form, tobacco pack, fur tag, EGAIS,
**                     EAN-13/8, ITF-14.
**   3. gs1_split()    cuts a GS1 string into application identifiers,
**                     trusting the separators, by GS1's AI table. When
**                     separators were lost (keyboard-wedge scanners), the
**                     table of known layouts puts them back: each layout
**                     lists its fields and their fixed lengths, so a serial
**                     or tail that happens to contain "91" or "93" is never
**                     mistaken for the next field. parse_gs1() says which
**                     reading wins: the separators when they are there,
**                     the layouts when they are not.
**   4. gs1_validate() checks every field against GS1's rules for its AI
**                     (character set, length, check digit, date) and what a
**                     marking code needs (21 with any tail; 91 of 4, 92 of
**                     44/88, 93 of 4), then derives ki, tag 1162, tag 1163,
**                     tag 2100 and the canonical string. Family rules (the
**                     serial lengths of each layout, a GTIN indicator of 0)
**                     only add notes to `fixes`; they refuse nothing.
**
** Everything is table-driven (errors, fixes, AIs, layouts) so that a new
** product group is a new table row, not new code. Nothing is allocated and
** nothing is global but constant tables.
**
** Decisions the domain notes leave open are marked [open] where they are
** made; each is one table entry or one constant, easy to change.
*/
#include "scanner/markcode.h"
#include "scanner/layout.h"

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* For the few helpers of the hot path the compiler would call from more
** than one place: a call and its spills cost more than their bodies. */
#define HOT_INLINE inline __attribute__((always_inline))

/* pthread_once(once, fill) with its common case inline: `filled` is set,
** with release order, as fill()'s last act, so a thread that reads it set
** (acquire) sees the tables fill() made; one that does not asks
** pthread_once(), which waits for them. The call cost a parse of a repair
** about ten instructions a table. */
static HOT_INLINE void once_filled(pthread_once_t *once, void (*fill)(void), const bool *filled)
{
  if (!__atomic_load_n(filled, __ATOMIC_ACQUIRE)) pthread_once(once, fill);
}

/* ---------------------------------------------------------------------- */
/* Tables: errors, kinds, fixes                                            */
/* ---------------------------------------------------------------------- */

typedef struct err_info {
  const char *code;
  const char *ru; /* may use one %s: err_detail */
  const char *en;
} err_info_t;

static const err_info_t err_table[MARKCODE_ERR__COUNT] = {
    [MARKCODE_OK] = {"ok", "Код в порядке.", "The code is valid."},
    [MARKCODE_ERR_EMPTY] = {"empty", "Пустой скан: код не получен. Отсканируйте ещё раз.",
                            "Empty scan: no code was received. Scan again."},
    [MARKCODE_ERR_TOO_LONG] =
        {"too_long", "Слишком длинный скан (%s байт, допустимо до 512): это не код маркировки.",
         "Scan too long (%s bytes, at most 512): this is not a marking code."},
    [MARKCODE_ERR_BAD_UTF8] =
        {"bad_utf8", "Сканер передал испорченные байты: проверьте кодировку в настройках сканера.",
         "The scanner sent bytes that are not UTF-8: check the scanner's encoding."},
    [MARKCODE_ERR_BAD_CHAR] = {"bad_char",
                               "Недопустимый символ «%s»: в кодах маркировки его не бывает.",
                               "Character '%s' never appears in a marking code."},
    [MARKCODE_ERR_UNKNOWN_FORMAT] = {"unknown_format",
                                     "Это не код маркировки и не штрихкод товара.",
                                     "This is neither a marking code nor a product barcode."},
    [MARKCODE_ERR_GTIN_FORMAT] = {"gtin_format",
                                  "Код товара (GTIN) должен состоять из 14 цифр: «%s».",
                                  "The product code (GTIN) must be 14 digits: '%s'."},
    [MARKCODE_ERR_GTIN_CHECK] =
        {"gtin_check_digit",
         "Неверная контрольная цифра кода товара %s: код повреждён или поддельный.",
         "GTIN %s has a wrong check digit: the code is damaged or fake."},
    [MARKCODE_ERR_GTIN_INDICATOR] =
        {"gtin_indicator",
         "Код товара %s не относится к потребительской упаковке (первая цифра не 0).",
         "GTIN %s does not identify a consumer unit (its indicator digit is not 0)."},
    [MARKCODE_ERR_NO_SERIAL] = {"no_serial", "В коде нет серийного номера (21): код неполный.",
                                "The code has no serial number (AI 21): it is incomplete."},
    [MARKCODE_ERR_SERIAL_CHARSET] =
        {"serial_charset", "Недопустимый символ «%s» в серийном номере: код повреждён.",
         "Character '%s' is not allowed in a serial number: the code is damaged."},
    [MARKCODE_ERR_SERIAL_LENGTH] =
        {"serial_length",
         "Серийный номер из %s символов не подходит к этому виду кода: код повреждён.",
         "A serial number of %s characters does not fit this kind of code: the code is damaged."},
    [MARKCODE_ERR_KEY_LENGTH] =
        {"key_length",
         "Ключ проверки (91) должен быть из 4 символов, а не %s: код считан не полностью.",
         "The verification key (AI 91) must be 4 characters, not %s: the code was read "
         "incompletely."},
    [MARKCODE_ERR_TAIL_LENGTH] =
        {"tail_length",
         "Код проверки неверной длины (%s): код считан не полностью, отсканируйте ещё раз.",
         "The verification code has the wrong length (%s): the code was read incompletely, scan "
         "again."},
    [MARKCODE_ERR_TAIL_CHARSET] =
        {"tail_charset", "Недопустимый символ «%s» в коде проверки (92): код повреждён.",
         "Character '%s' is not allowed in the verification code (AI 92): the code is damaged."},
    [MARKCODE_ERR_CAPS_LOCK] =
        {"caps_lock",
         "Регистр букв искажён (включён Caps Lock?): выключите Caps Lock и отсканируйте ещё раз.",
         "Letter case was destroyed (Caps Lock on?): switch Caps Lock off and scan again."},
    [MARKCODE_ERR_TOBACCO_TRUNCATED] =
        {"tobacco_truncated", "Код пачки табака неполный: %s символов из 29. Отсканируйте ещё раз.",
         "The tobacco pack code is incomplete: %s of 29 characters. Scan again."},
    [MARKCODE_ERR_TRAILING_GARBAGE] = {"trailing_garbage", "Лишние символы после кода: «%s».",
                                       "Unexpected characters after the code: '%s'."},
    [MARKCODE_ERR_GS_MISSING] =
        {"gs_missing",
         "В коде потеряны разделители (GS) и восстановить их нельзя: сканер, вероятно, "
         "в режиме клавиатуры. Включите в сканере передачу GS.",
         "The code lost its group separators (GS) and they cannot be restored: the "
         "scanner is probably in keyboard mode. Enable GS transmission in the scanner."},
    [MARKCODE_ERR_AI_UNKNOWN] = {"ai_unknown", "Код повреждён: «%s» вместо идентификатора поля.",
                                 "The code is damaged: '%s' where a field identifier should be."},
    [MARKCODE_ERR_AI_VALUE] = {"ai_value", "Неверное значение поля %s: код повреждён.",
                               "Field %s has an invalid value: the code is damaged."},
    [MARKCODE_ERR_AI_DUPLICATE] = {"ai_duplicate",
                                   "Поле %s встречается в коде дважды: код повреждён.",
                                   "Field %s appears twice: the code is damaged."},
    [MARKCODE_ERR_CHECK_DIGIT] = {"check_digit",
                                  "Неверная контрольная цифра штрихкода %s: отсканируйте ещё раз.",
                                  "Barcode %s has a wrong check digit: scan again."},
    [MARKCODE_ERR_FUR_FORMAT] =
        {"fur_format", "Неверный контрольный знак меха (нужен вид RU-NNNNNN-AAANNNNNNN): «%s».",
         "Malformed fur tag (expected RU-NNNNNN-AAANNNNNNN): '%s'."},
    [MARKCODE_ERR_EGAIS_FORMAT] = {"egais_format", "Неверный код ЕГАИС: «%s».",
                                   "Malformed EGAIS code: '%s'."},
};

static const char *const kind_names[MARKCODE_KIND__COUNT] = {
    [MARKCODE_KIND_NONE] = "",
    [MARKCODE_KIND_GS1] = "gs1",
    [MARKCODE_KIND_TOBACCO_PACK] = "tobacco_pack",
    [MARKCODE_KIND_FUR] = "fur",
    [MARKCODE_KIND_EGAIS2] = "egais2",
    [MARKCODE_KIND_EGAIS3] = "egais3",
    [MARKCODE_KIND_EAN13] = "ean13",
    [MARKCODE_KIND_EAN8] = "ean8",
    [MARKCODE_KIND_ITF14] = "itf14",
};

static const char *const fix_names[MARKCODE_FIX__COUNT] = {
    "aim_prefix",     "gs_text",
    "gs_arrow",       "gs_e8",
    "gs_space",       "gs_leading",
    "gs_trailing",    "brackets",
    "gs_restored",    "keyboard_ru",
    "whitespace",     "mrp_unlabelled",
    "gs_doubled",     "serial_length_unusual",
    "gtin_indicator",
};

/* ---------------------------------------------------------------------- */
/* Tables: characters and application identifiers                          */
/* ---------------------------------------------------------------------- */

/* What each byte is, as bits: GS1 character set 82 (digits, letters and
** !"%&'()*+,-./:;<=>?_), the base64 alphabet with '=', and whether the
** fast pass takes it as it is (set 82 but for '<' and '&', which may begin
** a GS written as text, <GS> or &#x1D;). A table: this runs on every
** character of every scan. */
enum {
  CC_CS82 = 1,   /* GS1 character set 82                          */
  CC_B64 = 2,    /* A-Z a-z 0-9 + / =                             */
  CC_CLEAN = 4,  /* needs no cleaning: the fast pass copies it    */
  CC_GS = 8,     /* the separator 0x1D                            */
  CC_DIGIT = 16, /* 0-9                                          */
};
#define AN (CC_CS82 | CC_B64 | CC_CLEAN)
#define DI (AN | CC_DIGIT)
#define PU (CC_CS82 | CC_CLEAN)
static const uint8_t byte_class[256] = {
    ['0'] = DI, ['1'] = DI, ['2'] = DI,      ['3'] = DI,      ['4'] = DI,     ['5'] = DI,
    ['6'] = DI, ['7'] = DI, ['8'] = DI,      ['9'] = DI,      ['A'] = AN,     ['B'] = AN,
    ['C'] = AN, ['D'] = AN, ['E'] = AN,      ['F'] = AN,      ['G'] = AN,     ['H'] = AN,
    ['I'] = AN, ['J'] = AN, ['K'] = AN,      ['L'] = AN,      ['M'] = AN,     ['N'] = AN,
    ['O'] = AN, ['P'] = AN, ['Q'] = AN,      ['R'] = AN,      ['S'] = AN,     ['T'] = AN,
    ['U'] = AN, ['V'] = AN, ['W'] = AN,      ['X'] = AN,      ['Y'] = AN,     ['Z'] = AN,
    ['a'] = AN, ['b'] = AN, ['c'] = AN,      ['d'] = AN,      ['e'] = AN,     ['f'] = AN,
    ['g'] = AN, ['h'] = AN, ['i'] = AN,      ['j'] = AN,      ['k'] = AN,     ['l'] = AN,
    ['m'] = AN, ['n'] = AN, ['o'] = AN,      ['p'] = AN,      ['q'] = AN,     ['r'] = AN,
    ['s'] = AN, ['t'] = AN, ['u'] = AN,      ['v'] = AN,      ['w'] = AN,     ['x'] = AN,
    ['y'] = AN, ['z'] = AN, ['+'] = AN,      ['/'] = AN,      ['='] = AN,     ['!'] = PU,
    ['"'] = PU, ['%'] = PU, ['\''] = PU,     ['('] = PU,      [')'] = PU,     ['*'] = PU,
    [','] = PU, ['-'] = PU, ['.'] = PU,      [':'] = PU,      [';'] = PU,     ['>'] = PU,
    ['?'] = PU, ['_'] = PU, ['<'] = CC_CS82, ['&'] = CC_CS82, [0x1D] = CC_GS,
};
#undef AN
#undef DI
#undef PU
static bool is_cs82(char c) { return byte_class[(unsigned char)c] & CC_CS82; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_base64(char c) { return byte_class[(unsigned char)c] & CC_B64; }

static bool all_digits(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!is_digit(s[i])) return false;
  return n > 0;
}

/* GS1 character set 39: digits, capitals and # - / (AI 8010 only). */
static bool is_cs39(char c)
{
  return is_digit(c) || is_upper(c) || c == '#' || c == '-' || c == '/';
}
/* GS1 character set 64: the URL-safe base64 alphabet and '=' (AI 8030). */
static bool is_cs64(char c)
{
  return is_digit(c) || is_upper(c) || is_lower(c) || c == '-' || c == '_' || c == '=';
}

/* The GS1 application identifier table (GS1 General Specifications, section
** 3; facts taken from GS1's Barcode Syntax Dictionary, Apache-2.0,
** gs1/gs1-syntax-engine src/c-lib/gs1-syntax-dictionary.txt of 2026-06-23).
** An AI not in this table is not GS1 and is refused (ai_unknown): a scan
** that "contains" AI 3356 is damaged, not an exotic code.
**
** Each row: the AI, or the first and last AI of a range of the same length;
** whether GS1 predefines its length (no separator ever follows it); its
** value as components separated by spaces, in a notation of our own (below);
** then, derived from those, the AIs as numbers for the search, the AI's
** length, the predefined value length and, for a value that is one text
** component (X..N), its N. The notation:
**   N / X / Y / Z   digits / CSET 82 / CSET 39 / CSET 64
**   14  or ..20     exactly 14, or 1 to 20 characters
**   c               the component ends with a GS1 mod-10 check digit
**   d               the component is a date YYMMDD (DD 00: end of month)
**   [ ]             the component may be absent (only at the end)
** Linters of the dictionary other than check digits and dates (ISO country
** and currency lists, IBAN, coupon rules) are not applied: a marking code
** never carries those AIs, and GS1's syntax is what we promise. */
typedef struct gs1_ai_def {
  const char *first;      /* the AI, or the first of a range            */
  const char *last;       /* the last AI of the range, NULL: one AI     */
  bool predefined;        /* fixed length, no separator after it        */
  const char *spec;       /* the components of the value (see above)    */
  uint16_t key, key_last; /* first and last AI as 4-digit numbers, padded
                          ** with zeros on the right ("91" = 9100): GS1's
                          ** AIs are prefix-free, so this keeps their order */
  uint8_t len;            /* digits of the AI                           */
  uint8_t fixed;          /* the predefined value length, 0 if not predefined */
  uint8_t text_max;       /* N of a spec that is one "X..N" component, else 0 */
} gs1_ai_def_t;

static const gs1_ai_def_t gs1_ais[] = {
    {"00", NULL, true, "N18c", 0, 0, 2, 18, 0},
    {"01", NULL, true, "N14c", 100, 100, 2, 14, 0},
    {"02", NULL, true, "N14c", 200, 200, 2, 14, 0},
    {"03", NULL, true, "N14c", 300, 300, 2, 14, 0},
    {"10", NULL, false, "X..20", 1000, 1000, 2, 0, 20},
    {"11", NULL, true, "N6d", 1100, 1100, 2, 6, 0},
    {"12", NULL, true, "N6d", 1200, 1200, 2, 6, 0},
    {"13", NULL, true, "N6d", 1300, 1300, 2, 6, 0},
    {"15", NULL, true, "N6d", 1500, 1500, 2, 6, 0},
    {"16", NULL, true, "N6d", 1600, 1600, 2, 6, 0},
    {"17", NULL, true, "N6d", 1700, 1700, 2, 6, 0},
    {"20", NULL, true, "N2", 2000, 2000, 2, 2, 0},
    {"21", NULL, false, "X..20", 2100, 2100, 2, 0, 20},
    {"22", NULL, false, "X..20", 2200, 2200, 2, 0, 20},
    {"235", NULL, false, "X..28", 2350, 2350, 3, 0, 28},
    {"240", NULL, false, "X..30", 2400, 2400, 3, 0, 30},
    {"241", NULL, false, "X..30", 2410, 2410, 3, 0, 30},
    {"242", NULL, false, "N..6", 2420, 2420, 3, 0, 0},
    {"243", NULL, false, "X..20", 2430, 2430, 3, 0, 20},
    {"250", NULL, false, "X..30", 2500, 2500, 3, 0, 30},
    {"251", NULL, false, "X..30", 2510, 2510, 3, 0, 30},
    {"253", NULL, false, "N13c [X..17]", 2530, 2530, 3, 0, 0},
    {"254", NULL, false, "X..20", 2540, 2540, 3, 0, 20},
    {"255", NULL, false, "N13c [N..12]", 2550, 2550, 3, 0, 0},
    {"30", NULL, false, "N..8", 3000, 3000, 2, 0, 0},
    {"3100", "3105", true, "N6", 3100, 3105, 4, 6, 0},
    {"3110", "3115", true, "N6", 3110, 3115, 4, 6, 0},
    {"3120", "3125", true, "N6", 3120, 3125, 4, 6, 0},
    {"3130", "3135", true, "N6", 3130, 3135, 4, 6, 0},
    {"3140", "3145", true, "N6", 3140, 3145, 4, 6, 0},
    {"3150", "3155", true, "N6", 3150, 3155, 4, 6, 0},
    {"3160", "3165", true, "N6", 3160, 3165, 4, 6, 0},
    {"3200", "3205", true, "N6", 3200, 3205, 4, 6, 0},
    {"3210", "3215", true, "N6", 3210, 3215, 4, 6, 0},
    {"3220", "3225", true, "N6", 3220, 3225, 4, 6, 0},
    {"3230", "3235", true, "N6", 3230, 3235, 4, 6, 0},
    {"3240", "3245", true, "N6", 3240, 3245, 4, 6, 0},
    {"3250", "3255", true, "N6", 3250, 3255, 4, 6, 0},
    {"3260", "3265", true, "N6", 3260, 3265, 4, 6, 0},
    {"3270", "3275", true, "N6", 3270, 3275, 4, 6, 0},
    {"3280", "3285", true, "N6", 3280, 3285, 4, 6, 0},
    {"3290", "3295", true, "N6", 3290, 3295, 4, 6, 0},
    {"3300", "3305", true, "N6", 3300, 3305, 4, 6, 0},
    {"3310", "3315", true, "N6", 3310, 3315, 4, 6, 0},
    {"3320", "3325", true, "N6", 3320, 3325, 4, 6, 0},
    {"3330", "3335", true, "N6", 3330, 3335, 4, 6, 0},
    {"3340", "3345", true, "N6", 3340, 3345, 4, 6, 0},
    {"3350", "3355", true, "N6", 3350, 3355, 4, 6, 0},
    {"3360", "3365", true, "N6", 3360, 3365, 4, 6, 0},
    {"3370", "3375", true, "N6", 3370, 3375, 4, 6, 0},
    {"3400", "3405", true, "N6", 3400, 3405, 4, 6, 0},
    {"3410", "3415", true, "N6", 3410, 3415, 4, 6, 0},
    {"3420", "3425", true, "N6", 3420, 3425, 4, 6, 0},
    {"3430", "3435", true, "N6", 3430, 3435, 4, 6, 0},
    {"3440", "3445", true, "N6", 3440, 3445, 4, 6, 0},
    {"3450", "3455", true, "N6", 3450, 3455, 4, 6, 0},
    {"3460", "3465", true, "N6", 3460, 3465, 4, 6, 0},
    {"3470", "3475", true, "N6", 3470, 3475, 4, 6, 0},
    {"3480", "3485", true, "N6", 3480, 3485, 4, 6, 0},
    {"3490", "3495", true, "N6", 3490, 3495, 4, 6, 0},
    {"3500", "3505", true, "N6", 3500, 3505, 4, 6, 0},
    {"3510", "3515", true, "N6", 3510, 3515, 4, 6, 0},
    {"3520", "3525", true, "N6", 3520, 3525, 4, 6, 0},
    {"3530", "3535", true, "N6", 3530, 3535, 4, 6, 0},
    {"3540", "3545", true, "N6", 3540, 3545, 4, 6, 0},
    {"3550", "3555", true, "N6", 3550, 3555, 4, 6, 0},
    {"3560", "3565", true, "N6", 3560, 3565, 4, 6, 0},
    {"3570", "3575", true, "N6", 3570, 3575, 4, 6, 0},
    {"3600", "3605", true, "N6", 3600, 3605, 4, 6, 0},
    {"3610", "3615", true, "N6", 3610, 3615, 4, 6, 0},
    {"3620", "3625", true, "N6", 3620, 3625, 4, 6, 0},
    {"3630", "3635", true, "N6", 3630, 3635, 4, 6, 0},
    {"3640", "3645", true, "N6", 3640, 3645, 4, 6, 0},
    {"3650", "3655", true, "N6", 3650, 3655, 4, 6, 0},
    {"3660", "3665", true, "N6", 3660, 3665, 4, 6, 0},
    {"3670", "3675", true, "N6", 3670, 3675, 4, 6, 0},
    {"3680", "3685", true, "N6", 3680, 3685, 4, 6, 0},
    {"3690", "3695", true, "N6", 3690, 3695, 4, 6, 0},
    {"37", NULL, false, "N..8", 3700, 3700, 2, 0, 0},
    {"3900", "3909", false, "N..15", 3900, 3909, 4, 0, 0},
    {"3910", "3919", false, "N3 N..15", 3910, 3919, 4, 0, 0},
    {"3920", "3929", false, "N..15", 3920, 3929, 4, 0, 0},
    {"3930", "3939", false, "N3 N..15", 3930, 3939, 4, 0, 0},
    {"3940", "3943", false, "N4", 3940, 3943, 4, 0, 0},
    {"3950", "3955", false, "N6", 3950, 3955, 4, 0, 0},
    {"400", NULL, false, "X..30", 4000, 4000, 3, 0, 30},
    {"401", NULL, false, "X..30", 4010, 4010, 3, 0, 30},
    {"402", NULL, false, "N17c", 4020, 4020, 3, 0, 0},
    {"403", NULL, false, "X..30", 4030, 4030, 3, 0, 30},
    {"410", NULL, true, "N13c", 4100, 4100, 3, 13, 0},
    {"411", NULL, true, "N13c", 4110, 4110, 3, 13, 0},
    {"412", NULL, true, "N13c", 4120, 4120, 3, 13, 0},
    {"413", NULL, true, "N13c", 4130, 4130, 3, 13, 0},
    {"414", NULL, true, "N13c", 4140, 4140, 3, 13, 0},
    {"415", NULL, true, "N13c", 4150, 4150, 3, 13, 0},
    {"416", NULL, true, "N13c", 4160, 4160, 3, 13, 0},
    {"417", NULL, true, "N13c", 4170, 4170, 3, 13, 0},
    {"420", NULL, false, "X..20", 4200, 4200, 3, 0, 20},
    {"421", NULL, false, "N3 X..9", 4210, 4210, 3, 0, 0},
    {"422", NULL, false, "N3", 4220, 4220, 3, 0, 0},
    {"423", NULL, false, "N3 [N3] [N3] [N3] [N3]", 4230, 4230, 3, 0, 0},
    {"424", NULL, false, "N3", 4240, 4240, 3, 0, 0},
    {"425", NULL, false, "N3 [N3] [N3] [N3] [N3]", 4250, 4250, 3, 0, 0},
    {"426", NULL, false, "N3", 4260, 4260, 3, 0, 0},
    {"427", NULL, false, "X..3", 4270, 4270, 3, 0, 3},
    {"4300", NULL, false, "X..35", 4300, 4300, 4, 0, 35},
    {"4301", NULL, false, "X..35", 4301, 4301, 4, 0, 35},
    {"4302", NULL, false, "X..70", 4302, 4302, 4, 0, 70},
    {"4303", NULL, false, "X..70", 4303, 4303, 4, 0, 70},
    {"4304", NULL, false, "X..70", 4304, 4304, 4, 0, 70},
    {"4305", NULL, false, "X..70", 4305, 4305, 4, 0, 70},
    {"4306", NULL, false, "X..70", 4306, 4306, 4, 0, 70},
    {"4307", NULL, false, "X2", 4307, 4307, 4, 0, 0},
    {"4308", NULL, false, "X..30", 4308, 4308, 4, 0, 30},
    {"4309", NULL, false, "N10 N10", 4309, 4309, 4, 0, 0},
    {"4310", NULL, false, "X..35", 4310, 4310, 4, 0, 35},
    {"4311", NULL, false, "X..35", 4311, 4311, 4, 0, 35},
    {"4312", NULL, false, "X..70", 4312, 4312, 4, 0, 70},
    {"4313", NULL, false, "X..70", 4313, 4313, 4, 0, 70},
    {"4314", NULL, false, "X..70", 4314, 4314, 4, 0, 70},
    {"4315", NULL, false, "X..70", 4315, 4315, 4, 0, 70},
    {"4316", NULL, false, "X..70", 4316, 4316, 4, 0, 70},
    {"4317", NULL, false, "X2", 4317, 4317, 4, 0, 0},
    {"4318", NULL, false, "X..20", 4318, 4318, 4, 0, 20},
    {"4319", NULL, false, "X..30", 4319, 4319, 4, 0, 30},
    {"4320", NULL, false, "X..35", 4320, 4320, 4, 0, 35},
    {"4321", NULL, false, "N1", 4321, 4321, 4, 0, 0},
    {"4322", NULL, false, "N1", 4322, 4322, 4, 0, 0},
    {"4323", NULL, false, "N1", 4323, 4323, 4, 0, 0},
    {"4324", NULL, false, "N6d N4", 4324, 4324, 4, 0, 0},
    {"4325", NULL, false, "N6d N4", 4325, 4325, 4, 0, 0},
    {"4326", NULL, false, "N6d", 4326, 4326, 4, 0, 0},
    {"4330", NULL, false, "N6 [X1]", 4330, 4330, 4, 0, 0},
    {"4331", NULL, false, "N6 [X1]", 4331, 4331, 4, 0, 0},
    {"4332", NULL, false, "N6 [X1]", 4332, 4332, 4, 0, 0},
    {"4333", NULL, false, "N6 [X1]", 4333, 4333, 4, 0, 0},
    {"7001", NULL, false, "N13", 7001, 7001, 4, 0, 0},
    {"7002", NULL, false, "X..30", 7002, 7002, 4, 0, 30},
    {"7003", NULL, false, "N6d N4", 7003, 7003, 4, 0, 0},
    {"7004", NULL, false, "N..4", 7004, 7004, 4, 0, 0},
    {"7005", NULL, false, "X..12", 7005, 7005, 4, 0, 12},
    {"7006", NULL, false, "N6d", 7006, 7006, 4, 0, 0},
    {"7007", NULL, false, "N6d [N6d]", 7007, 7007, 4, 0, 0},
    {"7008", NULL, false, "X..3", 7008, 7008, 4, 0, 3},
    {"7009", NULL, false, "X..10", 7009, 7009, 4, 0, 10},
    {"7010", NULL, false, "X..2", 7010, 7010, 4, 0, 2},
    {"7011", NULL, false, "N6d [N4]", 7011, 7011, 4, 0, 0},
    {"7020", NULL, false, "X..20", 7020, 7020, 4, 0, 20},
    {"7021", NULL, false, "X..20", 7021, 7021, 4, 0, 20},
    {"7022", NULL, false, "X..20", 7022, 7022, 4, 0, 20},
    {"7023", NULL, false, "X..30", 7023, 7023, 4, 0, 30},
    {"7030", NULL, false, "N3 X..27", 7030, 7030, 4, 0, 0},
    {"7031", NULL, false, "N3 X..27", 7031, 7031, 4, 0, 0},
    {"7032", NULL, false, "N3 X..27", 7032, 7032, 4, 0, 0},
    {"7033", NULL, false, "N3 X..27", 7033, 7033, 4, 0, 0},
    {"7034", NULL, false, "N3 X..27", 7034, 7034, 4, 0, 0},
    {"7035", NULL, false, "N3 X..27", 7035, 7035, 4, 0, 0},
    {"7036", NULL, false, "N3 X..27", 7036, 7036, 4, 0, 0},
    {"7037", NULL, false, "N3 X..27", 7037, 7037, 4, 0, 0},
    {"7038", NULL, false, "N3 X..27", 7038, 7038, 4, 0, 0},
    {"7039", NULL, false, "N3 X..27", 7039, 7039, 4, 0, 0},
    {"7040", NULL, false, "N1 X1 X1 X1", 7040, 7040, 4, 0, 0},
    {"7041", NULL, false, "X..4", 7041, 7041, 4, 0, 4},
    {"710", NULL, false, "X..20", 7100, 7100, 3, 0, 20},
    {"711", NULL, false, "X..20", 7110, 7110, 3, 0, 20},
    {"712", NULL, false, "X..20", 7120, 7120, 3, 0, 20},
    {"713", NULL, false, "X..20", 7130, 7130, 3, 0, 20},
    {"714", NULL, false, "X..20", 7140, 7140, 3, 0, 20},
    {"715", NULL, false, "X..20", 7150, 7150, 3, 0, 20},
    {"716", NULL, false, "X..20", 7160, 7160, 3, 0, 20},
    {"717", NULL, false, "X..20", 7170, 7170, 3, 0, 20},
    {"7230", NULL, false, "X2 X..28", 7230, 7230, 4, 0, 0},
    {"7231", NULL, false, "X2 X..28", 7231, 7231, 4, 0, 0},
    {"7232", NULL, false, "X2 X..28", 7232, 7232, 4, 0, 0},
    {"7233", NULL, false, "X2 X..28", 7233, 7233, 4, 0, 0},
    {"7234", NULL, false, "X2 X..28", 7234, 7234, 4, 0, 0},
    {"7235", NULL, false, "X2 X..28", 7235, 7235, 4, 0, 0},
    {"7236", NULL, false, "X2 X..28", 7236, 7236, 4, 0, 0},
    {"7237", NULL, false, "X2 X..28", 7237, 7237, 4, 0, 0},
    {"7238", NULL, false, "X2 X..28", 7238, 7238, 4, 0, 0},
    {"7239", NULL, false, "X2 X..28", 7239, 7239, 4, 0, 0},
    {"7240", NULL, false, "X..20", 7240, 7240, 4, 0, 20},
    {"7241", NULL, false, "N2", 7241, 7241, 4, 0, 0},
    {"7242", NULL, false, "X..25", 7242, 7242, 4, 0, 25},
    {"7250", NULL, false, "N8", 7250, 7250, 4, 0, 0},
    {"7251", NULL, false, "N8 N4", 7251, 7251, 4, 0, 0},
    {"7252", NULL, false, "N1", 7252, 7252, 4, 0, 0},
    {"7253", NULL, false, "X..40", 7253, 7253, 4, 0, 40},
    {"7254", NULL, false, "X..40", 7254, 7254, 4, 0, 40},
    {"7255", NULL, false, "X..10", 7255, 7255, 4, 0, 10},
    {"7256", NULL, false, "X..90", 7256, 7256, 4, 0, 90},
    {"7257", NULL, false, "X..70", 7257, 7257, 4, 0, 70},
    {"7258", NULL, false, "X3", 7258, 7258, 4, 0, 0},
    {"7259", NULL, false, "X..40", 7259, 7259, 4, 0, 40},
    {"8001", NULL, false, "N4 N5 N3 N1 N1", 8001, 8001, 4, 0, 0},
    {"8002", NULL, false, "X..20", 8002, 8002, 4, 0, 20},
    {"8003", NULL, false, "N1 N13c [X..16]", 8003, 8003, 4, 0, 0},
    {"8004", NULL, false, "X..30", 8004, 8004, 4, 0, 30},
    {"8005", NULL, false, "N6", 8005, 8005, 4, 0, 0},
    {"8006", NULL, false, "N14c N4", 8006, 8006, 4, 0, 0},
    {"8007", NULL, false, "X..34", 8007, 8007, 4, 0, 34},
    {"8008", NULL, false, "N6d N2 [N2] [N2]", 8008, 8008, 4, 0, 0},
    {"8009", NULL, false, "X..50", 8009, 8009, 4, 0, 50},
    {"8010", NULL, false, "Y..30", 8010, 8010, 4, 0, 0},
    {"8011", NULL, false, "N..12", 8011, 8011, 4, 0, 0},
    {"8012", NULL, false, "X..20", 8012, 8012, 4, 0, 20},
    {"8013", NULL, false, "X..25", 8013, 8013, 4, 0, 25},
    {"8014", NULL, false, "X..25", 8014, 8014, 4, 0, 25},
    {"8017", NULL, false, "N18c", 8017, 8017, 4, 0, 0},
    {"8018", NULL, false, "N18c", 8018, 8018, 4, 0, 0},
    {"8019", NULL, false, "N..10", 8019, 8019, 4, 0, 0},
    {"8020", NULL, false, "X..25", 8020, 8020, 4, 0, 25},
    {"8026", NULL, false, "N14c N4", 8026, 8026, 4, 0, 0},
    {"8030", NULL, false, "Z..90", 8030, 8030, 4, 0, 0},
    {"8040", NULL, false, "N15", 8040, 8040, 4, 0, 0},
    {"8041", NULL, false, "N15", 8041, 8041, 4, 0, 0},
    {"8042", NULL, false, "N32", 8042, 8042, 4, 0, 0},
    {"8043", NULL, false, "N18 [N..2]", 8043, 8043, 4, 0, 0},
    {"8110", NULL, false, "X..70", 8110, 8110, 4, 0, 70},
    {"8111", NULL, false, "N4", 8111, 8111, 4, 0, 0},
    {"8112", NULL, false, "X..70", 8112, 8112, 4, 0, 70},
    {"8200", NULL, false, "X..70", 8200, 8200, 4, 0, 70},
    {"90", NULL, false, "X..30", 9000, 9000, 2, 0, 30},
    {"91", "99", false, "X..90", 9100, 9900, 2, 0, 90},
};

/* The rows of gs1_ais[] an AI may fall in, by its first two digits: GS1
** fixes an AI's length by them (General Specifications, the AI ranges),
** and the rows are sorted, so the two digits index a run of rows. This is
** the perfect hash of the lookup: one index, then (only for the 4-digit
** families) a short walk. Generated from gs1_ais[]; markcode_tables_check()
** compares it with a binary search of the table for every AI there can be.
** {first row, rows, digits of the AI}; rows 0: no AI starts so. */
typedef struct ai_prefix {
  uint8_t first, count, digits;
} ai_prefix_t;

static const ai_prefix_t ai_prefixes[100] = {
    /* 00 */ {0, 1, 2},
    {1, 1, 2},
    {2, 1, 2},
    {3, 1, 2},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    /* 10 */ {4, 1, 2},
    {5, 1, 2},
    {6, 1, 2},
    {7, 1, 2},
    {0, 0, 0},
    {8, 1, 2},
    {9, 1, 2},
    {10, 1, 2},
    {0, 0, 0},
    {0, 0, 0},
    /* 20 */ {11, 1, 2},
    {12, 1, 2},
    {13, 1, 2},
    {14, 1, 3},
    {15, 4, 3},
    {19, 5, 3},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    /* 30 */ {24, 1, 2},
    {25, 7, 4},
    {32, 10, 4},
    {42, 8, 4},
    {50, 10, 4},
    {60, 8, 4},
    {68, 10, 4},
    {78, 1, 2},
    {0, 0, 0},
    {79, 6, 4},
    /* 40 */ {85, 4, 3},
    {89, 8, 3},
    {97, 8, 3},
    {105, 31, 4},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    /* 50 */ {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    /* 60 */ {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    /* 70 */ {136, 27, 4},
    {163, 8, 3},
    {171, 23, 4},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    /* 80 */ {194, 24, 4},
    {218, 3, 4},
    {221, 1, 4},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    {0, 0, 0},
    /* 90 */ {222, 1, 2},
    {223, 1, 2},
    {223, 1, 2},
    {223, 1, 2},
    {223, 1, 2},
    {223, 1, 2},
    {223, 1, 2},
    {223, 1, 2},
    {223, 1, 2},
    {223, 1, 2},
};

/* The right-zero-padded number of the 2-4 digits at s ("91" = 9100), or
** -1 if any is not a digit. */
static int ai_key_of(const char *s, size_t len)
{
  /* Digits past len count as 0; a byte below '0' wraps to a large value. */
  unsigned d0 = (unsigned char)s[0] - (unsigned)'0', d1 = (unsigned char)s[1] - (unsigned)'0';
  unsigned d2 = len > 2 ? (unsigned char)s[2] - (unsigned)'0' : 0;
  unsigned d3 = len > 3 ? (unsigned char)s[3] - (unsigned)'0' : 0;
  if ((d0 > 9) | (d1 > 9) | (d2 > 9) | (d3 > 9)) return -1;
  return (int)(d0 * 1000 + d1 * 100 + d2 * 10 + d3);
}

/* The row of the table for the `len`-digit AI at s, or NULL (this runs for
** every field of every scan). */
static const gs1_ai_def_t *gs1_ai_find_key(int key, size_t len)
{
  if (key < 0) return NULL;
  const ai_prefix_t *p = &ai_prefixes[key / 100];
  if (p->digits != len) return NULL;
  for (const gs1_ai_def_t *d = &gs1_ais[p->first]; d < &gs1_ais[p->first + p->count]; d++)
    if ((unsigned)key <= d->key_last) return (unsigned)key >= d->key ? d : NULL;
  return NULL;
}

static const gs1_ai_def_t *gs1_ai_find(const char *s, size_t len)
{
  if (len < 2 || len > 4) return NULL;
  return gs1_ai_find_key(ai_key_of(s, len), len);
}

/* The same answer by a binary search of the whole table: the reference
** markcode_tables_check() holds the index to. */
static const gs1_ai_def_t *gs1_ai_search(const char *s, size_t len)
{
  int key = len >= 2 && len <= 4 ? ai_key_of(s, len) : -1;
  if (key < 0) return NULL;
  size_t lo = 0, hi = sizeof gs1_ais / sizeof gs1_ais[0];
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (gs1_ais[mid].key <= (unsigned)key)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0) return NULL;
  const gs1_ai_def_t *d = &gs1_ais[lo - 1];
  return d->len == len && (unsigned)key <= d->key_last ? d : NULL;
}

/* One parsed component of a value specification. */
typedef struct spec_part {
  char type;        /* 'N', 'X', 'Y', 'Z' */
  uint8_t min, max; /* length bounds      */
  bool check_digit, date, optional;
} spec_part_t;

/* Read the component at *p (advancing it); false at the end of the spec. */
static bool spec_next(const char **p, spec_part_t *part)
{
  const char *s = *p;
  while (*s == ' ') s++;
  if (*s == '\0') return false;
  memset(part, 0, sizeof *part);
  if (*s == '[') {
    part->optional = true;
    s++;
  }
  part->type = *s++;
  bool variable = s[0] == '.' && s[1] == '.';
  if (variable) s += 2;
  unsigned n = 0;
  while (is_digit(*s)) n = n * 10 + (unsigned)(*s++ - '0');
  part->max = (uint8_t)n;
  part->min = variable ? 1 : (uint8_t)n;
  for (; *s && *s != ' '; s++) {
    if (*s == 'c') part->check_digit = true;
    if (*s == 'd') part->date = true;
  }
  *p = s;
  return true;
}

/* What is wrong with a value, if anything. */
typedef enum spec_fault {
  SPEC_OK = 0,
  SPEC_CHARSET, /* at: the character outside the component's set */
  SPEC_LENGTH,  /* the value is too short or too long            */
  SPEC_CHECK,   /* a check digit is wrong                        */
  SPEC_DATE,    /* a date is not a date                          */
} spec_fault_t;

static bool valid_date(const char *v, bool with_time);

/* Check value v (n characters) against spec; *at receives the offset of
** the fault inside v. Components are matched in order: fixed ones take
** their length, a variable one (always the last) takes what is left. */
static spec_fault_t spec_check(const char *spec, const char *v, size_t n, size_t *at)
{
  spec_part_t part;
  size_t pos = 0;
  *at = 0;
  while (spec_next(&spec, &part)) {
    size_t left = n - pos;
    if (left == 0 && part.optional) break;
    if (left < part.min) {
      *at = n;
      return SPEC_LENGTH;
    }
    size_t take = left < part.max ? left : part.max;
    if (part.min == part.max) take = part.max;
    for (size_t i = 0; i < take; i++) {
      char c = v[pos + i];
      bool ok = part.type == 'N'   ? is_digit(c)
                : part.type == 'X' ? is_cs82(c)
                : part.type == 'Y' ? is_cs39(c)
                                   : is_cs64(c);
      if (!ok) {
        *at = pos + i;
        return SPEC_CHARSET;
      }
    }
    if (part.check_digit && !markcode_gs1_check_ok(v + pos, take)) {
      *at = pos + take - 1;
      return SPEC_CHECK;
    }
    if (part.date && (take != 6 || !valid_date(v + pos, false))) {
      *at = pos;
      return SPEC_DATE;
    }
    pos += take;
  }
  if (pos != n) {
    *at = pos;
    return SPEC_LENGTH;
  }
  return SPEC_OK;
}

/* The AIs a marking code gives meaning to. Elements carry one of these ids
** so validation never compares strings; AI_OTHER is any other GS1 AI, kept
** as it is. */
enum {
  AI_01,
  AI_21,
  AI_91,
  AI_92,
  AI_93,
  AI_8005,
  AI_3103,
  AI_17,
  AI_7003,
  AI_10,
  AI_240,
  AI_11,
  AI_KNOWN,
  AI_OTHER = AI_KNOWN
};

static const char *const ai_roles[AI_KNOWN] = {
    "01", "21", "91", "92", "93", "8005", "3103", "17", "7003", "10", "240", "11",
};

/* The value of each AI a marking code uses whose spec is digits only:
** exactly `digits` of them, the first six a date when `date` (the AIs of
** dates and of weights, 8005's price). The fast checks read this instead
** of the spec (markcode_tables_check() holds it to gs1_ais[]); 0: the
** value is text (its bound a column of the AI table) or the GTIN. */
static const struct {
  uint8_t digits;
  bool date;
} role_digits[AI_KNOWN] = {
    [AI_8005] = {6, false}, [AI_3103] = {6, false}, [AI_17] = {6, true},
    [AI_7003] = {10, true}, [AI_11] = {6, true},
};

/* The role of an AI, by its padded number (GS1's AIs are prefix-free, so
** the number names one AI): the AIs of two digits and 240 by a table of
** their hundreds (the role plus one; 0: none), the three of four digits
** compared. markcode_tables_check() holds it to ai_roles[]. */
static const uint8_t role_by_hundred[100] = {
    [1] = AI_01 + 1,   [10] = AI_10 + 1, [11] = AI_11 + 1, [17] = AI_17 + 1, [21] = AI_21 + 1,
    [24] = AI_240 + 1, [91] = AI_91 + 1, [92] = AI_92 + 1, [93] = AI_93 + 1,
};

static int ai_id_of_key(int key)
{
  if (key < 0) return AI_OTHER;
  if (key % 100 == 0) {
    int role = role_by_hundred[key / 100];
    return role ? role - 1 : AI_OTHER;
  }
  return key == 8005 ? AI_8005 : key == 3103 ? AI_3103 : key == 7003 ? AI_7003 : AI_OTHER;
}

static size_t ai_len(const char *ai);

static int ai_id(const char *ai)
{
  size_t n = ai_len(ai);
  return n >= 2 && n <= 4 ? ai_id_of_key(ai_key_of(ai, n)) : AI_OTHER;
}

/* The length GS1 predefines for an AI of the table (no separator follows
** it), else 0. */
static uint8_t predefined_length(const gs1_ai_def_t *d) { return d ? d->fixed : 0; }

/* ---------------------------------------------------------------------- */
/* Tables: layouts of real goods (DOMAIN §2)                               */
/* ---------------------------------------------------------------------- */

/* One field of a layout. lens lists the allowed value lengths (0-ended);
** an empty list means "variable". */
typedef struct slot {
  const char *ai;
  uint8_t lens[6];
  bool optional;
  bool bare_digits_ok; /* may appear as digits without its AI [open] */
} slot_t;

typedef struct layout {
  const char *name;
  slot_t slots[10];
  int nslots;
} layout_t;

/* The layouts are family knowledge, and family knowledge only guides the
** repair of a scan that lost its separators: they are tried on a string
** without any separator (and on one whose serial has a length no family
** uses, in case a separator inside it was lost). A code whose separators
** are all there is read by GS1's rules alone and never refused for a
** serial length or an indicator digit (see gs1_validate).
**
** Order matters only where two layouts could both explain the same string
** (more specific first). Serial lengths: 13 and 20 with a crypto tail; 6
** (dairy), 7 and 8 (beer, CRPT's permissive-mode test codes) and 13 (water)
** with a 93 tail; 7 and 8 on tobacco blocks. Dates of production (11) and
** expiry (17) may come before the serial (imported goods, pharma). */
#define DATES_BEFORE_SERIAL                                                                        \
  {"11", {6}, true, false}, { "17", {6}, true, false }
static const layout_t layouts[] = {
    {"crypto_tail", /* footwear, light industry, tyres, perfume, pharma… */
     {{"01", {14}, false, false},
      DATES_BEFORE_SERIAL,
      {"21", {13, 20}, false, false},
      {"240", {0}, true, false},
      {"17", {6}, true, false},
      {"91", {4}, false, false},
      {"92", {44, 88}, false, false}},
     8},
    {"dairy",
     {{"01", {14}, false, false},
      DATES_BEFORE_SERIAL,
      {"21", {6}, false, false},
      {"93", {4}, false, false},
      {"3103", {6}, true, false},
      {"17", {6}, true, false},
      {"7003", {10}, true, false}},
     8},
    {"short_tail", /* water, beer, antiseptics, dietary supplements */
     {{"01", {14}, false, false},
      DATES_BEFORE_SERIAL,
      {"21", {13, 7, 8}, false, false},
      {"93", {4}, false, false},
      {"3103", {6}, true, false},
      {"17", {6}, true, false}},
     7},
    /* Tobacco block. [open] One real block code in our samples carries its
    ** MRP digits without the 8005 AI; we accept such digits in the MRP place
    ** but never treat them as a price (fix mrp_unlabelled). */
    {"tobacco_block",
     {{"01", {14}, false, false},
      {"21", {7, 8}, false, false},
      {"8005", {6, 7}, false, true},
      {"93", {4}, false, false},
      {"240", {0}, true, false}},
     5},
    {"tobacco_block_old", /* 8005, 93, then a short 92 and 240 */
     {{"01", {14}, false, false},
      {"21", {7}, false, false},
      {"8005", {6}, false, false},
      {"93", {4}, false, false},
      {"92", {0}, false, false},
      {"240", {0}, true, false}},
     6},
    {"mrp_no_tail", /* a trailing 8005 and no 93 */
     {{"01", {14}, false, false},
      DATES_BEFORE_SERIAL,
      {"21", {7, 8, 13}, false, false},
      {"8005", {6}, false, false}},
     5},
};

/* Serial lengths the families of layouts use (DOMAIN section 2, and the
** real codes of tests/data/). A code outside them is accepted when its
** separators make it unambiguous, with the note serial_length_unusual. */
static bool serial_length_usual(size_t len, bool crypto, bool mrp, bool short93)
{
  if (crypto) return len == 13 || len == 20;
  if (mrp) return len == 7 || len == 8 || len == 13;
  if (short93) return len == 6 || len == 7 || len == 8 || len == 13;
  return len == 6 || len == 7 || len == 8 || len == 13 || len == 20; /* identification part only */
}

/* ---------------------------------------------------------------------- */
/* Working state                                                           */
/* ---------------------------------------------------------------------- */

/* One field found in the working buffer. bare: digits with no AI text. */
typedef struct element {
  char ai[5];
  uint8_t alen;            /* digits of the AI (strlen of ai) */
  uint8_t id;              /* AI_01 … AI_OTHER */
  uint8_t fixed;           /* GS1's predefined value length, 0: a separator may follow */
  const gs1_ai_def_t *def; /* its row of the AI table (NULL when bare) */
  uint16_t start;          /* value offset in the buffer */
  uint16_t len;            /* value length               */
  uint16_t ai_at;          /* offset of the AI itself    */
  bool bare;
} element_t;

/* A run of the clean code between separators, as the fast pass saw it:
** its bounds in the buffer and the AND of the class bits of its bytes
** (byte_class[] below), so a field that ends a run is checked for a
** character set without being read again. */
typedef struct segment {
  uint16_t start, end;
  uint8_t all; /* byte_class bits every byte of the run has */
} segment_t;

typedef struct work {
  char b[MARKCODE_MAX_INPUT + 1];       /* cleaned ASCII, GS = 0x1D       */
  uint16_t src[MARKCODE_MAX_INPUT + 1]; /* input offset of each b[i]    */
  bool src_mapped;                      /* src[] holds the offsets; else b[i] is input[i + shift] */
  uint16_t shift;
  size_t n;
  size_t raw_len;
  element_t el[MARKCODE_MAX_AIS];
  int nel;
  int internal_gs; /* separators inside the code after cleaning */
  segment_t seg[MARKCODE_MAX_AIS];
  int nseg; /* runs the fast pass summarised; 0 after the full clean */
} work_t;

/* The detail of an error as vsnprintf(out, cap, fmt) writes it, for the
** conversions fail() is given (%s, %.Ns, %.*s, %c, %u, %zu and text):
** the layouts' second chance may fail several times a scan, and printf
** costs more than the rest of a refusal. Returns false, having written
** nothing certain, for any other conversion (the caller then asks
** vsnprintf). */
static bool detail_format(char *out, size_t cap, const char *fmt, va_list ap)
{
  size_t o = 0;
  char num[24];
#define DETAIL_PUT(c)                                                                              \
  do {                                                                                             \
    if (o + 1 < cap) out[o] = (c);                                                                 \
    o++;                                                                                           \
  } while (0)
  for (const char *f = fmt; *f; f++) {
    if (*f != '%') { /* a run of text, copied whole where it fits */
      size_t run = 1;
      while (f[run] != '\0' && f[run] != '%') run++;
      if (o + run < cap)
        memcpy(out + o, f, run);
      else
        for (size_t i = 0; i < run; i++)
          if (o + i + 1 < cap) out[o + i] = f[i];
      o += run;
      f += run - 1;
      continue;
    }
    f++;
    size_t prec = (size_t)-1;
    if (*f == '.') {
      f++;
      if (*f == '*') {
        int p = va_arg(ap, int);
        prec = p < 0 ? (size_t)-1 : (size_t)p;
        f++;
      } else {
        prec = 0;
        while (is_digit(*f)) prec = prec * 10 + (size_t)(*f++ - '0');
      }
    }
    if (*f == 's') {
      const char *str = va_arg(ap, const char *);
      for (size_t i = 0; i < prec && str[i]; i++) DETAIL_PUT(str[i]);
    } else if (*f == 'c' && prec == (size_t)-1) {
      DETAIL_PUT((char)va_arg(ap, int));
    } else if ((*f == 'u' || (f[0] == 'z' && f[1] == 'u')) && prec == (size_t)-1) {
      size_t v = *f == 'u' ? va_arg(ap, unsigned) : va_arg(ap, size_t);
      if (*f == 'z') f++;
      size_t n = 0;
      do {
        num[n++] = (char)('0' + v % 10);
        v /= 10;
      } while (v);
      while (n > 0) DETAIL_PUT(num[--n]);
    } else {
      return false;
    }
  }
#undef DETAIL_PUT
  out[o < cap ? o : cap - 1] = '\0';
  return true;
}

/* Records a refusal in mc: its code, its input offset and its detail
** (fmt as detail_format() takes it, or NULL). Returns err. Cold: a path
** that refuses is laid out away from the accepting one, which keeps the
** hot code of a parse together (measured: the realistic mix 5 % faster
** over fifteen placements, docs/BENCHMARKS.md, twelfth pass). */
__attribute__((cold)) static markcode_err_t fail(markcode_t *mc, markcode_err_t err, int at,
                                                 const char *fmt, ...)
{
  mc->err = err;
  mc->err_at = at;
  mc->err_detail[0] = '\0';
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    bool done = detail_format(mc->err_detail, sizeof mc->err_detail, fmt, ap);
    va_end(ap);
    if (!done) {
      va_start(ap, fmt);
      vsnprintf(mc->err_detail, sizeof mc->err_detail, fmt, ap);
      va_end(ap);
    }
  }
  return err;
}

/* fail() of a detail that is a literal prefix and a count ("92 → 12",
** "13"): the length refusals, which the layouts' second chance cannot
** rescue and a refused scan always reaches, written without a format to
** read (the format cost more than the rest of such a refusal). A prefix is
** one of count_prefixes[], eight bytes each (NUL-padded), copied whole;
** the tables check holds the result to snprintf's "%s%u". Out of line:
** inlined, it made gs1_finish() dearer for every code. */
enum { COUNT_PREFIX_NONE, COUNT_PREFIX_92, COUNT_PREFIX_93, COUNT_PREFIX__COUNT };
static const char count_prefixes[COUNT_PREFIX__COUNT][8] = {"", "92 → ", "93 → "};
static const uint8_t count_prefix_len[COUNT_PREFIX__COUNT] = {0, 7, 7};

__attribute__((noinline)) static markcode_err_t fail_count(markcode_t *mc, markcode_err_t err,
                                                           int at, int prefix, unsigned count)
{
  mc->err = err;
  mc->err_at = at;
  char digits[10];
  size_t n = 0;
  do {
    digits[n++] = (char)('0' + count % 10);
    count /= 10;
  } while (count);
  _Static_assert(sizeof mc->err_detail >= 8 + sizeof digits + 1, "room for a prefix and a count");
  memcpy(mc->err_detail, count_prefixes[prefix], 8);
  char *o = mc->err_detail + count_prefix_len[prefix];
  while (n > 0) *o++ = digits[--n];
  *o = '\0';
  return err;
}

/* Input offset of working position i (positions past the end map to the
** end of the input). */
static int src_of(const work_t *w, size_t i)
{
  return w->src_mapped ? (int)w->src[i] : (int)(i + w->shift);
}
static int at(const work_t *w, size_t i) { return i < w->n ? src_of(w, i) : (int)w->raw_len; }

/* Length of an AI string (2 to 4 characters): by hand, it is taken for
** every field of every scan. */
static size_t ai_len(const char *ai)
{
  size_t n = 0;
  while (ai[n] != '\0') n++;
  return n;
}

/* The length copy_str() leaves of a len-character string in cap bytes. */
static size_t copied_len(size_t len, size_t cap) { return len < cap ? len : cap - 1; }

/* Copy b[start..start+len) into dst (size cap) as a C string. */
static void copy_str(char *dst, size_t cap, const char *s, size_t len)
{
  if (len >= cap) len = cap - 1;
  memcpy(dst, s, len);
  dst[len] = '\0';
}

/* Eight bytes at p as one word (little-endian on x86) (memcpy: any alignment). */
static uint64_t load64(const char *p)
{
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* n bytes (a multiple of 16) from s to dst, as n / 16 unaligned 16-byte
** moves: a memcpy of a constant size such as 48 gcc may make a `rep movs`,
** which costs more than the moves on a copy this short. */
typedef char block16_t __attribute__((vector_size(16), aligned(1), may_alias));
static HOT_INLINE void copy_blocks(char *dst, const char *s, size_t n)
{
  for (size_t i = 0; i < n; i += 16) *(block16_t *)(dst + i) = *(const block16_t *)(s + i);
}

/* copy_str() of a field of a work buffer that ends at s_end: the same
** string, copied in whole 16-byte blocks up to its NUL when dst and the
** buffer have them, else cap - 1 bytes whatever len is when the buffer has
** them (moves, not a call; bytes past the NUL are no part of the string).
** Blocks up to the NUL rather than the whole field: a parse writes many
** fields, and their stores, not the instructions, are what it waits for. */
static inline void copy_field(char *dst, size_t cap, const char *s, size_t len, const char *s_end)
{
  size_t n = len < cap ? len : cap - 1;
  size_t whole = (n + 16) & ~(size_t)15; /* n and its NUL in whole blocks */
  if (whole <= cap && (size_t)(s_end - s) >= whole)
    copy_blocks(dst, s, whole);
  else if ((size_t)(s_end - s) >= cap - 1)
    memcpy(dst, s, cap - 1);
  else
    memcpy(dst, s, n);
  dst[n] = '\0';
}

/* n bytes from s to dst, where neither may be read or written past n (the
** scanner's input): whole 16-byte moves, the last one overlapping the one
** before it; under 16, two overlapping 8-byte moves or memcpy. (gcc makes
** a memcpy of a size it does not know a `rep movs` here, whose start costs
** more than such a copy.) */
static HOT_INLINE void copy_exact(char *dst, const char *s, size_t n)
{
  if (n >= 16) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) *(block16_t *)(dst + i) = *(const block16_t *)(s + i);
    if (i < n) *(block16_t *)(dst + n - 16) = *(const block16_t *)(s + n - 16);
  } else if (n >= 8) {
    uint64_t head = load64(s), tail = load64(s + n - 8);
    memcpy(dst, &head, 8);
    memcpy(dst + n - 8, &tail, 8);
  } else {
    memcpy(dst, s, n);
  }
}

/* Append len bytes at s to dst[*o..] (cap bytes), s's buffer ending at
** s_end: sixteen bytes a copy (moves, not a call) while both buffers have
** room for the last whole sixteen, else one memcpy. */
static HOT_INLINE void append_over(char *dst, size_t cap, size_t *o, const char *s, size_t len,
                                   const char *s_end)
{
  size_t whole = (len + 15) & ~(size_t)15;
  if (*o + whole <= cap && (size_t)(s_end - s) >= whole)
    for (size_t i = 0; i < whole; i += 16) memcpy(dst + *o + i, s + i, 16);
  else
    memcpy(dst + *o, s, len);
  *o += len;
}

/* ---------------------------------------------------------------------- */
/* Stage 1: cleaning                                                       */
/* ---------------------------------------------------------------------- */

/* Textual spellings of GS that software writes instead of the byte. */
static const struct {
  const char *text;
  uint8_t len;
} gs_spellings[] = {
    {"{FNC1}", 6}, {"<FNC1>", 6},  {"<GS>", 4},    {"&#x1D;", 6}, {"&#x1d;", 6},
    {"&#29;", 5},  {"\\u001d", 6}, {"\\u001D", 6}, {"\\x1d", 4},  {"\\x1D", 4},
    {"<0x1D>", 6}, {"<0x1d>", 6}, /* as a user posted a real scan (fr_drv_ng#165) */
};

static void push(work_t *w, char c, size_t from)
{
  w->b[w->n] = c;
  w->src[w->n] = (uint16_t)from;
  w->n++;
}

/* layout_utf8_decode(), with the sequences of a scan decoded here: ASCII,
** and two bytes (U+0080-U+07FF, Cyrillic among them), which a lead byte
** of C2-DF and one continuation byte always make; the rest asked of it. */
static HOT_INLINE size_t utf8_decode(const unsigned char *in, size_t n, uint32_t *cp)
{
  if (in[0] < 0x80) {
    *cp = in[0];
    return 1;
  }
  if (in[0] >= 0xC2 && in[0] <= 0xDF && n >= 2 && (in[1] & 0xC0) == 0x80) {
    *cp = ((uint32_t)(in[0] & 0x1F) << 6) | (in[1] & 0x3Fu);
    return 2;
  }
  return layout_utf8_decode(in, n, cp);
}

static bool input_has_cyrillic(const unsigned char *in, size_t len)
{
  for (size_t i = 0; i + 1 < len; i++) {
    uint32_t cp;
    if ((in[i] == 0xD0 || in[i] == 0xD1) && utf8_decode(in + i, len - i, &cp) == 2 &&
        layout_is_cyrillic_letter(cp))
      return true;
  }
  return false;
}

static bool is_space(char c) { return c == ' ' || c == '\r' || c == '\n' || c == '\t'; }

/* layout_ru_to_us() of the code points up to U+047F (ASCII and Cyrillic),
** filled once a process from it: a table read instead of a call for every
** character of a scan under the Russian layout. */
#define RU_TABLE_SIZE 0x480
static signed char ru_table[RU_TABLE_SIZE];
static pthread_once_t ru_table_once = PTHREAD_ONCE_INIT;
static bool ru_table_filled; /* once_filled() */

/* What decode_to_ascii() makes of a character under the Russian layout,
** for the quick decode: of each ASCII byte its character, 0 where the
** full decode refuses it (a control character, one no key gives). Of
** each pair of a lead byte D0 or D1 and a byte after it (at
** [(lead & 1) << 8 | next]), the character of U+0400-U+047F the pair
** spells in bits 0-7, its byte_class[] bits in bits 16-23, and bit 8 for
** a Cyrillic letter (which says the scan was typed under the layout); 0
** where the pair is no such character (the byte after it no continuation
** byte) or its character one the quick decode leaves to the full one
** (refused, or a separator or whitespace, which no key of the layout
** gives). One read a letter says all the loop needs of it. */
static uint8_t ru_quick_ascii[0x80];
static uint32_t ru_quick_pair[0x200];
#define RU_QUICK_LETTER 0x100u

/* decode_to_ascii()'s character of code point cp under the Russian
** layout, or -1 where it refuses it. */
static int ru_char(uint32_t cp);

static void ru_table_fill(void)
{
  for (uint32_t cp = 0; cp < RU_TABLE_SIZE; cp++) ru_table[cp] = (signed char)layout_ru_to_us(cp);
  for (uint32_t cp = 0; cp < 0x80; cp++) {
    int c = ru_char(cp);
    ru_quick_ascii[cp] = (uint8_t)(c > 0 ? c : 0);
  }
  for (uint32_t i = 0; i < 0x80; i++) {
    int c = ru_char(0x400 + i);
    if (c <= MARKCODE_GS || is_space((char)c)) continue;
    ru_quick_pair[(i >> 6) << 8 | 0x80 | (i & 0x3F)] =
        (uint32_t)c | (uint32_t)byte_class[c] << 16 |
        (layout_is_cyrillic_letter(0x400 + i) ? RU_QUICK_LETTER : 0);
  }
  __atomic_store_n(&ru_table_filled, true, __ATOMIC_RELEASE);
}

static int ru_char(uint32_t cp)
{
  int c = cp < RU_TABLE_SIZE ? ru_table[cp] : layout_ru_to_us(cp);
  /* Latin letters and other ASCII no Russian key gives came through
  ** unchanged (scanners send some characters as Alt codes). */
  if (c < 0 && cp < 0x80) c = (int)cp;
  if (c < 0 || (c < 0x20 && c != MARKCODE_GS && !is_space((char)c)) || c == 0x7F) return -1;
  return c;
}

/* decode_to_ascii() of a scan typed under the Russian layout, for the
** quick path: one table read a character, for scans of ASCII and the two
** bytes of U+0400-U+047F (Cyrillic) only, with a Cyrillic letter among
** them. Returns false, having set no fix, for anything else (another
** character, one the full decode refuses, no Cyrillic letter): the full
** decode then runs from the start. Else w holds what it would; and when
** the text is what the fast pass takes as it is (no AIM prefix, no
** separator leading, trailing or doubled, every run clean: a code
** scanned whole), its runs summarised as fast_clean() would leave them
** (w->nseg > 0), which then need not read it again. */
__attribute__((noinline)) static bool ru_decode_quick(markcode_t *mc, work_t *w,
                                                      const unsigned char *in, size_t len)
{
  once_filled(&ru_table_once, ru_table_fill, &ru_table_filled);
  unsigned letters = 0;
  size_t o = 0, run = 0; /* the run being summarised starts at w->b[run] */
  unsigned all = 0xFF, runs_clean = CC_CLEAN;
  int nseg = 0;
  if (len == 0 || in[len - 1] >= 0xC0) return false; /* so every lead byte has one after it */
  for (size_t i = 0; i < len;) {
    unsigned b0 = in[i], c;
    size_t from = i;
    if (b0 >= 0x80) { /* D0 or D1 and a continuation byte: one table read says all */
      if ((b0 & 0xFEu) != 0xD0u) return false;
      uint32_t pair = ru_quick_pair[(b0 & 1u) << 8 | in[i + 1]];
      if (!pair) return false;
      letters |= pair;
      all &= pair >> 16;
      w->b[o] = (char)pair;
      w->src[o++] = (uint16_t)from;
      i += 2;
      continue;
    }
#if defined(__SSE2__)
    /* A stretch of digits and Latin letters (01 and the GTIN, much of a
    ** serial), which the layout types as themselves (the tables check
    ** holds ru_quick_ascii[] to it): sixteen bytes a step, with their
    ** offsets and their class bits; the bytes past the stretch are
    ** written over next. o <= i, so w's buffers have room for sixteen. */
    if (b0 - '0' < 10 && i + 16 <= len) {
      __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(in + i));
      __m128i up = _mm_or_si128(v, _mm_set1_epi8(0x20));
      __m128i dig = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                  _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
      __m128i same = _mm_or_si128(dig, _mm_and_si128(_mm_cmpgt_epi8(up, _mm_set1_epi8('a' - 1)),
                                                     _mm_cmplt_epi8(up, _mm_set1_epi8('z' + 1))));
      unsigned k = (unsigned)__builtin_ctz(~(unsigned)_mm_movemask_epi8(same)); /* 1..16 */
      unsigned stretch = (1u << k) - 1;
      all &= (CC_CS82 | CC_B64 | CC_CLEAN) |
             (((unsigned)_mm_movemask_epi8(dig) & stretch) == stretch ? CC_DIGIT : 0u);
      _mm_storeu_si128((__m128i *)(void *)(w->b + o), v);
      __m128i at = _mm_add_epi16(_mm_set1_epi16((short)i), _mm_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7));
      _mm_storeu_si128((__m128i *)(void *)(w->src + o), at);
      _mm_storeu_si128((__m128i *)(void *)(w->src + o + 8), _mm_add_epi16(at, _mm_set1_epi16(8)));
      i += k;
      o += k;
      continue;
    }
#endif
    c = ru_quick_ascii[b0]; /* the rest of a code's ASCII */
    i++;
    if ((uint8_t)c > MARKCODE_GS) { /* nearly every character: one compare */
      all &= byte_class[(uint8_t)c];
    } else if ((uint8_t)c == MARKCODE_GS) { /* a run ends: an empty one is no code scanned whole */
      if (o == run || nseg >= MARKCODE_MAX_AIS) runs_clean = 0;
      if (runs_clean) w->seg[nseg] = (segment_t){(uint16_t)run, (uint16_t)o, (uint8_t)all};
      runs_clean &= all;
      nseg++;
      all = 0xFF;
      run = o + 1;
    } else if ((uint8_t)c == 0) { /* refused by the full decode */
      return false;
    } else {
      all &= byte_class[(uint8_t)c]; /* whitespace: the full clean's */
    }
    w->b[o] = (char)c;
    w->src[o] = (uint16_t)from;
    o++;
  }
  if (!(letters & RU_QUICK_LETTER)) return false;
  w->n = o;
  mc->fixes |= MARKCODE_FIX_KEYBOARD_RU;
  if (o == run || nseg >= MARKCODE_MAX_AIS || w->b[0] == ']') runs_clean = 0;
  if (runs_clean & all & CC_CLEAN) { /* as fast_clean() would leave it */
    w->seg[nseg] = (segment_t){(uint16_t)run, (uint16_t)o, (uint8_t)all};
    w->nseg = nseg + 1;
    w->internal_gs = nseg;
    w->shift = 0;
    w->b[o] = '\0';
  }
  return true;
}

/* Pass 1: bytes -> ASCII, one code point at a time, keyboard layout undone.
** Everything textual (AIM prefix, GS spellings) is recognised afterwards,
** on ASCII, so it is found whichever layout the scanner typed it in. */
static markcode_err_t decode_to_ascii(markcode_t *mc, work_t *w, const unsigned char *in,
                                      size_t len)
{
  bool ru = input_has_cyrillic(in, len);
  if (ru) {
    mc->fixes |= MARKCODE_FIX_KEYBOARD_RU;
    once_filled(&ru_table_once, ru_table_fill, &ru_table_filled);
  }
  size_t i = 0;
  while (i < len) {
    /* Plain printable ASCII is nearly every byte of nearly every scan. */
    if (!ru && in[i] >= 0x20 && in[i] < 0x7F) {
      push(w, (char)in[i], i);
      i++;
      continue;
    }
    uint32_t cp;
    size_t used = utf8_decode(in + i, len - i, &cp);
    /* A raw 0xE8 that does not start a UTF-8 sequence is FNC1 as written by
    ** scanners set to some code pages. */
    if (used == 0 && in[i] == 0xE8) {
      push(w, MARKCODE_GS, i);
      mc->fixes |= MARKCODE_FIX_GS_E8;
      i++;
      continue;
    }
    if (used == 0) return fail(mc, MARKCODE_ERR_BAD_UTF8, (int)i, "0x%02X", in[i]);
    if (cp == 0x2194) { /* '↔': the CP437 glyph of 0x1D */
      push(w, MARKCODE_GS, i);
      mc->fixes |= MARKCODE_FIX_GS_ARROW;
      i += used;
      continue;
    }
    int c = cp < 0x80 ? (int)cp : -1;
    if (ru) c = ru_char(cp);
    if (c < 0 || (c < 0x20 && c != MARKCODE_GS && !is_space((char)c)) || c == 0x7F) {
      char shown[8];
      size_t sl = cp < 0x20 || cp == 0x7F ? (size_t)snprintf(shown, sizeof shown, "0x%02X", cp)
                                          : layout_utf8_encode(cp, shown);
      shown[sl] = '\0';
      return fail(mc, MARKCODE_ERR_BAD_CHAR, (int)i, "%s", shown);
    }
    push(w, (char)c, i);
    i += used;
  }
  return MARKCODE_OK;
}

/* Pass 2, on ASCII: surrounding whitespace, the AIM prefix, GS spelled as
** text or as a space, leading, trailing and repeated GS. */
static markcode_err_t tidy_ascii(markcode_t *mc, work_t *w)
{
  size_t s = 0, e = w->n;
  while (s < e && is_space(w->b[s])) s++;
  while (e > s && is_space(w->b[e - 1])) e--;
  if (s > 0 || e < w->n) mc->fixes |= MARKCODE_FIX_WHITESPACE;
  if (e - s >= 3 && w->b[s] == ']' &&
      ((w->b[s + 1] >= 'A' && w->b[s + 1] <= 'Z') || (w->b[s + 1] >= 'a' && w->b[s + 1] <= 'z')) &&
      w->b[s + 2] > ' ') {
    memcpy(mc->aim, w->b + s, 3);
    mc->aim[3] = '\0';
    mc->fixes |= MARKCODE_FIX_AIM_PREFIX;
    s += 3;
  }
  size_t o = 0;
  bool lead = true;
  for (size_t k = s; k < e; k++) {
    char c = w->b[k];
    uint16_t from = w->src[k];
    bool may_spell_gs = c == '{' || c == '<' || c == '&' || c == '\\';
    for (size_t a = 0; may_spell_gs && a < sizeof gs_spellings / sizeof gs_spellings[0]; a++) {
      size_t sl = gs_spellings[a].len;
      if (c == gs_spellings[a].text[0] && e - k >= sl &&
          memcmp(w->b + k, gs_spellings[a].text, sl) == 0) {
        c = MARKCODE_GS;
        k += sl - 1;
        mc->fixes |= MARKCODE_FIX_GS_TEXT;
        break;
      }
    }
    if (c == ' ') {
      mc->fixes |= MARKCODE_FIX_GS_SPACE;
      c = MARKCODE_GS;
    }
    if (is_space(c)) return fail(mc, MARKCODE_ERR_BAD_CHAR, (int)from, "0x%02X", (unsigned)c);
    if (c == MARKCODE_GS) {
      if (lead) {
        mc->fixes |= MARKCODE_FIX_GS_LEADING;
        continue;
      }
      if (o > 0 && w->b[o - 1] == MARKCODE_GS) { /* runs count once */
        mc->fixes |= MARKCODE_FIX_GS_DOUBLED;
        continue;
      }
    }
    lead = false;
    w->b[o] = c; /* o <= k: the buffer only shrinks */
    w->src[o] = from;
    o++;
  }
  if (o > 0 && w->b[o - 1] == MARKCODE_GS) {
    mc->fixes |= MARKCODE_FIX_GS_TRAILING;
    o--;
  }
  w->n = o;
  w->b[o] = '\0';
  w->internal_gs = 0;
  for (size_t k = 0; k < o; k++) w->internal_gs += w->b[k] == MARKCODE_GS;
  if (o == 0) return fail(mc, MARKCODE_ERR_EMPTY, 0, NULL);
  return MARKCODE_OK;
}

static bool fast_clean(markcode_t *mc, work_t *w, const unsigned char *in, size_t len);
static void summarise_runs(work_t *w);

/* Stage 1 in full. quick (the fast path): the text decoded as in full,
** then read by the fast pass when it can take it (a scan under the
** Russian layout is, once mapped back, as clean as any), else tidied in
** full, its runs summarised either way; the same w and fixes. */
static markcode_err_t clean_input(markcode_t *mc, work_t *w, const char *input, size_t len,
                                  bool quick)
{
  w->n = 0;
  w->raw_len = len;
  w->src_mapped = true;
  w->nseg = 0;
  if (len > MARKCODE_MAX_INPUT)
    return fail(mc, MARKCODE_ERR_TOO_LONG, MARKCODE_MAX_INPUT, "%zu", len);
  markcode_err_t err = MARKCODE_OK;
  if (!quick || !ru_decode_quick(mc, w, (const unsigned char *)input, len))
    err = decode_to_ascii(mc, w, (const unsigned char *)input, len);
  if (err != MARKCODE_OK) return err;
  if (quick && (w->nseg > 0 || fast_clean(mc, w, (const unsigned char *)w->b, w->n))) {
    /* fast_clean() kept the offsets as a shift into what it read (the
    ** quick decode's runs: none). */
    if (w->shift) memmove(w->src, w->src + w->shift, w->n * sizeof w->src[0]);
    w->src_mapped = true;
    w->raw_len = len;
    return MARKCODE_OK;
  }
  err = tidy_ascii(mc, w);
  if (err == MARKCODE_OK && quick) summarise_runs(w);
  return err;
}

/* The run in[run..end) summarised as a segment of a buffer that starts at
** in[base]: the class bits all its bytes have, sixteen bytes a step (then
** eight, four and one) into two accumulators, so the table loads do not
** wait on each other and the loop's own count is seldom paid. */
static HOT_INLINE segment_t run_summary(const unsigned char *in, size_t run, size_t end,
                                        size_t base)
{
  unsigned all0 = 0xFF, all1 = 0xFF;
  size_t k = run;
  for (; k + 16 <= end; k += 16) {
    all0 &= byte_class[in[k]] & byte_class[in[k + 2]] & byte_class[in[k + 4]] &
            byte_class[in[k + 6]] & byte_class[in[k + 8]] & byte_class[in[k + 10]] &
            byte_class[in[k + 12]] & byte_class[in[k + 14]];
    all1 &= byte_class[in[k + 1]] & byte_class[in[k + 3]] & byte_class[in[k + 5]] &
            byte_class[in[k + 7]] & byte_class[in[k + 9]] & byte_class[in[k + 11]] &
            byte_class[in[k + 13]] & byte_class[in[k + 15]];
  }
  if (k + 8 <= end) {
    all0 &=
        byte_class[in[k]] & byte_class[in[k + 2]] & byte_class[in[k + 4]] & byte_class[in[k + 6]];
    all1 &= byte_class[in[k + 1]] & byte_class[in[k + 3]] & byte_class[in[k + 5]] &
            byte_class[in[k + 7]];
    k += 8;
  }
  if (k + 4 <= end) {
    all0 &= byte_class[in[k]] & byte_class[in[k + 2]];
    all1 &= byte_class[in[k + 1]] & byte_class[in[k + 3]];
    k += 4;
  }
  for (; k < end; k++) all0 &= byte_class[in[k]];
  return (segment_t){(uint16_t)(run - base), (uint16_t)(end - base), (uint8_t)(all0 & all1)};
}

/* The runs of a code the full clean produced, summarised as fast_clean()
** summarises a scan (seg[], nseg), so the fast GS1 path may take it too: a
** scan under the Russian layout, once mapped back, is as clean as any.
** The full clean leaves no empty run. */
static void summarise_runs(work_t *w)
{
  const unsigned char *b = (const unsigned char *)w->b;
  int nseg = 0;
  for (size_t run = 0; run < w->n;) {
    const unsigned char *sep = memchr(b + run, MARKCODE_GS, w->n - run);
    size_t end = sep ? (size_t)(sep - b) : w->n;
    if (nseg < MARKCODE_MAX_AIS) w->seg[nseg] = run_summary(b, run, end, 0);
    nseg++;
    if (!sep) break;
    run = end + 1;
  }
  w->nseg = nseg <= MARKCODE_MAX_AIS ? nseg : 0;
}

/* The fast pass: one read of a scan that needs no cleaning (printable
** characters of GS1's set 82 and single separators, perhaps after an AIM
** prefix and leading separators, perhaps before one trailing separator:
** what a 2D scanner sends). It leaves w and the fixes exactly as
** clean_input() would, the offsets kept as one shift instead of a table,
** and records the runs between separators with the class bits all their
** bytes share, so splitting and the character-set checks need no second
** read. Returns false, having changed nothing, for anything else: the
** full clean then runs from the start. in may be w->b itself (the text
** the full clean decoded, read again by clean_input()). */
static bool fast_clean(markcode_t *mc, work_t *w, const unsigned char *in, size_t len)
{
  if (len == 0 || len > MARKCODE_MAX_INPUT) return false;
#if defined(__SSE2__)
  /* A byte not ASCII is never clean: one in the first 32 bytes (a scan
  ** under the Russian layout has its first in the serial) refuses the scan
  ** before its first run is read. Two loads and a test. */
  if (len >= 16) {
    size_t second = len >= 32 ? 16 : len - 16;
    if (_mm_movemask_epi8(
            _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)in),
                         _mm_loadu_si128((const __m128i *)(const void *)(in + second)))))
      return false;
  }
#endif
  size_t s = 0, e = len;
  uint32_t fixes = 0;
  if (len >= 3 && in[0] == ']' && (is_upper((char)in[1]) || is_lower((char)in[1])) && in[2] > ' ' &&
      in[2] < 0x7F) {
    fixes |= MARKCODE_FIX_AIM_PREFIX;
    s = 3;
  }
  while (s < e && in[s] == MARKCODE_GS) {
    fixes |= MARKCODE_FIX_GS_LEADING;
    s++;
  }
  if (s == e) return false;
  if (in[e - 1] == MARKCODE_GS) { /* in[s] is not one, so e - 1 > s */
    fixes |= MARKCODE_FIX_GS_TRAILING;
    if (in[--e - 1] == MARKCODE_GS) return false; /* a doubled one: the full clean says so */
  }
  /* Run by run: memchr finds the separator, then a loop without branches
  ** gathers the class bits of the run's bytes. */
  int nseg = 0, gs = 0;
  for (size_t run = s;;) {
    const unsigned char *sep = memchr(in + run, MARKCODE_GS, e - run);
    size_t end = sep ? (size_t)(sep - in) : e;
    if (end == run) return false; /* a doubled separator: the full clean says so */
    segment_t sg = run_summary(in, run, end, s);
    if (!(sg.all & CC_CLEAN)) return false;
    if (nseg < MARKCODE_MAX_AIS) w->seg[nseg] = sg;
    nseg++;
    if (!sep) break;
    gs++;
    run = end + 1;
  }
  w->nseg = nseg <= MARKCODE_MAX_AIS ? nseg : 0; /* more runs than fields: no summaries */
  mc->fixes |= fixes;
  if (fixes & MARKCODE_FIX_AIM_PREFIX) { /* before the move: in may be w->b */
    memcpy(mc->aim, in, 3);
    mc->aim[3] = '\0';
  }
  w->n = e - s;
  if (in == (const unsigned char *)w->b)
    memmove(w->b, in + s, w->n); /* the decoded text read again (clean_input) */
  else
    copy_exact(w->b, (const char *)in + s, w->n);
  w->b[w->n] = '\0';
  w->raw_len = len;
  w->src_mapped = false;
  w->shift = (uint16_t)s;
  w->internal_gs = gs;
  return true;
}

/* ---------------------------------------------------------------------- */
/* Stage 3: cutting a GS1 string into elements                             */
/* ---------------------------------------------------------------------- */

/* Append a field: the `alen`-digit AI at ai (2-4 digits) whose role is id
** (AI_01 … AI_OTHER), def its row of the AI table (both found once, by the
** caller that read the AI). On a little-endian machine the element is
** written by three stores, its first and last eight bytes built in
** registers: a parse waits on its stores, and one of a few bytes into a
** copy just made would make every later read of the whole wait too. */
static HOT_INLINE bool add_element_id(work_t *w, const char *ai, size_t alen, int id,
                                      const gs1_ai_def_t *def, size_t ai_at, size_t start,
                                      size_t len)
{
  if (w->nel >= MARKCODE_MAX_AIS) return false;
  element_t *e = &w->el[w->nel++];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  _Static_assert(offsetof(element_t, alen) == 5 && offsetof(element_t, id) == 6 &&
                     offsetof(element_t, fixed) == 7 && offsetof(element_t, def) == 8 &&
                     offsetof(element_t, start) == 16 && offsetof(element_t, len) == 18 &&
                     offsetof(element_t, ai_at) == 20 && offsetof(element_t, bare) == 22 &&
                     sizeof(bool) == 1 && sizeof(element_t) == 24,
                 "the element's words");
  /* the AI's digits, its NUL and those after, alen, id, fixed (the digits
  ** one by one: a loop over 2-4 of them cost twice as much) */
  uint64_t head = (uint64_t)(unsigned char)ai[0] | (uint64_t)(unsigned char)ai[1] << 8;
  if (alen > 2) head |= (uint64_t)(unsigned char)ai[2] << 16;
  if (alen > 3) head |= (uint64_t)(unsigned char)ai[3] << 24;
  head |= (uint64_t)alen << 40 | (uint64_t)id << 48 | (uint64_t)predefined_length(def) << 56;
  uint64_t tail = (uint64_t)start | (uint64_t)len << 16 | (uint64_t)ai_at << 32; /* not bare */
  memcpy(e, &head, sizeof head);
  e->def = def;
  memcpy((char *)e + offsetof(element_t, start), &tail, sizeof tail);
#else
  memcpy(e->ai, ai, alen);
  memset(e->ai + alen, 0, sizeof e->ai - alen);
  e->alen = (uint8_t)alen;
  e->id = (uint8_t)id;
  e->def = def;
  e->fixed = predefined_length(def);
  e->ai_at = (uint16_t)ai_at;
  e->start = (uint16_t)start;
  e->len = (uint16_t)len;
  e->bare = false;
#endif
  return true;
}

/* Append a field: the `alen`-digit AI ai (2-4 digits), def its row of the
** AI table (looked up once, by the caller that found the AI). */
static bool add_element(work_t *w, const char *ai, size_t alen, const gs1_ai_def_t *def,
                        size_t ai_at, size_t start, size_t len)
{
  return add_element_id(w, ai, alen, ai_id_of_key(ai_key_of(ai, alen)), def, ai_at, start, len);
}

/* Read the AI at b[pos]: the 2, 3 or 4 digits that name a row of the GS1
** table. Returns its length, its row in *def and its role in *id, or 0
** when no GS1 AI starts there. */
static HOT_INLINE size_t read_ai(const work_t *w, size_t pos, const gs1_ai_def_t **def, int *id)
{
  if (pos + 2 > w->n) return 0;
  unsigned d0 = (unsigned char)w->b[pos] - (unsigned)'0';
  unsigned d1 = (unsigned char)w->b[pos + 1] - (unsigned)'0';
  if (d0 > 9 || d1 > 9) return 0;
  const ai_prefix_t *prefix = &ai_prefixes[d0 * 10 + d1];
  size_t alen = prefix->digits;
  if (alen == 0 || pos + alen > w->n) return 0;
  if (alen == 2) { /* the two digits read are its number, its row the prefix's one */
    *def = &gs1_ais[prefix->first];
    *id = role_by_hundred[d0 * 10 + d1] ? role_by_hundred[d0 * 10 + d1] - 1 : AI_OTHER;
  } else {
    int key = ai_key_of(w->b + pos, alen);
    if ((*def = gs1_ai_find_key(key, alen)) == NULL) return 0; /* also: all digits */
    *id = ai_id_of_key(key);
  }
  return alen;
}

/* The straightforward cut: trust the separators that are there. */
static markcode_err_t gs1_split(markcode_t *mc, work_t *w)
{
  w->nel = 0;
  size_t pos = 0;
  while (pos < w->n) {
    if (w->b[pos] == MARKCODE_GS) {
      pos++;
      continue;
    }
    const gs1_ai_def_t *def = NULL;
    int id;
    size_t alen = read_ai(w, pos, &def, &id);
    if (alen == 0) {
      size_t end = pos;
      while (end < w->n && w->b[end] != MARKCODE_GS && end - pos < 12) end++;
      return fail(mc, w->nel == 0 ? MARKCODE_ERR_UNKNOWN_FORMAT : MARKCODE_ERR_AI_UNKNOWN,
                  at(w, pos), "%.*s", (int)(end - pos), w->b + pos);
    }
    size_t start = pos + alen, vlen;
    int fixed = predefined_length(def);
    if (fixed > 0) {
      vlen = (size_t)fixed;
      size_t avail = 0;
      while (start + avail < w->n && w->b[start + avail] != MARKCODE_GS && avail < vlen) avail++;
      if (avail < vlen) {
        if (w->nel == 0) /* only the leading 01 is the GTIN */
          return fail(mc, MARKCODE_ERR_GTIN_FORMAT, at(w, start), "%.*s", (int)avail, w->b + start);
        return fail(mc, MARKCODE_ERR_AI_VALUE, at(w, start), "%.*s", (int)alen, w->b + pos);
      }
    } else {
      vlen = 0;
      while (start + vlen < w->n && w->b[start + vlen] != MARKCODE_GS) vlen++;
    }
    if (!add_element_id(w, w->b + pos, alen, id, def, pos, start, vlen))
      return fail(mc, MARKCODE_ERR_TRAILING_GARBAGE, at(w, pos), "%.12s", w->b + pos);
    pos = start + vlen;
  }
  return MARKCODE_OK;
}

/* Of each slot of each layout, the AI's role and its row of the GS1 table:
** looked up once a process rather than at every search (a refusal the
** layouts try to rescue searched them about fourteen times a code). */
typedef struct slot_info {
  uint8_t id;
  uint8_t alen;  /* digits of the AI */
  uint8_t fixed; /* predefined_length() of def */
  char ai[5];    /* the AI, NUL-padded: copied whole into an element */
  const gs1_ai_def_t *def;
  uint64_t head; /* an element's first eight bytes for it (element_of_slot()) */
} slot_info_t;

#define LAYOUT_COUNT (sizeof layouts / sizeof layouts[0])
static slot_info_t slot_infos[LAYOUT_COUNT][10];
static uint8_t required_slots[LAYOUT_COUNT][10]; /* the slots not optional, in order */
static uint8_t required_count[LAYOUT_COUNT];
static uint8_t required_open[LAYOUT_COUNT]; /* of them, those of open length but the last */

/* What may end each layout (layout_may_end()), as checks shared by the
** layouts: an AI that ends the code with a value of fixed length (total:
** the AI's digits and the value's), or of a variable one (total 0: the
** AI anywhere after the last separator). A layout may end the code when
** one of its checks is met, or always when a slot that may be bare
** digits is reached first (not judged). Made once from layouts[]. */
typedef struct end_check {
  char ai[5];
  uint8_t alen;
  uint8_t total;
} end_check_t;

#define END_CHECKS_MAX 32
static end_check_t end_checks[END_CHECKS_MAX];
static size_t end_check_count;
static uint32_t end_masks[LAYOUT_COUNT]; /* the checks of each layout   */
static uint32_t end_always;              /* the layouts never ruled out */

/* Every separator of a scan the search keeps is where a field starts (no
** field runs past one), so a layout may explain the scan only if, after
** each separator, one of its slots' AIs is there, or the digits of a slot
** that may be bare (at least as many as its shortest value, before the
** next separator). Asked by the AI's first two digits: the layouts with a
** slot whose AI starts so (a necessary condition still); by the run's
** leading digits: those with a bare slot whose shortest value fits them. */
static uint32_t start_by_two[100];
static uint32_t start_always;          /* a slot whose AI is not digits: never judged */
static uint32_t bare_layouts;          /* the layouts with a slot that may be bare */
static uint8_t bare_min[LAYOUT_COUNT]; /* the shortest value of such a slot */
#define BARE_MIN_MOST 8                /* bare_min[] at most (tables check) */
static pthread_once_t slot_infos_once = PTHREAD_ONCE_INIT;
static bool slot_infos_filled; /* once_filled() */

/* The first path of each layout whose required slots are all fields with
** their AI and a listed first length (none that may be bare, none of open
** length), made once (first_fields_fill(), at the end of the file): the
** length of the code it ends at, and its fields as restore_first_path()
** writes them. A code of that length with each of those AIs where its
** field puts it takes that path: each first length fits, since the
** fields after it cannot take fewer than no characters. */
static uint16_t first_total[LAYOUT_COUNT]; /* 0: no such path */
static element_t first_fields[LAYOUT_COUNT][10];
/* Code a parse seldom or never runs, in a section of its own that the
** linker puts after the file's other code: a function added among the
** parser's hot ones moves them against each other, which moved single
** rows of the benchmark by 10-25 % (docs/BENCHMARKS.md, thirteenth pass). */
#if defined(__ELF__)
#define OUT_OF_THE_WAY __attribute__((noinline, section(".text.markcode_aside")))
#else
#define OUT_OF_THE_WAY __attribute__((noinline))
#endif
static void first_fields_fill(size_t l);

/* The check (ai, alen, total) as a bit of end_checks[], added if new; 0
** when the table is full (the caller then never rules the layout out). */
static uint32_t end_check_bit(const slot_info_t *info, size_t total)
{
  for (size_t c = 0; c < end_check_count; c++)
    if (end_checks[c].total == total && strcmp(end_checks[c].ai, info->ai) == 0) return 1u << c;
  if (end_check_count == END_CHECKS_MAX) return 0;
  end_check_t *e = &end_checks[end_check_count];
  memcpy(e->ai, info->ai, sizeof e->ai);
  e->alen = info->alen;
  e->total = (uint8_t)total;
  return 1u << end_check_count++;
}

/* The checks that may end layout l, from its last slot back to the first
** one that is not optional (the last field the search places ends at n). */
static void end_checks_fill(size_t l)
{
  const layout_t *lay = &layouts[l];
  for (int k = lay->nslots - 1; k >= 0; k--) {
    const slot_t *sl = &lay->slots[k];
    const slot_info_t *info = &slot_infos[l][k];
    if (sl->bare_digits_ok) break;
    uint32_t bits = 0;
    bool full = false;
    if (sl->lens[0] == 0) {
      bits = end_check_bit(info, 0);
      full = bits == 0;
    }
    for (size_t c = 0; c < sizeof sl->lens && sl->lens[c] != 0; c++) {
      uint32_t bit = end_check_bit(info, info->alen + sl->lens[c]);
      full |= bit == 0;
      bits |= bit;
    }
    if (full) break;
    end_masks[l] |= bits;
    if (!sl->optional) return;
  }
  end_always |= 1u << l; /* a bare slot, a full table, or only optional slots: not judged */
}

static void slot_infos_fill(void)
{
  _Static_assert(LAYOUT_COUNT <= 32, "a layout a bit");
  for (size_t l = 0; l < LAYOUT_COUNT; l++) {
    for (int k = 0; k < layouts[l].nslots; k++) {
      const char *ai = layouts[l].slots[k].ai;
      slot_infos[l][k].id = (uint8_t)ai_id(ai);
      slot_infos[l][k].alen = (uint8_t)ai_len(ai);
      memcpy(slot_infos[l][k].ai, ai, ai_len(ai)); /* the rest stays zero (static) */
      slot_infos[l][k].def = gs1_ai_find(ai, ai_len(ai));
      slot_infos[l][k].fixed = predefined_length(slot_infos[l][k].def);
      element_t e = {0};
      memcpy(e.ai, slot_infos[l][k].ai, sizeof e.ai);
      e.alen = slot_infos[l][k].alen;
      e.id = slot_infos[l][k].id;
      e.fixed = slot_infos[l][k].fixed;
      memcpy(&slot_infos[l][k].head, &e, sizeof slot_infos[l][k].head);
      if (!layouts[l].slots[k].optional) required_slots[l][required_count[l]++] = (uint8_t)k;
      if (!is_digit(ai[0]) || !is_digit(ai[1]))
        start_always |= 1u << l; /* not judged */
      else
        start_by_two[(ai[0] - '0') * 10 + (ai[1] - '0')] |= 1u << l;
      if (layouts[l].slots[k].bare_digits_ok) {
        /* next_length(): a variable value from one digit, else its lengths */
        const uint8_t *lens = layouts[l].slots[k].lens;
        unsigned shortest = lens[0] == 0 ? 1 : 255;
        for (size_t c = 0; c < sizeof layouts[l].slots[k].lens && lens[c] != 0; c++)
          if (lens[c] < shortest) shortest = lens[c];
        if (!(bare_layouts & (1u << l)) || shortest < bare_min[l]) bare_min[l] = (uint8_t)shortest;
        bare_layouts |= 1u << l;
      }
    }
    for (size_t k = 0; k + 1 < required_count[l]; k++)
      required_open[l] =
          (uint8_t)(required_open[l] + (slot_infos[l][required_slots[l][k]].fixed == 0));
    end_checks_fill(l);
    first_fields_fill(l);
  }
  __atomic_store_n(&slot_infos_filled, true, __ATOMIC_RELEASE);
}

/* A field the search placed: its slot, where its AI and value are. */
typedef struct placed {
  uint8_t slot;
  bool bare;
  uint16_t ai_at, start, len;
} placed_t;

/* Layout restoration. `s` is the code with separators removed; a field
** must start where a separator was present. */
typedef struct restore {
  const char *s;
  size_t n;
  const layout_t *lay;
  const uint16_t *cuts;    /* the places in s a separator was, ascending */
  size_t ncuts;            /* 0: none was, every field may run to n      */
  const slot_info_t *info; /* of each slot of lay */
  placed_t el[MARKCODE_MAX_AIS];
  int nel;
  long budget; /* bounds the search on hostile input */
} restore_t;

/* The first place after pos a separator was, or n: a field that starts at
** pos ends there at the latest. */
static size_t next_cut(const restore_t *r, size_t pos)
{
  size_t lo = 0, hi = r->ncuts;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r->cuts[mid] <= pos)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < r->ncuts ? r->cuts[lo] : r->n;
}

/* Is the AI ai (alen digits) at s? By hand: a call to memcmp costs more. */
static bool ai_at(const char *s, const char *ai, size_t alen)
{
  /* Every AI has at least two digits: those two as one 16-bit compare. */
  uint16_t have, want;
  memcpy(&have, s, 2);
  memcpy(&want, ai, 2);
  if (have != want) return false;
  for (size_t k = 2; k < alen; k++)
    if (s[k] != ai[k]) return false;
  return true;
}

/* The next length slot sl's value from vstart may take (form: bare
** digits or after its AI), from candidate *c on (advanced past it): its
** lengths in the order the layout lists them, a variable one every length
** from 1, none past room or past the next place a separator was
** (boundary). 0: no more. */
static size_t next_length(const slot_t *sl, bool bare, const char *s, size_t vstart, size_t room,
                          size_t boundary, size_t *c)
{
  bool variable = sl->lens[0] == 0;
  size_t ncand = variable ? room : sizeof sl->lens;
  while (*c < ncand) {
    size_t vlen = variable ? *c + 1 : sl->lens[*c];
    ++*c;
    if (vlen == 0) break; /* the end of the list of lengths */
    if (vlen > room) continue;
    if (vstart + vlen > boundary) {
      if (variable) break; /* longer values contain the same separator */
      continue;
    }
    if (bare && !all_digits(s + vstart, vlen)) continue;
    return vlen;
  }
  *c = ncand;
  return 0;
}

/* Where slot `slot` (at pos, not past the end) may start its fields: with
** its AI (labelled) and bare. False: neither, the search backs off. */
static bool slot_forms(const restore_t *r, int slot, size_t pos, bool *labelled)
{
  const slot_info_t *info = &r->info[slot];
  *labelled = r->n - pos >= info->alen && ai_at(r->s + pos, info->ai, info->alen);
  return *labelled || r->lay->slots[slot].bare_digits_ok;
}

static bool restore_from(restore_t *r, int slot, size_t pos)
{
  if (--r->budget < 0) return false;
  if (slot == r->lay->nslots) return pos == r->n;
  const slot_t *sl = &r->lay->slots[slot];
  if (sl->optional && restore_from(r, slot + 1, pos)) return true;
  bool labelled;
  if (pos >= r->n || !slot_forms(r, slot, pos, &labelled)) return false;
  /* A field from pos ends at or before the next place a separator was. */
  size_t boundary = r->ncuts ? next_cut(r, pos) : r->n;
  _Static_assert(sizeof r->lay->slots / sizeof r->lay->slots[0] <= MARKCODE_MAX_AIS,
                 "a field a slot");
  placed_t *e = &r->el[r->nel++];
  e->slot = (uint8_t)slot;
  e->ai_at = (uint16_t)pos;
  for (int form = 0; form < 2; form++) {
    bool bare = form == 1;
    if (bare ? !sl->bare_digits_ok : !labelled) continue;
    size_t vstart = bare ? pos : pos + r->info[slot].alen, c = 0, vlen;
    while ((vlen = next_length(sl, bare, r->s, vstart, r->n - vstart, boundary, &c)) != 0) {
      e->bare = bare;
      e->start = (uint16_t)vstart;
      e->len = (uint16_t)vlen;
      if (restore_from(r, slot + 1, vstart + vlen)) return true;
    }
  }
  r->nel--;
  return false;
}

/* Field k of a placement as an element: slot `slot` of the layout whose
** slots r->info describes. */
static inline void element_of_slot(const restore_t *r, element_t *e, int slot, bool bare,
                                   size_t ai_at, size_t start, size_t len)
{
  const slot_info_t *info = &r->info[slot];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  /* Three stores, as add_element_id() writes an element: its first eight
  ** bytes made once a process (fixed 0 when bare), the def, the offsets. */
  uint64_t head = bare ? info->head & ~(0xFFull << 56) : info->head;
  uint64_t tail =
      (uint64_t)start | (uint64_t)len << 16 | (uint64_t)ai_at << 32 | (uint64_t)bare << 48;
  memcpy(e, &head, sizeof head);
  e->def = bare ? NULL : info->def;
  memcpy((char *)e + offsetof(element_t, start), &tail, sizeof tail);
  return;
#endif
  memcpy(e->ai, info->ai, sizeof e->ai);
  e->alen = info->alen;
  e->id = info->id;
  e->def = bare ? NULL : info->def;
  e->fixed = bare ? 0 : info->fixed;
  e->ai_at = (uint16_t)ai_at;
  e->start = (uint16_t)start;
  e->len = (uint16_t)len;
  e->bare = bare;
}

/* The first path restore_from() takes, followed without a call a slot and
** without backing off: every optional slot left out, every other one
** given its first form and length. When it ends at n it is the search's
** answer (the first placement it finds); false: the search must run (the
** same answer, from the start). Its fields go straight into el. */
static bool restore_first_path(restore_t *r, size_t l, element_t *el, int *needing_gs,
                               bool *bare_met)
{
  /* r's fields in locals: the elements' stores might alias r (its address
  ** is the search's), which made every use a load. */
  const char *s = r->s;
  const size_t n = r->n, count = required_count[l];
  const slot_t *slots = r->lay->slots;
  const slot_info_t *infos = r->info;
  const bool cut = r->ncuts != 0;
  size_t pos = 0;
  int needing = required_open[l]; /* every field with its AI; a bare one adds below */
  bool any_bare = false;
  for (size_t k = 0; k < count; k++) {
    int slot = required_slots[l][k];
    const slot_t *sl = &slots[slot];
    const slot_info_t *info = &infos[slot];
    if (pos >= n) return false;
    /* slot_forms(): with its AI, else bare when the slot may be */
    bool bare = !(n - pos >= info->alen && ai_at(s + pos, info->ai, info->alen));
    if (bare && !sl->bare_digits_ok) return false;
    size_t boundary = cut ? next_cut(r, pos) : n;
    size_t vstart = bare ? pos : pos + info->alen, c = 0;
    /* A fixed length with its AI: the first length when it fits. */
    size_t vlen = sl->lens[0];
    if (bare || vlen == 0 || vstart + vlen > boundary)
      vlen = next_length(sl, bare, s, vstart, n - vstart, boundary, &c);
    if (vlen == 0) return false;
    element_of_slot(r, &el[k], slot, bare, pos, vstart, vlen);
    if (bare) { /* a bare field's length is open: a separator after it (but the last) */
      needing += info->fixed != 0 && k + 1 < count;
      any_bare = true;
    }
    pos = vstart + vlen;
  }
  r->nel = (int)count;
  *needing_gs = needing;
  *bare_met = any_bare;
  return pos == n;
}

/* The last run of a scan (after its last separator), and which checks of
** end_checks[] it was asked and met: asked lazily, layout by layout. */
typedef struct end_state {
  const char *s;
  size_t n;
  uint32_t asked, met;
} end_state_t;

/* Does the run meet check c (its AI ends it with a value of the check's
** length, or, variable, starts anywhere with a value after it)? The
** variable one looks for the AI's first digit with memchr. */
static bool end_check_met(const end_state_t *st, size_t c)
{
  const end_check_t *e = &end_checks[c];
  if (e->total) return e->total <= st->n && ai_at(st->s + st->n - e->total, e->ai, e->alen);
  if (st->n <= e->alen) return false;
  const char *p = st->s, *last = st->s + st->n - e->alen; /* a value after the AI */
  while (p < last && (p = memchr(p, e->ai[0], (size_t)(last - p))) != NULL) {
    if (ai_at(p, e->ai, e->alen)) return true;
    p++;
  }
  return false;
}

/* Could layout l explain the scan at all? A necessary condition, cheap:
** the last field the search places ends at the end and starts in the last
** run (a field never spans a separator), so some slot that only optional
** slots follow has its AI where one of its lengths ends it, or (of
** variable length) somewhere in the last run; a slot that may be bare
** digits is not judged. Only the last run is read, which the search's
** copy without separators ends with unchanged. The quick path asks it
** before each search; the full path searches every layout, and the tests
** hold the two to the same answers. */
static inline bool layout_may_end(end_state_t *st, size_t l)
{
  if (st->n == 0 || (end_always & (1u << l))) return true;
  if (end_masks[l] & st->met) return true;
  for (uint32_t left = end_masks[l] & ~st->asked; left; left &= left - 1) {
    size_t c = (size_t)__builtin_ctz(left);
    st->asked |= 1u << c;
    if (end_check_met(st, c)) {
      st->met |= 1u << c;
      return true;
    }
  }
  return false;
}

/* The first layout that explains s[0..n) (the scan without separators,
** which were at cuts[0..ncuts): internal_gs of them), of those in `may`
** (bits of layouts[]) that layout_may_end() allows (st: the scan's last
** run, asked before each search, and the search's first path tried alone
** first, as a wedge's code nearly always takes it; NULL: neither). On
** success el[0..*nel)
** holds its fields, mc its name and the fixes the restoration makes. */
static bool layouts_search(markcode_t *mc, const char *s, size_t n, const uint16_t *cuts,
                           size_t ncuts, int internal_gs, uint32_t may, end_state_t *st,
                           element_t *el, int *nel)
{
  restore_t r; /* set field by field: its elements need no zeroing */
  r.s = s;
  r.n = n;
  r.cuts = cuts;
  r.ncuts = ncuts;
  for (size_t l = 0; l < LAYOUT_COUNT; l++) {
    if (!(may & (1u << l)) || (st && !layout_may_end(st, l))) continue;
    r.lay = &layouts[l];
    r.info = slot_infos[l];
    r.nel = 0;
    r.budget = 20000;
    /* Only a separator we had to invent is a restoration. */
    int fields_needing_gs = 0;
    bool bare = false;
    if (!st || !restore_first_path(&r, l, el, &fields_needing_gs, &bare)) {
      r.nel = 0;
      if (!restore_from(&r, 0, 0)) continue;
      fields_needing_gs = 0;
      bare = false;
      for (int k = 0; k < r.nel; k++) {
        const placed_t *p = &r.el[k];
        element_of_slot(&r, &el[k], p->slot, p->bare, p->ai_at, p->start, p->len);
        bare |= el[k].bare;
        if (k + 1 < r.nel && el[k].fixed == 0) fields_needing_gs++;
      }
    }
    if (bare) mc->fixes |= MARKCODE_FIX_MRP_UNLABELLED;
    *nel = r.nel;
    mc->layout = layouts[l].name;
    if (fields_needing_gs > internal_gs) mc->fixes |= MARKCODE_FIX_GS_RESTORED;
    return true;
  }
  return false;
}

/* The layouts (bits) that may explain w's code by the necessary
** conditions the search's copy needs not be made for: one of the slots
** that may end a layout ends the last run (from w->b[last]), see
** layout_may_end(), and one of its slots' AIs starts every run after a
** separator. */
/* Of the layouts `may`, those that may have a field start at p, the
** start of a run that ends at run_end (a separator or the end of the
** code): a slot whose AI's first two digits are there, or a bare one
** whose shortest value the run's leading digits hold. */
static HOT_INLINE uint32_t layouts_starting(uint32_t may, const char *p, const char *run_end)
{
  size_t n = (size_t)(run_end - p);
  uint32_t fit = start_always;
  if (n >= 2) {
    unsigned d0 = (unsigned char)p[0] - (unsigned)'0', d1 = (unsigned char)p[1] - (unsigned)'0';
    if (d0 <= 9 && d1 <= 9) fit |= start_by_two[d0 * 10 + d1];
  }
  uint32_t bare = may & bare_layouts & ~fit;
  if (bare) {
    size_t digits = 0;
    while (digits < n && digits < BARE_MIN_MOST && is_digit(p[digits])) digits++;
    for (; bare; bare &= bare - 1) {
      size_t l = (size_t)__builtin_ctz(bare);
      if (bare_min[l] <= digits) fit |= 1u << l;
    }
  }
  return may & fit;
}

static uint32_t layouts_may_fit(const work_t *w, size_t last)
{
  uint32_t may = (1u << LAYOUT_COUNT) - 1;
  /* Every run after a separator (from the fast pass's runs when it made
  ** them): the layouts with a slot whose AI's first two digits start it. */
  const char *end = w->b + w->n;
  if (w->nseg > 0)
    for (int r = 1; r < w->nseg && may != 0; r++)
      may = layouts_starting(may, w->b + w->seg[r].start, w->b + w->seg[r].end);
  else /* no runs recorded: the separators found here */
    for (const char *q = w->b;
         may != 0 && (q = memchr(q, MARKCODE_GS, (size_t)(end - q))) != NULL;) {
      const char *run = ++q, *gs = memchr(run, MARKCODE_GS, (size_t)(end - run));
      may = layouts_starting(may, run, gs ? gs : end);
    }
  end_state_t st = {w->b + last, w->n - last, 0, 0};
  for (uint32_t left = may; left; left &= left - 1) {
    size_t l = (size_t)__builtin_ctz(left);
    if (!layout_may_end(&st, l)) may &= ~(1u << l);
  }
  return may;
}

/* Where the last run of w's code starts (after its last separator). */
static size_t last_run_start(const work_t *w)
{
  if (w->nseg > 0) return w->seg[w->nseg - 1].start;
  size_t k = w->n;
  while (k > 0 && w->b[k - 1] != MARKCODE_GS) k--;
  return k;
}

/* The input offsets of the code without separators (out->b), from w's. */
static void restored_offsets(const work_t *w, work_t *out)
{
  out->src_mapped = true;
  if (w->internal_gs == 0) {
    out->src_mapped = w->src_mapped;
    out->shift = w->shift;
    if (w->src_mapped) memcpy(out->src, w->src, w->n * sizeof out->src[0]);
    return;
  }
  size_t n = 0;
  for (size_t at_in = 0; at_in < w->n;) {
    const char *gs = memchr(w->b + at_in, MARKCODE_GS, w->n - at_in);
    size_t run = gs ? (size_t)(gs - (w->b + at_in)) : w->n - at_in;
    if (w->src_mapped)
      memcpy(out->src + n, w->src + at_in, run * sizeof out->src[0]);
    else
      for (size_t i = 0; i < run; i++) out->src[n + i] = (uint16_t)(at_in + i + w->shift);
    n += run;
    at_in += run + (gs != NULL);
  }
}

/* Try every known layout on the separator-less string of w. On success
** `out` holds the code without separators and its fields (w is left as it
** was, so a failed attempt costs no copy back). quick: a layout that
** layout_may_end() rules out is not searched (the same answer, sooner). */
static bool gs1_restore(markcode_t *mc, const work_t *w, work_t *out, bool quick)
{
  once_filled(&slot_infos_once, slot_infos_fill, &slot_infos_filled);
  size_t last = last_run_start(w);
  uint32_t may = quick ? layouts_may_fit(w, last) : ~0u;
  if (may == 0) return false; /* asked before the copy: none may, no copy */
  /* The runs between separators copied whole (a wedge that lost them is
  ** one run), each separator's place in the copy noted. */
  uint16_t cuts[MARKCODE_MAX_INPUT + 1];
  size_t n = 0, ncuts = 0;
  for (size_t at_in = 0; at_in < w->n;) {
    const char *gs = memchr(w->b + at_in, MARKCODE_GS, w->n - at_in);
    size_t run = gs ? (size_t)(gs - (w->b + at_in)) : w->n - at_in;
    memcpy(out->b + n, w->b + at_in, run);
    n += run;
    at_in += run;
    if (gs) {
      cuts[ncuts++] = (uint16_t)n;
      at_in++;
    }
  }
  out->b[n] = '\0';
  out->n = n;
  if (!layouts_search(mc, out->b, n, cuts, ncuts, w->internal_gs, may, NULL, out->el, &out->nel))
    return false;
  restored_offsets(w, out);
  out->raw_len = w->raw_len;
  out->nseg = 0;
  out->internal_gs = w->internal_gs;
  return true;
}

/* Bracketed human-readable form: (01)04600439931256(21)JgXJ5.T(93)0001 */
static markcode_err_t gs1_split_brackets(markcode_t *mc, work_t *w)
{
  w->nel = 0;
  size_t pos = 0;
  while (pos < w->n) {
    if (w->b[pos] != '(') return fail(mc, MARKCODE_ERR_AI_UNKNOWN, at(w, pos), "%.12s", w->b + pos);
    size_t close = pos + 1;
    while (close < w->n && is_digit(w->b[close]) && close - pos <= 4) close++;
    if (close >= w->n || w->b[close] != ')' || close - pos < 3)
      return fail(mc, MARKCODE_ERR_AI_UNKNOWN, at(w, pos), "%.12s", w->b + pos);
    char ai[5];
    copy_str(ai, sizeof ai, w->b + pos + 1, close - pos - 1);
    const gs1_ai_def_t *def = gs1_ai_find(ai, strlen(ai));
    if (def == NULL) return fail(mc, MARKCODE_ERR_AI_UNKNOWN, at(w, pos), "%s", ai);
    /* The value runs to the next "(NN)" that opens a real AI. */
    size_t start = close + 1, end = start;
    while (end < w->n) {
      if (w->b[end] == '(') {
        size_t c2 = end + 1;
        while (c2 < w->n && is_digit(w->b[c2]) && c2 - end <= 4) c2++;
        if (c2 < w->n && w->b[c2] == ')' && c2 - end >= 3 &&
            gs1_ai_find(w->b + end + 1, c2 - end - 1) != NULL)
          break;
      }
      end++;
    }
    if (!add_element(w, ai, strlen(ai), def, pos, start, end - start))
      return fail(mc, MARKCODE_ERR_TRAILING_GARBAGE, at(w, pos), "%.12s", w->b + pos);
    pos = end;
  }
  mc->fixes |= MARKCODE_FIX_BRACKETS;
  return MARKCODE_OK;
}

/* ---------------------------------------------------------------------- */
/* Stage 4: validation and derived fields                                  */
/* ---------------------------------------------------------------------- */

#define SWAR_ONES 0x0101010101010101ull
#define SWAR_HIGH 0x8080808080808080ull

/* Are all eight bytes of x (each already minus '0') digit values 0-9? A
** byte of 10 or more sets its high bit when 0x76 is added; a byte below 0
** wrapped to 0x80 or more has it already; no byte of 0-9 carries. */
static bool swar_digits(uint64_t x) { return (((x + 0x76 * SWAR_ONES) | x) & SWAR_HIGH) == 0; }

/* The sum of the eight bytes of x, each at most 31. */
static unsigned swar_sum(uint64_t x) { return (unsigned)((x * SWAR_ONES) >> 56); }

/* The check of a 14-digit GTIN; also false when any of the 14 is not a
** digit. On a little-endian machine, eight digits a step as the bytes of
** one word: digits 0-7, then 8-13 (the word at 6 shifted past 6 and 7),
** the weight-3 digits (even offsets) and the weight-1 ones (odd offsets,
** the check digit, offset 13, aside) summed by lanes. */
static bool gtin14_ok(const char *d)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t lo = load64(d) - 0x30 * SWAR_ONES, hi = (load64(d + 6) - 0x30 * SWAR_ONES) >> 16;
  if (!swar_digits(lo) || !swar_digits(hi)) return false;
  const uint64_t even = 0x00FF00FF00FF00FFull; /* lanes 0, 2, 4, 6 */
  unsigned sum = 3 * swar_sum((lo & even) + (hi & even)) +
                 swar_sum((lo & ~even) + (hi & 0x00000000FF00FF00ull));
  unsigned check = (unsigned)(hi >> 40) & 0xFF;
  return (10 - sum % 10) % 10 == check;
#else
  unsigned sum = 0, bad = 0;
  for (int i = 0; i < 13; i++) {
    unsigned v = (unsigned)(unsigned char)d[i] - '0';
    bad |= v > 9;
    sum += (i & 1) ? v : 3 * v;
  }
  unsigned check = (unsigned)(unsigned char)d[13] - '0';
  return !bad && check <= 9 && (10 - sum % 10) % 10 == check;
#endif
}

int markcode_gs1_check_ok(const char *d, size_t n)
{
  if (n == 14) return gtin14_ok(d);
  if (n < 2) return 0;
  /* Weights 3, 1, 3, … from the digit before the check digit leftwards:
  ** digit i weighs 3 when n - 2 - i is even. */
  unsigned sum = 0, bad = 0, odd = (unsigned)(n & 1);
  for (size_t i = 0; i + 1 < n; i++) {
    unsigned v = (unsigned)(unsigned char)d[i] - '0';
    bad |= v > 9;
    sum += ((unsigned)i & 1) == odd ? 3 * v : v;
  }
  unsigned check = (unsigned)(unsigned char)d[n - 1] - '0';
  return !bad && check <= 9 && (10 - sum % 10) % 10 == check;
}

static bool valid_date(const char *v, bool with_time)
{
  int mm = (v[2] - '0') * 10 + (v[3] - '0');
  int dd = (v[4] - '0') * 10 + (v[5] - '0');
  if (mm < 1 || mm > 12 || dd > 31) return false; /* DD 00 = end of month */
  if (with_time) {
    int hh = (v[6] - '0') * 10 + (v[7] - '0');
    int mi = (v[8] - '0') * 10 + (v[9] - '0');
    if (hh > 23 || mi > 59) return false;
  }
  return true;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The number of the eight digits in the bytes of v (a byte's low four bits
** its digit, a zero byte a 0), most significant first: adjacent lanes
** joined into pairs, the pairs into fours, the fours into the eight, each
** step one multiply over the whole word. */
static uint64_t swar_number8(uint64_t v)
{
  v &= 0x0F0F0F0F0F0F0F0Full;
  v = (v * (10 * 256 + 1)) >> 8;
  v = ((v & 0x00FF00FF00FF00FFull) * (100 * 65536 + 1)) >> 16;
  return ((v & 0x0000FFFF0000FFFFull) * (10000 * 4294967296ull + 1)) >> 32;
}
#endif

/* The number of n decimal digits (at most 15) as 6 big-endian bytes at
** out, which has room for 8: the two after them are written too (as
** zeros, or left alone by the portable loop) and belong to what follows. */
static HOT_INLINE void put_be48(uint8_t *out, const char *digits, size_t n)
{
  uint64_t v = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  static const uint32_t pow10[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
  if (n >= 8 && n <= 16) {
    /* The first eight digits, then the word of the last eight with the
    ** bytes the first eight already counted zeroed: no division. */
    v = swar_number8(load64(digits));
    if (n > 8)
      v = v * pow10[n - 8] + swar_number8(load64(digits + n - 8) & (~0ull << (8 * (16 - n))));
    uint64_t be = __builtin_bswap64(v << 16); /* the low six bytes, most significant first */
    memcpy(out, &be, sizeof be);
    return;
  }
#endif
  for (size_t i = 0; i < n; i++) v = v * 10 + (uint64_t)(digits[i] - '0');
  for (int k = 5; k >= 0; k--) {
    out[k] = (uint8_t)(v & 0xFF);
    v >>= 8;
  }
}

static HOT_INLINE void set_1162(markcode_t *mc, uint16_t type, const char *gtin, size_t gtin_len,
                                const char *tail, size_t tail_len)
{
  mc->tag1162[0] = (uint8_t)(type >> 8);
  mc->tag1162[1] = (uint8_t)(type & 0xFF);
  size_t n = 2;
  if (gtin) {
    put_be48(mc->tag1162 + 2, gtin, gtin_len);
    n = 8;
  }
  if (tail_len > sizeof mc->tag1162 - n) tail_len = sizeof mc->tag1162 - n;
  if (tail_len) memcpy(mc->tag1162 + n, tail, tail_len);
  mc->tag1162_len = n + tail_len;
}

/* A 44/88-character base64 tail made of random bytes has about 20 letters
** of each case; one with letters of a single case was changed by Caps Lock.
** Refuse, never guess the original case. Out of the way: the fast path
** asks only of a tail without both cases, the full path of every tail. */
OUT_OF_THE_WAY static bool caps_damaged(const char *v, size_t n)
{
  size_t up = 0, low = 0;
  for (size_t k = 0; k < n; k++) { /* branch-free: the compiler vectorises it */
    up += (unsigned char)(v[k] - 'A') < 26;
    low += (unsigned char)(v[k] - 'a') < 26;
  }
  return up + low >= 8 && (up == 0 || low == 0);
}

/* Has v (n characters) a capital and a small letter? Then Caps Lock did
** not touch it (caps_damaged() is false), found after a few characters of
** a random tail instead of counting all of them. */
static bool has_both_cases(const char *v, size_t n)
{
  bool up = false, low = false;
  for (size_t k = 0; k < n; k++) {
    up |= is_upper(v[k]);
    low |= is_lower(v[k]);
    if (up && low) return true;
  }
  return false;
}

/* What the rules need to know of a crypto tail (AI 92 after 91): the
** offset of its first character outside base64 ('=' allowed only in the
** last two places), its length if none, and whether Caps Lock destroyed
** its case. The full path reads it here; the fast path knows it from the
** run's class bits. */
typedef struct tail_scan {
  size_t bad;
  bool caps;
} tail_scan_t;

static tail_scan_t tail_scan(const char *v, size_t n)
{
  tail_scan_t ts = {n, false};
  for (size_t i = 0; i < n; i++)
    if (!is_base64(v[i]) || (v[i] == '=' && i + 2 < n)) {
      ts.bad = i;
      break;
    }
  ts.caps = caps_damaged(v, n);
  return ts;
}

/* What a work buffer is beside its fields, for gs1_finish()'s canonical
** form: nothing more (the form is built field by field), the form itself
** (the fast path knows when: copied whole), or the fields one after
** another from its start to its end with no separator, each its AI's
** digits and its value or bare digits (a code of one run the layouts cut:
** copied in the stretches between the separators the form puts in). */
typedef enum buffer_form { FORM_FIELDS, FORM_CANONICAL, FORM_TILED } buffer_form_t;

static markcode_err_t gs1_finish(markcode_t *mc, const work_t *w,
                                 const element_t *const known[AI_KNOWN], bool mrp_bare,
                                 const tail_scan_t *ts, buffer_form_t form);

/* The canonical form of w's fields (a separator after every field whose
** length GS1 does not predefine, except the last), field by field, into
** out (cap bytes, not NUL-ended), w's buffer ending at b_end; returns its
** length. Out of line: the full path's and the repairs' (the fast path's
** buffer is the form, or tiled). */
__attribute__((noinline)) static size_t canonical_of_fields(char *out, size_t cap, const work_t *w,
                                                            const char *b_end)
{
  const char *b = w->b;
  size_t o = 0;
  for (int k = 0; k < w->nel; k++) {
    const element_t *e = &w->el[k];
    if (k > 0 && w->el[k - 1].fixed == 0) out[o++] = MARKCODE_GS;
    size_t alen = e->bare ? 0 : e->alen;
    if (o + sizeof e->ai <= cap)
      memcpy(out + o, e->ai, 4); /* whole: the bytes past alen are overwritten */
    else
      memcpy(out + o, e->ai, alen);
    o += alen;
    append_over(out, cap, &o, b + e->start, e->len, b_end);
  }
  return o;
}

static markcode_err_t gs1_validate(markcode_t *mc, const work_t *w)
{
  const char *b = w->b;
  if (w->nel == 0 || w->el[0].id != AI_01) return fail(mc, MARKCODE_ERR_UNKNOWN_FORMAT, 0, NULL);

  /* The GTIN first: a wrong one makes every other finding moot, and no
  ** separator repair can change it. */
  const element_t *gtin = &w->el[0];
  if (gtin->len != 14 || !all_digits(b + gtin->start, gtin->len))
    return fail(mc, MARKCODE_ERR_GTIN_FORMAT, at(w, gtin->start), "%.*s", (int)gtin->len,
                b + gtin->start);
  if (!markcode_gs1_check_ok(b + gtin->start, 14))
    return fail(mc, MARKCODE_ERR_GTIN_CHECK, at(w, gtin->start + 13), "%.14s", b + gtin->start);

  /* Every field: no duplicates, charset, the fixed rules of its AI. */
  const element_t *known[AI_KNOWN] = {0};
  bool mrp_bare = false;
  for (int k = 0; k < w->nel; k++) {
    const element_t *e = &w->el[k];
    if (e->bare) {
      mrp_bare = true;
    } else if (e->id != AI_OTHER) {
      if (known[e->id]) return fail(mc, MARKCODE_ERR_AI_DUPLICATE, at(w, e->ai_at), "%s", e->ai);
      known[e->id] = e;
    } else {
      for (int j = 0; j < k; j++)
        if (w->el[j].id == AI_OTHER && !w->el[j].bare && strcmp(w->el[j].ai, e->ai) == 0)
          return fail(mc, MARKCODE_ERR_AI_DUPLICATE, at(w, e->ai_at), "%s", e->ai);
    }
    if (e->len == 0) return fail(mc, MARKCODE_ERR_AI_VALUE, at(w, e->ai_at), "%s", e->ai);
    if (e->bare) { /* MRP digits without their AI (tobacco block) */
      for (size_t i = 0; i < e->len; i++)
        if (!is_digit(b[e->start + i]))
          return fail(mc, MARKCODE_ERR_AI_VALUE, at(w, e->start + i), "8005");
      continue;
    }
    /* The GS1 rules of the AI: its character set per component, its
    ** length, check digits and dates. Layouts only produce AIs of the
    ** table, so a missing row is a cut gone wrong. */
    const gs1_ai_def_t *def = e->def;
    if (def == NULL) return fail(mc, MARKCODE_ERR_AI_UNKNOWN, at(w, e->ai_at), "%s", e->ai);
    size_t off = 0;
    /* the GTIN was checked in full above */
    spec_fault_t fault = k == 0 ? SPEC_OK : spec_check(def->spec, b + e->start, e->len, &off);
    size_t p = e->start + off;
    char c = p < w->n ? b[p] : '\0';
    switch (fault) {
    case SPEC_OK:
      break;
    case SPEC_CHARSET:
      if (e->id == AI_01)
        return fail(mc, MARKCODE_ERR_GTIN_FORMAT, at(w, p), "%.*s", (int)e->len, b + e->start);
      if (e->id == AI_21) return fail(mc, MARKCODE_ERR_SERIAL_CHARSET, at(w, p), "%c", c);
      if (e->id == AI_92) return fail(mc, MARKCODE_ERR_TAIL_CHARSET, at(w, p), "%c", c);
      /* A character of the GS1 set in the wrong place (a letter in a
      ** number) is a bad value; one outside every set is a bad character. */
      if (is_cs82(c)) return fail(mc, MARKCODE_ERR_AI_VALUE, at(w, p), "%s", e->ai);
      return fail(mc, MARKCODE_ERR_BAD_CHAR, at(w, p), "%c", c);
    case SPEC_LENGTH:
      if (e->id == AI_21)
        return fail_count(mc, MARKCODE_ERR_SERIAL_LENGTH, at(w, e->start), COUNT_PREFIX_NONE,
                          e->len);
      return fail(mc, MARKCODE_ERR_AI_VALUE, at(w, e->start), "%s", e->ai);
    case SPEC_CHECK:
    case SPEC_DATE:
      return fail(mc, MARKCODE_ERR_AI_VALUE, at(w, e->start), "%s", e->ai);
    }
    if (e->id == AI_7003 && !valid_date(b + e->start, true))
      return fail(mc, MARKCODE_ERR_AI_VALUE, at(w, e->start), "%s", e->ai);
  }
  tail_scan_t ts = {0, false};
  if (known[AI_91] && known[AI_92]) ts = tail_scan(b + known[AI_92]->start, known[AI_92]->len);
  return gs1_finish(mc, w, known, mrp_bare, &ts, FORM_FIELDS);
}

/* The rules of a marking code over fields GS1's rules accepted (21 with
** any tail; 91 of 4, 92 of 44/88 whose scan is ts, 93 of 4), the family
** notes, then every derived field. Shared by the full and the fast path;
** form: what w's buffer is beside its fields (buffer_form_t), which says
** how the canonical form is made. */
static markcode_err_t gs1_finish(markcode_t *mc, const work_t *w,
                                 const element_t *const known[AI_KNOWN], bool mrp_bare,
                                 const tail_scan_t *ts, buffer_form_t form)
{
  const char *b = w->b;
  const element_t *gtin = &w->el[0];
  const element_t *serial = known[AI_21], *key = known[AI_91], *t92 = known[AI_92];
  const element_t *t93 = known[AI_93], *mrp = known[AI_8005];

  if (!serial && (key || t92 || t93))
    return fail(mc, MARKCODE_ERR_NO_SERIAL, at(w, gtin->start + 14), NULL);
  /* A complete tail followed by more characters, with nothing left that a
  ** separator could explain (the layouts were tried first): garbage. */
  const element_t *last = &w->el[w->nel - 1];
  if ((last == t93 && t93->len > 4) || (key && last == t92 && t92->len > 88)) {
    size_t end = last->start + (last == t93 ? 4u : 88u);
    return fail(mc, MARKCODE_ERR_TRAILING_GARBAGE, at(w, end), "%.16s", b + end);
  }
  if (key && key->len != 4)
    return fail_count(mc, MARKCODE_ERR_KEY_LENGTH, at(w, key->start), COUNT_PREFIX_NONE, key->len);
  if (key && !t92)
    return fail(mc, MARKCODE_ERR_TAIL_LENGTH, at(w, key->start + key->len), "92 → 0");
  if (t92 && key) {
    if (t92->len != 44 && t92->len != 88)
      return fail_count(mc, MARKCODE_ERR_TAIL_LENGTH, at(w, t92->start), COUNT_PREFIX_92, t92->len);
    if (ts->bad < t92->len)
      return fail(mc, MARKCODE_ERR_TAIL_CHARSET, at(w, t92->start + ts->bad), "%c",
                  b[t92->start + ts->bad]);
    if (ts->caps) return fail(mc, MARKCODE_ERR_CAPS_LOCK, at(w, t92->start), NULL);
  }
  if (t92 && !key && !(mrp || mrp_bare))
    return fail(mc, MARKCODE_ERR_KEY_LENGTH, at(w, t92->ai_at), "0");
  if (t93 && t93->len != 4)
    return fail_count(mc, MARKCODE_ERR_TAIL_LENGTH, at(w, t93->start), COUNT_PREFIX_93, t93->len);
  /* Family rules are notes, never refusals: GS1 allows indicator digits
  ** 1-8 (group packs and imported goods carry them) and real marks have
  ** serials of lengths no family table lists. parse_gs1() uses the serial
  ** note to ask the layouts whether a lost separator explains it. */
  if (serial &&
      !serial_length_usual(serial->len, key != NULL, mrp || mrp_bare || (t92 && !key), t93 != NULL))
    mc->fixes |= MARKCODE_FIX_SERIAL_UNUSUAL;
  if (serial && b[gtin->start] != '0') mc->fixes |= MARKCODE_FIX_GTIN_INDICATOR;

  /* Derived fields. The layout follows from the fields, whether the
  ** separators were there or had to be restored. */
  mc->kind = MARKCODE_KIND_GS1;
  if (!serial)
    mc->layout = "gs1_unmarked";
  else if (key)
    mc->layout = "crypto_tail";
  else if (mrp && !t92 && !t93)
    mc->layout = "mrp_no_tail";
  else if (mrp_bare || (mrp && !t92))
    mc->layout = "tobacco_block";
  else if (mrp)
    mc->layout = "tobacco_block_old";
  else if (t93)
    mc->layout = serial->len == 6 ? "dairy" : "short_tail";
  else
    mc->layout = "identification_only";
  const char *b_end = w->b + sizeof w->b;
  copy_str(mc->gtin, sizeof mc->gtin, b + gtin->start, 14);
  if (serial) copy_field(mc->serial, sizeof mc->serial, b + serial->start, serial->len, b_end);
  if (key) copy_field(mc->key, sizeof mc->key, b + key->start, key->len, b_end);
  const element_t *tail = key ? t92 : (t93 ? t93 : t92);
  if (tail) copy_field(mc->tail, sizeof mc->tail, b + tail->start, tail->len, b_end);
  if (mrp) copy_field(mc->mrp, sizeof mc->mrp, b + mrp->start, mrp->len, b_end);

  size_t o = 0;
  int ais = 0; /* counted here, stored once: the copies' stores might alias mc->ai_count */
  for (int k = 0; k < w->nel; k++) {
    const element_t *e = &w->el[k];
    if (!e->bare) {
      markcode_ai_t *a = &mc->ais[ais++];
      /* The AI and its NUL as the element's first eight bytes (one load,
      ** one store): the three past the NUL go into the value, written next. */
      _Static_assert(offsetof(markcode_ai_t, value) == sizeof a->ai && sizeof a->value >= 3 &&
                         offsetof(element_t, ai) == 0 && sizeof(element_t) >= 8,
                     "the AI's eight bytes");
      memcpy(a, e, 8);
      copy_field(a->value, sizeof a->value, b + e->start, e->len, b_end);
    }
  }
  mc->ai_count = ais;
  if (form == FORM_TILED) { /* the stretches between the separators the form puts in */
    size_t from = 0;
    for (int k = 0; k + 1 < w->nel; k++)
      if (w->el[k].fixed == 0) {
        size_t end = (size_t)w->el[k].start + w->el[k].len;
        append_over(mc->normalized, sizeof mc->normalized, &o, b + from, end - from, b_end);
        mc->normalized[o++] = MARKCODE_GS;
        from = end;
      }
    append_over(mc->normalized, sizeof mc->normalized, &o, b + from, w->n - from, b_end);
  } else if (form == FORM_FIELDS) {
    o = canonical_of_fields(mc->normalized, sizeof mc->normalized, w, b_end);
  } else { /* one copy of the whole, in blocks up to its NUL when both have room */
    size_t whole = (w->n + 16) & ~(size_t)15;
    if (whole <= sizeof mc->normalized && whole <= sizeof w->b)
      copy_blocks(mc->normalized, b, whole);
    else
      memcpy(mc->normalized, b, w->n);
    o = w->n;
  }
  mc->normalized[o] = '\0';
  mc->normalized_len = o;

  /* ki = 01 GTIN [21 serial], and tag 1163's value the same, copied from
  ** the buffer (not from the fields just written: a load over several
  ** fresh stores waits for them). Nearly every code has the serial's 21
  ** right after the GTIN: ki is then one stretch of the buffer, copied
  ** whole at a constant size (the bytes past its NUL are no part of it). */
  enum { KI_MOST = 2 + 14 + 2 + sizeof mc->serial }; /* 01 GTIN 21 serial and the NUL */
  enum { KI_COPY = 48 };                             /* KI_MOST rounded up to whole 16-byte moves */
  _Static_assert((size_t)KI_COPY >= (size_t)KI_MOST && sizeof mc->ki >= KI_COPY, "ki room");
  size_t kl = 16;
  const char *k0 = b + gtin->ai_at;
  if (serial && gtin->start == gtin->ai_at + 2 && serial->ai_at == gtin->start + 14 &&
      serial->start == serial->ai_at + 2 && serial->len < sizeof mc->serial &&
      (size_t)(b_end - k0) >= KI_COPY) {
    kl = 18u + serial->len;
    size_t whole = (kl + 16) & ~(size_t)15; /* kl and its NUL in whole blocks, at most 48 */
    copy_blocks(mc->ki, k0, whole);
    copy_blocks(mc->tag1163_value, k0, whole);
  } else {
    memcpy(mc->ki, "01", 2);
    memcpy(mc->ki + 2, b + gtin->start, 14);
    if (serial) {
      memcpy(mc->ki + kl, "21", 2);
      if (serial->len < sizeof mc->serial) /* GS1's 20 at most: a constant copy */
        memcpy(mc->ki + kl + 2, mc->serial, sizeof mc->serial - 1);
      else
        memcpy(mc->ki + kl + 2, b + serial->start, serial->len);
      kl += 2u + serial->len;
    }
    if (kl < KI_MOST)
      memcpy(mc->tag1163_value, mc->ki, KI_MOST);
    else
      memcpy(mc->tag1163_value, mc->ki, kl);
  }
  mc->ki[kl] = '\0';
  mc->tag1163_value[kl] = '\0';
  if (serial) {
    mc->tag1163 = 1305;
    if (key)
      mc->type2100 = t92->len == 88 ? 2 : 4; /* [open] FN may say 3 */
    else if (t93)
      mc->type2100 = 5;
    else
      mc->type2100 = 1; /* identification part only: a short code */
  } else {
    mc->tag1163 = 1304; /* GS1 code of a good that is not marked */
    mc->type2100 = 0;
  }
  /* [likely] 1162: "DM", GTIN as 48-bit integer, serial; tobacco adds MRP.
  ** The serial and the MRP go in from the buffer, each by a copy of its
  ** field's whole size over what follows it (tag1162 has room for both
  ** whole and their NULs). */
  _Static_assert(sizeof mc->tag1162 >= 8 + sizeof mc->serial + sizeof mc->mrp, "1162 room");
  size_t sl = serial ? copied_len(serial->len, sizeof mc->serial) : 0;
  size_t ml = mrp ? copied_len(mrp->len, sizeof mc->mrp) : 0;
  set_1162(mc, 0x444D, b + gtin->start, 14, "", 0);
  if (serial)
    copy_field((char *)mc->tag1162 + 8, sizeof mc->serial, b + serial->start, serial->len, b_end);
  if (mrp)
    copy_field((char *)mc->tag1162 + 8 + sl, sizeof mc->mrp, b + mrp->start, mrp->len, b_end);
  mc->tag1162_len = 8 + sl + ml;
  return MARKCODE_OK;
}

typedef enum fast_outcome {
  FAST_UNSURE = 0, /* the full path must decide                          */
  FAST_OK,         /* accepted, mc as the full path leaves it            */
  FAST_REFUSED,    /* gs1_finish() refused, as the full path's first reading does */
} fast_outcome_t;

static HOT_INLINE fast_outcome_t gs1_fast_check(markcode_t *mc, const work_t *w, const uint8_t *cls,
                                                unsigned all, buffer_form_t form);

/* Does the value v (len characters) of a field (not the GTIN) whose AI has
** the role id (not AI_OTHER) and the row def meet the AI's rules, as
** gs1_validate() reads them? cls: the class bits all its bytes have when
** known, else 0. A text field (X..N) by its class bits and bound, one of
** digits by role_digits[], the rest by its spec; false also whenever it is
** not sure. (Given the field's parts, not its element: the fast path asks
** while it writes the element, and reading back fields just stored waits
** for the stores.) */
static HOT_INLINE bool fast_value_ok(int id, const gs1_ai_def_t *def, const char *v, size_t len,
                                     unsigned cls)
{
  unsigned text_max = cls ? def->text_max : 0;
  size_t off;
  if (len == 0) return false;
  if (text_max) {
    if (!(cls & CC_CS82) || len > text_max) return false;
  } else if (role_digits[id].digits) {
    if (len != role_digits[id].digits || (!(cls & CC_DIGIT) && !all_digits(v, len)) ||
        (role_digits[id].date && !valid_date(v, false)))
      return false;
  } else if (spec_check(def->spec, v, len, &off) != SPEC_OK) {
    return false;
  }
  return id != AI_7003 || valid_date(v, true);
}

/* The crypto tail's checks (92 after 91) by its class bits, into *ts as
** tail_scan() would give them; false when not sure (not all base64, an
** '=' before the last two places). known: the fields by role; cls: the
** class bits of each field's value, by its index in w->el, or when NULL
** `all` of every field. */
static HOT_INLINE bool fast_tail_ok(const element_t *const known[AI_KNOWN], const uint8_t *cls,
                                    unsigned all, const work_t *w, tail_scan_t *ts)
{
  const element_t *t92 = known[AI_92];
  if (!known[AI_91] || !t92) return true;
  const char *v = w->b + t92->start;
  if (!((cls ? cls[t92 - w->el] : all) & CC_B64)) return false;
  if (t92->len > 2 && memchr(v, '=', t92->len - 2u)) return false;
  ts->bad = t92->len;
  ts->caps = (t92->len == 44 || t92->len == 88) && /* else refused for its length first */
             !has_both_cases(v, t92->len) && caps_damaged(v, t92->len);
  return true;
}

/* The fast checks over fields a layout restored: the class bits of each
** text field's value, those all the code's bytes have (run_all, from the
** fast pass; 0: unknown) when they say enough (set 82; base64 for the
** tail of 92), else gathered here from the field; the others are read by
** their spec. Bits fewer than the field's own only make it unsure. The
** fields tile w's buffer (a code of one run the layouts cut: FORM_TILED). */
static fast_outcome_t gs1_restored_check(markcode_t *mc, const work_t *w, uint8_t run_all)
{
  /* The bits of the whole code say all: they hold of every field. */
  if ((run_all & (CC_CS82 | CC_B64)) == (CC_CS82 | CC_B64))
    return gs1_fast_check(mc, w, NULL, run_all, FORM_TILED);
  uint8_t cls[MARKCODE_MAX_AIS];
  for (int k = 0; k < w->nel; k++) {
    const element_t *e = &w->el[k];
    cls[k] = 0;
    if (e->bare || !e->def || !e->def->text_max) continue;
    if ((run_all & CC_CS82) && (e->id != AI_92 || (run_all & CC_B64)))
      cls[k] = run_all;
    else
      cls[k] = run_summary((const unsigned char *)w->b, e->start, (size_t)e->start + e->len, 0).all;
  }
  return gs1_fast_check(mc, w, cls, 0, FORM_TILED);
}

/* Restore separators by the layouts and validate the result. w is never
** changed; on failure the fixes are as they were. */
static bool gs1_try_layouts(markcode_t *mc, const work_t *w)
{
  work_t restored;
  uint32_t fixes = mc->fixes;
  if (gs1_restore(mc, w, &restored, false) && gs1_validate(mc, &restored) == MARKCODE_OK)
    return true;
  mc->fixes = fixes;
  mc->layout = "";
  return false;
}

static bool gs1_shaped(const work_t *w);

static bool layouts_search_one_run(markcode_t *mc, work_t *w, end_state_t *st);

/* gs1_try_layouts() of a code of one run (no separator: the copy without
** separators is w itself) that starts with 01, for the quick path, when
** gs1_shaped(w) (asked here only when the fast checks do not accept: a
** layout's 01 at the start whose GTIN they accept is that shape): the
** fields go into w (which the full path cuts again if this fails), the
** layouts layout_may_end() rules out are not searched, and the result is
** checked by the fast checks first (the same outcome). False also when w
** is not of that shape (the full path then does not ask the layouts). */
static bool gs1_try_layouts_one_run(markcode_t *mc, work_t *w)
{
  uint32_t fixes = mc->fixes;
  once_filled(&slot_infos_once, slot_infos_fill, &slot_infos_filled);
  end_state_t st = {w->b, w->n, 0, 0};
  if (layouts_search_one_run(mc, w, &st)) {
    if (w->el[0].start == 2 &&
        gs1_restored_check(mc, w, w->nseg == 1 ? w->seg[0].all : 0) == FAST_OK)
      return true;
    if (gs1_shaped(w) && gs1_validate(mc, w) == MARKCODE_OK) return true;
  }
  mc->fixes = fixes;
  mc->layout = "";
  return false;
}

/* Does a separator of the cut end a field whose length GS1 leaves open?
** Only such a separator says where a field ends; one after a fixed-length
** field (the GTIN) says nothing. */
static bool separators_delimit(const work_t *w)
{
  for (int k = 0; k + 1 < w->nel; k++)
    if (w->el[k].fixed == 0) return true;
  return false;
}

/* The N of a value specification that is one "X..N" component (text of
** GS1's set 82, 1 to N characters: 21, 91-99, 10, 240), else 0. */
static unsigned spec_text_max(const char *spec)
{
  if (spec[0] != 'X' || spec[1] != '.' || spec[2] != '.') return 0;
  unsigned n = 0;
  const char *p = spec + 3;
  while (is_digit(*p)) n = n * 10 + (unsigned)(*p++ - '0');
  return *p == '\0' ? n : 0;
}

/*
** The fast path of a clean GS1 code whose separators delimit its fields
** (nearly every scan from a 2D scanner; w filled by fast_clean()): cut
** along the runs the fast pass recorded, check a field that ends its run
** by the run's class bits (the AIs and fixed fields before it in the run
** are digits, which every class holds), the rest by their AI's
** specification, then gs1_finish() as the full path does. It accepts only
** what the full path would accept at its first reading, with the same
** fields; it returns false whenever anything needs more (an error, whose
** position and the layouts' second chance are the full path's; an AI no
** marking code gives a role; a serial of a length no family uses, which
** the full path offers to the layouts), and the caller then runs the full
** path on the same w.
*/
static fast_outcome_t gs1_fast(markcode_t *mc, work_t *w)
{
  /* One run: its last field takes the run to the end, every field before
  ** it has a predefined length, so no separator delimits anything. */
  if (w->nseg < 2) return FAST_UNSURE;
  const char *b = w->b;
  /* Of the fields by role, only those gs1_finish() and fast_tail_ok() read
  ** are cleared (duplicates are told by `seen`): gcc clears a whole array
  ** of pointers with a `rep stos`, slower than the rest of the cut. */
  const element_t *known[AI_KNOWN];
  known[AI_21] = known[AI_91] = known[AI_92] = known[AI_93] = known[AI_8005] = NULL;
  uint8_t run_class[MARKCODE_MAX_AIS]; /* of the run an element ends, else 0 */
  /* Fields whose length GS1 leaves open, and fields of predefined length
  ** that end their run (a separator after them), the last field included. */
  int open = 0, fixed_at_end = 0;
  unsigned seen = 0; /* the roles met, as bits */
  w->nel = 0;
  size_t pos = 0;
  for (int r = 0; r < w->nseg;) {
    const segment_t *sg = &w->seg[r];
    const gs1_ai_def_t *def = NULL;
    int id;
    size_t alen = read_ai(w, pos, &def, &id);
    /* An AI no marking code gives a role, or one met twice: the full path. */
    if (alen == 0 || id == AI_OTHER || (seen & (1u << id))) return FAST_UNSURE;
    seen |= 1u << id;
    size_t start = pos + alen, vlen = def->fixed ? def->fixed : sg->end - start;
    if (start + vlen > sg->end || !add_element_id(w, w->b + pos, alen, id, def, pos, start, vlen))
      return FAST_UNSURE;
    known[id] = &w->el[w->nel - 1];
    pos = start + vlen;
    uint8_t cls = pos == sg->end ? sg->all : 0;
    run_class[w->nel - 1] = cls;
    open += def->fixed == 0;
    fixed_at_end += cls && def->fixed;
    if (w->nel == 1) {
      if (id != AI_01 || !gtin14_ok(b + start)) return FAST_UNSURE;
    } else if (!fast_value_ok(id, def, b + start, vlen, cls)) {
      return FAST_UNSURE;
    }
    if (pos == sg->end && ++r < w->nseg) pos = w->seg[r].start;
  }
  const element_t *last = &w->el[w->nel - 1];
  /* Does a separator end a field whose length GS1 leaves open (as
  ** separators_delimit() asks)? */
  if (open - (last->fixed == 0) == 0) return FAST_UNSURE;
  /* The buffer is the canonical form when no separator follows a field of
  ** predefined length (a variable field takes its run to the separator,
  ** and the fast pass refused doubled or trailing ones). */
  bool canonical = fixed_at_end - (last->fixed != 0) == 0;
  tail_scan_t ts = {0, false};
  if (!fast_tail_ok(known, run_class, 0, w, &ts)) return FAST_UNSURE;
  fast_outcome_t done =
      gs1_finish(mc, w, known, false, &ts, canonical ? FORM_CANONICAL : FORM_FIELDS) == MARKCODE_OK
          ? FAST_OK
          : FAST_REFUSED;
  /* A serial of a length no family uses: the full path asks the layouts. */
  if (done == FAST_OK && (mc->fixes & MARKCODE_FIX_SERIAL_UNUSUAL)) return FAST_UNSURE;
  return done;
}

/* The checks of gs1_validate() over w's fields, which a layout placed
** (each with a role and a row of the AI table), the class bits of all the
** bytes of field k's value being cls[k] when known (0: the value is read
** by its AI's spec), or `all` for every field when cls is NULL (the class
** bits of the whole code), then gs1_finish(). It
** accepts only what gs1_validate() would accept, with the same fields;
** whenever it is not sure (a bare field, one met twice, a spec not met) it
** says so, having changed nothing in mc; when gs1_finish() refuses, it
** refuses as gs1_validate() would. form: what w's buffer is. */
static HOT_INLINE fast_outcome_t gs1_fast_check(markcode_t *mc, const work_t *w, const uint8_t *cls,
                                                unsigned all, buffer_form_t form)
{
  const char *b = w->b;
  const element_t *known[AI_KNOWN]; /* those read: as in gs1_fast() */
  known[AI_21] = known[AI_91] = known[AI_92] = known[AI_93] = known[AI_8005] = NULL;
  const element_t *gtin = &w->el[0];
  if (w->nel == 0 || gtin->id != AI_01 || gtin->bare || gtin->len != 14 ||
      !gtin14_ok(b + gtin->start))
    return FAST_UNSURE;
  unsigned seen = 1u << AI_01; /* the GTIN, checked above (known[] holds no 01) */
  for (int k = 1; k < w->nel; k++) {
    const element_t *e = &w->el[k];
    /* A layout's field (the only kind asked here) has a role, a row and a
    ** value (the tables check holds the layouts to it): only bare or met
    ** twice is asked of it. */
    if (e->bare || (seen & (1u << e->id))) return FAST_UNSURE;
    seen |= 1u << e->id;
    known[e->id] = e;
    if (!fast_value_ok(e->id, e->def, b + e->start, e->len, cls ? cls[k] : all)) return FAST_UNSURE;
  }
  tail_scan_t ts = {0, false};
  if (!fast_tail_ok(known, cls, all, w, &ts)) return FAST_UNSURE;
  return gs1_finish(mc, w, known, false, &ts, form) == MARKCODE_OK ? FAST_OK : FAST_REFUSED;
}

/*
** A GS1 element string to a marking code. The separators decide, when they
** are there: a code whose every field is delimited is read by GS1's rules
** alone. Family knowledge (the layouts) decides only what separators cannot:
**   - a scan in which no separator ends a variable-length field is first
**     explained by the layouts (else "...21 5opFcmK 93 dGVz" would read as
**     a 13-character serial); if none fits, GS1's own reading stands (a
**     lone identification part);
**   - a code GS1 accepts but whose serial has a length no family uses may
**     have lost one separator inside it: a layout that explains it with
**     the separators that are there wins, else the code stands as read;
**   - a code GS1 refuses gets the layouts as a second chance, and keeps
**     its first error if they fail too.
*/
static markcode_err_t parse_gs1(markcode_t *mc, work_t *w, bool brackets)
{
  if (brackets) {
    markcode_err_t err = gs1_split_brackets(mc, w);
    return err == MARKCODE_OK ? gs1_validate(mc, w) : err;
  }
  uint32_t fixes0 = mc->fixes;
  bool layouts_tried = false;
  markcode_err_t err = gs1_split(mc, w);
  bool delimited = err == MARKCODE_OK && separators_delimit(w);
  if (err == MARKCODE_OK && !delimited) {
    if (gs1_try_layouts(mc, w)) return MARKCODE_OK;
    layouts_tried = true;
  }
  if (err == MARKCODE_OK) err = gs1_validate(mc, w);
  if (err == MARKCODE_OK) {
    if (!(mc->fixes & MARKCODE_FIX_SERIAL_UNUSUAL) || layouts_tried) return MARKCODE_OK;
    markcode_t as_read = *mc; /* the reading GS1's rules gave, kept if no layout does better */
    mc->fixes = fixes0;
    if (gs1_try_layouts(mc, w) && !(mc->fixes & MARKCODE_FIX_SERIAL_UNUSUAL)) return MARKCODE_OK;
    *mc = as_read;
    return MARKCODE_OK;
  }

  /* Errors a lost separator can cause get a second chance through the
  ** layouts; errors about the GTIN or letter case cannot be fixed by it. */
  switch (err) {
  case MARKCODE_ERR_GTIN_CHECK:
  case MARKCODE_ERR_GTIN_FORMAT:
  case MARKCODE_ERR_CAPS_LOCK:
  case MARKCODE_ERR_UNKNOWN_FORMAT:
    return err;
  default:
    break;
  }
  markcode_t first;
  memcpy(&first, mc, offsetof(markcode_t, gtin)); /* keep the first error */
  if (!layouts_tried) {
    mc->fixes = fixes0;
    if (gs1_try_layouts(mc, w)) return MARKCODE_OK;
  }
  memcpy(mc, &first, offsetof(markcode_t, gtin));
  mc->fixes &= ~(uint32_t)MARKCODE_FIX_NOTES;
  mc->layout = "";
  /* Without any separator the first cut swallowed everything into the
  ** serial: say what really happened. */
  const element_t *serial = NULL;
  for (int k = 0; k < w->nel; k++)
    if (w->el[k].id == AI_21) serial = &w->el[k];
  if (w->internal_gs == 0 && serial && serial->len > 20)
    return fail(mc, MARKCODE_ERR_GS_MISSING, at(w, serial->start), NULL);
  return err;
}

/* ---------------------------------------------------------------------- */
/* The other kinds                                                         */
/* ---------------------------------------------------------------------- */

static markcode_err_t parse_tobacco_pack(markcode_t *mc, work_t *w)
{
  const char *b = w->b;
  if (!markcode_gs1_check_ok(b, 14))
    return fail(mc, MARKCODE_ERR_GTIN_CHECK, at(w, 13), "%.14s", b);
  /* Set 82 after the GTIN: known when the fast pass summarised the code as
  ** one run of that set (w->seg[0]; the full clean records no runs). */
  if (!(w->nseg == 1 && (w->seg[0].all & CC_CS82)))
    for (size_t i = 14; i < 29; i++)
      if (!is_cs82(b[i])) return fail(mc, MARKCODE_ERR_SERIAL_CHARSET, at(w, i), "%c", b[i]);
  mc->kind = MARKCODE_KIND_TOBACCO_PACK;
  mc->layout = "tobacco_pack";
  copy_str(mc->gtin, sizeof mc->gtin, b, 14);
  copy_str(mc->serial, sizeof mc->serial, b + 14, 7);
  copy_str(mc->mrp, sizeof mc->mrp, b + 21, 4);
  copy_str(mc->tail, sizeof mc->tail, b + 25, 4);
  copy_str(mc->ki, sizeof mc->ki, b, 21);
  copy_str(mc->normalized, sizeof mc->normalized, b, 29);
  mc->normalized_len = 29;
  mc->type2100 = 5;   /* a 4-character check the FN cannot verify */
  mc->tag1163 = 1306; /* [open] the short marking code sub-tag */
  copy_str(mc->tag1163_value, sizeof mc->tag1163_value, b, 21);
  /* 1162 as vendor drivers write it for a pack: "DM", the GTIN, the
  ** serial and the 4 MRP characters, padded with two spaces to 13 bytes
  ** (shtrih-m/javapos_shtrih, SmFiscalPrinterTest.testbarcodeTo1162Value:
  ** 00000046198488X?io+qCABm8wAYa -> 44 4D 00 00 02 C0 EE D8 58 3F 69 6F
  ** 2B 71 43 41 42 6D 38 20 20; MIT). */
  char s1162[13];
  memcpy(s1162, b + 14, 11);
  memcpy(s1162 + 11, "  ", 2);
  set_1162(mc, 0x444D, mc->gtin, 14, s1162, sizeof s1162);
  return MARKCODE_OK;
}

/* RU-NNNNNN-AAANNNNNNN. [open] One sample has eight final digits; we take
** it as a fur tag but write it under 1300, since 1307 is exactly 20. */
static markcode_err_t parse_fur(markcode_t *mc, work_t *w)
{
  static const char shape[] = "RU-999999-AAA9999999";
  const char *b = w->b;
  if (w->n != 20 && w->n != 21)
    return fail(mc, MARKCODE_ERR_FUR_FORMAT, at(w, w->n < 20 ? w->n : 20), "%s", b);
  for (size_t i = 0; i < w->n; i++) {
    char want = i < 20 ? shape[i] : '9';
    bool ok = want == '9' ? is_digit(b[i]) : want == 'A' ? is_upper(b[i]) : b[i] == want;
    if (!ok) return fail(mc, MARKCODE_ERR_FUR_FORMAT, at(w, i), "%s", b);
  }
  mc->kind = MARKCODE_KIND_FUR;
  mc->layout = "fur";
  copy_str(mc->ki, sizeof mc->ki, b, w->n);
  copy_str(mc->normalized, sizeof mc->normalized, b, w->n);
  mc->normalized_len = w->n;
  mc->type2100 = 0;
  mc->tag1163 = w->n == 20 ? 1307 : 1300;
  copy_str(mc->tag1163_value, sizeof mc->tag1163_value, b, w->n);
  set_1162(mc, 0x5246, NULL, 0, b, w->n);
  return MARKCODE_OK;
}

/* EGAIS PDF417 codes: 68 (2.0) or 150 (3.0) characters of 0-9 A-Z.
** [open] 1308 takes characters 9..31 of an EGAIS-2 code, 1309 the first 14
** of an EGAIS-3 code, as vendor drivers document it. */
static markcode_err_t parse_egais(markcode_t *mc, work_t *w)
{
  const char *b = w->b;
  for (size_t i = 0; i < w->n; i++)
    if (!is_digit(b[i]) && !is_upper(b[i]))
      return fail(mc, MARKCODE_ERR_EGAIS_FORMAT, at(w, i), "%c", b[i]);
  bool v2 = w->n == 68;
  mc->kind = v2 ? MARKCODE_KIND_EGAIS2 : MARKCODE_KIND_EGAIS3;
  mc->layout = v2 ? "egais2" : "egais3";
  copy_str(mc->ki, sizeof mc->ki, b, w->n);
  copy_str(mc->normalized, sizeof mc->normalized, b, w->n);
  mc->normalized_len = w->n;
  mc->type2100 = 0;
  mc->tag1163 = v2 ? 1308 : 1309;
  const char *part = v2 ? b + 8 : b;
  size_t plen = v2 ? 23 : 14;
  copy_str(mc->tag1163_value, sizeof mc->tag1163_value, part, plen);
  set_1162(mc, v2 ? 0xC514 : 0xC51E, NULL, 0, part, plen);
  return MARKCODE_OK;
}

static markcode_err_t parse_plain(markcode_t *mc, work_t *w)
{
  static const struct {
    size_t len;
    markcode_kind_t kind;
    int sub;
    uint16_t t1162;
  } plain[] = {
      {13, MARKCODE_KIND_EAN13, 1302, 0x450D},
      {8, MARKCODE_KIND_EAN8, 1301, 0x4508},
      {14, MARKCODE_KIND_ITF14, 1303, 0x490E},
  };
  for (size_t k = 0; k < sizeof plain / sizeof plain[0]; k++) {
    if (plain[k].len != w->n) continue;
    if (!markcode_gs1_check_ok(w->b, w->n))
      return fail(mc, MARKCODE_ERR_CHECK_DIGIT, at(w, w->n - 1), "%s", w->b);
    mc->kind = plain[k].kind;
    mc->layout = kind_names[plain[k].kind];
    /* At most 14 digits, each string copied at a constant 16 (the buffers
    ** have room) and cut by its NUL: moves, not calls. */
    _Static_assert(sizeof mc->gtin >= 15 && sizeof w->b >= 16, "room for the constant copies");
    memcpy(mc->gtin, w->b, 14);
    mc->gtin[w->n] = '\0';
    memcpy(mc->ki, w->b, 16);
    mc->ki[w->n] = '\0';
    memcpy(mc->normalized, w->b, 16);
    mc->normalized[w->n] = '\0';
    mc->normalized_len = w->n;
    mc->type2100 = 0;
    mc->tag1163 = plain[k].sub;
    memcpy(mc->tag1163_value, w->b, 16);
    mc->tag1163_value[w->n] = '\0';
    set_1162(mc, plain[k].t1162, w->b, w->n, "", 0);
    return MARKCODE_OK;
  }
  return fail(mc, MARKCODE_ERR_UNKNOWN_FORMAT, 0, NULL);
}

/* ---------------------------------------------------------------------- */
/* Stage 2 and the entry point                                             */
/* ---------------------------------------------------------------------- */

/* Is the clean code a GS1 element string: 01 and 14 digits, but not a
** 29-character tobacco pack whose GTIN happens to start with 01? */
static bool gs1_shaped(const work_t *w)
{
  const char *b = w->b;
  size_t n = w->n;
  return n >= 16 && b[0] == '0' && b[1] == '1' && all_digits(b + 2, 14) &&
         !(n == 29 && w->internal_gs == 0 && !markcode_gs1_check_ok(b + 2, 14) &&
           markcode_gs1_check_ok(b, 14));
}

static markcode_err_t classify(markcode_t *mc, work_t *w)
{
  const char *b = w->b;
  size_t n = w->n;
  if (b[0] == '(' && n > 4 && is_digit(b[1]) && is_digit(b[2])) return parse_gs1(mc, w, true);
  if (gs1_shaped(w)) return parse_gs1(mc, w, false);
  if (n >= 3 && memcmp(b, "RU-", 3) == 0) {
    if (n > 21) return fail(mc, MARKCODE_ERR_TRAILING_GARBAGE, at(w, 20), "%.16s", b + 20);
    return parse_fur(mc, w);
  }
  if (all_digits(b, n) && (n == 8 || n == 13 || n == 14)) return parse_plain(mc, w);
  if (w->internal_gs == 0 && n >= 15 && n <= 29 && all_digits(b, 14)) {
    if (n == 29) return parse_tobacco_pack(mc, w);
    if (markcode_gs1_check_ok(b, 14))
      return fail(mc, MARKCODE_ERR_TOBACCO_TRUNCATED, at(w, n), "%zu", n);
  }
  if (w->internal_gs == 0 && n > 29 && n < 40 && all_digits(b, 14) &&
      markcode_gs1_check_ok(b, 14) && !(b[0] == '0' && b[1] == '1'))
    return fail(mc, MARKCODE_ERR_TRAILING_GARBAGE, at(w, 29), "%.16s", b + 29);
  if (w->internal_gs == 0 && (n == 68 || n == 150)) return parse_egais(mc, w);
  return fail(mc, MARKCODE_ERR_UNKNOWN_FORMAT, 0, NULL);
}

/* Empty every derived field: a refused code must not be used by mistake. */
static void clear_derived(markcode_t *mc)
{
  mc->kind = MARKCODE_KIND_NONE;
  mc->gtin[0] = mc->serial[0] = mc->key[0] = mc->tail[0] = mc->mrp[0] = '\0';
  mc->ki[0] = mc->normalized[0] = mc->tag1163_value[0] = '\0';
  mc->normalized_len = 0;
  mc->ai_count = 0;
  mc->type2100 = 0;
  mc->tag1163 = 0;
  mc->tag1162_len = 0;
}

/* The outcome as at the start of a parse, but for the fixes given. */
static void reset_outcome(markcode_t *mc, uint32_t fixes)
{
  mc->err = MARKCODE_OK;
  mc->err_at = -1;
  mc->err_detail[0] = '\0';
  mc->fixes = fixes;
  mc->layout = "";
  clear_derived(mc);
}

/* A refusal gs1_fast() met in gs1_finish(): is it the full path's outcome
** too? It is when the error is one no separator can cause (parse_gs1()
** returns it at once) or when no layout explains the code (its second
** chance fails: the same search, layouts ruled out unsearched); mc is then
** left as parse_gs1() leaves it. */
static bool gs1_refusal_final(markcode_t *mc, const work_t *w)
{
  switch (mc->err) {
  case MARKCODE_ERR_GTIN_CHECK:
  case MARKCODE_ERR_GTIN_FORMAT:
  case MARKCODE_ERR_CAPS_LOCK:
  case MARKCODE_ERR_UNKNOWN_FORMAT:
    return true;
  default:
    break;
  }
  work_t restored;
  if (gs1_restore(mc, w, &restored, true)) return false; /* a layout might: the full path says */
  mc->fixes &= ~(uint32_t)MARKCODE_FIX_NOTES;
  mc->layout = "";
  const element_t *serial = NULL;
  for (int k = 0; k < w->nel; k++)
    if (w->el[k].id == AI_21) serial = &w->el[k];
  if (w->internal_gs == 0 && serial && serial->len > 20)
    fail(mc, MARKCODE_ERR_GS_MISSING, at(w, serial->start), NULL);
  return true;
}

/* The fast GS1 path over a clean code that starts with 01 (its runs
** summarised): the fast cut and checks; a refusal the layouts cannot
** undo; a code of one run (no separator at all) handed to the layouts at
** once, as parse_gs1() does. Returns true with *err when it decided as the
** full path would, else false with mc's outcome reset for the full path. */
static bool parse_gs1_quick(markcode_t *mc, work_t *w, markcode_err_t *err)
{
  uint32_t fixes = mc->fixes;
  if (w->nseg != 1) { /* gs1_fast() takes no code of one run, and leaves mc as it was */
    fast_outcome_t done = gs1_fast(mc, w);
    if (done == FAST_OK || (done == FAST_REFUSED && gs1_refusal_final(mc, w))) {
      *err = done == FAST_OK ? MARKCODE_OK : mc->err;
      return true;
    }
    reset_outcome(mc, fixes);
    return false;
  }
  {
    if (gs1_try_layouts_one_run(mc, w)) {
      *err = MARKCODE_OK;
      return true;
    }
    reset_outcome(mc, fixes);
  }
  return false;
}

/* The whole parse; `fast`: the fast pass (else the full clean, its runs
** then summarised) and the fast GS1 path first (markcode_parse), else the
** full stages alone (markcode_parse_full). */
static markcode_err_t parse(markcode_t *mc, const char *input, size_t len, bool fast)
{
  /* Reset only the small fields; the big buffers are written as filled. */
  mc->aim[0] = '\0';
  reset_outcome(mc, 0);
  if (!input) {
    input = "";
    len = 0;
  }

  work_t w;
  markcode_err_t err = MARKCODE_OK;
  if (!fast || !fast_clean(mc, &w, (const unsigned char *)input, len))
    err = clean_input(mc, &w, input, len, fast);
  /* parse_gs1_quick() takes only a code whose 01 and GTIN gs1_shaped()
  ** would accept (a checked GTIN at the start), or asks gs1_shaped(), so
  ** only its first two bytes are looked at here. */
  if (err == MARKCODE_OK &&
      !(fast && w.b[0] == '0' && w.b[1] == '1' && parse_gs1_quick(mc, &w, &err)))
    err = classify(mc, &w);
  if (err == MARKCODE_OK) {
    /* A first attempt that failed before a layout rescued it leaves its
    ** error behind; the outcome is what counts. */
    mc->err = MARKCODE_OK;
    mc->err_at = -1;
    mc->err_detail[0] = '\0';
  } else {
    clear_derived(mc);
  }
  return err;
}

markcode_err_t markcode_parse(markcode_t *mc, const char *input, size_t len)
{
  return parse(mc, input, len, true);
}

markcode_err_t markcode_parse_full(markcode_t *mc, const char *input, size_t len)
{
  return parse(mc, input, len, false);
}

/* ---------------------------------------------------------------------- */
/* The tables checked against each other                                   */
/* ---------------------------------------------------------------------- */

/* The right-zero-padded number of an AI string ("91" = 9100). */
static unsigned ai_key(const char *ai)
{
  unsigned key = 0;
  size_t n = ai_len(ai);
  for (size_t i = 0; i < 4; i++) key = key * 10 + (i < n ? (unsigned)(ai[i] - '0') : 0);
  return key;
}

/* The sum of the fixed component lengths of a spec, or 0 if any component
** is variable or optional. */
static size_t spec_fixed_total(const char *spec)
{
  spec_part_t part;
  size_t total = 0;
  while (spec_next(&spec, &part)) {
    if (part.optional || part.min != part.max) return 0;
    total += part.max;
  }
  return total;
}

static bool message_templates_ok(void);

/* Does role_digits[] say of every AI with a role what its spec says: all
** components digits of fixed length, no check digit, none optional, their
** lengths summing to `digits`, the first one alone a date of six when
** `date`; and 0 for the others (text of one X..N component, or the GTIN)? */
static bool role_digits_ok(void)
{
  for (int r = 0; r < AI_KNOWN; r++) {
    const gs1_ai_def_t *d = gs1_ai_find(ai_roles[r], ai_len(ai_roles[r]));
    if (d == NULL) return false;
    if (role_digits[r].digits == 0) {
      if (r != AI_01 && d->text_max == 0) return false;
      continue;
    }
    spec_part_t part;
    const char *spec = d->spec;
    unsigned total = 0;
    bool first = true;
    while (spec_next(&spec, &part)) {
      if (part.type != 'N' || part.min != part.max || part.optional || part.check_digit ||
          part.date != (first && role_digits[r].date) || (part.date && part.max != 6))
        return false;
      total += part.max;
      first = false;
    }
    if (total != role_digits[r].digits) return false;
  }
  return true;
}

/* Does detail_format() write what vsnprintf writes (or decline)? */
static bool detail_same(const char *fmt, ...)
{
  char mine[sizeof((markcode_t *)0)->err_detail], libc[sizeof mine];
  va_list ap;
  va_start(ap, fmt);
  bool done = detail_format(mine, sizeof mine, fmt, ap);
  va_end(ap);
  va_start(ap, fmt);
  vsnprintf(libc, sizeof libc, fmt, ap);
  va_end(ap);
  return !done || strcmp(mine, libc) == 0;
}

/* Does fail_count() write what snprintf writes of "%s%u" (its prefix's
** length as strlen says)? */
static bool count_same(int prefix, unsigned count)
{
  markcode_t mc;
  char want[sizeof mc.err_detail];
  snprintf(want, sizeof want, "%s%u", count_prefixes[prefix], count);
  fail_count(&mc, MARKCODE_ERR_TAIL_LENGTH, 0, prefix, count);
  return strlen(count_prefixes[prefix]) == count_prefix_len[prefix] &&
         strcmp(want, mc.err_detail) == 0;
}

/* fail()'s conversions, each as it is used, against vsnprintf: cut at the
** buffer, precisions, the '→' of a UTF-8 literal; fail_count()'s details
** against snprintf, a prefix that fills the buffer included. */
static bool detail_format_ok(void)
{
  for (int p = 0; p < COUNT_PREFIX__COUNT; p++)
    if (!count_same(p, 0) || !count_same(p, 13) || !count_same(p, 65535) ||
        !count_same(p, 4294967295u))
      return false;
  const char *long_text =
      "0104600439931256215Z7(DdTeBEIIU93mfhf0104600439931256215Z7(DdTeBEIIU93mfhf";
  return detail_same("%s", "91") && detail_same("%s", long_text) && detail_same("%s", "") &&
         detail_same("%.*s", 5, long_text) && detail_same("%.*s", 0, long_text) &&
         detail_same("%.*s", 70, long_text) && detail_same("%.12s", long_text) &&
         detail_same("%.14s", "0104") && detail_same("%.16s", long_text) &&
         detail_same("%c", 'x') && detail_same("%u", 0u) && detail_same("%u", 65535u) &&
         detail_same("%zu", (size_t)29) && detail_same("%zu", (size_t)-1) &&
         detail_same("92 → %u", 13u) && detail_same("93 → %u", 0u) && detail_same("92 → 0") &&
         detail_same("0") && detail_same("8005") && detail_same("0x%02X", 0xE8u) &&
         detail_same("%s%s", long_text, long_text);
}

int markcode_tables_check(void)
{
  size_t n = sizeof gs1_ais / sizeof gs1_ais[0];
  for (size_t i = 0; i < n; i++) {
    const gs1_ai_def_t *d = &gs1_ais[i];
    size_t len = ai_len(d->first);
    if (len < 2 || len > 4 || d->len != len || !all_digits(d->first, len)) return (int)i + 1;
    if (d->last && (ai_len(d->last) != len || !all_digits(d->last, len))) return (int)i + 1;
    if (d->key != ai_key(d->first) || d->key_last != ai_key(d->last ? d->last : d->first) ||
        d->key_last < d->key)
      return (int)i + 1;
    if (i > 0 && d->key <= gs1_ais[i - 1].key_last) return (int)i + 1; /* sorted, disjoint */
    if (ai_prefixes[(d->first[0] - '0') * 10 + (d->first[1] - '0')].digits != len)
      return (int)i + 1;
    if (d->fixed != (d->predefined ? spec_fixed_total(d->spec) : 0)) return (int)i + 1;
    if (d->text_max != spec_text_max(d->spec)) return (int)i + 1;
    if (gs1_ai_find(d->first, len) != d || (d->last && gs1_ai_find(d->last, len) != d))
      return (int)i + 1;
  }
  /* Every layout's AI is in the table and has a role (gs1_fast_check()
  ** asks neither of a layout's field). */
  for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++)
    for (int k = 0; k < layouts[l].nslots; k++)
      if (gs1_ai_find(layouts[l].slots[k].ai, ai_len(layouts[l].slots[k].ai)) == NULL ||
          ai_id(layouts[l].slots[k].ai) == AI_OTHER)
        return -(int)l - 1;
  /* The index and the role switch against the plain searches, for every
  ** AI there can be: every string of 2, 3 and 4 digits (a padded number
  ** names one AI, not one string: "9100" is no AI, "91" is). */
  for (size_t len = 2; len <= 4; len++)
    for (int v = 0; v < (len == 2 ? 100 : len == 3 ? 1000 : 10000); v++) {
      char ai[12]; /* room for any int: a Debug build cannot see v < 10 000 */
      snprintf(ai, sizeof ai, "%0*d", (int)len, v);
      if (gs1_ai_find(ai, len) != gs1_ai_search(ai, len)) return MARKCODE_TABLES_BAD_INDEX;
      /* read_ai() takes an AI of two digits as its prefix's first row. */
      if (len == 2 && ai_prefixes[v].digits == 2 &&
          &gs1_ais[ai_prefixes[v].first] != gs1_ai_search(ai, len))
        return MARKCODE_TABLES_BAD_INDEX;
      if (gs1_ai_search(ai, len) == NULL) continue; /* roles are asked of AIs only */
      int role = AI_OTHER;
      for (int r = 0; r < AI_KNOWN; r++)
        if (strcmp(ai_roles[r], ai) == 0) role = r;
      if (ai_id(ai) != role) return MARKCODE_TABLES_BAD_ROLE;
    }
  if (!role_digits_ok()) return MARKCODE_TABLES_BAD_ROLE;
  if (!message_templates_ok() || !detail_format_ok()) return MARKCODE_TABLES_BAD_MESSAGE;
  /* The quick Russian decode copies digits and Latin letters as they are. */
  once_filled(&ru_table_once, ru_table_fill, &ru_table_filled);
  for (int c = 0; c < 0x80; c++)
    if ((is_digit((char)c) || is_upper((char)c) || is_lower((char)c)) && ru_quick_ascii[c] != c)
      return MARKCODE_TABLES_BAD_KEYBOARD;
  /* The layouts' end checks fit their table (else the layouts they miss
  ** are never ruled out: right, but slower), and the layouts judged by
  ** them are those without a bare slot. */
  once_filled(&slot_infos_once, slot_infos_fill, &slot_infos_filled);
  if (end_check_count >= END_CHECKS_MAX) return MARKCODE_TABLES_BAD_LAYOUT_CHECKS;
  for (size_t l = 0; l < LAYOUT_COUNT; l++) {
    bool bare = false;
    for (int k = 0; k < layouts[l].nslots; k++) bare |= layouts[l].slots[k].bare_digits_ok;
    if (!bare && (start_always & (1u << l))) return MARKCODE_TABLES_BAD_LAYOUT_CHECKS;
    if (bare != !!(bare_layouts & (1u << l)) ||
        (bare && (bare_min[l] == 0 || bare_min[l] > BARE_MIN_MOST)))
      return MARKCODE_TABLES_BAD_LAYOUT_CHECKS;
  }
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Names and messages                                                      */
/* ---------------------------------------------------------------------- */

const char *markcode_err_code(markcode_err_t err)
{
  return (unsigned)err < MARKCODE_ERR__COUNT ? err_table[err].code : "unknown";
}

const char *markcode_kind_name(markcode_kind_t kind)
{
  return (unsigned)kind < MARKCODE_KIND__COUNT ? kind_names[kind] : "";
}

const char *markcode_fix_name(markcode_fix_t fix)
{
  for (unsigned k = 0; k < MARKCODE_FIX__COUNT; k++)
    if ((unsigned)fix == 1u << k) return fix_names[k];
  return NULL;
}

/* Append n bytes of s at *o in buf (size bytes), as snprintf would: what
** does not fit is dropped, room is kept for the NUL. */
static void message_put(char *buf, size_t size, size_t *o, const char *s, size_t n)
{
  size_t room = *o < size - 1 ? size - 1 - *o : 0;
  memcpy(buf + *o, s, n < room ? n : room);
  *o += n < room ? n : room;
}

const char *markcode_message(const markcode_t *mc, markcode_lang_t lang, char *buf, size_t size)
{
  if (!buf || size == 0) return buf;
  markcode_err_t err = mc ? mc->err : MARKCODE_ERR_EMPTY;
  if ((unsigned)err >= MARKCODE_ERR__COUNT) err = MARKCODE_ERR_UNKNOWN_FORMAT;
  const char *tmpl = lang == MARKCODE_LANG_EN ? err_table[err].en : err_table[err].ru;
  const char *detail = mc ? mc->err_detail : "";
  /* A template holds at most one "%s" and no other '%' (the table check
  ** holds it to that), so the detail goes in by hand: what snprintf would
  ** write, without its cost (a bulk parse writes a message per refusal). */
  const char *hole = strstr(tmpl, "%s");
  size_t o = 0;
  if (hole) {
    message_put(buf, size, &o, tmpl, (size_t)(hole - tmpl));
    message_put(buf, size, &o, detail, strlen(detail));
    tmpl = hole + 2;
  }
  message_put(buf, size, &o, tmpl, strlen(tmpl));
  buf[o] = '\0';
  return buf;
}

/* Does every message template hold at most one "%s" and no other '%'? */
static bool message_templates_ok(void)
{
  for (int e = 0; e < MARKCODE_ERR__COUNT; e++)
    for (int l = 0; l < 2; l++) {
      const char *t = l ? err_table[e].en : err_table[e].ru, *pct = strchr(t, '%');
      if (pct && (pct[1] != 's' || strchr(pct + 2, '%'))) return false;
    }
  return true;
}

int markcode_same(const markcode_t *a, const markcode_t *b)
{
  if (a->err != b->err || a->err_at != b->err_at || strcmp(a->err_detail, b->err_detail) ||
      a->kind != b->kind || a->fixes != b->fixes || strcmp(a->aim, b->aim) ||
      strcmp(a->layout, b->layout) || strcmp(a->gtin, b->gtin) || strcmp(a->serial, b->serial) ||
      strcmp(a->key, b->key) || strcmp(a->tail, b->tail) || strcmp(a->mrp, b->mrp) ||
      strcmp(a->ki, b->ki) || a->normalized_len != b->normalized_len ||
      memcmp(a->normalized, b->normalized, a->normalized_len) || a->ai_count != b->ai_count ||
      a->type2100 != b->type2100 || a->tag1163 != b->tag1163 ||
      strcmp(a->tag1163_value, b->tag1163_value) || a->tag1162_len != b->tag1162_len ||
      memcmp(a->tag1162, b->tag1162, a->tag1162_len))
    return 0;
  for (int k = 0; k < a->ai_count; k++)
    if (strcmp(a->ais[k].ai, b->ais[k].ai) || strcmp(a->ais[k].value, b->ais[k].value)) return 0;
  return 1;
}

const char *markcode_ai_value(const markcode_t *mc, const char *ai)
{
  for (int k = 0; k < mc->ai_count; k++)
    if (strcmp(mc->ais[k].ai, ai) == 0) return mc->ais[k].value;
  return NULL;
}

/* first_total[l] and first_fields[l] (see there), from the slots' infos. */
OUT_OF_THE_WAY static void first_fields_fill(size_t l)
{
  restore_t r;
  r.info = slot_infos[l];
  size_t pos = 0;
  for (size_t k = 0; k < required_count[l]; k++) {
    int slot = required_slots[l][k];
    const slot_t *sl = &layouts[l].slots[slot];
    if (sl->bare_digits_ok || sl->lens[0] == 0) return;
    size_t alen = slot_infos[l][slot].alen;
    element_of_slot(&r, &first_fields[l][k], slot, false, pos, pos + alen, sl->lens[0]);
    pos += alen + sl->lens[0];
  }
  first_total[l] = (uint16_t)pos;
}

/* The first layout whose first path made once (first_total[],
** first_fields[]) s[0..n) fits (no separator was in it), or LAYOUT_COUNT:
** there that path is what restore_first_path() places. */
static inline size_t first_fields_layout(const char *s, size_t n)
{
  size_t l = 0;
  for (; l < LAYOUT_COUNT; l++) {
    if (n != first_total[l] || n == 0) continue;
    const element_t *f = first_fields[l];
    size_t k = 0;
    while (k < required_count[l] && ai_at(s + f[k].ai_at, f[k].ai, f[k].alen)) k++;
    if (k == required_count[l]) break;
  }
  return l;
}

/* layouts_search() of w's code of one run (st: its end), for the quick
** path, the same answer sooner: the first layout whose first path made
** once the code fits is the search's answer unless a layout before it
** explains the code, so only those are searched (a wedge's footwear code:
** none, it fits the first). That layout's fields are then taken as
** layouts_search() takes a first path: no separator was there, so every
** field of open length but the last needed one restored. */
OUT_OF_THE_WAY static bool layouts_search_one_run(markcode_t *mc, work_t *w, end_state_t *st)
{
  size_t first = first_fields_layout(w->b, w->n);
  if (first > 0 &&
      layouts_search(mc, w->b, w->n, NULL, 0, 0, (1u << first) - 1, st, w->el, &w->nel))
    return true;
  if (first == LAYOUT_COUNT) return false;
  memcpy(w->el, first_fields[first], required_count[first] * sizeof w->el[0]);
  w->nel = required_count[first];
  mc->layout = layouts[first].name;
  if (required_open[first] > 0) mc->fixes |= MARKCODE_FIX_GS_RESTORED;
  return true;
}
