/*
** test_markcode.c: the marking-code engine, one behaviour per test.
**
** Codes are written with GS as the macro GS ("\x1d" followed directly by a
** hex digit would swallow it in a C string, so literals are split there).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "scanner/layout.h"
#include "scanner/markcode.h"

#define GS "\x1d"

/* Real codes from tests/data/marking_codes.jsonl, one per layout. */
#define FOOTWEAR44                                                                                 \
  "010461008041021521e,s;r!t%BroGd" GS "91EE11" GS "929GkndNAXaeC4gMRT4LHKh/"                      \
  "EkGRn4+gUPdrWMpbtkejw="
#define LIGHT88                                                                                    \
  "010463011132146421V!VeVCzqYrNi_" GS "910098" GS                                                 \
  "92rKl1F4poDIm7lNxYpopchwRkhKfjPSZtyGRFb17Zk2x1MxujYHTQxiZTBjn7UV6AJ+qcTKgTbA1SbHRPH5fkcw=="
#define DAIRY        "0103041094787443215Qbag!" GS "93Zjqw"
#define DAIRY_WEIGHT "0103041094787443215Qbag!" GS "93Zjqw" GS "3103000353"
#define WATER        "0104607038046435215Z7(DdTeBEIIU" GS "93mfhf"
#define PHOTO20                                                                                    \
  "010460780959145421m9tNPzJTWzuc9exC5/M+" GS "91EE07" GS                                          \
  "92vdIdf340vdN01ot+7YRyUb0XRbSQEAe4C4wjaAysm4M="
#define BLOCK_OLD                                                                                  \
  "010460043993125621JgXJ5.T" GS "8005112000" GS "930001" GS "923zbrLA==" GS "24014276281"
#define PACK "04606203084623+A13gPh-4Hi7uGl"

static markcode_t mc;

static markcode_err_t parse(const char *s) { return markcode_parse(&mc, s, strlen(s)); }

static void assert_parses(const char *s)
{
  markcode_err_t err = parse(s);
  if (err != MARKCODE_OK) {
    char msg[300];
    print_error("'%s' refused: %s (%s) at %d\n", s, markcode_err_code(err),
                markcode_message(&mc, MARKCODE_LANG_EN, msg, sizeof msg), mc.err_at);
  }
  assert_int_equal(err, MARKCODE_OK);
}

static void assert_refused(const char *s, markcode_err_t want, int at)
{
  markcode_err_t err = parse(s);
  if (err != want)
    print_error("'%s': got %s, want %s\n", s, markcode_err_code(err), markcode_err_code(want));
  assert_int_equal(err, want);
  assert_int_equal(mc.err_at, at);
  assert_int_equal(mc.kind, MARKCODE_KIND_NONE);
  assert_string_equal(mc.normalized, "");
}

/* ---- kinds ------------------------------------------------------------ */

static void gs1_with_44_char_tail(void **state)
{
  (void)state;
  assert_parses(FOOTWEAR44);
  assert_int_equal(mc.kind, MARKCODE_KIND_GS1);
  assert_string_equal(mc.gtin, "04610080410215");
  assert_string_equal(mc.serial, "e,s;r!t%BroGd");
  assert_string_equal(mc.key, "EE11");
  assert_string_equal(mc.tail, "9GkndNAXaeC4gMRT4LHKh/EkGRn4+gUPdrWMpbtkejw=");
  assert_string_equal(mc.ki, "010461008041021521e,s;r!t%BroGd");
  assert_string_equal(mc.normalized, FOOTWEAR44);
  assert_int_equal(mc.type2100, 4);
  assert_int_equal(mc.tag1163, 1305);
  assert_string_equal(mc.tag1163_value, mc.ki);
  assert_string_equal(mc.layout, "crypto_tail");
  assert_int_equal(mc.fixes, 0);
  assert_int_equal(mc.ai_count, 4);
  assert_string_equal(markcode_ai_value(&mc, "91"), "EE11");
  assert_null(markcode_ai_value(&mc, "93"));
}

static void gs1_with_88_char_tail_is_type_2(void **state)
{
  (void)state;
  assert_parses(LIGHT88);
  assert_int_equal(mc.type2100, 2);
  assert_int_equal(strlen(mc.tail), 88);
}

static void twenty_char_serial(void **state)
{
  (void)state;
  assert_parses(PHOTO20);
  assert_string_equal(mc.serial, "m9tNPzJTWzuc9exC5/M+");
  assert_int_equal(strlen(mc.ki), 38); /* the most 1163/1305 takes */
}

static void dairy_water_and_weight(void **state)
{
  (void)state;
  assert_parses(DAIRY);
  assert_string_equal(mc.layout, "dairy");
  assert_int_equal(mc.type2100, 5);
  assert_string_equal(mc.tail, "Zjqw");
  assert_parses(DAIRY_WEIGHT);
  assert_string_equal(markcode_ai_value(&mc, "3103"), "000353");
  assert_string_equal(mc.normalized, DAIRY_WEIGHT);
  assert_parses(WATER);
  assert_string_equal(mc.layout, "short_tail");
}

static void expiry_ais(void **state)
{
  (void)state;
  assert_parses("0103041094787443215Qbag!" GS "93Zjqw" GS "17251231");
  assert_string_equal(markcode_ai_value(&mc, "17"), "251231");
  assert_parses("0103041094787443215Qbag!" GS "93Zjqw" GS "70032512312359");
  assert_string_equal(markcode_ai_value(&mc, "7003"), "2512312359");
  /* 17 is predefined-length: no separator after it in the canonical form */
  assert_parses("010464007801637221AgqLybqxM9MbR" GS "17261130"
                "91FFD0" GS "92dGVzdL31KAYL0YT6592MjmW7a2HkF3IY+muf2pVSKdQ=");
  assert_string_equal(mc.normalized, "010464007801637221AgqLybqxM9MbR" GS "1726113091FFD0" GS
                                     "92dGVzdL31KAYL0YT6592MjmW7a2HkF3IY+muf2pVSKdQ=");
}

static void tobacco_block_old_layout(void **state)
{
  (void)state;
  assert_parses(BLOCK_OLD);
  assert_string_equal(mc.serial, "JgXJ5.T");
  assert_string_equal(mc.mrp, "112000");
  assert_string_equal(mc.tail, "0001");
  assert_string_equal(markcode_ai_value(&mc, "240"), "14276281");
  assert_string_equal(mc.layout, "tobacco_block_old");
}

