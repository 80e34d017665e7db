/**
 * Parse the SAMEMB01 embedding file (docs/embedding-format.md): magic, uint32 LE header length,
 * JSON header, then float16 LE (C, h, w) from a 16-byte aligned offset. The decoder graph takes
 * float32, so halves are widened once per image (4 MiB for 256×64×64), not per click.
 */
import type { EmbeddingTensor } from "./feeds";

const MAGIC = "SAMEMB01";

export interface EmbeddingHeader {
  readonly shape: [number, number, number];
  readonly dtype: string;
  readonly model_sha256: string;
  readonly image_sha256: string;
}

export interface ParsedEmbedding extends EmbeddingTensor {
  readonly header: EmbeddingHeader;
}

export function parseEmbedding(buffer: ArrayBuffer): ParsedEmbedding {
  if (buffer.byteLength < 12) {
    throw new Error("embedding file is too short");
  }
  const magic = new TextDecoder().decode(new Uint8Array(buffer, 0, 8));
  if (magic !== MAGIC) {
    throw new Error(`not an embedding file (magic ${JSON.stringify(magic)})`);
  }
  const headerLength = new DataView(buffer).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 12, headerLength))) as EmbeddingHeader;
  if (header.dtype !== "float16" || header.shape.length !== 3) {
    throw new Error(`unsupported embedding dtype ${header.dtype} / shape ${JSON.stringify(header.shape)}`);
  }
  const count = header.shape[0] * header.shape[1] * header.shape[2];
  const offset = 12 + headerLength;
  if (buffer.byteLength - offset !== 2 * count) {
    throw new Error(`embedding payload has ${buffer.byteLength - offset} bytes, expected ${2 * count}`);
  }
  const halves = new Uint16Array(buffer, offset, count);
  return { header, shape: header.shape, data: halfsToFloats(halves) };
}

/** IEEE 754 binary16 → float32 through a 64k lookup table (built once). */
let table: Float32Array | null = null;

export function halfsToFloats(halves: Uint16Array): Float32Array {
  if (table === null) {
    table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits += 1) {
      table[bits] = halfToFloat(bits);
    }
  }
  const out = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i += 1) {
    out[i] = table[halves[i] as number] as number;
  }
  return out;
}

export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) {
    return sign * 2 ** -14 * (fraction / 1024);
  }
  if (exponent === 0x1f) {
    return fraction === 0 ? sign * Infinity : NaN;
  }
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
