/*
** layout.h: undo a Russian keyboard layout.
**
** A scanner in keyboard-wedge mode sends key positions, not characters. If
** the till's keyboard layout is Russian (ЙЦУКЕН) when the scan arrives, every
** letter comes out Cyrillic and punctuation moves: the key that gives `/` on
** a US layout gives `.` on the Russian one, `?` gives `,`, `;` gives `ж` and
** so on. Because the mapping is a bijection over the keys, the original can
** be recovered exactly: this module holds that table, both ways.
**
** The table covers the letter keys, the punctuation keys and the shifted
** digit row (Shift+2 gives `"` on Russian, `@` on US; Shift+3 `№`/`#`;
** Shift+4 `;`/`$`; Shift+6 `:`/`^`; Shift+7 `?`/`&`). Keys that give the
** same character on both layouts (digits, `!%*()-_=+`, space) map to
** themselves.
*/
#ifndef KASSA_SCANNER_LAYOUT_H
#define KASSA_SCANNER_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

/*
** The US-layout character produced by the key that gives Unicode code point
** `cp` on the Russian layout, or -1 if no key of the Russian layout gives
** `cp`. ASCII control characters (GS among them) map to themselves.
*/
int layout_ru_to_us(uint32_t cp);

/*
** The inverse: the code point the Russian layout gives for the key that
** gives ASCII `c` on the US layout, or 0 if `c` is not on the keyboard.
** Used to simulate wedge scanners in tests and to explain repairs.
*/
uint32_t layout_us_to_ru(char c);

/* Whether `cp` is a Cyrillic letter (the trigger for mapping a scan back). */
int layout_is_cyrillic_letter(uint32_t cp);

/*
** Decode one UTF-8 sequence at s[0..n). Stores the code point and returns the
** number of bytes used (1..4), or 0 for an invalid, overlong or truncated
** sequence. Shared by every module that reads scanner text.
*/
size_t layout_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Encode `cp` as UTF-8 into out (at least 4 bytes); returns the length. */
size_t layout_utf8_encode(uint32_t cp, char *out);

#endif