static void tobacco_block_new_layout(void **state)
{
  (void)state;
  assert_parses("010460043993125621JgXJ5.T" GS "8005112000" GS "93abcd");
  assert_string_equal(mc.layout, "tobacco_block");
  assert_string_equal(mc.mrp, "112000");
  /* 1162: "DM", GTIN 04600439931256 as 48-bit big-endian, serial + MRP */
  static const uint8_t want[] = {0x44, 0x4D, 0x04, 0x2F, 0x1F, 0x96, 0x81, 0x78, 'J', 'g', 'X',
                                 'J',  '5',  '.',  'T',  '1',  '1',  '2',  '0',  '0', '0'};
  assert_int_equal(mc.tag1162_len, sizeof want);
  assert_memory_equal(mc.tag1162, want, sizeof want);
}

static void tobacco_pack(void **state)
{
  (void)state;
  assert_parses(PACK);
  assert_int_equal(mc.kind, MARKCODE_KIND_TOBACCO_PACK);
  assert_string_equal(mc.gtin, "04606203084623");
  assert_string_equal(mc.serial, "+A13gPh");
  assert_string_equal(mc.mrp, "-4Hi");
  assert_string_equal(mc.tail, "7uGl");
  assert_string_equal(mc.ki, "04606203084623+A13gPh");
  assert_int_equal(mc.type2100, 5);
  assert_int_equal(mc.tag1163, 1306);
}

static void fur_tag(void **state)
{
  (void)state;
  assert_parses("RU-430302-AAA4050108");
  assert_int_equal(mc.kind, MARKCODE_KIND_FUR);
  assert_int_equal(mc.tag1163, 1307);
  assert_int_equal(mc.tag1162[0], 0x52);
  assert_int_equal(mc.tag1162[1], 0x46);
  assert_memory_equal(mc.tag1162 + 2, "RU-430302-AAA4050108", 20);
  assert_refused("RU-430302-AA14050108", MARKCODE_ERR_FUR_FORMAT, 12);
  assert_refused("RU-43030-AAA4050108", MARKCODE_ERR_FUR_FORMAT, 19);
}

static void egais_codes(void **state)
{
  (void)state;
  char e2[69], e3[151];
  for (int i = 0; i < 68; i++) e2[i] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(i * 7) % 36];
  e2[68] = '\0';
  for (int i = 0; i < 150; i++) e3[i] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(i * 11) % 36];
  e3[150] = '\0';
  assert_parses(e2);
  assert_int_equal(mc.kind, MARKCODE_KIND_EGAIS2);
  assert_int_equal(mc.tag1163, 1308);
  assert_int_equal(strlen(mc.tag1163_value), 23);
  assert_memory_equal(mc.tag1163_value, e2 + 8, 23);
  assert_int_equal(mc.tag1162[0], 0xC5);
  assert_int_equal(mc.tag1162[1], 0x14);
  assert_parses(e3);
  assert_int_equal(mc.kind, MARKCODE_KIND_EGAIS3);
  assert_int_equal(mc.tag1163, 1309);
  assert_memory_equal(mc.tag1163_value, e3, 14);
  e2[30] = 'a';
  assert_refused(e2, MARKCODE_ERR_EGAIS_FORMAT, 30);
}

static void plain_barcodes(void **state)
{
  (void)state;
  assert_parses("4607038046435");
  assert_int_equal(mc.kind, MARKCODE_KIND_EAN13);
  assert_int_equal(mc.tag1163, 1302);
  static const uint8_t ean13[] = {0x45, 0x0D, 0x04, 0x30, 0xA8, 0xDD, 0xC0, 0xE3};
  assert_int_equal(mc.tag1162_len, sizeof ean13);
  assert_memory_equal(mc.tag1162, ean13, sizeof ean13);
  assert_parses("46198488");
  assert_int_equal(mc.kind, MARKCODE_KIND_EAN8);
  assert_int_equal(mc.tag1163, 1301);
  assert_parses("14607038046432");
  assert_int_equal(mc.kind, MARKCODE_KIND_ITF14);
  assert_int_equal(mc.tag1163, 1303);
  assert_refused("4607038046436", MARKCODE_ERR_CHECK_DIGIT, 12);
}

static void gs1_without_serial_is_an_unmarked_good(void **state)
{
  (void)state;
  assert_parses("0104607038046435"
                "10ABC123");
  assert_int_equal(mc.tag1163, 1304);
  assert_int_equal(mc.type2100, 0);
  assert_string_equal(mc.layout, "gs1_unmarked");
  assert_string_equal(markcode_ai_value(&mc, "10"), "ABC123");
}

static void unknown_well_formed_ai_is_kept(void **state)
{
  (void)state;
  assert_parses(DAIRY GS "11250101"
                         "99internal");
  assert_string_equal(markcode_ai_value(&mc, "11"), "250101");
  assert_string_equal(markcode_ai_value(&mc, "99"), "internal");
  assert_string_equal(mc.normalized, DAIRY GS "1125010199internal");
}

/* ---- normalisation ---------------------------------------------------- */

static void assert_fixed_to(const char *in, const char *canonical, uint32_t fix)
{
  assert_parses(in);
  assert_string_equal(mc.normalized, canonical);
  if (!(mc.fixes & fix))
    print_error("'%s': fix %s not recorded\n", in, markcode_fix_name((markcode_fix_t)fix));
  assert_true(mc.fixes & fix);
}

static void aim_prefixes(void **state)
{
  (void)state;
  const char *aims[] = {"]d2", "]d1", "]Q3", "]C1"};
  for (size_t i = 0; i < 4; i++) {
    char in[200];
    snprintf(in, sizeof in, "%s%s", aims[i], FOOTWEAR44);
    assert_fixed_to(in, FOOTWEAR44, MARKCODE_FIX_AIM_PREFIX);
    assert_string_equal(mc.aim, aims[i]);
  }
  assert_parses("]E04607038046435");
  assert_int_equal(mc.kind, MARKCODE_KIND_EAN13);
}

