/** Small DOM builders shared by the page's panels (review list, DICOM window bar). */

export function button(text: string, onClick: () => void, attributes: { readonly className?: string; readonly id?: string } = {}): HTMLButtonElement {
  const element = document.createElement("button");
  element.type = "button";
  if (attributes.className !== undefined) {
    element.className = attributes.className;
  }
  if (attributes.id !== undefined) {
    element.id = attributes.id;
  }
  element.textContent = text;
  element.addEventListener("click", onClick);
  return element;
}
