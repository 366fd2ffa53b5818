// Holds index.d.ts to the implementation: every name and member it ships exists in lib/, and
// what it lets callers pass, the implementation accepts. Compiled by tsconfig.drift.json only.
import * as impl from '../../lib/ponyfill';
import * as shipped from 'polyfill/ponyfill';

/** Compiles only when `T` is `true`. */
function check<T extends true>(): void {}
type Extends<A, B> = [A] extends [B] ? true : false;
type Same<A, B> = Extends<A, B> extends true ? Extends<B, A> : false;

// The same runtime exports, both ways.
check<Same<keyof typeof shipped, keyof typeof impl>>();
check<Same<typeof shipped.ChannelName, typeof impl.ChannelName>>();
check<Same<shipped.BinaryType, impl.BinaryType>>();
check<Extends<shipped.CloseEventInit, impl.CloseEventInit>>();

// Every member and static the types promise is there.
check<Extends<keyof shipped.WebSocket, keyof impl.WebSocket>>();
check<Extends<keyof typeof shipped.WebSocket, keyof typeof impl.WebSocket>>();
check<Extends<keyof shipped.CloseEvent, keyof impl.CloseEvent>>();
check<Extends<keyof shipped.WebSocketStream, keyof impl.WebSocketStream>>();
check<Extends<keyof shipped.WebSocketError, keyof impl.WebSocketError>>();

// Arguments the types allow are arguments the implementation takes.
check<Extends<ConstructorParameters<typeof shipped.WebSocket>, ConstructorParameters<typeof impl.WebSocket>>>();
check<Extends<ConstructorParameters<typeof shipped.CloseEvent>, ConstructorParameters<typeof impl.CloseEvent>>>();
check<Extends<Parameters<shipped.WebSocket['send']>, Parameters<impl.WebSocket['send']>>>();
check<Extends<Parameters<shipped.WebSocket['close']>, Parameters<impl.WebSocket['close']>>>();
check<Extends<ConstructorParameters<typeof shipped.WebSocketStream>, ConstructorParameters<typeof impl.WebSocketStream>>>();
check<Extends<ConstructorParameters<typeof shipped.WebSocketError>, ConstructorParameters<typeof impl.WebSocketError>>>();
check<Extends<Parameters<shipped.WebSocketStream['close']>, Parameters<impl.WebSocketStream['close']>>>();

// And what the implementation returns fits the types.
check<Extends<Pick<impl.WebSocket, 'url' | 'readyState' | 'bufferedAmount' | 'extensions' | 'protocol' | 'binaryType'>, Pick<shipped.WebSocket, 'url' | 'readyState' | 'bufferedAmount' | 'extensions' | 'protocol' | 'binaryType'>>>();
check<Extends<Pick<typeof impl.WebSocket, 'CONNECTING' | 'OPEN' | 'CLOSING' | 'CLOSED'>, Pick<typeof shipped.WebSocket, 'CONNECTING' | 'OPEN' | 'CLOSING' | 'CLOSED'>>>();
check<Extends<Pick<impl.CloseEvent, 'code' | 'reason' | 'wasClean'>, Pick<shipped.CloseEvent, 'code' | 'reason' | 'wasClean'>>>();

// ping(): the payloads the types allow are taken, and the result is the same. (The socket
// parameter cannot be compared: the implementation's class is nominal, through its #fields.)
check<Extends<Parameters<typeof shipped.ping>[1], Parameters<typeof impl.ping>[1]>>();
check<Same<ReturnType<typeof shipped.ping>, ReturnType<typeof impl.ping>>>();
check<Extends<Parameters<typeof shipped.ping>['length'], Parameters<typeof impl.ping>['length']>>();

// The options dictionary and its parts: what the types let callers write, the implementation
// takes, and the other way round.
check<Same<shipped.WebSocketInit, impl.WebSocketInit>>();
check<Same<shipped.WebSocketProxyInit, impl.WebSocketProxyInit>>();
check<Same<shipped.WebSocketHeartbeatInit, impl.WebSocketHeartbeatInit>>();
check<Same<shipped.WebSocketPerMessageDeflateInit, impl.WebSocketPerMessageDeflateInit>>();
check<Same<shipped.WebSocketTlsInit, impl.WebSocketTlsInit>>();
check<Same<shipped.WebSocketHeadersInit, impl.WebSocketHeadersInit>>();
check<Extends<Pick<impl.WebSocketStream, 'url' | 'opened' | 'closed'>, Pick<shipped.WebSocketStream, 'url' | 'opened' | 'closed'>>>();
check<Extends<Pick<impl.WebSocketError, 'closeCode' | 'reason'>, Pick<shipped.WebSocketError, 'closeCode' | 'reason'>>>();
