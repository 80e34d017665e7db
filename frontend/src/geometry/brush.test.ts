import { describe, expect, it } from "vitest";
import { applyStroke, stepRadius } from "./brush";
import { rleDecode, rleEncode } from "./rle";

const size = { width: 40, height: 30 };
const sum = (mask: Uint8Array): number => mask.reduce((a, b) => a + b, 0);

describe("brush", () => {
  it("a dab paints the pixels whose centre is within the radius", () => {
    const mask = new Uint8Array(40 * 30);
    const changed = applyStroke(mask, size, [{ x: 10, y: 10 }], 3, "add");
    let expected = 0;
    for (let y = 0; y < 30; y += 1)
      for (let x = 0; x < 40; x += 1) if ((x + 0.5 - 10) ** 2 + (y + 0.5 - 10) ** 2 <= 9) expected += 1;
    expect(changed).toBe(expected);
    expect(sum(mask)).toBe(expected);
    expect(mask[10 * 40 + 10]).toBe(1);
    expect(mask[10 * 40 + 14]).toBe(0);
  });

  it("a fast stroke leaves no gap between its points (capsules, not dabs)", () => {
    const mask = new Uint8Array(40 * 30);
    applyStroke(mask, size, [{ x: 2, y: 15 }, { x: 38, y: 15 }], 2, "add");
    for (let x = 2; x < 38; x += 1) expect(mask[15 * 40 + x]).toBe(1);
    expect(mask[10 * 40 + 20]).toBe(0);
  });

  it("the eraser clears, only inside the mask bounds, and reports what changed", () => {
    const mask = new Uint8Array(40 * 30).fill(1);
    const changed = applyStroke(mask, size, [{ x: 0, y: 0 }, { x: 0, y: 29 }], 1.5, "erase");
    // Columns 0 and 1 (centres 0.5 and 1.5 from the line) in rows 0..28; row 29 below the end: column 0 only.
    expect(changed).toBe(29 * 2 + 1);
    expect(mask[0]).toBe(0);
    expect(mask[2]).toBe(1);
    expect(applyStroke(mask, size, [{ x: 0, y: 0 }], 1.5, "erase")).toBe(0);
  });

  it("brush on a decoded RLE gives an RLE that decodes to exactly the painted mask", () => {
    const base = new Uint8Array(40 * 30);
    for (let y = 5; y < 20; y += 1) for (let x = 5; x < 20; x += 1) base[y * 40 + x] = 1;
    const { mask } = rleDecode(rleEncode(base, size));
    applyStroke(mask, size, [{ x: 20, y: 12 }, { x: 30, y: 12 }], 2, "add");
    applyStroke(mask, size, [{ x: 12, y: 12 }], 2, "erase");
    const again = rleDecode(rleEncode(mask, size)).mask;
    expect(again).toEqual(mask);
    expect(mask[12 * 40 + 28]).toBe(1);
    expect(mask[12 * 40 + 12]).toBe(0);
    expect(mask[6 * 40 + 6]).toBe(1);
  });

  it("[ and ] step the radius by about 20%, within bounds", () => {
    expect(stepRadius(10, 1)).toBe(12);
    expect(stepRadius(10, -1)).toBe(8);
    expect(stepRadius(1, -1)).toBe(1);
    expect(stepRadius(256, 1)).toBe(256);
  });
});
