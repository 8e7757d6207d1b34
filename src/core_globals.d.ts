// The Web-platform globals the platform-neutral core may use: the ones Node and browsers (pages
// and workers) both provide, with only the members the core calls. tsconfig.core.json checks the
// core against these and ECMAScript alone, so a use of anything else (Buffer, process, node:
// modules, DOM) fails its build. The main project (tsconfig.json) excludes this file and takes
// the same names from @types/node.
// Specs: Encoding (TextEncoder/TextDecoder), High Resolution Time (performance.now), Web Crypto
// (crypto.getRandomValues), HTML timers (setTimeout/clearTimeout), Console.

interface TextEncoder {
  encode(input?: string): Uint8Array;
}
declare var TextEncoder: { new (): TextEncoder };

interface TextDecoderOptions { fatal?: boolean; ignoreBOM?: boolean }
interface TextDecoder {
  decode(input?: ArrayBufferView | ArrayBuffer, options?: { stream?: boolean }): string;
}
declare var TextDecoder: { new (label?: string, options?: TextDecoderOptions): TextDecoder };

interface Performance { now(): number }
declare var performance: Performance;

interface Crypto { getRandomValues<T extends ArrayBufferView>(array: T): T }
declare var crypto: Crypto;

interface Console {
  error(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  log(...data: unknown[]): void;
}
declare var console: Console;

// The handle is a number in browsers and an object in Node: the core only passes it back.
declare function setTimeout(handler: () => void, timeout?: number): unknown;
declare function clearTimeout(handle: unknown): void;
