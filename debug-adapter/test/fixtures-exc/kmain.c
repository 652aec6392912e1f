/* Test kernel for CPU exception stops. The multiboot command line names the scenario
 * ("test=pf", "test=noidt-pf", ...): each one turns on paging (the first 4 MiB identity-mapped
 * with 4 KiB pages, nothing else) and then raises one CPU exception. Lines marked FAULT-* are
 * the faulting statements the tests look up; every scenario ends by printing on COM1. */

typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

#ifndef KERNEL_BASE
#define KERNEL_BASE 0u /* 0xC0000000 for the higher-half build */
#endif
#define V2P(x) ((u32)(x) - KERNEL_BASE)
#define UNMAPPED 0xdead0000u
#define READ_ONLY 0x00300000u

struct trap_frame {
    u32 edi, esi, ebp, esp_dummy, ebx, edx, ecx, eax;
    u32 vector, error;
    u32 eip, cs, eflags;
};

struct gate {
    u16 offset_low, selector;
    u8 zero, type;
    u16 offset_high;
} __attribute__((packed));

struct idt_pointer {
    u16 limit;
    u32 base;
} __attribute__((packed));

extern void isr0(void), isr6(void), isr8(void), isr13(void), isr14(void), isr14_alt(void);

static u32 page_directory[1024] __attribute__((aligned(4096)));
static u32 low_table[1024] __attribute__((aligned(4096)));
static u32 fix_table[1024] __attribute__((aligned(4096)));
static u32 fix_page[1024] __attribute__((aligned(4096)));
static struct gate idt[256] __attribute__((aligned(8)));
static struct gate idt2[32] __attribute__((aligned(8)));
static char scenario[32];
extern u32 gdt[];
extern void enter_user(void (*entry)(void), u32 *stack);
static u32 tss[26];
static u32 user_stack[1024] __attribute__((aligned(16)));
volatile u32 divisor;
volatile u32 fixes;

