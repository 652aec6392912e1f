// The register models shown in the Registers scope: i386 (general registers, eip, eflags and
// cr0/cr3/cr4 decoded bit by bit, segment registers, cr2) and x86-64 (rax..r15, rip, eflags, the
// segment registers and their bases, cr0/cr2/cr3/cr4/cr8 and EFER decoded by bit). Values are
// exact (bigint: a 64-bit register holds arbitrary data). Pure: values in, rows out.

/** One named bit or field of a register. */
export interface RegisterField {
  name: string;
  /** Lowest bit and width. */
  bit: number;
  width: number;
  description: string;
}

export interface RegisterDefinition {
  name: string;
  group: 'general' | 'pointer' | 'flags' | 'segment' | 'control';
  fields?: readonly RegisterField[];
  /** Bits shown (default 32). */
  bits?: 16 | 32 | 64;
}

const flag = (name: string, bit: number, description: string): RegisterField => ({ name, bit, width: 1, description });

export const EFLAGS_FIELDS: readonly RegisterField[] = [
  flag('CF', 0, 'carry'), flag('PF', 2, 'parity'), flag('AF', 4, 'auxiliary carry'), flag('ZF', 6, 'zero'),
  flag('SF', 7, 'sign'), flag('TF', 8, 'trap (single step)'), flag('IF', 9, 'interrupts enabled'), flag('DF', 10, 'direction'),
  flag('OF', 11, 'overflow'), { name: 'IOPL', bit: 12, width: 2, description: 'I/O privilege level' }, flag('NT', 14, 'nested task'),
  flag('RF', 16, 'resume'), flag('VM', 17, 'virtual-8086 mode'), flag('AC', 18, 'alignment check'), flag('VIF', 19, 'virtual interrupt'),
  flag('VIP', 20, 'virtual interrupt pending'), flag('ID', 21, 'CPUID available'),
];

export const CR0_FIELDS: readonly RegisterField[] = [
  flag('PE', 0, 'protected mode'), flag('MP', 1, 'monitor coprocessor'), flag('EM', 2, 'x87 emulation'), flag('TS', 3, 'task switched'),
  flag('ET', 4, 'extension type'), flag('NE', 5, 'numeric error'), flag('WP', 16, 'write protect in ring 0'), flag('AM', 18, 'alignment mask'),
  flag('NW', 29, 'not write-through'), flag('CD', 30, 'cache disable'), flag('PG', 31, 'paging'),
];

export const CR3_FIELDS: readonly RegisterField[] = [
  flag('PWT', 3, 'page-level write-through'), flag('PCD', 4, 'page-level cache disable'),
  { name: 'PDBR', bit: 12, width: 20, description: 'page directory base (physical address >> 12)' },
];

export const CR4_FIELDS: readonly RegisterField[] = [
  flag('VME', 0, 'virtual-8086 extensions'), flag('PVI', 1, 'protected-mode virtual interrupts'), flag('TSD', 2, 'time stamp disable'),
  flag('DE', 3, 'debugging extensions'), flag('PSE', 4, '4 MiB pages'), flag('PAE', 5, 'physical address extension'),
  flag('MCE', 6, 'machine check'), flag('PGE', 7, 'global pages'), flag('PCE', 8, 'performance counter'),
  flag('OSFXSR', 9, 'FXSAVE/FXRSTOR'), flag('OSXMMEXCPT', 10, 'SIMD exceptions'), flag('UMIP', 11, 'user-mode instruction prevention'),
  flag('VMXE', 13, 'VMX'), flag('SMXE', 14, 'SMX'), flag('FSGSBASE', 16, 'FSGSBASE instructions'), flag('PCIDE', 17, 'PCID'),
  flag('OSXSAVE', 18, 'XSAVE'), flag('SMEP', 20, 'supervisor-mode execution prevention'), flag('SMAP', 21, 'supervisor-mode access prevention'),
  flag('PKE', 22, 'protection keys'),
];

/** CR4 on x86-64: also LA57 (5-level paging). */
export const CR4_FIELDS_64: readonly RegisterField[] = [...CR4_FIELDS, flag('LA57', 12, '57-bit linear addresses (5-level paging)')].sort((a, b) => a.bit - b.bit);

export const CR3_FIELDS_64: readonly RegisterField[] = [
  flag('PWT', 3, 'page-level write-through'), flag('PCD', 4, 'page-level cache disable'),
  { name: 'PDBR', bit: 12, width: 40, description: 'top-level page table base (physical address >> 12)' },
];

export const CR8_FIELDS: readonly RegisterField[] = [{ name: 'TPR', bit: 0, width: 4, description: 'task priority' }];

export const EFER_FIELDS: readonly RegisterField[] = [
  flag('SCE', 0, 'SYSCALL/SYSRET enabled'), flag('LME', 8, 'long mode enabled'), flag('LMA', 10, 'long mode active'),
  flag('NXE', 11, 'no-execute pages enabled'), flag('SVME', 12, 'SVM enabled'), flag('LMSLE', 13, 'long mode segment limit'),
  flag('FFXSR', 14, 'fast FXSAVE/FXRSTOR'), flag('TCE', 15, 'translation cache extension'),
];

