import { describe, expect, it } from "vitest";
import type { DicomConfig } from "../api/dicom";
import { clampWindow, dragWindow, formatWindow, keyStep, presetMenu, sameWindow } from "./windowLevel";

const config = (overrides: Partial<DicomConfig> = {}): DicomConfig => ({
  modality: "CT",
  greyscale: true,
  window: { center: 40, width: 400 },
  window_source: "file",
  file_window: { center: 40, width: 400 },
  project_window: null,
  presets: [{ name: "lung", center: -600, width: 1500 }],
  render_url: "/api/images/1/render/",
  project_api_url: "/api/projects/1/",
  can_manage: true,
  frame: 0,
  frames: 1,
  frame_urls: ["/images/1/annotate/"],
  frame_position: 0,
  series: { image_ids: [1], urls: ["/images/1/annotate/"], position: 0 },
  ...overrides,
});

describe("window/level", () => {
  it("steps width with [ ] and level with ; '", () => {
    const w = { center: 40, width: 400 };
    expect(keyStep(w, "]")).toEqual({ center: 40, width: 440 });
    expect(keyStep(w, "[")).toEqual({ center: 40, width: 360 });
    expect(keyStep(w, "'")).toEqual({ center: 60, width: 400 });
    expect(keyStep(w, ";")).toEqual({ center: 20, width: 400 });
    expect(keyStep(w, "x")).toBeNull();
    expect(keyStep({ center: 0, width: 1 }, "[")).toEqual({ center: 0, width: 1 }); // never below 1
  });

  it("maps a drag to width (x) and level (y), scaled by the starting width", () => {
    expect(dragWindow({ center: 40, width: 512 }, 10, -5)).toEqual({ center: 30, width: 532 });
    expect(dragWindow({ center: 0, width: 100 }, -500, 0).width).toBe(1);
    expect(clampWindow({ center: 1.6, width: 0.2 })).toEqual({ center: 2, width: 1 });
  });

  it("lists what SAM sees, the file's window when different, presets and custom", () => {
    expect(presetMenu(config()).map((e) => e.value)).toEqual(["rendition", "preset:lung", "custom"]);
    const project = presetMenu(config({ window: { center: -600, width: 1500 }, window_source: "requested" }));
    expect(project.map((e) => e.value)).toEqual(["rendition", "file", "preset:lung", "custom"]);
    expect(project[0]!.label).toBe("project (SAM): C -600 / W 1500");
    expect(formatWindow(null)).toBe("—");
    expect(sameWindow({ center: 1, width: 2 }, { center: 1, width: 2 })).toBe(true);
    expect(sameWindow(null, { center: 1, width: 2 })).toBe(false);
  });
});
