// Typed errors raised by the ELF and DWARF readers. Every error a user can meet says, in one
// sentence, what is wrong with the file and what to do about it.

/** What kind of problem a symbols reader met. */
export type SymbolsErrorCode =
  | 'not-elf'
  | 'unsupported-elf'
  | 'elf-truncated'
  | 'elf-malformed'
  | 'dwarf-malformed'
  | 'dwarf-unsupported'
  | 'expression-error'
  | 'cfi-malformed';

/** Base class of every error thrown by debug-adapter/src/symbols. */
export class SymbolsError extends Error {
  constructor(readonly code: SymbolsErrorCode, message: string) {
    super(message);
    this.name = 'SymbolsError';
  }
}

/** The bytes are not an ELF32 (i386) or ELF64 (x86-64) little-endian image we can read. */
export class ElfFormatError extends SymbolsError {
  constructor(code: 'not-elf' | 'unsupported-elf' | 'elf-truncated' | 'elf-malformed', detail: string) {
    super(code, `The kernel file is not a readable ELF32 i386 or ELF64 x86-64 image (${detail}); rebuild it for i386 or x86-64 or point "kernel" at the right file.`);
    this.name = 'ElfFormatError';
  }
}

/** A DWARF section is malformed or uses something this reader does not understand. */
export class DwarfFormatError extends SymbolsError {
  constructor(detail: string, code: 'dwarf-malformed' | 'dwarf-unsupported' = 'dwarf-malformed') {
    super(code, `The kernel's debug information cannot be read (${detail}); rebuild it with gcc -g (DWARF 4 or 5).`);
    this.name = 'DwarfFormatError';
  }
}

/** A DWARF expression could not be evaluated (bad opcode, stack underflow, missing register). */
export class DwarfExpressionError extends SymbolsError {
  constructor(detail: string) {
    super('expression-error', `A variable's location cannot be computed (${detail}).`);
    this.name = 'DwarfExpressionError';
  }
}

/** Call frame information (.debug_frame/.eh_frame) is malformed. */
export class CfiFormatError extends SymbolsError {
  constructor(detail: string) {
    super('cfi-malformed', `The kernel's call frame information cannot be read (${detail}); stack traces fall back to frame pointers.`);
    this.name = 'CfiFormatError';
  }
}
