/**
 * COCO run-length encoding, exactly as pycocotools writes it (and `annotator.geometry.rle_encode`
 * stores it): runs over the mask in column-major order (x outer, y inner), alternating background /
 * foreground and starting with background; the compressed string stores each run (after the second,
 * as the difference to the run two back) in 5-bit groups offset by 48, bit 0x20 = "more follows",
 * bit 0x10 of the last group = sign.
 *
 * Masks on this side are row-major `Uint8Array`s (`mask[y * width + x]`, non-zero = inside).
 */
import type { Size } from "./transforms";

export interface Rle {
  /** [height, width], as COCO orders it. */
  size: [number, number];
  counts: string;
}

/** Run lengths of a row-major mask in COCO's column-major order. */
export function maskToCounts(mask: Uint8Array, size: Size): number[] {
  const { width, height } = size;
  if (mask.length !== width * height) {
    throw new RangeError(`mask has ${mask.length} pixels, expected ${width}x${height}`);
  }
  const counts: number[] = [];
  let current = 0; // value of the run being counted: 0 first
  let run = 0;
  for (let x = 0; x < width; x += 1) {
    for (let y = 0; y < height; y += 1) {
      const value = mask[y * width + x] !== 0 ? 1 : 0;
      if (value !== current) {
        counts.push(run);
        run = 0;
        current = value;
      }
      run += 1;
    }
  }
  counts.push(run);
  return counts;
}

export function countsToString(counts: readonly number[]): string {
  let out = "";
  for (let i = 0; i < counts.length; i += 1) {
    let x = counts[i]!;
    if (i > 2) {
      x -= counts[i - 2]!;
    }
    let more = true;
    while (more) {
      let c = x & 0x1f;
      x >>= 5; // arithmetic shift: negative differences end at -1
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) {
        c |= 0x20;
      }
      out += String.fromCharCode(c + 48);
    }
  }
  return out;
}

export function stringToCounts(text: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < text.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= text.length) {
        throw new RangeError("RLE counts string ends inside a number");
      }
      const c = text.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p += 1;
      k += 1;
      if (!more && c & 0x10 && 5 * k < 32) {
        x |= -1 << (5 * k);
      }
    }
    if (counts.length > 2) {
      x += counts[counts.length - 2]!;
    }
    counts.push(x);
  }
  return counts;
}

export function rleEncode(mask: Uint8Array, size: Size): Rle {
  return { size: [size.height, size.width], counts: countsToString(maskToCounts(mask, size)) };
}

/** Row-major mask of an RLE; RangeError when the runs do not add up to the size. */
export function rleDecode(rle: Rle): { mask: Uint8Array; size: Size } {
  const [height, width] = rle.size;
  const total = width * height;
  const counts = stringToCounts(rle.counts);
  const mask = new Uint8Array(total);
  let position = 0; // column-major index
  let value = 0;
  for (const count of counts) {
    if (count < 0 || position + count > total) {
      throw new RangeError("RLE runs do not fit the mask size");
    }
    if (value) {
      for (let i = position; i < position + count; i += 1) {
        const x = Math.floor(i / height);
        mask[(i - x * height) * width + x] = 1;
      }
    }
    position += count;
    value ^= 1;
  }
  if (position !== total) {
    throw new RangeError(`RLE runs cover ${position} of ${total} pixels`);
  }
  return { mask, size: { width, height } };
}

export function maskArea(mask: Uint8Array): number {
  let area = 0;
  for (let i = 0; i < mask.length; i += 1) {
    area += mask[i] !== 0 ? 1 : 0;
  }
  return area;
}
