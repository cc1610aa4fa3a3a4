/* vkey.h - the viewer's key codes, the one list term.c produces and the model consumes:
 * printable characters as themselves, the rest here. */
#ifndef EPSCOPE_VKEY_H
#define EPSCOPE_VKEY_H

enum vkey {
    VK_TAB = '\t',
    VK_ENTER = '\n',
    VK_ESC = 27,
    VK_CTRL_L = 12,
    VK_UP = 0x1000,
    VK_DOWN,
    VK_LEFT,
    VK_RIGHT,
    VK_PGUP,
    VK_PGDN,
    VK_HOME,
    VK_END,
    VK_BTAB,
    VK_BACKSPACE,
    VK_RESIZE,
    VK_MOUSE = 0x2000, /* a click; term_key gives its cell in *mx, *my */
};

#endif
