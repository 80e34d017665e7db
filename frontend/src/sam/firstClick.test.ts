import { describe, expect, it } from "vitest";
import { firstClickUrls } from "./firstClick";

describe("firstClickUrls", () => {
  const manifest = { first_click: { prep: { url: "/p.onnx" }, fp32: { url: "/f.onnx" }, int8: { url: "/i.onnx" } } };

  it("picks the variant's first-click decoder with the prep graph", () => {
    expect(firstClickUrls(manifest, "int8")).toEqual({ prepUrl: "/p.onnx", decoderUrl: "/i.onnx" });
    expect(firstClickUrls(manifest, "fp32")).toEqual({ prepUrl: "/p.onnx", decoderUrl: "/f.onnx" });
  });

  it("is null for manifests of older exports", () => {
    expect(firstClickUrls({ first_click: null }, "int8")).toBeNull();
    expect(firstClickUrls({}, "int8")).toBeNull();
    expect(firstClickUrls({ first_click: { prep: { url: "/p.onnx" } } }, "int8")).toBeNull();
  });
});
