/* The x86-64 build of the test kernel for CPU exception stops (kmain.c is the i386 one, with the
 * same scenarios and markers). The multiboot command line names the scenario ("test=pf", ...):
 * each one builds 4-level page tables (the first GiB identity-mapped and at 0xffffffff80000000
 * with 2 MiB pages, except 0x200000-0x3fffff with 4 KiB pages; nothing at 0xdead0000) and then
 * raises one CPU exception. Lines marked FAULT-* are the faulting statements the tests look up;
 * every scenario ends by printing on COM1. */

typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

#define KERNEL_VMA 0xffffffff80000000ul
#define V2P(x) ((u64)(x) - KERNEL_VMA)
#define UNMAPPED 0xdead0000ul
#define READ_ONLY 0x00300000ul

struct trap_frame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
    u64 vector, error;
    u64 rip, cs, rflags, rsp, ss;
};

struct gate {
    u16 offset_low, selector;
    u8 ist, type;
    u16 offset_mid;
    u32 offset_high, zero;
} __attribute__((packed));

struct idt_pointer {
    u16 limit;
    u64 base;
} __attribute__((packed));

extern void isr0(void), isr3(void), isr6(void), isr8(void), isr13(void), isr14(void), isr14_alt(void);
extern u64 gdt[];
extern char stack_top[];
extern void enter_user(void (*entry)(void), u64 *stack);

static u64 pml4[512] __attribute__((aligned(4096)));
static u64 pdpt_low[512] __attribute__((aligned(4096)));
static u64 pdpt_high[512] __attribute__((aligned(4096)));
static u64 pd[512] __attribute__((aligned(4096)));
static u64 low_table[512] __attribute__((aligned(4096)));
static u64 fix_pd[512] __attribute__((aligned(4096)));
static u64 fix_table[512] __attribute__((aligned(4096)));
static u64 fix_page[512] __attribute__((aligned(4096)));
static struct gate idt[256] __attribute__((aligned(16)));
static struct gate idt2[32] __attribute__((aligned(16)));
static char scenario[32];
static u32 tss[26] __attribute__((aligned(16)));
static u64 user_stack[512] __attribute__((aligned(16)));
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

static void wait_for_key(void) {
    while ((inb(0x64) & 1u) == 0) {
    }
    (void)inb(0x60);
}

static void puts(const char *s) {
    for (; *s; s++) outb(0x3f8, (u8)*s);
}

static void puthex(u64 v) {
    static const char digits[] = "0123456789abcdef";
    char text[19] = "0x";
    for (int i = 0; i < 16; i++) text[2 + i] = digits[(v >> (60 - 4 * i)) & 0xf];
    text[18] = 0;
    puts(text);
}

