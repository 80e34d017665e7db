import { describe, expect, it } from "vitest";
import { chooseBackend } from "./backend";

describe("chooseBackend", () => {
  it("uses WebGPU on a real adapter unless turned off", () => {
    expect(chooseBackend({ mode: "auto", adapter: { fallback: false } })).toBe("webgpu");
    expect(chooseBackend({ mode: "off", adapter: { fallback: false } })).toBe("wasm");
  });

  it("stays on wasm without an adapter, whatever the mode", () => {
    expect(chooseBackend({ mode: "auto", adapter: null })).toBe("wasm");
    expect(chooseBackend({ mode: "force", adapter: null })).toBe("wasm");
  });

  it("takes a software adapter only when forced", () => {
    expect(chooseBackend({ mode: "auto", adapter: { fallback: true } })).toBe("wasm");
    expect(chooseBackend({ mode: "force", adapter: { fallback: true } })).toBe("webgpu");
  });
});
