/* test_v86.c: DOS tasks in V86 mode running the programs of guest/dos/ (each checks its own
 * results and reports pass/fail through INT 21h AH=0FFh), and tiny images built here for
 * the exit paths: task creation and its first megabyte, the sensitive instructions, the
 * INT 21h memory functions, a fault that ends only that task, the XMS functions through the
 * far-call entry (xms.far_*), and a DPMI client (dpmi.client_*). Every run checks that the
 * finished task's memory was freed: page tables, DOS arena, XMS handles, DPMI blocks. */
#include "dos.h"
#include "dpmi.h"
#include "mm.h"
#include "paging.h"
#include "proc.h"
#include "string.h"
#include "test.h"
#include "timer.h"
#include "v86.h"
#include "xms.h"

struct run {
    uint32_t status, exit_code, reports, report_code, checkpoints, fault_vector, mode;
    char out[V86_OUT_LEN];
};

/* What the system holds before a run, compared after it. */
struct held { uint32_t frames, dos_free, xms, dpmi, procs; };

static void held_now(struct held *h)
{
    h->frames = pt_frames_used();
    dos_stats(&h->dos_free, 0);
    h->xms = xms_handles.length;
    h->dpmi = dpmi_blocks.length;
    h->procs = proc_table.length;
}

static const char *held_same(const struct held *a)
{
    struct held b;
    held_now(&b);
    CHECK_EQ(b.frames, a->frames);
    CHECK_EQ(b.dos_free, a->dos_free);
    CHECK_EQ(b.xms, a->xms);
    CHECK_EQ(b.dpmi, a->dpmi);
    CHECK_EQ(b.procs, a->procs);
    return 0;
}

/* Collects a zombie task's results, reaps it, checks it is gone. */
static const char *finish(struct pcb *p, struct run *r)
{
    struct v86_task *v = p->v86;
    CHECK(v);
    CHECK_EQ(p->state, PROC_ZOMBIE);
    r->status = v->status;
    r->exit_code = p->exit_code;
    r->reports = v->reports;
    r->report_code = v->report_code;
    r->checkpoints = v->checkpoints;
    r->fault_vector = v->faults ? v->fault_vector : 0xFFFFFFFFu;
    r->mode = p->mode;
    memcpy(r->out, v->out, sizeof r->out);
    CHECK_EQ(v->low_chain, 0);          /* the task freed its low chain */
    uint32_t pid = p->pid;
    CHECK_OK(proc_reap(pid));
    CHECK(!proc_find(pid));
    return 0;
}

/* Runs one image as a DOS task to its end (10 s at most) and checks nothing leaked. */
static const char *run_image(const char *name, const uint8_t *image, uint32_t size, struct run *r)
{
    struct held h;
    held_now(&h);
    struct pcb *p = v86_task_create(name, image, size);
    CHECK(p);
    CHECK_EQ(p->mode, PROC_MODE_V86);
    sched_enable(1);
    int w = v86_task_wait(p, 10000);
    if (w != 0 && v86_task_kill(p) == 0)     /* a hung program: end it, so later tests run */
        v86_task_wait(p, 2000);
    sched_enable(0);
    const char *e = finish(p, r);
    if (e)
        return e;
    CHECK_EQ(w, 0);
    return held_same(&h);
}

/* mov cx,0FFFFh; here: loop here; jmp short -7 (spins forever, never calls the kernel) */
static const uint8_t img_spin[] = {0xB9, 0xFF, 0xFF, 0xE2, 0xFE, 0xEB, 0xF9};

TEST(v86, kill_from_outside)
{
    struct held h;
    held_now(&h);
    struct pcb *p = v86_task_create("spinner", img_spin, sizeof img_spin);
    CHECK(p);
    CHECK_EQ(v86_task_kill(p), 0);      /* not run yet: its first frame is a V86 frame */
    CHECK_EQ((uint32_t)v86_task_kill(p), (uint32_t)-1);   /* again: it now resumes in the kernel */
    sched_enable(1);
    int w = v86_task_wait(p, 5000);
    sched_enable(0);
    struct run r;
    const char *e = finish(p, &r);
    if (e)
        return e;
    CHECK_EQ(w, 0);
    CHECK_EQ(r.status, V86_KILLED);
    CHECK_EQ(r.exit_code, V86_EXIT_TERMINATED);
    return held_same(&h);
}