static void gs_spelled_as_text(void **state)
{
  (void)state;
  const char *spellings[] = {"{FNC1}", "<GS>", "<FNC1>", "&#x1D;", "&#x1d;", "\\u001d", "\\x1d"};
  for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
    char in[200];
    snprintf(in, sizeof in, "0103041094787443215Qbag!%s93Zjqw%s3103000353", spellings[i],
             spellings[i]);
    assert_fixed_to(in, DAIRY_WEIGHT, MARKCODE_FIX_GS_TEXT);
  }
  assert_fixed_to("{FNC1}" FOOTWEAR44, FOOTWEAR44, MARKCODE_FIX_GS_TEXT);
}

static void gs_as_arrow_e8_and_space(void **state)
{
  (void)state;
  assert_fixed_to("0103041094787443215Qbag!\xE2\x86\x94"
                  "93Zjqw",
                  DAIRY, MARKCODE_FIX_GS_ARROW);
  assert_fixed_to("\xE8"
                  "0103041094787443215Qbag!\xE8"
                  "93Zjqw",
                  DAIRY, MARKCODE_FIX_GS_E8);
  assert_fixed_to("0103041094787443215Qbag! 93Zjqw", DAIRY, MARKCODE_FIX_GS_SPACE);
}

static void leading_trailing_gs_and_whitespace(void **state)
{
  (void)state;
  assert_fixed_to(GS GS DAIRY, DAIRY, MARKCODE_FIX_GS_LEADING);
  assert_fixed_to(DAIRY GS, DAIRY, MARKCODE_FIX_GS_TRAILING);
  assert_fixed_to("  " DAIRY "\r\n", DAIRY, MARKCODE_FIX_WHITESPACE);
}

static void bracketed_form(void **state)
{
  (void)state;
  assert_fixed_to(
      "(01)04610080410215(21)e,s;r!t%BroGd(91)EE11(92)9GkndNAXaeC4gMRT4LHKh/EkGRn4+gUPdrWMpbtkejw=",
      FOOTWEAR44, MARKCODE_FIX_BRACKETS);
  /* a serial with brackets of its own */
  assert_fixed_to("(01)04607038046435(21)5Z7(DdTeBEIIU(93)mfhf", WATER, MARKCODE_FIX_BRACKETS);
}

/* Every separator removed: the layouts must put them back, also when the
** serial or the tail contains "91", "92" or "93". */
static void strip_gs(const char *in, char *out)
{
  for (; *in; in++)
    if (*in != '\x1d') *out++ = *in;
  *out = '\0';
}

static void lost_gs_restored_by_layout(void **state)
{
  (void)state;
  const char *codes[] = {
      FOOTWEAR44,
      LIGHT88,
      PHOTO20,
      DAIRY,
      DAIRY_WEIGHT,
      WATER,
      "010460043993125621JgXJ5.T" GS "8005112000" GS "93abcd",
      "010460043993125621JgXJ5.T" GS "8005112000" GS "93abcd" GS "24014276281",
      /* serials and tails that contain AI-like digits */
      "0104610080410215219193929391ABC" GS "91EE11" GS
      "929GkndNAXaeC4gMRT4LHKh/EkGRn4+gUPdrWMpbtke91=",
      "01046100804102152193ab92cd91efg" GS "9193EE" GS
      "929391dNAXaeC4gMRT4LHKh/EkGRn4+gUPdrWMpbtkejw=",
      "010304109478744321939192" GS "939193",
      "0103041094787443219193929193913" GS "939291",
  };
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    char in[300];
    strip_gs(codes[i], in);
    assert_fixed_to(in, codes[i], MARKCODE_FIX_GS_RESTORED);
  }
  /* One separator missing, others present */
  assert_fixed_to("010461008041021521e,s;r!t%BroGd91EE11" GS
                  "929GkndNAXaeC4gMRT4LHKh/EkGRn4+gUPdrWMpbtkejw=",
                  FOOTWEAR44, MARKCODE_FIX_GS_RESTORED);
  /* Nothing restored when nothing was missing */
  assert_parses(FOOTWEAR44);
  assert_false(mc.fixes & MARKCODE_FIX_GS_RESTORED);
}

static void lost_gs_that_no_layout_explains(void **state)
{
  (void)state;
  /* a 13-char serial followed by an unknown 5-char run and nothing else */
  assert_refused("010461008041021521e,s;r!t%BroGdABCDEFGHIJ", MARKCODE_ERR_GS_MISSING, 18);
}

/* Type `code` the way a wedge scanner does while the Russian layout is on. */
static void type_under_russian_layout(const char *code, char *out)
{
  for (; *code; code++) {
    uint32_t cp = layout_us_to_ru(*code);
    if (*code == '\x1d') cp = 0x1d;
    assert_true(cp != 0);
    out += layout_utf8_encode(cp, out);
  }
  *out = '\0';
}

static void russian_keyboard_layout_mapped_back(void **state)
{
  (void)state;
  const char *codes[] = {FOOTWEAR44, LIGHT88,   PHOTO20, DAIRY,
                         WATER,      BLOCK_OLD, PACK,    "RU-430302-AAA4050108"};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    char typed[600];
    type_under_russian_layout(codes[i], typed);
    assert_true(strcmp(typed, codes[i]) != 0);
    assert_fixed_to(typed, codes[i], MARKCODE_FIX_KEYBOARD_RU);
  }
  /* DOMAIN §2 examples: / . ? , ; ж ' э " Э : Ж */
  assert_int_equal(layout_ru_to_us('.'), '/');
  assert_int_equal(layout_ru_to_us(','), '?');
  assert_int_equal(layout_ru_to_us(0x436), ';');  /* ж */
  assert_int_equal(layout_ru_to_us(0x44D), '\''); /* э */
  assert_int_equal(layout_ru_to_us(0x42D), '"');  /* Э */
  assert_int_equal(layout_ru_to_us(0x416), ':');  /* Ж */
  assert_int_equal(layout_ru_to_us(0x431), ',');  /* б */
  assert_int_equal(layout_ru_to_us(0x44E), '.');  /* ю */
  assert_int_equal(layout_ru_to_us(0x445), '[');  /* х */
  assert_int_equal(layout_ru_to_us(0x44A), ']');  /* ъ */
  assert_int_equal(layout_ru_to_us(0x451), '`');  /* ё */
  assert_int_equal(layout_ru_to_us(0x2116), '#'); /* № = Shift+3 */
}

