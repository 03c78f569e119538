# cmake -P embed_cl.cmake: concatenates OpenCL C sources into one C array.
# Inputs: SOURCES ("|"-separated .cl paths, in program order), NAMES (the
# same files as the banner should name them), OUT (the .c to write).
# The array is bytes, not a string literal: ISO C limits literals to 4095
# characters and the build uses -Wpedantic.
string(REPLACE "|" ";" SOURCES "${SOURCES}")
string(REPLACE "|" ";" NAMES "${NAMES}")
set(all "")
set(banner_files "")
foreach(src ${SOURCES})
  file(READ ${src} text)
  get_filename_component(fname ${src} NAME)
  string(APPEND all "/* ---- ${fname} ---- */\n${text}\n")
endforeach()
foreach(n ${NAMES})
  string(APPEND banner_files " *   ${n}\n")
endforeach()
string(REPLACE ";" " " names_line "${NAMES}")
file(WRITE ${OUT}.txt "${all}")
file(READ ${OUT}.txt hex HEX)
file(REMOVE ${OUT}.txt)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "/* GENERATED FILE - do not edit.
 * Sources (concatenated in this order):
${banner_files} * Command: cmake -DSOURCES=<the files above> -DNAMES=... -DOUT=<this file>
 *          -P backends/opencl/embed_cl.cmake
 * The build regenerates it when a kernel source changes. */
extern const char ehal_cl_kernel_source[];
extern const char ehal_cl_kernel_source_files[];
const char ehal_cl_kernel_source[] = {
${bytes}0x00};
const char ehal_cl_kernel_source_files[] = \"${names_line}\";
")
