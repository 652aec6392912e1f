/* test_opsbench.c: the opsbench workload's operation leaves nothing behind, counts itself, and
 * fails cleanly (nothing allocated, the count unchanged) when it cannot map. */
#include "mm.h"
#include "opsbench.h"
#include "proc.h"
#include "test.h"

TEST(opsbench, operations_count_and_leave_nothing)
{
    struct opsbench_worker w = {0x01000000u, 0};
    uint32_t client0 = mm_client_blocks(), ops0 = opsbench_ops;   /* a page table may stay: not a client block */
    for (uint32_t i = 0; i < 8; i++)   /* every chain size twice */
        CHECK_OK(opsbench_op(&w, current->upd));
    CHECK_EQ(w.n, 8);
    CHECK_EQ(opsbench_ops - ops0, 8);
    CHECK_EQ(mm_client_blocks(), client0);
    return 0;
}

TEST(opsbench, unmappable_address_fails_cleanly)
{
    struct opsbench_worker w = {USER_SPACE_END, 0};   /* past the user space: MM_ERR_RANGE */
    uint32_t client0 = mm_client_blocks(), ops0 = opsbench_ops;
    CHECK_EQ(opsbench_op(&w, current->upd), MM_ERR_RANGE);
    CHECK_EQ(w.n, 0);
    CHECK_EQ(opsbench_ops, ops0);
    CHECK_EQ(mm_client_blocks(), client0);
    return 0;
}