/* The fast path's shortcuts, each on the inputs that take it and on the
** near misses that must fall through to the full stages: the outcome and
** every field are the full path's (markcode_parse_full), and the outcome
** is the one named. */
static void assert_paths_agree(const char *in, markcode_err_t want)
{
  markcode_t full;
  markcode_err_t got = markcode_parse(&mc, in, strlen(in));
  markcode_parse_full(&full, in, strlen(in));
  if (got != want || !markcode_same(&mc, &full))
    print_error("'%s': fast %s (%s) at %d, full %s (%s) at %d, want %s\n", in,
                markcode_err_code(got), mc.layout, mc.err_at, markcode_err_code(full.err),
                full.layout, full.err_at, markcode_err_code(want));
  assert_int_equal(got, want);
  assert_true(markcode_same(&mc, &full));
}

static void fast_shortcuts_agree_with_the_full_path(void **state)
{
  (void)state;
  char typed[700], stripped[300];
  /* A refusal in gs1_finish() no layout can undo: final at once (the 92
  ** after the last separator could be tobacco_block_old's last field: that
  ** layout is searched, and explains nothing). */
  assert_paths_agree("010460780959150821sSBmxTYIFT(eq" GS "91FFD0" GS "92testtesttest",
                     MARKCODE_ERR_TAIL_LENGTH);
  assert_paths_agree("0104607809591508" GS "21sSBmxTYIFT(eq" GS "93abcdefg",
                     MARKCODE_ERR_TRAILING_GARBAGE);
  /* ... one a layout's last field could end (a 92 of 44 after a lost
  ** separator before 91): the layouts rescue it, as in the full path. */
  assert_paths_agree("0104601669010315217m2CUceKxx41w91EE06" GS
                     "92rUIIFK4Vds1rR0GLNvvo43aAM7CwwSh1twdFV8Y0heQ=",
                     MARKCODE_OK);
  assert_int_equal(mc.fixes & MARKCODE_FIX_GS_RESTORED, MARKCODE_FIX_GS_RESTORED);
  /* ... and not a refusal at all: an old tobacco block's 92 (with 8005,
  ** no 91) before its 93, read by GS1's rules. */
  assert_paths_agree("010460043993125621JgXJ5.T" GS "8005112000" GS "92abc" GS "93abcd",
                     MARKCODE_OK);
  assert_string_equal(mc.layout, "tobacco_block_old");
  /* Caps Lock is refused at once: no layout is asked. */
  assert_paths_agree("010461008041021521E,S;R!T%BROGD" GS "91EE11" GS
                     "929GKNDNAXAEC4GMRT4LHKH/EKGRN4+GUPDRWMPBTKEJW=",
                     MARKCODE_ERR_CAPS_LOCK);
  /* No separator at all: the layouts at once, their fields checked fast;
  ** and one no layout explains, handed to the full stages. */
  const char *codes[] = {FOOTWEAR44, LIGHT88, PHOTO20, DAIRY, DAIRY_WEIGHT, WATER, BLOCK_OLD};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    strip_gs(codes[i], stripped);
    assert_paths_agree(stripped, MARKCODE_OK);
    type_under_russian_layout(stripped, typed); /* and as a wedge types it, Russian layout on */
    assert_paths_agree(typed, MARKCODE_OK);
    type_under_russian_layout(codes[i], typed); /* the Russian layout, separators kept */
    assert_paths_agree(typed, MARKCODE_OK);
    snprintf(stripped, sizeof stripped, "]d2" GS "%s", codes[i]);
    type_under_russian_layout(stripped, typed); /* with an AIM prefix and a leading GS */
    assert_paths_agree(typed, MARKCODE_OK);
    assert_string_equal(mc.aim, "]d2");
  }
  assert_paths_agree("010461008041021521e,s;r!t%BroGdABCDEFGHIJ", MARKCODE_ERR_GS_MISSING);
  /* The Russian layout over a code the fast pass cannot take (a space). */
  type_under_russian_layout("0103041094787443215Qbag! 93Zjqw", typed);
  assert_paths_agree(typed, MARKCODE_OK);
}

