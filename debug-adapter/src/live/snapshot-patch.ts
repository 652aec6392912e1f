// Document patches live in the shared contract module (contract/snapshot-patch.ts). This
// re-export keeps the adapter's imports of this path working.

export * from '../../../contract/snapshot-patch';
