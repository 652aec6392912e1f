/* ata.c: ATA PIO, LBA28, polling (ata.h). */
#include "ata.h"
#include "x86.h"

#define ATA_DATA     0x1F0
#define ATA_ERROR    0x1F1
#define ATA_COUNT    0x1F2
#define ATA_LBA0     0x1F3
#define ATA_LBA1     0x1F4
#define ATA_LBA2     0x1F5
#define ATA_DRIVE    0x1F6
#define ATA_STATUS   0x1F7    /* read: status; write: command */
#define ATA_CONTROL  0x3F6    /* write: device control; read: alternate status */

#define ST_ERR  0x01
#define ST_DRQ  0x08
#define ST_DF   0x20
#define ST_BSY  0x80

#define CMD_READ     0x20
#define CMD_WRITE    0x30
#define CMD_FLUSH    0xE7
#define CMD_IDENTIFY 0xEC

#define SPIN_LIMIT 50000000u  /* status reads before a wait gives up (seconds under TCG on a loaded host) */

uint32_t ata_sectors;

static inline void insw(uint16_t port, void *buf, uint32_t words)
{
    __asm__ volatile("cld; rep insw" : "+D"(buf), "+c"(words) : "d"(port) : "memory");
}

static inline void outsw(uint16_t port, const void *buf, uint32_t words)
{
    __asm__ volatile("cld; rep outsw" : "+S"(buf), "+c"(words) : "d"(port) : "memory");
}

/* The 400 ns settle time after a drive select or command: four alternate-status reads. */
static void settle(void)
{
    for (int i = 0; i < 4; i++)
        (void)inb(ATA_CONTROL);
}

/* Waits for BSY to clear, then (if `drq`) for DRQ. Returns ATA_OK, ATA_ERR_DEVICE or
 * ATA_ERR_TIMEOUT. A status of 0xFF (nothing on the bus) is a timeout at once. */
static int wait_ready(bool drq)
{
    for (uint32_t i = 0; i < SPIN_LIMIT; i++) {
        uint8_t s = inb(ATA_STATUS);
        if (s == 0xFF)
            return ATA_ERR_NODEV;
        if (s & ST_BSY)
            continue;
        if (s & (ST_ERR | ST_DF))
            return ATA_ERR_DEVICE;
        if (!drq || (s & ST_DRQ))
            return ATA_OK;
    }
    return ATA_ERR_TIMEOUT;
}

int ata_init(void)
{
    uint32_t f = irq_save();
    ata_sectors = 0;
    int r = ATA_ERR_NODEV;
    outb(ATA_CONTROL, 0x02);             /* nIEN: no interrupts, we poll */
    if (inb(ATA_STATUS) == 0xFF)         /* floating bus: no controller or no drive */
        goto out;
    outb(ATA_DRIVE, 0xA0);               /* master */
    settle();
    outb(ATA_COUNT, 0);
    outb(ATA_LBA0, 0);
    outb(ATA_LBA1, 0);
    outb(ATA_LBA2, 0);
    outb(ATA_STATUS, CMD_IDENTIFY);
    settle();
    if (inb(ATA_STATUS) == 0)            /* no drive */
        goto out;
    for (uint32_t i = 0; i < SPIN_LIMIT && (inb(ATA_STATUS) & ST_BSY); i++)
        ;
    if (inb(ATA_LBA1) || inb(ATA_LBA2))  /* ATAPI or SATA signature: not an ATA disk */
        goto out;
    r = wait_ready(true);
    if (r != ATA_OK)
        goto out;
    static uint16_t id[256];
    insw(ATA_DATA, id, 256);
    ata_sectors = id[60] | ((uint32_t)id[61] << 16);
    r = ata_sectors ? ATA_OK : ATA_ERR_NODEV;
out:
    irq_restore(f);
    return r;
}

/* Selects the drive and sends a read or write command for [lba, lba + count). */
static int start(uint8_t cmd, uint32_t lba, uint32_t count)
{
    if (!ata_sectors || count == 0 || count > 256 || lba >= ata_sectors || count > ata_sectors - lba)
        return ATA_ERR_RANGE;
    int r = wait_ready(false);
    if (r != ATA_OK)
        return r;
    outb(ATA_DRIVE, (uint8_t)(0xE0 | ((lba >> 24) & 0x0F)));
    settle();
    outb(ATA_COUNT, (uint8_t)count);     /* 256 is sent as 0 */
    outb(ATA_LBA0, (uint8_t)lba);
    outb(ATA_LBA1, (uint8_t)(lba >> 8));
    outb(ATA_LBA2, (uint8_t)(lba >> 16));
    outb(ATA_STATUS, cmd);
    settle();
    return ATA_OK;
}

int ata_read(uint32_t lba, uint32_t count, void *buf)
{
    uint32_t f = irq_save();
    int r = start(CMD_READ, lba, count);
    for (uint32_t i = 0; r == ATA_OK && i < count; i++) {
        r = wait_ready(true);
        if (r == ATA_OK)
            insw(ATA_DATA, (uint8_t *)buf + i * 512u, 256);
    }
    irq_restore(f);
    return r;
}

int ata_write(uint32_t lba, uint32_t count, const void *buf)
{
    uint32_t f = irq_save();
    int r = start(CMD_WRITE, lba, count);
    for (uint32_t i = 0; r == ATA_OK && i < count; i++) {
        r = wait_ready(true);
        if (r == ATA_OK)
            outsw(ATA_DATA, (const uint8_t *)buf + i * 512u, 256);
    }
    if (r == ATA_OK)
        r = wait_ready(false);           /* the last sector is on the disk */
    irq_restore(f);
    return r;
}
