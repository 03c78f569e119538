/*
 * Shared declarations for every edgehal compute shader.
 *
 * Binding contract (set 0, the same layout for every pipeline):
 *   bindings 0..3 = node inputs 0..3, binding 4 = the node's output.
 * Each binding is bound at an offset aligned down to
 * minStorageBufferOffsetAlignment; pc.off[b] is the remaining byte offset of
 * the tensor inside the bound range.
 * Push constants (128 bytes): off[5] byte offsets, u[19] op-specific
 * integers, f[8] op-specific floats.
 *
 * Variants: STORAGE_SMALL reads/writes bytes and halves through 8/16-bit
 * storage views; without it bytes are extracted from 32-bit words and
 * sub-word writes use atomicAnd/atomicOr so neighbouring writers never race.
 */
#extension GL_GOOGLE_include_directive : require
#ifdef STORAGE_SMALL
#extension GL_EXT_shader_8bit_storage : require
#extension GL_EXT_shader_16bit_storage : require
#endif

#define DT_F32 0u
#define DT_F16 1u
#define DT_Q4_0 2u
#define DT_Q8_0 8u
#define DT_I32 26u

layout(push_constant) uniform PushConstants {
    uint off[5];
    uint u[19];
    float f[8];
} pc;

uint linear_group_id() {
    return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
}

#define DECL_BUF_WORDS(B)                                                      \
    layout(std430, set = 0, binding = B) buffer BufF##B { float d[]; } bf##B;   \
    layout(std430, set = 0, binding = B) buffer BufU##B { uint d[]; } bu##B;    \
    layout(std430, set = 0, binding = B) buffer BufI##B { int d[]; } bi##B;

#ifdef STORAGE_SMALL
#define DECL_BUF(B)                                                            \
    DECL_BUF_WORDS(B)                                                          \
    layout(std430, set = 0, binding = B) buffer BufB##B { uint8_t d[]; } b8##B; \
    layout(std430, set = 0, binding = B) buffer BufH##B { uint16_t d[]; } bh##B;
#define RD8(B, o) uint(b8##B.d[o])
#define RD16(B, o) uint(bh##B.d[(o) >> 1])
#else
#define DECL_BUF(B) DECL_BUF_WORDS(B)
#define RD8(B, o) ((bu##B.d[(o) >> 2] >> (((o)&3u) * 8u)) & 0xFFu)
#define RD16(B, o) ((bu##B.d[(o) >> 2] >> (((o)&2u) * 8u)) & 0xFFFFu)
#endif

/* ld_B(dtype, row_byte_offset, i): element i of a row, as float; the row
 * starts at a block boundary. Quant blocks: Q8_0 = fp16 d + 32 int8,
 * Q4_0 = fp16 d + 16 bytes (low nibbles values 0..15, high 16..31). */
#define DEF_LOAD(B)                                                            \
    float ldh_##B(uint o) { return unpackHalf2x16(RD16(B, o)).x; }             \
    float ld_##B(uint dt, uint row, uint i) {                                  \
        if (dt == DT_F32) return bf##B.d[(row >> 2) + i];                      \
        if (dt == DT_F16) return ldh_##B(row + 2u * i);                        \
        uint blk = i >> 5u;                                                    \
        uint j = i & 31u;                                                      \
        if (dt == DT_Q8_0) {                                                   \
            uint b = row + blk * 34u;                                          \
            return float(int(RD8(B, b + 2u + j) << 24) >> 24) * ldh_##B(b);    \
        }                                                                      \
        uint b = row + blk * 18u;                                              \
        uint q = RD8(B, b + 2u + (j & 15u));                                   \
        q = (j < 16u) ? (q & 15u) : (q >> 4u);                                 \
        return float(int(q) - 8) * ldh_##B(b);                                 \
    }
