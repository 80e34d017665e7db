import { describe, expect, it } from "vitest";
import type { DecoderClient } from "./decoderClient";
import { Superseded } from "./decoderClient";
import type { Prompt } from "./feeds";
import type { DecodeResult } from "./messages";
import { SamSession } from "./session";

const SIDE = 4;

/**
 * A decoder the test releases by hand, with DecoderClient's gate: one run at a time, at most one
 * waiting (a newer decode replaces the waiting one, which rejects with Superseded).
 */
class GatedDecoder {
  readonly runs: { prompt: Prompt; previous: Float32Array | null; release: (fill: number) => void }[] = [];
  private running = false;
  private waiting: { prompt: Prompt; previous: Float32Array | null; resolve: (r: DecodeResult) => void; reject: (e: Error) => void } | null = null;

  decode(_key: string, prompt: Prompt, previous: Float32Array | null): Promise<DecodeResult> {
    return new Promise((resolve, reject) => {
      if (!this.running) {
        this.start(prompt, previous, resolve);
        return;
      }
      this.waiting?.reject(new Superseded("newer"));
      this.waiting = { prompt, previous, resolve, reject };
    });
  }

  private start(prompt: Prompt, previous: Float32Array | null, resolve: (r: DecodeResult) => void): void {
    this.running = true;
    this.runs.push({
      prompt, previous, release: (fill) => {
        resolve(result(fill));
        this.running = false;
        const next = this.waiting;
        this.waiting = null;
        if (next !== null) {
          this.start(next.prompt, next.previous, next.resolve);
        }
      },
    });
  }
}

function result(fill: number): DecodeResult {
  const masks = new Uint8Array(SIDE * SIDE);
  masks.fill(1, 0, fill);
  return {
    type: "decode", id: fill, masks, outputCount: 1, width: SIDE, height: SIDE, ious: new Float32Array([0.5]),
    lowRes: new Float32Array(1).fill(fill), lowResSize: 1, decodeMs: 1, graph: "full",
  };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i += 1) {
    await Promise.resolve();
  }
};

function session(decoder: GatedDecoder, changes: { count: number } = { count: 0 }): SamSession {
  return new SamSession(() => decoder as unknown as DecoderClient, () => "1:m", () => (changes.count += 1), () => undefined);
}

