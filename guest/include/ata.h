/* ata.h: a polling ATA PIO driver for the master drive of the primary IDE channel
 * (ports 0x1F0-0x1F7, control 0x3F6), as QEMU's PIIX IDE controller offers it with
 * `-drive if=ide,index=0,media=disk`. No interrupts are used (nIEN is set); every wait
 * is bounded, so a missing or dead disk gives an error code instead of a hang. */
#ifndef ATA_H
#define ATA_H
#include <stdint.h>
#include <stdbool.h>

enum ata_status {
    ATA_OK          = 0,
    ATA_ERR_NODEV   = -1,   /* no drive answered (floating bus or IDENTIFY refused) */
    ATA_ERR_TIMEOUT = -2,   /* BSY never cleared or DRQ never came */
    ATA_ERR_DEVICE  = -3,   /* the drive set ERR or DF */
    ATA_ERR_RANGE   = -4,   /* sectors outside the disk or past LBA28, or count 0 / > 256 */
};

/* Detects the drive (IDENTIFY). Returns ATA_OK and sets ata_sectors, or an error (then
 * ata_sectors stays 0). Safe to call again. */
int ata_init(void);
extern uint32_t ata_sectors;          /* LBA28 sectors of the drive, 0 when there is none */

/* Reads / writes `count` (1..256) 512-byte sectors from LBA `lba` to / from `buf`.
 * Returns ATA_OK or an error; on error the buffer (read) or the sectors (write) may be
 * partly transferred. Interrupts are disabled for the transfer. */
int ata_read(uint32_t lba, uint32_t count, void *buf);
int ata_write(uint32_t lba, uint32_t count, const void *buf);
#endif