static inline void outb(u16 port, u8 value) {
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline u8 inb(u16 port) {
    u8 value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

/* Waits for a byte from the keyboard controller (a key sent through QMP), so that a test can
 * change the debugger's settings while the kernel runs, before the fault. */
static void wait_for_key(void) {
    while ((inb(0x64) & 1u) == 0) {
    }
    (void)inb(0x60);
}

static void puts(const char *s) {
    for (; *s; s++) outb(0x3f8, (u8)*s);
}

static void puthex(u32 v) {
    static const char digits[] = "0123456789abcdef";
    char text[11] = "0x";
    for (int i = 0; i < 8; i++) text[2 + i] = digits[(v >> (28 - 4 * i)) & 0xf];
    text[10] = 0;
    puts(text);
}

static int equals(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

/* Copies the value of "test=" from the multiboot command line into scenario. */
static void read_scenario(u32 magic, const u32 *info) {
    scenario[0] = 0;
    if (magic != 0x2badb002 || !(info[0] & 4)) return;
    const char *c = (const char *)info[4];
    for (; *c; c++) {
        if (c[0] == 't' && c[1] == 'e' && c[2] == 's' && c[3] == 't' && c[4] == '=') {
            c += 5;
            int n = 0;
            while (*c && *c != ' ' && n < (int)sizeof scenario - 1) scenario[n++] = *c++;
            scenario[n] = 0;
            return;
        }
    }
}

static void set_gate(int vector, void (*handler)(void)) {
    u32 a = (u32)handler;
    idt[vector] = (struct gate){ (u16)a, 0x08, 0, 0x8e, (u16)(a >> 16) };
}

static void load_idt(void) {
    set_gate(0, isr0);
    set_gate(6, isr6);
    set_gate(8, isr8);
    set_gate(13, isr13);
    set_gate(14, isr14);
    struct idt_pointer p = { sizeof idt - 1, (u32)idt };
    __asm__ volatile("lidt %0" : : "m"(p));
}

/* test=reload-pf: a second, smaller IDT whose #PF gate leads to isr14_alt. */
static void reload_idt(void) {
    for (int v = 0; v < 32; v++) idt2[v] = idt[v];
    u32 a = (u32)isr14_alt;
    idt2[14] = (struct gate){ (u16)a, 0x08, 0, 0x8e, (u16)(a >> 16) };
    struct idt_pointer p = { sizeof idt2 - 1, (u32)idt2 };
    __asm__ volatile("lidt %0" : : "m"(p));
}

static void enable_paging(void) {
    for (u32 i = 0; i < 1024; i++) low_table[i] = (i << 12) | 3;
    page_directory[0] = V2P(low_table) | 3;
    page_directory[KERNEL_BASE >> 22] = V2P(low_table) | 3;
    __asm__ volatile("mov %0, %%cr3" : : "r"(V2P(page_directory)));
    u32 cr0;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | 0x80000000u));
}

/* The #PF handler of test=fixpf: maps the faulting page and returns to retry the write. */
static int fix_page_fault(void) {
    u32 cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    if (cr2 >> 12 != UNMAPPED >> 12) return 0;
    fix_table[(cr2 >> 12) & 0x3ff] = V2P(fix_page) | 3;
    page_directory[cr2 >> 22] = V2P(fix_table) | 3;
    __asm__ volatile("invlpg (%0)" : : "r"(cr2) : "memory");
    fixes++;
    return 1;
}

void trap(struct trap_frame *f) {
    if (f->vector == 14 && equals(scenario, "fixpf") && fix_page_fault()) return;
    puts("unhandled exception ");
    puthex(f->vector);
    puts(" error ");
    puthex(f->error);
    puts(" eip ");
    puthex(f->eip);
    puts("\n");
    for (;;) __asm__ volatile("cli; hlt");
}

__attribute__((noinline)) void poke(volatile u32 *where, u32 value) {
    *where = value; /* FAULT-PF */
}

/* test=user-pf: ring 3 code that writes to the unmapped page. */
__attribute__((noinline)) void user_main(void) {
    poke((volatile u32 *)UNMAPPED, 0x9abc);
    for (;;) {
    }
}

/* A TSS for the ring 0 stack, and every page (and the directory entry) user-accessible. */
static void prepare_user(void) {
    extern char stack_top[];
    tss[1] = (u32)stack_top; /* esp0 */
    tss[2] = 0x10;           /* ss0 */
    u32 base = (u32)tss, limit = sizeof tss - 1;
    gdt[10] = (base << 16) | (limit & 0xffff);
    gdt[11] = (base & 0xff000000) | ((base >> 16) & 0xff) | 0x8900 | (limit & 0xf0000);
    __asm__ volatile("ltr %0" : : "r"((u16)0x28));
    for (u32 i = 0; i < 1024; i++) low_table[i] |= 4;
    page_directory[0] |= 4;
    page_directory[KERNEL_BASE >> 22] |= 4;
    __asm__ volatile("mov %%cr3, %%eax; mov %%eax, %%cr3" : : : "eax", "memory");
}

__attribute__((noinline)) u32 divide(u32 a) {
    return a / divisor; /* FAULT-DE */
}

__attribute__((noinline)) void bad_selector(void) {
    __asm__ volatile("mov %0, %%ds" : : "r"(0x1234)); /* FAULT-GP */
}

__attribute__((noinline)) void invalid_opcode(void) {
    __asm__ volatile("ud2"); /* FAULT-UD */
}

void kmain(u32 magic, const u32 *info) {
    read_scenario(magic, info);
    puts("scenario ");
    puts(scenario);
    puts("\n");
    enable_paging();
    if (!equals(scenario, "noidt-pf")) load_idt();
    if (equals(scenario, "reload-pf")) reload_idt();
    if (equals(scenario, "key-pf")) {
        puts("waiting for a key\n");
        wait_for_key();
        poke((volatile u32 *)UNMAPPED, 0x1234);
    } else if (equals(scenario, "pf") || equals(scenario, "reload-pf") || equals(scenario, "noidt-pf") || equals(scenario, "fixpf")) {
        poke((volatile u32 *)UNMAPPED, 0x1234);
        puts("after poke: ");
        puthex(*(volatile u32 *)UNMAPPED);
        puts(" fixes ");
        puthex(fixes);
        puts("\n");
    } else if (equals(scenario, "reset")) {
        outb(0x64, 0xfe); /* the keyboard controller's reset line: a reboot, not a fault */
    } else if (equals(scenario, "user-pf")) {
        prepare_user();
        enter_user(user_main, user_stack + 1024);
    } else if (equals(scenario, "wp")) {
        /* A present, read-only page, and CR0.WP so that ring 0 writes to it fault too. */
        low_table[READ_ONLY >> 12] &= ~2u;
        u32 cr0;
        __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
        __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | 0x10000u));
        poke((volatile u32 *)READ_ONLY, 0x5678);
    } else if (equals(scenario, "de")) {
        puthex(divide(7));
    } else if (equals(scenario, "df")) {
        idt[0].type &= 0x7f; /* #DE's gate not present: delivering #DE raises #NP, then #DF */
        puthex(divide(7));
    } else if (equals(scenario, "gp")) {
        bad_selector();
    } else if (equals(scenario, "ud")) {
        invalid_opcode();
    }
    puts("scenario done\n");
    for (;;) __asm__ volatile("cli; hlt");
}
