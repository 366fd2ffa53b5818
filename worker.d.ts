/**
 * Types for `polyfill/worker`: the same classes as `polyfill`, plus the globals the entry defines
 * inside a worker thread. The functions below merge with lib.dom's and lib.webworker's. `self`,
 * `onmessage` and `onmessageerror` are variables, which cannot be declared in a way that agrees
 * with every lib, so they are left to lib.webworker (`/// <reference lib="webworker" />`).
 * @see https://html.spec.whatwg.org/multipage/workers.html#dedicatedworkerglobalscope
 */
/// <reference types="node" />

export * from './index';

declare global {
  /**
   * Sends a message to the parent's Worker object (inside a worker thread only).
   * @see https://html.spec.whatwg.org/multipage/workers.html#dom-dedicatedworkerglobalscope-postmessage
   */
  function postMessage(message: any, transfer: readonly object[]): void;
  function postMessage(message: any, options?: { transfer?: readonly object[] }): void;
  /**
   * Stops message events and ends the worker thread after the current task (inside a worker thread only).
   * @see https://html.spec.whatwg.org/multipage/workers.html#dom-dedicatedworkerglobalscope-close
   */
  function close(): void;
  /** Adds a listener for events fired at the worker's global scope, `message` among them. */
  function addEventListener(type: string, listener: ((event: any) => any) | { handleEvent(event: any): any } | null, options?: boolean | { capture?: boolean; once?: boolean; passive?: boolean; signal?: AbortSignal }): void;
  /** Removes a listener added with {@link addEventListener}. */
  function removeEventListener(type: string, listener: ((event: any) => any) | { handleEvent(event: any): any } | null, options?: boolean | { capture?: boolean }): void;
  /** Dispatches an event at the worker's global scope. */
  function dispatchEvent(event: Event): boolean;
}
