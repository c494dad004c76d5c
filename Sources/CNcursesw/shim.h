// ncursesw for Swift: the wide-character API, and small functions for what does not import
// (macros, and the global stdscr that Swift 6's concurrency checking refuses).
#ifndef VQSCOPE_CNCURSESW_H
#define VQSCOPE_CNCURSESW_H
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <ncursesw/curses.h>
#include <ncursesw/term.h>
#include <langinfo.h>
#include <locale.h>
#include <string.h>
#include <wchar.h>

static inline WINDOW *cvq_stdscr(void) { return stdscr; }
static inline SCREEN *cvq_newterm(void) { return newterm(NULL, stdout, stdin); }
static inline int cvq_lines(void) { return LINES; }
static inline int cvq_cols(void) { return COLS; }
static inline int cvq_color_pair(int n) { return (int)COLOR_PAIR(n); }
static inline int cvq_colors(void) { return COLORS; }
static inline int cvq_key_resize(void) { return KEY_RESIZE; }
static inline attr_t cvq_a_bold(void) { return A_BOLD; }
static inline attr_t cvq_a_reverse(void) { return A_REVERSE; }
static inline attr_t cvq_a_underline(void) { return A_UNDERLINE; }
static inline attr_t cvq_a_dim(void) { return A_DIM; }
static inline attr_t cvq_a_normal(void) { return A_NORMAL; }
static inline int cvq_key_code_yes(void) { return KEY_CODE_YES; }
static inline int cvq_setlocale_all(void) { return setlocale(LC_ALL, "") != NULL; }

/// Puts one wide character with attributes and a color pair at (y, x) of stdscr.
static inline int cvq_put(int y, int x, wchar_t ch, attr_t attrs, short pair) {
    cchar_t cell;
    wchar_t text[2] = { ch, 0 };
    if (setcchar(&cell, text, attrs, pair, NULL) != OK) return ERR;
    return mvwadd_wch(stdscr, y, x, &cell);
}

/// Whether the terminal moves its cursor as ANSI terminals do (`ESC [ row ; col H`, 1-based) and
/// the locale writes UTF-8: then a frame can be written as ANSI sequences and UTF-8 directly.
static inline int cvq_ansi_utf8(void) {
    const char *cup = tigetstr("cup");
    if (cup == NULL || cup == (char *)-1 || strcmp(cup, "\033[%i%p1%d;%p2%dH") != 0) return 0;
    const char *codeset = nl_langinfo(CODESET);
    return codeset != NULL && strcmp(codeset, "UTF-8") == 0;
}
#endif
