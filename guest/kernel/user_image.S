/* user_image.S: the user image (build/user.bin, linked from user/ by user/user.ld) embedded
 * in the kernel's read-only data; kernel/usermode.c copies it into each user process. */
    .section .rodata.user_image, "a"
    .balign 4096
    .global user_image_start, user_image_end
user_image_start:
    .incbin "build/user.bin"
user_image_end:
    .balign 4

    .section .note.GNU-stack, "", @progbits
