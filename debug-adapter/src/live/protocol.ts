// The live feed's wire protocol lives in the shared contract module (contract/live-protocol.ts).
// This re-export keeps the adapter's imports of this path working.

export * from '../../../contract/live-protocol';
