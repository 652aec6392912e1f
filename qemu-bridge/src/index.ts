// qemu-bridge's public API: launch QEMU, talk to its gdbstub and QMP, read guest memory.

export * from './errors';
export * from './address';
export * from './host-port';
export * from './rsp-framing';
export * from './rsp-stop-reply';
export * from './target-description';
export * from './rsp-connection';
export * from './rsp-client';
export * from './qmp-framing';
export * from './qmp-messages';
export * from './qmp-client';
export * from './hmp-parsers';
export * from './memory-map';
export * from './page-walker';
export * from './memory-tiers';
export * from './guest-memory';
export * from './free-port';
export * from './qemu-launcher';
export * from './attach';
export * from './machine-args';
export * from './launch-errors';
export * from './paging/paging-modes';
export * from './paging/page-entry';
export * from './paging/page-table-walk';
export * from './paging/translation-steps';