/* The repairs' shortcuts (issue 20's sixth pass) against the full stages
** on their edges: a refusal whose runs after separators start with an AI
** no layout has, or one a layout has only the first two digits of; a
** tobacco block's bare MRP (a slot that may be bare is never ruled out);
** a scan under the Russian layout with what the quick decode leaves to
** the full one (another non-ASCII character, a GS written as an arrow, a
** No. sign, a tab, control characters, a Cyrillic sign no key gives, a
** truncated sequence, no Cyrillic letter at all). */
static void repair_shortcuts_agree_with_the_full_path(void **state)
{
  (void)state;
  assert_paths_agree("010460780959150821sSBmxTYIFT(eq" GS "80FFD0" GS "92testtesttest",
                     MARKCODE_ERR_AI_UNKNOWN);
  assert_paths_agree("010460780959150821sSBmxTYIFT(eq" GS "91FFD0" GS "92testtesttest" GS,
                     MARKCODE_ERR_TAIL_LENGTH);
  assert_paths_agree("010460780959150821sSBmxTYIFT(eq" GS "3102000353" GS "93abcdefg",
                     MARKCODE_ERR_TRAILING_GARBAGE);
  assert_paths_agree("010460780959150821sSBmxTYIFT(eq" GS "3103000353" GS "93abcdefg",
                     MARKCODE_ERR_TRAILING_GARBAGE);
  assert_paths_agree("0104607809591508" GS "21sSBmxTYIFT(eq" GS "17261231" GS "93abcd",
                     MARKCODE_OK);
  assert_paths_agree("01046002660148702178378005200000" GS "93xJ8T" GS "24010117837", MARKCODE_OK);
  assert_int_equal(mc.fixes & MARKCODE_FIX_MRP_UNLABELLED, MARKCODE_FIX_MRP_UNLABELLED);
  assert_paths_agree("0104600266014870217837800" GS "5200000" GS "93xJ8T" GS "2401", MARKCODE_OK);
  assert_paths_agree("010460780959150821sSBmxTYIFT(eq91FFD092testtesttest",
                     MARKCODE_ERR_GS_MISSING);
  static const struct {
    const char *in;
    markcode_err_t want;
  } russian[] = {
      {"0104636332455339215\xd0\xb9\xd1\x84"
       "5,\xc3\xa9" GS "93\xd0\xb2\xd0\x9f",
       MARKCODE_ERR_BAD_CHAR},
      {"0104636332455339215\xd0\xb9\xd1\x84"
       "5,\xe2\x86\x94"
       "93\xd0\xb2\xd0\x9f\xd0\x9c\xd1\x8f",
       MARKCODE_OK},
      {"0104636332455339215\xd0\xb9\xd1\x84"
       "5,\xd0\xa6\xd0\xa0\xd0\x9e\xd1\x8b\xd1\x8b\xd0\xb8"
       "\xd0\xa8-\xe2\x84\x96" GS "93\xd0\xb2\xd0\x9f\xd0\x9c\xd1\x8f",
       MARKCODE_ERR_SERIAL_CHARSET},
      {"0104636332455339215\xd0\xb9\xd1\x84\t5,\xd0\xa6" GS "93\xd0\xb2", MARKCODE_ERR_BAD_CHAR},
      {"0104636332455339215\xd1\x91\xd0\x81"
       "5,\xd0\xa6\xd0\xa0\xd0\x9e\xd1\x8b\xd1\x8b\xd0\xb8"
       "\xd0\xa8-" GS "93\xd0\xb2\xd0\x9f\xd0\x9c\xd1\x8f",
       MARKCODE_ERR_SERIAL_CHARSET},
      {"0104636332455339215\xd0\x80\xd1\x84"
       "5,\xd0\xa6" GS "93",
       MARKCODE_ERR_BAD_CHAR},
      {"0104636332455339215\xd0\xb9\xd1\x84"
       "5,\xd0\xa6" GS "93\xd0",
       MARKCODE_ERR_BAD_UTF8},
      {"0104636332455339215\xd1\x92"
       "5," GS "93abcd",
       MARKCODE_ERR_BAD_CHAR},
      {"0104636332455339215\xd0\xb9\x01\xd1\x84"
       "5," GS "93abcd",
       MARKCODE_ERR_BAD_CHAR},
  };
  for (size_t i = 0; i < sizeof russian / sizeof russian[0]; i++)
    assert_paths_agree(russian[i].in, russian[i].want);

    /* The quick Russian decode summarises the runs itself only for a code
    ** scanned whole; a leading, trailing or doubled separator, an AIM prefix
    ** typed under the layout ("ъв2" is "]d2"), a '<' ('Б') or a space in a
    ** run, more runs than fields: the fast pass or the full clean decide. */
#define RU_SERIAL                                                                                  \
  "0104636332455339215\xd0\xb9\xd1\x84"                                                            \
  "5,\xd0\xa6\xd0\xa0\xd0\x9e\xd1\x8b\xd1\x8b\xd0\xb8\xd0\xa8-"
#define RU_TAIL "93\xd0\xb2\xd0\x9f\xd0\x9c\xd1\x8f"
  static const struct {
    const char *in;
    uint32_t fixes;
  } ru_runs[] = {
      {GS RU_SERIAL GS RU_TAIL, MARKCODE_FIX_GS_LEADING},
      {RU_SERIAL GS RU_TAIL GS, MARKCODE_FIX_GS_TRAILING},
      {RU_SERIAL GS GS RU_TAIL, MARKCODE_FIX_GS_DOUBLED},
      {"\xd1\x8a\xd0\xb2"
       "2" RU_SERIAL GS RU_TAIL,
       MARKCODE_FIX_AIM_PREFIX},
      {"0104636332455339215\xd0\xb9\xd1\x84\xd0\x91"
       "5," GS RU_TAIL,
       0},
      {"0104636332455339215\xd0\xb9\xd1\x84"
       "5,\xd0\xa6 " GS RU_TAIL,
       MARKCODE_FIX_GS_SPACE | MARKCODE_FIX_GS_DOUBLED},
  };
  for (size_t i = 0; i < sizeof ru_runs / sizeof ru_runs[0]; i++) {
    assert_paths_agree(ru_runs[i].in, MARKCODE_OK);
    assert_int_equal(mc.fixes, ru_runs[i].fixes | MARKCODE_FIX_KEYBOARD_RU);
  }
  /* A scan the quick decode takes whole, then refused by the fast path
  ** or rescued by the layouts: its characters, class bits and offsets
  ** give the full decode's outcome, a refusal's position included. */
  static const struct {
    const char *code;
    markcode_err_t want;
  } ru_after[] = {
      {"0104601669010315217m2CUceKxx41w91EE0692rUIIFK4Vds1rR0GLNvvo43aAM7CwwSh1twdFV8Y0heQ=",
       MARKCODE_OK},
      {"0104601669010315217m2CUceKxx41w91EE06" GS "92rUIIFK4Vds1rR0GLNvvo43aAM7CwwSh1twdFV8Y0heQ=",
       MARKCODE_OK},
      {"010460780959150821sSBmxTYIFT(eq91FFD092testtesttest", MARKCODE_ERR_GS_MISSING},
      {"010460780959150821sSBmxTYIFT(eq" GS "91FFD0" GS "92testtesttest", MARKCODE_ERR_TAIL_LENGTH},
      {"0103041094787443215Qbag!" GS "93Zjq", MARKCODE_ERR_TAIL_LENGTH},
      {"0103041094787444215Qbag!" GS "93Zjqw", MARKCODE_ERR_GTIN_CHECK},
  };
  for (size_t i = 0; i < sizeof ru_after / sizeof ru_after[0]; i++) {
    char typed[600];
    type_under_russian_layout(ru_after[i].code, typed);
    assert_paths_agree(typed, ru_after[i].want);
    assert_true(mc.fixes & MARKCODE_FIX_KEYBOARD_RU);
    assert_true(ru_after[i].want == MARKCODE_OK || mc.err_at > 0);
  }
  char many[400] = RU_SERIAL GS RU_TAIL;
  for (int i = 0; i < MARKCODE_MAX_AIS; i++) strcat(many, GS "93\xd0\xb2\xd0\x9f");
  assert_paths_agree(many, MARKCODE_ERR_TRAILING_GARBAGE); /* more fields than kept */
#undef RU_SERIAL
#undef RU_TAIL

  /* A bare MRP after a separator needs its six digits there: five are no
  ** tobacco block, and the layouts are not searched for them. */
  assert_paths_agree("0104600266014870217837800" GS "5200000" GS "93xJ8T", MARKCODE_OK);
  assert_string_equal(mc.layout, "tobacco_block");
  assert_paths_agree("01046002660148702178378" GS "52000" GS "93xJ8T", MARKCODE_ERR_AI_UNKNOWN);
  /* A length refusal's detail, written without a format. */
  assert_paths_agree("010460780959150821sSBmxTYI" GS "91FFD0" GS "92testtesttest",
                     MARKCODE_ERR_TAIL_LENGTH);
  assert_string_equal(mc.err_detail, "92 → 12");
  assert_paths_agree("0103041094787443215Qbag!" GS "93Zjq", MARKCODE_ERR_TAIL_LENGTH);
  assert_string_equal(mc.err_detail, "93 → 3");
}

