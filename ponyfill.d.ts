/**
 * Types for `polyfill/ponyfill` where a resolver does not read "exports" (TypeScript's `node10`
 * resolution): the same module as `polyfill`, whose index.d.ts describes both entries.
 * @see https://nodejs.org/api/packages.html#subpath-exports
 */
export * from './index';
