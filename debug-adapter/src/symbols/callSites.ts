// Call sites (DW_TAG_call_site, and GNU_call_site of DWARF 4): what the caller knew about the
// arguments it passed, indexed by the call's return address. DW_OP_entry_value in the callee
// asks for the value a register had on entry; the caller's call-site parameter for that register
// says how to compute it in the caller's frame (DW_AT_call_value).

import { Die, DwarfUnit } from './debugInfo';
import { DW_AT, DW_TAG } from './dwarfConstants';

export interface CallSiteParameter {
  /** Where the argument is on entry to the callee (DW_AT_location: usually DW_OP_regN). */
  location: Uint8Array;
  /** How the caller computes the argument's value in its own frame (DW_AT_call_value). */
  value: Uint8Array;
}

export interface CallSite {
  /** The address the callee returns to. */
  returnPc: number;
  /** The called function's DIE (DW_AT_call_origin), for direct calls. */
  origin?: Die;
  /** For an indirect call: the expression that computes the called address in the caller's frame. */
  target?: Uint8Array;
  tailCall: boolean;
  parameters: CallSiteParameter[];
}

const SITE_TAGS = new Set<number>([DW_TAG.call_site, DW_TAG.GNU_call_site]);
const PARAMETER_TAGS = new Set<number>([DW_TAG.call_site_parameter, DW_TAG.GNU_call_site_parameter]);

function callSiteOf(die: Die): CallSite | undefined {
  // DWARF 5 names the return address; GNU_call_site puts it in DW_AT_low_pc.
  const returnPc = die.address(DW_AT.call_return_pc) ?? die.lowPc;
  if (returnPc === undefined) return undefined;
  const parameters: CallSiteParameter[] = [];
  for (const child of die.children) {
    if (!PARAMETER_TAGS.has(child.tag)) continue;
    const location = child.block(DW_AT.location);
    const value = child.block(DW_AT.call_value) ?? child.block(DW_AT.GNU_call_site_value);
    if (location && value) parameters.push({ location, value });
  }
  const origin = die.ref(DW_AT.call_origin) ?? die.ref(DW_AT.abstract_origin);
  const target = die.block(DW_AT.call_target) ?? die.block(DW_AT.GNU_call_site_target);
  return {
    returnPc,
    ...(origin ? { origin } : {}),
    ...(target ? { target } : {}),
    tailCall: die.flag(DW_AT.call_tail_call) || die.flag(DW_AT.GNU_tail_call),
    parameters,
  };
}

/** Every call site of `units`, by return address (built once, on first use). */
export class CallSiteIndex {
  private index: Map<number, CallSite> | undefined;

  constructor(private readonly units: readonly DwarfUnit[]) {}

  at(returnPc: number): CallSite | undefined {
    if (!this.index) {
      const index = new Map<number, CallSite>();
      for (const unit of this.units) {
        for (const die of unit.allDies) {
          if (!SITE_TAGS.has(die.tag)) continue;
          const site = callSiteOf(die);
          if (site && !index.has(site.returnPc)) index.set(site.returnPc, site);
        }
      }
      this.index = index;
    }
    return this.index.get(returnPc);
  }
}
