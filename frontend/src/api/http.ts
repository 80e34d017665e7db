/**
 * Typed JSON requests to the Django REST API with the session cookie and CSRF token.
 * Resource-specific clients (projects, images, annotations) build on `requestJson`.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`API request failed with HTTP ${status}`);
    this.name = "ApiError";
  }
}

/** Django's CSRF cookie value from a `document.cookie`-style string, or "" when absent. */
export function csrfTokenFromCookies(cookies: string, name = "csrftoken"): string {
  for (const part of cookies.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) {
      return decodeURIComponent(rest.join("="));
    }
  }
  return "";
}

export async function requestJson<T>(url: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set("Accept", "application/json");
  if (init.body !== undefined && !(init.body instanceof FormData)) {
    headers.set("Content-Type", "application/json");
  }
  const method = (init.method ?? "GET").toUpperCase();
  if (method !== "GET" && method !== "HEAD") {
    headers.set("X-CSRFToken", csrfTokenFromCookies(document.cookie));
  }
  const response = await fetch(url, { ...init, headers, credentials: "same-origin" });
  const body: unknown = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, body);
  }
  return body as T;
}