static int equals(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

/* Copies the value of "test=" from the multiboot command line (identity-mapped) into scenario. */
static void read_scenario(u64 magic, const u32 *info) {
    scenario[0] = 0;
    if (magic != 0x2badb002 || !(info[0] & 4)) return;
    const char *c = (const char *)(u64)info[4];
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

static struct gate gate_to(void (*handler)(void)) {
    u64 a = (u64)handler;
    return (struct gate){ (u16)a, 0x08, 0, 0x8e, (u16)(a >> 16), (u32)(a >> 32), 0 };
}

static void load_idt(void) {
    idt[0] = gate_to(isr0);
    idt[3] = gate_to(isr3);
    idt[3].type = 0xee; /* DPL 3: int3 is allowed from any ring */
    idt[6] = gate_to(isr6);
    idt[8] = gate_to(isr8);
    idt[13] = gate_to(isr13);
    idt[14] = gate_to(isr14);
    struct idt_pointer p = { sizeof idt - 1, (u64)idt };
    __asm__ volatile("lidt %0" : : "m"(p));
}

/* test=reload-pf: a second, smaller IDT whose #PF gate leads to isr14_alt. */
static void reload_idt(void) {
    for (int v = 0; v < 32; v++) idt2[v] = idt[v];
    idt2[14] = gate_to(isr14_alt);
    struct idt_pointer p = { sizeof idt2 - 1, (u64)idt2 };
    __asm__ volatile("lidt %0" : : "m"(p));
}

static void enable_paging(void) {
    for (u64 i = 0; i < 512; i++) pd[i] = (i << 21) | 0x83;
    for (u64 i = 0; i < 512; i++) low_table[i] = (0x200000 + (i << 12)) | 3;
    pd[1] = V2P(low_table) | 3;
    pdpt_low[0] = V2P(pd) | 3;
    pdpt_high[510] = V2P(pd) | 3;
    pml4[0] = V2P(pdpt_low) | 3;
    pml4[511] = V2P(pdpt_high) | 3;
    __asm__ volatile("mov %0, %%cr3" : : "r"(V2P(pml4)) : "memory");
}

/* The #PF handler of test=fixpf: maps the faulting page and returns to retry the write. */
static int fix_page_fault(void) {
    u64 cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    if (cr2 >> 12 != UNMAPPED >> 12) return 0;
    fix_table[(cr2 >> 12) & 511] = V2P(fix_page) | 3;
    fix_pd[(cr2 >> 21) & 511] = V2P(fix_table) | 3;
    pdpt_low[(cr2 >> 30) & 511] = V2P(fix_pd) | 3;
    __asm__ volatile("invlpg (%0)" : : "r"(cr2) : "memory");
    fixes++;
    return 1;
}

void trap(struct trap_frame *f) {
    if (f->vector == 14 && equals(scenario, "fixpf") && fix_page_fault()) return;
    if (f->vector == 3) {
        puts("breakpoint trap\n");
        return;
    }
    puts("unhandled exception ");
    puthex(f->vector);
    puts(" error ");
    puthex(f->error);
    puts(" rip ");
    puthex(f->rip);
    puts("\n");
    for (;;) __asm__ volatile("cli; hlt");
}

__attribute__((noinline)) void poke(volatile u32 *where, u32 value) {
    *where = value; /* FAULT-PF */
}

__attribute__((noinline)) u32 peek(volatile u32 *where) {
    return *where; /* FAULT-PF-READ */
}

/* test=user-pf: ring 3 code that writes to the unmapped page. */
__attribute__((noinline)) void user_main(void) {
    poke((volatile u32 *)UNMAPPED, 0x9abc);
    for (;;) {
    }
}

/* A 64-bit TSS for the ring 0 stack, and every page (and each table entry) user-accessible. */
static void prepare_user(void) {
    u64 rsp0 = (u64)stack_top;
    tss[1] = (u32)rsp0;
    tss[2] = (u32)(rsp0 >> 32);
    u64 base = (u64)tss, limit = sizeof tss - 1;
    gdt[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ul << 40) | (((base >> 24) & 0xff) << 56);
    gdt[6] = base >> 32;
    __asm__ volatile("ltr %0" : : "r"((u16)0x28));
    for (u64 i = 0; i < 512; i++) pd[i] |= 4, low_table[i] |= 4;
    pdpt_low[0] |= 4;
    pdpt_high[510] |= 4;
    pml4[0] |= 4;
    pml4[511] |= 4;
    __asm__ volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" : : : "rax", "memory");
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

__attribute__((noinline)) void breakpoint(void) {
    __asm__ volatile("int3\n\tnop"); /* FAULT-BP */
}

void kmain(u64 magic, const u32 *info) {
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
    } else if (equals(scenario, "rpf")) {
        puthex(peek((volatile u32 *)UNMAPPED));
    } else if (equals(scenario, "reset")) {
        outb(0x64, 0xfe);
    } else if (equals(scenario, "user-pf")) {
        prepare_user();
        enter_user(user_main, user_stack + 512);
    } else if (equals(scenario, "wp")) {
        low_table[(READ_ONLY >> 12) & 511] &= ~2ul;
        u64 cr0;
        __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
        __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | 0x10000ul));
        __asm__ volatile("invlpg (%0)" : : "r"(READ_ONLY) : "memory");
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
    } else if (equals(scenario, "bp")) {
        breakpoint();
    }
    puts("scenario done\n");
    for (;;) __asm__ volatile("cli; hlt");
}
