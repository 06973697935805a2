// Loads the batched-UDP addon (src/dns/native/udp_batch.c, built by `npm install` with node-gyp)
// and serves a UDP address through it: one JavaScript call per batch of up to 64 datagrams, one
// sendmmsg for the replies. Where the addon is missing (not built, not Linux) or disabled with
// MXBOX_NATIVE_UDP=0, `nativeUdpAvailable()` says why and the server uses node:dgram instead.

import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface NativeSocket {
  port: number;
  input: ArrayBuffer;
  output: ArrayBuffer;
  inputLengths: ArrayBuffer;
  outputLengths: ArrayBuffer;
  batch: number;
  inputSlot: number;
  outputSlot: number;
  close(): void;
}

interface NativeModule {
  open(host: string, port: number, family: number, onBatch: (count: number) => void): NativeSocket;
}

let loaded: NativeModule | undefined;
let loadError: string | undefined;

function load(): NativeModule | undefined {
  if (loaded || loadError) return loaded;
  if (process.env.MXBOX_NATIVE_UDP === '0') {
    loadError = 'disabled by MXBOX_NATIVE_UDP=0';
    return undefined;
  }
  // dist/src/dns/udp-batch.js → <repo>/build/Release/udp_batch.node
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  try {
    loaded = createRequire(import.meta.url)(path.join(root, 'build', 'Release', 'udp_batch.node')) as NativeModule;
  } catch (err) {
    loadError = `the batched UDP addon is not built (${(err as Error).message.split('\n')[0]}); run npm install with g++ and python3 present`;
  }
  return loaded;
}

/** undefined when the addon can be used, else the reason it cannot. */
export function nativeUdpUnavailable(): string | undefined {
  load();
  return loaded ? undefined : loadError;
}

/** One query in, its reply (or nothing) out. */
export type DatagramHandler = (query: Buffer) => Buffer | undefined;

export interface BatchedUdp {
  port: number;
  close(): void;
}

export function openBatchedUdp(host: string, port: number, family: 4 | 6, handle: DatagramHandler): BatchedUdp {
  const native = load();
  if (!native) throw new Error(loadError);
  // The buffers are shared with C: views made once, reused for every batch.
  let input!: Buffer;
  let output!: Buffer;
  let inputLengths!: Int32Array;
  let outputLengths!: Int32Array;
  let inSlot = 0;
  let outSlot = 0;
  const socket = native.open(host, port, family, (count) => {
    for (let i = 0; i < count; i++) {
      const length = inputLengths[i]!;
      if (length <= 0) continue;
      const start = i * inSlot;
      const reply = handle(input.subarray(start, start + length));
      if (reply && reply.length <= outSlot) {
        reply.copy(output, i * outSlot);
        outputLengths[i] = reply.length;
      }
    }
  });
  input = Buffer.from(socket.input);
  output = Buffer.from(socket.output);
  inputLengths = new Int32Array(socket.inputLengths);
  outputLengths = new Int32Array(socket.outputLengths);
  inSlot = socket.inputSlot;
  outSlot = socket.outputSlot;
  return { port: socket.port, close: () => socket.close() };
}
