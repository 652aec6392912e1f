/* A tiny freestanding i386 program for the stepping engine's tests against a scripted gdbstub
   (debug-adapter/test/stepping-engine-peer.test.ts): a leaf call, a recursion, an endless loop,
   an exit through QEMU's isa-debug-exit port, and a loop for a second vCPU. Built -O0 without
   endbr32; the fake machine (qemu-bridge/test/fake-i386-gdbstub.ts) interprets only the
   instructions gcc emits for it. The tests find lines by their @dap: markers. */

volatile int counter;
int total;
/* Written by a test before kmain runs: 1 makes kmain spin before it exits. */
volatile int mode;

int leaf(int x)
{
	int y = x + 2; /* @dap:leaf-body */
	return y; /* @dap:leaf-return */
}

int sum(int n)
{
	if (n <= 0) /* @dap:sum-test */
		return 0;
	return n + sum(n - 1); /* @dap:sum-recurse */
} /* @dap:sum-end */

void spin(void)
{
	for (;;)
		counter++; /* @dap:spin-body */
}

/* Ends the machine as QEMU's isa-debug-exit device does: QEMU exits with (code << 1) | 1. */
void finish(int code)
{
	__asm__ volatile("outb %b0, $0xf4" : : "a"(code)); /* @dap:finish-out */
}

/* The second vCPU's code. */
void ap_main(void)
{
	for (;;) {
		counter = counter + 1; /* @dap:ap-body */
		total = leaf(counter); /* @dap:ap-call */
	}
}

void kmain(void)
{
	int a = leaf(1); /* @dap:call-leaf */
	total = a; /* @dap:after-leaf */
	total = sum(3); /* @dap:call-sum */
	total = total + 1; /* @dap:after-sum */
	if (mode == 1) /* @dap:test-mode */
		spin(); /* @dap:call-spin */
	finish(total); /* @dap:call-finish */
} /* @dap:kmain-end */

/* The first vCPU starts here with its stack set up by the machine. */
__asm__(
  ".text\n"
  ".globl _start\n"
  "_start:\n"
  "  call kmain\n"
  "1: hlt\n"
  "  jmp 1b\n");
