/* Types fixture: one of every kind of C type the symbol reader models. The globals at the
   end are initialised with offsetof/sizeof and known values, so the tests can read the
   compiler's own answers from .data and compare them with what the reader computes. */
typedef unsigned int u32;
typedef unsigned char u8;

enum proc_state { PS_FREE, PS_READY = 3, PS_RUNNING, PS_ZOMBIE = -2 };

struct pcb {
  u32 pid;
  char name[16];
  struct pcb *next;
  enum proc_state state;
  u32 *page_directory;
  void (*entry)(int, char *);
};

union word {
  u32 w;
  u8 b[4];
  unsigned short h[2];
};

struct bits {
  u32 a : 3;
  u32 b : 5;
  u32 c : 1;
  u32 d : 12;
  u8 e;
  u32 f : 7;
  signed int g : 4;
};

struct matrix {
  int cells[3][4];
  const char *label;
  volatile u32 status;
  struct { short x, y; } point;
};

typedef struct pcb pcb_t;

struct pcb procs[8];
pcb_t *current_proc = &procs[1];
unsigned int table[64];
const char *greeting = "hi";
char *const fixed_ptr = 0;
int (*handler)(int, char);
char (*row_ptr)[10];
const volatile u32 hw_reg = 7;
union word a_word = { 0x11223344 };
struct matrix grid = { { { 1, 2, 3, 4 }, { 5, 6, 7, 8 } }, "grid", 9, { 10, 11 } };
long long big = -5;
_Bool ready = 1;
float ratio = 1.5f;
double precise = 2.25;

struct bits bits_sample = { 5, 17, 1, 3000, 200, 99, -3 };
int bits_expected[] = { 5, 17, 1, 3000, 200, 99, -3 };

enum proc_state state_sample = PS_RUNNING;
int enum_expected[] = { PS_FREE, PS_READY, PS_RUNNING, PS_ZOMBIE };

u32 pcb_offsets[] = {
  __builtin_offsetof(struct pcb, pid), __builtin_offsetof(struct pcb, name),
  __builtin_offsetof(struct pcb, next), __builtin_offsetof(struct pcb, state),
  __builtin_offsetof(struct pcb, page_directory), __builtin_offsetof(struct pcb, entry),
};
u32 matrix_offsets[] = {
  __builtin_offsetof(struct matrix, cells), __builtin_offsetof(struct matrix, label),
  __builtin_offsetof(struct matrix, status), __builtin_offsetof(struct matrix, point),
};
u32 bits_e_offset = __builtin_offsetof(struct bits, e);
u32 type_sizes[] = { sizeof(struct pcb), sizeof(union word), sizeof(struct bits), sizeof(struct matrix), sizeof(enum proc_state) };

/* A typedef that refers back to itself through a struct (Linux's work_func_t / work_struct):
 * resolving the typedef first must not look like a loop. */
struct work;
typedef void (*work_fn)(struct work *w);
work_fn work_handler;
struct work { work_fn fn; struct work *next; int id; };
struct work work_item;

int use_types(struct pcb *p, union word w) {
  return p->pid + w.b[1] + bits_sample.d;
}

void _start(void) {
  use_types(current_proc, a_word);
  for (;;) {
  }
}
