/**
 * A 64-byte ONNX graph (one Relu on a 1-element tensor, opset 17): creating a session on it makes
 * onnxruntime-web fetch and compile its wasm runtime and start its threads while the page still
 * waits for the manifest and the decoder files (decoder.worker.ts "boot"), instead of after them.
 */
const BOOT_MODEL_BASE64 = "CAg6NgoMCgF4EgF5IgRSZWx1EgRib290Wg8KAXgSCgoICAESBAoCCAFiDwoBeRIKCggIARIECgIIAUIECgAQEQ==";

export function bootModelBytes(): Uint8Array {
  const text = atob(BOOT_MODEL_BASE64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i += 1) {
    bytes[i] = text.charCodeAt(i);
  }
  return bytes;
}
