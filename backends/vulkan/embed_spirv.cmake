# cmake -P embed_spirv.cmake: turns one SPIR-V file into a C source.
# Inputs: SPV (the .spv), OUT (the .c), SYMBOL (C identifier), SOURCE (the
# .comp it came from), COMMAND (the glslc command line, for the banner).
file(READ ${SPV} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR words "${n} / 8")
set(body "")
set(i 0)
while(i LESS n)
  # SPIR-V words are little-endian in the file; emit them as uint32 values.
  string(SUBSTRING "${hex}" ${i} 8 w)
  string(SUBSTRING "${w}" 6 2 b3)
  string(SUBSTRING "${w}" 4 2 b2)
  string(SUBSTRING "${w}" 2 2 b1)
  string(SUBSTRING "${w}" 0 2 b0)
  string(APPEND body "0x${b3}${b2}${b1}${b0}u,")
  math(EXPR i "${i} + 8")
  math(EXPR col "(${i} / 8) % 8")
  if(col EQUAL 0)
    string(APPEND body "\n")
  endif()
endwhile()
file(WRITE ${OUT} "/* GENERATED FILE - do not edit.
 * Source:  ${SOURCE}
 * Command: ${COMMAND}
 * Embedded by backends/vulkan/embed_spirv.cmake; the build regenerates it
 * when the shader or an included file changes. */
#include <stddef.h>
#include <stdint.h>

extern const uint32_t ${SYMBOL}[];
extern const size_t ${SYMBOL}_size;
const uint32_t ${SYMBOL}[] = {
${body}
};
const size_t ${SYMBOL}_size = sizeof(${SYMBOL});
")