static void layout_table_is_a_bijection(void **state)
{
  (void)state;
  for (int c = 0x20; c < 0x7F; c++) {
    uint32_t ru = layout_us_to_ru((char)c);
    assert_true(ru != 0);
    assert_int_equal(layout_ru_to_us(ru), c);
  }
}

/* ---- refusals --------------------------------------------------------- */

static void refusals_with_code_and_position(void **state)
{
  (void)state;
  assert_refused("", MARKCODE_ERR_EMPTY, 0);
  assert_refused(" \r\n", MARKCODE_ERR_EMPTY, 0);
  assert_refused("015175404137639621Pg0R4Vcxuarsu" GS "91ffd0" GS
                 "92tHvxvNv2hZna+QJefLW+4th9wmu04kwn0yPNJ/xWO9U=",
                 MARKCODE_ERR_GTIN_CHECK, 15);
  assert_refused("0103041094787443215Qb~g!" GS "93Zjqw", MARKCODE_ERR_SERIAL_CHARSET, 21);
  /* GS1 caps AI 21 at 20 characters, separators or not */
  assert_refused("010461008041021521e,s;r!t%BroGdABCDEFGH" GS "91EE11" GS
                 "929GkndNAXaeC4gMRT4LHKh/EkGRn4+gUPdrWMpbtkejw=",
                 MARKCODE_ERR_SERIAL_LENGTH, 18);
  assert_refused("010460780959150821sSBmxTYIFT(eq" GS "91FFD0" GS "92testtesttest",
                 MARKCODE_ERR_TAIL_LENGTH, 41);
  assert_refused("0104607070190158215Ky5oR" GS "93dGV", MARKCODE_ERR_TAIL_LENGTH, 27);
  assert_refused("010461008041021521e,s;r!t%BroGd" GS "91EE1" GS
                 "929GkndNAXaeC4gMRT4LHKh/EkGRn4+gUPdrWMpbtkejw=",
                 MARKCODE_ERR_KEY_LENGTH, 34);
  assert_refused("010461008041021521e,s;r!t%BroGd" GS "91EE11" GS
                 "929Gkn!NAXaeC4gMRT4LHKh/EkGRn4+gUPdrWMpbtkejw=",
                 MARKCODE_ERR_TAIL_CHARSET, 45);
  assert_refused("04606203084623+A13gPh-4Hi", MARKCODE_ERR_TOBACCO_TRUNCATED, 25);
  assert_refused(DAIRY "!!!", MARKCODE_ERR_TRAILING_GARBAGE, 31);
  assert_refused(PACK "XYZ", MARKCODE_ERR_TRAILING_GARBAGE, 29);
  assert_refused("hello", MARKCODE_ERR_UNKNOWN_FORMAT, 0);
  assert_refused("0104600605032541215B,LN)" GS "93gJXT" GS "93gJXT", MARKCODE_ERR_AI_DUPLICATE, 32);
  assert_refused(DAIRY GS "17251331", MARKCODE_ERR_AI_VALUE, 34);
  assert_refused("0104600605032541" GS "93gJXT", MARKCODE_ERR_NO_SERIAL, 16);
  assert_refused("01046006050325", MARKCODE_ERR_CHECK_DIGIT, 13); /* 14 digits: an ITF-14 */
  assert_refused("0104600605O32541215B,LN)" GS "93gJXT", MARKCODE_ERR_UNKNOWN_FORMAT, 0);
  assert_refused(DAIRY "\x01", MARKCODE_ERR_BAD_CHAR, 31);
  assert_refused("01030410947874432150ZOi\xD0", MARKCODE_ERR_BAD_UTF8, 23);
  assert_refused("\xC0\xAF", MARKCODE_ERR_BAD_UTF8, 0); /* overlong '/' */
}

static void caps_lock_is_refused_not_guessed(void **state)
{
  (void)state;
  /* forced upper case */
  assert_refused("010461008041021521E,S;R!T%BROGD" GS "91EE11" GS
                 "929GKNDNAXAEC4GMRT4LHKH/EKGRN4+GUPDRWMPBTKEJW=",
                 MARKCODE_ERR_CAPS_LOCK, 41);
  /* the same code parses with its real case */
  assert_parses(FOOTWEAR44);
}

static void over_long_input(void **state)
{
  (void)state;
  char big[600];
  memset(big, '1', sizeof big);
  assert_int_equal(markcode_parse(&mc, big, 513), MARKCODE_ERR_TOO_LONG);
  assert_int_equal(mc.err_at, 512);
  assert_int_equal(markcode_parse(&mc, NULL, 0), MARKCODE_ERR_EMPTY);
}

/* ---- issue 15: GS1 decides when the separators are there -------------- */

/* Family rules (serial lengths, the indicator digit) are notes, never
** refusals, for a code whose separators delimit every field. */
static void separators_decide_not_family_rules(void **state)
{
  (void)state;
  /* GTIN indicator 4 (ATOL's well-known test code): valid GS1 */
  assert_parses("014494550435306821QXYXSALGLMYQQ" GS "91EE06" GS
                "92YWCXbmK6SN8vvwoxZFk7WAY8WoJNMGGr6Cgtiuja04c=");
  assert_string_equal(mc.gtin, "44945504353068");
  assert_true(mc.fixes & MARKCODE_FIX_GTIN_INDICATOR);
  assert_false(mc.fixes & MARKCODE_FIX_SERIAL_UNUSUAL);
  assert_int_equal(mc.type2100, 4);
  /* CRPT's permissive-mode test code: a 7-character serial with 93 */
  assert_parses("0104602220006549215opFcmK" GS "93dGVz");
  assert_string_equal(mc.serial, "5opFcmK");
  assert_string_equal(mc.tail, "dGVz");
  assert_string_equal(mc.layout, "short_tail");
  assert_int_equal(mc.fixes & MARKCODE_FIX_NOTES, 0);
  /* 12 characters with a crypto tail, 14 with a 93 tail: no family uses
  ** them, GS1 does; accepted with the note */
  assert_parses("010461008041021521e,s;r!t%BroG" GS "91EE11" GS
                "929GkndNAXaeC4gMRT4LHKh/EkGRn4+gUPdrWMpbtkejw=");
  assert_string_equal(mc.serial, "e,s;r!t%BroG");
  assert_true(mc.fixes & MARKCODE_FIX_SERIAL_UNUSUAL);
  assert_parses("010304109478744321ppT\"\"!8OpYsNTb" GS "93dGVz");
  assert_string_equal(mc.serial, "ppT\"\"!8OpYsNTb");
  assert_true(mc.fixes & MARKCODE_FIX_SERIAL_UNUSUAL);
  assert_string_equal(markcode_fix_name(MARKCODE_FIX_SERIAL_UNUSUAL), "serial_length_unusual");
  assert_string_equal(markcode_fix_name(MARKCODE_FIX_GTIN_INDICATOR), "gtin_indicator");
  /* ...but a serial of unusual length that a lost separator explains, with
  ** the other separators where the layout wants them, is repaired */
  assert_fixed_to("0103041094787443215Qbag!93Zjqw" GS "3103000353", DAIRY_WEIGHT,
                  MARKCODE_FIX_GS_RESTORED);
  assert_int_equal(mc.fixes & MARKCODE_FIX_NOTES, 0);
}

