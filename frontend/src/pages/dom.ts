/** DOM helpers of the server-rendered pages. */

/** The element with this id; an Error naming it when the template lacks it. */
export function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) {
    throw new Error(`#${id} is missing from the page`);
  }
  return element as T;
}
