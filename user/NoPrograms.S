/* The program table of an image built without user programs (user/CMakeLists.txt). */
    .section .rodata
    .balign 8
    .global skiff_user_programs
    .global skiff_user_program_count
skiff_user_programs:
skiff_user_program_count:
    .quad 0