/* The AI table is GS1's: an AI it does not define is refused where it
** starts; each AI's character set, length, check digit and date hold. */
static void gs1_ai_table(void **state)
{
  (void)state;
  assert_int_equal(markcode_tables_check(), 0);
  assert_refused(DAIRY GS "3356000123", MARKCODE_ERR_AI_UNKNOWN, 32);
  assert_refused(DAIRY GS "3106000353", MARKCODE_ERR_AI_UNKNOWN, 32);
  /* in the bracketed form "(3356)" opens no AI: it is text of the tail */
  assert_refused("(01)03041094787443(21)5Qbag!(93)Zjqw(3356)000123", MARKCODE_ERR_TRAILING_GARBAGE,
                 36);
  assert_parses(DAIRY GS "3105000353");
  assert_refused(DAIRY GS "11251340", MARKCODE_ERR_AI_VALUE, 34);         /* month 13 */
  assert_refused(DAIRY GS "4101234567890123", MARKCODE_ERR_AI_VALUE, 35); /* GLN check */
  assert_parses(DAIRY GS "4101234567890128");
  assert_refused(DAIRY GS "422ABC", MARKCODE_ERR_AI_VALUE, 35);  /* N3: letters */
  assert_refused(DAIRY GS "8005123", MARKCODE_ERR_AI_VALUE, 36); /* N6: 3 digits */
  assert_refused(DAIRY GS "8010ab", MARKCODE_ERR_AI_VALUE, 36);  /* CSET 39: no lower case */
  assert_parses(DAIRY GS "8010AB-1/#");
  assert_string_equal(markcode_ai_value(&mc, "8010"), "AB-1/#");
  assert_parses(DAIRY GS "240"
                         "ABC/1");
}

/* Scans that lost every separator, in the shapes real goods take. */
static void lost_gs_new_layouts(void **state)
{
  (void)state;
  /* 7- and 8-character serials with 93 */
  assert_fixed_to("0104602220006549215opFcmK93dGVz", "0104602220006549215opFcmK" GS "93dGVz",
                  MARKCODE_FIX_GS_RESTORED);
  assert_fixed_to("0104602220006549215opFcmKx93dGVz", "0104602220006549215opFcmKx" GS "93dGVz",
                  MARKCODE_FIX_GS_RESTORED);
  assert_string_equal(mc.serial, "5opFcmKx");
  /* expiry (17) and production date (11) before the serial */
  assert_fixed_to("0104607809591454172611302"
                  "1m9tNPzJTWzuc9exC5/M+91EE07"
                  "92vdIdf340vdN01ot+7YRyUb0XRbSQEAe4C4wjaAysm4M=",
                  "010460780959145417261130"
                  "21m9tNPzJTWzuc9exC5/M+" GS "91EE07" GS
                  "92vdIdf340vdN01ot+7YRyUb0XRbSQEAe4C4wjaAysm4M=",
                  MARKCODE_FIX_GS_RESTORED);
  assert_fixed_to("01030410947874431125010121"
                  "5Qbag!93Zjqw",
                  "010304109478744311250101"
                  "215Qbag!" GS "93Zjqw",
                  MARKCODE_FIX_GS_RESTORED);
  assert_string_equal(markcode_ai_value(&mc, "11"), "250101");
  /* a trailing 8005 and no 93 */
  assert_fixed_to("010460043993125621JgXJ5.T8005112000",
                  "010460043993125621JgXJ5.T" GS "8005112000", MARKCODE_FIX_GS_RESTORED);
  assert_string_equal(mc.layout, "mrp_no_tail");
  assert_string_equal(mc.mrp, "112000");
  /* imported pharma (GTIN prefix 843), an 88-character tail
  ** (PavelDorofeev/Test-API-Chestny-Zhnak, chzn_api_test log) */
  assert_fixed_to(
      "010843399791281021xTJKD2Fc:DorI91809792kf158zZIRc5pkQP9FHIupiPmC8ko9LbbgpVnW3OFSrVrj2"
      "dG57De2BmWmhqQ8v1dDV8vTvRM3fcBlj8dfq3xfA==",
      "010843399791281021xTJKD2Fc:DorI" GS "918097" GS "92kf158zZIRc5pkQP9FHIupiPmC8ko9Lbb"
      "gpVnW3OFSrVrj2dG57De2BmWmhqQ8v1dDV8vTvRM3fcBlj8dfq3xfA==",
      MARKCODE_FIX_GS_RESTORED);
  assert_int_equal(mc.type2100, 2);
  /* an identification part alone stays one (no layout explains it) */
  assert_parses("010290000226063221ftQsjV_ioIfX%");
  assert_string_equal(mc.serial, "ftQsjV_ioIfX%");
  assert_string_equal(mc.layout, "identification_only");
  assert_false(mc.fixes & MARKCODE_FIX_GS_RESTORED);
}

