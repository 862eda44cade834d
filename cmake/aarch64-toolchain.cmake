# Cross toolchain for the AArch64 kernel image (the `aarch64` preset): Debian's
# g++-aarch64-linux-gnu, used freestanding (kernel/CMakeLists.txt sets the flags). Only the kernel
# is built with it; host tools and unit tests come from the x86_64 build.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_OBJCOPY aarch64-linux-gnu-objcopy CACHE FILEPATH "objcopy for the kernel image")
set(CMAKE_NM aarch64-linux-gnu-nm CACHE FILEPATH "nm for the kernel symbol table")
# A freestanding kernel cannot link the test programs CMake tries by default.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
