/*
 * Tile specialisation shared by the SIMD MATMUL files: CPU_TILE_DISPATCH
 * calls an always-inline template tmpl(t, MR, NR) with constant MR x NR
 * covering the shapes the variant tables use (x4 and 4x1 tiles and their
 * edges); other shapes run as 1x1 tiles.
 */
#ifndef EHAL_CPU_TILE_H
#define EHAL_CPU_TILE_H

#include "cpu_matmul.h"

/* (mr, nc) in [1,4]^2 -> a specialised instance. */
#define CPU_TILE_DISPATCH(tmpl, t)                                                             \
    do {                                                                                       \
        switch (((t)->mr - 1) * 4 + ((t)->nc - 1)) {                                           \
        case 0: tmpl(t, 1, 1); break;                                                          \
        case 1: tmpl(t, 1, 2); break;                                                          \
        case 2: tmpl(t, 1, 3); break;                                                          \
        case 3: tmpl(t, 1, 4); break;                                                          \
        case 4: tmpl(t, 2, 1); break;                                                          \
        case 5: tmpl(t, 2, 2); break;                                                          \
        case 6: tmpl(t, 2, 3); break;                                                          \
        case 7: tmpl(t, 2, 4); break;                                                          \
        case 8: tmpl(t, 3, 1); break;                                                          \
        case 12: tmpl(t, 4, 1); break;                                                         \
        default:                                                                               \
            for (int r_ = 0; r_ < (t)->mr; r_++) {                                             \
                cpu_mm_tile one_ = *(t);                                                       \
                one_.mr = 1;                                                                   \
                one_.w = (t)->w + r_ * (t)->w_stride;                                          \
                one_.y = (t)->y + r_;                                                          \
                for (int c_ = 0; c_ < (t)->nc; c_++) {                                         \
                    one_.nc = 1;                                                               \
                    one_.x = (t)->x + c_ * (t)->x_stride;                                      \
                    one_.y = (t)->y + c_ * (t)->ldy + r_;                                      \
                    tmpl(&one_, 1, 1);                                                         \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
    } while (0)

#endif
