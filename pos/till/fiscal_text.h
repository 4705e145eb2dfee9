/*
** fiscal_text.h: make a person's text fit a fiscal document.
**
** Fiscal documents carry text in CP866 (FFD 1.2), which has no typographic
** quotes or dashes, yet «Ромашка» and "г. Москва — центр" are how shops
** write their names. Rather than refusing them at the fiscal storage with an
** opaque error, the till folds such characters to their plain equivalents
** before a document is built: « » „ “ ” → ", ‘ ’ ‚ → ', – — − → -, … → ...,
** non-breaking spaces → space; control characters (C0, DEL, C1: an ESC or a
** GS pasted into a name) → space. The printed receipt is made from the same
** document, so paper and the tax service still say the same thing. Anything
** else CP866 cannot hold is left alone, and the fiscal storage refuses it.
*/
#ifndef KASSA_POS_FISCAL_TEXT_H
#define KASSA_POS_FISCAL_TEXT_H

#include <stddef.h>

/* Fold `text` (UTF-8, NUL-terminated) in place; it never grows. Returns the
** number of characters replaced. */
size_t fiscal_text_fold(char *text);

/* Makes text valid UTF-8 in place, for JSON and screens: an invalid or
** cut sequence (raw scanner bytes quoted in a message, a message cut by its
** buffer) becomes '?', a control character (GS included) a space. */
void fiscal_text_utf8_clean(char *text);

#endif
