/*
** common/errtab.h: one way to turn a module's error code into a stable
** name and a message in Russian and English.
**
** Every module has its own error enum (0 for success, negative for
** errors) and a table that says, for each code, the name a program may
** rely on (a contract: never renamed) and what a person reads. The table
** ends with ERRTAB_END, which carries the words for a code the table does
** not know, so a lookup never returns NULL:
**
**   static const errtab_t errors[] = {
**       {SALE_OK, "ok", "Готово.", "Done."},
**       {SALE_ERR_FULL, "full", "В чеке уже 100 позиций.", "The receipt is full."},
**       ERRTAB_END("Неизвестная ошибка.", "Unknown error."),
**   };
**   const char *sale_err_name(int err) { return errtab_name(errors, err); }
**
** Tables are small (a few dozen rows) and looked up only when something
** is reported, so a linear search is the whole implementation.
*/
#ifndef KASSA_COMMON_ERRTAB_H
#define KASSA_COMMON_ERRTAB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct errtab {
  int code;
  const char *name; /* NULL only in the ERRTAB_END row */
  const char *ru;   /* NULL: the English text serves */
  const char *en;
} errtab_t;

/* The last row of every table: the words for a code not in it. */
#define ERRTAB_END(ru, en)                                                                         \
  {                                                                                                \
    0, NULL, (ru), (en)                                                                            \
  }

/* The row for code, or the ERRTAB_END row when there is none. */
const errtab_t *errtab_find(const errtab_t *table, int code);

/* The row's name; "unknown" for a code the table does not know. */
const char *errtab_name(const errtab_t *table, int code);

/* The row's message in Russian or English (the ERRTAB_END words for a code
** the table does not know; the English one where a table has no Russian,
** as the FN-internal codecs do). Never NULL. */
const char *errtab_message(const errtab_t *table, int code, bool russian);

/*
** Writes a detailed message in both languages from two printf formats that
** take the same arguments in the same order (the Russian one is checked by
** the compiler through the English one). Each text is cut to fit its
** buffer at a UTF-8 character boundary, never inside a character, and is
** always NUL-terminated. A NULL buffer (or size 0) is skipped.
*/
void errtab_format(char *ru, size_t ru_size, char *en, size_t en_size, const char *ru_format,
                   const char *en_format, ...) __attribute__((format(printf, 6, 7)));

/* The same with the arguments as a va_list (the callers' own fail_with). */
void errtab_vformat(char *ru, size_t ru_size, char *en, size_t en_size, const char *ru_format,
                    const char *en_format, va_list ap) __attribute__((format(printf, 6, 0)));

/*
** A message built from parts, for every text a person reads: the parts
** (sentences, NULL or "" ones skipped) are joined with one space into out
** (size bytes, always NUL-terminated). A part that does not fit whole is
** cut at the last space that leaves room for "…" and ends there, so a
** reader never sees half a word or half a UTF-8 character; a part with no
** such space is left out. Returns true when every part went in whole
** (the tests hold every fixed text to that: its length budget).
*/
bool errtab_join(char *out, size_t size, const char *const *parts, size_t count);

/*
** text into out (size bytes) as at most max_chars characters: whole when
** it fits, else ending at the last word that leaves room for `ellipsis`
** ("…", or "..." where only ASCII may follow), never inside a word or a
** UTF-8 character (at the last whole character only when not one word
** fits). Returns true when the text went in whole.
*/
bool errtab_fit(char *out, size_t size, const char *text, size_t max_chars, const char *ellipsis);

/* The characters (UTF-8 code points) of text: the unit a screen's or a
** paper line's width is counted in. */
size_t errtab_chars(const char *text);

/* True when text is whole: valid UTF-8, not ending in a cut character,
** no control character. */
bool errtab_text_whole(const char *text);

#endif /* KASSA_COMMON_ERRTAB_H */