export const REGISTER_DEFINITIONS: readonly RegisterDefinition[] = [
  { name: 'eax', group: 'general' }, { name: 'ecx', group: 'general' }, { name: 'edx', group: 'general' }, { name: 'ebx', group: 'general' },
  { name: 'esp', group: 'pointer' }, { name: 'ebp', group: 'pointer' }, { name: 'esi', group: 'general' }, { name: 'edi', group: 'general' },
  { name: 'eip', group: 'pointer' },
  { name: 'eflags', group: 'flags', fields: EFLAGS_FIELDS },
  { name: 'cs', group: 'segment' }, { name: 'ss', group: 'segment' }, { name: 'ds', group: 'segment' }, { name: 'es', group: 'segment' },
  { name: 'fs', group: 'segment' }, { name: 'gs', group: 'segment' },
  { name: 'cr0', group: 'control', fields: CR0_FIELDS }, { name: 'cr2', group: 'control' },
  { name: 'cr3', group: 'control', fields: CR3_FIELDS }, { name: 'cr4', group: 'control', fields: CR4_FIELDS },
];

const reg = (name: string, group: RegisterDefinition['group'], bits: 16 | 32 | 64, fields?: readonly RegisterField[]): RegisterDefinition => ({ name, group, bits, ...(fields ? { fields } : {}) });

/** The x86-64 registers in gdb's `info registers` order (QEMU 7.2's qemu-system-x86_64 reports all of them). */
export const X86_64_REGISTER_DEFINITIONS: readonly RegisterDefinition[] = [
  ...['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi'].map((n) => reg(n, 'general', 64)),
  reg('rbp', 'pointer', 64), reg('rsp', 'pointer', 64),
  ...['r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'].map((n) => reg(n, 'general', 64)),
  reg('rip', 'pointer', 64),
  reg('eflags', 'flags', 32, EFLAGS_FIELDS),
  ...['cs', 'ss', 'ds', 'es', 'fs', 'gs'].map((n) => reg(n, 'segment', 16)),
  reg('fs_base', 'general', 64), reg('gs_base', 'general', 64), reg('k_gs_base', 'general', 64),
  reg('cr0', 'control', 64, CR0_FIELDS), reg('cr2', 'control', 64), reg('cr3', 'control', 64, CR3_FIELDS_64),
  reg('cr4', 'control', 64, CR4_FIELDS_64), reg('cr8', 'control', 64, CR8_FIELDS), reg('efer', 'control', 64, EFER_FIELDS),
];

/** The register model for a register set: x86-64 when the target reports rip. */
export function registerDefinitionsFor(names: { has(name: string): boolean }): readonly RegisterDefinition[] {
  return names.has('rip') ? X86_64_REGISTER_DEFINITIONS : REGISTER_DEFINITIONS;
}

/** Bits of a register as its definition shows it. */
export function bitsOf(def: RegisterDefinition): number {
  return def.bits ?? 32;
}

export function fieldValue(value: number | bigint, field: RegisterField): number {
  const v = typeof value === 'bigint' ? BigInt.asUintN(64, value) : BigInt(value >>> 0);
  return Number((v >> BigInt(field.bit)) & ((1n << BigInt(field.width)) - 1n));
}

/** The set flags in bit order, like gdb's `[ PF ZF IF ]`; multi-bit fields as NAME=value when non-zero. */
export function decodeFlags(value: number | bigint, fields: readonly RegisterField[]): string {
  const parts: string[] = [];
  for (const f of fields) {
    const v = fieldValue(value, f);
    if (!v) continue;
    parts.push(f.width === 1 ? f.name : f.name === 'PDBR' ? `${f.name}=0x${(BigInt(v) << 12n).toString(16)}` : `${f.name}=${v}`);
  }
  return `[ ${parts.join(' ')}${parts.length ? ' ' : ''}]`;
}

export function hex32(value: number): string {
  return '0x' + (value >>> 0).toString(16).padStart(8, '0');
}

/** `0x` and `bits / 4` hex digits of the unsigned value. */
export function hexBits(value: bigint, bits: number): string {
  return '0x' + BigInt.asUintN(bits, value).toString(16).padStart(bits / 4, '0');
}

/** `value` with bits of `field` replaced by `fieldValue`. */
export function withField(value: number, field: RegisterField, newValue: number): number;
export function withField(value: bigint, field: RegisterField, newValue: number | bigint): bigint;
export function withField(value: number | bigint, field: RegisterField, newValue: number | bigint): number | bigint {
  const mask = ((1n << BigInt(field.width)) - 1n) << BigInt(field.bit);
  const old = typeof value === 'bigint' ? BigInt.asUintN(64, value) : BigInt(value >>> 0);
  const v = (old & ~mask) | ((BigInt(newValue) << BigInt(field.bit)) & mask);
  return typeof value === 'bigint' ? v : Number(BigInt.asUintN(32, v));
}
