import { describe, expect, it } from "vitest";
import { halfToFloat, parseEmbedding } from "./embedding";

function file(shape: number[], halves: number[], dtype = "float16"): ArrayBuffer {
  let header = JSON.stringify({ shape, dtype, model_sha256: "m", image_sha256: "i" });
  while ((12 + header.length) % 16 !== 0) {
    header += " ";
  }
  const buffer = new ArrayBuffer(12 + header.length + 2 * halves.length);
  new Uint8Array(buffer).set(new TextEncoder().encode("SAMEMB01"), 0);
  new DataView(buffer).setUint32(8, header.length, true);
  new Uint8Array(buffer).set(new TextEncoder().encode(header), 12);
  new Uint16Array(buffer, 12 + header.length).set(halves);
  return buffer;
}

describe("parseEmbedding", () => {
  it("reads the header and widens float16 to float32", () => {
    // 1.0, -2.0, 0.5, 65504 (max half), smallest subnormal, 0
    const parsed = parseEmbedding(file([1, 2, 3], [0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0]));
    expect(parsed.shape).toEqual([1, 2, 3]);
    expect(Array.from(parsed.data)).toEqual([1, -2, 0.5, 65504, Math.fround(2 ** -24), 0]);
  });

  it("rejects another magic, dtype or payload length", () => {
    const good = file([1, 1, 2], [0, 0]);
    const bad = good.slice(0);
    new Uint8Array(bad)[0] = 0x58;
    expect(() => parseEmbedding(bad)).toThrow(/magic/);
    expect(() => parseEmbedding(file([1, 1, 2], [0, 0], "float32"))).toThrow(/dtype/);
    expect(() => parseEmbedding(file([1, 1, 3], [0, 0]))).toThrow(/payload/);
  });

  it("decodes infinities and NaN", () => {
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0xfc00)).toBe(-Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
  });
});
