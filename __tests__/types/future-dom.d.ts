// What lib.dom would declare for WebSocketStream once it ships it, in the form TypeScript's DOM
// generator gives every interface and dictionary (members of dictionaries optional). Only
// tsconfig.future-dom.json loads it: index.d.ts must then defer to it without conflicts.
interface WebSocketCloseInfo {
  closeCode?: number;
  reason?: string;
}
interface WebSocketOpenInfo {
  extensions?: string;
  protocol?: string;
  readable?: ReadableStream;
  writable?: WritableStream;
}
interface WebSocketStreamOptions {
  protocols?: string[];
  signal?: AbortSignal;
}
interface WebSocketStream {
  readonly closed: Promise<WebSocketCloseInfo>;
  readonly opened: Promise<WebSocketOpenInfo>;
  readonly url: string;
  close(closeInfo?: WebSocketCloseInfo): void;
}
declare var WebSocketStream: {
  prototype: WebSocketStream;
  new (url: string | URL, options?: WebSocketStreamOptions): WebSocketStream;
};
interface WebSocketError extends DOMException {
  readonly closeCode: number | null;
  readonly reason: string;
}
declare var WebSocketError: {
  prototype: WebSocketError;
  new (message?: string, init?: WebSocketCloseInfo): WebSocketError;
};
