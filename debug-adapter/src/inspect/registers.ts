// The i386 register model shown in the Registers scope: general registers, eip, eflags and
// cr0/cr3/cr4 decoded bit by bit, segment registers, and cr2. Pure: values in, rows out.

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

export function fieldValue(value: number, field: RegisterField): number {
  return Math.floor((value >>> 0) / 2 ** field.bit) % 2 ** field.width;
}

/** The set flags in bit order, like gdb's `[ PF ZF IF ]`; multi-bit fields as NAME=value when non-zero. */
export function decodeFlags(value: number, fields: readonly RegisterField[]): string {
  const parts: string[] = [];
  for (const f of fields) {
    const v = fieldValue(value, f);
    if (!v) continue;
    parts.push(f.width === 1 ? f.name : f.name === 'PDBR' ? `${f.name}=0x${(v * 4096).toString(16)}` : `${f.name}=${v}`);
  }
  return `[ ${parts.join(' ')}${parts.length ? ' ' : ''}]`;
}

export function hex32(value: number): string {
  return '0x' + (value >>> 0).toString(16).padStart(8, '0');
}

/** `value` with bits of `field` replaced by `fieldValue`. */
export function withField(value: number, field: RegisterField, newValue: number): number {
  const cleared = (value >>> 0) - (Math.floor((value >>> 0) / 2 ** field.bit) % 2 ** field.width) * 2 ** field.bit;
  return (cleared + (newValue % 2 ** field.width) * 2 ** field.bit) >>> 0;
}
