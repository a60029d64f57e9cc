/** Reading the base64 arrays of the JSON fixtures written by tools/*.py. */

/** Bytes of a base64 string, in a fresh (aligned) buffer. */
export function decodeBase64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}
