/* user_image.h: the user image, the one binary every ring-3 process runs. the files of user/ are
 * linked on their own (user/user.ld) at USER_IMAGE_VA, so they cannot reference the kernel;
 * the flat binary is embedded in the kernel (kernel/user_image.S) and copied into a private
 * chain of each process at creation. It starts with this header; its programs are listed in
 * a table of struct user_program (USER_PROGRAM in user/ulib.h). */
#ifndef USER_IMAGE_H
#define USER_IMAGE_H
#include <stdint.h>

#define USER_IMAGE_MAGIC 0x55534552u   /* "USER" */

struct user_program {
    uint32_t name;      /* VA of the program's name (NUL-terminated, in the image) */
    uint32_t entry;     /* VA of int main(uint32_t arg) */
};

struct user_image_header {
    uint32_t magic;           /* USER_IMAGE_MAGIC */
    uint32_t text_end;        /* VA: end of code and read-only data (page aligned) */
    uint32_t image_end;       /* VA: end of data and bss (page aligned) */
    uint32_t exit_stub;       /* VA: where main returns to (calls SYS_EXIT with its result) */
    uint32_t programs;        /* VA of the struct user_program table */
    uint32_t programs_end;
};
#endif