TEST(v86, kill_a_running_spinner)
{
    struct held h;
    held_now(&h);
    struct pcb *p = v86_task_create("spinner", img_spin, sizeof img_spin);
    CHECK(p);
    sched_enable(1);
    int w = v86_task_wait(p, 200);       /* it spins: still running after 200 ms */
    int k = v86_task_kill(p);            /* preempted in V86 mode: its frame is a user frame */
    int w2 = v86_task_wait(p, 5000);
    sched_enable(0);
    CHECK_EQ(w, -1);
    CHECK_EQ(k, 0);
    CHECK_EQ(w2, 0);
    struct run r;
    const char *e = finish(p, &r);
    if (e)
        return e;
    CHECK_EQ(r.status, V86_KILLED);
    return held_same(&h);
}

static const char *run_program(const char *name, struct run *r)
{
    const struct dos_program *prog = dos_program_find(name);
    CHECK(prog);
    return run_image(name, prog->start, prog->size, r);
}

/* Runs a program of guest/dos/ and requires its pass report, exit code 0, and the
 * checkpoint groups in `groups`. */
static const char *require_pass(const char *name, uint32_t groups, struct run *r)
{
    const char *e = run_program(name, r);
    if (e)
        return e;
    if (r->status != V86_PASSED)
        return test_fail(__FILE__, __LINE__, "%s: status %u, failed check %u", name, r->status, r->report_code);
    CHECK_EQ(r->exit_code, 0);
    CHECK_EQ(r->checkpoints & groups, groups);
    return 0;
}

TEST(v86, task_create_first_megabyte)
{
    const struct dos_program *prog = dos_program_find("memtest");
    CHECK(prog);
    uint32_t blocks = mm_client_blocks();
    struct held h;
    held_now(&h);
    struct pcb *p = v86_task_create("layout", prog->start, prog->size);
    CHECK(p);
    struct v86_task *v = p->v86;
    CHECK(v);
    CHECK_EQ(p->mode, PROC_MODE_V86);
    CHECK_EQ(p->state, PROC_READY);
    CHECK(mm_chain_valid(v->low_chain));
    CHECK_EQ(v->low_pages, 16);
    CHECK_EQ(v->mcb_owner, p->pid + 1);
    CHECK_EQ(v->psp_seg, V86_PSP_SEG);
    CHECK_EQ(v->status, V86_RUNNING);
    CHECK_EQ(mm_client_blocks(), blocks + 4);           /* 64 KiB of low chain */
    uint32_t flags;
    CHECK_OK(MmChainFlags(v->low_chain, &flags));
    CHECK(flags & CHAIN_FROZEN);
    /* 0-64 KiB: the low chain's pages, user-accessible */
    for (uint32_t pg = 0; pg < 16; pg++) {
        uint32_t phys, pte = mm_lookup_pte(pg * MM_PAGE_SIZE, p->upd);
        CHECK_OK(MmChainPagePhysical(v->low_chain, pg, &phys));
        CHECK_EQ(pte & (PTE_ADDR | PTE_P | PTE_U | PTE_W), phys | PTE_P | PTE_U | PTE_W);
    }
    /* the DOS arena at its own address */
    for (uint32_t a = DOS_ARENA_START_SEG * 16u; a < DOS_ARENA_END_SEG * 16u; a += MM_PAGE_SIZE)
        CHECK_EQ(mm_lookup_pte(a, p->upd) & (PTE_ADDR | PTE_P | PTE_U), a | PTE_P | PTE_U);
    CHECK_EQ(mm_lookup_pte(DOS_ARENA_END_SEG * 16u, p->upd), 0);   /* nothing above */
    CHECK_EQ(mm_lookup_pte(0xB8000, p->upd), 0);
    /* the program at PSP:0100h, INT 20h at PSP:0, the IVT pointing at the IRET stub */
    uint32_t phys;
    uint8_t got[16];
    CHECK_OK(MmChainPagePhysical(v->low_chain, (V86_PSP_SEG * 16u + 0x100) / MM_PAGE_SIZE, &phys));
    mm_phys_read(phys + ((V86_PSP_SEG * 16u + 0x100) & (MM_PAGE_SIZE - 1)), got, sizeof got);
    CHECK(!memcmp(got, prog->start, sizeof got));
    CHECK_OK(MmChainPagePhysical(v->low_chain, (V86_PSP_SEG * 16u) / MM_PAGE_SIZE, &phys));
    mm_phys_read(phys + ((V86_PSP_SEG * 16u) & (MM_PAGE_SIZE - 1)), got, 2);
    CHECK_EQ(got[0], 0xCD);
    CHECK_EQ(got[1], 0x20);
    uint32_t ivt21;
    CHECK_OK(MmChainPagePhysical(v->low_chain, 0, &phys));
    mm_phys_read(phys + 0x21 * 4, &ivt21, 4);
    CHECK_EQ(ivt21, V86_IVT_STUB_SEG << 16);
    /* it runs to its end, and its memory is freed when it does */
    sched_enable(1);
    int w = v86_task_wait(p, 10000);
    sched_enable(0);
    CHECK_EQ(w, 0);
    struct run r;
    const char *e = finish(p, &r);
    if (e)
        return e;
    CHECK_EQ(r.status, V86_PASSED);
    CHECK_EQ(mm_client_blocks(), blocks);
    return held_same(&h);
}

