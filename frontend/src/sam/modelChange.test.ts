import { describe, expect, it } from "vitest";
import { embeddingFits, embeddingKey, encoderSha256, modelSwitch, modelTag } from "./modelChange";

const base = { id: 1, name: "default", checkpoint_sha256: "aaa", encoder_sha256: "aaa" };
// A fine-tuned version: its own checkpoint (decoder weights), its parent's encoder.
const tuned = { id: 7, name: "default ft1", checkpoint_sha256: "bbb", encoder_sha256: "aaa" };
const other = { id: 3, name: "vit_b", checkpoint_sha256: "ccc", encoder_sha256: "ccc" };

describe("encoder identity", () => {
  it("is the manifest's encoder sha, or the checkpoint's when the manifest predates it", () => {
    expect(encoderSha256(tuned)).toBe("aaa");
    expect(encoderSha256({ id: 1, name: "old", checkpoint_sha256: "zzz" })).toBe("zzz");
    expect(encoderSha256({ id: 1, name: "old", checkpoint_sha256: "zzz", encoder_sha256: null })).toBe("zzz");
  });

  it("accepts the base's embeddings for a fine-tuned version, not another model's", () => {
    expect(embeddingFits("aaa", tuned)).toBe(true);
    expect(embeddingFits("aaa", base)).toBe(true);
    expect(embeddingFits("aaa", other)).toBe(false);
    expect(embeddingFits("", other)).toBe(true); // no header: nothing to check against
  });
});

describe("worker keys", () => {
  it("differ between a base and its version (prep outputs depend on the decoder)", () => {
    expect(embeddingKey(5, base)).not.toBe(embeddingKey(5, tuned));
    expect(embeddingKey(5, tuned)).toBe(`5:${modelTag(tuned)}`);
  });
});

describe("modelSwitch", () => {
  it("sees no change on the first image or under the same model", () => {
    expect(modelSwitch(null, base, []).changed).toBe(false);
    const same = modelSwitch(base, { ...base }, [embeddingKey(1, base), embeddingKey(2, base)]);
    expect(same).toEqual({ changed: false, staleKeys: [] });
  });

  it("on a promotion, forgets the embeddings prepared for the old decoder", () => {
    const keys = [embeddingKey(1, base), embeddingKey(2, base), embeddingKey(3, tuned)];
    expect(modelSwitch(base, tuned, keys)).toEqual({ changed: true, staleKeys: [keys[0], keys[1]] });
  });

  it("on a roll back, forgets the version's entries (image 1 of model 1 is not image 1 of model 11)", () => {
    const eleven = { ...tuned, id: 11 };
    const keys = [embeddingKey(1, eleven), embeddingKey(1, base)];
    expect(modelSwitch(eleven, base, keys)).toEqual({ changed: true, staleKeys: [keys[0]] });
  });
});
