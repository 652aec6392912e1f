// The hover over an expression while the guest is stopped: its value and, for a pointer or an
// address, the translation virtual → PDE → PTE → physical → block → chain → allocation site;
// over a function or a global, where it lives (its address and that address's mapping).

import type { JsonAddress } from '../../contract/snapshot-document';
import type { Translation } from '../../contract/translation';
import { EvaluatedValue } from '../src/mm-data-source';
import { ViewSnapshot, addressOf } from '../src/view-snapshot';
import { ShownTranslation, hex, translateOnSnapshot, translationLines } from './translation-text';

/** Where the hover gets values and translations (the extension, through LSP; later the live feed). */
export interface HoverSource {
  evaluate(expression: string): Promise<EvaluatedValue | undefined>;
  translate(address: JsonAddress, pid?: number): Promise<Translation | undefined>;
}

async function translate(source: HoverSource, snap: ViewSnapshot | undefined, address: JsonAddress): Promise<ShownTranslation | undefined> {
  try {
    const t = await source.translate(address);
    if (t) return t;
  } catch {
    // fall through to the snapshot's own runs
  }
  return snap ? translateOnSnapshot(snap, address) : undefined;
}

const md = (s: string): string => s.replace(/([\\`*_{}[\]<>|])/g, '\\$1');

/** The hover's markdown for `expression`, or undefined when the debugger knows nothing of it. */
export async function hoverMarkdown(expression: string, snap: ViewSnapshot | undefined, source: HoverSource): Promise<string | undefined> {
  const [value, address] = await Promise.all([source.evaluate(expression), source.evaluate(`&${expression}`)]);
  if (!value && !address?.pointer) return undefined;
  const parts: string[] = [];
  if (value) parts.push(`**${md(expression)}** = \`${value.value.replace(/`/g, "'")}\`${value.type ? ` *(${md(value.type)})*` : ''}`);
  const isFunction = value?.type !== undefined && /\(.*\)\s*$/.test(value.type) && !/\(\s*\*\s*\)/.test(value.type);
  const isNull = value?.pointer !== undefined && addressOf(value.pointer) === 0n;
  if (value?.pointer !== undefined && !isNull && !isFunction) {
    const t = await translate(source, snap, value.pointer);
    if (t) parts.push(`**${md(expression)} points to**  \n${translationLines(t).join('  \n')}`);
  } else if (isNull) {
    parts.push('NULL pointer');
  }
  if (address?.pointer !== undefined) {
    const t = await translate(source, snap, address.pointer);
    const where = t ? translationLines(t).slice(1).join(' ') : '';
    parts.push(`**${isFunction ? 'function' : 'stored'} at** \`${hex(address.pointer)}\` ${where}`);
  }
  return parts.join('\n\n---\n\n');
}
