// Public surface of the symbols library: ELF and DWARF readers, the program model, line
// tables, types, the DWARF expression evaluator and call frame information.

export * from './errors';
export { ElfFile, ElfHeader, ElfSection, ElfSymbol, ElfArch, ProgramHeader, SymbolType, SymbolBinding, PT_LOAD, ET_EXEC, ET_REL, EM_386, EM_X86_64 } from './elf';
export { DebugSymbols, ScopeChain, SourceFrame } from './debugSymbols';
export { CallSite, CallSiteParameter } from './callSites';
export { FrameVariables, lookupOrder, sourceFrameCount } from './frameVariables';
export { CompileUnitInfo, FunctionInfo, InlinedCallInfo, ScopeInfo, VariableInfo } from './model';
export * from './types';
export { SourceLocation, LineBreakpointAddresses, sameSourceFile, normalizePath } from './lineTable';
export { LineRow, LineProgram, LineProgramHeader, parseLineProgram } from './lineProgram';
export { AddressRange } from './rangeLists';
export { LocationDescription, LocationListEntry, expressionAt } from './locationLists';
export {
  EvaluatedLocation, SimpleLocation, LocationPiece, ExpressionContext,
  evaluateLocation, evaluateValue, decodeExpression, formatExpression, addressOfValue,
} from './expression';
export { CallFrameInfo, CfaRule, RegisterRule, UnwindRow, UnwoundFrame, unwindFrame, fdeRows } from './callFrameInfo';
export { I386_DWARF_REGISTERS, X86_64_DWARF_REGISTERS, DwarfArch, dwarfRegisterNames, DWARF_SPECIAL_REGISTERS } from './dwarfConstants';