TEST(v86, create_refuses_bad_images)
{
    static const uint8_t one[1] = {0xC3};
    struct held h;
    held_now(&h);
    uint32_t blocks = mm_client_blocks();
    CHECK(!v86_task_create("empty", one, 0));
    CHECK(!v86_task_create("null", 0, 1));
    CHECK(!v86_task_create("huge", one, V86_MAX_PROGRAM + 1));
    CHECK_EQ(mm_client_blocks(), blocks);
    return held_same(&h);
}

TEST(v86, sensitive_instructions)
{
    struct run r;
    return require_pass("insn", 0, &r);
}

TEST(v86, int21_memory_functions)
{
    struct run r;
    const char *e = require_pass("memtest", 0, &r);
    if (e)
        return e;
    CHECK_EQ(r.reports, 1);
    return 0;
}

/* mov ax,0FF01h; mov dx,7; int 21h; mov ax,4C03h; int 21h */
static const uint8_t img_report_fail[] = {0xB8, 0x01, 0xFF, 0xBA, 0x07, 0x00, 0xCD, 0x21, 0xB8, 0x03, 0x4C, 0xCD, 0x21};
/* mov ah,9; mov dx,0108h; int 21h; ret; "hi$" -> RET to PSP:0 (INT 20h) */
static const uint8_t img_print_ret[] = {0xB4, 0x09, 0xBA, 0x08, 0x01, 0xCD, 0x21, 0xC3, 'h', 'i', '$'};
/* hlt */
static const uint8_t img_hlt[] = {0xF4};

TEST(v86, report_and_exit_codes)
{
    struct run r;
    const char *e = run_image("failer", img_report_fail, sizeof img_report_fail, &r);
    if (e)
        return e;
    CHECK_EQ(r.status, V86_FAILED);
    CHECK_EQ(r.report_code, 7);
    CHECK_EQ(r.exit_code, 3);
    e = run_image("printer", img_print_ret, sizeof img_print_ret, &r);
    if (e)
        return e;
    CHECK_EQ(r.status, V86_FAILED);      /* ended without a report */
    CHECK_EQ(r.exit_code, 0);            /* through INT 20h at PSP:0 */
    CHECK(!strcmp(r.out, "hi"));
    return 0;
}

TEST(v86, fault_ends_only_that_task)
{
    const struct dos_program *bad = dos_program_find("fault"), *good = dos_program_find("insn");
    CHECK(bad && good);
    struct held h;
    held_now(&h);
    uint32_t blocks = mm_client_blocks();
    struct pcb *pb = v86_task_create("faulter", bad->start, bad->size);
    struct pcb *pg = v86_task_create("bystander", good->start, good->size);
    struct pcb *ph = v86_task_create("halter", img_hlt, sizeof img_hlt);
    CHECK(pb && pg && ph);
    sched_enable(1);
    int w = v86_task_wait(pb, 10000) | v86_task_wait(pg, 10000) | v86_task_wait(ph, 10000);
    sched_enable(0);
    CHECK_EQ(w, 0);
    struct run rb, rg, rh;
    const char *e = finish(pb, &rb);
    if (!e)
        e = finish(pg, &rg);
    if (!e)
        e = finish(ph, &rh);
    if (e)
        return e;
    CHECK_EQ(rb.status, V86_KILLED);     /* overrides its own pass report */
    CHECK_EQ(rb.reports, 1);
    CHECK_EQ(rb.fault_vector, 14);
    CHECK_EQ(rb.exit_code, V86_EXIT_KILLED | 14);
    CHECK_EQ(rh.status, V86_KILLED);     /* HLT is not emulated: #GP */
    CHECK_EQ(rh.fault_vector, 13);
    CHECK_EQ(rg.status, V86_PASSED);     /* the other task was not touched */
    CHECK_EQ(mm_client_blocks(), blocks);   /* its DOS block, XMS block, low chain: freed */
    return held_same(&h);
}

/* ---- XMS through the far-call entry (dos/xmstest.S: checkpoint groups) ---- */

