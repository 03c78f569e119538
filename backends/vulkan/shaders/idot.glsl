/*
 * Integer dot products of Q8_0-style blocks held as 8 words of 4 packed
 * int8 (lowest byte first). USE_INT_DOT: SPIR-V OpSDot with the 4x8-bit
 * packed format (SPV_KHR_integer_dot_product; the host builds these
 * variants only where the device reports shaderIntegerDotProduct and
 * enables the feature). glslc here has no GL_EXT_integer_dot_product, so
 * the instruction is declared through GL_EXT_spirv_intrinsics: 4450 is
 * OpSDot, 6018/6019 the DotProductInput4x8BitPacked/DotProduct
 * capabilities, literal 0 PackedVectorFormat4x8Bit. Without it: the bytes
 * are sign-extended with bitfieldExtract and multiplied in 32-bit ints.
 * Either way the result is the exact integer sum.
 */
#ifndef EHAL_IDOT_GLSL
#define EHAL_IDOT_GLSL
#ifdef USE_INT_DOT
#extension GL_EXT_spirv_intrinsics : require
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018],
                  id = 4450)
int sdot_4x8_packed(uint a, uint b, spirv_literal int fmt);
int dot4x8(uint a, uint b) { return sdot_4x8_packed(a, b, 0); }
#else
int dot4x8(uint a, uint b) {
    int s = 0;
    for (int k = 0; k < 32; k += 8) s += bitfieldExtract(int(a), k, 8) * bitfieldExtract(int(b), k, 8);
    return s;
}
#endif

int dot_block(uint w[8], uint x[8]) {
    int s = 0;
    for (int i = 0; i < 8; i++) s += dot4x8(w[i], x[i]);
    return s;
}

/* Q4_0 nibbles (4 per word, values 0..15) -> 4 packed int8 values - 8:
 * adding 0x78 keeps every byte below 0x100 (no carry), the xor flips the
 * bias from +0x80 to two's complement. */
uint q4_nibbles_to_i8(uint nib) { return ((nib & 0x0F0F0F0Fu) + 0x78787878u) ^ 0x80808080u; }
#endif
