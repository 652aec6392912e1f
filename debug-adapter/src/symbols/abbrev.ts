// .debug_abbrev: the abbreviation tables that say, for each DIE code, its tag, whether it has
// children, and the (attribute, form) pairs that follow it in .debug_info.

import { ByteReader } from './byteReader';
import { DwarfFormatError } from './errors';
import { DW_FORM } from './dwarfConstants';

export interface AttributeSpec {
  name: number;
  form: number;
  /** The value of a DW_FORM_implicit_const attribute, stored in the abbreviation itself. */
  implicitConst?: number | bigint;
}

export interface Abbreviation {
  code: number;
  tag: number;
  hasChildren: boolean;
  specs: AttributeSpec[];
}

export type AbbreviationTable = Map<number, Abbreviation>;

const fail = (detail: string): Error => new DwarfFormatError(detail);

/** Parses the abbreviation table starting at `offset` in .debug_abbrev. */
export function parseAbbreviationTable(section: Uint8Array, offset: number): AbbreviationTable {
  if (offset >= section.length) throw fail(`abbreviation table offset ${offset} is outside .debug_abbrev`);
  const r = new ByteReader(section, fail, '.debug_abbrev', offset);
  const table: AbbreviationTable = new Map();
  while (!r.atEnd) {
    const code = r.uleb();
    if (code === 0) break;
    const tag = r.uleb();
    const hasChildren = r.u8() !== 0;
    const specs: AttributeSpec[] = [];
    for (;;) {
      const name = r.uleb();
      const form = r.uleb();
      if (name === 0 && form === 0) break;
      const spec: AttributeSpec = { name, form };
      if (form === DW_FORM.implicit_const) spec.implicitConst = r.slebAny();
      specs.push(spec);
    }
    if (table.has(code)) throw fail(`abbreviation code ${code} is defined twice`);
    table.set(code, { code, tag, hasChildren, specs });
  }
  return table;
}