/* Every repair is recorded, a doubled separator too. */
static void doubled_gs_is_recorded(void **state)
{
  (void)state;
  assert_fixed_to("0103041094787443215Qbag!" GS GS "93Zjqw", DAIRY, MARKCODE_FIX_GS_DOUBLED);
  assert_fixed_to("0103041094787443215Qbag!{FNC1}" GS "93Zjqw", DAIRY, MARKCODE_FIX_GS_DOUBLED);
  assert_parses(DAIRY);
  assert_false(mc.fixes & MARKCODE_FIX_GS_DOUBLED);
}

/* Tag 1162 of a tobacco pack as Shtrih-M's driver tests encode it
** (shtrih-m/javapos_shtrih SmFiscalPrinterTest, MIT): serial and MRP
** padded with two spaces. */
static void tobacco_pack_1162_as_vendor_drivers(void **state)
{
  (void)state;
  static const uint8_t want[] = {0x44, 0x4D, 0x00, 0x00, 0x02, 0xC0, 0xEE, 0xD8, 0x58, 0x3F, 0x69,
                                 0x6F, 0x2B, 0x71, 0x43, 0x41, 0x42, 0x6D, 0x38, 0x20, 0x20};
  assert_parses("00000046198488X?io+qCABm8wAYa");
  assert_int_equal(mc.kind, MARKCODE_KIND_TOBACCO_PACK);
  assert_int_equal(mc.tag1162_len, sizeof want);
  assert_memory_equal(mc.tag1162, want, sizeof want);
  /* and a block with AI 240 and a 92: serial only, no MRP (same test) */
  static const uint8_t block[] = {0x44, 0x4D, 0x04, 0x2F, 0xF7, 0x5C, 0x76, 0x70, 0x4E, 0x34, 0x4E,
                                  0x35, 0x37, 0x52, 0x53, 0x43, 0x42, 0x55, 0x5A, 0x54, 0x51};
  assert_parses("010460406000600021N4N57RSCBUZTQ" GS "2403004002910161218" GS "1724010191ffd0" GS
                "92tIAF/YVoU4roQS3M/m4z78yFq0fc/WsSmLeX5QkF/YVWwy8IMYAeiQ91Xa2z/fFSJcOkb"
                "2N+uUUmfr4n0mOX0Q==");
  assert_int_equal(mc.tag1162_len, sizeof block);
  assert_memory_equal(mc.tag1162, block, sizeof block);
}

/* ---- contract --------------------------------------------------------- */

static void error_codes_and_messages_are_complete(void **state)
{
  (void)state;
  for (int e = 0; e < MARKCODE_ERR__COUNT; e++) {
    const char *code = markcode_err_code((markcode_err_t)e);
    assert_non_null(code);
    assert_true(strlen(code) > 1);
    for (int f = 0; f < e; f++) assert_string_not_equal(code, markcode_err_code((markcode_err_t)f));
    markcode_t m = {.err = (markcode_err_t)e};
    char ru[400], en[400];
    markcode_message(&m, MARKCODE_LANG_RU, ru, sizeof ru);
    markcode_message(&m, MARKCODE_LANG_EN, en, sizeof en);
    assert_true(strlen(ru) > 10 && strlen(en) > 10);
    assert_string_not_equal(ru, en);
  }
  for (unsigned k = 0; k < MARKCODE_FIX__COUNT; k++)
    assert_non_null(markcode_fix_name((markcode_fix_t)(1u << k)));
}

static void normalized_form_parses_to_itself(void **state)
{
  (void)state;
  const char *codes[] = {"]d2" FOOTWEAR44, "{FNC1}" DAIRY_WEIGHT, PACK, BLOCK_OLD,
                         "0104600266014870217837800520000093xJ8T24010117837"};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    assert_parses(codes[i]);
    char canonical[MARKCODE_MAX_INPUT + 1];
    snprintf(canonical, sizeof canonical, "%s", mc.normalized);
    assert_parses(canonical);
    assert_string_equal(mc.normalized, canonical);
  }
}

static void reuse_leaves_nothing_behind(void **state)
{
  (void)state;
  assert_parses(FOOTWEAR44);
  assert_refused("0103041094787443215Qb~g!" GS "93Zjqw", MARKCODE_ERR_SERIAL_CHARSET, 21);
  assert_string_equal(mc.gtin, "");
  assert_string_equal(mc.key, "");
  assert_parses(DAIRY);
  assert_string_equal(mc.key, "");
  assert_int_equal(mc.err_at, -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(gs1_with_44_char_tail),
      cmocka_unit_test(gs1_with_88_char_tail_is_type_2),
      cmocka_unit_test(twenty_char_serial),
      cmocka_unit_test(dairy_water_and_weight),
      cmocka_unit_test(expiry_ais),
      cmocka_unit_test(tobacco_block_old_layout),
      cmocka_unit_test(tobacco_block_new_layout),
      cmocka_unit_test(tobacco_pack),
      cmocka_unit_test(fur_tag),
      cmocka_unit_test(egais_codes),
      cmocka_unit_test(plain_barcodes),
      cmocka_unit_test(gs1_without_serial_is_an_unmarked_good),
      cmocka_unit_test(unknown_well_formed_ai_is_kept),
      cmocka_unit_test(aim_prefixes),
      cmocka_unit_test(gs_spelled_as_text),
      cmocka_unit_test(gs_as_arrow_e8_and_space),
      cmocka_unit_test(leading_trailing_gs_and_whitespace),
      cmocka_unit_test(bracketed_form),
      cmocka_unit_test(lost_gs_restored_by_layout),
      cmocka_unit_test(lost_gs_that_no_layout_explains),
      cmocka_unit_test(russian_keyboard_layout_mapped_back),
      cmocka_unit_test(fast_shortcuts_agree_with_the_full_path),
      cmocka_unit_test(repair_shortcuts_agree_with_the_full_path),
      cmocka_unit_test(layout_table_is_a_bijection),
      cmocka_unit_test(refusals_with_code_and_position),
      cmocka_unit_test(caps_lock_is_refused_not_guessed),
      cmocka_unit_test(over_long_input),
      cmocka_unit_test(error_codes_and_messages_are_complete),
      cmocka_unit_test(normalized_form_parses_to_itself),
      cmocka_unit_test(reuse_leaves_nothing_behind),
      cmocka_unit_test(separators_decide_not_family_rules),
      cmocka_unit_test(gs1_ai_table),
      cmocka_unit_test(lost_gs_new_layouts),
      cmocka_unit_test(doubled_gs_is_recorded),
      cmocka_unit_test(tobacco_pack_1162_as_vendor_drivers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
