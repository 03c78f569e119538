/*
 * Tile specialisation shared by the SIMD MATMUL files: CPU_TILE_DISPATCH
 * calls an always-inline template tmpl(t, MR, NR) with constant MR x NR
 * covering the shapes the variant tables use (x4 and 4x1 tiles and their
 * edges); other shapes run as 1x1 tiles.
 */
#ifndef EHAL_CPU_TILE_H
#define EHAL_CPU_TILE_H

#include <string.h>

#include "cpu_matmul.h"

/* Copies blocks [b0, nb) (1 to 3) of rows [0, mr) of the tile's weights,
 * `bs` bytes a block with the fp16 scale first, into buf (row r at
 * buf + r * 4 * bs), and fills each row's missing blocks with a copy of its
 * block b0 whose scale is set to zero: they meet the activation group's
 * zero blocks, so they add exactly 0, and the partial last group runs
 * through the full-group code without any read past the end of a weight
 * row. (Copies rather than memset: every byte is then written by fixed-
 * size moves.) buf holds mr * 4 * bs bytes. */
static inline __attribute__((always_inline)) void
cpu_tile_tail_copy(uint8_t *buf, const cpu_mm_tile *t, int64_t b0, int64_t nb, size_t bs, int mr)
{
    const int nt = (int)(nb - b0);
    for (int r = 0; r < mr; r++) {
        const uint8_t *src = t->w + r * t->w_stride + (size_t)b0 * bs;
        uint8_t *dst = buf + (size_t)r * 4 * bs;
        for (int b = 0; b < 4; b++) {
            memcpy(dst + (size_t)b * bs, src + (size_t)(b < nt ? b : 0) * bs, bs);
            if (b >= nt)
                memset(dst + (size_t)b * bs, 0, 2);
        }
    }
}

/* The prefetch of cpu_mm_tile.pf: a tile whose groups take `gb` bytes a
 * row calls this with *pf = NULL before its first group and then once a
 * group g, with g + 1 groups done; each call issues the prefetches of the
 * next row tile's bytes up to the same fraction (its rows are contiguous,
 * w_stride apart, and walked in address order: the L2 streamer follows
 * that order, where it loses four interleaved short row streams at every
 * row end and 4 KiB page). */
static inline __attribute__((always_inline)) void
cpu_tile_prefetch(const cpu_mm_tile *t, const uint8_t **pf, int64_t g1, size_t gb, int mr)
{
    const uint8_t *next = t->w + (size_t)mr * t->w_stride;
    const uint8_t *lim = next + (size_t)g1 * (size_t)mr * gb;
    const uint8_t *p = *pf != NULL ? *pf : next;
    if (t->pf == CPU_MM_PF_L1)
        for (; p < lim; p += 64)
            __builtin_prefetch(p, 0, 3);
    else if (t->pf == CPU_MM_PF_L2)
        for (; p < lim; p += 64)
            __builtin_prefetch(p, 0, 2);
    *pf = p;
}

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
