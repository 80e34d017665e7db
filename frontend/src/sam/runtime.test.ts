import { describe, expect, it } from "vitest";

import { ortWasmBaseUrl } from "./runtime";

describe("ortWasmBaseUrl", () => {
  it("points inside the built static folder, with or without a trailing slash", () => {
    expect(ortWasmBaseUrl("/static/")).toBe("/static/dist/ort/");
    expect(ortWasmBaseUrl("/static")).toBe("/static/dist/ort/");
    expect(ortWasmBaseUrl("https://cdn.example.org/app/static/")).toBe("https://cdn.example.org/app/static/dist/ort/");
  });
});
