# cmake -DFILE=<frozen header> -DEXPECT=<sha256> -P check_unchanged.cmake
# Fails when a frozen ABI header was edited (see README.md beside it).
file(SHA256 ${FILE} got)
if(NOT got STREQUAL EXPECT)
  message(FATAL_ERROR "${FILE} was edited (sha256 ${got}, frozen as ${EXPECT}); "
    "frozen ABI headers must never change: restore it and add a new revision directory instead")
endif()
message(STATUS "${FILE}: unchanged (sha256 ${got})")
