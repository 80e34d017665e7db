import { describe, expect, it } from "vitest";

import { csrfTokenFromCookies } from "./http";

describe("csrfTokenFromCookies", () => {
  it("finds the token among other cookies", () => {
    expect(csrfTokenFromCookies("sessionid=abc; csrftoken=tok%3D1; theme=dark")).toBe("tok=1");
  });

  it("returns an empty string when the cookie is missing", () => {
    expect(csrfTokenFromCookies("sessionid=abc")).toBe("");
    expect(csrfTokenFromCookies("")).toBe("");
  });
});
