// The guest's debug descriptor (`mm_debug_info`, guest/include/debuginfo.h): where the block
// table, KPD, PCBs, mapping registry and handle tables live and how their records are laid out.
// Pure: 4-byte little-endian fields in the order the header declares them.

export const MM_DEBUG_MAGIC = 0x4d4d4442; // "MMDB"
export const MM_DEBUG_VERSION = 3;

/** Field names in declaration order; every field is a uint32. */
const FIELDS = [
  'magic', 'version', 'size',
  'blockSize', 'pageSize', 'blockCount',
  'blockTable', 'blockTablePhys', 'owners', 'ownersPhys',
  'ownerSize', 'ownerOffCaller', 'ownerOffSeq', 'ownerOffSize', 'ownerOffKind', 'ownerOffHandle',
  'kernelVbase', 'lowmapEnd', 'userSpaceEnd', 'updEntries', 'windowBase',
  'kpd', 'kpdPhys', 'freeBlocksAddr', 'allocSeqAddr',
  'procListAddr', 'currentAddr',
  'pcbSize', 'pcbOffPid', 'pcbOffName', 'pcbNameLen', 'pcbOffState', 'pcbOffUpd', 'pcbOffNext',
  'mappingsAddr', 'mappingsCountAddr', 'mappingSize',
  'mapOffChain', 'mapOffVa', 'mapOffPageOffset', 'mapOffPages', 'mapOffFlags', 'mapOffUpd',
  'xmsHandlesAddr', 'xmsOffHandle', 'xmsOffLockCount', 'xmsOffChain', 'xmsOffSizeKb', 'xmsOffOwnerPid',
  'dpmiBlocksAddr', 'dpmiOffHandle', 'dpmiOffChain', 'dpmiOffLinear', 'dpmiOffSize', 'dpmiOffOwnerPid', 'dpmiOffLockCount',
  'dosFirstMcbSeg', 'dosArenaEndSeg',
  'defragRunsAddr', 'defragMovedAddr', 'contextSwitchesAddr', 'ticksAddr',
  'faultInjectedAddr',
  'eventHookAddr', 'eventAddr',
  // version 2: how each process runs, DOS tasks, swapping
  'pcbOffMode', 'pcbOffV86', 'pcbOffExitCode',
  'v86Size', 'v86OffLowChain', 'v86OffLowPages', 'v86OffMcbOwner', 'v86OffPspSeg', 'v86OffStatus',
  'swapSlotsAddr', 'swapSlotCountAddr', 'swapUsedAddr', 'swapOutsAddr', 'swapInsAddr',
  'swapSlotSize', 'swapOffState', 'swapOffChain', 'swapOffNext', 'swapOffBlock',
  'ctSwappedBase', 'pteSwapMark', 'pteSwapPageShift', 'pteSwapSlotShift',
  // version 3: the seqlock generation (0 = none), the free counter, the event ring (capacity 0 = none)
  'generationAddr', 'freeCountAddr',
  'eventRingAddr', 'eventRingPhys', 'eventRingCapacity', 'eventRecordSize', 'eventHeadAddr', 'tscKhz',
  // version 3, the hold (guest/include/generation.h): struct mm_hold { request, held, holds, timeouts }
  'holdAddr',
] as const;

export type DescriptorField = (typeof FIELDS)[number];
export type MmDebugInfo = { readonly [K in DescriptorField]: number };

/** Bytes of the descriptor of this version. */
export const DESCRIPTOR_SIZE = FIELDS.length * 4;

export class DescriptorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DescriptorError';
  }
}

/**
 * Decodes the descriptor. Throws DescriptorError (one sentence saying what to do) when the bytes
 * are not a descriptor this decoder understands: wrong magic (the kernel has not initialised it
 * yet, or is not an mmscope guest), another version, or a size that does not match.
 */
export function decodeDescriptor(bytes: Uint8Array): MmDebugInfo {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 12) throw new DescriptorError(`the debug descriptor is ${buf.length} bytes, too short to hold its header`);
  const magic = buf.readUInt32LE(0);
  if (magic !== MM_DEBUG_MAGIC) {
    throw new DescriptorError(
      `mm_debug_info has magic 0x${magic.toString(16)} instead of 0x${MM_DEBUG_MAGIC.toString(16)}: the kernel has not initialised it yet (stop later in boot) or it is not an mmscope guest`);
  }
  const version = buf.readUInt32LE(4);
  if (version !== MM_DEBUG_VERSION) throw new DescriptorError(`mm_debug_info is version ${version}; this mmscope reads version ${MM_DEBUG_VERSION}: update mmscope or the guest`);
  const size = buf.readUInt32LE(8);
  if (size !== DESCRIPTOR_SIZE || buf.length < DESCRIPTOR_SIZE) {
    throw new DescriptorError(`mm_debug_info says it is ${size} bytes but version ${MM_DEBUG_VERSION} is ${DESCRIPTOR_SIZE}: the guest and mmscope disagree on the layout`);
  }
  const out: Partial<Record<DescriptorField, number>> = {};
  FIELDS.forEach((name, i) => {
    out[name] = buf.readUInt32LE(i * 4);
  });
  return out as MmDebugInfo;
}

/** Builds descriptor bytes from values (tests and fixtures). */
export function encodeDescriptor(info: MmDebugInfo): Buffer {
  const buf = Buffer.alloc(DESCRIPTOR_SIZE);
  FIELDS.forEach((name, i) => buf.writeUInt32LE(info[name] >>> 0, i * 4));
  return buf;
}

export const DESCRIPTOR_FIELDS: readonly DescriptorField[] = FIELDS;
