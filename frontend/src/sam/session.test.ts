import { describe, expect, it } from "vitest";
import type { DecoderClient } from "./decoderClient";
import type { Prompt } from "./feeds";
import type { DecodeResult } from "./messages";
import { samAccepted } from "../tools/samAccept";
import { SamSession } from "./session";

const SIDE = 4;

/** A decoder whose results the test releases by hand, in order. */
class HandDecoder {
  readonly calls: { prompt: Prompt; previous: Float32Array | null; release: (fill: number) => void }[] = [];

  decode(_key: string, prompt: Prompt, previous: Float32Array | null): Promise<DecodeResult> {
    return new Promise((resolve) => {
      this.calls.push({ prompt, previous, release: (fill) => resolve(result(fill)) });
    });
  }
}

/** One candidate: a mask whose first `fill` pixels are inside, low-res logits all equal to `fill`. */
function result(fill: number): DecodeResult {
  const masks = new Uint8Array(SIDE * SIDE);
  masks.fill(1, 0, fill);
  return {
    type: "decode", id: fill, masks, outputCount: 1, width: SIDE, height: SIDE, ious: new Float32Array([0.5 + fill / 100]),
    lowRes: new Float32Array(1).fill(fill), lowResSize: 1, decodeMs: 1, graph: "full",
  };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i += 1) {
    await Promise.resolve();
  }
};

function session(decoder: HandDecoder, errors: string[] = []): SamSession {
  return new SamSession(() => decoder as unknown as DecoderClient, () => "1:m", () => undefined, (m) => errors.push(m));
}

describe("SamSession accept ordering", () => {
  it("click, click, accept at once: waits for the second decode, fed the first one's logits", async () => {
    const decoder = new HandDecoder();
    const sam = session(decoder);
    sam.addPoint({ x: 1, y: 1, positive: true });
    sam.addPoint({ x: 2, y: 2, positive: true });
    let settled: Awaited<ReturnType<SamSession["settled"]>> | undefined;
    void sam.settled().then((s) => (settled = s));
    await flush();
    expect(decoder.calls).toHaveLength(1); // the second click waits for the first mask's logits
    expect(sam.decoding).toBe(true);
    decoder.calls[0]!.release(5);
    await flush();
    expect(settled).toBeUndefined(); // the first click's mask is not the one accepted
    expect(decoder.calls).toHaveLength(2);
    expect(decoder.calls[1]!.prompt.points).toHaveLength(2);
    expect(Array.from(decoder.calls[1]!.previous ?? [])).toEqual([5]);
    decoder.calls[1]!.release(9);
    await flush();
    expect(settled).not.toBeNull();
    expect(settled!.prompt.points).toHaveLength(2);
    expect(settled!.clickCount).toBe(2);
    expect(settled!.shown.mask.reduce((a, b) => a + b, 0)).toBe(9);
    expect(sam.decoding).toBe(false);
  });

  it("accept before the first mask appears still gives that mask", async () => {
    const decoder = new HandDecoder();
    const sam = session(decoder);
    sam.addPoint({ x: 1, y: 1, positive: true });
    expect(sam.shown).toBeNull();
    const waiting = sam.settled();
    await flush();
    decoder.calls[0]!.release(7);
    const settled = await waiting;
    expect(settled?.clickCount).toBe(1);
    expect(settled?.shown.mask.reduce((a, b) => a + b, 0)).toBe(7);
  });

  it("a click made while an accept waits joins the accepted prompt set", async () => {
    const decoder = new HandDecoder();
    const sam = session(decoder);
    sam.addPoint({ x: 1, y: 1, positive: true });
    const waiting = sam.settled();
    sam.addPoint({ x: 3, y: 3, positive: false });
    await flush();
    decoder.calls[0]!.release(4);
    await flush();
    decoder.calls[1]!.release(2);
    const settled = await waiting;
    expect(settled?.prompt.points.map((p) => p.positive)).toEqual([true, false]);
    expect(settled?.clickCount).toBe(2);
    expect(settled?.shown.mask.reduce((a, b) => a + b, 0)).toBe(2);
  });

  it("cancel while an accept waits: nothing is accepted, later clicks are not taken", async () => {
    const decoder = new HandDecoder();
    const sam = session(decoder);
    sam.addPoint({ x: 1, y: 1, positive: true });
    const waiting = sam.settled();
    sam.cancel();
    sam.addPoint({ x: 2, y: 2, positive: true });
    await flush();
    decoder.calls[0]!.release(3);
    await flush();
    decoder.calls[1]?.release(6);
    expect(await waiting).toBeNull();
    expect(sam.shown?.mask.reduce((a, b) => a + b, 0)).toBe(6); // the new session's own mask
  });

  it("the accepted fields all come from the settled prompt set", async () => {
    const decoder = new HandDecoder();
    const sam = session(decoder);
    sam.addPoint({ x: 1.234, y: 1, positive: true });
    sam.addPoint({ x: 3, y: 2, positive: false });
    const waiting = sam.settled();
    await flush();
    decoder.calls[0]!.release(4);
    await flush();
    decoder.calls[1]!.release(8);
    const settled = (await waiting)!;
    const accepted = samAccepted(settled, 1, settled.startedAt + 1234);
    expect(accepted?.clickCount).toBe(2);
    expect(accepted?.timeSpentMs).toBe(1234);
    expect(accepted?.source).toBe("sam_click");
    expect(accepted?.prompts).toMatchObject({ points: [[1.23, 1, 1], [3, 2, 0]], mask_index: 0 });
    expect(accepted?.polygons.length).toBeGreaterThan(0);
  });
});