describe("hover decodes (zero-wait clicks)", () => {
  it("keeps at most one hover waiting: the latest; stale ones never run", async () => {
    const decoder = new GatedDecoder();
    const sam = session(decoder);
    // Seen by the page when (1, 1) lands while the cursor is at (2, 2) already: not ready.
    const seen: boolean[] = [];
    const watched: SamSession = new SamSession(() => decoder as unknown as DecoderClient, () => "1:m",
      () => seen.push(watched.hoverReady), () => undefined);
    watched.hoverAt(1, 1);
    watched.hoverAt(2, 2);
    decoder.runs[0]!.release(1);
    await flush();
    expect(seen).toEqual([false]);
    decoder.runs[1]!.release(2);
    await flush();
    expect(watched.hoverReady).toBe(true);
    decoder.runs.length = 0;
    sam.hoverAt(1, 1);
    sam.hoverAt(2, 2);
    sam.hoverAt(3, 3);
    sam.hoverAt(3, 3); // the same point again: nothing more
    expect(decoder.runs).toHaveLength(1);
    expect(sam.hoverReady).toBe(false);
    decoder.runs[0]!.release(1);
    await flush();
    expect(decoder.runs).toHaveLength(2); // (2, 2) was dropped unrun, (3, 3) runs
    expect(decoder.runs[1]!.prompt.points).toEqual([{ x: 3, y: 3, positive: true }]);
    expect(sam.hoverReady).toBe(false); // the landed one was for (1, 1), no longer under the cursor
    decoder.runs[1]!.release(3);
    await flush();
    expect(sam.hoverReady).toBe(true);
    expect(sam.hover?.mask.reduce((a, b) => a + b, 0)).toBe(3); // the first-click preview
  });

  it("a click on the rested point shows the landed hover mask at once, with no second run", async () => {
    const decoder = new GatedDecoder();
    const changes = { count: 0 };
    const sam = session(decoder, changes);
    sam.hoverAt(2, 2);
    decoder.runs[0]!.release(7);
    await flush();
    const before = changes.count;
    sam.addPoint({ x: 2, y: 2, positive: true });
    // Synchronously, before any await: the mask is shown in the next frame.
    expect(sam.shown?.mask.reduce((a, b) => a + b, 0)).toBe(7);
    expect(sam.decoding).toBe(false);
    expect(sam.fromHover).toBe(true);
    expect(changes.count).toBeGreaterThan(before);
    expect(decoder.runs).toHaveLength(1);
    const settled = await sam.settled();
    expect(settled?.clickCount).toBe(1);
    expect(settled?.prompt.points).toEqual([{ x: 2, y: 2, positive: true }]);
  });

  it("a click while the hover decode runs waits for that run instead of starting another", async () => {
    const decoder = new GatedDecoder();
    const sam = session(decoder);
    sam.hoverAt(2, 2);
    sam.addPoint({ x: 2.2, y: 1.9, positive: true }); // within HOVER_MATCH_PX: the hover's point
    expect(sam.decoding).toBe(true);
    decoder.runs[0]!.release(5);
    await flush();
    expect(decoder.runs).toHaveLength(1);
    expect(sam.shown?.mask.reduce((a, b) => a + b, 0)).toBe(5);
    expect(sam.prompt.points).toEqual([{ x: 2, y: 2, positive: true }]);
  });

  it("refinement hovers carry the prompts and the shown mask's logits; a negative one matches only a negative click", async () => {
    const decoder = new GatedDecoder();
    const sam = session(decoder);
    sam.addPoint({ x: 1, y: 1, positive: true });
    decoder.runs[0]!.release(4);
    await flush();
    sam.hoverAt(3, 3, false);
    expect(decoder.runs).toHaveLength(2);
    expect(decoder.runs[1]!.prompt.points).toEqual([{ x: 1, y: 1, positive: true }, { x: 3, y: 3, positive: false }]);
    expect(Array.from(decoder.runs[1]!.previous ?? [])).toEqual([4]);
    decoder.runs[1]!.release(2);
    await flush();
    expect(sam.hoverReady).toBe(true);
    expect(sam.hover).toBeNull(); // refinement hovers are decoded ahead, not drawn over the mask
    sam.addPoint({ x: 3, y: 3, positive: true }); // positive: the negative hover does not fit
    expect(sam.decoding).toBe(true);
    expect(decoder.runs).toHaveLength(3);
    decoder.runs[2]!.release(6);
    await flush();
    expect(sam.fromHover).toBe(false);
    sam.hoverAt(2, 2, false);
    decoder.runs[3]!.release(1);
    await flush();
    sam.addPoint({ x: 2, y: 2, positive: false });
    expect(sam.fromHover).toBe(true);
    expect(sam.shown?.mask.reduce((a, b) => a + b, 0)).toBe(1);
    expect(decoder.runs).toHaveLength(4);
  });

  it("no hover starts while a click decodes (it would replace the click's run); Tab and Esc make hovers stale", async () => {
    const decoder = new GatedDecoder();
    const sam = session(decoder);
    sam.addPoint({ x: 1, y: 1, positive: true });
    sam.hoverAt(2, 2);
    expect(decoder.runs).toHaveLength(1); // only the click
    decoder.runs[0]!.release(4);
    await flush();
    sam.hoverAt(2, 2);
    decoder.runs[1]!.release(3);
    await flush();
    expect(sam.hoverReady).toBe(true);
    sam.cycle(1); // another candidate is fed back now
    expect(sam.hoverReady).toBe(false);
    sam.addPoint({ x: 2, y: 2, positive: true });
    expect(decoder.runs).toHaveLength(3); // decoded again, on the new base
    decoder.runs[2]!.release(2);
    await flush();
    sam.hoverAt(3, 3);
    sam.cancel();
    decoder.runs[3]!.release(9);
    await flush();
    expect(sam.hoverReady).toBe(false);
    expect(sam.hover).toBeNull();
  });
});
