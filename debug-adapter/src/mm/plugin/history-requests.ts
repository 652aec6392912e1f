// The history requests (issue 16; contract/dap.ts DapRequest.history*, contract/history.ts): their
// arguments checked and turned into calls on the session's history (session-history.ts). One
// implementation for both ways in: the DAP session's custom requests and the live feed's
// `history` messages (which name the same requests without `history`, and never export).
// A bad argument is one HistoryError sentence.

import * as path from 'path';
import { DapRequest } from '../../../../contract/dap';
import type { HistoryBlameTarget, HistoryEventsArgs, HistorySummaryBody } from '../../../../contract/history';
import type { HistoryRequestName } from '../../../../contract/live-protocol';
import { MmEventKind } from '../model/mm-history-event';
import { DEFAULT_EVENTS_LIMIT, HistoryError, MAX_BINS, MAX_EVENTS_LISTED, SessionHistory } from './session-history';

export const HISTORY_REQUESTS = [
  DapRequest.history, DapRequest.historyEvents, DapRequest.historyAt, DapRequest.historyBlame, DapRequest.historyWhen, DapRequest.historyExport,
] as const;
export type HistoryDapRequest = (typeof HISTORY_REQUESTS)[number];

/** The live feed's history request names → the DAP requests they are (export is DAP only: it writes a file). */
export const FEED_HISTORY_REQUESTS: Readonly<Record<HistoryRequestName, HistoryDapRequest>> = {
  summary: DapRequest.history,
  events: DapRequest.historyEvents,
  at: DapRequest.historyAt,
  blame: DapRequest.historyBlame,
  when: DapRequest.historyWhen,
};

export function isHistoryRequest(command: string): command is HistoryDapRequest {
  return (HISTORY_REQUESTS as readonly string[]).includes(command);
}

export function isFeedHistoryRequest(name: unknown): name is HistoryRequestName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(FEED_HISTORY_REQUESTS, name);
}

/** What the requests are answered from: the session's history, or why there is none. */
export interface HistorySource {
  readonly history: SessionHistory | undefined;
  /** Why there is no history (no event ring in this kernel, ...). */
  readonly reason: string;
  /** The guest's block count (the exported trace's `blocks` counter), when known. */
  readonly blockCount?: number;
}

const KIND_NAMES = new Set(Object.keys(MmEventKind));

type Args = Record<string, unknown>;

function integer(v: unknown, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new HistoryError(`${what} must be an integer ${range}, not ${JSON.stringify(v) ?? 'missing'}`);
  }
  return v;
}

const optional = (args: Args, key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined => (args[key] === undefined ? undefined : integer(args[key], key, min, max));

function eventsArgs(args: Args): HistoryEventsArgs {
  const kinds = args.kinds;
  if (kinds !== undefined) {
    if (!Array.isArray(kinds) || kinds.some((k) => typeof k !== 'string')) throw new HistoryError('kinds must be a list of event kind names');
    const bad = kinds.find((k) => !KIND_NAMES.has(k as string));
    if (bad !== undefined) throw new HistoryError(`"${String(bad)}" is not an event kind; the kinds are ${[...KIND_NAMES].join(', ')}`);
  }
  const fromSeq = optional(args, 'fromSeq'), toSeq = optional(args, 'toSeq'), bins = optional(args, 'bins', 1, MAX_BINS);
  const limit = optional(args, 'limit', 0, MAX_EVENTS_LISTED) ?? DEFAULT_EVENTS_LIMIT, pid = optional(args, 'pid');
  return {
    ...(fromSeq !== undefined ? { fromSeq } : {}), ...(toSeq !== undefined ? { toSeq } : {}), ...(bins !== undefined ? { bins } : {}), limit,
    ...(kinds !== undefined ? { kinds: kinds as string[] } : {}), ...(pid !== undefined ? { pid } : {}),
  };
}

function blameTarget(v: unknown): HistoryBlameTarget {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HistoryError('target must be an object: { kind: "block" | "chain" | "page" | "site", ... }');
  const t = v as Args;
  switch (t.kind) {
    case 'block': return { kind: 'block', block: integer(t.block, 'target.block') };
    case 'chain': return { kind: 'chain', chain: integer(t.chain, 'target.chain') };
    case 'site': return { kind: 'site', caller: integer(t.caller, 'target.caller', 0, 0xffffffff) };
    case 'page': {
      const space = t.space;
      if (space !== undefined && space !== 'kernel') integer(space, 'target.space (a pid, or "kernel")');
      return { kind: 'page', virtual: integer(t.virtual, 'target.virtual', 0, 0xffffffff), ...(space !== undefined ? { space: space as 'kernel' | number } : {}) };
    }
    default: throw new HistoryError(`target.kind must be "block", "chain", "page" or "site", not ${JSON.stringify(t.kind) ?? 'missing'}`);
  }
}

function noHistory(reason: string): HistorySummaryBody {
  return { recording: false, reason, events: 0, firstSeq: 0, lastSeq: 0, lost: 0, lostRanges: [], keyframes: [], stops: [], kinds: [], pids: [] };
}

/** Answers one history request. Throws HistoryError (one sentence) for bad arguments or a question the history cannot answer. */
export function handleHistoryRequest(source: HistorySource, command: HistoryDapRequest, rawArgs: unknown): object {
  if (rawArgs !== undefined && rawArgs !== null && (typeof rawArgs !== 'object' || Array.isArray(rawArgs))) throw new HistoryError('the arguments must be an object');
  const args = (rawArgs ?? {}) as Args;
  const h = source.history;
  if (!h) {
    if (command === DapRequest.history) return noHistory(source.reason);
    throw new HistoryError(source.reason);
  }
  switch (command) {
    case DapRequest.history: return h.summary();
    case DapRequest.historyEvents: return h.events(eventsArgs(args));
    case DapRequest.historyAt: return h.at(integer(args.seq, 'seq'));
    case DapRequest.historyBlame: return h.blame(blameTarget(args.target), optional(args, 'atSeq'));
    case DapRequest.historyWhen: return h.when(integer(args.findingIndex, 'findingIndex'));
    case DapRequest.historyExport: {
      const p = args.path;
      if (typeof p !== 'string' || !p.trim()) throw new HistoryError('path must be the file to write the trace to');
      if (!path.isAbsolute(p)) throw new HistoryError(`path must be absolute, not "${p}"`);
      return h.export(p, source.blockCount);
    }
  }
}