TEST(xms, far_installed_and_entry) { struct run r; return require_pass("xmstest", 1u << 1, &r); }
TEST(xms, far_version_and_query_free) { struct run r; return require_pass("xmstest", 1u << 2, &r); }
TEST(xms, far_alloc_and_handle_info) { struct run r; return require_pass("xmstest", 1u << 3, &r); }
TEST(xms, far_move_conventional_extended) { struct run r; return require_pass("xmstest", (1u << 4) | (1u << 9), &r); }
TEST(xms, far_lock_unlock) { struct run r; return require_pass("xmstest", 1u << 5, &r); }
TEST(xms, far_realloc) { struct run r; return require_pass("xmstest", 1u << 6, &r); }
TEST(xms, far_free) { struct run r; return require_pass("xmstest", 1u << 7, &r); }
TEST(xms, far_hma_a20_umb_answers) { struct run r; return require_pass("xmstest", 1u << 8, &r); }

/* ---- a DPMI client (dos/dpmitest.S) ---- */

TEST(dpmi, client_switch)
{
    struct run r;
    const char *e = require_pass("dpmitest", 1u << 1, &r);
    if (e)
        return e;
    CHECK_EQ(r.mode, PROC_MODE_DPMI);
    CHECK(!strcmp(r.out, "dpmitest: protected mode done"));   /* INT 21h 09h from PM */
    return 0;
}
TEST(dpmi, client_descriptors) { struct run r; return require_pass("dpmitest", (1u << 2) | (1u << 3) | (1u << 8), &r); }
TEST(dpmi, client_memory_alloc_resize_free) { struct run r; return require_pass("dpmitest", (1u << 3) | (1u << 4) | (1u << 7), &r); }
TEST(dpmi, client_lock_and_free_info) { struct run r; return require_pass("dpmitest", 1u << 5, &r); }
TEST(dpmi, client_dos_memory) { struct run r; return require_pass("dpmitest", 1u << 6, &r); }

TEST(dpmi, client_fault_kills_task)
{
    struct run r;
    const char *e = run_program("dpmifault", &r);   /* checks its DPMI and DOS memory were freed */
    if (e)
        return e;
    if (r.report_code)
        return test_fail(__FILE__, __LINE__, "dpmifault failed its check %u", r.report_code);
    CHECK_EQ(r.reports, 1);              /* it got as far as its pass report */
    CHECK_EQ(r.mode, PROC_MODE_DPMI);
    CHECK_EQ(r.status, V86_KILLED);
    CHECK_EQ(r.fault_vector, 14);
    CHECK_EQ(r.exit_code, V86_EXIT_KILLED | 14);
    return 0;
}

/* mov ah,86h; xor cx,cx; mov dx,50000; int 15h; mov ax,0FF00h; int 21h; mov ax,4C00h; int 21h */
static const uint8_t img_wait[] = {0xB4, 0x86, 0x31, 0xC9, 0xBA, 0x50, 0xC3, 0xCD, 0x15,
                                   0xB8, 0x00, 0xFF, 0xCD, 0x21, 0xB8, 0x00, 0x4C, 0xCD, 0x21};

TEST(v86, bios_wait_sleeps_the_task)
{
    struct held h;
    held_now(&h);
    struct pcb *p = v86_task_create("waiter", img_wait, sizeof img_wait);
    CHECK(p);
    uint32_t t0 = timer_ms(), seen_sleeping = 0;
    sched_enable(1);
    while (p->state != PROC_ZOMBIE && timer_ms() - t0 < 5000) {
        seen_sleeping |= p->state == PROC_SLEEPING;
        proc_sleep(1);
    }
    uint32_t took = timer_ms() - t0;
    sched_enable(0);
    struct run r;
    const char *e = finish(p, &r);
    if (e)
        return e;
    CHECK_EQ(r.status, V86_PASSED);
    CHECK(took >= 50);                   /* 50 000 microseconds at least */
    CHECK(seen_sleeping);                /* it slept, it did not spin */
    return held_same(&h);
}

TEST(v86, demo_program_rounds)
{
    struct run r;
    const char *e = require_pass("dosdemo", 0, &r);
    if (e)
        return e;
    CHECK(!strcmp(r.out, "dosdemo: 20 rounds of DOS block -> XMS -> conventional ok"));
    return 0;
}

TEST(v86, create_out_of_memory_leaves_nothing)
{
    static const uint8_t ret_img[1] = {0xC3};
    struct held h;
    held_now(&h);
    uint32_t blocks = mm_client_blocks(), pcbs = proc_table.length;
    chain_id_t hog = MmAllocateChain(0, mm_free_blocks - 3);   /* 3 blocks left: a low chain needs 4 */
    CHECK(hog);
    struct pcb *p = v86_task_create("starved", ret_img, sizeof ret_img);
    uint32_t after = proc_table.length;
    CHECK_OK(MmFreeChain(hog));
    CHECK(!p);
    CHECK_EQ(after, pcbs);
    CHECK_EQ(mm_client_blocks(), blocks);
    return held_same(&h);
}
