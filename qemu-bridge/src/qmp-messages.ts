// QMP messages classified into typed values: greeting, success, error, event. Pure.

/** `{"QMP": {"version": ..., "capabilities": [...]}}` */
export interface QmpGreeting {
  readonly kind: 'greeting';
  readonly version: { readonly major: number; readonly minor: number; readonly micro: number; readonly package: string };
  readonly capabilities: readonly string[];
}

/** `{"return": ..., "id": N}` */
export interface QmpSuccess {
  readonly kind: 'return';
  readonly id: unknown;
  readonly value: unknown;
}

/** `{"error": {"class": ..., "desc": ...}, "id": N}` */
export interface QmpFailure {
  readonly kind: 'error';
  readonly id: unknown;
  readonly errorClass: string;
  readonly description: string;
}

/** `{"event": "STOP", "data": {...}, "timestamp": {"seconds": s, "microseconds": us}}` */
export interface QmpEvent {
  readonly kind: 'event';
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** Host time of the event in milliseconds since the epoch. */
  readonly timestampMs: number;
}

export type QmpMessage = QmpGreeting | QmpSuccess | QmpFailure | QmpEvent;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** Classifies a parsed JSON value. Returns the message, or a string saying why it is not QMP. */
export function classifyQmpMessage(value: unknown): QmpMessage | string {
  if (!isRecord(value)) return 'a message is not a JSON object';
  if ('QMP' in value) {
    const q = value.QMP;
    if (!isRecord(q)) return 'the greeting has no QMP object';
    const v = isRecord(q.version) && isRecord(q.version.qemu) ? q.version.qemu : {};
    const pkg = isRecord(q.version) && typeof q.version.package === 'string' ? q.version.package : '';
    const caps = Array.isArray(q.capabilities) ? q.capabilities.filter((c): c is string => typeof c === 'string') : [];
    return { kind: 'greeting', version: { major: num(v.major), minor: num(v.minor), micro: num(v.micro), package: pkg }, capabilities: caps };
  }
  if ('return' in value) return { kind: 'return', id: value.id, value: value.return };
  if ('error' in value) {
    const e = value.error;
    if (!isRecord(e)) return 'an error reply has no error object';
    return {
      kind: 'error',
      id: value.id,
      errorClass: typeof e.class === 'string' ? e.class : 'GenericError',
      description: typeof e.desc === 'string' ? e.desc : 'no description',
    };
  }
  if (typeof value.event === 'string') {
    const ts = isRecord(value.timestamp) ? value.timestamp : {};
    return {
      kind: 'event',
      event: value.event,
      data: isRecord(value.data) ? value.data : {},
      timestampMs: num(ts.seconds) * 1000 + num(ts.microseconds) / 1000,
    };
  }
  return 'a message is neither a greeting, a reply nor an event';
}
