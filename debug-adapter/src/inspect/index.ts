// Public surface of the inspector library: the seam types, the Inspector and its errors.

export * from './target-access';
export * from './errors';
export { Inspector } from './inspector';
