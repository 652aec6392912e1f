/* Inspector fixture: globals of every shape the C formatter and expression evaluator handle.
   The tests read them from the linked image's bytes (no program runs) and compare what the
   Inspector prints with what gdb prints for the same expressions on the same file. */
typedef unsigned int u32;
typedef unsigned char u8;

enum colour { RED, GREEN = 5, BLUE };
enum perm { P_READ = 1, P_WRITE = 2, P_EXEC = 4 };

struct point { short x, y; };

struct proc {
  u32 pid;
  char name[16];
  enum colour colour;
  struct point where;
  struct proc *next;
  u32 upd[64];
  u8 *stack;
  void (*entry)(void *);
};

struct flags {
  u32 present : 1;
  u32 writable : 1;
  u32 frame : 20;
  int delta : 5;
  u8 tail;
};

union word { u32 w; u8 b[4]; };

void run_proc(void *arg) { (void)arg; }

struct proc procs[3] = {
  { 1, "kernel", GREEN, { -3, 4 }, &procs[1], { 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 1 }, 0, run_proc },
  { 2, "init\tone\n", BLUE, { 0, 0 }, &procs[2], { 0 }, 0, 0 },
  { 3, "0123456789abcdef", 42, { 1, 1 }, 0, { 1, 2, 3 }, (u8 *)"stack", 0 },
};
struct proc *current = &procs[1];
u32 table[300] = { 1, 2, 3, [10] = 9, [299] = 5 };
int matrix[2][3] = { { 1, -2, 3 }, { 4, 5, -6 } };
const char *greeting = "hello, \"world\"\a";
char empty[4];
char filled[30] = "aaaaaaaaaaaaaaaaaaaaaaaaabc";
unsigned char byte = 200;
signed char sbyte = -5;
char letter = 'q';
short neg = -1234;
long long big = -1234567890123LL;
unsigned long long ubig = 18446744073709551615ULL;
_Bool yes = 1;
float ratio = 1.5f;
double precise = -2.25;
enum colour favourite = BLUE;
enum perm rw = P_READ | P_WRITE;
enum perm odd = 8;
struct flags fl = { 1, 0, 0xabcde, -7, 9 };
union word w = { 0x11223344 };
u32 *table_ptr = &table[10];
int *null_ptr = 0;
void *opaque = &matrix;
int (*matrix_row)[3] = &matrix[1];
static int file_static = 17;
u32 zeros[64];

void _start(void) {
  for (;;) run_proc(&file_static);
}
